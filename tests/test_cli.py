"""The ``gridgov`` command line: city, export, demo, and how errors reach the user."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import DemoRun
from gridgov.cli import main
from gridgov.presets import small

SUMMARY_KEYS = {
    "grids",
    "households",
    "communities",
    "compounds",
    "buildings",
    "grid_workers",
    "cadres",
    "in_service_members",
    "volunteers",
}


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    """Run the command line, check it succeeded quietly, return its JSON output."""
    assert main(list(argv)) == 0
    out, err = capsys.readouterr()
    assert err == ""
    data: dict[str, object] = json.loads(out)
    return data


def assert_one_error_line(err: str) -> None:
    """The error contract: exactly one line, ``gridgov: error: ...``, no traceback."""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gridgov: error: ")


class TestCity:
    """``gridgov city`` prints the counts of a built preset."""

    def test_small_json_has_the_required_keys(self, capsys: pytest.CaptureFixture[str]) -> None:
        summary = run_json(capsys, "city", "--preset", "small", "--json")
        assert not SUMMARY_KEYS - summary.keys(), SUMMARY_KEYS - summary.keys()
        grids = summary["grids"]
        assert isinstance(grids, dict)
        assert grids.keys() == {"urban", "rural", "exclusive", "total"}
        assert grids["total"] == grids["urban"] + grids["rural"] + grids["exclusive"]
        assert summary["households"] == small().summary()["households"]

    def test_small_table_names_the_city(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["city", "--preset", "small"]) == 0
        out, err = capsys.readouterr()
        assert "Smalltown" in out
        assert "households" in out
        assert err == ""

    def test_jiamusi_json_reproduces_the_published_figures(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        summary = run_json(capsys, "city", "--preset", "jiamusi", "--json")
        assert summary["grids"] == {"urban": 4148, "rural": 4044, "exclusive": 694, "total": 8886}
        assert summary["grid_workers"] == 37762


class TestExport:
    """``gridgov export`` writes the chain as GraphML, node-link JSON or mermaid."""

    def test_graphml_parses(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["export", "--preset", "small", "--format", "graphml"]) == 0
        out, _ = capsys.readouterr()
        root = ET.fromstring(out)
        nodes = [el for el in root.iter() if el.tag.endswith("}node")]
        assert len(nodes) == len(small().chain)

    def test_json_parses(self, capsys: pytest.CaptureFixture[str]) -> None:
        data = run_json(capsys, "export", "--preset", "small", "--format", "json")
        chain = small().chain
        nodes, edges = data["nodes"], data["edges"]
        assert isinstance(nodes, list)
        assert isinstance(edges, list)
        assert {n["id"] for n in nodes} == set(chain)
        assert len(edges) == len(chain) - 1  # a tree

    def test_mermaid_is_a_flowchart(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["export", "--preset", "small", "--format", "mermaid"]) == 0
        out, _ = capsys.readouterr()
        assert out.startswith("flowchart TD")
        assert "Smalltown" in out

    def test_json_is_the_default(self, capsys: pytest.CaptureFixture[str]) -> None:
        data = run_json(capsys, "export", "--preset", "small")
        assert "nodes" in data

    @pytest.mark.parametrize("fmt", ["graphml", "json", "mermaid"])
    def test_out_writes_the_file(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
    ) -> None:
        target = tmp_path / f"chain.{fmt}"
        assert main(["export", "--preset", "small", "--format", fmt, "--out", str(target)]) == 0
        assert capsys.readouterr() == ("", "")
        text = target.read_text(encoding="utf-8")
        # The file holds exactly what standard output would have shown.
        assert main(["export", "--preset", "small", "--format", fmt]) == 0
        assert text == capsys.readouterr().out

    def test_unwritable_out_is_one_error_line(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        target = tmp_path / "missing" / "chain.json"
        assert main(["export", "--preset", "small", "--out", str(target)]) == 1
        _, err = capsys.readouterr()
        assert_one_error_line(err)
        assert str(target) in err

    def test_unknown_format_is_a_usage_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["export", "--preset", "small", "--format", "svg"]) == 2
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        assert "'svg'" in err


class TestErrors:
    """An error is one line on stderr and exit code 1, never a traceback."""

    @pytest.mark.parametrize("command", ["city", "export"])
    def test_unknown_preset(self, capsys: pytest.CaptureFixture[str], command: str) -> None:
        assert main([command, "--preset", "atlantis"]) == 1
        out, err = capsys.readouterr()
        assert out == ""
        assert_one_error_line(err)
        assert "'atlantis'" in err
        assert "jiamusi" in err  # says what was expected


class TestDemo:
    """``gridgov demo`` prints the published figures beside the simulated ones."""

    @pytest.mark.xdist_group("demo")
    def test_demo_prints_the_published_figures(self, demo_run: DemoRun) -> None:
        """The table shows the published grid and staffing figures and where the report is."""
        assert demo_run.code == 0
        out, err, folder = demo_run.out, demo_run.err, demo_run.folder
        assert err == ""
        for figure in ("4,148", "4,044", "694", "8,886", "37,762", "652", "4,000+", "10,000+"):
            assert figure in out
        assert "report" in out
        assert "Supplies delivered" in out
        assert "Household-days unsupplied" in out
        assert (folder / "report.html").is_file()
        assert (folder / "supplies.csv").is_file()


def _console_script() -> list[str]:
    """The installed ``gridgov`` script of this interpreter, else ``python -m gridgov.cli``."""
    for name in ("gridgov", "gridgov.exe"):
        script = Path(sys.executable).parent / name
        if script.exists():
            return [str(script)]
    return [sys.executable, "-m", "gridgov.cli"]


class TestConsoleScript:
    """The installed command behaves like ``main``: exit codes, no traceback."""

    def test_error_exits_1_without_traceback(self) -> None:
        done = subprocess.run(
            [*_console_script(), "city", "--preset", "atlantis"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 1
        assert done.stdout == ""
        assert_one_error_line(done.stderr)

    def test_module_runs_and_exits_0(self) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "gridgov.cli", "city", "--preset", "small", "--json"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["name"] == "Smalltown"

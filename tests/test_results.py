"""Run folders: files written, byte-identical metrics, reading back, optional extras, report."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import Any

import attrs
import pytest

from gridgov import GridgovError
from gridgov.sim.report import write_report
from gridgov.sim.results import RunFolderError, read_run, write_run
from gridgov.sim.runner import RunResult
from gridgov.sim.scenario import CityChoice, RunSpec, Scenario

COLUMNS = (
    "day",
    "cases_new",
    "compounds_sealed",
    "households_sealed",
    "communities_emergency",
    "posts_needed_point_lead",
    "posts_filled_point_lead",
    "tickets_opened",
    "tickets_latency_p50_hours",
)
ROWS = (
    (0, 2, 0, 0, 0, 0, 0, 0, None),
    (1, 3, 2, 180, 1, 2, 1, 4, 0.1 + 0.2),
    (2, 1, 5, 431, 3, 5, 5, 9, 1.5),
)
SUMMARY = {
    "household_days_sealed": 611,
    "seal_to_point_lead_hours_p95": 5.5,
    "tickets_escalated": 7,
    "latency_hours_p95": {"medicine": 2.25},
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def result(
    name: str = "tiny",
    seed: int = 3,
    columns: tuple[str, ...] = COLUMNS,
    rows: tuple[tuple[Any, ...], ...] = ROWS,
) -> RunResult:
    """A hand-made run of a tiny default scenario."""
    scenario = Scenario(name=name, seed=seed, run=RunSpec(days=len(rows)))
    return RunResult(scenario, seed, columns, rows, SUMMARY)


def without(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """Make ``module`` (and its submodules) fail to import, as if not installed."""
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, module, None)


def run_info(folder: Path) -> dict[str, Any]:
    """The run.json of a run folder."""
    info: dict[str, Any] = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    return info


class TestWriteRun:
    """write_run lays out a run folder."""

    def test_files(self, tmp_path: Path) -> None:
        """The scenario, run info, metrics and summary are written and listed in run.json."""
        folder = write_run(result(), tmp_path / "run", plots=False)
        names = {p.name for p in folder.iterdir()}
        assert {"scenario.toml", "run.json", "metrics.csv", "summary.json"} <= names
        info = run_info(folder)
        assert set(info["files"]) == names - {"run.json"}
        assert info["seed"] == 3
        assert info["scenario"] == "tiny"
        assert info["days"] == 3
        assert info["columns"] == list(COLUMNS)
        assert info["gridgov_version"]

    def test_run_info_has_no_time(self, tmp_path: Path) -> None:
        """run.json carries no timestamp, so a rerun writes the same bytes."""
        first = write_run(result(), tmp_path / "a", plots=False)
        second = write_run(result(), tmp_path / "b", plots=False)
        assert (first / "run.json").read_bytes() == (second / "run.json").read_bytes()
        assert not any("time" in key or "date" in key for key in run_info(first))

    def test_metrics_csv_text(self, tmp_path: Path) -> None:
        """Ints are written as ints, floats with repr, None as an empty cell, lines end in \\n."""
        folder = write_run(result(), tmp_path / "run", plots=False)
        text = (folder / "metrics.csv").read_bytes().decode("utf-8")
        assert text.splitlines()[0] == ",".join(COLUMNS)
        assert text.splitlines()[1] == "0,2,0,0,0,0,0,0,"
        assert text.splitlines()[2] == "1,3,2,180,1,2,1,4,0.30000000000000004"
        assert "\r" not in text
        assert text.endswith("1.5\n")

    def test_metrics_csv_byte_identical(self, tmp_path: Path) -> None:
        """The same result written twice gives byte-identical metrics.csv."""
        first = (write_run(result(), tmp_path / "a", plots=False) / "metrics.csv").read_bytes()
        second = (write_run(result(), tmp_path / "b", plots=False) / "metrics.csv").read_bytes()
        again = (write_run(result(), tmp_path / "a", plots=False) / "metrics.csv").read_bytes()
        assert first == second == again

    def test_summary_sorted(self, tmp_path: Path) -> None:
        """summary.json has sorted keys and an indent of 2."""
        folder = write_run(result(), tmp_path / "run", plots=False)
        text = (folder / "summary.json").read_text(encoding="utf-8")
        assert text == json.dumps(SUMMARY, sort_keys=True, indent=2) + "\n"

    def test_scenario_toml(self, tmp_path: Path) -> None:
        """scenario.toml is TOML with the scenario's name and the seed the run used."""
        run = RunResult(Scenario(name="tiny", seed=1), 99, COLUMNS, ROWS, SUMMARY)
        folder = write_run(run, tmp_path / "run", plots=False)
        document = tomllib.loads((folder / "scenario.toml").read_text(encoding="utf-8"))
        assert document["name"] == "tiny"
        assert document["seed"] == 99

    def test_scenario_reads_back(self, tmp_path: Path) -> None:
        """scenario.toml reads back as the scenario the run used."""
        if not hasattr(Scenario, "from_toml"):
            pytest.skip("Scenario.from_toml is not there yet")
        scenario = Scenario(name="tiny", seed=1, city=CityChoice(preset="small"))
        run = RunResult(scenario, 5, COLUMNS, ROWS, SUMMARY)
        text = (write_run(run, tmp_path / "run", plots=False) / "scenario.toml").read_text(
            encoding="utf-8"
        )
        assert Scenario.from_toml(text) == attrs.evolve(scenario, seed=5)
        same_seed = RunResult(scenario, 1, COLUMNS, ROWS, SUMMARY)
        text = (write_run(same_seed, tmp_path / "own", plots=False) / "scenario.toml").read_text(
            encoding="utf-8"
        )
        assert Scenario.from_toml(text) == scenario

    def test_rewrite_previous_run(self, tmp_path: Path) -> None:
        """A previous run folder is rewritten: its listed files and report go, others stay."""
        folder = write_run(result(), tmp_path / "run", plots=False)
        (folder / "report.html").write_text("stale", encoding="utf-8")
        (folder / "notes.txt").write_text("mine", encoding="utf-8")
        (folder / "plot_compounds.png").write_bytes(b"stale")
        info = run_info(folder)
        info["files"].append("plot_compounds.png")
        (folder / "run.json").write_text(json.dumps(info), encoding="utf-8")
        write_run(result(), folder, plots=False)
        names = {p.name for p in folder.iterdir()}
        assert "report.html" not in names
        assert "plot_compounds.png" not in names
        assert (folder / "notes.txt").read_text(encoding="utf-8") == "mine"

    def test_plots_not_asked(self, tmp_path: Path) -> None:
        """plots=False writes no PNG and records why."""
        folder = write_run(result(), tmp_path / "run", plots=False)
        assert not list(folder.glob("*.png"))
        assert "plots=False" in run_info(folder)["skipped"]["plots"]


class TestRefusal:
    """write_run refuses folders it must not write into, and writes nothing then."""

    def test_foreign_folder(self, tmp_path: Path) -> None:
        """A non-empty folder that holds no run is refused by name, untouched."""
        folder = tmp_path / "thesis"
        folder.mkdir()
        (folder / "chapter1.tex").write_text("draft", encoding="utf-8")
        with pytest.raises(RunFolderError, match="thesis") as info:
            write_run(result(), folder)
        assert info.value.folder == folder
        assert [p.name for p in folder.iterdir()] == ["chapter1.tex"]
        assert (folder / "chapter1.tex").read_text(encoding="utf-8") == "draft"

    def test_foreign_run_json(self, tmp_path: Path) -> None:
        """A run.json that is not gridgov's does not make a folder a run."""
        folder = tmp_path / "other"
        folder.mkdir()
        (folder / "run.json").write_text('{"tool": "other"}', encoding="utf-8")
        with pytest.raises(GridgovError, match="not empty"):
            write_run(result(), folder)
        assert [p.name for p in folder.iterdir()] == ["run.json"]

    def test_file(self, tmp_path: Path) -> None:
        """A file in place of the folder is refused."""
        target = tmp_path / "run"
        target.write_text("x", encoding="utf-8")
        with pytest.raises(RunFolderError, match="is a file"):
            write_run(result(), target)

    def test_ragged_rows(self, tmp_path: Path) -> None:
        """Rows that do not match the columns are refused before the folder is made."""
        with pytest.raises(RunFolderError, match="row 2 has 1 values"):
            write_run(result(rows=(ROWS[0], (1,))), tmp_path / "run")
        assert not (tmp_path / "run").exists()

    def test_summary_not_json(self, tmp_path: Path) -> None:
        """A summary value JSON cannot hold is refused before anything is written."""
        run = RunResult(Scenario(name="tiny"), 0, COLUMNS, ROWS, {"bad": object()})
        with pytest.raises(RunFolderError, match="summary is not JSON-friendly"):
            write_run(run, tmp_path / "run", plots=False)
        assert not (tmp_path / "run").exists()

    def test_empty_folder(self, tmp_path: Path) -> None:
        """An existing empty folder is fine."""
        (tmp_path / "run").mkdir()
        assert (write_run(result(), tmp_path / "run", plots=False) / "run.json").is_file()


class TestReadRun:
    """read_run loads a run folder back."""

    def test_round_trip(self, tmp_path: Path) -> None:
        """Columns, typed rows, summary and run info come back as written."""
        folder = write_run(result(), tmp_path / "run", plots=False)
        columns, rows, summary, info = read_run(folder)
        assert columns == COLUMNS
        assert rows == ROWS
        assert [type(v) for v in rows[1]] == [type(v) for v in ROWS[1]]
        assert summary == SUMMARY
        assert info["seed"] == 3

    def test_strings_and_bools(self, tmp_path: Path) -> None:
        """String and bool columns read back as strings and bools."""
        rows = ((0, "a,b", True), (1, '"q"', False))
        run = result(columns=("day", "note", "flag"), rows=rows)
        folder = write_run(run, tmp_path / "run", plots=False)
        assert read_run(folder).rows == rows

    def test_numpy_values(self, tmp_path: Path) -> None:
        """numpy numbers are written as the plain numbers they are."""
        np = pytest.importorskip("numpy")
        rows = ((np.int64(0), np.float64(0.5)), (np.int64(1), np.float64(2.0)))
        folder = write_run(result(columns=("day", "x"), rows=rows), tmp_path / "run", plots=False)
        assert (folder / "metrics.csv").read_text(encoding="utf-8") == "day,x\n0,0.5\n1,2.0\n"
        assert read_run(folder).rows == ((0, 0.5), (1, 2.0))

    def test_records(self, tmp_path: Path) -> None:
        """records() gives one dict per day."""
        data = read_run(write_run(result(), tmp_path / "run", plots=False))
        assert data.records()[2]["households_sealed"] == 431

    def test_not_a_run(self, tmp_path: Path) -> None:
        """A folder without run.json is not a run."""
        with pytest.raises(RunFolderError, match="not a gridgov run folder"):
            read_run(tmp_path)

    def test_missing(self, tmp_path: Path) -> None:
        """A folder that does not exist is named in the error."""
        with pytest.raises(RunFolderError, match="nowhere"):
            read_run(tmp_path / "nowhere")

    def test_damaged_metrics(self, tmp_path: Path) -> None:
        """A metrics.csv whose header disagrees with run.json is reported."""
        folder = write_run(result(), tmp_path / "run", plots=False)
        (folder / "metrics.csv").write_text("x,y\n1,2\n", encoding="utf-8")
        with pytest.raises(RunFolderError, match="damaged"):
            read_run(folder)


class TestParquet:
    """metrics.parquet is written when pyarrow is installed."""

    def test_readable(self, tmp_path: Path) -> None:
        """The Parquet file holds the same table, typed."""
        pq = pytest.importorskip("pyarrow.parquet")
        folder = write_run(result(), tmp_path / "run", plots=False)
        table = pq.read_table(folder / "metrics.parquet")
        assert table.column_names == list(COLUMNS)
        assert table.to_pylist() == read_run(folder).records()
        assert str(table.schema.field("households_sealed").type) == "int64"
        assert str(table.schema.field("tickets_latency_p50_hours").type) == "double"

    def test_without_pyarrow(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without pyarrow the Parquet file is skipped and the extra named."""
        without(monkeypatch, "pyarrow")
        folder = write_run(result(), tmp_path / "run")
        assert not (folder / "metrics.parquet").exists()
        assert "gridgov[parquet]" in run_info(folder)["skipped"]["metrics.parquet"]


class TestPlots:
    """PNG plots of the main series are drawn when matplotlib is installed."""

    def test_valid_pngs(self, tmp_path: Path) -> None:
        """One valid PNG per group with columns."""
        pytest.importorskip("matplotlib")
        folder = write_run(result(), tmp_path / "run")
        pngs = sorted(p.name for p in folder.glob("*.png"))
        assert pngs == [
            f"plot_{g}.png"
            for g in sorted(["cases", "communities", "compounds", "households", "posts", "tickets"])
        ]
        for png in pngs:
            assert (folder / png).read_bytes().startswith(PNG_SIGNATURE)

    def test_groups_without_columns(self, tmp_path: Path) -> None:
        """A group with no matching column gets no plot."""
        pytest.importorskip("matplotlib")
        run = result(columns=("day", "cases_new"), rows=((0, 1), (1, 2)))
        folder = write_run(run, tmp_path / "run")
        assert [p.name for p in folder.glob("*.png")] == ["plot_cases.png"]

    def test_without_matplotlib(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without matplotlib the plots are skipped, the extra named, and the report says so."""
        without(monkeypatch, "matplotlib")
        folder = write_run(result(), tmp_path / "run")
        assert not list(folder.glob("*.png"))
        assert "gridgov[plot]" in run_info(folder)["skipped"]["plots"]
        page = write_report(folder).read_text(encoding="utf-8")
        assert "gridgov[plot]" in page
        assert "data:image/png" not in page


class TestReport:
    """write_report writes a self-contained report.html."""

    def test_contents(self, tmp_path: Path) -> None:
        """The page shows the run, the summary values and the last day's metrics."""
        page = write_report(write_run(result(), tmp_path / "run")).read_text(encoding="utf-8")
        assert "<title>gridgov run: tiny</title>" in page
        assert '<td>Seal to point lead, 95th percentile</td><td class="num">5.5</td>' in page
        assert '<td>Latency hours p95.medicine</td><td class="num">2.25</td>' in page
        assert '<td>households_sealed</td><td class="num">431</td>' in page
        assert "Every metric on the last day (day 2)" in page
        assert "<link" not in page
        assert "<script" not in page

    def test_escaped(self, tmp_path: Path) -> None:
        """Text from the run is escaped."""
        run = result(name="<script>alert(1)</script>", columns=("day",), rows=((0,),))
        folder = write_run(run, tmp_path / "run")
        page = write_report(folder).read_text(encoding="utf-8")
        assert "<script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page

    def test_embedded_images(self, tmp_path: Path) -> None:
        """The plots are embedded as base64 data URIs, one per PNG of the run."""
        pytest.importorskip("matplotlib")
        folder = write_run(result(), tmp_path / "run")
        page = write_report(folder).read_text(encoding="utf-8")
        assert page.count('src="data:image/png;base64,iVBORw0KGgo') == 6

    def test_draws_missing_plots(self, tmp_path: Path) -> None:
        """A run written without plots gets them drawn for its report."""
        pytest.importorskip("matplotlib")
        folder = write_run(result(), tmp_path / "run", plots=False)
        page = write_report(folder).read_text(encoding="utf-8")
        assert page.count("data:image/png;base64,") == 6

    def test_rerun_identical(self, tmp_path: Path) -> None:
        """The report has no time in it: written twice, the same bytes."""
        run = result(columns=("day", "cases_new"), rows=((0, 1), (1, 2)))
        folder = write_run(run, tmp_path / "run")
        first = write_report(folder).read_bytes()
        assert write_report(folder).read_bytes() == first

    def test_not_a_run(self, tmp_path: Path) -> None:
        """A folder that holds no run gets no report."""
        with pytest.raises(RunFolderError):
            write_report(tmp_path)
        assert not (tmp_path / "report.html").exists()

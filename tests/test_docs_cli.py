"""docs/cli.md cannot drift: its examples are what gridgov prints, its limits the code's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gridgov._files import LIMITS
from gridgov.cli import main
from gridgov.rules import MAX_DAYS as MAX_RULE_DAYS
from gridgov.rules import MAX_HOURS, MAX_REOPENS, STAFFING_MAXIMA
from gridgov.sim.scenario import (
    MAX_CASES,
    MAX_DAYS,
    MAX_DURATION_DAYS,
    MAX_REQUEST_RATE,
    MAX_SEED,
    MAX_SPREAD_RATE,
)
from gridgov.sim.sweep import MAX_REPLICATES, MAX_RUNS

PAGE = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def text_blocks() -> list[str]:
    lines = PAGE.read_text(encoding="utf-8").split("```text\n")[1:]
    return [block.split("```")[0] for block in lines]


def test_the_error_example_is_what_check_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("small.toml").write_text("[run]\ndays = 0\nstep_hours = 7\n", encoding="utf-8")
    assert main(["simulate", "small.toml", "--out", "o"]) == 1
    assert capsys.readouterr().err == text_blocks()[0]


def test_the_usage_example_is_what_gridgov_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulat"]) == 2
    assert capsys.readouterr().err == text_blocks()[1]


def _mib(size: int) -> str:
    return f"{size >> 20} MiB"


def test_the_limits_are_the_code_s() -> None:
    page = PAGE.read_text(encoding="utf-8")
    quiet = "`zones.*.after_quiet_days`, `modes.alert_quiet_days`, `modes.recovery_days`"
    rows = [
        f"| rules | {quiet} | (0, {MAX_RULE_DAYS}] days |",
        "| rules | `tickets.hours.*.*`, `tickets.categories.*.hours.*.*` | "
        f"(0, {MAX_HOURS}] hours |",
        f"| rules | `tickets.reopens` | 0 to {MAX_REOPENS} |",
        *(f"| rules | `staffing.{key}` | 1 to {most:,} |" for key, most in STAFFING_MAXIMA.items()),
        f"| scenario | `seed`, `city.seed` | 0 to {MAX_SEED} (2**63 - 1) |",
        f"| scenario | `run.days` | 1 to {MAX_DAYS} |",
        "| scenario | `outbreak.within_compound`, `neighbour`, `street`, `district` | "
        f"[0, {MAX_SPREAD_RATE:g}] per case per day |",
        f"| scenario | `outbreak.infectious_days` | (0, {MAX_DURATION_DAYS:g}] days |",
        f"| scenario | `outbreak.detection_delay_days` | [0, {MAX_DURATION_DAYS:g}] days |",
        f"| scenario | cases in `outbreak.cases` or a cases CSV | at most {MAX_CASES:,} |",
        f"| scenario | `requests.*.*` | [0, {MAX_REQUEST_RATE:g}] per household per day |",
        f"| sweep | `replicates` | 1 to {MAX_REPLICATES} |",
        f"| sweep | runs (combinations times replicates) | at most {MAX_RUNS:,} |",
        f"| rules, scenario, sweep, any file given to `check` | {_mib(LIMITS['rules'])} |",
        f"| CAP alert | {_mib(LIMITS['CAP alert'])} |",
        f"| cases CSV | {_mib(LIMITS['cases CSV'])} |",
        f"| run folder files read by `report` | {_mib(LIMITS['run file'])} |",
    ]
    missing = [row for row in rows if row not in page]
    assert missing == []
    assert LIMITS["rules"] == LIMITS["scenario"] == LIMITS["sweep"] == LIMITS["checked"]


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.py")), ids=lambda p: p.name)
def test_examples_take_help(example: Path, tmp_path: Path) -> None:
    """--help returns at once and writes nothing; examples with options print their usage."""
    done = subprocess.run(
        [sys.executable, str(example), "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert list(tmp_path.iterdir()) == []
    source = example.read_text(encoding="utf-8")
    if "argparse" in source or "sys.argv" in source:
        assert done.stdout.startswith("usage:"), done.stdout[:200]


def _table_of(text: str) -> str:
    """The table lines of the covasim example's output (without the plot's path)."""
    return "".join(line + "\n" for line in text.splitlines() if not line.startswith("plot:"))


@pytest.mark.slow
def test_covasim_doc_table_is_what_the_example_prints(tmp_path: Path) -> None:
    """docs/covasim.md shows exactly the table examples/covasim_policies.py prints."""
    pytest.importorskip("covasim")
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "covasim_policies.py"), "--plot", str(tmp_path / "p.png")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    page = (PAGE.parent / "covasim.md").read_text(encoding="utf-8")
    blocks = [b.split("```")[0] for b in page.split("```text\n")[1:]]
    table = _table_of(done.stdout)
    assert table in blocks

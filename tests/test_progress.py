"""Progress everywhere: short lines on standard error off a terminal, nothing with --quiet,
and results alone on standard output."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gridgov._progress import Progress

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^(?:[\w.-]+: )?(day|run) \d+(?:\.\d+)?/\d+, \d+\.\d s$")


def _gridgov(*args: str, seconds: str = "0") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRIDGOV_PROGRESS_SECONDS": seconds}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-m", "gridgov.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


class _Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


def test_lines_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDGOV_PROGRESS_SECONDS", "0")
    stream = _Pipe()
    with Progress(4, "day", label="small", stream=stream) as progress:
        for _ in range(4):
            progress.advance()
    lines = stream.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == [
        "small: day 1/4",
        "small: day 2/4",
        "small: day 3/4",
        "small: day 4/4",
        "small: day 4/4",  # the last line, when the work ends
    ]
    assert all(LINE.match(line) for line in lines)


def test_steps_shown_in_days(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDGOV_PROGRESS_SECONDS", "0")
    stream = _Pipe()
    with Progress(4, "day", stream=stream, per_step=0.25) as progress:
        progress.advance(2)
    assert stream.getvalue().splitlines()[0].startswith("day 0.5/1, ")


def test_quiet_is_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDGOV_PROGRESS_SECONDS", "0")
    stream = _Pipe()
    with Progress(4, "day", enabled=False, stream=stream) as progress:
        progress.advance(4)
    assert stream.getvalue() == ""


def test_simulate_off_a_terminal(tmp_path: Path) -> None:
    """Progress lines on stderr, the figures and the folder on stdout."""
    out = tmp_path / "run"
    done = _gridgov(
        "simulate", str(ROOT / "examples" / "scenarios" / "small.toml"), "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines, "no progress off a terminal"
    assert all(LINE.match(line) for line in lines), lines
    assert lines[-1].startswith("small: day 30/30, ")
    assert done.stdout.splitlines()[-1] == str(out)
    assert "Household-days sealed" in done.stdout
    quiet = _gridgov(
        "simulate",
        str(ROOT / "examples" / "scenarios" / "small.toml"),
        "--out",
        str(out),
        "--quiet",
    )
    assert quiet.returncode == 0
    assert quiet.stderr == ""


def test_simulate_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from gridgov.cli import main

    out = tmp_path / "run"
    small = str(ROOT / "examples" / "scenarios" / "small.toml")
    assert main(["simulate", small, "--out", str(out), "--quiet", "--no-plots", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["out"] == str(out)
    assert shown["summary"]["seed"] == 1
    assert isinstance(shown["summary"]["household_days_sealed"], int | float)


@pytest.mark.slow
def test_demo_off_a_terminal_prints_progress_lines(tmp_path: Path) -> None:
    """`gridgov demo` in CI or a pipe: progress lines (here one a day), then the tables."""
    done = _gridgov("demo", "--out", str(tmp_path / "demo"), seconds="0")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines
    assert all(LINE.match(line) for line in lines), lines
    assert lines[-1].startswith("sept17: day 60/60, ")
    assert "17 September: published figures and the simulation" in done.stdout

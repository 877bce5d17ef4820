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

from gridgov._progress import Phase, Progress

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^(?:[\w.-]+: )?(day|run) \d+(?:\.\d+)?/\d+, \d+\.\d s$")
#: A line of a phase (work without steps): ``sept17: writing the report, 2.0 s``.
PHASE = re.compile(r"^(?:[\w.-]+: )?(?P<what>[a-z][a-z ]+?)(?P<done> done)?, \d+\.\d s$")


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


@pytest.mark.slow
def test_simulate_off_a_terminal(tmp_path: Path) -> None:
    """Progress lines on stderr, the figures and the folder on stdout."""
    out = tmp_path / "run"
    done = _gridgov(
        "simulate", str(ROOT / "examples" / "scenarios" / "small.toml"), "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines, "no progress off a terminal"
    assert all(LINE.match(line) or PHASE.match(line) for line in lines), lines
    days = [line for line in lines if LINE.match(line)]
    assert days[-1].startswith("small: day 30/30, ")
    assert lines[-1].startswith("small: writing the run folder and its plots done, ")
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
    """`gridgov demo` in CI or a pipe: progress lines for every stretch of the work
    (here at the start and end of each, and one a day), then the tables."""
    done = _gridgov("demo", "--out", str(tmp_path / "demo"), seconds="0")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert all(LINE.match(line) or PHASE.match(line) for line in lines), lines
    shown = [m["what"] for m in map(PHASE.match, lines) if m is not None and m["done"]]
    assert shown == [
        "building the city",
        "setting up the run",
        "writing the run folder and its plots",
        "writing the report",
    ]
    days = [line for line in lines if LINE.match(line)]
    assert days[-1].startswith("sept17: day 60/60, ")
    assert "17 September: published figures and the simulation" in done.stdout


class TestPhase:
    """Work without steps: a line every few seconds off a terminal, and one at its end."""

    def test_start_and_end_lines_at_zero_seconds(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("GRIDGOV_PROGRESS_SECONDS", "0")
        stream = _Pipe()
        with Phase("building the city", label="sept17", stream=stream):
            pass
        lines = stream.getvalue().splitlines()
        assert [line.rsplit(",", 1)[0] for line in lines] == [
            "sept17: building the city",
            "sept17: building the city done",
        ]
        assert all(PHASE.match(line) for line in lines)

    def test_a_line_every_few_seconds(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Lines come from a ticker while the work blocks, without the work's help."""
        import threading

        monkeypatch.setenv("GRIDGOV_PROGRESS_SECONDS", "0.05")
        stream = _Pipe()
        written = threading.Event()
        real_write = stream.write

        def write(text: str) -> int:
            written.set()
            return real_write(text)

        monkeypatch.setattr(stream, "write", write)
        with Phase("writing the report", stream=stream):
            assert written.wait(10)  # the work blocks; the ticker still writes
        lines = stream.getvalue().splitlines()
        assert len(lines) >= 2
        assert all(line.startswith("writing the report, ") for line in lines[:-1])
        assert lines[-1].startswith("writing the report done, ")

    def test_quiet_and_short_phases_say_nothing(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("GRIDGOV_PROGRESS_SECONDS", "0")
        stream = _Pipe()
        with Phase("building the city", enabled=False, stream=stream):
            pass
        assert stream.getvalue() == ""
        monkeypatch.setenv("GRIDGOV_PROGRESS_SECONDS", "60")
        with Phase("building the city", stream=stream):
            pass
        assert stream.getvalue() == ""  # over before the first line was due

    def test_no_end_line_after_an_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("GRIDGOV_PROGRESS_SECONDS", "0")
        stream = _Pipe()
        with pytest.raises(KeyboardInterrupt), Phase("building the city", stream=stream):
            raise KeyboardInterrupt
        assert [line.rsplit(",", 1)[0] for line in stream.getvalue().splitlines()] == [
            "building the city"
        ]


@pytest.mark.slow
def test_synth_and_report_show_their_phases(tmp_path: Path) -> None:
    """The other long commands: synthesis, and the report of a run folder."""
    units = tmp_path / "units.csv"
    units.write_text(
        "id,parent,level,kind,name,households\n330100,,city,,Lakeside,\n"
        "330102,330100,district,urban_district,Old Town,\n"
        "330102001,330102,street,street,Bridge Street,\n"
        "330102001001,330102001,community,,Bridge Community,2400\n",
        encoding="utf-8",
    )
    done = _gridgov("synth", str(units), "--out", str(tmp_path / "bundle"))
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-1].startswith("units.csv: synthesising the city done, ")
    run = tmp_path / "run"
    small = str(ROOT / "examples" / "scenarios" / "small.toml")
    assert _gridgov("simulate", small, "--out", str(run), "--quiet", "--no-plots").returncode == 0
    done = _gridgov("report", str(run))
    assert done.returncode == 0, done.stderr
    assert [m["what"] for m in map(PHASE.match, done.stderr.splitlines()) if m] == [
        "writing the report",
        "writing the report",
    ]
    assert _gridgov("report", str(run), "--quiet").stderr == ""

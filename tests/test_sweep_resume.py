"""Resumable sweeps: finished runs are kept, the rest run, sweep.csv is rebuilt the same."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gridgov.cli import main
from gridgov.sim.sweep import SweepProgress, load_sweep, run_sweep

SCENARIOS = Path(__file__).resolve().parent.parent / "examples" / "scenarios"


@pytest.fixture
def sweep_file(tmp_path: Path) -> Path:
    text = (SCENARIOS / "small.toml").read_text(encoding="utf-8").replace("days = 30", "days = 4")
    (tmp_path / "small.toml").write_text(text, encoding="utf-8")
    path = tmp_path / "sweep.toml"
    path.write_text(
        'scenario = "small.toml"\n[parameters]\n"outbreak.street" = [0.0, 0.01, 0.02]\n',
        encoding="utf-8",
    )
    return path


def test_resume_runs_only_what_is_missing(sweep_file: Path, tmp_path: Path) -> None:
    """A run without its run.json is run again; the others are read back; same sweep.csv."""
    sweep = load_sweep(sweep_file)
    out = tmp_path / "out"
    run_sweep(sweep, out, workers=1)
    whole = (out / "sweep.csv").read_bytes()
    (out / "sweep.csv").unlink()
    (out / "r002" / "run.json").unlink()  # as if interrupted while writing r002
    shutil.rmtree(out / "r003")  # as if never started
    calls = []

    def runner(scenario, *, seed=None):  # type: ignore[no-untyped-def]
        from gridgov.sim.runner import run_scenario

        calls.append(seed)
        return run_scenario(scenario, seed=seed)

    state = SweepProgress()
    run_sweep(sweep, out, workers=1, resume=True, runner=runner, state=state)
    assert (state.total, state.skipped, state.finished) == (3, 1, 3)
    assert len(calls) == 2
    assert (out / "sweep.csv").read_bytes() == whole


@pytest.mark.slow
def test_resume_refuses_another_sweep(
    sweep_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--resume in a folder of a different sweep is one error line, and nothing runs."""
    out = tmp_path / "out"
    assert main(["sweep", str(sweep_file), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    capsys.readouterr()
    sweep_file.write_text(
        sweep_file.read_text(encoding="utf-8").replace("0.02]", "0.03]"),
        encoding="utf-8",
    )
    code = main(["sweep", str(sweep_file), "--out", str(out), "--resume", "--quiet"])
    out_text, err = capsys.readouterr()
    assert code == 1
    assert err.startswith(f"gridgov: error: cannot resume in {out}: its sweep.toml")
    assert out_text == ""


@pytest.mark.slow
def test_resume_through_the_command_line(
    sweep_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["sweep", str(sweep_file), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    csv_path = out / "sweep.csv"
    assert capsys.readouterr().out == f"3 runs written to {csv_path}\n"
    assert main(["sweep", str(sweep_file), "--out", str(out), "--resume", "--quiet"]) == 0
    assert (
        capsys.readouterr().out == f"3 runs (3 already finished) written to {out / 'sweep.csv'}\n"
    )


def test_clear_unfinished_knows_every_file_a_run_writes(tmp_path: Path) -> None:
    """Whatever write_run writes, an unfinished folder (no run.json) is cleared of it."""
    from gridgov.sim.report import write_report
    from gridgov.sim.results import clear_unfinished, write_run
    from gridgov.sim.runner import run_scenario
    from gridgov.sim.scenario import load_scenario

    scenario = load_scenario(SCENARIOS / "small.toml").with_values({"run.days": 2})
    folder = write_run(run_scenario(scenario), tmp_path / "run")
    write_report(folder)
    (folder / "run.json").unlink()
    (folder / ".metrics.csv.x.part").write_text("half", encoding="utf-8")
    clear_unfinished(folder)
    assert list(folder.iterdir()) == []

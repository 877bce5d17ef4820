"""The benchmark runner: each benchmark in a fresh interpreter of its own, one JSON report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import benchmarks
import pytest
from benchmarks.__main__ import main

#: Two of the cheapest benchmarks (a second or two each with --quick).
CHEAP = ["cli_check", "command_checks"]


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return benchmarks.run(CHEAP, quick=True)


class TestWorkers:
    """run() starts one fresh interpreter per benchmark and gathers their figures."""

    def test_one_process_each(self, report: dict[str, Any]) -> None:
        """Each benchmark ran in a process of its own, neither of them this one."""
        workers = report["workers"]
        assert isinstance(workers, dict)
        pids = [workers[name]["pid"] for name in CHEAP]
        assert len(set(pids)) == 2
        assert os.getpid() not in pids
        assert report["isolation"] == "a fresh interpreter per benchmark"

    def test_not_in_this_process(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The benchmark's function is not called in this process: its worker runs it."""

        def here(quick: bool) -> dict[str, dict[str, object]]:
            raise AssertionError("cli_check ran in the runner's process")

        benchmarks.load()
        monkeypatch.setitem(benchmarks.BENCHMARKS, "cli_check", here)
        got = benchmarks.run(["cli_check"], quick=True)
        assert got["benchmarks"]["cli_check"]["check_bundle"]["unit"] == "s"

    def test_same_report_shape(self, report: dict[str, Any]) -> None:
        """The report has the keys it had in one process, and every figure its fields."""
        assert {"gridgov", "date", "quick", "machine", "all_meet_target", "benchmarks"} <= set(
            report
        )
        assert report["quick"] is True
        figures = report["benchmarks"]
        assert isinstance(figures, dict)
        assert list(figures) == CHEAP
        check = figures["cli_check"]["check_bundle"]
        assert check["unit"] == "s"
        assert {"what", "value", "target", "meets_target", "baseline", "ratio"} <= set(check)
        assert report["all_meet_target"] == all(
            f["meets_target"] for figs in figures.values() for f in figs.values()
        )

    def test_peak_memory(self, report: dict[str, Any]) -> None:
        """Each worker's peak memory is its own: at least an interpreter's, far below a GB."""
        for name in CHEAP:
            peak = report["workers"][name]["peak_rss_mb"]
            assert peak is None or 10 < peak < 1000


class TestErrors:
    """Errors as before: unknown names before anything runs, failures named."""

    def test_unknown_name_before_any_worker(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An unknown name raises KeyError and no worker starts."""

        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError("a worker was started")

        monkeypatch.setattr(subprocess, "run", refuse)
        with pytest.raises(KeyError, match="unknown benchmark nope"):
            benchmarks.run(["cli_check", "nope"])

    def test_failed_worker(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A worker that fails raises RuntimeError naming the benchmark."""
        monkeypatch.setattr(sys, "executable", "/bin/false")
        with pytest.raises(RuntimeError, match="benchmark 'cli_check' failed in its worker"):
            benchmarks.run(["cli_check"])

    def test_worker_needs_one_name(self, tmp_path: Path) -> None:
        """--worker runs exactly one benchmark."""
        with pytest.raises(SystemExit):
            main(
                [
                    "--worker",
                    str(tmp_path / "out.json"),
                    "--only",
                    "cli_check",
                    "--only",
                    "cli_startup",
                ]
            )
        with pytest.raises(SystemExit):
            main(["--worker", str(tmp_path / "out.json")])


class TestInProcess:
    """--in-process runs every benchmark in this process, as before workers."""

    def test_in_process(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The benchmark's function is called here, and the report says so."""
        calls: list[bool] = []

        def here(quick: bool) -> dict[str, dict[str, object]]:
            calls.append(quick)
            return {"x": benchmarks.figure(1.0, "s", 2.0, "one second")}

        benchmarks.load()
        monkeypatch.setitem(benchmarks.BENCHMARKS, "cli_check", here)
        assert main(["--in-process", "--quick", "--only", "cli_check"]) == 0
        got = json.loads(capsys.readouterr().out)
        assert calls == [True]
        assert got["isolation"] == "one process"
        assert "workers" not in got
        assert got["benchmarks"] == {
            "cli_check": {"x": benchmarks.figure(1.0, "s", 2.0, "one second")}
        }

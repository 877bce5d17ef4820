"""Sweeps: the file, its problems, the plan of runs, and the same rows on every backend."""

from __future__ import annotations

import csv
import json
import random
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import pytest

from gridgov import GridgovError, ScenarioError
from gridgov.sim.runner import RunResult
from gridgov.sim.scenario import CityChoice, Scenario, load_scenario
from gridgov.sim.sweep import (
    Sweep,
    load_sweep,
    plan_sweep,
    replicate_seed,
    run_sweep,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "scenarios"
EAST = "990101001001-C01"

SCENARIO = f"""\
name = "base"
seed = 5
[city]
preset = "small"
[outbreak]
cases = [{{ compound = "{EAST}", day = 3 }}]
[run]
days = 10
"""


# Test doubles: module-level, so that worker processes and Dask workers can
# unpickle them by reference.


def fake_runner(
    scenario: Scenario, *, seed: int | None = None, progress: bool = False
) -> RunResult:
    """A deterministic stand-in for run_scenario: figures from the seed and parameters."""
    rng = random.Random(seed)
    draw = rng.random()
    summary = {
        "cases": round(draw * 100 * scenario.outbreak.within_compound, 6),
        "household_days_sealed": int(draw * 1000 * scenario.staffing.in_service_members),
        "posts": {"point_lead": {"needed": 3, "filled": rng.randint(0, 3)}},
        "days": scenario.run.days,
        "peak": [1, 2],
        "seed": seed,
    }
    return RunResult(
        scenario=scenario, seed=seed or 0, columns=("day",), rows=((0,),), summary=summary
    )


def fake_writer(result: RunResult, folder: Path) -> None:
    """Writes the summary only."""
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(result.summary, sort_keys=True), "utf-8")


def failing_runner(
    scenario: Scenario, *, seed: int | None = None, progress: bool = False
) -> RunResult:
    """Fails on every replicate but the first."""
    if seed != scenario.seed:
        raise RuntimeError("the engine broke")
    return fake_runner(scenario, seed=seed)


def clashing_runner(
    scenario: Scenario, *, seed: int | None = None, progress: bool = False
) -> RunResult:
    """Its summary has figures named like the id columns, one of them differing."""
    summary = {"seed": seed, "replicate": "first", "cases": 1}
    return RunResult(scenario=scenario, seed=seed or 0, columns=(), rows=(), summary=summary)


def files(tmp_path: Path, sweep: str, scenario: str = SCENARIO) -> Path:
    """Write a sweep and its scenario (``base.toml``); the sweep's path."""
    (tmp_path / "base.toml").write_text(scenario, encoding="utf-8")
    path = tmp_path / "sweep.toml"
    path.write_text(textwrap.dedent(sweep).lstrip("\n"), encoding="utf-8")
    return path


def problems(tmp_path: Path, sweep: str, scenario: str = SCENARIO) -> list[tuple[str, int, str]]:
    """(file name, line, key) of every problem of a sweep."""
    with pytest.raises(ScenarioError) as info:
        load_sweep(files(tmp_path, sweep, scenario))
    return [(Path(p.file).name, p.line, p.key) for p in info.value.problems]


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


class TestFile:
    """A sweep file gives the runs it says, in a fixed order."""

    def test_example(self) -> None:
        """The example sweeps two staffing levels and two rates, three seeds each."""
        sweep = load_sweep(EXAMPLES / "sweep.toml")
        assert sweep.name == "staffing"
        assert sweep.scenario == load_scenario(EXAMPLES / "small.toml")
        assert sweep.parameters == {
            "staffing.in_service_members": (0.8, 1.0),
            "outbreak.within_compound": (0.2, 0.35),
        }
        assert sweep.replicates == 3

    def test_plan_order_and_ids(self) -> None:
        """The first parameter varies slowest, replicates fastest; ids count from r001."""
        runs = plan_sweep(load_sweep(EXAMPLES / "sweep.toml"))
        assert [r.run_id for r in runs] == [f"r{i:03d}" for i in range(1, 13)]
        assert [r.replicate for r in runs[:4]] == [0, 1, 2, 0]
        assert runs[0].parameters == {
            "staffing.in_service_members": 0.8,
            "outbreak.within_compound": 0.2,
        }
        assert runs[-1].parameters == {
            "staffing.in_service_members": 1.0,
            "outbreak.within_compound": 0.35,
        }
        assert runs[4].scenario.staffing.in_service_members == 0.8
        assert runs[4].scenario.outbreak.within_compound == 0.35
        assert runs[4].scenario.staffing.availability == 0.9  # the scenario's own

    def test_seeds_shared_across_combinations(self) -> None:
        """Replicate i has the same seed at every combination; replicate 0 the scenario's."""
        runs = plan_sweep(load_sweep(EXAMPLES / "sweep.toml"))
        seeds = [r.seed for r in runs]
        assert seeds[:3] * 4 == seeds
        assert seeds[0] == 1
        assert len(set(seeds[:3])) == 3

    def test_defaults(self, tmp_path: Path) -> None:
        """Without parameters, one run per replicate; the name is the file's."""
        sweep = load_sweep(files(tmp_path, 'scenario = "base.toml"\n'))
        assert sweep.name == "sweep"
        assert [(r.run_id, r.seed, r.parameters) for r in plan_sweep(sweep)] == [("r001", 5, {})]

    def test_id_width_grows(self, tmp_path: Path) -> None:
        """A thousand runs or more get wider ids, so that they still sort."""
        sweep = load_sweep(files(tmp_path, 'scenario = "base.toml"\nreplicates = 1000\n'))
        runs = plan_sweep(sweep)
        assert (runs[0].run_id, runs[-1].run_id) == ("r0001", "r1000")

    def test_round_trip(self, tmp_path: Path) -> None:
        """``to_toml`` with the scenario written beside it loads back equal."""
        sweep = load_sweep(EXAMPLES / "sweep.toml")
        (tmp_path / "scenario.toml").write_text(sweep.scenario.to_toml(), "utf-8")
        (tmp_path / "sweep.toml").write_text(sweep.to_toml("scenario.toml"), "utf-8")
        assert load_sweep(tmp_path / "sweep.toml") == sweep

    def test_built_in_code(self) -> None:
        """A sweep built in code from a scenario plans the same way."""
        scenario = Scenario(city=CityChoice("small"), seed=9)
        sweep = Sweep(scenario, {"run.days": [5, 6], "outbreak.driver": ["replay"]}, 2)
        runs = plan_sweep(sweep)
        assert [(r.scenario.run.days, r.scenario.outbreak.driver) for r in runs] == [
            (5, "replay"),
            (5, "replay"),
            (6, "replay"),
            (6, "replay"),
        ]

    def test_built_in_code_validated(self) -> None:
        """A bad value of a sweep built in code is reported under its key."""
        sweep = Sweep(Scenario(city=CityChoice("small")), {"run.days": [0]})
        with pytest.raises(ScenarioError) as info:
            plan_sweep(sweep)
        assert [str(p) for p in info.value.problems] == [
            '<sweep>:0: parameters."run.days"[0]: must be at least 1 day, got 0'
        ]


class TestSeeds:
    """Replicate seeds are derived, not drawn."""

    def test_stable(self) -> None:
        """The derivation never changes (results of old sweeps stay reproducible)."""
        assert replicate_seed(17, 0) == 17
        assert replicate_seed(17, 1) == replicate_seed(17, 1)
        assert [replicate_seed(1, i) for i in (1, 2)] == [4533387118098562987, 4632217400391251118]

    def test_distinct_and_in_range(self) -> None:
        """Seeds of different replicates and scenario seeds differ and fit 63 bits."""
        seeds = {replicate_seed(s, r) for s in range(20) for r in range(1, 50)}
        assert len(seeds) == 20 * 49
        assert all(0 <= s < 2**63 for s in seeds)


class TestProblems:
    """Every problem of a sweep at its line: the sweep's, the scenario's, each value's."""

    def test_syntax(self, tmp_path: Path) -> None:
        """A sweep that is not TOML is one problem at its line."""
        assert problems(tmp_path, 'scenario = "base.toml"\nreplicates =\n') == [
            ("sweep.toml", 2, "(syntax)")
        ]

    def test_unknown_key_and_types(self, tmp_path: Path) -> None:
        """Unknown keys, replicates below 1 and wrong types at their lines."""
        sweep = """
            scenario = "base.toml"
            replicate = 3
            replicates = 0
            version = "1"
            """
        assert problems(tmp_path, sweep) == [
            ("sweep.toml", 2, "replicate"),
            ("sweep.toml", 3, "replicates"),
            ("sweep.toml", 4, "version"),
        ]

    def test_scenario_missing(self, tmp_path: Path) -> None:
        """The scenario key is required and must name a file."""
        assert problems(tmp_path, "replicates = 2\n") == [("sweep.toml", 0, "scenario")]
        assert problems(tmp_path, 'scenario = "nope.toml"\n') == [("sweep.toml", 1, "scenario")]

    def test_scenario_problems_at_its_lines(self, tmp_path: Path) -> None:
        """The scenario's own problems come with the scenario's lines."""
        bad = SCENARIO.replace("days = 10", "days = 0")
        assert problems(tmp_path, 'scenario = "base.toml"\n', bad) == [("base.toml", 8, "run.days")]

    def test_parameter_shapes(self, tmp_path: Path) -> None:
        """Values are non-empty arrays of distinct values; keys are dotted and apart."""
        sweep = """
            scenario = "base.toml"
            [parameters]
            "run.days" = 5
            "seed" = []
            "outbreak.street" = [0.1, 0.2, 0.1]
            "bad..key" = [1]
            "outbreak" = [{}]
            "staffing.cadres" = [0.5]
            "staffing" = [{ cadres = 0.4 }]
            """
        assert problems(tmp_path, sweep) == [
            ("sweep.toml", 3, 'parameters."run.days"'),
            ("sweep.toml", 4, "parameters.seed"),
            ("sweep.toml", 5, 'parameters."outbreak.street"[2]'),
            ("sweep.toml", 6, 'parameters."bad..key"'),
            ("sweep.toml", 7, "parameters.outbreak"),
            ("sweep.toml", 9, "parameters.staffing"),
        ]

    def test_bad_values_at_their_lines(self, tmp_path: Path) -> None:
        """A bad value is placed at its own element of the array, deeper keys appended."""
        sweep = """
            scenario = "base.toml"
            [parameters]
            "staffing.cadres" = [
              0.5,
              1.5,
            ]
            "outbreak.cases" = [[{ compound = "nope" }]]
            "outbreak.strete" = [0.1]
            """
        found = problems(tmp_path, sweep)
        assert found == [
            ("sweep.toml", 5, 'parameters."staffing.cadres"[1]'),
            ("sweep.toml", 7, 'parameters."outbreak.cases"[0][0].compound'),
            ("sweep.toml", 8, 'parameters."outbreak.strete"[0]'),
        ]

    def test_problem_a_value_causes_elsewhere(self, tmp_path: Path) -> None:
        """A value that breaks another key of the scenario is named beside that key."""
        sweep = """
            scenario = "base.toml"
            [parameters]
            "run.days" = [3, 10]
            """
        with pytest.raises(ScenarioError) as info:
            load_sweep(files(tmp_path, sweep))
        [problem] = info.value.problems
        assert (Path(problem.file).name, problem.line, problem.key) == (
            "base.toml",
            6,
            "outbreak.cases[0].day",
        )
        assert problem.message.endswith("(with run.days = 3)")

    def test_combinations_checked(self, tmp_path: Path) -> None:
        """Values sound alone but not together are found before anything runs."""
        sweep = """
            scenario = "base.toml"
            [parameters]
            "run.days" = [4, 10]
            "outbreak.cases" = [[{ compound = "990101001001-C01", day = 5 }], []]
            """
        with pytest.raises(ScenarioError) as info:
            load_sweep(files(tmp_path, sweep))
        [problem] = info.value.problems
        assert problem.key == 'parameters."outbreak.cases"[0][0].day'
        assert problem.message == "day 5 is past the end of the run (run.days = 4)"


class TestRunning:
    """Running a sweep: the table, the folders, and the same rows on every backend."""

    def sweep(self, tmp_path: Path) -> Sweep:
        return load_sweep(
            files(
                tmp_path,
                """
                scenario = "base.toml"
                replicates = 2
                [parameters]
                "outbreak.within_compound" = [0.2, 0.35]
                "staffing.in_service_members" = [0.5, 1.0]
                """,
            )
        )

    def test_serial_table_and_folders(self, tmp_path: Path) -> None:
        """Serially: sweep.csv has ids, parameters, then flattened figures sorted; folders."""
        out = tmp_path / "out"
        rows = run_sweep(
            self.sweep(tmp_path), out, workers=1, runner=fake_runner, writer=fake_writer
        )
        table = read_csv(out / "sweep.csv")
        assert table[0] == [
            "run_id",
            "replicate",
            "seed",
            "outbreak.within_compound",
            "staffing.in_service_members",
            "cases",
            "days",
            "household_days_sealed",
            "peak",
            "posts.point_lead.filled",
            "posts.point_lead.needed",
        ]
        assert len(table) == 1 + 8
        assert [row["run_id"] for row in rows] == [f"r{i:03d}" for i in range(1, 9)]
        assert list(rows[0]) == table[0]
        assert table[1][:5] == ["r001", "0", "5", "0.2", "0.5"]
        assert rows[0]["peak"] == "[1,2]"
        assert "summary.seed" not in rows[3]  # the runner's seed is the run's
        assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [
            row["run_id"] for row in rows
        ]
        assert load_sweep(out / "sweep.toml") == self.sweep(tmp_path)

    def test_figures_named_like_columns(self, tmp_path: Path) -> None:
        """A figure repeating a leading column is left out; one that differs is kept apart."""
        rows = run_sweep(
            self.sweep(tmp_path), tmp_path, workers=1, runner=clashing_runner, writer=fake_writer
        )
        assert list(rows[0])[5:] == ["cases", "summary.replicate"]
        assert (rows[0]["replicate"], rows[0]["summary.replicate"]) == (0, "first")

    def test_interactive_functions_refused(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A runner from an interactive session cannot go to worker processes: said at once."""

        def runner(scenario: Scenario, *, seed: int | None = None) -> RunResult:
            raise AssertionError("never called")

        runner.__module__ = "__main__"
        monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
        with pytest.raises(GridgovError, match="defined interactively"):
            run_sweep(self.sweep(tmp_path), tmp_path, workers=2, runner=runner, writer=fake_writer)

    def test_same_rows_with_processes(self, tmp_path: Path) -> None:
        """Two worker processes give the same rows and the same bytes as a serial run."""
        sweep = self.sweep(tmp_path)
        serial = run_sweep(sweep, tmp_path / "a", workers=1, runner=fake_runner, writer=fake_writer)
        pooled = run_sweep(sweep, tmp_path / "b", workers=2, runner=fake_runner, writer=fake_writer)
        assert pooled == serial
        assert (tmp_path / "a" / "sweep.csv").read_bytes() == (
            tmp_path / "b" / "sweep.csv"
        ).read_bytes()
        assert (tmp_path / "b" / "r008" / "summary.json").is_file()

    @pytest.mark.slow
    def test_same_rows_on_dask(self, tmp_path: Path) -> None:
        """A Dask LocalCluster of two worker processes gives the same rows as a serial run."""
        sweep = self.sweep(tmp_path)
        serial = run_sweep(sweep, tmp_path / "a", workers=1, runner=fake_runner, writer=fake_writer)
        on_dask = run_sweep(
            sweep, tmp_path / "b", dask="local", runner=fake_runner, writer=fake_writer
        )
        assert on_dask == serial
        assert (tmp_path / "b" / "r008" / "summary.json").is_file()

    @pytest.mark.slow
    def test_dask_scheduler_address(self, tmp_path: Path) -> None:
        """A scheduler address connects a client to a running cluster."""
        distributed = pytest.importorskip("distributed")
        sweep = Sweep(load_sweep(EXAMPLES / "sweep.toml").scenario, {"run.days": [3, 4]})
        with distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster:
            rows = run_sweep(
                sweep,
                tmp_path,
                dask=cluster.scheduler_address,
                runner=fake_runner,
                writer=fake_writer,
            )
        assert [row["days"] for row in rows] == [3, 4]

    @pytest.mark.parametrize("workers", [1, 2])
    def test_failed_run_named(self, tmp_path: Path, workers: int) -> None:
        """A run that fails stops the sweep with an error naming it (the first to fail)."""
        first = "r002" if workers == 1 else r"r0\d\d"
        with pytest.raises(GridgovError, match=rf"sweep run {first} .* failed: RuntimeError"):
            run_sweep(
                self.sweep(tmp_path),
                tmp_path / "out",
                workers=workers,
                runner=failing_runner,
                writer=fake_writer,
            )

    def test_bad_arguments(self, tmp_path: Path) -> None:
        """Workers and Dask together, or fewer than one worker, are refused."""
        sweep = self.sweep(tmp_path)
        with pytest.raises(GridgovError, match="not both"):
            run_sweep(sweep, tmp_path, workers=2, dask="local", runner=fake_runner)
        with pytest.raises(GridgovError, match="at least 1"):
            run_sweep(sweep, tmp_path, workers=0, runner=fake_runner)

    def test_dask_missing(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without Dask, the error says which extra to install."""
        monkeypatch.setitem(sys.modules, "dask.distributed", None)
        with pytest.raises(GridgovError, match=r"pip install 'gridgov\[dask\]'"):
            run_sweep(
                self.sweep(tmp_path),
                tmp_path / "out",
                dask="local",
                runner=fake_runner,
                writer=fake_writer,
            )

    def test_results_writer_missing(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without gridgov.sim.results.write_run, the sweep stops before running anything."""
        monkeypatch.setitem(sys.modules, "gridgov.sim.results", types.ModuleType("empty"))
        with pytest.raises(GridgovError, match="write_run is missing"):
            run_sweep(self.sweep(tmp_path), tmp_path / "out", workers=1, runner=fake_runner)
        assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def real_sweep() -> Sweep:
    """The example sweep cut to five-day runs with two replicates."""
    sweep = load_sweep(EXAMPLES / "sweep.toml")
    scenario = sweep.scenario.with_values({"run.days": 5})
    return Sweep(scenario, sweep.parameters, replicates=2, name="real")


class TestRealRunner:
    """Sweeps of the small preset, five-day runs, with the real runner."""

    def test_same_rows_serially_and_with_processes(self, real_sweep: Sweep, tmp_path: Path) -> None:
        """The real runner gives identical rows serially and on two processes."""
        serial = run_sweep(real_sweep, tmp_path / "a", workers=1, writer=fake_writer)
        pooled = run_sweep(real_sweep, tmp_path / "b", workers=2, writer=fake_writer)
        # Compared as text: a figure may be NaN (a percentile of nothing).
        assert json.dumps(pooled) == json.dumps(serial)
        assert (tmp_path / "a" / "sweep.csv").read_bytes() == (
            tmp_path / "b" / "sweep.csv"
        ).read_bytes()
        assert len(serial) == 8
        assert len({row["seed"] for row in serial}) == 2

    @pytest.mark.slow
    def test_same_rows_on_dask_with_the_real_runner(
        self, real_sweep: Sweep, tmp_path: Path
    ) -> None:
        """Dask LocalCluster(2) gives the real runs' rows exactly as a serial sweep does."""
        serial = run_sweep(real_sweep, tmp_path / "a", workers=1, writer=fake_writer)
        on_dask = run_sweep(real_sweep, tmp_path / "b", dask="local", writer=fake_writer)
        assert json.dumps(on_dask) == json.dumps(serial)

    def test_run_folders(self, real_sweep: Sweep, tmp_path: Path) -> None:
        """With the results writer, each run gets its folder."""
        small = Sweep(real_sweep.scenario, {"staffing.in_service_members": [0.8]}, name="one")
        rows: list[dict[str, Any]] = run_sweep(small, tmp_path, workers=1)
        assert [row["run_id"] for row in rows] == ["r001"]
        assert any((tmp_path / "r001").iterdir())

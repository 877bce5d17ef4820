"""Simulation runs: reproducible, conserving, driving the real engine; the demo's figures."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest

from gridgov import GridgovError
from gridgov.cli import main
from gridgov.rules import STAFF_ROLES
from gridgov.sim.outbreak import ReplayOutbreak, make_driver
from gridgov.sim.results import write_run
from gridgov.sim.runner import COLUMNS, RunResult, run_scenario
from gridgov.sim.scenario import OutbreakSpec, SeedCase, load_scenario

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "scenarios"


@pytest.fixture(scope="module")
def small_run() -> RunResult:
    scenario = load_scenario(EXAMPLES / "small.toml").with_values({"run.days": 60})
    return run_scenario(scenario)


class TestReproducible:
    """Same scenario and seed, same bytes; other seeds, other runs."""

    def test_same_seed_same_bytes(self, small_run: RunResult, tmp_path: Path) -> None:
        """Two runs with the same seed write byte-identical metrics.csv."""
        again = run_scenario(small_run.scenario)
        assert again.rows == small_run.rows
        write_run(small_run, tmp_path / "a", plots=False)
        write_run(again, tmp_path / "b", plots=False)
        assert (tmp_path / "a" / "metrics.csv").read_bytes() == (
            tmp_path / "b" / "metrics.csv"
        ).read_bytes()

    def test_different_seeds_differ(self, small_run: RunResult) -> None:
        """Another seed draws other infections and requests."""
        other = run_scenario(small_run.scenario, seed=small_run.seed + 1)
        assert other.rows != small_run.rows


class TestConservation:
    """The metrics add up."""

    def test_rows_match_columns(self, small_run: RunResult) -> None:
        """Every row has one value per column, one row per day."""
        assert small_run.columns[: len(COLUMNS)] == COLUMNS
        assert len(small_run.rows) == 60
        assert all(len(row) == len(small_run.columns) for row in small_run.rows)

    def test_households_never_exceed_the_city(self, small_run: RunResult) -> None:
        """Households sealed, controlled and under precaution never exceed households."""
        city = small_run.scenario.build_city()
        total = city.households(city.chain.city)
        for record in small_run.records():
            zones = ("households_sealed", "households_controlled", "households_precaution")
            assert sum(record[z] for z in zones) <= total

    def test_posts_filled_plus_short_equal_needed(self, small_run: RunResult) -> None:
        """For every role and day: filled + short = needed."""
        for record in small_run.records():
            for role in STAFF_ROLES:
                needed = record[f"posts_needed_{role}"]
                assert record[f"posts_filled_{role}"] + record[f"posts_short_{role}"] == needed

    def test_filled_posts_by_source_add_up(self, small_run: RunResult) -> None:
        """People on posts, counted by the pool level they came from, are the posts filled."""
        for record in small_run.records():
            by_role = sum(record[f"posts_filled_{role}"] for role in STAFF_ROLES)
            by_level = sum(v for k, v in record.items() if k.startswith("posts_filled_from_"))
            assert by_level == by_role

    def test_every_ticket_is_closed_or_open(self, small_run: RunResult) -> None:
        """Tickets opened = tickets closed + tickets still open at the end."""
        opened = sum(small_run.column("tickets_opened"))
        closed = sum(small_run.column("tickets_closed"))
        assert opened > 0
        assert opened == closed + small_run.column("tickets_open")[-1]

    def test_the_engine_switched_and_came_back(self, small_run: RunResult) -> None:
        """The seed case sealed its compound, staffed it, and the city ends normal."""
        assert max(small_run.column("compounds_sealed")) >= 1
        assert max(small_run.column("posts_filled_point_lead")) >= 1
        assert small_run.summary["household_days_sealed"] > 0
        assert small_run.column("communities_normal")[-1] == 3


class TestDrivers:
    """Outbreak drivers sit behind one small interface."""

    def test_replay_reports_listed_cases_on_their_days(self) -> None:
        """The replay driver returns the scenario's cases in their steps, nothing else."""
        driver = ReplayOutbreak([SeedCase("a", 2.5), SeedCase("b", 0.0), SeedCase("c", 2.1)])
        assert driver.step(0.0, 1.0, {}) == [("b", 0.0)]
        assert driver.step(1.0, 1.0, {}) == []
        assert driver.step(2.0, 1.0, {}) == [("c", 2.1), ("a", 2.5)]
        assert driver.infections == 3

    def test_sealing_cuts_spread(self) -> None:
        """With everything sealed, the compound model infects far fewer than with all open."""
        scenario = load_scenario(EXAMPLES / "small.toml")
        city = scenario.build_city()
        spec = OutbreakSpec(
            cases=(SeedCase("990101001001-C01", 0.0),), within_compound=1.5, neighbour=0.5
        )
        totals = {}
        for zone in ("open", "sealed"):
            driver = make_driver(city, spec, seed=3)
            zones = dict.fromkeys(city.compounds, zone)
            for day in range(20):
                driver.step(float(day), 1.0, zones)
            totals[zone] = driver.infections
        assert totals["sealed"] * 3 < totals["open"]

    def test_unknown_driver(self) -> None:
        """An unknown driver is a clear gridgov error."""
        scenario = load_scenario(EXAMPLES / "small.toml")
        with pytest.raises(GridgovError, match="unknown outbreak driver 'sir'"):
            make_driver(scenario.build_city(), OutbreakSpec(driver="sir"), 0)


class TestCommandLine:
    """gridgov simulate, report and demo."""

    def test_simulate_and_report(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """simulate writes a run folder, report an HTML page beside it."""
        out = tmp_path / "run"
        code = main(
            ["simulate", str(EXAMPLES / "replay.toml"), "--out", str(out), "--quiet", "--no-plots"]
        )
        assert code == 0, capsys.readouterr().err
        assert (out / "metrics.csv").is_file()
        assert main(["report", str(out)]) == 0
        assert (out / "report.html").is_file()

    def test_bad_scenario_is_one_line(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A broken scenario file is a one-line error and exit 1."""
        bad = tmp_path / "bad.toml"
        bad.write_text("[run]\ndays = 0\n")
        assert main(["simulate", str(bad), "--out", str(tmp_path / "o"), "--quiet"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("gridgov: error:")
        assert "Traceback" not in err

    @pytest.mark.slow
    def test_demo_json(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """The demo reproduces the published figures and reports its governance metrics."""
        assert main(["demo", "--json", "--out", str(tmp_path / "demo")]) == 0
        figures = json.loads(capsys.readouterr().out)
        assert figures["grids"] == {"urban": 4148, "rural": 4044, "exclusive": 694, "total": 8886}
        assert figures["grid_workers"] == 37762
        assert figures["point_leads"] == 652
        assert figures["building_leads"] >= 4000
        assert figures["deployed_members"] >= 10000
        for key in ("seal_to_point_lead_hours_p95", "tickets_escalated", "household_days_sealed"):
            assert key in figures
        assert figures["household_days_sealed"] > 0
        assert not math.isnan(float(figures["household_days_sealed"]))
        assert (tmp_path / "demo" / "report.html").is_file()


class TestDailyReadings:
    """What the runner reads off the roster each day is what the engine reports."""

    @pytest.mark.parametrize(
        ("name", "values"),
        [
            ("small.toml", {"run.days": 30}),
            ("sept17.toml", {"run.days": 12, "city.scale": 0.1}),
        ],
    )
    def test_response_counts_and_waiting_compounds(
        self, name: str, values: dict[str, object]
    ) -> None:
        """The peaks' counts (from the seats filled per role, which are the posts') are
        Engine.response_counts and the compounds waiting for a point lead are those
        with no commander_of, day by day."""
        from gridgov.sim.runner import ScenarioRun, _Staffed

        run = ScenarioRun(load_scenario(EXAMPLES / name).with_values(values))
        engine = run.engine
        busy_days = 0
        for index in range(run.total_steps):
            run.step(index)
            counts = engine.response_counts()
            staffed = _Staffed(engine)
            assert staffed.response_counts() == counts
            # The seats needed and filled per role, read from the roster's rows,
            # are those of its posts.
            needed: Counter[str] = Counter()
            filled: Counter[str] = Counter()
            for post in engine.roster.posts.values():
                needed[post.role] += post.capacity
                filled[post.role] += len(engine.roster.holders.get(post.id, ()))
            assert (staffed.needed, staffed.filled) == (needed, filled)
            waiting = sum(
                1 for c, z in run.zones.items() if z == "sealed" and engine.commander_of(c) is None
            )
            run.close_day(index)
            assert run.rows[-1][COLUMNS.index("compounds_sealed_without_point_lead")] == waiting
            busy_days += counts["point_leads"] > 0 and counts["deployed_members"] > 0
        assert busy_days  # the counts were not all zero

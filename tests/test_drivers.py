"""The outbreak driver registry: names a scenario may give, and what they build."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from gridgov import Engine, GridgovError, ScenarioError
from gridgov.city import City
from gridgov.sim import drivers
from gridgov.sim.drivers import driver_names, make_driver, register_driver
from gridgov.sim.outbreak import CompoundOutbreak, ReplayOutbreak
from gridgov.sim.runner import ScenarioRun, run_scenario
from gridgov.sim.scenario import OutbreakSpec, Scenario, SeedCase, load_scenario

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "scenarios"
EAST = "990101001001-C01"


class Silent:
    """A driver that never reports a case, and records what the runner told it."""

    def __init__(self) -> None:
        self.bound: Engine | None = None
        self.steps = 0

    def bind(self, engine: Engine) -> None:
        self.bound = engine

    def step(self, day: float, days: float, zones: Mapping[str, str]) -> list[tuple[str, float]]:
        self.steps += 1
        return []

    @property
    def infections(self) -> int:
        return 0

    @property
    def new_infections(self) -> int:
        return 0


LAST: list[Silent] = []


def silent(city: City, spec: OutbreakSpec, seed: int) -> Silent:
    """A registry factory for :class:`Silent` (kept in LAST for the test to look at)."""
    LAST.append(Silent())
    return LAST[-1]


class TestRegistry:
    """Scenarios name drivers from the registry; the registry builds them."""

    def test_built_in_names(self) -> None:
        """The three built-in drivers, in order."""
        assert driver_names() == ("compound", "replay", "covasim")

    def test_built_in_drivers_build(self) -> None:
        """compound and replay build their classes from the spec."""
        city = load_scenario(EXAMPLES / "small.toml").build_city()
        spec = OutbreakSpec(cases=(SeedCase(EAST, 0.0),))
        assert isinstance(make_driver(city, spec, 1), CompoundOutbreak)
        replay = make_driver(city, OutbreakSpec(driver="replay", cases=spec.cases), 1)
        assert isinstance(replay, ReplayOutbreak)
        assert replay.step(0.0, 1.0, {}) == [(EAST, 0.0)]

    def test_registered_driver_is_validated_built_and_bound(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A driver registered by name is accepted by scenarios, built, bound and stepped."""
        monkeypatch.setattr(drivers, "DRIVERS", dict(drivers.DRIVERS))
        register_driver("silent", f"{__name__}:silent")
        text = (
            'version = 1\n[city]\npreset = "small"\n[outbreak]\ndriver = "silent"\n'
            "[run]\ndays = 3\n"
        )
        scenario = Scenario.from_toml(text)
        run = ScenarioRun(scenario)
        assert run.outbreak is LAST[-1]
        assert LAST[-1].bound is run.engine
        result = run.run()
        assert LAST[-1].steps == 3
        assert result.column("cases_total") == [0, 0, 0]

    def test_unregistered_name_is_a_scenario_problem(self) -> None:
        """A scenario naming no registered driver is refused, with a hint."""
        text = 'version = 1\n[city]\npreset = "small"\n[outbreak]\ndriver = "compund"\n'
        with pytest.raises(ScenarioError, match="did you mean 'compound'"):
            Scenario.from_toml(text)

    def test_malformed_factory_refused(self) -> None:
        """A factory that is not 'module:attribute' is refused and not registered."""
        with pytest.raises(GridgovError, match="expected 'module:attribute'"):
            register_driver("broken", "no_colon_here")
        assert "broken" not in driver_names()


class TestScenarioRun:
    """run_scenario is ScenarioRun's phases run in order."""

    def test_phases_give_the_same_result(self) -> None:
        """Stepping and closing days by hand gives run_scenario's rows and summary."""
        scenario = load_scenario(EXAMPLES / "small.toml").with_values({"run.days": 5})
        whole = run_scenario(scenario)
        run = ScenarioRun(scenario)
        for index in range(run.total_steps):
            run.step(index)
            run.close_day(index)  # one step a day in this scenario
        assert tuple(run.rows) == whole.rows
        assert run.summary() == whole.summary

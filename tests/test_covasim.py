"""The Covasim driver: agent map, contact weights, mass tests, coupled runs.

The whole module is skipped when the ``covasim`` extra is not installed.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

pytest.importorskip("covasim")

from gridgov.clock import EPOCH, ManualClock
from gridgov.engine import Engine
from gridgov.errors import GridgovError, ScenarioError
from gridgov.presets import small
from gridgov.rules import Rules
from gridgov.sim.covasim import (
    OPTION_DEFAULTS,
    CovasimOptions,
    CovasimOutbreak,
    build_agent_map,
    option_problems,
    run_coupled,
)
from gridgov.sim.scenario import CityChoice, OutbreakSpec, RunSpec, Scenario, SeedCase

CITY = small()
COMPOUNDS = sorted(CITY.compounds)
FIRST = COMPOUNDS[0]
AGENTS = 5000


def scenario(
    days: int = 20, cases: tuple[SeedCase, ...] = (), seed: int = 1, **options: Any
) -> Scenario:
    """The small preset with the Covasim driver on a small population."""
    return Scenario(
        name="covasim-test",
        seed=seed,
        city=CityChoice("small"),
        outbreak=OutbreakSpec(
            driver="covasim", cases=cases, options={"pop_size": AGENTS, **options}
        ),
        run=RunSpec(days=days),
    )


def driver(days: int = 5, seed: int = 1, **options: Any) -> CovasimOutbreak:
    return CovasimOutbreak(CITY, scenario(days=days, seed=seed, **options), seed)


def layer_edges(outbreak: CovasimOutbreak, key: str) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in outbreak.sim.networks[key].edges.items()}


def touches(outbreak: CovasimOutbreak, edges: dict[str, np.ndarray], compound: str) -> np.ndarray:
    inside = np.zeros(outbreak.map.agents, dtype=bool)
    inside[outbreak.map.agents_in(compound)] = True
    either: np.ndarray = inside[edges["p1"]] | inside[edges["p2"]]
    return either


class TestOptions:
    """The driver's options are checked, all problems at once, without Covasim."""

    def test_defaults_are_valid(self) -> None:
        """The documented defaults pass their own checks."""
        given = {k: v for k, v in OPTION_DEFAULTS.items() if v is not None}
        given["layers"] = list(given["layers"])
        assert option_problems(given) == []

    def test_problems_name_the_key(self) -> None:
        """Unknown keys get a hint, bad values what was expected, reserved Covasim keys a reason."""
        found = dict(
            option_problems(
                {"pop_sze": 10, "sealed_test_prob": 1.5, "layers": ["x"], "sim": {"rand_seed": 3}}
            )
        )
        assert "did you mean 'pop_size'?" in found[("pop_sze",)]
        assert found[("sealed_test_prob",)] == "expected a share in [0, 1], got 1.5"
        assert "among h, s, w, c" in found[("layers",)]
        assert "set by the driver" in found[("sim", "rand_seed")]

    def test_spec_with_problems_raises_them_all(self) -> None:
        """Building options from a bad spec raises one ScenarioError listing each problem."""
        spec = OutbreakSpec(driver="covasim", options={"beta": -1, "report_hour": 24})
        with pytest.raises(ScenarioError) as caught:
            CovasimOptions.from_spec(spec)
        keys = [p.key for p in caught.value.problems]
        assert keys == ["outbreak.options.beta", "outbreak.options.report_hour"]

    def test_controlled_factor_defaults_to_the_scenario(self) -> None:
        """Without the option, controlled compounds keep the scenario's controlled factor."""
        spec = OutbreakSpec(driver="covasim", controlled_factor=0.25)
        assert CovasimOptions.from_spec(spec).controlled_factor == 0.25


class TestAgentMap:
    """Covasim's households shared out over compounds, buildings and grids."""

    @staticmethod
    def clusters(agents: int, seed: int = 0) -> np.ndarray:
        sizes = np.random.default_rng(seed).integers(1, 6, agents)
        return np.repeat(np.arange(agents), sizes)[:agents].astype(float)

    def test_every_agent_once_households_whole(self) -> None:
        """Every agent has one building, in its compound and grid; households stay whole."""
        clusters = self.clusters(AGENTS)
        agent_map = build_agent_map(CITY, clusters, seed=3)
        assert agent_map.agents == AGENTS
        assert sum(len(agent_map.agents_in(c)) for c in agent_map.compounds) == AGENTS
        for agent in range(0, AGENTS, 97):
            building = CITY.building(agent_map.buildings[agent_map.building[agent]])
            assert building.compound == agent_map.compounds[agent_map.compound[agent]]
            assert building.grid == agent_map.grids[agent_map.grid[agent]]
        buildings_of: dict[int, int] = {}
        for household, building in zip(agent_map.household, agent_map.building, strict=True):
            assert buildings_of.setdefault(household, building) == building

    def test_households_follow_compound_sizes(self) -> None:
        """Each compound gets its share of households, within one of the exact quota."""
        clusters = self.clusters(AGENTS)
        agent_map = build_agent_map(CITY, clusters, seed=3)
        count = len(np.unique(clusters))
        weights = np.array([CITY.households(c) for c in agent_map.compounds], dtype=float)
        quota = count * weights / weights.sum()
        assert agent_map.households_per_compound.sum() == count
        assert np.all(np.abs(agent_map.households_per_compound - quota) < 1)
        per_compound = Counter(
            agent_map.compound[np.unique(agent_map.household, return_index=True)[1]].tolist()
        )
        assert [per_compound[i] for i in range(len(agent_map.compounds))] == (
            agent_map.households_per_compound.tolist()
        )

    def test_seeded(self) -> None:
        """The same seed gives the same map; another seed another one."""
        clusters = self.clusters(AGENTS)
        one = build_agent_map(CITY, clusters, seed=3)
        assert np.array_equal(one.building, build_agent_map(CITY, clusters, seed=3).building)
        assert not np.array_equal(one.building, build_agent_map(CITY, clusters, seed=4).building)

    def test_area(self) -> None:
        """With an area, agents live only in its compounds; an unknown area is an error."""
        community = CITY.compound(FIRST).community
        agent_map = build_agent_map(CITY, self.clusters(500), seed=0, area=community)
        assert set(agent_map.compounds) == set(CITY.compounds_of(community))
        with pytest.raises(GridgovError, match="no unit 'nowhere'"):
            build_agent_map(CITY, self.clusters(10), seed=0, area="nowhere")

    def test_map_of_a_covasim_population(self) -> None:
        """The driver maps Covasim's own household clusters, every agent once."""
        outbreak = driver()
        assert outbreak.map.agents == AGENTS
        clusters = outbreak.sim.networks.h.cluster.raw[:AGENTS]
        assert len(np.unique(clusters)) == outbreak.map.households_per_compound.sum()


class TestContacts:
    """Zones weight the community, school and work contacts of a compound's residents."""

    def test_seal_cuts_exactly_its_contacts_and_lift_restores(self) -> None:
        """A sealed compound's non-household edges get weight 0, nothing else changes;
        opening it again gives back the original layers exactly."""
        outbreak = driver()
        before = {key: layer_edges(outbreak, key) for key in ("h", "s", "w", "c")}
        sealed = dict.fromkeys(COMPOUNDS, "open") | {FIRST: "sealed"}
        outbreak.step(0.0, 1.0, sealed)
        for key in ("s", "w", "c"):
            now = layer_edges(outbreak, key)
            hit = touches(outbreak, now, FIRST)
            assert hit.any()
            assert np.array_equal(now["p1"], before[key]["p1"])
            assert np.all(now["beta"][hit] == 0)
            assert np.array_equal(now["beta"][~hit], before[key]["beta"][~hit])
        h_now = layer_edges(outbreak, "h")
        assert all(np.array_equal(h_now[k], before["h"][k]) for k in before["h"])
        outbreak.step(1.0, 1.0, dict.fromkeys(COMPOUNDS, "open"))
        for key in ("s", "w", "c"):
            now = layer_edges(outbreak, key)
            assert now.keys() == before[key].keys()
            assert all(np.array_equal(now[k], before[key][k]) for k in now)

    def test_controlled_keeps_its_factor(self) -> None:
        """A controlled compound's edges keep controlled_factor (its square inside it)."""
        outbreak = driver(controlled_factor=0.4)
        before = layer_edges(outbreak, "c")
        outbreak.step(0.0, 1.0, {FIRST: "controlled"})
        now = layer_edges(outbreak, "c")
        inside = np.zeros(outbreak.map.agents, dtype=bool)
        inside[outbreak.map.agents_in(FIRST)] = True
        ends = inside[now["p1"]].astype(int) + inside[now["p2"]]
        for count, weight in ((0, 1.0), (1, 0.4), (2, 0.16)):
            got = now["beta"][ends == count] / before["beta"][ends == count]
            assert np.allclose(got, weight)

    def test_seal_without_point_lead_is_partial(self) -> None:
        """Sealed with no cadre to lead it, a compound keeps unled_seal_factor of its contacts."""
        engine = Engine(CITY, Rules.default(), ManualClock(EPOCH))
        engine.set_availability({"cadre": 1.0})
        engine.report_case(FIRST)
        assert engine.zone(FIRST) == "sealed"
        assert engine.commander_of(FIRST) is None
        outbreak = driver(unled_seal_factor=0.5)
        outbreak.bind(engine)
        before = layer_edges(outbreak, "c")
        outbreak.step(0.0, 1.0, engine.zones())
        now = layer_edges(outbreak, "c")
        only = touches(outbreak, now, FIRST)
        zones = engine.zones()
        others = [c for c in COMPOUNDS if c != FIRST and zones[c] != "open"]
        for compound in others:
            only &= ~touches(outbreak, now, compound)
        inside = np.zeros(outbreak.map.agents, dtype=bool)
        inside[outbreak.map.agents_in(FIRST)] = True
        once = only & (inside[now["p1"]] != inside[now["p2"]])
        assert once.any()
        assert np.allclose(now["beta"][once], 0.5 * before["beta"][once])
        assert outbreak.daily()[0]["compounds_sealed_unled"] == 1


class TestMassTesting:
    """Tests in sealed compounds follow the registration seats actually filled."""

    @staticmethod
    def sealed_tests(away: float, days: int = 4) -> tuple[int, float | None]:
        engine = Engine(CITY, Rules.default(), ManualClock(EPOCH))
        if away:
            engine.set_availability({"in_service_member": away}, seed=2)
        engine.report_case(FIRST)
        outbreak = driver(days=days, pop_infected=50)
        outbreak.bind(engine)
        for day in range(days):
            outbreak.step(float(day), 1.0, engine.zones())
        summary = outbreak.summary()
        return summary["tests_sealed"], summary["registration_fill_share"]

    def test_shortfall_means_fewer_tests(self) -> None:
        """Fewer registration staff, fewer tests in the sealed compound; none, none."""
        full, full_share = self.sealed_tests(0.0)
        half, half_share = self.sealed_tests(0.88)  # one of its two seats filled
        none, none_share = self.sealed_tests(1.0)
        assert full_share == 1.0
        assert none_share == 0.0
        assert half_share == 0.5
        assert full > half > none == 0


class TestCoupledRuns:
    """Covasim drives the engine through the real runner; runs give small results."""

    def test_no_cases_never_seals(self) -> None:
        """Without infections nothing is diagnosed, reported or sealed."""
        run = run_coupled(scenario(days=10))
        assert run.covasim["infections"] == 0
        assert run.covasim["cases_reported"] == 0
        assert set(run.result.column("compounds_sealed")) == {0}
        assert run.result.summary["household_days_sealed"] == 0

    def test_diagnoses_become_sealed_compounds(self) -> None:
        """Agents Covasim diagnoses are reported, and the engine seals their compounds."""
        run = run_coupled(scenario(pop_infected=40))
        assert run.covasim["diagnoses"] > 0
        assert run.result.summary["cases_confirmed"] == run.covasim["cases_reported"] > 0
        assert max(run.result.column("compounds_sealed")) > 0
        sealed_days = [r for r in run.daily if r["compounds_sealed"]]
        assert sealed_days
        assert all(r["edges_cut"] > 0 for r in sealed_days)
        assert run.result.summary["infections"] == run.covasim["infections"]

    def test_listed_case_is_reported_on_its_day(self) -> None:
        """A scenario's case is confirmed at its time and seals its compound."""
        run = run_coupled(scenario(days=3, cases=(SeedCase(FIRST, 0.25),)))
        assert run.result.column("cases_confirmed")[0] == 1
        assert run.covasim["infections"] >= OPTION_DEFAULTS["infections_per_case"]
        assert run.daily[1]["compounds_sealed"] >= 1

    def test_same_seed_same_run(self) -> None:
        """The same seed gives the same days and figures; another seed differs."""
        one = run_coupled(scenario(pop_infected=40), seed=5)
        assert one.daily == run_coupled(scenario(pop_infected=40), seed=5).daily
        assert one.result.rows == run_coupled(scenario(pop_infected=40), seed=5).result.rows
        assert one.daily != run_coupled(scenario(pop_infected=40), seed=6).daily

    def test_results_beside_covasim_results(self) -> None:
        """The recorder's figures are in Covasim's own results."""
        outbreak = driver(days=2)
        outbreak.step(0.0, 1.0, {FIRST: "sealed"})
        assert outbreak.sim.results.gridgov.compounds_sealed[0] == 1
        assert outbreak.daily()[0]["agents_sealed"] == len(outbreak.map.agents_in(FIRST))


class TestErrors:
    """Misuse fails with a gridgov error saying what to change."""

    def test_past_the_horizon(self) -> None:
        """Stepping past the days Covasim was set up for names the option to raise."""
        outbreak = CovasimOutbreak.from_spec(
            CITY, OutbreakSpec(driver="covasim", options={"pop_size": 500, "horizon_days": 1}), 0
        )
        outbreak.step(0.0, 1.0, {})
        with pytest.raises(GridgovError, match="horizon_days"):
            outbreak.step(1.0, 1.0, {})

    def test_case_outside_the_area(self) -> None:
        """A listed case outside the modelled area is refused."""
        elsewhere = next(
            c for c in COMPOUNDS if CITY.compound(c).community != CITY.compound(FIRST).community
        )
        spec = OutbreakSpec(
            driver="covasim",
            cases=(SeedCase(elsewhere, 0.0),),
            options={"pop_size": 500, "area": CITY.compound(FIRST).community},
        )
        with pytest.raises(GridgovError, match="outside the modelled area"):
            CovasimOutbreak.from_spec(CITY, spec, 0, days=2)

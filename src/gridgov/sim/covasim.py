"""Covasim as the outbreak driver: real epidemiology drives the switches, and
governance capacity feeds back into the epidemic.

`Covasim <https://covasim.org>`_ (4.x, built on Starsim) models infections
agent by agent, but a lockdown there is instant, complete and free. gridgov
models the organisation that carries one out. This module couples the two
(the optional extra ``gridgov[covasim]``; nothing here imports Covasim until
a driver is built):

* :func:`build_agent_map` puts every Covasim agent in a gridgov household,
  building, compound and grid: Covasim's household clusters (the ``h``
  network of its *hybrid* population) are shared out over the compounds of
  the modelled area in proportion to their households, then over each
  compound's buildings (hence grids), with a seeded shuffle;
* :class:`CovasimOutbreak` is an :class:`~gridgov.sim.outbreak.OutbreakDriver`:
  each day it applies the engine's zones to Covasim, runs one Covasim day and
  reports the newly diagnosed agents, by compound, as confirmed cases.

What the zones do to Covasim (each day, from the zones at the start of it):

* a *sealed* compound (nobody leaves): its residents' contacts on the
  community, school and work layers are cut (household contacts stay);
* a sealed compound whose *point lead* (the cadre commanding it) is not
  assigned yet is sealed only partially: its residents keep
  ``unled_seal_factor`` of their contacts' weight;
* a *controlled* compound (movement restricted) keeps ``controlled_factor``;
* residents of a sealed compound are tested (mass screening) with a daily
  chance ``sealed_test_prob`` times the share of its test-site
  ``registration`` seats actually filled: a staffing shortfall means fewer
  tests, so later detection.

An edge between two agents gets the product of their compounds' factors as
its weight (Covasim's edge ``beta`` times that), computed from a kept copy of
each layer, so lifting restores the layer exactly. A cut edge stays in the
layer with weight 0 rather than being removed: it transmits nothing, and a
change then rewrites the weights of the changed compounds' edges in place
instead of rebuilding Covasim's arrays (three times cheaper at 100,000 agents).
Covasim's random numbers are drawn per pair of agents, so a run is the same
as with the edges removed. The scenario's listed cases are reported on their
day, and ``infections_per_case`` agents of the case's compound (the case
among them) are infected that day: the case and those it infected unseen.

Point leads and registration seats are read off the engine, which the runner
hands to the driver through :meth:`CovasimOutbreak.bind`. A driver that is
never bound sees zones only, and treats every sealed compound as led and fully
staffed.

A recorder (a Covasim analyzer named ``gridgov``) writes the governance side
of each day into the Covasim results (``sim.results.gridgov``), beside the
epidemic's; :meth:`CovasimOutbreak.daily` gives both as small rows and
:func:`run_coupled` runs a scenario and returns small figures, never the
simulation object. Infections and tests are counted in agents: with the
default ``pop_size`` one agent is one resident.

The driver's parameters are the scenario's ``[outbreak.options]`` (see
:data:`OPTION_DEFAULTS` and :func:`option_problems`)::

    [outbreak]
    driver = "covasim"
    cases = [{ compound = "990101001001-C01", day = 0 }]

    [outbreak.options]
    pop_size = 5000           # agents (default: one per resident of the area)
    area = "990101"           # the unit whose residents Covasim models (default: the city)
    infections_per_case = 5   # agents infected in a listed case's compound on its day
    sealed_test_prob = 0.5    # daily test chance in a sealed compound, fully staffed
    unled_seal_factor = 0.5   # contact weight left in a sealed compound with no point lead
    sim = { quar_factor = { c = 0.3 } }   # further cv.Sim parameters, passed through
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import importlib
import io
import math
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import attrs

from gridgov.city import City
from gridgov.errors import (
    InvariantError,
    MissingExtraError,
    NotFoundError,
    Problem,
    ScenarioError,
)
from gridgov.sim.outbreak import PEOPLE_PER_HOUSEHOLD
from gridgov.sim.scenario import OutbreakSpec, Scenario, SeedCase

if TYPE_CHECKING:  # numpy comes with gridgov; Covasim and the engine only when used
    import numpy as np

    from gridgov.engine import Engine
    from gridgov.sim.runner import RunResult

__all__ = [
    "COVASIM_SPEC",
    "OPTION_DEFAULTS",
    "AgentMap",
    "CoupledRun",
    "CovasimOptions",
    "CovasimOutbreak",
    "build_agent_map",
    "option_problems",
    "run_coupled",
]

#: The Covasim releases this module is written and tested against.
COVASIM_SPEC = "covasim==4.0.*"

#: The layers a seal cuts: community, school, work (``h``, households, stays).
CUT_LAYERS = ("c", "s", "w")

#: Covasim parameters the driver sets itself (not allowed in ``options.sim``).
_RESERVED_SIM = frozenset(
    {
        "pop_size",
        "n_agents",
        "pop_type",
        "pop_infected",
        "rand_seed",
        "n_days",
        "end_day",
        "dur",
        "dt",
        "beta",
        "interventions",
        "analyzers",
        "verbose",
        "people",
        "networks",
        "diseases",
        # A layer rebuilt every day would drop the contact weights.
        "dynam_layer",
        # Counts stay in agents: one agent, one infection, one test.
        "pop_scale",
        "scaled_pop",
        "rescale",
    }
)


# ------------------------------------------------------------------ options


def _option_error(key: str, message: str) -> ScenarioError:
    """A problem of the value of ``outbreak.options.<key>`` found while running."""
    return ScenarioError([Problem("<scenario>", 0, f"outbreak.options.{key}", message)])


@attrs.frozen
class CovasimOptions:
    """The Covasim driver's parameters (``[outbreak.options]``), validated.

    Build one with :meth:`from_spec`; every field has a default.
    """

    #: Agents (default: one per resident of the area, ``PEOPLE_PER_HOUSEHOLD``
    #: per household).
    pop_size: int | None = None
    #: The unit (any level) whose residents Covasim models (default: the city).
    area: str | None = None
    #: Agents infected at random in the area on day 0, besides the listed cases.
    pop_infected: int = 0
    #: Agents infected in a listed case's compound on the case's day (the case
    #: itself, confirmed, and people it already infected, not yet found).
    infections_per_case: int = 5
    #: Covasim's transmissibility per contact per day.
    beta: float = 0.016
    #: Daily test chance of a symptomatic agent anywhere (Covasim's ``test_prob``).
    symp_prob: float = 0.1
    #: ... of an agent without symptoms.
    asymp_prob: float = 0.0
    #: Days from a test to its result.
    test_delay: int = 1
    #: Daily test chance of a resident of a sealed compound whose registration
    #: seats are all filled (mass screening); scaled by the share filled.
    sealed_test_prob: float = 0.5
    #: Contact weight left to residents of a controlled compound (default: the
    #: scenario's ``outbreak.controlled_factor``).
    controlled_factor: float | None = None
    #: Contact weight left to residents of a sealed compound without a point lead.
    unled_seal_factor: float = 0.5
    #: Hour of the day at which a day's diagnoses reach the engine.
    report_hour: float = 12.0
    #: Covasim layers that sealing and control act on.
    layers: tuple[str, ...] = attrs.field(default=CUT_LAYERS, converter=tuple)
    #: Days Covasim is set up for when the run's length is not known.
    horizon_days: int = 366
    #: Further ``cv.Sim`` parameters, passed through as given.
    sim: Mapping[str, Any] = attrs.field(factory=dict)

    @classmethod
    def from_spec(cls, spec: OutbreakSpec) -> CovasimOptions:
        """The options of an outbreak spec, with its ``controlled_factor`` as default.

        Raises:
            ScenarioError: any problem of :func:`option_problems`, all at once.
        """
        problems = option_problems(spec.options)
        if problems:
            raise ScenarioError(
                [
                    Problem("<scenario>", 0, ".".join(("outbreak", "options", *k)), m)
                    for k, m in problems
                ]
            )
        values: dict[str, Any] = dict(spec.options)
        if "layers" in values:
            values["layers"] = tuple(values["layers"])
        values.setdefault("controlled_factor", spec.controlled_factor)
        return cls(**values)


#: Every option and its default.
OPTION_DEFAULTS: Mapping[str, Any] = {
    field.name: getattr(CovasimOptions(), field.name) for field in attrs.fields(CovasimOptions)
}


def _count(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "pop_size": (lambda v: _count(v) and v >= 1, "a whole number of agents, 1 or more"),
    "area": (lambda v: isinstance(v, str) and bool(v), "a unit id (a string)"),
    "pop_infected": (lambda v: _count(v) and v >= 0, "a whole number, 0 or more"),
    "infections_per_case": (lambda v: _count(v) and v >= 1, "a whole number, 1 or more"),
    "beta": (lambda v: _number(v) and v >= 0, "a number, 0 or more"),
    "symp_prob": (lambda v: _number(v) and 0 <= v <= 1, "a share in [0, 1]"),
    "asymp_prob": (lambda v: _number(v) and 0 <= v <= 1, "a share in [0, 1]"),
    "test_delay": (lambda v: _count(v) and v >= 0, "a whole number of days, 0 or more"),
    "sealed_test_prob": (lambda v: _number(v) and 0 <= v <= 1, "a share in [0, 1]"),
    "controlled_factor": (lambda v: _number(v) and 0 <= v <= 1, "a share in [0, 1]"),
    "unled_seal_factor": (lambda v: _number(v) and 0 <= v <= 1, "a share in [0, 1]"),
    "report_hour": (lambda v: _number(v) and 0 <= v < 24, "an hour in [0, 24)"),
    "layers": (
        lambda v: (
            isinstance(v, list | tuple)
            and all(isinstance(x, str) and x in ("h", *CUT_LAYERS) for x in v)
            and len(set(v)) == len(v)
        ),
        "a list of distinct Covasim layers among h, s, w, c",
    ),
    "horizon_days": (lambda v: _count(v) and v >= 1, "a whole number of days, 1 or more"),
    "sim": (lambda v: isinstance(v, Mapping), "a table of cv.Sim parameters"),
}


def option_problems(options: Mapping[str, object]) -> list[tuple[tuple[str, ...], str]]:
    """Every problem of a Covasim driver's options, without importing Covasim.

    A scenario validator can call it to place the problems on the file's lines.

    Args:
        options: the ``[outbreak.options]`` table.

    Returns:
        (key path under ``outbreak.options``, what is wrong) pairs, in key order.
    """
    found: list[tuple[tuple[str, ...], str]] = []
    for key, value in options.items():
        check = _CHECKS.get(key)
        if check is None:
            close = difflib.get_close_matches(key, list(_CHECKS), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            found.append(((key,), f"unknown option ({hint}expected one of: {', '.join(_CHECKS)})"))
        elif not check[0](value):
            found.append(((key,), f"expected {check[1]}, got {value!r}"))
        elif key == "sim":
            assert isinstance(value, Mapping)
            for name in value:
                if name in _RESERVED_SIM:
                    found.append(
                        (
                            (key, str(name)),
                            "set by the driver (use the option of that name, or leave it out)",
                        )
                    )
    return found


# ------------------------------------------------------------------ Covasim


@functools.cache
def _covasim() -> tuple[ModuleType, ModuleType]:
    """Covasim and Starsim, imported once (Covasim's banner kept off stdout).

    Raises:
        GridgovError: Covasim is not installed.
    """
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            cv = importlib.import_module("covasim")
        ss = importlib.import_module("starsim")
    except ImportError as error:
        raise MissingExtraError(
            "covasim",
            "covasim",
            error,
            message="the covasim outbreak driver needs Covasim: pip install 'gridgov[covasim]' "
            f"({COVASIM_SPEC}); {error}",
        ) from None
    return cv, ss


# ------------------------------------------------------------------ agent map


@attrs.frozen(eq=False)
class AgentMap:
    """Where each Covasim agent lives in the city (numpy arrays, one entry per agent).

    Covasim's households are kept whole: every agent of one household cluster
    is in the same building, compound and grid.
    """

    #: The modelled area's compounds, sorted; ``compound`` indexes into it.
    compounds: tuple[str, ...]
    #: The grids covering them, sorted; ``grid`` indexes into it.
    grids: tuple[str, ...]
    #: The buildings with households, sorted; ``building`` indexes into it.
    buildings: tuple[str, ...]
    #: Covasim's household cluster of each agent.
    household: np.ndarray
    #: Building index of each agent.
    building: np.ndarray
    #: Compound index of each agent.
    compound: np.ndarray
    #: Grid index of each agent.
    grid: np.ndarray
    #: Covasim households per compound (in ``compounds`` order).
    households_per_compound: np.ndarray

    @property
    def agents(self) -> int:
        """Number of agents."""
        return len(self.compound)

    def agents_in(self, compound: str) -> np.ndarray:
        """The agents (uids, sorted) living in ``compound``.

        Raises:
            NotFoundError: the compound is not in the modelled area.
        """
        import numpy as np

        try:
            index = self.compounds.index(compound)
        except ValueError:
            raise NotFoundError(
                compound, "compound", message=f"compound {compound!r} is not in the modelled area"
            ) from None
        return np.flatnonzero(self.compound == index)

    def agents_per_compound(self) -> np.ndarray:
        """Number of agents in each compound (in ``compounds`` order)."""
        import numpy as np

        return np.bincount(self.compound, minlength=len(self.compounds))


def _apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Share ``total`` out in proportion to ``weights``, largest remainders first.

    Every share is within 1 of its exact quota; ties go to the earlier weight.
    """
    import numpy as np

    quota = total * weights / weights.sum()
    shares: np.ndarray = np.floor(quota).astype(np.int64)
    left = total - int(shares.sum())
    if left:
        order = np.argsort(-(quota - shares), kind="stable")
        shares[order[:left]] += 1
    return shares


def build_agent_map(
    city: City, clusters: np.ndarray, seed: int, area: str | None = None
) -> AgentMap:
    """Put Covasim's household clusters into the area's compounds, buildings and grids.

    Households go to compounds in proportion to the compounds' households
    (largest remainders), then within a compound to its buildings the same way;
    which cluster goes where is a seeded shuffle.

    Args:
        city: the city.
        clusters: the household cluster id of each agent (Covasim's
            ``sim.networks.h.cluster``); any labels, one per agent.
        seed: the shuffle's seed (numpy's PCG64).
        area: the unit whose compounds the agents live in (default: the city).

    Returns:
        The map, one entry per agent.

    Raises:
        GridgovError: the area is not a unit, or has no households.
    """
    import numpy as np

    if area is None:
        area = city.chain.city
    if area not in city.chain:
        raise _option_error("area", f"no unit {area!r} in the city ({city.name})")
    compounds = tuple(sorted(c for c in city.compounds_of(area) if city.households(c) > 0))
    if not compounds:
        raise _option_error("area", f"{area!r} has no households to put agents in")
    labels, household = np.unique(np.asarray(clusters), return_inverse=True)
    count = len(labels)
    per_compound = _apportion(count, np.array([city.households(c) for c in compounds], dtype=float))
    # Read from the buildings' columns (no Building made per building).
    table = city.buildings
    households_of, grid_of = table.households_of, table.grid
    buildings: list[str] = []
    per_building: list[int] = []
    building_compound_list: list[int] = []
    for position, (compound, share) in enumerate(zip(compounds, per_compound, strict=True)):
        inside = sorted(b for b in city.buildings_of(compound) if households_of(b) > 0)
        buildings += inside
        building_compound_list += [position] * len(inside)
        weights = np.array([households_of(b) for b in inside], dtype=float)
        per_building += _apportion(int(share), weights).tolist()
    building_grids = [grid_of(b) for b in buildings]
    grid_ids = sorted(set(building_grids))
    grid_index = {g: i for i, g in enumerate(grid_ids)}
    building_grid = np.array([grid_index[g] for g in building_grids], dtype=np.int32)
    # A compound's buildings are in that compound (buildings_of).
    building_compound = np.array(building_compound_list, dtype=np.int32)
    # Household k of the shuffle goes to the k-th slot of the buildings in order.
    slots = np.repeat(np.arange(len(buildings), dtype=np.int32), per_building)
    rng = np.random.Generator(np.random.PCG64(seed))
    building_of = np.empty(count, dtype=np.int32)
    building_of[rng.permutation(count)] = slots
    agent_building = building_of[household]
    return AgentMap(
        compounds=compounds,
        grids=tuple(grid_ids),
        buildings=tuple(buildings),
        household=household.astype(np.int64),
        building=agent_building,
        compound=building_compound[agent_building],
        grid=building_grid[agent_building],
        households_per_compound=per_compound,
    )


# ------------------------------------------------------------------ coupling


class _Coupling:
    """What the driver tells Covasim for the coming day, and what Covasim did.

    Shared by the driver, the intervention and the recorder; holds arrays only
    (no engine, no city), so the intervention stays cheap to copy.
    """

    def __init__(self, agent_map: AgentMap, options: CovasimOptions) -> None:
        import numpy as np

        self.map = agent_map
        self.options = options
        count = len(agent_map.compounds)
        #: Contact weight left per compound (1 open, 0 sealed).
        self.factor = np.ones(count)
        #: Daily mass-test chance per compound.
        self.test_prob = np.zeros(count)
        #: The factors the layers were last built for (None: the originals).
        self.applied: np.ndarray | None = None
        #: Agents to infect today: (agents, index case or -1).
        self.imports: list[tuple[np.ndarray, int]] = []
        #: Governance figures of the day, written by the driver for the recorder.
        self.governance: dict[str, float] = {}
        #: Tests done today in sealed compounds, and edges cut now.
        self.tests_sealed = 0
        self.edges_cut = 0
        self._by_compound: tuple[np.ndarray, np.ndarray] | None = None

    def agents_of(self, compounds: np.ndarray) -> np.ndarray:
        """The agents (uids, sorted) living in ``compounds`` (indices into ``map.compounds``)."""
        import numpy as np

        if self._by_compound is None:
            self._by_compound = _index_by(self.map.compound, len(self.map.compounds))
        order, starts = self._by_compound
        picked = [order[starts[k] : starts[k + 1]] for k in compounds.tolist()]
        if not picked:
            return np.zeros(0, dtype=np.int64)
        return np.sort(np.concatenate(picked)).astype(np.int64)


class _WeightedLayer:
    """One Covasim layer's edges, weighted by the contact factors of the compounds at both ends.

    A cut edge keeps its place with weight 0: a change rewrites only the betas
    of the edges at the compounds that changed, found through an index of the
    kept copy's edges by compound, instead of rebuilding Covasim's arrays.
    Covasim drops the edges of agents who die (keeping the others in order);
    :meth:`follow` maps the kept copy onto what is left.

    Args:
        p1, p2, beta: the kept copy of the layer's edges.
        compound: the compound index of each agent.
        compounds: the number of compounds.
    """

    def __init__(
        self,
        p1: np.ndarray,
        p2: np.ndarray,
        beta: np.ndarray,
        compound: np.ndarray,
        compounds: int,
    ) -> None:
        import numpy as np

        self.p1, self.p2, self.beta = p1, p2, beta
        small = np.uint16 if compounds < 2**16 else np.int32  # uint16 sorts by radix: fast
        self.c1 = compound[p1].astype(small)
        self.c2 = compound[p2].astype(small)
        # The edges of each compound, by the end it is at (a stable sort keeps them in order).
        self.by1, self.starts1 = _index_by(self.c1, compounds)
        self.by2, self.starts2 = _index_by(self.c2, compounds)
        # The same edges' betas and other ends, in that order: a compound's
        # edges are then read as one slice each, not gathered across the layer.
        self.beta1, self.other1 = beta[self.by1], self.c2[self.by1]
        self.beta2, self.other2 = beta[self.by2], self.c1[self.by2]
        #: Where each kept edge is in Covasim's layer now (None: all there, in place).
        self.position: np.ndarray | None = None
        self.live = len(p1)
        #: Edges of weight 0 now (None: to be counted, as after Covasim dropped edges).
        self.cut: int | None = None

    def follow(self, live: int, alive: np.ndarray) -> None:
        """Map the kept edges onto Covasim's layer after it dropped the edges of the dead.

        Raises:
            GridgovError: the layer does not hold what is expected (something else edited it).
        """
        import numpy as np

        if live == self.live:
            return
        keep = alive[self.p1] & alive[self.p2]
        # Each kept edge's place among the kept ones (-1: dropped), in one pass.
        counted: np.ndarray = np.cumsum(keep, dtype=np.int32 if len(keep) < 2**31 else np.int64)
        found = int(counted[-1]) if len(counted) else 0
        if found != live:
            raise InvariantError(
                f"a Covasim layer has {live} edges where {found} were expected: something "
                "other than the gridgov driver edited it"
            )
        position = counted - 1
        position[~keep] = -1
        self.position = position
        self.live = live
        self.cut = None

    def reweight(self, betas: np.ndarray, factor: np.ndarray, changed: np.ndarray) -> None:
        """Rewrite ``betas`` (Covasim's, in place) where the compounds in ``changed`` are.

        Each edge's beta is its kept beta times the factors at its two ends
        (float32, in that order), whichever way it is computed; the edges of
        weight 0 are counted from what changed.

        Args:
            betas: the layer's betas, weighted for the previous factors.
            factor: the contact factor of each compound (float32).
            changed: the indices of the compounds whose factor changed.
        """
        import numpy as np

        starts1, starts2 = self.starts1, self.starts2
        one = starts1[changed + 1] - starts1[changed]
        two = starts2[changed + 1] - starts2[changed]
        if int(one.sum() + two.sum()) * 2 > len(self.p1):
            weighted = self.beta * (factor[self.c1] * factor[self.c2])
            betas[:] = weighted if self.position is None else weighted[self.position >= 0]
            self.cut = len(betas) - int(np.count_nonzero(betas))
            return
        # Each changed compound's edges, one slice by either end; an edge with
        # both ends changed is taken once (by its first end).
        is_changed = np.zeros(len(factor), dtype=bool)
        is_changed[changed] = True
        indices: list[np.ndarray] = []
        values: list[np.ndarray] = []
        for k in changed.tolist():
            here = factor[k]
            a, b = starts1[k], starts1[k + 1]
            if b > a:
                indices.append(self.by1[a:b])
                values.append(self.beta1[a:b] * (here * factor[self.other1[a:b]]))
            a, b = starts2[k], starts2[k + 1]
            if b > a:
                other = self.other2[a:b]
                single = ~is_changed[other]
                indices.append(self.by2[a:b][single])
                values.append(self.beta2[a:b][single] * (factor[other[single]] * here))
        if indices:
            index = np.concatenate(indices)
            value = np.concatenate(values)
            if self.position is not None:
                where = self.position[index]
                there = where >= 0
                index, value = where[there], value[there]
            if self.cut is not None:
                self.cut += int(np.count_nonzero(betas[index])) - int(np.count_nonzero(value))
            betas[index] = value
        if self.cut is None:
            self.cut = len(betas) - int(np.count_nonzero(betas))


def _index_by(ends: np.ndarray, compounds: int) -> tuple[np.ndarray, np.ndarray]:
    """Edge indices grouped by compound, and where each compound's group starts."""
    import numpy as np

    order = np.argsort(ends, kind="stable")
    if len(ends) < 2**31:
        order = order.astype(np.int32)
    starts = np.zeros(compounds + 1, dtype=np.int64)
    np.cumsum(np.bincount(ends, minlength=compounds), out=starts[1:])
    return order, starts


def _classes() -> tuple[type[Any], type[Any]]:
    """The intervention and recorder classes (defined once Covasim is imported)."""
    return _make_classes(*_covasim())


class _LayerWeights:
    """The contact weights of Covasim's layers, for gridgov's intervention (a mixin:
    the intervention's class is made once Covasim is imported)."""

    coupling: _Coupling | None
    sim: Any
    _orig: dict[str, dict[str, Any]]
    _weighted: dict[str, _WeightedLayer]

    def _layer(self, key: str) -> _WeightedLayer:
        """The weighting of layer ``key``, following the edges Covasim has now."""
        layer = self._weighted.get(key)
        if layer is None:
            coupling = self.coupling
            assert coupling is not None
            orig = self._orig[key]
            layer = _WeightedLayer(
                orig["p1"],
                orig["p2"],
                orig["beta"],
                coupling.map.compound,
                len(coupling.map.compounds),
            )
            self._weighted[key] = layer
        layer.follow(len(self.sim.networks[key].edges["p1"]), self.sim.people.alive.raw)
        return layer

    def apply_factors(self) -> None:
        """Weight the layers' edges by the contact factors at both ends (0: cut)."""
        coupling = self.coupling
        assert coupling is not None
        import numpy as np

        before = coupling.applied if coupling.applied is not None else np.ones_like(coupling.factor)
        changed = np.flatnonzero(before != coupling.factor)
        factor = coupling.factor.astype(np.float32)
        for key in self._orig:
            edges = self.sim.networks[key].edges
            self._layer(key).reweight(edges["beta"], factor, changed)
        everyone = bool((coupling.factor == 1).all())
        coupling.applied = None if everyone else coupling.factor.copy()
        coupling.edges_cut = sum(layer.cut or 0 for layer in self._weighted.values())


@functools.cache
def _make_classes(cv: ModuleType, ss: ModuleType) -> tuple[type[Any], type[Any]]:
    return _intervention_class(cv, ss), _recorder_class(ss)


def _intervention_class(cv: ModuleType, ss: ModuleType) -> type[Any]:
    import numpy as np

    class GridgovIntervention(_LayerWeights, cv.Intervention):  # type: ignore[misc,name-defined]
        """Applies the day's zones to Covasim: contact weights, mass tests, seed infections."""

        def __init__(self, layers: Sequence[str], test_delay: int, **kwargs: Any) -> None:
            super().__init__(name="gridgov_zones", label="gridgov zones", **kwargs)
            self.layers = tuple(layers)
            self.test_delay = test_delay
            self.coupling: _Coupling | None = None
            self._orig: dict[str, dict[str, np.ndarray]] = {}
            self._weighted: dict[str, _WeightedLayer] = {}
            self._mass_test = ss.bernoulli(p=0.0)

        def init_post(self) -> None:
            super().init_post()
            nets = self.sim.networks
            # The kept copy: what a lift gives back, exactly. Only the betas are
            # written to; Covasim replaces its edge arrays rather than editing
            # them, so the ends are kept by reference.
            self._orig = {
                key: {
                    "p1": nets[key].edges["p1"],
                    "p2": nets[key].edges["p2"],
                    "beta": nets[key].edges["beta"].copy(),
                }
                for key in self.layers
                if key in nets
            }

        def step(self) -> None:
            coupling = self.coupling
            if coupling is None:
                return
            covid = self.sim.diseases.covid
            applied = coupling.applied
            if (applied is None and not (coupling.factor == 1).all()) or (
                applied is not None and not np.array_equal(applied, coupling.factor)
            ):
                self.apply_factors()
            for agents, index_case in coupling.imports:
                fresh = agents[covid.susceptible.raw[agents]]
                if len(fresh):
                    covid.import_variant(ss.uids(fresh), 0)
                if index_case >= 0:
                    # The listed case is confirmed today: Covasim isolates it.
                    covid.date_diagnosed[ss.uids([index_case])] = self.ti
            coupling.imports = []
            coupling.tests_sealed = 0
            if coupling.test_prob.any():
                self.mass_test(coupling, covid)

        def mass_test(self, coupling: _Coupling, covid: Any) -> None:
            """Test the living, undiagnosed agents of compounds under mass testing."""
            # The agents of the compounds with a test chance, in uid order (not
            # a pass over every agent): the living, undiagnosed ones are tested.
            agents = coupling.agents_of(np.flatnonzero(coupling.test_prob))
            agents = agents[self.sim.people.alive.raw[agents] & ~covid.diagnosed.raw[agents]]
            candidates = ss.uids(agents)
            if len(candidates):
                chance = coupling.test_prob[coupling.map.compound[agents]]
                self._mass_test.set(p=chance)
                chosen = candidates[self._mass_test.rvs(candidates)]
                coupling.tests_sealed = len(chosen)
                covid.test(chosen, test_delay=self.test_delay)

    return GridgovIntervention


def _recorder_class(ss: ModuleType) -> type[Any]:
    class GovernanceRecorder(ss.Analyzer):  # type: ignore[misc,name-defined]
        """Writes the governance side of each day into the Covasim results."""

        #: The figures recorded each day (``sim.results.gridgov.<name>``).
        FIGURES = (
            ("compounds_sealed", "Compounds sealed"),
            ("compounds_sealed_unled", "Sealed compounds without a point lead"),
            ("compounds_controlled", "Compounds controlled"),
            ("agents_sealed", "Agents in sealed compounds"),
            ("agents_controlled", "Agents in controlled compounds"),
            ("registration_needed", "Registration seats needed (sealed)"),
            ("registration_filled", "Registration seats filled (sealed)"),
            ("tests_sealed", "Tests in sealed compounds"),
            ("cases_reported", "Cases reported to gridgov"),
            ("edges_cut", "Contacts cut"),
        )

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(name="gridgov", label="gridgov governance", **kwargs)
            self.coupling: _Coupling | None = None

        def init_results(self) -> None:
            super().init_results()
            self.define_results(
                *(
                    ss.Result(name, label=label, dtype=float, scale=False)
                    for name, label in self.FIGURES
                )
            )

        def step(self) -> None:
            coupling = self.coupling
            if coupling is None:
                return
            figures = {
                **coupling.governance,
                "tests_sealed": coupling.tests_sealed,
                "edges_cut": coupling.edges_cut,
            }
            for name, _ in self.FIGURES:
                self.results[name][self.ti] = figures.get(name, 0)

    return GovernanceRecorder


# ------------------------------------------------------------------ driver


class CovasimOutbreak:
    """Covasim as the outbreak driver (see the module docstring).

    Usable as ``run_scenario(scenario, driver=CovasimOutbreak)``. Covasim's
    day ``d`` runs in the step that starts at day ``d``, with the zones at its
    start; the agents diagnosed that day are reported at ``report_hour``.

    Args:
        city: the scenario's city.
        scenario: the scenario (its ``outbreak`` and ``run.days``).
        seed: the run's seed (Covasim's ``rand_seed`` and the agent map's shuffle).

    Raises:
        GridgovError: Covasim is not installed, the area is unknown or empty,
            or a listed case's compound is outside the area.
        ScenarioError: the options have problems (all of them).
    """

    def __init__(self, city: City, scenario: Scenario, seed: int) -> None:
        self._setup(city, scenario.outbreak, seed, scenario.run.days)

    @classmethod
    def from_spec(
        cls, city: City, spec: OutbreakSpec, seed: int, days: int | None = None
    ) -> CovasimOutbreak:
        """A driver from the outbreak spec alone (what ``make_driver`` has).

        Args:
            city: the city.
            spec: the outbreak spec.
            seed: the run's seed.
            days: days to set Covasim up for (default: the ``horizon_days`` option).
        """
        driver = cls.__new__(cls)
        driver._setup(city, spec, seed, days)
        return driver

    def _setup(self, city: City, spec: OutbreakSpec, seed: int, days: int | None) -> None:
        import numpy as np

        options = CovasimOptions.from_spec(spec)
        cv, _ = _covasim()
        intervention_class, recorder_class = _classes()
        area = options.area if options.area is not None else city.chain.city
        if area not in city.chain:
            raise _option_error("area", f"no unit {area!r} in the city ({city.name})")
        pop_size = options.pop_size
        if pop_size is None:
            pop_size = max(1, round(city.households(area) * PEOPLE_PER_HOUSEHOLD))
        self.days = days if days is not None else options.horizon_days
        self.options = options
        self.seed = seed
        self._controlled = (
            options.controlled_factor
            if options.controlled_factor is not None
            else spec.controlled_factor
        )
        self._np = np
        self._intervention = intervention_class(options.layers, options.test_delay)
        self._recorder = recorder_class()
        pars: dict[str, Any] = {
            **options.sim,
            "pop_size": pop_size,
            "pop_type": "hybrid",
            "pop_infected": options.pop_infected,
            "beta": options.beta,
            "rand_seed": seed,
            "n_days": self.days,
            "verbose": 0,
        }
        interventions = [self._intervention]
        if options.symp_prob or options.asymp_prob:
            interventions.insert(
                0,
                cv.test_prob(
                    symp_prob=options.symp_prob,
                    asymp_prob=options.asymp_prob,
                    test_delay=options.test_delay,
                ),
            )
        self.sim = cv.Sim(pars, interventions=interventions, analyzers=[self._recorder])
        self.sim.init()
        # The sim works on copies of the modules it was given: use its own.
        self._intervention = self.sim.interventions["gridgov_zones"]
        self._recorder = self.sim.analyzers["gridgov"]
        self.map = build_agent_map(city, self.sim.networks.h.cluster.raw, seed, area)
        coupling = _Coupling(self.map, options)
        self._intervention.coupling = coupling
        self._recorder.coupling = coupling
        self._coupling = coupling
        self._index = {c: i for i, c in enumerate(self.map.compounds)}
        outside = sorted({c.compound for c in spec.cases if c.compound not in self._index})
        if outside:
            raise ScenarioError(
                [
                    Problem(
                        "<scenario>",
                        0,
                        "outbreak.cases",
                        f"compound {outside[0]!r} is outside the modelled area "
                        f"{area!r} (or has no households)",
                    )
                ]
            )
        self._cases: list[SeedCase] = sorted(spec.cases, key=lambda c: (c.day, c.compound))
        self._next_case = 0
        self._rng = np.random.Generator(np.random.PCG64([seed, 1]))
        self._reported = np.zeros(self.map.agents, dtype=bool)
        self._pending: list[tuple[float, str]] = []
        self._agents_per = self.map.agents_per_compound()
        self._engine: Engine | None = None
        self._next_day = 0
        # Covasim's own seed infections (pop_infected) happen before day 0.
        self._seeded = int(np.count_nonzero(self.sim.diseases.covid.infected.raw))
        self._total = self._seeded
        self._new = 0
        self._cases_reported = 0

    # ------------------------------------------------------------ interface

    def bind(self, engine: Engine) -> None:
        """Read point leads and registration seats off ``engine`` from now on."""
        self._engine = engine

    @property
    def infections(self) -> int:
        """Infections so far (Covasim's, in agents; confirmed or not)."""
        return self._total

    @property
    def new_infections(self) -> int:
        """Infections during the last step."""
        return self._new

    def step(self, day: float, days: float, zones: Mapping[str, str]) -> list[tuple[str, float]]:
        """Run the Covasim days that start in [day, day + days); the cases confirmed meanwhile.

        Raises:
            GridgovError: the run goes past the days Covasim was set up for.
        """
        end = day + days
        out: list[tuple[str, float]] = []
        self._new = self._seeded if self._next_day == 0 else 0
        while self._next_day < end - 1e-9:
            today = self._next_day
            if today >= self.days:
                raise _option_error(
                    "horizon_days",
                    f"Covasim was set up for {self.days} days; day {today} asked for "
                    "(raise outbreak.options.horizon_days)",
                )
            self._run_day(today, zones)
            self._next_day += 1
        while self._next_case < len(self._cases) and self._cases[self._next_case].day < end:
            case = self._cases[self._next_case]
            self._next_case += 1
            out.append((case.compound, max(case.day, day)))
        due = [(c, t) for t, c in self._pending if t < end]
        self._pending = [(t, c) for t, c in self._pending if t >= end]
        out += [(c, max(t, day)) for c, t in due]
        out.sort(key=lambda pair: (pair[1], pair[0]))
        self._cases_reported += len(out)
        return out

    # ------------------------------------------------------------ one day

    def _run_day(self, today: int, zones: Mapping[str, str]) -> None:
        np = self._np
        coupling = self._coupling
        self._set_zones(zones)
        # Listed cases of today: infect their compound (the index case first).
        for case in self._cases[self._next_case :]:
            if math.floor(case.day) > today:
                break
            if math.floor(case.day) < today:
                continue
            agents = self.map.agents_in(case.compound)
            if not len(agents):
                continue
            take = min(len(agents), self.options.infections_per_case)
            chosen = np.sort(self._rng.choice(agents, size=take, replace=False))
            index_case = int(chosen[0])
            self._reported[index_case] = True  # reported as the listed case itself
            coupling.imports.append((chosen, index_case))
        self.sim.run_one_step()
        covid = self.sim.diseases.covid
        infected = int(covid.results["new_infections"][today])
        self._new += infected
        self._total += infected
        diagnosed = covid.diagnosed.raw[: self.map.agents]
        new = np.flatnonzero(diagnosed & ~self._reported)
        self._reported[new] = True
        if len(new):
            at = today + self.options.report_hour / 24
            per = np.bincount(self.map.compound[new], minlength=len(self.map.compounds))
            for index in np.flatnonzero(per):
                self._pending += [(at, self.map.compounds[index])] * int(per[index])
        self._recorder.results["cases_reported"][today] = len(new)

    def _set_zones(self, zones: Mapping[str, str]) -> None:
        """The day's contact factors and mass-test chances, from zones and engine."""
        np = self._np
        options = self.options
        coupling = self._coupling
        compounds = self.map.compounds
        zone = np.array([zones.get(c, "open") for c in compounds])
        sealed = zone == "sealed"
        controlled = zone == "controlled"
        factor = np.ones(len(compounds))
        factor[controlled] = self._controlled
        tests = np.zeros(len(compounds))
        engine = self._engine
        unled = needed = filled = 0
        if engine is None:
            factor[sealed] = 0.0
            tests[sealed] = options.sealed_test_prob
        else:
            # Only sealed compounds need the roster: their point lead (what
            # Engine.commander_of reads) and their registration seats.
            roster = engine.roster
            holder_of, posts = roster.holder_of, roster.posts
            for index in np.flatnonzero(sealed).tolist():
                compound = compounds[index]
                if holder_of(f"{compound}/point_lead"):
                    factor[index] = 0.0
                else:
                    unled += 1
                    factor[index] = options.unled_seal_factor
                post = posts.get(f"{compound}/registration")
                if post is not None:
                    seats = len(holder_of(post.id))
                    needed += post.capacity
                    filled += seats
                    tests[index] = options.sealed_test_prob * seats / post.capacity
        coupling.factor = factor
        coupling.test_prob = tests
        coupling.governance = {
            "compounds_sealed": int(sealed.sum()),
            "compounds_sealed_unled": unled,
            "compounds_controlled": int(controlled.sum()),
            "agents_sealed": int(self._agents_per[sealed].sum()),
            "agents_controlled": int(self._agents_per[controlled].sum()),
            "registration_needed": needed,
            "registration_filled": filled,
        }

    # ------------------------------------------------------------ results

    def daily(self) -> list[dict[str, float]]:
        """One row per Covasim day run: the epidemic and the governance side by side."""
        covid = self.sim.diseases.covid.results
        gridgov = self._recorder.results
        epidemic = (
            "new_infections",
            "n_infectious",
            "new_diagnoses",
            "new_tests",
            "n_quarantined",
            "n_isolated",
        )
        rows: list[dict[str, float]] = []
        for day in range(self._next_day):
            row: dict[str, float] = {"day": day}
            row.update({name: _plain(covid[name][day]) for name in epidemic})
            row.update({name: _plain(gridgov[name][day]) for name, _ in self._recorder.FIGURES})
            rows.append(row)
        return rows

    def summary(self) -> dict[str, Any]:
        """Figures of the run so far (JSON-friendly)."""
        rows = self.daily()

        def total(name: str) -> float:
            return sum(r[name] for r in rows)

        needed = total("registration_needed")
        return {
            "agents": self.map.agents,
            "area": self.options.area,
            "compounds": len(self.map.compounds),
            "days_run": self._next_day,
            "infections": self._total,
            "diagnoses": int(total("new_diagnoses")),
            "tests": int(total("new_tests")),
            "tests_sealed": int(total("tests_sealed")),
            "cases_reported": self._cases_reported,
            "peak_infectious": int(max((r["n_infectious"] for r in rows), default=0)),
            "peak_agents_sealed": int(max((r["agents_sealed"] for r in rows), default=0)),
            "agent_days_sealed": int(total("agents_sealed")),
            "compound_days_sealed_unled": int(total("compounds_sealed_unled")),
            "registration_fill_share": (
                round(total("registration_filled") / needed, 4) if needed else None
            ),
        }


def _plain(value: Any) -> float:
    """A numpy scalar as an int when whole, else a rounded float."""
    number = float(value)
    return int(number) if number.is_integer() else round(number, 6)


# ------------------------------------------------------------------ runs


@attrs.frozen
class CoupledRun:
    """What one coupled run gives: gridgov's run, and Covasim's side, small."""

    #: gridgov's daily metrics and summary.
    result: RunResult
    #: Covasim's days: the epidemic and the governance side by side (see
    #: :meth:`CovasimOutbreak.daily`).
    daily: tuple[Mapping[str, float], ...]
    #: Covasim's figures (see :meth:`CovasimOutbreak.summary`).
    covasim: Mapping[str, Any]


def run_coupled(
    scenario: Scenario, *, seed: int | None = None, city: City | None = None
) -> CoupledRun:
    """Run ``scenario`` with Covasim as the outbreak driver; small results only.

    Args:
        scenario: the scenario (its ``outbreak.options`` are the driver's).
        seed: the run's seed (default: the scenario's).
        city: the built city, when the caller has it.

    Returns:
        gridgov's :class:`~gridgov.sim.runner.RunResult` and Covasim's days and
        figures; the Covasim simulation itself is dropped.

    Raises:
        GridgovError: as :func:`~gridgov.sim.runner.run_scenario` and
            :class:`CovasimOutbreak`.
    """
    from gridgov.sim.runner import run_scenario

    made: list[CovasimOutbreak] = []

    def factory(city: City, scenario: Scenario, seed: int) -> CovasimOutbreak:
        made.append(CovasimOutbreak(city, scenario, seed))
        return made[-1]

    result = run_scenario(scenario, seed=seed, city=city, driver=factory)
    driver = made[0]
    return CoupledRun(result, tuple(driver.daily()), driver.summary())

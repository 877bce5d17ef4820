"""Outbreak drivers: where confirmed cases come from in a simulation.

A driver is anything with the small
:class:`~gridgov.sim.drivers.OutbreakDriver` interface: the runner tells it
the zones of the compounds at each step, and it answers with the cases
confirmed during that step (compound and time); the registry of
:mod:`gridgov.sim.drivers` builds the one a scenario names. The built-in
:class:`CompoundOutbreak` is a compound-level stochastic model, with no heavy
dependency beyond numpy:

* every infectious case puts *pressure* on its own compound, less on the other
  compounds of its grid and community, less again across its street and
  district;
* a sealed compound lets only ``sealed_factor`` of the pressure out or in, a
  controlled one ``controlled_factor``;
* new infections in a compound are Poisson with that pressure, times the share
  of its residents still susceptible;
* each infection is confirmed ``detection_delay_days`` later and reported to
  the engine then, and stays infectious for ``infectious_days``.

:class:`ReplayOutbreak` only replays the cases the scenario lists (from
``cases`` or a CSV). A Covasim adapter (:mod:`gridgov.sim.covasim`) plugs in
behind the same interface.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from gridgov.city import City
from gridgov.model import Level
from gridgov.sim.drivers import OutbreakDriver, make_driver
from gridgov.sim.scenario import OutbreakSpec, SeedCase

if TYPE_CHECKING:  # numpy is imported when a driver starts
    import numpy as np

    from gridgov.engine import Engine

__all__ = ["CompoundOutbreak", "OutbreakDriver", "ReplayOutbreak", "make_driver"]

#: People per household, to turn households into susceptible residents.
PEOPLE_PER_HOUSEHOLD = 2.1


class ReplayOutbreak:
    """Only the scenario's own cases, reported on their days."""

    def __init__(self, cases: Sequence[SeedCase]) -> None:
        self._cases = sorted(cases, key=lambda c: (c.day, c.compound))
        self._next = 0
        self._new = 0

    @classmethod
    def from_spec(cls, city: City, spec: OutbreakSpec, seed: int) -> ReplayOutbreak:
        """The driver the registry builds: the spec's cases (city and seed unused)."""
        return cls(spec.cases)

    def bind(self, engine: Engine) -> None:
        """Nothing to read off the engine."""

    def step(self, day: float, days: float, zones: Mapping[str, str]) -> list[tuple[str, float]]:
        """The listed cases whose day falls in [day, day + days)."""
        out: list[tuple[str, float]] = []
        while self._next < len(self._cases) and self._cases[self._next].day < day + days:
            case = self._cases[self._next]
            out.append((case.compound, max(case.day, day)))
            self._next += 1
        self._new = len(out)
        return out

    @property
    def infections(self) -> int:
        """Cases replayed so far."""
        return self._next

    @property
    def new_infections(self) -> int:
        """Cases replayed during the last step."""
        return self._new


class CompoundOutbreak:
    """The built-in compound-level stochastic outbreak (see the module docstring).

    Args:
        city: the city.
        spec: the scenario's outbreak parameters and seed cases.
        seed: the random seed (numpy's PCG64).
    """

    def __init__(self, city: City, spec: OutbreakSpec, seed: int) -> None:
        import numpy as np

        self.spec = spec
        self._np = np
        chain = city.chain
        self.compounds: list[str] = sorted(city.compounds)
        self._index = {c: i for i, c in enumerate(self.compounds)}
        count = len(self.compounds)

        def groups(level: Level) -> np.ndarray:
            labels: dict[str, int] = {}
            return np.array(
                [labels.setdefault(chain.ancestor(c, level), len(labels)) for c in self.compounds],
                dtype=np.int64,
            )

        self._community = groups(Level.COMMUNITY)
        self._street = groups(Level.STREET)
        self._district = groups(Level.DISTRICT)
        residents = np.array(
            [city.households(c) * PEOPLE_PER_HOUSEHOLD for c in self.compounds], dtype=float
        )
        self._susceptible = np.maximum(residents, 1.0)
        self._population = self._susceptible.copy()
        self._rng = np.random.Generator(np.random.PCG64(seed))
        # Infections by step of infection, kept while infectious; confirmations queued.
        self._infectious: list[tuple[float, np.ndarray]] = []
        self._pending: list[tuple[float, int]] = []  # (day confirmed, compound index)
        self._total = 0
        self._new = 0
        self._seeded = sorted(spec.cases, key=lambda c: (c.day, c.compound))
        self._next_seed = 0
        self._factor = {"sealed": spec.sealed_factor, "controlled": spec.controlled_factor}
        self._zeros = np.zeros(count)

    @classmethod
    def from_spec(cls, city: City, spec: OutbreakSpec, seed: int) -> CompoundOutbreak:
        """The driver the registry builds."""
        return cls(city, spec, seed)

    def bind(self, engine: Engine) -> None:
        """Nothing to read off the engine: the zones come with each step."""

    @property
    def infections(self) -> int:
        """Infections so far (confirmed or not)."""
        return self._total

    @property
    def new_infections(self) -> int:
        """Infections during the last step."""
        return self._new

    def step(self, day: float, days: float, zones: Mapping[str, str]) -> list[tuple[str, float]]:
        """Spread for one step, then return the confirmations that fall in it."""
        np = self._np
        spec = self.spec
        end = day + days
        new = self._zeros.copy()
        # Seed cases of the scenario: infected a detection delay before their day.
        while self._next_seed < len(self._seeded) and self._seeded[self._next_seed].day < end:
            case = self._seeded[self._next_seed]
            self._next_seed += 1
            index = self._index[case.compound]
            new[index] += 1
            self._pending.append((max(case.day, day), index))
        infectious = self._zeros.copy()
        self._infectious = [(d, v) for d, v in self._infectious if d > day - spec.infectious_days]
        for _, counts in self._infectious:
            infectious += counts
        if infectious.any():
            factor = np.array([self._factor.get(zones.get(c, "open"), 1.0) for c in self.compounds])
            out = infectious * factor
            within = spec.within_compound * infectious * factor
            community = np.bincount(self._community, weights=out)[self._community] - out
            street = np.bincount(self._street, weights=out)[self._street] - out - community
            district = (
                np.bincount(self._district, weights=out)[self._district] - out - community - street
            )
            pressure = within + factor * (
                spec.neighbour * community + spec.street * street + spec.district * district
            )
            share = self._susceptible / self._population
            drawn = self._rng.poisson(np.maximum(pressure * share * days, 0.0))
            drawn = np.minimum(drawn, np.floor(self._susceptible))
            new += drawn
            delay = spec.detection_delay_days
            for index in np.flatnonzero(drawn):
                for _ in range(int(drawn[index])):
                    # Infected somewhere in the step; confirmed a delay later.
                    infected = day + float(self._rng.random()) * days
                    self._pending.append((infected + delay, int(index)))
        self._susceptible = np.maximum(self._susceptible - new, 0.0)
        self._infectious.append((day, new))
        self._new = int(new.sum())
        self._total += self._new
        due = sorted((d, i) for d, i in self._pending if d < end)
        self._pending = [(d, i) for d, i in self._pending if d >= end]
        return [(self.compounds[i], d) for d, i in due]

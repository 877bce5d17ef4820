"""Places below the grid: residential compounds and buildings.

A *compound* (residential compound) is the unit that gets sealed; a *building*
is the unit a cadre takes charge of. Households are a count per building, so a
city of a million households needs tens of thousands of objects, not a million.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator
from typing import Any

import attrs

from gridgov.model._columns import Columns

__all__ = ["Building", "Buildings", "Compound", "Compounds"]


@attrs.frozen
class Compound:
    """A residential compound (or, in a village, a hamlet) of one community."""

    #: Unique id, e.g. ``230803007002-C01``.
    id: str
    #: Id of the community it belongs to.
    community: str
    #: A readable name.
    name: str = ""
    #: ``residential`` for an urban compound, ``hamlet`` for a rural one.
    kind: str = "residential"
    #: Number of entrances (checkpoint posts when it is sealed).
    entrances: int = attrs.field(default=1, validator=attrs.validators.ge(1))


@attrs.frozen
class Building:
    """A building (or, in a village, a row of houses) and its households."""

    #: Unique id, e.g. ``230803007002-C01-B07``.
    id: str
    #: Id of the grid that covers it: every building is in exactly one grid.
    grid: str
    #: Id of its compound, or None for premises outside any compound (an
    #: enterprise, hospital or mall with an exclusive grid).
    compound: str | None
    #: Number of households living in it.
    households: int = attrs.field(validator=attrs.validators.ge(0))


class Compounds(Columns[Compound]):
    """Every compound of a city by id: a read-only mapping kept column by column.

    As :class:`gridgov.model.People`: a :class:`Compound` is made when one is
    asked for (equal to the one the city was built with, not the same
    object); the columns serve code that walks every compound.

    Args:
        ids, communities, names, kinds, entrances: one value per compound, in
            the city's order (the fields of :class:`Compound`).

    Raises:
        ValueError: the columns are not all of the same length.
    """

    __slots__ = ("communities", "entrances", "ids", "kinds", "names")

    #: Compound ids, in the city's order.
    ids: tuple[str, ...]
    #: Each compound's community.
    communities: tuple[str, ...]
    #: Each compound's name.
    names: tuple[str, ...]
    #: Each compound's kind (``residential`` or ``hamlet``).
    kinds: tuple[str, ...]
    #: Each compound's entrances.
    entrances: tuple[int, ...]

    def __init__(
        self,
        ids: Iterable[str] = (),
        communities: Iterable[str] = (),
        names: Iterable[str] = (),
        kinds: Iterable[str] = (),
        entrances: Iterable[int] = (),
    ) -> None:
        self.ids = tuple(ids)
        self.communities = tuple(communities)
        self.names = tuple(names)
        self.kinds = tuple(kinds)
        self.entrances = tuple(entrances)
        self._check_lengths("compound")
        if self.entrances and min(self.entrances) < 1:
            raise ValueError("entrances must be 1 or more")
        self._index_ids(self.ids)

    @classmethod
    def of(cls, compounds: Iterable[Compound] | Compounds) -> Compounds:
        """The compounds of ``compounds`` (Compound objects), in that order."""
        if isinstance(compounds, Compounds):
            return compounds
        every = list(compounds)
        return cls(
            map(_ID, every),
            map(_COMMUNITY, every),
            map(_NAME, every),
            map(_KIND, every),
            map(_ENTRANCES, every),
        )

    def community(self, compound: str) -> str:
        """The community of ``compound`` (KeyError for an unknown id)."""
        return self.communities[self._index[compound]]

    def _make(self, i: int) -> Compound:
        return Compound(
            self.ids[i], self.communities[i], self.names[i], self.kinds[i], self.entrances[i]
        )

    def _all(self) -> Iterator[Compound]:
        return map(Compound, self.ids, self.communities, self.names, self.kinds, self.entrances)

    def _columns(self) -> tuple[tuple[Any, ...], ...]:
        return (self.ids, self.communities, self.names, self.kinds, self.entrances)


class Buildings(Columns[Building]):
    """Every building of a city by id: a read-only mapping kept column by column.

    As :class:`gridgov.model.People`: a city has tens of thousands of
    buildings, kept as one tuple per field (strings and ints, which Python's
    cyclic garbage collector does not walk one by one) rather than one object
    per building; a :class:`Building` is made when one is asked for (equal to
    the one the city was built with, not the same object). The columns are
    public for code that walks every building, and :meth:`grid`,
    :meth:`compound` and :meth:`households_of` read one field without making
    a building.

    Args:
        ids, grids, compounds, households: one value per building, in the
            city's order (the fields of :class:`Building`).

    Raises:
        ValueError: the columns are not all of the same length.
    """

    __slots__ = ("compounds", "grids", "households", "ids")

    #: Building ids, in the city's order.
    ids: tuple[str, ...]
    #: Each building's grid.
    grids: tuple[str, ...]
    #: Each building's compound, or None.
    compounds: tuple[str | None, ...]
    #: Each building's households.
    households: tuple[int, ...]

    def __init__(
        self,
        ids: Iterable[str] = (),
        grids: Iterable[str] = (),
        compounds: Iterable[str | None] = (),
        households: Iterable[int] = (),
    ) -> None:
        self.ids = tuple(ids)
        self.grids = tuple(grids)
        self.compounds = tuple(compounds)
        self.households = tuple(households)
        self._check_lengths("building")
        self._index_ids(self.ids)

    @classmethod
    def of(cls, buildings: Iterable[Building] | Buildings) -> Buildings:
        """The buildings of ``buildings`` (Building objects), in that order."""
        if isinstance(buildings, Buildings):
            return buildings
        every = list(buildings)
        return cls(
            map(_ID, every), map(_GRID, every), map(_COMPOUND, every), map(_HOUSEHOLDS, every)
        )

    def grid(self, building: str) -> str:
        """The grid of ``building`` (KeyError for an unknown id)."""
        return self.grids[self._index[building]]

    def compound(self, building: str) -> str | None:
        """The compound of ``building``, or None (KeyError for an unknown id)."""
        return self.compounds[self._index[building]]

    def households_of(self, building: str) -> int:
        """The households of ``building`` (KeyError for an unknown id)."""
        return self.households[self._index[building]]

    def _make(self, i: int) -> Building:
        return Building(self.ids[i], self.grids[i], self.compounds[i], self.households[i])

    def _all(self) -> Iterator[Building]:
        return map(Building, self.ids, self.grids, self.compounds, self.households)

    def _columns(self) -> tuple[tuple[Any, ...], ...]:
        return (self.ids, self.grids, self.compounds, self.households)


_ID = operator.attrgetter("id")
_GRID = operator.attrgetter("grid")
_COMPOUND = operator.attrgetter("compound")
_HOUSEHOLDS = operator.attrgetter("households")
_COMMUNITY = operator.attrgetter("community")
_NAME = operator.attrgetter("name")
_KIND = operator.attrgetter("kind")
_ENTRANCES = operator.attrgetter("entrances")

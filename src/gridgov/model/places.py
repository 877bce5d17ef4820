"""Places below the grid: residential compounds and buildings.

A *compound* (residential compound) is the unit that gets sealed; a *building*
is the unit a cadre takes charge of. Households are a count per building, so a
city of a million households needs tens of thousands of objects, not a million.
"""

from __future__ import annotations

import operator
from collections.abc import ItemsView, Iterable, Iterator, Mapping, ValuesView
from typing import Any

import attrs

__all__ = ["Building", "Buildings", "Compound"]


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


class Buildings(Mapping[str, Building]):
    """Every building of a city by id: a read-only mapping kept column by column.

    As :class:`gridgov.model.People`: a city has tens of thousands of
    buildings, kept as one tuple per field (strings and ints, which Python's
    cyclic garbage collector does not walk one by one) rather than one object
    per building; a :class:`Building` is made when one is asked for (equal to
    the one the city was built with, not the same object). The columns are
    public for code that walks every building, and :meth:`grid`,
    :meth:`compound` and :meth:`households` read one field without making a
    building.

    Args:
        ids, grids, compounds, households: one value per building, in the
            city's order (the fields of :class:`Building`).

    Raises:
        ValueError: the columns are not all of the same length.
    """

    __slots__ = ("_index", "compounds", "grids", "households", "ids")

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
        count = len(self.ids)
        if any(len(c) != count for c in (self.grids, self.compounds, self.households)):
            raise ValueError("every column of Buildings needs one value per building")
        # A dict of strings to ints holds nothing the collector walks.
        self._index: dict[str, int] = dict(zip(self.ids, range(count), strict=True))

    @classmethod
    def of(cls, buildings: Iterable[Building] | Buildings) -> Buildings:
        """The buildings of ``buildings`` (Building objects), in that order."""
        if isinstance(buildings, Buildings):
            return buildings
        every = list(buildings)
        return cls(
            map(_ID, every), map(_GRID, every), map(_COMPOUND, every), map(_HOUSEHOLDS, every)
        )

    def duplicates(self) -> set[str]:
        """Ids given to more than one building (empty for a city's buildings)."""
        if len(self._index) == len(self.ids):
            return set()
        seen: set[str] = set()
        return {i for i in self.ids if i in seen or seen.add(i)}  # type: ignore[func-returns-value]

    # -------------------------------------------------------------- mapping

    def __getitem__(self, building: str) -> Building:
        return self._make(self._index[building])

    def __contains__(self, building: object) -> bool:
        return building in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def get(self, building: str, default: Any = None) -> Any:
        """The building with this id, made now, or ``default``."""
        index = self._index.get(building)
        return default if index is None else self._make(index)

    def values(self) -> ValuesView[Building]:
        """Every Building, made as the view is walked, in the city\'s order."""
        return _Values(self)

    def items(self) -> ItemsView[str, Building]:
        """(id, Building) pairs, made as the view is walked, in the city\'s order."""
        return _Items(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Buildings):
            return self._columns() == other._columns()
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Buildings: {len(self)} buildings>"

    # -------------------------------------------------------------- one field

    def grid(self, building: str) -> str:
        """The grid of ``building`` (KeyError for an unknown id)."""
        return self.grids[self._index[building]]

    def compound(self, building: str) -> str | None:
        """The compound of ``building``, or None (KeyError for an unknown id)."""
        return self.compounds[self._index[building]]

    def households_of(self, building: str) -> int:
        """The households of ``building`` (KeyError for an unknown id)."""
        return self.households[self._index[building]]

    # -------------------------------------------------------------- private

    def _make(self, i: int) -> Building:
        return Building(self.ids[i], self.grids[i], self.compounds[i], self.households[i])

    def _all(self) -> Iterator[Building]:
        return map(Building, self.ids, self.grids, self.compounds, self.households)

    def _columns(self) -> tuple[tuple[Any, ...], ...]:
        return (self.ids, self.grids, self.compounds, self.households)


class _Values(ValuesView[Building]):
    __slots__ = ()
    _mapping: Buildings

    def __iter__(self) -> Iterator[Building]:
        return self._mapping._all()


class _Items(ItemsView[str, Building]):
    __slots__ = ()
    _mapping: Buildings

    def __iter__(self) -> Iterator[tuple[str, Building]]:
        buildings = self._mapping
        return zip(buildings.ids, buildings._all(), strict=True)


_ID = operator.attrgetter("id")
_GRID = operator.attrgetter("grid")
_COMPOUND = operator.attrgetter("compound")
_HOUSEHOLDS = operator.attrgetter("households")

"""Enterprises, institutions and agencies, and the big party committee.

The *big party committee* of a community is the community's party
organisation together with the party organisations of the enterprises and
institutions located in it (its co-building units). In normal times they
co-build; in an emergency their members join the community's response pool.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator
from typing import Any

import attrs

from gridgov.model._columns import Columns

__all__ = ["BigPartyCommittee", "Organisation", "Organisations"]


@attrs.frozen
class Organisation:
    """An enterprise, institution or agency with its party organisation."""

    #: Unique id, e.g. ``230803007002-O03``.
    id: str
    #: ``enterprise``, ``institution``, ``agency``, ``hospital`` or ``mall``.
    kind: str
    #: Id of the community it sits in.
    community: str
    #: A readable name.
    name: str = ""
    #: Number of staff.
    staff: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    #: Id of its exclusive grid, if it has one.
    exclusive_grid: str | None = None


@attrs.frozen
class BigPartyCommittee:
    """A community's party organisation and its co-building units."""

    #: Id of the community.
    community: str
    #: Ids of the co-building organisations, sorted.
    members: tuple[str, ...] = ()


class Organisations(Columns[Organisation]):
    """Every organisation of a city by id: a read-only mapping kept column by column.

    As :class:`gridgov.model.People`: an :class:`Organisation` is made when
    one is asked for (equal to the one the city was built with, not the same
    object); the columns serve code that walks every organisation.

    Args:
        ids, kinds, communities, names, staff, exclusive_grids: one value per
            organisation, in the city's order (the fields of
            :class:`Organisation`).

    Raises:
        ValueError: the columns are not all of the same length.
    """

    __slots__ = ("communities", "exclusive_grids", "ids", "kinds", "names", "staff")

    #: Organisation ids, in the city's order.
    ids: tuple[str, ...]
    #: Each organisation's kind.
    kinds: tuple[str, ...]
    #: Each organisation's community.
    communities: tuple[str, ...]
    #: Each organisation's name.
    names: tuple[str, ...]
    #: Each organisation's staff.
    staff: tuple[int, ...]
    #: Each organisation's exclusive grid, or None.
    exclusive_grids: tuple[str | None, ...]

    def __init__(
        self,
        ids: Iterable[str] = (),
        kinds: Iterable[str] = (),
        communities: Iterable[str] = (),
        names: Iterable[str] = (),
        staff: Iterable[int] = (),
        exclusive_grids: Iterable[str | None] = (),
    ) -> None:
        self.ids = tuple(ids)
        self.kinds = tuple(kinds)
        self.communities = tuple(communities)
        self.names = tuple(names)
        self.staff = tuple(staff)
        self.exclusive_grids = tuple(exclusive_grids)
        self._check_lengths("organisation")
        if self.staff and min(self.staff) < 0:
            raise ValueError("staff must be 0 or more")
        self._index_ids(self.ids)

    @classmethod
    def of(cls, organisations: Iterable[Organisation] | Organisations) -> Organisations:
        """The organisations of ``organisations`` (Organisation objects), in that order."""
        if isinstance(organisations, Organisations):
            return organisations
        every = list(organisations)
        return cls(
            map(_ID, every),
            map(_KIND, every),
            map(_COMMUNITY, every),
            map(_NAME, every),
            map(_STAFF, every),
            map(_EXCLUSIVE, every),
        )

    def _make(self, i: int) -> Organisation:
        return Organisation(
            self.ids[i],
            self.kinds[i],
            self.communities[i],
            self.names[i],
            self.staff[i],
            self.exclusive_grids[i],
        )

    def _all(self) -> Iterator[Organisation]:
        return map(
            Organisation,
            self.ids,
            self.kinds,
            self.communities,
            self.names,
            self.staff,
            self.exclusive_grids,
        )

    def _columns(self) -> tuple[tuple[Any, ...], ...]:
        return (
            self.ids,
            self.kinds,
            self.communities,
            self.names,
            self.staff,
            self.exclusive_grids,
        )


_ID = operator.attrgetter("id")
_KIND = operator.attrgetter("kind")
_COMMUNITY = operator.attrgetter("community")
_NAME = operator.attrgetter("name")
_STAFF = operator.attrgetter("staff")
_EXCLUSIVE = operator.attrgetter("exclusive_grid")

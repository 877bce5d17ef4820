"""Enterprises, institutions and agencies, and the big party committee.

The *big party committee* of a community is the community's party
organisation together with the party organisations of the enterprises and
institutions located in it (its co-building units). In normal times they
co-build; in an emergency their members join the community's response pool.
"""

from __future__ import annotations

import attrs

__all__ = ["BigPartyCommittee", "Organisation"]


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

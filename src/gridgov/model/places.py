"""Places below the grid: residential compounds and buildings.

A *compound* (residential compound) is the unit that gets sealed; a *building*
is the unit a cadre takes charge of. Households are a count per building, so a
city of a million households needs tens of thousands of objects, not a million.
"""

from __future__ import annotations

import attrs

__all__ = ["Building", "Compound"]


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

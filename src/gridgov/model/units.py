"""Units of the command chain ("one net"): city, district, street, community, grid.

A *unit* is a node of the chain of command. Each level leads the one below:
the city's party committee commands, the district organises, the street (or
township) drives, the community (or village) party organisation leads, and the
grid party branch carries out. Residential compounds hang under their
community as the unit that gets sealed (see :mod:`gridgov.model.places`).
"""

from __future__ import annotations

import enum

import attrs

__all__ = ["GridKind", "Level", "Unit"]


class Level(enum.StrEnum):
    """A level of the command chain, from the top down.

    ``compound`` is not a level of command but a *scope*: measures can be
    declared on a compound as on any unit, so it ranks below ``grid``.
    """

    CITY = "city"
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    GRID = "grid"
    COMPOUND = "compound"

    @property
    def rank(self) -> int:
        """0 for the city, growing downwards."""
        return _RANK[self]

    @property
    def commander(self) -> Level | None:
        """The level whose units command units of this level (None for the city)."""
        return _COMMANDER[self]

    @classmethod
    def parse(cls, value: str) -> Level:
        """Return the level named ``value``.

        Raises:
            ValueError: ``value`` names no level.
        """
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(m.value for m in cls)
            raise ValueError(f"unknown level {value!r} (expected one of: {names})") from None


_RANK = {level: i for i, level in enumerate(Level)}
_COMMANDER: dict[Level, Level | None] = {
    Level.CITY: None,
    Level.DISTRICT: Level.CITY,
    Level.STREET: Level.DISTRICT,
    Level.COMMUNITY: Level.STREET,
    Level.GRID: Level.COMMUNITY,
    # Compounds are physical: a large compound is covered by several grids and
    # a grid may cover parts of several compounds, so a compound answers to its
    # community, not to one grid.
    Level.COMPOUND: Level.COMMUNITY,
}


class GridKind(enum.StrEnum):
    """The published kinds of grid."""

    #: About 200 households.
    URBAN = "urban"
    #: About 50 households.
    RURAL = "rural"
    #: A large enterprise, hospital or shopping mall of its own.
    EXCLUSIVE = "exclusive"


@attrs.frozen
class Unit:
    """One node of the command chain."""

    #: Unique id, e.g. ``230803007002`` or ``230803007002-G003``.
    id: str = attrs.field(validator=attrs.validators.instance_of(str))
    #: The level of the chain this unit sits at.
    level: Level = attrs.field(converter=Level)
    #: A readable name.
    name: str = ""
    #: Id of the commanding unit; None only for the city.
    parent: str | None = None
    #: The 12-digit administrative code (GB/T 2260 + street + community digits),
    #: "" where the unit has none of its own (grids, compounds).
    code: str = ""
    #: Sub-kind: district ``urban_district``/``county``/``county_city``; street
    #: ``street``/``town``/``township``, or a special township-level unit
    #: ``farm``/``forestry``/``prison``/``development_zone``/``direct`` (see
    #: :mod:`gridgov.presets.jiamusi`); community ``community``/``village``;
    #: grid ``urban``/``rural``/``exclusive`` (required: a grid of any other
    #: kind is refused by :meth:`gridgov.City.build`).
    kind: str = ""

"""Depots: where the goods for sealed households come from.

A *depot* is a supermarket, pharmacy, grain-and-oil store, the city's
emergency warehouse or a point collecting donated goods. It holds a stock of
goods per supply category (``food``, ``medicine``, ``daily_goods`` by default;
the categories are configurable) in kilograms, can send out at most its
*dispatch capacity* a day (its vehicles and staff, all categories together),
and is refilled by its *restock* each day. Shops serve their own district;
the city's warehouse and donated stock serve the whole city.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

__all__ = ["DEPOT_KINDS", "SERVES", "Depot"]

#: Kinds of depot a city may have.
DEPOT_KINDS = ("supermarket", "pharmacy", "grain_store", "warehouse", "donation")

#: How far a depot ships: ``district`` (its own district) or ``city`` (anywhere).
SERVES = ("district", "city")


def _kg_map(value: Mapping[str, int]) -> dict[str, int]:
    # Categories with nothing are left out, so equal holdings compare equal.
    return {str(k): int(v) for k, v in sorted(dict(value).items()) if v}


def _check_kg(instance: object, attribute: attrs.Attribute[object], value: object) -> None:
    assert isinstance(value, dict)
    for category, kg in value.items():
        if kg < 0:
            raise ValueError(f"{attribute.name}[{category!r}] must be 0 or more kg, got {kg}")


@attrs.frozen
class Depot:
    """One depot and what it holds at the start."""

    #: Unique id, e.g. ``230803-D007``.
    id: str
    #: One of :data:`DEPOT_KINDS`.
    kind: str = attrs.field(validator=attrs.validators.in_(DEPOT_KINDS))
    #: The unit it sits at: a street, a community (it ships from its street),
    #: a district or the city.
    unit: str
    #: A readable name.
    name: str = ""
    #: Kilograms on hand per supply category at the start.
    stock: Mapping[str, int] = attrs.field(factory=dict, converter=_kg_map, validator=_check_kg)
    #: Kilograms it can send out per day, all categories together.
    dispatch: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    #: Kilograms added to its stock each day, per category.
    restock: Mapping[str, int] = attrs.field(factory=dict, converter=_kg_map, validator=_check_kg)
    #: ``district`` (ships within its district) or ``city`` (anywhere).
    serves: str = attrs.field(default="district", validator=attrs.validators.in_(SERVES))
    #: Id of the organisation that runs it, if it is one of the city's.
    organisation: str | None = None

"""The small preset: one district, a few hundred households, for tests and examples.

One district with two streets: an urban street of two communities (three
urban grids, four compounds, one exclusive grid of a large organisation) and a township
with one village (two rural grids, two hamlets). Small enough to read whole,
large enough to have a street with two communities and a second street to be
kept out of its jurisdiction.
"""

from __future__ import annotations

from gridgov.city import City
from gridgov.presets._builder import CityBuilder

__all__ = ["small"]


def small(seed: int = 0) -> City:
    """Build the small preset.

    Args:
        seed: random seed; the same seed gives the same city bit for bit.
    """
    builder = CityBuilder("Smalltown", "990100", seed)
    district = builder.district("990101", "Riverside District", "urban_district")
    street = builder.street(district, 1, "Riverside Street 1", "street")
    east = builder.community(street, 1, "East Community", "community")
    builder.urban_community(east, grids=2, compounds=3, exclusive=1)
    west = builder.community(street, 2, "West Community", "community")
    builder.urban_community(west, grids=1, compounds=1, exclusive=0)
    township = builder.street(district, 201, "Hill Township", "township")
    village = builder.community(township, 201, "Hill Village", "village")
    builder.village(village, grids=2, hamlets=2)
    builder.staff(
        grid_workers=16,
        cadres_per_office={"city": 4, "district": 6, "street": 4, "community": 4, "village": 2},
        member_rate={"community": 0.05, "village": 0.02},
        volunteer_rate=0.02,
        volunteer_bases=1,
    )
    return builder.build()

"""The Jiamusi preset: the real administrative shape, the published figures.

Jiamusi (Heilongjiang) has four urban districts, three counties and three
county-level cities (GB/T 2260 codes below). The preset lays out streets and
townships, communities and villages in plausible numbers, each with a 12-digit
administrative code, and reproduces the published figures exactly:

* 8,886 grids = 4,148 urban + 4,044 rural + 694 exclusive;
* 37,762 grid workers (1 full-time per grid, 1 professional per urban or
  exclusive grid, the rest part-time);
* about 1.03 million households;
* exactly 652 residential compounds in the urban streets of the four urban
  districts (the compounds sealed on 17 September); county towns have
  compounds of their own, villages have hamlets;
* enough cadres and in-service members in the urban districts to staff the
  17 September response (652 point leads, 4,000+ building leads, 10,000+
  deployed members).

Streets and communities are synthetic; the district codes and names are real.

A megacity: ``scale`` above 1 (up to :data:`MAX_SCALE`) tiles the ten
divisions ``ceil(scale)`` times and shares ``scale`` times the published
figures over them. Tile 0 is the real Jiamusi (its codes, its urban area);
each further tile repeats the ten divisions under new district codes, one
block of ten per tile in their order above: tile 1 is 230830-230839, tile 2
230840-230849, tile 3 230850-230859, tile 4 230860-230869, tile 5
230870-230879, tile 6 230890-230899 (the blocks no real code uses), named
like the originals with the tile's number (``Xiangyang District 2``). At
scale 1 or below nothing changes: the same seed gives the same city.
"""

from __future__ import annotations

import math

from gridgov._gc import gc_paused
from gridgov.city import City
from gridgov.errors import PresetError
from gridgov.presets._builder import CityBuilder, allocate

__all__ = ["MAX_SCALE", "MIN_SCALE", "PUBLISHED", "URBAN_AREA", "URBAN_DISTRICTS", "jiamusi"]

#: The published figures the preset reproduces at scale 1.
PUBLISHED = {
    "grids": {"urban": 4148, "rural": 4044, "exclusive": 694, "total": 8886},
    "grid_workers": 37762,
    "urban_compounds": 652,
    "point_leads": 652,
    "building_leads": 4000,
    "deployed_members": 10000,
}

#: Codes of the four urban districts ("the city's urban districts").
URBAN_DISTRICTS = ("230803", "230804", "230805", "230811")

#: The urban area sealed on 17 September: the urban streets of the four urban
#: districts (Jiao District's rural townships are outside it). Its compounds
#: are the 652 of the published figures.
URBAN_AREA = tuple(
    f"{district}{street:03d}"
    for district, streets in (("230803", 8), ("230804", 6), ("230805", 6), ("230811", 4))
    for street in range(1, streets + 1)
)

# code, name, kind, urban streets, county-town share, townships
_DIVISIONS: tuple[tuple[str, str, str, int, float, int], ...] = (
    ("230803", "Xiangyang District", "urban_district", 8, 0.0, 0),
    ("230804", "Qianjin District", "urban_district", 6, 0.0, 0),
    ("230805", "Dongfeng District", "urban_district", 6, 0.0, 0),
    ("230811", "Jiao District", "urban_district", 4, 0.0, 9),
    ("230822", "Huanan County", "county", 0, 0.20, 9),
    ("230826", "Huachuan County", "county", 0, 0.13, 8),
    ("230828", "Tangyuan County", "county", 0, 0.14, 8),
    ("230881", "Tongjiang", "county_city", 0, 0.12, 8),
    ("230882", "Fujin", "county_city", 0, 0.27, 10),
    ("230883", "Fuyuan", "county_city", 0, 0.14, 7),
)

#: The smallest scale at which every township still gets a rural grid.
MIN_SCALE = 0.05

#: District-code blocks of the tiles beyond the first (two digits after 2308 = block + index).
_TILE_BLOCKS = (30, 40, 50, 60, 70, 90)

#: The largest scale: the real divisions and one tile per free block of codes.
MAX_SCALE = 1 + len(_TILE_BLOCKS)

_URBAN_DISTRICT_GRIDS = 2600  # of the 4,148 urban grids; the rest are in county towns


def jiamusi(seed: int = 0, scale: float = 1.0) -> City:
    """Build the synthetic Jiamusi.

    Args:
        seed: random seed; the same seed gives the same city bit for bit.
        scale: share of the published size (grids, compounds, people); 1.0
            reproduces the published figures exactly; above 1 (up to
            :data:`MAX_SCALE`) a megacity of ``ceil(scale)`` tiles of the
            ten divisions under new codes (see the module docstring).

    Raises:
        PresetError: ``scale`` is not in [MIN_SCALE, MAX_SCALE].
    """
    with gc_paused():
        return _jiamusi(seed, scale)


def _jiamusi(seed: int, scale: float) -> City:
    """The build itself, with garbage collection paused by :func:`jiamusi`."""
    if not MIN_SCALE <= scale <= MAX_SCALE:
        raise PresetError(
            f"scale must be in [{MIN_SCALE}, {MAX_SCALE}], got {scale} (below {MIN_SCALE} the "
            f"townships would have no rural grid to share; above {MAX_SCALE} the tiles run "
            "out of district codes)"
        )
    tiles = max(1, math.ceil(scale))

    def scaled(n: int) -> int:
        return max(1, round(n * scale))

    builder = CityBuilder("Jiamusi", "230800", seed)
    rng = builder.rng
    urban_grids = scaled(PUBLISHED["grids"]["urban"])  # type: ignore[index]
    rural_grids = scaled(PUBLISHED["grids"]["rural"])  # type: ignore[index]
    exclusive_grids = scaled(PUBLISHED["grids"]["exclusive"])  # type: ignore[index]
    district_urban = scaled(_URBAN_DISTRICT_GRIDS)
    town_urban = urban_grids - district_urban

    # Lay out districts and streets; grids are shared out by weights drawn here.
    urban_streets: list[str] = []
    towns: list[str] = []
    townships: list[str] = []
    town_weights: list[float] = []
    for tile, (code, name, kind, n_streets, town_share, n_townships) in (
        (t, division) for t in range(tiles) for division in _DIVISIONS
    ):
        if tile:
            block = _TILE_BLOCKS[tile - 1] + _DIVISIONS.index(
                (code, name, kind, n_streets, town_share, n_townships)
            )
            code = f"{code[:4]}{block:02d}"
            name = f"{name} {tile + 1}"
        district = builder.district(code, name, kind)
        short = name.split()[0]
        for i in range(n_streets):
            urban_streets.append(
                builder.street(district, i + 1, f"{short} Street {i + 1}", "street")
            )
        if town_share:
            towns.append(builder.street(district, 100, f"{short} Town", "town"))
            town_weights.append(town_share)
        for i in range(n_townships):
            townships.append(
                builder.street(district, 200 + i + 1, f"{short} Township {i + 1}", "township")
            )

    street_grids = allocate(district_urban, [rng.uniform(0.7, 1.3) for _ in urban_streets], 1)
    town_grids = allocate(town_urban, town_weights, 1)
    township_grids = allocate(rural_grids, [rng.uniform(0.7, 1.3) for _ in townships], 1)

    # Communities of the urban streets and towns, with their urban grids.
    urban_communities: list[tuple[str, int, bool]] = []  # (street, grids, in urban district)
    for street, grids in zip(urban_streets, street_grids, strict=True):
        urban_communities.extend(_split_street(rng, street, grids, 8, 12, True))
    for town, grids in zip(towns, town_grids, strict=True):
        urban_communities.extend(_split_street(rng, town, grids, 8, 12, False))
    district_ones = [(s, g) for s, g, urban in urban_communities if urban]
    if len(district_ones) > scaled(PUBLISHED["urban_compounds"]):  # type: ignore[arg-type]
        raise PresetError(f"scale {scale} leaves fewer compounds than urban communities")
    compounds = allocate(
        scaled(PUBLISHED["urban_compounds"]),  # type: ignore[arg-type]
        [g for _, g in district_ones],
        1,
    )
    exclusive = allocate(exclusive_grids, [g for _, g, _ in urban_communities])
    numbers: dict[str, int] = {}
    district_iter = iter(compounds)
    for (street, grids, urban), n_exclusive in zip(urban_communities, exclusive, strict=True):
        numbers[street] = numbers.get(street, 0) + 1
        n = numbers[street]
        community = builder.community(street, n, f"Community {street[-3:]}-{n}", "community")
        n_compounds = next(district_iter) if urban else max(1, round(grids / 4))
        builder.urban_community(community, grids, n_compounds, n_exclusive)

    # Villages of the townships, with their rural grids and hamlets.
    for township, grids in zip(townships, township_grids, strict=True):
        for i, (_, village_grids, _) in enumerate(_split_street(rng, township, grids, 4, 8, False)):
            village = builder.community(
                township, 200 + i + 1, f"Village {township[-3:]}-{i + 1}", "village"
            )
            builder.village(village, village_grids, rng.randint(1, 3))

    builder.staff(
        grid_workers=scaled(PUBLISHED["grid_workers"]),  # type: ignore[arg-type]
        cadres_per_office={
            "city": 300,
            "district": 100,
            "street": 30,
            "community": 6,
            "village": 3,
        },
        member_rate={"community": 0.04, "village": 0.012},
        volunteer_rate=0.01,
        volunteer_bases=23,
    )
    return builder.build()


def _split_street(
    rng: object, street: str, grids: int, low: int, high: int, urban: bool
) -> list[tuple[str, int, bool]]:
    """Cut a street's grids into communities of ``low``..``high`` grids each."""
    import random

    assert isinstance(rng, random.Random)
    count = max(1, round(grids / rng.uniform(low, high)))
    shares = allocate(grids, [rng.uniform(0.6, 1.4) for _ in range(count)], 1)
    return [(street, share, urban) for share in shares]

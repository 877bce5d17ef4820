"""The Jiamusi preset: the real administrative divisions, the published figures.

Jiamusi (Heilongjiang, 佳木斯市, 230800) has four urban districts, three
counties and three county-level cities, and below them 138 township-level
divisions: the National Bureau of Statistics' list of 2022
(``gridgov/data/jiamusi-townships-2022.csv``: code, Chinese name, district).
The preset takes them all, with their official codes and names (districts
too: 向阳区, 前进区, ...), lays out communities and villages below them
(12-digit codes under each 9-digit one), and hands the table to
:func:`gridgov.synthesis.synthesize`: the preset is one use of synthesis. It
reproduces the published figures exactly:

* 8,886 grids = 4,148 urban + 4,044 rural + 694 exclusive;
* 37,762 grid workers (1 full-time per grid, 1 professional per urban or
  exclusive grid, the rest part-time);
* about 1.03 million households;
* exactly 652 residential compounds in the urban area: the streets (街道) of
  the four urban districts, sealed on 17 September; county towns have
  compounds of their own, villages have hamlets;
* enough cadres and in-service members in the urban districts to staff the
  17 September response (652 point leads, 4,000+ building leads, 10,000+
  deployed members).

How each township-level division is treated (the NBS code gives its kind:
001-099 street, 100-199 town, 200-399 township, 400-599 special):

* **streets** (街道) of the urban districts are the urban area: urban
  communities and their compounds (2,600 of the urban grids);
* **county towns** (the streets of 同江市 and 富锦市, and the seat towns
  桦南镇, 悦来镇, 汤原镇, 抚远镇) hold the other urban grids, shared by the
  counties' weights;
* other **towns** and **townships**, the **directly-administered entry**
  (向阳区直辖村级区划: villages the district governs itself, treated as a
  township of its own, kind ``direct``), **state farms** and their kin
  (农场, 农垦, 种畜场, 良种场, 畜牧场, 原种场, 科研所, the 建三江 bureau's
  own units: kind ``farm``) and **forestry** units (林业局, 林场: kind
  ``forestry``) are rural: villages (or farm and forest teams) with rural
  grids, as grid practice covers them;
* **prisons** (监狱, kind ``prison``) have no residents in the grid system:
  each is one large institution with an exclusive grid of its own, in a
  virtual community (虚拟社区), as practice handles closed units;
* **development zones** (开发区, 工业园区, kind ``development_zone``) hold
  enterprises, not households: ten large enterprises each with an exclusive
  grid (scaled), in one virtual community.

Communities and villages are synthetic (numbered names under their street);
everything above them is official.

A megacity: ``scale`` above 1 (up to :data:`MAX_SCALE`) tiles the ten
divisions ``ceil(scale)`` times and shares ``scale`` times the published
figures over them. Tile 0 is the real Jiamusi (its codes, its urban area);
each further tile repeats the ten divisions and their township-level units
under new district codes, one block of ten per tile in the order of
:data:`DISTRICTS`: tile 1 is 230830-230839, tile 2 230840-230849, tile 3
230850-230859, tile 4 230860-230869, tile 5 230870-230879, tile 6
230890-230899 (the blocks no real code uses), named like the originals with
the tile's number (``向阳区 2``).
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import random
from importlib import resources

from gridgov._gc import gc_paused
from gridgov.city import City
from gridgov.errors import PresetError
from gridgov.synthesis import Recipe, allocate, synthesize

__all__ = [
    "DISTRICTS",
    "MAX_SCALE",
    "MIN_SCALE",
    "PUBLISHED",
    "TOWNSHIPS",
    "URBAN_AREA",
    "URBAN_DISTRICTS",
    "jiamusi",
    "township_kind",
]

#: The published figures the preset reproduces at scale 1.
PUBLISHED = {
    "grids": {"urban": 4148, "rural": 4044, "exclusive": 694, "total": 8886},
    "grid_workers": 37762,
    "urban_compounds": 652,
    "point_leads": 652,
    "building_leads": 4000,
    "deployed_members": 10000,
}

#: The city's ten county-level divisions: code, official name, kind.
DISTRICTS: tuple[tuple[str, str, str], ...] = (
    ("230803", "向阳区", "urban_district"),
    ("230804", "前进区", "urban_district"),
    ("230805", "东风区", "urban_district"),
    ("230811", "郊区", "urban_district"),
    ("230822", "桦南县", "county"),
    ("230826", "桦川县", "county"),
    ("230828", "汤原县", "county"),
    ("230881", "同江市", "county_city"),
    ("230882", "富锦市", "county_city"),
    ("230883", "抚远市", "county_city"),
)

#: Codes of the four urban districts ("the city's urban districts").
URBAN_DISTRICTS = ("230803", "230804", "230805", "230811")


def _read_townships() -> tuple[tuple[str, str, str], ...]:
    text = (resources.files("gridgov") / "data" / "jiamusi-townships-2022.csv").read_text(
        encoding="utf-8"
    )
    return tuple((r["code"], r["name"], r["district"]) for r in csv.DictReader(io.StringIO(text)))


#: The 138 township-level divisions (NBS, 2022): code, official name, district code.
TOWNSHIPS: tuple[tuple[str, str, str], ...] = _read_townships()


def township_kind(code: str, name: str) -> str:
    """The kind of a township-level division, by its NBS code and name.

    ``street``, ``town``, ``township`` by the code's range; the special units
    (codes 400-599) ``prison``, ``development_zone``, ``forestry`` or
    ``farm`` by their name; the directly-administered entry ``direct``.
    """
    number = int(code[6:9])
    if name.endswith("直辖村级区划"):
        return "direct"
    if number < 100:
        return "street"
    if number < 200:
        return "town"
    if number < 400:
        return "township"
    if "监狱" in name:
        return "prison"
    if "开发区" in name or "工业园区" in name:
        return "development_zone"
    if "林业局" in name or "林场" in name:
        return "forestry"
    return "farm"


#: The urban area sealed on 17 September: the streets of the four urban
#: districts (their towns, townships and farms are outside it). Its
#: compounds are the 652 of the published figures.
URBAN_AREA = tuple(
    code
    for code, name, district in TOWNSHIPS
    if district in URBAN_DISTRICTS and township_kind(code, name) == "street"
)

# The county towns (the urban part of each county) and each county's share of
# the urban grids outside the urban districts.
_COUNTY_TOWNS = ("230822106", "230826104", "230828104", "230883100")
_TOWN_SHARES = {
    "230822": 0.20,
    "230826": 0.13,
    "230828": 0.14,
    "230881": 0.12,
    "230882": 0.27,
    "230883": 0.14,
}
_URBAN_DISTRICT_GRIDS = 2600  # of the 4,148 urban grids; the rest are in county towns
_ZONE_ENTERPRISES = 10  # large enterprises of a development zone, at scale 1

#: The smallest scale at which every rural division still gets a rural grid.
MIN_SCALE = 0.05

#: District-code blocks of the tiles beyond the first (two digits after 2308 = block + index).
_TILE_BLOCKS = (30, 40, 50, 60, 70, 90)

#: The largest scale: the real divisions and one tile per free block of codes.
MAX_SCALE = 1 + len(_TILE_BLOCKS)


def jiamusi(seed: int = 0, scale: float = 1.0, *, pause_gc: bool = False) -> City:
    """Build Jiamusi: its real divisions, synthetic communities, the published figures.

    Args:
        seed: random seed; the same seed gives the same city bit for bit.
        scale: share of the published size (grids, compounds, people); 1.0
            reproduces the published figures exactly; above 1 (up to
            :data:`MAX_SCALE`) a megacity of ``ceil(scale)`` tiles of the
            ten divisions under new codes (see the module docstring).
        pause_gc: pause Python's cyclic garbage collector while building: the
            build creates hundreds of thousands of objects and runs faster
            without the collector walking them (measured in
            ``benchmarks/bench_gc.py``), but the collector is off for the
            whole process meanwhile, so it is off unless asked for.

    Raises:
        PresetError: ``scale`` is not in [MIN_SCALE, MAX_SCALE].
    """
    if not MIN_SCALE <= scale <= MAX_SCALE:
        raise PresetError(
            f"scale must be in [{MIN_SCALE}, {MAX_SCALE}], got {scale} (below {MIN_SCALE} the "
            f"townships would have no rural grid to share; above {MAX_SCALE} the tiles run "
            "out of district codes)"
        )
    with gc_paused() if pause_gc else contextlib.nullcontext():
        rows = units_table(seed, scale)
        city = synthesize(
            rows,
            seed=seed,
            recipe=Recipe.default(),
            grid_workers=_scaled(PUBLISHED["grid_workers"], scale),  # type: ignore[arg-type]
        )
    return city


def _scaled(n: int, scale: float) -> int:
    return max(1, round(n * scale))


def units_table(seed: int = 0, scale: float = 1.0) -> list[dict[str, object]]:
    """The synthesis input of the preset: every unit down to the communities.

    Rows as :func:`gridgov.synthesis.synthesize` takes them (the columns of
    its input CSV); ``gridgov synth`` on this table, written as CSV, builds
    the same city.
    """
    rng = random.Random(seed)
    grids: dict[str, int] = PUBLISHED["grids"]  # type: ignore[assignment]
    urban_grids = _scaled(grids["urban"], scale)
    rural_grids = _scaled(grids["rural"], scale)
    exclusive_grids = _scaled(grids["exclusive"], scale)
    district_urban = _scaled(_URBAN_DISTRICT_GRIDS, scale)
    town_urban = urban_grids - district_urban
    rows, names, kinds = _divisions(scale)
    urban_streets, rural = kinds["urban_street"], kinds["rural"]
    prisons, zones = kinds["prison"], kinds["development_zone"]

    # Share the grids out by weights drawn here.
    street_grids = allocate(district_urban, [rng.uniform(0.7, 1.3) for _ in urban_streets], 1)
    town_list = [t for district in _TOWN_SHARES for t in kinds[f"town {district}"]]
    town_weights = [
        _TOWN_SHARES[district] * rng.uniform(0.7, 1.3) / len(kinds[f"town {district}"])
        for district in _TOWN_SHARES
        for _ in kinds[f"town {district}"]
    ]
    town_grids = allocate(town_urban, town_weights, 1)
    rural_shares = allocate(rural_grids, [rng.uniform(0.7, 1.3) for _ in rural], 1)
    zone_enterprises = _scaled(_ZONE_ENTERPRISES, scale)
    exclusive_left = exclusive_grids - len(prisons) - zone_enterprises * len(zones)
    if exclusive_left < 0:
        raise PresetError(f"scale {scale} leaves no exclusive grids for the urban communities")
    urban = [
        *zip(urban_streets, street_grids, [True] * len(urban_streets), strict=True),
        *zip(town_list, town_grids, [False] * len(town_list), strict=True),
    ]
    rows += _urban_communities(rng, scale, names, urban, exclusive_left)
    rows += _villages(rng, names, rural, rural_shares)

    # Prisons and development zones: a virtual community of exclusive grids.
    for unit in [*prisons, *zones]:
        cid = f"{unit}001"
        count = 1 if unit in prisons else zone_enterprises
        rows.append(
            {
                "id": cid,
                "parent": unit,
                "level": "community",
                "kind": "community",
                "name": f"{names[unit]}虚拟社区",
                "code": cid,
                "households": 0,
                "large_institutions" if unit in prisons else "large_enterprises": count,
            }
        )
    return rows


def _divisions(
    scale: float,
) -> tuple[list[dict[str, object]], dict[str, str], dict[str, list[str]]]:
    """The rows of the city, its districts and its streets and townships (tiled above
    a scale of 1); their names; and the streets and townships by kind (``urban_street``,
    ``town <real district>``, ``prison``, ``development_zone``, ``rural``)."""
    rows: list[dict[str, object]] = [
        {"id": "230800", "level": "city", "name": "Jiamusi", "code": "230800000000"}
    ]
    kinds: dict[str, list[str]] = {
        k: [] for k in ("urban_street", "rural", "prison", "development_zone")
    }
    names: dict[str, str] = {}
    tiles = max(1, math.ceil(scale))
    index_of = {code: i for i, (code, _, _) in enumerate(DISTRICTS)}

    def moved(tile: int, district: str) -> str:
        """A real district's code in ``tile`` (tile 0 is the real city)."""
        if not tile:
            return district
        return f"{district[:4]}{_TILE_BLOCKS[tile - 1] + index_of[district]:02d}"

    for tile in range(tiles):
        for code, name, kind in DISTRICTS:
            if tile:
                code, name = moved(tile, code), f"{name} {tile + 1}"
            rows.append(
                {
                    "id": code,
                    "parent": "230800",
                    "level": "district",
                    "kind": kind,
                    "name": name,
                    "code": code.ljust(12, "0"),
                }
            )
    tiled = [
        (
            moved(tile, district) + code[6:],
            f"{name} {tile + 1}" if tile else name,
            moved(tile, district),
            code,
            name,
        )
        for tile in range(tiles)
        for code, name, district in TOWNSHIPS
    ]
    for code, name, district, real_code, real_name in tiled:
        kind = township_kind(real_code, real_name)
        names[code] = name
        rows.append(
            {
                "id": code,
                "parent": district,
                "level": "street",
                "kind": kind,
                "name": name,
                "code": code.ljust(12, "0"),
            }
        )
        if kind == "street" and real_code[:6] in URBAN_DISTRICTS:
            kinds["urban_street"].append(code)
        elif kind == "street" or real_code in _COUNTY_TOWNS:
            kinds.setdefault(f"town {real_code[:6]}", []).append(code)
        elif kind in ("prison", "development_zone"):
            kinds[kind].append(code)
        else:
            kinds["rural"].append(code)
    return rows, names, kinds


def _urban_communities(
    rng: random.Random,
    scale: float,
    names: dict[str, str],
    urban: list[tuple[str, int, bool]],
    exclusive_left: int,
) -> list[dict[str, object]]:
    """Communities of the urban streets and county towns, 8 to 12 grids each
    (``urban``: street or town, its grids, whether it is in the urban area)."""
    communities: list[tuple[str, int, bool]] = []  # (street, grids, in the urban area)
    for street, n, area in urban:
        communities.extend((street, g, area) for g in _split(rng, n, 8, 12))
    in_area = [g for _, g, area in communities if area]
    area_compounds = _scaled(PUBLISHED["urban_compounds"], scale)  # type: ignore[arg-type]
    if len(in_area) > area_compounds:
        raise PresetError(f"scale {scale} leaves fewer compounds than urban communities")
    compounds = iter(allocate(area_compounds, in_area, 1))
    exclusive = allocate(exclusive_left, [g for _, g, _ in communities])
    numbers: dict[str, int] = {}
    rows: list[dict[str, object]] = []
    for (street, g, area), n_exclusive in zip(communities, exclusive, strict=True):
        numbers[street] = number = numbers.get(street, 0) + 1
        large = {"enterprise": 0, "hospital": 0, "mall": 0}
        for _ in range(n_exclusive):
            large[rng.choices(("enterprise", "hospital", "mall"), (6, 2, 2))[0]] += 1
        rows.append(
            {
                "id": f"{street}{number:03d}",
                "parent": street,
                "level": "community",
                "kind": "community",
                "name": f"{names[street]}第{number}社区",
                "code": f"{street}{number:03d}",
                # Within the grid standard's rounding: 200 per grid, +-4% (under 100).
                "households": g * 200 + rng.randint(-min(g * 8, 99), min(g * 8, 99)),
                "compounds": next(compounds) if area else max(1, round(g / 4)),
                "large_enterprises": large["enterprise"],
                "hospitals": large["hospital"],
                "malls": large["mall"],
            }
        )
    return rows


def _villages(
    rng: random.Random, names: dict[str, str], rural: list[str], shares: list[int]
) -> list[dict[str, object]]:
    """Villages (farm and forest teams) of the rural divisions, 4 to 8 grids each."""
    rows: list[dict[str, object]] = []
    for unit, n in zip(rural, shares, strict=True):
        for i, g in enumerate(_split(rng, n, 4, 8)):
            cid = f"{unit}{200 + i + 1:03d}"
            rows.append(
                {
                    "id": cid,
                    "parent": unit,
                    "level": "community",
                    "kind": "village",
                    "name": f"{names[unit]}第{i + 1}村",
                    "code": cid,
                    "households": g * 50 + rng.randint(-min(g * 3, 24), min(g * 3, 24)),
                    "compounds": rng.randint(1, 3),
                }
            )
    return rows


def _split(rng: random.Random, grids: int, low: int, high: int) -> list[int]:
    """Cut ``grids`` into communities of ``low``..``high`` grids each (at least one)."""
    count = max(1, round(grids / rng.uniform(low, high)))
    return allocate(grids, [rng.uniform(0.6, 1.4) for _ in range(count)], 1)

"""Hypothesis strategies (and one hand-made example) for cities and gridding inputs."""

from __future__ import annotations

import itertools
import math
from collections import Counter

from hypothesis import strategies as st

from gridgov import City, Compound, Level, Unit
from gridgov.gridding import Band
from gridgov.presets._builder import CityBuilder

# ------------------------------------------------------------ a toy chain
#
# Small enough to hold in one's head, so expectations in the tests can be
# written out by hand:
#
#   jms (city 230800)
#   ├── xy (district 230803)
#   │   ├── xy-s1 (street 230803001)
#   │   │   ├── xy-s1-c1 (community 230803001001): grids g1, g2; compound k1
#   │   │   └── xy-s1-c2 (community 230803001002): grid g1; compound k1
#   │   └── xy-s2 (street 230803002)
#   │       └── xy-s2-c1 (community 230803002001): grid g1
#   └── qj (district 230804)
#       └── qj-s1 (street 230804001)
#           └── qj-s1-c1 (community 230804001001): grid g1

TOY_CITY = "jms"
TOY_DISTRICTS = ("qj", "xy")
TOY_STREETS = ("qj-s1", "xy-s1", "xy-s2")
TOY_COMMUNITIES = ("qj-s1-c1", "xy-s1-c1", "xy-s1-c2", "xy-s2-c1")
TOY_GRIDS = (
    "qj-s1-c1-g1",
    "xy-s1-c1-g1",
    "xy-s1-c1-g2",
    "xy-s1-c2-g1",
    "xy-s2-c1-g1",
)
TOY_COMPOUNDS = ("xy-s1-c1-k1", "xy-s1-c2-k1")
#: Co-building links: ORG1 sits in xy-s1-c1, ORG3 sits in xy-s1-c2 but also
#: co-builds with xy-s1-c1.
TOY_CO_BUILDING = (("ORG1", "xy-s1-c1"), ("ORG3", "xy-s1-c1"))


def toy_units() -> list[Unit]:
    """The units of the toy chain, city first."""
    return [
        Unit(id="jms", level=Level.CITY, name="Jiamusi", code="230800000000"),
        Unit(id="xy", level=Level.DISTRICT, parent="jms", name="Xiangyang", code="230803000000"),
        Unit(id="qj", level=Level.DISTRICT, parent="jms", name="Qianjin", code="230804000000"),
        Unit(id="xy-s1", level=Level.STREET, parent="xy", name="XY 1", code="230803001000"),
        Unit(id="xy-s2", level=Level.STREET, parent="xy", name="XY 2", code="230803002000"),
        Unit(id="qj-s1", level=Level.STREET, parent="qj", name="QJ 1", code="230804001000"),
        Unit(id="xy-s1-c1", level=Level.COMMUNITY, parent="xy-s1", code="230803001001"),
        Unit(id="xy-s1-c2", level=Level.COMMUNITY, parent="xy-s1", code="230803001002"),
        Unit(id="xy-s2-c1", level=Level.COMMUNITY, parent="xy-s2", code="230803002001"),
        Unit(id="qj-s1-c1", level=Level.COMMUNITY, parent="qj-s1", code="230804001001"),
        Unit(id="xy-s1-c1-g1", level=Level.GRID, parent="xy-s1-c1", kind="urban"),
        Unit(id="xy-s1-c1-g2", level=Level.GRID, parent="xy-s1-c1", kind="exclusive"),
        Unit(id="xy-s1-c2-g1", level=Level.GRID, parent="xy-s1-c2", kind="urban"),
        Unit(id="xy-s2-c1-g1", level=Level.GRID, parent="xy-s2-c1", kind="urban"),
        Unit(id="qj-s1-c1-g1", level=Level.GRID, parent="qj-s1-c1", kind="rural"),
    ]


def toy_compounds() -> list[Compound]:
    """The compounds of the toy chain."""
    return [
        Compound(id="xy-s1-c1-k1", community="xy-s1-c1", name="Garden"),
        Compound(id="xy-s1-c2-k1", community="xy-s1-c2", name="Orchard"),
    ]


# ------------------------------------------------------- generated cities


@st.composite
def cities(draw: st.DrawFn) -> City:
    """Random valid small cities: 1-3 districts of 1-2 streets of 1-3 communities.

    Each street is either urban (communities with urban grids, compounds and
    exclusive grids) or a township (villages with rural grids and hamlets).
    """
    builder = CityBuilder("Generated", "990000", draw(st.integers(0, 2**32 - 1)))
    grids = 0
    professional = 0
    for d in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["urban_district", "county", "county_city"]))
        district = builder.district(f"9900{d + 1:02d}", f"District {d + 1}", kind)
        for s in range(draw(st.integers(1, 2))):
            rural = draw(st.booleans())
            street_kind = "township" if rural else "street"
            street = builder.street(district, s + 1, f"Street {d + 1}.{s + 1}", street_kind)
            for c in range(draw(st.integers(1, 3))):
                if rural:
                    village = builder.community(street, c + 1, f"Village {c + 1}", "village")
                    n = draw(st.integers(1, 3))
                    builder.village(village, n, draw(st.integers(1, 3)))
                    grids += n
                else:
                    community = builder.community(street, c + 1, f"Community {c + 1}", "community")
                    n = draw(st.integers(1, 3))
                    exclusive = draw(st.integers(0, 2))
                    builder.urban_community(community, n, draw(st.integers(1, 4)), exclusive)
                    grids += n + exclusive
                    professional += n + exclusive
    builder.staff(
        grid_workers=grids + professional + draw(st.integers(0, 10)),
        cadres_per_office={"city": 2, "district": 2, "street": 1, "community": 1, "village": 1},
        member_rate={"community": 0.02, "village": 0.01},
        volunteer_rate=0.01,
        volunteer_bases=draw(st.integers(0, 2)),
    )
    return builder.build()


# ------------------------------------------------------ invariant checks


def check_every_building_in_exactly_one_grid(city: City) -> None:
    """DESIGN.md invariant 1a: every building is in exactly one grid."""
    graph = city.chain.graph
    for building in city.buildings.values():
        assert graph.nodes[building.grid]["level"] == "grid"
    covered = Counter(b for grid in _grids(city) for b in city.buildings_of(grid))
    assert covered == Counter(list(city.buildings))


def check_every_grid_has_one_chain_to_the_city(city: City) -> None:
    """DESIGN.md invariant 1b: every grid has exactly one chain up to the city.

    Walks the networkx graph itself rather than trusting the chain's queries.
    """
    graph = city.chain.graph
    assert [n for n, level in graph.nodes(data="level") if level == "city"] == [city.chain.city]
    expected_levels = ["grid", "community", "street", "district", "city"]
    for grid in _grids(city):
        path = [grid]
        while graph.in_degree(path[-1]) == 1:
            path.append(next(iter(graph.predecessors(path[-1]))))
        assert graph.in_degree(path[-1]) == 0
        assert [graph.nodes[n]["level"] for n in path] == expected_levels
        assert city.chain.chain_of_command(grid) == tuple(path)


def _grids(city: City) -> list[str]:
    return [n for n, level in city.chain.graph.nodes(data="level") if level == "grid"]


# ------------------------------------------------------------- gridding


def households(min_size: int = 1, max_size: int = 30, most: int = 400) -> st.SearchStrategy:
    """``(building id, households)`` lists with unique ids, in neighbourhood order."""
    return st.lists(st.integers(0, most), min_size=min_size, max_size=max_size).map(
        lambda sizes: [(f"B{i:03d}", h) for i, h in enumerate(sizes)]
    )


def grid_lists(most: int = 400) -> st.SearchStrategy:
    """Lists of grids (each a non-empty list of ``(building id, households)``)."""
    return st.lists(
        st.lists(st.integers(0, most), min_size=1, max_size=8), min_size=1, max_size=10
    ).map(
        lambda grids: [
            [(f"B{g:02d}-{i}", h) for i, h in enumerate(grid)] for g, grid in enumerate(grids)
        ]
    )


@st.composite
def bands(draw: st.DrawFn) -> Band:
    """Any valid band: low <= target <= high, hysteresis in [0, 1)."""
    low = draw(st.integers(0, 300))
    target = draw(st.integers(max(1, low), 400))
    high = draw(st.integers(target, 600))
    hysteresis = draw(st.floats(0.0, 0.9))
    return Band(target=target, low=low, high=high, hysteresis=hysteresis)


@st.composite
def in_band_grids(draw: st.DrawFn, band: Band) -> list[list[tuple[str, int]]]:
    """Grids whose household totals all lie inside ``band`` (no split, no merge due)."""
    low = math.ceil(band.merge_below)
    high = math.floor(band.split_above)
    grids = []
    for g in range(draw(st.integers(1, 8))):
        total = draw(st.integers(low, high))
        cuts = sorted(draw(st.lists(st.integers(0, total), max_size=4)))
        bounds = [0, *cuts, total]
        sizes = [b - a for a, b in itertools.pairwise(bounds)]
        grids.append([(f"B{g:02d}-{i}", h) for i, h in enumerate(sizes)])
    return grids

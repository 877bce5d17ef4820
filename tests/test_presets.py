"""Presets: the Jiamusi preset reproduces the published figures; small() is deterministic."""

from __future__ import annotations

from collections import Counter

import pytest

from gridgov import City, GridgovError, PersonKind, PresetError
from gridgov.presets import PRESETS, PUBLISHED, URBAN_DISTRICTS, jiamusi, small
from strategies import (
    check_every_building_in_exactly_one_grid,
    check_every_grid_has_one_chain_to_the_city,
)

#: Jiamusi's county-level divisions (DOMAIN.md, GB/T 2260): code -> (name, kind).
DIVISIONS = {
    "230803": ("Xiangyang", "urban_district"),
    "230804": ("Qianjin", "urban_district"),
    "230805": ("Dongfeng", "urban_district"),
    "230811": ("Jiao", "urban_district"),
    "230822": ("Huanan", "county"),
    "230826": ("Huachuan", "county"),
    "230828": ("Tangyuan", "county"),
    "230881": ("Tongjiang", "county_city"),
    "230882": ("Fujin", "county_city"),
    "230883": ("Fuyuan", "county_city"),
}

#: The published grid figures (DOMAIN.md).
GRIDS = {"urban": 4148, "rural": 4044, "exclusive": 694, "total": 8886}


def in_urban_districts(city: City, node: str) -> bool:
    return city.chain.district_of(node) in {"230803", "230804", "230805", "230811"}


class TestJiamusiFigures:
    """The full preset reproduces DOMAIN.md's published figures."""

    def test_published_constants(self) -> None:
        """PUBLISHED and URBAN_DISTRICTS carry DOMAIN.md's figures and codes."""
        assert PUBLISHED["grids"] == GRIDS
        assert PUBLISHED["grid_workers"] == 37762
        assert URBAN_DISTRICTS == ("230803", "230804", "230805", "230811")

    def test_grids(self, jiamusi_city: City) -> None:
        """8,886 grids: 4,148 urban, 4,044 rural, 694 exclusive."""
        assert jiamusi_city.summary()["grids"] == GRIDS
        assert len(jiamusi_city.grids("urban")) == 4148

    def test_grid_workers(self, jiamusi_city: City) -> None:
        """37,762 grid workers, one full-time per grid."""
        summary = jiamusi_city.summary()
        assert summary["grid_workers"] == 37762
        assert summary["grid_workers_by_kind"]["full_time"] == 8886
        assert sum(summary["grid_workers_by_kind"].values()) == 37762

    def test_one_full_time_worker_per_grid(self, jiamusi_city: City) -> None:
        """Each grid has exactly one full-time grid worker posted to it (the '1' of 1+X+N)."""
        posts = Counter(
            p.normal_post.unit
            for p in jiamusi_city.people.values()
            if p.grid_worker_kind is not None and p.grid_worker_kind.value == "full_time"
        )
        assert posts == Counter(jiamusi_city.grids())

    def test_households(self, jiamusi_city: City) -> None:
        """About 1.03 million households, the sum of all buildings."""
        total = sum(b.households for b in jiamusi_city.buildings.values())
        assert 1.0e6 <= total <= 1.06e6
        assert jiamusi_city.summary()["households"] == total

    def test_grid_sizes_follow_the_standard(self, jiamusi_city: City) -> None:
        """Urban grids hold about 200 households on average, rural grids about 50."""
        for kind, standard in (("urban", 200), ("rural", 50)):
            grids = jiamusi_city.grids(kind)
            mean = sum(jiamusi_city.households(g) for g in grids) / len(grids)
            assert standard * 0.9 <= mean <= standard * 1.1, kind

    def test_urban_compounds(self, jiamusi_city: City) -> None:
        """Exactly 652 compounds lie in the urban streets of the four urban districts."""
        chain = jiamusi_city.chain
        count = sum(
            1
            for compound in jiamusi_city.compounds
            if chain.unit(chain.street_of(compound)).kind == "street"
            and chain.district_of(compound) in URBAN_DISTRICTS
        )
        assert count == 652

    def test_districts(self, jiamusi_city: City) -> None:
        """The ten county-level divisions carry their real codes, names and kinds."""
        chain = jiamusi_city.chain
        assert sorted(chain.units("district")) == sorted(DIVISIONS)
        for code, (name, kind) in DIVISIONS.items():
            district = chain.by_code(code)
            unit = chain.unit(district)
            assert (district, unit.code, unit.kind) == (code, code + "000000", kind)
            assert name in unit.name

    def test_city(self, jiamusi_city: City) -> None:
        """The city is Jiamusi, code 230800."""
        chain = jiamusi_city.chain
        assert chain.by_code("230800") == chain.city
        assert jiamusi_city.name == "Jiamusi"

    def test_community_codes(self, jiamusi_city: City) -> None:
        """Every community has a 12-digit code (6 county + 3 street + 3 community) that resolves."""
        chain = jiamusi_city.chain
        communities = chain.units("community")
        assert len(communities) > 1000
        for community in communities:
            code = chain.unit(community).code
            assert len(code) == 12, community
            assert code.isdigit(), community
            assert chain.by_code(code) == community
            assert code[:6] == chain.unit(chain.district_of(community)).code[:6]
            assert code[:9] == chain.unit(chain.street_of(community)).code[:9]

    def test_codes_unique(self, jiamusi_city: City) -> None:
        """No two units share an administrative code."""
        chain = jiamusi_city.chain
        codes = [chain.unit(n).code for n in chain if chain.unit(n).code]
        assert len(codes) == len(set(codes))

    def test_urban_district_cadres_and_members(self, jiamusi_city: City) -> None:
        """Enough cadres (652 + 4,000) and in-service members (10,000) live in urban districts."""
        homes = Counter(
            p.kind for p in jiamusi_city.people.values() if in_urban_districts(jiamusi_city, p.home)
        )
        assert homes[PersonKind.CADRE] >= 652 + 4000
        assert homes[PersonKind.IN_SERVICE_MEMBER] >= 10000

    def test_exclusive_grids_owned(self, jiamusi_city: City) -> None:
        """Each exclusive grid belongs to one enterprise, hospital or mall of its community."""
        owners = {
            o.exclusive_grid: o for o in jiamusi_city.organisations.values() if o.exclusive_grid
        }
        assert sorted(owners) == sorted(jiamusi_city.grids("exclusive"))
        for grid, org in owners.items():
            assert org.kind in {"enterprise", "hospital", "mall"}
            assert jiamusi_city.community_of(grid) == org.community

    def test_volunteer_bases(self, jiamusi_city: City) -> None:
        """The volunteer federation runs 23 service bases."""
        kinds = Counter(o.kind for o in jiamusi_city.organisations.values())
        assert kinds["volunteer_base"] == 23


class TestJiamusiInvariants:
    """DESIGN.md invariant 1 on the full preset."""

    def test_every_building_in_exactly_one_grid(self, jiamusi_city: City) -> None:
        """Every building is in a grid, and the grids' buildings cover each building once."""
        check_every_building_in_exactly_one_grid(jiamusi_city)

    def test_every_grid_has_one_chain_to_the_city(self, jiamusi_city: City) -> None:
        """Each grid has one commander per level, up to the single city."""
        check_every_grid_has_one_chain_to_the_city(jiamusi_city)


class TestScale:
    """jiamusi(scale=...) builds a proportionally smaller city."""

    def test_eighth(self) -> None:
        """At scale 1/8 the city has about an eighth of each kind of grid."""
        grids = jiamusi(scale=0.125).summary()["grids"]
        for kind, full in GRIDS.items():
            assert abs(grids[kind] - full / 8) <= 2, kind

    def test_seed_keeps_figures(self) -> None:
        """Another seed changes the city but not its calibrated grid counts."""
        a, b = jiamusi(seed=0, scale=0.125), jiamusi(seed=1, scale=0.125)
        assert a.summary()["grids"] == b.summary()["grids"]
        assert list(a.buildings.values()) != list(b.buildings.values())

    @pytest.mark.parametrize("scale", [0, -0.5, 1.0001, 2])
    def test_scale_out_of_range(self, scale: float) -> None:
        """A scale outside [MIN_SCALE, 1] is a PresetError naming the scale."""
        expected = rf"scale must be in \[0.05, 1\], got {scale}"
        with pytest.raises(PresetError, match=expected) as info:
            jiamusi(scale=scale)
        assert isinstance(info.value, GridgovError)

    def test_tiny_scale(self) -> None:
        """A tiny scale in (0, 1] builds, or is refused with a message about the scale."""
        city: City | None = None
        refusal = ""
        try:
            city = jiamusi(scale=0.01)
        except PresetError as error:
            refusal = str(error)
        if city is None:
            assert "scale" in refusal
        else:
            assert abs(city.summary()["grids"]["total"] - 89) <= 5


class TestSmall:
    """The small preset matches its description and is deterministic."""

    def test_shape(self, small_city: City) -> None:
        """One district, two streets, three communities; 3 urban, 2 rural, 1 exclusive grid."""
        summary = small_city.summary()
        assert (summary["districts"], summary["streets"], summary["communities"]) == (1, 2, 3)
        assert summary["grids"] == {"urban": 3, "rural": 2, "exclusive": 1, "total": 6}
        kinds = Counter(c.kind for c in small_city.compounds.values())
        assert kinds == {"residential": 4, "hamlet": 2}

    def test_invariants(self, small_city: City) -> None:
        """The small preset satisfies DESIGN.md invariant 1."""
        check_every_building_in_exactly_one_grid(small_city)
        check_every_grid_has_one_chain_to_the_city(small_city)

    def test_same_seed_same_city(self) -> None:
        """small(seed=3) twice gives equal summaries and equal buildings, people, everything."""
        a, b = small(seed=3), small(seed=3)
        assert a.summary() == b.summary()
        assert list(a.buildings.values()) == list(b.buildings.values())
        assert list(a.people.values()) == list(b.people.values())
        assert list(a.compounds.values()) == list(b.compounds.values())
        assert list(a.organisations.values()) == list(b.organisations.values())
        assert [a.chain.unit(n) for n in a.chain] == [b.chain.unit(n) for n in b.chain]

    def test_same_seed_same_scaled_jiamusi(self) -> None:
        """The Jiamusi preset is deterministic too."""
        a, b = jiamusi(seed=7, scale=0.05), jiamusi(seed=7, scale=0.05)
        assert list(a.buildings.values()) == list(b.buildings.values())
        assert list(a.people.values()) == list(b.people.values())

    def test_different_seeds_different_cities(self) -> None:
        """Different seeds give different buildings."""
        assert list(small(seed=3).buildings.values()) != list(small(seed=4).buildings.values())

    def test_registry(self) -> None:
        """PRESETS names the presets the command line knows."""
        assert {"jiamusi": jiamusi, "small": small} == PRESETS

"""Presets: the Jiamusi preset reproduces the published figures; small() is deterministic."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from gridgov import City, GridgovError, PersonKind, PresetError
from gridgov.presets import PRESETS, PUBLISHED, URBAN_AREA, URBAN_DISTRICTS, jiamusi, small
from gridgov.presets.jiamusi import township_kind
from strategies import (
    check_every_building_in_exactly_one_grid,
    check_every_grid_has_one_chain_to_the_city,
)

#: Jiamusi's county-level divisions (DOMAIN.md, GB/T 2260): code -> (official name, kind).
DIVISIONS = {
    "230803": ("向阳区", "urban_district"),
    "230804": ("前进区", "urban_district"),
    "230805": ("东风区", "urban_district"),
    "230811": ("郊区", "urban_district"),
    "230822": ("桦南县", "county"),
    "230826": ("桦川县", "county"),
    "230828": ("汤原县", "county"),
    "230881": ("同江市", "county_city"),
    "230882": ("富锦市", "county_city"),
    "230883": ("抚远市", "county_city"),
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
            assert unit.name == name

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
        """Each exclusive grid belongs to one enterprise, hospital or mall of its
        community, or to a prison (an institution)."""
        owners = {
            o.exclusive_grid: o for o in jiamusi_city.organisations.values() if o.exclusive_grid
        }
        assert sorted(owners) == sorted(jiamusi_city.grids("exclusive"))
        for grid, org in owners.items():
            prison = jiamusi_city.chain.unit(jiamusi_city.street_of(org.community)).kind == "prison"
            assert org.kind == ("institution" if prison else org.kind)
            assert org.kind in {"enterprise", "hospital", "mall", "institution"}
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

    @pytest.mark.parametrize("scale", [0, -0.5, 7.0001, 8])
    def test_scale_out_of_range(self, scale: float) -> None:
        """A scale outside [MIN_SCALE, MAX_SCALE] is a PresetError naming the scale."""
        expected = rf"scale must be in \[0.05, 7\], got {scale}"
        with pytest.raises(PresetError, match=expected) as info:
            jiamusi(scale=scale)
        assert isinstance(info.value, GridgovError)

    def test_megacity_tiles(self) -> None:
        """Above 1 the ten divisions are tiled under the documented new codes.

        Scale 1.05 makes two tiles sharing 1.05 times each published count:
        urban round(4148 * 1.05) = 4355, rural round(4044 * 1.05) = 4246,
        exclusive round(694 * 1.05) = 729.
        """
        city = jiamusi(scale=1.05)
        grids = city.summary()["grids"]
        assert (grids["urban"], grids["rural"], grids["exclusive"]) == (4355, 4246, 729)
        real = ["230803", "230804", "230805", "230811", "230822", "230826", "230828"]
        real += ["230881", "230882", "230883"]
        tile = [f"2308{n}" for n in range(30, 40)]
        assert sorted(city.chain.units("district")) == sorted(real + tile)
        assert city.chain.unit("230830").name == "向阳区 2"
        assert city.chain.unit("230839").name == "抚远市 2"
        assert city.chain.unit("230830007").name == "西林街道 2"
        assert len(city.chain.units("street")) == 2 * 138
        check_every_grid_has_one_chain_to_the_city(city)

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


TOWNSHIP_FILE = Path(__file__).resolve().parent.parent / "src" / "gridgov" / "data"
SHARED_FILE = Path("/work/shared/data/jiamusi-townships-2022.csv")


def township_rows() -> list[dict[str, str]]:
    with open(TOWNSHIP_FILE / "jiamusi-townships-2022.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


class TestTownships:
    """Jiamusi's 138 real township-level divisions, from the NBS list of 2022."""

    def test_the_file(self) -> None:
        """138 rows of 9-digit codes, each under one of the ten districts, no BOM."""
        raw = (TOWNSHIP_FILE / "jiamusi-townships-2022.csv").read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf")
        assert raw.splitlines()[0] == b"code,name,district"
        rows = township_rows()
        assert len(rows) == 138
        assert len({r["code"] for r in rows}) == 138
        for row in rows:
            assert len(row["code"]) == 9, row
            assert row["code"].isdigit(), row
            assert row["code"][:6] == row["district"], row
            assert row["district"] in DIVISIONS, row
            assert row["name"], row
        by_district = Counter(r["district"] for r in rows)
        assert by_district == {
            "230803": 6, "230804": 5, "230805": 6, "230811": 17, "230822": 16,
            "230826": 11, "230828": 14, "230881": 23, "230882": 27, "230883": 13,
        }  # fmt: skip

    def test_the_packaged_file_is_the_open_data(self) -> None:
        if not SHARED_FILE.exists():
            pytest.skip("the shared data folder is not beside the repository")
        assert (TOWNSHIP_FILE / SHARED_FILE.name).read_bytes() == SHARED_FILE.read_bytes()

    def test_streets_are_the_townships(self, jiamusi_city: City) -> None:
        """Every street of the preset is an official division: code, name, district."""
        chain = jiamusi_city.chain
        streets = {s: chain.unit(s) for s in chain.units("street")}
        assert len(streets) == 138
        for row in township_rows():
            unit = streets[row["code"]]
            assert (unit.name, unit.parent, unit.code) == (
                row["name"],
                row["district"],
                row["code"] + "000",
            )
            assert chain.by_code(row["code"]) == row["code"]

    def test_kinds(self, jiamusi_city: City) -> None:
        """Street kinds follow the NBS code ranges; the special units by their names."""
        kinds = Counter(jiamusi_city.chain.unit(s).kind for s in jiamusi_city.chain.units("street"))
        # By code range (awk over the file): 21 streets, 49 towns, 26 townships, 1
        # directly-administered entry, 41 special units: 2 prisons (监狱), 8
        # forestry (林业局/林场), 2 development zones (开发区/工业园区), 29 farms.
        assert kinds == {
            "street": 21, "town": 49, "township": 26, "direct": 1,
            "prison": 2, "forestry": 8, "development_zone": 2, "farm": 29,
        }  # fmt: skip
        assert township_kind("230803198", "向阳区直辖村级区划") == "direct"
        assert township_kind("230811480", "莲江口监狱") == "prison"
        assert township_kind("230822480", "黑龙江桦南经济开发区") == "development_zone"
        assert township_kind("230882407", "工业园区") == "development_zone"
        assert township_kind("230822400", "桦南林业局") == "forestry"
        assert township_kind("230881400", "街津口林场") == "forestry"
        assert township_kind("230804579", "前进区农垦") == "farm"
        assert township_kind("230881100", "同江镇") == "town"
        assert township_kind("230811200", "长青乡") == "township"
        assert township_kind("230881001", "繁荣街道") == "street"

    def test_urban_area(self, jiamusi_city: City) -> None:
        """The urban area is the 17 streets of the four urban districts, with 652 compounds."""
        assert len(URBAN_AREA) == 17
        names = [jiamusi_city.chain.unit(s).name for s in URBAN_AREA]
        assert all(name.endswith("街道") for name in names)
        assert {s[:6] for s in URBAN_AREA} == set(URBAN_DISTRICTS)
        compounds = sum(len(jiamusi_city.compounds_of(s)) for s in URBAN_AREA)
        assert compounds == 652

    def test_prisons_and_zones(self, jiamusi_city: City) -> None:
        """A prison is one institution with an exclusive grid; a zone holds enterprises."""
        chain = jiamusi_city.chain
        for street in ("230811480", "230828480"):
            (community,) = chain.children(street)
            assert jiamusi_city.households(community) == 0
            grids = chain.children(community, "grid")
            assert [chain.unit(g).kind for g in grids] == ["exclusive"]
        for zone in ("230822480", "230882407"):
            (community,) = chain.children(zone)
            kinds = {chain.unit(g).kind for g in chain.children(community, "grid")}
            assert kinds == {"exclusive"}
            assert jiamusi_city.households(community) == 0

    def test_community_codes_under_their_street(self, jiamusi_city: City) -> None:
        chain = jiamusi_city.chain
        for community in chain.units("community"):
            unit = chain.unit(community)
            assert unit.code[:9] == unit.parent
            assert len(unit.code) == 12

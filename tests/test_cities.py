"""City bundles: round trips, a corpus of broken bundles, hostile files, the CLI."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import string
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridgov import (
    ChainError,
    City,
    CityError,
    CommandChain,
    GridgovError,
    Level,
    Person,
    PersonKind,
    Post,
    Unit,
    check_bundle,
    load_city,
)
from gridgov.cli import main
from gridgov.presets import jiamusi, small
from strategies import (
    TOY_CO_BUILDING,
    check_every_building_in_exactly_one_grid,
    cities,
    toy_compounds,
    toy_units,
)

ROOT = Path(__file__).resolve().parent.parent
FILES = (
    "city.toml",
    "units.csv",
    "compounds.csv",
    "buildings.csv",
    "organisations.csv",
    "people.csv",
)


def same_city(a: City, b: City) -> None:
    """Two cities say the same thing: chain, places, people, committees, in order."""
    assert a.name == b.name
    assert a.summary() == b.summary()
    assert [a.chain.unit(n) for n in a.chain] == [b.chain.unit(n) for n in b.chain]
    assert list(a.compounds.values()) == list(b.compounds.values())
    assert list(a.buildings.values()) == list(b.buildings.values())
    assert list(a.organisations.values()) == list(b.organisations.values())
    assert list(a.people.values()) == list(b.people.values())
    for community in a.chain.units(Level.COMMUNITY):
        assert a.big_party_committee(community) == b.big_party_committee(community)


def read_all(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def small_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small preset saved once; tests copy it before breaking it."""
    return small().save(tmp_path_factory.mktemp("bundle") / "small")


@pytest.fixture
def bundle(small_bundle: Path, tmp_path: Path) -> Path:
    """A fresh copy of the small preset's bundle."""
    return Path(shutil.copytree(small_bundle, tmp_path / "small"))


#: Unicode surrogates: not text a file can hold.
SURROGATES: tuple[Literal["Cs"]] = ("Cs",)


def shown(problems: Sequence[object], folder: Path) -> list[str]:
    """Problems as text, with paths relative to the bundle's parent folder."""
    return [str(p).replace(str(folder.parent) + os.sep, "") for p in problems]


# ---------------------------------------------------------------- round trips


class TestRoundTrip:
    """Save, load, save again: the same city and the same bytes."""

    def test_small_preset(self, tmp_path: Path) -> None:
        """The small preset survives a round trip, byte for byte the second time."""
        city = small()
        first = city.save(tmp_path / "a")
        loaded = load_city(first)
        same_city(city, loaded)
        second = loaded.save(tmp_path / "b")
        assert read_all(first) == read_all(second)
        assert sorted(read_all(first)) == sorted(FILES)

    def test_extra_co_building_links(self, tmp_path: Path) -> None:
        """An organisation on a second community's big party committee keeps its seat."""
        from test_city import toy_buildings, toy_organisations, toy_people

        chain = CommandChain.from_units(toy_units(), toy_compounds(), TOY_CO_BUILDING)
        city = City.build(
            "Toy", chain, toy_compounds(), toy_buildings(), toy_people(), toy_organisations()
        )
        folder = city.save(tmp_path / "toy")
        assert (folder / "co_building.csv").read_text(encoding="utf-8") == (
            "organisation,community\nORG3,xy-s1-c1\n"
        )
        loaded = load_city(folder)
        same_city(city, loaded)
        assert loaded.big_party_committee("xy-s1-c1").members == ("ORG1", "ORG2", "ORG3")
        assert read_all(loaded.save(tmp_path / "again")) == read_all(folder)

    @settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        city=cities(),
        names=st.lists(
            st.text(
                st.characters(blacklist_categories=SURROGATES, blacklist_characters="\x00"),
                max_size=12,
            ),
            min_size=1,
            max_size=8,
        ),
    )
    def test_generated_cities_with_hostile_names(
        self, tmp_path: Path, city: City, names: list[str]
    ) -> None:
        """Any valid city, its names full of commas, quotes, line ends and CJK, round-trips."""
        renamed = _rename(city, names)
        folder = tmp_path / "generated"
        shutil.rmtree(folder, ignore_errors=True)
        renamed.save(folder)
        loaded = load_city(folder)
        same_city(renamed, loaded)
        again = tmp_path / "again"
        shutil.rmtree(again, ignore_errors=True)
        assert read_all(loaded.save(again)) == read_all(folder)

    def test_chinese_names(self, tmp_path: Path) -> None:
        """Chinese names are written as UTF-8 and read back."""
        city = _rename(small(), ["向阳区", "西林街道", '社区, "一"'])
        folder = city.save(tmp_path / "cn")
        assert "向阳区" in (folder / "units.csv").read_text(encoding="utf-8")
        same_city(city, load_city(folder))

    @pytest.mark.slow
    def test_jiamusi(self, jiamusi_city: City, tmp_path: Path) -> None:
        """The full Jiamusi preset round-trips."""
        folder = jiamusi_city.save(tmp_path / "jiamusi")
        loaded = load_city(folder)
        same_city(jiamusi_city, loaded)
        assert read_all(loaded.save(tmp_path / "again")) == read_all(folder)


def _rename(city: City, names: list[str]) -> City:
    """The city with its units, compounds and organisations renamed from ``names``."""
    chain = city.chain
    units = []
    for i, node in enumerate(chain.units()):
        unit = chain.unit(node)
        if unit.level is not Level.COMPOUND:
            units.append(attrs.evolve(unit, name=names[i % len(names)]))
    compounds = [
        attrs.evolve(c, name=names[(i + 1) % len(names)])
        for i, c in enumerate(city.compounds.values())
    ]
    organisations = [
        attrs.evolve(o, name=names[(i + 2) % len(names)])
        for i, o in enumerate(city.organisations.values())
    ]
    links = [(o.id, o.community) for o in organisations]
    new_chain = CommandChain.from_units(units, compounds, links)
    renamed_city = attrs.evolve(chain.unit(chain.city), name=names[0])
    del renamed_city
    return City.build(
        names[0],
        new_chain,
        compounds,
        city.buildings.values(),
        city.people.values(),
        organisations,
    )


# ---------------------------------------------------------------- broken bundles


def replace(file: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        path = folder / file
        text = path.read_text(encoding="utf-8")
        assert old in text, (file, old)
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return edit


def append(file: str, data: bytes) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        with open(folder / file, "ab") as handle:
            handle.write(data)

    return edit


def write(file: str, data: bytes) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        (folder / file).write_bytes(data)

    return edit


def remove(file: str) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        (folder / file).unlink()

    return edit


C1 = "990101001001"  # East Community
# One mistake per bundle, and the exact problems it gives (paths relative to
# the bundle's parent folder).
CORPUS: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "unknown person kind": (
        replace("people.csv", "P0000001,grid_worker,", "P0000001,wizard,"),
        [
            "small/people.csv:2: kind: unknown person kind 'wizard' (expected one of: "
            "cadre, in_service_member, grid_worker, volunteer)"
        ],
    ),
    "misspelt person kind": (
        replace("people.csv", "P0000001,grid_worker,", "P0000001,gridworker,"),
        [
            "small/people.csv:2: kind: unknown person kind 'gridworker' (did you mean "
            "'grid_worker'? expected one of: cadre, in_service_member, grid_worker, volunteer)"
        ],
    ),
    "misspelt grid-worker kind": (
        replace("people.csv", ",full_time", ",ful_time"),
        [
            "small/people.csv:2: grid_worker_kind: unknown grid-worker kind 'ful_time' (did you "
            "mean 'full_time'? expected one of: full_time, professional, part_time)"
        ],
    ),
    "misspelt level": (
        replace("units.csv", ",street,street,", ",stret,street,"),
        [
            "small/units.csv:3: level: unknown level 'stret' (did you mean 'street'? "
            "expected one of: district, street, community, grid)"
        ],
    ),
    "city row in units.csv": (
        replace("units.csv", "990101,990100,district,", "990101,990100,city,"),
        ["small/units.csv:2: level: the city is described in city.toml, not in units.csv"],
    ),
    "grid without kind": (
        replace("units.csv", "grid,urban,Grid 1,", "grid,,Grid 1,"),
        ["small/units.csv:5: kind: empty: a grid needs its kind (urban, rural or exclusive)"],
    ),
    "misspelt grid kind": (
        replace("units.csv", "grid,urban,Grid 1,", "grid,urbn,Grid 1,"),
        [
            "small/units.csv:5: kind: unknown grid kind 'urbn' (did you mean 'urban'? "
            "expected one of: urban, rural, exclusive)"
        ],
    ),
    "unknown parent": (
        replace("units.csv", "990101001,990101,street", "990101001,99101,street"),
        ["small/units.csv:3: parent: no unit '99101' (did you mean '990101'?)"],
    ),
    "skipped level": (
        replace("units.csv", f"{C1},990101001,community", f"{C1},990101,community"),
        [
            "small/units.csv:4: parent: '990101' is a district, but a community answers to a "
            "street (this skips a level)"
        ],
    ),
    "district under a district": (
        replace("units.csv", "990101,990100,district", "990101,990101,district"),
        [
            "small/units.csv:2: parent: '990101' is a district, but a district answers to a "
            "city (a unit of the same level)",
            "small/units.csv:2: parent: cycle of command: 990101 -> 990101",
        ],
    ),
    "cycle": (
        replace("units.csv", "990101001,990101,street", f"990101001,{C1},street"),
        [
            f"small/units.csv:3: parent: '{C1}' is a community, but a street answers to a "
            "district (this reverses the levels)",
            f"small/units.csv:3: parent: cycle of command: 990101001 -> {C1} -> 990101001",
        ],
    ),
    "empty parent": (
        replace("units.csv", "990101001,990101,street", "990101001,,street"),
        ["small/units.csv:3: parent: empty: a street answers to a district"],
    ),
    "duplicate unit id": (
        append("units.csv", f"{C1}-G001,{C1},grid,urban,Grid 1,\n".encode()),
        [f"small/units.csv:14: id: duplicate id '{C1}-G001' (first at small/units.csv:5)"],
    ),
    "duplicate id across files": (
        replace("buildings.csv", f"{C1}-C01-B01,", f"{C1}-G001,"),
        [f"small/buildings.csv:2: id: duplicate id '{C1}-G001' (first at small/units.csv:5)"],
    ),
    "duplicate code": (
        replace("units.csv", "West Community,990101001002", "West Community,990101001001"),
        ["small/units.csv:8: code: duplicate code '990101001001' (first at small/units.csv:4)"],
    ),
    "negative households": (
        replace("buildings.csv", ",84\n", ",-4\n"),
        ["small/buildings.csv:2: households: must be 0 or more, got -4"],
    ),
    "non-integer households": (
        replace("buildings.csv", ",84\n", ",8.5\n"),
        ["small/buildings.csv:2: households: not a whole number: '8.5' (a count, 0 or more)"],
    ),
    "empty households": (
        replace("buildings.csv", ",84\n", ",\n"),
        ["small/buildings.csv:2: households: empty (a count, 0 or more)"],
    ),
    "no entrance": (
        replace("compounds.csv", "Compound 1,residential,1", "Compound 1,residential,0"),
        ["small/compounds.csv:2: entrances: must be 1 or more, got 0"],
    ),
    "grid and compound in different communities": (
        replace("buildings.csv", f"{C1}-C01-B01,{C1}-G001", f"{C1}-C01-B01,990101001002-G001"),
        [
            f"small/buildings.csv:2: compound: compound {C1}-C01 is in community {C1}, but grid "
            "990101001002-G001 is in 990101001002 (a building's grid and compound share a "
            "community)"
        ],
    ),
    "building in a community": (
        replace("buildings.csv", f"{C1}-C01-B01,{C1}-G001", f"{C1}-C01-B01,{C1}"),
        [f"small/buildings.csv:2: grid: '{C1}' is a community (small/units.csv:4), not a grid"],
    ),
    "normal post at an unknown unit": (
        replace(
            "people.csv", f"grid_worker,{C1}-G001,,full_time", f"grid_worker,{C1}-G009,,full_time"
        ),
        [
            "small/people.csv:2: post_unit: no unit, compound, building or organisation "
            f"'{C1}-G009' (did you mean '{C1}-G003'?)"
        ],
    ),
    "home not a community": (
        replace("people.csv", f"P0000001,grid_worker,{C1}", "P0000001,grid_worker,990101001"),
        ["small/people.csv:2: home: '990101001' is a street (small/units.csv:3), not a community"],
    ),
    "unknown employer": (
        replace("people.csv", f",{C1}-O03,part_time", ",ACME,part_time"),
        ["small/people.csv:4: employer: no organisation 'ACME'"],
    ),
    "exclusive grid of another community": (
        replace("organisations.csv", f"{C1}-G003", "990101001002-G001"),
        [
            "small/organisations.csv:2: exclusive_grid: grid 990101001002-G001 belongs to "
            f"990101001002, not to the organisation's community {C1}"
        ],
    ),
    "organisation in a street": (
        replace("organisations.csv", f"enterprise,{C1},Enterprise 001-1", "enterprise,990101001,E"),
        [
            "small/organisations.csv:2: community: '990101001' is a street "
            "(small/units.csv:3), not a community",
        ],
    ),
    "compound in a grid": (
        replace("compounds.csv", f"{C1}-C01,{C1},", f"{C1}-C01,{C1}-G001,"),
        [
            f"small/compounds.csv:2: community: '{C1}-G001' is a grid (small/units.csv:5), "
            "not a community"
        ],
    ),
    "misspelt column": (
        replace("units.csv", "id,parent,level,", "id,parent,levle,"),
        [
            "small/units.csv:1: levle: unknown column 'levle' (did you mean 'level'? "
            "expected: id, parent, level, kind, name, code)"
        ],
    ),
    "unknown column": (
        replace(
            "buildings.csv", "id,grid,compound,households\n", "id,grid,compound,households,floors\n"
        ),
        [
            "small/buildings.csv:1: floors: unknown column 'floors' (expected: id, grid, "
            "compound, households)",
            *[f"small/buildings.csv:{n}: (row): 4 cells, the header has 5" for n in range(2, 22)],
        ],
    ),
    "missing required column": (
        replace("buildings.csv", "id,grid,compound,households\n", "id,grid,compound,floors\n"),
        [
            "small/buildings.csv:1: floors: unknown column 'floors' (expected: id, grid, "
            "compound, households)",
            "small/buildings.csv:1: households: required column missing",
        ],
    ),
    "row too short": (
        append("people.csv", b"P9,cadre\n"),
        ["small/people.csv:117: (row): 2 cells, the header has 7"],
    ),
    "unterminated quote": (
        append("people.csv", b'"P9,cadre\n'),
        ["small/people.csv:117: (file): not CSV: unexpected end of data"],
    ),
    "not UTF-8 (GBK)": (
        append("units.csv", "X,990101,street,town,桦南镇,\n".encode("gbk")),
        [
            "small/units.csv:14: (file): not UTF-8 text (byte 0xe8 at offset 773); it reads "
            "as GB18030/GBK: save it as UTF-8"
        ],
    ),
    "binary file": (
        write("people.csv", b"id,kind\x00\x01\x02"),
        ["small/people.csv:1: (file): not text: a NUL byte at offset 7 (a binary file?)"],
    ),
    "empty file": (
        write("compounds.csv", b""),
        ["small/compounds.csv:1: (header): empty file (expected a header line)"],
    ),
    "newer format": (
        replace("city.toml", "format = 1", "format = 2"),
        [
            "small/city.toml:1: format: bundle format 2 is newer than this gridgov reads "
            "(format 1); upgrade gridgov to load it"
        ],
    ),
    "city.toml not TOML": (
        replace("city.toml", "format = 1", "format = "),
        ["small/city.toml:1: (syntax): invalid TOML (column 10): Invalid value"],
    ),
    "unknown key in city.toml": (
        replace("city.toml", 'name = "Smalltown"', 'name = "Smalltown"\nnmae = "x"'),
        [
            "small/city.toml:6: city.nmae: unknown key (did you mean 'name'?) "
            "(expected: id, name, code, kind, unit_name)"
        ],
    ),
    "city.toml without id": (
        replace("city.toml", 'id = "990100"\n', ""),
        ["small/city.toml:3: city.id: missing (a string)"],
    ),
    "missing units.csv": (
        remove("units.csv"),
        ["small/units.csv:0: (file): missing (every bundle has one)"],
    ),
    "missing city.toml": (
        remove("city.toml"),
        ["small/city.toml:0: (file): missing (every bundle has one)"],
    ),
}


class TestBrokenBundles:
    """Each broken bundle gives exactly its problems, at FILE:LINE: column."""

    @pytest.mark.parametrize("case", sorted(CORPUS))
    def test_problem(self, bundle: Path, case: str) -> None:
        edit, expected = CORPUS[case]
        edit(bundle)
        assert shown(check_bundle(bundle), bundle) == expected
        with pytest.raises(CityError) as info:
            load_city(bundle)
        assert shown(list(info.value.problems), bundle) == expected

    def test_the_corpus_breaks_every_file(self) -> None:
        """Every file of the format has at least one broken example."""
        assert set(FILES) <= {CORPUS[c][0].__closure__[0].cell_contents for c in CORPUS}  # type: ignore[index]

    def test_every_problem_at_once(self, bundle: Path) -> None:
        """Three mistakes in three files: three problems, in file then line order."""
        for case in ("misspelt level", "negative households", "unknown employer"):
            CORPUS[case][0](bundle)
        assert [p.line for p in check_bundle(bundle)] == [3, 2, 4]

    def test_cap_then_count(self, bundle: Path) -> None:
        """Past 100 problems the rest are counted in one last line, and checking stops."""
        rows = "".join(f"B{i},nowhere,,1\n" for i in range(150))
        append("buildings.csv", rows.encode())(bundle)
        problems = check_bundle(bundle)
        assert len(problems) == 101
        assert str(problems[-1]).endswith(
            "(bundle): and at least 50 more problems (checking stopped there)"
        )

    def test_valid_bundle_has_no_problems(self, bundle: Path) -> None:
        assert check_bundle(bundle) == []


class TestTextAndFiles:
    """What a bundle's files may be: BOM, CRLF, column order, optional parts."""

    def test_bom_and_crlf(self, bundle: Path) -> None:
        """A BOM and CRLF line ends load to the same city."""
        for name in FILES:
            path = bundle / name
            path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
        same_city(small(), load_city(bundle))

    def test_columns_in_any_order_and_optional_left_out(self, bundle: Path) -> None:
        """Columns can come in any order; optional ones can be left out."""
        (bundle / "buildings.csv").write_text(
            "households,id,grid\n120,B1,990101001001-G001\n", encoding="utf-8"
        )
        (bundle / "compounds.csv").write_text("community,id\n", encoding="utf-8")
        for name in ("people.csv", "organisations.csv"):
            (bundle / name).unlink()
        city = load_city(bundle)
        assert city.buildings["B1"].households == 120
        assert city.buildings["B1"].compound is None
        assert city.summary()["households"] == 120
        assert not city.people

    def test_blank_lines_skipped(self, bundle: Path) -> None:
        append("people.csv", b"\n\n")(bundle)
        assert check_bundle(bundle) == []

    def test_folder_for_a_file(self, bundle: Path) -> None:
        (bundle / "people.csv").unlink()
        (bundle / "people.csv").mkdir()
        assert shown(check_bundle(bundle), bundle) == [
            "small/people.csv:0: (file): is a folder, not a file"
        ]

    def test_device_for_a_file(self, bundle: Path) -> None:
        """/dev/zero is refused unread (it would never end)."""
        (bundle / "people.csv").unlink()
        (bundle / "people.csv").symlink_to("/dev/zero")
        assert shown(check_bundle(bundle), bundle) == [
            "small/people.csv:0: (file): not a regular file (a device, pipe or socket)"
        ]

    def test_not_a_folder(self, tmp_path: Path) -> None:
        for path in (Path("/dev/zero"), tmp_path / "nothing"):
            with pytest.raises(CityError) as info:
                load_city(path)
            assert info.value.problems[0].key == "(bundle)"

    def test_file_instead_of_bundle(self, tmp_path: Path) -> None:
        file = tmp_path / "city.csv"
        file.write_text("id\n", encoding="utf-8")
        assert [p.message for p in check_bundle(file)] == [
            "not a folder (a city bundle is a folder with city.toml)"
        ]

    def test_huge_single_line(self, bundle: Path) -> None:
        """A line longer than the csv field limit is 'not CSV', not a crash."""
        write("people.csv", b"id," + b"x" * 300_000 + b"\n")(bundle)
        problems = shown(check_bundle(bundle), bundle)
        assert problems == [
            "small/people.csv:1: (file): not CSV: field larger than field limit (131072)"
        ]

    @pytest.mark.slow
    @pytest.mark.parametrize(
        ("name", "row"),
        [
            ("people.csv", b"P,wizard,nowhere,,nowhere,,\n"),
            ("units.csv", b"U,nowhere,stret,,,\n"),
            ("buildings.csv", b"B,nowhere,,-1\n"),
        ],
    )
    def test_50_mb_of_garbage(self, bundle: Path, name: str, row: bytes) -> None:
        """A malformed 50 MB file: a capped list of problems and a count, no crash."""
        with open(bundle / name, "ab") as handle:
            for _ in range(50_000_000 // len(row) // 1000):
                handle.write(row * 1000)
        problems = check_bundle(bundle)
        assert len(problems) == 101
        assert "more problems" in problems[-1].message


class TestNothingButCityError:
    """Whatever bytes a bundle file holds, only CityError comes out."""

    @settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        name=st.sampled_from(FILES),
        data=st.one_of(
            st.binary(max_size=300),
            st.text(string.printable + "，、向阳\ufeff\r", max_size=300).map(str.encode),
        ),
        keep=st.booleans(),
    )
    def test_fuzz(
        self, small_bundle: Path, tmp_path: Path, name: str, data: bytes, keep: bool
    ) -> None:
        folder = tmp_path / "fuzz"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(small_bundle, folder)
        path = folder / name
        path.write_bytes((path.read_bytes() if keep else b"") + data)
        caught: CityError | None = None
        try:
            load_city(folder)
        except CityError as error:
            caught = error
        if caught is not None:
            assert caught.problems
            assert all(p.file.startswith(str(folder)) for p in caught.problems)


class TestCityBuildRefuses:
    """City.build refuses the bad data a bundle refuses, naming each problem."""

    def test_wizard_post_nowhere_and_kindless_grid(self) -> None:
        city = small()
        units = [
            attrs.evolve(city.chain.unit(n), kind="")
            if n == "990101001001-G001"
            else city.chain.unit(n)
            for n in city.chain.units()
            if city.chain.level(n) is not Level.COMPOUND
        ]
        chain = CommandChain.from_units(
            units,
            city.compounds.values(),
            [(o.id, o.community) for o in city.organisations.values()],
        )
        wizard = Person(id="W1", kind="wizard", home="990101001001", normal_post=Post("cadre", "x"))  # type: ignore[arg-type]
        with pytest.raises(CityError) as info:
            City.build(
                city.name,
                chain,
                city.compounds.values(),
                city.buildings.values(),
                [*city.people.values(), wizard],
                city.organisations.values(),
            )
        assert isinstance(info.value, ChainError)
        assert [p.message for p in info.value.problems] == [
            "grid 990101001001-G001 has kind '', which is not one (expected one of: exclusive, "
            "rural, urban)",
            "person W1 has kind 'wizard', which is not one (expected one of: cadre, grid_worker, "
            "in_service_member, volunteer)",
            "person W1 has a normal post (cadre) at 'x', which is no unit, compound, building or "
            "organisation of the city",
        ]
        assert set(info.value.ids) >= {"W1", "990101001001-G001"}

    def test_bad_grid_worker_kind(self) -> None:
        city = small()
        person = next(iter(city.people.values()))
        bad = attrs.evolve(person, id="W2", grid_worker_kind="ful_time")  # type: ignore[arg-type]
        with pytest.raises(CityError, match="did you mean 'full_time'"):
            City.build(
                city.name,
                city.chain,
                city.compounds.values(),
                city.buildings.values(),
                [*city.people.values(), bad],
                city.organisations.values(),
            )


# ---------------------------------------------------------------- command line


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


class TestCommandLine:
    """A bundle goes everywhere a preset goes."""

    def test_city_from_bundle_same_json(
        self, bundle: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, preset_out, _ = run(capsys, "city", "--preset", "small", "--json")
        assert code == 0
        code, bundle_out, err = run(capsys, "city", "--from", str(bundle), "--json")
        assert (code, err) == (0, "")
        assert json.loads(bundle_out) == json.loads(preset_out)

    def test_export_bundle_then_from(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out = tmp_path / "exported"
        code, printed, _ = run(
            capsys, "export", "--preset", "small", "--format", "bundle", "--out", str(out)
        )
        assert (code, printed.strip()) == (0, str(out))
        assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
        code, from_bundle, _ = run(capsys, "export", "--from", str(out), "--format", "json")
        code2, from_preset, _ = run(capsys, "export", "--preset", "small", "--format", "json")
        assert (code, code2) == (0, 0)
        assert from_bundle == from_preset

    def test_export_bundle_needs_out(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, _, err = run(capsys, "export", "--preset", "small", "--format", "bundle")
        assert code == 2
        assert "--out" in err

    def test_preset_and_from_together(
        self, bundle: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, _, err = run(capsys, "city", "--preset", "small", "--from", str(bundle))
        assert code == 2
        assert "not both" in err

    def test_check_bundle_ok(self, bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert run(capsys, "check", str(bundle)) == (0, "ok (bundle)\n", "")

    def test_check_bundle_problems(self, bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
        CORPUS["misspelt level"][0](bundle)
        CORPUS["negative households"][0](bundle)
        code, out, err = run(capsys, "check", str(bundle))
        assert (code, out) == (1, "")
        assert err.splitlines() == [
            f"gridgov: error: {bundle}/units.csv:3: level: unknown level 'stret' (did you mean "
            "'street'? expected one of: district, street, community, grid)",
            f"gridgov: error: {bundle}/buildings.csv:2: households: must be 0 or more, got -4",
        ]

    def test_city_from_broken_bundle_one_line(
        self, bundle: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        CORPUS["misspelt level"][0](bundle)
        code, out, err = run(capsys, "city", "--from", str(bundle))
        assert (code, out) == (1, "")
        assert err == (
            f"gridgov: error: {bundle}/units.csv:3: level: unknown level 'stret' (did you mean "
            "'street'? expected one of: district, street, community, grid)\n"
        )


def test_errors_derive_from_gridgov_error() -> None:
    assert issubclass(CityError, ChainError)
    assert issubclass(CityError, GridgovError)
    assert Unit is not None  # re-exported names stay importable
    assert PersonKind is not None


# ---------------------------------------------------------------- scenarios

SCENARIO = """version = 1
name = "small"
seed = 1

[city]
{city}

[outbreak]
cases = [{{ compound = "990101001001-C01", day = 0 }}]

[run]
days = 4
"""


@pytest.fixture
def scenario_dir(bundle: Path) -> Path:
    """A folder with the small bundle, a scenario on it and one on the preset."""
    folder = bundle.parent
    (folder / "on_bundle.toml").write_text(SCENARIO.format(city='path = "small"'), encoding="utf-8")
    (folder / "on_preset.toml").write_text(
        SCENARIO.format(city='preset = "small"'), encoding="utf-8"
    )
    (folder / "sweep.toml").write_text(
        'version = 1\nname = "sw"\nscenario = "on_bundle.toml"\nreplicates = 2\n\n'
        '[parameters]\n"staffing.in_service_members" = [0.5, 1.0]\n',
        encoding="utf-8",
    )
    return folder


class TestScenarios:
    """A scenario or sweep names a bundle with [city] path; run_scenario takes any City."""

    def test_simulate_on_a_bundle_as_on_the_preset(
        self, scenario_dir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The same city from a bundle gives the same metrics, byte for byte."""
        for name in ("on_bundle", "on_preset"):
            code, _, err = run(
                capsys,
                "simulate",
                str(scenario_dir / f"{name}.toml"),
                "--out",
                str(scenario_dir / name),
                "--quiet",
                "--no-plots",
            )
            assert (code, err) == (0, "")
        on_bundle = (scenario_dir / "on_bundle" / "metrics.csv").read_bytes()
        assert on_bundle == (scenario_dir / "on_preset" / "metrics.csv").read_bytes()
        written = (scenario_dir / "on_bundle" / "scenario.toml").read_text(encoding="utf-8")
        assert f'path = "{scenario_dir / "small"}"' in written

    @pytest.mark.slow
    def test_sweep_on_a_bundle(
        self, scenario_dir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out = scenario_dir / "sweep"
        code, printed, err = run(
            capsys,
            "sweep",
            str(scenario_dir / "sweep.toml"),
            "--out",
            str(out),
            "--workers",
            "1",
            "--quiet",
        )
        assert (code, err) == (0, "")
        assert printed == f"4 runs written to {out}/sweep.csv\n"
        rows = (out / "sweep.csv").read_text(encoding="utf-8").splitlines()
        assert len(rows) == 5

    def test_path_and_preset(self, scenario_dir: Path) -> None:
        from gridgov.sim.scenario import load_scenario

        path = scenario_dir / "both.toml"
        path.write_text(SCENARIO.format(city='path = "small"\npreset = "small"'), encoding="utf-8")
        with pytest.raises(GridgovError) as info:
            load_scenario(path)
        assert [str(p) for p in info.value.problems] == [  # type: ignore[attr-defined]
            f"{path}:7: city.preset: give city.path (a city bundle) or city.preset, not both"
        ]

    def test_path_not_a_bundle(self, scenario_dir: Path) -> None:
        from gridgov.sim.scenario import load_scenario

        path = scenario_dir / "nowhere.toml"
        path.write_text(SCENARIO.format(city='path = "nowhere"'), encoding="utf-8")
        with pytest.raises(GridgovError) as info:
            load_scenario(path)
        assert [str(p) for p in info.value.problems] == [  # type: ignore[attr-defined]
            f"{path}:6: city.path: no city bundle at 'nowhere' (looked for "
            f"{scenario_dir / 'nowhere'}/city.toml)"
        ]

    def test_broken_bundle_problems_at_their_lines(self, scenario_dir: Path) -> None:
        from gridgov.sim.scenario import load_scenario

        CORPUS["negative households"][0](scenario_dir / "small")
        with pytest.raises(GridgovError) as info:
            load_scenario(scenario_dir / "on_bundle.toml")
        assert [str(p) for p in info.value.problems] == [  # type: ignore[attr-defined]
            f"{scenario_dir / 'small'}/buildings.csv:2: households: must be 0 or more, got -4"
        ]

    def test_a_bundle_changed_after_a_run_is_read_again(self, scenario_dir: Path) -> None:
        """The kept city is the bundle's as it is now: a bundle broken or
        replaced in the same process is checked and loaded again."""
        from gridgov.sim.scenario import load_scenario

        scenario = load_scenario(scenario_dir / "on_bundle.toml")
        same_city(scenario.build_city(), small())
        small(seed=2).save(scenario_dir / "small")
        same_city(load_scenario(scenario_dir / "on_bundle.toml").build_city(), small(seed=2))
        small().save(scenario_dir / "small")
        same_city(load_scenario(scenario_dir / "on_bundle.toml").build_city(), small())
        CORPUS["negative households"][0](scenario_dir / "small")
        with pytest.raises(GridgovError) as info:
            load_scenario(scenario_dir / "on_bundle.toml")
        assert [str(p) for p in info.value.problems] == [  # type: ignore[attr-defined]
            f"{scenario_dir / 'small'}/buildings.csv:2: households: must be 0 or more, got -4"
        ]

    def test_run_scenario_on_any_city(self, scenario_dir: Path) -> None:
        """Cases that the given city lacks are refused at their file and line."""
        from gridgov.errors import ScenarioError
        from gridgov.sim.runner import run_scenario
        from gridgov.sim.scenario import load_scenario

        scenario = load_scenario(scenario_dir / "on_preset.toml")
        city = load_city(scenario_dir / "small")
        assert run_scenario(scenario, city=city).summary == run_scenario(scenario).summary
        other = City.build(
            "Other",
            CommandChain.from_units(toy_units(), toy_compounds()),
            toy_compounds(),
        )
        with pytest.raises(ScenarioError) as info:
            run_scenario(scenario, city=other)
        assert [str(p) for p in info.value.problems] == [
            f"{scenario_dir / 'on_preset.toml'}:9: outbreak.cases[0].compound: no compound "
            "'990101001001-C01' in the city (Other)"
        ]


# ---------------------------------------------------------------- synthesis

LAKESIDE = """\
id,parent,level,kind,name,households,population,large_enterprises,hospitals
330100,,city,,Lakeside,,,,
330102,330100,district,urban_district,Old Town,,,,
330102001,330102,street,street,Bridge Street,,,,
330102001001,330102001,community,,Bridge Community,2400,,1,1
330102001002,330102001,community,,Mill Community,,5000,,
330105,330100,district,county,Hill County,,,,
330105201,330105,street,township,Pine Township,,,,
330105201201,330105201,community,,Pine Village,260,,,
"""


@pytest.fixture
def lakeside(tmp_path: Path) -> Path:
    path = tmp_path / "units.csv"
    path.write_text(LAKESIDE, encoding="utf-8")
    return path


class TestSynthesis:
    """A code list with household counts becomes a whole, valid, seeded city."""

    def test_grids_by_the_standard(self, lakeside: Path) -> None:
        """Urban grids of ~200 households, rural of ~50, one exclusive grid per large org."""
        from gridgov.synthesis import synthesize

        city = synthesize(lakeside, seed=1)
        chain = city.chain
        kinds = {
            c: Counter(chain.unit(g).kind for g in chain.children(c, "grid"))
            for c in chain.units("community")
        }
        # 2,400 / 200 = 12; 5,000 people / 2.1 = 2,381 households / 200 = 12; 260 / 50 = 5.
        assert kinds == {
            "330102001001": {"urban": 12, "exclusive": 2},
            "330102001002": {"urban": 12},
            "330105201201": {"rural": 5},
        }
        assert city.households("330102001001") == 2400
        assert city.households("330102001002") == round(5000 / 2.1)
        assert city.households("330105201201") == 260
        owners = sorted(o.kind for o in city.organisations.values() if o.exclusive_grid)
        assert owners == ["enterprise", "hospital"]
        assert chain.unit("330105201201").kind == "village"
        assert chain.unit("330102001001").kind == "community"

    def test_seed_deterministic(self, lakeside: Path, tmp_path: Path) -> None:
        from gridgov.synthesis import synthesize_bundle

        a = synthesize_bundle(lakeside, tmp_path / "a", seed=5)
        b = synthesize_bundle(lakeside, tmp_path / "b", seed=5)
        c = synthesize_bundle(lakeside, tmp_path / "c", seed=6)
        assert read_all(a) == read_all(b)
        assert read_all(a)["buildings.csv"] != read_all(c)["buildings.csv"]
        assert check_bundle(a) == []

    def test_grid_team(self, lakeside: Path) -> None:
        """1 full-time per grid, 1 professional per urban or exclusive grid, N part-time."""
        from gridgov.synthesis import synthesize

        summary = synthesize(lakeside).summary()
        by_kind = summary["grid_workers_by_kind"]
        assert by_kind["full_time"] == 12 + 2 + 12 + 5
        assert by_kind["professional"] == 12 + 2 + 12
        assert by_kind["part_time"] == round(2.7047 * 31)
        assert synthesize(lakeside, grid_workers=100).summary()["grid_workers"] == 100

    def test_rows_in_python(self) -> None:
        from gridgov.synthesis import synthesize

        rows = list(csv.DictReader(io.StringIO(LAKESIDE)))
        assert synthesize(rows, seed=2).summary() == synthesize(rows, seed=2).summary()

    def test_command_line(
        self, lakeside: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out = tmp_path / "lakeside"
        code, printed, err = run(capsys, "synth", str(lakeside), "--out", str(out), "--seed", "3")
        # Results on standard output: the table of counts, then the bundle's path.
        assert (code, err) == (0, "")
        assert "Lakeside (synthesised)" in printed
        assert printed.splitlines()[-1] == str(out)
        assert run(capsys, "check", str(out)) == (0, "ok (bundle)\n", "")
        code, printed, _ = run(capsys, "synth", str(lakeside), "--out", str(out), "--json")
        assert json.loads(printed)["summary"]["grids"]["total"] == 31
        assert json.loads(printed)["out"] == str(out)

    def test_command_line_errors_are_one_line(
        self, lakeside: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        missing = tmp_path / "missing.csv"
        code, out, err = run(capsys, "synth", str(missing), "--out", str(tmp_path / "o"))
        assert (code, out) == (1, "")
        assert err == f"gridgov: error: {missing}:0: (file): no such file\n"
        lakeside.write_text(LAKESIDE.replace(",2400,", ",lots,"), encoding="utf-8")
        code, out, err = run(capsys, "synth", str(lakeside), "--out", str(tmp_path / "o"))
        assert (code, out) == (1, "")
        assert err == (
            f"gridgov: error: {lakeside}:5: households: expected a whole number, 0 or more, "
            "got 'lots'\n"
        )
        assert not (tmp_path / "o").exists()

    @pytest.mark.parametrize(
        ("old", "new", "expected"),
        [
            (
                "330105201,330105,street,",
                "330105201,330105,township,",
                "units.csv:8: level: unknown level 'township' (expected one of: city, district, "
                "street, community)",
            ),
            (
                "330102001,330102,street,",
                "330102001,330102,stret,",
                "units.csv:4: level: unknown level 'stret' (did you mean 'street'? expected one "
                "of: city, district, street, community)",
            ),
            (
                "Pine Village,260,",
                "Pine Village,,",
                "units.csv:9: households: a community needs households (or population)",
            ),
            (
                "Pine Village,260,",
                "Pine Village,2.5e2,",
                "units.csv:9: households: expected a whole number, 0 or more, got '2.5e2'",
            ),
            (
                "330105201201,330105201,community",
                "330105201201,330105,community",
                "units.csv:9: parent: '330105' is a district, but a community answers to a street",
            ),
            (
                "330105,330100,district",
                "330105,,city",
                "units.csv:7: level: a second city (the first is at units.csv:2)",
            ),
            (
                "community,,Pine Village",
                "community,rurl,Pine Village",
                "units.csv:9: kind: unknown community kind 'rurl' (did you mean 'rural'? expected "
                "one of: community, urban, village, rural, or empty)",
            ),
            (
                "id,parent,level,kind,name,",
                "id,parent,level,kind,nmae,",
                "units.csv:1: nmae: unknown column 'nmae' (did you mean 'name'? expected: id, "
                "parent, level, kind, name, code, households, population, compounds, "
                "large_enterprises, hospitals, malls, large_institutions)",
            ),
        ],
    )
    def test_input_problems(self, lakeside: Path, old: str, new: str, expected: str) -> None:
        from gridgov.synthesis import synthesize

        lakeside.write_text(LAKESIDE.replace(old, new, 1), encoding="utf-8")
        with pytest.raises(CityError) as info:
            synthesize(lakeside)
        got = [str(p).replace(str(lakeside.parent) + os.sep, "") for p in info.value.problems]
        assert got == [expected]

    def test_recipe_default_is_the_file(self) -> None:
        """The packaged recipe file and Recipe's defaults agree, and docs show the file."""
        from gridgov.synthesis import Recipe

        assert Recipe.default() == Recipe()
        text = (ROOT / "src" / "gridgov" / "data" / "synthesis.toml").read_text(encoding="utf-8")
        assert f"```toml\n{text}```" in (ROOT / "docs" / "cities.md").read_text(encoding="utf-8")

    def test_recipe_file(self, lakeside: Path, tmp_path: Path) -> None:
        """A recipe file changes the ratios; its problems are at their lines."""
        from gridgov.synthesis import load_recipe, synthesize

        recipe = tmp_path / "recipe.toml"
        recipe.write_text("[grids]\nurban_households = 100\n", encoding="utf-8")
        city = synthesize(lakeside, recipe=load_recipe(recipe))
        assert city.summary()["grids"]["urban"] == 24 + 24
        recipe.write_text(
            "[grids]\nurban_households = 0\nrural_household = 50\n[people]\n"
            "volunteers_per_household = -1\n",
            encoding="utf-8",
        )
        with pytest.raises(CityError) as info:
            load_recipe(recipe)
        assert [str(p).replace(str(tmp_path) + os.sep, "") for p in info.value.problems] == [
            "recipe.toml:2: grids.urban_households: expected a whole number, 1 or more, got 0",
            "recipe.toml:3: grids.rural_household: unknown key; did you mean 'rural_households'? "
            "(allowed: "
            "urban_households, rural_households)",
            "recipe.toml:5: people.volunteers_per_household: expected a number, 0 or more, got -1",
        ]

    def test_jiamusi_is_one_use_of_synthesis(self, tmp_path: Path) -> None:
        """The preset's units table, written as CSV and synthesised, is the preset."""
        from gridgov.presets.jiamusi import PUBLISHED, units_table
        from gridgov.synthesis import INPUT_COLUMNS, synthesize

        rows = units_table(seed=4, scale=0.125)
        path = tmp_path / "jiamusi-units.csv"
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, [c for c, _ in INPUT_COLUMNS])
            writer.writeheader()
            writer.writerows(rows)
        workers = round(PUBLISHED["grid_workers"] * 0.125)  # type: ignore[operator]
        from_csv = synthesize(path, seed=4, grid_workers=workers)
        same_city(jiamusi(seed=4, scale=0.125), from_csv)


@st.composite
def unit_tables(draw: st.DrawFn) -> list[dict[str, object]]:
    """Random synthesis inputs: 1-2 districts of 1-2 streets of 1-3 communities."""
    rows: list[dict[str, object]] = [{"id": "C", "level": "city", "name": "Generated"}]
    for d in range(draw(st.integers(1, 2))):
        rows.append({"id": f"D{d}", "parent": "C", "level": "district"})
        for s in range(draw(st.integers(1, 2))):
            street = f"D{d}S{s}"
            kind = draw(st.sampled_from(["street", "town", "township"]))
            rows.append({"id": street, "parent": f"D{d}", "level": "street", "kind": kind})
            for c in range(draw(st.integers(1, 3))):
                rows.append(
                    {
                        "id": f"{street}C{c}",
                        "parent": street,
                        "level": "community",
                        "kind": draw(st.sampled_from(["", "urban", "rural"])),
                        "households": draw(st.integers(1, 3000)),
                        "large_enterprises": draw(st.integers(0, 2)),
                        "malls": draw(st.integers(0, 1)),
                    }
                )
    return rows


class TestSynthesisInvariants:
    """Whatever the table, synthesis keeps the standard and every household."""

    @settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(rows=unit_tables(), seed=st.integers(0, 2**32 - 1))
    def test_households_grids_and_round_trip(
        self, tmp_path: Path, rows: list[dict[str, object]], seed: int
    ) -> None:
        from gridgov.synthesis import synthesize

        city = synthesize(rows, seed=seed)
        chain = city.chain
        for row in rows:
            if row["level"] != "community":
                continue
            community = str(row["id"])
            households = int(row["households"])  # type: ignore[call-overload]
            assert city.households(community) == households
            urban = row["kind"] == "urban" or (
                row["kind"] == "" and chain.unit(str(row["parent"])).kind == "street"
            )
            size = 200 if urban else 50
            kinds = Counter(chain.unit(g).kind for g in chain.children(community, "grid"))
            assert kinds["urban" if urban else "rural"] == max(1, round(households / size))
            assert kinds["exclusive"] == row["large_enterprises"] + row["malls"]  # type: ignore[operator]
        check_every_building_in_exactly_one_grid(city)
        folder = tmp_path / "synth"
        shutil.rmtree(folder, ignore_errors=True)
        same_city(city, load_city(city.save(folder)))

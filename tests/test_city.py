"""City: validation of City.build, queries, and the invariants on generated cities."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gridgov import (
    BigPartyCommittee,
    Building,
    ChainError,
    City,
    CommandChain,
    Compound,
    GridgovError,
    Level,
    Organisation,
    Person,
    PersonKind,
    Post,
    UnknownUnitError,
)
from gridgov.model import GridWorkerKind
from gridgov.presets import small
from strategies import (
    TOY_CO_BUILDING,
    check_every_building_in_exactly_one_grid,
    check_every_grid_has_one_chain_to_the_city,
    cities,
    toy_compounds,
    toy_units,
)

#: Households of the toy city's buildings: (id, grid, compound, households).
TOY_BUILDINGS = (
    ("B1", "xy-s1-c1-g1", "xy-s1-c1-k1", 120),
    ("B2", "xy-s1-c1-g1", "xy-s1-c1-k1", 80),
    ("B3", "xy-s1-c1-g2", "xy-s1-c1-k1", 150),
    ("B4", "xy-s1-c1-g2", None, 0),
    ("B5", "xy-s1-c2-g1", "xy-s1-c2-k1", 60),
    ("B6", "xy-s2-c1-g1", None, 40),
    ("B7", "qj-s1-c1-g1", None, 30),
)


def toy_chain() -> CommandChain:
    return CommandChain.from_units(toy_units(), toy_compounds(), TOY_CO_BUILDING)


def toy_buildings() -> list[Building]:
    return [Building(id=b, grid=g, compound=k, households=h) for b, g, k, h in TOY_BUILDINGS]


def toy_organisations() -> list[Organisation]:
    return [
        Organisation(id="ORG1", kind="enterprise", community="xy-s1-c1", staff=120),
        Organisation(
            id="ORG2",
            kind="hospital",
            community="xy-s1-c1",
            staff=900,
            exclusive_grid="xy-s1-c1-g2",
        ),
        Organisation(id="ORG3", kind="institution", community="xy-s1-c2", staff=40),
    ]


def toy_people() -> list[Person]:
    return [
        Person(
            id="P1", kind=PersonKind.CADRE, home="xy-s1-c1", normal_post=Post("cadre", "xy-s1-c1")
        ),
        Person(
            id="P2",
            kind=PersonKind.IN_SERVICE_MEMBER,
            home="xy-s1-c1",
            normal_post=Post("in_service_member", "ORG1"),
            employer="ORG1",
        ),
        Person(
            id="P3",
            kind=PersonKind.GRID_WORKER,
            home="qj-s1-c1",
            normal_post=Post("grid_worker", "qj-s1-c1-g1"),
            grid_worker_kind=GridWorkerKind.FULL_TIME,
        ),
        Person(
            id="P4",
            kind=PersonKind.VOLUNTEER,
            home="xy-s1-c2",
            normal_post=Post("volunteer", "xy-s1-c2"),
        ),
    ]


def build_toy(**changes: object) -> City:
    """The toy city, with any of its parts replaced by ``changes``."""
    parts: dict[str, object] = {
        "compounds": toy_compounds(),
        "buildings": toy_buildings(),
        "people": toy_people(),
        "organisations": toy_organisations(),
    }
    parts.update(changes)
    return City.build("Toy", toy_chain(), **parts)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def city() -> City:
    """The toy city: the toy chain with seven buildings, three organisations, four people."""
    return build_toy()


def refused(**changes: object) -> ChainError:
    """Build the toy city with ``changes``; check it raises a ChainError and return it."""
    with pytest.raises(ChainError) as info:
        build_toy(**changes)
    assert isinstance(info.value, GridgovError)
    return info.value


class TestBuildValidation:
    """City.build refuses inconsistent cities with a ChainError naming the ids."""

    def test_toy_city_is_valid(self, city: City) -> None:
        """The toy city itself builds."""
        assert len(city.buildings) == len(TOY_BUILDINGS)

    def test_building_in_community_not_grid(self) -> None:
        """A building placed directly in a community is not in a grid."""
        bad = Building(id="B9", grid="xy-s1-c1", compound=None, households=3)
        error = refused(buildings=[*toy_buildings(), bad])
        assert str(error) == "building B9 is in 'xy-s1-c1', which is not a grid"
        assert error.ids == ("B9", "xy-s1-c1")

    def test_building_in_unknown_grid(self) -> None:
        """A building in a grid the chain does not know is refused."""
        bad = Building(id="B9", grid="nowhere", compound=None, households=3)
        error = refused(buildings=[*toy_buildings(), bad])
        assert "building B9 is in 'nowhere', which is not a grid" in str(error)
        assert "B9" in error.ids

    def test_compound_and_grid_in_different_communities(self) -> None:
        """A building whose grid and compound belong to different communities is refused."""
        bad = Building(id="B9", grid="xy-s1-c2-g1", compound="xy-s1-c1-k1", households=3)
        error = refused(buildings=[*toy_buildings(), bad])
        assert str(error) == (
            "building B9 is in grid xy-s1-c2-g1 and compound xy-s1-c1-k1, which are in "
            "different communities (xy-s1-c2 and xy-s1-c1)"
        )
        assert error.ids == ("B9", "xy-s1-c1-k1", "xy-s1-c2-g1")

    def test_unknown_compound(self) -> None:
        """A building naming a compound the city does not have is refused."""
        bad = Building(id="B9", grid="xy-s1-c1-g1", compound="xy-s1-c1-k9", households=3)
        error = refused(buildings=[*toy_buildings(), bad])
        assert str(error) == "building B9 names unknown compound xy-s1-c1-k9"
        assert error.ids == ("B9", "xy-s1-c1-k9")

    def test_compound_in_chain_but_not_given(self) -> None:
        """A compound of the chain that was not passed to build() is unknown to the city."""
        error = refused(compounds=toy_compounds()[1:])
        assert "building B1 names unknown compound xy-s1-c1-k1" in str(error)

    def test_compound_not_in_chain(self) -> None:
        """A compound the chain does not hold is refused."""
        extra = Compound(id="xy-s1-c1-k2", community="xy-s1-c1")
        error = refused(compounds=[*toy_compounds(), extra])
        assert str(error) == "compound xy-s1-c1-k2 is not in the command chain"
        assert error.ids == ("xy-s1-c1-k2",)

    def test_compound_community_disagrees_with_chain(self) -> None:
        """A compound whose community differs from its place in the chain is refused."""
        moved = Compound(id="xy-s1-c1-k1", community="xy-s1-c2", name="Garden")
        buildings = [
            *toy_buildings(),
            Building(id="B9", grid="xy-s1-c2-g1", compound="xy-s1-c1-k1", households=5),
        ]
        with pytest.raises(ChainError, match="xy-s1-c1-k1"):
            build_toy(compounds=[moved, toy_compounds()[1]], buildings=buildings[4:])

    @pytest.mark.parametrize("home", ["xy-s1-c1-g1", "xy-s1", "nowhere"])
    def test_person_living_outside_a_community(self, home: str) -> None:
        """A person must live in a community, not a grid, street or unknown place."""
        bad = Person(id="P9", kind=PersonKind.CADRE, home=home, normal_post=Post("cadre", "jms"))
        error = refused(people=[*toy_people(), bad])
        assert str(error) == f"person P9 lives in {home!r}, not a community"
        assert error.ids == ("P9",)

    def test_person_with_unknown_employer(self) -> None:
        """A person's employer must be an organisation of the city."""
        bad = Person(
            id="P9",
            kind=PersonKind.IN_SERVICE_MEMBER,
            home="xy-s1-c1",
            normal_post=Post("in_service_member", "xy-s1-c1"),
            employer="ORG9",
        )
        error = refused(people=[*toy_people(), bad])
        assert str(error) == "person P9 works for unknown ORG9"
        assert error.ids == ("P9",)

    @pytest.mark.parametrize("post", ["B3", "ORG2", "xy-s1-c1-k1", "xy-s1-c1-g2", "jms"])
    def test_person_posted_at_any_place_of_the_city(self, post: str) -> None:
        """A normal post may be at a building, an organisation or any node of the chain."""
        person = Person(
            id="P9", kind=PersonKind.CADRE, home="xy-s1-c1", normal_post=Post("c", post)
        )
        city = build_toy(people=[*toy_people(), person])
        assert city.people_at_post(post)[-1] == "P9"

    @pytest.mark.parametrize("post", ["nowhere", "P1", "B"])
    def test_person_posted_at_no_place_of_the_city(self, post: str) -> None:
        """A normal post at no building, organisation or node of the chain is refused."""
        person = Person(
            id="P9", kind=PersonKind.CADRE, home="xy-s1-c1", normal_post=Post("c", post)
        )
        error = refused(people=[*toy_people(), person])
        assert str(error) == (
            f"person P9 has a normal post (c) at {post!r}, which is no unit, compound, "
            "building or organisation of the city"
        )
        assert error.ids == ("P9",)

    def test_organisation_outside_a_community(self) -> None:
        """An organisation must sit in a community."""
        bad = Organisation(id="ORG9", kind="agency", community="xy")
        error = refused(organisations=[*toy_organisations(), bad])
        assert str(error) == "organisation ORG9 sits in 'xy', not a community"
        assert error.ids == ("ORG9",)

    @pytest.mark.parametrize(
        ("part", "what", "item"),
        [
            (
                "buildings",
                "building",
                Building(id="B1", grid="xy-s1-c1-g1", compound=None, households=1),
            ),
            ("compounds", "compound", Compound(id="xy-s1-c1-k1", community="xy-s1-c1")),
            (
                "people",
                "person",
                Person(
                    id="P1", kind=PersonKind.CADRE, home="xy-s1-c1", normal_post=Post("c", "jms")
                ),
            ),
            (
                "organisations",
                "organisation",
                Organisation(id="ORG1", kind="agency", community="xy-s1-c1"),
            ),
        ],
    )
    def test_duplicate_ids(self, part: str, what: str, item: object) -> None:
        """Two buildings (compounds, people, organisations) with one id are refused."""
        makers: dict[str, Callable[[], Sequence[object]]] = {
            "buildings": toy_buildings,
            "compounds": toy_compounds,
            "people": toy_people,
            "organisations": toy_organisations,
        }
        originals = makers[part]()
        error = refused(**{part: [*originals, item]})
        assert str(error) == f"duplicate {what} ids: {item.id}"  # type: ignore[attr-defined]
        assert error.ids == (item.id,)  # type: ignore[attr-defined]

    def test_all_problems_reported_together(self) -> None:
        """Independent problems are reported in one error with all their ids."""
        buildings = [
            *toy_buildings(),
            Building(id="B8", grid="xy", compound=None, households=1),
            Building(id="B9", grid="xy-s1-c1-g1", compound="nowhere", households=1),
        ]
        people = [
            *toy_people(),
            Person(id="P9", kind=PersonKind.CADRE, home="jms", normal_post=Post("cadre", "jms")),
        ]
        error = refused(buildings=buildings, people=people)
        assert "building B8 is in 'xy'" in str(error)
        assert "building B9 names unknown compound nowhere" in str(error)
        assert "person P9 lives in 'jms'" in str(error)
        assert {"B8", "B9", "P9"} <= set(error.ids)

    def test_long_problem_lists_truncated(self) -> None:
        """Past 20 problems the message says how many more there are; .ids keeps them all."""
        people = [
            Person(
                id=f"X{i:02d}", kind=PersonKind.CADRE, home="jms", normal_post=Post("cadre", "jms")
            )
            for i in range(25)
        ]
        error = refused(people=people)
        assert str(error).endswith("; and 5 more")
        assert str(error).count("not a community") == 20
        assert len(error.ids) == 25


class TestQueries:
    """Queries of a built city, checked against the toy city written out by hand."""

    def test_chain_of_command_of_building(self, city: City) -> None:
        """A building's chain of command starts at its grid and ends at the city."""
        assert city.chain_of_command("B5") == ("xy-s1-c2-g1", "xy-s1-c2", "xy-s1", "xy", "jms")

    def test_chain_of_command_of_units(self, city: City) -> None:
        """For units and compounds the chain starts with the node itself."""
        assert city.chain_of_command("xy-s1-c1-k1") == (
            "xy-s1-c1-k1",
            "xy-s1-c1",
            "xy-s1",
            "xy",
            "jms",
        )
        assert city.chain_of_command("qj") == ("qj", "jms")

    def test_ancestors_of_building(self, city: City) -> None:
        """community_of, street_of and district_of accept a building."""
        assert city.community_of("B6") == "xy-s2-c1"
        assert city.street_of("B6") == "xy-s2"
        assert city.district_of("B7") == "qj"
        assert city.ancestor("B3", "city") == "jms"
        assert city.ancestor("B3", Level.GRID) == "xy-s1-c1-g2"

    @pytest.mark.parametrize(
        ("node", "expected"),
        [
            ("B3", 150),
            ("B4", 0),
            ("xy-s1-c1-g1", 120 + 80),
            ("xy-s1-c1-g2", 150 + 0),
            ("xy-s1-c1-k1", 120 + 80 + 150),
            ("xy-s1-c2-k1", 60),
            ("xy-s1-c1", 120 + 80 + 150 + 0),
            ("xy-s1", 120 + 80 + 150 + 0 + 60),
            ("xy-s2", 40),
            ("xy", 120 + 80 + 150 + 0 + 60 + 40),
            ("qj", 30),
        ],
    )
    def test_households(self, city: City, node: str, expected: int) -> None:
        """Households are summed over buildings for grids, compounds and every level above."""
        assert city.households(node) == expected

    def test_city_households_is_sum_of_buildings(self, city: City) -> None:
        """The city's households equal the sum over all buildings, compounds counted once."""
        assert city.households("jms") == sum(h for *_, h in TOY_BUILDINGS)
        assert city.summary()["households"] == 480

    def test_grid_without_buildings_has_no_households(self) -> None:
        """A grid that covers no building holds zero households."""
        city = build_toy(buildings=toy_buildings()[:6])
        assert city.households("qj-s1-c1-g1") == 0
        assert city.households("qj") == 0
        assert city.buildings_of("qj-s1-c1-g1") == ()

    def test_buildings_of(self, city: City) -> None:
        """buildings_of lists a grid's or compound's buildings, or every building below a unit."""
        assert city.buildings_of("xy-s1-c1-g1") == ("B1", "B2")
        assert city.buildings_of("xy-s1-c1-k1") == ("B1", "B2", "B3")
        assert sorted(city.buildings_of("xy")) == ["B1", "B2", "B3", "B4", "B5", "B6"]
        assert sorted(city.buildings_of("jms")) == [b for b, *_ in TOY_BUILDINGS]

    @pytest.mark.parametrize(
        ("node", "expected"),
        [
            ("xy-s1-c1-g1", ("xy-s1-c1-k1",)),
            ("xy-s1-c1-g2", ("xy-s1-c1-k1",)),
            ("xy-s2-c1-g1", ()),
            ("xy-s1-c1-k1", ("xy-s1-c1-k1",)),
            ("xy-s1-c1", ("xy-s1-c1-k1",)),
            ("xy", ("xy-s1-c1-k1", "xy-s1-c2-k1")),
            ("qj", ()),
        ],
    )
    def test_compounds_of(self, city: City, node: str, expected: tuple[str, ...]) -> None:
        """compounds_of: a grid's covered compounds, or every compound below a unit."""
        assert tuple(sorted(city.compounds_of(node))) == expected

    def test_grids_of_compound(self, city: City) -> None:
        """grids_of_compound lists the grids covering a compound, sorted."""
        assert city.grids_of_compound("xy-s1-c1-k1") == ("xy-s1-c1-g1", "xy-s1-c1-g2")
        assert city.grids_of_compound("xy-s1-c2-k1") == ("xy-s1-c2-g1",)

    def test_big_party_committee_merges_located_and_linked(self, city: City) -> None:
        """The big party committee: organisations in the community plus its co-building links."""
        assert city.big_party_committee("xy-s1-c1") == BigPartyCommittee(
            community="xy-s1-c1", members=("ORG1", "ORG2", "ORG3")
        )
        assert city.big_party_committee("xy-s1-c2").members == ("ORG3",)

    def test_big_party_committee_empty(self, city: City) -> None:
        """A community with no co-building organisation has an empty committee."""
        assert city.big_party_committee("xy-s2-c1") == BigPartyCommittee(community="xy-s2-c1")

    def test_big_party_committee_of_non_community(self, city: City) -> None:
        """Asking a street for its big party committee is a ChainError."""
        with pytest.raises(ChainError, match="xy-s1 is not a community") as info:
            city.big_party_committee("xy-s1")
        assert info.value.ids == ("xy-s1",)

    def test_residents(self, city: City) -> None:
        """residents lists the people whose home is the community."""
        assert sorted(city.residents("xy-s1-c1")) == ["P1", "P2"]
        assert city.residents("xy-s2-c1") == ()

    def test_grids_by_kind(self, city: City) -> None:
        """grids(kind) filters on the grid kind."""
        assert sorted(city.grids("urban")) == ["xy-s1-c1-g1", "xy-s1-c2-g1", "xy-s2-c1-g1"]
        assert city.grids("exclusive") == ["xy-s1-c1-g2"]
        assert city.grids("rural") == ["qj-s1-c1-g1"]
        assert len(city.grids()) == 5

    def test_lookups(self, city: City) -> None:
        """compound, building, person and organisation return the objects given."""
        assert city.building("B5") == Building(
            id="B5", grid="xy-s1-c2-g1", compound="xy-s1-c2-k1", households=60
        )
        assert city.compound("xy-s1-c2-k1").name == "Orchard"
        assert city.person("P2").employer == "ORG1"
        assert city.organisation("ORG2").exclusive_grid == "xy-s1-c1-g2"

    def test_mappings_read_only(self, city: City) -> None:
        """The city's mappings cannot be changed."""
        with pytest.raises(TypeError):
            city.buildings["B1"] = Building(id="B1", grid="x", compound=None, households=1)  # type: ignore[index]

    def test_summary(self, city: City) -> None:
        """summary() counts the toy city correctly."""
        summary = city.summary()
        assert summary["districts"] == 2
        assert summary["streets"] == 3
        assert summary["communities"] == 4
        assert summary["grids"] == {"urban": 3, "rural": 1, "exclusive": 1, "total": 5}
        assert (summary["compounds"], summary["buildings"], summary["organisations"]) == (2, 7, 3)
        assert (summary["cadres"], summary["in_service_members"]) == (1, 1)
        assert (summary["grid_workers"], summary["volunteers"]) == (1, 1)
        assert summary["grid_workers_by_kind"] == {
            "full_time": 1,
            "professional": 0,
            "part_time": 0,
        }


#: City queries that must refuse an unknown id, with the kind of thing named.
CITY_QUERIES: dict[str, tuple[Callable[[City, str], object], str]] = {
    "building": (lambda c, n: c.building(n), "building"),
    "compound": (lambda c, n: c.compound(n), "compound"),
    "person": (lambda c, n: c.person(n), "person"),
    "organisation": (lambda c, n: c.organisation(n), "organisation"),
    "grids_of_compound": (lambda c, n: c.grids_of_compound(n), "compound"),
    "chain_of_command": (lambda c, n: c.chain_of_command(n), "unit"),
    "community_of": (lambda c, n: c.community_of(n), "unit"),
    "households": (lambda c, n: c.households(n), "unit"),
    "residents": (lambda c, n: c.residents(n), "unit"),
    "big_party_committee": (lambda c, n: c.big_party_committee(n), "unit"),
    "buildings_of": (lambda c, n: c.buildings_of(n), "unit"),
    "compounds_of": (lambda c, n: c.compounds_of(n), "unit"),
}


class TestUnknownIds:
    """City queries naming nothing raise UnknownUnitError, a GridgovError."""

    @pytest.mark.parametrize("query", sorted(CITY_QUERIES))
    def test_unknown_id(self, city: City, query: str) -> None:
        """The query raises UnknownUnitError saying what kind of thing was not found."""
        call, kind = CITY_QUERIES[query]
        with pytest.raises(UnknownUnitError) as info:
            call(city, "nowhere")
        assert isinstance(info.value, GridgovError)
        assert info.value.ids == ("nowhere",)
        assert str(info.value) == f"no {kind} with id 'nowhere' in this city"

    def test_unknown_grid_kind(self, city: City) -> None:
        """grids() with an unknown kind raises a GridgovError naming it."""
        with pytest.raises(GridgovError, match="suburban"):
            city.grids("suburban")

    def test_building_is_not_a_unit(self, city: City) -> None:
        """A compound id is not a building."""
        with pytest.raises(UnknownUnitError):
            city.building("xy-s1-c1-k1")


# ------------------------------------------------------------- invariants


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class TestInvariants:
    """DESIGN.md invariant 1 and the household roll-up hold on generated cities."""

    def test_invariants_on_toy_city(self, city: City) -> None:
        """The hand-written toy city satisfies both invariants."""
        check_every_building_in_exactly_one_grid(city)
        check_every_grid_has_one_chain_to_the_city(city)

    @SETTINGS
    @given(cities())
    def test_every_building_in_exactly_one_grid(self, city: City) -> None:
        """Every building is in a grid, and the grids' buildings cover each building once."""
        check_every_building_in_exactly_one_grid(city)

    @SETTINGS
    @given(cities())
    def test_every_grid_has_one_chain_to_the_city(self, city: City) -> None:
        """Each grid has exactly one commander at each level, up to the single city."""
        check_every_grid_has_one_chain_to_the_city(city)

    @SETTINGS
    @given(cities())
    def test_households_roll_up(self, city: City) -> None:
        """A community's (and the city's) households are the sum of its grids' buildings."""
        graph = city.chain.graph
        per_community: Counter[str] = Counter()
        for building in city.buildings.values():
            community = next(iter(graph.predecessors(building.grid)))
            per_community[community] += building.households
        for community in city.chain.units("community"):
            assert city.households(community) == per_community[community]
        total = sum(b.households for b in city.buildings.values())
        assert city.households(city.chain.city) == total
        assert city.summary()["households"] == total

    @SETTINGS
    @given(cities())
    def test_people_and_organisations_in_communities(self, city: City) -> None:
        """Everyone lives in a community; every organisation sits in one and on its committee."""
        graph = city.chain.graph
        for person in city.people.values():
            assert graph.nodes[person.home]["level"] == "community"
        for org in city.organisations.values():
            assert graph.nodes[org.community]["level"] == "community"
            assert org.id in city.big_party_committee(org.community).members

    @SETTINGS
    @given(cities(), st.data())
    def test_moving_building_across_communities_refused(
        self, city: City, data: st.DataObject
    ) -> None:
        """Moving a compound's building into another community's grid makes City.build refuse."""
        graph = city.chain.graph
        in_compounds = sorted(b for b, v in city.buildings.items() if v.compound is not None)
        building = city.building(data.draw(st.sampled_from(in_compounds)))
        home = next(iter(graph.predecessors(building.grid)))
        elsewhere = sorted(g for g in city.grids() if next(iter(graph.predecessors(g))) != home)
        assume(elsewhere)
        grid = data.draw(st.sampled_from(elsewhere))
        moved = attrs.evolve(building, grid=grid)
        others = [b for b in city.buildings.values() if b.id != building.id]
        with pytest.raises(ChainError, match="are in different communities") as info:
            City.build(
                city.name,
                city.chain,
                city.compounds.values(),
                [*others, moved],
                city.people.values(),
                city.organisations.values(),
            )
        assert building.id in info.value.ids


class TestPeopleIndexes:
    """The people by home and by post, made at the first question, answer as the people do."""

    @given(cities())
    @settings(max_examples=30, deadline=None)
    def test_as_the_people_say(self, city: City) -> None:
        """Each community's residents and each post's people are those of the people's
        columns, in the city's order; a place with no one has the empty tuple."""
        people = city.people
        for community in city.chain.units(Level.COMMUNITY):
            want = tuple(
                p for p, home in zip(people.ids, people.homes, strict=True) if home == community
            )
            assert city.residents(community) == want
        for post in {*people.post_units, city.chain.city}:
            want = tuple(
                p for p, at in zip(people.ids, people.post_units, strict=True) if at == post
            )
            assert city.people_at_post(post) == want

    def test_made_once_and_shared_by_copies(self) -> None:
        """Asked again, the same tuples come back (the index is kept, not made anew);
        a copy made before the first question answers alike."""
        city = small()
        twin = city.with_depots(())
        community = city.chain.units(Level.COMMUNITY)[0]
        first = city.residents(community)
        assert first
        assert city.residents(community) is first
        post = city.people.post_units[0]
        at_post = city.people_at_post(post)
        assert at_post
        assert city.people_at_post(post) is at_post
        assert twin.residents(community) == first
        assert twin.people_at_post(post) == at_post

    def test_residents_of_no_unit_is_refused(self) -> None:
        """residents names the unknown unit, before any index is made."""
        with pytest.raises(UnknownUnitError):
            small().residents("no-such-community")


class TestPlaceIndexes:
    """Which grids cover a compound and which compounds a grid covers, whatever order
    the buildings come in (in runs of one grid and compound, or shuffled)."""

    @given(cities(), st.randoms(use_true_random=False))
    @settings(max_examples=30, deadline=None)
    def test_as_the_buildings_say(self, city: City, rng: Any) -> None:
        """Each compound's grids and each grid's compounds are the distinct ones of its
        buildings, sorted."""
        buildings = list(city.buildings.values())
        rng.shuffle(buildings)
        shuffled = City.build(
            city.name,
            city.chain,
            city.compounds.values(),
            buildings,
            city.people.values(),
            city.organisations.values(),
        )
        for built in (city, shuffled):
            for compound in built.compounds:
                want = sorted({b.grid for b in buildings if b.compound == compound})
                assert built.grids_of_compound(compound) == tuple(want)
            for grid in built.grids():
                want = sorted({b.compound for b in buildings if b.grid == grid and b.compound})
                assert built.compounds_of(grid) == tuple(want)

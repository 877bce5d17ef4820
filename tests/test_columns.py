"""A city's people and buildings kept column by column, and a chain made from columns."""

from __future__ import annotations

import gc
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import given, settings

from gridgov import (
    ChainError,
    City,
    CommandChain,
    Level,
    Person,
    PersonKind,
    Post,
    UnknownUnitError,
    load_city,
)
from gridgov.model import (
    Building,
    Buildings,
    Compound,
    Compounds,
    GridWorkerKind,
    Organisation,
    Organisations,
    People,
)
from gridgov.presets import small
from strategies import cities


def _persons() -> list[Person]:
    return [
        Person("P1", PersonKind.CADRE, "C1", Post("cadre", "S1")),
        Person(
            "P2",
            PersonKind.GRID_WORKER,
            "C1",
            Post("grid_worker", "C1-G1"),
            employer="O1",
            grid_worker_kind=GridWorkerKind.PART_TIME,
        ),
        Person("P3", PersonKind.VOLUNTEER, "C2", Post("volunteer", "O2")),
    ]


class TestPeople:
    """People: a read-only mapping of id -> Person kept as one tuple per field."""

    def test_gives_back_equal_people(self) -> None:
        """Each person read back equals the one given, in the order given."""
        people = People.of(_persons())
        assert list(people) == ["P1", "P2", "P3"]
        assert list(people.values()) == _persons()
        assert dict(people.items()) == {p.id: p for p in _persons()}
        assert people["P2"] == _persons()[1]
        assert people.get("P9") is None
        assert "P3" in people
        assert "P9" not in people
        assert len(people) == 3

    def test_one_field_without_a_person(self) -> None:
        """kind, home, employer and normal_post read one field of one person."""
        people = People.of(_persons())
        assert people.kind("P2") is PersonKind.GRID_WORKER
        assert people.home("P3") == "C2"
        assert people.employer("P2") == "O1"
        assert people.employer("P1") is None
        assert people.normal_post("P3") == Post("volunteer", "O2")
        with pytest.raises(KeyError):
            people.kind("P9")

    def test_kind_given_as_text_is_the_kind(self) -> None:
        """A kind given as its plain string reads back as the PersonKind."""
        people = People(["P1"], ["cadre"], ["C1"], ["cadre"], ["S1"], [None], ["full_time"])
        assert people.kind("P1") is PersonKind.CADRE
        assert people["P1"].grid_worker_kind is GridWorkerKind.FULL_TIME

    def test_columns_of_different_lengths_refused(self) -> None:
        """Columns that do not line up are refused."""
        with pytest.raises(ValueError, match="one value per person"):
            People(["P1", "P2"], ["cadre"], ["C1"], ["cadre"], ["S1"], [None], [None])

    def test_duplicates_named(self) -> None:
        """Ids given twice are found."""
        people = People.of([*_persons(), _persons()[0]])
        assert people.duplicates() == {"P1"}
        assert People.of(_persons()).duplicates() == set()

    def test_equality(self) -> None:
        """Equal columns are equal; a plain dict of the same people is equal too."""
        assert People.of(_persons()) == People.of(_persons())
        assert People.of(_persons()) == {p.id: p for p in _persons()}
        assert People.of(_persons()) != People.of(_persons()[:2])

    def test_nothing_for_the_collector_per_person(self) -> None:
        """The columns hold no object per person that the cyclic collector tracks."""
        many = [
            Person(f"P{i}", PersonKind.VOLUNTEER, "C1", Post("volunteer", "O1"))
            for i in range(2000)
        ]
        people = People.of(many)
        del many
        gc.collect()
        assert sum(1 for o in gc.get_objects() if isinstance(o, Person)) < 100
        assert not gc.is_tracked(people.ids)
        assert not gc.is_tracked(people._index)


class TestBuildings:
    """Buildings: a read-only mapping of id -> Building kept as one tuple per field."""

    def test_gives_back_equal_buildings(self) -> None:
        """Each building read back equals the one given; one field reads without one."""
        given = [Building("B1", "G1", "C1", 20), Building("B2", "G1", None, 0)]
        buildings = Buildings.of(given)
        assert list(buildings.values()) == given
        assert buildings["B2"] == given[1]
        assert buildings.grid("B1") == "G1"
        assert buildings.compound("B2") is None
        assert buildings.households_of("B1") == 20
        assert buildings == {b.id: b for b in given}
        assert Buildings.of([*given, given[0]]).duplicates() == {"B1"}
        with pytest.raises(ValueError, match="one value per building"):
            Buildings(["B1"], ["G1"], [], [1])


class TestCompoundsAndOrganisations:
    """Compounds and Organisations: the same mapping for the other two tables."""

    def test_gives_back_equal_records(self) -> None:
        """Records read back equal the ones given; bad values are refused."""
        compounds = [Compound("C1", "X1", "Court", "residential", 2), Compound("C2", "X1")]
        table = Compounds.of(compounds)
        assert list(table.values()) == compounds
        assert table["C2"] == compounds[1]
        assert table.community("C1") == "X1"
        assert dict(table.items()) == {c.id: c for c in compounds}
        with pytest.raises(ValueError, match="entrances must be 1 or more"):
            Compounds(["C1"], ["X1"], [""], ["residential"], [0])
        organisations = [
            Organisation("O1", "mall", "X1", "Mall", 300, "X1-G9"),
            Organisation("O2", "enterprise", "X1"),
        ]
        orgs = Organisations.of(organisations)
        assert list(orgs.values()) == organisations
        assert orgs["O1"] == organisations[0]
        assert orgs == {o.id: o for o in organisations}
        assert Organisations.of([*organisations, organisations[1]]).duplicates() == {"O2"}
        with pytest.raises(ValueError, match="staff must be 0 or more"):
            Organisations(["O1"], ["mall"], ["X1"], [""], [-1], [None])

    def test_loaded_city_tracks_almost_nothing(self, tmp_path: Path, jiamusi_city: City) -> None:
        """A loaded Jiamusi adds a few hundred objects the collector tracks, not one per record."""
        jiamusi_city.save(tmp_path / "b")
        gc.collect()
        before = len(gc.get_objects())
        loaded = load_city(tmp_path / "b")
        gc.collect()
        records = len(loaded.people) + len(loaded.buildings) + len(loaded.compounds)
        assert records > 100_000
        assert len(gc.get_objects()) - before < 500


class TestCityColumns:
    """A city built from objects keeps them as columns and gives equal ones back."""

    @settings(max_examples=20, deadline=None)
    @given(cities())
    def test_city_of_its_own_objects_is_equal(self, city: City) -> None:
        """Rebuilding a city from the objects it gives back gives an equal city."""
        again = City.build(
            city.name,
            CommandChain.from_units(
                [city.chain.unit(n) for n in city.chain.units() if n not in city.compounds],
                city.compounds.values(),
                city.chain.co_building.edges(),
            ),
            city.compounds.values(),
            list(city.buildings.values()),
            list(city.people.values()),
            city.organisations.values(),
        )
        assert again.summary() == city.summary()
        assert again.people == city.people
        assert again.buildings == city.buildings
        assert again.chain.to_node_link() == city.chain.to_node_link()

    def test_a_negative_household_count_refused(self) -> None:
        """Buildings given as columns with a negative count are refused by name."""
        city = small()
        buildings = city.buildings
        counts = list(buildings.households)
        counts[0] = -3
        bad = Buildings(buildings.ids, buildings.grids, buildings.compounds, counts)
        with pytest.raises(ChainError, match=f"building {buildings.ids[0]} has -3 households"):
            City.build(
                city.name,
                city.chain,
                city.compounds.values(),
                bad,
                city.people,
                city.organisations.values(),
            )


class TestChainColumns:
    """A chain from columns is the chain from units; its graphs are made when asked."""

    def test_from_columns_equals_from_units(self) -> None:
        """The same nodes as columns make the same chain."""
        chain = small().chain
        units = [chain.unit(n) for n in chain.units()]
        again = CommandChain.from_columns(
            [u.id for u in units],
            [u.level for u in units],
            [u.name for u in units],
            [u.parent for u in units],
            [u.code for u in units],
            [u.kind for u in units],
            chain.co_building.edges(),
        )
        assert again.to_node_link() == chain.to_node_link()
        assert [again.unit(n) for n in again.units()] == units
        assert again.co_building_units(chain.units(Level.COMMUNITY)[0]) == chain.co_building_units(
            chain.units(Level.COMMUNITY)[0]
        )

    def test_from_columns_validates(self) -> None:
        """Columns break the rules as units do: a cycle, an unknown level, duplicates."""
        with pytest.raises(ChainError, match="cycle of command through A, B"):
            CommandChain.from_columns(
                ["C", "D", "S", "A", "B"],
                ["city", "district", "street", "community", "community"],
                ["", "", "", "", ""],
                [None, "C", "D", "B", "A"],
                ["", "", "", "", ""],
                ["", "", "", "", ""],
            )
        with pytest.raises(ChainError, match="unknown level 'town'"):
            CommandChain.from_columns(["C"], ["town"], [""], [None], [""], [""])
        with pytest.raises(ChainError, match="duplicate ids: D"):
            CommandChain.from_columns(
                ["C", "D", "D"],
                ["city", "district", "district"],
                ["", "", ""],
                [None, "C", "C"],
                ["", "", ""],
                ["", "", ""],
            )
        with pytest.raises(ChainError, match="one value per node"):
            CommandChain.from_columns(["C"], [], [], [], [], [])

    def test_graph_made_when_asked_and_frozen(self) -> None:
        """The graph of a chain from units is made on first use, once, and frozen."""
        chain = small().chain
        assert chain._graph is None
        graph = chain.graph
        assert chain.graph is graph
        assert nx.is_frozen(graph)
        assert set(graph) == set(chain.units())
        for node in chain.units():
            unit = chain.unit(node)
            assert graph.nodes[node]["level"] == unit.level.value
            assert list(graph.predecessors(node)) == ([unit.parent] if unit.parent else [])

    def test_kind_and_parent(self) -> None:
        """kind and parent read one field of a unit; an unknown id is named."""
        chain = small().chain
        grid = chain.units(Level.GRID)[0]
        assert chain.kind(grid) == chain.unit(grid).kind
        assert chain.parent(grid) == chain.unit(grid).parent
        with pytest.raises(UnknownUnitError):
            chain.kind("nowhere")
        with pytest.raises(UnknownUnitError):
            chain.parent("nowhere")

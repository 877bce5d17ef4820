"""CommandChain: validation, queries and exports."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridgov import (
    ChainError,
    City,
    CommandChain,
    Compound,
    GridgovError,
    Level,
    Unit,
    UnknownUnitError,
)
from strategies import (
    TOY_CITY,
    TOY_CO_BUILDING,
    TOY_COMMUNITIES,
    TOY_COMPOUNDS,
    TOY_DISTRICTS,
    TOY_GRIDS,
    TOY_STREETS,
    toy_compounds,
    toy_units,
)


@pytest.fixture(scope="module")
def chain() -> CommandChain:
    """The toy chain of tests/strategies.py."""
    return CommandChain.from_units(toy_units(), toy_compounds(), TOY_CO_BUILDING)


#: The toy chain's ids by level, written out independently of the chain.
TOY_LEVELS: dict[str, tuple[str, ...]] = {
    "city": (TOY_CITY,),
    "district": TOY_DISTRICTS,
    "street": TOY_STREETS,
    "community": TOY_COMMUNITIES,
    "grid": TOY_GRIDS,
    "compound": TOY_COMPOUNDS,
}
#: How far below the city each level sits (compounds hang under communities).
DEPTH = {"city": 0, "district": 1, "street": 2, "community": 3, "grid": 4, "compound": 4}
TOY_DEPTH = {node: DEPTH[level] for level, nodes in TOY_LEVELS.items() for node in nodes}


def unit(id: str, level: str, parent: str | None = None) -> Unit:
    return Unit(id=id, level=level, parent=parent)


#: A valid minimal line: city C > district D > street S > community M > grid G.
LINE = [
    unit("C", "city"),
    unit("D", "district", "C"),
    unit("S", "street", "D"),
    unit("M", "community", "S"),
    unit("G", "grid", "M"),
]


def graph_of(nodes: dict[str, str], edges: list[tuple[str, str]]) -> nx.DiGraph:
    """A command graph from ``{id: level}`` and commander -> subordinate edges."""
    graph = nx.DiGraph()
    for node, level in nodes.items():
        graph.add_node(node, level=level)
    graph.add_edges_from(edges)
    return graph


def rejected(build: Callable[[], Any]) -> ChainError:
    """Run ``build``, check it raises a ChainError, and return the error."""
    with pytest.raises(ChainError) as info:
        build()
    assert isinstance(info.value, GridgovError)
    return info.value


class TestValidation:
    """Every malformed chain is refused with a ChainError naming the offending ids."""

    def test_valid_line_accepted(self) -> None:
        """A city > district > street > community > grid line is a valid chain."""
        assert len(CommandChain.from_units(LINE)) == 5

    def test_cycle(self) -> None:
        """Two units commanding each other form a cycle of command."""
        graph = graph_of(
            {"C": "city", "D": "district", "S1": "street", "S2": "street"},
            [("C", "D"), ("S1", "S2"), ("S2", "S1")],
        )
        error = rejected(lambda: CommandChain(graph))
        assert "cycle of command through S1, S2" in str(error)
        assert {"S1", "S2"} <= set(error.ids)

    def test_cycle_through_from_units(self) -> None:
        """from_units refuses units whose parents loop back on themselves."""
        units = [*LINE, unit("A", "community", "B"), unit("B", "community", "A")]
        error = rejected(lambda: CommandChain.from_units(units))
        assert "cycle of command through A, B" in str(error)
        assert {"A", "B"} <= set(error.ids)

    def test_self_loop(self) -> None:
        """A unit commanding itself is refused."""
        graph = graph_of({"C": "city", "D": "district"}, [("C", "D"), ("D", "D")])
        error = rejected(lambda: CommandChain(graph))
        assert "D commands itself" in str(error)
        assert "D" in error.ids

    def test_two_commanders(self) -> None:
        """A node with two commanders is refused, naming it and both commanders."""
        graph = graph_of(
            {"C": "city", "D1": "district", "D2": "district", "S": "street"},
            [("C", "D1"), ("C", "D2"), ("D1", "S"), ("D2", "S")],
        )
        error = rejected(lambda: CommandChain(graph))
        assert str(error) == "S has 2 commanders (D1, D2); expected exactly one"
        assert error.ids == ("D1", "D2", "S")

    def test_level_skipped(self) -> None:
        """A street commanded directly by the city skips the district level."""
        error = rejected(lambda: CommandChain.from_units([*LINE, unit("S2", "street", "C")]))
        assert str(error) == (
            "street S2 is commanded by city C: skips a level (a street answers to a district)"
        )
        assert error.ids == ("C", "S2")

    def test_level_reversed(self) -> None:
        """A district commanded by a street reverses the levels."""
        error = rejected(lambda: CommandChain.from_units([*LINE, unit("D2", "district", "S")]))
        assert str(error) == (
            "district D2 is commanded by street S: reverses the levels "
            "(a district answers to a city)"
        )
        assert error.ids == ("D2", "S")

    def test_grid_outside_community(self) -> None:
        """A grid with no commander is outside any community."""
        error = rejected(lambda: CommandChain.from_units([*LINE, unit("G2", "grid")]))
        assert str(error) == "grid G2 is outside any community"
        assert error.ids == ("G2",)

    def test_compound_outside_community(self) -> None:
        """A compound node with no community above it is refused."""
        graph = graph_of({"C": "city", "D": "district", "K": "compound"}, [("C", "D")])
        error = rejected(lambda: CommandChain(graph))
        assert str(error) == "compound K is outside any community"
        assert error.ids == ("K",)

    def test_compound_under_grid_refused(self) -> None:
        """A compound answers to its community, not to a grid."""
        graph = graph_of(
            {
                "C": "city",
                "D": "district",
                "S": "street",
                "M": "community",
                "G": "grid",
                "K": "compound",
            },
            [("C", "D"), ("D", "S"), ("S", "M"), ("M", "G"), ("G", "K")],
        )
        error = rejected(lambda: CommandChain(graph))
        assert "compound K is commanded by grid G" in str(error)
        assert "a compound answers to a community" in str(error)

    def test_duplicate_unit_ids(self) -> None:
        """Two units with one id are refused."""
        error = rejected(lambda: CommandChain.from_units([*LINE, unit("G", "grid", "M")]))
        assert str(error) == "duplicate ids: G (every id must be unique)"
        assert error.ids == ("G",)

    def test_compound_id_clashing_with_unit(self) -> None:
        """A compound cannot reuse the id of a unit."""
        error = rejected(lambda: CommandChain.from_units(LINE, [Compound(id="M", community="M")]))
        assert "duplicate ids: M" in str(error)
        assert error.ids == ("M",)

    def test_unknown_level(self) -> None:
        """A node whose level is not a level of the chain is refused, listing the levels."""
        graph = graph_of({"C": "city", "X": "block"}, [("C", "X")])
        error = rejected(lambda: CommandChain(graph))
        assert str(error) == (
            "X has level 'block' (expected one of: city, district, street, community, grid, "
            "compound)"
        )
        assert error.ids == ("X",)

    def test_missing_level(self) -> None:
        """A node with no level attribute at all is refused."""
        graph = nx.DiGraph()
        graph.add_node("C", level="city")
        graph.add_edge("C", "X")
        error = rejected(lambda: CommandChain(graph))
        assert "X has level None" in str(error)
        assert error.ids == ("X",)

    def test_unit_without_commander(self) -> None:
        """A district with no parent has no commander."""
        error = rejected(lambda: CommandChain.from_units([*LINE, unit("D2", "district")]))
        assert str(error) == "district D2 has no commander (expected a city)"
        assert error.ids == ("D2",)

    def test_more_than_one_city(self) -> None:
        """Two cities make two tops."""
        error = rejected(lambda: CommandChain.from_units([*LINE, unit("C2", "city")]))
        assert str(error) == "more than one city: C, C2 (a chain has one top)"
        assert error.ids == ("C", "C2")

    def test_no_city(self) -> None:
        """A non-empty chain without a city is refused."""
        graph = graph_of({"D": "district"}, [])
        error = rejected(lambda: CommandChain(graph))
        assert "no city at the top of the chain" in str(error)

    def test_city_with_commander(self) -> None:
        """A city commanded by another unit is refused."""
        graph = graph_of({"C": "city", "D": "district"}, [("D", "C")])
        error = rejected(lambda: CommandChain(graph))
        assert "city C is commanded by D; a city has no commander" in str(error)
        assert {"C", "D"} <= set(error.ids)

    def test_commander_not_in_chain(self) -> None:
        """from_units refuses a parent id that names no unit."""
        error = rejected(lambda: CommandChain.from_units([*LINE, unit("G2", "grid", "nowhere")]))
        assert str(error) == (
            "commanders not in the chain: nowhere (every parent must be a unit of the chain)"
        )
        assert error.ids == ("nowhere",)

    def test_compound_of_unknown_community(self) -> None:
        """from_units refuses a compound whose community is not in the chain."""
        error = rejected(
            lambda: CommandChain.from_units(LINE, [Compound(id="K", community="nowhere")])
        )
        assert "commanders not in the chain: nowhere" in str(error)

    def test_all_problems_reported_together(self) -> None:
        """Independent problems are reported in one error, with all their ids."""
        units = [*LINE, unit("D2", "district"), unit("S2", "street", "C")]
        error = rejected(lambda: CommandChain.from_units(units))
        assert "district D2 has no commander" in str(error)
        assert "street S2 is commanded by city C: skips a level" in str(error)
        assert error.ids == ("C", "D2", "S2")

    def test_graph_is_copied(self) -> None:
        """Changing the graph after building the chain does not change the chain."""
        graph = graph_of({"C": "city", "D": "district"}, [("C", "D")])
        chain = CommandChain(graph)
        graph.add_node("X", level="district")
        graph.add_edge("C", "X")
        assert "X" not in chain
        assert chain.children("C") == ("D",)

    def test_chain_graph_frozen(self, chain: CommandChain) -> None:
        """The chain's graph cannot be modified in place."""
        with pytest.raises(nx.NetworkXError):
            chain.graph.add_node("intruder", level="grid")

    def test_empty_chain_has_no_city(self) -> None:
        """An empty chain is refused, or at least asking for its city is a ChainError."""
        with pytest.raises(ChainError):
            CommandChain(nx.DiGraph()).city  # noqa: B018


class TestStructure:
    """Basic structure of a valid chain."""

    def test_city(self, chain: CommandChain) -> None:
        """The city is the unit at the top."""
        assert chain.city == TOY_CITY

    def test_contains_units_and_compounds(self, chain: CommandChain) -> None:
        """Every unit and compound given is in the chain, nothing else."""
        expected = {
            TOY_CITY,
            *TOY_DISTRICTS,
            *TOY_STREETS,
            *TOY_COMMUNITIES,
            *TOY_GRIDS,
            *TOY_COMPOUNDS,
        }
        assert set(chain) == expected
        assert len(chain) == len(expected)
        assert "nowhere" not in chain

    @pytest.mark.parametrize(
        ("level", "expected"),
        [
            ("district", TOY_DISTRICTS),
            ("street", TOY_STREETS),
            ("community", TOY_COMMUNITIES),
            ("grid", TOY_GRIDS),
            ("compound", TOY_COMPOUNDS),
        ],
    )
    def test_units_by_level(
        self, chain: CommandChain, level: str, expected: tuple[str, ...]
    ) -> None:
        """units(level) lists exactly the units at that level."""
        assert sorted(chain.units(level)) == sorted(expected)

    def test_unit_keeps_attributes(self, chain: CommandChain) -> None:
        """unit() gives back the level, parent, name, code and kind given."""
        got = chain.unit("xy")
        assert (got.level, got.parent, got.name, got.code) == (
            Level.DISTRICT,
            "jms",
            "Xiangyang",
            "230803000000",
        )
        assert chain.unit("xy-s1-c1-g2").kind == "exclusive"
        assert chain.unit("xy-s1-c1-k1").level is Level.COMPOUND
        assert chain.unit("xy-s1-c1-k1").parent == "xy-s1-c1"

    def test_parent(self, chain: CommandChain) -> None:
        """parent() is the commander, None for the city."""
        assert chain.parent("xy-s1-c2-g1") == "xy-s1-c2"
        assert chain.parent("jms") is None

    def test_children(self, chain: CommandChain) -> None:
        """children() lists direct subordinates, sorted, optionally at one level."""
        assert chain.children("xy-s1-c1") == ("xy-s1-c1-g1", "xy-s1-c1-g2", "xy-s1-c1-k1")
        assert chain.children("xy-s1-c1", "compound") == ("xy-s1-c1-k1",)
        assert chain.children("xy-s1-c1", Level.GRID) == ("xy-s1-c1-g1", "xy-s1-c1-g2")
        assert chain.children("xy-s1-c1-g1") == ()


class TestQueries:
    """Queries up and down the chain."""

    def test_chain_of_command_of_grid(self, chain: CommandChain) -> None:
        """A grid's chain runs grid, community, street, district, city."""
        assert chain.chain_of_command("xy-s1-c2-g1") == (
            "xy-s1-c2-g1",
            "xy-s1-c2",
            "xy-s1",
            "xy",
            "jms",
        )

    def test_chain_of_command_of_compound(self, chain: CommandChain) -> None:
        """A compound's chain goes through its community, not a grid."""
        assert chain.chain_of_command("xy-s1-c1-k1") == (
            "xy-s1-c1-k1",
            "xy-s1-c1",
            "xy-s1",
            "xy",
            "jms",
        )

    def test_chain_of_command_of_community_and_city(self, chain: CommandChain) -> None:
        """A community's chain has four links; the city's is the city alone."""
        assert chain.chain_of_command("qj-s1-c1") == ("qj-s1-c1", "qj-s1", "qj", "jms")
        assert chain.chain_of_command("jms") == ("jms",)

    def test_below_everything(self, chain: CommandChain) -> None:
        """below(city) is every other unit, each once."""
        below = chain.below("jms")
        assert len(below) == len(set(below))
        assert set(below) == set(chain) - {"jms"}

    def test_below_breadth_first(self, chain: CommandChain) -> None:
        """below() lists nearer units before farther ones."""
        depths = [TOY_DEPTH[n] for n in chain.below("jms")]
        assert depths == sorted(depths)

    def test_below_at_level(self, chain: CommandChain) -> None:
        """below(node, level) keeps only units at that level in the subtree."""
        assert sorted(chain.below("xy", "grid")) == [
            "xy-s1-c1-g1",
            "xy-s1-c1-g2",
            "xy-s1-c2-g1",
            "xy-s2-c1-g1",
        ]
        assert chain.below("xy-s1", Level.COMMUNITY) == ["xy-s1-c1", "xy-s1-c2"]
        assert chain.below("xy", "compound") == ["xy-s1-c1-k1", "xy-s1-c2-k1"]
        assert chain.below("qj", "compound") == []

    def test_below_own_level_or_above_is_empty(self, chain: CommandChain) -> None:
        """Nothing lies below a unit at its own level or above it."""
        assert chain.below("xy-s1", "street") == []
        assert chain.below("xy-s1", "district") == []
        assert chain.below("xy-s1-c1-g1") == []

    def test_ancestor(self, chain: CommandChain) -> None:
        """ancestor() finds the unit at a level above, or the node itself at its level."""
        assert chain.ancestor("xy-s2-c1-g1", "street") == "xy-s2"
        assert chain.ancestor("xy-s2-c1-g1", Level.CITY) == "jms"
        assert chain.ancestor("xy-s2", "street") == "xy-s2"

    def test_community_street_district_of(self, chain: CommandChain) -> None:
        """community_of, street_of and district_of walk up from grids and compounds."""
        assert chain.community_of("xy-s1-c1-k1") == "xy-s1-c1"
        assert chain.community_of("xy-s1-c2-g1") == "xy-s1-c2"
        assert chain.community_of("qj-s1-c1") == "qj-s1-c1"
        assert chain.street_of("xy-s1-c2-k1") == "xy-s1"
        assert chain.street_of("qj-s1-c1-g1") == "qj-s1"
        assert chain.district_of("qj-s1-c1-g1") == "qj"
        assert chain.district_of("xy-s2") == "xy"

    def test_ancestor_below_node_refused(self, chain: CommandChain) -> None:
        """Asking a district for its community is a ChainError naming the district."""
        with pytest.raises(
            ChainError, match="xy is a district; it has no community above it"
        ) as info:
            chain.community_of("xy")
        assert info.value.ids == ("xy",)

    def test_compound_has_no_grid_above(self, chain: CommandChain) -> None:
        """A compound answers to its community, so it has no grid above it."""
        with pytest.raises(ChainError, match="no grid above"):
            chain.ancestor("xy-s1-c1-k1", "grid")

    def test_span_of_control(self, chain: CommandChain) -> None:
        """span_of_control counts direct subordinates by level."""
        assert chain.span_of_control("jms") == {"district": 2}
        assert chain.span_of_control("xy") == {"street": 2}
        assert chain.span_of_control("xy-s1-c1") == {"grid": 2, "compound": 1}
        assert chain.span_of_control("xy-s1-c1-g1") == {}

    @pytest.mark.parametrize(
        ("code", "expected"),
        [
            ("230803001002", "xy-s1-c2"),
            ("230804001001", "qj-s1-c1"),
            ("230800000000", "jms"),
            ("230800", "jms"),
            ("230804", "qj"),
            ("230803002", "xy-s2"),
            (" 230803 ", "xy"),
        ],
    )
    def test_by_code(self, chain: CommandChain, code: str, expected: str) -> None:
        """by_code resolves 12-digit codes, and 6 or 9 digits padded with zeros."""
        assert chain.by_code(code) == expected

    def test_by_code_unknown(self, chain: CommandChain) -> None:
        """An unknown code is an UnknownUnitError that quotes the code."""
        with pytest.raises(UnknownUnitError, match="'230899'") as info:
            chain.by_code("230899")
        assert isinstance(info.value, GridgovError)
        assert info.value.ids == ("230899",)

    @pytest.mark.parametrize(
        ("commander", "node", "expected"),
        [
            ("jms", "qj-s1-c1-g1", True),
            ("xy", "xy-s1-c1-k1", True),
            ("xy-s1", "xy-s1-c2-g1", True),
            ("xy-s1-c1-g1", "xy-s1-c1-g1", True),
            ("xy-s1", "xy-s2-c1-g1", False),
            ("qj", "xy-s1-c1", False),
            ("xy-s1-c1-g1", "xy-s1-c1", False),
            ("xy-s1-c1-g1", "xy-s1-c1-k1", False),
            ("xy-s1-c1-g1", "xy-s1-c1-g2", False),
        ],
    )
    def test_commands(self, chain: CommandChain, commander: str, node: str, expected: bool) -> None:
        """A unit commands itself and its subtree, not its superiors, siblings or cousins."""
        assert chain.commands(commander, node) is expected

    def test_co_building_units(self, chain: CommandChain) -> None:
        """co_building_units lists the organisations linked to a community, sorted."""
        assert chain.co_building_units("xy-s1-c1") == ("ORG1", "ORG3")
        assert chain.co_building_units("qj-s1-c1") == ()

    def test_co_building_is_not_command(self, chain: CommandChain) -> None:
        """Co-building organisations never appear in the command graph."""
        assert "ORG1" not in chain
        assert "ORG1" not in chain.graph
        assert set(chain.co_building.nodes) == {"ORG1", "ORG3", "xy-s1-c1"}


#: Queries on the chain that must refuse an unknown id.
CHAIN_QUERIES: dict[str, Callable[[CommandChain, str], object]] = {
    "unit": lambda c, n: c.unit(n),
    "level": lambda c, n: c.level(n),
    "parent": lambda c, n: c.parent(n),
    "children": lambda c, n: c.children(n),
    "chain_of_command": lambda c, n: c.chain_of_command(n),
    "ancestor": lambda c, n: c.ancestor(n, "city"),
    "community_of": lambda c, n: c.community_of(n),
    "street_of": lambda c, n: c.street_of(n),
    "district_of": lambda c, n: c.district_of(n),
    "below": lambda c, n: c.below(n),
    "below_level": lambda c, n: c.below(n, "grid"),
    "span_of_control": lambda c, n: c.span_of_control(n),
    "co_building_units": lambda c, n: c.co_building_units(n),
    "commands_node": lambda c, n: c.commands("jms", n),
}


class TestUnknownIds:
    """Queries naming no unit raise UnknownUnitError, a GridgovError."""

    @pytest.mark.parametrize("query", sorted(CHAIN_QUERIES))
    def test_unknown_id(self, chain: CommandChain, query: str) -> None:
        """The query raises UnknownUnitError naming the id."""
        with pytest.raises(UnknownUnitError) as info:
            CHAIN_QUERIES[query](chain, "nowhere")
        error = info.value
        assert isinstance(error, GridgovError)
        assert error.ids == ("nowhere",)
        assert error.unit == "nowhere"
        assert str(error) == "no unit with id 'nowhere' in this city"

    def test_unknown_commander(self, chain: CommandChain) -> None:
        """commands() with an unknown commander raises UnknownUnitError."""
        with pytest.raises(UnknownUnitError):
            chain.commands("nowhere", "xy-s1-c1-g1")

    @pytest.mark.parametrize(
        "query",
        [
            lambda c: c.below("jms", "block"),
            lambda c: c.units("block"),
            lambda c: c.ancestor("xy", "block"),
            lambda c: c.children("jms", "block"),
        ],
        ids=["below", "units", "ancestor", "children"],
    )
    def test_unknown_level_name(
        self, chain: CommandChain, query: Callable[[CommandChain], object]
    ) -> None:
        """A query given an unknown level name raises a GridgovError."""
        with pytest.raises(GridgovError, match="block"):
            query(chain)


def assert_same_chain(got: CommandChain, want: CommandChain) -> None:
    """Two chains have the same nodes, edges and unit attributes."""
    assert set(got) == set(want)
    assert set(got.graph.edges) == set(want.graph.edges)
    for node in want:
        assert got.unit(node) == want.unit(node)


class TestExports:
    """GraphML, node-link JSON and mermaid exports."""

    def test_graphml_round_trip_file(self, chain: CommandChain, tmp_path: Path) -> None:
        """write_graphml then read_graphml gives the same nodes, edges and levels."""
        path = tmp_path / "chain.graphml"
        chain.write_graphml(path)
        assert_same_chain(CommandChain.read_graphml(path), chain)

    def test_graphml_round_trip_bytes(self, chain: CommandChain, tmp_path: Path) -> None:
        """write_graphml to a binary buffer writes the same GraphML document."""
        buffer = io.BytesIO()
        chain.write_graphml(buffer)
        assert buffer.getvalue().startswith(b"<?xml")
        path = tmp_path / "buffer.graphml"
        path.write_bytes(buffer.getvalue())
        assert_same_chain(CommandChain.read_graphml(path), chain)

    def test_graphml_keeps_leading_zero_codes(self, tmp_path: Path) -> None:
        """Administrative codes survive the round trip as strings, not numbers."""
        units = [
            Unit(id="C", level="city", code="010000000000"),
            Unit(id="D", level="district", parent="C", code="010100000000"),
        ]
        path = tmp_path / "zeros.graphml"
        CommandChain.from_units(units).write_graphml(path)
        back = CommandChain.read_graphml(path)
        assert back.unit("D").code == "010100000000"
        assert back.by_code("010100") == "D"

    def test_graphml_round_trip_small_preset(self, small_city: City, tmp_path: Path) -> None:
        """The small preset's chain survives a GraphML round trip."""
        path = tmp_path / "small.graphml"
        small_city.chain.write_graphml(path)
        assert_same_chain(CommandChain.read_graphml(path), small_city.chain)

    def test_read_missing_file(self, tmp_path: Path) -> None:
        """Reading a file that does not exist is a ChainError naming the path."""
        path = tmp_path / "missing.graphml"
        with pytest.raises(ChainError, match=r"cannot read GraphML from .*missing\.graphml"):
            CommandChain.read_graphml(path)

    def test_read_invalid_chain(self, tmp_path: Path) -> None:
        """A well-formed GraphML file of an invalid chain is refused by validation."""
        path = tmp_path / "invalid.graphml"
        nx.write_graphml(graph_of({"C": "city", "S": "street"}, [("C", "S")]), path)
        with pytest.raises(ChainError, match="skips a level"):
            CommandChain.read_graphml(path)

    def test_read_malformed_xml(self, tmp_path: Path) -> None:
        """A file that is not XML is a ChainError."""
        path = tmp_path / "garbage.graphml"
        path.write_text("this is not <graphml")
        with pytest.raises(ChainError):
            CommandChain.read_graphml(path)

    def test_read_undirected_graph(self, tmp_path: Path) -> None:
        """An undirected GraphML file is a ChainError (a chain of command has directions)."""
        path = tmp_path / "undirected.graphml"
        graph = nx.Graph()
        graph.add_node("C", level="city")
        nx.write_graphml(graph, path)
        with pytest.raises(ChainError):
            CommandChain.read_graphml(path)

    def test_node_link_json(self, chain: CommandChain) -> None:
        """to_json is JSON with every node, its level, and every command edge."""
        data = json.loads(chain.to_json())
        levels = {node["id"]: node["level"] for node in data["nodes"]}
        assert set(levels) == set(chain)
        assert levels["xy-s1-c1-k1"] == "compound"
        assert levels["jms"] == "city"
        edges = {(e["source"], e["target"]) for e in data["edges"]}
        assert ("xy-s1", "xy-s1-c2") in edges
        assert len(edges) == len(TOY_DEPTH) - 1
        assert data["directed"] is True

    def test_node_link_dict_matches_json(self, chain: CommandChain) -> None:
        """to_node_link and to_json carry the same data."""
        assert json.loads(chain.to_json()) == json.loads(json.dumps(chain.to_node_link()))

    @pytest.mark.parametrize(
        ("depth", "levels"),
        [
            ("city", {"city"}),
            ("district", {"city", "district"}),
            (Level.STREET, {"city", "district", "street"}),
            ("community", {"city", "district", "street", "community"}),
            ("compound", {"city", "district", "street", "community", "grid", "compound"}),
        ],
    )
    def test_mermaid_depth(self, chain: CommandChain, depth: str, levels: set[str]) -> None:
        """to_mermaid draws exactly the units down to ``depth``, each linked to its commander."""
        text = chain.to_mermaid(depth)
        assert text.startswith("flowchart TD\n")
        drawn = re.findall(r'^    n(\S+)\["[^"]*<br/>(\w+)"\]$', text, flags=re.MULTILINE)
        assert {level for _, level in drawn} == levels
        expected = [n for level in levels for n in TOY_LEVELS[level]]
        assert len(drawn) == len(expected)
        arrows = re.findall(r"^    n\S+ --> n\S+$", text, flags=re.MULTILINE)
        assert len(arrows) == len(expected) - 1

    def test_mermaid_default_depth_is_street(self, chain: CommandChain) -> None:
        """By default the flowchart stops at streets."""
        text = chain.to_mermaid()
        assert "<br/>street" in text
        assert "<br/>community" not in text

    def test_mermaid_labels(self, chain: CommandChain) -> None:
        """Nodes are labelled by name, ids made safe for mermaid."""
        text = chain.to_mermaid("district")
        assert '    nxy["Xiangyang<br/>district"]' in text
        assert "    njms --> nxy" in text

    def test_mermaid_quotes_escaped(self) -> None:
        """A double quote in a name cannot break the mermaid label."""
        units = [Unit(id="C", level="city", name='The "Big" City')]
        text = CommandChain.from_units(units).to_mermaid("city")
        assert "The 'Big' City" in text


_LEVELS = ("city", "district", "street", "community", "grid", "compound")


@st.composite
def _unit_tables(draw: st.DrawFn) -> list[tuple[str, str, str | None]]:
    """A few units (id, level, commander id or None), often a valid chain, often not:
    levels skipped or reversed, cycles, self-command, several cities or none."""
    count = draw(st.integers(min_value=1, max_value=7))
    ids = [f"u{i}" for i in range(count)]
    out = []
    for i, uid in enumerate(ids):
        if draw(st.booleans()):  # mostly a proper chain: each level below the one before
            level = _LEVELS[min(i, 4)]
            parent = ids[i - 1] if i else None
        else:
            level = draw(st.sampled_from(_LEVELS))
            parent = draw(st.none() | st.sampled_from(ids))
        out.append((uid, level, parent))
    return out


class TestUnitsAgreeWithGraph:
    """A chain made from units is refused exactly when the same graph is (the units'
    quick check of the common case decides as the full check)."""

    @given(_unit_tables())
    def test_same_verdict_and_problems(self, table: list[tuple[str, str, str | None]]) -> None:
        """Accepted by both, or refused by both with the same problems."""
        graph = nx.DiGraph()
        for uid, level, _ in table:
            graph.add_node(uid, level=level)
        graph.add_edges_from((parent, uid) for uid, _, parent in table if parent is not None)
        units = [Unit(id=uid, level=Level(level), name=uid, parent=p) for uid, level, p in table]
        outcomes: list[list[str] | None] = []
        makers: list[Callable[[], CommandChain]] = [
            lambda: CommandChain(graph),
            lambda: CommandChain.from_units(units),
        ]
        for make in makers:
            try:
                make()
                outcomes.append(None)
            except ChainError as exc:
                outcomes.append(sorted(str(exc).split("; ")))
        assert outcomes[0] == outcomes[1]


# ------------------------------------------------------- compiled tables


@st.composite
def random_trees(draw: st.DrawFn) -> tuple[list[Unit], list[Compound]]:
    """Valid chains in any order: a city, districts, streets, communities, grids and
    compounds, a random number of each under random parents, ids drawn at random
    (so a commander's units are made in no particular order), codes sometimes
    missing."""
    names = iter(
        draw(
            st.lists(
                st.text("abcXY019-", min_size=1, max_size=6), min_size=80, max_size=80, unique=True
            )
        )
    )
    units = [Unit(id=next(names), level=Level.CITY, code="990000000000")]
    above = [units[0].id]
    for level in (Level.DISTRICT, Level.STREET, Level.COMMUNITY, Level.GRID):
        made = []
        for _ in range(draw(st.integers(1, 6))):
            parent = draw(st.sampled_from(above))
            code = draw(st.sampled_from(["", f"c{len(units)}"]))
            units.append(Unit(id=next(names), level=level, parent=parent, code=code))
            made.append(units[-1].id)
        if level is not Level.GRID:
            above = made
        else:
            communities = above
    compounds = [
        Compound(id=next(names), community=draw(st.sampled_from(communities)), name="")
        for _ in range(draw(st.integers(0, 6)))
    ]
    return draw(st.permutations(units)), compounds


class TestCompiledTables:
    """The chain's compiled tables (children, chains of command, codes) agree with
    their definition on the units, whatever order the units come in."""

    @given(random_trees(), st.booleans())
    def test_tables_match_the_units(
        self, tree: tuple[list[Unit], list[Compound]], as_columns: bool
    ) -> None:
        """Each node's units sorted, its chain of command walked up the parents, each
        code's unit, the units below breadth first, from units or from columns
        (levels as Level or as their names)."""
        units, compounds = tree
        nodes = [
            *units,
            *(Unit(c.id, Level.COMPOUND, c.name, c.community, kind=c.kind) for c in compounds),
        ]
        if as_columns:
            chain = CommandChain.from_columns(
                [u.id for u in nodes],
                [u.level.value if i % 2 else u.level for i, u in enumerate(nodes)],
                [u.name for u in nodes],
                [u.parent for u in nodes],
                [u.code for u in nodes],
                [u.kind for u in nodes],
            )
        else:
            chain = CommandChain.from_units(units, compounds)
        parent = {u.id: u.parent for u in nodes}
        for u in nodes:
            kids = tuple(sorted(n.id for n in nodes if n.parent == u.id))
            assert chain.children(u.id) == kids
            walk = [u.id]
            while parent[walk[-1]] is not None:
                walk.append(parent[walk[-1]])  # type: ignore[arg-type]
            assert chain.chain_of_command(u.id) == tuple(walk)
            assert chain.unit(u.id) == u
            queue, below = list(kids), []
            while queue:
                below.append(queue.pop(0))
                queue.extend(sorted(n.id for n in nodes if n.parent == below[-1]))
            assert chain.below(u.id) == below
        for u in nodes:
            if u.code:
                assert chain.by_code(u.code) == u.id
        assert list(chain) == [u.id for u in nodes]

    def test_a_leaf_has_no_units_and_an_unknown_id_is_refused(self, chain: CommandChain) -> None:
        """A grid commands none (the empty tuple); an id of no node is an unknown unit."""
        assert chain.children(TOY_GRIDS[0]) == ()
        assert chain.below(TOY_GRIDS[0]) == []
        with pytest.raises(UnknownUnitError):
            chain.children("no-such-unit")
        with pytest.raises(UnknownUnitError):
            chain.below("no-such-unit")

    def test_levels_by_name_give_the_same_chain(self) -> None:
        """from_columns takes levels as Level members or as their names alike."""
        ids = [u.id for u in LINE]
        names = [u.name for u in LINE]
        parents = [u.parent for u in LINE]
        codes, kinds = [""] * len(LINE), [""] * len(LINE)
        by_member = CommandChain.from_columns(
            ids, [u.level for u in LINE], names, parents, codes, kinds
        )
        by_name = CommandChain.from_columns(
            ids, [u.level.value for u in LINE], names, parents, codes, kinds
        )
        assert [by_name.unit(i) for i in ids] == [by_member.unit(i) for i in ids]
        assert all(type(by_name.level(i)) is Level for i in ids)
        with pytest.raises(ChainError, match="nope"):
            CommandChain.from_columns(
                ids, ["city", "district", "street", "nope", "grid"], names, parents, codes, kinds
            )

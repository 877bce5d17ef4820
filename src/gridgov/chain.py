"""The command chain: a networkx graph of who commands whom.

The chain is a tree of command, city -> district -> street -> community ->
grid, with each residential compound hanging under its community (a compound
is the unit that gets sealed; it may be covered by several grids). Co-building
links (a community's big party committee: the enterprises and institutions
that co-build with it) are kept in a separate undirected graph so that they
never blur the line of command.

The graph is the single source of truth; the chain compiles it once into
plain dicts (parent, children, the chain of command of every node) because
queries such as "who commands this building" sit on every hot path. A chain
made from units (:meth:`CommandChain.from_units`, as every city is) checks
the same rules on the units themselves and makes its networkx graphs only
when first asked for (:attr:`CommandChain.graph`, the exports): the graphs
are a dict or three per node, which Python's cyclic garbage collector would
otherwise walk on every full collection for the life of the city.
"""

from __future__ import annotations

import io
import itertools
import json
import operator
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import repeat
from os import PathLike
from typing import Any, cast
from xml.etree import ElementTree

import networkx as nx

from gridgov._grouping import grouped_sorted
from gridgov.errors import ChainError, UnknownUnitError
from gridgov.model import Compound, Level, Unit

__all__ = ["CommandChain"]

_NODE_KEYS = ("level", "name", "code", "kind")


class CommandChain:
    """The validated chain of command of one city.

    Build it with :meth:`from_units` (or from any ``networkx.DiGraph`` whose
    nodes carry a ``level`` attribute and whose edges run commander ->
    subordinate). Validation rejects cycles, a node with two commanders, a
    level skipped or reversed, a grid or compound outside any community, a
    unit without a commander and duplicate ids.

    Args:
        graph: the command graph; it is copied, later changes to it are ignored.
        co_building: undirected links between organisations and communities.

    Raises:
        ChainError: the graph breaks one of the rules above; the message lists
            every problem and ``.ids`` every offending id.
    """

    __slots__ = (
        "_by_code",
        "_children",
        "_city",
        "_co_building",
        "_graph",
        "_level",
        "_links",
        "_neighbours",
        "_table",
        "_up",
    )

    #: The city's id (see :attr:`city`; set when first asked for).
    _city: str

    def __init__(
        self,
        graph: nx.DiGraph | None,
        co_building: nx.Graph | None = None,
        *,
        _checked: bool = False,
        _table: _UnitTable | None = None,
        _links: list[tuple[str, str]] | None = None,
    ) -> None:
        # gridgov's own shortcuts, not API: from_units and a bundle's loader
        # pass no graph but ``_table`` (every node, in order, already
        # checked) and ``_links`` (the co-building links), and the graphs
        # are made when first asked for; ``_checked``: the loader already
        # checked every rule below, row by row, at its file and line.
        self._graph: nx.DiGraph | None = None
        self._co_building: nx.Graph | None = None
        self._links: list[tuple[str, str]] = _links if _links is not None else []
        if graph is not None:
            if not _checked:
                _validate(graph)
            self._graph = nx.freeze(graph.copy())
            links = co_building.copy() if co_building is not None else nx.Graph()
            self._co_building = nx.freeze(links)
            self._links = list(links.edges())
        if _table is None:
            assert graph is not None
            _table = _UnitTable()
            pred = graph.pred
            for node, data in graph.nodes(data=True):
                parents = list(pred[node])
                _table.add(
                    node,
                    Level(data["level"]),
                    str(data.get("name", "")),
                    parents[0] if parents else None,
                    str(data.get("code", "")),
                    str(data.get("kind", "")),
                )
        # Every node's fields as plain dicts (strings: nothing for the cyclic
        # garbage collector to walk); a Unit is made when one is asked for.
        self._table = _table
        level_of = self._level = _table.level
        # Column by column, at C speed (the table's dicts share one key order).
        nodes, levels = tuple(level_of), tuple(level_of.values())
        codes = tuple(_table.code.values())
        self._by_code: dict[str, str] = dict(
            zip(itertools.compress(codes, codes), itertools.compress(nodes, codes), strict=True)
        )
        by_level = {
            level: list(itertools.compress(nodes, map(operator.is_, levels, repeat(level))))
            for level in Level
        }
        # Each commander's units, sorted, grouped a run of one commander at a time
        # (a community's grids are made one after the other): no (commander, unit)
        # pair per node and no sort of them all, whose comparisons wander over
        # memory long out of the caches in a big city. Only nodes with units.
        parent_of = _table.parent
        commanders = tuple(parent_of.values())
        commanded = list(map(operator.is_not, commanders, repeat(None)))
        self._children: dict[str, tuple[str, ...]] = grouped_sorted(
            itertools.compress(commanders, commanded),  # type: ignore[arg-type]
            itertools.compress(tuple(parent_of), commanded),
        )
        # Top-down (a commander ranks above its units) so each node's chain is
        # its own id plus its commander's chain: (node,) + up[commander], a level
        # at a time; the city's commander (None) has the empty chain.
        up: dict[str | None, tuple[str, ...]] = {}
        get = up.get
        for level in Level:
            members = by_level[level]
            chains = map(get, map(parent_of.__getitem__, members), repeat(()))
            up.update(zip(members, map(operator.add, zip(members), chains), strict=True))
        self._up = cast("dict[str, tuple[str, ...]]", up)
        # Each node's co-building partners, sorted (what the queries ask).
        links = self._links
        self._neighbours = _sorted_groups(
            itertools.chain(links, ((b, a) for a, b in links)), distinct=True
        )

    # ----------------------------------------------------------- construction

    @classmethod
    def from_units(
        cls,
        units: Iterable[Unit],
        compounds: Iterable[Compound] = (),
        co_building: Iterable[tuple[str, str]] = (),
        *,
        _checked: bool = False,
    ) -> CommandChain:
        """Build a chain from units (each naming its parent) and compounds.

        Args:
            units: the units, city first or in any order.
            compounds: residential compounds; each hangs under its community.
            co_building: (organisation id, community id) co-building links.

        Raises:
            ChainError: duplicate ids, or any problem :class:`CommandChain` rejects.
        """
        table = _UnitTable()
        add = table.add
        duplicates: set[str] = set()
        for unit in units:
            if not add(
                unit.id, unit.level, str(unit.name), unit.parent, str(unit.code), str(unit.kind)
            ):
                duplicates.add(unit.id)
        for compound in compounds:
            if not add(
                compound.id,
                Level.COMPOUND,
                str(compound.name),
                compound.community,
                "",
                str(compound.kind),
            ):
                duplicates.add(compound.id)
        return cls._of_table(table, duplicates, list(co_building), _checked)

    @classmethod
    def from_columns(
        cls,
        ids: Sequence[str],
        levels: Sequence[Level | str],
        names: Sequence[str],
        parents: Sequence[str | None],
        codes: Sequence[str],
        kinds: Sequence[str],
        co_building: Iterable[tuple[str, str]] = (),
        *,
        _checked: bool = False,
    ) -> CommandChain:
        """Build a chain from its nodes given field by field (as a bundle's loader does).

        The same chain as :meth:`from_units` with one :class:`Unit` per node
        (compounds included, at level ``compound``), without making them.

        Args:
            ids, levels, names, parents, codes, kinds: one value per node, in
                order (the fields of :class:`Unit`; None for the city's parent).
            co_building: (organisation id, community id) co-building links.

        Raises:
            ChainError: the columns differ in length, a level is unknown,
                duplicate ids, or any problem :class:`CommandChain` rejects.
        """
        count = len(ids)
        if any(len(c) != count for c in (levels, names, parents, codes, kinds)):
            raise ChainError("every column of a chain needs one value per node")
        table = _UnitTable()
        # Levels given as Level already (a builder's, a bundle's) are taken as they
        # are, at C speed; any other is parsed (a Python call per node).
        exact = set(map(type, levels)) <= {Level}
        table.level = dict(zip(ids, levels if exact else map(_level, levels), strict=True))  # type: ignore[arg-type]
        table.name = dict(zip(ids, names, strict=True))
        table.parent = dict(zip(ids, parents, strict=True))
        table.code = dict(zip(ids, codes, strict=True))
        table.kind = dict(zip(ids, kinds, strict=True))
        duplicates: set[str] = set()
        if len(table.level) != count:
            seen: set[str] = set()
            duplicates = {i for i in ids if i in seen or seen.add(i)}  # type: ignore[func-returns-value]
        return cls._of_table(table, duplicates, list(co_building), _checked)

    @classmethod
    def _of_table(
        cls,
        table: _UnitTable,
        duplicates: set[str],
        co_building: list[tuple[str, str]],
        checked: bool,
    ) -> CommandChain:
        if duplicates:
            raise ChainError(
                f"duplicate ids: {', '.join(sorted(duplicates))} (every id must be unique)",
                duplicates,
            )
        level = table.level
        unknown = sorted({p for p in table.parent.values() if p is not None and p not in level})
        if unknown:
            raise ChainError(
                f"commanders not in the chain: {', '.join(unknown)} "
                "(every parent must be a unit of the chain)",
                unknown,
            )
        if not checked:
            _validate_units(table)
        return cls(None, _checked=True, _table=table, _links=co_building)

    @classmethod
    def read_graphml(cls, path: str | PathLike[str]) -> CommandChain:
        """Read a chain written by :meth:`write_graphml` (and validate it).

        Raises:
            ChainError: the file is not a valid command chain.
        """
        try:
            graph = nx.read_graphml(path)
        except (OSError, nx.NetworkXError, ValueError, ElementTree.ParseError) as exc:
            raise ChainError(f"cannot read GraphML from {path}: {exc}") from exc
        return cls(graph)

    # ---------------------------------------------------------------- queries

    @property
    def graph(self) -> nx.DiGraph:
        """The (frozen) command graph, commander -> subordinate."""
        graph = self._graph
        if graph is None:  # made from units: the graph is made once, when asked for
            graph = nx.DiGraph()
            table = self._table
            name, code, kind = table.name, table.code, table.kind
            for node, level in table.level.items():
                graph.add_node(
                    node, level=level.value, name=name[node], code=code[node], kind=kind[node]
                )
            graph.add_edges_from(
                (parent, node) for node, parent in table.parent.items() if parent is not None
            )
            self._graph = graph = nx.freeze(graph)
        return graph

    @property
    def co_building(self) -> nx.Graph:
        """The (frozen) co-building links between organisations and communities."""
        links = self._co_building
        if links is None:  # as the graph above
            links = nx.Graph()
            links.add_edges_from(self._links)
            self._co_building = links = nx.freeze(links)
        return links

    @property
    def city(self) -> str:
        """Id of the city at the top of the chain."""
        try:
            return self._city  # found once (a chain never changes): a case asks twice
        except AttributeError:
            got = self._city = next(n for n, lv in self._level.items() if lv is Level.CITY)
            return got

    def __contains__(self, node: object) -> bool:
        return node in self._level

    def __len__(self) -> int:
        return len(self._level)

    def __iter__(self) -> Iterator[str]:
        return iter(self._level)

    def unit(self, node: str) -> Unit:
        """The unit with id ``node``.

        Raises:
            UnknownUnitError: no such unit.
        """
        table = self._table
        try:
            level = table.level[node]
        except KeyError:
            raise UnknownUnitError(node) from None
        return Unit(
            node, level, table.name[node], table.parent[node], table.code[node], table.kind[node]
        )

    def level(self, node: str) -> Level:
        """The level of ``node``.

        Raises:
            UnknownUnitError: no such unit.
        """
        try:
            return self._level[node]
        except KeyError:
            raise UnknownUnitError(node) from None

    def parent(self, node: str) -> str | None:
        """The commander of ``node`` (None for the city).

        Raises:
            UnknownUnitError: no such unit.
        """
        try:
            return self._table.parent[node]
        except KeyError:
            raise UnknownUnitError(node) from None

    def kind(self, node: str) -> str:
        """The sub-kind of ``node`` (:attr:`Unit.kind`; e.g. a grid's ``urban``).

        Raises:
            UnknownUnitError: no such unit.
        """
        try:
            return self._table.kind[node]
        except KeyError:
            raise UnknownUnitError(node) from None

    def children(self, node: str, level: Level | str | None = None) -> tuple[str, ...]:
        """Direct subordinates of ``node``, sorted, optionally only at ``level``."""
        kids = self._children_of(node)
        if level is None:
            return kids
        want = _level(level)
        return tuple(k for k in kids if self._level[k] is want)

    def chain_of_command(self, node: str) -> tuple[str, ...]:
        """``node`` and every commander above it, up to the city.

        Raises:
            UnknownUnitError: no such unit.
        """
        try:
            return self._up[node]
        except KeyError:
            raise UnknownUnitError(node) from None

    def ancestor(self, node: str, level: Level | str) -> str:
        """The unit at ``level`` in the chain of command of ``node``.

        Raises:
            UnknownUnitError: no such unit.
            ChainError: ``node`` is above ``level``.
        """
        want = _level(level)
        for up in self.chain_of_command(node):
            if self._level[up] is want:
                return up
        raise ChainError(f"{node} is a {self._level[node]}; it has no {want} above it", [node])

    def community_of(self, node: str) -> str:
        """The community of a grid or compound (or the community itself)."""
        return self.ancestor(node, _COMMUNITY)

    def street_of(self, node: str) -> str:
        """The street (or township) of a unit."""
        return self.ancestor(node, _STREET)

    def district_of(self, node: str) -> str:
        """The district (or county) of a unit."""
        return self.ancestor(node, _DISTRICT)

    def commands(self, commander: str, node: str) -> bool:
        """True when ``node`` is ``commander`` or lies in its subtree.

        Raises:
            UnknownUnitError: either id names no unit.
        """
        self.level(commander)
        return commander in self.chain_of_command(node)

    def below(self, node: str, level: Level | str | None = None) -> list[str]:
        """Every unit below ``node`` (breadth first), optionally only at ``level``.

        Raises:
            UnknownUnitError: no such unit.
        """
        want = _level(level) if level is not None else None
        if want is not None and want.rank <= self.level(node).rank:
            return []
        out: list[str] = []
        queue = deque(self._children_of(node))
        # The levels above ``want``, found by identity in a short list: a level's rank
        # (a property, its dict keyed by the enum's hash in Python) read per unit cost
        # more than the walk itself.
        above = None if want is None else [lv for lv in Level if lv.rank < want.rank]
        while queue:
            current = queue.popleft()
            lv = self._level[current]
            if want is None or lv is want:
                out.append(current)
            if above is None or lv in above:
                queue.extend(self._children.get(current, ()))
        return out

    def units(self, level: Level | str | None = None) -> list[str]:
        """Ids of all units, or of those at ``level``, in graph order."""
        if level is None:
            return list(self._level)
        want = _level(level)
        return [n for n, lv in self._level.items() if lv is want]

    def span_of_control(self, node: str) -> dict[str, int]:
        """Direct subordinates of ``node`` counted by level."""
        counts: dict[str, int] = {}
        for kid in self._children_of(node):
            key = self._level[kid].value
            counts[key] = counts.get(key, 0) + 1
        return counts

    def by_code(self, code: str) -> str:
        """The unit whose administrative code is ``code``.

        Accepts the 12-digit code, or the 6-digit code of a district or city
        (padded with zeros), or 9 digits of a street.

        Raises:
            UnknownUnitError: no unit has that code.
        """
        full = code.strip().ljust(12, "0") if code.strip().isdigit() else code.strip()
        try:
            return self._by_code[full]
        except KeyError:
            raise UnknownUnitError(code, "unit with that administrative code;") from None

    def co_building_units(self, community: str) -> tuple[str, ...]:
        """Organisations linked to ``community`` for co-building, sorted."""
        self.unit(community)
        return self._neighbours.get(community, ())

    # ---------------------------------------------------------------- exports

    def write_graphml(self, path: str | PathLike[str] | io.BufferedIOBase) -> None:
        """Write the command graph as GraphML (networkx's writer)."""
        nx.write_graphml(self.graph, path)

    def to_node_link(self) -> dict[str, Any]:
        """The command graph as node-link JSON data (networkx's format)."""
        data: dict[str, Any] = nx.node_link_data(self.graph, edges="edges")
        return data

    def to_json(self) -> str:
        """The node-link data as a JSON string."""
        return json.dumps(self.to_node_link(), ensure_ascii=False, sort_keys=True)

    def to_mermaid(self, depth: Level | str = Level.STREET) -> str:
        """A mermaid flowchart of the top of the chain, down to ``depth``."""
        last = _level(depth).rank
        lines = ["flowchart TD"]
        for node in nx.topological_sort(self.graph):
            unit = self.unit(node)
            if unit.level.rank > last:
                continue
            label = (unit.name or node).replace('"', "'")
            lines.append(f'    n{_mermaid_id(node)}["{label}<br/>{unit.level}"]')
            if unit.parent is not None:
                lines.append(f"    n{_mermaid_id(unit.parent)} --> n{_mermaid_id(node)}")
        return "\n".join(lines) + "\n"

    # ---------------------------------------------------------------- private

    def _children_of(self, node: str) -> tuple[str, ...]:
        kids = self._children.get(node)
        if kids is not None:
            return kids
        if node in self._level:  # a unit that commands none
            return ()
        raise UnknownUnitError(node)


def _level(value: Level | str) -> Level:
    """``value`` as a Level, or a ChainError naming the levels there are."""
    try:
        return Level.parse(value) if not isinstance(value, Level) else value
    except ValueError as exc:
        raise ChainError(str(exc)) from None


def _mermaid_id(node: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in node)


def _validate(graph: nx.DiGraph) -> None:
    """Collect every structural problem of a command graph and raise them together."""
    if not graph.is_directed():
        raise ChainError("a command chain must be a directed graph (commander -> subordinate)")
    if graph.number_of_nodes() == 0:
        raise ChainError("no city at the top of the chain (the graph is empty)")
    found = _Problems()
    levels: dict[str, Level] = {}
    for node, data in graph.nodes(data=True):
        raw = data.get("level")
        try:
            levels[node] = Level(str(raw))
        except ValueError:
            names = ", ".join(m.value for m in Level)
            found(f"{node} has level {raw!r} (expected one of: {names})", node)
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    pred = graph.pred
    _check_tree(
        found,
        graph,
        levels,
        lambda node: sorted(pred[node]),
        cycles,
        list(nx.nodes_with_selfloops(graph)),
    )
    found.raise_any()


def _sorted_groups(
    pairs: Iterable[tuple[str, str]], distinct: bool = False
) -> dict[str, tuple[str, ...]]:
    """Each first item's second items, sorted (each pair once when ``distinct``)."""
    ordered = sorted(dict.fromkeys(pairs) if distinct else pairs)
    return {key: tuple(map(_SECOND, run)) for key, run in itertools.groupby(ordered, _FIRST)}


_FIRST = operator.itemgetter(0)
_SECOND = operator.itemgetter(1)
# Levels read once: a member read off its enum class goes through the enum type's
# ``__getattr__`` (Python 3.11), some 900 instructions each time.
_COMMUNITY, _STREET, _DISTRICT = Level.COMMUNITY, Level.STREET, Level.DISTRICT


class _UnitTable:
    """Every node of a chain, field by field: dicts keyed by id, in chain order."""

    __slots__ = ("code", "kind", "level", "name", "parent")

    def __init__(self) -> None:
        self.level: dict[str, Level] = {}
        self.name: dict[str, str] = {}
        self.parent: dict[str, str | None] = {}
        self.code: dict[str, str] = {}
        self.kind: dict[str, str] = {}

    def add(
        self, node: str, level: Level, name: str, parent: str | None, code: str, kind: str
    ) -> bool:
        """Add one node (its last fields win); False when its id was already there."""
        fresh = node not in self.level
        self.level[node] = level
        self.name[node] = name
        self.parent[node] = parent
        self.code[node] = code
        self.kind[node] = kind
        return fresh


def _validate_units(table: _UnitTable) -> None:
    """:func:`_validate` on the graph the units make, without making it."""
    units = table.parent
    if not units:
        raise ChainError("no city at the top of the chain (the graph is empty)")
    if _levels_in_order(table):
        return
    found = _Problems()
    cycles: list[list[str]] = []
    loops: list[str] = []
    done: set[str] = set()
    for start, parent in units.items():
        if parent == start:
            loops.append(start)
        path: list[str] = []
        on_path: dict[str, int] = {}
        node: str | None = start
        while node is not None and node not in done and node in units:
            if node in on_path:
                loop = path[on_path[node] :]
                if len(loop) > 1:
                    cycles.append(sorted(loop))
                break
            on_path[node] = len(path)
            path.append(node)
            node = units[node]
        done.update(path)
    no_one: list[str] = []
    _check_tree(
        found,
        units,
        table.level,
        lambda node: [p] if (p := units[node]) is not None else no_one,
        cycles,
        loops,
    )
    found.raise_any()


def _levels_in_order(table: _UnitTable) -> bool:
    """True when the units break no rule (the common case, checked at C speed): one
    city, without a commander, and every other unit commanded by a unit of the level
    above its own. Then the levels rise strictly up every chain of command, so no
    chain can come back to a unit: there is no cycle to look for."""
    units, levels = table.parent, table.level
    expected = map(_COMMANDER_LEVEL.__getitem__, map(levels.__getitem__, units))
    # The commander's level; None for the city's (no) commander.
    actual = map(cast("dict[str | None, Level]", levels).get, units.values())
    return operator.countOf(levels.values(), Level.CITY) == 1 and all(
        map(operator.is_, actual, expected)
    )


#: Each level's commanding level (None for the city).
_COMMANDER_LEVEL = {level: level.commander for level in Level}


class _Problems:
    """Problems of a chain and the ids at fault, raised together as one ChainError."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.ids: set[str] = set()

    def __call__(self, message: str, *offending: str) -> None:
        self.messages.append(message)
        self.ids.update(offending)

    def raise_any(self) -> None:
        if self.messages:
            raise ChainError("; ".join(self.messages), self.ids)


def _check_tree(
    problem: _Problems,
    nodes: Iterable[str],
    levels: dict[str, Level],
    commanders_of: Callable[[str], list[str]],
    cycles: list[list[str]],
    loops: list[str],
) -> None:
    """The rules of a chain of command, given each node's level and commanders."""
    for members in cycles:
        problem(f"cycle of command through {', '.join(members)}", *members)
    for node in loops:
        problem(f"{node} commands itself", node)

    cities = sorted(n for n, lv in levels.items() if lv is Level.CITY)
    if len(cities) > 1:
        problem(f"more than one city: {', '.join(cities)} (a chain has one top)", *cities)
    elif not cities:
        problem("no city at the top of the chain")

    for node in nodes:
        commanders = commanders_of(node)
        level = levels.get(node)
        if len(commanders) > 1:
            problem(
                f"{node} has {len(commanders)} commanders ({', '.join(commanders)}); "
                "expected exactly one",
                node,
                *commanders,
            )
        if level is None:
            continue
        expected = level.commander
        if not commanders:
            if level in (Level.GRID, Level.COMPOUND):
                problem(f"{level} {node} is outside any community", node)
            elif expected is not None:
                problem(f"{level} {node} has no commander (expected a {expected})", node)
            continue
        if expected is None:
            problem(
                f"{level} {node} is commanded by {', '.join(commanders)}; a city has no commander",
                node,
                *commanders,
            )
            continue
        for commander in commanders:
            above = levels.get(commander)
            if above is None or above is expected:
                continue
            how = "skips a level" if above.rank < expected.rank else "reverses the levels"
            problem(
                f"{level} {node} is commanded by {above} {commander}: {how} "
                f"(a {level} answers to a {expected})",
                node,
                commander,
            )

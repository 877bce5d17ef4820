"""The command chain: a networkx graph of who commands whom.

The chain is a tree of command, city -> district -> street -> community ->
grid, with each residential compound hanging under its community (a compound
is the unit that gets sealed; it may be covered by several grids). Co-building
links (a community's big party committee: the enterprises and institutions
that co-build with it) are kept in a separate undirected graph so that they
never blur the line of command.

The graph is the single source of truth; the chain compiles it once into
plain dicts (parent, children, the chain of command of every node) because
queries such as "who commands this building" sit on every hot path.
"""

from __future__ import annotations

import io
import json
from collections import deque
from collections.abc import Iterable, Iterator
from os import PathLike
from typing import Any
from xml.etree import ElementTree

import attrs
import networkx as nx

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

    __slots__ = ("_by_code", "_children", "_co_building", "_graph", "_level", "_units", "_up")

    def __init__(
        self,
        graph: nx.DiGraph,
        co_building: nx.Graph | None = None,
        *,
        _owned: bool = False,
        _checked: bool = False,
        _units: dict[str, Unit] | None = None,
    ) -> None:
        # ``_owned``: the graphs were made for this chain (by from_units), so
        # they need no defensive copy; ``_checked``: a city bundle's loader
        # already checked every rule below, row by row, and reported each at
        # its file and line; ``_units``: the graph's nodes as units, in its
        # order (from_units has them). All gridgov's own shortcuts, not API.
        if not _checked:
            _validate(graph)
        self._graph: nx.DiGraph = nx.freeze(graph if _owned else graph.copy())
        links = co_building if co_building is not None else nx.Graph()
        self._co_building: nx.Graph = nx.freeze(links if _owned else links.copy())
        if _units is None:
            _units = {}
            pred = graph.pred
            for node, data in graph.nodes(data=True):
                parents = list(pred[node])
                _units[node] = Unit(
                    id=node,
                    level=Level(data["level"]),
                    name=str(data.get("name", "")),
                    parent=parents[0] if parents else None,
                    code=str(data.get("code", "")),
                    kind=str(data.get("kind", "")),
                )
        # Compiled from the units (each naming its one commander, as the
        # graph says): plain dicts for the hot paths.
        self._units: dict[str, Unit] = _units
        self._level: dict[str, Level] = {node: unit.level for node, unit in _units.items()}
        self._by_code: dict[str, str] = {
            unit.code: node for node, unit in _units.items() if unit.code
        }
        kids: dict[str, list[str]] = {}
        by_level: dict[Level, list[Unit]] = {level: [] for level in Level}
        for node, unit in _units.items():
            by_level[unit.level].append(unit)
            if unit.parent is not None:
                kids.setdefault(unit.parent, []).append(node)
        self._children: dict[str, tuple[str, ...]] = {
            node: tuple(sorted(kids[node])) if node in kids else () for node in _units
        }
        # Top-down (a commander ranks above its units) so each node's chain is
        # its own id plus its commander's chain.
        up: dict[str, tuple[str, ...]] = {}
        for level in Level:
            for unit in by_level[level]:
                parent = unit.parent
                up[unit.id] = (unit.id, *up[parent]) if parent is not None else (unit.id,)
        self._up = up

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
        graph = nx.DiGraph()
        made: dict[str, Unit] = {}
        duplicates: set[str] = set()
        edges: list[tuple[str, str]] = []
        add_node = graph.add_node
        for unit in units:
            if unit.id in made:
                duplicates.add(unit.id)
            name, code, kind = unit.name, unit.code, unit.kind
            if type(name) is not str or type(code) is not str or type(kind) is not str:
                name, code, kind = str(name), str(code), str(kind)
                unit = attrs.evolve(unit, name=name, code=code, kind=kind)
            made[unit.id] = unit
            add_node(unit.id, level=unit.level.value, name=name, code=code, kind=kind)
            if unit.parent is not None:
                edges.append((unit.parent, unit.id))
        for compound in compounds:
            if compound.id in made:
                duplicates.add(compound.id)
            name, kind = str(compound.name), str(compound.kind)
            made[compound.id] = Unit(
                id=compound.id,
                level=Level.COMPOUND,
                name=name,
                parent=compound.community,
                code="",
                kind=kind,
            )
            add_node(compound.id, level=Level.COMPOUND.value, name=name, code="", kind=kind)
            edges.append((compound.community, compound.id))
        if duplicates:
            raise ChainError(
                f"duplicate ids: {', '.join(sorted(duplicates))} (every id must be unique)",
                duplicates,
            )
        unknown = sorted({p for p, _ in edges if p not in graph})
        if unknown:
            raise ChainError(
                f"commanders not in the chain: {', '.join(unknown)} "
                "(every parent must be a unit of the chain)",
                unknown,
            )
        graph.add_edges_from(edges)
        links = nx.Graph()
        links.add_edges_from(co_building)
        # The graph's nodes are the units as given, in the same order.
        return cls(graph, links, _owned=True, _checked=_checked, _units=made)

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
        return self._graph

    @property
    def co_building(self) -> nx.Graph:
        """The (frozen) co-building links between organisations and communities."""
        return self._co_building

    @property
    def city(self) -> str:
        """Id of the city at the top of the chain."""
        return next(n for n, lv in self._level.items() if lv is Level.CITY)

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
        try:
            return self._units[node]
        except KeyError:
            raise UnknownUnitError(node) from None

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
        """The commander of ``node`` (None for the city)."""
        return self.unit(node).parent

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
        return self.ancestor(node, Level.COMMUNITY)

    def street_of(self, node: str) -> str:
        """The street (or township) of a unit."""
        return self.ancestor(node, Level.STREET)

    def district_of(self, node: str) -> str:
        """The district (or county) of a unit."""
        return self.ancestor(node, Level.DISTRICT)

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
        while queue:
            current = queue.popleft()
            lv = self._level[current]
            if want is None or lv is want:
                out.append(current)
            if want is None or lv.rank < want.rank:
                queue.extend(self._children[current])
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
        if community not in self._co_building:
            return ()
        return tuple(sorted(self._co_building[community]))

    # ---------------------------------------------------------------- exports

    def write_graphml(self, path: str | PathLike[str] | io.BufferedIOBase) -> None:
        """Write the command graph as GraphML (networkx's writer)."""
        nx.write_graphml(self._graph, path)

    def to_node_link(self) -> dict[str, Any]:
        """The command graph as node-link JSON data (networkx's format)."""
        data: dict[str, Any] = nx.node_link_data(self._graph, edges="edges")
        return data

    def to_json(self) -> str:
        """The node-link data as a JSON string."""
        return json.dumps(self.to_node_link(), ensure_ascii=False, sort_keys=True)

    def to_mermaid(self, depth: Level | str = Level.STREET) -> str:
        """A mermaid flowchart of the top of the chain, down to ``depth``."""
        last = _level(depth).rank
        lines = ["flowchart TD"]
        for node in nx.topological_sort(self._graph):
            unit = self._units[node]
            if unit.level.rank > last:
                continue
            label = (unit.name or node).replace('"', "'")
            lines.append(f'    n{_mermaid_id(node)}["{label}<br/>{unit.level}"]')
            if unit.parent is not None:
                lines.append(f"    n{_mermaid_id(unit.parent)} --> n{_mermaid_id(node)}")
        return "\n".join(lines) + "\n"

    # ---------------------------------------------------------------- private

    def _children_of(self, node: str) -> tuple[str, ...]:
        try:
            return self._children[node]
        except KeyError:
            raise UnknownUnitError(node) from None


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
    problems: list[str] = []
    ids: set[str] = set()

    def problem(message: str, *offending: str) -> None:
        problems.append(message)
        ids.update(offending)

    levels: dict[str, Level] = {}
    for node, data in graph.nodes(data=True):
        raw = data.get("level")
        try:
            levels[node] = Level(str(raw))
        except ValueError:
            names = ", ".join(m.value for m in Level)
            problem(f"{node} has level {raw!r} (expected one of: {names})", node)

    for component in nx.strongly_connected_components(graph):
        if len(component) > 1:
            members = sorted(component)
            problem(f"cycle of command through {', '.join(members)}", *members)
    for node in nx.nodes_with_selfloops(graph):
        problem(f"{node} commands itself", node)

    cities = sorted(n for n, lv in levels.items() if lv is Level.CITY)
    if len(cities) > 1:
        problem(f"more than one city: {', '.join(cities)} (a chain has one top)", *cities)
    elif not cities and graph.number_of_nodes():
        problem("no city at the top of the chain")

    for node in graph:
        commanders = sorted(graph.pred[node])
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
    if problems:
        raise ChainError("; ".join(problems), ids)

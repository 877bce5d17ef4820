"""The foundation: building the Jiamusi preset, and chain-of-command lookups.

``city_build``
    Wall time and peak memory of ``gridgov.presets.jiamusi()`` (8,886 grids,
    about 1.03 million households, 107,000 people). Baseline for time: the
    same city poured into one plain networkx graph (every unit, compound,
    building and person a node with its attributes, one edge up to its
    parent), the naive design gridgov's City replaces. Memory is measured in
    fresh interpreters: the build's peak minus that of one that only imports
    gridgov, so the figure is the city's own.

``chain_lookup``
    ``city.chain_of_command(building_id)`` for random buildings, per lookup.
    Baseline: ``networkx.ancestors(city.chain.graph, grid)`` for the same
    buildings' grids, the query the compiled chain replaces.
"""

from __future__ import annotations

import functools
import random

import networkx as nx

import gridgov
from benchmarks import benchmark, figure, median_per_call, median_wall, peak_rss_mb
from gridgov.presets import jiamusi

BUILD_TARGET_S = 3.0
RSS_TARGET_MB = 400.0
LOOKUP_TARGET_US = 5.0

_IMPORT_ONLY = "import gridgov, gridgov.presets"
_BUILD = "import gridgov, gridgov.presets; city = gridgov.presets.jiamusi()"


@functools.cache
def _city() -> gridgov.City:
    return jiamusi()


def _as_one_graph(
    nodes: list[tuple[str, dict[str, object]]], edges: list[tuple[str, str]]
) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    return graph


def _flat_city(
    city: gridgov.City,
) -> tuple[list[tuple[str, dict[str, object]]], list[tuple[str, str]]]:
    """The city's data as plain node and edge lists, prepared outside the timing."""
    nodes: list[tuple[str, dict[str, object]]] = []
    edges: list[tuple[str, str]] = []
    for node, data in city.chain.graph.nodes(data=True):
        nodes.append((node, dict(data)))
    edges.extend(city.chain.graph.edges())
    for b in city.buildings.values():
        nodes.append((b.id, {"compound": b.compound, "households": b.households}))
        edges.append((b.grid, b.id))
    for p in city.people.values():
        nodes.append((p.id, {"kind": str(p.kind), "post": p.normal_post.unit}))
        edges.append((p.home, p.id))
    return nodes, edges


@benchmark("city_build")
def city_build(quick: bool) -> dict[str, dict[str, object]]:
    """Build the Jiamusi preset: wall time (median) and the city's own peak RSS."""
    repeat = 1 if quick else 3
    seconds, runs = median_wall(jiamusi, repeat)
    nodes, edges = _flat_city(_city())
    base_seconds, _ = median_wall(lambda: _as_one_graph(nodes, edges), repeat)
    import_only = peak_rss_mb(_IMPORT_ONLY)
    with_city = peak_rss_mb(_BUILD)
    return {
        "wall_time": figure(
            seconds,
            "s",
            BUILD_TARGET_S,
            f"gridgov.presets.jiamusi(), median of {repeat} in-process run(s)",
            baseline=base_seconds,
            baseline_what=(
                f"the same data as one plain networkx.DiGraph ({len(nodes):,} nodes, "
                f"{len(edges):,} edges), from prepared lists"
            ),
            runs=[round(r, 4) for r in runs],
        ),
        "peak_rss": figure(
            with_city - import_only,
            "MB",
            RSS_TARGET_MB,
            "peak RSS of a fresh interpreter building the preset, minus one that only "
            "imports gridgov (MB = 10**6 bytes)",
            baseline=import_only,
            baseline_what="peak RSS of a fresh interpreter that only imports gridgov",
            total=round(with_city, 1),
        ),
    }


@benchmark("chain_lookup")
def chain_lookup(quick: bool) -> dict[str, dict[str, object]]:
    """city.chain_of_command(building) per lookup, against networkx.ancestors."""
    city = _city()
    lookups, batch = (20_000, 2_000) if quick else (100_000, 10_000)
    buildings = random.Random(0).choices(sorted(city.buildings), k=lookups)
    grids = [city.buildings[b].grid for b in buildings]
    graph = city.chain.graph
    # Both sides must answer the same question, or the ratio means nothing.
    for b, g in zip(buildings[:100], grids[:100], strict=True):
        assert set(city.chain_of_command(b)[1:]) == nx.ancestors(graph, g), b
    seconds, batches = median_per_call(city.chain_of_command, buildings, batch)
    base_seconds, _ = median_per_call(functools.partial(nx.ancestors, graph), grids, batch)
    return {
        "chain_of_command": figure(
            seconds * 1e6,
            "us",
            LOOKUP_TARGET_US,
            f"city.chain_of_command(building_id), median of {batches} batches of "
            f"{batch:,} random buildings (of {len(city.buildings):,})",
            baseline=base_seconds * 1e6,
            baseline_what=(
                "networkx.ancestors(city.chain.graph, grid) for the same buildings' grids"
            ),
            lookups=lookups,
        ),
    }

"""Seamless coverage, as the practice demands: units tile their parent, places lie inside.

The practice cuts a city into grids "with reasonable boundaries, of moderate
size, covering everything without gaps" (合理定界、规模适度、无缝覆盖). With
geometry that becomes checks a grid office can run:

* the grids of a community tile it: their union equals the community (no
  **gap**, no piece **outside** it) and no two grids **overlap**; likewise
  communities tile their street, streets their district, districts the city;
* every building lies in its grid; every compound lies within its community;
  compounds do not overlap each other;
* every unit and compound has a shape (**missing** otherwise).

Each problem carries the ids involved, its area in m² (in the geometry's
:class:`~gridgov.geo.LocalProjection`) and a representative point in
longitude/latitude to go and look at. Pieces smaller than the tolerance are
ignored: floating-point slivers along shared edges are not gaps.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import shapely

from gridgov.city import City
from gridgov.geo.geometry import CityGeometry
from gridgov.model import Level

__all__ = ["DEFAULT_SLIVER_M", "DEFAULT_TOLERANCE_M2", "CoverageProblem", "check_coverage"]

#: Pieces smaller than this many m² are not reported (1 m², a hundredth of a
#: typical building's footprint).
DEFAULT_TOLERANCE_M2 = 1.0
#: Pieces thinner than this many metres on average (twice the area over the
#: perimeter) are slivers along a shared edge, not gaps: 5 cm is above the
#: 1e-7 degree (about 1 cm) precision of written coordinates.
DEFAULT_SLIVER_M = 0.05

_TILES = (
    (Level.CITY, Level.DISTRICT),
    (Level.DISTRICT, Level.STREET),
    (Level.STREET, Level.COMMUNITY),
    (Level.COMMUNITY, Level.GRID),
)


@attrs.frozen
class CoverageProblem:
    """One gap, overlap or misplaced shape."""

    #: ``gap``, ``outside``, ``overlap``, ``building_outside``, ``compound_outside`` or ``missing``.
    kind: str
    #: The ids involved: the parent first for ``gap``/``outside``, the two
    #: shapes for ``overlap``, the place and its unit otherwise.
    ids: tuple[str, ...]
    #: Area of the piece in m² (for a building outside its grid: its
    #: distance to the grid in m).
    area_m2: float
    #: A point on the piece, (longitude, latitude), or None.
    point: tuple[float, float] | None
    #: What is wrong, in words.
    message: str

    def __str__(self) -> str:
        return self.message


def check_coverage(
    city: City,
    geometry: CityGeometry,
    *,
    tolerance_m2: float = DEFAULT_TOLERANCE_M2,
    sliver_m: float = DEFAULT_SLIVER_M,
) -> list[CoverageProblem]:
    """Check that units tile their parents and places lie where they belong.

    Args:
        city: the city.
        geometry: its shapes.
        tolerance_m2: pieces smaller than this (m²) are ignored.
        sliver_m: pieces thinner than this on average (m) are ignored.

    Returns:
        Every problem found (empty when the coverage is seamless), parents in
        chain order.
    """
    proj = geometry.projection

    def point_of(piece: Any) -> tuple[float, float]:
        p = shapely.get_coordinates(proj.to_lonlat(shapely.point_on_surface(piece)))[0]
        return round(float(p[0]), 6), round(float(p[1]), 6)

    problems = _missing(city, geometry)
    for upper, lower in _TILES:
        problems += _tiling(city, geometry, upper, lower, tolerance_m2, sliver_m, point_of)
    problems += _compounds_placed(city, geometry, tolerance_m2, sliver_m, point_of)
    problems += _buildings_placed(city, geometry)
    return problems


def _missing(city: City, geometry: CityGeometry) -> list[CoverageProblem]:
    """Units and compounds without a shape."""
    chain = city.chain
    problems: list[CoverageProblem] = []
    for level in (Level.CITY, Level.DISTRICT, Level.STREET, Level.COMMUNITY, Level.GRID):
        for unit in chain.units(level):
            if unit not in geometry:
                problems.append(
                    CoverageProblem(
                        "missing", (unit,), 0.0, None, f"{level.value} {unit} has no shape"
                    )
                )
    for compound in city.compounds:
        if compound not in geometry:
            problems.append(
                CoverageProblem(
                    "missing", (compound,), 0.0, None, f"compound {compound} has no shape"
                )
            )
    return problems


def _tiling(
    city: City,
    geometry: CityGeometry,
    upper: Level,
    lower: Level,
    tolerance_m2: float,
    sliver_m: float,
    point_of: Callable[[Any], tuple[float, float]],
) -> list[CoverageProblem]:
    """Gaps in each ``upper`` unit not covered by its ``lower`` units, pieces of them
    outside it, and overlaps between them."""
    chain = city.chain
    problems: list[CoverageProblem] = []
    parents = [u for u in chain.units(upper) if u in geometry]
    kids_of: dict[str, list[str]] = {}
    for parent in parents:
        kids = [k for k in chain.children(parent, lower) if k in geometry]
        if kids:
            kids_of[parent] = kids
    if not kids_of:
        return problems
    order = list(kids_of)
    unions = np.empty(len(order), dtype=object)
    unions[:] = [shapely.union_all(geometry.metric(kids_of[p])) for p in order]
    mine = geometry.metric(order)
    gaps, spill = _differences(mine, unions, tolerance_m2)
    for parent, gap, out in zip(order, gaps, spill, strict=True):
        for piece in _pieces(gap, tolerance_m2, sliver_m):
            area = float(piece.area)
            problems.append(
                CoverageProblem(
                    "gap",
                    (parent,),
                    area,
                    point_of(piece),
                    f"gap in {upper.value} {parent}: {area:,.1f} m2 not covered by its "
                    f"{lower.value}s, near {_fmt(point_of(piece))}",
                )
            )
        for piece in _pieces(out, tolerance_m2, sliver_m):
            area = float(piece.area)
            kids = kids_of[parent]
            hit = [
                k for k, g in zip(kids, geometry.metric(kids), strict=True) if g.intersects(piece)
            ]
            verb = "reaches" if len(hit) == 1 else "reach"
            problems.append(
                CoverageProblem(
                    "outside",
                    (parent, *hit),
                    area,
                    point_of(piece),
                    f"{', '.join(hit)} of {upper.value} {parent} {verb} "
                    f"{area:,.1f} m2 outside it, near {_fmt(point_of(piece))}",
                )
            )
    problems += _overlaps(
        [k for p in order for k in kids_of[p]],
        geometry,
        lower.value,
        tolerance_m2,
        sliver_m,
        point_of,
    )
    return problems


def _compounds_placed(
    city: City,
    geometry: CityGeometry,
    tolerance_m2: float,
    sliver_m: float,
    point_of: Callable[[Any], tuple[float, float]],
) -> list[CoverageProblem]:
    """Compounds within their community, and apart from each other."""
    problems: list[CoverageProblem] = []
    compounds = [c for c in city.compounds if c in geometry]
    communities = [city.compounds[c].community for c in compounds]
    present = [(c, m) for c, m in zip(compounds, communities, strict=True) if m in geometry]
    if present:
        _, outs = _differences(
            geometry.metric([m for _, m in present]),
            geometry.metric([c for c, _ in present]),
            tolerance_m2,
            gaps=False,
        )
        for (compound, community), out in zip(present, outs, strict=True):
            for piece in _pieces(out, tolerance_m2, sliver_m):
                area = float(piece.area)
                problems.append(
                    CoverageProblem(
                        "compound_outside",
                        (compound, community),
                        area,
                        point_of(piece),
                        f"compound {compound}: {area:,.1f} m2 outside its community {community}, "
                        f"near {_fmt(point_of(piece))}",
                    )
                )
    problems += _overlaps(compounds, geometry, "compound", tolerance_m2, sliver_m, point_of)
    return problems


def _buildings_placed(city: City, geometry: CityGeometry) -> list[CoverageProblem]:
    """Buildings in their grid, and with a point."""
    problems: list[CoverageProblem] = []
    bids = [b for b in city.buildings if b in geometry and city.buildings[b].grid in geometry]
    if bids:
        grids = [city.buildings[b].grid for b in bids]
        inside = shapely.covers(geometry.geoms(grids), geometry.geoms(bids))
        for k in np.flatnonzero(~inside):
            b, g = bids[k], grids[k]
            pt = geometry.metric([b])[0]
            dist = float(shapely.distance(geometry.metric([g])[0], pt))
            lonlat = shapely.get_coordinates(geometry[b])[0]
            where = (round(float(lonlat[0]), 6), round(float(lonlat[1]), 6))
            problems.append(
                CoverageProblem(
                    "building_outside",
                    (b, g),
                    dist,
                    where,
                    f"building {b} at {_fmt(where)} is {dist:,.1f} m outside its grid {g}",
                )
            )
    for b in city.buildings:
        if b not in geometry:
            problems.append(
                CoverageProblem("missing", (b,), 0.0, None, f"building {b} has no point")
            )
    return problems


def _overlaps(
    ids: list[str],
    geometry: CityGeometry,
    what: str,
    tolerance: float,
    sliver: float,
    point_of: Any,
) -> list[CoverageProblem]:
    """Pairs of shapes whose interiors overlap by more than ``tolerance`` m²."""
    if len(ids) < 2:
        return []
    shapes = geometry.metric(ids)
    tree = shapely.STRtree(shapes)
    left, right = tree.query(shapes, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if not len(left):
        return []
    touching = shapely.relate_pattern(shapes[left], shapes[right], "2********")
    left, right = left[touching], right[touching]
    out: list[CoverageProblem] = []
    if not len(left):
        return out
    pieces = shapely.intersection(shapes[left], shapes[right])
    seen: defaultdict[tuple[int, int], float] = defaultdict(float)
    for i, j, piece in zip(left, right, pieces, strict=True):
        area = float(shapely.area(piece))
        thin = 2 * area < sliver * float(shapely.length(piece))
        if area < tolerance or thin or (int(i), int(j)) in seen:
            continue
        seen[(int(i), int(j))] = area
        at = point_of(piece)
        out.append(
            CoverageProblem(
                "overlap",
                (ids[i], ids[j]),
                area,
                at,
                f"{what}s {ids[i]} and {ids[j]} overlap by {area:,.1f} m2, near {_fmt(at)}",
            )
        )
    return out


def _differences(
    whole: Any, parts: Any, tolerance: float, gaps: bool = True
) -> tuple[list[Any], list[Any]]:
    """``whole - parts`` (gaps) and ``parts - whole`` (spill), pairwise.

    The overlay is the expensive part, so it runs only where it can find
    something: where ``parts`` is not covered by ``whole``, or where the areas
    differ by more than the tolerance (when ``parts`` lies inside ``whole``,
    the gap's area is exactly the difference of the areas).
    """
    n = len(whole)
    shapely.prepare(whole)
    inside = shapely.covers(whole, parts)
    gap_out: list[Any] = [None] * n
    spill_out: list[Any] = [None] * n
    if gaps:
        short = shapely.area(whole) - shapely.area(parts) >= tolerance
        todo = np.flatnonzero(~inside | short)
        for k, piece in zip(todo, shapely.difference(whole[todo], parts[todo]), strict=True):
            gap_out[k] = piece
    todo = np.flatnonzero(~inside)
    for k, piece in zip(todo, shapely.difference(parts[todo], whole[todo]), strict=True):
        spill_out[k] = piece
    return gap_out, spill_out


def _pieces(shape: Any, tolerance: float, sliver: float) -> list[Any]:
    """The parts of ``shape`` of at least ``tolerance`` m², not slivers, largest first."""
    if shape is None or shape.is_empty:
        return []
    parts = [p for p in shapely.get_parts(shape) if p.geom_type in ("Polygon", "MultiPolygon")]
    big = [p for p in parts if p.area >= tolerance and 2 * p.area >= sliver * p.length]
    return sorted(big, key=lambda p: -p.area)


def _fmt(point: tuple[float, float]) -> str:
    return f"{point[0]:.6f}, {point[1]:.6f}"

"""Dynamic adjustment on the map: a proposal to split and merge grids far from the standard.

The practice keeps grids "of moderate size" and adjusts them as households
change (动态调整): about 200 households per urban grid, about 50 per rural
one (:func:`gridgov.gridding.band_for`). :func:`propose_rebalance` looks at
every urban and rural grid with its shape and proposes, as a frozen plan
that changes nothing:

* **split** a grid above its band (past the hysteresis of
  :class:`~gridgov.gridding.Band`) into ``ceil(households / target)`` parts
  of whole buildings, cut across the grid by balanced bisection of its
  buildings' points, each part's shape the buildings' Voronoi cells within
  the grid (so the parts tile the grid exactly);
* **merge** a grid below its band into the smallest grid of the same kind
  and community **that shares a boundary with it**, when the result stays
  within the band's ``high``.

Exclusive grids cover one organisation whatever its size and are left alone.
Each change says which grids, the households before and after, and the new
shapes (lon/lat), ready to be reviewed by the grid office and exported.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np
import shapely

from gridgov.city import City
from gridgov.errors import GriddingError
from gridgov.geo.geometry import CityGeometry
from gridgov.gridding import Band, band_for
from gridgov.model import GridKind, Level

__all__ = ["GridChange", "propose_rebalance"]


@attrs.frozen
class GridChange:
    """One proposed split or merge."""

    #: ``split`` or ``merge``.
    kind: str
    #: The grids it changes (one for a split; the small grid, then its partner, for a merge).
    grids: tuple[str, ...]
    #: Households of each grid before.
    before: tuple[int, ...]
    #: Households of each new grid after.
    after: tuple[int, ...]
    #: Buildings of each new grid.
    buildings: tuple[tuple[str, ...], ...]
    #: Shape of each new grid (lon/lat).
    shapes: tuple[Any, ...]
    #: Why, in words.
    reason: str

    def __str__(self) -> str:
        return self.reason


def propose_rebalance(
    city: City, geometry: CityGeometry, *, bands: dict[str, Band] | None = None
) -> tuple[GridChange, ...]:
    """Splits and merges that bring urban and rural grids back into their band.

    Args:
        city: the city.
        geometry: its shapes (grids and buildings are needed).
        bands: the band by grid kind (default: the published standard,
            :func:`gridgov.gridding.band_for`).

    Returns:
        The proposed changes, splits first, each grid in at most one change.

    Raises:
        GriddingError: a grid or one of its buildings has no shape.
    """
    chain = city.chain
    band_of: dict[str, Band] = {
        k.value: (bands or {}).get(k.value) or band_for(k) for k in (GridKind.URBAN, GridKind.RURAL)
    }
    splits: list[GridChange] = []
    merges: list[GridChange] = []
    used: set[str] = set()
    for community in chain.units(Level.COMMUNITY):
        grids = [g for g in chain.children(community, Level.GRID)]
        sized = {g: city.households(g) for g in grids}
        for grid in grids:
            kind = chain.unit(grid).kind
            if kind not in band_of:
                continue
            band = band_of[kind]
            if sized[grid] > band.split_above and len(city.buildings_of(grid)) > 1:
                splits.append(_split(city, geometry, grid, band))
                used.add(grid)
        for grid in sorted(grids, key=lambda g: (sized[g], g)):
            kind = chain.unit(grid).kind
            if kind not in band_of or grid in used:
                continue
            band = band_of[kind]
            if sized[grid] >= band.merge_below:
                continue
            shape = _shape(geometry, grid)
            partners = [
                g
                for g in grids
                if g != grid
                and g not in used
                and chain.unit(g).kind == kind
                and sized[grid] + sized[g] <= band.high
                and _shares_edge(shape, _shape(geometry, g))
            ]
            if not partners:
                continue
            partner = min(partners, key=lambda g: (sized[g], g))
            used.update((grid, partner))
            total = sized[grid] + sized[partner]
            merged = shapely.union_all([shape, _shape(geometry, partner)])
            merges.append(
                GridChange(
                    "merge",
                    (grid, partner),
                    (sized[grid], sized[partner]),
                    (total,),
                    (tuple(city.buildings_of(grid)) + tuple(city.buildings_of(partner)),),
                    (merged,),
                    f"merge {kind} grid {grid} ({sized[grid]} households, below "
                    f"{band.merge_below:g}) into its neighbour {partner} ({sized[partner]}): "
                    f"{total} households",
                )
            )
    return tuple(splits + merges)


def _shape(geometry: CityGeometry, node: str) -> Any:
    if node not in geometry:
        raise GriddingError(f"grid {node} has no shape to rebalance")
    return geometry[node]


def _shares_edge(a: Any, b: Any) -> bool:
    """True when two shapes share a boundary line (not just a corner)."""
    return bool(shapely.relate_pattern(a, b, "****1****"))


def _split(city: City, geometry: CityGeometry, grid: str, band: Band) -> GridChange:
    bids = list(city.buildings_of(grid))
    missing = [b for b in bids if b not in geometry]
    if missing:
        raise GriddingError(f"building {missing[0]} of grid {grid} has no point to split by")
    households = [city.households(b) for b in bids]
    total = sum(households)
    parts = min(len(bids), max(2, math.ceil(total / band.target)))
    proj = geometry.projection
    xy = shapely.get_coordinates(geometry.metric(bids))
    groups = _bisect(xy, households, parts)
    area = proj.to_metric(geometry[grid])
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=area, ordered=True)
    )
    if len(cells) != len(bids):  # coincident points: one cell per distinct point
        raise GriddingError(f"grid {grid}: two of its buildings share a point; cannot split")
    shapes = []
    for group in groups:
        piece = shapely.intersection(shapely.union_all(cells[group]), area)
        shapes.append(proj.to_lonlat(piece))
    after = tuple(sum(households[i] for i in group) for group in groups)
    kind = city.chain.unit(grid).kind
    return GridChange(
        "split",
        (grid,),
        (total,),
        after,
        tuple(tuple(bids[i] for i in group) for group in groups),
        tuple(shapes),
        f"split {kind} grid {grid} ({total} households, above {band.split_above:g}) into "
        f"{len(groups)}: {', '.join(str(a) for a in after)} households",
    )


def _bisect(xy: Any, weights: list[int], parts: int) -> list[list[int]]:
    """Cut points into ``parts`` groups of about equal weight, across the longer side."""
    out: list[list[int]] = []
    stack = [(list(range(len(weights))), parts)]
    while stack:
        idx, k = stack.pop()
        if k == 1 or len(idx) == 1:
            out.append(sorted(idx))
            continue
        pts = xy[idx]
        span = pts.max(axis=0) - pts.min(axis=0)
        order = [idx[i] for i in np.argsort(pts[:, 0 if span[0] >= span[1] else 1], kind="stable")]
        left_k = k // 2
        goal = sum(weights[i] for i in order) * left_k / k
        running, cut = 0, 1
        for pos, i in enumerate(order[:-1], 1):
            running += weights[i]
            cut = pos
            if running >= goal:
                break
        cut = max(1, min(cut, len(order) - 1))
        stack.append((order[cut:], k - left_k))
        stack.append((order[:cut], left_k))
    return out

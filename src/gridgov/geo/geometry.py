"""Geometry beside a City: a shape for every unit, compound and building, keyed by id.

The frozen city model stays geometry-free; a :class:`CityGeometry` is carried
beside the :class:`~gridgov.City` it describes. Polygons (units and compounds)
and points (buildings) are shapely geometries in WGS84 longitude/latitude;
areas are in square metres through the city's :class:`LocalProjection`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from gridgov.geo.projection import LocalProjection

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from shapely.geometry.base import BaseGeometry

__all__ = ["CityGeometry"]


class CityGeometry(Mapping[str, "BaseGeometry"]):
    """Shapes by id, read-only: a mapping of id to a shapely geometry in lon/lat.

    Args:
        shapes: id -> geometry (Polygon/MultiPolygon for units and compounds,
            Point for buildings), in WGS84 longitude/latitude.
        synthetic: True when the shapes were drawn by
            :func:`gridgov.geo.synthesize` rather than surveyed.
        projection: the plane areas are measured in; by default one centred on
            the middle of the shapes' bounds.
    """

    __slots__ = ("_areas", "_geoms", "_ids", "_index", "_metric", "projection", "synthetic")

    #: The plane areas and lengths are measured in.
    projection: LocalProjection
    #: True for synthetic shapes (not real boundaries).
    synthetic: bool

    def __init__(
        self,
        shapes: Mapping[str, BaseGeometry] | Iterable[tuple[str, BaseGeometry]],
        *,
        synthetic: bool = False,
        projection: LocalProjection | None = None,
    ) -> None:
        items = list(shapes.items() if isinstance(shapes, Mapping) else shapes)
        self._ids: tuple[str, ...] = tuple(i for i, _ in items)
        self._geoms: NDArray[Any] = np.empty(len(items), dtype=object)
        self._geoms[:] = [g for _, g in items]
        self._index = {i: n for n, i in enumerate(self._ids)}
        if len(self._index) != len(self._ids):
            seen: set[str] = set()
            dup = sorted({i for i in self._ids if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
            raise ValueError(f"duplicate ids in geometry: {', '.join(dup)}")
        self.synthetic = synthetic
        if projection is None:
            if len(self._geoms):
                x0, y0, x1, y1 = shapely.total_bounds(self._geoms)
                projection = LocalProjection(lon0=(x0 + x1) / 2, lat0=(y0 + y1) / 2)
            else:
                projection = LocalProjection(lon0=0.0, lat0=0.0)
        self.projection = projection
        self._metric: NDArray[Any] | None = None
        self._areas: NDArray[np.float64] | None = None

    # ------------------------------------------------------------- mapping

    def __getitem__(self, key: str) -> BaseGeometry:
        return self._geoms[self._index[key]]  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __repr__(self) -> str:
        kind = "synthetic " if self.synthetic else ""
        return f"<CityGeometry: {len(self)} {kind}shapes>"

    # ------------------------------------------------------------- arrays

    @property
    def ids(self) -> tuple[str, ...]:
        """Every id, in the order the shapes were given."""
        return self._ids

    def geoms(self, ids: Iterable[str] | None = None) -> NDArray[Any]:
        """The lon/lat shapes of ``ids`` (all by default) as a numpy object array."""
        if ids is None:
            return self._geoms
        return self._geoms[[self._index[i] for i in ids]]

    def metric(self, ids: Iterable[str] | None = None) -> NDArray[Any]:
        """The shapes of ``ids`` (all by default) projected to metres, as an array."""
        if self._metric is None:
            self._metric = shapely.transform(self._geoms, self.projection.forward)
        if ids is None:
            return self._metric
        return self._metric[[self._index[i] for i in ids]]

    def area_m2(self, key: str) -> float:
        """Area of one shape in square metres (0 for a point)."""
        return float(self.areas_m2()[self._index[key]])

    def areas_m2(self) -> NDArray[np.float64]:
        """Areas of every shape in square metres, in :attr:`ids` order."""
        if self._areas is None:
            self._areas = shapely.area(self.metric())
        return self._areas

    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) of every shape, degrees."""
        x0, y0, x1, y1 = shapely.total_bounds(self._geoms)
        return float(x0), float(y0), float(x1), float(y1)

    def subset(self, ids: Iterable[str]) -> CityGeometry:
        """The shapes of ``ids`` only (same projection and synthetic flag)."""
        keep = [i for i in ids if i in self._index]
        return CityGeometry(
            zip(keep, self.geoms(keep), strict=True),
            synthetic=self.synthetic,
            projection=self.projection,
        )

"""Alert areas by geometry: which compounds (and units) a CAP polygon or circle covers.

A CAP ``<area>`` may carry only a ``<polygon>`` (a closed ring of
``latitude,longitude`` pairs) or a ``<circle>`` (``latitude,longitude radius``
with the radius in km). :class:`AreaMatcher` turns it into the compounds it
covers, through a spatial index (shapely's STRtree) over the compounds'
shapes. The rule:

* a compound is **matched** when at least half of its area (in m², in the
  city's local projection) lies inside the alert area
  (:data:`MATCH_SHARE` = 0.5);
* a match is **ambiguous** when some compound has between 30 % and 70 %
  of its area inside (:data:`AMBIGUOUS_SHARES`): a slightly different
  drawing would change the answer;
* a match is **large** when it names more than :data:`LARGE_MATCH`
  compounds; ambiguous or large matches go to the review queue instead of
  being acted on at once (``needs_review`` says why);
* grids and communities are matched by the same share rule, so a host can
  scope a measure to a unit the area covers.

Circles are drawn as 64-sided polygons in a plane tangent at their centre
(:meth:`LocalProjection.circle`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import numpy as np
import shapely

from gridgov.city import City
from gridgov.errors import GeometryError
from gridgov.geo.geometry import CityGeometry
from gridgov.model import Level

__all__ = [
    "AMBIGUOUS_SHARES",
    "LARGE_MATCH",
    "MATCH_SHARE",
    "AreaMatch",
    "AreaMatcher",
    "CityMatcher",
    "Covered",
    "cap_area_shape",
    "match_brute_force",
]

#: A compound (or unit) is matched when this share of its area is inside.
MATCH_SHARE = 0.5
#: Shares in this half-open band make a match ambiguous.
AMBIGUOUS_SHARES = (0.3, 0.7)
#: More compounds than this make a match large (reviewed before acting).
LARGE_MATCH = 50


@attrs.frozen
class Covered:
    """One compound or unit and how much of it the area covers."""

    #: Its id.
    id: str
    #: Share of its area inside the alert area, 0..1.
    share: float
    #: Its area inside, m².
    area_m2: float


@attrs.frozen
class AreaMatch:
    """What an alert area covers; see the module docstring for the rule."""

    #: Compounds with at least :data:`MATCH_SHARE` of their area inside, by id.
    compounds: tuple[Covered, ...]
    #: Compounds touched but below the share, by id.
    touched: tuple[Covered, ...]
    #: Grids matched by the same rule, by id.
    grids: tuple[Covered, ...]
    #: Communities matched by the same rule, by id.
    communities: tuple[Covered, ...]
    #: Area of the alert area, m².
    area_m2: float
    #: Why the match should be reviewed before acting ("" when it need not be).
    needs_review: str

    def compound_ids(self) -> tuple[str, ...]:
        """The compounds for the alert planner: the matched ones, and when the
        match needs review also the ambiguous ones (candidates for the reviewer)."""
        ids = [c.id for c in self.compounds]
        if self.needs_review:
            low, high = AMBIGUOUS_SHARES
            ids += [c.id for c in self.touched if low <= c.share < high]
        return tuple(ids)


def cap_area_shape(
    geometry: CityGeometry,
    polygons: Iterable[Sequence[tuple[float, float]]] = (),
    circles: Iterable[tuple[float, float, float]] = (),
) -> Any:
    """One shape (lon/lat) for CAP polygons and circles, as parsed by gridgov.alerts.

    Args:
        geometry: the city's geometry (its projection draws the circles).
        polygons: rings of (latitude, longitude) pairs, CAP's order.
        circles: (latitude, longitude, radius in km).

    Raises:
        GeometryError: no polygon or circle, or a polygon that is not a valid ring.
    """
    shapes: list[Any] = []
    for n, ring in enumerate(polygons):
        points = [(lon, lat) for lat, lon in ring]
        shape = shapely.Polygon(points) if len(points) >= 4 else None
        if shape is None or not shape.is_valid:
            why = "fewer than 4 points" if shape is None else shapely.is_valid_reason(shape)
            raise GeometryError([f"alert area: polygon {n}: not a valid ring ({why})"])
        shapes.append(shape)
    for lat, lon, radius_km in circles:
        if radius_km <= 0:
            raise GeometryError([f"alert area: circle at {lat},{lon}: radius must be > 0 km"])
        shapes.append(geometry.projection.circle(lon, lat, radius_km * 1000.0))
    if not shapes:
        raise GeometryError(["alert area: no polygon or circle to match"])
    return shapes[0] if len(shapes) == 1 else shapely.union_all(shapes)


class AreaMatcher:
    """Matches alert areas to the compounds, grids and communities they cover.

    Args:
        city: the city.
        geometry: its shapes (compounds without a shape are never matched).
        share: the matching share (default :data:`MATCH_SHARE`).
    """

    def __init__(self, city: City, geometry: CityGeometry, *, share: float = MATCH_SHARE) -> None:
        if not 0 < share <= 1:
            raise GeometryError([f"matching share must be in (0, 1], got {share}"])
        self.city = city
        self.geometry = geometry
        self.share = share
        self._layers: dict[str, tuple[list[str], Any, Any, Any]] = {}
        for name, ids in (
            ("compound", list(city.compounds)),
            ("grid", city.chain.units(Level.GRID)),
            ("community", city.chain.units(Level.COMMUNITY)),
        ):
            present = [i for i in ids if i in geometry]
            shapes = geometry.geoms(present)
            metric = geometry.metric(present)
            self._layers[name] = (
                present,
                shapely.STRtree(shapes),
                metric,
                shapely.area(metric),
            )

    def _cover(self, layer: str, area: Any, area_m: Any) -> tuple[list[Covered], list[Covered]]:
        ids, tree, metric, areas = self._layers[layer]
        hits = tree.query(area, predicate="intersects")
        if not len(hits):
            return [], []
        hits = np.sort(hits)
        inside = shapely.area(shapely.intersection(metric[hits], area_m))
        matched: list[Covered] = []
        touched: list[Covered] = []
        for k, got in zip(hits, inside, strict=True):
            share = float(got / areas[k]) if areas[k] > 0 else 0.0
            if got <= 0:
                continue
            item = Covered(ids[k], round(share, 6), float(got))
            (matched if share >= self.share else touched).append(item)
        return matched, touched

    def match(self, area: Any, *, units: bool = True) -> AreaMatch:
        """Match one area (a shapely Polygon/MultiPolygon in lon/lat).

        Args:
            area: the alert area.
            units: also match grids and communities (False: compounds only).
        """
        area_m = self.geometry.projection.to_metric(area)
        shapely.prepare(area)
        compounds, touched = self._cover("compound", area, area_m)
        grids: list[Covered] = []
        communities: list[Covered] = []
        if units:
            grids, _ = self._cover("grid", area, area_m)
            communities, _ = self._cover("community", area, area_m)
        low, high = AMBIGUOUS_SHARES
        ambiguous = [c.id for c in (*compounds, *touched) if low <= c.share < high]
        reasons = []
        if len(compounds) > LARGE_MATCH:
            reasons.append(f"large: {len(compounds)} compounds (more than {LARGE_MATCH})")
        if ambiguous:
            shown = ", ".join(ambiguous[:5]) + (" ..." if len(ambiguous) > 5 else "")
            reasons.append(
                f"ambiguous: {len(ambiguous)} compound(s) {int(low * 100)}-{int(high * 100)}% "
                f"inside ({shown})"
            )
        return AreaMatch(
            compounds=tuple(compounds),
            touched=tuple(touched),
            grids=tuple(grids),
            communities=tuple(communities),
            area_m2=float(area_m.area),
            needs_review="; ".join(reasons),
        )

    def __call__(self, area: Any) -> AreaMatch:
        """Match a CAP ``<area>`` (anything with ``polygons`` and ``circles``, as
        :class:`gridgov.alerts.CapArea`): the alert planner's geometry matcher."""
        return self.match_cap(area.polygons, area.circles)

    def match_cap(
        self,
        polygons: Iterable[Sequence[tuple[float, float]]] = (),
        circles: Iterable[tuple[float, float, float]] = (),
    ) -> AreaMatch:
        """Match CAP polygons and circles (as parsed: (lat, lon) pairs, radius in km)."""
        return self.match(cap_area_shape(self.geometry, polygons, circles))


def match_brute_force(
    city: City, geometry: CityGeometry, area: Any, share: float = MATCH_SHARE
) -> tuple[str, ...]:
    """The matched compounds by a plain loop over every compound (the benchmark's baseline).

    The compounds' projected shapes are cached by ``geometry``, as the index's are.
    """
    area_m = geometry.projection.to_metric(area)
    ids = [c for c in city.compounds if c in geometry]
    out = []
    for compound, shape in zip(ids, geometry.metric(ids), strict=True):
        if shape.intersects(area_m) and shape.intersection(area_m).area >= share * shape.area:
            out.append(compound)
    return tuple(sorted(out))


class CityMatcher:
    """The alert planner's geometry matcher for a city, indexed on first use.

    Uses the city's own geometry (a bundle's ``geometry.geojson``) when it
    carries one, else synthetic shapes (:func:`gridgov.geo.synthesize`): for a
    preset, alert polygons are matched against its synthetic map. Pass it as
    ``Engine(city, area_matcher=CityMatcher(city))``.
    """

    def __init__(self, city: City, *, share: float = MATCH_SHARE) -> None:
        self.city = city
        self.share = share
        self._matcher: AreaMatcher | None = None

    @property
    def matcher(self) -> AreaMatcher:
        """The index (built on first use)."""
        if self._matcher is None:
            from gridgov.geo.synth import synthesize

            own = self.city.geometry
            geometry = own if isinstance(own, CityGeometry) else synthesize(self.city)
            self._matcher = AreaMatcher(self.city, geometry, share=self.share)
        return self._matcher

    def __call__(self, area: Any) -> AreaMatch:
        """Match a CAP ``<area>``'s polygons and circles."""
        return self.matcher(area)

"""Synthetic but plausible geometry for a city that has none (the presets).

The shapes are **synthetic**: drawn to look like a city, not surveyed. They
are labelled so in :attr:`CityGeometry.synthetic`, in every exported feature
(``"synthetic": true``) and in the docs. How they are drawn:

1. **Seats.** Each district sits around its seat: for Jiamusi the real seats
   of its ten divisions (approximate, to a few km); the four urban districts
   share a dense core around the city centre (46.80 N, 130.32 E), one sector
   each, in the direction of their seats. Other cities get a generic layout:
   urban districts in the core, the others on a ring around it.
2. **Dense and rural places.** Streets whose grids are mostly urban or
   exclusive (city streets, county towns) are dense: their buildings fill a
   disc at the seat whose area is proportional to their households
   (:data:`URBAN_M2_PER_HOUSEHOLD`), so urban areas follow households.
   Townships are rural: their buildings are spread over the district's share
   of the city's outline (a Voronoi cell of the seats), so rural units are
   far wider. Jiamusi's outline is the seats' convex hull, buffered until it
   has the city's real area, 32,704 km².
3. **Hierarchy.** A district's points are cut into streets, each street's
   into communities, down to one point per building, by recursive balanced
   bisection along the longer side: units stay compact and contiguous, and
   siblings in id order stay neighbours (so compounds, which run across
   consecutive grids, stay in one piece).
4. **Tessellation.** One Voronoi diagram of every building point (with a
   ring of outside points that draws the outline) gives each building a
   cell; a grid is the union of its buildings' cells, a compound too, and
   each unit the union of its children. Units therefore tile their parent
   exactly, so the coverage checks pass by construction, and every building
   lies in its grid. A unit with no building gets a point of its own. A
   building whose cell falls apart from the rest of its grid trades places
   with a building of a neighbouring grid (same community) when that joins
   the pieces, so few grids end up in more than one piece.

Everything is computed in a :class:`LocalProjection` plane and returned in
WGS84 longitude/latitude rounded to 1e-7 degrees (about 1 cm). The same city
and seed give the same geometry, to the bit.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import shapely
from numpy.typing import NDArray

from gridgov._gc import gc_paused
from gridgov.city import City
from gridgov.errors import GeometryError
from gridgov.geo.geometry import CityGeometry
from gridgov.geo.projection import LocalProjection
from gridgov.model import GridKind, Level

__all__ = [
    "JIAMUSI_LAYOUT",
    "RURAL_M2_PER_HOUSEHOLD",
    "URBAN_M2_PER_HOUSEHOLD",
    "Layout",
    "synthesize",
]

#: Land per household in dense places (gross: roads, schools and shops included).
URBAN_M2_PER_HOUSEHOLD = 250.0
#: Land per zero-household site (premises of an exclusive grid), as for this many households.
_PREMISES_HOUSEHOLDS = 120
#: Land per rural household in the generic layout (fields, woods and wetland included).
RURAL_M2_PER_HOUSEHOLD = 60_000.0


@attrs.frozen
class Layout:
    """Where a city lies: its centre, its districts' seats and its area."""

    #: (longitude, latitude) of the city centre, the middle of the dense core.
    centre: tuple[float, float]
    #: District id -> (longitude, latitude) of its seat.
    seats: Mapping[str, tuple[float, float]] = attrs.field(factory=dict)
    #: Area of the city's outline in km², or None for the generic estimate.
    area_km2: float | None = None
    #: A rough outline, (longitude, latitude) vertices, scaled to ``area_km2``;
    #: empty for the seats' convex hull.
    outline: tuple[tuple[float, float], ...] = ()


#: Jiamusi: the seats of its ten divisions (approximate) and its real area.
JIAMUSI_LAYOUT = Layout(
    centre=(130.32, 46.80),
    seats={
        "230803": (130.33, 46.815),  # Xiangyang District: the centre, north
        "230804": (130.37, 46.81),  # Qianjin District: east of the centre
        "230805": (130.40, 46.79),  # Dongfeng District: the east end
        "230811": (130.28, 46.78),  # Jiao District: west and south, around the city
        "230822": (130.55, 46.24),  # Huanan County
        "230826": (130.72, 47.02),  # Huachuan County
        "230828": (129.90, 46.73),  # Tangyuan County
        "230881": (132.51, 47.64),  # Tongjiang
        "230882": (131.98, 47.25),  # Fujin
        "230883": (134.29, 48.36),  # Fuyuan
    },
    area_km2=32704.0,
    # Hand-drawn to a few tens of km: from Tangyuan in the south-west, along
    # the Songhua to Tongjiang and the Amur and Ussuri to Fuyuan in the east.
    outline=(
        (129.55, 46.55),
        (129.75, 47.05),
        (130.45, 47.20),
        (131.25, 47.70),
        (132.00, 47.95),
        (133.20, 48.15),
        (134.20, 48.45),
        (134.75, 48.30),
        (134.90, 47.95),
        (134.30, 47.75),
        (133.60, 47.45),
        (132.90, 47.05),
        (132.20, 46.85),
        (131.40, 46.55),
        (131.10, 46.15),
        (130.75, 45.85),
        (130.30, 45.85),
        (130.00, 46.15),
    ),
)

_MULTIPOLYGON = int(shapely.GeometryType.MULTIPOLYGON)

#: Known layouts by city id; other cities get a generic one.
_LAYOUTS: dict[str, Layout] = {"230800": JIAMUSI_LAYOUT}
_DEFAULT_CENTRE = (128.0, 46.0)


def synthesize(
    city: City, *, seed: int = 0, layout: Layout | None = None, pause_gc: bool = False
) -> CityGeometry:
    """Draw synthetic geometry for every unit, compound and building of ``city``.

    Args:
        city: the city to draw.
        seed: random seed; the same city and seed give the same shapes.
        layout: where the city lies; by default Jiamusi's real layout for the
            Jiamusi city (``230800``) and a generic one (centred on 46.0 N,
            128.0 E) for any other.
        pause_gc: pause Python's cyclic garbage collector while drawing (the
            caller's setting is restored after): tens of thousands of shapes
            are made and most dropped, and the collector would walk the whole
            heap again and again (about a sixth of the time). Off by default:
            the collector is switched only when a caller asks, as everywhere
            in gridgov (the ``gridgov`` command asks, since it owns its
            process).

    Returns:
        A synthetic :class:`CityGeometry` (its ``synthetic`` flag is True).

    Raises:
        GeometryError: the city is too degenerate to draw (no unit below it).
    """
    if layout is None:
        layout = _LAYOUTS.get(city.chain.city, Layout(_DEFAULT_CENTRE))
        if not set(city.chain.children(city.chain.city, Level.DISTRICT)) <= set(layout.seats):
            # A city the known layout does not fit (a scaled preset's tiled
            # districts have no seat in it): drawn round its centre, generically.
            layout = Layout(layout.centre)
    with gc_paused() if pause_gc else contextlib.nullcontext():
        try:
            return _Synth(city, seed, layout).run()
        except shapely.errors.GEOSException as exc:
            raise GeometryError(
                [f"city {city.chain.city}: the geometry library could not draw it ({exc})"]
            ) from None


@attrs.define
class _Plan:
    """Where the districts of a city sit and how big their dense discs are."""

    districts: Sequence[str]
    #: The urban districts (one sector each of the central disc).
    core: list[str]
    #: Each district's dense (urban) and rural streets.
    dense: dict[str, list[str]]
    rural: dict[str, list[str]]
    #: Sites of each district's rural streets.
    rural_sites: dict[str, int]
    #: Sites of the central disc, and its radius.
    core_sites: list[str]
    core_r: float
    #: Radius of each other district's town disc.
    town_r: dict[str, float]
    #: The area of the city when the layout gives none (m²).
    generic_area: float
    #: Each district's seat (projected metres).
    seats: dict[str, NDArray[np.float64]]

    @property
    def with_rural(self) -> list[str]:
        """Districts with rural sites."""
        return [d for d in self.districts if self.rural_sites[d]]


class _Points:
    """Points drawn so far, and which unit's sites each block of them belongs to."""

    def __init__(self) -> None:
        self.xy_parts: list[NDArray[np.float64]] = []
        self.blocks: list[tuple[str, NDArray[np.int64]]] = []
        self.n = 0

    def add(self, points: NDArray[np.float64]) -> None:
        self.xy_parts.append(points)
        self.n += len(points)


class _Synth:
    def __init__(self, city: City, seed: int, layout: Layout) -> None:
        self.city = city
        self.chain = city.chain
        self.rng = np.random.default_rng(seed)
        self.layout = layout
        self.proj = LocalProjection(lon0=layout.centre[0], lat0=layout.centre[1])
        # Sites: one per building, plus one per unit with no building below it.
        self.sites: dict[str, list[str]] = {}  # unit -> its site ids (in order)
        self.households: dict[str, int] = {}  # site -> households (for disc areas)
        self.rural: dict[str, bool] = {}  # street -> rural?
        self.units: dict[Level, list[str]] = {}  # level -> its units, in graph order

    # ------------------------------------------------------------------ sites

    def _collect(self) -> None:
        chain, city = self.chain, self.city
        sites, households = self.sites, self.households
        buildings = city.buildings
        units = self.units = {level: chain.units(level) for level in Level}
        households.update(zip(buildings.ids, buildings.households, strict=True))
        of_grid: dict[str, list[str]] = {}
        for b, grid in zip(buildings.ids, buildings.grids, strict=True):
            of_grid.setdefault(grid, []).append(b)
        for grid in units[Level.GRID]:
            bids = of_grid.get(grid)
            if bids:
                bids.sort()
            else:
                bids = [grid]
                households[grid] = 0
            sites[grid] = bids
        level_of, compound = chain.level, Level.COMPOUND
        for level in (Level.COMMUNITY, Level.STREET, Level.DISTRICT, Level.CITY):
            for unit in units[level]:
                out: list[str] = []
                for kid in chain.children(unit):
                    if level_of(kid) is not compound:
                        out.extend(sites[kid])
                if not out:
                    out = [unit]
                    households[unit] = 0
                sites[unit] = out
        # Each street's grids, and how many of them are rural.
        tally = {street: [0, 0] for street in units[Level.STREET]}
        rural_kind = GridKind.RURAL.value
        for grid in units[Level.GRID]:
            is_rural = chain.kind(grid) == rural_kind
            for up in chain.chain_of_command(grid):
                counts = tally.get(up)
                if counts is not None:
                    counts[0] += 1
                    counts[1] += is_rural
        for street, (grids, rural) in tally.items():
            self.rural[street] = bool(grids) and rural * 2 > grids

    # ---------------------------------------------------------------- layout

    def _seat(self, district: str, k: int, ring: float) -> NDArray[np.float64]:
        seat = self.layout.seats.get(district)
        if seat is not None:
            projected = self.proj.forward(np.array([seat], dtype=np.float64))
            return np.asarray(projected[0], dtype=np.float64)
        if ring == 0.0:
            return np.zeros(2)
        angle = 2 * math.pi * k / max(1, self._ring_count) + 0.3
        return np.array([ring * math.cos(angle), ring * math.sin(angle)])

    def _disc_area(self, sites: Sequence[str]) -> float:
        weight = sum(self.households[s] or _PREMISES_HOUSEHOLDS for s in sites)
        return max(weight, 1) * URBAN_M2_PER_HOUSEHOLD

    def run(self) -> CityGeometry:
        self._collect()
        plan = self._plan()
        outline = self._outline(plan)
        points = _Points()
        discs, rims = self._dense_points(plan, points)
        first_rural = points.n
        spacing = self._rural_points(plan, outline, discs, points)
        xy = np.concatenate(points.xy_parts)
        site_point: dict[str, int] = {}
        self._descend(points.blocks, xy, site_point)
        if len(site_point) != len(xy):
            raise GeometryError(
                [f"city {self.chain.city}: {len(xy) - len(site_point)} points unassigned"]
            )
        rim, rim_owner = self._rim(plan, rims, xy, site_point, first_rural)
        # Outside points draw the outline; then one Voronoi diagram for all.
        ring = outline.buffer(spacing * 0.5)
        if not isinstance(ring, shapely.Polygon):
            raise GeometryError(
                [
                    f"city {self.chain.city}: its outline falls apart in "
                    f"{shapely.get_num_geometries(ring)} pieces (expected one): the "
                    "layout's outline must hold every district's seat"
                ]
            )
        ring_line = ring.exterior
        steps = max(16, int(ring_line.length / spacing))
        fill = shapely.get_coordinates(
            shapely.line_interpolate_point(
                ring_line, np.linspace(0, ring_line.length, steps, endpoint=False)
            )
        )
        everything = np.concatenate([xy, rim, fill])
        cells = shapely.get_parts(
            shapely.voronoi_polygons(shapely.multipoints(everything), ordered=True)
        )
        if len(cells) != len(everything):
            raise GeometryError([f"city {self.chain.city}: two building points coincide"])
        extra: dict[str, list[int]] = {}
        for k, unit in enumerate(rim_owner):
            extra.setdefault(unit, []).append(len(xy) + k)
        return self._assemble(cells, xy, site_point, extra)

    def _plan(self) -> _Plan:
        """Where the districts sit and how big their dense discs are."""
        chain = self.chain
        districts = chain.children(chain.city, Level.DISTRICT)
        if not districts:
            raise GeometryError([f"city {chain.city}: no district to draw"])
        core = [d for d in districts if chain.unit(d).kind == "urban_district"]
        others = [d for d in districts if d not in core]
        dense: dict[str, list[str]] = {}
        rural: dict[str, list[str]] = {}
        for d in districts:
            streets = chain.children(d, Level.STREET)
            dense[d] = [s for s in streets if not self.rural[s]]
            rural[d] = [s for s in streets if self.rural[s]]
            if not streets:  # a district with no street is a site of its own
                dense[d] = []
        core_sites = [x for d in core for s in dense[d] for x in self.sites[s]]
        core_r = math.sqrt(self._disc_area(core_sites) / math.pi) if core_sites else 0.0
        town_r = {
            d: math.sqrt(self._disc_area([x for s in dense[d] for x in self.sites[s]]) / math.pi)
            for d in others
            if dense[d]
        }
        total_rural_hh = sum(
            self.households[x] for d in districts for s in rural[d] for x in self.sites[s]
        )
        generic_area = (
            total_rural_hh * RURAL_M2_PER_HOUSEHOLD
            + math.pi * core_r**2
            + sum(math.pi * r**2 for r in town_r.values())
        )
        generic_r = math.sqrt(generic_area / math.pi) if generic_area else core_r
        self._ring_count = len(others)
        ring = 0.0 if (not core and len(others) == 1) else 0.6 * max(generic_r, 2 * core_r)
        seats = {d: self._seat(d, k, ring) for k, d in enumerate(others)}
        for d in core:
            seats[d] = self._seat(d, 0, 0.0)
        return _Plan(
            districts=districts,
            core=core,
            dense=dense,
            rural=rural,
            rural_sites={d: sum(len(self.sites[s]) for s in rural[d]) for d in districts},
            core_sites=core_sites,
            core_r=core_r,
            town_r=town_r,
            generic_area=generic_area,
            seats=seats,
        )

    def _outline(self, plan: _Plan) -> Any:
        """The outline of the city."""
        seats = plan.seats
        anchors = [np.zeros(2), *seats.values()]
        hull: Any
        if self.layout.outline:
            drawn = self.proj.forward(np.array(self.layout.outline, dtype=np.float64))
            hull = shapely.Polygon(drawn)
        else:
            hull = shapely.convex_hull(shapely.multipoints(np.array(anchors)))
        target = self.layout.area_km2 * 1e6 if self.layout.area_km2 else plan.generic_area
        # Seats and dense discs stay well inside the outline whatever its drawing.
        return shapely.union_all(
            [
                _buffer_to_area(hull, target),
                shapely.Point(0, 0).buffer(plan.core_r * 1.5 + 1.0),
            ]
            + [shapely.Point(*seats[d]).buffer(r * 2 + 3000.0) for d, r in plan.town_r.items()]
        )

    def _dense_points(
        self, plan: _Plan, points: _Points
    ) -> tuple[list[Any], list[tuple[NDArray[np.float64], float, int]]]:
        """Dense points: the core (one sector per urban district) and the towns.

        Returns:
            The dense discs, and each disc's (centre, radius, points).
        """
        core, dense, seats, sites = plan.core, plan.dense, plan.seats, self.sites
        discs = []
        rims: list[tuple[NDArray[np.float64], float, int]] = []
        if plan.core_sites:
            core_r = plan.core_r
            pts = self._sunflower(len(plan.core_sites), core_r, np.zeros(2))
            order = [d for d in core if dense[d]]
            counts = [sum(len(sites[s]) for s in dense[d]) for d in order]
            angles = [math.atan2(*(seats[d][::-1])) for d in order]
            parts = _sectors(pts, counts, angles)
            for d, part in zip(order, parts, strict=True):
                street_counts = [len(sites[s]) for s in dense[d]]
                for s, sub in zip(dense[d], _kd(pts, part, street_counts), strict=True):
                    points.blocks.append((s, sub + points.n))
            points.add(pts)
            discs.append(shapely.Point(0, 0).buffer(core_r * 1.02))
            rims.append((np.zeros(2), core_r, len(pts)))
        for d, r in plan.town_r.items():
            town_sites = [len(sites[s]) for s in dense[d]]
            pts = self._sunflower(sum(town_sites), r, seats[d])
            for s, sub in zip(dense[d], _kd(pts, np.arange(len(pts)), town_sites), strict=True):
                points.blocks.append((s, sub + points.n))
            points.add(pts)
            discs.append(shapely.Point(*seats[d]).buffer(r * 1.02))
            rims.append((seats[d], r, len(pts)))
        return discs, rims

    def _rural_points(self, plan: _Plan, outline: Any, discs: list[Any], points: _Points) -> float:
        """Rural points: each rural district's Voronoi share of the outline.

        Returns:
            The spacing of the points drawing the outline.
        """
        rural_sites, seats = plan.rural_sites, plan.seats
        with_rural, no_street = plan.with_rural, self._no_street(plan)
        spacing = math.sqrt(outline.area / max(1, sum(rural_sites.values()) + len(no_street)))
        if not (with_rural or no_street):
            return math.sqrt(outline.area / max(1, points.n))
        holes = shapely.union_all(discs) if discs else shapely.Polygon()
        land = outline.difference(holes)
        rural_units = with_rural + no_street
        seeds = []
        core_r = plan.core_r
        for d in rural_units:
            p = seats[d]
            if d in plan.core and np.hypot(*p) < core_r:  # push a core seat out of the core
                norm = float(np.hypot(*p)) or 1.0
                p = p / norm * core_r * 1.5 if norm > 1.0 else np.array([0.0, -core_r * 1.5])
            seeds.append(p)
        regions = _regions(_apart(seeds, core_r * 1.5 or spacing), land)
        for d, region in zip(rural_units, regions, strict=True):
            count = rural_sites[d] or 1
            pts = self._scatter(region, count)
            if rural_sites[d]:
                counts = [len(self.sites[s]) for s in plan.rural[d]]
                subs = _kd(pts, np.arange(count), counts)
                for s, sub in zip(plan.rural[d], subs, strict=True):
                    points.blocks.append((s, sub + points.n))
            else:
                points.blocks.append((d, np.arange(count)[:1] + points.n))
            points.add(pts)
        return spacing

    def _no_street(self, plan: _Plan) -> list[str]:
        return [d for d in plan.districts if not self.chain.children(d, Level.STREET)]

    def _rim(
        self,
        plan: _Plan,
        rims: list[tuple[NDArray[np.float64], float, int]],
        xy: NDArray[np.float64],
        site_point: dict[str, int],
        first_rural: int,
    ) -> tuple[NDArray[np.float64], list[str]]:
        """Land around dense discs: without it the outermost dense cells would stretch
        halfway to the sparse rural points. Each rim point's cell goes to the unit of
        the nearest rural site.

        Returns:
            The rim points, and the unit of each.
        """
        rim = np.empty((0, 2))
        rim_owner: list[str] = []
        if not rims or not (plan.with_rural or self._no_street(plan)):
            return rim, rim_owner
        rim_parts: list[NDArray[np.float64]] = []
        for centre, r, count in rims:
            step = r * math.sqrt(math.pi / max(count, 1))
            k = max(12, int(2 * math.pi * (r + step) / step))
            angle = np.linspace(0, 2 * math.pi, k, endpoint=False) + self.rng.uniform(0, 1)
            radius = r * 1.02 + step * 0.6
            rim_parts.append(centre + radius * np.column_stack([np.cos(angle), np.sin(angle)]))
        rim = np.concatenate(rim_parts)
        owner_of = {p: site for site, p in site_point.items()}
        rural_points: Any = shapely.points(xy[first_rural:])
        tree = shapely.STRtree(rural_points)
        nearest = tree.query_nearest(shapely.points(rim), all_matches=False)[1]
        buildings = self.city.buildings
        for k in nearest.tolist():
            site = owner_of[first_rural + k]
            rim_owner.append(buildings.grid(site) if site in buildings else site)
        return rim, rim_owner

    # ------------------------------------------------------------- placement

    def _sunflower(
        self, count: int, radius: float, centre: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """``count`` evenly spread points in a disc (Vogel's spiral, jittered)."""
        i = np.arange(count, dtype=np.float64)
        r = radius * np.sqrt((i + 0.5) / max(count, 1))
        theta = i * (math.pi * (3 - math.sqrt(5))) + self.rng.uniform(0, 2 * math.pi)
        step = radius * math.sqrt(math.pi / max(count, 1))
        jitter = self.rng.uniform(-0.1 * step, 0.1 * step, (count, 2))
        pts = np.column_stack([r * np.cos(theta), r * np.sin(theta)]) + jitter
        # Keep jittered points inside the disc.
        d = np.hypot(pts[:, 0], pts[:, 1])
        over = d > radius * 0.999
        pts[over] *= (radius * 0.999 / d[over])[:, None]
        return pts + centre

    def _scatter(self, region: Any, count: int) -> NDArray[np.float64]:
        """``count`` points over ``region`` on a jittered lattice (holes where drawn out)."""
        x0, y0, x1, y1 = region.bounds
        step = math.sqrt(max(region.area, 1.0) / count) * 0.97
        shapely.prepare(region)
        for _ in range(60):
            gx = np.arange(x0 + step / 2, x1, step)
            gy = np.arange(y0 + step / 2, y1, step)
            if len(gx) and len(gy):
                mx, my = np.meshgrid(gx, gy)
                pts = np.column_stack([mx.ravel(), my.ravel()])
                pts += self.rng.uniform(-0.15 * step, 0.15 * step, pts.shape)
                pts = pts[shapely.contains_xy(region, pts[:, 0], pts[:, 1])]
                if len(pts) >= count:
                    keep = np.sort(self.rng.choice(len(pts), count, replace=False))
                    return pts[keep]
            step *= 0.9
        point = shapely.get_coordinates(shapely.point_on_surface(region))
        return point + self.rng.uniform(-1, 1, (count, 2))

    def _descend(
        self,
        blocks: Sequence[tuple[str, NDArray[np.int64]]],
        xy: NDArray[np.float64],
        site_point: dict[str, int],
    ) -> None:
        """Share each block's points among its unit's children, down to one per site.

        One level of the chain at a time for every block (the cuts of all the
        level's units at once, :func:`_kd_many`); each unit's points are cut as
        they would be on their own.
        """
        chain, sites, households = self.chain, self.sites, self.households
        grid_level, compound_level = Level.GRID, Level.COMPOUND
        level = chain.level
        frontier = list(blocks)
        grids: list[tuple[list[str], NDArray[np.int64]]] = []
        while frontier:
            tasks: list[tuple[NDArray[np.int64], list[int]]] = []
            parents: list[list[str]] = []
            for node, ids in frontier:
                own = sites.get(node)
                if own is None or (node in households and own == [node]):
                    site_point[node] = int(ids[0])  # a building, or a unit that is its own site
                    continue
                if level(node) is grid_level:
                    grids.append((own, ids))
                    continue
                kids = [k for k in chain.children(node) if level(k) is not compound_level]
                if not kids:
                    site_point[node] = int(ids[0])
                    continue
                tasks.append((ids, [len(sites[k]) if k in sites else 1 for k in kids]))
                parents.append(kids)
            frontier = [
                (kid, sub)
                for kids, subs in zip(parents, _kd_many(xy, tasks), strict=True)
                for kid, sub in zip(kids, subs, strict=True)
            ]
        if grids:
            _one_each(grids, xy, site_point)

    # -------------------------------------------------------------- assembly

    def _mend(
        self,
        cells: Any,
        site_point: dict[str, int],
        extra: dict[str, list[int]],
        shapes: dict[str, Any],
    ) -> None:
        """Make grids in several pieces whole by swapping buildings with a neighbour grid.

        A building whose cell lies apart from the rest of its grid trades
        places with a building of a neighbouring grid of the same community
        whose cell touches the main piece; a swap is kept only when it joins
        pieces and splits nothing.
        """
        chain, city = self.chain, self.city
        grids = self.units[Level.GRID]
        kinds = shapely.get_type_id(np.array([shapes[g] for g in grids], dtype=object))
        broken = [g for g, kind in zip(grids, kinds.tolist(), strict=True) if kind == _MULTIPOLYGON]
        if not broken:
            return
        mender = _Mender(chain, city.buildings, self.sites, cells, site_point, extra, shapes)
        for grid in broken:
            mender.mend(grid)

    def _assemble(
        self,
        cells: Any,
        xy: NDArray[np.float64],
        site_point: dict[str, int],
        extra: dict[str, list[int]],
    ) -> CityGeometry:
        chain, city = self.chain, self.city
        shapes: dict[str, Any] = {}
        order = [Level.GRID, Level.COMMUNITY, Level.STREET, Level.DISTRICT, Level.CITY]
        units = self.units
        groups: list[list[int]] = []
        for unit in units[Level.GRID]:
            if unit in site_point:
                groups.append([site_point[unit], *extra.get(unit, ())])
            else:
                groups.append([site_point[b] for b in self.sites[unit]] + extra.get(unit, []))
        shapes.update(zip(units[Level.GRID], _unions(cells, groups), strict=True))
        self._mend(cells, site_point, extra, shapes)
        below = units[Level.GRID]
        for level in order[1:]:
            # One pool: the level below's shapes, then this level's own cells.
            pool = np.empty(len(below) + len(cells), dtype=object)
            pool[: len(below)] = [shapes[k] for k in below]
            pool[len(below) :] = cells
            position = dict(zip(below, range(len(below)), strict=True))
            groups = []
            for unit in units[level]:
                if unit in site_point:
                    own = [site_point[unit], *extra.get(unit, ())]
                    groups.append([len(below) + k for k in own])
                else:
                    kids = [k for k in chain.children(unit) if chain.level(k) is not Level.COMPOUND]
                    groups.append([position[k] for k in kids])
            shapes.update(zip(units[level], _unions(pool, groups), strict=True))
            below = units[level]
        buildings_of = [(c, city.buildings_of(c)) for c in city.compounds]
        drawn = [(c, bids) for c, bids in buildings_of if bids]
        compound_shapes = _unions(cells, [[site_point[b] for b in bids] for _, bids in drawn])
        shapes.update(zip([c for c, _ in drawn], compound_shapes, strict=True))
        ordered: list[str] = [u for level in reversed(order) for u in units[level]]
        ordered += [c for c in city.compounds if c in shapes]
        geoms = np.empty(len(ordered), dtype=object)
        geoms[:] = [shapes[i] for i in ordered]
        building_ids = list(city.buildings)
        # Every vertex and building point back to lon/lat in one array, as one
        # transform of the shapes and points would; the buildings' points are
        # made once, from their rows (orienting leaves points as they are).
        ring = shapely.get_coordinates(geoms)
        at = xy[np.fromiter(map(site_point.__getitem__, building_ids), np.intp, len(building_ids))]
        lonlat = np.round(self.proj.inverse(np.concatenate([ring, at])), 7)
        shapely.set_coordinates(geoms, lonlat[: len(ring)])
        shapes_out = np.concatenate(
            [shapely.orient_polygons(geoms), shapely.points(lonlat[len(ring) :])]
        )
        return CityGeometry(
            zip(ordered + building_ids, shapes_out, strict=True),
            synthetic=True,
            projection=self.proj,
        )


class _Mender:
    """The swaps of :meth:`_Synth._mend`: one grid in pieces at a time."""

    def __init__(
        self,
        chain: Any,
        buildings: Any,
        sites: dict[str, list[str]],
        cells: Any,
        site_point: dict[str, int],
        extra: dict[str, list[int]],
        shapes: dict[str, Any],
    ) -> None:
        self.chain, self.buildings, self.sites = chain, buildings, sites
        self.cells, self.site_point, self.extra, self.shapes = cells, site_point, extra, shapes
        self.tree = shapely.STRtree(cells)
        # Each cell's building (None for the cells of rims, outlines and unbuilt units).
        self.building_of = np.full(len(cells), None, dtype=object)
        ids = buildings.ids
        at = np.fromiter(map(site_point.__getitem__, ids), np.intp, len(ids))
        self.building_of[at] = np.array(ids, dtype=object)

    def mend(self, grid: str) -> None:
        """Swap buildings of ``grid`` with neighbours' until it is whole (at most 8 swaps)."""
        cells, site_point = self.cells, self.site_point
        built = [b for b in self.sites[grid] if b in self.buildings]
        for _ in range(8):
            parts = list(shapely.get_parts(self.shapes[grid]))
            if len(parts) < 2:
                return
            main = max(parts, key=lambda p: p.area)
            shapely.prepare(main)
            inside = shapely.contains(
                main, shapely.point_on_surface(cells[[site_point[b] for b in built]])
            )
            if inside.all():
                return
            b = built[int(np.argmin(inside))]  # the first building whose cell lies apart
            if not self._swap(grid, b, self._candidates(grid, main, cells[site_point[b]])):
                return

    def _candidates(self, grid: str, main: Any, lost: Any) -> list[int]:
        """Cells of other grids' buildings touching ``main`` near ``lost``, nearest first."""
        tree, building_of, grid_of = self.tree, self.building_of, self.buildings.grid
        # Built as before (the same sets in the same order): ties in distance
        # keep the order the intersection iterates in.
        near = set(tree.query(main, predicate="touches").tolist()) & set(
            tree.query(lost.buffer(lost.length), predicate="intersects").tolist()
        )
        ks = [k for k in near if (owner := building_of[k]) is not None and grid_of(owner) != grid]
        far = shapely.distance(self.cells[ks], lost).tolist() if ks else []
        return [ks[i] for i in sorted(range(len(ks)), key=far.__getitem__)]

    def _swap(self, grid: str, b: str, candidates: list[int]) -> bool:
        """Trade ``b``'s place with the first of six candidates that joins pieces."""
        chain, shapes, site_point = self.chain, self.shapes, self.site_point
        community = chain.parent(grid)
        for k in candidates[:6]:
            c = self.building_of[k]
            other = self.buildings.grid(c)
            if chain.parent(other) != community:
                continue
            before = self._pieces(grid) + self._pieces(other)
            kept = shapes[grid], shapes[other]
            old_b, old_c = site_point[b], site_point[c]
            site_point[b], site_point[c] = old_c, old_b
            self._rebuild(grid)
            self._rebuild(other)
            if self._pieces(grid) + self._pieces(other) < before:
                self.building_of[old_c], self.building_of[old_b] = b, c
                return True
            # Undone: the shapes of the cells as they were (no need to redo them).
            site_point[b], site_point[c] = old_b, old_c
            shapes[grid], shapes[other] = kept
        return False

    def _pieces(self, grid: str) -> int:
        return int(shapely.get_num_geometries(self.shapes[grid]))

    def _rebuild(self, grid: str) -> None:
        self.shapes[grid] = shapely.coverage_union_all(
            self.cells[_cells_of(grid, self.sites[grid], self.site_point, self.extra)]
        )


def _unions(pool: Any, groups: Sequence[Sequence[int]]) -> list[Any]:
    """The coverage union of each group of ``pool``'s shapes (by position), in order.

    Groups of the same size are unioned in one vectorised call (a 2-D array,
    one row per group): the same GEOS operation on the same collections as one
    call per group, so the same shapes.
    """
    out: list[Any] = [None] * len(groups)
    by_size: dict[int, list[int]] = {}
    for i, group in enumerate(groups):
        by_size.setdefault(len(group), []).append(i)
    for members in by_size.values():
        rows = pool[np.array([groups[i] for i in members], dtype=np.intp)]
        unions: Any = shapely.coverage_union_all(rows, axis=1)
        for i, shape in zip(members, unions, strict=True):
            out[i] = shape
    return out


def _cells_of(
    grid: str, sites: list[str], site_point: dict[str, int], extra: dict[str, list[int]]
) -> list[int]:
    return [site_point[b] for b in sites] + extra.get(grid, [])


def _one_each(
    groups: Sequence[tuple[Sequence[str], NDArray[np.int64]]],
    xy: NDArray[np.float64],
    site_point: dict[str, int],
) -> None:
    """Give each site of each group one of the group's points, in order along the
    longer side of the points' bounding box (as :func:`_kd` does with counts of one),
    every group at once.
    """
    sizes = np.array([len(ids) for _, ids in groups], dtype=np.intp)
    wrong = [len(sites) for sites, ids in groups if len(sites) != len(ids)]
    if wrong:  # pragma: no cover - _kd gives each grid one point per site
        raise GeometryError([f"{len(wrong)} grids got other than one point per site"])
    ids = np.concatenate([ids for _, ids in groups])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pts = xy[ids]
    span = np.maximum.reduceat(pts, starts, axis=0) - np.minimum.reduceat(pts, starts, axis=0)
    axis = np.where(span[:, 0] >= span[:, 1], 0, 1)
    group = np.repeat(np.arange(len(groups)), sizes)
    key = pts[np.arange(len(ids)), axis[group]]
    order = np.lexsort((key, group))  # stable: by group, then along its axis
    site_point.update(
        zip([site for sites, _ in groups for site in sites], ids[order].tolist(), strict=True)
    )


def _kd(
    xy: NDArray[np.float64], idx: NDArray[np.int64], counts: Sequence[int]
) -> list[NDArray[np.int64]]:
    """Split the points ``idx`` into groups of ``counts`` by balanced bisection.

    Each cut runs across the longer side of the points' bounding box, so the
    groups are compact; groups keep their order along the cuts.
    """
    return _kd_many(xy, [(idx, counts)])[0]


def _kd_many(
    xy: NDArray[np.float64], tasks: Sequence[tuple[NDArray[np.int64], Sequence[int]]]
) -> list[list[NDArray[np.int64]]]:
    """:func:`_kd` of each ``(idx, counts)`` task, every task's cuts of one depth at once.

    A cut is the same as one at a time: the bounding box of each piece from a
    segmented max and min (exact), then one stable sort of every piece by
    (piece, coordinate along its longer side), which orders each piece as its
    own stable sort would. A task with one point per group is ordered along its
    longer side in one piece (no bisection), as before.
    """
    out: list[list[NDArray[np.int64]]] = [[idx] * len(counts) for idx, counts in tasks]
    # A piece: (task, its points, first group, end group, the task's cumulative counts).
    pieces: list[tuple[int, NDArray[np.int64], int, int, list[int]]] = []
    singles: list[int] = []
    for t, (idx, counts) in enumerate(tasks):
        if len(counts) == 1:
            continue
        if max(counts) == 1:
            singles.append(t)
        else:
            pieces.append((t, idx, 0, len(counts), list(itertools.accumulate(counts, initial=0))))
    if singles:
        ordered = _along_longer_side([tasks[t][0] for t in singles], xy)
        for t, ids in zip(singles, ordered, strict=True):
            out[t] = [ids[o : o + 1] for o in range(len(ids))]
    while pieces:
        ordered = _along_longer_side([ids for _, ids, _, _, _ in pieces], xy)
        cut = []
        for (t, _, lo, hi, cum), ids in zip(pieces, ordered, strict=True):
            # The group boundary nearest the middle of the points (the first of two as near).
            half = (cum[lo] + cum[hi]) / 2
            k = bisect.bisect_left(cum, half, lo + 1, hi - 1)
            if k > lo + 1 and abs(cum[k - 1] - half) <= abs(cum[k] - half):
                k -= 1
            left = cum[k] - cum[lo]
            for part, a, b in ((ids[:left], lo, k), (ids[left:], k, hi)):
                if b - a == 1:
                    out[t][a] = part
                else:
                    cut.append((t, part, a, b, cum))
        pieces = cut
    return out


def _along_longer_side(
    groups: Sequence[NDArray[np.int64]], xy: NDArray[np.float64]
) -> list[NDArray[np.int64]]:
    """Each group of point ids in stable order along the longer side of its bounding box."""
    sizes = np.fromiter((len(ids) for ids in groups), dtype=np.intp, count=len(groups))
    ids = np.concatenate(groups)
    ends = np.cumsum(sizes)
    starts = ends - sizes
    pts = xy[ids]
    span = np.maximum.reduceat(pts, starts, axis=0) - np.minimum.reduceat(pts, starts, axis=0)
    axis = np.where(span[:, 0] >= span[:, 1], 0, 1)
    group = np.repeat(np.arange(len(groups)), sizes)
    key = pts[np.arange(len(ids)), axis[group]]
    ordered = ids[np.lexsort((key, group))]  # stable: by group, then along its axis
    return [ordered[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]


def _sectors(
    xy: NDArray[np.float64], counts: Sequence[int], angles: Sequence[float]
) -> list[NDArray[np.int64]]:
    """Split a disc's points into angular sectors of ``counts``, ordered by ``angles``."""
    if len(counts) == 1:
        return [np.arange(len(xy))]
    rank = np.argsort(angles, kind="stable")
    sorted_angles = np.array(angles)[rank]
    # Start the sweep in the middle of the widest gap between seats.
    gaps = np.diff(np.concatenate([sorted_angles, [sorted_angles[0] + 2 * math.pi]]))
    widest = int(np.argmax(gaps))
    start = sorted_angles[widest] + gaps[widest] / 2
    rank = np.roll(rank, -(widest + 1))
    theta = np.mod(np.arctan2(xy[:, 1], xy[:, 0]) - start, 2 * math.pi)
    order = np.argsort(theta, kind="stable")
    out: list[NDArray[np.int64]] = [order] * len(counts)
    pos = 0
    for r in rank:
        out[r] = order[pos : pos + counts[r]]
        pos += counts[r]
    return out


def _apart(seeds: list[NDArray[np.float64]], radius: float) -> NDArray[np.float64]:
    """The seeds, each one that falls on an earlier one moved round the origin until free.

    Two rural seats can coincide (core districts pushed out of the core to the same
    point; a tiled megacity's copies): a Voronoi diagram needs distinct sites.
    Seeds that are already apart are returned as they are.
    """
    out = np.array(seeds, dtype=np.float64).reshape(-1, 2)
    taken: set[tuple[float, float]] = set()
    step = 2 * math.pi / (4 * len(out) + 1)
    for i, seed in enumerate(out):
        x, y = float(seed[0]), float(seed[1])
        while (round(x, 3), round(y, 3)) in taken:
            r = math.hypot(x, y) or radius
            angle = math.atan2(y, x) + step
            x, y = r * math.cos(angle), r * math.sin(angle)
        out[i] = (x, y)
        taken.add((round(x, 3), round(y, 3)))
    return out


def _regions(seeds: NDArray[np.float64], land: Any) -> list[Any]:
    """Each seed's Voronoi cell within ``land``."""
    if len(seeds) == 1:
        return [land]
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=land, ordered=True)
    )
    # GEOS can draw a cell crossing itself by 1e-12 m where many edges meet (seeds
    # close together round one point): mended, or the intersection fails.
    broken = ~shapely.is_valid(cells)
    if broken.any():
        cells[broken] = shapely.make_valid(cells[broken])
    return [shapely.intersection(c, land) for c in cells]


def _buffer_to_area(shape: Any, area: float) -> Any:
    """``shape`` buffered (out or in) until its area is ``area`` (bisection on the distance)."""
    lo, hi = -math.sqrt(shape.area) / 4, math.sqrt(area)
    for _ in range(40):
        mid = (lo + hi) / 2
        if shape.buffer(mid, 16).area < area:
            lo = mid
        else:
            hi = mid
    return shape.buffer(hi, 16)

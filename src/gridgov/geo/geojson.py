"""GeoJSON in and out: ``geometry.geojson`` (RFC 7946) for a city.

A geometry file is a FeatureCollection; each feature's ``properties.id``
names a unit, compound or building of the city (a top-level feature ``id``
is accepted when ``properties.id`` is missing). Units and compounds are
Polygon or MultiPolygon, buildings Point; coordinates are WGS84 longitude,
latitude. Reading validates everything and reports every problem at once,
one line each::

    geometry.geojson: feature 12 (230803007002-G003): self-intersecting ring at (130.3301, 46.8012)

(N counts from 0, as in the ``features`` array). Written files carry a
foreign member ``gridgov`` with the projection areas are measured in and
whether the shapes are synthetic; every feature of synthetic geometry also
says ``"synthetic": true``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import shapely

from gridgov.city import City
from gridgov.errors import GeometryError
from gridgov.geo.geometry import CityGeometry
from gridgov.geo.projection import LocalProjection
from gridgov.model import Level

__all__ = [
    "GEOMETRY_FILE",
    "LEVELS",
    "Issue",
    "dumps_geojson",
    "feature_level",
    "load_geojson",
    "read_geojson",
    "validate_geojson",
    "write_geojson",
]

#: The file name of geometry in a city bundle.
GEOMETRY_FILE = "geometry.geojson"
#: The levels a feature can have, from the top down.
LEVELS = ("city", "district", "street", "community", "grid", "compound", "building")
#: Margin around the city's own shape within which every feature must lie, degrees (~1 km).
ENVELOPE_MARGIN_DEG = 0.01
_WGS84_CRS = {
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "urn:ogc:def:crs:OGC::CRS84",
    "urn:ogc:def:crs:EPSG::4326",
    "EPSG:4326",
}


def feature_level(city: City, node: str) -> str | None:
    """The level of ``node`` as written in a feature (``building`` for a building), or None."""
    if node in city.buildings:
        return "building"
    if node in city.chain:
        return city.chain.level(node).value
    return None


# ----------------------------------------------------------------- writing


def dumps_geojson(
    city: City,
    geometry: CityGeometry,
    *,
    levels: Collection[str] | None = None,
    properties: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """The city's geometry as RFC 7946 GeoJSON text.

    Args:
        city: the city the shapes belong to.
        geometry: the shapes.
        levels: only features of these levels (``grid``, ``compound``,
            ``building``, ...); all by default.
        properties: extra properties by id (e.g. a run's ``zone`` or ``mode``).

    Returns:
        The FeatureCollection as compact JSON text, one feature per line.

    Raises:
        GeometryError: ``levels`` names an unknown level.
    """
    if levels is not None:
        unknown = sorted(set(levels) - set(LEVELS))
        if unknown:
            raise GeometryError(
                [f"unknown level {', '.join(unknown)} (expected some of: {', '.join(LEVELS)})"]
            )
    ids: list[str] = []
    props: list[str] = []
    synthetic = geometry.synthetic
    extra = properties or {}
    for node in geometry.ids:
        level = feature_level(city, node)
        if level is None or (levels is not None and level not in levels):
            continue
        p = _feature_properties(city, node, level)
        if synthetic:
            p["synthetic"] = True
        p.update(extra.get(node, {}))
        ids.append(node)
        props.append(json.dumps(p, ensure_ascii=False, separators=(",", ":")))
    geoms = shapely.orient_polygons(geometry.geoms(ids))
    texts: list[str] = list(shapely.to_geojson(geoms)) if len(ids) else []
    meta: dict[str, Any] = {
        "city": city.chain.city,
        "synthetic": synthetic,
        "projection": {
            "kind": "local sinusoidal on WGS84 radii",
            "lon0": geometry.projection.lon0,
            "lat0": geometry.projection.lat0,
        },
    }
    if synthetic:
        meta["note"] = "synthetic geometry drawn by gridgov: not real boundaries"
    head = {"type": "FeatureCollection", "gridgov": meta}
    lines = [json.dumps(head, ensure_ascii=False)[:-1] + ', "features": [']
    body = [
        f'{{"type":"Feature","id":{json.dumps(i, ensure_ascii=False)},'
        f'"geometry":{g},"properties":{p}}}'
        for i, g, p in zip(ids, texts, props, strict=True)
    ]
    lines.append(",\n".join(body))
    lines.append("]}")
    return "\n".join(lines) + "\n"


def _feature_properties(city: City, node: str, level: str) -> dict[str, Any]:
    """The properties of one feature: its id, level, kind, name, households and parent."""
    if level == "building":
        b = city.buildings[node]
        return {
            "id": node,
            "level": level,
            "kind": "building",
            "name": "",
            "households": b.households,
            "grid": b.grid,
            "compound": b.compound,
        }
    if level == "compound":
        c = city.compounds[node]
        return {
            "id": node,
            "level": level,
            "kind": c.kind,
            "name": c.name,
            "households": city.households(node),
            "community": c.community,
        }
    u = city.chain.unit(node)
    p: dict[str, Any] = {
        "id": node,
        "level": level,
        "kind": u.kind,
        "name": u.name,
        "households": city.households(node),
        "parent": u.parent,
    }
    if u.code:
        p["code"] = u.code
    return p


def write_geojson(
    city: City,
    geometry: CityGeometry,
    path: str | os.PathLike[str],
    *,
    levels: Collection[str] | None = None,
    properties: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """Write :func:`dumps_geojson` to ``path`` (whole or not at all).

    Returns:
        The path written.

    Raises:
        GeometryError: an unknown level, or the file cannot be written.
    """
    target = Path(path)
    text = dumps_geojson(city, geometry, levels=levels, properties=properties)
    part = target.with_name(target.name + ".part")
    try:
        part.write_text(text, encoding="utf-8", newline="\n")
        os.replace(part, target)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise GeometryError([f"{target}: cannot write: {exc.strerror}"]) from None
    return target


# ----------------------------------------------------------------- reading


def read_geojson(city: City, path: str | os.PathLike[str]) -> CityGeometry:
    """Read and validate a geometry file for ``city``.

    Raises:
        GeometryError: the file is unreadable or has problems; every problem
            is listed (``NAME: feature N (id): what is wrong``).
    """
    name = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise GeometryError([f"{name}: cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise GeometryError([f"{name}: not UTF-8 text"]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GeometryError([f"{name}:{exc.lineno}: not JSON: {exc.msg}"]) from None
    return load_geojson(city, data, name=name)


@attrs.frozen
class Issue:
    """One problem of a geometry file: the feature (None for the whole file) and what is wrong."""

    #: Index of the feature in the ``features`` array (from 0), or None.
    feature: int | None
    #: The feature's id, when it has one.
    id: str | None
    #: What is wrong and what was expected.
    message: str

    def render(self, name: str) -> str:
        """``NAME: feature N (id): message``."""
        if self.feature is None:
            return f"{name}: {self.message}"
        label = f"feature {self.feature}" + (f" ({self.id})" if self.id else "")
        return f"{name}: {label}: {self.message}"


def load_geojson(city: City, data: Any, *, name: str = GEOMETRY_FILE) -> CityGeometry:
    """Validate parsed GeoJSON (a FeatureCollection) for ``city``; see :func:`read_geojson`.

    Raises:
        GeometryError: every problem, one line each.
    """
    geometry, issues = validate_geojson(city, data)
    if issues:
        raise GeometryError([issue.render(name) for issue in issues])
    assert geometry is not None
    return geometry


def validate_geojson(city: City, data: Any) -> tuple[CityGeometry | None, list[Issue]]:
    """The geometry in parsed GeoJSON, or every problem of it (whole-file ones first).

    Returns:
        (the geometry, []) when valid; (None, the issues) otherwise.
    """
    issues: list[Issue] = []
    if not isinstance(data, Mapping) or data.get("type") != "FeatureCollection":
        return None, [Issue(None, None, "not a GeoJSON FeatureCollection")]
    features = data.get("features")
    if not isinstance(features, list):
        return None, [Issue(None, None, "'features' must be a list")]
    crs = data.get("crs")
    if crs is not None:
        crs_name = crs.get("properties", {}).get("name") if isinstance(crs, Mapping) else None
        if crs_name not in _WGS84_CRS:
            issues.append(
                Issue(
                    None,
                    None,
                    f"crs {crs_name!r}: coordinates must be WGS84 longitude/latitude "
                    "(RFC 7946); reproject the file",
                )
            )
    ids, geoms, where = _feature_shapes(city, features, issues)
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = geoms
    if len(arr):
        valid = shapely.is_valid(arr)
        for k in np.flatnonzero(~valid):
            reason = shapely.is_valid_reason(arr[k])
            issues.append(Issue(where[k], ids[k], _reason(reason)))
        envelope = _envelope(city, ids, arr)
        if envelope is not None:
            box = shapely.box(*envelope)
            shapely.prepare(box)
            outside = ~shapely.covers(box, arr)
            for k in np.flatnonzero(outside):
                w, s, e, nn = (round(v, 4) for v in envelope)
                issues.append(
                    Issue(
                        where[k],
                        ids[k],
                        f"outside the city's envelope (lon {w}..{e}, lat {s}..{nn})",
                    )
                )
    if issues:
        return None, sorted(issues, key=lambda i: -1 if i.feature is None else i.feature)
    found = data.get("gridgov")
    meta: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    projection = None
    proj = meta.get("projection")
    if isinstance(proj, Mapping):
        try:
            projection = LocalProjection(lon0=float(proj["lon0"]), lat0=float(proj["lat0"]))
        except (KeyError, TypeError, ValueError):
            projection = None
    geometry = CityGeometry(
        zip(ids, arr, strict=True),
        synthetic=bool(meta.get("synthetic", False)),
        projection=projection,
    )
    return geometry, []


def _feature_shapes(
    city: City, features: list[Any], issues: list[Issue]
) -> tuple[list[str], list[Any], list[int]]:
    """(ids, shapes, feature numbers) of the readable features; the others' issues
    go to ``issues``."""
    ids: list[str] = []
    geoms: list[Any] = []
    where: list[int] = []
    first: dict[str, int] = {}
    for n, feature in enumerate(features):
        if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
            issues.append(Issue(n, None, "not a GeoJSON Feature"))
            continue
        props = feature.get("properties")
        node = props.get("id") if isinstance(props, Mapping) else None
        if node is None:
            node = feature.get("id")
        if not isinstance(node, str) or not node:
            issues.append(
                Issue(
                    n, None, "properties.id is missing (expected a unit, compound or building id)"
                )
            )
            continue
        level = feature_level(city, node)
        if level is None:
            issues.append(
                Issue(
                    n,
                    node,
                    f"unknown id: no unit, compound or building of {city.chain.city} has it",
                )
            )
            continue
        if node in first:
            issues.append(Issue(n, node, f"id already given by feature {first[node]}"))
            continue
        first[node] = n
        geom, problem = _shape(feature.get("geometry"), level)
        if problem:
            issues.append(Issue(n, node, problem))
            continue
        ids.append(node)
        geoms.append(geom)
        where.append(n)
    return ids, geoms, where


def _envelope(city: City, ids: list[str], geoms: Any) -> tuple[float, float, float, float] | None:
    """The city's own bounds plus a margin: from its city feature, else its districts'."""
    chain = city.chain
    top = [i for i, node in enumerate(ids) if node == chain.city]
    if not top:
        top = [
            i for i, node in enumerate(ids) if node in chain and chain.level(node) is Level.DISTRICT
        ]
    if not top:
        return None
    x0, y0, x1, y1 = shapely.total_bounds(geoms[top])
    m = ENVELOPE_MARGIN_DEG
    return float(x0 - m), float(y0 - m), float(x1 + m), float(y1 + m)


def _positions(value: Any, depth: int) -> tuple[Any, str | None]:
    """Coordinates nested ``depth`` deep as float arrays, or a problem."""
    if depth == 0:
        if (
            not isinstance(value, list)
            or not 2 <= len(value) <= 3
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        ):
            return None, f"a position must be [longitude, latitude], got {_short(value)}"
        lon, lat = float(value[0]), float(value[1])
        if not (math.isfinite(lon) and math.isfinite(lat)) or not (
            -180 <= lon <= 180 and -90 <= lat <= 90
        ):
            return (
                None,
                f"position {_short(value)} is off the globe "
                "(longitude -180..180, latitude -90..90)",
            )
        return (lon, lat), None
    if not isinstance(value, list) or not value:
        return None, f"expected a non-empty list of coordinates, got {_short(value)}"
    out = []
    for item in value:
        got, problem = _positions(item, depth - 1)
        if problem:
            return None, problem
        out.append(got)
    return out, None


def _ring(ring: list[tuple[float, float]]) -> str | None:
    if len(ring) < 4:
        return f"a ring needs at least 4 positions, got {len(ring)}"
    if ring[0] != ring[-1]:
        return (
            f"ring is not closed: first position {list(ring[0])} "
            f"differs from the last {list(ring[-1])}"
        )
    return None


def _shape(geometry: Any, level: str) -> tuple[Any, str | None]:
    """A shapely geometry from a GeoJSON geometry object, or a problem."""
    if not isinstance(geometry, Mapping) or "type" not in geometry:
        return None, "geometry is missing"
    kind = geometry.get("type")
    want = ("Point",) if level == "building" else ("Polygon", "MultiPolygon")
    if kind not in want:
        return None, f"a {level} must be {' or '.join(want)}, got {_short(kind)}"
    coords = geometry.get("coordinates")
    if kind == "Point":
        point, problem = _positions(coords, 0)
        return (shapely.Point(point) if not problem else None), problem
    fast = _fast_polygons(coords if kind == "MultiPolygon" else [coords])
    if fast is not None:
        return (fast[0] if kind == "Polygon" else shapely.MultiPolygon(fast)), None
    depth = 2 if kind == "Polygon" else 3
    rings, problem = _positions(coords, depth)
    if problem:
        return None, problem
    polygons = [rings] if kind == "Polygon" else rings
    built = []
    for polygon in polygons:
        for ring in polygon:
            problem = _ring(ring)
            if problem:
                return None, problem
        built.append(shapely.Polygon(polygon[0], polygon[1:]))
    if kind == "Polygon":
        return built[0], None
    return shapely.MultiPolygon(built), None


def _fast_polygons(polygons: Any) -> list[Any] | None:
    """Polygons from well-formed coordinates, or None to look closer (slow path)."""
    if not isinstance(polygons, list) or not polygons:
        return None
    out = []
    try:
        for polygon in polygons:
            if not isinstance(polygon, list) or not polygon:
                return None
            rings = []
            for ring in polygon:
                arr = np.asarray(ring, dtype=np.float64)
                if arr.ndim != 2 or arr.shape[1] not in (2, 3) or len(arr) < 4:
                    return None
                if not np.array_equal(arr[0], arr[-1]):
                    return None
                lon, lat = arr[:, 0], arr[:, 1]
                if not (
                    np.isfinite(arr).all()
                    and (np.abs(lon) <= 180).all()
                    and (np.abs(lat) <= 90).all()
                ):
                    return None
                rings.append(arr[:, :2])
            out.append(shapely.Polygon(rings[0], rings[1:]))
    except (TypeError, ValueError):
        return None
    return out


def _reason(reason: str) -> str:
    """GEOS' validity reason in words."""
    text, _, at = reason.partition("[")
    at = at.rstrip("]")
    where = ""
    if at:
        parts = at.split()
        try:
            where = f" at ({float(parts[0]):.6f}, {float(parts[1]):.6f})"
        except (ValueError, IndexError):
            where = f" at {at}"
    words = {
        "Self-intersection": "self-intersecting ring",
        "Ring Self-intersection": "self-intersecting ring",
        "Too few points": "a ring with too few distinct points",
        "Hole lies outside shell": "a hole outside its shell",
        "Interior is disconnected": "interior is disconnected",
        "Nested shells": "nested shells (MultiPolygon parts inside each other)",
        "Nested holes": "nested holes",
        "Invalid Coordinate": "invalid coordinate",
    }
    return f"invalid polygon: {words.get(text.strip(), text.strip())}{where}"


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."

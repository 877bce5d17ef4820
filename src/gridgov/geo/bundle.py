"""``geometry.geojson`` as an optional part of a city bundle (:data:`gridgov.cities.PARTS`).

The loader asks :data:`BUNDLE_PART` to check the file against the city (every
problem joins the bundle's, as ``FILE:LINE: feature N (id): what is wrong``;
LINE is the feature's line when the file has one feature per line, as gridgov
writes it, and 0 otherwise), then to attach it: the loaded city carries the
shapes as :attr:`City.geometry`. Saving a city that carries geometry writes
the file back. Coverage is not a load error (real boundaries are rarely
perfect): ``gridgov check BUNDLE`` reports it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from gridgov.city import City
from gridgov.errors import Problem
from gridgov.geo.geojson import GEOMETRY_FILE, validate_geojson, write_geojson
from gridgov.geo.geometry import CityGeometry

__all__ = ["BUNDLE_PART"]

_FEATURE = re.compile(r'"type"\s*:\s*"Feature"')


def _feature_lines(text: str, count: int) -> list[int]:
    """1-based line of each feature when there is one per line, else all 0."""
    lines = [n for n, line in enumerate(text.splitlines(), 1) if _FEATURE.search(line)]
    return lines if len(lines) == count else [0] * count


class _GeometryPart:
    """The ``geometry.geojson`` part of a bundle."""

    file = GEOMETRY_FILE

    def __init__(self) -> None:
        # The geometry of the last file checked, so attach does not read it twice.
        self._checked: tuple[str, int, CityGeometry] | None = None

    def check(self, path: Path, shown: str, city: City | None) -> list[Problem]:
        """Problems of the bundle's ``geometry.geojson`` (ids only once the city is built)."""
        self._checked = None
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            return [Problem(shown, 0, "geometry", f"cannot read: {exc.strerror}")]
        except UnicodeDecodeError:
            return [Problem(shown, 0, "geometry", "not UTF-8 text")]
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            return [Problem(shown, exc.lineno, "geometry", f"not JSON: {exc.msg}")]
        if city is None:
            if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
                return [Problem(shown, 1, "geometry", "not a GeoJSON FeatureCollection")]
            return []
        geometry, issues = validate_geojson(city, data)
        if geometry is not None:
            self._checked = (os.fspath(path), id(city), geometry)
            return []
        features = data.get("features") if isinstance(data, dict) else None
        lines = _feature_lines(text, len(features) if isinstance(features, list) else 0)
        out = []
        for issue in issues:
            if issue.feature is None:
                out.append(Problem(shown, 0, "geometry", issue.message))
                continue
            key = f"feature {issue.feature}" + (f" ({issue.id})" if issue.id else "")
            line = lines[issue.feature] if issue.feature < len(lines) else 0
            out.append(Problem(shown, line, key, issue.message))
        return out

    def attach(self, path: Path, city: City) -> City:
        """The city carrying the bundle's geometry (:attr:`City.geometry`)."""
        checked = self._checked
        if checked is not None and checked[0] == os.fspath(path) and checked[1] == id(city):
            geometry = checked[2]
        else:
            from gridgov.geo.geojson import read_geojson

            geometry = read_geojson(city, path)
        self._checked = None
        return city.with_geometry(geometry)

    def write(self, city: City, folder: Path) -> bool:
        """Write ``geometry.geojson`` when the city carries geometry."""
        geometry = city.geometry
        if not isinstance(geometry, CityGeometry):
            return False
        write_geojson(city, geometry, folder / self.file)
        return True


#: The hook :data:`gridgov.cities.PARTS` finds for ``geometry.geojson``.
BUNDLE_PART = _GeometryPart()

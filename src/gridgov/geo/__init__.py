"""Geometry for a city (the ``geo`` extra): shapes, coverage checks, GeoJSON, alert areas.

Optional: it needs shapely 2.1 or newer (``pip install 'gridgov[geo]'``);
importing :mod:`gridgov.geo` without it raises
:class:`~gridgov.errors.MissingExtraError` naming the extra, and the rest of
gridgov never imports it.

* :class:`CityGeometry`: a shape per unit, compound (polygons) and building
  (points), in WGS84 longitude/latitude, carried beside a :class:`~gridgov.City`;
  areas in m² through a :class:`LocalProjection`.
* :func:`synthesize`: synthetic but plausible shapes for a city that has none
  (the presets).
* :func:`read_geojson`, :func:`write_geojson`, :func:`dumps_geojson`:
  ``geometry.geojson`` (RFC 7946), validated feature by feature.
* :func:`check_coverage`: grids tile their community, and so on up; places lie
  where they belong.
* :class:`AreaMatcher`: which compounds an alert's polygon or circle covers.
* :func:`propose_rebalance`: splits and merges for grids far from 200/50 households.
* :mod:`gridgov.geo.maps`: compounds by zone, static and interactive.
"""

from gridgov.geo._require import require_shapely

require_shapely()

from gridgov.geo.bundle import BUNDLE_PART  # noqa: E402
from gridgov.geo.coverage import DEFAULT_TOLERANCE_M2, CoverageProblem, check_coverage  # noqa: E402
from gridgov.geo.geojson import (  # noqa: E402
    GEOMETRY_FILE,
    LEVELS,
    dumps_geojson,
    load_geojson,
    read_geojson,
    write_geojson,
)
from gridgov.geo.geometry import CityGeometry  # noqa: E402
from gridgov.geo.match import (  # noqa: E402
    MATCH_SHARE,
    AreaMatch,
    AreaMatcher,
    CityMatcher,
    Covered,
    cap_area_shape,
)
from gridgov.geo.projection import LocalProjection  # noqa: E402
from gridgov.geo.rebalance import GridChange, propose_rebalance  # noqa: E402
from gridgov.geo.synth import JIAMUSI_LAYOUT, Layout, synthesize  # noqa: E402

__all__ = [
    "BUNDLE_PART",
    "DEFAULT_TOLERANCE_M2",
    "GEOMETRY_FILE",
    "JIAMUSI_LAYOUT",
    "LEVELS",
    "MATCH_SHARE",
    "AreaMatch",
    "AreaMatcher",
    "CityGeometry",
    "CityMatcher",
    "CoverageProblem",
    "Covered",
    "GridChange",
    "Layout",
    "LocalProjection",
    "cap_area_shape",
    "check_coverage",
    "dumps_geojson",
    "load_geojson",
    "propose_rebalance",
    "read_geojson",
    "synthesize",
    "write_geojson",
]

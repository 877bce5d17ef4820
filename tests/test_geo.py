"""Geometry (the geo extra): projection, synthetic shapes, GeoJSON, coverage checks."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

shapely = pytest.importorskip("shapely", reason="the geo extra (shapely) is not installed")

from shapely.geometry import Polygon  # noqa: E402

from gridgov import City, GeometryError, GridgovError, MissingExtraError  # noqa: E402
from gridgov.cli import main  # noqa: E402
from gridgov.geo import (  # noqa: E402
    AreaMatcher,
    CityGeometry,
    LocalProjection,
    check_coverage,
    dumps_geojson,
    load_geojson,
    propose_rebalance,
    read_geojson,
    synthesize,
    write_geojson,
)
from gridgov.geo.match import match_brute_force  # noqa: E402
from gridgov.geo.synth import _kd, _kd_many, _one_each, _unions  # noqa: E402
from gridgov.presets import small  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# WGS84, written out here so the expected values do not come from the code under test.
A = 6378137.0
E2 = (1 / 298.257223563) * (2 - 1 / 298.257223563)


def ellipsoid_area(west: float, south: float, east: float, north: float) -> float:
    """Area of a longitude/latitude box on the WGS84 ellipsoid, by numerical integration."""
    phi = np.radians(np.linspace(south, north, 20001))
    w = 1 - E2 * np.sin(phi) ** 2
    m = A * (1 - E2) / w**1.5
    n = A / np.sqrt(w)
    return float(np.trapezoid(m * n * np.cos(phi), phi) * math.radians(east - west))


@pytest.fixture(scope="module")
def small_geo(small_city: City) -> CityGeometry:
    return synthesize(small_city)


@pytest.fixture(scope="module")
def jiamusi_geo(jiamusi_city: City) -> CityGeometry:
    return synthesize(jiamusi_city)


class TestProjection:
    """The local projection measures areas in m² within 0.05 % across Jiamusi."""

    @pytest.mark.parametrize(
        ("lon", "lat"), [(130.32, 46.80), (134.29, 48.36), (130.55, 46.24), (129.9, 46.73)]
    )
    def test_box_area_matches_the_ellipsoid(self, lon: float, lat: float) -> None:
        proj = LocalProjection(lon0=130.32, lat0=46.80)
        box = shapely.box(lon, lat, lon + 0.01, lat + 0.01)
        got = proj.to_metric(box).area
        assert got == pytest.approx(ellipsoid_area(lon, lat, lon + 0.01, lat + 0.01), rel=5e-4)

    @given(
        st.floats(min_value=125, max_value=136),
        st.floats(min_value=40, max_value=52),
    )
    def test_forward_then_inverse_is_the_identity(self, lon: float, lat: float) -> None:
        proj = LocalProjection(lon0=130.32, lat0=46.80)
        back = proj.inverse(proj.forward(np.array([[lon, lat]])))
        assert back[0] == pytest.approx([lon, lat], abs=1e-9)

    def test_a_degree_of_latitude_is_111_km(self) -> None:
        # Published meridian arc for one degree centred on 46.8 N: about 111,170 m.
        proj = LocalProjection(lon0=130.32, lat0=46.80)
        ys = proj.forward(np.array([[130.32, 46.3], [130.32, 47.3]]))[:, 1]
        assert ys[1] - ys[0] == pytest.approx(111_170, rel=5e-4)

    def test_circle_has_its_radius(self) -> None:
        proj = LocalProjection(lon0=130.32, lat0=46.80)
        circle = proj.circle(130.4, 46.9, 2000.0, vertices=64)
        # A regular 64-gon inscribed in a circle of radius r.
        expected = 0.5 * 64 * 2000.0**2 * math.sin(2 * math.pi / 64)
        assert proj.to_metric(circle).area == pytest.approx(expected, rel=2e-3)
        assert isinstance(circle, Polygon)
        assert circle.exterior.is_ccw

    def test_origin_off_the_globe_is_refused(self) -> None:
        with pytest.raises(ValueError, match="lat0"):
            LocalProjection(lon0=0.0, lat0=95.0)


class TestSynthesize:
    """Synthetic shapes: complete, valid, deterministic, tiling by construction, plausible."""

    def test_every_unit_compound_and_building_has_a_shape(
        self, small_city: City, small_geo: CityGeometry
    ) -> None:
        units = set(small_city.chain.units()) - set(small_city.compounds)
        for node in units | set(small_city.compounds):
            assert small_geo[node].geom_type in ("Polygon", "MultiPolygon"), node
        for node in small_city.buildings:
            assert small_geo[node].geom_type == "Point", node
        assert len(small_geo) == len(units) + len(small_city.compounds) + len(small_city.buildings)
        assert small_geo.synthetic

    def test_same_seed_same_shapes_other_seed_other_shapes(self, small_city: City) -> None:
        one, two = synthesize(small_city, seed=3), synthesize(small_city, seed=3)
        other = synthesize(small_city, seed=4)
        assert list(shapely.to_wkb(one.geoms())) == list(shapely.to_wkb(two.geoms()))
        assert list(shapely.to_wkb(one.geoms())) != list(shapely.to_wkb(other.geoms()))

    def test_small_coverage_is_seamless(self, small_city: City, small_geo: CityGeometry) -> None:
        assert check_coverage(small_city, small_geo) == []

    def test_jiamusi_coverage_is_seamless(
        self, jiamusi_city: City, jiamusi_geo: CityGeometry
    ) -> None:
        assert check_coverage(jiamusi_city, jiamusi_geo) == []
        assert shapely.is_valid(jiamusi_geo.geoms()).all()

    def test_jiamusi_has_about_its_real_area(
        self, jiamusi_city: City, jiamusi_geo: CityGeometry
    ) -> None:
        # Jiamusi's published area is 32,704 km²; the outline adds small bumps.
        assert jiamusi_geo.area_m2(jiamusi_city.chain.city) / 1e6 == pytest.approx(32_704, rel=0.02)

    @pytest.mark.parametrize(
        ("district", "lon", "lat"),
        [
            ("230822", 130.55, 46.24),  # Huanan County
            ("230826", 130.72, 47.02),  # Huachuan County
            ("230828", 129.90, 46.73),  # Tangyuan County
            ("230881", 132.51, 47.64),  # Tongjiang
            ("230882", 131.98, 47.25),  # Fujin
            ("230883", 134.29, 48.36),  # Fuyuan
        ],
    )
    def test_counties_lie_around_their_real_seats(
        self, jiamusi_geo: CityGeometry, district: str, lon: float, lat: float
    ) -> None:
        assert jiamusi_geo[district].contains(shapely.Point(lon, lat))

    def test_urban_districts_are_near_the_city_centre(self, jiamusi_geo: CityGeometry) -> None:
        centre = shapely.Point(130.32, 46.80)
        for district in ("230803", "230804", "230805"):
            assert jiamusi_geo[district].distance(centre) < 0.15, district

    def test_urban_grid_areas_follow_households(
        self, jiamusi_city: City, jiamusi_geo: CityGeometry
    ) -> None:
        urban = jiamusi_city.grids("urban")
        per_household = np.array(
            [jiamusi_geo.area_m2(g) / jiamusi_city.households(g) for g in urban]
        )
        # 250 m² a household (gross), give or take the building-cell noise.
        assert np.median(per_household) == pytest.approx(250, rel=0.2)
        rural = jiamusi_city.grids("rural")
        rural_median = np.median([jiamusi_geo.area_m2(g) for g in rural])
        assert rural_median > 50 * np.median([jiamusi_geo.area_m2(g) for g in urban])

    def test_grids_are_nearly_all_in_one_piece(
        self, jiamusi_city: City, jiamusi_geo: CityGeometry
    ) -> None:
        grids = jiamusi_city.grids()
        pieces = [jiamusi_geo[g].geom_type == "MultiPolygon" for g in grids]
        assert sum(pieces) / len(grids) < 0.01

    def test_geometry_is_in_wgs84_near_jiamusi(self, jiamusi_geo: CityGeometry) -> None:
        west, south, east, north = jiamusi_geo.bounds()
        assert 129 < west < east < 135.5
        assert 45.5 < south < north < 49

    @given(st.integers(min_value=0, max_value=2**31))
    def test_any_seed_tiles_the_small_preset(self, seed: int) -> None:
        city = small(seed=seed % 7)
        geometry = synthesize(city, seed=seed)
        assert check_coverage(city, geometry) == []

    @given(
        st.lists(
            st.lists(st.integers(0, 35), min_size=1, max_size=6, unique=True),
            min_size=1,
            max_size=12,
        )
    )
    def test_unions_in_batches_are_the_unions_one_group_at_a_time(
        self, groups: list[list[int]]
    ) -> None:
        # Cells of a 6 x 6 lattice; groups may share a size or cells, and be in pieces.
        cells = np.empty(36, dtype=object)
        cells[:] = [shapely.box(i % 6, i // 6, i % 6 + 1, i // 6 + 1) for i in range(36)]
        one_by_one = [shapely.coverage_union_all(cells[g]) for g in groups]
        batched = _unions(cells, groups)
        assert [s.wkb for s in batched] == [s.wkb for s in one_by_one]

    @given(st.integers(0, 2**31), st.lists(st.integers(1, 9), min_size=1, max_size=8))
    def test_buildings_placed_at_once_as_one_grid_at_a_time(
        self, seed: int, sizes: list[int]
    ) -> None:
        rng = np.random.default_rng(seed)
        xy = rng.uniform(0, 100, (sum(sizes), 2)) * rng.uniform(0.1, 1, 2)
        ids = rng.permutation(len(xy))
        groups, start = [], 0
        for g, n in enumerate(sizes):
            groups.append(([f"b{g}.{k}" for k in range(n)], ids[start : start + n]))
            start += n
        at_once: dict[str, int] = {}
        _one_each(groups, xy, at_once)
        one_at_a_time = {
            site: int(sub[0])
            for sites, idx in groups
            for site, sub in zip(sites, _kd(xy, idx, [1] * len(sites)), strict=True)
        }
        assert at_once == one_at_a_time

    @given(
        st.integers(0, 2**31),
        st.lists(st.lists(st.integers(1, 6), min_size=1, max_size=9), min_size=1, max_size=6),
        st.booleans(),
    )
    def test_cuts_of_many_units_at_once_are_each_unit_cut_alone(
        self, seed: int, tasks: list[list[int]], lattice: bool
    ) -> None:
        # Points on a lattice tie along both axes, so the sorts' stability shows.
        rng = np.random.default_rng(seed)
        n = sum(sum(counts) for counts in tasks)
        xy = rng.integers(0, 4, (n, 2)).astype(float) if lattice else rng.uniform(0, 50, (n, 2))
        ids = rng.permutation(n)
        work, start = [], 0
        for counts in tasks:
            work.append((ids[start : start + sum(counts)], counts))
            start += sum(counts)
        at_once = _kd_many(xy, work)
        alone = [_bisect_one_at_a_time(xy, idx, counts) for idx, counts in work]
        assert [[g.tolist() for g in groups] for groups in at_once] == [
            [g.tolist() for g in groups] for groups in alone
        ]


def _bisect_one_at_a_time(xy: Any, idx: Any, counts: list[int]) -> list[Any]:
    """The bisection written out, one cut at a time (the reference for _kd_many)."""
    if len(counts) == 1:
        return [idx]
    if max(counts) == 1:
        pts = xy[idx]
        span = pts.max(axis=0) - pts.min(axis=0)
        order = np.argsort(pts[:, 0 if span[0] >= span[1] else 1], kind="stable")
        return [idx[o : o + 1] for o in order]
    out = [idx] * len(counts)
    cum = [0]
    for c in counts:
        cum.append(cum[-1] + c)
    stack = [(idx, 0, len(counts))]
    while stack:
        ids, lo, hi = stack.pop()
        if hi - lo == 1:
            out[lo] = ids
            continue
        half = (cum[lo] + cum[hi]) / 2
        k = min(range(lo + 1, hi), key=lambda j: abs(cum[j] - half))
        left = cum[k] - cum[lo]
        pts = xy[ids]
        span = pts.max(axis=0) - pts.min(axis=0)
        order = pts[:, 0 if span[0] >= span[1] else 1].argsort(kind="stable")
        stack.append((ids[order[left:]], k, hi))
        stack.append((ids[order[:left]], lo, k))
    return out


def _collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def _feature(node: str, geometry: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"id": node}, "geometry": geometry}


def _square(lon: float, lat: float, size: float = 0.001) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


class TestGeoJSON:
    """geometry.geojson is written in RFC 7946 and read back with every problem named."""

    def test_round_trip_keeps_ids_and_areas(
        self, small_city: City, small_geo: CityGeometry, tmp_path: Path
    ) -> None:
        path = write_geojson(small_city, small_geo, tmp_path / "geometry.geojson")
        back = read_geojson(small_city, path)
        assert back.ids == small_geo.ids
        assert back.projection == small_geo.projection
        assert back.synthetic
        assert np.allclose(back.areas_m2(), small_geo.areas_m2(), rtol=0, atol=1e-6)

    def test_shapely_reads_the_file_with_the_same_ids_and_areas(
        self, small_city: City, small_geo: CityGeometry, tmp_path: Path
    ) -> None:
        path = write_geojson(small_city, small_geo, tmp_path / "g.geojson", levels=["grid"])
        data = json.loads(path.read_text(encoding="utf-8"))
        shapes = {
            f["properties"]["id"]: shapely.geometry.shape(f["geometry"]) for f in data["features"]
        }
        assert sorted(shapes) == sorted(small_city.grids())
        for grid, shape in shapes.items():
            # Planar lon/lat area, computed by shapely on what it read.
            assert shape.area == pytest.approx(small_geo[grid].area, rel=1e-9)
            assert shape.exterior.is_ccw if shape.geom_type == "Polygon" else True

    def test_features_carry_level_kind_name_households_and_the_synthetic_label(
        self, small_city: City, small_geo: CityGeometry
    ) -> None:
        data = json.loads(dumps_geojson(small_city, small_geo))
        assert data["gridgov"]["synthetic"] is True
        by_id = {f["properties"]["id"]: f["properties"] for f in data["features"]}
        grid = small_city.grids("urban")[0]
        assert by_id[grid]["level"] == "grid"
        assert by_id[grid]["kind"] == "urban"
        assert by_id[grid]["households"] == small_city.households(grid)
        assert by_id[grid]["synthetic"] is True
        building = sorted(small_city.buildings)[0]
        assert by_id[building]["grid"] == small_city.building(building).grid

    def test_unknown_level_is_refused(self, small_city: City, small_geo: CityGeometry) -> None:
        with pytest.raises(GeometryError, match="unknown level block"):
            dumps_geojson(small_city, small_geo, levels=["block"])

    def test_every_problem_is_reported_with_feature_number_and_id(
        self, small_city: City, small_geo: CityGeometry
    ) -> None:
        grid = small_city.grids()[0]
        grid2 = small_city.grids()[1]
        building = sorted(small_city.buildings)[0]
        compound = sorted(small_city.compounds)[0]
        lon, lat = small_geo[grid].representative_point().coords[0]
        city_shape = small_geo[small_city.chain.city]
        assert isinstance(city_shape, Polygon)
        bowtie = {
            "type": "Polygon",
            "coordinates": [
                [
                    [lon, lat],
                    [lon + 0.001, lat + 0.001],
                    [lon + 0.001, lat],
                    [lon, lat + 0.001],
                    [lon, lat],
                ]
            ],
        }
        data = _collection(
            _feature(
                small_city.chain.city,
                {
                    "type": "Polygon",
                    "coordinates": [[list(p) for p in city_shape.exterior.coords]],
                },
            ),
            _feature(grid, bowtie),
            _feature(grid2, {"type": "Point", "coordinates": [lon, lat]}),
            _feature("990101001001-G999", _square(lon, lat)),
            _feature(compound, _square(lon, 95.0)),
            _feature(building, {"type": "Point", "coordinates": [lon + 1.0, lat]}),
            _feature(grid, _square(lon, lat)),
            {"type": "Feature", "properties": {}, "geometry": _square(lon, lat)},
            _feature(
                small_city.chain.children(small_city.chain.city)[0],
                {
                    "type": "Polygon",
                    "coordinates": [[[lon, lat], [lon + 0.001, lat], [lon, lat + 0.001]]],
                },
            ),
        )
        with pytest.raises(GeometryError) as caught:
            load_geojson(small_city, data)
        problems = caught.value.problems
        district = small_city.chain.children(small_city.chain.city)[0]
        expected_starts = [
            f"geometry.geojson: feature 1 ({grid}): invalid polygon: self-intersecting ring at (",
            f"geometry.geojson: feature 2 ({grid2}): "
            "a grid must be Polygon or MultiPolygon, got 'Point'",
            "geometry.geojson: feature 3 (990101001001-G999): unknown id",
            f"geometry.geojson: feature 4 ({compound}): position",
            f"geometry.geojson: feature 5 ({building}): outside the city's envelope",
            f"geometry.geojson: feature 6 ({grid}): id already given by feature 1",
            "geometry.geojson: feature 7: properties.id is missing",
            f"geometry.geojson: feature 8 ({district}): a ring needs at least 4 positions, got 3",
        ]
        assert len(problems) == len(expected_starts), problems
        for line, start in zip(problems, expected_starts, strict=True):
            assert line.startswith(start), (line, start)
        assert "off the globe" in problems[3]

    def test_not_a_feature_collection(self, small_city: City) -> None:
        with pytest.raises(GeometryError, match="not a GeoJSON FeatureCollection"):
            load_geojson(small_city, {"type": "Feature"})

    def test_a_foreign_crs_is_refused(self, small_city: City) -> None:
        data = _collection()
        data["crs"] = {"type": "name", "properties": {"name": "EPSG:3857"}}
        with pytest.raises(GeometryError, match="must be WGS84"):
            load_geojson(small_city, data)

    def test_unreadable_file_is_one_problem(self, small_city: City, tmp_path: Path) -> None:
        bad = tmp_path / "geometry.geojson"
        bad.write_text("{not json", encoding="utf-8")
        with pytest.raises(GeometryError, match=r"geometry.geojson:1: not JSON"):
            read_geojson(small_city, bad)


class TestCoverage:
    """check_coverage names gaps, overlaps and misplaced places with ids, m² and a point."""

    def _with(self, geometry: CityGeometry, **changes: Any) -> CityGeometry:
        shapes = {i: geometry[i] for i in geometry.ids}
        for node, shape in changes.items():
            if shape is None:
                del shapes[node]
            else:
                shapes[node] = shape
        return CityGeometry(shapes, projection=geometry.projection)

    def test_a_missing_grid_is_a_gap_of_its_area(
        self, small_city: City, small_geo: CityGeometry
    ) -> None:
        grid = small_city.grids("urban")[0]
        community = small_city.community_of(grid)
        broken = self._with(small_geo, **{grid: None})
        problems = check_coverage(small_city, broken)
        kinds = sorted(p.kind for p in problems)
        assert "missing" in kinds
        gap = next(p for p in problems if p.kind == "gap")
        assert gap.ids == (community,)
        assert gap.area_m2 == pytest.approx(small_geo.area_m2(grid), rel=1e-6)
        assert small_geo[grid].buffer(1e-9).contains(shapely.Point(gap.point))
        assert str(gap).startswith(f"gap in community {community}: ")

    def test_overlapping_grids_are_named_with_the_overlap_area(
        self, small_city: City, small_geo: CityGeometry
    ) -> None:
        first, second = small_city.grids("urban")[:2]
        grown = small_geo[first].union(small_geo[second].buffer(-0.0002))
        problems = check_coverage(small_city, self._with(small_geo, **{first: grown}))
        overlap = [p for p in problems if p.kind == "overlap"]
        assert len(overlap) == 1
        assert set(overlap[0].ids) == {first, second}
        shrunk = small_geo.projection.to_metric(small_geo[second].buffer(-0.0002))
        assert overlap[0].area_m2 == pytest.approx(shrunk.area, rel=1e-6)

    def test_a_grid_reaching_out_of_its_community(
        self, small_city: City, small_geo: CityGeometry
    ) -> None:
        grid = small_city.grids("rural")[0]
        moved = shapely.affinity.translate(small_geo[grid], xoff=0.5)
        problems = check_coverage(small_city, self._with(small_geo, **{grid: moved}))
        outside = [p for p in problems if p.kind == "outside" and grid in p.ids]
        assert outside, problems
        assert outside[0].area_m2 == pytest.approx(small_geo.area_m2(grid), rel=0.01)

    def test_a_building_outside_its_grid(self, small_city: City, small_geo: CityGeometry) -> None:
        building = sorted(small_city.buildings)[0]
        grid = small_city.building(building).grid
        away = shapely.Point(small_geo[grid].bounds[2] + 0.01, small_geo[grid].bounds[3])
        problems = check_coverage(small_city, self._with(small_geo, **{building: away}))
        assert [p.kind for p in problems] == ["building_outside"]
        assert problems[0].ids == (building, grid)
        assert problems[0].area_m2 > 700  # 0.01 degree of longitude is about 760 m here

    def test_a_compound_outside_its_community(
        self, small_city: City, small_geo: CityGeometry
    ) -> None:
        compound = sorted(small_city.compounds)[0]
        community = small_city.compound(compound).community
        bigger = small_geo[compound].buffer(0.01)
        problems = check_coverage(small_city, self._with(small_geo, **{compound: bigger}))
        assert any(
            p.kind == "compound_outside" and p.ids == (compound, community) for p in problems
        )
        assert any(p.kind == "overlap" and compound in p.ids for p in problems)

    def test_slivers_below_the_tolerance_are_ignored(
        self, small_city: City, small_geo: CityGeometry
    ) -> None:
        grid = small_city.grids("urban")[0]
        nudged = small_geo[grid].buffer(1e-8)  # about a millimetre
        assert check_coverage(small_city, self._with(small_geo, **{grid: nudged})) == []


class TestOptionalExtra:
    """Core gridgov works without shapely; gridgov.geo says which extra to install."""

    def test_core_does_not_import_shapely_and_geo_names_the_extra(self) -> None:
        code = textwrap.dedent(
            """
            import sys
            sys.modules["shapely"] = None  # as if shapely were not installed
            import gridgov, gridgov.cli, gridgov.presets
            city = gridgov.presets.small()
            try:
                import gridgov.geo
            except gridgov.MissingExtraError as exc:
                print(exc.extra, exc)
            """
        )
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""},
        )
        assert done.stdout.strip() == (
            "geo shapely is not installed; install the 'geo' extra: pip install 'gridgov[geo]'"
        )

    def test_export_without_shapely_is_one_error_line(self) -> None:
        code = textwrap.dedent(
            """
            import sys
            sys.modules["shapely"] = None
            from gridgov.cli import main
            sys.exit(main(["export", "--preset", "small", "--format", "geojson"]))
            """
        )
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""},
        )
        assert done.returncode == 1
        assert done.stdout == ""
        assert done.stderr == (
            "gridgov: error: shapely is not installed; install the 'geo' extra: "
            "pip install 'gridgov[geo]'\n"
        )

    def test_missing_extra_error_is_a_gridgov_error(self) -> None:
        assert issubclass(MissingExtraError, GridgovError)


class TestExportCommand:
    """gridgov export --format geojson writes a layer shapely reads back."""

    def test_grid_layer_reads_back_with_the_same_ids_and_areas(
        self, small_city: City, small_geo: CityGeometry, tmp_path: Path
    ) -> None:
        target = tmp_path / "grids.geojson"
        argv = ["export", "--preset", "small", "--format", "geojson", "--level", "grid"]
        assert main([*argv, "--out", str(target)]) == 0
        data = json.loads(target.read_text(encoding="utf-8"))
        ids = [f["properties"]["id"] for f in data["features"]]
        assert sorted(ids) == sorted(small_city.grids())
        for feature in data["features"]:
            shape = shapely.geometry.shape(feature["geometry"])
            grid = feature["properties"]["id"]
            metric = small_geo.projection.to_metric(shape).area
            assert metric == pytest.approx(small_geo.area_m2(grid), rel=1e-9)
            assert feature["properties"]["level"] == "grid"

    def test_level_without_geojson_is_a_usage_error(self) -> None:
        assert main(["export", "--preset", "small", "--format", "json", "--level", "grid"]) == 2


class TestAreaMatcher:
    """Alert polygons and circles match compounds by the share of their area inside."""

    def test_a_compound_shape_matches_that_compound_whole(
        self, small_city: City, small_geo: CityGeometry
    ) -> None:
        compound = sorted(small_city.compounds)[0]
        result = AreaMatcher(small_city, small_geo).match(small_geo[compound])
        assert compound in result.compound_ids()
        mine = next(c for c in result.compounds if c.id == compound)
        assert mine.share == pytest.approx(1.0)
        assert mine.area_m2 == pytest.approx(small_geo.area_m2(compound), rel=1e-9)
        assert all(c.share < 0.5 for c in result.touched)

    def test_cap_polygon_is_latitude_first(self, small_city: City, small_geo: CityGeometry) -> None:
        compound = sorted(small_city.compounds)[0]
        shape = small_geo[compound]
        assert isinstance(shape, Polygon)
        ring = [(lat, lon) for lon, lat in shape.exterior.coords]
        matcher = AreaMatcher(small_city, small_geo)
        assert matcher.match_cap(polygons=[ring]) == matcher.match(shape)

    def test_the_matcher_takes_a_cap_area_as_the_alert_planner_calls_it(
        self, small_city: City, small_geo: CityGeometry
    ) -> None:
        from gridgov.alerts import CapArea

        compound = sorted(small_city.compounds)[0]
        shape = small_geo[compound]
        assert isinstance(shape, Polygon)
        ring = tuple((lat, lon) for lon, lat in shape.exterior.coords)
        area = CapArea(area_desc="drawn by hand", polygons=(ring,))
        matcher = AreaMatcher(small_city, small_geo)
        assert matcher(area) == matcher.match_cap(polygons=[ring])
        assert compound in matcher(area).compound_ids()

    def test_half_a_compound_is_ambiguous_and_goes_to_review(
        self, small_city: City, small_geo: CityGeometry
    ) -> None:
        compound = max(small_city.compounds, key=small_geo.area_m2)
        shape = small_geo[compound]
        west, south, east, north = shape.bounds
        # Bisect on longitude for the cut that leaves half the area west of it.
        lo, hi = west, east
        for _ in range(60):
            mid = (lo + hi) / 2
            share = shape.intersection(shapely.box(west, south, mid, north)).area / shape.area
            lo, hi = (mid, hi) if share < 0.45 else (lo, mid)
        half = shapely.box(west - 1e-4, south - 1e-4, hi, north + 1e-4)
        result = AreaMatcher(small_city, small_geo).match(half)
        mine = next(c for c in (*result.compounds, *result.touched) if c.id == compound)
        assert mine.share == pytest.approx(0.45, abs=0.01)
        assert compound not in [c.id for c in result.compounds]
        assert compound in result.compound_ids()  # a candidate for the reviewer
        assert result.needs_review.startswith("ambiguous: ")
        assert compound in result.needs_review

    def test_a_whole_district_is_large(self, jiamusi_city: City, jiamusi_geo: CityGeometry) -> None:
        result = AreaMatcher(jiamusi_city, jiamusi_geo).match(jiamusi_geo["230803"])
        inside = [c for c in jiamusi_city.compounds if jiamusi_city.district_of(c) == "230803"]
        assert sorted(result.compound_ids()) == sorted(inside)
        assert "large: " in result.needs_review
        assert {c.id for c in result.communities} == set(
            jiamusi_city.chain.below("230803", "community")
        )

    def test_a_small_circle_touches_but_does_not_match(
        self, small_city: City, small_geo: CityGeometry
    ) -> None:
        compound = max(small_city.compounds, key=small_geo.area_m2)
        lon, lat = small_geo[compound].representative_point().coords[0]
        result = AreaMatcher(small_city, small_geo).match_cap(circles=[(lat, lon, 0.01)])
        assert result.compound_ids() == ()
        assert [c.id for c in result.touched] == [compound]
        assert result.area_m2 == pytest.approx(math.pi * 10.0**2, rel=0.01)
        assert result.needs_review == ""

    @given(
        st.floats(min_value=0.0, max_value=1.0),
        st.floats(min_value=0.0, max_value=1.0),
        st.floats(min_value=0.02, max_value=1.5),
    )
    def test_index_agrees_with_the_brute_force_loop(self, u: float, v: float, km: float) -> None:
        city = small()
        geometry = synthesize(city)
        west, south, east, north = geometry.bounds()
        lon, lat = west + u * (east - west), south + v * (north - south)
        area = geometry.projection.circle(lon, lat, km * 1000)
        got = [c.id for c in AreaMatcher(city, geometry).match(area).compounds]
        assert tuple(sorted(got)) == match_brute_force(city, geometry, area)

    @pytest.mark.parametrize(
        ("polygons", "circles", "message"),
        [
            ((), (), "no polygon or circle"),
            ((((46.0, 128.0), (46.1, 128.0), (46.0, 128.0)),), (), "fewer than 4 points"),
            ((), ((46.0, 128.0, 0.0),), "radius must be > 0 km"),
        ],
    )
    def test_bad_areas_are_refused(
        self,
        small_city: City,
        small_geo: CityGeometry,
        polygons: Any,
        circles: Any,
        message: str,
    ) -> None:
        with pytest.raises(GeometryError, match=message):
            AreaMatcher(small_city, small_geo).match_cap(polygons=polygons, circles=circles)


class TestBundle:
    """geometry.geojson travels with a city bundle; gridgov check BUNDLE reports its coverage."""

    @pytest.fixture
    def bundle(self, small_city: City, small_geo: CityGeometry, tmp_path: Path) -> Path:
        return small_city.with_geometry(small_geo).save(tmp_path / "smalltown")

    def test_saved_and_loaded_with_the_city(self, bundle: Path, small_geo: CityGeometry) -> None:
        from gridgov.cities import load_city

        assert (bundle / "geometry.geojson").is_file()
        city = load_city(bundle)
        assert isinstance(city.geometry, CityGeometry)
        assert city.geometry.ids == small_geo.ids
        assert np.allclose(city.geometry.areas_m2(), small_geo.areas_m2(), rtol=0, atol=1e-6)
        again = city.save(bundle.parent / "again")
        assert (again / "geometry.geojson").read_bytes() == (
            bundle / "geometry.geojson"
        ).read_bytes()

    def test_a_city_without_geometry_writes_none(self, small_city: City, tmp_path: Path) -> None:
        folder = small_city.save(tmp_path / "plain")
        assert not (folder / "geometry.geojson").exists()

    def test_bad_features_are_bundle_problems_at_their_line(self, bundle: Path) -> None:
        from gridgov.cities import load_city
        from gridgov.errors import CityError

        path = bundle / "geometry.geojson"
        lines = path.read_text(encoding="utf-8").splitlines()
        # Line 2 is feature 0 (the city); the last feature line names a building.
        lines[-2] = lines[-2].replace("990101", "880101")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        with pytest.raises(CityError) as caught:
            load_city(bundle)
        [problem] = caught.value.problems
        assert problem.file == str(path)
        assert problem.line == len(lines) - 1
        assert problem.key.startswith(f"feature {len(lines) - 3} (880101")
        assert problem.message.startswith("unknown id")

    def test_check_reports_coverage_of_a_valid_file(
        self,
        bundle: Path,
        small_city: City,
        small_geo: CityGeometry,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        assert main(["check", str(bundle)]) == 0
        assert capsys.readouterr().out == "ok (bundle)\n"
        grid = small_city.grids("urban")[0]
        moved = CityGeometry(
            {
                i: shapely.affinity.translate(small_geo[i], xoff=0.0005)
                if i == grid
                else small_geo[i]
                for i in small_geo.ids
            },
            synthetic=True,
            projection=small_geo.projection,
        )
        write_geojson(small_city, moved, bundle / "geometry.geojson")
        assert main(["check", str(bundle)]) == 1
        err = capsys.readouterr().err.splitlines()
        assert all(line.startswith("gridgov: error: ") for line in err)
        out = [line.removeprefix("gridgov: error: ") for line in err]
        expected = [str(p) for p in check_coverage(small_city, moved)]
        assert [line.split(": ", 2)[2] for line in out] == expected
        assert all(line.startswith(f"{bundle / 'geometry.geojson'}:0: coverage.") for line in out)
        assert any(": coverage.gap: gap in community" in line for line in out)


class TestRebalance:
    """Grids far from the 200/50 standard get a split or a merge with a neighbour, on the map."""

    def _scaled(self, city: City, factors: dict[str, float]) -> City:
        import attrs

        buildings = [
            attrs.evolve(b, households=round(b.households * factors.get(b.grid, 1)))
            for b in city.buildings.values()
        ]
        return City.build(
            city.name,
            city.chain,
            city.compounds.values(),
            buildings,
            city.people.values(),
            city.organisations.values(),
        )

    def test_grids_in_band_need_nothing(self, small_city: City, small_geo: CityGeometry) -> None:
        assert propose_rebalance(small_city, small_geo) == ()

    def test_a_crowded_grid_is_split_into_parts_that_tile_it(
        self, small_city: City, small_geo: CityGeometry
    ) -> None:
        grid = "990101001001-G001"
        crowded = self._scaled(small_city, {grid: 3})
        [change] = propose_rebalance(crowded, small_geo)
        assert change.kind == "split"
        assert change.grids == (grid,)
        total = crowded.households(grid)
        assert change.before == (total,)
        assert total > 330  # 300 and the 10 % hysteresis
        assert len(change.after) == math.ceil(total / 200)
        assert sum(change.after) == total
        assert sorted(b for part in change.buildings for b in part) == sorted(
            crowded.buildings_of(grid)
        )
        proj = small_geo.projection
        pieces = [proj.to_metric(s) for s in change.shapes]
        assert sum(p.area for p in pieces) == pytest.approx(small_geo.area_m2(grid), rel=1e-9)
        for part, piece in zip(change.buildings, pieces, strict=True):
            for b in part:
                assert piece.buffer(1e-6).contains(small_geo.metric([b])[0])
        assert str(change).startswith(f"split urban grid {grid} ({total} households")

    def test_an_emptied_grid_merges_into_a_neighbour_that_shares_its_edge(
        self, small_city: City, small_geo: CityGeometry
    ) -> None:
        small_one, other = "990101201201-G001", "990101201201-G002"
        emptied = self._scaled(small_city, {small_one: 0.2})
        [change] = propose_rebalance(emptied, small_geo)
        assert change.kind == "merge"
        assert change.grids == (small_one, other)
        assert change.after == (emptied.households(small_one) + emptied.households(other),)
        merged = small_geo.projection.to_metric(change.shapes[0])
        assert merged.area == pytest.approx(
            small_geo.area_m2(small_one) + small_geo.area_m2(other), rel=1e-9
        )

    def test_no_merge_past_the_band(self, small_city: City, small_geo: CityGeometry) -> None:
        # 0.3 x 48 = 14 households, below 22.5; with the neighbour's 53 x 1.3 = 69 it would
        # stay under 75, but at x 1.5 (80) it would not.
        emptied = self._scaled(small_city, {"990101201201-G001": 0.3, "990101201201-G002": 1.5})
        assert propose_rebalance(emptied, small_geo) == ()


class TestAlertsByGeometry:
    """A CAP alert with only a polygon or circle is matched to compounds by their shapes."""

    def _alert(self, tmp_path: Path, ring: str, name: str = "a1") -> Path:
        from datetime import UTC, datetime

        from gridgov.testing import cap_message

        sent = datetime(2026, 9, 17, 8, 0, tzinfo=UTC)
        path = tmp_path / f"{name}.xml"
        path.write_text(cap_message(name, sent, areas=[("drawn", (), ring)]), encoding="utf-8")
        return path

    def test_a_compound_polygon_seals_that_compound(
        self,
        small_city: City,
        small_geo: CityGeometry,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        compound = "990101001001-C01"
        shape = small_geo[compound]
        assert isinstance(shape, Polygon)
        ring = " ".join(f"{lat},{lon}" for lon, lat in shape.exterior.coords)
        path = self._alert(tmp_path, ring)
        assert main(["alert", str(path), "--preset", "small", "--json"]) == 0
        [row] = json.loads(capsys.readouterr().out)["alerts"]
        assert row["outcome"] == "declare"
        assert row["units"] == [compound]
        assert any("matched by geometry (1 polygon(s)" in r for r in row["reasons"])

    def test_half_a_compound_goes_to_review(
        self,
        small_city: City,
        small_geo: CityGeometry,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        compound = "990101001001-C02"
        shape = small_geo[compound]
        west, south, east, north = shape.bounds
        middle = (west + east) / 2
        half = shapely.box(west - 1e-4, south - 1e-4, middle, north + 1e-4)
        share = shape.intersection(half).area / shape.area
        assert 0.3 <= share < 0.7  # the cut leaves an ambiguous share
        ring = " ".join(f"{lat},{lon}" for lon, lat in half.exterior.coords)
        assert main(["alert", str(self._alert(tmp_path, ring)), "--preset", "small", "--json"]) == 0
        [row] = json.loads(capsys.readouterr().out)["alerts"]
        assert row["outcome"] == "review"
        assert any("ambiguous" in r and compound in r for r in row["reasons"]), row["reasons"]

    def test_the_city_matcher_uses_a_bundle_geometry(
        self, small_city: City, small_geo: CityGeometry
    ) -> None:
        from gridgov.geo import CityMatcher

        shifted = CityGeometry(
            {i: shapely.affinity.translate(small_geo[i], xoff=1.0) for i in small_geo.ids},
            projection=small_geo.projection,
        )
        matcher = CityMatcher(small_city.with_geometry(shifted))
        assert matcher.matcher.geometry is shifted
        assert CityMatcher(small_city).matcher.geometry.synthetic

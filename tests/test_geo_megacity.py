"""Synthetic geometry for a scaled (tiled) preset, and geometry failures as GeometryError."""

from __future__ import annotations

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

shapely = pytest.importorskip("shapely", reason="the geo extra (shapely) is not installed")

from gridgov import GeometryError, GridgovError  # noqa: E402
from gridgov.geo import JIAMUSI_LAYOUT, check_coverage, synthesize  # noqa: E402
from gridgov.geo.synth import _apart  # noqa: E402
from gridgov.model import Level  # noqa: E402
from gridgov.presets import jiamusi  # noqa: E402


class TestScaledPreset:
    @pytest.mark.slow
    def test_a_2x_jiamusi_is_drawn_whole_and_covers_every_unit(self) -> None:
        """Twice Jiamusi (tiled districts with new codes) draws, and the shapes tile the city."""
        city = jiamusi(scale=2)
        geometry = synthesize(city)
        assert check_coverage(city, geometry) == []
        districts = city.chain.children(city.chain.city, Level.DISTRICT)
        assert len(districts) > len(JIAMUSI_LAYOUT.seats)
        for district in districts:
            assert geometry[district].area > 0, district

    def test_the_known_layout_is_kept_when_it_fits(self) -> None:
        """Jiamusi at a small scale keeps its real outline: its districts all have seats."""
        city = jiamusi(scale=0.1)
        drawn = synthesize(city)
        generic = synthesize(city, layout=attrs.evolve(JIAMUSI_LAYOUT, seats={}, outline=()))
        city_id = city.chain.city
        assert not drawn[city_id].equals(generic[city_id])
        # The real outline spans about 5 degrees of longitude (129.55 to 134.90 E).
        west, _, east, _ = drawn[city_id].bounds
        assert east - west > 4.5


class TestLayoutThatDoesNotFit:
    def test_a_seat_outside_the_outline_is_a_geometry_error(self) -> None:
        """A layout whose outline leaves a district's town apart: one clear error, no traceback."""
        seats = dict(JIAMUSI_LAYOUT.seats)
        seats["230881"] = (140.0, 47.6)  # Tongjiang moved 7 degrees east, into the sea
        with pytest.raises(GeometryError, match=r"city 230800: its outline falls apart in 2"):
            synthesize(jiamusi(scale=0.3), layout=attrs.evolve(JIAMUSI_LAYOUT, seats=seats))

    def test_a_geometry_library_failure_is_a_gridgov_error(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Whatever GEOS refuses while drawing reaches the caller as a GeometryError (the city)."""

        def refuse(*_: object, **__: object) -> None:
            raise shapely.errors.GEOSException("TopologyException: side location conflict")

        monkeypatch.setattr(shapely, "voronoi_polygons", refuse)
        with pytest.raises(GridgovError, match=r"city 230800: the geometry library could not"):
            synthesize(jiamusi(scale=0.1))


coordinate = st.integers(min_value=-50, max_value=50).map(lambda v: v * 1000.0)


class TestApart:
    @given(st.lists(st.tuples(coordinate, coordinate), min_size=1, max_size=12))
    def test_seeds_end_distinct_at_their_distance_and_distinct_ones_stay(
        self, seeds: list[tuple[float, float]]
    ) -> None:
        moved = _apart([np.array(s) for s in seeds], 500.0)
        places = {(round(x, 3), round(y, 3)) for x, y in moved}
        assert len(places) == len(seeds)
        if len(set(seeds)) == len(seeds):
            assert [tuple(m) for m in moved.tolist()] == seeds
        for (x, y), (mx, my) in zip(seeds, moved, strict=True):
            if (mx, my) != (x, y):  # moved round the origin: same distance (the radius at 0)
                assert np.hypot(mx, my) == pytest.approx(float(np.hypot(x, y)) or 500.0)

    def test_three_core_seats_pushed_to_one_point_are_spread(self) -> None:
        same = [np.array([0.0, -1500.0])] * 3
        moved = _apart(same, 1500.0)
        assert moved[0].tolist() == [0.0, -1500.0]
        assert len({(round(x, 3), round(y, 3)) for x, y in moved}) == 3

"""Gridding: partitioning buildings into grids and rebalancing them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridgov import GriddingError, GridgovError, GridKind
from gridgov.gridding import Band, band_for, partition, rebalance
from strategies import bands, grid_lists, households, in_band_grids

Grids = list[list[tuple[str, int]]]

URBAN = band_for("urban")
RURAL = band_for("rural")
FAST = settings(max_examples=300, deadline=None)


def size(grid: list[tuple[str, int]]) -> int:
    return sum(h for _, h in grid)


def flat(grids: Grids) -> list[tuple[str, int]]:
    return [building for grid in grids for building in grid]


class TestBand:
    """The published size bands."""

    def test_urban_standard(self) -> None:
        """An urban grid is about 200 households."""
        assert URBAN.target == 200
        assert URBAN.low <= 200 <= URBAN.high

    def test_rural_standard(self) -> None:
        """A rural grid is about 50 households."""
        assert RURAL.target == 50
        assert band_for(GridKind.RURAL) == RURAL
        assert RURAL.low <= 50 <= RURAL.high

    def test_thresholds_apply_hysteresis(self) -> None:
        """split_above and merge_below widen high and low by the hysteresis share."""
        band = Band(target=200, low=100, high=300, hysteresis=0.1)
        assert band.split_above == pytest.approx(330)
        assert band.merge_below == pytest.approx(90)

    def test_no_hysteresis(self) -> None:
        """With no hysteresis the thresholds are high and low themselves."""
        band = Band(target=10, low=5, high=20, hysteresis=0.0)
        assert (band.split_above, band.merge_below) == (20, 5)

    @pytest.mark.parametrize(("low", "target", "high"), [(150, 100, 300), (50, 100, 80)])
    def test_band_order_enforced(self, low: int, target: int, high: int) -> None:
        """A band must have low <= target <= high."""
        with pytest.raises(GriddingError, match="low <= target <= high"):
            Band(target=target, low=low, high=high)

    def test_exclusive_has_no_band(self) -> None:
        """An exclusive grid covers one organisation whatever its size: no band."""
        with pytest.raises(GriddingError, match="'exclusive' has no household band") as info:
            band_for("exclusive")
        assert isinstance(info.value, GridgovError)

    def test_unknown_kind_has_no_band(self) -> None:
        """An unknown kind is a GriddingError, not a bare ValueError."""
        with pytest.raises(GriddingError, match="'suburban'"):
            band_for("suburban")


class TestPartition:
    """partition() cuts buildings into contiguous grids."""

    @FAST
    @given(households(), st.data())
    def test_count_grids_cover_every_building_once_in_order(
        self, buildings: list[tuple[str, int]], data: st.DataObject
    ) -> None:
        """Exactly ``count`` non-empty grids that, joined, are the buildings in order."""
        count = data.draw(st.integers(1, len(buildings)))
        grids = partition(buildings, 200, count)
        assert len(grids) == count
        assert all(grids)
        assert [b for grid in grids for b in grid] == [b for b, _ in buildings]

    @FAST
    @given(households(), st.data())
    def test_grids_near_equal(self, buildings: list[tuple[str, int]], data: st.DataObject) -> None:
        """No grid holds more than an equal share plus one building's households."""
        count = data.draw(st.integers(1, len(buildings)))
        lookup = dict(buildings)
        total = sum(lookup.values())
        largest = max(lookup.values())
        for grid in partition(buildings, 50, count):
            assert sum(lookup[b] for b in grid) <= total / count + largest

    @FAST
    @given(households(max_size=60, most=120), st.integers(1, 300))
    def test_default_count(self, buildings: list[tuple[str, int]], target: int) -> None:
        """Without a count, about total / target grids (at least one, at most one per building)."""
        total = sum(h for _, h in buildings)
        wanted = max(1, round(total / target))
        if wanted > len(buildings):
            with pytest.raises(GriddingError, match="cannot cut"):
                partition(buildings, target)
        else:
            grids = partition(buildings, target)
            assert len(grids) == wanted
            assert [b for grid in grids for b in grid] == [b for b, _ in buildings]

    def test_equal_buildings_cut_evenly(self) -> None:
        """Eight buildings of 50 households into four grids of 100 are cut in pairs."""
        buildings = [(f"B{i}", 50) for i in range(8)]
        assert partition(buildings, 100) == [
            ["B0", "B1"],
            ["B2", "B3"],
            ["B4", "B5"],
            ["B6", "B7"],
        ]

    def test_no_households_gives_one_grid(self) -> None:
        """Buildings with no households at all make one grid."""
        assert partition([("A", 0), ("B", 0)], 200) == [["A", "B"]]

    def test_one_grid_per_building(self) -> None:
        """Asking for as many grids as buildings gives one building per grid."""
        buildings = [("A", 500), ("B", 1), ("C", 1)]
        assert partition(buildings, 200, 3) == [["A"], ["B"], ["C"]]

    def test_empty(self) -> None:
        """An empty list of buildings cannot be gridded."""
        with pytest.raises(GriddingError, match="empty list of buildings"):
            partition([], 200)

    def test_negative_households(self) -> None:
        """A negative household count is refused, naming the building."""
        with pytest.raises(GriddingError, match="negative household count for building B2"):
            partition([("B1", 10), ("B2", -1)], 200)

    def test_too_many_grids(self) -> None:
        """More grids than buildings is refused, saying what is possible."""
        with pytest.raises(
            GriddingError, match=r"cannot cut 3 buildings into 4 grids \(expected 1 to 3\)"
        ):
            partition([("A", 1), ("B", 1), ("C", 1)], 200, 4)

    def test_zero_grids(self) -> None:
        """Zero grids is refused."""
        with pytest.raises(GriddingError, match="into 0 grids"):
            partition([("A", 1)], 200, 0)

    def test_target_below_one(self) -> None:
        """A target below one household is refused."""
        with pytest.raises(GriddingError, match="target must be at least 1"):
            partition([("A", 1)], 0)


def check_rebalanced(before: Grids, after: Grids, band: Band) -> None:
    """The properties every rebalance result has."""
    assert flat(after) == flat(before)
    assert all(after)
    for grid in after:
        if len(grid) > 1:
            assert size(grid) <= band.split_above


class TestRebalance:
    """rebalance() splits grids above the band and merges grids below it."""

    @FAST
    @given(grid_lists(), st.sampled_from([URBAN, RURAL]))
    def test_standard_bands(self, grids: Grids, band: Band) -> None:
        """Every building once, in order; no multi-building grid above split_above."""
        check_rebalanced(grids, rebalance(grids, band), band)

    @FAST
    @given(grid_lists(most=600), bands())
    def test_any_band(self, grids: Grids, band: Band) -> None:
        """The coverage and size properties hold for any valid band."""
        check_rebalanced(grids, rebalance(grids, band), band)

    @FAST
    @given(grid_lists(most=600), st.one_of(st.just(URBAN), st.just(RURAL), bands()))
    def test_idempotent(self, grids: Grids, band: Band) -> None:
        """Rebalancing a rebalanced city changes nothing (no flapping)."""
        once = rebalance(grids, band)
        assert rebalance(once, band) == once

    @FAST
    @given(
        st.one_of(st.just(URBAN), st.just(RURAL), bands()).flatmap(
            lambda band: st.tuples(st.just(band), in_band_grids(band))
        )
    )
    def test_in_band_untouched(self, case: tuple[Band, Grids]) -> None:
        """When every grid is inside the band, rebalance returns them exactly as they were."""
        band, grids = case
        assert rebalance(grids, band) == grids

    @FAST
    @given(grid_lists(most=600), st.sampled_from([URBAN, RURAL]))
    def test_in_band_grids_never_split(self, grids: Grids, band: Band) -> None:
        """A grid inside the band may absorb a small neighbour but is never cut apart."""
        grid_of = {b: i for i, grid in enumerate(rebalance(grids, band)) for b, _ in grid}
        for grid in grids:
            if band.merge_below <= size(grid) <= band.split_above:
                assert len({grid_of[b] for b, _ in grid}) == 1

    def test_large_grid_split(self) -> None:
        """A grid of 700 households in seven buildings is split into grids within the band."""
        grid = [(f"B{i}", 100) for i in range(7)]
        after = rebalance([grid], URBAN)
        assert len(after) >= 3  # 700 / 330 rounded up
        assert all(size(g) <= 330 for g in after)
        assert flat(after) == grid

    def test_small_grid_merges_into_smaller_neighbour(self) -> None:
        """A grid of 20 households joins its smaller neighbour (150, not 200)."""
        grids = [[("A", 150)], [("B", 20)], [("C", 200)]]
        assert rebalance(grids, URBAN) == [[("A", 150), ("B", 20)], [("C", 200)]]

    def test_merge_refused_above_high(self) -> None:
        """A small grid stays when merging would pass band.high."""
        grids = [[("A", 290)], [("B", 20)], [("C", 290)]]
        assert rebalance(grids, URBAN) == grids

    def test_hysteresis_keeps_near_band(self) -> None:
        """Grids a little past high (320) or below low (95) are left alone."""
        grids = [[("A", 160), ("B", 160)], [("C", 95)], [("D", 200)]]
        assert rebalance(grids, URBAN) == grids

    def test_single_building_too_large_stays(self) -> None:
        """A one-building grid above the band cannot be split and stays."""
        grids = [[("A", 900)]]
        assert rebalance(grids, URBAN) == grids

    def test_lone_small_grid_stays(self) -> None:
        """A lone grid below the band has nothing to merge with."""
        grids = [[("A", 5), ("B", 5)]]
        assert rebalance(grids, URBAN) == grids

    def test_empty(self) -> None:
        """No grids in, no grids out."""
        assert rebalance([], URBAN) == []

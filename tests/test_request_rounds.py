"""The request load's rounds: each unit handles its oldest tickets first, within its budget."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from gridgov.sim._requests import _rank_within


@given(st.lists(st.integers(min_value=0, max_value=6), max_size=60))
def test_rank_within_counts_the_earlier_elements_of_the_same_group(groups: list[int]) -> None:
    """Element i's rank is how many elements before it have its group (the definition)."""
    expected = [groups[:i].count(g) for i, g in enumerate(groups)]
    assert _rank_within(np.array(groups, dtype=np.int64)).tolist() == expected


def test_rank_within_small_cases() -> None:
    """Empty, one element, one group, all different."""
    assert _rank_within(np.array([], dtype=np.int64)).tolist() == []
    assert _rank_within(np.array([5])).tolist() == [0]
    assert _rank_within(np.array([3, 3, 3])).tolist() == [0, 1, 2]
    assert _rank_within(np.array([4, 2, 9])).tolist() == [0, 0, 0]
    assert _rank_within(np.array([2, 1, 2, 1, 2])).tolist() == [0, 0, 1, 1, 2]

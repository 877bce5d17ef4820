"""The request load's rounds: each unit handles its oldest tickets first, within its budget."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from gridgov.sim._requests import _choose, _rank_within


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


def turn_by_turn(
    units: list[int],
    draws: list[float],
    counts: list[int],
    triggers: tuple[str, ...],
    budget: list[float],
) -> tuple[list[int], list[tuple[str, int]]]:
    """The rule as the rounds applied it before :func:`_choose`: per turn, with arrays.

    Each turn's tickets: a unit's ``k``-th ticket moves when ``k < floor(b +
    draw)``, ``b`` what is left of its budget at the turn's start; then one per
    ticket moved is taken from the budget (``np.subtract.at``).
    """
    left = np.array(budget)
    taken: list[int] = []
    runs: list[tuple[str, int]] = []
    stop = 0
    for trigger, count in zip(triggers, counts, strict=True):
        start, stop = stop, stop + count
        if not count:
            continue
        group = np.array(units[start:stop], dtype=np.int64)
        rank = _rank_within(group)
        chosen = rank < np.floor(left[group] + np.array(draws[start:stop]))
        np.subtract.at(left, group[chosen], 1.0)
        taken += (np.flatnonzero(chosen) + start).tolist()
        if chosen.any():
            runs.append((trigger, int(chosen.sum())))
    return taken, runs


@given(
    st.lists(st.integers(min_value=0, max_value=70), min_size=6, max_size=6),
    st.lists(st.floats(min_value=0.0, max_value=3.0), min_size=5, max_size=5),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_choose_is_the_turn_by_turn_rule(counts: list[int], budget: list[float], seed: int) -> None:
    """Small turns (chosen in Python) and big ones (with arrays) choose as the rule does."""
    rng = np.random.default_rng(seed)
    total = sum(counts)
    units = rng.integers(0, len(budget), total)
    draws = rng.random(total)
    triggers = ("archive", "publish", "feed_back", "supervise", "track", "classify")
    expected = turn_by_turn(units.tolist(), draws.tolist(), counts, triggers, budget)
    assert _choose(units, draws, counts, triggers, budget) == expected

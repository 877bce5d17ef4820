"""The request load's rounds: each unit handles its oldest tickets first, within its budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import attrs
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gridgov.city import City
from gridgov.rules import TicketRule
from gridgov.sim import _requests
from gridgov.sim._requests import ClosedLoopLoad, HandlingCapacity, _choose, _rank_within


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


def assert_chooses_as_the_rule(counts: list[int], budget: list[float], seed: int) -> None:
    """``counts`` tickets per trigger on units drawn from ``seed``: ``_choose`` chooses the
    tickets the turn-by-turn rule does."""
    rng = np.random.default_rng(seed)
    total = sum(counts)
    units = rng.integers(0, len(budget), total)
    draws = rng.random(total)
    triggers = ("archive", "publish", "feed_back", "supervise", "track", "classify")
    expected = turn_by_turn(units.tolist(), draws.tolist(), counts, triggers, budget)
    assert _choose(units.tolist(), draws.tolist(), counts, triggers, budget) == expected


@given(
    st.lists(st.integers(min_value=0, max_value=70), min_size=6, max_size=6),
    st.lists(st.floats(min_value=0.0, max_value=3.0), min_size=5, max_size=5),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_choose_is_the_turn_by_turn_rule(counts: list[int], budget: list[float], seed: int) -> None:
    """Small turns (chosen in Python) and big ones (with arrays) choose as the rule does."""
    assert_chooses_as_the_rule(counts, budget, seed)


@given(
    st.lists(st.integers(min_value=0, max_value=12), min_size=6, max_size=6),
    st.lists(
        st.one_of(st.floats(min_value=0.0, max_value=3.0), st.sampled_from([0.0, 0.5, 1.0, 2.0])),
        min_size=1,
        max_size=40,
    ),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_choose_small_turns_with_many_units(
    counts: list[int], budget: list[float], seed: int
) -> None:
    """Small turns choose as the rule does whether every unit's budget covers its tickets,
    each unit has one ticket, or some unit has several and too little budget."""
    assert_chooses_as_the_rule(counts, budget, seed)


class TestChooseCoveredUnits:
    """A unit whose budget covers all its tickets of a round moves them all; the others
    are decided by their draws, with what is left of their budgets."""

    def test_covered_exactly_over_two_turns(self) -> None:
        """Unit 0 has 3 tickets over two turns and a budget of 3: all move, even with
        draws of 0; unit 1 (budget 0.5, one ticket) moves only with a draw >= 0.5."""
        units = [0, 1, 0, 0]
        counts = [2, 2]
        triggers = ("publish", "track")
        assert _choose(units, [0.0, 0.0, 0.0, 0.0], counts, triggers, [3.0, 0.5]) == (
            [0, 2, 3],
            [("publish", 1), ("track", 2)],
        )
        assert _choose(units, [0.0, 0.5, 0.0, 0.0], counts, triggers, [3.0, 0.5]) == (
            [0, 1, 2, 3],
            [("publish", 2), ("track", 2)],
        )

    def test_a_tight_unit_uses_what_its_earlier_turns_left(self) -> None:
        """Budget 1.5, three tickets: the first turn's one moves (1 <= 1.5), leaving
        0.5; in the second turn the first moves with a draw >= 0.5 (1 <= 0.5 + d),
        the second never (2 > 0.5 + d)."""
        units = [7, 7, 7]
        budget = [0.0] * 7 + [1.5]
        counts = [1, 2]
        triggers = ("archive", "classify")
        assert _choose(units, [0.0, 0.6, 0.99], counts, triggers, budget) == (
            [0, 1],
            [("archive", 1), ("classify", 1)],
        )
        assert _choose(units, [0.0, 0.4, 0.99], counts, triggers, budget) == (
            [0],
            [("archive", 1)],
        )

    def test_no_budget_moves_nothing(self) -> None:
        """A budget of NaN (no budget) moves no ticket, as the rule's comparison says."""
        nan = float("nan")
        assert _choose([0, 0], [0.9, 0.9], [1, 1], ("archive", "publish"), [nan]) == ([], [])


@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    sizes=st.lists(st.integers(min_value=1, max_value=80), min_size=1, max_size=6),
    low_score=st.integers(min_value=2, max_value=5),
    share=st.sampled_from([0.0, 0.05, 0.5, 1.0]),
)
def test_scores_draw_as_three_calls(
    small_city: City, seed: int, sizes: list[int], low_score: int, share: float
) -> None:
    """The residents' scores are the draws of three calls in turn (the share, the low
    scores, the others), however the load makes them, and leave the stream as they would."""
    rule = attrs.evolve(TicketRule(), low_score=low_score)
    load = ClosedLoopLoad(small_city, rule, {}, seed, HandlingCapacity(low_score_share=share))
    rng = np.random.Generator(np.random.PCG64(seed))
    for size in sizes + sizes:  # each size twice: made, then kept
        draws = rng.random(size).tolist()
        lows = rng.integers(1, low_score, size).tolist()
        highs = rng.integers(low_score, 6, size).tolist()
        expected = [
            low if d < share else high for d, low, high in zip(draws, lows, highs, strict=True)
        ]
        assert load._scores(size) == (expected, sum(d < share for d in draws))
        assert load.rng.random() == rng.random()
    assert load.rng.bit_generator.state == rng.bit_generator.state


def _rule(hours: float) -> TicketRule:
    """The default ticket rules with every limit ``hours`` (short ones: many breaches)."""
    rule = TicketRule()
    return attrs.evolve(
        rule, hours={mode: dict.fromkeys(steps, hours) for mode, steps in rule.hours.items()}
    )


def _days(
    city: City, listed: bool, seed: int, hours: float, capacity: HandlingCapacity, days: int
) -> list[object]:
    """Everything a load gives over ``days`` one-day steps, its tickets in lists or arrays."""
    rates = {"sealed": {"food_supplies": 0.4, "medicine": 0.1}, "controlled": {"garbage": 0.2}}
    load = ClosedLoopLoad(city, _rule(hours), rates, seed, capacity)
    zones = {
        c: ("sealed", "controlled", "open")[i % 3] for i, c in enumerate(sorted(city.compounds))
    }
    quiet = dict.fromkeys(city.compounds, "open")
    start = datetime(2022, 9, 17, tzinfo=UTC)
    out: list[object] = []
    with mock.patch.object(_requests, "_LISTED", 10**9 if listed else 0):
        for day in range(days):
            at = start + timedelta(days=day)
            # No requests on the last day: rounds over the tickets left only.
            load.raise_requests(zones if day < days - 1 else quiet, at, 1.0)
            load.run_rounds(at, 1.0)
            today, latencies = load.take_day()
            arrays = load.arrays
            columns = [getattr(arrays, name)[: arrays.n].tolist() for name in arrays.FIELDS]
            out += [sorted(today.items()), latencies, columns, load.open_count()]
            load.compact()
    out.append(load.rng.bit_generator.state)
    return out


# (each example runs six simulated days of rounds: 100 examples at most, not the ci
# profile's 300, to keep CI's hypothesis run short; it was the slowest ci test)
@settings(max_examples=min(100, settings().max_examples), deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    hours=st.sampled_from([0.1, 0.5, 3.0, 48.0]),
    base=st.floats(min_value=0.5, max_value=8.0),
    low=st.sampled_from([0.0, 0.3, 1.0]),
)
def test_rounds_in_lists_are_the_rounds_with_arrays(
    small_city: City, seed: int, hours: float, base: float, low: float
) -> None:
    """A light load's rounds on lists move, score, escalate and count every ticket as the
    rounds on arrays do (the general form), draw for draw, day after day."""
    capacity = HandlingCapacity(
        base=dict.fromkeys(("grid", "community", "street", "district", "city"), base),
        low_score_share=low,
    )
    listed = _days(small_city, True, seed, hours, capacity, 3)
    assert listed == _days(small_city, False, seed, hours, capacity, 3)

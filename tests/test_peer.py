"""The closed-loop peer benchmark: SimPy, TicketDesk and TicketArrays do the same work."""

from __future__ import annotations

import numpy as np
import pytest
from benchmarks.bench_peer import (
    HOUR,
    Outputs,
    Workload,
    draw,
    floor_tables,
    peer_tables,
    run_bulk,
    run_desk,
    run_desk_calls,
    run_floor,
    run_simpy,
)

from gridgov.presets import small
from gridgov.rules import TicketRule
from gridgov.testing import StandaloneDesk
from gridgov.tickets import TicketArrays

CITY = small()
RULE = TicketRule()
GRIDS = tuple(CITY.chain.units("grid"))
CATEGORIES = tuple(RULE.categories)
MINUTE = 60_000_000


def _all_three(work: Workload, round_minutes: int = 24 * 60) -> tuple[Outputs, Outputs, Outputs]:
    tables = peer_tables(CITY, RULE, work.grids)
    desk = StandaloneDesk(CITY, RULE, situation=lambda origin: "emergency")
    arrays = TicketArrays(CITY, RULE, capacity=1)
    return (
        run_simpy(work, tables),
        run_desk(work, desk),
        run_bulk(work, arrays, round_minutes),
    )


def test_two_tickets_by_hand() -> None:
    """Two tickets, one handler: every figure worked out by hand.

    Medicine (emergency: 0.25 h in ``accepted``) arrives at 0 and is
    classified at exactly 60 minutes: its limit passed at 15, 30, 45 and 60
    minutes (a deadline at the step's own time breaches first), so it climbed
    grid -> community -> street -> district -> city. Repair (emergency:
    0.5 h) arrives at 0 too, waits for the handler until 66 minutes and is
    classified at 67: breaches at 30 and 60 (community, street). Every other
    step takes a minute, well within its limit.
    """
    grid = "990101001001-G001"
    one = MINUTE
    work = Workload(
        handlers=1,
        horizon=14 * 24 * HOUR,
        arrival=np.array([0, 0], dtype=np.int64),
        origin=np.array([GRIDS.index(grid)] * 2, dtype=np.int32),
        category=np.array(
            [CATEGORIES.index("medicine"), CATEGORIES.index("repair")], dtype=np.int16
        ),
        service=np.array([[60 * one] + [one] * 6, [one] * 7], dtype=np.int64),
        grids=GRIDS,
        categories=CATEGORIES,
    )
    expected = Outputs(
        closed=2,
        escalations=(("community", 2), ("street", 2), ("district", 1), ("city", 1)),
        overdue=0,
        latency_p50=66 * one,
        latency_p95=73 * one,
        ticket_steps=16,
    )
    assert _all_three(work) == (expected, expected, expected)


def test_overdue_and_horizon_by_hand() -> None:
    """A breach at the city is overdue once; steps after the horizon do not happen.

    Medicine classified at 80 minutes: breaches at 15, 30, 45, 60 (the
    city) and 75 (overdue, no limit after). The run ends at 95 minutes, in
    ``tracking`` (classified at 80, tracked at 90, supervised only at 100):
    nothing is closed, and tracking's 2 h limit does not pass.
    """
    work = Workload(
        handlers=1,
        horizon=95 * MINUTE,
        arrival=np.array([0], dtype=np.int64),
        origin=np.array([0], dtype=np.int32),
        category=np.array([CATEGORIES.index("medicine")], dtype=np.int16),
        service=np.array([[80 * MINUTE] + [10 * MINUTE] * 6], dtype=np.int64),
        grids=GRIDS,
        categories=CATEGORIES,
    )
    expected = Outputs(
        closed=0,
        escalations=(("community", 1), ("street", 1), ("district", 1), ("city", 1)),
        overdue=1,
        latency_p50=None,
        latency_p95=None,
        ticket_steps=3,
    )
    assert _all_three(work) == (expected, expected, expected)


@pytest.mark.parametrize("round_minutes", [7, 60, 24 * 60])
def test_same_outputs_on_a_drawn_workload(round_minutes: int) -> None:
    """A busy drawn workload: the three agree, whatever the bulk path's round length."""
    work = draw(GRIDS, CATEGORIES, requests=400, handlers=2, days=3, seed=3)
    simpy_out, desk_out, bulk_out = _all_three(work, round_minutes)
    assert simpy_out == desk_out == bulk_out
    assert simpy_out.closed > 0
    assert all(count > 0 for _, count in simpy_out.escalations)


def test_the_desk_ends_the_same_ticket_by_ticket_as_one_call_per_step() -> None:
    """``play`` ticket by ticket and one call per step in time order: same outputs, same desk."""
    work = draw(GRIDS, CATEGORIES, requests=300, handlers=2, days=3, seed=5)
    batched = StandaloneDesk(CITY, RULE, situation=lambda origin: "emergency")
    calls = StandaloneDesk(CITY, RULE, situation=lambda origin: "emergency")
    assert run_desk(work, batched) == run_desk_calls(work, calls)
    assert batched.snapshot() == calls.snapshot()


@pytest.mark.parametrize("untracked", [False, True])
def test_the_floor_loop_gives_the_same_outputs(untracked: bool) -> None:
    """The benchmark's reference line does the same work: its outputs are SimPy's."""
    work = draw(GRIDS, CATEGORIES, requests=300, handlers=3, days=2, seed=4)
    tables = peer_tables(CITY, RULE, work.grids)
    expected = run_simpy(work, tables)
    assert expected.escalations != tuple((level, 0) for level, _ in expected.escalations)
    floors = floor_tables(CITY, RULE, work.grids)
    assert run_floor(work, floors, untracked=untracked) == expected
    assert run_floor(work, floors, untracked=untracked, pause_gc=True) == expected

"""Residents' requests: the eight-step closed loop on the Jiamusi preset.

Throughputs are printed as time per item so that lower is better, like every
other figure; each figure also carries the rate per second.

``tickets_loop``
    The per-ticket path: tickets accepted at random grids of the city and taken
    through all eight steps (accept, classify and transfer, track, supervise,
    feed back, score, publish, archive) by ``TicketDesk``, planned and applied,
    every change recorded. Baseline: a bare ``transitions`` model with the same
    machine definition doing the same eight steps (add the model, seven
    triggers, remove it), without routing, deadlines or records.

``tickets_bulk``
    The bulk path: 1,000,000 tickets (200,000 with ``--quick``) accepted at
    once and taken through the same eight steps by ``TicketArrays``, one
    vectorised call per step over all of them; the figure is time per
    ticket-step (target: 5,000,000 ticket-steps per second). Baseline: the
    per-ticket path's time per ticket-step, measured in the same run.

``tickets_sweep``
    The escalation sweep: 1,000,000 open tickets spread over the states of
    the loop, categories and modes; the clock advances 6 hours and
    ``TicketArrays.sweep`` escalates every breached ticket, one level per
    breach (target: under 1 s). Baseline: ``TicketDesk.plan_due`` over 20,000
    tickets of the same mix, scaled to 1,000,000 (the per-ticket path's sweep).
"""

from __future__ import annotations

import functools
import gc
import random
import statistics
import time
from datetime import timedelta

import numpy as np
from transitions import Machine

from benchmarks import benchmark, figure
from gridgov import City
from gridgov.clock import EPOCH
from gridgov.presets import jiamusi
from gridgov.rules import TicketRule
from gridgov.testing import StandaloneDesk
from gridgov.tickets import STATES, TICKET_TRANSITIONS, TicketArrays

LOOP_TARGET_US = 1000.0  # per ticket through all eight steps (1,000 tickets a second)
BULK_TARGET_NS = 200.0  # per ticket-step: 5,000,000 ticket-steps a second
SWEEP_TARGET_S = 1.0
STEPS = ("classify", "track", "supervise", "feed_back", "score", "publish", "archive")
EIGHT = len(STEPS) + 1  # accepting is the first step
MINUTE = timedelta(minutes=1)


@functools.cache
def _city() -> City:
    return jiamusi()


def _grids(count: int, seed: int = 0) -> list[str]:
    grids = _city().chain.units("grid")
    return random.Random(seed).choices(grids, k=count)


def _loop_per_ticket(count: int) -> float:
    """Seconds per ticket through the eight steps on a TicketDesk."""
    desk = StandaloneDesk(_city())
    categories = list(desk.rule.categories)
    grids = _grids(count)
    rng = random.Random(1)
    gc.collect()
    start = time.perf_counter()
    for i, grid in enumerate(grids):
        at = EPOCH + i * MINUTE
        ticket = desk.open(grid, rng.choice(categories), at).id
        for step in STEPS:
            if step == "score":
                desk.trigger(ticket, step, at, score=5)
            else:
                desk.trigger(ticket, step, at)
    seconds = (time.perf_counter() - start) / count
    assert all(t.state == "archived" for t in desk)
    return seconds


class _Model:
    pass


def _loop_bare(count: int) -> float:
    """Seconds per ticket through the same eight steps on a bare transitions model."""
    machine = Machine(
        model=None,
        states=list(STATES),
        transitions=[dict(t) for t in TICKET_TRANSITIONS],
        initial="accepted",
        auto_transitions=False,
    )
    gc.collect()
    start = time.perf_counter()
    for _ in range(count):
        model = _Model()
        machine.add_model(model)
        for step in STEPS:
            model.trigger(step)  # type: ignore[attr-defined]
        machine.remove_model(model)
    seconds = (time.perf_counter() - start) / count
    return seconds


def _bulk(count: int) -> tuple[float, int]:
    """Seconds for ``count`` tickets through the eight steps on TicketArrays, and the steps."""
    city = _city()
    arrays = TicketArrays(city, TicketRule(), capacity=count)
    grid_index = np.array([arrays.unit_index[g] for g in _grids(count)], dtype=np.int32)
    rng = np.random.default_rng(2)
    categories = rng.integers(0, len(arrays.categories), count).astype(np.int16)
    modes = rng.integers(0, 2, count).astype(np.int8)
    scores = rng.integers(3, 6, count)
    gc.collect()
    start = time.perf_counter()
    idx = arrays.open(grid_index, categories, EPOCH, modes)
    for step in STEPS:
        if step == "score":
            arrays.score(idx, scores, EPOCH)
        else:
            arrays.fire(idx, step, EPOCH)
    seconds = time.perf_counter() - start
    assert arrays.counts()["archived"] == count
    return seconds, count * EIGHT


def _mixed_arrays(count: int) -> TicketArrays:
    """``count`` open tickets spread over the states before feedback and the categories."""
    arrays = TicketArrays(_city(), TicketRule(), capacity=count)
    rng = np.random.default_rng(3)
    grid_index = np.array([arrays.unit_index[g] for g in _grids(count, 4)], dtype=np.int32)
    categories = rng.integers(0, len(arrays.categories), count).astype(np.int16)
    modes = rng.integers(0, 2, count).astype(np.int8)
    idx = arrays.open(grid_index, categories, EPOCH, modes)
    depth = rng.integers(0, 4, count)  # accepted, classified, tracking, supervising
    for d, step in enumerate(("classify", "track", "supervise"), start=1):
        arrays.fire(idx[depth >= d], step, EPOCH)
    return arrays


def _desk_sweep(count: int) -> float:
    """Seconds for TicketDesk.plan_due over ``count`` tickets of the same mix."""
    desk = StandaloneDesk(_city(), situation=lambda origin: "normal")
    categories = list(desk.rule.categories)
    rng = random.Random(3)
    for grid in _grids(count, 4):
        ticket = desk.open(grid, rng.choice(categories), EPOCH).id
        for step in ("classify", "track", "supervise")[: rng.randrange(4)]:
            desk.trigger(ticket, step, EPOCH)
    gc.collect()
    start = time.perf_counter()
    desk.plan_due(EPOCH + 6 * 60 * MINUTE)
    return time.perf_counter() - start


@benchmark("tickets_loop")
def tickets_loop(quick: bool) -> dict[str, dict[str, object]]:
    """Per-ticket path: tickets through all eight steps, against a bare transitions model."""
    count = 300 if quick else 3000
    runs = 1 if quick else 3
    ours = statistics.median(_loop_per_ticket(count) for _ in range(runs))
    bare = statistics.median(_loop_bare(count) for _ in range(runs))
    return {
        "eight_steps": figure(
            ours * 1e6,
            "us",
            LOOP_TARGET_US,
            f"TicketDesk: one ticket accepted at a random Jiamusi grid and taken through all "
            f"eight steps (routing, deadlines, change records), per ticket, {count:,} tickets",
            baseline=bare * 1e6,
            baseline_what="a bare transitions model with the same machine: add the model, "
            "seven triggers, remove it",
            tickets_per_second=round(1 / ours),
            baseline_tickets_per_second=round(1 / bare),
        ),
    }


@benchmark("tickets_bulk")
def tickets_bulk(quick: bool) -> dict[str, dict[str, object]]:
    """Bulk path: ticket-steps per second on integer arrays, against the per-ticket path."""
    count = 200_000 if quick else 1_000_000
    runs = 1 if quick else 3
    timings = [_bulk(count) for _ in range(runs)]
    seconds = statistics.median(s for s, _ in timings)
    steps = timings[0][1]
    per_step = seconds / steps
    per_ticket_step = _loop_per_ticket(300 if quick else 1000) / EIGHT
    return {
        "ticket_step": figure(
            per_step * 1e9,
            "ns",
            BULK_TARGET_NS,
            f"TicketArrays: {count:,} tickets through the eight steps, one vectorised call "
            f"per step ({steps:,} ticket-steps in {seconds:.3f} s), per ticket-step",
            baseline=per_ticket_step * 1e9,
            baseline_what="TicketDesk (per-ticket path), per ticket-step",
            ticket_steps_per_second=round(1 / per_step),
            speedup_over_per_ticket=round(per_ticket_step / per_step, 1),
        ),
    }


@benchmark("tickets_sweep")
def tickets_sweep(quick: bool) -> dict[str, dict[str, object]]:
    """Escalation sweep over 1,000,000 open tickets after a clock advance."""
    count = 1_000_000
    runs: list[float] = []
    escalated = overdue = 0
    for _ in range(1 if quick else 3):
        arrays = _mixed_arrays(count)
        gc.collect()
        start = time.perf_counter()
        found = arrays.sweep(EPOCH + 6 * 60 * MINUTE)
        runs.append(time.perf_counter() - start)
        escalated, overdue = len(found.ticket), len(found.overdue)
    seconds = statistics.median(runs)
    sample = 5_000 if quick else 20_000
    desk_seconds = _desk_sweep(sample) * count / sample
    return {
        "sweep": figure(
            seconds,
            "s",
            SWEEP_TARGET_S,
            f"TicketArrays.sweep over {count:,} open tickets (accepted to supervising, every "
            f"category and mode) 6 h after they were opened: {escalated:,} escalations, "
            f"{overdue:,} overdue at the city",
            baseline=desk_seconds,
            baseline_what=f"TicketDesk.plan_due over {sample:,} tickets of the same mix, "
            f"scaled to {count:,}",
            runs=[round(r, 4) for r in runs],
        ),
    }

"""A peer for the closed loop: the same work through SimPy, ``TicketDesk`` and ``TicketArrays``.

``closed_loop_peer``
    One workload, three implementations, one run. The workload (drawn once
    from a seed, shared by all three as integer microseconds):

    * 100,000 requests (10,000 with ``--quick``) arrive over 14 days at
      random Jiamusi grids, with random categories (uniform over the default
      rules' nine), in a daily cycle (busy at midday, quiet at night). Every
      request is in ``emergency`` mode (a lockdown) and is opened at its
      arrival: step 1, ``accepted``, its limit starts.
    * 400 handlers (40 with ``--quick``) in one pool, first come first
      served. One case, one handler: the handler who takes a ticket keeps it
      until it is archived, and spends a drawn service time on each of the
      seven handled steps (``classify``, ``track``, ``supervise``,
      ``feed_back``, ``score`` (always 5), ``publish``, ``archive``), firing
      the step's trigger when its time ends. The mean total service time is
      set so that the handlers are 80 % busy on average (more than busy at
      midday, so queues form and drain).
    * Time limits, routing and escalation are the default rules' (emergency
      limits per category and state): classification routes the ticket up
      to the category's level (a ticket that already climbed stays); each
      time a limit passes before the step that ends the stay fires, the
      ticket climbs one level from the unit holding it and the same limit
      starts again from the breach; at the city it is recorded overdue once
      and no limit runs until the next step; feedback returns it to its
      grid. A deadline falling exactly at a step's time breaches first.
    * It runs until 14 days after the start: a step due later does not
      happen, and breaches up to the end are counted for every open ticket.

    Outputs, compared exactly: tickets closed (archived), escalations per
    level climbed to, overdue records, closing latency p50 and p95 (archive
    time minus arrival, nearest rank, microseconds), and ticket-steps done.
    The figures are reported only when all three agree
    (``outputs_equal``); otherwise the ratios are ``null``.

    The three implementations (setup outside the timings: building the city,
    the peer's plain dicts of parents, ancestors and limits, the desk, the
    arrays):

    * **SimPy** (``simpy.Resource`` with the handlers as capacity, one
      process per ticket started by an arrival process, one timeout per
      step); deadlines are checked arithmetically when a step ends
      (escalation does not change the handling, so no watchdog events are
      needed: the fastest honest SimPy model of this loop).
    * **gridgov, per-ticket path**: the handlers' queue is computed first
      (``handling``: one heap of the handlers' free times, first come first
      served; this time is included), then every opening and step through
      ``StandaloneDesk.play`` in one call, ticket by ticket (each step
      decided on its own ticket at its own time after that ticket's
      breaches, every change recorded; tickets do not affect one another,
      so the desk ends as with the steps in time order, which a test
      checks), then ``advance`` to the horizon. The same, one call per step
      in time order (``advance`` then ``open``/``trigger``), is reported as
      ``desk_per_call_vs_simpy``. The desk pauses the cyclic garbage
      collector during ``play`` (as the engine's bulk commands do); SimPy
      run with the collector paused too is reported as ``simpy_gc_paused_s``
      and ``desk_vs_simpy_gc_paused``. The desk's lookup tables (routes for
      every unit and category, feedback's way down for every grid) are built
      by ``desk.prepare()`` before its timing, as the SimPy model's plain
      tables are built before its own; ``desk_prepare_s`` is their time and
      ``desk_with_prepare_vs_simpy_cpu`` the ratio with it counted.
    * **gridgov, bulk path**: the same queue, then round by round (one day;
      idle rounds skipped; ``bulk_hourly_rounds_vs_simpy`` is the same with
      60-minute rounds, and a test shows the outputs do not depend on the
      round's length) the round's openings as one
      ``TicketArrays.open`` with each ticket's own time, and per step the
      round's tickets as one ``sweep`` up to each ticket's own time (its
      deadline checked before it fires) and one ``fire``/``score`` with those
      times.

    SimPy, the desk's stream and the two floors (below) run in turn
    ``ROUNDS`` times (once with ``--quick``); their times are the medians,
    ``desk_vs_simpy`` and the floors' ratios the medians of each round's
    ratio (both sides measured in the same round), and every round must give
    the same outputs. The other paths run once.

    Figures: ``desk_vs_simpy`` and ``bulk_vs_simpy`` are speedups (SimPy's
    time over the path's; higher is better; targets 3 and 20),
    ``outputs_equal`` is true or false. Each figure carries the three times
    and ticket-steps per second.

    The floor (``floor_vs_simpy``, a reference line): :func:`run_floor`, the
    least a per-ticket path in Python does on the desk's stream (find the
    step's ticket, its breaches, one lookup, the on-time flag, the due time,
    a compact record per change, the routes' hops; then the outputs read
    from the records), with a mutable record and a list history per ticket
    as issue #15 asks of the desk (``floor_vs_simpy``), and with nothing per
    ticket that the collector keeps walking (each ticket a tuple between its
    runs, every history in one shared list: ``floor_untracked_vs_simpy``).
    Its outputs must equal SimPy's too. What the desk does beyond the floor
    is ``desk_over_floor_cpu``.
"""

from __future__ import annotations

import functools
import gc
import heapq
import itertools
import math
import operator
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import attrs
import numpy as np

from benchmarks import benchmark, figure
from gridgov import City
from gridgov.clock import EPOCH
from gridgov.presets import jiamusi
from gridgov.rules import TICKET_LEVELS, TicketRule
from gridgov.testing import StandaloneDesk
from gridgov.tickets import TicketArrays

DESK_TARGET = 3.0
BULK_TARGET = 20.0
HOUR = 3_600_000_000  # microseconds
DAY = 24 * HOUR
#: The handled steps in order: (trigger, state it leads to).
STEPS = (
    ("classify", "classified"),
    ("track", "tracking"),
    ("supervise", "supervising"),
    ("feed_back", "fed_back"),
    ("score", "scored"),
    ("publish", "published"),
    ("archive", "archived"),
)
#: Share of a ticket's mean service time spent on each handled step.
STEP_SHARES = (0.05, 0.30, 0.20, 0.10, 0.20, 0.10, 0.05)
LOAD = 0.8  # mean share of the handlers' time spent handling
SIGMA = 0.8  # lognormal spread of service times
MODE = "emergency"
#: SimPy, the desk and the floor run in turn this many times (medians reported).
ROUNDS = 3
_ROUND_SIDES = ("simpy", "desk", "floor", "floor_untracked")
SCORE = 5


@attrs.frozen(eq=False)
class Workload:
    """The pre-drawn work, shared by the three implementations (times in microseconds)."""

    #: Handlers in the pool.
    handlers: int
    #: The end of the run, from the start.
    horizon: int
    #: Arrival of each request, from the start, ascending.
    arrival: np.ndarray
    #: Origin grid of each request (an index into ``grids``).
    origin: np.ndarray
    #: Category of each request (an index into ``categories``).
    category: np.ndarray
    #: Service time of each handled step: shape (requests, 7).
    service: np.ndarray
    #: Grid ids.
    grids: tuple[str, ...]
    #: Category names.
    categories: tuple[str, ...]

    @property
    def requests(self) -> int:
        """Number of requests."""
        return len(self.arrival)


def draw(
    grids: tuple[str, ...],
    categories: tuple[str, ...],
    requests: int,
    handlers: int,
    days: int = 14,
    seed: int = 15,
) -> Workload:
    """Draw the workload: arrivals in a daily cycle, lognormal service times at 90 % load."""
    rng = np.random.default_rng(seed)
    day = rng.integers(0, days, requests)
    # Hour of day: a beta(2, 2) bump centred on midday (peak rate 1.5x the mean).
    within = (rng.beta(2.0, 2.0, requests) * DAY).astype(np.int64)
    arrival = np.sort(day * DAY + within)
    mean_total = LOAD * handlers * days * DAY / requests
    shares = np.array(STEP_SHARES)
    # Lognormal with mean share * mean_total: median = mean / exp(sigma^2 / 2).
    medians = shares * mean_total / math.exp(SIGMA**2 / 2)
    service = rng.lognormal(np.log(medians), SIGMA, (requests, len(STEPS)))
    service = np.maximum(service.astype(np.int64), 1_000_000)  # at least a second
    return Workload(
        handlers=handlers,
        horizon=days * DAY,
        arrival=arrival.astype(np.int64),
        origin=rng.integers(0, len(grids), requests).astype(np.int32),
        category=rng.integers(0, len(categories), requests).astype(np.int16),
        service=service,
        grids=grids,
        categories=categories,
    )


@attrs.frozen
class Outputs:
    """What a run produced; compared exactly across the three."""

    closed: int
    escalations: tuple[tuple[str, int], ...]
    overdue: int
    latency_p50: int | None
    latency_p95: int | None
    ticket_steps: int

    def public(self) -> dict[str, Any]:
        """JSON-friendly, latencies in hours."""
        return {
            "closed": self.closed,
            "escalations": dict(self.escalations),
            "overdue": self.overdue,
            "latency_p50_h": None
            if self.latency_p50 is None
            else round(self.latency_p50 / HOUR, 4),
            "latency_p95_h": None
            if self.latency_p95 is None
            else round(self.latency_p95 / HOUR, 4),
            "ticket_steps": self.ticket_steps,
        }


def _rank(ordered: list[int], q: float) -> int | None:
    """Nearest-rank percentile of a sorted list (None when empty)."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _outputs(
    closed: int, escalations: Counter[str], overdue: int, ordered: list[int], steps: int
) -> Outputs:
    """The outputs; ``ordered`` is the closing latencies, sorted."""
    levels = tuple((level, escalations.get(level, 0)) for level in TICKET_LEVELS[1:])
    return Outputs(closed, levels, overdue, _rank(ordered, 0.50), _rank(ordered, 0.95), steps)


# ===================================================================== SimPy


@attrs.frozen(eq=False)
class PeerTables:
    """The city and rules as the SimPy model keeps them: plain dicts and lists."""

    #: Unit -> its parent (None at the city).
    parent: dict[str, str | None]
    #: Unit -> the index of its level in TICKET_LEVELS.
    level: dict[str, int]
    #: (grid, level index) -> the unit at that level above the grid.
    ancestor: dict[tuple[str, int], str]
    #: (category, state) -> limit in microseconds (None: no limit), emergency mode.
    limit: dict[tuple[str, str], int | None]
    #: Category -> the index of the level holding the authority.
    category_level: dict[str, int]


def peer_tables(city: City, rule: TicketRule, grids: tuple[str, ...]) -> PeerTables:
    """Plain tables for the SimPy model, from the same city and rules."""
    chain = city.chain
    parent: dict[str, str | None] = {}
    level: dict[str, int] = {}
    ancestor: dict[tuple[str, int], str] = {}
    for grid in grids:
        up = chain.chain_of_command(grid)
        for below, above in zip(up, (*up[1:], None), strict=True):
            parent[below] = above
            level[below] = TICKET_LEVELS.index(chain.level(below).value)
            ancestor[grid, level[below]] = below
    states = ("accepted", *(state for _, state in STEPS))
    limit: dict[tuple[str, str], int | None] = {}
    for category in rule.categories:
        for state in states:
            hours = rule.limit(category, MODE, state)
            limit[category, state] = None if hours is None else hours // timedelta(microseconds=1)
    category_level = {c: TICKET_LEVELS.index(r.level) for c, r in rule.categories.items()}
    return PeerTables(parent, level, ancestor, limit, category_level)


def run_simpy(work: Workload, tables: PeerTables) -> Outputs:
    """The closed loop as a SimPy model: a pool of handlers, one process per ticket."""
    import simpy

    env = simpy.Environment()
    pool = simpy.Resource(env, capacity=work.handlers)
    parent, level, limit = tables.parent, tables.level, tables.limit
    escalations: Counter[str] = Counter()
    overdue = 0
    latencies: list[int] = []
    steps = 0
    live: list[list[Any]] = []  # per ticket: [category, state, unit, due]
    arrivals = work.arrival.tolist()
    origins = [work.grids[g] for g in work.origin.tolist()]
    categories = [work.categories[c] for c in work.category.tolist()]
    service = work.service.tolist()

    def breach(record: list[Any], now: int) -> None:
        """Every breach of the record's limit up to ``now``, one level each."""
        nonlocal overdue
        due = record[3]
        while due is not None and due <= now:
            above = parent[record[2]]
            if above is None:
                overdue += 1
                due = None
            else:
                escalations[TICKET_LEVELS[level[above]]] += 1
                record[2] = above
                due += limit[record[0], record[1]]  # type: ignore[operator]
        record[3] = due

    def ticket(i: int, arrived: int) -> Iterator[Any]:
        nonlocal steps
        category, origin = categories[i], origins[i]
        first = limit[category, "accepted"]
        record = [category, "accepted", origin, None if first is None else arrived + first]
        live.append(record)
        steps += 1
        with pool.request() as request:
            yield request
            for (trigger, state), spent in zip(STEPS, service[i], strict=True):
                yield env.timeout(spent)
                now = env.now
                breach(record, now)
                if trigger == "classify":
                    want = tables.category_level[category]
                    if level[record[2]] < want:
                        record[2] = tables.ancestor[origin, want]
                elif trigger == "feed_back":
                    record[2] = origin
                record[1] = state
                stay = limit[category, state]
                record[3] = None if stay is None else now + stay
                steps += 1
            latencies.append(env.now - arrived)

    def arrive() -> Iterator[Any]:
        for i, at in enumerate(arrivals):
            yield env.timeout(at - env.now)
            env.process(ticket(i, at))

    env.process(arrive())
    env.run(until=work.horizon + 1)  # steps at the horizon itself happen
    for record in live:
        if record[1] != "archived":
            breach(record, work.horizon)
    return _outputs(len(latencies), escalations, overdue, sorted(latencies), steps)


# ================================================================== gridgov


def handling(work: Workload) -> np.ndarray:
    """When each handled step ends (shape: requests x 7), the handlers first come, first served.

    One case, one handler: a ticket waits for the first free handler, who
    keeps it through the seven steps. The classic recursion over a heap of
    the handlers' free times (arrivals are in order).
    """
    free = [0] * work.handlers
    total = work.service.sum(axis=1).tolist()
    start = []
    for arrived, busy in zip(work.arrival.tolist(), total, strict=True):
        earliest = free[0]
        begin = arrived if arrived > earliest else earliest
        heapq.heapreplace(free, begin + busy)
        start.append(begin)
    ends: np.ndarray = np.asarray(start, dtype=np.int64)[:, None] + np.cumsum(work.service, axis=1)
    return ends


def _stream(
    work: Workload, by_ticket: bool = False, base: int = 0
) -> tuple[list[int], list[int], list[int]]:
    """Every opening and step up to the horizon: (times, step numbers, requests).

    Step 0 is the opening, 1-7 the handled steps. In time order (at equal
    times openings and earlier steps first, then lower request numbers: the
    order of sorted ``(time, step, request)`` tuples), or ``by_ticket``:
    request by request, each one's steps in time order. Times from the
    start, plus ``base``.
    """
    ends = handling(work)
    times = np.concatenate([work.arrival[:, None], ends], axis=1)
    step = np.broadcast_to(np.arange(len(STEPS) + 1), times.shape)
    request = np.broadcast_to(np.arange(work.requests)[:, None], times.shape)
    keep = times <= work.horizon
    when, k, i = times[keep], step[keep], request[keep]
    if not by_ticket:
        order = np.lexsort((i, k, when))
        when, k, i = when[order], k[order], i[order]
    return (when + base).tolist(), k.tolist(), i.tolist()


def run_desk(work: Workload, desk: StandaloneDesk) -> Outputs:
    """The closed loop through ``TicketDesk``, batched: every ticket's steps in one ``play`` call.

    Tickets do not affect one another, so the stream goes ticket by ticket
    (each one's steps in time order); the desk ends as with the steps in time order.
    The stream's columns are made with numpy (the same lists as one item at a time).
    """
    base = TicketArrays.micros(EPOCH)
    when, step, request, names, ids, data = _stream_columns(work, base)
    changes = desk.play(
        when, ids[request].tolist(), names[step].tolist(), data.tolist(), pause_gc=True
    )
    horizon = EPOCH + work.horizon * timedelta(microseconds=1)
    kinds, _, units = changes.columns(_BREACHES)
    last = [c for c in desk.advance(horizon) if c.kind in _BREACHES]
    kinds += [c.kind for c in last]
    units += [c.unit for c in last]
    closing = step == len(STEPS)
    latencies = when[closing] - base - work.arrival[request[closing]]
    return _tally(work, desk, kinds, units, latencies, len(step))


#: The kinds of changes the outputs count.
_BREACHES = ("ticket.escalated", "ticket.overdue")


def _columns(work: Workload, base: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every opening and step up to the horizon, request by request, each one's steps
    in time order: (times from the start plus ``base``, step numbers, requests), as
    :func:`_stream` with ``by_ticket`` gives them, as arrays."""
    ends = handling(work)
    times = np.concatenate([work.arrival[:, None], ends], axis=1)
    keep = times <= work.horizon
    step = np.broadcast_to(np.arange(len(STEPS) + 1), times.shape)[keep]
    request = np.broadcast_to(np.arange(work.requests)[:, None], times.shape)[keep]
    return times[keep] + base, step, request


def _stream_columns(
    work: Workload, base: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The desk's stream as columns: (times, step numbers, requests) as :func:`_columns`
    gives them (plus ``base``), the step names, the ticket ids and each step's
    data (an opening's place and category, the score's score)."""
    when, step, request = _columns(work, base)
    names = np.array(["open", *(trigger for trigger, _ in STEPS)], dtype=object)
    ids = np.array([f"T{i + 1:06d}" for i in range(work.requests)], dtype=object)
    grids = np.array(work.grids, dtype=object)[work.origin]
    categories = np.array(work.categories, dtype=object)[work.category]
    data = np.full(len(step), None, dtype=object)
    opening = step == 0
    data[opening] = [
        {"where": g, "category": c}
        for g, c in zip(grids[request[opening]], categories[request[opening]], strict=True)
    ]
    data[step == names.tolist().index("score")] = {"score": SCORE}
    return when, step, request, names, ids, data


def _tally(
    work: Workload,
    desk: StandaloneDesk,
    kinds: list[str],
    units: list[str],
    latencies: np.ndarray,
    steps: int,
) -> Outputs:
    """The outputs of a desk run from its changes' kinds and units (escalations per
    level climbed to, overdue records) and the closing latencies."""
    # (operator.eq, a builtin, is a cheaper call than the bound str.__eq__)
    is_escalation = map(operator.eq, kinds, itertools.repeat("ticket.escalated"))
    escalated = Counter(itertools.compress(units, is_escalation))
    overdue = kinds.count("ticket.overdue")
    chain = desk.city.chain
    escalations: Counter[str] = Counter()
    for unit, count in escalated.items():  # each unit climbed to, its level once
        escalations[chain.level(unit).value] += count
    ordered = np.sort(latencies).tolist()
    return _outputs(len(ordered), escalations, overdue, ordered, steps)


def run_desk_calls(work: Workload, desk: StandaloneDesk) -> Outputs:
    """The closed loop through ``TicketDesk``, one call per step (advance, open or trigger)."""
    when, step, request = _stream(work)
    ids = [f"T{i + 1:06d}" for i in range(work.requests)]
    origins = [work.grids[g] for g in work.origin.tolist()]
    categories = [work.categories[c] for c in work.category.tolist()]
    micro = timedelta(microseconds=1)
    found: list[tuple[str, str, str]] = []
    note = found.extend
    for t, k, i in zip(when, step, request, strict=True):
        at = EPOCH + t * micro
        due = desk.advance(at)
        if due:
            note((c.kind, c.ticket, c.unit) for c in due)
        if k == 0:
            desk.open(origins[i], categories[i], at, ticket=ids[i])
            continue
        trigger = STEPS[k - 1][0]
        if trigger == "score":
            desk.trigger(ids[i], "score", at, score=SCORE)
        else:
            desk.trigger(ids[i], trigger, at)
    horizon = EPOCH + work.horizon * micro
    return _desk_outputs(work, desk, iter(found), desk.advance(horizon), when, step, request, 0)


def _desk_outputs(
    work: Workload,
    desk: StandaloneDesk,
    heads: Iterator[tuple[str, str, str]],
    last: tuple[Any, ...],
    when: list[int],
    step: list[int],
    request: list[int],
    base: int,
) -> Outputs:
    """The outputs of a desk run: breaches from the changes, latencies from the archive steps
    (``when`` are the steps' times from the start, plus ``base``)."""
    level_of = {u: desk.city.chain.level(u).value for u in _units(desk.city, work.grids)}
    escalations: Counter[str] = Counter()
    overdue = 0
    for kind, _, unit in itertools.chain(heads, ((c.kind, c.ticket, c.unit) for c in last)):
        if kind == "ticket.escalated":
            escalations[level_of[unit]] += 1
        elif kind == "ticket.overdue":
            overdue += 1
    arrivals = (work.arrival + base).tolist()
    archive = len(STEPS)
    latencies = [
        t - arrivals[i] for t, k, i in zip(when, step, request, strict=True) if k == archive
    ]
    return _outputs(len(latencies), escalations, overdue, sorted(latencies), len(when))


def _units(city: City, grids: tuple[str, ...]) -> set[str]:
    return {u for g in grids for u in city.chain.chain_of_command(g)}


def run_bulk(work: Workload, arrays: TicketArrays, round_minutes: int = 24 * 60) -> Outputs:
    """The closed loop through ``TicketArrays``, round by round with per-ticket times."""
    ends = handling(work)
    horizon = work.horizon
    base = TicketArrays.micros(EPOCH)
    grid_units = np.array([arrays.unit_index[g] for g in work.grids], dtype=np.int32)
    origin = grid_units[work.origin]
    modes = np.ones(work.requests, np.int8)
    arrival = work.arrival
    # Each step's tickets in the order their step ends.
    order = [np.argsort(ends[:, k]) for k in range(len(STEPS))]
    sorted_ends = [ends[order[k], k] for k in range(len(STEPS))]
    escalated = np.zeros(len(TICKET_LEVELS), np.int64)
    overdue = 0
    latencies: list[np.ndarray] = []
    steps = 0
    width = round_minutes * 60_000_000
    opened = 0
    fives = np.full(work.requests, SCORE, np.int64)

    def count(found: Any) -> None:
        nonlocal overdue, escalated
        if found.ticket.size:
            escalated += np.bincount(arrays.unit_level[found.to_unit], minlength=len(escalated))
        overdue += int(found.overdue.size)

    # A round's bounds come from the next event, so idle rounds cost nothing.
    cursor = [0] * len(STEPS)
    while True:
        upcoming = [
            int(sorted_ends[k][cursor[k]])
            for k in range(len(STEPS))
            if cursor[k] < len(sorted_ends[k])
        ]
        if opened < work.requests:
            upcoming.append(int(arrival[opened]))
        upcoming = [t for t in upcoming if t <= horizon]
        if not upcoming:
            break
        first = min(upcoming)
        hi = min(horizon, (first // width + 1) * width - 1)  # the round holding ``first``
        stop = int(np.searchsorted(arrival, hi, side="right"))
        if stop > opened:
            idx = arrays.open(
                origin[opened:stop],
                work.category[opened:stop],
                base + arrival[opened:stop],
                modes[opened:stop],
            )
            assert idx[0] == opened
            steps += stop - opened
            opened = stop
        for k, (trigger, _) in enumerate(STEPS):
            end = int(np.searchsorted(sorted_ends[k], hi, side="right"))
            if end <= cursor[k]:
                continue
            idx = order[k][cursor[k] : end]
            at = base + sorted_ends[k][cursor[k] : end]
            cursor[k] = end
            count(arrays.sweep(at, idx))
            if trigger == "score":
                arrays.score(idx, fives[: len(idx)], at)
            else:
                arrays.fire(idx, trigger, at)
            if trigger == "archive":
                latencies.append(at - base - arrival[idx])
            steps += len(idx)
    count(arrays.sweep(base + horizon))
    levels = Counter({TICKET_LEVELS[i]: int(c) for i, c in enumerate(escalated) if c})
    closed = np.sort(np.concatenate(latencies)).tolist() if latencies else []
    return _outputs(len(closed), levels, overdue, closed, steps)


# ==================================================================== floor


@attrs.frozen(eq=False)
class FloorTables:
    """What the floor loops look up (built before their timing, as ``desk.prepare()``)."""

    #: Category -> (state, trigger) -> (new state, its limit (far when none), what
    #: to record besides the step (0 nothing, 1 a route up, 2 a route down), the
    #: step's shared fields (state, new state, trigger, mode)).
    rows: dict[str, dict[tuple[str, str], tuple[str, int, int, tuple[str, str, str, str]]]]
    #: Unit -> its parent (None at the city).
    parent: dict[str, str | None]
    #: Unit -> its level's index in TICKET_LEVELS.
    level: dict[str, int]
    #: (category, state) -> limit in microseconds (far when none), emergency mode.
    limit: dict[tuple[str, str], int]
    #: Category -> the index of the level holding the authority.
    category_level: dict[str, int]
    #: (grid, unit above it) -> the units feedback passes on its way down.
    down: dict[tuple[str, str], tuple[str, ...]]


_FLOOR_FAR = 2**62


def floor_tables(city: City, rule: TicketRule, grids: tuple[str, ...]) -> FloorTables:
    """The floor loops' tables, from the same city and rules as :func:`peer_tables`."""
    peer = peer_tables(city, rule, grids)
    limit = {key: _FLOOR_FAR if value is None else value for key, value in peer.limit.items()}
    rows: dict[str, dict[tuple[str, str], tuple[str, int, int, tuple[str, str, str, str]]]] = {}
    actions = {"classify": 1, "feed_back": 2}
    for category in rule.categories:
        old = "accepted"
        row = rows[category] = {}
        for trigger, new in STEPS:
            shared = (old, new, trigger, MODE)
            row[old, trigger] = (new, limit[category, new], actions.get(trigger, 0), shared)
            old = new
    down: dict[tuple[str, str], tuple[str, ...]] = {}
    for grid in grids:
        up = city.chain.chain_of_command(grid)
        for i, unit in enumerate(up):
            down[grid, unit] = tuple(reversed(up[:i]))
    return FloorTables(rows, peer.parent, peer.level, limit, peer.category_level, down)


class _FloorTicket:
    """A ticket as the floor loop with mutable records keeps it."""

    __slots__ = (
        "breached", "category", "due", "escalations", "history", "origin", "score", "state",
        "unit", "updated",
    )  # fmt: skip


def run_floor(
    work: Workload, tables: FloorTables, untracked: bool = False, pause_gc: bool = False
) -> Outputs:
    """The least a per-ticket path in Python must do, on the desk's stream and inputs.

    The same stream as :func:`run_desk` (ticket by ticket, ids, triggers and
    data as the desk gets them), and per ticket-step only: find the step's
    ticket, every breach of its limit up to the step (one record each,
    climbing one level, overdue at the city), one lookup of what the step
    does, the on-time flag, the new due time, a compact record of the change
    (``code, time, unit, on_time, due, shared fields``), a record per hop of
    classification's route up and feedback's way down; after the stream,
    every open ticket's breaches up to the horizon; then the outputs read
    from the records. No checks, no journal-ready records, no views: a
    reference line, not a ticket desk.

    ``untracked=False`` keeps what the issue asks for (a mutable record and
    a list history per ticket: two objects per ticket the cyclic collector
    tracks); ``untracked=True`` keeps every history in one shared list (each
    ticket's part by start and stop) and each ticket, between its runs, as a
    tuple of plain values (untracked by the collector at its first pass).
    ``pause_gc`` pauses the cyclic collector from the first step to the last
    breach, as the benchmark's ``play(..., pause_gc=True)`` does for the desk.
    """
    base = TicketArrays.micros(EPOCH)
    when, step, request, names, ids, data = _stream_columns(work, base)
    rows, parent, limit = tables.rows, tables.parent, tables.limit
    level, category_level, down = tables.level, tables.category_level, tables.down
    tickets: dict[str, Any] = {}
    log: list[Any] = []
    current: Any = None
    tid: Any = None
    state = unit = origin = category = ""
    due = updated = escalations = start = 0
    breached = False
    history: list[Any] = log
    row: dict[tuple[str, str], tuple[str, int, int, tuple[str, str, str, str]]] = {}
    paused = pause_gc and gc.isenabled()
    if paused:
        gc.disable()
    for now, ticket, trigger, given in zip(
        when.tolist(), ids[request].tolist(), names[step].tolist(), data.tolist(), strict=True
    ):
        if ticket is not tid:  # another ticket's run: hand this one back, take or open that one
            if tid is not None:
                if untracked:
                    tickets[tid] = (state, unit, due, updated, breached, escalations, start,
                                    len(log), category, origin)  # fmt: skip
                else:
                    current.state, current.unit, current.due = state, unit, due
                    current.updated, current.breached = updated, breached
                    current.escalations = escalations
            tid = ticket
            if trigger == "open":  # (every run of this stream starts with its opening)
                origin, category = given["where"], given["category"]
                state, unit, updated, breached, escalations = "accepted", origin, now, False, 0
                due = now + limit[category, "accepted"]
                row = rows[category]
                if untracked:
                    start = len(log)
                    log += (0, now, unit, category, due)
                else:
                    current = _FloorTicket()
                    current.origin, current.category = origin, category
                    history = current.history = [0, now, unit, category, due]
                    tickets[tid] = current
                continue
            raise AssertionError("the floor loop takes each ticket's steps in one run")
        while due <= now:  # every breach up to the step, one level each
            above = parent[unit]
            if above is None:
                history += (5, due, unit, state)
                due = _FLOOR_FAR
            else:
                history += (4, due, above, unit, state)
                unit = above
                due += limit[category, state]
                escalations += 1
            breached = True
        new, stay, action, shared = row[state, trigger]
        due = now + stay
        history += (1, now, unit, not breached, due, shared)
        if action == 1:  # classify: up to the category's level
            want = category_level[category]
            while level[unit] < want:
                above = parent[unit]
                history += (2, now, above, unit)
                unit = above  # type: ignore[assignment]
        elif action == 2:  # feed_back: down to the origin
            for below in down[origin, unit]:
                history += (3, now, below, unit)
                unit = below
        elif given is not None:
            history += (6, given["score"])
        state, updated, breached = new, now, False
    if tid is not None:
        if untracked:
            tickets[tid] = (state, unit, due, updated, breached, escalations, start, len(log),
                            category, origin)  # fmt: skip
        else:
            current.state, current.unit, current.due = state, unit, due
            current.updated, current.breached = updated, breached
            current.escalations = escalations
    horizon = base + work.horizon
    late: list[Any] = []
    for kept in tickets.values():  # every open ticket's breaches up to the horizon
        if untracked:
            state, unit, due, _, _, _, _, _, category, _ = kept
        else:
            state, unit, due, category = kept.state, kept.unit, kept.due, kept.category
        history = late if untracked else kept.history
        while due <= horizon:
            above = parent[unit]
            if above is None:
                history += (5, due, unit, state)
                due = _FLOOR_FAR
            else:
                history += (4, due, above, unit, state)
                unit = above
                due += limit[category, state]
    if paused:
        gc.enable()
    escalated: Counter[str] = Counter()
    overdue = 0
    widths = (5, 6, 4, 4, 5, 4, 2)
    parts = [late] + ([log] if untracked else [kept.history for kept in tickets.values()])
    for part in parts:  # the outputs, read from the records
        k, stop = 0, len(part)
        while k < stop:
            code = part[k]
            if code == 4:
                escalated[part[k + 2]] += 1
            elif code == 5:
                overdue += 1
            k += widths[code]
    escalations_by_level: Counter[str] = Counter()
    for unit, count in escalated.items():
        escalations_by_level[TICKET_LEVELS[level[unit]]] += count
    closing = step == len(STEPS)
    latencies = np.sort(when[closing] - base - work.arrival[request[closing]]).tolist()
    return _outputs(len(latencies), escalations_by_level, overdue, latencies, len(step))


# ================================================================= benchmark


@functools.cache
def _city() -> City:
    return jiamusi()


def _gc_paused(fn: Callable[[], Outputs]) -> Outputs:
    """``fn()`` with the cyclic garbage collector paused."""
    gc.disable()
    try:
        return fn()
    finally:
        gc.enable()


#: CPU seconds of the latest :func:`_timed` call, by label.
_CPU: dict[str, float] = {}


def _timed(fn: Callable[[], Outputs | None], label: str = "") -> tuple[float, Any]:
    """Wall seconds and outputs of ``fn``; its CPU seconds are kept in ``_CPU[label]``
    (on a machine shared with other work, CPU time shows what the wall time hides)."""
    gc.collect()
    cpu = time.process_time()
    start = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - start
    _CPU[label] = time.process_time() - cpu
    return wall, out


def _prepare(desk: StandaloneDesk) -> Outputs | None:
    desk.prepare()
    return None


@benchmark("closed_loop_peer")
def closed_loop_peer(quick: bool) -> dict[str, dict[str, object]]:
    """The closed loop against a SimPy model of the same work: speedups and equal outputs."""
    try:
        import simpy  # noqa: F401
    except ImportError:
        raise SystemExit(
            "closed_loop_peer needs SimPy: pip install -e '.[bench]' (or pip install simpy)"
        ) from None
    city = _city()
    rule = TicketRule()
    requests, handlers = (10_000, 40) if quick else (100_000, 400)
    grids = tuple(city.chain.units("grid"))
    work = draw(grids, tuple(rule.categories), requests, handlers)
    tables = peer_tables(city, rule, grids)
    calls_desk = StandaloneDesk(city, rule, situation=lambda origin: MODE)
    arrays = TicketArrays(city, rule, capacity=requests)
    floors = floor_tables(city, rule, grids)
    # SimPy, the desk and the floor in turn, ROUNDS times (the load of a shared
    # machine drifts: each round's ratios are measured minutes apart at most).
    walls: dict[str, list[float]] = {name: [] for name in _ROUND_SIDES}
    cpus: dict[str, list[float]] = {name: [] for name in _ROUND_SIDES}
    found: list[tuple[Outputs, ...]] = []
    prepare_s = 0.0
    for _ in range(1 if quick else ROUNDS):
        simpy_s, simpy_out = _timed(lambda: run_simpy(work, tables), "simpy")
        # The desk's lookup tables for every unit and grid, as the SimPy model's
        # (above), before its timing (and after SimPy's, whose collector would
        # walk them); their time is reported.
        desk = StandaloneDesk(city, rule, situation=lambda origin: MODE)
        prepare_s, _ = _timed(lambda d=desk: _prepare(d), "desk_prepare")  # type: ignore[misc]
        desk_s, desk_out = _timed(lambda d=desk: run_desk(work, d), "desk")  # type: ignore[misc]
        del desk
        # The floor: the least a per-ticket path in Python does on the same stream
        # (its tables built before its timing, as the desk's; paused as the desk's play).
        floor_s, floor_out = _timed(lambda: run_floor(work, floors, pause_gc=True), "floor")
        untracked_s, untracked_out = _timed(
            lambda: run_floor(work, floors, untracked=True, pause_gc=True), "floor_untracked"
        )
        found.append((simpy_out, desk_out, floor_out, untracked_out))
        for name, wall in zip(_ROUND_SIDES, (simpy_s, desk_s, floor_s, untracked_s), strict=True):
            walls[name].append(wall)
            cpus[name].append(_CPU[name])
    simpy_s, desk_s, floor_s, untracked_s = (statistics.median(walls[n]) for n in _ROUND_SIDES)
    for name in _ROUND_SIDES:
        _CPU[name] = statistics.median(cpus[name])
    simpy_out, desk_out, floor_out, untracked_out = found[0]
    same_rounds = all(outs == found[0] for outs in found)

    def ratio(side: str, clock: dict[str, list[float]]) -> float:
        """The median over the rounds of SimPy's time over ``side``'s in the same round."""
        return statistics.median(s / t for s, t in zip(clock["simpy"], clock[side], strict=True))

    calls_s, calls_out = _timed(lambda: run_desk_calls(work, calls_desk), "desk_calls")
    # The desk pauses the cyclic collector during a stream (as the engine does
    # for bulk commands); SimPy with the collector paused too, for comparison.
    quiet_s, quiet_out = _timed(lambda: _gc_paused(lambda: run_simpy(work, tables)), "simpy_gc")
    bulk_s, bulk_out = _timed(lambda: run_bulk(work, arrays), "bulk")
    hourly = TicketArrays(city, rule, capacity=requests)
    hourly_s, hourly_out = _timed(lambda: run_bulk(work, hourly, 60))
    queue_s, _ = _timed(lambda: (handling(work), simpy_out)[1])
    floors_equal = same_rounds and simpy_out == floor_out == untracked_out
    equal = same_rounds and simpy_out == desk_out == calls_out == quiet_out == bulk_out
    equal = equal and bulk_out == hourly_out
    steps = simpy_out.ticket_steps
    what = (
        f"{requests:,} requests x 8 steps, {handlers} handlers, 14 days (Jiamusi, emergency "
        f"limits): {steps:,} ticket-steps"
    )
    times = {
        "simpy_s": round(simpy_s, 3),
        "simpy_gc_paused_s": round(quiet_s, 3),
        "desk_s": round(desk_s, 3),
        "desk_per_call_s": round(calls_s, 3),
        "desk_per_call_vs_simpy": round(simpy_s / calls_s, 3) if equal else None,
        "desk_vs_simpy_gc_paused": round(quiet_s / desk_s, 3) if equal else None,
        "bulk_s": round(bulk_s, 3),
        "bulk_hourly_rounds_s": round(hourly_s, 3),
        "bulk_hourly_rounds_vs_simpy": round(simpy_s / hourly_s, 2) if equal else None,
        "cpu_s": {name: round(seconds, 3) for name, seconds in _CPU.items() if name},
        "desk_vs_simpy_cpu": round(ratio("desk", cpus), 4) if equal else None,
        "bulk_vs_simpy_cpu": round(_CPU["simpy"] / _CPU["bulk"], 2) if equal else None,
        "handling_queue_s": round(queue_s, 3),
        "floor_s": round(floor_s, 3),
        "floor_untracked_s": round(untracked_s, 3),
        "floor_vs_simpy_cpu": round(ratio("floor", cpus), 4) if floors_equal else None,
        "floor_untracked_vs_simpy": round(ratio("floor_untracked", walls), 3)
        if floors_equal
        else None,
        "floor_untracked_vs_simpy_cpu": round(ratio("floor_untracked", cpus), 4)
        if floors_equal
        else None,
        "desk_over_floor_cpu": round(_CPU["desk"] / _CPU["floor"], 3),
        "rounds": {
            "wall_s": {name: [round(t, 3) for t in walls[name]] for name in _ROUND_SIDES},
            "cpu_s": {name: [round(t, 3) for t in cpus[name]] for name in _ROUND_SIDES},
        },
        "desk_prepare_s": round(prepare_s, 3),
        "desk_with_prepare_vs_simpy_cpu": round(
            _CPU["simpy"] / (_CPU["desk"] + _CPU["desk_prepare"]), 4
        )
        if equal
        else None,
        "ticket_steps_per_s": {
            "simpy": round(steps / simpy_s),
            "desk": round(steps / desk_s),
            "desk_per_call": round(steps / calls_s),
            "bulk": round(steps / bulk_s),
        },
    }
    outputs = {
        "simpy": simpy_out.public(),
        "desk": desk_out.public(),
        "desk_per_call": calls_out.public(),
        "bulk": bulk_out.public(),
    }
    return {
        "desk_vs_simpy": figure(
            ratio("desk", walls) if equal else None,
            "x",
            DESK_TARGET,
            f"SimPy's time over TicketDesk's (per-ticket path, the stream in one "
            f"StandaloneDesk.play call) on the same work: {what}",
            higher_is_better=True,
            **times,
        ),
        "bulk_vs_simpy": figure(
            simpy_s / bulk_s if equal else None,
            "x",
            BULK_TARGET,
            f"SimPy's time over TicketArrays' (bulk path, one-day rounds, per-ticket times) "
            f"on the same work: {what}",
            higher_is_better=True,
            **times,
        ),
        "floor_vs_simpy": figure(
            ratio("floor", walls) if floors_equal else None,
            "x",
            DESK_TARGET,
            "SimPy's time over the floor's (run_floor: the least a per-ticket path in Python "
            "does per ticket-step, with a mutable record and a list history per ticket, the "
            f"collector paused as for the desk's play; outputs equal to SimPy's) on {what}; "
            "a reference line for desk_vs_simpy, not a ticket desk",
            higher_is_better=True,
            floors_equal=floors_equal,
            **times,
        ),
        "outputs_equal": {
            "what": "tickets closed, escalations per level, overdue, latency p50/p95 and "
            "ticket-steps equal across SimPy, TicketDesk and TicketArrays (both round lengths)",
            "value": equal,
            "unit": "bool",
            "target": True,
            "meets_target": equal,
            "outputs": outputs,
        },
    }

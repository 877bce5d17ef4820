"""A stream of ticket steps in one call: the desk's per-ticket path, batched.

:meth:`gridgov.testing.StandaloneDesk.play` (through ``TicketDesk._play``)
applies many openings and steps at once. Each step is still decided on its
own ticket at its own time, after that ticket's breaches up to then, and
every change is recorded; what a stream saves is the cost around a step:
tickets are taken run by run with their fields in local variables, times
stay microseconds since 1970, each change is kept as a compact record
(strings and numbers, made into a :class:`~gridgov.tickets.TicketChange`
only when read), and the cyclic garbage collector waits until the stream is
done. Anything but the common steps goes through the desk's planners, so the
rules live in one place: the planners; a hypothesis test checks that a
stream gives the same desk and changes as one call per step.

Tickets do not affect one another, so the steps may come in time order or
ticket by ticket (each ticket's own steps in time order).
"""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

import attrs

from gridgov._gc import gc_paused
from gridgov.errors import CommandError
from gridgov.vocabulary import TICKET_MODES, TICKET_STATES, TICKET_STEPS

if TYPE_CHECKING:
    from gridgov.tickets import TicketChange, TicketDesk

__all__ = [
    "ESCALATED",
    "FED_BACK",
    "MOVE",
    "OPENED",
    "OVERDUE",
    "PUBLISHED",
    "SCORED",
    "STEP",
    "WIDTHS",
    "Kit",
    "Tables",
    "play",
]

#: What a flat record makes, by its first entry (the desk keeps one maker each).
OPENED, STEP, SCORED, MOVE, ESCALATED, OVERDUE, FED_BACK, PUBLISHED = range(8)
#: Entries of a flat record in a ticket's history, the maker's number included.
WIDTHS = {
    OPENED: 9,
    STEP: 14,
    SCORED: 13,
    MOVE: 8,
    ESCALATED: 13,
    OVERDUE: 10,
    FED_BACK: 11,
    PUBLISHED: 12,
}

#: The lowest time: no step seen yet.
_NEVER = -(2**63)
#: Triggers the fast path decides itself (with no data, or a score that is not low).
_FAST_TRIGGERS = frozenset(
    {"classify", "track", "supervise", "feed_back", "score", "publish", "archive"}
)
#: Fast triggers with nothing to route or record but the step.
_PLAIN_TRIGGERS = frozenset({"track", "supervise", "archive"})
_STEP_STATES = frozenset(TICKET_STEPS)
_MODES = frozenset(TICKET_MODES)

Hops = tuple[tuple[str, str, str], ...]
#: A ticket's record as the desk keeps it (``gridgov.tickets``' mutable record).
Live = Any


@attrs.frozen
class Kit:
    """What the desk hands a stream: its record type and its ways with times and changes."""

    #: A new, empty ticket record.
    new_live: Callable[[], Live]
    #: The resident of a request opened without personal data.
    nobody: Any
    #: An aware datetime in microseconds since 1970 (raises ClockError when naive).
    micros: Callable[[datetime], int]
    #: Microseconds since 1970 as a datetime in a time zone.
    moment: Callable[[int, tzinfo], datetime]
    #: The sequence of changes a stream returns, from its compact records and changes.
    changes: Callable[[list[Any]], Any]


class Tables:
    """What a desk's streams look up, read from its city and rules once (kept on the desk)."""

    def __init__(self, desk: TicketDesk) -> None:
        chain = desk.city.chain
        #: Unit -> its parent (None at the city).
        self.parents: dict[str, str | None] = {u: chain.parent(u) for u in chain}
        #: Unit -> its level's name.
        self.levels: dict[str, str] = {u: chain.level(u).value for u in chain}
        #: The grids: where a stream's openings are decided in place.
        self.grids = frozenset(chain.units("grid"))
        #: State -> {fast trigger -> next state}.
        self.fast_next: dict[str, dict[str, str]] = {
            state: {
                trigger: new
                for (source, trigger), new in desk.board.table().items()
                if source == state and trigger in _FAST_TRIGGERS
            }
            for state in TICKET_STATES
        }
        self._desk = desk
        self._limits: dict[tuple[str, str], dict[str, int | None]] = {}
        #: (unit, category) -> what classification records: data, cause, hops up.
        self.routes: dict[tuple[str, str], tuple[tuple[tuple[str, str], ...], str, Hops]] = {}
        #: (origin, handler) -> the hops feedback makes down to the origin.
        self.routes_down: dict[tuple[str, str], Hops] = {}

    def limits(self, category: str, mode: str) -> dict[str, int | None]:
        """Each state's limit in microseconds for ``category`` in ``mode`` (None: no limit)."""
        found = self._limits.get((category, mode))
        if found is None:
            found = self._limits[category, mode] = {
                state: self._desk._limit_us(category, mode, state) for state in TICKET_STATES
            }
        return found

    def route_up(self, unit: str, chosen: str) -> tuple[tuple[tuple[str, str], ...], str, Hops]:
        """What classifying a ticket held by ``unit`` as ``chosen`` records: the step's
        data and cause, and the hops up (unit, unit left, cause). The hops depend
        only on the chain above ``unit``, as in ``TicketDesk._plan_classify``."""
        rule = self._desk.rule.categories[chosen]
        level = rule.level
        info = (("category", chosen), ("level", level), ("responsible", rule.responsible))
        cause = f"classified as {chosen}: the {level} holds the authority ({rule.responsible})"
        lacking = f" lacks the authority for {chosen} (lowest level: {level})"
        up = self._desk.city.chain.chain_of_command(unit)
        hops: list[tuple[str, str, str]] = []
        for i, above in enumerate(up):
            if self.levels[above] == level:
                previous = unit
                for higher in up[1 : i + 1]:
                    hops.append((higher, previous, previous + lacking))
                    previous = higher
                break
        route = self.routes[unit, chosen] = (info, cause, tuple(hops))
        return route

    def route_down(self, origin: str, handler: str) -> Hops:
        """The hops feedback makes from ``handler`` down to ``origin``."""
        up = self._desk.city.chain.chain_of_command(origin)
        hops = []
        previous = handler
        for unit in reversed(up[: up.index(handler)]):
            hops.append((unit, previous, f"result passed down by {previous}"))
            previous = unit
        route = self.routes_down[origin, handler] = tuple(hops)
        return route


class _Stream:
    """One call's shared state: the desk, its tables, the changes so far."""

    __slots__ = ("desk", "floor", "kit", "latest", "out", "tables", "timed", "touched", "tz")

    def __init__(self, desk: TicketDesk, kit: Kit, tz: tzinfo) -> None:
        self.desk = desk
        self.kit = kit
        self.tables: Tables = desk._stream_tables()
        self.tz = tz
        #: A breach before this time is recorded at it (as plan_due does).
        self.floor: int | None = desk._last_us
        self.latest = _NEVER
        self.timed = desk._timed
        #: The parts of histories the stream wrote: (history, start, stop).
        #: (flat, three entries a part, so that no object is kept per part).
        self.out: list[Any] = []
        self.touched: list[Live] = []


def play(
    desk: TicketDesk,
    at: Sequence[int | datetime],
    tickets: Sequence[str],
    triggers: Sequence[str],
    data: Sequence[Mapping[str, Any] | None] | None,
    tz: tzinfo,
    kit: Kit,
    pause_gc: bool = False,
) -> Any:
    """See ``TicketDesk._play``; ``kit`` is what the desk hands a stream."""
    count = len(at)
    if len(tickets) != count or len(triggers) != count or (data is not None and len(data) != count):
        raise CommandError(
            "times, tickets, triggers and data must have the same length",
            reason="lengths differ",
        )
    stream = _Stream(desk, kit, tz)
    records = desk._tickets
    done = False
    try:
        with gc_paused() if pause_gc else contextlib.nullcontext():
            i = 0
            while i < count:
                live = records.get(tickets[i])
                if live is None:
                    given = data[i] if data is not None else None
                    when = at[i]
                    now = when if when.__class__ is int else kit.micros(when)  # type: ignore[arg-type]
                    live = _open(stream, tickets[i], triggers[i], now, given)
                    i += 1
                    if live is None:
                        continue
                stream.touched.append(live)
                i = _run(stream, live, i, at, tickets, triggers, data)
        done = True
    finally:
        _finish(stream, done)
    return kit.changes(stream.out)


def _open(
    stream: _Stream, tid: str, trigger: str, now: int, given: Mapping[str, Any] | None
) -> Live | None:
    """An opening at a grid decided in place (its record), else through the planner (None)."""
    desk = stream.desk
    where = category = None
    if given is not None and len(given) == 2:
        where, category = given.get("where"), given.get("category")
    if (
        trigger != "open"
        or where not in stream.tables.grids
        or category not in desk.rule.categories
    ):
        _slow(stream, tid, trigger, now, given)
        return None
    mode = desk._mode(where)
    limit = desk._limit_us(category, mode, "accepted")  # type: ignore[arg-type]
    due = None if limit is None else now + limit
    record = (OPENED, "ticket.opened", tid, where, now, stream.tz, category, mode, due)
    live = stream.kit.new_live()
    live.id = tid
    live.category = category
    live.origin = live.unit = where
    live.compound = live.handler = live.score = None
    live.state = "accepted"
    live.mode = mode
    live.opened_us = live.updated_us = now
    live.due_us = due
    live.tz = stream.tz
    live.breached = False
    live.low_scores = live.escalations = live.reopens = 0
    live.summary = live.result = ""
    live.private = stream.kit.nobody
    live.history = history = list(record)
    live._view = None
    desk._tickets[tid] = live
    stream.out += (history, 0, len(history))
    stream.timed += due is not None
    stream.latest = max(stream.latest, now)
    return live


def _run(
    stream: _Stream,
    live: Live,
    i: int,
    at: Sequence[int | datetime],
    tickets: Sequence[str],
    triggers: Sequence[str],
    data: Sequence[Mapping[str, Any] | None] | None,
) -> int:
    """Steps of ``live`` from ``i`` on, its fields in local variables; returns the next index."""
    tid, tz, history = live.id, stream.tz, live.history
    note, start = history.extend, len(history)
    fast_next, plain, steps = stream.tables.fast_next, _PLAIN_TRIGGERS, _STEP_STATES
    low_score = stream.desk.rule.low_score
    # No zone or mode changes during a stream: the situation is asked once per run.
    asked = stream.desk._mode(live.compound or live.origin)
    by_state = stream.tables.limits(live.category, asked)
    state, unit, due, updated = live.state, live.unit, live.due_us, live.updated_us
    breached, mode = live.breached, live.mode
    count = len(at)
    try:
        while i < count and tickets[i] == tid:
            now = at[i]
            if now.__class__ is not int:
                now = stream.kit.micros(now)  # type: ignore[arg-type]
            trigger = triggers[i]
            given = data[i] if data is not None else None
            if due is not None and due <= now:
                unit, due, mode = _breaches(stream, live, now, state, unit, due, mode, asked)
                breached, updated = True, live.updated_us
            new = fast_next[state].get(trigger)
            if given:  # data: only a score that is not low is decided in place
                score = given.get("score")
                whole = trigger == "score" and len(given) == 1 and score.__class__ is int
                if not whole or not low_score <= score <= 5:  # type: ignore[operator]
                    new = None
            elif trigger == "score":
                new = None
            if new is None or now < updated:
                live.state, live.unit, live.due_us = state, unit, due
                live.updated_us, live.breached, live.mode = updated, breached, mode
                stream.out += (history, start, len(history))
                _slow(stream, tid, trigger, now, given)
                start = len(history)
                state, unit, due = live.state, live.unit, live.due_us
                updated, breached, mode = live.updated_us, live.breached, live.mode
                by_state = stream.tables.limits(live.category, asked)
                i += 1
                continue
            mode = asked
            limit = by_state[new]
            on_time = (not breached and (due is None or now <= due)) if state in steps else None
            before = due
            due = None if limit is None else now + limit
            if trigger in plain:
                record = (
                    STEP, "ticket.step", tid, unit, now, tz, state, new,
                    trigger, on_time, None, mode, due, None,
                )  # fmt: skip
                note(record)
            else:
                unit = _record(
                    stream, live, trigger, now, state, new, unit, on_time, mode, due, given
                )
            state, updated, breached = new, now, False
            if (due is None) != (before is None):
                stream.timed += 1 if before is None else -1
            i += 1
    finally:
        live.state, live.unit, live.due_us = state, unit, due
        live.updated_us, live.breached, live.mode = updated, breached, mode
        live.tz = tz
        live._view = None
        stream.latest = max(stream.latest, updated)
        if len(history) > start:
            stream.out += (history, start, len(history))
    return i


def _breaches(
    stream: _Stream,
    live: Live,
    now: int,
    state: str,
    unit: str,
    due: int,
    mode: str,
    asked: str,
) -> tuple[str, int | None, str]:
    """Every breach of ``live``'s limit up to ``now`` (as ``TicketDesk._breach`` plans
    them), recorded; returns the unit, due time and mode after them."""
    desk, tables, floor = stream.desk, stream.tables, stream.floor
    tid, category, live_tz, note = live.id, live.category, live.tz, live.history.extend
    next_due: int | None = due
    while next_due is not None and next_due <= now:
        due = next_due
        key, fired = desk._fired(category, mode, state)
        when = due if floor is None or due > floor else floor
        parent = tables.parents[unit]
        record: tuple[Any, ...]
        if parent is None:
            record = (
                OVERDUE, "ticket.overdue", tid, unit, when, live_tz,
                state, key, fired, due,
            )  # fmt: skip
            next_due = None
        else:
            mode = asked
            limit = tables.limits(category, mode)[state]
            next_due = None if limit is None else due + limit
            record = (
                ESCALATED, "ticket.escalated", tid, parent, when, live_tz,
                unit, state, key, fired, due, mode, next_due,
            )  # fmt: skip
            unit = parent
            live.escalations += 1
        if next_due is None:
            stream.timed -= 1
        live.updated_us = when
        note(record)
    return unit, next_due, mode


def _record(
    stream: _Stream,
    live: Live,
    trigger: str,
    now: int,
    state: str,
    new: str,
    unit: str,
    on_time: bool | None,
    mode: str,
    due: int | None,
    given: Mapping[str, Any] | None,
) -> str:
    """Record a ``classify``, ``feed_back``, ``score`` or ``publish`` step decided in place
    (with the moves it causes); returns the unit holding the ticket after it."""
    tid, tz, note = live.id, stream.tz, live.history.extend
    record: tuple[Any, ...]
    if trigger == "classify":
        tables = stream.tables
        route = tables.routes.get((unit, live.category)) or tables.route_up(unit, live.category)
        record = (
            STEP, "ticket.step", tid, unit, now, tz, state, new,
            trigger, on_time, route[0], mode, due, route[1],
        )  # fmt: skip
        note(record)
        for hop in route[2]:
            moved = (MOVE, "ticket.transferred", tid, *hop, now, tz)
            note(moved)
            unit = hop[0]
        return unit
    if trigger == "feed_back":
        record = (FED_BACK, "ticket.step", tid, unit, now, tz, state, new, on_time, mode, due)
        note(record)
        live.handler, live.result = unit, ""
        origin: str = live.origin
        tables = stream.tables
        hops = tables.routes_down.get((origin, unit))
        for hop in hops if hops is not None else tables.route_down(origin, unit):
            moved = (MOVE, "ticket.returned", tid, *hop, now, tz)
            note(moved)
        return origin
    if trigger == "score":
        score = given["score"]  # type: ignore[index]
        record = (
            SCORED, "ticket.scored", tid, unit, now, tz, state, new,
            on_time, score, live.low_scores, mode, due,
        )  # fmt: skip
        live.score = score
    else:  # publish
        summary = f"{live.summary} -> {live.result}" if live.result else live.summary
        record = (
            PUBLISHED, "ticket.step", tid, unit, now, tz, state, new,
            on_time, summary, mode, due,
        )  # fmt: skip
    note(record)
    return unit


def _slow(
    stream: _Stream, tid: str, trigger: str, now: int, given: Mapping[str, Any] | None
) -> None:
    """One step through the desk's planners, as one call would do it (or its refusal)."""
    desk = stream.desk
    live = desk._tickets.get(tid)
    start = len(live.history) if live is not None else 0
    if live is not None and live.due_us is not None and live.due_us <= now:
        mode = live.mode
        asked = desk._mode(live.compound or live.origin)
        live.unit, live.due_us, live.mode = _breaches(
            stream, live, now, live.state, live.unit, live.due_us, mode, asked
        )
        live.breached = True
        live._view = None
    when = stream.kit.moment(now, stream.tz)
    changes: tuple[TicketChange, ...]
    if trigger == "open":
        options = dict(given or {})
        where, category = options.pop("where", None), options.pop("category", None)
        if not isinstance(where, str) or not isinstance(category, str):
            raise CommandError(
                f"opening {tid} needs where= and category= in its data",
                reason="opening without where or category",
            )
        changes = desk.plan_open(where, category, when, ticket=tid, **options)
    else:
        changes = desk.plan_trigger(tid, trigger, when, **(given or {}))
    desk._timed = stream.timed
    last, last_tz = desk._last_us, desk._last_tz
    desk._apply(changes)
    # The stream keeps the desk's latest change until it ends.
    desk._last_us, desk._last_tz = last, last_tz
    stream.timed = desk._timed
    live = desk._tickets[tid]
    stream.out += (live.history, start, len(live.history))
    stream.latest = max(stream.latest, now)
    if trigger == "open":
        stream.touched.append(live)


def _finish(stream: _Stream, done: bool) -> None:
    """Put the desk right after a stream (also after a refused step): the schedule
    holds every touched ticket's deadline, counts and latest time are kept; after
    a whole stream, every ticket's breaches up to its latest time."""
    desk = stream.desk
    heap = desk._heap
    pending = [(live.due_us, live.id) for live in stream.touched if live.due_us is not None]
    if len(pending) > len(heap):
        heap.extend(pending)
        heapq.heapify(heap)
    else:
        for entry in pending:
            heapq.heappush(heap, entry)
    latest = stream.latest
    if latest > _NEVER and (desk._last_us is None or latest > desk._last_us):
        desk._last_us, desk._last_tz = latest, stream.tz
    desk._timed = stream.timed
    if done and latest > _NEVER:
        _breaches_until(stream, latest)
    desk._tidy()


def _breaches_until(stream: _Stream, now: int) -> None:
    """Every ticket's breaches up to ``now``, in time order (``plan_due``, applied)."""
    desk = stream.desk
    heap, tickets = desk._heap, desk._tickets
    stream.timed = desk._timed
    while heap and heap[0][0] <= now:
        due, tid = heapq.heappop(heap)
        live = tickets[tid]
        if live.due_us != due:
            continue  # superseded by a later change
        # One breach at a time (up to its own due), so that breaches of
        # different tickets interleave in time order.
        asked = desk._mode(live.compound or live.origin)
        start = len(live.history)
        live.unit, live.due_us, live.mode = _breaches(
            stream, live, due, live.state, live.unit, due, live.mode, asked
        )
        stream.out += (live.history, start, len(live.history))
        live.breached = True
        live._view = None
        if desk._last_us is None or live.updated_us > desk._last_us:
            desk._last_us, desk._last_tz = live.updated_us, live.tz
        if live.due_us is not None:
            heapq.heappush(heap, (live.due_us, tid))
    desk._timed = stream.timed

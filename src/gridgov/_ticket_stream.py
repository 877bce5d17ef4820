"""A stream of ticket steps in one call: the desk's per-ticket path, batched.

:meth:`gridgov.testing.StandaloneDesk.play` (through ``TicketDesk._play``)
applies many openings and steps at once. Each step is still decided on its
own ticket at its own time, after that ticket's breaches up to then, and
every change is recorded; what a stream saves is the cost around a step:
tickets are taken run by run with their fields in local variables, times
stay microseconds since 1970, each change is kept as a compact record
(strings and numbers, made into a :class:`~gridgov.tickets.TicketChange`
only when read) in one log the stream's tickets share while a ticket's
records follow one another there (no list per ticket for the cyclic garbage
collector to walk), and, when the caller asks, the collector waits until
the stream is done. Anything but the common steps goes through the desk's planners, so the
rules live in one place: the planners; a hypothesis test checks that a
stream gives the same desk and changes as one call per step.

Tickets do not affect one another, so the steps may come in time order or
ticket by ticket (each ticket's own steps in time order).
"""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from datetime import UTC, datetime, timedelta, tzinfo
from itertools import chain, repeat
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from gridgov._arguments import shown
from gridgov._gc import gc_paused
from gridgov.errors import ArgumentError, ClockError, CommandError
from gridgov.vocabulary import TICKET_MODES, TICKET_STATES, TICKET_STEPS

if TYPE_CHECKING:
    from gridgov.tickets import TicketChange, TicketDesk

__all__ = [
    "ESCALATED",
    "FAR",
    "FED_BACK",
    "MOVE",
    "OPENED",
    "OVERDUE",
    "PLAIN",
    "PUBLISHED",
    "SCORED",
    "STEP",
    "WIDTHS",
    "IntArray",
    "Kit",
    "Tables",
    "Times",
    "play",
    "unknown_situation",
]

#: What a flat record makes, by its first entry (the desk keeps one maker each).
OPENED, STEP, SCORED, MOVE, ESCALATED, OVERDUE, FED_BACK, PUBLISHED, PLAIN = range(9)
#: Entries of a flat record in a ticket's history, the maker's number included.
WIDTHS = {
    OPENED: 9,
    STEP: 14,
    SCORED: 13,
    MOVE: 8,
    ESCALATED: 13,
    OVERDUE: 10,
    FED_BACK: 11,
    PUBLISHED: 13,
    PLAIN: 9,
}
#: In a flat record, a due time at or after this means none (a run keeps "no
#: limit" as a time far in the future, so that a step needs no test for it).
FAR = 2**61
_FAR = FAR
_NO_DUE = 2**62

#: The lowest time: no step seen yet.
_NEVER = -(2**63)
#: Triggers the fast path decides itself (with no data, or a score that is not low).
_FAST_TRIGGERS = frozenset(
    {"classify", "track", "supervise", "feed_back", "score", "publish", "archive"}
)
#: Fast triggers with nothing to route or record but the step.
_PLAIN_TRIGGERS = frozenset({"track", "supervise", "archive"})
_STEP_STATES = frozenset(TICKET_STEPS)


class IntArray(Protocol):
    """An array of integers (numpy's, say): its ``dtype.kind`` is ``i`` or ``u``."""

    @property
    def dtype(self) -> Any: ...

    def tolist(self) -> Any: ...

    def __len__(self) -> int: ...


#: Each step's time: microseconds since 1970 (a sequence, or an integer array), or aware datetimes.
Times = Sequence[int | datetime] | IntArray
Hops = tuple[tuple[str, str, str], ...]
#: A step of a stream: (time, ticket, trigger, data).
Step = tuple[int, str, str, Any]
#: The fields of a ticket a run keeps in local variables: state, unit, due time (far
#: when none), mode, latest time, time zone, counted as timed by the stream (whether
#: its stay breached: the row it holds tells, see :meth:`Tables.rows`).
Fields = tuple[str, str, int, str, int, tzinfo, bool]
#: What a fast step records (besides the step): nothing, a route up, a route down,
#: a score, a summary (``_run`` tests them by these numbers).
_PLAIN, _CLASSIFY, _FEED_BACK, _SCORE, _PUBLISH = range(5)
_ACTIONS = {
    "track": _PLAIN,
    "supervise": _PLAIN,
    "archive": _PLAIN,
    "classify": _CLASSIFY,
    "feed_back": _FEED_BACK,
    "score": _SCORE,
    "publish": _PUBLISH,
}
#: The key of a score's entry in a row (a score is only decided with its data).
_SCORED = ("score",)
#: A fast step, looked up once per state and trigger (see :meth:`Tables.rows`).
Entry = tuple[str, int, "bool | None", int, dict[Any, Any], tuple[str, str, str, str]]
#: The key of a row's breached twin (the same steps, the stay they end not on time).
_LATE: Any = object()
#: The key of a row's breach: (the limit's key, the rule in words, the limit) of the
#: state's limit (None: no limit), as :meth:`Tables.breaches` gives it.
_BREACH: Any = object()
#: A state's row: fast trigger -> :data:`Entry`, ``_LATE`` -> its breached twin,
#: ``_BREACH`` -> its breach.
Row = dict[Any, Any]
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
    #: The sequence of changes a stream returns, from the parts of histories it
    #: wrote and where its breach records are (None: not known).
    changes: Callable[[list[Any], list[Any] | None], Any]


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
                # (a fast step always changes the state: see _run)
                if source == state and trigger in _FAST_TRIGGERS and new != state
            }
            for state in TICKET_STATES
        }
        self._desk = desk
        self._limits: dict[tuple[str, str], dict[str, int | None]] = {}
        self._rows: dict[tuple[str, str], dict[str, Row]] = {}
        self._breaches: dict[tuple[str, str], dict[str, tuple[str, str, int]]] = {}
        #: (unit, category) -> what classification records: data, cause, hops up.
        self.routes: dict[tuple[str, str], tuple[tuple[tuple[str, str], ...], str, Hops]] = {}
        #: (origin, handler) -> the hops feedback makes down to the origin.
        self.routes_down: dict[tuple[str, str], Hops] = {}

    def rows(self, category: str, mode: str) -> dict[str, Row]:
        """State -> fast trigger -> everything a step needs, for ``category`` in ``mode``:
        (new state, its limit in microseconds (far when none), the on-time flag,
        what to record, the new state's row, the step's (state, new state, trigger,
        mode)). Each state's row has a twin for a stay that breached its limit
        (the flag false), under the key ``_LATE`` of both (a breach takes a run there),
        and the state's breach under ``_BREACH``."""
        found = self._rows.get((category, mode))
        if found is None:
            limits = self.limits(category, mode)
            found = self._rows[category, mode] = {state: {} for state in TICKET_STATES}
            late: dict[str, Row] = {state: {} for state in TICKET_STATES}
            breaches = self.breaches(category, mode)
            for state, nexts in self.fast_next.items():
                step = state in _STEP_STATES
                found[state][_LATE] = late[state][_LATE] = late[state]
                found[state][_BREACH] = late[state][_BREACH] = breaches.get(state)
                for trigger, new in nexts.items():
                    stay = limits[new]
                    limit = _NO_DUE if stay is None else stay
                    # A score is decided here only with its data: its entry has its own key.
                    key = _SCORED if trigger == "score" else trigger
                    action, shared = _ACTIONS[trigger], (state, new, trigger, mode)
                    found[state][key] = (new, limit, step or None, action, found[new], shared)
                    late[state][key] = (new, limit, False if step else None, action, found[new],
                                        shared)  # fmt: skip
        return found

    def breaches(self, category: str, mode: str) -> dict[str, tuple[str, str, int]]:
        """State -> (the limit's key, the rule in words, the limit again) for a limit
        set in ``mode`` breaching while the situation still asks for ``mode``."""
        found = self._breaches.get((category, mode))
        if found is None:
            found = self._breaches[category, mode] = {
                state: (*self._desk._fired(category, mode, state), limit)
                for state, limit in self.limits(category, mode).items()
                if limit is not None
            }
        return found

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

    __slots__ = (
        "categories", "desk", "floor", "grids", "kit", "latest", "log", "low_score", "marks",
        "out", "rows", "tables", "timed", "touched", "tz",
    )  # fmt: skip

    def __init__(self, desk: TicketDesk, kit: Kit, tz: tzinfo) -> None:
        self.desk = desk
        self.kit = kit
        self.tables: Tables = desk._stream_tables()
        self.tz = tz
        #: Where and what an opening decided in place may be: the grids, the categories.
        self.grids = self.tables.grids
        self.categories = desk.rule.categories
        self.low_score = desk.rule.low_score
        #: (category, mode) -> state -> fast trigger -> entry (see :meth:`Tables.rows`).
        self.rows = self.tables._rows
        #: A breach before this time is recorded at it (as plan_due does; the lowest
        #: time when the desk has no change yet).
        self.floor = _NEVER if desk._last_us is None else desk._last_us
        self.latest = _NEVER
        self.timed = desk._timed
        #: The parts of histories the stream wrote: (history, start, stop).
        #: (flat, three entries a part, so that no object is kept per part).
        self.out: list[Any] = []
        self.touched: list[Live] = []
        #: The records of the tickets whose history is a part of it (see ``_Live._log``):
        #: the desk's, shared by its streams.
        self.log: list[Any] = desk._log
        #: Where the stream's breach records (escalated, overdue) are, in the order
        #: written (the order of the changes), flat: history, offset, history, ...
        #: None once a step went through the planners (their changes are not marked).
        self.marks: list[Any] | None = []


#: The times a desk takes: from the second day of year 1 to the start of year 9000 (so
#: that every time limit after them, and every time zone's view of them, is a datetime).
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The same in microseconds since 1970 (the bulk path checks its times against them too).
EARLIEST_US = (EARLIEST - _EPOCH) // timedelta(microseconds=1)
LATEST_US = (LATEST - _EPOCH) // timedelta(microseconds=1)


def play(
    desk: TicketDesk,
    at: Times,
    tickets: Sequence[str],
    triggers: Sequence[str],
    data: Sequence[Mapping[str, Any] | None] | None,
    tz: tzinfo,
    kit: Kit,
    pause_gc: bool = False,
) -> Any:
    """See ``TicketDesk._play``; ``kit`` is what the desk hands a stream."""
    for name, value in (("at", at), ("tickets", tickets), ("triggers", triggers)):
        _check_sequence(name, value)
    if data is not None:
        _check_sequence("data", data)
    count = len(at)
    if len(tickets) != count or len(triggers) != count or (data is not None and len(data) != count):
        raise CommandError(
            "times, tickets, triggers and data must have the same length",
            reason="lengths differ",
        )
    times = _times(at, kit.micros)
    stream = _Stream(desk, kit, tz)
    done = False
    try:
        with gc_paused() if pause_gc else contextlib.nullcontext():
            given = repeat(None, count) if data is None else data
            _loop(stream, zip(times, tickets, triggers, given, strict=True))
        done = True
    finally:
        _finish(stream, done)
    return kit.changes(stream.out, stream.marks)


def not_a_sequence(value: object) -> bool:
    """``value`` is not a sequence or a one-dimensional array: a string, bytes, a
    mapping, a set (its order is arbitrary), a scalar or a table."""
    return (
        isinstance(value, str | bytes | Mapping | Set)
        or not hasattr(value, "__len__")
        or not hasattr(value, "__iter__")
        or getattr(value, "ndim", 1) != 1
    )


def _check_sequence(name: str, value: object) -> None:
    """``value`` is a sequence or a one-dimensional array, one item a step.

    Raises:
        ArgumentError: it is not (see :func:`not_a_sequence`).
    """
    if not_a_sequence(value):
        raise ArgumentError("play", name, "a sequence, one item a step", shown(value))


def _times(at: Times, micros: Callable[[datetime], int]) -> Sequence[int]:
    """Every step's time in microseconds, all checked before the first step.

    Raises:
        ClockError: a datetime has no time zone, a time is not a datetime or
            microseconds (an int), or is not between :data:`EARLIEST` and :data:`LATEST`.
    """
    items: Any = at
    tolist = getattr(at, "tolist", None)
    if tolist is not None:  # an array
        kind = getattr(getattr(at, "dtype", None), "kind", None)
        if kind == "i" or kind == "u":  # of integers: every item an int, no need to look
            array: Any = at
            if len(array) and (array.min() < EARLIEST_US or array.max() >= LATEST_US):
                _out_of_range(tolist())
            return tolist()  # type: ignore[no-any-return]
        items = tolist()
    if not set(map(type, items)) <= {int}:
        items = [when if when.__class__ is int else micros(when) for when in items]
    if items and (min(items) < EARLIEST_US or max(items) >= LATEST_US):
        _out_of_range(items)
    return items  # type: ignore[no-any-return]


def _out_of_range(times: Sequence[int]) -> None:
    """Raises ClockError for the first of ``times`` outside the times a desk takes."""
    for when in times:
        if not EARLIEST_US <= when < LATEST_US:
            raise ClockError(
                f"time {when} (microseconds since 1970) is not between {EARLIEST.date()} and "
                f"{LATEST.date()}"
            )


def _loop(stream: _Stream, steps: Iterator[Step]) -> None:
    """Every step of the stream: each ticket's run of steps (:func:`_run`) from its
    record (:func:`_resume`) or from its opening. An opening at a grid is decided
    here (its record started, its run's fields handed on in local variables, so that
    they are written to the record once, when the run ends: :func:`_settle`); any
    other through the planner."""
    desk, tz, log, kit = stream.desk, stream.tz, stream.log, stream.kit
    records, touched, situation = desk._tickets, stream.touched.append, desk._situation
    grids, categories, rows = stream.grids, stream.categories, stream.rows
    new_live, nobody = kit.new_live, kit.nobody
    pending = next(steps, None)
    # (``while True``: CPython 3.11 specialises a function called once only in a loop
    # closed by an unconditional jump back)
    while True:
        if pending is None:
            return
        now, tid, trigger, given = pending
        try:
            live = records.get(tid)
        except TypeError:  # (an unhashable id: refused by _slow)
            live = None
        if live is not None:
            touched(live)
            pending = _resume(stream, live, pending, steps)
            continue
        try:
            fast = (
                trigger == "open"
                and len(given) == 2
                and (where := given["where"]) in grids
                and (category := given["category"]) in categories
            )
        except (TypeError, KeyError, AttributeError):  # (a step of the wrong form: to _slow)
            fast = False
        # (an id that is not plainly a name, as the per-call check's quick path sees it:
        # through the planners, which check it in full)
        if not fast or tid.__class__ is not str or not 0 < len(tid) <= 200 or not tid.isprintable():
            _slow(stream, tid, trigger, now, given)
            pending = next(steps, None)
            continue
        mode = situation(where)  # (as desk._mode asks it, without a call more)
        if mode not in TICKET_MODES:
            raise unknown_situation(where, mode)
        found = rows.get((category, mode))
        row = (stream.tables.rows(category, mode) if found is None else found)["accepted"]
        live = new_live()
        live.id, live.category, live.origin, live.opened_us = tid, category, where, now
        live.compound = live.handler = live.score = None
        live.low_scores = live.escalations = live.reopens = 0
        live.summary = live.result = ""
        live.private = nobody
        live._log = log
        live._start = start = len(log)
        due = None if row[_BREACH] is None else now + row[_BREACH][2]  # (the first limit)
        log += (OPENED, "ticket.opened", tid, where, now, tz, category, mode, due)
        records[tid] = live
        touched(live)
        # The rest of the record (state, unit, due, mode, latest time, zone, ...) is written
        # when the run ends (_settle), and the stream counts the ticket as timed then.
        far = _NO_DUE if due is None else due
        pending = _run(stream, live, steps, mode, row, log, start, "accepted", where, far, mode,
                       now, tz, False)  # fmt: skip


def unknown_situation(origin: str, mode: object) -> CommandError:
    """The error for a situation that answers no ticket mode for ``origin``."""
    return CommandError(
        f"the situation of {origin} is {mode!r} (expected one of: {', '.join(TICKET_MODES)})",
        reason="unknown situation",
    )


def _resume(stream: _Stream, live: Live, first: Step, steps: Iterator[Step]) -> Step | None:
    """The run of ``live``'s steps from ``first`` (see :func:`_run`), from its record."""
    # No zone or mode changes during a stream: the situation is asked
    # once per run of a ticket's steps.
    asked = stream.desk._mode(live.compound or live.origin)
    log = stream.log
    # The ticket's records go on in the log while they end it, else to its own list.
    history = log if live._log is log and live._stop == len(log) else live.history
    steps = chain((first,), steps)
    row = stream.tables.rows(live.category, asked)[live.state]
    row = row[_LATE] if live.breached else row
    return _run(stream, live, steps, asked, row, history, len(history), *_fields(live))


def _fields(live: Live) -> Fields:
    """The fields of ``live`` a run keeps in local variables, as :func:`_settle` takes them."""
    due = _NO_DUE if live.due_us is None else live.due_us
    return live.state, live.unit, due, live.mode, live.updated_us, live.tz, due < _FAR


def _run(
    stream: _Stream,
    live: Live,
    steps: Iterator[Step],
    asked: str,
    row: Row,
    history: list[Any],
    start: int,
    state: str,
    unit: str,
    due: int,
    mode: str,
    updated: int,
    ltz: tzinfo,
    had: bool,
) -> Step | None:
    """The ``steps`` of ``live`` while its own, its fields (as :func:`_settle` takes them)
    in local variables, one lookup a step in its state's ``row`` (:meth:`Tables.rows`: a
    breach takes the row's late twin); returns the next ticket's first step (None: done)."""
    tables, tz, kept = stream.tables, stream.tz, state  # (a fast step: mode asked, zone tz)
    tid, category = live.id, live.category
    note, routes, downs = history.extend, tables.routes, tables.routes_down
    try:
        for now, t, trigger, given in steps:
            if t is not tid and t != tid:
                return (now, t, trigger, given)
            if due <= now:
                if state is not kept:
                    mode, ltz, kept = asked, tz, state
                unit, due, mode, updated, had, row = _climb(
                    stream, live, now, state, unit, due, mode, asked, ltz, history, had, row
                )
            try:
                if given is not None:  # only a whole score, not low, is decided here
                    score = given.get("score") if trigger == "score" and len(given) == 1 else None
                    whole = score.__class__ is int and stream.low_score <= score <= 5
                    entry = row.get(_SCORED) if whole else None
                else:
                    entry = row[trigger]
            except (KeyError, TypeError, AttributeError):  # (not a fast step from this state,
                entry = None  # or one of the wrong form: the planners refuse it)
            if entry is None or now < updated:  # through the planners, as one call would do it
                mode, ltz = (asked, tz) if state is not kept else (mode, ltz)
                fields = (state, unit, due, mode, updated, ltz, had)
                begun, start = start, -1  # (the detour holds the record: see _settle)
                got = _detour(stream, live, trigger, now, given, fields, history, begun, asked, row)
                (state, unit, due, mode, updated, ltz, had), history, row = got
                kept, category, note, start = state, live.category, history.extend, len(history)
                continue
            new, limit, on_time, action, row, shared = entry
            due = now + limit
            if not action:  # _PLAIN
                note((PLAIN, "ticket.step", tid, unit, now, tz, on_time, due, shared))
            elif action == 1:  # _CLASSIFY
                info, cause, hops = routes.get((unit, category)) or tables.route_up(unit, category)
                note((STEP, "ticket.step", tid, unit, now, tz, state, new, trigger, on_time,
                      info, asked, due, cause))  # fmt: skip
                for unit, left, why in hops:
                    note((MOVE, "ticket.transferred", tid, unit, left, why, now, tz))
            elif action == 2:  # _FEED_BACK
                note((FED_BACK, "ticket.step", tid, unit, now, tz, state, new, on_time, asked, due))
                live.handler, live.result, origin = unit, "", live.origin
                down = downs.get((origin, unit))
                for to, left, why in tables.route_down(origin, unit) if down is None else down:
                    note((MOVE, "ticket.returned", tid, to, left, why, now, tz))
                unit = origin
            elif action == 3:  # _SCORE (rarer: a score or a publication last)
                live.score = score
                note((SCORED, "ticket.scored", tid, unit, now, tz, state, new, on_time, score,
                      live.low_scores, asked, due))  # fmt: skip
            else:  # publish (the summary and the result: the maker writes the published summary)
                note((PUBLISHED, "ticket.step", tid, unit, now, tz, state, new, on_time,
                      live.summary, live.result, asked, due))  # fmt: skip
            state, updated = new, now
    finally:
        if state is not kept:
            mode, ltz = asked, tz
        late = row is row[_LATE]  # (the stay breached)
        _settle(stream, live, history, start, state, unit, due, mode, updated, ltz, had, late)
    return None


def _settle(
    stream: _Stream,
    live: Live,
    history: list[Any],
    start: int,
    state: str,
    unit: str,
    due: int,
    mode: str,
    updated: int,
    tz: tzinfo,
    had: bool,
    breached: bool,
) -> None:
    """The end of a run of ``live``'s steps (or of its part before a detour): the part
    of ``history`` it wrote from ``start`` noted, its fields (state, unit, due, mode,
    latest time, time zone, counted as timed; breached) handed back to its record.
    ``start`` -1: nothing to do (a run's end after a step refused in a detour, which
    handed the record back before the step)."""
    if start < 0:
        return
    stop = len(history)
    out = stream.out
    if out and out[-1] == start and out[-3] is history:
        out[-1] = stop  # (as _part joins them, without a call: the common case)
    else:
        _part(out, history, start, stop)
    if history is stream.log:
        live._stop = stop
    if due < _FAR:
        live.due_us = due
        stream.timed += 1 - had
    else:
        live.due_us = None
        stream.timed -= had
    live.state, live.unit, live.mode, live.updated_us = state, unit, mode, updated
    live.breached, live.tz, live._view = breached, tz, None
    if updated > stream.latest:
        stream.latest = updated


def _detour(
    stream: _Stream,
    live: Live,
    trigger: str,
    now: int,
    given: Mapping[str, Any] | None,
    fields: Fields,
    history: list[Any],
    start: int,
    asked: str,
    row: Row,
) -> tuple[Fields, list[Any], Row]:
    """A step of the ticket in hand through the planners (:func:`_slow`): its fields
    (as :func:`_settle` takes them; whether it breached from ``row``, the row the run
    holds) and the part of ``history`` written from ``start`` handed back to its record
    before, taken again after, with its history and its state's row in ``asked`` (the
    late twin when it breached: see :meth:`Tables.rows`)."""
    _settle(stream, live, history, start, *fields, row is row[_LATE])
    _slow(stream, live.id, trigger, now, given)
    row = stream.tables.rows(live.category, asked)[live.state]
    return _fields(live), live.history, row[_LATE] if live.breached else row


def _part(out: list[Any], history: list[Any], start: int, stop: int) -> None:
    """Add ``history[start:stop]`` to the parts a stream wrote (joined to the last when it
    follows it: a stream ticket by ticket writes one part of its log)."""
    if stop > start:
        if out and out[-1] == start and out[-3] is history:
            out[-1] = stop
        else:
            out += (history, start, stop)


def _climb(
    stream: _Stream,
    live: Live,
    now: int,
    state: str,
    unit: str,
    due: int,
    mode: str,
    asked: str,
    tz: tzinfo,
    history: list[Any],
    had: bool,
    row: Row,
) -> tuple[str, int, str, int, bool, Row]:
    """Every breach of the ticket in hand up to ``now``, recorded in ``history`` (as
    :func:`_breaches`) in ``tz`` (the zone of its latest change: a step of the run's
    own is in the stream's); returns its unit, due time (far when none), mode and
    latest time after them, whether the stream counts it as timed then (``had``: before)
    and the late twin of ``row``, the state's row in ``asked`` (:meth:`Tables.rows`),
    which holds its breach."""
    stream.timed += 1 - had
    breach = row[_BREACH]
    if breach is None or mode != asked:  # a limit set in another mode: the general way
        unit, after, mode = _breaches(stream, live, now, state, unit, due, mode, asked, tz, history)
        if after is None:
            return unit, _NO_DUE, mode, live.updated_us, False, row[_LATE]
        return unit, after, mode, live.updated_us, True, row[_LATE]
    key, fired, limit = breach
    floor = stream.floor
    tid, parents = live.id, stream.tables.parents
    note, marks = history.extend, stream.marks
    when = due
    climbed = 0
    while due <= now:
        when = due if due > floor else floor
        parent = parents[unit]
        if marks is not None:
            marks += (history, len(history))
        if parent is None:
            note((OVERDUE, "ticket.overdue", tid, unit, when, tz, state, key, fired, due))
            due = _NO_DUE
            stream.timed -= 1
        else:
            later = due + limit
            note((
                ESCALATED, "ticket.escalated", tid, parent, when, tz, unit, state, key, fired,
                due, asked, later,
            ))  # fmt: skip
            unit, due = parent, later
            climbed += 1
    live.escalations += climbed
    return unit, due, asked, when, due < _FAR, row[_LATE]


def _breaches(
    stream: _Stream,
    live: Live,
    now: int,
    state: str,
    unit: str,
    due: int,
    mode: str,
    asked: str,
    tz: tzinfo,
    history: list[Any],
) -> tuple[str, int | None, str]:
    """Every breach of ``live``'s limit up to ``now`` (as ``TicketDesk._breach`` plans
    them), recorded in ``history`` in ``tz`` (the zone of its latest change); returns
    the unit, due time and mode after them."""
    desk, tables, floor, marks = stream.desk, stream.tables, stream.floor, stream.marks
    tid, category = live.id, live.category
    next_due: int | None = due
    while next_due is not None and next_due <= now:
        due = next_due
        key, fired = desk._fired(category, mode, state)
        when = due if due > floor else floor
        parent = tables.parents[unit]
        record: tuple[Any, ...]
        if parent is None:
            record = (
                OVERDUE, "ticket.overdue", tid, unit, when, tz,
                state, key, fired, due,
            )  # fmt: skip
            next_due = None
        else:
            mode = asked
            limit = tables.limits(category, mode)[state]
            next_due = None if limit is None else due + limit
            record = (
                ESCALATED, "ticket.escalated", tid, parent, when, tz,
                unit, state, key, fired, due, mode, next_due,
            )  # fmt: skip
            unit = parent
            live.escalations += 1
        if next_due is None:
            stream.timed -= 1
        live.updated_us = when
        if marks is not None:
            marks += (history, len(history))
        history.extend(record)
    return unit, next_due, mode


def _slow(
    stream: _Stream, tid: str, trigger: str, now: int, given: Mapping[str, Any] | None
) -> None:
    """One step through the desk's planners, as one call would do it (or its refusal).

    Raises:
        ArgumentError: a step of the wrong form (a ticket id or trigger not a
            string, data not a mapping with string keys), before anything changes.
    """
    keyed = given is None or (isinstance(given, Mapping) and all(k.__class__ is str for k in given))
    if not (isinstance(tid, str) and isinstance(trigger, str) and keyed):
        raise ArgumentError(
            "play",
            "steps (ticket, trigger, data)",
            "a ticket id and a trigger (strings) and data (a mapping by name, or None)",
            shown((tid, trigger, given)),
        )
    desk = stream.desk
    # The planners' changes are not marked: the stream's breaches are no longer
    # known by their marks alone.
    stream.marks = None
    live = desk._tickets.get(tid)
    start = len(live.history) if live is not None else 0
    if live is not None and live.due_us is not None and live.due_us <= now:
        mode = live.mode
        asked = desk._mode(live.compound or live.origin)
        live.unit, live.due_us, live.mode = _breaches(
            stream, live, now, live.state, live.unit, live.due_us, mode, asked, live.tz,
            live.history,
        )  # fmt: skip
        live.breached = True
        live._view = None
    when = stream.kit.moment(now, stream.tz)
    changes: tuple[TicketChange, ...]
    if trigger == "open":
        options = dict(given or {})
        where, category = options.pop("where", None), options.pop("category", None)
        if not isinstance(where, str) or not isinstance(category, str):
            raise CommandError(
                f"opening {tid} needs where= and category= (names) in its data, got "
                f"{shown(where)} and {shown(category)}",
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
    history = live.history
    _part(stream.out, history, start, len(history))
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
        history = live.history
        start = len(history)
        live.unit, live.due_us, live.mode = _breaches(
            stream, live, due, live.state, live.unit, due, live.mode, asked, live.tz, history
        )
        _part(stream.out, history, start, len(history))
        live.breached = True
        live._view = None
        if desk._last_us is None or live.updated_us > desk._last_us:
            desk._last_us, desk._last_tz = live.updated_us, live.tz
        if live.due_us is not None:
            heapq.heappush(heap, (live.due_us, tid))
    desk._timed = stream.timed

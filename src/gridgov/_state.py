"""The engine's whole state and the one reducer that changes it.

:class:`EngineState` gathers the state of every domain: the measures (zones,
modes, deadlines, holds: :class:`gridgov.measures.Measures`), the staffing
roster (:class:`gridgov.staffing.Roster`), the ticket desk
(:class:`gridgov.tickets.TicketDesk`) and the engine's counters (command
numbers, the time of the last event, task numbers). :meth:`EngineState.apply`
is **the** reducer: every change of state is one recorded event applied by
it, to the domain the event's type belongs to. The engine calls it when a
command commits and when a journal is replayed, so replaying the journal gives
the live state by construction.

Snapshots are data only: :meth:`EngineState.dump` gives JSON-ready data of
the whole state and :meth:`EngineState.load` takes it back on a fresh state
(see :func:`gridgov.journal.encode_snapshot` for the versioned, digested
form). Nothing in a snapshot is ever executed.
"""

from __future__ import annotations

import heapq
import itertools
import operator
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from gridgov.alerts import ALERT_EVENTS, AlertBook
from gridgov.city import City
from gridgov.errors import JournalError, UnknownUnitError
from gridgov.journal import Events
from gridgov.measures import ALERT_DUE, MEASURE_EVENTS, Deadline, Measures
from gridgov.records import EventLike, Planned
from gridgov.rules import Rules
from gridgov.staffing import STAFFING_EVENTS, Roster
from gridgov.supplies import SupplyNetwork
from gridgov.supply_book import SUPPLY_EVENTS, SupplyBook
from gridgov.tickets import KINDS as TICKET_KINDS
from gridgov.tickets import TicketDesk, situation_from

__all__ = ["EngineState", "command_number"]


#: Events of a command from which they are applied a run at a time (below, the
#: loop one event at a time costs less than finding the runs).
_RUNS_FROM = 32

#: The data keys of the runs the roster applies at once.
_ASSIGNED = ("person", "post", "role", "level")
_OPENED = ("post", "role", "community", "capacity")
#: The same with the last key the planner writes (its compact data has all five).
_OPENED_DATA = (*_OPENED, "task")
#: The kinds whose runs the roster applies at once.
_AT_ONCE = frozenset({"post.assigned", "post.opened"})
_RELEASED = ("person", "post")
_CLOSED = ("post",)


def _all_text(columns: tuple[list[Any], ...]) -> bool:
    """Whether every value of these columns is text (ids a dict can be keyed by:
    a run of them is applied at once, nothing in it can raise)."""
    return all(set(map(type, column)) <= _TEXT for column in columns)


_TEXT = frozenset({str})


def _planned_run(events: Events, start: int, stop: int) -> Planned | None:
    """The planner's own form of the events ``start:stop`` (``Events._planned``), when
    they came with one (exactly that run), else None."""
    for first, end, data in events._planned:  # a loop, not next() of a generator made
        if first == start and end == stop:
            return data
    return None


def _released(events: Events, start: int, stop: int) -> tuple[Any, ...] | None:
    """The people and the posts of the releases ``start:stop``: the planner's own
    columns when the events came with them (text: the roster's people and posts),
    else read from the events' data when all of it is text; None otherwise."""
    planned = _planned_run(events, start, stop)
    if planned is not None:
        return planned[0]
    got = events._fields(start, stop, _RELEASED)
    return got if got is not None and _all_text(got) else None


def command_number(command: str) -> int | None:
    """The number of an engine-made command id (``c000042`` -> 42), else None."""
    if command.startswith("c") and command[1:].isdigit():
        return int(command[1:])
    return None


class EngineState:
    """Everything an engine knows that events change, and the one reducer.

    Args:
        city: the city.
        rules: the rules (the ticket desk's limits and emergency zones).
        pause_gc: pause the garbage collector while the machines are built.
    """

    def __init__(
        self,
        city: City,
        rules: Rules,
        *,
        pause_gc: bool = False,
        supplies: SupplyNetwork | None = None,
    ) -> None:
        self.city = city
        #: The supply book (stock and demand carried over), None when supplies are off.
        self.supplies = SupplyBook(supplies) if supplies is not None else None
        #: Zones, modes, their deadlines and holds.
        self.measures = Measures(city, pause_gc=pause_gc)
        #: Who holds which emergency post.
        self.roster = Roster(city)
        #: The closed loop's tickets.
        self.tickets = TicketDesk(
            city,
            rules.tickets,
            situation_from(city, rules.tickets, self.measures.zone, self.measures.mode),
        )
        #: What the engine remembers of CAP messages: chains, reviews.
        self.alerts = AlertBook()
        #: The highest command number used.
        self.commands = 0
        #: Time of the latest event.
        self.last_time: datetime | None = None
        #: The last task number per community (never reused).
        self.task_numbers: dict[str, int] = {}
        self._reducers: dict[str, Callable[[EventLike], None]] = {}
        self._command: str | None = None  # the command of the last event applied
        #: The measures draft's tables applied last (see _measure_run).
        self._drafted: tuple[Any, ...] | None = None
        for kind in MEASURE_EVENTS:
            self._reducers[kind] = self.measures._apply_event
        for kind in STAFFING_EVENTS:
            self._reducers[kind] = self.roster._apply_event
        for kind in TICKET_KINDS:
            self._reducers[kind] = self.tickets._apply_event
        for kind in ALERT_EVENTS:
            self._reducers[kind] = self._apply_alert
        for kind in SUPPLY_EVENTS:
            self._reducers[kind] = self._apply_supply

    # ---------------------------------------------------------------- reducer

    def apply(self, event: EventLike) -> None:
        """Apply one recorded event: the only way the state changes.

        Events of types no domain keeps (``case.confirmed``, ``measure.*``,
        ``command.refused``, ...) only move the counters.

        Raises:
            UnknownUnitError: the event names a unit the state does not know.
            JournalError: the event does not fit (unknown zone or mode, ...).
            GridgovError: a ticket or staffing event that does not fit.
        """
        command = event.command
        if command != self._command:
            # A command's events come together: its number is read once.
            self._command = command
            number = command_number(command)
            if number is not None and number > self.commands:
                self.commands = number
        if self.last_time is None or event.time > self.last_time:
            self.last_time = event.time
        reducer = self._reducers.get(event.type)
        if reducer is None:
            return
        try:
            reducer(event)
        except KeyError:
            raise UnknownUnitError(event.unit, f"unit (event {event.seq}) named") from None
        if event.type == "post.opened":
            self._task_number(event)

    def apply_all(self, events: Iterable[EventLike]) -> int:
        """Apply events in order, as :meth:`apply` does one by one; returns how many.

        A replay's loop, and a commit's: the counters :meth:`apply` keeps are
        kept in locals meanwhile (no reducer reads them) and written back at
        the end, also when an event raises (the state then holds the events
        before it). The commonest events of a big command (``post.assigned``
        and ``post.released``: sealing the urban area records forty thousand,
        lifting it as many) go straight to the roster's reducer for them. Live
        and replayed states are compared by the tests.

        Raises:
            as :meth:`apply`.
        """
        if isinstance(events, Events) and events._size >= _RUNS_FROM:
            return self._apply_events(events)
        reducers = self._reducers.get
        roster = self.roster
        assign, release = roster._assign_to, roster._release
        command = self._command
        commands = self.commands
        last_time = self.last_time
        count = 0
        try:
            for event in events:
                name = event.command
                if name != command:
                    command = name
                    number = command_number(name)
                    if number is not None and number > commands:
                        commands = number
                when = event.time
                # A command's events mostly share one time object: compared once.
                if when is not last_time and (last_time is None or when > last_time):
                    last_time = when
                kind = event.type
                if kind == "post.assigned" or kind == "post.released":
                    data = event.data
                    try:
                        if kind == "post.assigned":
                            assign(data["person"], data["post"], data["role"], data["level"], when)
                        else:
                            release(data["person"], data["post"], when)
                    except KeyError:
                        raise UnknownUnitError(
                            event.unit, f"unit (event {event.seq}) named"
                        ) from None
                    count += 1
                    continue
                reducer = reducers(kind)
                if reducer is not None:
                    try:
                        reducer(event)
                    except KeyError:
                        raise UnknownUnitError(
                            event.unit, f"unit (event {event.seq}) named"
                        ) from None
                    if kind == "post.opened":
                        self._task_number(event)
                count += 1
        finally:
            self._command = command
            self.commands = commands
            self.last_time = last_time
        return count

    def _apply_events(self, events: Events) -> int:
        """:meth:`apply_all` on events kept column by column (a command's, or a
        memory journal's), a run of events of one type at a time.

        A run of ``post.assigned`` or ``post.opened`` events (sealing the urban area
        records forty thousand and eight thousand in a row) goes to the roster at once
        (``Roster._assign_all``, ``_open_all``: nothing changed when an event does not
        fit, the run then applied an event at a time, which raises there as
        :meth:`apply` would); so does a run of ``post.released`` or ``post.closed``
        events (a lift's), up to the event that does not fit; zones, modes and
        front-line counts are read from the columns; the other reducers get an
        :class:`~gridgov.journal.Event` each. The counters (command number, latest
        time) are read from the columns of the events applied."""
        column = events._column  # (a replayed block's made when read: few are)
        times, kinds, names = column(0), column(1), column(3)
        data_of, fields = events._data, events._fields
        kept = self._reducers
        roster = self.roster
        assign, release = roster._assign_to, roster._release
        index = start = 0
        applied = False
        try:
            for kind, run in itertools.groupby(kinds):
                # Counted in C, no list of the run made (forty thousand for a big command).
                stop = start + operator.countOf(run, kind)
                if kind not in kept or (
                    kind in _AT_ONCE and self._run_at_once(events, kind, start, stop)
                ):
                    # Kept by no domain (only the counters move), or the roster's at once.
                    start = index = stop
                    continue
                if kind == "post.assigned":
                    for index in range(start, stop):
                        data = data_of(index)
                        person, post = data["person"], data["post"]
                        assign(person, post, data["role"], data["level"], times[index])
                elif kind == "post.released":
                    got = _released(events, start, stop)
                    if got is not None:
                        persons, posts, *rows = got  # (the planner's rows, when given)
                        done = roster._release_all(persons, posts, times[start:stop], *rows)
                        index = start + done
                        if index < stop:  # an unknown person: raised at its event
                            raise KeyError(persons[index - start])
                    else:  # data missing or odd: raised at its event, one at a time
                        for index in range(start, stop):
                            data = data_of(index)
                            release(data["person"], data["post"], times[index])
                elif kind == "post.closed":
                    got = fields(start, stop, _CLOSED)
                    if got is not None and _all_text(got):
                        roster._close_all(got[0])
                    else:  # data missing or odd: raised at its event, one at a time
                        for index in range(start, stop):
                            roster._close_all((data_of(index)["post"],))
                elif kind == "front_line.changed":  # its data from the column, no Event made
                    for index in range(start, stop):
                        roster._hot_changed(data_of(index)["grids"])
                elif kind in MEASURE_EVENTS:  # the planner's tables, or a run from the columns
                    try:
                        self._measure_run(events, kind, start, stop)
                    except Exception:
                        index = self.measures._stopped_at  # raised at its event
                        raise
                else:
                    reducer = kept[kind]
                    for index in range(start, stop):
                        event = events._event(index)
                        reducer(event)
                        if kind == "post.opened":
                            self._task_number(event)
                start = index = stop
            applied = True
        except KeyError:
            seq = events.first + index
            raise UnknownUnitError(column(2)[index], f"unit (event {seq}) named") from None
        finally:
            # The counters of the events applied (and of the one that raised).
            self._counted(names, times, len(kinds) if applied else index + 1)
        return len(kinds)

    def _measure_run(self, events: Events, kind: str, start: int, stop: int) -> None:
        """Apply the ``zone.*`` or ``mode.*`` events ``start:stop``: from their draft's
        tables when they came with them (``Events._planned``; applied at once at the
        first of its runs, :meth:`Measures._apply_draft`, when the state is the one the
        draft read), else a run at a time from the columns."""
        measures = self.measures
        for first, end, planned in events._planned:
            tables = planned[0] if planned and type(planned[0]) is tuple else None
            if tables is None or tables[0] is not measures or not first <= start < end:
                continue
            if start == first and measures._apply_draft(tables):
                self._drafted = tables
            if self._drafted is tables and stop <= end:
                return
            break
        if events._lazy is None:
            columns = events._columns
            measures._apply_run(
                kind, (columns[2], columns[7], columns[8]), start, stop, events._first
            )
            return
        # A replayed block: the run's data made for its events alone.
        units, news = events._column(2), events._column(7)
        run = (units[start:stop], news[start:stop], events._datas(start, stop))
        try:
            measures._apply_run(kind, run, 0, stop - start, events._first + start)
        except Exception:
            measures._stopped_at += start  # (an index into the events)
            raise

    def _run_at_once(self, events: Events, kind: str, start: int, stop: int) -> bool:
        """Apply the run ``start:stop`` of ``post.assigned`` or ``post.opened`` events
        to the roster at once; all or nothing: False, and nothing changed, when an
        event of the run does not fit (the caller then applies it one event at a
        time, which raises at that event). A run that came with its planner's own
        form of the data (``Events._planned``: the runs of assignments and the
        employers drawn from, the rows of opened posts) is read from that, not
        from the data column."""
        times = events._column(0)
        planned = _planned_run(events, start, stop)
        if kind == "post.assigned":
            if planned is not None:
                runs, employers, rows, _ = planned[0]
                return self.roster._assign_runs(runs, times[start], employers, rows)
            got = events._fields(start, stop, _ASSIGNED)
            if got is None:
                return False
            persons, posts, roles, levels = got
            return self.roster._assign_all(persons, posts, roles, levels, times[start:stop])
        if planned is not None:
            opened = self.roster._open_rows(planned)
            # The planner's ids (text); task posts are few: looked for in the ids
            # joined (in C), then one by one.
            if "/task/" not in "\n".join(opened):
                return True
        else:
            # Compact data of the planner's five keys (read a column at a time), else
            # the four keys the roster needs.
            got = events._fields(start, stop, _OPENED_DATA) or events._fields(start, stop, _OPENED)
            if got is None or not self.roster._open_all(events._column(2)[start:stop], *got[:4]):
                return False
            opened = got[0]
        for post in opened:
            if "/task/" in post:
                self._task_post(post)
        return True

    def _counted(self, names: list[str], times: list[datetime], end: int) -> None:
        """Move the counters past the first ``end`` events of these columns."""
        if end <= 0:
            return
        if end < len(names):
            names, times = names[:end], times[:end]
        # A command's events share one name and mostly one time object: counted in C
        # (identity first), not a set made and every time compared.
        first = names[0]
        for name in (first,) if names.count(first) == len(names) else set(names):
            number = command_number(name)
            if number is not None and number > self.commands:
                self.commands = number
        self._command = names[-1]
        latest = times[0]
        if times.count(latest) != len(times):
            latest = max(times)
        if self.last_time is None or latest > self.last_time:
            self.last_time = latest

    def _task_number(self, event: EventLike) -> None:
        self._task_post(str(event.data["post"]))

    def _task_post(self, post: str) -> None:
        community, sep, number_text = post.partition("/task/")
        if sep and number_text.isdigit():
            known = self.task_numbers.get(community, 0)
            self.task_numbers[community] = max(known, int(number_text))

    def _apply_alert(self, event: EventLike) -> None:
        self.alerts._apply_event(event)

    def _apply_supply(self, event: EventLike) -> None:
        if self.supplies is None:
            raise JournalError(
                f"event {event.seq} is a supply event, but this engine has no "
                "supply network (Engine(..., supplies=...))"
            )
        self.supplies._apply_event(event)

    # ------------------------------------------------------------------ reads

    def live(self, item: Deadline) -> bool:
        """``item`` is still a deadline of the state (not superseded by a later change)."""
        if item[1] == ALERT_DUE:
            chain = self.alerts.chains.get(item[2])
            return chain is not None and chain.due() == item[0]
        return self.measures.live(item)

    def deadlines(self) -> list[Deadline]:
        """Every scheduled deadline (measures and alert chains), as a heap."""
        heap = self.measures.deadlines()
        for due, chain in self.alerts.deadlines():
            heapq.heappush(heap, (due, ALERT_DUE, chain))
        return heap

    def snapshot(self) -> dict[str, Any]:
        """The whole state, comparable with ``==`` (for replay checks)."""
        out = self.measures.snapshot()
        out["commands"] = self.commands
        out.update(self.roster.snapshot())
        out["tickets"] = self.tickets.snapshot()
        out["task_numbers"] = dict(self.task_numbers)
        out["alerts"] = self.alerts.snapshot()
        out["supplies"] = self.supplies.to_json() if self.supplies is not None else None
        return out

    # -------------------------------------------------------------- snapshots

    def dump(self) -> dict[str, Any]:
        """The whole state as JSON-ready data (for a snapshot)."""
        return {
            "measures": self.measures._dump(),
            "roster": self.roster._dump(),
            "tickets": self.tickets._dump(),
            "commands": self.commands,
            "last_time": self.last_time.isoformat() if self.last_time is not None else None,
            "task_numbers": dict(self.task_numbers),
            "alerts": self.alerts.state(),
            "supplies": self.supplies.to_json() if self.supplies is not None else None,
        }

    def load(self, data: Mapping[str, Any]) -> None:
        """Take the state :meth:`dump` wrote; only on a fresh state.

        Raises:
            KeyError, TypeError, ValueError, AttributeError: the data is malformed
            (the caller then drops this state and replays instead).
        """
        self.measures._load(data["measures"])
        self.roster._load(data["roster"])
        self.tickets._load(data["tickets"])
        commands = data["commands"]
        if isinstance(commands, bool) or not isinstance(commands, int):
            raise ValueError(f"commands must be a count, got {commands!r}")
        self.commands = commands
        last = data["last_time"]
        self.last_time = datetime.fromisoformat(last) if last is not None else None
        self.task_numbers = {str(k): int(v) for k, v in data["task_numbers"].items()}
        self.alerts = AlertBook.restore(data["alerts"])
        if self.supplies is not None and data["supplies"] is not None:
            self.supplies._load(data["supplies"])

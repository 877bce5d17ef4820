"""The eight-step closed loop for residents' requests: routing, time limits, escalation, feedback.

Every matter a resident raises (a repair, a dispute, hardship; in an
emergency food and supplies, medicine, garbage, medical transport for a
sealed household) is one *ticket* that goes through the eight steps of
practice: accept (register the matter), classify and transfer (to whoever
holds the authority for it), track the effect, supervise implementation, feed
the result back, score (the resident rates the handling, 1-5), publish (make
the outcome public) and archive (close the number).

* **One machine.** The workflow is one ``transitions.Machine`` definition
  (:data:`TICKET_TRANSITIONS`, drawn in ``docs/tickets.md`` by
  :meth:`TicketBoard.diagram`). Tickets are not models of the machine (a
  city-wide lockdown opens hundreds of thousands a day); every trigger is
  checked against the transition table compiled from it, and the bulk path
  (:class:`TicketArrays`) runs on the same table as integer arrays. Tests
  prove that table, machine and arrays agree.
* **Routing.** Classification routes a ticket from the grid it came from up
  the chain of command, level by level, to the lowest level that holds the
  authority for its category (``[tickets.categories]`` of the rules).
* **Time limits.** Each state has a limit per category and per mode
  (``normal`` or ``emergency``: a request from a compound in one of the
  rules' emergency zones, or from a community in emergency). Deadlines are
  kept in one schedule ordered by due time and driven by the time passed in
  (not ``transitions`` timeouts). Each time a limit passes, the ticket
  escalates exactly one level up the chain from the unit holding it, with the
  rule that fired, and gets the same limit again there; at the city it is
  recorded overdue and climbs no further.
* **Feedback.** The result travels back down the chain level by level to the
  originating grid, which collects the resident's score. A low score reopens
  the ticket at the level that handled it (``reopens`` times); each later low
  score escalates it one level up first.

Planning is pure: :class:`TicketDesk` ``plan_*`` methods return tuples of
frozen :class:`TicketChange` records and change nothing; :meth:`TicketDesk.apply`
applies them, all or nothing. Applying the recorded changes one by one to a
fresh desk rebuilds exactly the same desk, deadlines included.

Residents' personal data (name, phone, exact address, their own words) lives
only in a ticket's :class:`Private` part; what is published (:meth:`Ticket.public`,
the Open311 export) is redacted.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Annotated, Any, Protocol, overload

import attrs

import gridgov._bulk_arguments as _bulk
from gridgov._arguments import Fields, Name, Range, Words, checked, shown
from gridgov._ticket_stream import (
    EARLIEST,
    ESCALATED,
    FAR,
    FED_BACK,
    LATEST,
    MOVE,
    OPENED,
    OVERDUE,
    PLAIN,
    PUBLISHED,
    SCORED,
    STEP,
    WIDTHS,
    Kit,
    Tables,
    Times,
    unknown_situation,
)
from gridgov._ticket_stream import play as _play_stream
from gridgov.city import City
from gridgov.errors import (
    ArgumentError,
    ClockError,
    CommandError,
    GridgovError,
    JournalError,
    NotFoundError,
    TransitionError,
    UnknownUnitError,
)
from gridgov.model import Level
from gridgov.modes import StateBoard
from gridgov.privacy import redact as _redact
from gridgov.records import EventLike
from gridgov.rules import TicketRule
from gridgov.vocabulary import (
    CLOSED_TICKET_STATES,
    TICKET_LEVELS,
    TICKET_MODES,
    TICKET_STATES,
    TICKET_STEPS,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "CLOSED_STATES",
    "KINDS",
    "STATES",
    "TICKET_TRANSITIONS",
    "Changes",
    "Escalations",
    "Private",
    "Scorecard",
    "Situation",
    "Ticket",
    "TicketArrays",
    "TicketBoard",
    "TicketChange",
    "TicketDesk",
    "compile_table",
    "redact",
    "scorecards",
    "situation_from",
    "ticket_board",
]

#: The states of a ticket, in loop order; ``accepted`` is the initial one.
STATES = TICKET_STATES

#: The workflow: one ``transitions`` definition, the single source of truth.
TICKET_TRANSITIONS: tuple[dict[str, Any], ...] = (
    {"trigger": "classify", "source": "accepted", "dest": "classified"},
    {"trigger": "transfer", "source": "classified", "dest": "classified"},
    {"trigger": "reject", "source": "classified", "dest": "accepted"},
    {"trigger": "track", "source": "classified", "dest": "tracking"},
    {"trigger": "supervise", "source": "tracking", "dest": "supervising"},
    {"trigger": "feed_back", "source": "supervising", "dest": "fed_back"},
    {"trigger": "score", "source": "fed_back", "dest": "scored"},
    {"trigger": "reopen", "source": "scored", "dest": "tracking"},
    {"trigger": "publish", "source": "scored", "dest": "published"},
    {"trigger": "archive", "source": "published", "dest": "archived"},
    {"trigger": "withdraw", "source": ["accepted", "classified"], "dest": "withdrawn"},
)

#: States in which a ticket is closed (Open311 ``closed``).
CLOSED_STATES = CLOSED_TICKET_STATES

#: Kinds of change record, each an event type; ``old``/``new`` are states for
#: the first six and units for the three moves.
KINDS = (
    "ticket.opened",
    "ticket.step",
    "ticket.rejected",
    "ticket.withdrawn",
    "ticket.scored",
    "ticket.reopened",
    "ticket.transferred",
    "ticket.escalated",
    "ticket.returned",
    "ticket.overdue",
)
_STATE_KINDS = frozenset(KINDS[:6])
_MOVE_KINDS = frozenset(KINDS[6:9])

#: The types of the data a ticket's trigger takes (``plan_trigger(..., **data)``), by
#: keyword (which trigger takes which: below).
TicketData = Annotated[
    object,
    Fields(
        {
            "category": Name,
            "to": Name,
            "reason": Words,
            "result": Words,
            "score": Annotated[int, Range(1, 5)],
            "note": Words,
        }
    ),
]

#: Data each trigger accepts (``plan_trigger(..., **data)``).
_TRIGGER_DATA: Mapping[str, frozenset[str]] = {
    "classify": frozenset({"category", "note"}),
    "transfer": frozenset({"to", "reason", "note"}),
    "reject": frozenset({"reason", "note"}),
    "track": frozenset({"note"}),
    "supervise": frozenset({"note"}),
    "feed_back": frozenset({"result", "note"}),
    "score": frozenset({"score", "note"}),
    "publish": frozenset({"note"}),
    "archive": frozenset({"note"}),
    "withdraw": frozenset({"reason", "note"}),
}

#: Triggers that only move the ticket on, with nothing to route or record.
_PLAIN_TRIGGERS = frozenset({"track", "supervise", "archive"})

#: Answers "is this origin in an emergency?" for the time limits: called with
#: the ticket's compound (or its grid when it has none), returns ``normal`` or
#: ``emergency``.
Situation = Callable[[str], str]


class TicketBoard(StateBoard):
    """The ticket workflow machine: a :class:`~gridgov.modes.StateBoard` of tickets."""

    @property
    def kind_label(self) -> str:
        """``ticket``: what the units of this board are."""
        return "ticket"


def ticket_board() -> TicketBoard:
    """The workflow machine, without models: its table, its allowed triggers, its diagram."""
    return TicketBoard("workflow", STATES, TICKET_TRANSITIONS, ())


def compile_table(board: StateBoard) -> tuple[tuple[str, ...], tuple[str, ...], list[list[int]]]:
    """The machine's transition table as integers, for the bulk path.

    Returns:
        ``(states, triggers, table)``: ``table[s][t]`` is the index of the
        state trigger ``t`` leads to from state ``s``, or -1 where it is not
        allowed. States are in the machine's order, triggers sorted.
    """
    states = board.states
    triggers = tuple(sorted({t for (_, t) in board.table()}))
    index = {s: i for i, s in enumerate(states)}
    table = [[-1] * len(triggers) for _ in states]
    for (source, trigger), dest in board.table().items():
        table[index[source]][triggers.index(trigger)] = index[dest]
    return states, triggers, table


# ====================================================================== records


@attrs.frozen
class Private:
    """The resident's personal data: kept on the ticket, never published."""

    #: The resident's name.
    name: str = ""
    #: Their phone number.
    phone: str = ""
    #: Their exact address (building, unit, room).
    address: str = ""
    #: The matter in their own words.
    description: str = ""


def redact(text: str, private: Private) -> str:
    """``text`` without the resident's name, phone and address, nor any other personal item.

    :func:`gridgov.privacy.redact` with the resident's registered values as
    ``known``. Over-redaction is the safe side: a name is removed wherever it
    occurs.
    """
    return _redact(text, known=(private.name, private.phone, private.address))


@attrs.frozen
class TicketChange:
    """One change to one ticket, as planned and as recorded (an event of type ``kind``)."""

    #: What happened: one of :data:`KINDS`, e.g. ``ticket.escalated``.
    kind: str
    #: The ticket's id.
    ticket: str
    #: The unit holding the ticket after the change.
    unit: str
    #: When the change took effect.
    time: datetime
    #: State before (units before, for ``transferred``/``escalated``/``returned``).
    old: str | None
    #: State after (unit after, for the moves).
    new: str | None
    #: Details, JSON-friendly; ``due`` (ISO time or None) where the deadline changes.
    data: Mapping[str, Any] = attrs.field(factory=dict)
    #: Why, in words: the trigger, the rule that fired.
    cause: str = ""

    def event_fields(self) -> dict[str, Any]:
        """The fields of a :class:`gridgov.journal.Event` recording this change
        (all but ``seq``, ``command`` and ``actor``); ``data`` gains ``ticket``."""
        return {
            "time": self.time,
            "type": self.kind,
            "unit": self.unit,
            "cause": self.cause,
            "old": self.old,
            "new": self.new,
            "data": {"ticket": self.ticket, **self.data},
        }

    @classmethod
    def from_event(cls, event: _EventLike) -> TicketChange:
        """The change an event recorded with :meth:`event_fields` stands for.

        Raises:
            JournalError: the event is not a ticket event.
        """
        data = dict(event.data)
        ticket = data.pop("ticket", None)
        if event.type not in KINDS or not isinstance(ticket, str):
            raise JournalError(f"event of type {event.type!r} is not a ticket change")
        return cls(
            event.type, ticket, event.unit, event.time, event.old, event.new, data, event.cause
        )


class _EventLike(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def unit(self) -> str: ...
    @property
    def time(self) -> datetime: ...
    @property
    def old(self) -> str | None: ...
    @property
    def new(self) -> str | None: ...
    @property
    def data(self) -> Mapping[str, Any]: ...
    @property
    def cause(self) -> str: ...


@attrs.frozen
class Ticket:
    """One ticket as it stands: an immutable view, taken from the desk when asked for.

    The desk keeps each ticket as a mutable record and hands out a view of it
    (made once per change, on demand): holding a view never sees later changes.
    """

    #: The ticket's number.
    id: str
    #: Request category (a key of ``TicketRule.categories``).
    category: str
    #: The grid the request came from; results come back to it.
    origin: str
    #: The compound it came from, when known.
    compound: str | None
    #: State in the workflow (one of :data:`STATES`).
    state: str
    #: The unit holding it now.
    unit: str
    #: The unit that fed the result back (None before feedback).
    handler: str | None
    #: ``normal`` or ``emergency``: the limits its current deadline was set by.
    mode: str
    #: When it was accepted.
    opened: datetime
    #: When it last changed.
    updated: datetime
    #: When the current state's time limit passes (None: no limit running).
    due: datetime | None
    #: The current state's time limit has passed at least once.
    breached: bool
    #: Low scores given so far.
    low_scores: int
    #: Levels climbed on breaches and low scores.
    escalations: int
    #: Times reopened after a low score.
    reopens: int
    #: The latest score (None before scoring).
    score: int | None
    #: The matter, redacted for publication.
    summary: str
    #: The result fed back, redacted.
    result: str
    #: The resident's personal data.
    private: Private = attrs.field(repr=False)
    #: Every change, in order: the archive's full history.
    history: tuple[TicketChange, ...] = attrs.field(repr=False)

    @property
    def closed(self) -> bool:
        """Published, archived or withdrawn."""
        return self.state in CLOSED_STATES

    def public(self) -> dict[str, Any]:
        """What may be published: no name, phone, exact address or own words of the resident."""
        return {
            "ticket": self.id,
            "category": self.category,
            "state": self.state,
            "unit": self.unit,
            "opened": self.opened.isoformat(),
            "updated": self.updated.isoformat(),
            "summary": redact(self.summary, self.private),
            "result": redact(self.result, self.private),
            "score": self.score,
            "escalations": self.escalations,
            "reopens": self.reopens,
        }

    def record(self, private: bool = False) -> dict[str, Any]:
        """The archive record: the public part and the full history (JSON-friendly).

        Args:
            private: include the resident's personal data (for the archive
                itself; never for publication).
        """
        out = self.public()
        out["origin"] = self.origin
        out["history"] = [
            {
                "kind": c.kind,
                "time": c.time.isoformat(),
                "unit": c.unit,
                "old": c.old,
                "new": c.new,
                # Causes carry reasons already redacted (and unit ids, kept).
                "cause": c.cause,
                "data": _public_data(c.data, self.private),
            }
            for c in self.history
        ]
        if private:
            out["private"] = attrs.asdict(self.private)
        return out


#: Free-text fields of ticket events: redacted wherever they are published.
FREE_TEXT = frozenset({"reason", "note", "result", "summary", "description", "comment"})


def _public_data(data: Mapping[str, Any], private: Private) -> dict[str, Any]:
    return {
        k: redact(v, private) if k in FREE_TEXT and isinstance(v, str) else v
        for k, v in data.items()
        if k != "private"
    }


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _parse(when: object) -> datetime | None:
    return datetime.fromisoformat(when) if isinstance(when, str) else None


def _hours(delta: timedelta) -> str:
    return f"{delta / timedelta(hours=1):g} h"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def _us(when: datetime) -> int:
    """A time in microseconds since 1970 (exact: datetimes are whole microseconds)."""
    return (when - _EPOCH) // _MICRO


def _us_or_none(when: datetime | None) -> int | None:
    return None if when is None else (when - _EPOCH) // _MICRO


def _dt(micros: int, tz: tzinfo) -> datetime:
    """The datetime of ``micros`` since 1970, shown in ``tz``."""
    when = _EPOCH + _MICRO * micros
    return when if tz is UTC else when.astimezone(tz)


def _dt_or_none(micros: int | None, tz: tzinfo) -> datetime | None:
    return None if micros is None else _dt(micros, tz)


def _iso_us(micros: int | None, tz: tzinfo) -> str | None:
    """The time as ISO text; None for none (in a stream's flat records, also a far time)."""
    return None if micros is None or micros >= FAR else _dt(micros, tz).isoformat()


_LIVE_FIELDS = (
    "id",
    "category",
    "origin",
    "compound",
    "state",
    "unit",
    "handler",
    "mode",
    "opened_us",
    "updated_us",
    "due_us",
    "tz",
    "breached",
    "low_scores",
    "escalations",
    "reopens",
    "score",
    "summary",
    "result",
    "private",
)

#: A change recorded by the fast path (:meth:`TicketDesk._play`) before anyone
#: reads it is kept flat in the ticket's history list: ``maker, kind, ticket,
#: unit, *rest`` (``WIDTHS[maker]`` entries, strings and numbers only, so the
#: cyclic garbage collector has nothing to follow); ``_MAKERS[maker](*rest)``
#: is the :class:`TicketChange`, made only when the history or the changes are read.
_Compact = tuple[Any, ...]


def _records(
    history: list[Any], start: int, stop: int
) -> Iterator[tuple[int, TicketChange | None]]:
    """``(offset, change)`` of each change in ``history[start:stop]``: the change
    itself, or None for a flat record starting at ``offset``."""
    k = start
    while k < stop:
        item = history[k]
        if item.__class__ is TicketChange:
            yield k, item
            k += 1
        else:
            yield k, None
            k += WIDTHS[item]


def _made(history: list[Any], offset: int) -> TicketChange:
    """The change of the flat record at ``history[offset]``."""
    code = history[offset]
    change: TicketChange = _MAKERS[code](*history[offset + 1 : offset + WIDTHS[code]])
    return change


class _Live:
    """A ticket as the desk keeps it: changed in place, its history a list.

    The fields are :class:`Ticket`'s, with times kept as microseconds since
    1970 (shown in ``tz``, the time zone of the latest change) and history
    entries kept compact until read; :meth:`view` gives the immutable
    :class:`Ticket` (made once per change, when asked for). Only the desk's
    apply functions change a record, so the views it hands out stay true.
    """

    __slots__ = (*_LIVE_FIELDS, "_hist", "_log", "_start", "_stop", "_view")

    id: str
    category: str
    origin: str
    compound: str | None
    state: str
    unit: str
    handler: str | None
    mode: str
    opened_us: int
    updated_us: int
    due_us: int | None
    tz: tzinfo
    breached: bool
    low_scores: int
    escalations: int
    reopens: int
    score: int | None
    summary: str
    result: str
    private: Private
    #: The history as a list of its own (None while it is a part of a stream's log).
    _hist: list[Any] | None
    #: A stream's log holding the whole history from ``_start`` to ``_stop`` (None:
    #: the history is ``_hist``). A stream writes a ticket's records into its
    #: shared log while they follow one another there, so that no list is kept
    #: per ticket (fewer objects for the cyclic collector to walk).
    _log: list[Any] | None
    _start: int
    _stop: int
    _view: Ticket | None

    @property
    def history(self) -> list[Any]:
        """The history: changes and compact records (a list of its own, made when read)."""
        log = self._log
        if log is not None:
            self._hist = log[self._start : self._stop]
            self._log = None
        return self._hist  # type: ignore[return-value]

    @history.setter
    def history(self, history: list[Any]) -> None:
        self._hist = history
        self._log = None

    @property
    def opened(self) -> datetime:
        return _dt(self.opened_us, self.tz)

    @property
    def updated(self) -> datetime:
        return _dt(self.updated_us, self.tz)

    @property
    def due(self) -> datetime | None:
        return _dt_or_none(self.due_us, self.tz)

    def changes(self) -> tuple[TicketChange, ...]:
        """The history as change records (flat records made, and kept in a new list)."""
        history = self.history
        made = tuple(
            change if change is not None else _made(history, k)
            for k, change in _records(history, 0, len(history))
        )
        if len(made) != len(history):
            # A new list: changes handed out earlier point into the old one.
            self.history = list(made)
        return made

    def view(self) -> Ticket:
        """The ticket as it stands, immutable."""
        view = self._view
        if view is None:
            view = self._view = Ticket(
                self.id,
                self.category,
                self.origin,
                self.compound,
                self.state,
                self.unit,
                self.handler,
                self.mode,
                self.opened,
                self.updated,
                self.due,
                self.breached,
                self.low_scores,
                self.escalations,
                self.reopens,
                self.score,
                self.summary,
                self.result,
                self.private,
                self.changes(),
            )
        return view

    def copy(self) -> _Live:
        """A record with the same fields and a copy of the history (for planning ahead)."""
        other = _Live.__new__(_Live)
        for name in _LIVE_FIELDS:
            setattr(other, name, getattr(self, name))
        other.history = list(self.history)
        other._view = None
        return other

    @classmethod
    def of(cls, ticket: Ticket) -> _Live:
        """The record of a view (a snapshot's ticket)."""
        live = cls.__new__(cls)
        for name in _LIVE_FIELDS:
            if not name.endswith("_us") and name != "tz":
                setattr(live, name, getattr(ticket, name))
        live.tz = ticket.updated.tzinfo or UTC
        live.opened_us = _us(ticket.opened)
        live.updated_us = _us(ticket.updated)
        live.due_us = _us_or_none(ticket.due)
        live.history = list(ticket.history)
        live._view = ticket
        return live


# ======================================================================== desk


def situation_from(
    city: City,
    rule: TicketRule,
    zone: Callable[[str], str],
    mode: Callable[[str], str],
) -> Situation:
    """A :data:`Situation` reading zones and modes, e.g. an engine's ``zone`` and ``mode``.

    A compound in one of ``rule.emergency_zones`` is in an emergency, and so
    is everything in a community whose mode is ``emergency``.

    Args:
        city: the city.
        rule: the ticket rules (for the emergency zones).
        zone: a compound's zone.
        mode: a community's mode.
    """
    emergency = frozenset(rule.emergency_zones)

    def situation(origin: str) -> str:
        if origin in city.compounds and zone(origin) in emergency:
            return "emergency"
        return "emergency" if mode(city.community_of(origin)) == "emergency" else "normal"

    return situation


def _always_normal(origin: str) -> str:
    return "normal"


class _StepPlanner:
    """The pure decisions behind :class:`TicketDesk`'s plans: routing, steps, breaches.

    Reads the desk's state, never changes it.
    """

    _city: City
    _rule: TicketRule
    _situation: Situation
    _tickets: dict[str, _Live]
    _limits: dict[tuple[str, str, str], timedelta | None]
    _last_us: int | None
    _last_tz: tzinfo
    _fired_rules: dict[tuple[str, str, str], tuple[str, str]]

    @property
    def _last(self) -> datetime | None:
        """The time of the latest change applied (None before any)."""
        last = self._last_us
        return None if last is None else _dt(last, self._last_tz)

    @property
    def city(self) -> City:
        """The city whose chain routes and escalates the tickets."""
        return self._city

    @property
    def rule(self) -> TicketRule:
        """The ticket rules."""
        return self._rule

    # ------------------------------------------------------------- helpers

    def _origin(self, where: str) -> tuple[str, str | None]:
        city = self.city
        building = city.buildings.get(where)
        if building is not None:
            return building.grid, building.compound
        if where in city.compounds:
            grids = city.grids_of_compound(where)
            if not grids:
                raise CommandError(
                    f"compound {where} is covered by no grid; name a grid instead",
                    reason="compound in no grid",
                )
            return grids[0], where
        if where in city.chain and city.chain.level(where) is Level.GRID:
            return where, None
        raise UnknownUnitError(where, "grid, compound or building named;")

    def _category(self, category: str) -> None:
        if category not in self.rule.categories:
            known = ", ".join(sorted(self.rule.categories))
            message = f"unknown request category {category!r} (expected one of: {known})"
            raise NotFoundError(category, "request category;", message=message)

    def _mode(self, origin: str) -> str:
        mode = self._situation(origin)
        if mode not in TICKET_MODES:
            raise unknown_situation(origin, mode)
        return mode

    def _limit(self, category: str, mode: str, state: str) -> timedelta | None:
        """The rules' limit, looked up once per (category, mode, state)."""
        key = (category, mode, state)
        try:
            return self._limits[key]
        except KeyError:
            limit = self._limits[key] = self.rule.limit(category, mode, state)
            return limit

    def _due(self, category: str, mode: str, state: str, start: datetime) -> datetime | None:
        limit = self._limit(category, mode, state)
        return None if limit is None else start + limit

    def _next_id(self) -> str:
        number = len(self._tickets) + 1
        while f"T{number:06d}" in self._tickets:
            number += 1
        return f"T{number:06d}"

    def _step(
        self,
        current: _Live,
        new: str,
        at: datetime,
        trigger: str,
        extra: dict[str, Any],
        unit: str | None = None,
        category: str | None = None,
        kind: str = "ticket.step",
        cause: str = "",
    ) -> TicketChange:
        """The state change of a step: a new stay with its own limit.

        Records whether the stay it ends was on time (for the scorecards).
        """
        category = category or current.category
        mode = self._mode(current.compound or current.origin)
        due = self._due(category, mode, new, at)
        data: dict[str, Any] = {"trigger": trigger}
        if current.state in TICKET_STEPS and trigger not in ("reject", "withdraw", "reopen"):
            data["step"] = current.state
            due_us = current.due_us
            data["on_time"] = not current.breached and (due_us is None or _us(at) <= due_us)
        data.update(extra)
        data["mode"] = mode
        data["due"] = _iso(due)
        where = unit or current.unit
        return TicketChange(
            kind, current.id, where, at, current.state, new, data, cause or f"{trigger} at {where}"
        )

    def _path_up(self, current: _Live, start: str, to: str) -> list[str]:
        """Units from ``start`` (exclusive) up to ``to`` (inclusive) on the origin's chain."""
        up = self.city.chain.chain_of_command(current.origin)
        return list(up[up.index(start) + 1 : up.index(to) + 1])

    def _moves(
        self,
        current: _Live,
        kind: str,
        path: Sequence[str],
        start: str,
        at: datetime,
        cause: Callable[[str], str],
    ) -> list[TicketChange]:
        """One move per level along ``path``; ``cause`` says why, given the unit it leaves."""
        out: list[TicketChange] = []
        previous = start
        for unit in path:
            out.append(
                TicketChange(kind, current.id, unit, at, previous, unit, {}, cause(previous))
            )
            previous = unit
        return out

    # ---------------------------------------------------------- per trigger

    def _plan_classify(
        self,
        current: _Live,
        new: str,
        at: datetime,
        extra: dict[str, Any],
        category: str | None = None,
        note: str | None = None,
    ) -> tuple[TicketChange, ...]:
        chosen = category if category is not None else current.category
        self._category(chosen)
        rule = self.rule.categories[chosen]
        target = self.city.chain.ancestor(current.origin, rule.level)
        info = {"category": chosen, "level": rule.level, "responsible": rule.responsible}
        step = self._step(
            current,
            new,
            at,
            "classify",
            {**info, **extra},
            unit=current.unit,
            category=chosen,
            cause=f"classified as {chosen}: the {rule.level} holds the authority "
            f"({rule.responsible})",
        )
        path = self._path_up(current, current.unit, target) if target != current.unit else []
        hops = self._moves(
            current,
            "ticket.transferred",
            path,
            current.unit,
            at,
            lambda unit: f"{unit} lacks the authority for {chosen} (lowest level: {rule.level})",
        )
        return (step, *hops)

    def _plan_transfer(
        self,
        current: _Live,
        new: str,
        at: datetime,
        extra: dict[str, Any],
        to: str | None = None,
        reason: str = "",
        note: str | None = None,
    ) -> tuple[TicketChange, ...]:
        chain = self.city.chain
        up = chain.chain_of_command(current.origin)
        if to is None:
            parent = chain.parent(current.unit)
            if parent is None:
                raise CommandError(
                    f"ticket {current.id} is at the city; there is no level above",
                    reason="no level above",
                )
            to = parent
        chain.level(to)
        here = up.index(current.unit)
        if to not in up or up.index(to) <= here:
            raise CommandError(
                f"ticket {current.id} is at {current.unit}; it can be transferred only up its "
                f"chain of command (one of: {', '.join(up[here + 1 :]) or 'none'}), not to {to}",
                reason="transfer not up the chain",
            )
        # Reasons are published with the event: recorded redacted.
        shown = redact(str(reason), current.private)
        data = {"trigger": "transfer", "to": to, "reason": shown, **extra}
        step = TicketChange(
            "ticket.step",
            current.id,
            current.unit,
            at,
            current.state,
            new,
            data,
            f"transfer from {current.unit} to {to}" + (f": {shown}" if reason else ""),
        )
        hops = self._moves(
            current,
            "ticket.transferred",
            self._path_up(current, current.unit, to),
            current.unit,
            at,
            lambda unit: f"transferred up by {unit}" + (f": {shown}" if reason else ""),
        )
        return (step, *hops)

    def _plan_reject(
        self,
        current: _Live,
        new: str,
        at: datetime,
        extra: dict[str, Any],
        reason: str = "",
        note: str | None = None,
    ) -> tuple[TicketChange, ...]:
        if not str(reason).strip():
            raise CommandError(
                f"ticket {current.id}: a rejection needs a reason (reason=...)",
                reason="no reason given",
            )
        return (
            self._step(
                current,
                new,
                at,
                "reject",
                {"reason": redact(str(reason), current.private), "by": current.unit, **extra},
                unit=current.origin,
                kind="ticket.rejected",
                cause=(
                    f"rejected by {current.unit}: {redact(str(reason), current.private)}; "
                    "back to classification"
                ),
            ),
        )

    def _plan_withdraw(
        self,
        current: _Live,
        new: str,
        at: datetime,
        extra: dict[str, Any],
        reason: str = "",
        note: str | None = None,
    ) -> tuple[TicketChange, ...]:
        # The cause is published with the event: the reason goes in redacted.
        shown = redact(str(reason), current.private)
        cause = "withdrawn by the resident" + (f": {shown}" if reason else "")
        data = {"reason": shown, **extra}
        return (
            self._step(current, new, at, "withdraw", data, kind="ticket.withdrawn", cause=cause),
        )

    def _plan_publish(
        self,
        current: _Live,
        new: str,
        at: datetime,
        extra: dict[str, Any],
        note: str | None = None,
    ) -> tuple[TicketChange, ...]:
        summary = f"{current.summary} -> {current.result}" if current.result else current.summary
        return (self._step(current, new, at, "publish", {"summary": summary, **extra}),)

    def _plan_feed_back(
        self,
        current: _Live,
        new: str,
        at: datetime,
        extra: dict[str, Any],
        result: str = "",
        note: str | None = None,
    ) -> tuple[TicketChange, ...]:
        handler = current.unit
        data = {"handler": handler, "result": redact(str(result), current.private), **extra}
        step = self._step(
            current, new, at, "feed_back", data, cause=f"result fed back by {handler}"
        )
        # The result then goes down level by level to the grid the request came from.
        up = self.city.chain.chain_of_command(current.origin)
        down = list(reversed(up[: up.index(handler)]))
        hops = self._moves(
            current,
            "ticket.returned",
            down,
            handler,
            at,
            lambda unit: f"result passed down by {unit}",
        )
        return (step, *hops)

    def _plan_score(
        self,
        current: _Live,
        new: str,
        at: datetime,
        extra: dict[str, Any],
        score: object = None,
        note: str | None = None,
    ) -> tuple[TicketChange, ...]:
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise CommandError(
                f"ticket {current.id}: a score is a whole number from 1 to 5, got {score!r}",
                reason="score outside 1..5",
            )
        rule = self.rule
        low = score < rule.low_score
        low_scores = current.low_scores + (1 if low else 0)
        handler = current.handler or current.unit
        parent = self.city.chain.parent(handler)
        if not low:
            effect = "accepted"
        elif low_scores <= rule.reopens:
            effect = "reopened"
        elif parent is not None:
            effect = "escalated"
        else:
            effect = "final"
        data = {"score": score, "low": low, "low_scores": low_scores, "effect": effect, **extra}
        cause = f"scored {score}" + (f" (below {rule.low_score}): {effect}" if low else "")
        scored = self._step(current, new, at, "score", data, kind="ticket.scored", cause=cause)
        if effect in ("accepted", "final"):
            return (scored,)
        after = current.copy()
        _mutate(after, scored)
        reopened = self._step(
            after,
            "tracking",
            at,
            "reopen",
            {"score": score},
            unit=handler,
            kind="ticket.reopened",
            cause=f"reopened at {handler} after a low score",
        )
        if effect == "reopened":
            return (scored, reopened)
        assert parent is not None
        why = (
            f"low score {score} after {rule.reopens} reopen(s) "
            f"(tickets.low_score = {rule.low_score}, tickets.reopens = {rule.reopens})"
        )
        escalated = TicketChange(
            "ticket.escalated",
            current.id,
            parent,
            at,
            handler,
            parent,
            {"reason": "low score", "rule": "tickets.reopens", "breach": False},
            f"{why}: {handler} -> {parent}",
        )
        return (scored, reopened, escalated)

    def _fired(self, category: str, mode: str, state: str) -> tuple[str, str]:
        """The key of the limit that fired and the rule in words (looked up once)."""
        key = (category, mode, state)
        try:
            return self._fired_rules[key]
        except KeyError:
            limit = self._limit(category, mode, state)
            assert limit is not None
            name = self.rule.limit_key(category, mode, state)
            found = self._fired_rules[key] = (name, f"{name} = {_hours(limit)}")
            return found

    def _breach(
        self, current: _Live, unit: str, mode: str, due: datetime
    ) -> tuple[TicketChange, datetime | None]:
        """The change a breach at ``due`` makes to a ticket held by ``unit``, and its next due.

        ``mode`` is the one the breached limit was set by.
        """
        state = current.state
        key, fired = self._fired(current.category, mode, state)
        when = due if self._last is None else max(due, self._last)
        parent = self.city.chain.parent(unit)
        if parent is None:
            data: dict[str, Any] = {
                "rule": key,
                "state": state,
                "breach": True,
                "breached_at": due.isoformat(),
                "due": None,
            }
            cause = f"{state} over its limit at the city ({fired}); there is no higher level"
            return TicketChange(
                "ticket.overdue", current.id, unit, when, None, None, data, cause
            ), None
        now_mode = self._mode(current.compound or current.origin)
        next_due = self._due(current.category, now_mode, state, due)
        data = {
            "reason": "time limit",
            "rule": key,
            "state": state,
            "breach": True,
            "breached_at": due.isoformat(),
            "mode": now_mode,
            "due": _iso(next_due),
        }
        cause = f"{state} over its limit at {unit} ({fired}): one level up to {parent}"
        return TicketChange(
            "ticket.escalated", current.id, parent, when, unit, parent, data, cause
        ), next_due


class TicketDesk(_StepPlanner):
    """Every ticket of a city: plans changes to them, applies them, keeps their deadlines.

    Args:
        city: the city whose chain routes and escalates tickets.
        rule: the ticket rules (default: those of practice).
        situation: tells a ticket's mode from its compound (or grid); see
            :func:`situation_from`. Default: always ``normal``. It is asked
            whenever a deadline is set (a stream of steps asks it once per
            ticket per run of its steps); the answer is recorded in the
            change, so replaying never asks it.
    """

    def __init__(
        self, city: City, rule: TicketRule | None = None, situation: Situation | None = None
    ) -> None:
        self._city = city
        self._rule = rule if rule is not None else TicketRule()
        self._situation: Situation = situation if situation is not None else _always_normal
        self._board = ticket_board()
        self._table = self._board.table()
        # Each ticket as a mutable record; views are made when asked for.
        self._tickets: dict[str, _Live] = {}
        # (due, ticket) of every running limit, and stale ones below the top:
        # the top entry is always live (see _apply), so the next due is read in O(1).
        # Due times are microseconds since 1970.
        self._heap: list[tuple[int, str]] = []
        self._timed = 0  # tickets with a running limit
        self._last_us: int | None = None
        self._last_tz: tzinfo = UTC
        self._limits = {}
        self._fired_rules = {}
        self._limits_us: dict[tuple[str, str, str], int | None] = {}
        self._tables: Tables | None = None  # what streams look up, made on the first one
        # The flat records streams write, one list for all of them (see _Live._log):
        # made with the desk, so that by a big stream the collector counts it as
        # old and its young collections do not walk every record.
        self._log: list[Any] = []

    # ------------------------------------------------------------------ reads

    @property
    def situation(self) -> Situation:
        """Tells a ticket's mode from its compound (or grid)."""
        return self._situation

    @property
    def board(self) -> TicketBoard:
        """The workflow machine (its table, allowed triggers and diagram)."""
        return self._board

    def __contains__(self, ticket: object) -> bool:
        return ticket in self._tickets

    def __len__(self) -> int:
        return len(self._tickets)

    def __iter__(self) -> Iterator[Ticket]:
        return (live.view() for live in list(self._tickets.values()))

    def ticket(self, ticket: str) -> Ticket:
        """The ticket ``ticket``.

        Raises:
            NotFoundError: no such ticket on this desk.
        """
        try:
            return self._tickets[ticket].view()
        except KeyError:
            raise NotFoundError(ticket, "ticket", " in this city") from None

    def allowed(self, ticket: str) -> tuple[str, ...]:
        """The triggers the ticket's state allows, sorted (``reopen`` follows a low score)."""
        return tuple(t for t in self.board.allowed(self.ticket(ticket).state) if t != "reopen")

    def next_due(self) -> datetime | None:
        """When the next time limit passes (None when no limit is running)."""
        heap = self._heap
        if not heap:
            return None
        due, ticket = heap[0]
        return _dt(due, self._tickets[ticket].tz)

    def snapshot(self) -> dict[str, Any]:
        """The whole desk, comparable with ``==`` (for replay checks)."""
        tickets = {ticket: live.view() for ticket, live in self._tickets.items()}
        return {"tickets": tickets, "next_due": self.next_due(), "last": self._last}

    # --------------------------------------------------------------- planning

    @checked(times=("at",))
    def plan_open(
        self,
        where: Name,
        category: Name,
        at: datetime,
        *,
        description: Words = "",
        resident: Private | None = None,
        ticket: Name | None = None,
    ) -> tuple[TicketChange, ...]:
        """Plan accepting a request (step 1: register the matter).

        Args:
            where: the grid, compound or building it comes from (a compound
                goes to the first grid covering it).
            category: its category (a key of the rules' categories).
            at: when it was registered (timezone-aware).
            description: the matter in the resident's words (kept private;
                published only redacted).
            resident: the resident's personal data.
            ticket: the ticket's number (default: the next ``T000001``...).

        Returns:
            One ``ticket.opened`` change.

        Raises:
            UnknownUnitError: ``where`` names no grid, compound or building.
            NotFoundError: an unknown category.
            CommandError: a ticket number already taken, or a grid-less compound.
            ClockError: ``at`` has no time zone.
        """
        _aware(at)
        grid, compound = self._origin(where)
        self._category(category)
        if ticket is None:
            ticket = self._next_id()
        elif ticket in self._tickets:
            raise CommandError(
                f"ticket {ticket} already exists (ticket numbers are unique)",
                reason="ticket exists",
            )
        private = attrs.evolve(resident or Private(), description=description)
        mode = self._mode(compound or grid)
        due = self._due(category, mode, "accepted", at)
        data = {
            "origin": grid,
            "compound": compound,
            "category": category,
            "mode": mode,
            "due": _iso(due),
            "summary": redact(description, private),
            "private": attrs.asdict(private),
        }
        cause = f"{category} request registered at {grid}"
        return (TicketChange("ticket.opened", ticket, grid, at, None, "accepted", data, cause),)

    @checked(times=("at",))
    def plan_trigger(
        self, ticket: Name, trigger: Name, at: datetime, **data: TicketData
    ) -> tuple[TicketChange, ...]:
        """Plan one step of a ticket, with every change that follows from it.

        Args:
            ticket: the ticket.
            trigger: ``classify`` (``category=`` to change it), ``transfer``
                (``to=`` a unit above, default one level up; ``reason=``),
                ``reject`` (``reason=``, required), ``track``, ``supervise``,
                ``feed_back`` (``result=``), ``score`` (``score=`` 1-5,
                required), ``publish``, ``archive``, ``withdraw``
                (``reason=``); each also takes ``note=``.
            at: when (timezone-aware, not before the ticket's last change).
            data: the trigger's data, as listed.

        Returns:
            The changes, in order: the state change first, then the moves
            along the chain it causes (one per level).

        Raises:
            TransitionError: the trigger is not allowed in the ticket's state.
            NotFoundError: no such ticket.
            UnknownUnitError: ``to`` names no unit.
            CommandError: missing or unexpected data, a score outside 1-5,
                ``at`` before the ticket's last change, ``reopen`` asked for
                directly, or a transfer that does not go up the chain.
            ClockError: ``at`` has no time zone.
        """
        current = self._tickets.get(ticket)
        if current is None:
            raise UnknownUnitError(ticket, "ticket")
        _aware(at)
        if _us(at) < current.updated_us:
            raise CommandError(
                f"ticket {ticket} last changed at {current.updated.isoformat()}; "
                f"{trigger!r} at {at.isoformat()} would go back in time",
                reason="before the ticket's last change",
            )
        if trigger == "reopen":
            raise CommandError(
                f"ticket {ticket}: 'reopen' follows a low score (below tickets.low_score = "
                f"{self.rule.low_score}); score the ticket instead",
                reason="reopen follows a low score",
            )
        new = self._table.get((current.state, trigger))
        if new is None:
            legal = [t for t in self.board.allowed(current.state) if t != "reopen"]
            raise TransitionError(f"ticket {ticket}", current.state, trigger, legal)
        extra: dict[str, Any] = {}
        if data:
            allowed = _TRIGGER_DATA[trigger]
            unexpected = sorted(set(data) - allowed)
            if unexpected:
                raise CommandError(
                    f"ticket {ticket}: {trigger!r} takes no {', '.join(unexpected)} "
                    f"(allowed: {', '.join(sorted(allowed))})",
                    reason="unexpected data",
                )
            note = data.get("note")
            if note is not None:
                extra["note"] = redact(str(note), current.private)
        if trigger in _PLAIN_TRIGGERS:
            # A step with nothing but its note: no routing, no moves.
            return (self._step(current, new, at, trigger, extra),)
        planner = getattr(self, f"_plan_{trigger}")
        changes: tuple[TicketChange, ...] = planner(current, new, at, extra, **data)
        return changes

    @checked(times=("now",))
    def plan_due(self, now: datetime) -> tuple[TicketChange, ...]:
        """Plan every breach of a time limit up to ``now``, in time order.

        Each breach escalates the ticket one level up from the unit holding it
        (``ticket.escalated``, with the rule that fired), where the same
        state's limit starts again from the breach; at the city a breach is
        recorded as ``ticket.overdue`` and no new limit starts. A ticket that
        breaches again before ``now`` climbs again, so the result does not
        depend on how often this is called.

        Raises:
            ClockError: ``now`` has no time zone.
        """
        _aware(now)
        heap = self._heap
        now_us = _us(now)
        if not heap or heap[0][0] > now_us:
            # The top of the schedule is always a live deadline: nothing is due.
            return ()
        changes: list[TicketChange] = []
        overlay: dict[str, tuple[str, int | None, str]] = {}  # ticket -> (unit, due, mode)
        local: list[tuple[int, str]] = []
        walk = _in_order(self._heap)
        upcoming = next(walk, None)
        while True:
            if local and (upcoming is None or local[0] < upcoming):
                due, ticket = heapq.heappop(local)
            elif upcoming is not None:
                due, ticket = upcoming
                upcoming = next(walk, None)
            else:
                break
            if due > now_us:
                break
            current = self._tickets[ticket]
            unit, live_due, mode = overlay.get(ticket, (current.unit, current.due_us, current.mode))
            if live_due != due:
                continue  # superseded by a later change
            change, next_due = self._breach(current, unit, mode, _dt(due, current.tz))
            changes.append(change)
            next_us = _us_or_none(next_due)
            overlay[ticket] = (change.unit, next_us, str(change.data.get("mode", mode)))
            if next_us is not None:
                heapq.heappush(local, (next_us, ticket))
        return tuple(changes)

    # ------------------------------------------------------------- applying

    def _apply(self, changes: Iterable[TicketChange]) -> None:
        """Apply planned or recorded changes, in order, all or nothing (the engine's job).

        Every change is checked against the tickets as the changes before it
        leave them before any is applied, so a change that does not fit
        leaves the desk as it was.

        Raises:
            JournalError: a change does not fit the desk (an unknown ticket, a
                state or unit other than the one it starts from); nothing is
                applied.
        """
        if not isinstance(changes, (tuple, list)):
            changes = tuple(changes)
        if not changes:
            return
        tickets = self._tickets
        if len(changes) == 1:
            change = changes[0]
            live = tickets.get(change.ticket)
            if live is None:
                _check(False, None, None, change)
            else:
                _check(True, live.state, live.unit, change)
        else:
            # Check the whole batch first, on each ticket's (state, unit) as it goes.
            overlay: dict[str, tuple[str | None, str]] = {}
            for change in changes:
                ticket = change.ticket
                seen = overlay.get(ticket)
                if seen is None:
                    live = tickets.get(ticket)
                    if live is not None:
                        seen = (live.state, live.unit)
                if seen is None:
                    state = _check(False, None, None, change)
                else:
                    state = _check(True, seen[0], seen[1], change)
                overlay[ticket] = (state, change.unit)
        heap = self._heap
        last = self._last_us
        last_tz = self._last_tz
        timed = self._timed
        for change in changes:
            if change.kind == "ticket.opened":
                live = tickets[change.ticket] = _opened(change)
                before = None
            else:
                live = tickets[change.ticket]
                before = live.due_us
                _mutate(live, change)
            due = live.due_us
            if due != before:
                timed += (due is not None) - (before is not None)
                if due is not None:
                    heapq.heappush(heap, (due, change.ticket))
            time = live.updated_us
            if last is None or time > last:
                last = time
                last_tz = live.tz
        self._last_us = last
        self._last_tz = last_tz
        self._timed = timed
        self._tidy()

    def _tidy(self) -> None:
        """Keep the top of the schedule live, and rebuild it when stale entries abound."""
        # Entries of changed deadlines stay in the heap until they reach its
        # top; when they outnumber the live ones the heap is rebuilt.
        heap = self._heap
        tickets = self._tickets
        while heap and tickets[heap[0][1]].due_us != heap[0][0]:
            heapq.heappop(heap)
        if len(heap) > 2 * self._timed + 1024:
            self._heap = [(t.due_us, t.id) for t in tickets.values() if t.due_us is not None]
            heapq.heapify(self._heap)

    # ------------------------------------------------------------ fast path

    def _play(
        self,
        at: Times,
        tickets: Sequence[str],
        triggers: Sequence[str],
        data: Sequence[Mapping[str, Any] | None] | None = None,
        tz: tzinfo = UTC,
        pause_gc: bool = False,
    ) -> Changes:
        """Apply a stream of openings and steps, each on its own ticket at its own time.

        Step ``i`` is ticket ``tickets[i]`` taking ``triggers[i]`` (or
        ``open``, with ``where`` and ``category`` in ``data[i]``) at ``at[i]``,
        after every breach of the ticket's limits up to that time; after the
        last step, every ticket's breaches up to the latest time of the
        stream. Tickets do not affect one another, so the steps may come in
        any order that keeps each ticket's own steps in time order (in time
        order, or ticket by ticket): the desk ends exactly as if, for each step
        in time order, :meth:`plan_due` up to its time and then
        :meth:`plan_open` or :meth:`plan_trigger` had been applied. The
        common steps are decided and applied in place, with times kept as
        microseconds, each change kept compact until it is read, and the
        cyclic garbage collector paused; anything else (other data, low
        scores, other triggers) goes through the planners.

        Args:
            at: each step's time: microseconds since 1970 (as
                :meth:`TicketArrays.micros` gives) or a timezone-aware datetime;
                or an integer array of microseconds (numpy's), taken as its items.
            tickets: each step's ticket (for an opening: the new number).
            triggers: each step's trigger, or ``open``.
            data: each step's data (None: none).
            tz: the time zone the recorded times are shown in.
            pause_gc: pause Python's cyclic garbage collector while the
                stream runs (process-wide, so off unless asked; it pays on
                long streams, see ``benchmarks/bench_peer.py``).

        Returns:
            Every change: each ticket's in order, in the order of the steps
            that made them; the breaches after the last steps at the end.

        Raises:
            CommandError: the sequences differ in length; or as the planners
                raise, for the first step that fails (the steps before it
                stay applied, each whole).
            ClockError: a time is a datetime without a time zone (every time
                is checked before the first step: nothing changes).
        """
        changes: Changes = _play_stream(self, at, tickets, triggers, data, tz, _KIT, pause_gc)
        return changes

    def prepare(self) -> None:
        """Build now the lookup tables a stream of steps (``StandaloneDesk.play``) uses:
        for every grid and category the route classification takes, for every
        unit above a grid the way feedback comes back down, the limits of every
        category and mode. Otherwise each is built the first time a ticket needs
        it; a desk that will take many tickets from all over the city can pay
        for them once, up front (under a second for Jiamusi's 8,886 grids).
        """
        tables = self._stream_tables()
        chain = self.city.chain
        for unit in chain:
            for category in self.rule.categories:
                if (unit, category) not in tables.routes:
                    tables.route_up(unit, category)
        for grid in tables.grids:
            for unit in chain.chain_of_command(grid):
                if (grid, unit) not in tables.routes_down:
                    tables.route_down(grid, unit)
        for category in self.rule.categories:
            for mode in TICKET_MODES:
                tables.rows(category, mode)
                tables.breaches(category, mode)

    def _stream_tables(self) -> Tables:
        """The tables streams look up, made on the first stream."""
        if self._tables is None:
            self._tables = Tables(self)
        return self._tables

    def _limit_us(self, category: str, mode: str, state: str) -> int | None:
        """The rules' limit in microseconds (None: no limit), looked up once."""
        key = (category, mode, state)
        try:
            return self._limits_us[key]
        except KeyError:
            limit = self._limit(category, mode, state)
            found = self._limits_us[key] = None if limit is None else limit // _MICRO
            return found

    def _apply_event(self, event: EventLike) -> None:
        """Apply one recorded ticket event (the reducer of ticket events).

        Raises:
            JournalError: the event does not fit the desk.
        """
        self._apply((TicketChange.from_event(event),))

    # -------------------------------------------------------------- snapshots

    def _dump(self) -> dict[str, Any]:
        """The desk as JSON-ready data."""
        return {
            "last": _iso(self._last),
            "tickets": [_dump_ticket(t.view()) for t in self._tickets.values()],
        }

    def _load(self, data: Mapping[str, Any]) -> None:
        """Take the state :meth:`_dump` wrote (on a new, empty desk).

        Raises:
            KeyError, TypeError, ValueError: the data is malformed.
        """
        for record in data["tickets"]:
            ticket = _load_ticket(record)
            self._tickets[ticket.id] = _Live.of(ticket)
        last = _parse(data["last"])
        self._last_us = _us_or_none(last)
        self._last_tz = UTC if last is None or last.tzinfo is None else last.tzinfo
        self._heap = [(t.due_us, t.id) for t in self._tickets.values() if t.due_us is not None]
        heapq.heapify(self._heap)
        self._timed = len(self._heap)

    def bulk(self, capacity: int = 1024) -> TicketArrays:
        """An empty :class:`TicketArrays` on this desk's city and rules (needs numpy)."""
        return TicketArrays(self.city, self.rule, capacity)


#: The resident of a request opened without personal data.
_NOBODY = Private()


def _make_opened(
    kind: str, ticket: str, unit: str, t: int, tz: tzinfo, category: str, mode: str, due: int | None
) -> TicketChange:
    data = {
        "origin": unit,
        "compound": None,
        "category": category,
        "mode": mode,
        "due": _iso_us(due, tz),
        "summary": "",
        "private": attrs.asdict(_NOBODY),
    }
    cause = f"{category} request registered at {unit}"
    return TicketChange(kind, ticket, unit, _dt(t, tz), None, "accepted", data, cause)


def _make_step(
    kind: str,
    ticket: str,
    unit: str,
    t: int,
    tz: tzinfo,
    old: str,
    new: str,
    trigger: str,
    on_time: bool | None,
    extra: tuple[tuple[str, Any], ...] | None,
    mode: str,
    due: int | None,
    cause: str | None,
) -> TicketChange:
    data: dict[str, Any] = {"trigger": trigger}
    if on_time is not None:
        data["step"] = old
        data["on_time"] = on_time
    if extra:
        data.update(extra)
    data["mode"] = mode
    data["due"] = _iso_us(due, tz)
    why = cause if cause is not None else f"{trigger} at {unit}"
    return TicketChange(kind, ticket, unit, _dt(t, tz), old, new, data, why)


def _make_plain(
    kind: str,
    ticket: str,
    unit: str,
    t: int,
    tz: tzinfo,
    on_time: bool | None,
    due: int,
    shared: tuple[str, str, str, str],
) -> TicketChange:
    old, new, trigger, mode = shared
    return _make_step(kind, ticket, unit, t, tz, old, new, trigger, on_time, None, mode, due, None)


def _make_scored(
    kind: str,
    ticket: str,
    unit: str,
    t: int,
    tz: tzinfo,
    old: str,
    new: str,
    on_time: bool | None,
    score: int,
    low_scores: int,
    mode: str,
    due: int | None,
) -> TicketChange:
    extra = (("score", score), ("low", False), ("low_scores", low_scores), ("effect", "accepted"))
    return _make_step(
        kind, ticket, unit, t, tz, old, new, "score", on_time, extra, mode, due, f"scored {score}"
    )


def _make_fed_back(
    kind: str,
    ticket: str,
    unit: str,
    t: int,
    tz: tzinfo,
    old: str,
    new: str,
    on_time: bool | None,
    mode: str,
    due: int | None,
) -> TicketChange:
    extra = (("handler", unit), ("result", ""))
    cause = f"result fed back by {unit}"
    return _make_step(
        kind, ticket, unit, t, tz, old, new, "feed_back", on_time, extra, mode, due, cause
    )


def _make_published(
    kind: str,
    ticket: str,
    unit: str,
    t: int,
    tz: tzinfo,
    old: str,
    new: str,
    on_time: bool | None,
    summary: str,
    result: str,
    mode: str,
    due: int | None,
) -> TicketChange:
    # The published summary: the request's, with the result fed back when there is one.
    extra = (("summary", f"{summary} -> {result}" if result else summary),)
    return _make_step(
        kind, ticket, unit, t, tz, old, new, "publish", on_time, extra, mode, due, None
    )


def _make_move(
    kind: str, ticket: str, unit: str, old: str, cause: str, t: int, tz: tzinfo
) -> TicketChange:
    return TicketChange(kind, ticket, unit, _dt(t, tz), old, unit, {}, cause)


def _make_escalated(
    kind: str,
    ticket: str,
    unit: str,
    t: int,
    tz: tzinfo,
    old: str,
    state: str,
    key: str,
    fired: str,
    due: int,
    mode: str,
    next_due: int | None,
) -> TicketChange:
    data = {
        "reason": "time limit",
        "rule": key,
        "state": state,
        "breach": True,
        "breached_at": _dt(due, tz).isoformat(),
        "mode": mode,
        "due": _iso_us(next_due, tz),
    }
    cause = f"{state} over its limit at {old} ({fired}): one level up to {unit}"
    return TicketChange(kind, ticket, unit, _dt(t, tz), old, unit, data, cause)


def _make_overdue(
    kind: str,
    ticket: str,
    unit: str,
    t: int,
    tz: tzinfo,
    state: str,
    key: str,
    fired: str,
    due: int,
) -> TicketChange:
    data = {
        "rule": key,
        "state": state,
        "breach": True,
        "breached_at": _dt(due, tz).isoformat(),
        "due": None,
    }
    cause = f"{state} over its limit at the city ({fired}); there is no higher level"
    return TicketChange(kind, ticket, unit, _dt(t, tz), None, None, data, cause)


#: Compact records name their maker by number (a record holding only strings,
#: numbers and time zones is one the cyclic garbage collector stops tracking).
_MAKERS: dict[int, Callable[..., TicketChange]] = {
    OPENED: _make_opened,
    STEP: _make_step,
    SCORED: _make_scored,
    MOVE: _make_move,
    ESCALATED: _make_escalated,
    OVERDUE: _make_overdue,
    FED_BACK: _make_fed_back,
    PUBLISHED: _make_published,
    PLAIN: _make_plain,
}


def _parts(flat: list[Any]) -> Iterator[tuple[list[Any], int, int]]:
    """The parts of histories a stream wrote, from its flat list ``history, start, stop, ...``."""
    for k in range(0, len(flat), 3):
        yield flat[k], flat[k + 1], flat[k + 2]


class Changes(Sequence[TicketChange]):
    """The changes a stream of steps recorded, in order; each made when it is read.

    A sequence of :class:`TicketChange`; :meth:`heads` reads what each change
    is without making it.
    """

    __slots__ = ("_index", "_marks", "_segments")

    def __init__(self, segments: list[Any], marks: list[Any] | None = None) -> None:
        #: Parts of tickets' histories, flat: history, start, stop, history, ...
        self._segments = segments
        #: Where every breach record (escalated, overdue) of the parts is, in order,
        #: flat: history, offset, history, ... (None: not known).
        self._marks = marks
        self._index: list[tuple[list[Any], int, TicketChange | None]] | None = None

    def _where(self) -> list[tuple[list[Any], int, TicketChange | None]]:
        index = self._index
        if index is None:
            index = self._index = [
                (history, k, change)
                for history, start, stop in _parts(self._segments)
                for k, change in _records(history, start, stop)
            ]
        return index

    def __len__(self) -> int:
        return len(self._where())

    @overload
    def __getitem__(self, index: int) -> TicketChange: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[TicketChange, ...]: ...
    def __getitem__(self, index: int | slice) -> TicketChange | tuple[TicketChange, ...]:
        where = self._where()
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(where))))
        history, k, change = where[index]
        if change is None:
            change = _made(history, k)
            where[index] = (history, k, change)
        return change

    def heads(self) -> list[tuple[str, str, str]]:
        """``(kind, ticket, unit)`` of each change, in order, without making the changes."""
        return list(zip(*self.columns(), strict=True))

    def columns(
        self, kinds: Collection[str] | None = None
    ) -> tuple[list[str], list[str], list[str]]:
        """The kinds, tickets and units of the changes, in order, as three lists
        (:meth:`heads` without a tuple per change); only the changes of ``kinds``
        when given (e.g. ``("ticket.escalated", "ticket.overdue")``)."""
        found: list[str] = []
        tickets: list[str] = []
        units: list[str] = []
        kind, ticket, unit = found.append, tickets.append, units.append
        widths = WIDTHS
        wanted = None if kinds is None else frozenset(kinds)
        marks = self._marks
        if wanted is not None and marks is not None and wanted <= _MARKED:
            # Only breaches asked for, and the stream marked where each one is.
            for history, k in zip(marks[::2], marks[1::2], strict=True):
                if history[k + 1] in wanted:
                    kind(history[k + 1])
                    ticket(history[k + 2])
                    unit(history[k + 3])
            return found, tickets, units
        for history, start, stop in _parts(self._segments):
            k = start
            while k < stop:  # _records, inline: this reads every change
                item = history[k]
                if item.__class__ is TicketChange:
                    if wanted is None or item.kind in wanted:
                        kind(item.kind)
                        ticket(item.ticket)
                        unit(item.unit)
                    k += 1
                else:
                    if wanted is None or history[k + 1] in wanted:
                        kind(history[k + 1])
                        ticket(history[k + 2])
                        unit(history[k + 3])
                    k += widths[item]
        return found, tickets, units


#: The kinds of changes a stream marks where they are (:attr:`Changes._marks`).
_MARKED = frozenset({"ticket.escalated", "ticket.overdue"})


#: What the desk hands a stream of steps (``gridgov._ticket_stream``).
_KIT = Kit(
    new_live=_Live,
    nobody=_NOBODY,
    micros=lambda when: _micros(when),
    moment=_dt,
    changes=lambda items, marks: Changes(items, marks),
)


def _aware(when: datetime) -> None:
    if not isinstance(when, datetime):
        raise ClockError(f"a time must be an aware datetime, got {shown(when)}")
    if when.utcoffset() is None:
        raise ClockError(f"time {when.isoformat()} has no time zone")
    if not EARLIEST <= when < LATEST:
        raise ClockError(
            f"time {when.isoformat()} is not between {EARLIEST.date()} and {LATEST.date()}"
        )


def _in_order(heap: Sequence[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """A heap's items in sorted order, without changing it: cost grows with the items read."""
    if not heap:
        return
    frontier: list[tuple[tuple[int, str], int]] = [(heap[0], 0)]
    size = len(heap)
    while frontier:
        item, index = heapq.heappop(frontier)
        yield item
        for child in (2 * index + 1, 2 * index + 2):
            if child < size:
                heapq.heappush(frontier, (heap[child], child))


def _opened(change: TicketChange) -> _Live:
    """The record a ``ticket.opened`` change starts.

    Raises:
        JournalError: the opening record is malformed.
    """
    data = change.data
    live = _Live.__new__(_Live)
    try:
        live.category = str(data["category"])
        live.origin = str(data["origin"])
        live.mode = str(data["mode"])
        live.private = Private(**data.get("private", {}))
    except (KeyError, TypeError) as exc:
        raise JournalError(f"ticket {change.ticket}: malformed opening record ({exc})") from None
    live.id = change.ticket
    live.compound = data.get("compound")
    live.state = "accepted"
    live.unit = change.unit
    live.handler = None
    live.tz = change.time.tzinfo or UTC
    live.opened_us = live.updated_us = _us(change.time)
    live.due_us = _us_or_none(_parse(data.get("due")))
    live.breached = False
    live.low_scores = live.escalations = live.reopens = 0
    live.score = None
    live.summary = str(data.get("summary", ""))
    live.result = ""
    live.history = [change]
    live._view = None
    return live


#: Data a recorded change must carry, by trigger and by kind (else it is malformed).
_NEEDS = {"classify": ("category",), "feed_back": ("handler",)}
_KIND_NEEDS = {"ticket.scored": ("score", "low_scores")}


def _check(exists: bool, state: str | None, unit: str | None, change: TicketChange) -> str | None:
    """Check that ``change`` starts from a ticket as given; returns the state after it.

    ``exists``, ``state`` and ``unit`` describe the ticket before the change.

    Raises:
        JournalError: the change does not start from the ticket as it is.
    """
    kind = change.kind
    if kind == "ticket.opened":
        if exists:
            raise JournalError(f"ticket {change.ticket} is opened twice")
        return "accepted"
    if not exists:
        raise JournalError(f"{kind} for ticket {change.ticket}, which was never opened")
    if kind in _STATE_KINDS:
        if change.old != state:
            raise JournalError(
                f"{kind} for ticket {change.ticket} starts from {change.old}, "
                f"but the ticket is {state}"
            )
        if change.new is None:
            raise JournalError(f"{kind} for ticket {change.ticket} names no new state")
        state = change.new
    elif kind in _MOVE_KINDS:
        if change.old != unit:
            raise JournalError(
                f"{kind} for ticket {change.ticket} moves it from {change.old}, but it is at {unit}"
            )
    elif kind not in KINDS:
        raise JournalError(f"ticket {change.ticket}: unknown change {kind!r}")
    data = change.data
    needs = _NEEDS.get(data.get("trigger"), ()) + _KIND_NEEDS.get(kind, ())  # type: ignore[arg-type]
    for key in needs:
        if key not in data:
            raise JournalError(f"{kind} for ticket {change.ticket} is malformed (no {key!r})")
    return state


def _mutate(live: _Live, change: TicketChange) -> None:
    """Apply one change, already checked with :func:`_check`, to a record in place."""
    data = change.data
    kind = change.kind
    live.unit = change.unit
    time = change.time
    live.updated_us = _us(time)
    live.tz = time.tzinfo or UTC
    if kind in _STATE_KINDS:
        live.state = change.new  # type: ignore[assignment]
    if "due" in data:
        live.due_us = _us_or_none(_parse(data["due"]))
        if "mode" in data:
            live.mode = data["mode"]
        live.breached = kind in _BREACH_KINDS and bool(data.get("breach", True))
    trigger = data.get("trigger")
    if trigger == "classify":
        live.category = data["category"]
    elif trigger == "feed_back":
        live.handler = data["handler"]
        live.result = data.get("result", "")
    if kind == "ticket.scored":
        live.score = data["score"]
        live.low_scores = data["low_scores"]
    elif kind == "ticket.reopened":
        live.reopens += 1
    elif kind == "ticket.escalated":
        live.escalations += 1
    live.history.append(change)
    live._view = None


_BREACH_KINDS = frozenset({"ticket.escalated", "ticket.overdue"})


_TICKET_FIELDS = (
    "id",
    "category",
    "origin",
    "compound",
    "state",
    "unit",
    "handler",
    "mode",
    "breached",
    "low_scores",
    "escalations",
    "reopens",
    "score",
    "summary",
    "result",
)


def _dump_ticket(ticket: Ticket) -> dict[str, Any]:
    out: dict[str, Any] = {name: getattr(ticket, name) for name in _TICKET_FIELDS}
    out["opened"] = ticket.opened.isoformat()
    out["updated"] = ticket.updated.isoformat()
    out["due"] = _iso(ticket.due)
    out["private"] = attrs.asdict(ticket.private)
    out["history"] = [
        [c.kind, c.unit, c.time.isoformat(), c.old, c.new, dict(c.data), c.cause]
        for c in ticket.history
    ]
    return out


def _load_ticket(record: Mapping[str, Any]) -> Ticket:
    values = {name: record[name] for name in _TICKET_FIELDS}
    tid = str(values["id"])
    history = tuple(
        TicketChange(
            str(kind), tid, str(unit), datetime.fromisoformat(time), old, new, dict(data), cause
        )
        for kind, unit, time, old, new, data, cause in record["history"]
    )
    if values["state"] not in STATES:
        raise ValueError(f"ticket {tid}: unknown state {values['state']!r}")
    return Ticket(
        **values,
        opened=datetime.fromisoformat(record["opened"]),
        updated=datetime.fromisoformat(record["updated"]),
        due=_parse(record["due"]),
        private=Private(**record["private"]),
        history=history,
    )


# ================================================================== scorecards


@attrs.frozen
class Scorecard:
    """How one unit's residents' requests fared over a period (assessment practice)."""

    #: The unit (a grid, community, street or district).
    unit: str
    #: Its level.
    level: str
    #: Tickets opened in the period from the unit's grids.
    tickets: int
    #: Per state with a limit: the share of stays that ended within it (None: none ended).
    on_time: Mapping[str, float | None]
    #: Tickets that climbed at least one level (on a breach or a low score).
    escalated: int
    #: ``escalated / tickets`` (None without tickets).
    escalation_rate: float | None
    #: Tickets reopened at least once after a low score.
    reopened: int
    #: ``reopened`` over the tickets scored at least once (None when none was).
    reopen_rate: float | None
    #: Every score given.
    scores: int
    #: The mean of every score given (None when none was).
    mean_score: float | None
    #: Tickets the resident withdrew.
    withdrawn: int


def scorecards(
    changes: Iterable[TicketChange | _EventLike],
    city: City,
    level: Level | str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> dict[str, Scorecard]:
    """Scorecards of every unit at ``level``, computed from the change records (or events) alone.

    A ticket counts for the units above the grid it came from when it was
    opened in ``[start, end)``; its changes count up to ``end``. A stay ended
    on time when it ended before its limit passed and no breach was recorded
    during it (``on_time`` of the step change).

    Args:
        changes: ticket changes or journal events (others are ignored), in order.
        city: the city (to find the unit at ``level`` above each grid).
        level: ``grid``, ``community``, ``street``, ``district`` or ``city``.
        start: beginning of the period (default: open).
        end: end of the period, excluded (default: open).

    Raises:
        NotFoundError: ``level`` is not a level tickets are assessed at.
    """
    try:
        want = Level(level)
    except ValueError:
        want = Level.COMPOUND
    if want.value not in TICKET_LEVELS:
        message = f"scorecards are kept per {', '.join(TICKET_LEVELS)}; not per {level!s}"
        raise NotFoundError(str(level), "scorecard level;", message=message)
    records = [
        item if isinstance(item, TicketChange) else TicketChange.from_event(item)
        for item in changes
        if isinstance(item, TicketChange) or item.type in KINDS
    ]
    owner: dict[str, str] = {}
    for change in records:
        if change.kind != "ticket.opened":
            continue
        if (start is None or change.time >= start) and (end is None or change.time < end):
            owner[change.ticket] = city.ancestor(str(change.data["origin"]), want)
    return _cards(records, owner, city, want, end)


_MARKS = {
    "ticket.escalated": "escalated",
    "ticket.reopened": "reopened",
    "ticket.scored": "scored",
    "ticket.withdrawn": "withdrawn",
}


def _cards(
    records: Sequence[TicketChange],
    owner: Mapping[str, str],
    city: City,
    want: Level,
    end: datetime | None,
) -> dict[str, Scorecard]:
    """The scorecards of :func:`scorecards`, from the records and each ticket's unit."""
    stays: dict[str, dict[str, list[int]]] = {}
    flags: dict[str, dict[str, set[str]]] = {}
    score_sum: dict[str, list[int]] = {}
    for change in records:
        unit = owner.get(change.ticket)
        if unit is None or (end is not None and change.time >= end):
            continue
        data = change.data
        if "on_time" in data:
            tally = stays.setdefault(unit, {}).setdefault(str(data["step"]), [0, 0])
            tally[0] += 1 if data["on_time"] else 0
            tally[1] += 1
        mark = _MARKS.get(change.kind)
        if mark is not None:
            flags.setdefault(unit, {}).setdefault(mark, set()).add(change.ticket)
        if change.kind == "ticket.scored":
            got = score_sum.setdefault(unit, [0, 0])
            got[0] += int(data["score"])
            got[1] += 1
    counts: dict[str, int] = {}
    for unit in owner.values():
        counts[unit] = counts.get(unit, 0) + 1
    out: dict[str, Scorecard] = {}
    for unit in city.chain.units(want):
        n = counts.get(unit, 0)
        marks = flags.get(unit, {})
        escalated = len(marks.get("escalated", ()))
        reopened = len(marks.get("reopened", ()))
        scored = len(marks.get("scored", ()))
        total, given = score_sum.get(unit, [0, 0])
        own = stays.get(unit, {})
        out[unit] = Scorecard(
            unit=unit,
            level=want.value,
            tickets=n,
            on_time={s: (own[s][0] / own[s][1] if s in own else None) for s in TICKET_STEPS},
            escalated=escalated,
            escalation_rate=escalated / n if n else None,
            reopened=reopened,
            reopen_rate=reopened / scored if scored else None,
            scores=given,
            mean_score=total / given if given else None,
            withdrawn=len(marks.get("withdrawn", ())),
        )
    return out


# ==================================================================== bulk path


_NO_DUE = 2**63 - 1
_MODE_INDEX = {m: i for i, m in enumerate(TICKET_MODES)}


def _unknown_grid(name: str) -> UnknownUnitError:
    return UnknownUnitError(name, "grid")


def _unknown(what: str, known: Sequence[str]) -> Callable[[str], NotFoundError]:
    """The error of an unknown ``what`` (a category, a mode) ``name``."""
    expected = ", ".join(known)
    return lambda name: NotFoundError(
        name, f"{what};", message=f"unknown {what} {name!r} (expected one of: {expected})"
    )


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:  # pragma: no cover - numpy is installed where tests run
        raise GridgovError("the bulk ticket path needs numpy (pip install numpy)") from None
    return numpy


def _stamps(size: int) -> Any:
    """Stamps for ``size`` tickets (4 bytes each while a position fits in 32 bits)."""
    numpy = _numpy()
    return numpy.zeros(size, numpy.int32 if size < 2**31 - 1 else numpy.int64)


def _micros(when: datetime) -> int:
    """Microseconds since 1970 (exact: datetimes are whole microseconds)."""
    _aware(when)
    return _us(when)


@attrs.frozen(eq=False)
class Escalations:
    """Escalations found by one bulk sweep (parallel arrays, in breach order per ticket)."""

    #: Ticket index of each escalation.
    ticket: npt.NDArray[np.int64]
    #: Unit index it climbed from.
    from_unit: npt.NDArray[np.int32]
    #: Unit index it climbed to.
    to_unit: npt.NDArray[np.int32]
    #: Breach time, microseconds since 1970.
    at: npt.NDArray[np.int64]
    #: Ticket indices that breached at the city (overdue, no level above).
    overdue: npt.NDArray[np.int64]


class TicketArrays:
    """Many tickets at once: the same machine compiled into integer arrays (needs numpy).

    Each ticket is an index; its state, category, mode, units and deadline
    are entries of arrays. A trigger is applied to an array of indices at
    once through the table ``state x trigger -> state`` compiled from the
    workflow machine (:func:`compile_table`); the deadline sweep finds every
    breached ticket with one comparison over the due times. The rules are the
    per-ticket path's: routing to the category's level, one level up per
    breach with the limit started again from the breach, overdue at the city,
    the result handed back to the origin grid, reopen then escalate on low
    scores. Times are microseconds since 1970 (:meth:`micros`).

    A call's arguments are checked first: a batch applies whole or not at all.

    Args:
        city: the city.
        rule: the ticket rules.
        capacity: room for this many tickets before the arrays grow (0 to 100,000,000).

    Raises:
        ArgumentError: not a City, a TicketRule, a whole capacity in range.
    """

    def __init__(self, city: City, rule: TicketRule | None = None, capacity: int = 1024) -> None:
        numpy = _numpy()
        if not isinstance(city, City):
            raise ArgumentError("TicketArrays", "city", "a City", shown(city))
        if rule is not None and not isinstance(rule, TicketRule):
            raise ArgumentError("TicketArrays", "rule", "a TicketRule or None", shown(rule))
        size = max(1, _bulk.capacity(capacity))
        self.city = city
        self.rule = rule if rule is not None else TicketRule()
        board = ticket_board()
        self.states, self.triggers, table = compile_table(board)
        self.table = numpy.array(table, dtype=numpy.int8)
        self._state_index = {s: i for i, s in enumerate(self.states)}
        self._trigger_index = {t: i for i, t in enumerate(self.triggers)}
        chain = city.chain
        units = [u for u in chain if chain.level(u).value in TICKET_LEVELS]
        #: Unit ids by index.
        self.units: tuple[str, ...] = tuple(units)
        self.unit_index = {u: i for i, u in enumerate(units)}
        self.parent = numpy.array(
            [self.unit_index.get(chain.parent(u) or "", -1) for u in units], dtype=numpy.int32
        )
        # ancestor[u, k]: the unit at TICKET_LEVELS[k] above u (u itself at its level, -1 below).
        ancestor = numpy.full((len(units), len(TICKET_LEVELS)), -1, dtype=numpy.int32)
        for i, unit in enumerate(units):
            for up in chain.chain_of_command(unit):
                ancestor[i, TICKET_LEVELS.index(chain.level(up).value)] = self.unit_index[up]
        self.ancestor = ancestor
        #: Index in TICKET_LEVELS of each unit's level.
        self.unit_level = numpy.array(
            [TICKET_LEVELS.index(chain.level(u).value) for u in units], dtype=numpy.int8
        )
        self.categories: tuple[str, ...] = tuple(self.rule.categories)
        self.category_index = {c: i for i, c in enumerate(self.categories)}
        self.category_level = numpy.array(
            [TICKET_LEVELS.index(self.rule.categories[c].level) for c in self.categories],
            dtype=numpy.int8,
        )
        limits = numpy.full(
            (len(self.categories), len(TICKET_MODES), len(self.states)), -1, numpy.int64
        )
        for c, category in enumerate(self.categories):
            for m, mode in enumerate(TICKET_MODES):
                for s, state in enumerate(self.states):
                    limit = self.rule.limit(category, mode, state)
                    if limit is not None:
                        limits[c, m, s] = limit // _MICRO
        self.limits = limits
        self.n = 0
        self.state = numpy.zeros(size, numpy.int8)
        self.category = numpy.zeros(size, numpy.int16)
        self.mode = numpy.zeros(size, numpy.int8)
        self.origin = numpy.zeros(size, numpy.int32)
        self.unit = numpy.zeros(size, numpy.int32)
        self.handler = numpy.full(size, -1, numpy.int32)
        self.due = numpy.full(size, _NO_DUE, numpy.int64)
        self.breached = numpy.zeros(size, numpy.bool_)
        self.low_scores = numpy.zeros(size, numpy.int16)
        self.escalations = numpy.zeros(size, numpy.int32)
        # Room for the check that a call names each ticket once: one stamp a ticket,
        # never read before it is written (so left to the system's zero pages).
        self._stamps = _stamps(size)

    _ARRAYS = (
        "state",
        "category",
        "mode",
        "origin",
        "unit",
        "handler",
        "due",
        "breached",
        "low_scores",
        "escalations",
    )
    #: The names of the per-ticket arrays (attributes of this object), in a fixed order.
    FIELDS: tuple[str, ...] = _ARRAYS
    #: The due time of a ticket with no limit running (in a state without one, or overdue).
    NO_DUE: int = _NO_DUE

    @staticmethod
    def micros(when: datetime) -> int:
        """A time as the arrays keep it: microseconds since 1970."""
        return _micros(when)

    def _grow(self, need: int) -> None:
        numpy = _numpy()
        size = len(self.state)
        if need <= size:
            return
        new = max(need, 2 * size)
        for name in self._ARRAYS:
            old = getattr(self, name)
            fill = {"handler": -1, "due": _NO_DUE}.get(name, 0)
            grown = numpy.full(new, fill, old.dtype)
            grown[:size] = old
            setattr(self, name, grown)
        self._stamps = _stamps(new)

    def _time(
        self,
        method: str,
        at: datetime | int | npt.NDArray[np.int64],
        count: int | None = None,
        name: str = "at",
    ) -> Any:
        """``at`` in microseconds since 1970: an int, or an int64 array of ``count`` times
        (checked: see :func:`gridgov._bulk_arguments.times`)."""
        if isinstance(at, datetime):
            return _micros(at)
        return _bulk.times(method, name, at, count)

    def _indices(self, method: str, idx: Any, distinct: bool = True) -> Any:
        """Ticket indices, checked (each at most once when ``distinct``)."""
        return _bulk.indices(method, idx, self.n, self._stamps if distinct else None)

    # ------------------------------------------------------------------ writes

    def open(
        self,
        origins: Sequence[str] | npt.NDArray[np.int32],
        categories: Sequence[str] | npt.NDArray[np.int16],
        at: datetime | int | npt.NDArray[np.int64],
        modes: Sequence[str] | npt.NDArray[np.int8] | None = None,
    ) -> npt.NDArray[np.int64]:
        """Accept many requests at once; returns their indices.

        Args:
            origins: grid ids (or unit indices of grids).
            categories: category names (or indices into :attr:`categories`).
            at: when: one time for all, or an int64 array of each ticket's time
                (microseconds since 1970).
            modes: ``normal``/``emergency`` per ticket (or 0/1); default normal.

        Raises:
            ArgumentError: an argument is not a sequence (or a 1-D array), an item
                is not a name (or an index array not of whole numbers).
            CommandError: the lengths differ; an origin is not a grid.
            UnknownUnitError: an origin names no unit.
            NotFoundError: an unknown category or mode, an index naming none.
            ClockError: a time is not one, or not between years 1 and 9000.
        """
        numpy = _numpy()
        given = {"origins": origins, "categories": categories, "modes": modes}
        count = _bulk.lengths("open", given, optional="modes")
        names, index = _bulk.names, self.category_index
        origin = names(
            "open", "origins", origins, self.unit_index, numpy.int32, _unknown_grid, "unit"
        )
        unknown = _unknown("category", self.categories)
        category = names("open", "categories", categories, index, numpy.int16, unknown, "category")
        unknown, zeros = _unknown("mode", TICKET_MODES), numpy.zeros(count, numpy.int8)
        mode = (
            zeros
            if modes is None
            else names("open", "modes", modes, _MODE_INDEX, numpy.int8, unknown, "mode")
        )
        grid = TICKET_LEVELS.index("grid")
        if count and (self.ancestor[origin, grid] != origin).any():
            bad = self.units[int(origin[self.ancestor[origin, grid] != origin][0])]
            raise CommandError(
                f"{bad} is not a grid; tickets come from grids", reason="origin not a grid"
            )
        return self._open_checked(origin, category, self._time("open", at, count), mode)

    def _open_checked(
        self, origin: Any, category: Any, now: int | npt.NDArray[np.int64], mode: Any
    ) -> npt.NDArray[np.int64]:
        """:meth:`open` on arrays already checked: grid unit indices, category and
        mode indices of one length, times in microseconds (internal callers)."""
        numpy = _numpy()
        count = len(origin)
        start, stop = self.n, self.n + count
        self._grow(stop)
        accepted = self._state_index["accepted"]
        self.state[start:stop] = accepted
        self.category[start:stop] = category
        self.mode[start:stop] = mode
        self.origin[start:stop] = origin
        self.unit[start:stop] = origin
        self.handler[start:stop] = -1
        limit = self.limits[category, mode, accepted]
        self.due[start:stop] = numpy.where(limit >= 0, now + limit, _NO_DUE)
        self.breached[start:stop] = False
        self.low_scores[start:stop] = 0
        self.escalations[start:stop] = 0
        self.n = stop
        indices: npt.NDArray[np.int64] = numpy.arange(start, stop, dtype=numpy.int64)
        return indices

    def legal(self, idx: Any, trigger: str) -> npt.NDArray[np.bool_]:
        """Which of the tickets ``idx`` may take ``trigger`` now (none: an unknown trigger).
        Raises as :meth:`fire` does for the form of its arguments."""
        trigger = _bulk.trigger("legal", trigger)
        idx = self._indices("legal", idx, distinct=False)
        column = self._trigger_index.get(trigger)
        if column is None or trigger == "reopen":
            numpy = _numpy()
            none: npt.NDArray[np.bool_] = numpy.zeros(len(idx), numpy.bool_)
            return none
        ok: npt.NDArray[np.bool_] = self.table[self.state[idx], column] >= 0
        if trigger == "transfer":
            ok &= self.parent[self.unit[idx]] >= 0
        return ok

    def fire(
        self, idx: Any, trigger: str, at: datetime | int | npt.NDArray[np.int64]
    ) -> npt.NDArray[np.bool_]:
        """Apply ``trigger`` to every ticket of ``idx`` (distinct indices) at once.

        ``transfer`` moves one level up; ``score`` needs :meth:`score`. ``at``
        is one time for all, or an int64 array of each ticket's own time
        (microseconds since 1970); call :meth:`sweep` with the same ``idx``
        and times first so that each ticket's deadline is checked before it
        fires.

        Returns:
            Per ticket, whether the stay the trigger ended was on time.

        Raises:
            TransitionError: the trigger is not allowed for one of the tickets
                (the first one is named); nothing changes.
            ArgumentError: ``idx`` is not a sequence of distinct ticket indices,
                ``trigger`` not a string, ``at`` an array of the wrong length.
            NotFoundError: an index names no ticket.
            CommandError: an unknown trigger, ``score`` or ``reopen``.
            ClockError: a time is not one, or not between years 1 and 9000.
        """
        trigger = _bulk.trigger("fire", trigger)
        if trigger in ("score", "reopen"):
            raise CommandError(
                f"{trigger!r} goes through TicketArrays.score(idx, scores, at)",
                reason="score goes through score()",
            )
        idx = self._indices("fire", idx)
        now = self._time("fire", at, len(idx))
        column = self._trigger_index.get(trigger)
        if column is None:
            raise CommandError(
                f"unknown trigger {trigger!r} (expected one of: {', '.join(self.triggers)})",
                reason="unknown trigger",
            )
        old = self.state[idx]
        new = self.table[old, column]
        ok = new >= 0
        if trigger == "transfer":
            ok &= self.parent[self.unit[idx]] >= 0
        if not ok.all():
            first = int(idx[~ok][0])
            state = self.states[int(self.state[first])]
            allowed = [
                t
                for t in self.triggers
                if self.table[self.state[first], self._trigger_index[t]] >= 0
            ]
            if trigger == "transfer" and self.table[self.state[first], column] >= 0:
                raise CommandError(
                    f"ticket #{first} is at the city; there is no level above",
                    reason="no level above",
                )
            raise TransitionError(
                f"ticket #{first}", state, trigger, [t for t in allowed if t != "reopen"]
            )
        on_time: npt.NDArray[np.bool_] = ~self.breached[idx] & (self.due[idx] >= now)
        if trigger == "transfer":
            self.unit[idx] = self.parent[self.unit[idx]]
            return on_time
        self._fire_checked(idx, trigger, new, now)
        return on_time

    def _fire_checked(self, idx: Any, trigger: str, new: Any, now: Any) -> None:
        """:meth:`fire` for tickets known to take ``trigger`` (not ``transfer``) into
        ``new`` (a state index, or one per ticket): no checks (internal callers)."""
        self.state[idx] = new
        self._move(idx, trigger)
        self._restart(idx, new, now)

    def _fire_runs(self, idx: Any, runs: Sequence[tuple[str, int]], now: Any) -> None:
        """:meth:`fire` on runs of tickets: ``runs`` is (trigger, how many) for each
        run of ``idx`` in turn, every trigger known to be allowed for its run's
        tickets (not ``transfer``, ``score`` or ``reopen``): no checks (internal
        callers). Tickets do not interact, so this is :meth:`fire` once per run."""
        numpy = _numpy()
        triggers = self._trigger_index
        columns: list[int] = []
        for trigger, count in runs:
            columns += [triggers[trigger]] * count
        column = numpy.array(columns, dtype=numpy.intp)
        new = self.table[self.state[idx], column]
        self.state[idx] = new
        stop = 0
        for trigger, count in runs:
            start, stop = stop, stop + count
            if trigger in ("classify", "reject", "feed_back"):
                self._move(idx[start:stop], trigger)
        self._restart(idx, new, now)

    def _move(self, idx: Any, trigger: str) -> None:
        """Where ``trigger`` takes the tickets ``idx`` (their state already changed)."""
        if trigger == "classify":
            # Up to the category's level; a ticket that already climbed higher stays.
            here = self.unit[idx]
            level = self.category_level[self.category[idx]]
            target = self.ancestor[self.origin[idx], level]
            self.unit[idx] = _numpy().where(level > self.unit_level[here], target, here)
        elif trigger == "reject":
            self.unit[idx] = self.origin[idx]
        elif trigger == "feed_back":
            self.handler[idx] = self.unit[idx]
            self.unit[idx] = self.origin[idx]

    def _restart(self, idx: Any, new: Any, now: Any) -> None:
        """The limit of the state ``new`` starts at ``now`` for the tickets ``idx``."""
        limit = self.limits[self.category[idx], self.mode[idx], new]
        self.due[idx] = _numpy().where(limit >= 0, now + limit, _NO_DUE)
        self.breached[idx] = False

    def score(
        self, idx: Any, scores: Any, at: datetime | int | npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        """Scores (1-5) for the tickets ``idx``: low ones reopen, then escalate.

        ``at`` is one time for all or each ticket's own time, as for :meth:`fire`.

        Returns:
            The indices that escalated on a low score.

        Raises:
            TransitionError: a ticket is not waiting for a score; nothing changes.
            CommandError: not one score per ticket, a score outside 1-5 (its
                ArgumentError: scores not whole numbers); as :meth:`fire` for
                ``idx`` and ``at``.
        """
        idx = self._indices("score", idx)
        given = _bulk.scores("score", scores, len(idx))
        now = self._time("score", at, len(idx))
        column = self._trigger_index["score"]
        ok = self.table[self.state[idx], column] >= 0
        if not ok.all():
            first = int(idx[~ok][0])
            raise TransitionError(
                f"ticket #{first}", self.states[int(self.state[first])], "score", ()
            )
        return self._score_checked(idx, given, now)

    def _score_checked(self, idx: Any, given: Any, now: Any) -> npt.NDArray[np.int64]:
        """:meth:`score` for tickets known to wait for a score, scores known to be
        1-5 (int64), times in microseconds (internal callers)."""
        numpy = _numpy()
        low = given < self.rule.low_score
        scored = self._state_index["scored"]
        if not low.any():
            # Every score accepted: each ticket on to ``scored``, where it stays.
            self.state[idx] = scored
            self._restart(idx, scored, now)
            none: npt.NDArray[np.int64] = idx[:0]
            return none
        count = self.low_scores[idx] + low
        handler = self.handler[idx]
        parent = self.parent[handler]
        reopen = low & (count <= self.rule.reopens)
        climb = low & ~reopen & (parent >= 0)
        back = reopen | climb
        tracking = self._state_index["tracking"]
        new = numpy.where(back, tracking, scored).astype(numpy.int8)
        self.state[idx] = new
        self.unit[idx] = numpy.where(reopen, handler, numpy.where(climb, parent, self.unit[idx]))
        self.low_scores[idx] = count
        self.escalations[idx] += climb
        limit = self.limits[self.category[idx], self.mode[idx], new]
        self.due[idx] = numpy.where(limit >= 0, now + limit, _NO_DUE)
        self.breached[idx] = False
        climbed: npt.NDArray[np.int64] = idx[climb]
        return climbed

    def sweep(self, now: datetime | int | npt.NDArray[np.int64], idx: Any = None) -> Escalations:
        """Escalate every ticket whose limit passed by ``now``, one level per breach.

        A ticket breaching again before ``now`` (its limit started again at
        the breach) climbs again; at the city it becomes overdue and its
        limit stops. Returns what happened.

        Args:
            now: up to when; with ``idx``, also an int64 array of each
                ticket's own time (microseconds since 1970).
            idx: only these tickets (distinct indices); default: all. Tickets
                do not interact, so sweeping the tickets about to fire up to
                their own firing times, then firing them, gives the same
                result as sweeping everything in time order.

        Raises:
            ArgumentError: ``now`` an array without ``idx``; as :meth:`fire` for
                ``idx`` and the times.
        """
        numpy = _numpy()
        n = self.n
        due = self.due
        parts: list[tuple[Any, Any, Any, Any]] = []
        overdue: list[Any] = []
        if idx is None:
            limit_now = self._time("sweep", now, name="now")
            hit = numpy.flatnonzero(due[:n] <= limit_now)
        else:
            idx = self._indices("sweep", idx)
            limit_now = self._time("sweep", now, len(idx), "now")
            found = due[idx] <= limit_now
            hit = idx[found]
            if not isinstance(limit_now, int):
                limit_now = limit_now[found]
        while hit.size:
            unit = self.unit[hit]
            parent = self.parent[unit]
            top = parent < 0
            at = due[hit]
            self.breached[hit] = True
            if top.any():
                overdue.append(hit[top])
                self.due[hit[top]] = _NO_DUE
            climb = hit[~top]
            if not isinstance(limit_now, int):
                limit_now = limit_now[~top]
            if climb.size:
                parts.append((climb, unit[~top], parent[~top], at[~top]))
                self.unit[climb] = parent[~top]
                self.escalations[climb] += 1
                limit = self.limits[self.category[climb], self.mode[climb], self.state[climb]]
                self.due[climb] = at[~top] + limit
            # Only the tickets that just climbed can breach again.
            again = self.due[climb] <= limit_now
            hit = climb[again]
            if not isinstance(limit_now, int):
                limit_now = limit_now[again]
        if parts:
            ticket, from_unit, to_unit, at = (
                numpy.concatenate(p) for p in zip(*parts, strict=True)
            )
        else:
            ticket = numpy.zeros(0, numpy.int64)
            from_unit = to_unit = numpy.zeros(0, numpy.int32)
            at = numpy.zeros(0, numpy.int64)
        return Escalations(
            ticket.astype(numpy.int64),
            from_unit.astype(numpy.int32),
            to_unit.astype(numpy.int32),
            at.astype(numpy.int64),
            numpy.concatenate(overdue).astype(numpy.int64)
            if overdue
            else numpy.zeros(0, numpy.int64),
        )

    # ------------------------------------------------------------------- reads

    def state_of(self, index: int) -> str:
        """The state of ticket ``index``.

        Raises:
            ArgumentError: ``index`` is not a whole number.
            NotFoundError: no such ticket (this holds :attr:`n`, numbered from 0).
        """
        return self.states[int(self.state[_bulk.index("state_of", index, self.n)])]

    def unit_of(self, index: int) -> str:
        """The unit holding ticket ``index`` (raises as :meth:`state_of`)."""
        return self.units[int(self.unit[_bulk.index("unit_of", index, self.n)])]

    def due_of(self, index: int) -> int | None:
        """The due time of ticket ``index`` in microseconds since 1970 (None: no limit;
        raises as :meth:`state_of`)."""
        due = int(self.due[_bulk.index("due_of", index, self.n)])
        return None if due == _NO_DUE else due

    def counts(self) -> dict[str, int]:
        """Tickets per state."""
        numpy = _numpy()
        got = numpy.bincount(self.state[: self.n], minlength=len(self.states))
        return {s: int(got[i]) for i, s in enumerate(self.states)}

    # ----------------------------------------------------------------- helpers

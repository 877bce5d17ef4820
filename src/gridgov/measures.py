"""Measures: the zones of compounds and the modes of communities, planned and applied.

Two halves, as for every domain of the engine:

* **The state** (:class:`Measures`): every compound's zone, every
  community's mode, their step-down deadlines (*due* times) and the compounds
  *held* (kept until lifted). Its public face is read-only; it changes only
  through :meth:`Measures._apply_event`, the reducer the engine calls for each
  ``zone.*`` and ``mode.*`` event, live and on replay alike.
* **The planner** (:class:`MeasuresDraft` and the ``plan_*`` functions): pure
  computations over a read-only :class:`Measures`, returning a frozen
  :class:`MeasuresPlan` of event records. A confirmed case seals its *seal
  scope* (how far a measure reaches around the compound, see
  :func:`gridgov.modes.compounds_in_scope`), controls the rest of the control
  scope, watches the precaution scope, alerts the alert scope; declarations
  step compounds up, lifts step them down, and quiet periods step them down by
  the rules' timings. A community's mode follows its compounds' zones.

Deadlines are kept by the engine in one schedule ordered by due time; each is
also written into the event that set it, so replaying restores it exactly.
Zone deadlines fall before mode deadlines at the same instant, so a community
sees its compounds' step-downs before it decides its own mode.
"""

from __future__ import annotations

import heapq
import itertools
import operator
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any

import attrs

from gridgov.city import City
from gridgov.errors import CommandError, JournalError
from gridgov.model import Level
from gridgov.modes import (
    ZONES,
    StateBoard,
    communities_in_scope,
    compounds_in_scope,
    compounds_sharing_a_grid,
    mode_board,
    units_compounds,
    zone_board,
)
from gridgov.records import EventLike, Record, RecordColumns, record_data
from gridgov.rules import Rules

__all__ = [
    "MEASURE_EVENTS",
    "Deadline",
    "Measures",
    "MeasuresDraft",
    "MeasuresPlan",
    "check_declarable",
    "check_liftable",
    "plan_alert_measures",
    "plan_case",
    "plan_declare",
    "plan_due",
    "plan_lift",
]

#: ``"normal"`` for ever (a mode compared with it in C).
_NORMAL = itertools.repeat("normal")

#: Rank of each zone, mildest first.
SEVERITY = {zone: rank for rank, zone in enumerate(ZONES)}
#: The event types :meth:`Measures._apply_event` applies.
MEASURE_EVENTS = frozenset({"zone.changed", "zone.renewed", "mode.changed", "mode.renewed"})
#: Kinds of deadline: zones before modes at the same instant; alert chains'
#: deadlines (scheduled starts, expiries) after both, one per commit.
ZONE_DUE, MODE_DUE, ALERT_DUE = 0, 1, 2

#: A scheduled step-down: (due time, kind, unit).
Deadline = tuple[datetime, int, str]


#: The counts of a community without compounds.
_NO_COUNTS: Mapping[str, int] = Counter()


#: Due times read from events, by their ISO form (a command's events share a few).
_DUE_TIMES: dict[str, datetime] = {}


def _from_iso(text: str) -> datetime:
    """``datetime.fromisoformat(text)``, remembered (the text says everything: offset too)."""
    got = _DUE_TIMES.get(text)
    if got is None:
        got = datetime.fromisoformat(text)
        if len(_DUE_TIMES) >= 4096:
            _DUE_TIMES.clear()
        _DUE_TIMES[text] = got
    return got


def iso_time(when: datetime) -> str:
    """``when.isoformat()``, remembered by value (``isoformat`` costs some 10 k
    instructions; a command's records share a few times, and a step of a
    simulation's cases the same ones). The key holds the zone and the fold beside
    the time: equal times in two zones, or two folds, print differently."""
    if type(when) is not datetime:  # a subclass may print otherwise
        return when.isoformat()
    key = (when, when.tzinfo, when.fold)
    got = _ISO_TEXTS.get(key)
    if got is None:
        got = when.isoformat()
        if len(_ISO_TEXTS) >= 4096:
            _ISO_TEXTS.clear()
        _ISO_TEXTS[key] = got
    return got


#: A record made from its fields at once: ``tuple.__new__`` in C, not the named
#: tuple's own ``__new__`` (a Python call, some 1.5 k instructions a record).
_record = tuple.__new__

#: An empty :class:`~collections.Counter`, its ``__init__`` not called (see
#: :meth:`MeasuresDraft.count`).
_new_counter = dict.__new__

#: ISO forms of times (see :func:`iso_time`).
_ISO_TEXTS: dict[tuple[datetime, tzinfo | None, int], str] = {}


def _days(days: float) -> timedelta:
    """``timedelta(days=days)``, remembered (a call with a keyword costs some 2 k
    instructions; the rules name a few periods)."""
    got = _PERIODS.get(days)
    if got is None:
        got = timedelta(days=days)
        if len(_PERIODS) >= 256:
            _PERIODS.clear()
        _PERIODS[days] = got
    return got


#: Periods by their length in days (see :func:`_days`).
_PERIODS: dict[float, timedelta] = {}


# ===================================================================== state


class Measures:
    """Zones, modes, their deadlines and holds: the measures state of one engine.

    Read-only for everyone but the engine, which changes it only through
    :meth:`_apply_event` (the reducer of ``zone.*`` and ``mode.*`` events).

    Args:
        city: the city whose communities and compounds it tracks.
        pause_gc: pause the garbage collector while the machines are built.
    """

    def __init__(self, city: City, *, pause_gc: bool = False) -> None:
        self._city = city
        self._modes = mode_board(city.chain.units(Level.COMMUNITY), pause_gc=pause_gc)
        self._zones = zone_board(city.compounds, pause_gc=pause_gc)
        self._zone_due: dict[str, datetime | None] = {}
        self._mode_due: dict[str, datetime | None] = {}
        self._held: set[str] = set()
        self._counts: dict[str, Counter[str]] = {}
        for compound in city.compounds.values():
            counts = self._counts.get(compound.community)
            if counts is None:
                # Every zone present (0 for none): reading a count never misses.
                counts = self._counts[compound.community] = Counter(dict.fromkeys(ZONES, 0))
            counts["open"] += 1
        #: Compounds not open (what a lift may touch: a lift reads these, not the city).
        self._raised: set[str] = set()
        #: What a case around each compound reaches, by the rules it was asked with
        #: (a memo of :func:`case_scopes`: the city never changes).
        self._case_scopes: dict[str, tuple[Any, ...]] = {}
        self._below_units: _Below | None = None
        #: Each compound's community (made on first use, see :meth:`_community_getter`).
        self._community_by_compound: dict[str, str] | None = None
        #: Where the last run that raised (:meth:`_apply_run`) stopped, in its columns.
        self._stopped_at = 0
        #: Changes applied so far (a draft's tables apply only to the state it read).
        self._version = 0

    def _below(self) -> _Below:
        """The city's compounds and communities below each unit (made on first use)."""
        got = self._below_units
        if got is None:
            got = self._below_units = _Below(self._city)
        return got

    def _community_getter(self) -> Callable[[str], str]:
        """The community of a compound (KeyError for an unknown id), as the city's
        ``compounds.community`` answers, by a dict made on first use (a lookup in C,
        where the city's columns answer by a Python call)."""
        got = self._community_by_compound
        if got is None:
            compounds = self._city.compounds
            got = self._community_by_compound = dict(
                zip(compounds.ids, compounds.communities, strict=True)
            )
        return got.__getitem__

    # ------------------------------------------------------------------ reads

    @property
    def mode_board(self) -> StateBoard:
        """The community mode machine (read it; only events change it)."""
        return self._modes

    @property
    def zone_board(self) -> StateBoard:
        """The compound zone machine (read it; only events change it)."""
        return self._zones

    def zone(self, compound: str) -> str:
        """The zone of ``compound`` (KeyError when unknown)."""
        return self._zones.state(compound)

    def mode(self, community: str) -> str:
        """The mode of ``community`` (KeyError when unknown)."""
        return self._modes.state(community)

    def zone_due(self, compound: str) -> datetime | None:
        """When ``compound`` steps down next (None: not scheduled)."""
        return self._zone_due.get(compound)

    def mode_due(self, community: str) -> datetime | None:
        """When ``community``'s alert or recovery period ends (None: not scheduled)."""
        return self._mode_due.get(community)

    def held(self, compound: str) -> bool:
        """``compound``'s measure is kept until lifted."""
        return compound in self._held

    def raised(self) -> frozenset[str]:
        """Compounds whose zone is not ``open``."""
        return frozenset(self._raised)

    def counts(self, community: str) -> Mapping[str, int]:
        """How many of ``community``'s compounds are in each zone (0 for a zone without)."""
        got = self._counts.get(community)
        return got if got is not None else _NO_COUNTS

    def live(self, item: Deadline) -> bool:
        """``item`` is still the unit's deadline (not superseded by a later change)."""
        due, kind, unit = item
        dues = self._zone_due if kind == ZONE_DUE else self._mode_due
        return dues.get(unit) == due

    def deadlines(self) -> list[Deadline]:
        """Every scheduled deadline, as a heap."""
        heap: list[Deadline] = [
            (d, ZONE_DUE, u) for u, d in self._zone_due.items() if d is not None
        ]
        heap += [(d, MODE_DUE, u) for u, d in self._mode_due.items() if d is not None]
        heapq.heapify(heap)
        return heap

    def snapshot(self) -> dict[str, Any]:
        """The measures, comparable with ``==`` (for replay checks)."""
        return {
            "zones": self._zones.states_of(),
            "modes": self._modes.states_of(),
            "zone_due": {k: v for k, v in self._zone_due.items() if v is not None},
            "mode_due": {k: v for k, v in self._mode_due.items() if v is not None},
            "held": sorted(self._held),
        }

    # ---------------------------------------------------------------- reducer

    def _apply_event(self, event: EventLike) -> None:
        """Apply one ``zone.*`` or ``mode.*`` event (the reducer; the engine's job).

        Raises:
            JournalError: the event names an unknown zone or mode.
            KeyError: the event names a unit the city lacks.
        """
        self._apply_fields(event.type, event.unit, event.new, event.data, event.seq)

    def _apply_fields(
        self, kind: str, unit: str, new: str | None, data: Mapping[str, Any], seq: int
    ) -> None:
        """:meth:`_apply_event` on the fields it reads (the engine's apply loop reads
        them from a command's columns: no event object made)."""
        due = data.get("due")
        when = _from_iso(due) if isinstance(due, str) else None
        self._version += 1
        if kind.startswith("zone."):
            if new is None or new not in SEVERITY:
                raise JournalError(f"event {seq}: unknown zone {new!r}")
            old = self._zones.state(unit)
            if new != old:
                self._zones._force(unit, new)
                counts = self._counts[self._city.compounds.community(unit)]
                counts[old] -= 1
                counts[new] += 1
                if new == "open":
                    self._raised.discard(unit)
                else:
                    self._raised.add(unit)
            self._zone_due[unit] = when
            if data.get("hold"):
                self._held.add(unit)
            else:
                self._held.discard(unit)
        else:
            if new is None or new not in self._modes.states:
                raise JournalError(f"event {seq}: unknown mode {new!r}")
            self._modes._force(unit, new)
            self._mode_due[unit] = when

    def _apply_draft(self, planned: tuple[Any, ...]) -> bool:
        """Apply a measures draft's events at once, from its tables (see
        :meth:`MeasuresDraft.recorded`): each unit's last zone, mode, due time and
        hold, each community's zone counts, as the events one by one leave them (the
        due times those the events' texts read back); False, and nothing changed,
        when the state is not the one the draft was planned against."""
        state, version, zones, zone_dues, holds, modes, mode_dues, counts = planned
        if state is not self or version != self._version:
            return False
        self._version += 1
        self._zones._force_all(zones)
        raised = self._raised
        for unit, new in zones.items():
            if new == "open":
                raised.discard(unit)
            else:
                raised.add(unit)
        mine = self._counts
        for community, got in counts.items():
            dict.update(mine[community], got)
        self._zone_due.update(zone_dues)
        held = self._held
        for unit, hold in holds.items():
            if hold:
                held.add(unit)
            else:
                held.discard(unit)
        self._modes._force_all(modes)
        self._mode_due.update(mode_dues)
        return True

    def _apply_run(
        self,
        kind: str,
        columns: tuple[list[str], list[str | None], list[Any]],
        start: int,
        stop: int,
        first: int,
    ) -> None:
        """:meth:`_apply_fields` on the run ``start:stop`` of events of one ``kind`` of a
        command's columns (their units, new states and data; ``first`` is the seq of
        the columns' first event), the state's tables read once for the run: a
        case's zones and modes, a declaration's thousands.

        Raises:
            what :meth:`_apply_fields` raises for the event that raises (JournalError
                for an unknown zone or mode, KeyError for a unit the city lacks),
                its index in the columns left in ``_stopped_at``; the events before
                it are applied.
        """
        units, news, datas = columns
        last_text: object = None
        last_when: datetime | None = None
        index = start
        self._version += 1
        try:
            if kind.startswith("zone."):
                models, force = self._zones._models, self._zones._force
                counts, community_of = self._counts, self._city.compounds.community
                raised, held, dues = self._raised, self._held, self._zone_due
                for index in range(start, stop):
                    unit, new, raw = units[index], news[index], datas[index]
                    data = raw if type(raw) is dict else record_data(raw)
                    due = data.get("due")
                    if due is not last_text:
                        last_text = due
                        last_when = _from_iso(due) if isinstance(due, str) else None
                    if new is None or new not in SEVERITY:
                        raise JournalError(f"event {first + index}: unknown zone {new!r}")
                    old = models[unit].state
                    if new != old:
                        force(unit, new)
                        count = counts[community_of(unit)]
                        count[old] -= 1
                        count[new] += 1
                        if new == "open":
                            raised.discard(unit)
                        else:
                            raised.add(unit)
                    dues[unit] = last_when
                    if data.get("hold"):
                        held.add(unit)
                    else:
                        held.discard(unit)
                return
            states, force, dues = self._modes.states, self._modes._force, self._mode_due
            for index in range(start, stop):
                unit, new, raw = units[index], news[index], datas[index]
                data = raw if type(raw) is dict else record_data(raw)
                due = data.get("due")
                if due is not last_text:
                    last_text = due
                    last_when = _from_iso(due) if isinstance(due, str) else None
                if new is None or new not in states:
                    raise JournalError(f"event {first + index}: unknown mode {new!r}")
                force(unit, new)
                dues[unit] = last_when
        except Exception:
            self._stopped_at = index
            raise

    # -------------------------------------------------------------- snapshots

    def _dump(self) -> dict[str, Any]:
        """The state as JSON-ready data (only what differs from a new city)."""
        zones, modes = self._zones.states_of(), self._modes.states_of()
        return {
            "zones": {c: z for c, z in zones.items() if z != "open"},
            "modes": {c: m for c, m in modes.items() if m != "normal"},
            "zone_due": {c: d.isoformat() for c, d in self._zone_due.items() if d is not None},
            "mode_due": {c: d.isoformat() for c, d in self._mode_due.items() if d is not None},
            "held": sorted(self._held),
        }

    def _load(self, data: Mapping[str, Any]) -> None:
        """Take the state :meth:`_dump` wrote (on a new, untouched instance).

        Raises:
            KeyError, TypeError, ValueError: the data is malformed.
        """
        for compound, zone in data["zones"].items():
            if zone not in SEVERITY:
                raise ValueError(f"unknown zone {zone!r}")
            old = self._zones.state(compound)
            self._zones._force(compound, zone)
            counts = self._counts[self._city.chain.community_of(compound)]
            counts[old] -= 1
            counts[zone] += 1
            if zone == "open":
                self._raised.discard(compound)
            else:
                self._raised.add(compound)
        for community, mode in data["modes"].items():
            if mode not in self._modes.states:
                raise ValueError(f"unknown mode {mode!r}")
            self._modes.state(community)
            self._modes._force(community, mode)
        for compound, due in data["zone_due"].items():
            self._zones.state(compound)
            self._zone_due[compound] = datetime.fromisoformat(due)
        for community, due in data["mode_due"].items():
            self._modes.state(community)
            self._mode_due[community] = datetime.fromisoformat(due)
        for compound in data["held"]:
            self._zones.state(compound)
            self._held.add(str(compound))
        self._version += 1


# =================================================================== planner


@attrs.frozen
class MeasuresPlan:
    """What one command does to zones and modes: its event records, in order."""

    #: The ``zone.*`` / ``mode.*`` records (after any leading records of the command).
    records: tuple[Record, ...]
    #: Compounds whose zone changed: compound -> (zone before, zone after).
    changes: Mapping[str, tuple[str, str]]
    #: Communities whose mode ends up ``normal`` after a change.
    normal: frozenset[str]
    #: Deadlines set by this plan.
    pushes: tuple[Deadline, ...]


class MeasuresDraft:
    """Mutable working state of one planning run over a read-only :class:`Measures`.

    The overlay holds the zones and modes as the plan has them so far; the
    state itself is never touched. :meth:`plan` freezes the result.
    """

    def __init__(self, state: Measures, city: City, rules: Rules) -> None:
        self.state = state
        self.city = city
        self.rules = rules
        self.records: list[Record] = []
        self.zone: dict[str, str] = {}
        self.zone_due: dict[str, datetime | None] = {}
        self.hold: dict[str, bool] = {}
        self.mode: dict[str, str] = {}
        self.mode_due: dict[str, datetime | None] = {}
        self.counts: dict[str, Counter[str]] = {}
        self.pushes: list[Deadline] = []
        #: Zone of each changed compound before this plan.
        self.first_zone: dict[str, str] = {}
        #: Pushes already put on the heap of :func:`plan_due`.
        self.scheduled = 0
        #: A compound's community (the state's dict of them, read in C).
        self.community_of = state._community_getter()
        #: The mode machine's compiled transitions: (mode, trigger) -> mode.
        self.mode_table = state._modes.table()
        #: The due time :meth:`iso` printed last, its text, and the time read back from
        #: the text (what the events give the state: ``zone_due``, ``mode_due`` keep it).
        self._iso_due: datetime | None = None
        self._iso_text = ""
        self._iso_read: datetime | None = None
        #: The changes applied to the state this draft reads (see Measures._apply_draft).
        self.version = state._version
        #: The deadlines made by :meth:`after` from ``_after_start``, by length in days.
        self._after_start: datetime | None = None
        self._after: dict[float, datetime] = {}

    def iso(self, due: datetime | None) -> str | None:
        """``due.isoformat()`` (None for None), remembered (:func:`iso_time`); the last
        one asked for is kept by identity (a plan's records share a few due times,
        each one object: no key made or compared)."""
        if due is None:
            return None
        if due is self._iso_due:
            return self._iso_text
        # iso_time() and _from_iso(), their memos read here first (two calls a time).
        text = _ISO_TEXTS.get((due, due.tzinfo, due.fold)) if type(due) is datetime else None
        if text is None:
            text = iso_time(due)
        read = _DUE_TIMES.get(text)
        self._iso_due, self._iso_text = due, text
        self._iso_read = read if read is not None else _from_iso(text)
        return text

    # ------------------------------------------------------------- overlay

    def zone_of(self, compound: str) -> str:
        got = self.zone.get(compound)
        return got if got is not None else self.state.zone(compound)

    def zone_due_of(self, compound: str) -> datetime | None:
        if compound in self.zone_due:
            return self.zone_due[compound]
        return self.state.zone_due(compound)

    def held(self, compound: str) -> bool:
        if compound in self.hold:
            return self.hold[compound]
        return self.state.held(compound)

    def mode_of(self, community: str) -> str:
        got = self.mode.get(community)
        return got if got is not None else self.state.mode(community)

    def mode_due_of(self, community: str) -> datetime | None:
        if community in self.mode_due:
            return self.mode_due[community]
        return self.state.mode_due(community)

    def count(self, community: str) -> Counter[str]:
        """The draft's own counts of ``community``'s zones, to change."""
        got = self.counts.get(community)
        if got is None:
            # An empty Counter made without Counter.__init__ (two Python calls that
            # add nothing), then filled in C.
            got = _new_counter(Counter)
            dict.update(got, self.state.counts(community))
            self.counts[community] = got
        return got

    def counts_now(self, community: str) -> Mapping[str, int]:
        """``community``'s zone counts as the draft has them (read only: no copy)."""
        got = self.counts.get(community)
        return got if got is not None else self.state.counts(community)

    def plan(self) -> MeasuresPlan:
        """The frozen result of this run."""
        # A compound in first_zone has its zone in the draft (set_zone keeps both).
        zone = self.zone
        changes = {c: (old, zone[c]) for c, old in self.first_zone.items() if zone[c] != old}
        # The communities whose mode ends normal, picked in C.
        modes = self.mode
        normal = frozenset(itertools.compress(modes, map(operator.eq, modes.values(), _NORMAL)))
        return MeasuresPlan(tuple(self.records), changes, normal, tuple(self.pushes))

    def recorded(self) -> list[RecordColumns]:
        """The draft's records as the engine commits them: in columns, with the draft's
        tables (each unit's last zone, due time, hold and mode, each community's zone
        counts: what the records applied one by one leave) for the reducer
        (``RecordColumns.planned``, see :meth:`Measures._apply_draft`), which applies
        them at once; none when there are no records."""
        records = self.records
        if not records:
            return []
        times, kinds, units, causes, olds, news, datas = map(list, zip(*records, strict=True))
        tables = (self.zone, self.zone_due, self.hold, self.mode, self.mode_due, self.counts)
        planned: list[tuple[Any, ...]] = [(self.state, self.version, *tables)]
        return [RecordColumns(times, kinds, units, causes, olds, news, datas, planned)]

    # -------------------------------------------------------------- staging

    def set_zone(
        self,
        compound: str,
        new: str,
        due: datetime | None,
        hold: bool,
        when: datetime,
        cause: str,
        old: str | None = None,
    ) -> None:
        """Stage ``compound``'s zone ``new`` (``old``: its zone in the draft, when the
        caller has read it)."""
        board = self.state._zones
        if old is None:
            old = self.zone_of(compound)
        # The due time as the event's text gives it (printed here, read back once).
        text = self._iso_text if due is self._iso_due and due is not None else self.iso(due)
        self.zone_due[compound] = None if due is None else self._iso_read
        self.hold[compound] = hold
        if new == old:
            data: dict[str, Any] = {"due": text, "hold": hold}
            self.records.append(
                _record(Record, (when, "zone.renewed", compound, cause, old, new, data))
            )
        else:
            trigger = board._trigger_to.get((old, new))  # trigger_to(), read without a call
            if trigger is None:  # pragma: no cover - every pair of zones has a trigger
                board.destination(compound, old, f"to {new}")
                return
            if compound not in self.first_zone:
                self.first_zone[compound] = old
            self.zone[compound] = new
            community = self.community_of(compound)
            counts = self.counts.get(community)
            if counts is None:
                counts = self.count(community)
            counts[old] -= 1
            counts[new] += 1
            data = {"trigger": trigger, "due": text, "hold": hold}
            self.records.append(
                _record(Record, (when, "zone.changed", compound, cause, old, new, data))
            )
        if due is not None:
            self.pushes.append((due, ZONE_DUE, compound))

    def set_mode(
        self,
        community: str,
        trigger: str,
        due: datetime | None,
        when: datetime,
        cause: str,
        old: str | None = None,
    ) -> None:
        """Stage ``trigger`` on ``community``'s mode (``old``: its mode in the draft, when
        the caller has read it), by the mode machine's compiled table."""
        if old is None:
            old = self.mode_of(community)
        new = self.mode_table.get((old, trigger))
        if new is None:  # not allowed there: the board raises its TransitionError
            new = self.state.mode_board.destination(community, old, trigger)
        self.mode[community] = new
        # The due time printed last, read without a call (see iso), and read back.
        text = None if due is None else self._iso_text if due is self._iso_due else self.iso(due)
        self.mode_due[community] = None if due is None else self._iso_read
        data = {"trigger": trigger, "due": text}
        self.records.append(
            _record(Record, (when, "mode.changed", community, cause, old, new, data))
        )
        if due is not None:
            self.pushes.append((due, MODE_DUE, community))

    def renew_mode(self, community: str, due: datetime, when: datetime, cause: str) -> None:
        mode = self.mode_of(community)
        data = {"due": self.iso(due)}
        self.mode_due[community] = self._iso_read
        self.records.append(
            _record(Record, (when, "mode.renewed", community, cause, mode, mode, data))
        )
        self.pushes.append((due, MODE_DUE, community))

    # ------------------------------------------------------------ decisions

    def after(self, start: datetime, days: float) -> datetime:
        """``start`` plus ``days`` days: one object for each length from the same start
        in this draft, so a plan's equal deadlines (a case's sealed zone and its alerts,
        its controlled and precaution zones) share one, and its text is printed once
        (an aware time's hash and ISO text cost some 10 k instructions each new one)."""
        if start is not self._after_start:
            self._after_start = start
            self._after = {}
        got = self._after.get(days)
        if got is None:
            period = _PERIODS.get(days)  # _days(days), its memo read here first
            got = self._after[days] = start + (period if period is not None else _days(days))
        return got

    def zone_deadline(self, zone: str, start: datetime) -> datetime | None:
        if zone == "open":
            return None
        return self.after(start, self.rules.zones[zone].after_quiet_days)

    def step_up(
        self,
        compounds: Iterable[str],
        zone: str,
        start: datetime,
        now: datetime,
        cause: str,
        hold: bool = False,
    ) -> dict[str, None]:
        """Raise compounds to ``zone`` (never lower); returns the communities touched."""
        community_of = self.community_of
        touched: dict[str, None] = {}
        target = SEVERITY[zone]
        # zone_deadline(zone, start), read here (a call each step).
        due = (
            None
            if hold or zone == "open"
            else self.after(start, self.rules.zones[zone].after_quiet_days)
        )
        # zone_of() read here (a call each costs as much as a dozen lines).
        zones, models = self.zone, self.state._zones._models
        for compound in compounds:
            current = zones.get(compound)
            if current is None:
                model = models.get(compound)
                current = model.state if model is not None else self.zone_of(compound)
            if SEVERITY[current] < target:
                self.set_zone(compound, zone, due, hold, now, cause, current)
                touched[community_of(compound)] = None
            elif current == zone:
                old_due = self.zone_due_of(compound)
                if hold and not self.held(compound):
                    self.set_zone(compound, zone, None, True, now, cause)
                elif (
                    not self.held(compound)
                    and due is not None
                    and (old_due is None or due > old_due)
                ):
                    self.set_zone(compound, zone, due, False, now, cause)
                touched[community_of(compound)] = None
        return touched

    def step_down(self, compound: str, when: datetime) -> None:
        current = self.zone_of(compound)
        step = self.rules.zones[current]
        target = step.step_down_to
        cause = f"{current} for {step.after_quiet_days:g} quiet day(s)"
        self.set_zone(compound, target, self.zone_deadline(target, when), False, when, cause)
        self.settle(self.city.chain.community_of(compound), when, cause)

    def settle_all(
        self,
        communities: Iterable[str],
        now: datetime,
        cause: str,
        alert_from: datetime | None = None,
    ) -> None:
        start = alert_from if alert_from is not None else now
        until = self.after(start, self.rules.modes.alert_quiet_days)
        # What settle() and the reads below would look up, read here directly (a
        # case settles a street's communities; most of them change nothing).
        state = self.state
        draft_counts, state_counts = self.counts, state._counts
        draft_modes, models = self.mode, state._modes._models
        draft_dues, state_dues = self.mode_due, state._mode_due
        counts: Mapping[str, int] | None
        # A normal community's alert, as set_mode stages it (None: not allowed, which
        # set_mode raises).
        raised = self.mode_table.get(("normal", "raise_alert"))
        text: str | None = None
        read: datetime | None = None  # ``until`` read back from its text
        add_record, add_push = self.records.append, self.pushes.append
        for community in communities:
            counts = draft_counts.get(community)
            if counts is None:
                counts = state_counts.get(community, _NO_COUNTS)
            mode = draft_modes.get(community)
            if mode is None:
                mode = models[community].state
            if counts["sealed"] + counts["controlled"]:
                # settle()'s step for these counts and this mode, taken here (its reads
                # are those above: five calls for the case's own community).
                if mode == "normal" or mode == "alert":
                    self.set_mode(community, "declare_emergency", None, now, cause, mode)
                elif mode == "recovery":
                    self.set_mode(community, "relapse", None, now, cause, mode)
                continue
            if mode == "emergency":
                self.settle(community, now, cause)
                mode = self.mode_of(community)
            elif (mode == "alert" or mode == "recovery") and not counts["precaution"]:
                due = (
                    draft_dues[community] if community in draft_dues else state_dues.get(community)
                )
                if due is not None and due <= now:
                    # Its period is over: settle() ends it.
                    self.settle(community, now, cause)
                    mode = self.mode_of(community)
            if mode == "normal":
                if raised is None:
                    self.set_mode(community, "raise_alert", until, now, cause, mode)
                    continue
                # set_mode's staging, its reads made once for the street's communities
                # (most of a case's events; a call each cost a fifth of the case's
                # measures plan): the table's mode, the due time's text.
                if text is None:
                    text, read = self.iso(until), self._iso_read
                draft_modes[community] = raised
                draft_dues[community] = read
                data = {"trigger": "raise_alert", "due": text}
                add_record(
                    _record(Record, (now, "mode.changed", community, cause, mode, raised, data))
                )
                add_push((until, MODE_DUE, community))
            elif mode == "alert":
                due = (
                    draft_dues[community] if community in draft_dues else state_dues.get(community)
                )
                if due is None or until > due:
                    self.renew_mode(community, until, now, cause)

    def settle(self, community: str, when: datetime, cause: str, hurry: bool = False) -> None:
        """Bring a community's mode in line with its compounds' zones at ``when``.

        Any sealed or controlled compound means emergency. Without them, an
        emergency begins recovery; recovery and alert end once their period is
        over and every compound is open (``hurry`` ends them at once).
        """
        counts = self.counts_now(community)
        mode = self.mode_of(community)
        if counts["sealed"] + counts["controlled"]:
            if mode in ("normal", "alert"):
                self.set_mode(community, "declare_emergency", None, when, cause, mode)
            elif mode == "recovery":
                self.set_mode(community, "relapse", None, when, cause, mode)
            return
        if mode == "emergency":
            recovery = when + _days(self.rules.modes.recovery_days)
            self.set_mode(community, "begin_recovery", recovery, when, cause, mode)
            mode = "recovery"
            if not hurry:
                return
        if counts["precaution"]:
            return
        mode_due = self.mode_due_of(community)
        over = hurry or (mode_due is not None and mode_due <= when)
        if mode == "recovery" and over:
            self.set_mode(community, "resume_normal", None, when, cause)
        elif mode == "alert" and over:
            self.set_mode(community, "stand_down", None, when, cause)


# ============================================================ plan functions


def check_declarable(zone: str) -> None:
    """Raise unless ``zone`` can be declared (sealed, controlled or precaution)."""
    if zone not in SEVERITY or zone == "open":
        raise CommandError(
            f"cannot declare zone {zone!r} (expected sealed, controlled or precaution; "
            "use lift to open)",
            reason="not a zone to declare",
        )


def check_liftable(to: str) -> None:
    """Raise unless measures can be lifted to ``to`` (open, precaution or controlled)."""
    if to not in SEVERITY or to == "sealed":
        raise CommandError(
            f"cannot lift to {to!r} (expected open, precaution or controlled)",
            reason="not a zone to lift to",
        )


def plan_case(draft: MeasuresDraft, compound: str, when: datetime, now: datetime) -> None:
    """Stage the rules' case measures around ``compound`` (case confirmed at ``when``)."""
    cause = f"case in {compound}"
    memo = draft.state._case_scopes
    got = memo.get(compound)
    if got is None or got[0] is not draft.rules:
        # The scopes depend on the city and the rules only: worked out once per compound.
        below = draft.state._below()
        got = memo[compound] = (draft.rules, *case_scopes(draft.city, draft.rules, compound, below))
    _, sealed, controlled, watched, alert = got
    touched: dict[str, None] = {}
    for zone, members in (("sealed", sealed), ("controlled", controlled), ("precaution", watched)):
        if members:  # (a scope with none steps nothing up: not called)
            touched.update(draft.step_up(members, zone, when, now, cause))
    alerted: dict[str, None] = dict.fromkeys(alert)
    alerted.update(touched)
    draft.settle_all(alerted, now, cause, alert_from=when)


def case_scopes(
    city: City, rules: Rules, compound: str, below: _Below | None = None
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """What the rules' case measures reach around ``compound``: the compounds sealed,
    controlled and under precaution (each sorted, none in two), and the communities
    put on alert (sorted).

    ``below`` (the city's units' compounds and communities, worked out at once)
    answers the scopes that are levels as :func:`~gridgov.modes.compounds_in_scope`
    and :func:`~gridgov.modes.communities_in_scope` do, without walking the chain."""
    case, areas = rules.case, rules.areas
    reach = compounds_in_scope if below is None else below.compounds_in_scope
    sealed = set(reach(city, compound, case.seal, areas))
    controlled: set[str] = set()
    if case.control is not None:
        controlled = set(reach(city, compound, case.control, areas)) - sealed
    watched: set[str] = set()
    if case.precaution is not None:
        watched = set(reach(city, compound, case.precaution, areas))
        watched -= sealed | controlled
    alerted: tuple[str, ...] = ()
    if case.alert is not None:
        alert = communities_in_scope if below is None else below.communities_in_scope
        alerted = alert(city, compound, case.alert, areas)
    return tuple(sorted(sealed)), tuple(sorted(controlled)), tuple(sorted(watched)), alerted


class _Below:
    """The compounds and the communities below every unit of a city (each sorted),
    worked out in one pass over the chain: what a case's scopes read."""

    __slots__ = ("_communities", "_compounds")

    def __init__(self, city: City) -> None:
        chain = city.chain
        compounds: dict[str, list[str]] = {}
        communities: dict[str, list[str]] = {}
        for table, level in ((compounds, Level.COMPOUND), (communities, Level.COMMUNITY)):
            for unit in chain.units(level):
                for up in chain.chain_of_command(unit)[1:]:
                    got = table.get(up)
                    if got is None:
                        table[up] = [unit]
                    else:
                        got.append(unit)
        self._compounds = {u: tuple(sorted(c)) for u, c in compounds.items()}
        self._communities = {u: tuple(sorted(c)) for u, c in communities.items()}

    def compounds_in_scope(
        self, city: City, compound: str, scope: str, areas: Mapping[str, Sequence[str]]
    ) -> tuple[str, ...]:
        """:func:`~gridgov.modes.compounds_in_scope` (the same answer, the same errors)."""
        level = _LEVELS.get(scope)
        if level is None or scope in areas:
            return compounds_in_scope(city, compound, scope, areas)
        if level is _COMPOUND:
            return (compound,)
        if level is _GRID:
            # compounds_sharing_a_grid, read from the city's tables (a compound with
            # no grid, or none of the city's, asked of it: the same answer or error).
            grids = city._grids_of_compound.get(compound)
            if grids is None:
                return compounds_sharing_a_grid(city, compound)
            reached = {compound}
            reached.update(*map(city._compounds_of_grid.get, grids, _NONE))
            return tuple(sorted(reached))
        return self._compounds.get(self._ancestor(city, compound, level), ())

    @staticmethod
    def _ancestor(city: City, compound: str, level: Level) -> str:
        """``city.chain.ancestor(compound, level)``, read from the chain's tables (the
        chain's own answer, or error, for a unit it does not know or has none above)."""
        chain = city.chain
        up = chain._up.get(compound)
        if up is not None:
            levels = chain._level
            for unit in up:
                if levels[unit] is level:
                    return unit
        return chain.ancestor(compound, level)

    def communities_in_scope(
        self, city: City, compound: str, scope: str, areas: Mapping[str, Sequence[str]]
    ) -> tuple[str, ...]:
        """:func:`~gridgov.modes.communities_in_scope` (the same answer, the same errors)."""
        level = _LEVELS.get(scope)
        if level is None or scope in areas or level not in _ABOVE_COMMUNITY:
            return communities_in_scope(city, compound, scope, areas)
        return self._communities.get(self._ancestor(city, compound, level), ())


#: Every level by its name.
_LEVELS = {level.value: level for level in Level}
# Read once (an enum member read through its class goes through the enum
# metaclass's attribute hook, some 300 ns a read; ``rank`` is a property).
_COMPOUND, _GRID = Level.COMPOUND, Level.GRID
#: No grid's compounds, for ever (the default of a ``get`` mapped in C).
_NONE = itertools.repeat(())
#: The levels above a community (a scope there alerts the communities below it).
_ABOVE_COMMUNITY = frozenset(lv for lv in Level if lv.rank < Level.COMMUNITY.rank)


def plan_declare(
    draft: MeasuresDraft,
    compounds: Iterable[str],
    zone: str,
    hold: bool,
    now: datetime,
    cause: str,
) -> None:
    """Stage stepping ``compounds`` up to ``zone`` (never down) and the modes that follow."""
    touched = draft.step_up(compounds, zone, now, now, cause, hold=hold)
    draft.settle_all(touched, now, cause)


def plan_lift(
    draft: MeasuresDraft,
    units: Iterable[str],
    to: str,
    skip_recovery: bool,
    now: datetime,
    cause: str,
) -> None:
    """Stage stepping the compounds at or below ``units`` down to ``to``.

    Only compounds not open can step down: the lift reads those (the state
    keeps them), not every compound below ``units``, so lifting the whole
    city costs what it changes.
    """
    touched: dict[str, None] = {}
    city = draft.city
    chain = city.chain
    raised = draft.state._raised.union(draft.zone)
    covered: set[str] = set()
    above: set[str] = set()
    for unit in units:
        if chain.level(unit) is Level.GRID:
            covered.update(city.compounds_of(unit))
        else:
            above.add(unit)
    reached = [c for c in raised if c in covered or not above.isdisjoint(chain.chain_of_command(c))]
    for compound in sorted(reached):
        if SEVERITY[draft.zone_of(compound)] > SEVERITY[to]:
            draft.set_zone(compound, to, draft.zone_deadline(to, now), False, now, cause)
            touched[chain.community_of(compound)] = None
    for community in touched:
        draft.settle(community, now, cause)
        if skip_recovery:
            draft.settle(community, now, cause, hurry=True)


def plan_due(
    draft: MeasuresDraft, heap: list[Deadline], due_time: datetime, when: datetime
) -> None:
    """Stage every step-down of ``heap`` due at ``due_time`` (popping them), recorded at ``when``.

    Deadlines set on the way that fall due by ``due_time`` are taken too; an
    alert chain's deadline stops the run (it commits on its own).
    """
    while heap and heap[0][0] <= due_time and heap[0][1] != ALERT_DUE:
        due, kind, unit = heapq.heappop(heap)
        if kind == ZONE_DUE:
            if draft.zone_due_of(unit) != due:
                continue
            draft.step_down(unit, when)
        else:
            if draft.mode_due_of(unit) != due:
                continue
            draft.settle(unit, when, "quiet period over")
        for item in draft.pushes[draft.scheduled :]:
            heapq.heappush(heap, item)
        draft.scheduled = len(draft.pushes)


def plan_alert_measures(
    draft: MeasuresDraft,
    lowers: Iterable[tuple[str, str, bool]],
    releases: Iterable[str],
    declares: Iterable[tuple[str, Iterable[str]]],
    now: datetime,
    alert: str,
) -> None:
    """Stage the zone changes an alert plan asks (see :class:`gridgov.alerts.AlertPlan`).

    ``lowers`` step compounds down (compound, zone, hold), ``releases`` end
    the hold of held compounds (their quiet period starts now), ``declares``
    step units up, held while the alert's chain is live.
    """
    cause = f"CAP alert {alert}"
    touched: dict[str, None] = {}
    chain = draft.city.chain
    for compound, zone, hold in lowers:
        if SEVERITY[draft.zone_of(compound)] > SEVERITY[zone]:
            due = None if hold else draft.zone_deadline(zone, now)
            draft.set_zone(compound, zone, due, hold, now, cause)
            touched[chain.community_of(compound)] = None
    for compound in releases:
        if draft.held(compound):
            current = draft.zone_of(compound)
            draft.set_zone(compound, current, draft.zone_deadline(current, now), False, now, cause)
            touched[chain.community_of(compound)] = None
    for community in touched:
        draft.settle(community, now, cause)
    for zone, units in declares:
        plan_declare(draft, units_compounds(draft.city, units), zone, True, now, cause)

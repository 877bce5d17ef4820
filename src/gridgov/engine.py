"""The Engine: the facade that switches communities and compounds, all or nothing.

Commands (:meth:`Engine.report_case`, :meth:`Engine.declare`,
:meth:`Engine.lift`, :meth:`Engine.advance`) first *plan* the full set of
changes against the transition tables compiled from the machines in
:mod:`gridgov.modes`, without touching any state; a command that would make an
illegal move raises before anything changes. Only then are the changes fired
through the ``transitions`` machines, and one event per change is appended to
the journal in one go. If applying fails half-way (a bug, not bad input), the
touched units are put back and no event is recorded.

Time-based step-downs are deadlines kept by the engine in one schedule ordered
by due time and driven by the injected clock (not ``transitions`` timeouts,
which start a thread per model and are lost on a restart). Each deadline is
also written into the event that set it, so replaying the journal restores the
schedule exactly.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import logging
import os
import pickle
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Concatenate, ParamSpec

import attrs

from gridgov._gc import gc_paused
from gridgov.alerts import (
    ALERT_EVENTS,
    MAX_ALERT_BYTES,
    AlertBook,
    AlertError,
    AlertPlan,
    AlertRule,
    AreaMatcher,
    Review,
)
from gridgov.city import City
from gridgov.clock import Clock, ManualClock, WallClock
from gridgov.errors import AuthorityError, GridgovError, JournalError, UnknownUnitError
from gridgov.journal import CommandRecord, Event, MemoryJournal, SqliteJournal
from gridgov.model import Level, PersonKind, Post
from gridgov.modes import (
    ZONES,
    StateBoard,
    communities_in_scope,
    compounds_in_scope,
    mode_board,
    units_compounds,
    zone_board,
)
from gridgov.rules import Rules
from gridgov.staffing import (
    CLAIMABLE,
    Assignment,
    Pools,
    Release,
    Roster,
    Shortfall,
    StaffingPlan,
    StaffPost,
    plan_staffing,
)
from gridgov.supplies import SupplyNetwork
from gridgov.supply_book import SUPPLY_EVENTS, SupplyBook, hands_at, plan_supply_day
from gridgov.tickets import KINDS as TICKET_KINDS
from gridgov.tickets import Private, TicketChange, TicketDesk, situation_from

__all__ = ["CommandResult", "Engine"]

_SEVERITY = {zone: rank for rank, zone in enumerate(ZONES)}
_SYSTEM = "system"
# Ticket states a delivery fulfils, and the trigger that moves each towards fed_back.
_TO_FED_BACK = {
    "accepted": "classify",
    "classified": "track",
    "tracking": "supervise",
    "supervising": "feed_back",
}
_SUPPLY_OPEN = frozenset(_TO_FED_BACK)
# Deadlines of zones fall before those of modes at the same instant, so a
# community sees its compounds' step-downs before it decides its own mode.
_ZONE, _MODE = 0, 1
# Alert chains' deadlines (scheduled starts, expiries) come after both, one per commit.
_ALERT = 2

Deadline = tuple[datetime, int, str]


_log = logging.getLogger("gridgov.engine")

P = ParamSpec("P")
Journal = MemoryJournal | SqliteJournal
Subscriber = Callable[[Event], object]

#: Commands whose work may land in several commits (one per due time).
_MULTI_COMMIT = frozenset({"advance"})


def _command(
    fn: Callable[Concatenate[Engine, P], CommandResult],
) -> Callable[Concatenate[Engine, P], CommandResult]:
    """Make ``fn`` an engine command: serialised, retry-safe, audited, delivered.

    The wrapper holds the engine's lock for the whole command; answers a
    repeated idempotency ``key`` with the first result; records a refusal
    event when the command raises :class:`AuthorityError`; and hands the
    committed events to the subscribers.
    """

    @functools.wraps(fn)
    def run(self: Engine, /, *args: P.args, **kwargs: P.kwargs) -> CommandResult:
        return self._run(fn.__name__, functools.partial(fn, self), args, kwargs)

    return run


def _fingerprint(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    shown = [repr(a) for a in args]
    shown += [f"{k}={v!r}" for k, v in sorted(kwargs.items()) if k not in ("key", "command_id")]
    return f"{name}({', '.join(shown)})"


@attrs.frozen
class CommandResult:
    """What one command did."""

    #: The command's id (in every event it caused).
    command: str
    #: The events it recorded, in order.
    events: tuple[Event, ...]

    def changes(self, type: str | None = None) -> list[Event]:
        """The events of ``type`` (all when None)."""
        return [e for e in self.events if type is None or e.type == type]


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def _days(days: float) -> timedelta:
    return timedelta(days=days)


class _Plan:
    """Changes staged by one command over the engine's state, not yet applied."""

    def __init__(self, engine: Engine, command: str, actor: str) -> None:
        self.engine = engine
        self.command = command
        self.actor = actor
        self.zone: dict[str, str] = {}
        self.zone_due: dict[str, datetime | None] = {}
        self.hold: dict[str, bool] = {}
        self.mode: dict[str, str] = {}
        self.mode_due: dict[str, datetime | None] = {}
        self.counts: dict[str, Counter[str]] = {}
        self.fires: list[tuple[StateBoard, str, str]] = []
        self.records: list[
            tuple[datetime, str, str, str, str | None, str | None, dict[str, Any]]
        ] = []
        self.pushes: list[Deadline] = []
        self.heap: list[Deadline] | None = None
        #: Zone of each changed compound before this command.
        self.first_zone: dict[str, str] = {}
        #: Ticket changes staged by this command.
        self.tickets: list[TicketChange] = []
        #: Also try to fill open shortfalls.
        self.refill = False
        self.staffing: StaffingPlan | None = None

    # ------------------------------------------------------------- overlay

    def zone_of(self, compound: str) -> str:
        got = self.zone.get(compound)
        return got if got is not None else self.engine._zones.state(compound)

    def zone_due_of(self, compound: str) -> datetime | None:
        if compound in self.zone_due:
            return self.zone_due[compound]
        return self.engine._zone_due.get(compound)

    def held(self, compound: str) -> bool:
        if compound in self.hold:
            return self.hold[compound]
        return compound in self.engine._held

    def mode_of(self, community: str) -> str:
        got = self.mode.get(community)
        return got if got is not None else self.engine._modes.state(community)

    def mode_due_of(self, community: str) -> datetime | None:
        if community in self.mode_due:
            return self.mode_due[community]
        return self.engine._mode_due.get(community)

    def count(self, community: str) -> Counter[str]:
        got = self.counts.get(community)
        if got is None:
            got = Counter(self.engine._zone_counts.get(community, Counter()))
            self.counts[community] = got
        return got

    # -------------------------------------------------------------- staging

    def record(
        self,
        when: datetime,
        type: str,
        unit: str,
        cause: str,
        old: str | None = None,
        new: str | None = None,
        **data: Any,
    ) -> None:
        self.records.append((when, type, unit, cause, old, new, data))

    def set_zone(
        self,
        compound: str,
        new: str,
        due: datetime | None,
        hold: bool,
        when: datetime,
        cause: str,
    ) -> None:
        board = self.engine._zones
        old = self.zone_of(compound)
        if new == old:
            self.zone_due[compound] = due
            self.hold[compound] = hold
            self.record(when, "zone.renewed", compound, cause, old, new, due=_iso(due), hold=hold)
        else:
            trigger = board.trigger_to(old, new)
            if trigger is None:  # pragma: no cover - every pair of zones has a trigger
                board.destination(compound, old, f"to {new}")
                return
            self.fires.append((board, compound, trigger))
            self.first_zone.setdefault(compound, old)
            self.zone[compound] = new
            self.zone_due[compound] = due
            self.hold[compound] = hold
            counts = self.count(self.engine.city.chain.community_of(compound))
            counts[old] -= 1
            counts[new] += 1
            self.record(
                when,
                "zone.changed",
                compound,
                cause,
                old,
                new,
                trigger=trigger,
                due=_iso(due),
                hold=hold,
            )
        if due is not None:
            self.pushes.append((due, _ZONE, compound))

    def set_mode(
        self,
        community: str,
        trigger: str,
        due: datetime | None,
        when: datetime,
        cause: str,
    ) -> None:
        board = self.engine._modes
        old = self.mode_of(community)
        new = board.destination(community, old, trigger)
        self.fires.append((board, community, trigger))
        self.mode[community] = new
        self.mode_due[community] = due
        self.record(
            when, "mode.changed", community, cause, old, new, trigger=trigger, due=_iso(due)
        )
        if due is not None:
            self.pushes.append((due, _MODE, community))

    def renew_mode(self, community: str, due: datetime, when: datetime, cause: str) -> None:
        mode = self.mode_of(community)
        self.mode_due[community] = due
        self.record(when, "mode.renewed", community, cause, mode, mode, due=_iso(due))
        self.pushes.append((due, _MODE, community))


class Engine:
    """Switches a city's communities and compounds by the rules, and records every change.

    Args:
        city: the city to govern.
        rules: the rules to run by (default: :meth:`Rules.default`).
        clock: where time comes from (default: the wall clock); tests and
            simulations pass a :class:`~gridgov.clock.ManualClock`.
        journal: where events go (default: a new in-memory journal). A
            journal that already holds events is replayed (from its latest
            snapshot when it has one), so the engine starts where it stopped.
        seed: seed of the staffing pools' tie-breaking rank.
        snapshot_every: a durable journal gets a snapshot of the state after
            this many new events.
        supplies: the depots, hubs and parameters of the supply chain, to
            dispatch supplies to sealed households (:meth:`dispatch_supplies`);
            None: supplies are off.

    Raises:
        GridgovError: an area of the rules names a unit the city lacks.
        JournalError: the journal's events do not fit this city.
    """

    def __init__(
        self,
        city: City,
        rules: Rules | None = None,
        clock: Clock | None = None,
        journal: Journal | None = None,
        seed: int = 0,
        snapshot_every: int = 50_000,
        *,
        alert_rule: AlertRule | None = None,
        area_matcher: AreaMatcher | None = None,
        supplies: SupplyNetwork | None = None,
    ) -> None:
        self.city = city
        #: How CAP alerts map to measures, and when they need a person (review).
        self.alert_rule = alert_rule if alert_rule is not None else AlertRule()
        #: Matches alert polygons and circles to units (the geometry layer's);
        #: without one, shape-only alert areas go to review.
        self.area_matcher = area_matcher
        self._alerts = AlertBook()
        self.rules = rules if rules is not None else Rules.default()
        self.clock: Clock = clock if clock is not None else WallClock()
        self.journal = journal if journal is not None else MemoryJournal()
        chain = city.chain
        for area, members in self.rules.areas.items():
            missing = [m for m in members if m not in chain]
            if missing:
                raise UnknownUnitError(missing[0], f"unit (in area {area!r} of the rules) named")
        communities = chain.units(Level.COMMUNITY)
        self._modes = mode_board(communities)
        self._zones = zone_board(city.compounds)
        self._zone_due: dict[str, datetime | None] = {}
        self._mode_due: dict[str, datetime | None] = {}
        self._held: set[str] = set()
        self._zone_counts: dict[str, Counter[str]] = {}
        for compound in city.compounds.values():
            self._zone_counts.setdefault(compound.community, Counter())["open"] += 1
        self._heap: list[Deadline] = []
        self._commands = 0
        self._last_time: datetime | None = None
        self._lock = threading.RLock()
        self.seed = seed
        self._pools: Pools | None = None
        self.roster = Roster(city)
        #: The closed loop's tickets (residents' requests).
        self.tickets = TicketDesk(
            city, self.rules.tickets, situation_from(city, self.rules.tickets, self.zone, self.mode)
        )
        self._task_numbers: dict[str, int] = {}
        self._subscribers: list[tuple[Subscriber, frozenset[str] | None]] = []
        #: Errors raised by subscribers: (event seq, subscriber, the exception).
        self.delivery_errors: list[tuple[int, Subscriber, BaseException]] = []
        self._pending: tuple[str, str] | None = None
        self._pending_single = True
        self._snapshot_every = snapshot_every
        self._snapshot_seq = 0
        #: The supply book (stock and demand carried over), None when supplies are off.
        self.supplies: SupplyBook | None = None
        if supplies is not None:
            if supplies.city is not city:
                raise GridgovError("the supply network is of another city than the engine's")
            self.supplies = SupplyBook(supplies)
        if len(self.journal):
            with gc_paused():
                self._load()

    # ================================================================= reads

    def mode(self, community: str) -> str:
        """The mode of ``community``.

        Raises:
            UnknownUnitError: no such community.
        """
        if community not in self._modes:
            raise UnknownUnitError(community, "community")
        return self._modes.state(community)

    def zone(self, compound: str) -> str:
        """The zone of ``compound``.

        Raises:
            UnknownUnitError: no such compound.
        """
        if compound not in self._zones:
            raise UnknownUnitError(compound, "compound")
        return self._zones.state(compound)

    def under(self, zone: str) -> list[str]:
        """Compounds in ``zone``, sorted.

        Raises:
            GridgovError: ``zone`` is not a zone.
        """
        if zone not in _SEVERITY:
            raise GridgovError(f"unknown zone {zone!r} (expected one of: {', '.join(ZONES)})")
        return sorted(c for c, z in self._zones.states_of().items() if z == zone)

    def in_mode(self, mode: str) -> list[str]:
        """Communities in ``mode``, sorted.

        Raises:
            GridgovError: ``mode`` is not a mode.
        """
        if mode not in self._modes.states:
            raise GridgovError(
                f"unknown mode {mode!r} (expected one of: {', '.join(self._modes.states)})"
            )
        return sorted(c for c, m in self._modes.states_of().items() if m == mode)

    def zones(self) -> dict[str, str]:
        """Every compound's zone."""
        return self._zones.states_of()

    def modes(self) -> dict[str, str]:
        """Every community's mode."""
        return self._modes.states_of()

    def next_deadline(self) -> datetime | None:
        """When the next time-based change falls due (None when nothing is scheduled)."""
        while self._heap and not self._live(self._heap[0]):
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def snapshot(self) -> dict[str, Any]:
        """The whole switching state, comparable with ``==`` (for replay checks)."""
        return {
            "zones": self._zones.states_of(),
            "modes": self._modes.states_of(),
            "zone_due": {k: v for k, v in self._zone_due.items() if v is not None},
            "mode_due": {k: v for k, v in self._mode_due.items() if v is not None},
            "held": sorted(self._held),
            "commands": self._commands,
            "posts": dict(self.roster.posts),
            "holders": {k: list(v) for k, v in self.roster.holders.items() if v},
            "assignment": dict(self.roster.assignment),
            "back_since": dict(self.roster.back_since),
            "shortfalls": dict(self.roster.shortfalls),
            "drawn": {k: v for k, v in self.roster.drawn.items() if v},
            "front_line_grids": dict(self.roster.hot),
            "unavailable": self.roster.unavailable,
            "tickets": self.tickets.snapshot(),
            "task_numbers": dict(self._task_numbers),
            "alerts": self._alerts.snapshot(),
        }

    @property
    def boards(self) -> tuple[StateBoard, StateBoard]:
        """The community mode board and the compound zone board."""
        return self._modes, self._zones

    # ============================================================== commands

    @_command
    def report_case(
        self,
        compound: str,
        at: datetime | None = None,
        *,
        actor: str | None = None,
        command_id: str | None = None,
        key: str | None = None,
    ) -> CommandResult:
        """A confirmed case in ``compound``: apply the rules' case measures.

        Seals the seal scope around the compound, controls the rest of the
        control scope, puts the rest of the precaution scope under precaution,
        puts the other communities of the alert scope on alert, and declares an
        emergency in every community with a sealed or controlled compound. A
        zone only ever steps up here; zones already at the measure's level get
        their quiet period started again from the case.

        Args:
            compound: where the case is.
            at: when the case was confirmed (default: now); not in the future.
            actor: who reports it (a unit id; default ``system``).
            command_id: the command's id (default: a new one).

        Raises:
            UnknownUnitError: no such compound.
            AuthorityError: ``actor`` does not command the compound.
            GridgovError: ``at`` is in the future.
        """
        now = self.clock.now()
        self.zone(compound)
        when = at if at is not None else now
        if when > now:
            raise GridgovError(
                f"case in {compound} at {when.isoformat()} is in the future "
                f"(now is {now.isoformat()})"
            )
        who = self._authorise(actor, [compound], Level.COMPOUND, "report a case in")
        plan = self._plan(who, command_id)
        plan.record(
            now,
            "case.confirmed",
            compound,
            f"case confirmed in {compound}",
            at=when.isoformat(),
        )
        self._plan_case(plan, compound, when, now)
        return self._commit(plan)

    @_command
    def declare(
        self,
        target: str,
        zone: str = "sealed",
        *,
        actor: str | None = None,
        hold: bool = False,
        command_id: str | None = None,
        key: str | None = None,
    ) -> CommandResult:
        """Declare measures on any node of the chain (or a named area) and everything below.

        Every compound at or below ``target`` is stepped up to ``zone`` (never
        down); communities with sealed or controlled compounds go into
        emergency, those with only precaution compounds on alert.

        Args:
            target: a unit id (compound, grid, community, street, district,
                city) or the name of an area of the rules.
            zone: ``sealed``, ``controlled`` or ``precaution``.
            actor: the commander (a unit id); must be at or above the target's
                level by the rules. Default ``system`` (the city's command).
            hold: keep the measure until lifted, instead of stepping down after
                the rules' quiet days.
            command_id: the command's id (default: a new one).

        Raises:
            UnknownUnitError: ``target`` names no unit or area.
            AuthorityError: ``actor`` may not command ``target``.
            GridgovError: ``zone`` is not one of the three measures.
        """
        if zone not in _SEVERITY or zone == "open":
            raise GridgovError(
                f"cannot declare zone {zone!r} (expected sealed, controlled or precaution; "
                "use lift to open)"
            )
        units, level = self._target(target)
        who = self._authorise(actor, units, level, "declare measures on")
        now = self.clock.now()
        plan = self._plan(who, command_id)
        compounds = units_compounds(self.city, units)
        plan.record(
            now,
            "measure.declared",
            target,
            f"{zone} declared on {target} by {who}",
            zone=zone,
            hold=hold,
            compounds=len(compounds),
        )
        self._plan_declare(plan, compounds, zone, hold, now, f"{zone} declared on {target}")
        return self._commit(plan)

    @_command
    def lift(
        self,
        target: str,
        to: str = "open",
        *,
        actor: str | None = None,
        skip_recovery: bool = False,
        command_id: str | None = None,
        key: str | None = None,
    ) -> CommandResult:
        """Lift measures at or below ``target`` down to zone ``to``.

        Compounds more severe than ``to`` step down to it (and then follow the
        rules' timings from there). Communities left without sealed or
        controlled compounds begin recovery, or with ``skip_recovery`` go
        straight back to normal once all their compounds are open.

        Raises:
            UnknownUnitError: ``target`` names no unit or area.
            AuthorityError: ``actor`` may not command ``target``.
            GridgovError: ``to`` is not a zone.
        """
        if to not in _SEVERITY or to == "sealed":
            raise GridgovError(f"cannot lift to {to!r} (expected open, precaution or controlled)")
        units, level = self._target(target)
        who = self._authorise(actor, units, level, "lift measures on")
        now = self.clock.now()
        plan = self._plan(who, command_id)
        plan.record(now, "measure.lifted", target, f"lifted to {to} on {target} by {who}", to=to)
        self._plan_lift(plan, units, to, skip_recovery, now, f"lifted to {to} on {target}")
        return self._commit(plan)

    def _plan_declare(
        self,
        plan: _Plan,
        compounds: Iterable[str],
        zone: str,
        hold: bool,
        now: datetime,
        cause: str,
    ) -> None:
        touched = self._step_up(plan, compounds, zone, now, now, cause, hold=hold)
        self._settle_all(plan, touched, now, cause)

    def _plan_lift(
        self,
        plan: _Plan,
        units: Iterable[str],
        to: str,
        skip_recovery: bool,
        now: datetime,
        cause: str,
    ) -> None:
        touched: dict[str, None] = {}
        chain = self.city.chain
        for compound in units_compounds(self.city, units):
            if _SEVERITY[plan.zone_of(compound)] > _SEVERITY[to]:
                plan.set_zone(compound, to, self._zone_deadline(to, now), False, now, cause)
                touched[chain.community_of(compound)] = None
        for community in touched:
            self._settle(plan, community, now, cause)
            if skip_recovery:
                self._settle(plan, community, now, cause, hurry=True)

    @_command
    def receive_alert(
        self,
        xml: bytes | str,
        *,
        actor: str | None = None,
        exercise: bool = False,
        max_bytes: int = MAX_ALERT_BYTES,
        command_id: str | None = None,
        key: str | None = None,
    ) -> CommandResult:
        """Take an OASIS CAP 1.2 message as a command, at the engine's clock.

        The message is parsed safely (:func:`gridgov.alerts.parse_cap`) and
        planned by the CAP lifecycle (:func:`gridgov.alerts.plan_alert`)
        against what this engine received before: a repeat is a duplicate,
        an older message of a chain is stale (both recorded as
        ``alert.refused`` and change nothing); an ``Alert`` declares its
        measures (held while its chain is live), an ``Update`` supersedes its
        chain, a ``Cancel`` lifts it, never below what another live alert
        requires; a future onset or effective time and an expiry become
        deadlines the engine keeps (:meth:`advance`). Parts that need a person
        go to :attr:`reviews` (``alert.needs_review``). Every message, applied,
        ignored or sent to review, is recorded as ``alert.received``.

        Args:
            xml: the message.
            actor: who applies it (a unit or person; default ``system``).
            exercise: play ``Exercise`` messages as if they were ``Actual``.
            max_bytes: the size limit of the message.

        Raises:
            AlertError: the XML is malformed, hostile, oversized or not CAP 1.2;
                the refusal is recorded as ``alert.refused`` (digest, size,
                sender and identifier when readable, the reason; never the
                content) and nothing else changes.
            AuthorityError: ``actor`` may not command the alert's units.
        """
        from gridgov.alerts import parse_cap, plan_alert

        now = self.clock.now()
        digest, size = _payload_digest(xml)
        try:
            alert = parse_cap(xml, max_bytes=max_bytes)
        except AlertError as exc:
            sender, identifier = _readable_ids(xml)
            # The refusal is audit data, not the command's result: a retry
            # with the same idempotency key raises (and is recorded) again.
            self._pending = None
            plan = self._plan(_SYSTEM if actor is None else actor, command_id)
            plan.record(
                now,
                "alert.refused",
                self.city.chain.city,
                f"CAP message refused: {exc}",
                outcome="refused",
                reason=str(exc),
                digest=digest,
                size=size,
                sender=sender,
                identifier=identifier if identifier is not None else exc.alert,
            )
            self._deliver(self._commit(plan).events)
            raise
        decision = plan_alert(
            self.city,
            alert,
            self.alert_rule,
            now=now,
            book=self._alerts,
            zones=self._zones.state,
            exercise=exercise,
            matcher=self.area_matcher,
        )
        details: dict[str, Any] = {
            "identifier": alert.identifier,
            "sender": alert.sender,
            "sent": alert.sent.isoformat(),
            "status": alert.status,
            "msg_type": alert.msg_type,
            "digest": digest,
            "size": size,
        }
        if decision.outcome in ("duplicate", "stale"):
            plan = self._plan(_SYSTEM if actor is None else actor, command_id)
            plan.record(
                now,
                "alert.refused",
                self.city.chain.city,
                f"CAP {alert.msg_type} {alert.identifier} from {alert.sender}: {decision.outcome}",
                outcome=decision.outcome,
                reason=decision.reasons[0],
                message=decision.message,
                reasons=list(decision.reasons),
                chains=[],
                index=dict(decision.index),
                **details,
            )
            return self._commit(plan)
        targets = list(decision.units)
        who = _SYSTEM
        if targets:
            level = min((self.city.chain.level(t) for t in targets), key=lambda lv: lv.rank)
            who = self._authorise(actor, targets, level, "apply an alert to")
        elif actor is not None:
            who = actor
        plan = self._plan(who, command_id)
        plan.record(
            now,
            "alert.received",
            self.city.chain.city,
            f"CAP {alert.msg_type} {alert.identifier} from {alert.sender}: {decision.outcome}",
            **details,
            **decision.event_data(),
        )
        self._stage_alert_plan(plan, decision, now)
        return self._commit(plan)

    def _plan_alert_due(self, chain: str, now: datetime) -> AlertPlan:
        from gridgov.alerts import plan_due

        return plan_due(self.city, self._alerts, chain, now, self._zones.state)

    def _stage_alert_plan(self, plan: _Plan, decision: AlertPlan, now: datetime) -> None:
        """Stage what an alert plan asks: its review and deadline events, its zone changes."""
        city = self.city
        if not decision.message:  # a deadline of a chain
            plan.record(
                now,
                "alert.due",
                city.chain.city,
                decision.reasons[0],
                outcome=decision.outcome,
                zone=decision.zone,
                units=list(decision.units),
                chains=[c.to_json() for c in decision.chains],
            )
        for review in decision.reviews:
            plan.record(
                now,
                "alert.needs_review",
                city.chain.city,
                f"alert {review.alert}: {review.zone} needs a person's review ({review.id})",
                **review.to_json(),
            )
        for review_id in decision.superseded:
            plan.record(
                now,
                "alert.reviewed",
                city.chain.city,
                f"review {review_id} closed: a newer message superseded its alert",
                review=review_id,
                decision="superseded",
            )
        for chain in decision.chains:
            due = chain.due()
            if due is not None:
                plan.pushes.append((due, _ALERT, chain.id))
        cause = f"CAP alert {decision.alert}"
        touched: dict[str, None] = {}
        chain_of = city.chain
        for compound, zone, hold in decision.lowers:
            if _SEVERITY[plan.zone_of(compound)] > _SEVERITY[zone]:
                due = None if hold else self._zone_deadline(zone, now)
                plan.set_zone(compound, zone, due, hold, now, cause)
                touched[chain_of.community_of(compound)] = None
        for compound in decision.releases:
            if plan.held(compound):
                current = plan.zone_of(compound)
                plan.set_zone(
                    compound, current, self._zone_deadline(current, now), False, now, cause
                )
                touched[chain_of.community_of(compound)] = None
        for community in touched:
            self._settle(plan, community, now, cause)
        for zone, units in decision.declares:
            self._plan_declare(plan, units_compounds(city, units), zone, True, now, cause)

    @property
    def reviews(self) -> list[Review]:
        """Open alert reviews (parts of alerts waiting for a person), by id."""
        return [r for _, r in sorted(self._alerts.reviews.items())]

    @property
    def alert_book(self) -> AlertBook:
        """What this engine remembers of CAP messages (read it; only the engine changes it)."""
        return self._alerts

    @_command
    def approve_review(
        self,
        review: str,
        *,
        actor: str,
        units: Sequence[str] | None = None,
        command_id: str | None = None,
        key: str | None = None,
    ) -> CommandResult:
        """Approve an alert review: its measure is applied (as part of its alert's chain).

        Args:
            review: the review's id (see :attr:`reviews`).
            actor: who approves (a unit or person); must command the units.
            units: the units to apply it to (required when the review names
                none, e.g. an area that matched no unit).

        Raises:
            AlertError: no such open review, no units, or its alert has ended.
            UnknownUnitError: a unit is not of the city.
            AuthorityError: ``actor`` may not command the units.
        """
        from gridgov.alerts import plan_approval

        if not actor:
            raise GridgovError(f"approving review {review} needs an actor (actor=...)")
        decision = plan_approval(self.city, self._alerts, review, units, self._zones.state)
        chain = self.city.chain
        level = min((chain.level(u) for u in decision.units), key=lambda lv: lv.rank)
        who = self._authorise(actor, list(decision.units), level, "approve alert measures on")
        now = self.clock.now()
        plan = self._plan(who, command_id)
        plan.record(
            now,
            "alert.reviewed",
            chain.city,
            f"review {review} approved by {who}: {decision.zone} on {', '.join(decision.units)}",
            review=review,
            decision="approved",
            zone=decision.zone,
            units=list(decision.units),
            chains=[c.to_json() for c in decision.chains],
        )
        self._stage_alert_plan(plan, decision, now)
        return self._commit(plan)

    @_command
    def reject_review(
        self,
        review: str,
        *,
        actor: str,
        reason: str,
        command_id: str | None = None,
        key: str | None = None,
    ) -> CommandResult:
        """Reject an alert review: its measure is never applied; the reason is recorded.

        Raises:
            AlertError: no such open review.
            GridgovError: no actor or no reason.
            AuthorityError: ``actor`` may not command the review's units.
        """
        found = self._alerts.reviews.get(review)
        if found is None:
            shown = ", ".join(sorted(self._alerts.reviews)) or "none"
            raise AlertError(f"no open review {review!r} (open: {shown})")
        if not actor or not str(reason).strip():
            raise GridgovError(f"rejecting review {review} needs an actor and a reason")
        chain = self.city.chain
        if found.units:
            level = min((chain.level(u) for u in found.units), key=lambda lv: lv.rank)
            who = self._authorise(actor, list(found.units), level, "reject alert measures on")
        else:
            who = self._authorise(actor, [chain.city], chain.level(chain.city), "reject alerts for")
        plan = self._plan(who, command_id)
        plan.record(
            self.clock.now(),
            "alert.reviewed",
            chain.city,
            f"review {review} rejected by {who}: {reason}",
            review=review,
            decision="rejected",
            reason=str(reason),
        )
        return self._commit(plan)

    @_command
    def advance(
        self, to: datetime | None = None, *, command_id: str | None = None, key: str | None = None
    ) -> CommandResult:
        """Move the clock to ``to`` and apply every step-down that falls due, in time order.

        Args:
            to: the new time (a :class:`ManualClock` is moved there); default:
                the clock's current time.

        Raises:
            GridgovError: ``to`` is earlier than the clock, or the clock cannot be moved.
        """
        if to is not None:
            if not isinstance(self.clock, ManualClock):
                raise GridgovError(
                    "advance(to=...) needs a ManualClock; this engine's clock moves by itself"
                )
            if to.tzinfo is None or to < self.clock.now():
                raise GridgovError(
                    f"cannot advance to {to.isoformat()}: the clock is at "
                    f"{self.clock.now().isoformat()} (expected a later, timezone-aware time)"
                )
        now = to if to is not None else self.clock.now()
        command = self._plan(_SYSTEM, command_id).command
        events: list[Event] = []
        # One commit per due time: each instant's step-downs and the
        # staffing they release land together, in time order.
        while True:
            batch = self._advance_batch(command, now)
            if batch is None:
                break
            events.extend(batch.events)
        if to is not None:
            assert isinstance(self.clock, ManualClock)
            self.clock.set(to)
        return CommandResult(command, tuple(events))

    def _advance_batch(self, command: str, now: datetime) -> CommandResult | None:
        """Apply every deadline of the earliest due time up to ``now``; None when none is due."""
        heap = list(self._heap)
        while heap and not self._live(heap[0]):
            heapq.heappop(heap)
        self._heap = list(heap)
        dues = [heap[0][0]] if heap else []
        ticket_due = self.tickets.next_due()
        if ticket_due is not None:
            dues.append(ticket_due)
        if not dues or min(dues) > now:
            return None
        plan = _Plan(self, command, _SYSTEM)
        plan.heap = heap
        due_time = min(dues)
        floor = self._last_time
        when = max(due_time, floor) if floor is not None else due_time
        if heap and heap[0][1] == _ALERT and heap[0][0] == due_time:
            # An alert chain's deadline is planned against the book as it is,
            # so it commits on its own.
            _, _, chain = heapq.heappop(heap)
            self._stage_alert_plan(plan, self._plan_alert_due(chain, when), when)
            return self._commit(plan, when)
        while heap and heap[0][0] <= due_time and heap[0][1] != _ALERT:
            due, kind, unit = heapq.heappop(heap)
            if kind == _ZONE:
                if plan.zone_due_of(unit) != due:
                    continue
                self._step_down(plan, unit, when)
            else:
                if plan.mode_due_of(unit) != due:
                    continue
                self._settle(plan, unit, when, "quiet period over")
            for item in plan.pushes:
                heapq.heappush(heap, item)
            plan.pushes.clear()
        if ticket_due is not None and ticket_due <= due_time:
            self._stage_tickets(plan, self.tickets.plan_due(due_time))
        return self._commit(plan, when)

    def _stage_tickets(self, plan: _Plan, changes: Iterable[TicketChange]) -> None:
        for change in changes:
            plan.tickets.append(change)
            fields = change.event_fields()
            plan.record(
                fields["time"],
                fields["type"],
                fields["unit"],
                fields["cause"],
                fields["old"],
                fields["new"],
                **fields["data"],
            )

    # ========================================================= command runner

    def _run(
        self,
        name: str,
        call: Callable[..., CommandResult],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> CommandResult:
        key = kwargs.get("key")
        with self._lock, gc_paused():
            if key is not None:
                fingerprint = _fingerprint(name, args, kwargs)
                prior = self.journal.lookup(key)
                if prior is not None:
                    if prior.fingerprint != fingerprint:
                        raise GridgovError(
                            f"idempotency key {key!r} was used for {prior.fingerprint}; "
                            f"expected the same command again, got {fingerprint}"
                        )
                    return CommandResult(
                        prior.command, tuple(self.journal.between(prior.first, prior.last))
                    )
                self._pending = (key, fingerprint)
                self._pending_single = name not in _MULTI_COMMIT
            try:
                result = call(*args, **kwargs)
            except AuthorityError as exc:
                self._pending = None
                self._deliver(self._refuse(name, exc).events)
                raise
            except BaseException:
                self._pending = None
                raise
            if self._pending is not None:
                # Nothing committed carried the key (a command that changed
                # nothing, or one of several commits): remember it now.
                key, fingerprint = self._pending
                self._pending = None
                seqs = [e.seq for e in result.events] or [self.journal.next_seq]
                first, last = seqs[0], (seqs[-1] if result.events else seqs[0] - 1)
                self.journal.append(
                    [], CommandRecord(key, fingerprint, result.command, first, last)
                )
            self._deliver(result.events)
            return result

    def _refuse(self, name: str, exc: AuthorityError) -> CommandResult:
        """Record a refused command: refusals are audit data."""
        plan = self._plan(exc.actor, None)
        plan.record(
            self.clock.now(), "command.refused", exc.target, exc.rule, command=name, actor=exc.actor
        )
        return self._commit(plan)

    def subscribe(
        self, callback: Subscriber, *, types: Iterable[str] | None = None
    ) -> Callable[[], None]:
        """Call ``callback(event)`` for each event after its command is committed.

        Subscribers run on the committing thread, in sequence order, while the
        engine's lock is held (so they see the state the event left). An
        exception in a subscriber is logged and kept in
        :attr:`delivery_errors`; it never undoes the commit or stops the other
        subscribers.

        Args:
            callback: called with each :class:`Event`.
            types: only these event types (default: all).

        Returns:
            A function that unsubscribes.
        """
        entry = (callback, frozenset(types) if types is not None else None)
        with self._lock:
            self._subscribers.append(entry)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._subscribers:
                    self._subscribers.remove(entry)

        return unsubscribe

    @property
    def source(self) -> str:
        """The CloudEvents ``source`` of this engine's events: ``/gridgov/<city id>``."""
        return f"/gridgov/{self.city.chain.city}"

    def _deliver(self, events: Iterable[Event]) -> None:
        if not self._subscribers:
            return
        for event in events:
            for callback, types in list(self._subscribers):
                if types is not None and event.type not in types:
                    continue
                try:
                    callback(event)
                except Exception as exc:
                    self.delivery_errors.append((event.seq, callback, exc))
                    _log.exception("subscriber %r failed on event %d", callback, event.seq)

    # =============================================================== replay

    @classmethod
    def replay(
        cls,
        city: City,
        events: Iterable[Event],
        rules: Rules | None = None,
        clock: Clock | None = None,
        *,
        seed: int = 0,
        supplies: SupplyNetwork | None = None,
    ) -> Engine:
        """A new engine whose state is what ``events`` give, with the same journal.

        Pass the same rules, seed and supply network as the engine that wrote
        the events, so that the replayed engine goes on deciding the same way.

        Raises:
            GridgovError: the events do not fit the city (unknown units or states).
        """
        journal = MemoryJournal()
        journal.append(list(events))
        return cls(city, rules, clock, journal=journal, seed=seed, supplies=supplies)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        city: City,
        rules: Rules | None = None,
        clock: Clock | None = None,
        seed: int = 0,
        synchronous: str = "NORMAL",
        snapshot_every: int = 50_000,
        supplies: SupplyNetwork | None = None,
    ) -> Engine:
        """An engine on a durable SQLite journal at ``path``, at the state its events give.

        A new file is created and stamped with the city, rules and seed; an
        existing one must have been written for the same (a journal replayed
        against other rules would not be the same history).

        Args:
            path: the journal file.
            city: the city.
            rules: the rules (default: :meth:`Rules.default`).
            clock: the clock (default: the wall clock).
            seed: the staffing seed.
            synchronous: SQLite ``synchronous``: ``NORMAL`` or ``FULL``.
            snapshot_every: events between snapshots.
            supplies: the supply network (see :class:`Engine`).

        Raises:
            JournalError: the file is not a journal, is corrupted, or belongs to
                another city, rules or seed.
        """
        rules = rules if rules is not None else Rules.default()
        journal = SqliteJournal(path, synchronous)
        stamp = {
            "city": f"{city.name}:{_digest(repr(sorted(city.summary().items())))}",
            "rules": _digest(rules.to_toml()),
            "seed": str(seed),
        }
        try:
            for key, value in stamp.items():
                written = journal.meta(key)
                if written is None:
                    journal.set_meta(key, value)
                elif written != value:
                    raise JournalError(
                        f"{journal.path} was written with {key} {written}; this engine has "
                        f"{key} {value} (open it with the city, rules and seed it was written with)"
                    )
            return cls(
                city,
                rules,
                clock,
                journal=journal,
                seed=seed,
                snapshot_every=snapshot_every,
                supplies=supplies,
            )
        except BaseException:
            journal.close()
            raise

    def close(self) -> None:
        """Snapshot the state (durable journals) and close the journal."""
        with self._lock:
            if self.journal.durable and len(self.journal) > self._snapshot_seq:
                self._save_snapshot()
            self.journal.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _load(self) -> None:
        """Bring the state to what the journal's events give (snapshot first)."""
        start = 0
        snapshot = self.journal.latest_snapshot()
        if snapshot is not None:
            start, blob = snapshot
            try:
                self._restore(pickle.loads(blob))
            except Exception as exc:
                raise JournalError(f"snapshot at event {start} is unreadable: {exc!r}") from None
            self._snapshot_seq = start
        for event in self.journal.since(start):
            self._apply_event(event)
        self._rebuild_heap()

    def _state(self) -> dict[str, Any]:
        roster = self.roster
        return {
            "seq": len(self.journal),
            "zones": self._zones.states_of(),
            "modes": self._modes.states_of(),
            "zone_due": self._zone_due,
            "mode_due": self._mode_due,
            "held": self._held,
            "commands": self._commands,
            "last_time": self._last_time,
            "task_numbers": self._task_numbers,
            "supplies": self.supplies.to_json() if self.supplies is not None else None,
            "alerts": self._alerts.state(),
            "roster": (
                roster.posts,
                roster.holders,
                roster.assignment,
                roster.back_since,
                roster.shortfalls,
                roster.drawn,
                roster.hot,
                roster.unavailable,
            ),
        }

    def _restore(self, state: dict[str, Any]) -> None:
        for compound, zone in state["zones"].items():
            self._zones.force(compound, zone)
        for community, mode in state["modes"].items():
            self._modes.force(community, mode)
        counts: dict[str, Counter[str]] = {}
        for compound, zone in state["zones"].items():
            counts.setdefault(self.city.compounds[compound].community, Counter())[zone] += 1
        self._zone_counts = counts
        self._zone_due = dict(state["zone_due"])
        self._mode_due = dict(state["mode_due"])
        self._held = set(state["held"])
        self._commands = int(state["commands"])
        self._last_time = state["last_time"]
        self._task_numbers = dict(state["task_numbers"])
        if "alerts" in state:
            self._alerts = AlertBook.restore(state["alerts"])
        roster = self.roster
        (
            roster.posts,
            roster.holders,
            roster.assignment,
            roster.back_since,
            roster.shortfalls,
            roster.drawn,
            roster.hot,
            roster.unavailable,
        ) = state["roster"]
        if self.supplies is not None and state.get("supplies") is not None:
            self.supplies._load(state["supplies"])

    def _save_snapshot(self) -> None:
        seq = len(self.journal)
        self.journal.save_snapshot(seq, pickle.dumps(self._state(), pickle.HIGHEST_PROTOCOL))
        self._snapshot_seq = seq

    def _apply_event(self, event: Event) -> None:
        chain = self.city.chain
        number = _command_number(event.command)
        if number is not None:
            self._commands = max(self._commands, number)
        self._last_time = (
            event.time if self._last_time is None else max(self._last_time, event.time)
        )
        due = event.data.get("due")
        when = datetime.fromisoformat(due) if isinstance(due, str) else None
        try:
            if event.type in ("zone.changed", "zone.renewed"):
                old = self._zones.state(event.unit)
                if event.new is None or event.new not in _SEVERITY:
                    raise GridgovError(f"event {event.seq}: unknown zone {event.new!r}")
                if event.new != old:
                    self._zones.force(event.unit, event.new)
                    counts = self._zone_counts[chain.community_of(event.unit)]
                    counts[old] -= 1
                    counts[event.new] += 1
                self._zone_due[event.unit] = when
                if event.data.get("hold"):
                    self._held.add(event.unit)
                else:
                    self._held.discard(event.unit)
            elif event.type in TICKET_KINDS:
                self.tickets.apply([TicketChange.from_event(event)])
            elif event.type == "availability.changed":
                self.roster.set_availability(dict(event.data["away"]), int(event.data["seed"]))
            elif event.type.startswith(("post.", "shortfall.", "front_line.")):
                if event.type == "post.opened":
                    self._count_task(str(event.data["post"]))
                self.roster.apply(_staffing_of(event), event.time)
            elif event.type in ALERT_EVENTS:
                self._alerts.apply(event.type, event.data)
            elif event.type in SUPPLY_EVENTS:
                if self.supplies is None:
                    raise JournalError(
                        f"event {event.seq} is a supply event, but this engine has no "
                        "supply network (Engine(..., supplies=...))"
                    )
                self.supplies._apply_event(event)
            elif event.type in ("mode.changed", "mode.renewed"):
                if event.new is None or event.new not in self._modes.states:
                    raise GridgovError(f"event {event.seq}: unknown mode {event.new!r}")
                self._modes.force(event.unit, event.new)
                self._mode_due[event.unit] = when
        except KeyError:
            raise UnknownUnitError(event.unit, f"unit (event {event.seq}) named") from None

    def _rebuild_heap(self) -> None:
        heap: list[Deadline] = [(d, _ZONE, u) for u, d in self._zone_due.items() if d is not None]
        heap += [(d, _MODE, u) for u, d in self._mode_due.items() if d is not None]
        heap += [(d, _ALERT, chain) for d, chain in self._alerts.deadlines()]
        heapq.heapify(heap)
        self._heap = heap

    # ============================================================== planning

    def _plan(self, actor: str, command_id: str | None) -> _Plan:
        command = command_id if command_id is not None else f"c{self._commands + 1:06d}"
        return _Plan(self, command, actor)

    def _target(self, target: str) -> tuple[list[str], Level]:
        """The units a target names and the highest level among them."""
        chain = self.city.chain
        if target in self.rules.areas:
            members = list(self.rules.areas[target])
            return members, min((chain.level(m) for m in members), key=lambda lv: lv.rank)
        if target not in chain:
            raise UnknownUnitError(target, "unit or area")
        return [target], chain.level(target)

    def _authorise(self, actor: str | None, units: Sequence[str], level: Level, what: str) -> str:
        """Check that ``actor`` may act on ``units``; returns the actor's name."""
        if actor is None or actor == _SYSTEM:
            return _SYSTEM
        chain = self.city.chain
        post_unit = actor
        if actor not in chain:
            person = self.city.people.get(actor)
            if person is None:
                raise UnknownUnitError(actor, "actor (unit or person)")
            post_unit = person.normal_post.unit
            if post_unit not in chain:
                raise AuthorityError(
                    actor,
                    ", ".join(units),
                    f"{actor}'s post is at {post_unit}, not a unit of the chain of command",
                )
        actor_level = chain.level(post_unit)
        need = self.rules.override_levels_above
        if actor_level.rank > level.rank - need:
            rule = (
                f"a {actor_level} may not {what} a {level}"
                f" (overrides.levels_above = {need}: the commander must be at least "
                f"{need} level(s) above the scope)"
            )
            raise AuthorityError(actor, ", ".join(units), rule)
        for unit in units:
            if not chain.commands(post_unit, unit):
                raise AuthorityError(
                    actor, unit, f"{unit} is outside the jurisdiction of {post_unit}"
                )
        return actor

    def _zone_deadline(self, zone: str, start: datetime) -> datetime | None:
        if zone == "open":
            return None
        return start + _days(self.rules.zones[zone].after_quiet_days)

    def _plan_case(self, plan: _Plan, compound: str, when: datetime, now: datetime) -> None:
        rules, city = self.rules, self.city
        case = rules.case
        areas = rules.areas
        cause = f"case in {compound}"
        sealed = set(compounds_in_scope(city, compound, case.seal, areas))
        controlled: set[str] = set()
        if case.control is not None:
            controlled = set(compounds_in_scope(city, compound, case.control, areas)) - sealed
        watched: set[str] = set()
        if case.precaution is not None:
            watched = set(compounds_in_scope(city, compound, case.precaution, areas))
            watched -= sealed | controlled
        touched: dict[str, None] = {}
        for zone, members in (
            ("sealed", sealed),
            ("controlled", controlled),
            ("precaution", watched),
        ):
            touched.update(self._step_up(plan, sorted(members), zone, when, now, cause))
        alerted: dict[str, None] = {}
        if case.alert is not None:
            alerted.update(dict.fromkeys(communities_in_scope(city, compound, case.alert, areas)))
        alerted.update(touched)
        self._settle_all(plan, alerted, now, cause, alert_from=when)

    def _step_up(
        self,
        plan: _Plan,
        compounds: Iterable[str],
        zone: str,
        start: datetime,
        now: datetime,
        cause: str,
        hold: bool = False,
    ) -> dict[str, None]:
        """Raise compounds to ``zone`` (never lower); returns the communities touched."""
        chain = self.city.chain
        touched: dict[str, None] = {}
        target = _SEVERITY[zone]
        due = None if hold else self._zone_deadline(zone, start)
        for compound in compounds:
            current = plan.zone_of(compound)
            if _SEVERITY[current] < target:
                plan.set_zone(compound, zone, due, hold, now, cause)
                touched[chain.community_of(compound)] = None
            elif current == zone:
                old_due = plan.zone_due_of(compound)
                if hold and not plan.held(compound):
                    plan.set_zone(compound, zone, None, True, now, cause)
                elif (
                    not plan.held(compound)
                    and due is not None
                    and (old_due is None or due > old_due)
                ):
                    plan.set_zone(compound, zone, due, False, now, cause)
                touched[chain.community_of(compound)] = None
        return touched

    def _step_down(self, plan: _Plan, compound: str, when: datetime) -> None:
        current = plan.zone_of(compound)
        step = self.rules.zones[current]
        target = step.step_down_to
        cause = f"{current} for {step.after_quiet_days:g} quiet day(s)"
        plan.set_zone(compound, target, self._zone_deadline(target, when), False, when, cause)
        self._settle(plan, self.city.chain.community_of(compound), when, cause)

    def _settle_all(
        self,
        plan: _Plan,
        communities: Iterable[str],
        now: datetime,
        cause: str,
        alert_from: datetime | None = None,
    ) -> None:
        quiet = _days(self.rules.modes.alert_quiet_days)
        start = alert_from if alert_from is not None else now
        for community in communities:
            self._settle(plan, community, now, cause)
            counts = plan.count(community)
            mode = plan.mode_of(community)
            if counts["sealed"] + counts["controlled"]:
                continue
            if mode == "normal":
                plan.set_mode(community, "raise_alert", start + quiet, now, cause)
            elif mode == "alert":
                due = plan.mode_due_of(community)
                if due is None or start + quiet > due:
                    plan.renew_mode(community, start + quiet, now, cause)

    def _settle(
        self, plan: _Plan, community: str, when: datetime, cause: str, hurry: bool = False
    ) -> None:
        """Bring a community's mode in line with its compounds' zones at ``when``.

        Any sealed or controlled compound means emergency. Without them, an
        emergency begins recovery; recovery and alert end once their period is
        over and every compound is open (``hurry`` ends them at once).
        """
        counts = plan.count(community)
        mode = plan.mode_of(community)
        hot = counts["sealed"] + counts["controlled"]
        if hot:
            if mode in ("normal", "alert"):
                plan.set_mode(community, "declare_emergency", None, when, cause)
            elif mode == "recovery":
                plan.set_mode(community, "relapse", None, when, cause)
            return
        if mode == "emergency":
            plan.set_mode(
                community,
                "begin_recovery",
                when + _days(self.rules.modes.recovery_days),
                when,
                cause,
            )
            mode = "recovery"
            if not hurry:
                return
        if counts["precaution"]:
            return
        mode_due = plan.mode_due_of(community)
        over = hurry or (mode_due is not None and mode_due <= when)
        if mode == "recovery" and over:
            plan.set_mode(community, "resume_normal", None, when, cause)
        elif mode == "alert" and over:
            plan.set_mode(community, "stand_down", None, when, cause)

    # ============================================================== staffing

    @property
    def pools(self) -> Pools:
        """The candidate pools of the city (built on first use, ranked by the engine's seed)."""
        if self._pools is None:
            with gc_paused():
                self._pools = Pools(self.city, self.seed)
        return self._pools

    def _plan_staffing(self, plan: _Plan, when: datetime) -> None:
        """Stage the staffing that follows the plan's zone changes, with its events."""
        changes = {
            c: (old, plan.zone_of(c))
            for c, old in plan.first_zone.items()
            if plan.zone_of(c) != old
        }
        # Tasks posted on the board of a community back to normal are over.
        normal = {c for c, m in plan.mode.items() if m == "normal"}
        close = (
            [p for p in self.roster.posts if "/task/" in p and p.split("/task/", 1)[0] in normal]
            if normal
            else []
        )
        if not changes and not plan.refill and not close:
            return
        staffing = plan_staffing(
            self.city,
            self.pools,
            self.roster,
            changes,
            self.rules.staffing,
            refill=plan.refill,
            close=close,
        )
        plan.staffing = staffing
        self._record_staffing(plan, staffing, when)

    def _record_staffing(self, plan: _Plan, staffing: StaffingPlan, when: datetime) -> None:
        roster = self.roster
        for post_id in staffing.closed:
            post = roster.posts[post_id]
            plan.record(
                when,
                "post.closed",
                post.unit,
                f"{post.role} no longer needed",
                post=post_id,
                role=post.role,
            )
        for release in staffing.releases:
            post = roster.posts[release.post]
            plan.record(
                when,
                "post.released",
                post.unit,
                release.reason,
                person=release.person,
                post=release.post,
                role=post.role,
            )
        for post in staffing.opened:
            plan.record(
                when,
                "post.opened",
                post.unit,
                f"{post.role} needed at {post.unit}",
                post=post.id,
                role=post.role,
                community=post.community,
                capacity=post.capacity,
                task=post.role in CLAIMABLE,
            )
        for hop in staffing.reinforcements:
            plan.record(
                when,
                "reinforcement.requested",
                hop.from_unit,
                f"{hop.from_level} pool ran dry",
                to=hop.to_unit,
                level=hop.to_level,
                role=hop.role,
                requested=hop.requested,
            )
            plan.record(
                when,
                "reinforcement.answered",
                hop.to_unit,
                f"answer to {hop.from_unit}",
                to=hop.from_unit,
                level=hop.from_level,
                role=hop.role,
                requested=hop.requested,
                granted=hop.granted,
            )
        opened = {p.id: p for p in staffing.opened}
        for assignment in staffing.assignments:
            serving = opened.get(assignment.post) or roster.posts.get(assignment.post)
            unit = serving.unit if serving is not None else assignment.post
            plan.record(
                when,
                "post.assigned",
                unit,
                f"{assignment.role} from the {assignment.level} pool",
                person=assignment.person,
                post=assignment.post,
                role=assignment.role,
                level=assignment.level,
            )
        for shortfall in staffing.shortfalls:
            kind = (
                "shortfall.closed"
                if shortfall.missing == 0
                else (
                    "shortfall.updated"
                    if shortfall.post in roster.shortfalls
                    else "shortfall.opened"
                )
            )
            plan.record(
                when,
                kind,
                shortfall.unit,
                shortfall.reason,
                post=shortfall.post,
                role=shortfall.role,
                community=shortfall.community,
                missing=shortfall.missing,
            )
        if staffing.hot:
            plan.record(
                when,
                "front_line.changed",
                self.city.chain.city,
                "compounds needing front-line duty changed",
                grids={g: d for g, d in staffing.hot},
            )

    @_command
    def staff(
        self, *, actor: str | None = None, command_id: str | None = None, key: str | None = None
    ) -> CommandResult:
        """Try again to fill every open shortfall from the pools (e.g. after people came back).

        Raises:
            AuthorityError: ``actor`` is not the city's command.
        """
        who = self._authorise(actor, [self.city.chain.city], Level.CITY, "re-staff")
        plan = self._plan(who, command_id)
        plan.refill = True
        return self._commit(plan)

    @_command
    def post_task(
        self,
        community: str,
        kind: str,
        *,
        unit: str | None = None,
        capacity: int = 1,
        actor: str | None = None,
        command_id: str | None = None,
        key: str | None = None,
    ) -> CommandResult:
        """Post a task on a community's task board for its in-service members to claim.

        Args:
            community: whose board.
            kind: what the task is (e.g. ``medicine_delivery``).
            unit: the compound or grid it serves (default: the community).
            capacity: how many members it takes.

        Raises:
            UnknownUnitError: no such community or unit.
            GridgovError: capacity below 1.
            AuthorityError: ``actor`` does not command the community.
        """
        chain = self.city.chain
        if chain.level(community) is not Level.COMMUNITY:
            raise GridgovError(f"{community} is a {chain.level(community)}, not a community")
        target = unit if unit is not None else community
        if target not in chain or chain.community_of(target) != community:
            raise UnknownUnitError(target, f"unit of community {community} named")
        if capacity < 1:
            raise GridgovError(f"task capacity must be at least 1, got {capacity}")
        if self.mode(community) == "normal":
            raise GridgovError(
                f"community {community} is in normal mode; its task board opens with an "
                "alert or emergency (tasks close when it is back to normal)"
            )
        who = self._authorise(actor, [community], Level.COMMUNITY, "post tasks for")
        plan = self._plan(who, command_id)
        # Numbers are never reused, so a task id names one task in the journal.
        number = self._task_numbers.get(community, 0) + 1
        post = StaffPost(f"{community}/task/{number}", kind, target, community, capacity)
        staffing = StaffingPlan(opened=(post,))
        plan.staffing = staffing
        now = self.clock.now()
        plan.record(
            now,
            "post.opened",
            post.unit,
            f"task {kind} posted",
            post=post.id,
            role=kind,
            community=community,
            capacity=capacity,
            task=True,
        )
        return self._commit_staffing(plan)

    @_command
    def claim(
        self, task: str, person: str, *, command_id: str | None = None, key: str | None = None
    ) -> CommandResult:
        """An in-service member claims a seat of a task on their home community's board.

        Raises:
            UnknownUnitError: no such task or person.
            GridgovError: the person is not an in-service member of that community,
                already holds a post, or the task is full.
        """
        post = self.roster.posts.get(task)
        if post is None or not self._is_task(post):
            raise UnknownUnitError(task, "open task")
        member = self.city.person(person)
        if member.kind is not PersonKind.IN_SERVICE_MEMBER:
            raise GridgovError(
                f"{person} is a {member.kind.value}; only in-service members claim tasks"
            )
        if member.home != post.community:
            raise GridgovError(
                f"{person} is registered at {member.home}; task {task} is on "
                f"the board of {post.community}"
            )
        if person in self.roster.assignment:
            held = self.roster.assignment[person][0]
            raise GridgovError(
                f"{person} already holds {held.post}; a member holds one "
                "task at a time (hand it back first)"
            )
        if self.roster.missing(task) <= 0:
            raise GridgovError(f"task {task} is full ({post.capacity} of {post.capacity})")
        if member.employer is not None:
            staff = self.city.organisation(member.employer).staff
            cap = int(staff * self.rules.staffing.max_staff_share)
            if self.roster.drawn[member.employer] >= cap:
                raise GridgovError(
                    f"{member.employer} already has {self.roster.drawn[member.employer]} of "
                    f"its {staff} staff drawn (staffing.max_staff_share = "
                    f"{self.rules.staffing.max_staff_share:g}); {person} is needed at work"
                )
        plan = self._plan(person, command_id)
        now = self.clock.now()
        assignment = Assignment(person, task, post.role, "claim")
        shortfalls = self._seat_change(plan, post, -1, now, "a seat was claimed")
        plan.staffing = StaffingPlan(assignments=(assignment,), shortfalls=shortfalls)
        plan.record(
            now,
            "post.assigned",
            post.unit,
            "claimed",
            person=person,
            post=task,
            role=post.role,
            level="claim",
        )
        return self._commit_staffing(plan)

    def _seat_change(
        self, plan: _Plan, post: StaffPost, delta: int, now: datetime, why: str
    ) -> tuple[Shortfall, ...]:
        """Keep a post's shortfall in step with a seat taken (-1) or freed (+1)."""
        current = self.roster.shortfalls.get(post.id)
        if current is None:
            if delta < 0 or not self.rules.staffing.auto_claim or post.role not in CLAIMABLE:
                return ()
            current = Shortfall(post.id, post.role, post.unit, post.community, 0, why)
            kind = "shortfall.opened"
        else:
            kind = "shortfall.updated"
        missing = max(0, current.missing + delta)
        if missing == 0:
            kind = "shortfall.closed"
        shortfall = attrs.evolve(current, missing=missing, reason=why)
        plan.record(
            now,
            kind,
            post.unit,
            why,
            post=post.id,
            role=post.role,
            community=post.community,
            missing=missing,
        )
        return (shortfall,)

    @_command
    def hand_back(
        self, person: str, *, command_id: str | None = None, key: str | None = None
    ) -> CommandResult:
        """A member hands their task back; its seat opens for others to claim.

        Raises:
            UnknownUnitError: no such person.
            GridgovError: the person holds no task.
        """
        self.city.person(person)
        held = self.roster.assignment.get(person)
        if held is None or not self._is_task(self.roster.posts[held[0].post]):
            raise GridgovError(f"{person} holds no task to hand back")
        post = self.roster.posts[held[0].post]
        plan = self._plan(person, command_id)
        now = self.clock.now()
        plan.record(
            now,
            "post.released",
            post.unit,
            "handed back",
            person=person,
            post=post.id,
            role=post.role,
        )
        shortfalls = self._seat_change(plan, post, +1, now, "a seat was handed back")
        plan.staffing = StaffingPlan(
            releases=(Release(person, post.id, "handed back"),), shortfalls=shortfalls
        )
        return self._commit_staffing(plan)

    @_command
    def complete_task(
        self,
        task: str,
        *,
        actor: str | None = None,
        command_id: str | None = None,
        key: str | None = None,
    ) -> CommandResult:
        """A task is done: it leaves the board and its members go back to their normal posts.

        Raises:
            UnknownUnitError: no such open task.
        """
        post = self.roster.posts.get(task)
        if post is None or not self._is_task(post):
            raise UnknownUnitError(task, "open task")
        who = self._authorise(actor, [post.community], Level.COMMUNITY, "complete tasks of")
        plan = self._plan(who, command_id)
        now = self.clock.now()
        releases = tuple(Release(p, task, "completed") for p in self.roster.holder_of(task))
        shortfalls: tuple[Shortfall, ...] = ()
        if task in self.roster.shortfalls:
            shortfalls = (attrs.evolve(self.roster.shortfalls[task], missing=0),)
        plan.staffing = StaffingPlan(closed=(task,), releases=releases, shortfalls=shortfalls)
        plan.record(now, "post.closed", post.unit, "task completed", post=task, role=post.role)
        for release in releases:
            plan.record(
                now,
                "post.released",
                post.unit,
                "completed",
                person=release.person,
                post=task,
                role=post.role,
            )
        for shortfall in shortfalls:
            plan.record(
                now,
                "shortfall.closed",
                shortfall.unit,
                "task completed",
                post=task,
                role=post.role,
                community=post.community,
                missing=0,
            )
        return self._commit_staffing(plan)

    @_command
    def set_availability(
        self,
        away: dict[str, float],
        *,
        seed: int = 0,
        actor: str | None = None,
        command_id: str | None = None,
        key: str | None = None,
    ) -> CommandResult:
        """Make a share of each kind of person unavailable for new posts.

        Researchers use it for staffing levels ("20% fewer in-service
        members") and daily availability; people already on a post stay.

        Args:
            away: share unavailable (0..1) by person kind (``cadre``,
                ``in_service_member``, ``grid_worker``, ``volunteer``); kinds
                left out are all available.
            seed: which people are away is drawn with this seed.

        Raises:
            GridgovError: an unknown kind or a share outside 0..1.
            AuthorityError: ``actor`` is not the city's command.
        """
        kinds = {k.value for k in PersonKind}
        for kind, share in away.items():
            if kind not in kinds:
                raise GridgovError(
                    f"unknown person kind {kind!r} (expected one of: {', '.join(sorted(kinds))})"
                )
            if not 0.0 <= share <= 1.0:
                raise GridgovError(f"share away for {kind} must be in 0..1, got {share}")
        who = self._authorise(actor, [self.city.chain.city], Level.CITY, "set availability for")
        plan = self._plan(who, command_id)
        plan.record(
            self.clock.now(),
            "availability.changed",
            self.city.chain.city,
            "availability set",
            away=dict(sorted(away.items())),
            seed=seed,
        )
        result = self._commit(plan)
        self.roster.set_availability(away, seed)
        return result

    def _count_task(self, post_id: str) -> None:
        community, sep, number = post_id.partition("/task/")
        if sep and number.isdigit():
            self._task_numbers[community] = max(self._task_numbers.get(community, 0), int(number))

    def _is_task(self, post: StaffPost) -> bool:
        return post.role in CLAIMABLE or "/task/" in post.id

    def _commit_staffing(self, plan: _Plan) -> CommandResult:
        """Commit a command that changes staffing only (its plan and events already staged)."""
        staffing = plan.staffing
        plan.staffing = None
        result = self._commit(plan)
        if staffing:
            self.roster.apply(staffing, self.clock.now())
        return result

    # ================================================================ tickets

    @_command
    def open_ticket(
        self,
        where: str,
        category: str,
        *,
        description: str = "",
        resident: Private | None = None,
        ticket: str | None = None,
        actor: str | None = None,
        command_id: str | None = None,
        key: str | None = None,
    ) -> CommandResult:
        """Accept a resident's request (step 1 of the closed loop) at the clock's time.

        Args:
            where: the grid, compound or building it comes from.
            category: its category (a key of the rules' ``[tickets]`` categories).
            description: the matter in the resident's words (kept private,
                published redacted).
            resident: the resident's personal data (never published).
            ticket: the ticket's number (default: the next one).
            actor: who registers it (a unit or person; default ``system``).

        Raises:
            UnknownUnitError: ``where`` names no grid, compound or building.
            GridgovError: unknown category or a number already taken.
            AuthorityError: ``actor`` does not command ``where``.
        """
        now = self.clock.now()
        changes = self.tickets.plan_open(
            where, category, now, description=description, resident=resident, ticket=ticket
        )
        unit = changes[0].unit
        who = self._authorise(actor, [unit], self.city.chain.level(unit), "open tickets at")
        plan = self._plan(who, command_id)
        self._stage_tickets(plan, changes)
        return self._commit(plan)

    @_command
    def handle_ticket(
        self,
        /,
        ticket: str,
        trigger: str,
        *,
        actor: str | None = None,
        command_id: str | None = None,
        key: str | None = None,
        **data: Any,
    ) -> CommandResult:
        """Move a ticket one step of the closed loop (see :meth:`TicketDesk.plan_trigger`).

        Args:
            ticket: the ticket.
            trigger: ``classify``, ``transfer``, ``reject``, ``track``,
                ``supervise``, ``feed_back``, ``score``, ``publish``,
                ``archive`` or ``withdraw``.
            actor: who acts (a unit commanding the unit the ticket is at, a
                person through their post; default ``system``).
            data: the trigger's data (``category``, ``to``, ``reason``,
                ``result``, ``score``, ``note``).

        Raises:
            UnknownUnitError: no such ticket.
            TransitionError: the trigger is not allowed in the ticket's state.
            AuthorityError: ``actor`` does not command the ticket's unit.
            GridgovError: missing or bad data for the trigger.
        """
        current = self.tickets.ticket(ticket)
        who = self._authorise(
            actor, [current.unit], self.city.chain.level(current.unit), "handle tickets at"
        )
        changes = self.tickets.plan_trigger(ticket, trigger, self.clock.now(), **data)
        plan = self._plan(who, command_id)
        self._stage_tickets(plan, changes)
        return self._commit(plan)

    @_command
    def dispatch_supplies(
        self,
        at: datetime | None = None,
        *,
        method: str = "min_cost",
        requests: Mapping[str, Mapping[str, float]] | None = None,
        actor: str | None = None,
        command_id: str | None = None,
        key: str | None = None,
    ) -> CommandResult:
        """Plan the day's supplies for sealed and controlled households and dispatch them.

        Restocks the depots (once per calendar day), adds the day's rations of
        every sealed or controlled household and its residents' requests to
        what is owed, plans the dispatch (:func:`gridgov.supplies.plan_dispatch`,
        or the greedy reference), and records it as ``supply.*`` events (see
        :mod:`gridgov.supply_book`). Open ``food_supplies`` and ``medicine``
        tickets of a compound that receives goods of their category are taken
        through the closed loop up to ``fed_back`` with the delivery as result.

        Args:
            at: when the dispatch happens (default: now); not in the future.
            method: ``min_cost`` or ``greedy``.
            requests: compound -> request category -> requests to add to the
                day's demand (default: the open food and medicine tickets of
                each compound on the ticket desk).
            actor: who orders it (the city or a unit above every compound; default ``system``).
            command_id: the command's id (default: a new one).

        Raises:
            GridgovError: supplies are off, ``at`` is in the future, or an unknown method.
            AuthorityError: ``actor`` does not command the whole city.
        """
        book = self.supplies
        if book is None:
            raise GridgovError(
                "supplies are off for this engine (give Engine(..., supplies=SupplyNetwork(...)))"
            )
        now = self.clock.now()
        when = at if at is not None else now
        if when > now:
            raise GridgovError(
                f"dispatch at {when.isoformat()} is in the future (now is {now.isoformat()})"
            )
        city = self.city.chain.city
        who = self._authorise(actor, [city], Level.CITY, "dispatch supplies in")
        params = book.network.params
        roster = self.roster
        hands = hands_at(
            (
                (post.unit, post.role, len(roster.holders.get(post.id, ())))
                for post in roster.posts.values()
            ),
            params.building_lead_kg,
            params.volunteer_kg,
        )
        if requests is None:
            requests = self._supply_requests(params.request_category)
        outcome = plan_supply_day(book, self.zones(), hands, when, requests, method)
        plan = self._plan(who, command_id)
        for type, unit, cause, data in outcome.records:
            plan.record(when, type, unit, cause, **data)
        self._stage_tickets(plan, self._fulfil(outcome.plan.deliveries, params, when))
        return self._commit(plan, when)

    def _supply_requests(self, categories: Mapping[str, str]) -> dict[str, dict[str, float]]:
        """Open food and medicine tickets per compound, by category."""
        out: dict[str, dict[str, float]] = {}
        for ticket in self.tickets:
            if ticket.compound is None or ticket.category not in categories:
                continue
            if ticket.state in _SUPPLY_OPEN:
                per = out.setdefault(ticket.compound, {})
                per[ticket.category] = per.get(ticket.category, 0) + 1
        return out

    def _fulfil(
        self, deliveries: Mapping[str, Mapping[str, int]], params: Any, when: datetime
    ) -> list[TicketChange]:
        """Ticket changes that take the open supply tickets of supplied compounds to fed_back."""
        changes: list[TicketChange] = []
        for ticket in sorted(self.tickets, key=lambda t: t.id):
            category = params.request_category.get(ticket.category)
            if ticket.compound is None or category is None:
                continue
            if ticket.state not in _SUPPLY_OPEN or not deliveries.get(ticket.compound, {}).get(
                category
            ):
                continue
            # Plan the remaining steps on a scratch desk holding this ticket alone.
            scratch = TicketDesk(self.city, self.rules.tickets, self.tickets.situation)
            scratch.apply(ticket.history)
            state = ticket.state
            while state != "fed_back":
                trigger = _TO_FED_BACK[state]
                data = {"result": f"{category} delivered on {when.date().isoformat()}"}
                step = scratch.plan_trigger(
                    ticket.id,
                    trigger,
                    max(when, scratch.ticket(ticket.id).updated),
                    **(data if trigger == "feed_back" else {}),
                )
                scratch.apply(step)
                changes.extend(step)
                state = scratch.ticket(ticket.id).state
        return changes

    # -------------------------------------------------------- staffing reads

    def commander_of(self, compound: str) -> str | None:
        """The point lead of a sealed compound (None when it has none).

        Raises:
            UnknownUnitError: no such compound.
        """
        self.zone(compound)
        holders = self.roster.holder_of(f"{compound}/point_lead")
        return holders[0] if holders else None

    def doing(self, person: str) -> tuple[Post, datetime | None]:
        """What ``person`` is doing now, and since when.

        Returns:
            The emergency post held (role and unit served) and since when, or
            the person's normal post and when they returned to it (None: never
            left it).

        Raises:
            UnknownUnitError: no such person.
        """
        record = self.city.person(person)
        held = self.roster.assignment.get(person)
        if held is not None:
            assignment, since = held
            return Post(assignment.role, self.roster.posts[assignment.post].unit), since
        return record.normal_post, self.roster.back_since.get(person)

    def posts_report(self, level: Level | str = Level.COMMUNITY) -> list[dict[str, Any]]:
        """Posts needed, filled and short per unit at ``level`` and role, sorted.

        Returns:
            Rows ``{"unit", "level", "role", "needed", "filled", "short"}``.
        """
        want = Level(level)
        rows: dict[tuple[str, str], list[int]] = {}
        for post in self.roster.posts.values():
            unit = self.city.ancestor(post.unit, want) if want is not Level.COMPOUND else post.unit
            row = rows.setdefault((unit, post.role), [0, 0])
            row[0] += post.capacity
            row[1] += len(self.roster.holders.get(post.id, ()))
        return [
            {"unit": u, "level": want.value, "role": r, "needed": n, "filled": f, "short": n - f}
            for (u, r), (n, f) in sorted(rows.items())
        ]

    def response_counts(self) -> dict[str, int]:
        """The counts of the response as practice reports them."""
        roles: Counter[str] = Counter(a.role for a, _ in self.roster.assignment.values())
        return {
            "point_leads": roles["point_lead"],
            "building_leads": roles["building_lead"],
            "deployed_members": sum(
                n
                for role, n in roles.items()
                if role not in ("point_lead", "building_lead", "volunteer", "front_line")
            ),
            "grid_workers_front_line": roles["front_line"],
            "volunteers": roles["volunteer"],
            "shortfall_seats": sum(s.missing for s in self.roster.shortfalls.values()),
        }

    # ============================================================== applying

    def _commit(self, plan: _Plan, when: datetime | None = None) -> CommandResult:
        """Plan the staffing that follows, fire the staged triggers, append the events
        and apply the staffing; all or nothing."""
        self._plan_staffing(plan, when if when is not None else self.clock.now())
        saved_zone = {c: self._zones.state(c) for c in plan.zone}
        saved_mode = {c: self._modes.state(c) for c in plan.mode}
        # Only what this command touches is kept for a rollback: copying the
        # whole deadline tables on every command would cost more than the command.
        saved = (
            {c: self._zone_due.get(c) for c in plan.zone_due},
            {c: self._mode_due.get(c) for c in plan.mode_due},
            {c for c in plan.hold if c in self._held},
            {k: Counter(self._zone_counts[k]) for k in plan.counts if k in self._zone_counts},
        )
        first = self.journal.next_seq
        events = tuple(
            Event(
                seq=first + i,
                time=when,
                type=type,
                unit=unit,
                command=plan.command,
                actor=plan.actor,
                cause=cause,
                old=old,
                new=new,
                data=data,
            )
            for i, (when, type, unit, cause, old, new, data) in enumerate(plan.records)
        )
        try:
            for board, unit, trigger in plan.fires:
                board.fire(unit, trigger)
            self._zone_due.update(plan.zone_due)
            self._mode_due.update(plan.mode_due)
            for compound, hold in plan.hold.items():
                if hold:
                    self._held.add(compound)
                else:
                    self._held.discard(compound)
            self._zone_counts.update(plan.counts)
            record = None
            if self._pending is not None and self._pending_single:
                key, fingerprint = self._pending
                record = CommandRecord(
                    key, fingerprint, plan.command, first, first + len(events) - 1
                )
            self.journal.append(events, record)
            if record is not None:
                self._pending = None
        except Exception:
            for compound, zone in saved_zone.items():
                self._zones.force(compound, zone)
            for community, mode in saved_mode.items():
                self._modes.force(community, mode)
            self._zone_due.update(saved[0])
            self._mode_due.update(saved[1])
            self._held.difference_update(plan.hold)
            self._held.update(saved[2])
            self._zone_counts.update(saved[3])
            raise
        for event in events:
            if event.type == "post.opened":
                self._count_task(str(event.data.get("post", "")))
            elif event.type in ALERT_EVENTS:
                self._alerts.apply(event.type, event.data)
            elif event.type in SUPPLY_EVENTS and self.supplies is not None:
                self.supplies._apply_event(event)
        # The roster and the ticket desk change only once the events are recorded.
        if plan.tickets:
            self.tickets.apply(plan.tickets)
        if plan.staffing:
            self.roster.apply(plan.staffing, when if when is not None else self.clock.now())
        if plan.heap is not None:
            self._heap = plan.heap
        for item in plan.pushes:
            heapq.heappush(self._heap, item)
        if events:
            # Only commands that recorded something use up an id, so replaying
            # the journal restores the counter exactly.
            if plan.command == f"c{self._commands + 1:06d}":
                self._commands += 1
            self._last_time = max(e.time for e in events)
        if self.journal.durable and len(self.journal) - self._snapshot_seq >= self._snapshot_every:
            self._save_snapshot()
        return CommandResult(plan.command, events)

    def _live(self, item: Deadline) -> bool:
        due, kind, unit = item
        if kind == _ALERT:
            chain = self._alerts.chains.get(unit)
            return chain is not None and chain.due() == due
        dues = self._zone_due if kind == _ZONE else self._mode_due
        return dues.get(unit) == due


def _staffing_of(event: Event) -> StaffingPlan:
    """The one-step staffing plan a recorded staffing event stands for."""
    data = event.data
    if event.type == "post.opened":
        post = StaffPost(
            data["post"], data["role"], event.unit, data["community"], int(data["capacity"])
        )
        return StaffingPlan(opened=(post,))
    if event.type == "post.closed":
        return StaffingPlan(closed=(data["post"],))
    if event.type == "post.released":
        return StaffingPlan(releases=(Release(data["person"], data["post"], event.cause),))
    if event.type == "post.assigned":
        assignment = Assignment(data["person"], data["post"], data["role"], data["level"])
        return StaffingPlan(assignments=(assignment,))
    if event.type.startswith("shortfall."):
        shortfall = Shortfall(
            data["post"],
            data["role"],
            event.unit,
            data["community"],
            int(data["missing"]),
            event.cause,
        )
        return StaffingPlan(shortfalls=(shortfall,))
    if event.type == "front_line.changed":
        return StaffingPlan(hot=tuple(sorted((g, int(d)) for g, d in data["grids"].items())))
    raise GridgovError(f"event {event.seq}: unknown staffing event {event.type!r}")


def _payload_digest(xml: object) -> tuple[str, int]:
    """(sha256 hex, size in bytes) of an alert payload, whatever it is."""
    if isinstance(xml, str):
        data = xml.encode("utf-8", "surrogatepass")
    elif isinstance(xml, bytes):
        data = xml
    else:
        data = repr(type(xml)).encode()
    return hashlib.sha256(data).hexdigest(), len(data)


_ID_PATTERNS = {
    name: re.compile(
        rf"<(?:[A-Za-z_][\w.-]*:)?{name}>\s*([^<\s,&]{{1,200}})\s*</(?:[A-Za-z_][\w.-]*:)?{name}>"
    )
    for name in ("sender", "identifier")
}


def _readable_ids(xml: object) -> tuple[str | None, str | None]:
    """The sender and identifier of a refused payload, when they can be read plainly."""
    if isinstance(xml, bytes):
        text = xml[:65536].decode("utf-8", "replace")
    elif isinstance(xml, str):
        text = xml[:65536]
    else:
        return None, None
    found = [_ID_PATTERNS[name].search(text) for name in ("sender", "identifier")]
    return found[0].group(1) if found[0] else None, found[1].group(1) if found[1] else None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _command_number(command: str) -> int | None:
    if command.startswith("c") and command[1:].isdigit():
        return int(command[1:])
    return None

"""The engine's commands, one class per domain, over the :class:`~gridgov._kernel.Kernel`.

:class:`gridgov.engine.Engine` is made of these classes: :class:`EngineBase`
holds the kernel and the read-only properties every command needs;
:class:`MeasureCommands` (cases, declarations, lifts, alerts, deadlines),
:class:`StaffingCommands` (re-staffing, tasks, availability) and
:class:`TicketCommands` (the closed loop) each add the commands of one domain.

A command method is thin: it checks its arguments, authorises the actor,
asks the domain's pure planner for event records, and hands them to
:meth:`Kernel.commit <gridgov._kernel.Kernel.commit>`; the ``@command``
decorator runs it through :meth:`Kernel.run <gridgov._kernel.Kernel.run>`
(lock, idempotency, refusal audit, delivery, snapshots). A new command goes
into the class of its domain (or a new one that :class:`~gridgov.engine.Engine`
then inherits), and a new kind of state change into the reducer of its domain
(see :mod:`gridgov._state`).
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

import gridgov.alerts as _alerts
import gridgov.measures as _measures
import gridgov.staffing as _staffing
from gridgov._arguments import (
    Actor,
    Amount,
    Count,
    Name,
    Seed,
    Share,
    Signature,
    Size,
    Time,
    Words,
    check_call,
)
from gridgov._kernel import SYSTEM, CommandResult, Kernel, LoadReport, Subscriber, authorise
from gridgov.alerts import (
    MAX_ALERT_BYTES,
    AlertBookView,
    AlertError,
    AlertPlan,
    AlertRule,
    AreaMatcher,
    CapAlert,
    Review,
)
from gridgov.city import City
from gridgov.clock import Clock, ManualClock
from gridgov.errors import ClockError, CommandError, UnknownUnitError
from gridgov.journal import Events, JournalView, MemoryJournal, SqliteJournal
from gridgov.measures import Deadline, MeasuresDraft
from gridgov.model import Level, PersonKind
from gridgov.modes import StateBoard, units_compounds
from gridgov.records import Record
from gridgov.rules import Rules
from gridgov.staffing import Pools, Roster, StaffPost
from gridgov.supply_book import SupplyBook, hands_at, plan_supply_day
from gridgov.tickets import Private, TicketChange, TicketData, TicketDesk

__all__ = [
    "COMMANDS",
    "AlertCommands",
    "EngineBase",
    "MeasureCommands",
    "StaffingCommands",
    "SupplyCommands",
    "TicketCommands",
    "command",
]

P = ParamSpec("P")
E = TypeVar("E", bound="EngineBase")
Journal = MemoryJournal | SqliteJournal


#: A compound's level, read once (an enum member read through its class costs
#: some 300 ns: the enum metaclass's attribute hook).
_COMPOUND = Level.COMPOUND

#: The names of the engine's commands (every method made by :func:`command`).
COMMANDS: set[str] = set()


def command(
    fn: Callable[Concatenate[E, P], CommandResult],
) -> Callable[Concatenate[E, P], CommandResult]:
    """Make ``fn`` an engine command: checked, serialised, retry-safe, audited, delivered.

    The wrapper checks the arguments against the types ``fn`` declares
    (:mod:`gridgov._arguments`: a wrong type or value raises
    :class:`~gridgov.errors.ArgumentError` before anything happens), holds the
    engine's lock for the whole command, answers a repeated idempotency
    ``key`` with the first result, records one refusal event when the command
    is refused, and hands the committed events to the subscribers
    (:meth:`gridgov._kernel.Kernel.run`).
    """

    COMMANDS.add(fn.__name__)

    @functools.cache
    def spec() -> Signature:
        # Read on first use: the annotations name types imported after this module.
        return Signature.of(fn)

    def check(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        check_call(spec(), args, kwargs)

    @functools.wraps(fn)
    def run(self: E, /, *args: P.args, **kwargs: P.kwargs) -> CommandResult:
        return self._kernel.run(fn.__name__, functools.partial(fn, self), args, kwargs, check)

    return run


#: A record made from its fields at once (see gridgov.measures).
_new_record = tuple.__new__


def _ticket_records(changes: Iterable[TicketChange]) -> list[Record]:
    return [Record(**change.event_fields()) for change in changes]


class EngineBase:
    """The kernel, the read-only properties and the helpers every command uses."""

    _kernel: Kernel

    @property
    def city(self) -> City:
        """The city governed."""
        return self._kernel.city

    @property
    def rules(self) -> Rules:
        """The rules run by."""
        return self._kernel.rules

    @property
    def clock(self) -> Clock:
        """Where time comes from."""
        return self._kernel.clock

    @property
    def journal(self) -> JournalView:
        """The events, read-only (:class:`~gridgov.journal.JournalView`): only commands add
        to them, and :meth:`close` closes the journal."""
        return JournalView(self._kernel.journal, self._kernel.lock)

    @property
    def alert_rule(self) -> AlertRule:
        """How CAP alerts map to measures, and when they need a person (review)."""
        return self._kernel.alert_rule

    @property
    def area_matcher(self) -> AreaMatcher | None:
        """Matches alert polygons and circles to units (without one, shape-only areas
        go to review)."""
        return self._kernel.area_matcher

    @property
    def last_time(self) -> datetime | None:
        """The time of the latest event (None before the first): where a reopened
        engine's manual clock should be at least."""
        return self._kernel.state.last_time

    @property
    def supplies(self) -> SupplyBook | None:
        """The supply book (stock and demand carried over), None when supplies are off
        (a read-only view that reads under the engine's lock)."""
        book = self._kernel.state.supplies
        return None if book is None else cast(SupplyBook, self._kernel.guarded(book))

    @property
    def seed(self) -> int:
        """The staffing seed."""
        return self._kernel.seed

    @property
    def roster(self) -> Roster:
        """Who holds which emergency post: a copy taken under the engine's lock, which
        later commands leave as it is (the same object until an event changes the
        roster: a staffing event)."""
        return self._kernel.roster_view()

    @property
    def tickets(self) -> TicketDesk:
        """The closed loop's tickets: a read-only view that reads under the engine's lock."""
        return cast(TicketDesk, self._kernel.guarded(self._kernel.state.tickets))

    @property
    def pools(self) -> Pools:
        """The candidate pools of the city (built on first use, ranked by the engine's
        seed; a read-only view that reads under the engine's lock)."""
        return cast(Pools, self._kernel.guarded(self._kernel.pools))

    @property
    def boards(self) -> tuple[StateBoard, StateBoard]:
        """The community mode board and the compound zone board (read-only views that
        read under the engine's lock)."""
        measures = self._kernel.state.measures
        guarded = self._kernel.guarded
        return (
            cast(StateBoard, guarded(measures.mode_board)),
            cast(StateBoard, guarded(measures.zone_board)),
        )

    @property
    def _roster_now(self) -> Roster:
        # The live roster, for commands (they hold the lock).
        return self._kernel.state.roster

    @property
    def _desk_now(self) -> TicketDesk:
        # The live ticket desk, for commands (they hold the lock).
        return self._kernel.state.tickets

    @property
    def delivery_errors(self) -> tuple[tuple[int, Subscriber, BaseException], ...]:
        """Errors raised by subscribers: (event seq, subscriber, the exception), in order."""
        with self._kernel.lock:
            return tuple(self._kernel.delivery_errors)

    @property
    def load_report(self) -> LoadReport:
        """How the engine reached its journal's state when it was opened."""
        return self._kernel.load_report

    @property
    def source(self) -> str:
        """The CloudEvents ``source`` of this engine's events: ``/gridgov/<city id>``."""
        return f"/gridgov/{self.city.chain.city}"

    def mode(self, community: str) -> str:
        """The mode of ``community``.

        Raises:
            UnknownUnitError: no such community.
        """
        with self._kernel.lock:
            measures = self._kernel.state.measures
            if community not in measures.mode_board:
                raise UnknownUnitError(community, "community")
            return measures.mode(community)

    def zone(self, compound: str) -> str:
        """The zone of ``compound``.

        Raises:
            UnknownUnitError: no such compound.
        """
        with self._kernel.lock:
            measures = self._kernel.state.measures
            if compound not in measures.zone_board:
                raise UnknownUnitError(compound, "compound")
            return measures.zone(compound)

    def _draft(self) -> MeasuresDraft:
        kernel = self._kernel
        return MeasuresDraft(kernel.state.measures, kernel.city, kernel.rules)

    def _target(self, target: str) -> tuple[list[str], Level]:
        """The units a target names and the highest level among them."""
        chain = self.city.chain
        if target in self.rules.areas:
            members = list(self.rules.areas[target])
            return members, min((chain.level(m) for m in members), key=lambda lv: lv.rank)
        if target not in chain:
            raise UnknownUnitError(target, "unit or area")
        return [target], chain.level(target)

    def _authorise(self, actor: str | None, units: list[str], level: Level, what: str) -> str:
        if actor is None:  # the embedding code's own authority (see authorise), no call
            return SYSTEM
        return authorise(self._kernel.city, self._kernel.rules, actor, units, level, what)

    def _commit_measures(
        self, command: str, actor: str, lead: list[Record], draft: MeasuresDraft, when: datetime
    ) -> CommandResult:
        """Commit leading records, a measures draft and the staffing that follows."""
        plan = draft.plan()
        # The measures' records in columns with the draft's tables (applied at once).
        staffing = self._kernel.staffing_after(plan, when)
        records = itertools.chain(lead, draft.recorded(), staffing)
        return self._kernel.commit(command, actor, records, pushes=plan.pushes)

    def _commit_alert(
        self,
        command: str,
        actor: Actor,
        lead: list[Record],
        decision: AlertPlan,
        now: datetime,
        heap: list[Deadline] | None = None,
    ) -> CommandResult:
        """Commit what an alert plan asks: its review and deadline events, its zone changes."""
        records, pushes = _alert_records(decision, self.city.chain.city, now)
        draft = self._draft()
        _measures.plan_alert_measures(
            draft, decision.lowers, decision.releases, decision.declares, now, decision.alert
        )
        plan = draft.plan()
        kernel = self._kernel
        staged = itertools.chain(lead, records, plan.records, kernel.staffing_after(plan, now))
        return kernel.commit(command, actor, staged, heap=heap, pushes=[*pushes, *plan.pushes])


class MeasureCommands(EngineBase):
    """Commands on zones and modes: cases, declarations, lifts, CAP alerts, deadlines."""

    @command
    def report_case(
        self,
        compound: Name,
        at: Time | None = None,
        *,
        actor: Actor | None = None,
        command_id: Name | None = None,
        key: Name | None = None,
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
            CommandError: ``at`` is in the future.
        """
        now = self.clock.now()
        if compound not in self._kernel.state.measures._zones._models:  # (zone_board's)
            raise UnknownUnitError(compound, "compound")
        when = at if at is not None else now
        if when > now:
            raise CommandError(
                f"case in {compound} at {when.isoformat()} is in the future "
                f"(now is {now.isoformat()})",
                reason="case in the future",
            )
        who = self._authorise(actor, [compound], _COMPOUND, "report a case in")
        return self._case(self._kernel.command_id(command_id), who, compound, when, now)

    def _case(
        self, command: str, who: str, compound: str, when: datetime, now: datetime
    ) -> CommandResult:
        """One confirmed case, checked and authorised: its record, the measures
        planned for it against the state at hand, committed."""
        data: dict[str, Any] = {"at": _measures.iso_time(when)}
        cause = f"case confirmed in {compound}"
        # Made by tuple.__new__ in C (the named tuple's own __new__ is a Python call).
        lead = [_new_record(Record, (now, "case.confirmed", compound, cause, None, None, data))]
        draft = self._draft()
        _measures.plan_case(draft, compound, when, now)
        return self._commit_measures(command, who, lead, draft, now)

    @command
    def report_cases(
        self,
        compounds: Sequence[Name],
        at: Time | None = None,
        *,
        actor: Actor | None = None,
        command_id: Name | None = None,
        key: Name | None = None,
    ) -> CommandResult:
        """Several confirmed cases at once (a day's diagnoses): one command.

        The events are those of :meth:`report_case` on each compound in turn,
        in the order given: each case is planned by the same planner against
        the zones and posts the cases before it left, so replaying the
        journal gives the same state. They carry one command id and reach the
        journal in one transaction. A compound listed twice is two cases
        there (as two :meth:`report_case` calls would be).

        Args:
            compounds: where the cases are, in the order they were confirmed.
            at: when they were confirmed (default: now); not in the future.
            actor: who reports them (a unit id; default ``system``); must
                command every compound.
            command_id: the command's id (default: a new one).

        Raises:
            CommandError: no compound given, or ``at`` is in the future.
            UnknownUnitError: a compound is not of the city.
            AuthorityError: ``actor`` does not command every compound.

        Nothing is reported unless every case can be: the compounds, the
        time and the actor are checked before the first case is planned.
        """
        if not compounds:
            raise CommandError(
                "report_cases needs at least one compound (got none)", reason="no cases"
            )
        now = self.clock.now()
        for compound in compounds:
            self.zone(compound)
        when = at if at is not None else now
        if when > now:
            raise CommandError(
                f"cases in {compounds[0]} and {len(compounds) - 1} more at {when.isoformat()} "
                f"are in the future (now is {now.isoformat()})",
                reason="case in the future",
            )
        places = list(dict.fromkeys(compounds))
        who = self._authorise(actor, places, Level.COMPOUND, "report a case in")
        command = self._kernel.command_id(command_id)
        # What report_case records, one case after the other.
        parts = [self._case(command, who, compound, when, now).events for compound in compounds]
        return CommandResult(command, Events.join(parts))

    @command
    def declare(
        self,
        target: Name,
        zone: Name = "sealed",
        *,
        actor: Actor | None = None,
        hold: bool = False,
        command_id: Name | None = None,
        key: Name | None = None,
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
            CommandError: ``zone`` is not one of the three measures.
        """
        _measures.check_declarable(zone)
        units, level = self._target(target)
        who = self._authorise(actor, units, level, "declare measures on")
        now = self.clock.now()
        command = self._kernel.command_id(command_id)
        compounds = units_compounds(self.city, units)
        data: dict[str, Any] = {"zone": zone, "hold": hold, "compounds": len(compounds)}
        cause = f"{zone} declared on {target} by {who}"
        lead = [Record(now, "measure.declared", target, cause, None, None, data)]
        draft = self._draft()
        _measures.plan_declare(draft, compounds, zone, hold, now, f"{zone} declared on {target}")
        return self._commit_measures(command, who, lead, draft, now)

    @command
    def lift(
        self,
        target: Name,
        to: Name = "open",
        *,
        actor: Actor | None = None,
        skip_recovery: bool = False,
        command_id: Name | None = None,
        key: Name | None = None,
    ) -> CommandResult:
        """Lift measures at or below ``target`` down to zone ``to``.

        Compounds more severe than ``to`` step down to it (and then follow the
        rules' timings from there). Communities left without sealed or
        controlled compounds begin recovery, or with ``skip_recovery`` go
        straight back to normal once all their compounds are open.

        Raises:
            UnknownUnitError: ``target`` names no unit or area.
            AuthorityError: ``actor`` may not command ``target``.
            CommandError: ``to`` is not a zone.
        """
        _measures.check_liftable(to)
        units, level = self._target(target)
        who = self._authorise(actor, units, level, "lift measures on")
        now = self.clock.now()
        command = self._kernel.command_id(command_id)
        cause = f"lifted to {to} on {target} by {who}"
        lead = [Record(now, "measure.lifted", target, cause, None, None, {"to": to})]
        draft = self._draft()
        _measures.plan_lift(draft, units, to, skip_recovery, now, f"lifted to {to} on {target}")
        return self._commit_measures(command, who, lead, draft, now)

    @command
    def advance(
        self,
        to: Time | None = None,
        *,
        actor: Actor | None = None,
        command_id: Name | None = None,
        key: Name | None = None,
    ) -> CommandResult:
        """Move the clock to ``to`` and apply every step-down that falls due, in time order.

        Args:
            to: the new time (a :class:`ManualClock` is moved there); default:
                the clock's current time.
            actor: who moves the engine's time (the city's command; default:
                the embedding code's own authority, journaled as ``system``).

        Raises:
            CommandError: the engine's clock is not a manual clock.
            ClockError: ``to`` is earlier than the clock.
            ArgumentError: ``to`` is not a timezone-aware datetime.
            AuthorityError: ``actor`` is not the city's command.
        """
        clock = self.clock
        if to is not None:
            if not isinstance(clock, ManualClock):
                raise CommandError(
                    "advance(to=...) needs a ManualClock; this engine's clock moves by itself",
                    reason="needs a manual clock",
                )
            if to < clock.now():
                raise ClockError(
                    f"cannot advance to {to.isoformat()}: the clock is at "
                    f"{clock.now().isoformat()} (expected a later, timezone-aware time)"
                )
        city = self.city.chain.city
        who = self._authorise(actor, [city], Level.CITY, "move the time of")
        now = to if to is not None else clock.now()
        command = self._kernel.command_id(command_id)
        parts: list[Events] = []
        # One commit per due time: each instant's step-downs and the
        # staffing they release land together, in time order.
        while True:
            batch = self._advance_batch(command, now, who)
            if batch is None:
                break
            parts.append(batch.events)
        if to is not None:
            assert isinstance(clock, ManualClock)
            clock.set(to)
        return CommandResult(
            command, Events.join(parts) if parts else Events(self._kernel.next_seq)
        )

    def _advance_batch(self, command: str, now: datetime, who: str) -> CommandResult | None:
        """Apply every deadline of the earliest due time up to ``now``; None when none is due."""
        kernel = self._kernel
        state = kernel.state
        heap = list(kernel.heap)
        while heap and not state.live(heap[0]):
            heapq.heappop(heap)
        kernel.heap = list(heap)
        dues = [heap[0][0]] if heap else []
        ticket_due = state.tickets.next_due()
        if ticket_due is not None:
            dues.append(ticket_due)
        if not dues or min(dues) > now:
            return None
        due_time = min(dues)
        floor = state.last_time
        when = max(due_time, floor) if floor is not None else due_time
        if heap and heap[0][1] == _measures.ALERT_DUE and heap[0][0] == due_time:
            # An alert chain's deadline is planned against the book as it is,
            # so it commits on its own.
            chain = heapq.heappop(heap)[2]
            decision = _alerts.plan_due(self.city, state.alerts, chain, when, state.measures.zone)
            return self._commit_alert(command, who, [], decision, when, heap=heap)
        draft = self._draft()
        _measures.plan_due(draft, heap, due_time, when)
        plan = draft.plan()
        records = list(plan.records)
        if ticket_due is not None and ticket_due <= due_time:
            records += _ticket_records(state.tickets.plan_due(due_time))
        staged = itertools.chain(records, kernel.staffing_after(plan, when))
        return kernel.commit(command, who, staged, heap=heap)


class StaffingCommands(EngineBase):
    """Commands on staffing: re-staffing, the task board, availability."""

    @command
    def staff(
        self, *, actor: Actor | None = None, command_id: Name | None = None, key: Name | None = None
    ) -> CommandResult:
        """Try again to fill every open shortfall from the pools (e.g. after people came back).

        Raises:
            AuthorityError: ``actor`` is not the city's command.
        """
        who = self._authorise(actor, [self.city.chain.city], Level.CITY, "re-staff")
        command = self._kernel.command_id(command_id)
        records = self._kernel.staffing_after(None, self.clock.now(), refill=True)
        return self._kernel.commit(command, who, records)

    @command
    def post_task(
        self,
        community: Name,
        kind: Name,
        *,
        unit: Name | None = None,
        capacity: Count = 1,
        actor: Actor | None = None,
        command_id: Name | None = None,
        key: Name | None = None,
    ) -> CommandResult:
        """Post a task on a community's task board for its in-service members to claim.

        Args:
            community: whose board.
            kind: what the task is (e.g. ``medicine_delivery``).
            unit: the compound or grid it serves (default: the community).
            capacity: how many members it takes.

        Raises:
            UnknownUnitError: no such community or unit.
            CommandError: not a community, or the community is in normal mode.
            ArgumentError: capacity not a whole number from 1 to 1,000,000.
            AuthorityError: ``actor`` does not command the community.
        """
        chain = self.city.chain
        if chain.level(community) is not Level.COMMUNITY:
            raise CommandError(
                f"{community} is a {chain.level(community)}, not a community",
                reason="not a community",
            )
        target = unit if unit is not None else community
        if target not in chain or chain.community_of(target) != community:
            raise UnknownUnitError(target, f"unit of community {community} named")
        if self.mode(community) == "normal":
            raise CommandError(
                f"community {community} is in normal mode; its task board opens with an "
                "alert or emergency (tasks close when it is back to normal)",
                reason="community in normal mode",
            )
        who = self._authorise(actor, [community], Level.COMMUNITY, "post tasks for")
        command = self._kernel.command_id(command_id)
        # Numbers are never reused, so a task id names one task in the journal.
        number = self._kernel.state.task_numbers.get(community, 0) + 1
        post = StaffPost(f"{community}/task/{number}", kind, target, community, capacity)
        records = _staffing.plan_post_task(post, self.clock.now())
        return self._kernel.commit(command, who, records)

    @command
    def claim(
        self,
        task: Name,
        person: Name,
        *,
        actor: Actor | None = None,
        command_id: Name | None = None,
        key: Name | None = None,
    ) -> CommandResult:
        """An in-service member claims a seat of a task on their home community's board.

        Args:
            task: the task.
            person: who takes the seat.
            actor: who claims it: the person themselves (the default), or a
                unit commanding the task's community that assigns them.

        Raises:
            NotFoundError: no such task (UnknownUnitError: no such person).
            AuthorityError: the person is registered in another community, or
                ``actor`` does not command the task's community.
            CommandError: the person is not an in-service member, already holds
                a post, or the task is full.
        """
        who = self._self_or(actor, person, task, "assign tasks of")
        rule = self.rules.staffing
        records = _staffing.plan_claim(
            self.city, self._roster_now, rule, task, person, self.clock.now()
        )
        command = self._kernel.command_id(command_id)
        return self._kernel.commit(command, who, records)

    @command
    def hand_back(
        self,
        person: Name,
        *,
        actor: Actor | None = None,
        command_id: Name | None = None,
        key: Name | None = None,
    ) -> CommandResult:
        """A member hands their task back; its seat opens for others to claim.

        Args:
            person: who hands it back.
            actor: the person themselves (the default), or a unit commanding
                the task's community that releases them.

        Raises:
            UnknownUnitError: no such person.
            AuthorityError: ``actor`` does not command the task's community.
            CommandError: the person holds no task.
        """
        held = self._roster_now.assignment.get(person)
        who = self._self_or(actor, person, held[0].post if held else None, "release members of")
        rule = self.rules.staffing
        records = _staffing.plan_hand_back(
            self.city, self._roster_now, rule, person, self.clock.now()
        )
        command = self._kernel.command_id(command_id)
        return self._kernel.commit(command, who, records)

    def _self_or(self, actor: str | None, person: str, task: str | None, what: str) -> str:
        """The actor of a member's own step: the person, or a unit over the task's community."""
        if actor is None or actor == person:
            self.city.person(person)
            return person
        post = self._roster_now.posts.get(task) if task is not None else None
        community = post.community if post is not None else self.city.person(person).home
        return self._authorise(actor, [community], Level.COMMUNITY, what)

    @command
    def complete_task(
        self,
        task: Name,
        *,
        actor: Actor | None = None,
        command_id: Name | None = None,
        key: Name | None = None,
    ) -> CommandResult:
        """A task is done: it leaves the board and its members go back to their normal posts.

        Raises:
            NotFoundError: no such open task.
        """
        post = _staffing.open_task(self._roster_now, task)
        who = self._authorise(actor, [post.community], Level.COMMUNITY, "complete tasks of")
        command = self._kernel.command_id(command_id)
        records = _staffing.plan_complete(self._roster_now, task, self.clock.now())
        return self._kernel.commit(command, who, records)

    @command
    def set_availability(
        self,
        away: Mapping[str, Share],
        *,
        seed: Seed = 0,
        actor: Actor | None = None,
        command_id: Name | None = None,
        key: Name | None = None,
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
            CommandError: an unknown kind.
            ArgumentError: a share that is not a number from 0 to 1, a seed
                that is not a whole number from 0 up.
            AuthorityError: ``actor`` is not the city's command.
        """
        kinds = {k.value for k in PersonKind}
        for kind in away:
            if kind not in kinds:
                raise CommandError(
                    f"unknown person kind {kind!r} (expected one of: {', '.join(sorted(kinds))})",
                    reason="unknown person kind",
                )
        city = self.city.chain.city
        who = self._authorise(actor, [city], Level.CITY, "set availability for")
        command = self._kernel.command_id(command_id)
        data: dict[str, Any] = {"away": dict(sorted(away.items())), "seed": seed}
        record = Record(
            self.clock.now(), "availability.changed", city, "availability set", None, None, data
        )
        return self._kernel.commit(command, who, [record])


class TicketCommands(EngineBase):
    """Commands of the closed loop for residents' requests."""

    @command
    def open_ticket(
        self,
        where: Name,
        category: Name,
        *,
        description: Words = "",
        resident: Private | None = None,
        ticket: Name | None = None,
        actor: Actor | None = None,
        command_id: Name | None = None,
        key: Name | None = None,
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
        changes = self._desk_now.plan_open(
            where, category, now, description=description, resident=resident, ticket=ticket
        )
        unit = changes[0].unit
        who = self._authorise(actor, [unit], self.city.chain.level(unit), "open tickets at")
        command = self._kernel.command_id(command_id)
        return self._kernel.commit(command, who, _ticket_records(changes))

    @command
    def handle_ticket(
        self,
        /,
        ticket: Name,
        trigger: Name,
        *,
        actor: Actor | None = None,
        command_id: Name | None = None,
        key: Name | None = None,
        **data: TicketData,
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
            NotFoundError: no such ticket.
            TransitionError: the trigger is not allowed in the ticket's state.
            AuthorityError: ``actor`` does not command the ticket's unit.
            GridgovError: missing or bad data for the trigger.
        """
        current = self._desk_now.ticket(ticket)
        level = self.city.chain.level(current.unit)
        who = self._authorise(actor, [current.unit], level, "handle tickets at")
        changes = self._desk_now.plan_trigger(ticket, trigger, self.clock.now(), **data)
        command = self._kernel.command_id(command_id)
        return self._kernel.commit(command, who, _ticket_records(changes))


class AlertCommands(EngineBase):
    """Commands of the CAP alert lifecycle: messages in, reviews decided."""

    @command
    def receive_alert(
        self,
        xml: object,
        *,
        actor: Actor | None = None,
        exercise: bool = False,
        max_bytes: Size = MAX_ALERT_BYTES,
        command_id: Name | None = None,
        key: Name | None = None,
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

        kernel = self._kernel
        now = self.clock.now()
        city = self.city.chain.city
        digest, size = _payload_digest(xml)
        try:
            # Anything but bytes or text is refused by the parser (an AlertError).
            alert = parse_cap(cast(bytes | str, xml), max_bytes=max_bytes)
        except AlertError as exc:
            # The refusal's own record (instead of a command.refused one).
            kernel.refusal = _unreadable_alert(xml, exc, city, now, digest, size)
            raise
        decision = plan_alert(
            self.city,
            alert,
            self.alert_rule,
            now=now,
            book=kernel.state.alerts,
            zones=kernel.state.measures.zone,
            exercise=exercise,
            matcher=self.area_matcher,
        )
        details = _alert_details(alert, digest, size)
        what = f"CAP {alert.msg_type} {alert.identifier} from {alert.sender}: {decision.outcome}"
        if decision.outcome in ("duplicate", "stale"):
            record = Record(
                now, "alert.refused", city, what, None, None, _repeat(decision, details)
            )
            who = SYSTEM if actor is None else actor
            return kernel.commit(kernel.command_id(command_id), who, [record])
        targets = list(decision.units)
        who = SYSTEM
        if targets:
            level = min((self.city.chain.level(t) for t in targets), key=lambda lv: lv.rank)
            who = self._authorise(actor, targets, level, "apply an alert to")
        elif actor is not None:
            who = actor
        command = kernel.command_id(command_id)
        data = {**details, **decision.event_data()}
        lead = [Record(now, "alert.received", city, what, None, None, data)]
        return self._commit_alert(command, who, lead, decision, now)

    @property
    def reviews(self) -> list[Review]:
        """Open alert reviews (parts of alerts waiting for a person), by id."""
        with self._kernel.lock:
            return [r for _, r in sorted(self._kernel.state.alerts.reviews.items())]

    @property
    def alert_book(self) -> AlertBookView:
        """What this engine remembers of CAP messages, read-only (only commands change it;
        its reads take the engine's lock and hand out copies)."""
        return cast(AlertBookView, self._kernel.guarded(AlertBookView(self._kernel.state.alerts)))

    @command
    def approve_review(
        self,
        review: Name,
        *,
        actor: Actor,
        units: Sequence[Name] | None = None,
        command_id: Name | None = None,
        key: Name | None = None,
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
            raise CommandError(
                f"approving review {review} needs an actor (actor=...)", reason="no actor"
            )
        state = self._kernel.state
        decision = plan_approval(self.city, state.alerts, review, units, state.measures.zone)
        chain = self.city.chain
        level = min((chain.level(u) for u in decision.units), key=lambda lv: lv.rank)
        who = self._authorise(actor, list(decision.units), level, "approve alert measures on")
        now = self.clock.now()
        command = self._kernel.command_id(command_id)
        data: dict[str, Any] = {
            "review": review,
            "decision": "approved",
            "zone": decision.zone,
            "units": list(decision.units),
            "chains": [c.to_json() for c in decision.chains],
        }
        what = f"review {review} approved by {who}: {decision.zone} on {', '.join(decision.units)}"
        lead = [Record(now, "alert.reviewed", chain.city, what, None, None, data)]
        return self._commit_alert(command, who, lead, decision, now)

    @command
    def reject_review(
        self,
        review: Name,
        *,
        actor: Actor,
        reason: Words,
        command_id: Name | None = None,
        key: Name | None = None,
    ) -> CommandResult:
        """Reject an alert review: its measure is never applied; the reason is recorded.

        Raises:
            AlertError: no such open review.
            CommandError: no actor or no reason.
            AuthorityError: ``actor`` may not command the review's units.
        """
        reviews = self._kernel.state.alerts.reviews
        found = reviews.get(review)
        if found is None:
            shown = ", ".join(sorted(reviews)) or "none"
            raise AlertError(f"no open review {review!r} (open: {shown})")
        if not actor or not str(reason).strip():
            raise CommandError(
                f"rejecting review {review} needs an actor and a reason",
                reason="no actor or reason",
            )
        chain = self.city.chain
        if found.units:
            level = min((chain.level(u) for u in found.units), key=lambda lv: lv.rank)
            who = self._authorise(actor, list(found.units), level, "reject alert measures on")
        else:
            who = self._authorise(actor, [chain.city], chain.level(chain.city), "reject alerts for")
        command = self._kernel.command_id(command_id)
        data: dict[str, Any] = {"review": review, "decision": "rejected", "reason": str(reason)}
        what = f"review {review} rejected by {who}: {reason}"
        record = Record(self.clock.now(), "alert.reviewed", chain.city, what, None, None, data)
        return self._kernel.commit(command, who, [record])


class SupplyCommands(EngineBase):
    """Commands of the supply chain: the day's dispatch to sealed households."""

    @command
    def dispatch_supplies(
        self,
        at: Time | None = None,
        *,
        method: Name = "min_cost",
        requests: Mapping[Name, Mapping[Name, Amount]] | None = None,
        actor: Actor | None = None,
        command_id: Name | None = None,
        key: Name | None = None,
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
                day's demand (default: the food and medicine tickets of each
                compound on the ticket desk opened since the last dispatch
                that raised demand, and still open).
            actor: who orders it (the city or a unit above every compound; default ``system``).
            command_id: the command's id (default: a new one).

        Raises:
            CommandError: supplies are off, ``at`` is in the future, or an unknown method.
            AuthorityError: ``actor`` does not command the whole city.
        """
        book = self._kernel.state.supplies
        if book is None:
            raise CommandError(
                "supplies are off for this engine (give Engine(..., supplies=SupplyNetwork(...)))",
                reason="supplies are off",
            )
        now = self.clock.now()
        when = at if at is not None else now
        if when > now:
            raise CommandError(
                f"dispatch at {when.isoformat()} is in the future (now is {now.isoformat()})",
                reason="dispatch in the future",
            )
        city = self.city.chain.city
        who = self._authorise(actor, [city], Level.CITY, "dispatch supplies in")
        params = book.network.params
        # The hands change only with the roster: kept while no event changes it.
        kernel = self._kernel
        mark = (id(kernel.state), kernel._roster_epoch)
        kept = book._hands
        if kept is not None and kept[0] == mark:
            hands = kept[1]
        else:
            seats = (
                (unit, role, held)
                for role, unit, _, held in self._roster_now._seats()  # rows: no post object each
                if role in _HANDS_ROLES
            )
            hands = hands_at(seats, params.building_lead_kg, params.volunteer_kg)
            book._hands = (mark, hands)
        if requests is None:
            requests = self._supply_requests(params.request_category, book.demanded_at())
        zones = self._kernel.state.measures.zone_board.states_of()
        outcome = plan_supply_day(book, zones, hands, when, requests, method)
        records = [
            Record(when, type, unit, cause, None, None, dict(data))
            for type, unit, cause, data in outcome.records
        ]
        records += _ticket_records(self._fulfil(outcome.plan.deliveries, params, when))
        command = self._kernel.command_id(command_id)
        return self._kernel.commit(command, who, records)

    def _supply_requests(
        self, categories: Mapping[str, str], since: datetime | None
    ) -> dict[str, dict[str, float]]:
        """Open food and medicine tickets per compound, by category, opened after
        ``since`` (each request adds to demand once)."""
        out: dict[str, dict[str, float]] = {}
        for ticket in self._desk_now:
            if ticket.compound is None or ticket.category not in categories:
                continue
            if since is not None and ticket.opened <= since:
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
        for ticket in sorted(self._desk_now, key=lambda t: t.id):
            category = params.request_category.get(ticket.category)
            if ticket.compound is None or category is None:
                continue
            if ticket.state not in _SUPPLY_OPEN or not deliveries.get(ticket.compound, {}).get(
                category
            ):
                continue
            # Plan the remaining steps on a scratch desk holding this ticket alone.
            scratch = TicketDesk(self.city, self.rules.tickets, self._desk_now.situation)
            scratch._apply(ticket.history)
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
                scratch._apply(step)
                changes.extend(step)
                state = scratch.ticket(ticket.id).state
        return changes


#: Roles whose holders carry supplies to the doors (see :func:`gridgov.supply_book.hands_at`).
_HANDS_ROLES = frozenset({"building_lead", "volunteer"})

#: Ticket states a delivery fulfils, and the trigger that moves each towards fed_back.
_TO_FED_BACK = {
    "accepted": "classify",
    "classified": "track",
    "tracking": "supervise",
    "supervising": "feed_back",
}
_SUPPLY_OPEN = frozenset(_TO_FED_BACK)


def _alert_records(
    decision: AlertPlan, city: str, now: datetime
) -> tuple[list[Record], list[Deadline]]:
    """The alert events an alert plan records, and the chain deadlines it sets."""
    records: list[Record] = []
    if not decision.message:  # a deadline of a chain
        data: dict[str, Any] = {
            "outcome": decision.outcome,
            "zone": decision.zone,
            "units": list(decision.units),
            "chains": [c.to_json() for c in decision.chains],
        }
        records.append(Record(now, "alert.due", city, decision.reasons[0], None, None, data))
    for review in decision.reviews:
        what = f"alert {review.alert}: {review.zone} needs a person's review ({review.id})"
        records.append(Record(now, "alert.needs_review", city, what, None, None, review.to_json()))
    for review_id in decision.superseded:
        data = {"review": review_id, "decision": "superseded"}
        what = f"review {review_id} closed: a newer message superseded its alert"
        records.append(Record(now, "alert.reviewed", city, what, None, None, data))
    pushes: list[Deadline] = []
    for chain in decision.chains:
        due = chain.due()
        if due is not None:
            pushes.append((due, _measures.ALERT_DUE, chain.id))
    return records, pushes


def _alert_details(alert: CapAlert, digest: str, size: int) -> dict[str, Any]:
    return {
        "identifier": alert.identifier,
        "sender": alert.sender,
        "sent": alert.sent.isoformat(),
        "status": alert.status,
        "msg_type": alert.msg_type,
        "digest": digest,
        "size": size,
    }


def _repeat(decision: AlertPlan, details: dict[str, Any]) -> dict[str, Any]:
    """The data of the ``alert.refused`` event of a duplicate or stale message."""
    return {
        "outcome": decision.outcome,
        "reason": decision.reasons[0],
        "message": decision.message,
        "reasons": list(decision.reasons),
        "chains": [],
        "index": dict(decision.index),
        **details,
    }


def _unreadable_alert(
    xml: object, exc: AlertError, city: str, now: datetime, digest: str, size: int
) -> Record:
    """The ``alert.refused`` record of a message that could not be read (never its content)."""
    sender, identifier = _readable_ids(xml)
    data: dict[str, Any] = {
        "outcome": "refused",
        "reason": str(exc),
        "digest": digest,
        "size": size,
        "sender": sender,
        "identifier": identifier if identifier is not None else exc.alert,
    }
    return Record(now, "alert.refused", city, f"CAP message refused: {exc}", None, None, data)


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

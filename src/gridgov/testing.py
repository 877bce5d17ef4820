"""Test doubles and assertions for suites that check escalation rules.

Everything here reads as the rule it checks::

    engine.report_case(compound)
    assert_zone(engine, compound, "sealed", within=timedelta(hours=1))
    assert_mode(engine, street_community, "alert")
    assert_staffed(engine, compound)

and fails with the relevant part of the event history, so a broken rule shows
what happened instead::

    AssertionError: compound 990101001001-C01 is 'controlled', expected 'sealed'
    history of 990101001001-C01:
      #1  2022-09-17 00:00  case.confirmed    case confirmed in 990101001001-C01
      #2  2022-09-17 00:00  zone.changed      open -> sealed  (case in 990101001001-C01)
      ...

The pytest plugin (:mod:`gridgov._pytest_plugin`, registered under the
``pytest11`` entry point) provides fixtures built from these pieces:
``gridgov_city``, ``gridgov_rules``, ``gridgov_clock``, ``gridgov_engine`` and
``gridgov_durable_engine``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from xml.sax.saxutils import escape

from gridgov._ticket_stream import Times
from gridgov.clock import ManualClock
from gridgov.engine import Engine
from gridgov.errors import InvariantError
from gridgov.journal import Event
from gridgov.tickets import Changes, Private, Ticket, TicketChange, TicketDesk

__all__ = [
    "CapArea",
    "EventCapture",
    "InvariantError",
    "ManualClock",
    "StandaloneDesk",
    "advance_by",
    "assert_escalated",
    "assert_mode",
    "assert_staffed",
    "assert_zone",
    "cap_message",
    "check_invariants",
    "events_of",
    "history",
]


class StandaloneDesk(TicketDesk):
    """A ticket desk that applies its own plans: ticket rules tested without an engine.

    An engine's desk (``engine.tickets``) is read-only: only the engine's
    commands change it, each change an event in the journal. This double
    keeps no journal; it plans with the desk's pure ``plan_*`` methods and
    applies the result at once, so that a test of routing, limits or
    escalation can drive a desk directly. Same arguments as
    :class:`~gridgov.tickets.TicketDesk`.
    """

    def apply(self, changes: Iterable[TicketChange]) -> None:
        """Apply planned or recorded changes, in order, all or nothing.

        Raises:
            GridgovError: a change does not fit the desk; nothing is applied.
        """
        self._apply(tuple(changes))

    def open(
        self,
        where: str,
        category: str,
        at: datetime,
        *,
        description: str = "",
        resident: Private | None = None,
        ticket: str | None = None,
    ) -> Ticket:
        """Plan and apply :meth:`~gridgov.tickets.TicketDesk.plan_open`; returns the new ticket."""
        changes = self.plan_open(
            where, category, at, description=description, resident=resident, ticket=ticket
        )
        self._apply(changes)
        return self.ticket(changes[0].ticket)

    def trigger(
        self, ticket: str, trigger: str, at: datetime, **data: Any
    ) -> tuple[TicketChange, ...]:
        """Plan and apply :meth:`~gridgov.tickets.TicketDesk.plan_trigger`; returns the changes."""
        changes = self.plan_trigger(ticket, trigger, at, **data)
        self._apply(changes)
        return changes

    def play(
        self,
        at: Times,
        tickets: Sequence[str],
        triggers: Sequence[str],
        data: Sequence[Mapping[str, Any] | None] | None = None,
        tz: tzinfo = UTC,
        pause_gc: bool = False,
    ) -> Changes:
        """Apply a stream of openings and steps in one call: the per-ticket path, batched.

        Step ``i`` is ticket ``tickets[i]`` taking ``triggers[i]`` (or
        ``open``, with ``where`` and ``category`` in ``data[i]``) at ``at[i]``
        (microseconds since 1970, or an aware datetime), after every deadline
        up to that time: the same changes, in the same order, and the same
        desk as calling :meth:`advance` then :meth:`open` or :meth:`trigger`
        for each step in turn (see ``docs/tickets.md``, "Many steps in one
        call").

        The situation is asked once per ticket per run of its steps (nothing
        changes a zone or a mode while the stream runs). ``pause_gc=True``
        pauses the cyclic garbage collector meanwhile (process-wide: off
        unless asked).

        Returns:
            Every change: each ticket's in order (see
            :meth:`~gridgov.tickets.TicketDesk._play`); each is made into a
            :class:`~gridgov.tickets.TicketChange` when read.

        Raises:
            GridgovError: as :meth:`open` and :meth:`trigger` raise, for the
                first step that fails; the steps before it stay applied. A
                datetime without a time zone refuses the whole stream (every
                time is checked first): nothing changes.
        """
        return self._play(at, tickets, triggers, data, tz, pause_gc)

    def advance(self, now: datetime) -> tuple[TicketChange, ...]:
        """Plan and apply :meth:`~gridgov.tickets.TicketDesk.plan_due`; returns the changes."""
        changes = self.plan_due(now)
        if changes:
            self._apply(changes)
        return changes


def check_invariants(engine: Engine) -> None:
    """Check the invariants of the design on ``engine`` (raises :class:`InvariantError`).

    1. every building is in exactly one grid of the city, and every grid has
       one chain of command up to the city;
    2. a person holds at most one active post, and the roster's holders and
       assignments agree;
    3. every sealed compound has exactly one point lead, or an open shortfall
       for that post;
    4. once every community is back to ``normal``, nobody holds an emergency post;
    5. replaying the journal gives exactly the live state;
    6. the journal is whole: seqs from 1 without gaps, each command's events
       contiguous (a failed command left nothing: what it would have
       written is either wholly there or absent; the refusal itself is
       checked where the command is issued: ``engine.snapshot()`` is the
       same around it and the journal holds one more event, its
       ``command.refused``).

    Meant for stateful tests and for embedders' own checks; it replays the
    whole journal, so it costs a full replay.
    """
    city = engine.city
    chain = city.chain
    with engine._kernel.lock:
        grids = set(chain.units("grid"))
        for building in city.buildings.values():
            if building.grid not in grids:
                raise InvariantError(f"building {building.id} is in {building.grid!r}, not a grid")
        for grid in grids:
            if chain.chain_of_command(grid)[-1] != chain.city:
                raise InvariantError(f"grid {grid}'s chain of command does not reach the city")
        roster = engine.roster
        seen: dict[str, str] = {}
        for post, holders in roster.holders.items():
            for person in holders:
                if person in seen:
                    raise InvariantError(f"{person} holds both {seen[person]} and {post}")
                seen[person] = post
        for person, (assignment, _) in roster.assignment.items():
            if seen.get(person) != assignment.post:
                raise InvariantError(
                    f"{person} is assigned to {assignment.post} but holds {seen.get(person)!r}"
                )
        if set(seen) != set(roster.assignment):
            raise InvariantError("the roster's holders and assignments name different people")
        zones = engine.zones()
        for compound, zone in zones.items():
            if zone != "sealed":
                continue
            post = f"{compound}/point_lead"
            leads = roster.holder_of(post)
            if len(leads) > 1 or (not leads and post not in roster.shortfalls):
                raise InvariantError(
                    f"sealed compound {compound} has {len(leads)} point lead(s) and "
                    f"{'an' if post in roster.shortfalls else 'no'} open shortfall"
                )
        if all(mode == "normal" for mode in engine.modes().values()) and roster.assignment:
            raise InvariantError(
                f"every community is normal but {len(roster.assignment)} people hold "
                "emergency posts"
            )
        events = list(engine.journal)
        finished: set[str] = set()
        previous: str | None = None
        for expected, event in enumerate(events, start=1):
            if event.seq != expected:
                raise InvariantError(f"journal event {event.seq} where {expected} was expected")
            if event.command != previous:
                if event.command in finished:
                    raise InvariantError(f"command {event.command} is not contiguous")
                if previous is not None:
                    finished.add(previous)
                previous = event.command
        kernel = engine._kernel
        replayed = Engine.replay(
            city, events, kernel.rules, seed=kernel.seed, supplies=kernel.supplies
        )
        if replayed.snapshot() != engine.snapshot():
            raise InvariantError("replaying the journal does not give the live state")


def events_of(
    engine: Engine,
    type: str | None = None,
    unit: str | None = None,
    command: str | None = None,
) -> list[Event]:
    """The engine's events matching every given filter (``type`` may end in ``.*``)."""
    return engine.journal.select(type=type, unit=unit, command=command)


def history(events: Iterable[Event], limit: int = 30) -> str:
    """Events as aligned lines, the last ``limit`` of them, for failure messages."""
    rows = list(events)
    shown = rows[-limit:]
    lines = []
    if len(rows) > limit:
        lines.append(f"  ... {len(rows) - limit} earlier event(s)")
    for event in shown:
        change = f"{event.old} -> {event.new}  " if event.new is not None else ""
        lines.append(
            f"  #{event.seq:<5} {event.time:%Y-%m-%d %H:%M}  {event.type:<22} "
            f"{change}({event.cause})"
        )
    return "\n".join(lines) if lines else "  (no events)"


#: The event types relevant to each kind of assertion.
_ZONE_TYPES = ("case.", "zone.", "measure.")
_MODE_TYPES = ("mode.", "measure.")
_STAFF_TYPES = ("zone.", "post.", "shortfall.", "reinforcement.")


def _unit_history(engine: Engine, unit: str, types: tuple[str, ...] | None = None) -> str:
    events = events_of(engine, unit=unit)
    if types is not None:
        events = [e for e in events if e.type.startswith(types)]
    return f"history of {unit}:\n{history(events)}"


def assert_zone(
    engine: Engine,
    compound: str,
    zone: str,
    *,
    within: timedelta | None = None,
    since: datetime | None = None,
) -> None:
    """Assert that ``compound`` is in ``zone`` (and got there in time).

    Args:
        engine: the engine.
        compound: the compound.
        zone: the zone expected now.
        within: the compound must have entered ``zone`` no later than this
            after ``since``.
        since: the start of ``within`` (default: the last confirmed case in
            the compound, else the first event of the journal).

    Raises:
        AssertionError: with the compound's event history.
    """
    current = engine.zone(compound)
    if current != zone:
        raise AssertionError(
            f"compound {compound} is {current!r}, expected {zone!r}\n"
            f"{_unit_history(engine, compound, _ZONE_TYPES)}"
        )
    if within is None:
        return
    changes = [e for e in events_of(engine, "zone.changed", compound) if e.new == zone]
    if not changes:  # pragma: no cover - the zone was reached, so a change exists
        raise AssertionError(f"no zone.changed event brought {compound} to {zone!r}")
    reached = changes[-1].time
    start = since if since is not None else _start_of(engine, compound)
    if reached - start > within:
        raise AssertionError(
            f"compound {compound} became {zone!r} at {reached.isoformat()}, "
            f"{reached - start} after {start.isoformat()}; expected within {within}\n"
            f"{_unit_history(engine, compound, _ZONE_TYPES)}"
        )


def _start_of(engine: Engine, compound: str) -> datetime:
    cases = events_of(engine, "case.confirmed", compound)
    if cases:
        return datetime.fromisoformat(str(cases[-1].data["at"]))
    first = next(iter(engine.journal), None)
    return first.time if first is not None else engine.clock.now()


def assert_mode(engine: Engine, community: str, mode: str) -> None:
    """Assert that ``community`` is in ``mode``.

    Raises:
        AssertionError: with the community's event history.
    """
    current = engine.mode(community)
    if current != mode:
        raise AssertionError(
            f"community {community} is {current!r}, expected {mode!r}\n"
            f"{_unit_history(engine, community, _MODE_TYPES)}"
        )


def assert_staffed(engine: Engine, compound: str) -> None:
    """Assert that every post serving ``compound`` is filled (a sealed one has its point lead).

    Raises:
        AssertionError: naming the empty posts and their shortfalls, with the
            compound's history.
    """
    roster = engine.roster
    problems = []
    if engine.zone(compound) == "sealed" and engine.commander_of(compound) is None:
        problems.append("no point lead")
    for post in roster.posts.values():
        if post.unit != compound:
            continue
        missing = roster.missing(post.id)
        if missing > 0:
            why = roster.shortfalls.get(post.id)
            reason = f": {why.reason}" if why is not None else ""
            problems.append(f"{post.id} lacks {missing} of {post.capacity}{reason}")
    if problems:
        raise AssertionError(
            f"compound {compound} is not fully staffed: {'; '.join(problems)}\n"
            f"{_unit_history(engine, compound, _STAFF_TYPES)}"
        )


def assert_escalated(
    engine: Engine, ticket: str, *, to: str, within: timedelta | None = None
) -> None:
    """Assert that ``ticket`` escalated up to a unit at level ``to`` (in time).

    Args:
        engine: the engine.
        ticket: the ticket's id.
        to: a level (``street``, ``district``, ``city``, ...) or a unit id.
        within: the escalation must have happened no later than this after
            the ticket was opened.

    Raises:
        AssertionError: with the ticket's event history.
    """
    chain = engine.city.chain
    events = [e for e in engine.journal if e.data.get("ticket") == ticket or e.unit == ticket]
    escalations = [e for e in events if e.type == "ticket.escalated"]

    def reaches(event: Event) -> bool:
        unit = str(event.data.get("to", event.new or ""))
        if unit == to:
            return True
        return unit in chain and chain.level(unit).value == to

    hits = [e for e in escalations if reaches(e)]
    shown = f"history of ticket {ticket}:\n{history(events)}"
    if not hits:
        raise AssertionError(f"ticket {ticket} never escalated to {to}\n{shown}")
    if within is not None:
        opened = next((e.time for e in events if e.type == "ticket.opened"), None)
        if opened is not None and hits[0].time - opened > within:
            raise AssertionError(
                f"ticket {ticket} reached {to} {hits[0].time - opened} after it was opened; "
                f"expected within {within}\n{shown}"
            )


def advance_by(engine: Engine, delta: timedelta) -> list[Event]:
    """Move a manual clock forward by ``delta`` through the engine; returns the events."""
    return list(engine.advance(engine.clock.now() + delta).events)


class EventCapture:
    """Collects the events an engine commits from now on (a subscriber).

    Use as a context manager to stop collecting on exit::

        with EventCapture(engine) as capture:
            engine.report_case(compound)
        assert capture.types() == [...]
    """

    def __init__(self, engine: Engine, types: Iterable[str] | None = None) -> None:
        #: The events seen, in order.
        self.events: list[Event] = []
        self._stop = engine.subscribe(self.events.append, types=types)

    def types(self) -> list[str]:
        """The types of the events seen, in order."""
        return [e.type for e in self.events]

    def close(self) -> None:
        """Stop collecting."""
        self._stop()

    def __enter__(self) -> EventCapture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------ CAP messages

#: An area for :func:`cap_message`: (areaDesc, geocodes) where geocodes are
#: codes (valueName ``CPEAS Geographic Code``) or (valueName, value) pairs;
#: a third item, when given, is a polygon text (``lat,lon lat,lon ...``).
CapArea = (
    tuple[str, Sequence[str | tuple[str, str]]] | tuple[str, Sequence[str | tuple[str, str]], str]
)


def cap_message(
    identifier: str,
    sent: datetime,
    *,
    sender: str = "230800-health-commission",
    msg_type: str = "Alert",
    status: str = "Actual",
    references: Sequence[tuple[str, str, datetime]] = (),
    severity: str = "Extreme",
    certainty: str = "Observed",
    urgency: str = "Immediate",
    category: str = "Health",
    areas: Sequence[CapArea] = (),
    english_areas: Sequence[CapArea] | None = None,
    effective: datetime | None = None,
    onset: datetime | None = None,
    expires: datetime | None = None,
) -> str:
    """A CPEAS-shaped CAP 1.2 message with a Chinese and an English info, as text.

    Both infos carry the same category, severity, certainty, urgency and
    times; the Chinese one has ``areas``, the English one ``english_areas``
    (default: the same areas). For tests, benchmarks and examples.
    """

    def when(tag: str, value: datetime | None) -> str:
        return f"    <{tag}>{value.isoformat()}</{tag}>\n" if value is not None else ""

    def area_xml(area: CapArea) -> str:
        desc, codes = area[0], area[1]
        lines = [f"    <area>\n      <areaDesc>{escape(desc)}</areaDesc>\n"]
        if len(area) == 3:
            lines.append(f"      <polygon>{area[2]}</polygon>\n")
        for code in codes:
            name, value = ("CPEAS Geographic Code", code) if isinstance(code, str) else code
            lines.append(
                f"      <geocode>\n        <valueName>{escape(name)}</valueName>\n"
                f"        <value>{escape(value)}</value>\n      </geocode>\n"
            )
        lines.append("    </area>\n")
        return "".join(lines)

    def info(language: str, event: str, headline: str, where: Sequence[CapArea]) -> str:
        return (
            "  <info>\n"
            f"    <language>{language}</language>\n"
            f"    <category>{category}</category>\n"
            f"    <event>{event}</event>\n"
            f"    <urgency>{urgency}</urgency>\n"
            f"    <severity>{severity}</severity>\n"
            f"    <certainty>{certainty}</certainty>\n"
            + when("effective", effective)
            + when("onset", onset)
            + when("expires", expires)
            + f"    <senderName>{escape(sender)}</senderName>\n"
            f"    <headline>{headline}</headline>\n"
            + "".join(area_xml(a) for a in where)
            + "  </info>\n"
        )

    refs = " ".join(f"{s},{i},{t.isoformat()}" for s, i, t in references)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">\n'
        f"  <identifier>{escape(identifier)}</identifier>\n"
        f"  <sender>{escape(sender)}</sender>\n"
        f"  <sent>{sent.isoformat()}</sent>\n"
        f"  <status>{status}</status>\n"
        f"  <msgType>{msg_type}</msgType>\n"
        "  <scope>Public</scope>\n"
        + (f"  <references>{refs}</references>\n" if refs else "")
        + info("zh-CN", "突发公共卫生事件", "疫情防控通告", areas)
        + info(
            "en-US",
            "Public health emergency",
            "Epidemic control notice",
            areas if english_areas is None else english_areas,
        )
        + "</alert>\n"
    )

"""The eight-step closed loop: routing, time limits, escalation, feedback, scores, bulk, Open311."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridgov import (
    ClockError,
    CommandError,
    Event,
    GridgovError,
    NotFoundError,
    TransitionError,
    UnknownUnitError,
)
from gridgov.clock import EPOCH
from gridgov.open311 import FIELDS, dumps, service_requests
from gridgov.presets import small
from gridgov.rules import TICKET_STEPS, TicketCategory, TicketRule
from gridgov.testing import StandaloneDesk
from gridgov.tickets import (
    CLOSED_STATES,
    STATES,
    Private,
    Ticket,
    TicketArrays,
    TicketChange,
    compile_table,
    redact,
    scorecards,
    situation_from,
    ticket_board,
)

CITY = small()
CHAIN = CITY.chain
GRID = "990101001001-G001"
COMPOUND = "990101001001-C01"
BUILDING = "990101001001-C01-B01"
COMMUNITY = "990101001001"
STREET = "990101001"
DISTRICT = "990101"
TOP = "990100"
#: The chain above GRID, the grid first.
UP = (GRID, COMMUNITY, STREET, DISTRICT, TOP)
GRIDS = tuple(CHAIN.units("grid"))
RULE = TicketRule()
CATEGORIES = tuple(RULE.categories)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
T0 = EPOCH
DOCS = Path(__file__).resolve().parent.parent / "docs" / "tickets.md"
#: The step that takes a ticket forward from each state.
FORWARD = {
    "accepted": "classify",
    "classified": "track",
    "tracking": "supervise",
    "supervising": "feed_back",
    "fed_back": "score",
    "scored": "publish",
    "published": "archive",
}
RESIDENT = Private(name="Wang Fang", phone="13912345678", address="Building 3, Room 502")
WORDS = "Wang Fang in Building 3, Room 502 needs insulin; call 139 1234 5678"


def desk_with(rule: TicketRule | None = None, emergency: bool = False) -> StandaloneDesk:
    """A desk on the small city; every origin in an emergency when asked."""
    return StandaloneDesk(CITY, rule, (lambda _: "emergency") if emergency else None)


def through(desk: StandaloneDesk, ticket: str, triggers: list[str], at: datetime) -> None:
    """Fire ``triggers`` in order at ``at`` (a score of 5 where a score is due)."""
    for trigger in triggers:
        data: dict[str, Any] = {"score": 5} if trigger == "score" else {}
        desk.trigger(ticket, trigger, at, **data)


def kinds(changes: tuple[TicketChange, ...] | list[TicketChange]) -> list[str]:
    return [c.kind for c in changes]


class TestMachine:
    """One transitions machine is the single source of the workflow."""

    def test_table_agrees_with_machine(self) -> None:
        """For every state and trigger, the compiled table gives what the machine does."""
        board = ticket_board()
        for state in STATES:
            for trigger in board.triggers:
                probe = type(ticket_board())("workflow", STATES, board._definition, ["t"])
                probe._force("t", state)
                expected = board.table().get((state, trigger))
                model = probe._machine.models[0]
                if expected is None:
                    with pytest.raises(TransitionError):
                        probe.destination("t", state, trigger)
                    with pytest.raises(Exception, match="Can't trigger"):
                        model.trigger(trigger)
                    assert probe.state("t") == state
                else:
                    assert probe.destination("t", state, trigger) == expected
                    model.trigger(trigger)
                    assert probe.state("t") == expected

    def test_integer_table_agrees(self) -> None:
        """compile_table gives the same transitions as the board's table, as integers."""
        board = ticket_board()
        states, triggers, table = compile_table(board)
        assert states == STATES
        got = {
            (states[s], triggers[t]): states[d]
            for s, row in enumerate(table)
            for t, d in enumerate(row)
            if d >= 0
        }
        assert got == dict(board.table())

    def test_timed_states_are_the_open_ones(self) -> None:
        """Every state but the final ones has a time limit in the rules."""
        finals = {"archived", "withdrawn"}
        assert set(TICKET_STEPS) == set(STATES) - finals
        assert tuple(s for s in STATES if s not in finals) == TICKET_STEPS

    def test_docs_diagram_is_the_machine(self) -> None:
        """docs/tickets.md holds exactly the diagram transitions draws of the machine."""
        blocks = re.findall(r"```mermaid\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
        assert blocks[0] == ticket_board().diagram().rstrip("\n") + "\n"
        for trigger in ticket_board().triggers:
            assert trigger in blocks[0]


class TestRouting:
    """Classification routes a ticket up the chain, level by level, to its category's level."""

    @pytest.mark.parametrize("category", CATEGORIES)
    def test_each_category_reaches_its_level(self, category: str) -> None:
        """The ticket ends at the unit of the category's level, one transfer per level."""
        desk = desk_with()
        ticket = desk.open(GRID, category, T0).id
        changes = desk.trigger(ticket, "classify", T0 + HOUR)
        level = RULE.categories[category].level
        target = CHAIN.ancestor(GRID, level)
        hops = [c for c in changes if c.kind == "ticket.transferred"]
        assert [(c.old, c.new) for c in hops] == list(pairwise(UP[: UP.index(target) + 1]))
        assert desk.ticket(ticket).unit == target
        assert changes[0].data["responsible"] == RULE.categories[category].responsible

    def test_examples_of_practice(self) -> None:
        """Garbage stays at the grid, medicine goes to the community, a hospital transfer
        to the district."""
        desk = desk_with()
        for category, unit in (
            ("garbage", GRID),
            ("medicine", COMMUNITY),
            ("supply_shortage", STREET),
            ("hospital_transfer", DISTRICT),
        ):
            ticket = desk.open(GRID, category, T0).id
            desk.trigger(ticket, "classify", T0)
            assert desk.ticket(ticket).unit == unit, category

    def test_classification_may_change_the_category(self) -> None:
        """classify(category=...) routes by the new category."""
        desk = desk_with()
        ticket = desk.open(GRID, "garbage", T0).id
        desk.trigger(ticket, "classify", T0, category="hardship")
        assert (desk.ticket(ticket).category, desk.ticket(ticket).unit) == ("hardship", STREET)

    def test_origin_from_compound_or_building(self) -> None:
        """A building or compound names its grid as the origin, and its compound."""
        desk = desk_with()
        for where in (BUILDING, COMPOUND):
            ticket = desk.open(where, "repair", T0)
            assert (ticket.origin, ticket.compound) == (GRID, COMPOUND)

    def test_transfer_goes_up_one_level_by_default(self) -> None:
        """A unit lacking the authority transfers the ticket one level up; the limit runs on."""
        desk = desk_with()
        ticket = desk.open(GRID, "repair", T0).id
        desk.trigger(ticket, "classify", T0)
        due = desk.ticket(ticket).due
        changes = desk.trigger(ticket, "transfer", T0 + HOUR, reason="needs the street")
        assert kinds(changes) == ["ticket.step", "ticket.transferred"]
        assert desk.ticket(ticket).unit == STREET
        assert desk.ticket(ticket).due == due

    def test_transfer_only_up(self) -> None:
        """A transfer down or sideways is refused and changes nothing."""
        desk = desk_with()
        ticket = desk.open(GRID, "hardship", T0).id
        desk.trigger(ticket, "classify", T0)
        before = desk.snapshot()
        with pytest.raises(GridgovError, match="only up its chain of command"):
            desk.trigger(ticket, "transfer", T0, to=COMMUNITY)
        with pytest.raises(UnknownUnitError):
            desk.trigger(ticket, "transfer", T0, to="nowhere")
        assert desk.snapshot() == before

    def test_unknown_origin_and_category(self) -> None:
        """An origin that is no grid, compound or building, or an unknown category, is refused."""
        desk = desk_with()
        with pytest.raises(UnknownUnitError, match="no grid, compound or building named 'x'"):
            desk.open("x", "repair", T0)
        with pytest.raises(UnknownUnitError):
            desk.open(COMMUNITY, "repair", T0)
        with pytest.raises(GridgovError, match="unknown request category 'noise'"):
            desk.open(GRID, "noise", T0)
        assert len(desk) == 0


class TestTimeLimits:
    """A passed limit escalates one level per breach, up to the city and no further."""

    @pytest.mark.parametrize("state", TICKET_STEPS)
    def test_every_breach_climbs_one_level_until_the_city(self, state: str) -> None:
        """Breach after breach, the ticket climbs grid -> ... -> city, then is overdue once."""
        desk = desk_with()
        ticket = desk.open(GRID, "garbage", T0).id
        path = ["classify", "track", "supervise", "feed_back", "score", "publish"]
        through(desk, ticket, path[: TICKET_STEPS.index(state)], T0)
        assert desk.ticket(ticket).state == state
        start = desk.ticket(ticket).unit
        limit = RULE.limit("garbage", "normal", state)
        assert limit is not None
        seen: list[TicketChange] = []
        for breach in range(1, 8):
            at = T0 + breach * limit
            assert desk.advance(at - timedelta(microseconds=1)) == ()
            seen += desk.advance(at)
        climbs = [c for c in seen if c.kind == "ticket.escalated"]
        above = UP[UP.index(start) :]
        assert [(c.old, c.new) for c in climbs] == list(pairwise(above))
        assert [c.data["breached_at"] for c in climbs] == [
            (T0 + (i + 1) * limit).isoformat() for i in range(len(climbs))
        ]
        assert kinds(seen).count("ticket.overdue") == 1
        after = desk.ticket(ticket)
        assert (after.unit, after.due, after.state) == (TOP, None, state)
        assert after.escalations == len(above) - 1

    def test_escalation_names_the_rule(self) -> None:
        """The escalation records the key path and value of the limit that fired."""
        desk = desk_with(emergency=True)
        ticket = desk.open(GRID, "medicine", T0).id
        desk.trigger(ticket, "classify", T0)
        desk.trigger(ticket, "track", T0)
        (change,) = desk.advance(T0 + 2 * HOUR)
        assert change.kind == "ticket.escalated"
        assert change.data["rule"] == "tickets.categories.medicine.hours.emergency.tracking"
        assert "= 2 h" in change.cause
        assert (change.old, change.new) == (COMMUNITY, STREET)

    def test_sealed_compound_counts_in_hours(self) -> None:
        """A medicine request from a sealed compound has hours; from an open one, days."""
        zones = {COMPOUND: "sealed"}
        situation = situation_from(CITY, RULE, lambda c: zones.get(c, "open"), lambda _: "normal")
        desk = StandaloneDesk(CITY, RULE, situation)
        sealed = desk.open(BUILDING, "medicine", T0)
        other = desk.open("990101001002-G001", "medicine", T0)
        assert (sealed.mode, other.mode) == ("emergency", "normal")
        assert sealed.due == T0 + timedelta(minutes=15)
        assert other.due == T0 + 2 * HOUR

    def test_community_in_emergency_is_emergency(self) -> None:
        """A grid's request is an emergency one when its community is in emergency."""
        situation = situation_from(
            CITY, RULE, lambda _: "open", lambda c: "emergency" if c == COMMUNITY else "normal"
        )
        assert situation(GRID) == "emergency"
        assert situation("990101001002-G001") == "normal"

    @settings(max_examples=25, deadline=None)
    @given(st.lists(st.integers(1, 20 * 60), min_size=1, max_size=12))
    def test_sweeping_often_or_once_gives_the_same(self, steps: list[int]) -> None:
        """Sweeping at many times or once at the end gives the same units and deadlines."""
        often, once = desk_with(), desk_with()
        for desk in (often, once):
            for category in ("garbage", "hardship", "medicine"):
                desk.open(GRID, category, T0)
        now = T0
        for minutes in steps:
            now += timedelta(minutes=minutes * 10)
            often.advance(now)
        once.advance(now)
        assert [(t.unit, t.due, t.escalations) for t in often] == [
            (t.unit, t.due, t.escalations) for t in once
        ]

    def test_deadlines_in_time_order(self) -> None:
        """One sweep records every breach of every ticket in time order."""
        desk = desk_with()
        for category in ("garbage", "medical_transport", "repair"):
            desk.open(GRID, category, T0)
        changes = desk.advance(T0 + 10 * DAY)
        times = [c.time for c in changes]
        assert times == sorted(times)
        assert desk.next_due() is None

    def test_schedule_stays_small(self) -> None:
        """Deadlines replaced many times are dropped from the schedule; the next one is right."""
        desk = desk_with()
        ticket = desk.open(GRID, "repair", T0).id
        other = desk.open(GRID, "garbage", T0 + DAY).id
        for _ in range(700):
            desk.trigger(ticket, "classify", T0)
            desk.trigger(ticket, "reject", T0, reason="again")
        assert len(desk._heap) <= 2 * 2 + 1024
        assert desk.next_due() == T0 + 2 * HOUR
        (change,) = desk.advance(T0 + 2 * HOUR)
        assert (change.ticket, change.kind) == (ticket, "ticket.escalated")
        assert desk.ticket(other).escalations == 0


class TestFeedback:
    """The result travels down to the originating grid, one record per level."""

    def test_from_the_city_back_to_the_grid(self) -> None:
        """A ticket handled at the city returns through district, street, community, grid."""
        desk = desk_with()
        ticket = desk.open(GRID, "hospital_transfer", T0).id
        desk.trigger(ticket, "classify", T0)
        desk.advance(T0 + 2 * DAY)  # two breaches: district -> city
        assert desk.ticket(ticket).unit == TOP
        through(desk, ticket, ["track", "supervise"], T0 + 2 * DAY)
        changes = desk.trigger(ticket, "feed_back", T0 + 2 * DAY, result="moved by ambulance")
        returned = [c for c in changes if c.kind == "ticket.returned"]
        assert [(c.old, c.new) for c in returned] == [
            (TOP, DISTRICT),
            (DISTRICT, STREET),
            (STREET, COMMUNITY),
            (COMMUNITY, GRID),
        ]
        after = desk.ticket(ticket)
        assert (after.unit, after.handler, after.state) == (GRID, TOP, "fed_back")

    def test_handled_at_the_grid_needs_no_return(self) -> None:
        """Garbage handled by the grid itself is fed back without moving."""
        desk = desk_with()
        ticket = desk.open(GRID, "garbage", T0).id
        through(desk, ticket, ["classify", "track", "supervise"], T0)
        assert kinds(desk.trigger(ticket, "feed_back", T0)) == ["ticket.step"]


class TestScores:
    """A low score reopens once at the handler; each later one escalates; at the city it stands."""

    def handled(self, category: str = "medicine") -> tuple[StandaloneDesk, str]:
        desk = desk_with()
        ticket = desk.open(GRID, category, T0).id
        through(desk, ticket, ["classify", "track", "supervise", "feed_back"], T0)
        return desk, ticket

    def again(self, desk: StandaloneDesk, ticket: str) -> None:
        through(desk, ticket, ["supervise", "feed_back"], T0)

    def test_good_score_moves_on(self) -> None:
        """A score at or above the threshold leaves the ticket scored, to be published."""
        desk, ticket = self.handled()
        changes = desk.trigger(ticket, "score", T0, score=3)
        assert kinds(changes) == ["ticket.scored"]
        assert changes[0].data["effect"] == "accepted"
        assert desk.allowed(ticket) == ("publish",)

    def test_low_score_reopens_once_then_escalates(self) -> None:
        """First low score: back to tracking at the community; second: up to the street."""
        desk, ticket = self.handled()
        first = desk.trigger(ticket, "score", T0, score=2)
        assert kinds(first) == ["ticket.scored", "ticket.reopened"]
        assert first[0].data["effect"] == "reopened"
        assert (desk.ticket(ticket).state, desk.ticket(ticket).unit) == ("tracking", COMMUNITY)
        self.again(desk, ticket)
        second = desk.trigger(ticket, "score", T0, score=1)
        assert kinds(second) == ["ticket.scored", "ticket.reopened", "ticket.escalated"]
        assert (second[2].old, second[2].new) == (COMMUNITY, STREET)
        after = desk.ticket(ticket)
        assert (after.state, after.unit, after.escalations, after.reopens) == (
            "tracking",
            STREET,
            1,
            2,
        )

    def test_low_scores_stop_at_the_city(self) -> None:
        """Low scores climb a level each; at the city a low score is final."""
        desk, ticket = self.handled("hospital_transfer")
        effects = []
        for _ in range(3):
            effects.append(desk.trigger(ticket, "score", T0, score=1)[0].data["effect"])
            if desk.ticket(ticket).state == "tracking":
                self.again(desk, ticket)
        assert effects == ["reopened", "escalated", "final"]
        assert desk.ticket(ticket).state == "scored"
        assert desk.allowed(ticket) == ("publish",)
        assert desk.ticket(ticket).handler == TOP

    def test_score_must_be_one_to_five(self) -> None:
        """A score outside 1-5, or missing, is refused and changes nothing."""
        desk, ticket = self.handled()
        before = desk.snapshot()
        for bad in (0, 6, 2.5, True, None):
            with pytest.raises(GridgovError, match="from 1 to 5"):
                desk.trigger(ticket, "score", T0, score=bad)
        assert desk.snapshot() == before

    def test_reopen_is_not_a_command(self) -> None:
        """reopen follows a low score; asking for it directly is refused."""
        desk, ticket = self.handled()
        desk.trigger(ticket, "score", T0, score=5)
        with pytest.raises(GridgovError, match="follows a low score"):
            desk.trigger(ticket, "reopen", T0)


class TestWithdrawAndReject:
    """A resident withdraws before handling; a receiving unit rejects back to classification."""

    def test_withdraw_before_handling(self) -> None:
        """Accepted or classified tickets can be withdrawn; the loop is closed."""
        desk = desk_with()
        for steps in ([], ["classify"]):
            ticket = desk.open(GRID, "repair", T0).id
            through(desk, ticket, steps, T0)
            changes = desk.trigger(ticket, "withdraw", T0, reason="fixed it myself")
            assert kinds(changes) == ["ticket.withdrawn"]
            assert desk.ticket(ticket).state == "withdrawn"
            assert desk.ticket(ticket).due is None
        assert desk.next_due() is None

    def test_no_withdrawal_once_handled(self) -> None:
        """Once tracking started, withdraw is refused naming the state and allowed triggers."""
        desk = desk_with()
        ticket = desk.open(GRID, "repair", T0).id
        through(desk, ticket, ["classify", "track"], T0)
        with pytest.raises(TransitionError) as info:
            desk.trigger(ticket, "withdraw", T0)
        assert (info.value.state, info.value.allowed) == ("tracking", ("supervise",))
        assert "ticket T000001 is tracking" in str(info.value)

    def test_reject_back_to_classification(self) -> None:
        """A rejection needs a reason, returns the ticket to its grid, and it is classified anew."""
        desk = desk_with()
        ticket = desk.open(GRID, "repair", T0).id
        desk.trigger(ticket, "classify", T0)
        with pytest.raises(GridgovError, match="needs a reason"):
            desk.trigger(ticket, "reject", T0)
        (change,) = desk.trigger(ticket, "reject", T0 + HOUR, reason="a street matter")
        assert (change.kind, change.old, change.new) == (
            "ticket.rejected",
            "classified",
            "accepted",
        )
        assert change.data["by"] == COMMUNITY
        assert desk.ticket(ticket).unit == GRID
        assert desk.ticket(ticket).due == T0 + HOUR + 2 * HOUR
        desk.trigger(ticket, "classify", T0 + HOUR, category="hardship")
        assert desk.ticket(ticket).unit == STREET


class TestRefusals:
    """Illegal triggers and bad input raise clear errors and change nothing."""

    @pytest.mark.parametrize("state", [s for s in STATES if s != "withdrawn"])
    def test_every_illegal_trigger(self, state: str) -> None:
        """In every state, each trigger the machine refuses raises TransitionError."""
        desk = desk_with()
        ticket = desk.open(GRID, "garbage", T0).id
        path = ["classify", "track", "supervise", "feed_back", "score", "publish", "archive"]
        through(desk, ticket, path[: STATES.index(state)], T0)
        before = desk.snapshot()
        for trigger in sorted(ticket_board().triggers):
            if trigger in desk.allowed(ticket) or trigger == "reopen":
                continue
            with pytest.raises(TransitionError) as info:
                desk.plan_trigger(ticket, trigger, T0)
            assert (info.value.unit, info.value.state) == (f"ticket {ticket}", state)
            assert info.value.allowed == desk.allowed(ticket)
        assert desk.snapshot() == before

    def test_planning_never_changes_the_desk(self) -> None:
        """plan_open, plan_trigger and plan_due return changes and leave the desk as it was."""
        desk = desk_with()
        ticket = desk.open(GRID, "hardship", T0).id
        before = desk.snapshot()
        desk.plan_open(GRID, "repair", T0)
        desk.plan_trigger(ticket, "classify", T0)
        assert desk.plan_due(T0 + 30 * DAY)
        assert desk.snapshot() == before

    def test_time_rules(self) -> None:
        """Naive times, and steps dated before the ticket's last change, are refused."""
        desk = desk_with()
        with pytest.raises(ClockError):
            desk.open(GRID, "repair", datetime(2022, 9, 17))
        ticket = desk.open(GRID, "repair", T0 + HOUR).id
        with pytest.raises(GridgovError, match="would go back in time"):
            desk.trigger(ticket, "classify", T0)

    def test_unknown_ticket_and_data(self) -> None:
        """An unknown ticket, a taken number or unexpected data is refused."""
        desk = desk_with()
        ticket = desk.open(GRID, "repair", T0).id
        with pytest.raises(NotFoundError, match="no ticket with id 'T9'"):
            desk.trigger("T9", "classify", T0)
        with pytest.raises(GridgovError, match="already exists"):
            desk.open(GRID, "repair", T0, ticket=ticket)
        with pytest.raises(GridgovError, match="takes no colour"):
            desk.trigger(ticket, "classify", T0, colour="red")

    def test_apply_is_all_or_nothing(self) -> None:
        """A batch with one change that does not fit is refused whole."""
        desk = desk_with()
        ticket = desk.open(GRID, "repair", T0).id
        good = desk.plan_trigger(ticket, "classify", T0)
        bad = attrs_evolve(good[0], old="tracking")
        before = desk.snapshot()
        with pytest.raises(GridgovError, match="starts from tracking"):
            desk.apply([*good, bad])
        with pytest.raises(GridgovError, match="never opened"):
            desk.apply([attrs_evolve(good[0], ticket="T404")])
        assert desk.snapshot() == before

    def test_malformed_record_is_refused_whole(self) -> None:
        """A recorded step without the data its trigger needs is refused before anything changes."""
        desk = desk_with()
        ticket = desk.open(GRID, "repair", T0).id
        good = desk.plan_trigger(ticket, "classify", T0)
        data = {k: v for k, v in good[0].data.items() if k != "category"}
        before = desk.snapshot()
        with pytest.raises(GridgovError, match="malformed"):
            desk.apply([attrs_evolve(good[0], data=data), *good[1:]])
        assert desk.snapshot() == before

    def test_a_view_does_not_change(self) -> None:
        """A ticket taken from the desk stays as it was when the desk changes it later."""
        desk = desk_with()
        taken = desk.open(GRID, "repair", T0)
        desk.trigger(taken.id, "classify", T0 + HOUR)
        assert (taken.state, len(taken.history)) == ("accepted", 1)
        now = desk.ticket(taken.id)
        assert now.state == "classified"
        assert now.history[0] == taken.history[0]
        assert now.updated == T0 + HOUR


def attrs_evolve(change: TicketChange, **values: Any) -> TicketChange:
    import attrs

    return attrs.evolve(change, **values)


# ---------------------------------------------------------------- replay

commands = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "open",
                "classify",
                "transfer",
                "reject",
                "track",
                "supervise",
                "feed_back",
                "score",
                "publish",
                "archive",
                "withdraw",
                "advance",
                "forward",
                "forward",
                "forward",
                "forward",
            ]
        ),
        st.integers(0, 5),
        st.integers(1, 5),
        st.integers(0, 30 * 60),
    ),
    min_size=10,
    max_size=60,
)


class TestReplay:
    """Applying the recorded changes one by one to a fresh desk rebuilds the same desk."""

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(commands)
    def test_replay_gives_the_same_desk(self, steps: list[tuple[str, int, int, int]]) -> None:
        """Random commands, legal or not: a replay of the records equals the live desk."""
        desk = desk_with()
        record: list[TicketChange] = []
        now = T0
        for command, which, value, minutes in steps:
            now += timedelta(minutes=minutes)
            if command == "open":
                grid = GRIDS[which % len(GRIDS)]
                changes = desk.plan_open(grid, CATEGORIES[value % len(CATEGORIES)], now)
            elif command == "advance":
                changes = desk.plan_due(now)
            elif len(desk) == 0:
                continue
            else:
                ticket = sorted(t.id for t in desk)[which % len(desk)]
                if command == "forward":
                    command = FORWARD.get(desk.ticket(ticket).state, "archive")
                arguments: dict[str, dict[str, Any]] = {
                    "score": {"score": value},
                    "reject": {"reason": "not ours"},
                }
                data = arguments.get(command, {})
                try:
                    changes = desk.plan_trigger(ticket, command, now, **data)
                except GridgovError:
                    continue
            desk.apply(changes)
            record.extend(changes)
        fresh = desk_with()
        for change in record:
            fresh.apply([change])
        assert fresh.snapshot() == desk.snapshot()

    def test_replay_from_events(self) -> None:
        """Changes stored as journal events come back as the same changes."""
        desk = desk_with()
        ticket = desk.open(GRID, "medicine", T0, description=WORDS, resident=RESIDENT).id
        through(desk, ticket, ["classify", "track"], T0)
        desk.advance(T0 + 5 * DAY)
        history = desk.ticket(ticket).history
        events = [
            Event(seq=i + 1, command="c1", actor="system", **c.event_fields())
            for i, c in enumerate(history)
        ]
        assert [TicketChange.from_event(e) for e in events] == list(history)
        fresh = desk_with()
        fresh.apply(TicketChange.from_event(e) for e in events)
        assert fresh.snapshot() == desk.snapshot()
        json.dumps([e.data for e in events])  # JSON-friendly


# ------------------------------------------------------------ many steps

stream_commands = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "open",
                "open",
                "classify",
                "transfer",
                "reject",
                "withdraw",
                "score",
                "note",
                "forward",
                "forward",
                "forward",
                "forward",
                "forward",
                "forward",
            ]
        ),
        st.integers(0, 7),
        st.integers(1, 5),
        st.integers(0, 20 * 60),
    ),
    min_size=5,
    max_size=80,
)


def per_ticket(changes: Any) -> dict[str, list[TicketChange]]:
    """Each ticket's changes, in order."""
    out: dict[str, list[TicketChange]] = {}
    for change in changes:
        out.setdefault(change.ticket, []).append(change)
    return out


def stream_of(
    steps: list[tuple[str, int, int, int]], emergency: bool
) -> tuple[StandaloneDesk, list[TicketChange], list[tuple[datetime, str, str, Any]], datetime]:
    """Run random steps one call at a time (advance, then open or trigger), in time order.

    Returns the desk (advanced to the last step's time), every change, the
    steps it took (refused ones left out) as (time, ticket, trigger, data),
    and the last step's time.
    """
    desk = desk_with(emergency=emergency)
    record: list[TicketChange] = []
    taken: list[tuple[datetime, str, str, Any]] = []
    now = T0
    for command, which, value, minutes in steps:
        now += timedelta(minutes=minutes)
        ids = sorted(t.id for t in desk)
        data: dict[str, Any] | None
        if command == "open" or not ids:
            where = (GRIDS[which % len(GRIDS)], COMPOUND, BUILDING)[value % 3 if which == 7 else 0]
            ticket, trigger = f"T{len(ids) + 1:06d}", "open"
            data = {"where": where, "category": CATEGORIES[(which + value) % len(CATEGORIES)]}
            if which == 6:
                data["description"] = WORDS
        else:
            ticket = ids[which % len(ids)]
            state = desk.ticket(ticket).state
            trigger = FORWARD.get(state, "archive") if command in ("forward", "note") else command
            options: dict[str, dict[str, Any]] = {
                "score": {"score": value},
                "reject": {"reason": "not ours"},
                "classify": {"category": CATEGORIES[value]} if which == 5 else {},
                # a result fed back: the published summary then carries it
                "feed_back": {"result": f"handled for {RESIDENT.name}"} if which % 2 else {},
            }
            data = options.get(trigger) or None
            if command == "note":
                data = {**(data or {}), "note": f"looked at by {RESIDENT.name}"}
        record.extend(desk.advance(now))
        try:
            if trigger == "open":
                assert data is not None
                desk.open(
                    data["where"],
                    data["category"],
                    now,
                    ticket=ticket,
                    description=data.get("description", ""),
                )
                record.extend(desk.ticket(ticket).history[:1])
            else:
                record.extend(desk.trigger(ticket, trigger, now, **(data or {})))
        except GridgovError:
            continue
        taken.append((now, ticket, trigger, data))
    record.extend(desk.advance(now))
    return desk, record, taken, now


class TestPlay:
    """A stream of steps in one call: the same desk and changes as one call per step."""

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(stream_commands, st.booleans(), st.booleans())
    def test_same_as_one_call_per_step(
        self, steps: list[tuple[str, int, int, int]], emergency: bool, by_ticket: bool
    ) -> None:
        """Random legal streams, in time order or ticket by ticket: same desk, same changes."""
        calls, record, taken, end = stream_of(steps, emergency)
        if by_ticket:
            taken.sort(key=lambda step: step[1])  # stable: each ticket's steps stay in order
        desk = desk_with(emergency=emergency)
        changes = desk.play(
            [TicketArrays.micros(t) for t, _, _, _ in taken],
            [ticket for _, ticket, _, _ in taken],
            [trigger for _, _, trigger, _ in taken],
            [data for _, _, _, data in taken],
        )
        # Refused steps were left out; their times still moved the one-call desk on.
        after = desk.advance(end)
        assert desk.snapshot() == calls.snapshot()
        assert per_ticket([*changes, *after]) == per_ticket(record)
        assert list(changes.heads()) == [(c.kind, c.ticket, c.unit) for c in changes]
        breaches = {"ticket.escalated", "ticket.overdue"}
        assert list(zip(*changes.columns(breaches), strict=True)) == [
            (c.kind, c.ticket, c.unit) for c in changes if c.kind in breaches
        ]
        assert len(changes) + len(after) == len(record)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(stream_commands, st.booleans(), st.integers(0, 80), st.booleans())
    def test_two_streams_in_turn_as_one(
        self, steps: list[tuple[str, int, int, int]], emergency: bool, cut: int, peek: bool
    ) -> None:
        """A stream cut in two (in time order): a ticket's records go on in the second
        stream after the first's (its history a part of a stream's log, or a list of its
        own once read: ``peek`` reads every ticket between the two), the same desk."""
        calls, record, taken, end = stream_of(steps, emergency)
        desk = desk_with(emergency=emergency)
        changes: list[TicketChange] = []
        for part in (taken[:cut], taken[cut:]):
            changes += desk.play(
                [TicketArrays.micros(t) for t, _, _, _ in part],
                [ticket for _, ticket, _, _ in part],
                [trigger for _, _, trigger, _ in part],
                [data for _, _, _, data in part],
            )
            if peek:
                for ticket in desk:
                    assert ticket.history == tuple(per_ticket(changes).get(ticket.id, ()))
        after = desk.advance(end)
        assert desk.snapshot() == calls.snapshot()
        assert per_ticket([*changes, *after]) == per_ticket(record)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(stream_commands, st.booleans(), st.integers(1, 80))
    def test_a_refusal_in_a_run_leaves_its_record_whole(
        self, steps: list[tuple[str, int, int, int]], emergency: bool, cut: int
    ) -> None:
        """A stream refused in the middle of a ticket's run (right after its opening or
        a step): the ticket's record, whose fields the run keeps in local variables until
        it ends, reads as after one call per step, and every record reads whole."""
        _, _, taken, _ = stream_of(steps, emergency)
        kept = taken[: min(cut, len(taken))]
        at, ticket, _, _ = kept[-1]
        stream = [*kept, (at, ticket, "fly", None)]  # no such trigger: refused
        desk = desk_with(emergency=emergency)
        with pytest.raises(GridgovError, match=ticket):
            desk.play(
                [TicketArrays.micros(t) for t, _, _, _ in stream],
                [tid for _, tid, _, _ in stream],
                [trigger for _, _, trigger, _ in stream],
                [data for _, _, _, data in stream],
            )
        calls = desk_with(emergency=emergency)
        for t, tid, trigger, data in kept:
            calls.advance(t)
            if trigger == "open":
                description = data.get("description", "")
                calls.open(data["where"], data["category"], t, ticket=tid, description=description)
            else:
                calls.trigger(tid, trigger, t, **(data or {}))
        assert desk.ticket(ticket) == calls.ticket(ticket)
        assert {t.id for t in desk} == {t.id for t in calls}
        # The desk's count of tickets with a limit running (which decides when its
        # schedule is rebuilt) counts them, the refused detour's ticket once.
        assert desk._timed == sum(t.due is not None for t in desk)

    def test_a_refused_step_names_itself_and_keeps_the_steps_before(self) -> None:
        """A refused step raises as the one call would; the steps before it stay, whole."""
        desk = desk_with()
        at = [TicketArrays.micros(T0 + k * HOUR) for k in range(4)]
        with pytest.raises(TransitionError, match="T000001"):
            desk.play(
                at,
                ["T000001"] * 4,
                ["open", "classify", "track", "archive"],
                [{"where": GRID, "category": "repair"}, None, None, None],
            )
        calls = desk_with()
        calls.open(GRID, "repair", T0, ticket="T000001")
        calls.trigger("T000001", "classify", T0 + HOUR)
        calls.trigger("T000001", "track", T0 + 2 * HOUR)
        assert desk.snapshot() == calls.snapshot()
        assert desk.next_due() == calls.next_due() is not None

    def test_going_back_in_time_is_refused(self) -> None:
        """A ticket's step before its last change is refused, naming both times."""
        desk = desk_with()
        with pytest.raises(GridgovError, match="would go back in time"):
            desk.play(
                [TicketArrays.micros(T0 + HOUR), TicketArrays.micros(T0)],
                ["T000001", "T000001"],
                ["open", "classify"],
                [{"where": GRID, "category": "repair"}, None],
            )
        assert desk.ticket("T000001").state == "accepted"

    def test_lengths_must_agree(self) -> None:
        """Times, tickets, triggers and data of different lengths are refused; nothing changes."""
        desk = desk_with()
        with pytest.raises(GridgovError, match="same length") as caught:
            desk.play([0, 1], ["T1"], ["open", "open"])
        assert getattr(caught.value, "reason", None) == "lengths differ"
        assert len(desk) == 0

    def test_datetimes_and_time_zones(self) -> None:
        """Aware datetimes are taken as well as microseconds; times are shown in ``tz``."""
        beijing = timezone(timedelta(hours=8))
        desk = desk_with()
        desk.play(
            [T0, T0 + HOUR],
            ["T1", "T1"],
            ["open", "classify"],
            [{"where": GRID, "category": "repair"}, None],
            tz=beijing,
        )
        calls = desk_with()
        calls.open(GRID, "repair", T0.astimezone(beijing), ticket="T1")
        calls.trigger("T1", "classify", (T0 + HOUR).astimezone(beijing))
        assert desk.snapshot() == calls.snapshot()
        history = desk.ticket("T1").history
        assert [c.time.isoformat() for c in history] == [
            c.time.isoformat() for c in calls.ticket("T1").history
        ]
        assert history[0].time.utcoffset() == timedelta(hours=8)
        # A later stream in another zone: a breach after its step is shown in the
        # zone of that step (the ticket's latest change), as one call per step shows it.
        for flow in (desk, calls):
            at = [T0 + 2 * HOUR, T0 + 4 * DAY]
            if flow is desk:
                desk.play(at, ["T1", "T1"], ["track", "supervise"])
            else:
                calls.trigger("T1", "track", at[0])
                calls.advance(at[1])
                calls.trigger("T1", "supervise", at[1])
        shown = [(c.kind, c.time.isoformat()) for c in desk.ticket("T1").history]
        assert shown == [(c.kind, c.time.isoformat()) for c in calls.ticket("T1").history]
        late = [c for c in desk.ticket("T1").history if c.kind == "ticket.escalated"]
        assert late
        assert {c.time.utcoffset() for c in late} == {timedelta(0)}
        with pytest.raises(ClockError):
            desk.play(
                [datetime(2022, 9, 17)], ["T2"], ["open"], [{"where": GRID, "category": "repair"}]
            )

    @pytest.mark.parametrize("detour", [False, True])
    def test_breaches_read_from_their_marks(self, detour: bool) -> None:
        """A stream notes where it wrote each breach: the breaches read from those
        notes are the breaches among all its changes, in order; after a step through
        the planners (a withdrawal) they are read from all its changes, the same."""
        desk = desk_with(emergency=True)
        day = timedelta(days=1)
        tickets = [f"T{i}" for i in range(6)]
        at = [TicketArrays.micros(T0 + i * HOUR) for i in range(6)]
        triggers = ["open"] * 6
        data: list[Any] = [{"where": GRID, "category": "repair"}] * 6
        for i, ticket in enumerate(tickets[:6]):  # late steps: each climbs before it
            at.append(TicketArrays.micros(T0 + (i + 1) * day))
            tickets.append(ticket)
            triggers.append("classify")
            data.append(None)
        if detour:
            at.append(at[-1])
            tickets.append("T5")
            triggers.append("withdraw")
            data.append(None)
        changes = desk.play(at, tickets, triggers, data)
        assert (changes._marks is None) == detour
        breaches = ("ticket.escalated", "ticket.overdue")
        expected = [(c.kind, c.ticket, c.unit) for c in changes if c.kind in breaches]
        assert len(expected) >= 6
        assert list(zip(*changes.columns(breaches), strict=True)) == expected
        escalated = [(c.kind, c.ticket, c.unit) for c in changes if c.kind == breaches[0]]
        assert list(zip(*changes.columns(breaches[:1]), strict=True)) == escalated

    @pytest.mark.parametrize("dtype", [np.int64, np.uint64])
    def test_integer_arrays_of_times(self, dtype: Any) -> None:
        """An array of integer times is taken as the list of its items: the same desk
        and changes, and the records hold Python ints (not numpy's)."""
        at = [TicketArrays.micros(T0 + k * HOUR) for k in range(3)]
        tickets, triggers = ["T1", "T1", "T2"], ["open", "classify", "open"]
        opening = {"where": GRID, "category": "repair"}
        data: list[Any] = [opening, None, opening]
        listed, arrayed = desk_with(), desk_with()
        expected = list(listed.play(at, tickets, triggers, data))
        assert list(arrayed.play(np.array(at, dtype=dtype), tickets, triggers, data)) == expected
        assert arrayed.snapshot() == listed.snapshot()
        numbers = [x for x in arrayed._log if isinstance(x, (int, np.integer))]
        assert numbers
        assert {type(x) for x in numbers} <= {int, bool}

    def test_an_unknown_situation_is_refused(self) -> None:
        """An opening decided in place asks the situation as one call would: an answer
        that is no ticket mode is refused, naming the unit, and nothing changes."""
        desk = StandaloneDesk(CITY, None, lambda _: "panic")
        with pytest.raises(CommandError, match=f"situation of {GRID} is 'panic'") as caught:
            desk.play(
                [TicketArrays.micros(T0)], ["T1"], ["open"], [{"where": GRID, "category": "repair"}]
            )
        assert getattr(caught.value, "reason", None) == "unknown situation"
        assert len(desk) == 0
        with pytest.raises(CommandError, match=f"situation of {GRID} is 'panic'"):
            desk.open(GRID, "repair", T0, ticket="T1")
        assert len(desk) == 0

    def test_a_naive_time_refuses_the_whole_stream(self) -> None:
        """Every time is checked before the first step: a naive one changes nothing."""
        desk = desk_with()
        desk.open(GRID, "repair", T0, ticket="T1")
        before = desk.snapshot()
        with pytest.raises(ClockError):
            desk.play(
                [T0 + HOUR, datetime(2022, 9, 17, 2)],
                ["T1", "T2"],
                ["classify", "open"],
                [None, {"where": GRID, "category": "repair"}],
            )
        assert desk.snapshot() == before

    def test_breaches_of_untouched_tickets_up_to_the_last_step(self) -> None:
        """A ticket the stream does not touch again still breaches up to the stream's last time."""
        desk = desk_with()
        desk.play(
            [TicketArrays.micros(T0), TicketArrays.micros(T0 + 3 * DAY)],
            ["T1", "T2"],
            ["open", "open"],
            [{"where": GRID, "category": "repair"}, {"where": GRID, "category": "repair"}],
        )
        calls = desk_with()
        calls.open(GRID, "repair", T0, ticket="T1")
        calls.advance(T0 + 3 * DAY)
        calls.open(GRID, "repair", T0 + 3 * DAY, ticket="T2")
        assert desk.snapshot() == calls.snapshot()
        assert desk.ticket("T1").escalations >= 1


class TestPublicAndArchive:
    """Published text carries no personal data; the archive keeps the full history."""

    def closed(self) -> tuple[StandaloneDesk, Ticket]:
        desk = desk_with()
        ticket = desk.open(BUILDING, "medicine", T0, description=WORDS, resident=RESIDENT).id
        through(desk, ticket, ["classify", "track", "supervise"], T0)
        desk.trigger(ticket, "feed_back", T0, result="insulin delivered to Wang Fang")
        through(desk, ticket, ["score", "publish", "archive"], T0 + HOUR)
        return desk, desk.ticket(ticket)

    def test_no_personal_data_in_public(self) -> None:
        """Name, phone and address appear nowhere in the public part or the published summary."""
        _, ticket = self.closed()
        published = json.dumps([ticket.public(), ticket.record()], ensure_ascii=False)
        for secret in ("Wang", "Fang", "13912345678", "139 1234 5678", "Room 502"):
            assert secret not in published
        assert "insulin" in published
        assert ticket.private.description == WORDS

    def test_archive_has_the_full_history(self) -> None:
        """The archive record lists every change, and the private part only when asked."""
        _, ticket = self.closed()
        record = ticket.record()
        assert [h["kind"] for h in record["history"]] == [c.kind for c in ticket.history]
        assert "private" not in record
        assert ticket.record(private=True)["private"]["name"] == "Wang Fang"
        assert ticket.state == "archived"
        assert ticket.closed

    def test_redact(self) -> None:
        """Redaction removes the given values wherever they occur, and phone-like numbers."""
        text = redact("call WANG FANG on +86 139-1234-5678 or 12345", RESIDENT)
        assert text == "call [removed] on [removed] or 12345"


# ------------------------------------------------------------- scorecards


def day_of_tickets() -> StandaloneDesk:
    """Four tickets from two grids of one community and one of another, with known fates."""
    desk = desk_with()
    other = "990101001002-G001"
    on_time = desk.open(GRID, "garbage", T0).id
    through(desk, on_time, ["classify", "track", "supervise", "feed_back"], T0 + HOUR)
    desk.trigger(on_time, "score", T0 + HOUR, score=4)
    through(desk, on_time, ["publish", "archive"], T0 + HOUR)
    late = desk.open(GRID, "repair", T0).id
    desk.trigger(late, "classify", T0 + HOUR)
    desk.advance(T0 + 2 * DAY)  # classified 24 h: one escalation to the street
    through(desk, late, ["track", "supervise", "feed_back"], T0 + 2 * DAY)
    desk.trigger(late, "score", T0 + 2 * DAY, score=1)  # reopened
    gone = desk.open("990101001001-G002", "repair", T0).id
    desk.trigger(gone, "withdraw", T0 + HOUR)
    desk.open(other, "repair", T0)
    return desk


class TestScorecards:
    """Scorecards per unit come from the change records (or events) alone."""

    def records(self, desk: StandaloneDesk) -> list[TicketChange]:
        return sorted((c for t in desk for c in t.history), key=lambda c: c.time)

    def test_community_scorecard(self) -> None:
        """On-time rates per step, escalation and reopen rates, mean score, withdrawals."""
        desk = day_of_tickets()
        cards = scorecards(self.records(desk), CITY, "community", T0, T0 + 3 * DAY)
        card = cards[COMMUNITY]
        assert card.tickets == 3
        assert card.on_time["accepted"] == 1.0
        assert card.on_time["classified"] == 0.5  # the late repair breached
        assert card.escalated == 1
        assert card.escalation_rate == pytest.approx(1 / 3)
        assert (card.reopened, card.reopen_rate) == (1, 0.5)
        assert (card.scores, card.mean_score) == (2, 2.5)
        assert card.withdrawn == 1
        assert cards["990101001002"].tickets == 1
        assert cards["990101201201"].tickets == 0
        assert cards["990101201201"].escalation_rate is None

    def test_grid_and_district_and_period(self) -> None:
        """Every level sums the same tickets; outside the period there are none."""
        desk = day_of_tickets()
        records = self.records(desk)
        grids = scorecards(records, CITY, "grid")
        assert grids[GRID].tickets == 2
        assert scorecards(records, CITY, "district")[DISTRICT].tickets == 4
        assert scorecards(records, CITY, "street", T0 + HOUR)[STREET].tickets == 0

    def test_from_events(self) -> None:
        """Journal events give the same scorecards as the change records."""
        desk = day_of_tickets()
        records = self.records(desk)
        events = [
            Event(seq=i + 1, command="c", actor="system", **c.event_fields())
            for i, c in enumerate(records)
        ]
        other = Event(len(events) + 1, T0, "zone.changed", COMPOUND, "c", "system")
        events.append(other)
        assert scorecards(events, CITY, "street") == scorecards(records, CITY, "street")

    def test_unknown_level(self) -> None:
        """Compounds and made-up levels have no scorecards."""
        with pytest.raises(GridgovError, match="scorecards are kept per"):
            scorecards([], CITY, "compound")
        with pytest.raises(GridgovError):
            scorecards([], CITY, "galaxy")


# --------------------------------------------------------------- open311

ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
GEOREPORT_TYPES: dict[str, tuple[type, ...]] = {
    "service_request_id": (str,),
    "status": (str,),
    "status_notes": (str,),
    "service_name": (str,),
    "service_code": (str,),
    "description": (str,),
    "agency_responsible": (str,),
    "service_notice": (str,),
    "requested_datetime": (str,),
    "updated_datetime": (str,),
    "expected_datetime": (str, type(None)),
    "address": (str,),
}


class TestOpen311:
    """Tickets export as GeoReport v2 service requests."""

    def export(self) -> tuple[StandaloneDesk, list[dict[str, Any]]]:
        desk = TestPublicAndArchive().closed()[0]
        ticket = desk.open(GRID, "repair", T0, description=WORDS, resident=RESIDENT).id
        desk.trigger(ticket, "classify", T0 + HOUR)
        return desk, service_requests(desk)

    def test_fields_and_types(self) -> None:
        """Every GeoReport v2 field we map is present with its type; nothing else is."""
        _, requests = self.export()
        assert set(GEOREPORT_TYPES) == set(FIELDS)
        for request in requests:
            assert list(request) == list(FIELDS)
            for field, types in GEOREPORT_TYPES.items():
                assert isinstance(request[field], types), field
            assert request["status"] in ("open", "closed")

    def test_datetimes_are_iso_with_offset(self) -> None:
        """Datetimes are ISO 8601 with an offset, to the second; another zone on request."""
        desk, requests = self.export()
        for request in requests:
            for field in ("requested_datetime", "updated_datetime", "expected_datetime"):
                if request[field] is not None:
                    assert ISO_WITH_OFFSET.match(request[field]), request[field]
        beijing = timezone(timedelta(hours=8))
        shown = service_requests(desk, ["T000002"], tz=beijing)[0]
        assert shown["requested_datetime"] == "2022-09-17T08:00:00+08:00"

    def test_mapping(self) -> None:
        """Status, notes, limit, responsible unit and a community-level address."""
        _, (done, waiting) = self.export()
        assert (done["status"], done["expected_datetime"]) == ("closed", None)
        assert done["status_notes"].startswith("step 8 of 8")
        assert waiting["status"] == "open"
        assert waiting["status_notes"].startswith("step 2 of 8")
        assert waiting["expected_datetime"] == (T0 + HOUR + DAY).isoformat()
        assert waiting["agency_responsible"] == "East Community (property_service)"
        assert waiting["service_notice"] == "normal time limits: this step within 24 h"
        assert waiting["address"] == "East Community"
        assert (waiting["service_code"], waiting["service_name"]) == ("repair", "Repair")

    def test_no_personal_data(self) -> None:
        """The export carries the public summary only."""
        desk, _ = self.export()
        text = dumps(desk)
        for secret in ("Wang", "13912345678", "Room 502", "139 1234 5678"):
            assert secret not in text
        assert json.loads(text)[1]["description"].startswith("[removed]")


# ------------------------------------------------------------------ bulk

BULK_TRIGGERS = (
    "classify",
    "transfer",
    "reject",
    "track",
    "supervise",
    "feed_back",
    "publish",
    "archive",
    "withdraw",
)
tickets_chosen = st.sets(st.integers(0, 7), min_size=1)
forward = st.tuples(st.just("forward"), tickets_chosen, st.lists(st.integers(1, 5), min_size=8))
# Mostly forward steps, so that tickets get through the loop and back.
operations = st.lists(
    st.one_of(
        forward,
        forward,
        forward,
        st.tuples(st.just("fire"), tickets_chosen, st.sampled_from(BULK_TRIGGERS)),
        st.tuples(st.just("advance"), st.integers(0, 2 * 24 * 60)),
    ),
    min_size=20,
    max_size=80,
)


@st.composite
def populations(draw: st.DrawFn) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Up to eight tickets (grid, category) and each grid's mode."""
    tickets = draw(
        st.lists(
            st.tuples(st.sampled_from(GRIDS), st.sampled_from(CATEGORIES)), min_size=1, max_size=8
        )
    )
    modes = {grid: draw(st.sampled_from(["normal", "emergency"])) for grid in GRIDS}
    return tickets, modes


class _Both:
    """The per-ticket and the bulk path driven side by side with the same inputs."""

    def __init__(self, tickets: list[tuple[str, str]], modes: dict[str, str]) -> None:
        self.desk = StandaloneDesk(CITY, RULE, modes.__getitem__)
        self.bulk = TicketArrays(CITY, RULE, capacity=2)
        self.ids = [self.desk.open(grid, category, T0).id for grid, category in tickets]
        origins = [g for g, _ in tickets]
        got = self.bulk.open(origins, [c for _, c in tickets], T0, [modes[g] for g in origins])
        assert list(got) == list(range(len(self.ids)))
        self.now = T0
        #: Escalations seen by each path: (ticket index, from, to, breach time or "low").
        self.climbs: tuple[list[tuple[int, str, str, str]], list[tuple[int, str, str, str]]] = (
            [],
            [],
        )

    def advance(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        for change in self.desk.advance(self.now):
            if change.kind == "ticket.escalated":
                at = str(change.data["breached_at"])
                self.climbs[0].append((self.index(change), str(change.old), str(change.new), at))
        found = self.bulk.sweep(self.now)
        for i, a, b, at in zip(found.ticket, found.from_unit, found.to_unit, found.at, strict=True):
            breached = (EPOCH_1970 + timedelta(microseconds=int(at))).isoformat()
            self.climbs[1].append((int(i), self.bulk.units[a], self.bulk.units[b], breached))

    def index(self, change: TicketChange) -> int:
        return self.ids.index(change.ticket)

    def fire(self, chosen: list[int], trigger: str) -> None:
        desk, bulk = self.desk, self.bulk
        legal = [
            trigger in desk.allowed(self.ids[i])
            and not (trigger == "transfer" and desk.ticket(self.ids[i]).unit == TOP)
            for i in chosen
        ]
        assert list(bulk.legal(chosen, trigger)) == legal
        go = [i for i, ok in zip(chosen, legal, strict=True) if ok]
        data = {"reason": "not ours"} if trigger == "reject" else {}
        for i in go:
            desk.trigger(self.ids[i], trigger, self.now, **data)
        bulk.fire(go, trigger, self.now)

    def score(self, scores: dict[int, int]) -> None:
        go = [i for i in sorted(scores) if "score" in self.desk.allowed(self.ids[i])]
        for i in go:
            for change in self.desk.trigger(self.ids[i], "score", self.now, score=scores[i]):
                if change.kind == "ticket.escalated":
                    self.climbs[0].append((i, str(change.old), str(change.new), "low"))
        for i in self.bulk.score(go, [scores[i] for i in go], self.now):
            j = int(i)
            handler = self.bulk.units[int(self.bulk.handler[j])]
            self.climbs[1].append((j, handler, self.bulk.unit_of(j), "low"))

    def forward(self, chosen: list[int], scores: list[int]) -> None:
        groups: dict[str, list[int]] = {}
        for i in chosen:
            step = FORWARD.get(self.desk.ticket(self.ids[i]).state)
            if step is not None:
                groups.setdefault(step, []).append(i)
        for step, members in groups.items():
            if step == "score":
                self.score({i: scores[i] for i in members})
            else:
                self.fire(members, step)

    def check(self) -> None:
        for i, ticket_id in enumerate(self.ids):
            ticket = self.desk.ticket(ticket_id)
            due = None if ticket.due is None else TicketArrays.micros(ticket.due)
            bulk = self.bulk
            assert (bulk.state_of(i), bulk.unit_of(i), bulk.due_of(i)) == (
                ticket.state,
                ticket.unit,
                due,
            ), ticket_id
            assert int(bulk.escalations[i]) == ticket.escalations
            assert int(bulk.low_scores[i]) == ticket.low_scores
            assert bool(bulk.breached[i]) == ticket.breached


class TestBulk:
    """The bulk path runs the same machine and rules as the per-ticket path."""

    def test_arrays_compile_the_board(self) -> None:
        """The integer table is the board's table."""
        arrays = TicketArrays(CITY)
        states, triggers, table = compile_table(ticket_board())
        assert (arrays.states, arrays.triggers) == (states, triggers)
        assert arrays.table.tolist() == table

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(populations(), operations)
    def test_per_ticket_equals_bulk(
        self,
        population: tuple[list[tuple[str, str]], dict[str, str]],
        ops: list[tuple[Any, ...]],
    ) -> None:
        """Same inputs, same states, units, deadlines and escalations, step by step."""
        both = _Both(*population)
        n = len(both.ids)
        for op in ops:
            if op[0] == "advance":
                both.advance(op[1])
            else:
                chosen = sorted(i for i in op[1] if i < n)
                if op[0] == "forward":
                    both.forward(chosen, op[2])
                else:
                    both.fire(chosen, op[2])
            both.check()
        assert sorted(both.climbs[0]) == sorted(both.climbs[1])

    def test_refusal_changes_nothing(self) -> None:
        """One illegal ticket in the batch refuses the whole batch, naming it."""
        bulk = TicketArrays(CITY)
        idx = bulk.open([GRID] * 3, ["repair"] * 3, T0)
        bulk.fire(idx[:2], "classify", T0)
        before = (bulk.state.copy(), bulk.unit.copy(), bulk.due.copy())
        with pytest.raises(TransitionError, match="ticket #2 is accepted"):
            bulk.fire(idx, "track", T0 + HOUR)
        after = (bulk.state, bulk.unit, bulk.due)
        assert all((a == b).all() for a, b in zip(before, after, strict=True))
        with pytest.raises(GridgovError, match="not a grid"):
            bulk.open([COMMUNITY], ["repair"], T0)

    def test_sweep_of_many(self) -> None:
        """A sweep over many tickets escalates exactly the breached ones, one level each."""
        bulk = TicketArrays(CITY, capacity=10)
        grids = [GRIDS[i % len(GRIDS)] for i in range(3000)]
        cats = [("repair", "garbage", "dispute")[i % 3] for i in range(3000)]
        bulk.open(grids, cats, T0)
        found = bulk.sweep(T0 + 3 * HOUR)  # past every 2 h 'accepted' limit, before the next
        assert sorted(found.ticket.tolist()) == list(range(3000))
        assert (bulk.unit_level[bulk.unit[:3000]] == 1).all()
        assert bulk.counts()["accepted"] == 3000

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.lists(
            st.tuples(
                st.sampled_from(GRIDS),
                st.sampled_from(CATEGORIES),
                st.sampled_from(["normal", "emergency"]),
                st.integers(0, 600),
                st.lists(st.integers(1, 3000), min_size=7, max_size=7),
            ),
            min_size=1,
            max_size=6,
        ),
        st.integers(0, 8000),
    )
    def test_per_ticket_times_equal_time_order(
        self, tickets: list[tuple[str, str, str, int, list[int]]], horizon: int
    ) -> None:
        """Each ticket's own times in one call (swept to them first) = the desk in time order.

        The bulk side opens every ticket in one call and takes each step of
        every ticket in one call with each ticket's own time; the desk takes
        every event in time order, advancing before each. States, units,
        deadlines and every escalation agree.
        """
        steps = ("classify", "track", "supervise", "feed_back", "score", "publish", "archive")
        end = horizon * 60_000_000
        times = []  # per ticket: opening, then the end of each step, in microseconds
        for _, _, _, start, gaps in tickets:
            stamps = [start * 60_000_000]
            for gap in gaps:
                stamps.append(stamps[-1] + gap * 60_000_000)
            times.append(stamps)
        modes: dict[str, str] = {}
        for grid, _, mode, _, _ in tickets:
            modes.setdefault(grid, mode)
        base = TicketArrays.micros(T0)
        # The desk, in time order.
        desk = StandaloneDesk(CITY, RULE, modes.__getitem__)
        events = sorted(
            (at, k, i) for i, row in enumerate(times) for k, at in enumerate(row) if at <= end
        )
        ids = [f"T{i:06d}" for i in range(len(tickets))]
        climbs_desk = []

        def advance(micros: int) -> None:
            for change in desk.advance(T0 + timedelta(microseconds=micros)):
                if change.kind in ("ticket.escalated", "ticket.overdue"):
                    climbs_desk.append((ids.index(change.ticket), change.kind, change.new))

        for micros, k, i in events:
            advance(micros)
            when = T0 + timedelta(microseconds=micros)
            if k == 0:
                desk.open(tickets[i][0], tickets[i][1], when, ticket=ids[i])
            elif steps[k - 1] == "score":
                desk.trigger(ids[i], "score", when, score=4)
            else:
                desk.trigger(ids[i], steps[k - 1], when)
        advance(end)
        # The bulk path: one call per step, each ticket at its own time.
        bulk = TicketArrays(CITY, RULE, capacity=1)
        climbs_bulk = []

        def record(found: Any) -> None:
            for j, b in zip(found.ticket.tolist(), found.to_unit.tolist(), strict=True):
                climbs_bulk.append((opened[j], "ticket.escalated", bulk.units[b]))
            for j in found.overdue.tolist():
                climbs_bulk.append((opened[j], "ticket.overdue", None))

        opened = [i for i, row in enumerate(times) if row[0] <= end]
        position = {i: j for j, i in enumerate(opened)}
        if opened:
            at = np.array([base + times[i][0] for i in opened], dtype=np.int64)
            got = bulk.open(
                [tickets[i][0] for i in opened],
                [tickets[i][1] for i in opened],
                at,
                [modes[tickets[i][0]] for i in opened],
            )
            assert got.tolist() == list(range(len(opened)))
        for k, step in enumerate(steps, start=1):
            chosen = [i for i in opened if times[i][k] <= end]
            if not chosen:
                continue
            idx = [position[i] for i in chosen]
            at = np.array([base + times[i][k] for i in chosen], dtype=np.int64)
            record(bulk.sweep(at, idx))
            if step == "score":
                bulk.score(idx, [4] * len(idx), at)
            else:
                bulk.fire(idx, step, at)
        record(bulk.sweep(base + end))
        assert sorted(climbs_bulk, key=repr) == sorted(climbs_desk, key=repr)
        for j, i in enumerate(opened):
            ticket = desk.ticket(ids[i])
            due = None if ticket.due is None else TicketArrays.micros(ticket.due)
            assert (bulk.state_of(j), bulk.unit_of(j), bulk.due_of(j)) == (
                ticket.state,
                ticket.unit,
                due,
            )

    def test_per_ticket_times_are_checked(self) -> None:
        """One time per ticket, or one for all: anything else is refused, naming the count."""
        bulk = TicketArrays(CITY)
        idx = bulk.open([GRID] * 2, ["repair"] * 2, np.array([0, 5], dtype=np.int64))
        assert bulk.due_of(1) == 5 + 2 * 3_600_000_000
        with pytest.raises(GridgovError, match="2 expected"):
            bulk.fire(idx, "classify", np.array([1, 2, 3], dtype=np.int64))
        with pytest.raises(GridgovError, match="2 expected"):
            bulk.sweep(np.array([1], dtype=np.int64), idx)
        assert bulk.counts()["accepted"] == 2


EPOCH_1970 = datetime(1970, 1, 1, tzinfo=UTC)


class TestRulesUse:
    """The desk follows rules other than the defaults."""

    def test_custom_category_and_limits(self) -> None:
        """A category of one's own, with its own limit, routes and escalates by it."""
        rule = TicketRule(
            categories={
                **RULE.categories,
                "noise": TicketCategory(
                    "street",
                    "police",
                    {"normal": {"classified": 1.0}, "emergency": {"classified": 0.5}},
                ),
            },
            reopens=0,
        )
        desk = desk_with(rule)
        ticket = desk.open(GRID, "noise", T0).id
        desk.trigger(ticket, "classify", T0)
        assert desk.ticket(ticket).unit == STREET
        (change,) = desk.advance(T0 + HOUR)
        assert change.data["rule"] == "tickets.categories.noise.hours.normal.classified"
        through(desk, ticket, ["track", "supervise", "feed_back"], T0 + HOUR)
        kinds_low = kinds(desk.trigger(ticket, "score", T0 + HOUR, score=1))
        assert kinds_low == ["ticket.scored", "ticket.reopened", "ticket.escalated"]

    def test_closed_states(self) -> None:
        """Published, archived and withdrawn tickets are closed."""
        assert {"published", "archived", "withdrawn"} == CLOSED_STATES

"""The closed loop inside the engine: tickets as commands, escalated by the engine's clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gridgov import AuthorityError, Engine, ManualClock, TransitionError
from gridgov.presets import small
from gridgov.testing import assert_escalated, events_of

CITY = small()
COMPOUND = "990101001001-C01"
GRID = CITY.grids_of_compound(COMPOUND)[0]
COMMUNITY = "990101001001"
STREET = "990101001"
DISTRICT = "990101"


def engine() -> tuple[Engine, ManualClock]:
    clock = ManualClock()
    return Engine(CITY, clock=clock), clock


class TestTicketCommands:
    """open_ticket and handle_ticket record the desk's changes as events."""

    def test_open_and_route(self) -> None:
        """A medicine request from a sealed compound is routed to its community."""
        gov, _ = engine()
        gov.report_case(COMPOUND)
        opened = gov.open_ticket(COMPOUND, "medicine", description="insulin")
        ticket = opened.events[0].data["ticket"]
        assert opened.events[0].unit == GRID
        routed = gov.handle_ticket(ticket, "classify")
        assert [e.type for e in routed.events] == ["ticket.step", "ticket.transferred"]
        assert gov.tickets.ticket(ticket).unit == COMMUNITY

    def test_escalates_one_level_per_breach_to_the_city(self) -> None:
        """Each missed limit climbs one level; at the city it is overdue, no further."""
        gov, clock = engine()
        gov.report_case(COMPOUND)
        ticket = gov.open_ticket(COMPOUND, "medicine").events[0].data["ticket"]
        gov.handle_ticket(ticket, "classify")
        result = gov.advance(clock.now() + timedelta(days=5))
        climbed = [e.unit for e in result.events if e.type == "ticket.escalated"]
        assert climbed == [STREET, DISTRICT, CITY.chain.city]
        assert [e.type for e in result.events if e.type.startswith("ticket.")][-1] == (
            "ticket.overdue"
        )
        assert_escalated(gov, ticket, to="district")
        assert_escalated(gov, ticket, to="city")

    def test_replay_and_retry(self) -> None:
        """Ticket events replay to the same desk; a retried step is done once."""
        gov, clock = engine()
        ticket = gov.open_ticket(GRID, "garbage", key="req-1").events[0].data["ticket"]
        assert gov.open_ticket(GRID, "garbage", key="req-1").events[0].data["ticket"] == ticket
        gov.handle_ticket(ticket, "classify", key="step-1")
        length = len(gov.journal)
        gov.handle_ticket(ticket, "classify", key="step-1")
        assert len(gov.journal) == length
        gov.advance(clock.now() + timedelta(days=2))
        assert Engine.replay(CITY, list(gov.journal)).snapshot() == gov.snapshot()

    def test_illegal_step_changes_nothing(self) -> None:
        """Scoring a ticket that was never handled is refused: the ticket is as it was,
        and the refusal is recorded (one ``command.refused`` event)."""
        gov, _ = engine()
        ticket = gov.open_ticket(GRID, "garbage").events[0].data["ticket"]
        length, before = len(gov.journal), gov.snapshot()
        with pytest.raises(TransitionError):
            gov.handle_ticket(ticket, "score", score=5)
        assert gov.snapshot() == before
        (refusal,) = list(gov.journal)[length:]
        assert (refusal.type, refusal.data["error"]) == ("command.refused", "TransitionError")

    def test_jurisdiction(self) -> None:
        """Another street cannot handle this street's tickets (and the refusal is audited)."""
        gov, _ = engine()
        ticket = gov.open_ticket(GRID, "garbage").events[0].data["ticket"]
        with pytest.raises(AuthorityError):
            gov.handle_ticket(ticket, "classify", actor="990101201")
        assert events_of(gov, type="command.refused")

"""Engine.report_cases: a day's cases in one command, the events of report_case in turn."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridgov import ArgumentError, AuthorityError, Engine, GridgovError, ManualClock
from gridgov.errors import CommandError, UnknownUnitError
from gridgov.journal import Event
from gridgov.presets import small
from gridgov.testing import check_invariants

CITY = small()
CHAIN = CITY.chain
COMPOUNDS = sorted(CITY.compounds)
#: Two neighbouring communities' compounds and one elsewhere: cases overlap in scope.
SOME = COMPOUNDS[:5] + COMPOUNDS[-2:]
EAST = "990101001001"
VILLAGE = "990101201201"


def engine() -> tuple[Engine, ManualClock]:
    clock = ManualClock()
    return Engine(CITY, clock=clock), clock


def shape(event: Event) -> tuple[Any, ...]:
    """What an event says, its seq and command id left out."""
    return (event.time, event.type, event.unit, event.cause, event.old, event.new, event.data)


def in_village() -> str:
    return next(c for c in COMPOUNDS if CITY.compounds[c].community == VILLAGE)


class TestSameAsOneByOne:
    """report_cases records what report_case on each compound in turn records."""

    @given(
        before=st.lists(st.sampled_from(SOME), max_size=2),
        cases=st.lists(st.sampled_from(SOME), min_size=1, max_size=6),
        hours=st.integers(0, 30),
    )
    @settings(max_examples=40, deadline=None)
    def test_same_events_in_the_same_order(
        self, before: list[str], cases: list[str], hours: int
    ) -> None:
        """Earlier cases, time passing, then a batch (repeats included): the same
        events, in order, and the same state, as one report_case per compound."""
        one, one_clock = engine()
        batch, batch_clock = engine()
        for e, clock in ((one, one_clock), (batch, batch_clock)):
            for compound in before:
                e.report_case(compound)
            clock.advance(timedelta(hours=hours))
            e.advance()
        start = len(one.journal)
        for compound in cases:
            one.report_case(compound)
        result = batch.report_cases(cases)
        assert [shape(e) for e in result.events] == [shape(e) for e in list(one.journal)[start:]]
        assert [shape(e) for e in batch.journal] == [shape(e) for e in one.journal]
        # The same state, but for the count of commands (one here, one per case there).
        state, expected = batch.snapshot(), one.snapshot()
        assert state.pop("commands") == expected.pop("commands") - len(cases) + 1
        assert state == expected
        check_invariants(batch)

    def test_one_command_id_and_actor(self) -> None:
        e, _ = engine()
        result = e.report_cases([COMPOUNDS[0], in_village()], actor=CHAIN.city)
        assert {ev.command for ev in result.events} == {result.command}
        assert {ev.actor for ev in result.events} == {CHAIN.city}
        confirmed = [ev.unit for ev in result.events if ev.type == "case.confirmed"]
        assert confirmed == [COMPOUNDS[0], in_village()]

    def test_a_compound_twice_is_two_cases(self) -> None:
        """Two diagnoses in one compound: two case.confirmed events, as two report_case calls."""
        e, _ = engine()
        result = e.report_cases([COMPOUNDS[0], COMPOUNDS[0]])
        assert [ev.unit for ev in result.events if ev.type == "case.confirmed"] == [
            COMPOUNDS[0],
            COMPOUNDS[0],
        ]

    def test_replay_gives_the_same_state(self, tmp_path: Path) -> None:
        """Journaled in one transaction; reopening the journal replays to the same state."""
        clock = ManualClock()
        path = tmp_path / "journal.sqlite"
        e = Engine.open(path, city=CITY, clock=clock)
        e.report_cases([COMPOUNDS[0], in_village(), COMPOUNDS[0]])
        before = e.snapshot()
        e.close()
        again = Engine.open(path, city=CITY, clock=clock)
        try:
            assert again.snapshot() == before
        finally:
            again.close()

    def test_a_key_makes_a_retry_safe(self) -> None:
        e, _ = engine()
        first = e.report_cases([COMPOUNDS[0], in_village()], key="day-3")
        length = len(e.journal)
        second = e.report_cases([COMPOUNDS[0], in_village()], key="day-3")
        assert len(e.journal) == length
        assert second.command == first.command
        assert [shape(ev) for ev in second.events] == [shape(ev) for ev in first.events]


class TestBadInputChangesNothing:
    """A refused batch reports no case at all: one refusal event, the state as it was."""

    def refused(self, call: Any, error: type[GridgovError], match: str) -> None:
        e, clock = engine()
        e.report_case(COMPOUNDS[0])
        before, length = e.snapshot(), len(e.journal)
        with pytest.raises(error, match=match):
            call(e, clock)
        assert e.snapshot() == before
        assert [ev.type for ev in list(e.journal)[length:]] == ["command.refused"]

    def test_no_compound(self) -> None:
        self.refused(lambda e, _: e.report_cases([]), CommandError, "at least one compound")

    def test_an_unknown_compound_after_good_ones(self) -> None:
        self.refused(
            lambda e, _: e.report_cases([in_village(), "nowhere"]),
            UnknownUnitError,
            "nowhere",
        )

    def test_in_the_future(self) -> None:
        self.refused(
            lambda e, clock: e.report_cases([in_village()], at=clock.now() + timedelta(days=1)),
            CommandError,
            "in the future",
        )

    def test_an_actor_without_authority_over_one_of_them(self) -> None:
        """The east community commands its own compound, not the village's."""
        east = next(c for c in COMPOUNDS if CITY.compounds[c].community == EAST)
        self.refused(
            lambda e, _: e.report_cases([east, in_village()], actor=EAST),
            AuthorityError,
            "outside the jurisdiction",
        )

    @pytest.mark.parametrize("value", ["990101001001-C01", [5], [""], None, {"a": 1}])
    def test_arguments_of_the_wrong_form(self, value: Any) -> None:
        """Not a list of names: refused by the argument check, naming the argument."""
        self.refused(lambda e, _: e.report_cases(value), ArgumentError, "compounds")

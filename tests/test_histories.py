"""The property tests' player (``histories.play``) plays each step it is given.

Three property tests check their invariants on histories this player plays.
Those invariants hold whether or not a step took effect, so a player that
dropped a step would pass them. These tests check, step by step, that the
step reached the engine: each leaves the event a user's own call leaves.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gridgov.model import Level
from gridgov.presets import jiamusi
from histories import play

CITY = jiamusi(scale=0.1)
COMPOUND = sorted(CITY.compounds)[3]
STREET = CITY.chain.street_of(CITY.compounds[COMPOUND].community)
#: ManualClock's default start (gridgov.clock), written out rather than read.
START = datetime(2022, 9, 17, 0, 0, tzinfo=UTC)


def _types(history: list[tuple[object, ...]]) -> list[str]:
    engine, _clock = play(CITY, history)
    return [event.type for event in engine.journal.since(0)]


def test_a_case_step_confirms_a_case_in_its_compound_and_seals_it() -> None:
    engine, _clock = play(CITY, [("case", COMPOUND)])
    cases = [e for e in engine.journal.since(0) if e.type == "case.confirmed"]
    assert [e.unit for e in cases] == [COMPOUND]
    assert engine.zone(COMPOUND) == "sealed"


def test_a_declare_step_puts_the_unit_s_compounds_in_the_zone_and_a_lift_step_opens_them() -> None:
    declared, _clock = play(CITY, [("declare", STREET, "controlled")])
    assert declared.zone(COMPOUND) == "controlled"
    lifted, _clock = play(CITY, [("declare", STREET, "controlled"), ("lift", STREET, "open")])
    assert lifted.zone(COMPOUND) == "open"


def test_an_away_step_sets_both_kinds_availability() -> None:
    engine, _clock = play(CITY, [("away", 0.25)])
    (event,) = [e for e in engine.journal.since(0) if e.type == "availability.changed"]
    assert event.data["away"] == {"grid_worker": 0.25, "in_service_member": 0.25}


def test_steps_come_six_hours_apart_and_advance_and_wait_move_the_clock_by_days() -> None:
    _engine, clock = play(CITY, [("wait", 2), ("advance", 1)])
    assert clock.now() == START + timedelta(hours=12, days=3)
    engine, _clock = play(CITY, [("case", COMPOUND), ("case", COMPOUND)])
    times = [e.time for e in engine.journal.since(0) if e.type == "case.confirmed"]
    assert times == [START + timedelta(hours=6), START + timedelta(hours=12)]


def test_a_refused_step_is_skipped_and_the_rest_are_played() -> None:
    types = _types([("case", "no-such-compound"), ("away", 0.5)])
    assert "case.confirmed" not in types
    assert types.count("availability.changed") == 1


def test_an_unknown_step_is_an_error_of_the_player() -> None:
    with pytest.raises(ValueError, match="unknown step 'dance'"):
        play(CITY, [("dance",)])


def test_the_street_is_a_street() -> None:
    assert CITY.chain.level(STREET) is Level.STREET

"""Escalation rules of our city, one test per rule."""

from datetime import timedelta

from gridgov import Engine, ManualClock
from gridgov.testing import advance_by, assert_mode, assert_staffed, assert_zone, events_of

COMPOUND = "990101001001-C01"  # East Community, Riverside Street 1
COMMUNITY = "990101001001"
NEIGHBOUR = "990101001002"  # West Community, same street
VILLAGE = "990101201201"  # another street


def test_a_confirmed_case_seals_its_compound_within_the_hour(gridgov_engine: Engine) -> None:
    gridgov_engine.report_case(COMPOUND)
    assert_zone(gridgov_engine, COMPOUND, "sealed", within=timedelta(hours=1))


def test_a_confirmed_case_puts_its_street_on_alert(gridgov_engine: Engine) -> None:
    gridgov_engine.report_case(COMPOUND)
    assert_mode(gridgov_engine, COMMUNITY, "emergency")
    assert_mode(gridgov_engine, NEIGHBOUR, "alert")
    assert_mode(gridgov_engine, VILLAGE, "normal")


def test_a_sealed_compound_gets_its_point_lead_and_staff_at_once(gridgov_engine: Engine) -> None:
    gridgov_engine.report_case(COMPOUND)
    assert_staffed(gridgov_engine, COMPOUND)


def test_a_sealed_compound_steps_down_after_ten_quiet_days(gridgov_engine: Engine) -> None:
    gridgov_engine.report_case(COMPOUND)
    advance_by(gridgov_engine, timedelta(days=10) - timedelta(minutes=1))
    assert_zone(gridgov_engine, COMPOUND, "sealed")
    advance_by(gridgov_engine, timedelta(minutes=1))
    assert_zone(gridgov_engine, COMPOUND, "controlled")


def test_a_new_case_restarts_the_quiet_period(
    gridgov_engine: Engine, gridgov_clock: ManualClock
) -> None:
    gridgov_engine.report_case(COMPOUND)
    advance_by(gridgov_engine, timedelta(days=8))
    gridgov_engine.report_case(COMPOUND)
    advance_by(gridgov_engine, timedelta(days=8))
    assert_zone(gridgov_engine, COMPOUND, "sealed")


def test_everyone_is_back_on_their_normal_post_afterwards(gridgov_engine: Engine) -> None:
    gridgov_engine.report_case(COMPOUND)
    advance_by(gridgov_engine, timedelta(days=60))
    assert_mode(gridgov_engine, COMMUNITY, "normal")
    assigned = len(events_of(gridgov_engine, type="post.assigned"))
    released = len(events_of(gridgov_engine, type="post.released"))
    assert assigned == released > 0

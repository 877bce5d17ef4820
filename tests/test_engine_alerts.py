"""CAP alerts as engine commands: applied by the rules, ignored with reasons, hostile refused."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gridgov import AuthorityError, Engine, ManualClock
from gridgov.alerts import AlertError, AlertRule
from gridgov.presets import small

CITY = small()
DATA = Path(__file__).resolve().parent / "data" / "cap"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "cap"
EAST = "990101001001"


#: When the fixtures' first alert was sent (2022-09-17 09:30 +08:00).
SENT = datetime(2022, 9, 17, 1, 30, tzinfo=UTC)
#: The small city's communities are half of it: no share threshold here.
WIDE = AlertRule(review_share=1.0, review_level="city")


def engine() -> Engine:
    return Engine(CITY, clock=ManualClock(SENT), alert_rule=WIDE)


def shared_alerts() -> list[Path]:
    found = sorted(SHARED.glob("*.xml")) if SHARED.is_dir() else []
    return found or sorted((DATA / "oasis").glob("*.xml"))


class TestSpecificationExamples:
    """The real CAP 1.2 examples are parsed and answered by the rules, never a crash."""

    @pytest.mark.parametrize("path", shared_alerts(), ids=lambda p: p.name)
    def test_ignored_with_a_reason(self, path: Path) -> None:
        """Each example is recorded as received, ignored with a reason, and changes nothing."""
        gov = engine()
        result = gov.receive_alert(path.read_bytes())
        [received] = result.events
        assert received.type == "alert.received"
        assert received.data["action"] == "ignore"
        assert received.data["reasons"], "an ignored alert says why"
        assert set(gov.zones().values()) == {"open"}


class TestApplied:
    """Health alerts for units of the city declare and lift measures."""

    def test_sealed_by_geocode(self) -> None:
        """An Extreme/Observed health alert with a community's code seals its compounds."""
        gov = engine()
        result = gov.receive_alert((DATA / "cn-health-sealed.xml").read_bytes())
        assert result.events[0].data["targets"] == [EAST]
        assert {gov.zone(c) for c in CITY.compounds_of(EAST)} == {"sealed"}
        assert gov.mode(EAST) == "emergency"
        assert gov.commander_of(CITY.compounds_of(EAST)[0]) is not None

    def test_cancel_lifts_what_its_reference_sealed(self) -> None:
        """A Cancel referencing the sealing alert lifts the sealed community."""
        gov = engine()
        gov.receive_alert((DATA / "cn-health-sealed.xml").read_bytes())
        gov.advance(datetime(2022, 10, 1, 1, 0, tzinfo=UTC))
        gov.receive_alert((DATA / "cn-cancel.xml").read_bytes())
        assert {gov.zone(c) for c in CITY.compounds_of(EAST)} == {"open"}
        assert gov.mode(EAST) == "recovery"

    def test_exercise_changes_nothing_unless_asked(self) -> None:
        """An Exercise is recorded but not applied; with exercise=True it is."""
        text = (DATA / "cn-exercise.xml").read_bytes()
        gov = engine()
        result = gov.receive_alert(text)
        assert result.events[0].data["action"] == "ignore"
        assert set(gov.zones().values()) == {"open"}
        drill = engine()
        drill.receive_alert(text, exercise=True)
        assert set(drill.zones().values()) != {"open"}

    def test_replay_and_retry(self) -> None:
        """Alerts replay to the same state, and a retried alert (same key) is done once."""
        gov = engine()
        first = gov.receive_alert((DATA / "cn-update.xml").read_bytes(), key="feed-1")
        length = len(gov.journal)
        assert gov.receive_alert((DATA / "cn-update.xml").read_bytes(), key="feed-1") == first
        assert len(gov.journal) == length
        assert Engine.replay(CITY, list(gov.journal)).snapshot() == gov.snapshot()

    def test_actor_outside_jurisdiction(self) -> None:
        """An alert applied by an actor who does not command its area is refused."""
        gov = engine()
        with pytest.raises(AuthorityError):
            gov.receive_alert((DATA / "cn-health-sealed.xml").read_bytes(), actor="990101201")
        assert set(gov.zones().values()) == {"open"}


class TestHostile:
    """Malformed and malicious alerts are refused and change nothing."""

    @pytest.mark.parametrize("path", sorted((DATA / "hostile").glob("*")), ids=lambda p: p.name)
    def test_refused(self, path: Path) -> None:
        """Billion laughs, XXE, wrong namespace, truncated...: AlertError, one audit event."""
        gov = engine()
        before = gov.snapshot()
        data = path.read_bytes()
        with pytest.raises(AlertError) as caught:
            gov.receive_alert(data)
        assert gov.zones() == before["zones"]
        assert gov.modes() == before["modes"]
        [refused] = gov.journal
        assert refused.type == "alert.refused"
        assert refused.data["size"] == len(data)
        assert refused.data["digest"] == hashlib.sha256(data).hexdigest()
        assert refused.data["reason"] == str(caught.value)
        assert refused.data["outcome"] == "refused"

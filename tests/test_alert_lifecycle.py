"""The CAP message lifecycle on Jiamusi: chains, time, codes before names, review, audit.

Every alert here is a bilingual CPEAS-shaped message (a Chinese and an
English info) written for these tests with :func:`gridgov.testing.cap_message`.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridgov import AuthorityError, City, Engine, GridgovError, ManualClock
from gridgov.alerts import (
    CHAIN_TRANSITIONS,
    OUTCOMES,
    AlertBook,
    AlertError,
    AlertRule,
    CapArea,
    message_key,
    plan_alert,
)
from gridgov.journal import Event
from gridgov.testing import cap_message

CST = timezone(timedelta(hours=8))
T0 = datetime(2022, 9, 17, 9, 30, tzinfo=CST)
HOUR = timedelta(hours=1)
HEALTH = "230800-health-commission"
XIANGYANG_HEALTH = "230803-health-bureau"
C1 = "230803007001"  # 西林街道第1社区
C2 = "230803007002"
C3 = "230803007003"
STREET = "230803007"
XIANGYANG = "230803"
JIAO = "230811"
#: A stricter rule: measures on a district (above street) need a person.
STREETWISE = AlertRule(review_level="street")
#: The small city's communities are half of it: no share threshold there.
WIDE = AlertRule(review_share=1.0, review_level="city")


def zones_of(engine: Engine, unit: str) -> set[str]:
    return {engine.zone(c) for c in engine.city.compounds_of(unit)}


def alert_events(events: Sequence[Event]) -> list[Event]:
    return [e for e in events if e.type.startswith("alert.")]


def outcome(result_events: Sequence[Event]) -> str:
    (first,) = [e for e in result_events if e.type in ("alert.received", "alert.refused")]
    return str(first.data["outcome"])


def ref(identifier: str, sent: datetime, sender: str = HEALTH) -> tuple[str, str, datetime]:
    return (sender, identifier, sent)


@pytest.fixture
def gov(jiamusi_city: City) -> Engine:
    return Engine(jiamusi_city, clock=ManualClock(T0))


def receive(gov: Engine, text: str, at: datetime | None = None) -> list[Event]:
    """Receive ``text`` at ``at`` (the clock moved there first)."""
    if at is not None and at > gov.clock.now():
        gov.advance(at)
    return list(gov.receive_alert(text).events)


class TestCodesBeforeNames:
    """Areas resolve by code first; names only when the alert has no geocode at all."""

    def test_another_citys_code_never_falls_back_to_the_name(self, gov: Engine) -> None:
        """Hegang's Xiangyang District (230402, 向阳区) does not seal Jiamusi's 230803."""
        text = cap_message("HG-1", T0, sender="230400-health", areas=[("向阳区", ["230402000000"])])
        events = receive(gov, text)
        assert outcome(events) == "ignore"
        assert zones_of(gov, XIANGYANG) == {"open"}
        assert "geocode 230402000000 is outside Jiamusi" in " ".join(events[0].data["reasons"])

    def test_jiao_district_of_another_city(self, gov: Engine) -> None:
        """140311 (a Jiao District in Shanxi) leaves Jiamusi's Jiao District 230811 open."""
        events = receive(gov, cap_message("SX-1", T0, areas=[("Jiao District", ["140311"])]))
        assert outcome(events) == "ignore"
        assert zones_of(gov, JIAO) == {"open"}

    @pytest.mark.parametrize("value_name", ["GB/T 2260", "行政区划代码", "ADCODE", "adcode"])
    def test_value_names(self, gov: Engine, value_name: str) -> None:
        """Administrative codes under the other usual valueNames resolve like CPEAS's."""
        events = receive(gov, cap_message("V-1", T0, areas=[("东区", [(value_name, C1)])]))
        assert outcome(events) == "declare"
        assert zones_of(gov, C1) == {"sealed"}

    def test_value_names_are_configurable(self, jiamusi_city: City) -> None:
        """A rule listing only CPEAS's valueName sends an ADCODE-only area to review."""
        gov = Engine(
            jiamusi_city,
            clock=ManualClock(T0),
            alert_rule=AlertRule(value_names=("CPEAS Geographic Code",)),
        )
        events = receive(gov, cap_message("V-2", T0, areas=[("东区", [("ADCODE", C1)])]))
        assert outcome(events) == "review"
        assert zones_of(gov, C1) == {"open"}

    def test_unknown_sub_code_falls_back_to_the_nearest_known_ancestor(self, gov: Engine) -> None:
        """230803007099 is not listed: its street 230803007 is what the alert covers."""
        events = receive(gov, cap_message("S-1", T0, areas=[("某社区", ["230803007099"])]))
        assert outcome(events) == "declare"
        assert events[0].data["units"] == [STREET]
        assert zones_of(gov, STREET) == {"sealed"}
        assert "its nearest known ancestor is 230803007" in " ".join(events[0].data["reasons"])

    def test_name_used_only_without_any_geocode(self, gov: Engine) -> None:
        """An alert with no geocode at all: a unique unit name resolves."""
        events = receive(gov, cap_message("N-1", T0, areas=[("西林街道", [])]))
        assert outcome(events) == "declare"
        assert zones_of(gov, STREET) == {"sealed"}

    def test_name_not_used_when_the_alert_has_geocodes(self, gov: Engine) -> None:
        """One coded area elsewhere turns name matching off: the named area goes to review."""
        text = cap_message(
            "N-2",
            T0,
            areas=[("Community 001-1", [C1]), ("建设街道", [])],
            english_areas=[("Community 001-1", [C1])],
        )
        events = receive(gov, text)
        assert outcome(events) == "declare"
        assert zones_of(gov, "230803008") == {"open"}
        (review,) = gov.reviews
        assert "areaDesc is not matched" in review.reasons[0]

    def test_ambiguous_name_goes_to_review_with_candidates(self, gov: Engine) -> None:
        """A name many grids share ("Grid 1"): review, with every one of them as a candidate."""
        events = receive(gov, cap_message("N-3", T0, areas=[("Grid 1", [])]))
        assert outcome(events) == "review"
        (review,) = gov.reviews
        chain = gov.city.chain
        named = sorted(u for u in chain.units("grid") if chain.unit(u).name == "Grid 1")
        assert len(named) > 1
        assert list(review.candidates) == named
        assert f"{C1}-G001" in review.candidates

    def test_polygon_only_goes_to_review(self, gov: Engine) -> None:
        """Without geometry a polygon-only area is a person's call, never a silent ignore."""
        ring = "46.80,130.30 46.81,130.30 46.81,130.32 46.80,130.30"
        events = receive(gov, cap_message("P-1", T0, areas=[("江边", [], ring)]))
        assert outcome(events) == "review"
        assert [e.type for e in alert_events(events)] == ["alert.received", "alert.needs_review"]
        assert "no geometry to match them by" in gov.reviews[0].reasons[0]

    def test_polygon_with_a_matcher(self, jiamusi_city: City) -> None:
        """The geometry hook: a matcher given to the engine resolves shapes to units."""
        seen: list[CapArea] = []

        def matcher(area: CapArea) -> list[str]:
            seen.append(area)
            return [C2]

        gov = Engine(jiamusi_city, clock=ManualClock(T0), area_matcher=matcher)
        ring = "46.80,130.30 46.81,130.30 46.81,130.32 46.80,130.30"
        events = receive(gov, cap_message("P-2", T0, areas=[("江边", [], ring)]))
        assert outcome(events) == "declare"
        assert zones_of(gov, C2) == {"sealed"}
        assert len(seen[0].polygons) == 1


class _Match:
    """A geometry match that asks for a person (as gridgov.geo's AreaMatch does)."""

    needs_review = "ambiguous: 1 compound(s) 30-70% inside"

    def compound_ids(self) -> tuple[str, ...]:
        return ("230803007001-C01",)


class TestGeometryHook:
    """The matcher may return a match that needs review; its compounds become candidates."""

    def test_match_needing_review(self, jiamusi_city: City) -> None:
        """An ambiguous geometry match is not applied: review, with its compounds."""
        gov = Engine(jiamusi_city, clock=ManualClock(T0), area_matcher=lambda area: _Match())
        ring = "46.80,130.30 46.81,130.30 46.81,130.32 46.80,130.30"
        events = receive(gov, cap_message("G-1", T0, areas=[("江边", [], ring)]))
        assert outcome(events) == "review"
        (review,) = gov.reviews
        assert review.candidates == ("230803007001-C01",)
        gov.approve_review(review.id, actor=C1, units=list(review.candidates))
        assert gov.zone("230803007001-C01") == "sealed"
        assert gov.zone("230803007001-C02") == "open"


class TestLifecycle:
    """De-duplication, supersession, cancellation, staleness."""

    def test_duplicate_changes_nothing(self, gov: Engine) -> None:
        """The same (sender, identifier, sent) twice: the second is a recorded duplicate."""
        text = cap_message("A", T0, areas=[("东区", [C1])])
        receive(gov, text)
        before = gov.snapshot()
        events = receive(gov, text)
        assert [e.type for e in events] == ["alert.refused"]
        assert events[0].data["outcome"] == "duplicate"
        after = gov.snapshot()
        assert after["zones"] == before["zones"]
        assert after["alerts"] == before["alerts"]

    def test_same_message_with_another_offset_is_a_duplicate(self, gov: Engine) -> None:
        """sent 09:30+08:00 and 01:30Z are the same instant: the same message."""
        receive(gov, cap_message("A", T0, areas=[("东区", [C1])]))
        events = receive(gov, cap_message("A", T0.astimezone(UTC), areas=[("x", [C2])]))
        assert outcome(events) == "duplicate"
        assert zones_of(gov, C2) == {"open"}

    def test_stale_cancel_redelivered_never_lifts_a_newer_alert(self, gov: Engine) -> None:
        """A, Cancel C of A, new B on the same area, C again: B's measures stay."""
        a = cap_message("A", T0, areas=[("东区", [C1])])
        c = cap_message(
            "C", T0 + HOUR, msg_type="Cancel", references=[ref("A", T0)], areas=[("东区", [C1])]
        )
        b = cap_message("B", T0 + 2 * HOUR, areas=[("东区", [C1])])
        receive(gov, a)
        assert outcome(receive(gov, c, T0 + HOUR)) == "lift"
        assert zones_of(gov, C1) == {"open"}
        assert outcome(receive(gov, b, T0 + 2 * HOUR)) == "declare"
        assert outcome(receive(gov, c, T0 + 3 * HOUR)) == "duplicate"
        assert zones_of(gov, C1) == {"sealed"}

    def test_older_message_of_a_chain_is_stale(self, gov: Engine) -> None:
        """An Update older than the Cancel already applied to its chain is refused as stale."""
        receive(gov, cap_message("A", T0, areas=[("东区", [C1])]))
        cancel = cap_message("C", T0 + 2 * HOUR, msg_type="Cancel", references=[ref("A", T0)])
        receive(gov, cancel, T0 + 2 * HOUR)
        late = cap_message(
            "U", T0 + HOUR, msg_type="Update", references=[ref("A", T0)], areas=[("x", [C2])]
        )
        events = receive(gov, late, T0 + 3 * HOUR)
        assert [e.type for e in events] == ["alert.refused"]
        assert events[0].data["outcome"] == "stale"
        assert "older than" in events[0].data["reason"]
        assert zones_of(gov, C2) == {"open"}

    def test_late_copy_of_a_cancelled_alert_is_stale(self, gov: Engine) -> None:
        """The Cancel arrives first; its alert, delivered late, is refused as stale."""
        cancel = cap_message("C", T0 + HOUR, msg_type="Cancel", references=[ref("A", T0)])
        assert outcome(receive(gov, cancel, T0 + HOUR)) == "ignore"
        assert outcome(receive(gov, cap_message("A", T0, areas=[("东区", [C1])]))) == "stale"
        assert zones_of(gov, C1) == {"open"}

    def test_update_moves_the_area(self, gov: Engine) -> None:
        """Update 230803007001 -> 230803007002: the new area sealed, the old one released."""
        receive(gov, cap_message("A", T0, areas=[("东区", [C1])]))
        update = cap_message(
            "U", T0 + HOUR, msg_type="Update", references=[ref("A", T0)], areas=[("西区", [C2])]
        )
        events = receive(gov, update, T0 + HOUR)
        assert outcome(events) == "update"
        assert zones_of(gov, C2) == {"sealed"}
        # Released through the rules' normal step-down: still sealed, no longer held.
        quiet = timedelta(days=gov.rules.zones["sealed"].after_quiet_days)
        for compound in gov.city.compounds_of(C1):
            assert gov.zone(compound) == "sealed"
            assert gov.snapshot()["zone_due"][compound] == T0 + HOUR + quiet
        gov.advance(T0 + HOUR + quiet)
        assert zones_of(gov, C1) == {"controlled"}
        assert zones_of(gov, C2) == {"sealed"}

    def test_update_downgrade_lowers_the_zone(self, gov: Engine) -> None:
        """Extreme -> Moderate on the same area: sealed becomes precaution at once."""
        receive(gov, cap_message("A", T0, areas=[("东区", [C1])]))
        update = cap_message(
            "U",
            T0 + HOUR,
            msg_type="Update",
            references=[ref("A", T0)],
            severity="Moderate",
            areas=[("东区", [C1])],
        )
        receive(gov, update, T0 + HOUR)
        assert zones_of(gov, C1) == {"precaution"}

    def test_update_without_a_health_info_leaves_the_chain(self, gov: Engine) -> None:
        """A weather Update of a health alert, or an expired one: the seal stays."""
        receive(gov, cap_message("A", T0, areas=[("东区", [C1])]))
        weather = cap_message(
            "W",
            T0 + HOUR,
            msg_type="Update",
            references=[ref("A", T0)],
            category="Met",
            areas=[("东区", [C1])],
        )
        assert outcome(receive(gov, weather, T0 + HOUR)) == "ignore"
        lapsed = cap_message(
            "X",
            T0 + 2 * HOUR,
            msg_type="Update",
            references=[ref("A", T0)],
            expires=T0 + 2 * HOUR,
            areas=[("东区", [C1])],
        )
        assert outcome(receive(gov, lapsed, T0 + 2 * HOUR)) == "ignore"
        assert zones_of(gov, C1) == {"sealed"}

    def test_update_to_minor_releases(self, gov: Engine) -> None:
        """A health Update whose severity calls for no measure releases the area."""
        receive(gov, cap_message("A", T0, areas=[("东区", [C1])]))
        minor = cap_message(
            "M",
            T0 + HOUR,
            msg_type="Update",
            references=[ref("A", T0)],
            severity="Minor",
            areas=[("东区", [C1])],
        )
        assert outcome(receive(gov, minor, T0 + HOUR)) == "lift"
        assert not any(c in gov.snapshot()["held"] for c in gov.city.compounds_of(C1))

    def test_cancel_of_the_first_message_ends_the_whole_chain(self, gov: Engine) -> None:
        """Alert(001) -> Update(002) -> Cancel(the Alert): 002 is lifted too."""
        receive(gov, cap_message("A", T0, areas=[("东区", [C1])]))
        update = cap_message(
            "U", T0 + HOUR, msg_type="Update", references=[ref("A", T0)], areas=[("西区", [C2])]
        )
        receive(gov, update, T0 + HOUR)
        cancel = cap_message("C", T0 + 2 * HOUR, msg_type="Cancel", references=[ref("A", T0)])
        events = receive(gov, cancel, T0 + 2 * HOUR)
        assert outcome(events) == "lift"
        assert zones_of(gov, C2) == {"open"}
        (chain,) = gov.alert_book.chains.values()
        assert chain.state == "ended"
        assert chain.ended_by == "Cancel C"

    def test_cancel_never_lifts_what_another_live_alert_requires(self, gov: Engine) -> None:
        """Two senders on one community; cancelling the sealing one leaves it controlled."""
        receive(gov, cap_message("A", T0, areas=[("东区", [C1])]))
        other = cap_message(
            "X1", T0, sender=XIANGYANG_HEALTH, severity="Severe", areas=[("东区", [C1])]
        )
        receive(gov, other)
        cancel = cap_message("C", T0 + HOUR, msg_type="Cancel", references=[ref("A", T0)])
        receive(gov, cancel, T0 + HOUR)
        assert zones_of(gov, C1) == {"controlled"}

    def test_cancel_from_another_sender_ends_nothing(self, gov: Engine) -> None:
        """Chains are per sender: another sender's Cancel of A lifts nothing."""
        receive(gov, cap_message("A", T0, areas=[("东区", [C1])]))
        cancel = cap_message(
            "C",
            T0 + HOUR,
            sender=XIANGYANG_HEALTH,
            msg_type="Cancel",
            references=[ref("A", T0)],
        )
        events = receive(gov, cancel, T0 + HOUR)
        assert outcome(events) == "ignore"
        assert zones_of(gov, C1) == {"sealed"}

    def test_cancel_leaves_a_case_seal_alone(self, gov: Engine) -> None:
        """An alert controls a community; a case seals one compound; the Cancel keeps that seal."""
        receive(gov, cap_message("A", T0, severity="Severe", areas=[("东区", [C1])]))
        first = gov.city.compounds_of(C1)[0]
        gov.report_case(first)
        assert gov.zone(first) == "sealed"
        cancel = cap_message("C", T0 + HOUR, msg_type="Cancel", references=[ref("A", T0)])
        receive(gov, cancel, T0 + HOUR)
        assert gov.zone(first) == "sealed"


class TestTime:
    """onset/effective schedule, expires ends, an expired message does nothing."""

    def test_future_onset_is_scheduled(self, gov: Engine) -> None:
        """Onset tomorrow: nothing sealed now; sealed when the clock reaches it."""
        onset = T0 + timedelta(days=1)
        events = receive(gov, cap_message("A", T0, onset=onset, areas=[("东区", [C1])]))
        assert outcome(events) == "declare"
        assert zones_of(gov, C1) == {"open"}
        assert gov.next_deadline() == onset
        advanced = gov.advance(onset)
        assert zones_of(gov, C1) == {"sealed"}
        assert advanced.events[0].type == "alert.due"

    def test_expires_ends_the_measure(self, gov: Engine) -> None:
        """At expires the compounds go back to the rules' step-down (no longer held)."""
        ends = T0 + timedelta(days=3)
        receive(gov, cap_message("A", T0, expires=ends, areas=[("东区", [C1])]))
        assert all(c in gov.snapshot()["held"] for c in gov.city.compounds_of(C1))
        gov.advance(ends)
        snap = gov.snapshot()
        assert not any(c in snap["held"] for c in gov.city.compounds_of(C1))
        gov.advance(ends + timedelta(days=gov.rules.zones["sealed"].after_quiet_days))
        assert zones_of(gov, C1) == {"controlled"}

    def test_already_expired_does_nothing(self, gov: Engine) -> None:
        """An alert whose expiry has passed when it arrives is recorded and does nothing."""
        old = T0 - timedelta(days=10)
        text = cap_message("A", old, expires=old + timedelta(days=1), areas=[("东区", [C1])])
        events = receive(gov, text)
        assert outcome(events) == "ignore"
        assert "already expired when received: does nothing" in events[0].data["reasons"]
        assert zones_of(gov, C1) == {"open"}

    def test_update_before_onset_replaces_the_schedule(self, gov: Engine) -> None:
        """An Update before the scheduled start: the new area is what starts."""
        onset = T0 + timedelta(days=1)
        receive(gov, cap_message("A", T0, onset=onset, areas=[("东区", [C1])]))
        update = cap_message(
            "U",
            T0 + HOUR,
            msg_type="Update",
            references=[ref("A", T0)],
            onset=onset,
            areas=[("西区", [C2])],
        )
        receive(gov, update, T0 + HOUR)
        gov.advance(onset)
        assert zones_of(gov, C1) == {"open"}
        assert zones_of(gov, C2) == {"sealed"}

    def test_planning_needs_the_time(self) -> None:
        """plan_alert has no default time: nothing is applied without knowing when."""
        parameter = inspect.signature(plan_alert).parameters["now"]
        assert parameter.default is inspect.Parameter.empty
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY


class TestReview:
    """Too wide, too high or unresolved: a person approves or rejects."""

    def test_district_goes_to_review_and_is_approved(self, jiamusi_city: City) -> None:
        """With review_level street, a district-level geocode waits for the city's approval."""
        gov = Engine(jiamusi_city, clock=ManualClock(T0), alert_rule=STREETWISE)
        events = receive(gov, cap_message("D", T0, areas=[("向阳区", [XIANGYANG])]))
        assert outcome(events) == "review"
        assert zones_of(gov, XIANGYANG) == {"open"}
        (review,) = gov.reviews
        assert review.units == (XIANGYANG,)
        with pytest.raises(AuthorityError):
            gov.approve_review(review.id, actor=STREET)
        assert zones_of(gov, XIANGYANG) == {"open"}
        result = gov.approve_review(review.id, actor="230800")
        assert result.events[0].type == "alert.reviewed"
        assert result.events[0].data["decision"] == "approved"
        assert zones_of(gov, XIANGYANG) == {"sealed"}
        assert gov.reviews == []

    def test_whole_city_needs_review(self, gov: Engine) -> None:
        """One city-level geocode (230800) never seals the whole city by itself."""
        events = receive(gov, cap_message("W", T0, areas=[("佳木斯市", ["230800"])]))
        assert outcome(events) == "review"
        assert set(gov.zones().values()) == {"open"}
        assert "above review_level district" in gov.reviews[0].reasons[-1]

    def test_district_applies_by_default(self, gov: Engine) -> None:
        """A district (8% of Jiamusi's compounds) is not above the default level: applied."""
        events = receive(gov, cap_message("D", T0, areas=[("向阳区", [XIANGYANG])]))
        assert outcome(events) == "declare"
        assert zones_of(gov, XIANGYANG) == {"sealed"}

    def test_largest_units_go_to_review_until_within_the_share(self, gov: Engine) -> None:
        """Fujin (17% of the compounds) and Jiao District (12%) together exceed 25%:
        Fujin waits for a person, Jiao District is sealed."""
        fujin = "230882"
        text = cap_message("Two", T0, areas=[("富锦市", [fujin]), ("郊区", [JIAO])])
        events = receive(gov, text)
        assert outcome(events) == "declare"
        assert zones_of(gov, JIAO) == {"sealed"}
        assert zones_of(gov, fujin) == {"open"}
        (review,) = gov.reviews
        assert review.units == (fujin,)
        assert "exceed review_share 25%" in review.reasons[0]

    def test_share_threshold(self, jiamusi_city: City) -> None:
        """A lower review_share sends even a street to review."""
        gov = Engine(jiamusi_city, clock=ManualClock(T0), alert_rule=AlertRule(review_share=0.001))
        events = receive(gov, cap_message("S", T0, areas=[("街道", [STREET])]))
        assert outcome(events) == "review"

    def test_reject_needs_a_reason_and_applies_nothing(self, jiamusi_city: City) -> None:
        """Rejecting records who and why; nothing changes."""
        gov = Engine(jiamusi_city, clock=ManualClock(T0), alert_rule=STREETWISE)
        receive(gov, cap_message("D", T0, areas=[("向阳区", [XIANGYANG])]))
        (review,) = gov.reviews
        with pytest.raises(GridgovError, match="needs an actor and a reason"):
            gov.reject_review(review.id, actor="230800", reason=" ")
        result = gov.reject_review(review.id, actor="230800", reason="rumour; checked by phone")
        assert result.events[0].data["decision"] == "rejected"
        assert gov.reviews == []
        assert zones_of(gov, XIANGYANG) == {"open"}
        with pytest.raises(AlertError, match="no open review"):
            gov.approve_review(review.id, actor="230800")

    def test_unresolved_area_is_approved_with_units(self, gov: Engine) -> None:
        """An area that named no unit is applied on the units the reviewer names."""
        receive(gov, cap_message("N", T0, areas=[("Grid 1", [])]))
        (review,) = gov.reviews
        with pytest.raises(AlertError, match="names no unit"):
            gov.approve_review(review.id, actor=STREET)
        gov.approve_review(review.id, actor=STREET, units=[C1])
        assert zones_of(gov, C1) == {"sealed"}
        assert zones_of(gov, C2) == {"open"}

    def test_update_supersedes_an_open_review(self, jiamusi_city: City) -> None:
        """A newer message of the chain closes its open review (recorded as superseded)."""
        gov = Engine(jiamusi_city, clock=ManualClock(T0), alert_rule=STREETWISE)
        receive(gov, cap_message("D", T0, areas=[("向阳区", [XIANGYANG])]))
        update = cap_message(
            "U", T0 + HOUR, msg_type="Update", references=[ref("D", T0)], areas=[("东区", [C1])]
        )
        events = receive(gov, update, T0 + HOUR)
        closed = [e for e in events if e.type == "alert.reviewed"]
        assert [e.data["decision"] for e in closed] == ["superseded"]
        assert gov.reviews == []
        assert zones_of(gov, C1) == {"sealed"}


class TestAudit:
    """Refusals are journaled without their content; the engine takes max_bytes."""

    def test_hostile_alert_is_journaled(self, gov: Engine) -> None:
        """A DTD: refused, recorded with digest, size, readable ids and reason, no content."""
        text = cap_message("EVIL", T0, areas=[("东区", [C1])]).replace(
            '<?xml version="1.0" encoding="UTF-8"?>\n',
            '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE alert [<!ENTITY x "boom">]>\n',
        )
        with pytest.raises(AlertError):
            gov.receive_alert(text)
        [refused] = gov.journal
        data = text.encode()
        assert refused.type == "alert.refused"
        assert refused.data["digest"] == hashlib.sha256(data).hexdigest()
        assert refused.data["size"] == len(data)
        assert (refused.data["sender"], refused.data["identifier"]) == (HEALTH, "EVIL")
        assert "DTD" in refused.data["reason"]
        assert "boom" not in str(refused.data)
        assert zones_of(gov, C1) == {"open"}

    def test_max_bytes(self, gov: Engine) -> None:
        """The engine's limit can be lowered (refused, recorded) or raised."""
        text = cap_message("A", T0, areas=[("东区", [C1])])
        with pytest.raises(AlertError, match="max_bytes"):
            gov.receive_alert(text, max_bytes=200)
        assert gov.journal.select(type="alert.refused")[0].data["size"] == len(text.encode())
        padded = text.replace("<headline>", "<headline>" + "x" * (1 << 20), 1)
        with pytest.raises(AlertError):
            gov.receive_alert(padded)
        events = gov.receive_alert(padded, max_bytes=2 << 20).events
        assert events[0].data["outcome"] == "declare"

    def test_every_outcome_is_an_event(self, gov: Engine) -> None:
        """Test status, weather, review, duplicate: each leaves a recorded event."""
        texts = [
            cap_message("T", T0, status="Test", areas=[("东区", [C1])]),
            cap_message("M", T0, category="Met", areas=[("东区", [C1])]),
            cap_message("R", T0, areas=[("nowhere", [])]),
        ]
        for text in texts:
            assert alert_events(gov.receive_alert(text).events)
        assert len(gov.journal.select(type="alert.received")) == 3


class TestReplay:
    """The book, reviews and deadlines come back from the journal."""

    def test_replay_and_deadlines(self, gov: Engine, jiamusi_city: City) -> None:
        """Replaying gives the same state, and the same next steps."""
        receive(gov, cap_message("A", T0, expires=T0 + timedelta(days=2), areas=[("x", [C1])]))
        receive(gov, cap_message("B", T0, onset=T0 + timedelta(days=1), areas=[("x", [C2])]))
        receive(gov, cap_message("D", T0, areas=[("Grid 1", [])]))
        copy = Engine.replay(jiamusi_city, list(gov.journal), clock=ManualClock(T0))
        assert copy.snapshot() == gov.snapshot()
        assert copy.next_deadline() == gov.next_deadline() == T0 + timedelta(days=1)
        end = T0 + timedelta(days=3)
        gov.advance(end)
        copy.advance(end)
        assert copy.snapshot()["zones"] == gov.snapshot()["zones"]
        assert copy.snapshot()["alerts"] == gov.snapshot()["alerts"]
        assert message_key(HEALTH, "A", T0) in copy.alert_book.seen

    def test_book_as_json(self, gov: Engine) -> None:
        """The book dumps to JSON and loads back to the same book."""
        receive(gov, cap_message("A", T0, expires=T0 + timedelta(days=2), areas=[("x", [C1])]))
        receive(gov, cap_message("D", T0, areas=[("Grid 1", [])]))
        data = json.loads(json.dumps(gov.alert_book.state(), ensure_ascii=False))
        book = AlertBook()
        book._load(data)
        assert book.snapshot() == gov.alert_book.snapshot()
        assert book.chains_on(C1) == gov.alert_book.chains_on(C1)

    def test_a_refusal_under_an_idempotency_key_is_recorded_once(self, gov: Engine) -> None:
        """A hostile message retried with the same key is refused again, recorded once
        (issue 18: a retried refusal is one audit event); without a key, each is recorded."""
        errors = []
        for _ in range(2):
            with pytest.raises(AlertError) as info:
                gov.receive_alert("<alert>", key="feed-7")
            errors.append(str(info.value))
        assert errors[0] == errors[1]
        assert len(gov.journal.select(type="alert.refused")) == 1
        for _ in range(2):
            with pytest.raises(AlertError):
                gov.receive_alert("<alert>")
        assert len(gov.journal.select(type="alert.refused")) == 3


DOC = Path(__file__).resolve().parent.parent / "docs" / "alerts.md"


def doc_diagram() -> set[tuple[str, str, str]]:
    """The transitions drawn in the mermaid state diagram of docs/alerts.md."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index("```mermaid\nstateDiagram-v2")
    block = text[start : text.index("```", start + 10)]
    found = set()
    for line in block.splitlines():
        match = re.fullmatch(r"\s*(\[\*\]|\w+) --> (\w+): (\w+)\s*", line)
        if match:
            source, dest, trigger = match.groups()
            found.add(("new" if source == "[*]" else source, trigger, dest))
    return found


def doc_lifecycle_outcomes() -> set[str]:
    """The outcomes named in the lifecycle table of docs/alerts.md."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index("| message | outcome | what happens |")
    table = text[start : text.index("\n\n", start)]
    return set(re.findall(r"`(\w+)`", "\n".join(row.split("|")[2] for row in table.splitlines())))


class TestDocs:
    """docs/alerts.md draws the chain's states as the planner moves them."""

    def test_diagram_is_the_table(self) -> None:
        """The mermaid diagram has exactly CHAIN_TRANSITIONS."""
        assert doc_diagram() == set(CHAIN_TRANSITIONS)

    def test_lifecycle_table_names_the_outcomes(self) -> None:
        """Every outcome a message can have is in the lifecycle table (refused is in Audit)."""
        assert doc_lifecycle_outcomes() == set(OUTCOMES) - {"refused"}

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3), st.integers(0, 3)), max_size=8))
    def test_planner_moves_only_along_the_diagram(
        self, small_city: City, steps: list[tuple[int, int, int]]
    ) -> None:
        """Random feeds of Alerts, Updates, Cancels and clock moves: every change of a
        chain's state is a transition of the diagram."""
        allowed = {(a, b) for a, _, b in CHAIN_TRANSITIONS}
        gov = Engine(small_city, clock=ManualClock(T0), alert_rule=WIDE)
        units = ["990101001001", "990101001002", "990101201201"]
        sent: list[tuple[str, datetime]] = []
        for n, (kind, target, delay) in enumerate(steps):
            now = gov.clock.now() + timedelta(hours=delay)
            if now > gov.clock.now():
                before = {k: c.state for k, c in gov.alert_book.chains.items()}
                gov.advance(now)
                for key, chain in gov.alert_book.chains.items():
                    assert (before.get(key, "new"), chain.state) in allowed | {
                        (chain.state, chain.state)
                    }
            identifier = f"M{n}"
            refs = [ref(*sent[target % len(sent)])] if sent and kind >= 2 else []
            msg_type = "Alert" if not refs else ("Update" if kind < 5 else "Cancel")
            text = cap_message(
                identifier,
                now,
                msg_type=msg_type,
                references=refs,
                onset=now + HOUR if kind in (1, 3) else None,
                expires=now + 2 * HOUR if kind == 4 else None,
                areas=[("x", [units[target % 3]])],
            )
            before = {k: c.state for k, c in gov.alert_book.chains.items()}
            gov.receive_alert(text)
            sent.append((identifier, now))
            for key, chain in gov.alert_book.chains.items():
                old = before.get(key, "new")
                if old != chain.state or old == "new":
                    assert (old, chain.state) in allowed, (old, chain.state, msg_type)
        # Whatever happened, the journal replays to the same state.
        copy = Engine.replay(small_city, list(gov.journal), clock=ManualClock(gov.clock.now()))
        assert copy.snapshot() == gov.snapshot()

"""CAP alerts in: safe parsing, the rule table, area resolution and the decision."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridgov import City, GridgovError
from gridgov.alerts import (
    CAP_NAMESPACE,
    CATEGORIES,
    CPEAS_GEOCODE,
    MAX_ALERT_BYTES,
    AlertBook,
    AlertError,
    AlertPlan,
    AlertRule,
    CapAlert,
    CapArea,
    CapInfo,
    parse_cap,
    plan_alert,
    resolve_area,
)

DATA = Path(__file__).resolve().parent / "data" / "cap"
OASIS = DATA / "oasis"
HOSTILE = DATA / "hostile"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "cap"

# Units of the small preset, written out from gridgov/presets/small.py.
DISTRICT = "990101"
STREET = "990101001"
EAST = "990101001001"
WEST = "990101001002"
TOWNSHIP = "990101201"
VILLAGE = "990101201201"

HEALTH_AUTHORITY = "990101-health-commission"
SEALED_ID = "99010141600000_20220917093000"
SEALED_SENT = datetime(2022, 9, 17, 9, 30, tzinfo=timezone(timedelta(hours=8)))


#: Rule without review thresholds: the small city's communities are half of it.
WIDE = AlertRule(review_share=1.0, review_level="city")
NOW = SEALED_SENT


def plan(city: City, cap: CapAlert, rule: AlertRule | None = None, **kwargs: object) -> AlertPlan:
    """plan_alert at the alert's time, without review thresholds unless a rule is given."""
    now = kwargs.pop("now", NOW)
    return plan_alert(city, cap, rule if rule is not None else WIDE, now=now, **kwargs)  # type: ignore[arg-type]


def tz(hours: int) -> timezone:
    return timezone(timedelta(hours=hours))


def read(name: str) -> CapAlert:
    return parse_cap((DATA / name).read_bytes())


def template() -> str:
    """A valid alert (cn-health-sealed.xml) to mutate into invalid ones."""
    return (DATA / "cn-health-sealed.xml").read_text(encoding="utf-8")


def area(desc: str, *codes: str, name: str = CPEAS_GEOCODE) -> CapArea:
    return CapArea(area_desc=desc, geocodes=tuple((name, code) for code in codes))


def info(
    *areas: CapArea,
    severity: str = "Extreme",
    certainty: str = "Observed",
    urgency: str = "Immediate",
    categories: tuple[str, ...] = ("Health",),
    expires: datetime | None = None,
) -> CapInfo:
    return CapInfo(
        categories=categories,
        event="outbreak",
        urgency=urgency,
        severity=severity,
        certainty=certainty,
        expires=expires,
        areas=areas,
    )


def alert(
    *infos: CapInfo,
    status: str = "Actual",
    msg_type: str = "Alert",
    references: tuple[tuple[str, str, datetime], ...] = (),
) -> CapAlert:
    return CapAlert(
        identifier="A1",
        sender="test",
        sent=SEALED_SENT,
        status=status,
        msg_type=msg_type,
        scope="Public",
        references=references,
        infos=infos,
    )


class TestOasisExamples:
    """The three example alerts of the CAP 1.2 specification parse field by field."""

    def test_copies_match_the_shared_fixtures(self) -> None:
        """tests/data/cap/oasis holds the shared fixtures byte for byte."""
        if not SHARED.is_dir():
            pytest.skip("shared/fixtures/cap is not beside the repository")
        shared = sorted(p.name for p in SHARED.glob("*.xml"))
        assert shared == sorted(p.name for p in OASIS.glob("*.xml"))
        for name in shared:
            assert (OASIS / name).read_bytes() == (SHARED / name).read_bytes(), name

    def test_example1(self) -> None:
        """Example 1: a Security alert with a parameter and a nationwide area, no geometry."""
        cap = parse_cap((OASIS / "oasis-example1.xml").read_bytes())
        assert (cap.identifier, cap.sender) == ("43b080713727", "hsas@dhs.gov")
        assert cap.sent == datetime(2003, 4, 2, 14, 39, 1, tzinfo=tz(-5))
        assert (cap.status, cap.msg_type, cap.scope) == ("Actual", "Alert", "Public")
        assert (cap.references, cap.note) == ((), None)
        (one,) = cap.infos
        assert one.language == "en-US"  # CAP's default: the example has no <language>
        assert one.categories == ("Security",)
        assert one.event == "Homeland Security Advisory System Update"
        assert (one.urgency, one.severity, one.certainty) == ("Immediate", "Severe", "Likely")
        assert one.response_types == ()
        assert (one.effective, one.onset, one.expires) == (None, None, None)
        assert one.sender_name == "U.S. Government, Department of Homeland Security"
        assert one.headline == "Homeland Security Sets Code ORANGE"
        assert one.description is not None
        assert one.description.startswith("The Department of Homeland Security has elevated")
        assert one.description.endswith("heightened threat of terrorism.")
        assert one.instruction is not None
        assert one.instruction.startswith("A High Condition is declared")  # leading space cut
        assert one.parameters == (("HSAS", "ORANGE"),)
        assert one.areas == (CapArea(area_desc="U.S. nationwide and interests worldwide"),)

    def test_example2(self) -> None:
        """Example 2: a Met alert with responseType, expires, a polygon and three SAME geocodes."""
        cap = parse_cap((OASIS / "oasis-example2.xml").read_bytes())
        assert (cap.identifier, cap.sender) == ("KSTO1055887203", "KSTO@NWS.NOAA.GOV")
        assert cap.sent == datetime(2003, 6, 17, 14, 57, tzinfo=tz(-7))
        assert (cap.status, cap.msg_type, cap.scope) == ("Actual", "Alert", "Public")
        (one,) = cap.infos
        assert one.categories == ("Met",)
        assert one.event == "SEVERE THUNDERSTORM"
        assert one.response_types == ("Shelter",)
        assert (one.urgency, one.severity, one.certainty) == ("Immediate", "Severe", "Observed")
        assert one.expires == datetime(2003, 6, 17, 16, 0, tzinfo=tz(-7))
        assert one.sender_name == "NATIONAL WEATHER SERVICE SACRAMENTO CA"
        assert one.headline == "SEVERE THUNDERSTORM WARNING"
        assert one.description is not None
        assert one.description.startswith("AT 254 PM PDT...NATIONAL WEATHER SERVICE")
        assert one.instruction == "TAKE COVER IN A SUBSTANTIAL SHELTER UNTIL THE STORM PASSES."
        assert one.parameters == ()  # <eventCode> is not mapped
        (where,) = one.areas
        assert where.area_desc == (
            "EXTREME NORTH CENTRAL TUOLUMNE COUNTY IN CALIFORNIA, EXTREME NORTHEASTERN "
            "CALAVERAS COUNTY IN CALIFORNIA, SOUTHWESTERN ALPINE COUNTY IN CALIFORNIA"
        )
        assert where.polygons == (
            (
                (38.47, -120.14),
                (38.34, -119.95),
                (38.52, -119.74),
                (38.62, -119.89),
                (38.47, -120.14),
            ),
        )
        assert where.geocodes == (("SAME", "006109"), ("SAME", "006009"), ("SAME", "006003"))
        assert where.codes("same") == ("006109", "006009", "006003")
        assert where.codes() == ()
        assert where.circles == ()

    def test_example3(self) -> None:
        """Example 3: an Update with references, five parameters and a circle."""
        cap = parse_cap((OASIS / "oasis-example3.xml").read_bytes())
        assert (cap.identifier, cap.sender) == ("TRI13970876.2", "trinet@caltech.edu")
        assert cap.sent == datetime(2003, 6, 11, 20, 56, tzinfo=tz(-7))
        assert (cap.status, cap.msg_type) == ("Actual", "Update")
        assert cap.references == (
            ("trinet@caltech.edu", "TRI13970876.1", datetime(2003, 6, 11, 20, 30, tzinfo=tz(-7))),
        )
        (one,) = cap.infos
        assert (one.categories, one.event) == (("Geo",), "Earthquake")
        assert (one.urgency, one.severity, one.certainty) == ("Past", "Minor", "Observed")
        assert one.sender_name == (
            "Southern California Seismic Network (TriNet) operated by Caltech and USGS"
        )
        assert one.headline == "EQ 3.4 Imperial County CA"
        assert one.instruction is None
        assert one.parameters == (
            ("EventID", "13970876"),
            ("Version", "1"),
            ("Magnitude", "3.4 Ml"),
            ("Depth", "11.8 mi."),
            ("Quality", "Excellent"),
        )
        (where,) = one.areas
        assert where.area_desc.startswith("1 mi. WSW of Brawley, CA; 11 mi. N of El Centro")
        assert where.circles == ((32.9525, -115.5527, 0.0),)
        assert where.polygons == ()

    @pytest.mark.parametrize("name", ["oasis-example1", "oasis-example2", "oasis-example3"])
    def test_text_and_bytes_agree(self, name: str) -> None:
        """The same alert given as text or bytes parses to the same value."""
        path = OASIS / f"{name}.xml"
        assert parse_cap(path.read_text(encoding="utf-8")) == parse_cap(path.read_bytes())

    @pytest.mark.parametrize(
        ("name", "category", "event"),
        [
            ("oasis-example1", "Security", "Homeland Security Advisory System Update"),
            ("oasis-example2", "Met", "SEVERE THUNDERSTORM"),
            ("oasis-example3", "Geo", "Earthquake"),
        ],
    )
    def test_ignored_as_not_health(
        self, small_city: City, name: str, category: str, event: str
    ) -> None:
        """Against the small preset each is ignored: its category is not a health emergency."""
        decision = plan(small_city, parse_cap((OASIS / f"{name}.xml").read_bytes()))
        assert (decision.action, decision.zone, decision.targets) == ("ignore", None, ())
        assert decision.reasons == (
            f"info 1 {event!r}: category {category} is not a health emergency "
            "(handled: Health, CBRNE)",
        )

    def test_sent_to_review_when_every_category_counts(self, small_city: City) -> None:
        """With every category handled, areas that match no unit go to a person, never dropped."""
        rule = AlertRule(categories=CATEGORIES)
        caps = {
            name: parse_cap((OASIS / f"{name}.xml").read_bytes())
            for name in ("oasis-example1", "oasis-example2", "oasis-example3")
        }
        # Each read when it was sent (example 2 expires the same afternoon).
        plans = {name: plan(small_city, cap, rule, now=cap.sent) for name, cap in caps.items()}
        assert plans["oasis-example1"].outcome == "review"
        assert plans["oasis-example1"].reasons == (
            "review R000001: info 1 'Homeland Security Advisory System Update' area 1 "
            "'U.S. nationwide and interests worldwide': no geocode, and areaDesc names no unit",
        )
        assert plans["oasis-example2"].outcome == "review"
        (review,) = plans["oasis-example2"].reviews
        (why,) = review.reasons
        assert why.startswith("info 1 'SEVERE THUNDERSTORM' area 1 'EXTREME NORTH CENTRAL")
        assert why.endswith(
            "geocode valueName 'SAME' is not accepted (accepted: CPEAS Geographic Code, "
            "GB/T 2260, GB/T2260, GB 2260, 行政区划代码, 行政区域代码, 区划代码, ADCODE, "
            "Administrative Division Code); 1 polygon(s), 0 circle(s) and no geometry to "
            "match them by"
        )
        assert plans["oasis-example3"].reasons == (
            "info 1 'Earthquake': severity Minor calls for no measure "
            "(measures: Extreme -> sealed, Severe -> controlled, Moderate -> precaution)",
        )


class TestChineseAlerts:
    """Chinese-style alerts (CPEAS geocodes) against the small preset."""

    def test_health_extreme_observed_seals_the_community(self, small_city: City) -> None:
        """Health / Extreme / Observed / Immediate on a community's code: declare sealed there."""
        cap = read("cn-health-sealed.xml")
        assert cap.infos[0].language == "zh-CN"
        assert cap.infos[0].headline == "东社区发现确诊病例，实行封控管理"
        assert cap.infos[0].areas[0].codes() == (EAST,)
        assert cap.key == (HEALTH_AUTHORITY, SEALED_ID, SEALED_SENT)
        decision = plan(small_city, cap)
        assert (decision.outcome, decision.zone, decision.units) == ("declare", "sealed", (EAST,))
        assert decision.declares == (("sealed", (EAST,)),)
        assert (decision.alert, decision.sender, decision.msg_type) == (
            SEALED_ID,
            HEALTH_AUTHORITY,
            "Alert",
        )
        assert decision.reasons == ("ends at 2022-09-24T09:30:00+08:00 (expires)",)

    def test_area_by_name(self, small_city: City) -> None:
        """Health / Severe / Likely / Expected on "West Community" by name: controlled."""
        cap = read("cn-health-areadesc.xml")
        assert cap.infos[0].response_types == ("Avoid", "Monitor")
        decision = plan(small_city, cap)
        assert (decision.action, decision.zone, decision.targets) == (
            "declare",
            "controlled",
            (WEST,),
        )

    def test_exercise_is_ignored_unless_played(self, small_city: City) -> None:
        """An Exercise changes nothing live; with exercise=True it seals Hill Village."""
        cap = read("cn-exercise.xml")
        assert (cap.status, cap.scope) == ("Exercise", "Restricted")
        assert cap.note == "演练：山村封控演练，不影响居民正常生活。"
        ignored = plan(small_city, cap)
        assert (ignored.action, ignored.targets) == ("ignore", ())
        assert ignored.reasons == (
            "status Exercise: an exercise never changes live state (pass exercise=True to play it)",
        )
        played = plan(small_city, cap, exercise=True)
        assert (played.action, played.zone, played.targets) == ("declare", "sealed", (VILLAGE,))
        assert played.status == "Exercise"

    def test_cancel_of_nothing_received(self, small_city: City) -> None:
        """A Cancel of an alert never received lifts nothing (its own areas are not trusted)."""
        cap = read("cn-cancel.xml")
        assert cap.references == ((HEALTH_AUTHORITY, SEALED_ID, SEALED_SENT),)
        assert cap.references[0] == read("cn-health-sealed.xml").key
        decision = plan(small_city, cap)
        assert (decision.outcome, decision.zone, decision.units) == ("ignore", None, ())
        assert decision.references == cap.references
        (why,) = decision.reasons
        assert why.startswith(f"Cancel refers to {HEALTH_AUTHORITY},{SEALED_ID},")

    def test_update_keeps_the_highest_units(self, small_city: City) -> None:
        """An Update in two languages: the unknown community code falls back to the
        district, which covers the rest; the village named without a code waits for review."""
        cap = read("cn-update.xml")
        assert [i.language for i in cap.infos] == ["zh-CN", "en-US"]
        decision = plan(small_city, cap)
        # 990101009001 is no unit of the city: its nearest known ancestor is the
        # district, which covers the rest (the default rule sends that to review).
        assert (decision.outcome, decision.zone) == ("declare", "sealed")
        assert decision.declares == (("sealed", (DISTRICT,)),)
        assert "geocode 990101009001 names no unit; its nearest known ancestor is 990101" in (
            " ".join(decision.reasons)
        )
        # The alert carries geocodes, so "Hill Village" (no code) is not matched by name.
        (village,) = decision.reviews
        assert village.units == ()
        assert "areaDesc is not matched" in village.reasons[0]
        strict = plan(small_city, cap, AlertRule())
        assert strict.outcome == "review"
        assert strict.declares == ()
        # Largest first until the rest is within 25%: the district (6 of 6
        # compounds), the street (4), East Community (3).
        assert [r.units for r in strict.reviews] == [(), (DISTRICT, STREET, EAST)]

    def test_jiamusi_codes(self, jiamusi_city: City) -> None:
        """Real Jiamusi codes resolve: a community, a street by 9 digits, a district by 6."""
        chain = jiamusi_city.chain
        assert resolve_area(jiamusi_city, area("", "230803007001")) == ("230803007001",)
        assert chain.unit("230803007001").parent == "230803007"
        assert resolve_area(jiamusi_city, area("", "230803007")) == ("230803007",)
        assert resolve_area(jiamusi_city, area("", "230803")) == ("230803",)
        assert resolve_area(jiamusi_city, area("", "230803000000")) == ("230803",)
        assert resolve_area(jiamusi_city, area("向阳区")) == ("230803",)
        assert resolve_area(jiamusi_city, area("西林街道")) == ("230803007",)


class TestResolveArea:
    """Areas resolve to units by CPEAS geocode first, then by an exact unit name."""

    @pytest.mark.parametrize(
        ("code", "unit"),
        [
            (EAST, EAST),
            ("990101001000", STREET),
            (STREET, STREET),
            ("990101000000", DISTRICT),
            (DISTRICT, DISTRICT),
            ("990100000000", "990100"),
        ],
    )
    def test_by_code(self, small_city: City, code: str, unit: str) -> None:
        """A 12-digit code, or the 9- or 6-digit prefix of a street or district."""
        assert resolve_area(small_city, area("anything", code)) == (unit,)

    def test_several_codes(self, small_city: City) -> None:
        """Every code of an area counts; the result is sorted."""
        assert resolve_area(small_city, area("x", WEST, EAST, WEST)) == (EAST, WEST)

    def test_value_name_ignores_case_and_spacing(self, small_city: City) -> None:
        """The geocode's valueName is matched without regard to case or spacing."""
        assert resolve_area(small_city, area("x", EAST, name="cpeas  geographic CODE")) == (EAST,)

    def test_code_wins_over_name(self, small_city: City) -> None:
        """When a code resolves, the areaDesc is not looked at."""
        assert resolve_area(small_city, area("West Community", EAST)) == (EAST,)

    def test_unknown_code_falls_back_to_its_ancestor(self, small_city: City) -> None:
        """A code of the city naming no unit gives its nearest known ancestor, never the name."""
        assert resolve_area(small_city, area("West Community", "990101001009")) == (STREET,)
        assert resolve_area(small_city, area("West Community", "990101009001")) == (DISTRICT,)

    def test_code_outside_the_city_never_falls_back_to_the_name(self, small_city: City) -> None:
        """Another city's code with a name this city has: nothing."""
        assert resolve_area(small_city, area("West Community", "230402000000")) == ()

    @pytest.mark.parametrize("desc", ["West Community", "west community", " WEST   Community "])
    def test_by_name(self, small_city: City, desc: str) -> None:
        """An areaDesc equal to one unit's name, case and spacing aside."""
        assert resolve_area(small_city, area(desc)) == (WEST,)

    @pytest.mark.parametrize(
        "desc", ["West", "West Community and East Community", "Grid 1", "Compound 1", ""]
    )
    def test_no_match(self, small_city: City, desc: str) -> None:
        """A partial name, a list of names, or a name several units share resolves to nothing."""
        assert resolve_area(small_city, area(desc)) == ()

    @pytest.mark.parametrize("code", ["abc", "99010100100", "９９０１０１", "²²²²²²", ""])
    def test_malformed_codes(self, small_city: City, code: str) -> None:
        """Codes that are not 6, 9 or 12 ASCII digits resolve to nothing, without error."""
        assert resolve_area(small_city, area("x", code)) == ()

    def test_ambiguous_name_reason(self, small_city: City) -> None:
        """plan_alert says why a shared name was not used."""
        decision = plan(small_city, alert(info(area("Grid 1"))))
        (why,) = decision.reasons
        assert (
            "areaDesc names 3 units (990101001001-G001, 990101001002-G001, 990101201201-G001)"
            in why
        )
        (review,) = decision.reviews
        assert review.candidates == ("990101001001-G001", "990101001002-G001", "990101201201-G001")

    def test_bad_code_reason(self, small_city: City) -> None:
        """plan_alert says which code was malformed."""
        (why,) = plan(small_city, alert(info(area("x", "12ab")))).reasons
        assert "geocode '12ab' is not 6, 9 or 12 digits" in why


class TestAlertRule:
    """The rule table: severity gives the zone, certainty and urgency temper it."""

    @pytest.mark.parametrize(
        ("severity", "certainty", "urgency", "zone"),
        [
            ("Extreme", "Observed", "Immediate", "sealed"),
            ("Extreme", "Likely", "Expected", "sealed"),
            ("Severe", "Observed", "Immediate", "controlled"),
            ("Moderate", "Likely", "Immediate", "precaution"),
            ("Extreme", "Possible", "Immediate", "controlled"),
            ("Extreme", "Observed", "Future", "controlled"),
            ("Extreme", "Possible", "Future", "precaution"),
            ("Severe", "Possible", "Future", None),
            ("Moderate", "Possible", "Immediate", None),
            ("Minor", "Observed", "Immediate", None),
            ("Unknown", "Observed", "Immediate", None),
            ("Extreme", "Unlikely", "Immediate", None),
            ("Extreme", "Unknown", "Immediate", None),
            ("Extreme", "Observed", "Past", None),
            ("Extreme", "Observed", "Unknown", None),
        ],
    )
    def test_table(self, severity: str, certainty: str, urgency: str, zone: str | None) -> None:
        """Each row of the documented table."""
        got, why = AlertRule().measure(
            info(severity=severity, certainty=certainty, urgency=urgency)
        )
        assert got == zone
        assert (why == "") == (zone is not None)

    def test_reasons_name_the_value(self) -> None:
        """A refusal names the element, its value and what is acted on."""
        rule = AlertRule()
        assert rule.measure(info(certainty="Unlikely"))[1] == (
            "certainty Unlikely is not acted on (acted on: Observed, Likely, Possible)"
        )
        assert rule.measure(info(urgency="Past"))[1] == (
            "urgency Past is not acted on (acted on: Immediate, Expected, Future)"
        )
        assert rule.measure(info(severity="Moderate", certainty="Possible"))[1] == (
            "severity Moderate (precaution) with certainty Possible and urgency Immediate "
            "is 1 zone(s) milder: no measure"
        )

    def test_custom_table(self) -> None:
        """Zones may be given as a mapping; categories as any iterable."""
        rule = AlertRule(
            categories=["Health", "Safety"],
            zones={"Extreme": "sealed", "Severe": "sealed", "Moderate": "controlled"},
            hedged_certainties=(),
        )
        assert rule.categories == ("Health", "Safety")
        assert rule.measure(info(severity="Severe")) == ("sealed", "")
        assert rule.measure(info(certainty="Possible"))[0] is None
        assert rule.handles(info(categories=("Safety", "Met")))
        assert not rule.handles(info(categories=("Met",)))

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"categories": ["Heath"]}, "AlertRule.categories: 'Heath' is not a CAP category"),
            ({"zones": {"Extreme": "lockdown"}}, "severity Extreme -> 'lockdown'; expected one"),
            ({"zones": {"Huge": "sealed"}}, "AlertRule.zones: 'Huge' is not a CAP severity"),
            ({"zones": {"Extreme": "open"}}, "expected one of: precaution, controlled, sealed"),
            ({"certainties": ["Sure"]}, "AlertRule.certainties: 'Sure' is not a CAP certainty"),
            ({"hedged_urgencies": "Soon"}, "AlertRule.hedged_urgencies: 'Soon' is not a CAP"),
            (
                {"hedged_certainties": ["Likely"]},
                "Likely listed in both certainties and hedged_certainties",
            ),
        ],
    )
    def test_invalid_rule(self, kwargs: dict[str, object], message: str) -> None:
        """A rule outside the CAP enumerations or the zones is refused, naming the field."""
        with pytest.raises(AlertError, match=re.escape(message)):
            AlertRule(**kwargs)  # type: ignore[arg-type]

    def test_frozen(self) -> None:
        """A rule cannot be changed after it is made."""
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            AlertRule().categories = ("Met",)  # type: ignore[misc]


class TestPlanAlert:
    """plan_alert: statuses, message types, expiry, several zones, nested targets."""

    @pytest.mark.parametrize(
        ("status", "exercise", "action"),
        [
            ("Actual", False, "declare"),
            ("Actual", True, "declare"),
            ("Exercise", False, "ignore"),
            ("Exercise", True, "declare"),
            ("Test", False, "ignore"),
            ("Test", True, "ignore"),
            ("Draft", True, "ignore"),
            ("System", True, "ignore"),
        ],
    )
    def test_statuses(self, small_city: City, status: str, exercise: bool, action: str) -> None:
        """Only Actual changes live state, and Exercise when asked; never Test, Draft, System."""
        cap = alert(info(area("x", EAST)), status=status)
        decision = plan(small_city, cap, exercise=exercise)
        assert decision.action == action
        if action == "ignore":
            (why,) = decision.reasons
            assert why.startswith(f"status {status}: ")

    @pytest.mark.parametrize("msg_type", ["Ack", "Error"])
    def test_ack_and_error(self, small_city: City, msg_type: str) -> None:
        """Ack and Error carry no measure."""
        decision = plan(small_city, alert(info(area("x", EAST)), msg_type=msg_type))
        assert decision.action == "ignore"
        assert decision.reasons == (f"msgType {msg_type} carries no measure",)

    def test_update_is_an_alert(self, small_city: City) -> None:
        """An Update declares its new measure like an Alert."""
        cap = alert(info(area("x", WEST), severity="Moderate"), msg_type="Update")
        decision = plan(small_city, cap)
        assert (decision.action, decision.zone, decision.targets) == (
            "declare",
            "precaution",
            (WEST,),
        )

    def test_cancel_without_info_lifts_its_chain(self, small_city: City) -> None:
        """A Cancel with no area lifts what its referenced chain applied (from the book)."""
        book = AlertBook()
        sealed = plan(small_city, alert(info(area("x", EAST))))
        book._apply("alert.received", sealed.event_data())
        refs = (("test", "A1", SEALED_SENT),)
        cancel = attrs.evolve(
            alert(msg_type="Cancel", references=refs),
            identifier="C1",
            sent=SEALED_SENT + timedelta(hours=1),
        )
        sealed_now = {c: "sealed" for c in small_city.compounds_of(EAST)}
        decision = plan(
            small_city,
            cancel,
            book=book,
            zones=lambda c: sealed_now.get(c, "open"),
            now=NOW + timedelta(hours=1),
        )
        assert (decision.outcome, decision.zone, decision.units) == ("lift", "open", (EAST,))
        assert decision.references == refs
        assert sorted(decision.lowers) == [(c, "open", False) for c in sorted(sealed_now)]

    def test_cancel_without_anything(self, small_city: City) -> None:
        """A Cancel with no info and no references is ignored."""
        decision = plan(small_city, alert(msg_type="Cancel"))
        assert decision.action == "ignore"
        assert decision.reasons == ("Cancel names no reference: nothing is known to cancel",)

    def test_cancel_of_another_category_lifts_nothing(self, small_city: City) -> None:
        """A weather Cancel never lifts health measures on the same area."""
        cap = alert(info(area("x", EAST), categories=("Met",)), msg_type="Cancel")
        assert plan(small_city, cap).action == "ignore"

    def test_alert_without_info(self, small_city: City) -> None:
        """An Alert with no info is ignored with a reason."""
        decision = plan(small_city, alert())
        assert decision.reasons == ("Alert carries no <info>: no measure",)

    def test_info_without_area(self, small_city: City) -> None:
        """An info with no area is ignored with a reason."""
        (why,) = plan(small_city, alert(info())).reasons
        assert why == "info 1 'outbreak': has no <area>; nothing to resolve"

    def test_expired(self, small_city: City) -> None:
        """An info expired at ``now`` is ignored; before then it counts."""
        ends = datetime(2022, 9, 24, 1, 30, tzinfo=UTC)
        cap = alert(info(area("x", EAST), expires=ends))
        assert plan(small_city, cap, now=ends - timedelta(seconds=1)).action == "declare"
        late = plan(small_city, cap, now=ends)
        assert late.action == "ignore"
        assert late.reasons == (
            "info 1 'outbreak': expired at 2022-09-24T01:30:00+00:00",
            "already expired when received: does nothing",
        )

    def test_naive_now(self, small_city: City) -> None:
        """``now`` without a time zone is refused."""
        with pytest.raises(AlertError, match="is not an aware datetime"):
            plan_alert(small_city, alert(), now=datetime(2022, 9, 17))

    def test_several_zones(self, small_city: City) -> None:
        """Infos calling for different zones give one measure per zone, most severe first."""
        cap = alert(
            info(area("x", EAST)),
            info(area("x", STREET), area("y", VILLAGE), severity="Moderate"),
            info(area("x", "990101001001"), area("y", WEST), severity="Severe"),
        )
        decision = plan(small_city, cap)
        assert (decision.action, decision.zone, decision.targets) == ("declare", "sealed", (EAST,))
        assert decision.measures == (
            ("sealed", (EAST,)),
            ("controlled", (WEST,)),
            ("precaution", (STREET, VILLAGE)),
        )
        assert decision.reasons == (
            "controlled on 990101001001: already inside sealed 990101001001",
        )

    def test_milder_inside_severe(self, small_city: City) -> None:
        """A milder measure inside a more severe target is dropped with a reason."""
        cap = alert(info(area("x", STREET)), info(area("y", EAST), severity="Moderate"))
        decision = plan(small_city, cap)
        assert decision.measures == (("sealed", (STREET,)),)
        assert decision.reasons == ("precaution on 990101001001: already inside sealed 990101001",)

    def test_targets_keep_the_highest(self, small_city: City) -> None:
        """Units inside another target are dropped; the rest are sorted and unique."""
        cap = alert(
            info(
                area("a", VILLAGE),
                area("b", "990101201201"),
                area("c", EAST),
                area("d", STREET),
                area("Compound 1"),  # shared name: ignored
            )
        )
        decision = plan(small_city, cap)
        assert decision.targets == (STREET, VILLAGE)

    def test_decision_is_frozen(self, small_city: City) -> None:
        """A decision is an immutable value."""
        decision = plan(small_city, read("cn-health-sealed.xml"))
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            decision.action = "lift"  # type: ignore[misc]


#: Hostile and malformed fixture files and a pattern their message must match.
HOSTILE_FILES = [
    ("billion-laughs.xml", r"^refused: the document declares a DTD \(<!DOCTYPE lolz>\)"),
    ("xxe-file.xml", r"^refused: the document declares a DTD \(<!DOCTYPE alert>\)"),
    ("external-dtd.xml", r"^refused: the document declares a DTD \(<!DOCTYPE alert>\)"),
    ("parameter-entity.xml", r"^refused: the document declares a DTD"),
    ("xinclude.xml", r"alert/note holds element <include>; expected text only$"),
    (
        "cap-1.1-namespace.xml",
        r"root element is <alert> in namespace urn:oasis:names:tc:emergency:cap:1\.1; "
        r"expected <alert> in the CAP 1\.2 namespace",
    ),
    (
        "no-namespace.xml",
        rf"root element is <alert> in no namespace; expected <alert> in the CAP 1\.2 "
        rf"namespace {re.escape(CAP_NAMESPACE)}$",
    ),
    (
        "not-xml.json",
        r"^not a CAP alert: malformed XML at line 1, column 0: not well-formed \(invalid token\)$",
    ),
    ("empty.xml", r"^not a CAP alert: the input is empty; expected a CAP 1\.2 <alert>"),
    ("truncated.xml", r"^not a CAP alert: malformed XML at line 1[0-9], column [0-9]+: "),
]


def mutate(old: str, new: str) -> str:
    text = template()
    assert old in text, old
    return text.replace(old, new, 1)


#: (mutation of the template, pattern the message must match).
BROKEN_FIELDS = [
    # required elements missing
    (
        ("<identifier>99010141600000_20220917093000</identifier>", ""),
        r"alert/identifier is missing",
    ),
    (("<sender>990101-health-commission</sender>", ""), r"alert/sender is missing"),
    (("<sent>2022-09-17T09:30:00+08:00</sent>", ""), r"alert/sent is missing; expected a date"),
    (("<status>Actual</status>", ""), r"alert/status is missing; expected one of: Actual, Exer"),
    (("<msgType>Alert</msgType>", ""), r"alert/msgType is missing; expected one of: Alert, Upd"),
    (("<scope>Public</scope>", ""), r"alert/scope is missing; expected one of: Public, Restri"),
    (("<category>Health</category>", ""), r"alert/info\[1\]/category is missing; expected at"),
    (("<event>新冠肺炎疫情</event>", ""), r"alert/info\[1\]/event is missing"),
    (("<urgency>Immediate</urgency>", ""), r"alert/info\[1\]/urgency is missing; expected one"),
    (("<severity>Extreme</severity>", ""), r"alert/info\[1\]/severity is missing; expected one"),
    (("<certainty>Observed</certainty>", ""), r"alert/info\[1\]/certainty is missing"),
    (("<areaDesc>河畔区河畔街道东社区</areaDesc>", ""), r"info\[1\]/area\[1\]/areaDesc is missing"),
    (("<event>新冠肺炎疫情</event>", "<event> </event>"), r"alert/info\[1\]/event is empty"),
    (
        ("<value>990101001001</value>", ""),
        r"alert/info\[1\]/area\[1\]/geocode\[1\]/value is missing; expected the value",
    ),
    (("<valueName>cases</valueName>", ""), r"alert/info\[1\]/parameter\[1\]/valueName is missing"),
    # values outside the CAP enumerations
    (("<status>Actual</status>", "<status>Real</status>"), r"alert/status is 'Real'; expected"),
    (("<status>Actual</status>", "<status>actual</status>"), r"alert/status is 'actual'"),
    (("<msgType>Alert</msgType>", "<msgType>Warning</msgType>"), r"alert/msgType is 'Warning'"),
    (("<scope>Public</scope>", "<scope>Everyone</scope>"), r"alert/scope is 'Everyone'"),
    (
        ("<category>Health</category>", "<category>Epidemic</category>"),
        r"alert/info\[1\]/category is 'Epidemic'; expected one of: Geo, Met, Safety",
    ),
    (
        ("<category>Health</category>", "<category>Health</category><category>Bad</category>"),
        r"alert/info\[1\]/category\[2\] is 'Bad'",
    ),
    (
        ("<urgency>Immediate</urgency>", "<urgency>Soon</urgency>"),
        r"alert/info\[1\]/urgency is 'Soon'; expected one of: Immediate, Expected, Future, Past",
    ),
    (("<severity>Extreme</severity>", "<severity>5</severity>"), r"severity is '5'; expected"),
    (
        ("<certainty>Observed</certainty>", "<certainty>Very Likely</certainty>"),
        r"alert/info\[1\]/certainty is 'Very Likely'; expected one of: Observed, Likely",
    ),
    (
        ("<responseType>Shelter</responseType>", "<responseType>Hide</responseType>"),
        r"alert/info\[1\]/responseType is 'Hide'",
    ),
    (
        ("<sender>990101-health-commission</sender>", "<sender>health commission</sender>"),
        r"alert/sender is 'health commission'; expected a non-empty value without spaces",
    ),
    # date-times
    (
        ("<sent>2022-09-17T09:30:00+08:00</sent>", "<sent>2022-09-17T09:30:00</sent>"),
        r"alert/sent is '2022-09-17T09:30:00'; expected a date-time with its UTC offset",
    ),
    (("<sent>2022-09-17T09:30:00+08:00</sent>", "<sent>yesterday</sent>"), r"sent is 'yesterday'"),
    (
        ("<sent>2022-09-17T09:30:00+08:00</sent>", "<sent>2022-02-30T09:30:00+08:00</sent>"),
        r"alert/sent is '2022-02-30T09:30:00\+08:00': day is out of range for month",
    ),
    (
        ("<sent>2022-09-17T09:30:00+08:00</sent>", "<sent>2022-09-17T09:30:00+25:00</sent>"),
        r"alert/sent is '2022-09-17T09:30:00\+25:00': offset must be",
    ),
    (
        ("<sent>2022-09-17T09:30:00+08:00</sent>", "<sent>２０２２-09-17T09:30:00+08:00</sent>"),
        r"alert/sent is '２０２２-09-17T09:30:00\+08:00'; expected",
    ),
    (
        ("<expires>2022-09-24T09:30:00+08:00</expires>", "<expires>next week</expires>"),
        r"alert/info\[1\]/expires is 'next week'",
    ),
    # structure
    (
        ("<status>Actual</status>", "<status>Actual</status><status>Actual</status>"),
        r"alert/status appears 2 times; expected at most once",
    ),
    (
        ("<scope>Public</scope>", "<scope>Public</scope><references>a,b</references>"),
        r"alert/references entry 'a,b' is not sender,identifier,sent",
    ),
    (
        ("<scope>Public</scope>", "<scope>Public</scope><references>a,b,now</references>"),
        r"alert/references is 'now'; expected a date-time",
    ),
    (
        ("<headline>", "<headline><b>bold</b>"),
        r"alert/info\[1\]/headline holds element <b>; expected text only",
    ),
    # geometry
    (
        ("<areaDesc>", "<polygon>1,2 3,4 1,2</polygon><areaDesc>"),
        r"alert/info\[1\]/area\[1\]/polygon\[1\] has 3 points; expected at least 4",
    ),
    (
        ("<areaDesc>", "<polygon>1,2 3,4 5,6 7,8</polygon><areaDesc>"),
        r"polygon\[1\] has 4 points; expected at least 4, the last equal to the first",
    ),
    (
        ("<areaDesc>", "<polygon>1;2 3,4 5,6 1;2</polygon><areaDesc>"),
        r"polygon\[1\] point '1;2' is not latitude,longitude",
    ),
    (
        ("<areaDesc>", "<polygon>91,2 3,4 5,6 91,2</polygon><areaDesc>"),
        r"polygon\[1\] point '91,2' is off the globe",
    ),
    (
        ("<areaDesc>", "<circle>nan,1 5</circle><areaDesc>"),
        r"circle\[1\] point 'nan,1' is not latitude,longitude",
    ),
    (
        ("<areaDesc>", "<circle>32.9,-115.5</circle><areaDesc>"),
        r"circle\[1\] is '32.9,-115.5'; expected 'latitude,longitude radius_km'",
    ),
    (
        ("<areaDesc>", "<circle>32.9,-115.5 -1</circle><areaDesc>"),
        r"circle\[1\] radius '-1' is not a distance in km",
    ),
]


class TestHostileInput:
    """Malformed and malicious input: always an AlertError with one clear line."""

    @pytest.mark.parametrize(("name", "pattern"), HOSTILE_FILES, ids=[h[0] for h in HOSTILE_FILES])
    def test_hostile_files(self, name: str, pattern: str) -> None:
        """Each hostile fixture is refused with a message naming the problem."""
        data = (HOSTILE / name).read_bytes()
        with pytest.raises(AlertError) as caught:
            parse_cap(data)
        message = str(caught.value)
        assert re.search(pattern, message), message
        assert "\n" not in message
        assert isinstance(caught.value, GridgovError)

    def test_no_entity_is_expanded_or_fetched(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """External entities and DTDs are refused without a connection; nothing of the file
        they name reaches the message."""
        attempts: list[object] = []

        def connect(self: socket.socket, address: object) -> None:
            attempts.append(address)
            raise OSError("no network in this test")

        monkeypatch.setattr(socket.socket, "connect", connect)
        for name in ("xxe-file.xml", "external-dtd.xml", "parameter-entity.xml", "xinclude.xml"):
            with pytest.raises(AlertError) as caught:
                parse_cap((HOSTILE / name).read_bytes())
            assert "root:" not in str(caught.value)  # nothing of /etc/passwd
        assert attempts == []

    @pytest.mark.parametrize(("change", "pattern"), BROKEN_FIELDS, ids=lambda v: str(v)[:40])
    def test_broken_fields(self, change: tuple[str, str], pattern: str) -> None:
        """Missing required elements and values outside CAP are named with what was expected."""
        with pytest.raises(AlertError) as caught:
            parse_cap(mutate(*change))
        message = str(caught.value)
        assert re.search(pattern, message), message
        assert message.startswith(f"CAP alert {SEALED_ID!r}: ") or message.startswith(
            "CAP alert: alert/identifier"
        ), message
        assert "\n" not in message

    def test_error_attributes(self) -> None:
        """The error carries the element path and the alert's identifier."""
        with pytest.raises(AlertError) as caught:
            parse_cap(mutate("<urgency>Immediate</urgency>", "<urgency>Soon</urgency>"))
        assert caught.value.element == "alert/info[1]/urgency"
        assert caught.value.alert == SEALED_ID

    def test_quadratic_blowup(self) -> None:
        """One large entity referenced many times (no nesting) is refused as a DTD too."""
        entity = "x" * 50_000
        text = (
            f'<!DOCTYPE alert [<!ENTITY a "{entity}">]>'
            f'<alert xmlns="{CAP_NAMESPACE}"><note>{"&a;" * 20_000}</note></alert>'
        )
        with pytest.raises(AlertError, match=r"^refused: the document declares a DTD"):
            parse_cap(text)

    @pytest.mark.parametrize("as_text", [False, True])
    def test_huge_input(self, as_text: bool) -> None:
        """Several megabytes are refused before parsing, naming size and limit."""
        padding = "x" * (5 * 1024 * 1024)
        text = mutate("<description>", f"<description>{padding}")
        with pytest.raises(AlertError) as caught:
            parse_cap(text if as_text else text.encode("utf-8"))
        assert re.match(r"refused: the input is 5,2\d\d,\d\d\d bytes", str(caught.value))
        assert str(caught.value).endswith(f"at most {MAX_ALERT_BYTES:,} (max_bytes)")

    def test_limit_counts_utf8_bytes_of_text(self) -> None:
        """A text alert is measured in UTF-8 bytes, not characters."""
        text = template()
        limit = len(text) + 10  # characters fit, bytes (Chinese is 3 each) do not
        assert len(text.encode("utf-8")) > limit
        with pytest.raises(AlertError, match="refused: the input is"):
            parse_cap(text, max_bytes=limit)
        assert parse_cap(text, max_bytes=len(text.encode("utf-8"))).identifier == SEALED_ID

    def test_deep_nesting(self) -> None:
        """Deeply nested elements within the limit are read without recursion errors."""
        depth = 50_000
        deep = "<note>" + "<x>" * depth + "</x>" * depth + "</note>"
        with pytest.raises(AlertError, match="alert/note holds element <x>; expected text only"):
            parse_cap(mutate("<scope>Public</scope>", "<scope>Public</scope>" + deep))

    @pytest.mark.parametrize(
        ("data", "pattern"),
        [
            (b"", r"the input is empty"),
            (b"   \n\t ", r"the input is empty"),
            ("", r"the input is empty"),
            (b"\x00\x01\x02", r"malformed XML at line 1, column 0: "),
            (b"\xff\xfe\xfd", r"malformed XML at line 1, column "),
            ("<alert>\ud800</alert>", r"the text cannot be encoded \(surrogates not allowed"),
            (
                b'<?xml version="1.0" encoding="bogus"?><alert/>',
                r"encoding 'bogus' is not accepted",
            ),
            (b"<alert", r"malformed XML at line 1, column 0: unclosed token$"),
            (b"<a></b>", r"malformed XML at line 1, column 5: mismatched tag$"),
            (b"<a/><b/>", r"malformed XML at line 1, column 4: junk after document element$"),
            (b"<html><body>404</body></html>", r"root element is <html> in no namespace"),
        ],
    )
    def test_not_an_alert(self, data: bytes | str, pattern: str) -> None:
        """Empty, binary, unencodable, badly encoded and non-CAP XML input."""
        with pytest.raises(AlertError) as caught:
            parse_cap(data)
        assert re.search(pattern, str(caught.value)), str(caught.value)

    @pytest.mark.parametrize("data", [None, 42, ["<alert/>"], bytearray(b"<alert/>")])
    def test_wrong_type(self, data: object) -> None:
        """Anything but bytes or str is refused with an AlertError, not a TypeError."""
        with pytest.raises(AlertError, match="expected bytes or str"):
            parse_cap(data)  # type: ignore[arg-type]

    @pytest.mark.parametrize("encoding", ["UTF-16", "GB18030", "GBK", "gb2312"])
    def test_other_encodings(self, encoding: str) -> None:
        """Bytes in an accepted encoding their declaration names are read as such."""
        text = template()
        data = text.replace('encoding="UTF-8"', f'encoding="{encoding}"').encode(encoding)
        assert parse_cap(data) == parse_cap(text)

    @pytest.mark.parametrize("encoding", ["UTF-7", "unicode_escape", "cp037", "rot13", "x-nope"])
    def test_refused_encodings(self, encoding: str) -> None:
        """Encodings outside the accepted list are refused, listing the accepted ones."""
        data = template().replace('encoding="UTF-8"', f'encoding="{encoding}"').encode("utf-8")
        with pytest.raises(AlertError) as caught:
            parse_cap(data)
        assert str(caught.value) == (
            f"not a CAP alert: encoding {encoding!r} is not accepted "
            "(accepted: UTF-8, UTF-16, ISO-8859-1, US-ASCII, GB18030, GBK, GB2312, Big5)"
        )

    def test_bytes_not_in_the_declared_encoding(self) -> None:
        """UTF-8 bytes declared as GBK are refused, naming the encoding."""
        data = template().replace('encoding="UTF-8"', 'encoding="GBK"').encode("utf-8")
        with pytest.raises(
            AlertError, match=r"^not a CAP alert: the bytes are not GBK as declared"
        ):
            parse_cap(data)

    def test_unknown_elements_are_skipped(self) -> None:
        """Elements gridgov does not map, or in other namespaces, do not disturb parsing."""
        text = mutate(
            "<scope>Public</scope>",
            '<scope>Public</scope><code>IPAWSv1.0</code><x:sig xmlns:x="urn:x"><x:y/></x:sig>',
        )
        assert parse_cap(text) == read("cn-health-sealed.xml")


def _fixture_texts() -> list[str]:
    paths = [*sorted(OASIS.glob("*.xml")), *sorted(DATA.glob("cn-*.xml"))]
    return [p.read_text(encoding="utf-8") for p in paths]


FIXTURE_TEXTS = _fixture_texts()
TOKENS = [
    "<",
    ">",
    "&",
    "&lol;",
    "]]>",
    "<!DOCTYPE a>",
    '<!ENTITY e SYSTEM "file:///etc/passwd">',
    "\x00",
    "<info>",
    "</area>",
    "<area><areaDesc>East Community</areaDesc></area>",
    "Extreme",
    "-05:00",
    "+99:00",
    ",",
    " ",
    "CPEAS Geographic Code",
    "990101001001",
    'xmlns="urn:x"',
]


@st.composite
def mutated_fixtures(draw: st.DrawFn) -> str:
    """A fixture with a slice replaced by random text or a CAP-ish token."""
    text = draw(st.sampled_from(FIXTURE_TEXTS))
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 40)))
        insert = draw(st.one_of(st.sampled_from(TOKENS), st.text(max_size=12), st.just("")))
        text = text[:start] + insert + text[end:]
    return text


def parses_or_refuses(data: bytes | str, city: City) -> None:
    try:
        cap: CapAlert | None = parse_cap(data)
        message = ""
    except AlertError as exc:
        cap, message = None, str(exc)
    if cap is None:
        assert message
        assert "\n" not in message
        return
    assert isinstance(cap, CapAlert)
    for exercise in (False, True):
        decision = plan(city, cap, AlertRule(categories=CATEGORIES), exercise=exercise)
        assert decision.action in ("declare", "lift", "ignore")


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class TestFuzz:
    """Whatever the input, parse_cap returns a CapAlert or raises AlertError; plan never fails."""

    @FUZZ
    @given(data=st.binary(max_size=400))
    def test_random_bytes(self, small_city: City, data: bytes) -> None:
        """Random bytes."""
        parses_or_refuses(data, small_city)

    @FUZZ
    @given(data=st.text(max_size=400))
    def test_random_text(self, small_city: City, data: str) -> None:
        """Random text, surrogates included."""
        parses_or_refuses(data, small_city)

    @FUZZ
    @given(data=mutated_fixtures())
    def test_mutated_fixtures(self, small_city: City, data: str) -> None:
        """Fixture alerts with slices replaced by random text or CAP-ish tokens."""
        parses_or_refuses(data, small_city)
        parses_or_refuses(data.encode("utf-8", "surrogatepass"), small_city)

    @FUZZ
    @given(
        severity=st.sampled_from(["Extreme", "Severe", "Moderate", "Minor", "Unknown"]),
        certainty=st.sampled_from(["Observed", "Likely", "Possible", "Unlikely", "Unknown"]),
        urgency=st.sampled_from(["Immediate", "Expected", "Future", "Past", "Unknown"]),
        codes=st.lists(
            st.sampled_from([EAST, WEST, STREET, VILLAGE, TOWNSHIP, DISTRICT, "990101009001"]),
            max_size=4,
        ),
    )
    def test_targets_are_disjoint_and_sorted(
        self, small_city: City, severity: str, certainty: str, urgency: str, codes: list[str]
    ) -> None:
        """Targets are sorted, unique, and none lies inside another."""
        cap = alert(
            info(
                *(area(code, code) for code in codes),
                severity=severity,
                certainty=certainty,
                urgency=urgency,
            )
        )
        decision = plan(small_city, cap)
        chain = small_city.chain
        for _, targets in decision.measures:
            assert list(targets) == sorted(set(targets))
            for unit in targets:
                assert not set(chain.chain_of_command(unit)[1:]) & set(targets)
        assert decision.action in ("declare", "ignore")
        assert (decision.action == "declare") == bool(decision.targets)
        expected = AlertRule().measure(cap.infos[0])[0]
        assert decision.zone == (expected if decision.targets else None)

"""``gridgov check`` of a CAP alert: validated as the alert intake reads it, every problem shown."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gridgov._checking import alert_findings, check_path
from gridgov.alerts import AlertRule, parse_cap
from gridgov.cli import main
from gridgov.testing import cap_message

T0 = datetime(2022, 9, 17, 9, 30, tzinfo=timezone(timedelta(hours=8)))
HOUR = timedelta(hours=1)
SENDER = "230800-health-commission"
AREA = ("东区", ["230803007001"])


def keys(text: str) -> list[tuple[str, bool]]:
    """(key, is_problem) of each finding of an alert's text."""
    return [(key, bad) for key, _, bad in alert_findings(parse_cap(text))]


class TestAlertFindings:
    """What the intake will make of an alert, without a city."""

    def test_a_plain_alert_has_none(self) -> None:
        assert keys(cap_message("A", T0, areas=[AREA])) == []

    def test_times_that_contradict_each_other_are_problems(self) -> None:
        """Expired before it was sent, or starting after it expires: each info, each time."""
        text = cap_message("A", T0, areas=[AREA], expires=T0 - HOUR, onset=T0 + HOUR)
        assert keys(text) == [
            ("alert/info[1]/expires", True),
            ("alert/info[1]/onset", True),
            ("alert/info[2]/expires", True),
            ("alert/info[2]/onset", True),
        ]

    def test_update_and_cancel_need_a_reference(self) -> None:
        for msg_type in ("Update", "Cancel"):
            found = keys(cap_message("U", T0, msg_type=msg_type, areas=[AREA]))
            assert ("alert/references", True) in found

    def test_a_reference_sent_later_is_a_problem_another_senders_a_warning(self) -> None:
        text = cap_message(
            "U",
            T0,
            msg_type="Update",
            references=[(SENDER, "A", T0 + HOUR), ("someone-else", "B", T0 - HOUR)],
            areas=[AREA],
        )
        assert keys(text) == [("alert/references", True), ("alert/references", False)]

    def test_malformed_geocode_is_a_problem(self) -> None:
        text = cap_message("A", T0, areas=[("东区", ["2308030"])])
        assert keys(text) == [
            ("alert/info[1]/area[1]/geocode", True),
            ("alert/info[2]/area[1]/geocode", True),
        ]

    def test_what_the_intake_ignores_is_a_warning(self) -> None:
        """A test message, another category, a severity of no measure, an unread geocode."""
        assert keys(cap_message("A", T0, status="Test", areas=[AREA])) == [("alert/status", False)]
        assert keys(cap_message("A", T0, category="Met", areas=[AREA])) == [
            ("alert/info[1]/category", False),
            ("alert/info[2]/category", False),
            ("alert/info", False),
        ]
        assert keys(cap_message("A", T0, severity="Minor", areas=[AREA])) == [
            ("alert/info[1]", False),
            ("alert/info[2]", False),
            ("alert/info", False),
        ]
        fips = cap_message("A", T0, areas=[("x", [("FIPS", "123")])])
        assert keys(fips) == [
            ("alert/info[1]/area[1]/geocode", False),
            ("alert/info[2]/area[1]/geocode", False),
        ]

    def test_an_info_for_a_measure_needs_an_area(self) -> None:
        assert keys(cap_message("A", T0)) == [
            ("alert/info[1]/area", True),
            ("alert/info[2]/area", True),
            ("alert/info", False),
        ]

    def test_the_rule_decides_what_is_handled(self) -> None:
        """A rule handling Met makes a Met alert a measure (no warning)."""
        text = cap_message("A", T0, category="Met", areas=[AREA])
        rule = AlertRule(categories=("Met",))
        assert alert_findings(parse_cap(text), rule) == []


class TestCheckCommand:
    """The command prints every problem, one error line each, and the warnings."""

    @pytest.fixture
    def bad(self, tmp_path: Path) -> Path:
        path = tmp_path / "bad.xml"
        path.write_text(
            cap_message(
                "C", T0, msg_type="Cancel", expires=T0 - HOUR, areas=[("东区", ["2308030"])]
            ),
            encoding="utf-8",
        )
        return path

    def test_every_problem_is_a_line(self, bad: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["check", str(bad)]) == 1
        out, err = capsys.readouterr()
        assert out == ""
        errors = [line for line in err.splitlines() if line.startswith("gridgov: error: ")]
        assert [line.split(": ")[3] for line in errors] == [
            "alert/references",
            "alert/info[1]/expires",
            "alert/info[1]/area[1]/geocode",
            "alert/info[2]/expires",
            "alert/info[2]/area[1]/geocode",
        ]
        assert all(line.startswith(f"gridgov: error: {bad}:0: ") for line in errors)

    def test_warnings_keep_it_ok(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        path = tmp_path / "test.xml"
        path.write_text(cap_message("A", T0, status="Test", areas=[AREA]), encoding="utf-8")
        assert main(["check", str(path)]) == 0
        out, err = capsys.readouterr()
        assert out == "ok (alert)\n"
        assert err == (
            f"gridgov: warning: {path}: alert/status: Test: the intake changes nothing for it\n"
        )

    def test_check_path_gives_problems_and_warnings(self, bad: Path) -> None:
        checked = check_path(str(bad))
        assert checked.kind == "alert"
        assert len(checked.problems) == 5
        assert checked.warnings == ()

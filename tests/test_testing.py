"""The testing kit: fixtures from the pytest plugin, assertions that read as rules."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from gridgov import Engine, ManualClock, Rules
from gridgov.testing import (
    EventCapture,
    advance_by,
    assert_escalated,
    assert_mode,
    assert_staffed,
    assert_zone,
    events_of,
    history,
)

ROOT = Path(__file__).resolve().parent.parent
COMPOUND = "990101001001-C01"
COMMUNITY = "990101001001"


class TestPluginFixtures:
    """The pytest11 plugin provides engines on the small preset with a manual clock."""

    def test_engine_fixture(self, gridgov_engine: Engine, gridgov_clock: ManualClock) -> None:
        """gridgov_engine runs on the small preset, default rules and the manual clock."""
        assert gridgov_engine.city.name == "Smalltown"
        assert gridgov_engine.rules == Rules.default()
        assert gridgov_engine.clock is gridgov_clock

    def test_durable_engine_fixture(self, gridgov_durable_engine: Engine) -> None:
        """gridgov_durable_engine writes to a SQLite journal."""
        gridgov_durable_engine.report_case(COMPOUND)
        assert gridgov_durable_engine.journal.durable
        assert gridgov_durable_engine.journal.path is not None
        assert len(gridgov_durable_engine.journal) > 0

    def test_plugin_is_registered(self, pytestconfig: pytest.Config) -> None:
        """The plugin is loaded through the pytest11 entry point of the installed package."""
        assert pytestconfig.pluginmanager.has_plugin("gridgov")


class TestAssertions:
    """Helpers pass when the rule holds and fail with the unit's history when not."""

    def test_assert_zone_passes_and_fails_with_history(self, gridgov_engine: Engine) -> None:
        """A wrong zone fails naming both zones and listing the compound's events."""
        gridgov_engine.report_case(COMPOUND)
        assert_zone(gridgov_engine, COMPOUND, "sealed", within=timedelta(hours=1))
        with pytest.raises(AssertionError) as info:
            assert_zone(gridgov_engine, COMPOUND, "open")
        message = str(info.value)
        assert "is 'sealed', expected 'open'" in message
        assert "history of 990101001001-C01" in message
        assert "case.confirmed" in message
        assert "open -> sealed" in message

    def test_assert_zone_within(self, gridgov_engine: Engine, gridgov_clock: ManualClock) -> None:
        """'within' measures from the case to the change: a seal declared later fails it."""
        engine = gridgov_engine
        engine.declare(COMMUNITY, "precaution")
        gridgov_clock.advance(timedelta(hours=3))
        engine.declare(COMMUNITY, "sealed")
        with pytest.raises(AssertionError, match="expected within 1:00:00"):
            assert_zone(engine, COMPOUND, "sealed", within=timedelta(hours=1))
        assert_zone(engine, COMPOUND, "sealed", within=timedelta(hours=4))

    def test_assert_mode(self, gridgov_engine: Engine) -> None:
        """assert_mode fails naming the community's mode and history."""
        gridgov_engine.report_case(COMPOUND)
        assert_mode(gridgov_engine, COMMUNITY, "emergency")
        with pytest.raises(AssertionError, match="is 'emergency', expected 'normal'"):
            assert_mode(gridgov_engine, COMMUNITY, "normal")

    def test_assert_staffed_reports_shortfalls(self, gridgov_city: object) -> None:
        """With too small a pool, a sealed compound fails assert_staffed with the shortfalls."""
        from gridgov.rules import StaffingRule

        rules = Rules(staffing=StaffingRule(pools=("big_party_committee",)))
        engine = Engine(gridgov_city, rules, ManualClock())  # type: ignore[arg-type]
        engine.report_case(COMPOUND)
        with pytest.raises(AssertionError) as info:
            assert_staffed(engine, COMPOUND)
        assert "not fully staffed" in str(info.value)
        assert "volunteer lacks 1 of 1: no free volunteer left" in str(info.value)
        assert "shortfall.opened" in str(info.value)

    def test_assert_escalated_without_tickets_fails_clearly(self, gridgov_engine: Engine) -> None:
        """A ticket that never escalated fails naming the ticket and level."""
        with pytest.raises(AssertionError, match="ticket T1 never escalated to district"):
            assert_escalated(gridgov_engine, "T1", to="district")

    def test_events_of_and_history(self, gridgov_engine: Engine) -> None:
        """events_of filters by type and unit; history renders aligned lines."""
        gridgov_engine.report_case(COMPOUND)
        changes = events_of(gridgov_engine, type="zone.changed", unit=COMPOUND)
        assert [(e.old, e.new) for e in changes] == [("open", "sealed")]
        assert events_of(gridgov_engine, type="zone.*")
        assert "zone.changed" in history(changes)
        assert history([]) == "  (no events)"

    def test_advance_by_and_capture(self, gridgov_engine: Engine) -> None:
        """advance_by moves the clock through the engine; EventCapture records commits."""
        with EventCapture(gridgov_engine, types=["zone.changed"]) as capture:
            gridgov_engine.report_case(COMPOUND)
            events = advance_by(gridgov_engine, timedelta(days=14))
        assert any(e.type == "zone.changed" for e in events)
        assert set(capture.types()) == {"zone.changed"}
        assert capture.events[-1].new == "controlled"


class TestExampleSuite:
    """examples/rule_suite is a working suite a user can copy."""

    def test_example_suite_passes(self) -> None:
        """Running pytest on the example suite passes every rule."""
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                str(ROOT / "examples" / "rule_suite"),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "6 passed" in done.stdout

    def test_a_broken_rule_fails_with_history(self, tmp_path: Path) -> None:
        """With a rules file that seals nothing on time, the suite fails showing history."""
        suite = tmp_path / "suite"
        suite.mkdir()
        for name in ("conftest.py", "test_rules.py"):
            text = (ROOT / "examples" / "rule_suite" / name).read_text()
            (suite / name).write_text(text)
        broken = (ROOT / "examples" / "rule_suite" / "rules.toml").read_text()
        (suite / "rules.toml").write_text(
            broken.replace("after_quiet_days = 10", "after_quiet_days = 3")
        )
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            check=False,
        )
        assert done.returncode == 1
        assert "history of 990101001001-C01" in done.stdout
        assert "sealed -> controlled" in done.stdout


class TestDocs:
    """docs/testing.md shows the example suite as it is."""

    def test_docs_show_the_real_failure(self) -> None:
        """The failure shown in docs/testing.md is exactly what the broken rule prints."""
        from gridgov.presets import small

        text = (ROOT / "examples" / "rule_suite" / "rules.toml").read_text()
        rules = Rules.from_toml(text.replace("after_quiet_days = 10", "after_quiet_days = 3"))
        engine = Engine(small(), rules, ManualClock())
        engine.report_case(COMPOUND)
        advance_by(engine, timedelta(days=10) - timedelta(minutes=1))
        with pytest.raises(AssertionError) as info:
            assert_zone(engine, COMPOUND, "sealed")
        page = (ROOT / "docs" / "testing.md").read_text()
        assert f"AssertionError: {info.value}\n```" in page

    def test_docs_quote_the_example_suite(self) -> None:
        """The page quotes conftest.py and test_rules.py of examples/rule_suite verbatim."""
        page = (ROOT / "docs" / "testing.md").read_text()
        for name in ("conftest.py", "test_rules.py"):
            text = (ROOT / "examples" / "rule_suite" / name).read_text().rstrip()
            assert f"```python\n{text}\n```" in page, name

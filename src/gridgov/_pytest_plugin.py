"""gridgov's pytest plugin: fixtures for suites that check escalation rules.

Installed with gridgov and loaded by pytest through the ``pytest11`` entry
point. Fixtures (override ``gridgov_rules`` or ``gridgov_city`` in your
``conftest.py`` to test your own rules or city):

``gridgov_city``
    The small preset (one district, two streets, a few hundred households).
``gridgov_rules``
    The rules of practice (:meth:`gridgov.Rules.default`).
``gridgov_clock``
    A :class:`gridgov.ManualClock` at 2022-09-17 00:00 UTC.
``gridgov_engine``
    An engine on those, with an in-memory journal.
``gridgov_durable_engine``
    The same on a SQLite journal in a temporary folder (closed afterwards).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gridgov.city import City
from gridgov.clock import ManualClock
from gridgov.engine import Engine
from gridgov.rules import Rules


@pytest.fixture(scope="session")
def gridgov_city() -> City:
    """The small preset city (built once per session; cities are immutable)."""
    from gridgov.presets import small

    return small()


@pytest.fixture
def gridgov_rules() -> Rules:
    """The rules of practice; override to test your own."""
    return Rules.default()


@pytest.fixture
def gridgov_clock() -> ManualClock:
    """A manual clock: time moves only when the test says so."""
    return ManualClock()


@pytest.fixture
def gridgov_engine(gridgov_city: City, gridgov_rules: Rules, gridgov_clock: ManualClock) -> Engine:
    """An engine on the city, rules and manual clock, with an in-memory journal."""
    return Engine(gridgov_city, gridgov_rules, gridgov_clock)


@pytest.fixture
def gridgov_durable_engine(
    gridgov_city: City, gridgov_rules: Rules, gridgov_clock: ManualClock, tmp_path: Path
) -> Iterator[Engine]:
    """An engine on a SQLite journal in a temporary folder."""
    engine = Engine.open(
        tmp_path / "journal.sqlite", city=gridgov_city, rules=gridgov_rules, clock=gridgov_clock
    )
    yield engine
    engine.close()

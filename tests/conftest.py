"""Shared fixtures: the presets are built once per session because they are immutable."""

from __future__ import annotations

import pytest

from gridgov import City
from gridgov.presets import jiamusi, small


@pytest.fixture(scope="session")
def jiamusi_city() -> City:
    """The full Jiamusi preset (about one second to build)."""
    return jiamusi()


@pytest.fixture(scope="session")
def small_city() -> City:
    """The small preset with its default seed."""
    return small()

"""Shared fixtures: the presets are built once per session because they are immutable."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from gridgov import City
from gridgov.presets import jiamusi, small


def pytest_configure(config: pytest.Config) -> None:
    # When a hypothesis test fails, its pytest plugin imports libcst (to suggest
    # an @example patch), which warns about mypy_extensions.TypedDict; with
    # filterwarnings=error that turns every falsified example into an
    # INTERNALERROR that hides the failure itself.
    config.addinivalue_line(
        "filterwarnings", "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
    )


@pytest.fixture(scope="session")
def jiamusi_city() -> City:
    """The full Jiamusi preset (about one second to build)."""
    return jiamusi()


@pytest.fixture(scope="session")
def small_city() -> City:
    """The small preset with its default seed."""
    return small()


# Hypothesis profiles: "dev" (the default) keeps the developer loop short;
# CI selects "ci" with HYPOTHESIS_PROFILE=ci for many more examples.
settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("ci", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

"""Shared fixtures: the presets are built once per session because they are immutable."""

from __future__ import annotations

import contextlib
import gc
import io
import os
from collections.abc import Iterator
from pathlib import Path

import attrs
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
    # The test processes hold the presets (millions of objects) for the whole
    # session, and every engine built on them allocates hundreds of thousands
    # of small objects: with the default thresholds the cyclic collector walks
    # the whole heap again and again (an Engine on Jiamusi: ~1 s, ~0.1 s
    # without). Fewer young collections keep the suite fast; the library's own
    # default (no switching of the collector) is unchanged and tested.
    gc.set_threshold(50_000, 50, 50)


@pytest.fixture(scope="session")
def jiamusi_city() -> City:
    """The full Jiamusi preset (about one second to build).

    Built once per test process and never freed, so it is moved out of the
    cyclic collector's sight (``gc.freeze``): later collections skip it.
    """
    city = jiamusi()
    gc.collect()
    gc.freeze()
    return city


@attrs.frozen
class DemoRun:
    """One ``gridgov demo --quiet --out FOLDER``: its exit code, streams and folder."""

    code: int
    out: str
    err: str
    folder: Path


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """``gridgov demo`` run once per test process (about ten seconds).

    The tests that read it are in the xdist group "demo", so with ``-n auto``
    they share one worker and the demo runs once for the whole suite.
    """
    from gridgov.cli import main

    folder = tmp_path_factory.mktemp("demo") / "demo"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["demo", "--quiet", "--out", str(folder)])
    return DemoRun(code, out.getvalue(), err.getvalue(), folder)


@pytest.fixture(scope="session")
def small_city() -> City:
    """The small preset with its default seed."""
    return small()


# Hypothesis profiles: "dev" (the default) keeps the developer loop short;
# CI selects "ci" with HYPOTHESIS_PROFILE=ci for many more examples.
settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile("ci", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="module")
def format3() -> Iterator[None]:
    """New SQLite journals written in format 3 (a row per event), for the tests that
    edit or count the rows of that format: the module's journals are all of it."""
    from gridgov import journal

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(journal, "_NEW_FORMAT", 3)
        yield


@pytest.fixture(scope="module")
def format4() -> Iterator[None]:
    """New SQLite journals written in format 4 (a dict per event's data in each block),
    for the tests that edit or build the block bodies of that format."""
    from gridgov import journal

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(journal, "_NEW_FORMAT", 4)
        yield

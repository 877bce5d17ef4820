"""Pausing the garbage collector: what the opt-in ``pause_gc`` buys, measured both ways.

gridgov never switches Python's cyclic garbage collector off unless asked
(``jiamusi(pause_gc=True)``, ``Engine(..., pause_gc=True)``), because the
switch is process-wide and an embedding platform did not ask for it. These
figures show the price of that default on the bulk work where pausing pays.

``gc_city_build``
    Building the Jiamusi preset with the collector running (the default)
    against the same build with ``pause_gc=True`` (the baseline).

``gc_declare_urban_area``
    ``Engine.declare('urban')`` on Jiamusi (pools built beforehand), then
    lifting everything, with the collector running (the default) against
    ``Engine(..., pause_gc=True)`` (the baseline).
"""

from __future__ import annotations

import statistics
import time

from benchmarks import benchmark, figure, median_wall
from gridgov import Engine, ManualClock, Rules
from gridgov.presets import URBAN_AREA, jiamusi

#: The default may cost at most this much more than pausing.
BUILD_TARGET_S = 3.0
DECLARE_TARGET_S = 0.5


@benchmark("gc_city_build")
def gc_city_build(quick: bool) -> dict[str, dict[str, object]]:
    """jiamusi() with the collector running against jiamusi(pause_gc=True)."""
    repeat = 1 if quick else 3
    paused, paused_runs = median_wall(lambda: jiamusi(pause_gc=True), repeat)
    running, running_runs = median_wall(jiamusi, repeat)
    return {
        "collector_running": figure(
            running,
            "s",
            BUILD_TARGET_S,
            f"gridgov.presets.jiamusi() (collector running: the default), median of {repeat}",
            baseline=paused,
            baseline_what="jiamusi(pause_gc=True)",
            runs=[round(r, 4) for r in running_runs],
            paused_runs=[round(r, 4) for r in paused_runs],
        ),
    }


def _declare_and_lift(pause_gc: bool) -> tuple[float, float, int]:
    city = jiamusi(pause_gc=True)
    engine = Engine(
        city, Rules(areas={"urban": URBAN_AREA}), clock=ManualClock(), pause_gc=pause_gc
    )
    _ = engine.pools
    start = time.perf_counter()
    events = len(engine.declare("urban").events)
    declared = time.perf_counter() - start
    start = time.perf_counter()
    engine.lift(city.chain.city, skip_recovery=True)
    return declared, time.perf_counter() - start, events


@benchmark("gc_declare_urban_area")
def gc_declare_urban_area(quick: bool) -> dict[str, dict[str, object]]:
    """Engine.declare('urban') with the collector running against pause_gc=True."""
    repeat = 1 if quick else 3
    paused = [_declare_and_lift(True) for _ in range(repeat)]
    running = [_declare_and_lift(False) for _ in range(repeat)]
    events = running[0][2]
    return {
        "declare_collector_running": figure(
            statistics.median(r[0] for r in running),
            "s",
            DECLARE_TARGET_S,
            f"Engine.declare('urban') on Jiamusi, {events:,} events, collector running "
            "(the default)",
            baseline=statistics.median(r[0] for r in paused),
            baseline_what="the same with Engine(..., pause_gc=True)",
        ),
        "lift_collector_running": figure(
            statistics.median(r[1] for r in running),
            "s",
            1.0,
            "Engine.lift(city, skip_recovery=True) after it, collector running (the default)",
            baseline=statistics.median(r[1] for r in paused),
            baseline_what="the same with Engine(..., pause_gc=True)",
        ),
    }

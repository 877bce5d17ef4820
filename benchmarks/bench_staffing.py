"""Staffing on the Jiamusi preset: the 17 September response and single seals.

Every figure has the same in-run baseline: the same command on an engine whose
rules switch staffing off (``StaffingRule(posts={})``: no zone needs a post).
The ratio therefore reads as "what following a switch with its staffing costs,
against the switch alone".

``staffing_urban_area``
    Declaring the whole urban area sealed with all its staffing (652 compounds:
    point leads, building leads, tasks, volunteers, front-line grid teams), on
    a fresh engine, so the first-use build of the candidate pools is included;
    then lifting everything in the city back to normal and releasing everyone.
    The plan sizes are printed beside the times.

``staffing_compound``
    Declaring one random compound sealed with its staffing; the median over
    many compounds. Between samples the compound is lifted back to open,
    outside the timing.
"""

from __future__ import annotations

import functools
import gc
import random
import statistics
import time
from collections import Counter

from benchmarks import benchmark, figure
from gridgov import City, Engine, ManualClock, Rules
from gridgov.presets import URBAN_AREA, jiamusi
from gridgov.rules import StaffingRule
from gridgov.staffing import Pools

SEAL_AREA_TARGET_S = 1.0
LIFT_ALL_TARGET_S = 2.0
SEAL_COMPOUND_TARGET_MS = 2.0


@functools.cache
def _city() -> City:
    return jiamusi()


def _rules(staffing: bool) -> Rules:
    rule = StaffingRule() if staffing else StaffingRule(posts={})
    return Rules(areas={"urban": URBAN_AREA}, staffing=rule)


def _seal_and_lift(staffing: bool) -> tuple[float, float, dict[str, int], dict[str, int]]:
    """One fresh engine: seconds to seal the urban area and to lift everything,
    with the sizes of each command."""
    city = _city()
    engine = Engine(city, _rules(staffing), clock=ManualClock())
    # The garbage of the previous run is not this run's cost.
    gc.collect()
    start = time.perf_counter()
    sealed = engine.declare("urban")
    seal_s = time.perf_counter() - start
    counts = engine.response_counts()
    seal_types = Counter(e.type for e in sealed.events)
    seal_sizes = {
        "compounds_sealed": len(engine.under("sealed")),
        "posts": seal_types["post.opened"],
        "assignments": seal_types["post.assigned"],
        "shortfalls": seal_types["shortfall.opened"],
        "events": len(sealed.events),
        **counts,
    }
    gc.collect()
    start = time.perf_counter()
    lifted = engine.lift(city.chain.city, skip_recovery=True)
    lift_s = time.perf_counter() - start
    assert set(engine.modes().values()) == {"normal"}
    assert not engine.roster.assignment, "everyone is back on their normal post"
    lift_types = Counter(e.type for e in lifted.events)
    lift_sizes = {
        "posts_closed": lift_types["post.closed"],
        "releases": lift_types["post.released"],
        "events": len(lifted.events),
    }
    return seal_s, lift_s, seal_sizes, lift_sizes


@benchmark("staffing_urban_area")
def staffing_urban_area(quick: bool) -> dict[str, dict[str, object]]:
    """Seal the urban area with its staffing (17 September), then lift and release all."""
    city = _city()
    start = time.perf_counter()
    Pools(city, 0)
    pools_s = time.perf_counter() - start
    runs = 1 if quick else 3
    seal: list[float] = []
    lift: list[float] = []
    bare_seal: list[float] = []
    bare_lift: list[float] = []
    seal_sizes: dict[str, int] = {}
    lift_sizes: dict[str, int] = {}
    bare_seal_sizes: dict[str, int] = {}
    for _ in range(runs):
        s, lt, seal_sizes, lift_sizes = _seal_and_lift(staffing=True)
        seal.append(s)
        lift.append(lt)
        s, lt, bare_seal_sizes, _ = _seal_and_lift(staffing=False)
        bare_seal.append(s)
        bare_lift.append(lt)
    return {
        "seal_urban_area": figure(
            statistics.median(seal),
            "s",
            SEAL_AREA_TARGET_S,
            f"Engine.declare('urban') with its staffing on a fresh engine: "
            f"{seal_sizes['compounds_sealed']:,} compounds sealed, {seal_sizes['posts']:,} "
            f"posts, {seal_sizes['assignments']:,} assignments, {seal_sizes['events']:,} events",
            baseline=statistics.median(bare_seal),
            baseline_what=f"the same declaration with staffing off "
            f"({bare_seal_sizes['events']:,} events)",
            runs=[round(r, 4) for r in seal],
            plan=seal_sizes,
            pools_build_s=round(pools_s, 4),
        ),
        "lift_all_release_everyone": figure(
            statistics.median(lift),
            "s",
            LIFT_ALL_TARGET_S,
            f"Engine.lift(city, skip_recovery=True) after the urban seal: "
            f"{lift_sizes['releases']:,} people released, {lift_sizes['posts_closed']:,} posts "
            f"closed, {lift_sizes['events']:,} events",
            baseline=statistics.median(bare_lift),
            baseline_what="the same lift with staffing off",
            runs=[round(r, 4) for r in lift],
            plan=lift_sizes,
        ),
    }


def _seal_compounds(staffing: bool, compounds: list[str]) -> tuple[list[float], list[int]]:
    """Seconds and staffing events of declaring each compound sealed, lifted in between."""
    engine = Engine(_city(), _rules(staffing), clock=ManualClock())
    # Build the pools before timing: a running engine has them already.
    engine.declare(compounds[0])
    engine.lift(compounds[0], skip_recovery=True)
    runs: list[float] = []
    sizes: list[int] = []
    for compound in compounds:
        start = time.perf_counter()
        result = engine.declare(compound)
        runs.append(time.perf_counter() - start)
        sizes.append(len(result.changes("post.assigned")))
        engine.lift(compound, skip_recovery=True)
    return runs, sizes


@benchmark("staffing_compound")
def staffing_compound(quick: bool) -> dict[str, dict[str, object]]:
    """Seal one random compound with its staffing: median time."""
    compounds = random.Random(0).choices(sorted(_city().compounds), k=50 if quick else 400)
    runs, assigned = _seal_compounds(True, compounds)
    bare, _ = _seal_compounds(False, compounds)
    seconds = statistics.median(runs)
    return {
        "seal_one_compound": figure(
            seconds * 1e3,
            "ms",
            SEAL_COMPOUND_TARGET_MS,
            f"Engine.declare(compound) with its staffing, median of {len(runs)} random compounds",
            baseline=statistics.median(bare) * 1e3,
            baseline_what="the same declaration with staffing off",
            p95_ms=round(sorted(runs)[int(0.95 * (len(runs) - 1))] * 1e3, 4),
            assignments_median=statistics.median(assigned),
            assignments_max=max(assigned),
        ),
    }

"""Scaling with city size: the Jiamusi preset at 1x, 2x and 4x in one run.

``scaling``
    ``jiamusi(scale=s)`` for s = 1, 2, 4 (0.25, 0.5, 1 with ``--quick``);
    above 1 the preset tiles its ten divisions under new district codes (a
    megacity: 4x is 35,544 grids, about 4.1 million households). At each
    scale, timed one after the other in this process (the previous city
    freed first):

    * ``build``: building the city;
    * ``engine``: ``Engine(city)`` (every community and compound a model of
      the two machines);
    * ``pools``: building the staffing candidate pools (``engine.pools``);
    * ``declare``: ``Engine.declare("urban")`` where the area is every urban
      district of every tile (it grows with the city), with all its staffing;
    * ``lift``: ``Engine.lift(city, skip_recovery=True)`` afterwards;
    * ``case``: ``Engine.report_case`` on random compounds, the median (the
      city lifted back between cases, outside the timing), after a first
      untimed pass over the same compounds (which builds the candidate lists
      they use, once per street or district): the steady state; 200 cases
      per scale, the median events per case listed beside the times.

    Each timed step starts after an untimed ``gc.collect()``, so that it pays
    for the full collections of Python's cyclic garbage collector that its
    own objects cause (the collector runs as usual inside the step), not for
    those the step before left pending; each figure lists, per scale, how
    many full collections ran inside the step and their wall time.

    Engine(), pools, declare and lift are timed three times at each scale
    (a new engine each time, on the same city; one time with ``--quick``),
    and the median is kept: one sample per scale moved the exponents by up
    to 0.3 on a loaded machine. Each figure lists every run
    (``scales[i].runs_s``); the collector's figures are the last run's.

    For each of build, engine, pools, declare and lift the figure is the
    exponent ``k`` of the least-squares fit ``time ~ scale**k`` over the
    three scales (target <= 1.1: linear); for the case it is the median at
    the largest scale over the median at the smallest (target <= 1.1: a
    case costs the same in a bigger city). The baseline of each exponent is
    1.0, linear scaling; every time is in the figure.
"""

from __future__ import annotations

import gc
import math
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks import benchmark, figure
from gridgov import Engine, ManualClock, Rules
from gridgov.presets import URBAN_DISTRICTS, jiamusi

EXPONENT_TARGET = 1.1
#: Times Engine(), pools, declare and lift are timed at each scale (median kept).
REPEATS = 3
CASE_TARGET = 1.1


class _FullCollections:
    """Counts the collector's full (generation 2) collections and their wall time."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.count += 1
            self.seconds += time.perf_counter() - self._start


def _timed(fn: Callable[[], Any], gc_seen: dict[str, Any] | None = None) -> tuple[float, Any]:
    # Each step starts from a collected heap (untimed), so that it pays for
    # the full collections its own objects cause, not for those the step
    # before left pending (which made the exponents jump with where the
    # collector's thresholds fell); the collector runs as usual inside.
    gc.collect()
    probe = _FullCollections()
    gc.callbacks.append(probe)
    try:
        start = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - start
    finally:
        gc.callbacks.remove(probe)
    if gc_seen is not None:
        gc_seen.update(full_collections=probe.count, full_collections_s=round(probe.seconds, 4))
    return elapsed, out


def exponent(scales: list[float], seconds: list[float]) -> float:
    """Slope of log(seconds) against log(scale), least squares."""
    xs = [math.log(s) for s in scales]
    ys = [math.log(t) for t in seconds]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    num = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    den = sum((x - mx) ** 2 for x in xs)
    return num / den


def _urban(city: Any) -> tuple[str, ...]:
    """Every urban district of every tile (the same two last digits' position in its block)."""
    districts = set(city.chain.units("district"))
    positions = range(len(URBAN_DISTRICTS))
    tiled = {f"2308{block + i}" for block in (30, 40, 50, 60, 70, 90) for i in positions}
    return tuple(sorted((set(URBAN_DISTRICTS) | tiled) & districts))


def _one_engine(
    city: Any, rules: Rules, seen: dict[str, dict[str, Any]]
) -> tuple[Engine, tuple[float, float, float, float], int, int]:
    """A new engine's Engine(), pools, declare and lift times, events declared, compounds
    sealed."""
    engine_s, engine = _timed(lambda: Engine(city, rules, clock=ManualClock()), seen["engine"])
    pools_s, _ = _timed(lambda: engine.pools, seen["pools"])
    declare_s, declared = _timed(lambda: engine.declare("urban"), seen["declare"])
    events = len(declared.events)
    del declared
    sealed = len(engine.under("sealed"))
    lift_s, _ = _timed(lambda: engine.lift(city.chain.city, skip_recovery=True), seen["lift"])
    return engine, (engine_s, pools_s, declare_s, lift_s), events, sealed


def _one_scale(scale: float, cases: int, repeats: int) -> dict[str, Any]:
    seen: dict[str, dict[str, Any]] = {name: {} for name in _STEPS}
    build, city = _timed(lambda: jiamusi(scale=scale), seen["build"])
    rules = Rules(areas={"urban": _urban(city)})
    runs_s: dict[str, list[float]] = {name: [] for name in _STEPS[1:]}
    # A new engine each time (the same city): Engine(), pools, declare and
    # lift are each timed ``repeats`` times and the median is kept.
    engine: Engine | None = None
    declare_events = sealed = 0
    for _ in range(repeats):
        engine = None  # the engine before is freed before the next is built
        engine, seconds, declare_events, sealed = _one_engine(city, rules, seen)
        for name, took in zip(_STEPS[1:], seconds, strict=True):
            runs_s[name].append(took)
    assert engine is not None
    # Drawn from each city: a bigger city's tiles are synthesised anew, so
    # the compounds differ, and so does the work of the median case (56
    # events at 1x and 64 at 4x were seen with 100 cases): the figure lists
    # each scale's median events beside its median time.
    compounds = random.Random(0).choices(sorted(city.compounds), k=cases)
    # A first pass builds the pools' lists these cases use (built once per
    # street or district, then kept): the timed pass is the steady state.
    for compound in compounds:
        engine.report_case(compound)
        engine.lift(city.chain.city, skip_recovery=True)
    runs: list[float] = []
    events: list[int] = []
    for compound in compounds:
        start = time.perf_counter()
        result = engine.report_case(compound)
        runs.append(time.perf_counter() - start)
        events.append(len(result.events))
        engine.lift(city.chain.city, skip_recovery=True)
    summary = city.summary()
    return {
        "scale": scale,
        "grids": summary["grids"]["total"],
        "households": city.households(city.chain.city),
        "sealed": sealed,
        "declare_events": declare_events,
        "build_s": build,
        **{f"{name}_s": statistics.median(runs) for name, runs in runs_s.items()},
        "runs_s": {name: [round(r, 4) for r in runs] for name, runs in runs_s.items()},
        "case_ms": statistics.median(runs) * 1e3,
        "case_events": statistics.median(events),
        "collector": seen,
    }


_STEPS = ("build", "engine", "pools", "declare", "lift")


@benchmark("scaling")
def scaling(quick: bool) -> dict[str, dict[str, object]]:
    """Build, Engine(), pools, declare, lift and a case at 1x, 2x, 4x: fitted exponents."""
    scales = [0.25, 0.5, 1.0] if quick else [1.0, 2.0, 4.0]
    cases = 30 if quick else 200
    repeats = 1 if quick else REPEATS
    rows = [_one_scale(s, cases, repeats) for s in scales]
    table = [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]
    out: dict[str, dict[str, object]] = {}
    for name, label in (
        ("build", "building jiamusi(scale)"),
        ("engine", "Engine(city)"),
        ("pools", "engine.pools (staffing candidate pools)"),
        ("declare", "Engine.declare('urban'), every urban district of every tile"),
        ("lift", "Engine.lift(city, skip_recovery=True) after the declaration"),
    ):
        seconds = [r[f"{name}_s"] for r in rows]
        out[f"{name}_exponent"] = figure(
            exponent(scales, seconds),
            "",
            EXPONENT_TARGET,
            f"k in time ~ scale**k for {label}, at scales {scales}",
            baseline=1.0,
            baseline_what="linear scaling",
            seconds=[round(s, 4) for s in seconds],
            full_collections=[r["collector"][name]["full_collections"] for r in rows],
            full_collections_s=[r["collector"][name]["full_collections_s"] for r in rows],
        )
    out["case_4x_over_1x"] = figure(
        rows[-1]["case_ms"] / rows[0]["case_ms"],
        "",
        CASE_TARGET,
        f"median Engine.report_case at scale {scales[-1]} over the median at {scales[0]} "
        f"({cases} random compounds each)",
        baseline=1.0,
        baseline_what="the same cost in a bigger city",
        case_ms=[round(r["case_ms"], 4) for r in rows],
        case_events=[r["case_events"] for r in rows],
        scales=table,
    )
    return out

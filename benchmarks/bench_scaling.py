"""Scaling with city size: the Jiamusi preset at 1x, 2x and 4x in one run.

``scaling``
    ``jiamusi(scale=s)`` for s = 1, 2, 4 (0.25, 0.5, 1 with ``--quick``);
    above 1 the preset tiles its ten divisions under new district codes (a
    megacity: 4x is 35,544 grids, about 4.1 million households). Each scale
    is measured in a fresh interpreter of its own (imports outside the
    timing), which times, one after the other:

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
      they use, once per street or district): the steady state. 600 cases
      per scale (60 with ``--quick``), drawn the same way at every scale (a
      seeded uniform draw from the city's sorted compounds; a bigger city's
      tiles are synthesised anew, so the compounds themselves differ), the
      median events per case listed beside the times.

    Engine(), pools, declare and lift are timed three times in each
    interpreter (a new engine each time, on the same city; the median kept).
    The first of the three is a user's only engine (memory fresh from the
    system); its own fits are given beside (``first_engine_value``,
    ``first_engine_cpu_value``). numpy, which the pools import lazily, is
    imported before any timing (the first engine's pools paid for it before).

    The interpreters run in rounds, one per scale, five rounds (one with
    ``--quick``), the order of the scales turned by one place each round
    (1, 2, 4; then 2, 4, 1; then 4, 1, 2; ...), so that a change of load on
    the machine does not fall on one scale, and no scale pays for the heap
    another left. Each step's time at a scale is the median over the rounds.

    Each timed step starts after an untimed ``gc.collect()``, so that it pays
    for the full collections of Python's cyclic garbage collector that its
    own objects cause (the collector runs as usual inside the step), not for
    those the step before left pending; each figure lists, per scale, how
    many full collections ran inside the step and their wall time (the
    median round's).

    Every step is timed in wall time (the headline: what a user waits for)
    and in CPU time (``time.process_time``); each figure gives the exponent
    fitted to the CPU times as ``cpu_value`` beside it (on a loaded machine,
    wall times carry the other processes' share), and the exponent of each
    round on its own (``rounds``), which shows the spread.

    For each of build, engine, pools, declare and lift the figure is the
    exponent ``k`` of the least-squares fit ``time ~ scale**k`` over the
    three scales (target <= 1.1: linear); for the case it is the median at
    the largest scale over the median at the smallest (target <= 1.1: a
    case costs the same in a bigger city), with the same ratio per event
    (``per_event``) beside it. The baseline of each exponent is 1.0, linear
    scaling; every time is in the figure.
"""

from __future__ import annotations

import gc
import importlib
import json
import math
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import benchmark, figure

ROOT = Path(__file__).resolve().parent.parent
EXPONENT_TARGET = 1.1
#: Times Engine(), pools, declare and lift are timed in each interpreter (median kept).
REPEATS = 3
#: Rounds of one interpreter per scale.
ROUNDS = 5
CASE_TARGET = 1.1
_STEPS = ("build", "engine", "pools", "declare", "lift")


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


def _timed(
    fn: Callable[[], Any], gc_seen: dict[str, Any] | None = None
) -> tuple[float, float, Any]:
    """Wall and CPU seconds of ``fn()``, and what it returned.

    Each step starts from a collected heap (untimed), so that it pays for the
    full collections its own objects cause, not for those the step before
    left pending (which made the exponents jump with where the collector's
    thresholds fell); the collector runs as usual inside.
    """
    gc.collect()
    probe = _FullCollections()
    gc.callbacks.append(probe)
    try:
        cpu = time.process_time()
        start = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
    finally:
        gc.callbacks.remove(probe)
    if gc_seen is not None:
        gc_seen.update(full_collections=probe.count, full_collections_s=round(probe.seconds, 4))
    return elapsed, cpu, out


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
    from gridgov.presets import URBAN_DISTRICTS

    districts = set(city.chain.units("district"))
    positions = range(len(URBAN_DISTRICTS))
    tiled = {f"2308{block + i}" for block in (30, 40, 50, 60, 70, 90) for i in positions}
    return tuple(sorted((set(URBAN_DISTRICTS) | tiled) & districts))


def _one_engine(
    city: Any, rules: Any, seen: dict[str, dict[str, Any]]
) -> tuple[Any, dict[str, tuple[float, float]], int, int]:
    """A new engine's Engine(), pools, declare and lift (wall, CPU) times, events declared,
    compounds sealed."""
    from gridgov import Engine, ManualClock

    engine_s, engine_cpu, engine = _timed(
        lambda: Engine(city, rules, clock=ManualClock()), seen["engine"]
    )
    pools_s, pools_cpu, _ = _timed(lambda: engine.pools, seen["pools"])
    declare_s, declare_cpu, declared = _timed(lambda: engine.declare("urban"), seen["declare"])
    events = len(declared.events)
    del declared  # its events are not kept through the lift
    sealed = len(engine.under("sealed"))
    lift_s, lift_cpu, _ = _timed(
        lambda: engine.lift(city.chain.city, skip_recovery=True), seen["lift"]
    )
    took = {
        "engine": (engine_s, engine_cpu),
        "pools": (pools_s, pools_cpu),
        "declare": (declare_s, declare_cpu),
        "lift": (lift_s, lift_cpu),
    }
    return engine, took, events, sealed


def measure_scale(scale: float, cases: int, repeats: int) -> dict[str, Any]:
    """Every step at one scale, in this interpreter (what each child runs)."""
    from gridgov import Rules
    from gridgov.presets import jiamusi

    # Imports outside the timing: the staffing pools import numpy lazily, which
    # the first engine's `pools` paid (about 90 modules) at every scale.
    importlib.import_module("numpy")
    seen: dict[str, dict[str, Any]] = {name: {} for name in _STEPS}
    build_s, build_cpu, city = _timed(lambda: jiamusi(scale=scale), seen["build"])
    rules = Rules(areas={"urban": _urban(city)})
    wall: dict[str, list[float]] = {name: [] for name in _STEPS[1:]}
    cpu: dict[str, list[float]] = {name: [] for name in _STEPS[1:]}
    engine: Any = None
    declare_events = sealed = 0
    for _ in range(repeats):
        engine = None  # the engine before is freed before the next is built
        engine, took, declare_events, sealed = _one_engine(city, rules, seen)
        for name in _STEPS[1:]:
            wall[name].append(took[name][0])
            cpu[name].append(took[name][1])
    compounds = random.Random(0).choices(sorted(city.compounds), k=cases)
    # A first pass builds the pools' lists these cases use (built once per
    # street or district, then kept): the timed pass is the steady state.
    for compound in compounds:
        engine.report_case(compound)
        engine.lift(city.chain.city, skip_recovery=True)
    case_wall: list[float] = []
    case_cpu: list[float] = []
    events: list[int] = []
    for compound in compounds:
        cpu_start = time.process_time()
        start = time.perf_counter()
        result = engine.report_case(compound)
        case_wall.append(time.perf_counter() - start)
        case_cpu.append(time.process_time() - cpu_start)
        events.append(len(result.events))
        engine.lift(city.chain.city, skip_recovery=True)
    summary = city.summary()
    return {
        "scale": scale,
        "grids": summary["grids"]["total"],
        "households": city.households(city.chain.city),
        "sealed": sealed,
        "declare_events": declare_events,
        "wall": {"build": build_s, **{n: statistics.median(v) for n, v in wall.items()}},
        "cpu": {"build": build_cpu, **{n: statistics.median(v) for n, v in cpu.items()}},
        "runs_s": {name: [round(r, 4) for r in runs] for name, runs in wall.items()},
        # The first engine of the interpreter (a user's only one): memory fresh from
        # the system, nothing of an engine before in the allocator's free lists.
        "first": {name: runs[0] for name, runs in wall.items()},
        "first_cpu": {name: runs[0] for name, runs in cpu.items()},
        "case_ms": statistics.median(case_wall) * 1e3,
        "case_cpu_ms": statistics.median(case_cpu) * 1e3,
        "case_us_per_event": statistics.median(
            t / e for t, e in zip(case_wall, events, strict=True) if e
        )
        * 1e6,
        "case_events": statistics.median(events),
        "collector": seen,
    }


_CHILD = (
    "import json, sys\n"
    "from benchmarks.bench_scaling import measure_scale\n"
    "print(json.dumps(measure_scale(float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))))\n"
)


def _child(scale: float, cases: int, repeats: int) -> dict[str, Any]:
    """:func:`measure_scale` in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, repr(scale), str(cases), str(repeats)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _rounds(
    scales: list[float], cases: int, repeats: int, rounds: int
) -> list[list[dict[str, Any]]]:
    """``rounds`` rounds of one fresh interpreter per scale, the order turned each round.

    Returns:
        Per scale (in ``scales`` order), its rounds' results.
    """
    got: list[list[dict[str, Any]]] = [[] for _ in scales]
    for index in range(rounds):
        turn = index % len(scales)
        for position in [*range(turn, len(scales)), *range(turn)]:
            got[position].append(_child(scales[position], cases, repeats))
    return got


def _first_engine(
    name: str, scales: list[float], per_scale: list[list[dict[str, Any]]]
) -> dict[str, object]:
    """For Engine(), pools, declare and lift: the same fits on the first engine of each
    interpreter only (wall and CPU; medians over the rounds), beside the headline's
    median of the repeats."""
    if name == "build":
        return {}
    wall = [statistics.median(r["first"][name] for r in runs) for runs in per_scale]
    cpu = [statistics.median(r["first_cpu"][name] for r in runs) for runs in per_scale]
    return {
        "first_engine_value": round(exponent(scales, wall), 4),
        "first_engine_cpu_value": round(exponent(scales, cpu), 4),
        "first_engine_cpu_seconds": [round(s, 4) for s in cpu],
    }


def _median_round(runs: list[dict[str, Any]], key: Callable[[dict[str, Any]], float]) -> Any:
    """The round whose ``key`` is the median (its other figures go with it)."""
    ordered = sorted(runs, key=key)
    return ordered[len(ordered) // 2]


@benchmark("scaling")
def scaling(quick: bool) -> dict[str, dict[str, object]]:
    """Build, Engine(), pools, declare, lift and a case at 1x, 2x, 4x: fitted exponents."""
    scales = [0.25, 0.5, 1.0] if quick else [1.0, 2.0, 4.0]
    cases = 60 if quick else 600
    repeats = 1 if quick else REPEATS
    rounds = 1 if quick else ROUNDS
    per_scale = _rounds(scales, cases, repeats, rounds)
    out: dict[str, dict[str, object]] = {}
    for name, label in (
        ("build", "building jiamusi(scale)"),
        ("engine", "Engine(city)"),
        ("pools", "engine.pools (staffing candidate pools)"),
        ("declare", "Engine.declare('urban'), every urban district of every tile"),
        ("lift", "Engine.lift(city, skip_recovery=True) after the declaration"),
    ):
        wall = [statistics.median(r["wall"][name] for r in runs) for runs in per_scale]
        cpu = [statistics.median(r["cpu"][name] for r in runs) for runs in per_scale]
        middle = [
            _median_round(runs, lambda r, step=name: r["wall"][step])["collector"][name]
            for runs in per_scale
        ]
        out[f"{name}_exponent"] = figure(
            exponent(scales, wall),
            "",
            EXPONENT_TARGET,
            f"k in time ~ scale**k for {label}, at scales {scales}, wall times (median of "
            f"{rounds} fresh interpreters per scale, the order of the scales turned each "
            "round); cpu_value: the same fit on CPU times",
            baseline=1.0,
            baseline_what="linear scaling",
            cpu_value=round(exponent(scales, cpu), 4),
            **_first_engine(name, scales, per_scale),
            rounds=[
                round(exponent(scales, [runs[i]["wall"][name] for runs in per_scale]), 4)
                for i in range(rounds)
            ],
            rounds_cpu=[
                round(exponent(scales, [runs[i]["cpu"][name] for runs in per_scale]), 4)
                for i in range(rounds)
            ],
            seconds=[round(s, 4) for s in wall],
            cpu_seconds=[round(s, 4) for s in cpu],
            runs_s=[[round(r["wall"][name], 4) for r in runs] for runs in per_scale],
            full_collections=[seen["full_collections"] for seen in middle],
            full_collections_s=[seen["full_collections_s"] for seen in middle],
        )
    case_ms = [statistics.median(r["case_ms"] for r in runs) for runs in per_scale]
    case_cpu = [statistics.median(r["case_cpu_ms"] for r in runs) for runs in per_scale]
    per_event = [statistics.median(r["case_us_per_event"] for r in runs) for runs in per_scale]
    table = [
        {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items() if k != "collector"}
        for r in (_median_round(runs, lambda r: r["case_ms"]) for runs in per_scale)
    ]
    out["case_4x_over_1x"] = figure(
        case_ms[-1] / case_ms[0],
        "",
        CASE_TARGET,
        f"median Engine.report_case at scale {scales[-1]} over the median at {scales[0]} "
        f"({cases} random compounds each, median of {rounds} fresh interpreters per scale); "
        "cpu_value: the same on CPU times; per_event: the same on each case's time per event",
        baseline=1.0,
        baseline_what="the same cost in a bigger city",
        cpu_value=round(case_cpu[-1] / case_cpu[0], 4),
        per_event=round(per_event[-1] / per_event[0], 4),
        rounds=[
            round(per_scale[-1][i]["case_ms"] / per_scale[0][i]["case_ms"], 4)
            for i in range(rounds)
        ],
        case_ms=[round(v, 4) for v in case_ms],
        case_cpu_ms=[round(v, 4) for v in case_cpu],
        case_us_per_event=[round(v, 3) for v in per_event],
        case_events=[[r["case_events"] for r in runs] for runs in per_scale],
        scales=table,
    )
    return out

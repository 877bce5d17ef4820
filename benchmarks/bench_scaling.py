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
    * ``lift``: ``Engine.lift(city, skip_recovery=True)`` afterwards.

    (The confirmed case is measured apart: ``case_4x_over_1x`` below.)

    Each interpreter builds the city once (``BUILDS``) and then times
    Engine(), pools, declare and lift three times (``REPEATS``; a new engine
    each time, on the same city, the one before freed first; the median
    kept); every sample is kept (``samples_s``, ``samples_cpu_s``: per scale,
    per interpreter, in the order run). The first engine of each interpreter
    is a user's only engine (memory fresh from the system); its own fits are
    given beside (``first_engine_value``, ``first_engine_cpu_value``: the
    median over the interpreters of their first engine). numpy, which the
    pools import lazily, is imported before any timing (the first engine's
    pools paid for it before).

    The interpreters run in rounds, one per scale, five rounds (one with
    ``--quick``, one engine in each), the order of the scales turned by one
    place each round (1, 2, 4; then 2, 4, 1; then 4, 1, 2; ...), so that a
    change of load on the machine does not fall on one scale, and no scale
    pays for the heap another left.

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
    three scales (target <= 1.1: linear), fitted to each scale's **fastest
    round** (the fastest interpreter's build, or median of its engines;
    ``cpu_value`` the same on CPU times). The reason is timeit's: on a shared
    host the other processes only ever add time (they take the CPU, the
    caches, the memory bus), and a slow round says how loaded the host was,
    not how fast the code is; the fastest of several rounds is the least
    disturbed estimate of each scale's time, while a median keeps the
    disturbance of the middle round. The median fits, the figure's method
    before that, are given beside (``median_value``, ``median_cpu_value``,
    from ``seconds`` and ``cpu_seconds``); so are the fits to each scale's
    fastest single sample (``fastest_sample_value``,
    ``fastest_sample_cpu_value``: with three builds and five engines per
    interpreter this was tried as the headline, and on a host at load 6-9 it
    was not steadier from run to run than the fastest round: RESULTS.md,
    iso13's section), each round's own exponent (``rounds``, ``rounds_cpu``)
    and every sample, so nothing is hidden. The baseline of each exponent is
    1.0, linear scaling.

``scaling.case_4x_over_1x``
    The cost of one confirmed case (``Engine.report_case`` on a random
    compound) in the largest city over its cost in the smallest (4x over 1x;
    1 over 0.25 with ``--quick``); target <= 1.1: a case costs the same in
    a bigger city. A case takes about half a millisecond, and on a shared
    host one process's median moves by a fifth of that from run to run,
    more than the difference measured; so both cities are measured in one
    interpreter, their cases interleaved, and the load of the moment falls
    on both alike (the issue's "ratios in one run"). Each round is a fresh
    interpreter that:

    * builds both cities, and for each an engine that declares the urban
      area and lifts it (with all its staffing; the untimed set-up of the
      other steps);
    * draws each city's cases the same way: 600 (60 with
      ``--quick``) seeded uniform draws from its sorted compounds (a bigger
      city's tiles are synthesised anew, so the compounds themselves
      differ), and one lead-in compound per block from a second seeded
      draw;
    * runs every case and lead-in once on its own engine, untimed (it builds
      the pools' candidate lists these cases use, once per street or
      district, then kept): what is timed is the steady state;
    * then times the cases in blocks of ``BLOCK`` (10) cases of one engine,
      the engines taking turns in the order small, large, large, small,
      small, large, ... (so that neither always goes first). Each block
      starts with its untimed lead-in case on its own engine, so that every
      timed case follows a case and a lift of its own engine, as when each
      city had an interpreter of its own. After each case the city is
      lifted back (untimed).

    A round's ratio is the median case time of the large city over that of
    the small one (wall time; ``cpu_value`` the same on CPU time,
    ``per_event`` on each case's time per event). The figure is the median
    of the rounds' ratios (``ROUNDS_CASE`` = 3 rounds, one with
    ``--quick``); ``rounds`` lists each round's ratio, ``spread`` their
    range, and ``block_ratios`` the quartiles, in each round, of the ratios
    of the block pairs (each large block's median over the small block's
    beside it): how far the load moves a ratio over a few milliseconds.
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
#: Times Engine(), pools, declare and lift are timed in each interpreter (a new engine
#: each; their median kept).
REPEATS = 3
#: Times the city is built in each interpreter (a new city each, the one before freed
#: first; their median kept). One: more did not make the exponents steadier (RESULTS.md,
#: iso13's section), and each 4x build takes seconds.
BUILDS = 1
#: Rounds of one interpreter per scale.
ROUNDS = 5
CASE_TARGET = 1.1
#: Cases per scale in each case round (60 with ``--quick``).
CASES = 600
#: Timed cases in a block of one engine's cases (each block after an untimed lead-in case).
BLOCK = 10
#: Fresh interpreters measuring the cases of the smallest and the largest city.
ROUNDS_CASE = 3
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


def measure_scale(scale: float, repeats: int, builds: int = 1) -> dict[str, Any]:
    """Every step at one scale, in this interpreter (what each child runs): the city
    built ``builds`` times, then ``repeats`` engines on the last city.

    Returns:
        The city's facts, and per step every sample's wall and CPU seconds, in the
        order run (``wall``, ``cpu``).
    """
    from gridgov import Rules
    from gridgov.presets import jiamusi

    # Imports outside the timing: the staffing pools import numpy lazily, which
    # the first engine's `pools` paid (about 90 modules) at every scale.
    importlib.import_module("numpy")
    seen: dict[str, dict[str, Any]] = {name: {} for name in _STEPS}
    wall: dict[str, list[float]] = {name: [] for name in _STEPS}
    cpu: dict[str, list[float]] = {name: [] for name in _STEPS}
    city = None
    for _ in range(builds):
        city = None  # the city before is freed before the next is built
        build_s, build_cpu, city = _timed(lambda: jiamusi(scale=scale), seen["build"])
        wall["build"].append(build_s)
        cpu["build"].append(build_cpu)
    assert city is not None, "at least one build"
    rules = Rules(areas={"urban": _urban(city)})
    declare_events = sealed = 0
    for _ in range(repeats):
        # Each engine is freed as soon as it is measured, before the next is built.
        took, declare_events, sealed = _one_engine(city, rules, seen)[1:]
        for name in _STEPS[1:]:
            wall[name].append(took[name][0])
            cpu[name].append(took[name][1])
    summary = city.summary()
    return {
        "scale": scale,
        "grids": summary["grids"]["total"],
        "households": city.households(city.chain.city),
        "sealed": sealed,
        "declare_events": declare_events,
        "wall": wall,
        "cpu": cpu,
        "collector": seen,
    }


def _case_engine(scale: float, cases: int) -> tuple[Any, list[str], list[str]]:
    """A city at ``scale`` and an engine on it (the urban area declared and lifted), its
    drawn cases and lead-ins, each run once (untimed): the cases' steady state."""
    from gridgov import Rules
    from gridgov.presets import jiamusi

    city = jiamusi(scale=scale)
    seen: dict[str, dict[str, Any]] = {name: {} for name in _STEPS}
    engine = _one_engine(city, Rules(areas={"urban": _urban(city)}), seen)[0]
    ordered = sorted(city.compounds)
    compounds = random.Random(0).choices(ordered, k=cases)
    leads = random.Random(1).choices(ordered, k=-(-cases // BLOCK))
    # A first pass builds the pools' lists these cases use (built once per
    # street or district, then kept): the timed pass is the steady state.
    for compound in [*compounds, *leads]:
        engine.report_case(compound)
        engine.lift(city.chain.city, skip_recovery=True)
    return engine, compounds, leads


def _block(engine: Any, lead: str, compounds: list[str]) -> list[tuple[float, float, int]]:
    """An untimed lead-in case, then each of ``compounds``' cases timed (wall, CPU,
    events), the city lifted back after each (untimed)."""
    city = engine.city.chain.city
    engine.report_case(lead)
    engine.lift(city, skip_recovery=True)
    out: list[tuple[float, float, int]] = []
    for compound in compounds:
        cpu = time.process_time()
        start = time.perf_counter()
        result = engine.report_case(compound)
        wall = time.perf_counter() - start
        out.append((wall, time.process_time() - cpu, len(result.events)))
        engine.lift(city, skip_recovery=True)
    return out


def measure_cases(small: float, large: float, cases: int) -> dict[str, Any]:
    """The cases of the cities at ``small`` and ``large`` scale, in this interpreter,
    interleaved in blocks (what each case round runs).

    Returns:
        Per city (``small``, ``large``): each timed case's (wall s, CPU s, events),
        in the order run, block by block.
    """
    importlib.import_module("numpy")
    engines = [_case_engine(scale, cases) for scale in (small, large)]
    timed: list[list[list[tuple[float, float, int]]]] = [[], []]
    gc.collect()
    for index, side in _turns(len(engines[0][2])):
        engine, compounds, leads = engines[side]
        chunk = compounds[index * BLOCK : (index + 1) * BLOCK]
        timed[side].append(_block(engine, leads[index], chunk))
    return {"small": timed[0], "large": timed[1]}


def _turns(blocks: int) -> list[tuple[int, int]]:
    """The order of the blocks: (block, city) with city 0 the small one, 1 the large;
    small, large, large, small, small, large, ...: neither always goes first."""
    return [(index, side) for index in range(blocks) for side in ((0, 1), (1, 0))[index % 2]]


_CHILD = (
    "import json, sys\n"
    "from benchmarks.bench_scaling import measure_scale\n"
    "print(json.dumps(measure_scale(float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))))\n"
)
_CASE_CHILD = (
    "import json, sys\n"
    "from benchmarks.bench_scaling import measure_cases\n"
    "print(json.dumps(measure_cases(float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]))))\n"
)


def _run_child(code: str, *args: object) -> Any:
    """The last line of what ``code`` prints in a fresh interpreter, as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _rounds(
    scales: list[float], repeats: int, rounds: int, builds: int = 1
) -> list[list[dict[str, Any]]]:
    """``rounds`` rounds of one fresh interpreter per scale, the order turned each round.

    Returns:
        Per scale (in ``scales`` order), its rounds' results.
    """
    got: list[list[dict[str, Any]]] = [[] for _ in scales]
    for index in range(rounds):
        turn = index % len(scales)
        for position in [*range(turn, len(scales)), *range(turn)]:
            got[position].append(_run_child(_CHILD, repr(scales[position]), repeats, builds))
    return got


def fastest_round(rounds: list[list[float]]) -> float:
    """A scale's time (the headline's method): each interpreter's median sample (its one
    build, or the median of its engines), the fastest interpreter."""
    return min(statistics.median(samples) for samples in rounds)


def fastest_sample(rounds: list[list[float]]) -> float:
    """A scale's time as the fastest sample of all its interpreters (given beside)."""
    return min(min(samples) for samples in rounds)


def median_of_medians(rounds: list[list[float]]) -> float:
    """A scale's time as the median of its interpreters' medians (the method before)."""
    return statistics.median(statistics.median(samples) for samples in rounds)


def first_sample(rounds: list[list[float]]) -> float:
    """The median over the rounds of each round's first sample (a user's only engine)."""
    return statistics.median(samples[0] for samples in rounds)


def _fit(
    scales: list[float],
    per_scale: list[list[dict[str, Any]]],
    step: str,
    kind: str,
    pick: Callable[[list[list[float]]], float],
) -> float:
    """The exponent of one step fitted to each scale's time as ``pick`` takes it from the
    scale's rounds' samples (``kind``: ``wall`` or ``cpu``)."""
    return exponent(scales, [pick([r[kind][step] for r in runs]) for runs in per_scale])


def _median_round(runs: list[dict[str, Any]], key: Callable[[dict[str, Any]], float]) -> Any:
    """The round whose ``key`` is the median (its other figures go with it)."""
    ordered = sorted(runs, key=key)
    return ordered[len(ordered) // 2]


def _round_ratios(got: dict[str, list[list[list[float]]]]) -> dict[str, Any]:
    """One case round's figures: each city's medians and the large city's over the small's."""
    flat = {side: [case for block in got[side] for case in block] for side in ("small", "large")}
    med = {
        side: {
            "wall": statistics.median(c[0] for c in cases),
            "cpu": statistics.median(c[1] for c in cases),
            "per_event": statistics.median(c[0] / c[2] for c in cases if c[2]),
            "events": statistics.median(c[2] for c in cases),
        }
        for side, cases in flat.items()
    }
    pairs = [
        statistics.median(c[0] for c in large) / statistics.median(c[0] for c in small)
        for small, large in zip(got["small"], got["large"], strict=True)
    ]
    return {
        "ratio": med["large"]["wall"] / med["small"]["wall"],
        "cpu": med["large"]["cpu"] / med["small"]["cpu"],
        "per_event": med["large"]["per_event"] / med["small"]["per_event"],
        "medians": med,
        # (quantiles needs two values: one block pair is its own quartiles)
        "block_quartiles": [
            round(q, 4) for q in (statistics.quantiles(pairs, n=4) if len(pairs) > 1 else pairs * 3)
        ],
    }


def _case_figure(
    small: float, large: float, cases: int, rounds: int, cities: list[dict[str, Any]]
) -> dict[str, object]:
    """``case_4x_over_1x``: ``rounds`` fresh interpreters, each timing the cases of both
    cities interleaved (:func:`measure_cases`); the median of the rounds' ratios."""
    got = [_round_ratios(_run_child(_CASE_CHILD, small, large, cases)) for _ in range(rounds)]
    ratios = [r["ratio"] for r in got]

    def across(side: str, what: str, scale: float = 1.0) -> float:
        return round(statistics.median(r["medians"][side][what] for r in got) * scale, 4)

    return figure(
        statistics.median(ratios),
        "",
        CASE_TARGET,
        f"median Engine.report_case at scale {large} over the median at {small}, both "
        f"cities in one interpreter, their cases interleaved in blocks of {BLOCK} "
        f"({cases} random compounds each; median of {rounds} fresh interpreters' ratios); "
        "cpu_value: the same on CPU times; per_event: the same on each case's time per event",
        baseline=1.0,
        baseline_what="the same cost in a bigger city",
        cpu_value=round(statistics.median(r["cpu"] for r in got), 4),
        per_event=round(statistics.median(r["per_event"] for r in got), 4),
        rounds=[round(v, 4) for v in ratios],
        rounds_cpu=[round(r["cpu"], 4) for r in got],
        spread=round(max(ratios) - min(ratios), 4),
        block_ratios=[r["block_quartiles"] for r in got],
        case_ms=[across("small", "wall", 1e3), across("large", "wall", 1e3)],
        case_cpu_ms=[across("small", "cpu", 1e3), across("large", "cpu", 1e3)],
        case_us_per_event=[across("small", "per_event", 1e6), across("large", "per_event", 1e6)],
        case_events=[[r["medians"][side]["events"] for r in got] for side in ("small", "large")],
        scales=cities,
    )


@benchmark("scaling")
def scaling(quick: bool) -> dict[str, dict[str, object]]:
    """Build, Engine(), pools, declare, lift and a case at 1x, 2x, 4x: fitted exponents."""
    scales = [0.25, 0.5, 1.0] if quick else [1.0, 2.0, 4.0]
    cases = 60 if quick else CASES
    repeats = 1 if quick else REPEATS
    rounds = 1 if quick else ROUNDS
    case_rounds = 1 if quick else ROUNDS_CASE
    builds = 1 if quick else BUILDS
    per_scale = _rounds(scales, repeats, rounds, builds)
    out: dict[str, dict[str, object]] = {}
    for name, label in (
        ("build", "building jiamusi(scale)"),
        ("engine", "Engine(city)"),
        ("pools", "engine.pools (staffing candidate pools)"),
        ("declare", "Engine.declare('urban'), every urban district of every tile"),
        ("lift", "Engine.lift(city, skip_recovery=True) after the declaration"),
    ):
        samples = builds if name == "build" else repeats
        sample = "build" if name == "build" else "engine (a new one on the same city)"

        def fit(kind: str, pick: Callable[[list[list[float]]], float], step: str = name) -> float:
            return round(_fit(scales, per_scale, step, kind, pick), 4)

        def per_round(kind: str, step: str = name) -> list[float]:
            return [
                round(
                    exponent(
                        scales, [statistics.median(runs[i][kind][step]) for runs in per_scale]
                    ),
                    4,
                )
                for i in range(rounds)
            ]

        def seconds(
            pick: Callable[[list[list[float]]], float], kind: str, step: str = name
        ) -> list[float]:
            return [round(pick([r[kind][step] for r in runs]), 4) for runs in per_scale]

        middle = [
            _median_round(runs, lambda r, step=name: statistics.median(r["wall"][step]))[
                "collector"
            ][name]
            for runs in per_scale
        ]
        first = (
            {}
            if name == "build"
            else {
                "first_engine_value": fit("wall", first_sample),
                "first_engine_cpu_value": fit("cpu", first_sample),
                "first_engine_cpu_seconds": seconds(first_sample, "cpu"),
            }
        )
        out[f"{name}_exponent"] = figure(
            _fit(scales, per_scale, name, "wall", fastest_round),
            "",
            EXPONENT_TARGET,
            f"k in time ~ scale**k for {label}, at scales {scales}, wall times (each "
            f"interpreter's median of {samples} {sample}{'s' if samples > 1 else ''}, the "
            f"fastest of {rounds} fresh interpreters per scale, the order of the scales turned "
            "each round); cpu_value: the same fit on CPU times; median_value, "
            "median_cpu_value: the same fits on the medians of the rounds (the method before); "
            "fastest_sample_value, fastest_sample_cpu_value: on each scale's fastest sample",
            baseline=1.0,
            baseline_what="linear scaling",
            cpu_value=fit("cpu", fastest_round),
            median_value=fit("wall", median_of_medians),
            median_cpu_value=fit("cpu", median_of_medians),
            fastest_sample_value=fit("wall", fastest_sample),
            fastest_sample_cpu_value=fit("cpu", fastest_sample),
            **first,
            rounds=per_round("wall"),
            rounds_cpu=per_round("cpu"),
            seconds=seconds(median_of_medians, "wall"),
            cpu_seconds=seconds(median_of_medians, "cpu"),
            fastest_seconds=seconds(fastest_round, "wall"),
            fastest_cpu_seconds=seconds(fastest_round, "cpu"),
            # Each interpreter's median, per scale, in the order run.
            runs_s=[
                [round(statistics.median(r["wall"][name]), 4) for r in runs] for runs in per_scale
            ],
            # Every sample: per scale, per interpreter, in the order run.
            samples_s=[
                [[round(t, 4) for t in r["wall"][name]] for r in runs] for runs in per_scale
            ],
            samples_cpu_s=[
                [[round(t, 4) for t in r["cpu"][name]] for r in runs] for runs in per_scale
            ],
            full_collections=[seen["full_collections"] for seen in middle],
            full_collections_s=[seen["full_collections_s"] for seen in middle],
        )
    facts = ("scale", "grids", "households", "sealed", "declare_events")
    cities = [{k: runs[0][k] for k in facts} for runs in per_scale]
    out["case_4x_over_1x"] = _case_figure(scales[0], scales[-1], cases, case_rounds, cities)
    return out

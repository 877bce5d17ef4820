"""Simulation at scale, and sweeps on processes and Dask.

``sim_scales``
    The 17 September scenario (``examples/scenarios/sept17.toml``), 60
    simulated days, on the Jiamusi preset at scales 1/8, 1/4, 1/2 and 1: wall
    time and peak memory of each run in a fresh interpreter (city built
    there too), started by a small probe interpreter of its own that reads
    its peak with ``RUSAGE_CHILDREN`` (on Linux a child forked from the big
    benchmark process would start from the parent's peak). The baseline is
    the quarter-scale run: the full/quarter time ratio shows whether time
    grows about linearly (target under 4.5).

``cliff``
    The aggressive scenario that once fell off a cliff: the 17 September
    scenario on Jiamusi at scale 0.2 with ``outbreak.within_compound = 2.5``
    (seven times its spread inside a compound) for 45 days, in a fresh
    interpreter under a probe (time, peak memory, cases). Target: under 60 s.
    Baseline: the same for 15 days, so the ratio shows how the time grows
    with the epidemic (a run three times as long with far more cases).

``sim_sweep``
    A sweep of 20 small runs (``examples/scenarios/small.toml``, 10 days):
    serially (the baseline), on 2 local processes, and on a Dask
    LocalCluster of 2 workers; the figures are seconds per run.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from benchmarks import benchmark, figure, probed

ROOT = Path(__file__).resolve().parent.parent
SEPT17 = ROOT / "examples" / "scenarios" / "sept17.toml"
SMALL = ROOT / "examples" / "scenarios" / "small.toml"

_RUN = """
import json, sys, time
from gridgov.sim.runner import run_scenario
from gridgov.sim.scenario import load_scenario
start = time.perf_counter()
values = {"city.scale": float(sys.argv[2]), **json.loads(sys.argv[3])}
scenario = load_scenario(sys.argv[1]).with_values(values)
result = run_scenario(scenario)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds,
                  "tickets": result.summary["tickets_opened"],
                  "cases": result.summary["cases_confirmed"],
                  "events": result.summary["events"],
                  "point_leads": result.summary["point_leads"]}))
"""


def _run(scale: float, **values: float) -> dict[str, float]:
    """One run in a fresh interpreter under a probe of its own (its peak memory is its own)."""
    output, peak = probed(_RUN, str(SEPT17), str(scale), json.dumps(values))
    got: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    got["peak_mb"] = peak
    return got


@benchmark("sim_scales")
def sim_scales(quick: bool) -> dict[str, dict[str, object]]:
    """The 17 September scenario at four scales of Jiamusi."""
    scales = (0.125, 0.25) if quick else (0.125, 0.25, 0.5, 1.0)
    runs = {scale: _run(scale) for scale in scales}
    quarter = runs[0.25]["seconds"]
    out: dict[str, dict[str, object]] = {}
    for scale, got in runs.items():
        out[f"scale_{scale:g}"] = figure(
            got["seconds"],
            "s",
            30.0 if scale == 1.0 else 30.0 * scale * 1.5,
            f"60 days of the 17 September scenario at scale {scale:g} (city build "
            "included), in a fresh interpreter",
            baseline=quarter,
            baseline_what="the same at scale 1/4",
            peak_mb=round(got["peak_mb"], 1),
            tickets=got["tickets"],
            point_leads=got["point_leads"],
            memory_target_mb=1500,
            memory_meets_target=got["peak_mb"] < 1500,
        )
    if 1.0 in runs:
        out["full_over_quarter"] = figure(
            runs[1.0]["seconds"] / quarter,
            "x",
            4.5,
            "time at full scale divided by time at a quarter (4 would be linear)",
        )
    return out


CLIFF_TARGET_S = 60.0


@benchmark("cliff")
def cliff(quick: bool) -> dict[str, dict[str, object]]:
    """The aggressive scenario (scale 0.2, within_compound 2.5, 45 days) against its 15 days."""
    aggressive = {"outbreak.within_compound": 2.5}
    long = _run(0.2, **aggressive, **{"run.days": 45})
    short = _run(0.2, **aggressive, **{"run.days": 15})
    return {
        "aggressive_scenario": figure(
            long["seconds"],
            "s",
            CLIFF_TARGET_S,
            "the 17 September scenario at scale 0.2, within_compound 2.5, 45 days (city build "
            f"included), fresh interpreter: {long['cases']:,} cases, {long['events']:,} events, "
            f"{long['tickets']:,} tickets",
            baseline=short["seconds"],
            baseline_what=f"the same for 15 days ({short['cases']:,} cases)",
            peak_mb=round(long["peak_mb"], 1),
            baseline_peak_mb=round(short["peak_mb"], 1),
        ),
    }


@benchmark("sim_sweep")
def sim_sweep(quick: bool) -> dict[str, dict[str, object]]:
    """20 small runs: serial vs 2 processes vs Dask LocalCluster(2)."""
    from gridgov.sim.scenario import load_scenario
    from gridgov.sim.sweep import Sweep, run_sweep

    runs = 8 if quick else 20
    scenario = load_scenario(SMALL).with_values({"run.days": 10})
    values = [round(0.5 + i * 0.5 / runs, 4) for i in range(runs)]
    sweep = Sweep(scenario, {"staffing.in_service_members": values}, replicates=1, name="bench")
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, options in (
            ("serial", {"workers": 1}),
            ("processes", {"workers": 2}),
            ("dask", {"dask": "local"}),
        ):
            start = time.perf_counter()
            run_sweep(sweep, Path(folder) / name, **options)  # type: ignore[arg-type]
            timings[name] = (time.perf_counter() - start) / runs
    serial = timings["serial"]
    return {
        name: figure(
            seconds,
            "s",
            serial * 2.0,
            f"seconds per run, {runs} small 10-day runs with run folders, {name}",
            baseline=serial,
            baseline_what="the same sweep run serially",
            overhead_per_run_s=round(seconds - serial / 2, 4) if name != "serial" else 0.0,
        )
        for name, seconds in timings.items()
    }

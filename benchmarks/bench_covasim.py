"""Covasim as the outbreak driver: what gridgov adds to a Covasim run.

``covasim_coupling``
    100,000 agents, 60 days (20,000 and 20 with ``--quick``), each run in a
    fresh interpreter (imports outside the timing, peak RSS of the whole
    process). The baseline is Covasim alone: the hybrid population, 20 agents
    infected on day 0, Covasim's symptomatic testing (``test_prob``,
    ``symp_prob=0.1``, one day to a result), stepped day by day. The coupled
    run is the same Covasim set-up driven by ``run_scenario`` with
    :class:`gridgov.sim.covasim.CovasimOutbreak` on the Jiamusi preset at
    scale 0.05 (170 compounds, about 51,800 households; city built inside the
    timing): diagnoses reported to the real engine, zones, staffing, the
    contact weights and mass tests of the intervention, the recorder.

    - ``coupled``: the coupling, residents' requests switched off (target: under
      1.25 x Covasim alone);
    - ``coupled_with_requests``: the same with the scenario's default request
      rates, so the closed loop of residents' tickets runs too (a gridgov
      feature of its own, reported for scale);
    - ``peak_rss``: peak memory of the coupled run (target: under 1.5 x Covasim
      alone's).

    The coupled epidemic is not Covasim alone's: sealing cuts it (both
    infection counts are printed). Each coupled figure carries the seconds
    spent in the intervention inside Covasim's steps and in gridgov's engine
    and runner outside them.

Skipped (one figure saying so) when the ``covasim`` extra is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks import benchmark, figure

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import contextlib, io, json, resource, sys, time
mode, agents, days = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with contextlib.redirect_stdout(io.StringIO()):
    import covasim as cv
import numpy as np
out = {}
if mode == "alone":
    start = time.perf_counter()
    sim = cv.Sim(pop_size=agents, pop_type="hybrid", pop_infected=20, beta=0.016, rand_seed=1,
                 n_days=days, verbose=0, interventions=[cv.test_prob(symp_prob=0.1, test_delay=1)])
    sim.init()
    for _ in range(days):
        sim.run_one_step()
    seconds = time.perf_counter() - start
    out["infections"] = 20 + int(sim.diseases.covid.results["new_infections"][:days].sum())
else:
    import gridgov.sim.covasim as gc
    from gridgov.sim.runner import run_scenario
    from gridgov.sim.scenario import Scenario
    spent = {"intervention": 0.0, "driver_step": 0.0, "driver_setup": 0.0}
    def timed(owner, name, key):
        inner = getattr(owner, name)
        def wrapper(*args, **kwargs):
            begin = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - begin
        setattr(owner, name, wrapper)
    timed(gc._classes()[0], "step", "intervention")
    timed(gc.CovasimOutbreak, "step", "driver_step")
    timed(gc.CovasimOutbreak, "_setup", "driver_setup")
    requests = "" if mode == "coupled_with_requests" else (
        "[requests.sealed]\nfood_supplies = 0\nmedicine = 0\ngarbage = 0\n"
        "[requests.controlled]\nfood_supplies = 0\nmedicine = 0\n")
    scenario = Scenario.from_toml(
        'version = 1\nname = "bench"\nseed = 1\n[city]\npreset = "jiamusi"\nscale = 0.05\n'
        '[outbreak]\ndriver = "covasim"\n[outbreak.options]\n'
        f'pop_size = {agents}\npop_infected = 20\nsymp_prob = 0.1\n'
        f'{requests}[run]\ndays = {days}\n')
    start = time.perf_counter()
    city = scenario.build_city()
    result = run_scenario(scenario, city=city, driver=gc.CovasimOutbreak)
    seconds = time.perf_counter() - start
    out["infections"] = result.summary["infections"]
    out["peak_compounds_sealed"] = result.summary["peak_compounds_sealed"]
    out["intervention_s"] = spent["intervention"]
    out["driver_setup_s"] = spent["driver_setup"]
    out["gridgov_outside_covasim_s"] = seconds - spent["driver_step"] - spent["driver_setup"]
out["seconds"] = seconds
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
print(json.dumps(out))
"""


def _run(mode: str, agents: int, days: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, str(agents), str(days)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median time, with every run's time beside it."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    middle = dict(ordered[len(ordered) // 2])
    middle["runs_s"] = [round(r["seconds"], 3) for r in runs]
    middle["seconds"] = statistics.median(r["seconds"] for r in runs)
    return middle


@benchmark("covasim_coupling")
def covasim_coupling(quick: bool) -> dict[str, dict[str, object]]:
    """Covasim alone vs Covasim driven through gridgov's engine, 100,000 agents, 60 days."""
    if importlib.util.find_spec("covasim") is None:
        return {
            "skipped": {
                "what": "covasim is not installed: pip install 'gridgov[covasim]'",
                "meets_target": True,
            }
        }
    agents, days, repeat = (20_000, 20, 1) if quick else (100_000, 60, 3)
    got = {
        mode: _median([_run(mode, agents, days) for _ in range(repeat)])
        for mode in ("alone", "coupled", "coupled_with_requests")
    }
    alone = got["alone"]
    size = f"{agents:,} agents, {days} days"
    out: dict[str, dict[str, object]] = {}
    for mode, what in (
        ("coupled", "Covasim driven through gridgov (engine, zones, staffing, intervention)"),
        ("coupled_with_requests", "the same with residents' requests through the closed loop"),
    ):
        run = got[mode]
        out[mode] = figure(
            run["seconds"],
            "s",
            round(alone["seconds"] * 1.25, 4),
            f"{what}, {size}, median of {repeat} fresh interpreters",
            baseline=alone["seconds"],
            baseline_what=f"Covasim alone, the same population, seeding and testing, {size}",
            runs_s=run["runs_s"],
            baseline_runs_s=alone["runs_s"],
            driver_setup_s=round(run["driver_setup_s"], 3),
            intervention_s=round(run["intervention_s"], 3),
            gridgov_outside_covasim_s=round(run["gridgov_outside_covasim_s"], 3),
            infections=run["infections"],
            baseline_infections=alone["infections"],
            peak_compounds_sealed=run["peak_compounds_sealed"],
            peak_mb=round(run["peak_mb"], 1),
        )
    out["peak_rss"] = figure(
        got["coupled"]["peak_mb"],
        "MB",
        round(alone["peak_mb"] * 1.5, 1),
        f"peak RSS of the coupled run's interpreter (imports included), {size}",
        baseline=alone["peak_mb"],
        baseline_what="peak RSS of Covasim alone's interpreter",
        with_requests_mb=round(got["coupled_with_requests"]["peak_mb"], 1),
    )
    return out

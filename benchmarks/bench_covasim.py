"""Covasim as the outbreak driver: what gridgov adds to a Covasim run.

``covasim_coupling``
    100,000 agents, 60 days (20,000 and 20 with ``--quick``), each run in a
    fresh interpreter (imports outside the timing, peak RSS of the whole
    process), in six rounds of the four runs in lock step: the four
    interpreters start together and take turns, one simulated day each (the
    set-up first), while the others wait, in the order alone, replay,
    coupled, with requests, and the reverse on every other day. The runs of
    each paired figure (replay and coupled, coupled and with requests) are
    always next to each other and each goes first on half the days, so a
    change of the machine's speed (other processes, a slow stretch of the
    host) falls on both runs of a pair within a second, not on one of two
    runs several seconds apart. Before the rounds, one untimed coupled run records the
    day-by-day contact factors and mass-test chances the replays are fed:

    - Covasim alone: the hybrid population, 20 agents infected on day 0,
      Covasim's symptomatic testing (``test_prob``, ``symp_prob=0.1``, one day
      to a result), stepped day by day; no intervention, so a bigger epidemic;
    - the coupled run: the same Covasim set-up driven by ``run_scenario`` with
      :class:`gridgov.sim.covasim.CovasimOutbreak` on the Jiamusi preset at
      scale 0.05 (170 compounds, about 51,800 households; the city is built
      before the timing, as an input): diagnoses reported to the real engine,
      zones, staffing, the contact weights and mass tests of the intervention,
      the recorder. It records the contact factor and mass-test chance of
      every compound on every day;
    - the replay: the same Covasim set-up with gridgov's intervention fed that
      record from a file instead of by the engine. Its epidemic is the coupled
      run's, infection for infection (checked), with none of gridgov's engine,
      city or agent map in the loop;
    - the coupled run with the scenario's default residents' requests.

    Every run reports its wall time and the CPU time of its timed part
    (``time.process_time`` in the child), each the sum over its slices (the
    waits between them left out), and the parent the child's whole CPU time
    (``resource.getrusage(RUSAGE_CHILDREN)``: start, imports and all). Wall
    time is what a user waits for and is the headline; on a loaded machine
    the CPU-time figures beside it (``cpu_value``, the same paired median on
    CPU times) show how much of a difference is load.

    Figures:

    - ``same_epidemic_overhead``: coupled / replay - 1, per round, median
      (target < 0.10); None when an epidemic differs from its replay;
    - ``requests_overhead``: with requests / without - 1, per round, median
      (target < 0.15);
    - ``coupled``, ``coupled_with_requests``: seconds, against Covasim alone
      (target: under 1.25 x Covasim alone, whose epidemic is bigger);
    - ``peak_rss``: peak memory of the coupled run (target: under 1.5 x Covasim
      alone's).

    Each coupled figure carries the seconds spent in the intervention inside
    Covasim's steps and in gridgov's engine and runner outside them.

Skipped (one figure saying so) when the ``covasim`` extra is not installed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import benchmark, figure

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import contextlib, io, json, resource, sys, time
mode, agents, days = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
gated = sys.argv[5] == "gated"
report = sys.stdout
# Slices of the timed part: [wall, CPU] each, ended at every gate.
slices = [[0.0, 0.0]]
clock = [0.0, 0.0]
def begin():
    # Ready (imports and the city done): wait for the parent's go, then time.
    if gated:
        print("@ready", file=report, flush=True)
        sys.stdin.readline()
    clock[:] = [time.perf_counter(), time.process_time()]
def gate():
    # The end of one slice (reported) and, at the parent's go, the start of the next.
    slices[-1] = [time.perf_counter() - clock[0], time.process_time() - clock[1]]
    if gated:
        print("@slice", file=report, flush=True)
        sys.stdin.readline()
        slices.append([0.0, 0.0])
    clock[:] = [time.perf_counter(), time.process_time()]
with contextlib.redirect_stdout(io.StringIO()):
    import covasim as cv
import numpy as np
out = {}
if mode == "alone":
    begin()
    sim = cv.Sim(pop_size=agents, pop_type="hybrid", pop_infected=20, beta=0.016, rand_seed=1,
                 n_days=days, verbose=0, interventions=[cv.test_prob(symp_prob=0.1, test_delay=1)])
    sim.init()
    for _ in range(days):
        gate()
        sim.run_one_step()
    gate()
    out["infections"] = 20 + int(sim.diseases.covid.results["new_infections"][:days].sum())
elif mode == "replay":
    # Covasim with gridgov's own intervention, fed the coupled run's day-by-day
    # contact factors and mass-test chances from a file instead of by the
    # engine: the same epidemic, with nothing of gridgov's engine in the loop.
    import gridgov.sim.covasim as gc
    saved = np.load(sys.argv[4])
    factors, tests = saved["factor"], saved["tests"]
    intervention_class, recorder_class = gc._classes()
    begin()
    sim = cv.Sim(dict(pop_size=agents, pop_type="hybrid", pop_infected=20, beta=0.016,
                      rand_seed=1, n_days=days, verbose=0),
                 interventions=[cv.test_prob(symp_prob=0.1, asymp_prob=0.0, test_delay=1),
                                intervention_class(gc.CUT_LAYERS, 1)],
                 analyzers=[recorder_class()])
    sim.init()
    replayed = sim.interventions["gridgov_zones"]
    import types
    agent_map = types.SimpleNamespace(compound=saved["compound"], compounds=range(factors.shape[1]))
    coupling = gc._Coupling(agent_map, gc.CovasimOptions())
    coupling.factor = np.ones(factors.shape[1])
    coupling.test_prob = np.zeros(factors.shape[1])
    replayed.coupling = coupling
    sim.analyzers["gridgov"].coupling = coupling
    for day in range(days):
        gate()
        coupling.factor = factors[day]
        coupling.test_prob = tests[day]
        sim.run_one_step()
    gate()
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
    # A slice ends as each day's step starts (outside the times above).
    driver_step = gc.CovasimOutbreak.step
    def gated_step(*args, **kwargs):
        gate()
        return driver_step(*args, **kwargs)
    gc.CovasimOutbreak.step = gated_step
    requests = "" if mode == "coupled_with_requests" else (
        "[requests.sealed]\nfood_supplies = 0\nmedicine = 0\ngarbage = 0\n"
        "[requests.controlled]\nfood_supplies = 0\nmedicine = 0\n")
    scenario = Scenario.from_toml(
        'version = 1\nname = "bench"\nseed = 1\n[city]\npreset = "jiamusi"\nscale = 0.05\n'
        '[outbreak]\ndriver = "covasim"\n[outbreak.options]\n'
        f'pop_size = {agents}\npop_infected = 20\nsymp_prob = 0.1\n'
        f'{requests}[run]\ndays = {days}\n')
    schedule = {"factor": [], "tests": []}
    if mode == "coupled_recorded":
        set_zones = gc.CovasimOutbreak._set_zones
        def recording(self, zones):
            set_zones(self, zones)
            schedule["factor"].append(self._coupling.factor.copy())
            schedule["tests"].append(self._coupling.test_prob.copy())
            schedule["compound"] = self.map.compound
        gc.CovasimOutbreak._set_zones = recording
    city_start = time.perf_counter()
    city = scenario.build_city()
    out["city_s"] = time.perf_counter() - city_start
    begin()
    result = run_scenario(scenario, city=city, driver=gc.CovasimOutbreak)
    gate()
    if mode == "coupled_recorded":
        np.savez(sys.argv[4], factor=np.array(schedule["factor"]),
                 tests=np.array(schedule["tests"]), compound=schedule["compound"])
    out["infections"] = result.summary["infections"]
    out["peak_compounds_sealed"] = result.summary["peak_compounds_sealed"]
    out["intervention_s"] = spent["intervention"]
    out["driver_setup_s"] = spent["driver_setup"]
out["seconds"] = sum(wall for wall, _ in slices)
out["cpu_s"] = sum(cpu for _, cpu in slices)
out["slices"] = len(slices)
if mode.startswith("coupled"):
    outside = out["seconds"] - spent["driver_step"] - spent["driver_setup"]
    out["gridgov_outside_covasim_s"] = outside
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
print("@end", json.dumps(out), file=report, flush=True)
"""


def _stop(child: subprocess.Popen[str]) -> None:
    """Kill ``child`` if it still runs."""
    if child.poll() is None:
        child.kill()


def _command(mode: str, agents: int, days: int, schedule: str, gated: bool) -> list[str]:
    """The command line of one child: gated children wait for the parent at each slice."""
    return [
        sys.executable,
        "-c",
        _CHILD,
        mode,
        str(agents),
        str(days),
        schedule or "-",
        "gated" if gated else "free",
    ]


def _read(child: subprocess.Popen[str], expected: tuple[str, ...]) -> str:
    """The child's next line starting with one of ``expected`` (other output skipped)."""
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith(expected):
            return line
    child.wait()
    raise RuntimeError(f"a benchmark child stopped (exit {child.returncode}) before {expected}")


def _run(mode: str, agents: int, days: int, schedule: str = "") -> dict[str, Any]:
    """One run on its own in a fresh interpreter (the recording)."""
    done = subprocess.run(
        _command(mode, agents, days, schedule, gated=False),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    end = [line for line in done.stdout.splitlines() if line.startswith("@end ")][-1]
    out: dict[str, Any] = json.loads(end[len("@end ") :])
    return out


def _round(
    modes: tuple[str, ...], agents: int, days: int, schedule: str, first: int
) -> dict[str, dict[str, Any]]:
    """One run of each mode, each in a fresh interpreter, in lock step.

    The children start together (imports and the city untimed), then take
    turns: each runs one slice (its set-up, then one simulated day each) while
    the others wait, in the order ``modes`` on even slices and reversed on odd
    ones (starting with the reversed order when ``first`` is odd). So every
    run of a day meets the same state of the machine as its neighbours' runs
    of that day, within a second or so, and load changes cancel in the pairs.
    """
    children: dict[str, subprocess.Popen[str]] = {}
    with contextlib.ExitStack() as stack:
        for mode in modes:
            children[mode] = stack.enter_context(
                subprocess.Popen(
                    _command(mode, agents, days, schedule if mode == "replay" else "", True),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=stack.enter_context(tempfile.TemporaryFile("w+")),
                    text=True,
                    cwd=ROOT,
                )
            )
            # A child left running (an error here) is stopped before it is waited for.
            stack.callback(_stop, children[mode])
        for mode in modes:
            _read(children[mode], ("@ready",))
        running = list(modes)
        out: dict[str, dict[str, Any]] = {}
        index = first
        while running:
            for mode in running if index % 2 == 0 else running[::-1]:
                child = children[mode]
                assert child.stdin is not None
                child.stdin.write("go\n")
                child.stdin.flush()
                line = _read(child, ("@slice", "@end "))
                if line.startswith("@end "):
                    out[mode] = json.loads(line[len("@end ") :])
            running = [mode for mode in running if mode not in out]
            index += 1
        for mode in modes:
            # Reaped one at a time: each child's own CPU, start and imports included.
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            children[mode].wait()
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            out[mode]["process_cpu_s"] = cpu
        return out


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median time, with every run's wall and CPU times beside it."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    middle = dict(ordered[len(ordered) // 2])
    middle["runs_s"] = [round(r["seconds"], 3) for r in runs]
    middle["runs_cpu_s"] = [round(r["cpu_s"], 3) for r in runs]
    middle["runs_process_cpu_s"] = [round(r["process_cpu_s"], 3) for r in runs]
    middle["seconds"] = statistics.median(r["seconds"] for r in runs)
    middle["cpu_s"] = statistics.median(r["cpu_s"] for r in runs)
    return middle


#: The four kinds of run, in the first round's order (reversed every other round):
#: each paired figure's two runs (replay and coupled, coupled and with requests)
#: next to each other.
MODES = ("alone", "replay", "coupled", "coupled_with_requests")


def _pairs(agents: int, days: int, repeat: int) -> dict[str, list[dict[str, Any]]]:
    """``repeat`` rounds of the four runs in lock step, so load changes hit each alike.

    One untimed coupled run first records its day-by-day contact factors and
    test chances (a file the replays read). Each round then runs Covasim
    alone, the replay of the record, the coupled run and the coupled run with
    residents' requests day by day in turn (:func:`_round`), in that order and
    in the reverse order on every other day (A B B A: the runs of each paired
    figure are neighbours, and each goes first on half the days).
    """
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory() as folder:
        schedule = str(Path(folder) / "schedule.npz")
        recorded = _run("coupled_recorded", agents, days, schedule)
        for index in range(repeat):
            got = _round(MODES, agents, days, schedule, index)
            for mode in MODES:
                runs[mode].append(got[mode])
    runs["recorded"] = [recorded]
    return runs


def _paired_overhead(
    runs: list[dict[str, Any]], bases: list[dict[str, Any]], key: str = "seconds"
) -> float:
    """The median over rounds of run / baseline - 1 (each ratio within one round)."""
    return statistics.median(r[key] / b[key] - 1 for r, b in zip(runs, bases, strict=True))


def _paired(runs: list[dict[str, Any]], bases: list[dict[str, Any]]) -> dict[str, Any]:
    """The paired figure on CPU time beside the wall-time one, and every round's ratios.

    (The children's whole CPU times, ``runs_process_cpu_s``, include starting
    Python, imports and, for coupled runs only, building the city: listed, not
    paired.)
    """
    pairs = list(zip(runs, bases, strict=True))
    return {
        "cpu_value": round(_paired_overhead(runs, bases, "cpu_s"), 4),
        "rounds": [round(r["seconds"] / b["seconds"] - 1, 4) for r, b in pairs],
        "rounds_cpu": [round(r["cpu_s"] / b["cpu_s"] - 1, 4) for r, b in pairs],
    }


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
    agents, days, repeat = (20_000, 20, 1) if quick else (100_000, 60, 6)
    runs = _pairs(agents, days, repeat)
    got = {mode: _median(runs[mode]) for mode in MODES}
    alone = got["alone"]
    size = f"{agents:,} agents, {days} days"
    out: dict[str, dict[str, object]] = {}
    infections = {r["infections"] for mode in ("coupled", "replay", "recorded") for r in runs[mode]}
    same = len(infections) == 1
    out["same_epidemic_overhead"] = figure(
        _paired_overhead(runs["coupled"], runs["replay"]) if same else None,
        "x",
        0.10,
        f"the coupled run's time over Covasim's on the same epidemic, minus 1, {size}, "
        f"median over {repeat} rounds of the two run in fresh interpreters, each round's "
        "four runs in lock step (one day each in turn, the order reversed every other "
        "day, the two runs neighbours) (None when the epidemics differ); "
        "cpu_value: the same on the CPU time of the timed parts",
        baseline=got["replay"]["seconds"],
        baseline_what=(
            "Covasim with gridgov's intervention fed the coupled run's recorded day-by-day "
            "contact factors and mass-test chances from a file (no engine, no city, no "
            "agent map): the same epidemic, every infection alike"
        ),
        **_paired(runs["coupled"], runs["replay"]),
        coupled_s=got["coupled"]["runs_s"],
        replay_s=got["replay"]["runs_s"],
        coupled_cpu_s=got["coupled"]["runs_cpu_s"],
        replay_cpu_s=got["replay"]["runs_cpu_s"],
        infections=[r["infections"] for r in runs["coupled"]],
        replay_infections=[r["infections"] for r in runs["replay"]],
    )
    with_requests = got["coupled_with_requests"]
    out["requests_overhead"] = figure(
        _paired_overhead(runs["coupled_with_requests"], runs["coupled"]),
        "x",
        0.15,
        "the coupled run with the scenario's default residents' requests over the same run "
        f"without them, minus 1, {size}, median over {repeat} rounds; cpu_value: the same "
        "on the CPU time of the timed parts",
        baseline=got["coupled"]["seconds"],
        baseline_what="the coupled run without requests, in the same rounds",
        **_paired(runs["coupled_with_requests"], runs["coupled"]),
        with_requests_s=with_requests["runs_s"],
        with_requests_cpu_s=with_requests["runs_cpu_s"],
        infections=with_requests["infections"],
        baseline_infections=got["coupled"]["infections"],
    )
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
            baseline_what=(
                f"Covasim alone (no intervention: a bigger epidemic), the same population, "
                f"seeding and testing, {size}"
            ),
            runs_s=run["runs_s"],
            baseline_runs_s=alone["runs_s"],
            cpu_s=round(run["cpu_s"], 4),
            baseline_cpu_s=round(alone["cpu_s"], 4),
            cpu_ratio=round(run["cpu_s"] / alone["cpu_s"], 4),
            runs_cpu_s=run["runs_cpu_s"],
            baseline_runs_cpu_s=alone["runs_cpu_s"],
            runs_process_cpu_s=run["runs_process_cpu_s"],
            baseline_runs_process_cpu_s=alone["runs_process_cpu_s"],
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

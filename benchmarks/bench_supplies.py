"""Supplies: one day's dispatch plan for the 17 September lockdown, min-cost flow against greedy.

The day: the Jiamusi preset under the 17 September rules, the two cases
reported, the whole urban area sealed (652 compounds) and staffed by the real
engine; the depots synthesised from ``gridgov/data/depots.toml`` (about 200);
each sealed household's daily rations as demand; the hands of each compound
from the building leads and volunteers the engine staffed there.

``supplies``
    ``plan_day``: seconds for :func:`gridgov.supplies.plan_dispatch` to plan
    that day (median of runs; target < 0.5 s). Baseline: the greedy reference
    planner (:func:`gridgov.supplies.plan_greedy`) on the same day.
    ``plan_vs_greedy_time``: the ratio of the two (target < 10).
    ``unmet_vs_greedy``: min-cost unmet kg / greedy unmet kg on the same day
    (target <= 1, given as < 1.0001); when neither leaves anything unmet the
    ratio is 1. ``unmet_vs_greedy_scarce``: the same day where capacity binds
    (see :func:`_day`): min-cost must leave less (0 when it leaves nothing and
    greedy does not).

``supplies_run``
    ``run_with_supplies``: a 60-day run of the 17 September scenario with
    supplies on (defaults, one min-cost dispatch a day), in seconds (median of
    5, interleaved with the baseline's runs so both see the same machine).
    Both runs take ``pause_gc=True``, as ``gridgov simulate`` runs them.
    Baseline: the same run without supplies; the figure's target is 1.3 x the
    baseline. ``run_ratio``: the median of the five pairs' ratios, each pair
    run back to back (target < 1.3); the ratio of the medians and of the
    minima are given beside it, and the same median ratio of the process's CPU
    seconds (``cpu_ratio``: others' load on a shared machine does not enter it).
"""

from __future__ import annotations

import functools
import math
import statistics
import time
from typing import Any

import attrs

from benchmarks import benchmark, figure
from gridgov import City, Engine, ManualClock
from gridgov.depots import synth_depots
from gridgov.sim._demo import demo_scenario_path
from gridgov.sim.runner import run_scenario
from gridgov.sim.scenario import Scenario, load_scenario
from gridgov.sim.supplies import SupplySpec
from gridgov.supplies import SupplyDay, SupplyNetwork, SupplyParams, plan_dispatch, plan_greedy

PLAN_DAY_TARGET_S = 0.5
PLAN_VS_GREEDY_TARGET = 10.0
RUN_RATIO_TARGET = 1.3


@functools.cache
def _scenario() -> Scenario:
    return load_scenario(demo_scenario_path())


@functools.cache
def _sealed_day() -> tuple[City, dict[str, str], dict[str, int]]:
    """The city, every compound's zone and each compound's hands (kg) on day 1."""
    scenario = _scenario()
    city = scenario.build_city()
    engine = Engine(city, scenario.rules, clock=ManualClock())
    for case in scenario.outbreak.cases:
        engine.report_case(case.compound)
    params = SupplyParams()
    hands: dict[str, int] = {}
    for row in engine.posts_report("compound"):
        kg = {"building_lead": params.building_lead_kg, "volunteer": params.volunteer_kg}
        hands[row["unit"]] = hands.get(row["unit"], 0) + row["filled"] * kg.get(row["role"], 0)
    return city, engine.zones(), hands


def _day(scarce: bool = False) -> tuple[SupplyNetwork, SupplyDay, int]:
    """The day's network and inputs.

    With ``scarce``, capacity binds: the depots of Dongfeng District (230805)
    are shut (no stock), so its sealed compounds depend on the city's
    warehouse and donations, which hold 10 % of their stock; elsewhere the
    shops of every other street are empty and the others full, and the grain
    stores are empty. Greedy serves the compounds of the emptied streets from
    the warehouse (as near as the next street's shop) before Dongfeng's turn.
    """
    city, zones, hands = _sealed_day()
    params = SupplyParams()
    depots = synth_depots(city)
    network = SupplyNetwork(city, depots, params)
    sealed = [c for c, z in zones.items() if z == "sealed"]
    demand = {
        c: {k: round(city.households(c) * params.ration(k)) for k in params.categories}
        for c in sealed
    }
    stock = {}
    for d in depots:
        if not scarce:
            share = 1.0
        elif d.id.startswith("230805"):
            share = 0.0
        elif d.serves == "city":
            share = 0.1
        elif d.kind == "grain_store":
            share = 0.0
        else:
            share = 1.0 if int(d.unit[-3:]) % 2 == 0 else 0.0
        stock[d.id] = {k: math.floor(v * share) for k, v in d.stock.items()}
    day = SupplyDay(stock=stock, demand=demand, hands={c: hands.get(c, 0) for c in sealed})
    return network, day, len(sealed)


def _median(fn: Any, repeat: int) -> tuple[float, list[float]]:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), runs


def _unmet_ratio(best: int, greedy: int) -> float:
    if greedy == 0:
        return 1.0 if best == 0 else math.inf
    return best / greedy


@benchmark("supplies")
def supplies(quick: bool) -> dict[str, Any]:
    network, day, sealed = _day()
    repeat = 3 if quick else 9
    plan_dispatch(network, day)  # warm caches (imports, first-use paths)
    best_s, best_runs = _median(lambda: plan_dispatch(network, day), repeat)
    greedy_s, greedy_runs = _median(lambda: plan_greedy(network, day), repeat)
    best = plan_dispatch(network, day)
    greedy = plan_greedy(network, day)
    scarce_network, scarce_day, _ = _day(scarce=True)
    scarce_best = plan_dispatch(scarce_network, scarce_day)
    scarce_greedy = plan_greedy(scarce_network, scarce_day)
    what_day = (
        f"plan_dispatch for one day of the 17 September lockdown: {sealed} sealed compounds, "
        f"{len(network.depots)} depots, 3 categories; median of {repeat}"
    )
    greedy_what = "plan_greedy (nearest depot first, compounds in order) on the same day"
    return {
        "plan_day": figure(
            best_s,
            "s",
            PLAN_DAY_TARGET_S,
            what_day,
            greedy_s,
            greedy_what,
            runs=[round(r, 4) for r in best_runs],
            greedy_runs=[round(r, 4) for r in greedy_runs],
            delivered_kg=best.delivered(),
            unmet_kg=best.unmet_kg(),
            binding_kg=best.binding_counts(),
        ),
        "plan_vs_greedy_time": figure(
            best_s / greedy_s, "x", PLAN_VS_GREEDY_TARGET, "plan_day / greedy time, same run"
        ),
        "unmet_vs_greedy": figure(
            _unmet_ratio(best.unmet_kg(), greedy.unmet_kg()),
            "x",
            1.0001,
            "min-cost unmet kg / greedy unmet kg on the same day (1 when both are 0)",
            min_cost_unmet_kg=best.unmet_kg(),
            greedy_unmet_kg=greedy.unmet_kg(),
        ),
        "unmet_vs_greedy_scarce": figure(
            _unmet_ratio(scarce_best.unmet_kg(), scarce_greedy.unmet_kg()),
            "x",
            1.0,
            "the same day with capacity binding (Dongfeng's depots shut, the city's at 10 %, "
            "every other street's shops empty): min-cost unmet / greedy unmet, < 1",
            min_cost_unmet_kg=scarce_best.unmet_kg(),
            greedy_unmet_kg=scarce_greedy.unmet_kg(),
            min_cost_binding_kg=scarce_best.binding_counts(),
            greedy_binding_kg=scarce_greedy.binding_counts(),
        ),
    }


@benchmark("supplies_run")
def supplies_run(quick: bool) -> dict[str, Any]:
    scenario = _scenario()
    days = 10 if quick else 60
    plain = scenario.with_values({"run.days": days})
    supplied = attrs.evolve(plain, supplies=SupplySpec())
    city = plain.build_city()
    # The city's pools and caches warm, and the planner's imports (scipy) done,
    # outside the timing.
    run_scenario(plain, city=city, pause_gc=True)
    run_scenario(supplied, city=city, pause_gc=True)
    repeat = 1 if quick else 5
    # Interleaved, so that both see the same machine (others' load drifts).
    without_runs: list[float] = []
    with_runs: list[float] = []
    # CPU seconds of this process beside the wall time: on a shared machine the
    # wall time also counts the time others held the CPUs.
    without_cpu: list[float] = []
    with_cpu: list[float] = []
    for _ in range(repeat):
        for runs, cpu, scenario in (
            (without_runs, without_cpu, plain),
            (with_runs, with_cpu, supplied),
        ):
            start = time.process_time()
            runs.append(_median(lambda s=scenario: run_scenario(s, city=city, pause_gc=True), 1)[0])
            cpu.append(time.process_time() - start)
    without_s, with_s = statistics.median(without_runs), statistics.median(with_runs)
    # Each pair ran back to back on the same machine: the ratio of a pair cancels
    # most of the others' load, and the median of the pairs' ratios is the figure.
    pair_ratios = [w / b for w, b in zip(with_runs, without_runs, strict=True)]
    result = run_scenario(supplied, city=city)
    return {
        "run_with_supplies": figure(
            with_s,
            "s",
            RUN_RATIO_TARGET * without_s,
            f"a {days}-day run of the 17 September scenario with supplies on "
            f"(one min-cost dispatch a day); median of {repeat}",
            without_s,
            "the same run without supplies",
            runs=[round(r, 3) for r in with_runs],
            baseline_runs=[round(r, 3) for r in without_runs],
            supplies_delivered=result.summary["supplies_delivered"],
            household_days_unsupplied=result.summary["household_days_unsupplied"],
        ),
        "run_ratio": figure(
            statistics.median(pair_ratios),
            "x",
            RUN_RATIO_TARGET,
            "run with supplies / run without: the median of the interleaved pairs' ratios",
            pair_ratios=[round(r, 3) for r in pair_ratios],
            ratio_of_medians=round(with_s / without_s, 3),
            ratio_of_minima=round(min(with_runs) / min(without_runs), 3),
            cpu_pair_ratios=[round(w / b, 3) for w, b in zip(with_cpu, without_cpu, strict=True)],
            cpu_ratio=round(
                statistics.median(w / b for w, b in zip(with_cpu, without_cpu, strict=True)), 3
            ),
        ),
    }

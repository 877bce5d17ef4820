"""The 17 September demo: the Jiamusi preset, two cases, the urban area sealed and staffed.

``gridgov demo`` plays the embedded scenario (``gridgov/data/sept17.toml``,
the same as ``examples/scenarios/sept17.toml``): two positive cases reported
in the urban districts, the whole urban area sealed at once under the 17
September rules, the response staffed (point leads, building leads, deployed
members, grid workers on front-line duty, volunteers), residents' requests
flowing through the closed loop, and the area stepping down to normal. It
prints the published figures beside the simulated ones and writes its run
folder and report.

The demo switches supplies on (``[supplies]`` with its defaults, the depots
synthesised from the documented ratios): every day the sealed households'
rations are dispatched from the depots by a min-cost flow and delivered by
the building leads, and the run folder gets ``supplies.csv``. The scenario
file itself has no ``[supplies]`` table, so ``gridgov simulate`` on it writes
the same ``metrics.csv`` as before. In the demo, deliveries fulfil the
residents' food and medicine tickets, so its closed-loop figures differ from
``gridgov simulate``'s; every other figure is the same.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from gridgov.presets import PUBLISHED
from gridgov.sim._labels import published_rows
from gridgov.sim.runner import RunResult, build_city, run_scenario
from gridgov.sim.supplies import SupplySpec

__all__ = ["demo_scenario_path", "figures", "published_rows", "run_demo"]


def demo_scenario_path() -> Path:
    """Where the embedded 17 September scenario file lies."""
    return Path(str(resources.files("gridgov") / "data" / "sept17.toml"))


def run_demo(out: Path | str | None = "gridgov-demo", *, progress: bool = False) -> dict[str, Any]:
    """Run the 17 September scenario; write its run folder and report to ``out``.

    Args:
        out: the folder for the run and ``report.html`` (None: write nothing).
        progress: show progress on standard error: a bar or a spinner on a
            terminal, else a line every few seconds.

    Returns:
        The figures :func:`figures` reports.
    """
    from gridgov._progress import Phase
    from gridgov.sim.scenario import load_scenario

    scenario = load_scenario(demo_scenario_path())
    if scenario.supplies is None:
        scenario = attrs.evolve(scenario, supplies=SupplySpec())
    with Phase("building the city", enabled=progress, label=scenario.name):
        city = build_city(scenario)
    result = run_scenario(scenario, city=city, progress=progress, pause_gc=True)
    out_path = None
    if out is not None:
        from gridgov.sim.report import write_report
        from gridgov.sim.results import write_run

        with Phase("writing the run folder and its plots", enabled=progress, label=scenario.name):
            out_path = write_run(result, Path(out))
        with Phase("writing the report", enabled=progress, label=scenario.name):
            write_report(out_path)
    figures_ = figures(result, city.summary())
    figures_["out"] = str(out_path) if out_path is not None else None
    return figures_


def figures(result: RunResult, city: dict[str, Any]) -> dict[str, Any]:
    """The demo's figures: the city's, the response's and the run's governance metrics."""
    summary = dict(result.summary)
    return {
        "grids": city["grids"],
        "grid_workers": city["grid_workers"],
        "households": city["households"],
        "point_leads": summary["point_leads"],
        "building_leads": summary["building_leads"],
        "deployed_members": summary["deployed_members"],
        "grid_workers_front_line": summary["grid_workers_front_line"],
        "volunteers": summary["volunteers"],
        "seal_to_point_lead_hours_p95": summary["seal_to_point_lead_hours_p95"],
        "tickets_opened": summary.get("tickets_opened", 0),
        "tickets_escalated": summary.get("tickets_escalated", 0),
        "household_days_sealed": summary["household_days_sealed"],
        "peak_compounds_sealed": summary["peak_compounds_sealed"],
        "cases_confirmed": summary["cases_confirmed"],
        "days_to_normal": summary.get("days_to_normal"),
        "supplies_delivered": summary.get("supplies_delivered"),
        "household_days_unsupplied": summary.get("household_days_unsupplied"),
        "supplies_latency_hours_p95": summary.get("supplies_latency_hours_p95"),
        "supplies_building_leads_requested": summary.get("supplies_building_leads_requested"),
        "published": PUBLISHED,
        "summary": summary,
    }

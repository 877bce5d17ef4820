"""Sealing single compounds vs the whole district, with Covasim as the epidemic.

One district (Xiangyang, 230803, of the Jiamusi preset at scale 0.1: 21
compounds, about 16,600 households) is modelled agent by agent in Covasim,
one agent a resident. Ten residents are infected unseen on day 0, and a case
is confirmed in 230803007001-C01 on day 3. Two policies, three seeds each:

* compound: the rules of practice (a case seals its compound, controls its
  grid, puts its community under precaution);
* district: a case seals every compound of its district at once.

Only one cadre in a hundred can be called on, so point leads run short and
some seals wait for theirs (partially sealed meanwhile, see docs/covasim.md).

Each run prints infections, household-days sealed, cadre-days (point and
building leads on post, summed over days), the time from a seal to its point
lead (p95, hours) and the compound-days a seal went without a point lead;
then the means, and a plot of both policies day by day.

Needs the extras: pip install 'gridgov[covasim,plot]'. About 30 s.

    python examples/covasim_policies.py [--plot PLOT.png]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

from gridgov.sim.covasim import CoupledRun, run_coupled
from gridgov.sim.scenario import Scenario

SCENARIO = """
version = 1
name = "covasim-{policy}"
seed = 1

[city]
preset = "jiamusi"
scale = 0.1

[rules.inline.case]
{rules}

[outbreak]
driver = "covasim"
cases = [{{ compound = "230803007001-C01", day = 3 }}]

[outbreak.options]
area = "230803"           # Covasim models this district's residents
pop_infected = 10         # infected unseen on day 0, anywhere in it

[staffing]
cadres = 0.01             # a strained organisation: one cadre in a hundred free

[run]
days = 60
"""

POLICIES = {
    "compound": 'seal = "compound"\ncontrol = "grid"\nprecaution = "community"\nalert = "street"',
    "district": 'seal = "district"\ncontrol = "off"\nprecaution = "off"\nalert = "city"',
}
SEEDS = (1, 2, 3)
COLUMNS = (
    ("infections", "infections"),
    ("household_days_sealed", "household-days sealed"),
    ("cadre_days", "cadre-days"),
    ("lead_hours_p95", "seal to point lead p95 (h)"),
    ("unled_compound_days", "compound-days without lead"),
)


def figures(run: CoupledRun) -> dict[str, Any]:
    """The comparison's figures of one run."""
    result = run.result
    leads = zip(
        result.column("posts_filled_point_lead"),
        result.column("posts_filled_building_lead"),
        strict=True,
    )
    return {
        "infections": run.covasim["infections"],
        "household_days_sealed": result.summary["household_days_sealed"],
        "cadre_days": sum(p + b for p, b in leads),
        "lead_hours_p95": result.summary["seal_to_point_lead_hours_p95"],
        "unled_compound_days": run.covasim["compound_days_sealed_unled"],
    }


def cell(value: Any) -> str:
    if value is None:
        return "-"
    return (
        f"{value:,.1f}" if isinstance(value, float) and not value.is_integer() else f"{value:,.0f}"
    )


def main(plot: Path) -> None:
    runs: dict[str, list[CoupledRun]] = {}
    for policy, rules in POLICIES.items():
        scenario = Scenario.from_toml(SCENARIO.format(policy=policy, rules=rules))
        runs[policy] = [run_coupled(scenario, seed=seed) for seed in SEEDS]
    widths = [10, 6] + [max(12, len(title)) for _, title in COLUMNS]
    header = ["policy", "seed", *(title for _, title in COLUMNS)]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for policy, done in runs.items():
        rows = [figures(run) for run in done]
        for seed, row in zip(SEEDS, rows, strict=True):
            values = [policy, str(seed), *(cell(row[key]) for key, _ in COLUMNS)]
            print("  ".join(v.rjust(w) for v, w in zip(values, widths, strict=True)))
        means = []
        for key, _ in COLUMNS:
            present = [row[key] for row in rows if row[key] is not None]
            means.append(cell(float(statistics.mean(present))) if present else "-")
        values = [policy, "mean", *means]
        print("  ".join(v.rjust(w) for v, w in zip(values, widths, strict=True)))
    draw(runs, plot)
    print(f"plot: {plot}")


def draw(runs: dict[str, list[CoupledRun]], path: Path) -> None:
    """Infectious agents and households sealed, day by day, mean over the seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for policy, done in runs.items():
        days = [row["day"] for row in done[0].daily]
        infectious = [
            statistics.mean(run.daily[d]["n_infectious"] for run in done) for d in range(len(days))
        ]
        sealed = [
            statistics.mean(run.result.column("households_sealed")[d] for run in done)
            for d in range(len(days))
        ]
        top.plot(days, infectious, label=policy)
        bottom.plot(days, sealed, label=policy)
    top.set_ylabel("infectious agents")
    bottom.set_ylabel("households sealed")
    bottom.set_xlabel("day")
    top.legend(title="sealing")
    top.set_title(f"Xiangyang District, Covasim, mean of {len(SEEDS)} seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Sealing single compounds vs the whole district, with Covasim as the "
        "epidemic: three seeds of each policy on one district (about 30 s).",
    )
    parser.add_argument(
        "--plot",
        type=Path,
        default=Path("covasim_policies.png"),
        help="where to write the plot (default: covasim_policies.png)",
    )
    return parser.parse_args()


if __name__ == "__main__":
    main(arguments().plot)

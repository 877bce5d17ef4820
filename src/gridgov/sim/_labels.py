"""How a run's figures are named and printed for people: labels, units, groups, numbers.

The summary of a run (``summary.json``) is keyed for programs
(``household_days_sealed``); the command line's tables and ``report.html``
show the same figures grouped (cases, measures, staffing, requests) and
labelled with their unit. Integers print as integers with thousands
separators, whole floats as integers (``27`` days, not ``27.0``), other
floats with at most three decimals, seeds without separators, a missing
value as ``-``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["GROUPS", "Figure", "figures", "format_value", "label", "published_rows"]

#: One figure: (summary key, label, unit).
Figure = tuple[str, str, str]

#: The figures of a run summary, by group, in the order shown.
GROUPS: dict[str, tuple[Figure, ...]] = {
    "Cases": (
        ("cases_confirmed", "Cases confirmed", "cases"),
        ("infections", "Infections drawn by the outbreak driver", "people"),
    ),
    "Measures": (
        ("peak_compounds_sealed", "Compounds sealed at the peak", "compounds"),
        ("peak_households_sealed", "Households sealed at the peak", "households"),
        ("household_days_sealed", "Household-days sealed", "household-days"),
        ("household_days_controlled", "Household-days controlled", "household-days"),
        ("days_to_normal", "First emergency to every community normal", "days"),
        ("final_communities_normal", "Communities in normal mode at the end", "communities"),
    ),
    "Staffing": (
        ("point_leads", "Point leads at the peak", "people"),
        ("building_leads", "Building leads at the peak", "people"),
        ("deployed_members", "In-service members deployed at the peak", "people"),
        ("grid_workers_front_line", "Grid workers on front-line duty at the peak", "people"),
        ("volunteers", "Volunteers at the peak", "people"),
        ("peak_shortfall_seats", "Posts short at the peak", "posts"),
        ("seal_to_point_lead_hours_p50", "Seal to point lead, median", "hours"),
        ("seal_to_point_lead_hours_p95", "Seal to point lead, 95th percentile", "hours"),
        ("seal_to_point_lead_hours_max", "Seal to point lead, longest", "hours"),
    ),
    "Requests": (
        ("tickets_opened", "Requests opened", "tickets"),
        ("tickets_closed", "Requests closed", "tickets"),
        ("tickets_overdue", "Requests overdue at a step", "tickets"),
        ("tickets_escalated", "Requests escalated", "tickets"),
        ("tickets_escalated_community", "Escalated to the community", "tickets"),
        ("tickets_escalated_street", "Escalated to the street", "tickets"),
        ("tickets_escalated_district", "Escalated to the district", "tickets"),
        ("tickets_escalated_city", "Escalated to the city", "tickets"),
    ),
    "Supplies": (
        ("supplies_delivered", "Supplies delivered", "kg"),
        ("household_days_unsupplied", "Household-days unsupplied", "household-days"),
        ("supplies_latency_hours_p95", "Supplies waited for, 95th percentile", "hours"),
        ("supplies_building_leads_requested", "Building leads asked for to deliver", "people"),
    ),
    "Run": (
        ("scenario", "Scenario", ""),
        ("seed", "Seed", ""),
        ("days", "Days simulated", "days"),
        ("events", "Events in the journal", "events"),
    ),
}

_LATENCY = "ticket_latency_hours_p95_"
_KNOWN = {key: (group, text, unit) for group, rows in GROUPS.items() for key, text, unit in rows}
#: Keys whose values are identifiers, printed without separators.
_PLAIN = {"seed", "scenario"}


def label(key: str) -> tuple[str, str, str]:
    """The group, label and unit of a summary key (unknown keys: group ``Other``)."""
    if key in _KNOWN:
        return _KNOWN[key]
    if key.startswith(_LATENCY):
        category = key.removeprefix(_LATENCY).replace("_", " ")
        return "Requests", f"Time to close {category}, 95th percentile", "hours"
    return "Other", key.replace("_", " ").capitalize(), ""


def figures(summary: Mapping[str, Any]) -> Iterator[tuple[str, list[tuple[str, str, Any]]]]:
    """The figures of a summary by group: (group, [(label, unit, value), ...]).

    Groups in the order of :data:`GROUPS`, then ``Other``; within a group the
    known figures in their order, then the rest sorted. Keys the summary lacks
    are left out; nested tables are flattened to ``key.sub``.
    """
    flat = dict(_flatten(summary))
    order = [key for rows in GROUPS.values() for key, _, _ in rows]
    rank = {key: index for index, key in enumerate(order)}
    grouped: dict[str, list[tuple[int, str, str, str, Any]]] = {}
    for key, value in flat.items():
        group, text, unit = label(key)
        grouped.setdefault(group, []).append((rank.get(key, len(order)), key, text, unit, value))
    for group in [*GROUPS, "Other"]:
        rows = sorted(grouped.get(group, []), key=lambda row: (row[0], row[1]))
        if rows:
            yield group, [(text, unit, value) for _, _, text, unit, value in rows]


def _flatten(value: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key in value:
        item = value[key]
        name = f"{prefix}{key}"
        if isinstance(item, Mapping):
            yield from _flatten(item, f"{name}.")
        else:
            yield name, item


def format_value(value: Any, key: str = "") -> str:
    """A value as people read it: ``3,112,974``, ``27``, ``118.5``, ``-`` for none.

    Args:
        value: the value.
        key: its summary key; seeds and names print as they are.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key in _PLAIN and isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            return str(number)
        if number.is_integer():
            return f"{int(number):,}"
        text = f"{number:,.3f}".rstrip("0").rstrip(".")
        return text if text not in ("0", "-0") else f"{number:.3g}"
    if isinstance(value, list | tuple):
        return ", ".join(format_value(v) for v in value)
    return str(value)


def published_rows(figures_: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The published figures beside the simulated ones: (figure, published, gridgov).

    The table ``gridgov demo`` prints and ``report.html`` of the demo leads
    with; numbers with thousands separators, published text as published.
    """
    from gridgov.presets import PUBLISHED

    published: dict[str, Any] = PUBLISHED
    grids = figures_["grids"]
    rows: list[tuple[str, Any, Any]] = [
        ("grids: urban", published["grids"]["urban"], grids["urban"]),
        ("grids: rural", published["grids"]["rural"], grids["rural"]),
        ("grids: exclusive", published["grids"]["exclusive"], grids["exclusive"]),
        ("grids: total", published["grids"]["total"], grids["total"]),
        ("grid workers", published["grid_workers"], figures_["grid_workers"]),
        ("households", "about 1.03 million", figures_["households"]),
        ("point leads (sealed compounds)", published["point_leads"], figures_["point_leads"]),
        ("building leads", "4,000+", figures_["building_leads"]),
        ("in-service members deployed", "10,000+", figures_["deployed_members"]),
    ]
    return [(name, format_value(then), format_value(now)) for name, then, now in rows]

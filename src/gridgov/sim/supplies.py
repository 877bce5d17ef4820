"""Supplies in a simulation: the ``[supplies]`` table of a scenario and the daily figures.

Supplies are off unless a scenario has a ``[supplies]`` table. When on, the
runner dispatches once a day (after the day's cases and step-downs) through
:meth:`gridgov.Engine.dispatch_supplies`, and writes one row a day to
``supplies.csv`` in the run folder (:data:`SUPPLY_COLUMNS`). The figures stay
out of ``metrics.csv`` on purpose: its columns, and its bytes for a scenario
without supplies, do not change.

The table (every key optional; the values shown are the defaults)::

    [supplies]
    depots = "auto"             # "auto": the city bundle's depots.csv if it has
                                # one, else "synth": depots from the ratios of
                                # gridgov/data/depots.toml; or a depots.csv path,
                                # relative to the scenario
    method = "min_cost"         # or "greedy" (the reference planner)
    distance = "chain"          # costs: links along the chain, or "geometry": straight
                                # lines between the shapes' centres (the geo extra;
                                # synthetic shapes for a preset)
    categories = ["medicine", "food", "daily_goods"]   # planning order
    checkpoint_kg_per_entrance = 4000
    building_lead_kg = 450      # kg a building lead carries to the doors a day
    volunteer_kg = 150
    hub_kg_per_household = 6.0  # a street hub's throughput per household of its street
    owed_days = 3               # demand owed this many days is written off
    stock_factor = 1.0          # scales every depot's starting stock
    restock_factor = 1.0        # ... its daily restock
    dispatch_factor = 1.0       # ... its dispatch capacity
    [supplies.ration_kg]        # kg per household per day
    medicine = 0.05
    food = 3.2
    daily_goods = 0.4
    [supplies.request_kg]       # kg one resident's request adds, by ticket category
    food_supplies = 5.0
    medicine = 0.5
"""

from __future__ import annotations

import contextlib
import difflib
import io
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from gridgov._gc import gc_paused
from gridgov.city import City
from gridgov.depots import load_depots, synth_depots
from gridgov.errors import DepotsError, MissingExtraError
from gridgov.model import Depot
from gridgov.sim._requests import ClosedLoopLoad
from gridgov.supplies import (
    BINDING,
    CATEGORIES,
    SupplyNetwork,
    SupplyParams,
    positions_from_geometry,
)
from gridgov.supply_book import percentile
from gridgov.vocabulary import HOT_ZONES

__all__ = [
    "COMPOUND_COLUMNS",
    "SUPPLIES_KEYS",
    "SUPPLY_COLUMNS",
    "SupplyDaily",
    "SupplySpec",
    "read_supplies",
    "supply_columns",
    "supply_map_png",
]

#: Keys of the ``[supplies]`` table.
SUPPLIES_KEYS = (
    "depots",
    "method",
    "distance",
    "categories",
    "checkpoint_kg_per_entrance",
    "building_lead_kg",
    "volunteer_kg",
    "hub_kg_per_household",
    "owed_days",
    "stock_factor",
    "restock_factor",
    "dispatch_factor",
    "ration_kg",
    "request_kg",
)

#: Zones whose households are supplied.
SUPPLIED = HOT_ZONES

#: Numbers of the table that are whole kilograms.
SUPPLIES_INTEGERS = ("checkpoint_kg_per_entrance", "building_lead_kg", "volunteer_kg")
#: Numbers of the table that are real numbers, 0 or more.
SUPPLIES_NUMBERS = ("hub_kg_per_household", "stock_factor", "restock_factor", "dispatch_factor")


def _default_params() -> SupplyParams:
    return SupplyParams()


@attrs.frozen
class SupplySpec:
    """A scenario's ``[supplies]`` table, resolved (see the module docstring)."""

    #: ``auto``, ``synth`` or the path of a depots.csv, as written.
    depots: str = "auto"
    #: ``min_cost`` or ``greedy``.
    method: str = "min_cost"
    #: ``chain`` (links along the chain) or ``geometry`` (straight-line distances).
    distance: str = "chain"
    #: Rations and capacities.
    params: SupplyParams = attrs.field(factory=_default_params)
    #: Scale factors on the depots' stock, restock and dispatch capacity.
    stock_factor: float = 1.0
    restock_factor: float = 1.0
    dispatch_factor: float = 1.0
    #: The depots read from ``depots`` (a CSV's rows); empty for ``synth``,
    #: which builds them from the city. Takes no part in equality.
    loaded: tuple[Depot, ...] = attrs.field(default=(), eq=False)

    def depots_for(self, city: City) -> tuple[Depot, ...]:
        """The depots of ``city`` with the factors applied."""
        if self.depots == "auto":
            base = city.depots or synth_depots(city)
        elif self.depots == "synth":
            base = synth_depots(city)
        else:
            base = self.loaded
        return tuple(
            attrs.evolve(
                d,
                stock={k: math.floor(v * self.stock_factor) for k, v in d.stock.items()},
                restock={k: math.floor(v * self.restock_factor) for k, v in d.restock.items()},
                dispatch=math.floor(d.dispatch * self.dispatch_factor),
            )
            for d in base
        )

    def network(self, city: City) -> SupplyNetwork:
        """The supply network of ``city`` by this table.

        Raises:
            MissingExtraError: ``distance = "geometry"`` without the geo extra.
        """
        positions = None
        if self.distance == "geometry":
            from gridgov.geo import synthesize

            positions = positions_from_geometry(city, synthesize(city))
        return SupplyNetwork(city, self.depots_for(city), self.params, positions)

    def to_table(self) -> dict[str, Any]:
        """The table as TOML-ready data (what :meth:`Scenario.to_toml` writes)."""
        p = self.params
        return {
            "depots": self.depots,
            "method": self.method,
            "distance": self.distance,
            "categories": list(p.categories),
            "checkpoint_kg_per_entrance": p.checkpoint_kg_per_entrance,
            "building_lead_kg": p.building_lead_kg,
            "volunteer_kg": p.volunteer_kg,
            "hub_kg_per_household": p.hub_kg_per_household,
            "owed_days": p.owed_days,
            "stock_factor": self.stock_factor,
            "restock_factor": self.restock_factor,
            "dispatch_factor": self.dispatch_factor,
            "ration_kg": dict(sorted(p.ration_kg.items())),
            "request_kg": dict(sorted(p.request_kg.items())),
        }


def read_supplies(
    table: Mapping[str, Any],
    problem: Any,
    city: City | None,
    base: Path,
    extra: list[Any],
) -> SupplySpec:
    """Read a ``[supplies]`` table, reporting problems through ``problem(path, message)``.

    Args:
        table: the table as parsed.
        problem: called with (key path, message) for each problem of the table.
        city: the scenario's city (to check a depots.csv against), if built.
        base: the folder a depots.csv path is relative to.
        extra: problems of the depots.csv (with its own lines) are added here.
    """
    default = SupplySpec()
    for key in table:
        if key not in SUPPLIES_KEYS:
            close = difflib.get_close_matches(key, SUPPLIES_KEYS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problem(
                ("supplies", key),
                f"unknown key ({hint}expected one of: {', '.join(SUPPLIES_KEYS)})",
            )
    depots, loaded = _read_depots(table, problem, city, base, extra)
    choices = {"method": ("min_cost", "greedy"), "distance": ("chain", "geometry")}
    chosen: dict[str, str] = {}
    for key, allowed in choices.items():
        value = table.get(key, getattr(default, key))
        if value not in allowed:
            problem(("supplies", key), f"unknown {key} {value!r} (expected {' or '.join(allowed)})")
            value = getattr(default, key)
        chosen[key] = value
    categories = table.get("categories", list(CATEGORIES))
    if (
        not isinstance(categories, list)
        or not categories
        or not all(isinstance(k, str) and k for k in categories)
        or len(set(categories)) != len(categories)
    ):
        problem(
            ("supplies", "categories"),
            f"must be a list of distinct category names, got {categories!r}",
        )
        categories = list(CATEGORIES)
    values, factors = _read_numbers(table, problem)
    ration = _read_kg(table, "ration_kg", None, problem)
    missing = [k for k in categories if k not in ration]
    if missing:
        problem(
            ("supplies", "categories"),
            f"category {missing[0]!r} has no ration (add it under [supplies.ration_kg])",
        )
    params = SupplyParams(
        categories=tuple(categories),
        ration_kg=ration,
        request_kg=_read_kg(table, "request_kg", ("food_supplies", "medicine"), problem),
        request_category={
            r: k for r, k in default.params.request_category.items() if k in categories
        },
        **values,
    )
    return SupplySpec(
        depots=depots,
        method=chosen["method"],
        distance=chosen["distance"],
        params=params,
        loaded=loaded,
        **factors,
    )


def _read_depots(
    table: Mapping[str, Any], problem: Any, city: City | None, base: Path, extra: list[Any]
) -> tuple[str, tuple[Depot, ...]]:
    depots = table.get("depots", SupplySpec().depots)
    if not isinstance(depots, str) or not depots:
        problem(
            ("supplies", "depots"),
            f"must be 'auto', 'synth' or the path of a depots.csv, got {depots!r}",
        )
        return SupplySpec().depots, ()
    if depots in ("auto", "synth"):
        return depots, ()
    path = base / depots
    if not path.is_file():
        problem(
            ("supplies", "depots"),
            f"no depots.csv at {str(path)!r} (expected 'auto', 'synth' or a file)",
        )
        return depots, ()
    try:
        return depots, load_depots(path, city)
    except DepotsError as exc:
        extra.extend(exc.problems)
        return depots, ()


def _is_kg(value: object) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and value >= 0
    )


def _read_numbers(
    table: Mapping[str, Any], problem: Any
) -> tuple[dict[str, Any], dict[str, float]]:
    """The whole-kg capacities, the hub's throughput and the factors."""
    values: dict[str, Any] = {}
    factors: dict[str, float] = {}
    for key in SUPPLIES_INTEGERS:
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                problem(
                    ("supplies", key), f"must be a whole number of kg, 0 or more, got {value!r}"
                )
            else:
                values[key] = value
    if "owed_days" in table:
        value = table["owed_days"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problem(
                ("supplies", "owed_days"),
                f"must be a whole number of days, 1 or more, got {value!r}",
            )
        else:
            values["owed_days"] = value
    for key in SUPPLIES_NUMBERS:
        if key in table:
            value = table[key]
            if not _is_kg(value):
                problem(("supplies", key), f"must be a finite number, 0 or more, got {value!r}")
            elif key == "hub_kg_per_household":
                values[key] = float(value)
            else:
                factors[key] = float(value)
    return values, factors


def _read_kg(
    table: Mapping[str, Any], key: str, known: tuple[str, ...] | None, problem: Any
) -> dict[str, float]:
    """A sub-table of kg per name over its defaults (``known``: the names allowed)."""
    out = dict(getattr(SupplySpec().params, key))
    if key not in table:
        return out
    sub = table[key]
    if not isinstance(sub, dict):
        problem(("supplies", key), f"must be a table of kg per category, got {sub!r}")
        return out
    for name, value in sub.items():
        if known is not None and name not in known:
            problem(
                ("supplies", key, name),
                f"unknown request category {name!r} (expected one of: {', '.join(known)})",
            )
        elif not _is_kg(value):
            problem(("supplies", key, name), f"must be kg, 0 or more, got {value!r}")
        else:
            out[name] = float(value)
    return out


def supply_columns(categories: Sequence[str]) -> tuple[str, ...]:
    """The columns of ``supplies.csv`` for these categories."""
    return (
        "day",
        "date",
        "compounds_supplied",
        *(f"demand_kg_{k}" for k in categories),
        *(f"delivered_kg_{k}" for k in categories),
        *(f"unmet_kg_{k}" for k in categories),
        *(f"household_days_unsupplied_{k}" for k in categories),
        *(f"expired_kg_{k}" for k in categories),
        *(f"household_days_expired_{k}" for k in categories),
        "tickets_fulfilled",
        "latency_hours_p50",
        "latency_hours_p95",
        *(f"unmet_kg_{b}" for b in BINDING),
        "binding",
        "building_leads_requested",
        *(f"stock_kg_{k}" for k in categories),
    )


#: The columns of ``supplies_compounds.csv``: the run's totals per compound.
COMPOUND_COLUMNS = ("compound", "household_days_unsupplied")


def supply_map_png(city: City, geometry: Any, unsupplied: Mapping[str, int]) -> bytes:
    """A map of the compounds that went unsupplied: household-days over the run.

    Compounds are drawn in the geometry's local projection, shaded by the
    household-days their households spent without at least one category;
    compounds that never lacked anything are light grey. The map frames the
    communities of the compounds that were supplied at all.

    Args:
        city: the city.
        geometry: its :class:`gridgov.geo.CityGeometry` (the ``geo`` extra).
        unsupplied: compound -> household-days (compounds that were supplied).

    Returns:
        PNG bytes (the ``plot`` extra: matplotlib).

    Raises:
        MissingExtraError: matplotlib or shapely is not installed.
    """
    import importlib

    importlib.import_module("gridgov.geo")  # MissingExtraError without shapely
    shapely = importlib.import_module("shapely")
    try:
        figure_module = importlib.import_module("matplotlib.figure")
        colormaps = importlib.import_module("matplotlib").colormaps
        importlib.import_module("matplotlib.backends.backend_agg")
    except ImportError as exc:
        raise MissingExtraError("matplotlib", "plot", exc) from None
    communities = sorted({city.compounds[c].community for c in unsupplied if c in city.compounds})
    shown = sorted(
        c for c, comp in city.compounds.items() if comp.community in communities and c in geometry
    )
    figure = figure_module.Figure(figsize=(7, 6), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    top = max([v for v in unsupplied.values()] + [1])
    cmap = colormaps["Reds"]
    for compound, shape in zip(shown, geometry.metric(shown), strict=True):
        value = unsupplied.get(compound, 0)
        colour = cmap(0.15 + 0.85 * value / top) if value else "#dfe5ec"
        for part in shapely.get_parts(shape):
            if part.geom_type != "Polygon":
                continue
            xs, ys = part.exterior.xy
            axes.fill(list(xs), list(ys), color=colour, linewidth=0.3, edgecolor="#5b6573")
    axes.set_aspect("equal")
    axes.set_axis_off()
    axes.set_title(f"Household-days unsupplied over the run (darkest: {top:,})")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


class _Tally:
    """A day's supply events added up per category (and per binding constraint),
    and which compounds got goods of each category (one pass over the events)."""

    def __init__(self, categories: Sequence[str], events: Sequence[Any]) -> None:
        self.demand = dict.fromkeys(categories, 0)
        self.delivered = delivered = dict.fromkeys(categories, 0)
        self.binding = dict.fromkeys(BINDING, 0)
        self.expired = dict.fromkeys(categories, 0)
        self.expired_days = dict.fromkeys(categories, 0)
        #: Hours waited -> kilograms delivered after that wait.
        self.waited: dict[float, int] = {}
        self.leads = 0
        #: Category -> the compounds a delivery of it reached, in event order.
        self.reached: dict[str, list[str]] = {}
        #: The time of the last delivery (None: nothing delivered).
        self.now: Any = None
        waited, reached = self.waited, self.reached
        now = None
        for event in events:
            kind = event.type
            data = event.data
            if kind == "supply.delivered":
                now = event.time
                unit = event.unit
                for category, kg in data["kg"].items():
                    delivered[category] = delivered.get(category, 0) + int(kg)
                    got = reached.get(category)
                    if got is None:
                        reached[category] = [unit]
                    else:
                        got.append(unit)
                for pairs in data["waited_hours"].values():
                    for h, kg in pairs:
                        hours = float(h)
                        waited[hours] = waited.get(hours, 0) + int(kg)
            elif kind == "supply.demanded":
                for per in data["compounds"].values():
                    _add(self.demand, per)
            elif kind == "supply.short":
                for per in data["binding"].values():
                    _add(self.binding, per)
            elif kind == "supply.expired":
                _add(self.expired, data["kg"])
                _add(self.expired_days, data["household_days"])
            elif kind == "supply.hands_requested":
                self.leads += int(data["people"])
        if now is not None:
            self.now = now


def _add(into: dict[str, int], amounts: Mapping[str, Any]) -> None:
    for key, value in amounts.items():
        into[key] = into.get(key, 0) + int(value)


#: The columns of ``supplies.csv`` for the default categories.
SUPPLY_COLUMNS = supply_columns(CATEGORIES)


class SupplyDaily:
    """Dispatches supplies once a day during a run and collects ``supplies.csv``'s rows.

    The residents' food and medicine requests are the run's own tickets: each
    one the closed loop opened since the last dispatch adds its ``request_kg``
    to its compound's demand, and when a delivery of its category reaches the
    compound, its open tickets of that category are taken to ``fed_back``
    (the residents then score them as usual).

    Args:
        spec: the scenario's ``[supplies]`` table.
        network: the supply network of the run's city (``spec.network(city)``).
        pause_gc: pause the cyclic garbage collector during each dispatch
            (process-wide: off unless the run asks).
    """

    def __init__(self, spec: SupplySpec, network: SupplyNetwork, pause_gc: bool = False) -> None:
        self.spec = spec
        self.pause_gc = pause_gc
        self.network = network
        self.categories = network.params.categories
        self.columns = supply_columns(self.categories)
        self.rows: list[tuple[Any, ...]] = []
        self.totals: dict[str, float] = {}
        #: Compound -> household-days without at least one category, over the run.
        self.by_compound: dict[str, int] = {}
        # Hours waited -> kilograms, over the run.
        self._waited: dict[float, int] = {}

    def dispatch(
        self,
        engine: Any,
        day: float,
        date: str,
        loop: ClosedLoopLoad | None = None,
        zones: Mapping[str, str] | None = None,
    ) -> tuple[Any, ...]:
        """Run the day's dispatch on ``engine`` and return (and keep) the day's row.

        ``loop`` is the run's closed loop (None: the scenario raises no requests):
        the tickets it opened add to demand, and deliveries fulfil them.
        ``zones`` are the compounds' zones now, if the caller has them (default:
        the engine's).

        On a day with no sealed or controlled compound and nothing owed there
        is no dispatch (and the depots' restock waits for a day with work).
        With ``pause_gc`` the cycle search of the garbage collector waits
        meanwhile: a dispatch makes thousands of short-lived objects (see
        :mod:`gridgov._gc`).
        """
        with gc_paused() if self.pause_gc else contextlib.nullcontext():
            return self._dispatch(engine, day, date, loop, zones)

    def _dispatch(
        self,
        engine: Any,
        day: float,
        date: str,
        loop: ClosedLoopLoad | None,
        zones: Mapping[str, str] | None,
    ) -> tuple[Any, ...]:
        params = self.network.params
        # Taken every day, so a day without dispatch drops its requests (nobody
        # is sealed: the residents can shop).
        requests: Mapping[str, Mapping[str, float]] = (
            loop.take_requests(params.request_category) if loop is not None else {}
        )
        if zones is None:
            zones = engine.zones()
        # Only how many: the zones counted in C, not a list of every compound a day.
        in_zone = Counter(zones.values())
        supplied = sum(in_zone[z] for z in SUPPLIED)
        if not supplied and not engine.supplies.owed():
            return self._row(engine, _Tally(self.categories, ()), 0, day, date, 0)
        requests = {c: per for c, per in requests.items() if zones.get(c) in SUPPLIED}
        result = engine.dispatch_supplies(method=self.spec.method, requests=requests)
        tally = _Tally(self.categories, result.events)
        fulfilled = 0
        if loop is not None:
            reached, now = tally.reached, tally.now
            for request, category in sorted(params.request_category.items()):
                if now is not None and reached.get(category):
                    fulfilled += loop.fulfil(reached[category], request, now)
        return self._row(engine, tally, supplied, day, date, fulfilled)

    def _row(
        self,
        engine: Any,
        tally: _Tally,
        supplied: int,
        day: float,
        date: str,
        fulfilled: int,
    ) -> tuple[Any, ...]:
        """The day's row from its events' tally; ``supplied``: the sealed and
        controlled compounds now."""
        categories = self.categories
        params = self.network.params
        demand, delivered, binding = tally.demand, tally.delivered, tally.binding
        expired, expired_days, waited, leads = (
            tally.expired,
            tally.expired_days,
            tally.waited,
            tally.leads,
        )
        book = engine.supplies
        owed = book.owed_by_compound()
        unmet = dict.fromkeys(categories, 0)
        unsupplied = dict.fromkeys(categories, 0)
        for compound, per in owed.items():
            households = self.network.households.get(compound, 0)
            lacking = 0
            for k, kg in per.items():
                unmet[k] = unmet.get(k, 0) + kg
                ration = params.ration(k)
                if ration > 0 and k in unsupplied:
                    short = min(households, math.ceil(kg / ration))
                    unsupplied[k] += short
                    lacking = max(lacking, short)
            # Households left without at least one category today (for the map).
            self.by_compound[compound] = self.by_compound.get(compound, 0) + lacking
        stock = book.stock()
        top = max(BINDING, key=lambda b: (binding[b], -BINDING.index(b)))
        p50 = percentile(waited.items(), 0.5)
        p95 = percentile(waited.items(), 0.95)
        for hours, kg in waited.items():
            self._waited[hours] = self._waited.get(hours, 0) + kg
        row = (
            day,
            date,
            supplied,
            *(demand[k] for k in categories),
            *(delivered[k] for k in categories),
            *(unmet[k] for k in categories),
            *(unsupplied[k] for k in categories),
            *(expired[k] for k in categories),
            *(expired_days[k] for k in categories),
            fulfilled,
            "" if math.isnan(p50) else round(p50, 3),
            "" if math.isnan(p95) else round(p95, 3),
            *(binding[b] for b in BINDING),
            top if binding[top] else "",
            leads,
            *(stock.get(k, 0) for k in categories),
        )
        for k in categories:
            self.totals[f"delivered_{k}"] = self.totals.get(f"delivered_{k}", 0) + delivered[k]
            self.totals[f"unsupplied_{k}"] = self.totals.get(f"unsupplied_{k}", 0) + unsupplied[k]
            self.totals[f"expired_{k}"] = self.totals.get(f"expired_{k}", 0) + expired_days[k]
        self.totals["leads"] = self.totals.get("leads", 0) + leads
        self.totals["fulfilled"] = self.totals.get("fulfilled", 0) + fulfilled
        self.rows.append(row)
        return row

    def summary(self) -> dict[str, Any]:
        """The run's supply figures for ``summary.json``."""
        categories = self.categories
        p95 = percentile(self._waited.items(), 0.95)
        binding_totals = dict.fromkeys(BINDING, 0)
        for row in self.rows:
            for b in BINDING:
                binding_totals[b] += int(row[self.columns.index(f"unmet_kg_{b}")])
        return {
            "supplies_method": self.spec.method,
            "supplies_depots": len(self.network.depots),
            "supplies_delivered": int(
                sum(self.totals.get(f"delivered_{k}", 0) for k in categories)
            ),
            **{
                f"supplies_delivered_{k}": int(self.totals.get(f"delivered_{k}", 0))
                for k in categories
            },
            "household_days_unsupplied": int(
                sum(self.totals.get(f"unsupplied_{k}", 0) for k in categories)
            ),
            **{
                f"household_days_unsupplied_{k}": int(self.totals.get(f"unsupplied_{k}", 0))
                for k in categories
            },
            "household_days_expired": int(
                sum(self.totals.get(f"expired_{k}", 0) for k in categories)
            ),
            "supplies_tickets_fulfilled": int(self.totals.get("fulfilled", 0)),
            "supplies_latency_hours_p95": None if math.isnan(p95) else round(p95, 3),
            "supplies_unmet_kg_by_binding": binding_totals,
            "supplies_building_leads_requested": int(self.totals.get("leads", 0)),
        }

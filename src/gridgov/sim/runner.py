"""The runner: drives the real engine through a scenario and collects daily metrics.

The simulation does not copy the engine's logic: it builds the scenario's
city, runs a real :class:`gridgov.Engine` on a manual clock, and at each step
feeds it the cases the outbreak driver confirms (each at its own time), lets
it switch modes and zones, staff and release posts, and step down as quiet
days pass. Residents' requests from sealed and controlled households run
through the closed loop's bulk path. At the end of each day it reads the
governance metrics off the engine and its events.

Same scenario and seed, same rows: every random draw comes from generators
seeded from the run's seed, and nothing reads the wall clock.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import attrs

from gridgov._progress import Phase, Progress
from gridgov.city import City
from gridgov.clock import EPOCH, ManualClock
from gridgov.engine import Engine
from gridgov.journal import Event
from gridgov.sim._requests import ClosedLoopLoad
from gridgov.sim.drivers import OutbreakDriver, make_driver
from gridgov.sim.scenario import Scenario
from gridgov.sim.supplies import SupplyDaily
from gridgov.staffing import response_counts_of
from gridgov.vocabulary import MODES, POOL_LEVELS, ROLES, TICKET_LEVELS, ZONES

__all__ = [
    "ARRIVAL_HOURS",
    "COLUMNS",
    "RunResult",
    "ScenarioRun",
    "build_city",
    "columns_for",
    "run_scenario",
]

_LEVELS = POOL_LEVELS[1:]
_TICKET_LEVELS = TICKET_LEVELS[1:]
# Where the people on emergency posts came from: the pool levels, a claim on
# the task board, or their own grid (front-line duty).
_FILL_LEVELS = (*POOL_LEVELS, "claim", "grid")

#: The metric columns, in order (``day`` first).
COLUMNS: tuple[str, ...] = (
    "day",
    "date",
    "cases_new",
    "cases_confirmed",
    "cases_total",
    *(f"communities_{m}" for m in MODES),
    *(f"compounds_{z}" for z in ZONES),
    *(f"households_{z}" for z in ZONES[1:]),
    "household_days_controlled",
    "household_days_sealed",
    *(f"posts_{what}_{role}" for role in ROLES for what in ("needed", "filled", "short")),
    *(f"posts_filled_from_{level}" for level in _FILL_LEVELS),
    *(f"reinforcements_{level}" for level in _LEVELS),
    "seal_to_point_lead_hours_p50",
    "seal_to_point_lead_hours_p95",
    "seal_to_point_lead_hours_max",
    "compounds_sealed_without_point_lead",
    "tickets_opened",
    "tickets_closed",
    "tickets_open",
    "tickets_overdue",
    *(f"tickets_escalated_{level}" for level in _TICKET_LEVELS),
    "tickets_escalated_on_score",
)


def columns_for(scenario: Scenario) -> tuple[str, ...]:
    """The metric columns of a run: :data:`COLUMNS` plus ticket latencies per category."""
    categories = sorted({c for rates in scenario.requests.values() for c in rates})
    latency = [
        f"ticket_latency_hours_{q}_{category}" for category in categories for q in ("p50", "p95")
    ]
    return (*COLUMNS, *latency)


@attrs.frozen
class RunResult:
    """What one run gives: daily metrics and a summary."""

    #: The scenario as resolved.
    scenario: Scenario
    #: The seed the run used.
    seed: int
    #: Names of the metric columns, ``day`` first.
    columns: tuple[str, ...]
    #: One row per simulated day, values in column order (ints, floats, strings).
    rows: tuple[tuple[Any, ...], ...]
    #: Figures of the whole run (JSON-friendly).
    summary: Mapping[str, Any]
    #: For each row, (day, zone of every compound not ``open``): what maps show.
    zone_days: tuple[tuple[Any, Mapping[str, str]], ...] = ()
    #: For each row, (day, mode of every community not ``normal``).
    mode_days: tuple[tuple[Any, Mapping[str, str]], ...] = ()
    #: Columns of ``supplies.csv`` (empty when the scenario has no ``[supplies]``).
    supply_columns: tuple[str, ...] = ()
    #: One row per day of supply figures, in ``supply_columns`` order.
    supply_rows: tuple[tuple[Any, ...], ...] = ()
    #: (compound, household-days unsupplied over the run) for every supplied compound.
    supply_compounds: tuple[tuple[str, int], ...] = ()

    def column(self, name: str) -> list[Any]:
        """The values of one metric, day by day."""
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def records(self) -> list[dict[str, Any]]:
        """The rows as dicts (e.g. for ``pandas.DataFrame(result.records())``)."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def build_city(scenario: Scenario) -> City:
    """The scenario's city, from its preset or bundle (made once per process and reused)."""
    return scenario.build_city()


#: Hours for a point lead to reach a sealed compound once named, by the pool
#: they were drawn from: the engine names a person at once when one is free,
#: but a cadre from the street or district office has further to come. The
#: seal-to-point-lead metric is the wait for a name plus this.
ARRIVAL_HOURS: dict[str, float] = {
    "community": 1.0,
    "big_party_committee": 2.0,
    "street": 3.0,
    "district": 6.0,
    "city": 12.0,
}


class _Watcher:
    """Counts what happens during a day, from the engine's events."""

    #: The event types it reads (it is handed only these: a day's supply
    #: dispatch alone records hundreds of others).
    TYPES = frozenset({"zone.changed", "post.assigned", "reinforcement.requested"})

    def __init__(self) -> None:
        self.sealed_at: dict[str, Any] = {}
        self.lead_delays: list[float] = []
        self.reinforcements: Counter[str] = Counter()

    def __call__(self, event: Event) -> None:
        if event.type == "zone.changed" and event.new == "sealed":
            self.sealed_at[event.unit] = event.time
        elif event.type == "post.assigned" and event.data.get("role") == "point_lead":
            sealed = self.sealed_at.pop(event.unit, None)
            if sealed is not None:
                named = (event.time - sealed).total_seconds() / 3600
                arrival = ARRIVAL_HOURS.get(str(event.data.get("level")), 0.0)
                self.lead_delays.append(named + arrival)
        elif event.type == "zone.changed" and event.old == "sealed":
            self.sealed_at.pop(event.unit, None)
        elif event.type == "reinforcement.requested":
            self.reinforcements[str(event.data.get("level"))] += int(event.data.get("requested", 0))


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = share * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def run_scenario(
    scenario: Scenario,
    *,
    seed: int | None = None,
    progress: bool = False,
    city: City | None = None,
    driver: Callable[[City, Scenario, int], OutbreakDriver] | None = None,
    pause_gc: bool = False,
) -> RunResult:
    """Run ``scenario`` on the real engine and collect its daily metrics.

    Args:
        scenario: the scenario.
        seed: the run's seed (default: the scenario's own).
        progress: show progress on standard error: a bar on a terminal, else a
            line every few seconds (``day 12/60, 3.1 s``).
        city: the city to run on instead of the scenario's own: any city
            (built in code, loaded from a bundle); the scenario's cases and
            areas are checked against it first.
        driver: a factory for another outbreak driver (default: the
            scenario's ``outbreak.driver``, from :mod:`gridgov.sim.drivers`).
        pause_gc: pause Python's cyclic garbage collector during the engine's
            bulk steps and the daily supply dispatch (process-wide, so off
            unless asked; the ``gridgov`` command asks, as it owns its process).

    Returns:
        The metrics, one row per day, and a summary.

    Raises:
        ScenarioError: the scenario does not fit the given city: every case
            at a compound the city lacks (at the case's file and line) and
            every area naming an unknown unit.
    """
    what = "setting up the run" if city is not None else "building the city and the engine"
    with Phase(what, enabled=progress, label=scenario.name):
        run = ScenarioRun(scenario, seed=seed, city=city, driver=driver, pause_gc=pause_gc)
    return run.run(progress=progress)


class ScenarioRun:
    """One run of a scenario, in named phases (:func:`run_scenario` is the short way).

    :meth:`__init__` sets the run up (city, engine on a manual clock, outbreak
    driver bound to the engine, residents' requests, staffing availability);
    :meth:`run` then takes every step (:meth:`step`: the outbreak's cases, the
    engine's clock, the requests) and closes every day (:meth:`close_day`: one
    row of metrics), and :meth:`summary` gives the figures of the whole run.

    Args:
        scenario: the scenario.
        seed: the run's seed (default: the scenario's own).
        city: the city to run on instead of the scenario's own (checked first).
        driver: a factory for another outbreak driver.
        pause_gc: see :func:`run_scenario`.

    Raises:
        ScenarioError: the scenario does not fit the given city.
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        seed: int | None = None,
        city: City | None = None,
        driver: Callable[[City, Scenario, int], OutbreakDriver] | None = None,
        pause_gc: bool = False,
    ) -> None:
        self.scenario = scenario
        self.seed = run_seed = scenario.seed if seed is None else seed
        if city is not None:
            scenario.check_city(city)  # any city: its cases and areas must fit it
        else:
            city = build_city(scenario)
        self.city = city
        self.clock = ManualClock(EPOCH)
        #: The daily supply dispatch (None when the scenario has no ``[supplies]``).
        self.supplies: SupplyDaily | None = None
        if scenario.supplies is not None:
            network = scenario.supplies.network(city)
            self.supplies = SupplyDaily(scenario.supplies, network, pause_gc=pause_gc)
        self.engine = engine = Engine(
            city,
            scenario.rules,
            self.clock,
            seed=run_seed,
            supplies=self.supplies.network if self.supplies is not None else None,
            pause_gc=pause_gc,
        )
        for case in scenario.outbreak.cases:
            engine.zone(case.compound)  # unknown compounds fail before the run
        self.outbreak = (
            driver(city, scenario, run_seed)
            if driver is not None
            else make_driver(city, scenario.outbreak, run_seed)
        )
        bind = getattr(self.outbreak, "bind", None)
        if bind is not None:  # a factory given by the caller may build a driver without one
            bind(engine)
        self.watcher = _Watcher()
        engine.subscribe(self.watcher, types=_Watcher.TYPES)
        self.columns = columns_for(scenario)
        self.categories = sorted({c for rates in scenario.requests.values() for c in rates})
        self.loop = (
            ClosedLoopLoad(city, scenario.rules.tickets, scenario.requests, run_seed)
            if self.categories
            else None
        )
        self._availability()
        step = scenario.run.step_hours / 24
        #: Days per step.
        self.step_days = step
        self.steps_per_day = max(1, round(1 / step)) if step < 1 else 1
        self.total_steps = math.ceil(scenario.run.days / step)
        self.households = {c: city.households(c) for c in city.compounds}
        #: Every compound's zone at the end of the last step.
        self.zones: Mapping[str, str] = {}
        self.rows: list[tuple[Any, ...]] = []
        #: For each row, (day, zone of every compound not ``open``).
        self.zone_days: list[tuple[Any, Mapping[str, str]]] = []
        #: For each row, (day, mode of every community not ``normal``).
        self.mode_days: list[tuple[Any, Mapping[str, str]]] = []
        self.household_days = {"sealed": 0.0, "controlled": 0.0}
        self.ticket_totals: Counter[str] = Counter()
        self.latencies: dict[str, list[float]] = {}
        self.confirmed_today = 0
        self.total_confirmed = 0
        self.infections_today = 0
        self.peaks: Counter[str] = Counter()
        self.first_emergency: float | None = None
        self.days_to_normal: float | None = None

    def _availability(self) -> None:
        staffing = self.scenario.staffing
        self.base_away = {
            "cadre": 1 - staffing.cadres,
            "in_service_member": 1 - staffing.in_service_members,
            "volunteer": 1 - staffing.volunteers,
            "grid_worker": 1 - staffing.grid_workers,
        }
        self.daily_availability = staffing.availability < 1.0
        if self.daily_availability or any(v > 0 for v in self.base_away.values()):
            self.engine.set_availability(
                _away(self.base_away, staffing.availability), seed=self.seed
            )

    def run(self, progress: bool = False) -> RunResult:
        """Take every step, close every day; the metrics and the summary."""
        supplies = self.supplies
        meter = Progress(
            self.total_steps,
            "day",
            enabled=progress,
            label=self.scenario.name,
            per_step=self.step_days,
        )
        with meter:
            for index in range(self.total_steps):
                self.step(index)
                meter.advance()
                if (index + 1) % self.steps_per_day == 0 or index + 1 == self.total_steps:
                    self.close_day(index)
        return RunResult(
            self.scenario,
            self.seed,
            self.columns,
            tuple(self.rows),
            self.summary(),
            tuple(self.zone_days),
            tuple(self.mode_days),
            supplies.columns if supplies is not None else (),
            tuple(supplies.rows) if supplies is not None else (),
            tuple(sorted(supplies.by_compound.items())) if supplies is not None else (),
        )

    def step(self, index: int) -> None:
        """Step ``index``: report the outbreak's cases, move the clock, run the requests."""
        engine, step = self.engine, self.step_days
        day = index * step
        # The cases confirmed at one time (a Covasim day's diagnoses) go in one
        # report_cases command: the events of report_case on each in turn.
        cases: list[str] = []
        for compound, when in self.outbreak.step(day, step, engine.zones()):
            at = EPOCH + timedelta(days=when)
            if at > self.clock.now():
                if cases:
                    engine.report_cases(cases)
                    cases = []
                engine.advance(at)
            cases.append(compound)
            self.confirmed_today += 1
        if cases:
            engine.report_cases(cases)
        self.infections_today += self.outbreak.new_infections
        engine.advance(EPOCH + timedelta(days=day + step))
        self.zones = zones = engine.zones()
        loop = self.loop
        if loop is not None:
            step_start = EPOCH + timedelta(days=day)
            loop.raise_requests(zones, step_start, step)
            # Rounds with no open ticket and no request coming do nothing
            # (nor draw anything): a step without either is skipped whole.
            if loop.busy():
                loop.update_capacity(engine)
                loop.run_rounds(step_start, step)
        for zone in self.household_days:
            self.household_days[zone] += step * sum(
                self.households[c] for c, z in zones.items() if z == zone
            )

    def close_day(self, index: int) -> None:
        """Record the day that ends with step ``index``: one row of metrics."""
        engine, step = self.engine, self.step_days
        day = index * step
        self.total_confirmed += self.confirmed_today
        modes = engine.modes()
        staffed = _Staffed(engine)
        row = _row(
            engine,
            self.watcher,
            self.zones,
            modes,
            staffed,
            self.households,
            self.household_days,
            (index + 1) * step - 1 if step < 1 else day,
            self.infections_today,
            self.confirmed_today,
            self.total_confirmed,
        ) + tuple(self._ticket_values())
        self.rows.append(row)
        self.zone_days.append((row[0], {c: z for c, z in self.zones.items() if z != "open"}))
        self.mode_days.append((row[0], {c: m for c, m in modes.items() if m != "normal"}))
        if self.supplies is not None:
            self.supplies.dispatch(engine, row[0], row[1], self.loop, self.zones)
        peaks = self.peaks
        for name in ("compounds_sealed", "households_sealed"):
            peaks[name] = max(peaks[name], row[COLUMNS.index(name)])
        for name, value in staffed.response_counts().items():
            peaks[name] = max(peaks[name], value)
        emergency = row[COLUMNS.index("communities_emergency")]
        if emergency and self.first_emergency is None:
            self.first_emergency = row[0]
        all_normal = row[COLUMNS.index("communities_normal")] == len(modes)
        if self.first_emergency is not None and self.days_to_normal is None and all_normal:
            self.days_to_normal = row[0] - self.first_emergency
        self.confirmed_today = 0
        self.infections_today = 0
        self.watcher.reinforcements.clear()
        if self.daily_availability:
            engine.set_availability(
                _away(self.base_away, self.scenario.staffing.availability),
                seed=self.seed * 1000 + len(self.rows),
            )

    def _ticket_values(self) -> list[Any]:
        """The day's ticket columns (and the day's counts added to the run's)."""
        loop = self.loop
        if loop is None:
            return [0] * (len(self.columns) - len(COLUMNS) + 9)
        today, latencies = loop.take_day()
        loop.compact()
        self.ticket_totals.update(today)
        for category, hours in latencies.items():
            self.latencies.setdefault(category, []).extend(hours)
        values: list[Any] = [
            today["opened"],
            today["closed"],
            loop.open_count(),
            today["overdue"],
            *(today[f"escalated_{level}"] for level in _TICKET_LEVELS),
            today["escalated_on_score"],
        ]
        for category in self.categories:
            got = latencies.get(category, [])
            values += [_blank(_percentile(got, 0.5)), _blank(_percentile(got, 0.95))]
        return values

    def summary(self) -> dict[str, Any]:
        """The figures of the whole run (so far)."""
        scenario, engine, peaks = self.scenario, self.engine, self.peaks
        delays = self.watcher.lead_delays
        summary = {
            "scenario": scenario.name,
            "seed": self.seed,
            "days": scenario.run.days,
            "infections": self.outbreak.infections,
            "cases_confirmed": self.total_confirmed,
            "household_days_sealed": round(self.household_days["sealed"], 3),
            "household_days_controlled": round(self.household_days["controlled"], 3),
            "peak_compounds_sealed": peaks["compounds_sealed"],
            "peak_households_sealed": peaks["households_sealed"],
            "point_leads": peaks["point_leads"],
            "building_leads": peaks["building_leads"],
            "deployed_members": peaks["deployed_members"],
            "grid_workers_front_line": peaks["grid_workers_front_line"],
            "volunteers": peaks["volunteers"],
            "peak_shortfall_seats": peaks["shortfall_seats"],
            "seal_to_point_lead_hours_p50": _json_number(_percentile(delays, 0.5)),
            "seal_to_point_lead_hours_p95": _json_number(_percentile(delays, 0.95)),
            "seal_to_point_lead_hours_max": _json_number(max(delays) if delays else math.nan),
            "events": len(engine.journal),
            "final_communities_normal": len(engine.in_mode("normal")),
            "days_to_normal": self.days_to_normal,
        }
        totals = self.ticket_totals
        escalated = sum(totals[f"escalated_{level}"] for level in _TICKET_LEVELS)
        summary.update(
            {
                "tickets_opened": totals["opened"],
                "tickets_closed": totals["closed"],
                "tickets_escalated": escalated + totals["escalated_on_score"],
                **{
                    f"tickets_escalated_{level}": totals[f"escalated_{level}"]
                    for level in _TICKET_LEVELS
                },
                "tickets_overdue": totals["overdue"],
                **{
                    f"ticket_latency_hours_p95_{c}": _json_number(_percentile(v, 0.95))
                    for c, v in sorted(self.latencies.items())
                },
            }
        )
        if self.supplies is not None:
            summary.update(self.supplies.summary())
        return summary


def _away(base: Mapping[str, float], availability: float) -> dict[str, float]:
    """Share away per kind: not drawn at all, or drawn but off that day."""
    return {
        kind: round(min(1.0, max(0.0, 1 - (1 - share) * availability)), 6)
        for kind, share in sorted(base.items())
    }


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 3)


class _Staffed:
    """The day's posts: seats needed and filled per role, read once from the roster."""

    def __init__(self, engine: Engine) -> None:
        roster = engine.roster
        self.roster = roster
        self.needed: Counter[str] = Counter()
        self.filled: Counter[str] = Counter()
        needed, filled = self.needed, self.filled
        # From the roster's rows: a StaffPost made per post per day was most of
        # what the daily row cost.
        for role, capacity, held in roster._needs():
            needed[role] += capacity
            filled[role] += held

    def response_counts(self) -> dict[str, int]:
        """What :meth:`Engine.response_counts` gives, from the seats filled per role.

        Every busy person holds one seat of their post, in the post's role
        (tests/test_runner.py checks it against the engine's counts day by day),
        so no :class:`~gridgov.staffing.Assignment` is made per busy person.
        """
        return response_counts_of(self.filled, self.roster)


def _row(
    engine: Engine,
    watcher: _Watcher,
    zones: Mapping[str, str],
    community_modes: Mapping[str, str],
    staffed: _Staffed,
    households: Mapping[str, int],
    household_days: Mapping[str, float],
    day: float,
    infections: int,
    confirmed: int,
    total_confirmed: int,
) -> tuple[Any, ...]:
    modes = Counter(community_modes.values())
    zone_counts = Counter(zones.values())
    zone_households: Counter[str] = Counter()
    for compound, zone in zones.items():
        zone_households[zone] += households[compound]
    needed, filled = staffed.needed, staffed.filled
    roster = staffed.roster
    delays = watcher.lead_delays
    # A sealed compound waits for its point lead while that post has no holder
    # (what Engine.commander_of reads, without its lock and checks per compound).
    holder_of = roster.holder_of
    waiting = sum(1 for c, z in zones.items() if z == "sealed" and not holder_of(f"{c}/point_lead"))
    date = (EPOCH + timedelta(days=day)).date().isoformat()
    values: list[Any] = [
        round(day, 6),
        date,
        infections,
        confirmed,
        total_confirmed,
        *(modes[m] for m in MODES),
        *(zone_counts[z] for z in ZONES),
        *(zone_households[z] for z in ZONES[1:]),
        round(household_days["controlled"], 3),
        round(household_days["sealed"], 3),
    ]
    for role in ROLES:
        values += [needed[role], filled[role], needed[role] - filled[role]]
    sources = roster.sources()
    values += [sources[level] for level in _FILL_LEVELS]
    values += [watcher.reinforcements[level] for level in _LEVELS]
    values += [
        _blank(_percentile(delays, 0.5)),
        _blank(_percentile(delays, 0.95)),
        _blank(max(delays) if delays else math.nan),
        waiting,
    ]
    return tuple(values)


def _blank(value: float) -> float | str:
    """NaN as an empty cell; other values rounded for stable output."""
    return "" if math.isnan(value) else round(value, 3)

"""Scenarios: what a simulated lockdown is made of.

A scenario names the city (a preset with its parameters), the rules (a rules
file, or a rules table inline), the outbreak (seed cases at given compounds
and times, or a CSV of dated cases to replay, and the built-in driver's
parameters), the staffing levels (scale factors on each pool, daily
availability), the request rates per sealed or controlled household per
category per day, the duration and step, and the random seed. Same scenario
and seed, same results, byte for byte.

The file format (TOML)::

    version = 1
    name = "sept17"
    seed = 17

    [city]
    preset = "jiamusi"        # a preset of gridgov.presets
    scale = 1.0               # share of the published size
    seed = 0                  # the preset's own seed

    [rules]
    path = "../rules/sept17.toml"   # relative to the scenario file; or inline:
    # [rules.inline.case] seal = "urban" ...

    [outbreak]
    driver = "compound"       # the built-in compound-level model ("covasim": an extra)
    cases = [{ compound = "230803001001-C01", day = 0.0 }]
    # cases_csv = "cases.csv" # columns: day, compound (replayed as reported)
    within_compound = 0.35    # infections per infectious case per day, same compound
    neighbour = 0.02          # ... per case, each other compound of the same grid/community
    street = 0.002            # ... each other compound of the street
    district = 0.0002         # ... each other compound of the district
    sealed_factor = 0.1       # pressure out of/into a sealed compound is cut to this share
    controlled_factor = 0.4
    infectious_days = 7.0
    detection_delay_days = 2.0

    [staffing]                # scale factors on each pool, and daily availability
    cadres = 1.0
    in_service_members = 1.0
    volunteers = 1.0
    availability = 1.0

    [requests.sealed]         # requests per household per day, by category
    food_supplies = 0.02
    medicine = 0.005
    [requests.controlled]
    food_supplies = 0.005

    [run]
    days = 60
    step_hours = 24
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import attrs

from gridgov.rules import Rules

__all__ = [
    "CityChoice",
    "OutbreakSpec",
    "RunSpec",
    "Scenario",
    "SeedCase",
    "StaffingLevels",
]


@attrs.frozen
class CityChoice:
    """Which city a scenario runs on."""

    #: A preset name of :data:`gridgov.presets.PRESETS`.
    preset: str = "jiamusi"
    #: Share of the published size (presets that take a scale).
    scale: float = 1.0
    #: The preset's own seed.
    seed: int = 0


@attrs.frozen
class SeedCase:
    """One confirmed case given by the scenario (not drawn by the driver)."""

    #: The compound of the case.
    compound: str
    #: When it is reported, in days from the start.
    day: float = 0.0


@attrs.frozen
class OutbreakSpec:
    """The outbreak: seed cases and the built-in driver's parameters."""

    #: ``compound`` (built in) or ``replay`` (the given cases only) or ``covasim``.
    driver: str = "compound"
    #: Cases given by the scenario (from ``cases`` or the rows of ``cases_csv``).
    cases: tuple[SeedCase, ...] = ()
    #: The CSV the cases came from, if any (as written in the file).
    cases_csv: str | None = None
    #: New infections per infectious case per day in its own compound.
    within_compound: float = 0.35
    #: ... in each other compound of its grid or community.
    neighbour: float = 0.02
    #: ... in each other compound of its street.
    street: float = 0.002
    #: ... in each other compound of its district.
    district: float = 0.0002
    #: Share of the pressure left in and out of a sealed compound.
    sealed_factor: float = 0.1
    #: Share of the pressure left in and out of a controlled compound.
    controlled_factor: float = 0.4
    #: Days a case stays infectious.
    infectious_days: float = 7.0
    #: Days from infection to the case being confirmed and reported.
    detection_delay_days: float = 2.0
    #: Parameters of an external driver (e.g. Covasim's), passed through.
    options: Mapping[str, object] = attrs.field(factory=dict)


@attrs.frozen
class StaffingLevels:
    """Scale factors on each pool and the share available on a given day."""

    cadres: float = 1.0
    in_service_members: float = 1.0
    volunteers: float = 1.0
    grid_workers: float = 1.0
    #: Share of everyone available on any one day.
    availability: float = 1.0


def _default_requests() -> dict[str, dict[str, float]]:
    return {
        "sealed": {"food_supplies": 0.02, "medicine": 0.005, "garbage": 0.01},
        "controlled": {"food_supplies": 0.005, "medicine": 0.002},
    }


@attrs.frozen
class RunSpec:
    """How long and in what steps."""

    #: Simulated days.
    days: int = 60
    #: Hours per step (24: one step a day).
    step_hours: int = 24


@attrs.frozen
class Scenario:
    """A validated scenario (see the module docstring for the file format)."""

    #: A short name, used for run folders.
    name: str = "scenario"
    #: The random seed of the run.
    seed: int = 0
    city: CityChoice = attrs.field(factory=CityChoice)
    #: The rules, already loaded and validated.
    rules: Rules = attrs.field(factory=Rules.default)
    #: Where the rules came from ("<inline>" or the path as written).
    rules_source: str = "<default>"
    outbreak: OutbreakSpec = attrs.field(factory=OutbreakSpec)
    staffing: StaffingLevels = attrs.field(factory=StaffingLevels)
    #: Requests per household per day: zone -> category -> rate.
    requests: Mapping[str, Mapping[str, float]] = attrs.field(factory=_default_requests)
    run: RunSpec = attrs.field(factory=RunSpec)
    #: The folder relative paths in the file were resolved against.
    base: Path = attrs.field(factory=Path.cwd, eq=False)

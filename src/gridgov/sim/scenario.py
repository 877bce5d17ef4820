"""Scenarios: what a simulated lockdown is made of.

A scenario names the city (a preset with its parameters), the rules (a rules
file, or a rules table inline), the outbreak (seed cases at given compounds
and times, or a CSV of dated cases to replay, and the built-in driver's
parameters), the staffing levels (scale factors on each pool, daily
availability), the request rates per household per zone per category per day,
the duration and step, and the random seed. Same scenario and seed, same
results, byte for byte.

The file format (TOML; every key and table optional, a missing one takes the
value shown)::

    version = 1
    name = "sept17"           # used for run folders (default: the file's name)
    seed = 17                 # the run's random seed, 0 or more

    [city]
    preset = "jiamusi"        # a preset of gridgov.presets ("jiamusi", "small")
    scale = 1.0               # share of the published size, in (0, 7] (jiamusi only;
                              # above 1 a megacity of tiled districts)
    seed = 0                  # the preset's own seed
    # path = "../cities/lakeside"   # or a city bundle (a folder with city.toml),
                                    # relative to the scenario file; not with preset

    [rules]
    path = "../rules/sept17.toml"   # relative to the scenario file; or inline:
    # [rules.inline.case]           # a whole rules file under [rules.inline]
    # seal = "urban"                # (not both; neither: the default rules)

    [outbreak]
    driver = "compound"       # "compound" (built in), "replay" (the cases only), "covasim"
    cases = [{ compound = "230803007001-C01", day = 0.0 }]
    # cases_csv = "cases.csv" # instead of cases: columns day, compound (a header row)
    within_compound = 0.35    # infections per infectious case per day, same compound
    neighbour = 0.02          # ... per case, each other compound of the same grid/community
    street = 0.002            # ... each other compound of the street
    district = 0.0002         # ... each other compound of the district
    sealed_factor = 0.1       # pressure out of/into a sealed compound is cut to this share
    controlled_factor = 0.4
    infectious_days = 7.0
    detection_delay_days = 2.0
    [outbreak.options]        # passed through to an external driver (e.g. covasim)

    [staffing]                # shares of each pool taking part, and daily availability
    cadres = 1.0
    in_service_members = 1.0
    volunteers = 1.0
    grid_workers = 1.0
    availability = 1.0

    [requests.sealed]         # requests per household per day, by ticket category;
    food_supplies = 0.02      # categories left out keep these defaults (0 switches one off)
    medicine = 0.005
    garbage = 0.01
    [requests.controlled]
    food_supplies = 0.005
    medicine = 0.002

    [run]
    days = 60                 # simulated days
    step_hours = 24           # hours per step; divides a day

A cases CSV (UTF-8, a header row naming at least ``day`` and ``compound``, in
any order; other columns are ignored)::

    day,compound
    0,230803007001-C01
    0.5,230804007001-C02

Validation (:func:`load_scenario`, :meth:`Scenario.from_toml`) collects every
problem at once, each as ``file:line: key.path: what is wrong``
(:class:`gridgov.errors.Problem`): unknown keys, wrong types, an unsupported
version, a name unusable as a folder, negative seeds, an unknown preset, a
scale out of range or given to a preset without one, a city ``path`` that is
no city bundle or a bundle with problems (its own problems, at the bundle's
files and lines), ``path`` together with ``preset``, an unknown driver, rates
below 0, shares and factors outside [0, 1], durations that are not positive
(the detection delay may be 0), cases on days outside the run, a run of no
days, a step that does not divide a day, and what would be unbounded: a run
of more than 3,660 days (ten years), a spread rate above 50 infections per
infectious case per day, a request rate above 10 per household per day, an
infectious period or detection delay above 365 days (``MAX_DAYS``,
``MAX_SPREAD_RATE``, ``MAX_REQUEST_RATE``, ``MAX_DURATION_DAYS``), request zones and categories the
rules do not know, ``[rules] path`` together with ``[rules.inline]``, a rules
file that is missing or invalid (its problems with the rules file's own
lines), inline rules with problems (at the scenario's lines, key
``rules.inline...``), area ids and case compounds the built city lacks, and a
cases CSV that is missing, unreadable or malformed (bad header, bad day,
unknown compound: at the CSV's own lines, key ``day``, ``compound`` or
``(header)``).

The city is built once per process for each (preset, seed, scale), or loaded
once per bundle, and kept: :meth:`Scenario.build_city` gives the same object
to the runner.
"""

from __future__ import annotations

import copy
import csv
import functools
import inspect
import io
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from gridgov._toml import (
    Document,
    KeyPath,
    Reader,
    compact_number,
    did_you_mean,
    dumps,
    format_number,
    format_string,
    line_of,
    ordered,
    read_text,
    render_key,
    render_tail,
    resolve_path,
)
from gridgov.city import City
from gridgov.errors import PresetError, Problem, RulesError, ScenarioError
from gridgov.presets.jiamusi import MAX_SCALE
from gridgov.rules import Rules, load_rules, read_rules
from gridgov.sim.drivers import driver_names
from gridgov.sim.supplies import SupplySpec, read_supplies
from gridgov.vocabulary import ZONES

__all__ = [
    "DRIVERS",
    "CityChoice",
    "OutbreakSpec",
    "RunSpec",
    "Scenario",
    "SeedCase",
    "StaffingLevels",
    "load_scenario",
]

#: The largest seed (of a run or of a preset): seeds are 64-bit.
MAX_SEED = 2**63 - 1
#: The most seed cases a scenario (or its cases CSV) may give.
MAX_CASES = 100_000

#: The built-in outbreak drivers a scenario may name: ``compound`` (the
#: compound-level model), ``replay`` (the given cases only, nothing drawn),
#: ``covasim`` (an adapter, an extra). Others join with
#: :func:`gridgov.sim.drivers.register_driver`.
DRIVERS = driver_names()


@attrs.frozen
class CityChoice:
    """Which city a scenario runs on: a preset, or a city bundle."""

    #: A preset name of :data:`gridgov.presets.PRESETS`.
    preset: str = "jiamusi"
    #: Share of the published size (presets that take a scale).
    scale: float = 1.0
    #: The preset's own seed.
    seed: int = 0
    #: The city bundle's folder (absolute once validated), instead of the preset.
    path: str | None = None


@attrs.frozen
class SeedCase:
    """One confirmed case given by the scenario (not drawn by the driver)."""

    #: The compound of the case.
    compound: str
    #: When it is reported, in days from the start.
    day: float = 0.0
    #: Where the case was written (file and line, 0 when unknown), so that a
    #: case that does not fit a city can be placed; takes no part in equality.
    where: tuple[str, int, str] = attrs.field(default=("<scenario>", 0, "compound"), eq=False)


@attrs.frozen
class OutbreakSpec:
    """The outbreak: seed cases and the built-in driver's parameters."""

    #: ``compound`` (built in) or ``replay`` (the given cases only) or ``covasim``.
    driver: str = "compound"
    #: Cases given by the scenario (from ``cases`` or the rows of ``cases_csv``).
    cases: tuple[SeedCase, ...] = ()
    #: The CSV the cases came from, if any (as written in the file). Takes no
    #: part in equality: the cases themselves do.
    cases_csv: str | None = attrs.field(default=None, eq=False)
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

    #: Share of the cadres (point and building leads) taking part.
    cadres: float = 1.0
    #: Share of the in-service party members who go down to their communities.
    in_service_members: float = 1.0
    #: Share of the volunteers taking part.
    volunteers: float = 1.0
    #: Share of the grid workers taking part.
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
    """A validated scenario (see the module docstring for the file format).

    Build one with :func:`load_scenario` or :meth:`from_toml` (validated), or
    field by field in code (not validated). Two scenarios are equal when they
    say the same thing: where the rules and cases came from (``rules_source``,
    ``outbreak.cases_csv``) and ``base`` take no part.
    """

    #: A short name, used for run folders.
    name: str = "scenario"
    #: The random seed of the run.
    seed: int = 0
    city: CityChoice = attrs.field(factory=CityChoice)
    #: The rules, already loaded and validated.
    rules: Rules = attrs.field(factory=Rules.default)
    #: Where the rules came from ("<inline>", "<default>" or the path as written).
    rules_source: str = attrs.field(default="<default>", eq=False)
    outbreak: OutbreakSpec = attrs.field(factory=OutbreakSpec)
    staffing: StaffingLevels = attrs.field(factory=StaffingLevels)
    #: Requests per household per day: zone -> category -> rate.
    requests: Mapping[str, Mapping[str, float]] = attrs.field(factory=_default_requests)
    run: RunSpec = attrs.field(factory=RunSpec)
    #: Supplies for sealed households (None: off, the scenario has no ``[supplies]``).
    supplies: SupplySpec | None = None
    #: The folder relative paths in the file were resolved against.
    base: Path = attrs.field(factory=Path.cwd, eq=False)

    @classmethod
    def from_toml(
        cls,
        text: str,
        source: str = "<string>",
        base: str | os.PathLike[str] | None = None,
    ) -> Scenario:
        """Read and validate a scenario from the text of a TOML file.

        Builds the scenario's city (once per process, see :meth:`build_city`)
        to check the compounds and area ids named against it.

        Args:
            text: the TOML document (format in the module docstring).
            source: the file name used in problems.
            base: the folder that relative paths (rules, cases CSV) are
                resolved against; the current folder when None.

        Returns:
            The validated scenario; keys the text leaves out take their defaults.

        Raises:
            ScenarioError: every problem of the scenario, of its rules file and
                of its cases CSV, each with its own file and line.
        """
        document = ScenarioDocument.parse(text, source, Path.cwd() if base is None else Path(base))
        scenario, problems = resolve(document)
        if scenario is None:
            raise ScenarioError(problems)
        return scenario

    def to_toml(self) -> str:
        """Write the scenario as resolved: a self-contained TOML document.

        The rules are written in full under ``[rules.inline]`` and the cases
        listed under ``outbreak.cases`` (a CSV is read in), so the text
        needs no other file, and :meth:`from_toml` reads it back equal.

        Returns:
            The TOML text, ending with a newline.
        """
        outbreak = self.outbreak
        outbreak_table: dict[str, Any] = {
            "driver": outbreak.driver,
            "cases": [
                {"compound": c.compound, "day": compact_number(c.day)} for c in outbreak.cases
            ],
            **{key: compact_number(getattr(outbreak, key)) for key in _OUTBREAK_NUMBERS},
        }
        if outbreak.options:
            outbreak_table["options"] = dict(outbreak.options)
        requests: dict[str, dict[str, int | float]] = {}
        defaults = _default_requests()
        for zone in sorted({*self.requests, *defaults}, key=_zone_order):
            rates = dict(self.requests.get(zone, {}))
            # A category the file leaves out takes its default: write a 0 for
            # each one this scenario lacks, so that it reads back meaning the same.
            for category in defaults.get(zone, {}):
                rates.setdefault(category, 0.0)
            requests[zone] = {c: compact_number(r) for c, r in rates.items()}
        document = {
            "version": 1,
            "name": self.name,
            "seed": self.seed,
            "city": (
                {"path": self.city.path}
                if self.city.path is not None
                else {
                    "preset": self.city.preset,
                    "scale": compact_number(self.city.scale),
                    "seed": self.city.seed,
                }
            ),
            "outbreak": outbreak_table,
            "staffing": {
                key: compact_number(getattr(self.staffing, key)) for key in _STAFFING_KEYS
            },
            "requests": requests,
            "run": {"days": self.run.days, "step_hours": self.run.step_hours},
        }
        if self.supplies is not None:
            document["supplies"] = self.supplies.to_table()
        document["rules"] = {"inline": self.rules.to_table()}
        comments = []
        if outbreak.cases_csv is not None:
            comments.append(f"cases replayed from {outbreak.cases_csv}")
        if self.rules_source not in ("<inline>", "<default>"):
            comments.append(f"rules from {self.rules_source}")
        return dumps(document, comments)

    def warnings(self) -> list[str]:
        """What this valid scenario will do that its author may not expect.

        Returns:
            One line per warning, ``key.path: what will happen`` (empty when none):
            a scenario with no cases on a driver that draws none of its own
            runs every day quiet.
        """
        found = []
        if not self.outbreak.cases and self.outbreak.driver in ("compound", "replay"):
            found.append(
                f"outbreak.cases: the scenario gives no cases, so nothing happens: "
                f"{self.run.days} quiet days on {self.city.preset} "
                "(give outbreak.cases or outbreak.cases_csv)"
            )
        return found

    def build_city(self) -> City:
        """The city this scenario runs on.

        Built once per process for each (preset, seed, scale), or loaded once
        per bundle and kept until one of the bundle's files changes (its
        size, inode or times), since a city is immutable: validation
        and the runner share it.

        Raises:
            PresetError: the preset cannot be built with these parameters.
            CityError: the city bundle has problems.
            KeyError: the preset is unknown (a validated scenario never has one).
        """
        if self.city.path is not None:
            return _load_bundle(self.city.path)
        return _build_city(self.city.preset, self.city.seed, self.city.scale)

    def check_city(self, city: City) -> None:
        """Check that this scenario fits ``city``: its cases and its rules' areas.

        Args:
            city: any city (e.g. one built in code, not the scenario's own).

        Raises:
            ScenarioError: every case whose compound the city lacks, at the
                case's own file and line, and every area id of the rules
                that names no unit of the city.
        """
        problems = [
            Problem(*case.where, _unknown_compound(case.compound, city, hint=i < _MAX_HINTS))
            for i, case in enumerate(
                c for c in self.outbreak.cases if c.compound not in city.compounds
            )
        ]
        problems.extend(self.rules.check_against(city.chain))
        if problems:
            raise ScenarioError(problems)

    def with_values(self, values: Mapping[str, object]) -> Scenario:
        """This scenario with some keys set to new values, validated again.

        Args:
            values: dotted keys of the file format and their new values, e.g.
                ``{"run.days": 5, "outbreak.within_compound": 0.2}``. Paths
                among them (``rules.path``, ``outbreak.cases_csv``) are resolved
                against :attr:`base`; setting one replaces the inline rules or
                cases.

        Returns:
            The new scenario.

        Raises:
            ScenarioError: a key is malformed or a value breaks the format
                (file ``<values>``, line 0, the key as given).
        """
        document = ScenarioDocument.parse(self.to_toml(), f"<{self.name}>", self.base)
        overrides = []
        problems = []
        for key, value in values.items():
            path = parse_key(key)
            if path is None:
                problems.append(Problem("<values>", 0, key, _BAD_KEY))
            else:
                overrides.append(Override(path, value, "<values>", 0, key))
        if problems:
            raise ScenarioError(problems)
        scenario, problems = resolve(document, overrides)
        if scenario is None:
            raise ScenarioError(problems)
        # Where the rules and cases came from still holds unless a value replaced them.
        touched = {o.path[:2] for o in overrides} | {o.path[:1] for o in overrides}
        if not touched & {("rules",), ("rules", "path"), ("rules", "inline")}:
            scenario = attrs.evolve(scenario, rules_source=self.rules_source)
        cases = {("outbreak",), ("outbreak", "cases"), ("outbreak", "cases_csv")}
        if not touched & cases:
            outbreak = attrs.evolve(scenario.outbreak, cases_csv=self.outbreak.cases_csv)
            scenario = attrs.evolve(scenario, outbreak=outbreak)
        return scenario


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and validate a scenario file.

    Args:
        path: the TOML file (UTF-8; format in the module docstring); relative
            paths inside it are resolved against its folder.

    Returns:
        The validated scenario.

    Raises:
        ScenarioError: the file cannot be read or decoded (one problem), is
            not TOML (one problem at the line of the syntax error), or has
            problems (every one, with the rules file's and the cases CSV's own
            lines for theirs).
    """
    source = os.fspath(path)
    text = read_text(source, ScenarioError, kind="scenario")
    return Scenario.from_toml(text, source=source, base=Path(source).parent)


# ------------------------------------------------------------------ keys


_SEED_RANGE = f"from 0 to {MAX_SEED} (2**63 - 1)"

#: The message for a dotted key that is not one.
_BAD_KEY = "not a dotted key of the scenario format (e.g. 'outbreak.within_compound')"

_TOP_KEYS = (
    "version",
    "name",
    "seed",
    "city",
    "rules",
    "outbreak",
    "staffing",
    "requests",
    "run",
    "supplies",
)
_CITY_KEYS = ("preset", "scale", "seed", "path")
_RULES_KEYS = ("path", "inline")
_RATES = ("within_compound", "neighbour", "street", "district")
_FACTORS = ("sealed_factor", "controlled_factor")
_OUTBREAK_NUMBERS = (*_RATES, *_FACTORS, "infectious_days", "detection_delay_days")
_OUTBREAK_KEYS = ("driver", "cases", "cases_csv", *_OUTBREAK_NUMBERS, "options")
_CASE_KEYS = ("compound", "day")
_STAFFING_KEYS = ("cadres", "in_service_members", "volunteers", "grid_workers", "availability")
_RUN_KEYS = ("days", "step_hours")
_CSV_COLUMNS = ("day", "compound")

# Keys of which a file may give one only; setting one drops the other.
_EXCLUSIVE: dict[KeyPath, KeyPath] = {
    ("rules", "path"): ("rules", "inline"),
    ("rules", "inline"): ("rules", "path"),
    ("outbreak", "cases"): ("outbreak", "cases_csv"),
    ("outbreak", "cases_csv"): ("outbreak", "cases"),
}

_NAME = re.compile(r"\w[\w.-]*")

# Hints ("did you mean") compare against every compound; past this many
# unknown compounds in one file they stop, to keep a bad CSV fast to report.
_MAX_HINTS = 20


def parse_key(key: str) -> KeyPath | None:
    """The key path of a dotted key (``"outbreak.within_compound"``), None if malformed."""
    parts = tuple(key.split("."))
    if not all(_NAME.fullmatch(part) for part in parts):
        return None
    return parts


def _zone_order(zone: str) -> tuple[int, str]:
    return (-ZONES.index(zone) if zone in ZONES else 1, zone)


# ------------------------------------------------------------- documents


@attrs.frozen
class ScenarioDocument:
    """A parsed scenario file and the folder its relative paths are resolved against.

    Machinery shared with :mod:`gridgov.sim.sweep`; not part of the public API.
    """

    #: The parsed file.
    toml: Document
    #: The folder relative paths (rules, cases CSV) are resolved against.
    base: Path

    @property
    def data(self) -> Mapping[str, Any]:
        """The data ``tomllib`` gives."""
        return self.toml.data

    @property
    def lines(self) -> Mapping[KeyPath, int]:
        """The line of each key path."""
        return self.toml.lines

    @property
    def source(self) -> str:
        """The file name used in problems."""
        return self.toml.source

    @classmethod
    def parse(cls, text: str, source: str, base: Path) -> ScenarioDocument:
        """Parse a scenario file's text.

        Raises:
            ScenarioError: the text is not TOML (one problem, at its line).
        """
        return cls(Document.parse(text, source, ScenarioError), base)


@attrs.frozen
class Override:
    """A value set over a document, and where it was written (e.g. a sweep file).

    Machinery shared with :mod:`gridgov.sim.sweep`; not part of the public API.
    """

    #: The key path the value is set at.
    path: KeyPath
    #: The value, as ``tomllib`` would give it.
    value: Any
    #: The file the value was written in.
    file: str
    #: Its line there (0 when unknown).
    line: int
    #: The key to report problems of this value under, e.g. ``parameters."run.days"[1]``.
    key: str


# ------------------------------------------------------------------ cities


@functools.lru_cache(maxsize=2)
def _build_city(preset: str, seed: int, scale: float) -> City:
    from gridgov.presets import PRESETS

    factory: Callable[..., City] = PRESETS[preset]
    if _takes_scale(factory):
        return factory(seed=seed, scale=scale)
    return factory(seed=seed)


def _load_bundle(path: str) -> City:
    """The bundle at ``path``, loaded again whenever one of its files changed."""
    return _load_stamped(path, _stamp(path))


def _stamp(path: str) -> tuple[tuple[str, int, int, int, int], ...]:
    """Each file of the bundle's folder with its size, inode and times (none when absent)."""
    try:
        with os.scandir(path) as entries:
            found = [(e.name, e.stat()) for e in entries if e.is_file()]
    except OSError:
        return ()
    return tuple(sorted((n, s.st_size, s.st_ino, s.st_mtime_ns, s.st_ctime_ns) for n, s in found))


@functools.lru_cache(maxsize=2)
def _load_stamped(path: str, stamp: tuple[tuple[str, int, int, int, int], ...]) -> City:
    from gridgov.cities import load_city

    del stamp  # a part of the cache's key only
    return load_city(path)


def _takes_scale(factory: Callable[..., City]) -> bool:
    return "scale" in inspect.signature(factory).parameters


def _presets() -> Mapping[str, Callable[..., City]]:
    from gridgov.presets import PRESETS

    return PRESETS


# ----------------------------------------------------------------- reading


def resolve(
    document: ScenarioDocument, overrides: Sequence[Override] = ()
) -> tuple[Scenario | None, list[Problem]]:
    """Read a document with values set over it (shared with :mod:`gridgov.sim.sweep`).

    Args:
        document: the parsed scenario file.
        overrides: values set over it; a problem of one is placed where it
            was written.

    Returns:
        The scenario (None when there are problems) and every problem, the
        overrides' files first, then the scenario file, then the files it
        names, each in line order.
    """
    data = copy.deepcopy(dict(document.data))
    reader = _ScenarioReader(document, overrides)
    for override in overrides:  # drop what an override replaces, before setting any
        sibling = _EXCLUSIVE.get(override.path[:2])
        if sibling is not None and len(override.path) >= 2:
            table = data.get(str(sibling[0]))
            if isinstance(table, dict):
                table.pop(sibling[1], None)
    for override in overrides:
        _set(data, override, reader)
    scenario = reader.read(data)
    problems = reader.problems()
    return (None, problems) if problems else (scenario, [])


def _set(data: dict[str, Any], override: Override, reader: _ScenarioReader) -> None:
    node = data
    for depth, part in enumerate(override.path[:-1]):
        assert isinstance(part, str)
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            where = ".".join(str(p) for p in override.path[: depth + 1])
            reader.extra.append(
                Problem(
                    override.file,
                    override.line,
                    override.key,
                    f"cannot set {'.'.join(str(p) for p in override.path)}: "
                    f"{where} is not a table in the scenario",
                )
            )
            return
        node = child
    last = override.path[-1]
    assert isinstance(last, str)
    node[last] = copy.deepcopy(override.value)


class _ScenarioReader:
    """Turns a scenario document into a :class:`Scenario`, collecting every problem.

    Uses the rules reader for tables and types (and for inline rules); a
    rejected value is replaced by its default and remembered in ``bad``, so
    that checks that depend on it (a case's day against the run's days) do
    not blame it twice.
    """

    def __init__(self, document: ScenarioDocument, overrides: Sequence[Override]) -> None:
        self._types = Reader()
        #: (key path, message) of every problem of the document, not yet placed.
        self.found = self._types.found
        #: Key paths whose value was rejected.
        self.bad = self._types.bad
        self.document = document
        self.overrides = overrides
        #: Problems of other files (rules file, cases CSV), already placed.
        self.extra: list[Problem] = []
        self.hints = 0

    def problem(self, path: KeyPath, message: str) -> None:
        self._types.problem(path, message)

    def wrong_type(self, path: KeyPath, expected: str, value: object) -> None:
        self._types.wrong_type(path, expected, value)

    def table(
        self, parent: Mapping[str, Any], path: KeyPath, allowed: tuple[str, ...] | None
    ) -> dict[str, Any]:
        return self._types.table(parent, path, allowed)

    # -------------------------------------------------------- placement

    def place(self, path: KeyPath, message: str) -> Problem:
        for override in self.overrides:
            size = len(override.path)
            if path[:size] == override.path:
                return Problem(
                    override.file, override.line, override.key + render_tail(path[size:]), message
                )
        for override in self.overrides:
            # A table the override created: the document never wrote it.
            if override.path[: len(path)] == path and path not in self.document.lines:
                return Problem(
                    override.file, override.line, override.key, f"{render_key(path)}: {message}"
                )
        line = line_of(self.document.lines, path)
        return Problem(self.document.source, line, render_key(path), message)

    def problems(self) -> list[Problem]:
        placed = [self.place(path, message) for path, message in self.found]
        first = [o.file for o in self.overrides] + [self.document.source]
        return ordered([*placed, *self.extra], first)

    # ------------------------------------------------------------ values

    def number(self, table: Mapping[str, Any], path: KeyPath, default: float) -> float:
        """A number checked by the kind its key names (see :data:`_CHECKS`)."""
        name = path[-1]
        assert isinstance(name, str)
        if name not in table:
            return default
        value = table[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.wrong_type(path, "a number", value)
            return default
        try:
            number = float(value)
        except OverflowError:  # an integer beyond any float
            number = math.inf
        message = _check(path, number)
        if message is not None:
            self.problem(path, message)
            return default
        return number

    def integer(
        self,
        table: Mapping[str, Any],
        path: KeyPath,
        default: int,
        minimum: int,
        what: str,
        maximum: int = MAX_SEED,
    ) -> int:
        name = path[-1]
        assert isinstance(name, str)
        if name not in table:
            return default
        value = table[name]
        if isinstance(value, bool) or not isinstance(value, int):
            self.wrong_type(path, "an integer", value)
            return default
        if not minimum <= value <= maximum:
            self.problem(path, f"must be {what}, got {value}")
            return default
        return value

    def string(self, table: Mapping[str, Any], path: KeyPath, default: str, what: str) -> str:
        name = path[-1]
        assert isinstance(name, str)
        if name not in table:
            return default
        value = table[name]
        if not isinstance(value, str):
            self.wrong_type(path, what, value)
            return default
        return value

    # ---------------------------------------------------------- sections

    def read(self, data: Mapping[str, Any]) -> Scenario:
        self._types.unknown_keys(data, (), _TOP_KEYS)
        version = self.integer(data, ("version",), 1, 1, "1")
        if version != 1:
            self.problem(("version",), f"unsupported version {version} (expected 1)")
        source = self.document.source
        default_name = "scenario" if source.startswith("<") else Path(source).stem
        name = self.string(data, ("name",), default_name, "a name (a string)")
        if not _NAME.fullmatch(name):
            self.problem(
                ("name",),
                f"must be usable as a folder name (letters, digits, '_', '.', '-', not "
                f"starting with '.' or '-'), got {format_string(name)}",
            )
        seed = self.integer(data, ("seed",), 0, 0, _SEED_RANGE)
        choice = self.city_choice(data)
        run = self.run(data)
        rules, rules_source, rules_ok = self.rules(data)
        city = self.city(choice)
        if city is not None and rules_ok:
            self.areas(rules, rules_source, city)
        outbreak = self.outbreak(data, city, run)
        staffing = self.staffing(data)
        requests = self.requests(data, rules if rules_ok else None)
        supplies = None
        if "supplies" in data:
            table = self.table(data, ("supplies",), None)
            supplies = read_supplies(table, self.problem, city, self.document.base, self.extra)
        return Scenario(
            name=name,
            seed=seed,
            city=choice,
            rules=rules,
            rules_source=rules_source,
            outbreak=outbreak,
            staffing=staffing,
            requests=requests,
            run=run,
            supplies=supplies,
            base=self.document.base,
        )

    def city_choice(self, data: Mapping[str, Any]) -> CityChoice:
        table = self.table(data, ("city",), _CITY_KEYS)
        default = CityChoice()
        if "path" in table:
            written = self.string(table, ("city", "path"), "", "a folder (a string)")
            for key in ("preset", "scale", "seed"):
                if key in table:
                    self.problem(
                        ("city", key),
                        "give city.path (a city bundle) or city.preset, not both"
                        if key == "preset"
                        else f"a city bundle has no {key}: it is the city as saved",
                    )
            if ("city", "path") in self.bad:
                return default
            full = os.path.abspath(resolve_path(self.document.base, written))
            from gridgov.cities import is_bundle

            if not is_bundle(full):
                self.problem(
                    ("city", "path"),
                    f"no city bundle at {written!r} (looked for {full}/city.toml)",
                )
            return CityChoice(path=full)
        preset = self.string(table, ("city", "preset"), default.preset, "a preset name (a string)")
        presets = _presets()
        if preset not in presets:
            close = did_you_mean(preset, presets)
            hint = f"did you mean {close!r}? " if close else ""
            self.problem(
                ("city", "preset"),
                f"unknown preset {preset!r} ({hint}expected one of: {', '.join(sorted(presets))})",
            )
        scale = self.number(table, ("city", "scale"), default.scale)
        fixed = preset in presets and not _takes_scale(presets[preset])
        if fixed and scale != 1.0 and ("city", "scale") not in self.bad:
            takes = [n for n, f in sorted(presets.items()) if _takes_scale(f)]
            self.problem(
                ("city", "scale"),
                f"the {preset} preset has one size, so its scale must be 1 "
                f"(presets with a scale: {', '.join(takes)})",
            )
        seed = self.integer(table, ("city", "seed"), default.seed, 0, _SEED_RANGE)
        return CityChoice(preset=preset, scale=scale, seed=seed)

    def city(self, choice: CityChoice) -> City | None:
        """The built city, or None when the ``[city]`` table has problems."""
        if any(path[:1] == ("city",) for path in self.bad) or any(
            path[:1] == ("city",) for path, _ in self.found
        ):
            return None
        if choice.path is not None:
            from gridgov.errors import CityError

            try:
                return _load_bundle(choice.path)
            except CityError as exc:
                self.extra.extend(exc.problems)
                return None
        try:
            return _build_city(choice.preset, choice.seed, choice.scale)
        except PresetError as exc:
            self.problem(("city", "scale"), str(exc))
            return None

    def run(self, data: Mapping[str, Any]) -> RunSpec:
        table = self.table(data, ("run",), _RUN_KEYS)
        default = RunSpec()
        days = self.integer(table, ("run", "days"), default.days, 1, "at least 1 day")
        if days > MAX_DAYS:
            self.problem(
                ("run", "days"), f"must be at most {MAX_DAYS} days (ten years), got {days}"
            )
            days = default.days
        step = self.integer(table, ("run", "step_hours"), default.step_hours, 1, "at least 1 hour")
        if 24 % step:
            divisors = ", ".join(str(h) for h in range(1, 25) if 24 % h == 0)
            self.problem(("run", "step_hours"), f"must divide a day ({divisors}), got {step}")
            step = default.step_hours
        return RunSpec(days=days, step_hours=step)

    def rules(self, data: Mapping[str, Any]) -> tuple[Rules, str, bool]:
        """The rules, where they came from, and whether they are sound."""
        table = self.table(data, ("rules",), _RULES_KEYS)
        if "path" in table and "inline" in table:
            self.problem(("rules", "inline"), "give rules.path or [rules.inline], not both")
            return Rules.default(), "<default>", False
        if "path" in table:
            written = self.string(table, ("rules", "path"), "", "a path (a string)")
            if ("rules", "path") in self.bad:
                return Rules.default(), "<default>", False
            full = resolve_path(self.document.base, written)
            if not os.path.isfile(full):
                self.problem(("rules", "path"), f"no rules file {written!r} (looked for {full})")
                return Rules.default(), written, False
            try:
                return load_rules(full), written, True
            except RulesError as exc:
                self.extra.extend(exc.problems)
                return Rules.default(), written, False
        if "inline" in table:
            inline = table["inline"]
            if not isinstance(inline, dict):
                self.wrong_type(("rules", "inline"), "a table of rules", inline)
                return Rules.default(), "<inline>", False
            prefix: KeyPath = ("rules", "inline")
            lines = {
                path[2:]: line
                for path, line in self.document.lines.items()
                if path[:2] == prefix and len(path) > 2
            }
            rules, found = read_rules(inline, self.document.source, lines)
            for path, message in found:
                self.problem((*prefix, *path), message)
            return rules, "<inline>", not found
        return Rules.default(), "<default>", True

    def areas(self, rules: Rules, rules_source: str, city: City) -> None:
        if rules_source == "<inline>":
            for name, ids in rules.areas.items():
                for index, unit in enumerate(ids):
                    if unit not in city.chain:
                        self.problem(
                            ("rules", "inline", "areas", name, index),
                            f"no unit with id {unit!r} in the command chain",
                        )
        else:
            self.extra.extend(rules.check_against(city.chain))

    def outbreak(self, data: Mapping[str, Any], city: City | None, run: RunSpec) -> OutbreakSpec:
        table = self.table(data, ("outbreak",), _OUTBREAK_KEYS)
        default = OutbreakSpec()
        driver = self.string(table, ("outbreak", "driver"), default.driver, "a driver name")
        names = driver_names()
        if driver not in names:
            close = did_you_mean(driver, names)
            hint = f"did you mean {close!r}? " if close else ""
            self.problem(
                ("outbreak", "driver"),
                f"unknown driver {driver!r} ({hint}expected one of: {', '.join(names)})",
            )
        numbers = {
            key: self.number(table, ("outbreak", key), getattr(default, key))
            for key in _OUTBREAK_NUMBERS
        }
        options = self.table(table, ("outbreak", "options"), None)
        days = None if ("run", "days") in self.bad else run.days
        cases: tuple[SeedCase, ...] = ()
        csv_written: str | None = None
        # Both read even when both are given (a problem), so that every problem shows.
        if "cases" in table:
            cases = self.cases(table["cases"], city, days)
        if "cases_csv" in table:
            csv_written = self.string(table, ("outbreak", "cases_csv"), "", "a path (a string)")
            if "cases" in table:
                self.problem(
                    ("outbreak", "cases_csv"),
                    "give outbreak.cases or outbreak.cases_csv, not both",
                )
            if ("outbreak", "cases_csv") not in self.bad:
                cases = self.cases_csv(csv_written, city, days)
        return OutbreakSpec(
            driver=driver,
            cases=cases,
            cases_csv=csv_written,
            options=dict(options),
            **numbers,
        )

    def cases(self, value: object, city: City | None, days: int | None) -> tuple[SeedCase, ...]:
        path: KeyPath = ("outbreak", "cases")
        if not isinstance(value, list):
            self.wrong_type(path, "an array of cases ({ compound = ..., day = ... })", value)
            return ()
        cases: list[SeedCase] = []
        for index, item in enumerate(value):
            here: KeyPath = (*path, index)
            if not isinstance(item, dict):
                self.wrong_type(here, "a case ({ compound = ..., day = ... })", item)
                continue
            self._types.unknown_keys(item, here, _CASE_KEYS)
            if "compound" not in item:
                self.problem(here, "a case needs a compound")
                continue
            compound = self.string(item, (*here, "compound"), "", "a compound id (a string)")
            day = self.number(item, (*here, "day"), 0.0)
            if days is not None and (*here, "day") not in self.bad and day >= days:
                self.problem((*here, "day"), _after_run(day, days))
            if (*here, "compound") not in self.bad and city is not None:
                message = self.unknown_compound(compound, city)
                if message is not None:
                    self.problem((*here, "compound"), message)
            placed = self.place((*here, "compound"), "")
            cases.append(SeedCase(compound, day, (placed.file, placed.line, placed.key)))
        return tuple(cases)

    def cases_csv(self, written: str, city: City | None, days: int | None) -> tuple[SeedCase, ...]:
        full = resolve_path(self.document.base, written)
        if not os.path.isfile(full):
            self.problem(("outbreak", "cases_csv"), f"no CSV file {written!r} (looked for {full})")
            return ()
        try:
            text = read_text(full, ScenarioError, kind="cases CSV")
        except ScenarioError as exc:
            self.extra.extend(exc.problems)
            return ()
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            return self.csv_rows(reader, full, city, days)
        except csv.Error as exc:
            # A malformed file (a field over the csv module's limit, a NUL byte,
            # a quote left open): located, and nothing of its content quoted.
            line = max(1, reader.line_num)
            self.extra.append(Problem(full, line, "(row)", f"not a readable CSV row: {exc}"))
            return ()

    def csv_rows(
        self, reader: Any, full: str, city: City | None, days: int | None
    ) -> tuple[SeedCase, ...]:
        header = next(reader, None)
        names = [name.strip() for name in header or ()]
        missing = [column for column in _CSV_COLUMNS if column not in names]
        twice = sorted({name for name in names if names.count(name) > 1 and name in _CSV_COLUMNS})
        if missing or twice:
            faults = []
            if missing:
                faults.append(f"no {' or '.join(repr(m) for m in missing)} column")
            if twice:
                faults.append(f"{', '.join(repr(t) for t in twice)} given twice")
            # The header is not quoted: a file that is not a cases CSV at all
            # (a password file, a key) must not have its first line echoed.
            message = f"{'; '.join(faults)}: expected a header row naming day and compound"
            self.extra.append(Problem(full, 1, "(header)", message))
            return ()
        at_day, at_compound = names.index("day"), names.index("compound")
        cases: list[SeedCase] = []
        end = reader.line_num
        for row in reader:
            line, end = end + 1, reader.line_num
            if not any(field.strip() for field in row):
                continue
            if len(row) != len(names):
                self.extra.append(
                    Problem(full, line, "(row)", f"expected {len(names)} fields, got {len(row)}")
                )
                continue
            text_day, compound = row[at_day].strip(), row[at_compound].strip()
            good = True
            try:
                day = float(text_day)
            except ValueError:
                self.extra.append(
                    Problem(full, line, "day", f"expected a number of days, got {_short(text_day)}")
                )
                good = False
            else:
                wrong = _check(("day",), day)
                if wrong is None and days is not None and day >= days:
                    wrong = _after_run(day, days)
                if wrong is not None:
                    self.extra.append(Problem(full, line, "day", wrong))
                    good = False
            if not compound:
                self.extra.append(Problem(full, line, "compound", "a case needs a compound"))
                good = False
            elif city is not None:
                unknown = self.unknown_compound(compound, city)
                if unknown is not None:
                    self.extra.append(Problem(full, line, "compound", unknown))
                    good = False
            if good:
                cases.append(SeedCase(compound, day, (full, line, "compound")))
            if len(cases) > MAX_CASES:
                self.extra.append(
                    Problem(full, line, "(row)", f"more than {MAX_CASES:,} cases in one file")
                )
                return ()
        return tuple(cases)

    def unknown_compound(self, compound: str, city: City) -> str | None:
        if compound in city.compounds:
            return None
        self.hints += 1
        return _unknown_compound(compound, city, hint=self.hints <= _MAX_HINTS)

    def staffing(self, data: Mapping[str, Any]) -> StaffingLevels:
        table = self.table(data, ("staffing",), _STAFFING_KEYS)
        default = StaffingLevels()
        values = {
            key: self.number(table, ("staffing", key), getattr(default, key))
            for key in _STAFFING_KEYS
        }
        return StaffingLevels(**values)

    def requests(self, data: Mapping[str, Any], rules: Rules | None) -> dict[str, dict[str, float]]:
        requests = _default_requests()
        table = self.table(data, ("requests",), ZONES)
        for zone in ZONES:
            if zone not in table:
                continue
            path: KeyPath = ("requests", zone)
            rates = requests.setdefault(zone, {})
            for category in self.table(table, path, None):
                here: KeyPath = (*path, category)
                rate = self.number(table[zone], here, rates.get(category, 0.0))
                known = rules.tickets.categories if rules is not None else None
                if known is not None and category not in known:
                    close = did_you_mean(category, known)
                    hint = f"did you mean {close!r}? " if close else ""
                    self.problem(
                        here,
                        f"unknown request category {category!r} ({hint}expected a ticket "
                        f"category of the rules: {', '.join(known)})",
                    )
                    continue
                rates[category] = rate
        return requests


def _unknown_compound(compound: str, city: City, hint: bool) -> str:
    """What is wrong with a case at a compound the city lacks (with a "did you mean")."""
    close = did_you_mean(compound, city.compounds, cutoff=0.8) if hint else None
    near = f"; did you mean {close!r}?" if close else ""
    return f"no compound {compound!r} in the city ({city.name}){near}"


#: Bounds on what would otherwise be unbounded: a run, a spread rate per
#: infectious case, a request rate per household, a duration in days.
MAX_DAYS = 3660
MAX_SPREAD_RATE = 50.0
MAX_REQUEST_RATE = 10.0
MAX_DURATION_DAYS = 365.0


def _check(path: KeyPath, number: float) -> str | None:
    """What is wrong with ``number`` as the value of ``path``, or None (ranges: :data:`RANGES`)."""
    key = path[-1]
    shown = format_number(number)
    if key in _RATES or path[:1] == ("requests",):
        if not (math.isfinite(number) and number >= 0):
            return f"must be a rate of 0 or more per day, got {shown}"
        if path[:1] == ("requests",) and number > MAX_REQUEST_RATE:
            return (
                f"must be at most {format_number(MAX_REQUEST_RATE)} requests per household "
                f"per day, got {shown}"
            )
        if path[:1] != ("requests",) and number > MAX_SPREAD_RATE:
            return (
                f"must be at most {format_number(MAX_SPREAD_RATE)} infections per infectious "
                f"case per day, got {shown}"
            )
    elif key in _FACTORS or path[:1] == ("staffing",):
        if not 0 <= number <= 1:
            return f"must be a share in [0, 1], got {shown}"
    elif key == "scale":
        if not 0 < number <= MAX_SCALE:
            return (
                f"must be a share of the published size in (0, {MAX_SCALE}] (above 1 a "
                f"megacity of tiled districts), got {shown}"
            )
    elif key == "infectious_days":
        if not (math.isfinite(number) and 0 < number <= MAX_DURATION_DAYS):
            return (
                f"must be a positive number of days, at most "
                f"{format_number(MAX_DURATION_DAYS)}, got {shown}"
            )
    elif key in ("detection_delay_days", "day") and not (math.isfinite(number) and number >= 0):
        return f"must be a finite number of days, 0 or more, got {shown}"
    elif key == "detection_delay_days" and number > MAX_DURATION_DAYS:
        return f"must be at most {format_number(MAX_DURATION_DAYS)} days, got {shown}"
    return None


def _short(text: str) -> str:
    """A value read from a file, quoted on one line and cut to 40 characters."""
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _after_run(day: float, days: int) -> str:
    return f"day {format_number(day)} is past the end of the run (run.days = {days})"

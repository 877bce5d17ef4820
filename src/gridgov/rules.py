"""Declarative rules: what a confirmed case does, how measures step down, who may override.

Rules are read from TOML (the standard library's ``tomllib``) into a typed,
validated :class:`Rules` object; :meth:`Rules.default` mirrors practice. A
*scope* is where a measure applies: a level of the chain (``compound``,
``grid``, ``community``, ``street``, ``district``, ``city``) taken around the
case, or a named *area* (a group of units, e.g. the four urban districts that
the 17 September response sealed at once). A *zone* is the state of a
residential compound: ``open``, ``precaution`` (watch), ``controlled``
(movement restricted) or ``sealed`` (nobody leaves).

The file format (every key and every table optional; a missing key takes the
value of practice shown here)::

    version = 1

    [areas]                   # named groups of unit ids, usable as scopes
    urban = ["230803", "230804", "230805", "230811"]

    [case]                    # what one confirmed case in a compound does
    seal = "compound"         # sealed zone: this scope around the case
    control = "grid"          # controlled zone: the rest of this scope ("off": none)
    precaution = "community"  # precaution zone: the rest of this scope ("off": none)
    alert = "street"          # other communities of this scope go on alert ("off": none)

    [zones.sealed]            # step-down: after N days without a new case
    step_down_to = "controlled"
    after_quiet_days = 14
    [zones.controlled]
    step_down_to = "precaution"
    after_quiet_days = 7
    [zones.precaution]
    step_down_to = "open"
    after_quiet_days = 7

    [modes]
    alert_quiet_days = 14     # an alert stands down after this many quiet days
    recovery_days = 14        # recovery lasts this long before normal

    [overrides]
    levels_above = 0          # a commander must be this many levels above the scope

    [tickets]                 # residents' requests: the eight-step closed loop
    low_score = 3             # a score (1-5) below this is low
    reopens = 1               # low scores that reopen a ticket before one escalates it
    emergency_zones = ["sealed", "controlled"]  # requests from these run on emergency limits

    [tickets.hours.normal]    # hours a ticket may stay in each state
    accepted = 2              # ... before it is classified and transferred
    classified = 24           # ... before the responsible unit takes it on
    tracking = 72             # ... while handled, before supervision
    supervising = 48          # ... before the result is fed back
    fed_back = 48             # ... before the resident's score is collected
    scored = 24               # ... before the outcome is published
    published = 72            # ... before it is archived
    [tickets.hours.emergency] # the same, shorter (see Rules.default())

    [tickets.categories.medicine]  # one table per request category
    level = "community"       # the lowest level that may resolve it
    responsible = "building_lead"  # the department or post that does
    hours.emergency = { accepted = 0.25, classified = 0.5, tracking = 2, supervising = 1 }

Validation collects every problem of a file at once, each placed at the line
of its key (:class:`gridgov.errors.Problem`, ``file:line: key.path: what is
wrong``): unknown keys, wrong types, durations that are not positive, zones
that can never step down to ``open``, scopes that name neither a level nor an
area, scopes that narrow instead of widening, malformed areas, an unsupported
version, an override outside 0..5, and in ``[tickets]``: a request category
without a level or a responsible post, time limits that are not positive hours,
an emergency limit longer than the normal one, a low score outside 1..5.
Whether the unit ids of an area exist depends on the city:
:meth:`Rules.check_against` checks them against a chain.
"""

from __future__ import annotations

import math
import os
from collections.abc import Container, Iterable, Iterator, Mapping
from datetime import timedelta
from typing import Any

import attrs

from gridgov._toml import (
    Document,
    KeyPath,
    Reader,
    compact_number,
    dumps,
    format_number,
    placed,
    read_text,
    render_key,
    unknown_key,
)
from gridgov.errors import Problem, RulesError
from gridgov.model import Level
from gridgov.vocabulary import (
    HOT_ZONES,
    OFF,
    POOL_LEVELS,
    ROLES,
    SCOPE_LEVELS,
    STEPPING_ZONES,
    TICKET_LEVELS,
    TICKET_MODES,
    TICKET_STEPS,
    ZONES,
)

__all__ = [
    "OFF",
    "POOL_LEVELS",
    "SCOPE_LEVELS",
    "STAFF_ROLES",
    "TICKET_LEVELS",
    "TICKET_MODES",
    "TICKET_STEPS",
    "ZONES",
    "CaseRule",
    "KeyPath",
    "ModeRule",
    "Rules",
    "StaffingRule",
    "TicketCategory",
    "TicketRule",
    "ZoneStepDown",
    "load_rules",
    "read_rules",
]

#: The city is this many levels above a compound, the widest gap an override can ask.
MAX_LEVELS_ABOVE = len(SCOPE_LEVELS) - 1

# Zones that step down, most severe first; ``open`` is where they all end.
_STEPPING = STEPPING_ZONES
_SEVERITY = {zone: i for i, zone in enumerate(ZONES)}

#: Emergency roles a zone can ask for, in the order posts are filled.
STAFF_ROLES = ROLES

_TOP_KEYS = ("version", "areas", "case", "zones", "modes", "overrides", "staffing", "tickets")
_TICKET_KEYS = ("low_score", "reopens", "emergency_zones", "hours", "categories")
_CATEGORY_KEYS = ("level", "responsible", "hours")
_STAFFING_INTS = (
    "households_per_building_lead",
    "households_per_registration",
    "disinfection_per_compound",
    "checkpoint_shifts",
    "households_per_volunteer",
)
_STAFFING_KEYS = (*_STAFFING_INTS, "max_staff_share", "pools", "auto_claim", "posts")
_CASE_KEYS = ("seal", "control", "precaution", "alert")
_ZONE_KEYS = ("step_down_to", "after_quiet_days")
_MODE_KEYS = ("alert_quiet_days", "recovery_days")
_OVERRIDE_KEYS = ("levels_above",)

#: Every number of a rules file has a range; nothing inside it can overflow
#: a date or make a run last for ever. Durations in days (quiet days before a
#: step-down or a stand-down, days of recovery): (0, MAX_DAYS].
MAX_DAYS = 3650
#: Ticket time limits in hours: (0, MAX_HOURS] (a year).
MAX_HOURS = 8760
#: The largest value of each ``[staffing]`` count (all at least 1): households
#: per post, and posts per compound or per entrance.
STAFFING_MAXIMA: dict[str, int] = {
    "households_per_building_lead": 100_000,
    "households_per_registration": 100_000,
    "disinfection_per_compound": 100,
    "checkpoint_shifts": 24,
    "households_per_volunteer": 100_000,
}
#: The most low scores that reopen a ticket before one escalates it.
MAX_REOPENS = 100


@attrs.frozen
class CaseRule:
    """What one confirmed case in a compound does.

    Each field is a scope: a level name or the name of an area; ``None``
    (``"off"`` in a file) switches that measure off. Scopes widen in order:
    sealed within controlled within precaution within alert.
    """

    #: Scope put under the sealed zone.
    seal: str = "compound"
    #: The rest of this scope goes under the controlled zone.
    control: str | None = "grid"
    #: The rest of this scope goes under the precaution zone.
    precaution: str | None = "community"
    #: Other communities of this scope are put on alert.
    alert: str | None = "street"


@attrs.frozen
class ZoneStepDown:
    """How one zone steps down when no new case comes."""

    #: The zone it steps down to.
    step_down_to: str
    #: Days without a new case (in its community) before stepping down.
    after_quiet_days: float


@attrs.frozen
class ModeRule:
    """Timings of community modes."""

    #: Days without a case in the alert's scope before an alert stands down.
    alert_quiet_days: float = 14.0
    #: Days a community stays in recovery before it resumes normal.
    recovery_days: float = 14.0


def _default_posts() -> dict[str, tuple[str, ...]]:
    return {
        "sealed": STAFF_ROLES,
        "controlled": ("building_lead", "checkpoint", "registration", "front_line"),
        "precaution": (),
    }


def _to_names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _to_posts(value: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    return {zone: tuple(roles) for zone, roles in value.items()}


@attrs.frozen
class StaffingRule:
    """How zones turn into posts, and where the people come from (defaults: practice).

    With the defaults, sealing the 652 compounds of Jiamusi's urban area
    needs 652 point leads, about 4,600 building leads and about 10,800
    deployed members, the scale of the 17 September response.
    """

    #: Roles each zone needs (``front_line``: the grid workers of its grids).
    posts: Mapping[str, tuple[str, ...]] = attrs.field(factory=_default_posts, converter=_to_posts)
    #: "Cover a building, cover a household": households one building lead covers.
    households_per_building_lead: int = 120
    #: Households one test-site registration seat handles per testing round.
    households_per_registration: int = 120
    #: Members disinfecting the public places of one compound.
    disinfection_per_compound: int = 2
    #: Checkpoint shifts per compound entrance.
    checkpoint_shifts: int = 3
    #: Households one volunteer serves.
    households_per_volunteer: int = 200
    #: The largest share of an organisation's staff that may be drawn at once.
    max_staff_share: float = 0.3
    #: Pools tried in order.
    pools: tuple[str, ...] = attrs.field(default=POOL_LEVELS, converter=_to_names)
    #: The planner dispatches members to tasks; when false, tasks wait on the
    #: community's board to be claimed.
    auto_claim: bool = True


def _hours(**values: float) -> dict[str, float]:
    return dict(values)


def _default_hours() -> dict[str, dict[str, float]]:
    return {
        "normal": _hours(
            accepted=2.0,
            classified=24.0,
            tracking=72.0,
            supervising=48.0,
            fed_back=48.0,
            scored=24.0,
            published=72.0,
        ),
        "emergency": _hours(
            accepted=0.5,
            classified=2.0,
            tracking=12.0,
            supervising=6.0,
            fed_back=12.0,
            scored=12.0,
            published=24.0,
        ),
    }


def _to_hours(value: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    return {mode: dict(steps) for mode, steps in value.items()}


def _to_overrides(value: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    return {mode: dict(steps) for mode, steps in value.items() if steps}


@attrs.frozen
class TicketCategory:
    """Who resolves one kind of request, and its own time limits."""

    #: The lowest level of the chain that holds the authority to resolve it
    #: (one of :data:`TICKET_LEVELS`); classification routes the ticket there.
    level: str
    #: The department or post responsible at that level (Open311's
    #: ``agency_responsible``), e.g. ``building_lead``, ``civil_affairs``.
    responsible: str
    #: Time limits in hours that differ from ``TicketRule.hours``, by mode and
    #: state, e.g. ``{"emergency": {"tracking": 2.0}}``.
    hours: Mapping[str, Mapping[str, float]] = attrs.field(factory=dict, converter=_to_overrides)


def _default_categories() -> dict[str, TicketCategory]:
    fast = _hours(accepted=0.25, classified=0.25, tracking=1.0, supervising=1.0)
    ambulance = {"normal": _hours(accepted=0.5, classified=1.0, tracking=4.0), "emergency": fast}
    return {
        "garbage": TicketCategory("grid", "grid_worker", {"emergency": _hours(tracking=6.0)}),
        "repair": TicketCategory("community", "property_service"),
        "dispute": TicketCategory("community", "mediation_committee"),
        "hardship": TicketCategory("street", "civil_affairs"),
        "food_supplies": TicketCategory(
            "community",
            "building_lead",
            {"emergency": _hours(accepted=0.25, classified=1.0, tracking=6.0, supervising=2.0)},
        ),
        "medicine": TicketCategory(
            "community",
            "building_lead",
            {"emergency": _hours(accepted=0.25, classified=0.5, tracking=2.0, supervising=1.0)},
        ),
        "supply_shortage": TicketCategory(
            "street", "supply_office", {"emergency": _hours(tracking=8.0)}
        ),
        "medical_transport": TicketCategory("district", "health_commission", ambulance),
        "hospital_transfer": TicketCategory("district", "health_commission", ambulance),
    }


def _to_categories(value: Mapping[str, TicketCategory]) -> dict[str, TicketCategory]:
    return dict(value)


@attrs.frozen(eq=False)
class TicketRule:
    """Residents' requests: who resolves each category, time limits, scores (defaults: practice).

    A ticket waits in each state of the closed loop for at most the hours of
    its category and mode (``categories[c].hours`` where given, else
    ``hours``); past that it escalates one level up the chain. In an
    emergency a medical request from a sealed compound is counted in hours,
    not days.

    Two ticket rules are equal when they give every category the same level,
    responsible post and limits, however the limits are spelt (a category's
    own limit equal to the general one says the same as none).
    """

    #: Request categories by code name.
    categories: Mapping[str, TicketCategory] = attrs.field(
        factory=_default_categories, converter=_to_categories
    )
    #: Hours a ticket may stay in each state (:data:`TICKET_STEPS`), by mode.
    hours: Mapping[str, Mapping[str, float]] = attrs.field(
        factory=_default_hours, converter=_to_hours
    )
    #: A resident's score (1-5) below this is low.
    low_score: int = 3
    #: Low scores that reopen a ticket at the level that handled it; each
    #: later low score escalates it one level up (at the city it stands).
    reopens: int = 1
    #: Zones whose residents' requests run on the emergency limits.
    emergency_zones: tuple[str, ...] = attrs.field(default=HOT_ZONES, converter=_to_names)

    def _meaning(self) -> tuple[Any, ...]:
        modes = {*TICKET_MODES, *self.hours}
        states = {*TICKET_STEPS}
        for steps in self.hours.values():
            states.update(steps)
        for category in self.categories.values():
            modes.update(category.hours)
            for steps in category.hours.values():
                states.update(steps)
        limits = {
            name: (
                category.level,
                category.responsible,
                {
                    (mode, state): category.hours.get(mode, {}).get(
                        state, self.hours.get(mode, {}).get(state)
                    )
                    for mode in modes
                    for state in states
                },
            )
            for name, category in self.categories.items()
        }
        return (limits, self.hours, self.low_score, self.reopens, self.emergency_zones)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TicketRule):
            return NotImplemented
        return self._meaning() == other._meaning()

    __hash__ = None  # type: ignore[assignment]

    def limit_hours(self, category: str, mode: str, state: str) -> float | None:
        """Hours a ticket of ``category`` may stay in ``state`` in ``mode``.

        Returns:
            The hours, or None for a state without a limit (archived, withdrawn).

        Raises:
            KeyError: ``category`` or ``mode`` is not in the rules.
        """
        own = self.categories[category].hours.get(mode, {})
        if state in own:
            return own[state]
        return self.hours[mode].get(state)

    def limit(self, category: str, mode: str, state: str) -> timedelta | None:
        """:meth:`limit_hours` as a duration (None for a state without a limit)."""
        hours = self.limit_hours(category, mode, state)
        return None if hours is None else timedelta(hours=hours)

    def limit_key(self, category: str, mode: str, state: str) -> str:
        """The key path in a rules file that sets this limit, e.g.
        ``tickets.categories.medicine.hours.emergency.tracking``."""
        return render_key(_limit_path(self, category, mode, state))


def _limit_path(rule: TicketRule, category: str, mode: str, state: str) -> KeyPath:
    if state in rule.categories[category].hours.get(mode, {}):
        return ("tickets", "categories", category, "hours", mode, state)
    return ("tickets", "hours", mode, state)


def _default_zones() -> dict[str, ZoneStepDown]:
    return {
        "sealed": ZoneStepDown("controlled", 14.0),
        "controlled": ZoneStepDown("precaution", 7.0),
        "precaution": ZoneStepDown("open", 7.0),
    }


def _to_areas(value: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    return {name: tuple(ids) for name, ids in value.items()}


def _to_zones(value: Mapping[str, ZoneStepDown]) -> dict[str, ZoneStepDown]:
    return dict(value)


def _to_lines(value: Mapping[KeyPath, int]) -> dict[KeyPath, int]:
    return dict(value)


@attrs.frozen
class Rules:
    """The validated rules an engine runs by.

    Build them with :meth:`default`, :meth:`from_toml` or :func:`load_rules`;
    rules built field by field in code are not validated until :meth:`check`.
    Two rules are equal when they say the same thing, wherever they came from
    (``source`` and ``lines`` take no part in equality).
    """

    #: Named groups of units usable as scopes, e.g. ``urban``.
    areas: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict, converter=_to_areas)
    #: What a confirmed case does.
    case: CaseRule = attrs.field(factory=CaseRule)
    #: Step-down of each zone other than ``open``.
    zones: Mapping[str, ZoneStepDown] = attrs.field(factory=_default_zones, converter=_to_zones)
    #: Timings of community modes.
    modes: ModeRule = attrs.field(factory=ModeRule)
    #: A manual declaration needs a commander this many levels above its scope.
    override_levels_above: int = 0
    #: Posts each zone needs and the pools that fill them.
    staffing: StaffingRule = attrs.field(factory=StaffingRule)
    #: Residents' requests: routing by category, time limits, scores.
    tickets: TicketRule = attrs.field(factory=TicketRule)
    #: The file the rules came from ("<default>" for the built-in ones).
    source: str = attrs.field(default="<default>", eq=False)
    #: The 1-based line of each key path in ``source`` (empty for rules built
    #: in code); problems found later, e.g. by :meth:`check_against`, are
    #: placed with it.
    lines: Mapping[KeyPath, int] = attrs.field(
        factory=dict, converter=_to_lines, eq=False, repr=False
    )

    @classmethod
    def default(cls) -> Rules:
        """The rules of practice: seal the compound, control its grid, precaution
        for its community, alert for its street; 14/7/7 quiet days to step down."""
        return cls()

    @classmethod
    def from_toml(cls, text: str, source: str = "<string>") -> Rules:
        """Read and validate rules from the text of a TOML file.

        Args:
            text: the TOML document (format in the module docstring).
            source: the file name used in problems and kept as ``source``.

        Returns:
            The validated rules; keys the text leaves out take their defaults.

        Raises:
            RulesError: the text is not TOML (one problem at the line of the
                syntax error) or breaks the rules of the format (every
                problem, in line order).
        """
        document = Document.parse(text, source, RulesError)
        rules, found = read_rules(document.data, source, document.lines)
        if found:
            raise RulesError(placed(found, source, rules.lines))
        return rules

    def to_toml(self) -> str:
        """Write the rules as a TOML document that :meth:`from_toml` reads back equal.

        Every key is written, defaults included, so the output documents the
        rules in full.

        Returns:
            The TOML text, ending with a newline.
        """
        return dumps(self.to_table())

    def to_table(self) -> dict[str, Any]:
        """The rules as the TOML table :meth:`to_toml` writes (plain dicts and lists).

        Used to write rules inside another document, e.g. a scenario's
        ``[rules.inline]``.
        """
        staffing = self.staffing
        table: dict[str, Any] = {"version": 1}
        if self.areas:
            table["areas"] = {name: list(ids) for name, ids in self.areas.items()}
        table["case"] = {
            key: OFF if getattr(self.case, key) is None else getattr(self.case, key)
            for key in _CASE_KEYS
        }
        table["zones"] = {
            zone: {
                "step_down_to": step.step_down_to,
                "after_quiet_days": compact_number(step.after_quiet_days),
            }
            for zone, step in self.zones.items()
        }
        table["modes"] = {
            "alert_quiet_days": compact_number(self.modes.alert_quiet_days),
            "recovery_days": compact_number(self.modes.recovery_days),
        }
        table["overrides"] = {"levels_above": self.override_levels_above}
        table["staffing"] = {
            **{key: getattr(staffing, key) for key in _STAFFING_INTS},
            "max_staff_share": compact_number(staffing.max_staff_share),
            "pools": list(staffing.pools),
            "auto_claim": staffing.auto_claim,
            "posts": {zone: list(roles) for zone, roles in staffing.posts.items()},
        }
        table["tickets"] = _tickets_table(self.tickets)
        return table

    def check(self) -> list[Problem]:
        """Validate rules built in code the way :meth:`from_toml` validates a file.

        Returns:
            Every problem, in line order (line 0 when the rules have no file);
            empty when the rules are valid.
        """
        return placed([(p, m) for p, m, _ in _semantic_problems(self)], self.source, self.lines)

    def check_against(self, chain: Container[str]) -> list[Problem]:
        """Check that every unit id of every area is a unit of a city.

        Args:
            chain: a :class:`gridgov.CommandChain` (or any container of unit ids).

        Returns:
            One problem per unknown id (key ``areas.NAME[INDEX]``), in line
            order; empty when every id is known.
        """
        found: list[tuple[KeyPath, str]] = [
            (("areas", name, index), f"no unit with id {unit!r} in the command chain")
            for name, ids in self.areas.items()
            for index, unit in enumerate(ids)
            if unit not in chain
        ]
        return placed(found, self.source, self.lines)

    def scope_level(self, scope: str) -> Level | None:
        """The level a scope names, or None when it names an area."""
        return Level(scope) if scope in SCOPE_LEVELS else None


def load_rules(path: str | os.PathLike[str]) -> Rules:
    """Read and validate a rules file.

    Args:
        path: the TOML file (UTF-8; format in the module docstring).

    Returns:
        The validated rules, with ``source`` set to ``path``.

    Raises:
        RulesError: the file cannot be read or decoded (one problem), is not
            TOML (one problem at the line of the syntax error), or breaks the
            rules of the format (every problem, in line order).
    """
    source = os.fspath(path)
    return Rules.from_toml(read_text(source, RulesError, kind="rules"), source=source)


def read_rules(
    data: Mapping[str, Any], source: str = "<data>", lines: Mapping[KeyPath, int] | None = None
) -> tuple[Rules, list[tuple[KeyPath, str]]]:
    """Read rules from the data of a parsed TOML table, collecting every problem.

    The step behind :meth:`Rules.from_toml`, for formats that hold a rules
    table inside them (a scenario's ``[rules.inline]``).

    Args:
        data: the table, as ``tomllib`` gives it.
        source: the file name kept as the rules' ``source``.
        lines: the line of each key path of the table (see
            :func:`gridgov._toml.locate`); none when unknown.

    Returns:
        The rules (a rejected value replaced by its default) and every
        problem as (key path, message), not yet placed; empty when valid.
    """
    reader = _Reader()
    rules = reader.read(data, source, {} if lines is None else lines)
    found = list(reader.found)
    for path, message, involved in _semantic_problems(rules):
        # A value the reader rejected was replaced by its default; what
        # that default implies is not the user's mistake.
        if not reader.bad.intersection((path, *involved)):
            found.append((path, message))
    return rules, found


# ---------------------------------------------------------------- reading


class _Reader(Reader):
    """Turns the dict ``tomllib`` gives into :class:`Rules`, collecting type problems."""

    def unknown_keys(self, table: Mapping[str, Any], path: KeyPath, allowed: Any) -> None:
        for key in table:
            if key not in allowed:
                self.problem((*path, key), _unknown_key(key, allowed, path))

    def number(
        self,
        table: Mapping[str, Any],
        path: KeyPath,
        default: float,
        what: str = "a number of days",
    ) -> float:
        return super().number(table, path, default, what)

    def read(self, data: Mapping[str, Any], source: str, lines: Mapping[KeyPath, int]) -> Rules:
        self.unknown_keys(data, (), _TOP_KEYS)
        if "version" in data:
            version = data["version"]
            if isinstance(version, bool) or not isinstance(version, int):
                self.wrong_type(("version",), "an integer", version)
            elif version != 1:
                self.problem(("version",), f"unsupported version {version} (expected 1)")
        return Rules(
            areas=self.areas(data),
            case=self.case(data),
            zones=self.zones(data),
            modes=self.modes(data),
            override_levels_above=self.overrides(data),
            staffing=self.staffing(data),
            tickets=self.tickets(data),
            source=source,
            lines=lines,
        )

    def areas(self, data: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
        areas: dict[str, tuple[str, ...]] = {}
        for name, ids in self.table(data, ("areas",), None).items():
            path: KeyPath = ("areas", name)
            if not isinstance(ids, list):
                self.wrong_type(path, "an array of unit ids", ids)
                continue
            wrong = [i for i, unit in enumerate(ids) if not isinstance(unit, str)]
            for index in wrong:
                self.wrong_type((*path, index), "a unit id (a string)", ids[index])
            if wrong:
                self.bad.add(path)
            else:
                areas[name] = tuple(ids)
        return areas

    def case(self, data: Mapping[str, Any]) -> CaseRule:
        table = self.table(data, ("case",), _CASE_KEYS)
        given: dict[str, str | None] = {}
        for key in _CASE_KEYS:
            if key not in table:
                continue
            path: KeyPath = ("case", key)
            scope = table[key]
            if not isinstance(scope, str):
                self.wrong_type(path, "a scope (a level or an area name, as a string)", scope)
            elif scope == OFF and key == "seal":
                self.problem(path, "a case always seals something; 'off' is not allowed here")
            else:
                given[key] = None if scope == OFF else scope
        default = CaseRule()
        seal = given.get("seal")
        return CaseRule(
            seal=default.seal if seal is None else seal,
            control=given.get("control", default.control),
            precaution=given.get("precaution", default.precaution),
            alert=given.get("alert", default.alert),
        )

    def zones(self, data: Mapping[str, Any]) -> dict[str, ZoneStepDown]:
        zones = _default_zones()
        table = self.table(data, ("zones",), _STEPPING)
        for zone in _STEPPING:
            if zone not in table:
                continue
            path: KeyPath = ("zones", zone)
            step = self.table(table, path, _ZONE_KEYS)
            target = step.get("step_down_to", zones[zone].step_down_to)
            if not isinstance(target, str):
                self.wrong_type((*path, "step_down_to"), "a zone name (a string)", target)
                target = zones[zone].step_down_to
            days = self.number(step, (*path, "after_quiet_days"), zones[zone].after_quiet_days)
            zones[zone] = ZoneStepDown(target, days)
        return zones

    def modes(self, data: Mapping[str, Any]) -> ModeRule:
        table = self.table(data, ("modes",), _MODE_KEYS)
        default = ModeRule()
        return ModeRule(
            alert_quiet_days=self.number(
                table, ("modes", "alert_quiet_days"), default.alert_quiet_days
            ),
            recovery_days=self.number(table, ("modes", "recovery_days"), default.recovery_days),
        )

    def staffing(self, data: Mapping[str, Any]) -> StaffingRule:
        table = self.table(data, ("staffing",), _STAFFING_KEYS)
        default = StaffingRule()
        values: dict[str, Any] = {}
        for key in _STAFFING_INTS:
            if key not in table:
                continue
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int):
                self.wrong_type(("staffing", key), "an integer", value)
            else:
                values[key] = value
        if "max_staff_share" in table:
            value = table["max_staff_share"]
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.wrong_type(("staffing", "max_staff_share"), "a number", value)
            else:
                values["max_staff_share"] = float(value)
        if "auto_claim" in table:
            value = table["auto_claim"]
            if not isinstance(value, bool):
                self.wrong_type(("staffing", "auto_claim"), "true or false", value)
            else:
                values["auto_claim"] = value
        if "pools" in table:
            pools = self.names(table["pools"], ("staffing", "pools"), "pool levels")
            if pools is not None:
                values["pools"] = pools
        posts = dict(default.posts)
        for zone, roles in self.table(table, ("staffing", "posts"), _STEPPING).items():
            got = self.names(roles, ("staffing", "posts", zone), "roles")
            if got is not None:
                posts[zone] = got
        values["posts"] = posts
        return attrs.evolve(default, **values)

    def tickets(self, data: Mapping[str, Any]) -> TicketRule:
        table = self.table(data, ("tickets",), _TICKET_KEYS)
        default = TicketRule()
        values: dict[str, Any] = {}
        for key in ("low_score", "reopens"):
            if key not in table:
                continue
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int):
                self.wrong_type(("tickets", key), "an integer", value)
            else:
                values[key] = value
        if "emergency_zones" in table:
            zones = self.names(table["emergency_zones"], ("tickets", "emergency_zones"), "zones")
            if zones is not None:
                values["emergency_zones"] = zones
        values["hours"] = self.hours(table, ("tickets", "hours"), default.hours)
        categories = dict(default.categories)
        for name, given in self.table(table, ("tickets", "categories"), None).items():
            path: KeyPath = ("tickets", "categories", name)
            entry = self.table(table["categories"], path, _CATEGORY_KEYS)
            if not isinstance(given, dict):
                self.bad.add(path)
                continue
            known = categories.get(name)
            level = known.level if known is not None else None
            responsible = known.responsible if known is not None else None
            for key in ("level", "responsible"):
                if key not in entry:
                    continue
                if not isinstance(entry[key], str):
                    what = "a level name (a string)" if key == "level" else "a string"
                    self.wrong_type((*path, key), what, entry[key])
                elif key == "level":
                    level = entry[key]
                else:
                    responsible = entry[key]
            if level is None or responsible is None:
                missing = " and ".join(
                    k for k, v in (("level", level), ("responsible", responsible)) if v is None
                )
                if not self.bad.intersection(((*path, "level"), (*path, "responsible"))):
                    self.problem(
                        path,
                        f"a new category needs {missing} (level: one of "
                        f"{', '.join(TICKET_LEVELS)}; responsible: a department or post)",
                    )
                self.bad.add(path)
                continue
            own = known.hours if known is not None else {}
            hours = self.hours(entry, (*path, "hours"), own)
            categories[name] = TicketCategory(level, responsible, hours)
        values["categories"] = categories
        return attrs.evolve(default, **values)

    def hours(
        self, parent: Mapping[str, Any], path: KeyPath, base: Mapping[str, Mapping[str, float]]
    ) -> dict[str, dict[str, float]]:
        """A table of modes, each a table of hours per state, merged over ``base``."""
        merged = {mode: dict(steps) for mode, steps in base.items()}
        modes = self.table(parent, path, TICKET_MODES)
        for mode in TICKET_MODES:
            if mode not in modes:
                continue
            steps = self.table(modes, (*path, mode), TICKET_STEPS)
            into = merged.setdefault(mode, {})
            for state in TICKET_STEPS:
                if state not in steps:
                    continue
                value = steps[state]
                if isinstance(value, bool) or not isinstance(value, int | float):
                    self.wrong_type((*path, mode, state), "a number of hours", value)
                    continue
                try:
                    into[state] = float(value)
                except OverflowError:  # an integer beyond any float: too long in any case
                    into[state] = math.inf
        return merged

    def overrides(self, data: Mapping[str, Any]) -> int:
        table = self.table(data, ("overrides",), _OVERRIDE_KEYS)
        value = table.get("levels_above", 0)
        if isinstance(value, bool) or not isinstance(value, int):
            self.wrong_type(("overrides", "levels_above"), "an integer", value)
            return 0
        return value


def _unknown_key(key: str, allowed: tuple[str, ...], parent: KeyPath) -> str:
    if parent == ("zones",) and key == "open":
        return f"open is the lowest zone and has no step-down (allowed: {', '.join(allowed)})"
    return unknown_key(key, allowed)


# ------------------------------------------------------------ value checks


def _semantic_problems(rules: Rules) -> Iterator[tuple[KeyPath, str, tuple[KeyPath, ...]]]:
    """Problems of the values, each with the other paths whose values it depends on."""
    yield from _area_problems(rules)
    yield from _case_problems(rules)
    yield from _zone_problems(rules)
    yield from _duration_problems(("modes", "alert_quiet_days"), rules.modes.alert_quiet_days)
    yield from _duration_problems(("modes", "recovery_days"), rules.modes.recovery_days)
    yield from _staffing_problems(rules.staffing)
    yield from _ticket_problems(rules.tickets, rules.lines)
    levels_above = rules.override_levels_above
    if not 0 <= levels_above <= MAX_LEVELS_ABOVE:
        yield (
            ("overrides", "levels_above"),
            f"must be between 0 and {MAX_LEVELS_ABOVE} (the city is {MAX_LEVELS_ABOVE} "
            f"levels above a compound), got {levels_above}",
            (),
        )


def _staffing_problems(rule: StaffingRule) -> Iterator[tuple[KeyPath, str, tuple[KeyPath, ...]]]:
    for key in _STAFFING_INTS:
        value = getattr(rule, key)
        if not 1 <= value <= STAFFING_MAXIMA[key]:
            yield (
                ("staffing", key),
                f"must be from 1 to {STAFFING_MAXIMA[key]:,}, got {value}",
                (),
            )
    if not 0 < rule.max_staff_share <= 1:
        yield (
            ("staffing", "max_staff_share"),
            f"must be a share in (0, 1], got {rule.max_staff_share:g}",
            (),
        )
    if not rule.pools:
        yield ("staffing", "pools"), "needs at least one pool level", ()
    seen: set[str] = set()
    for index, level in enumerate(rule.pools):
        if level not in POOL_LEVELS:
            yield (
                ("staffing", "pools", index),
                f"unknown pool level {level!r} (expected one of: {', '.join(POOL_LEVELS)})",
                (),
            )
        elif level in seen:
            yield ("staffing", "pools", index), f"pool level {level!r} is listed twice", ()
        seen.add(level)
    for zone, roles in rule.posts.items():
        if zone not in _STEPPING:
            yield (
                ("staffing", "posts", zone),
                f"unknown zone {zone!r} (expected one of: {', '.join(_STEPPING)})",
                (),
            )
        for index, role in enumerate(roles):
            if role not in STAFF_ROLES:
                yield (
                    ("staffing", "posts", zone, index),
                    f"unknown role {role!r} (expected one of: {', '.join(STAFF_ROLES)})",
                    (),
                )


def _ticket_problems(
    rule: TicketRule, lines: Mapping[KeyPath, int]
) -> Iterator[tuple[KeyPath, str, tuple[KeyPath, ...]]]:
    if not 1 <= rule.low_score <= 5:
        yield (
            ("tickets", "low_score"),
            f"must be a score from 1 to 5 (scores below it are low), got {rule.low_score}",
            (),
        )
    if not 0 <= rule.reopens <= MAX_REOPENS:
        yield ("tickets", "reopens"), f"must be from 0 to {MAX_REOPENS}, got {rule.reopens}", ()
    seen: set[str] = set()
    for index, zone in enumerate(rule.emergency_zones):
        path: KeyPath = ("tickets", "emergency_zones", index)
        if zone not in _STEPPING:
            yield (
                path,
                f"unknown zone {zone!r} (expected one of: {', '.join(reversed(_STEPPING))})",
                (),
            )
        elif zone in seen:
            yield path, f"zone {zone!r} is listed twice", ()
        seen.add(zone)
    yield from _hours_problems(("tickets", "hours"), rule.hours, complete=True)
    for name, category in rule.categories.items():
        path = ("tickets", "categories", name)
        if not name.strip():
            yield path, "a category needs a name that is not blank", ()
        if category.level not in TICKET_LEVELS:
            yield (
                (*path, "level"),
                f"unknown level {category.level!r} (expected one of: {', '.join(TICKET_LEVELS)})",
                (),
            )
        if not category.responsible.strip():
            yield (*path, "responsible"), "needs a department or post that is not blank", ()
        yield from _hours_problems((*path, "hours"), category.hours, complete=False)
    # Emergency limits are the short ones; a longer one is almost surely swapped.
    reported: set[tuple[KeyPath, KeyPath]] = set()
    for name in rule.categories:
        for state in TICKET_STEPS:
            try:
                normal = rule.limit_hours(name, "normal", state)
                urgent = rule.limit_hours(name, "emergency", state)
            except KeyError:
                return  # a mode is missing: reported above
            if normal is None or urgent is None or not _positive(normal) or not _positive(urgent):
                continue
            if not urgent > normal:
                continue
            urgent_key = _limit_path(rule, name, "emergency", state)
            normal_key = _limit_path(rule, name, "normal", state)
            if (urgent_key, normal_key) in reported:
                continue
            reported.add((urgent_key, normal_key))
            whose = "" if len(urgent_key) == len(normal_key) == 4 else f"{name} "
            numbers = f"({format_number(urgent)} h against {format_number(normal)} h)"
            rule_text = "emergency limits are the shorter ones"
            if not lines or urgent_key in lines or normal_key not in lines:
                where, other = urgent_key, normal_key
                text = f"the emergency limit for {whose}{state} is longer than the normal one"
            else:
                where, other = normal_key, urgent_key
                text = f"the normal limit for {whose}{state} is shorter than the emergency one"
            yield where, f"{text} {numbers}; {rule_text}", (other,)


def _positive(hours: float) -> bool:
    return math.isfinite(hours) and hours > 0


def _hours_problems(
    path: KeyPath, hours: Mapping[str, Mapping[str, float]], complete: bool
) -> Iterator[tuple[KeyPath, str, tuple[KeyPath, ...]]]:
    for mode in TICKET_MODES:
        if complete and mode not in hours:
            yield (*path, mode), f"no time limits for the {mode} mode", ()
    for mode, steps in hours.items():
        if mode not in TICKET_MODES:
            yield (
                (*path, mode),
                f"unknown mode {mode!r} (expected one of: {', '.join(TICKET_MODES)})",
                (),
            )
            continue
        for state in TICKET_STEPS:
            if complete and state not in steps:
                yield (*path, mode), f"no time limit for {state}", ()
        for state, value in steps.items():
            if state not in TICKET_STEPS:
                yield (
                    (*path, mode, state),
                    f"unknown state {state!r} (expected one of: {', '.join(TICKET_STEPS)})",
                    (),
                )
            elif not _positive(value) or value > MAX_HOURS:
                yield (
                    (*path, mode, state),
                    f"must be a number of hours in (0, {MAX_HOURS}], got {format_number(value)}",
                    (),
                )


def _area_problems(rules: Rules) -> Iterator[tuple[KeyPath, str, tuple[KeyPath, ...]]]:
    for name, ids in rules.areas.items():
        path: KeyPath = ("areas", name)
        if name in SCOPE_LEVELS or name == OFF:
            yield path, f"{name!r} is a level or 'off', not usable as an area name", ()
        elif not name.strip():
            yield path, "an area needs a name that is not blank", ()
        if not ids:
            yield path, "an area needs at least one unit id", ()
        first: dict[str, int] = {}
        for index, unit in enumerate(ids):
            if not unit.strip():
                yield (*path, index), "a unit id cannot be blank", ()
            elif unit in first:
                yield (*path, index), f"unit {unit!r} is listed twice (also at [{first[unit]}])", ()
            first.setdefault(unit, index)


def _case_problems(rules: Rules) -> Iterator[tuple[KeyPath, str, tuple[KeyPath, ...]]]:
    def given(key: str) -> bool:
        # Rules built in code have no lines: every value counts as given.
        return not rules.lines or ("case", key) in rules.lines

    areas = ", ".join(rules.areas) or "none defined in [areas]"
    widest: tuple[str, str, int] | None = None  # key, scope, rank of the widest level so far
    for key in _CASE_KEYS:
        scope: str | None = getattr(rules.case, key)
        if scope is None or scope in rules.areas:
            continue
        path: KeyPath = ("case", key)
        if scope not in SCOPE_LEVELS:
            off = "" if key == "seal" else f", or {OFF!r}"
            yield (
                path,
                f"unknown scope {scope!r} (expected a level: {', '.join(SCOPE_LEVELS)}; "
                f"an area: {areas}{off})",
                (("areas", scope),),
            )
            continue
        rank = Level(scope).rank
        if widest is not None and rank > widest[2]:
            other_key, other, _ = widest
            rule = "scopes must widen: seal <= control <= precaution <= alert"
            if given(key) or not given(other_key):
                where, text = path, f"{scope!r} is narrower than case.{other_key} {other!r}"
            else:
                where = ("case", other_key)
                text = f"{other!r} is wider than case.{key} {scope!r} (the default)"
            yield where, f"{text}; {rule}", (("case", other_key), path)
        if widest is None or rank < widest[2]:
            widest = (key, scope, rank)


def _zone_problems(rules: Rules) -> Iterator[tuple[KeyPath, str, tuple[KeyPath, ...]]]:
    zones = rules.zones
    for zone in _STEPPING:
        if zone not in zones:
            yield ("zones", zone), f"{zone} has no step-down, so it could never be left", ()
    sound: set[str] = set()  # zones whose own step goes to a lower zone
    for zone, step in zones.items():
        path: KeyPath = ("zones", zone)
        if zone not in _STEPPING:
            yield (
                path,
                f"{zone!r} is not a zone that steps down (expected one of: {', '.join(_STEPPING)})",
                (),
            )
            continue
        target = step.step_down_to
        lower = ", ".join(z for z in ZONES if _SEVERITY[z] < _SEVERITY[zone])
        target_path: KeyPath = (*path, "step_down_to")
        if target not in _SEVERITY:
            yield target_path, f"unknown zone {target!r} (expected one of: {lower})", ()
        elif target == zone:
            yield (
                target_path,
                f"{zone} steps down to itself, so it could never be left "
                f"(expected one of: {lower})",
                (),
            )
        elif _SEVERITY[target] > _SEVERITY[zone]:
            yield (
                target_path,
                f"{target!r} is more severe than {zone}; a step-down goes to a lower zone "
                f"(expected one of: {lower})",
                (),
            )
        else:
            sound.add(zone)
        yield from _duration_problems((*path, "after_quiet_days"), step.after_quiet_days)
    # A zone whose own step is sound can still be stuck further down; say where.
    for zone in _STEPPING:
        if zone not in sound:
            continue
        trail = [zone]
        reason = ""
        while trail[-1] != "open":
            current = zones.get(trail[-1])
            if current is None:
                reason = f"{trail[-1]} has no step-down"
                break
            trail.append(current.step_down_to)
            if current.step_down_to not in _SEVERITY:
                reason = f"{current.step_down_to!r} is not a zone"
                break
            if current.step_down_to in trail[:-1]:
                reason = "a cycle"
                break
        if reason:
            involved = tuple(("zones", z, "step_down_to") for z in trail)
            yield (
                ("zones", zone),
                f"{zone} never steps down to open: {' -> '.join(trail)} ({reason})",
                involved,
            )


def _duration_problems(
    path: KeyPath, days: float
) -> Iterator[tuple[KeyPath, str, tuple[KeyPath, ...]]]:
    if not (math.isfinite(days) and 0 < days <= MAX_DAYS):
        yield path, f"must be a number of days in (0, {MAX_DAYS}], got {format_number(days)}", ()


# ----------------------------------------------------------------- writing


def _tickets_table(rule: TicketRule) -> dict[str, Any]:
    table: dict[str, Any] = {
        "low_score": rule.low_score,
        "reopens": rule.reopens,
        "emergency_zones": list(rule.emergency_zones),
        "hours": {
            mode: _hours_table(rule.hours[mode]) for mode in _canonical(rule.hours, TICKET_MODES)
        },
    }
    defaults = _default_categories()
    categories: dict[str, Any] = {}
    for name, category in rule.categories.items():
        # A file that leaves a limit out gets the default category's own one:
        # where this category has none, write the general limit it runs on.
        hours = {mode: dict(steps) for mode, steps in category.hours.items()}
        default = defaults.get(name)
        for mode, steps in default.hours.items() if default is not None else ():
            for state in steps:
                general = rule.hours.get(mode, {}).get(state)
                if state not in hours.get(mode, {}) and general is not None:
                    hours.setdefault(mode, {})[state] = general
        entry: dict[str, Any] = {"level": category.level, "responsible": category.responsible}
        written = {
            mode: _hours_table(hours[mode])
            for mode in _canonical(hours, TICKET_MODES)
            if hours[mode]
        }
        if written:
            entry["hours"] = written
        categories[name] = entry
    table["categories"] = categories
    return table


def _hours_table(steps: Mapping[str, float]) -> dict[str, int | float]:
    return {state: compact_number(steps[state]) for state in _canonical(steps, TICKET_STEPS)}


def _canonical(keys: Iterable[str], order: tuple[str, ...]) -> list[str]:
    """``keys`` in the order of ``order``, then the others as they come."""
    given = list(keys)
    return [k for k in order if k in given] + [k for k in given if k not in order]

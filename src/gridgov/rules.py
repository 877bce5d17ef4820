"""Declarative rules: what a confirmed case does, how measures step down, who may override.

Rules are read from TOML (the standard library's ``tomllib``) into a typed,
validated :class:`Rules` object; :meth:`Rules.default` mirrors practice. A
*scope* is where a measure applies: a level of the chain (``compound``,
``grid``, ``community``, ``street``, ``district``, ``city``) taken around the
case, or a named *area* (a group of units, e.g. the four urban districts that
the 17 September response sealed at once).

The file format (every key optional; defaults are practice)::

    version = 1

    [areas]
    urban = ["230803", "230804", "230805", "230811"]

    [case]                    # what one confirmed case in a compound does
    seal = "compound"         # sealed zone: this scope around the case
    control = "grid"          # controlled zone: the rest of this scope
    precaution = "community"  # precaution zone: the rest of this scope
    alert = "street"          # other communities of this scope go on alert

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
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from gridgov.model import Level

__all__ = ["ZONES", "CaseRule", "ModeRule", "Rules", "ZoneStepDown"]

#: Compound zones from open to sealed (the order of severity).
ZONES = ("open", "precaution", "controlled", "sealed")

#: Levels a scope may name, lowest first.
SCOPE_LEVELS = ("compound", "grid", "community", "street", "district", "city")


@attrs.frozen
class CaseRule:
    """What one confirmed case in a compound does.

    Each field is a scope: a level name or the name of an area; ``None``
    switches that measure off. Scopes widen in order: sealed within
    controlled within precaution within alert.
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


def _default_zones() -> dict[str, ZoneStepDown]:
    return {
        "sealed": ZoneStepDown("controlled", 14.0),
        "controlled": ZoneStepDown("precaution", 7.0),
        "precaution": ZoneStepDown("open", 7.0),
    }


@attrs.frozen
class Rules:
    """The validated rules an engine runs by."""

    #: Named groups of units usable as scopes, e.g. ``urban``.
    areas: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    #: What a confirmed case does.
    case: CaseRule = attrs.field(factory=CaseRule)
    #: Step-down of each zone other than ``open``.
    zones: Mapping[str, ZoneStepDown] = attrs.field(factory=_default_zones)
    #: Timings of community modes.
    modes: ModeRule = attrs.field(factory=ModeRule)
    #: A manual declaration needs a commander this many levels above its scope.
    override_levels_above: int = 0
    #: The file the rules came from ("<default>" for the built-in ones).
    source: str = "<default>"

    @classmethod
    def default(cls) -> Rules:
        """The rules of practice: seal the compound, control its grid, precaution
        for its community, alert for its street; 14/7/7 quiet days to step down."""
        return cls()

    def scope_level(self, scope: str) -> Level | None:
        """The level a scope names, or None when it names an area."""
        return Level(scope) if scope in SCOPE_LEVELS else None

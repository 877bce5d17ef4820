"""The errors gridgov raises.

Every error derives from :class:`GridgovError`, carries the ids involved as
attributes and a message a person can act on (what was wrong, with which id or
key, and what was expected)::

    GridgovError
    ├── ChainError           the command chain is malformed, or a unit is unknown
    │   └── UnknownUnitError an id or administrative code names no unit
    ├── GriddingError        households cannot be partitioned into grids as asked
    ├── PresetError          a preset was asked for with impossible parameters
    ├── RulesError           a rules file has problems (all of them, with file:line)
    ├── TransitionError      a trigger is not allowed in a unit's current state
    ├── AuthorityError       an actor commanded outside its jurisdiction
    ├── ClockError           a clock was moved back or given a naive time
    ├── JournalError         the event store is unreadable or inconsistent
    ├── AlertError           a CAP alert is malformed, hostile or not CAP 1.2
                             (defined in gridgov.alerts, exported as gridgov.AlertError)
    ├── ScenarioError        a scenario file has problems
    └── DepotsError          a depots.csv has problems (all of them, with file:line)

A command that raises leaves state and journal exactly as they were.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

__all__ = [
    "AuthorityError",
    "ChainError",
    "ClockError",
    "DepotsError",
    "GriddingError",
    "GridgovError",
    "JournalError",
    "PresetError",
    "Problem",
    "RulesError",
    "ScenarioError",
    "TransitionError",
    "UnknownUnitError",
]


class GridgovError(Exception):
    """Root of every error gridgov raises."""


class ChainError(GridgovError):
    """The command chain is malformed or a query names no unit.

    Attributes:
        ids: the offending unit ids, sorted.
    """

    def __init__(self, message: str, ids: Iterable[str] = ()) -> None:
        super().__init__(message)
        #: The ids of the units involved.
        self.ids: tuple[str, ...] = tuple(sorted(ids))


class UnknownUnitError(ChainError, KeyError):
    """An id or administrative code names no unit of the city."""

    def __init__(self, unit: str, kind: str = "unit") -> None:
        if kind.endswith(";"):
            message = f"no {kind[:-1]} {unit!r} in this city"
        else:
            message = f"no {kind} with id {unit!r} in this city"
        super().__init__(message, [unit])
        #: The id that was asked for.
        self.unit = unit

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class GriddingError(GridgovError):
    """Households cannot be partitioned into grids as asked."""


class PresetError(GridgovError):
    """A preset was asked for with parameters it cannot honour."""


@attrs.frozen
class Problem:
    """One problem found while validating a file.

    Rendered as ``file:line: key.path: what is wrong``.
    """

    #: Path of the file, as given.
    file: str
    #: 1-based line of the key or value, 0 when unknown.
    line: int
    #: Dotted key path, e.g. ``case.seal_compound``.
    key: str
    #: What is wrong and what was expected.
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.key}: {self.message}"


class _ProblemsError(GridgovError):
    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class RulesError(_ProblemsError):
    """A rules file has problems; ``.problems`` lists every one of them."""


class ScenarioError(_ProblemsError):
    """A scenario file has problems; ``.problems`` lists every one of them."""


class DepotsError(_ProblemsError):
    """A ``depots.csv`` has problems; ``.problems`` lists every one of them."""


class TransitionError(GridgovError):
    """A trigger is not allowed in a unit's current state; nothing changed.

    Attributes:
        unit: the unit's id.
        state: its current state.
        trigger: the trigger that was refused.
        allowed: the triggers allowed in that state, sorted.
    """

    def __init__(self, unit: str, state: str, trigger: str, allowed: Iterable[str]) -> None:
        self.unit = unit
        self.state = state
        self.trigger = trigger
        self.allowed: tuple[str, ...] = tuple(sorted(allowed))
        allowed_text = ", ".join(self.allowed) or "none"
        super().__init__(
            f"{unit} is {state}; {trigger!r} is not allowed there (allowed: {allowed_text})"
        )


class AuthorityError(GridgovError):
    """An actor commanded a unit outside its jurisdiction or authority.

    Attributes:
        actor: who commanded.
        target: the unit commanded.
        rule: the rule that refused it.
    """

    def __init__(self, actor: str, target: str, rule: str) -> None:
        self.actor = actor
        self.target = target
        self.rule = rule
        super().__init__(f"{actor} may not command {target}: {rule}")


class ClockError(GridgovError, ValueError):
    """A clock was asked to go back in time or given a time without a time zone."""


class JournalError(GridgovError):
    """The event store is unreadable, corrupted or inconsistent with the city."""

"""The errors gridgov raises.

Every error derives from :class:`GridgovError`, carries the ids involved as
attributes and a message a person can act on (what was wrong, with which id or
key, and what was expected)::

    GridgovError
    ├── NotFoundError          an id names nothing of its kind (also a KeyError)
    │   └── UnknownUnitError   an id or administrative code names no unit of the city
    │                          (also a ChainError)
    ├── ChainError             the command chain is malformed
    │   ├── UnknownUnitError
    │   └── CityError          a city's data (built in code or read from a bundle) has
    │                          problems: all of them, with file:line for a bundle
    ├── GriddingError          households cannot be partitioned into grids as asked
    ├── PresetError            a preset was asked for with impossible parameters
    ├── RulesError             a rules file has problems (all of them, with file:line)
    ├── ScenarioError          a scenario or sweep file has problems (all of them)
    ├── DepotsError            a depots.csv has problems (all of them, with file:line)
    ├── TransitionError        a trigger is not allowed in a unit's current state
    ├── AuthorityError         an actor commanded outside its jurisdiction
    ├── CommandError           a command was refused; ``.reason`` says why
    │   └── ArgumentError      a command's argument has the wrong type or value
    ├── ClockError             a clock was moved back or given a naive time (also a ValueError)
    ├── JournalError           the event store is unreadable or inconsistent
    ├── AlertError             a CAP alert is malformed, hostile or not CAP 1.2
    ├── RunFolderError         a folder cannot be written or read as a run folder
    ├── FileProblem            a file cannot be read (missing, not a regular file, too big,
    │                          not UTF-8); each loader turns it into its own error
    ├── InvariantError         an invariant of the design does not hold (also an
    │                          AssertionError; raised by gridgov.testing.check_invariants)
    ├── GeometryError          geometry (a geometry.geojson, an alert area) has problems
    └── MissingExtraError      an optional dependency (an extra of gridgov) is not installed

:class:`NotFoundError` is what lookups of tickets, tasks and actors raise;
units, compounds, buildings, people and organisations of the city raise its
subclass :class:`UnknownUnitError`. Catch ``NotFoundError`` to handle any id
that names nothing, ``UnknownUnitError`` for the city's own ids only.

A command that raises leaves state and journal exactly as they were.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

__all__ = [
    "AlertError",
    "ArgumentError",
    "AuthorityError",
    "ChainError",
    "CityError",
    "ClockError",
    "CommandError",
    "DepotsError",
    "FileProblem",
    "GeometryError",
    "GriddingError",
    "GridgovError",
    "InvariantError",
    "JournalError",
    "MissingExtraError",
    "NotFoundError",
    "PresetError",
    "Problem",
    "RulesError",
    "RunFolderError",
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


class NotFoundError(GridgovError, KeyError):
    """An id names nothing of its kind: no such ticket, task, actor, unit...

    Also a :class:`KeyError`, as a failed lookup is.

    Attributes:
        id: the id that was asked for.
        kind: what it should have named (``ticket``, ``open task``, ...).
    """

    def __init__(
        self, id: str, kind: str = "item", where: str = "", *, message: str | None = None
    ) -> None:
        # ``kind`` ending in ";" is a phrase of its own: "no {kind} {id!r}".
        if message is not None:
            pass
        elif kind.endswith(";"):
            message = f"no {kind[:-1]} {id!r}{where}"
        else:
            message = f"no {kind} with id {id!r}{where}"
        super().__init__(message)
        #: The id that was asked for.
        self.id = id
        #: What it should have named.
        self.kind = kind.removesuffix(";")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class UnknownUnitError(ChainError, NotFoundError):
    """An id or administrative code names no unit of the city."""

    def __init__(self, unit: str, kind: str = "unit") -> None:
        NotFoundError.__init__(self, unit, kind, " in this city")
        #: The ids of the units involved.
        self.ids: tuple[str, ...] = (unit,)
        #: The id that was asked for.
        self.unit = unit


class CityError(ChainError):
    """A city's data has problems: every one of them, not just the first.

    Raised by :meth:`gridgov.City.build` (problems of the objects given: file
    ``""``, line 0, the key names the object, e.g. ``person P9``; the message
    joins them with ``;`` on one line) and by :func:`gridgov.cities.load_city`
    (problems of a city bundle, one line each: ``FILE:LINE: column: what is
    wrong``).

    Attributes:
        problems: every problem found (a bundle's in file then line order, up
            to a cap; the last one then says how many more there were).
        ids: the ids involved, sorted.
    """

    def __init__(
        self, problems: Sequence[Problem], ids: Iterable[str] = (), message: str | None = None
    ) -> None:
        text = message if message is not None else "\n".join(str(p) for p in problems)
        super().__init__(text, ids)
        #: Every problem found.
        self.problems: tuple[Problem, ...] = tuple(problems)


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
    def __init__(self, problems: Sequence[Problem], message: str | None = None) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(message if message is not None else "\n".join(map(str, self.problems)))


class RulesError(_ProblemsError):
    """A rules file has problems; ``.problems`` lists every one of them."""


class ScenarioError(_ProblemsError):
    """A scenario file has problems; ``.problems`` lists every one of them."""


class DepotsError(_ProblemsError):
    """A ``depots.csv`` has problems; ``.problems`` lists every one of them.

    Also raised by :class:`gridgov.supplies.SupplyNetwork` for depots given in
    code (file ``""``, line 0, the key names the depot; the message is the
    problem alone).
    """


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


class CommandError(GridgovError):
    """A command was refused: its arguments or the state do not allow it; nothing changed.

    Raised by the engine's commands and by the pure planners they call (a
    ticket desk's, the bulk ticket path's, the supply planner's), before
    anything is applied.

    Attributes:
        reason: why, in a few words a program can test (e.g. ``"already open"``).
        command: the command refused, when known.
    """

    def __init__(self, message: str, reason: str = "", command: str | None = None) -> None:
        super().__init__(message)
        #: Why the command was refused.
        self.reason = reason or message
        #: The command refused, when known.
        self.command = command


class ArgumentError(CommandError):
    """A command's argument has the wrong type or value; the command was refused before it ran.

    Raised for every public command of :class:`gridgov.Engine` by the checks
    its signature declares (``docs/embedding.md``, *Typed arguments*): a wrong type, a
    naive datetime, NaN or infinity, a bool where a count is expected, a
    count or share out of range, an empty or over-long name.

    Attributes:
        argument: the argument's name (``away['volunteer']`` for an item).
        expected: what it should have been, in words.
    """

    def __init__(self, command: str, argument: str, expected: str, got: str) -> None:
        super().__init__(
            f"{command}: argument {argument} must be {expected}, got {got}",
            reason="bad argument",
            command=command,
        )
        #: The argument's name.
        self.argument = argument
        #: What it should have been.
        self.expected = expected


class ClockError(GridgovError, ValueError):
    """A clock was asked to go back in time or given a time without a time zone."""


class JournalError(GridgovError):
    """The event store is unreadable, corrupted or inconsistent with the city."""


class AlertError(GridgovError):
    """A CAP alert is malformed, hostile or outside the CAP 1.2 enumerations.

    The message is one line: which element (as a path such as
    ``alert/info[1]/urgency``), what it held and what was expected.

    Attributes:
        element: path of the offending element, or None for the document.
        alert: the alert's identifier when it was read before the problem.
    """

    def __init__(self, message: str, *, element: str | None = None, alert: str | None = None):
        super().__init__(message)
        #: Path of the offending element (``alert/info[1]/urgency``), if any.
        self.element = element
        #: The alert's ``<identifier>``, if it was read before the problem.
        self.alert = alert


class RunFolderError(GridgovError):
    """A folder cannot be written as a run folder, or read as one.

    Attributes:
        folder: the folder involved.
    """

    def __init__(self, message: str, folder: Path) -> None:
        super().__init__(message)
        #: The folder involved.
        self.folder = folder


class FileProblem(GridgovError):
    """Why a file cannot be read; each loader turns it into its own error.

    Attributes:
        reason: what is wrong, without the file name (``"is a folder, not a file"``).
        line: the 1-based line of a decoding error, 0 otherwise.
    """

    def __init__(self, reason: str, line: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


class InvariantError(GridgovError, AssertionError):
    """An invariant of the design does not hold (raised by ``gridgov.testing.check_invariants``)."""


class MissingExtraError(GridgovError):
    """An optional dependency (an extra of gridgov) is not installed, or fails to import.

    Attributes:
        module: the module that could not be imported.
        extra: the extra of gridgov that installs it.
    """

    def __init__(
        self, module: str, extra: str, cause: BaseException, *, message: str | None = None
    ) -> None:
        #: The module that could not be imported.
        self.module = module
        #: The extra that installs it.
        self.extra = extra
        if message is None:
            detail = (
                "is not installed" if isinstance(cause, ModuleNotFoundError) else f"failed: {cause}"
            )
            message = (
                f"{module} {detail}; install the {extra!r} extra: pip install 'gridgov[{extra}]'"
            )
        super().__init__(message)


class GeometryError(GridgovError):
    """Geometry is unreadable or has problems; ``.problems`` lists every one of them.

    Each problem of a file reads ``geometry.geojson: feature N (id): what is
    wrong`` (N counts from 0, as in the ``features`` array).
    """

    def __init__(self, problems: Iterable[str]) -> None:
        #: One line per problem.
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("\n".join(self.problems))

"""Typed, validated command arguments: a command's signature is its specification.

Every public command of :class:`gridgov.engine.Engine` declares its
arguments with the types below (``compound: Name``, ``capacity: Count``,
``at: Time | None``, ``away: Mapping[str, Share]``...). The ``@command``
decorator (:mod:`gridgov.commands`) reads the signature once and
:func:`check_call` holds every call to it, before the command runs: a wrong
type, a naive datetime, NaN or infinity, a bool where a number is expected, a
count or share out of range, an empty or over-long name, an unknown keyword
raises :class:`~gridgov.errors.ArgumentError` naming the argument, what was
expected and what came (shown short and escaped, never the whole value).

The checks are about form; what the values mean (an unknown compound, a zone
that is not a measure, a trigger the ticket's state does not allow) is for
the planners, which raise their own errors.
"""

from __future__ import annotations

import inspect
import math
import reprlib
import types
import typing
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Union

import attrs

from gridgov.errors import ArgumentError

__all__ = [
    "Actor",
    "Amount",
    "Count",
    "Fields",
    "Name",
    "Range",
    "Seed",
    "Share",
    "Signature",
    "Size",
    "Text",
    "Time",
    "Words",
    "check_call",
    "shown",
]


@attrs.frozen
class Text:
    """A string's length and characters: ``name`` refuses control characters."""

    #: Fewest characters.
    low: int = 0
    #: Most characters.
    high: int = 10_000
    #: A name or id (no control characters), not free text.
    name: bool = False

    def problem(self, value: str) -> str | None:
        if not self.low <= len(value) <= self.high:
            if self.low and not value:
                return "empty"
            return f"{len(value)} characters long"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "not valid Unicode (a lone surrogate)"
        if "\x00" in value:
            return "holding a NUL character"
        if self.name and any(unicodedata.category(c) == "Cc" for c in value):
            return "holding a control character"
        return None

    def describe(self) -> str:
        what = "a name" if self.name else "text"
        if self.low:
            return f"{what} of {self.low} to {self.high} characters"
        return f"{what} of at most {self.high} characters"


@attrs.frozen
class Range:
    """A number's bounds (inclusive); None: unbounded on that side."""

    low: float | None = None
    high: float | None = None

    def problem(self, value: float) -> str | None:
        if self.low is not None and value < self.low:
            return "too small"
        if self.high is not None and value > self.high:
            return "too large"
        return None

    def describe(self) -> str:
        low, high = _number(self.low), _number(self.high)
        if self.low is not None and self.high is not None:
            return f"from {low} to {high}"
        if self.low is not None:
            return f"at least {low}"
        return f"at most {high}"


def _number(value: float | None) -> str:
    if isinstance(value, int) and value >= 10**12 and str(value).rstrip("0") == "1":
        return f"10**{len(str(value)) - 1}"
    if isinstance(value, int) or (value is not None and value.is_integer() and value > 1e3):
        return f"{int(value):,}"
    return f"{value:g}"


@attrs.frozen
class Fields:
    """The data of ``**keywords``: each known keyword's type (unknown ones are the
    command's to refuse, with its own list of what it takes)."""

    types: Mapping[str, Any]


#: A unit, person, ticket, task, review or command id; an idempotency key; a
#: category or trigger name: 1 to 200 characters, no control characters.
Name = Annotated[str, Text(1, 200, name=True)]
#: An actor: a name, or empty (which the jurisdiction check refuses and audits).
Actor = Annotated[str, Text(0, 200, name=True)]
#: Free text (a description, a reason, a note): up to 10,000 characters.
Words = Annotated[str, Text(0, 10_000)]
#: A count of seats: a whole number from 1 to 1,000,000 (never a bool or 2.5).
Count = Annotated[int, Range(1, 1_000_000)]
#: A seed: a whole number from 0 to 10**30.
Seed = Annotated[int, Range(0, 10**30)]
#: A share: a finite number from 0 to 1.
Share = Annotated[float, Range(0.0, 1.0)]
#: An amount (requests, goods): a finite number from 0 to 10**12.
Amount = Annotated[float, Range(0.0, 1e12)]
#: A size in bytes: a whole number from 1 to 2**31.
Size = Annotated[int, Range(1, 2**31)]
#: A point in time with a time zone.
Time = datetime

#: How many items a mapping or sequence argument may have.
MAX_ITEMS = 100_000

_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 60
_short.maxlist = _short.maxtuple = _short.maxdict = _short.maxset = 4


def shown(value: object) -> str:
    """``value`` shown short, escaped (ASCII), whatever it is: for messages."""
    try:
        text = _short.repr(value)
    except Exception:  # a hostile __repr__
        text = f"<{type(value).__name__}>"
    return ascii(text)[1:-1].replace("\\'", "'")[:120]


def _got(value: object) -> str:
    if isinstance(value, str | bytes | int | float | datetime) or value is None:
        return shown(value)
    return f"{type(value).__name__} {shown(value)}"


class _Refusal(Exception):
    """Internal: one argument's problem (turned into an ArgumentError by check_call)."""

    def __init__(self, where: str, expected: str, got: str) -> None:
        super().__init__(where)
        self.where = where
        self.expected = expected
        self.got = got


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is Annotated:
        base, *meta = typing.get_args(hint)
        words = [m.describe() for m in meta if hasattr(m, "describe")]
        if base is str:
            return words[0] if words else "text"
        return f"{_describe(base)} {' '.join(words)}".strip()
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(h) for h in typing.get_args(hint))
    if hint is type(None):
        return "None"
    if hint is bool:
        return "True or False"
    if hint is int:
        return "a whole number (not a bool)"
    if hint is float:
        return "a finite number"
    if hint is str:
        return "text"
    if hint is bytes:
        return "bytes"
    if hint is datetime:
        return "a timezone-aware datetime"
    if origin in (Mapping, dict):
        key, value = typing.get_args(hint)
        return f"a mapping of {_describe(key)} to {_describe(value)}"
    if origin in (Sequence, list, tuple):
        return f"a list of {_describe(typing.get_args(hint)[0])}"
    if isinstance(hint, type):
        return f"a {hint.__name__}"
    return str(hint)


def _check(value: Any, hint: Any, where: str) -> None:
    """Raise _Refusal when ``value`` does not fit ``hint``."""
    if hint is Any or hint is object:
        return
    origin = typing.get_origin(hint)
    if origin is Annotated:
        _check_annotated(value, hint, where)
    elif origin in (Union, types.UnionType):
        _check_union(value, hint, where)
    elif origin in (Mapping, dict, Sequence, list, tuple):
        _check_container(value, hint, where)
    elif hint in _PLAIN:
        problem = _PLAIN[hint](value)
        if problem is not None:
            raise _Refusal(where, _describe(hint), problem)
    elif isinstance(hint, type):
        _check_record(value, hint, where)
    else:  # pragma: no cover - a coding error in a command's signature
        raise TypeError(f"no argument check for {hint!r}")


def _check_annotated(value: Any, hint: Any, where: str) -> None:
    base, *meta = typing.get_args(hint)
    try:
        _check(value, base, where)
    except _Refusal as refusal:
        raise _Refusal(where, _describe(hint), refusal.got) from None
    for constraint in meta:
        problem = constraint.problem(value) if hasattr(constraint, "problem") else None
        if problem is not None:
            raise _Refusal(where, _describe(hint), f"{_got(value)} ({problem})")


def _check_union(value: Any, hint: Any, where: str) -> None:
    refusals: list[_Refusal] = []
    for option in typing.get_args(hint):
        try:
            _check(value, option, where)
            return
        except _Refusal as exc:
            refusals.append(exc)
    # The closest miss: a value of the right type with a bad value says why.
    for refusal in refusals:
        if refusal.got != _got(value):
            raise refusal
    raise _Refusal(where, _describe(hint), _got(value))


def _check_container(value: Any, hint: Any, where: str) -> None:
    mapping = typing.get_origin(hint) in (Mapping, dict)
    if not isinstance(value, Mapping if mapping else list | tuple):
        raise _Refusal(where, _describe(hint), _got(value))
    if len(value) > MAX_ITEMS:
        raise _Refusal(where, _describe(hint), f"{len(value)} items")
    if isinstance(value, Mapping):
        key_hint, value_hint = typing.get_args(hint)
        for key, item in value.items():
            _check(key, key_hint, f"{where} key {shown(key)}")
            _check(item, value_hint, f"{where}[{shown(key)}]")
    else:
        item_hint = typing.get_args(hint)[0]
        for index, item in enumerate(value):
            _check(item, item_hint, f"{where}[{index}]")


def _check_record(value: Any, hint: type, where: str) -> None:
    if not isinstance(value, hint):
        raise _Refusal(where, _describe(hint), _got(value))
    record: Any = type(value)
    if attrs.has(record):
        # An attrs record (e.g. a resident's Private data): each field by its type.
        for field in attrs.fields(attrs.resolve_types(record)):
            if field.type is not None:
                _check(getattr(value, field.name), field.type, f"{where}.{field.name}")


def _none(value: Any) -> str | None:
    return None if value is None else _got(value)


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else _got(value)


def _int(value: Any) -> str | None:
    return None if isinstance(value, int) and not isinstance(value, bool) else _got(value)


def _float(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _got(value)
    return None if math.isfinite(value) else _got(value)


def _time(value: Any) -> str | None:
    if not isinstance(value, datetime):
        return _got(value)
    return None if value.utcoffset() is not None else f"{_got(value)} (no time zone)"


def _str(value: Any) -> str | None:
    if not isinstance(value, str):
        return _got(value)
    problem = Text().problem(value)
    return None if problem is None else f"{_got(value)} ({problem})"


def _bytes(value: Any) -> str | None:
    return None if isinstance(value, bytes) else _got(value)


#: The checks of plain types: value -> what was wrong with it (None: fine).
_PLAIN: dict[Any, Callable[[Any], str | None]] = {
    type(None): _none,
    bool: _bool,
    int: _int,
    float: _float,
    datetime: _time,
    str: _str,
    bytes: _bytes,
}


@attrs.frozen
class Signature:
    """A command's parameters and their declared types (read once per command)."""

    #: The command's name.
    command: str
    #: The Python signature (without ``self``).
    signature: inspect.Signature
    #: Parameter name -> declared type.
    hints: Mapping[str, Any]

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> Signature:
        """The signature of a command method ``fn(self, ...)``."""
        hints = typing.get_type_hints(fn, include_extras=True)
        full = inspect.signature(fn)
        parameters = list(full.parameters.values())[1:]
        hints = {p.name: hints.get(p.name, Any) for p in parameters}
        return cls(fn.__name__, full.replace(parameters=parameters), hints)


def check_call(spec: Signature, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Check a call's arguments against the command's declared types.

    Raises:
        ArgumentError: a missing or unknown argument, or one of the wrong type
            or value (the first found, in the signature's order).
    """
    try:
        bound = spec.signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise ArgumentError(
            spec.command, "(the call)", "a call of its signature", str(exc)
        ) from None
    try:
        for name, value in bound.arguments.items():
            hint = spec.hints[name]
            kind = spec.signature.parameters[name].kind
            if kind is inspect.Parameter.VAR_KEYWORD:
                fields = _fields_of(hint)
                for key, item in value.items():
                    if key in fields:
                        _check(item, fields[key], key)
            elif kind is inspect.Parameter.VAR_POSITIONAL:
                for index, item in enumerate(value):
                    _check(item, hint, f"{name}[{index}]")
            else:
                _check(value, hint, name)
    except _Refusal as refusal:
        raise ArgumentError(spec.command, refusal.where, refusal.expected, refusal.got) from None


def _fields_of(hint: Any) -> Mapping[str, Any]:
    if typing.get_origin(hint) is Annotated:
        for meta in typing.get_args(hint)[1:]:
            if isinstance(meta, Fields):
                return meta.types
    return {}

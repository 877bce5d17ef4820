"""Typed, validated command arguments: a command's signature is its specification.

Every public command of :class:`gridgov.engine.Engine` declares its
arguments with the types below (``compound: Name``, ``capacity: Count``,
``at: Time | None``, ``away: Mapping[str, Share]``...). The ``@command``
decorator (:mod:`gridgov._commands`) reads the signature once and
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

import functools
import inspect
import math
import reprlib
import types
import typing
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar, Union, cast

import attrs

from gridgov.errors import ArgumentError

__all__ = [
    "Actor",
    "Amount",
    "Checker",
    "Count",
    "Fields",
    "Name",
    "Quick",
    "Range",
    "Seed",
    "Share",
    "Signature",
    "Size",
    "Text",
    "Time",
    "Words",
    "check_call",
    "checked",
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
        if (
            self.name
            and not value.isprintable()
            and any(unicodedata.category(c) == "Cc" for c in value)
        ):
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


#: Checks one value (raises _Refusal naming ``where``); compiled once per declared type.
Checker = Callable[[Any, str], None]


def _compile(hint: Any) -> Checker:
    """The checker of values declared ``hint`` (built once per command, run per call)."""
    if hint is Any or hint is object:
        return _accept
    origin = typing.get_origin(hint)
    if hint is str:
        hint = Annotated[str, Text()]
        origin = Annotated
    if origin is Annotated:
        return _compile_annotated(hint)
    if origin in (Union, types.UnionType):
        return _compile_union(hint)
    if origin in (Mapping, dict, Sequence, list, tuple):
        return _compile_container(hint)
    if hint in _PLAIN:
        return _compile_plain(hint)
    if isinstance(hint, type):
        return _compile_record(hint)
    raise TypeError(f"no argument check for {hint!r}")  # pragma: no cover - a coding error


def _compile_plain(hint: Any) -> Checker:
    plain, expected = _PLAIN[hint], _describe(hint)

    def check_plain(value: Any, where: str) -> None:
        problem = plain(value)
        if problem is not None:
            raise _Refusal(where, expected, problem)

    return check_plain


def _accept(value: Any, where: str) -> None:
    return None


def _compile_annotated(hint: Any) -> Checker:
    base, *meta = typing.get_args(hint)
    # The base type itself (a bare str's default Text would come back here).
    inner = _compile_plain(base) if base in _PLAIN else _compile(base)
    expected = _describe(hint)
    constraints = [m for m in meta if hasattr(m, "problem")]

    def check_annotated(value: Any, where: str) -> None:
        try:
            inner(value, where)
        except _Refusal as refusal:
            raise _Refusal(where, expected, refusal.got) from None
        for constraint in constraints:
            problem = constraint.problem(value)
            if problem is not None:
                raise _Refusal(where, expected, f"{_got(value)} ({problem})")

    return check_annotated


def _compile_union(hint: Any) -> Checker:
    members = typing.get_args(hint)
    optional = type(None) in members
    options = [_compile(m) for m in members if m is not type(None)]
    expected = _describe(hint)

    def check_union(value: Any, where: str) -> None:
        if value is None and optional:
            return
        refusals: list[_Refusal] = []
        for option in options:
            try:
                option(value, where)
                return
            except _Refusal as exc:
                refusals.append(exc)
        # The closest miss: a value of the right type with a bad value says why.
        for refusal in refusals:
            if refusal.got != _got(value):
                raise refusal
        raise _Refusal(where, expected, _got(value))

    return check_union


def _compile_container(hint: Any) -> Checker:
    mapping = typing.get_origin(hint) in (Mapping, dict)
    kinds: Any = Mapping if mapping else list | tuple
    expected = _describe(hint)
    args = typing.get_args(hint)
    keys, items = (
        (_compile(args[0]), _compile(args[1])) if mapping else (_accept, _compile(args[0]))
    )

    def check_container(value: Any, where: str) -> None:
        if not isinstance(value, kinds):
            raise _Refusal(where, expected, _got(value))
        if len(value) > MAX_ITEMS:
            raise _Refusal(where, expected, f"{len(value)} items")
        if isinstance(value, Mapping):
            for key, item in value.items():
                try:
                    keys(key, where)
                    items(item, where)
                except _Refusal:
                    # Checked again naming the key: the place is spelled out only
                    # for a refusal (showing every key made big mappings slow).
                    keys(key, f"{where} key {shown(key)}")
                    items(item, f"{where}[{shown(key)}]")
                    raise
        else:
            for index, item in enumerate(value):
                items(item, f"{where}[{index}]")

    return check_container


def _compile_record(hint: type) -> Checker:
    expected = _describe(hint)
    fields: list[tuple[str, Checker]] = []
    if attrs.has(hint):
        # An attrs record (e.g. a resident's Private data): each field by its type.
        record: Any = hint
        fields = [
            (f.name, _compile(f.type))
            for f in attrs.fields(attrs.resolve_types(record))
            if f.type is not None
        ]

    def check_record(value: Any, where: str) -> None:
        if not isinstance(value, hint):
            raise _Refusal(where, expected, _got(value))
        for name, field in fields:
            field(getattr(value, name), f"{where}.{name}")

    return check_record


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
    # Its length and characters: the Text constraint (bare ``str`` gets the default one).
    return None if isinstance(value, str) else _got(value)


def _bytes(value: Any) -> str | None:
    return None if isinstance(value, bytes) else _got(value)


#: A check's quick path: True only when the full check would accept the value
#: (False: run the full check, which accepts it or says why not). Made once per
#: declared type; the common values (a short printable name, a number in range)
#: are accepted with a few comparisons, without the full check's calls.
Quick = Callable[[Any], bool]


def _never(value: Any) -> bool:
    return False


def _always(value: Any) -> bool:
    return True


def _quick(hint: Any) -> Quick:
    """The quick path of values declared ``hint`` (see :data:`Quick`)."""
    if hint is Any or hint is object:
        return _always
    if hint is str:
        hint = Annotated[str, Text()]
    origin = typing.get_origin(hint)
    if origin is Annotated:
        base, *meta = typing.get_args(hint)
        constraints = [m for m in meta if hasattr(m, "problem")]
        if len(constraints) == 1 and base is str and isinstance(constraints[0], Text):
            return _quick_text(constraints[0])
        if len(constraints) == 1 and base in (int, float) and isinstance(constraints[0], Range):
            return _quick_range(base, constraints[0])
        return _never
    if origin in (Union, types.UnionType):
        members = typing.get_args(hint)
        others = [m for m in members if m is not type(None)]
        if len(members) == 2 and len(others) == 1:
            inner = _quick(others[0])
            if inner is _never:
                return _never
            return lambda value: value is None or inner(value)
        return _never
    if origin in (Mapping, dict):
        keys, items = (_quick(h) for h in typing.get_args(hint))
        if keys is _never or items is _never:
            return _never

        def quick_mapping(value: Any) -> bool:
            if type(value) is not dict or len(value) > MAX_ITEMS:
                return False
            return all(keys(key) and items(item) for key, item in value.items())

        return quick_mapping
    if hint is bool:
        return lambda value: type(value) is bool
    if hint is int:
        return lambda value: type(value) is int
    if hint is type(None):
        return lambda value: value is None
    return _never


def _quick_text(text: Text) -> Quick:
    # A printable string holds no NUL, no control character and no lone surrogate
    # (str.isprintable is False for the categories Cc, Cf, Cs, Co, Cn, Zl, Zp, Zs
    # but the space): what Text.problem refuses beyond the length.
    low, high = text.low, text.high

    def quick_text(value: Any) -> bool:
        return type(value) is str and low <= len(value) <= high and value.isprintable()

    return quick_text


def _quick_range(base: type, bounds: Range) -> Quick:
    low, high = bounds.low, bounds.high
    if base is int:
        if low is None or high is None:
            return _never

        def quick_int(value: Any) -> bool:
            return type(value) is int and low <= value <= high

        return quick_int
    if low is None or high is None:
        return _never

    # Both bounds finite: NaN and the infinities fail the comparisons (and take the
    # full check, which names them).
    def quick_float(value: Any) -> bool:
        return (type(value) is float or type(value) is int) and low <= value <= high

    return quick_float


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
    """A command's parameters and their compiled checks (built once per command)."""

    #: The command's name.
    command: str
    #: Names of the parameters that may be given by position, in order.
    positional: tuple[str, ...]
    #: Names that may be given by keyword.
    keywords: frozenset[str]
    #: Names that must be given.
    required: frozenset[str]
    #: Parameter name -> its check.
    checks: Mapping[str, Checker]
    #: The checks of ``**keywords`` by name (None: the command takes none).
    fields: Mapping[str, Checker] | None
    #: Parameter name -> its check's quick path (:data:`Quick`).
    quick: Mapping[str, Quick] = attrs.field(factory=dict)
    #: Calls with at least this many positional arguments give every required
    #: parameter by position (None: some required parameter is keyword-only).
    leading: int | None = None

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> Signature:
        """The signature of a command method ``fn(self, ...)``."""
        hints = typing.get_type_hints(fn, include_extras=True)
        parameters = list(inspect.signature(fn).parameters.values())[1:]
        kind = inspect.Parameter
        positional = tuple(
            p.name
            for p in parameters
            if p.kind in (kind.POSITIONAL_ONLY, kind.POSITIONAL_OR_KEYWORD)
        )
        keywords = frozenset(
            p.name for p in parameters if p.kind in (kind.POSITIONAL_OR_KEYWORD, kind.KEYWORD_ONLY)
        )
        required = frozenset(
            p.name
            for p in parameters
            if p.default is p.empty and p.kind not in (kind.VAR_KEYWORD, kind.VAR_POSITIONAL)
        )
        checks = {
            p.name: _compile(hints.get(p.name, Any))
            for p in parameters
            if p.kind not in (kind.VAR_KEYWORD, kind.VAR_POSITIONAL)
        }
        fields: dict[str, Checker] | None = None
        for p in parameters:
            if p.kind is kind.VAR_KEYWORD:
                fields = {k: _compile(h) for k, h in _fields_of(hints.get(p.name, Any)).items()}
        quick = {
            p.name: _quick(hints.get(p.name, Any))
            for p in parameters
            if p.kind not in (kind.VAR_KEYWORD, kind.VAR_POSITIONAL)
        }
        leading = (
            max((positional.index(name) + 1 for name in required), default=0)
            if required <= set(positional)
            else None
        )
        return cls(fn.__name__, positional, keywords, required, checks, fields, quick, leading)


def check_call(spec: Signature, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Check a call's arguments against the command's declared types.

    Raises:
        ArgumentError: a missing, repeated or unknown argument, or one of the
            wrong type or value (the first found: positional ones, then
            keywords in the order given).
    """
    positional, quick, checks = spec.positional, spec.quick, spec.checks
    try:
        if len(args) > len(positional):
            raise _Refusal(
                "(the call)",
                f"at most {len(positional)} positional argument(s)",
                str(len(args)),
            )
        for name, value in zip(positional, args, strict=False):
            if kwargs and name in kwargs:
                raise _Refusal(name, "given once", "given by position and by keyword")
            if not quick[name](value):
                checks[name](value, name)
        for name, value in kwargs.items():
            if name in spec.keywords:
                if not quick[name](value):
                    checks[name](value, name)
            elif spec.fields is None:
                raise _Refusal(name, "an argument of the command", "an unknown keyword")
            elif name in spec.fields:
                spec.fields[name](value, name)
        if spec.leading is None or len(args) < spec.leading:
            given = set(positional[: len(args)]) | kwargs.keys()
            for name in sorted(spec.required - given):
                raise _Refusal(name, "given", "nothing")
    except _Refusal as refusal:
        raise ArgumentError(spec.command, refusal.where, refusal.expected, refusal.got) from None


_Method = TypeVar("_Method", bound=Callable[..., Any])


def checked(*, times: tuple[str, ...] = ()) -> Callable[[_Method], _Method]:
    """Hold every call to a public method to the types its signature declares, as the
    engine's commands are held (:func:`check_call`; the error names the method).

    Args:
        times: parameters left to the method itself (a time it checks and refuses
            with its own :class:`~gridgov.errors.ClockError`).
    """

    def decorate(fn: _Method) -> _Method:
        @functools.cache
        def spec() -> Signature:
            # Read on first use: the annotations may name types imported later.
            whole = Signature.of(fn)
            return attrs.evolve(
                whole,
                checks={**whole.checks, **dict.fromkeys(times, _accept)},
                quick={**whole.quick, **dict.fromkeys(times, _always)},
            )

        @functools.wraps(fn)
        def run(self: Any, /, *args: Any, **kwargs: Any) -> Any:
            check_call(spec(), args, kwargs)
            return fn(self, *args, **kwargs)

        return cast(_Method, run)

    return decorate


def _fields_of(hint: Any) -> Mapping[str, Any]:
    if typing.get_origin(hint) is Annotated:
        for meta in typing.get_args(hint)[1:]:
            if isinstance(meta, Fields):
                return meta.types
    return {}

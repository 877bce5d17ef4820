"""The TOML toolkit every file format of gridgov is read and written with.

gridgov's files (rules, scenarios, sweeps, city bundles) are TOML. Reading
one goes the same way for all of them, and this module holds the shared
steps, so that a problem reads alike whichever file it is in:

1. :func:`read_text` reads a file as UTF-8 (a byte-order mark is allowed);
   a file that cannot be read or decoded is one :class:`~gridgov.errors.Problem`.
2. :meth:`Document.parse` parses it with the standard library's ``tomllib``;
   a syntax error is one problem at its line (:func:`syntax_problem`), and
   :func:`locate` maps every key path of the text to the line that defines
   it, since ``tomllib`` gives values but no positions.
3. A reader walks the data with a :class:`Reader`, which collects every type
   problem at once (unknown keys with a "did you mean", wrong types described
   as the file spells them) and remembers the rejected paths.
4. :func:`placed` gives each problem its file and line, rendered
   ``file:line: key.path: what is wrong`` (:func:`render_key`).

Writing goes through ``tomli-w`` (:func:`dumps`); :func:`format_value` spells
one value as TOML for messages.

This module is private machinery of gridgov (its names may change); the
formats' own modules (:mod:`gridgov.rules`, :mod:`gridgov.sim.scenario`,
:mod:`gridgov.sim.sweep`) are the public face.
"""

from __future__ import annotations

import contextlib
import datetime
import difflib
import math
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import tomli_w

from gridgov._files import FileProblem, read_limited_text
from gridgov.errors import GridgovError, Problem

__all__ = [
    "BARE_KEY",
    "Document",
    "KeyPath",
    "Reader",
    "compact_number",
    "depth",
    "describe",
    "did_you_mean",
    "dumps",
    "format_number",
    "format_string",
    "format_value",
    "line_of",
    "locate",
    "ordered",
    "parse",
    "placed",
    "quote_key",
    "read_text",
    "render_key",
    "render_tail",
    "resolve_path",
    "syntax_problem",
    "unknown_key",
]

#: A key path inside a TOML file: table and key names, and indices into arrays.
KeyPath = tuple[str | int, ...]

#: What makes the error a reader raises from a list of problems
#: (:class:`~gridgov.errors.RulesError`, :class:`~gridgov.errors.ScenarioError`, ...).
ErrorFactory = Callable[[Sequence[Problem]], GridgovError]

#: A key TOML lets be written without quotes.
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


# ---------------------------------------------------------------- reading


def read_text(
    path: str | os.PathLike[str], error: ErrorFactory, key: str = "(file)", kind: str = "TOML"
) -> str:
    """The text of a UTF-8 file (a byte-order mark is dropped), within the size of its kind.

    Args:
        path: the file.
        error: makes the error to raise from the one problem found.
        key: the key the problem is reported under.
        kind: what the file is, a key of :data:`gridgov._files.LIMITS`
            (its largest size).

    Returns:
        The text.

    Raises:
        GridgovError: made by ``error``: the file cannot be read, is not a
            regular file or is too large (line 0), or is not UTF-8 (at the
            line of the first bad byte).
    """
    source = os.fspath(path)
    try:
        return read_limited_text(source, kind)
    except FileProblem as exc:
        raise error([Problem(source, exc.line, key, exc.reason)]) from None


def resolve_path(base: str | os.PathLike[str], written: str) -> str:
    """A path written in a file, relative to the file's folder ``base``, as a
    person would write it (``a/../b`` folded)."""
    return os.path.normpath(os.path.join(base, written))


@attrs.frozen
class Document:
    """A parsed TOML file: its data, the line of each key path, where it came from."""

    #: The data ``tomllib`` gives.
    data: Mapping[str, Any]
    #: The 1-based line of each key path (see :func:`locate`).
    lines: Mapping[KeyPath, int]
    #: The file name used in problems.
    source: str

    @classmethod
    def parse(cls, text: str, source: str, error: ErrorFactory) -> Document:
        """Parse the text of a TOML file.

        Raises:
            GridgovError: made by ``error``: the text is not TOML (one problem
                at the line of the syntax error).
        """
        data = parse(text, source)
        if isinstance(data, Problem):
            raise error([data])
        return cls(data, locate(text), source)


#: Tables and arrays may nest this deep in any TOML file gridgov reads (its
#: formats need five levels); deeper input is refused, so that nothing (the
#: parser, a reader, a deep copy) can exhaust Python's recursion on it.
MAX_DEPTH = 16


def parse(text: str, source: str) -> dict[str, Any] | Problem:
    """The data of a TOML text, or the one problem that stops it being read.

    Every exception of the parser becomes a located problem: a syntax error
    at its line, nesting deeper than :data:`MAX_DEPTH` at the line it gets too
    deep (the parser recurses, so depth is also checked on what it returns).
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return syntax_problem(exc, text, source)
    except RecursionError:
        return _too_deep(text, source)
    except ValueError as exc:  # tomllib's own checks on values (dates, numbers)
        return Problem(source, 0, "(syntax)", f"invalid TOML: {' '.join(str(exc).split())}")
    if depth(data) > MAX_DEPTH:
        return _too_deep(text, source)
    return data


def depth(value: object) -> int:
    """How deep tables and arrays nest in ``value`` (iteratively: no recursion to exhaust);
    counted up to one past :data:`MAX_DEPTH`."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: list[object] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level + 1)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def _too_deep(text: str, source: str) -> Problem:
    """The problem of a text nested too deeply, at the line where it first gets too deep."""
    level, line = 0, 1
    for char in text:  # brackets counted roughly (strings not skipped): a line to look at
        if char == "\n":
            line += 1
        elif char in "[{":
            level += 1
            if level > MAX_DEPTH:
                break
        elif char in "]}":
            level = max(0, level - 1)
    else:
        line = 1  # nested by dotted keys or headers: no bracket count tells where
    message = f"tables and arrays nest deeper than {MAX_DEPTH} levels"
    return Problem(source, line, "(syntax)", message)


_ERROR_AT = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")


def syntax_problem(exc: tomllib.TOMLDecodeError, text: str, source: str) -> Problem:
    """The problem of a text ``tomllib`` rejected, at the line of the error."""
    message = str(exc)
    line: int | None = getattr(exc, "lineno", None)  # Python 3.14 and later
    column: int | None = getattr(exc, "colno", None)
    match = _ERROR_AT.search(message)
    if match is not None:
        message = message[: match.start()]
        if match[1] is not None:
            line, column = int(match[1]), int(match[2])
    if line is None:  # "at end of document"
        line, column = max(1, text.count("\n") + (0 if text.endswith("\n") else 1)), None
    where = f" (column {column})" if column else ""
    return Problem(source, line, "(syntax)", f"invalid TOML{where}: {message}")


class Reader:
    """Walks the data of a document, collecting every type problem in one pass.

    A reader of a format calls these methods (or subclasses this class); a
    rejected value is replaced by its default so that reading goes on, and
    ``bad`` remembers the rejected paths so that later checks on the values
    do not blame the defaults.
    """

    def __init__(self) -> None:
        #: (key path, message) of every problem found, not yet placed.
        self.found: list[tuple[KeyPath, str]] = []
        #: Key paths whose value was rejected.
        self.bad: set[KeyPath] = set()

    def problem(self, path: KeyPath, message: str) -> None:
        """Record a problem of the value at ``path`` (and reject the value)."""
        self.found.append((path, message))
        self.bad.add(path)

    def wrong_type(self, path: KeyPath, expected: str, value: object) -> None:
        """Record that the value at ``path`` is not ``expected``."""
        self.problem(path, f"expected {expected}, got {describe(value)}")

    def unknown_keys(self, table: Mapping[str, Any], path: KeyPath, allowed: Sequence[str]) -> None:
        """Record every key of ``table`` not in ``allowed``, with a "did you mean"."""
        for key in table:
            if key not in allowed:
                self.problem((*path, key), unknown_key(key, allowed))

    def table(
        self, parent: Mapping[str, Any], path: KeyPath, allowed: Sequence[str] | None
    ) -> dict[str, Any]:
        """The table at ``path`` (empty when absent or not a table), unknown keys reported."""
        name = path[-1]
        assert isinstance(name, str)
        value = parent.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.wrong_type(path, "a table", value)
            return {}
        if allowed is not None:
            self.unknown_keys(value, path, allowed)
        return value

    def number(
        self, table: Mapping[str, Any], path: KeyPath, default: float, what: str = "a number"
    ) -> float:
        """The number at ``path`` as a float (integers beyond any float: infinity)."""
        name = path[-1]
        assert isinstance(name, str)
        if name not in table:
            return default
        value = table[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.wrong_type(path, what, value)
            return default
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float: too long in any case
            return math.inf

    def names(self, value: object, path: KeyPath, what: str) -> tuple[str, ...] | None:
        """An array of strings, or None (problem reported)."""
        if not isinstance(value, list):
            self.wrong_type(path, f"an array of {what}", value)
            return None
        wrong = [i for i, item in enumerate(value) if not isinstance(item, str)]
        for index in wrong:
            self.wrong_type((*path, index), "a string", value[index])
        if wrong:
            self.bad.add(path)
            return None
        return tuple(value)


def did_you_mean(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The choice closest to ``word``, or None when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return close[0] if close else None


def unknown_key(key: str, allowed: Sequence[str]) -> str:
    """The message for a key that is not one of ``allowed``."""
    close = did_you_mean(key, allowed)
    hint = f"; did you mean {close!r}?" if close else ""
    return f"unknown key{hint} (allowed: {', '.join(allowed)})"


def describe(value: object) -> str:
    """What a value read from TOML is, as a person would say it: ``a string ("14")``."""
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a float ({value!r})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({format_string(shown)})"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a date or time ({value})"


# --------------------------------------------------------------- problems


def placed(
    found: Iterable[tuple[KeyPath, str]], source: str, lines: Mapping[KeyPath, int]
) -> list[Problem]:
    """Problems with their file and line, in line order (stable for one line)."""
    problems = [Problem(source, line_of(lines, path), render_key(path), m) for path, m in found]
    return sorted(problems, key=lambda problem: problem.line)


def ordered(problems: Iterable[Problem], first: Sequence[str]) -> list[Problem]:
    """Problems grouped by file (``first`` in that order, then as met), each in line order."""
    files: dict[str, list[Problem]] = {name: [] for name in first}
    for problem in problems:
        files.setdefault(problem.file, []).append(problem)
    return [p for group in files.values() for p in sorted(group, key=lambda p: p.line)]


def line_of(lines: Mapping[KeyPath, int], path: KeyPath) -> int:
    """The line of ``path``, else of its nearest enclosing key or table; 0 if none."""
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return 0


def render_key(path: KeyPath) -> str:
    """``areas.urban[2]``; keys that are not bare are quoted as in TOML."""
    return render_tail(path).lstrip(".")


def render_tail(path: KeyPath) -> str:
    """The rest of a key path after another: ``[0].day``, ``.medicine``."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{quote_key(part)}" for part in path)


# ----------------------------------------------------------------- writing


def dumps(document: Mapping[str, Any], comments: Iterable[str] = ()) -> str:
    """A TOML document, written by ``tomli-w``.

    Args:
        document: tables (mappings) and values; ``None`` values are left out
            (TOML has no null: a missing key takes its default), tuples are
            written as arrays.
        comments: lines written first, each as a ``#`` comment.

    Returns:
        The TOML text, ending with a newline.

    Raises:
        TypeError: a value TOML cannot hold.
    """
    header = "".join(f"# {' '.join(line.splitlines())}\n" for line in comments)
    return header + tomli_w.dumps(_plain(document))


def _plain(value: Any) -> Any:
    """Mappings as dicts without ``None`` values, all the way down."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value if v is not None]
    return value


def compact_number(value: float) -> int | float:
    """A whole float as an int (``14.0`` is written ``14``), anything else as it is."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def format_number(value: float) -> str:
    """A number as TOML spells it, whole floats without ``.0`` (for messages)."""
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)  # inf and nan are spelled the same in TOML


def format_string(text: str) -> str:
    """A TOML basic string; escapes what TOML forbids raw (quote, backslash, controls)."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char < " " or char == "\x7f":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def quote_key(key: str) -> str:
    """A key as TOML writes it: bare when it can be, quoted otherwise."""
    return key if BARE_KEY.fullmatch(key) else format_string(key)


def format_value(value: object) -> str:
    """Any value ``tomllib`` gives, spelt on one line as TOML (for messages)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return format_number(value)
    if isinstance(value, str):
        return format_string(value)
    if isinstance(value, Mapping):
        items = ", ".join(f"{quote_key(str(k))} = {format_value(v)}" for k, v in value.items())
        return f"{{ {items} }}" if items else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as TOML: {value!r}")


# ---------------------------------------------------------------- locator


def locate(text: str) -> dict[KeyPath, int]:
    """The 1-based line that defines each key path of a TOML document.

    Table headers (``[a.b]``, ``[[a]]``), dotted keys, inline tables (each key
    at its own line), array elements (``path[i]`` at the line the element
    starts) and strings of every kind are understood, so that nothing inside
    a string or a multi-line array is mistaken for a key. Meant for text that
    ``tomllib`` accepted; it never fails, it gives up quietly instead.
    """
    return _Locator(text).run()


class _Locator:
    """The scanner behind :func:`locate`."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0
        self._line = 1
        self._array_tables: dict[KeyPath, int] = {}
        self.lines: dict[KeyPath, int] = {}

    def run(self) -> dict[KeyPath, int]:
        # Only text that tomllib rejects could trip the scanner; lines found so far stand.
        with contextlib.suppress(IndexError, ValueError):
            self._document()
        return self.lines

    def _peek(self) -> str:
        return self._text[self._pos] if self._pos < len(self._text) else ""

    def _at_end(self) -> bool:
        return self._pos >= len(self._text)

    def _define(self, path: KeyPath) -> None:
        for end in range(1, len(path)):
            self.lines.setdefault(path[:end], self._line)
        self.lines[path] = self._line

    def _skip_spaces(self) -> None:
        while self._peek() in (" ", "\t", "\r") and not self._at_end():
            self._pos += 1

    def _skip_blank(self) -> None:
        """Spaces, comments and newlines."""
        while not self._at_end():
            self._skip_spaces()
            char = self._peek()
            if char == "#":
                end = self._text.find("\n", self._pos)
                self._pos = len(self._text) if end < 0 else end
            elif char == "\n":
                self._line += 1
                self._pos += 1
            else:
                return

    def _document(self) -> None:
        table: KeyPath = ()
        while True:
            self._skip_blank()
            if self._at_end():
                return
            start = self._pos
            if self._peek() == "[":
                table = self._header()
            else:
                path = table + self._key()
                self._skip_spaces()
                if self._peek() == "=":
                    self._pos += 1
                self._define(path)
                self._skip_spaces()
                self._value(path)
            if self._pos == start:  # never loop on text the scanner does not understand
                self._pos += 1

    def _header(self) -> KeyPath:
        array = self._text.startswith("[[", self._pos)
        self._pos += 2 if array else 1
        path = self._key()
        self._skip_spaces()
        self._pos += 2 if array else 1
        if array:
            index = self._array_tables.get(path, 0)
            self._array_tables[path] = index + 1
            path = (*path, index)
        self._define(path)
        return path

    def _key(self) -> KeyPath:
        parts: list[str] = []
        while True:
            self._skip_spaces()
            if self._peek() in ('"', "'") and not self._at_end():
                parts.append(_decode_key(self._string()))
            else:
                match = BARE_KEY.match(self._text, self._pos)
                if match is None:
                    return tuple(parts)
                parts.append(match.group())
                self._pos = match.end()
            self._skip_spaces()
            if self._peek() != ".":
                return tuple(parts)
            self._pos += 1

    def _string(self) -> str:
        """Skip one string of any kind, counting the newlines inside; returns its text."""
        text = self._text
        start = self._pos
        quote = text[self._pos]
        if text.startswith(quote * 3, self._pos):
            self._pos += 3
            while not self._at_end():
                char = text[self._pos]
                if char == "\\" and quote == '"':
                    self._pos += 1
                    if self._peek() == "\n":
                        self._line += 1
                    self._pos += 1
                elif text.startswith(quote * 3, self._pos):
                    self._pos += 3
                    # Up to two more quotes still belong to the string: """a""""".
                    for _ in range(2):
                        if self._peek() == quote:
                            self._pos += 1
                    break
                else:
                    if char == "\n":
                        self._line += 1
                    self._pos += 1
        else:
            self._pos += 1
            while not self._at_end():
                char = text[self._pos]
                if char == "\\" and quote == '"':
                    self._pos += 2
                    continue
                if char == "\n":  # unterminated: leave the newline to the caller
                    break
                self._pos += 1
                if char == quote:
                    break
        return text[start : self._pos]

    def _value(self, path: KeyPath) -> None:
        char = self._peek()
        if char in ('"', "'") and not self._at_end():
            self._string()
        elif char == "[":
            self._pos += 1
            index = 0
            while True:
                self._skip_blank()
                if self._at_end() or self._peek() == "]":
                    self._pos += 1
                    return
                start = self._pos
                element = (*path, index)
                self.lines[element] = self._line
                self._value(element)
                self._skip_blank()
                if self._peek() == "," or self._pos == start:
                    self._pos += 1
                index += 1
        elif char == "{":
            self._pos += 1
            while True:
                self._skip_blank()
                if self._at_end() or self._peek() == "}":
                    self._pos += 1
                    return
                start = self._pos
                if self._peek() == ",":
                    self._pos += 1
                    continue
                key = (*path, *self._key())
                self._skip_spaces()
                if self._peek() == "=":
                    self._pos += 1
                self._define(key)
                self._skip_spaces()
                self._value(key)
                if self._pos == start:
                    self._pos += 1
        else:  # number, boolean, date or time: up to the next delimiter
            while not self._at_end() and self._text[self._pos] not in ",]}#\n":
                self._pos += 1


def _decode_key(raw: str) -> str:
    """The name a quoted key stands for; ``tomllib`` undoes the escapes."""
    try:
        value = tomllib.loads(f"k = {raw}")["k"]
    except tomllib.TOMLDecodeError:  # pragma: no cover - only on text tomllib rejects
        return raw.strip("\"'")
    return value if isinstance(value, str) else raw

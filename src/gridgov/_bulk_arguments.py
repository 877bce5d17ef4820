"""The bulk ticket path's arguments, checked at its public entry: whole arrays at once.

:class:`gridgov.tickets.TicketArrays` takes names, ticket indices, times and
scores as sequences or numpy arrays, thousands at a time. Each is checked
before anything changes, with a few numpy passes over the whole array (its
kind, its minimum and maximum), never a Python step per item on the happy
path; only a refused argument is searched item by item, to name the first
bad one. The internal callers (the simulation's request load), whose arrays
are right by construction, call the ``_checked`` methods and skip all this.

The refusals are those of the per-ticket desk for the same mistakes:
:class:`~gridgov.errors.ArgumentError` for an argument of the wrong form (a
string where a list of names is expected, a table, floats or bools where
whole numbers are expected, a repeated ticket), :class:`~gridgov.errors.ClockError`
for a time that is not one or is out of the range a desk takes,
:class:`~gridgov.errors.NotFoundError` for an index or a name that names
nothing, :class:`~gridgov.errors.CommandError` for lengths that differ.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from gridgov._arguments import Text, shown
from gridgov._ticket_stream import EARLIEST, EARLIEST_US, LATEST, LATEST_US, not_a_sequence
from gridgov.errors import ArgumentError, ClockError, CommandError, GridgovError, NotFoundError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "capacity",
    "index",
    "indices",
    "lengths",
    "names",
    "scores",
    "times",
    "trigger",
]

#: The most tickets a TicketArrays is made room for up front (it grows past it).
MAX_CAPACITY = 100_000_000

_NAME = Text(1, 200, name=True)
#: Integer dtypes by their code (``u1``... ``u8``, ``i8``), made on first use
#: (importing gridgov does not load numpy).
_DTYPE: dict[str, Any] = {}
_RANGE = f"between {EARLIEST.date()} and {LATEST.date()}"


def _got(value: object) -> str:
    """``value`` for a message: an array by its dtype and shape, anything else shown."""
    dtype, shape = getattr(value, "dtype", None), getattr(value, "shape", None)
    if dtype is not None and shape is not None:
        return f"an array of {dtype}, shape {shape}"
    if isinstance(value, str | bytes | int | float) or value is None:
        return shown(value)
    return f"{type(value).__name__} {shown(value)}"


def _sequence(method: str, name: str, value: object, expected: str) -> None:
    """``value`` is a sequence or a one-dimensional array.

    Raises:
        ArgumentError: a string, bytes, a mapping, a set, a scalar, a table.
    """
    if not_a_sequence(value):
        raise ArgumentError(method, name, expected, _got(value))


def _whole(value: Any) -> bool:
    """A whole number, as numpy or Python gives one (never a bool)."""
    import numpy

    return value.__class__ is int or isinstance(value, numpy.integer)


def _integers(
    method: str, name: str, value: Any, expected: tuple[str, str], error: type[GridgovError]
) -> Any:
    """``value`` (a sequence or a 1-D array) as an array of whole numbers; ``expected``
    says what an item and what the array should be, for the message.

    Raises:
        ArgumentError or ``error``: an item is not a whole number (a float,
            NaN, a bool, a string, None) or is beyond 64 bits, the first one named.
    """
    import numpy

    if not isinstance(value, numpy.ndarray):
        kinds = set(map(type, value))
        if not kinds <= {int} and not all(k is int or issubclass(k, numpy.integer) for k in kinds):
            at = next(i for i, item in enumerate(value) if not _whole(item))
            _refuse(method, f"{name}[{at}]", expected[0], _got(value[at]), error)
        try:
            value = numpy.asarray(value, dtype=numpy.int64)
        except OverflowError:
            at = next(i for i, item in enumerate(value) if not -(2**63) <= item < 2**63)
            _refuse(method, f"{name}[{at}]", expected[0], f"{value[at]} (beyond 64 bits)", error)
    if value.dtype.kind not in "iu":
        if value.size == 0:
            return numpy.zeros(0, numpy.int64)
        _refuse(method, name, expected[1], _got(value), error)
    return value


def _refuse(method: str, where: str, expected: str, got: str, error: type[GridgovError]) -> None:
    if error is ClockError:
        raise ClockError(f"{method}: {where} must be {expected}, got {got}")
    raise ArgumentError(method, where, expected, got)


def _dtype(code: str) -> Any:
    """The numpy dtype ``code`` (one object each: compared by identity)."""
    if not _DTYPE:
        import numpy

        _DTYPE.update({c: numpy.dtype(c) for c in ("u1", "u2", "u4", "u8", "i8")})
    return _DTYPE[code]


def _plain(value: Any) -> bool:
    """A one-dimensional numpy array of whole numbers: the common input, checked with
    no more than its range (and the items of anything else one by one)."""
    import numpy

    return value.__class__ is numpy.ndarray and value.ndim == 1 and value.dtype.kind in "iu"


def _under(array: Any, n: int) -> bool:
    """Every item of ``array`` (whole numbers) is in ``0..n - 1``: one pass, as the
    largest of the items seen unsigned (a negative one is then the largest)."""
    import numpy

    if not array.size:
        return True
    kind = array.dtype
    if kind.kind == "i":
        array = array.view(_dtype(f"u{kind.itemsize}"))
    return bool(numpy.maximum.reduce(array) < n)


def _first_outside(array: Any, low: int, high: int) -> int | None:
    """The position of the first item of ``array`` outside ``low..high`` (None: none)."""
    import numpy

    if not array.size or (array.min() >= low and array.max() <= high):
        return None
    return int(numpy.flatnonzero((array < low) | (array > high))[0])


def lengths(method: str, given: Mapping[str, Any], optional: str = "") -> int:
    """The common length of the sequences ``given`` (name -> value; ``optional`` may
    be None: not given).

    Raises:
        ArgumentError: one is not a sequence or a one-dimensional array.
        CommandError: their lengths differ.
    """
    count: int | None = None
    for name, value in given.items():
        if value is None and name == optional:
            continue
        _sequence(method, name, value, "a sequence or a one-dimensional array")
        if count is None:
            count = len(value)
        elif len(value) != count:
            sizes = ", ".join(f"{n} {len(v)}" for n, v in given.items() if v is not None)
            raise CommandError(
                f"{method}: {', '.join(given)} must have the same length (got {sizes})",
                reason="lengths differ",
            )
    return count or 0


def names(
    method: str,
    name: str,
    values: Any,
    index: Mapping[str, int],
    dtype: Any,
    unknown: Callable[[str], GridgovError],
    what: str,
) -> Any:
    """Names (or their indices, an array of whole numbers) as an array of indices into
    ``index``; ``values`` is a sequence or a 1-D array (:func:`lengths` checked it).

    Raises:
        ArgumentError: an item is not a name (not a string, empty, holding a NUL
            or a control character) or an array of numbers is not of whole numbers.
        NotFoundError: ``unknown(name)`` for a name ``index`` does not hold; an
            index outside ``0..len(index) - 1`` (of a ``what``).
    """
    import numpy

    if isinstance(values, numpy.ndarray) and values.dtype.kind in "biufc":
        expected = (f"a {what} index", f"{what} indices (whole numbers)")
        array = _integers(method, name, values, expected, ArgumentError)
        _within(method, name, array, len(index), what)
        return array.astype(dtype)
    if isinstance(values, numpy.ndarray):
        values = values.tolist()
    try:
        return numpy.array([index[v] for v in values], dtype=dtype)
    except Exception:  # (an unknown name, or not a name at all: found below)
        pass
    for at, value in enumerate(values):
        if not isinstance(value, str):
            raise ArgumentError(method, f"{name}[{at}]", _NAME.describe(), _got(value))
        problem = _NAME.problem(value)
        if problem is not None:
            raise ArgumentError(
                method, f"{name}[{at}]", _NAME.describe(), f"{shown(value)} ({problem})"
            )
        try:
            known = value in index
        except Exception:  # a string of a hostile subclass
            known = False
        if not known:
            raise unknown(str.__str__(value))
    raise AssertionError("unreachable: a lookup failed on names that all look up")


def _held(n: int) -> str:
    return f"indices run 0..{n - 1}" if n else "there are none"


def _within(method: str, name: str, array: Any, n: int, what: str) -> None:
    """Every item of ``array`` (whole numbers) is the index of one of ``n`` ``what``s.

    Raises:
        NotFoundError: the first that is not, named by its position.
    """
    if _under(array, n):
        return
    bad = _first_outside(array, 0, n - 1)
    assert bad is not None
    value = int(array[bad])
    raise NotFoundError(
        f"#{value}",
        what,
        message=f"{method}: {name}[{bad}] is {value}: no {what} #{value} ({_held(n)})",
    )


def indices(
    method: str, idx: Any, n: int, stamps: npt.NDArray[Any] | None = None
) -> npt.NDArray[np.int64]:
    """Ticket indices: whole numbers in ``0..n - 1``, each at most once when ``stamps``
    (an integer array with room for ``n`` stamps, contents never read before written)
    is given.

    Raises:
        ArgumentError: not a sequence of whole numbers, or a ticket given twice.
        NotFoundError: an index names no ticket.
    """
    import numpy

    if _plain(idx):
        array = idx
    else:
        _sequence(method, "idx", idx, "a sequence of ticket indices")
        expected = ("a ticket index", "ticket indices (whole numbers)")
        array = _integers(method, "idx", idx, expected, ArgumentError)
    _within(method, "idx", array, n, "ticket")
    out: npt.NDArray[np.int64] = array if array.dtype is _dtype("i8") else array.astype(numpy.int64)
    if stamps is not None and out.size > 1:
        # Each position stamps its ticket; a ticket given twice keeps one stamp only,
        # so one of its positions reads another's (one pass, no sort). Among the first
        # n + 1 positions some ticket repeats if any does after them (n tickets only),
        # so no more positions are stamped than there are tickets, plus one.
        head = out[: n + 1]
        positions = numpy.arange(head.size, dtype=stamps.dtype)
        stamps[head] = positions
        twice = stamps.take(head) != positions
        if numpy.count_nonzero(twice):
            at = int(numpy.flatnonzero(twice)[0])
            raise ArgumentError(
                method,
                "idx",
                "distinct ticket indices (a ticket takes one step a call)",
                f"ticket #{int(head[at])} more than once",
            )
    return out


def times(method: str, name: str, at: Any, count: int | None) -> Any:
    """``at`` (not a datetime) in microseconds since 1970: an int, or an int64 array of
    ``count`` times (``count`` None: only one time for all is taken).

    Raises:
        ClockError: not a time (a float, NaN, a bool, a string, None, an array of
            anything but whole numbers) or out of the range a desk takes.
        ArgumentError: an array of the wrong shape or length, or one where one
            time for all is expected.
    """
    import numpy

    if at.__class__ is not int and (
        isinstance(at, numpy.integer)
        or (isinstance(at, numpy.ndarray) and at.ndim == 0 and at.dtype.kind in "iu")
    ):
        at = int(at)
    if at.__class__ is int:
        if not EARLIEST_US <= at < LATEST_US:
            raise ClockError(f"{method}: {name} is {at} (microseconds since 1970), not {_RANGE}")
        return at
    if count is not None and _plain(at) and len(at) == count:
        return _in_range(method, name, at)
    expected = "a time (an aware datetime or whole microseconds since 1970)"
    if not isinstance(at, numpy.ndarray | list | tuple) or getattr(at, "ndim", 1) == 0:
        raise ClockError(f"{method}: {name} must be {expected}, got {_got(at)}")
    if count is None:
        raise ArgumentError(method, name, f"{expected}, one for all", _got(at))
    shape = f"one time for all, or one per ticket ({count} expected)"
    if getattr(at, "ndim", 1) != 1 or len(at) != count:
        raise ArgumentError(method, name, shape, _got(at))
    expected_item = ("whole microseconds since 1970", "whole microseconds since 1970 (int64)")
    return _in_range(method, name, _integers(method, name, at, expected_item, ClockError))


def _in_range(method: str, name: str, array: Any) -> npt.NDArray[np.int64]:
    """``array`` (whole numbers) as int64 times, each in the range a desk takes.

    Raises:
        ClockError: the first time out of the range, named by its position.
    """
    import numpy

    if array.size and (
        numpy.minimum.reduce(array) < EARLIEST_US or numpy.maximum.reduce(array) >= LATEST_US
    ):
        bad = _first_outside(array, EARLIEST_US, LATEST_US - 1)
        raise ClockError(
            f"{method}: {name}[{bad}] is {int(array[bad])} (microseconds since 1970), not {_RANGE}"
        )
    out: npt.NDArray[np.int64] = array.astype(numpy.int64, copy=False)
    return out


def scores(method: str, given: Any, count: int) -> npt.NDArray[np.int64]:
    """Scores, one per ticket, whole numbers from 1 to 5.

    Raises:
        ArgumentError: not a sequence of whole numbers.
        CommandError: not one per ticket, or one outside 1..5.
    """
    import numpy

    _sequence(method, "scores", given, "a sequence of scores, one per ticket")
    if len(given) != count:
        raise CommandError(
            f"{method}: one score per ticket ({count} expected, got {len(given)})",
            reason="one score per ticket",
        )
    expected = ("a whole number from 1 to 5", "whole numbers from 1 to 5")
    array = _integers(method, "scores", given, expected, ArgumentError)
    bad = _first_outside(array, 1, 5)
    if bad is not None:
        raise CommandError(
            f"{method}: scores[{bad}] is {int(array[bad])}; a score is a whole number from 1 to 5",
            reason="score outside 1..5",
        )
    out: npt.NDArray[np.int64] = array.astype(numpy.int64, copy=False)
    return out


def trigger(method: str, value: object) -> str:
    """A trigger's name (what it names is the caller's to check).

    Raises:
        ArgumentError: not a string.
    """
    if not isinstance(value, str):
        raise ArgumentError(method, "trigger", "a trigger name", _got(value))
    return value


def index(method: str, value: object, n: int) -> int:
    """One ticket index, a whole number in ``0..n - 1``.

    Raises:
        ArgumentError: not a whole number.
        NotFoundError: no such ticket.
    """
    if not _whole(value):
        raise ArgumentError(method, "index", "a ticket index (a whole number)", _got(value))
    number = operator.index(value)  # type: ignore[arg-type]
    if not 0 <= number < n:
        raise NotFoundError(
            f"#{number}",
            "ticket",
            message=f"{method}: index is {number}: no ticket #{number} ({_held(n)})",
        )
    return number


def capacity(value: object) -> int:
    """A TicketArrays' room made up front: a whole number from 0 to :data:`MAX_CAPACITY`.

    Raises:
        ArgumentError: anything else.
    """
    number = operator.index(value) if _whole(value) else -1  # type: ignore[arg-type]
    if not 0 <= number <= MAX_CAPACITY:
        raise ArgumentError(
            "TicketArrays", "capacity", f"a whole number from 0 to {MAX_CAPACITY:,}", _got(value)
        )
    return number

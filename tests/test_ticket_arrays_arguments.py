# (the calls are of the wrong types on purpose)
# mypy: disable-error-code="arg-type, call-overload, unused-ignore"
"""Hostile arguments to the bulk ticket path: a clear GridgovError, nothing changed.

:class:`gridgov.tickets.TicketArrays` takes whole batches: names or indices of
origins, categories and modes, ticket indices, times and scores, as sequences
or numpy arrays. Each public method checks them before anything changes (a
batch is applied whole or not at all), with the error classes the per-ticket
desk uses for the same mistakes (tests/test_ticket_arguments.py).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridgov import ArgumentError, ClockError, CommandError, GridgovError, NotFoundError
from gridgov.clock import EPOCH
from gridgov.errors import TransitionError, UnknownUnitError
from gridgov.presets import small
from gridgov.tickets import TicketArrays

CITY = small()
GRIDS = sorted(CITY.chain.units("grid"))
GRID = GRIDS[0]
COMMUNITY = sorted(CITY.chain.units("community"))[0]
US = TicketArrays.micros(EPOCH)
HOUR = 3_600_000_000
#: The first and the last microsecond a desk takes (years 1 to 9000).
FIRST = TicketArrays.micros(datetime(1, 1, 2, tzinfo=UTC))
LAST = TicketArrays.micros(datetime(8999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
STEPS = ("classify", "track", "supervise", "feed_back")


def arrays_with_four() -> TicketArrays:
    """Four tickets opened at US (capacity 2, so they grew): #0 and #1 accepted, #2
    classified, #3 fed back (waiting for a score)."""
    arrays = TicketArrays(CITY, capacity=2)
    arrays.open([GRID] * 4, ["repair"] * 4, US)
    arrays.fire([2, 3], "classify", US)
    for step in STEPS[1:]:
        arrays.fire([3], step, US)
    return arrays


def digest(arrays: TicketArrays) -> str:
    """Every ticket's every field (and how many there are)."""
    h = hashlib.sha256(str(arrays.n).encode())
    for name in TicketArrays.FIELDS:
        column = getattr(arrays, name)[: arrays.n]
        h.update(name.encode() + str(column.dtype).encode() + column.tobytes())
    return h.hexdigest()


class Hostile:
    """An object whose hash and equality raise."""

    def __hash__(self) -> int:
        raise RuntimeError("no hash")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no equality")


def _open(*args: Any, **kwargs: Any) -> Callable[[TicketArrays], object]:
    return lambda a: a.open(*args, **kwargs)


#: (name, call, the error expected, what its message must name).
CALLS: list[tuple[str, Callable[[TicketArrays], object], type[GridgovError], str]] = [
    # open: the form of the three name arguments
    ("origins one string", _open(GRID, ["repair"], US), ArgumentError, "origins"),
    ("origins None", _open(None, ["repair"], US), ArgumentError, "origins"),
    ("origins a set", _open({GRID}, ["repair"], US), ArgumentError, "origins"),
    ("origins a mapping", _open({GRID: 1}, ["repair"], US), ArgumentError, "origins"),
    ("origins a generator", _open((g for g in [GRID]), ["repair"], US), ArgumentError, "origins"),
    ("origins a table", _open(np.array([[0]]), ["repair"], US), ArgumentError, "origins"),
    ("origins a number", _open(5, ["repair"], US), ArgumentError, "origins"),
    ("categories one string", _open([GRID], "repair", US), ArgumentError, "categories"),
    ("modes one string", _open([GRID], ["repair"], US, "normal"), ArgumentError, "modes"),
    # open: items that are not names
    ("origin unhashable", _open([[GRID]], ["repair"], US), ArgumentError, "origins[0]"),
    ("origin a number", _open([GRID, 5], ["repair"] * 2, US), ArgumentError, "origins[1]"),
    ("origin None", _open([None], ["repair"], US), ArgumentError, "origins[0]"),
    ("origin bytes", _open([GRID.encode()], ["repair"], US), ArgumentError, "origins[0]"),
    ("origin empty", _open([""], ["repair"], US), ArgumentError, "origins[0]"),
    ("origin a NUL", _open([GRID + "\x00"], ["repair"], US), ArgumentError, "origins[0]"),
    ("origin a control", _open(["G\x1b"], ["repair"], US), ArgumentError, "origins[0]"),
    ("origin too long", _open(["G" * 201], ["repair"], US), ArgumentError, "origins[0]"),
    ("origin hostile", _open([Hostile()], ["repair"], US), ArgumentError, "origins[0]"),
    ("origins of bytes", _open(np.array([b"G"]), ["repair"], US), ArgumentError, "origins[0]"),
    ("category None", _open([GRID], [None], US), ArgumentError, "categories[0]"),
    ("category a list", _open([GRID], [["repair"]], US), ArgumentError, "categories[0]"),
    ("mode a bool", _open([GRID], ["repair"], US, [True]), ArgumentError, "modes[0]"),
    # open: names and indices that name nothing
    ("origin unknown", _open(["G-404"], ["repair"], US), UnknownUnitError, "G-404"),
    ("origin not a grid", _open([COMMUNITY], ["repair"], US), CommandError, COMMUNITY),
    ("category unknown", _open([GRID], ["nope"], US), NotFoundError, "nope"),
    ("mode unknown", _open([GRID], ["repair"], US, ["panic"]), NotFoundError, "panic"),
    ("origin index -1", _open(np.array([-1]), ["repair"], US), NotFoundError, "origins[0]"),
    ("origin index 10**6", _open(np.array([10**6]), ["repair"], US), NotFoundError, "origins[0]"),
    ("origin index 2**33", _open(np.array([2**33]), ["repair"], US), NotFoundError, "origins[0]"),
    ("origin indices float", _open(np.array([0.0]), ["repair"], US), ArgumentError, "origins"),
    ("origin indices bool", _open(np.array([True]), ["repair"], US), ArgumentError, "origins"),
    ("category index -1", _open([GRID], np.array([-1]), US), NotFoundError, "categories[0]"),
    ("category index 99", _open([GRID], np.array([99]), US), NotFoundError, "categories[0]"),
    ("mode index 2", _open([GRID], ["repair"], US, np.array([2])), NotFoundError, "modes[0]"),
    ("mode index -1", _open([GRID], ["repair"], US, np.array([-1])), NotFoundError, "modes[0]"),
    ("modes of floats", _open([GRID], ["repair"], US, np.array([0.5])), ArgumentError, "modes"),
    ("lengths differ", _open([GRID] * 2, ["repair"], US), CommandError, "same length"),
    ("modes shorter", _open([GRID], ["repair"], US, []), CommandError, "same length"),
    # open: times
    ("at a bool", _open([GRID], ["repair"], True), ClockError, "at"),
    ("at a float", _open([GRID], ["repair"], float(US)), ClockError, "at"),
    ("at NaN", _open([GRID], ["repair"], math.nan), ClockError, "nan"),
    ("at infinity", _open([GRID], ["repair"], math.inf), ClockError, "inf"),
    ("at a string", _open([GRID], ["repair"], "2022-09-17"), ClockError, "2022-09-17"),
    ("at None", _open([GRID], ["repair"], None), ClockError, "at"),
    ("at naive", _open([GRID], ["repair"], datetime(2022, 9, 17)), ClockError, "no time zone"),
    (
        "at year 9999",
        _open([GRID], ["repair"], datetime(9999, 1, 1, tzinfo=UTC)),
        ClockError,
        "9999",
    ),
    ("at 10**30", _open([GRID], ["repair"], 10**30), ClockError, str(10**30)),
    ("at -10**18", _open([GRID], ["repair"], -(10**18)), ClockError, str(-(10**18))),
    ("at just past", _open([GRID], ["repair"], LAST + 1), ClockError, str(LAST + 1)),
    ("at just before", _open([GRID], ["repair"], FIRST - 1), ClockError, str(FIRST - 1)),
    ("at an np.float64", _open([GRID], ["repair"], np.float64(US)), ClockError, "at"),
    ("at floats", _open([GRID], ["repair"], np.array([float(US)])), ClockError, "float64"),
    (
        "at objects",
        _open([GRID], ["repair"], np.array([EPOCH], dtype=object)),
        ClockError,
        "object",
    ),
    ("at datetime64", _open([GRID], ["repair"], np.array([1], "datetime64[us]")), ClockError, "at"),
    ("at bools", _open([GRID], ["repair"], np.array([True])), ClockError, "bool"),
    (
        "at uint64 max",
        _open([GRID], ["repair"], np.array([2**64 - 1], np.uint64)),
        ClockError,
        "at[0]",
    ),
    ("at past 9000", _open([GRID], ["repair"], np.array([US, LAST + 1])[1:]), ClockError, "at[0]"),
    ("at a list of 10**30", _open([GRID], ["repair"], [10**30]), ClockError, "at[0]"),
    ("at a list with a bool", _open([GRID] * 2, ["repair"] * 2, [US, True]), ClockError, "at[1]"),
    ("at a list with a float", _open([GRID] * 2, ["repair"] * 2, [US, 1.5]), ClockError, "at[1]"),
    ("at a list with None", _open([GRID], ["repair"], [None]), ClockError, "at[0]"),
    ("at a table", _open([GRID], ["repair"], np.array([[US]])), ArgumentError, "at"),
    ("at too many", _open([GRID], ["repair"], np.array([US, US])), ArgumentError, "1 expected"),
    ("at too few", _open([GRID] * 3, ["repair"] * 3, [US]), ArgumentError, "3 expected"),
    # fire
    ("fire a repeated ticket", lambda a: a.fire([0, 1, 0], "classify", US), ArgumentError, "#0"),
    (
        "fire repeated in an array",
        lambda a: a.fire(np.array([1, 1]), "reject", US),
        ArgumentError,
        "#1",
    ),
    ("fire ticket 4", lambda a: a.fire([4], "classify", US), NotFoundError, "#4"),
    ("fire ticket -1", lambda a: a.fire([-1], "classify", US), NotFoundError, "#-1"),
    (
        "fire ticket -1 in int8",
        lambda a: a.fire(np.array([-1], np.int8), "classify", US),
        NotFoundError,
        "#-1",
    ),
    (
        "fire ticket 2**63",
        lambda a: a.fire(np.array([2**63], np.uint64), "classify", US),
        NotFoundError,
        "idx[0]",
    ),
    ("fire a float index", lambda a: a.fire([0.0], "classify", US), ArgumentError, "idx[0]"),
    ("fire a bool index", lambda a: a.fire([True], "classify", US), ArgumentError, "idx[0]"),
    ("fire a string index", lambda a: a.fire(["0"], "classify", US), ArgumentError, "idx[0]"),
    ("fire NaN index", lambda a: a.fire([math.nan], "classify", US), ArgumentError, "idx[0]"),
    ("fire index of 10**30", lambda a: a.fire([10**30], "classify", US), ArgumentError, "idx[0]"),
    (
        "fire string indices",
        lambda a: a.fire(np.array(["0"]), "classify", US),
        ArgumentError,
        "idx",
    ),
    ("fire float indices", lambda a: a.fire(np.array([0.0]), "classify", US), ArgumentError, "idx"),
    (
        "fire bool mask",
        lambda a: a.fire(np.array([True] * 4), "classify", US),
        ArgumentError,
        "idx",
    ),
    ("fire one index", lambda a: a.fire(0, "classify", US), ArgumentError, "idx"),
    ("fire a 0-d index", lambda a: a.fire(np.int64(0), "classify", US), ArgumentError, "idx"),
    ("fire a table", lambda a: a.fire(np.array([[0]]), "classify", US), ArgumentError, "idx"),
    ("fire a set", lambda a: a.fire({0}, "classify", US), ArgumentError, "idx"),
    ("fire trigger a list", lambda a: a.fire([0], ["classify"], US), ArgumentError, "trigger"),
    (
        "fire trigger an array",
        lambda a: a.fire([0], np.array(["score"]), US),
        ArgumentError,
        "trigger",
    ),
    ("fire trigger None", lambda a: a.fire([0], None, US), ArgumentError, "trigger"),
    ("fire unknown trigger", lambda a: a.fire([0], "nope", US), CommandError, "nope"),
    ("fire score", lambda a: a.fire([3], "score", US), CommandError, "score"),
    ("fire reopen", lambda a: a.fire([3], "reopen", US), CommandError, "reopen"),
    ("fire not allowed", lambda a: a.fire([0, 3], "classify", US), TransitionError, "#3"),
    ("fire at 10**30", lambda a: a.fire([0], "classify", 10**30), ClockError, str(10**30)),
    ("fire at NaN", lambda a: a.fire([0], "classify", math.nan), ClockError, "nan"),
    (
        "fire times too many",
        lambda a: a.fire([0], "classify", [US, US]),
        ArgumentError,
        "1 expected",
    ),
    (
        "fire times past 9000",
        lambda a: a.fire([0, 1], "classify", np.array([US, 2**62])),
        ClockError,
        "at[1]",
    ),
    ("fire times of floats", lambda a: a.fire([0], "classify", np.array([1.5])), ClockError, "at"),
    # score
    ("score 2.5", lambda a: a.score([3], [2.5], US), ArgumentError, "scores[0]"),
    ("score NaN", lambda a: a.score([3], [math.nan], US), ArgumentError, "scores[0]"),
    ("score True", lambda a: a.score([3], [True], US), ArgumentError, "scores[0]"),
    ("score '5'", lambda a: a.score([3], ["5"], US), ArgumentError, "scores[0]"),
    ("score None", lambda a: a.score([3], [None], US), ArgumentError, "scores[0]"),
    ("scores of floats", lambda a: a.score([3], np.array([4.0]), US), ArgumentError, "scores"),
    ("scores one number", lambda a: a.score([3], 5, US), ArgumentError, "scores"),
    ("scores a string", lambda a: a.score([3], "5", US), ArgumentError, "scores"),
    ("score 0", lambda a: a.score([3], [0], US), CommandError, "scores[0]"),
    ("score 6", lambda a: a.score([3], np.array([6]), US), CommandError, "scores[0]"),
    ("score -2**63", lambda a: a.score([3], np.array([-(2**63)]), US), CommandError, "scores[0]"),
    ("scores too many", lambda a: a.score([3], [5, 5], US), CommandError, "1 expected"),
    ("score repeated", lambda a: a.score([3, 3], [5, 1], US), ArgumentError, "#3"),
    ("score a ticket not waiting", lambda a: a.score([3, 0], [5, 5], US), TransitionError, "#0"),
    ("score at a string", lambda a: a.score([3], [5], "now"), ClockError, "now"),
    ("score index 9", lambda a: a.score([9], [5], US), NotFoundError, "#9"),
    # sweep
    ("sweep times without idx", lambda a: a.sweep(np.array([US] * 4)), ArgumentError, "now"),
    ("sweep a list without idx", lambda a: a.sweep([US]), ArgumentError, "now"),
    ("sweep repeated", lambda a: a.sweep(US + 10 * HOUR, [1, 1]), ArgumentError, "#1"),
    ("sweep index 4", lambda a: a.sweep(US, [4]), NotFoundError, "#4"),
    ("sweep 10**30", lambda a: a.sweep(10**30), ClockError, str(10**30)),
    ("sweep NaN", lambda a: a.sweep(math.nan), ClockError, "nan"),
    ("sweep None", lambda a: a.sweep(None), ClockError, "now"),
    ("sweep a bool", lambda a: a.sweep(False), ClockError, "now"),
    ("sweep naive", lambda a: a.sweep(datetime(2022, 9, 18)), ClockError, "no time zone"),
    ("sweep times of floats", lambda a: a.sweep(np.array([1e18]), [0]), ClockError, "now"),
    ("sweep times too few", lambda a: a.sweep(np.array([US]), [0, 1]), ArgumentError, "2 expected"),
    # legal (a read, but its arguments are held to the same form)
    ("legal trigger a list", lambda a: a.legal([0], ["classify"]), ArgumentError, "trigger"),
    ("legal index 4", lambda a: a.legal([4], "classify"), NotFoundError, "#4"),
    ("legal float indices", lambda a: a.legal([0.5], "classify"), ArgumentError, "idx[0]"),
    # reads of one ticket
    ("state_of 4", lambda a: a.state_of(4), NotFoundError, "#4"),
    ("state_of -1", lambda a: a.state_of(-1), NotFoundError, "#-1"),
    ("state_of 1.0", lambda a: a.state_of(1.0), ArgumentError, "index"),  # type: ignore[arg-type]
    ("unit_of True", lambda a: a.unit_of(True), ArgumentError, "index"),
    ("unit_of a list", lambda a: a.unit_of([0]), ArgumentError, "index"),  # type: ignore[arg-type]
    ("due_of None", lambda a: a.due_of(None), ArgumentError, "index"),  # type: ignore[arg-type]
    (
        "due_of 2 (capacity, not a ticket)",
        lambda a: arrays_opened(1).due_of(1),
        NotFoundError,
        "#1",
    ),
    # making one
    ("capacity -1", lambda a: TicketArrays(CITY, capacity=-1), ArgumentError, "capacity"),
    ("capacity 2.5", lambda a: TicketArrays(CITY, capacity=2.5), ArgumentError, "capacity"),  # type: ignore[arg-type]
    ("capacity True", lambda a: TicketArrays(CITY, capacity=True), ArgumentError, "capacity"),
    ("capacity 10**12", lambda a: TicketArrays(CITY, capacity=10**12), ArgumentError, "capacity"),
    ("capacity None", lambda a: TicketArrays(CITY, capacity=None), ArgumentError, "capacity"),  # type: ignore[arg-type]
    ("city a string", lambda a: TicketArrays("city"), ArgumentError, "city"),  # type: ignore[arg-type]
    ("rule a dict", lambda a: TicketArrays(CITY, {}), ArgumentError, "rule"),  # type: ignore[arg-type]
    ("micros of a number", lambda a: TicketArrays.micros(5), ClockError, "5"),  # type: ignore[arg-type]
    (
        "micros naive",
        lambda a: TicketArrays.micros(datetime(2022, 1, 1)),
        ClockError,
        "no time zone",
    ),
]


def arrays_opened(count: int) -> TicketArrays:
    """``count`` accepted tickets at GRID, in arrays with room for more."""
    arrays = TicketArrays(CITY, capacity=8)
    arrays.open([GRID] * count, ["repair"] * count, US)
    return arrays


@pytest.mark.parametrize(
    ("call", "error", "key"), [c[1:] for c in CALLS], ids=[c[0] for c in CALLS]
)
def test_a_hostile_call_is_refused_and_changes_nothing(
    call: Callable[[TicketArrays], object], error: type[GridgovError], key: str
) -> None:
    """Each hostile call raises the error named for it (never a TypeError, an
    IndexError or an OverflowError from inside), its message names the argument or
    the item, and every ticket is as it was."""
    arrays = arrays_with_four()
    before = digest(arrays)
    with pytest.raises(error) as caught:
        call(arrays)
    assert key in str(caught.value)
    assert digest(arrays) == before
    # ... and the arrays still work.
    arrays.fire([0, 1], "classify", US + HOUR)
    assert arrays.counts()["classified"] == 3


def test_the_refusals_read_as_the_desks() -> None:
    """The message names the method, the argument (the item) and what was expected."""
    arrays = arrays_with_four()
    with pytest.raises(ArgumentError) as caught:
        arrays.open([GRID, 7], ["repair", "repair"], US)  # type: ignore[list-item]
    assert caught.value.argument == "origins[1]"
    assert str(caught.value) == (
        "open: argument origins[1] must be a name of 1 to 200 characters, got 7"
    )
    with pytest.raises(ArgumentError) as caught:
        arrays.fire([2, 1, 2], "track", US)
    assert str(caught.value) == (
        "fire: argument idx must be distinct ticket indices (a ticket takes one step a call), "
        "got ticket #2 more than once"
    )
    with pytest.raises(NotFoundError) as caught_missing:
        arrays.sweep(US, np.array([0, 9]))
    assert str(caught_missing.value) == "sweep: idx[1] is 9: no ticket #9 (indices run 0..3)"
    with pytest.raises(ClockError, match=r"fire: at\[1\] is 4611686018427387904 \(micro"):
        arrays.fire([0, 1], "classify", np.array([US, 2**62]))


@pytest.mark.parametrize(
    ("idx", "ticket"),
    [
        ([0, 1, 2, 3, 0], 0),  # the first repeat is the last of n + 1 positions
        ([3, 2, 1, 0, 1, 1, 1], 1),  # repeats go on after the n + 1 checked
        ([0, 1, 2, 3] + [2] * 10_000, 2),  # many more indices than tickets
        ([1, 1], 1),
    ],
)
def test_a_repeat_is_found_in_a_batch_longer_than_the_tickets(idx: list[int], ticket: int) -> None:
    """With four tickets, a call naming five or more names one twice; the check stamps
    only the first n + 1 positions and still names the first repeated ticket."""
    arrays = arrays_with_four()
    before = digest(arrays)
    with pytest.raises(ArgumentError, match=rf"got ticket #{ticket} more than once$"):
        arrays.fire(idx, "classify", US + HOUR)
    assert digest(arrays) == before


def test_the_stamps_take_four_bytes_a_ticket() -> None:
    """The once-a-call check keeps one 32-bit stamp a ticket of room (it kept two
    64-bit arrays, one of them written in full: 16 bytes a ticket)."""
    arrays = TicketArrays(CITY, capacity=1_000)
    assert arrays._stamps.nbytes == 4_000
    arrays.open([GRID] * 1_500, ["repair"] * 1_500, US)
    assert arrays._stamps.nbytes == 4 * len(arrays.state)


def test_a_far_time_no_longer_corrupts_the_arrays() -> None:
    """Firing at 10**30 us used to write the new state, then fail adding the limit
    (OverflowError), leaving a ticket classified with its old deadline."""
    arrays = arrays_opened(1)
    with pytest.raises(ClockError):
        arrays.fire([0], "classify", 10**30)
    assert arrays.state_of(0) == "accepted"
    assert arrays.due_of(0) == US + 2 * HOUR


def test_a_repeated_ticket_would_have_been_counted_wrong() -> None:
    """Why a ticket may come once a call: swept twice in one call it was reported as
    escalating twice while climbing once (and scored twice, one score was lost)."""
    arrays = arrays_opened(1)
    found = arrays.sweep(US + 3 * HOUR, [0])
    assert found.ticket.tolist() == [0]
    assert arrays.escalations[0] == 1


def test_the_forms_a_caller_may_use_are_taken() -> None:
    """Lists, tuples and arrays of every integer width, numpy scalars, unsigned
    arrays, arrays of names, empty batches, and the first and last times a desk takes."""
    arrays = TicketArrays(CITY, capacity=0)
    assert arrays.open([], [], US).tolist() == []
    assert arrays.open((), np.array([], np.int16), np.array([], np.int64)).tolist() == []
    got = arrays.open(np.array([GRID, GRIDS[1]]), ("repair", "garbage"), np.int64(US))
    assert got.tolist() == [0, 1]
    unit = arrays.unit_index[GRID]
    got = arrays.open(
        np.array([unit], np.uint16), np.array([0], np.uint8), [np.int64(FIRST)], np.array([1])
    )
    assert got.tolist() == [2]
    arrays.open([GRID], ["repair"], np.array([LAST], np.uint64))
    arrays.open([GRID], ["repair"], datetime(8999, 12, 31, 23, tzinfo=timezone(timedelta(hours=5))))
    assert arrays.n == 5
    arrays.fire(np.array([1, 0], np.int8), "classify", [US + HOUR, np.int64(US + HOUR)])
    arrays.fire((np.int32(2),), "classify", np.array(FIRST + HOUR))
    # (#3, opened at the last microsecond, and #4, six hours before, are not overdue yet)
    assert sorted(arrays.sweep(np.uint64(LAST)).overdue.tolist()) == [0, 1, 2]
    assert arrays.legal([], "classify").tolist() == []
    assert arrays.legal([0, 0], "nope").tolist() == [False, False]
    assert arrays.state_of(np.int64(1)) == "classified"
    assert arrays.fire([], "track", US).tolist() == []
    assert arrays.score([], [], US).tolist() == []


#: Items that spoil a batch of names.
BAD_NAMES: list[object] = [None, 5, 2.5, True, "", "\x00", "G-404", b"G", ["x"], ("x",), {"x"}]
#: Items that spoil a batch of times.
BAD_TIMES: list[object] = [
    None,
    2.5,
    math.nan,
    True,
    "2022",
    10**30,
    -(10**30),
    LAST + 1,
    FIRST - 1,
]
#: Items that spoil a batch of ticket indices (besides repeating one).
BAD_INDICES: list[object] = [None, 0.0, True, "0", -1, 10**6, 10**30, [0]]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.integers(1, 12),
    where=st.integers(0, 12),
    part=st.sampled_from(["origins", "categories", "modes", "at"]),
    data=st.data(),
    as_array=st.booleans(),
)
def test_one_hostile_item_in_an_opening_refuses_the_batch(
    size: int, where: int, part: str, data: st.DataObject, as_array: bool
) -> None:
    """A valid batch of openings with one hostile item inserted anywhere: refused
    whole with a GridgovError naming the item, nothing applied; the valid batch
    then gives what it gives on arrays that never saw the hostile one."""
    where = min(where, size)
    valid = {
        "origins": [GRIDS[i % len(GRIDS)] for i in range(size)],
        "categories": [("repair", "garbage", "medicine")[i % 3] for i in range(size)],
        "modes": [("normal", "emergency")[i % 2] for i in range(size)],
        "at": [US + i * HOUR for i in range(size)],
    }
    bad = data.draw(st.sampled_from(BAD_TIMES if part == "at" else BAD_NAMES))
    spoilt = {name: list(values) for name, values in valid.items()}
    for name, values in spoilt.items():
        values.insert(where, bad if name == part else values[min(where, size - 1)])

    def form(name: str, values: list[Any]) -> Any:
        # (in an array of integers a bool is a number: 1 us is a time)
        if not as_array or isinstance(bad, bool):
            return values
        try:
            return np.array(values)
        except ValueError:  # (a ragged row: kept as a list)
            return values

    played = arrays_with_four()
    before = digest(played)
    with pytest.raises(GridgovError) as caught:
        played.open(*(form(name, values) for name, values in spoilt.items()))
    assert not isinstance(caught.value, TransitionError)
    assert digest(played) == before
    alone = arrays_with_four()
    assert played.open(**valid).tolist() == alone.open(**valid).tolist()
    assert digest(played) == digest(alone)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    picked=st.lists(st.integers(0, 11), min_size=1, max_size=12, unique=True),
    where=st.integers(0, 12),
    method=st.sampled_from(["fire", "sweep", "score"]),
    spoil=st.sampled_from(["index", "repeat", "time"]),
    data=st.data(),
)
def test_one_hostile_item_in_a_step_refuses_the_batch(
    picked: list[int],
    where: int,
    method: str,
    spoil: str,
    data: st.DataObject,
) -> None:
    """Twelve tickets waiting for the same step; a batch of some of them with one
    hostile index, a repeated one, or one hostile time inserted anywhere: refused
    whole, nothing applied, and the valid batch then does what it does alone."""
    where = min(where, len(picked))
    times = [US + 4 * HOUR + i for i in range(len(picked))]

    def arrays() -> TicketArrays:
        made = arrays_opened(12)
        if method == "score":
            for step in STEPS:
                made.fire(list(range(12)), step, US)
        return made

    def call(target: TicketArrays, idx: list[Any], at: list[Any]) -> Any:
        if method == "fire":
            return target.fire(idx, "classify", at)
        if method == "score":
            return target.score(idx, [1 + i % 5 for i in range(len(idx))], at)
        return target.sweep(at, idx)

    idx: list[Any] = list(picked)
    at: list[Any] = list(times)
    if spoil == "index":
        idx.insert(where, data.draw(st.sampled_from([*BAD_INDICES, 12])))
        at.insert(where, times[0])
    elif spoil == "repeat":
        idx.insert(where, data.draw(st.sampled_from(picked)))
        at.insert(where, times[0])
    else:
        at[min(where, len(at) - 1)] = data.draw(st.sampled_from(BAD_TIMES))
    played = arrays()
    before = digest(played)
    with pytest.raises(GridgovError):
        call(played, idx, at)
    assert digest(played) == before
    alone = arrays()
    assert repr(call(played, picked, times)) == repr(call(alone, picked, times))
    assert digest(played) == digest(alone)

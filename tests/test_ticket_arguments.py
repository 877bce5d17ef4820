"""Hostile arguments to a ticket desk's public methods: a clear GridgovError, nothing changed.

The engine's ticket commands were already held to their declared types
(tests/test_issue18_arguments.py); these are the desk's own methods, which test
suites and embedders drive directly: ``plan_open``/``plan_trigger``/``plan_due``,
the standalone desk's ``open``/``trigger``/``advance``, and ``play``'s stream,
whose steps are checked where the stream reaches them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridgov import ArgumentError, ClockError, CommandError, GridgovError
from gridgov.clock import EPOCH
from gridgov.presets import small
from gridgov.testing import StandaloneDesk
from gridgov.tickets import TicketArrays

CITY = small()
GRID = sorted(CITY.chain.units("grid"))[0]
T0 = EPOCH
US = TicketArrays.micros(T0)
OPEN = {"where": GRID, "category": "repair"}


def desk_with_one() -> StandaloneDesk:
    """A desk on the small city holding one accepted ticket, T1, opened at T0."""
    desk = StandaloneDesk(CITY)
    desk.open(GRID, "repair", T0, ticket="T1")
    return desk


#: (name, call, the error expected): each call is refused and changes nothing.
CALLS: list[tuple[str, Callable[[Any], object], type[GridgovError]]] = [
    ("where a list", lambda d: d.open([GRID], "repair", T0), ArgumentError),
    ("where a number", lambda d: d.open(5, "repair", T0), ArgumentError),
    ("where empty", lambda d: d.open("", "repair", T0), ArgumentError),
    ("category a list", lambda d: d.open(GRID, ["repair"], T0), ArgumentError),
    ("category None", lambda d: d.open(GRID, None, T0), ArgumentError),
    ("at a string", lambda d: d.open(GRID, "repair", "2022-09-17"), ClockError),
    ("at None", lambda d: d.open(GRID, "repair", None), ClockError),
    ("at naive", lambda d: d.open(GRID, "repair", datetime(2022, 9, 17)), ClockError),
    ("at 9999", lambda d: d.open(GRID, "repair", datetime(9999, 1, 1, tzinfo=UTC)), ClockError),
    ("ticket a number", lambda d: d.open(GRID, "repair", T0, ticket=5), ArgumentError),
    ("ticket a list", lambda d: d.open(GRID, "repair", T0, ticket=["T2"]), ArgumentError),
    ("ticket empty", lambda d: d.open(GRID, "repair", T0, ticket=""), ArgumentError),
    ("ticket a NUL", lambda d: d.open(GRID, "repair", T0, ticket="T\x00"), ArgumentError),
    ("description a number", lambda d: d.open(GRID, "repair", T0, description=5), ArgumentError),
    ("resident a string", lambda d: d.open(GRID, "repair", T0, resident="Li Wei"), ArgumentError),
    ("unknown keyword", lambda d: d.open(GRID, "repair", T0, urgent=True), ArgumentError),
    ("plan_open where a dict", lambda d: d.plan_open({}, "repair", T0), ArgumentError),
    ("trigger ticket a list", lambda d: d.trigger(["T1"], "classify", T0), ArgumentError),
    ("trigger ticket a number", lambda d: d.trigger(1, "classify", T0), ArgumentError),
    ("trigger a list", lambda d: d.trigger("T1", ["classify"], T0), ArgumentError),
    ("trigger None", lambda d: d.trigger("T1", None, T0), ArgumentError),
    ("trigger at a number", lambda d: d.trigger("T1", "classify", 1663372800), ClockError),
    ("new category a list", lambda d: d.trigger("T1", "classify", T0, category=[1]), ArgumentError),
    ("note a number", lambda d: d.trigger("T1", "classify", T0, note=3), ArgumentError),
    ("plan_trigger a set", lambda d: d.plan_trigger("T1", {"classify"}, T0), ArgumentError),
    ("advance None", lambda d: d.advance(None), ClockError),
    ("advance a string", lambda d: d.advance("2022-09-18"), ClockError),
    ("advance naive", lambda d: d.advance(datetime(2022, 9, 18)), ClockError),
    ("advance past 9000", lambda d: d.advance(datetime(9000, 1, 2, tzinfo=UTC)), ClockError),
    ("plan_due a number", lambda d: d.plan_due(0), ClockError),
]


@pytest.mark.parametrize(("call", "error"), [c[1:] for c in CALLS], ids=[c[0] for c in CALLS])
def test_a_hostile_call_is_refused_and_changes_nothing(
    call: Callable[[StandaloneDesk], object], error: type[GridgovError]
) -> None:
    """Each hostile call raises the error named for it (never a TypeError or an
    AttributeError from inside), and the desk is as it was."""
    desk = desk_with_one()
    before = desk.snapshot()
    with pytest.raises(error):
        call(desk)
    assert desk.snapshot() == before
    assert [t.id for t in desk] == ["T1"]


def test_the_error_names_the_argument_and_what_was_expected() -> None:
    """The refusal says which argument, what it should be and what came."""
    desk = desk_with_one()
    with pytest.raises(ArgumentError) as caught:
        desk.open(GRID, ["repair"], T0)  # type: ignore[arg-type]
    assert caught.value.argument == "category"
    assert str(caught.value) == (
        "open: argument category must be a name of 1 to 200 characters, got list ['repair']"
    )
    with pytest.raises(ClockError, match=r"time 9999-12-31T00:00:00\+00:00 is not between"):
        desk.advance(datetime(9999, 12, 31, tzinfo=UTC))


def test_the_last_times_a_desk_takes_are_taken() -> None:
    """The ends of the range are times like any other, in any time zone."""
    desk = StandaloneDesk(CITY)
    late = datetime(8999, 12, 31, 12, tzinfo=timezone(timedelta(hours=14)))
    desk.open(GRID, "repair", late, ticket="T1")
    assert desk.advance(late + timedelta(hours=1)) == ()
    assert desk.ticket("T1").opened == late
    early = datetime(1, 1, 2, tzinfo=UTC)
    StandaloneDesk(CITY).open(GRID, "repair", early, ticket="T1")


#: (name, play's arguments, the error expected): a stream refused at its first step.
STREAMS: list[tuple[str, tuple[Any, ...], type[GridgovError]]] = [
    ("ticket a list", ([US], [["T2"]], ["open"], [OPEN]), ArgumentError),
    ("ticket a number", ([US], [2], ["open"], [OPEN]), ArgumentError),
    ("ticket None", ([US], [None], ["open"], [OPEN]), ArgumentError),
    ("trigger a list", ([US], ["T1"], [["classify"]], [None]), ArgumentError),
    ("trigger a number", ([US], ["T1"], [3], [None]), ArgumentError),
    ("data a list", ([US], ["T2"], ["open"], [[GRID, "repair"]]), ArgumentError),
    ("data a string", ([US], ["T1"], ["classify"], ["ab"]), ArgumentError),
    ("data a number", ([US], ["T1"], ["classify"], [5]), ArgumentError),
    ("data of a score a list", ([US], ["T1"], ["score"], [[5]]), ArgumentError),
    ("data keys not names", ([US], ["T1"], ["classify"], [{1: "x"}]), ArgumentError),
    ("where a list", ([US], ["T2"], ["open"], [{**OPEN, "where": [GRID]}]), CommandError),
    ("category a dict", ([US], ["T2"], ["open"], [{**OPEN, "category": {}}]), CommandError),
    ("an unknown key", ([US], ["T2"], ["open"], [{**OPEN, "urgent": 1}]), ArgumentError),
    ("score a string", ([US], ["T1"], ["score"], [{"score": "5"}]), ArgumentError),
    ("score NaN", ([US], ["T1"], ["score"], [{"score": math.nan}]), ArgumentError),
    ("time a float", ([float(US)], ["T2"], ["open"], [OPEN]), ClockError),
    ("time NaN", ([math.nan], ["T2"], ["open"], [OPEN]), ClockError),
    ("time a string", (["2022-09-17"], ["T2"], ["open"], [OPEN]), ClockError),
    ("time None", ([None], ["T2"], ["open"], [OPEN]), ClockError),
    ("time a bool", ([True], ["T2"], ["open"], [OPEN]), ClockError),
    ("time naive", ([datetime(2022, 9, 17)], ["T2"], ["open"], [OPEN]), ClockError),
    ("time 10**30", ([10**30], ["T2"], ["open"], [OPEN]), ClockError),
    ("time -10**18", ([-(10**18)], ["T2"], ["open"], [OPEN]), ClockError),
    ("time past 9000", (np.array([US * 200], np.int64), ["T2"], ["open"], [OPEN]), ClockError),
    ("times of floats", (np.array([US], float), ["T2"], ["open"], [OPEN]), ClockError),
    ("times a table", (np.array([[US]]), ["T2"], ["open"], [OPEN]), ArgumentError),
    ("times one number", (US, ["T2"], ["open"], [OPEN]), ArgumentError),
    ("tickets one string", ([US, US], "T2", ["open", "open"], [OPEN, OPEN]), ArgumentError),
    ("triggers one string", ([US], ["T2"], "o", [OPEN]), ArgumentError),
    ("data one mapping", ([US, US], ["T2", "T3"], ["open", "open"], OPEN), ArgumentError),
    ("lengths differ", ([US, US], ["T2"], ["open"], [OPEN]), CommandError),
    # A set has no order: its steps would be played in an arbitrary one.
    ("tickets a set", ([US, US], {"T2", "T3"}, ["open", "open"], [OPEN, OPEN]), ArgumentError),
    ("triggers a set", ([US], ["T1"], {"classify"}, [None]), ArgumentError),
    ("times a frozenset", (frozenset([US]), ["T2"], ["open"], [OPEN]), ArgumentError),
    ("data a set", ([US], ["T1"], ["classify"], {None}), ArgumentError),
]


@pytest.mark.parametrize(("args", "error"), [s[1:] for s in STREAMS], ids=[s[0] for s in STREAMS])
def test_a_stream_refused_at_its_first_step_changes_nothing(
    args: tuple[Any, ...], error: type[GridgovError]
) -> None:
    """A stream whose first step (or whose whole form) is hostile is refused with the
    error named for it, and the desk is as it was."""
    desk = desk_with_one()
    before = desk.snapshot()
    with pytest.raises(error):
        desk.play(*args)
    assert desk.snapshot() == before


#: Hostile values for a step's ticket, trigger or data.
HOSTILE: list[object] = [None, 3, 2.5, math.nan, ["T1"], {"x"}, b"T1", ("T1",), {1: 2}, "", "\x00"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    count=st.integers(1, 12),
    cut=st.integers(0, 11),
    part=st.sampled_from(["ticket", "trigger", "data"]),
    bad=st.sampled_from(HOSTILE),
)
def test_a_hostile_step_keeps_the_steps_before_it(
    count: int, cut: int, part: str, bad: object
) -> None:
    """Tickets opened then classified in turn, with one step's ticket, trigger or data
    made hostile: the stream is refused with a GridgovError at that step, and the desk
    is the desk of the steps before it played alone (a legal step: the whole stream's)."""
    cut = min(cut, 2 * count - 1)
    times = [US + 60_000_000 * i for i in range(2 * count)]
    tickets = [f"T{2 + i // 2}" for i in range(2 * count)]
    triggers = ["open" if i % 2 == 0 else "classify" for i in range(2 * count)]
    data: list[Any] = [OPEN if i % 2 == 0 else None for i in range(2 * count)]
    steps = {"ticket": tickets, "trigger": triggers, "data": data}
    spoilt = {name: list(values) for name, values in steps.items()}
    spoilt[part][cut] = bad
    played = desk_with_one()
    refused = False
    try:
        played.play(times, spoilt["ticket"], spoilt["trigger"], spoilt["data"])
    except GridgovError:
        refused = True
    # (None is a classification's data: a legal step)
    assert refused or (part == "data" and bad is None and cut % 2 == 1)
    alone = desk_with_one()
    kept = cut if refused else len(times)
    if kept:
        alone.play(times[:kept], tickets[:kept], triggers[:kept], data[:kept])
    assert played.snapshot() == alone.snapshot()

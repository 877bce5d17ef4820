"""Typed, validated arguments at every public command (issue 18, item 4).

Every command of the engine is driven with hypothesis-drawn arguments, each
either a plausible value (an id of the city, a zone, a time...) or a hostile
one (a wrong type, a naive datetime, NaN, a bool for a count, an empty or
over-long name, a lone surrogate...). Each call must either be refused with a
GridgovError, leaving the state as it was and recording exactly one refusal
event, or be accepted, and then reopening the durable journal, replaying it
and the live engine all agree (``check_invariants``).
"""

from __future__ import annotations

import inspect
import math
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridgov import ArgumentError, Engine, GridgovError, ManualClock, Private
from gridgov._commands import COMMANDS
from gridgov.depots import synth_depots
from gridgov.presets import small
from gridgov.supplies import SupplyNetwork, SupplyParams
from gridgov.testing import cap_message, check_invariants

CITY = small()
NETWORK = SupplyNetwork(CITY, synth_depots(CITY), SupplyParams())
CHAIN = CITY.chain
COMPOUNDS = sorted(CITY.compounds)
COMMUNITIES = sorted(CHAIN.units("community"))
GRIDS = sorted(CHAIN.units("grid"))
PEOPLE = sorted(CITY.people)[:40]
UNITS = [CHAIN.city, *COMMUNITIES, *COMPOUNDS[:6], *GRIDS[:4]]
START = datetime(2022, 9, 17, tzinfo=UTC)

#: Values of the wrong type or out of range for most arguments.
HOSTILE: list[object] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2.5,
    math.nan,
    math.inf,
    -math.inf,
    10**30,
    "",
    " ",
    "\x00",
    "\ud800",
    "x" * 300,
    [],
    ["sealed"],
    {},
    b"bytes",
    datetime(2022, 9, 17),
    START + timedelta(days=3650),
    START - timedelta(days=1),
    {"volunteer": math.nan},
    {"volunteer": 2},
    {"nobody": 0.5},
    {"volunteer": "0.5"},
    Private(name=5),  # type: ignore[arg-type]
    ("a", "b"),
]


def hostile_or(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``valid``, sometimes a hostile value."""
    return st.one_of(valid, valid, valid, st.sampled_from(HOSTILE))


@contextmanager
def busy_engine() -> Iterator[tuple[Engine, Path, ManualClock]]:
    """A durable engine with something in every domain: zones, posts, a task, a ticket."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "journal.sqlite"
        clock = ManualClock()
        engine = Engine.open(path, city=CITY, clock=clock, snapshot_every=7, supplies=NETWORK)
        engine.report_case(COMPOUNDS[0])
        engine.post_task(COMMUNITIES[0], "medicine_delivery", capacity=2)
        engine.open_ticket(COMPOUNDS[0], "medicine", description="insulin")
        clock.advance(timedelta(minutes=5))
        try:
            yield engine, path, clock
        finally:
            engine.close()


def names(engine: Engine) -> dict[str, st.SearchStrategy[Any]]:
    """Plausible values of each kind of argument, from the engine as it is now."""
    tasks = sorted(p for p in engine.roster.posts if "/task/" in p) or ["none/task/1"]
    tickets = sorted(t.id for t in engine.tickets) or ["T000001"]
    reviews = sorted(r.id for r in engine.reviews) or ["R1"]
    now = engine.clock.now()
    return {
        "unit": st.sampled_from(UNITS),
        "compound": st.sampled_from(COMPOUNDS[:6]),
        "community": st.sampled_from(COMMUNITIES),
        "person": st.sampled_from(PEOPLE),
        "actor": st.sampled_from([CHAIN.city, *COMMUNITIES, *PEOPLE[:5], "", "system"]),
        "zone": st.sampled_from(["sealed", "controlled", "precaution", "open", "bogus"]),
        "task": st.sampled_from(tasks),
        "ticket": st.sampled_from(tickets),
        "review": st.sampled_from(reviews),
        "trigger": st.sampled_from(["classify", "track", "supervise", "reject", "score"]),
        "category": st.sampled_from(["medicine", "garbage", "food_supplies", "nope"]),
        "kind": st.sampled_from(["medicine_delivery", "checkpoint"]),
        "time": st.sampled_from([now, now - timedelta(hours=1), now + timedelta(days=20)]),
        "count": st.integers(-2, 5),
        "seed": st.integers(0, 2**70),
        "bool": st.booleans(),
        "text": st.text(max_size=30),
        "away": st.dictionaries(
            st.sampled_from(["volunteer", "grid_worker", "cadre", "in_service_member"]),
            st.floats(0, 1),
            max_size=3,
        ),
        "xml": st.sampled_from(
            [
                cap_message("A1", now - timedelta(hours=1), areas=[("x", [COMPOUNDS[1]])]),
                cap_message("A2", now - timedelta(hours=1), areas=[("Grid 1", [])]),
                "<alert>",
            ]
        ),
        "method": st.sampled_from(["min_cost", "greedy", "other"]),
        "requests": st.none(),
        "resident": st.builds(Private, name=st.text(max_size=8), phone=st.just("555")),
        "units": st.lists(st.sampled_from(COMPOUNDS[:6]), max_size=2),
        "compounds": st.lists(st.sampled_from(COMPOUNDS[:6]), max_size=3),
        "max_bytes": st.integers(0, 1 << 20),
    }


#: Each command: positional arguments and keyword arguments, by kind of value.
CALLS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "report_case": (("compound",), {"at": "time", "actor": "actor"}),
    "report_cases": (("compounds",), {"at": "time", "actor": "actor"}),
    "declare": (("unit", "zone"), {"actor": "actor", "hold": "bool"}),
    "lift": (("unit", "zone"), {"actor": "actor", "skip_recovery": "bool"}),
    "advance": ((), {"to": "time", "actor": "actor"}),
    "staff": ((), {"actor": "actor"}),
    "post_task": (("community", "kind"), {"unit": "unit", "capacity": "count", "actor": "actor"}),
    "claim": (("task", "person"), {"actor": "actor"}),
    "hand_back": (("person",), {"actor": "actor"}),
    "complete_task": (("task",), {"actor": "actor"}),
    "set_availability": (("away",), {"seed": "seed", "actor": "actor"}),
    "open_ticket": (
        ("unit", "category"),
        {"description": "text", "resident": "resident", "ticket": "ticket", "actor": "actor"},
    ),
    "handle_ticket": (
        ("ticket", "trigger"),
        {"actor": "actor", "reason": "text", "score": "count", "category": "category"},
    ),
    "receive_alert": (("xml",), {"actor": "actor", "exercise": "bool", "max_bytes": "max_bytes"}),
    "approve_review": (("review",), {"actor": "actor", "units": "units"}),
    "reject_review": (("review",), {"actor": "actor", "reason": "text"}),
    "dispatch_supplies": (
        (),
        {"at": "time", "method": "method", "requests": "requests", "actor": "actor"},
    ),
}


def test_every_command_is_driven() -> None:
    """The table covers exactly the engine's commands (a new command must join it)."""
    assert set(CALLS) == COMMANDS
    for name in COMMANDS:
        assert name in dir(Engine)


def test_every_command_takes_an_actor_a_command_id_and_a_key() -> None:
    """Issue 18, item 5: every command takes an actor."""
    for name in sorted(COMMANDS):
        parameters = inspect.signature(getattr(Engine, name)).parameters
        assert {"actor", "command_id", "key"} <= set(parameters), name


def draw_call(
    data: st.DataObject, engine: Engine, counter: list[int]
) -> tuple[str, Callable[[], object]]:
    name = data.draw(st.sampled_from(sorted(CALLS)), label="command")
    positional, keywords = CALLS[name]
    values = names(engine)
    args = [data.draw(hostile_or(values[kind]), label=f"{name} arg") for kind in positional]
    kwargs: dict[str, Any] = {}
    for keyword, kind in keywords.items():
        if data.draw(st.booleans(), label=f"give {keyword}"):
            kwargs[keyword] = data.draw(hostile_or(values[kind]), label=keyword)
    if data.draw(st.booleans(), label="keyed"):
        counter[0] += 1
        kwargs["key"] = data.draw(
            st.one_of(st.just(f"k{counter[0]}"), st.sampled_from(HOSTILE)), label="key"
        )
    method = getattr(engine, name)
    return name, lambda: method(*args, **kwargs)


def refusal_events(engine: Engine, length: int) -> list[str]:
    return [e.type for e in list(engine.journal)[length:]]


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_hostile_arguments_are_refused_or_replay_exactly(data: st.DataObject) -> None:
    """Refused cleanly (GridgovError, no state change, one refusal event), or accepted
    and reopen == full replay == live."""
    counter = [0]
    with busy_engine() as (engine, path, clock):
        for _ in range(3):
            name, call = draw_call(data, engine, counter)
            before, length = engine.snapshot(), len(engine.journal)
            try:
                call()
            except GridgovError:
                assert engine.snapshot() == before, f"refused {name} changed the state"
                assert refusal_events(engine, length) in (
                    ["command.refused"],
                    ["alert.refused"],
                ), name
            else:
                with Engine.open(
                    path, city=CITY, clock=ManualClock(clock.now()), supplies=NETWORK
                ) as reopened:
                    assert reopened.snapshot() == engine.snapshot(), f"reopen after {name}"
            check_invariants(engine)
            clock.advance(timedelta(minutes=data.draw(st.integers(0, 600), label="minutes")))


class TestTheIssuesExamples:
    """The arguments issue 18 found accepted are refused with an ArgumentError."""

    @pytest.mark.parametrize(
        ("name", "call"),
        [
            ("open_ticket", lambda e: e.open_ticket(COMPOUNDS[0], "medicine", ticket=5)),
            ("set_availability", lambda e: e.set_availability({"volunteer": 0.5}, seed="abc")),
            ("set_availability", lambda e: e.set_availability({"volunteer": 0.5}, seed=1.5)),
            ("set_availability", lambda e: e.set_availability({"volunteer": 0.5}, seed=True)),
            ("set_availability", lambda e: e.set_availability({"volunteer": math.nan})),
            ("post_task", lambda e: e.post_task(COMMUNITIES[0], "x", capacity=2.5)),
            ("post_task", lambda e: e.post_task(COMMUNITIES[0], "x", capacity="2")),
            ("post_task", lambda e: e.post_task(COMMUNITIES[0], "x", capacity=True)),
            ("report_case", lambda e: e.report_case(COMPOUNDS[0], at=datetime(2022, 9, 16))),
            ("declare", lambda e: e.declare(COMPOUNDS[0], zone=["sealed"])),
            ("open_ticket", lambda e: e.open_ticket(COMPOUNDS[0], "medicine", description=123)),
            ("advance", lambda e: e.advance("2030-01-01")),
            ("declare", lambda e: e.declare(COMPOUNDS[0], hold="no")),
            ("declare", lambda e: e.declare(COMPOUNDS[0], key="")),
            ("handle_ticket", lambda e: e.handle_ticket("T000001", "score", score=math.nan)),
        ],
    )
    def test_refused(self, name: str, call: Callable[[Engine], object]) -> None:
        """Refused before anything happens; the refusal is one audit event naming the error."""
        with busy_engine() as (engine, _, _clock):
            before, length = engine.snapshot(), len(engine.journal)
            with pytest.raises(ArgumentError) as info:
                call(engine)
            assert info.value.command == name
            assert engine.snapshot() == before
            (refusal,) = list(engine.journal)[length:]
            assert refusal.type == "command.refused"
            assert refusal.data["command"] == name
            assert refusal.data["error"] == "ArgumentError"
            check_invariants(engine)

    def test_the_message_names_the_argument_and_what_was_expected(self) -> None:
        """E.g. ``post_task: argument capacity must be a whole number ... got 2.5``."""
        with busy_engine() as (engine, _, _clock), pytest.raises(ArgumentError) as info:
            engine.post_task(COMMUNITIES[0], "x", capacity=2.5)  # type: ignore[arg-type]
        assert info.value.argument == "capacity"
        assert str(info.value) == (
            "post_task: argument capacity must be a whole number (not a bool) "
            "from 1 to 1,000,000, got 2.5"
        )

    def test_hostile_text_is_shown_escaped_and_short(self) -> None:
        """A huge or unencodable value never reaches the message (or the journal) whole."""
        with busy_engine() as (engine, _, _clock):
            with pytest.raises(ArgumentError) as info:
                engine.report_case("\ud800" + "x" * 5000)
            assert len(str(info.value)) < 400
            assert "\\ud800" in str(info.value)
            (refusal,) = engine.journal.select(type="command.refused")
            assert len(refusal.cause) < 400

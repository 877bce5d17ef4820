"""What a command keeps costs the cyclic collector nothing (issue 15 item 5).

A command's events are kept column by column (:class:`gridgov.journal.Events`,
in the result and in the memory journal), the roster keeps its posts as
tuples and the pools key their caches by plain values: after a command, the
collector tracks a handful of new objects, not one per event. Each of these
forms is checked here against the plain form it stands for (a tuple of
:class:`Event`, the frozen :class:`StaffPost`).
"""

from __future__ import annotations

import gc
import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridgov import Engine, JournalError, ManualClock, Rules, UnknownUnitError
from gridgov.journal import Event, Events, MemoryJournal
from gridgov.presets import jiamusi
from gridgov.staffing import StaffPost

CITY = jiamusi(scale=0.05)
DISTRICT = sorted(CITY.chain.units("district"))[0]
T0 = datetime(2021, 9, 17, tzinfo=UTC)


def _event(seq: int, kind: str = "zone.changed", data: dict[str, object] | None = None) -> Event:
    return Event(
        seq,
        T0 + timedelta(minutes=seq),
        kind,
        f"u{seq}",
        "c000001",
        "system",
        "why",
        None,
        None,
        {"n": seq} if data is None else data,
    )


@given(st.integers(1, 40), st.integers(1, 30), st.integers(-35, 35), st.integers(-35, 35))
def test_events_read_as_the_tuple_of_their_events(first: int, size: int, a: int, b: int) -> None:
    plain = tuple(_event(first + i) for i in range(size))
    kept = Events.of(plain)
    assert len(kept) == size
    assert kept.first == first
    assert kept == plain
    assert plain == kept
    assert tuple(kept) == plain
    assert list(reversed(kept)) == list(reversed(plain))
    assert kept[a:b] == plain[a:b]
    assert tuple(kept[a:b]) == plain[a:b]
    if -size <= a < size:
        assert kept[a] == plain[a]
        assert type(kept[a]) is Event
    else:
        with pytest.raises(IndexError):
            kept[a]
    assert kept + () == plain  # noqa: RUF005 (the operator is what is checked)
    assert () + kept == plain  # noqa: RUF005
    assert kept + kept == plain + plain
    assert plain[0] in kept
    assert _event(first + size) not in kept
    assert pickle.loads(pickle.dumps(kept)) == kept
    assert repr(kept) == repr(plain)
    assert Events.join([kept[:a], kept[a:]]) == plain


def test_events_refuse_a_gap_and_compare_like_tuples() -> None:
    with pytest.raises(JournalError, match="event 3 breaks the journal's sequence"):
        Events.of([_event(1), _event(3)])
    assert Events() == ()
    assert Events(7) == Events()
    assert not Events()
    assert Events.of([_event(1)]) != Events.of([_event(2)])
    assert Events.of([_event(1)]) != [_event(1)]
    with pytest.raises(TypeError):  # a tuple of events with dict data is not hashable either
        hash(Events.of([_event(1)]))
    with pytest.raises(TypeError):
        Events.of([_event(1), _event(2)])[::2]


def test_a_memory_journal_refuses_a_gap_and_changes_nothing() -> None:
    journal = MemoryJournal()
    journal.append(Events.of([_event(1), _event(2)]))
    with pytest.raises(JournalError):
        journal.append(Events.of([_event(4)]))
    with pytest.raises(JournalError):
        journal.append([_event(3), _event(5)])
    assert list(journal) == [_event(1), _event(2)]
    assert journal.next_seq == 3
    journal.append([_event(3)])
    assert journal[-1] == _event(3)
    assert journal[0:2] == [_event(1), _event(2)]
    assert journal.between(2, 3) == [_event(2), _event(3)]
    assert journal.since(2) == [_event(3)]


def _tracked() -> int:
    # Twice: a tuple of tuples is untracked once its items were (an item may come
    # later in the collector's list than the tuple holding it).
    gc.collect()
    gc.collect()
    return len(gc.get_objects())


def test_a_big_command_leaves_the_collector_nothing_per_event() -> None:
    engine = Engine(CITY, clock=ManualClock())
    _ = engine.pools
    engine.declare(DISTRICT)  # the lazily made parts of the pools, made once
    engine.lift(CITY.chain.city, skip_recovery=True)
    before = _tracked()
    result = engine.declare(CITY.chain.city)
    after = _tracked()
    assert len(result.events) > 2000
    assert sum(1 for e in result.events if e.type == "post.opened") > 300
    # Before: one Event per event and one StaffPost per open post stayed tracked
    # (14,163 more tracked objects for these 9,660 events).
    assert after - before < len(result.events) / 20, after - before
    assert not any(type(o) in (Event, StaffPost) for o in gc.get_objects())


def test_posts_read_as_staff_posts() -> None:
    engine = Engine(CITY, clock=ManualClock())
    result = engine.report_case(sorted(CITY.compounds)[0])
    roster = engine.roster
    opened = [e for e in result.events if e.type == "post.opened"]
    assert len(roster.posts) == len(opened) > 0
    for event in opened:
        post = roster.posts[event.data["post"]]
        assert post == StaffPost(
            event.data["post"],
            event.data["role"],
            event.unit,
            event.data["community"],
            event.data["capacity"],
        )
        assert roster.missing(post.id) == post.capacity - len(roster.holders.get(post.id, ()))
    assert "nowhere/point_lead" not in roster.posts
    assert roster.posts.get("nowhere") is None


def test_the_live_events_are_the_replayed_events(tmp_path: Path) -> None:
    rules = Rules(areas={"east": (DISTRICT,)})
    engine = Engine.open(tmp_path / "j.sqlite", city=CITY, rules=rules, clock=ManualClock())
    live = [*engine.declare("east").events, *engine.lift(CITY.chain.city).events]
    engine.close()
    again = Engine.open(tmp_path / "j.sqlite", city=CITY, rules=rules, clock=ManualClock())
    assert list(again.journal) == live
    memory = Engine.replay(CITY, live, rules)
    assert list(memory.journal) == live
    assert memory._kernel.state.snapshot() == again._kernel.state.snapshot()
    again.close()


BAD = {
    "no post": lambda data: data.pop("post"),
    "unknown person": lambda data: data.update(person="nobody"),
    "capacity 0": lambda data: data.update(capacity=0),
    "capacity not a number": lambda data: data.update(capacity="many"),
}


@given(st.sampled_from(sorted(CITY.compounds)), st.sampled_from(sorted(BAD)), st.data())
def test_a_run_with_a_misfit_fails_as_one_event_at_a_time_does(
    compound: str, bad: str, data: st.DataObject
) -> None:
    """A run applied at once (post.assigned, post.opened) that meets an event that
    does not fit raises what applying one event at a time raises, at that event,
    and leaves the same state."""
    from gridgov._state import EngineState

    engine = Engine(CITY, clock=ManualClock())
    events = list(engine.report_case(compound).events)
    runs = [i for i, e in enumerate(events) if e.type in ("post.assigned", "post.opened")]
    at = data.draw(st.sampled_from(runs))
    spoilt = dict(events[at].data)
    BAD[bad](spoilt)
    events[at] = events[at]._replace(data=spoilt)
    states: list[tuple[object, ...]] = []
    errors: list[tuple[type[Exception], str] | None] = []
    for one_by_one in (True, False):
        state = EngineState(CITY, engine.rules)
        try:
            if one_by_one:
                for event in events:
                    state.apply(event)
            else:
                state.apply_all(Events.of(events))
            errors.append(None)
        except Exception as exc:  # whatever it is, both must raise it
            errors.append((type(exc), str(exc)))
        states.append((state.snapshot(), state.last_time, state.commands))
    assert errors[0] == errors[1]
    assert states[0] == states[1]
    if bad == "no post" or (bad.startswith("capacity") and events[at].type == "post.opened"):
        assert errors[0] is not None


def test_compact_data_reads_as_its_dict_and_applies_as_it() -> None:
    """A command keeps its assignments' and opened posts' data compact (keys, then
    values): read, compared and applied, it is the dict it stands for."""
    from gridgov._state import EngineState
    from gridgov.records import record_data

    engine = Engine(CITY, clock=ManualClock())
    result = engine.report_case(sorted(CITY.compounds)[3])
    datas: list[Any] = result.events._columns[8]
    compact = [i for i, d in enumerate(datas) if type(d) is tuple]
    kinds = {result.events[i].type for i in compact}
    assert kinds == {"post.assigned", "post.opened"}  # the assignments, the posts opened
    for i in compact:
        event = result.events[i]
        assert event.data == dict(zip(datas[i][0], datas[i][1:], strict=True))
        assert record_data(datas[i]) == event.data
    plain = Events.of(list(result.events))  # every data a dict
    assert plain == result.events
    assert result.events == plain
    for events in (result.events, plain):
        state = EngineState(CITY, engine.rules)
        state.apply_all(events)
        assert state.snapshot() == engine._kernel.state.snapshot()
    # A compact entry naming nobody (off the front line, where a person's employer
    # is read): raised at that event, as one at a time, leaving the same state.
    at = next(
        i
        for i in compact
        if result.events[i].type == "post.assigned" and datas[i][3] != "front_line"
    )
    spoilt = list(datas)
    spoilt[at] = (datas[at][0], "nobody", *datas[at][2:])
    bad = Events(result.events.first, (*result.events._columns[:8], spoilt))
    errors = []
    for events in (bad, Events.of(list(bad))):
        state = EngineState(CITY, engine.rules)
        with pytest.raises(UnknownUnitError) as raised:
            state.apply_all(events)
        errors.append((str(raised.value), state.snapshot()))
    assert errors[0] == errors[1]
    assert f"event {result.events.first + at}" in errors[0][0]

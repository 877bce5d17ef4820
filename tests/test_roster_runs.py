"""Runs of releases and closed posts applied at once (issue 15 item 8) are the
events applied one by one.

A replay and a lift's commit hand the roster a run of ``post.released`` or
``post.closed`` events at a time (``Roster._release_all``, ``_close_all``);
each is checked here against its general form: :meth:`EngineState.apply`
one event at a time, and ``Roster._release`` one person at a time.
"""

from __future__ import annotations

import array
import pickle
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridgov import Engine, ManualClock, Rules, UnknownUnitError
from gridgov._state import EngineState
from gridgov.journal import Event, Events
from gridgov.presets import jiamusi
from gridgov.staffing import Roster, _compact

CITY = jiamusi(scale=0.05)
COMPOUNDS = sorted(CITY.compounds)
T0 = datetime(2021, 9, 17, tzinfo=UTC)


def _case_and_lift(compound: str) -> tuple[Engine, list[Event]]:
    engine = Engine(CITY, clock=ManualClock())
    events = list(engine.report_case(compound).events)
    engine.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    events += engine.lift(CITY.chain.city, skip_recovery=True).events
    return engine, events


#: Ways of spoiling one event's data.
BAD = {
    "no post": lambda data: data.pop("post"),
    "no person": lambda data: data.pop("person", None),
    "unknown person": lambda data: data.update(person="nobody"),
    "post not text": lambda data: data.update(post=["a", "list"]),
    "person not text": lambda data: data.update(person=7),
}


@given(st.sampled_from(COMPOUNDS), st.sampled_from(sorted(BAD)), st.data())
def test_a_spoilt_release_or_close_fails_as_one_event_at_a_time_does(
    compound: str, bad: str, data: st.DataObject
) -> None:
    """A run of releases or closed posts with one event that does not fit raises
    what applying one event at a time raises, at that event, and leaves the same
    state (and without a spoilt event, the same state)."""
    engine, events = _case_and_lift(compound)
    runs = [i for i, e in enumerate(events) if e.type in ("post.released", "post.closed")]
    assert len(events) >= 32  # applied a run at a time
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
                assert state.apply_all(Events.of(events)) == len(events)
            errors.append(None)
        except Exception as exc:  # whatever it is, both must raise it
            errors.append((type(exc), str(exc)))
        states.append((state.snapshot(), state.last_time, state.commands))
    assert errors[0] == errors[1]
    assert states[0] == states[1]
    if bad == "no post" or (bad == "post not text" and events[at].type == "post.closed"):
        assert errors[0] is not None


def test_a_lift_applied_in_runs_gives_the_live_state() -> None:
    """Replaying a case and its lift in columns gives the engine's own state."""
    engine, events = _case_and_lift(COMPOUNDS[0])
    state = EngineState(CITY, engine.rules)
    state.apply_all(Events.of(events))
    assert state.snapshot() == engine._kernel.state.snapshot()
    assert not state.roster.assignment  # everyone went back


def _staffed() -> tuple[Roster, list[str]]:
    """A roster after a case: its people on posts, and who they are."""
    engine, _ = _case_and_lift(COMPOUNDS[1])
    state = EngineState(CITY, engine.rules)
    state.apply_all(Events.of(list(engine.report_case(COMPOUNDS[1]).events)))
    return state.roster, list(state.roster.assignment)


ROSTER, ON_POSTS = _staffed()
OFF_POST = sorted(CITY.people)[:3]
#: A post somebody holds.
ROSTER_POST = ROSTER.assignment[ON_POSTS[0]][0].post


def _row(person: str) -> int:
    return CITY.people._index[person]


def _rows(people: list[str]) -> array.array[int]:
    return array.array("i", map(_row, people))


@given(
    st.lists(
        st.tuples(
            # A few people, so that one comes back, or comes after nobody.
            st.sampled_from([*ON_POSTS[:8], *OFF_POST, "nobody"]),
            st.booleans(),  # released from the post held, or from another
            st.integers(0, 3),  # minutes after T0
        ),
        max_size=40,
    ),
)
def test_a_run_of_releases_is_each_release_in_turn(releases: list[tuple[str, bool, int]]) -> None:
    """``_release_all`` changes the roster as ``_release`` one person at a time
    does (a person unknown to the city, on no post, changes nothing)."""
    roster = ROSTER._copy()
    persons, posts, times = [], [], []
    for person, own, minutes in releases:
        held = roster.assignment.get(person)
        persons.append(person)
        posts.append(held[0].post if own and held is not None else "elsewhere/checkpoint")
        times.append(T0 + timedelta(minutes=minutes))
    one_by_one = roster._copy()
    applied = 0
    for person, post, when in zip(persons, posts, times, strict=True):
        try:
            one_by_one._release(person, post, when)
        except KeyError:
            break
        applied += 1
    at_once = roster._copy()
    assert at_once._release_all(persons, posts, times) == applied
    assert at_once.snapshot() == one_by_one.snapshot()
    assert dict(at_once._drawn) == dict(one_by_one._drawn)


def _tables_in_order(roster: Roster) -> list[list[tuple[Any, Any]]]:
    """Every table the releases change, entries in their order (a snapshot's dicts
    compare without it)."""
    return [
        list(table.items())
        for table in (roster.holders, roster.assignment, roster.back_since, roster._drawn)
    ]


def _sharing_an_employer() -> list[str]:
    """Four people of one employer (the roster's counts of an employer drawn from
    more than once in a run)."""
    by_employer: dict[str, list[str]] = {}
    for person in sorted(CITY.people):
        employer = CITY.people.employer(person)
        if employer is not None:
            by_employer.setdefault(employer, []).append(person)
            if len(by_employer[employer]) == 4:
                return by_employer[employer]
    raise AssertionError("no employer of four")


SHARED = _sharing_an_employer()
#: The roster after a case, with four people of one employer on a post of their own.
SHARED_ROSTER = ROSTER._copy()
for _person in SHARED:
    SHARED_ROSTER._assign_to(_person, "shared/checkpoint", "checkpoint", "community", T0)


@given(
    st.lists(st.sampled_from(ON_POSTS + SHARED), unique=True, max_size=len(ON_POSTS)),
    st.sampled_from(["seats", "drawn"]),
    st.lists(st.sampled_from(["own", "other", "elsewhere"]), min_size=len(ON_POSTS) + 4),
    st.sampled_from(["none", "twice", "stranger", "not text", "repeated"]),
    st.booleans(),
)
def test_a_run_of_different_people_on_posts_is_each_release_in_turn(
    chosen: list[str], order: str, where: list[str], odd: str, planned: bool
) -> None:
    """A run of different people all on posts (what a lift records; applied a table at
    a time) changes the roster as ``_release`` one at a time does, each table's
    entries in the same order: in the order of their posts' seats (each post's
    seats taken from the front), as drawn, released from their own post, another
    one or one never opened; with a person seated twice on a post (only a hostile
    journal gets there), a person unknown to the city (on no post), a person not
    text, or a person released twice; with the planner's rows and its word on
    whether the people are different (``planned``) or looked up."""
    roster = SHARED_ROSTER._copy()
    if order == "seats":
        chosen = [p for seats in roster.holders.values() for p in seats if p in chosen]
    persons = list(chosen)
    posts = []
    for person, place in zip(persons, where, strict=False):
        own = roster.assignment[person][0].post
        posts.append(
            own if place == "own" else ROSTER_POST if place == "other" else "elsewhere/checkpoint"
        )
    if odd == "twice" and persons:
        post = posts[0]
        roster._holders[post] = (*roster._holders.get(post, ()), _row(persons[0]))
    if odd == "repeated" and persons:
        persons.append(persons[0])
        posts.append(posts[0])
    if odd == "stranger" and persons:
        persons[-1] = "nobody"
    rows = None
    if planned and odd in ("none", "twice", "repeated"):
        rows = (_rows(persons), len(set(persons)) == len(persons))
    if odd == "not text" and persons:
        persons[len(persons) // 2] = ["not", "text"]  # type: ignore[call-overload]
    times = [T0 + timedelta(minutes=i % 3) for i in range(len(persons))]
    one_by_one = roster._copy()
    applied = 0
    raised: type[Exception] | None = None
    for person, post, when in zip(persons, posts, times, strict=True):
        try:
            one_by_one._release(person, post, when)
        except (KeyError, TypeError) as exc:
            raised = type(exc)
            break
        applied += 1
    at_once = roster._copy()
    if raised is TypeError:
        with pytest.raises(TypeError):
            at_once._release_all(persons, posts, times)
    else:
        assert at_once._release_all(persons, posts, times, *(rows or ())) == applied
    assert at_once.snapshot() == one_by_one.snapshot()
    assert _tables_in_order(at_once) == _tables_in_order(one_by_one)


def test_closing_a_run_of_posts_drops_their_seats_and_shortfalls() -> None:
    """``_close_all`` leaves no trace of the posts it closes, and the others as they were."""
    roster = ROSTER._copy()
    held = sorted({held.post for held, _ in roster.assignment.values()})
    closed, kept = held[::2], held[1::2]
    before: dict[str, Any] = {post: roster._holders[post] for post in kept}
    roster._close_all([*closed, "never/opened"])
    for post in closed:
        assert post not in roster.posts
        assert post not in roster.holders
        assert post not in roster.shortfalls
    assert {post: roster._holders[post] for post in kept} == before


@given(st.sampled_from(COMPOUNDS), st.data())
def test_an_assignment_of_someone_the_city_does_not_know_is_refused_at_its_event(
    compound: str, data: st.DataObject
) -> None:
    """A person unknown to the city assigned to a post, front-line duty too (only a
    hostile journal names one: the roster keeps people by their row in the city's
    columns), is refused at that event, whether the case is applied in runs or
    one event at a time, leaving the same state."""
    engine = Engine(CITY, clock=ManualClock())
    case = list(engine.report_case(compound).events)
    assigned = [i for i, e in enumerate(case) if e.type == "post.assigned"]
    at = data.draw(st.sampled_from(assigned))
    case[at] = case[at]._replace(data={**case[at].data, "person": "nobody"})
    outcomes = []
    for one_by_one in (True, False):
        state = EngineState(CITY, engine.rules)
        apply_all = _one_by_one if one_by_one else EngineState.apply_all
        with pytest.raises(UnknownUnitError) as raised:
            apply_all(state, Events.of(case))
        outcomes.append((str(raised.value), state.snapshot(), state.last_time))
    assert outcomes[0] == outcomes[1]
    assert f"event {case[at].seq}" in outcomes[0][0]


def _one_by_one(state: EngineState, events: Events) -> None:
    for event in events:
        state.apply(event)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(sorted(CITY.people)[:30]),
            # A few posts (one already held), so that a post's runs come apart.
            st.sampled_from(["a/checkpoint", "b/checkpoint", "c/front_line", ROSTER_POST]),
            st.sampled_from(["checkpoint", "front_line"]),
        ),
        max_size=30,
    )
)
def test_a_run_of_assignments_is_each_assignment_in_turn(
    assignments: list[tuple[str, str, str]],
) -> None:
    """``_assign_all`` seats people as ``_assign_to`` one person at a time does: each
    post's holders in the order of the events, after those it held, also when a
    post's assignments come in several runs."""
    persons = [person for person, _, _ in assignments]
    posts = [post for _, post, _ in assignments]
    roles = [role for _, _, role in assignments]
    levels = ["community"] * len(persons)
    times = [T0 + timedelta(minutes=i) for i in range(len(persons))]
    one_by_one = ROSTER._copy()
    for person, post, role, level, when in zip(persons, posts, roles, levels, times, strict=True):
        one_by_one._assign_to(person, post, role, level, when)
    at_once = ROSTER._copy()
    assert at_once._assign_all(persons, posts, roles, levels, times)
    assert at_once._holders == one_by_one._holders
    assert list(at_once._holders) == list(one_by_one._holders)
    assert at_once.snapshot() == one_by_one.snapshot()
    assert dict(at_once._drawn) == dict(one_by_one._drawn)


@given(
    st.lists(
        st.fixed_dictionaries(
            {"person": st.sampled_from(["p1", "p2"]), "post": st.sampled_from(["a", "b"])},
            optional={"role": st.just("x")},
        ).map(lambda data: data if len(data) == 2 else tuple(data.items())),
        min_size=1,
        max_size=12,
    ),
    st.booleans(),
)
def test_a_run_of_data_reads_as_each_events_data(datas: list[Any], all_dicts: bool) -> None:
    """``Events._fields`` reads each key of a run's data (dicts, as a replay has
    them, compact data, or both) as the events' data read one by one, and gives
    None when one lacks a key."""
    if all_dicts:
        datas = [dict(data) if type(data) is tuple else data for data in datas]
    compact = [
        (tuple(k for k, _ in data), *(v for _, v in data)) if type(data) is tuple else data
        for data in datas
    ]
    events = Events.of(
        [
            Event(i + 1, T0, "post.released", "u", "c1", "system", "", None, None, {"x": 1})
            for i in range(len(compact))
        ]
    )
    events._columns[8][:] = compact
    read = [events._data(i) for i in range(len(compact))]
    for keys in [("person", "post"), ("post",), ("person", "role")]:
        expected = (
            tuple([data[key] for data in read] for key in keys)
            if all(set(keys) <= set(data) for data in read)
            else None
        )
        assert events._fields(0, len(compact), keys) == expected


#: People of the city: some with an employer, some without (drawn from none).
_EMPLOYED = [p for p in sorted(CITY.people) if CITY.people.employer(p) is not None][:12]
_UNEMPLOYED = [p for p in sorted(CITY.people) if CITY.people.employer(p) is None][:6]


@given(
    st.lists(
        st.tuples(
            # A few posts (one already held), so that a post comes back in a later run.
            st.sampled_from(["a/checkpoint", "b/checkpoint", "c/front_line", ROSTER_POST]),
            st.sampled_from(["checkpoint", "front_line"]),
            st.sampled_from(["community", "street", "grid"]),
            st.lists(st.sampled_from(_EMPLOYED + _UNEMPLOYED), min_size=1, max_size=5),
        ),
        max_size=12,
    ),
    st.booleans(),
)
def test_the_planner_s_runs_seat_each_assignment_in_turn(
    runs: list[tuple[str, str, str, list[str]]], stranger: bool
) -> None:
    """``_assign_runs`` (the planner's runs, as a command's events carry them) seats
    people as ``_assign_to`` one person at a time does: holders in order after
    those a post held, each person's assignment, the employers' counts (in the
    order drawn, front-line duty drawing from none); with a person the city does
    not know drawn from an employer, nothing changes."""
    planned = [(post, role, level, tuple(people)) for post, role, level, people in runs]
    if stranger:
        planned.append(("a/checkpoint", "checkpoint", "community", ("nobody",)))
    one_by_one = ROSTER._copy()
    for post, role, level, people in planned:
        for person in people:
            if person == "nobody":
                break
            one_by_one._assign_to(person, post, role, level, T0)
    at_once = ROSTER._copy()
    done = at_once._assign_runs(planned, T0)
    assert done is not stranger
    if stranger:
        assert at_once.snapshot() == ROSTER.snapshot()
        assert list(at_once._drawn.items()) == list(ROSTER._drawn.items())
        return
    assert list(at_once._holders.items()) == list(one_by_one._holders.items())
    assert list(at_once.assignment.items()) == list(one_by_one.assignment.items())
    assert list(at_once._drawn.items()) == list(one_by_one._drawn.items())
    assert at_once.snapshot() == one_by_one.snapshot()


def test_a_command_s_planned_data_is_no_part_of_its_events() -> None:
    """A declaration's events carry the planner's rows of opened posts and runs of
    assignments to the reducer (``Events._planned``); applying them so gives the
    state that the same events give without them (as a replay reads them), one
    by one or a run at a time, and they change neither equality nor pickling."""
    engine = Engine(CITY, clock=ManualClock())
    events = engine.declare(CITY.chain.city).events
    zoned, (opened_at, opened_end, rows), (first, end, [planned]) = events._planned
    runs, employers, run_rows, when = planned
    # Before them the zones and modes, with their draft's tables (see test_measure_runs).
    assert set(events._columns[1][zoned[0] : zoned[1]]) == {"zone.changed", "mode.changed"}
    assert zoned[2][0][0] is engine._kernel.state.measures
    assert set(events._columns[1][opened_at:opened_end]) == {"post.opened"}
    assert [row[0] for row in rows] == [e.data["post"] for e in events[opened_at:opened_end]]
    assert set(events._columns[1][first:end]) == {"post.assigned"}
    assert end - first == sum(len(run[3]) for run in runs) > 300
    # The employers drawn from, in the order drawn: each person's, front-line duty
    # and people without one left out (what the reducer would look up).
    employer = CITY.people.employer
    drawn = [
        employer(p) for post, role, level, people in runs if role != "front_line" for p in people
    ]
    assert employers == [e for e in drawn if e is not None]
    assert len(employers) > 100
    # Each run's people's rows, in the events' order.
    assert when is events._columns[0][first]
    assert [row for got in run_rows for row in got] == [
        _row(e.data["person"]) for e in events[first:end]
    ]
    plain = Events.of(list(events))
    assert plain._planned == ()
    assert plain == events
    assert pickle.loads(pickle.dumps(events))._planned == ()
    live = engine._kernel.state.snapshot()
    counts = list(engine._kernel.state.roster._drawn.items())
    for kept in (events, plain):
        state = EngineState(CITY, engine.rules)
        assert state.apply_all(kept) == len(events)
        assert state.snapshot() == live
        assert list(state.roster._drawn.items()) == counts  # in the order drawn
    state = EngineState(CITY, engine.rules)
    _one_by_one(state, plain)
    assert state.snapshot() == live
    # Planned data that does not cover the whole run of its events is not read.
    short = end - len(runs[-1][3])
    for hint in (
        (first, short, [(runs[:-1], None)]),
        (first + 1, end, [(runs, employers)]),
        (opened_at, opened_end - 1, rows[:-1]),
    ):
        state = EngineState(CITY, engine.rules)
        assert state.apply_all(Events(events.first, events._columns, (hint,))) == len(events)
        assert state.snapshot() == live


def _tables(roster: Roster) -> dict[str, Any]:
    return {
        "posts": roster._posts,
        "holders": roster._holders,
        "shortfalls": roster._shortfalls,
        "hot": roster._hot,
    }


@pytest.mark.parametrize("one_at_a_time", [False, True])
def test_a_lift_gives_the_tables_room_back(one_at_a_time: bool) -> None:
    """After a declaration's lift the roster's emptied tables are as small as new ones
    (a dict keeps its room when entries are taken out: every later lookup probed a
    sparse table as big as the declaration), in runs or one event at a time."""
    engine = Engine(CITY, clock=ManualClock())
    declared = list(engine.declare(CITY.chain.city).events)
    lifted = list(engine.lift(CITY.chain.city, skip_recovery=True).events)
    roster = engine._kernel.state.roster
    if one_at_a_time:
        state = EngineState(CITY, engine.rules)
        for event in [*declared, *lifted]:
            state.apply(event)
        roster = state.roster
    assert sum(e.type == "post.opened" for e in declared) > 100
    assert roster._assignment.count == 0
    assert not roster._assignment.log  # (a list by row: as long as a new one's)
    new = _tables(Roster(CITY))
    for name, table in _tables(roster).items():
        assert not table, name
        assert type(table) is type(new[name])
        assert sys.getsizeof(table) == sys.getsizeof(new[name]), name


@given(
    st.lists(st.integers(0, 10**6), unique=True, max_size=200),
    st.data(),
    st.booleans(),
)
def test_compacting_keeps_entries_and_order(
    keys: list[int], data: st.DataObject, counter: bool
) -> None:
    """``_compact`` keeps what is left, in its order (a Counter's counts as they are),
    and gives the room back when more were taken out than are left."""
    table: dict[int, int] = Counter() if counter else {}
    for key in keys:
        table[key] = key % 7 + 1
    out = data.draw(st.lists(st.sampled_from(keys), unique=True) if keys else st.just([]))
    size = len(table)
    for key in out:
        del table[key]
    left = list(table.items())
    _compact(table, size)
    assert list(table.items()) == left
    assert type(table) is (Counter if counter else dict)
    if len(out) > len(left):
        fresh = type(table)()
        dict.update(fresh, left)
        assert sys.getsizeof(table) <= sys.getsizeof(fresh)


def test_a_lift_s_planned_releases_give_the_state_its_events_give() -> None:
    """A lift's releases go to the reducer as the planner's columns (its people and
    posts, ``Events._planned``), its closed posts and releases recorded in columns
    with compact data: the events read as the plain records a loop over the
    releases makes, and applying them with or without the planner's columns, a
    run at a time or one by one, gives the live state."""
    engine = Engine(CITY, clock=ManualClock())
    declared = engine.declare(CITY.chain.city).events
    before = engine._kernel.state.roster._copy()
    events = engine.lift(CITY.chain.city, skip_recovery=True).events
    zoned, (first, end, [(persons, posts, rows, distinct)]) = events._planned
    assert list(rows) == list(map(_row, persons))  # the people's rows, for the reducer
    assert distinct
    assert {"zone.changed", "mode.changed"} >= set(events._columns[1][zoned[0] : zoned[1]])
    released = list(events[first:end])
    assert {e.type for e in released} == {"post.released"}
    assert len(released) > 300
    assert [e.data for e in released] == [
        {"person": person, "post": post, "role": before.posts[post].role}
        for person, post in zip(persons, posts, strict=True)
    ]
    closed = [e for e in events if e.type == "post.closed"]
    assert closed
    assert [e.data for e in closed] == [
        {"post": e.data["post"], "role": before.posts[e.data["post"]].role} for e in closed
    ]
    assert all(e.cause == f"{e.data['role']} no longer needed" for e in closed)
    live = engine._kernel.state.snapshot()
    counts = list(engine._kernel.state.roster._drawn.items())
    plain = Events.of(list(events))
    assert plain._planned == ()
    for kept in (events, plain):
        state = EngineState(CITY, engine.rules)
        state.apply_all(declared)
        assert state.apply_all(kept) == len(events)
        assert state.snapshot() == live
        assert list(state.roster._drawn.items()) == counts
    state = EngineState(CITY, engine.rules)
    _one_by_one(state, Events.of(list(declared) + list(events)))
    assert state.snapshot() == live


@given(st.integers(32, 40), st.integers(0, 5))  # a run at a time from 32 events
def test_planned_releases_leave_each_post_those_not_released(released: int, first: int) -> None:
    """A run of releases that carries the planner's columns (people, posts) takes
    each person off the post the columns name, as the events one by one do: a
    post the plan does not close keeps those not released, in order."""
    people = sorted(CITY.people)[:45]
    post = "a/checkpoint"
    data = {"post": post, "role": "checkpoint", "level": "community"}
    seated = [
        Event(
            seq, T0, "post.assigned", "a", "c000001", "system", "", None, None, data | {"person": p}
        )
        for seq, p in enumerate(people, start=1)
    ]
    gone = people[first : first + released]
    releases = [
        Event(
            seq,
            T0,
            "post.released",
            "a",
            "c000002",
            "system",
            "",
            None,
            None,
            {"person": p, "post": post, "role": "checkpoint"},
        )
        for seq, p in enumerate(gone, start=len(people) + 1)
    ]
    plain = Events.of(releases)
    planned = Events(plain.first, plain._columns, ((0, len(gone), [(gone, [post] * len(gone))]),))
    expected = EngineState(CITY, Rules.default())
    _one_by_one(expected, Events.of(seated + releases))
    state = EngineState(CITY, Rules.default())
    state.apply_all(Events.of(seated))
    assert state.apply_all(planned) == len(gone)
    assert state.roster.holder_of(post) == tuple(p for p in people if p not in gone)
    assert state.snapshot() == expected.snapshot()

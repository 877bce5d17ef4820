"""A command's zones and modes applied a run at a time (issue 15 item 5) give what
one event at a time gives.

``Measures._apply_run`` applies a run of ``zone.*`` or ``mode.*`` events of a
command's columns with the state's tables read once; ``Measures._apply_fields``
(one event) is the form it stands for, and the two are compared here on runs with
unknown units, zones and modes among them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gridgov import Engine, GridgovError, ManualClock, Rules
from gridgov._state import _RUNS_FROM, EngineState
from gridgov.errors import JournalError, UnknownUnitError
from gridgov.journal import Events
from gridgov.measures import MEASURE_EVENTS, Measures, iso_time
from gridgov.model import Level
from gridgov.presets import jiamusi

CITY = jiamusi(scale=0.05)
COMPOUNDS = sorted(CITY.compounds)[:12]
COMMUNITIES = sorted(CITY.chain.units(Level.COMMUNITY))[:6]
RULES = Rules.default()
T0 = datetime(2022, 3, 1, tzinfo=UTC)
#: Due texts: the same object for several events, equal texts as distinct objects, none.
DUES = [iso_time(T0 + timedelta(days=d)) for d in (3, 7, 14)]
DUE = st.one_of(
    st.none(),
    st.sampled_from(DUES),
    st.sampled_from(DUES).map(lambda text: "".join(list(text))),
)

zone_event = st.tuples(
    st.sampled_from(["zone.changed", "zone.renewed"]),
    st.one_of(st.sampled_from(COMPOUNDS), st.just("nowhere")),
    st.one_of(st.sampled_from(["open", "precaution", "controlled", "sealed"]), st.just("lockdown")),
    DUE,
    st.booleans(),
)
mode_event = st.tuples(
    st.sampled_from(["mode.changed", "mode.renewed"]),
    st.one_of(st.sampled_from(COMMUNITIES), st.just("nowhere")),
    st.one_of(st.sampled_from(["normal", "alert", "emergency", "recovery"]), st.just("panic")),
    DUE,
    st.booleans(),
)


def _state(measures: Measures) -> tuple[Any, ...]:
    counts = {c: dict(n) for c, n in measures._counts.items()}
    return measures.snapshot(), counts, sorted(measures._raised)


def _one_by_one(
    measures: Measures, kind: str, columns: tuple[list[Any], ...], first: int
) -> tuple[int, type[Exception]] | None:
    """Apply the run event by event; where it stopped and what it raised (None: all)."""
    units, news, datas = columns
    for index, (unit, new, data) in enumerate(zip(units, news, datas, strict=True)):
        try:
            measures._apply_fields(kind, unit, new, data, first + index)
        except (KeyError, JournalError) as exc:
            return index, _family(exc)
    return None


def _run(
    measures: Measures, kind: str, columns: tuple[list[Any], ...], first: int
) -> tuple[int, type[Exception]] | None:
    """Apply the run at once; where it stopped and what it raised (None: all)."""
    try:
        measures._apply_run(kind, (columns[0], columns[1], columns[2]), 0, len(columns[0]), first)
    except (KeyError, JournalError) as exc:
        return measures._stopped_at, _family(exc)
    return None


def _family(exc: Exception) -> type[Exception]:
    """KeyError for any unknown unit (the engine names it: UnknownUnitError), else its type."""
    return KeyError if isinstance(exc, KeyError) else type(exc)


@given(st.one_of(st.lists(zone_event, max_size=12), st.lists(mode_event, max_size=12)))
@example(
    [("zone.changed", COMPOUNDS[0], "sealed", DUES[0], False)] * 2
    + [("zone.changed", "nowhere", "sealed", DUES[0], False)]
)
@example(
    [
        ("mode.changed", COMMUNITIES[0], "alert", DUES[1], False),
        ("mode.changed", "x", "alert", None, False),
    ]
)
@example(
    [
        ("zone.changed", COMPOUNDS[1], "controlled", DUES[2], True),
        ("zone.renewed", COMPOUNDS[1], "controlled", None, False),
    ]
)
def test_a_run_of_zones_or_modes_is_applied_as_one_event_at_a_time(
    events: list[tuple[str, str, str, str | None, bool]],
) -> None:
    # One kind per run (the engine's runs are of one kind); the events keep theirs
    # where the fields are read, the run's kind decides the table.
    kind = events[0][0] if events else "zone.changed"
    units = [unit for _, unit, _, _, _ in events]
    news: list[str | None] = [new for _, _, new, _, _ in events]
    datas = [
        {"due": due, "hold": hold} if kind.startswith("zone.") else {"due": due}
        for _, _, _, due, hold in events
    ]
    # A little history first: some compounds not open, some communities not normal.
    prior_news: list[str | None] = ["sealed", "precaution"]
    prior_datas: list[Any] = [{"due": DUES[0], "hold": True}, {"due": None, "hold": False}]
    prior = ([COMPOUNDS[2], COMPOUNDS[3]], prior_news, prior_datas)
    runs, singles = Measures(CITY), Measures(CITY)
    for measures in (runs, singles):
        measures._apply_run("zone.changed", prior, 0, 2, 1)
        measures._apply_fields("mode.changed", COMMUNITIES[1], "alert", {"due": DUES[2]}, 3)
    expected = _one_by_one(singles, kind, (units, news, datas), 10)
    got = _run(runs, kind, (units, news, datas), 10)
    assert got == expected
    assert _state(runs) == _state(singles)


def test_a_run_applies_only_its_own_slice_of_the_columns() -> None:
    measures, singles = Measures(CITY), Measures(CITY)
    units = [COMPOUNDS[0], COMPOUNDS[1], COMPOUNDS[2]]
    news: list[str | None] = ["sealed", "controlled", "precaution"]
    datas = [{"due": DUES[0], "hold": False}] * 3
    measures._apply_run("zone.changed", (units, news, datas), 1, 2, 5)
    singles._apply_fields("zone.changed", units[1], news[1], datas[1], 6)
    assert _state(measures) == _state(singles)
    assert measures.zone(COMPOUNDS[0]) == "open"
    assert measures.zone(COMPOUNDS[1]) == "controlled"


def _events(kinds: list[str], units: list[str], news: list[str | None], datas: list[Any]) -> Events:
    """Events of one command each, a minute apart, in columns."""
    count = len(kinds)
    times = [T0 + timedelta(minutes=i) for i in range(count)]
    names = [f"c{i + 1:06d}" for i in range(count)]
    olds: list[str | None] = [None] * count
    return Events(
        1, (times, kinds, units, names, ["system"] * count, ["why"] * count, olds, news, datas)
    )


def test_an_unknown_unit_in_a_run_names_its_event_and_counts_up_to_it() -> None:
    """The state's counters move past the event that raised, as one at a time they do."""
    size = 40  # a run long enough for the column path (EngineState._apply_events)
    units = [COMPOUNDS[i % len(COMPOUNDS)] for i in range(size)]
    units[33] = "nowhere"
    kinds = ["zone.changed"] * size
    news: list[str | None] = ["sealed"] * size
    datas: list[Any] = [{"due": DUES[0], "hold": False}] * size
    events = _events(kinds, units, news, datas)
    state = EngineState(CITY, RULES)
    with pytest.raises(UnknownUnitError, match=r"event 34.*nowhere"):
        state.apply_all(events)
    one = EngineState(CITY, RULES)
    for event in events[:33]:
        one.apply(event)
    with pytest.raises(GridgovError):
        one.apply(events[33])
    assert state.commands == one.commands == 34
    assert state.last_time == one.last_time == T0 + timedelta(minutes=33)
    assert state.snapshot() == one.snapshot()


def test_an_unknown_mode_in_a_run_is_a_journal_error_at_its_event() -> None:
    size = 40
    units = [COMMUNITIES[i % len(COMMUNITIES)] for i in range(size)]
    news: list[str | None] = ["alert"] * size
    news[35] = "panic"
    events = _events(["mode.changed"] * size, units, news, [{"due": None}] * size)
    state = EngineState(CITY, RULES)
    with pytest.raises(JournalError, match="event 36: unknown mode 'panic'"):
        state.apply_all(events)
    assert state.commands == 36


def test_a_case_commits_and_replays_the_same_zones_and_modes() -> None:
    engine = Engine(CITY, clock=ManualClock())
    engine.report_case(COMPOUNDS[0])
    engine.report_case(COMPOUNDS[5])
    kernel = engine._kernel
    replayed = EngineState(CITY, engine.rules)
    replayed.apply_all(kernel.journal.replay(0))
    assert replayed.snapshot() == kernel.state.snapshot()
    assert set(engine.zones().values()) > {"open"}


_STREETS = sorted({CITY.chain.street_of(c) for c in COMMUNITIES})
#: Clocks in three zones: UTC, a named zone, a fixed offset of its own (the due
#: times the state keeps are those the events' texts read back, in every zone).
_ZONES = [UTC, ZoneInfo("Asia/Shanghai"), timezone(timedelta(hours=5, minutes=30), "IST")]
_command = st.one_of(
    st.tuples(st.just("case"), st.sampled_from(COMPOUNDS)),
    st.tuples(
        st.just("declare"),
        st.sampled_from([*COMMUNITIES[:3], *COMPOUNDS[:4]]),
        st.sampled_from(["sealed", "controlled", "precaution"]),
        st.booleans(),
    ),
    st.tuples(
        st.just("lift"),
        st.sampled_from([*_STREETS, *COMMUNITIES[:3], CITY.chain.city]),
        st.sampled_from(["open", "precaution"]),
        st.booleans(),
    ),
    st.tuples(st.just("wait"), st.integers(1, 20 * 24)),
)


def _exact(state: EngineState) -> tuple[Any, ...]:
    """The whole state, the measures' counts and raised compounds, and each due time
    with its zone (equal times in two zones compare equal: compared as printed)."""
    measures = state.measures
    dues = [
        {unit: (due.isoformat(), due.tzinfo, due.fold) for unit, due in table.items() if due}
        for table in (measures._zone_due, measures._mode_due)
    ]
    counts = {c: list(n.items()) for c, n in measures._counts.items()}
    return state.snapshot(), counts, sorted(measures._raised), dues


@given(
    st.sampled_from(_ZONES),
    st.lists(_command, min_size=1, max_size=12),
)
@example(
    _ZONES[1],
    [
        ("case", COMPOUNDS[0]),
        ("declare", COMMUNITIES[1], "sealed", True),
        ("wait", 24 * 15),
        ("lift", CITY.chain.city, "open", False),
    ],
)
def test_a_draft_s_tables_give_the_state_its_events_give(
    zone: tzinfo, commands: list[tuple[Any, ...]]
) -> None:
    """A command's zones and modes are applied from its draft's tables at once
    (``Measures._apply_draft``): after any cases, declarations, lifts and due
    step-downs the live state is the one its journal's events give, one command
    after the other, and every measures draft was applied from its tables."""
    clock = ManualClock(datetime(2022, 3, 1, 9, 30, tzinfo=zone))
    engine = Engine(CITY, clock=clock)
    kernel = engine._kernel
    drafts = []
    applied = Measures._apply_draft

    def counted(self: Measures, planned: tuple[Any, ...]) -> bool:
        done = applied(self, planned)
        drafts.append(done)
        return done

    drafted = 0  # commands of many events planned by a draft that recorded zones or modes
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Measures, "_apply_draft", counted)
        for command in commands:
            if command[0] == "wait":  # due step-downs: their events applied from columns
                clock.advance(timedelta(hours=command[1]))
                engine.advance()
                continue
            if command[0] == "case":
                result = engine.report_case(command[1])
            elif command[0] == "declare":
                result = engine.declare(command[1], command[2], hold=command[3])
            else:
                result = engine.lift(command[1], command[2], skip_recovery=command[3])
            # (A command of few events is applied an event at a time: no runs.)
            many = len(result.events) >= _RUNS_FROM
            drafted += many and not MEASURE_EVENTS.isdisjoint(e.type for e in result.events)
    assert drafts == [True] * drafted
    replayed = EngineState(CITY, engine.rules)
    for events in _by_command(kernel.journal.replay(0)):
        replayed.apply_all(events)
    assert _exact(replayed) == _exact(kernel.state)


def _by_command(events: Iterable[Any]) -> list[list[Any]]:
    """Events grouped by command, in order (each applied as its own batch)."""
    out: list[list[Any]] = []
    for event in events:
        if out and out[-1][0].command == event.command:
            out[-1].append(event)
        else:
            out.append([event])
    return out


def test_a_draft_of_a_state_that_moved_on_is_not_applied() -> None:
    """A draft's tables apply only to the state they were planned against: once
    another change came, nothing is changed and the caller applies the events."""
    engine = Engine(CITY, clock=ManualClock(T0))
    draft = engine._draft()
    draft.set_zone(COMPOUNDS[1], "sealed", None, False, T0, "test")
    [columns] = draft.recorded()
    assert columns.planned is not None
    measures = engine._kernel.state.measures
    engine.report_case(COMPOUNDS[0])
    before = _exact(engine._kernel.state)
    assert not measures._apply_draft(columns.planned[0])
    assert _exact(engine._kernel.state) == before
    other = Engine(CITY, clock=ManualClock(T0))._kernel.state.measures
    fresh = engine._draft()
    fresh.set_zone(COMPOUNDS[1], "sealed", None, False, T0, "test")
    assert not other._apply_draft(fresh.recorded()[0].planned[0])  # type: ignore[index]

"""A command's zones and modes applied a run at a time (issue 15 item 5) give what
one event at a time gives.

``Measures._apply_run`` applies a run of ``zone.*`` or ``mode.*`` events of a
command's columns with the state's tables read once; ``Measures._apply_fields``
(one event) is the form it stands for, and the two are compared here on runs with
unknown units, zones and modes among them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gridgov import Engine, GridgovError, ManualClock, Rules
from gridgov._state import EngineState
from gridgov.errors import JournalError, UnknownUnitError
from gridgov.journal import Events
from gridgov.measures import Measures, iso_time
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

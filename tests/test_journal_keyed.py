"""Journal format 5 (issue 15, item 8): format 4's blocks, each text column stored by
runs and the data by key (a run of events sharing one key set is a column per key), so
that a replay decodes a few lists per block, not a dict per event. New journals are
written in it; journals of format 4 still open, replay to the same state and take
format 4 blocks; every malformed body is a JournalError naming the block's seq range,
with nothing changed."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridgov import Engine, ManualClock
from gridgov import journal as journal_module
from gridgov.cli import main
from gridgov.errors import JournalError
from gridgov.journal import GENESIS, Event, Events, SqliteJournal, _block_hash
from gridgov.presets import small
from gridgov.records import record_data
from test_journal_blocks import EVENT, blocks, digest, rewrite, run_commands

CITY = small()
START = datetime(2022, 9, 17, tzinfo=UTC)
FIXTURE = Path(__file__).parent / "data" / "journal"


def written(tmp_path: Path, name: str = "j.sqlite") -> tuple[Path, list[Event], dict[str, Any]]:
    """A closed journal (no snapshot) of a mix of commands, its events and the state."""
    path = tmp_path / name
    engine, _ = run_commands(path)
    events = list(engine.journal)
    state = engine.snapshot()
    engine._kernel.journal.close()
    return path, events, state


def sealed(path: Path) -> dict[str, Any]:
    """Seal and lift the small preset's whole city twice on ``path`` (long runs of one
    kind and key set), then close it under the engine; returns the live state."""
    clock = ManualClock(START)
    engine = Engine.open(path, city=CITY, clock=clock)
    for _ in range(2):
        clock.advance(timedelta(days=1))
        engine.declare(CITY.chain.city)
        clock.advance(timedelta(days=1))
        engine.lift(CITY.chain.city, skip_recovery=True)
    state = engine.snapshot()
    engine._kernel.journal.close()
    return state


def replayed(path: Path) -> dict[str, Any]:
    """The state of an engine that replays every event of ``path`` (its snapshots
    deleted from a copy)."""
    copy = path.with_name(path.stem + "-copy.sqlite")
    shutil.copyfile(path, copy)
    with closing(sqlite3.connect(copy)) as db, db:
        db.execute("DELETE FROM snapshots")
    engine = Engine.open(copy, city=CITY, clock=ManualClock(START))
    state = engine.snapshot()
    engine.close()
    return state


class TestTheFormat:
    def test_a_new_journal_is_of_format_5(self, tmp_path: Path) -> None:
        path, events, _ = written(tmp_path)
        with closing(sqlite3.connect(path)) as db, db:
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        assert meta["schema"] == "3"
        assert meta["format"] == str(journal_module.FORMAT_VERSION) == "5"
        previous = GENESIS
        for first, last, command, final, body, stored in blocks(path):
            previous = _block_hash(previous, first, last, command, bool(final), body)
            assert stored == previous  # one SHA-256 per block, as in format 4
            record = orjson.loads(body)
            assert len(record) == 9
            # The text columns by runs: [values, lengths or None].
            for column in record[2:8]:
                values, lengths = column
                assert len(values) == (last - first + 1 if lengths is None else len(lengths))
            # The data by key: runs [count, keys, column, ...] covering the block.
            assert sum(run[0] for run in record[8]) == last - first + 1
            assert all(len(run) == 2 + len(run[1]) for run in record[8])
        journal = SqliteJournal(path, verify="full")
        assert journal.since(0) == events
        journal.close()

    def test_a_seal_is_a_few_runs_and_replays_to_the_live_state(self, tmp_path: Path) -> None:
        """Sealing and lifting: each block's data is a few runs (one per kind of event,
        not a dict per event), and the replay (snapshots deleted) gives the live state
        and the state of the same commands written in format 4."""
        path = tmp_path / "five.sqlite"
        state = sealed(path)
        rows = blocks(path)
        events = sum(r[1] - r[0] + 1 for r in rows)
        runs = sum(len(orjson.loads(r[4])[8]) for r in rows)
        assert events > 500
        assert runs * 5 < events
        assert replayed(path) == state
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(journal_module, "_NEW_FORMAT", 4)
            old = tmp_path / "four.sqlite"
            assert sealed(old) == state
        assert replayed(old) == state
        # The bodies are smaller too (the data's keys and repeated text written once).
        assert sum(len(r[4]) for r in blocks(old)) > 1.5 * sum(len(r[4]) for r in rows)

    def test_a_format_4_journal_takes_format_4_blocks(self, tmp_path: Path) -> None:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(journal_module, "_NEW_FORMAT", 4)
            path, events, _ = written(tmp_path)
        journal = SqliteJournal(path)
        assert journal._blocks
        assert not journal._keyed
        more = [Event(len(events) + 1, START, "note.made", "u", "x", "system", data={"a": 1})]
        journal.append(more)
        journal.close()
        with closing(sqlite3.connect(path)) as db, db:
            (fmt,) = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        assert fmt == "4"
        body = blocks(path)[-1][4]
        assert orjson.loads(body)[8] == [{"a": 1}]  # a dict per event, as format 4 writes
        journal = SqliteJournal(path, verify="full")
        assert journal.since(0) == [*events, *more]
        journal.close()

    def test_format_6_is_refused(self, tmp_path: Path) -> None:
        path, _, _ = written(tmp_path)
        with closing(sqlite3.connect(path)) as db, db:
            db.execute("UPDATE meta SET value = '6' WHERE key = 'format'")
        before = digest(path)
        with pytest.raises(JournalError, match="format 6; this gridgov reads formats 2 to 5"):
            SqliteJournal(path)
        assert digest(path) == before

    def test_old_fixtures_replay_as_before(self, tmp_path: Path) -> None:
        """Formats 2 and 3 (the checked-in files) read the same events as ever, and
        take new commands in their own format."""
        for name in ("format2", "format3"):
            path = tmp_path / f"{name}.sqlite"
            shutil.copyfile(FIXTURE / f"{name}.sqlite", path)
            journal = SqliteJournal(path, verify="full")
            assert not journal._blocks
            assert len(journal.since(0)) == len(journal)
            journal.close()

    def test_gridgov_check_accepts_it(self, tmp_path: Path) -> None:
        path, _, _ = written(tmp_path)
        assert main(["check", str(path)]) == 0


#: Data of a few key sets (runs of one key set), values that equal each other across
#: types (1, 1.0, True: never merged into one run), text and None in runs.
KEYED: st.SearchStrategy[dict[str, Any]] = st.one_of(
    st.fixed_dictionaries({"person": st.sampled_from(["p1", "p2"]), "post": st.just("x")}),
    st.fixed_dictionaries({"post": st.just("x"), "person": st.sampled_from(["p1", "p2"])}),
    st.fixed_dictionaries(
        {"n": st.sampled_from([1, 1.0, True, 0, False, None, "1", [1], [True], {"a": 1}])}
    ),
    st.just({}),
)
RUNNY = st.tuples(
    st.just(START),
    st.sampled_from(["a.b", "c.d"]),
    st.sampled_from(["system", "x"]),
    st.sampled_from(["", "why"]),
    st.sampled_from([None, "open", "sealed"]),
    KEYED,
)


class TestRoundTrip:
    @settings(max_examples=60, deadline=None)
    @given(
        commands=st.lists(
            st.tuples(
                st.sampled_from(["c1", "c%2", "c\u00e9"]),
                st.lists(st.one_of(EVENT, RUNNY), max_size=12),
                st.booleans(),
            ),
            min_size=1,
            max_size=5,
        ),
        cap=st.integers(min_value=1, max_value=6),
    )
    def test_any_events_read_back_as_they_were(
        self, tmp_path_factory: pytest.TempPathFactory, commands: Any, cap: int
    ) -> None:
        """Arbitrary commands' events (runs of text and of key sets, values equal across
        types, data only the standard library encodes exactly, compact data, commands
        split in blocks) read back equal, their data of the same types."""
        path = tmp_path_factory.mktemp("rt") / "j.sqlite"
        appended: list[Event] = []
        journal = SqliteJournal(path)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(journal_module, "_BLOCK_EVENTS", cap)
            for name, fields, compact in commands:
                seq = len(appended) + 1
                mine = [
                    Event(seq + i, when, kind, "u", name, actor, cause, old, None, data)
                    for i, (when, kind, actor, cause, old, data) in enumerate(fields)
                ]
                if compact and mine:
                    # The planner's compact data: (keys, values...) for each event.
                    events = Events.of(mine)
                    datas = events._columns[8]
                    datas[:] = [(tuple(e.data), *e.data.values()) for e in mine]
                    journal.append(events)
                else:
                    journal.append(Events.of(mine) if len(mine) % 2 else mine)
                appended += mine
        journal.close()
        journal = SqliteJournal(path, verify="full")
        try:
            got = journal.since(0)
            assert got == appended
            assert [repr(e.data) for e in got] == [repr(e.data) for e in appended]
            assert [e for c in journal.replay_chunks(0, 3) for e in c] == appended
            if appended:
                assert journal.between(2, len(appended) - 1) == appended[1:-1]
        finally:
            journal.close()

    def test_equal_values_of_other_types_keep_their_types(self, tmp_path: Path) -> None:
        """1, True and 1.0 are equal in Python but not the same JSON: a run never
        merges them (nor 0, False, 0.0 and None-like values)."""
        values: list[Any] = [1, True, 1.0, 1, 1, 1, 0, False, 0.0, "1", [1], [True], [1]]
        events = [
            Event(i + 1, START, "note.made", "u", "c", "system", data={"n": value})
            for i, value in enumerate(values)
        ]
        path = tmp_path / "j.sqlite"
        journal = SqliteJournal(path)
        journal.append(Events.of(events))
        journal.close()
        journal = SqliteJournal(path, verify="full")
        got = [e.data["n"] for e in journal.since(0)]
        journal.close()
        assert repr(got) == repr(values)


def damaged(tmp_path: Path, change: Any) -> tuple[Path, int, int]:
    """A journal whose third block's body (decoded) ``change`` edits, its chain forged
    to match (what the hashes cannot catch); returns it and the block's range."""
    path, _ = written(tmp_path)[:2]
    rows = [list(r[:5]) for r in blocks(path)]
    record = orjson.loads(rows[2][4])
    change(record)
    rows[2][4] = orjson.dumps(record)
    rewrite(path, rows)
    return path, rows[2][0], rows[2][1]


def refused(path: Path, first: int, last: int, capsys: pytest.CaptureFixture[str]) -> None:
    """Every read of ``path`` is a JournalError naming the block; nothing changed."""
    pattern = rf"block of events {first}-{last} is malformed"
    before = digest(path)
    journal = SqliteJournal(path, verify="full")
    with pytest.raises(JournalError, match=pattern):
        journal.since(0)
    with pytest.raises(JournalError, match=pattern):
        list(journal.replay_chunks(0))
    journal.close()
    with pytest.raises(JournalError, match=pattern):
        Engine.open(path, city=CITY, clock=ManualClock())
    assert main(["check", str(path)]) == 1
    assert f"block of events {first}-{last} is malformed" in capsys.readouterr().err
    assert digest(path) == before


def _runs(record: list[Any]) -> list[Any]:
    """The first data run of a body that holds a key (the block's event's keys)."""
    return next(run for run in record[8] if run[1])


#: Edits of a body of format 5, each leaving it malformed.
ATTACKS = {
    "text column not a pair": lambda r: r.__setitem__(2, r[2][0]),
    "text column of three": lambda r: r[2].append(None),
    "text values not text": lambda r: r.__setitem__(3, [[5], [len(r[1])]]),
    "kind None": lambda r: r.__setitem__(2, [[None], [len(r[1])]]),
    "old state a number": lambda r: r.__setitem__(6, [[1], [len(r[1])]]),
    "lengths short": lambda r: r.__setitem__(4, [["system"], [len(r[1]) - 1]]),
    "lengths long": lambda r: r.__setitem__(4, [["system"], [len(r[1]) + 1]]),
    "length zero": lambda r: r.__setitem__(4, [["system", "x"], [len(r[1]), 0]]),
    "length negative": lambda r: r.__setitem__(4, [["system", "x"], [len(r[1]) + 1, -1]]),
    "length a bool": lambda r: r.__setitem__(4, [["system", "x"], [len(r[1]) - 1, True]]),
    "lengths and values unequal": lambda r: r.__setitem__(4, [["system", "x"], [len(r[1])]]),
    "plain column short": lambda r: r.__setitem__(3, [["u"] * (len(r[1]) - 1), None]),
    "data not a list": lambda r: r.__setitem__(8, {"a": 1}),
    "data empty": lambda r: r.__setitem__(8, []),
    "data run not a list": lambda r: r[8].__setitem__(0, 7),
    "data run too short": lambda r: r[8].__setitem__(0, [r[8][0][0]]),
    "data count more": lambda r: r[8][0].__setitem__(0, r[8][0][0] + 1),
    "data count fewer": lambda r: r[8][0].__setitem__(0, r[8][0][0] - 1),
    "data count huge": lambda r: r[8][0].__setitem__(0, 10**15),
    "data count a float": lambda r: r[8][0].__setitem__(0, float(r[8][0][0])),
    "data keys not text": lambda r: _runs(r)[1].__setitem__(0, 1),
    "data keys not a list": lambda r: _runs(r).__setitem__(1, "keys"),
    "data keys repeated": lambda r: _runs(r).__setitem__(
        slice(1, None), [[*_runs(r)[1], _runs(r)[1][0]], *_runs(r)[2:], _runs(r)[2]]
    ),
    "data key without column": lambda r: _runs(r)[1].append("extra"),
    "data column without key": lambda r: _runs(r).append(_runs(r)[2]),
    "data column short": lambda r: _runs(r).__setitem__(2, [[], None]),
    "data column lengths off": lambda r: _runs(r).__setitem__(2, [["v"], [_runs(r)[0] + 1]]),
    "data dicts short": lambda r: r.__setitem__(8, [{}] * (len(r[1]) - 1) or [{}, {}]),
    # Columns a replay's reducer never reads (kept as stored until read): still
    # checked whole when the block is decoded.
    "causes a number in runs": lambda r: r.__setitem__(5, [["", 5], [1, len(r[1]) - 1]]),
    "actors runs long": lambda r: r.__setitem__(4, [["system", "x"], [1, len(r[1])]]),
    "olds runs short": lambda r: r.__setitem__(6, [[None, "open"], [1, len(r[1]) - 2]]),
    "units a list in runs": lambda r: r.__setitem__(3, [["u", ["u"]], [1, len(r[1]) - 1]]),
    "data column runs long": lambda r: _runs(r).__setitem__(2, [["v", "w"], [1, _runs(r)[0]]]),
    "data column length zero": lambda r: _runs(r).__setitem__(
        2, [["v", "w", "x"], [_runs(r)[0], 0, 0]]
    ),
    "data dicts and runs": lambda r: r.__setitem__(8, [{}, *r[8]]),
}


class TestMalformed:
    """Bodies of format 5 whose chain is forged to match: each a JournalError naming the
    block's seq range on every read (and by ``gridgov check``), nothing changed."""

    @pytest.mark.parametrize("attack", ATTACKS, ids=list(ATTACKS))
    def test_an_attack(
        self, tmp_path: Path, attack: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path, first, last = damaged(tmp_path, ATTACKS[attack])
        refused(path, first, last, capsys)


@pytest.mark.parametrize("format_", [3, 5])
def test_a_replay_hands_over_a_block_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, format_: int
) -> None:
    """By default a journal of blocks is replayed about a block's events at a time (a
    declaration's long runs reach the reducer whole, the block read not cut up),
    one of format 3 rows ``REPLAY_CHUNK`` at a time; the same events either way,
    and an asked chunk size is kept."""
    monkeypatch.setattr(journal_module, "_NEW_FORMAT", format_)
    path = tmp_path / "sealed.sqlite"
    sealed(path)
    journal = SqliteJournal(path)
    try:
        events = journal.since(0)
        chunks = list(journal.replay_chunks(0))
        assert [e for c in chunks for e in c] == events
        longest = max(map(len, chunks))
        if format_ == 3:
            assert longest == journal_module.REPLAY_CHUNK
        else:
            assert journal_module.REPLAY_CHUNK < longest <= journal_module._BLOCK_EVENTS
        asked = list(journal.replay_chunks(0, 100))
        assert max(map(len, asked)) == 100
        assert [e for c in asked for e in c] == events
    finally:
        journal.close()


_KEYS = ["person", "post", "role", "x"]


@st.composite
def _data_runs(draw: st.DrawFn) -> list[Any]:
    """A block's data column of format 5: runs of events whose data share a key set."""
    runs = []
    for _ in range(draw(st.integers(1, 5))):
        count = draw(st.integers(1, 4))
        keys = draw(st.lists(st.sampled_from(_KEYS), unique=True, max_size=4))
        value = st.one_of(st.sampled_from(["a", "b"]), st.integers(0, 2), st.none())
        columns = [[draw(st.lists(value, min_size=count, max_size=count)), None] for _ in keys]
        runs.append([count, keys, *columns])
    return runs


@given(_data_runs(), st.data())
def test_a_replay_s_fields_read_from_its_runs_are_its_data_s(
    datas: list[Any], data: st.DataObject
) -> None:
    """``Events._fields`` of decoded events, read from the block's runs of data
    (``Events._keyed``: slices of a run's values), gives what it reads from each
    event's compact data (None when an event lacks a key), for any range and keys;
    a slice or an extension of the events leaves the runs out."""
    size = sum(run[0] for run in datas)
    runs = journal_module._keyed_runs(datas, size)
    assert runs is not None
    assert len(runs) == len(datas)
    column = journal_module._compact(runs, 0, size)
    columns: Any = (*([f"c{i}"] * size for i in range(8)), column)
    plain = Events(1, columns)
    keyed = Events(1, columns)
    keyed._keyed = tuple(runs)
    start = data.draw(st.integers(0, size))
    stop = data.draw(st.integers(start, size))
    keys = tuple(data.draw(st.lists(st.sampled_from(_KEYS), unique=True, min_size=1)))
    assert keyed._fields(start, stop, keys) == plain._fields(start, stop, keys)
    assert keyed[start:stop]._keyed is None
    keyed._extend_by(Events(size + 1, tuple([x] for x in (*columns[:8], {"person": "p"}))))  # type: ignore[arg-type]
    assert keyed._keyed is None


@settings(max_examples=80, deadline=None)
@given(fields=st.lists(st.one_of(EVENT, RUNNY), min_size=1, max_size=12), data=st.data())
def test_a_decoded_block_reads_as_its_events(fields: Any, data: st.DataObject) -> None:
    """A block of format 5 decoded (its columns kept as stored until they are read)
    reads as the events written, whatever is read first: each column alone
    (``_column``, in any order), each event's data (``_data``) and event (``_event``),
    a range's data (``_datas``) and fields (``_fields``), and all of it once
    ``_columns`` is read (then nothing is kept as stored)."""
    events = [
        Event(i + 1, when, kind, f"u{i % 3}", "c1", actor, cause, old, None, value)
        for i, (when, kind, actor, cause, old, value) in enumerate(fields)
    ]
    size = len(events)
    body = journal_module._keyed_body(Events.of(events))
    decode = journal_module._keyed_events

    def decoded() -> Events:
        got = decode(1, size, "c1", body, {})
        assert got is not None
        return got

    # The expected columns, from the events themselves (not from the decoder).
    columns = [[e[at] for e in events] for at in range(1, 9)]
    datas = [e.data for e in events]
    got = decoded()
    assert got._lazy is not None
    for at in data.draw(st.permutations(range(8))):
        assert got._column(at) == columns[at]
    got = decoded()
    assert [got._data(i) for i in range(size)] == datas
    assert [repr(got._data(i)) for i in range(size)] == [repr(d) for d in datas]
    start = data.draw(st.integers(0, size))
    stop = data.draw(st.integers(start, size))
    assert list(map(record_data, got._datas(start, stop))) == datas[start:stop]
    keys = tuple(data.draw(st.lists(st.sampled_from(_KEYS), unique=True, min_size=1)))
    want = Events.of(events)._fields(start, stop, keys)
    assert got._fields(start, stop, keys) == want
    got = decoded()
    assert [got._event(i) for i in range(size)] == events
    assert got._lazy is not None
    got = decoded()
    assert got._columns[:8] == tuple(columns[:8])
    assert got._lazy is None
    assert list(got) == events
    assert got == Events.of(events)


def test_a_replayed_journal_reads_as_its_events_and_state(tmp_path: Path) -> None:
    """Each block a replay is handed (decoded once, whole) holds the journal's events in
    order, and the engine replaying them gets the live state; a replay from a seq
    inside a block starts there."""
    path = tmp_path / "sealed.sqlite"
    state = sealed(path)
    journal = SqliteJournal(path, verify="full")
    try:
        events = journal.since(0)
        chunks = list(journal.replay_chunks(0))
        assert [len(c) for c in chunks] == [r[1] - r[0] + 1 for r in blocks(path)]
        assert [e for c in chunks for e in c] == events
        middle = blocks(path)[1][0] + 1  # inside the second block
        assert [e for c in journal.replay_chunks(middle) for e in c] == events[middle:]
    finally:
        journal.close()
    assert replayed(path) == state


@pytest.mark.parametrize("which", ["first", "second", "last"])
def test_a_block_cut_while_open_is_named_on_a_read(tmp_path: Path, which: str) -> None:
    """A block deleted after the journal was opened (its chain checked) is named by
    every read that reaches it, a replay's included, not read as a shorter history."""
    path, events, _ = written(tmp_path)
    rows = blocks(path)
    at = {"first": 0, "second": 1, "last": -1}[which]
    gone = rows[at]
    total = len(events)
    if which == "second":
        pattern = (
            rf"event {gone[0]} is missing \(the block of events {rows[2][0]}-{rows[2][1]} "
            rf"follows event {gone[0] - 1}\)"
        )
    else:
        pattern = rf"events 1-{total} are asked for, but event {gone[0]} is missing"
    journal = SqliteJournal(path, verify="full")
    try:
        with closing(sqlite3.connect(path)) as db, db:
            db.execute("DELETE FROM blocks WHERE first = ?", (gone[0],))
        with pytest.raises(JournalError, match=pattern):
            journal.since(0)
        with pytest.raises(JournalError, match=pattern):
            list(journal.replay_chunks(0))
    finally:
        journal.close()

"""What a snapshot vouches for: reopening checks the tail on open and the events a
snapshot covers before any of them is read (issue 11 item 4, issue 18 item 3)."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sqlite3
import tempfile
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gridgov import Engine, ManualClock
from gridgov import journal as journal_module
from gridgov.cli import main
from gridgov.errors import JournalError
from gridgov.journal import (
    _EVENTS_TABLE,
    _SCHEMA,
    GENESIS,
    CommandRecord,
    Event,
    Events,
    SqliteJournal,
    _decode_rows,
    _encode_columns,
    _encode_each,
    _encode_rows,
    _Encoded,
    _runs,
    encode_row,
    encode_snapshot,
    row_hash,
)
from gridgov.presets import small

# Rows of format 3 are edited here (format 4: test_journal_blocks.py).
pytestmark = pytest.mark.usefixtures("format3")

CITY = small()
COMPOUNDS = sorted(CITY.compounds)


def written(path: Path) -> tuple[dict[str, object], int, int]:
    """A journal with a snapshot, then a tail of commands after it.

    Returns (the live state, the snapshot's seq, the number of events).
    """
    engine = Engine.open(path, city=CITY, clock=ManualClock())
    for compound in COMPOUNDS[:3]:
        engine.report_case(compound, key=compound)
    engine.close()  # snapshots here
    engine = Engine.open(path, city=CITY, clock=ManualClock())
    snapshot = engine.load_report.snapshot
    for compound in COMPOUNDS[3:5]:
        engine.report_case(compound, key=compound)
    live = engine.snapshot()
    total = len(engine.journal)
    engine._kernel.journal.close()  # no new snapshot: the tail stays a tail
    return live, snapshot, total


def edit_record(path: Path, seq: int) -> None:
    """Add a space after the first comma of event ``seq``'s record (still valid JSON)."""
    db = sqlite3.connect(path)
    with db:
        (text,) = db.execute("SELECT record FROM events WHERE seq = ?", (seq,)).fetchone()
        edited = text.replace(",", ", ", 1)
        assert edited != text
        db.execute("UPDATE events SET record = ? WHERE seq = ?", (edited, seq))
    db.close()


def snapshot_header(path: Path) -> tuple[int, dict[str, object], bytes]:
    with closing(sqlite3.connect(path)) as db, db:
        seq, blob = db.execute("SELECT seq, state FROM snapshots").fetchone()
    head, _, body = bytes(blob).partition(b"\n")
    return seq, json.loads(head), body


def set_snapshot(path: Path, blob: bytes) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE snapshots SET state = ?", (blob,))
    db.close()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object], int, int]:
    path = tmp_path_factory.mktemp("pristine") / "j.sqlite"
    live, snapshot, total = written(path)
    return path, live, snapshot, total


@pytest.fixture
def journal(
    pristine: tuple[Path, dict[str, object], int, int], tmp_path: Path
) -> tuple[Path, dict[str, object], int, int]:
    source, live, snapshot, total = pristine
    path = tmp_path / "j.sqlite"
    shutil.copyfile(source, path)
    return path, live, snapshot, total


class TestTheSnapshotVouches:
    """A snapshot whose recorded chain hash is the journal's: only the tail is checked on open."""

    def test_the_snapshot_records_the_chain_at_its_seq(
        self, journal: tuple[Path, dict[str, object], int, int]
    ) -> None:
        path, _, snapshot, _ = journal
        seq, header, _ = snapshot_header(path)
        assert seq == snapshot > 0
        with closing(sqlite3.connect(path)) as db, db:
            rows = db.execute(
                "SELECT seq, command, record, last FROM events WHERE seq <= ? ORDER BY seq", (seq,)
            ).fetchall()
        chain = GENESIS
        for number, command, record, last in rows:
            chain = row_hash(chain, number, command, record, bool(last))
        assert header["chain"] == chain.hex()

    def test_reopening_leaves_the_covered_events_unverified_until_read(
        self, journal: tuple[Path, dict[str, object], int, int]
    ) -> None:
        path, live, snapshot, total = journal
        with Engine.open(path, city=CITY, clock=ManualClock()) as engine:
            assert engine.load_report.snapshot == snapshot
            assert engine.load_report.replayed == total - snapshot
            assert engine.journal.unverified == snapshot
            assert engine.snapshot() == live
            assert engine.journal[0].seq == 1  # reading checks them all first
            assert engine.journal.unverified == 0

    def test_full_verification_on_request(
        self, journal: tuple[Path, dict[str, object], int, int]
    ) -> None:
        path, live, _, _ = journal
        with Engine.open(path, city=CITY, clock=ManualClock(), verify="full") as engine:
            assert engine.journal.unverified == 0
            assert engine.snapshot() == live
        journal_ = SqliteJournal(path)
        assert journal_.unverified > 0
        journal_.verify()
        assert journal_.unverified == 0
        journal_.close()

    def test_an_unknown_verification_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(JournalError, match="unknown verification 'some'"):
            SqliteJournal(tmp_path / "j.sqlite", verify="some")


class TestDamage:
    """Every damaged event is refused, on open or before it is read; the state is never wrong."""

    def test_damage_in_the_tail_is_refused_on_open(
        self, journal: tuple[Path, dict[str, object], int, int]
    ) -> None:
        path, _, snapshot, total = journal
        for seq in (snapshot + 1, total):
            damaged = path.with_name(f"tail{seq}.sqlite")
            shutil.copyfile(path, damaged)
            edit_record(damaged, seq)
            with pytest.raises(JournalError, match=rf"first bad event: seq {seq}\b"):
                Engine.open(damaged, city=CITY, clock=ManualClock())

    def test_damage_under_the_snapshot_is_found_before_it_is_believed(
        self, journal: tuple[Path, dict[str, object], int, int]
    ) -> None:
        """Each event the snapshot covers, damaged in turn: the engine opens on the
        snapshot's (right) state, and the event is refused when read, by verify(),
        by verify="full" and by gridgov check."""
        path, live, snapshot, _ = journal
        for seq in range(1, snapshot + 1, max(1, snapshot // 7)):
            damaged = path.with_name(f"under{seq}.sqlite")
            shutil.copyfile(path, damaged)
            edit_record(damaged, seq)
            bad = rf"first bad event: seq {seq}\b"
            engine = Engine.open(damaged, city=CITY, clock=ManualClock())
            try:
                assert engine.snapshot() == live
                assert engine.journal.unverified == snapshot
                with pytest.raises(JournalError, match=bad):
                    engine.journal.between(seq, seq)
                with pytest.raises(JournalError, match=bad):
                    list(engine.journal)
                with pytest.raises(JournalError, match=bad):
                    engine.journal.select(command="anything")
                with pytest.raises(JournalError, match=bad):
                    engine.journal.verify()
            finally:
                engine._kernel.journal.close()
            with pytest.raises(JournalError, match=bad):
                Engine.open(damaged, city=CITY, clock=ManualClock(), verify="full")
            with pytest.raises(JournalError, match=bad):
                SqliteJournal(damaged, verify="full")

    @pytest.mark.parametrize("damage", ["delete", "swap", "hash"])
    def test_every_kind_of_damage_under_the_snapshot_is_named(
        self, journal: tuple[Path, dict[str, object], int, int], damage: str
    ) -> None:
        """A missing row, two rows' records swapped, a row's hash edited: each names its
        first bad seq when the covered events are checked, and never changes the state."""
        path, live, snapshot, _ = journal
        seq = snapshot // 2
        db = sqlite3.connect(path)
        with db:
            if damage == "delete":
                db.execute("DELETE FROM events WHERE seq = ?", (seq,))
                reason = f"event {seq} is missing"
            elif damage == "swap":
                a, b = db.execute(
                    "SELECT record FROM events WHERE seq IN (?, ?) ORDER BY seq", (seq, seq + 1)
                ).fetchall()
                db.execute("UPDATE events SET record = ? WHERE seq = ?", (b[0], seq))
                db.execute("UPDATE events SET record = ? WHERE seq = ?", (a[0], seq + 1))
                reason = f"event {seq} does not match its hash"
            else:
                db.execute("UPDATE events SET hash = ? WHERE seq = ?", (b"\1" * 32, seq))
                reason = f"event {seq} does not match its hash"
        db.close()
        engine = Engine.open(path, city=CITY, clock=ManualClock())
        try:
            assert engine.snapshot() == live
            with pytest.raises(JournalError, match=rf"{reason} \(first bad event: seq {seq}\)"):
                engine.journal.verify()
        finally:
            engine._kernel.journal.close()

    def test_recovery_checks_the_whole_chain(
        self, journal: tuple[Path, dict[str, object], int, int]
    ) -> None:
        path, _, snapshot, _ = journal
        edit_record(path, snapshot - 1)
        with Engine.open(path, city=CITY, clock=ManualClock(), recover="truncate") as engine:
            report = engine.load_report.recovered
            assert report is not None
            assert f"seq {snapshot - 1}" in report
            assert engine.journal.unverified == 0
            assert len(engine.journal) < snapshot

    def test_a_snapshot_with_another_chain_vouches_for_nothing(
        self, journal: tuple[Path, dict[str, object], int, int]
    ) -> None:
        path, _, _, _ = journal
        _, header, body = snapshot_header(path)
        header["chain"] = "ab" * 32
        set_snapshot(path, json.dumps(header, sort_keys=True).encode() + b"\n" + body)
        edit_record(path, 2)
        with pytest.raises(JournalError, match=r"first bad event: seq 2\b"):
            Engine.open(path, city=CITY, clock=ManualClock())

    def test_a_snapshot_without_a_chain_vouches_for_nothing(
        self, journal: tuple[Path, dict[str, object], int, int]
    ) -> None:
        """A snapshot written before the chain's hash was recorded: the whole chain is
        checked on open, and the snapshot still restores the state."""
        path, live, snapshot, _ = journal
        seq, _, body = snapshot_header(path)
        set_snapshot(path, encode_snapshot(seq, json.loads(body)))
        engine = Engine.open(path, city=CITY, clock=ManualClock())
        assert engine.journal.unverified == 0
        assert engine.load_report.snapshot == snapshot
        assert engine.snapshot() == live
        engine._kernel.journal.close()  # close() would take a new snapshot
        edit_record(path, 1)
        with pytest.raises(JournalError, match=r"first bad event: seq 1\b"):
            Engine.open(path, city=CITY, clock=ManualClock())

    def test_an_ignored_snapshot_replays_only_checked_events(
        self, journal: tuple[Path, dict[str, object], int, int]
    ) -> None:
        """The snapshot vouches (its header and hash are right) but its state does not
        match its digest: the engine replays everything, and the replay checks first."""
        path, _, _, _ = journal
        _, header, body = snapshot_header(path)
        set_snapshot(path, json.dumps(header, sort_keys=True).encode() + b"\n" + body + b" ")
        edit_record(path, 3)
        with pytest.raises(JournalError, match=r"first bad event: seq 3\b"):
            Engine.open(path, city=CITY, clock=ManualClock())


class TestCheckCommand:
    """``gridgov check JOURNAL`` checks the whole chain."""

    def test_a_sound_journal(
        self, journal: tuple[Path, dict[str, object], int, int], capsys: pytest.CaptureFixture[str]
    ) -> None:
        path, _, _, _ = journal
        assert main(["check", str(path)]) == 0
        assert capsys.readouterr().out == "ok (journal)\n"

    def test_damage_under_the_snapshot(
        self, journal: tuple[Path, dict[str, object], int, int], capsys: pytest.CaptureFixture[str]
    ) -> None:
        path, _, _, _ = journal
        edit_record(path, 2)
        assert main(["check", str(path)]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"gridgov: error: {path}:0: events: event 2 does not match")
        assert "first bad event: seq 2" in err

    def test_a_pipe_is_not_peeked_at(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Recognising a journal reads nothing from a pipe (it would wait for a writer)."""
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        assert main(["check", str(fifo)]) == 1
        assert "a pipe (FIFO)" in capsys.readouterr().err

    def test_a_database_that_is_not_a_journal_is_left_alone(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = tmp_path / "other.sqlite"
        db = sqlite3.connect(path)
        with db:
            db.execute("CREATE TABLE things (x)")
        db.close()
        assert main(["check", str(path)]) == 1
        assert "not a gridgov journal: without events" in capsys.readouterr().err
        with closing(sqlite3.connect(path)) as db, db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        assert tables == {"things"}


class TestAppendRows:
    """The append path's rows are the events' own records, hashed as row_hash says."""

    @given(
        st.lists(
            st.tuples(
                st.sampled_from(["c1", "c2"]),
                st.sampled_from([timedelta(0), timedelta(hours=1)]),
                st.sampled_from([UTC, timezone(timedelta(hours=8))]),
                st.dictionaries(
                    st.text(max_size=5),
                    st.none() | st.integers() | st.text(max_size=5) | st.floats(),
                    max_size=3,
                ),
            ),
            min_size=1,
            max_size=6,
        )
    )
    # An infinity beside an integer beyond 64 bits (data only the standard library
    # writes): to_json wrote Infinity where the row and the docs say null.
    @example([("c1", timedelta(0), UTC, {"": float("inf"), "0": -(2**63) - 1})])
    def test_rows_match_to_json_and_row_hash(
        self, specs: list[tuple[str, timedelta, tzinfo, dict[str, object]]]
    ) -> None:
        """Whatever the times, offsets, command ids and data (integers beyond 64 bits
        and NaN included), each row holds ``to_json()`` and the chained ``row_hash``."""
        start = datetime(2022, 9, 17, tzinfo=UTC)
        events = [
            Event(
                seq,
                (start + shift).astimezone(zone),
                "zone.changed",
                "u",
                command,
                "a",
                data=data,
            )
            for seq, (command, shift, zone, data) in enumerate(specs, start=1)
        ]
        # As a list (row by row) and as the engine's Events (a column at a time when
        # the events are one command's and orjson encodes their data).
        for given_events in (events, Events.of(events)):
            encoded = _encode_rows(given_events, GENESIS, 1)
            rows = written_rows(encoded)
            chained = encoded.chain
            previous = GENESIS
            for event, row in zip(events, rows, strict=True):
                seq, command, record, last, digest = row[:5]
                assert row[5:] == ("integer", "text", "text", "integer", "blob")
                assert (seq, command, record) == (event.seq, event.command, encode_row(event))
                assert last == (event is events[-1])
                previous = row_hash(previous, seq, command, record, bool(last))
                assert digest == previous
            assert chained == previous
            # Each row reads back as the event its JSON form gives (NaN as null).
            decoded = _decode_rows([r[:3] for r in rows], "j.sqlite")
            assert decoded == [Event.from_json(e.to_json()) for e in events]


def written_rows(encoded: _Encoded) -> list[tuple[Any, ...]]:
    """The rows ``encoded`` inserts into a new journal table, read back, each with its
    fields' SQLite types (seq, command, record, last, hash, then the five types)."""
    db = sqlite3.connect(":memory:")
    try:
        db.executescript(_SCHEMA + _EVENTS_TABLE)
        encoded.insert(db)
        return db.execute(
            "SELECT seq, command, record, last, hash, typeof(seq), typeof(command), "
            "typeof(record), typeof(last), typeof(hash) FROM events ORDER BY seq"
        ).fetchall()
    finally:
        db.close()


#: Keys of compact data (as planners share one tuple of keys among many records).
KEYS = ("post", "person")
OTHER_KEYS = ("cases",)


def _one_data(choice: int, value: object) -> object:
    """Data of one event: a dict, compact data of KEYS or of OTHER_KEYS."""
    if choice == 0:
        return {"post": value, "n": 1}
    if choice == 1:
        return (KEYS, value, "p1")
    return (OTHER_KEYS, value)


class TestColumnRows:
    """A command's Events encoded a column at a time give the rows encoded row by row."""

    @given(
        st.text(min_size=1, max_size=4),
        st.lists(
            st.tuples(
                st.integers(0, 2),  # which time: the shared object, an equal one, an hour on
                st.integers(0, 2),  # which data: dict, compact (KEYS), compact (OTHER_KEYS)
                st.none() | st.text(max_size=4) | st.integers(-(2**70), 2**70) | st.floats(),
                st.none() | st.text(max_size=3),
            ),
            min_size=1,
            max_size=8,
        ),
        st.integers(1, 5),
    )
    # Two equal times of other offsets, compact data then a dict: each keeps its own.
    @example("c", [(0, 1, "a", None), (1, 1, "b", None), (1, 0, 2, "o")], 1)
    # A command id that reads as a format ("%d" and more).
    @example("%d%%%b%", [(0, 0, None, None), (0, 0, None, None)], 1)
    def test_same_rows_as_row_by_row(
        self,
        command: str,
        specs: list[tuple[int, int, object, str | None]],
        first: int,
    ) -> None:
        """Shared and distinct time objects (equal times with other offsets keep their own
        ISO form), dict and compact data (all of one keys tuple or mixed), values orjson
        cannot encode exactly: the same rows, the same chain, the same last hash."""
        shared = datetime(2022, 9, 17, 8, tzinfo=UTC)
        times = [
            shared,
            shared.astimezone(timezone(timedelta(hours=8))),
            shared + timedelta(hours=1),
        ]
        columns: tuple[list[object], ...] = tuple([] for _ in range(9))
        for when, choice, value, old in specs:
            fields = (times[when], "post.assigned", "u1", command, "a", "why", old, "x")
            for column, field in zip(columns, (*fields, _one_data(choice, value)), strict=True):
                column.append(field)
        events = Events(first, columns)  # type: ignore[arg-type]
        previous = b"\x07" * 32
        want = _encode_each(list(events), previous, first)
        # Runs of the default length, of three rows and of 300 bytes of records (a
        # command cut into several runs, some of one row).
        for run_rows, run_bytes in (
            (journal_module._RUN_ROWS, journal_module._RUN_BYTES),
            (3, 300),
        ):
            with (
                mock.patch.object(journal_module, "_RUN_ROWS", run_rows),
                mock.patch.object(journal_module, "_RUN_BYTES", run_bytes),
            ):
                encoded = _encode_rows(events, previous, first)
            assert written_rows(encoded) == written_rows(_Encoded(want, [], b""))
            assert encoded.chain == bytes(want[-1][4])

    def test_columns_taken(self) -> None:
        """Compact data of one keys tuple, one time, one command: the column path encodes
        it (no fallback), with each row's flag and hash as sqlite3 binds them."""
        when = datetime(2022, 9, 17, tzinfo=UTC)
        count = 5
        columns = (
            [when] * count,
            ["post.assigned"] * count,
            [f"u{i}" for i in range(count)],
            ["c000001"] * count,
            ["a"] * count,
            [""] * count,
            [None] * count,
            ["filled"] * count,
            [(KEYS, f"post{i}", i) for i in range(count)],
        )
        events = Events(3, columns)  # type: ignore[arg-type]
        encoded = _encode_columns(events, GENESIS)
        assert encoded is not None
        assert not encoded.rows  # inserted in runs
        rows = written_rows(encoded)
        want = _encode_each(list(events), GENESIS, 3)
        assert rows == written_rows(_Encoded(want, [], b""))
        assert [r[5:] for r in rows] == [("integer", "text", "text", "integer", "blob")] * count
        assert [r[3] for r in rows] == [0] * (count - 1) + [1]
        assert json.loads(rows[2][2])[-1] == {"post": "post2", "person": 2}

    @given(st.lists(st.integers(1, 40), min_size=1, max_size=30), st.integers(1, 50))
    def test_runs_cut_by_rows_and_bytes(self, lengths: list[int], limit: int) -> None:
        """Runs partition the rows in order, each within the row and byte limits (a
        single row larger than the byte limit is a run of its own), the last row's
        flag in the last run only."""
        blobs = [b"x" * n for n in lengths]
        hashes = [bytes([i % 256]) * 32 for i in range(len(blobs))]
        with (
            mock.patch.object(journal_module, "_RUN_ROWS", 4),
            mock.patch.object(journal_module, "_RUN_BYTES", limit),
        ):
            runs = _runs(7, "c", blobs, hashes)
        assert b"".join(run.records for run in runs) == b"".join(blobs)
        assert b"".join(run.hashes for run in runs) == b"".join(hashes)
        assert [run.first for run in runs] == list(
            itertools.accumulate((len(run.hashes) // 32 for run in runs[:-1]), initial=7)
        )
        for run in runs:
            rows = len(run.hashes) // 32
            assert 1 <= rows <= 4
            assert rows == 1 or len(run.records) <= limit
            spans = json.loads(run.spans)
            assert [span & 0xFFFFFFFF for span in spans] == [
                len(blobs[run.first - 7 + i]) for i in range(rows)
            ]
            assert [span >> 32 for span in spans] == list(
                itertools.accumulate((span & 0xFFFFFFFF for span in spans[:-1]), initial=0)
            )
        assert [run.last for run in runs] == [-1] * (len(runs) - 1) + [
            len(runs[-1].hashes) // 32 - 1
        ]

    @pytest.mark.parametrize("mixed", [False, True])
    def test_compact_data_of_wrong_length_refused(self, mixed: bool) -> None:
        """Compact data with a value too few is refused as record_data refuses it (the
        row-by-row path too), not written cut short."""
        when = datetime(2022, 9, 17, tzinfo=UTC)
        datas: list[object] = [(KEYS, "post1", 1), (KEYS, "post2")]
        if mixed:
            datas.append({"n": 1})
        count = len(datas)
        columns = ([when] * count, ["t"] * count, ["u"] * count, ["c"] * count)
        rest = (["a"] * count, [""] * count, [None] * count, [None] * count, datas)
        events = Events(1, (*columns, *rest))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="zip"):
            _encode_rows(events, GENESIS, 1)
        with pytest.raises(ValueError, match="zip"):
            _encode_each(events, GENESIS, 1)

    def test_events_out_of_sequence_refused(self) -> None:
        """Events that do not start at the journal's next seq are refused by name."""
        events = Events.of([Event(4, datetime(2022, 9, 17, tzinfo=UTC), "t", "u", "c", "a")])
        with pytest.raises(JournalError, match="event 4 breaks the journal's sequence"):
            _encode_rows(events, GENESIS, 3)


class TestKeyChain:
    """The idempotency records' chain read on open is the one their commits wrote."""

    @settings(max_examples=40, deadline=None)
    @given(
        st.lists(
            st.tuples(st.text(max_size=6), st.text(max_size=6), st.integers(0, 2**40)),
            max_size=5,
            unique_by=lambda t: t[0],
        )
    )
    def test_any_keys_reopen(self, keys: list[tuple[str, str, int]]) -> None:
        """Keys and fingerprints of any text (NUL and non-ASCII included), any seqs:
        reopening finds the chain the appends recorded."""
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "j.sqlite"
            journal = SqliteJournal(path)
            for number, (key, fingerprint, seq) in enumerate(keys):
                journal.append([], CommandRecord(key, fingerprint, f"c{number}", seq, seq - 1))
            journal.close()
            again = SqliteJournal(path)
            try:
                for key, fingerprint, _ in keys:
                    found = again.lookup(key)
                    assert found is not None
                    assert found.fingerprint == fingerprint
            finally:
                again.close()

    @pytest.mark.parametrize(
        ("column", "value"), [("first_seq", "x"), ("fingerprint", b"f"), ("key", None)]
    )
    def test_a_malformed_record_is_named(self, tmp_path: Path, column: str, value: object) -> None:
        """A record with a field of another type is refused, naming the record."""
        path = tmp_path / "j.sqlite"
        journal = SqliteJournal(path)
        journal.append([], CommandRecord("k1", "f()", "c1", 1, 0))
        journal.append([], CommandRecord("k2", "g()", "c2", 1, 0))
        journal.close()
        db = sqlite3.connect(path)
        with db:
            db.execute(f"UPDATE commands SET {column} = ? WHERE key = 'k2'", (value,))
        db.close()
        name = "None" if column == "key" else "'k2'"
        with pytest.raises(JournalError, match=f"idempotency record {name} is malformed"):
            SqliteJournal(path)

"""Journal format 4 (issue 15, item 8): a row per block of consecutive events of one
command, their fields a column at a time, one hash per block. New journals were written
in it before format 5 (these tests write it: the ``format4`` fixture); every read
answers as for formats 2 and 3; every break of the chain, and every
malformed block, is a JournalError naming the block's seq range, with nothing changed."""

from __future__ import annotations

import gc
import hashlib
import os
import random
import shutil
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridgov import Engine, ManualClock, Rules
from gridgov import journal as journal_module
from gridgov.cli import main
from gridgov.errors import JournalError
from gridgov.journal import GENESIS, Event, Events, SqliteJournal, _block_hash
from gridgov.presets import small
from processes import kill_writer

CITY = small()
COMPOUNDS = sorted(CITY.compounds)
START = datetime(2022, 9, 17, tzinfo=UTC)
FIXTURE = Path(__file__).parent / "data" / "journal"
# The bodies of format 4 are built and edited here (format 5: test_journal_keyed.py).
pytestmark = pytest.mark.usefixtures("format4")


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of at most 7 events: a command of a few dozen is several blocks."""
    monkeypatch.setattr(journal_module, "_BLOCK_EVENTS", 7)


def run_commands(path: Path, count: int = 12) -> tuple[Engine, ManualClock]:
    """An engine on ``path`` that ran a mix of commands (cases, tickets, a lift)."""
    clock = ManualClock(START)
    engine = Engine.open(path, city=CITY, clock=clock)
    for i in range(count):
        clock.advance(timedelta(hours=3))
        if i % 4 == 3:
            engine.open_ticket(COMPOUNDS[i % len(COMPOUNDS)], "medicine", key=f"t{i}")
        else:
            engine.report_case(COMPOUNDS[(i * 7) % len(COMPOUNDS)], key=f"k{i}")
    clock.advance(timedelta(days=1))
    engine.lift(CITY.chain.city, skip_recovery=True)
    return engine, clock


def written(tmp_path: Path, name: str = "j.sqlite", **kwargs: Any) -> tuple[Path, list[Event]]:
    """A closed journal of format 4 (no snapshot: closed under the engine) and its events."""
    path = tmp_path / name
    engine, _ = run_commands(path, **kwargs)
    events = list(engine.journal)
    engine._kernel.journal.close()
    return path, events


def blocks(path: Path) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as db, db:
        return db.execute(
            "SELECT first, last, command, final, body, hash FROM blocks ORDER BY first"
        ).fetchall()


def rewrite(path: Path, rows: Sequence[Sequence[Any]]) -> None:
    """Replace the block rows by ``rows`` (first, last, command, final, body), with the
    chain and the last commit's record made to match them (an attack that forges the
    chain, or a writer's bug: what the hashes cannot catch)."""
    previous = GENESIS
    out = []
    for first, last, command, final, body in rows:
        previous = _block_hash(previous, first, last, command, bool(final), body)
        out.append((first, last, command, final, body, previous))
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("DELETE FROM blocks")
        db.executemany("INSERT INTO blocks VALUES (?, ?, ?, ?, ?, ?)", out)
        db.execute(
            "UPDATE meta SET value = ? WHERE key = 'head'", (f"{out[-1][1]}:{previous.hex()}",)
        )


def digest(path: Path) -> str:
    """The file's bytes, hashed once every connection left for the collector is gone
    (sqlite3 connections sit in a reference cycle: one not closed checkpoints its
    write-ahead log into the file whenever the collector runs)."""
    gc.collect()
    return hashlib.sha256(path.read_bytes()).hexdigest()


class TestTheFormat:
    def test_a_new_journal_is_of_format_4(self, tmp_path: Path) -> None:
        path, events = written(tmp_path)
        with closing(sqlite3.connect(path)) as db, db:
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        assert meta["schema"] == "3"
        assert meta["format"] == "4"
        assert "blocks" in tables
        assert "events" not in tables
        rows = blocks(path)
        # A block per command here (each well under 4,096 events), each one final.
        assert [r[3] for r in rows] == [1] * len(rows)
        assert len(rows) == len({e.command for e in events})
        assert sum(r[1] - r[0] + 1 for r in rows) == len(events)
        # The chain: each block's hash over the one before and its own bytes.
        previous = GENESIS
        for first, last, command, final, body, stored in rows:
            previous = _block_hash(previous, first, last, command, bool(final), body)
            assert stored == previous
            record = orjson.loads(body)
            assert len(record) == 9
            assert len(record[1]) == last - first + 1

    def test_it_reads_as_the_same_events_as_format_3(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        path, events = written(tmp_path)
        monkeypatch.setattr(journal_module, "_NEW_FORMAT", 3)
        old_path, old_events = written(tmp_path, "old.sqlite")
        assert events == old_events
        new, old = SqliteJournal(path), SqliteJournal(old_path)
        try:
            assert old._blocks is False
            assert new._blocks is True
            for journal in (new, old):
                assert len(journal) == len(events)
                assert journal.since(0) == events
                assert journal.between(5, 40) == events[4:40]
                assert journal.between(-3, 2) == events[:2]
                assert journal.between(len(events) - 1, 10**9) == events[-2:]
                assert journal.between(30, 20) == []
                assert journal[0] == events[0]
                assert journal[-1] == events[-1]
                assert journal[17] == events[17]
                assert list(journal.stream(10, chunk=9)) == events[10:]
                assert list(journal.replay(3, chunk=5)) == events[3:]
                chunks = list(journal.replay_chunks(2, 6))
                assert all(isinstance(c, Events) and 0 < len(c) <= 6 for c in chunks)
                assert [e for c in chunks for e in c] == events[2:]
                command = events[30].command
                assert journal.select(command=command) == [
                    e for e in events if e.command == command
                ]
                assert journal.select(type="case.*") == [
                    e for e in events if e.type.startswith("case.")
                ]
                with pytest.raises(IndexError):
                    journal[len(events)]
        finally:
            new.close()
            old.close()

    def test_engines_on_both_formats_agree(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        engine, _ = run_commands(tmp_path / "new.sqlite")
        monkeypatch.setattr(journal_module, "_NEW_FORMAT", 3)
        old, _ = run_commands(tmp_path / "old.sqlite")
        assert engine.snapshot() == old.snapshot()
        assert list(engine.journal) == list(old.journal)
        for e in (engine, old):
            e._kernel.journal.close()
        for verify in ("snapshot", "full"):
            a = Engine.open(tmp_path / "new.sqlite", city=CITY, clock=ManualClock(), verify=verify)
            b = Engine.open(tmp_path / "old.sqlite", city=CITY, clock=ManualClock(), verify=verify)
            assert a.load_report == b.load_report
            assert a.snapshot() == b.snapshot()
            a.close()
            b.close()

    def test_a_format_3_journal_takes_format_3_rows(self, tmp_path: Path) -> None:
        path = tmp_path / "format3.sqlite"
        shutil.copyfile(FIXTURE / "format3.sqlite", path)
        journal = SqliteJournal(path)
        count = len(journal)
        first = journal[0]
        journal.append(
            [Event(count + 1, first.time, "note.made", "x", "c-new", "system", data={"n": 1})]
        )
        journal.close()
        with closing(sqlite3.connect(path)) as db, db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
            (schema,) = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            (rows,) = db.execute("SELECT COUNT(*) FROM events").fetchone()
        assert "blocks" not in tables
        assert schema == "2"
        assert rows == count + 1
        assert SqliteJournal(path, verify="full")[-1].data == {"n": 1}

    def test_a_long_command_is_several_blocks_and_only_the_last_is_final(
        self, tmp_path: Path, small_blocks: None
    ) -> None:
        path, events = written(tmp_path)
        rows = blocks(path)
        assert max(r[1] - r[0] + 1 for r in rows) == 7
        for command in {e.command for e in events}:
            mine = [r for r in rows if r[2] == command]
            assert [r[3] for r in mine] == [0] * (len(mine) - 1) + [1]
        journal = SqliteJournal(path, verify="full")
        assert journal.since(0) == events
        assert journal.between(6, 16) == events[5:16]
        journal.close()
        engine = Engine.open(path, city=CITY, clock=ManualClock())
        assert list(engine.journal) == events
        engine.close()

    def test_hash_at_is_a_blocks_hash_or_none_inside_a_block(
        self, tmp_path: Path, small_blocks: None
    ) -> None:
        path, _ = written(tmp_path)
        rows = blocks(path)
        journal = SqliteJournal(path)
        try:
            assert journal.hash_at(0) == GENESIS
            for first, last, _, _, _, stored in rows:
                assert journal.hash_at(last) == stored
                if last > first:
                    assert journal.hash_at(first) is None
            assert journal.hash_at(rows[-1][1] + 5) is None
        finally:
            journal.close()

    def test_snapshots_fall_on_block_ends_and_vouch(self, tmp_path: Path) -> None:
        path = tmp_path / "j.sqlite"
        clock = ManualClock(START)
        engine = Engine.open(path, city=CITY, clock=clock, snapshot_every=20)
        for i in range(10):
            clock.advance(timedelta(hours=2))
            engine.report_case(COMPOUNDS[i % len(COMPOUNDS)])
        engine.close()
        ends = {r[1] for r in blocks(path) if r[3]}
        with closing(sqlite3.connect(path)) as db, db:
            (seq,) = db.execute("SELECT max(seq) FROM snapshots").fetchone()
        assert seq in ends
        journal = SqliteJournal(path)
        assert journal.unverified == seq  # the snapshot vouched for its events
        journal.close()

    def test_gridgov_check_accepts_it(self, tmp_path: Path) -> None:
        path, _ = written(tmp_path)
        assert main(["check", str(path)]) == 0


TIMES = st.sampled_from(
    [
        START,
        START + timedelta(minutes=1),
        datetime(2022, 9, 17, 8, tzinfo=timezone(timedelta(hours=8))),  # START, another offset
    ]
)
DATA = st.dictionaries(
    st.text(max_size=3),
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=4),
        st.lists(st.integers(min_value=-5, max_value=5), max_size=2),
    ),
    max_size=3,
)
EVENT = st.tuples(
    TIMES,
    st.text(min_size=1, max_size=5),
    st.text(max_size=5),
    st.text(max_size=3),
    st.one_of(st.none(), st.text(max_size=3)),
    DATA,
)


class TestRoundTrip:
    @settings(max_examples=60, deadline=None)
    @given(
        commands=st.lists(
            st.tuples(st.sampled_from(["c1", "c%2", "c\u00e9"]), st.lists(EVENT, max_size=9)),
            min_size=1,
            max_size=5,
        ),
        cap=st.integers(min_value=1, max_value=4),
    )
    def test_any_events_read_back_as_they_were(
        self, tmp_path_factory: pytest.TempPathFactory, commands: Any, cap: int
    ) -> None:
        """Arbitrary commands' events (times with other offsets, data only the standard
        library encodes exactly, commands split in blocks) read back equal."""
        path = tmp_path_factory.mktemp("rt") / "j.sqlite"
        appended: list[Event] = []
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(journal_module, "_BLOCK_EVENTS", cap)
            journal = SqliteJournal(path)
            for name, fields in commands:
                seq = len(appended) + 1
                mine = [
                    Event(seq + i, when, kind, "u", name, actor, cause, old, None, data)
                    for i, (when, kind, actor, cause, old, data) in enumerate(fields)
                ]
                journal.append(Events.of(mine) if len(mine) % 2 else mine)
                appended += mine
            journal.close()
            journal = SqliteJournal(path, verify="full")
            try:
                got = journal.since(0)
                assert got == appended
                assert [e.time.utcoffset() for e in got] == [e.time.utcoffset() for e in appended]
                assert [e for c in journal.replay_chunks(0, 3) for e in c] == appended
                if appended:
                    assert journal.between(2, len(appended) - 1) == appended[1:-1]
            finally:
                journal.close()


def attack(path: Path, kind: str) -> tuple[int, int]:
    """Damage the third block of ``path`` without fixing the chain; returns its range."""
    rows = blocks(path)
    first, last, _, _, body, _ = rows[2]
    with closing(sqlite3.connect(path)) as db, db:
        if kind == "edit":
            db.execute(
                "UPDATE blocks SET body = ? WHERE first = ?", (body.replace(b"1", b"2"), first)
            )
        elif kind == "delete":
            db.execute("DELETE FROM blocks WHERE first = ?", (first,))
        elif kind == "swap":
            other = rows[3][4]
            db.execute("UPDATE blocks SET body = ? WHERE first = ?", (other, first))
            db.execute("UPDATE blocks SET body = ? WHERE first = ?", (body, rows[3][0]))
        elif kind == "hash":
            db.execute("UPDATE blocks SET hash = ? WHERE first = ?", (b"\1" * 32, first))
        elif kind == "command":
            db.execute("UPDATE blocks SET command = 'other' WHERE first = ?", (first,))
        elif kind == "final":
            db.execute("UPDATE blocks SET final = 0 WHERE first = ?", (first,))
        elif kind == "text":
            db.execute("UPDATE blocks SET body = CAST(body AS TEXT) WHERE first = ?", (first,))
    return first, last


KINDS = ["edit", "delete", "swap", "hash", "command", "final", "text"]


class TestTamper:
    @pytest.mark.parametrize("kind", KINDS)
    def test_damage_is_refused_on_open_naming_the_block(self, tmp_path: Path, kind: str) -> None:
        path, _ = written(tmp_path)
        first, last = attack(path, kind)
        before = digest(path)
        with pytest.raises(JournalError, match=rf"first bad event: seq {first}\b") as caught:
            SqliteJournal(path, verify="full")
        if kind == "delete":
            assert f"events {first}-{last} are missing" in str(caught.value)
        elif kind not in ("final", "text"):
            assert f"block of events {first}-{last}" in str(caught.value)
        assert digest(path) == before  # nothing changed
        assert main(["check", str(path)]) == 1

    @pytest.mark.parametrize("kind", ["edit", "delete", "swap", "hash"])
    def test_damage_under_a_snapshot_is_found_before_it_is_read(
        self, tmp_path: Path, kind: str
    ) -> None:
        path = tmp_path / "j.sqlite"
        engine, _ = run_commands(path)
        engine.close()  # a snapshot at the end vouches for every event
        first, _ = attack(path, kind)
        journal = SqliteJournal(path)
        assert journal.unverified == len(journal)
        with pytest.raises(JournalError, match=rf"first bad event: seq {first}\b"):
            journal.between(1, 1)
        with pytest.raises(JournalError, match=rf"first bad event: seq {first}\b"):
            list(journal.replay_chunks(0))
        journal.close()

    @pytest.mark.parametrize("kind", ["edit", "delete", "hash"])
    def test_recovery_keeps_the_blocks_before(self, tmp_path: Path, kind: str) -> None:
        path, events = written(tmp_path)
        count = len(blocks(path))
        first, _ = attack(path, kind)
        journal = SqliteJournal(path, recover="truncate")
        assert journal.recovered is not None
        assert (
            f"kept events 1-{first - 1}, dropped {count - 2 - (kind == 'delete')} block row(s)"
            in journal.recovered
        )
        assert journal.since(0) == events[: first - 1]
        journal.close()
        assert len(SqliteJournal(path, verify="full")) == first - 1

    def test_a_cut_command_is_partial(self, tmp_path: Path, small_blocks: None) -> None:
        path, _ = written(tmp_path)
        rows = blocks(path)
        # The last command's final block lost, the chain forged to end before it.
        cut = [r[:5] for r in rows[:-1]]
        assert cut[-1][3] == 0
        rewrite(path, cut)
        with pytest.raises(JournalError, match="is partial"):
            SqliteJournal(path, verify="full")
        journal = SqliteJournal(path, recover="truncate")
        ends = [r[1] for r in cut if r[3]]
        assert len(journal) == ends[-1]
        journal.close()

    def test_a_journal_cut_after_its_last_commit_is_refused(self, tmp_path: Path) -> None:
        path, _ = written(tmp_path)
        with closing(sqlite3.connect(path)) as db, db:
            db.execute("DELETE FROM blocks WHERE first = (SELECT max(first) FROM blocks)")
        with pytest.raises(JournalError, match="last commit recorded event"):
            SqliteJournal(path, verify="full")


def good_body(events: list[Event]) -> bytes:
    return journal_module._block_body(Events.of(events))


def read_all(path: Path) -> None:
    """Open ``path`` checking every block's hash, then read every event."""
    journal = SqliteJournal(path, verify="full")
    try:
        journal.since(0)
    finally:
        journal.close()


class TestMalformed:
    """Blocks whose chain is forged to match (what the hashes cannot catch): each a
    JournalError naming the block's seq range when opened or read; nothing changed."""

    def refused(self, path: Path, pattern: str) -> None:
        before = digest(path)
        with pytest.raises(JournalError, match=pattern):
            read_all(path)
        with pytest.raises(JournalError, match=pattern):
            Engine.open(path, city=CITY, clock=ManualClock())
        assert digest(path) == before

    def damaged(self, tmp_path: Path, change: Any) -> tuple[Path, int, int]:
        path, _ = written(tmp_path)
        rows = [list(r[:5]) for r in blocks(path)]
        change(rows[2])
        rewrite(path, rows)
        return path, rows[2][0], rows[2][1]

    @pytest.mark.parametrize(
        "body",
        [
            b"[",  # truncated
            b"{}",
            b"null",
            b"[[],[],[],[],[],[],[],[],[]]",  # no times, columns empty
            b"[1,2,3]",
        ],
    )
    def test_a_body_that_is_not_columns(self, tmp_path: Path, body: bytes) -> None:
        def change(row: list[Any]) -> None:
            row[4] = body

        path, first, last = self.damaged(tmp_path, change)
        self.refused(path, rf"block of events {first}-{last} is malformed")

    def test_a_truncated_body(self, tmp_path: Path) -> None:
        def change(row: list[Any]) -> None:
            row[4] = row[4][: len(row[4]) // 2]

        path, first, last = self.damaged(tmp_path, change)
        self.refused(path, rf"block of events {first}-{last} is malformed")

    @pytest.mark.parametrize("column", range(1, 9))
    def test_columns_of_unequal_length(self, tmp_path: Path, column: int) -> None:
        def change(row: list[Any]) -> None:
            record = orjson.loads(row[4])
            del record[column][-1]
            row[4] = orjson.dumps(record)

        path, first, last = self.damaged(tmp_path, change)
        self.refused(path, rf"block of events {first}-{last} is malformed")

    @pytest.mark.parametrize(
        ("column", "value"),
        [
            (0, 5),
            (0, ["not a time"]),
            (0, ["2022-09-17T08:00:00"]),
            (1, "x"),
            (1, -1),
            (1, 9),
            (2, 3),
            (3, None),
            (4, ["a"]),
            (5, 0),
            (6, False),
            (7, 1),
            (8, []),
        ],
    )
    def test_a_field_of_another_type(self, tmp_path: Path, column: int, value: Any) -> None:
        def change(row: list[Any]) -> None:
            record = orjson.loads(row[4])
            if column == 0 and not isinstance(value, list):
                record[0] = value
            elif column == 0:
                record[0] = value
                record[1] = [0] * len(record[1])
            else:
                record[column][-1] = value
            row[4] = orjson.dumps(record)

        path, first, last = self.damaged(tmp_path, change)
        self.refused(path, rf"block of events {first}-{last} is malformed")

    @pytest.mark.parametrize("delta", [-1, 1])
    def test_wrong_seq_bounds(self, tmp_path: Path, delta: int) -> None:
        path, _ = written(tmp_path)
        rows = [list(r[:5]) for r in blocks(path)]
        # The third block claims one event more or fewer than its body holds, and the
        # blocks after it follow on from where it claims to end.
        rows[2][1] += delta
        for row in rows[3:]:
            row[0] += delta
            row[1] += delta
        rewrite(path, rows)
        self.refused(path, rf"block of events {rows[2][0]}-{rows[2][1]} is malformed")

    def test_overlapping_blocks(self, tmp_path: Path) -> None:
        path, _ = written(tmp_path)
        rows = [list(r[:5]) for r in blocks(path)]
        rows[3][0] -= 1
        rewrite(path, rows)
        self.refused(path, rf"block of events {rows[3][0]}-{rows[3][1]} overlaps")

    def test_gapped_blocks(self, tmp_path: Path) -> None:
        path, _ = written(tmp_path)
        rows = [list(r[:5]) for r in blocks(path)]
        gap = rows[2][1] + 1
        for row in rows[3:]:
            row[0] += 1
            row[1] += 1
        rewrite(path, rows)
        self.refused(path, rf"events {gap}-{gap} are missing")

    def test_a_block_of_no_events(self, tmp_path: Path) -> None:
        def change(row: list[Any]) -> None:
            row[1] = row[0] - 1

        path, first, last = self.damaged(tmp_path, change)
        self.refused(path, rf"block of events {first}-{last} is malformed")


def writer(path: Path, report: int) -> None:
    """Commands of many blocks appended one after another; each acked once committed."""
    journal_module._BLOCK_EVENTS = 3  # the child's own copy of the module
    journal = SqliteJournal(path)
    os.write(report, b"ready\n")
    for c in range(10_000):
        if journal.lookup(f"c{c}") is not None:
            continue
        seq = journal.next_seq
        events = [
            Event(seq + i, START, "note.made", "u", f"c{c}", "system", data={"i": i})
            for i in range(1 + c % 23)
        ]
        record = journal_module.CommandRecord(f"c{c}", "f", f"c{c}", seq, seq + len(events) - 1)
        journal.append(Events.of(events), record)
        os.write(report, f"ack {c}\n".encode())


def test_a_process_killed_mid_append_leaves_whole_commands(tmp_path: Path) -> None:
    """SIGKILL while commands of several blocks are appended: the journal opens with its
    whole chain valid, every acked command whole, none partial."""
    path = tmp_path / "crash.sqlite"
    rng = random.Random(4)
    acked: set[int] = set()
    for _ in range(6):
        output = kill_writer(writer, path, rng.uniform(0.0, 0.05))
        acked.update(int(line.split()[1]) for line in output.splitlines() if line[:4] == "ack ")
        journal = SqliteJournal(path, verify="full")
        events = journal.since(0)
        by_command: dict[str, list[Event]] = {}
        for event in events:
            by_command.setdefault(event.command, []).append(event)
        for c in acked:
            assert len(by_command[f"c{c}"]) == 1 + c % 23, f"command c{c} is not whole"
        assert all(len(v) == 1 + int(k[1:]) % 23 for k, v in by_command.items())
        journal.close()
    assert acked


def test_rules_and_replay_agree_after_reopening_many_times(tmp_path: Path) -> None:
    """Appends after reopening continue the chain of blocks (and the snapshots vouch)."""
    path = tmp_path / "j.sqlite"
    rules = Rules()
    clock = ManualClock(START)
    everything: list[Event] = []
    for round_ in range(3):
        engine = Engine.open(path, city=CITY, rules=rules, clock=clock, snapshot_every=15)
        for i in range(4):
            clock.advance(timedelta(hours=1))
            engine.report_case(COMPOUNDS[(round_ * 4 + i) % len(COMPOUNDS)])
        everything = list(engine.journal)
        state = engine.snapshot()
        engine.close()
    again = Engine.open(path, city=CITY, rules=rules, clock=ManualClock(), verify="full")
    assert list(again.journal) == everything
    assert again.snapshot() == state
    again.close()

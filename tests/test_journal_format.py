"""The journal's row format (issue 15, item 8): rows of format 3 (a compact JSON array
per event), and journals written before it (format 2, a JSON object per event) still
open, verify and replay exactly, and take new commands after their old rows."""

from __future__ import annotations

import itertools
import json
import math
import shutil
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridgov import Engine, ManualClock, Rules
from gridgov._state import EngineState
from gridgov.cli import main
from gridgov.errors import JournalError
from gridgov.journal import Event, SqliteJournal, row_hash
from gridgov.presets import small

# Rows of format 3 are edited here (format 4: test_journal_blocks.py).
pytestmark = pytest.mark.usefixtures("format3")

CITY = small()
FIXTURE = Path(__file__).parent / "data" / "journal"
#: What the gridgov of commit f2dffcd wrote (see make_format2.py there).
WRITTEN = json.loads((FIXTURE / "format2.json").read_text())


def plain(state: dict[str, Any]) -> Any:
    """A state as the fixture's script wrote it down (JSON, times as text)."""
    return json.loads(json.dumps(state, default=_plain, sort_keys=True))


def _plain(value: object) -> object:
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


def old_journal(tmp_path: Path) -> Path:
    path = tmp_path / "format2.sqlite"
    shutil.copyfile(FIXTURE / "format2.sqlite", path)
    return path


def schema(path: Path) -> str:
    with closing(sqlite3.connect(path)) as db, db:
        return str(db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0])


def records(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as db, db:
        return [r[0] for r in db.execute("SELECT record FROM events ORDER BY seq")]


class TestFormat2:
    """A journal written by gridgov at f2dffcd, committed as it was written."""

    def test_the_fixture_is_of_format_2(self) -> None:
        path = FIXTURE / "format2.sqlite"
        assert schema(path) == "1"
        rows = records(path)
        assert len(rows) == len(WRITTEN["events"]) == 281
        assert all(r.startswith('{"v":1,') for r in rows)

    @pytest.mark.parametrize("verify", ["snapshot", "full"])
    def test_it_opens_and_replays_to_the_state_it_was_written_with(
        self, tmp_path: Path, verify: str
    ) -> None:
        path = old_journal(tmp_path)
        engine = Engine.open(path, city=CITY, clock=ManualClock(), verify=verify)
        assert engine.load_report.snapshot == 280
        assert engine.load_report.replayed == 1
        assert plain(engine.snapshot()) == WRITTEN["state"]
        # Every event reads back as the gridgov that wrote it encoded it.
        assert [e.to_json() for e in engine.journal] == WRITTEN["events"]
        engine._kernel.journal.close()
        assert schema(path) == "1"  # opening and reading leave it as it was

    def test_a_full_replay_gives_the_same_state(self, tmp_path: Path) -> None:
        path = old_journal(tmp_path)
        with closing(sqlite3.connect(path)) as db, db:
            db.execute("DELETE FROM snapshots")
        engine = Engine.open(path, city=CITY, clock=ManualClock())
        assert engine.load_report.snapshot == 0
        assert engine.load_report.replayed == 281
        assert plain(engine.snapshot()) == WRITTEN["state"]
        engine._kernel.journal.close()

    def test_gridgov_check_accepts_it(self, tmp_path: Path) -> None:
        assert main(["check", str(old_journal(tmp_path))]) == 0

    def test_new_commands_follow_its_rows_in_format_3(self, tmp_path: Path) -> None:
        path = old_journal(tmp_path)
        clock = ManualClock(datetime(2022, 10, 1, tzinfo=UTC))
        engine = Engine.open(path, city=CITY, clock=clock)
        compounds = sorted(CITY.compounds)
        engine.report_case(compounds[5], key="after")
        engine.open_ticket(compounds[4], "medicine")
        live = engine.snapshot()
        total = len(engine.journal)
        engine._kernel.journal.close()  # no snapshot: the new rows are replayed
        rows = records(path)
        assert all(r.startswith("{") for r in rows[:281])
        assert all(r.startswith("[") for r in rows[281:])
        assert len(rows) == total > 281
        # A gridgov that reads only objects refuses it by its schema, by name.
        assert schema(path) == "2"
        for verify in ("snapshot", "full"):
            again = Engine.open(path, city=CITY, clock=ManualClock(), verify=verify)
            assert again.snapshot() == live
            assert [e.to_json() for e in again.journal][:281] == WRITTEN["events"]
            again._kernel.journal.close()
        assert main(["check", str(path)]) == 0

    def test_an_edit_to_an_old_row_is_still_named(self, tmp_path: Path) -> None:
        path = old_journal(tmp_path)
        with closing(sqlite3.connect(path)) as db, db:
            (text,) = db.execute("SELECT record FROM events WHERE seq = 100").fetchone()
            db.execute("UPDATE events SET record = ? WHERE seq = 100", (text + " ",))
        with pytest.raises(JournalError, match=r"first bad event: seq 100\b"):
            SqliteJournal(path, verify="full")


def stored_rows(path: Path) -> list[tuple[Any, ...]]:
    """Every event row as stored: seq, command, record, last-row flag, hash, and the
    SQLite types of the flag and the hash."""
    with closing(sqlite3.connect(path)) as db, db:
        return db.execute(
            "SELECT seq, command, record, last, hash, typeof(last), typeof(hash) "
            "FROM events ORDER BY seq"
        ).fetchall()


class TestWrittenByF0532b0:
    """Journals written by gridgov at f0532b0 (format 3, before the row's flag and
    hash were bound as an int and a bytearray; see make_format3.py): they open,
    verify and replay, and today's gridgov writes the very same rows for their
    events (same records, flags, hashes and SQLite types)."""

    @pytest.mark.parametrize("name", ["format3.sqlite", "format3-data.sqlite"])
    def test_the_same_events_make_the_same_rows(self, tmp_path: Path, name: str) -> None:
        copy = tmp_path / name
        shutil.copyfile(FIXTURE / name, copy)
        old = stored_rows(copy)
        assert old
        assert all(r[5:] == ("integer", "blob") for r in old)
        journal = SqliteJournal(copy, verify="full")
        events = journal.since(0)
        commands = [list(group) for _, group in itertools.groupby(events, lambda e: e.command)]
        journal.close()
        path = tmp_path / "again.sqlite"
        again = SqliteJournal(path)
        for command in commands:
            again.append(command)
        again.close()
        assert stored_rows(path) == old

    @pytest.mark.parametrize("verify", ["snapshot", "full"])
    def test_it_opens_and_replays_to_the_state_it_was_written_with(
        self, tmp_path: Path, verify: str
    ) -> None:
        path = tmp_path / "format3.sqlite"
        shutil.copyfile(FIXTURE / "format3.sqlite", path)
        written = json.loads((FIXTURE / "format3.json").read_text())["state"]
        engine = Engine.open(path, city=CITY, clock=ManualClock(), verify=verify)
        assert engine.load_report.snapshot == 280
        assert engine.load_report.replayed == 1
        assert plain(engine.snapshot()) == written
        engine._kernel.journal.close()
        with closing(sqlite3.connect(path)) as db, db:
            db.execute("DELETE FROM snapshots")
        engine = Engine.open(path, city=CITY, clock=ManualClock(), verify=verify)
        assert engine.load_report.replayed == 281
        assert plain(engine.snapshot()) == written
        engine._kernel.journal.close()
        assert main(["check", str(path)]) == 0

    def test_its_data_reads_back_exactly(self, tmp_path: Path) -> None:
        copy = tmp_path / "format3-data.sqlite"
        shutil.copyfile(FIXTURE / "format3-data.sqlite", copy)
        journal = SqliteJournal(copy, verify="full")
        events = list(journal.replay(0))
        journal.close()
        assert [e.data for e in events] == [{"big": 2**70, "1": "one"}, {"x": [1.5]}, {}]
        assert (events[1].cause, events[1].new, events[2].actor) == ("佳木斯", "新", "系统")
        assert events[2].time.utcoffset() == timedelta(hours=8)


def event(seq: int, data: dict[Any, Any], command: str = "c000001") -> Event:
    when = datetime(2022, 9, 17, 8, tzinfo=UTC) + timedelta(minutes=seq)
    return Event(seq, when, "case.confirmed", "u", command, "a", "why", None, "x", data)


class TestFormat3:
    def test_a_row_is_a_compact_array_of_the_events_fields(self, tmp_path: Path) -> None:
        journal = SqliteJournal(tmp_path / "j.sqlite")
        journal.append([event(1, {"k": [1, 2.5, None]})])
        journal.close()
        (row,) = records(tmp_path / "j.sqlite")
        assert json.loads(row) == [
            1,
            "2022-09-17T08:01:00+00:00",
            "case.confirmed",
            "u",
            "c000001",
            "a",
            "why",
            None,
            "x",
            {"k": [1, 2.5, None]},
        ]
        assert schema(tmp_path / "j.sqlite") == "2"

    def test_data_only_the_standard_library_encodes_exactly(self, tmp_path: Path) -> None:
        """Integers beyond 64 bits and keys that are not strings: the record is the
        standard library's (marked), and reads back exactly; NaN is written as null."""
        path = tmp_path / "j.sqlite"
        journal = SqliteJournal(path)
        data = {"big": 2**70, 1: "one", "nan": math.nan, "deep": {"x": [-(2**80), math.inf]}}
        journal.append([event(1, data), event(2, {"plain": 1})])
        journal.close()
        first, second = records(path)
        assert first.endswith(',"json"]')
        assert not second.endswith(',"json"]')
        want = {"big": 2**70, "1": "one", "nan": None, "deep": {"x": [-(2**80), None]}}
        again = SqliteJournal(path, verify="full")
        assert [e.data for e in again.since(0)] == [want, {"plain": 1}]
        assert [e.data for e in again.replay(0)] == [want, {"plain": 1}]
        again.close()

    @pytest.mark.parametrize(
        "record",
        [
            "[1]",
            '[1,"2022-09-17T08:00:00","t","u","c000001","a","","o","n",{}]',  # no offset
            '[1,"2022-09-17T08:00:00+00:00","t","u","c000001","a","","o","n",[]]',
            '[1,"2022-09-17T08:00:00+00:00","t","u","c000002","a","","o","n",{}]',  # command
            '[2,"2022-09-17T08:00:00+00:00","t","u","c000001","a","","o","n",{}]',  # seq
            '[1,"2022-09-17T08:00:00+00:00",5,"u","c000001","a","","o","n",{}]',
            '[1,"2022-09-17T08:00:00+00:00","t","u","c000001","a","","o","n",{},"x"]',
            '[1,["2022"],"t","u","c000001","a","","o","n",{}]',
            '[1,{},"t","u","c000001","a","","o","n",{}]',
            '[1,"2022-09-17T08:00:00+00:00","t","u","c000001","a","",1,"n",{}]',
            "[1,2,3,4,5,6,7,8,9,10]",
            # A seq equal to the row's but not an int.
            '[true,"2022-09-17T08:00:00+00:00","t","u","c000001","a","","o","n",{}]',
            '[1.0,"2022-09-17T08:00:00+00:00","t","u","c000001","a","","o","n",{}]',
            '[1,"2022-09-17T08:00:00+00:00","t","u","c000001","a",0,"o","n",{}]',
            '[1,"2022-09-17T08:00:00+00:00","t","u","c000001","a","",false,"n",{}]',
            '[1,"2022-09-17T08:00:00+00:00","t","u","c000001","a","","o","n",null]',
            "null",
        ],
    )
    @pytest.mark.parametrize("after_a_good_row", [False, True])
    def test_a_malformed_record_is_a_journal_error(
        self, tmp_path: Path, record: str, after_a_good_row: bool
    ) -> None:
        """A row whose chain is intact but whose record is not an event of its row (as
        another writer could leave it): a JournalError on every way of reading it,
        also after a good row of the same time (the decoder's fast path)."""
        path = tmp_path / "j.sqlite"
        journal = SqliteJournal(path)
        when = datetime(2022, 9, 17, 8, tzinfo=UTC)
        good = Event(1, when, "t", "u", "c000000", "a")
        seq = 1
        if after_a_good_row:
            journal.append([good])
            seq = 2
            # The same record one row on (the one of another seq stays of another).
            record = record.replace("[2,", "[3,", 1).replace("[1,", "[2,", 1)
            record = record.replace("[1.0,", "[2.0,", 1)
        previous = journal.hash_at(seq - 1)
        assert previous is not None
        journal.append([attrs.evolve(event(seq, {}), time=when)])  # type: ignore[misc]
        journal.close()
        digest = row_hash(previous, seq, "c000001", record, True)
        with closing(sqlite3.connect(path)) as db, db:
            db.execute(
                "UPDATE events SET record = ?, hash = ? WHERE seq = ?", (record, digest, seq)
            )
            db.execute("UPDATE meta SET value = ? WHERE key = 'head'", (f"{seq}:{digest.hex()}",))
        journal = SqliteJournal(path, verify="full")  # the chain holds
        with pytest.raises(JournalError):
            journal.since(0)
        with pytest.raises(JournalError):
            list(journal.replay(0))
        journal.close()


class TestReplay:
    @settings(max_examples=30, deadline=None)
    @given(st.lists(st.sampled_from(sorted(CITY.compounds)), min_size=1, max_size=4))
    def test_replay_reads_the_events_since_reads(self, compounds: list[str]) -> None:
        """What ``replay`` hands the reducer, in chunks, is what ``since`` reads."""
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "j.sqlite"
            engine = Engine.open(path, city=CITY, clock=ManualClock())
            for compound in compounds:
                engine.report_case(compound)
            live = list(engine.journal)
            engine._kernel.journal.close()
            journal = SqliteJournal(path)
            replayed = list(journal.replay(0, chunk=7))
            events = journal.since(0)
            journal.close()
        assert all(type(e) is Event for e in replayed)
        assert replayed == events == live

    def test_apply_all_is_apply_one_by_one(self, tmp_path: Path) -> None:
        clock = ManualClock()
        engine = Engine(CITY, clock=clock)
        compounds = sorted(CITY.compounds)
        for compound in compounds[:5]:
            clock.advance(timedelta(hours=2))
            engine.report_case(compound)
        engine.open_ticket(compounds[0], "medicine")
        engine.post_task(CITY.compounds[compounds[1]].community, "delivery")
        clock.advance(timedelta(days=20))
        engine.advance()
        events = list(engine.journal)
        one, bulk = EngineState(CITY, Rules.default()), EngineState(CITY, Rules.default())
        for e in events:
            one.apply(e)
        assert bulk.apply_all(iter(events)) == len(events)
        assert bulk.snapshot() == one.snapshot() == engine.snapshot()
        assert (bulk.commands, bulk.last_time, bulk.task_numbers) == (
            one.commands,
            one.last_time,
            one.task_numbers,
        )

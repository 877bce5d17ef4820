"""A replay reads the journal a chunk of rows at a time as :class:`Events` columns
(``SqliteJournal.replay_chunks``, issue 15 item 8): the same events as ``since``, the
same state as the live engine, and every malformed record refused by name."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridgov import Engine, ManualClock, Rules
from gridgov._state import EngineState
from gridgov.errors import JournalError
from gridgov.journal import Event, Events, SqliteJournal, row_hash
from gridgov.presets import small

CITY = small()
FIXTURES = Path(__file__).parent / "data" / "journal"
WHEN = datetime(2022, 9, 17, 8, tzinfo=UTC)

#: One command of the random histories below: (what, which compound or street, hours).
step = st.tuples(
    st.sampled_from(["case", "lift", "ticket", "advance"]),
    st.integers(min_value=0, max_value=len(CITY.compounds) - 1),
    st.integers(min_value=0, max_value=72),
)

# Rows of format 3 are edited here (format 4: test_journal_blocks.py).
pytestmark = pytest.mark.usefixtures("format3")


def _run(engine: Engine, clock: ManualClock, steps: list[tuple[str, int, int]]) -> None:
    compounds = sorted(CITY.compounds)
    for what, at, hours in steps:
        clock.advance(timedelta(hours=hours))
        compound = compounds[at]
        if what == "case":
            engine.report_case(compound)
        elif what == "lift":
            engine.lift(CITY.street_of(compound), skip_recovery=True)
        elif what == "ticket":
            engine.open_ticket(compound, "medicine")
        else:
            engine.advance()


class TestChunks:
    @settings(max_examples=25, deadline=None)
    @given(
        st.lists(step, min_size=1, max_size=8),
        st.sampled_from([1, 2, 7, 31, 32, 33, 128, 512]),
    )
    def test_chunks_are_the_events_and_give_the_live_state(
        self, steps: list[tuple[str, int, int]], chunk: int
    ) -> None:
        """Whatever the chunk size, the chunks joined are the events ``since`` reads
        and the live engine recorded, and applying them gives the live state, as
        applying the events one by one does."""
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "j.sqlite"
            clock = ManualClock()
            engine = Engine.open(path, city=CITY, clock=clock, snapshot_every=10**9)
            _run(engine, clock, steps)
            live = list(engine.journal)
            state = engine.snapshot()
            engine.close()
            journal = SqliteJournal(path, verify="full")
            chunks = list(journal.replay_chunks(0, chunk))
            read = journal.since(0)
            journal.close()
            with closing(sqlite3.connect(path)) as db, db:  # closing took one: every event replayed
                db.execute("DELETE FROM snapshots")
            reopened = Engine.open(path, city=CITY, clock=ManualClock(clock.now()))
            assert reopened.load_report.snapshot == 0
            assert reopened.snapshot() == state
            reopened.close()
        assert all(type(c) is Events and 0 < len(c) <= chunk for c in chunks)
        assert [e for c in chunks for e in c] == read == live
        assert all(type(e) is Event for c in chunks for e in c)
        by_chunks = EngineState(CITY, Rules.default())
        one_by_one = EngineState(CITY, Rules.default())
        assert sum(map(by_chunks.apply_all, chunks)) == len(live)
        for e in live:
            one_by_one.apply(e)
        assert by_chunks.snapshot() == one_by_one.snapshot()
        assert (by_chunks.commands, by_chunks.last_time, by_chunks.task_numbers) == (
            one_by_one.commands,
            one_by_one.last_time,
            one_by_one.task_numbers,
        )

    @pytest.mark.parametrize("name", ["format2", "format3", "format3-data"])
    def test_older_journals_read_in_chunks_as_since_reads_them(
        self, tmp_path: Path, name: str
    ) -> None:
        """The committed journals of formats 2 and 3 (objects, arrays, records only
        the standard library reads): chunks of any size give the events of ``since``."""
        path = tmp_path / "j.sqlite"
        shutil.copyfile(FIXTURES / f"{name}.sqlite", path)
        journal = SqliteJournal(path, verify="full")
        read = journal.since(0)
        assert read
        for chunk in (1, 5, 64, 512):
            assert [e for c in journal.replay_chunks(0, chunk) for e in c] == read
        journal.close()


def _journal(path: Path, count: int) -> None:
    """A journal of ``count`` events, one command of ``count`` events of one time."""
    journal = SqliteJournal(path)
    journal.append(
        [
            Event(seq, WHEN, "case.confirmed", "u", "c000001", "a", "why", None, "x", {"n": seq})
            for seq in range(1, count + 1)
        ]
    )
    journal.close()


def _replace(path: Path, seq: int, record: str, command: str = "c000001") -> None:
    """Put ``record`` in row ``seq`` and rechain every row from it (as another writer
    could): the chain holds, the record is what it is."""
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "UPDATE events SET record = ?, command = ? WHERE seq = ?", (record, command, seq)
        )
        previous = db.execute("SELECT hash FROM events WHERE seq = ?", (seq - 1,)).fetchone()
        digest = previous[0] if previous else b"\0" * 32
        rows = db.execute(
            "SELECT seq, command, record, last FROM events WHERE seq >= ? ORDER BY seq", (seq,)
        ).fetchall()
        for number, name, text, last in rows:
            digest = row_hash(digest, number, name, text, bool(last))
            db.execute("UPDATE events SET hash = ? WHERE seq = ?", (digest, number))
        head = f"{rows[-1][0]}:{digest.hex()}"
        db.execute("UPDATE meta SET value = ? WHERE key = 'head'", (head,))


TIME = '"2022-09-17T08:00:00+00:00"'
MALFORMED = [
    "[40]",
    "[40,1,2,3,4,5,6,7,8,9]",
    f'[40,{TIME},"t","u","c000001","a","","o","n",{{}},"x"]',
    '[40,"2022-09-17T08:00:00","t","u","c000001","a","","o","n",{}]',
    '[40,"not a time","t","u","c000001","a","","o","n",{}]',
    f'[40,{TIME},"t","u","c000001","a","","o","n",[]]',
    f'[40,{TIME},"t","u","c000001","a","","o","n",null]',
    f'[40,{TIME},"t","u","c000002","a","","o","n",{{}}]',
    f'[41,{TIME},"t","u","c000001","a","","o","n",{{}}]',
    f'[39,{TIME},"t","u","c000001","a","","o","n",{{}}]',
    f'[40.0,{TIME},"t","u","c000001","a","","o","n",{{}}]',
    f'["40",{TIME},"t","u","c000001","a","","o","n",{{}}]',
    f'[40,{TIME},5,"u","c000001","a","","o","n",{{}}]',
    f'[40,{TIME},"t",["u"],"c000001","a","","o","n",{{}}]',
    f'[40,{TIME},"t","u","c000001",null,"","o","n",{{}}]',
    f'[40,{TIME},"t","u","c000001","a",0,"o","n",{{}}]',
    f'[40,{TIME},"t","u","c000001","a","",false,"n",{{}}]',
    f'[40,{TIME},"t","u","c000001","a","","o",1,{{}}]',
    f'[40,[{TIME}],"t","u","c000001","a","","o","n",{{}}]',
    '[40,{},"t","u","c000001","a","","o","n",{}]',
    "null",
    '"0123456789"',
    '{"0":1,"1":2,"2":3,"3":4,"4":5,"5":6,"6":7,"7":8,"8":9,"9":10}',
    "[40,",
]


class TestMalformed:
    @pytest.mark.parametrize("record", MALFORMED)
    def test_a_malformed_record_inside_a_chunk_is_refused_by_its_row(
        self, tmp_path: Path, record: str
    ) -> None:
        """Row 40 of 60 (one chunk; its chain intact) holds a record that is not the
        event of its row: every way of reading it, the engine's replay included,
        raises a JournalError naming row 40, and nothing is opened."""
        path = tmp_path / "j.sqlite"
        _journal(path, 60)
        _replace(path, 40, record)
        journal = SqliteJournal(path, verify="full")
        for read in (
            lambda: list(journal.replay_chunks(0)),
            lambda: list(journal.replay_chunks(0, 7)),
            lambda: list(journal.replay(0)),
            lambda: journal.since(0),
        ):
            with pytest.raises(JournalError, match="row 40"):
                read()
        # The rows before it read as they are.
        assert list(next(journal.replay_chunks(0, 39))) == journal.between(1, 39)
        journal.close()
        with pytest.raises(JournalError, match="row 40"):
            Engine.open(path, city=CITY, clock=ManualClock(WHEN))

    def test_a_command_column_that_is_not_its_records_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "j.sqlite"
        _journal(path, 60)
        _replace(path, 40, f'[40,{TIME},"t","u","c000001","a","","o","n",{{}}]', "c000009")
        journal = SqliteJournal(path, verify="full")
        with pytest.raises(JournalError, match="row 40 holds event 40 of command 'c000001'"):
            list(journal.replay_chunks(0))
        journal.close()

    def test_a_good_record_replaced_reads_as_it_is(self, tmp_path: Path) -> None:
        """The rechaining above changes nothing when the record is a good one."""
        path = tmp_path / "j.sqlite"
        _journal(path, 60)
        _replace(path, 40, f'[40,{TIME},"t","u","c000001","a","","o","n",{{}}]')
        journal = SqliteJournal(path, verify="full")
        (chunk,) = journal.replay_chunks(0)
        assert chunk[39] == Event(40, WHEN, "t", "u", "c000001", "a", "", "o", "n", {})
        journal.close()

"""Group commit (issue 15, item 8): commands inside ``engine.group()`` share one
transaction, durable when the block exits; each command is still atomic and
retry-safe, and a process killed inside a group leaves every command of it out."""

from __future__ import annotations

import os
import random
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gridgov import Engine, ManualClock
from gridgov.errors import JournalError, UnknownUnitError
from gridgov.journal import SqliteJournal
from gridgov.presets import small
from gridgov.testing import check_invariants
from processes import kill_writer

# Rows of format 3 are edited here (format 4: test_journal_blocks.py).
pytestmark = pytest.mark.usefixtures("format3")

CITY = small()
COMPOUNDS = sorted(CITY.compounds)
START = datetime(2022, 9, 17, tzinfo=UTC)


def committed_events(path: Path) -> int:
    """Events another connection sees: what is committed."""
    with closing(sqlite3.connect(path)) as db, db:
        return int(db.execute("SELECT COUNT(*) FROM events").fetchone()[0])


def keys(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as db, db:
        return {r[0] for r in db.execute("SELECT key FROM commands")}


def test_a_group_is_committed_when_it_exits(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    engine = Engine.open(path, city=CITY, clock=ManualClock(START), synchronous="FULL")
    engine.report_case(COMPOUNDS[0], key="before")
    before = committed_events(path)
    with engine.group():
        assert engine.journal.durable
        first = engine.report_case(COMPOUNDS[1], key="a")
        engine.open_ticket(COMPOUNDS[2], "medicine", key="b")
        # Inside the block the engine reads its own writes; no one else sees them.
        assert len(engine.journal) > before
        assert committed_events(path) == before
        assert keys(path) == {"before"}
        # A retry inside the block answers from the block, and records nothing.
        length = len(engine.journal)
        assert engine.report_case(COMPOUNDS[1], key="a").events == first.events
        assert len(engine.journal) == length
    assert committed_events(path) == len(engine.journal)
    assert keys(path) == {"before", "a", "b"}
    live = engine.snapshot()
    engine.close()
    with Engine.open(path, city=CITY, clock=ManualClock(), verify="full") as again:
        assert again.snapshot() == live


def test_each_command_in_a_group_is_still_all_or_nothing(tmp_path: Path) -> None:
    """A command whose write fails inside a group leaves none of its rows; the others
    of the group are committed when it exits."""
    path = tmp_path / "j.sqlite"
    engine = Engine.open(path, city=CITY, clock=ManualClock(START))
    journal: SqliteJournal = engine._kernel.journal  # type: ignore[assignment]
    real = journal._write
    calls = {"n": 0}

    def failing(action: Any) -> None:
        calls["n"] += 1

        def half(db: sqlite3.Connection) -> None:
            action(db)  # every row written, then the write fails
            raise sqlite3.OperationalError("disk I/O error")

        real(half if calls["n"] == 1 else action)

    with engine.group():
        engine.report_case(COMPOUNDS[0], key="one")
        after_one = engine.snapshot()
        journal._write = failing  # type: ignore[method-assign]
        try:
            with pytest.raises(JournalError, match="disk I/O error"):
                engine.report_case(COMPOUNDS[1], key="two")
        finally:
            journal._write = real  # type: ignore[method-assign]
        # The failed command left nothing: the state is as after the first.
        assert engine.snapshot() == after_one
        engine.report_case(COMPOUNDS[2], key="three")
    assert keys(path) == {"one", "three"}
    live = engine.snapshot()
    engine._kernel.journal.close()
    with Engine.open(path, city=CITY, clock=ManualClock(), verify="full") as again:
        assert again.snapshot() == live
        assert again.journal.lookup("two") is None


def test_an_exception_leaving_the_block_commits_what_was_done(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    engine = Engine.open(path, city=CITY, clock=ManualClock(START))

    def group() -> None:
        with engine.group():
            engine.report_case(COMPOUNDS[0], key="done")
            engine.report_case("no-such-compound", key="refused")  # refused, and recorded

    with pytest.raises(UnknownUnitError):
        group()
    assert keys(path) == {"done", "refused"}
    assert committed_events(path) == len(engine.journal)
    engine.close()


def test_groups_nest_and_the_outermost_commits(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    engine = Engine.open(path, city=CITY, clock=ManualClock(START))
    with engine.group():
        with engine.group():
            engine.report_case(COMPOUNDS[0])
        assert committed_events(path) == 0
    assert committed_events(path) == len(engine.journal) > 0
    engine.close()


def test_closing_inside_a_group_is_refused(tmp_path: Path) -> None:
    engine = Engine.open(tmp_path / "j.sqlite", city=CITY, clock=ManualClock(START))
    with engine.group():
        engine.report_case(COMPOUNDS[0])
        with pytest.raises(JournalError, match="leave the block first"):
            engine.close()
    engine.close()


def test_a_failed_commit_leaves_the_group_out_and_rebuilds_the_state(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    engine = Engine.open(path, city=CITY, clock=ManualClock(START))
    engine.report_case(COMPOUNDS[0], key="kept")
    kept, length = engine.snapshot(), len(engine.journal)
    journal: SqliteJournal = engine._kernel.journal  # type: ignore[assignment]
    real = journal._db

    class FailingCommit:
        """The connection, but its COMMIT fails (as a full disk would)."""

        def execute(self, sql: str, *args: Any) -> Any:
            if sql == "COMMIT":
                raise sqlite3.OperationalError("database or disk is full")
            return real.execute(sql, *args)

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    def group() -> None:
        with engine.group():
            engine.report_case(COMPOUNDS[1], key="lost")
            journal._db = FailingCommit()  # type: ignore[assignment]

    with pytest.raises(JournalError, match="not in it"):
        group()
    journal._db = real
    assert engine.snapshot() == kept
    assert len(engine.journal) == length
    assert engine.journal.lookup("lost") is None
    # The engine goes on from the journal as it is.
    engine.report_case(COMPOUNDS[2], key="after")
    live = engine.snapshot()
    engine.close()
    with Engine.open(path, city=CITY, clock=ManualClock(), verify="full") as again:
        assert again.snapshot() == live
        assert keys(path) == {"kept", "after"}


def test_a_memory_journal_groups_nothing() -> None:
    engine = Engine(CITY, clock=ManualClock(START))
    with engine.group():
        engine.report_case(COMPOUNDS[0])
    assert len(engine.journal) > 0


# ------------------------------------------------------------------ crashes

GROUPS = 40
PER_GROUP = 4


def writer(path: Path, report: int) -> None:
    """Groups of commands under FULL; after each group's exit, its number is acked."""
    clock = ManualClock(START)
    engine = Engine.open(path, city=CITY, clock=clock, synchronous="FULL", snapshot_every=5)
    os.write(report, b"ready\n")
    for g in range(GROUPS):
        with engine.group():
            for i in range(PER_GROUP):
                clock.set(START + timedelta(hours=g * PER_GROUP + i + 1))
                key = f"g{g}-{i}"
                if engine.journal.lookup(key) is not None:
                    continue
                if i % 2 == 0:
                    engine.report_case(COMPOUNDS[(g + i) % len(COMPOUNDS)], key=key)
                else:
                    engine.open_ticket(COMPOUNDS[(g * 3 + i) % len(COMPOUNDS)], "medicine", key=key)
        os.write(report, f"ack {g}\n".encode())
    os.write(report, b"done\n")


def test_a_process_killed_inside_a_group_leaves_every_command_of_it_out(
    tmp_path: Path,
) -> None:
    """SIGKILL at random moments: every group acknowledged is there whole; of the
    group in flight, all of its commands or none; each command whole; the chain valid."""
    path = tmp_path / "crash.sqlite"
    rng = random.Random(15)
    acked: set[int] = set()
    for _ in range(8):
        output = kill_writer(writer, path, rng.uniform(0.0, 0.04))
        acked.update(int(line.split()[1]) for line in output.splitlines() if line[:4] == "ack ")
        # The whole chain holds: no command is partial (each one's last row is flagged).
        journal = SqliteJournal(path, verify="full")
        events = list(journal)
        present = {
            f"g{g}-{i}"
            for g in range(GROUPS)
            for i in range(PER_GROUP)
            if journal.lookup(f"g{g}-{i}") is not None
        }
        journal.close()
        whole = []
        for g in range(GROUPS):
            mine = {f"g{g}-{i}" for i in range(PER_GROUP)}
            # A group is there whole or not at all: a killed group left nothing,
            # and the next run did it again in one transaction.
            assert mine <= present or not mine & present, f"group {g} is partial"
            if g in acked:
                assert mine <= present, f"acknowledged group {g} lost commands"
            whole.append(mine <= present)
        # The groups there are the first ones (the writer goes in order).
        assert whole == sorted(whole, reverse=True)
        reopened = Engine.open(path, city=CITY, clock=ManualClock())
        assert reopened.snapshot() == Engine.replay(CITY, events).snapshot()
        check_invariants(reopened)
        reopened._kernel.journal.close()

"""The journal's hash chain: what it costs to append, and to verify on open.

``journal_chain``
    ``append``: events appended per second to a :class:`SqliteJournal`, five
    events per command (one transaction each), with the hash chain against
    the same journal with the row hash replaced by a constant (the baseline:
    no chaining; the journal's ``hashlib`` is swapped for one whose
    ``sha256`` hashes nothing), in the same run. ``verify``: opening a journal of 1,000,000
    event rows (100,000 with ``--quick``), which checks the whole chain,
    against a plain scan of the same rows (the baseline).
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

from benchmarks import benchmark, figure
from gridgov import journal as _journal
from gridgov.journal import GENESIS, Event, SqliteJournal, encode_row, row_hash

VERIFY_TARGET_S = 2.0
PER_COMMAND = 5
WHEN = datetime(2022, 9, 17, tzinfo=UTC)


def _event(seq: int) -> Event:
    return Event(
        seq,
        WHEN,
        "zone.changed",
        f"230803-{seq % 97:03d}",
        f"c{1 + (seq - 1) // PER_COMMAND:06d}",
        "230803",
        "a case was confirmed",
        "open",
        "sealed",
        {"cases": seq % 7},
    )


def _append_rate(path: Path, count: int) -> float:
    journal = SqliteJournal(path)
    batches = [
        [_event(s) for s in range(first, first + PER_COMMAND)]
        for first in range(1, count + 1, PER_COMMAND)
    ]
    start = time.perf_counter()
    for batch in batches:
        journal.append(batch)
    elapsed = time.perf_counter() - start
    journal.close()
    return count / elapsed


class _Constant:
    """A stand-in for a hash object: digests to a constant."""

    def digest(self) -> bytes:
        return GENESIS


_CONSTANT = _Constant()


class _NoHashing:
    """The baseline's ``hashlib`` inside the journal: ``sha256(row)`` hashes nothing
    (a call as cheap as calls get), so the chain costs nothing but the stored bytes."""

    @staticmethod
    def sha256(data: bytes = b"") -> _Constant:
        return _CONSTANT


def _rows(count: int) -> Iterator[tuple[int, str, str, int, bytes]]:
    previous = GENESIS
    for seq in range(1, count + 1):
        event = _event(seq)
        text = encode_row(event)  # the rows of today's journals (format 3)
        last = int(seq % PER_COMMAND == 0 or seq == count)
        previous = row_hash(previous, seq, event.command, text, bool(last))
        yield seq, event.command, text, last, previous


@benchmark("journal_chain")
def journal_chain(quick: bool) -> dict[str, dict[str, object]]:
    """Append throughput with and without the hash chain; verify time of a long journal."""
    count = 5_000 if quick else 20_000
    rows = 100_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory() as folder:
        # Alternating runs, medians: the load of a shared machine falls on both alike.
        chained_runs, plain_runs = [], []
        for run in range(1 if quick else 5):
            chained_runs.append(_append_rate(Path(folder) / f"chained{run}.sqlite", count))
            with mock.patch.object(_journal, "hashlib", _NoHashing):
                plain_runs.append(_append_rate(Path(folder) / f"plain{run}.sqlite", count))
        chained, plain = statistics.median(chained_runs), statistics.median(plain_runs)
        path = Path(folder) / "long.sqlite"
        SqliteJournal(path).close()
        db = sqlite3.connect(path)
        with db:
            db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", _rows(rows))
            last = db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
            db.execute("INSERT INTO meta VALUES ('head', ?)", (f"{last[0]}:{last[1].hex()}",))
        db.close()
        verifies = []
        for _ in range(1 if quick else 3):
            start = time.perf_counter()
            journal = SqliteJournal(path)
            verifies.append(time.perf_counter() - start)
            assert len(journal) == rows
            journal.close()
        verify = statistics.median(verifies)
        db = sqlite3.connect(path)
        start = time.perf_counter()
        for _ in db.execute("SELECT seq, command, record, last, hash FROM events ORDER BY seq"):
            pass
        scan = time.perf_counter() - start
        db.close()
    return {
        "append": figure(
            chained / plain,
            "x",
            0.8,
            f"events/s appended with the hash chain, relative to no chaining ({count:,} events, "
            f"{PER_COMMAND} per command)",
            baseline=1.0,
            baseline_what="the same appends with a constant row hash",
            higher_is_better=True,
            chained_events_per_second=round(chained),
            plain_events_per_second=round(plain),
        ),
        "verify": figure(
            verify,
            "s",
            VERIFY_TARGET_S,
            f"opening a journal of {rows:,} event rows, the whole hash chain verified",
            baseline=scan,
            baseline_what="a plain scan of the same rows (no hashing)",
            rows=rows,
        ),
    }

"""The journal's hash chain: what it costs to append, and to verify on open.

``journal_chain``
    ``append``: events appended per second to a :class:`SqliteJournal`, five
    events per command (one transaction each), with the hash chain against
    the same journal with the row hash replaced by a constant (the baseline:
    no chaining; the journal's ``hashlib`` is swapped for one whose
    ``sha256`` hashes nothing), in the same run. ``verify``: opening a journal of 1,000,000
    events (100,000 with ``--quick``), five per command, which checks the whole
    chain, against a plain scan of the same rows (the baseline). The journal is
    of format 4 (a block row per command here, one hash each);
    ``format3_s`` / ``format3_scan_s`` are the same for a journal of format 3
    (a row and a hash per event), what this figure measured before format 4.
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
from gridgov.journal import (
    GENESIS,
    Event,
    Events,
    SqliteJournal,
    _encode_blocks,
    encode_row,
    row_hash,
)

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


def _blocks(count: int) -> Iterator[tuple[object, ...]]:
    """The block rows of format 4 of the same events (one block per command)."""
    previous = GENESIS
    for first in range(1, count + 1, PER_COMMAND):
        events = Events.of(_event(s) for s in range(first, min(count, first + PER_COMMAND - 1) + 1))
        blocks = _encode_blocks(events, previous, first)
        previous = blocks[-1][5]
        yield from blocks


def _verify_time(path: Path, rows: int, table: str, quick: bool) -> tuple[float, float]:
    """(median seconds to open ``path``, checking its whole chain; seconds of a plain
    scan of its rows)."""
    db = sqlite3.connect(path)
    with db:
        marks = "?, ?, ?, ?, ?, ?" if table == "blocks" else "?, ?, ?, ?, ?"
        db.executemany(
            f"INSERT INTO {table} VALUES ({marks})",
            _blocks(rows) if table == "blocks" else _rows(rows),
        )
        column = "last" if table == "blocks" else "seq"
        last = db.execute(
            f"SELECT {column}, hash FROM {table} ORDER BY {column} DESC LIMIT 1"
        ).fetchone()
        db.execute("INSERT INTO meta VALUES ('head', ?)", (f"{last[0]}:{last[1].hex()}",))
    db.close()
    verifies = []
    for _ in range(1 if quick else 3):
        start = time.perf_counter()
        journal = SqliteJournal(path)
        verifies.append(time.perf_counter() - start)
        assert len(journal) == rows
        journal.close()
    db = sqlite3.connect(path)
    start = time.perf_counter()
    for _ in db.execute(f"SELECT * FROM {table}"):
        pass
    scan = time.perf_counter() - start
    db.close()
    return statistics.median(verifies), scan


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
        verify, scan = _verify_time(path, rows, "blocks", quick)
        path = Path(folder) / "long-format3.sqlite"
        with mock.patch.object(_journal, "_NEW_FORMAT", 3):
            SqliteJournal(path).close()
        verify3, scan3 = _verify_time(path, rows, "events", quick)
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
            f"opening a journal of {rows:,} events ({PER_COMMAND} per command, format 4: a "
            "block row per command), the whole hash chain verified",
            baseline=scan,
            baseline_what="a plain scan of the same rows (no hashing)",
            rows=rows,
            format3_s=round(verify3, 3),
            format3_scan_s=round(scan3, 3),
        ),
    }

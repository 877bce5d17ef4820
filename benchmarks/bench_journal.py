"""The durable journal: committed commands per second, and reopening a long journal.

``journal_commands``
    The same scripted commands (a case in a compound, then lifting its
    street) on the small preset, committed to the in-memory journal (the
    baseline), to SQLite with ``synchronous=NORMAL`` and with ``FULL``;
    ``full_grouped``: the same with ``FULL``, 20 commands to each
    ``engine.group()`` (group commit: one transaction, one sync), against
    ``sqlite_full`` of the same run.

``journal_reopen``
    Reopening a journal of 1,000,000 events (100,000 with ``--quick``) made by
    sealing and lifting Jiamusi's urban area again and again, then confirmed
    cases in random compounds until 25,000 events follow the last snapshot
    (half the interval: the expected tail when a journal is reopened at a
    random moment; the sealing loop alone ends right on a snapshot, the best
    case): with snapshots (the default, one per 50,000 events) against
    replaying every event (the baseline, the same journal without its
    snapshots).

``journal_append``
    Events per second appended to a SQLite journal with
    ``synchronous=NORMAL``, one transaction per command, encoding included:
    the events of sealing and lifting Jiamusi's urban area twice and of 1,000
    confirmed cases (200 and once with ``--quick``), recorded first in
    memory and appended as each command's ``Events``, as the engine hands
    them to its journal (each row's data made from the columns while it is
    encoded). Baseline: plain ``sqlite3`` inserting the same rows, already
    encoded, into the same table, one transaction per command, with the
    journal's SQLite settings (WAL, ``synchronous=NORMAL``, a checkpoint
    every 64 MB of log): the block rows of format 5 that the journal writes
    (a row per block of up to 4,096 events of one command, with its hash);
    ``per_event_rows_baseline`` is the same with a row per event (each
    event's ``to_json()``, the rows of format 3 without their hash), the
    baseline of earlier runs. Every timing ends with closing the database,
    so the last checkpoint is counted on every side. Higher is better;
    target 200,000 events per second.

``journal_replay``
    ``full_1m``: the engine built on the ``journal_reopen`` journal with its
    snapshots hidden (``pause_gc=True``, the option for bulk work), so every
    event is read, decoded and applied; seconds,
    scaled to 1,000,000 events (target: under 3 s). Baseline: reading the
    same rows (the block rows of format 5) with plain ``sqlite3`` and
    ``orjson.loads`` (``json_baseline_s``: with ``json.loads``);
    ``decode_only_s`` is gridgov's reading and decoding alone (the chunks of
    ``SqliteJournal.replay_chunks(0)``, what the replay reads; ``since_s``:
    ``SqliteJournal.since(0)``, a list of :class:`Event`, what
    ``decode_only_s`` measured before format 4),
    ``verify_s`` opening the journal with ``verify="full"`` (the whole hash
    chain checked; the replay's journal is opened so too, untimed), and
    ``replay_cpu_s`` / ``baseline_cpu_s`` the CPU time of the replay and of
    the baseline (on a shared machine the wall time also counts the waits
    for a CPU); all scaled to 1,000,000 events.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import orjson

from benchmarks import benchmark, figure
from gridgov import City, Engine, ManualClock, Rules
from gridgov.journal import _CHECKPOINT_PAGES as CHECKPOINT_PAGES
from gridgov.journal import GENESIS, Events, SqliteJournal, _encode_blocks
from gridgov.presets import URBAN_AREA, jiamusi, small

REOPEN_TARGET_S = 5.0


def _commands_per_second(engine: Engine, clock: ManualClock, count: int, group: int = 1) -> float:
    """Commands per second; ``group`` > 1: that many commands per ``engine.group()``."""
    city = engine.city
    compounds = sorted(city.compounds)
    start = time.perf_counter()
    for first in range(0, count, group):
        with engine.group() if group > 1 else contextlib.nullcontext():
            for i in range(first, min(count, first + group)):
                clock.advance(timedelta(hours=1))
                compound = compounds[i % len(compounds)]
                if i % 2 == 0:
                    engine.report_case(compound)
                else:
                    engine.lift(city.street_of(compound), skip_recovery=True)
    return count / (time.perf_counter() - start)


#: Commands per group in ``full_grouped``.
GROUP = 20


@benchmark("journal_commands")
def journal_commands(quick: bool) -> dict[str, dict[str, object]]:
    """Commands per second: SQLite NORMAL and FULL against the in-memory journal."""
    city = small()
    count = 200 if quick else 1000
    clock = ManualClock()
    memory = _commands_per_second(Engine(city, clock=clock), clock, count)
    out: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for mode in ("NORMAL", "FULL"):
            clock = ManualClock()
            path = Path(folder) / f"{mode}.sqlite"
            engine = Engine.open(path, city=city, clock=clock, synchronous=mode)
            rate = _commands_per_second(engine, clock, count)
            events = len(engine.journal)
            engine.close()
            # Lower is better for figure(): report seconds per command.
            out[f"sqlite_{mode.lower()}"] = figure(
                1e3 / rate,
                "ms",
                10.0 if mode == "NORMAL" else 50.0,
                f"ms per committed command, SQLite synchronous={mode} ({count} commands, "
                f"{events} events)",
                baseline=1e3 / memory,
                baseline_what="the same commands, in-memory journal",
                commands_per_second=round(rate, 1),
                memory_commands_per_second=round(memory, 1),
            )
        # Group commit: the same commands with FULL, GROUP to a transaction (one
        # sync each), against FULL one command at a time measured just above.
        clock = ManualClock()
        path = Path(folder) / "FULL-grouped.sqlite"
        engine = Engine.open(path, city=city, clock=clock, synchronous="FULL")
        grouped = _commands_per_second(engine, clock, count, group=GROUP)
        engine.close()
        full = out["sqlite_full"]
        out["full_grouped"] = figure(
            1e3 / grouped,
            "ms",
            50.0,
            f"ms per committed command, SQLite synchronous=FULL, {GROUP} commands per "
            f"engine.group() (one transaction and one sync per group; {count} commands)",
            baseline=1e3 / float(full["commands_per_second"]),  # type: ignore[arg-type]
            baseline_what="the same commands with synchronous=FULL, one transaction each "
            "(sqlite_full, same run)",
            commands_per_second=round(grouped, 1),
            ungrouped_commands_per_second=full["commands_per_second"],
        )
    return out


SNAPSHOT_EVERY = 50_000  # the engine's default


def _fill(path: Path, city: City, events: int) -> tuple[int, int]:
    """Seal and lift the urban area until ``events``, then cases until a realistic tail.

    A declaration of the urban area is about one snapshot interval of
    events, so the loop alone ends right on a snapshot: the best case for
    reopening. Cases in random compounds (about a hundred events each) then
    follow until the events after the last snapshot are half an interval,
    the expected tail of a journal reopened at a random moment.

    Returns:
        (events in the journal, events after its last snapshot).
    """
    clock = ManualClock()
    rules = Rules(areas={"urban": URBAN_AREA})
    engine = Engine.open(path, city=city, rules=rules, clock=clock)
    while len(engine.journal) < events:
        clock.advance(timedelta(days=1))
        engine.declare("urban")
        clock.advance(timedelta(days=1))
        engine.lift(city.chain.city, skip_recovery=True)
    latest = engine.journal.latest_snapshot()
    snapshot = latest[0] if latest is not None else 0
    compounds = random.Random(0).sample(sorted(city.compounds), k=len(city.compounds))
    i = 0
    while len(engine.journal) - snapshot < SNAPSHOT_EVERY // 2:
        clock.advance(timedelta(hours=1))
        engine.report_case(compounds[i % len(compounds)])
        i += 1
    latest = engine.journal.latest_snapshot()
    assert latest is None or latest[0] == snapshot, "the tail must not reach a new snapshot"
    total = len(engine.journal)
    engine._kernel.journal.close()  # leave the tail after the last snapshot to replay
    return total, total - snapshot


_FOLDER = tempfile.TemporaryDirectory(prefix="gridgov-bench-journal-")


@functools.cache
def _city() -> City:
    return jiamusi()


@functools.cache
def _long_journal(wanted: int) -> tuple[Path, int, int]:
    """A journal of about ``wanted`` events with a realistic tail, made once per run."""
    path = Path(_FOLDER.name) / f"long-{wanted}.sqlite"
    total, tail = _fill(path, _city(), wanted)
    return path, total, tail


@benchmark("journal_reopen")
def journal_reopen(quick: bool) -> dict[str, dict[str, object]]:
    """Reopen a long journal: snapshot + tail against replaying every event."""
    city = _city()
    rules = Rules(areas={"urban": URBAN_AREA})
    wanted = 100_000 if quick else 1_000_000
    path, total, tail = _long_journal(wanted)
    size_mb = os.path.getsize(path) / 1e6
    runs = []
    for _ in range(1 if quick else 3):
        start = time.perf_counter()
        engine = Engine.open(path, city=city, rules=rules, clock=ManualClock())
        runs.append(time.perf_counter() - start)
        state = engine.snapshot()
        engine._kernel.journal.close()
    journal = SqliteJournal(path)
    start = time.perf_counter()
    full = Engine(city, rules, ManualClock(), journal=_NoSnapshots(journal))
    baseline = time.perf_counter() - start
    assert full.snapshot() == state, "snapshot + tail must equal a full replay"
    journal.close()
    return {
        "reopen": figure(
            statistics.median(runs),
            "s",
            REOPEN_TARGET_S,
            f"Engine.open on a journal of {total:,} events ({size_mb:.0f} MB), Jiamusi preset, "
            f"{tail:,} events after the last snapshot",
            baseline=baseline,
            baseline_what="replaying every event (snapshots ignored)",
            events=total,
            tail_events=tail,
        ),
    }


class _NoSnapshots:
    """A journal view that hides the snapshots, to time a full replay."""

    durable = False

    def __init__(self, journal: SqliteJournal) -> None:
        self._journal = journal

    def __len__(self) -> int:
        return len(self._journal)

    def latest_snapshot(self) -> None:
        return None

    def since(self, seq: int) -> list[object]:
        return self._journal.since(seq)  # type: ignore[return-value]

    def stream(self, seq: int) -> Iterator[object]:
        return self._journal.stream(seq)  # type: ignore[return-value]

    def replay(self, seq: int) -> Iterator[object]:
        return self._journal.replay(seq)  # type: ignore[return-value]

    def replay_chunks(self, seq: int) -> Iterator[object]:
        return self._journal.replay_chunks(seq)  # type: ignore[return-value]


APPEND_TARGET = 200_000.0  # events per second, synchronous=NORMAL
REPLAY_TARGET_S = 3.0  # a full replay of 1,000,000 events


def _plain_rate(
    folder: str, name: str, table: str, batches: list[list[tuple[object, ...]]]
) -> tuple[float, float]:
    """(seconds, CPU seconds) of plain sqlite3 inserting ``batches`` of rows into a new
    table made by ``table`` (a statement), one transaction per batch, with the
    journal's SQLite settings, closing included."""
    db = sqlite3.connect(Path(folder) / f"{name}.sqlite", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
    db.execute(table)
    marks = ", ".join("?" * len(batches[0][0]))
    insert = f"INSERT INTO rows VALUES ({marks})"
    cpu = time.process_time()
    start = time.perf_counter()
    for batch in batches:
        db.execute("BEGIN IMMEDIATE")
        db.executemany(insert, batch)
        db.execute("COMMIT")
    db.close()
    return time.perf_counter() - start, time.process_time() - cpu


def _commands(city: City, quick: bool) -> list[Events]:
    """The events of sealing and lifting the urban area and of cases, command by command,
    kept as the engine hands them to its journal (each command's :class:`Events`, whose
    rows are made from its columns while they are encoded), not as lists of
    :class:`Event` made beforehand outside the timing."""
    clock = ManualClock()
    engine = Engine(city, Rules(areas={"urban": URBAN_AREA}), clock=clock)
    out: list[Events] = []
    compounds = random.Random(1).sample(sorted(city.compounds), k=200 if quick else 1000)
    for _ in range(1 if quick else 2):
        clock.advance(timedelta(days=1))
        out.append(engine.declare("urban").events)
        clock.advance(timedelta(days=1))
        out.append(engine.lift(city.chain.city, skip_recovery=True).events)
    for compound in compounds:
        clock.advance(timedelta(hours=1))
        out.append(engine.report_case(compound).events)
    return [c for c in out if c]


@benchmark("journal_append")
def journal_append(quick: bool) -> dict[str, dict[str, object]]:
    """Events per second into SQLite (NORMAL), against plain sqlite3 writing the same rows."""
    commands = _commands(_city(), quick)
    events = sum(len(c) for c in commands)
    # The rows of format 5 as the journal writes them (chained from the genesis:
    # the hashes' values do not change the cost), and a row per event.
    blocks = [_encode_blocks(c, GENESIS, c.first) for c in commands]
    rows = [[(e.seq, e.command, e.to_json()) for e in c] for c in commands]
    ours: list[float] = []
    ours_cpu: list[float] = []
    plain: list[tuple[float, float]] = []
    per_event: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        for run in range(1 if quick else 3):
            journal = SqliteJournal(Path(folder) / f"ours-{run}.sqlite", synchronous="NORMAL")
            cpu = time.process_time()
            start = time.perf_counter()
            for command in commands:
                journal.append(command)
            # Closing checkpoints the write-ahead log: its cost is counted on every side.
            journal.close()
            ours.append(time.perf_counter() - start)
            ours_cpu.append(time.process_time() - cpu)
            plain.append(_plain_rate(folder, f"plain-{run}", _BLOCK_TABLE, blocks))
            per_event.append(_plain_rate(folder, f"rows-{run}", _ROW_TABLE, rows))
    rate = events / statistics.median(ours)
    base = events / statistics.median(t for t, _ in plain)
    return {
        "events_per_s_normal": figure(
            rate,
            "events/s",
            APPEND_TARGET,
            f"SqliteJournal.append, synchronous=NORMAL, one transaction per command: "
            f"{events:,} events of {len(commands):,} commands (sealing and lifting Jiamusi's "
            "urban area, confirmed cases), encoding included",
            baseline=base,
            baseline_what="plain sqlite3 inserting the same rows, already encoded, one "
            "transaction per command (the block rows of format 5)",
            higher_is_better=True,
            # CPU time (this process only): what the wall time measures when
            # the machine is not shared.
            events_per_cpu_s=round(events / statistics.median(ours_cpu)),
            baseline_events_per_cpu_s=round(events / statistics.median(c for _, c in plain)),
            per_event_rows_baseline=round(events / statistics.median(t for t, _ in per_event)),
            per_event_rows_baseline_what="plain sqlite3 inserting a row per event "
            "(seq, command, to_json()), already encoded, one transaction per command",
            blocks=sum(len(b) for b in blocks),
        ),
    }


#: The tables of the plain baselines: format 5's block rows, and a row per event.
_BLOCK_TABLE = (
    "CREATE TABLE rows (first INTEGER PRIMARY KEY, last INTEGER NOT NULL, command TEXT "
    "NOT NULL, final INTEGER NOT NULL, body BLOB NOT NULL, hash BLOB NOT NULL)"
)
_ROW_TABLE = (
    "CREATE TABLE rows (seq INTEGER PRIMARY KEY, command TEXT NOT NULL, record TEXT NOT NULL)"
)


@benchmark("journal_replay")
def journal_replay(quick: bool) -> dict[str, dict[str, object]]:
    """A full replay of a journal of about 1,000,000 events, against decoding it with json."""
    city = _city()
    rules = Rules(areas={"urban": URBAN_AREA})
    path, total, _ = _long_journal(100_000 if quick else 1_000_000)
    journal = SqliteJournal(path, verify="full")  # checked here, not in the replay
    cpu = time.process_time()
    start = time.perf_counter()
    # The option for bulk work, as the replay paused the collector before it became one.
    Engine(city, rules, ManualClock(), journal=_NoSnapshots(journal), pause_gc=True)
    replay = time.perf_counter() - start
    replay_cpu = time.process_time() - cpu
    start = time.perf_counter()
    for _ in journal.replay_chunks(0):
        pass
    decode = time.perf_counter() - start
    start = time.perf_counter()
    journal.since(0)
    since = time.perf_counter() - start
    journal.close()
    # Opening verifies the whole hash chain: its cost, scaled the same way.
    start = time.perf_counter()
    journal = SqliteJournal(path, verify="full")
    verify = time.perf_counter() - start
    journal.close()
    db = sqlite3.connect(path)
    cpu = time.process_time()
    start = time.perf_counter()
    for (body,) in db.execute("SELECT body FROM blocks ORDER BY first"):
        orjson.loads(body)
    plain = time.perf_counter() - start
    plain_cpu = time.process_time() - cpu
    start = time.perf_counter()
    for (body,) in db.execute("SELECT body FROM blocks ORDER BY first"):
        json.loads(body)
    plain_json = time.perf_counter() - start
    db.close()
    per_million = 1_000_000 / total
    return {
        "full_1m": figure(
            replay * per_million,
            "s",
            REPLAY_TARGET_S,
            f"Engine on a journal of {total:,} events (Jiamusi, sealing and lifting the urban "
            "area, cases), every event read, decoded and applied (snapshots ignored), scaled "
            "to 1,000,000 events",
            baseline=plain * per_million,
            baseline_what="reading the same rows (format 5's blocks) with plain sqlite3 and "
            "orjson.loads, scaled to 1,000,000 events",
            events=total,
            replay_s=round(replay, 3),
            decode_only_s=round(decode * per_million, 3),
            replay_cpu_s=round(replay_cpu * per_million, 3),
            baseline_cpu_s=round(plain_cpu * per_million, 3),
            verify_s=round(verify * per_million, 3),
            json_baseline_s=round(plain_json * per_million, 3),
            since_s=round(since * per_million, 3),
        ),
    }

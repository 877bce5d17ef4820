"""The durable journal: committed commands per second, and reopening a long journal.

``journal_commands``
    The same scripted commands (a case in a compound, then lifting its
    street) on the small preset, committed to the in-memory journal (the
    baseline), to SQLite with ``synchronous=NORMAL`` and with ``FULL``.

``journal_reopen``
    Reopening a journal of 1,000,000 events (100,000 with ``--quick``) made by
    sealing and lifting Jiamusi's urban area again and again, then confirmed
    cases in random compounds until 25,000 events follow the last snapshot
    (half the interval: the expected tail when a journal is reopened at a
    random moment; the sealing loop alone ends right on a snapshot, the best
    case): with snapshots (the default, one per 50,000 events) against
    replaying every event (the baseline, the same journal without its
    snapshots).
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from benchmarks import benchmark, figure
from gridgov import City, Engine, ManualClock, Rules
from gridgov.journal import SqliteJournal
from gridgov.presets import URBAN_AREA, jiamusi, small

REOPEN_TARGET_S = 5.0


def _commands_per_second(engine: Engine, clock: ManualClock, count: int) -> float:
    city = engine.city
    compounds = sorted(city.compounds)
    start = time.perf_counter()
    for i in range(count):
        clock.advance(timedelta(hours=1))
        compound = compounds[i % len(compounds)]
        if i % 2 == 0:
            engine.report_case(compound)
        else:
            engine.lift(city.street_of(compound), skip_recovery=True)
    return count / (time.perf_counter() - start)


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
    engine.journal.close()  # leave the tail after the last snapshot to replay
    return total, total - snapshot


@benchmark("journal_reopen")
def journal_reopen(quick: bool) -> dict[str, dict[str, object]]:
    """Reopen a long journal: snapshot + tail against replaying every event."""
    city = jiamusi()
    rules = Rules(areas={"urban": URBAN_AREA})
    wanted = 100_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "long.sqlite"
        total, tail = _fill(path, city, wanted)
        size_mb = os.path.getsize(path) / 1e6
        runs = []
        for _ in range(1 if quick else 3):
            start = time.perf_counter()
            engine = Engine.open(path, city=city, rules=rules, clock=ManualClock())
            runs.append(time.perf_counter() - start)
            state = engine.snapshot()
            engine.journal.close()
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

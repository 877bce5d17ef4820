"""SIGKILL a writer running the full command mix with snapshots every few events
(issue 18): after every kill the journal opens, every acknowledged command is there,
none is partial, reopen == full replay, and the invariants hold; in the end the
history equals an uncrashed run's."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gridgov import Engine, GridgovError, ManualClock
from gridgov.journal import SqliteJournal
from gridgov.model import PersonKind
from gridgov.presets import small
from gridgov.testing import check_invariants
from processes import fork_writer

CITY = small()
COMPOUNDS = sorted(CITY.compounds)
COMMUNITY = CITY.chain.community_of(COMPOUNDS[0])
STREET = CITY.chain.city
MEMBERS = sorted(
    p.id
    for p in CITY.people.values()
    if p.kind is PersonKind.IN_SERVICE_MEMBER and p.home == COMMUNITY
)
START = datetime(2022, 9, 17, tzinfo=UTC)
STEPS = 160


def step(engine: Engine, clock: ManualClock, i: int) -> bool:
    """Step ``i`` of the scripted mix; False when it issued no command."""
    when = START + timedelta(hours=6) * (i + 1)
    if clock.now() < when:
        clock.set(when)
    key = f"step-{i}"
    kind = i % 10
    compound = COMPOUNDS[i % len(COMPOUNDS)]
    if kind in (0, 5):
        engine.report_case(compound, key=key)
    elif kind == 1:
        engine.open_ticket(compound, "medicine", key=key)
    elif kind == 2:
        open_tickets = [t.id for t in engine.tickets if not t.closed]
        if not open_tickets:
            return False
        engine.handle_ticket(open_tickets[0], "classify", key=key)
    elif kind == 3:
        engine.post_task(COMMUNITY, "medicine_delivery", capacity=2, key=key)
    elif kind == 4:
        tasks = sorted(p for p in engine.roster.posts if "/task/" in p)
        if not tasks:
            return False
        engine.claim(tasks[-1], MEMBERS[i % len(MEMBERS)], key=key)
    elif kind == 6:
        engine.set_availability({"volunteer": 0.2 * (i % 3)}, seed=i, key=key)
    elif kind == 7:
        engine.staff(key=key)
    elif kind == 8:
        engine.advance(key=key)
    else:
        engine.lift(COMPOUNDS[i % len(COMPOUNDS)], skip_recovery=True, key=key)
    return True


def _plain(value: object) -> object:
    # Sets in any order: the same set prints the same.
    if isinstance(value, (set, frozenset)):
        return sorted(map(repr, value))
    return repr(value)


def digest(engine: Engine) -> str:
    text = json.dumps(engine.snapshot(), sort_keys=True, default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_mix(engine: Engine, clock: ManualClock, report: int | None = None) -> None:
    for i in range(STEPS):
        try:
            issued = step(engine, clock, i)
        except GridgovError:
            # Refusals are part of the mix; each is recorded (one event, under its key),
            # so it is acknowledged like any other outcome.
            issued = True
        if report is not None and issued:
            # Acknowledged: the key, the journal's length and the state it left.
            os.write(report, f"ack {i} {len(engine.journal)} {digest(engine)}\n".encode())


def writer(path: Path, report: int) -> None:
    clock = ManualClock()
    engine = Engine.open(path, city=CITY, clock=clock, snapshot_every=3)
    last = engine.last_time
    if last is not None and clock.now() < last:
        clock.set(last)
    os.write(report, b"ready\n")
    run_mix(engine, clock, report)
    os.write(report, b"done\n")


def crash_loop(tmp_path: Path, kills_wanted: int, seed: int) -> int:
    path = tmp_path / "crash.sqlite"
    rng = random.Random(seed)
    acked: set[int] = set()
    done = False
    kills = 0
    while kills < kills_wanted or not done:
        pid, read = fork_writer(writer, path)
        received = b""
        killed = False
        if kills < kills_wanted:
            while b"ready" not in received:
                chunk = os.read(read, 4096)
                if not chunk:
                    break
                received += chunk
            assert b"ready" in received, "the writer could not open the journal"
            time.sleep(rng.uniform(0.0, 0.05))
            os.kill(pid, signal.SIGKILL)
            killed = True
        os.waitpid(pid, 0)
        with os.fdopen(read, "rb") as rest:
            output = (received + rest.read()).decode()
        acks = [line.split() for line in output.splitlines() if line.startswith("ack ")]
        acked.update(int(a[1]) for a in acks)
        done = done or "done" in output
        kills += killed
        journal = SqliteJournal(path)  # verifies the chain: no partial command
        events = list(journal)
        journal.close()
        reopened = Engine.open(path, city=CITY, clock=ManualClock())
        assert reopened.snapshot() == Engine.replay(CITY, events).snapshot()
        check_invariants(reopened)
        missing = [i for i in acked if reopened.journal.lookup(f"step-{i}") is None]
        assert missing == [], f"acknowledged commands lost: {missing}"
        if acks:
            _, _, length, state = acks[-1]
            if len(reopened.journal) == int(length):
                assert digest(reopened) == state, "reopened state != last acknowledged state"
            else:
                # Only the command in flight when the kill came may follow the last ack.
                later = {e.command for e in reopened.journal.since(int(length))}
                assert len(later) <= 1, f"{len(later)} unacknowledged commands"
        reopened._kernel.journal.close()
    return kills


def test_twenty_kills_with_snapshots_every_three_events(tmp_path: Path) -> None:
    assert crash_loop(tmp_path, 20, seed=18) == 20


@pytest.mark.slow
def test_two_hundred_kills(tmp_path: Path) -> None:
    assert crash_loop(tmp_path, 200, seed=1800) == 200

"""The journal's hash chain: every break is a JournalError naming the first bad seq,
and recover="truncate" keeps the longest valid prefix (issue 18, item 3)."""

from __future__ import annotations

import random
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from gridgov import Engine, ManualClock
from gridgov.errors import JournalError
from gridgov.journal import SqliteJournal
from gridgov.presets import small

# Rows of format 3 are edited here (format 4: test_journal_blocks.py).
pytestmark = pytest.mark.usefixtures("format3")

CITY = small()
COMPOUNDS = sorted(CITY.compounds)


def written(path: Path) -> dict[str, object]:
    """A journal of a few multi-event commands; returns the live state."""
    engine = Engine.open(path, city=CITY, clock=ManualClock(), snapshot_every=10**9)
    for compound in COMPOUNDS[:4]:
        engine.report_case(compound)
    engine.open_ticket(COMPOUNDS[0], "medicine", key="t")
    live = engine.snapshot()
    engine._kernel.journal.close()  # no snapshot: everything is replayed
    return live


def rows(path: Path) -> list[tuple[int, str, str]]:
    with closing(sqlite3.connect(path)) as db, db:
        return db.execute("SELECT seq, command, record FROM events ORDER BY seq").fetchall()


def execute(path: Path, sql: str, args: tuple[object, ...] = ()) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute(sql, args)
    db.close()


def test_a_clean_journal_opens(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    live = written(path)
    with Engine.open(path, city=CITY, clock=ManualClock()) as again:
        assert again.snapshot() == live
        assert again.load_report.recovered is None


@pytest.mark.parametrize("damage", ["edit", "delete", "swap", "tail_cut", "whole_tail"])
def test_every_break_names_the_first_bad_seq(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "j.sqlite"
    written(path)
    all_rows = rows(path)
    n = len(all_rows)
    middle = n // 2
    if damage == "edit":
        seq, _, text = all_rows[middle]
        execute(path, "UPDATE events SET record = ? WHERE seq = ?", (text.replace("1", "2"), seq))
        bad = seq
    elif damage == "delete":
        bad = all_rows[middle][0]
        execute(path, "DELETE FROM events WHERE seq = ?", (bad,))
    elif damage == "swap":
        a, b = all_rows[middle], all_rows[middle + 1]
        execute(path, "UPDATE events SET record = ? WHERE seq = ?", (b[2], a[0]))
        execute(path, "UPDATE events SET record = ? WHERE seq = ?", (a[2], b[0]))
        bad = a[0]
    elif damage == "tail_cut":
        # Cut inside the last multi-event command: its first row stays.
        commands = [c for _, c, _ in all_rows]
        multi = [c for c in commands if commands.count(c) > 1][-1]
        first = min(s for s, c, _ in all_rows if c == multi)
        execute(path, "DELETE FROM events WHERE seq > ?", (first,))
        bad = first  # a partial command is bad from its first row
    else:
        last_cmd = all_rows[-1][1]
        first = min(s for s, c, _ in all_rows if c == last_cmd)
        execute(path, "DELETE FROM events WHERE seq >= ?", (first,))
        bad = first
    with pytest.raises(JournalError, match=rf"first bad event: seq {bad}\b"):
        Engine.open(path, city=CITY, clock=ManualClock())


def test_truncate_keeps_the_valid_prefix_on_a_command_boundary(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    written(path)
    all_rows = rows(path)
    seq, command, text = all_rows[len(all_rows) // 2]
    execute(path, "UPDATE events SET record = ? WHERE seq = ?", (text + " ", seq))
    first_of_command = min(s for s, c, _ in all_rows if c == command)
    with Engine.open(path, city=CITY, clock=ManualClock(), recover="truncate") as again:
        assert len(again.journal) == first_of_command - 1
        report = again.load_report.recovered
        assert report is not None
        assert f"seq {seq}" in report
        assert f"kept events 1-{first_of_command - 1}" in report
        prefix = Engine.replay(CITY, [again.journal[i] for i in range(len(again.journal))])
        assert again.snapshot() == prefix.snapshot()
    # Recovered for good: it opens without asking again.
    with Engine.open(path, city=CITY, clock=ManualClock()) as third:
        assert third.load_report.recovered is None


def test_an_old_journal_without_hashes_is_refused(tmp_path: Path) -> None:
    """A journal of the previous format (no hash column) is refused with a clear error."""
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    with db:
        db.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, command TEXT, record TEXT)")
    db.close()
    with pytest.raises(JournalError, match="older gridgov, without the hash chain"):
        SqliteJournal(path)


def corrupt(path: Path, rng: random.Random) -> str:
    """One random corruption of the file or of its rows; returns its name."""
    kind = rng.choice(["flip", "truncate", "delete", "swap", "edit", "snapshot", "keys"])
    if kind in ("flip", "truncate"):
        data = bytearray(path.read_bytes())
        if kind == "flip":
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        else:
            del data[rng.randrange(len(data)) :]
        path.write_bytes(bytes(data))
        return kind
    all_rows = rows(path)
    seq, _, text = rng.choice(all_rows)
    if kind == "delete":
        execute(path, "DELETE FROM events WHERE seq = ?", (seq,))
    elif kind == "swap":
        other = rng.choice(all_rows)
        execute(path, "UPDATE events SET record = ? WHERE seq = ?", (other[2], seq))
    elif kind == "edit":
        pos = rng.randrange(len(text))
        execute(
            path,
            "UPDATE events SET record = ? WHERE seq = ?",
            (text[:pos] + rng.choice('0123456789x"{}') + text[pos + 1 :], seq),
        )
    elif kind == "snapshot":
        execute(path, "UPDATE snapshots SET state = ?", (b"{}" * rng.randint(0, 4),))
    else:
        execute(path, "DELETE FROM commands")
    return kind


def corruption_trials(tmp_path: Path, trials: int) -> dict[str, int]:
    pristine = tmp_path / "pristine.sqlite"
    engine = Engine.open(pristine, city=CITY, clock=ManualClock(), snapshot_every=7)
    for compound in COMPOUNDS[:6]:
        engine.report_case(compound, key=compound)
    engine.open_ticket(COMPOUNDS[0], "medicine", key="t")
    live = engine.snapshot()
    engine.close()
    data = pristine.read_bytes()
    rng = random.Random(18)
    outcome = {"refused": 0, "same": 0, "prefix": 0}
    for trial in range(trials):
        path = tmp_path / f"c{trial}.sqlite"
        path.write_bytes(data)
        kind = corrupt(path, rng)
        try:
            engine = Engine.open(path, city=CITY, clock=ManualClock())
        except JournalError:
            outcome["refused"] += 1
            continue
        try:
            state = engine.snapshot()
            if state == live:
                outcome["same"] += 1
            else:
                # Anything else believed is a silently wrong state.
                raise AssertionError(f"trial {trial} ({kind}): a wrong state was believed")
        finally:
            engine._kernel.journal.close()
        path.unlink()
    return outcome


def test_random_corruptions_are_refused_or_harmless(tmp_path: Path) -> None:
    """100 random corruptions: each is refused with JournalError or leaves the exact state
    (a corrupted snapshot ignored, a flipped byte in free space): 0 wrong states."""
    outcome = corruption_trials(tmp_path, 100)
    assert sum(outcome.values()) == 100
    assert outcome["refused"] > 0


@pytest.mark.slow
def test_two_thousand_random_corruptions(tmp_path: Path) -> None:
    outcome = corruption_trials(tmp_path, 2000)
    assert sum(outcome.values()) == 2000


@pytest.mark.parametrize(
    "text",
    [
        '{"v":1,"seq":1,"time":"2022-09-17T00:00:00","type":"t","unit":"u","command":"c",'
        '"actor":"a","cause":"","old":null,"new":null,"data":{}}',
        '{"v":1,"seq":1,"time":"2022-09-17T00:00:00+08:00","type":"t","unit":"u","command":"c",'
        '"actor":"a","cause":"","old":null,"new":null,"data":[1]}',
        "null",
        "[]",
    ],
)
def test_corrupt_records_are_journal_errors(text: str) -> None:
    """A time without offset, data that is no object, a null record: JournalError only."""
    from gridgov.journal import Event

    with pytest.raises(JournalError):
        Event.from_json(text)


@pytest.mark.parametrize("damage", ["delete", "edit"])
def test_lost_or_edited_idempotency_keys_are_refused(tmp_path: Path, damage: str) -> None:
    """A deleted or edited `commands` row would let a retry apply a command twice:
    refused, or accepted as it is only on explicit recovery (and reported)."""
    path = tmp_path / "j.sqlite"
    written(path)
    if damage == "delete":
        execute(path, "DELETE FROM commands WHERE key = 't'")
    else:
        execute(path, "UPDATE commands SET fingerprint = 'other()' WHERE key = 't'")
    with pytest.raises(JournalError, match="idempotency records"):
        Engine.open(path, city=CITY, clock=ManualClock())
    with Engine.open(path, city=CITY, clock=ManualClock(), recover="truncate") as again:
        assert again.load_report.recovered is not None
        assert "idempotency records" in again.load_report.recovered

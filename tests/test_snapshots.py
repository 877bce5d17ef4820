"""Snapshots are data only, cover the whole state, and are never trusted blindly."""

from __future__ import annotations

import json
import pickle
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from gridgov import Engine, ManualClock
from gridgov.errors import JournalError
from gridgov.journal import SNAPSHOT_VERSION, SqliteJournal, decode_snapshot, encode_snapshot
from gridgov.presets import small

CITY = small()
COMPOUNDS = sorted(CITY.compounds)
COMMUNITY = CITY.chain.community_of(COMPOUNDS[0])


def written(path: Path, snapshot_every: int = 50_000) -> tuple[Engine, ManualClock]:
    """A durable engine with every domain in its state: measures, posts, a task, tickets."""
    clock = ManualClock()
    engine = Engine.open(path, city=CITY, clock=clock, snapshot_every=snapshot_every)
    engine.report_case(COMPOUNDS[0])
    engine.post_task(COMMUNITY, "medicine_delivery", capacity=2)
    ticket = engine.open_ticket(COMPOUNDS[0], "medicine", description="insulin").events[0]
    engine.handle_ticket(ticket.data["ticket"], "classify")
    engine.set_availability({"volunteer": 0.3}, seed=2, key="away")
    clock.advance(timedelta(hours=5))
    engine.advance()
    return engine, clock


def replayed(path: Path) -> Engine:
    journal = SqliteJournal(path)
    try:
        return Engine.replay(CITY, list(journal))
    finally:
        journal.close()


def replace_snapshot(path: Path, seq: int, blob: bytes) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute("DELETE FROM snapshots")
        db.execute("INSERT INTO snapshots VALUES (?, ?)", (seq, blob))
    db.close()


class TestWholeState:
    """A snapshot restores everything a full replay gives."""

    def test_reopen_from_snapshot_equals_replay(self, tmp_path: Path) -> None:
        """Tickets, roster, tasks, measures and counters survive close and reopen."""
        path = tmp_path / "j.sqlite"
        engine, _ = written(path)
        live = engine.snapshot()
        engine.close()
        with Engine.open(path, city=CITY, clock=ManualClock()) as again:
            assert again.load_report.snapshot == len(again.journal)
            assert again.load_report.replayed == 0
            assert again.load_report.ignored is None
            assert again.snapshot() == live == replayed(path).snapshot()
            assert len(again.tickets) == 1
            # The next ticket gets the next number, as in a full replay.
            opened = again.open_ticket(COMPOUNDS[1], "medicine").events[0]
            assert opened.data["ticket"] == "T000002"

    def test_snapshots_fall_between_commands(self, tmp_path: Path) -> None:
        """With a snapshot every few events, each one covers whole commands only."""
        path = tmp_path / "j.sqlite"
        engine, _ = written(path, snapshot_every=3)
        engine._kernel.journal.close()
        journal = SqliteJournal(path)
        latest = journal.latest_snapshot()
        assert latest is not None
        seq = latest[0]
        events = list(journal)
        journal.close()
        assert 0 < seq <= len(events)
        if seq < len(events):
            assert events[seq - 1].command != events[seq].command
        with Engine.open(path, city=CITY, clock=ManualClock()) as again:
            assert again.load_report.snapshot == seq
            assert again.snapshot() == replayed(path).snapshot()

    def test_snapshot_is_json_with_a_header(self, tmp_path: Path) -> None:
        """The stored snapshot is a JSON header line and a JSON state, nothing else."""
        path = tmp_path / "j.sqlite"
        engine, _ = written(path)
        engine.close()
        journal = SqliteJournal(path)
        latest = journal.latest_snapshot()
        journal.close()
        assert latest is not None
        head, _, body = latest[1].partition(b"\n")
        header = json.loads(head)
        assert header["format"] == "gridgov.snapshot"
        assert header["version"] == SNAPSHOT_VERSION
        assert header["seq"] == latest[0]
        state = json.loads(body)
        assert {"state", "keys"} <= set(state)
        assert state["keys"] == 1


class TestNeverTrustedBlindly:
    """A snapshot that cannot be trusted is ignored, reported, and the events replayed."""

    @pytest.mark.parametrize(
        "damage",
        ["pickle", "version", "digest", "beyond", "malformed", "keys", "garbage"],
    )
    def test_untrusted_snapshot_is_ignored(
        self, tmp_path: Path, damage: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Each kind of bad snapshot leads to a full replay, never to its state."""
        path = tmp_path / "j.sqlite"
        engine, _ = written(path)
        live = engine.snapshot()
        total = len(engine.journal)
        engine.close()
        journal = SqliteJournal(path)
        latest = journal.latest_snapshot()
        journal.close()
        assert latest is not None
        seq, blob = latest
        marker = tmp_path / "executed"
        head, _, body = blob.partition(b"\n")
        header = json.loads(head)
        if damage == "pickle":
            # What an older gridgov wrote, crafted to run a command when unpickled.
            class Payload:
                def __reduce__(self) -> tuple[object, tuple[str]]:
                    return (marker.touch, ())  # type: ignore[return-value]

            blob = pickle.dumps(Payload())
        elif damage == "version":
            header["version"] = SNAPSHOT_VERSION + 1
            blob = json.dumps(header).encode() + b"\n" + body
        elif damage == "digest":
            blob = head + b"\n" + body.replace(b'"commands":', b'"commands": ')
        elif damage == "beyond":
            seq = total + 5
            header["seq"] = seq
            blob = json.dumps(header).encode() + b"\n" + body
        elif damage == "malformed":
            state = json.loads(body)
            state["state"]["roster"]["posts"] = [["only", "three", "fields"]]
            blob = encode_snapshot(seq, state)
        elif damage == "keys":
            state = json.loads(body)
            state["keys"] = 0
            blob = encode_snapshot(seq, state)
        else:
            blob = b"\x00\xff" * 50
        replace_snapshot(path, seq, blob)
        with Engine.open(path, city=CITY, clock=ManualClock()) as again:
            assert again.load_report.snapshot == 0
            assert again.load_report.replayed == total
            assert again.load_report.ignored
            assert again.snapshot() == live
        assert not marker.exists()

    def test_decode_refuses_a_snapshot_of_another_seq(self) -> None:
        """A snapshot stored under one seq but saying another is refused."""
        blob = encode_snapshot(7, {"state": {}})
        assert decode_snapshot(blob, 7) == {"state": {}}
        with pytest.raises(JournalError, match="covers 7"):
            decode_snapshot(blob, 8)

"""The durable journal, retry-safe commands, subscribers, CloudEvents, threads and crashes."""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import signal
import sqlite3
import threading
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridgov import (
    AuthorityError,
    Engine,
    Event,
    GridgovError,
    JournalError,
    ManualClock,
    Rules,
)
from gridgov.cloudevents import to_cloudevent, to_cloudevent_json
from gridgov.journal import CommandRecord, MemoryJournal, SqliteJournal
from gridgov.presets import small
from processes import fork_writer

CITY = small()
COMPOUNDS = sorted(CITY.compounds)
EAST = "990101001001"
WEST = "990101001002"
VILLAGE = "990101201201"
STREET = "990101001"
TOWNSHIP = "990101201"
START = datetime(2022, 9, 17, tzinfo=UTC)
HOUR = timedelta(hours=1)


def state_of(engine: Engine) -> dict[str, Any]:
    """The engine's state without the command counter (ids differ after a retried advance)."""
    return {k: v for k, v in engine.snapshot().items() if k != "commands"}


def event(seq: int, /, **data: Any) -> Event:
    return Event(
        seq=seq,
        time=START,
        type="zone.changed",
        unit="u",
        command="c000001",
        actor="system",
        cause="test",
        old="open",
        new="sealed",
        data=data,
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**9), 10**9)
    | st.text(max_size=10)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False


class TestEventRecords:
    """Events serialise to JSON with a schema version and read back equal."""

    @given(st.dictionaries(st.text(max_size=8), json_values, max_size=4))
    def test_round_trip(self, data: dict[str, Any]) -> None:
        """Any JSON-friendly data survives to_json/from_json unchanged."""
        original = event(7, **data)
        assert Event.from_json(original.to_json()) == original

    @given(st.dictionaries(st.text(max_size=8), json_values, max_size=4))
    def test_same_record_as_the_standard_library(self, data: dict[str, Any]) -> None:
        """The fast encoder writes what compact ``json.dumps`` wrote before: the same
        values, and the same text but for how floats are spelled (``1e16`` or
        ``1e+16``, ``0.0000610`` or ``6.10e-05``: the same numbers)."""
        original = event(7, **data)
        expected = json.dumps(original.to_dict(), ensure_ascii=False, separators=(",", ":"))
        text = original.to_json()
        assert json.loads(text) == json.loads(expected)
        if not _has_float(data):
            assert text == expected

    def test_what_orjson_cannot_encode(self) -> None:
        """Integer keys become strings and huge integers survive exactly, as with ``json``."""
        original = event(3, big=2**70, negative=-(2**64), nested=[{"x": 2**65}])
        text = original.to_json()
        assert '"big":1180591620717411303424' in text
        assert Event.from_json(text).data == {
            "big": 2**70,
            "negative": -(2**64),
            "nested": [{"x": 2**65}],
        }
        keyed = Event.from_json(event(4, table={1: "a"}).to_json())
        assert keyed.data == {"table": {"1": "a"}}

    def test_not_json_numbers(self) -> None:
        """NaN is not JSON: written as null; an old record holding NaN still reads."""
        assert '"x":null' in event(5, x=float("nan")).to_json()
        old = event(6).to_json().replace('"data":{}', '"data":{"x":NaN}')
        assert math.isnan(Event.from_json(old).data["x"])

    def test_schema_version_in_every_record(self) -> None:
        """Each record carries v=1; another version is refused with a JournalError."""
        record = json.loads(event(1).to_json())
        assert record["v"] == 1
        record["v"] = 99
        with pytest.raises(JournalError, match="schema version 99"):
            Event.from_dict(record)

    @pytest.mark.parametrize("text", ["", "[]", "{}", '{"v": 1}', "not json"])
    def test_malformed_records(self, text: str) -> None:
        """A record that is not an event is a JournalError, never a KeyError."""
        with pytest.raises(JournalError):
            Event.from_json(text)


class TestSqliteJournal:
    """The SQLite store: append-only, one transaction per command, gap-free."""

    def test_stream_reads_in_chunks(self, tmp_path: Path) -> None:
        """A stream gives the events of since(), whatever the chunk size, in order."""
        journal = SqliteJournal(tmp_path / "j.sqlite")
        journal.append([event(1), event(2, a=1), event(3)])
        journal.append([event(4, b="x"), event(5)])
        memory = MemoryJournal()
        memory.append(journal.since(0))
        for chunk in (1, 2, 3, 10):
            for seq in (0, 2, 5):
                assert list(journal.stream(seq, chunk)) == journal.since(seq)
                assert list(memory.stream(seq)) == journal.since(seq)
        journal.close()

    def test_append_and_read(self, tmp_path: Path) -> None:
        """Events come back in order, by range, by command and by filter."""
        journal = SqliteJournal(tmp_path / "j.sqlite")
        journal.append([event(1), event(2)], CommandRecord("k", "f", "c000001", 1, 2))
        journal.append([event(3)])
        assert [e.seq for e in journal] == [1, 2, 3]
        assert [e.seq for e in journal.between(2, 3)] == [2, 3]
        assert journal.lookup("k") == CommandRecord("k", "f", "c000001", 1, 2)
        assert journal.lookup("other") is None
        assert journal[-1].seq == 3
        journal.close()
        again = SqliteJournal(tmp_path / "j.sqlite")
        assert len(again) == 3
        assert again.next_seq == 4

    def test_wal_mode(self, tmp_path: Path) -> None:
        """The store runs in WAL mode."""
        SqliteJournal(tmp_path / "j.sqlite").close()
        with closing(sqlite3.connect(tmp_path / "j.sqlite")) as db, db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    def test_gap_is_refused_and_nothing_written(self, tmp_path: Path) -> None:
        """A batch that does not continue the sequence is refused whole."""
        journal = SqliteJournal(tmp_path / "j.sqlite")
        with pytest.raises(JournalError, match="expected 2"):
            journal.append([event(1), event(3)])
        assert len(journal) == 0

    def test_duplicate_key_is_refused_and_nothing_written(self, tmp_path: Path) -> None:
        """A failing write rolls back the whole command: events and key together."""
        journal = SqliteJournal(tmp_path / "j.sqlite")
        journal.append([event(1)], CommandRecord("k", "f", "c1", 1, 1))
        with pytest.raises(JournalError, match="cannot write"):
            journal.append([event(2)], CommandRecord("k", "f", "c2", 2, 2))
        assert len(journal) == 1
        assert len(SqliteJournal(tmp_path / "j.sqlite")) == 1

    def test_not_a_database(self, tmp_path: Path) -> None:
        """A file that is not SQLite is a JournalError naming it."""
        path = tmp_path / "junk.sqlite"
        path.write_bytes(b"this is not a database" * 100)
        with pytest.raises(JournalError, match=r"junk\.sqlite"):
            SqliteJournal(path)

    def test_corrupted_last_page(self, tmp_path: Path) -> None:
        """Garbage in the last page (the snapshot written on close) is never believed:
        the snapshot is ignored, reported, and the events are replayed instead."""
        path = tmp_path / "j.sqlite"
        with Engine.open(path, city=CITY, clock=ManualClock()) as engine:
            for compound in COMPOUNDS:
                engine.report_case(compound)
            live = engine.snapshot()
        size = path.stat().st_size
        with path.open("r+b") as handle:
            handle.seek(size - 4096)
            handle.write(b"\xff" * 4096)
        with Engine.open(path, city=CITY, clock=ManualClock()) as reopened:
            assert reopened.load_report.snapshot == 0
            assert "digest" in str(reopened.load_report.ignored)
            assert reopened.snapshot() == live

    def test_corrupted_event_page(self, tmp_path: Path) -> None:
        """Garbage in a page of events makes opening an engine a clear JournalError."""
        path = tmp_path / "j.sqlite"
        engine = Engine.open(path, city=CITY, clock=ManualClock())
        for compound in COMPOUNDS:
            engine.report_case(compound)
        engine._kernel.journal.close()  # no snapshot: the last pages hold events
        size = path.stat().st_size
        with path.open("r+b") as handle:
            handle.seek(size - 4096)
            handle.write(b"\xff" * 4096)
        with pytest.raises(JournalError):
            Engine.open(path, city=CITY, clock=ManualClock())

    def test_truncated_file(self, tmp_path: Path) -> None:
        """A journal cut short is a JournalError, never a bare sqlite3 error."""
        path = tmp_path / "j.sqlite"
        with Engine.open(path, city=CITY, clock=ManualClock()) as engine:
            for compound in COMPOUNDS:
                engine.report_case(compound)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(JournalError):
            Engine.open(path, city=CITY, clock=ManualClock())

    def test_bad_synchronous(self, tmp_path: Path) -> None:
        """An unknown synchronous setting is refused before anything is created."""
        with pytest.raises(JournalError, match="synchronous"):
            SqliteJournal(tmp_path / "j.sqlite", synchronous="SOMETIMES")
        assert not (tmp_path / "j.sqlite").exists()


class TestEngineOpen:
    """Engine.open replays a durable journal to the exact state."""

    def test_reopen_gives_the_same_state(self, tmp_path: Path) -> None:
        """After closing and reopening, the state and deadlines are the same."""
        path = tmp_path / "j.sqlite"
        clock = ManualClock()
        engine = Engine.open(path, city=CITY, clock=clock)
        engine.report_case(COMPOUNDS[0])
        engine.declare(VILLAGE, "controlled")
        engine.advance(clock.now() + timedelta(days=15))
        before = engine.snapshot()
        engine.close()
        again = Engine.open(path, city=CITY, clock=clock)
        assert again.snapshot() == before
        assert again.next_deadline() == engine.next_deadline()

    def test_snapshots_are_used_and_agree_with_full_replay(self, tmp_path: Path) -> None:
        """With frequent snapshots, reopening (snapshot + tail) equals replaying everything."""
        path = tmp_path / "j.sqlite"
        clock = ManualClock()
        engine = Engine.open(path, city=CITY, clock=clock, snapshot_every=150)
        for i, compound in enumerate(COMPOUNDS * 3):
            clock.advance(HOUR * (i + 1))
            engine.report_case(compound)
            if i % 4 == 0:
                engine.lift(TOWNSHIP)
        engine.advance(clock.now() + timedelta(days=1))
        engine._kernel.journal.close()  # no final snapshot: the tail must be replayed
        journal = SqliteJournal(path)
        snapshot = journal.latest_snapshot()
        assert snapshot is not None
        assert 0 < snapshot[0] < len(journal)
        full = Engine.replay(CITY, list(journal), clock=clock)
        journal.close()
        reopened = Engine.open(path, city=CITY, clock=clock)
        assert reopened.snapshot() == full.snapshot()

    def test_other_rules_are_refused(self, tmp_path: Path) -> None:
        """A journal opened with other rules than it was written with is refused."""
        path = tmp_path / "j.sqlite"
        Engine.open(path, city=CITY).close()
        with pytest.raises(JournalError, match="rules"):
            Engine.open(path, city=CITY, rules=Rules(override_levels_above=1))

    def test_other_city_is_refused(self, tmp_path: Path) -> None:
        """A journal of one city cannot be opened for another."""
        path = tmp_path / "j.sqlite"
        Engine.open(path, city=CITY).close()
        with pytest.raises(JournalError, match="city"):
            Engine.open(path, city=small(seed=5))

    def test_events_naming_unknown_units(self) -> None:
        """Replaying events about units the city lacks is a JournalError naming the unit."""
        bad = Event(
            seq=1,
            time=START,
            type="zone.changed",
            unit="ghost",
            command="c000001",
            actor="system",
            old="open",
            new="sealed",
            data={"due": None},
        )
        with pytest.raises(JournalError, match="ghost"):
            Engine.replay(CITY, [bad])


class TestIdempotency:
    """A command repeated with the same key returns the first result and records nothing."""

    def test_repeat_returns_first_result(self) -> None:
        """Same key, same command: the same events, no new ones."""
        engine = Engine(CITY, clock=ManualClock())
        first = engine.report_case(COMPOUNDS[0], key="case-1")
        length = len(engine.journal)
        again = engine.report_case(COMPOUNDS[0], key="case-1")
        assert again == first
        assert len(engine.journal) == length

    def test_key_reused_for_another_command(self) -> None:
        """The same key with different arguments is refused, naming both."""
        engine = Engine(CITY, clock=ManualClock())
        engine.report_case(COMPOUNDS[0], key="k")
        with pytest.raises(GridgovError, match="idempotency key 'k' was used for report_case"):
            engine.report_case(COMPOUNDS[1], key="k")

    def test_command_that_changed_nothing(self) -> None:
        """A keyed command with no events is remembered too."""
        engine = Engine(CITY, clock=ManualClock())
        first = engine.advance(key="tick")
        assert first.events == ()
        engine.report_case(COMPOUNDS[0])
        assert engine.advance(key="tick").command == first.command

    def test_keys_survive_a_restart(self, tmp_path: Path) -> None:
        """After reopening, a retried command is still recognised."""
        path = tmp_path / "j.sqlite"
        clock = ManualClock()
        with Engine.open(path, city=CITY, clock=clock) as engine:
            first = engine.declare(WEST, key="seal-west")
        with Engine.open(path, city=CITY, clock=clock) as engine:
            length = len(engine.journal)
            assert engine.declare(WEST, key="seal-west") == first
            assert len(engine.journal) == length

    def test_advance_with_several_due_times(self) -> None:
        """A keyed advance that committed in several batches returns all of them on retry."""
        clock = ManualClock()
        engine = Engine(CITY, clock=clock)
        engine.report_case(COMPOUNDS[0])
        target = clock.now() + timedelta(days=60)
        first = engine.advance(target, key="a")
        assert len({e.time for e in first.events}) > 1
        assert engine.advance(target, key="a") == first


class TestSubscribers:
    """Subscribers get each committed event; their failures never undo a commit."""

    def test_events_delivered_in_order(self) -> None:
        """A subscriber sees every event of a command, in sequence order, after commit."""
        engine = Engine(CITY, clock=ManualClock())
        seen: list[tuple[int, str]] = []
        engine.subscribe(lambda e: seen.append((e.seq, engine.zone(COMPOUNDS[0]))))
        result = engine.report_case(COMPOUNDS[0])
        assert [s for s, _ in seen] == [e.seq for e in result.events]
        assert {z for _, z in seen} == {"sealed"}  # delivered after the state changed

    def test_failing_subscriber_is_isolated(self, caplog: pytest.LogCaptureFixture) -> None:
        """An exception in one subscriber is logged and kept; others still get the event."""
        engine = Engine(CITY, clock=ManualClock())

        def broken(_: Event) -> None:
            raise RuntimeError("host is down")

        got: list[int] = []
        engine.subscribe(broken)
        engine.subscribe(lambda e: got.append(e.seq))
        result = engine.report_case(COMPOUNDS[0])
        assert engine.zone(COMPOUNDS[0]) == "sealed"
        assert got == [e.seq for e in result.events]
        assert len(engine.delivery_errors) == len(result.events)
        assert isinstance(engine.delivery_errors[0][2], RuntimeError)
        assert "subscriber" in caplog.text

    def test_filter_and_unsubscribe(self) -> None:
        """types= filters; the returned function unsubscribes."""
        engine = Engine(CITY, clock=ManualClock())
        modes: list[str] = []
        stop = engine.subscribe(lambda e: modes.append(e.unit), types=["mode.changed"])
        engine.report_case(COMPOUNDS[0])
        assert modes
        assert all(CITY.chain.level(u) == "community" for u in modes)
        stop()
        count = len(modes)
        engine.declare(VILLAGE)
        assert len(modes) == count

    def test_refusals_are_delivered(self) -> None:
        """A refused command's audit event reaches subscribers too."""
        engine = Engine(CITY, clock=ManualClock())
        seen: list[str] = []
        engine.subscribe(lambda e: seen.append(e.type))
        with pytest.raises(AuthorityError):
            engine.declare(EAST, actor=TOWNSHIP)
        assert seen == ["command.refused"]


class TestCloudEvents:
    """Events convert to CloudEvents 1.0 structured-mode JSON."""

    def test_required_attributes(self) -> None:
        """specversion, id, source, type, time, subject and data are set as the spec says."""
        engine = Engine(CITY, clock=ManualClock())
        result = engine.report_case(COMPOUNDS[0])
        sealed = result.changes("zone.changed")[0]
        cloud = json.loads(to_cloudevent_json(sealed, engine.source))
        assert cloud["specversion"] == "1.0"
        assert cloud["id"] == str(sealed.seq)
        assert cloud["source"] == "/gridgov/990100"
        assert cloud["type"] == "org.gridgov.zone.changed.v1"
        assert cloud["subject"] == COMPOUNDS[0]
        assert cloud["datacontenttype"] == "application/json"
        assert datetime.fromisoformat(cloud["time"]).utcoffset() is not None
        assert cloud["data"]["old"] == "open"
        assert cloud["data"]["new"] == "sealed"
        assert cloud["data"]["command"] == result.command

    def test_every_event_converts(self) -> None:
        """Every kind of event the engine records is valid JSON as a CloudEvent."""
        clock = ManualClock()
        engine = Engine(CITY, clock=clock)
        engine.report_case(COMPOUNDS[0])
        engine.advance(clock.now() + timedelta(days=60))
        types = set()
        for recorded in engine.journal:
            cloud = to_cloudevent(recorded, engine.source)
            json.dumps(cloud)
            assert set(cloud) >= {"specversion", "id", "source", "type"}
            types.add(cloud["type"])
        assert "org.gridgov.post.assigned.v1" in types


class TestThreads:
    """Commands from many threads are serialised; the journal has no gaps."""

    def test_eight_threads(self) -> None:
        """8 threads of random commands leave a gap-free journal and consistent state."""
        engine = Engine(CITY, clock=ManualClock())
        errors: list[BaseException] = []

        def worker(seed: int) -> None:
            rng = random.Random(seed)
            for _ in range(40):
                try:
                    choice = rng.random()
                    if choice < 0.4:
                        engine.report_case(rng.choice(COMPOUNDS))
                    elif choice < 0.6:
                        engine.declare(rng.choice([EAST, WEST, VILLAGE]), "controlled")
                    elif choice < 0.8:
                        engine.lift(rng.choice([STREET, TOWNSHIP]), skip_recovery=True)
                    else:
                        engine.advance()
                except GridgovError:
                    pass
                except BaseException as exc:  # pragma: no cover - reported below
                    errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        seqs = [e.seq for e in engine.journal]
        assert seqs == list(range(1, len(seqs) + 1))
        # every command's events are contiguous: commands were serialised
        order = [e.command for e in engine.journal]
        finished: set[str] = set()
        for previous, current in itertools.pairwise(order):
            if current != previous:
                assert current not in finished, f"command {current} interleaved"
                finished.add(previous)
        holders = [p for hs in engine.roster.holders.values() for p in hs]
        assert len(holders) == len(set(holders)), "a person holds two posts"
        for community in CITY.chain.units("community"):
            zones = {engine.zone(c) for c in CITY.compounds_of(community)}
            assert (engine.mode(community) == "emergency") == bool(zones & {"sealed", "controlled"})
        assert Engine.replay(CITY, list(engine.journal)).snapshot() == engine.snapshot()


# ------------------------------------------------------------------ crashes

#: The scripted history the crash test writes, one command per hour.
SCRIPT: list[tuple[str, str]] = []
for _i, _compound in enumerate(COMPOUNDS * 200):
    SCRIPT.append(("case", _compound))
    if _i % 3 == 2:
        SCRIPT.append(("advance", ""))
    if _i % 5 == 4:
        SCRIPT.append(("lift", TOWNSHIP))
    if _i % 7 == 6:
        SCRIPT.append(("declare", WEST))


def run_script(engine: Engine, clock: ManualClock, report: int | None = None) -> None:
    """Issue the script with one idempotency key per step, the clock at step hours."""
    for step, (kind, unit) in enumerate(SCRIPT):
        when = START + HOUR * 20 * (step + 1)
        if clock.now() < when:
            clock.set(when)
        key = f"step-{step}"
        if kind == "case":
            engine.report_case(unit, key=key)
        elif kind == "advance":
            engine.advance(key=key)
        elif kind == "lift":
            engine.lift(unit, skip_recovery=True, key=key)
        else:
            engine.declare(unit, "controlled", key=key)
        if report is not None:
            os.write(report, f"{step}\n".encode())


def writer(path: Path, report: int) -> None:
    """The child: open the journal and write the script until killed."""
    clock = ManualClock()
    engine = Engine.open(path, city=CITY, clock=clock, snapshot_every=40)
    if engine.last_time is not None and clock.now() < engine.last_time:
        clock.set(engine.last_time)
    os.write(report, b"ready\n")
    run_script(engine, clock, report)
    os.write(report, b"done\n")


class TestCrash:
    """A writer killed at random points loses nothing committed and leaves nothing half-done."""

    @pytest.mark.slow
    def test_sigkill_fifty_times(self, tmp_path: Path) -> None:
        """SIGKILL at 50 random moments; after each reopen: state == replay, no committed
        command lost; in the end the history equals an uncrashed run's."""
        path = tmp_path / "crash.sqlite"
        rng = random.Random(2022)
        committed: set[int] = set()
        done = False
        kills = 0
        while kills < 50 or not done:
            pid, read = fork_writer(writer, path)
            killed = False
            received = b""
            if kills < 50:
                # Kill once the child has opened the journal, while it writes.
                while b"ready" not in received:
                    chunk = os.read(read, 4096)
                    if not chunk:
                        break
                    received += chunk
                time.sleep(rng.uniform(0.0, 0.03))
                os.kill(pid, signal.SIGKILL)
                killed = True
            os.waitpid(pid, 0)
            with os.fdopen(read, "rb") as rest:
                output = (received + rest.read()).decode().split()
            committed.update(int(x) for x in output if x.isdigit())
            done = done or "done" in output
            kills += killed
            journal = SqliteJournal(path)
            events = list(journal)
            keys = {f"step-{s}" for s in committed}
            missing = [k for k in keys if journal.lookup(k) is None]
            journal.close()
            assert missing == [], "a command reported committed was lost"
            reopened = Engine.open(path, city=CITY, clock=ManualClock())
            assert reopened.snapshot() == Engine.replay(CITY, events).snapshot()
            reopened._kernel.journal.close()
        clock = ManualClock()
        reference = Engine(CITY, clock=clock)
        run_script(reference, clock)
        final = Engine.open(path, city=CITY, clock=ManualClock())
        assert state_of(final) == state_of(reference)
        final._kernel.journal.close()


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(COMPOUNDS), st.sampled_from([EAST, "nowhere", STREET]))
def test_unknown_units_change_nothing(compound: str, target: str) -> None:
    """Commands naming unknown units raise a gridgov error and change no state."""
    engine = Engine(CITY, clock=ManualClock())
    engine.report_case(compound)
    before, length = engine.snapshot(), len(engine.journal)
    with pytest.raises(GridgovError):
        engine.declare(target + "-missing")
    with pytest.raises(GridgovError):
        engine.report_case("ghost-compound")
    assert engine.snapshot() == before
    # Each refusal is one audit event, nothing else.
    assert [e.type for e in list(engine.journal)[length:]] == ["command.refused"] * 2


def test_memory_journal_default() -> None:
    """Without a path the engine keeps its events in memory."""
    journal = Engine(CITY).journal
    assert not journal.durable
    assert journal.path is None


T0 = START


class TestEventShape:
    """An event is a named tuple of its fields that still answers attrs' functions."""

    def test_made_by_name_or_position_alike(self) -> None:
        by_name = Event(seq=1, time=T0, type="a.b", unit="u", command="c1", actor="x")
        assert by_name == Event(1, T0, "a.b", "u", "c1", "x", "", None, None, {})
        assert by_name.data == {}
        assert by_name.cause == ""
        other = Event(seq=2, time=T0, type="a.b", unit="u", command="c1", actor="x")
        assert other.data is not by_name.data  # a fresh dict each, never shared

    def test_immutable(self) -> None:
        event = Event(1, T0, "a.b", "u", "c1", "x")
        with pytest.raises(AttributeError):
            event.seq = 2  # type: ignore[misc]

    def test_attrs_functions_still_work(self) -> None:
        event = Event(1, T0, "a.b", "u", "c1", "x", "why", "old", "new", {"k": 1})
        moved = attrs.evolve(event, seq=7)  # type: ignore[misc]
        assert type(moved) is Event
        assert moved.seq == 7
        assert moved.data == {"k": 1}
        names = list(Event._fields)
        assert [f.name for f in attrs.fields(Event)] == names  # type: ignore[arg-type]
        assert attrs.has(Event)
        assert attrs.asdict(event)["cause"] == "why"  # type: ignore[arg-type]

    def test_pickles_and_round_trips(self) -> None:
        import pickle

        event = Event(3, T0, "a.b", "u", "c1", "x", "why", None, "n", {"k": [1, 2]})
        assert pickle.loads(pickle.dumps(event)) == event
        assert Event.from_json(event.to_json()) == event
        assert Event.from_dict(event.to_dict()) == event

"""Public reads take the engine's lock: 4 reader and 4 writer threads (issue 18, item 6)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from gridgov import Engine, GridgovError, ManualClock, SqliteJournal
from gridgov.model import PersonKind
from gridgov.presets import small
from gridgov.testing import cap_message, check_invariants

CITY = small()
COMPOUNDS = sorted(CITY.compounds)
PEOPLE = sorted(CITY.people)


def four_readers_four_writers(
    read: Callable[[], None], write: Callable[[int], None], stop: threading.Event
) -> None:
    """Run ``read`` on four threads and ``write(n)`` on four more; stop the readers
    (``stop``) once every writer is done."""
    readers = [threading.Thread(target=read) for _ in range(4)]
    writers = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in readers:
        thread.join()


def test_four_readers_four_writers() -> None:
    clock = ManualClock()
    engine = Engine(CITY, clock=clock)
    errors: list[BaseException] = []
    stop = threading.Event()

    def write(n: int) -> None:
        try:
            for i in range(60):
                compound = COMPOUNDS[(n * 7 + i) % len(COMPOUNDS)]
                with contextlib.suppress(GridgovError):
                    if i % 4 == 0:
                        engine.report_case(compound)
                    elif i % 4 == 1:
                        engine.lift(compound, skip_recovery=True)
                    elif i % 4 == 2:
                        engine.set_availability({"volunteer": 0.1 * (i % 5)}, seed=i)
                    else:
                        engine.staff()
        except BaseException as exc:
            errors.append(exc)

    def read() -> None:
        try:
            while not stop.is_set():
                engine.posts_report()
                engine.response_counts()
                engine.snapshot()
                engine.zones()
                engine.modes()
                for person in PEOPLE[:20]:
                    engine.doing(person)
                for compound in COMPOUNDS[:5]:
                    engine.commander_of(compound)
        except BaseException as exc:
            errors.append(exc)

    four_readers_four_writers(read, write, stop)
    assert errors == []
    clock.advance(timedelta(hours=1))
    check_invariants(engine)


def test_views_under_four_readers_four_writers() -> None:
    """engine.roster, engine.tickets, engine.alert_book, engine.boards, engine.reviews
    and engine.pools read while four writers run the whole command mix (tickets, tasks,
    alerts): no reader ever fails, and every view is consistent with itself."""
    clock = ManualClock()
    engine = Engine(CITY, clock=clock)
    community = CITY.chain.community_of(COMPOUNDS[0])
    members = sorted(
        p.id
        for p in CITY.people.values()
        if p.kind.value == "in_service_member" and p.home == community
    )
    errors: list[BaseException] = []
    stop = threading.Event()
    reads = [0]

    def write(n: int) -> None:
        try:
            for i in range(40):
                compound = COMPOUNDS[(n * 5 + i) % len(COMPOUNDS)]
                with contextlib.suppress(GridgovError):
                    step = (n + i) % 6
                    if step == 0:
                        engine.report_case(compound)
                    elif step == 1:
                        engine.open_ticket(compound, "medicine", description=f"w{n} {i}")
                    elif step == 2:
                        tickets = [t.id for t in engine.tickets if t.state == "accepted"]
                        if tickets:
                            engine.handle_ticket(tickets[0], "classify")
                    elif step == 3:
                        task = engine.post_task(community, "medicine_delivery", capacity=3)
                        engine.claim(task.events[0].data["post"], members[(n + i) % len(members)])
                    elif step == 4:
                        engine.hand_back(members[(n + i) % len(members)])
                    else:
                        when = clock.now() - timedelta(minutes=1)
                        xml = cap_message(f"A{n}-{i}", when, areas=[("x", [compound])])
                        engine.receive_alert(xml)
        except BaseException as exc:
            errors.append(exc)

    def read() -> None:
        try:
            while not stop.is_set():
                roster = engine.roster
                for person, (assignment, _) in roster.assignment.items():
                    assert person in roster.holders[assignment.post]
                for post in roster.posts.values():
                    len(roster.holders.get(post.id, ()))
                tickets = list(engine.tickets)
                assert len({t.id for t in tickets}) == len(tickets)
                len(engine.tickets)
                book = engine.alert_book
                for key in list(book.chains):
                    book.chain_of(key)
                book.live()
                assert isinstance(engine.reviews, list)
                modes, zones = engine.boards
                modes.states_of()
                zones.states_of()
                engine.pools.candidates("community", community, PersonKind.IN_SERVICE_MEMBER)
                reads[0] += 1
        except BaseException as exc:
            errors.append(exc)

    four_readers_four_writers(read, write, stop)
    assert errors == []
    assert reads[0] > 0
    assert len(engine.tickets) > 0
    check_invariants(engine)


@pytest.mark.parametrize("durable", [False, True], ids=["memory", "sqlite"])
def test_journal_reads_see_whole_commands(durable: bool, tmp_path: Path) -> None:
    """engine.journal read by four threads while four write: every read sees whole
    commands only (each command's events all there, or none of them)."""
    clock = ManualClock()
    journal = SqliteJournal(tmp_path / "j.db") if durable else None
    engine = Engine(CITY, clock=clock, journal=journal)
    errors: list[BaseException] = []
    stop = threading.Event()
    seen: list[list[tuple[str, int]]] = []

    def write(n: int) -> None:
        try:
            for i in range(40):
                compound = COMPOUNDS[(n * 3 + i) % len(COMPOUNDS)]
                with contextlib.suppress(GridgovError):
                    if i % 2 == 0:
                        engine.report_case(compound)
                    else:
                        engine.lift(compound, skip_recovery=True)
        except BaseException as exc:
            errors.append(exc)

    def read() -> None:
        try:
            while not stop.is_set():
                journal = engine.journal
                events = list(journal)
                seen.append([(e.command, e.seq) for e in events])
                assert [e.seq for e in events] == list(range(1, len(events) + 1))
                journal.since(max(0, len(events) - 5))
                len(journal)
        except BaseException as exc:
            errors.append(exc)

    four_readers_four_writers(read, write, stop)
    assert errors == []
    per_command: dict[str, int] = {}
    for event in engine.journal:
        per_command[event.command] = per_command.get(event.command, 0) + 1
    assert len(seen) > 0
    for read_ in seen:
        counts: dict[str, int] = {}
        for command, _ in read_:
            counts[command] = counts.get(command, 0) + 1
        assert all(counts[c] == per_command[c] for c in counts)


def test_journal_reads_wait_for_the_running_command() -> None:
    """A read of engine.journal waits while a command holds the engine's lock."""
    engine = Engine(CITY, clock=ManualClock())
    engine.report_case(COMPOUNDS[0])
    done = threading.Event()

    def read() -> None:
        len(engine.journal)
        list(engine.journal)
        done.set()

    lock = engine._kernel.lock  # what every command holds while it runs
    with lock:
        reader = threading.Thread(target=read)
        reader.start()
        assert not done.wait(0.3)
    assert done.wait(10)
    reader.join()


def test_a_caller_command_id_may_label_several_commands(tmp_path: Path) -> None:
    """command_id is a label: two commands under one id both apply, select finds both,
    and the journal reopens to the same state (the key, not the id, de-duplicates)."""
    path = tmp_path / "j.db"
    engine = Engine(CITY, clock=ManualClock(), journal=SqliteJournal(path))
    first = engine.report_case(COMPOUNDS[0], command_id="trace-1")
    second = engine.report_case(COMPOUNDS[5], command_id="trace-1")
    labelled = engine.journal.select(command="trace-1")
    assert [e.seq for e in labelled] == [e.seq for e in first.events + second.events]
    state = engine.snapshot()
    engine.close()
    reopened = Engine.open(path, city=CITY, clock=ManualClock())
    assert reopened.snapshot() == state
    assert len(reopened.journal.select(command="trace-1")) == len(labelled)

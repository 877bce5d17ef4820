"""One transaction per command, advance included (issue 18, item 2)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from gridgov import Engine, ManualClock
from gridgov.errors import JournalError
from gridgov.journal import SqliteJournal
from gridgov.presets import small

CITY = small()
COMPOUNDS = sorted(CITY.compounds)
DAY = timedelta(days=1)


def test_advance_over_many_due_times_is_one_append(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An advance past several due times writes its events and key in one append."""
    clock = ManualClock()
    engine = Engine.open(tmp_path / "j.sqlite", city=CITY, clock=clock)
    start = clock.now()
    engine.report_case(COMPOUNDS[0])
    calls: list[int] = []
    real = SqliteJournal.append

    def counting(self: SqliteJournal, events: object, record: object = None) -> None:
        calls.append(len(events))  # type: ignore[arg-type]
        real(self, events, record)  # type: ignore[arg-type]

    monkeypatch.setattr(SqliteJournal, "append", counting)
    result = engine.advance(start + 100 * DAY, key="adv")
    times = {e.time for e in result.events}
    assert len(times) >= 3  # several due times ...
    assert calls == [len(result.events)]  # ... one append
    record = engine.journal.lookup("adv")
    assert record is not None
    assert (record.first, record.last) == (result.events[0].seq, result.events[-1].seq)
    engine.close()


def test_a_failed_advance_leaves_nothing_and_the_retry_applies_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the journal write fails, no event, no state and no key of the advance remain;
    the retry under the same key applies it whole, and a second retry adds nothing."""
    path = tmp_path / "j.sqlite"
    clock = ManualClock()
    engine = Engine.open(path, city=CITY, clock=clock)
    start = clock.now()
    engine.report_case(COMPOUNDS[0])
    before, count = engine.snapshot(), len(engine.journal)
    real = SqliteJournal.append

    def failing(self: SqliteJournal, events: object, record: object = None) -> None:
        raise JournalError("disk full (injected)")

    monkeypatch.setattr(SqliteJournal, "append", failing)
    with pytest.raises(JournalError, match="injected"):
        engine.advance(start + 100 * DAY, key="adv")
    monkeypatch.setattr(SqliteJournal, "append", real)
    assert engine.snapshot() == before
    assert len(engine.journal) == count
    assert engine.journal.lookup("adv") is None
    first = engine.advance(start + 100 * DAY, key="adv")
    assert first.events
    after = len(engine.journal)
    again = engine.advance(start + 100 * DAY, key="adv")
    assert again == first
    assert len(engine.journal) == after
    live = engine.snapshot()
    engine.close()
    with Engine.open(path, city=CITY, clock=ManualClock()) as reopened:
        assert reopened.snapshot() == live

"""A command's columns are handed on, not copied (issue 15 item 4).

The staffing planner's largest :class:`~gridgov.records.RecordColumns` become
the command's event columns (``gridgov._kernel._columns``), and the memory
journal keeps each command's events as the command made them until it is
read (:class:`~gridgov.journal.MemoryJournal`). Each is checked here against
the plain form it stands for: the records concatenated in order, and a
journal that copies every command's events as they come.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from gridgov import Engine, ManualClock, Rules
from gridgov._kernel import _columns
from gridgov.journal import Event, Events, MemoryJournal
from gridgov.presets import jiamusi
from gridgov.records import RecordColumns

T0 = datetime(2021, 9, 17, tzinfo=UTC)


def _record(n: int) -> tuple[Any, ...]:
    return (T0 + timedelta(minutes=n), f"kind{n % 3}", f"u{n}", f"c{n}", None, f"n{n}", {"n": n})


def _in_columns(records: list[tuple[Any, ...]], planned: object) -> RecordColumns:
    fields = [list(column) for column in zip(*records, strict=True)] or [[] for _ in range(7)]
    return RecordColumns(*fields, planned=planned)  # type: ignore[arg-type, misc]


#: A part: records one at a time (False) or in columns (True), and how many.
_PARTS = st.lists(st.tuples(st.booleans(), st.integers(0, 6), st.booleans()), max_size=7)


class TestCommitColumns:
    """The commit's columns are the records in order, the largest columns' lists kept."""

    @given(_PARTS)
    def test_the_columns_are_the_records_in_order(
        self, shape: list[tuple[bool, int, bool]]
    ) -> None:
        """Any mix of single records and columns gives the records' fields in order, and
        each columns' planned data with the indices of its records."""
        given_records: list[Any] = []
        plain: list[tuple[Any, ...]] = []
        expected_planned = []
        number = 0
        for index, (columns, size, with_plan) in enumerate(shape):
            records = [_record(number + i) for i in range(size)]
            number += size
            if columns:
                plan = ("plan", index) if with_plan else None
                if plan is not None:
                    expected_planned.append((len(plain), len(plain) + size, plan))
                given_records.append(_in_columns(records, plan))
            else:
                given_records += records
            plain += records
        planned: list[Any] = []
        got = _columns(iter(given_records), planned)
        expected = tuple(list(column) for column in zip(*plain, strict=True)) or ([],) * 7
        assert tuple(got) == expected
        assert planned == expected_planned

    def test_the_largest_columns_lists_are_taken_as_they_are(self) -> None:
        """The largest columns' lists are the result's (no copy), the others' are not."""
        small = _in_columns([_record(0)], None)
        large = _in_columns([_record(n) for n in range(1, 5)], None)
        got = _columns([_record(9), small, large, _record(10)], [])
        assert got[2] is large.units
        assert got[6] is large.datas
        assert got[2] is not small.units
        assert got[2] == ["u9", "u0", "u1", "u2", "u3", "u4", "u10"]

    def test_a_list_given_for_two_fields_is_copied(self) -> None:
        """Columns sharing one list for two fields are not extended twice over."""
        nothing: list[Any] = [None, None]
        shared = RecordColumns(
            [T0, T0], ["k", "k"], ["u", "v"], ["c", "c"], nothing, nothing, [{}, {}]
        )
        got = _columns([_record(1), shared], [])
        assert got[4] == [None, None, None]
        assert got[5] == ["n1", None, None]
        assert nothing == [None, None]


def _event(seq: int) -> Event:
    return Event(seq, T0, "zone.changed", f"u{seq}", "c000001", "system", "", None, None, {})


class TestMemoryJournalPending:
    """A memory journal reads as if it had copied every command's events when appended."""

    @given(st.lists(st.tuples(st.integers(0, 4), st.booleans(), st.booleans()), max_size=8))
    def test_reads_as_the_events_appended(self, steps: list[tuple[int, bool, bool]]) -> None:
        """Appends of Events or of plain events, reads in between: every read gives the
        events appended so far, and a command's events are left as they were."""
        journal = MemoryJournal()
        plain: list[Event] = []
        results: list[tuple[Events, tuple[Event, ...]]] = []
        for size, as_events, read in steps:
            events = [_event(len(plain) + 1 + i) for i in range(size)]
            if as_events:
                kept = Events.of(events)
                journal.append(kept)
                results.append((kept, tuple(events)))
            else:
                journal.append(events)
            plain += events
            assert len(journal) == len(plain)
            assert journal.next_seq == len(plain) + 1
            if read:
                assert list(journal) == plain
        assert list(journal) == plain
        assert journal.since(0) == plain
        assert list(journal.replay(0)) == plain
        for kept, own in results:  # each command's result is still its own events
            assert kept == own
            assert len(kept._columns[0]) == len(own)

    def test_an_engines_journal_replays_to_its_state(self) -> None:
        """Declare and lift on a memory journal: a replay of it gives the live state."""
        city = jiamusi(scale=0.05)
        district = sorted(city.chain.units("district"))[0]
        engine = Engine(city, Rules(areas={"area": (district,)}), clock=ManualClock())
        declared = engine.declare("area")
        journal = engine._kernel.journal
        assert isinstance(journal, MemoryJournal)
        # The events kept, not the planner's data the reducer read beside them.
        assert declared.events._planned
        assert journal._pending
        assert not any(part._planned for part in journal._pending)
        engine.lift(city.chain.city, skip_recovery=True)
        engine.declare("area")
        assert len(journal) == journal.next_seq - 1 > len(declared.events) > 0
        again = Engine.replay(city, list(journal), Rules(areas={"area": (district,)}))
        assert again.snapshot() == engine.snapshot()
        assert list(journal)[: len(declared.events)] == list(declared.events)

"""gridgov.testing.check_invariants: holds along a mixed history, and notices breaks."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import timedelta

import pytest

from gridgov import Engine, GridgovError, ManualClock
from gridgov.journal import MemoryJournal
from gridgov.presets import small
from gridgov.testing import InvariantError, check_invariants

CITY = small()
COMPOUNDS = sorted(CITY.compounds)
COMMUNITY = CITY.chain.community_of(COMPOUNDS[0])


def test_invariants_hold_after_every_step() -> None:
    clock = ManualClock()
    engine = Engine(CITY, clock=clock)
    steps: list[Callable[[], object]] = [
        lambda: engine.report_case(COMPOUNDS[0]),
        lambda: engine.open_ticket(COMPOUNDS[0], "medicine"),
        lambda: engine.post_task(COMMUNITY, "medicine_delivery", capacity=2),
        lambda: engine.set_availability({"volunteer": 0.5}, seed=1),
        lambda: engine.staff(),
        lambda: engine.report_case(COMPOUNDS[-1]),
        lambda: engine.advance(clock.now() + timedelta(days=60)),
    ]
    check_invariants(engine)
    for step in steps:
        clock.advance(timedelta(hours=1))
        with contextlib.suppress(GridgovError):  # a refused step is part of the mix
            step()
        check_invariants(engine)
    assert set(engine.modes().values()) == {"normal"}


def test_a_journal_that_does_not_give_the_state_is_noticed() -> None:
    engine = Engine(CITY, clock=ManualClock())
    engine.report_case(COMPOUNDS[0])
    # The state moves on without the journal (what an engine must never allow).
    other = Engine(CITY, clock=ManualClock())
    other.report_case(COMPOUNDS[0])
    other.report_case(COMPOUNDS[1])
    engine._kernel.state = other._kernel.state
    with pytest.raises(InvariantError, match="replaying the journal"):
        check_invariants(engine)


def test_a_journal_with_an_interleaved_command_is_noticed() -> None:
    engine = Engine(CITY, clock=ManualClock())
    engine.report_case(COMPOUNDS[0])
    engine.report_case(COMPOUNDS[1])
    events = list(engine.journal)
    first = events[0]
    # The first command's event again at the end: its command is no longer contiguous.
    late = first._replace(seq=len(events) + 1)
    journal = MemoryJournal()
    journal.append([*events, late])
    engine._kernel.journal = journal
    with pytest.raises(InvariantError, match="not contiguous"):
        check_invariants(engine)

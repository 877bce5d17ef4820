"""``engine.roster``: a copy kept until an event changes the roster.

Events that leave the roster as it is (supplies, tickets, cases, measure
records without staffing) keep the same copy, so a reader such as the
simulation's closed loop sees that nothing changed; any staffing event, or a
state replayed, gives a new copy. Either way the copy handed out equals a
fresh copy of the live roster, in every mapping and in its order.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridgov import City, Engine, ManualClock
from gridgov.depots import synth_depots
from gridgov.errors import GridgovError
from gridgov.model import Level
from gridgov.staffing import STAFFING_EVENTS, Roster
from gridgov.supplies import SupplyNetwork, SupplyParams
from gridgov.supply_book import hands_at


def _exact(roster: Roster) -> list[Any]:
    """Everything a reader can see of a roster, orders included."""
    return [
        list(roster._posts.items()),
        list(roster.holders.items()),
        list(roster.assignment.items()),
        list(roster.back_since.items()),
        list(roster._shortfalls.items()),
        list(roster._drawn.items()),
        list(roster._hot.items()),
        roster._unavailable,
    ]


def _engine(city: City) -> Engine:
    network = SupplyNetwork(city, synth_depots(city), SupplyParams())
    return Engine(city, clock=ManualClock(), supplies=network)


def _check(engine: Engine) -> Roster:
    view = engine.roster
    assert _exact(view) == _exact(engine._kernel.state.roster._copy())
    return view


class TestKept:
    def test_supply_events_keep_the_copy(self, small_city: City) -> None:
        engine = _engine(small_city)
        engine.declare(small_city.chain.units(Level.STREET)[0], "sealed")
        before = _check(engine)
        result = engine.dispatch_supplies()
        assert result.events
        assert not {e.type for e in result.events} & STAFFING_EVENTS
        assert _check(engine) is before
        _check_hands(engine)

    def test_a_staffing_event_gives_a_new_copy(self, small_city: City) -> None:
        engine = _engine(small_city)
        before = _check(engine)
        result = engine.declare(small_city.chain.units(Level.STREET)[0], "sealed")
        assert {e.type for e in result.events} & STAFFING_EVENTS
        after = _check(engine)
        assert after is not before
        assert _exact(after) != _exact(before)

    def test_hands_follow_the_roster(self, small_city: City) -> None:
        """A dispatch after staffing changed plans with the new roster's hands."""
        engine = _engine(small_city)
        streets = small_city.chain.units(Level.STREET)
        engine.declare(streets[0], "sealed")
        engine.dispatch_supplies()
        first = _check_hands(engine)
        engine.declare(streets[1], "sealed")
        engine.dispatch_supplies()
        assert _check_hands(engine) != first

    def test_a_replayed_state_gives_a_new_copy(self, small_city: City) -> None:
        engine = _engine(small_city)
        engine.declare(small_city.chain.units(Level.STREET)[0], "sealed")
        before = _check(engine)
        engine._kernel.rebuild()
        after = _check(engine)
        assert after is not before
        assert _exact(after) == _exact(before)


def _check_hands(engine: Engine) -> dict[str, int]:
    """The hands the last dispatch planned with are what the live roster gives."""
    book = engine._kernel.state.supplies
    assert book is not None
    assert book._hands is not None
    params = book.network.params
    seats = (
        (unit, role, held)
        for role, unit, _, held in engine._kernel.state.roster._seats()
        if role in ("building_lead", "volunteer")
    )
    hands = hands_at(seats, params.building_lead_kg, params.volunteer_kg)
    assert book._hands[1] == hands
    return hands


_STEPS = st.lists(
    st.tuples(
        st.sampled_from(["declare", "lift", "case", "dispatch", "ticket", "advance", "away"]),
        st.integers(0, 10_000),
    ),
    min_size=1,
    max_size=12,
)


@given(steps=_STEPS)
def test_the_copy_is_always_the_live_roster(small_city: City, steps: list[tuple[str, int]]) -> None:
    """After any mix of commands the copy handed out equals a fresh copy of the live
    roster (orders included), and it is a new object exactly when a staffing event
    happened since the last read."""
    engine = _engine(small_city)
    clock = engine.clock
    assert isinstance(clock, ManualClock)
    chain = small_city.chain
    streets = chain.units(Level.STREET)
    compounds = sorted(small_city.compounds)
    grids = chain.units(Level.GRID)
    view = _check(engine)
    for what, n in steps:
        seen = len(engine.journal)
        try:
            if what == "declare":
                engine.declare(streets[n % len(streets)], ("sealed", "controlled")[n % 2])
            elif what == "lift":
                engine.lift(streets[n % len(streets)])
            elif what == "case":
                engine.report_case(compounds[n % len(compounds)])
            elif what == "dispatch":
                engine.dispatch_supplies()
                _check_hands(engine)
            elif what == "ticket":
                engine.open_ticket(grids[n % len(grids)], "food_supplies")
            elif what == "advance":
                engine.advance(clock.now() + timedelta(hours=1 + n % 200))
            else:
                engine.set_availability({"volunteer": (n % 5) / 10}, seed=n)
        except GridgovError:
            pass
        staffing = any(e.type in STAFFING_EVENTS for e in list(engine.journal)[seen:])
        again = _check(engine)
        assert (again is not view) == staffing
        view = again


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])

"""The supply book and a day's dispatch records: lots served oldest first, the reducer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from gridgov.errors import GridgovError
from gridgov.model import Depot
from gridgov.supplies import SupplyNetwork, SupplyParams
from gridgov.supply_book import SupplyBook, percentile, plan_supply_day
from test_supplies import CITY

T0 = datetime(2026, 9, 17, 18, tzinfo=UTC)

# A (100 households) wants 1 kg of food per household per day: 100 kg.
PARAMS = SupplyParams(
    categories=("food",),
    ration_kg={"food": 1.0},
    checkpoint_kg_per_entrance=10_000,
    hub_kg_per_household=100.0,
)


@attrs.frozen
class FakeEvent:
    type: str
    unit: str
    time: datetime
    data: dict[str, Any]


def network(stock: int, restock: int = 0) -> SupplyNetwork:
    shop = Depot(
        id="S1",
        kind="supermarket",
        unit="d1-s1",
        stock={"food": stock},
        restock={"food": restock},
        dispatch=10_000,
    )
    return SupplyNetwork(CITY, [shop], PARAMS)


def run_day(book: SupplyBook, when: datetime, hands: int = 10_000) -> list[FakeEvent]:
    zones = {"A": "sealed", "A2": "open", "B": "open", "C": "open"}
    outcome = plan_supply_day(book, zones, {"A": hands}, when)
    events = [FakeEvent(t, u, when, d) for t, u, _, d in outcome.records]
    for event in events:
        book._apply_event(event)
    return events


class TestBook:
    """Demand is carried over as lots, served oldest first, and aged."""

    def test_a_short_day_carries_over(self) -> None:
        """Day 1: 60 kg in stock for 100 wanted: 60 delivered, 40 owed.
        Day 2: the restock of 100 kg refills the shelves up to the 60 kg they held;
        100 + 40 wanted: the 40 kg from day 1 go first, having waited 24 hours,
        then 20 of day 2's 100 kg; 80 kg are owed from day 2."""
        book = SupplyBook(network(60, restock=100))
        day1 = run_day(book, T0)
        assert [e.type for e in day1] == [
            "supply.demanded",
            "supply.dispatched",
            "supply.delivered",
            "supply.short",
        ]
        assert book.owed("A") == {"food": 40}
        assert book.stock("S1") == {"food": 0}
        t1 = T0 + timedelta(days=1)
        day2 = run_day(book, t1)
        restocked = next(e for e in day2 if e.type == "supply.restocked")
        assert restocked.data == {"date": t1.date().isoformat(), "depots": {"S1": {"food": 60}}}
        delivered = next(e for e in day2 if e.type == "supply.delivered")
        assert delivered.data["kg"] == {"food": 60}
        assert delivered.data["waited_hours"] == {"food": [[24.0, 40], [0.0, 20]]}
        assert book.lots("A", "food") == ((t1.isoformat(), 80),)
        short = next(e for e in day2 if e.type == "supply.short")
        assert short.data == {"kg": {"food": 80}, "binding": {"food": {"stock": 80}}}

    def test_replaying_the_events_gives_the_same_book(self) -> None:
        live = SupplyBook(network(150, restock=30))
        events = []
        for day in range(4):
            events += run_day(live, T0 + timedelta(days=day), hands=70)
        replayed = SupplyBook(network(150, restock=30))
        for event in events:
            replayed._apply_event(event)
        assert replayed == live
        again = SupplyBook(network(150, restock=30))
        again._load(live.to_json())
        assert again == live

    def test_hands_short_asks_for_building_leads(self) -> None:
        book = SupplyBook(network(500))
        events = run_day(book, T0, hands=30)
        asked = [e for e in events if e.type == "supply.hands_requested"]
        assert [(e.unit, e.data["people"], e.data["kg"]) for e in asked] == [("A", 1, 70)]

    def test_an_opened_compound_drops_what_it_was_owed(self) -> None:
        book = SupplyBook(network(0))
        run_day(book, T0)
        assert book.owed("A") == {"food": 100}
        outcome = plan_supply_day(book, {"A": "open"}, {}, T0 + timedelta(days=1))
        demanded = [r for r in outcome.records if r[0] == "supply.demanded"]
        assert demanded[0][3] == {"compounds": {}, "dropped": ["A"]}
        book._apply_event(FakeEvent("supply.demanded", "c", T0, demanded[0][3]))
        assert book.owed() == {}

    def test_planning_changes_nothing(self) -> None:
        book = SupplyBook(network(50, restock=10))
        before = book.to_json()
        plan_supply_day(book, {"A": "sealed"}, {"A": 100}, T0)
        assert book.to_json() == before

    def test_unknown_method(self) -> None:
        with pytest.raises(GridgovError, match="unknown dispatch method 'best'"):
            plan_supply_day(SupplyBook(network(1)), {}, {}, T0, method="best")

    def test_each_depot_records_the_streets_it_sends_to(self) -> None:
        """A (street d1-s1) wants 100 kg: S1 on its street sends its 60, S2 on the
        next street (d1-s2) the other 40; each dispatch names the hub it feeds."""
        s2 = Depot(id="S2", kind="supermarket", unit="d1-s2", stock={"food": 100}, dispatch=10_000)
        shops = [*network(60).depots.values(), s2]
        book = SupplyBook(SupplyNetwork(CITY, shops, PARAMS))
        outcome = plan_supply_day(book, {"A": "sealed"}, {"A": 10_000}, T0)
        dispatched = {r[1]: r[3] for r in outcome.records if r[0] == "supply.dispatched"}
        assert dispatched == {
            "S1": {"kg": {"food": 60}, "to": {"d1-s1": {"food": 60}}},
            "S2": {"kg": {"food": 40}, "to": {"d1-s1": {"food": 40}}},
        }

    def test_requests_add_to_demand(self) -> None:
        """Two food requests at 5 kg each add 10 kg to A's 100."""
        book = SupplyBook(network(500))
        outcome = plan_supply_day(
            book, {"A": "sealed"}, {"A": 1000}, T0, requests={"A": {"food_supplies": 2}}
        )
        assert outcome.plan.deliveries == {"A": {"food": 110}}


class TestExpiry:
    """Demand owed for owed_days (3 by default) is written off, with its household-days."""

    def test_an_empty_depot_writes_off_the_first_day_on_the_fourth(self) -> None:
        """Nothing in stock: day 0's 100 kg are owed at the dispatches of days 1 and 2,
        and at day 3's (3 days old) written off: 100 kg, 100 households' rations of
        1 kg = 100 household-days. Days 1 to 3 stay owed."""
        book = SupplyBook(network(0))
        for day in range(3):
            events = run_day(book, T0 + timedelta(days=day))
            assert "supply.expired" not in [e.type for e in events]
        assert book.owed("A") == {"food": 300}
        day3 = T0 + timedelta(days=3)
        events = run_day(book, day3)
        expired = [e for e in events if e.type == "supply.expired"]
        assert [(e.unit, e.data) for e in expired] == [
            ("A", {"kg": {"food": 100}, "household_days": {"food": 100}})
        ]
        assert [e.type for e in events][:2] == ["supply.expired", "supply.demanded"]
        assert book.lots("A", "food") == tuple(
            ((T0 + timedelta(days=d)).isoformat(), 100) for d in (1, 2, 3)
        )

    def test_a_part_lot_counts_its_households(self) -> None:
        """A lot of 30 kg left of a 1 kg ration stands for 30 household-days."""
        book = SupplyBook(network(70))
        run_day(book, T0)
        assert book.owed("A") == {"food": 30}
        for day in (1, 2):
            run_day(book, T0 + timedelta(days=day), hands=0)
        events = run_day(book, T0 + timedelta(days=3), hands=0)
        (expired,) = [e for e in events if e.type == "supply.expired"]
        assert expired.data == {"kg": {"food": 30}, "household_days": {"food": 30}}

    def test_owed_days_is_a_parameter(self) -> None:
        """With owed_days = 1 yesterday's lot (no hands yesterday) goes at today's
        dispatch, before planning: only today's 100 kg are delivered."""
        params = attrs.evolve(PARAMS, owed_days=1)
        shop = Depot(
            id="S1",
            kind="supermarket",
            unit="d1-s1",
            stock={"food": 500},
            dispatch=10_000,
        )
        book = SupplyBook(SupplyNetwork(CITY, [shop], params))
        run_day(book, T0, hands=0)
        assert book.owed("A") == {"food": 100}
        events = run_day(book, T0 + timedelta(days=1))
        assert [e.type for e in events][:2] == ["supply.expired", "supply.demanded"]
        delivered = next(e for e in events if e.type == "supply.delivered")
        assert delivered.data["waited_hours"] == {"food": [[0.0, 100]]}
        assert book.owed() == {}

    def test_replay_with_expiry(self) -> None:
        live = SupplyBook(network(40, restock=40))
        events = []
        for day in range(6):
            events += run_day(live, T0 + timedelta(days=day), hands=50)
        assert "supply.expired" in {e.type for e in events}
        replayed = SupplyBook(network(40, restock=40))
        for event in events:
            replayed._apply_event(event)
        assert replayed == live

    def test_owed_days_below_one_is_refused(self) -> None:
        with pytest.raises(ValueError, match="owed_days"):
            SupplyParams(owed_days=0)


class TestPercentile:
    """Latencies are weighted by kilograms."""

    def test_weighted(self) -> None:
        pairs = [(0.0, 60), (24.0, 40)]
        assert percentile(pairs, 0.5) == 0.0
        assert percentile(pairs, 0.95) == 24.0

    def test_empty(self) -> None:
        assert percentile([], 0.5) != percentile([], 0.5)  # NaN

"""Engine.dispatch_supplies: supply events through the reducer, journaled, replayable."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from gridgov import City, Engine, ManualClock
from gridgov.depots import synth_depots
from gridgov.errors import AuthorityError, GridgovError
from gridgov.model import Level
from gridgov.supplies import SupplyNetwork, SupplyParams


@pytest.fixture
def network(small_city: City) -> SupplyNetwork:
    return SupplyNetwork(small_city, synth_depots(small_city), SupplyParams())


def sealed_engine(city: City, network: SupplyNetwork, **kw: object) -> Engine:
    engine = Engine(city, clock=ManualClock(), supplies=network, **kw)  # type: ignore[arg-type]
    street = city.chain.units(Level.STREET)[0]
    engine.declare(street, "sealed")
    return engine


class TestDispatch:
    """One dispatch: rations of the sealed households, delivered or carried over."""

    def test_events_and_book(self, small_city: City, network: SupplyNetwork) -> None:
        engine = sealed_engine(small_city, network)
        result = engine.dispatch_supplies()
        types = Counter(e.type for e in result.events)
        sealed = engine.under("sealed")
        assert types["supply.demanded"] == 1
        assert types["supply.restocked"] == 0  # the shelves are full on the first day
        assert types["supply.delivered"] + types["supply.short"] >= len(sealed)
        assert all(e.command == result.command for e in result.events)
        delivered = sum(
            kg for e in result.changes("supply.delivered") for kg in e.data["kg"].values()
        )
        demanded = sum(
            kg
            for per in result.changes("supply.demanded")[0].data["compounds"].values()
            for kg in per.values()
        )
        assert delivered + sum(engine.supplies.owed().values()) == demanded  # type: ignore[union-attr]
        shipped = sum(
            kg for e in result.changes("supply.dispatched") for kg in e.data["kg"].values()
        )
        assert shipped == delivered

    def test_replay_gives_the_same_book(self, small_city: City, network: SupplyNetwork) -> None:
        """Three days of dispatches, some short of hands: replaying the journal gives
        the same stock, the same demand owed, the same zones."""
        engine = sealed_engine(small_city, network)
        clock = engine.clock
        assert isinstance(clock, ManualClock)
        for _ in range(3):
            engine.dispatch_supplies()
            engine.advance(clock.now() + timedelta(days=1))
        again = Engine.replay(small_city, list(engine.journal), clock=clock, supplies=network)
        assert again.supplies == engine.supplies
        assert again.zones() == engine.zones()

    def test_durable_journal_reopens_with_its_supplies(
        self, small_city: City, network: SupplyNetwork, tmp_path: Path
    ) -> None:
        path = tmp_path / "journal.db"
        clock = ManualClock()
        engine = Engine.open(path, city=small_city, clock=clock, supplies=network)
        engine.declare(small_city.chain.units(Level.STREET)[0], "sealed")
        engine.dispatch_supplies()
        book = engine.supplies.to_json()  # type: ignore[union-attr]
        engine.close()
        again = Engine.open(path, city=small_city, clock=clock, supplies=network)
        assert again.supplies.to_json() == book  # type: ignore[union-attr]
        again.close()

    def test_greedy_method(self, small_city: City, network: SupplyNetwork) -> None:
        engine = sealed_engine(small_city, network)
        result = engine.dispatch_supplies(method="greedy")
        assert "(greedy)" in result.changes("supply.dispatched")[0].cause


class TestRefusals:
    """A refused dispatch changes nothing."""

    def test_supplies_off(self, small_city: City) -> None:
        engine = Engine(small_city, clock=ManualClock())
        with pytest.raises(GridgovError, match="supplies are off"):
            engine.dispatch_supplies()
        assert [e.type for e in engine.journal] == ["command.refused"]

    def test_future(self, small_city: City, network: SupplyNetwork) -> None:
        engine = sealed_engine(small_city, network)
        before = len(engine.journal)
        with pytest.raises(GridgovError, match="is in the future"):
            engine.dispatch_supplies(at=engine.clock.now() + timedelta(hours=1))
        assert [e.type for e in list(engine.journal)[before:]] == ["command.refused"]

    def test_a_street_may_not_dispatch_for_the_city(
        self, small_city: City, network: SupplyNetwork
    ) -> None:
        engine = sealed_engine(small_city, network)
        before = engine.supplies.to_json()  # type: ignore[union-attr]
        with pytest.raises(AuthorityError):
            engine.dispatch_supplies(actor=small_city.chain.units(Level.STREET)[0])
        assert engine.supplies.to_json() == before  # type: ignore[union-attr]


class TestTickets:
    """A delivery fulfils the compound's open food and medicine tickets."""

    def test_food_ticket_fed_back_on_delivery(
        self, small_city: City, network: SupplyNetwork
    ) -> None:
        engine = sealed_engine(small_city, network)
        compound = engine.under("sealed")[0]
        opened = engine.open_ticket(compound, "food_supplies")
        garbage = engine.open_ticket(compound, "garbage")
        number = opened.changes("ticket.opened")[0].unit
        food_id = opened.changes("ticket.opened")[0].data.get("ticket", number)
        result = engine.dispatch_supplies()
        assert compound in {e.unit for e in result.changes("supply.delivered")}
        states = {t.category: t.state for t in engine.tickets}
        assert states["food_supplies"] == "fed_back"
        assert states["garbage"] == "accepted"
        assert result.changes("ticket.step")
        assert food_id is not None
        assert garbage.events

    def test_a_request_adds_to_demand_once(self, small_city: City) -> None:
        """With no hands at all nothing is delivered, so the food ticket stays open: it
        adds its 5 kg to the first dispatch's demand, not to the next day's."""
        params = SupplyParams(building_lead_kg=0, volunteer_kg=0)
        engine = sealed_engine(
            small_city, SupplyNetwork(small_city, synth_depots(small_city), params)
        )
        compound = engine.under("sealed")[0]
        rations = round(small_city.households(compound) * params.ration("food"))
        engine.open_ticket(compound, "food_supplies")

        def food_demanded() -> int:
            result = engine.dispatch_supplies()
            (demanded,) = result.changes("supply.demanded")
            return int(demanded.data["compounds"][compound]["food"])

        assert food_demanded() == rations + 5
        engine.advance(engine.clock.now() + timedelta(days=1))
        assert food_demanded() == rations
        assert {t.category: t.state for t in engine.tickets}["food_supplies"] == "accepted"


class TestRequestArguments:
    """A bad requests mapping is refused naming the place (key by key) and what was expected."""

    @pytest.mark.parametrize(
        ("requests", "where"),
        [
            ({"A": {"food_supplies": -1}}, "requests['A']['food_supplies'] must be a finite"),
            ({"A": [1]}, "requests['A'] must be a mapping"),
            ({"ok": {}, "B\x00": {}}, "requests key 'B\\\\x00' must be a name"),
        ],
    )
    def test_refused_at_its_key(
        self, small_city: City, network: SupplyNetwork, requests: object, where: str
    ) -> None:
        from gridgov.errors import ArgumentError

        engine = sealed_engine(small_city, network)
        with pytest.raises(ArgumentError) as info:
            engine.dispatch_supplies(requests=requests)  # type: ignore[arg-type]
        assert where in str(info.value)

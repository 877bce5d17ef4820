"""Every refusal is one audit event; a retried refusal under its key is recorded once
(issue 18, item 5)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from gridgov import (
    ArgumentError,
    AuthorityError,
    CommandError,
    Engine,
    GridgovError,
    ManualClock,
    NotFoundError,
    TransitionError,
)
from gridgov.presets import small
from gridgov.testing import check_invariants

CITY = small()
COMPOUNDS = sorted(CITY.compounds)
PEOPLE = sorted(CITY.people)


def outsider() -> tuple[str, str]:
    """A community and a compound outside its jurisdiction."""
    chain = CITY.chain
    communities = sorted(chain.units("community"))
    for community in communities:
        for compound in COMPOUNDS:
            if chain.community_of(compound) != community:
                return community, compound
    raise AssertionError("the small preset has one community only")


def test_a_retried_refusal_is_recorded_once(tmp_path: Path) -> None:
    actor, compound = outsider()
    path = tmp_path / "j.sqlite"
    engine = Engine.open(path, city=CITY, clock=ManualClock())
    for _ in range(3):
        with pytest.raises(AuthorityError, match=compound):
            engine.declare(compound, actor=actor, key="k")
    refusals = engine.journal.select(type="command.refused")
    assert len(refusals) == 1
    assert len(engine.journal) == 1
    engine.close()
    with Engine.open(path, city=CITY, clock=ManualClock()) as again:
        with pytest.raises(AuthorityError):
            again.declare(compound, actor=actor, key="k")
        assert len(again.journal.select(type="command.refused")) == 1


def test_refusals_without_a_key_are_each_recorded() -> None:
    actor, compound = outsider()
    engine = Engine(CITY, clock=ManualClock())
    for _ in range(2):
        with pytest.raises(AuthorityError):
            engine.declare(compound, actor=actor)
    assert len(engine.journal.select(type="command.refused")) == 2


@pytest.mark.parametrize("actor", ["system", ""])
def test_no_magic_actor(actor: str) -> None:
    """actor="system" (or empty) is no back door: refused and audited."""
    engine = Engine(CITY, clock=ManualClock())
    with pytest.raises(AuthorityError):
        engine.declare(COMPOUNDS[0], actor=actor)
    assert set(engine.zones().values()) == {"open"}
    assert [e.type for e in engine.journal] == ["command.refused"]


# ------------------------------------------- every refusal is one audit event


def busy() -> tuple[Engine, str, str]:
    """An engine with a sealed compound, a task on its community's board and a ticket."""
    engine = Engine(CITY, clock=ManualClock())
    compound = COMPOUNDS[0]
    community = CITY.chain.community_of(compound)
    engine.report_case(compound)
    task = engine.post_task(community, "medicine_delivery").events[0].data["post"]
    ticket = engine.open_ticket(compound, "medicine").events[0].data["ticket"]
    return engine, task, ticket


def outside_member(task_community: str) -> str:
    """An in-service member registered in another community than ``task_community``."""
    for person in sorted(CITY.people.values(), key=lambda p: p.id):
        if person.kind.value == "in_service_member" and person.home != task_community:
            return person.id
    raise AssertionError("no member outside the community")


REFUSALS: dict[str, tuple[type[GridgovError], Callable[[Engine, str, str], object]]] = {
    "unknown actor": (NotFoundError, lambda e, t, k: e.declare(COMPOUNDS[1], actor="nobody")),
    "empty actor": (AuthorityError, lambda e, t, k: e.declare(COMPOUNDS[1], actor="")),
    "magic actor": (AuthorityError, lambda e, t, k: e.staff(actor="system")),
    "outside jurisdiction": (
        AuthorityError,
        lambda e, t, k: e.declare(outsider()[1], actor=outsider()[0]),
    ),
    "outside claim": (
        AuthorityError,
        lambda e, t, k: e.claim(t, outside_member(CITY.chain.community_of(COMPOUNDS[0]))),
    ),
    "bad argument": (ArgumentError, lambda e, t, k: e.post_task(COMPOUNDS[0], "x", capacity=0)),
    "transition not allowed": (TransitionError, lambda e, t, k: e.handle_ticket(k, "publish")),
    "unknown ticket": (NotFoundError, lambda e, t, k: e.handle_ticket("T999999", "classify")),
    "advance by an outsider": (AuthorityError, lambda e, t, k: e.advance(actor=outsider()[0])),
    "hand back without a task": (GridgovError, lambda e, t, k: e.hand_back(PEOPLE[0])),
    "reserved command id": (
        CommandError,
        lambda e, t, k: e.report_case(COMPOUNDS[0], command_id="c000001"),
    ),
}


@pytest.mark.parametrize("why", sorted(REFUSALS))
def test_every_refusal_is_one_command_refused_event(why: str) -> None:
    """Issue 18, item 5: for any reason, a refusal changes no state and records exactly
    one ``command.refused`` event, naming the command, the actor and the error; under
    a key, a retry raises the same error again and records nothing more."""
    error, call = REFUSALS[why]
    engine, task, ticket = busy()
    before, length = engine.snapshot(), len(engine.journal)
    with pytest.raises(error) as first:
        call(engine, task, ticket)
    assert engine.snapshot() == before
    (refusal,) = list(engine.journal)[length:]
    assert refusal.type == "command.refused"
    assert refusal.data["error"] == type(first.value).__name__
    assert refusal.data["message"] == str(first.value)
    check_invariants(engine)


@pytest.mark.parametrize("why", sorted(REFUSALS))
def test_a_retried_refusal_of_any_kind_is_recorded_once(why: str, tmp_path: Path) -> None:
    """The same keyed refusal again, before and after a reopen: the same error (class
    and message), one event in all."""
    error, call = REFUSALS[why]
    path = tmp_path / "j.sqlite"
    engine = Engine.open(path, city=CITY, clock=ManualClock())
    compound = COMPOUNDS[0]
    engine.report_case(compound)
    task = engine.post_task(CITY.chain.community_of(compound), "medicine_delivery")
    ticket = engine.open_ticket(compound, "medicine").events[0].data["ticket"]
    args = (task.events[0].data["post"], ticket)

    def keyed(gov: Engine) -> object:
        # The same call, under a key: wrap each engine method to add key="k".
        class Keyed:
            def __getattr__(self, name: str) -> object:
                method = getattr(gov, name)
                return lambda *a, **kw: method(*a, key="k", **kw)

        return call(Keyed(), *args)  # type: ignore[arg-type]

    messages = []
    for _ in range(2):
        with pytest.raises(error) as info:
            keyed(engine)
        messages.append((type(info.value), str(info.value)))
    engine.close()
    with Engine.open(path, city=CITY, clock=ManualClock()) as again:
        with pytest.raises(error) as info:
            keyed(again)
        messages.append((type(info.value), str(info.value)))
        assert len(again.journal.select(type="command.refused")) == 1
    assert messages[0] == messages[1] == messages[2]


def test_internal_actions_act_with_the_engines_own_authority() -> None:
    """Deadlines act through the embedding code's authority (actor left unset, journaled
    as ``system``); an actor that names the city's command is journaled as itself."""
    clock = ManualClock()
    engine = Engine(CITY, clock=clock)
    engine.report_case(COMPOUNDS[0])
    stepped = engine.advance(clock.now() + timedelta(days=15))
    assert stepped.events
    assert {e.actor for e in stepped.events} == {"system"}
    engine.report_case(COMPOUNDS[1])
    city = CITY.chain.city
    stepped = engine.advance(clock.now() + timedelta(days=15), actor=city)
    assert {e.actor for e in stepped.events} == {city}

"""A retried refusal under the same key is recorded once (issue 18, item 5, in part)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridgov import AuthorityError, Engine, ManualClock
from gridgov.presets import small

CITY = small()
COMPOUNDS = sorted(CITY.compounds)


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

"""No silent gaps: every seat that cannot be filled is a recorded shortfall, front line
included, and staff() fills open shortfalls when people come back (issue 18, item 7)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gridgov import Engine, ManualClock
from gridgov.model import PersonKind
from gridgov.presets import small
from gridgov.testing import check_invariants

CITY = small()
COMPOUNDS = sorted(CITY.compounds)
KINDS = [k.value for k in PersonKind]


def gaps(engine: Engine) -> list[str]:
    """Posts with fewer holders than seats and no open shortfall for the difference."""
    roster = engine.roster
    found = []
    for post in roster.posts.values():
        if "/task/" in post.id:
            continue  # board tasks wait for claims
        missing = post.capacity - len(roster.holders.get(post.id, ()))
        recorded = roster.shortfalls[post.id].missing if post.id in roster.shortfalls else 0
        if missing != recorded:
            found.append(f"{post.id}: {missing} seat(s) empty, {recorded} recorded short")
    return found


def grid_workers(grid: str) -> list[str]:
    return [p for p in CITY.people_at_post(grid) if CITY.people[p].kind is PersonKind.GRID_WORKER]


class TestFrontLine:
    """The grid workers' front-line duty (the issue's example: half of them away)."""

    def test_front_line_seats_of_absent_workers_are_a_shortfall(self) -> None:
        """With every grid worker away, a sealed compound's grid records its whole
        front line short, and staff() fills it once they are back."""
        engine = Engine(CITY, clock=ManualClock())
        engine.set_availability({"grid_worker": 1.0}, seed=1)
        engine.declare(COMPOUNDS[0])
        (grid,) = CITY.grids_of_compound(COMPOUNDS[0])[:1]
        post = f"{grid}/front_line"
        workers = grid_workers(grid)
        assert engine.roster.posts[post].capacity == len(workers)
        assert engine.roster.holder_of(post) == ()
        assert engine.roster.shortfalls[post].missing == len(workers)
        assert gaps(engine) == []
        engine.set_availability({}, seed=1)
        refill = engine.staff()
        assert "shortfall.closed" in {e.type for e in refill.events}
        assert sorted(engine.roster.holder_of(post)) == sorted(workers)
        assert post not in engine.roster.shortfalls
        check_invariants(engine)

    def test_half_away(self) -> None:
        """Half the grid workers away: the filled and the short seats add up."""
        engine = Engine(CITY, clock=ManualClock())
        engine.set_availability({"grid_worker": 0.5}, seed=7)
        engine.declare(COMPOUNDS[0])
        assert gaps(engine) == []
        check_invariants(engine)


@settings(max_examples=25, deadline=None)
@given(
    away=st.dictionaries(st.sampled_from(KINDS), st.sampled_from([0.0, 0.5, 0.9, 1.0])),
    seed=st.integers(0, 50),
    targets=st.lists(st.sampled_from(COMPOUNDS[:8]), min_size=1, max_size=3, unique=True),
)
def test_no_seat_is_a_silent_gap(away: dict[str, float], seed: int, targets: list[str]) -> None:
    """Whoever is away, after sealing and after every re-staffing, each empty seat of
    a zone post is recorded short; with everyone back, staff() leaves none short."""
    engine = Engine(CITY, clock=ManualClock())
    engine.set_availability(away, seed=seed)
    for target in targets:
        engine.declare(target)
        assert gaps(engine) == []
    engine.staff()
    assert gaps(engine) == []
    engine.set_availability({}, seed=seed)
    engine.staff()
    assert gaps(engine) == []
    check_invariants(engine)

"""The cheaper command path (issue 15 item 5) gives what the plain path gives.

The engine commits from a staffing draft's tuples (``planned_records``), applies
assignments and releases in a batch (``EngineState.apply_all``), keeps the
roster's assignments as tuples and lifts only the compounds that are not open.
Each is checked here against the public, plain form it stands for.
"""

from __future__ import annotations

import contextlib

import attrs
from hypothesis import given
from hypothesis import strategies as st

from gridgov import Engine, GridgovError, ManualClock, staffing
from gridgov._state import EngineState
from gridgov.model import PersonKind
from gridgov.modes import units_compounds
from gridgov.presets import jiamusi
from gridgov.records import RecordColumns
from gridgov.staffing import Assignment, plan_staffing, planned_records, staffing_records
from histories import play

CITY = jiamusi(scale=0.05)
COMPOUNDS = sorted(CITY.compounds)
UNITS = sorted(CITY.chain.units())
SEVERITY = {"open": 0, "precaution": 1, "controlled": 2, "sealed": 3}

#: One step of a history: a case, a declaration, a lift, or time passing.
step = st.one_of(
    st.tuples(st.just("case"), st.sampled_from(COMPOUNDS)),
    st.tuples(
        st.just("declare"),
        st.sampled_from(UNITS),
        st.sampled_from(["sealed", "controlled", "precaution"]),
    ),
    st.tuples(st.just("lift"), st.sampled_from(UNITS), st.sampled_from(["open", "precaution"])),
    st.tuples(st.just("advance"), st.integers(1, 20)),
)


@given(st.lists(step, max_size=8), st.sampled_from(UNITS), st.sampled_from(["open", "precaution"]))
def test_a_lift_reaches_exactly_the_compounds_below_its_target(
    history: list[tuple[object, ...]], target: str, to: str
) -> None:
    engine, _ = play(CITY, history)
    before = {c: engine.zone(c) for c in COMPOUNDS}
    with contextlib.suppress(GridgovError):
        engine.lift(target, to)
    below = set(units_compounds(CITY, [target]))
    for compound in COMPOUNDS:
        after = engine.zone(compound)
        if compound in below and SEVERITY[before[compound]] > SEVERITY[to]:
            assert after == to, compound
        else:
            assert after == before[compound], compound


@given(st.lists(step, min_size=1, max_size=8))
def test_the_batch_apply_gives_the_state_one_event_at_a_time_gives(
    history: list[tuple[object, ...]],
) -> None:
    engine, _ = play(CITY, history)
    kernel = engine._kernel
    one_by_one = EngineState(CITY, engine.rules)
    for event in kernel.journal:
        one_by_one.apply(event)
    batched = EngineState(CITY, engine.rules)
    batched.apply_all(list(kernel.journal))
    columns = EngineState(CITY, engine.rules)
    columns.apply_all(kernel.journal.replay(0))  # the memory journal's columns
    assert one_by_one.snapshot() == kernel.state.snapshot()
    assert batched.snapshot() == kernel.state.snapshot()
    assert columns.snapshot() == kernel.state.snapshot()


@given(st.lists(step, max_size=6), st.sampled_from(COMPOUNDS), st.booleans())
def test_the_engine_records_what_the_public_plan_records(
    history: list[tuple[object, ...]], compound: str, refill: bool
) -> None:
    engine, _ = play(CITY, history)
    kernel = engine._kernel
    roster = kernel.state.roster
    zone = engine.zone(compound)
    changes = {} if zone == "sealed" else {compound: (zone, "sealed")}
    rule = engine.rules.staffing
    when = engine.clock.now()
    plan = plan_staffing(CITY, kernel.pools, roster, changes, rule, refill=refill)
    expected = staffing_records(plan, roster, CITY.chain.city, when)
    got: list[tuple[object, ...]] = []
    for item in planned_records(CITY, kernel.pools, roster, changes, rule, when, refill=refill):
        # The assignments come in columns (RecordColumns): record by record here.
        got.extend(item) if isinstance(item, RecordColumns) else got.append(item)
    assert [tuple(r) for r in expected] == got


def test_the_roster_reads_its_assignments_as_objects() -> None:
    engine = Engine(CITY, clock=ManualClock())
    engine.report_case(COMPOUNDS[0])
    roster = engine.roster
    assert len(roster.assignment) > 0
    for person, (assignment, since) in roster.assignment.items():
        assert isinstance(assignment, Assignment)
        assert assignment.person == person
        assert person in roster.assignment
        assert since == engine.clock.now()
        assert roster.holders[assignment.post].count(person) == 1
    assert "nobody" not in roster.assignment
    levels = [a.level for a, _ in roster.assignment.values()]
    assert roster.sources() == {level: levels.count(level) for level in set(levels)}
    first = next(iter(roster.assignment))
    assert attrs.evolve(roster.assignment[first][0]).person == first


def test_the_pools_grid_workers_are_the_city_s_grid_workers_at_each_post() -> None:
    """Read from one sort of the grid workers by post (Pools), as the city lists them."""
    pools = Engine(CITY, clock=ManualClock())._kernel.pools
    kind = CITY.people.kind
    for unit in UNITS:
        at_post = CITY.people_at_post(unit)
        expected = tuple(p for p in at_post if kind(p) is PersonKind.GRID_WORKER)
        assert pools.grid_workers(unit) == expected, unit
    assert pools.grid_workers("no such unit") == ()


@given(
    st.sampled_from(sorted(CITY.chain.units("community"))),
    st.sampled_from(["community", "big_party_committee", "street", "district", "city"]),
    st.sampled_from(sorted(PersonKind)),
)
def test_each_pool_keeps_its_people_s_employers_beside_them(
    community: str, level: str, kind: PersonKind
) -> None:
    """What the filling reads in order instead of looking up each person's employer."""
    pools = Engine(CITY, clock=ManualClock())._kernel.pools
    _, people, employers = pools._pool(level, community, kind)
    assert people == pools.candidates(level, community, kind)
    assert list(employers) == [CITY.people.employer(p) for p in people]


#: Runs of assignments: (post, role, level, count); a few posts, so that one
#: comes back in a later run, some newly opened, one already open, one neither.
assignment_run = st.tuples(
    st.sampled_from(["new/checkpoint", "new2/point_lead", "open/volunteer", "gone/x"]),
    st.sampled_from(["checkpoint", "point_lead", "front_line"]),
    st.sampled_from(["community", "street", "grid"]),
    st.integers(1, 4),
)


@given(st.lists(assignment_run, min_size=1, max_size=12))
def test_the_assignments_records_are_their_runs_read_out_one_by_one(
    counted: list[tuple[str, str, str, int]],
) -> None:
    """``_assignment_columns`` makes from runs of assignments the records a plain
    loop over the assignments makes: each person's post, role and level from
    their run, the unit of a post opened by the plan, else of the post open
    before it, else the post itself, and the cause from the role and level;
    the runs go with the records, for the reducer."""
    from gridgov.staffing import _assignment_columns

    when = ManualClock().now()
    new_units = {"new/checkpoint": "new", "new2/point_lead": "new2"}
    posts = {"open/volunteer": ("open/volunteer", "volunteer", "open-unit", "c", 2)}
    persons = [f"p{i}" for i in range(sum(run[3] for run in counted))]
    expected = []
    runs = []
    people = iter(persons)
    for post, role, level, count in counted:
        unit = new_units.get(post) or (posts[post][2] if post in posts else post)
        run = tuple(next(people) for _ in range(count))
        runs.append((post, role, level, run))
        for person in run:
            data = {"person": person, "post": post, "role": role, "level": level}
            cause = f"{role} from the {level} pool"
            expected.append((when, "post.assigned", unit, cause, None, None, data))
    got = _assignment_columns(persons, runs, ["an employer"], posts, new_units, when)
    assert list(got) == expected
    assert len(got) == len(persons)
    assert got.planned == [(runs, ["an employer"], None, None)]


@given(
    st.sampled_from(COMPOUNDS),
    st.sampled_from([0.0, 0.2, 0.5]),
    st.integers(0, 3),
)
def test_front_line_duty_takes_each_hot_grid_s_free_workers_and_records_the_rest(
    compound: str, away: float, seed: int
) -> None:
    """Each grid a case puts on front-line duty takes its own workers who are not
    away, in the city's order (all of them at once when none is away), and the
    seats of those away are a shortfall of that many: the one-loop path gives
    what filling each grid's post one at a time gives."""
    engine = Engine(CITY, clock=ManualClock())
    engine.set_availability({"grid_worker": away}, seed=seed)
    unavailable = engine.roster.unavailable
    kind = CITY.people.kind
    result = engine.report_case(compound)
    roster = engine.roster
    opened = [e.data["post"] for e in result.changes("post.opened")]
    hot = [post for post in opened if post.endswith("/front_line")]
    assert hot == sorted(hot)
    for post in hot:
        grid = post.removesuffix("/front_line")
        team = [p for p in CITY.people_at_post(grid) if kind(p) is PersonKind.GRID_WORKER]
        free = [p for p in team if p not in unavailable]
        assert list(roster.holder_of(post)) == free
        assert roster.posts[post].capacity == len(team)
        if len(free) < len(team):
            assert roster.shortfalls[post].missing == len(team) - len(free)
        else:
            assert post not in roster.shortfalls


@given(
    st.lists(st.sampled_from(COMPOUNDS), min_size=1, max_size=12),
    st.sampled_from(["sealed", "controlled"]),
    st.booleans(),
    st.integers(0, 3),
)
def test_a_few_posts_to_fill_are_ordered_as_many_are(
    compounds: list[str], zone: str, auto_claim: bool, repeats: int
) -> None:
    """A case's few posts, sorted at once by (priority, id), come in the order the
    many of a declaration do (a priority at a time, by id): each once, claimable
    ones left out unless the rules claim automatically."""
    engine = Engine(CITY, clock=ManualClock())
    kernel = engine._kernel
    rule = engine.rules.staffing
    draft = staffing._Draft(kernel.state.roster)
    ids: list[str] = []
    for compound in compounds:
        for row in kernel.pools.required(compound, zone, rule):
            draft.opened[row[0]] = row
            ids.append(row[0])
    ids += ids[: repeats * 3]  # some asked for twice
    got = staffing._by_priority(draft, ids, auto_claim)
    few, staffing._FEW_POSTS = staffing._FEW_POSTS, 0
    try:
        many = staffing._by_priority(draft, ids, auto_claim)
    finally:
        staffing._FEW_POSTS = few
    assert got == many
    assert len(got) == len({row[0] for row in got})
    if not auto_claim:
        assert not [row for row in got if row[1] in staffing.CLAIMABLE]


def test_posts_opened_again_keep_their_holders_and_new_ones_have_none() -> None:
    """A planned run of opened posts (Roster._open_rows) gives a post new to the roster
    no seats taken, and leaves the holders of a post opened again (a new size) as
    they were, as one post.opened event at a time does."""
    engine = Engine(CITY, clock=ManualClock())
    engine.report_case(COMPOUNDS[0])
    roster = engine._kernel.state.roster
    held = next(p for p, people in roster._holders.items() if people)
    before = roster._holders[held]
    _, role, unit, community, capacity = roster._posts[held]
    fresh = (f"{COMPOUNDS[-1]}/volunteer", "volunteer", COMPOUNDS[-1], community, 2)
    assert fresh[0] not in roster._posts
    ids = roster._open_rows([(held, role, unit, community, capacity + 1), fresh])
    assert ids == [held, fresh[0]]
    assert roster._holders[held] == before
    assert not roster._holders[fresh[0]]
    assert roster.holders[fresh[0]] == ()
    assert roster._posts[held][4] == capacity + 1

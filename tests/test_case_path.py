"""A confirmed case's cheaper path (issue 15 item 5) gives what the general path gives.

A case reads its scopes from tables of the city's units worked out at once
(``measures._Below``), settles the communities it reaches reading the state
directly (``MeasuresDraft.settle_all``), reads small pools in plain Python
(``Pools._named``) and records the posts it opens in columns. Each is checked
here against the general form it stands for: the chain walked unit by unit,
``settle`` called per community, the pools joined by numpy.
"""

from __future__ import annotations

import array
import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gridgov import City, Engine, ManualClock, Rules
from gridgov.measures import MeasuresDraft, _Below, _days, case_scopes, iso_time
from gridgov.model import Level, PersonKind
from gridgov.modes import communities_in_scope, compounds_in_scope
from gridgov.presets import jiamusi
from gridgov.rules import CaseRule
from gridgov.staffing import Pools, _unit_tables
from histories import play
from strategies import cities

#: Streets of several communities (a case puts the others on alert).
CITY = jiamusi(scale=0.1)
COMPOUNDS = sorted(CITY.compounds)
COMMUNITIES = sorted(CITY.chain.units(Level.COMMUNITY))
UNITS = sorted(CITY.chain.units())
BELOW = _Below(CITY)
LEVELS = ["compound", "grid", "community", "street", "district", "city"]

#: A scope: a level, a named area, or nothing (for the optional measures).
scope = st.sampled_from([*LEVELS, "area"])
optional = st.one_of(st.none(), scope)


@settings(max_examples=60)
@given(
    st.sampled_from(COMPOUNDS),
    scope,
    optional,
    optional,
    optional,
    st.lists(st.sampled_from(UNITS), min_size=1, max_size=3),
)
def test_a_case_s_scopes_from_the_tables_are_the_chain_s(
    compound: str,
    seal: str,
    control: str | None,
    precaution: str | None,
    alert: str | None,
    area: list[str],
) -> None:
    rules = Rules(
        areas={"area": area},
        case=CaseRule(seal=seal, control=control, precaution=precaution, alert=alert),
    )
    assert case_scopes(CITY, rules, compound, BELOW) == case_scopes(CITY, rules, compound)


@settings(max_examples=60)
@given(st.sampled_from(COMPOUNDS), st.sampled_from(LEVELS))
def test_a_scope_from_the_tables_is_the_chain_s(compound: str, level: str) -> None:
    """Each level's compounds (a grid's: every compound sharing a grid) and
    communities, in the chain's order, as the general reads give them."""
    assert BELOW.compounds_in_scope(CITY, compound, level, {}) == compounds_in_scope(
        CITY, compound, level, {}
    )
    assert BELOW.communities_in_scope(CITY, compound, level, {}) == communities_in_scope(
        CITY, compound, level, {}
    )


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("unit", ["no-such-compound", COMMUNITIES[0]])
def test_a_scope_around_what_is_no_compound_is_refused_as_the_chain_refuses_it(
    level: str, unit: str
) -> None:
    """A unit the city does not know, or one that is no compound, gets the general
    reads' answer or error from the tables' reads too."""
    for below, general in (
        (BELOW.compounds_in_scope, compounds_in_scope),
        (BELOW.communities_in_scope, communities_in_scope),
    ):
        assert _outcome(below, unit, level) == _outcome(general, unit, level)


def _outcome(read: Callable[..., tuple[str, ...]], unit: str, level: str) -> object:
    """What ``read`` gives around ``unit`` at ``level``: its answer, or its error's type
    and text."""
    try:
        return read(CITY, unit, level, {})
    except Exception as exc:  # compared with the other read's
        return type(exc), str(exc)


def test_the_tables_list_every_unit_s_compounds_and_communities_as_the_chain_does() -> None:
    chain = CITY.chain
    for unit in UNITS:
        level = chain.level(unit)
        if level.rank < Level.COMPOUND.rank:
            assert BELOW._compounds.get(unit, ()) == tuple(sorted(chain.below(unit, "compound")))
        if level.rank < Level.COMMUNITY.rank:
            got = BELOW._communities.get(unit, ())
            assert got == tuple(sorted(chain.below(unit, "community")))


#: One step of a history: a case, a declaration, a lift, or time passing.
step = st.one_of(
    st.tuples(st.just("case"), st.sampled_from(COMPOUNDS)),
    st.tuples(
        st.just("declare"),
        st.sampled_from(UNITS),
        st.sampled_from(["sealed", "controlled", "precaution"]),
    ),
    st.tuples(
        st.just("lift"),
        st.sampled_from(UNITS),
        st.sampled_from(["open", "precaution"]),
        st.booleans(),
    ),
    st.tuples(st.just("wait"), st.integers(1, 20)),
)


def _settle_all_one_by_one(
    draft: MeasuresDraft,
    communities: Iterable[str],
    now: datetime,
    cause: str,
    alert_from: datetime | None = None,
) -> None:
    """``settle_all`` as it was written before it read the state directly."""
    quiet = timedelta(days=draft.rules.modes.alert_quiet_days)
    start = alert_from if alert_from is not None else now
    for community in communities:
        draft.settle(community, now, cause)
        counts = draft.counts_now(community)
        mode = draft.mode_of(community)
        if counts["sealed"] + counts["controlled"]:
            continue
        if mode == "normal":
            draft.set_mode(community, "raise_alert", start + quiet, now, cause)
        elif mode == "alert":
            due = draft.mode_due_of(community)
            if due is None or start + quiet > due:
                draft.renew_mode(community, start + quiet, now, cause)


@settings(max_examples=200)
@given(
    st.lists(step, min_size=1, max_size=12),
    st.lists(st.sampled_from(COMMUNITIES), max_size=6),
    st.lists(st.sampled_from(COMPOUNDS), max_size=3),
    st.sampled_from(["sealed", "controlled", "precaution"]),
    st.one_of(st.integers(0, 30), st.integers(-1, 200).map(lambda i: f"due {i}")),
    st.booleans(),
)
def test_settling_reading_the_state_directly_settles_as_one_by_one(
    history: list[tuple[object, ...]],
    communities: list[str],
    raised: list[str],
    zone: str,
    when: int | str,
    alert_from: bool,
) -> None:
    """The same records and deadlines, from every mix of modes, zones and due times
    (compounds raised in the draft first, as a case does before it settles; the
    communities of the engine's raised compounds and modes settled too; the time
    some days on or exactly a due time of the state)."""
    engine, clock = play(CITY, history)
    state = engine._kernel.state.measures
    dues = sorted({d for d in state._mode_due.values() if d is not None})
    if isinstance(when, str) and dues:
        now = dues[int(when.split()[1]) % len(dues)]
    else:
        now = clock.now() + timedelta(days=when if isinstance(when, int) else 0)
    start = clock.now() if alert_from else None
    reached = [*communities, *sorted(state._mode_due), *(CITY.community_of(c) for c in raised)]
    reached += sorted(CITY.community_of(c) for c in state._raised)
    drafts = []
    for settle_all in (MeasuresDraft.settle_all, _settle_all_one_by_one):
        draft = MeasuresDraft(state, CITY, engine.rules)
        draft.step_up(raised, zone, now, now, "test")
        settle_all(draft, dict.fromkeys(reached), now, "test", alert_from=start)
        drafts.append(draft)
    fast, slow = drafts
    assert fast.records == slow.records
    assert fast.pushes == slow.pushes
    assert fast.plan() == slow.plan()
    # The draft's overlay too (what a later step of the same plan reads).
    assert fast.mode == slow.mode
    assert fast.mode_due == slow.mode_due


def _joined(
    pools: object, level: str, community: str, kind: PersonKind
) -> tuple[tuple[str, ...], tuple[str | None, ...]]:
    """A pool as the numpy join of its groups' positions gives it."""
    import numpy as np

    p: object = pools
    local, offices, employed = p._local, p._offices, p._employed  # type: ignore[attr-defined]
    chain = CITY.chain
    parts: list[object | None]
    if level == "community":
        parts = [local.positions((community, kind))]
    elif level == "big_party_committee":
        rows: set[int] = set()
        for org in CITY.big_party_committee(community).members:
            found = employed.positions((org, kind))
            if found is not None:
                rows.update(found.tolist())
        ranks = p._ranks  # type: ignore[attr-defined]
        parts = [np.asarray(sorted(rows, key=ranks.__getitem__), dtype=np.int64)] if rows else []
    else:
        street = chain.street_of(community)
        order = chain.children(street, Level.COMMUNITY)
        here = order.index(community)
        near = sorted(
            (c for c in order if c != community), key=lambda c: (abs(order.index(c) - here), c)
        )
        parts = [local.positions((other, kind)) for other in near]
        parts.append(offices.positions((street, kind)))
    present = [x for x in parts if x is not None]
    if not present:
        return (), ()
    joined = np.concatenate(present).tolist()  # type: ignore[arg-type]
    ids = tuple(CITY.people.ids[i] for i in joined)
    return ids, tuple(CITY.people.employers[i] for i in joined)


@settings(max_examples=20)
@given(st.integers(0, 3))
def test_pools_kept_as_places_are_the_numpy_joins(seed: int) -> None:
    engine = Engine(CITY, clock=ManualClock(), seed=seed)
    pools = engine._kernel.pools
    for community in COMMUNITIES:
        for kind in PersonKind:
            for level in ("community", "big_party_committee", "street"):
                _, people, employers = pools._pool(level, community, kind)
                assert (people, employers) == _joined(pools, level, community, kind)


def test_a_case_opens_its_posts_with_their_data() -> None:
    """The posts a case opens (recorded in columns, their data compact) read as the
    dicts of the posts the public plan opens."""
    from gridgov.staffing import CLAIMABLE, required_posts

    engine = Engine(CITY, clock=ManualClock())
    compound = COMPOUNDS[5]
    result = engine.report_case(compound)
    opened = {e.data["post"]: e for e in result.changes("post.opened")}
    for post in required_posts(CITY, compound, "sealed", engine.rules.staffing):
        event = opened[post.id]
        assert event.unit == post.unit
        assert event.cause == f"{post.role} needed at {post.unit}"
        assert dict(event.data) == {
            "post": post.id,
            "role": post.role,
            "community": post.community,
            "capacity": post.capacity,
            "task": post.role in CLAIMABLE,
        }
    first, last = result.events.first, result.events.first + len(result.events) - 1
    assert [tuple(e) for e in result.events] == [
        tuple(e) for e in engine._kernel.journal.between(first, last)
    ]


class TestRememberedTimes:
    """Due times' ISO forms and periods, remembered, are what datetime gives."""

    @settings(max_examples=200)
    @given(
        st.lists(
            st.tuples(
                st.datetimes(
                    min_value=datetime(2000, 1, 1),
                    max_value=datetime(2040, 1, 1),
                    timezones=st.one_of(st.timezones(), st.just(UTC)),
                ),
                st.sampled_from([0, 1]),
            ),
            min_size=1,
            max_size=6,
        )
    )
    def test_iso_time_is_isoformat(self, times: list[tuple[datetime, int]]) -> None:
        """Each time prints as its own isoformat, whatever equal times came before
        (the same instant in another zone, or in another fold, prints otherwise)."""
        for when, fold in times:
            when = when.replace(fold=fold)
            for same in (when, when.astimezone(UTC), when.astimezone(timezone(timedelta(hours=8)))):
                assert iso_time(same) == same.isoformat()

    def test_equal_instants_in_two_zones(self) -> None:
        """Equal times (they compare and hash equal) keep their own zones' forms."""
        utc = datetime(2022, 9, 17, 1, 30, tzinfo=UTC)
        east = utc.astimezone(timezone(timedelta(hours=8)))
        assert utc == east
        assert iso_time(utc) == "2022-09-17T01:30:00+00:00"
        assert iso_time(east) == "2022-09-17T09:30:00+08:00"
        assert iso_time(utc) == "2022-09-17T01:30:00+00:00"

    def test_two_folds(self) -> None:
        """The two readings of an hour the clocks go back through (equal, same zone,
        same hash) keep their own offsets."""
        zone = ZoneInfo("America/New_York")
        first = datetime(2022, 11, 6, 1, 30, tzinfo=zone)
        second = first.replace(fold=1)
        assert first == second
        assert iso_time(first) == "2022-11-06T01:30:00-04:00"
        assert iso_time(second) == "2022-11-06T01:30:00-05:00"

    @example([1.0, 0.6, 2, 2.5, 14])
    @given(st.lists(st.floats(min_value=0, max_value=3650, allow_nan=False), max_size=8))
    def test_days(self, periods: list[float]) -> None:
        """A period of days is timedelta's, for ints and floats alike, in any order."""
        for days in [*periods, *periods]:
            assert _days(days) == timedelta(days=days)
            assert _days(int(days)) == timedelta(days=int(days))

    @given(
        st.lists(
            st.tuples(
                st.sampled_from([0, 1, 2]),
                st.sampled_from([0, 0.5, 1, 1.0, 7, 14, 14.0]),
            ),
            max_size=12,
        )
    )
    def test_a_draft_s_deadlines_are_start_plus_days(self, asks: list[tuple[int, float]]) -> None:
        """A draft's deadline is its start plus that many days, whatever was asked
        before it (other starts, equal starts that are other objects, other lengths);
        asked again from the same start object, the same object."""
        state = Engine(CITY, clock=ManualClock())._kernel.state.measures
        draft = MeasuresDraft(state, CITY, Rules.default())
        base = datetime(2022, 9, 17, tzinfo=UTC)
        # Start 1 is an equal but other object than start 0; start 2 another time.
        starts = [base, base.replace(), base + timedelta(hours=5)]
        last: dict[tuple[int, float], datetime] = {}
        for which, days in asks:
            got = draft.after(starts[which], days)
            assert got == starts[which] + timedelta(days=days)
            assert got.tzinfo is UTC
            if last.get((which, days)) is not None and draft._after_start is starts[which]:
                assert got == last[(which, days)]
            last[(which, days)] = got
        again = draft.after(starts[0], 3)
        assert draft.after(starts[0], 3) is again


class TestColdCaseReads:
    """What a case reads the first time it reaches a compound, a grid or an employer
    (each read once, then kept) is what the city's general reads give."""

    @settings(max_examples=60)
    @given(st.floats(min_value=0, max_value=1, allow_nan=False))
    def test_caps_of_every_organisation_are_staff_times_share(self, share: float) -> None:
        """Every organisation's cap is its staff x share, rounded down, as one
        organisation's was worked out before; asked again, the same table."""
        pools = Pools(CITY, 0)
        organisations = CITY.organisations
        caps = pools.caps(share)
        assert caps == {
            org: math.floor(staff * share)
            for org, staff in zip(organisations.ids, organisations.staff, strict=True)
        }
        assert pools.caps(share) is caps

    def test_grid_workers_and_front_line_posts_are_the_city_s(self) -> None:
        """A grid's workers are the grid workers posted there, in the city's order
        and its front-line post names the grid's community."""
        pools = Pools(CITY, 0)
        kind_of = CITY.people.kind
        sizes = set()
        for grid in CITY.chain.units(Level.GRID):
            workers = tuple(
                p for p in CITY.people_at_post(grid) if kind_of(p) is PersonKind.GRID_WORKER
            )
            assert pools.grid_workers(grid) == workers
            sizes.add(min(len(workers), 2))
            post = pools.front_line_post(grid)
            if workers:
                community = CITY.community_of(grid)
                assert post == (f"{grid}/front_line", "front_line", grid, community, len(workers))
            else:
                assert post is None
        assert sizes == {2}  # every grid of this city has several (one: the next test)

    @settings(max_examples=40, deadline=None)
    @given(city=cities())
    def test_every_unit_s_workers_and_post_are_there_before_any_is_asked_for(
        self, city: City
    ) -> None:
        """Made with the pools, at once: every unit's grid workers (those posted
        there, in the city's order) and its front-line post (the unit's community
        named, as many seats as workers); a unit without workers gets none when
        asked, and nothing is made for it before."""
        pools = Pools(city, 0)
        # The tables as made (by each unit's code, its place in the chain), read
        # before any method is asked.
        units = tuple(city.chain)
        assert list(map(pools._unit_code.__getitem__, units)) == list(range(len(units)))
        assert len(pools._front_line) == len(pools._workers) == len(units)
        made_posts, made_workers = list(pools._front_line), list(pools._workers)
        kind_of = city.people.kind
        for code, unit in enumerate(units):
            workers = tuple(
                p for p in city.people_at_post(unit) if kind_of(p) is PersonKind.GRID_WORKER
            )
            rows = tuple(map(city.people._index.__getitem__, workers))
            assert pools.grid_worker_rows(unit) == rows
            if not workers:
                assert made_posts[code] is None
                assert made_workers[code] == ()
                assert pools.grid_workers(unit) == ()
                assert pools.front_line_post(unit) is None
                continue
            assert made_workers[code] == workers
            community = city.community_of(unit)
            assert made_posts[code] == (
                f"{unit}/front_line",
                "front_line",
                unit,
                community,
                len(workers),
            )

    def test_a_city_with_one_grid_worker(self) -> None:
        """One worker in all is read as a tuple of one (an itemgetter of one gives the
        item); every other unit has none."""
        pools = Pools(CITY, 0)
        grid = next(g for g in CITY.chain.units(Level.GRID) if pools.grid_workers(g))
        code, starts = pools._unit_code[grid], pools._worker_starts
        row = pools._worker_rows[starts[code]]
        pools._worker_rows = array.array("i", [row])
        pools._worker_starts = array.array("q", [0] * (code + 1) + [1] * (len(starts) - code - 1))
        units = tuple(CITY.chain)
        pools._front_lines(units, _unit_tables(CITY.chain)[3], np.array(pools._worker_starts))
        assert pools.grid_workers(grid) == (CITY.people.ids[row],)
        assert pools.grid_worker_rows(grid) == (row,)
        assert pools.front_line_post(grid) == (
            f"{grid}/front_line",
            "front_line",
            grid,
            CITY.community_of(grid),
            1,
        )
        others = [u for u in units if u != grid]
        assert not any(map(pools.grid_workers, others))
        assert all(pools.front_line_post(u) is None for u in others)

    def test_something_not_a_unit_has_no_front_line_post(self) -> None:
        pools = Pools(CITY)
        assert pools.grid_workers("not-a-unit") == ()
        assert pools.front_line_post("not-a-unit") is None
        assert pools.grid_worker_rows("not-a-unit") == ()

    def test_a_draft_prints_each_due_time_as_its_own(self) -> None:
        """A draft remembers the due time it printed last by identity: another time,
        equal or not, in another zone, prints as its own isoformat."""
        engine = Engine(CITY, clock=ManualClock())
        draft = MeasuresDraft(engine._kernel.state.measures, CITY, engine.rules)
        utc = datetime(2022, 9, 17, 1, 30, tzinfo=UTC)
        east = utc.astimezone(timezone(timedelta(hours=8)))
        later = utc + timedelta(days=1)
        shanghai = utc.astimezone(ZoneInfo("Asia/Shanghai"))
        for when in (utc, utc, east, east, later, shanghai, utc, shanghai, None):
            assert draft.iso(when) == (None if when is None else when.isoformat())
            if when is not None:  # and the time its text reads back (a fixed offset)
                read = datetime.fromisoformat(when.isoformat())
                got = draft._iso_read
                assert got is not None
                assert (got, got.tzinfo) == (read, read.tzinfo)


def test_front_line_duty_skips_the_workers_away_and_takes_the_rest() -> None:
    """A grid's workers away are skipped, not the end of the list: every worker
    present goes on front-line duty, in the city's order, and only the seats of
    those away are a shortfall."""
    engine = Engine(CITY, clock=ManualClock())
    engine.set_availability({"grid_worker": 0.5}, seed=3)
    away = engine._kernel.state.roster._unavailable
    checked = 0
    for compound in COMPOUNDS[:40]:
        result = engine.report_case(compound)
        on_duty: dict[str, list[str]] = {}
        for event in result.changes("post.assigned"):
            if event.data["role"] == "front_line":
                on_duty.setdefault(event.data["post"], []).append(event.data["person"])
        missing = {
            e.data["post"]: e.data["missing"]
            for e in result.events
            if e.type.startswith("shortfall.") and e.data["post"].endswith("/front_line")
        }
        for post in result.changes("post.opened"):
            if post.data["role"] != "front_line":
                continue
            workers = engine._kernel.pools.grid_workers(post.unit)
            present = [p for p in workers if p not in away]
            assert on_duty.get(post.data["post"], []) == present
            assert missing.get(post.data["post"], 0) == len(workers) - len(present)
            checked += bool(present) and len(present) < len(workers)
        engine.lift(CITY.chain.city, skip_recovery=True)
    assert checked > 5

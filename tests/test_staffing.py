"""Staffing: posts from zones, pools and their order, claiming, release, replay.

Expectations are computed here from the city's own records (households per
building, entrances, homes, employers, normal posts), never by calling the
planner under test.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from gridgov import (
    City,
    Engine,
    GridgovError,
    Level,
    ManualClock,
    NotFoundError,
    PersonKind,
    Rules,
    UnknownUnitError,
)
from gridgov.model import People
from gridgov.presets import URBAN_AREA, small
from gridgov.rules import StaffingRule
from gridgov.staffing import (
    CLAIMABLE,
    ROLE_KIND,
    Pools,
    _Groups,
    _unit_tables,
    _worker_spans,
    required_posts,
)
from gridgov.synthesis import _PERSON_NUMBERS
from gridgov.vocabulary import ROLES

CITY = small()
CHAIN = CITY.chain
COMPOUNDS = sorted(CITY.compounds)
COMMUNITIES = CHAIN.units("community")
EAST = "990101001001"
WEST = "990101001002"
VILLAGE = "990101201201"
STREET = "990101001"
TOWNSHIP = "990101201"
DAY = timedelta(days=1)
T0 = datetime(2021, 9, 17, tzinfo=UTC)
TASK_KIND = "medicine_delivery"

#: Households of each compound, from its buildings.
HOUSEHOLDS: dict[str, int] = Counter()
for _building in CITY.buildings.values():
    if _building.compound is not None:
        HOUSEHOLDS[_building.compound] += _building.households


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def members_of(community: str) -> list[str]:
    """In-service members registered at ``community``, by id."""
    return sorted(
        p.id
        for p in CITY.people.values()
        if p.kind is PersonKind.IN_SERVICE_MEMBER and p.home == community
    )


def workers_at(grid: str, city: City = CITY) -> list[str]:
    """Grid workers whose normal post is ``grid``."""
    return sorted(
        p.id
        for p in city.people.values()
        if p.kind is PersonKind.GRID_WORKER and p.normal_post.unit == grid
    )


def expected_posts(compound: str, zone: str, rule: StaffingRule) -> dict[str, int]:
    """Post id -> capacity a compound in ``zone`` needs, worked out from its records."""
    households = HOUSEHOLDS[compound]
    entrances = CITY.compounds[compound].entrances
    sizes = {
        "point_lead": 1,
        "building_lead": ceil_div(households, rule.households_per_building_lead),
        "checkpoint": entrances * rule.checkpoint_shifts,
        "registration": ceil_div(households, rule.households_per_registration),
        "disinfection": rule.disinfection_per_compound,
        "volunteer": ceil_div(households, rule.households_per_volunteer),
    }
    return {
        f"{compound}/{role}": sizes[role]
        for role in rule.posts.get(zone, ())
        if role != "front_line" and sizes[role] > 0
    }


def state(engine: Engine) -> tuple[dict[str, Any], int]:
    """What a refused command must leave untouched: the state, and the journal but
    for its refusal (each refusal is one ``command.refused`` event)."""
    events = list(engine.journal)
    return engine.snapshot(), sum(1 for e in events if e.type != "command.refused")


def assert_only_refusal_recorded(engine: Engine, before: tuple[dict[str, Any], int]) -> None:
    """A command refused for lack of authority changes no state; at most it leaves
    ``command.refused`` audit events in the journal."""
    snapshot, length = before
    now = engine.snapshot()
    assert {k: v for k, v in now.items() if k != "commands"} == {
        k: v for k, v in snapshot.items() if k != "commands"
    }
    assert {e.type for e in list(engine.journal)[length:]} <= {"command.refused"}


def staffing_events(engine: Engine) -> list[tuple[str, str, str]]:
    """(type, person, post) of every assignment and release, in journal order."""
    return [
        (e.type, e.data["person"], e.data["post"])
        for e in engine.journal
        if e.type in ("post.assigned", "post.released")
    ]


def is_board_task(post_id: str) -> bool:
    return "/task/" in post_id


# ------------------------------------------------------------ invariant checks


def in_pool(level: str, person_id: str, community: str, city: City = CITY) -> bool:
    """Whether the pool of ``level`` seen from ``community`` may hold ``person_id``.

    Worked out from where the person lives and works: the community's
    residents and office; its big party committee's organisations; the
    street's, district's or city's residents and offices.
    """
    chain = city.chain
    person = city.people[person_id]
    office = person.normal_post.unit if person.normal_post.unit in chain else None
    lives = chain.chain_of_command(person.home)
    works = chain.chain_of_command(office) if office is not None else ()
    if level == "community":
        return person.home == community or office == community
    if level == "big_party_committee":
        return person.employer in city.big_party_committee(community).members
    if level == "street":
        street = chain.street_of(community)
        return street in lives or street in works
    if level == "district":
        district = chain.district_of(community)
        return district in lives or district in works
    return level == "city"


def check_roster(engine: Engine) -> None:
    """The staffing invariants of DESIGN.md, checked on an engine's live state."""
    city, roster, rule = engine.city, engine.roster, engine.rules.staffing
    # A person holds at most one active post: holders and assignments agree.
    held: Counter[str] = Counter()
    for post_id, holders in roster.holders.items():
        assert post_id in roster.posts, f"holders of closed post {post_id}"
        assert len(holders) <= roster.posts[post_id].capacity, post_id
        held.update(holders)
        for person in holders:
            assert roster.assignment[person][0].post == post_id, (person, post_id)
    assert max(held.values(), default=0) <= 1, held.most_common(3)
    assert set(held) == set(roster.assignment)
    # Every sealed compound has exactly one point lead, or an open shortfall for it.
    for compound in engine.under("sealed"):
        if "point_lead" not in rule.posts.get("sealed", ()):
            continue
        post = f"{compound}/point_lead"
        leads = roster.holder_of(post)
        short = roster.shortfalls.get(post)
        assert (len(leads) == 1) != (short is not None and short.missing == 1), (
            compound,
            leads,
            short,
        )
        assert engine.commander_of(compound) == (leads[0] if leads else None)
    # No silent gap: every empty seat the planner is to fill is a recorded shortfall.
    for post_id, post in roster.posts.items():
        if is_board_task(post_id) or (post.role in CLAIMABLE and not rule.auto_claim):
            continue
        short = roster.shortfalls.get(post_id)
        assert roster.missing(post_id) == (short.missing if short else 0), (post_id, short)
    # Nobody of the wrong kind, nobody from outside the pools the rules allow.
    for person_id, (assignment, _) in roster.assignment.items():
        person = city.people[person_id]
        post = roster.posts[assignment.post]
        assert assignment.role == post.role
        assert person.kind is ROLE_KIND.get(post.role, PersonKind.IN_SERVICE_MEMBER), (
            person_id,
            person.kind,
            post.role,
        )
        if assignment.level == "grid":
            assert post.role == "front_line"
            assert person.normal_post.unit == post.unit
        elif assignment.level == "claim":
            assert person.home == post.community, (person_id, post.id)
        else:
            assert assignment.level in rule.pools, assignment
            assert in_pool(assignment.level, person_id, post.community, city), assignment
    # The employer cap holds for everyone drawn, by the planner or by a claim.
    drawn = Counter(
        city.people[p].employer
        for p, (a, _) in roster.assignment.items()
        if a.role != "front_line" and city.people[p].employer is not None
    )
    assert {k: v for k, v in roster.drawn.items() if v} == dict(drawn)
    for employer, n in drawn.items():
        staff = city.organisations[employer or ""].staff
        assert n <= math.floor(staff * rule.max_staff_share), (employer, n, staff)
    # Open shortfalls are for open posts.
    for post_id, short in roster.shortfalls.items():
        assert post_id in roster.posts, post_id
        assert short.missing > 0


def check_posts_follow_zones(engine: Engine) -> None:
    """Open posts are exactly those the zones ask for; board tasks aside, and a zone's
    task may have been completed early."""
    rule = engine.rules.staffing
    zones = engine.zones()
    want: dict[str, int] = {}
    hot_zones = {z for z, roles in rule.posts.items() if "front_line" in roles}
    hot_grids: set[str] = set()
    for compound, zone in zones.items():
        want.update(expected_posts(compound, zone, rule))
        if zone in hot_zones:
            hot_grids.update(CITY.grids_of_compound(compound))
    for grid in hot_grids:
        if workers_at(grid):
            want[f"{grid}/front_line"] = len(workers_at(grid))
    have = {p.id: p.capacity for p in engine.roster.posts.values() if not is_board_task(p.id)}
    done = {p for p in want.keys() - have.keys() if p.rsplit("/", 1)[1] in CLAIMABLE}
    assert have == {p: n for p, n in want.items() if p not in done}
    for grid in hot_grids:
        assert sorted(engine.roster.holder_of(f"{grid}/front_line")) == workers_at(grid)


def check_history(engine: Engine) -> None:
    """Assignments and releases of each person alternate and match the live roster."""
    last: dict[str, tuple[str, str]] = {}
    for kind, person, post in staffing_events(engine):
        before = last.get(person)
        if kind == "post.assigned":
            assert before is None or before[0] == "post.released", (person, before, post)
        else:
            assert before is not None, (person, post)
            assert before == ("post.assigned", post), (person, before, post)
        last[person] = (kind, post)
    busy = {p: post for p, (kind, post) in last.items() if kind == "post.assigned"}
    assert busy == {p: a.post for p, (a, _) in engine.roster.assignment.items()}


# ------------------------------------------------------------------- posts


class TestRequiredPosts:
    """Posts per zone are sized from households, entrances and the rules' ratios."""

    @pytest.mark.parametrize("compound", COMPOUNDS)
    @pytest.mark.parametrize("zone", ["sealed", "controlled", "precaution", "open"])
    def test_default_sizes(self, compound: str, zone: str) -> None:
        """Default rules: sizes follow the compound's own households and entrances."""
        rule = StaffingRule()
        got = {p.id: p.capacity for p in required_posts(CITY, compound, zone, rule)}
        households = HOUSEHOLDS[compound]
        entrances = CITY.compounds[compound].entrances
        by_zone = {
            "sealed": {
                "point_lead": 1,
                "building_lead": math.ceil(households / 120),
                "checkpoint": 3 * entrances,
                "registration": math.ceil(households / 120),
                "disinfection": 2,
                "volunteer": math.ceil(households / 200),
            },
            "controlled": {
                "building_lead": math.ceil(households / 120),
                "checkpoint": 3 * entrances,
                "registration": math.ceil(households / 120),
            },
            "precaution": {},
            "open": {},
        }
        assert got == {f"{compound}/{r}": n for r, n in by_zone[zone].items()}

    def test_posts_belong_to_the_compound_and_community(self) -> None:
        """Every post names its compound as unit and the compound's community."""
        for compound in COMPOUNDS:
            for post in required_posts(CITY, compound, "sealed", StaffingRule()):
                assert post.unit == compound
                assert post.community == CITY.compounds[compound].community
                assert post.id == f"{compound}/{post.role}"

    def test_ratios_from_the_rules(self) -> None:
        """Other ratios in the rules give other sizes."""
        rule = StaffingRule(
            households_per_building_lead=10,
            households_per_registration=50,
            disinfection_per_compound=5,
            checkpoint_shifts=4,
            households_per_volunteer=25,
        )
        compound = max(COMPOUNDS, key=HOUSEHOLDS.__getitem__)
        households = HOUSEHOLDS[compound]
        got = {p.role: p.capacity for p in required_posts(CITY, compound, "sealed", rule)}
        assert got == {
            "point_lead": 1,
            "building_lead": ceil_div(households, 10),
            "checkpoint": 4 * CITY.compounds[compound].entrances,
            "registration": ceil_div(households, 50),
            "disinfection": 5,
            "volunteer": ceil_div(households, 25),
        }

    @given(
        st.lists(
            st.tuples(
                st.integers(1, 300),
                st.integers(1, 300),
                st.integers(0, 6),
                st.integers(0, 5),
                st.integers(1, 300),
                st.booleans(),
            ),
            min_size=2,
            max_size=4,
        ),
        st.sampled_from(COMPOUNDS),
    )
    def test_each_rules_sizes_whichever_rules_were_asked_before(
        self, ratios: list[tuple[int, int, int, int, int, bool]], compound: str
    ) -> None:
        """The sizing worked out once per rules and zone is each rules' own: rules asked
        for in turn (twice round) size the posts by their own ratios and roles."""
        rules = [
            StaffingRule(
                posts={"sealed": ("volunteer", "point_lead", "checkpoint")} if other else {},
                households_per_building_lead=lead,
                households_per_registration=registration,
                disinfection_per_compound=disinfection,
                checkpoint_shifts=shifts,
                households_per_volunteer=volunteer,
            )
            if other
            else StaffingRule(
                households_per_building_lead=lead,
                households_per_registration=registration,
                disinfection_per_compound=disinfection,
                checkpoint_shifts=shifts,
                households_per_volunteer=volunteer,
            )
            for lead, registration, disinfection, shifts, volunteer, other in ratios
        ]
        households = max(1, HOUSEHOLDS[compound])
        entrances = CITY.compounds[compound].entrances
        for staffing in rules + rules:
            sizes = {
                "point_lead": 1,
                "building_lead": math.ceil(households / staffing.households_per_building_lead),
                "checkpoint": entrances * staffing.checkpoint_shifts,
                "registration": math.ceil(households / staffing.households_per_registration),
                "disinfection": staffing.disinfection_per_compound,
                "volunteer": math.ceil(households / staffing.households_per_volunteer),
            }
            for zone in ("sealed", "controlled"):
                expected = [
                    (f"{compound}/{role}", sizes[role])
                    for role in staffing.posts.get(zone, ())
                    if role != "front_line" and sizes[role] > 0
                ]
                got = [(p.id, p.capacity) for p in required_posts(CITY, compound, zone, staffing)]
                assert got == expected, (zone, staffing)

    def test_zone_roles_from_the_rules(self) -> None:
        """A zone asks only for the roles the rules list for it."""
        rule = StaffingRule(posts={"sealed": ("point_lead",), "controlled": ("volunteer",)})
        compound = COMPOUNDS[0]
        assert [p.role for p in required_posts(CITY, compound, "sealed", rule)] == ["point_lead"]
        assert [p.role for p in required_posts(CITY, compound, "controlled", rule)] == ["volunteer"]
        assert required_posts(CITY, compound, "precaution", rule) == []

    def test_engine_opens_the_posts_with_the_seal(self) -> None:
        """Sealing a compound opens its posts and its grids' front-line duty in the
        same command as the zone change."""
        engine = Engine(CITY, clock=ManualClock())
        compound = f"{EAST}-C01"
        result = engine.declare(compound)
        opened = {e.data["post"]: e.data["capacity"] for e in result.changes("post.opened")}
        want = expected_posts(compound, "sealed", StaffingRule())
        for grid in CITY.grids_of_compound(compound):
            want[f"{grid}/front_line"] = len(workers_at(grid))
        assert opened == want
        assert {e.command for e in result.events} == {result.command}
        check_posts_follow_zones(engine)
        check_roster(engine)


# ------------------------------------------------------------------ filling


SHIFTS = 32
CLAIMED = 5


def shortage_engine() -> tuple[Engine, str]:
    """West needs more checkpoint seats than its members can give; East's task board
    holds CLAIMED East members."""
    rules = Rules(
        staffing=StaffingRule(
            posts={"sealed": ("point_lead", "checkpoint"), "controlled": (), "precaution": ()},
            checkpoint_shifts=SHIFTS,
        )
    )
    engine = Engine(CITY, rules, clock=ManualClock())
    open_board(engine, EAST)
    task = engine.post_task(EAST, TASK_KIND, capacity=CLAIMED).events[0].data["post"]
    for member in members_of(EAST)[:CLAIMED]:
        engine.claim(task, member)
    return engine, task


class TestFillingOrder:
    """Nearest pools first; reinforcement climbs the chain; what is left is a shortfall."""

    def test_shortage_climbs_the_chain_then_records_a_shortfall(self) -> None:
        """West's own members go first, then its big party committee's and the street's,
        with a request and an answer per hop; the rest is a shortfall, not an error."""
        engine, _ = shortage_engine()
        post = f"{WEST}-C01/checkpoint"
        seats = SHIFTS * CITY.compounds[f"{WEST}-C01"].entrances
        free = sum(1 for p in CITY.people.values() if p.kind is PersonKind.IN_SERVICE_MEMBER)
        free -= CLAIMED
        assert seats > free, "the scenario needs more seats than free members"
        result = engine.declare(f"{WEST}-C01")
        levels = [
            e.data["level"] for e in result.changes("post.assigned") if e.data["post"] == post
        ]
        assert len(levels) == free
        order = list(engine.rules.staffing.pools)
        assert levels == sorted(levels, key=order.index), "pools are tried in order"
        assert levels.count("community") == len(members_of(WEST))
        assert levels.count("big_party_committee") > 0
        assert levels.count("street") > 0
        # One request and one answer per hop, each answer what the levels above gave.
        requested = result.changes("reinforcement.requested")
        answered = result.changes("reinforcement.answered")
        hops = [(e.data["level"], e.data["to"]) for e in requested]
        assert hops == [
            ("big_party_committee", f"{WEST}/bpc"),
            ("street", STREET),
            ("district", CHAIN.district_of(WEST)),
            ("city", CHAIN.city),
        ]
        assert [e.unit for e in answered] == [to for _, to in hops]
        missing = seats - free
        for depth, (ask, answer) in enumerate(zip(requested, answered, strict=True)):
            below = sum(1 for lv in levels if order.index(lv) <= depth)
            assert ask.data["requested"] == seats - below
            assert answer.data["requested"] == ask.data["requested"]
            assert answer.data["granted"] == ask.data["requested"] - missing
        # The shortfall is an event and a roster entry.
        (opened,) = result.changes("shortfall.opened")
        assert opened.data == {
            "post": post,
            "role": "checkpoint",
            "community": WEST,
            "missing": missing,
        }
        assert "community, big_party_committee, street, district, city" in opened.cause
        short = engine.roster.shortfalls[post]
        assert (short.missing, short.unit, short.community) == (missing, f"{WEST}-C01", WEST)
        assert engine.response_counts()["shortfall_seats"] == missing
        rows = engine.posts_report(level="compound")
        (row,) = [r for r in rows if r["role"] == "checkpoint"]
        assert (row["needed"], row["filled"], row["short"]) == (seats, free, missing)
        check_roster(engine)

    def test_staff_fills_the_shortfall_once_people_are_free(self) -> None:
        """When East's task is done, staff() draws the freed members and closes the
        shortfall; the replayed engine agrees."""
        engine, task = shortage_engine()
        engine.declare(f"{WEST}-C01")
        post = f"{WEST}-C01/checkpoint"
        missing = engine.roster.shortfalls[post].missing
        assert missing <= CLAIMED
        engine.complete_task(task)
        assert post in engine.roster.shortfalls, "completing a task does not re-staff"
        result = engine.staff()
        assigned = [e.data["person"] for e in result.changes("post.assigned")]
        assert len(assigned) == missing
        assert set(assigned) <= set(members_of(EAST)[:CLAIMED])
        (closed,) = result.changes("shortfall.closed")
        assert closed.data["post"] == post
        assert closed.data["missing"] == 0
        assert engine.roster.shortfalls == {}
        assert engine.roster.missing(post) == 0
        assert engine.response_counts()["shortfall_seats"] == 0
        check_roster(engine)
        again = Engine.replay(CITY, list(engine.journal), engine.rules, engine.clock)
        assert again.snapshot() == engine.snapshot()

    def test_closed_shortfall_says_why_it_closed(self) -> None:
        """The event that closes a shortfall does not repeat the reason it opened."""
        engine, task = shortage_engine()
        engine.declare(f"{WEST}-C01")
        engine.complete_task(task)
        (closed,) = engine.staff().changes("shortfall.closed")
        assert not closed.cause.startswith("no free")
        assert "filled" in closed.cause

    def test_claims_and_hand_backs_keep_the_shortfall_in_step(self) -> None:
        """A seat claimed on a short post brings its shortfall down, a seat handed back
        brings it up, each with a shortfall event; the counts agree with the report."""
        engine, _ = shortage_engine()
        open_board(engine, WEST)
        board = engine.post_task(WEST, TASK_KIND).events[0].data["post"]
        member = members_of(WEST)[0]
        engine.claim(board, member)
        engine.declare(f"{WEST}-C01")
        post = f"{WEST}-C01/checkpoint"
        missing = engine.roster.shortfalls[post].missing
        assert missing == engine.roster.missing(post) > 0
        engine.hand_back(member)
        claimed = engine.claim(post, member)
        (update,) = [e for e in claimed.events if e.type.startswith("shortfall.")]
        assert (update.type, update.data["missing"]) == ("shortfall.updated", missing - 1)
        assert engine.roster.shortfalls[post].missing == engine.roster.missing(post)
        handed = engine.hand_back(member)
        (update,) = [e for e in handed.events if e.type.startswith("shortfall.")]
        assert (update.type, update.data["missing"]) == ("shortfall.updated", missing)
        assert engine.response_counts()["shortfall_seats"] == sum(
            r["short"] for r in engine.posts_report() if r["role"] == "checkpoint"
        )
        check_roster(engine)

    def test_hand_back_on_a_full_post_opens_a_shortfall(self) -> None:
        """Under auto_claim, a seat handed back on a full zone task is a shortfall that
        staff() fills again."""
        engine = Engine(CITY, clock=ManualClock())
        engine.declare(f"{WEST}-C01")
        post = f"{WEST}-C01/checkpoint"
        member = engine.roster.holder_of(post)[0]
        (opened,) = engine.hand_back(member).changes("shortfall.opened")
        assert opened.data["missing"] == 1 == engine.roster.missing(post)
        refilled = engine.staff()
        assert len(refilled.changes("post.assigned")) == 1
        assert len(refilled.changes("shortfall.closed")) == 1
        assert engine.roster.missing(post) == 0
        check_roster(engine)

    def test_staff_with_nothing_short_records_nothing(self) -> None:
        """staff() with no open shortfall is a no-op: no event, no command id used."""
        engine = Engine(CITY, clock=ManualClock())
        engine.declare(f"{EAST}-C01")
        before = state(engine)
        assert engine.staff().events == ()
        assert state(engine) == before

    def test_release_refills_shortfalls_in_the_same_command(self) -> None:
        """Lifting a compound whose people are needed elsewhere moves them there at once."""
        engine, task = shortage_engine()
        engine.complete_task(task)
        engine.declare(f"{EAST}-C02")
        engine.declare(f"{WEST}-C01")
        assert f"{WEST}-C01/checkpoint" in engine.roster.shortfalls
        result = engine.lift(f"{EAST}-C02", skip_recovery=True)
        released = {e.data["person"] for e in result.changes("post.released")}
        refilled = {
            e.data["person"]
            for e in result.changes("post.assigned")
            if e.data["post"] == f"{WEST}-C01/checkpoint"
        }
        assert refilled
        assert refilled <= released
        check_roster(engine)

    def test_point_lead_shortfall_when_no_pool_can_give_a_cadre(self) -> None:
        """With only big party committees as pools and a tiny employer share, a village
        compound gets no point lead: a shortfall for it, and the compound still sealed."""
        rules = Rules(staffing=StaffingRule(pools=("big_party_committee",), max_staff_share=0.005))
        engine = Engine(CITY, rules, clock=ManualClock())
        result = engine.declare(VILLAGE)
        for compound in CITY.compounds_of(VILLAGE):
            assert engine.zone(compound) == "sealed"
            assert engine.commander_of(compound) is None
            assert engine.roster.shortfalls[f"{compound}/point_lead"].missing == 1
        posts = {e.data["post"] for e in result.changes("shortfall.opened")}
        assert {f"{c}/point_lead" for c in CITY.compounds_of(VILLAGE)} <= posts
        assert result.changes("reinforcement.requested") == []
        check_roster(engine)

    def test_employer_cap(self) -> None:
        """No organisation gives more than max_staff_share of its staff."""
        rules = Rules(staffing=StaffingRule(max_staff_share=0.02))
        engine = Engine(CITY, rules, clock=ManualClock())
        engine.declare(TOWNSHIP)
        engine.declare(STREET)
        drawn = Counter(
            CITY.people[p].employer
            for p, (a, _) in engine.roster.assignment.items()
            if a.role != "front_line" and CITY.people[p].employer is not None
        )
        assert drawn, "the scenario draws from organisations"
        for employer, n in drawn.items():
            assert n <= math.floor(CITY.organisations[employer].staff * 0.02), employer
        assert any(n == math.floor(CITY.organisations[e].staff * 0.02) for e, n in drawn.items()), (
            "the cap binds somewhere"
        )
        check_roster(engine)

    def test_people_released_give_their_employers_room_back_in_the_same_plan(self) -> None:
        """A plan that releases every post of a township and fills a street's posts
        fills them as on an empty roster: each person released gives a seat back to
        their employer's cap at once (the caps bind: see test_employer_cap)."""
        from gridgov.staffing import Roster, plan_staffing

        rules = Rules(staffing=StaffingRule(max_staff_share=0.02))
        engine = Engine(CITY, rules, clock=ManualClock())
        engine.declare(TOWNSHIP)
        roster = engine._kernel.state.roster
        assert any(roster._drawn.values()), "the township draws from organisations"
        pools, rule = engine._kernel.pools, rules.staffing
        street = {c: ("open", "sealed") for c in CITY.compounds_of(STREET)}
        township = {c: ("sealed", "open") for c in CITY.compounds_of(TOWNSHIP)}
        both = plan_staffing(CITY, pools, roster, {**township, **street}, rule)
        alone = plan_staffing(CITY, pools, Roster(CITY), street, rule)
        assert both.releases, "the township's people are released"
        assert {a.person for a in alone.assignments} & {r.person for r in both.releases}
        assert both.assignments == alone.assignments
        assert both.shortfalls == alone.shortfalls

    def test_front_line_is_the_grid_team(self) -> None:
        """A hot compound switches every grid worker of its grids to front-line duty;
        a grid shared by two hot compounds keeps its team until both cool down."""
        engine = Engine(CITY, clock=ManualClock())
        first, second = f"{EAST}-C02", f"{EAST}-C03"
        (grid,) = set(CITY.grids_of_compound(first)) & set(CITY.grids_of_compound(second))
        engine.declare(first)
        engine.declare(second, "controlled")
        team = workers_at(grid)
        assert sorted(engine.roster.holder_of(f"{grid}/front_line")) == team
        for worker in team:
            post, _ = engine.doing(worker)
            assert (post.role, post.unit) == ("front_line", grid)
        engine.lift(first, skip_recovery=True)
        assert sorted(engine.roster.holder_of(f"{grid}/front_line")) == team
        engine.lift(second, skip_recovery=True)
        assert f"{grid}/front_line" not in engine.roster.posts
        for worker in team:
            assert engine.doing(worker)[0] == CITY.people[worker].normal_post
        assert engine.response_counts()["grid_workers_front_line"] == 0


@pytest.fixture(scope="module")
def jiamusi_pools(jiamusi_city: City) -> Pools:
    """The Jiamusi preset's pools, built once."""
    return Pools(jiamusi_city, seed=0)


class TestPools:
    """Who is in each pool, nearest first, seen from one community."""

    @pytest.mark.parametrize("kind", [PersonKind.CADRE, PersonKind.IN_SERVICE_MEMBER])
    @pytest.mark.parametrize("community", COMMUNITIES)
    def test_pools_hold_what_their_level_says(self, community: str, kind: PersonKind) -> None:
        """Community: residents and its office; big party committee: staff of its
        co-building organisations; every pool only people of the kind asked."""
        pools = Pools(CITY, seed=0)
        people = CITY.people.values()
        mine = {
            p.id for p in people if p.kind is kind and community in (p.home, p.normal_post.unit)
        }
        bpc = set(CITY.big_party_committee(community).members)
        staff = {p.id for p in people if p.kind is kind and p.employer in bpc}
        assert set(pools.candidates("community", community, kind)) == mine
        assert set(pools.candidates("big_party_committee", community, kind)) == staff
        for level in ("street", "district", "city"):
            got = pools.candidates(level, community, kind)
            assert {CITY.people[p].kind for p in got} <= {kind}
            assert all(in_pool(level, p, community) for p in got), level
        everyone = {p.id for p in people if p.kind is kind}
        assert set(pools.candidates("city", community, kind)) == everyone

    def test_street_pool_is_nearest_first(self, jiamusi_city: City, jiamusi_pools: Pools) -> None:
        """In a street of many communities, neighbours come before communities further
        along the street; the street office's cadres are in the pool."""
        chain = jiamusi_city.chain
        street = max(chain.units("street"), key=lambda s: len(chain.children(s, "community")))
        order = list(chain.children(street, "community"))
        assert len(order) >= 5
        here = order[len(order) // 2]
        far = len(order)

        def distance(person_id: str) -> int:
            person = jiamusi_city.people[person_id]
            places = [
                abs(order.index(u) - order.index(here))
                for u in (person.home, person.normal_post.unit)
                if u in order and u != here
            ]
            return min(places, default=far)

        seen: set[str] = set()
        first: list[int] = []
        for person in jiamusi_pools.candidates("street", here, PersonKind.CADRE):
            if person not in seen:
                seen.add(person)
                first.append(distance(person))
        assert first == sorted(first)
        assert first[0] == 1
        office = {
            p.id
            for p in jiamusi_city.people.values()
            if p.kind is PersonKind.CADRE and p.normal_post.unit == street
        }
        assert office, "the street has an office"
        assert office <= seen
        assert all(in_pool("street", p, here, jiamusi_city) for p in seen)

    def test_unit_tables_agree_with_the_chain_unit_by_unit(self) -> None:
        """The pools' codes of the units (their place in the chain), and by code: an
        office (street, district, city), a community, and the community's district's
        code; one more code for "not a unit"."""
        units, code, office, community, district = _unit_tables(CHAIN)
        assert list(units) == list(CHAIN)
        none = len(units)
        assert list(map(code.__getitem__, units)) == list(range(none))
        offices = {Level.STREET, Level.DISTRICT, Level.CITY}
        levels = [CHAIN.level(u) for u in units]
        assert office.tolist() == [lv in offices for lv in levels] + [False]
        assert community.tolist() == [lv is Level.COMMUNITY for lv in levels] + [False]
        places = list(CHAIN)
        expected = [
            places.index(CHAIN.district_of(u)) if lv is Level.COMMUNITY else none
            for u, lv in zip(units, levels, strict=True)
        ]
        assert district.tolist() == [*expected, none]

    def test_a_synthesised_city_says_its_ids_are_sorted_when_they_are(self) -> None:
        """The preset's people say their ids are in sorted order (the pools then skip
        comparing them), and they are; the same columns given without saying so
        (the pools compare the ids) give the same ranks and pools."""
        people = CITY.people
        assert people._ids_sorted
        assert list(people.ids) == sorted(people.ids)
        # The synthesiser's bound: the last number that keeps 7 digits.
        assert len(f"P{_PERSON_NUMBERS - 1:07d}") == 8
        assert len(f"P{_PERSON_NUMBERS:07d}") == 9
        plain = People(*people._columns())
        assert not plain._ids_sorted
        rebuilt = City(CITY.name, CHAIN, CITY.compounds, CITY.buildings, plain, CITY.organisations)
        mine, theirs = Pools(CITY, seed=2), Pools(rebuilt, seed=2)
        assert [theirs.rank(p) for p in people.ids] == [mine.rank(p) for p in people.ids]
        for community in COMMUNITIES:
            for kind in PersonKind:
                for level in ("community", "big_party_committee", "street", "district", "city"):
                    assert theirs.candidates(level, community, kind) == mine.candidates(
                        level, community, kind
                    )

    def test_unknown_level(self) -> None:
        """A pool level that does not exist is a GridgovError naming the levels."""
        with pytest.raises(GridgovError, match="unknown pool level 'galaxy'"):
            Pools(CITY).candidates("galaxy", EAST, PersonKind.CADRE)

    @pytest.mark.parametrize("seed", [0, 5])
    def test_ranks_follow_the_seeded_shuffle_of_sorted_ids(self, seed: int) -> None:
        """rank(person) is its place once the sorted ids are shuffled with the seed."""
        ids = sorted(CITY.people)
        random.Random(seed).shuffle(ids)
        pools = Pools(CITY, seed=seed)
        assert [pools.rank(p) for p in ids] == list(range(len(ids)))

    @pytest.mark.parametrize("seed", [0, 3])
    def test_pools_do_not_depend_on_the_order_people_are_listed_in(self, seed: int) -> None:
        """The same people listed in another order give the same pools, in rank order."""
        listed = dict(reversed(list(CITY.people.items())))
        shuffled = City(
            CITY.name, CHAIN, CITY.compounds, CITY.buildings, listed, CITY.organisations
        )
        assert list(shuffled.people.ids) != sorted(shuffled.people.ids)
        mine, theirs = Pools(CITY, seed=seed), Pools(shuffled, seed=seed)
        levels = ("community", "big_party_committee", "street", "district", "city")
        for community in COMMUNITIES:
            for kind in PersonKind:
                for level in levels:
                    got = theirs.candidates(level, community, kind)
                    assert got == mine.candidates(level, community, kind)
                    ranks = [mine.rank(p) for p in got]
                    if level in ("community", "big_party_committee"):
                        assert ranks == sorted(ranks)


# -------------------------------------------------------------- determinism


def _declare_lift_script(engine: Engine) -> None:
    engine.report_case(f"{EAST}-C01")
    engine.declare(STREET, "controlled")
    engine.declare(TOWNSHIP)
    engine.lift(WEST, skip_recovery=True)
    engine.advance(engine.clock.now() + 15 * DAY)


class TestDeterminism:
    """Same state and seed, same plan; another seed, other people."""

    def test_same_seed_same_events(self) -> None:
        """Two engines given the same commands record identical journals."""
        a = Engine(CITY, clock=ManualClock(), seed=7)
        b = Engine(CITY, clock=ManualClock(), seed=7)
        _declare_lift_script(a)
        _declare_lift_script(b)
        assert list(a.journal) == list(b.journal)
        assert a.snapshot() == b.snapshot()

    def test_other_seed_other_people(self) -> None:
        """Over several seeds the same seal picks different people (ties broken by seed),
        always from the same pool levels."""
        picks = []
        for seed in range(5):
            engine = Engine(small(), clock=ManualClock(), seed=seed)
            engine.declare(STREET)
            picks.append(sorted((a.post, a.person) for a, _ in engine.roster.assignment.values()))
            check_roster(engine)
        assert len({tuple(p) for p in picks}) > 1

    def test_reseal_after_release_picks_the_same_people(self) -> None:
        """Sealing, lifting and sealing again gives the same assignments."""
        engine = Engine(CITY, clock=ManualClock(), seed=3)
        engine.declare(STREET)
        first = {p: a for p, (a, _) in engine.roster.assignment.items()}
        engine.lift(STREET, skip_recovery=True)
        assert engine.roster.assignment == {}
        engine.declare(STREET)
        assert {p: a for p, (a, _) in engine.roster.assignment.items()} == first

    def test_replay_with_the_seed_goes_on_identically(self) -> None:
        """A replayed engine (same rules and seed) plans the next seal like the original."""
        clock = ManualClock()
        engine = Engine(CITY, clock=clock, seed=5)
        engine.declare(WEST)
        again = Engine.replay(CITY, list(engine.journal), engine.rules, clock, seed=5)
        assert again.snapshot() == engine.snapshot()
        a = engine.declare(EAST)
        b = again.declare(EAST)
        assert a.events == b.events


# ----------------------------------------------------------------- claiming


def open_board(engine: Engine, community: str) -> None:
    """Put a community on alert (precaution, held) so its task board is open."""
    if engine.mode(community) == "normal":
        engine.declare(community, "precaution", hold=True)


def board_engine() -> Engine:
    """An engine whose tasks wait on the board (auto_claim off), East sealed."""
    rules = Rules(staffing=StaffingRule(auto_claim=False))
    engine = Engine(CITY, rules, clock=ManualClock())
    engine.declare(f"{EAST}-C01")
    return engine


class TestClaiming:
    """In-service members claim tasks from their home community's board."""

    def test_tasks_wait_on_the_board_without_auto_claim(self) -> None:
        """With auto_claim off, task posts open empty and are not shortfalls."""
        engine = board_engine()
        for role in CLAIMABLE:
            post = f"{EAST}-C01/{role}"
            assert post in engine.roster.posts
            assert engine.roster.holder_of(post) == ()
            assert post not in engine.roster.shortfalls
        assert engine.roster.holder_of(f"{EAST}-C01/point_lead") != ()

    def test_claim_and_doing(self) -> None:
        """A claim is an event at the clock's time; doing() reports it."""
        engine = board_engine()
        member = members_of(EAST)[0]
        engine.clock.advance(timedelta(hours=2))
        result = engine.claim(f"{EAST}-C01/checkpoint", member)
        (event,) = result.events
        assert event.type == "post.assigned"
        assert event.data == {
            "person": member,
            "post": f"{EAST}-C01/checkpoint",
            "role": "checkpoint",
            "level": "claim",
        }
        assert event.actor == member
        post, since = engine.doing(member)
        assert (post.role, post.unit, since) == ("checkpoint", f"{EAST}-C01", engine.clock.now())
        check_roster(engine)

    def test_one_task_at_a_time(self) -> None:
        """A member already on a task cannot claim another; nothing changes."""
        engine = board_engine()
        member = members_of(EAST)[0]
        engine.claim(f"{EAST}-C01/checkpoint", member)
        before = state(engine)
        with pytest.raises(GridgovError, match=f"{member} already holds .*one task at a time"):
            engine.claim(f"{EAST}-C01/registration", member)
        assert state(engine) == before

    def test_capacity(self) -> None:
        """A task takes at most its capacity; hand_back frees a seat for someone else."""
        engine = board_engine()
        task = engine.post_task(EAST, TASK_KIND, capacity=2).events[0].data["post"]
        a, b, c = members_of(EAST)[:3]
        engine.claim(task, a)
        engine.claim(task, b)
        before = state(engine)
        with pytest.raises(GridgovError, match=rf"task {task} is full \(2 of 2\)"):
            engine.claim(task, c)
        assert state(engine) == before
        released = engine.hand_back(a)
        assert [(e.type, e.data["person"]) for e in released.events] == [("post.released", a)]
        assert engine.doing(a) == (CITY.people[a].normal_post, engine.clock.now())
        engine.claim(task, c)
        assert engine.roster.holder_of(task) == (b, c)
        check_roster(engine)

    def test_only_the_home_board(self) -> None:
        """A member registered elsewhere cannot claim; the message names both places."""
        engine = board_engine()
        outsider = members_of(WEST)[0]
        before = state(engine)
        with pytest.raises(GridgovError, match=f"registered at {WEST}.*board of {EAST}"):
            engine.claim(f"{EAST}-C01/checkpoint", outsider)
        assert state(engine) == before

    def test_only_in_service_members(self) -> None:
        """A cadre or a volunteer cannot claim a task."""
        engine = board_engine()
        cadre = next(
            p.id
            for p in CITY.people.values()
            if p.kind is PersonKind.CADRE
            and p.home == EAST
            and p.id not in engine.roster.assignment
        )
        before = state(engine)
        with pytest.raises(GridgovError, match="only in-service members claim tasks"):
            engine.claim(f"{EAST}-C01/checkpoint", cadre)
        assert state(engine) == before

    @pytest.mark.parametrize("task", ["nowhere/task/1", f"{EAST}-C01/point_lead"])
    def test_unknown_or_not_a_task(self, task: str) -> None:
        """Claiming what is not an open task raises NotFoundError naming it."""
        engine = board_engine()
        before = state(engine)
        with pytest.raises(NotFoundError, match="open task"):
            engine.claim(task, members_of(EAST)[0])
        assert state(engine) == before

    def test_unknown_person(self) -> None:
        """Claiming for nobody raises UnknownUnitError and changes nothing."""
        engine = board_engine()
        before = state(engine)
        with pytest.raises(UnknownUnitError, match="ghost"):
            engine.claim(f"{EAST}-C01/checkpoint", "ghost")
        assert state(engine) == before

    def test_hand_back_without_a_task(self) -> None:
        """Handing back with no task, or a post that is not a task, is refused."""
        engine = board_engine()
        lead = engine.commander_of(f"{EAST}-C01")
        assert lead is not None
        before = state(engine)
        for person in (members_of(EAST)[0], lead):
            with pytest.raises(GridgovError, match=f"{person} holds no task to hand back"):
                engine.hand_back(person)
        assert state(engine) == before

    def test_complete_releases_everyone(self) -> None:
        """Completing a task closes it and sends every member back, one event each."""
        engine = board_engine()
        task = engine.post_task(EAST, TASK_KIND, capacity=3).events[0].data["post"]
        people = members_of(EAST)[:3]
        for member in people:
            engine.claim(task, member)
        engine.clock.advance(timedelta(hours=5))
        result = engine.complete_task(task)
        assert [e.type for e in result.events] == ["post.closed"] + ["post.released"] * 3
        assert {e.data["person"] for e in result.changes("post.released")} == set(people)
        assert task not in engine.roster.posts
        for member in people:
            assert engine.doing(member) == (CITY.people[member].normal_post, engine.clock.now())
        before = state(engine)
        with pytest.raises(NotFoundError, match="open task"):
            engine.complete_task(task)
        assert state(engine) == before
        check_roster(engine)

    def test_post_task_numbers_and_refusals(self) -> None:
        """Tasks are numbered per board; bad capacity, unit or community are refused."""
        engine = board_engine()
        first = engine.post_task(EAST, TASK_KIND).events[0]
        second = engine.post_task(EAST, TASK_KIND, unit=f"{EAST}-C02", capacity=2).events[0]
        assert first.data["post"] == f"{EAST}/task/1"
        assert (second.data["post"], second.unit) == (f"{EAST}/task/2", f"{EAST}-C02")
        before = state(engine)
        with pytest.raises(
            GridgovError, match=r"capacity must be a whole number .*from 1 to 1,000,000, got 0"
        ):
            engine.post_task(EAST, TASK_KIND, capacity=0)
        with pytest.raises(UnknownUnitError, match=f"{WEST}-C01"):
            engine.post_task(EAST, TASK_KIND, unit=f"{WEST}-C01")
        with pytest.raises(GridgovError, match="not a community"):
            engine.post_task(STREET, TASK_KIND)
        assert state(engine) == before
        with pytest.raises(GridgovError, match="outside the jurisdiction"):
            engine.post_task(EAST, TASK_KIND, actor=TOWNSHIP)
        assert_only_refusal_recorded(engine, before)

    def test_task_ids_are_never_reused(self) -> None:
        """A completed task's id is not given to a later task."""
        engine = board_engine()
        posted = [engine.post_task(EAST, TASK_KIND).events[0].data["post"] for _ in range(3)]
        engine.complete_task(posted[-1])
        again = engine.post_task(EAST, TASK_KIND).events[0].data["post"]
        assert again not in posted

    def test_claim_respects_the_employer_cap(self) -> None:
        """A claim that would take an organisation over its cap is refused."""
        rules = Rules(staffing=StaffingRule(auto_claim=False, max_staff_share=0.01))
        engine = Engine(CITY, rules, clock=ManualClock())
        engine.declare(f"{EAST}-C01")
        capped = [
            m
            for m in members_of(EAST)
            if math.floor(CITY.organisations[CITY.people[m].employer or ""].staff * 0.01) == 0
        ]
        assert capped, "the scenario needs a member of an organisation with a cap of 0"
        before = state(engine)
        with pytest.raises(GridgovError, match=r"max_staff_share = 0\.01"):
            engine.claim(f"{EAST}-C01/checkpoint", capped[0])
        assert state(engine) == before


# ---------------------------------------------------------------- releasing


class TestRelease:
    """Stepping down releases everyone back to their normal post."""

    def test_lift_releases_everyone(self) -> None:
        """Lifting a street closes every post and releases every holder, one event each."""
        engine = Engine(CITY, clock=ManualClock())
        engine.declare(STREET)
        busy = set(engine.roster.assignment)
        posts = set(engine.roster.posts)
        engine.clock.advance(DAY)
        result = engine.lift(STREET, skip_recovery=True)
        assert {e.data["person"] for e in result.changes("post.released")} == busy
        assert {e.data["post"] for e in result.changes("post.closed")} == posts
        assert engine.roster.posts == engine.roster.assignment == {}
        for person in busy:
            assert engine.doing(person) == (CITY.people[person].normal_post, engine.clock.now())
        assert set(engine.response_counts().values()) == {0}
        check_history(engine)

    def test_step_down_releases_what_the_milder_zone_does_not_need(self) -> None:
        """Sealed -> controlled after the quiet days: the point lead goes home, building
        leads stay."""
        clock = ManualClock()
        engine = Engine(CITY, clock=clock)
        compound = f"{WEST}-C01"
        engine.declare(compound)
        lead = engine.commander_of(compound)
        builders = engine.roster.holder_of(f"{compound}/building_lead")
        result = engine.advance(clock.now() + 14 * DAY)
        assert engine.zone(compound) == "controlled"
        assert engine.commander_of(compound) is None
        assert lead in {e.data["person"] for e in result.changes("post.released")}
        assert engine.roster.holder_of(f"{compound}/building_lead") == builders
        check_posts_follow_zones(engine)
        check_roster(engine)

    def test_doing_before_any_emergency(self) -> None:
        """doing() of someone never called gives their normal post and None; of nobody,
        an UnknownUnitError."""
        engine = Engine(CITY, clock=ManualClock())
        with pytest.raises(UnknownUnitError, match="ghost"):
            engine.doing("ghost")
        someone = sorted(CITY.people)[0]
        assert engine.doing(someone) == (CITY.people[someone].normal_post, None)

    def test_posts_report_levels(self) -> None:
        """posts_report sums needed and filled per unit at the level asked."""
        engine = Engine(CITY, clock=ManualClock())
        engine.declare(STREET)
        by_street = engine.posts_report(level="street")
        assert {r["unit"] for r in by_street} == {STREET}
        by_community = engine.posts_report()
        for role in {r["role"] for r in by_street}:
            total = next(r for r in by_street if r["role"] == role)
            parts = [r for r in by_community if r["role"] == role]
            assert total["needed"] == sum(r["needed"] for r in parts)
            assert total["filled"] == sum(r["filled"] for r in parts)
        for row in by_community:
            assert row["short"] == row["needed"] - row["filled"] >= 0

    def test_lift_after_completing_a_zone_task(self) -> None:
        """A compound whose checkpoint task was completed early can still be lifted."""
        engine = Engine(CITY, clock=ManualClock())
        compound = f"{EAST}-C01"
        engine.declare(compound)
        engine.complete_task(f"{compound}/checkpoint")
        engine.lift(compound, skip_recovery=True)
        assert engine.roster.posts == {}

    def test_step_down_after_completing_a_zone_task(self) -> None:
        """A sealed compound whose disinfection task was completed still steps down."""
        clock = ManualClock()
        engine = Engine(CITY, clock=clock)
        compound = f"{EAST}-C01"
        engine.declare(compound)
        engine.complete_task(f"{compound}/disinfection")
        engine.advance(clock.now() + 14 * DAY)
        assert engine.zone(compound) == "controlled"

    def test_board_task_released_when_the_community_is_normal_again(self) -> None:
        """Once the community is back to normal, no member is still on one of its tasks."""
        engine = Engine(CITY, clock=ManualClock())
        engine.declare(WEST)
        task = engine.post_task(WEST, TASK_KIND).events[0].data["post"]
        member = next(m for m in members_of(WEST) if m not in engine.roster.assignment)
        engine.claim(task, member)
        result = engine.lift(WEST, skip_recovery=True)
        assert engine.mode(WEST) == "normal"
        assert engine.doing(member)[0] == CITY.people[member].normal_post
        assert task in {e.data["post"] for e in result.changes("post.closed")}
        assert member in {e.data["person"] for e in result.changes("post.released")}
        assert engine.roster.posts == engine.roster.assignment == {}
        check_history(engine)

    def test_board_task_closed_when_recovery_ends(self) -> None:
        """Through recovery, the board is cleared when the community resumes normal."""
        clock = ManualClock()
        engine = Engine(CITY, clock=clock)
        engine.declare(WEST)
        task = engine.post_task(WEST, TASK_KIND).events[0].data["post"]
        member = next(m for m in members_of(WEST) if m not in engine.roster.assignment)
        engine.claim(task, member)
        engine.lift(WEST)
        assert engine.mode(WEST) == "recovery"
        assert engine.roster.assignment[member][0].post == task
        engine.advance(clock.now() + 15 * DAY)
        assert engine.mode(WEST) == "normal"
        assert engine.roster.posts == engine.roster.assignment == {}

    def test_no_task_on_a_normal_board(self) -> None:
        """A normal community's board is closed: a task there could outlive every emergency
        (DESIGN invariant 4), so posting one is refused and changes nothing."""
        engine = Engine(CITY, clock=ManualClock())
        before = state(engine)
        with pytest.raises(GridgovError, match="normal mode"):
            engine.post_task(WEST, TASK_KIND)
        assert state(engine) == before


# ------------------------------------------------------------ 17 September


class TestSeventeenSeptember:
    """Sealing Jiamusi's urban area gives the published response."""

    def test_counts_and_release(self, jiamusi_city: City) -> None:
        """652 point leads, 4,000+ building leads, 10,000+ deployed members, no shortfall;
        lifting everything brings every count back to 0."""
        engine = Engine(jiamusi_city, Rules(areas={"urban": URBAN_AREA}), clock=ManualClock())
        engine.declare("urban")
        counts = engine.response_counts()
        assert counts["point_leads"] == 652
        assert counts["building_leads"] >= 4000
        assert counts["deployed_members"] >= 10000
        assert counts["shortfall_seats"] == 0
        assert engine.roster.shortfalls == {}
        sealed = engine.under("sealed")
        assert len(sealed) == 652
        leads = [engine.commander_of(c) for c in sealed]
        assert None not in leads
        assert len(set(leads)) == 652
        # Each lead comes from the compound's own community or the nearest pool that had one.
        for compound, lead in zip(sealed, leads, strict=True):
            assert lead is not None
            assignment, _ = engine.roster.assignment[lead]
            community = jiamusi_city.compounds[compound].community
            assert in_pool(assignment.level, lead, community, jiamusi_city)
        check_roster(engine)
        engine.lift(jiamusi_city.chain.city, skip_recovery=True)
        assert set(engine.response_counts().values()) == {0}
        assert engine.roster.assignment == {}
        assert engine.roster.posts == {}


# ------------------------------------------------------------------ the docs


class TestDocs:
    """docs/staffing.md shows the rules as they are."""

    def test_rules_table_is_the_default(self) -> None:
        """The [staffing] table on the page is exactly what the default rules write."""
        from test_docs import DOCS, fenced_blocks

        (shown,) = [b.code for b in fenced_blocks(DOCS / "staffing.md") if b.lang == "toml"]
        written: list[str] = []
        for line in Rules.default().to_toml().splitlines():
            if line.startswith("[staffing"):
                written.append(line)
            elif written and line.startswith("["):
                break
            elif written:
                written.append(line)
        assert shown == "\n".join(written).rstrip("\n") + "\n"
        assert Rules.from_toml(shown).staffing == StaffingRule()


# ------------------------------------------------------------------ stateful

#: Rules the machine runs under: plenty, tasks on the board, scarce and starved pools.
VARIANTS = {
    "default": Rules(),
    "board": Rules(staffing=StaffingRule(auto_claim=False)),
    "scarce": Rules(
        staffing=StaffingRule(
            pools=("big_party_committee", "street"),
            max_staff_share=0.01,
            households_per_building_lead=30,
            checkpoint_shifts=6,
        )
    ),
    "starved": Rules(staffing=StaffingRule(pools=("big_party_committee",), max_staff_share=0.005)),
}
DECLARE_UNITS = [*COMPOUNDS, *COMMUNITIES, STREET, TOWNSHIP]
LIFT_UNITS = [*COMPOUNDS, *COMMUNITIES, STREET, TOWNSHIP, CHAIN.city]


class StaffingMachine(RuleBasedStateMachine):
    """Random seals, cases, lifts, time, claims and re-staffing on the small preset."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.engine = Engine(CITY, clock=self.clock)

    @initialize(variant=st.sampled_from(sorted(VARIANTS)), seed=st.integers(0, 3))
    def start(self, variant: str, seed: int) -> None:
        self.engine = Engine(CITY, VARIANTS[variant], clock=self.clock, seed=seed)

    # ----------------------------------------------------------- switching

    @rule(unit=st.sampled_from(DECLARE_UNITS), zone=st.sampled_from(["sealed", "controlled"]))
    def declare(self, unit: str, zone: str) -> None:
        self.engine.declare(unit, zone)

    @rule(compound=st.sampled_from(COMPOUNDS))
    def case(self, compound: str) -> None:
        self.engine.report_case(compound)

    @rule(
        unit=st.sampled_from(LIFT_UNITS),
        to=st.sampled_from(["open", "precaution", "controlled"]),
        hurry=st.booleans(),
    )
    def lift(self, unit: str, to: str, hurry: bool) -> None:
        self.engine.lift(unit, to, skip_recovery=hurry)

    @rule(hours=st.integers(min_value=1, max_value=24 * 20))
    def advance(self, hours: int) -> None:
        self.engine.advance(self.clock.now() + timedelta(hours=hours))

    @rule()
    def staff(self) -> None:
        self.engine.staff()

    # ------------------------------------------------------------ the board

    @rule(community=st.sampled_from(COMMUNITIES), capacity=st.integers(1, 3))
    def post_task(self, community: str, capacity: int) -> None:
        # Boards are an emergency practice; a task on a normal board outlives
        # everything (TestRelease.test_task_on_a_normal_board_does_not_outlive_everything).
        if self.engine.mode(community) == "normal":
            return
        self.engine.post_task(community, TASK_KIND, capacity=capacity)

    def _tasks(self) -> list[str]:
        roster = self.engine.roster
        return sorted(
            p.id for p in roster.posts.values() if p.role in CLAIMABLE or is_board_task(p.id)
        )

    @rule(data=st.data())
    def claim(self, data: st.DataObject) -> None:
        roster = self.engine.roster
        open_seats = [t for t in self._tasks() if roster.missing(t) > 0]
        if not open_seats:
            return
        task = data.draw(st.sampled_from(open_seats))
        free = [m for m in members_of(roster.posts[task].community) if m not in roster.assignment]
        if not free:
            return
        member = data.draw(st.sampled_from(free))
        employer = CITY.people[member].employer
        share = self.engine.rules.staffing.max_staff_share
        if employer is not None and roster.drawn[employer] >= math.floor(
            CITY.organisations[employer].staff * share
        ):
            before = state(self.engine)
            with pytest.raises(GridgovError, match="max_staff_share"):
                self.engine.claim(task, member)
            assert state(self.engine) == before
            event("claim refused: employer cap")
            return
        self.engine.claim(task, member)
        # engine.roster is a copy as of its read: read it again after a command.
        assert self.engine.roster.assignment[member][0].post == task
        event("claimed")

    @rule(data=st.data())
    def hand_back(self, data: st.DataObject) -> None:
        roster = self.engine.roster
        tasks = set(self._tasks())
        holding = sorted(p for p, (a, _) in roster.assignment.items() if a.post in tasks)
        if not holding:
            return
        person = data.draw(st.sampled_from(holding))
        self.engine.hand_back(person)
        assert person not in self.engine.roster.assignment
        event("handed back")

    @rule(data=st.data())
    def complete(self, data: st.DataObject) -> None:
        tasks = self._tasks()
        if not tasks:
            return
        task = data.draw(st.sampled_from(tasks))
        holders = self.engine.roster.holder_of(task)
        self.engine.complete_task(task)
        assert task not in self.engine.roster.posts
        assert not set(holders) & set(self.engine.roster.assignment)
        event("completed a board task" if is_board_task(task) else "completed a zone task")

    @rule(data=st.data())
    def refused_claim(self, data: st.DataObject) -> None:
        tasks = self._tasks()
        if not tasks:
            return
        task = data.draw(st.sampled_from(tasks))
        roster = self.engine.roster
        home = roster.posts[task].community
        wrong = [m for c in COMMUNITIES if c != home for m in members_of(c)]
        busy = [m for m in members_of(home) if m in roster.assignment]
        people = wrong + busy
        if not people:
            return
        person = data.draw(st.sampled_from(people))
        before = state(self.engine)
        with pytest.raises(GridgovError):
            self.engine.claim(task, person)
        assert state(self.engine) == before
        event("claim refused")

    # ----------------------------------------------------------- invariants

    @invariant()
    def roster_is_sound(self) -> None:
        roster = self.engine.roster
        if any(p.endswith("/point_lead") for p in roster.shortfalls):
            event("point lead short")
        elif roster.shortfalls:
            event("shortfall open")
        if any(
            a.level not in ("community", "claim", "grid") for a, _ in roster.assignment.values()
        ):
            event("reinforced from above the community")
        check_roster(self.engine)
        check_posts_follow_zones(self.engine)
        check_history(self.engine)

    @invariant()
    def replay_gives_live_state(self) -> None:
        engine = self.engine
        again = Engine.replay(
            CITY, list(engine.journal), engine.rules, self.clock, seed=engine.seed
        )
        assert again.snapshot() == engine.snapshot()

    def teardown(self) -> None:
        engine = self.engine
        engine.lift(CHAIN.city, skip_recovery=True)
        engine.advance(self.clock.now() + 365 * DAY)
        assert set(engine.modes().values()) == {"normal"}
        for person in CITY.people.values():
            assert engine.doing(person.id)[0] == person.normal_post, person.id
        assert engine.roster.assignment == {}
        assert engine.roster.posts == {}
        assert engine.roster.shortfalls == {}
        assert not any(engine.roster.drawn.values())
        check_history(engine)
        moves: dict[str, Counter[str]] = defaultdict(Counter)
        for kind, person, _ in staffing_events(engine):
            moves[person][kind] += 1
        for person, counts in moves.items():
            assert counts["post.assigned"] == counts["post.released"], person


# (each example is up to 30 steps on a small city: 100 examples at most, not the ci
# profile's 300, to keep CI's hypothesis run short; it was its second slowest test)
StaffingMachine.TestCase.settings = settings(
    max_examples=min(100, settings().max_examples), stateful_step_count=30, deadline=None
)
TestStaffingMachine = StaffingMachine.TestCase


def test_front_line_duty_skips_workers_on_posts_unless_the_plan_frees_them() -> None:
    """Front-line duty skips a grid worker holding another post, unless the same plan
    frees them (read by their rows: the roster's list, the draft's freed rows)."""
    from gridgov.staffing import Roster, _Draft, _front_line_fill

    pools = Pools(CITY)
    grid = next(g for g in sorted(CITY.chain) if len(pools.grid_workers(g)) >= 2)
    workers = pools.grid_workers(grid)
    post = pools.front_line_post(grid)
    assert post is not None
    picked = []
    for frees in (False, True):
        roster = Roster(CITY)
        roster._assign_to(workers[0], "x/checkpoint", "checkpoint", "community", T0)
        draft = _Draft(roster)
        if frees:
            draft.release_all(roster._holders["x/checkpoint"], "x/checkpoint", "why")
        _front_line_fill(draft, pools, post)
        picked.append(draft.runs[0][3])
    assert picked[0] == workers[1:]
    assert picked[1] == workers


class TestFillPriority:
    """The posts a plan fills come by their role's priority, then id, each once."""

    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(
            st.tuples(
                st.sampled_from("abcdefgh"),
                st.sampled_from([*ROLES, "unheard_of"]),
                st.sampled_from(["opened", "held", "closed", "reopened", "gone"]),
            ),
            max_size=30,
            unique_by=lambda spec: (spec[0], spec[1]),
        ),
        st.booleans(),
        st.randoms(use_true_random=False),
    )
    def test_by_role_priority_then_id(
        self, specs: list[tuple[str, str, str]], auto_claim: bool, rng: random.Random
    ) -> None:
        """Posts opened by the plan or held before (not closed by it) are filled, by the
        role's priority, then id, in whatever order they were asked for; claimable
        posts only when the rules claim automatically."""
        from gridgov.staffing import _PRIORITY, Roster, _by_priority, _Draft

        draft = _Draft(Roster(CITY))
        kept = []
        for name, role, where in specs:
            row = (f"{name}/{role}", role, name, name, 1)
            if where in ("held", "closed"):
                draft.roster._posts[row[0]] = row
            if where in ("closed", "reopened"):
                draft.closed[row[0]] = None
            if where in ("opened", "reopened"):
                draft.opened[row[0]] = row
            if where != "gone" and where != "closed" and (auto_claim or role not in CLAIMABLE):
                kept.append(row)
        asked = [f"{name}/{role}" for name, role, _ in specs] * 2
        rng.shuffle(asked)
        last = len(_PRIORITY)
        expected = sorted(kept, key=lambda row: (_PRIORITY.get(row[1], last), row[0]))
        assert _by_priority(draft, asked, auto_claim) == expected


class TestPoolTables:
    """The pools' flat tables read as the simple per-group answers they stand for."""

    @settings(max_examples=200, deadline=None)
    @given(
        data=st.data(),
        people=st.integers(0, 40),
        groups=st.integers(1, 12),
    )
    def test_groups_are_each_code_s_people_by_rank(
        self, data: st.DataObject, people: int, groups: int
    ) -> None:
        """Each group's people are those of its entries, by rank (lowest first), as
        the city's positions; a code with no entry (or none at all) has none."""
        import numpy as np

        rank_to_person = data.draw(st.permutations(range(people)))
        # Entries: (group code, person's rank); a person in one group at most once.
        entries = data.draw(
            st.lists(
                st.tuples(st.integers(0, groups - 1), st.integers(0, max(people - 1, 0))),
                unique=True,
                max_size=people * 2,
            )
            if people
            else st.just([])
        )
        keys = np.array([k for k, _ in entries], dtype=np.int32)
        ranks = np.array([r for _, r in entries], dtype=np.int32)

        def coded(key: int) -> int | None:
            return key if key >= 0 else None

        table = _Groups(keys, ranks, coded, np.array(rank_to_person, dtype=np.int32))
        for code in range(-1, groups + 2):
            expected = [
                rank_to_person[r] for k, r in sorted(entries, key=lambda e: e[1]) if k == code
            ]
            rows, positions = table.rows(code), table.positions(code)
            if not expected:
                assert rows is None
                assert positions is None
                continue
            assert rows is not None
            assert positions is not None
            assert list(rows) == expected
            assert positions.tolist() == expected

    @settings(max_examples=200, deadline=None)
    @given(
        posts=st.lists(st.integers(0, 6), max_size=30),
        kinds=st.data(),
    )
    def test_worker_spans_are_each_unit_s_workers_in_order(
        self, posts: list[int], kinds: st.DataObject
    ) -> None:
        """Unit ``c``'s workers are ``at[starts[c]:starts[c + 1]]``: the grid workers
        posted there, in the city's order; a post of code 5 or more (not one of the
        five units) is nobody's."""
        import numpy as np

        names = [PersonKind.GRID_WORKER, PersonKind.CADRE]
        kind = kinds.draw(
            st.lists(st.sampled_from([0, 1]), min_size=len(posts), max_size=len(posts))
        )
        starts, at = _worker_spans(
            np.array(kind, dtype=np.int32), names, np.array(posts, dtype=np.int32), 5
        )
        assert len(starts) == 6
        for code in range(5):
            expected = [
                i for i, (p, k) in enumerate(zip(posts, kind, strict=True)) if p == code and k == 0
            ]
            assert at[starts[code] : starts[code + 1]].tolist() == expected
        no_workers = _worker_spans(
            np.array(kind, dtype=np.int32), [PersonKind.CADRE], np.array(posts, dtype=np.int32), 5
        )
        assert no_workers[0].tolist() == [0] * 6

"""Staffing: the posts a zone needs, who fills them, and who goes back afterwards.

When a compound is sealed the organisation re-forms around it: one cadre
becomes its *point lead* (commander of the sealed compound), cadres take its
buildings and households (*building leads*: supplies, garbage, medicine),
in-service party members go down to the community where they live and claim
*tasks* (test-site registration, disinfection of public places, checkpoint
duty in shifts), volunteers are called in, and the grid workers of its grids
switch from normal duties to *front-line* duty. When measures are lifted
everyone returns to their normal post.

This module is pure: :func:`plan_staffing` reads the city, the current
:class:`Roster` and a change of zones and returns a frozen
:class:`StaffingPlan` (posts to open and close, who takes which post, who is
released, shortfalls, reinforcement requests up the chain). Only the engine
applies a plan (:meth:`Roster.apply`), together with the zone change that
caused it.

Candidates are drawn from *pools* in the order the rules give (default: the
community's own people, then its big party committee's co-building units, the
street, the district, the city). Within a pool people living or working
nearest come first (the same community, then neighbouring communities of the
street in neighbourhood order), ties broken by a seeded random rank, so the
same state and seed always give the same plan. A pool that runs dry raises a
*reinforcement request* to the next level up; what no level can supply is a
*shortfall*, recorded, never a silent gap.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

import attrs

from gridgov.city import City
from gridgov.errors import GridgovError
from gridgov.model import Level, PersonKind
from gridgov.rules import StaffingRule
from gridgov.vocabulary import CLAIMABLE_ROLES, ROLES

__all__ = [
    "CLAIMABLE",
    "ROLES",
    "ROLE_KIND",
    "Assignment",
    "Pools",
    "Reinforcement",
    "Release",
    "Roster",
    "Shortfall",
    "StaffPost",
    "StaffingPlan",
    "plan_staffing",
    "required_posts",
]


#: Who may hold each role.
ROLE_KIND: Mapping[str, PersonKind] = {
    "point_lead": PersonKind.CADRE,
    "building_lead": PersonKind.CADRE,
    "checkpoint": PersonKind.IN_SERVICE_MEMBER,
    "registration": PersonKind.IN_SERVICE_MEMBER,
    "disinfection": PersonKind.IN_SERVICE_MEMBER,
    "volunteer": PersonKind.VOLUNTEER,
    "front_line": PersonKind.GRID_WORKER,
}

#: Roles that are tasks on a community's task board, claimed by in-service
#: members (the "dynamic claiming" of practice).
CLAIMABLE = CLAIMABLE_ROLES

_PRIORITY = {role: i for i, role in enumerate(ROLES)}


@attrs.frozen
class StaffPost:
    """An emergency post: a role at a compound (or grid), with room for ``capacity`` people."""

    #: ``<compound>/<role>`` or ``<grid>/front_line`` (or a task's own id).
    id: str
    #: One of :data:`ROLES`, or a custom task kind.
    role: str
    #: The compound or grid the post serves.
    unit: str
    #: The community whose task board and pools it belongs to.
    community: str
    #: How many people it needs.
    capacity: int = attrs.field(validator=attrs.validators.ge(1))


@attrs.frozen
class Assignment:
    """A person taking (part of) a post."""

    #: The person.
    person: str
    #: The post's id.
    post: str
    #: The post's role.
    role: str
    #: The pool level the person came from (``community``, ``street``, ...,
    #: or ``claim`` for a task claimed through the board, ``grid`` for
    #: front-line duty).
    level: str


@attrs.frozen
class Release:
    """A person leaving a post, back to their normal post."""

    person: str
    post: str
    #: Why: the post closed, the task was completed or handed back.
    reason: str


@attrs.frozen
class Shortfall:
    """Seats of a post nobody could fill."""

    #: The post.
    post: str
    role: str
    unit: str
    community: str
    #: Seats still empty.
    missing: int
    #: Why: which pools were tried and ran dry.
    reason: str


@attrs.frozen
class Reinforcement:
    """One level asking the next level up for people, and the answer."""

    #: Level and unit asking (the unit is a community, ``<community>/bpc`` for
    #: its big party committee, a street, a district or the city).
    from_level: str
    from_unit: str
    #: Level and unit asked.
    to_level: str
    to_unit: str
    #: The role asked for.
    role: str
    #: Seats asked for.
    requested: int
    #: Seats the asked level (or those above it) supplied.
    granted: int


@attrs.frozen
class StaffingPlan:
    """Everything one change of zones does to staffing; applied by the engine."""

    #: Posts opened (or resized: the new capacity).
    opened: tuple[StaffPost, ...] = ()
    #: Ids of posts closed.
    closed: tuple[str, ...] = ()
    #: People leaving posts (before any assignment of this plan).
    releases: tuple[Release, ...] = ()
    #: People taking posts.
    assignments: tuple[Assignment, ...] = ()
    #: Shortfalls as they stand after this plan (``missing`` = 0 closes one).
    shortfalls: tuple[Shortfall, ...] = ()
    #: Requests up the chain and their answers.
    reinforcements: tuple[Reinforcement, ...] = ()
    #: Change in the number of front-line compounds per grid.
    hot: tuple[tuple[str, int], ...] = ()

    def __bool__(self) -> bool:
        return bool(
            self.opened
            or self.closed
            or self.releases
            or self.assignments
            or self.shortfalls
            or self.reinforcements
            or self.hot
        )


# ---------------------------------------------------------------- posts


def required_posts(city: City, compound: str, zone: str, rule: StaffingRule) -> list[StaffPost]:
    """The posts a compound in ``zone`` needs by the rules (front-line duty excluded).

    Args:
        city: the city.
        compound: the compound.
        zone: its zone.
        rule: the staffing rules.

    Returns:
        One post per role the zone asks for, sized by households, entrances
        and the rules' ratios.
    """
    roles = rule.posts.get(zone, ())
    if not roles:
        return []
    record = city.compound(compound)
    households = max(1, city.households(compound))
    sizes = {
        "point_lead": 1,
        "building_lead": math.ceil(households / rule.households_per_building_lead),
        "registration": math.ceil(households / rule.households_per_registration),
        "disinfection": rule.disinfection_per_compound,
        "checkpoint": record.entrances * rule.checkpoint_shifts,
        "volunteer": math.ceil(households / rule.households_per_volunteer),
    }
    return [
        StaffPost(f"{compound}/{role}", role, compound, record.community, sizes[role])
        for role in roles
        if role != "front_line" and sizes[role] > 0
    ]


def _front_line_zones(rule: StaffingRule) -> frozenset[str]:
    return frozenset(z for z, roles in rule.posts.items() if "front_line" in roles)


# ---------------------------------------------------------------- pools


class Pools:
    """The candidate lists of one city, ranked once per seed.

    Args:
        city: the city.
        seed: seed of the random rank that breaks ties between equally near people.
    """

    def __init__(self, city: City, seed: int = 0) -> None:
        self.city = city
        self.seed = seed
        chain = city.chain
        ids = sorted(city.people)
        random.Random(seed).shuffle(ids)
        self.rank: dict[str, int] = {pid: i for i, pid in enumerate(ids)}
        local: defaultdict[tuple[str, PersonKind], list[str]] = defaultdict(list)
        employed: defaultdict[tuple[str, PersonKind], list[str]] = defaultdict(list)
        offices: defaultdict[tuple[str, PersonKind], list[str]] = defaultdict(list)
        by_district: defaultdict[tuple[str, PersonKind], list[str]] = defaultdict(list)
        everyone: defaultdict[PersonKind, list[str]] = defaultdict(list)
        # Looked up once per unit, not once per person.
        district_of = {c: chain.district_of(c) for c in chain.units(Level.COMMUNITY)}
        office_levels = (Level.STREET, Level.DISTRICT, Level.CITY)
        levels = {u: chain.level(u) for u in chain}
        # People are grouped in the city's own order (walking them in rank
        # order jumps all over memory, and that grows worse than linearly
        # with the city), then each group is put in rank order.
        for pid, person in city.people.items():
            kind = person.kind
            home = person.home
            local[(home, kind)].append(pid)
            post_level = levels.get(person.normal_post.unit)
            if post_level in office_levels:
                offices[(person.normal_post.unit, kind)].append(pid)
            elif post_level is Level.COMMUNITY and person.normal_post.unit != home:
                local[(person.normal_post.unit, kind)].append(pid)
            if person.employer is not None:
                employed[(person.employer, kind)].append(pid)
            by_district[(district_of[home], kind)].append(pid)
            everyone[kind].append(pid)
        by_rank = self.rank.__getitem__
        for groups in (local, employed, offices, by_district, everyone):
            for group in groups.values():
                group.sort(key=by_rank)
        self._local = dict(local)
        self._employed = dict(employed)
        self._offices = dict(offices)
        self._district = dict(by_district)
        self._everyone = dict(everyone)
        self._street_order: dict[str, list[str]] = {}
        self._cache: dict[tuple[str, str, PersonKind], list[str]] = {}

    def anchor(self, level: str, community: str) -> str:
        """The unit a pool level stands for, seen from ``community``."""
        chain = self.city.chain
        if level == "community":
            return community
        if level == "big_party_committee":
            return f"{community}/bpc"
        if level == "street":
            return chain.street_of(community)
        if level == "district":
            return chain.district_of(community)
        return chain.city

    def candidates(self, level: str, community: str, kind: PersonKind) -> list[str]:
        """Everyone of ``kind`` in the pool of ``level`` seen from ``community``, nearest first.

        Raises:
            GridgovError: ``level`` is not a pool level.
        """
        key = (
            level,
            community
            if level in ("community", "big_party_committee", "street")
            else self.anchor(level, community),
            kind,
        )
        got = self._cache.get(key)
        if got is None:
            got = self._build(level, community, kind)
            self._cache[key] = got
        return got

    def _build(self, level: str, community: str, kind: PersonKind) -> list[str]:
        chain = self.city.chain
        if level == "community":
            return self._local.get((community, kind), [])
        if level == "big_party_committee":
            out: list[str] = []
            for org in self.city.big_party_committee(community).members:
                out.extend(self._employed.get((org, kind), []))
            return sorted(set(out), key=self.rank.__getitem__)
        if level == "street":
            street = chain.street_of(community)
            order = chain.children(street, Level.COMMUNITY)
            position = {c: i for i, c in enumerate(order)}
            here = position[community]
            # Neighbouring communities first: ids follow neighbourhood order.
            near = sorted(
                (c for c in order if c != community), key=lambda c: (abs(position[c] - here), c)
            )
            out = []
            for other in near:
                out.extend(self._local.get((other, kind), []))
            out.extend(self._offices.get((street, kind), []))
            return out
        if level == "district":
            district = chain.district_of(community)
            out = list(self._district.get((district, kind), []))
            for street in chain.children(district, Level.STREET):
                out.extend(self._offices.get((street, kind), []))
            out.extend(self._offices.get((district, kind), []))
            return out
        if level == "city":
            return self._everyone.get(kind, []) + self._offices.get((chain.city, kind), [])
        raise GridgovError(
            f"unknown pool level {level!r} (expected community, big_party_committee, "
            "street, district or city)"
        )


# ---------------------------------------------------------------- roster


class Roster:
    """Who holds which emergency post now: the staffing state the engine keeps.

    Only :meth:`apply` changes it, with a plan from :func:`plan_staffing`.
    """

    def __init__(self, city: City) -> None:
        self.city = city
        #: Open posts by id.
        self.posts: dict[str, StaffPost] = {}
        #: Holders of each post, in the order they came.
        self.holders: dict[str, list[str]] = {}
        #: Each busy person's assignment and since when.
        self.assignment: dict[str, tuple[Assignment, datetime]] = {}
        #: When each person last went back to their normal post.
        self.back_since: dict[str, datetime] = {}
        #: Open shortfalls by post id.
        self.shortfalls: dict[str, Shortfall] = {}
        #: People drawn from each employer.
        self.drawn: Counter[str] = Counter()
        #: Compounds in a front-line zone, per grid.
        self.hot: Counter[str] = Counter()
        #: People not available for new posts (off duty, sick, not drawn).
        self.unavailable: frozenset[str] = frozenset()
        self._by_kind: dict[PersonKind, list[str]] | None = None

    def set_availability(self, away: Mapping[str, float], seed: int) -> None:
        """Make a share of each kind of person unavailable for new posts.

        Who is away is drawn with ``random.Random(seed)`` from each kind's
        people in id order, so the same shares and seed always give the same
        people. People already on a post stay on it.
        """
        if self._by_kind is None:
            by_kind: dict[PersonKind, list[str]] = {}
            for pid in sorted(self.city.people):
                by_kind.setdefault(self.city.people[pid].kind, []).append(pid)
            self._by_kind = by_kind
        rng = random.Random(seed)
        chosen: set[str] = set()
        for kind in sorted(away):
            people = self._by_kind.get(PersonKind(kind), [])
            count = round(len(people) * away[kind])
            chosen.update(rng.sample(people, count))
        self.unavailable = frozenset(chosen)

    def holder_of(self, post: str) -> tuple[str, ...]:
        """Who holds ``post`` now."""
        return tuple(self.holders.get(post, ()))

    def missing(self, post: str) -> int:
        """Empty seats of ``post``."""
        return self.posts[post].capacity - len(self.holders.get(post, ()))

    def apply(self, plan: StaffingPlan, when: datetime) -> None:
        """Apply a plan at time ``when`` (the engine's job; all checks were made when planning)."""
        people = self.city.people
        for post_id in plan.closed:
            self.posts.pop(post_id, None)
            self.holders.pop(post_id, None)
            self.shortfalls.pop(post_id, None)
        for release in plan.releases:
            self._release(release.person, release.post, when)
        for post in plan.opened:
            self.posts[post.id] = post
            self.holders.setdefault(post.id, [])
        for grid, step in plan.hot:
            self.hot[grid] += step
            if self.hot[grid] <= 0:
                del self.hot[grid]
        for assignment in plan.assignments:
            self.holders.setdefault(assignment.post, []).append(assignment.person)
            self.assignment[assignment.person] = (assignment, when)
            employer = people[assignment.person].employer
            if employer is not None and assignment.role != "front_line":
                self.drawn[employer] += 1
        for shortfall in plan.shortfalls:
            if shortfall.missing > 0:
                self.shortfalls[shortfall.post] = shortfall
            else:
                self.shortfalls.pop(shortfall.post, None)

    def _release(self, person: str, post: str, when: datetime) -> None:
        held = self.assignment.pop(person, None)
        if held is None:
            return
        seats = self.holders.get(post)
        if seats is not None and person in seats:
            seats.remove(person)
        employer = self.city.people[person].employer
        if employer is not None and held[0].role != "front_line":
            self.drawn[employer] -= 1
        self.back_since[person] = when


# ---------------------------------------------------------------- planner


class _Draft:
    """Mutable working state of one planning run."""

    def __init__(self, roster: Roster) -> None:
        self.roster = roster
        self.busy: set[str] = set()
        self.freed: set[str] = set()
        self.drawn: Counter[str] = Counter()
        self.opened: dict[str, StaffPost] = {}
        self.closed: dict[str, None] = {}
        self.releases: list[Release] = []
        self.assignments: list[Assignment] = []
        self.fill_counts: Counter[str] = Counter()
        self.shortfalls: dict[str, Shortfall] = {}
        self.reinforcements: dict[tuple[str, str, str, str, str], list[int]] = {}
        self.cursors: dict[tuple[str, str, PersonKind], int] = {}

    def is_busy(self, person: str) -> bool:
        if person in self.busy or person in self.roster.unavailable:
            return True
        return person in self.roster.assignment and person not in self.freed

    def held(self, post: str) -> int:
        """Seats of ``post`` taken once this draft is applied."""
        if post in self.closed and post not in self.opened:
            return self.fill_counts[post]
        current = sum(1 for p in self.roster.holders.get(post, ()) if p not in self.freed)
        return current + self.fill_counts[post]

    def release(self, person: str, post: str, reason: str) -> None:
        self.freed.add(person)
        self.releases.append(Release(person, post, reason))
        employer = self.roster.city.people[person].employer
        held = self.roster.assignment.get(person)
        if employer is not None and held is not None and held[0].role != "front_line":
            self.drawn[employer] -= 1

    def post(self, post_id: str) -> StaffPost | None:
        if post_id in self.opened:
            return self.opened[post_id]
        if post_id in self.closed:
            return None
        return self.roster.posts.get(post_id)


def plan_staffing(
    city: City,
    pools: Pools,
    roster: Roster,
    changes: Mapping[str, tuple[str, str]],
    rule: StaffingRule,
    *,
    refill: bool = False,
    close: Sequence[str] = (),
) -> StaffingPlan:
    """Plan the staffing that follows a change of zones.

    Args:
        city: the city.
        pools: candidate lists of the city (built once per seed).
        roster: who holds which post now (not changed).
        changes: compound -> (old zone, new zone), for compounds whose zone changed.
        rule: the staffing rules.
        refill: also try to fill every open shortfall (done when people were
            released, or when asked).
        close: further posts to close (e.g. the task board of a community
            back to normal), their holders released.

    Returns:
        The plan: posts opened and closed, releases, assignments, shortfalls
        and reinforcement requests. Deterministic for the same inputs.
    """
    draft = _Draft(roster)
    hot_zones = _front_line_zones(rule)
    hot_delta: Counter[str] = Counter()
    to_fill: list[str] = []
    for post_id in close:
        if post_id in roster.posts:
            _close(draft, post_id, "its community is back to normal")
    for compound in sorted(changes):
        old, new = changes[compound]
        before = {p.id: p for p in required_posts(city, compound, old, rule)}
        after = {p.id: p for p in required_posts(city, compound, new, rule)}
        for post_id in before.keys() - after.keys():
            # A task completed on the board is already gone.
            if post_id in roster.posts:
                _close(draft, post_id, f"{compound} is {new}")
        for post_id, post in after.items():
            current = roster.posts.get(post_id)
            if current == post:
                continue
            draft.opened[post_id] = post
            holders = roster.holders.get(post_id, [])
            # A smaller post lets its latest comers go first.
            for extra in holders[post.capacity :][::-1]:
                draft.release(extra, post_id, f"{post_id} needs {post.capacity}")
            to_fill.append(post_id)
        step = (new in hot_zones) - (old in hot_zones)
        if step:
            for grid in city.grids_of_compound(compound):
                hot_delta[grid] += step
    for grid in sorted(hot_delta):
        before_hot = roster.hot[grid] > 0
        after_hot = roster.hot[grid] + hot_delta[grid] > 0
        if after_hot and not before_hot:
            _front_line_on(draft, city, grid)
        elif before_hot and not after_hot:
            _close(draft, f"{grid}/front_line", f"no compound of {grid} needs front-line duty")
    if refill or draft.freed:
        to_fill.extend(sorted(roster.shortfalls))
    seen: set[str] = set()
    ordered: list[str] = []
    for post_id in sorted(to_fill, key=lambda p: (_role_priority(draft, p), p)):
        if post_id not in seen:
            seen.add(post_id)
            ordered.append(post_id)
    for post_id in ordered:
        wanted = draft.post(post_id)
        if wanted is None or (wanted.role in CLAIMABLE and not rule.auto_claim):
            continue
        _fill(draft, pools, wanted, rule)
    reinforcements = tuple(
        Reinforcement(fl, fu, tl, tu, role, counts[0], counts[1])
        for (fl, fu, tl, tu, role), counts in draft.reinforcements.items()
    )
    return StaffingPlan(
        opened=tuple(draft.opened.values()),
        closed=tuple(p for p in draft.closed if p not in draft.opened),
        releases=tuple(draft.releases),
        assignments=tuple(draft.assignments),
        shortfalls=tuple(draft.shortfalls.values()),
        reinforcements=reinforcements,
        hot=tuple(sorted((g, d) for g, d in hot_delta.items() if d)),
    )


def _role_priority(draft: _Draft, post_id: str) -> int:
    post = draft.post(post_id)
    return _PRIORITY.get(post.role, len(_PRIORITY)) if post is not None else len(_PRIORITY)


def _close(draft: _Draft, post_id: str, reason: str) -> None:
    draft.closed[post_id] = None
    for person in draft.roster.holders.get(post_id, ()):
        draft.release(person, post_id, reason)
    if post_id in draft.roster.shortfalls:
        old = draft.roster.shortfalls[post_id]
        draft.shortfalls[post_id] = attrs.evolve(old, missing=0, reason=reason)


def _front_line_on(draft: _Draft, city: City, grid: str) -> None:
    workers = [
        p for p in city.people_at_post(grid) if city.people[p].kind is PersonKind.GRID_WORKER
    ]
    if not workers:
        return
    post = StaffPost(
        f"{grid}/front_line", "front_line", grid, city.community_of(grid), len(workers)
    )
    draft.opened[post.id] = post
    for person in workers:
        if draft.is_busy(person):
            continue
        draft.busy.add(person)
        draft.assignments.append(Assignment(person, post.id, "front_line", "grid"))
        draft.fill_counts[post.id] += 1


def _fill(draft: _Draft, pools: Pools, post: StaffPost, rule: StaffingRule) -> None:
    roster = draft.roster
    people = roster.city.people
    organisations = roster.city.organisations
    kind = ROLE_KIND.get(post.role, PersonKind.IN_SERVICE_MEMBER)
    need = post.capacity - draft.held(post.id)
    if need <= 0:
        if post.id in roster.shortfalls:
            draft.shortfalls[post.id] = attrs.evolve(
                roster.shortfalls[post.id], missing=0, reason="every seat is taken"
            )
        return
    levels = rule.pools
    levels_used = levels[0]
    requested: list[int] = []
    for depth, level in enumerate(levels):
        if need <= 0:
            break
        if depth:
            requested.append(need)
        pool = pools.candidates(level, post.community, kind)
        key = (
            level,
            post.community
            if level in ("community", "big_party_committee", "street")
            else pools.anchor(level, post.community),
            kind,
        )
        index = draft.cursors.get(key, 0)
        while need > 0 and index < len(pool):
            person = pool[index]
            index += 1
            if draft.is_busy(person):
                continue
            employer = people[person].employer
            if employer is not None:
                org = organisations[employer]
                cap = math.floor(org.staff * rule.max_staff_share)
                if roster.drawn[employer] + draft.drawn[employer] >= cap:
                    continue
                draft.drawn[employer] += 1
            draft.busy.add(person)
            draft.assignments.append(Assignment(person, post.id, post.role, level))
            draft.fill_counts[post.id] += 1
            levels_used = level
            need -= 1
        draft.cursors[key] = index
    for depth, asked in enumerate(requested):
        lower, upper = levels[depth], levels[depth + 1]
        hop = (
            lower,
            pools.anchor(lower, post.community),
            upper,
            pools.anchor(upper, post.community),
            post.role,
        )
        counts = draft.reinforcements.setdefault(hop, [0, 0])
        counts[0] += asked
        counts[1] += asked - max(need, 0)
    if need > 0:
        tried = ", ".join(levels)
        draft.shortfalls[post.id] = Shortfall(
            post.id,
            post.role,
            post.unit,
            post.community,
            need,
            f"no free {kind.value.replace('_', ' ')} left in the pools tried ({tried})",
        )
    elif post.id in roster.shortfalls:
        draft.shortfalls[post.id] = attrs.evolve(
            roster.shortfalls[post.id], missing=0, reason=f"filled from the {levels_used} pool"
        )

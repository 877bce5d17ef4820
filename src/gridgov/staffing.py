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

import array
import functools
import itertools
import math
import operator
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, TypeGuard, TypeVar, cast

import attrs

from gridgov.chain import CommandChain
from gridgov.city import City
from gridgov.errors import (
    AuthorityError,
    CommandError,
    JournalError,
    NotFoundError,
    UnknownUnitError,
)
from gridgov.model import Level, People, PersonKind
from gridgov.records import CompactData, EventLike, Record, RecordColumns
from gridgov.rules import StaffingRule
from gridgov.vocabulary import CLAIMABLE_ROLES, ROLES

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "CLAIMABLE",
    "ROLES",
    "ROLE_KIND",
    "STAFFING_EVENTS",
    "Assignment",
    "Pools",
    "Reinforcement",
    "Release",
    "Roster",
    "Shortfall",
    "StaffPost",
    "StaffingPlan",
    "plan_of_event",
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

#: Pool levels whose pool is made for each community (their key names it); the
#: district's and the city's are shared (their key names the district, the city).
_OWN_POOLS = frozenset({"community", "big_party_committee", "street"})

# Enum members read once: a member read off its class goes through the enum type's
# ``__getattr__`` (Python 3.11), some 900 instructions each time.
_IN_SERVICE = PersonKind.IN_SERVICE_MEMBER

#: An event record as a plain tuple, in :class:`~gridgov.records.Record`'s field order
#: (what :func:`planned_records` gives the engine).
StaffingRow = tuple[datetime, str, str, str, str | None, str | None, dict[str, Any]]


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


_new_object = object.__new__
_POST_FIELDS = tuple(StaffPost.__dict__[a.name].__set__ for a in attrs.fields(StaffPost))


def _post_of(row: PostRow) -> StaffPost:
    """The :class:`StaffPost` of a row the roster keeps (checked when it was kept)."""
    post = _new_object(StaffPost)
    for set_field, value in zip(_POST_FIELDS, row, strict=True):
        set_field(post, value)
    return post


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
    return [StaffPost(*row) for row in _required_rows(city, compound, zone, rule)]


#: A post as a plain tuple: (id, role, unit, community, capacity), as :class:`StaffPost`
#: has them (what the planner works with: the collector does not track it).
PostRow = tuple[str, str, str, str, int]

#: People by their rows in the city's columns (a tuple of ints: the collector stops
#: tracking it, where an array stays tracked).
Rows = tuple[int, ...]

#: A run of assignments to one post from one pool level: (post, role, level, people),
#: the people (in order) being the next ones of a plan's assignments.
AssignmentRun = tuple[str, str, str, tuple[str, ...]]


def _row_of(post: StaffPost) -> PostRow:
    return (post.id, post.role, post.unit, post.community, post.capacity)


def _required_rows(city: City, compound: str, zone: str, rule: StaffingRule) -> list[PostRow]:
    """:func:`required_posts` as rows."""
    roles = rule.posts.get(zone, ())
    if not roles:
        return []
    compounds = city._compounds  # (city.compounds, read without a call)
    try:
        at = compounds._index[compound]
    except KeyError:
        raise UnknownUnitError(compound, "compound") from None
    # Read from the city's columns (no Compound made).
    community, entrances = compounds.communities[at], compounds.entrances[at]
    households = max(1, city.households(compound))
    rows: list[PostRow] = []
    # Each role's size by the zone's sizing (see _sizing): households over a ratio,
    # entrances times shifts, or a fixed number.
    for role, by, value in _sizing(rule, zone, roles):
        if by is _BY_HOUSEHOLDS:
            size = math.ceil(households / value)
        elif by is _BY_ENTRANCES:
            size = entrances * value
        else:
            size = value
        if size > 0:
            rows.append((f"{compound}/{role}", role, compound, community, size))
    return rows


#: How a role's post is sized (see _sizing).
_BY_HOUSEHOLDS, _BY_ENTRANCES, _FIXED = "households", "entrances", "fixed"


def _sizing(
    rule: StaffingRule, zone: str, roles: Sequence[str]
) -> tuple[tuple[str, str, Any], ...]:
    """How each of ``roles`` (a zone's, by the rules) is sized: (role, by, value), front
    line left out (its post is the grid's), worked out once per rules and zone.

    Raises:
        KeyError: a role gridgov does not know.
    """
    got = _SIZINGS.get((id(rule), zone))
    if got is not None and got[0] is rule:
        return got[1]
    sizing: list[tuple[str, str, Any]] = []
    for role in roles:
        if role == "point_lead":
            sizing.append((role, _FIXED, 1))
        elif role == "building_lead":
            sizing.append((role, _BY_HOUSEHOLDS, rule.households_per_building_lead))
        elif role == "registration":
            sizing.append((role, _BY_HOUSEHOLDS, rule.households_per_registration))
        elif role == "disinfection":
            sizing.append((role, _FIXED, rule.disinfection_per_compound))
        elif role == "checkpoint":
            sizing.append((role, _BY_ENTRANCES, rule.checkpoint_shifts))
        elif role == "volunteer":
            sizing.append((role, _BY_HOUSEHOLDS, rule.households_per_volunteer))
        elif role != "front_line":
            raise KeyError(role)
    if len(_SIZINGS) >= 256:
        _SIZINGS.clear()
    _SIZINGS[id(rule), zone] = (rule, tuple(sizing))
    return tuple(sizing)


#: Each zone's sizing by the rules asked with (kept alive with them; see _sizing).
_SIZINGS: dict[tuple[int, str], tuple[StaffingRule, tuple[tuple[str, str, Any], ...]]] = {}


def _front_line_zones(rule: StaffingRule) -> frozenset[str]:
    got = _HOT_ZONES.get(id(rule))
    if got is None or got[0] is not rule:
        zones = frozenset(z for z, roles in rule.posts.items() if "front_line" in roles)
        if len(_HOT_ZONES) >= 64:
            _HOT_ZONES.clear()
        got = _HOT_ZONES[id(rule)] = (rule, zones)
    return got[1]


#: The zones needing front-line duty, by the rules asked with (kept alive with them).
_HOT_ZONES: dict[int, tuple[StaffingRule, frozenset[str]]] = {}


# ---------------------------------------------------------------- pools


_K = TypeVar("_K")
_T = TypeVar("_T")

#: The typecode of a person's position in the city's columns, in the pools'
#: arrays: 32 bits (a city of up to 2**31 people) halves the memory that the
#: random gathers by rank reach, which keeps a 4x city's within the core's cache.
_POSITION = "i"

#: One zero, repeated into an array of positions to be written over: its repeat
#: copies it in C without zeroing the memory twice (bytes() of that size is
#: zeroed, then copied into the array).
_ZERO = (0,)


def _codes(column: Sequence[Any]) -> tuple[np.ndarray, list[Any]]:
    """Each value of ``column`` as a small int (its place among the distinct values, in
    order of first appearance; 32 bits, half the memory the pools' passes over every
    person read and write), and the distinct values: two passes in C, no per-value
    Python call."""
    import numpy as np  # lazily: importing gridgov does not load numpy

    distinct = list(dict.fromkeys(column))
    table = {value: i for i, value in enumerate(distinct)}
    codes = np.fromiter(map(table.__getitem__, column), dtype=np.int32, count=len(column))
    return codes, distinct


def _plain(typecode: str, values: np.ndarray) -> array.array[int]:
    """``values`` (of the same item size as ``typecode``) as a plain array, which plain
    Python indexes without making a numpy scalar: copied once from the array's own
    buffer (``tobytes`` made a bytes object first, a second copy in new memory)."""
    out = array.array(typecode)
    out.frombytes(values.data.cast("B"))
    return out


def _shuffled(count: int, seed: int) -> array.array[int]:
    """``range(count)`` shuffled by ``random.Random(seed).shuffle``: on positions
    (plain ints in an array), not on the ids, since shuffling the ids themselves
    touches every id string in random order, which grows worse than linearly
    with the city. 32-bit positions (:data:`_POSITION`): half the memory the
    shuffle's random swaps (and the pools' gathers after it) reach."""
    out = array.array(_POSITION, range(count))
    random.Random(seed).shuffle(out)
    return out


class _Groups(Generic[_K]):
    """Each group's people in rank order, as their positions in the city's columns.

    Built with one sort of every entry by (group, rank) as plain ints: nothing
    is looked up or made per person or per group (no Python object the
    collector tracks). A group's people are turned into id strings only when a
    pool needs them (a community's people lie together in the city's columns,
    so that reads little memory; making every group up front touched every id
    string in rank order, all over memory, which grew worse than linearly with
    the city).

    Every table is a flat array (the people once, as 32-bit positions; each
    group's start; each group code's place), none a dict or list of Python ints:
    in a big city the build's arrays outgrow the caches, and every copy or
    object made per group is memory read again from afar.
    """

    __slots__ = ("_code", "_index", "_rows", "_starts")

    def __init__(
        self,
        keys: np.ndarray,
        ranks: np.ndarray,
        code: Callable[[_K], int | None],
        rank_to_person: np.ndarray,
    ) -> None:
        import numpy as np  # lazily: importing gridgov does not load numpy

        self._code = code
        # (group, rank) as one int, the rank in the low bits (a shift and a mask
        # split it back: no division), sorted in place.
        shift = max(len(rank_to_person), 1).bit_length()
        combined = keys.astype(np.int64)
        combined <<= shift
        combined |= ranks
        combined.sort()
        count = len(combined)
        group = combined >> shift
        if count:
            cuts = np.flatnonzero(group[1:] != group[:-1])
            cuts += 1
            starts = np.concatenate(([0], cuts, [count]))
            first = group[starts[:-1]]
            size = int(first[-1]) + 1
        else:
            starts, first, size = np.zeros(1, dtype=np.int64), group, 0
        del group
        combined &= (1 << shift) - 1  # each entry's rank
        # The people, gathered by rank straight into a plain array (which plain
        # Python slices without a numpy call: what a community's pool reads).
        self._rows = rows = array.array(_POSITION, _ZERO) * count
        np.take(rank_to_person, combined, out=np.frombuffer(rows, dtype=np.int32))
        del combined
        # (A plain array: a list or tuple of the starts as ints cost 0.3 M more
        # simulated misses in a 4x city's build (the ints made, the list walked by
        # the collector) for 0.3 % fewer instructions in a case.)
        self._starts = _plain("q", starts.astype(np.int64))
        #: group code -> its place (-1: no such group), by code.
        index = np.full(size, -1, dtype=np.int32)
        index[first] = np.arange(len(first), dtype=np.int32)
        self._index = _plain("i", index)

    def rows(self, key: _K) -> array.array[int] | None:
        """:meth:`positions` as a plain array of ints (None if it has none)."""
        # (The place read inline, not by a helper: a street's pool asks once per
        # community, on a case's path.)
        code, index = self._code(key), self._index
        place = -1 if code is None or code >= len(index) else index[code]
        if place < 0:
            return None
        starts = self._starts
        return self._rows[starts[place] : starts[place + 1]]

    def positions(self, key: _K) -> np.ndarray | None:
        """The city's indices of the people of group ``key`` in rank order (a view;
        None if it has none): to join several groups without making each one."""
        import numpy as np  # lazily: importing gridgov does not load numpy

        code, index = self._code(key), self._index
        place = -1 if code is None or code >= len(index) else index[code]
        if place < 0:
            return None
        starts = self._starts
        members = np.frombuffer(self._rows, dtype=np.int32)
        return members[starts[place] : starts[place + 1]]


def _worker_spans(
    kinds: np.ndarray, kind_names: Sequence[Any], posts: np.ndarray, units: int
) -> tuple[np.ndarray, np.ndarray]:
    """Where each unit's grid workers lie in the returned array of city indices (in
    the city's order, as :meth:`City.people_at_post <gridgov.city.City.people_at_post>`
    lists them), by the unit's code: unit ``c``'s are ``at[starts[c]:starts[c + 1]]``.
    One stable sort of the grid workers by their post's code and a count of them by
    code (``units`` codes; a code of ``units`` or more is not a unit's, and ends
    after every unit's); no table keyed by unit id."""
    import numpy as np  # lazily: importing gridgov does not load numpy

    starts = np.zeros(units + 1, dtype=np.int64)
    if PersonKind.GRID_WORKER not in kind_names:
        return starts, np.empty(0, dtype=np.int64)
    at = np.flatnonzero(kinds == kind_names.index(PersonKind.GRID_WORKER))
    where = posts[at]
    order = np.argsort(where, kind="stable")
    at, where = at[order], where[order]
    np.cumsum(np.bincount(where, minlength=units)[:units], out=starts[1:])
    return starts, at


def _unit_tables(
    chain: CommandChain,
) -> tuple[tuple[str, ...], dict[str, int], np.ndarray, np.ndarray, np.ndarray]:
    """Every unit of ``chain`` with its code (its place), and by code (plus one more
    for "not a unit"): is it an office (street, district, city), a community, and
    its district's code."""
    import numpy as np  # lazily: importing gridgov does not load numpy

    # A tuple and numpy arrays, no list per unit: the collector's young passes walk
    # a list of every unit (each id read, all over memory) as long as it lives; a
    # tuple of strings leaves their lists at its first pass.
    units = tuple(chain)
    none = len(units)
    unit_code = dict(zip(units, range(none), strict=True))
    # Each unit's level read from the chain's own table in its order, coded by the
    # level's identity (in C: no call per unit, and a Level hashes in Python).
    level_code = {id(level): i for i, level in enumerate(Level)}
    levels = np.fromiter(
        map(level_code.__getitem__, map(id, chain._level.values())), dtype=np.int8, count=none
    )
    offices = [level_code[id(lv)] for lv in (Level.STREET, Level.DISTRICT, Level.CITY)]
    office = np.append(np.isin(levels, offices), False)
    community = np.append(levels == level_code[id(Level.COMMUNITY)], False)
    district = np.full(none + 1, none, dtype=np.int32)
    communities = itertools.compress(units, community)
    district[community] = np.fromiter(
        map(unit_code.__getitem__, map(chain.district_of, communities)), dtype=np.int32
    )
    return units, unit_code, office, community, district


def _person_at(people: People, seed: int) -> np.ndarray:
    """person_at[rank]: the city's index of the person of that rank (the seeded
    shuffle of the ids in sorted order)."""
    import numpy as np  # lazily: importing gridgov does not load numpy

    pid = people.ids
    count = len(pid)
    person_at = np.frombuffer(_shuffled(count, seed), dtype=np.int32)
    # The city's own order is usually sorted by id (a preset's, a bundle saved by
    # gridgov): known when the city was synthesised so, else checked in one pass
    # over the ids, without copying them into lists (a sorted copy and a list to
    # compare it with touched every id string again, and the collector walked
    # both lists).
    if people._ids_sorted or all(map(operator.lt, pid, itertools.islice(pid, 1, None))):
        return person_at
    at = np.fromiter(map(people._index.__getitem__, sorted(pid)), dtype=np.int32, count=count)
    return at[person_at]


class Pools:
    """The candidate lists of one city, ranked once per seed.

    Args:
        city: the city.
        seed: seed of the random rank that breaks ties between equally near people.
    """

    def __init__(self, city: City, seed: int = 0) -> None:
        import numpy as np  # lazily: importing gridgov does not load numpy

        self._city = city
        self._seed = seed
        people = city.people  # read column by column: no Person is made
        pid = people.ids
        count = len(pid)
        person_at = _person_at(people, seed)
        # Each person's rank, written straight into the plain array that keeps it.
        self._ranks = array.array(_POSITION, _ZERO) * count
        rank_of = np.frombuffer(self._ranks, dtype=np.int32)
        rank_of[person_at] = np.arange(count, dtype=np.int32)
        # Home, post, employer as codes, each column read once in the city's order (walking
        # people in rank order jumps all over memory: worse than linear with the city).
        # 32-bit codes: every pass over everyone reads and writes half the memory.
        units, unit_code, office, community, district = _unit_tables(city.chain)
        none = len(units)  # the code of "not a unit of the chain"
        kinds, kind_names = _codes(people.kinds)
        nkinds = max(len(kind_names), 1)
        homes = np.fromiter(map(unit_code.__getitem__, people.homes), dtype=np.int32, count=count)
        posts = np.fromiter(
            map(unit_code.get, people.post_units, itertools.repeat(none)),
            dtype=np.int32,
            count=count,
        )
        employers, employer_names = _codes(people.employers)
        # Groups are asked for by (unit or organisation, kind): their codes.
        kind_code = {k: i for i, k in enumerate(kind_names)}
        employer_code = {e: i for i, e in enumerate(employer_names)}

        def coder(table: Mapping[Any, int]) -> Callable[[tuple[Any, Any]], int | None]:
            def code(key: tuple[Any, Any]) -> int | None:
                at, kind = table.get(key[0]), kind_code.get(key[1])
                return None if at is None or kind is None else at * nkinds + kind

            return code

        unit_kind = coder(unit_code)
        # (post, kind) as one code, made once for the community and office groups.
        post_keys = posts * nkinds
        post_keys += kinds
        # Community pools: where people live, and their community post if elsewhere.
        second = community[posts]
        second &= posts != homes
        home_keys = homes * nkinds
        home_keys += kinds
        self._local = _Groups(
            np.concatenate((home_keys, post_keys[second])),
            np.concatenate((rank_of, rank_of[second])),
            unit_kind,
            person_at,
        )
        del home_keys, second
        at_office = office[posts]
        self._offices = _Groups(post_keys[at_office], rank_of[at_office], unit_kind, person_at)
        del post_keys, at_office
        employed = employers != employer_code.get(None, -1)
        employer_keys = employers[employed] * nkinds
        employer_keys += kinds[employed]
        self._employed = _Groups(employer_keys, rank_of[employed], coder(employer_code), person_at)
        del employer_keys, employed
        district_keys = district[homes] * nkinds
        district_keys += kinds
        self._district = _Groups(district_keys, rank_of, unit_kind, person_at)
        del district_keys, homes
        self._everyone: _Groups[PersonKind] = _Groups(kinds, rank_of, kind_code.get, person_at)
        del rank_of  # (the view of self._ranks)
        self._ids = pid
        #: Each unit's code: its place in the chain's order (the index of the tables below).
        self._unit_code = unit_code
        workers = _worker_spans(kinds, kind_names, posts, none)
        self._caches(employers, employer_names, workers)
        self._front_lines(units, community, workers[0])

    def _caches(
        self,
        employers: np.ndarray,
        employer_names: list[Any],
        workers: tuple[np.ndarray, np.ndarray],
    ) -> None:
        # Each person's employer as a code, to give each pool its employers beside
        # its ids (read in order while filling, not looked up person by person).
        self._employer_names = employer_names
        self._employer_of = _plain("i", employers)
        #: The code of "no employer" (-1: everyone has one).
        self._jobless = employer_names.index(None) if None in employer_names else -1
        # Each unit's grid workers (city order), by the unit's code: where front-line
        # duty comes from.
        starts, at = workers
        self._worker_starts = _plain("q", starts)  # (see _Groups._starts)
        self._worker_rows = _plain(_POSITION, at.astype("int32"))
        # What is kept once asked for: no key or value the collector keeps
        # tracking (strings, ints, tuples of them; a kind by its value).
        # A pool is kept as its people's places in the city's columns (a tuple of
        # ints, which the collector stops tracking, made without an id looked up);
        # filling reads the ids and employers of those it reaches.
        self._cache: dict[tuple[str, str, str], tuple[int, ...]] = {}
        #: Each unit's grid workers and front-line post, by the unit's code (see
        #: _front_lines); anything else's (an organisation's workers) once asked for.
        self._workers: list[tuple[str, ...]] = []
        self._front_line: list[PostRow | None] = []
        self._other_workers: dict[str, tuple[str, ...]] = {}
        self._grids: dict[str, tuple[str, ...]] = {}
        #: The unit each pool level stands for, by (level, community) (see anchor).
        self._anchors: dict[tuple[str, str], str] = {}
        self._required: dict[tuple[str, str], tuple[PostRow, ...]] = {}
        self._required_rule: StaffingRule | None = None
        #: The most people each employer may give, by the rules' share (see :meth:`caps`).
        self._caps: dict[float, dict[str, int]] = {}

    def _front_lines(
        self, units: tuple[str, ...], community: np.ndarray, starts: np.ndarray
    ) -> None:
        """Every unit's grid workers and front-line post (see :meth:`grid_workers`,
        :meth:`front_line_post`), worked out at once, in lists by the unit's code (in
        the chain's order: no table keyed by a unit's id, whose strings lie all over
        memory in a big city): the workers' ids read by one getter (in C) and sliced
        by unit, each post made in one loop. A case first needs some five grids' (a
        third of what it read the first time a compound was met); a declaration
        thousands. ``starts``: :attr:`_worker_starts` as an array."""
        import numpy as np  # lazily: importing gridgov does not load numpy

        none = len(units)
        workers: list[tuple[str, ...]] = [()] * none
        posts: list[PostRow | None] = [None] * none
        self._workers, self._front_line = workers, posts
        rows = self._worker_rows[: int(starts[none])]  # (those posted to a unit)
        if not rows:
            return
        ids = operator.itemgetter(*rows)(self._ids) if len(rows) > 1 else (self._ids[rows[0]],)
        counts = np.diff(starts)
        codes = np.flatnonzero(counts)
        chain = self._city.chain
        # Each unit's community: its commander when that is a community (a grid's
        # is), else the chain's own answer; commanders read in the chain's order.
        code_of = cast("Callable[[str | None, int], int]", self._unit_code.get)
        parents = np.fromiter(
            map(code_of, chain._table.parent.values(), itertools.repeat(none)),
            dtype=np.int32,
            count=none,
        )[codes]
        commanded = community[parents].tolist()
        for code, parent, by_community, start, count in zip(
            codes.tolist(),
            parents.tolist(),
            commanded,
            starts[codes].tolist(),
            counts[codes].tolist(),
            strict=True,
        ):
            unit = units[code]
            where = units[parent] if by_community else chain.community_of(unit)
            workers[code] = ids[start : start + count]
            posts[code] = (f"{unit}/front_line", "front_line", unit, where, count)

    @property
    def city(self) -> City:
        """The city."""
        return self._city

    @property
    def seed(self) -> int:
        """The seed of the tie-breaking rank."""
        return self._seed

    def rank(self, person: str) -> int:
        """``person``'s place in the seeded tie-breaking order (lower comes first)."""
        return self._ranks[self._city.people._index[person]]

    def caps(self, share: float) -> dict[str, int]:
        """The most people each organisation may give (its staff x ``share``, rounded
        down), by id; worked out for every organisation at once the first time
        ``share`` is asked for, then kept (the city's staff counts never change)."""
        caps = self._caps.get(share)
        if caps is None:
            organisations = self._city.organisations
            # ``staff * share`` for each, as math.floor(staff * share) reads it.
            got = map(math.floor, map(share.__rmul__, organisations.staff))
            caps = self._caps[share] = dict(zip(organisations.ids, got, strict=True))
        return caps

    def anchor(self, level: str, community: str) -> str:
        """The unit a pool level stands for, seen from ``community`` (kept once asked for)."""
        if level == "community":
            return community
        got = self._anchors.get((level, community))
        if got is not None:
            return got
        chain = self._city.chain
        if level == "big_party_committee":
            got = f"{community}/bpc"
        elif level == "street":
            got = chain.street_of(community)
        elif level == "district":
            got = chain.district_of(community)
        else:
            got = chain.city
        self._anchors[level, community] = got
        return got

    def candidates(self, level: str, community: str, kind: PersonKind) -> tuple[str, ...]:
        """Everyone of ``kind`` in the pool of ``level`` seen from ``community``, nearest first.

        Raises:
            NotFoundError: ``level`` is not a pool level.
        """
        return self._pool(level, community, kind)[1]

    def _pool(
        self, level: str, community: str, kind: PersonKind
    ) -> tuple[tuple[str, str, str], tuple[str, ...], tuple[str | None, ...]]:
        """A pool's key, its people nearest first and their employers."""
        key, rows = self._rows(level, community, kind)
        ids = tuple(map(self._ids.__getitem__, rows))
        names, codes = self._employer_names, map(self._employer_of.__getitem__, rows)
        return key, ids, tuple(map(names.__getitem__, codes))

    def _rows(
        self, level: str, community: str, kind: PersonKind
    ) -> tuple[tuple[str, str, str], tuple[int, ...]]:
        """A pool's key (one per street or district where the level is shared) and its
        people nearest first, as their places in the city's columns (built once,
        then kept)."""
        key = (
            level,
            community if level in _OWN_POOLS else self.anchor(level, community),
            kind._value_,
        )
        got = self._cache.get(key)
        if got is None:
            got = self._cache[key] = self._build(level, community, kind)
        return key, got

    def required(self, compound: str, zone: str, rule: StaffingRule) -> tuple[PostRow, ...]:
        """:func:`required_posts` as rows (kept once asked for, for the rules last asked with)."""
        if rule is not self._required_rule:
            self._required.clear()
            self._required_rule = rule
        key = (compound, zone)
        got = self._required.get(key)
        if got is None:
            got = self._required[key] = tuple(_required_rows(self._city, compound, zone, rule))
        return got

    def front_line_post(self, grid: str) -> PostRow | None:
        """The front-line post of ``grid`` (None: the grid has no workers)."""
        code = self._unit_code.get(grid)
        if code is not None:
            return self._front_line[code]
        # Not a unit: no post; one with workers has no chain of command to post them in.
        if self.grid_workers(grid):
            self._city.chain.chain_of_command(grid)  # raises UnknownUnitError
        return None

    def grids_of(self, compound: str) -> tuple[str, ...]:
        """:meth:`City.grids_of_compound <gridgov.city.City.grids_of_compound>`, kept
        once asked for (the city checks the compound each time)."""
        got = self._grids.get(compound)
        if got is None:
            got = self._grids[compound] = self._city.grids_of_compound(compound)
        return got

    def grid_workers(self, grid: str) -> tuple[str, ...]:
        """The grid workers whose normal post is ``grid`` (kept once asked for)."""
        code = self._unit_code.get(grid)
        if code is not None:
            return self._workers[code]
        got = self._other_workers.get(grid)
        if got is None:  # not a unit (an organisation): read from the city
            city = self._city
            kind_of = city.people.kind
            worker = PersonKind.GRID_WORKER
            got = tuple(p for p in city.people_at_post(grid) if kind_of(p) is worker)
            self._other_workers[grid] = got
        return got

    def grid_worker_rows(self, grid: str) -> Rows:
        """The rows (in the city's columns) of :meth:`grid_workers`, in that order."""
        code = self._unit_code.get(grid)
        if code is not None:
            return self._worker_rows_of(code)
        return tuple(map(self._city.people._index.__getitem__, self.grid_workers(grid)))

    def _worker_rows_of(self, code: int) -> Rows:
        """:meth:`grid_worker_rows` of the unit of ``code`` (see :meth:`_front_lines`)."""
        starts = self._worker_starts
        return tuple(self._worker_rows[starts[code] : starts[code + 1]])

    def _build(self, level: str, community: str, kind: PersonKind) -> tuple[int, ...]:
        chain = self._city.chain
        parts: list[np.ndarray | None]
        if level == "community":
            # A few people: a slice of the groups' array (no numpy call).
            got = self._local.rows((community, kind))
            return tuple(got) if got is not None else ()
        if level == "big_party_committee":
            # Each member organisation's people, each person once, by rank (a few
            # people: sorted in Python, where numpy's fixed costs would dominate).
            employed = self._employed.rows
            found: set[int] = set()
            members = self.city._committees.get(community)
            if members is None:
                members = self.city.big_party_committee(community).members
            for org in members:
                got = employed((org, kind))
                if got is not None:
                    found.update(got)
            return tuple(sorted(found, key=self._ranks.__getitem__))
        if level == "street":
            street = chain.street_of(community)
            order = chain.children(street, Level.COMMUNITY)
            position = {c: i for i, c in enumerate(order)}
            here = position[community]
            # Neighbouring communities first: ids follow neighbourhood order.
            near = sorted(
                (c for c in order if c != community), key=lambda c: (abs(position[c] - here), c)
            )
            local = self._local.rows
            rows = array.array(_POSITION)
            for other in near:
                got = local((other, kind))
                if got is not None:
                    rows += got
            got = self._offices.rows((street, kind))
            if got is not None:
                rows += got
            return tuple(rows)
        if level == "district":
            district = chain.district_of(community)
            offices = self._offices.positions
            parts = [self._district.positions((district, kind))]
            parts += [offices((street, kind)) for street in chain.children(district, Level.STREET)]
            parts.append(offices((district, kind)))
        elif level == "city":
            parts = [self._everyone.positions(kind), self._offices.positions((chain.city, kind))]
        else:
            raise NotFoundError(
                str(level),
                "pool level;",
                message=f"unknown pool level {level!r} (expected community, "
                "big_party_committee, street, district or city)",
            )
        present = [p for p in parts if p is not None]
        if not present:
            return ()
        # Imported here, not at the top of the method: an import statement costs some
        # 2 k instructions even when numpy is loaded (most pools are a community's).
        import numpy as np  # lazily: importing gridgov does not load numpy

        joined = present[0] if len(present) == 1 else np.concatenate(present)
        return tuple(joined.tolist())


# ---------------------------------------------------------------- roster


class _ByRow:
    """A table keyed by person, kept by each person's row in the city's columns (dense
    row indices): a list as long as the city's people (None: no entry), and the rows
    in the order their entries were made, so that it reads in a dict's order (an
    entry set again keeps its place; one taken out and set again goes last).

    A big command sets or takes out a hundred thousand entries or more: a list
    written at each person's row touches memory in row order (the people of a
    community are neighbours), where a dict keyed by their ids hashed each cold
    id string and probed a table bigger than the caches. The ids are read only
    at the edges (views, dumps)."""

    __slots__ = ("count", "log", "values")

    def __init__(self, size: int) -> None:
        #: Each row's entry (None: none), pre-sized for every person of the city.
        self.values: list[Any] = [None] * size
        #: Rows in the order their entries were made; an entry taken out leaves its row
        #: (read past: see :meth:`order`), compacted when most are such. A list (the
        #: rows' own ints): an array converts each int it takes with an argument parser.
        self.log: list[int] = []
        #: How many entries there are.
        self.count = 0

    def set(self, row: int, value: Any) -> None:
        """Set ``row``'s entry (placed last when it had none)."""
        values = self.values
        if values[row] is None:
            self.log.append(row)
            self.count += 1
        values[row] = value

    def set_new(self, rows: Sequence[int], value: Any) -> None:
        """Set the entries of ``rows`` (none of them has one, each once) to ``value``."""
        values = self.values
        for row in rows:
            values[row] = value
        self.log.extend(rows)
        self.count += len(rows)

    def set_each(self, rows: Sequence[int], values: Iterable[Any]) -> None:
        """Set the entry of each of ``rows`` to its value of ``values``, as :meth:`set`
        one by one does."""
        table = self.values
        size = len(rows)
        if size > 1 and _reader(rows)(table).count(None) == size and len(set(rows)) == size:
            # Different rows none of which has an entry (a replay's assignments, as
            # the planner drew them): each set by index, logged at once, no call each.
            for row, value in zip(rows, values):  # noqa: B905 - as long
                table[row] = value
            self.log.extend(rows)
            self.count += size
            return
        put = self.set
        for row, value in zip(rows, values):  # noqa: B905 - as long
            put(row, value)

    def pop(self, row: int) -> Any:
        """Take out ``row``'s entry; returns it (None: it had none)."""
        values = self.values
        value = values[row]
        if value is not None:
            values[row] = None
            self.count -= 1
            self.compact()
        return value

    def taken_out(self, count: int) -> None:
        """Note that ``count`` entries were just set to None directly."""
        self.count -= count
        self.compact()

    def compact(self) -> None:
        """Drop the log's rows of entries taken out, when they are most of it."""
        if not self.count:
            del self.log[:]
        elif len(self.log) > 2 * self.count + 64:
            self.log = self.order()

    def order(self) -> list[int]:
        """The rows with an entry, in the order the entries were made."""
        values, log = self.values, self.log
        if len(log) == self.count:
            return log[:]
        # A row's place is its last entry in the log (an entry taken out and set
        # again was logged again); rows without an entry now are left out.
        seen: set[int] = set()
        out = []
        for row in reversed(log):
            if row not in seen and values[row] is not None:
                seen.add(row)
                out.append(row)
        out.reverse()
        return out

    def copy(self) -> _ByRow:
        """A copy (later changes of either leave the other as it is)."""
        copy = _ByRow.__new__(_ByRow)
        copy.values, copy.log, copy.count = self.values[:], self.log[:], self.count
        return copy


class _PersonView(Mapping[str, Any]):
    """A read-only view of a :class:`_ByRow` table by person id, each value read
    through ``read`` (None: as it is)."""

    __slots__ = ("_ids", "_index", "_read", "_table")

    def __init__(
        self,
        table: _ByRow,
        ids: Sequence[str],
        index: Mapping[str, int],
        read: Callable[[str, Any], Any] | None = None,
    ) -> None:
        self._table, self._ids, self._index, self._read = table, ids, index, read

    def __getitem__(self, person: str) -> Any:
        row = self._index.get(person) if type(person) is str else None
        value = None if row is None else self._table.values[row]
        if value is None:
            raise KeyError(person)
        return value if self._read is None else self._read(person, value)

    def __contains__(self, person: object) -> bool:
        row = self._index.get(person) if type(person) is str else None
        return row is not None and self._table.values[row] is not None

    def __iter__(self) -> Iterator[str]:
        return map(self._ids.__getitem__, self._table.order())

    def __len__(self) -> int:
        return self._table.count

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self)!r})"


def _assignment_of(person: str, held: tuple[str, str, str, datetime]) -> Any:
    """A roster's assignment entry as :attr:`Roster.assignment` gives it."""
    post, role, level, since = held
    return Assignment(person, post, role, level), since


class _ReadView(Mapping[str, _T]):
    """A read-only view of one of the roster's tables by key, each value made by
    :meth:`_read` from the row the roster keeps, when read."""

    __slots__ = ("_rows",)

    def __init__(self, rows: Mapping[str, Any]) -> None:
        self._rows = rows

    def _read(self, row: Any) -> _T:
        raise NotImplementedError

    def __getitem__(self, key: str) -> _T:
        return self._read(self._rows[key])

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self)!r})"


class _Holders(_ReadView[tuple[str, ...]]):
    """The roster's holders of each post, read-only: their ids, read from the rows
    the roster keeps."""

    __slots__ = ("_ids",)

    def __init__(self, rows: Mapping[str, Rows], ids: Sequence[str]) -> None:
        super().__init__(rows)
        self._ids = ids

    def _read(self, row: Rows) -> tuple[str, ...]:
        return _ids_of(row, self._ids)


class _Posts(_ReadView[StaffPost]):
    """The roster's open posts, read-only: each a :class:`StaffPost` made when read
    (the roster keeps them as rows)."""

    __slots__ = ()

    def _read(self, row: PostRow) -> StaffPost:
        return _post_of(row)


def _ids_of(rows: Sequence[int], ids: Sequence[str]) -> tuple[str, ...]:
    """The ids at ``rows`` (read by one getter, in C)."""
    if len(rows) > 1:
        return cast("tuple[str, ...]", operator.itemgetter(*rows)(ids))
    return (ids[rows[0]],) if rows else ()


def _compact(table: dict[Any, Any], size: int) -> None:
    """Give back the room of the entries just taken out of ``table`` (``size`` before),
    when more were taken out than are left.

    A dict never shrinks when entries are taken out: after a lift has closed a
    declaration's posts (eight thousand in Jiamusi, four times as many in a
    city four times as big) the roster's tables kept the room of all of them,
    and every later lookup probed a sparse table of that size, cache miss
    after cache miss: a case cost more the bigger the city. Rebuilt in place
    (the read-only views over it stay valid), in the same order.
    """
    left = len(table)
    if left >= size - left:
        return
    kept = list(table.items()) if left else None
    dict.clear(table)
    if kept is not None:
        dict.update(table, kept)


def _hot_changed(hot: Counter[str], grids: Mapping[str, Any]) -> None:
    """Apply a ``front_line.changed`` event's ``grids`` (grid -> change in its number of
    compounds needing front-line duty) to a roster's count of them, ``hot``."""
    size = len(hot)
    for grid, step in grids.items():
        # get(): a Counter's missing key is a Python call (__missing__).
        count = hot.get(grid, 0) + int(step)
        if count <= 0:
            hot.pop(grid, None)
        else:
            hot[grid] = count
    _compact(hot, size)


class Roster:
    """Who holds which emergency post now: the staffing state the engine keeps.

    Its public face is read-only (mappings that cannot be changed); only the
    engine changes it, through :meth:`_apply_event` (the reducer of staffing
    events), with what :func:`plan_staffing` planned.
    """

    def __init__(self, city: City) -> None:
        self._city = city
        people = self._people = city.people
        # People by their rows in the city's columns (see _ByRow): ids only at the edges.
        self._ids, self._index = people.ids, people._index
        # Open posts as rows (id, role, unit, community, capacity): tuples of
        # strings and an int, which the collector stops tracking (a StaffPost is
        # made when one is read, see :attr:`posts`).
        self._posts: dict[str, PostRow] = {}
        #: Each open post's holders, as their rows, in the order they came.
        self._holders: dict[str, Rows] = {}
        # Each busy person's (post, role, level, since when) at their row: a tuple of
        # strings and a time, shared by the people of one run (an Assignment is made
        # only when one is read, see :attr:`assignment`).
        self._assignment = _ByRow(len(self._ids))
        #: When each person last went back to their normal post, at their row.
        self._back_since = _ByRow(len(self._ids))
        self._shortfalls: dict[str, Shortfall] = {}
        self._drawn: Counter[str] = Counter()
        self._hot: Counter[str] = Counter()
        self._unavailable: frozenset[str] = frozenset()
        #: The people away as marks by row (empty: nobody is away).
        self._away = bytearray()
        #: Planning's scratch marks (see _Draft), kept for the next plan.
        self._scratch: list[list[Any]] = []
        self._by_kind: dict[PersonKind, list[str]] | None = None
        self._views = _views_of(self)

    # ------------------------------------------------------------------ reads

    @property
    def city(self) -> City:
        """The city."""
        return self._city

    @property
    def posts(self) -> Mapping[str, StaffPost]:
        """Open posts by id."""
        return self._views[0]

    @property
    def holders(self) -> Mapping[str, tuple[str, ...]]:
        """Holders of each post, in the order they came."""
        return self._views[1]

    @property
    def assignment(self) -> Mapping[str, tuple[Assignment, datetime]]:
        """Each busy person's assignment and since when."""
        return self._views[2]

    @property
    def back_since(self) -> Mapping[str, datetime]:
        """When each person last went back to their normal post."""
        return self._views[3]

    @property
    def shortfalls(self) -> Mapping[str, Shortfall]:
        """Open shortfalls by post id."""
        return self._views[4]

    @property
    def drawn(self) -> Mapping[str, int]:
        """People drawn from each employer (0 for an employer never drawn from)."""
        return self._views[5]

    @property
    def hot(self) -> Mapping[str, int]:
        """Compounds in a front-line zone, per grid (0 for a grid without)."""
        return self._views[6]

    @property
    def unavailable(self) -> frozenset[str]:
        """People not available for new posts (off duty, sick, not drawn)."""
        return self._unavailable

    def sources(self) -> Counter[str]:
        """People on posts by the pool level they came from (``community``, ...,
        ``claim`` for a claimed task, ``grid`` for front-line duty)."""
        values = self._assignment.values
        return Counter(values[row][2] for row in self._assignment.order())

    def holder_of(self, post: str) -> tuple[str, ...]:
        """Who holds ``post`` now."""
        rows = self._holders.get(post)
        return _ids_of(rows, self._ids) if rows else ()

    def missing(self, post: str) -> int:
        """Empty seats of ``post``."""
        return self._posts[post][4] - len(self._holders.get(post, ()))

    def _seats(self) -> Iterator[tuple[str, str, str, int]]:
        """(role, unit, community, holders) of every post someone holds, in the
        order of :attr:`posts`, read from the rows (no :class:`StaffPost` made:
        the simulation and the supply dispatch read them every day)."""
        holders = self._holders
        for post, (_, role, unit, community, _) in self._posts.items():
            people = holders.get(post)
            if people:
                yield role, unit, community, len(people)

    def _needs(self) -> Iterator[tuple[str, int, int]]:
        """(role, capacity, holders) of every open post, in the order of
        :attr:`posts`, read from the rows (no :class:`StaffPost` made: the
        simulation's daily row reads every post)."""
        holders = self._holders
        for post, (_, role, _, _, capacity) in self._posts.items():
            yield role, capacity, len(holders.get(post, ()))

    def snapshot(self) -> dict[str, Any]:
        """The roster, comparable with ``==`` (for replay checks)."""
        return {
            "posts": dict(self._views[0]),
            "holders": {k: list(v) for k, v in self._views[1].items() if v},
            "assignment": dict(self._views[2]),
            "back_since": dict(self._views[3]),
            "shortfalls": dict(self._shortfalls),
            "drawn": {k: v for k, v in self._drawn.items() if v},
            "front_line_grids": dict(self._hot),
            "unavailable": self._unavailable,
        }

    # ---------------------------------------------------------------- reducer

    def _apply_event(self, event: EventLike) -> None:
        """Apply one staffing event (the reducer; the engine's job).

        Raises:
            JournalError: not a staffing event.
            KeyError, ValueError: the event lacks data it needs.
        """
        kind = event.type
        data = event.data
        # The commonest events (a journal replay is mostly these) are applied
        # directly, as the one-step plan of plan_of_event would be.
        if kind == "post.assigned":
            self._assign_to(data["person"], data["post"], data["role"], data["level"], event.time)
        elif kind == "post.released":
            self._release(data["person"], data["post"], event.time)
        elif kind == "post.closed":
            self._close_all((data["post"],))
        elif kind == "post.opened":
            post_id = data["post"]
            capacity = int(data["capacity"])
            if capacity < 1:
                raise ValueError(f"'capacity' must be >= 1: {capacity}")
            self._posts[post_id] = (post_id, data["role"], event.unit, data["community"], capacity)
            self._holders.setdefault(post_id, _NO_SEATS)
        elif kind == "front_line.changed":
            _hot_changed(self._hot, data["grids"])
        elif kind == "availability.changed":
            self._set_availability(dict(data["away"]), int(data["seed"]))
        else:
            self._apply(plan_of_event(event), event.time)

    def _set_availability(self, away: Mapping[str, float], seed: int) -> None:
        """Make a share of each kind of person unavailable for new posts.

        Who is away is drawn with ``random.Random(seed)`` from each kind's
        people in id order, so the same shares and seed always give the same
        people. People already on a post stay on it.
        """
        if self._by_kind is None:
            by_kind: dict[PersonKind, list[str]] = {}
            kind_of = self._city.people.kind
            for pid in sorted(self._city.people):
                by_kind.setdefault(kind_of(pid), []).append(pid)
            self._by_kind = by_kind
        rng = random.Random(seed)
        chosen: set[str] = set()
        for kind in sorted(away):
            people = self._by_kind.get(PersonKind(kind), [])
            count = round(len(people) * away[kind])
            chosen.update(rng.sample(people, count))
        self._set_unavailable(frozenset(chosen))

    def _set_unavailable(self, people: frozenset[str]) -> None:
        """Set who is unavailable, and their marks by row (see :attr:`_away`).

        Raises:
            KeyError: a person unknown to the city.
        """
        marks = bytearray(len(self._ids)) if people else bytearray()
        for row in map(self._index.__getitem__, people):
            marks[row] = 1
        self._unavailable, self._away = people, marks

    def _apply(self, plan: StaffingPlan, when: datetime) -> None:
        """Apply a plan at time ``when`` (all checks were made when planning)."""
        self._close_all(plan.closed)
        for release in plan.releases:
            self._release(release.person, release.post, when)
        for post in plan.opened:
            self._posts[post.id] = _row_of(post)
            self._holders.setdefault(post.id, _NO_SEATS)
        for grid, step in plan.hot:
            self._hot[grid] += step
            if self._hot[grid] <= 0:
                del self._hot[grid]
        for assignment in plan.assignments:
            self._assign(assignment, when)
        for shortfall in plan.shortfalls:
            if shortfall.missing > 0:
                self._shortfalls[shortfall.post] = shortfall
            else:
                self._shortfalls.pop(shortfall.post, None)

    def _assign(self, assignment: Assignment, when: datetime) -> None:
        a = assignment
        self._assign_to(a.person, a.post, a.role, a.level, when)

    def _assign_all(
        self,
        persons: Sequence[str],
        posts: Sequence[str],
        roles: Sequence[str],
        levels: Sequence[str],
        times: Sequence[datetime],
    ) -> bool:
        """Apply a run of ``post.assigned`` events (their data's fields, one sequence
        each, and their times), as :meth:`_assign_to` one by one does; all or
        nothing: False, and nothing changed, when a person is unknown.

        Holders and the employers' counts follow the events in order.
        """
        # The sequences are columns of one run of events (equal lengths): zipped
        # without ``strict``, whose keyword takes zip's slow call path (some 2.5 k
        # instructions a call, against a few hundred).
        try:
            rows = tuple(map(self._index.__getitem__, persons))
        except (KeyError, TypeError):
            return False
        # Each employer drawn from (front-line duty draws from none), read in C.
        drawing = list(itertools.compress(rows, map(operator.ne, roles, _FRONT_LINE)))
        employers = _reader(drawing)(self._people.employers)
        holders = self._holders
        held_by = holders.get
        # A post's seats are taken in runs (a planner fills a post from one pool
        # level at a time): the runs' starts found in C, each run's holders joined
        # in one step, as one at a time appends them.
        size = len(posts)
        starts = [0, *itertools.compress(range(1, size), map(operator.ne, posts[1:], posts))]
        if not size:
            starts.clear()
        for start, stop in zip(starts, [*starts[1:], size]):  # noqa: B905
            post = posts[start]
            run = rows[start:stop]
            held = held_by(post)
            holders[post] = run if held is None else held + run
        self._assignment.set_each(rows, zip(posts, roles, levels, times))  # noqa: B905
        # Counted in C (Counter.update), in the order drawn.
        self._drawn.update(filter(_SOMEONE, employers))
        return True

    def _hot_changed(self, grids: Mapping[str, Any]) -> None:
        """Apply a ``front_line.changed`` event's ``grids`` (see :func:`_hot_changed`)."""
        _hot_changed(self._hot, grids)

    def _assign_runs(
        self,
        runs: Sequence[AssignmentRun],
        when: datetime,
        employers: Sequence[str] | None = None,
        rows: Sequence[Rows] | None = None,
    ) -> bool:
        """Apply a run of ``post.assigned`` events of one time given as the planner's
        runs (each (post, role, level, people): see :class:`_Draft`), as
        :meth:`_assign_to` one by one does; all or nothing: False, and nothing
        changed, when a person is unknown.

        A run's people join its post's holders at once, and share one assignment.

        ``employers``, when the planner gives them, are the employers of the people
        drawn from one (not front-line duty), in the order drawn, those without
        one left out: the planner read them where it found those people, in the
        city's columns, so nobody is looked up again. ``rows``, when the planner
        gives them, are each run's people's rows (none of them holding a post
        when the run is applied: the planner took only free people, or people
        its plan releases first): the people are not looked up by id at all.
        """
        if rows is None:
            index = self._index.__getitem__
            try:
                rows = [tuple(map(index, run[3])) for run in runs]
            except (KeyError, TypeError):
                return False
            fresh = False
        else:
            fresh = True
        if employers is None:
            # Those drawn from an employer (front-line duty draws from none).
            drawing: list[int] = []
            for run, got in zip(runs, rows):  # noqa: B905 - a row per person
                if run[1] != "front_line":
                    drawing += got
            employers = list(filter(_SOMEONE, _reader(drawing)(self._people.employers)))
        holders = self._holders
        held_by = holders.get
        table = self._assignment
        set_new, put = table.set_new, table.set
        for (post, role, level, _), got in zip(runs, rows):  # noqa: B905 - a row per person
            held = held_by(post)
            holders[post] = got if held is None else held + got
            given = (post, role, level, when)
            if fresh:
                set_new(got, given)
            else:
                for row in got:
                    put(row, given)
        # Counted in C (Counter.update), in the order drawn.
        self._drawn.update(employers)
        return True

    def _open_all(
        self,
        units: Sequence[str],
        ids: Sequence[str],
        roles: Sequence[str],
        communities: Sequence[str],
        sizes: Sequence[Any],
    ) -> bool:
        """Apply a run of ``post.opened`` events (their units, and their data's fields,
        one sequence each), as :meth:`_apply_event` one by one does; all or
        nothing: False, and nothing changed, when one of them does not fit."""
        try:
            capacities = list(map(int, sizes))
        except (TypeError, ValueError):
            return False
        if capacities and min(capacities) < 1:
            return False
        # Columns of one run of events (equal lengths; see _assign_all on ``strict``).
        rows = zip(ids, roles, units, communities, capacities)  # noqa: B905
        self._posts.update(zip(ids, rows))  # noqa: B905
        seats = self._holders.setdefault
        for post_id in ids:
            seats(post_id, _NO_SEATS)
        return True

    def _open_rows(self, rows: Sequence[PostRow]) -> list[str]:
        """Open the planner's rows of posts (a command's run of ``post.opened``
        events: see ``Events._planned``), as :meth:`_open_all` does with the
        events' fields, the rows kept as they are; returns the posts' ids."""
        ids = list(map(_FIRST, rows))
        self._posts.update(zip(ids, rows))  # noqa: B905 - a column of the rows
        # No seats yet for each post new to the roster (a post opened again keeps its
        # holders), set in C: the ids are a draft's keys, each once.
        holders = self._holders
        fresh = itertools.filterfalse(holders.__contains__, ids)
        holders.update(zip(fresh, itertools.repeat(_NO_SEATS)))
        return ids

    def _close_all(self, post_ids: Iterable[str]) -> None:
        """Close these posts (a run of ``post.closed`` events): their seats and
        shortfalls go with them."""
        tables: tuple[dict[Any, Any], ...] = (self._posts, self._holders, self._shortfalls)
        sizes = [len(table) for table in tables]
        posts, holders, shortfalls = self._posts.pop, self._holders.pop, self._shortfalls.pop
        for post_id in post_ids:
            posts(post_id, None)
            holders(post_id, None)
            shortfalls(post_id, None)
        for table, size in zip(tables, sizes, strict=True):
            _compact(table, size)

    def _release_all(
        self,
        persons: Sequence[str],
        posts: Sequence[str],
        times: Sequence[datetime],
        rows: Sequence[int] | None = None,
        distinct: bool = False,
    ) -> int:
        """Apply a run of ``post.released`` events (their data's fields, one sequence
        each, and their times), as :meth:`_release` one by one does; returns how
        many were applied (all of them: a person unknown to the city holds no post,
        and its release changes nothing). Different people all on posts (a
        lift's): a table at a time (:func:`_release_held`; ``rows``, ``distinct``:
        the people's rows and whether they are different people, when the planner
        gives them); else one at a time.
        """
        if _release_held(self, persons, posts, times, rows, distinct):
            return len(persons)
        release = self._release
        for person, post, when in zip(persons, posts, times, strict=True):
            release(person, post, when)
        return len(persons)

    def _assign_to(self, person: str, post: str, role: str, level: str, when: datetime) -> None:
        """Assign ``person`` to ``post`` (KeyError, nothing changed: an unknown person)."""
        row = self._index[person]
        holders = self._holders
        held = holders.get(post)
        holders[post] = (row,) if held is None else (*held, row)
        self._assignment.set(row, (post, role, level, when))
        if role != "front_line":
            employer = self._people.employers[row]
            if employer is not None:
                drawn = self._drawn
                drawn[employer] = drawn.get(employer, 0) + 1

    def _release(self, person: str, post: str, when: datetime) -> None:
        """Release ``person`` from ``post`` (nothing when not on a post: a person
        unknown to the city never is)."""
        row = self._index.get(person)
        if row is None:
            return
        held = self._assignment.pop(row)
        if held is None:
            return
        if held[1] != "front_line":
            employer = self._people.employers[row]
            if employer is not None:
                self._drawn[employer] -= 1
        seats = self._holders.get(post)
        if seats is not None and row in seats:
            index = seats.index(row)
            self._holders[post] = seats[:index] + seats[index + 1 :]
        self._back_since.set(row, when)

    def _copy(self) -> Roster:
        """A copy that later events leave as it is: a consistent view for readers."""
        copy = Roster.__new__(Roster)
        copy._city, copy._people = self._city, self._people
        copy._ids, copy._index = self._ids, self._index
        copy._posts = dict(self._posts)
        copy._holders = dict(self._holders)  # (rows never changed in place)
        copy._assignment = self._assignment.copy()
        copy._back_since = self._back_since.copy()
        copy._shortfalls = dict(self._shortfalls)
        copy._drawn = Counter(self._drawn)
        copy._hot = Counter(self._hot)
        copy._unavailable, copy._away = self._unavailable, self._away
        copy._scratch, copy._by_kind = [], self._by_kind
        copy._views = _views_of(copy)
        return copy

    # -------------------------------------------------------------- snapshots

    def _dump(self) -> dict[str, Any]:
        """The roster as JSON-ready data."""
        ids, assigned, back = self._ids, self._assignment.values, self._back_since.values
        return {
            "posts": [list(row) for row in self._posts.values()],
            "holders": {k: list(v) for k, v in self._views[1].items()},
            "assignment": {
                ids[row]: [post, role, level, since.isoformat()]
                for row in self._assignment.order()
                for post, role, level, since in (assigned[row],)
            },
            "back_since": {ids[row]: back[row].isoformat() for row in self._back_since.order()},
            "shortfalls": [
                [s.post, s.role, s.unit, s.community, s.missing, s.reason]
                for s in self._shortfalls.values()
            ],
            "drawn": dict(self._drawn),
            "hot": dict(self._hot),
            "unavailable": sorted(self._unavailable),
        }

    def _load(self, data: Mapping[str, Any]) -> None:
        """Take the state :meth:`_dump` wrote (on a new, untouched roster).

        Raises:
            KeyError, TypeError, ValueError: the data is malformed (a person
                unknown to the city among them).
        """
        row_of = self._index.__getitem__
        for pid, role, unit, community, capacity in data["posts"]:
            self._posts[str(pid)] = _row_of(
                StaffPost(str(pid), str(role), str(unit), str(community), _count(capacity))
            )
        for post, persons in data["holders"].items():
            self._holders[str(post)] = tuple(row_of(str(p)) for p in persons)
        for person, (post, role, level, since) in data["assignment"].items():
            self._assignment.set(
                row_of(person),
                (str(post), str(role), str(level), datetime.fromisoformat(since)),
            )
        for person, when in data["back_since"].items():
            self._back_since.set(row_of(str(person)), datetime.fromisoformat(when))
        for post, role, unit, community, missing, reason in data["shortfalls"]:
            self._shortfalls[str(post)] = Shortfall(
                str(post), str(role), str(unit), str(community), _count(missing), str(reason)
            )
        self._drawn.update({str(k): _count(v, signed=True) for k, v in data["drawn"].items()})
        self._hot.update({str(k): _count(v, signed=True) for k, v in data["hot"].items()})
        self._set_unavailable(frozenset(str(p) for p in data["unavailable"]))


def _views_of(roster: Roster) -> tuple[Mapping[str, Any], ...]:
    """A roster's read-only views (see :class:`Roster`'s properties)."""
    ids, index = roster._ids, roster._index
    return (
        _Posts(roster._posts),
        _Holders(roster._holders, ids),
        _PersonView(roster._assignment, ids, index, _assignment_of),
        _PersonView(roster._back_since, ids, index),
        MappingProxyType(roster._shortfalls),
        MappingProxyType(roster._drawn),
        MappingProxyType(roster._hot),
    )


#: The seats of a post nobody holds.
_NO_SEATS: Rows = ()


def _release_held(
    roster: Roster,
    persons: Sequence[str],
    posts: Sequence[str],
    times: Sequence[datetime],
    rows: Sequence[int] | None = None,
    distinct: bool = False,
) -> bool:
    """:meth:`Roster._release_all` of a run of different people, each on a post; all
    or nothing: False, and nothing changed, for any other run.

    Each table changes at once, as the releases one at a time change it: the
    assignments taken out, the employers' counts lowered by each employer's
    count in the run (new employers entered in the order drawn), the times of
    return set, and a post's seats (a lift releases a post's holders one after
    another: the run's posts come in runs) shortened once per run of one post,
    not once per person. The people are read by their rows (``rows``, given by
    the planner, or looked up once): every table is a list at those rows, so a
    pass touches memory in row order, not each person's id again.
    """
    size = len(persons)
    if not size:
        return False
    table = roster._assignment
    values = table.values
    try:
        if rows is None:
            rows = list(map(roster._index.__getitem__, persons))
        # Each held assignment's role (None: a person on no post, TypeError); those
        # drawn from an employer give one back to it.
        roles = map(_ROLE, map(values.__getitem__, rows))
        drawing = list(itertools.compress(rows, map(operator.ne, roles, _FRONT_LINE)))
        if not distinct and len(set(rows)) != size:
            return False
        # A lift closes its posts before it releases their holders: then no
        # post of the run has seats left to shorten.
        seated = not roster._holders.keys().isdisjoint(posts)
    except (KeyError, TypeError):  # a person or post not hashable, unknown, on no post
        return False
    # Nothing below raises: every person is on a post.
    given_back = Counter(_reader(drawing)(roster._people.employers))
    drawn = roster._drawn
    counted = drawn.get
    for employer, count in given_back.items():
        if employer is not None:  # (None: drawn from no employer)
            drawn[employer] = counted(employer, 0) - count
    back = roster._back_since
    returned, fresh = back.values, []
    # One loop (a list's item set by index is one opcode; a map of ``__setitem__``
    # parses its arguments per call).
    for row, when in zip(rows, times):  # noqa: B905 - one run's columns
        values[row] = None
        if returned[row] is None:  # back for the first time (different people)
            fresh.append(row)
        returned[row] = when
    table.taken_out(size)
    back.log.extend(fresh)
    back.count += len(fresh)
    if seated:
        _shorten_seats(roster._holders, rows, posts)
    return True


def _shorten_seats(holders: dict[str, Rows], rows: Sequence[int], posts: Sequence[str]) -> None:
    """Take the people at ``rows`` off their posts' seats (``posts``: each one's post,
    in runs of one post)."""
    size = len(rows)
    seats_of = holders.get
    starts = [0, *itertools.compress(range(1, size), map(operator.ne, posts[1:], posts))]
    for start, stop in zip(starts, [*starts[1:], size]):  # noqa: B905
        post = posts[start]
        seats = seats_of(post)
        if seats is None:
            continue
        gone = stop - start
        if seats[:gone] == tuple(rows[start:stop]):  # the post's first holders
            holders[post] = seats[gone:]
            continue
        for row in rows[start:stop]:
            if row in seats:
                index = seats.index(row)
                seats = seats[:index] + seats[index + 1 :]
        holders[post] = seats


def _count(value: object, signed: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or (value < 0 and not signed):
        raise ValueError(f"expected a count, got {value!r}")
    return value


#: Event types applied by :meth:`Roster._apply_event`.
STAFFING_EVENTS = frozenset(
    {
        "availability.changed",
        "post.opened",
        "post.closed",
        "post.released",
        "post.assigned",
        "shortfall.opened",
        "shortfall.updated",
        "shortfall.closed",
        "front_line.changed",
    }
)


def plan_of_event(event: EventLike) -> StaffingPlan:
    """The one-step staffing plan a recorded staffing event stands for.

    Raises:
        JournalError: not a staffing event.
        KeyError, ValueError: the event lacks data it needs.
    """
    data = event.data
    if event.type == "post.opened":
        post = StaffPost(
            data["post"], data["role"], event.unit, data["community"], int(data["capacity"])
        )
        return StaffingPlan(opened=(post,))
    if event.type == "post.closed":
        return StaffingPlan(closed=(data["post"],))
    if event.type == "post.released":
        return StaffingPlan(releases=(Release(data["person"], data["post"], event.cause),))
    if event.type == "post.assigned":
        assignment = Assignment(data["person"], data["post"], data["role"], data["level"])
        return StaffingPlan(assignments=(assignment,))
    if event.type.startswith("shortfall."):
        shortfall = Shortfall(
            data["post"],
            data["role"],
            event.unit,
            data["community"],
            int(data["missing"]),
            event.cause,
        )
        return StaffingPlan(shortfalls=(shortfall,))
    if event.type == "front_line.changed":
        return StaffingPlan(hot=tuple(sorted((g, int(d)) for g, d in data["grids"].items())))
    raise JournalError(f"event {event.seq}: unknown staffing event {event.type!r}")


# ---------------------------------------------------------------- planner


class _Draft:
    """Mutable working state of one planning run.

    Assignments and releases are kept as plain tuples of strings (the
    collector stops tracking them); :func:`plan_staffing` turns them into
    the frozen plan's objects, the engine records them directly.
    """

    def __init__(self, roster: Roster, when: datetime | None = None) -> None:
        self.roster = roster
        #: The time the plan's events will carry (None: not recorded, see plan_staffing).
        self.when = when
        # The people this plan assigns, marked at their rows in a scratch bytearray
        # with this draft's mark (see _marks): a byte a person, in row order, where a
        # dict of their ids hashed each cold id and outgrew the caches.
        self._scratch = _marks(roster)
        #: The scratch marks and this draft's mark: ``marks[row] == mark`` is taken.
        self.marks, self.mark = self._scratch[0], self._scratch[1]
        # The rows of the people released so far as a set (see :attr:`freed`), made
        # when first asked for, and how many of the releases it holds.
        self._freed: set[int] = set()
        self._freed_count = 0
        #: Each employer's people given back by this plan's releases (counts below 0),
        #: counted from the releases when a fill first needs them (see :meth:`given_back`).
        self.drawn: dict[str, int] | None = None
        #: How many more people each employer (by its code in the pools) may give, from
        #: the first fill that reached one of them (see :func:`_fill_all`), its takes
        #: counted down. A plan
        #: releases before it fills (:func:`_plan`), so ``drawn`` is final by then.
        self.room: dict[int, int] = {}
        self.opened: dict[str, PostRow] = {}
        self.closed: dict[str, None] = {}
        #: The releases, in order, in columns: the person, the post, the reason (no
        #: tuple per release: a lift releases tens of thousands).
        self.releases: tuple[list[str], list[str], list[str]] = ([], [], [])
        #: The released people's rows, in order (see :meth:`Roster._release_all`).
        self.release_rows: list[int] = []
        #: The posts released from; ``distinct``: none released from twice (then the
        #: releases are of different people: a person holds one post).
        self._released_from: set[str] = set()
        self.distinct = True
        #: The releases' records' units and compact data (see :func:`_released_columns`),
        #: one per release, written as each post's holders are released (their ids just
        #: read: a later pass reads each again, a cache miss each in a big city); None
        #: once a post released from is not open in the roster (made from the columns
        #: above then, as before).
        self.released: tuple[list[str], list[Mapping[str, Any] | CompactData]] | None = ([], [])
        #: The assignments: the runs of people, in order, each (post, role, level,
        #: people): a record's unit and cause worked out once per run.
        self.runs: list[AssignmentRun] = []
        #: Each run's people's rows (see :meth:`Roster._assign_runs`).
        self.run_rows: list[Rows] = []
        #: The assignments' records' units, causes and compact data (keys, person,
        #: post, role, level), one per person, written as each run is staged: the
        #: records' columns made in the planning pass, each person's data while its
        #: id was just read (made in a later pass, every id was read again: in a big
        #: city a cache miss per person).
        self.units: list[str] = []
        self.causes: list[str] = []
        self.datas: list[Mapping[str, Any] | CompactData] = []
        #: The employer (by its code in the pools) of each person taken from one, in
        #: the order taken (front-line duty takes from none; nor does a person
        #: without an employer): what the reducer counts (see :meth:`Roster._assign_runs`).
        self.employers: array.array[int] = array.array("i")
        self.fill_counts: dict[str, int] = {}
        self.shortfalls: dict[str, Shortfall] = {}
        self.reinforcements: dict[tuple[str, str, str, str, str], list[int]] = {}
        self.cursors: dict[tuple[str, str, str], int] = {}
        #: Change in the number of front-line compounds per grid, sorted by grid.
        self.hot: tuple[tuple[str, int], ...] = ()

    @property
    def freed(self) -> set[int]:
        """The rows of the people this draft releases, as a set: made from the releases
        when first asked for (by a fill: a lift that fills nothing never makes it)."""
        freed, rows = self._freed, self.release_rows
        if self._freed_count != len(rows):
            freed.update(itertools.islice(rows, self._freed_count, None))
            self._freed_count = len(rows)
        return freed

    def held(self, post: str) -> int:
        """Seats of ``post`` taken once this draft is applied."""
        if post in self.closed and post not in self.opened:
            return self.fill_counts.get(post, 0)
        holders = self.roster._holders.get(post, ())
        freed = self.freed
        current = sum(1 for p in holders if p not in freed) if freed else len(holders)
        return current + self.fill_counts.get(post, 0)

    def release_all(self, rows: Sequence[int], post: str, reason: str) -> None:
        """Release the people at ``rows`` (in order) from ``post``, for ``reason``: the
        releases' columns extended a list at a time."""
        count = len(rows)
        if not count:
            return
        persons = _ids_of(rows, self.roster._ids)
        people, posts, reasons = self.releases
        people += persons
        self.release_rows.extend(rows)
        if post in self._released_from:
            self.distinct = False
        self._released_from.add(post)
        posts += itertools.repeat(post, count)
        reasons += itertools.repeat(reason, count)
        self.drawn = None  # counted again when next asked for
        released, row = self.released, self.roster._posts.get(post)
        if released is None or row is None:
            self.released = None
            return
        role = row[1]
        released[0].extend([row[2]] * count)
        released[1].extend([(_RELEASED, person, post, role) for person in persons])

    def given_back(self) -> dict[str, int]:
        """Each employer's people given back by the releases so far (counts below 0),
        in the order released: a person on a post drawn from an employer (not
        front-line duty) gives one back to it.

        Counted when a fill first asks (a lift that fills nothing never looks its
        people up: tens of thousands of lookups in a big city), from the roster as
        it was planned against (planning does not change it)."""
        drawn = self.drawn
        if drawn is None:
            drawn = self.drawn = {}
            values = self.roster._assignment.values
            employers = self.roster._people.employers
            for row in self.release_rows:
                held = values[row]
                if held is not None and held[1] != "front_line":
                    employer = employers[row]
                    if employer is not None:
                        drawn[employer] = drawn.get(employer, 0) - 1
        return drawn

    def assignments(self) -> Iterator[tuple[str, str, str, str]]:
        """(person, post, role, level) of each assignment, in order."""
        return (
            (person, post, role, level)
            for post, role, level, people in self.runs
            for person in people
        )

    def closed_posts(self) -> tuple[str, ...]:
        if not self.closed:  # (a case's: no generator made)
            return ()
        return tuple(p for p in self.closed if p not in self.opened)

    def reinforcement_list(self) -> tuple[Reinforcement, ...]:
        return tuple(
            Reinforcement(fl, fu, tl, tu, role, counts[0], counts[1])
            for (fl, fu, tl, tu, role), counts in self.reinforcements.items()
        )


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
    draft = _plan(city, pools, roster, changes, rule, refill=refill, close=close)
    return StaffingPlan(
        opened=tuple(StaffPost(*row) for row in draft.opened.values()),
        closed=draft.closed_posts(),
        releases=tuple(map(Release, *draft.releases)),
        assignments=tuple(Assignment(*a) for a in draft.assignments()),
        shortfalls=tuple(draft.shortfalls.values()),
        reinforcements=draft.reinforcement_list(),
        hot=draft.hot,
    )


def planned_records(
    city: City,
    pools: Pools,
    roster: Roster,
    changes: Mapping[str, tuple[str, str]],
    rule: StaffingRule,
    when: datetime,
    *,
    refill: bool = False,
    close: Sequence[str] = (),
) -> Iterator[StaffingRow | RecordColumns]:
    """The event records of :func:`plan_staffing`'s plan, as :func:`staffing_records`
    gives them, without the plan's objects (what the engine commits).

    The plan is made at once (its errors are raised here); its records are
    made one at a time as they are read (the assignments' all at once, in
    columns: :class:`~gridgov.records.RecordColumns`): read them before the
    roster changes.
    """
    draft = _plan(city, pools, roster, changes, rule, refill=refill, close=close, when=when)
    return _rows(
        draft.closed_posts(),
        draft.releases,
        draft.opened.values(),
        [(*hop, counts[0], counts[1]) for hop, counts in draft.reinforcements.items()],
        _draft_assignment_columns(draft, pools, when) if draft.runs else None,
        draft.shortfalls.values(),
        draft.hot,
        roster,
        city.chain.city,
        when,
        draft.released,
        (draft.release_rows, draft.distinct),
    )


def _plan(
    city: City,
    pools: Pools,
    roster: Roster,
    changes: Mapping[str, tuple[str, str]],
    rule: StaffingRule,
    *,
    refill: bool,
    close: Sequence[str],
    when: datetime | None = None,
) -> _Draft:
    """:func:`plan_staffing`'s work, left in a draft (``when``: its events' time, when
    they are to be recorded)."""
    draft = _Draft(roster, when)
    try:
        _plan_into(draft, pools, changes, rule, refill=refill, close=close)
    finally:
        # The scratch marks kept for the next plan (this draft's mark is never used
        # again: nothing to clear).
        roster._scratch.append(draft._scratch)
    return draft


def _marks(roster: Roster) -> list[Any]:
    """Scratch marks by row for a draft (see :class:`_Draft`): the roster's kept ones
    (each plan gives them back) with a new mark, or new ones (the first plan, or two
    at once). A mark never used before needs no clearing: the bytes are cleared
    only when the marks wrap (every 255 plans)."""
    try:
        got: list[Any] = roster._scratch.pop()
    except IndexError:
        got = [bytearray(len(roster._ids)), 0]
    mark = got[1] + 1
    if mark > 255:
        got[0], mark = bytearray(len(got[0])), 1
    got[1] = mark
    return got


def _plan_into(
    draft: _Draft,
    pools: Pools,
    changes: Mapping[str, tuple[str, str]],
    rule: StaffingRule,
    *,
    refill: bool,
    close: Sequence[str],
) -> None:
    """:func:`_plan`'s work, in ``draft``."""
    roster = draft.roster
    hot_zones = _front_line_zones(rule)
    hot_delta: dict[str, int] = {}
    to_fill: list[str] = []
    for post_id in close:
        if post_id in roster._posts:
            _close(draft, post_id, "its community is back to normal")
    for compound in sorted(changes):
        old, new = changes[compound]
        to_fill += _repost(draft, pools, compound, old, new, rule)
        step = (new in hot_zones) - (old in hot_zones)
        if step:
            for grid in pools.grids_of(compound):
                hot_delta[grid] = hot_delta.get(grid, 0) + step
    if hot_delta:
        _front_line_all(draft, pools, hot_delta)
    if refill or draft.releases[0]:
        to_fill.extend(sorted(roster._shortfalls))
    # By role, then id, each post once (filling opens and closes none).
    wanted = _by_priority(draft, to_fill, rule.auto_claim)
    if wanted:  # (a lift that fills nothing never asks who it freed)
        _fill_all(draft, pools, wanted, rule)
    # The grids whose count moves (picked in C: a step is never False but 0).
    draft.hot = tuple(sorted(itertools.compress(hot_delta.items(), hot_delta.values())))


def _repost(
    draft: _Draft, pools: Pools, compound: str, old: str, new: str, rule: StaffingRule
) -> list[str]:
    """Stage the posts of ``compound`` going from zone ``old`` to ``new``; returns those to fill."""
    roster = draft.roster
    posts = roster._posts
    # A zone without posts (open) has none to close: not asked for.
    before = pools.required(compound, old, rule) if rule.posts.get(old) else ()
    after = pools.required(compound, new, rule)
    if before:
        # In the order the posts are required (a set difference would follow the
        # strings' hashes, which change from one process to the next).
        kept = set(map(_FIRST, after))
        for row in before:
            # A task completed on the board is already gone.
            if row[0] not in kept and row[0] in posts:
                _close(draft, row[0], f"{compound} is {new}")
    to_fill: list[str] = []
    for post in after:
        post_id = post[0]
        current = posts.get(post_id)
        if current is not None and current == post:
            continue
        draft.opened[post_id] = post
        holders = roster._holders.get(post_id)
        capacity = post[4]
        # A smaller post lets its latest comers go first.
        if holders is not None and len(holders) > capacity:
            for extra in holders[capacity:][::-1]:
                draft.release_all((extra,), post_id, f"{post_id} needs {capacity}")
        to_fill.append(post_id)
    return to_fill


def _by_priority(draft: _Draft, post_ids: Iterable[str], auto_claim: bool) -> list[PostRow]:
    """The rows of ``post_ids`` as the draft has them, each post once, by fill priority
    (its role's), then id; a post gone or unknown left out, and a claimable one unless
    the rules claim automatically.

    Sorted a priority at a time by id (a row's first field): the posts come in
    compound order, so each role's are nearly in order already, which a sort
    passes in one comparison a post (one sort of every post by (priority, id),
    from a set's order, compared some n log n tuples: a tenth of a declaration's
    plan). A few posts all opened by the draft (a case's) are sorted by (priority,
    id) at once, in C."""
    opened, closed, posts = draft.opened, draft.closed, draft.roster._posts
    last = len(_PRIORITY)
    wanted = dict.fromkeys(post_ids)
    if len(wanted) <= _FEW_POSTS:
        got = list(map(opened.get, wanted))
        if None not in got:
            found = cast("list[PostRow]", got)
            if not auto_claim:
                found = [row for row in found if row[1] not in CLAIMABLE]
            priorities = map(_PRIORITY.get, map(_ROW_ROLE, found), itertools.repeat(last))
            # Ids are unique: the rows themselves are never compared.
            return list(map(_ROW, sorted(zip(priorities, map(_FIRST, found), found))))  # noqa: B905
    by_priority: dict[int, list[PostRow]] = {}
    for post_id in wanted:
        post = opened.get(post_id)
        if post is None:
            post = None if post_id in closed else posts.get(post_id)
            if post is None:
                continue
        role = post[1]
        if not auto_claim and role in CLAIMABLE:
            continue
        priority = _PRIORITY.get(role, last)
        rows = by_priority.get(priority)
        if rows is None:
            rows = by_priority[priority] = []
        rows.append(post)
    out: list[PostRow] = []
    for priority in sorted(by_priority):
        rows = by_priority[priority]
        rows.sort(key=_FIRST)  # ids are unique: no ties
        out += rows
    return out


def _close(draft: _Draft, post_id: str, reason: str) -> None:
    draft.closed[post_id] = None
    draft.release_all(draft.roster._holders.get(post_id, ()), post_id, reason)
    old = draft.roster._shortfalls.get(post_id)
    if old is not None:
        draft.shortfalls[post_id] = attrs.evolve(old, missing=0, reason=reason)


def _front_line_all(draft: _Draft, pools: Pools, hot_delta: Mapping[str, int]) -> None:
    """Open and fill, or close, the front-line post of each grid whose front-line need
    starts or ends, in the grids' order, in one loop: a post opened fresh (nobody on
    it, no shortfall, no seat taken by this plan) takes its grid's workers at once
    when none of them is busy, away or on a post (their marks read by row), as
    :func:`_front_line_fill` would take them; any other post is filled by it."""
    roster = draft.roster
    hot, holders, known = roster._hot, roster._holders, roster._shortfalls
    away, assigned = roster._away, roster._assignment
    opened, marks, mark, fill_counts = draft.opened, draft.marks, draft.mark, draft.fill_counts
    # Each grid's post, workers and their rows by the grid's code (see Pools._front_lines).
    code_of, posts_of, workers_of = pools._unit_code, pools._front_line, pools._workers
    rows_of, datas = pools._worker_rows_of, draft.datas
    for grid in sorted(hot_delta):
        now_hot = hot.get(grid, 0)
        if now_hot > 0:
            if now_hot + hot_delta[grid] <= 0:
                _close(draft, f"{grid}/front_line", f"no compound of {grid} needs front-line duty")
            continue
        if now_hot + hot_delta[grid] <= 0:
            continue
        code = code_of.get(grid)
        if code is None:  # not a unit: no post (raises when it has workers)
            pools.front_line_post(grid)
            continue
        post = posts_of[code]
        if post is None:
            continue
        post_id = post[0]
        opened[post_id] = post
        # Its workers (read when its post was made), all of them free: the common case
        # (their marks read by row, in C).
        workers, rows = workers_of[code], rows_of(code)
        if (
            post_id in holders
            or post_id in fill_counts
            or post_id in known
            or mark in map(marks.__getitem__, rows)
            or (away and 1 in map(away.__getitem__, rows))
            or (assigned.count and any(map(assigned.values.__getitem__, rows)))
        ):
            _front_line_fill(draft, pools, post)
            continue
        for row in rows:
            marks[row] = mark
        count = len(workers)
        draft.runs.append((post_id, "front_line", "grid", workers))
        draft.run_rows.append(rows)
        draft.units += [grid] * count
        draft.causes += [_FRONT_LINE_CAUSE] * count
        datas += _front_line_data(workers, post_id)
        fill_counts[post_id] = count


def _front_line_fill(draft: _Draft, pools: Pools, post: PostRow) -> None:
    """Switch the grid's own free workers to front-line duty; the seats of those away
    or busy elsewhere are a recorded shortfall, never a silent gap."""
    post_id, role, unit, community, capacity = post
    roster = draft.roster
    # A post nobody holds yet has its draft's fills taken (draft.held, read directly).
    fill_counts = draft.fill_counts
    held = draft.held(post_id) if roster._holders.get(post_id) else fill_counts.get(post_id, 0)
    marks, mark, away = draft.marks, draft.mark, roster._away
    assigned, freed = roster._assignment.values, draft.freed
    # The free workers' rows, in order, as many as there are seats (a grid has a few).
    free: list[int] = []
    seats = capacity - held
    if seats > 0:
        for row in pools.grid_worker_rows(unit):
            if marks[row] == mark or (away and away[row]):
                continue
            if assigned[row] is not None and row not in freed:
                continue
            free.append(row)
            if len(free) == seats:
                break
    filled = len(free)
    if filled:
        for row in free:
            marks[row] = mark
        free_ids = _ids_of(free, roster._ids)
        draft.runs.append((post_id, "front_line", "grid", free_ids))
        draft.run_rows.append(tuple(free))
        draft.units += [unit] * filled
        draft.causes += [_FRONT_LINE_CAUSE] * filled
        draft.datas += _front_line_data(free_ids, post_id)
        fill_counts[post_id] = fill_counts.get(post_id, 0) + filled
    missing = capacity - (held + filled)
    known = roster._shortfalls.get(post_id)
    if missing > 0:
        draft.shortfalls[post_id] = Shortfall(
            post_id,
            role,
            unit,
            community,
            missing,
            f"{missing} of the {capacity} grid workers of {unit} are away or on other posts",
        )
    elif known is not None:
        draft.shortfalls[post_id] = attrs.evolve(
            known, missing=0, reason=f"every grid worker of {unit} is on front-line duty"
        )


def _fill_all(draft: _Draft, pools: Pools, wanted: Iterable[PostRow], rule: StaffingRule) -> None:
    """Fill the ``wanted`` posts in order (seats taken: see :meth:`_Draft.held`): front-line
    duty from the grid's own workers, every other post from the pools (one frame for all).
    A pool is its people's rows: who is taken, away or busy, ids, employers read by row."""
    roster = draft.roster
    ids, employer_of, employer_names = pools._ids, pools._employer_of, pools._employer_names
    taken, mark, freed, room = draft.marks, draft.mark, draft.freed, draft.room
    away, held, before = roster._away, roster._assignment.values, roster._drawn
    caps, levels, jobless = pools.caps(rule.max_staff_share), rule.pools, pools._jobless
    cursors, runs, run_rows = draft.cursors, draft.runs, draft.run_rows
    taken_from, said = draft.employers.append, _CAUSES
    units, causes, data = draft.units, draft.causes, draft.datas.append
    holders_of, fills, cache = roster._holders.get, draft.fill_counts, pools._cache
    for post in wanted:
        post_id, role, unit, community, capacity = post
        if role == "front_line":
            # Front-line duty is the grid's own workers', not the pools'.
            _front_line_fill(draft, pools, post)
            continue
        kind = ROLE_KIND.get(role, _IN_SERVICE)
        need = capacity - (draft.held(post_id) if holders_of(post_id) else fills.get(post_id, 0))
        if need <= 0:
            _all_seats_taken(draft, post_id)
            continue
        levels_used, filled = levels[0], 0
        requested: list[int] = []
        for depth, level in enumerate(levels):
            if need <= 0:
                break
            if depth:
                requested.append(need)
            # A pool made for the community (Pools._rows' key) read without a call once kept.
            key = (level, community, kind._value_)
            pool = cache.get(key) if level in _OWN_POOLS else None
            if pool is None:
                key, pool = pools._rows(level, community, kind)
            index = cursors.get(key, 0)
            size = len(pool)
            chosen: list[str] = []
            rows: list[int] = []
            for index in range(index, size):  # noqa: B020 - the cursor ends past the last seen
                row = pool[index]
                if taken[row] == mark or (away and away[row]) or (held[row] and row not in freed):
                    continue
                code = employer_of[row]  # each employer's room kept by its code
                if code != jobless:
                    left = room.get(code)
                    if left is None:
                        employer = employer_names[code]  # its cap, less those drawn before,
                        back = draft.drawn if draft.drawn is not None else draft.given_back()
                        left = caps[employer] - before.get(employer, 0) - back.get(employer, 0)
                    if left <= 0:
                        continue
                    room[code] = left - 1
                    taken_from(code)
                taken[row] = mark
                person = ids[row]
                chosen.append(person)
                rows.append(row)
                data((_ASSIGNED, person, post_id, role, level))  # its record's (see _Draft)
                need -= 1
                if not need:
                    index += 1
                    break
            else:
                index = size
            cursors[key] = index
            if chosen:  # this level's people and their records' units, causes (see _Draft)
                count = len(chosen)
                runs.append((post_id, role, level, tuple(chosen)))
                run_rows.append(tuple(rows))
                cause = said.get((role, level)) or _cause(role, level)
                units += [unit] * count
                causes += [cause] * count
                filled += count
                levels_used = level
        if filled:
            fills[post_id] = fills.get(post_id, 0) + filled
        if requested or need > 0 or post_id in roster._shortfalls:  # reinforcements, shortfalls
            _fill_outcome(draft, pools, post, kind, levels, requested, need, levels_used)


def _all_seats_taken(draft: _Draft, post_id: str) -> None:
    """Close ``post_id``'s shortfall, if it had one: every seat is taken."""
    shortfalls = draft.roster._shortfalls
    if post_id in shortfalls:
        draft.shortfalls[post_id] = attrs.evolve(
            shortfalls[post_id], missing=0, reason="every seat is taken"
        )


def _fill_outcome(
    draft: _Draft,
    pools: Pools,
    post: PostRow,
    kind: PersonKind,
    levels: Sequence[str],
    requested: list[int],
    need: int,
    levels_used: str,
) -> None:
    """Record what filling ``post`` asked up the chain and what it left empty."""
    post_id, role, unit, community, _ = post
    anchors = pools._anchors  # each anchor read without a call once kept
    for depth, asked in enumerate(requested):
        lower, upper = levels[depth], levels[depth + 1]
        if lower == "community":
            start = community
        else:
            start = anchors.get((lower, community)) or pools.anchor(lower, community)
        hop = (
            lower,
            start,
            upper,
            anchors.get((upper, community)) or pools.anchor(upper, community),
            role,
        )
        counts = draft.reinforcements.setdefault(hop, [0, 0])
        counts[0] += asked
        counts[1] += asked - max(need, 0)
    shortfalls = draft.roster._shortfalls
    if need > 0:
        tried = ", ".join(levels)
        draft.shortfalls[post_id] = Shortfall(
            post_id,
            role,
            unit,
            community,
            need,
            f"no free {kind.value.replace('_', ' ')} left in the pools tried ({tried})",
        )
    elif post_id in shortfalls:
        draft.shortfalls[post_id] = attrs.evolve(
            shortfalls[post_id], missing=0, reason=f"filled from the {levels_used} pool"
        )


# ----------------------------------------------------------- event records


def is_task(post: StaffPost) -> bool:
    """``post`` is a task on a community's board (claimable, or posted there)."""
    return post.role in CLAIMABLE or "/task/" in post.id


def staffing_records(
    staffing: StaffingPlan, roster: Roster, city_unit: str, when: datetime
) -> list[Record]:
    """The events a staffing plan records, in the order the roster applies them.

    Args:
        staffing: the plan.
        roster: the roster it was planned against (not changed).
        city_unit: the city's unit id (the unit of ``front_line.changed``).
        when: the time of the events.
    """
    opened = [_row_of(p) for p in staffing.opened]
    assigned = None
    if staffing.assignments:
        assigned = _assignment_columns(
            [a.person for a in staffing.assignments],
            [(a.post, a.role, a.level, (a.person,)) for a in staffing.assignments],
            None,
            roster._posts,
            {row[0]: row[2] for row in opened},
            when,
        )
    rows = _rows(
        staffing.closed,
        (
            [r.person for r in staffing.releases],
            [r.post for r in staffing.releases],
            [r.reason for r in staffing.releases],
        ),
        opened,
        [attrs.astuple(hop) for hop in staffing.reinforcements],
        assigned,
        staffing.shortfalls,
        staffing.hot,
        roster,
        city_unit,
        when,
    )
    out: list[Record] = []
    for row in rows:
        if isinstance(row, RecordColumns):
            out.extend(Record(*record) for record in row)
        else:
            out.append(Record(*row))
    return out


def _rows(
    closed: Sequence[str],
    releases: tuple[list[str], list[str], list[str]],
    opened: Iterable[PostRow],
    reinforcements: Iterable[tuple[str, str, str, str, str, int, int]],
    assigned: RecordColumns | None,
    shortfalls: Iterable[Shortfall],
    hot: tuple[tuple[str, int], ...],
    roster: Roster,
    city_unit: str,
    when: datetime,
    released: tuple[list[str], list[Mapping[str, Any] | CompactData]] | None = None,
    release_rows: tuple[Sequence[int], bool] | None = None,
) -> Iterator[StaffingRow | RecordColumns]:
    """The records of a plan's parts, one at a time, the posts closed, the releases,
    the posts opened and the assignments in columns (see :func:`staffing_records`);
    ``released``: the releases' units and data when the planner made them;
    ``release_rows``: the released people's rows, and whether they are different
    people, when the planner gives them."""
    posts = roster._posts
    if closed:
        yield _closed_columns(closed, posts, when)
    if releases[0]:
        yield _released_columns(releases, posts, when, released, release_rows)
    rows = list(opened)
    if rows:
        yield _opened_columns(rows, when)
    for from_level, from_unit, to_level, to_unit, role, requested, granted in reinforcements:
        asked: dict[str, Any] = {
            "to": to_unit,
            "level": to_level,
            "role": role,
            "requested": requested,
        }
        cause = f"{from_level} pool ran dry"
        yield (when, "reinforcement.requested", from_unit, cause, None, None, asked)
        # A literal, not update() with keywords (a keyword call takes the slow path).
        answer: dict[str, Any] = {
            "to": from_unit,
            "level": from_level,
            "role": role,
            "requested": requested,
            "granted": granted,
        }
        cause = f"answer to {from_unit}"
        yield (when, "reinforcement.answered", to_unit, cause, None, None, answer)
    if assigned is not None:
        yield assigned
    open_shortfalls = roster._shortfalls
    for shortfall in shortfalls:
        if shortfall.missing == 0:
            kind = "shortfall.closed"
        else:
            kind = "shortfall.updated" if shortfall.post in open_shortfalls else "shortfall.opened"
        yield _shortfall_record(when, kind, shortfall, shortfall.reason)
    if hot:
        data = {"grids": dict(hot)}
        cause = "compounds needing front-line duty changed"
        yield (when, "front_line.changed", city_unit, cause, None, None, data)


def _units_and_roles(
    post_ids: Sequence[str], posts: Mapping[str, PostRow]
) -> tuple[list[str], list[str]]:
    """The units and roles of these open posts, a column each (for their records)."""
    rows = list(map(posts.__getitem__, post_ids))
    return list(map(_UNIT, rows)), list(map(_ROW_ROLE, rows))


def _closed_columns(
    closed: Sequence[str], posts: Mapping[str, PostRow], when: datetime
) -> RecordColumns:
    """The ``post.closed`` records of ``closed`` (open posts' ids), made a column at a
    time, their data compact (``{"post": ..., "role": ...}`` when read)."""
    count = len(closed)
    units, roles = _units_and_roles(closed, posts)
    return RecordColumns(
        [when] * count,
        ["post.closed"] * count,
        units,
        [f"{role} no longer needed" for role in roles],
        [None] * count,
        [None] * count,
        list(zip(itertools.repeat(_CLOSED), closed, roles)),
    )


def _released_columns(
    releases: tuple[list[str], list[str], list[str]],
    posts: Mapping[str, PostRow],
    when: datetime,
    made: tuple[list[str], list[Mapping[str, Any] | CompactData]] | None = None,
    rows: tuple[Sequence[int], bool] | None = None,
) -> RecordColumns:
    """The ``post.released`` records of the releases (their people, posts and reasons,
    each an open post's id), made a column at a time, their data compact
    (``{"person": ..., "post": ..., "role": ...}`` when read): no dict or tuple per
    release but its data (a lift releases tens of thousands); the units and data
    ``made`` while planning when given (see :attr:`_Draft.released`). The people
    and posts go with them (``RecordColumns.planned``), for the engine's reducer."""
    persons, post_ids, reasons = releases
    count = len(persons)
    datas: list[Mapping[str, Any] | CompactData]
    if made is not None:
        units, datas = made
    else:
        units, roles = _units_and_roles(post_ids, posts)
        datas = list(zip(_RELEASED_KEYS, persons, post_ids, roles))  # noqa: B905 - equal lengths
    return RecordColumns(
        [when] * count,
        ["post.released"] * count,
        units,
        reasons,
        [None] * count,
        [None] * count,
        datas,
        [(persons, post_ids) if rows is None else (persons, post_ids, *rows)],
    )


#: The keys of a ``post.closed`` event's data, in order.
_CLOSED = ("post", "role")
#: The keys of a ``post.released`` event's data, in order.
_RELEASED = ("person", "post", "role")
#: Those keys for ever (a record's first item, zipped with its fields in C).
_RELEASED_KEYS = itertools.repeat(_RELEASED)


def _opened_columns(rows: list[PostRow], when: datetime) -> RecordColumns:
    """The ``post.opened`` records of ``rows``, made a column at a time, their data
    compact (see :class:`~gridgov.records.RecordColumns`); the rows go with them
    (``RecordColumns.planned``), for the engine's reducer."""
    count = len(rows)
    units = list(map(_UNIT, rows))
    return RecordColumns(
        [when] * count,
        ["post.opened"] * count,
        units,
        [f"{row[1]} needed at {row[2]}" for row in rows],
        [None] * count,
        [None] * count,
        [
            (_OPENED, post_id, role, community, capacity, role in CLAIMABLE)
            for post_id, role, _, community, capacity in rows
        ],
        rows,
    )


#: The keys of a ``post.opened`` event's data, in order.
_OPENED = ("post", "role", "community", "capacity", "task")


#: A row's first field (a post's id).
_FIRST = operator.itemgetter(0)
#: A row's second field (a post's role).
_ROW_ROLE = operator.itemgetter(1)
#: The row of a (priority, id, row) key (see _by_priority).
_ROW = operator.itemgetter(2)
#: Up to this many posts to fill are sorted at once (see _by_priority).
_FEW_POSTS = 64
#: A row's third field (a post's unit).
_UNIT = operator.itemgetter(2)
#: A run's people (see :data:`AssignmentRun`).
_PEOPLE = operator.itemgetter(3)
#: The role of an assignment (post, role, level, since).
_ROLE = operator.itemgetter(1)
#: ``"front_line"`` for ever (a role compared with it in C).
_FRONT_LINE = itertools.repeat("front_line")
#: Not None (an employer's name), tested in C.
_SOMEONE = cast("Callable[[str | None], TypeGuard[str]]", functools.partial(operator.is_not, None))


def _reader(places: Sequence[int]) -> Callable[[Sequence[_T]], list[_T]]:
    """A reader of ``[values[p] for p in places]`` from any ``values``, in C by one
    itemgetter (a ``map`` of a tuple's ``__getitem__`` costs some 450 instructions an
    item, the getter about 100; one item or none read in Python: a getter of one
    gives the item, not a tuple)."""
    if len(places) < 2:
        return lambda values: [values[p] for p in places]
    get = operator.itemgetter(*places)
    return lambda values: list(get(values))


def _assignment_columns(
    persons: list[str],
    runs: list[AssignmentRun],
    employers: list[str] | None,
    posts: Mapping[str, PostRow],
    new_units: Mapping[str, str],
    when: datetime,
) -> RecordColumns:
    """The ``post.assigned`` records of the assignments (the people, and the runs
    they fill: see :class:`_Draft`), made a column at a time: a unit, a cause and
    the data's values after the person found once per run and repeated for its
    people a list at a time; the runs go with the records
    (``RecordColumns.planned``), for the engine's reducer."""
    units: list[str] = []
    causes: list[str] = []
    rests: list[tuple[str, str, str]] = []
    unit_of = new_units.get
    said: dict[tuple[str, str], str] = {}
    for post_id, role, level, people in runs:
        unit = unit_of(post_id)
        if unit is None:  # a post open before this plan (a refill)
            serving = posts.get(post_id)
            unit = serving[2] if serving is not None else post_id
        cause = said.get((role, level))
        if cause is None:
            cause = said[role, level] = f"{role} from the {level} pool"
        count = len(people)
        units += [unit] * count
        causes += [cause] * count
        rests += [(post_id, role, level)] * count
    count = len(persons)
    return RecordColumns(
        [when] * count,
        ["post.assigned"] * count,
        units,
        causes,
        [None] * count,
        [None] * count,
        # Compact data (see RecordColumns), (keys, person) + (post, role, level): a
        # dict is made when one is read. Equal lengths (see Roster._assign_all on
        # ``strict``).
        list(map(operator.add, zip(itertools.repeat(_ASSIGNED), persons), rests)),
        [(runs, employers, None, None)],
    )


#: The keys of a ``post.assigned`` event's data, in order.
_ASSIGNED = ("person", "post", "role", "level")


def _draft_assignment_columns(draft: _Draft, pools: Pools, when: datetime) -> RecordColumns:
    """The ``post.assigned`` records of a draft's assignments, as
    :func:`_assignment_columns` makes them from its runs, from the columns the
    planning pass wrote (:class:`_Draft`'s ``units``, ``causes``, ``datas``): no
    second walk of the runs or the people; its runs and the employers taken from go
    with them."""
    count = len(draft.datas)
    employers = list(map(pools._employer_names.__getitem__, draft.employers))
    return RecordColumns(
        [when] * count,
        ["post.assigned"] * count,
        draft.units,
        draft.causes,
        [None] * count,
        [None] * count,
        draft.datas,  # compact data (see _assignment_columns)
        [(draft.runs, employers, draft.run_rows, when)],
    )


def _front_line_data(workers: Sequence[str], post_id: str) -> Iterator[CompactData]:
    """The compact data of front-line assignments of ``workers`` to ``post_id``
    (see :func:`_assignment_columns`), made in C."""
    fields = (_ASSIGNED_KEYS, workers, itertools.repeat(post_id), _FRONT_LINE, _GRID)
    return zip(*fields)  # noqa: B905 - the workers end it


#: The keys of a ``post.assigned`` event's data, for ever (zipped in C).
_ASSIGNED_KEYS = itertools.repeat(_ASSIGNED)
#: ``"grid"`` for ever: front-line duty's pool level.
_GRID = itertools.repeat("grid")
#: A front-line assignment's cause (see _assignment_columns).
_FRONT_LINE_CAUSE = "front_line from the grid pool"
#: An assignment's cause by (role, level), as the planning pass words it (a few
#: dozen at most: the roles by the pool levels).
_CAUSES: dict[tuple[str, str], str] = {}


def _cause(role: str, level: str) -> str:
    """An assignment's cause (as :func:`_assignment_columns` words it), kept in _CAUSES."""
    got = _CAUSES[role, level] = f"{role} from the {level} pool"
    return got


def _shortfall_record(when: datetime, kind: str, shortfall: Shortfall, why: str) -> Record:
    data: dict[str, Any] = {
        "post": shortfall.post,
        "role": shortfall.role,
        "community": shortfall.community,
        "missing": shortfall.missing,
    }
    return Record(when, kind, shortfall.unit, why, None, None, data)


# --------------------------------------------------------- task commands


def _seat_change(
    roster: Roster, rule: StaffingRule, post: StaffPost, delta: int, now: datetime, why: str
) -> list[Record]:
    """Keep a post's shortfall in step with a seat taken (-1) or freed (+1)."""
    current = roster.shortfalls.get(post.id)
    if current is None:
        if delta < 0 or not rule.auto_claim or post.role not in CLAIMABLE:
            return []
        current = Shortfall(post.id, post.role, post.unit, post.community, 0, why)
        kind = "shortfall.opened"
    else:
        kind = "shortfall.updated"
    missing = max(0, current.missing + delta)
    if missing == 0:
        kind = "shortfall.closed"
    data: dict[str, Any] = {
        "post": post.id,
        "role": post.role,
        "community": post.community,
        "missing": missing,
    }
    return [Record(now, kind, post.unit, why, None, None, data)]


def open_task(roster: Roster, task: str) -> StaffPost:
    """The open task ``task``.

    Raises:
        NotFoundError: no such open task.
    """
    post = roster.posts.get(task)
    if post is None or not is_task(post):
        raise NotFoundError(task, "open task", " in this city")
    return post


def plan_post_task(post: StaffPost, now: datetime) -> tuple[Record, ...]:
    """The event of posting ``post`` (a task) on its community's board."""
    data: dict[str, Any] = {
        "post": post.id,
        "role": post.role,
        "community": post.community,
        "capacity": post.capacity,
        "task": True,
    }
    return (Record(now, "post.opened", post.unit, f"task {post.role} posted", None, None, data),)


def plan_claim(
    city: City, roster: Roster, rule: StaffingRule, task: str, person: str, now: datetime
) -> tuple[Record, ...]:
    """The events of ``person`` claiming a seat of ``task``.

    Raises:
        NotFoundError: no such task (UnknownUnitError: no such person).
        AuthorityError: the person is registered in another community.
        CommandError: the person is not an in-service member, already holds
            a post, the task is full, or their employer has given its share
            of staff.
    """
    post = open_task(roster, task)
    member = city.person(person)
    if member.kind is not PersonKind.IN_SERVICE_MEMBER:
        raise CommandError(
            f"{person} is a {member.kind.value}; only in-service members claim tasks",
            reason="not an in-service member",
        )
    if member.home != post.community:
        # Outside the member's jurisdiction: refused (and audited) as an authority matter.
        raise AuthorityError(
            person,
            task,
            f"{person} is registered at {member.home}; task {task} is on "
            f"the board of {post.community}",
        )
    if person in roster.assignment:
        held = roster.assignment[person][0]
        raise CommandError(
            f"{person} already holds {held.post}; a member holds one "
            "task at a time (hand it back first)",
            reason="already holds a post",
        )
    if roster.missing(task) <= 0:
        raise CommandError(
            f"task {task} is full ({post.capacity} of {post.capacity})", reason="task full"
        )
    if member.employer is not None:
        staff = city.organisation(member.employer).staff
        cap = int(staff * rule.max_staff_share)
        if roster.drawn[member.employer] >= cap:
            raise CommandError(
                f"{member.employer} already has {roster.drawn[member.employer]} of "
                f"its {staff} staff drawn (staffing.max_staff_share = "
                f"{rule.max_staff_share:g}); {person} is needed at work",
                reason="employer's share drawn",
            )
    records = _seat_change(roster, rule, post, -1, now, "a seat was claimed")
    data: dict[str, Any] = {"person": person, "post": task, "role": post.role, "level": "claim"}
    records.append(Record(now, "post.assigned", post.unit, "claimed", None, None, data))
    return tuple(records)


def plan_hand_back(
    city: City, roster: Roster, rule: StaffingRule, person: str, now: datetime
) -> tuple[Record, ...]:
    """The events of ``person`` handing their task back.

    Raises:
        UnknownUnitError: no such person.
        CommandError: the person holds no task.
    """
    city.person(person)
    held = roster.assignment.get(person)
    if held is None or not is_task(roster.posts[held[0].post]):
        raise CommandError(f"{person} holds no task to hand back", reason="holds no task")
    post = roster.posts[held[0].post]
    data: dict[str, Any] = {"person": person, "post": post.id, "role": post.role}
    records = [Record(now, "post.released", post.unit, "handed back", None, None, data)]
    records += _seat_change(roster, rule, post, +1, now, "a seat was handed back")
    return tuple(records)


def plan_complete(roster: Roster, task: str, now: datetime) -> tuple[Record, ...]:
    """The events of completing ``task``: it closes, its members go back.

    Raises:
        NotFoundError: no such open task.
    """
    post = open_task(roster, task)
    closed: dict[str, Any] = {"post": task, "role": post.role}
    records = [Record(now, "post.closed", post.unit, "task completed", None, None, closed)]
    for person in roster.holder_of(task):
        data: dict[str, Any] = {"person": person, "post": task, "role": post.role}
        records.append(Record(now, "post.released", post.unit, "completed", None, None, data))
    if task in roster.shortfalls:
        unit = roster.shortfalls[task].unit
        data = {"post": task, "role": post.role, "community": post.community, "missing": 0}
        records.append(Record(now, "shortfall.closed", unit, "task completed", None, None, data))
    return tuple(records)


# ----------------------------------------------------------------- reports


def posts_report(city: City, roster: Roster, level: Level) -> list[dict[str, Any]]:
    """Posts needed, filled and short per unit at ``level`` and role, sorted.

    Returns:
        Rows ``{"unit", "level", "role", "needed", "filled", "short"}``.
    """
    rows: dict[tuple[str, str], list[int]] = {}
    for post in roster.posts.values():
        unit = city.ancestor(post.unit, level) if level is not Level.COMPOUND else post.unit
        row = rows.setdefault((unit, post.role), [0, 0])
        row[0] += post.capacity
        row[1] += len(roster.holders.get(post.id, ()))
    return [
        {"unit": u, "level": level.value, "role": r, "needed": n, "filled": f, "short": n - f}
        for (u, r), (n, f) in sorted(rows.items())
    ]


def response_counts(roster: Roster) -> dict[str, int]:
    """The counts of the response as practice reports them."""
    roles: Counter[str] = Counter(a.role for a, _ in roster.assignment.values())
    return response_counts_of(roles, roster)


def response_counts_of(roles: Mapping[str, int], roster: Roster) -> dict[str, int]:
    """:func:`response_counts` from the busy people counted by role (``roles``
    answers 0 for a role nobody holds, as a :class:`~collections.Counter`)."""
    return {
        "point_leads": roles["point_lead"],
        "building_leads": roles["building_lead"],
        "deployed_members": sum(
            n
            for role, n in roles.items()
            if role not in ("point_lead", "building_lead", "volunteer", "front_line")
        ),
        "grid_workers_front_line": roles["front_line"],
        "volunteers": roles["volunteer"],
        "shortfall_seats": sum(s.missing for s in roster.shortfalls.values()),
    }

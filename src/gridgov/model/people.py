"""People and their posts.

Every person has a *normal post*, the one they hold in normal mode. In an
emergency they may be given an emergency post (point lead of a sealed
compound, building lead, a claimed task, front-line duty) and are released
back to their normal post afterwards.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Iterable, Iterator
from typing import Any

import attrs

from gridgov.model._columns import Columns

__all__ = ["GridWorkerKind", "People", "Person", "PersonKind", "Post"]


class PersonKind(enum.StrEnum):
    """Who a person is in the organisation."""

    #: A party cadre of a unit's office or of an organisation.
    CADRE = "cadre"
    #: A party member working in an agency or enterprise, registered with the
    #: community where they live (in-service member).
    IN_SERVICE_MEMBER = "in_service_member"
    #: A grid worker (the 1 + X + N grid team).
    GRID_WORKER = "grid_worker"
    #: A registered volunteer.
    VOLUNTEER = "volunteer"


class GridWorkerKind(enum.StrEnum):
    """The three kinds of grid worker: 1 full-time + X professional + N part-time."""

    FULL_TIME = "full_time"
    PROFESSIONAL = "professional"
    PART_TIME = "part_time"


@attrs.frozen
class Post:
    """A role held at a unit (or organisation)."""

    #: The role, e.g. ``grid_worker``, ``cadre``, ``point_lead``.
    role: str
    #: Id of the unit, compound, building or organisation the post is at.
    unit: str


@attrs.frozen
class Person:
    """One person of the organisation."""

    #: Unique id, e.g. ``P0001234``.
    id: str
    #: What kind of person this is.
    kind: PersonKind
    #: Id of the community (or village) where the person lives; in-service
    #: members are registered there.
    home: str
    #: The post held in normal mode.
    normal_post: Post
    #: Id of the organisation employing the person, if any.
    employer: str | None = None
    #: For grid workers: full-time, professional or part-time.
    grid_worker_kind: GridWorkerKind | None = None


#: Each kind by its value (a kind given as its plain string is kept as the kind).
_KINDS: dict[object, object] = {k.value: k for k in PersonKind}
_WORKER_KINDS: dict[object, object] = {None: None, **{k.value: k for k in GridWorkerKind}}


class People(Columns[Person]):
    """Every person of a city by id: a read-only mapping kept column by column.

    A city has a hundred thousand people or more. Kept as one tuple per field
    (of strings, which Python's cyclic garbage collector does not walk one by
    one) rather than one object per person, a big city costs the collector
    almost nothing, however often it runs. A :class:`Person` is made when one
    is asked for: equal to the person the city was built with, not the same
    object. The columns are public for code that walks every person (in
    city order, the ``i``-th entry of each is the ``i``-th person), and the
    lookups :meth:`kind`, :meth:`home`, :meth:`employer` and
    :meth:`normal_post` read one field without making a person.

    Args:
        ids, kinds, homes, post_roles, post_units, employers, grid_worker_kinds:
            one value per person, in the city's order (the fields of
            :class:`Person`; the normal post as its role and unit). A kind
            given as its plain string is kept as the :class:`PersonKind`.

    Raises:
        ValueError: the columns are not all of the same length.
    """

    __slots__ = (
        "_ids_sorted",
        "employers",
        "grid_worker_kinds",
        "homes",
        "ids",
        "kinds",
        "post_roles",
        "post_units",
    )

    #: Person ids, in the city's order.
    ids: tuple[str, ...]
    #: Each person's :class:`PersonKind`.
    kinds: tuple[PersonKind, ...]
    #: Each person's home community.
    homes: tuple[str, ...]
    #: The role of each person's normal post.
    post_roles: tuple[str, ...]
    #: The unit (or organisation, compound, building) of each normal post.
    post_units: tuple[str, ...]
    #: Each person's employer, or None.
    employers: tuple[str | None, ...]
    #: Each person's grid-worker kind, or None.
    grid_worker_kinds: tuple[GridWorkerKind | None, ...]

    def __init__(
        self,
        ids: Iterable[str] = (),
        kinds: Iterable[PersonKind | str] = (),
        homes: Iterable[str] = (),
        post_roles: Iterable[str] = (),
        post_units: Iterable[str] = (),
        employers: Iterable[str | None] = (),
        grid_worker_kinds: Iterable[GridWorkerKind | str | None] = (),
        *,
        _index: dict[str, int] | None = None,
        _exact: bool = False,
        _sorted: bool = False,
    ) -> None:
        self.ids = tuple(ids)
        self.homes = tuple(homes)
        self.post_roles = tuple(post_roles)
        self.post_units = tuple(post_units)
        self.employers = tuple(employers)
        if _exact:
            # ``_exact`` (gridgov's own shortcut, not API): a bundle's reader
            # gives the kinds as the enums already (one pass less per column).
            self.kinds = tuple(kinds)  # type: ignore[arg-type]
            self.grid_worker_kinds = tuple(grid_worker_kinds)  # type: ignore[arg-type]
        else:
            raw_kinds = tuple(kinds)
            self.kinds = tuple(map(_KINDS.get, raw_kinds, raw_kinds))  # type: ignore[arg-type]
            raw_workers = tuple(grid_worker_kinds)
            self.grid_worker_kinds = tuple(map(_WORKER_KINDS.get, raw_workers, raw_workers))  # type: ignore[arg-type]
        self._check_lengths("person")
        # ``_sorted`` (gridgov's own shortcut, not API): the caller made the ids in
        # sorted order, so the staffing pools need not compare them to know it
        # (a pass over every id string, long out of the caches in a big city).
        self._ids_sorted = _sorted
        # ``_index``: each id's row, when a bundle's reader made it while
        # checking the ids (gridgov's own shortcut, not API).
        if _index is not None and len(_index) == len(self.ids):
            self._index = _index
        else:
            self._index_ids(self.ids)

    @classmethod
    def of(cls, people: Iterable[Person] | People) -> People:
        """The people of ``people`` (Person objects), in that order."""
        if isinstance(people, People):
            return people
        persons = list(people)
        return cls(
            map(_ID, persons),
            map(_KIND, persons),
            map(_HOME, persons),
            map(_ROLE, persons),
            map(_UNIT, persons),
            map(_EMPLOYER, persons),
            map(_WORKER, persons),
        )

    # -------------------------------------------------------------- one field

    def kind(self, person: str) -> PersonKind:
        """The kind of ``person`` (KeyError for an unknown id)."""
        return self.kinds[self._index[person]]

    def home(self, person: str) -> str:
        """The home community of ``person`` (KeyError for an unknown id)."""
        return self.homes[self._index[person]]

    def employer(self, person: str) -> str | None:
        """The employer of ``person``, or None (KeyError for an unknown id)."""
        return self.employers[self._index[person]]

    def normal_post(self, person: str) -> Post:
        """The normal post of ``person`` (KeyError for an unknown id)."""
        i = self._index[person]
        return Post(self.post_roles[i], self.post_units[i])

    # -------------------------------------------------------------- private

    def _make(self, i: int) -> Person:
        return Person(
            self.ids[i],
            self.kinds[i],
            self.homes[i],
            Post(self.post_roles[i], self.post_units[i]),
            self.employers[i],
            self.grid_worker_kinds[i],
        )

    def _all(self) -> Iterator[Person]:
        return map(
            Person,
            self.ids,
            self.kinds,
            self.homes,
            map(Post, self.post_roles, self.post_units),
            self.employers,
            self.grid_worker_kinds,
        )

    def _columns(self) -> tuple[tuple[Any, ...], ...]:
        return (
            self.ids,
            self.kinds,
            self.homes,
            self.post_roles,
            self.post_units,
            self.employers,
            self.grid_worker_kinds,
        )


_ID = operator.attrgetter("id")
_KIND = operator.attrgetter("kind")
_HOME = operator.attrgetter("home")
_ROLE = operator.attrgetter("normal_post.role")
_UNIT = operator.attrgetter("normal_post.unit")
_EMPLOYER = operator.attrgetter("employer")
_WORKER = operator.attrgetter("grid_worker_kind")

"""People and their posts.

Every person has a *normal post*, the one they hold in normal mode. In an
emergency they may be given an emergency post (point lead of a sealed
compound, building lead, a claimed task, front-line duty) and are released
back to their normal post afterwards.
"""

from __future__ import annotations

import enum

import attrs

__all__ = ["GridWorkerKind", "Person", "PersonKind", "Post"]


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

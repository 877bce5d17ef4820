"""The words of the practice, declared once: zones, modes, ticket states, roles, levels.

Every module that needs one of these names imports it from here; nothing else
declares them. This module is the bottom layer: it imports nothing of gridgov.

Each concept is a :class:`enum.StrEnum` (for typed code: ``Zone.SEALED``) and
a tuple of its plain string values in the order that matters (for files,
messages and loops: ``ZONES``). A member equals its value
(``Zone.SEALED == "sealed"``), so either may be used where a name is expected.

- A *zone* is the state of a residential compound: ``open``, ``precaution``
  (watch), ``controlled`` (movement restricted), ``sealed`` (nobody leaves).
- A *mode* is the state of a community: ``normal``, ``alert``, ``emergency``,
  ``recovery``.
- A *ticket* (a resident's request) moves through the eight-step closed loop
  of ``accepted`` to ``archived`` (or is ``withdrawn``).
- A *role* is an emergency post: point lead, building lead, checkpoint,
  registration, disinfection, volunteer, front line.
- A *pool* is where people for the posts are drawn from, tried in order.
"""

from __future__ import annotations

import enum

__all__ = [
    "CLAIMABLE_ROLES",
    "CLOSED_TICKET_STATES",
    "HOT_ZONES",
    "MODES",
    "OFF",
    "POOL_LEVELS",
    "ROLES",
    "SCOPE_LEVELS",
    "STEPPING_ZONES",
    "TICKET_LEVELS",
    "TICKET_MODES",
    "TICKET_STATES",
    "TICKET_STEPS",
    "ZONES",
    "Mode",
    "Role",
    "TicketState",
    "Zone",
]


class Zone(enum.StrEnum):
    """The state of a residential compound, from the mildest to the most severe."""

    OPEN = "open"
    PRECAUTION = "precaution"
    CONTROLLED = "controlled"
    SEALED = "sealed"


class Mode(enum.StrEnum):
    """The state of a community."""

    NORMAL = "normal"
    ALERT = "alert"
    EMERGENCY = "emergency"
    RECOVERY = "recovery"


class TicketState(enum.StrEnum):
    """The state of a ticket, in loop order; ``accepted`` is the initial one."""

    ACCEPTED = "accepted"
    CLASSIFIED = "classified"
    TRACKING = "tracking"
    SUPERVISING = "supervising"
    FED_BACK = "fed_back"
    SCORED = "scored"
    PUBLISHED = "published"
    ARCHIVED = "archived"
    WITHDRAWN = "withdrawn"


class Role(enum.StrEnum):
    """An emergency role, in the order posts are filled (most urgent first)."""

    POINT_LEAD = "point_lead"
    BUILDING_LEAD = "building_lead"
    CHECKPOINT = "checkpoint"
    REGISTRATION = "registration"
    DISINFECTION = "disinfection"
    VOLUNTEER = "volunteer"
    FRONT_LINE = "front_line"


def _values(members: tuple[enum.StrEnum, ...]) -> tuple[str, ...]:
    return tuple(member.value for member in members)


#: Compound zones from open to sealed (the order of severity).
ZONES: tuple[str, ...] = _values(tuple(Zone))

#: Zones that step down when no new case comes, most severe first; ``open``
#: is where they all end.
STEPPING_ZONES: tuple[str, ...] = ZONES[:0:-1]

#: The zones under emergency measures: their compounds need posts, and their
#: residents' requests run on the emergency time limits by default.
HOT_ZONES: tuple[str, ...] = (Zone.SEALED.value, Zone.CONTROLLED.value)

#: Community modes.
MODES: tuple[str, ...] = _values(tuple(Mode))

#: The states of a ticket, in loop order.
TICKET_STATES: tuple[str, ...] = _values(tuple(TicketState))

#: States of the eight-step closed loop that have a time limit, in loop order:
#: how long a ticket may stay in each before its next step.
TICKET_STEPS: tuple[str, ...] = TICKET_STATES[: TICKET_STATES.index(TicketState.ARCHIVED)]

#: States in which a ticket is closed (Open311 ``closed``).
CLOSED_TICKET_STATES: frozenset[str] = frozenset(
    {TicketState.PUBLISHED.value, TicketState.ARCHIVED.value, TicketState.WITHDRAWN.value}
)

#: The situations a ticket's time limits depend on: ``emergency`` for a
#: request from a compound in one of the emergency zones of the rules or from
#: a community in emergency mode, ``normal`` otherwise.
TICKET_MODES: tuple[str, ...] = (Mode.NORMAL.value, Mode.EMERGENCY.value)

#: Emergency roles, in the order posts are filled.
ROLES: tuple[str, ...] = _values(tuple(Role))

#: Roles that are tasks on a community's task board, claimed by in-service
#: members (the "dynamic claiming" of practice).
CLAIMABLE_ROLES: frozenset[str] = frozenset(
    {Role.CHECKPOINT.value, Role.REGISTRATION.value, Role.DISINFECTION.value}
)

#: Levels a scope may name, lowest first (``compound`` is a scope, not a level of command).
SCOPE_LEVELS: tuple[str, ...] = ("compound", "grid", "community", "street", "district", "city")

#: Levels that may hold the authority for a request category, lowest first.
TICKET_LEVELS: tuple[str, ...] = SCOPE_LEVELS[1:]

#: Pool levels people are drawn from, in the default filling order: the
#: community, its big party committee, then street, district and city.
POOL_LEVELS: tuple[str, ...] = ("community", "big_party_committee", *SCOPE_LEVELS[3:])

#: The scope value that switches a measure off in a rules file.
OFF = "off"

"""Tickets as Open311 GeoReport v2 service requests, for a host platform's Open311 clients.

`GeoReport v2 <https://wiki.open311.org/GeoReport_v2/>`_ is the interchange
format of city service requests. :func:`service_requests` maps tickets onto
the fields of its ``GET requests`` response:

=====================  ============================================================
GeoReport field        from the ticket
=====================  ============================================================
service_request_id     the ticket number
status                 ``closed`` once published, archived or withdrawn, else ``open``
status_notes           the step of the eight it is at, and where (escalations, reopens)
service_name           the category, in words
service_code           the category's code name
description            the public summary: the resident's words with their name,
                       phone, address and anything like a phone number removed
agency_responsible     the unit handling it (the accepting grid before classification)
                       and the category's responsible post
service_notice         the mode and the time limit of the current step
requested_datetime     when the request was accepted
updated_datetime       when the ticket last changed
expected_datetime      when the current step's time limit passes (null: none running)
address                the community (never the exact address)
=====================  ============================================================

Datetimes are ISO 8601 with their UTC offset (``2022-09-17T08:00:00+08:00``),
to the second. ``lat``/``long``, ``address_id``, ``zipcode`` and ``media_url``
are left out: the exact place is personal data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, tzinfo
from typing import Any

from gridgov.tickets import Ticket, TicketDesk, redact

__all__ = ["FIELDS", "dumps", "service_request", "service_requests"]

#: The fields of every exported request, in order.
FIELDS = (
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
)

_STEP_NOTES = {
    "accepted": "step 1 of 8: accepted, waiting to be classified",
    "classified": "step 2 of 8: classified and transferred, waiting to be taken on",
    "tracking": "step 3 of 8: being handled, effect tracked",
    "supervising": "step 4 of 8: implementation under supervision",
    "fed_back": "step 5 of 8: result fed back, waiting for the resident's score",
    "scored": "step 6 of 8: scored",
    "published": "step 7 of 8: outcome published",
    "archived": "step 8 of 8: archived, number closed",
    "withdrawn": "withdrawn by the resident",
}


def _time(when: datetime, tz: tzinfo | None) -> str:
    return (when.astimezone(tz) if tz is not None else when).isoformat(timespec="seconds")


def _name(desk: TicketDesk, unit: str) -> str:
    name = desk.city.chain.unit(unit).name
    return name or unit


def service_request(desk: TicketDesk, ticket: Ticket, tz: tzinfo | None = None) -> dict[str, Any]:
    """One ticket as a GeoReport v2 service request.

    Args:
        desk: the desk holding the ticket (for the city's names and the rules).
        ticket: the ticket.
        tz: show times in this time zone (default: as recorded).

    Returns:
        A dict with exactly the keys of :data:`FIELDS`.
    """
    category = desk.rule.categories[ticket.category]
    notes = [_STEP_NOTES[ticket.state]]
    if ticket.state not in ("accepted", "withdrawn", "archived", "published"):
        notes.append(f"at {_name(desk, ticket.unit)}")
    if ticket.escalations:
        notes.append(f"escalated {ticket.escalations} level(s)")
    if ticket.reopens:
        notes.append(f"reopened {ticket.reopens} time(s) after a low score")
    if ticket.score is not None:
        notes.append(f"score {ticket.score} of 5")
    notice = ""
    limit = desk.rule.limit_hours(ticket.category, ticket.mode, ticket.state)
    if ticket.due is not None and limit is not None:
        notice = f"{ticket.mode} time limits: this step within {limit:g} h"
    elif ticket.due is None and ticket.breached:
        notice = "overdue at the city"
    community = desk.city.community_of(ticket.origin)
    # Before classification the accepting grid holds it; after feedback the
    # handling unit still answers for it while the grid collects the score.
    if ticket.state in ("accepted", "withdrawn") and ticket.handler is None:
        agency = _name(desk, ticket.unit)
    else:
        agency = f"{_name(desk, ticket.handler or ticket.unit)} ({category.responsible})"
    return {
        "service_request_id": ticket.id,
        "status": "closed" if ticket.closed else "open",
        "status_notes": "; ".join(notes),
        "service_name": ticket.category.replace("_", " ").capitalize(),
        "service_code": ticket.category,
        "description": redact(ticket.summary, ticket.private),
        "agency_responsible": agency,
        "service_notice": notice,
        "requested_datetime": _time(ticket.opened, tz),
        "updated_datetime": _time(ticket.updated, tz),
        "expected_datetime": None if ticket.due is None else _time(ticket.due, tz),
        "address": _name(desk, community),
    }


def service_requests(
    desk: TicketDesk, tickets: Iterable[str] | None = None, tz: tzinfo | None = None
) -> list[dict[str, Any]]:
    """Tickets as the body of a GeoReport v2 ``GET requests.json`` response.

    Args:
        desk: the desk.
        tickets: ticket numbers (default: every ticket, in the order opened).
        tz: show times in this time zone (default: as recorded).

    Raises:
        UnknownUnitError: a ticket number is not on the desk.
    """
    chosen = list(desk) if tickets is None else [desk.ticket(t) for t in tickets]
    return [service_request(desk, ticket, tz) for ticket in chosen]


def dumps(desk: TicketDesk, tickets: Iterable[str] | None = None, tz: tzinfo | None = None) -> str:
    """:func:`service_requests` as JSON text (UTF-8 names kept as they are)."""
    return json.dumps(service_requests(desk, tickets, tz), ensure_ascii=False, indent=2)

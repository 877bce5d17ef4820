"""Events out: gridgov events as CloudEvents 1.0, structured-mode JSON.

A host platform that already reads CloudEvents (the CNCF specification) reads
gridgov's decisions without a gridgov-specific parser, and without gridgov
needing the cloudevents SDK::

    {"specversion": "1.0", "id": "230800/42", "source": "/gridgov/230800",
     "type": "org.gridgov.zone.changed.v1", "time": "2022-09-17T00:00:00+00:00",
     "subject": "230803007002-C01", "datacontenttype": "application/json",
     "data": {"seq": 42, "old": "open", "new": "sealed", ...}}

``id`` is unique within ``source`` (the journal's sequence number), so a
consumer can de-duplicate deliveries by (source, id).
"""

from __future__ import annotations

import json
from typing import Any

from gridgov.journal import SCHEMA_VERSION, Event
from gridgov.privacy import redact

# Free-text fields an event may carry: redacted when it goes outside.
_FREE_TEXT = frozenset({"reason", "note", "result", "summary", "description", "comment"})

__all__ = ["SPEC_VERSION", "cloudevent_type", "to_cloudevent", "to_cloudevent_json"]

#: The CloudEvents version written.
SPEC_VERSION = "1.0"


def cloudevent_type(event_type: str) -> str:
    """``zone.changed`` -> ``org.gridgov.zone.changed.v1`` (reverse-DNS, versioned)."""
    return f"org.gridgov.{event_type}.v{SCHEMA_VERSION}"


def to_cloudevent(event: Event, source: str, *, include_private: bool = False) -> dict[str, Any]:
    """The event as a CloudEvents 1.0 structured-mode object.

    Events go outside gridgov this way, so personal data stays in: the
    ``private`` part of an event (a resident's name, phone, address and own
    words) is left out, and free-text fields (``reason``, ``note``,
    ``result``, ``summary``, ``description``) go through
    :func:`gridgov.privacy.redact`, unless ``include_private`` is true.

    Args:
        event: a gridgov event.
        source: a URI-reference naming the engine, e.g. ``/gridgov/230800``.
        include_private: export the event as recorded, personal data
            included (for a trusted archive only; never for publication).

    Returns:
        A dict with the required attributes (``specversion``, ``id``,
        ``source``, ``type``), ``time``, ``subject`` (the unit id),
        ``datacontenttype`` and ``data`` (the event's own fields).
    """
    data = {
        "seq": event.seq,
        "command": event.command,
        "actor": event.actor,
        "cause": event.cause,
        "old": event.old,
        "new": event.new,
        **event.data,
    }
    if not include_private:
        data = {
            k: redact(v) if k in _FREE_TEXT and isinstance(v, str) else v
            for k, v in data.items()
            if k != "private"
        }
    return {
        "specversion": SPEC_VERSION,
        "id": str(event.seq),
        "source": source,
        "type": cloudevent_type(event.type),
        "time": event.time.isoformat(),
        "subject": event.unit,
        "datacontenttype": "application/json",
        "data": data,
    }


def to_cloudevent_json(event: Event, source: str, *, include_private: bool = False) -> str:
    """The event as CloudEvents structured-mode JSON text (``application/cloudevents+json``).

    ``include_private`` as for :func:`to_cloudevent`.
    """
    return json.dumps(
        to_cloudevent(event, source, include_private=include_private),
        ensure_ascii=False,
        separators=(",", ":"),
    )

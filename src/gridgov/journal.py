"""Events and the journal that keeps them.

Every change the engine makes (a zone, a mode, a case reported, a measure
declared or lifted) is an immutable :class:`Event` with a sequence number,
the time of the change on the engine's clock, the actor and the command that
caused it. State is always what replaying the events gives.

:class:`MemoryJournal` is the default, in-memory store; a command's events are
appended together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

__all__ = ["Event", "MemoryJournal"]


@attrs.frozen
class Event:
    """One change, as recorded."""

    #: Position in the journal, from 1, without gaps.
    seq: int
    #: When the change took effect, on the engine's clock.
    time: datetime
    #: What changed, e.g. ``zone.changed``, ``mode.changed``, ``case.confirmed``.
    type: str
    #: The unit (compound, community, ...) or area the event is about.
    unit: str
    #: Id of the command that caused it.
    command: str
    #: Who issued the command (a unit or person id, or ``system``).
    actor: str
    #: Why, in words: the rule or trigger that fired.
    cause: str = ""
    #: State before the change (None where it does not apply).
    old: str | None = None
    #: State after the change (None where it does not apply).
    new: str | None = None
    #: Further details, JSON-friendly (strings, numbers, booleans, None).
    data: Mapping[str, Any] = attrs.field(factory=dict)


class MemoryJournal:
    """An append-only, in-memory list of events."""

    def __init__(self) -> None:
        self._events: list[Event] = []

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self._events)

    def __getitem__(self, index: int) -> Event:
        return self._events[index]

    @property
    def next_seq(self) -> int:
        """The sequence number the next event gets."""
        return len(self._events) + 1

    def append(self, events: Sequence[Event]) -> None:
        """Append one command's events, all together.

        Raises:
            ValueError: the events do not continue the sequence without gaps.
        """
        expected = self.next_seq
        for offset, event in enumerate(events):
            if event.seq != expected + offset:
                raise ValueError(
                    f"event {event.seq} breaks the journal's sequence "
                    f"(expected {expected + offset})"
                )
        self._events.extend(events)

    def since(self, seq: int) -> list[Event]:
        """Events with a sequence number above ``seq``."""
        return self._events[max(0, seq) :]

    def select(
        self, type: str | None = None, unit: str | None = None, command: str | None = None
    ) -> list[Event]:
        """Events matching every given filter (``type`` may end in ``.*``)."""
        out: Iterable[Event] = self._events
        if type is not None:
            if type.endswith(".*"):
                prefix = type[:-1]
                out = (e for e in out if e.type.startswith(prefix))
            else:
                out = (e for e in out if e.type == type)
        if unit is not None:
            out = (e for e in out if e.unit == unit)
        if command is not None:
            out = (e for e in out if e.command == command)
        return list(out)

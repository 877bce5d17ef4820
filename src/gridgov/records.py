"""What planners hand to the engine: events as staged, before the journal numbers them.

A planner never sees the journal; it returns :class:`Record` tuples (an
event without its seq, command and actor), and reducers read events through
the :class:`EventLike` protocol, which :class:`gridgov.journal.Event`
satisfies. Both live here, at the bottom of the layers, so that planners and
the journal need not import each other.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, NamedTuple, Protocol

__all__ = ["EventLike", "Planned", "Record", "RecordColumns", "record_data"]

#: A record's data kept compact: its keys (a tuple shared by many records), then
#: its values in their order; the dict is made when the data is read
#: (:func:`record_data`). A tuple of strings is not tracked by the cyclic
#: collector and costs a third of a dict.
CompactData = tuple[Any, ...]

#: Records' data as their planner had it, for the engine's reducer (see
#: :class:`RecordColumns`): the staffing planner's assignments (one tuple: its runs,
#: each (post, role, level, people), records of one type and one time, the
#: employers drawn from, or None, and each person's assignment with the time it was
#: planned for, or None twice), its rows of opened posts (id, role, unit,
#: community, capacity), or its releases (one tuple: the people, the posts).
Planned = list[tuple[Any, ...]]


def record_data(data: Mapping[str, Any] | CompactData) -> Mapping[str, Any]:
    """The data of a record or event as a mapping: ``data`` itself, or the dict of
    compact data (``(keys, value, value, ...)``, see :class:`RecordColumns`)."""
    if type(data) is tuple:
        return dict(zip(data[0], data[1:], strict=True))
    return data  # type: ignore[return-value]


class Record(NamedTuple):
    """An event as a planner stages it: everything but its seq, command and actor."""

    #: When the change takes effect.
    time: datetime
    #: The event type.
    type: str
    #: The unit it is about.
    unit: str
    #: Why, in words.
    cause: str
    #: State before (None where it does not apply).
    old: str | None
    #: State after (None where it does not apply).
    new: str | None
    #: Further details, JSON-friendly.
    data: dict[str, Any]


class EventLike(Protocol):
    """The fields of a recorded event that reducers read."""

    @property
    def seq(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def unit(self) -> str: ...
    @property
    def command(self) -> str: ...
    @property
    def time(self) -> datetime: ...
    @property
    def old(self) -> str | None: ...
    @property
    def new(self) -> str | None: ...
    @property
    def data(self) -> Mapping[str, Any]: ...
    @property
    def cause(self) -> str: ...


class RecordColumns:
    """Records a planner made together, one list per field (in :class:`Record`'s order).

    A planner that keeps its draft in columns (the staffing planner's forty
    thousand assignments when a city's urban area is sealed) hands them over
    so, and the engine's commit takes the lists as they are, where a record
    at a time costs a tuple, an unpacking and seven appends each. Each
    record's data may be kept compact: ``(keys, value, value, ...)``, the
    same keys tuple for every record (:func:`record_data` makes its dict; the
    engine keeps it so, and makes the dict when an event's data is read).
    Iterating gives the records one by one, as tuples, their data as dicts.

    ``planned``, when given, is the same data in the planner's own form
    (:data:`Planned`): the engine's reducer reads the records from it (it
    travels with the events as :attr:`Events._planned
    <gridgov.journal.Events>`), not from the data column.
    """

    __slots__ = ("causes", "datas", "kinds", "news", "olds", "planned", "times", "units")

    def __init__(
        self,
        times: list[datetime],
        kinds: list[str],
        units: list[str],
        causes: list[str],
        olds: list[str | None],
        news: list[str | None],
        datas: list[Mapping[str, Any] | CompactData],
        planned: Planned | None = None,
    ) -> None:
        self.times = times
        self.kinds = kinds
        self.units = units
        self.causes = causes
        self.olds = olds
        self.news = news
        self.datas = datas
        self.planned = planned

    def __len__(self) -> int:
        return len(self.times)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return zip(
            self.times,
            self.kinds,
            self.units,
            self.causes,
            self.olds,
            self.news,
            map(record_data, self.datas),
            strict=True,
        )

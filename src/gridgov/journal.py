"""Events and the journals that keep them.

Every change the engine makes (a zone, a mode, a case reported, a measure
declared or lifted, a post filled, a command refused) is an immutable
:class:`Event` with a sequence number, the time of the change on the engine's
clock, the actor and the command that caused it. State is always what
replaying the events gives.

Two journals share one interface:

* :class:`MemoryJournal`, the default: a list in memory.
* :class:`SqliteJournal`: an append-only store in SQLite (the standard
  library's ``sqlite3``) in WAL mode. Each command's events, and its
  idempotency key, are written in one transaction, so after a crash a command
  is either wholly there or not at all. A new journal is of format 5
  (:data:`FORMAT_VERSION`): a command's events are stored as rows of blocks
  of up to 4,096 consecutive events, each block's fields a column at a time
  in one JSON array, the text columns by runs and the data by key
  (:func:`_keyed_body`), each block chained to the one before by a SHA-256
  hash. Journals of format 4 (the same blocks, a dict per event's data:
  :func:`_block_body`) open, read, replay and take new commands in format 4
  blocks; those of format 3 (a row per event, a compact JSON array of its
  fields, :func:`encode_row`, each row chained by its own hash) and format 2
  (rows of :meth:`Event.to_json` objects) in format 3 rows. Periodic snapshots
  of the engine's state make reopening a long journal fast (a snapshot
  records the chain's hash at its seq, so reopening checks the events after
  it, and the events it covers before any of them is read).

Both remember the idempotency key of each command, so that a retried command
can be answered with its first result instead of being done twice.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import itertools
import json
import operator
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, overload

import attrs
import orjson

from gridgov.errors import JournalError
from gridgov.records import CompactData, Planned, record_data

__all__ = [
    "FORMAT_VERSION",
    "GENESIS",
    "SCHEMA_VERSION",
    "SNAPSHOT_VERSION",
    "CommandRecord",
    "Event",
    "Events",
    "JournalView",
    "MemoryJournal",
    "SqliteJournal",
    "decode_snapshot",
    "encode_row",
    "encode_snapshot",
    "row_hash",
]

#: Version of the JSON form of an event; written into every record.
SCHEMA_VERSION = 1
#: Version of the SQLite journal's layout, the one a new journal is written in
#: (2: every event row chained by a hash; 3: each row's record a compact JSON
#: array of the event's fields, see :func:`encode_row`; 4: a row per block of
#: up to 4,096 consecutive events of one command, their fields a column at a
#: time, one hash per block; 5: format 4's blocks, each text column stored by
#: runs and the data by key, see :func:`_keyed_body`). Journals of formats 2 to 4
#: still open, read and replay; a command appended to one of format 4 writes
#: format 4 blocks, to one of format 3 format 3 rows, and the first command
#: appended to one of format 2 writes format 3 rows after its old ones.
FORMAT_VERSION = 5
#: ``meta`` ``schema`` of a journal whose rows are all JSON objects (format 2).
_OBJECT_ROWS = "1"
#: ``meta`` ``schema`` of a journal that may hold format 3 rows (arrays).
_ARRAY_ROWS = "2"
#: ``meta`` ``schema`` of a journal of blocks (``meta`` ``format`` says 4 or 5).
_BLOCK_ROWS = "3"
#: ``meta`` ``format`` of a journal whose block bodies are of format 5 (keyed data).
_KEYED = "5"
#: The format a new journal file is written in (tests set 3 or 4 to write an older one).
_NEW_FORMAT = FORMAT_VERSION
#: The last element of a format 3 record encoded by the standard library (data
#: orjson cannot encode exactly): such a record is read back by it too.
_EXACT = "json"
#: Rows of format 3 a replay reads and applies at a time (:meth:`SqliteJournal.replay_chunks`;
#: a journal of blocks is replayed a block's events at a time).
REPLAY_CHUNK = 128
#: The hash a journal's chain starts from.
GENESIS = b"\0" * 32
#: Version of the JSON form of a snapshot; a snapshot of another version is not read.
SNAPSHOT_VERSION = 1
_SNAPSHOT_FORMAT = "gridgov.snapshot"
#: Makes an :class:`Event` from its ten fields without a Python call (the engine's commit).
_new_tuple = tuple.__new__
_FIRST = operator.itemgetter(0)
#: The values of compact data, by their place (see :class:`Events`).
_GETTERS = tuple(operator.itemgetter(i) for i in range(1, 17))


class _EventFields(NamedTuple):
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
    #: Further details, JSON-friendly (strings, numbers, booleans, None, lists, objects).
    data: Mapping[str, Any] = MappingProxyType({})


class Event(_EventFields):
    """One change, as recorded: immutable, its fields read by name.

    ``Event(seq, time, type, unit, command, actor, cause="", old=None,
    new=None, data={})``, by position or by name; ``data`` defaults to a new
    empty dict. An event is a named tuple of these fields (made in a quarter
    of the time a frozen class's ``__init__`` takes, which counts when one
    command records fifty thousand of them), and it answers ``attrs``' own
    functions as the frozen class it was: ``attrs.evolve(event, seq=2)``,
    ``attrs.asdict(event)``, ``attrs.fields(Event)``.
    """

    __slots__ = ()

    def __new__(
        cls,
        seq: int,
        time: datetime,
        type: str,
        unit: str,
        command: str,
        actor: str,
        cause: str = "",
        old: str | None = None,
        new: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> Event:
        fields = (
            seq,
            time,
            type,
            unit,
            command,
            actor,
            cause,
            old,
            new,
            {} if data is None else data,
        )
        return _new_tuple(cls, fields)

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready dict, with the schema version under ``v``."""
        return {
            "v": SCHEMA_VERSION,
            "seq": self.seq,
            "time": self.time.isoformat(),
            "type": self.type,
            "unit": self.unit,
            "command": self.command,
            "actor": self.actor,
            "cause": self.cause,
            "old": self.old,
            "new": self.new,
            "data": dict(self.data),
        }

    def to_json(self) -> str:
        """The event as one line of JSON (compact, UTF-8 text, keys in the order above).

        Encoded by orjson; data orjson cannot encode (keys that are not
        strings, integers beyond 64 bits) goes through the standard library's
        ``json`` with the same layout. NaN and infinities are not JSON: they
        are written as ``null``.
        """
        return _encode(self, self.time.isoformat())

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Event:
        """Read an event written by :meth:`to_dict`.

        Raises:
            JournalError: the record is not an event of a known schema version.
        """
        return _from_record(record, None, copy=True)

    @classmethod
    def from_json(cls, text: str) -> Event:
        """Read an event written by :meth:`to_json`.

        Raises:
            JournalError: the text is not a valid event record.
        """
        return _decode(text, None)


@attrs.frozen
class _EventShape:
    """The fields of :class:`Event` as ``attrs`` describes them (see its docstring)."""

    seq: int
    time: datetime
    type: str
    unit: str
    command: str
    actor: str
    cause: str = ""
    old: str | None = None
    new: str | None = None
    data: Mapping[str, Any] = attrs.field(factory=dict)


Event.__attrs_attrs__ = _EventShape.__attrs_attrs__  # type: ignore[attr-defined]

#: An event's fields but its seq, one list per field, in :class:`Event`'s order
#: (time, type, unit, command, actor, cause, old, new, data).
_Columns = tuple[
    list[datetime],
    list[str],
    list[str],
    list[str],
    list[str],
    list[str],
    list[str | None],
    list[str | None],
    list[Mapping[str, Any] | CompactData],
]


def _empty_columns() -> _Columns:
    return ([], [], [], [], [], [], [], [], [])


class Events(Sequence[Event]):
    """Consecutive events (seq ``first``, ``first + 1``, ...) kept column by column;
    what a command returns (:attr:`CommandResult.events <gridgov.engine.CommandResult>`).

    It reads as the tuple of its :class:`Event` objects: indexing, iterating
    and slicing give events (made when read: two reads give equal events,
    not the same object), and ``==``, ``+``, ``in``, ``len``, ``hash``,
    ``repr`` and pickling answer as for that tuple (``events == ()`` when
    there are none; ``+`` gives a tuple). Why columns: one list per field
    holds strings, times and data dicts of plain values, none of which
    Python's cyclic collector tracks, where an :class:`Event` (a named tuple,
    like any instance of a class) is always tracked: fifty thousand events of
    one command, kept as events, made the collector walk the whole heap
    inside the command (see ``benchmarks/RESULTS.md``).

    A command's events may also carry ``planned``: where a planner's records
    came with their data in its own form (``RecordColumns.planned``, see
    :class:`~gridgov.records.RecordColumns`), the indices of the first such
    event and of the one after the last, and that data. Only the reducer
    reads it (not the data column); it is no part of the events' value
    (``==``, slices, pickles and journals leave it out).
    """

    __slots__ = ("_columns", "_first", "_keyed", "_lazy", "_planned", "_size")

    def __init__(
        self,
        first: int = 1,
        columns: _Columns | None = None,
        planned: tuple[tuple[int, int, Planned], ...] = (),
    ) -> None:
        self._first = first
        self._columns = _empty_columns() if columns is None else columns
        self._size = len(self._columns[0])
        self._planned = planned
        #: A replay's data as its block stored it: runs of events whose data share
        #: one key set (:data:`_DataRun`), what the data column's compact data is
        #: made from; ``_fields`` reads a run's values from them. None for other
        #: events (a slice or a join leaves them out).
        self._keyed: tuple[_DataRun, ...] | None = None
        #: A decoded block's columns as stored, until ``_columns`` is first read (then
        #: None): each text column a list or its runs (:data:`_Stored`), the data
        #: column None when it is made from ``_keyed`` (see :func:`_keyed_events`).
        #: A replay's reducer reads only the columns it needs (``_column``).
        self._lazy: list[Any] | None = None

    @classmethod
    def of(cls, events: Iterable[Event]) -> Events:
        """The events of ``events`` (consecutive seqs), as :class:`Events`.

        Raises:
            JournalError: the seqs are not consecutive.
        """
        out = cls()
        out._extend(events)
        return out

    @classmethod
    def join(cls, parts: Sequence[Events]) -> Events:
        """One :class:`Events` of consecutive ``parts`` (each following the one before).

        Raises:
            JournalError: a part does not follow the one before.
        """
        if len(parts) == 1:
            return parts[0]
        out = cls(parts[0]._first if parts else 1)
        for part in parts:
            out._extend_by(part)
        return out

    def _extend(self, events: Iterable[Event]) -> None:
        """Add events after the last (their seqs must follow on)."""
        if isinstance(events, Events):
            self._extend_by(events)
            return
        self._keyed = None  # (its runs would not cover the events added)
        columns = self._columns
        times, kinds, units, commands, actors, causes, olds, news, datas = columns
        at_time, at_type, at_unit = times.append, kinds.append, units.append
        at_command, at_actor, at_cause = commands.append, actors.append, causes.append
        at_old, at_new, at_data = olds.append, news.append, datas.append
        expected = self._first + self._size
        for seq, time, kind, unit, command, actor, cause, old, new, data in events:
            if seq != expected:
                if not self._size and not columns[0]:
                    self._first = expected = seq
                else:
                    raise JournalError(
                        f"event {seq} breaks the journal's sequence (expected {expected})"
                    )
            expected += 1
            at_time(time)
            at_type(kind)
            at_unit(unit)
            at_command(command)
            at_actor(actor)
            at_cause(cause)
            at_old(old)
            at_new(new)
            at_data(data)
        self._size = len(columns[0])

    def _extend_by(self, other: Events) -> None:
        if not other._size:
            return
        self._keyed = None  # (its runs would not cover the events added)
        if not self._size:
            self._first = other._first
        elif other._first != self._first + self._size:
            raise JournalError(
                f"event {other._first} breaks the journal's sequence "
                f"(expected {self._first + self._size})"
            )
        mine, theirs = self._columns, other._columns
        # Nine extends written out: this runs once per command.
        mine[0].extend(theirs[0])
        mine[1].extend(theirs[1])
        mine[2].extend(theirs[2])
        mine[3].extend(theirs[3])
        mine[4].extend(theirs[4])
        mine[5].extend(theirs[5])
        mine[6].extend(theirs[6])
        mine[7].extend(theirs[7])
        mine[8].extend(theirs[8])
        self._size += other._size

    if not TYPE_CHECKING:  # (mypy keeps checking every other attribute)

        def __getattr__(self, name: str) -> Any:
            # Only an attribute not set comes here: a decoded block's columns, made
            # when first read (then a slot read, no call).
            if name != "_columns" or self._lazy is None:
                raise AttributeError(name)
            columns = tuple(map(self._column, range(9)))
            self._columns = columns
            self._lazy = None
            return columns

    def _column(self, index: int) -> list[Any]:
        """The column at ``index`` of :data:`_Columns` (of a decoded block, that column
        alone made: its runs expanded, or its compact data made from ``_keyed``)."""
        lazy = self._lazy
        if lazy is None:
            return self._columns[index]
        column = lazy[index]
        if type(column) is not list:
            keyed = self._keyed or ()
            column = lazy[index] = _unrun(column) if index < 8 else _compact(keyed, 0, self._size)
        return column  # type: ignore[no-any-return]

    def _datas(self, start: int, stop: int) -> list[Any]:
        """The data column of the events ``start:stop`` (``0 <= start <= stop <=
        len``; of a decoded block, made for these events alone)."""
        lazy = self._lazy
        if lazy is not None and lazy[8] is None and self._keyed is not None:
            return _compact(self._keyed, start, stop)
        return self._column(8)[start:stop]

    @property
    def first(self) -> int:
        """The seq of the first event (the next seq when there are none)."""
        return self._first

    def __len__(self) -> int:
        return self._size

    def _event(self, index: int) -> Event:
        if self._lazy is not None:  # a decoded block: its columns read one by one
            column = self._column
            fields = [column(at)[index] for at in range(8)]
            return _new_tuple(Event, (self._first + index, *fields, self._data(index)))
        c = self._columns
        return _new_tuple(
            Event,
            (
                self._first + index,
                c[0][index],
                c[1][index],
                c[2][index],
                c[3][index],
                c[4][index],
                c[5][index],
                c[6][index],
                c[7][index],
                record_data(c[8][index]),
            ),
        )

    def _data(self, index: int) -> Mapping[str, Any]:
        """The data of the event at ``index`` (a dict made from compact data)."""
        lazy = self._lazy
        if lazy is not None and lazy[8] is None and self._keyed is not None:
            # A decoded block's: from the run of data that holds it.
            runs = self._keyed
            run = runs[bisect.bisect_right(runs, index, key=_FIRST) - 1]
            at = index - run[0]
            return {key: _run_values(run, place)[at] for place, key in enumerate(run[2])}
        return record_data(self._column(8)[index])

    def _fields(self, start: int, stop: int, keys: tuple[str, ...]) -> tuple[Any, ...] | None:
        """For the events ``start:stop``, each of ``keys`` read from every event's
        data: one sequence per key (None when an event's data lacks one). Compact
        data of these keys (see :class:`~gridgov.records.RecordColumns`) is read
        a column at a time, in C."""
        if self._keyed is not None and start < stop:
            return _keyed_fields(self._keyed, max(start, 0), min(stop, self._size), keys)
        datas = self._column(8)[start:stop]
        if not datas:
            return tuple([] for _ in keys)
        # A field at a time with itemgetter, in C (zip(*datas) would make an
        # iterator per event: tracked objects the collector would promote).
        read: list[Any] = datas
        # A replay's data are all dicts (read as they are, no loop per event; counted
        # in C), a command's compact data (not counted: a type compared with another
        # costs a rich comparison each).
        dicts = list(map(type, datas)).count(dict) if type(datas[0]) is dict else 0
        if dicts != len(datas):
            try:
                heads = list(map(_FIRST, datas))
                if heads.count(keys) == len(datas):
                    return tuple([list(map(get, datas)) for get in _GETTERS[: len(keys)]])
                # Compact data of one key set holding these keys (a replay's: see
                # _compact), each key read at its place.
                shared = heads[0]
                if heads.count(shared) == len(datas) and set(keys) <= set(shared):
                    places = [shared.index(key) + 1 for key in keys]
                    return tuple([list(map(operator.itemgetter(at), datas)) for at in places])
            except (KeyError, IndexError, TypeError):
                pass  # some data is a dict (no item 0), or not compact data of these keys
        try:
            if dicts != len(datas):
                read = [data if type(data) is not tuple else record_data(data) for data in datas]
            return tuple([list(map(operator.itemgetter(key), read)) for key in keys])
        except (KeyError, TypeError, ValueError):
            return None

    @overload
    def __getitem__(self, index: int) -> Event: ...
    @overload
    def __getitem__(self, index: slice) -> Events: ...

    def __getitem__(self, index: int | slice) -> Event | Events:
        size = self._size
        if isinstance(index, slice):
            start, stop, step = index.indices(size)
            if step != 1:
                raise TypeError("Events slices take no step (use tuple(events)[::step])")
            stop = max(start, stop)
            columns = tuple(column[start:stop] for column in self._columns)
            return Events(self._first + start, columns)  # type: ignore[arg-type]
        at = index.__index__()
        if at < 0:
            at += size
        if not 0 <= at < size:
            raise IndexError("event index out of range")
        return self._event(at)

    def rows(self) -> Iterator[EventRow]:
        """Each event's fields as a plain tuple, in :class:`Event`'s order (no
        :class:`Event` made: what the journals and the reducer read)."""
        c = self._columns
        return zip(
            range(self._first, self._first + self._size),
            *c[:8],
            map(record_data, c[8]),
            strict=True,
        )

    def __iter__(self) -> Iterator[Event]:
        return map(_new_tuple, itertools.repeat(Event), self.rows())

    def __reversed__(self) -> Iterator[Event]:
        return map(self._event, range(self._size - 1, -1, -1))

    def __contains__(self, value: object) -> bool:
        return any(value == event for event in self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Events):
            if self._size != other._size:
                return False
            if not self._size:
                return True
            mine, theirs = self._columns, other._columns
            return self._first == other._first and (
                mine == theirs
                or (
                    mine[:8] == theirs[:8]
                    and list(map(record_data, mine[8])) == list(map(record_data, theirs[8]))
                )
            )
        if isinstance(other, tuple):
            return len(other) == self._size and tuple(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __add__(self, other: object) -> tuple[Event, ...]:
        if isinstance(other, Events | tuple):
            return (*self, *other)
        return NotImplemented

    def __radd__(self, other: object) -> tuple[Event, ...]:
        if isinstance(other, tuple):
            return (*other, *self)
        return NotImplemented

    def __repr__(self) -> str:
        return repr(tuple(self))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Events, (self._first, tuple(list(column) for column in self._columns)))


#: An event's fields as a plain tuple, in :class:`Event`'s order.
EventRow = tuple[int, datetime, str, str, str, str, str, str | None, str | None, Mapping[str, Any]]


def event_rows(events: Iterable[Event]) -> Iterable[EventRow]:
    """The fields of each event of ``events``, without making an :class:`Event` per
    row when they are kept as :class:`Events`."""
    return events.rows() if isinstance(events, Events) else events


def _from_record(
    record: Mapping[str, Any], times: dict[str, datetime] | None, copy: bool = False
) -> Event:
    """:meth:`Event.from_dict`; ``times`` keeps the times already read (a command's
    events mostly share one); ``copy`` copies ``data`` even when it is a dict (a
    record just decoded owns its data)."""
    try:
        version = record["v"]
        if version != SCHEMA_VERSION:
            raise JournalError(
                f"event record of schema version {version!r}; this gridgov reads "
                f"version {SCHEMA_VERSION}"
            )
        data = record["data"]
        stamp = record["time"]
        if times is None:
            when = datetime.fromisoformat(stamp)
        else:
            got = times.get(stamp)
            when = times[stamp] = datetime.fromisoformat(stamp) if got is None else got
        if when.tzinfo is None:
            raise JournalError(f"event record {record.get('seq')!r} has a time without offset")
        if not isinstance(data, dict):
            raise JournalError(f"event record {record.get('seq')!r} has data that is not an object")
        return Event(
            seq=int(record["seq"]),
            time=when,
            type=str(record["type"]),
            unit=str(record["unit"]),
            command=str(record["command"]),
            actor=str(record["actor"]),
            cause=str(record["cause"]),
            old=record["old"],
            new=record["new"],
            data=dict(data) if copy or type(data) is not dict else data,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise JournalError(f"malformed event record: {exc!r}") from None


def _decode(text: str, times: dict[str, datetime] | None) -> Event:
    """:meth:`Event.from_json`, with ``times`` as for :func:`_from_record`."""
    try:
        record = orjson.loads(text)
        # orjson reads an integer beyond 64 bits as a float: such a
        # record is read again by the standard library, exactly.
        if isinstance(record, dict) and _inexact(record.get("data")):
            record = json.loads(text)
    except (orjson.JSONDecodeError, RecursionError):
        # What orjson refuses (NaN written by older versions) the
        # standard library may still read (data nested too deep it refuses too).
        try:
            record = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise JournalError(f"event record is not JSON: {exc}") from None
    if not isinstance(record, dict):
        raise JournalError("event record is not a JSON object")
    return _from_record(record, times)


def _encode(event: Event, time: str) -> str:
    """:meth:`Event.to_json` with the time already in ISO form (shared by a command's events)."""
    return _encode_bytes(event, time).decode()


def _encode_bytes(event: Event, time: str) -> bytes:
    """:func:`_encode` as UTF-8 bytes (what is hashed and stored)."""
    record = {
        "v": SCHEMA_VERSION,
        "seq": event.seq,
        "time": time,
        "type": event.type,
        "unit": event.unit,
        "command": event.command,
        "actor": event.actor,
        "cause": event.cause,
        "old": event.old,
        "new": event.new,
        "data": event.data,
    }
    try:
        return orjson.dumps(record)
    except TypeError:
        # NaN and infinities as null here too, as orjson writes them.
        record["data"] = _finite(dict(event.data))
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


def encode_row(event: Event) -> str:
    """The record a journal row of format 3 stores for ``event`` (what is hashed).

    A compact JSON array of the event's fields in the order of :class:`Event`
    (``[seq, time, type, unit, command, actor, cause, old, new, data]``, the
    time in ISO form), encoded by orjson; data orjson cannot encode exactly
    (keys that are not strings, integers beyond 64 bits) is encoded by the
    standard library, with ``"json"`` as an eleventh element so that it is
    read back by it too. NaN and infinities are written as ``null``.
    """
    return _row_blob(_row_fields(event, event.time.isoformat())).decode()


def _row_fields(event: Event, time: str) -> tuple[Any, ...]:
    return (
        event.seq,
        time,
        event.type,
        event.unit,
        event.command,
        event.actor,
        event.cause,
        event.old,
        event.new,
        event.data,
    )


def _row_blob(fields: tuple[Any, ...]) -> bytes:
    """:func:`encode_row`'s bytes of an event's fields."""
    try:
        return orjson.dumps(fields)
    except TypeError:
        return _row_blob_exact(fields)


def _row_blob_exact(fields: tuple[Any, ...]) -> bytes:
    """The record of data only the standard library encodes exactly (marked as such)."""
    return _exact_bytes([*fields[:9], _finite(dict(fields[9])), _EXACT])


#: How deep a record may nest when the standard library writes it (orjson, the
#: usual encoder, refuses more than 254 levels; the standard library's writer and
#: reader stop near the interpreter's recursion limit, less the frames they are
#: called in, which differ between a write and a replay: a bound well below both
#: keeps every written record readable, and refuses what orjson refuses).
_MAX_DEPTH = 250


def _exact_bytes(exact: list[Any]) -> bytes:
    """``exact`` encoded by the standard library, once it is known to read back.

    Raises:
        ValueError: its data nests deeper than :data:`_MAX_DEPTH` levels, or it
            is not valid Unicode.
        TypeError: it holds a value JSON has no form for.
    """
    depth = _depth(exact)
    if depth > _MAX_DEPTH:
        raise ValueError(f"data nested {depth} levels deep (at most {_MAX_DEPTH} read back)")
    return json.dumps(exact, ensure_ascii=False, separators=(",", ":")).encode()


def _depth(value: Any) -> int:
    """How many lists and dicts deep ``value`` nests (walked without recursion)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, (list, tuple)):
            deepest = max(deepest, level)
            if level > _MAX_DEPTH:
                break
            stack.extend((child, level + 1) for child in item)
    return deepest


def _valid_unicode(text: str) -> bool:
    """Whether ``text`` holds no lone surrogate (so that it can be stored)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _first_line(error: BaseException) -> str:
    """An exception's message on one line (its type when it has none)."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None (as orjson writes them)."""
    kind = type(value)
    if kind is float:
        return value if value == value and abs(value) != float("inf") else None
    if kind is dict:
        return {k: _finite(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_finite(v) for v in value]
    return value


def _fields_of(record: list[Any], text: str, times: dict[str, datetime]) -> list[Any] | None:
    """The fields of a format 3 record (time as a datetime), checked; None when it is
    malformed (the caller names it)."""
    if len(record) != 10:
        if len(record) != 11 or record[10] != _EXACT:
            return None
        try:
            record = json.loads(text)
        except (ValueError, RecursionError):
            return None
        del record[10]
    seq, stamp, kind, unit, command, actor, cause, old, new, data = record
    if type(stamp) is not str:
        return None
    when = times.get(stamp)
    if when is None:
        when = _new_time(stamp, times)
        if when is None:
            return None
    if (
        type(seq) is not int
        or type(data) is not dict
        or type(kind) is not str
        or type(unit) is not str
        or type(command) is not str
        or type(actor) is not str
        or type(cause) is not str
        or (old is not None and type(old) is not str)
        or (new is not None and type(new) is not str)
    ):
        return None
    record[1] = when
    return record


def _decode_rows(
    rows: Iterable[tuple[int, str, str]], path: str, times: dict[str, datetime] | None = None
) -> list[Event]:
    """The events of journal rows (seq, command, record), each checked against its row.

    Rows of format 3 (a JSON array, :func:`encode_row`) and of format 2 (a
    JSON object, :meth:`Event.to_json`) are both read. The common record (a
    format 3 array of its row's seq and command, fields of their types, a
    time already seen) is read on a fast path, every check inline, and
    becomes its event as it was read; any other record goes through
    :func:`_decode_row`, which reads it or says what is wrong. ``times``
    keeps the times read (a command's events mostly share one), across calls.

    Raises:
        JournalError: a record is malformed, or not the event of its row.
    """
    times = {} if times is None else times
    out: list[Event] = []
    append = out.append
    loads = orjson.loads
    make = _new_tuple
    lookup = times.get
    # The time of the row before: a command's events mostly share it, and
    # comparing two strings is cheaper than hashing one.
    last_stamp: str | None = None
    last_when: datetime | None = None
    for row in rows:
        seq, command, text = row
        try:
            record = loads(text)
        except orjson.JSONDecodeError:
            record = None
        if type(record) is list and len(record) == 10:
            number, stamp, kind, unit, name, actor, cause, old, new, data = record
            if (
                number == seq
                and name == command
                and type(number) is int
                and type(stamp) is str
                and type(data) is dict
                and type(kind) is str
                and type(unit) is str
                and type(actor) is str
                and type(cause) is str
                and (old is None or type(old) is str)
                and (new is None or type(new) is str)
            ):
                if stamp == last_stamp:
                    record[1] = last_when
                    append(make(Event, record))
                    continue
                when = lookup(stamp)
                if when is not None:
                    last_stamp, last_when = stamp, when
                    record[1] = when
                    append(make(Event, record))
                    continue
        # A time not seen yet, a row of format 2, or anything else: the careful path.
        append(_decode_row(seq, command, text, record, path, times))
    return out


#: What :func:`_decode_columns` compares the types of a chunk's fields with.
_INTS = frozenset({int})
_DICTS = frozenset({dict})
_TEXTS_OR_NONE = frozenset({str, type(None)})


def _decode_columns(
    rows: list[tuple[int, str, str]], path: str, times: dict[str, datetime]
) -> Events:
    """The events of consecutive journal rows (seq, command, record) as :class:`Events`,
    each checked against its row, with the same checks as :func:`_decode_rows`.

    A replay's reading: the records are decoded and their fields checked a
    chunk at a time, each check one pass in C over one field of every
    record: the records are lists of ten (the transposition is strict), the
    seqs those of the rows and ints, the command ids those of the rows, the
    other text fields text (``str.join`` accepts nothing else), old and new
    states text or None, data objects, times known or valid with an offset.
    The fields become the columns of :class:`Events` as they are, without an
    :class:`Event` per row. A chunk where any of this fails (a row of format
    2, a record only the standard library reads, anything malformed) is read
    by :func:`_decode_rows`, which reads it or names the bad row.

    Raises:
        JournalError: a record is malformed, or not the event of its row.
    """
    row_seqs, commands, texts = zip(*rows, strict=True)
    first = row_seqs[0]
    try:
        # Row seqs are unique and ascending: they run without a gap from the
        # first when the last is where it belongs.
        if row_seqs[-1] - first != len(rows) - 1:
            raise ValueError
        seqs, stamps, kinds, units, names, actors, causes, olds, news, datas = zip(
            *map(orjson.loads, texts), strict=True
        )
        if (
            seqs == row_seqs
            and names == commands
            and set(map(type, seqs)) == _INTS
            and set(map(type, datas)) == _DICTS
            and set(map(type, itertools.chain(olds, news))) <= _TEXTS_OR_NONE
        ):
            # TypeError when one of them is not text.
            _join(kinds)
            _join(units)
            _join(actors)
            _join(causes)
            whens: list[datetime] | None
            try:
                # A time found is text (only text equals the text keys).
                whens = list(map(times.__getitem__, stamps))
            except (KeyError, TypeError):
                whens = _times_of(stamps, times)
            if whens is not None:
                return Events(
                    first,
                    (
                        whens,
                        list(kinds),
                        list(units),
                        list(names),
                        list(actors),
                        list(causes),
                        list(olds),
                        list(news),
                        list(datas),
                    ),
                )
    except (orjson.JSONDecodeError, TypeError, ValueError):
        # Not JSON, not lists of ten (zip refuses other lengths, and what is
        # not a list never matches the seqs), a field of another type.
        pass
    # Anything else is read row by row, which reads it or names the bad row.
    return Events.of(_decode_rows(rows, path, times))


_join = "".join


def _times_of(stamps: Sequence[str], times: dict[str, datetime]) -> list[datetime] | None:
    """The times of ISO ``stamps``, each read once and kept in ``times``; None when one
    is not a time with an offset."""
    for stamp in set(stamps).difference(times):
        if type(stamp) is not str or _new_time(stamp, times) is None:
            return None
    return list(map(times.__getitem__, stamps))


def _new_time(stamp: str, times: dict[str, datetime]) -> datetime | None:
    """The time of an ISO ``stamp`` not read before, kept in ``times``; None when it
    is not a time with an offset."""
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    times[stamp] = when
    return when


def _decode_row(
    seq: int, command: str, text: str, record: Any, path: str, times: dict[str, datetime]
) -> Event:
    """The event of one row (``record``: its ``text`` as orjson read it, or None).

    Raises:
        JournalError: the record is malformed, or not the event of its row.
    """
    if type(record) is list:
        fields = _fields_of(record, text, times)
        if fields is None:
            raise JournalError(f"{path}: event row {seq} holds a malformed record")
        event = _new_tuple(Event, fields)
    else:
        try:
            event = _decode_object(record, text, times)
        except JournalError as exc:
            raise JournalError(f"{path}: event row {seq}: {exc}") from None
    if event.seq != seq or event.command != command:
        raise JournalError(
            f"{path}: event row {seq} holds event {event.seq} of command "
            f"{event.command!r}, not of {command!r}"
        )
    return event


def _decode_object(record: Any, text: str, times: dict[str, datetime]) -> Event:
    """The event of a format 2 record (``record``: ``text`` as orjson read it, or None)."""
    if type(record) is dict and record.get("v") == SCHEMA_VERSION:
        try:
            stamp = record["time"]
            when = times.get(stamp)
            if when is None:
                when = times[stamp] = datetime.fromisoformat(stamp)
            data = record["data"]
            if when.tzinfo is not None and type(data) is dict and not _inexact(data):
                return Event(
                    int(record["seq"]),
                    when,
                    str(record["type"]),
                    str(record["unit"]),
                    str(record["command"]),
                    str(record["actor"]),
                    str(record["cause"]),
                    record["old"],
                    record["new"],
                    data,
                )
        except (KeyError, TypeError, ValueError):
            pass
    return _decode(text, times)  # raises the precise error


_BIG = 2.0**63


def _inexact(value: Any) -> bool:
    """Whether decoded data holds a float that may stand for an integer beyond 64 bits."""
    kind = type(value)
    if kind is float:
        return abs(value) >= _BIG and bool(value.is_integer())
    if kind is dict:
        items = value.values()
    elif kind is list:
        items = value
    else:
        return False
    for item in items:
        if type(item) in _PLAIN:
            continue
        if _inexact(item):
            return True
    return False


_PLAIN = frozenset({str, int, bool, type(None)})


@attrs.frozen
class CommandRecord:
    """What a journal remembers of a command that carried an idempotency key."""

    #: The idempotency key.
    key: str
    #: What the command was (its name and arguments), to refuse a key reused
    #: for a different command.
    fingerprint: str
    #: The command's id.
    command: str
    #: Sequence numbers of its first and last event (last < first: none).
    first: int
    last: int


def _select(
    events: Iterable[Event], type: str | None, unit: str | None, command: str | None
) -> list[Event]:
    out = events
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


def _check_sequence(events: Sequence[Event], expected: int) -> None:
    for offset, event in enumerate(events):
        if event.seq != expected + offset:
            raise JournalError(
                f"event {event.seq} breaks the journal's sequence (expected {expected + offset})"
            )


def row_hash(previous: bytes, seq: int, command: str, record: str, last: bool) -> bytes:
    """The hash of an event row: SHA-256 of the previous row's hash and this row's content.

    ``last`` marks the last row of a command, so a journal cut inside a
    command is noticed.
    """
    head = b"%d\x1f%s\x1f%d\x1f" % (seq, command.encode("utf-8"), last)
    return hashlib.sha256(previous + head + record.encode("utf-8")).digest()


#: A journal row as it is inserted: (seq, command, record, last, hash), the last-row
#: flag 0 or 1, the hash a bytearray (the types sqlite3 binds as they are).
_Row = tuple[int, str, str, int, bytearray]
#: Compact data's values (all but its keys).
_VALUES = operator.itemgetter(slice(1, None))
#: Inserts a run of one command's rows in one statement (see :class:`_Run`): SQLite
#: cuts each record out of the run's records and each hash out of its hashes, at the
#: places ``json_each`` reads from the run's spans. The same rows, of the same types
#: (INTEGER, TEXT, TEXT, INTEGER, BLOB), as inserting them one by one.
_INSERT_RUN = (
    "INSERT INTO events (seq, command, record, last, hash) "
    "SELECT ?1 + key, ?2, CAST(substr(?3, (value >> 32) + 1, value & 4294967295) AS TEXT), "
    "key = ?4, substr(?5, key * 32 + 1, 32) FROM json_each(?6)"
)
#: Rows of a run at most.
_RUN_ROWS = 4096
#: Bytes of a run's records at most (a run of one row excepted): far below SQLite's
#: limit on one value (a billion bytes).
_RUN_BYTES = 1 << 26


class _Run(NamedTuple):
    """Consecutive rows of one command, as :data:`_INSERT_RUN` binds them."""

    #: The seq of the first row.
    first: int
    #: The command id of every row.
    command: str
    #: The rows' records, one after the other (UTF-8).
    records: bytes
    #: The index of the command's last row in the run (its last-row flag is 1), or -1.
    last: int
    #: The rows' 32-byte hashes, one after the other.
    hashes: bytes
    #: A JSON array: each row's record's offset in ``records`` times 2**32, plus its length.
    spans: str


class _Encoded(NamedTuple):
    """One command's rows as they are inserted (:func:`_encode_rows`)."""

    #: Rows inserted one by one (or none).
    rows: list[_Row]
    #: Runs inserted a statement each (or none).
    runs: list[_Run]
    #: The chain's hash after the last row.
    chain: bytes

    def insert(self, db: sqlite3.Connection) -> None:
        """Insert the rows (inside the caller's transaction)."""
        if self.rows:
            db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", self.rows)
        for run in self.runs:
            db.execute(_INSERT_RUN, run)


def _encode_rows(events: Sequence[Event], previous: bytes, expected: int) -> _Encoded:
    """The journal rows of one command's events, and the chain's hash after the last.

    Each record is :func:`encode_row`'s, hashed as :func:`row_hash` does
    over the bytes that are stored, chained from ``previous``; the events
    must number on from ``expected``. A command's :class:`Events` (what the
    engine appends) are encoded a column at a time (:func:`_encode_columns`)
    and inserted in runs; other sequences, and events whose data orjson
    refuses, row by row (:func:`_encode_each`).

    Raises:
        JournalError: the events do not continue the sequence without gaps.
    """
    if isinstance(events, Events) and events._size:
        if events._first != expected:
            raise JournalError(
                f"event {events._first} breaks the journal's sequence (expected {expected})"
            )
        encoded = _encode_columns(events, previous)
        if encoded is not None:
            return encoded
    rows = _encode_each(events, previous, expected)
    return _Encoded(rows, [], bytes(rows[-1][4]) if rows else previous)


def _encode_columns(events: Events, previous: bytes) -> _Encoded | None:
    """:func:`_encode_rows` of a command's :class:`Events`, a column at a time.

    The append path's whole Python cost, so each step but the chain runs in
    C over a whole column (``map``/``zip`` of C functions): each time put in
    ISO form once per time object, compact data made dicts, one orjson call
    per event on the fields' tuple as ``zip`` makes it, the text between
    the chain's hashes (seq, command, last-row flag, record) made by a
    bytes format; the chain itself is one short loop, and the rows go to
    SQLite in runs (:class:`_Run`: no Python object per row to bind). None
    when the events are not one command's or orjson refuses some data (the
    caller then encodes them row by row, with the standard library where
    needed).
    """
    times, kinds, units, commands, actors, causes, olds, news, datas = events._columns
    size = events._size
    name = commands[0]
    if commands.count(name) != size:
        return None
    first = events._first
    final = first + size - 1
    fields = zip(
        range(first, final + 1),
        _stamps(times),
        kinds,
        units,
        commands,
        actors,
        causes,
        olds,
        news,
        _plain_data(datas),
        strict=True,
    )
    try:
        blobs = list(map(orjson.dumps, fields))
    except TypeError:
        return None  # data orjson cannot encode exactly: the row-by-row path
    # What row_hash puts between the seq and the record: the command and the
    # last-row flag, made once per command.
    middle = b"\x1f%b\x1f0\x1f" % name.encode("utf-8")
    sha256 = hashlib.sha256
    # Every row's but the last (whose flag is 1): the seqs stop one short.
    # (A % in the command id is escaped: the id is part of the format.)
    form = b"%d" + middle.replace(b"%", b"%%") + b"%b"
    tails = map(form.__mod__, zip(range(first, final), blobs, strict=False))
    hashes = [previous := sha256(previous + tail).digest() for tail in tails]
    previous = sha256(b"%b%d%b1\x1f%b" % (previous, final, middle[:-2], blobs[-1])).digest()
    hashes.append(previous)
    return _Encoded([], _runs(first, name, blobs, hashes), previous)


def _runs(first: int, name: str, blobs: list[bytes], hashes: list[bytes]) -> list[_Run]:
    """One command's rows as :class:`_Run` of at most :data:`_RUN_ROWS` rows and, but for
    a run of one row, at most :data:`_RUN_BYTES` bytes of records."""
    runs = []
    size = len(blobs)
    lengths = list(map(len, blobs))
    start = 0
    while start < size:
        stop = min(size, start + _RUN_ROWS)
        if sum(lengths[start:stop]) > _RUN_BYTES:  # large records: fewer rows
            ends = list(itertools.accumulate(lengths[start:stop]))
            stop = start + max(1, bisect.bisect_right(ends, _RUN_BYTES))
        part = lengths[start:stop]
        offsets = itertools.accumulate(part, initial=0)
        spans = list(map(operator.or_, map(operator.lshift, offsets, itertools.repeat(32)), part))
        runs.append(
            _Run(
                first + start,
                name,
                b"".join(blobs[start:stop]),
                stop - start - 1 if stop == size else -1,
                b"".join(hashes[start:stop]),
                orjson.dumps(spans).decode(),
            )
        )
        start = stop
    return runs


def _stamps(times: list[datetime]) -> Iterator[str]:
    """The ISO form of each time, made once per time object: a command's events mostly
    share one. By identity, not equality: two equal times with different offsets
    keep their own form."""
    ids = list(map(id, times))
    if ids.count(ids[0]) == len(ids):
        return itertools.repeat(times[0].isoformat(), len(ids))
    stamp_of = {key: when.isoformat() for key, when in dict(zip(ids, times, strict=True)).items()}
    return map(stamp_of.__getitem__, ids)


def _plain_data(datas: list[Mapping[str, Any] | CompactData]) -> Iterable[Any]:
    """Each event's data as a mapping: compact data made a dict (as
    :func:`~gridgov.records.record_data` makes it), in C, a column at a time."""
    flags = list(map(operator.is_, map(type, datas), itertools.repeat(tuple)))
    compact = flags.count(True)
    if not compact:
        return datas
    tuples = datas if compact == len(datas) else list(itertools.compress(datas, flags))
    # Each compact data's values number its keys (record_data's strict zip).
    spare = map(operator.sub, map(len, tuples), map(len, map(_FIRST, tuples)))
    if list(spare).count(1) != compact:
        return map(record_data, datas)  # raises for the first that does not
    made = map(dict, map(zip, map(_FIRST, tuples), map(_VALUES, tuples)))
    if compact == len(datas):
        return made
    # Mixed: each event's data drawn in order from the dicts as they are (False)
    # or from the compact data made dicts (True).
    plain = itertools.compress(datas, map(operator.not_, flags))
    return map(next, map([plain, made].__getitem__, flags))


def _encode_each(events: Sequence[Event], previous: bytes, expected: int) -> list[_Row]:
    """:func:`_encode_rows` an event at a time (any sequence of events, any data).

    One tuple and one orjson call per event; a command's events mostly
    share one time object and one command id, each put in ISO form (or
    UTF-8) once, checked by identity (two equal times with different
    offsets must keep their own ISO form); data orjson cannot encode
    exactly goes through the standard library.

    Raises:
        JournalError: the events do not continue the sequence without gaps.
    """
    rows: list[_Row] = []
    append = rows.append
    dumps = orjson.dumps
    sha256 = hashlib.sha256
    # The seq of the last event (each event is checked to follow the one before).
    final = expected + len(events) - 1
    when: datetime | None = None
    stamp = ""
    command: str | None = None
    middle = ending = b""
    for e in event_rows(events):
        # An event is a tuple of its fields: unpacked at once.
        seq, time, kind, unit, name, actor, cause, old, new, data = e
        if seq != expected:
            raise JournalError(f"event {seq} breaks the journal's sequence (expected {expected})")
        expected += 1
        if time is not when:
            when = time
            stamp = time.isoformat()
        if name is not command:
            command = name
            # What row_hash puts between the seq and the record: the command and
            # the last-row flag (0 or 1), made once per command id.
            middle = b"\x1f%b\x1f0\x1f" % name.encode("utf-8")
            ending = middle[:-2] + b"1\x1f"
        fields = (seq, stamp, kind, unit, name, actor, cause, old, new, data)
        try:
            blob = dumps(fields)
        except TypeError:
            blob = _row_blob_exact(fields)  # data orjson cannot encode: the slow path
        # The record is bound as text (cheaper than binding the bytes and casting
        # in SQL), the last-row flag as an int and the hash as a bytearray: the
        # types sqlite3 binds as they are. A bool or bytes goes through its
        # adaptation protocol first (a lookup that fails with a formatted
        # AttributeError inside): two of those were a third of the instructions
        # of inserting a row (see benchmarks/RESULTS.md).
        if seq != final:
            previous = sha256(b"%b%d%b%b" % (previous, seq, middle, blob)).digest()
            append((seq, name, blob.decode(), 0, bytearray(previous)))
        else:
            previous = sha256(b"%b%d%b%b" % (previous, seq, ending, blob)).digest()
            append((seq, name, blob.decode(), 1, bytearray(previous)))
    return rows


# ------------------------------------------------------------ formats 4 and 5: blocks

#: Events of one block row at most (formats 4 and 5).
_BLOCK_EVENTS = 4096
#: Bytes of one block's body at most (a block of one event excepted).
_BLOCK_BYTES = 1 << 26
#: Fields of a block's body: the distinct times (ISO), each event's index into them,
#: then a column per field (type, unit, actor, cause, old, new, data).
_BODY_FIELDS = 9
#: A block row as it is inserted: (first, last, command, final, body, hash).
_Block = tuple[int, int, str, int, bytes, bytes]


def _block_hash(
    previous: bytes, first: int, last: int, command: str, final: bool, body: bytes
) -> bytes:
    """The hash of a block row of formats 4 and 5: SHA-256 of the previous block's hash and this
    block's content (its seq range, command id, final flag and body bytes).

    ``final`` marks the last block of a command (of one append), so a journal
    cut inside a command is noticed.
    """
    head = b"%d\x1f%d\x1f%b\x1f%d\x1f" % (first, last, command.encode("utf-8"), final)
    return hashlib.sha256(previous + head + body).digest()


def _encode_blocks(
    events: Sequence[Event], previous: bytes, expected: int, keyed: bool = True
) -> list[_Block]:
    """The block rows of one command's events (format 5, or 4 when not ``keyed``),
    chained from ``previous``.

    Consecutive events of one command id make a block of at most
    :data:`_BLOCK_EVENTS` events (and, but for a block of one event,
    :data:`_BLOCK_BYTES` bytes of body); the last block is the command's
    final one. Each body is encoded a column at a time (:func:`_keyed_body`,
    or :func:`_block_body` for format 4).

    Raises:
        JournalError: the events do not continue the sequence without gaps.
    """
    columns = events if isinstance(events, Events) else Events.of(events)
    if columns._size and columns._first != expected:
        raise JournalError(
            f"event {columns._first} breaks the journal's sequence (expected {expected})"
        )
    parts: list[tuple[str, Events, bytes]] = []
    commands = columns._columns[3]
    start = 0
    size = columns._size
    while start < size:
        name = commands[start]
        stop = min(size, start + _BLOCK_EVENTS)
        if commands[start:stop].count(name) != stop - start:
            stop = next(i for i in range(start, stop) if commands[i] != name)
        parts.extend(_sized(name, columns[start:stop], _keyed_body if keyed else _block_body))
        start = stop
    blocks: list[_Block] = []
    for index, (name, part, body) in enumerate(parts):
        final = index == len(parts) - 1
        first, last = part._first, part._first + part._size - 1
        previous = _block_hash(previous, first, last, name, final, body)
        blocks.append((first, last, name, int(final), body, previous))
    return blocks


def _sized(
    name: str, part: Events, body_of: Callable[[Events], bytes]
) -> list[tuple[str, Events, bytes]]:
    """``part`` (events of command ``name``) as blocks with their bodies (``body_of``),
    halved until each body but one of a single event is at most :data:`_BLOCK_BYTES`."""
    body = body_of(part)
    if len(body) <= _BLOCK_BYTES or part._size == 1:
        return [(name, part, body)]
    half = part._size // 2
    return _sized(name, part[:half], body_of) + _sized(name, part[half:], body_of)


def _block_body(part: Events) -> bytes:
    """A block's body: a JSON array of its events' fields a column at a time.

    ``[times, indices, types, units, actors, causes, olds, news, datas]``:
    ``times`` the distinct times in ISO form (one per time object: a
    command's events mostly share one), ``indices`` each event's place in
    it, then a list per field (the command id and the seqs are the row's).
    Encoded by orjson in one call; data orjson cannot encode exactly (keys
    that are not strings, integers beyond 64 bits) makes the whole body go
    through the standard library, with ``"json"`` as a tenth element so that
    it is read back by it too. NaN and infinities are written as ``null``.
    """
    times, kinds, units, _, actors, causes, olds, news, datas = part._columns
    stamps, indices = _time_column(times)
    plain = list(_plain_data(datas))
    body = [stamps, indices, kinds, units, actors, causes, olds, news, plain]
    try:
        return orjson.dumps(body)
    except TypeError:
        body[8] = [_finite(dict(data)) for data in plain]
        return _exact_bytes([*body, _EXACT])


def _time_column(times: list[datetime]) -> tuple[list[str], list[int]]:
    """A block's distinct times in ISO form (one per time object: a command's events
    mostly share one) and each event's index into them."""
    ids = list(map(id, times))
    if ids.count(ids[0]) == len(ids):
        return [times[0].isoformat()], [0] * len(ids)
    by_id = dict(zip(ids, times, strict=True))
    place = {key: index for index, key in enumerate(by_id)}
    return [when.isoformat() for when in by_id.values()], list(map(place.__getitem__, ids))


def _keyed_body(part: Events) -> bytes:
    """A block's body of format 5: :func:`_block_body`'s layout, with each text column
    stored by runs and the data column by key.

    ``[times, indices, types, units, actors, causes, olds, news, datas]``:
    each text column is ``[values, lengths]`` (:func:`_runs_of`); ``datas`` is
    a list of runs of consecutive events whose data share one key set, each
    ``[count, keys, column, column, ...]``, a column per key in the same
    ``[values, lengths]`` form: the reader makes a few lists, not a dict per
    event. Data that does not fit this (a key that is not text) or that
    orjson cannot encode exactly makes ``datas`` a dict per event, as in
    format 4, and the whole body go through the standard library, marked by
    a tenth element ``"json"``.
    """
    times, kinds, units, _, actors, causes, olds, news, datas = part._columns
    stamps, indices = _time_column(times)
    columns: tuple[list[Any], ...] = (kinds, units, actors, causes, olds, news)
    texts = list(map(_runs_of, columns))
    keyed = _keyed_data(datas)
    if keyed is not None:
        try:
            return orjson.dumps([stamps, indices, *texts, keyed])
        except TypeError:
            pass  # data orjson cannot encode exactly: the standard library's body
    plain = [_finite(dict(data)) for data in _plain_data(datas)]
    return _exact_bytes([stamps, indices, *texts, plain, _EXACT])


def _runs_of(column: list[Any]) -> list[Any]:
    """A column as ``[values, lengths]``: each run of equal text (or None) one value and
    its length; ``[column, None]`` (each value as it is) when the column holds other
    values, or when runs would not be shorter."""
    size = len(column)
    if size > 2 and set(map(type, column)) <= _TEXTS_OR_NONE:
        # Where a value differs from the one before: in C, a pass over the column.
        starts = list(itertools.compress(range(1, size), map(operator.ne, column[1:], column)))
        if 2 * len(starts) < size:
            starts.insert(0, 0)
            ends = [*starts[1:], size]
            return [list(map(column.__getitem__, starts)), list(map(operator.sub, ends, starts))]
    return [column, None]


def _keyed_data(datas: list[Mapping[str, Any] | CompactData]) -> list[list[Any]] | None:
    """A block's data as runs of one key set (see :func:`_keyed_body`); None when a key
    is not text (the caller then writes a dict per event).

    Raises:
        ValueError: compact data whose values do not number its keys.
    """
    flags = list(map(operator.is_, map(type, datas), itertools.repeat(tuple)))
    compact = flags.count(True)
    if compact == len(datas):
        keysets: list[Any] = list(map(_FIRST, datas))
    elif not compact:
        keysets = list(map(tuple, datas))
    else:
        keysets = [
            data[0] if flag else tuple(data)  # type: ignore[index] # (a tuple: compact)
            for data, flag in zip(datas, flags)  # noqa: B905 - as long
        ]
    size = len(datas)
    starts = [0, *itertools.compress(range(1, size), map(operator.ne, keysets[1:], keysets))]
    runs: list[list[Any]] = []
    for start, stop in zip(starts, [*starts[1:], size]):  # noqa: B905
        keys = keysets[start]
        if not set(map(type, keys)) <= _TEXT:
            return None
        part = datas[start:stop]
        if flags[start:stop].count(True) == len(part):
            if set(map(len, part)) != {len(keys) + 1}:
                list(map(record_data, part))  # raises for the first that does not
            getters = map(operator.itemgetter, range(1, len(keys) + 1))
            columns = [list(map(get, part)) for get in getters]
        else:
            plain = list(_plain_data(part))
            columns = [list(map(operator.itemgetter(key), plain)) for key in keys]
        runs.append([stop - start, list(keys), *map(_runs_of, columns)])
    return runs


_TEXT = frozenset({str})


def _decode_block(
    block: tuple[Any, ...], path: str, times: dict[str, datetime], keyed: bool
) -> Events:
    """The events of a block row (first, last, command, body) of format 5 (``keyed``)
    or 4, every field checked a column at a time (as :func:`_decode_columns` checks a
    chunk of rows).

    Raises:
        JournalError: the body is malformed or does not hold the block's events
            (naming the block's seq range).
    """
    first, last, command, body = block
    events = (_keyed_events if keyed else _block_events)(first, last, command, body, times)
    if events is None:
        raise JournalError(f"{path}: the block of events {first}-{last} is malformed")
    return events


def _block_events(
    first: Any, last: Any, command: Any, body: Any, times: dict[str, datetime]
) -> Events | None:
    """:func:`_decode_block`'s reading; None when anything is off."""
    try:
        record = _block_record(first, last, command, body)
        if record is None:
            return None
        size = last - first + 1
        stamps, indices, kinds, units, actors, causes, olds, news, datas = record
        columns = (indices, kinds, units, actors, causes, olds, news, datas)
        if set(map(type, columns)) != {list} or set(map(len, columns)) != {size}:
            return None
        if (
            set(map(type, datas)) != _DICTS
            or not set(map(type, itertools.chain(olds, news))) <= _TEXTS_OR_NONE
        ):
            return None
        # TypeError when one of them is not text.
        _join(kinds)
        _join(units)
        _join(actors)
        _join(causes)
        column = _block_times(stamps, indices, size, times)
        if column is None:
            return None
    except (orjson.JSONDecodeError, TypeError, ValueError, IndexError, RecursionError):
        # RecursionError: the standard library reading data nested deeper than it can.
        return None
    return Events(
        first, (column, kinds, units, [command] * size, actors, causes, olds, news, datas)
    )


def _block_record(first: Any, last: Any, command: Any, body: Any) -> list[Any] | None:
    """The fields of a block row's body (read by orjson, or by the standard library
    when the body is marked ``"json"``); None when the row's seqs or command are
    not of their types, its seqs out of order, or the body not a list of
    ``_BODY_FIELDS`` fields.

    Raises:
        orjson.JSONDecodeError: the body is not JSON (the callers catch it).
        RecursionError: the standard library reading data nested deeper than it can.
    """
    if type(first) is not int or type(last) is not int or type(command) is not str:
        return None
    if last < first:
        return None
    record = orjson.loads(body)
    if type(record) is list and len(record) == _BODY_FIELDS + 1 and record[-1] == _EXACT:
        record = json.loads(body)[:-1]
    if type(record) is not list or len(record) != _BODY_FIELDS:
        return None
    return record


def _block_times(
    stamps: Any, indices: Any, size: int, times: dict[str, datetime]
) -> list[datetime] | None:
    """A block's time column from its distinct ISO times and each event's index into
    them; None when they are malformed.

    Raises:
        IndexError: an index beyond the times (the callers catch it).
    """
    if (
        type(stamps) is not list
        or type(indices) is not list
        or len(indices) != size
        or set(map(type, indices)) != _INTS
        or min(indices) < 0
    ):
        return None
    whens = _times_of(stamps, times) if stamps else None
    if whens is None:
        return None
    if len(whens) == 1 and indices.count(0) == size:
        return [whens[0]] * size  # one time: the common block
    return list(map(whens.__getitem__, indices))


def _keyed_events(
    first: Any, last: Any, command: Any, body: Any, times: dict[str, datetime]
) -> Events | None:
    """:func:`_block_events` of a block of format 5 (:func:`_keyed_body`); None when
    anything is off. Every column is checked here, in C (a pass over its values, or
    over its runs' values and lengths), but kept as stored: its runs expanded
    and the events' compact data (their run's keys, then their values: see
    :class:`Events`) made only when they are read (``Events._column``), which a
    replay's reducer does for the few columns it needs."""
    try:
        record = _block_record(first, last, command, body)
        if record is None:
            return None
        size = last - first + 1
        stamps, indices, kinds, units, actors, causes, olds, news, datas = record
        if type(indices) is not list or len(indices) != size:
            return None
        texts = list(map(_stored, (kinds, units, actors, causes), itertools.repeat(size)))
        states = list(map(_stored, (olds, news), itertools.repeat(size), itertools.repeat(True)))
        if None in texts or None in states:
            return None
        runs = _keyed_runs(datas, size)
        if runs is None:
            return None
        column = _block_times(stamps, indices, size, times)
        if column is None:
            return None
    except (orjson.JSONDecodeError, TypeError, ValueError, IndexError, RecursionError):
        # RecursionError: the standard library reading data nested deeper than it can.
        return None
    kind, unit, actor, cause = texts
    old, new = states
    # A dict per event (data only the standard library writes) is the data column
    # itself; runs of one key set make it when it is read.
    data = runs if type(runs[0]) is dict else None
    events = Events(first, None)
    events._lazy = [column, kind, unit, [command] * size, actor, cause, old, new, data]
    events._size = size
    del events._columns  # made when read (Events.__getattr__)
    if data is None:
        events._keyed = tuple(runs)
    return events


#: A column of a block of format 5 as stored: ``(values, lengths)`` (its runs, checked)
#: or its values (a list: no runs, or runs expanded).
_Stored = list[Any] | tuple[list[Any], list[int]]


def _stored(column: Any, size: int, states: bool = False) -> _Stored | None:
    """A text column of a block of format 5 (``[values, lengths]``, see :func:`_runs_of`)
    checked, as stored (:data:`_Stored`); None when it is malformed or a value is not
    text (or, for ``states``, text or None)."""
    values = _unexpanded(column, size)
    # The types of the stored values (before runs are expanded): checked once each.
    if values is None or not set(map(type, column[0])) <= (_TEXTS_OR_NONE if states else _TEXT):
        return None
    return values


def _unexpanded(column: Any, size: int) -> _Stored | None:
    """A column ``[values, lengths]`` (:func:`_runs_of`) of ``size`` values, checked:
    its values when it has no runs or one, else ``(values, lengths)``; None when it is
    malformed."""
    if type(column) is not list or len(column) != 2:
        return None
    values, lengths = column
    if type(values) is not list:
        return None
    if lengths is None:
        return values if len(values) == size else None
    if (
        type(lengths) is not list
        or len(lengths) != len(values)
        or set(map(type, lengths)) != _INTS
        or min(lengths) < 1
        or sum(lengths) != size
    ):
        return None
    if len(values) == 1:
        return values * size
    return (values, lengths)


def _unrun(column: _Stored) -> list[Any]:
    """A stored column's values (:func:`_unexpanded`), its runs expanded."""
    if type(column) is list:
        return column
    values, lengths = column
    return list(itertools.chain.from_iterable(map(itertools.repeat, values, lengths)))


#: A run of events whose data share one key set, as a block of format 5 stores it:
#: (start, stop, keys, a column of values per key, as stored: see :data:`_Stored`).
_DataRun = tuple[int, int, tuple[str, ...], list[_Stored]]


def _keyed_runs(datas: Any, size: int) -> list[Any] | None:
    """The data of a block of format 5's events, checked: its runs of one key set
    (:data:`_DataRun`, their columns as stored), or a dict per event (data only the
    standard library writes); None when it is malformed."""
    if type(datas) is not list or not datas:
        return None
    if type(datas[0]) is dict:  # a dict per event
        return datas if len(datas) == size and set(map(type, datas)) == _DICTS else None
    runs: list[_DataRun] = []
    at = 0
    for run in datas:
        if type(run) is not list or len(run) < 2:
            return None
        count, keys = run[0], run[1]
        if (
            type(count) is not int
            or count < 1
            or type(keys) is not list
            or len(keys) != len(run) - 2
            or not set(map(type, keys)) <= _TEXT
            or len(set(keys)) != len(keys)
        ):
            return None
        if count > size - at:
            return None  # more events than the block's
        columns = [_unexpanded(column, count) for column in run[2:]]
        if None in columns:
            return None
        runs.append((at, at + count, tuple(keys), columns))  # type: ignore[arg-type] # (checked)
        at += count
    return runs if at == size else None


def _run_values(run: _DataRun, place: int) -> list[Any]:
    """The values of a run of data's key at ``place``, its runs expanded (once: kept)."""
    column = run[3][place]
    if type(column) is not list:
        column = run[3][place] = _unrun(column)
    return column


def _compact(runs: Sequence[_DataRun], start: int, stop: int) -> list[CompactData]:
    """The compact data (keys, then values) of the events ``start:stop`` of a block of
    format 5 from its runs of data."""
    out: list[CompactData] = []
    for first, end, keys, columns in runs:
        if end <= start or first >= stop:
            continue
        cut = slice(max(start, first) - first, min(stop, end) - first)
        values = [_run_values((first, end, keys, columns), at)[cut] for at in range(len(keys))]
        out += zip(itertools.repeat(keys, cut.stop - cut.start), *values)  # noqa: B905
    return out


def _keyed_fields(
    runs: tuple[_DataRun, ...],
    start: int,
    stop: int,
    keys: tuple[str, ...],
) -> tuple[Any, ...] | None:
    """``Events._fields`` of the events ``start:stop`` (``start < stop``) read from
    their runs of data (``Events._keyed``): each key's values, a slice of each run's
    list (no compact data read per event); None when a run of them lacks a key."""
    out: tuple[list[Any], ...] = tuple([] for _ in keys)
    for run in runs:
        first, end, names, _ = run
        if end <= start or first >= stop:
            continue
        try:
            places = [names.index(key) for key in keys]
        except ValueError:
            return None  # the events of this run lack a key
        cut = slice(max(start, first) - first, min(stop, end) - first)
        for values, place in zip(out, places):  # noqa: B905 - one per key
            values += _run_values(run, place)[cut]
    return out


def _check_covered(path: str, parts: list[Events], first: int, upto: int) -> None:
    """Check that blocks read (``parts``) follow on and hold the events ``first`` to
    ``upto`` (what the journal holds of a range asked for).

    Raises:
        JournalError: an event is missing between them or at an end of the range.
    """
    for before, after in itertools.pairwise(parts):
        if after._first != before._first + before._size:
            end = before._first + before._size - 1
            raise JournalError(
                f"{path}: event {end + 1} is missing (the block of events "
                f"{after._first}-{after._first + after._size - 1} follows event {end})"
            )
    # A block missing before or after the ones read (cut after the chain was
    # checked) is named rather than read as a shorter history.
    if first > upto:
        return
    if not parts or parts[0]._first > first:
        missing = first
    elif parts[-1]._first + parts[-1]._size - 1 < upto:
        missing = parts[-1]._first + parts[-1]._size
    else:
        return
    raise JournalError(
        f"{path}: events {first}-{upto} are asked for, but event {missing} is missing"
    )


def _chain_keys(db: sqlite3.Connection) -> tuple[bytes, int]:
    """The chain of the idempotency records (as :func:`key_hash` makes it) and their
    number, on a fast path: SQLite joins each record's fields; (GENESIS, -1) when a
    record is malformed (a field of another type), for the caller to name it."""
    previous = GENESIS
    count = 0
    sha256 = hashlib.sha256
    rows = db.execute(
        "SELECT CAST(key || char(31) || fingerprint || char(31) || command || char(31) "
        "|| first_seq || char(31) || last_seq AS BLOB), typeof(key) = 'text' AND "
        "typeof(fingerprint) = 'text' AND typeof(command) = 'text' AND "
        "typeof(first_seq) = 'integer' AND typeof(last_seq) = 'integer' "
        "FROM commands ORDER BY rowid"
    )
    for text, sound in rows:
        if not sound:
            return GENESIS, -1
        previous = sha256(previous + text).digest()
        count += 1
    return previous, count


def key_hash(previous: bytes, record: CommandRecord) -> bytes:
    """The hash of an idempotency record, chained to the previous one's (a lost or
    edited key is noticed on open)."""
    text = "\x1f".join(
        (record.key, record.fingerprint, record.command, str(record.first), str(record.last))
    )
    return hashlib.sha256(previous + text.encode("utf-8")).digest()


#: Metadata keys the SQLite journal writes itself; :meth:`SqliteJournal.set_meta` refuses them.
_RESERVED_META = frozenset({"schema", "format", "head", "keys"})


def _check_meta(key: object, value: object) -> None:
    """Refuse a metadata key the journal keeps itself, or a key or value that is not a string."""
    if not isinstance(key, str) or not isinstance(value, str):
        raise JournalError(
            f"metadata {key!r}: expected a string key and a string value, got "
            f"{type(key).__name__} and {type(value).__name__}"
        )
    if key in _RESERVED_META:
        raise JournalError(
            f"metadata key {key!r} is kept by the journal itself (reserved: "
            f"{', '.join(sorted(_RESERVED_META))}); choose another key"
        )


class MemoryJournal:
    """An append-only, in-memory list of events (the default journal), kept column
    by column (:class:`Events`): the collector does not walk a long journal.

    A command's events are kept as the command made them (its columns, not
    copied) until the journal is next read, and joined to the journal's own
    columns then: a command that nobody reads back does not pay for copying
    its events (in a big city, a pass over a declaration's two hundred
    thousand data records and a reallocation of the journal's columns, each
    a cache miss or several: see ``benchmarks/RESULTS.md``, scale13).
    """

    durable = False

    def __init__(self) -> None:
        self._joined = Events()
        #: Commands' events appended since the last read (their columns, shared).
        self._pending: list[Events] = []
        self._size = 0
        self._keys: dict[str, CommandRecord] = {}

    @property
    def _events(self) -> Events:
        """Every event, the pending commands' joined first (once)."""
        pending = self._pending
        if pending:
            self._pending = []
            joined = self._joined
            for part in pending:
                joined._extend_by(part)
        return self._joined

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[Event]:
        return iter(self._events[:])

    @overload
    def __getitem__(self, index: int) -> Event: ...
    @overload
    def __getitem__(self, index: slice) -> list[Event]: ...

    def __getitem__(self, index: int | slice) -> Event | list[Event]:
        if isinstance(index, slice):
            return list(self._events)[index]
        return self._events[index]

    @property
    def next_seq(self) -> int:
        """The sequence number the next event gets."""
        return self._size + 1

    def append(self, events: Sequence[Event], record: CommandRecord | None = None) -> None:
        """Append one command's events (and its idempotency record), all together.

        Raises:
            JournalError: the events do not continue the sequence without gaps.
        """
        if isinstance(events, Events):
            if events._size:
                if events._first != self._size + 1:
                    raise JournalError(
                        f"event {events.first} breaks the journal's sequence "
                        f"(expected {self.next_seq})"
                    )
                # Its columns only (not the planner's data the reducer read): Events
                # never change their columns once made, so they are shared, not copied.
                self._pending.append(Events(events._first, events._columns))
                self._size += events._size
        else:
            _check_sequence(events, self.next_seq)
            joined = self._events
            joined._extend(events)
            self._size = joined._size
        if record is not None:
            self._keys[record.key] = record

    def lookup(self, key: str) -> CommandRecord | None:
        """The command that carried idempotency ``key``, if any."""
        return self._keys.get(key)

    def count_keys(self, upto: int) -> int:
        """How many idempotency records belong to commands that began at or before event
        ``upto`` (a keyed command without events begins after the last event of its time,
        so a later one is never counted at ``upto``: the count of a snapshot stays exact)."""
        return sum(1 for r in self._keys.values() if r.first <= upto)

    def between(self, first: int, last: int) -> list[Event]:
        """Events with ``first <= seq <= last``."""
        return list(self.run(first, last))

    def run(self, first: int, last: int) -> Events:
        """:meth:`between` as :class:`Events` (no event made until read)."""
        return self._events[max(0, first - 1) : max(0, last)]

    def since(self, seq: int) -> list[Event]:
        """Events with a sequence number above ``seq``."""
        return list(self._events[max(0, seq) :])

    def stream(self, seq: int) -> Iterator[Event]:
        """The events of :meth:`since`, one by one (what a replay reads)."""
        return iter(self._events[max(0, seq) :])

    def replay(self, seq: int) -> Events:
        """What a replay reads: the events of :meth:`since` as :class:`Events`."""
        return self._events[max(0, seq) :]

    #: Always False: a memory journal has no transactions to group.
    grouped = False

    def group(self) -> contextlib.AbstractContextManager[None]:
        """Nothing to group in memory: every append is there at once."""
        return contextlib.nullcontext()

    def select(
        self, type: str | None = None, unit: str | None = None, command: str | None = None
    ) -> list[Event]:
        """Events matching every given filter (``type`` may end in ``.*``)."""
        return _select(self._events[:], type, unit, command)

    #: Always 0: a memory journal has nothing to check.
    unverified = 0

    def verify(self) -> None:
        """Nothing to check in memory."""

    def hash_at(self, seq: int) -> bytes | None:
        """Always None: a memory journal has no hash chain."""
        return None

    def save_snapshot(self, seq: int, state: bytes) -> None:
        """Memory journals keep no snapshots (replaying them is already fast)."""

    def latest_snapshot(self) -> tuple[int, bytes] | None:
        """Always None: a memory journal has no snapshots."""
        return None

    def close(self) -> None:
        """Nothing to close."""


def encode_snapshot(seq: int, state: Mapping[str, Any], chain: bytes | None = None) -> bytes:
    """A snapshot as data only: a JSON header line, then the state as canonical JSON.

    The header names the format, its version, the seq the state covers and
    the SHA-256 of the state's bytes, so a reader can refuse anything it does
    not fully trust before reading the state; and, given ``chain``, the
    journal's hash chain at ``seq`` (hex): what ties the snapshot to the
    history it was taken of (see :class:`SqliteJournal`'s ``verify``).
    """
    body = json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    header: dict[str, Any] = {
        "format": _SNAPSHOT_FORMAT,
        "version": SNAPSHOT_VERSION,
        "seq": seq,
        "digest": hashlib.sha256(body).hexdigest(),
    }
    if chain is not None:
        header["chain"] = chain.hex()
    return json.dumps(header, sort_keys=True).encode() + b"\n" + body


def _snapshot_header(blob: bytes) -> dict[str, Any] | None:
    """The header of a snapshot (its first line) when it is one of this format and
    version, else None."""
    head, sep, _ = bytes(blob).partition(b"\n")
    try:
        header = json.loads(head) if sep else None
    except ValueError:
        return None
    if not isinstance(header, dict) or header.get("format") != _SNAPSHOT_FORMAT:
        return None
    return header if header.get("version") == SNAPSHOT_VERSION else None


def decode_snapshot(blob: bytes, seq: int) -> dict[str, Any]:
    """The state of a snapshot written by :func:`encode_snapshot` for event ``seq``.

    Only JSON is parsed: nothing in a snapshot is ever executed.

    Raises:
        JournalError: the blob is not such a snapshot, is of another version,
            covers another seq, or its state does not match its digest.
    """
    head, sep, body = bytes(blob).partition(b"\n")
    try:
        header = json.loads(head) if sep else None
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != _SNAPSHOT_FORMAT:
        raise JournalError(f"snapshot at event {seq} is not a gridgov JSON snapshot")
    if header.get("version") != SNAPSHOT_VERSION:
        raise JournalError(
            f"snapshot at event {seq} is of version {header.get('version')!r}; "
            f"this gridgov reads version {SNAPSHOT_VERSION}"
        )
    if header.get("seq") != seq:
        raise JournalError(f"snapshot stored at event {seq} says it covers {header.get('seq')!r}")
    if header.get("digest") != hashlib.sha256(body).hexdigest():
        raise JournalError(f"snapshot at event {seq} does not match its digest")
    try:
        state = json.loads(body)
    except ValueError as exc:
        raise JournalError(f"snapshot at event {seq} is not JSON: {exc}") from None
    if not isinstance(state, dict):
        raise JournalError(f"snapshot at event {seq} is not a JSON object")
    return state


class _Broken(Exception):
    """Where a journal's chain breaks: the first bad seq, why, and the last good boundary."""

    def __init__(self, seq: int, reason: str, boundary: tuple[int, bytes]) -> None:
        super().__init__(reason)
        self.seq = seq
        self.reason = reason
        self.boundary = boundary


class _Rows(list[Any]):
    """Fetched rows (read whole, so a corrupted page fails inside the try)."""

    def fetchone(self) -> Any:
        return self[0] if self else None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS commands (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    command TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshots (seq INTEGER PRIMARY KEY, state BLOB NOT NULL);
"""
#: The event rows of formats 2 and 3.
_EVENTS_TABLE = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    command TEXT NOT NULL,
    record TEXT NOT NULL,
    last INTEGER NOT NULL,
    hash BLOB NOT NULL
);
"""
#: The block rows of formats 4 and 5 (see :func:`_block_body`, :func:`_keyed_body`).
_BLOCKS_TABLE = """
CREATE TABLE IF NOT EXISTS blocks (
    first INTEGER PRIMARY KEY,
    last INTEGER NOT NULL,
    command TEXT NOT NULL,
    final INTEGER NOT NULL,
    body BLOB NOT NULL,
    hash BLOB NOT NULL
);
"""


#: Above any seq (SQLite's largest integer): the end of an open range of rows.
_MAX_SEQ = 2**63 - 1

#: Pages of write-ahead log between automatic checkpoints (SQLite's default: 1000).
_CHECKPOINT_PAGES = 16384


def _check_chain(
    db: sqlite3.Connection, head: str | None, start: int, previous: bytes, stop: int | None
) -> tuple[int, bytes] | None:
    """:meth:`SqliteJournal._verify`'s fast path: (next seq, last hash), or None when
    anything is off (then :func:`_diagnose` says what).

    One pass over the rows with the least work per row: SQLite hands
    over each row's fields as bytes, NULL where a field is malformed (so
    the row's hash fails to compute), and the loop hashes and compares.
    """
    expected = start
    last = 1
    sha256 = hashlib.sha256
    try:
        cursor = db.execute(
            "SELECT seq, CASE WHEN typeof(command) = 'text' THEN CAST(command AS BLOB) END, "
            "CASE WHEN last IN (0, 1) THEN last END, "
            "CASE WHEN typeof(record) = 'text' THEN CAST(record AS BLOB) END, hash "
            "FROM events WHERE seq >= ? AND seq <= ? ORDER BY seq",
            (start, _MAX_SEQ if stop is None else stop),
        )
        fetch = cursor.fetchmany
        while True:
            rows = fetch(4096)
            if not rows:
                break
            # Seqs are unique and ascending: a batch whose first and last are
            # where they belong has no gap.
            if rows[0][0] != expected or rows[-1][0] != expected + len(rows) - 1:
                return None
            expected += len(rows)
            for seq, command, last, record, stored in rows:
                previous = sha256(
                    b"%b%d\x1f%b\x1f%d\x1f%b" % (previous, seq, command, last, record)
                ).digest()
                if previous != stored:
                    return None
    except (sqlite3.DatabaseError, TypeError):
        # TypeError: a NULL field (malformed) in the hash's input.
        return None
    return _checked_end(head, expected, previous, last, stop)


def _checked_end(
    head: str | None, expected: int, previous: bytes, final: object, stop: int | None
) -> tuple[int, bytes] | None:
    """The end of a fast chain check (:func:`_check_chain`, :func:`_check_blocks`):
    (next seq, last hash) when the rows read ended on a command's last row, at
    ``stop`` if one was asked, else at the ``meta`` head; None otherwise."""
    end = expected - 1
    if not final or (stop is not None and end != stop):
        return None  # a partial command, or events missing
    if stop is None:
        want = f"{end}:{previous.hex()}"
        if (head is None and end) or (head is not None and head != want):
            return None
    return expected, previous


def _diagnose(
    db: sqlite3.Connection, head: str | None, start: int, previous: bytes, stop: int | None
) -> tuple[int, bytes]:
    """:meth:`SqliteJournal._verify` row by row, naming what breaks the chain: returns
    (next seq, last hash), or raises :class:`_Broken` with the first bad seq and the last
    good boundary."""
    expected = start
    boundary = (start - 1, previous)
    digest = hashlib.sha256
    upto = _MAX_SEQ if stop is None else stop
    try:
        # The first malformed row, found by SQLite in one pass (the loop
        # below then only compares seqs): a command or record that is not
        # text, or a last-row flag other than 0 or 1.
        bad = db.execute(
            "SELECT min(seq) FROM events WHERE seq >= ? AND seq <= ? AND ("
            "typeof(command) != 'text' OR typeof(record) != 'text' OR last NOT IN (0, 1))",
            (start, upto),
        ).fetchone()[0]
        cursor = db.execute(
            "SELECT seq, CAST(command AS BLOB), CAST(record AS BLOB), last, hash "
            "FROM events WHERE seq >= ? AND seq <= ? ORDER BY seq",
            (start, upto),
        )
        while True:
            rows = cursor.fetchmany(4096)
            if not rows:
                break
            for seq, command, record, last, stored in rows:
                if seq != expected:
                    raise _Broken(expected, f"event {expected} is missing", boundary)
                if seq == bad:
                    raise _Broken(seq, f"event {seq} is malformed", boundary)
                current = digest(
                    b"%b%d\x1f%b\x1f%d\x1f%b" % (previous, seq, command, last, record)
                ).digest()
                if current != stored:
                    raise _Broken(seq, f"event {seq} does not match its hash", boundary)
                previous = current
                expected += 1
                if last:
                    boundary = (seq, current)
    except sqlite3.DatabaseError as exc:
        raise _Broken(expected, f"event {expected} is unreadable ({exc})", boundary) from None
    return _ends(head, expected, previous, boundary, stop)


#: A block row as a check reads it: first, last, command (UTF-8, NULL when not text),
#: final flag (NULL when not 0 or 1), body (NULL when not a blob), stored hash.
_CHECKED_BLOCKS = (
    "SELECT first, last, CASE WHEN typeof(command) = 'text' THEN CAST(command AS BLOB) END, "
    "CASE WHEN final IN (0, 1) THEN final END, "
    "CASE WHEN typeof(body) = 'blob' THEN body END, hash "
    "FROM blocks WHERE first >= ? AND first <= ? ORDER BY first"
)


def _check_blocks(
    db: sqlite3.Connection, head: str | None, start: int, previous: bytes, stop: int | None
) -> tuple[int, bytes] | None:
    """:func:`_check_chain` of a journal of formats 4 and 5: one pass over the block rows,
    a hash per block; None when anything is off (then :func:`_diagnose_blocks` says
    what)."""
    expected = start
    final = 1
    sha256 = hashlib.sha256
    try:
        cursor = db.execute(_CHECKED_BLOCKS, (start, _MAX_SEQ if stop is None else stop))
        for first, last, command, final, body, stored in cursor:
            if first != expected or type(last) is not int or last < first:
                return None
            previous = sha256(
                b"%b%d\x1f%d\x1f%b\x1f%d\x1f%b" % (previous, first, last, command, final, body)
            ).digest()
            if previous != stored:
                return None
            expected = last + 1
    except (sqlite3.DatabaseError, TypeError):
        # TypeError: a NULL field (malformed) in the hash's input.
        return None
    return _checked_end(head, expected, previous, final, stop)


def _diagnose_blocks(
    db: sqlite3.Connection, head: str | None, start: int, previous: bytes, stop: int | None
) -> tuple[int, bytes]:
    """:func:`_diagnose` of a journal of formats 4 and 5: block by block, naming the seq range
    of the first block that breaks the chain."""
    expected = start
    boundary = (start - 1, previous)
    upto = _MAX_SEQ if stop is None else stop
    try:
        for first, last, command, final, body, stored in db.execute(_CHECKED_BLOCKS, (start, upto)):
            span = f"the block of events {first}-{last}"
            if first > expected:
                raise _Broken(expected, f"events {expected}-{first - 1} are missing", boundary)
            if first < expected:
                raise _Broken(first, f"{span} overlaps the block before it", boundary)
            if type(last) is not int or last < first or None in (command, final, body):
                raise _Broken(first, f"{span} is malformed", boundary)
            current = _block_hash(previous, first, last, command.decode(), final, body)
            if current != stored:
                raise _Broken(first, f"{span} does not match its hash", boundary)
            previous = current
            expected = last + 1
            if final:
                boundary = (last, current)
    except sqlite3.DatabaseError as exc:
        raise _Broken(expected, f"event {expected} is unreadable ({exc})", boundary) from None
    except UnicodeDecodeError:
        raise _Broken(expected, f"the block from event {expected} is malformed", boundary) from None
    return _ends(head, expected, previous, boundary, stop)


def _ends(
    head: str | None, expected: int, previous: bytes, boundary: tuple[int, bytes], stop: int | None
) -> tuple[int, bytes]:
    """The checks at the end of a chain (:func:`_diagnose`): nothing missing, the last
    command whole, the last commit's record met; (next seq, last hash), or raises
    :class:`_Broken`."""
    end = expected - 1
    if stop is not None and end != stop:
        raise _Broken(expected, f"event {expected} is missing", boundary)
    if boundary[0] != end:
        raise _Broken(
            boundary[0] + 1, f"the command from event {boundary[0] + 1} is partial", boundary
        )
    if stop is not None:
        return expected, previous
    want = f"{end}:{previous.hex()}"
    if (head is None and end) or (head is not None and head != want):
        recorded = (head or "0:").split(":", 1)[0]
        number = int(recorded) if recorded.isdigit() else 0
        raise _Broken(
            end + 1 if number > end else max(1, number),
            f"the journal ends at event {end}, but its last commit recorded event {recorded}",
            boundary,
        )
    return expected, previous


def _check_layout(db: sqlite3.Connection, path: str) -> None:
    """Refuse, before anything is written to it, a file whose ``meta`` and tables
    disagree: a journal of blocks (``schema`` 3) whose ``format`` is not 4 or 5, or
    that holds event rows; one of formats 2 and 3 that holds block rows; a file
    without a schema that holds block rows. (An empty table of the other kind, as
    an older gridgov's opening leaves in a journal of blocks, is no matter.)

    Raises:
        JournalError: naming what disagrees.
    """
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    meta: dict[Any, Any] = {}
    if "meta" in tables:
        meta = dict(db.execute("SELECT key, value FROM meta WHERE key IN ('schema', 'format')"))
    schema = meta.get("schema")
    held = {t for t in ("events", "blocks") if t in tables and _has_rows(db, t)}
    if schema is None:
        if "blocks" in held:
            raise JournalError(f"{path} is not a gridgov journal: block rows without a schema")
        return  # a new journal, or one of format 3 (its schema is written on open)
    blocks = str(schema) == _BLOCK_ROWS
    if blocks and meta.get("format") not in (None, "4", _KEYED):
        raise JournalError(
            f"{path} is a journal of format {meta['format']}; this gridgov reads formats 2 to "
            f"{FORMAT_VERSION}"
        )
    if ("events" if blocks else "blocks") in held:
        raise JournalError(
            f"{path} is not a gridgov journal: its meta says schema {schema}, but it holds "
            f"{'event' if blocks else 'block'} rows (a journal holds one kind, not both)"
        )


def _has_rows(db: sqlite3.Connection, table: str) -> bool:
    """Whether ``table`` (events or blocks) holds a row."""
    return db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None


class _Transactions:
    """How a :class:`SqliteJournal` writes: a transaction per write, or, inside
    :meth:`group`, one transaction for the block and a savepoint per write."""

    path: str
    _db: sqlite3.Connection
    _group: int
    _next: int
    _hash: bytes
    _keys: int
    _keys_hash: bytes
    _object_rows: bool
    _blocks: bool
    #: Block bodies of format 5 (:func:`_keyed_body`), not 4.
    _keyed: bool

    def _write(self, action: Any) -> None:
        """Run ``action`` in a transaction of its own, or inside a group in a savepoint
        of its own: all of it is written, or none of it."""
        db = self._db
        grouped = self._group > 0
        try:
            db.execute("SAVEPOINT write" if grouped else "BEGIN IMMEDIATE")
            try:
                action(db)
            except BaseException:
                if grouped:
                    db.execute("ROLLBACK TO write")
                    db.execute("RELEASE write")
                else:
                    db.execute("ROLLBACK")
                raise
            db.execute("RELEASE write" if grouped else "COMMIT")
        except (sqlite3.DatabaseError, sqlite3.ProgrammingError, UnicodeEncodeError) as exc:
            # (UnicodeEncodeError: SQLite given text that is not valid Unicode.)
            raise JournalError(f"cannot write journal {self.path}: {_first_line(exc)}") from None

    # --------------------------------------------------------- group commit

    @property
    def grouped(self) -> bool:
        """Whether a :meth:`group` block is open (its writes not yet committed)."""
        return self._group > 0

    @contextlib.contextmanager
    def group(self) -> Iterator[None]:
        """Group commit: every write inside the block shares one transaction, committed
        (with ``synchronous=FULL``, synced to the disk once) when the block exits.

        Each append is still all or nothing on its own (a savepoint); the block
        is not: when it exits, also by an exception, what was written in it is
        committed. Until then nothing of it is durable: a process killed inside
        the block leaves the journal as it was before it. Blocks nest (the
        outermost one commits). See ``docs/embedding.md``.

        Raises:
            JournalError: the transaction could not begin, or the commit failed
                (then nothing written in the block is in the journal, and this
                journal's counters are read back from the file).
        """
        if self._group:
            self._group += 1
            try:
                yield
            finally:
                self._group -= 1
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except (sqlite3.DatabaseError, sqlite3.ProgrammingError) as exc:
            raise JournalError(f"cannot write journal {self.path}: {exc}") from None
        self._group = 1
        try:
            yield
        finally:
            self._group = 0
            self._commit_group()

    def _commit_group(self) -> None:
        try:
            self._db.execute("COMMIT")
        except (sqlite3.DatabaseError, sqlite3.ProgrammingError) as exc:
            with contextlib.suppress(sqlite3.DatabaseError, sqlite3.ProgrammingError):
                self._db.execute("ROLLBACK")
            self._reread()
            raise JournalError(
                f"cannot write journal {self.path}: {exc} (the group's writes are not in it)"
            ) from None

    def _reread(self) -> None:
        """The counters kept in memory, read back from the file (after a failed group)."""
        try:
            rows = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError:  # pragma: no cover - the file itself is gone
            return
        seq, _, digest = str(rows.get("head") or "0:" + GENESIS.hex()).partition(":")
        self._next, self._hash = int(seq) + 1, bytes.fromhex(digest)
        count, _, digest = str(rows.get("keys") or "0:" + GENESIS.hex()).partition(":")
        self._keys, self._keys_hash = int(count), bytes.fromhex(digest)
        self._object_rows = rows.get("schema") == _OBJECT_ROWS
        self._blocks = rows.get("schema") == _BLOCK_ROWS
        self._keyed = self._blocks and rows.get("format") == _KEYED


class _Chain(_Transactions):
    """How a :class:`SqliteJournal` checks its hash chain, on open and before the events
    a snapshot vouched for are first read, and cuts a broken one short."""

    unverified: int
    recovered: str | None

    def _vouched(self) -> tuple[int, bytes] | None:
        """The latest snapshot's (seq, chain hash) when it vouches for the events it covers.

        It does when its header records the chain's hash at its seq, that
        seq is a command's last event, and its stored hash is the one
        recorded: the snapshot was taken of that very history. Anything else
        (no snapshot, an older one without the hash, a header that does not
        parse, a seq beyond the events) vouches for nothing, and the whole
        chain is checked on open.
        """
        try:
            row = self._db.execute(
                "SELECT seq, substr(state, 1, 1024) FROM snapshots ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            if row is None or type(row[0]) is not int or type(row[1]) is not bytes:
                return None
            seq = row[0]
            header = _snapshot_header(row[1])
            chain = None if header is None or header.get("seq") != seq else header.get("chain")
            if type(chain) is not str or len(chain) != 64:
                return None
            stored = self._stored_hash(seq)
        except sqlite3.DatabaseError:
            return None  # the whole check then says what is unreadable
        if stored is None or stored[1] != 1 or type(stored[0]) is not bytes:
            return None
        if stored[0].hex() != chain:
            return None
        return seq, stored[0]

    def _stored_hash(self, seq: int) -> tuple[Any, Any] | None:
        """(stored hash, last-of-a-command flag) of the row that ends at event ``seq``;
        None when no row ends there (in formats 4 and 5, ``seq`` inside a block)."""
        if not self._blocks:
            row = self._db.execute("SELECT hash, last FROM events WHERE seq = ?", (seq,))
            return row.fetchone()  # type: ignore[no-any-return]
        row = self._db.execute(
            "SELECT hash, final, last FROM blocks WHERE first <= ? ORDER BY first DESC LIMIT 1",
            (seq,),
        ).fetchone()
        return None if row is None or row[2] != seq else (row[0], row[1])

    def _check_unverified(self) -> None:
        """Check the chain of the events a snapshot covered (before any of them is read).

        Raises:
            JournalError: the chain breaks there (naming the first bad seq).
        """
        upto = self.unverified
        if not upto:
            return
        try:
            self._verify(None, 1, GENESIS, upto)
        except _Broken as broken:
            raise JournalError(
                f"{self.path}: {broken.reason} (first bad event: seq {broken.seq}); "
                'open it with recover="truncate" to keep the valid prefix'
            ) from None
        self.unverified = 0

    def verify(self) -> None:
        """Check now the chain of any events not checked on open (see ``verify``).

        After this, every event of the journal has been checked.

        Raises:
            JournalError: the chain breaks (naming the first bad seq).
        """
        self._check_unverified()

    def _verify(
        self, head: str | None, start: int, previous: bytes, stop: int | None = None
    ) -> tuple[int, bytes]:
        """Check the chain from event ``start`` (chained from ``previous``) to ``stop``, or
        to the end and against ``head`` (the last commit's record) when ``stop`` is None.

        Returns (next seq, last hash), or raises :class:`_Broken`. The chain
        is checked first on a fast path that only answers "intact or not";
        a chain that is not intact is checked again by :func:`_diagnose`,
        which finds the first bad seq and the last good command boundary (a
        broken journal is rare: its second pass costs nothing in the common
        case).
        """
        if self._blocks:
            checked = _check_blocks(self._db, head, start, previous, stop)
            if checked is not None:
                return checked
            return _diagnose_blocks(self._db, head, start, previous, stop)
        checked = _check_chain(self._db, head, start, previous, stop)
        if checked is not None:
            return checked
        return _diagnose(self._db, head, start, previous, stop)

    def _truncate(self, broken: _Broken) -> None:
        """Keep the longest valid prefix ending on a command boundary; drop the rest."""
        keep, last_hash = broken.boundary
        try:
            self._begin()
            db = self._db
            if self._blocks:
                where = "FROM blocks WHERE first > ?1 OR last > ?1"
                dropped = db.execute(f"SELECT COUNT(*) {where}", (keep,)).fetchone()[0]
                db.execute(f"DELETE {where}", (keep,))
            else:
                dropped = db.execute(
                    "SELECT COUNT(*) FROM events WHERE seq > ?", (keep,)
                ).fetchone()[0]
                db.execute("DELETE FROM events WHERE seq > ?", (keep,))
            db.execute("DELETE FROM commands WHERE last_seq > ?", (keep,))
            db.execute("DELETE FROM snapshots WHERE seq > ?", (keep,))
            db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('head', ?)", (f"{keep}:{last_hash.hex()}",)
            )
            db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"cannot recover journal {self.path}: {exc}") from None
        self._next, self._hash = keep + 1, last_hash
        self.recovered = (
            f"{broken.reason} (first bad event: seq {broken.seq}); kept events 1-{keep}, "
            f"dropped {dropped} {'block' if self._blocks else 'event'} row(s) after it"
        )

    def _begin(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")


class SqliteJournal(_Chain):
    """An append-only event store in SQLite, one transaction per command.

    Opening checks the hash chain (see ``verify``): a journal whose chain
    breaks is refused with a :class:`JournalError` naming the first bad seq,
    unless ``recover="truncate"`` asks to keep the valid prefix.

    Args:
        path: the database file (created when missing).
        synchronous: SQLite's ``synchronous`` setting: ``NORMAL`` (the default
            in WAL mode: a power cut may lose the last commits, a process crash
            loses nothing) or ``FULL`` (every commit reaches the disk).
        recover: None, or ``"truncate"``: keep the longest valid prefix that
            ends on a command boundary and drop the rest (:attr:`recovered`
            says what was dropped); the whole chain is then checked on open.
        verify: ``"snapshot"`` (the default): when the latest snapshot
            records the chain's hash at its seq and that hash is the one
            stored there, only the events after it are checked on open; the
            events it covers are checked, all of them from the first, before
            any of them is read (:attr:`unverified` counts them until then).
            ``"full"``: the whole chain is checked on open.

    Raises:
        JournalError: the file is not a gridgov journal, or is corrupted.
    """

    durable = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        synchronous: str = "NORMAL",
        *,
        recover: str | None = None,
        verify: str = "snapshot",
    ) -> None:
        if synchronous.upper() not in ("NORMAL", "FULL", "OFF", "EXTRA"):
            raise JournalError(
                f"unknown synchronous setting {synchronous!r} (expected NORMAL, FULL, EXTRA or OFF)"
            )
        if recover not in (None, "truncate"):
            raise JournalError(f"unknown recovery {recover!r} (expected None or 'truncate')")
        if verify not in ("snapshot", "full"):
            raise JournalError(f"unknown verification {verify!r} (expected 'snapshot' or 'full')")
        self.path = os.fspath(path)
        #: Events at the start of the journal whose chain is not checked yet (0: none):
        #: those a trusted snapshot covers, checked before the first of them is read.
        self.unverified = 0
        #: What opening with ``recover="truncate"`` dropped (None: nothing).
        self.recovered: str | None = None
        self._group = 0  # depth of group() blocks; > 0: one transaction is open
        try:
            # Autocommit mode: transactions are opened explicitly, one per command.
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path} is not a readable gridgov journal: {exc}") from None
        try:
            self._open(synchronous.upper(), recover, verify)
        except BaseException:
            self._db.close()
            raise

    def _open(self, synchronous: str, recover: str | None, verify: str) -> None:
        try:
            db = self._db
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={synchronous}")
            # Checkpoint the write-ahead log every 64 MB rather than every 4 MB:
            # each checkpoint syncs the database file, which set the pace of
            # appending (the log is checkpointed on close as usual).
            db.execute(f"PRAGMA wal_autocheckpoint={_CHECKPOINT_PAGES}")
            columns = [r[1] for r in db.execute("PRAGMA table_info(events)").fetchall()]
            if columns and "hash" not in columns:
                raise JournalError(
                    f"{self.path} is a journal of an older gridgov, without the hash chain "
                    f"(formats 2 to {FORMAT_VERSION}); it is not opened (replay its events into a "
                    "new journal with the gridgov that wrote it, or keep using that version)"
                )
            _check_layout(db, self.path)
            db.executescript(_SCHEMA)
            row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            schema = self._schema(None if row is None else str(row[0]), bool(columns))
            db.executescript(_BLOCKS_TABLE if schema == _BLOCK_ROWS else _EVENTS_TABLE)
            # Format 2 (rows of JSON objects) until the first append writes format 3.
            self._object_rows = schema == _OBJECT_ROWS
            self._blocks = schema == _BLOCK_ROWS
            written = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            self._keyed = self._blocks and written is not None and written[0] == _KEYED
            head = db.execute("SELECT value FROM meta WHERE key = 'head'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path} is not a readable gridgov journal: {exc}") from None
        head_text = None if head is None else str(head[0])
        vouched = self._vouched() if verify == "snapshot" and recover is None else None
        try:
            if vouched is None:
                self._next, self._hash = self._verify(head_text, 1, GENESIS)
            else:
                # The snapshot's events are checked on first read (see ``verify``).
                self._next, self._hash = self._verify(head_text, vouched[0] + 1, vouched[1])
                self.unverified = vouched[0]
        except _Broken as broken:
            if recover != "truncate":
                raise JournalError(
                    f"{self.path}: {broken.reason} (first bad event: seq {broken.seq}); "
                    'open it with recover="truncate" to keep the valid prefix'
                ) from None
            self._truncate(broken)
        self._keys_hash, self._keys = self._verify_keys(recover)

    def _schema(self, schema: str | None, rows: bool) -> str:
        """The ``meta`` ``schema`` of the journal (``rows``: it has an event table), written
        when it is new: format 5 (:data:`_NEW_FORMAT`), or 3 for a file with event rows
        and no schema.

        Raises:
            JournalError: the schema is one this gridgov does not read.
        """
        if schema is None:
            schema = _ARRAY_ROWS if rows or _NEW_FORMAT == 3 else _BLOCK_ROWS
            self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (schema,))
            if schema == _BLOCK_ROWS:
                self._db.execute("INSERT INTO meta VALUES ('format', ?)", (str(_NEW_FORMAT),))
        elif schema not in (_OBJECT_ROWS, _ARRAY_ROWS, _BLOCK_ROWS):
            raise JournalError(
                f"{self.path} is a journal of schema version {schema}; this gridgov "
                f"reads versions {_OBJECT_ROWS} to {_BLOCK_ROWS}"
            )
        return schema

    def _verify_keys(self, recover: str | None) -> tuple[bytes, int]:
        """Check the chain of idempotency records against the one recorded by the last
        commit; returns its last hash and the number of records."""
        try:
            previous, count = _chain_keys(self._db)
            if count < 0:
                # A malformed record: the records are read again, to name it.
                for row in self._db.execute(
                    "SELECT key, fingerprint, command, first_seq, last_seq FROM commands "
                    "ORDER BY rowid"
                ):
                    if not all(type(v) is str for v in row[:3]) or not all(
                        type(v) is int for v in row[3:]
                    ):
                        raise JournalError(
                            f"{self.path}: idempotency record {row[0]!r} is malformed"
                        )
            stored = self._db.execute("SELECT value FROM meta WHERE key = 'keys'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: idempotency records unreadable: {exc}") from None
        want = f"{count}:{previous.hex()}"
        written = "0:" + GENESIS.hex() if stored is None else str(stored[0])
        if written != want:
            if recover != "truncate":
                raise JournalError(
                    f"{self.path}: the idempotency records do not match the last commit's "
                    f"({count} found, {written.split(':')[0]} recorded): keys were lost or "
                    'edited; open it with recover="truncate" to accept the keys as they are'
                )
            try:
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('keys', ?)", (want,))
            except sqlite3.DatabaseError as exc:
                raise JournalError(f"cannot recover journal {self.path}: {exc}") from None
            note = f"idempotency records: {count} kept, {written.split(':')[0]} recorded"
            self.recovered = note if self.recovered is None else f"{self.recovered}; {note}"
        return previous, count

    # ------------------------------------------------------------ metadata

    def meta(self, key: str) -> str | None:
        """A metadata value written with :meth:`set_meta` (None when unset)."""
        row = self._query("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Write a metadata value (e.g. which city and rules the journal belongs to).

        Raises:
            JournalError: ``key`` is one the journal keeps itself (its schema, format,
                hash-chain head or key table), or ``key`` or ``value`` is not a string.
        """
        _check_meta(key, value)
        self._write(
            lambda db: db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
        )

    # -------------------------------------------------------------- events

    def __len__(self) -> int:
        return self._next - 1

    def __iter__(self) -> Iterator[Event]:
        return self.stream(0)

    def __getitem__(self, index: int) -> Event:
        seq = index + 1 if index >= 0 else self._next + index
        got = self.between(seq, seq)
        if not got:
            raise IndexError(index)
        return got[0]

    @property
    def next_seq(self) -> int:
        """The sequence number the next event gets."""
        return self._next

    def append(self, events: Sequence[Event], record: CommandRecord | None = None) -> None:
        """Append one command's events and its idempotency record in one transaction.

        Raises:
            JournalError: the events do not continue the sequence, or the write failed
                (nothing is written then).
        """
        encoded: _Encoded | list[_Block]
        try:
            if self._blocks:
                encoded = _encode_blocks(events, self._hash, self._next, self._keyed)
                previous = encoded[-1][5] if encoded else self._hash
            else:
                encoded = _encode_rows(events, self._hash, self._next)
                previous = encoded.chain
        except (UnicodeEncodeError, RecursionError, TypeError, ValueError) as error:
            # Text that is not valid Unicode (a lone surrogate), data of a type
            # JSON has no form for, or nested deeper than a read can follow.
            raise JournalError(
                f"events from {self._next} on cannot be stored: {_first_line(error)}; "
                "expected JSON data of valid Unicode text (nothing was written)"
            ) from error
        head = f"{self._next + len(events) - 1}:{previous.hex()}" if events else None

        keys_hash = self._keys_hash
        if record is not None:
            try:
                keys_hash = key_hash(keys_hash, record)
            except UnicodeEncodeError as error:
                raise JournalError(
                    f"the idempotency record of command {record.command!r} cannot be stored: "
                    f"{_first_line(error)}; expected valid Unicode text (nothing was written)"
                ) from None

        upgrade = bool(events) and self._object_rows

        def write(db: sqlite3.Connection) -> None:
            if events:
                if upgrade:
                    # The first rows of format 3 in a journal of format 2: a
                    # gridgov that reads only objects now refuses it by name.
                    db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (_ARRAY_ROWS,))
                if isinstance(encoded, list):
                    db.executemany("INSERT INTO blocks VALUES (?, ?, ?, ?, ?, ?)", encoded)
                else:
                    encoded.insert(db)
                db.execute("INSERT OR REPLACE INTO meta VALUES ('head', ?)", (head,))
            if record is not None:
                db.execute(
                    "INSERT INTO commands VALUES (?, ?, ?, ?, ?)",
                    (record.key, record.fingerprint, record.command, record.first, record.last),
                )
                # The count is kept in memory: counting the table would make
                # each keyed command cost as much as all the keys before it.
                db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('keys', ?)",
                    (f"{self._keys + 1}:{keys_hash.hex()}",),
                )

        self._write(write)
        if upgrade:
            self._object_rows = False
        self._next += len(events)
        self._hash = previous
        self._keys_hash = keys_hash
        self._keys += record is not None

    def count_keys(self, upto: int) -> int:
        """How many idempotency records belong to commands that began at or before event
        ``upto`` (see :meth:`MemoryJournal.count_keys`)."""
        row = self._query("SELECT COUNT(*) FROM commands WHERE first_seq <= ?", (upto,)).fetchone()
        return int(row[0])

    def lookup(self, key: str) -> CommandRecord | None:
        """The command that carried idempotency ``key``, if any."""
        if not key.isascii() and not _valid_unicode(key):
            return None  # a key that is not valid Unicode text is never stored
        row = self._query(
            "SELECT key, fingerprint, command, first_seq, last_seq FROM commands WHERE key = ?",
            (key,),
        ).fetchone()
        return None if row is None else CommandRecord(*row)

    def between(self, first: int, last: int) -> list[Event]:
        """Events with ``first <= seq <= last``.

        Raises:
            JournalError: a row is unreadable or malformed, or the chain of the
                events a snapshot covered breaks (checked on their first read).
        """
        if first <= self.unverified and last >= 1:
            self._check_unverified()
        # Within SQLite's integers (a seq beyond them is no event either).
        first = min(max(first, -_MAX_SEQ), _MAX_SEQ)
        last = min(max(last, -_MAX_SEQ), _MAX_SEQ)
        if self._blocks:
            return list(self._run(first, last, {}))
        return _decode_rows(self._rows(first, last), self.path)

    def _run(self, first: int, last: int, times: dict[str, datetime]) -> Events:
        """The events with ``first <= seq <= last`` of a journal of blocks: the blocks
        that overlap them, decoded, their ends cut off.

        Raises:
            JournalError: a block is malformed, or an event of the range is missing.
        """
        first = max(first, 1)
        parts = self._blocks_of(first, last, times)
        events = Events.join(parts) if parts else Events(first)
        start, stop = max(0, first - events._first), max(0, last - events._first + 1)
        if start == 0 and stop >= events._size:
            return events  # the whole of it: no copy of its columns
        return events[start:stop]

    def _blocks_of(self, first: int, last: int, times: dict[str, datetime]) -> list[Events]:
        """The blocks that overlap the events ``first`` (at least 1) to ``last``, decoded
        whole, each following the one before.

        Raises:
            JournalError: a block is malformed, or an event of the range is missing.
        """
        blocks = self._query(
            "SELECT first, last, command, body FROM blocks WHERE first >= coalesce("
            "(SELECT max(first) FROM blocks WHERE first <= ?1), 0) AND first <= ?2 "
            "ORDER BY first",
            (first, last),
        )
        parts = [_decode_block(block, self.path, times, self._keyed) for block in blocks]
        _check_covered(self.path, parts, first, min(last, self._next - 1))
        return parts

    def _rows(self, first: int, last: int) -> _Rows:
        return self._query(
            "SELECT seq, command, record FROM events WHERE seq BETWEEN ? AND ? ORDER BY seq",
            (first, last),
        )

    def since(self, seq: int) -> list[Event]:
        """Events with a sequence number above ``seq``."""
        return self.between(seq + 1, self._next)

    def stream(self, seq: int, chunk: int = 20_000) -> Iterator[Event]:
        """The events of :meth:`since`, read and decoded ``chunk`` rows at a time.

        What a replay reads: a journal of millions of events is never held
        in memory at once (the events end where the journal ended when the
        stream started).

        Raises:
            JournalError: a row is unreadable or malformed (when it is reached).
        """
        end = self._next - 1
        first = seq + 1
        while first <= end:
            last = min(end, first + chunk - 1)
            yield from self.between(first, last)
            first = last + 1

    def replay(self, seq: int, chunk: int = 128) -> Iterator[Event]:
        """The events of :meth:`stream`, as a replay reads them.

        The rows are read ``chunk`` at a time and their events handed over
        without a Python frame per event: small chunks keep the rows being
        read and the state being changed in the processor's caches together
        (a replay of a million events took about 15 % longer in chunks of
        512 and half as long again in chunks of 2,048).

        Raises:
            JournalError: a row is unreadable or malformed (when it is reached).
        """
        return itertools.chain.from_iterable(self.replay_chunks(seq, chunk))

    def replay_chunks(self, seq: int, chunk: int | None = None) -> Iterator[Events]:
        """The events of :meth:`replay`, ``chunk`` rows at a time as :class:`Events`
        (what the engine's replay reads: no :class:`Event` made per row, and a
        chunk's runs of one kind of event applied at once). By default a journal
        of blocks hands over about a block's events at a time (up to 4,096, the
        block read is not copied: a chunk's runs are longer and fewer, and
        applied at once), one of format 3 rows :data:`REPLAY_CHUNK` at a time.

        Raises:
            JournalError: a row is unreadable or malformed (when it is reached), or
                the chain of the events a snapshot covered breaks.
        """
        if seq + 1 <= self.unverified and self._next > 1:
            self._check_unverified()
        return self._chunks(seq, chunk)

    def _chunks(self, seq: int, chunk: int | None) -> Iterator[Events]:
        end = self._next - 1
        first = seq + 1
        times: dict[str, datetime] = {}
        if self._blocks:
            # Each block decoded once and handed over whole (not joined nor cut where
            # a range of seqs ends: its columns kept as stored), cut in chunks if asked.
            first = max(first, 1)
            while first <= end:
                parts = self._blocks_of(first, min(end, first + _BLOCK_EVENTS - 1), times)
                if not parts:
                    return
                for events in parts:
                    start = max(0, first - events._first)
                    stop = min(events._size, end - events._first + 1)
                    if start or stop < events._size:
                        events = events[start:stop]  # where the replay starts or ends
                    if chunk is None or events._size <= chunk:
                        yield events  # no copy of its columns
                    else:
                        for at in range(0, events._size, chunk):
                            yield events[at : at + chunk]
                first = parts[-1]._first + parts[-1]._size
            return
        chunk = chunk or REPLAY_CHUNK
        while first <= end:
            last = min(end, first + chunk - 1)
            rows = self._rows(first, last)
            if rows:
                yield _decode_columns(rows, self.path, times)
            first = last + 1

    def select(
        self, type: str | None = None, unit: str | None = None, command: str | None = None
    ) -> list[Event]:
        """Events matching every given filter (``type`` may end in ``.*``)."""
        if command is not None and self._blocks:
            self._check_unverified()
            blocks = self._query(
                "SELECT first, last, command, body FROM blocks WHERE command = ? ORDER BY first",
                (command,),
            )
            found = [e for b in blocks for e in _decode_block(b, self.path, {}, self._keyed)]
            return _select(found, type, unit, None)
        if command is not None:
            self._check_unverified()
            rows = self._query(
                "SELECT seq, command, record FROM events WHERE command = ? ORDER BY seq",
                (command,),
            )
            return _select(_decode_rows(rows, self.path), type, unit, None)
        return _select(iter(self), type, unit, None)

    # ----------------------------------------------------------- snapshots

    def hash_at(self, seq: int) -> bytes | None:
        """The chain's hash at event ``seq`` (what a snapshot of that seq records), or None
        when there is no such event or, in a journal of blocks, no block ends at
        ``seq`` (the chain has a hash per block: a snapshot, taken between commands,
        always falls on a block's end)."""
        if seq == self._next - 1:
            return self._hash
        if seq == 0:
            return GENESIS
        try:
            row = self._stored_hash(seq)
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"cannot read journal {self.path}: {exc}") from None
        return None if row is None or type(row[0]) is not bytes else bytes(row[0])

    def save_snapshot(self, seq: int, state: bytes) -> None:
        """Keep the engine's state as of event ``seq`` (older snapshots are dropped)."""

        def write(db: sqlite3.Connection) -> None:
            db.execute("INSERT OR REPLACE INTO snapshots VALUES (?, ?)", (seq, state))
            db.execute("DELETE FROM snapshots WHERE seq < ?", (seq,))

        self._write(write)

    def latest_snapshot(self) -> tuple[int, bytes] | None:
        """The newest snapshot, as (seq, state), or None."""
        row = self._query("SELECT seq, state FROM snapshots ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def close(self) -> None:
        """Close the database (later calls raise JournalError).

        Raises:
            JournalError: inside a :meth:`group` block (leave it first: closing
                would drop its writes).
        """
        if self._group:
            raise JournalError(
                f"journal {self.path} closed inside a group; leave the group first "
                "(its writes are committed when it exits)"
            )
        self._db.close()

    # ------------------------------------------------------------- private

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> _Rows:
        try:
            return _Rows(self._db.execute(sql, args).fetchall())
        except (sqlite3.DatabaseError, sqlite3.ProgrammingError, UnicodeEncodeError) as exc:
            # (UnicodeEncodeError: an argument that is not valid Unicode text.)
            raise JournalError(f"cannot read journal {self.path}: {_first_line(exc)}") from None


class JournalView:
    """The read-only face of an engine's journal (:attr:`gridgov.Engine.journal`).

    Queries only: events by position, sequence, type, unit or command, and
    the idempotency records. Appending, snapshotting and closing are the
    engine's (:meth:`gridgov.Engine.close`), so nothing reached from an engine
    can add to its history or cut it short behind its back. The journal an
    embedder passed in (``Engine(..., journal=...)``) stays theirs.

    Every read runs under the engine's lock when one is given (the engine
    gives its own), so a reader on another thread never sees half of a
    command's events; iteration reads the events there are when it starts.

    Args:
        journal: the journal viewed.
        lock: the lock commands hold while they append (default: none).
    """

    __slots__ = ("_journal", "_lock")

    def __init__(
        self,
        journal: MemoryJournal | SqliteJournal,
        lock: threading.RLock | None = None,
    ) -> None:
        self._journal = journal
        self._lock: contextlib.AbstractContextManager[Any] = (
            lock if lock is not None else contextlib.nullcontext()
        )

    def __repr__(self) -> str:
        with self._lock:
            return f"<JournalView of {type(self._journal).__name__}: {len(self._journal)} events>"

    def __len__(self) -> int:
        with self._lock:
            return len(self._journal)

    def __iter__(self) -> Iterator[Event]:
        with self._lock:
            return iter(list(self._journal))

    def __getitem__(self, index: int) -> Event:
        with self._lock:
            return self._journal[index]

    @property
    def durable(self) -> bool:
        """Whether the events are on disk (a SQLite journal)."""
        return bool(self._journal.durable)

    @property
    def path(self) -> str | None:
        """The journal's file (None for an in-memory journal)."""
        return getattr(self._journal, "path", None)

    @property
    def next_seq(self) -> int:
        """The sequence number the next event gets."""
        with self._lock:
            return self._journal.next_seq

    @property
    def unverified(self) -> int:
        """Events at the start whose hash chain is not checked yet: those a trusted
        snapshot vouched for on open (0: every event is checked)."""
        return self._journal.unverified

    def verify(self) -> None:
        """Check now the hash chain of the events not checked on open (a no-op when
        :attr:`unverified` is 0).

        Raises:
            JournalError: the chain breaks (naming the first bad seq).
        """
        self._journal.verify()

    def lookup(self, key: str) -> CommandRecord | None:
        """The command that carried idempotency ``key``, if any."""
        with self._lock:
            return self._journal.lookup(key)

    def count_keys(self, upto: int) -> int:
        """How many idempotency records belong to commands ending at or before event ``upto``."""
        with self._lock:
            return self._journal.count_keys(upto)

    def between(self, first: int, last: int) -> list[Event]:
        """Events with ``first <= seq <= last``."""
        with self._lock:
            return self._journal.between(first, last)

    def since(self, seq: int) -> list[Event]:
        """Events with a sequence number above ``seq``."""
        with self._lock:
            return self._journal.since(seq)

    def select(
        self, type: str | None = None, unit: str | None = None, command: str | None = None
    ) -> list[Event]:
        """Events matching every given filter (``type`` may end in ``.*``)."""
        with self._lock:
            return self._journal.select(type, unit, command)

    def latest_snapshot(self) -> tuple[int, bytes] | None:
        """The newest snapshot, as (seq, state), or None (always None in memory)."""
        with self._lock:
            return self._journal.latest_snapshot()

    def meta(self, key: str) -> str | None:
        """A stamp of a durable journal (``city``, ``rules``, ``seed``...); None in memory."""
        journal = self._journal
        with self._lock:
            return journal.meta(key) if isinstance(journal, SqliteJournal) else None

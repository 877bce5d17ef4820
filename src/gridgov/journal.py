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
  is either wholly there or not at all. Events are stored as JSON with a
  schema version in every record; periodic snapshots of the engine's state
  make reopening a long journal fast.

Both remember the idempotency key of each command, so that a retried command
can be answered with its first result instead of being done twice.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs
import orjson

from gridgov.errors import JournalError

__all__ = ["SCHEMA_VERSION", "CommandRecord", "Event", "MemoryJournal", "SqliteJournal"]

#: Version of the JSON form of an event; written into every record.
SCHEMA_VERSION = 1


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
    #: Further details, JSON-friendly (strings, numbers, booleans, None, lists, objects).
    data: Mapping[str, Any] = attrs.field(factory=dict)

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
    except orjson.JSONDecodeError:
        # What orjson refuses (NaN written by older versions) the
        # standard library may still read.
        try:
            record = json.loads(text)
        except ValueError as exc:
            raise JournalError(f"event record is not JSON: {exc}") from None
    if not isinstance(record, dict):
        raise JournalError("event record is not a JSON object")
    return _from_record(record, times)


def _encode(event: Event, time: str) -> str:
    """:meth:`Event.to_json` with the time already in ISO form (shared by a command's events)."""
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
        return orjson.dumps(record).decode()
    except TypeError:
        record["data"] = dict(event.data)
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


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


class MemoryJournal:
    """An append-only, in-memory list of events (the default journal)."""

    durable = False

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._keys: dict[str, CommandRecord] = {}

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(list(self._events))

    def __getitem__(self, index: int) -> Event:
        return self._events[index]

    @property
    def next_seq(self) -> int:
        """The sequence number the next event gets."""
        return len(self._events) + 1

    def append(self, events: Sequence[Event], record: CommandRecord | None = None) -> None:
        """Append one command's events (and its idempotency record), all together.

        Raises:
            JournalError: the events do not continue the sequence without gaps.
        """
        _check_sequence(events, self.next_seq)
        self._events.extend(events)
        if record is not None:
            self._keys[record.key] = record

    def lookup(self, key: str) -> CommandRecord | None:
        """The command that carried idempotency ``key``, if any."""
        return self._keys.get(key)

    def between(self, first: int, last: int) -> list[Event]:
        """Events with ``first <= seq <= last``."""
        return self._events[max(0, first - 1) : max(0, last)]

    def since(self, seq: int) -> list[Event]:
        """Events with a sequence number above ``seq``."""
        return self._events[max(0, seq) :]

    def select(
        self, type: str | None = None, unit: str | None = None, command: str | None = None
    ) -> list[Event]:
        """Events matching every given filter (``type`` may end in ``.*``)."""
        return _select(self._events, type, unit, command)

    def save_snapshot(self, seq: int, state: bytes) -> None:
        """Memory journals keep no snapshots (replaying them is already fast)."""

    def latest_snapshot(self) -> tuple[int, bytes] | None:
        """Always None: a memory journal has no snapshots."""
        return None

    def close(self) -> None:
        """Nothing to close."""


class _Rows(list[Any]):
    """Fetched rows (read whole, so a corrupted page fails inside the try)."""

    def fetchone(self) -> Any:
        return self[0] if self else None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    command TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS commands (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    command TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshots (seq INTEGER PRIMARY KEY, state BLOB NOT NULL);
"""


class SqliteJournal:
    """An append-only event store in SQLite, one transaction per command.

    Args:
        path: the database file (created when missing).
        synchronous: SQLite's ``synchronous`` setting: ``NORMAL`` (the default
            in WAL mode: a power cut may lose the last commits, a process crash
            loses nothing) or ``FULL`` (every commit reaches the disk).

    Raises:
        JournalError: the file is not a gridgov journal, or is corrupted.
    """

    durable = True

    def __init__(self, path: str | os.PathLike[str], synchronous: str = "NORMAL") -> None:
        if synchronous.upper() not in ("NORMAL", "FULL", "OFF", "EXTRA"):
            raise JournalError(
                f"unknown synchronous setting {synchronous!r} (expected NORMAL, FULL, EXTRA or OFF)"
            )
        self.path = os.fspath(path)
        try:
            # Autocommit mode: transactions are opened explicitly, one per command.
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif row[0] != str(SCHEMA_VERSION):
                raise JournalError(
                    f"{self.path} is a journal of schema version {row[0]}; this gridgov "
                    f"writes version {SCHEMA_VERSION}"
                )
            last = self._db.execute("SELECT MAX(seq), COUNT(*) FROM events").fetchone()
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path} is not a readable gridgov journal: {exc}") from None
        self._next = (last[0] or 0) + 1
        if last[1] != self._next - 1:
            raise JournalError(
                f"{self.path}: the event sequence has gaps ({last[1]} events, last seq "
                f"{self._next - 1})"
            )

    # ------------------------------------------------------------ metadata

    def meta(self, key: str) -> str | None:
        """A metadata value written with :meth:`set_meta` (None when unset)."""
        row = self._query("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Write a metadata value (e.g. which city and rules the journal belongs to)."""
        self._write(
            lambda db: db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
        )

    # -------------------------------------------------------------- events

    def __len__(self) -> int:
        return self._next - 1

    def __iter__(self) -> Iterator[Event]:
        return iter(self.since(0))

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
        _check_sequence(events, self._next)
        # A command's events mostly share one time: put it in ISO form once.
        times: dict[datetime, str] = {}
        rows = []
        for e in events:
            iso = times.get(e.time)
            if iso is None:
                iso = times[e.time] = e.time.isoformat()
            rows.append((e.seq, e.command, _encode(e, iso)))

        def write(db: sqlite3.Connection) -> None:
            db.executemany("INSERT INTO events VALUES (?, ?, ?)", rows)
            if record is not None:
                db.execute(
                    "INSERT INTO commands VALUES (?, ?, ?, ?, ?)",
                    (record.key, record.fingerprint, record.command, record.first, record.last),
                )

        self._write(write)
        self._next += len(events)

    def lookup(self, key: str) -> CommandRecord | None:
        """The command that carried idempotency ``key``, if any."""
        row = self._query(
            "SELECT key, fingerprint, command, first_seq, last_seq FROM commands WHERE key = ?",
            (key,),
        ).fetchone()
        return None if row is None else CommandRecord(*row)

    def between(self, first: int, last: int) -> list[Event]:
        """Events with ``first <= seq <= last``."""
        rows = self._query(
            "SELECT record FROM events WHERE seq BETWEEN ? AND ? ORDER BY seq", (first, last)
        )
        times: dict[str, datetime] = {}
        return [_decode(r[0], times) for r in rows]

    def since(self, seq: int) -> list[Event]:
        """Events with a sequence number above ``seq``."""
        return self.between(seq + 1, self._next)

    def select(
        self, type: str | None = None, unit: str | None = None, command: str | None = None
    ) -> list[Event]:
        """Events matching every given filter (``type`` may end in ``.*``)."""
        if command is not None:
            rows = self._query(
                "SELECT record FROM events WHERE command = ? ORDER BY seq", (command,)
            )
            return _select((Event.from_json(r[0]) for r in rows), type, unit, None)
        return _select(iter(self), type, unit, None)

    # ----------------------------------------------------------- snapshots

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
        """Close the database (later calls raise JournalError)."""
        self._db.close()

    # ------------------------------------------------------------- private

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> _Rows:
        try:
            return _Rows(self._db.execute(sql, args).fetchall())
        except (sqlite3.DatabaseError, sqlite3.ProgrammingError) as exc:
            raise JournalError(f"cannot read journal {self.path}: {exc}") from None

    def _write(self, action: Any) -> None:
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                action(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except (sqlite3.DatabaseError, sqlite3.ProgrammingError) as exc:
            raise JournalError(f"cannot write journal {self.path}: {exc}") from None

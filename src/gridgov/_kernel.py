"""The command pipeline under the engine: authorise, commit, journal, deliver, snapshot.

Every command of :class:`gridgov.engine.Engine` runs through :class:`Kernel`:

1. :meth:`Kernel.run` takes the engine's lock, answers a repeated idempotency
   key with the first result, checks the arguments against the types the
   command declares (:mod:`gridgov._arguments`), and records a refusal (one
   ``command.refused`` event, no other change) when the command raises any
   :class:`~gridgov.errors.GridgovError` but a
   :class:`~gridgov.errors.JournalError`;
2. the command authorises its actor (:func:`authorise`) and asks the pure
   planners of its domain for event records (:class:`gridgov.records.Record`);
3. :meth:`Kernel.commit` numbers the records into events, applies each with
   the one reducer (:meth:`gridgov._state.EngineState.apply`) and appends them
   to the journal in one go; if anything fails, the state is rebuilt from the
   journal, which never saw the command;
4. :meth:`Kernel.run` hands the events to the subscribers and, on a durable
   journal, takes a snapshot once enough events have accumulated: only
   between commands, so a snapshot always covers whole commands.

Opening a journal (:meth:`Kernel.load`) restores the latest snapshot, if it
can be trusted, and replays the events after it through the same reducer. A
snapshot that cannot be trusted (unknown version, digest mismatch, a seq
beyond the events, malformed data, or an old pickled one) is ignored in favour
of a full replay; :attr:`Kernel.load_report` says what happened.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import heapq
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime
from types import MappingProxyType
from typing import Any

import attrs

from gridgov._arguments import Text
from gridgov._gc import gc_paused
from gridgov._state import EngineState
from gridgov.alerts import AlertRule, AreaMatcher
from gridgov.city import City
from gridgov.clock import Clock
from gridgov.errors import (
    AlertError,
    AuthorityError,
    CommandError,
    GridgovError,
    JournalError,
    NotFoundError,
)
from gridgov.journal import (
    CommandRecord,
    Event,
    Events,
    MemoryJournal,
    SqliteJournal,
    decode_snapshot,
    encode_snapshot,
)
from gridgov.measures import Deadline, MeasuresPlan
from gridgov.model import Level
from gridgov.records import CompactData, Planned, Record, RecordColumns
from gridgov.rules import Rules
from gridgov.staffing import STAFFING_EVENTS, Pools, Roster, StaffingRow, planned_records
from gridgov.supplies import SupplyNetwork

__all__ = ["SYSTEM", "CommandResult", "Guarded", "Kernel", "LoadReport", "authorise"]

_log = logging.getLogger("gridgov.engine")

#: The actor of the engine's own actions (deadlines) and the default actor.
SYSTEM = "system"

#: What an idempotency key must be (the commands declare ``key: Name``).
_KEY = Text(1, 200, name=True)

#: Marks the idempotency record of a refused command (its fingerprint follows).
_REFUSED = "refused:"

Journal = MemoryJournal | SqliteJournal
Subscriber = Callable[[Event], object]


@attrs.frozen
class CommandResult:
    """What one command did."""

    #: The command's id (in every event it caused).
    command: str
    #: The events it recorded, in order (a tuple-like :class:`~gridgov.journal.Events`,
    #: kept column by column: each :class:`~gridgov.journal.Event` is made when read).
    events: Events

    def changes(self, type: str | None = None) -> list[Event]:
        """The events of ``type`` (all when None)."""
        return [e for e in self.events if type is None or e.type == type]


@attrs.frozen
class LoadReport:
    """How an engine reached the state of its journal when it was opened."""

    #: The seq of the snapshot restored (0: none, everything was replayed).
    snapshot: int = 0
    #: Events replayed after the snapshot.
    replayed: int = 0
    #: Why the latest snapshot was not used (None: it was, or there was none).
    ignored: str | None = None
    #: What opening with ``recover="truncate"`` dropped (None: nothing was dropped).
    recovered: str | None = None


def fingerprint(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """A command's name and arguments, to refuse a key reused for another command."""
    shown = [_repr(a) for a in args]
    shown += [
        f"{k}={_repr(v)}" for k, v in sorted(kwargs.items()) if k not in ("key", "command_id")
    ]
    return f"{name}({', '.join(shown)})"


def _repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # a hostile __repr__: the call is refused by the argument check
        return f"<{type(value).__name__}>"


class _Again(Exception):
    """Internal: carries the error of a refusal answered again under its key."""

    def __init__(self, error: GridgovError) -> None:
        super().__init__(str(error))
        self.error = error


#: Attribute values of an error kept with its refusal (to raise it again on a retry).
_PLAIN = (str, int, float, bool, type(None))


def error_data(exc: GridgovError) -> dict[str, Any]:
    """What a ``command.refused`` event keeps of the error: its type, message and ids."""
    fields: dict[str, Any] = {}
    for name, value in vars(exc).items():
        if name.startswith("_"):
            continue
        if isinstance(value, _PLAIN):
            fields[name] = value
        elif isinstance(value, tuple) and all(isinstance(v, str) for v in value):
            fields[name] = list(value)
    return {"error": type(exc).__name__, "message": str(exc)[:1000], "fields": fields}


def error_again(event: Event) -> GridgovError:
    """The error of a recorded refusal, to raise again on a retry under its key."""
    data = event.data
    if event.type == "alert.refused":
        return AlertError(str(data.get("reason")), alert=data.get("identifier"))
    cls = _ERRORS.get(str(data.get("error", "AuthorityError")))
    if cls is None or "message" not in data:
        # A refusal recorded before the error's type was kept: an AuthorityError.
        return AuthorityError(str(data.get("actor")), event.unit, event.cause)
    error = cls.__new__(cls)
    Exception.__init__(error, str(data["message"]))
    for name, value in dict(data.get("fields") or {}).items():
        setattr(error, name, tuple(value) if isinstance(value, list) else value)
    return error


def _error_classes() -> dict[str, type[GridgovError]]:
    import gridgov.errors as errors

    found = {}
    for name in errors.__all__:
        value = getattr(errors, name)
        if isinstance(value, type) and issubclass(value, GridgovError):
            found[name] = value
    return found


_ERRORS = _error_classes()


def refusal_actor(name: str, args: tuple[Any, ...], kwargs: dict[str, Any], exc: Exception) -> str:
    """Who issued a refused command, as far as its arguments tell (for the audit event)."""
    if isinstance(exc, AuthorityError):
        return exc.actor
    actor = kwargs.get("actor")
    if actor is None and name in _SELF_ACTING:
        # claim and hand_back: the person acts for themselves unless an actor is named.
        actor = kwargs.get(
            "person", args[_SELF_ACTING[name]] if len(args) > _SELF_ACTING[name] else None
        )
    if actor is None:
        return SYSTEM
    if isinstance(actor, str) and 0 < len(actor) <= 200 and actor.isprintable():
        return actor
    return "(unreadable)"


#: The context of a command that does not pause the collector (one, reused: it keeps
#: no state).
_NOT_PAUSED: contextlib.AbstractContextManager[None] = contextlib.nullcontext()

#: Commands whose person argument is their actor by default: name -> its position.
_SELF_ACTING = {"claim": 1, "hand_back": 0}


def authorise(
    city: City, rules: Rules, actor: str | None, units: Sequence[str], level: Level, what: str
) -> str:
    """Check that ``actor`` may act on ``units`` (at ``level``); returns the actor's name.

    Raises:
        NotFoundError: ``actor`` is neither a unit nor a person.
        AuthorityError: ``actor`` may not act there.
    """
    if actor is None:
        # The embedding code itself (it holds the engine): the engine's own authority.
        return SYSTEM
    if actor == SYSTEM or not actor:
        # No magic actor string: "system" (or an empty name) passed by a caller is refused.
        raise AuthorityError(
            actor or "(empty)",
            ", ".join(units),
            f"{actor!r} is not an actor: the engine's own authority is the embedding "
            "code's, used by leaving actor unset",
        )
    chain = city.chain
    post_unit = actor
    if actor not in chain:
        person = city.people.get(actor)
        if person is None:
            raise NotFoundError(actor, "actor (unit or person)", " in this city")
        post_unit = person.normal_post.unit
        if post_unit not in chain:
            raise AuthorityError(
                actor,
                ", ".join(units),
                f"{actor}'s post is at {post_unit}, not a unit of the chain of command",
            )
    actor_level = chain.level(post_unit)
    need = rules.override_levels_above
    if actor_level.rank > level.rank - need:
        rule = (
            f"a {actor_level} may not {what} a {level}"
            f" (overrides.levels_above = {need}: the commander must be at least "
            f"{need} level(s) above the scope)"
        )
        raise AuthorityError(actor, ", ".join(units), rule)
    for unit in units:
        if not chain.commands(post_unit, unit):
            raise AuthorityError(actor, unit, f"{unit} is outside the jurisdiction of {post_unit}")
    return actor


class Guarded:
    """A read-only view of a part of the state that reads it under the engine's lock.

    Attribute reads and method calls run while holding the lock, and what they
    return is settled before the lock is released: mappings, lists and sets
    become fresh copies (iterators run to the end), other mutable gridgov
    objects guarded views in turn. So a reader on another
    thread never iterates a dict a command is changing, and nothing reached
    through the view can change the state. Private names are not reachable.
    """

    __slots__ = ("_lock", "_target")

    def __init__(self, target: object, lock: threading.RLock) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_lock", lock)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(f"{name} is not part of the read-only view")
        lock = self._lock
        with lock:
            value = getattr(self._target, name)
            if callable(value) and not isinstance(value, type):
                return _locked_call(value, lock)
            return _settled(value, lock)

    @property  # type: ignore[misc, unused-ignore]
    def __class__(self) -> type[Any]:
        """The viewed object's class, so ``isinstance(view, TicketDesk)`` holds (as for a mock's
        ``spec``); ``type(view)`` is still :class:`Guarded`."""
        return type(self._target)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{name}: the engine's state is read-only (only commands change it)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{name}: the engine's state is read-only (only commands change it)")

    def __dir__(self) -> list[str]:
        return [n for n in dir(self._target) if not n.startswith("_")]

    def __iter__(self) -> Iterator[Any]:
        with self._lock:
            return iter(tuple(_settled(v, self._lock) for v in self._target))

    def __len__(self) -> int:
        with self._lock:
            return len(self._target)

    def __contains__(self, item: object) -> bool:
        with self._lock:
            return item in self._target

    def __getitem__(self, key: object) -> Any:
        with self._lock:
            return _settled(self._target[key], self._lock)

    def __repr__(self) -> str:
        with self._lock:
            return f"<read-only view of {self._target!r}>"

    def __eq__(self, other: object) -> bool:
        with self._lock:
            other = other._target if isinstance(other, Guarded) else other
            return bool(self._target == other)

    __hash__ = None  # type: ignore[assignment]


def _locked_call(method: Callable[..., Any], lock: threading.RLock) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return _settled(method(*args, **kwargs), lock)

    return call


_IMMUTABLE = (str, bytes, int, float, bool, type(None), datetime, frozenset, enum.Enum)


def _settled(value: Any, lock: threading.RLock) -> Any:
    """``value`` made safe to read after the lock is released (see :class:`Guarded`)."""
    if isinstance(value, _IMMUTABLE) or attrs.has(type(value)) or type(value) is Event:
        return value
    if isinstance(value, tuple):
        return tuple(_settled(v, lock) for v in value)
    if isinstance(value, MappingProxyType):
        # A view that chose to be read-only stays so: a read-only copy.
        return MappingProxyType({k: _settled(v, lock) for k, v in value.items()})
    # Fresh copies: the caller may change them; the state never sees it.
    if isinstance(value, Mapping):
        return {k: _settled(v, lock) for k, v in value.items()}
    if isinstance(value, AbstractSet):
        return set(value)
    if isinstance(value, list):
        return [_settled(v, lock) for v in value]
    if isinstance(value, Iterator):
        return iter([_settled(v, lock) for v in value])
    module = type(value).__module__
    if module.startswith("gridgov") and not module.startswith(_INPUTS):
        return Guarded(value, lock)
    return value


#: Modules of what the engine is given, immutable (the city, its chain and model,
#: the rules, the supply network) or the embedder's (clock, journal): not guarded.
_INPUTS = (
    "gridgov.city",
    "gridgov.chain",
    "gridgov.model",
    "gridgov.rules",
    "gridgov.supplies",
    "gridgov.clock",
    "gridgov.journal",
)


class Kernel:
    """The engine's state, journal and command pipeline (see the module docstring)."""

    def __init__(
        self,
        city: City,
        rules: Rules,
        clock: Clock,
        journal: Journal,
        *,
        seed: int,
        snapshot_every: int,
        pause_gc: bool,
        alert_rule: AlertRule,
        area_matcher: AreaMatcher | None,
        supplies: SupplyNetwork | None = None,
    ) -> None:
        self.supplies = supplies
        self.city = city
        self.alert_rule = alert_rule
        self.area_matcher = area_matcher
        self.rules = rules
        self.clock = clock
        self.journal = journal
        self.seed = seed
        self.pause_gc = pause_gc
        self.state = EngineState(city, rules, pause_gc=pause_gc, supplies=supplies)
        # The state above while nothing was applied to it: opening a journal
        # replays into it instead of building a second fresh state (building
        # one costs as much as replaying hundreds of thousands of events).
        self._unused: EngineState | None = self.state
        #: Scheduled step-downs (an index over the state's deadlines).
        self.heap: list[Deadline] = []
        self.lock = threading.RLock()
        self.subscribers: list[tuple[Subscriber, frozenset[str] | None]] = []
        self.delivery_errors: list[tuple[int, Subscriber, BaseException]] = []
        self.pending: tuple[str, str] | None = None
        #: The refusal record the running command made for itself, if it is refused.
        self.refusal: Record | None = None
        #: Events of the running command applied to the state but not yet journaled,
        #: one :class:`Events` per commit (None outside a command): a command's
        #: commits reach the journal together.
        self.batch: list[Events] | None = None
        self.snapshot_every = snapshot_every
        self.snapshot_seq = 0
        self.load_report = LoadReport()
        self._pools: Pools | None = None
        self._roster_view: tuple[tuple[int, int], Roster] | None = None
        #: Moves on whenever the roster may have changed: a commit with a
        #: staffing event, a state replayed (the roster view's mark).
        self._roster_epoch = 0

    def roster_view(self) -> Roster:
        """The roster as a copy no later event changes (taken under the lock, kept
        until the next event that changes it: other events, supplies' for one,
        leave the roster, and so its copy, as it was)."""
        with self.lock:
            mark = (id(self.state), self._roster_epoch)
            if self._roster_view is None or self._roster_view[0] != mark:
                self._roster_view = (mark, self.state.roster._copy())
            return self._roster_view[1]

    def guarded(self, target: object) -> Any:
        """A read-only view of ``target`` that reads it under the lock (:class:`Guarded`)."""
        return Guarded(target, self.lock)

    def fresh_state(self) -> EngineState:
        """The state of a new engine (before any event)."""
        return EngineState(self.city, self.rules, pause_gc=self.pause_gc, supplies=self.supplies)

    def _first_state(self) -> EngineState:
        """A state before any event: the engine's own while nothing was applied to it."""
        state, self._unused = self._unused, None
        return state if state is not None else self.fresh_state()

    def paused(self) -> contextlib.AbstractContextManager[None]:
        """Pause the garbage collector for bulk work, when the engine was asked to."""
        return gc_paused() if self.pause_gc else _NOT_PAUSED

    @property
    def pools(self) -> Pools:
        """The candidate pools of the city (built on first use)."""
        if self._pools is None:
            with self.paused():
                self._pools = Pools(self.city, self.seed)
        return self._pools

    def command_id(self, command_id: str | None) -> str:
        """``command_id``, or the next engine-made id.

        Raises:
            CommandError: ``command_id`` has the form of the engine's own ids
                (``c`` or ``r`` and digits), which would collide with them.
        """
        if command_id is None:
            return f"c{self.state.commands + 1:06d}"
        if command_id[:1] in ("c", "r") and command_id[1:].isdigit():
            raise CommandError(
                f"command id {command_id!r} has the form of the engine's own ids (c000042, "
                "r000042); choose another form for the ids you give",
                reason="reserved command id",
            )
        return command_id

    # ------------------------------------------------------------- running

    def run(
        self,
        name: str,
        call: Callable[..., CommandResult],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        check: Callable[[tuple[Any, ...], dict[str, Any]], None] | None = None,
    ) -> CommandResult:
        """Run one command: checked, serialised, retry-safe, audited, delivered, snapshotted.

        Args:
            name: the command's name.
            call: the command (its arguments are ``args`` and ``kwargs``).
            args: positional arguments.
            kwargs: keyword arguments (``key``: the idempotency key).
            check: checks the arguments' types and values before anything
                else (raises :class:`~gridgov.errors.ArgumentError`).

        A command that raises a :class:`~gridgov.errors.GridgovError` (other
        than a :class:`~gridgov.errors.JournalError`: the store failing is not
        a refusal) was refused: the refusal is recorded as one event
        (``command.refused``; an unreadable CAP message as ``alert.refused``)
        and nothing else changes. Under a key, the refusal is the key's
        result: a retry raises the same error again and records nothing.
        """
        key = kwargs.get("key")
        if not isinstance(key, str) or _KEY.problem(key) is not None:
            key = None  # a malformed key is refused by the check, and never stored
        with self.lock, self.paused():
            self.batch = []
            self.refusal = None
            self.pending = None
            try:
                if key is not None:
                    printed = fingerprint(name, args, kwargs)
                    prior = self.journal.lookup(key)
                    if prior is not None:
                        return self._again(name, key, printed, prior)
                    self.pending = (key, printed)
                if check is not None:
                    check(args, kwargs)
                result = call(*args, **kwargs)
                # One transaction per command: every commit of the command (several
                # for advance), with its idempotency key, reaches the journal at once.
                self._flush()
            except JournalError:
                self._discard()
                raise
            except _Again as again:
                self._discard()
                raise again.error from None
            except GridgovError as exc:
                pending, record = self.pending, self.refusal
                self._discard()
                actor = refusal_actor(name, args, kwargs, exc)
                self.deliver(self.refuse(name, exc, pending, actor, record).events)
                raise
            except BaseException:
                self._discard()
                raise
            self.deliver(result.events)
            self.maybe_snapshot()
            return result

    def _again(self, name: str, key: str, printed: str, prior: CommandRecord) -> CommandResult:
        """The answer to a key seen before: its result, or its refusal raised again."""
        self.batch = None
        fingerprinted = prior.fingerprint.removeprefix(_REFUSED)
        if fingerprinted != printed:
            # A refusal of its own (recorded, without the key: it is the other command's).
            raise CommandError(
                f"idempotency key {key!r} was used for {fingerprinted}; "
                f"expected the same command again, got {printed}",
                reason="idempotency key reused",
                command=name,
            )
        events = Events.of(self.journal.between(prior.first, prior.last))
        if prior.fingerprint.startswith(_REFUSED) and events:
            # The same refusal again, recorded once: raised, not journaled.
            raise _Again(error_again(events[0]))
        return CommandResult(prior.command, events)

    @property
    def next_seq(self) -> int:
        """The seq the next event gets (after the running command's uncommitted ones)."""
        batch = self.batch
        return self.journal.next_seq + (sum(part._size for part in batch) if batch else 0)

    def _flush(self) -> None:
        """Journal the running command's events and its idempotency key in one append."""
        parts, self.batch = self.batch or [], None
        events = Events.join(parts) if parts else Events(self.journal.next_seq)
        record = None
        if self.pending is not None:
            key, printed = self.pending
            self.pending = None
            first = self.journal.next_seq
            command = events[0].command if events else f"c{self.state.commands + 1:06d}"
            record = CommandRecord(key, printed, command, first, first + len(events) - 1)
        if not events and record is None:
            return
        try:
            self.journal.append(events, record)
        except BaseException:
            self.rebuild()
            raise

    def _discard(self) -> None:
        """Drop the running command's uncommitted events (the state goes back to the journal's)."""
        events, self.batch = self.batch, None
        self.pending = None
        if events:
            self.rebuild()

    def refuse(
        self,
        name: str,
        exc: GridgovError,
        pending: tuple[str, str] | None = None,
        actor: str = SYSTEM,
        record: Record | None = None,
    ) -> CommandResult:
        """Record a refused command: refusals are audit data, one event each (under
        the command's idempotency key, when it has one, so a retried refusal is
        recorded once).

        Args:
            name: the command's name.
            exc: why it was refused.
            pending: its idempotency key and fingerprint, if it had a key.
            actor: who issued it (as far as it could be read).
            record: the refusal's own record, when the command made one (an
                unreadable CAP message's ``alert.refused``); else a
                ``command.refused`` record is made from ``exc``.
        """
        if record is None:
            if isinstance(exc, AuthorityError):
                unit, cause, actor = exc.target, exc.rule, exc.actor
            else:
                unit, cause = self.city.chain.city, str(exc)[:1000]
            data: dict[str, Any] = {"command": name, "actor": actor, **error_data(exc)}
            record = Record(self.clock.now(), "command.refused", unit, cause, None, None, data)
        # The refusal and its key in one transaction. Its command id is made from
        # its seq (``r000042``): unique without a counter, so a refusal leaves
        # the state's counters as they were.
        self.batch = []
        self.pending = None if pending is None else (pending[0], _REFUSED + pending[1])
        try:
            result = self.commit(f"r{self.journal.next_seq:06d}", actor, [record])
            self._flush()
        except BaseException:
            self._discard()
            raise
        return result

    def deliver(self, events: Iterable[Event]) -> None:
        """Hand committed events to the subscribers; their errors are kept, never raised."""
        if not self.subscribers:
            return
        for event in events:
            for callback, types in list(self.subscribers):
                if types is not None and event.type not in types:
                    continue
                try:
                    callback(event)
                except Exception as exc:
                    self.delivery_errors.append((event.seq, callback, exc))
                    _log.exception("subscriber %r failed on event %d", callback, event.seq)

    # ------------------------------------------------------------ planning

    def staffing_after(
        self, plan: MeasuresPlan | None, when: datetime, *, refill: bool = False
    ) -> Iterator[StaffingRow | RecordColumns]:
        """The staffing records that follow a measures plan (and a refill when asked).

        The plan is made now; its records are made as they are read (by
        :meth:`commit`, before any of them is applied).
        """
        changes = plan.changes if plan is not None else {}
        normal = plan.normal if plan is not None else frozenset()
        roster = self.state.roster
        # Tasks posted on the board of a community back to normal are over.
        close = (
            [p for p in roster.posts if "/task/" in p and p.split("/task/", 1)[0] in normal]
            if normal
            else []
        )
        if not changes and not refill and not close:
            return iter(())
        return planned_records(
            self.city,
            self.pools,
            roster,
            changes,
            self.rules.staffing,
            when,
            refill=refill,
            close=close,
        )

    # ----------------------------------------------------------- committing

    def commit(
        self,
        command: str,
        actor: str,
        records: Iterable[Record | tuple[Any, ...] | RecordColumns],
        *,
        heap: list[Deadline] | None = None,
        pushes: Sequence[Deadline] = (),
        immediate: bool = False,
    ) -> CommandResult:
        """Number ``records`` into events, apply them with the reducer and journal them.

        All or nothing: if applying or appending fails, the state is rebuilt
        from the journal (which then holds none of these events) and the
        error is raised.

        Args:
            command: the command's id.
            actor: who issued it.
            records: the staged events, in order.
            heap: the schedule as the planner left it (replaces the engine's).
            pushes: deadlines to add to the engine's schedule.
            immediate: journal the events now, even inside a command (a refusal
                recorded before the command raises).

        Inside a command (:meth:`run`), the events are applied at once but
        journaled when the command returns, all its commits and its
        idempotency key in one transaction.
        """
        self._unused = None
        first = self.next_seq
        # The records become the events' columns as they are read (records given
        # as an iterator are made one at a time): no object per event is kept, so
        # the collector has nothing to walk for them (see :class:`Events`).
        planned: list[tuple[int, int, Planned]] = []
        times, kinds, units, causes, olds, news, datas = _columns(records, planned)
        count = len(times)
        events = Events(
            first,
            (times, kinds, units, [command] * count, [actor] * count, causes, olds, news, datas),
            tuple(planned),
        )
        state = self.state
        batch = None if immediate else self.batch
        if not STAFFING_EVENTS.isdisjoint(kinds):
            self._roster_epoch += 1
        try:
            state.apply_all(events)
            if batch is not None:
                batch.append(events)
            else:
                self.journal.append(events)
        except BaseException:
            if batch is not None:
                self.batch = None
            self.rebuild()
            raise
        if heap is not None:
            self.heap = heap
        for item in pushes:
            heapq.heappush(self.heap, item)
        return CommandResult(command, events)

    # ------------------------------------------------------------- loading

    def load(self) -> None:
        """Bring the state to what the journal's events give (a trusted snapshot first)."""
        with self.paused():
            self._roster_epoch += 1
            try:
                self.state, self.heap, report = self._replayed()
            except JournalError:
                raise
            except (GridgovError, KeyError, TypeError, ValueError, AttributeError) as exc:
                # Events that pass the journal's checks but not the reducer's.
                raise JournalError(
                    f"the journal's events do not replay: {type(exc).__name__}: {exc}"
                ) from None
        recovered = getattr(self.journal, "recovered", None)
        self.load_report = attrs.evolve(report, recovered=recovered)
        if recovered is not None:
            _log.warning("journal recovered: %s", recovered)
        self.snapshot_seq = self.load_report.snapshot
        if self.load_report.ignored is not None:
            _log.warning("%s; replayed the whole journal instead", self.load_report.ignored)

    def rebuild(self) -> None:
        """Put the state back to what the journal gives (after a failed commit)."""
        self._roster_epoch += 1
        try:
            self.state, self.heap, _ = self._replayed()
        except Exception:  # pragma: no cover - the journal itself is unreadable
            _log.exception("could not rebuild the state from the journal")

    def _replayed(self) -> tuple[EngineState, list[Deadline], LoadReport]:
        """A new state at the journal's last event, its schedule, and how it was reached."""
        state, start, ignored = self._from_snapshot()
        # A replay makes objects by the million: the cycle search waits when
        # the engine was asked to pause it (pause_gc), as for every bulk step.
        # The events are read a chunk at a time, never all held at once.
        # A durable journal reads its rows in small chunks for a replay
        # (``replay``); any other journal hands over its events.
        chunks = getattr(self.journal, "replay_chunks", None)
        replay = getattr(self.journal, "replay", None)
        with self.paused():
            if chunks is not None:
                # A chunk of rows at a time, as columns (see SqliteJournal.replay_chunks).
                replayed = sum(map(state.apply_all, chunks(start)))
            else:
                events = replay(start) if replay is not None else self.journal.stream(start)
                replayed = state.apply_all(events)
        return state, state.deadlines(), LoadReport(start, replayed, ignored)

    def _from_snapshot(self) -> tuple[EngineState, int, str | None]:
        """A new state from the latest snapshot if it can be trusted: (state, seq, why not)."""
        state = self._first_state()
        latest = self.journal.latest_snapshot()
        if latest is None:
            return state, 0, None
        seq, blob = latest
        total = len(self.journal)
        try:
            if seq > total:
                raise JournalError(
                    f"snapshot at event {seq} is beyond the journal's last event ({total})"
                )
            data = decode_snapshot(blob, seq)
            keys = self.journal.count_keys(seq)
            if data["keys"] != keys:
                raise JournalError(
                    f"snapshot at event {seq} counted {data['keys']!r} idempotency keys; "
                    f"the journal holds {keys}"
                )
            state.load(data["state"])
        except JournalError as exc:
            return self.fresh_state(), 0, str(exc)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            return (
                self.fresh_state(),
                0,
                f"snapshot at event {seq} is malformed ({exc!r})",
            )
        return state, seq, None

    # ------------------------------------------------------------ snapshots

    def maybe_snapshot(self) -> None:
        """Snapshot a durable journal once ``snapshot_every`` events have accumulated."""
        journal = self.journal
        if journal.durable and len(journal) - self.snapshot_seq >= self.snapshot_every:
            self.save_snapshot()

    def save_snapshot(self) -> None:
        """Snapshot the whole state (between commands), with the seq it covers."""
        seq = len(self.journal)
        # The keys themselves live in the journal, written with their command's
        # events; the snapshot records how many there were, to notice lost ones.
        data = {"state": self.state.dump(), "keys": self.journal.count_keys(seq)}
        # The chain's hash at ``seq`` ties the snapshot to the history it was
        # taken of: reopening then checks only the events after it (the
        # others before they are first read).
        self.journal.save_snapshot(seq, encode_snapshot(seq, data, self.journal.hash_at(seq)))
        self.snapshot_seq = seq


def _columns(
    records: Iterable[Record | tuple[Any, ...] | RecordColumns],
    planned: list[tuple[int, int, Planned]],
) -> tuple[
    list[datetime],
    list[str],
    list[str],
    list[str],
    list[str | None],
    list[str | None],
    list[Mapping[str, Any] | CompactData],
]:
    """The fields of ``records`` (in :class:`Record`'s order), one list per field:
    records one at a time, :class:`RecordColumns` a list at a time (their planner's
    own form of their data added to ``planned``, with the indices of their first
    record and of the one after their last).

    The largest :class:`RecordColumns` (a declaration's forty thousand
    assignments, a lift's releases) is not copied: its lists become the
    columns, the records before it put in front of them (the pointers moved
    along, in C) and those after it added. Copying them touched every
    record's data and unit once more (a reference count each), and in a big
    city those are no longer in the cache (see ``benchmarks/RESULTS.md``,
    scale13). The planner hands its lists over (see :class:`RecordColumns`).
    """
    parts: list[tuple[list[Any], ...]] = []
    loose: tuple[list[Any], ...] = ()  # the current run of records given one at a time
    largest, size, count = -1, 0, 0
    record: Any
    for record in records:
        if type(record) is RecordColumns:
            # A planner's records made in columns: taken a list at a time.
            length = len(record.times)
            if record.planned is not None:
                planned.append((count, count + length, record.planned))
            if length > size:
                largest, size = len(parts), length
            parts.append(
                (
                    record.times,
                    record.kinds,
                    record.units,
                    record.causes,
                    record.olds,
                    record.news,
                    record.datas,
                )
            )
            loose = ()
            count += length
            continue
        if not loose:
            loose = ([], [], [], [], [], [], [])
            parts.append(loose)
        t, kind, unit, cause, old, new, data = record
        loose[0].append(t)
        loose[1].append(kind)
        loose[2].append(unit)
        loose[3].append(cause)
        loose[4].append(old)
        loose[5].append(new)
        loose[6].append(data)
        count += 1
    if largest < 0:  # none in columns: the records' own lists
        if not parts:
            return [], [], [], [], [], [], []
        largest = 0
    base = parts[largest]
    if len(set(map(id, base))) != len(base):  # a list given for two fields: copied
        base = tuple(list(column) for column in base)
    before, after = parts[:largest], parts[largest + 1 :]
    for field, column in enumerate(base):
        if before:
            head: list[Any] = []
            for part in before:
                head += part[field]
            column[:0] = head
        for part in after:
            column += part[field]
    return base  # type: ignore[return-value]

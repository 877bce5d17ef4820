"""The Engine: the facade that switches communities and compounds, all or nothing.

Every command takes the same path (see :mod:`gridgov._kernel`): **authorise**
the actor, **plan** the changes with the pure planner of its domain
(:mod:`gridgov.measures`, :mod:`gridgov.staffing`, :mod:`gridgov.tickets`,
:mod:`gridgov.alerts`) against read-only views of the state, turn the plan
into **events**, **apply** each with the one reducer
(:meth:`gridgov._state.EngineState.apply`), append them to the **journal** in
one go, and **deliver** them to the subscribers. A command that would make an
illegal move raises while planning, before anything changes; replaying the
journal runs the same reducer, so it gives exactly the live state.

Time-based step-downs are deadlines kept in one schedule ordered by due time
and driven by the injected clock (not ``transitions`` timeouts, which start a
thread per model and are lost on a restart). Each deadline is also written
into the event that set it, so replaying the journal restores the schedule.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from gridgov._commands import (
    AlertCommands,
    MeasureCommands,
    StaffingCommands,
    SupplyCommands,
    TicketCommands,
)
from gridgov._kernel import CommandResult, Kernel, Subscriber
from gridgov.alerts import AlertRule, AreaMatcher
from gridgov.city import City
from gridgov.clock import Clock, WallClock
from gridgov.errors import GridgovError, JournalError, NotFoundError, UnknownUnitError
from gridgov.journal import Event, MemoryJournal, SqliteJournal
from gridgov.measures import SEVERITY
from gridgov.model import Level, Post
from gridgov.modes import ZONES
from gridgov.rules import Rules
from gridgov.staffing import posts_report, response_counts
from gridgov.supplies import SupplyNetwork

__all__ = ["CommandResult", "Engine"]

Journal = MemoryJournal | SqliteJournal


class Engine(MeasureCommands, AlertCommands, StaffingCommands, TicketCommands, SupplyCommands):
    """Switches a city's communities and compounds by the rules, and records every change.

    Args:
        city: the city to govern.
        rules: the rules to run by (default: :meth:`Rules.default`).
        clock: where time comes from (default: the wall clock); tests and
            simulations pass a :class:`~gridgov.clock.ManualClock`.
        journal: where events go (default: a new in-memory journal). A
            journal that already holds events is replayed (from its latest
            trusted snapshot when it has one), so the engine starts where it
            stopped.
        seed: seed of the staffing pools' tie-breaking rank.
        snapshot_every: a durable journal gets a snapshot of the whole state
            once this many new events have accumulated (taken between
            commands).
        alert_rule: how CAP alerts map to measures, and when they need a
            person's review (default: :class:`~gridgov.alerts.AlertRule`).
        area_matcher: matches alert polygons and circles to units (the
            geometry layer's); without one, shape-only alert areas go to review.
        supplies: the depots, hubs and parameters of the supply chain, to
            dispatch supplies to sealed households (:meth:`dispatch_supplies`);
            None: supplies are off.
        pause_gc: pause Python's cyclic garbage collector while a command
            runs, the pools are built or a journal is replayed. It speeds up
            bulk work on a big city (measured in ``benchmarks/``) but switches
            the collector off for the whole process meanwhile, so it is off
            unless asked for.

    Raises:
        UnknownUnitError: an area of the rules names a unit the city lacks.
        GridgovError: the supply network is of another city.
        JournalError: the journal's events do not fit this city.
    """

    def __init__(
        self,
        city: City,
        rules: Rules | None = None,
        clock: Clock | None = None,
        journal: Journal | None = None,
        seed: int = 0,
        snapshot_every: int = 50_000,
        *,
        alert_rule: AlertRule | None = None,
        area_matcher: AreaMatcher | None = None,
        supplies: SupplyNetwork | None = None,
        pause_gc: bool = False,
    ) -> None:
        rules = rules if rules is not None else Rules.default()
        if supplies is not None and supplies.city is not city:
            raise GridgovError("the supply network is of another city than the engine's")
        chain = city.chain
        for area, members in rules.areas.items():
            missing = [m for m in members if m not in chain]
            if missing:
                raise UnknownUnitError(missing[0], f"unit (in area {area!r} of the rules) named")
        self._kernel = Kernel(
            city,
            rules,
            clock if clock is not None else WallClock(),
            journal if journal is not None else MemoryJournal(),
            seed=seed,
            snapshot_every=snapshot_every,
            pause_gc=pause_gc,
            alert_rule=alert_rule if alert_rule is not None else AlertRule(),
            area_matcher=area_matcher,
            supplies=supplies,
        )
        if len(self._kernel.journal):
            self._kernel.load()

    # ================================================================= reads

    def under(self, zone: str) -> list[str]:
        """Compounds in ``zone``, sorted.

        Raises:
            NotFoundError: ``zone`` is not a zone.
        """
        if zone not in SEVERITY:
            raise NotFoundError(
                zone,
                "zone;",
                message=f"unknown zone {zone!r} (expected one of: {', '.join(ZONES)})",
            )
        return sorted(c for c, z in self.zones().items() if z == zone)

    def in_mode(self, mode: str) -> list[str]:
        """Communities in ``mode``, sorted.

        Raises:
            NotFoundError: ``mode`` is not a mode.
        """
        states = self._kernel.state.measures.mode_board.states
        if mode not in states:
            raise NotFoundError(
                mode,
                "mode;",
                message=f"unknown mode {mode!r} (expected one of: {', '.join(states)})",
            )
        return sorted(c for c, m in self.modes().items() if m == mode)

    def zones(self) -> dict[str, str]:
        """Every compound's zone."""
        with self._kernel.lock:
            return self._kernel.state.measures.zone_board.states_of()

    def modes(self) -> dict[str, str]:
        """Every community's mode."""
        with self._kernel.lock:
            return self._kernel.state.measures.mode_board.states_of()

    def next_deadline(self) -> datetime | None:
        """When the next time-based change falls due (None when nothing is scheduled)."""
        kernel = self._kernel
        with kernel.lock:
            heap, live = kernel.heap, kernel.state.live
            while heap and not live(heap[0]):
                heapq.heappop(heap)
            return heap[0][0] if heap else None

    def snapshot(self) -> dict[str, Any]:
        """The whole state, comparable with ``==`` (for replay checks)."""
        with self._kernel.lock:
            return self._kernel.state.snapshot()

    def commander_of(self, compound: str) -> str | None:
        """The point lead of a sealed compound (None when it has none).

        Raises:
            UnknownUnitError: no such compound.
        """
        with self._kernel.lock:
            self.zone(compound)
            holders = self._kernel.state.roster.holder_of(f"{compound}/point_lead")
            return holders[0] if holders else None

    def doing(self, person: str) -> tuple[Post, datetime | None]:
        """What ``person`` is doing now, and since when.

        Returns:
            The emergency post held (role and unit served) and since when, or
            the person's normal post and when they returned to it (None: never
            left it).

        Raises:
            UnknownUnitError: no such person.
        """
        with self._kernel.lock:
            record = self.city.person(person)
            roster = self._kernel.state.roster
            held = roster.assignment.get(person)
            if held is not None:
                assignment, since = held
                return Post(assignment.role, roster.posts[assignment.post].unit), since
            return record.normal_post, roster.back_since.get(person)

    def posts_report(self, level: Level | str = Level.COMMUNITY) -> list[dict[str, Any]]:
        """Posts needed, filled and short per unit at ``level`` and role, sorted.

        Returns:
            Rows ``{"unit", "level", "role", "needed", "filled", "short"}``.
        """
        with self._kernel.lock:
            return posts_report(self.city, self._kernel.state.roster, Level(level))

    def response_counts(self) -> dict[str, int]:
        """The counts of the response as practice reports them."""
        with self._kernel.lock:
            return response_counts(self._kernel.state.roster)

    def subscribe(
        self, callback: Subscriber, *, types: Iterable[str] | None = None
    ) -> Callable[[], None]:
        """Call ``callback(event)`` for each event after its command is committed.

        Subscribers run on the committing thread, in sequence order, while the
        engine's lock is held (so they see the state the event left). An
        exception in a subscriber is logged and kept in
        :attr:`delivery_errors`; it never undoes the commit or stops the other
        subscribers.

        Args:
            callback: called with each :class:`Event`.
            types: only these event types (default: all).

        Returns:
            A function that unsubscribes.
        """
        kernel = self._kernel
        entry = (callback, frozenset(types) if types is not None else None)
        with kernel.lock:
            kernel.subscribers.append(entry)

        def unsubscribe() -> None:
            with kernel.lock:
                if entry in kernel.subscribers:
                    kernel.subscribers.remove(entry)

        return unsubscribe

    # =============================================================== journal

    @classmethod
    def replay(
        cls,
        city: City,
        events: Iterable[Event],
        rules: Rules | None = None,
        clock: Clock | None = None,
        *,
        seed: int = 0,
        supplies: SupplyNetwork | None = None,
    ) -> Engine:
        """A new engine whose state is what ``events`` give, with the same journal.

        Pass the same rules, seed and supply network as the engine that wrote
        the events, so that the replayed engine goes on deciding the same way.

        Raises:
            GridgovError: the events do not fit the city (unknown units or states).
        """
        journal = MemoryJournal()
        journal.append(list(events))
        return cls(city, rules, clock, journal=journal, seed=seed, supplies=supplies)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        city: City,
        rules: Rules | None = None,
        clock: Clock | None = None,
        seed: int = 0,
        synchronous: str = "NORMAL",
        snapshot_every: int = 50_000,
        supplies: SupplyNetwork | None = None,
        pause_gc: bool = False,
        recover: str | None = None,
        verify: str = "snapshot",
    ) -> Engine:
        """An engine on a durable SQLite journal at ``path``, at the state its events give.

        A new file is created and stamped with the city, rules and seed; an
        existing one must have been written for the same (a journal replayed
        against other rules would not be the same history). Its latest
        snapshot is used only if it can be trusted (see :attr:`load_report`):
        one of an unknown version, not matching its digest, beyond the last
        event, malformed, or from an older gridgov (pickled) is ignored and
        the whole journal is replayed instead; nothing in a journal is ever
        executed.

        Args:
            path: the journal file.
            city: the city.
            rules: the rules (default: :meth:`Rules.default`).
            clock: the clock (default: the wall clock).
            seed: the staffing seed.
            synchronous: SQLite ``synchronous``: ``NORMAL`` or ``FULL``.
            snapshot_every: events between snapshots.
            supplies: the supply network (see :class:`Engine`).
            pause_gc: see :class:`Engine`.
            recover: None (the default): a journal whose hash chain breaks (an
                edited, reordered, missing or partial row; when: see ``verify``)
                is refused with a :class:`JournalError` naming the first bad seq.
                ``"truncate"``: keep the longest valid prefix that ends on a
                command boundary and drop the rest; :attr:`load_report`
                ``.recovered`` says what was dropped.
            verify: ``"snapshot"`` (the default) or ``"full"``: see
                :class:`SqliteJournal` and ``docs/embedding.md``.

        Raises:
            JournalError: the file is not a journal, is corrupted, was written by
                a gridgov without the hash chain, or belongs to another city,
                rules or seed.
        """
        rules = rules if rules is not None else Rules.default()
        journal = SqliteJournal(path, synchronous, recover=recover, verify=verify)
        stamp = {
            "city": f"{city.name}:{_digest(repr(sorted(city.summary().items())))}",
            "rules": _digest(rules.to_toml()),
            "seed": str(seed),
        }
        try:
            for key, value in stamp.items():
                written = journal.meta(key)
                if written is None:
                    journal.set_meta(key, value)
                elif written != value:
                    raise JournalError(
                        f"{journal.path} was written with {key} {written}; this engine has "
                        f"{key} {value} (open it with the city, rules and seed it was written with)"
                    )
            return cls(
                city,
                rules,
                clock,
                journal=journal,
                seed=seed,
                snapshot_every=snapshot_every,
                supplies=supplies,
                pause_gc=pause_gc,
            )
        except BaseException:
            journal.close()
            raise

    @contextlib.contextmanager
    def group(self) -> Iterator[None]:
        """Group commit: the commands run inside the block share one transaction of
        the journal, committed (with ``synchronous="FULL"``, synced once) when it exits.

        Each command is still atomic and retry-safe (its events and its
        idempotency key in a savepoint of their own; a retried key inside the
        block answers from the block), but none of them is durable before the
        block exits: a process killed inside it loses every command of the
        block, and none partly. When the block exits, also by an exception,
        the commands done in it are committed. The block holds the engine's
        lock: other threads' commands and reads wait until it exits. On a
        memory journal the block only holds the lock. The whole contract:
        ``docs/embedding.md``.

        Raises:
            JournalError: the commit failed; then none of the block's commands
                is in the journal, and the engine's state is rebuilt from it.
        """
        kernel = self._kernel
        with kernel.lock:
            try:
                with kernel.journal.group():
                    yield
            except JournalError:
                # A failed commit took the block's commands back out of the journal.
                kernel.rebuild()
                raise

    def close(self) -> None:
        """Snapshot the state (durable journals) and close the journal.

        Raises:
            JournalError: inside :meth:`group` (leave the block first).
        """
        kernel = self._kernel
        with kernel.lock:
            if kernel.journal.grouped:
                raise JournalError("engine.close() inside engine.group(); leave the block first")
            if kernel.journal.durable and len(kernel.journal) > kernel.snapshot_seq:
                kernel.save_snapshot()
            kernel.journal.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

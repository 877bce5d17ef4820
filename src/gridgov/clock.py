"""Clocks: the engine never reads the wall clock itself, it asks its clock.

:class:`ManualClock` is for tests and simulation (time moves only when told);
:class:`WallClock` is the default for live use. Times are timezone-aware.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from gridgov.errors import ClockError

__all__ = ["Clock", "ManualClock", "WallClock"]

#: The start of a manual clock unless told otherwise.
EPOCH = datetime(2022, 9, 17, 0, 0, tzinfo=UTC)


class Clock(Protocol):
    """Anything with a ``now()`` returning an aware datetime."""

    def now(self) -> datetime:
        """The current time."""
        ...


class WallClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        """The current wall-clock time (UTC)."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told; the deterministic clock of tests.

    Args:
        start: the initial time (aware); defaults to 2022-09-17 00:00 UTC.
    """

    def __init__(self, start: datetime = EPOCH) -> None:
        if start.tzinfo is None:
            raise ClockError(f"clock start {start.isoformat()} has no time zone")
        self._now = start

    def now(self) -> datetime:
        """The clock's current time."""
        return self._now

    def set(self, when: datetime) -> None:
        """Move the clock to ``when``; it never goes back.

        Raises:
            ClockError: ``when`` is earlier than now, or naive.
        """
        if when.tzinfo is None:
            raise ClockError(f"time {when.isoformat()} has no time zone")
        if when < self._now:
            raise ClockError(
                f"clock cannot go back from {self._now.isoformat()} to {when.isoformat()}"
            )
        self._now = when

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta`` and return the new time."""
        self.set(self._now + delta)
        return self._now

"""Progress of long work, on standard error: a bar on a terminal, short lines elsewhere.

On a terminal, a rich bar with the count, the time so far and an estimate of
the time left; the estimate is the average pace since the start (not a
recent window, which a front-loaded run such as the demo's day 0 makes
swing), and it is shown only once a tenth of the work and two seconds are
done. Off a terminal (CI, a pipe, a log file), one short line every few
seconds (``day 12/60, 3.1 s``) and a last one when the work ends, if any
was printed. Both go to standard error, so standard output keeps only results.

Work without steps to count (building the city, writing the plots and the
report) is a :class:`Phase`: a spinner with the time so far on a terminal;
off a terminal a line every few seconds while it lasts (``sept17: writing
the report, 2.0 s``) and a last one when it ends, if any was printed.

``GRIDGOV_PROGRESS_SECONDS`` sets the seconds between lines off a terminal
(default 2; 0 prints a line at every step, and at the start and end of
every phase).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import IO, Any

__all__ = ["Phase", "Progress"]

#: Seconds between two progress lines off a terminal.
DEFAULT_EVERY = 2.0


def _every() -> float:
    try:
        return max(0.0, float(os.environ.get("GRIDGOV_PROGRESS_SECONDS", DEFAULT_EVERY)))
    except ValueError:
        return DEFAULT_EVERY


def _write_line(stream: IO[str], text: str) -> bool:
    """Write one line and flush; False when the stream is closed or broken
    (progress is not worth failing a command for)."""
    try:
        stream.write(text + "\n")
        stream.flush()
    except (OSError, ValueError):
        return False
    return True


class Progress:
    """Progress of ``total`` steps, shown as ``what done/total``.

    Args:
        total: the number of steps.
        what: the name of the unit shown (``day``, ``run``).
        enabled: False shows nothing (``--quiet``, or a library call).
        label: a short name shown before the count on a terminal.
        per_step: how many units one step is (a step of 6 hours is 0.25 day).
        stream: where to write (standard error by default).
    """

    def __init__(
        self,
        total: int,
        what: str,
        *,
        enabled: bool = True,
        label: str = "",
        per_step: float = 1.0,
        stream: IO[str] | None = None,
    ) -> None:
        self.total = total
        self.what = what
        self.label = label
        self.per_step = per_step
        self.enabled = enabled and total > 0
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self._start = time.monotonic()
        self._last = self._start
        self._printed = False
        self._bar: Any = None
        self._task: Any = None
        self._every = _every()

    def _shown(self, steps: float) -> str:
        value = steps * self.per_step
        return str(int(value)) if value == int(value) else f"{value:g}"

    def line(self) -> str:
        """The off-terminal line: ``day 12/60, 3.1 s``."""
        elapsed = time.monotonic() - self._start
        head = f"{self.label}: " if self.label else ""
        return (
            f"{head}{self.what} {self._shown(self.done)}/{self._shown(self.total)}, {elapsed:.1f} s"
        )

    def __enter__(self) -> Progress:
        self._start = self._last = time.monotonic()
        if self.enabled and _isatty(self.stream):
            self._bar, self._task = _rich_bar(self)
        return self

    def advance(self, steps: int = 1) -> None:
        """Mark ``steps`` more steps done."""
        self.done += steps
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)
            return
        now = time.monotonic()
        if now - self._last >= self._every:
            self._last = now
            self._write(self.line())

    def _write(self, text: str) -> None:
        if _write_line(self.stream, text):
            self._printed = True
        else:
            self.enabled = False

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self.enabled and self._printed and kind is None and self.done:
            self._write(self.line())


def _isatty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _rich_bar(progress: Progress) -> tuple[Any, Any]:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import Progress as RichProgress
    from rich.text import Text

    shown: Callable[[float], str] = progress._shown

    class Count(ProgressColumn):
        def render(self, task: Task) -> Text:
            total = task.total or 0
            return Text(f"{progress.what} {shown(task.completed)}/{shown(total)}")

    class Left(ProgressColumn):
        """Time left at the average pace so far; '-:--:--' until it means something."""

        def render(self, task: Task) -> Text:
            elapsed = task.elapsed or 0.0
            total = task.total or 0
            if not task.completed or elapsed < 2 or task.completed < 0.1 * total:
                return Text("left -:--:--", style="progress.remaining")
            left = elapsed / task.completed * (total - task.completed)
            minutes, seconds = divmod(int(left + 0.5), 60)
            hours, minutes = divmod(minutes, 60)
            return Text(f"left {hours}:{minutes:02d}:{seconds:02d}", style="progress.remaining")

    bar = RichProgress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        Count(),
        TimeElapsedColumn(),
        Left(),
        console=Console(file=progress.stream),
        transient=True,
    )
    task = bar.add_task(progress.label or progress.what, total=progress.total)
    bar.start()
    return bar, task


class Phase:
    """A stretch of work without steps to count, shown as ``label: what, 3.1 s``.

    Args:
        what: what is being done (``building the city``).
        enabled: False shows nothing (``--quiet``, or a library call).
        label: a short name shown before it (the scenario's).
        stream: where to write (standard error by default).
    """

    def __init__(
        self, what: str, *, enabled: bool = True, label: str = "", stream: IO[str] | None = None
    ) -> None:
        self.what = what
        self.label = label
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self._start = time.monotonic()
        self._every = _every()
        self._printed = False
        self._done = threading.Event()
        self._ticker: threading.Thread | None = None
        self._bar: Any = None

    def line(self, done: bool = False) -> str:
        """The off-terminal line: ``sept17: writing the report, 2.0 s``."""
        head = f"{self.label}: " if self.label else ""
        end = " done" if done else ""
        return f"{head}{self.what}{end}, {time.monotonic() - self._start:.1f} s"

    def __enter__(self) -> Phase:
        self._start = time.monotonic()
        if not self.enabled:
            return self
        if _isatty(self.stream):
            self._bar = _rich_spinner(self)
            return self
        if self._every == 0:
            self._write(self.line())
        else:
            # A line every few seconds while the work lasts, from a thread that
            # only sleeps and writes: the work itself is not touched.
            self._ticker = threading.Thread(target=self._tick, name="gridgov progress", daemon=True)
            self._ticker.start()
        return self

    def _tick(self) -> None:
        while not self._done.wait(self._every):
            self._write(self.line())

    def _write(self, text: str) -> None:
        if _write_line(self.stream, text):
            self._printed = True
        else:
            self.enabled = False
            self._done.set()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._done.set()
        if self._ticker is not None:
            self._ticker.join()
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self.enabled and self._printed and kind is None:
            self._write(self.line(done=True))


def _rich_spinner(phase: Phase) -> Any:
    from rich.console import Console
    from rich.progress import Progress as RichProgress
    from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

    head = f"{phase.label}: " if phase.label else ""
    bar = RichProgress(
        SpinnerColumn(),
        TextColumn(f"{head}{phase.what}"),
        TimeElapsedColumn(),
        console=Console(file=phase.stream),
        transient=True,
    )
    bar.add_task(phase.what, total=None)
    bar.start()
    return bar

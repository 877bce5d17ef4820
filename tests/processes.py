"""A writer in a child process, for the tests that kill it mid-write."""

from __future__ import annotations

import os
import signal
import time
import warnings
from collections.abc import Callable
from pathlib import Path


def fork_writer(writer: Callable[[Path, int], None], path: Path) -> tuple[int, int]:
    """Run ``writer(path, fd)`` in a forked child that reports on the pipe ``fd``.

    Returns the child's pid and the read end of its pipe (the parent's end of
    the write side is closed, so reading ends when the child does).
    """
    read, write = os.pipe()
    with warnings.catch_warnings():
        # Forking a process with threads: the children here only write and exit.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        try:
            writer(path, write)
        finally:
            os._exit(0)
    os.close(write)
    return pid, read


def kill_writer(writer: Callable[[Path, int], None], path: Path, delay: float) -> str:
    """Fork ``writer``, wait for its ``ready`` line, SIGKILL it ``delay`` seconds later,
    and return everything it reported (its ``ack`` lines among them)."""
    pid, read = fork_writer(writer, path)
    received = b""
    while b"ready" not in received:
        chunk = os.read(read, 4096)
        if not chunk:
            break
        received += chunk
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    with os.fdopen(read, "rb") as rest:
        return (received + rest.read()).decode()

"""Ctrl-C belongs to the gridgov command, not to the worker processes it starts.

A terminal sends SIGINT to every process of its foreground group: the worker
processes of a sweep (local processes, or a Dask LocalCluster's) get it as
well as the ``gridgov`` command. The command answers it (``gridgov:
interrupted``, exit 130, the workers stopped, how to resume); a worker must
not print a traceback of its own. A process that multiprocessing spawns
imports its parent's main module again before anything else, here the
``gridgov`` command, and the package imports this module first of all: a
worker of the command thus ignores SIGINT from its first milliseconds
(the Dask workers once more when they start, and the process pool's workers
in their initializer).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

__all__ = ["ignore_in_workers", "spawned_by_the_command"]


#: How the command's main module is named in ``sys.argv[0]`` (console script or ``-m``).
_COMMAND_NAMES = frozenset({"gridgov", "gridgov.exe", "gridgov-script.py"})


def spawned_by_the_command() -> bool:
    """True in a process that multiprocessing started from the ``gridgov`` command."""
    mp = sys.modules.get("multiprocessing")  # always there in a spawned process
    if mp is None or not sys.argv:
        return False
    try:
        if mp.current_process().name == "MainProcess":
            return False
    except Exception:  # a half-imported multiprocessing: not a worker of ours
        return False
    # A spawned process has its parent's argv: the command's script, or gridgov/cli.py for -m.
    first = sys.argv[0].replace("\\", "/")
    return os.path.basename(first) in _COMMAND_NAMES or first.endswith("gridgov/cli.py")


def ignore_in_workers() -> None:
    """Ignore SIGINT in this process if it is a worker of the ``gridgov`` command."""
    if spawned_by_the_command():
        with contextlib.suppress(ValueError):  # not the main thread
            signal.signal(signal.SIGINT, signal.SIG_IGN)


ignore_in_workers()  # on import: the package imports this module before anything else

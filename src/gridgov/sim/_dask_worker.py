"""Preloaded into the worker processes of ``gridgov sweep --dask local``.

Ctrl-C in a terminal reaches every process of the foreground group: the
workers leave it to the gridgov process, which stops the cluster, prints one
line and says how to resume (instead of a traceback from each worker).
"""

from __future__ import annotations

import contextlib
import signal
from typing import Any


def dask_setup(worker: Any) -> None:
    """Ignore SIGINT in this worker process (Dask calls this when the worker starts)."""
    with contextlib.suppress(ValueError):  # not the main thread: nothing to do from here
        signal.signal(signal.SIGINT, signal.SIG_IGN)

"""Pausing the cyclic garbage collector around bulk work.

A built city holds hundreds of thousands of objects; while a command or a
preset creates tens of thousands more, the collector keeps walking all of
them and doubles the time (measured: sealing Jiamusi's urban districts 0.49 s
with collection, 0.24 s without). The objects made here are freed by
reference counting as usual; only the cycle search waits until the bulk work
is done, then resumes as the caller had it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause cyclic garbage collection for the block; restore the caller's setting after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()

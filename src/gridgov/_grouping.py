"""Grouping a column of values by a column of keys, a run of equal keys at a time.

The chain and the city group tens of thousands of values by key (a unit's
subordinates, a grid's buildings, a community's residents). Grouped through a
pair per value, a list per key or a sort of every (key, value) pair, a big
city pays for an object per value that Python's cyclic garbage collector
walks, and for a sort whose comparisons wander over memory long out of the
caches. Keys come in runs here (a community's grids are made one after the
other), so the runs are found by comparing each key with the one before, at
C speed, and each run is taken as one slice.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable
from typing import TypeVar

__all__ = ["grouped", "grouped_sorted"]

_V = TypeVar("_V")


def grouped(keys: Iterable[str], values: Iterable[_V]) -> dict[str, tuple[_V, ...]]:
    """Each key's values, in order (a run of equal keys is added in one step).

    The runs are found by comparing each key with the one before (at C speed)
    and each run's values taken as one slice: no pair per value. The runs of a
    key that comes back after other keys are put aside (the key in one list,
    the run in another) and joined at the end, in order, after a stable sort
    by key: no list per key (a big city has tens of thousands of keys; each
    list holding a tuple would be one more object for the collector to walk
    in every full collection). Keys are in the order of their first run.

    Raises:
        ValueError: the columns differ in length.
    """
    keys = keys if isinstance(keys, tuple) else tuple(keys)
    values = values if isinstance(values, tuple) else tuple(values)
    count = len(keys)
    if count != len(values):
        raise ValueError("one value per key")
    if not count:
        return {}
    starts = [0, *itertools.compress(range(1, count), map(operator.ne, keys[1:], keys))]
    out: dict[str, tuple[_V, ...]] = {}
    later: list[str] = []
    runs: list[tuple[_V, ...]] = []
    for start, stop in zip(starts, [*starts[1:], count], strict=True):
        key = keys[start]
        if key in out:
            later.append(key)
            runs.append(values[start:stop])
        else:
            out[key] = values[start:stop]
    if later:
        order = sorted(range(len(later)), key=later.__getitem__)
        for key, where in itertools.groupby(order, later.__getitem__):
            out[key] = tuple(itertools.chain(out[key], *map(runs.__getitem__, where)))
    return out


def grouped_sorted(keys: Iterable[str], values: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Each key's values, sorted (keys in the order of their first run).

    Raises:
        ValueError: the columns differ in length.
    """
    return {k: tuple(sorted(v)) for k, v in grouped(keys, values).items()}

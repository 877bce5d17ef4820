"""Gridding: cut a community's buildings into grids, and keep them in band.

The published standard: about 200 households per urban grid, about 50 per
rural grid, an *exclusive* grid of its own for each large enterprise, hospital
or mall; sensible boundaries (grids follow the order of buildings, so a grid
never jumps across its community), seamless coverage (every building in
exactly one grid) and dynamic adjustment (grids are split or merged as
households change).

Partitioning works on ``(building id, households)`` pairs in their given order
(neighbours next to each other) and returns contiguous runs, so coverage holds
by construction. :func:`rebalance` splits a grid that has grown past its band
and merges one that has shrunk below it, with hysteresis: a grid just made by a
split or merge is inside the band with room to spare, so rebalancing twice
changes nothing (no flapping).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs

from gridgov.errors import GriddingError
from gridgov.model import GridKind

__all__ = ["Band", "band_for", "partition", "rebalance"]

Households = Sequence[tuple[str, int]]


@attrs.frozen
class Band:
    """The size band of one kind of grid, in households."""

    #: The standard size.
    target: int = attrs.field(validator=attrs.validators.gt(0))
    #: Below this a grid is merged with a neighbour...
    low: int = attrs.field(validator=attrs.validators.ge(0))
    #: ...and above this it is split.
    high: int = attrs.field()
    #: Extra share past ``low``/``high`` before acting, so grids do not flap.
    hysteresis: float = attrs.field(
        default=0.1,
        validator=attrs.validators.and_(attrs.validators.ge(0.0), attrs.validators.lt(1.0)),
    )

    @high.validator
    def _check_high(self, _: attrs.Attribute[int], value: int) -> None:
        if not self.low <= self.target <= value:
            raise GriddingError(
                f"band needs low <= target <= high, got {self.low} / {self.target} / {value}"
            )

    @property
    def split_above(self) -> float:
        """A grid with more households than this is split."""
        return self.high * (1 + self.hysteresis)

    @property
    def merge_below(self) -> float:
        """A grid with fewer households than this is merged."""
        return self.low * (1 - self.hysteresis)


#: The published standard sizes, with a band of half to one and a half times.
_BANDS = {
    GridKind.URBAN: Band(target=200, low=100, high=300),
    GridKind.RURAL: Band(target=50, low=25, high=75),
}


def band_for(kind: GridKind | str) -> Band:
    """The standard band of an urban or rural grid.

    Raises:
        GriddingError: exclusive grids have no household band.
    """
    try:
        return _BANDS[GridKind(kind)]
    except (KeyError, ValueError):
        raise GriddingError(
            f"grid kind {kind!r} has no household band (expected urban or rural; "
            "an exclusive grid covers one organisation whatever its size)"
        ) from None


def partition(buildings: Households, target: int, count: int | None = None) -> list[list[str]]:
    """Cut buildings into contiguous grids of about ``target`` households.

    Args:
        buildings: ``(building id, households)`` in neighbourhood order.
        target: households per grid (200 urban, 50 rural).
        count: number of grids wanted; by default ``round(total / target)``,
            at least one.

    Returns:
        One list of building ids per grid; together they cover every building
        exactly once, in the given order.

    Raises:
        GriddingError: no buildings, a negative household count, a target
            below 1, or more grids asked for than there are buildings.
    """
    if target < 1:
        raise GriddingError(f"target must be at least 1 household, got {target}")
    if not buildings:
        raise GriddingError("cannot grid an empty list of buildings")
    bad = [b for b, h in buildings if h < 0]
    if bad:
        raise GriddingError(f"negative household count for building {bad[0]}")
    total = sum(h for _, h in buildings)
    n = count if count is not None else max(1, round(total / target))
    if not 1 <= n <= len(buildings):
        raise GriddingError(
            f"cannot cut {len(buildings)} buildings into {n} grids (expected 1 to {len(buildings)})"
        )
    return _split(buildings, n)


def _split(buildings: Households, n: int) -> list[list[str]]:
    """Contiguous split into ``n`` non-empty runs with household sums near equal."""
    total = sum(h for _, h in buildings)
    groups: list[list[str]] = []
    current: list[str] = []
    running = 0
    remaining = len(buildings)
    for building, households in buildings:
        made = len(groups)
        # Close the current run when the cumulative count passes the next
        # quantile, but keep enough buildings for the runs still to come.
        boundary = total * (made + 1) / n
        if (
            current
            and made < n - 1
            and (running + households / 2 > boundary or remaining == n - made - 1)
        ):
            groups.append(current)
            current = []
        current.append(building)
        running += households
        remaining -= 1
    groups.append(current)
    return groups


def rebalance(grids: Sequence[Households], band: Band) -> list[list[tuple[str, int]]]:
    """Split grids that have grown past ``band`` and merge ones that shrank below it.

    Grids are given in neighbourhood order; a small grid merges into its
    smaller neighbour, and only when the result stays within ``band.high``.
    A large grid is split into ``ceil(households / target)`` parts when it has
    more than one building. Grids inside the band are left exactly as they are.

    Returns:
        The new grids, each a list of ``(building id, households)``; every
        building appears exactly once, in the original order.
    """
    current = [list(grid) for grid in grids]
    # Repeat to a fixed point: a split part that is still too big is split
    # again. Merges never make a grid that would be split (merged <= high), so
    # this ends, and rebalancing its own result changes nothing.
    for _ in range(sum(len(g) for g in current) + 1):
        after = _merge_small(_split_large(current, band), band)
        if after == current:
            break
        current = after
    return current


def _size(grid: Sequence[tuple[str, int]]) -> int:
    return sum(h for _, h in grid)


def _split_large(grids: list[list[tuple[str, int]]], band: Band) -> list[list[tuple[str, int]]]:
    work: list[list[tuple[str, int]]] = []
    for grid in grids:
        size = _size(grid)
        if size > band.split_above and len(grid) > 1:
            parts = min(len(grid), max(2, math.ceil(size / band.target)))
            lookup = dict(grid)
            work.extend([[(b, lookup[b]) for b in part] for part in _split(grid, parts)])
        else:
            work.append(grid)
    return work


def _merge_small(grids: list[list[tuple[str, int]]], band: Band) -> list[list[tuple[str, int]]]:
    work = list(grids)
    merged = True
    while merged:
        merged = False
        for i, grid in enumerate(work):
            size = _size(grid)
            if size >= band.merge_below or len(work) == 1:
                continue
            neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(work)]
            j = min(neighbours, key=lambda k: (_size(work[k]), k))
            if size + _size(work[j]) > band.high:
                continue
            lo, hi = min(i, j), max(i, j)
            work[lo : hi + 1] = [work[lo] + work[hi]]
            merged = True
            break
    return work

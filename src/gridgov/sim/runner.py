"""The runner: drives the real engine through a scenario and collects daily metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from gridgov.sim.scenario import Scenario

__all__ = ["RunResult", "run_scenario"]


@attrs.frozen
class RunResult:
    """What one run gives: daily metrics and a summary."""

    #: The scenario as resolved.
    scenario: Scenario
    #: The seed the run used.
    seed: int
    #: Names of the metric columns, ``day`` first.
    columns: tuple[str, ...]
    #: One row per simulated day, values in column order (ints, floats, strings).
    rows: tuple[tuple[Any, ...], ...]
    #: Figures of the whole run (JSON-friendly).
    summary: Mapping[str, Any]

    def column(self, name: str) -> list[Any]:
        """The values of one metric, day by day."""
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def records(self) -> list[dict[str, Any]]:
        """The rows as dicts (e.g. for ``pandas.DataFrame(result.records())``)."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def run_scenario(
    scenario: Scenario, *, seed: int | None = None, progress: bool = False
) -> RunResult:  # pragma: no cover - being written
    """Run ``scenario`` (with ``seed`` instead of its own, if given)."""
    raise NotImplementedError


def _unused(_: Sequence[Any]) -> None:  # pragma: no cover
    pass

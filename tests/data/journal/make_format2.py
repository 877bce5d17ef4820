"""Writes ``format2.sqlite``: a journal as gridgov wrote it at commit f2dffcd (format 2,
each event row a JSON object), for the test that today's gridgov still opens it.

Run with that commit's gridgov (``git archive f2dffcd src | tar -x -C /tmp/old`` and
``PYTHONPATH=/tmp/old/src python tests/data/journal/make_format2.py``); it also
writes ``format2.json``: the events as that gridgov encoded them (``Event.to_json``)
and the live state (``engine.snapshot()``) it had, to compare the replay with.
"""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta
from pathlib import Path

from gridgov import Engine, ManualClock, Rules
from gridgov.errors import GridgovError
from gridgov.presets import small

HERE = Path(__file__).parent


def plain(value: object) -> object:
    """What JSON cannot hold, as text (sets sorted)."""
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


def main() -> None:
    city = small()
    path = HERE / "format2.sqlite"
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)
    clock = ManualClock()
    engine = Engine.open(path, city=city, rules=Rules.default(), clock=clock, snapshot_every=60)
    compounds = sorted(city.compounds)
    for i, compound in enumerate(compounds[:6]):
        clock.advance(timedelta(hours=5))
        engine.report_case(compound, key=f"case-{i}")
    engine.open_ticket(compounds[0], "medicine", key="ticket")
    community = city.compounds[compounds[1]].community
    engine.post_task(community, "delivery", capacity=2, key="task")
    engine.set_availability({"volunteer": 0.25}, seed=3)
    with contextlib.suppress(GridgovError):  # a refusal, recorded under its key
        engine.report_case("no-such-compound", key="refused")
    clock.advance(timedelta(days=3))
    engine.advance(key="advance")
    engine.lift(city.street_of(compounds[0]), skip_recovery=True)
    clock.advance(timedelta(hours=1))
    engine.open_ticket(compounds[2], "medicine", key="tail")
    live = engine.snapshot()
    events = [e.to_json() for e in engine.journal]
    # Closed without a final snapshot: reopening replays a tail after the last one.
    engine._kernel.journal.close()
    (HERE / "format2.json").write_text(
        json.dumps({"events": events, "state": live}, default=plain, sort_keys=True, indent=0)
    )


if __name__ == "__main__":
    main()

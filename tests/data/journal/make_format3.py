"""Writes ``format3.sqlite``: a journal as gridgov wrote it at commit f0532b0 (format 3,
each event row a compact JSON array, the last-row flag and the hash bound as a bool
and bytes), for the test that today's gridgov opens and replays it, and writes
byte-identical rows for the same events.

Run with that commit's gridgov (``git archive f0532b0 src | tar -x -C /tmp/old`` and
``PYTHONPATH=/tmp/old/src python tests/data/journal/make_format3.py``); it also
writes ``format3.json``: the live state (``engine.snapshot()``) it had, to compare
the replay with.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from gridgov import Engine, ManualClock, Rules
from gridgov.errors import GridgovError
from gridgov.journal import Event, SqliteJournal
from gridgov.presets import small

HERE = Path(__file__).parent


def plain(value: object) -> object:
    """What JSON cannot hold, as text (sets sorted)."""
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


def main() -> None:
    city = small()
    path = HERE / "format3.sqlite"
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
    # Closed without a final snapshot: reopening replays a tail after the last one.
    engine._kernel.journal.close()
    (HERE / "format3.json").write_text(
        json.dumps({"state": live}, default=plain, sort_keys=True, indent=0)
    )
    # A second journal of events only the standard library encodes exactly (the
    # eleventh element "json"), text beyond ASCII and an offset other than UTC.
    other = HERE / "format3-data.sqlite"
    for leftover in (other, Path(f"{other}-wal"), Path(f"{other}-shm")):
        leftover.unlink(missing_ok=True)
    journal = SqliteJournal(other)
    when = datetime(2022, 9, 17, 8, tzinfo=UTC)
    journal.append(
        [
            Event(1, when, "note", "u1", "c000001", "a", data={"big": 2**70, "1": "one"}),
            Event(2, when, "note", "u2", "c000001", "a", "佳木斯", None, "新", {"x": [1.5]}),
        ]
    )
    journal.append(
        [Event(3, when.astimezone(timezone(timedelta(hours=8))), "note", "u3", "c000002", "系统")]
    )
    journal.close()


if __name__ == "__main__":
    main()

"""A history of commands played on a fresh engine (the property tests' player)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import timedelta

from gridgov import City, Engine, GridgovError, ManualClock


def play(city: City, history: Sequence[tuple[object, ...]]) -> tuple[Engine, ManualClock]:
    """Play ``history`` on a fresh engine of ``city``, six hours apart; refused steps skipped.

    Steps: ``("case", compound)``, ``("declare", unit, zone)``,
    ``("lift", unit, zone[, skip_recovery])`` (recovery skipped unless the flag
    is False), ``("away", share)`` (in-service members' and grid workers'
    availability), ``("advance", days)`` (the engine advanced that many days),
    ``("wait", days)`` (the clock alone moved on).
    """
    clock = ManualClock()
    engine = Engine(city, clock=clock)
    for item in history:
        clock.advance(timedelta(hours=6))
        verb = item[0]
        with contextlib.suppress(GridgovError):
            if verb == "case":
                engine.report_case(str(item[1]))
            elif verb == "declare":
                engine.declare(str(item[1]), str(item[2]))
            elif verb == "lift":
                skip = bool(item[3]) if len(item) > 3 else True
                engine.lift(str(item[1]), str(item[2]), skip_recovery=skip)
            elif verb == "away":
                share = float(str(item[1]))
                engine.set_availability({"in_service_member": share, "grid_worker": share})
            elif verb == "advance":
                engine.advance(clock.now() + timedelta(days=int(str(item[1]))))
            elif verb == "wait":
                clock.advance(timedelta(days=int(str(item[1]))))
            else:
                raise ValueError(f"unknown step {verb!r}")
    return engine, clock

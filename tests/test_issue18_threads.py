"""Public reads take the engine's lock: 4 reader and 4 writer threads (issue 18, item 6)."""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta

from gridgov import Engine, GridgovError, ManualClock
from gridgov.presets import small
from gridgov.testing import check_invariants

CITY = small()
COMPOUNDS = sorted(CITY.compounds)
PEOPLE = sorted(CITY.people)


def test_four_readers_four_writers() -> None:
    clock = ManualClock()
    engine = Engine(CITY, clock=clock)
    errors: list[BaseException] = []
    stop = threading.Event()

    def write(n: int) -> None:
        try:
            for i in range(60):
                compound = COMPOUNDS[(n * 7 + i) % len(COMPOUNDS)]
                with contextlib.suppress(GridgovError):
                    if i % 4 == 0:
                        engine.report_case(compound)
                    elif i % 4 == 1:
                        engine.lift(compound, skip_recovery=True)
                    elif i % 4 == 2:
                        engine.set_availability({"volunteer": 0.1 * (i % 5)}, seed=i)
                    else:
                        engine.staff()
        except BaseException as exc:
            errors.append(exc)

    def read() -> None:
        try:
            while not stop.is_set():
                engine.posts_report()
                engine.response_counts()
                engine.snapshot()
                engine.zones()
                engine.modes()
                for person in PEOPLE[:20]:
                    engine.doing(person)
                for compound in COMPOUNDS[:5]:
                    engine.commander_of(compound)
        except BaseException as exc:
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(4)]
    writers = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in readers:
        thread.join()
    assert errors == []
    clock.advance(timedelta(hours=1))
    check_invariants(engine)

"""The cost of checking every command's arguments (issue 18's typed arguments).

``command_checks``
    Commands per second on the small preset (a ticket opened, classified and
    tracked; a task posted, claimed and handed back; the availability set:
    seven commands per round, in-memory journal) with the argument checks,
    against the same commands with the checks switched off (the baseline),
    in the same run, alternating runs, medians. The figure is the ratio of
    the two rates (higher is better; 1.0 = free). ``per_check_us`` is the
    check of one ``report_case`` call on its own.

    Each side runs once untimed first (the same warm-up for both), then the
    timed pairs alternate their order (checked first, then unchecked first),
    and every timed run starts after ``gc.collect()`` (untimed): each run's
    engine is cyclic garbage once the run ends, and without it whichever run
    held the next full collection paid for freeing the previous run's engine
    (60-100 ms of a 0.5-1 s run; the collector stays on during the runs).
    ``cpu_rate`` is the same ratio on CPU time (``time.process_time``).
"""

from __future__ import annotations

import gc
import statistics
import time
import timeit
from datetime import timedelta
from typing import Any
from unittest import mock

from benchmarks import benchmark, figure
from gridgov import Engine, ManualClock, _commands
from gridgov._arguments import Signature, check_call
from gridgov.presets import small

CITY = small()
COMPOUND = sorted(CITY.compounds)[0]
COMMUNITY = CITY.chain.community_of(COMPOUND)
MEMBER = sorted(
    p.id
    for p in CITY.people.values()
    if p.kind.value == "in_service_member" and p.home == COMMUNITY
)[0]


def _rate(rounds: int) -> float:
    return _rates(rounds)[0]


def _rates(rounds: int) -> tuple[float, float]:
    """Commands per second, on wall time and on CPU time."""
    clock = ManualClock()
    engine = Engine(CITY, clock=clock)
    engine.report_case(COMPOUND)
    start, cpu = time.perf_counter(), time.process_time()
    for n in range(rounds):
        ticket = engine.open_ticket(COMPOUND, "medicine", description=f"round {n}")
        number = ticket.events[0].data["ticket"]
        engine.handle_ticket(number, "classify", note="checked")
        engine.handle_ticket(number, "track")
        task = engine.post_task(COMMUNITY, "medicine_delivery", capacity=2)
        engine.claim(task.events[0].data["post"], MEMBER)
        engine.hand_back(MEMBER)
        engine.set_availability({"volunteer": 0.1}, seed=n)
        clock.advance(timedelta(minutes=1))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return rounds * 7 / wall, rounds * 7 / max(cpu, 1e-9)


def _side(rounds: int, checked: bool) -> tuple[float, float]:
    gc.collect()  # the previous run's engine freed before the clock starts
    if checked:
        return _rates(rounds)
    with mock.patch.object(_commands, "check_call", _unchecked):
        return _rates(rounds)


def _unchecked(spec: Any, args: Any, kwargs: Any) -> None:
    return None


@benchmark("command_checks")
def command_checks(quick: bool) -> dict[str, dict[str, object]]:
    """Commands per second with the argument checks, relative to none."""
    rounds = 100 if quick else 2000
    for checked in (True, False):  # the same untimed warm-up for both sides
        _side(rounds // 4, checked)
    runs: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for pair in range(2 if quick else 6):
        for checked in (True, False) if pair % 2 == 0 else (False, True):
            runs[checked].append(_side(rounds, checked))
    checked, plain = (statistics.median(r[0] for r in runs[side]) for side in (True, False))
    checked_cpu, plain_cpu = (statistics.median(r[1] for r in runs[side]) for side in (True, False))
    spec = Signature.of(Engine.report_case.__wrapped__)  # type: ignore[attr-defined]
    number = 2_000 if quick else 20_000
    seconds = timeit.timeit(
        lambda: check_call(spec, (COMPOUND,), {"actor": COMMUNITY, "key": "k1"}), number=number
    )
    return {
        "rate": figure(
            checked / plain,
            "x",
            0.9,
            f"commands/s with argument checks, relative to none ({rounds * 7:,} commands: "
            "tickets, tasks, availability, small preset, in-memory journal)",
            baseline=1.0,
            baseline_what="the same commands with the checks switched off",
            higher_is_better=True,
            checked_commands_per_second=round(checked),
            unchecked_commands_per_second=round(plain),
            cpu_rate=round(checked_cpu / plain_cpu, 4),
            checked_runs=[round(r[0]) for r in runs[True]],
            unchecked_runs=[round(r[0]) for r in runs[False]],
            per_check_us=round(seconds / number * 1e6, 2),
        ),
    }

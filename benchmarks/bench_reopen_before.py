"""Reopening a journal: today's engine against the engine before the redesign (#11).

``journal_reopen_before_redesign``
    The redesign (one reducer, JSON snapshots with a digest, a hash-chained
    journal) must reopen a journal within 1.5x of the engine it replaced. The
    engine before it (commit :data:`BEFORE`, the parent of the redesign's
    merge on main: pickled snapshots, no hash chain, the collector paused
    around every command) is taken out of git into a temporary folder, and
    both engines run in worker processes side by side, in the same run:
    each builds the Jiamusi preset and fills its own journal with the same
    commands (sealing and lifting the urban area until about 1,000,000
    events, 100,000 with ``--quick``, then cases in random compounds until
    the tail after the last snapshot is half an interval: the expected tail
    of a journal reopened at a random moment), closed without a final
    snapshot. Then ``Engine.open`` is timed in the two workers in turn,
    alternating, so that both see the same machine. The baseline is the
    engine before the redesign; the ratio must stay at most 1.5. The figure
    ``reopen_paused_gc`` times today's engine with ``pause_gc=True`` (the
    engine before paused the collector always; today's only when asked).
    After each reopening the worker also times its two parts apart: opening
    the journal file alone (``journal_file_s``; today with the check of its
    hash chain, issue #18: the tail after a snapshot that vouches for the
    events it covers, which are checked before they are first read) and
    ``Engine(..., journal=j)`` on it (``engine_on_open_journal``: the
    engine's own part, snapshot and replay of the tail, against the same for
    the engine before); and today's journal file opened with
    ``verify="full"`` (``journal_file_full_s``: the whole chain checked on
    open, what ``gridgov check`` does).

    Each engine builds its own version's Jiamusi preset: both reproduce the
    published grids and households (8,886 grids, about 1.03 million
    households); today's has the real divisions (138 streets and townships,
    2,498 compounds against 89 and 2,428), so its journal is of the same size
    within a few per cent (the event counts are in the figure).

    Needs git and the repository's history (run from a clone); without them
    the figures are reported as not measured.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from benchmarks import benchmark, figure

#: The engine before the redesign: main's first parent of the merge that
#: brought the one reducer and JSON snapshots (752227a).
BEFORE = "95403ff"
#: Today's engine may take at most this many times as long to reopen.
MAX_RATIO = 1.5
ROOT = Path(__file__).resolve().parent.parent

#: The worker: fills a journal, then answers "reopen" / "reopen paused" with
#: the seconds Engine.open took, one JSON line each.
WORKER = r"""
import json, random, sys, time, inspect
from datetime import timedelta
from gridgov import Engine, ManualClock, Rules
from gridgov.journal import SqliteJournal
from gridgov.presets import URBAN_AREA, jiamusi

path, wanted = sys.argv[1], int(sys.argv[2])
city = jiamusi()
rules = Rules(areas={"urban": URBAN_AREA})
clock = ManualClock()
engine = Engine.open(path, city=city, rules=rules, clock=clock)
journal = engine._kernel.journal if hasattr(engine, "_kernel") else engine.journal
while len(journal) < wanted:
    clock.advance(timedelta(days=1))
    engine.declare("urban")
    clock.advance(timedelta(days=1))
    engine.lift(city.chain.city, skip_recovery=True)
latest = journal.latest_snapshot()
snapshot = latest[0] if latest is not None else 0
compounds = random.Random(0).sample(sorted(city.compounds), k=len(city.compounds))
i = 0
while len(journal) - snapshot < 25_000:
    clock.advance(timedelta(hours=1))
    engine.report_case(compounds[i % len(compounds)])
    i += 1
total = len(journal)
journal.close()  # no final snapshot: the tail is replayed on reopening
can_pause = "pause_gc" in inspect.signature(Engine.open).parameters
print("READY " + json.dumps({"events": total, "tail": total - snapshot}), flush=True)
for line in sys.stdin:
    options = {"pause_gc": True} if line.strip() == "reopen paused" and can_pause else {}
    start = time.perf_counter()
    engine = Engine.open(path, city=city, rules=rules, clock=ManualClock(), **options)
    took = time.perf_counter() - start
    journal = engine._kernel.journal if hasattr(engine, "_kernel") else engine.journal
    journal.close()
    # The same in two parts: the journal file alone (today: with the check of its
    # hash chain), then the engine on it (snapshot, replay of the tail).
    start = time.perf_counter()
    journal = SqliteJournal(path)
    alone = time.perf_counter() - start
    start = time.perf_counter()
    Engine(city, rules, ManualClock(), journal=journal, **options)
    own = time.perf_counter() - start
    journal.close()
    full = None
    if "verify" in inspect.signature(SqliteJournal).parameters:
        start = time.perf_counter()
        SqliteJournal(path, verify="full").close()
        full = time.perf_counter() - start
    answer = {"s": took, "journal_s": alone, "engine_s": own, "full_s": full}
    print("TOOK " + json.dumps(answer), flush=True)
"""


def _answer(stream: IO[str], prefix: str) -> dict[str, Any]:
    """The next protocol line of a worker (other output, e.g. warnings, is skipped)."""
    for line in stream:
        if line.startswith(prefix + " "):
            return dict(json.loads(line[len(prefix) + 1 :]))
    raise RuntimeError(f"the worker ended before its {prefix} line")


def _worker(src: Path, journal: Path, wanted: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(journal), str(wanted)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=journal.parent,
    )


def _reopen(
    worker: subprocess.Popen[str], command: str
) -> tuple[float, float, float, float | None]:
    """Seconds Engine.open took; then, apart, opening the journal file and the engine on it,
    and opening the journal file with its whole chain checked (None: not in that version)."""
    assert worker.stdin is not None
    assert worker.stdout is not None
    worker.stdin.write(command + "\n")
    worker.stdin.flush()
    answer = _answer(worker.stdout, "TOOK")
    full = answer.get("full_s")
    return (
        float(answer["s"]),
        float(answer["journal_s"]),
        float(answer["engine_s"]),
        None if full is None else float(full),
    )


def _export(commit: str, folder: Path) -> bool:
    """Write ``commit``'s src/ into ``folder``; False without git or that commit."""
    try:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", commit, "src"],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


@benchmark("journal_reopen_before_redesign")
def journal_reopen_before_redesign(quick: bool) -> dict[str, dict[str, object]]:
    """Engine.open today against the engine before the redesign, on the same workload."""
    wanted = 100_000 if quick else 1_000_000
    repeat = 3 if quick else 5
    what = (
        f"Engine.open on a journal of ~{wanted:,} events with a 25,000-event tail, "
        f"Jiamusi preset, median of {repeat} alternating runs"
    )
    with tempfile.TemporaryDirectory(prefix="gridgov-bench-reopen-") as tmp:
        folder = Path(tmp)
        (folder / "before").mkdir()
        if not _export(BEFORE, folder / "before"):
            missing = f"not measured: commit {BEFORE} is not reachable with git"
            return {
                "reopen": figure(None, "s", 0.0, missing, baseline=None),
            }
        workers = {
            "before": _worker(folder / "before" / "src", folder / "before.sqlite", wanted),
            "today": _worker(ROOT / "src", folder / "today.sqlite", wanted),
        }
        try:
            ready = {}
            for name, worker in workers.items():
                assert worker.stdout is not None
                ready[name] = _answer(worker.stdout, "READY")
            runs: dict[str, list[float]] = {"before": [], "today": [], "paused": []}
            files: dict[str, list[float]] = {"before": [], "today": [], "paused": []}
            engines: dict[str, list[float]] = {"before": [], "today": [], "paused": []}
            full_checks: list[float] = []
            for _ in range(repeat):
                for name, worker, command in (
                    ("before", workers["before"], "reopen"),
                    ("today", workers["today"], "reopen"),
                    ("paused", workers["today"], "reopen paused"),
                ):
                    took, alone, own, full = _reopen(worker, command)
                    if full is not None:
                        full_checks.append(full)
                    runs[name].append(took)
                    files[name].append(alone)
                    engines[name].append(own)
        finally:
            for worker in workers.values():
                if worker.stdin is not None:
                    worker.stdin.close()
                worker.wait(timeout=120)
    before = statistics.median(runs["before"])
    extra = {
        "events_before": ready["before"]["events"],
        "events_today": ready["today"]["events"],
        "tail_before": ready["before"]["tail"],
        "tail_today": ready["today"]["tail"],
        "runs": [round(r, 4) for r in runs["today"]],
        "before_runs": [round(r, 4) for r in runs["before"]],
        # Opening the journal file alone: today it checks the hash chain after
        # the snapshot (issue #18), which the engine before did not have; and
        # the whole chain, on request.
        "journal_file_s": round(statistics.median(files["today"]), 4),
        "journal_file_full_s": round(statistics.median(full_checks), 4) if full_checks else None,
        "before_journal_file_s": round(statistics.median(files["before"]), 4),
        "journal_file_runs": [round(r, 4) for r in files["today"]],
        "before_journal_file_runs": [round(r, 4) for r in files["before"]],
    }
    own_before = statistics.median(engines["before"])
    return {
        "reopen": figure(
            statistics.median(runs["today"]),
            "s",
            MAX_RATIO * before,
            what + " (today's engine, the collector running: the default)",
            baseline=before,
            baseline_what=f"the engine before the redesign ({BEFORE}), same workload",
            **extra,
        ),
        "engine_on_open_journal": figure(
            statistics.median(engines["today"]),
            "s",
            MAX_RATIO * own_before,
            what.replace("Engine.open", "Engine(..., journal=j)")
            + " on a journal file already open: the engine's own part (snapshot, "
            "replay of the tail), without the journal's checks",
            baseline=own_before,
            baseline_what=f"the same for the engine before the redesign ({BEFORE})",
            runs=[round(r, 4) for r in engines["today"]],
            before_runs=[round(r, 4) for r in engines["before"]],
        ),
        "reopen_paused_gc": figure(
            statistics.median(runs["paused"]),
            "s",
            MAX_RATIO * before,
            what + " (today's engine with pause_gc=True)",
            baseline=before,
            baseline_what=f"the engine before the redesign ({BEFORE}), same workload",
            paused_runs=[round(r, 4) for r in runs["paused"]],
        ),
    }

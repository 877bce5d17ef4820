"""gridgov's benchmarks: named measurements that print one JSON object.

Run them from the repository root with ``python -m benchmarks`` (see
``benchmarks/README.md``). Every ``benchmarks/bench_*.py`` module is imported
and registers its benchmarks with the :func:`benchmark` decorator, so a new
issue adds a benchmark by adding a module; nothing else changes.

A benchmark is a function ``fn(quick: bool) -> dict[str, Figure]``: it returns
its figures by name. Each figure carries its target and whether it meets it,
and a baseline measured in the same run, so the number is read as a ratio
against something on the same machine rather than as an absolute.

Each benchmark runs in a fresh interpreter of its own (a *worker*: ``python
-m benchmarks --worker FILE --only NAME``), as pyperf runs each benchmark in
fresh worker processes, so that no benchmark pays for what the ones before it
left in the process: their cached cities and journals, a heap grown to
hundreds of megabytes, the collector's counts. Inside a worker a benchmark
measures its figure and its baseline in the same process, as before.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import json
import os
import pkgutil
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "BENCHMARKS",
    "benchmark",
    "figure",
    "load",
    "machine",
    "median_per_call",
    "median_wall",
    "peak_rss_mb",
    "probed",
    "run",
    "run_in_process",
    "work",
]

#: A figure as printed: value, unit, target, meets_target, baseline, ratio, ...
Figure = dict[str, Any]
#: A benchmark: ``fn(quick)`` returns its figures by name.
Benchmark = Callable[[bool], dict[str, Figure]]

#: Every registered benchmark by name, in registration order.
BENCHMARKS: dict[str, Benchmark] = {}


def benchmark(name: str) -> Callable[[Benchmark], Benchmark]:
    """Register ``fn`` as the benchmark ``name``.

    Raises:
        ValueError: ``name`` is already registered.
    """

    def register(fn: Benchmark) -> Benchmark:
        if name in BENCHMARKS:
            raise ValueError(f"benchmark {name!r} is registered twice")
        BENCHMARKS[name] = fn
        return fn

    return register


def load() -> dict[str, Benchmark]:
    """Import every ``benchmarks/bench_*.py`` module; returns the registry."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("bench_"):
            importlib.import_module(f"{__name__}.{info.name}")
    return BENCHMARKS


# ------------------------------------------------------------------ figures


def figure(
    value: float | None,
    unit: str,
    target: float,
    what: str,
    baseline: float | None = None,
    baseline_what: str | None = None,
    higher_is_better: bool = False,
    **details: Any,
) -> Figure:
    """A figure with its target (lower is better, unless said) and its baseline.

    Args:
        value: the measured figure; None when it could not be honestly
            reported (e.g. outputs that differ): it then misses its target.
        unit: its unit (``s``, ``us``, ``MB``, ``x`` for a speedup).
        target: the figure meets its target when ``value < target``
            (``value >= target`` when ``higher_is_better``).
        what: one line saying what was measured.
        baseline: the same kind of figure, measured in the same run, for a
            reference computation; ``ratio`` is ``value / baseline``.
        baseline_what: one line saying what the baseline measured.
        higher_is_better: the figure is a speedup or a rate (its JSON says
            ``"better": "higher"``).
        details: extra fields (individual runs, sample sizes).
    """
    meets = value is not None and (value >= target if higher_is_better else value < target)
    out: Figure = {
        "what": what,
        "value": None if value is None else _round(value),
        "unit": unit,
        "target": target,
        "meets_target": meets,
    }
    if higher_is_better:
        out["better"] = "higher"
    if baseline is not None:
        out["baseline"] = {"what": baseline_what or "", "value": _round(baseline), "unit": unit}
        out["ratio"] = _round(value / baseline) if baseline and value is not None else None
    out.update(details)
    return out


def _round(value: float) -> float:
    """Four significant digits: more would be noise."""
    return float(f"{value:.4g}")


# ------------------------------------------------------------------ timers


def median_wall(fn: Callable[[], object], repeat: int) -> tuple[float, list[float]]:
    """Median wall time of ``repeat`` calls of ``fn``, in seconds, and every run."""
    runs: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), runs


def median_per_call(
    fn: Callable[[Any], object], args: Iterable[Any], batch: int
) -> tuple[float, int]:
    """Median, over batches of ``batch`` calls, of the time per call of ``fn(arg)``.

    Timing whole batches (as ``timeit`` does) keeps the timer's own cost out
    of a figure of a few microseconds; the median discards batches hit by a
    garbage collection or a scheduler hiccup. The loop's own cost is included:
    it is what a caller pays too.

    Returns:
        (seconds per call, number of batches).
    """
    items = list(args)
    per_call: list[float] = []
    for start in range(0, len(items) - batch + 1, batch):
        chunk = items[start : start + batch]
        begin = time.perf_counter()
        for item in chunk:
            fn(item)
        per_call.append((time.perf_counter() - begin) / batch)
    if not per_call:
        raise ValueError(f"fewer than one batch of {batch} calls in {len(items)} arguments")
    return statistics.median(per_call), len(per_call)


# Runs the code in a child and reports that child's peak RSS. It runs in a
# fresh interpreter of its own because RUSAGE_CHILDREN is the maximum over
# every child a process ever waited for: measured from the runner itself, a
# figure would silently include whatever ran before it.
# (On Linux a forked child also starts from its parent's peak: a child of a
# big benchmark process would report the parent's peak as its own. The probe
# is small, and its child is forked from it.)
_PROBE = """\
import resource, subprocess, sys
done = subprocess.run([sys.executable, "-c", *sys.argv[1:]], check=False)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def probed(code: str, *args: str) -> tuple[str, float]:
    """Run ``code`` (with ``args`` as ``sys.argv[1:]``) in a fresh interpreter under a probe.

    Returns:
        The child's standard output and its peak resident set size in MB
        (10**6 bytes), measured by a probe interpreter of its own.

    Raises:
        RuntimeError: the code failed in the child.
    """
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, code, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    *output, last = done.stdout.rstrip("\n").split("\n")
    returncode, maxrss = (int(x) for x in last.split())
    if returncode != 0:
        raise RuntimeError(f"benchmark child failed ({returncode}) running: {code}")
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return "\n".join(output), maxrss * scale / 1e6


def peak_rss_mb(code: str) -> float:
    """Peak resident set size of a fresh interpreter running ``code``, in MB (10**6 bytes).

    Raises:
        RuntimeError: the code failed in the child.
    """
    return probed(code)[1]


# ------------------------------------------------------------------ runner


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _chosen(names: Iterable[str] | None) -> list[str]:
    """The names to run, in the order given (registration order when None).

    Raises:
        KeyError: a name is not a registered benchmark.
    """
    registry = load()
    chosen = list(registry) if names is None else list(names)
    unknown = [n for n in chosen if n not in registry]
    if unknown:
        raise KeyError(
            f"unknown benchmark {', '.join(unknown)} (expected one of: {', '.join(registry)})"
        )
    return chosen


def _report(results: dict[str, dict[str, Figure]], quick: bool, **extra: Any) -> dict[str, Any]:
    import gridgov

    return {
        "gridgov": gridgov.__version__,
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "machine": machine(),
        "all_meet_target": all(
            fig.get("meets_target", True) for figs in results.values() for fig in figs.values()
        ),
        **extra,
        "benchmarks": results,
    }


def run(names: Iterable[str] | None = None, quick: bool = False) -> dict[str, Any]:
    """Run the named benchmarks (all when ``names`` is None), each in a fresh
    interpreter of its own, one after the other; the JSON-ready report.

    The report's ``workers`` gives, per benchmark, its worker's wall time
    (start-up and imports included), process id and peak memory.

    Raises:
        KeyError: a name is not a registered benchmark (before any worker starts).
        RuntimeError: a benchmark failed in its worker (its traceback is on
            standard error, which workers share with this process).
    """
    chosen = _chosen(names)
    results: dict[str, dict[str, Figure]] = {}
    workers: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="gridgov-bench-") as folder:
        for name in chosen:
            results[name], workers[name] = _in_worker(name, quick, os.path.join(folder, name))
    return _report(results, quick, isolation="a fresh interpreter per benchmark", workers=workers)


def run_in_process(names: Iterable[str] | None = None, quick: bool = False) -> dict[str, Any]:
    """Run the named benchmarks (all when ``names`` is None) in this process, one
    after the other (what each worker does, and how every benchmark ran before
    workers: each then ran on the heap and caches the ones before it left).

    Raises:
        KeyError: a name is not a registered benchmark.
    """
    chosen = _chosen(names)
    registry = load()
    results = {name: registry[name](quick) for name in chosen}
    return _report(results, quick, isolation="one process")


def _in_worker(name: str, quick: bool, output: str) -> tuple[dict[str, Figure], dict[str, Any]]:
    """Benchmark ``name`` in a fresh interpreter writing its figures to ``output``.

    Returns:
        Its figures, and its worker's wall time and peak memory.

    Raises:
        RuntimeError: the worker failed.
    """
    # The interpreter's own options (-X, -W, ...), as multiprocessing passes them on.
    flags = subprocess._args_from_interpreter_flags()  # type: ignore[attr-defined]
    command = [sys.executable, *flags, "-m", "benchmarks", "--worker", output, "--only", name]
    start = time.perf_counter()
    done = subprocess.run([*command, *(["--quick"] if quick else [])], cwd=ROOT, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(
            f"benchmark {name!r} failed in its worker (exit status {done.returncode}); "
            "its error is above, on standard error"
        )
    with open(output, encoding="utf-8") as file:
        got = json.load(file)
    return got["figures"], {"seconds": round(seconds, 2), **got["process"]}


def work(name: str, quick: bool, output: str) -> None:
    """What a worker does: run benchmark ``name`` in this process and write its figures
    and this process's peak memory to ``output`` as JSON."""
    figures = run_in_process([name], quick)["benchmarks"][name]
    with open(output, "w", encoding="utf-8") as file:
        process = {"pid": os.getpid(), "peak_rss_mb": _peak_rss_self_mb()}
        json.dump({"figures": figures, "process": process}, file)


def _peak_rss_self_mb() -> float | None:
    """This process's peak resident set size in MB (VmHWM; None where /proc is not).

    Not ``getrusage(RUSAGE_SELF).ru_maxrss``: on Linux that keeps the peak of
    the process image an interpreter was started from (the parent's, when it
    was started through vfork).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) * 1024 / 1e6, 1)
    except OSError:
        pass
    return None

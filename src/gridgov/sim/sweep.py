"""Sweeps: one scenario run over a grid of parameter values times replicate seeds.

A sweep answers "what if" across values: every combination of the values
given for some scenario keys, each run with several seeds. The runs go
serially, on local processes, or on a Dask distributed cluster (the ``dask``
extra); the same sweep gives the same rows on all three.

The file format (TOML)::

    version = 1
    name = "staffing"             # used for the output (default: the file's name)
    scenario = "small.toml"       # the scenario to vary, relative to the sweep file
    replicates = 3                # seeds per combination (default 1)

    [parameters]                  # dotted keys of the scenario format -> values to try
    "staffing.in_service_members" = [0.8, 1.0]
    "outbreak.within_compound" = [0.2, 0.35]

Runs are every combination of the parameters' values, the first key varying
slowest, each repeated ``replicates`` times, numbered ``r001``, ``r002``, ...
in that order. Replicate 0 runs with the scenario's own seed, replicate *i*
with :func:`replicate_seed` of it: the same seeds at every combination, so
that the values are compared on the same random draws. Paths among the values
(``rules.path``, ``outbreak.cases_csv``) are resolved like those of the
scenario file, against its folder.

Validation collects every problem at once, each ``file:line: key.path: what
is wrong``: unknown keys, wrong types, a missing scenario file, replicates
below 1, parameter keys that are not dotted keys or that overlap, empty or
repeated value lists; the scenario's own problems; and each value set over
the scenario (a problem of a value is placed at the value, e.g.
``sweep.toml:7: parameters."outbreak.within_compound"[1]: must be a rate of 0
or more per day, got -1``; one that a value causes elsewhere in the scenario
says which value). Every combination is checked before anything runs.

A sweep's output folder holds ``sweep.csv`` (one row per run: ``run_id``,
``replicate``, ``seed``, the parameters in file order, then the run's summary
figures flattened to dotted names and sorted), the sweep and its scenario as
resolved (``sweep.toml``, ``scenario.toml``), and a folder per run written by
:func:`gridgov.sim.results.write_run`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import csv
import functools
import hashlib
import importlib
import io
import itertools
import json
import logging
import math
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from gridgov._toml import (
    KeyPath,
    Reader,
    dumps,
    format_value,
    line_of,
    ordered,
    quote_key,
    read_text,
    render_key,
    resolve_path,
)
from gridgov.errors import GridgovError, MissingExtraError, Problem, RunFolderError, ScenarioError
from gridgov.sim.runner import RunResult, run_scenario
from gridgov.sim.scenario import Override, Scenario, ScenarioDocument, parse_key, resolve

__all__ = [
    "Runner",
    "Sweep",
    "SweepProgress",
    "SweepRun",
    "Writer",
    "check_sweep_folder",
    "load_sweep",
    "plan_sweep",
    "replicate_seed",
    "run_sweep",
]

#: What runs one scenario: called as ``runner(scenario, seed=seed)``.
Runner = Callable[..., RunResult]
#: What writes one run's folder: called as ``writer(result, folder)``.
Writer = Callable[[RunResult, Path], object]

#: Columns every row of ``sweep.csv`` starts with.
ID_COLUMNS = ("run_id", "replicate", "seed")

#: The most replicates of one combination.
MAX_REPLICATES = 1000
#: The most runs of one sweep (combinations times replicates).
MAX_RUNS = 10_000

_SWEEP_KEYS = ("version", "name", "scenario", "replicates", "parameters")

_DASK_MISSING = "running a sweep on Dask needs the dask extra: pip install 'gridgov[dask]'"


def _to_parameters(value: Mapping[str, Sequence[Any]]) -> dict[str, tuple[Any, ...]]:
    return {key: tuple(values) for key, values in value.items()}


@attrs.frozen
class SweepRun:
    """One run of a sweep: a combination of values and a replicate seed."""

    #: ``r001``, ``r002``, ...: the run's folder and row.
    run_id: str
    #: The value of each parameter in this run, in the sweep's order.
    parameters: Mapping[str, Any]
    #: Index of the replicate, from 0.
    replicate: int
    #: The seed the run uses.
    seed: int
    #: The scenario with the parameters' values set.
    scenario: Scenario = attrs.field(repr=False)


@attrs.frozen
class Sweep:
    """A validated sweep (see the module docstring for the file format).

    Build one with :func:`load_sweep` or :meth:`from_toml`, or in code from a
    :class:`Scenario`; :func:`plan_sweep` validates every combination either way.
    """

    #: The scenario the parameters vary.
    scenario: Scenario
    #: Dotted scenario keys and the values to try, in order.
    parameters: Mapping[str, tuple[Any, ...]] = attrs.field(factory=dict, converter=_to_parameters)
    #: Seeds per combination.
    replicates: int = 1
    #: A short name.
    name: str = "sweep"
    #: The sweep file ("<sweep>" for one built in code).
    source: str = attrs.field(default="<sweep>", eq=False)
    # The scenario file as read, so that problems of the values point at its
    # lines; None for a sweep built in code (the scenario's to_toml is used).
    _document: ScenarioDocument | None = attrs.field(default=None, eq=False, repr=False)
    # The line of each key path in the sweep file.
    _lines: Mapping[KeyPath, int] = attrs.field(factory=dict, eq=False, repr=False)

    @classmethod
    def from_toml(
        cls,
        text: str,
        source: str = "<string>",
        base: str | os.PathLike[str] | None = None,
    ) -> Sweep:
        """Read and validate a sweep from the text of a TOML file.

        Args:
            text: the TOML document (format in the module docstring).
            source: the file name used in problems.
            base: the folder the scenario path is resolved against; the
                current folder when None.

        Returns:
            The validated sweep.

        Raises:
            ScenarioError: every problem of the sweep file, of its scenario
                (and that scenario's rules and cases files), and of each value
                set over the scenario, each with its own file and line.
        """
        folder = Path.cwd() if base is None else Path(base)
        document = ScenarioDocument.parse(text, source, folder)
        data, lines = document.data, document.lines
        reader = Reader()
        reader.unknown_keys(data, (), _SWEEP_KEYS)
        name, replicates = _read_header(data, source, reader)
        parameters = _read_parameters(data, reader)
        runs = replicates * math.prod(len(values) for values in parameters.values())
        if runs > MAX_RUNS:
            reader.problem(
                ("parameters",),
                f"the sweep has {runs:,} runs (combinations times replicates); "
                f"at most {MAX_RUNS:,} are allowed",
            )
        scenario_document = _scenario_document(data, folder, reader)
        problems = [
            Problem(source, line_of(lines, path), render_key(path), message)
            for path, message in reader.found
        ]
        scenario: Scenario | None = None
        document_read: ScenarioDocument | None = None
        if isinstance(scenario_document, list):
            problems += scenario_document
        elif scenario_document is not None:
            document_read = scenario_document
            scenario, found = resolve(document_read)
            problems += found
        if scenario is None:
            raise ScenarioError(ordered(problems, [source]))
        sweep = cls(
            scenario=scenario,
            parameters=parameters,
            replicates=replicates,
            name=name,
            source=source,
            document=document_read,
            lines=lines,
        )
        # The values of the parameters read well are checked even when others
        # were not, so that every problem shows at once.
        problems += _points(sweep)[1]
        if problems:
            raise ScenarioError(ordered(problems, [source]))
        return sweep

    def to_toml(self, scenario: str = "scenario.toml") -> str:
        """Write the sweep as TOML, naming ``scenario`` as its scenario file.

        Args:
            scenario: the path to write for the scenario (e.g. where
                ``self.scenario.to_toml()`` is saved), relative to the sweep file.

        Returns:
            The TOML text, ending with a newline.
        """
        return dumps(
            {
                "version": 1,
                "name": self.name,
                "scenario": scenario,
                "replicates": self.replicates,
                "parameters": {key: list(values) for key, values in self.parameters.items()},
            }
        )


def load_sweep(path: str | os.PathLike[str]) -> Sweep:
    """Read and validate a sweep file.

    Args:
        path: the TOML file (UTF-8; format in the module docstring).

    Returns:
        The validated sweep.

    Raises:
        ScenarioError: the file cannot be read, is not TOML, or has problems
            (every one, as :meth:`Sweep.from_toml`).
    """
    source = os.fspath(path)
    text = read_text(source, ScenarioError, kind="sweep")
    return Sweep.from_toml(text, source=source, base=Path(source).parent)


def replicate_seed(seed: int, replicate: int) -> int:
    """The seed of replicate ``replicate`` of a scenario whose seed is ``seed``.

    Replicate 0 keeps the scenario's seed; the others are drawn from a hash
    of both numbers, so that they are the same on every machine and in every
    Python, and never collide in practice.

    Returns:
        A seed in [0, 2**63).
    """
    if replicate == 0:
        return seed
    digest = hashlib.blake2b(f"gridgov-sweep:{seed}:{replicate}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big") >> 1


def plan_sweep(sweep: Sweep) -> list[SweepRun]:
    """Every run of a sweep, in order, each with its scenario resolved.

    Returns:
        One run per combination of values and replicate, ``r001`` first.

    Raises:
        ScenarioError: a value, or a combination of values, breaks the
            scenario (every problem, placed as in :meth:`Sweep.from_toml`).
    """
    points, problems = _points(sweep)
    if problems:
        raise ScenarioError(problems)
    total = len(points) * sweep.replicates
    width = max(3, len(str(total)))
    runs = []
    for number, ((values, scenario), replicate) in enumerate(
        itertools.product(points, range(sweep.replicates)), start=1
    ):
        runs.append(
            SweepRun(
                run_id=f"r{number:0{width}d}",
                parameters=values,
                replicate=replicate,
                seed=replicate_seed(scenario.seed, replicate),
                scenario=scenario,
            )
        )
    return runs


@attrs.define
class SweepProgress:
    """How far a sweep got: read it after :func:`run_sweep` returns or is interrupted."""

    #: Runs in the sweep.
    total: int = 0
    #: Runs finished, including those a resume skipped.
    finished: int = 0
    #: Runs skipped because a previous attempt finished them.
    skipped: int = 0


def check_sweep_folder(sweep: Sweep, out_dir: str | os.PathLike[str], *, resume: bool) -> None:
    """Check, before a sweep runs, that its output folder can take it.

    Args:
        sweep: the sweep.
        out_dir: its output folder.
        resume: whether finished runs there are to be kept.

    Raises:
        GridgovError: the folder is a file or cannot be written; or, to
            resume, it holds a different sweep (its ``sweep.toml`` or
            ``scenario.toml`` differ from this sweep's).
    """
    from gridgov._files import check_writable

    out = Path(out_dir)
    check_writable(
        out, folder=True, fail=lambda why: GridgovError(f"cannot write sweep folder {out}: {why}")
    )
    if not resume or not (out / "sweep.toml").exists():
        return
    for name, text in _sweep_files(sweep).items():
        try:
            same = (out / name).read_text(encoding="utf-8") == text
        except (OSError, UnicodeDecodeError):
            same = False
        if not same:
            raise RunFolderError(
                f"cannot resume in {out}: its {name} is not this sweep's (the folder holds "
                "another sweep, or this one changed); run it in a new folder",
                out,
            )


def _sweep_files(sweep: Sweep) -> dict[str, str]:
    return {
        "scenario.toml": sweep.scenario.to_toml(),
        "sweep.toml": sweep.to_toml("scenario.toml"),
    }


def run_sweep(
    sweep: Sweep,
    out_dir: str | os.PathLike[str],
    *,
    workers: int | None = None,
    dask: str | None = None,
    progress: bool = False,
    runner: Runner = run_scenario,
    writer: Writer | None = None,
    resume: bool = False,
    state: SweepProgress | None = None,
) -> list[dict[str, Any]]:
    """Run every run of a sweep and write its results.

    The sweep and its scenario (``sweep.toml``, ``scenario.toml``) are written
    first, each run's folder as the run ends (its ``run.json``, written last,
    marks it finished), ``sweep.csv`` when every run is done; each file is
    written whole (a temporary name, then a rename).

    Args:
        sweep: the sweep.
        out_dir: the output folder (created): ``sweep.csv``, ``sweep.toml``,
            ``scenario.toml`` and one folder per run.
        workers: local processes to use; None for one per core (at most one
            per run), 1 to run serially in this process.
        dask: ``"local"`` for a Dask LocalCluster of two worker processes,
            or the address of a scheduler (``"tcp://host:8786"``), whose
            workers must be able to write ``out_dir`` (a shared folder).
        progress: show progress on standard error (a bar on a terminal, else
            a line every few seconds).
        runner: what runs one scenario (a test double in tests).
        writer: what writes one run's folder; None for
            :func:`gridgov.sim.results.write_run`.
        resume: skip the runs whose folder already holds the finished run
            (a valid ``run.json``, the same seed and scenario), and take their
            figures from their ``summary.json``.
        state: filled in as runs finish (to say how far an interrupted sweep got).

    Returns:
        The rows of ``sweep.csv`` as dicts, one per run in run order, keys in
        column order.

    Raises:
        GridgovError: ``workers`` and ``dask`` are both given or ``workers``
            is below 1; the results writer or Dask is not installed; the Dask
            scheduler cannot be reached; a run failed (the message names it).
        ScenarioError: the sweep has problems (see :func:`plan_sweep`).
    """
    from gridgov._files import write_atomic
    from gridgov._progress import Progress

    _check_parallelism(workers, dask)
    runs = plan_sweep(sweep)
    if writer is None:
        writer = _default_writer()
    state = state if state is not None else SweepProgress()
    state.total = len(runs)
    out = Path(out_dir)
    _start_folder(sweep, out)
    done = _already_done(runs, out) if resume else {}
    state.skipped = state.finished = len(done)
    todo = [run for run in runs if run.run_id not in done]
    job = functools.partial(_execute, out_dir=os.fspath(out), runner=runner, writer=writer)
    meter = Progress(len(runs), "run", enabled=progress, label=f"sweep {sweep.name}")
    with meter:
        meter.advance(len(done))

        def advance() -> None:
            state.finished += 1
            meter.advance()

        results = _dispatch(todo, job, advance, workers=workers, dask=dask, check=(runner, writer))
    done.update((result["run_id"], result) for result in results)
    columns, rows = _table(sweep, [done[run.run_id] for run in runs])
    try:
        write_atomic(out / "sweep.csv", _csv_text(columns, rows))
    except OSError as exc:
        message = f"cannot write {out / 'sweep.csv'}: {exc.strerror or exc}"
        raise RunFolderError(message, out) from None
    return rows


def _check_parallelism(workers: int | None, dask: str | None) -> None:
    if workers is not None and dask is not None:
        raise GridgovError("give workers or dask, not both")
    if workers is not None and workers < 1:
        raise GridgovError(f"workers must be at least 1, got {workers}")


def _start_folder(sweep: Sweep, out: Path) -> None:
    """The sweep folder, with the sweep and its scenario written first."""
    from gridgov._files import write_atomic

    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in _sweep_files(sweep).items():
            write_atomic(out / name, text)
    except OSError as exc:
        message = f"cannot write sweep folder {out}: {exc.strerror or exc}"
        raise RunFolderError(message, out) from None


def _already_done(runs: Sequence[SweepRun], out: Path) -> dict[str, dict[str, Any]]:
    """The finished runs of a resumed sweep; what the unfinished ones left is cleared."""
    from gridgov.sim.results import clear_unfinished

    done: dict[str, dict[str, Any]] = {}
    for run in runs:
        previous = _finished(out / run.run_id, run)
        if previous is not None:
            done[run.run_id] = previous
        else:
            clear_unfinished(out / run.run_id)
    return done


def _dispatch(
    todo: Sequence[SweepRun],
    job: Job,
    advance: Callable[[], None],
    *,
    workers: int | None,
    dask: str | None,
    check: tuple[Runner, Writer],
) -> list[dict[str, Any]]:
    """Run ``todo`` serially, on local processes or on Dask; their results in run order.

    ``check`` is the runner and the writer, which processes must be able to import.
    """
    if not todo:
        return []
    if dask is not None:
        return _on_dask(dask, todo, job, advance)
    if workers == 1 or len(todo) == 1:
        results = []
        for run in todo:
            results.append(_guarded(job, run))
            advance()
        return results
    _check_importable(*check)
    return _on_processes(workers or os.cpu_count() or 1, todo, job, advance)


def _finished(folder: Path, run: SweepRun) -> dict[str, Any] | None:
    """What a finished run left in ``folder`` (as :func:`_execute` sends back), or None."""
    from gridgov.sim.results import RunFolderError, read_run_info

    try:
        info = read_run_info(folder)
        expected = attrs.evolve(run.scenario, seed=run.seed).to_toml()
        if info.get("seed") != run.seed:
            return None
        if (folder / "scenario.toml").read_text(encoding="utf-8") != expected:
            return None
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (RunFolderError, OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(summary, dict):
        return None
    return {
        "run_id": run.run_id,
        "replicate": run.replicate,
        "seed": run.seed,
        "parameters": dict(run.parameters),
        "summary": summary,
    }


# ----------------------------------------------------------------- reading


def _read_header(data: Mapping[str, Any], source: str, reader: Reader) -> tuple[str, int]:
    """The sweep's name and replicates (their defaults where they are wrong); checks version."""
    version = data.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int):
        reader.wrong_type(("version",), "an integer", version)
    elif version != 1:
        reader.problem(("version",), f"unsupported version {version} (expected 1)")
    name = data.get("name", "sweep" if source.startswith("<") else Path(source).stem)
    if not isinstance(name, str):
        reader.wrong_type(("name",), "a name (a string)", name)
        name = "sweep"
    replicates = data.get("replicates", 1)
    if isinstance(replicates, bool) or not isinstance(replicates, int):
        reader.wrong_type(("replicates",), "an integer", replicates)
        replicates = 1
    elif not 1 <= replicates <= MAX_REPLICATES:
        reader.problem(("replicates",), f"must be from 1 to {MAX_REPLICATES}, got {replicates}")
        replicates = 1
    return name, replicates


def _read_parameters(data: Mapping[str, Any], reader: Reader) -> dict[str, tuple[Any, ...]]:
    parameters: dict[str, tuple[Any, ...]] = {}
    paths: dict[str, KeyPath] = {}
    for key, values in reader.table(data, ("parameters",), None).items():
        where: KeyPath = ("parameters", key)
        path = parse_key(key)
        if path is None:
            reader.problem(
                where, "not a dotted key of the scenario format (e.g. 'outbreak.within_compound')"
            )
            continue
        if not isinstance(values, list):
            reader.wrong_type(where, "an array of values to try", values)
            continue
        if not values:
            reader.problem(where, "needs at least one value")
            continue
        if len(values) > MAX_RUNS:
            reader.problem(where, f"has {len(values):,} values; at most {MAX_RUNS:,} are allowed")
            continue
        repeated = False
        seen: dict[tuple[type, object], int] = {}
        for index, value in enumerate(values):
            first = seen.setdefault(_identity(value), index)
            if first < index:
                reader.problem((*where, index), f"value listed twice (also at [{first}])")
                repeated = True
        for other, other_path in paths.items():
            if path[: len(other_path)] == other_path or other_path[: len(path)] == path:
                reader.problem(where, f"overlaps parameter {other!r}: one sets part of the other")
                repeated = True
        paths[key] = path
        if not repeated:
            parameters[key] = tuple(values)
    return parameters


def _identity(value: object) -> tuple[type, object]:
    """What makes two values the same: equal and of the same kind (``1`` and ``true``
    differ; every nan is the same nan); tables and arrays compared by their text."""
    if isinstance(value, float) and math.isnan(value):
        return (float, "nan")
    if isinstance(value, dict | list):
        return (type(value), format_value(value))
    return (type(value), value)


def _scenario_document(
    data: Mapping[str, Any], folder: Path, reader: Reader
) -> ScenarioDocument | list[Problem] | None:
    """The scenario file named by the sweep, its problems, or None (reported)."""
    if "scenario" not in data:
        reader.problem(("scenario",), 'missing: the scenario file to vary (scenario = "...")')
        return None
    written = data["scenario"]
    if not isinstance(written, str):
        reader.wrong_type(("scenario",), "a path (a string)", written)
        return None
    full = resolve_path(folder, written)
    if not os.path.isfile(full):
        reader.problem(("scenario",), f"no scenario file {written!r} (looked for {full})")
        return None
    try:
        return ScenarioDocument.parse(read_text(full, ScenarioError), full, Path(full).parent)
    except ScenarioError as exc:
        return list(exc.problems)


# ---------------------------------------------------------------- planning


def _points(sweep: Sweep) -> tuple[list[tuple[dict[str, Any], Scenario]], list[Problem]]:
    """Each combination of values with its scenario, or every problem of them.

    Each value is first checked alone (the others at the scenario's own), so
    that a bad value is reported once; only when all are sound are the
    combinations checked, for problems that come from values together.
    """
    scenario = sweep.scenario
    document = sweep._document
    if document is None:
        document = ScenarioDocument.parse(scenario.to_toml(), f"<{scenario.name}>", scenario.base)
    keys = list(sweep.parameters)
    found: dict[tuple[str, int, str, str], Problem] = {}

    def override(key: str, index: int) -> Override:
        path = parse_key(key)
        if path is None:
            raise ScenarioError(
                [Problem(sweep.source, 0, key, "not a dotted key of the scenario format")]
            )
        line = line_of(sweep._lines, ("parameters", key, index))
        where = f"parameters.{quote_key(key)}[{index}]"
        return Override(path, sweep.parameters[key][index], sweep.source, line, where)

    def collect(overrides: list[Override]) -> Scenario | None:
        resolved, problems = resolve(document, overrides)
        context = ", ".join(
            f"{'.'.join(map(str, o.path))} = {format_value(o.value)}" for o in overrides
        )
        for problem in problems:
            if problem.file == document.source and context:
                problem = attrs.evolve(problem, message=f"{problem.message} (with {context})")
            found.setdefault((problem.file, problem.line, problem.key, problem.message), problem)
        return resolved

    for key in keys:
        for index in range(len(sweep.parameters[key])):
            collect([override(key, index)])
    points: list[tuple[dict[str, Any], Scenario]] = []
    if not found:
        for indices in itertools.product(*(range(len(sweep.parameters[k])) for k in keys)):
            overrides = [override(k, i) for k, i in zip(keys, indices, strict=True)]
            resolved = collect(overrides)
            if resolved is not None:
                values = {k: sweep.parameters[k][i] for k, i in zip(keys, indices, strict=True)}
                points.append((values, resolved))
    if found:
        return [], ordered(found.values(), [sweep.source, document.source])
    return points, []


# ----------------------------------------------------------------- running


def _execute(run: SweepRun, out_dir: str, runner: Runner, writer: Writer) -> dict[str, Any]:
    """Run one run where it is sent (this process, a worker process or a Dask
    worker), write its folder there, and send back only a small summary."""
    result = runner(run.scenario, seed=run.seed)
    writer(result, Path(out_dir) / run.run_id)
    return {
        "run_id": run.run_id,
        "replicate": run.replicate,
        "seed": run.seed,
        "parameters": dict(run.parameters),
        "summary": dict(result.summary),
    }


Job = Callable[[SweepRun], dict[str, Any]]


def _failed(run: SweepRun, exc: BaseException) -> GridgovError:
    values = ", ".join(f"{k} = {format_value(v)}" for k, v in run.parameters.items())
    where = f" ({values})" if values else ""
    return GridgovError(
        f"sweep run {run.run_id}{where}, seed {run.seed}, failed: {type(exc).__name__}: {exc}"
    )


def _guarded(job: Job, run: SweepRun) -> dict[str, Any]:
    try:
        return job(run)
    except Exception as exc:
        raise _failed(run, exc) from exc


def _check_importable(*functions: Callable[..., object]) -> None:
    """Refuse functions that a spawned worker process could not import.

    A worker imports a function by its module and name; a function defined
    in an interactive session or ``python -c`` lives in a ``__main__`` the
    workers do not have, and the pool would only say it broke.
    """
    main = sys.modules.get("__main__")
    for function in functions:
        module = getattr(function, "__module__", None)
        if module == "__main__" and getattr(main, "__file__", None) is None:
            name = getattr(function, "__qualname__", repr(function))
            raise GridgovError(
                f"{name} is defined interactively, so worker processes cannot import it: "
                "define it in a module, or run with workers=1 or on Dask"
            )


def _on_processes(
    workers: int, runs: Sequence[SweepRun], job: Job, advance: Callable[[], None]
) -> list[dict[str, Any]]:
    # Spawned, not forked: the same on every platform, and safe in a parent
    # that runs threads (a progress bar, a Dask client).
    context = multiprocessing.get_context("spawn")
    results: dict[str, dict[str, Any]] = {}
    # Workers ignore Ctrl-C: the parent alone answers it (one message, no
    # traceback from each worker), stops them and says how to resume.
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=min(workers, len(runs)), mp_context=context, initializer=_ignore_interrupts
    )
    try:
        with _children_without_stderr():  # the pool starts its workers here
            futures = {pool.submit(job, run): run for run in runs}
        for future in concurrent.futures.as_completed(futures):
            run = futures[future]
            try:
                results[run.run_id] = future.result()
            except Exception as exc:
                raise _failed(run, exc) from exc
            advance()
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown(wait=True)
    return [results[run.run_id] for run in runs]


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    """Stop a pool now: queued runs cancelled, running ones ended (their folders
    have no run.json, so a resume runs them again)."""
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(timeout=5)


def _on_dask(
    address: str, runs: Sequence[SweepRun], job: Job, advance: Callable[[], None]
) -> list[dict[str, Any]]:
    try:
        distributed: Any = importlib.import_module("dask.distributed")
    except ImportError as error:
        raise MissingExtraError("dask", "dask", error, message=_DASK_MISSING) from None
    with contextlib.ExitStack() as stack:
        if address == "local":
            # The workers ignore SIGINT (a preload; the gridgov command's own
            # children from their first import): Ctrl-C is this process's
            # alone, not five tracebacks of workers. A Ctrl-C while the cluster
            # starts is held until it has started, then stops it cleanly (a
            # half-started cluster cannot be closed); Dask's logging is off,
            # and the workers' standard error too (a worker hit while Python
            # itself starts, before gridgov's code runs there, would speak).
            with _interrupts_deferred(), _children_without_stderr():
                cluster = stack.enter_context(
                    distributed.LocalCluster(
                        n_workers=2,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=":0",
                        silence_logs=logging.CRITICAL,
                        preload=["gridgov.sim._dask_worker"],
                    )
                )
            client = stack.enter_context(distributed.Client(cluster))
        else:
            try:
                client = stack.enter_context(distributed.Client(address, timeout="10s"))
            except (OSError, TimeoutError, ValueError) as exc:
                raise GridgovError(
                    f"cannot reach the Dask scheduler at {address!r}: {exc}"
                ) from None
        futures = client.map(job, runs, pure=False)
        by_key = {future.key: run for future, run in zip(futures, runs, strict=True)}
        results: dict[str, dict[str, Any]] = {}
        for future in distributed.as_completed(futures):
            run = by_key[future.key]
            try:
                results[run.run_id] = future.result()
            except Exception as exc:
                client.cancel(futures)
                raise _failed(run, exc) from exc
            advance()
    return [results[run.run_id] for run in runs]


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Ctrl-C in the block is held, and raised as KeyboardInterrupt when the block ends.

    SIGINT is also blocked in this thread meanwhile, so the threads started in
    the block inherit the mask, and so do the processes they start: a worker
    process cannot be interrupted while it starts (it ignores SIGINT once it
    runs gridgov's code). The block failing after a Ctrl-C is the interrupt
    too (a cluster stopped as it started). Main thread only; elsewhere a no-op.
    """
    pressed: list[int] = []

    def hold(signum: int, frame: object) -> None:
        pressed.append(signum)

    try:
        previous = signal.signal(signal.SIGINT, hold)
    except ValueError:  # not the main thread
        yield
        return
    can_block = hasattr(signal, "pthread_sigmask")  # POSIX
    if can_block:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    except Exception:
        if pressed:
            raise KeyboardInterrupt from None
        raise
    finally:
        if can_block:
            # A Ctrl-C still pending is taken here, not left to a thread that
            # blocks it for ever (it would kill the process at its exit).
            if signal.SIGINT in signal.sigpending():
                signal.sigwait({signal.SIGINT})
                pressed.append(signal.SIGINT)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise KeyboardInterrupt


@contextlib.contextmanager
def _children_without_stderr() -> Iterator[None]:
    """Processes started in the block get the null device as standard error.

    This process keeps its own: only the gridgov process speaks to the user,
    and a worker's failure comes back to it as the run's error.
    ``GRIDGOV_DEBUG=1`` leaves the workers' standard error alone.
    """
    if os.environ.get("GRIDGOV_DEBUG", "") not in ("", "0"):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no standard error to keep
        yield
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 2)
        finally:
            os.close(null)
        yield
    finally:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _default_writer() -> Writer:
    try:
        results = importlib.import_module("gridgov.sim.results")
    except ImportError:
        results = None
    write_run: Writer | None = getattr(results, "write_run", None)
    if write_run is None:
        raise GridgovError(
            "cannot write the runs' folders: gridgov.sim.results.write_run is missing "
            "from this installation of gridgov"
        )
    return write_run


# ------------------------------------------------------------------- table


def _table(
    sweep: Sweep, results: Sequence[Mapping[str, Any]]
) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns and rows of ``sweep.csv``: ids, parameters, then summary figures sorted.

    A figure named like a leading column (the runner's summary repeats the
    seed) is left out where it says the same in every run, else kept as
    ``summary.NAME``.
    """
    leading = [*ID_COLUMNS, *sweep.parameters]
    rows: list[dict[str, Any]] = []
    for result in results:
        row: dict[str, Any] = {key: result[key] for key in ID_COLUMNS}
        row.update({key: _cell(result["parameters"][key]) for key in sweep.parameters})
        rows.append(row)
    flat = [_flatten(result["summary"]) for result in results]
    figures = sorted({key for figures_of_run in flat for key in figures_of_run})
    named: dict[str, str] = {}
    for key in figures:
        if key not in leading:
            named[key] = key
        elif any(f.get(key) != row[key] for f, row in zip(flat, rows, strict=True)):
            named[key] = f"summary.{key}"
    for row, figures_of_run in zip(rows, flat, strict=True):
        row.update({name: figures_of_run.get(key) for key, name in named.items()})
    return [*leading, *named.values()], rows


def _flatten(summary: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = _cell(value)
    return out


def _cell(value: object) -> object:
    """A value fit for one cell: arrays and tables as JSON text."""
    if isinstance(value, list | tuple | Mapping):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return value


def _csv_text(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_text(row.get(column)) for column in columns])
    return buffer.getvalue()


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)

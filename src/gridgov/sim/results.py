"""Run folders: what a simulated run leaves on disk, and how to read it back.

A *run folder* holds one run of a scenario::

    scenario.toml     the scenario as resolved (with the seed the run used)
    run.json          seed, gridgov version, scenario name, days, columns and
                      their types, the files written and the parts skipped
    metrics.csv       one row per simulated day, ``day`` first
    metrics.parquet   the same table (when pyarrow, the ``parquet`` extra, is installed)
    summary.json      figures of the whole run
    zones.csv         day, compound, zone for every compound not ``open`` (maps)
    modes.csv         day, community, mode for every community not ``normal``
    supplies.csv      one row of supply figures per day (only when the scenario
                      has a ``[supplies]`` table: metrics.csv never changes for it)
    supplies_compounds.csv  household-days unsupplied per supplied compound (the map)
    plot_*.png        the main series (when matplotlib, the ``plot`` extra, is installed)
    report.html       written later by :func:`gridgov.sim.report.write_report`

Nothing in a run folder depends on the wall clock or the machine: the same
result written twice gives a byte-identical ``metrics.csv`` (and, in practice,
identical files throughout). Numbers are written so that they read back
exactly: integers as integers, floats with :func:`repr` (the shortest text
that gives the same float).
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import io
import json
import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import attrs

from gridgov._files import FileProblem, check_writable, read_bytes, write_atomic
from gridgov.errors import MissingExtraError, RunFolderError
from gridgov.sim.runner import RunResult

__all__ = [
    "PLOT_GROUPS",
    "SUPPLY_PLOT_GROUPS",
    "RunData",
    "RunFolderError",
    "check_run_folder",
    "clear_unfinished",
    "read_modes",
    "read_run",
    "read_run_info",
    "read_zones",
    "render_plots",
    "write_run",
]

#: Written in ``run.json`` so a run folder can be told from any other folder.
RUN_FORMAT = "gridgov-run"
#: Bumped when the layout of a run folder changes incompatibly.
RUN_FORMAT_VERSION = 1

SCENARIO_FILE = "scenario.toml"
RUN_FILE = "run.json"
METRICS_CSV = "metrics.csv"
METRICS_PARQUET = "metrics.parquet"
SUMMARY_FILE = "summary.json"
ZONES_CSV = "zones.csv"
MODES_CSV = "modes.csv"
SUPPLIES_CSV = "supplies.csv"
SUPPLY_COMPOUNDS_CSV = "supplies_compounds.csv"
REPORT_FILE = "report.html"

#: The plots of a run: file stem -> (column name prefix, title), in page order.
PLOT_GROUPS: Mapping[str, tuple[str, str]] = {
    "compounds": ("compounds_", "Compounds by zone"),
    "households": ("households_", "Households by zone"),
    "communities": ("communities_", "Communities by mode"),
    "posts": ("posts_", "Posts by role: needed, filled and short"),
    "tickets": ("tickets_", "Requests (tickets) and their escalations"),
    "cases": ("cases_", "Cases"),
}


#: The plots of a run with supplies, drawn from ``supplies.csv``.
SUPPLY_PLOT_GROUPS: Mapping[str, tuple[str, str]] = {
    "supplies_delivered": ("delivered_kg_", "Supplies delivered (kg a day)"),
    "supplies_unsupplied": (
        "household_days_unsupplied_",
        "Households left unsupplied, by category",
    ),
}


class RunData(NamedTuple):
    """A run folder read back (unpacks as ``columns, rows, summary, run_info``)."""

    #: Names of the metric columns, ``day`` first.
    columns: tuple[str, ...]
    #: One row per day, values typed as they were written (int, float, bool, str, None).
    rows: tuple[tuple[Any, ...], ...]
    #: The contents of ``summary.json``.
    summary: dict[str, Any]
    #: The contents of ``run.json``.
    run_info: dict[str, Any]

    def records(self) -> list[dict[str, Any]]:
        """The rows as dicts (e.g. for ``pandas.DataFrame(data.records())``)."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


# -- writing -------------------------------------------------------------------------


def write_run(result: RunResult, folder: Path | str, *, plots: bool = True) -> Path:
    """Write a run's scenario, metrics, summary and plots into a run folder.

    The folder is created if needed. A folder that already holds a run is
    rewritten: the files its ``run.json`` lists, and its report, are replaced;
    other files are left alone. Optional parts whose extra is missing are
    skipped and recorded with the reason under ``"skipped"`` in ``run.json``.

    Args:
        result: the run, as :func:`gridgov.sim.runner.run_scenario` returns it.
        folder: where to write it.
        plots: draw the PNG plots (when matplotlib is installed).

    Returns:
        The run folder.

    Raises:
        RunFolderError: the folder is a file, or is not empty and holds no
            gridgov run; or the result's rows do not match its columns.
            Nothing is written then.
    """
    path = Path(folder)
    columns = tuple(result.columns)
    rows = tuple(tuple(row) for row in result.rows)
    _check_table(columns, rows, path)
    previous = _previous_files(path)
    types = _column_types(columns, rows)

    # Everything is rendered before the disk is touched: a failure writes nothing.
    contents = _tables(result, path, columns, rows)
    skipped: dict[str, str] = {}
    try:
        contents[METRICS_PARQUET] = _metrics_parquet(columns, rows, types)
    except MissingExtraError as missing:
        skipped[METRICS_PARQUET] = str(missing)
    if not plots:
        skipped["plots"] = "not asked for (plots=False)"
    else:
        try:
            contents.update(_plots(result, columns, rows))
        except MissingExtraError as missing:
            skipped["plots"] = str(missing)

    try:
        path.mkdir(parents=True, exist_ok=True)
        for name in previous:
            (path / name).unlink(missing_ok=True)
        # Each file whole (a temporary name, then a rename): an interrupted
        # write leaves no half file, and no run.json, so no "complete" run.
        for name, data in contents.items():
            write_atomic(path / name, data)
    except OSError as error:
        raise RunFolderError(_cannot_write(path, error), path) from None
    files = list(contents)

    info = {
        "format": RUN_FORMAT,
        "format_version": RUN_FORMAT_VERSION,
        "gridgov_version": _version(),
        "scenario": result.scenario.name,
        "seed": result.seed,
        "days": len(rows),
        "columns": list(columns),
        "column_types": types,
        "files": sorted(files),
        "skipped": skipped,
    }
    # run.json last: a folder with a valid run.json holds a complete run (the
    # marker a resumed sweep looks for).
    try:
        write_atomic(path / RUN_FILE, _json_text(info))
    except OSError as error:
        raise RunFolderError(_cannot_write(path, error), path) from None
    return path


def _tables(
    result: RunResult, path: Path, columns: tuple[str, ...], rows: tuple[tuple[Any, ...], ...]
) -> dict[str, str | bytes]:
    """The text files of a run folder, by name."""
    contents: dict[str, str | bytes] = {
        SCENARIO_FILE: _scenario_toml(result),
        METRICS_CSV: _metrics_csv(columns, rows),
        SUMMARY_FILE: _summary_json(result.summary, path),
    }
    if result.zone_days:
        contents[ZONES_CSV] = _day_table(("day", "compound", "zone"), result.zone_days)
    if result.mode_days:
        contents[MODES_CSV] = _day_table(("day", "community", "mode"), result.mode_days)
    if result.supply_columns:
        contents[SUPPLIES_CSV] = _metrics_csv(
            tuple(result.supply_columns), tuple(tuple(r) for r in result.supply_rows)
        )
        contents[SUPPLY_COMPOUNDS_CSV] = _metrics_csv(
            ("compound", "household_days_unsupplied"), result.supply_compounds
        )
    return contents


def _plots(
    result: RunResult, columns: tuple[str, ...], rows: tuple[tuple[Any, ...], ...]
) -> dict[str, bytes]:
    """The PNG plots of a run folder, by file name.

    Raises:
        MissingExtraError: matplotlib (the ``plot`` extra) is not installed.
    """
    images = {f"plot_{stem}.png": png for stem, png in render_plots(columns, rows).items()}
    if result.supply_columns:
        supply_plots = render_plots(result.supply_columns, result.supply_rows, SUPPLY_PLOT_GROUPS)
        images.update((f"plot_{stem}.png", png) for stem, png in supply_plots.items())
    return images


def _cannot_write(path: Path, error: OSError) -> str:
    where = f" ({error.filename})" if error.filename and str(error.filename) != str(path) else ""
    return f"cannot write run folder {path}{where}: {error.strerror or error}"


def clear_unfinished(folder: Path | str) -> None:
    """Remove what an unfinished run left in ``folder`` (no ``run.json``: it was
    interrupted), so that the run can be written there again.

    Only files a run folder holds are removed (``metrics.csv``, ``plot_*.png``,
    temporary ``.*.part`` files, ...); anything else stays, and then
    :func:`write_run` refuses the folder.
    """
    path = Path(folder)
    if not path.is_dir() or (path / RUN_FILE).exists():
        return
    names = {SCENARIO_FILE, METRICS_CSV, METRICS_PARQUET, SUMMARY_FILE, ZONES_CSV, MODES_CSV}
    names.update({REPORT_FILE, SUPPLIES_CSV, SUPPLY_COMPOUNDS_CSV})
    for entry in path.iterdir():
        ours = entry.name in names or (
            entry.name.startswith("plot_") and entry.name.endswith(".png")
        )
        temporary = entry.name.startswith(".") and entry.name.endswith(".part")
        if (ours or temporary) and entry.is_file():
            entry.unlink()


def check_run_folder(folder: Path | str) -> None:
    """Check, before a run, that :func:`write_run` will be able to write ``folder``.

    Creates nothing. The folder may be missing (it will be created), empty,
    or hold a previous run (which will be replaced).

    Raises:
        RunFolderError: the folder is a file, holds something that is not a
            gridgov run, or cannot be written.
    """
    path = Path(folder)
    _previous_files(path)
    check_writable(
        path,
        folder=True,
        fail=lambda reason: RunFolderError(f"cannot write run folder {path}: {reason}", path),
    )


def _check_table(columns: tuple[str, ...], rows: tuple[tuple[Any, ...], ...], path: Path) -> None:
    if not columns:
        raise RunFolderError(f"cannot write run folder {path}: the result has no columns", path)
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise RunFolderError(
            f"cannot write run folder {path}: duplicate column names {', '.join(duplicates)}",
            path,
        )
    for number, row in enumerate(rows, 1):
        if len(row) != len(columns):
            raise RunFolderError(
                f"cannot write run folder {path}: row {number} has {len(row)} values, "
                f"expected {len(columns)} (one per column)",
                path,
            )


def _previous_files(path: Path) -> list[str]:
    """The files of a previous run in ``path`` to replace (empty for a new folder).

    Raises:
        RunFolderError: ``path`` is a file, or a non-empty folder without a run.
    """
    if not path.exists():
        return []
    if not path.is_dir():
        raise RunFolderError(f"run folder {path} is a file, not a folder", path)
    if not any(path.iterdir()):
        return []
    try:
        info = read_run_info(path)
    except RunFolderError:
        raise RunFolderError(
            f"refusing to write a run into {path}: the folder is not empty and holds no "
            f"gridgov run ({RUN_FILE} missing or not a run); choose an empty or new folder",
            path,
        ) from None
    listed = info.get("files", [])
    # run.json is data from disk: only plain names of this folder are ever deleted.
    names = {
        n for n in listed if isinstance(n, str) and n == Path(n).name and n not in {"", "..", "."}
    }
    names.update({REPORT_FILE, RUN_FILE})
    return sorted(n for n in names if (path / n).is_file())


def _version() -> str:
    # From the installed distribution, not the package root: a leaf module of
    # sim/ imports nothing above it.
    try:
        return metadata.version("gridgov")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "unknown"


def _json_text(value: Any) -> str:
    return (
        json.dumps(
            value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=True, default=_plain
        )
        + "\n"
    )


def _plain(value: Any) -> Any:
    """JSON for the numbers and collections json does not know (numpy's, tuples of sets)."""
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} value {value!r} is not JSON")


def _summary_json(summary: Mapping[str, Any], path: Path) -> str:
    try:
        return _json_text(dict(summary))
    except (TypeError, ValueError) as error:
        raise RunFolderError(
            f"cannot write run folder {path}: the summary is not JSON-friendly ({error})", path
        ) from None


def _column_types(columns: tuple[str, ...], rows: tuple[tuple[Any, ...], ...]) -> dict[str, str]:
    """Each column's type: ``int``, ``float``, ``bool`` or ``str`` (None is allowed in each)."""
    types: dict[str, str] = {}
    for index, name in enumerate(columns):
        # An empty cell is a missing value (a percentile of no tickets), whatever the column.
        values = [row[index] for row in rows if row[index] is not None and row[index] != ""]
        if values and all(isinstance(v, bool) for v in values):
            types[name] = "bool"
        elif any(isinstance(v, bool) for v in values):
            types[name] = "str"
        elif all(isinstance(v, numbers.Integral) for v in values) and values:
            types[name] = "int"
        elif all(isinstance(v, numbers.Real) for v in values):
            types[name] = "float"  # also an all-empty column
        else:
            types[name] = "str"
    return types


def _cell(value: Any) -> str:
    """The text of one value in ``metrics.csv``: the same value, the same text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    return str(value)


def _metrics_csv(columns: tuple[str, ...], rows: tuple[tuple[Any, ...], ...]) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return buffer.getvalue()


def _day_table(
    header: tuple[str, str, str], by_day: Iterable[tuple[Any, Mapping[str, str]]]
) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for day, states in by_day:
        writer.writerows((_cell(day), node, states[node]) for node in sorted(states))
    return buffer.getvalue()


def read_zones(folder: Path | str) -> list[tuple[Any, dict[str, str]]]:
    """The zones of a run folder's ``zones.csv``: (day, compound -> zone) per day.

    Days are those of ``metrics.csv``; a day with every compound open has an
    empty mapping. Empty when the run has no ``zones.csv``.

    Raises:
        RunFolderError: the folder is not a run, or ``zones.csv`` is damaged.
    """
    return _read_day_table(Path(folder), ZONES_CSV, ["day", "compound", "zone"])


def read_modes(folder: Path | str) -> list[tuple[Any, dict[str, str]]]:
    """The modes of a run folder's ``modes.csv``: (day, community -> mode) per day.

    Like :func:`read_zones`: communities in ``normal`` mode are left out.

    Raises:
        RunFolderError: the folder is not a run, or ``modes.csv`` is damaged.
    """
    return _read_day_table(Path(folder), MODES_CSV, ["day", "community", "mode"])


def _read_day_table(path: Path, name: str, header: list[str]) -> list[tuple[Any, dict[str, str]]]:
    data = read_run(path)
    file = path / name
    if not file.is_file():
        return []
    days = [row[data.columns.index("day")] for row in data.rows] if "day" in data.columns else []
    by_day: dict[str, dict[str, str]] = {_cell(d): {} for d in days}
    try:
        with file.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            if next(reader, None) != header:
                raise RunFolderError(f"{file}:1: expected the header {','.join(header)}", path)
            for number, row in enumerate(reader, 2):
                if len(row) != 3 or row[0] not in by_day:
                    raise RunFolderError(
                        f"{file}:{number}: expected a day of metrics.csv, "
                        f"a {header[1]} and a {header[2]}",
                        path,
                    )
                by_day[row[0]][row[1]] = row[2]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise RunFolderError(f"{file}: unreadable ({error})", path) from None
    return [(d, by_day[_cell(d)]) for d in days]


def _require(module: str, extra: str) -> ModuleType:
    """Import an optional dependency, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingExtraError(module.partition(".")[0], extra, error) from error


def _metrics_parquet(
    columns: tuple[str, ...], rows: tuple[tuple[Any, ...], ...], types: Mapping[str, str]
) -> bytes:
    pa = _require("pyarrow", "parquet")
    pq = _require("pyarrow.parquet", "parquet")
    arrow_types = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "str": pa.string()}
    convert: dict[str, Callable[[Any], Any]] = {
        "int": int,
        "float": float,
        "bool": bool,
        "str": _cell,
    }
    arrays = []
    for index, name in enumerate(columns):
        kind = types[name]
        missing: tuple[Any, ...] = (None,) if kind == "str" else (None, "")
        values = [None if r[index] in missing else convert[kind](r[index]) for r in rows]
        arrays.append(pa.array(values, type=arrow_types[kind]))
    table = pa.Table.from_arrays(arrays, names=list(columns))
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue().to_pybytes())


def render_plots(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    plot_groups: Mapping[str, tuple[str, str]] = PLOT_GROUPS,
) -> dict[str, bytes]:
    """Draw the main series as PNG images, one per group of ``plot_groups``.

    A group is the numeric columns whose names start with its prefix, drawn
    against ``day`` (or the row number without a ``day`` column); groups with
    no such column are left out.

    Args:
        columns: the column names.
        rows: the rows, values in column order.
        plot_groups: file stem -> (column prefix, title); default
            :data:`PLOT_GROUPS` (:data:`SUPPLY_PLOT_GROUPS` for ``supplies.csv``).

    Returns:
        Group name -> PNG bytes, in the order of ``plot_groups``.

    Raises:
        GridgovError: matplotlib (the ``plot`` extra) is not installed; the
            message says how to install it.
    """
    columns = tuple(columns)
    table = tuple(tuple(r) for r in rows)
    types = _column_types(columns, table)
    groups = {
        stem: (title, [c for c in columns if c.startswith(prefix) and types[c] in {"int", "float"}])
        for stem, (prefix, title) in plot_groups.items()
    }
    groups = {stem: group for stem, group in groups.items() if group[1]}
    if not groups:
        return {}
    if plot_groups is PLOT_GROUPS:  # the metrics: readable plots (gridgov.sim._plots)
        from gridgov.sim._plots import draw

        return draw(columns, table, list(groups))
    return _draw_groups(columns, table, types, groups, plot_groups)


def _draw_groups(
    columns: tuple[str, ...],
    table: tuple[tuple[Any, ...], ...],
    types: Mapping[str, str],
    groups: Mapping[str, tuple[str, list[str]]],
    plot_groups: Mapping[str, tuple[str, str]],
) -> dict[str, bytes]:
    """One plain line plot per group (the supplies' plots), as PNG bytes by stem."""
    _require("matplotlib", "plot")
    # Figure without pyplot: no global state, no GUI backend, safe in worker processes.
    figure_module = _require("matplotlib.figure", "plot")
    ticker = _require("matplotlib.ticker", "plot")
    _require("matplotlib.backends.backend_agg", "plot")
    if "day" in columns:
        day = columns.index("day")
        xs = [_number(r[day]) for r in table]
    else:
        xs = [float(i) for i in range(len(table))]
    images: dict[str, bytes] = {}
    for stem, (title, names) in groups.items():
        figure = figure_module.Figure(figsize=(8, 4.5), dpi=100, layout="constrained")
        axes = figure.add_subplot()
        for number, name in enumerate(names):
            index = columns.index(name)
            axes.plot(
                xs,
                [_number(r[index]) for r in table],
                label=name.removeprefix(plot_groups[stem][0]),
                # the colour cycle has ten colours: vary the line past them
                linestyle=("-", "--", ":", "-.")[number // 10 % 4],
            )
        axes.set_title(title)
        axes.set_xlabel("day")
        axes.grid(visible=True, alpha=0.3)
        axes.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        if all(types[name] == "int" for name in names):
            axes.yaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        if len(names) <= 6:
            axes.legend(fontsize="small")
        else:  # many series (posts by role and level): keep the legend off the lines
            axes.legend(
                fontsize="x-small",
                loc="upper left",
                bbox_to_anchor=(1.01, 1.0),
                ncols=1 + len(names) // 20,
            )
        buffer = io.BytesIO()
        # No "Software" chunk: the same data gives the same bytes.
        figure.savefig(buffer, format="png", metadata={"Software": None})
        images[stem] = buffer.getvalue()
    return images


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


# -- scenario.toml ---------------------------------------------------------------------


def _scenario_toml(result: RunResult) -> str:
    scenario = result.scenario
    if scenario.seed != result.seed:  # the run's seed wins, so the file reruns the run
        scenario = attrs.evolve(scenario, seed=result.seed)
    return scenario.to_toml()


# -- reading ---------------------------------------------------------------------------


def read_run(folder: Path | str) -> RunData:
    """Read a run folder back.

    Args:
        folder: a folder written by :func:`write_run`.

    Returns:
        ``(columns, rows, summary, run_info)``, the values of the rows typed as
        they were written.

    Raises:
        RunFolderError: the folder does not exist, is not a run folder, or
            its files are missing or do not agree with ``run.json``.
    """
    path = Path(folder)
    info = read_run_info(path)
    listed = info.get("columns", [])
    if not isinstance(listed, list):
        raise RunFolderError(
            f"run folder {path} is damaged: {RUN_FILE} columns is not a list", path
        )
    columns = tuple(str(c) for c in listed)
    types = info.get("column_types", {})
    if not isinstance(types, dict):
        types = {}
    try:
        metrics = read_bytes(path / METRICS_CSV, "run file").decode("utf-8")
        table = list(csv.reader(io.StringIO(metrics, newline="")))
        summary = json.loads(read_bytes(path / SUMMARY_FILE, "run file").decode("utf-8"))
    except FileProblem as problem:
        raise RunFolderError(f"run folder {path} is damaged: {problem.reason}", path) from None
    except (UnicodeDecodeError, csv.Error, ValueError, RecursionError) as error:
        raise RunFolderError(f"run folder {path} is damaged: {_short(error)}", path) from None
    if not table or tuple(table[0]) != columns:
        raise RunFolderError(
            f"run folder {path} is damaged: the header of {METRICS_CSV} is not the "
            f"columns listed in {RUN_FILE}",
            path,
        )
    if not isinstance(summary, dict):
        raise RunFolderError(
            f"run folder {path} is damaged: {SUMMARY_FILE} is not a JSON object", path
        )
    parsers = [_PARSERS.get(str(types.get(c, "str")), _parse_str) for c in columns]
    rows = []
    for number, record in enumerate(table[1:], 2):
        if len(record) != len(columns):
            raise RunFolderError(
                f"run folder {path} is damaged: {METRICS_CSV}:{number} has {len(record)} "
                f"values, expected {len(columns)}",
                path,
            )
        try:
            rows.append(tuple(parse(text) for parse, text in zip(parsers, record, strict=True)))
        except ValueError as error:
            raise RunFolderError(
                f"run folder {path} is damaged: {METRICS_CSV}:{number}: {error}", path
            ) from None
    return RunData(columns, tuple(rows), summary, info)


def read_run_info(folder: Path | str) -> dict[str, Any]:
    """The ``run.json`` of a run folder: present only once the run is complete.

    Raises:
        RunFolderError: the folder is not a run folder, or its run.json is unreadable.
    """
    path = Path(folder)
    if not path.is_dir():
        raise RunFolderError(f"no run folder at {path}: not a folder", path)
    if not (path / RUN_FILE).exists():
        raise RunFolderError(f"{path} is not a gridgov run folder: it has no {RUN_FILE}", path)
    try:
        info = json.loads(read_bytes(path / RUN_FILE, "run file").decode("utf-8"))
    except FileProblem as problem:
        raise RunFolderError(
            f"{path} is not a gridgov run folder: {RUN_FILE}: {problem.reason}", path
        ) from None
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise RunFolderError(
            f"{path} is not a gridgov run folder: {RUN_FILE} is unreadable ({_short(error)})",
            path,
        ) from None
    if not isinstance(info, dict) or info.get("format") != RUN_FORMAT:
        raise RunFolderError(
            f'{path} is not a gridgov run folder: {RUN_FILE} has no "format": "{RUN_FORMAT}"',
            path,
        )
    if info.get("format_version") != RUN_FORMAT_VERSION:
        raise RunFolderError(
            f"run folder {path} has format version {info.get('format_version')!r}; this "
            f"gridgov reads version {RUN_FORMAT_VERSION}",
            path,
        )
    return info


def _short(error: BaseException) -> str:
    """The parser's message, on one line and short (never the file's content)."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _parse_str(text: str) -> str:
    return text


def _parse_number(text: str) -> int | float | None:
    if text == "":
        return None
    with contextlib.suppress(ValueError):
        return int(text)
    return float(text)


def _parse_bool(text: str) -> bool | None:
    if text == "":
        return None
    if text in {"true", "false"}:
        return text == "true"
    raise ValueError(f"{text!r} is not true or false")


_PARSERS = {"int": _parse_number, "float": _parse_number, "bool": _parse_bool, "str": _parse_str}

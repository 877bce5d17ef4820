"""The ``gridgov`` command.

The contract every command keeps (``docs/cli.md``):

* results (tables, paths, JSON) go to standard output; progress, warnings
  and errors to standard error;
* an error is one line on standard error, ``gridgov: error: ...``, and exit
  code 1; a file with several problems gives one such line per problem
  (``gridgov: error: file:line: key.path: what is wrong``);
* a usage error (an unknown command or option, a missing argument, a value
  of the wrong form) is one such line too, and exit code 2;
* Ctrl-C (SIGINT) prints ``gridgov: interrupted`` on its own line, exit 130;
* no traceback, ever: an exception gridgov did not expect is still one line
  (``internal error``), and ``GRIDGOV_DEBUG=1`` shows its traceback;
* nothing is half-written: outputs are written to a temporary name and
  renamed, and an output that cannot be written is refused before the work.

The contract lives in :func:`main`, around every command, so that commands
added later keep it without doing anything.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from gridgov._gc import gc_paused
from gridgov._progress import Phase
from gridgov.city import City
from gridgov.errors import ClockError, GridgovError, NotFoundError, Problem, RunFolderError

__all__ = ["main"]

#: Exit codes: an error, a usage error (click's and argparse's convention), SIGINT.
EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130

#: The most problem lines printed for one failure; the rest are counted.
MAX_PROBLEM_LINES = 50

_SEED = click.IntRange(0, 2**63 - 1)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with a line saying how to take the work up again."""

    def __init__(self, hint: str) -> None:
        super().__init__(hint)
        self.hint = hint


def _stdout() -> Console:
    return Console(soft_wrap=False)


def _warn(lines: Iterable[str]) -> None:
    for line in lines:
        click.echo(f"gridgov: warning: {line}", err=True)


def _preset(name: str, seed: int) -> City:
    from gridgov.presets import PRESETS

    try:
        factory: Callable[..., City] = PRESETS[name]
    except KeyError:
        raise NotFoundError(
            name,
            "preset;",
            message=f"unknown preset {name!r} (expected one of: {', '.join(sorted(PRESETS))})",
        ) from None
    # The command line owns its process: pausing the collector for the build is its call.
    with gc_paused():
        return factory(seed=seed)


def _city(preset: str | None, bundle: str | None, seed: int) -> tuple[City, str]:
    """The city of ``--preset`` or ``--from`` (not both), and how to name it."""
    if bundle is not None:
        if preset is not None:
            raise click.UsageError("give --preset or --from, not both")
        from gridgov.cities import load_city

        return load_city(bundle, pause_gc=True), f"bundle {bundle}"
    name = preset if preset is not None else "jiamusi"
    return _preset(name, seed), f"preset {name!r}"


_FROM_HELP = "A city bundle (a folder with city.toml) instead of a preset."


def _summary_table(summary: dict[str, Any], title: str) -> Table:
    from gridgov.sim._labels import format_value

    table = Table(title=title)
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in summary.items():
        if isinstance(value, dict):
            for sub, count in value.items():
                table.add_row(f"{key}: {sub}", format_value(count))
        elif isinstance(value, int):
            table.add_row(key.replace("_", " "), format_value(value, key))
    return table


def _figures_table(summary: dict[str, Any], title: str) -> Table:
    """A run's summary, grouped and labelled, with units."""
    from gridgov.sim._labels import figures, format_value

    table = Table(title=title)
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("unit")
    for group, rows in figures(summary):
        table.add_section()
        table.add_row(f"[bold]{group}[/bold]", "", "")
        for text, unit, value in rows:
            key = "seed" if text == "Seed" else ""
            table.add_row(f"  {text}", format_value(value, key), unit)
    return table


def _json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True, allow_nan=False, default=str))


class _Group(click.Group):
    """The command group: with no arguments it shows its help and exits 0."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args:
            click.echo(ctx.get_help())
            ctx.exit(0)
        return super().parse_args(ctx, args)


@click.group(cls=_Group)
@click.version_option(package_name="gridgov")
def cli() -> None:
    """Switch a city's grid-governance organisation between normal and emergency mode.

    Errors are one line on standard error ('gridgov: error: ...') with exit
    code 1; usage errors exit 2; Ctrl-C exits 130.
    """


@cli.command()
@click.option("--preset", default=None, help="Preset city to build.  [default: jiamusi]")
@click.option("--from", "bundle", default=None, help=_FROM_HELP)
@click.option("--seed", type=_SEED, default=0, show_default=True, help="Seed of the preset.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def city(preset: str | None, bundle: str | None, seed: int, as_json: bool) -> None:
    """Print the counts of a built city (a preset, or a bundle with --from)."""
    built, source = _city(preset, bundle, seed)
    summary = built.summary()
    if as_json:
        _json(summary)
    else:
        _stdout().print(_summary_table(summary, f"{summary['name']} ({source})"))


@cli.command()
@click.option("--preset", default=None, help="Preset city to export.  [default: jiamusi]")
@click.option("--from", "bundle", default=None, help=_FROM_HELP)
@click.option("--seed", type=_SEED, default=0, show_default=True, help="Seed of the preset.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["graphml", "json", "mermaid", "geojson", "bundle"]),
    default="json",
    show_default=True,
    help="Output format (bundle: the whole city as a bundle folder, needs --out).",
)
@click.option(
    "--out",
    default=None,
    help="Write to this file (a folder for --format bundle) instead of standard output.",
)
@click.option(
    "--level",
    "levels",
    multiple=True,
    type=click.Choice(["city", "district", "street", "community", "grid", "compound", "building"]),
    help="geojson: only features at this level (repeat for several; default: all).",
)
@click.option(
    "--run",
    "run_dir",
    default=None,
    type=click.Path(file_okay=False),
    help="geojson: add each compound's zone and community's mode from this run folder.",
)
@click.option(
    "--day",
    type=float,
    default=None,
    help="geojson with --run: the day to show (default: the peak day, most compounds sealed).",
)
@click.option(
    "--geometry",
    "with_geometry",
    is_flag=True,
    help="bundle: include geometry.geojson (synthetic for a preset; the geo extra).",
)
def export(
    preset: str | None,
    bundle: str | None,
    seed: int,
    fmt: str,
    out: str | None,
    levels: tuple[str, ...],
    run_dir: str | None,
    day: float | None,
    with_geometry: bool,
) -> None:
    """Export the command chain as GraphML, node-link JSON or a mermaid diagram,
    the city's geometry as GeoJSON (RFC 7946; the geo extra), or the whole city
    as a city bundle (a folder: --out DIR)."""
    from gridgov._files import check_writable, write_atomic

    if levels and fmt != "geojson":
        raise click.UsageError("--level applies to --format geojson only")
    if (run_dir is not None or day is not None) and fmt != "geojson":
        raise click.UsageError("--run and --day apply to --format geojson only")
    if day is not None and run_dir is None:
        raise click.UsageError("--day needs --run")
    if with_geometry and fmt != "bundle":
        raise click.UsageError("--geometry applies to --format bundle only")
    if fmt == "bundle" and out is None:
        raise click.UsageError("--format bundle writes a folder: give --out DIR")
    if out is not None:
        check_writable(
            out, folder=fmt == "bundle", fail=lambda why: GridgovError(f"--out {out} {why}")
        )
    city, _ = _city(preset, bundle, seed)
    if fmt == "bundle":
        assert out is not None
        if with_geometry and city.geometry is None:
            city = city.with_geometry(_geometry_of(city))
        click.echo(str(city.save(out)))
        return
    chain = city.chain
    if fmt == "geojson":
        text = _geojson(city, levels, _run_properties(city, run_dir, day) if run_dir else None)
    elif fmt == "graphml":
        import io

        buffer = io.BytesIO()
        chain.write_graphml(buffer)
        text = buffer.getvalue().decode("utf-8")
    elif fmt == "json":
        text = chain.to_json() + "\n"
    else:
        text = chain.to_mermaid()
    if out is None:
        click.echo(text, nl=False)
    else:
        try:
            write_atomic(out, text)
        except OSError as exc:
            raise GridgovError(f"cannot write {out}: {exc.strerror or exc}") from None


def _area_matcher(city: City) -> Any:
    """The geometry matcher for alert polygons and circles (None without the geo extra)."""
    from gridgov.errors import MissingExtraError

    try:
        from gridgov.geo import CityMatcher
    except MissingExtraError:
        return None  # shape-only areas then go to review, as the planner says
    return CityMatcher(city)


def _geometry_of(city: City) -> Any:
    """The city's own geometry (a bundle's), or synthetic shapes (a preset's)."""
    from gridgov.geo import CityGeometry, synthesize

    # The command owns its process: it asks for the collector to be paused.
    own = city.geometry
    return own if isinstance(own, CityGeometry) else synthesize(city, pause_gc=True)


def _geojson(
    city: City, levels: Sequence[str], properties: dict[str, dict[str, Any]] | None = None
) -> str:
    """The city's geometry as GeoJSON."""
    from gridgov.geo import dumps_geojson

    return dumps_geojson(city, _geometry_of(city), levels=levels or None, properties=properties)


def _run_properties(city: City, run_dir: str, day: float | None) -> dict[str, dict[str, Any]]:
    """Each compound's zone and each community's mode on one day of a run."""
    from gridgov.model import Level
    from gridgov.sim.results import read_modes, read_zones

    zones = read_zones(run_dir)
    if not zones:
        raise RunFolderError(
            f"run {run_dir} has no zones.csv (run the scenario again)", Path(run_dir)
        )
    modes = dict(read_modes(run_dir)) or {d: {} for d, _ in zones}
    days = [d for d, _ in zones]
    if day is None:
        sealed = [sum(1 for z in by.values() if z == "sealed") for _, by in zones]
        index = sealed.index(max(sealed))
    elif day in days:
        index = days.index(day)
    else:
        span = f"{days[0]:g}..{days[-1]:g}"
        message = f"day {day:g} is not a day of run {run_dir} ({span})"
        raise NotFoundError(f"{day:g}", "day;", message=message)
    when, zone_of = zones[index]
    strangers = sorted(c for c in zone_of if c not in city.compounds)
    if strangers:
        raise RunFolderError(
            f"run {run_dir} is of another city: compound {strangers[0]} is not in {city.name}",
            Path(run_dir),
        )
    mode_of = modes.get(when, {})
    out: dict[str, dict[str, Any]] = {
        c: {"zone": zone_of.get(c, "open"), "day": when} for c in city.compounds
    }
    for community in city.chain.units(Level.COMMUNITY):
        out[community] = {"mode": mode_of.get(community, "normal"), "day": when}
    return out


@cli.command()
@click.argument("units_file", type=click.Path())
@click.option(
    "--out", required=True, type=click.Path(), help="Folder for the city bundle it writes."
)
@click.option(
    "--seed", type=_SEED, default=0, show_default=True, help="Random seed of the synthesis."
)
@click.option(
    "--recipe",
    "recipe_file",
    default=None,
    type=click.Path(),
    help="A recipe TOML of ratios (default: gridgov's own, data/synthesis.toml).",
)
@click.option(
    "--grid-workers",
    type=click.IntRange(0, 10_000_000),
    default=None,
    help="The total of grid workers, when known.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.option("--quiet", is_flag=True, help="No progress on standard error.")
def synth(
    units_file: str,
    out: str,
    seed: int,
    recipe_file: str | None,
    grid_workers: int | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Synthesise a whole city bundle from a list of units down to communities
    with their households (see docs/cities.md)."""
    from gridgov._files import check_writable
    from gridgov.synthesis import load_recipe, synthesize

    check_writable(out, folder=True, fail=lambda why: GridgovError(f"--out {out} {why}"))
    recipe = load_recipe(recipe_file) if recipe_file is not None else None
    with Phase("synthesising the city", enabled=not quiet, label=Path(units_file).name):
        built = synthesize(
            units_file, seed=seed, recipe=recipe, grid_workers=grid_workers, pause_gc=True
        )
        folder = built.save(out)
    summary = built.summary()
    if as_json:
        _json({"out": str(folder), "summary": summary})
        return
    # The table and the bundle's path are both results: standard output, path last.
    _stdout().print(_summary_table(summary, f"{summary['name']} (synthesised)"))
    click.echo(str(folder))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@click.option(
    "--out", default="gridgov-demo", show_default=True, help="Folder for the run and its report."
)
@click.option("--quiet", is_flag=True, help="No progress on standard error.")
def demo(as_json: bool, out: str, quiet: bool) -> None:
    """The main job: the 17 September response on the Jiamusi preset.

    Builds the preset, plays the embedded 17 September scenario (two cases in
    the urban districts, the urban area sealed and staffed, requests through
    the closed loop, stepping down to normal), prints the published figures
    beside the simulated ones and writes the run and its report to --out.
    """
    from gridgov.presets import PUBLISHED
    from gridgov.sim._demo import published_rows, run_demo
    from gridgov.sim._labels import format_value, label
    from gridgov.sim.results import check_run_folder

    check_run_folder(out)
    figures = run_demo(out, progress=not quiet)
    if as_json:
        shown = {k: v for k, v in figures.items() if k != "published"}
        shown["published"] = PUBLISHED
        _json(shown)
        return
    table = Table(title="17 September: published figures and the simulation")
    table.add_column("figure")
    table.add_column("published", justify="right")
    table.add_column("gridgov", justify="right")
    for name, then, now in published_rows(figures):
        table.add_row(name, then, now)
    metrics = Table(title="Governance metrics of the run (60 days)")
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
    metrics.add_column("unit")
    for name in (
        "cases_confirmed",
        "peak_compounds_sealed",
        "household_days_sealed",
        "grid_workers_front_line",
        "volunteers",
        "seal_to_point_lead_hours_p95",
        "tickets_opened",
        "tickets_escalated",
        "days_to_normal",
        "supplies_delivered",
        "household_days_unsupplied",
        "supplies_latency_hours_p95",
        "supplies_building_leads_requested",
    ):
        _, text, unit = label(name)
        metrics.add_row(text, format_value(figures.get(name)), unit)
    console = _stdout()
    console.print(table)
    console.print(metrics)
    click.echo(f"run and report written to {figures['out']}/ (open report.html)")


def _load_scenario(path: str) -> Any:
    from gridgov.sim.scenario import load_scenario

    scenario = load_scenario(path)
    _warn(f"{path}: {warning}" for warning in scenario.warnings())
    return scenario


@cli.command()
@click.argument("scenario_file")
@click.option("--out", required=True, help="Folder for the run (metrics.csv, summary.json, plots).")
@click.option("--seed", type=_SEED, default=None, help="Seed instead of the scenario's own.")
@click.option("--quiet", is_flag=True, help="No progress on standard error.")
@click.option("--no-plots", is_flag=True, help="Skip the PNG plots.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def simulate(
    scenario_file: str, out: str, seed: int | None, quiet: bool, no_plots: bool, as_json: bool
) -> None:
    """Run a scenario file and write its run folder."""
    from gridgov.sim.results import check_run_folder, write_run
    from gridgov.sim.runner import run_scenario

    scenario = _load_scenario(scenario_file)
    check_run_folder(out)
    # The command line owns its process: pausing the collector is its call.
    result = run_scenario(scenario, seed=seed, progress=not quiet, pause_gc=True)
    what = "writing the run folder" + ("" if no_plots else " and its plots")
    with Phase(what, enabled=not quiet, label=scenario.name):
        folder = write_run(result, out, plots=not no_plots)
    if as_json:
        _json({"out": str(folder), "summary": dict(result.summary)})
        return
    _stdout().print(_figures_table(dict(result.summary), f"{scenario.name}"))
    click.echo(str(folder))


@cli.command()
@click.argument("sweep_file")
@click.option("--out", required=True, help="Folder for sweep.csv and one folder per run.")
@click.option(
    "--workers",
    type=click.IntRange(1, 1024),
    default=None,
    help="Local processes (default: one per core; 1 runs serially).",
)
@click.option(
    "--dask",
    "dask_address",
    default=None,
    help="Run on Dask: 'local' for a LocalCluster, or a scheduler address.",
)
@click.option(
    "--resume", is_flag=True, help="Skip the runs already finished in --out (same sweep)."
)
@click.option("--quiet", is_flag=True, help="No progress on standard error.")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def sweep(
    sweep_file: str,
    out: str,
    workers: int | None,
    dask_address: str | None,
    resume: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Run a sweep: a grid of parameter values times replicate seeds."""
    from gridgov.sim.sweep import SweepProgress, check_sweep_folder, load_sweep, run_sweep

    if workers is not None and dask_address is not None:
        raise click.UsageError("give --workers or --dask, not both")
    loaded = load_sweep(sweep_file)
    _warn(f"{sweep_file}: {warning}" for warning in loaded.scenario.warnings())
    check_sweep_folder(loaded, out, resume=resume)
    state = SweepProgress()
    try:
        rows = run_sweep(
            loaded,
            out,
            workers=workers,
            dask=dask_address,
            progress=not quiet,
            resume=resume,
            state=state,
        )
    except KeyboardInterrupt:
        raise Interrupted(
            f"{state.finished} of {state.total} runs are finished in {out}; "
            f"resume with: gridgov sweep {sweep_file} --out {out} --resume"
        ) from None
    csv_path = Path(out) / "sweep.csv"
    if as_json:
        _json({"runs": len(rows), "skipped": state.skipped, "sweep_csv": str(csv_path)})
        return
    skipped = f" ({state.skipped} already finished)" if state.skipped else ""
    click.echo(f"{len(rows)} runs{skipped} written to {csv_path}")


@cli.command()
@click.argument("run_dir")
@click.option("--quiet", is_flag=True, help="No progress on standard error.")
def report(run_dir: str, quiet: bool) -> None:
    """Write report.html for a run folder and print its path."""
    from gridgov.sim.report import write_report

    with Phase("writing the report", enabled=not quiet, label=Path(run_dir).name):
        written = write_report(run_dir)
    click.echo(str(written))


def _when(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 time with its UTC offset, or a usage error."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        when = None
    if when is None or when.utcoffset() is None:
        raise click.BadParameter(
            f"{value!r} is not a time with its UTC offset (e.g. 2022-09-17T09:30:00+08:00)",
            param_hint=option,
        )
    return when


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--preset", default=None, help="Preset city.  [default: jiamusi]")
@click.option("--from", "bundle", default=None, type=click.Path(), help=_FROM_HELP)
@click.option("--seed", type=_SEED, default=0, show_default=True, help="Seed of the preset.")
@click.option("--at", "at", default=None, help="Receive every alert at this time (ISO 8601).")
@click.option("--until", default=None, help="Then advance the clock to this time (ISO 8601).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def alert(
    files: Sequence[str],
    preset: str | None,
    bundle: str | None,
    seed: int,
    at: str | None,
    until: str | None,
    as_json: bool,
) -> None:
    """Play CAP alert FILES, in the order given, on a fresh engine of the city.

    Each alert is received at its own <sent> time (never before the previous
    one) unless --at is given; then the clock advances to --until, applying
    scheduled starts and expiries. Prints each alert's outcome (declare,
    update, lift, duplicate, stale, review, ignore, refused), zone, units and
    reasons, and the compounds per zone at the end. Exit 1 when any file was
    refused (unreadable, hostile or not CAP 1.2), else 0.
    """
    from gridgov.clock import ManualClock
    from gridgov.engine import Engine

    at_time, until_time = _when(at, "--at"), _when(until, "--until")
    city, _ = _city(preset, bundle, seed)
    payloads = _read_alerts(files)
    times = [t for _, _, t in payloads if t is not None]
    start = at_time if at_time is not None else (min(times) if times else None)
    clock = ManualClock(start) if start is not None else ManualClock()
    engine = Engine(city, clock=clock, area_matcher=_area_matcher(city))
    rows = [_play_alert(engine, payload, at_time is not None) for payload in payloads]
    if until_time is not None:
        if until_time < clock.now():
            raise ClockError(
                f"--until {until_time.isoformat()} is before the last alert was received "
                f"({clock.now().isoformat()}); expected a later time"
            )
        engine.advance(until_time)
    counts = {zone: len(engine.under(zone)) for zone in ("sealed", "controlled", "precaution")}
    _print_alerts(files, rows, counts, as_json)
    refused = [
        f"{name}: refused: {'; '.join(row['reasons']) or 'not a CAP 1.2 alert'}"
        for name, row in zip(files, rows, strict=True)
        if row["outcome"] == "refused"
    ]
    if refused:
        # The outcomes above are the results; each refusal is also an error line.
        raise _Problems(refused)


#: One alert file as read: (data or None, why it cannot be read, its <sent> when it parses).
_Payload = tuple[bytes | None, str, datetime | None]


def _read_alerts(files: Sequence[str]) -> list[_Payload]:
    """Each file's bytes (within the size of an alert, never a device or a pipe)."""
    from gridgov._files import FileProblem, read_bytes
    from gridgov.alerts import AlertError, parse_cap

    payloads: list[_Payload] = []
    for name in files:
        try:
            data = read_bytes(name, "CAP alert")
        except FileProblem as exc:
            why = exc.reason.removeprefix("cannot read: ")
            payloads.append((None, f"cannot read {name}: {why}", None))
            continue
        try:
            sent: datetime | None = parse_cap(data).sent
        except AlertError:
            sent = None  # refused when played, and recorded as such
        payloads.append((data, "", sent))
    return payloads


def _play_alert(engine: Any, payload: _Payload, fixed_time: bool) -> dict[str, Any]:
    """Receive one alert (at its <sent> time, unless ``fixed_time``); its row of results."""
    from gridgov.alerts import AlertError

    data, problem, when = payload
    if data is None:
        return _alert_row(None, "refused", None, [], [problem])
    if not fixed_time and when is not None and when > engine.clock.now():
        engine.advance(when)
    try:
        result = engine.receive_alert(data)
    except AlertError as exc:
        return _alert_row(exc.alert, "refused", None, [], [str(exc)])
    first = next(e for e in result.events if e.type in ("alert.received", "alert.refused"))
    return _alert_row(
        first.data.get("identifier"),
        str(first.data["outcome"]),
        first.data.get("zone"),
        list(first.data.get("units") or ()),
        list(first.data.get("reasons") or [first.data.get("reason", "")]),
    )


def _print_alerts(
    files: Sequence[str], rows: list[dict[str, Any]], counts: dict[str, int], as_json: bool
) -> None:
    if as_json:
        click.echo(json.dumps({"alerts": rows, "zones": counts}, ensure_ascii=False, indent=2))
        return
    for name, row in zip(files, rows, strict=True):
        units = ", ".join(row["units"]) or "-"
        zone = row["zone"] or "-"
        click.echo(f"{name}: {row['identifier'] or '?'}: {row['outcome']} {zone} on {units}")
        for reason in row["reasons"]:
            click.echo(f"  - {reason}")
    click.echo("compounds: " + ", ".join(f"{zone} {count}" for zone, count in counts.items()))


def _alert_row(
    identifier: Any, outcome: str, zone: Any, units: list[str], reasons: list[str]
) -> dict[str, Any]:
    return {
        "identifier": identifier,
        "outcome": outcome,
        "zone": zone,
        "units": units,
        "reasons": [r for r in reasons if r],
    }


@cli.command()
@click.argument("machine", type=click.Choice(["mode", "zone"]))
def diagram(machine: str) -> None:
    """Print the mermaid state diagram of the community mode or compound zone machine."""
    from gridgov.modes import mode_board, zone_board

    board = mode_board([]) if machine == "mode" else zone_board([])
    click.echo(board.diagram(), nl=False)


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--kind",
    type=click.Choice(["rules", "scenario", "sweep", "bundle", "alert", "journal"]),
    default=None,
    help="What the files are (default: recognised from each file).",
)
def check(paths: tuple[str, ...], kind: str | None) -> None:
    """Validate rules, scenario, sweep, city bundle, CAP alert or journal files.

    Each file's kind is recognised from its content. Prints 'ok (KIND)' on
    standard output for a valid file (prefixed by its path when several are
    given), else one line per problem on standard error
    ('gridgov: error: file:line: key.path: what is wrong') and exits 1.
    """
    from gridgov._checking import check_path

    problems: list[Problem] = []
    for path in paths:
        found = check_path(path, kind)
        _warn(found.warnings)
        if found.problems:
            problems += found.problems
        else:
            click.echo(f"{path}: ok ({found.kind})" if len(paths) > 1 else f"ok ({found.kind})")
    if problems:
        raise _Problems(problems)


class _Problems(GridgovError):
    """Several problems, one error line each."""

    def __init__(self, problems: Sequence[Problem | str]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = tuple(problems)


# ------------------------------------------------------------ the contract


def _error_lines(exc: GridgovError) -> list[str]:
    problems = getattr(exc, "problems", None)
    if problems:
        lines = [" ".join(str(p).split()) for p in problems]
    else:
        text = " ".join(str(exc).split())
        lines = [text or type(exc).__name__]
    if len(lines) > MAX_PROBLEM_LINES:
        more = len(lines) - MAX_PROBLEM_LINES + 1
        lines = [*lines[: MAX_PROBLEM_LINES - 1], f"... and {more} more problems"]
    return lines


def _say(lines: Iterable[str]) -> None:
    try:
        for line in lines:
            click.echo(line, err=True)
    except OSError:  # standard error itself is gone: nothing left to tell
        pass


def _broken_pipe() -> int:
    # The reader of standard output went away (``gridgov city | head``): stop
    # quietly, and keep Python from complaining again when it flushes at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_ERROR


def _usage(exc: click.UsageError) -> int:
    command = exc.ctx.command_path if exc.ctx is not None else "gridgov"
    message = " ".join(exc.format_message().split())
    _say([f"gridgov: error: {message} (see '{command} --help')"])
    return EXIT_USAGE


def _debug() -> bool:
    return os.environ.get("GRIDGOV_DEBUG", "") not in ("", "0")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code; never raises, never prints a traceback.

    Args:
        argv: arguments (without the program name); defaults to ``sys.argv[1:]``.

    Returns:
        0 on success, 1 on an error, 2 on a usage error, 130 on Ctrl-C.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        try:
            with cli.make_context("gridgov", args) as ctx:
                cli.invoke(ctx)
        except click.exceptions.Exit as exc:  # --help, --version
            return exc.exit_code
        except click.UsageError as exc:
            return _usage(exc)
        except click.ClickException as exc:
            _say([f"gridgov: error: {' '.join(exc.format_message().split())}"])
            return exc.exit_code or EXIT_ERROR
        except click.exceptions.Abort:
            raise KeyboardInterrupt from None
        except GridgovError as exc:
            _say(f"gridgov: error: {line}" for line in _error_lines(exc))
            return EXIT_ERROR
        except BrokenPipeError:
            return _broken_pipe()
        except OSError as exc:
            if _debug():
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            _say([f"gridgov: error: {where}{exc.strerror or exc}"])
            return EXIT_ERROR
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else EXIT_ERROR
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            if _debug():
                raise
            text = " ".join(str(exc).split())[:300]
            _say(
                [
                    f"gridgov: error: internal error: {type(exc).__name__}: {text} "
                    "(a bug: please report it; GRIDGOV_DEBUG=1 shows the traceback)"
                ]
            )
            return EXIT_ERROR
    except KeyboardInterrupt as exc:
        # On its own line, even after a progress line without its newline.
        _say(["", "gridgov: interrupted"] if _on_terminal() else ["gridgov: interrupted"])
        if isinstance(exc, Interrupted):
            _say([f"gridgov: {exc.hint}"])
        return EXIT_INTERRUPTED
    return 0


def _on_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def run() -> None:
    """Console-script entry point: exit with :func:`main`'s code."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()

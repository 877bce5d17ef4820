"""The ``gridgov`` command.

Every gridgov error becomes one line on stderr and exit code 1; usage errors
exit 2 (click's convention); nothing prints a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from gridgov.city import City
from gridgov.errors import GridgovError

__all__ = ["main"]


def _preset(name: str, seed: int) -> City:
    from gridgov.presets import PRESETS

    try:
        factory: Callable[..., City] = PRESETS[name]
    except KeyError:
        raise GridgovError(
            f"unknown preset {name!r} (expected one of: {', '.join(sorted(PRESETS))})"
        ) from None
    return factory(seed=seed)


def _city(preset: str | None, bundle: str | None, seed: int) -> tuple[City, str]:
    """The city of ``--preset`` or ``--from`` (not both), and how to name it."""
    if bundle is not None:
        if preset is not None:
            raise click.UsageError("give --preset or --from, not both")
        from gridgov.cities import load_city

        return load_city(bundle), f"bundle {bundle}"
    name = preset if preset is not None else "jiamusi"
    return _preset(name, seed), f"preset {name!r}"


def _summary_table(summary: dict[str, Any], title: str) -> Table:
    table = Table(title=title)
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in summary.items():
        if isinstance(value, dict):
            for sub, count in value.items():
                table.add_row(f"{key}: {sub}", f"{count:,}")
        elif isinstance(value, int):
            table.add_row(key, f"{value:,}")
    return table


@click.group()
@click.version_option(package_name="gridgov")
def cli() -> None:
    """Switch a city's grid-governance organisation between normal and emergency mode."""


_FROM_HELP = "A city bundle (a folder with city.toml) instead of a preset."


@cli.command()
@click.option("--preset", default=None, help="Preset city to build.  [default: jiamusi]")
@click.option("--from", "bundle", default=None, type=click.Path(), help=_FROM_HELP)
@click.option("--seed", default=0, show_default=True, help="Random seed of the preset.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def city(preset: str | None, bundle: str | None, seed: int, as_json: bool) -> None:
    """Print the counts of a built city (a preset, or a bundle with --from)."""
    built, source = _city(preset, bundle, seed)
    summary = built.summary()
    if as_json:
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        Console().print(_summary_table(summary, f"{summary['name']} ({source})"))


@cli.command()
@click.option("--preset", default=None, help="Preset city to export.  [default: jiamusi]")
@click.option("--from", "bundle", default=None, type=click.Path(), help=_FROM_HELP)
@click.option("--seed", default=0, show_default=True, help="Random seed of the preset.")
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
    type=click.Path(writable=True),
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
            with open(out, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise GridgovError(f"cannot write {out}: {exc.strerror}") from None


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

    return city.geometry if isinstance(city.geometry, CityGeometry) else synthesize(city)


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
        raise GridgovError(f"run {run_dir} has no zones.csv (run the scenario again)")
    modes = dict(read_modes(run_dir)) or {d: {} for d, _ in zones}
    days = [d for d, _ in zones]
    if day is None:
        sealed = [sum(1 for z in by.values() if z == "sealed") for _, by in zones]
        index = sealed.index(max(sealed))
    elif day in days:
        index = days.index(day)
    else:
        raise GridgovError(f"day {day:g} is not a day of run {run_dir} ({days[0]:g}..{days[-1]:g})")
    when, zone_of = zones[index]
    strangers = sorted(c for c in zone_of if c not in city.compounds)
    if strangers:
        raise GridgovError(
            f"run {run_dir} is of another city: compound {strangers[0]} is not in {city.name}"
        )
    mode_of = modes.get(when, {})
    out: dict[str, dict[str, Any]] = {
        c: {"zone": zone_of.get(c, "open"), "day": when} for c in city.compounds
    }
    for community in city.chain.units(Level.COMMUNITY):
        out[community] = {"mode": mode_of.get(community, "normal"), "day": when}
    return out


def _coverage_problems(bundle: str) -> list[str]:
    """A valid bundle's geometry.geojson against its city: ids, shapes, then coverage."""
    import os

    from gridgov.cities import load_city
    from gridgov.errors import CityError, MissingExtraError

    shown = os.path.join(bundle, "geometry.geojson")
    if not os.path.exists(shown):
        return []
    try:
        from gridgov.geo import CityGeometry, check_coverage
    except MissingExtraError as missing:
        return [f"{shown}:0: geometry: not checked: {missing}"]
    try:
        city = load_city(bundle)
    except CityError as exc:
        return [str(p) for p in exc.problems]
    assert isinstance(city.geometry, CityGeometry)
    return [
        f"{shown}:0: coverage.{p.kind}: {p.message}" for p in check_coverage(city, city.geometry)
    ]


@cli.command()
@click.argument("units_file", type=click.Path())
@click.option(
    "--out", required=True, type=click.Path(), help="Folder for the city bundle it writes."
)
@click.option("--seed", default=0, show_default=True, help="Random seed of the synthesis.")
@click.option(
    "--recipe",
    "recipe_file",
    default=None,
    type=click.Path(),
    help="A recipe TOML of ratios (default: gridgov's own, data/synthesis.toml).",
)
@click.option(
    "--grid-workers", type=int, default=None, help="The total of grid workers, when known."
)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def synth(
    units_file: str,
    out: str,
    seed: int,
    recipe_file: str | None,
    grid_workers: int | None,
    as_json: bool,
) -> None:
    """Synthesise a whole city bundle from a list of units down to communities
    with their households (see docs/cities.md)."""
    from gridgov.synthesis import load_recipe, synthesize

    recipe = load_recipe(recipe_file) if recipe_file is not None else None
    built = synthesize(units_file, seed=seed, recipe=recipe, grid_workers=grid_workers)
    folder = built.save(out)
    summary = built.summary()
    if as_json:
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        Console(stderr=True).print(_summary_table(summary, f"{summary['name']} (synthesised)"))
        click.echo(str(folder))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@click.option(
    "--out",
    default="gridgov-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for the run and its report.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def demo(as_json: bool, out: str, quiet: bool) -> None:
    """The main job: the 17 September response on the Jiamusi preset.

    Builds the preset, plays the embedded 17 September scenario (two cases in
    the urban districts, the urban area sealed and staffed, requests through
    the closed loop, stepping down to normal), prints the published figures
    beside the simulated ones and writes the run and its report to --out.
    """
    from gridgov.presets import PUBLISHED
    from gridgov.sim.demo import run_demo

    figures = run_demo(out, progress=not quiet and not as_json)
    if as_json:
        shown = {k: v for k, v in figures.items() if k != "published"}
        shown["published"] = PUBLISHED
        click.echo(json.dumps(shown, indent=2, sort_keys=True))
        return
    published: dict[str, Any] = PUBLISHED
    grids = figures["grids"]
    rows = [
        ("grids: urban", published["grids"]["urban"], grids["urban"]),
        ("grids: rural", published["grids"]["rural"], grids["rural"]),
        ("grids: exclusive", published["grids"]["exclusive"], grids["exclusive"]),
        ("grids: total", published["grids"]["total"], grids["total"]),
        ("grid workers", published["grid_workers"], figures["grid_workers"]),
        ("households", "about 1.03 million", figures["households"]),
        ("point leads (sealed compounds)", published["point_leads"], figures["point_leads"]),
        ("building leads", "4,000+", figures["building_leads"]),
        ("in-service members deployed", "10,000+", figures["deployed_members"]),
    ]
    table = Table(title="17 September: published figures and the simulation")
    table.add_column("figure")
    table.add_column("published", justify="right")
    table.add_column("gridgov", justify="right")
    for name, then, now in rows:
        table.add_row(name, f"{then:,}" if isinstance(then, int) else str(then), f"{now:,}")
    metrics = Table(title="Governance metrics of the run (60 days)")
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
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
        value = figures.get(name)
        shown_value = (
            "-"
            if value is None
            else (f"{value:,}" if isinstance(value, int | float) else str(value))
        )
        label = name.replace("_", " ")
        if name == "supplies_delivered":
            label = "supplies delivered (kg)"
        metrics.add_row(label, shown_value)
    console = Console()
    console.print(table)
    console.print(metrics)
    console.print(f"run and report written to {figures['out']}/ (open report.html)")


@cli.command()
@click.argument("scenario_file", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for the run (metrics.csv, summary.json, plots).",
)
@click.option("--seed", type=int, default=None, help="Seed instead of the scenario's own.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--no-plots", is_flag=True, help="Skip the PNG plots.")
def simulate(scenario_file: str, out: str, seed: int | None, quiet: bool, no_plots: bool) -> None:
    """Run a scenario file and write its run folder."""
    from gridgov.sim.results import write_run
    from gridgov.sim.runner import run_scenario
    from gridgov.sim.scenario import load_scenario

    scenario = load_scenario(scenario_file)
    result = run_scenario(scenario, seed=seed, progress=not quiet)
    folder = write_run(result, out, plots=not no_plots)
    if not quiet:
        Console(stderr=True).print(_summary_table(dict(result.summary), f"{scenario.name}"))
    click.echo(str(folder))


@cli.command()
@click.argument("sweep_file", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for sweep.csv and one folder per run.",
)
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Local processes (default: one per core; 1 runs serially).",
)
@click.option(
    "--dask",
    "dask_address",
    default=None,
    help="Run on Dask: 'local' for a LocalCluster, or a scheduler address.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def sweep(
    sweep_file: str, out: str, workers: int | None, dask_address: str | None, quiet: bool
) -> None:
    """Run a sweep: a grid of parameter values times replicate seeds."""
    from gridgov.sim.sweep import load_sweep, run_sweep

    if workers is not None and dask_address is not None:
        raise GridgovError("give --workers or --dask, not both")
    rows = run_sweep(
        load_sweep(sweep_file), out, workers=workers, dask=dask_address, progress=not quiet
    )
    click.echo(f"{len(rows)} runs written to {out}/sweep.csv")


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
def report(run_dir: str) -> None:
    """Write report.html for a run folder and print its path."""
    from gridgov.sim.report import write_report

    click.echo(str(write_report(run_dir)))


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
@click.option("--seed", default=0, show_default=True, help="Random seed of the preset.")
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
    from gridgov.alerts import AlertError, parse_cap
    from gridgov.clock import ManualClock
    from gridgov.engine import Engine

    at_time, until_time = _when(at, "--at"), _when(until, "--until")
    city, _ = _city(preset, bundle, seed)
    # (data or None, why it cannot be read, its <sent> when it parses)
    payloads: list[tuple[bytes | None, str, datetime | None]] = []
    for name in files:
        try:
            with open(name, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            payloads.append((None, f"cannot read {name}: {exc.strerror or exc}", None))
            continue
        try:
            sent: datetime | None = parse_cap(data).sent
        except AlertError:
            sent = None  # refused below, and recorded as such
        payloads.append((data, "", sent))
    times = [t for _, _, t in payloads if t is not None]
    start = at_time if at_time is not None else (min(times) if times else None)
    clock = ManualClock(start) if start is not None else ManualClock()
    engine = Engine(city, clock=clock, area_matcher=_area_matcher(city))
    rows: list[dict[str, Any]] = []
    refused = False
    for payload, problem, when in payloads:
        if payload is None:
            refused = True
            rows.append(_alert_row(None, "refused", None, [], [problem]))
            continue
        if at_time is None and when is not None and when > clock.now():
            engine.advance(when)
        try:
            result = engine.receive_alert(payload)
        except AlertError as exc:
            refused = True
            rows.append(_alert_row(exc.alert, "refused", None, [], [str(exc)]))
            continue
        first = next(e for e in result.events if e.type in ("alert.received", "alert.refused"))
        rows.append(
            _alert_row(
                first.data.get("identifier"),
                str(first.data["outcome"]),
                first.data.get("zone"),
                list(first.data.get("units") or ()),
                list(first.data.get("reasons") or [first.data.get("reason", "")]),
            )
        )
    if until_time is not None:
        if until_time < clock.now():
            raise GridgovError(
                f"--until {until_time.isoformat()} is before the last alert was received "
                f"({clock.now().isoformat()}); expected a later time"
            )
        engine.advance(until_time)
    counts = {zone: len(engine.under(zone)) for zone in ("sealed", "controlled", "precaution")}
    if as_json:
        click.echo(json.dumps({"alerts": rows, "zones": counts}, ensure_ascii=False, indent=2))
    else:
        for name, row in zip(files, rows, strict=True):
            units = ", ".join(row["units"]) or "-"
            zone = row["zone"] or "-"
            click.echo(f"{name}: {row['identifier'] or '?'}: {row['outcome']} {zone} on {units}")
            for reason in row["reasons"]:
                click.echo(f"  - {reason}")
        click.echo("compounds: " + ", ".join(f"{zone} {count}" for zone, count in counts.items()))
    if refused:
        sys.exit(1)


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
@click.argument("rules_file", type=click.Path())
def check(rules_file: str) -> None:
    """Validate a rules file or a city bundle (a folder with city.toml): 'ok', or one
    line per problem (file:line: key.path: problem)."""
    from gridgov.cities import check_bundle, is_bundle
    from gridgov.errors import RulesError
    from gridgov.rules import load_rules

    if is_bundle(rules_file):
        problems: list[Any] = list(check_bundle(rules_file))
        if not problems:
            problems = _coverage_problems(rules_file)
        for problem in problems:
            click.echo(str(problem))
        if problems:
            sys.exit(1)
        click.echo("ok")
        return
    try:
        load_rules(rules_file)
    except RulesError as exc:
        for problem in exc.problems:
            click.echo(str(problem))
        sys.exit(1)
    click.echo("ok")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    Args:
        argv: arguments (without the program name); defaults to ``sys.argv[1:]``.
    """
    try:
        cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="gridgov",
            standalone_mode=False,
        )
    except GridgovError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        click.echo(f"gridgov: error: {first}", err=True)
        return 1
    except click.exceptions.Abort:
        click.echo("gridgov: aborted", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def run() -> None:
    """Console-script entry point: exit with :func:`main`'s code."""
    sys.exit(main())

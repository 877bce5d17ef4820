"""The ``gridgov`` command.

Every gridgov error becomes one line on stderr and exit code 1; usage errors
exit 2 (click's convention); nothing prints a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
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
def export(
    preset: str | None,
    bundle: str | None,
    seed: int,
    fmt: str,
    out: str | None,
    levels: tuple[str, ...],
) -> None:
    """Export the command chain as GraphML, node-link JSON or a mermaid diagram,
    the city's geometry as GeoJSON (RFC 7946; the geo extra), or the whole city
    as a city bundle (a folder: --out DIR)."""
    if levels and fmt != "geojson":
        raise click.UsageError("--level applies to --format geojson only")
    if fmt == "bundle" and out is None:
        raise click.UsageError("--format bundle writes a folder: give --out DIR")
    city, _ = _city(preset, bundle, seed)
    if fmt == "bundle":
        assert out is not None
        click.echo(str(city.save(out)))
        return
    chain = city.chain
    if fmt == "geojson":
        text = _geojson(city, levels)
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


def _geojson(city: City, levels: Sequence[str]) -> str:
    """The city's geometry as GeoJSON: synthetic shapes for a preset."""
    from gridgov.geo import dumps_geojson, synthesize

    return dumps_geojson(city, synthesize(city), levels=levels or None)


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
    ):
        value = figures.get(name)
        shown_value = (
            "-"
            if value is None
            else (f"{value:,}" if isinstance(value, int | float) else str(value))
        )
        metrics.add_row(name.replace("_", " "), shown_value)
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
        problems = check_bundle(rules_file)
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

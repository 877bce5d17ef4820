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


@cli.command()
@click.option("--preset", default="jiamusi", show_default=True, help="Preset city to build.")
@click.option("--seed", default=0, show_default=True, help="Random seed of the preset.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def city(preset: str, seed: int, as_json: bool) -> None:
    """Print the counts of a built city."""
    summary = _preset(preset, seed).summary()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        Console().print(_summary_table(summary, f"{summary['name']} (preset {preset!r})"))


@cli.command()
@click.option("--preset", default="jiamusi", show_default=True, help="Preset city to export.")
@click.option("--seed", default=0, show_default=True, help="Random seed of the preset.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["graphml", "json", "mermaid"]),
    default="json",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write to this file instead of standard output.",
)
def export(preset: str, seed: int, fmt: str, out: str | None) -> None:
    """Export the command chain as GraphML, node-link JSON or a mermaid diagram."""
    chain = _preset(preset, seed).chain
    if fmt == "graphml":
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


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def demo(as_json: bool) -> None:
    """The main job: build the Jiamusi preset and print it beside the published figures."""
    from gridgov.presets import PUBLISHED, jiamusi

    summary = jiamusi().summary()
    rows = [
        ("grids: urban", PUBLISHED["grids"]["urban"], summary["grids"]["urban"]),  # type: ignore[index]
        ("grids: rural", PUBLISHED["grids"]["rural"], summary["grids"]["rural"]),  # type: ignore[index]
        ("grids: exclusive", PUBLISHED["grids"]["exclusive"], summary["grids"]["exclusive"]),  # type: ignore[index]
        ("grids: total", PUBLISHED["grids"]["total"], summary["grids"]["total"]),  # type: ignore[index]
        ("grid workers", PUBLISHED["grid_workers"], summary["grid_workers"]),
        ("households", "about 1.03 million", summary["households"]),
    ]
    if as_json:
        click.echo(json.dumps({"city": summary, "published": PUBLISHED}, indent=2))
        return
    table = Table(title="Jiamusi: published figures and the built preset")
    table.add_column("figure")
    table.add_column("published", justify="right")
    table.add_column("gridgov", justify="right")
    for name, published, built in rows:
        shown = f"{published:,}" if isinstance(published, int) else str(published)
        table.add_row(name, shown, f"{built:,}")
    console = Console()
    console.print(table)
    console.print(_summary_table(summary, "Jiamusi preset: counts"))


@cli.command()
@click.argument("machine", type=click.Choice(["mode", "zone"]))
def diagram(machine: str) -> None:
    """Print the mermaid state diagram of the community mode or compound zone machine."""
    from gridgov.modes import mode_board, zone_board

    board = mode_board([]) if machine == "mode" else zone_board([])
    click.echo(board.diagram(), nl=False)


@cli.command()
@click.argument("rules_file", type=click.Path(dir_okay=False))
def check(rules_file: str) -> None:
    """Validate a rules file: 'ok', or one line per problem (file:line: key.path: problem)."""
    from gridgov.errors import RulesError
    from gridgov.rules import load_rules

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

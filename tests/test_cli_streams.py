"""Streams (issue #16, item 5): results on standard output, diagnostics on standard error.

Every command that prints a table takes ``--json`` and then prints one JSON
document on standard output; with ``--quiet`` (where a command has
progress) a successful command writes nothing at all on standard error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from gridgov.cli import cli, main
from gridgov.testing import cap_message

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "examples" / "scenarios" / "small.toml"

UNITS = """\
id,parent,level,kind,name,households
330100,,city,,Lakeside,
330102,330100,district,urban_district,Old Town,
330102001,330102,street,street,Bridge Street,
330102001001,330102001,community,,Bridge Community,2400
"""

#: The commands whose human output is a table (or lines of results): each has --json.
TABLE_COMMANDS = {"city", "synth", "demo", "simulate", "sweep", "alert"}
#: The commands whose output is already a document or a path: no table, no --json.
DOCUMENT_COMMANDS = {"export", "diagram", "report", "check"}


def _synth(tmp: Path) -> list[str]:
    units = tmp / "units.csv"
    units.write_text(UNITS, encoding="utf-8")
    return ["synth", str(units), "--out", str(tmp / "bundle"), "--quiet"]


def _sweep(tmp: Path) -> list[str]:
    scenario = tmp / "short.toml"
    scenario.write_text(
        SMALL.read_text(encoding="utf-8").replace("days = 30", "days = 3"), encoding="utf-8"
    )
    sweep = tmp / "sweep.toml"
    sweep.write_text(
        'scenario = "short.toml"\nreplicates = 1\n[parameters]\n"staffing.volunteers" = [1.0]\n',
        encoding="utf-8",
    )
    return ["sweep", str(sweep), "--out", str(tmp / "sweep"), "--workers", "1", "--quiet"]


def _alert(tmp: Path) -> list[str]:
    from datetime import datetime, timedelta, timezone

    when = datetime(2022, 9, 17, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    alert = tmp / "alert.xml"
    alert.write_text(cap_message("A", when, areas=[("东区", ["990101001001"])]), encoding="utf-8")
    return ["alert", "--preset", "small", str(alert)]


#: command -> argv (without --json) for a quick successful run in a temporary folder.
ARGV: dict[str, Callable[[Path], list[str]]] = {
    "city": lambda tmp: ["city", "--preset", "small"],
    "synth": _synth,
    "simulate": lambda tmp: [
        "simulate",
        str(SMALL),
        "--out",
        str(tmp / "run"),
        "--quiet",
        "--no-plots",
    ],
    "sweep": _sweep,
    "alert": _alert,
    "demo": lambda tmp: ["demo", "--out", str(tmp / "demo"), "--quiet"],
}
#: What each command's JSON holds at the top level (a key it must have).
KEY = {
    "city": "name",
    "synth": "summary",
    "simulate": "summary",
    "sweep": "runs",
    "alert": "alerts",
    "demo": "published",
}


def _params() -> list[object]:
    slow = {"demo"}  # the whole 17 September run: CI runs it
    return [
        pytest.param(name, marks=pytest.mark.slow) if name in slow else name
        for name in sorted(TABLE_COMMANDS)
    ]


def test_every_command_is_classified() -> None:
    """Each command either prints a table (and is driven below) or prints a document."""
    assert set(cli.commands) == TABLE_COMMANDS | DOCUMENT_COMMANDS
    assert set(ARGV) == TABLE_COMMANDS


@pytest.mark.parametrize("command", sorted(TABLE_COMMANDS))
def test_every_table_command_takes_json(command: str) -> None:
    """--json is an option of every command that prints a table."""
    options = {opt for param in cli.commands[command].params for opt in param.opts}
    assert "--json" in options


@pytest.mark.parametrize("command", _params())
def test_json_is_one_document_on_stdout(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --json, standard output parses as JSON and standard error stays empty."""
    code = main([*ARGV[command](tmp_path), "--json"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    shown = json.loads(out)
    assert KEY[command] in shown


@pytest.mark.parametrize("command", sorted(TABLE_COMMANDS - {"demo"}))
def test_the_table_goes_to_stdout(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --json, the results are on standard output and nothing is on standard error."""
    code = main(ARGV[command](tmp_path))
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out.strip()
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)

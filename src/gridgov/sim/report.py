"""The report of a run: one self-contained HTML page in the run folder.

The page leads with what its reader came for. For a run on the full Jiamusi
preset (the demo), the published figures of the 17 September response beside
the simulated ones; for every run, its figures grouped (cases, measures,
staffing, requests) and labelled with their units and thousands separators;
then the map of the run when there is one, the plots (axis labels with
units, a zone in the same colour everywhere, posts by role as small
multiples), the scenario's parameters, and the last day's metrics.

The page is made of *sections* (:data:`SECTIONS`), each a function of the
run folder that gives its HTML, in page order; :func:`add_section` puts
another one in (the map of the geometry extra is one). Everything is inline:
CSS, plots as base64 ``data:`` URIs, no script or font from the network, so
the page can be mailed or archived as one file. Every text from the run
folder is HTML-escaped.
"""

from __future__ import annotations

import base64
import csv
import html
import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from gridgov._files import check_writable, write_atomic
from gridgov.errors import GridgovError, MissingExtraError, RunFolderError
from gridgov.sim.results import (
    PLOT_GROUPS,
    REPORT_FILE,
    SCENARIO_FILE,
    SUPPLY_PLOT_GROUPS,
    RunData,
    read_run,
    read_zones,
    render_plots,
)

__all__ = ["SECTIONS", "Section", "add_section", "write_report"]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 60rem; padding: 0 1rem; color: #1d2330; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #d5d9e0; }
dl.run { display: grid; grid-template-columns: max-content auto; gap: 0.2rem 1rem; }
dl.run dt { font-weight: 600; }
dl.run dd { margin: 0; }
table { border-collapse: collapse; font-size: 0.92rem; }
th, td { padding: 0.25rem 0.8rem; border-bottom: 1px solid #e6e9ee; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; }
.notice { background: #fff6db; border-left: 4px solid #e0b000; padding: 0.6rem 1rem; }
code { background: #f1f3f6; padding: 0 0.2rem; }
h3 { font-size: 1rem; margin: 1.2rem 0 0.3rem; }
table.published { font-size: 1rem; margin: 0.6rem 0 1rem; }
table.published th { background: #f1f3f6; }
td.unit { color: #5b6573; }
details { margin: 1rem 0; }
summary { cursor: pointer; font-weight: 600; }
pre { background: #f6f7f9; padding: 0.6rem; overflow-x: auto; font-size: 0.85rem; }
""".strip()


def write_report(folder: Path | str) -> Path:
    """Write ``report.html`` into a run folder.

    The plots are the run's PNG files; when the run has none, they are drawn
    now if matplotlib is installed, and otherwise the page says which extra to
    install. The page is written whole (a temporary name, then a rename).

    Args:
        folder: a run folder written by :func:`gridgov.sim.results.write_run`.

    Returns:
        The path of the report.

    Raises:
        RunFolderError: the folder is not a run folder, is damaged, or cannot
            be written.
    """
    path = Path(folder)
    data = read_run(path)
    target = path / REPORT_FILE
    check_writable(
        target,
        folder=False,
        fail=lambda why: RunFolderError(f"cannot write the report {target}: {why}", path),
    )
    body: list[str] = []
    for name, section in SECTIONS:
        lines = section(path, data)
        if lines:
            body += [f'<section id="{_e(name)}">', *lines, "</section>"]
    try:
        write_atomic(target, _page(data, body))
    except OSError as error:
        message = f"cannot write the report {target}: {error.strerror or error}"
        raise RunFolderError(message, path) from None
    return target


#: A section of the page: the run folder and its data -> HTML lines ([] leaves it out).
Section = Callable[[Path, RunData], list[str]]


def add_section(name: str, section: Section, *, after: str | None = None) -> None:
    """Put a section into every report from now on (e.g. a map from an extra).

    Args:
        name: its id on the page (an anchor); replaces a section of that name.
        section: gives the section's HTML lines (escaped), or [] when it has
            nothing to show for a run.
        after: the section it follows (default: at the end).

    Raises:
        KeyError: ``after`` names no section.
    """
    names = [n for n, _ in SECTIONS]
    if name in names:
        SECTIONS[names.index(name)] = (name, section)
        return
    index = len(SECTIONS) if after is None else names.index(after) + 1
    SECTIONS.insert(index, (name, section))


def _published_section(path: Path, data: RunData) -> list[str]:
    """The published figures of Jiamusi beside the run's: runs on the full preset only."""
    from gridgov.sim._labels import published_rows
    from gridgov.sim.scenario import load_scenario

    try:
        scenario = load_scenario(path / SCENARIO_FILE)
    except GridgovError:
        return []
    choice = scenario.city
    if getattr(choice, "preset", None) != "jiamusi" or getattr(choice, "scale", 1.0) != 1.0:
        return []
    if getattr(choice, "path", None):
        return []
    try:
        city = scenario.build_city().summary()
        figures = {
            "grids": city["grids"],
            "grid_workers": city["grid_workers"],
            "households": city["households"],
            **{k: data.summary.get(k) for k in ("point_leads", "building_leads")},
            "deployed_members": data.summary.get("deployed_members"),
        }
        rows = published_rows(figures)
    except (GridgovError, KeyError, TypeError):
        return []
    out = [
        "<h2>Published figures and the simulation</h2>",
        "<p>Jiamusi, 17 September: the figures published for the response beside the "
        "ones this run gives.</p>",
        '<table class="published">',
        "<thead><tr><th>figure</th><th>published</th><th>gridgov</th></tr></thead>",
        "<tbody>",
    ]
    for name, then, now in rows:
        out.append(
            f'<tr><td>{_e(name)}</td><td class="num">{_e(then)}</td>'
            f'<td class="num">{_e(now)}</td></tr>'
        )
    out += ["</tbody>", "</table>"]
    return out


def _summary_section(path: Path, data: RunData) -> list[str]:
    from gridgov.sim._labels import figures, format_value

    out = ["<h2>Figures of the run</h2>"]
    for group, rows in figures(data.summary):
        out += [
            f"<h3>{_e(group)}</h3>",
            '<table class="figures">',
            "<thead><tr><th>figure</th><th>value</th><th>unit</th></tr></thead>",
            "<tbody>",
        ]
        for text, unit, value in rows:
            key = "seed" if text == "Seed" else ""
            out.append(
                f'<tr><td>{_e(text)}</td><td class="num">{_e(format_value(value, key))}</td>'
                f'<td class="unit">{_e(unit)}</td></tr>'
            )
        out += ["</tbody>", "</table>"]
    return out


def _map(path: Path, data: RunData) -> list[str]:
    return _map_section(path)


def _plots_section(path: Path, data: RunData) -> list[str]:
    images, notice = _images(path, data)
    out = ["<h2>Plots</h2>"]
    if notice is not None:
        out.append(f'<p class="notice">{_e(notice)}</p>')
    for title, png in images:
        encoded = base64.b64encode(png).decode("ascii")
        out += [
            "<figure>",
            f'<img alt="{_e(title)}" src="data:image/png;base64,{encoded}">',
            f"<figcaption>{_e(title)}</figcaption>",
            "</figure>",
        ]
    return out


def _parameters_section(path: Path, data: RunData) -> list[str]:
    """The scenario as run: its values by table, the rules in full below."""
    from gridgov._toml import parse
    from gridgov._toml import read_text as read_toml
    from gridgov.errors import ScenarioError

    try:
        text = read_toml(path / SCENARIO_FILE, ScenarioError, kind="scenario")
    except GridgovError:
        return []
    parsed = parse(text, str(path / SCENARIO_FILE))
    if not isinstance(parsed, dict):
        return []
    rules = parsed.get("rules", {})
    values = [(k, v) for k, v in _flatten(parsed) if not k.startswith("rules.")]
    out = ["<h2>Parameters of the scenario</h2>"]
    out += _table(("key", "value"), values)
    inline = rules.get("inline") if isinstance(rules, dict) else None
    if isinstance(inline, dict):
        marker = "[rules.inline]"
        rules_text = text[text.index(marker) :] if marker in text else ""
        out += [
            "<details>",
            "<summary>The rules of the run (as TOML)</summary>",
            f"<pre>{_e(rules_text)}</pre>",
            "</details>",
        ]
    return out


def _last_day_section(path: Path, data: RunData) -> list[str]:
    if not data.rows:
        return ["<h2>Last day</h2>", "<p>The run has no days.</p>"]
    last = data.rows[-1]
    day = last[data.columns.index("day")] if "day" in data.columns else len(data.rows)
    return [
        "<details>",
        f"<summary>Every metric on the last day (day {_e(_text(day))})</summary>",
        *_table(("metric", "value"), zip(data.columns, last, strict=True)),
        "</details>",
    ]


def _skipped_section(path: Path, data: RunData) -> list[str]:
    skipped = data.run_info.get("skipped", {})
    if not (isinstance(skipped, Mapping) and skipped):
        return []
    return ["<h2>Skipped parts of the run</h2>", *_table(("part", "why"), sorted(skipped.items()))]


def _images(path: Path, data: RunData) -> tuple[list[tuple[str, bytes]], str | None]:
    """The plots to embed as (title, PNG bytes), and a notice when there are none."""
    files = {str(name) for name in data.run_info.get("files", ())}
    images = [
        (title, (path / f"plot_{stem}.png").read_bytes())
        for stem, (_, title) in {**PLOT_GROUPS, **SUPPLY_PLOT_GROUPS}.items()
        if f"plot_{stem}.png" in files and (path / f"plot_{stem}.png").is_file()
    ]
    if images:
        return images, None
    try:
        drawn = render_plots(data.columns, data.rows)
    except MissingExtraError as missing:
        return [], f"No plots: {missing}, then run gridgov report again."
    if not drawn:
        return [], "No plots: the run has no column of the plotted series."
    return [(PLOT_GROUPS[stem][1], png) for stem, png in drawn.items()], None


def _supply_map_section(path: Path) -> list[str]:
    """The "Supplies" map: compounds shaded by household-days unsupplied (the geo and
    plot extras), when the run had supplies; a notice when it cannot be drawn."""
    table = path / "supplies_compounds.csv"
    if not table.is_file():
        return []
    title = "Map: household-days unsupplied"
    try:
        with table.open(encoding="utf-8", newline="") as stream:
            rows = list(csv.reader(stream))[1:]
        unsupplied = {r[0]: int(r[1]) for r in rows if len(r) == 2}
    except (OSError, ValueError, csv.Error) as error:
        return [f"<h2>{title}</h2>", f'<p class="notice">No map: {_e(str(error))}</p>']
    try:
        from gridgov.geo import CityGeometry, synthesize
        from gridgov.sim.scenario import load_scenario
        from gridgov.sim.supplies import supply_map_png

        city = load_scenario(path / SCENARIO_FILE).build_city()
        own = city.geometry
        png = supply_map_png(
            city, own if isinstance(own, CityGeometry) else synthesize(city), unsupplied
        )
    except GridgovError as error:
        return [f"<h2>{title}</h2>", f'<p class="notice">No map: {_e(str(error))}</p>']
    encoded = base64.b64encode(png).decode("ascii")
    caption = "Household-days without at least one supply category, per compound"
    return [
        f"<h2>{title}</h2>",
        "<figure>",
        f'<img alt="{_e(caption)}" src="data:image/png;base64,{encoded}">',
        f"<figcaption>{_e(caption)}</figcaption>",
        "</figure>",
    ]


def _map_section(path: Path) -> list[str]:
    """The "Map" section: compounds by zone (the geo extra), or a notice saying why not."""
    try:
        zone_days = read_zones(path)
    except GridgovError as error:
        return ["<h2>Map</h2>", f'<p class="notice">No map: {_e(str(error))}</p>']
    if not zone_days:
        return []
    try:
        from gridgov.geo import CityGeometry, synthesize
        from gridgov.geo.maps import MAP_CSS, ZoneDays, run_maps
    except MissingExtraError as missing:
        return [
            "<h2>Map</h2>",
            f'<p class="notice">No map: {_e(str(missing))}, then run gridgov report again.</p>',
        ]
    from gridgov.sim.scenario import load_scenario

    try:
        city = load_scenario(path / SCENARIO_FILE).build_city()
        own = city.geometry
        maps = run_maps(
            city,
            own if isinstance(own, CityGeometry) else synthesize(city),
            ZoneDays(tuple(d for d, _ in zone_days), tuple(z for _, z in zone_days)),
        )
    except GridgovError as error:
        return ["<h2>Map</h2>", f'<p class="notice">No map: {_e(str(error))}</p>']
    out = [f"<style>\n{MAP_CSS}\n</style>", "<h2>Map: compounds by zone</h2>"]
    if maps.notice:
        out.append(f'<p class="notice">{_e(maps.notice)}</p>')
    for title, png in (
        ("Compounds by zone on the peak day", maps.peak_png),
        ("Compounds by zone over the run", maps.strip_png),
    ):
        if png is not None:
            encoded = base64.b64encode(png).decode("ascii")
            out += [
                "<figure>",
                f'<img alt="{_e(title)}" src="data:image/png;base64,{encoded}">',
                f"<figcaption>{_e(title)}</figcaption>",
                "</figure>",
            ]
    out += ["<h3>Interactive map</h3>", maps.interactive]
    return out


def _page(data: RunData, body: list[str]) -> str:
    from gridgov.sim._labels import format_value

    info = data.run_info
    name = str(info.get("scenario", ""))
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>gridgov run: {_e(name)}</title>",
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
        f"<h1>Scenario {_e(name)}</h1>",
        '<dl class="run">',
    ]
    facts = [
        ("seed", format_value(info.get("seed"), "seed")),
        ("days", format_value(info.get("days"))),
        ("gridgov version", str(info.get("gridgov_version", "-"))),
    ]
    out += [f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts]
    out.append("</dl>")
    out += body
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def _table(head: tuple[str, str], rows: Iterable[tuple[Any, Any]]) -> list[str]:
    out = ["<table>", f"<thead><tr><th>{_e(head[0])}</th><th>{_e(head[1])}</th></tr></thead>"]
    out.append("<tbody>")
    for key, value in rows:
        cls = ' class="num"' if _is_number(value) else ""
        out.append(f"<tr><td>{_e(str(key))}</td><td{cls}>{_e(_text(value))}</td></tr>")
    out += ["</tbody>", "</table>"]
    return out


def _flatten(value: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Nested summary figures as (dotted key, value), keys sorted."""
    for key in sorted(value, key=str):
        item = value[key]
        name = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            yield from _flatten(item, f"{name}.")
        else:
            yield name, item


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _text(value: Any) -> str:
    """A value as shown on the page: floats to four decimals, lists joined."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            return str(number)
        if number != 0 and abs(number) < 0.001:
            return f"{number:.3g}"
        return f"{number:.4f}".rstrip("0").rstrip(".")
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, Mapping):
        return "{}" if not value else ", ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)


def _e(text: str) -> str:
    return html.escape(text, quote=True)


#: The sections of the page, in order: (id, what gives its HTML). The map
#: (the geometry extra) follows the figures: an emergency manager looks first
#: at what is sealed where.
SECTIONS: list[tuple[str, Section]] = [
    ("published", _published_section),
    ("summary", _summary_section),
    ("map", _map),
    ("supplies-map", lambda path, data: _supply_map_section(path)),
    ("plots", _plots_section),
    ("parameters", _parameters_section),
    ("last-day", _last_day_section),
    ("skipped", _skipped_section),
]

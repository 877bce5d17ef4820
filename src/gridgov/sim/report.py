"""The report of a run: one self-contained HTML page in the run folder.

The page has inline CSS and the plots embedded as base64 ``data:`` URIs, so it
can be mailed or archived as a single file. It shows the scenario's name, the
seed and gridgov version, the summary table, the plots and the last day's
metrics. Every text from the run folder is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import math
import numbers
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from gridgov.errors import GridgovError, MissingExtraError
from gridgov.sim.results import (
    PLOT_GROUPS,
    REPORT_FILE,
    SCENARIO_FILE,
    RunData,
    read_run,
    read_zones,
    render_plots,
)

__all__ = ["write_report"]

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
""".strip()


def write_report(folder: Path | str) -> Path:
    """Write ``report.html`` into a run folder.

    The plots are the run's PNG files; when the run has none, they are drawn
    now if matplotlib is installed, and otherwise the page says which extra to
    install.

    Args:
        folder: a run folder written by :func:`gridgov.sim.results.write_run`.

    Returns:
        The path of the report.

    Raises:
        RunFolderError: the folder is not a run folder, or is damaged.
    """
    path = Path(folder)
    data = read_run(path)
    images, notice = _images(path, data)
    maps = _map_section(path)
    target = path / REPORT_FILE
    target.write_text(_page(data, images, notice, maps), encoding="utf-8", newline="\n")
    return target


def _images(path: Path, data: RunData) -> tuple[list[tuple[str, bytes]], str | None]:
    """The plots to embed as (title, PNG bytes), and a notice when there are none."""
    files = {str(name) for name in data.run_info.get("files", ())}
    images = [
        (title, (path / f"plot_{stem}.png").read_bytes())
        for stem, (_, title) in PLOT_GROUPS.items()
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


def _page(
    data: RunData,
    images: list[tuple[str, bytes]],
    notice: str | None,
    maps: list[str] | None = None,
) -> str:
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
        ("seed", info.get("seed")),
        ("gridgov version", info.get("gridgov_version")),
        ("days", info.get("days")),
    ]
    out += [f"<dt>{_e(k)}</dt><dd>{_e(_text(v))}</dd>" for k, v in facts]
    out.append("</dl>")

    out.append("<h2>Summary</h2>")
    out += _table(("figure", "value"), _flatten(data.summary))

    # An emergency manager looks first at what is sealed where.
    out += maps or []

    out.append("<h2>Plots</h2>")
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

    if data.rows:
        last = data.rows[-1]
        day = last[data.columns.index("day")] if "day" in data.columns else len(data.rows)
        out.append(f"<h2>Last day (day {_e(_text(day))})</h2>")
        out += _table(("metric", "value"), zip(data.columns, last, strict=True))
    else:
        out += ["<h2>Last day</h2>", "<p>The run has no days.</p>"]

    skipped = info.get("skipped", {})
    if isinstance(skipped, Mapping) and skipped:
        out.append("<h2>Skipped parts of the run</h2>")
        out += _table(("part", "why"), sorted(skipped.items()))

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

"""Maps people look at: compounds coloured by zone, static (PNG) and interactive (inline SVG).

* :func:`zone_map_png`: the compounds by zone on one day (the peak day of a
  run by default), with community outlines; matplotlib (the ``plot`` extra).
* :func:`zone_strip_png`: a strip of small maps over the run.
* :func:`zone_map_html`: a self-contained HTML fragment (inline SVG, a few
  lines of JavaScript, no network, no CDN): a day slider, and hovering a
  compound shows its id, name, community, households and zone that day.

A run's zones are given as :class:`ZoneDays`: for each simulated day, the
zone of every compound that is not ``open``. The map shows the part of the
city where anything happened (every compound ever out of ``open``, with a
margin), or all compounds when nothing did.
"""

from __future__ import annotations

import html
import io
import json
import math
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import shapely

from gridgov.city import City
from gridgov.errors import MissingExtraError
from gridgov.geo.geometry import CityGeometry
from gridgov.model import Level

__all__ = [
    "MAP_CSS",
    "ZONE_COLOURS",
    "RunMaps",
    "ZoneDays",
    "run_maps",
    "zone_map_html",
    "zone_map_png",
    "zone_strip_png",
]

#: Fill colour of each zone, lightest to hottest.
ZONE_COLOURS: Mapping[str, str] = {
    "open": "#dfe5ec",
    "precaution": "#f2c94c",
    "controlled": "#f2994a",
    "sealed": "#c0392b",
}
_ZONES = tuple(ZONE_COLOURS)
_OUTLINE = "#5b6573"
_LAND = "#f1f3f5"


@attrs.frozen
class ZoneDays:
    """Zones of compounds day by day: what a map of a run shows."""

    #: Day numbers, in order.
    days: tuple[int, ...]
    #: For each day, compound -> zone for every compound not ``open``.
    zones: tuple[Mapping[str, str], ...]

    def __attrs_post_init__(self) -> None:
        if len(self.days) != len(self.zones):
            raise ValueError(f"{len(self.days)} days but {len(self.zones)} zone maps")

    @property
    def peak(self) -> int:
        """Index of the day with the most sealed compounds (the first such day; 0 if none)."""
        if not self.days:
            return 0
        counts = [sum(1 for z in day.values() if z == "sealed") for day in self.zones]
        return int(np.argmax(counts))

    def ever(self) -> set[str]:
        """Compounds out of ``open`` on at least one day."""
        out: set[str] = set()
        for day in self.zones:
            out.update(day)
        return out


# ------------------------------------------------------------------ framing


def _frame(
    city: City, geometry: CityGeometry, zone_days: ZoneDays
) -> tuple[list[str], tuple[float, float, float, float]]:
    """The compounds to draw and the metric box (x0, y0, x1, y1) that frames them."""
    compounds = [c for c in city.compounds if c in geometry]
    hot = [c for c in compounds if c in zone_days.ever()] or compounds
    if not hot:
        return [], (0.0, 0.0, 1.0, 1.0)
    x0, y0, x1, y1 = shapely.total_bounds(geometry.metric(hot))
    pad = max(x1 - x0, y1 - y0) * 0.08 + 200.0
    box = (float(x0 - pad), float(y0 - pad), float(x1 + pad), float(y1 + pad))
    frame = shapely.box(*box)
    shapely.prepare(frame)
    shown = [
        c for c, s in zip(compounds, geometry.metric(compounds), strict=True) if frame.intersects(s)
    ]
    return shown, box


def _context(
    city: City, geometry: CityGeometry, box: tuple[float, float, float, float]
) -> list[Any]:
    """Community outlines inside the frame (metric)."""
    frame = shapely.box(*box)
    shapely.prepare(frame)
    ids = [c for c in city.chain.units(Level.COMMUNITY) if c in geometry]
    shapes = geometry.metric(ids)
    return [s for s in shapes if frame.intersects(s)]


# ------------------------------------------------------------------ static maps


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingExtraError("matplotlib", "plot", exc) from None
    return plt


def _draw(
    ax: Any,
    city: City,
    geometry: CityGeometry,
    zones: Mapping[str, str],
    shown: list[str],
    box: Any,
    context: list[Any],
    lw: float,
) -> None:
    from matplotlib.collections import LineCollection, PathCollection

    land = _paths(context)
    ax.add_collection(PathCollection(land, facecolors=_LAND, edgecolors="none", zorder=0))
    paths: list[Any] = []
    colours: list[str] = []
    for compound, shape in zip(shown, geometry.metric(shown), strict=True):
        mine = _paths([shape])
        paths += mine
        colours += [ZONE_COLOURS[zones.get(compound, "open")]] * len(mine)
    ax.add_collection(
        PathCollection(paths, facecolors=colours, edgecolors="white", linewidths=lw * 0.5, zorder=1)
    )
    lines = [np.asarray(r.coords) for s in context for p in shapely.get_parts(s) for r in _rings(p)]
    ax.add_collection(LineCollection(lines, colors=_OUTLINE, linewidths=lw, zorder=2))
    ax.set_xlim(box[0], box[2])
    ax.set_ylim(box[1], box[3])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def _day(day: Any) -> str:
    return f"{day:g}" if isinstance(day, int | float) else str(day)


def _rings(polygon: Any) -> list[Any]:
    return [polygon.exterior, *polygon.interiors]


def _paths(shapes: Any) -> list[Any]:
    """Matplotlib paths (holes included) of metric (Multi)Polygons, one per part."""
    from matplotlib.path import Path

    out = []
    for shape in shapes:
        for part in shapely.get_parts(shape):
            rings = [np.asarray(r.coords)[:, :2] for r in _rings(part)]
            codes = []
            for ring in rings:
                codes += [Path.MOVETO] + [Path.LINETO] * (len(ring) - 2) + [Path.CLOSEPOLY]
            out.append(Path(np.concatenate(rings), codes))
    return out


def _legend(fig: Any, zones: Mapping[str, str] | None = None) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=c, edgecolor="#888888", label=z) for z, c in ZONE_COLOURS.items()]
    fig.legend(handles=handles, loc="lower center", ncol=4, frameon=False, fontsize=9)


def _scale_bar(ax: Any, box: Any) -> None:
    width = box[2] - box[0]
    length = 10 ** math.floor(math.log10(width / 4))
    if width / length > 8:
        length *= 2
    x, y = box[0] + width * 0.04, box[1] + (box[3] - box[1]) * 0.04
    ax.plot([x, x + length], [y, y], color="#1d2330", lw=2)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(x + length / 2, y, label, ha="center", va="bottom", fontsize=8)


def zone_map_png(
    city: City, geometry: CityGeometry, zone_days: ZoneDays, day_index: int | None = None
) -> bytes:
    """A PNG map of the compounds by zone on one day (the peak day by default).

    Raises:
        MissingExtraError: matplotlib (the ``plot`` extra) is not installed.
    """
    plt = _pyplot()
    index = zone_days.peak if day_index is None else day_index
    zones = zone_days.zones[index] if zone_days.days else {}
    day = zone_days.days[index] if zone_days.days else 0
    shown, box = _frame(city, geometry, zone_days)
    context = _context(city, geometry, box)
    fig, ax = plt.subplots(figsize=(8, 7), dpi=100)
    try:
        _draw(ax, city, geometry, zones, shown, box, context, 0.6)
        _scale_bar(ax, box)
        sealed = sum(1 for z in zones.values() if z == "sealed")
        synthetic = " (synthetic geometry)" if geometry.synthetic else ""
        ax.set_title(
            f"Compounds by zone on day {_day(day)}: {sealed} sealed{synthetic}", fontsize=11
        )
        _legend(fig)
        fig.subplots_adjust(left=0.02, right=0.98, top=0.94, bottom=0.07)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    return buffer.getvalue()


def zone_strip_png(
    city: City, geometry: CityGeometry, zone_days: ZoneDays, panels: int = 6
) -> bytes:
    """A PNG strip of ``panels`` small maps over the run, evenly spaced in time.

    Raises:
        MissingExtraError: matplotlib (the ``plot`` extra) is not installed.
    """
    plt = _pyplot()
    count = max(1, min(panels, len(zone_days.days)))
    picks = (
        sorted({round(i * (len(zone_days.days) - 1) / max(1, count - 1)) for i in range(count)})
        if zone_days.days
        else [0]
    )
    shown, box = _frame(city, geometry, zone_days)
    context = _context(city, geometry, box)
    fig, axes = plt.subplots(1, len(picks), figsize=(2.2 * len(picks), 2.6), dpi=100, squeeze=False)
    try:
        for ax, index in zip(axes[0], picks, strict=True):
            zones = zone_days.zones[index] if zone_days.days else {}
            _draw(ax, city, geometry, zones, shown, box, context, 0.3)
            day = zone_days.days[index] if zone_days.days else 0
            sealed = sum(1 for z in zones.values() if z == "sealed")
            ax.set_title(f"day {_day(day)}: {sealed} sealed", fontsize=8)
        _legend(fig)
        fig.subplots_adjust(left=0.01, right=0.99, top=0.88, bottom=0.16, wspace=0.05)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    return buffer.getvalue()


# ------------------------------------------------------------------ interactive map

_WIDTH = 900.0

_SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById("zm-data").textContent);
  var svg = document.getElementById("zm-svg");
  var paths = svg.querySelectorAll("path.zm-c");
  var slider = document.getElementById("zm-day");
  var label = document.getElementById("zm-label");
  var tip = document.getElementById("zm-tip");
  function show(index) {
    var codes = data.zones[index];
    for (var i = 0; i < paths.length; i++) {
      paths[i].setAttribute("fill", data.colours[+codes.charAt(i)]);
    }
    var sealed = 0;
    for (var j = 0; j < codes.length; j++) { if (codes.charAt(j) === "3") { sealed++; } }
    label.textContent = "day " + data.days[index] + ": " + sealed + " sealed";
  }
  slider.addEventListener("input", function () { show(+slider.value); });
  svg.addEventListener("mousemove", function (event) {
    var target = event.target;
    if (!target.classList || !target.classList.contains("zm-c")) { tip.hidden = true; return; }
    var i = +target.getAttribute("data-i");
    var info = data.info[i];
    var zone = data.names[+data.zones[+slider.value].charAt(i)];
    tip.textContent = "";
    var lines = [info[0] + "  " + info[1], "community " + info[2],
                 info[3] + " households", "zone: " + zone];
    for (var k = 0; k < lines.length; k++) {
      var row = document.createElement("div");
      row.textContent = lines[k];
      tip.appendChild(row);
    }
    var box = svg.parentNode.getBoundingClientRect();
    tip.style.left = (event.clientX - box.left + 14) + "px";
    tip.style.top = (event.clientY - box.top + 14) + "px";
    tip.hidden = false;
  });
  svg.addEventListener("mouseleave", function () { tip.hidden = true; });
  show(+slider.value);
})();
""".strip()

#: CSS the fragment needs (the report page includes it once).
MAP_CSS = """
.zm { position: relative; max-width: 100%; }
.zm svg { width: 100%; height: auto; max-height: 75vh; background: #ffffff;
  border: 1px solid #d5d9e0; }
.zm path.zm-land { fill: #f1f3f5; stroke: none; }
.zm path.zm-c { stroke: #ffffff; stroke-width: 0.4; }
.zm path.zm-c:hover { stroke: #1d2330; stroke-width: 1.5; }
.zm path.zm-ctx { fill: none; stroke: #5b6573; stroke-width: 0.6; pointer-events: none; }
.zm .zm-controls { display: flex; gap: 1rem; align-items: center; margin: 0.4rem 0; }
.zm #zm-day { flex: 1; }
.zm #zm-tip { position: absolute; background: #ffffff; border: 1px solid #9aa3ae;
  padding: 0.3rem 0.5rem; font-size: 0.85rem; pointer-events: none; white-space: nowrap;
  box-shadow: 0 2px 6px rgba(0,0,0,0.15); }
.zm ul.zm-legend { list-style: none; padding: 0; display: flex; gap: 1.2rem; font-size: 0.9rem; }
.zm ul.zm-legend span { display: inline-block; width: 0.9rem; height: 0.9rem;
  vertical-align: -0.1rem; margin-right: 0.3rem; border: 1px solid #9aa3ae; }
""".strip()


def _path(shape: Any, x0: float, y1: float, scale: float) -> str:
    """SVG path data of a metric (Multi)Polygon, y flipped, to 0.1 px."""
    out = []
    for part in shapely.get_parts(shape):
        for ring in (part.exterior, *part.interiors):
            xy = np.asarray(ring.coords)[:-1]
            px = np.round((xy[:, 0] - x0) * scale, 1)
            py = np.round((y1 - xy[:, 1]) * scale, 1)
            pts = " ".join(f"{a:g} {b:g}" for a, b in zip(px, py, strict=True))
            out.append(f"M{pts}Z")
    return "".join(out)


def zone_map_html(city: City, geometry: CityGeometry, zone_days: ZoneDays) -> str:
    """A self-contained HTML fragment: the interactive map of compounds by zone.

    Inline SVG and a short script, no network: a day slider (starting on the
    peak day) recolours the compounds; hovering one shows its id, name,
    community, households and zone. Include :data:`MAP_CSS` once in the page.
    """
    shown, (x0, y0, x1, y1) = _frame(city, geometry, zone_days)
    scale = _WIDTH / max(x1 - x0, 1.0)
    height = (y1 - y0) * scale
    tolerance = 0.4 / scale  # under half a pixel
    metric: Any = []
    context: Any = []
    if shown:
        metric = shapely.simplify(geometry.metric(shown), tolerance, preserve_topology=True)
        found = _context(city, geometry, (x0, y0, x1, y1))
        around = np.empty(len(found), dtype=object)
        around[:] = found
        context = shapely.simplify(around, tolerance)
    paths = [
        f'<path class="zm-c" data-i="{i}" d="{_path(s, x0, y1, scale)}"/>'
        for i, s in enumerate(metric)
    ]
    context_d = [_path(s, x0, y1, scale) for s in context]
    land = [f'<path class="zm-land" d="{d}"/>' for d in context_d]
    outlines = [f'<path class="zm-ctx" d="{d}"/>' for d in context_d]
    code = {z: str(i) for i, z in enumerate(_ZONES)}
    days = list(zone_days.days) or [0]
    zones = ["".join(code[day.get(c, "open")] for c in shown) for day in (zone_days.zones or ({},))]
    info = [
        [c, city.compounds[c].name, city.compounds[c].community, city.households(c)] for c in shown
    ]
    data = {
        "days": days,
        "zones": zones,
        "info": info,
        "names": list(_ZONES),
        "colours": [ZONE_COLOURS[z] for z in _ZONES],
    }
    peak = zone_days.peak
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    legend = "".join(
        f'<li><span style="background:{c}"></span>{html.escape(z)}</li>'
        for z, c in ZONE_COLOURS.items()
    )
    note = (
        "Synthetic geometry: the shapes are drawn by gridgov, not real boundaries. "
        if geometry.synthetic
        else ""
    )
    return "\n".join(
        [
            '<div class="zm">',
            '<div class="zm-controls">',
            f'<input type="range" id="zm-day" min="0" max="{len(days) - 1}" value="{peak}" '
            'aria-label="day of the run">',
            '<output id="zm-label" for="zm-day"></output>',
            "</div>",
            f'<svg id="zm-svg" viewBox="0 0 {_WIDTH:g} {height:.0f}" '
            f'xmlns="http://www.w3.org/2000/svg" role="img" '
            f'aria-label="compounds by zone, {len(shown)} compounds">',
            f"<g>{''.join(land)}</g>",
            f"<g>{''.join(paths)}</g>",
            f"<g>{''.join(outlines)}</g>",
            "</svg>",
            '<div id="zm-tip" hidden></div>',
            f'<ul class="zm-legend">{legend}</ul>',
            f"<p>{html.escape(note)}Hover a compound for its figures; move the slider "
            "to see another day. Outlines are communities.</p>",
            f'<script type="application/json" id="zm-data">{payload}</script>',
            f"<script>\n{_SCRIPT}\n</script>",
            "</div>",
        ]
    )


@attrs.frozen
class RunMaps:
    """The maps of one run, as the report embeds them."""

    #: Compounds by zone on the peak day (PNG), or None without matplotlib.
    peak_png: bytes | None
    #: Small maps over the run (PNG), or None without matplotlib.
    strip_png: bytes | None
    #: The interactive map (HTML fragment; needs :data:`MAP_CSS`).
    interactive: str
    #: Why the PNG maps are missing ("" when they are there).
    notice: str


def run_maps(city: City, geometry: CityGeometry, zone_days: ZoneDays) -> RunMaps:
    """The static maps (when matplotlib is installed) and the interactive map of a run."""
    interactive = zone_map_html(city, geometry, zone_days)
    try:
        peak = zone_map_png(city, geometry, zone_days)
        strip = zone_strip_png(city, geometry, zone_days)
    except MissingExtraError as missing:
        return RunMaps(None, None, interactive, f"No static maps: {missing}")
    return RunMaps(peak, strip, interactive, "")

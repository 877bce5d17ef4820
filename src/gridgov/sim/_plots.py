"""The plots of a run: readable at a glance, one PNG per group of metrics.

Each plot has axis labels with units, thousands separators on its counts,
and the same colour for a zone (or a mode) wherever it appears, the colours
of the report's map. Posts are drawn as small multiples, one panel per role
(needed, filled and short), instead of one chart with thirty lines; tickets
as two panels (the flow, then the escalations). Drawn with matplotlib's
``Figure`` (no pyplot: no global state, safe in worker processes); the same
rows give the same bytes.
"""

from __future__ import annotations

import importlib
import io
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gridgov.errors import MissingExtraError

__all__ = ["MODE_COLOURS", "ZONE_COLOURS", "draw"]

#: The colour of each compound zone, in every plot and in the report's map.
ZONE_COLOURS: Mapping[str, str] = {
    "open": "#dfe5ec",
    "precaution": "#f2c94c",
    "controlled": "#f2994a",
    "sealed": "#c0392b",
}
#: The colour of each community mode.
MODE_COLOURS: Mapping[str, str] = {
    "normal": "#6c8ebf",
    "alert": "#f2c94c",
    "emergency": "#c0392b",
    "recovery": "#27ae60",
}
#: Posts: what a role needs, what is filled, what is short.
_POST_COLOURS = {"needed": "#5b6573", "filled": "#2f80ed", "short": "#c0392b"}
# "open" compounds are drawn darker than on the map, where they are background.
_LINE_ZONES = {**ZONE_COLOURS, "open": "#8a97a8"}

_DAY_LABEL = "day of the run"


def _require(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingExtraError(module.partition(".")[0], "plot", error) from error


class _Canvas:
    """matplotlib, imported once per call of :func:`draw`."""

    def __init__(self) -> None:
        _require("matplotlib")
        self.figure_module = _require("matplotlib.figure")
        self.ticker = _require("matplotlib.ticker")
        _require("matplotlib.backends.backend_agg")

    def figure(self, rows: int, cols: int, width: float, height: float) -> tuple[Any, list[Any]]:
        figure = self.figure_module.Figure(figsize=(width, height), dpi=100, layout="constrained")
        axes = figure.subplots(rows, cols, squeeze=False, sharex=True)
        return figure, [a for row in axes for a in row]

    def style(self, axes: Any, ylabel: str, integer: bool) -> None:
        axes.set_ylabel(ylabel)
        axes.grid(visible=True, alpha=0.3)
        axes.xaxis.set_major_locator(self.ticker.MaxNLocator(integer=True))
        if integer:
            axes.yaxis.set_major_locator(self.ticker.MaxNLocator(integer=True))
        axes.yaxis.set_major_formatter(self.ticker.FuncFormatter(_thousands))
        axes.set_ylim(bottom=0)

    @staticmethod
    def png(figure: Any) -> bytes:
        buffer = io.BytesIO()
        # No "Software" chunk: the same data gives the same bytes.
        figure.savefig(buffer, format="png", metadata={"Software": None})
        return buffer.getvalue()


def _thousands(value: float, _position: Any = None) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 or float(value).is_integer() else f"{value:g}"


class _Table:
    def __init__(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.columns = tuple(columns)
        self.rows = rows
        self.index = {name: i for i, name in enumerate(self.columns)}
        if "day" in self.index:
            self.xs = [_number(r[self.index["day"]]) for r in rows]
        else:
            self.xs = [float(i) for i in range(len(rows))]

    def has(self, name: str) -> bool:
        return name in self.index and any(_numeric(r[self.index[name]]) for r in self.rows)

    def series(self, name: str) -> list[float]:
        return [_number(r[self.index[name]]) for r in self.rows]

    def integer(self, names: Sequence[str]) -> bool:
        return all(
            isinstance(r[self.index[n]], int) or r[self.index[n]] in (None, "")
            for n in names
            for r in self.rows
        )


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any) -> float:
    return float(value) if _numeric(value) else math.nan


def _lines(
    canvas: _Canvas,
    table: _Table,
    title: str,
    ylabel: str,
    series: Sequence[tuple[str, str, str | None]],
) -> bytes | None:
    """One chart: (column, label, colour) each a line; None when no column is there."""
    present = [(name, text, colour) for name, text, colour in series if table.has(name)]
    if not present:
        return None
    figure, (axes,) = canvas.figure(1, 1, 8, 4.5)
    for name, text, colour in present:
        axes.plot(table.xs, table.series(name), label=text, color=colour, linewidth=1.8)
    axes.set_title(title)
    axes.set_xlabel(_DAY_LABEL)
    canvas.style(axes, ylabel, table.integer([n for n, _, _ in present]))
    axes.legend(fontsize="small", loc="upper right")
    return canvas.png(figure)


def _posts(canvas: _Canvas, table: _Table) -> bytes | None:
    from gridgov.rules import POOL_LEVELS, STAFF_ROLES

    roles = [r for r in STAFF_ROLES if table.has(f"posts_needed_{r}")]
    levels = [lv for lv in (*POOL_LEVELS, "claim", "grid") if table.has(f"posts_filled_from_{lv}")]
    panels = len(roles) + (1 if levels else 0)
    if not panels:
        return None
    cols = min(4, panels)
    rows = math.ceil(panels / cols)
    figure, axes = canvas.figure(rows, cols, 3.2 * cols, 2.6 * rows + 0.6)
    for ax, role in zip(axes, roles, strict=False):
        names = [f"posts_{what}_{role}" for what in _POST_COLOURS]
        for (what, colour), name in zip(_POST_COLOURS.items(), names, strict=True):
            if table.has(name):
                # needed under filled: dashed and wider, so that it shows where they agree
                wide = what == "needed"
                ax.plot(
                    table.xs,
                    table.series(name),
                    label=what,
                    color=colour,
                    linewidth=2.6 if wide else 1.6,
                    linestyle="--" if wide else "-",
                )
        ax.set_title(role.replace("_", " "), fontsize="medium")
        canvas.style(ax, "posts", True)
    if levels:
        ax = axes[len(roles)]
        for level in levels:
            ax.plot(
                table.xs,
                table.series(f"posts_filled_from_{level}"),
                label=level.replace("_", " "),
                linewidth=1.4,
            )
        ax.set_title("filled from", fontsize="medium")
        canvas.style(ax, "people", True)
        ax.legend(fontsize="x-small", loc="upper right")
    for ax in axes[panels:]:
        ax.set_visible(False)
    for ax in axes[:panels]:
        ax.set_xlabel(_DAY_LABEL, fontsize="small")
    axes[0].legend(fontsize="x-small", loc="upper right")
    figure.suptitle("Posts by role: needed, filled and short")
    return canvas.png(figure)


def _tickets(canvas: _Canvas, table: _Table) -> bytes | None:
    flow = [
        ("tickets_opened", "opened", "#2f80ed"),
        ("tickets_closed", "closed", "#27ae60"),
        ("tickets_open", "open at the end of the day", "#5b6573"),
        ("tickets_overdue", "overdue at a step", "#c0392b"),
    ]
    escalated = [
        (f"tickets_escalated_{level}", f"to the {level}", None)
        for level in ("community", "street", "district", "city")
    ] + [("tickets_escalated_on_score", "on a low score", None)]
    panels = [
        (title, [s for s in series if table.has(s[0])])
        for title, series in (("Requests", flow), ("Escalations", escalated))
    ]
    panels = [(title, series) for title, series in panels if series]
    if not panels:
        return None
    figure, axes = canvas.figure(1, len(panels), 6 * len(panels), 4.2)
    for ax, (title, series) in zip(axes, panels, strict=True):
        for name, text, colour in series:
            ax.plot(table.xs, table.series(name), label=text, color=colour, linewidth=1.6)
        ax.set_title(title)
        ax.set_xlabel(_DAY_LABEL)
        canvas.style(ax, "tickets per day", True)
        ax.legend(fontsize="small", loc="upper right")
    return canvas.png(figure)


def draw(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], stems: Sequence[str]
) -> dict[str, bytes]:
    """The plots of a run's metrics, for the groups named in ``stems`` that it has.

    Args:
        columns: the metric columns (``day`` first, as :data:`gridgov.sim.runner.COLUMNS`).
        rows: the rows, values in column order.
        stems: which plots, in order (keys of :data:`gridgov.sim.results.PLOT_GROUPS`).

    Returns:
        Stem -> PNG bytes, for the plots whose columns the run has.

    Raises:
        MissingExtraError: matplotlib (the ``plot`` extra) is not installed.
    """
    from gridgov.modes import MODES, ZONES

    table = _Table(columns, rows)
    draws: dict[str, Callable[[_Canvas], bytes | None]] = {
        "compounds": lambda c: _lines(
            c,
            table,
            "Compounds by zone",
            "compounds",
            [(f"compounds_{z}", z, _LINE_ZONES[z]) for z in reversed(ZONES)],
        ),
        "households": lambda c: _lines(
            c,
            table,
            "Households by zone",
            "households",
            [(f"households_{z}", z, _LINE_ZONES[z]) for z in reversed(ZONES)],
        ),
        "communities": lambda c: _lines(
            c,
            table,
            "Communities by mode",
            "communities",
            [(f"communities_{m}", m, MODE_COLOURS.get(m)) for m in MODES],
        ),
        "posts": lambda c: _posts(c, table),
        "tickets": lambda c: _tickets(c, table),
        "cases": lambda c: _lines(
            c,
            table,
            "Cases",
            "cases",
            [
                ("cases_new", "new infections", "#f2994a"),
                ("cases_confirmed", "confirmed that day", "#c0392b"),
                ("cases_total", "confirmed so far", "#5b6573"),
            ],
        ),
    }
    wanted = [stem for stem in stems if stem in draws]
    if not any(table.has(name) for name in table.columns if name != "day" and name != "date"):
        return {}
    canvas = _Canvas()
    images: dict[str, bytes] = {}
    for stem in wanted:
        png = draws[stem](canvas)
        if png is not None:
            images[stem] = png
    return images

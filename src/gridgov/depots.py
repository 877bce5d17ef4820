"""A city's depots: synthesised from documented ratios, or read from a ``depots.csv``.

:func:`synth_depots` gives every district of any city plausible depots from
the ratios in ``gridgov/data/depots.toml`` (supermarkets and pharmacies per
household, spread over the district's streets by households; a grain-and-oil
store per district; the city's emergency warehouse and a point for donated
goods at the city level). Stock, restock and dispatch capacity are days of
the rations of the households a depot serves. The ratios and their sources
are listed in ``docs/supplies.md``.

:func:`load_depots` reads a ``depots.csv`` (the optional file of a city
bundle, specified in ``docs/cities.md``) and reports every problem at once as
``file:line: column: what is wrong``; :func:`save_depots` writes one.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import os
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from gridgov.city import City
from gridgov.errors import DepotsError, Problem
from gridgov.model import DEPOT_KINDS, SERVES, Depot, Level

__all__ = ["BUNDLE_PART", "DEPOT_COLUMNS", "load_depots", "ratios", "save_depots", "synth_depots"]

#: The fixed columns of ``depots.csv``; ``stock_<category>`` and
#: ``restock_<category>`` columns name the categories.
DEPOT_COLUMNS = ("id", "kind", "unit", "name", "serves", "dispatch_kg", "organisation")
_REQUIRED = ("id", "kind", "unit")
_MAX_PROBLEMS = 50


def ratios() -> dict[str, Any]:
    """The ratios of ``gridgov/data/depots.toml`` (a fresh copy)."""
    text = resources.files("gridgov").joinpath("data/depots.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _split(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` in integer shares proportional to ``weights`` (largest remainder)."""
    whole = sum(weights)
    if not weights or whole <= 0:
        return [0] * len(weights)
    shares = [total * w // whole for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in order[: total - sum(shares)]:
        shares[i] += 1
    return shares


def synth_depots(city: City, table: Mapping[str, Any] | None = None) -> tuple[Depot, ...]:
    """Plausible depots for every district of ``city``.

    Args:
        city: any city.
        table: ratios in the layout of ``gridgov/data/depots.toml`` (default:
            that file).

    Returns:
        The depots, sorted by id: ``<district>-S001`` supermarkets,
        ``<district>-P001`` pharmacies, ``<district>-G1`` the grain store,
        ``<city>-W1`` the warehouse, ``<city>-N1`` donations. Deterministic:
        the same city and ratios give the same depots.
    """
    table = ratios() if table is None else table
    ration: Mapping[str, float] = table["ration_kg"]
    chain = city.chain
    out: list[Depot] = []

    def make(
        depot_id: str, kind: str, unit: str, households: int, spec: Mapping[str, Any]
    ) -> Depot:
        stock_days: Mapping[str, float] = spec.get("stock_days", {})
        restock_days: Mapping[str, float] = spec.get("restock_days", {})
        daily = {k: households * ration.get(k, 0.0) for k in stock_days}
        return Depot(
            id=depot_id,
            kind=kind,
            unit=unit,
            name=f"{kind.replace('_', ' ').title()} {depot_id}",
            stock={k: round(daily[k] * d) for k, d in stock_days.items()},
            restock={k: round(daily.get(k, 0.0) * d) for k, d in restock_days.items()},
            dispatch=round(sum(daily.values()) * float(spec.get("dispatch_days", 0.0))),
            serves=str(spec.get("serves", "district")),
        )

    for district in chain.units(Level.DISTRICT):
        streets = [s for s in chain.children(district) if chain.level(s) is Level.STREET]
        if not streets:
            continue
        weights = [city.households(s) for s in streets]
        households = city.households(district)
        for kind, letter in (("supermarket", "S"), ("pharmacy", "P")):
            spec = table.get(kind)
            if not spec:
                continue
            count = max(1, math.ceil(households / float(spec["households_per_depot"])))
            # The district's households are shared evenly by its shops, which
            # stand in its streets in proportion to the streets' households.
            shares = iter(_split(households, [1] * count))
            number = 0
            for street, n in zip(streets, _split(count, weights), strict=True):
                for _ in range(n):
                    number += 1
                    depot_id = f"{district}-{letter}{number:03d}"
                    out.append(make(depot_id, kind, street, next(shares), spec))
        spec = table.get("grain_store")
        for i in range(int(spec.get("per_district", 0)) if spec else 0):
            assert spec is not None
            out.append(make(f"{district}-G{i + 1}", "grain_store", district, households, spec))
    for kind, letter in (("warehouse", "W"), ("donation", "N")):
        spec = table.get(kind)
        for i in range(int(spec.get("per_city", 0)) if spec else 0):
            assert spec is not None
            out.append(
                make(
                    f"{chain.city}-{letter}{i + 1}",
                    kind,
                    chain.city,
                    city.households(chain.city),
                    spec,
                )
            )
    return tuple(sorted(out, key=lambda d: d.id))


# ================================================================== CSV


def save_depots(depots: Iterable[Depot], path: str | os.PathLike[str]) -> None:
    """Write ``depots.csv`` (columns in :data:`DEPOT_COLUMNS` order, then
    ``stock_<category>`` and ``restock_<category>`` by category name).

    Args:
        depots: the depots.
        path: the file to write (UTF-8, ``\\n`` line ends).
    """
    depots = sorted(depots, key=lambda d: d.id)
    categories = sorted({k for d in depots for k in (*d.stock, *d.restock)})
    header = [
        *DEPOT_COLUMNS,
        *(f"stock_{k}" for k in categories),
        *(f"restock_{k}" for k in categories),
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for d in depots:
        writer.writerow(
            [
                d.id,
                d.kind,
                d.unit,
                d.name,
                d.serves,
                d.dispatch,
                d.organisation or "",
                *(d.stock.get(k, 0) for k in categories),
                *(d.restock.get(k, 0) for k in categories),
            ]
        )
    Path(path).write_text(buffer.getvalue(), encoding="utf-8")


def load_depots(path: str | os.PathLike[str], city: City | None = None) -> tuple[Depot, ...]:
    """Read a ``depots.csv``.

    UTF-8 (a BOM and CRLF line ends accepted), one header line, columns in any
    order, an empty cell = none; ``id``, ``kind`` and ``unit`` are required,
    ``name``, ``serves`` (default ``district``), ``dispatch_kg`` (default 0),
    ``organisation`` optional, and any number of ``stock_<category>`` and
    ``restock_<category>`` columns (kilograms, whole numbers, 0 or more).

    Args:
        path: the file.
        city: when given, each ``unit`` must be a community, street, district
            or the city of it, ``organisation`` one of its organisations, and
            a depot at the city level must serve the city.

    Returns:
        The depots, in file order.

    Raises:
        DepotsError: every problem (up to 50, then a count), each as
            ``file:line: column: what is wrong``; nothing is returned.
    """
    source = os.fspath(path)
    try:
        data = Path(source).read_bytes()
    except OSError as exc:
        raise DepotsError([Problem(source, 0, "(file)", f"cannot read: {exc.strerror}")]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        message = f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        raise DepotsError([Problem(source, line, "(file)", message)]) from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise DepotsError([Problem(source, 0, "(file)", f"not CSV: {exc}")]) from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise DepotsError([Problem(source, 1, "(header)", "no header line")])
    header = [h.strip() for h in rows[0]]
    problems = _header_problems(source, header)
    if problems:
        raise DepotsError(problems)
    depots: list[Depot] = []
    seen: dict[str, int] = {}
    for index, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(
                Problem(source, index, "(row)", f"{len(row)} cells (expected {len(header)})")
            )
            continue
        depot = _row(
            source,
            index,
            dict(zip(header, (c.strip() for c in row), strict=True)),
            city,
            problems,
            seen,
        )
        if depot is not None:
            depots.append(depot)
        if len(problems) >= _MAX_PROBLEMS:
            break
    if problems:
        shown = problems[:_MAX_PROBLEMS]
        if len(problems) > _MAX_PROBLEMS or len(shown) == _MAX_PROBLEMS:
            shown.append(Problem(source, 0, "(file)", "too many problems; stopped here"))
        raise DepotsError(shown)
    return tuple(depots)


def _header_problems(source: str, header: list[str]) -> list[Problem]:
    problems = []
    for name in header:
        if name in DEPOT_COLUMNS or _category_column(name):
            continue
        close = difflib.get_close_matches(name, DEPOT_COLUMNS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        problems.append(
            Problem(
                source,
                1,
                name or "(header)",
                f"unknown column ({hint}expected {', '.join(DEPOT_COLUMNS)}, "
                "stock_<category>, restock_<category>)",
            )
        )
    for name in _REQUIRED:
        if name not in header:
            problems.append(Problem(source, 1, "(header)", f"missing required column {name!r}"))
    if len(set(header)) != len(header):
        twice = sorted({h for h in header if header.count(h) > 1})
        problems.append(Problem(source, 1, "(header)", f"column {twice[0]!r} given twice"))
    return problems


def _row(
    source: str,
    line: int,
    cells: Mapping[str, str],
    city: City | None,
    problems: list[Problem],
    seen: dict[str, int],
) -> Depot | None:
    before = len(problems)

    def bad(column: str, message: str) -> None:
        problems.append(Problem(source, line, column, message))

    depot_id = cells.get("id", "")
    if not depot_id:
        bad("id", "empty (expected the depot's id)")
    elif depot_id in seen:
        bad("id", f"{depot_id!r} repeats the id of line {seen[depot_id]}")
    else:
        seen[depot_id] = line
    kind = cells.get("kind", "")
    if kind not in DEPOT_KINDS:
        close = difflib.get_close_matches(kind, DEPOT_KINDS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        bad("kind", f"unknown kind {kind!r} ({hint}expected one of: {', '.join(DEPOT_KINDS)})")
    serves = cells.get("serves", "") or "district"
    if serves not in SERVES:
        close = difflib.get_close_matches(serves, SERVES, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        bad("serves", f"unknown area {serves!r} ({hint}expected one of: {', '.join(SERVES)})")
    unit = cells.get("unit", "")
    if not unit:
        bad("unit", "empty (expected the id of a community, street, district or the city)")
    elif city is not None:
        if unit not in city.chain:
            bad("unit", f"no unit {unit!r} in the city ({city.name})")
        else:
            level = city.chain.level(unit)
            if level.rank > Level.COMMUNITY.rank:
                bad(
                    "unit",
                    f"{unit} is a {level.value}; expected a community, street, district or "
                    "the city",
                )
            elif level is Level.CITY and serves != "city":
                bad("serves", f"a depot at the city level ({unit}) must serve 'city'")
    organisation = cells.get("organisation", "") or None
    if organisation is not None and city is not None and organisation not in city.organisations:
        bad("organisation", f"no organisation {organisation!r} in the city")
    dispatch = _kg(cells.get("dispatch_kg", ""), "dispatch_kg", bad)
    stock: dict[str, int] = {}
    restock: dict[str, int] = {}
    for column, value in cells.items():
        for prefix, into in (("stock_", stock), ("restock_", restock)):
            if column.startswith(prefix):
                into[column[len(prefix) :]] = _kg(value, column, bad)
    if len(problems) > before:
        return None
    return Depot(
        id=depot_id,
        kind=kind,
        unit=unit,
        name=cells.get("name", ""),
        stock=stock,
        restock=restock,
        dispatch=dispatch,
        serves=serves,
        organisation=organisation,
    )


def _category_column(name: str) -> bool:
    return any(name.startswith(p) and len(name) > len(p) for p in ("stock_", "restock_"))


def _kg(value: str, column: str, bad: Any) -> int:
    if not value:
        return 0
    try:
        number = int(value)
    except ValueError:
        bad(column, f"not a whole number of kilograms: {value!r}")
        return 0
    if number < 0:
        bad(column, f"must be 0 or more kg, got {number}")
        return 0
    return number


# ================================================================ bundles


class _DepotsPart:
    """``depots.csv`` as an optional part of a city bundle (see :mod:`gridgov.cities`)."""

    #: The file name inside the bundle.
    file = "depots.csv"

    def check(self, path: Path, shown: str, city: City | None) -> list[Problem]:
        """Problems of the bundle's ``depots.csv`` (against the city when it is built)."""
        try:
            load_depots(path, city)
        except DepotsError as exc:
            source = os.fspath(path)
            return [attrs.evolve(p, file=shown) if p.file == source else p for p in exc.problems]
        return []

    def attach(self, path: Path, city: City) -> City:
        """The city carrying the bundle's depots (:attr:`City.depots`)."""
        return city.with_depots(load_depots(path, city))

    def write(self, city: City, folder: Path) -> bool:
        """Write ``depots.csv`` when the city carries depots."""
        if not city.depots:
            return False
        save_depots(city.depots, folder / self.file)
        return True


#: The hook :data:`gridgov.cities.PARTS` finds for ``depots.csv``.
BUNDLE_PART = _DepotsPart()

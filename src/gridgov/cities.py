"""City bundles: a whole city as a folder of CSV files, loaded, saved and checked.

A *city bundle* is the file format of a :class:`~gridgov.city.City` (the full
specification, with an example, is ``docs/cities.md``)::

    city.toml           format = 1, and [city] id, name (code, kind optional)
    units.csv           id,parent,level,kind,name,code
    compounds.csv       id,community,name,kind,entrances
    buildings.csv       id,grid,compound,households
    organisations.csv   id,kind,community,name,staff,exclusive_grid
    people.csv          id,kind,home,post_role,post_unit,employer,grid_worker_kind
    co_building.csv     organisation,community (links beyond an organisation's own community)

Every file is UTF-8 (a BOM and CRLF line ends are accepted) with one header
line; columns come in any order; an empty cell means *none*; optional
columns may be left out, and every CSV but ``units.csv`` may be left out (no
rows). Optional *parts* of a bundle (``geometry.geojson``, ``depots.csv``)
are read and written by the modules that own them, through :data:`PARTS`.

:func:`load_city` reads a bundle (and validates it: every problem at once,
each ``FILE:LINE: column: what is wrong``, with "did you mean" for misspelt
enumeration values), :func:`save_city` (also :meth:`City.save`) writes one,
and :func:`check_bundle` validates without building the city. Saving a
loaded bundle gives the same bytes; a loaded city has the saved city's chain,
compounds, buildings, organisations and people, in the same order.
"""

from __future__ import annotations

import bisect
import codecs
import contextlib
import csv
import difflib
import importlib
import io
import itertools
import operator
import os
import stat
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from gridgov._files import write_atomic
from gridgov._gc import gc_paused
from gridgov._toml import format_string, locate, syntax_problem
from gridgov.chain import CommandChain
from gridgov.city import City
from gridgov.errors import CityError, GridgovError, MissingExtraError, Problem
from gridgov.model import (
    Buildings,
    Compounds,
    GridKind,
    GridWorkerKind,
    Level,
    Organisations,
    People,
    PersonKind,
    Unit,
)

__all__ = [
    "COLUMNS",
    "FORMAT",
    "PARTS",
    "BundlePart",
    "check_bundle",
    "is_bundle",
    "load_city",
    "read_csv",
    "save_city",
]

#: The bundle format this gridgov reads and writes.
FORMAT = 1

#: The columns of each CSV file of a bundle: (name, required), in the order
#: :func:`save_city` writes them.
COLUMNS: dict[str, tuple[tuple[str, bool], ...]] = {
    "units.csv": (
        ("id", True),
        ("parent", True),
        ("level", True),
        ("kind", False),
        ("name", False),
        ("code", False),
    ),
    "compounds.csv": (
        ("id", True),
        ("community", True),
        ("name", False),
        ("kind", False),
        ("entrances", False),
    ),
    "buildings.csv": (
        ("id", True),
        ("grid", True),
        ("compound", False),
        ("households", True),
    ),
    "organisations.csv": (
        ("id", True),
        ("kind", True),
        ("community", True),
        ("name", False),
        ("staff", False),
        ("exclusive_grid", False),
    ),
    "people.csv": (
        ("id", True),
        ("kind", True),
        ("home", True),
        ("post_role", True),
        ("post_unit", True),
        ("employer", False),
        ("grid_worker_kind", False),
    ),
    # Every organisation co-builds with its own community; this optional file
    # lists the further links (an organisation in one community that also
    # sits on another's big party committee).
    "co_building.csv": (
        ("organisation", True),
        ("community", True),
    ),
}

_TOML = "city.toml"
_CITY_KEYS = ("id", "name", "code", "kind", "unit_name")
_TOP_KEYS = ("format", "city")

#: Problems listed before the rest are only counted.
MAX_PROBLEMS = 100
#: A bundle file larger than this is refused unread.
MAX_BYTES = 1 << 30
# Rows read at a time by the fast path of a CSV file.
_CHUNK = 1 << 14
# "Did you mean" compares against every id; past this many unknown ids in one
# bundle the hints stop, so a badly broken file stays fast to report.
_MAX_HINTS = 20

_LEVELS = {
    Level.DISTRICT.value: Level.DISTRICT,
    Level.STREET.value: Level.STREET,
    Level.COMMUNITY.value: Level.COMMUNITY,
    Level.GRID.value: Level.GRID,
}
_GRID_KINDS = tuple(k.value for k in GridKind)
_PERSON_KINDS = {k.value: k for k in PersonKind}
_WORKER_KINDS = {k.value: k for k in GridWorkerKind}
_WORKERS: dict[str, GridWorkerKind | None] = {"": None, **_WORKER_KINDS}
# What a look-up of a cell that is no kind gives (a string no cell holds: a
# cell never spans lines).
_BAD = "\n"
# Optional columns naming another row whose empty cell is kept as None.
_NONE_IF_EMPTY = frozenset({"employer", "exclusive_grid", "compound"})
# The columns (by index in COLUMNS order) whose cells name another row or
# repeat a few words: kept as one string per value (see _Reader._keep).
_REPEATED: dict[str, tuple[int, ...]] = {
    name: tuple(
        i
        for i, (column, _) in enumerate(columns)
        if column
        in {"parent", "level", "community", "grid", "compound", "home", "post_role", "post_unit"}
        or (column == "kind" and name != "people.csv")
        or column in {"employer", "exclusive_grid", "organisation"}
    )
    for name, columns in COLUMNS.items()
}


# ------------------------------------------------------------------ parts


class BundlePart(Protocol):
    """An optional file of a bundle, read and written by the module that owns it.

    ``gridgov.geo`` (``geometry.geojson``) and ``gridgov.depots``
    (``depots.csv``) provide one each as a module attribute ``BUNDLE_PART``;
    :data:`PARTS` says where. The loader calls :meth:`check` when the file is
    present (its problems join the bundle's), then :meth:`attach` once the
    city is built; the saver calls :meth:`write` for every part.
    """

    #: The file name inside the bundle, e.g. ``geometry.geojson``.
    file: str

    def check(self, path: Path, shown: str, city: City | None) -> list[Problem]:
        """Problems of the part's file (``shown`` is its path as problems name it);
        ``city`` is None when the rest of the bundle has problems."""

    def attach(self, path: Path, city: City) -> City:
        """The city with the part's data attached (called only when check found none)."""

    def write(self, city: City, folder: Path) -> bool:
        """Write the part's file into ``folder`` if the city carries its data; True if written."""


#: Optional parts: file name -> ``"module:attribute"`` of its :class:`BundlePart`.
#: A part whose module is not installed (or not written yet) is ignored.
PARTS: dict[str, str] = {
    "geometry.geojson": "gridgov.geo:BUNDLE_PART",
    "depots.csv": "gridgov.depots:BUNDLE_PART",
}


def _parts() -> list[BundlePart]:
    found = []
    for target in PARTS.values():
        module, _, attribute = target.partition(":")
        try:
            part = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError, MissingExtraError):
            continue
        found.append(part)
    return found


# ------------------------------------------------------------------ public


def is_bundle(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a folder with a ``city.toml`` (how ``gridgov check`` tells)."""
    try:
        return Path(path).is_dir() and (Path(path) / _TOML).is_file()
    except (OSError, ValueError):
        return False


def load_city(path: str | os.PathLike[str], *, pause_gc: bool = False) -> City:
    """Read and validate a city bundle.

    Args:
        path: the bundle's folder (format in the module docstring).
        pause_gc: pause Python's cyclic garbage collector while reading: a
            big bundle makes hundreds of thousands of objects, none of them
            cyclic garbage, and reads faster without the collector walking
            them (measured in ``benchmarks/bench_gc.py``); the switch is
            process-wide, so it is off unless asked for.

    Returns:
        The city, equal to the one the bundle was saved from.

    Raises:
        CityError: every problem of the bundle (up to :data:`MAX_PROBLEMS`,
            then a count), each ``FILE:LINE: column: what is wrong``; no other
            exception escapes, whatever the files hold.
    """
    reader = _Reader(path)
    with gc_paused() if pause_gc else contextlib.nullcontext():
        city = reader.run(build=True)
    if city is None:
        raise CityError(reader.final_problems(), reader.ids)
    return city


def check_bundle(path: str | os.PathLike[str], *, pause_gc: bool = False) -> list[Problem]:
    """Every problem of a city bundle, without building the city.

    Args:
        path: the bundle's folder.
        pause_gc: as :func:`load_city`.

    Returns:
        The problems (empty when the bundle is valid), in file then line
        order, up to :data:`MAX_PROBLEMS` then one that counts the rest.
    """
    reader = _Reader(path)
    with gc_paused() if pause_gc else contextlib.nullcontext():
        reader.run(build=False)
    return reader.final_problems()


def read_csv(
    path: str | os.PathLike[str], columns: Sequence[tuple[str, bool]]
) -> tuple[list[tuple[int, Sequence[str]]], list[Problem]]:
    """Read one CSV file the way a bundle's files are read (for other formats).

    Args:
        path: the file.
        columns: (name, required) of every column the format knows.

    Returns:
        The rows, each (line, cells in ``columns`` order, "" for a column
        left out), and every problem of the file (not UTF-8, not CSV, unknown
        or missing columns, rows of the wrong width), capped like a bundle's.
    """
    folder, name = os.path.split(os.fspath(path))
    reader = _Reader(folder)
    table = reader.read_table(name, None, required=True, columns=columns)
    return table.rows, reader.final_problems()


def save_city(city: City, path: str | os.PathLike[str]) -> Path:
    """Write ``city`` as a bundle into the folder ``path`` (created if need be).

    The six files are written whole, so saving a loaded bundle gives the same
    bytes; optional parts (:data:`PARTS`) write their files when the city
    carries their data.

    Args:
        city: the city.
        path: the folder; existing bundle files in it are replaced.

    Returns:
        The folder.

    Raises:
        CityError: a value cannot be written (a NUL character, text that is
            not valid Unicode), or the folder cannot be written.
    """
    folder = Path(path)
    texts = _bundle_texts(city)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in texts.items():
            write_atomic(folder / name, text)  # whole or not at all
        for part in _parts():
            part.write(city, folder)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CityError(
            [Problem(os.fspath(folder), 0, "(bundle)", f"cannot write: {reason}")]
        ) from None
    return folder


# ------------------------------------------------------------------ saving


def _bundle_texts(city: City) -> dict[str, bytes]:
    chain = city.chain
    city_unit = chain.unit(chain.city)
    toml = ["format = 1", "", "[city]", f"id = {format_string(city_unit.id)}"]
    toml.append(f"name = {format_string(city.name)}")
    if city_unit.code:
        toml.append(f"code = {format_string(city_unit.code)}")
    if city_unit.kind:
        toml.append(f"kind = {format_string(city_unit.kind)}")
    if city_unit.name != city.name:
        toml.append(f"unit_name = {format_string(city_unit.name)}")
    units = []
    for node in chain.units():
        unit = chain.unit(node)
        if unit.level is Level.CITY or unit.level is Level.COMPOUND:
            continue
        units.append(
            (unit.id, unit.parent or "", unit.level.value, unit.kind, unit.name, unit.code)
        )
    compounds = [
        (c.id, c.community, c.name, c.kind, str(c.entrances)) for c in city.compounds.values()
    ]
    organisations = [
        (o.id, o.kind, o.community, o.name, str(o.staff), o.exclusive_grid or "")
        for o in city.organisations.values()
    ]
    every_building = city.buildings
    buildings = list(
        zip(
            every_building.ids,
            every_building.grids,
            [c or "" for c in every_building.compounds],
            map(str, every_building.households),
            strict=True,
        )
    )
    every = city.people
    people = list(
        zip(
            every.ids,
            map(str, every.kinds),
            every.homes,
            every.post_roles,
            every.post_units,
            [e or "" for e in every.employers],
            ["" if w is None else str(w) for w in every.grid_worker_kinds],
            strict=True,
        )
    )
    tables: dict[str, Sequence[Sequence[str]]] = {
        "units.csv": units,
        "compounds.csv": compounds,
        "buildings.csv": buildings,
        "organisations.csv": organisations,
        "people.csv": people,
    }
    links = _extra_links(city)
    if links:
        tables["co_building.csv"] = links
    out = {_TOML: _encode(_TOML, "\n".join(toml) + "\n")}
    for name, rows in tables.items():
        out[name] = _encode(name, _csv_text([c for c, _ in COLUMNS[name]], rows))
    return out


def _extra_links(city: City) -> list[tuple[str, str]]:
    """Co-building links beyond each organisation's own community, sorted."""
    chain = city.chain
    orgs = city.organisations
    extra: set[tuple[str, str]] = set()
    for a, b in chain.co_building.edges():
        for org, community in ((a, b), (b, a)):
            if org in orgs and community in chain and chain.level(community) is Level.COMMUNITY:
                if orgs[org].community != community:
                    extra.add((org, community))
                break
        else:
            raise CityError(
                [Problem("co_building.csv", 0, "(file)", f"cannot save the link {a} - {b}")],
                message=(
                    f"co-building link {a} - {b} cannot be saved: a bundle links "
                    "organisations to communities"
                ),
            )
    return sorted(extra)


def _csv_text(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    buffer = io.StringIO()
    plain = csv.writer(buffer, lineterminator="\n")
    # The csv module does not quote a lone carriage return, which a reader
    # would take for a line end: such rows are written fully quoted.
    quoted = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    plain.writerow(header)
    for row in rows:
        (quoted if "\r" in "".join(row) else plain).writerow(row)
    return buffer.getvalue()


def _encode(name: str, text: str) -> bytes:
    where = text.find("\x00")
    try:
        if where >= 0:
            raise ValueError(f"a NUL character at line {text.count(chr(10), 0, where) + 1}")
        return text.encode("utf-8")
    except (UnicodeEncodeError, ValueError) as exc:
        raise CityError(
            [Problem(name, 0, "(file)", f"cannot be saved: {exc}")],
            message=f"{name}: cannot be saved: {exc}",
        ) from None


# ------------------------------------------------------------------ reading


class _Batch:
    """Rows of a CSV file read together, kept column by column.

    A big city's files hold hundreds of thousands of rows: kept as one tuple
    per column rather than a list and a tuple per row, reading them leaves
    almost no objects for the collector to walk again and again (a tuple of
    strings is dropped from the collector's lists at its first collection;
    a list would have every cell looked at in every full collection).
    Iterating gives ``(line, cells)`` per row, made on the fly.
    """

    __slots__ = ("columns", "done", "lines")

    def __init__(self, lines: Sequence[int], columns: list[tuple[Any, ...]]) -> None:
        #: The line of each row (a range when the rows are on consecutive lines).
        self.lines = lines
        #: One tuple per column, in :data:`COLUMNS` order.
        self.columns = columns
        #: True when the columns are already as the city keeps them (repeated
        #: values one string each, kinds as enums; see :meth:`_Reader._people_fine`).
        self.done = False

    @classmethod
    def of_rows(cls, rows: Sequence[tuple[int, Sequence[str]]], width: int) -> _Batch:
        if not rows:
            return cls([], [() for _ in range(width)])
        columns = list(zip(*(r for _, r in rows), strict=True))
        return cls([line for line, _ in rows], columns)

    def __len__(self) -> int:
        return len(self.lines)

    def __iter__(self) -> Iterator[tuple[int, tuple[str, ...]]]:
        return zip(self.lines, zip(*self.columns, strict=True), strict=True)


_Rows = _Batch
_Check = Callable[[str, _Batch], None]


class _Stop(Exception):
    """A file cannot be read further (its problem is already recorded)."""


class _Table:
    """The rows of one CSV file, cells in :data:`COLUMNS` order."""

    __slots__ = ("batches", "shown")

    def __init__(self, shown: str) -> None:
        #: The file as problems name it.
        self.shown = shown
        #: The rows with the right number of cells, batch by batch.
        self.batches: list[_Batch] = []

    @property
    def rows(self) -> list[tuple[int, Sequence[str]]]:
        """(line, cells) of every row with the right number of cells."""
        return [row for batch in self.batches for row in batch]

    def cells(self) -> Iterator[tuple[str, ...]]:
        """The cells of every row, row by row."""
        return itertools.chain.from_iterable(zip(*b.columns, strict=True) for b in self.batches)

    def column(self, index: int) -> tuple[Any, ...]:
        """Every row's cell of one column, taken out of the batches (read once).

        Each batch's copy is dropped as soon as it is copied, while its cells
        are still in the processor's caches (dropped at the end instead, a big
        city's hundreds of thousands of cells would all be visited again).
        """
        if len(self.batches) == 1:
            cells = self.batches[0].columns[index]
            self.batches[0].columns[index] = ()
            return cells
        return tuple(itertools.chain.from_iterable(_drained(self.batches, index)))


def _drained(batches: list[_Batch], index: int) -> Iterator[tuple[Any, ...]]:
    """Each batch's cells of one column, each dropped from its batch as it is given."""
    for batch in batches:
        cells = batch.columns[index]
        batch.columns[index] = ()
        yield cells


class _ReaderState:
    """What reading one bundle has found so far: its ids, levels, and problems."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.folder = Path(path)
        self.shown = os.fspath(path)
        self.problems: list[Problem] = []
        self.count = 0
        self.ids: set[str] = set()
        self.hints = 0
        self.city_id: str | None = None
        self.city_unit: Unit | None = None
        self.city_name = ""
        # id -> (file, line) of every id of the bundle (one namespace).
        # (Kept as one int per id, the file's number times _SPAN plus the
        # line: a tuple per id would be hundreds of thousands of objects for
        # the garbage collector to walk; see ``where``.)
        self.owner: dict[str, int] = {}
        # People (the last file that gives ids, and the biggest) are not in
        # ``owner`` while their batches are fine: each id maps to its row,
        # and this dict becomes the city's index of people (one table of
        # hundreds of thousands of ids instead of two); ``person_batches``
        # gives the lines of those rows.
        self.person_rows: dict[str, int] = {}
        self.person_batches: list[tuple[int, Sequence[int], tuple[str, ...]]] = []
        self.people_slow = False
        self.sources: list[str] = []
        self.source_of: dict[str, int] = {}
        self.level: dict[str, Level] = {}
        self.parent: dict[str, str] = {}
        self.grid_kind: dict[str, str] = {}
        self.community_of_compound: dict[str, str] = {}
        # Ids as dict keys (a dict of strings to None holds nothing the
        # collector walks; a set of them would be walked in every full
        # collection while the bundle is read).
        self.organisations: dict[str, None] = {}
        self.buildings: dict[str, None] = {}
        # Units read so far: administrative codes (line) and (line, id, parent)
        # (flat tuples of atoms, which the collector stops tracking at once).
        self.codes: dict[str, int] = {}
        self.kept: list[tuple[int, str, str]] = []
        # Files that could not be read whole, and ids of rows with problems of
        # their own: a reference to an id that may be in either is not
        # reported again as unknown (one mistake, one problem).
        self.broken: set[str] = set()
        self.shaky: set[str] = set()
        # Reading stopped at the cap: the count of problems is a lower bound.
        self.stopped = False
        # Checked rows are kept to build the city (not when only checking).
        self.keep = True
        # One string per repeated cell value of the rows kept, per column (see _keep).
        self.same: dict[tuple[str, int], dict[str, str | None]] = {}

    # -------------------------------------------------------------- ids

    def source(self, shown: str) -> int:
        """The ``owner`` code of line 0 of the file ``shown``."""
        code = self.source_of.get(shown)
        if code is None:
            code = self.source_of[shown] = len(self.sources) * _SPAN
            self.sources.append(shown)
        return code

    def where(self, value: str) -> tuple[str, int] | None:
        """(file, line) where the id ``value`` was first given, or None."""
        code = self.owner.get(value)
        if code is not None:
            return self.sources[code // _SPAN], code % _SPAN
        row = self.person_rows.get(value)
        if row is None:
            return None
        batch = bisect.bisect_right(self.person_batches, row, key=_FIRST) - 1
        first, lines, _ = self.person_batches[batch]
        return os.path.join(self.shown, "people.csv"), lines[row - first]

    def one(self, shown: str, column: int) -> Callable[[str, Any], Any]:
        """The ``setdefault`` of the table giving one string per value of a
        column (an empty employer, exclusive grid or compound is None)."""
        table = self.same.get((shown, column))
        if table is None:
            name = COLUMNS[Path(shown).name][column][0]
            table = self.same[shown, column] = {"": None} if name in _NONE_IF_EMPTY else {}
        return table.setdefault

    # -------------------------------------------------------------- problems

    def problem(self, file: str, line: int, key: str, message: str, *ids: str) -> None:
        """Record a problem; ``ids[0]``, when given, is the id of the row at fault."""
        self.count += 1
        if ids:
            self.shaky.add(ids[0])
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(file, line, key, message))
            self.ids.update(ids)

    @property
    def full(self) -> bool:
        return self.count > MAX_PROBLEMS

    def final_problems(self) -> list[Problem]:
        order = {name: i for i, name in enumerate((_TOML, *COLUMNS))}

        def rank(p: Problem) -> tuple[int, int]:
            return (order.get(Path(p.file).name, len(order)), p.line)

        shown = sorted(self.problems, key=rank)
        if self.count > len(shown):
            more = self.count - len(shown)
            message = (
                f"and at least {more} more problems (checking stopped there)"
                if self.stopped
                else f"and {more} more problems (not listed)"
            )
            shown.append(Problem(self.shown, 0, "(bundle)", message))
        return shown

    def hint(self, value: str, choices: Iterable[str]) -> str:
        """`` (did you mean 'x'?)`` for a near miss among ``choices``, else ""."""
        if self.hints >= _MAX_HINTS or not value:
            return ""
        self.hints += 1
        close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.75)
        return f" (did you mean {close[0]!r}?)" if close else ""

    def enum(self, value: str, choices: Sequence[str]) -> str:
        """``expected one of ...``, with a "did you mean" while problems are still listed."""
        if self.full:
            return f"expected one of: {', '.join(choices)}"
        close = difflib.get_close_matches(value, choices, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"{hint}expected one of: {', '.join(choices)}"

    # -------------------------------------------------------------- the run


class _FileReader(_ReaderState):
    """Reading a bundle's files: city.toml, and its CSV files checked cell by cell."""

    def _file(self, name: str) -> str:
        return os.path.join(self.shown, name)

    # -------------------------------------------------------------- city.toml

    def read_toml(self) -> None:
        shown = self._file(_TOML)
        self.broken.add(_TOML)  # until the city's id is read
        data = self.read_bytes(_TOML, required=True)
        if data is None:
            return
        try:
            text = self.decode(shown, data)
            document = tomllib.loads(text)
        except _Stop:
            return
        except tomllib.TOMLDecodeError as exc:
            self.broken.add(_TOML)
            found = syntax_problem(exc, text, shown)
            self.problem(found.file, found.line, found.key, found.message)
            return
        located = locate(text)

        def line_of(key: str, table: str | None = None) -> int:
            """The line of a key (in ``[city]`` when ``table`` says so), 0 if none."""
            path = (table, key) if table else (key,)
            return located.get(path, 0)

        self._check_top(shown, document, line_of)
        table = document.get("city")
        if not isinstance(table, dict):
            where = line_of("city") if "city" in document else 0
            self.problem(shown, where, "city", "missing [city] table (with id and name)")
            return
        self._read_city_table(shown, table, located.get(("city",), 0), line_of)

    def _check_top(
        self, shown: str, document: Mapping[str, Any], line_of: Callable[..., int]
    ) -> None:
        """The top-level keys of city.toml, and its format."""
        for key in document:
            if key not in _TOP_KEYS:
                self.problem(
                    shown,
                    line_of(key),
                    key,
                    f"unknown key{self.hint(key, _TOP_KEYS)} (expected: {', '.join(_TOP_KEYS)})",
                )
        version = document.get("format")
        if version is None:
            self.problem(
                shown, 0, "format", f"missing (a bundle of this gridgov has format = {FORMAT})"
            )
        elif type(version) is not int:
            self.problem(shown, line_of("format"), "format", f"must be an integer, got {version!r}")
        elif version > FORMAT:
            self.problem(
                shown,
                line_of("format"),
                "format",
                f"bundle format {version} is newer than this gridgov reads (format {FORMAT}); "
                "upgrade gridgov to load it",
            )
            raise _StopBundle
        elif version < 1:
            self.problem(shown, line_of("format"), "format", f"must be {FORMAT}, got {version}")

    def _read_city_table(
        self, shown: str, table: Mapping[str, Any], header: int, line_of: Callable[..., int]
    ) -> None:
        """The ``[city]`` table: the city's id, name and codes (``header``: its line)."""
        for key in table:
            if key not in _CITY_KEYS:
                self.problem(
                    shown,
                    line_of(key, "city") or header,
                    f"city.{key}",
                    f"unknown key{self.hint(key, _CITY_KEYS)} (expected: {', '.join(_CITY_KEYS)})",
                )
        values: dict[str, str] = {}
        for key in _CITY_KEYS:
            value = table.get(key)
            if value is None:
                if key in ("id", "name"):
                    self.problem(shown, header, f"city.{key}", "missing (a string)")
                continue
            if not isinstance(value, str):
                self.problem(
                    shown,
                    line_of(key, "city") or header,
                    f"city.{key}",
                    f"must be a string, got {value!r}",
                )
                continue
            if key == "id" and not value:
                self.problem(
                    shown,
                    line_of(key, "city") or header,
                    "city.id",
                    'empty (the city\'s code, e.g. "230800")',
                )
                continue
            values[key] = value
        if "id" in values:
            self.city_id = values["id"]
            self.city_name = values.get("name", "")
            self.city_unit = Unit(
                id=self.city_id,
                level=Level.CITY,
                name=values.get("unit_name", self.city_name),
                code=values.get("code", ""),
                kind=values.get("kind", ""),
            )
            self.owner[self.city_id] = self.source(shown) + (line_of("id", "city") or header)
            self.level[self.city_id] = Level.CITY
            self.broken.discard(_TOML)

    # -------------------------------------------------------------- raw files

    def read_bytes(self, name: str, required: bool = False) -> bytes | None:
        shown = self._file(name)
        path = self.folder / name
        try:
            info = os.stat(path)
        except FileNotFoundError:
            if required:
                self.problem(shown, 0, "(file)", "missing (every bundle has one)")
            return None
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            self.problem(shown, 0, "(file)", f"cannot read: {reason}")
            return None
        if stat.S_ISDIR(info.st_mode):
            self.problem(shown, 0, "(file)", "is a folder, not a file")
            return None
        if not stat.S_ISREG(info.st_mode):
            self.problem(shown, 0, "(file)", "not a regular file (a device, pipe or socket)")
            return None
        if info.st_size > MAX_BYTES:
            self.problem(
                shown,
                0,
                "(file)",
                f"{info.st_size:,} bytes; a bundle file may hold at most {MAX_BYTES:,}",
            )
            return None
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_BYTES + 1)
        except OSError as exc:
            self.problem(shown, 0, "(file)", f"cannot read: {exc.strerror or exc}")
            return None
        if len(data) > MAX_BYTES:
            self.problem(shown, 0, "(file)", f"more than {MAX_BYTES:,} bytes")
            return None
        return data

    def decode(self, shown: str, data: bytes) -> str:
        skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
        nul = data.find(b"\x00")
        try:
            text = data[skip:].decode("utf-8")
        except UnicodeDecodeError as exc:
            start = exc.start + skip
            if 0 <= nul < start:
                start = nul
            else:
                line = data.count(b"\n", 0, start) + 1
                message = f"not UTF-8 text (byte 0x{data[start]:02x} at offset {start})"
                try:
                    data[skip:].decode("gb18030")
                except UnicodeDecodeError:
                    pass
                else:
                    message += "; it reads as GB18030/GBK: save it as UTF-8"
                self.problem(shown, line, "(file)", message)
                raise _Stop from None
        if nul >= 0:
            line = data.count(b"\n", 0, nul) + 1
            self.problem(
                shown, line, "(file)", f"not text: a NUL byte at offset {nul} (a binary file?)"
            )
            raise _Stop
        return text

    def read_table(
        self,
        name: str,
        check: _Check | None,
        required: bool = False,
        columns: Sequence[tuple[str, bool]] | None = None,
    ) -> _Table:
        """Read one CSV file, checking its rows batch by batch with ``check``."""
        table = _Table(self._file(name))
        if self.full:
            self.stopped = True
            return table
        before = self.count
        self._read_table(name, table, check, required, columns or COLUMNS[name])
        if any(p.key in ("(file)", "(header)", "(row)") for p in self.problems[before:]) or (
            self.full and self.count > before
        ):
            self.broken.add(name)
        return table

    def _read_table(
        self,
        name: str,
        table: _Table,
        check: _Check | None,
        required: bool,
        columns: Sequence[tuple[str, bool]],
    ) -> None:
        shown = table.shown
        data = self.read_bytes(name, required)
        if data is None:
            return
        try:
            text = self.decode(shown, data)
        except _Stop:
            return
        del data
        plain = _plain(text)
        if plain is not None:
            self._read_plain(shown, plain, table, check, columns)
            return
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        try:
            header = next(reader, None)
            if header is None:
                self.problem(shown, 1, "(header)", "empty file (expected a header line)")
                return
            index = self.check_header(shown, header, columns)
            if index is None:
                return
            width = len(header)
            order, identity = _column_order(index, columns, width)
            last = reader.line_num
            while not self.full:
                batch: list[tuple[int, Sequence[str]]] = []
                read = 0
                for row in itertools.islice(reader, _CHUNK):
                    read += 1
                    line = last + 1
                    last = reader.line_num
                    self.take(shown, line, row, width, order, identity, batch)
                if not read:
                    break
                self._keep(shown, table, check, _Batch.of_rows(batch, len(columns)))
            else:
                self.stopped = True
        except csv.Error as exc:
            self.problem(shown, reader.line_num, "(file)", f"not CSV: {exc}")

    def _keep(self, shown: str, table: _Table, check: _Check | None, batch: _Batch) -> None:
        """Check one batch and keep it while the bundle has no problem."""
        if check is None:
            table.batches.append(batch)
            return
        check(shown, batch)
        if self.keep and not self.count:
            if not batch.done:
                self._as_kept(shown, batch)
            table.batches.append(batch)

    def _as_kept(self, shown: str, batch: _Batch) -> None:
        """Cells that name another row (a parent, a community, a grid, a home,
        a post) are replaced by one string per value as each batch is kept:
        the copies go at once, so a big file never holds a string per cell (a
        fraction of the memory, and the memory of one batch is reused by the
        next). One small table per column. A person's kind and grid-worker
        kind become the enums the city keeps."""
        columns = batch.columns
        name = Path(shown).name
        for i in _REPEATED.get(name, ()):
            one = self.one(shown, i)
            columns[i] = tuple(map(one, columns[i], columns[i]))
        if name == "people.csv":
            columns[1] = tuple(map(_PERSON_KINDS.__getitem__, columns[1]))
            columns[6] = tuple(map(_WORKERS.__getitem__, columns[6]))
        batch.done = True

    def _read_plain(
        self,
        shown: str,
        text: str,
        table: _Table,
        check: _Check | None,
        columns: Sequence[tuple[str, bool]],
    ) -> None:
        """Read a CSV text without quotes (so no cell spans lines) and with
        "\\n" line ends: the common case, split at C speed, row i of a batch
        on line ``first + i``; it reads exactly as ``csv.reader`` would."""
        end = text.find("\n")
        head = text if end < 0 else text[:end]
        if not text:
            self.problem(shown, 1, "(header)", "empty file (expected a header line)")
            return
        if _long_field([head]) is not None:
            self.problem(shown, 1, "(file)", f"not CSV: {_TOO_LONG}{csv.field_size_limit()})")
            return
        header = head.split(",") if head else []
        index = self.check_header(shown, header, columns)
        if index is None:
            return
        width = len(header)
        order, identity = _column_order(index, columns, width)
        first = 2
        for lines in _line_batches(text, len(text) if end < 0 else end + 1):
            if self.full:
                break
            count = len(lines)
            long = _long_field(lines)
            if long is not None:  # as csv.reader: that batch is lost, reading stops
                message = f"not CSV: {_TOO_LONG}{csv.field_size_limit()})"
                self.problem(shown, first + long, "(file)", message)
                return
            if (width > 1 or "" not in lines) and all(
                n == width - 1 for n in set(map(str.count, lines, itertools.repeat(",")))
            ):
                flat = ",".join(lines).split(",")
                cells = [tuple(flat[i::width]) for i in range(width)]
                del flat
                blank = ("",) * count
                batch = _Batch(
                    range(first, first + count),
                    [cells[i] if i < width else blank for i in order],
                )
            else:
                rows: list[tuple[int, Sequence[str]]] = []
                for line, text_line in enumerate(lines, first):
                    row = text_line.split(",") if text_line else []
                    self.take(shown, line, row, width, order, identity, rows)
                batch = _Batch.of_rows(rows, len(columns))
            first += count
            self._keep(shown, table, check, batch)
        if self.full:
            self.stopped = True

    def take(
        self,
        shown: str,
        line: int,
        row: list[str],
        width: int,
        order: list[int],
        identity: bool,
        rows: list[tuple[int, Sequence[str]]],
    ) -> None:
        """Keep one row in column order, or record why it cannot be kept."""
        if len(row) != width:
            if row:  # blank lines are skipped
                self.problem(shown, line, "(row)", f"{len(row)} cells, the header has {width}")
            return
        if self.full:
            return  # past the cap nothing is built, so rows are no longer kept
        if identity:
            rows.append((line, row))
        else:
            row.append("")
            rows.append((line, [row[i] for i in order]))

    def check_header(
        self, shown: str, header: list[str], columns: Sequence[tuple[str, bool]]
    ) -> dict[str, int] | None:
        """Where each column is; None when a required one is missing or one is doubled.

        An unknown column is a problem but not a fatal one: the rows are
        still read (and checked) without it.
        """
        names = [c for c, _ in columns]
        index: dict[str, int] = {}
        ok = True
        for i, name in enumerate(header):
            if name in index:
                self.problem(
                    shown, 1, name, f"column given twice (columns {index[name] + 1} and {i + 1})"
                )
                ok = False
            elif name not in names:
                close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}? " if close else ""
                shown_name = name if len(name) <= 40 else name[:40] + "..."
                self.problem(
                    shown,
                    1,
                    shown_name or "(header)",
                    f"unknown column {shown_name!r} ({hint}expected: {', '.join(names)})",
                )
            else:
                index[name] = i
        for name, required in columns:
            if not required or name in index:
                continue
            ok = False
            # A misspelt column is already reported, with its "did you mean".
            if not any(
                difflib.get_close_matches(h, [name], n=1, cutoff=0.6)
                for h in header
                if h not in names
            ):
                self.problem(shown, 1, name, "required column missing")
        if not ok:
            self.broken.add(Path(shown).name)
        return index if ok else None

    # -------------------------------------------------------------- checks


class _UnitChecks(_FileReader):
    """The checks of the chain's units and of the places in them."""

    def _of(self, level: Level) -> list[str]:
        if self.hints >= _MAX_HINTS:
            return []
        return [u for u, lv in self.level.items() if lv is level]

    def claim(self, shown: str, line: int, value: str) -> bool:
        """Record an id; False (and a problem) when it is empty or taken."""
        if not value:
            self.problem(shown, line, "id", "empty (every row needs an id)")
            return False
        first = self.where(value)
        if first is not None:
            where = f"{first[0]}:{first[1]}"
            self.problem(shown, line, "id", f"duplicate id {value!r} (first at {where})", value)
            return False
        self.owner[value] = self.source(shown) + line
        return True

    def quiet(self, ref: str, *files: str) -> bool:
        """True when an unknown ``ref`` may come from a row or file already at fault."""
        if ref in self.shaky:
            return True
        return (
            ref not in self.owner
            and ref not in self.person_rows
            and not self.broken.isdisjoint(files)
        )

    def unknown(self, value: str, what: str, choices: Iterable[str]) -> str:
        """What is wrong with a reference to an id that is not a ``what``."""
        owner = self.where(value)
        if owner is not None:
            level = self.level.get(value)
            is_a = f"a {level.value}" if level is not None else f"in {Path(owner[0]).name}"
            return f"{value!r} is {is_a} ({owner[0]}:{owner[1]}), not a {what}"
        return f"no {what} {value!r}{self.hint(value, choices)}"

    def check_units(self, shown: str, rows: _Rows) -> None:
        """What one batch of units says about itself (parents come later)."""
        level_of = self.level
        parent_of = self.parent
        grid_kind = self.grid_kind
        codes = self.codes
        if self.city_unit is not None and self.city_unit.code:
            codes.setdefault(self.city_unit.code, 0)
        kept = self.kept
        for line, (uid, parent, level, kind, _name, code) in rows:
            claimed = self.claim(shown, line, uid)
            lv = _LEVELS.get(level)
            if lv is None:
                if level == "city":
                    message = "the city is described in city.toml, not in units.csv"
                elif level == "compound":
                    message = "compounds go in compounds.csv"
                elif not level:
                    message = f"empty (expected one of: {', '.join(_LEVELS)})"
                else:
                    message = f"unknown level {level!r} ({self.enum(level, tuple(_LEVELS))})"
                self.problem(shown, line, "level", message, uid)
            elif lv is Level.GRID and kind not in _GRID_KINDS:
                if not kind:
                    message = "empty: a grid needs its kind (urban, rural or exclusive)"
                else:
                    message = f"unknown grid kind {kind!r} ({self.enum(kind, _GRID_KINDS)})"
                self.problem(shown, line, "kind", message, uid)
            if code:
                if code in codes:
                    first = f"{shown}:{codes[code]}" if codes[code] else f"{self._file(_TOML)}"
                    self.problem(
                        shown, line, "code", f"duplicate code {code!r} (first at {first})", uid
                    )
                else:
                    codes[code] = line
            if claimed and lv is not None:
                level_of[uid] = lv
                parent_of[uid] = parent
                if lv is Level.GRID:
                    grid_kind[uid] = kind
                kept.append((line, uid, parent))

    def check_parents(self, shown: str) -> None:
        """Every unit's commander, once every unit is known."""
        level_of = self.level
        kept = self.kept
        city = self.city_id
        # A cycle needs a unit whose commander is not of the level above its
        # own (else each step up the chain ranks higher): only then is the
        # chain walked for cycles.
        ranked = True
        for line, uid, parent in kept:
            lv = level_of[uid]
            expected = lv.commander
            assert expected is not None
            if not parent:
                to = (
                    f" (districts answer to the city, {city!r})"
                    if lv is Level.DISTRICT and city
                    else ""
                )
                self.problem(
                    shown,
                    line,
                    "parent",
                    f"empty: a {lv.value} answers to a {expected.value}{to}",
                    uid,
                )
                continue
            above = level_of.get(parent)
            if above is None:
                files = ("units.csv", _TOML) if lv is Level.DISTRICT else ("units.csv",)
                if self.quiet(parent, *files):
                    continue
                if parent in self.owner or parent in self.person_rows:
                    message = self.unknown(parent, "unit", ())
                else:
                    message = f"no unit {parent!r}{self.hint(parent, level_of)}"
                self.problem(shown, line, "parent", message, uid)
            elif above is not expected:
                ranked = False
                if above is lv:
                    how = "a unit of the same level"
                elif above.rank < expected.rank:
                    how = "this skips a level"
                else:
                    how = "this reverses the levels"
                self.problem(
                    shown,
                    line,
                    "parent",
                    f"{parent!r} is a {above.value}, but a {lv.value} answers to a "
                    f"{expected.value} ({how})",
                    uid,
                    parent,
                )
        if not ranked:
            self.check_cycles(shown, kept)

    def check_cycles(self, shown: str, kept: list[tuple[int, str, str]]) -> None:
        line_of = {uid: line for line, uid, _ in kept}
        parent_of = self.parent
        done: set[str] = set()
        for _, uid, _ in kept:
            if uid in done:
                continue
            path: list[str] = []
            on_path: set[str] = set()
            node: str | None = uid
            while node is not None and node in line_of and node not in done:
                if node in on_path:
                    loop = path[path.index(node) :]
                    first = min(loop, key=lambda n: line_of[n])
                    start = loop.index(first)
                    ring = [*loop[start:], *loop[:start], first]
                    self.problem(
                        shown,
                        line_of[first],
                        "parent",
                        f"cycle of command: {' -> '.join(ring)}",
                        *loop,
                    )
                    break
                path.append(node)
                on_path.add(node)
                node = parent_of.get(node)
            done.update(path)

    def check_compounds(self, shown: str, rows: _Rows) -> None:
        level_of = self.level
        for line, (cid, community, _name, _kind, entrances) in rows:
            claimed = self.claim(shown, line, cid)
            if not community:
                self.problem(
                    shown, line, "community", "empty (the community the compound belongs to)", cid
                )
            elif level_of.get(community) is not Level.COMMUNITY:
                if not self.quiet(community, "units.csv"):
                    self.problem(
                        shown,
                        line,
                        "community",
                        self.unknown(community, "community", self._of(Level.COMMUNITY)),
                        cid,
                    )
                else:
                    self.shaky.add(cid)
            elif claimed:
                self.community_of_compound[cid] = community
            if entrances:
                number = _integer(entrances)
                if number is None:
                    self.problem(
                        shown, line, "entrances", f"not a whole number: {_short(entrances)!r}", cid
                    )
                elif number < 1:
                    self.problem(shown, line, "entrances", f"must be 1 or more, got {number}", cid)

    def _buildings_fine(self, shown: str, rows: _Batch) -> bool:
        """True when a batch of buildings has no problem, checked column by
        column over distinct values (as :meth:`_people_fine`); the batch's
        ids are recorded only when it is fine."""
        ids, grids, compounds, households = rows.columns
        fresh = set(ids)
        if len(fresh) != len(ids) or "" in fresh or not self.owner.keys().isdisjoint(fresh):
            return False
        level_of = self.level
        if any(level_of.get(g) is not Level.GRID for g in set(grids)):
            return False
        community_of = self.community_of_compound
        parent_of = self.parent
        for grid, compound in set(zip(grids, compounds, strict=True)):
            if compound and community_of.get(compound) != parent_of[grid]:
                return False
        if not all(h.isascii() and h.isdigit() for h in set(households)):
            return False
        base = self.source(shown)
        self.owner.update(zip(ids, map(base.__add__, rows.lines), strict=True))
        self.buildings.update(dict.fromkeys(ids))
        return True

    def check_buildings(self, shown: str, rows: _Rows) -> None:
        if rows and self._buildings_fine(shown, rows):
            return
        level_of = self.level
        parent_of = self.parent
        compounds = self.community_of_compound
        for line, (bid, grid, compound, households) in rows:
            if self.claim(shown, line, bid):
                self.buildings[bid] = None
            grid_ok = False
            if not grid:
                self.problem(
                    shown, line, "grid", "empty (every building is in exactly one grid)", bid
                )
            elif level_of.get(grid) is not Level.GRID:
                if not self.quiet(grid, "units.csv"):
                    self.problem(
                        shown, line, "grid", self.unknown(grid, "grid", self._of(Level.GRID)), bid
                    )
            else:
                grid_ok = True
            if compound:
                community = compounds.get(compound)
                if community is None:
                    if self.quiet(compound, "compounds.csv"):
                        pass
                    elif compound in self.owner or compound in self.person_rows:
                        message = self.unknown(compound, "compound", ())
                        self.problem(shown, line, "compound", message, bid)
                    else:
                        message = f"no compound {compound!r}{self.hint(compound, compounds)}"
                        self.problem(shown, line, "compound", message, bid)
                elif grid_ok and parent_of[grid] != community:
                    self.problem(
                        shown,
                        line,
                        "compound",
                        f"compound {compound} is in community {community}, but grid {grid} is in "
                        f"{parent_of[grid]} (a building's grid and compound share a community)",
                        bid,
                        grid,
                        compound,
                    )
            number = _integer(households)
            if number is None:
                what = "empty" if not households else f"not a whole number: {_short(households)!r}"
                self.problem(shown, line, "households", f"{what} (a count, 0 or more)", bid)
            elif number < 0:
                self.problem(shown, line, "households", f"must be 0 or more, got {number}", bid)


class _Reader(_UnitChecks):
    """Reads and validates one bundle; see :func:`load_city`."""

    def run(self, *, build: bool) -> City | None:
        try:
            return self._run(build)
        except GridgovError as exc:
            # A rule the checks below missed, caught by the model itself.
            self.problem(self.shown, 0, "(bundle)", str(exc).splitlines()[0])
        except (MemoryError, RecursionError) as exc:
            self.problem(self.shown, 0, "(bundle)", f"too large to read ({type(exc).__name__})")
        except Exception as exc:  # the loader promises: only gridgov errors escape
            # A check above should have caught what the model refused; say so
            # plainly rather than let a bare exception reach the user.
            self.problem(
                self.shown,
                0,
                "(bundle)",
                f"cannot be read: {type(exc).__name__}: {exc} (a gridgov bug: please report it)",
            )
        return None

    def _run(self, build: bool) -> City | None:
        try:
            mode = os.stat(self.folder).st_mode
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            self.problem(self.shown, 0, "(bundle)", f"cannot read the bundle folder: {reason}")
            return None
        if not stat.S_ISDIR(mode):
            self.problem(
                self.shown, 0, "(bundle)", "not a folder (a city bundle is a folder with city.toml)"
            )
            return None
        self.keep = build
        try:
            self.read_toml()
        except _StopBundle:
            return None
        # Every file is checked batch by batch as it is read, and its rows
        # kept only while the bundle has no problem (nothing is built
        # otherwise); past the cap, reading stops, so time and memory stay
        # bounded. Units refer to each other, so their parents are checked
        # once all are read; the other files refer only to files read before.
        units = self.read_table("units.csv", self.check_units, required=True)
        self.check_parents(units.shown)
        compounds = self.read_table("compounds.csv", self.check_compounds)
        buildings = self.read_table("buildings.csv", self.check_buildings)
        organisations = self.read_table("organisations.csv", self.check_organisations)
        people = self.read_table("people.csv", self.check_people)
        # The batches' ids were kept only to undo a batch of people that fails.
        self.person_batches = [(first, lines, ()) for first, lines, _ in self.person_batches]
        links = self.read_table("co_building.csv", self.check_links)
        parts = [p for p in _parts() if (self.folder / p.file).exists()]
        if self.count or not build:
            for part in parts:
                for problem in part.check(self.folder / part.file, self._file(part.file), None):
                    self.problem(problem.file, problem.line, problem.key, problem.message)
            return None
        city = self.build(units, compounds, buildings, organisations, people, links)
        for part in parts:
            found = part.check(self.folder / part.file, self._file(part.file), city)
            for problem in found:
                self.problem(problem.file, problem.line, problem.key, problem.message)
            if not found:
                city = part.attach(self.folder / part.file, city)
        return None if self.count else city

    def check_organisations(self, shown: str, rows: _Rows) -> None:
        level_of = self.level
        parent_of = self.parent
        for line, (oid, kind, community, _name, staff, exclusive) in rows:
            if self.claim(shown, line, oid):
                self.organisations[oid] = None
            if not kind:
                self.problem(
                    shown,
                    line,
                    "kind",
                    "empty (e.g. enterprise, institution, agency, hospital, mall)",
                    oid,
                )
            community_ok = False
            if not community:
                self.problem(shown, line, "community", "empty (the community it sits in)", oid)
            elif level_of.get(community) is not Level.COMMUNITY:
                if not self.quiet(community, "units.csv"):
                    self.problem(
                        shown,
                        line,
                        "community",
                        self.unknown(community, "community", self._of(Level.COMMUNITY)),
                        oid,
                    )
            else:
                community_ok = True
            if staff:
                number = _integer(staff)
                if number is None:
                    self.problem(
                        shown, line, "staff", f"not a whole number: {_short(staff)!r}", oid
                    )
                elif number < 0:
                    self.problem(shown, line, "staff", f"must be 0 or more, got {number}", oid)
            if exclusive:
                if level_of.get(exclusive) is not Level.GRID:
                    if self.quiet(exclusive, "units.csv"):
                        continue
                    self.problem(
                        shown,
                        line,
                        "exclusive_grid",
                        self.unknown(exclusive, "grid", self._of(Level.GRID)),
                        oid,
                    )
                elif community_ok and parent_of[exclusive] != community:
                    self.problem(
                        shown,
                        line,
                        "exclusive_grid",
                        f"grid {exclusive} belongs to {parent_of[exclusive]}, not to the "
                        f"organisation's community {community}",
                        oid,
                        exclusive,
                    )

    def check_people(self, shown: str, rows: _Rows) -> None:
        level_of = self.level
        organisations = self.organisations
        buildings = self.buildings
        compounds = self.community_of_compound
        person_kinds = tuple(_PERSON_KINDS)
        worker_kinds = tuple(_WORKER_KINDS)
        owner = self.owner
        base = self.source(shown)
        if rows and self._people_fine(shown, rows):
            return
        self.people_slow = True
        earlier = self.person_rows
        for line, (pid, kind, home, role, post, employer, worker) in rows:
            # Person ids share the namespace: claim inline (the hot loop of a big city).
            if pid and pid not in owner and pid not in earlier:
                owner[pid] = base + line
            else:
                self.claim(shown, line, pid)
            if kind not in _PERSON_KINDS:
                message = "empty" if not kind else f"unknown person kind {kind!r}"
                self.problem(
                    shown, line, "kind", f"{message} ({self.enum(kind, person_kinds)})", pid
                )
            if level_of.get(home) is not Level.COMMUNITY and not self.quiet(home, "units.csv"):
                if not home:
                    message = "empty (the community where the person lives)"
                else:
                    message = self.unknown(home, "community", self._of(Level.COMMUNITY))
                self.problem(shown, line, "home", message, pid)
            if not role:
                self.problem(
                    shown, line, "post_role", "empty (the role of the normal post, e.g. cadre)", pid
                )
            if (
                post not in level_of
                and post not in organisations
                and post not in buildings
                and post not in compounds
                and not self.quiet(post, *COLUMNS, _TOML)
            ):
                if not post:
                    message = "empty (where the normal post is)"
                else:
                    message = (
                        f"no unit, compound, building or organisation {post!r}"
                        f"{self.hint(post, level_of)}"
                    )
                self.problem(shown, line, "post_unit", message, pid)
            if (
                employer
                and employer not in organisations
                and not self.quiet(employer, "organisations.csv")
            ):
                self.problem(
                    shown,
                    line,
                    "employer",
                    self.unknown(employer, "organisation", organisations),
                    pid,
                )
            if worker and worker not in _WORKER_KINDS:
                self.problem(
                    shown,
                    line,
                    "grid_worker_kind",
                    f"unknown grid-worker kind {worker!r} ({self.enum(worker, worker_kinds)})",
                    pid,
                )

    def _people_fine(self, shown: str, rows: _Rows) -> bool:
        """True when a batch of people has no problem, checked column by column
        over distinct values (the common case of a big city, at C speed).

        The batch's ids are recorded only when it is fine. While the city is
        to be built (and no problem is found yet), the columns are made as the
        city keeps them on the way (see :meth:`_as_kept`), and their distinct
        values are taken from those: each cell is looked up once.
        """
        ids, kinds, homes, roles, posts, employers, workers = rows.columns
        keep = self.keep and not self.count
        if keep:
            homes, roles, posts, employers = (
                tuple(map(self.one(shown, i), column, column))
                for i, column in ((2, homes), (3, roles), (4, posts), (5, employers))
            )
        kinds = tuple(map(_PERSON_KINDS.get, kinds, itertools.repeat(_BAD)))
        workers = tuple(map(_WORKERS.get, workers, itertools.repeat(_BAD)))
        if _BAD in kinds or _BAD in workers or "" in set(roles):
            return False
        level_of = self.level
        if any(level_of.get(h) is not Level.COMMUNITY for h in set(homes)):
            return False
        places = (level_of, self.organisations, self.buildings, self.community_of_compound)
        if any(all(p not in where for where in places) for p in set(posts)):
            return False
        if not set(employers) - {"", None} <= self.organisations.keys():
            return False
        if not self._people_ids(ids, rows.lines):
            return False
        if keep:
            rows.columns = [ids, kinds, homes, roles, posts, employers, workers]
            rows.done = True
        return True

    def _people_ids(self, ids: tuple[str, ...], lines: Sequence[int]) -> bool:
        """Record a batch of person ids in the index of people; False (and
        nothing recorded) when one is empty, repeated, or already an id.

        The ids are added at once and counted (one look-up each in a table
        of hundreds of thousands, where checking first and adding after
        would be two); on a duplicate the index is made again from the ids
        of the batches before (a broken bundle's path).
        """
        if not self.owner.keys().isdisjoint(ids):
            return False
        earlier = self.person_rows
        first = len(earlier)
        earlier.update(zip(ids, range(first, first + len(ids)), strict=True))
        if len(earlier) == first + len(ids) and "" not in earlier:
            self.person_batches.append((first, lines, ids))
            return True
        earlier.clear()
        for start, _, before in self.person_batches:
            earlier.update(zip(before, range(start, start + len(before)), strict=True))
        return False

    def check_links(self, shown: str, rows: _Rows) -> None:
        seen: dict[tuple[str, str], int] = {}
        for line, (org, community) in rows:
            if org not in self.organisations and not self.quiet(org, "organisations.csv"):
                message = self.unknown(org, "organisation", self.organisations)
                self.problem(shown, line, "organisation", message, org)
            if self.level.get(community) is not Level.COMMUNITY and not self.quiet(
                community, "units.csv"
            ):
                message = self.unknown(community, "community", self._of(Level.COMMUNITY))
                self.problem(shown, line, "community", message, org)
            if (org, community) in seen:
                first = f"{shown}:{seen[org, community]}"
                self.problem(
                    shown,
                    line,
                    "community",
                    f"link {org} - {community} given twice (first at {first})",
                )
            seen[org, community] = line

    # -------------------------------------------------------------- building

    def build(
        self,
        units_table: _Table,
        compounds_table: _Table,
        buildings_table: _Table,
        organisations_table: _Table,
        people_table: _Table,
        links_table: _Table,
    ) -> City:
        city = self.city_unit
        assert city is not None
        # Every record column by column (see gridgov.model.Columns); cells
        # that repeat a value are one string per value (see _keep).
        cids, communities, cnames, ckinds, entrances = (compounds_table.column(i) for i in range(5))
        compounds = Compounds(
            cids,
            communities,
            cnames,
            [kind or "residential" for kind in ckinds],
            [int(e) if e else 1 for e in entrances],
        )
        ids, grids, in_compounds, households = (buildings_table.column(i) for i in range(4))
        # (An empty compound or exclusive grid is None already: see _as_kept.)
        buildings = Buildings(ids, grids, in_compounds, map(int, households))
        oids, okinds, ocommunities, onames, staff, exclusive = (
            organisations_table.column(i) for i in range(6)
        )
        organisations = Organisations(
            oids,
            okinds,
            ocommunities,
            onames,
            [int(s) if s else 0 for s in staff],
            exclusive,
        )
        # People column by column (a big city has hundreds of thousands).
        people = _people(people_table, None if self.people_slow else self.person_rows)
        links = list(zip(oids, ocommunities, strict=True))
        links.extend((org, community) for _, (org, community) in links_table.rows)
        # The chain's nodes column by column: the city, the units, the
        # compounds. Every rule of the chain and the city was checked above,
        # row by row and at its line: the model does not check it all again.
        uids, parents, levels, kinds, names, codes = (units_table.column(i) for i in range(6))
        chain = CommandChain.from_columns(
            (city.id, *uids, *compounds.ids),
            (Level.CITY, *map(_LEVELS.__getitem__, levels), *(Level.COMPOUND,) * len(compounds)),
            (city.name, *names, *compounds.names),
            (None, *parents, *compounds.communities),
            (city.code, *codes, *("",) * len(compounds)),
            (city.kind, *kinds, *compounds.kinds),
            links,
            _checked=True,
        )
        return City.build(
            self.city_name, chain, compounds, buildings, people, organisations, _checked=True
        )


def _people(table: _Table, rows: dict[str, int] | None) -> People:
    """The people of a checked ``people.csv``, column by column (a big city has
    hundreds of thousands; see :class:`People`), its batches as the city keeps
    them (see :meth:`_Reader._as_kept`); ``rows``: each id's row, when the
    reader has it (it becomes the index of the people)."""
    ids, kinds, homes, roles, places, employers, workers = (
        table.column(i) for i in range(len(COLUMNS["people.csv"]))
    )
    return People(
        ids,
        kinds,
        homes,
        roles,
        places,
        employers,
        workers,
        _index=rows if rows is not None and len(rows) == len(ids) else None,
        _exact=True,
    )


class _StopBundle(_Stop):
    """The bundle cannot be read at all (e.g. a newer format)."""


# An id's owner code: the number of its file times this, plus its line.
_SPAN = 1 << 40
# Characters of text split into lines at a time by the plain reader.
_TOO_LONG = "field larger than field limit ("
_PIECE = 1 << 22


def _plain(text: str) -> str | None:
    """``text`` with "\\n" line ends when it reads the same split at commas
    and line ends as through ``csv.reader`` (no quotes, no carriage return
    but in CRLF); else None."""
    if '"' in text:
        return None
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            return None
    return text


def _long_field(lines: Sequence[str]) -> int | None:
    """The index of the first line with a cell longer than the csv module's
    field limit (which ``csv.reader`` refuses), else None."""
    limit = csv.field_size_limit()
    if max(map(len, lines), default=0) <= limit:
        return None
    for i, line in enumerate(lines):
        if len(line) > limit and max(map(len, line.split(","))) > limit:
            return i
    return None  # pragma: no cover - a line this long always has a long cell


def _column_order(
    index: Mapping[str, int], columns: Sequence[tuple[str, bool]], width: int
) -> tuple[list[int], bool]:
    """Where each expected column is in a row (a missing optional one reads the cell
    appended at the end, index ``width``), and whether that is the file's own order."""
    order = [index.get(c, width) for c, _ in columns]
    return order, order == list(range(width))


def _line_batches(text: str, start: int) -> Iterator[list[str]]:
    """The lines of ``text`` from offset ``start``, :data:`_CHUNK` at a time
    (a final line end ends the last line; it does not start an empty one)."""
    pending: list[str] = []
    size = len(text)
    pos = start
    while pos < size:
        end = text.find("\n", pos + _PIECE)
        if end < 0:
            piece = text[pos:-1] if text.endswith("\n") else text[pos:]
            pos = size
        else:
            piece = text[pos:end]
            pos = end + 1
        pending.extend(piece.split("\n"))
        while len(pending) >= _CHUNK:
            yield pending[:_CHUNK]
            del pending[:_CHUNK]
    if pending:
        yield pending


_FIRST = operator.itemgetter(0)


def _integer(text: str) -> int | None:
    """A whole number written plainly (ASCII digits, an optional minus), else None."""
    body = text[1:] if text[:1] == "-" else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    return int(text)


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:40] + "..."

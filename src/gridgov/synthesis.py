"""Synthesis: a full city from a list of units down to communities and their households.

A researcher with the official list of a city's divisions and each
community's household count (or population) runs ``gridgov synth UNITS.csv
--out DIR`` (or :func:`synthesize` / :func:`synthesize_bundle`) and gets a
city bundle: grids cut by the published standard (urban about 200
households, rural about 50, an exclusive grid for each large enterprise,
hospital or mall), compounds (hamlets in villages), buildings, organisations
and people (the 1 + X + N grid teams, cadres of every office and
organisation, in-service members registered where they live, volunteers).
The ratios are a :class:`Recipe`, read from a TOML file whose every value
gives its source (``gridgov/data/synthesis.toml``, shown in
``docs/cities.md``). The Jiamusi preset is one use of it.

The input, one CSV (UTF-8, a BOM and CRLF accepted, columns in any order)::

    id,parent,level,kind,name,code,households,population,compounds,
    large_enterprises,hospitals,malls,large_institutions

``level`` is ``city`` (exactly one row, no parent), ``district``, ``street``
or ``community``; communities need ``households`` (or ``population``,
divided by the recipe's persons per household) and may give their ``kind``
(``community``/``urban`` or ``village``/``rural``; by default a community of
a ``street`` is urban and one of any other township-level kind rural), their
number of ``compounds`` (by default households / households per compound)
and their large organisations (enterprises, hospitals, malls and
institutions such as a prison: each gets an exclusive grid). Problems are
reported like a bundle's: every one at once, ``FILE:LINE: column: what is
wrong``.

The :class:`CityBuilder` underneath lays out the chain unit by unit,
generates the buildings of each community (households as a count per
building), cuts them into grids with :func:`gridgov.gridding.partition`, and
finally staffs the city. Every random draw comes from one
``random.Random(seed)`` consumed in a fixed order, so the same seed gives the
same city bit for bit.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import itertools
import os
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from gridgov._gc import gc_paused
from gridgov._grouping import grouped
from gridgov._toml import Document, Reader, did_you_mean, placed
from gridgov.chain import CommandChain
from gridgov.city import City
from gridgov.errors import CityError, PresetError, Problem
from gridgov.gridding import partition
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
    "INPUT_COLUMNS",
    "CityBuilder",
    "Recipe",
    "allocate",
    "load_recipe",
    "synthesize",
    "synthesize_bundle",
]


# ------------------------------------------------------------------ recipe


def _pair(default: tuple[int, int]) -> Any:
    return attrs.field(default=default)


@attrs.frozen
class Recipe:
    """The ratios synthesis builds a city by; the defaults are ``data/synthesis.toml``.

    Each attribute is one key of the recipe file (``[section] key``, given
    beside it); the file says where every value comes from.
    """

    #: ``[grids] urban_households``: households per urban grid (published standard).
    urban_grid_households: int = 200
    #: ``[grids] rural_households``: households per rural grid (published standard).
    rural_grid_households: int = 50
    #: ``[places] urban_building_households``: range of households per urban building.
    urban_building_households: tuple[int, int] = _pair((36, 84))
    #: ``[places] rural_building_households``: range per row of rural houses.
    rural_building_households: tuple[int, int] = _pair((6, 18))
    #: ``[places] households_per_compound``: when a community's compounds are not given.
    households_per_compound: int = 800
    #: ``[places] households_per_hamlet``: when a village's hamlets are not given.
    households_per_hamlet: int = 125
    #: ``[places] households_per_entrance``: one entrance per this many households.
    households_per_entrance: int = 400
    #: ``[places] max_entrances``: entrances of the largest compound.
    max_entrances: int = 6
    #: ``[organisations] exclusive_staff``: range of staff of a large organisation.
    exclusive_staff: tuple[int, int] = _pair((300, 3000))
    #: ``[organisations] exclusive_kinds``: weights of the kinds drawn for a count.
    exclusive_kinds: Mapping[str, float] = attrs.field(
        factory=lambda: {"enterprise": 6.0, "hospital": 2.0, "mall": 2.0}
    )
    #: ``[organisations] urban_small``: range of small organisations per urban community.
    urban_small_organisations: tuple[int, int] = _pair((2, 5))
    #: ``[organisations] urban_kinds``: weights of their kinds.
    urban_organisation_kinds: Mapping[str, float] = attrs.field(
        factory=lambda: {"enterprise": 5.0, "institution": 3.0, "agency": 2.0}
    )
    #: ``[organisations] urban_staff``: range of their staff.
    urban_staff: tuple[int, int] = _pair((20, 400))
    #: ``[organisations] rural_small``: range of small enterprises per village.
    rural_small_organisations: tuple[int, int] = _pair((0, 2))
    #: ``[organisations] rural_staff``: range of their staff.
    rural_staff: tuple[int, int] = _pair((10, 120))
    #: ``[organisations] staff_per_cadre``: one party cadre per this many staff.
    staff_per_cadre: int = 100
    #: ``[people] part_time_per_grid``: part-time grid workers per grid (the N of 1 + X + N).
    part_time_per_grid: float = 2.7047
    #: ``[people] part_time_weight_urban``: an urban or exclusive grid's share against a rural one.
    part_time_weight_urban: float = 3.0
    #: ``[people] cadres_per_office``: by level, or by community kind for communities.
    cadres_per_office: Mapping[str, float] = attrs.field(
        factory=lambda: {
            "city": 300.0,
            "district": 100.0,
            "street": 30.0,
            "community": 6.0,
            "village": 3.0,
        }
    )
    #: ``[people] members_per_household``: in-service members, by community kind.
    members_per_household: Mapping[str, float] = attrs.field(
        factory=lambda: {"community": 0.04, "village": 0.012}
    )
    #: ``[people] volunteers_per_household``.
    volunteers_per_household: float = 0.01
    #: ``[people] households_per_volunteer_base``.
    households_per_volunteer_base: int = 45000
    #: ``[people] persons_per_household``: turns a population into households.
    persons_per_household: float = 2.1

    @classmethod
    def default(cls) -> Recipe:
        """The recipe of ``gridgov/data/synthesis.toml`` (equal to ``Recipe()``)."""
        text = importlib.resources.files("gridgov") / "data" / "synthesis.toml"
        return cls.from_toml(text.read_text(encoding="utf-8"), "synthesis.toml")

    @classmethod
    def from_toml(cls, text: str, source: str = "<recipe>") -> Recipe:
        """Read a recipe file; keys left out keep the defaults.

        Raises:
            CityError: every problem of the file (unknown keys with a "did you
                mean", wrong types, values out of range), at its lines.
        """
        document = Document.parse(text, source, CityError)
        reader = Reader()
        data = document.data
        reader.unknown_keys(data, (), ("version", *_RECIPE_SECTIONS))
        version = data.get("version", 1)
        if version != 1:
            reader.problem(("version",), f"unsupported version {version!r} (expected 1)")
        values: dict[str, Any] = {}
        for section, keys in _RECIPE_SECTIONS.items():
            table = reader.table(data, (section,), tuple(keys))
            for key, (field, kind) in keys.items():
                if key in table:
                    value = _recipe_value(reader, (section, key), table[key], kind)
                    if value is not None:
                        values[field] = value
        if reader.found:
            raise CityError(placed(reader.found, source, document.lines))
        return cls(**values)


# Sections of the recipe file: key -> (Recipe attribute, kind of value).
_RECIPE_SECTIONS: dict[str, dict[str, tuple[str, str]]] = {
    "grids": {
        "urban_households": ("urban_grid_households", "count"),
        "rural_households": ("rural_grid_households", "count"),
    },
    "places": {
        "urban_building_households": ("urban_building_households", "range"),
        "rural_building_households": ("rural_building_households", "range"),
        "households_per_compound": ("households_per_compound", "count"),
        "households_per_hamlet": ("households_per_hamlet", "count"),
        "households_per_entrance": ("households_per_entrance", "count"),
        "max_entrances": ("max_entrances", "count"),
    },
    "organisations": {
        "exclusive_staff": ("exclusive_staff", "range"),
        "exclusive_kinds": ("exclusive_kinds", "weights"),
        "urban_small": ("urban_small_organisations", "range0"),
        "urban_kinds": ("urban_organisation_kinds", "weights"),
        "urban_staff": ("urban_staff", "range"),
        "rural_small": ("rural_small_organisations", "range0"),
        "rural_staff": ("rural_staff", "range"),
        "staff_per_cadre": ("staff_per_cadre", "count"),
    },
    "people": {
        "part_time_per_grid": ("part_time_per_grid", "rate"),
        "part_time_weight_urban": ("part_time_weight_urban", "rate"),
        "cadres_per_office": ("cadres_per_office", "rates"),
        "members_per_household": ("members_per_household", "rates"),
        "volunteers_per_household": ("volunteers_per_household", "rate"),
        "households_per_volunteer_base": ("households_per_volunteer_base", "count"),
        "persons_per_household": ("persons_per_household", "positive"),
    },
}


def _recipe_value(reader: Reader, path: tuple[str, str], value: object, kind: str) -> Any:
    """One value of a recipe file checked by its kind, or None (problem recorded)."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "count":
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            reader.problem(path, f"expected a whole number, 1 or more, got {value!r}")
            return None
        return value
    if kind in ("rate", "positive"):
        low_ok = number and (value > 0 if kind == "positive" else value >= 0)  # type: ignore[operator]
        if not low_ok:
            reader.problem(
                path,
                f"expected a number, {'above' if kind == 'positive' else '0 or'} "
                f"{'0' if kind == 'positive' else 'more'}, got {value!r}",
            )
            return None
        return float(value)  # type: ignore[arg-type]
    if kind in ("range", "range0"):
        least = 0 if kind == "range0" else 1
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            or not least <= value[0] <= value[1]
        ):
            reader.problem(
                path,
                f"expected [low, high], whole numbers with {least} <= low <= high, got {value!r}",
            )
            return None
        return (value[0], value[1])
    # weights / rates: a table of names to numbers of 0 or more
    if not isinstance(value, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in value.values()
    ):
        reader.problem(path, f"expected a table of names to numbers, 0 or more, got {value!r}")
        return None
    if kind == "weights" and not any(value.values()):
        reader.problem(path, "expected at least one weight above 0")
        return None
    return {str(k): float(v) for k, v in value.items()}


def load_recipe(path: str | os.PathLike[str]) -> Recipe:
    """Read a recipe file (format: ``gridgov/data/synthesis.toml``).

    Raises:
        CityError: the file cannot be read, is not TOML, or has problems.
    """
    source = os.fspath(path)
    try:
        text = Path(source).read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise CityError([Problem(source, 0, "(file)", f"cannot read: {reason}")]) from None
    return Recipe.from_toml(text, source)


def allocate(total: int, weights: Sequence[float], minimum: int = 0) -> list[int]:
    """Split ``total`` into integer shares proportional to ``weights``.

    Largest-remainder rounding, so the shares add up to ``total`` exactly;
    every share is at least ``minimum``.

    Raises:
        PresetError: ``total`` is too small for the minimums.
    """
    n = len(weights)
    if n == 0:
        if total:
            raise PresetError(f"cannot allocate {total} over no units")
        return []
    free = total - minimum * n
    if free < 0:
        raise PresetError(f"cannot allocate {total} over {n} units with at least {minimum} each")
    total_weight = sum(weights)
    weight_sum = total_weight or float(n)
    raw = [free * (w if total_weight else 1.0) / weight_sum for w in weights]
    shares = [int(r) for r in raw]
    left = free - sum(shares)
    order = sorted(range(n), key=lambda i: (-(raw[i] - shares[i]), i))
    for i in order[:left]:
        shares[i] += 1
    return [s + minimum for s in shares]


class CityBuilder:
    """Builds one synthetic city; see the module docstring."""

    def __init__(
        self,
        name: str,
        code: str,
        seed: int,
        recipe: Recipe | None = None,
        city: Unit | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.recipe = recipe if recipe is not None else Recipe()
        self.name = name
        self.city_id = city.id if city is not None else code[:6]
        # The chain's units, column by column (the fields of Unit, in order):
        # no object per unit (a city has thousands of grids).
        self._units: tuple[list[Any], ...] = ([], [], [], [], [], [])
        self._add(
            city
            if city is not None
            else Unit(id=self.city_id, level=Level.CITY, name=name, code=code[:6].ljust(12, "0"))
        )
        self._compounds: tuple[list[Any], ...] = ([], [], [], [], [])
        # The buildings and the people, column by column (the fields of
        # Buildings and People, in order): no object per building or person.
        self._buildings: tuple[list[Any], ...] = ([], [], [], [])
        self._organisations: tuple[list[Any], ...] = ([], [], [], [], [], [])
        # People by runs of equal fields (kind, home, post role, post unit, employer,
        # grid-worker kind: each column its values and how many people in a row have
        # each), their ids numbered: no list of one entry per person, made into tuples
        # once (a person-per-entry list copied into a tuple, then freed, wrote and
        # read every column twice over, several megabytes each in a big city).
        self._people: tuple[tuple[list[Any], list[int]], ...] = tuple(([], []) for _ in range(6))
        self.co_building: list[tuple[str, str]] = []
        self._grids: list[tuple[str, str, str]] = []  # (grid id, kind, community)
        # How many organisations each community has (their ids are numbered).
        self._orgs_of_community: dict[str, int] = {}
        self._households: dict[str, int] = {}
        self._next_person = 1

    # ------------------------------------------------------------- the chain

    @property
    def units(self) -> list[Unit]:
        """The units added so far, the city first."""
        return list(map(Unit, *self._units))

    def _add(self, unit: Unit) -> None:
        self._node(unit.id, unit.level, unit.name, unit.parent, unit.code, unit.kind)

    def _node(
        self, uid: str, level: Level, name: str, parent: str | None, code: str, kind: str
    ) -> None:
        ids, levels, names, parents, codes, kinds = self._units
        ids.append(uid)
        levels.append(level)
        names.append(name)
        parents.append(parent)
        codes.append(code)
        kinds.append(kind)

    def unit(self, unit: Unit) -> str:
        """Add any unit below the city (a community gets its organisations' list)."""
        self._add(unit)
        if unit.level is Level.COMMUNITY:
            self._orgs_of_community[unit.id] = 0
        return unit.id

    def district(self, code6: str, name: str, kind: str) -> str:
        """Add a district or county under the city; returns its id."""
        self._node(code6, Level.DISTRICT, name, self.city_id, code6.ljust(12, "0"), kind)
        return code6

    def street(self, district: str, number: int, name: str, kind: str) -> str:
        """Add a street, town or township; returns its 9-digit id."""
        sid = f"{district}{number:03d}"
        self._node(sid, Level.STREET, name, district, sid.ljust(12, "0"), kind)
        return sid

    def community(self, street: str, number: int, name: str, kind: str) -> str:
        """Add a community or village; returns its 12-digit id."""
        cid = f"{street}{number:03d}"
        self._node(cid, Level.COMMUNITY, name, street, cid, kind)
        self._orgs_of_community[cid] = 0
        return cid

    # ------------------------------------------------------ places and grids

    def urban_community(
        self,
        community: str,
        grids: int,
        compounds: int,
        exclusive: int | Sequence[str],
        households: int | None = None,
    ) -> None:
        """Buildings in ``compounds`` compounds, cut into ``grids`` urban grids,
        plus an exclusive grid for each large organisation.

        Args:
            community: the community's id.
            grids: urban grids to cut its households into (0: none).
            compounds: residential compounds (at least one when there are grids).
            exclusive: the kinds of its large organisations (``enterprise``,
                ``hospital``, ``mall``), or how many to draw kinds for.
            households: its households; drawn near ``grids`` times the
                standard size when None.
        """
        rng = self.rng
        recipe = self.recipe
        if grids:
            size = recipe.urban_grid_households
            target = (
                households
                if households is not None
                else grids * size + rng.randint(-grids * 8, grids * 8)
            )
            low, high = recipe.urban_building_households
            sizes = _sizes(rng, target, low, high, exact=households is not None)
            self._place(community, GridKind.URBAN, size, grids, sizes, compounds, "residential")
        self._exclusive(community, grids, exclusive)
        low, high = recipe.urban_small_organisations
        kinds, weights = zip(*recipe.urban_organisation_kinds.items(), strict=True)
        for _ in range(rng.randint(low, high)):
            kind = rng.choices(kinds, weights)[0]
            self._organisation(community, kind, rng.randint(*recipe.urban_staff), None)

    def _exclusive(self, community: str, numbered: int, exclusive: int | Sequence[str]) -> None:
        rng = self.rng
        recipe = self.recipe
        kinds, weights = zip(*recipe.exclusive_kinds.items(), strict=True)
        count = exclusive if isinstance(exclusive, int) else len(exclusive)
        for i in range(count):
            numbered += 1
            gid = f"{community}-G{numbered:03d}"
            kind = rng.choices(kinds, weights)[0] if isinstance(exclusive, int) else exclusive[i]
            _, name = self._organisation(community, kind, rng.randint(*recipe.exclusive_staff), gid)
            self._grid(gid, GridKind.EXCLUSIVE, community, f"{name} grid")
            self._building(f"{gid}-B01", gid, None, 0)

    def village(
        self,
        community: str,
        grids: int,
        hamlets: int,
        households: int | None = None,
        exclusive: Sequence[str] = (),
    ) -> None:
        """Rows of houses in ``hamlets`` hamlets, cut into ``grids`` rural grids
        (households drawn near ``grids`` times the standard size when None),
        plus an exclusive grid for each large organisation of ``exclusive``."""
        rng = self.rng
        recipe = self.recipe
        size = recipe.rural_grid_households
        if grids:
            target = (
                households
                if households is not None
                else grids * size + rng.randint(-grids * 3, grids * 3)
            )
            low, high = recipe.rural_building_households
            sizes = _sizes(rng, target, low, high, exact=households is not None)
            self._place(community, GridKind.RURAL, size, grids, sizes, hamlets, "hamlet")
        if exclusive:
            self._exclusive(community, grids, exclusive)
        low, high = recipe.rural_small_organisations
        for _ in range(rng.randint(low, high)):
            self._organisation(community, "enterprise", rng.randint(*recipe.rural_staff), None)

    def _place(
        self,
        community: str,
        kind: GridKind,
        size: int,
        grids: int,
        sizes: list[int],
        compounds: int,
        compound_kind: str,
    ) -> None:
        rng = self.rng
        compounds = max(1, min(compounds, len(sizes)))
        cuts = sorted(rng.sample(range(1, len(sizes)), compounds - 1)) if compounds > 1 else []
        bounds = [0, *cuts, len(sizes)]
        placed: list[tuple[str, int]] = []
        compound_of: dict[str, str] = {}
        for c in range(compounds):
            cid = f"{community}-C{c + 1:02d}"
            run = sizes[bounds[c] : bounds[c + 1]]
            households = sum(run)
            entrances = min(
                self.recipe.max_entrances, 1 + households // self.recipe.households_per_entrance
            )
            label = "Hamlet" if compound_kind == "hamlet" else "Compound"
            for column, value in zip(
                self._compounds,
                (cid, community, f"{label} {c + 1}", compound_kind, entrances),
                strict=True,
            ):
                column.append(value)
            for b, h in enumerate(run):
                bid = f"{cid}-B{b + 1:02d}"
                placed.append((bid, h))
                compound_of[bid] = cid
        for g, members in enumerate(partition(placed, size, count=grids)):
            gid = f"{community}-G{g + 1:03d}"
            self._grid(gid, kind, community, f"Grid {g + 1}")
            lookup = dict(placed)
            for bid in members:
                self._building(bid, gid, compound_of[bid], lookup[bid])
                self._households[community] = self._households.get(community, 0) + lookup[bid]

    def _building(self, bid: str, grid: str, compound: str | None, households: int) -> None:
        ids, grids, compounds, counts = self._buildings
        ids.append(bid)
        grids.append(grid)
        compounds.append(compound)
        counts.append(households)

    def _grid(self, gid: str, kind: GridKind, community: str, name: str) -> None:
        self._node(gid, Level.GRID, name, community, "", kind.value)
        self._grids.append((gid, kind.value, community))

    def _organisation(
        self, community: str, kind: str, staff: int, exclusive_grid: str | None
    ) -> tuple[str, str]:
        """Add an organisation; its id and name."""
        number = self._orgs_of_community[community] + 1
        self._orgs_of_community[community] = number
        oid = _org_id(community, number)
        name = f"{kind.title()} {community[-3:]}-{number}"
        for column, value in zip(
            self._organisations,
            (oid, kind, community, name, staff, exclusive_grid),
            strict=True,
        ):
            column.append(value)
        self.co_building.append((oid, community))
        return oid, name

    # ----------------------------------------------------------------- people

    def _run(
        self,
        count: int,
        kind: PersonKind,
        home: str,
        role: str,
        unit: str | list[str],
        employer: str | list[str] | None,
        worker: GridWorkerKind | None,
    ) -> None:
        """``count`` people in a row with these fields (``unit`` and ``employer`` may
        instead give one value per person, as lists)."""
        if count <= 0:
            return
        for (values, counts), value in zip(
            self._people, (kind, home, role, unit, employer, worker), strict=True
        ):
            if isinstance(value, list):
                values += value
                counts += itertools.repeat(1, count)
            elif values and values[-1] is value:
                counts[-1] += count
            else:
                values.append(value)
                counts.append(count)
        self._next_person += count

    def _people_columns(self) -> tuple[tuple[Any, ...], ...]:
        """The people's columns as tuples (the ids first: ``P`` and a 7-digit number)."""
        ids = tuple(map("P{:07d}".format, range(1, self._next_person)))
        columns = (
            tuple(itertools.chain.from_iterable(map(itertools.repeat, values, counts)))
            for values, counts in self._people
        )
        return (ids, *columns)

    def staff(
        self,
        grid_workers: int,
        cadres_per_office: dict[str, int],
        member_rate: dict[str, float],
        volunteer_rate: float,
        volunteer_bases: int,
    ) -> None:
        """Staff the city once every unit and place is laid out.

        Args:
            grid_workers: total grid workers: one full-time per grid, one
                professional per urban or exclusive grid, the rest part-time.
            cadres_per_office: cadres at each office, keyed by level or
                community kind (``city``, ``district``, ``street``, ``community``,
                ``village``); organisations get one cadre per 100 staff.
            member_rate: in-service members per household, by community kind.
            volunteer_rate: registered volunteers per household.
            volunteer_bases: number of volunteer service bases.
        """
        self._staff_grids(grid_workers)
        parents = self._parents()
        self._staff_cadres(cadres_per_office, parents)
        self._staff_members(member_rate, volunteer_rate, volunteer_bases, parents)

    def _staff_grids(self, grid_workers: int) -> None:
        """Grid workers: full-time, professional, and part-time spread by weight."""
        rng = self.rng
        grids = self._grids
        professional = sum(1 for _, kind, _ in grids if kind != GridKind.RURAL.value)
        part_time = grid_workers - len(grids) - professional
        if part_time < 0:
            raise PresetError(
                f"{grid_workers} grid workers cannot cover {len(grids)} full-time and "
                f"{professional} professional posts"
            )
        heavy = self.recipe.part_time_weight_urban
        weights = [{"urban": heavy, "exclusive": heavy}.get(kind, 1.0) for _, kind, _ in grids]
        extra = allocate(part_time, weights)
        worker = PersonKind.GRID_WORKER
        rural = GridKind.RURAL.value
        full_time, pro = GridWorkerKind.FULL_TIME, GridWorkerKind.PROFESSIONAL
        part_time_kind = GridWorkerKind.PART_TIME
        # Each community's organisations, numbered from 1 (the ids themselves, not
        # new equal strings: one object per id wherever the city keeps it), as
        # tuples: a list per community would be one more survivor for the collector.
        oids, _, communities = self._organisations[:3]
        orgs_of = grouped(communities, oids)
        for (gid, kind, community), n_part in zip(grids, extra, strict=True):
            orgs = orgs_of.get(community, ())
            self._run(1, worker, community, "grid_worker", gid, None, full_time)
            if kind != rural:
                self._run(1, worker, community, "grid_worker", gid, None, pro)
            employers = [rng.choice(orgs) for _ in range(n_part)] if orgs else None
            self._run(n_part, worker, community, "grid_worker", gid, employers, part_time_kind)

    def _staff_cadres(
        self, cadres_per_office: dict[str, int], parents: dict[str, str | None]
    ) -> None:
        """Cadres of every office (living in a community below it) and organisation."""
        rng = self.rng
        communities_below: dict[str, list[str]] = {}
        ids, levels, _, _, _, kinds = self._units
        for uid, level in zip(ids, levels, strict=True):
            if level is Level.COMMUNITY:
                for up in _ancestors_of(uid, parents):
                    communities_below.setdefault(up, []).append(uid)
        for uid, level, kind in zip(ids, levels, kinds, strict=True):
            if level is Level.GRID:
                continue
            key = kind if level is Level.COMMUNITY else level.value
            for _ in range(cadres_per_office.get(key, 0)):
                home = rng.choice(communities_below.get(uid) or [uid])
                self._run(1, PersonKind.CADRE, home, "cadre", uid, None, None)
        oids, _, communities, _, staffs, _ = self._organisations
        per_cadre = self.recipe.staff_per_cadre
        for oid, community, staff in zip(oids, communities, staffs, strict=True):
            self._run(
                max(1, staff // per_cadre), PersonKind.CADRE, community, "cadre", oid, oid, None
            )

    def _staff_members(
        self,
        member_rate: dict[str, float],
        volunteer_rate: float,
        volunteer_bases: int,
        parents: dict[str, str | None],
    ) -> None:
        """In-service members (employed in their district) and volunteers."""
        rng = self.rng
        district_orgs: dict[str, list[str]] = {}
        oids, _, communities = self._organisations[:3]
        for oid, community in zip(oids, communities, strict=True):
            district = _ancestors_of(community, parents)[-2]
            district_orgs.setdefault(district, []).append(oid)
        bases = self._volunteer_bases(volunteer_bases, parents)
        ids, levels, _, _, _, kinds = self._units
        member = PersonKind.IN_SERVICE_MEMBER
        for uid, level, kind in zip(ids, levels, kinds, strict=True):
            if level is not Level.COMMUNITY:
                continue
            households = self._households.get(uid, 0)
            district = _ancestors_of(uid, parents)[-2]
            employers = district_orgs.get(district, [])
            members = round(households * member_rate.get(kind, 0.0))
            if employers:
                chosen = [rng.choice(employers) for _ in range(members)]
                self._run(members, member, uid, "in_service_member", chosen, chosen, None)
            else:
                self._run(members, member, uid, "in_service_member", uid, None, None)
            base = bases.get(district) or bases.get("")
            volunteers = round(households * volunteer_rate)
            self._run(volunteers, PersonKind.VOLUNTEER, uid, "volunteer", base or uid, None, None)

    def _volunteer_bases(self, count: int, parents: dict[str, str | None]) -> dict[str, str]:
        """Spread the volunteer service bases over the districts; one base per district
        is where that district's volunteers are registered."""
        ids, levels = self._units[:2]
        districts = [u for u, lv in zip(ids, levels, strict=True) if lv is Level.DISTRICT]
        urban = [c for c, count in self._orgs_of_community.items() if count]
        if not count or not urban:
            return {}
        out: dict[str, str] = {}
        for i in range(count):
            community = urban[(i * 7919) % len(urban)]
            base, _ = self._organisation(community, "volunteer_base", 10, None)
            district = _ancestors_of(community, parents)[-2]
            out.setdefault(district, base)
        out[""] = next(iter(out.values()))
        for district in districts:
            out.setdefault(district, out[""])
        return out

    def _parents(self) -> dict[str, str | None]:
        ids, _, _, parents = self._units[:4]
        return dict(zip(ids, parents, strict=True))

    # ------------------------------------------------------------------ build

    @property
    def buildings(self) -> Buildings:
        """The buildings added so far."""
        return Buildings(*self._buildings)

    @property
    def people(self) -> People:
        """The people added so far."""
        # "P" and 7 digits from 1 up: in sorted order while the numbers keep 7 digits.
        ids_sorted = self._next_person <= _PERSON_NUMBERS
        return People(*self._people_columns(), _exact=True, _sorted=ids_sorted)

    @property
    def organisations(self) -> Organisations:
        """The organisations added so far."""
        return Organisations(*self._organisations)

    @property
    def compounds(self) -> Compounds:
        """The compounds added so far."""
        return Compounds(*self._compounds)

    def build(self) -> City:
        """Validate and return the city."""
        ids, levels, names, parents, codes, kinds = self._units
        compounds = self.compounds
        chain = CommandChain.from_columns(
            [*ids, *compounds.ids],
            [*levels, *(Level.COMPOUND,) * len(compounds)],
            [*names, *compounds.names],
            [*parents, *compounds.communities],
            [*codes, *("",) * len(compounds)],
            [*kinds, *compounds.kinds],
            self.co_building,
        )
        return City.build(
            self.name, chain, compounds, self.buildings, self.people, self.organisations
        )


#: How many person numbers the ids' 7 digits hold (1 to 9,999,999), plus one.
_PERSON_NUMBERS = 10**7


def _org_id(community: str, number: int) -> str:
    return f"{community}-O{number:02d}"


def _sizes(rng: random.Random, total: int, low: int, high: int, exact: bool = True) -> list[int]:
    """Building sizes drawn from [low, high] adding up to ``total`` (the last one
    merged into the one before when it is too small).

    ``exact=False`` is the presets' historical draw, kept so that ``small()``
    stays the same city bit for bit: its merge (``sizes[-2] += sizes.pop()``)
    reads one element and writes another, so the sum can differ from
    ``total``; harmless where ``total`` is itself drawn, wrong where it is
    given, so synthesis always draws exactly.
    """
    sizes: list[int] = []
    left = total
    while left > 0:
        size = min(left, rng.randint(low, high))
        sizes.append(size)
        left -= size
    if len(sizes) > 1 and sizes[-1] < low:
        if exact:
            last = sizes.pop()
            sizes[-1] += last
        else:
            sizes[-2] += sizes.pop()
    return sizes


def _ancestors_of(node: str, parents: dict[str, str | None]) -> list[str]:
    """``node`` and its commanders up to the city (the city last)."""
    out = [node]
    current = parents.get(node)
    while current is not None:
        out.append(current)
        current = parents.get(current)
    return out


# ------------------------------------------------------------------ synthesis

#: Columns of the synthesis input: (name, required).
INPUT_COLUMNS: tuple[tuple[str, bool], ...] = (
    ("id", True),
    ("parent", False),
    ("level", True),
    ("kind", False),
    ("name", False),
    ("code", False),
    ("households", False),
    ("population", False),
    ("compounds", False),
    ("large_enterprises", False),
    ("hospitals", False),
    ("malls", False),
    ("large_institutions", False),
)
_COUNTS = (
    "households",
    "population",
    "compounds",
    "large_enterprises",
    "hospitals",
    "malls",
    "large_institutions",
)
_INPUT_LEVELS = ("city", "district", "street", "community")
#: The largest count a row may give (a community of a million households is
#: ten times the largest there is): beyond it synthesis would run for hours.
MAX_UNIT_COUNT = 1_000_000
#: The most households a synthesised city may have in all (Jiamusi has about
#: a million): beyond it synthesis would run for hours.
MAX_CITY_HOUSEHOLDS = 20_000_000
#: The most grid workers a synthesis may be asked for, per grid.
MAX_WORKERS_PER_GRID = 50
_URBAN = {"": None, "community": "community", "urban": "community"}
_RURAL = {"village": "village", "rural": "village"}


@attrs.frozen
class _Row:
    line: int
    id: str
    parent: str
    level: str
    kind: str
    name: str
    code: str
    counts: Mapping[str, int]


def synthesize(
    units: str | os.PathLike[str] | Iterable[Mapping[str, object]],
    *,
    seed: int = 0,
    recipe: Recipe | None = None,
    grid_workers: int | None = None,
    pause_gc: bool = False,
) -> City:
    """A whole city from a list of units down to communities with their households.

    Args:
        units: the input CSV (columns in the module docstring), or its rows as
            mappings of column to value (``None`` or ``""`` for none).
        seed: random seed; the same seed gives the same city bit for bit.
        recipe: the ratios (default: :meth:`Recipe.default`).
        grid_workers: the total of grid workers when it is known (else
            from the recipe's part-time workers per grid).
        pause_gc: pause Python's cyclic garbage collector while building: a
            city of a million households makes hundreds of thousands of
            objects and builds faster without the collector walking them
            (measured in ``benchmarks/bench_gc.py``); the switch is
            process-wide, so it is off unless asked for.

    Returns:
        The city, validated.

    Raises:
        CityError: every problem of the input, ``FILE:LINE: column: what is
            wrong`` (``<units>`` and the row's position + 1 for rows given in
            Python), or grid workers too few for the grids.
    """
    with gc_paused() if pause_gc else contextlib.nullcontext():
        rows = _read_input(units)
        return _synthesize(rows, seed, recipe or Recipe.default(), grid_workers)


def synthesize_bundle(
    units: str | os.PathLike[str] | Iterable[Mapping[str, object]],
    out: str | os.PathLike[str],
    *,
    seed: int = 0,
    recipe: Recipe | None = None,
    grid_workers: int | None = None,
    pause_gc: bool = False,
) -> Path:
    """:func:`synthesize`, then save the city as a bundle in the folder ``out``.

    ``pause_gc`` is :func:`synthesize`'s.

    Returns:
        The bundle's folder.

    Raises:
        CityError: as :func:`synthesize`, or the folder cannot be written.
    """
    city = synthesize(units, seed=seed, recipe=recipe, grid_workers=grid_workers, pause_gc=pause_gc)
    return city.save(out)


def _read_input(units: str | os.PathLike[str] | Iterable[Mapping[str, object]]) -> list[_Row]:
    from gridgov.cities import read_csv

    names = [c for c, _ in INPUT_COLUMNS]
    if isinstance(units, str | os.PathLike):
        source = os.fspath(units)
        if not os.path.exists(source):
            raise CityError([Problem(source, 0, "(file)", "no such file")])
        raw, problems = read_csv(source, INPUT_COLUMNS)
        if problems:
            raise CityError(problems)
    else:
        source = "<units>"
        raw = []
        problems = []
        for index, mapping in enumerate(units):
            line = index + 2  # as if a header line came first
            unknown = [k for k in mapping if k not in names]
            for key in unknown:
                close = did_you_mean(str(key), names)
                hint = f"did you mean {close!r}? " if close else ""
                problems.append(Problem(source, line, str(key), f"unknown column ({hint})"))
            # A tuple of strings, not a list: the collector drops it (and the row's
            # pair) from its lists at its first pass, so the input of a big city
            # does not pile up as survivors that bring on a full collection.
            raw.append(
                (
                    line,
                    tuple(["" if mapping.get(n) is None else str(mapping.get(n)) for n in names]),
                )
            )
        if problems:
            raise CityError(problems)
    return _check_input(source, raw)


def _check_input(source: str, raw: Sequence[tuple[int, Sequence[str]]]) -> list[_Row]:
    problems: list[Problem] = []

    def problem(line: int, key: str, message: str) -> None:
        problems.append(Problem(source, line, key, message))

    # Rows with a problem of their own: what refers to them is not blamed again.
    faulty: set[str] = set()
    rows = _input_rows(source, raw, problem, faulty)
    levels = {r.id: r.level for r in rows if r.id}
    cities = [r for r in rows if r.level == "city"]
    if not cities:
        problem(1, "level", "no city: one row of level city names the city (its id and name)")
    for extra in cities[1:]:
        faulty.add(extra.id)
        problem(extra.line, "level", f"a second city (the first is at {source}:{cities[0].line})")
    above = dict(zip(_INPUT_LEVELS[1:], _INPUT_LEVELS, strict=False))
    for row in rows:
        if row.level == "city":
            if row.parent:
                problem(row.line, "parent", "the city has no parent (leave it empty)")
            continue
        if row.level not in above:
            continue
        want = above[row.level]
        if not row.parent:
            problem(row.line, "parent", f"empty: a {row.level} answers to a {want}")
        elif row.parent in faulty:
            pass
        elif row.parent not in levels:
            close = did_you_mean(row.parent, list(levels)) if len(problems) < 20 else None
            hint = f" (did you mean {close!r}?)" if close else ""
            problem(row.line, "parent", f"no unit {row.parent!r}{hint}")
        elif levels[row.parent] != want and levels[row.parent] in _INPUT_LEVELS:
            problem(
                row.line,
                "parent",
                f"{row.parent!r} is a {levels[row.parent]}, but a {row.level} answers to a {want}",
            )
        if row.level == "community":
            _check_community(row, problem)
    if problems:
        raise CityError(problems)
    return rows


def _input_rows(
    source: str,
    raw: Sequence[tuple[int, Sequence[str]]],
    problem: Callable[[int, str, str], None],
    faulty: set[str],
) -> list[_Row]:
    """The rows, with the problems of each row on its own (ids, levels, numbers)."""
    rows: list[_Row] = []
    first: dict[str, int] = {}
    for line, cells in raw:
        uid, parent, level, kind, name, code, *numbers = cells
        counts: dict[str, int] = {}
        for column, text in zip(_COUNTS, numbers, strict=True):
            if not text:
                continue
            if not (text.isascii() and text.isdigit()):
                problem(line, column, f"expected a whole number, 0 or more, got {text[:40]!r}")
                counts[column] = -1  # present but wrong: no second problem for it
                continue
            counts[column] = int(text)
            if counts[column] > MAX_UNIT_COUNT:
                problem(line, column, f"at most {MAX_UNIT_COUNT:,}, got {text[:40]}")
                counts[column] = -1
                continue
            if level != "community":
                problem(line, column, "only communities have households and organisations")
        if not uid:
            problem(line, "id", "empty (every row needs an id)")
        elif uid in first:
            problem(line, "id", f"duplicate id {uid!r} (first at {source}:{first[uid]})")
        else:
            first[uid] = line
        if level not in _INPUT_LEVELS:
            faulty.add(uid)
            close = did_you_mean(level, _INPUT_LEVELS)
            hint = f"did you mean {close!r}? " if close else ""
            what = "empty" if not level else f"unknown level {level!r}"
            problem(line, "level", f"{what} ({hint}expected one of: {', '.join(_INPUT_LEVELS)})")
        rows.append(_Row(line, uid, parent, level, kind, name, code, counts))
    return rows


def _check_community(row: _Row, problem: Callable[[int, str, str], None]) -> None:
    """A community's kind and households."""
    if row.kind not in _URBAN and row.kind not in _RURAL:
        choices = ("community", "urban", "village", "rural")
        close = did_you_mean(row.kind, choices)
        hint = f"did you mean {close!r}? " if close else ""
        problem(
            row.line,
            "kind",
            f"unknown community kind {row.kind!r} ({hint}expected one of: "
            f"{', '.join(choices)}, or empty)",
        )
    given = row.counts
    if "households" not in given and "population" not in given:
        problem(row.line, "households", "a community needs households (or population)")
    elif (
        not given.get("households", given.get("population", 0))
        and not _large(given)
        and -1 not in given.values()
    ):
        problem(
            row.line,
            "households",
            "no households and no large organisation: nothing to cut into grids",
        )


def _large(counts: Mapping[str, int]) -> list[str]:
    """The kinds of a community's large organisations, one per exclusive grid."""
    return (
        ["enterprise"] * max(0, counts.get("large_enterprises", 0))
        + ["hospital"] * max(0, counts.get("hospitals", 0))
        + ["mall"] * max(0, counts.get("malls", 0))
        + ["institution"] * max(0, counts.get("large_institutions", 0))
    )


def _check_size(rows: list[_Row], recipe: Recipe) -> None:
    """Refuse a city too big to synthesise in reasonable time (:data:`MAX_CITY_HOUSEHOLDS`)."""
    total = 0
    for row in rows:
        if row.level == "community":
            given = row.counts.get("households")
            if given is None:
                given = round(row.counts.get("population", 0) / recipe.persons_per_household)
            total += given
    if total > MAX_CITY_HOUSEHOLDS:
        why = f"{total:,} households in all; a synthesised city may have at most "
        raise CityError([Problem("<synthesis>", 0, "households", why + f"{MAX_CITY_HOUSEHOLDS:,}")])


def _synthesize(rows: list[_Row], seed: int, recipe: Recipe, grid_workers: int | None) -> City:
    _check_size(rows, recipe)
    city_row = next(r for r in rows if r.level == "city")
    city = Unit(
        id=city_row.id,
        level=Level.CITY,
        name=city_row.name,
        code=city_row.code,
        kind=city_row.kind,
    )
    builder = CityBuilder(city_row.name or city_row.id, "", seed, recipe=recipe, city=city)
    kind_of = {r.id: r.kind for r in rows}
    total = 0
    for row in rows:
        if row.level == "city":
            continue
        level = Level(row.level)
        kind = row.kind
        if level is Level.COMMUNITY:
            if kind in _RURAL:
                kind = _RURAL[kind]
            elif kind:
                kind = "community"
            else:
                kind = "community" if kind_of.get(row.parent) == "street" else "village"
        builder.unit(
            Unit(id=row.id, level=level, name=row.name, parent=row.parent, code=row.code, kind=kind)
        )
        if level is not Level.COMMUNITY:
            continue
        counts = row.counts
        households = counts.get("households")
        if households is None:
            households = round(counts["population"] / recipe.persons_per_household)
        total += households
        large = _large(counts)
        if kind == "community":
            size = recipe.urban_grid_households
            grids = max(1, round(households / size)) if households else 0
            compounds = counts.get("compounds") or max(
                1, round(households / recipe.households_per_compound)
            )
            builder.urban_community(row.id, grids, compounds, large, households=households)
        else:
            size = recipe.rural_grid_households
            grids = max(1, round(households / size)) if households else 0
            hamlets = counts.get("compounds") or max(
                1, round(households / recipe.households_per_hamlet)
            )
            builder.village(row.id, grids, hamlets, households=households, exclusive=large)
    all_grids = len(builder._grids)
    professional = sum(1 for _, kind, _ in builder._grids if kind != GridKind.RURAL.value)
    workers = (
        grid_workers
        if grid_workers is not None
        else all_grids + professional + round(recipe.part_time_per_grid * all_grids)
    )
    most = MAX_WORKERS_PER_GRID * max(1, all_grids)
    if not 0 <= workers <= most:
        why = f"expected 0 to {most:,} ({MAX_WORKERS_PER_GRID} per grid), got {workers:,}"
        raise CityError([Problem("<synthesis>", 0, "grid_workers", why)])
    bases = round(total / recipe.households_per_volunteer_base)
    try:
        builder.staff(
            grid_workers=workers,
            cadres_per_office={k: round(v) for k, v in recipe.cadres_per_office.items()},
            member_rate=dict(recipe.members_per_household),
            volunteer_rate=recipe.volunteers_per_household,
            volunteer_bases=max(1, bases) if total else 0,
        )
    except PresetError as exc:
        raise CityError([Problem("<synthesis>", 0, "grid_workers", str(exc))]) from None
    return builder.build()

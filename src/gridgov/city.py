"""The City: the command chain plus compounds, buildings, people and organisations.

A city is immutable once built. :meth:`City.build` checks that every building
is in exactly one grid of a community that also holds its compound, that every
person lives in a community of the city, and that every organisation sits in
one; then it compiles the indexes that queries need (buildings per grid and
compound, households per unit, people per home community).
"""

from __future__ import annotations

import difflib
import itertools
import operator
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from gridgov._grouping import grouped, grouped_sorted
from gridgov.chain import CommandChain
from gridgov.errors import ChainError, CityError, Problem, UnknownUnitError
from gridgov.model import (
    BigPartyCommittee,
    Building,
    Buildings,
    Compound,
    Compounds,
    Depot,
    GridKind,
    GridWorkerKind,
    Level,
    Organisation,
    Organisations,
    People,
    Person,
    PersonKind,
)

__all__ = ["City"]


class City:
    """An immutable city: its chain of command and everything below the grids.

    Use :meth:`build` (or a preset such as :func:`gridgov.presets.jiamusi`).
    """

    __slots__ = (
        "_buildings",
        "_buildings_of",
        "_committees",
        "_compounds",
        "_compounds_of_grid",
        "_grids_of_compound",
        "_households",
        "_organisations",
        "_people",
        "_people_at_home",
        "_people_at_post",
        "chain",
        "depots",
        "geometry",
        "name",
    )

    chain: CommandChain
    name: str
    #: The city's supply depots, when it carries its own (a bundle's
    #: ``depots.csv``; see :meth:`with_depots`); empty otherwise.
    depots: tuple[Depot, ...]
    #: The city's geometry (a :class:`gridgov.geo.CityGeometry`) when it
    #: carries one (a bundle's ``geometry.geojson``; see :meth:`with_geometry`);
    #: None otherwise.
    geometry: object | None

    def __init__(
        self,
        name: str,
        chain: CommandChain,
        compounds: Compounds | Mapping[str, Compound],
        buildings: Buildings | Mapping[str, Building],
        people: People | Mapping[str, Person],
        organisations: Organisations | Mapping[str, Organisation],
        *,
        _checked: bool = False,
    ) -> None:
        self.name = name
        self.chain = chain
        self.geometry = None
        # The records are kept column by column (see :class:`Columns`).
        self._compounds = (
            compounds if isinstance(compounds, Compounds) else Compounds.of(compounds.values())
        )
        self._buildings = (
            buildings if isinstance(buildings, Buildings) else Buildings.of(buildings.values())
        )
        self._people = people if isinstance(people, People) else People.of(people.values())
        self._organisations = (
            organisations
            if isinstance(organisations, Organisations)
            else Organisations.of(organisations.values())
        )
        self.depots = ()
        if not _checked:  # a city bundle's loader has checked it all, at file:line
            self._check()
        self._index()

    @classmethod
    def build(
        cls,
        name: str,
        chain: CommandChain,
        compounds: Iterable[Compound] | Compounds = (),
        buildings: Iterable[Building] | Buildings = (),
        people: Iterable[Person] | People = (),
        organisations: Iterable[Organisation] | Organisations = (),
        *,
        _checked: bool = False,
    ) -> City:
        """Assemble and validate a city.

        Raises:
            CityError: (a :class:`ChainError`) every problem of the data, each
                naming its object: duplicate ids; a grid whose kind is not
                urban, rural or exclusive; a building outside any grid, or whose
                grid and compound are in different communities; a person of an
                unknown kind or grid-worker kind, living outside any community,
                with a normal post at no unit, compound, building or
                organisation of the city, or working for an unknown
                organisation; an organisation in no community, or whose
                exclusive grid is not a grid of that community.
        """
        return cls(
            name,
            chain,
            _unique_columns(Compounds.of(compounds), "compound"),
            _unique_columns(Buildings.of(buildings), "building"),
            _unique_columns(People.of(people), "person"),
            _unique_columns(Organisations.of(organisations), "organisation"),
            _checked=_checked,
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the city as a city bundle (see :mod:`gridgov.cities`).

        Args:
            path: the folder, created if need be; its bundle files are replaced.

        Returns:
            The folder.

        Raises:
            CityError: a value cannot be written, or the folder cannot be written.
        """
        from gridgov.cities import save_city

        return save_city(self, path)

    # ------------------------------------------------------------ validation

    def _check(self) -> None:
        problems: list[Problem] = []
        ids: set[str] = set()

        def problem(key: str, message: str, *offending: str) -> None:
            problems.append(Problem("", 0, key, f"{key} {message}"))
            ids.update(offending)

        _check_places(self, problem)
        _check_organisations(self, problem)
        _check_people(self, problem)
        if problems:
            shown = "; ".join(p.message for p in problems[:_SHOWN])
            more = f"; and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
            raise CityError(problems, ids, shown + more)

    def _index(self) -> None:
        # Built from the columns, a run of equal keys at a time, without a
        # list or set per key that would outlive its step (a big city has
        # tens of thousands of keys: each one more object for the collector).
        chain = self.chain
        buildings = self._buildings
        ids, grids, compounds = buildings.ids, buildings.grids, buildings.compounds
        counts = buildings.households
        households: dict[str, int] = {}
        get = households.get
        for grid, count in zip(grids, counts, strict=True):
            households[grid] = get(grid, 0) + count
        placed = [c is not None for c in compounds]
        in_compounds: list[str] = list(itertools.compress(compounds, placed))  # type: ignore[arg-type]
        for compound, count in zip(in_compounds, itertools.compress(counts, placed), strict=True):
            households[compound] = get(compound, 0) + count
        # Roll grid households up the chain; compounds are counted only once,
        # through their grids.
        for grid in chain.units(Level.GRID):
            count = get(grid, 0)
            for up in chain.chain_of_command(grid)[1:]:
                households[up] = get(up, 0) + count
        self._households = households
        buildings_of = grouped(grids, ids)
        buildings_of.update(grouped(in_compounds, itertools.compress(ids, placed)))
        self._buildings_of = buildings_of
        # Each distinct (compound, grid) pair once, in order. Buildings come in runs
        # of one grid and one compound: a pair is made at the start of each run
        # only, not per building (each a tuple for the collector to walk).
        in_grids = list(itertools.compress(grids, placed))
        changed = map(
            operator.or_,
            map(operator.ne, in_compounds[1:], in_compounds),
            map(operator.ne, in_grids[1:], in_grids),
        )
        starts = [0, *itertools.compress(range(1, len(in_grids)), changed)] if in_grids else []
        pairs = list(
            dict.fromkeys(
                zip(
                    map(in_compounds.__getitem__, starts),
                    map(in_grids.__getitem__, starts),
                    strict=True,
                )
            )
        )
        del in_grids, starts
        self._grids_of_compound = grouped_sorted(map(_FIRST, pairs), map(_SECOND, pairs))
        pairs.sort(key=_SECOND)
        self._compounds_of_grid = grouped_sorted(map(_SECOND, pairs), map(_FIRST, pairs))
        del pairs
        # The people by home and by post are made when first asked for (see
        # residents): no query of the engine needs them, and made here they were
        # the build's costliest part in a big city (a tuple of ids per run of a
        # home or a post, hundreds of thousands of ids long out of the caches).
        self._people_at_home: dict[str, tuple[str, ...]] | None = None
        self._people_at_post: dict[str, tuple[str, ...]] | None = None
        organisations = self._organisations
        own = grouped(organisations.communities, organisations.ids)
        committees: dict[str, tuple[str, ...]] = {}
        for community in chain.units(Level.COMMUNITY):
            # Members only; the committee is made when asked for.
            mine, partners = own.get(community, ()), chain.co_building_units(community)
            committees[community] = tuple(sorted({*mine, *partners}))
        self._committees = committees

    def with_depots(self, depots: Iterable[Depot]) -> City:
        """This city carrying its supply depots (the rest shared, nothing rebuilt).

        Args:
            depots: the depots (e.g. from :func:`gridgov.depots.load_depots`).

        Returns:
            A city equal to this one in everything else, with :attr:`depots` set.

        Raises:
            ChainError: a depot sits at no unit of the city, or below a community;
                ids repeat.
        """
        depots = tuple(depots)
        problems = []
        seen: set[str] = set()
        for depot in depots:
            if depot.id in seen:
                problems.append(f"depot {depot.id} is listed twice")
            seen.add(depot.id)
            if (
                depot.unit not in self.chain
                or self.chain.level(depot.unit).rank > Level.COMMUNITY.rank
            ):
                problems.append(f"depot {depot.id} sits at {depot.unit!r}, not a unit of the city")
        if problems:
            raise ChainError("; ".join(problems), [d.id for d in depots])
        twin = object.__new__(City)
        for slot in City.__slots__:
            object.__setattr__(twin, slot, getattr(self, slot))
        twin.depots = depots
        return twin

    def with_geometry(self, geometry: object) -> City:
        """This city carrying its geometry (the rest shared, nothing rebuilt).

        Core gridgov never looks inside: the geometry is a
        :class:`gridgov.geo.CityGeometry` (the ``geo`` extra), attached by a
        bundle's ``geometry.geojson`` and written back by :meth:`save`.

        Args:
            geometry: the city's shapes, or None for none.

        Returns:
            A city equal to this one in everything else, with :attr:`geometry` set.
        """
        twin = object.__new__(City)
        for slot in City.__slots__:
            object.__setattr__(twin, slot, getattr(self, slot))
        twin.geometry = geometry
        return twin

    # --------------------------------------------------------------- lookups

    @property
    def compounds(self) -> Compounds:
        """Every compound by id (read-only; kept column by column, see :class:`Compounds`)."""
        return self._compounds

    @property
    def buildings(self) -> Buildings:
        """Every building by id (read-only; kept column by column, see :class:`Buildings`)."""
        return self._buildings

    @property
    def people(self) -> People:
        """Every person by id (read-only; kept column by column, see :class:`People`)."""
        return self._people

    @property
    def organisations(self) -> Organisations:
        """Every organisation by id (read-only; kept column by column)."""
        return self._organisations

    def compound(self, compound_id: str) -> Compound:
        """The compound ``compound_id``.

        Raises:
            UnknownUnitError: no such compound.
        """
        try:
            return self._compounds[compound_id]
        except KeyError:
            raise UnknownUnitError(compound_id, "compound") from None

    def building(self, building_id: str) -> Building:
        """The building ``building_id``.

        Raises:
            UnknownUnitError: no such building.
        """
        try:
            return self._buildings[building_id]
        except KeyError:
            raise UnknownUnitError(building_id, "building") from None

    def person(self, person_id: str) -> Person:
        """The person ``person_id``.

        Raises:
            UnknownUnitError: no such person.
        """
        try:
            return self._people[person_id]
        except KeyError:
            raise UnknownUnitError(person_id, "person") from None

    def organisation(self, organisation_id: str) -> Organisation:
        """The organisation ``organisation_id``.

        Raises:
            UnknownUnitError: no such organisation.
        """
        try:
            return self._organisations[organisation_id]
        except KeyError:
            raise UnknownUnitError(organisation_id, "organisation") from None

    # --------------------------------------------------------------- queries

    def chain_of_command(self, node: str) -> tuple[str, ...]:
        """Who commands ``node``, from the nearest unit up to the city.

        For a unit or compound the tuple starts with the node itself; for a
        building it starts with the building's grid.

        Raises:
            UnknownUnitError: ``node`` is neither a unit nor a building.
        """
        buildings = self._buildings
        if node in buildings:
            return self.chain.chain_of_command(buildings.grid(node))
        return self.chain.chain_of_command(node)

    def ancestor(self, node: str, level: Level | str) -> str:
        """The unit at ``level`` above a unit, compound or building."""
        buildings = self._buildings
        return self.chain.ancestor(buildings.grid(node) if node in buildings else node, level)

    def community_of(self, node: str) -> str:
        """The community of a grid, compound or building."""
        return self.ancestor(node, Level.COMMUNITY)

    def street_of(self, node: str) -> str:
        """The street (or township) of a unit, compound or building."""
        return self.ancestor(node, Level.STREET)

    def district_of(self, node: str) -> str:
        """The district (or county) of a unit, compound or building."""
        return self.ancestor(node, Level.DISTRICT)

    def buildings_of(self, node: str) -> tuple[str, ...]:
        """Buildings of a grid or compound (or of every grid below a unit)."""
        level = self.chain.level(node)
        if level in (Level.GRID, Level.COMPOUND):
            return self._buildings_of.get(node, ())
        out: list[str] = []
        for grid in self.chain.below(node, Level.GRID):
            out.extend(self._buildings_of.get(grid, ()))
        return tuple(out)

    def compounds_of(self, node: str) -> tuple[str, ...]:
        """Compounds at or below a unit; for a grid, the compounds it covers."""
        level = self.chain.level(node)
        if level is Level.COMPOUND:
            return (node,)
        if level is Level.GRID:
            return self._compounds_of_grid.get(node, ())
        return tuple(self.chain.below(node, Level.COMPOUND))

    def grids_of_compound(self, compound_id: str) -> tuple[str, ...]:
        """The grids covering a compound, sorted.

        Raises:
            UnknownUnitError: no such compound.
        """
        if compound_id not in self._compounds:
            self.compound(compound_id)  # raises: no such compound
        return self._grids_of_compound.get(compound_id, ())

    def households(self, node: str) -> int:
        """Households in a building, compound, grid or any unit's subtree."""
        buildings = self._buildings
        if node in buildings._index:  # (``node in buildings``, without a call)
            return buildings.households_of(node)
        if node not in self.chain._level:
            self.chain.level(node)  # raises: no such unit
        return self._households.get(node, 0)

    def residents(self, community: str) -> tuple[str, ...]:
        """Ids of the people who live in ``community``.

        The index of people by home is made at the first call (a pass over
        every person), then kept.
        """
        self.chain.level(community)
        at_home = self._people_at_home
        if at_home is None:
            # People run in blocks of the same home: each run is added at C speed.
            # (Two threads may both make it: the same dict, either one kept.)
            people = self._people
            at_home = self._people_at_home = grouped(people.homes, people.ids)
        return at_home.get(community, ())

    def people_at_post(self, unit: str) -> tuple[str, ...]:
        """Ids of the people whose normal post is at ``unit`` (a unit or organisation).

        The index of people by post is made at the first call (a pass over
        every person), then kept.
        """
        at_post = self._people_at_post
        if at_post is None:
            people = self._people
            at_post = self._people_at_post = grouped(people.post_units, people.ids)
        return at_post.get(unit, ())

    def big_party_committee(self, community: str) -> BigPartyCommittee:
        """The community's big party committee (its co-building organisations)."""
        if self.chain.level(community) is not Level.COMMUNITY:
            raise ChainError(f"{community} is not a community", [community])
        return BigPartyCommittee(community=community, members=self._committees.get(community, ()))

    def grids(self, kind: GridKind | str | None = None) -> list[str]:
        """Ids of every grid, or of those of ``kind``."""
        grids = self.chain.units(Level.GRID)
        if kind is None:
            return grids
        try:
            want = GridKind(kind).value
        except ValueError:
            names = ", ".join(k.value for k in GridKind)
            raise ChainError(f"unknown grid kind {kind!r} (expected one of: {names})") from None
        return [g for g in grids if self.chain.kind(g) == want]

    def summary(self) -> dict[str, Any]:
        """The counts of the city, as printed by ``gridgov city``."""
        chain = self.chain
        grid_kinds = Counter(map(chain.kind, chain.units(Level.GRID)))
        kinds = Counter(self._people.kinds)
        worker_kinds = Counter(self._people.grid_worker_kinds)
        return {
            "name": self.name,
            "districts": len(chain.units(Level.DISTRICT)),
            "streets": len(chain.units(Level.STREET)),
            "communities": len(chain.units(Level.COMMUNITY)),
            "grids": {
                "urban": grid_kinds[GridKind.URBAN.value],
                "rural": grid_kinds[GridKind.RURAL.value],
                "exclusive": grid_kinds[GridKind.EXCLUSIVE.value],
                "total": sum(grid_kinds.values()),
            },
            "compounds": len(self._compounds),
            "buildings": len(self._buildings),
            "households": self._households.get(chain.city, 0),
            "organisations": len(self._organisations),
            "grid_workers": kinds[PersonKind.GRID_WORKER],
            "grid_workers_by_kind": {k.value: worker_kinds[k] for k in GridWorkerKind},
            "cadres": kinds[PersonKind.CADRE],
            "in_service_members": kinds[PersonKind.IN_SERVICE_MEMBER],
            "volunteers": kinds[PersonKind.VOLUNTEER],
        }


#: Records one problem of a city built in code: (key, message, offending ids).
_Report = Callable[..., None]


def _check_places(city: City, problem: _Report) -> None:
    """Grids of a known kind; compounds where the chain puts them; buildings in a grid
    and a compound of the same community."""
    chain = city.chain
    grid_kinds = {k.value for k in GridKind}
    for grid in chain.units(Level.GRID):
        kind = chain.kind(grid)
        if kind not in grid_kinds:
            problem(f"grid {grid}", f"has kind {kind!r}, which {_expected(kind, grid_kinds)}", grid)
    compounds = city._compounds
    for compound in compounds.values():
        if compound.id not in chain or chain.level(compound.id) is not Level.COMPOUND:
            problem(f"compound {compound.id}", "is not in the command chain", compound.id)
        elif chain.parent(compound.id) != compound.community:
            problem(
                f"compound {compound.id}",
                f"says it is in {compound.community}, but the chain puts it under "
                f"{chain.parent(compound.id)}",
                compound.id,
                compound.community,
            )
    _check_buildings(city, problem)


def _check_buildings(city: City, problem: _Report) -> None:
    """Buildings with households of 0 or more, in a grid and a compound of the same
    community."""
    chain = city.chain
    compounds = city._compounds
    buildings = city._buildings
    if buildings.households and min(buildings.households) < 0:
        for bid, count in zip(buildings.ids, buildings.households, strict=True):
            if count < 0:
                problem(f"building {bid}", f"has {count} households (0 or more)", bid)
    # The common case: buildings come in runs of one grid and one compound, and each
    # run's pair is checked once; a city with a problem is walked building by
    # building to name each one.
    runs = itertools.groupby(zip(buildings.grids, buildings.compounds, strict=True))
    if all(_placed_in(chain, compounds, grid, compound) for (grid, compound), _ in runs):
        return
    for bid, grid, in_compound in zip(
        buildings.ids, buildings.grids, buildings.compounds, strict=True
    ):
        if grid not in chain or chain.level(grid) is not Level.GRID:
            problem(f"building {bid}", f"is in {grid!r}, which is not a grid", bid, grid)
            continue
        if in_compound is not None:
            if in_compound not in compounds:
                problem(
                    f"building {bid}", f"names unknown compound {in_compound}", bid, in_compound
                )
            elif chain.community_of(grid) != compounds.community(in_compound):
                problem(
                    f"building {bid}",
                    f"is in grid {grid} and compound {in_compound}, which are in "
                    f"different communities ({chain.community_of(grid)} and "
                    f"{compounds.community(in_compound)})",
                    bid,
                    grid,
                    in_compound,
                )


def _placed_in(chain: CommandChain, compounds: Compounds, grid: str, compound: str | None) -> bool:
    """Whether a building may be in ``grid`` and ``compound`` (None: in no compound)."""
    if grid not in chain or chain.level(grid) is not Level.GRID:
        return False
    return compound is None or (
        compound in compounds and chain.community_of(grid) == compounds.community(compound)
    )


def _check_organisations(city: City, problem: _Report) -> None:
    """Organisations in a community, their exclusive grid in it."""
    chain = city.chain
    organisations = city._organisations
    for org in organisations.values():
        if org.community not in chain or chain.level(org.community) is not Level.COMMUNITY:
            problem(f"organisation {org.id}", f"sits in {org.community!r}, not a community", org.id)
        elif org.exclusive_grid is not None:
            grid = org.exclusive_grid
            if grid not in chain or chain.level(grid) is not Level.GRID:
                problem(
                    f"organisation {org.id}",
                    f"has exclusive grid {grid!r}, which is not a grid",
                    org.id,
                )
            elif chain.parent(grid) != org.community:
                problem(
                    f"organisation {org.id}",
                    f"has exclusive grid {grid}, which belongs to {chain.parent(grid)}, "
                    f"not to the organisation's community {org.community}",
                    org.id,
                    grid,
                )


def _check_people(city: City, problem: _Report) -> None:
    """People of a known kind, at home in a community, posted somewhere of the city."""
    chain = city.chain
    organisations = city._organisations
    person_kinds = {k.value for k in PersonKind}
    worker_kinds = {k.value for k in GridWorkerKind}
    buildings = city._buildings
    communities = set(chain.units(Level.COMMUNITY))
    people = city._people
    # The common case, column by column over distinct values (at C speed);
    # a city with a problem is walked person by person to name each one.
    # Normal posts: the distinct ones, less those at nodes of the chain and at
    # organisations; any left must be buildings (no set of every node, building
    # and organisation is made for it).
    posts = set(people.post_units)
    posts.difference_update(chain)
    posts.difference_update(organisations)
    if (
        set(people.kinds) <= person_kinds
        and set(people.homes) <= communities
        and all(post in buildings for post in posts)
        and set(people.grid_worker_kinds) - {None} <= worker_kinds
        and set(people.employers) - {None} <= organisations.keys()
    ):
        return
    # Where a normal post may be: any node of the chain, building or organisation.
    posts = set(chain).union(buildings, organisations)
    for person in people.values():
        worker = person.grid_worker_kind
        employer = person.employer
        if (
            person.kind in person_kinds
            and person.home in communities
            and person.normal_post.unit in posts
            and (worker is None or worker in worker_kinds)
            and (employer is None or employer in organisations)
        ):
            continue
        key = f"person {person.id}"
        if person.kind not in person_kinds:
            problem(
                key,
                f"has kind {person.kind!r}, which {_expected(person.kind, person_kinds)}",
                person.id,
            )
        if worker is not None and worker not in worker_kinds:
            problem(
                key,
                f"has grid-worker kind {worker!r}, which {_expected(str(worker), worker_kinds)}",
                person.id,
            )
        if person.home not in communities:
            problem(key, f"lives in {person.home!r}, not a community", person.id)
        post = person.normal_post.unit
        if post not in posts:
            problem(
                key,
                f"has a normal post ({person.normal_post.role}) at {post!r}, which is no "
                "unit, compound, building or organisation of the city",
                person.id,
            )
        if employer is not None and employer not in organisations:
            problem(key, f"works for unknown {employer}", person.id)


#: Problems shown in the message of :class:`CityError` before the rest are counted.
_SHOWN = 20


def _expected(value: str, allowed: Iterable[str]) -> str:
    """``is not one of ...`` with a "did you mean" for a near miss."""
    names = sorted(allowed)
    close = difflib.get_close_matches(str(value), names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"is not one ({hint}expected one of: {', '.join(names)})"


def _unique_columns(table: _T, what: str) -> _T:
    dup = table.duplicates()
    if not dup:
        return table
    shown = sorted(dup)
    problems = [Problem("", 0, f"{what} {i}", f"duplicate {what} id {i}") for i in shown]
    raise CityError(problems, dup, f"duplicate {what} ids: {', '.join(shown)}")


_T = TypeVar("_T", People, Buildings, Compounds, Organisations)


_FIRST = operator.itemgetter(0)
_SECOND = operator.itemgetter(1)

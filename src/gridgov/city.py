"""The City: the command chain plus compounds, buildings, people and organisations.

A city is immutable once built. :meth:`City.build` checks that every building
is in exactly one grid of a community that also holds its compound, that every
person lives in a community of the city, and that every organisation sits in
one; then it compiles the indexes that queries need (buildings per grid and
compound, households per unit, people per home community).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from gridgov.chain import CommandChain
from gridgov.errors import ChainError, UnknownUnitError
from gridgov.model import (
    BigPartyCommittee,
    Building,
    Compound,
    GridKind,
    GridWorkerKind,
    Level,
    Organisation,
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
        "name",
    )

    chain: CommandChain
    name: str

    def __init__(
        self,
        name: str,
        chain: CommandChain,
        compounds: Mapping[str, Compound],
        buildings: Mapping[str, Building],
        people: Mapping[str, Person],
        organisations: Mapping[str, Organisation],
    ) -> None:
        self.name = name
        self.chain = chain
        self._compounds = MappingProxyType(dict(compounds))
        self._buildings = MappingProxyType(dict(buildings))
        self._people = MappingProxyType(dict(people))
        self._organisations = MappingProxyType(dict(organisations))
        self._check()
        self._index()

    @classmethod
    def build(
        cls,
        name: str,
        chain: CommandChain,
        compounds: Iterable[Compound] = (),
        buildings: Iterable[Building] = (),
        people: Iterable[Person] = (),
        organisations: Iterable[Organisation] = (),
    ) -> City:
        """Assemble and validate a city.

        Raises:
            ChainError: a building outside any grid, a compound and grid of one
                building in different communities, a person or organisation in
                no community, or duplicate ids; the message names the ids.
        """
        return cls(
            name,
            chain,
            _unique(compounds, "compound"),
            _unique(buildings, "building"),
            _unique(people, "person"),
            _unique(organisations, "organisation"),
        )

    # ------------------------------------------------------------ validation

    def _check(self) -> None:
        chain = self.chain
        problems: list[str] = []
        ids: set[str] = set()
        for compound in self._compounds.values():
            if compound.id not in chain or chain.level(compound.id) is not Level.COMPOUND:
                problems.append(f"compound {compound.id} is not in the command chain")
                ids.add(compound.id)
            elif chain.parent(compound.id) != compound.community:
                problems.append(
                    f"compound {compound.id} says it is in {compound.community}, but the chain "
                    f"puts it under {chain.parent(compound.id)}"
                )
                ids.update((compound.id, compound.community))
        for building in self._buildings.values():
            grid = building.grid
            if grid not in chain or chain.level(grid) is not Level.GRID:
                problems.append(f"building {building.id} is in {grid!r}, which is not a grid")
                ids.update((building.id, grid))
                continue
            if building.compound is not None:
                if building.compound not in self._compounds:
                    problems.append(
                        f"building {building.id} names unknown compound {building.compound}"
                    )
                    ids.update((building.id, building.compound))
                elif chain.community_of(grid) != self._compounds[building.compound].community:
                    problems.append(
                        f"building {building.id}: grid {grid} and compound "
                        f"{building.compound} are in different communities"
                    )
                    ids.update((building.id, grid, building.compound))
        for person in self._people.values():
            if person.home not in chain or chain.level(person.home) is not Level.COMMUNITY:
                problems.append(f"person {person.id} lives in {person.home!r}, not a community")
                ids.add(person.id)
            if person.employer is not None and person.employer not in self._organisations:
                problems.append(f"person {person.id} works for unknown {person.employer}")
                ids.add(person.id)
        for org in self._organisations.values():
            if org.community not in chain or chain.level(org.community) is not Level.COMMUNITY:
                problems.append(f"organisation {org.id} sits in {org.community!r}, not a community")
                ids.add(org.id)
        if problems:
            shown = "; ".join(problems[:20])
            more = f"; and {len(problems) - 20} more" if len(problems) > 20 else ""
            raise ChainError(shown + more, ids)

    def _index(self) -> None:
        chain = self.chain
        by_place: defaultdict[str, list[str]] = defaultdict(list)
        grids_of: defaultdict[str, set[str]] = defaultdict(set)
        compounds_of: defaultdict[str, set[str]] = defaultdict(set)
        households: Counter[str] = Counter()
        for building in self._buildings.values():
            by_place[building.grid].append(building.id)
            households[building.grid] += building.households
            if building.compound is not None:
                by_place[building.compound].append(building.id)
                households[building.compound] += building.households
                grids_of[building.compound].add(building.grid)
                compounds_of[building.grid].add(building.compound)
        # Roll grid households up the chain; compounds are counted only once,
        # through their grids.
        for grid in chain.units(Level.GRID):
            count = households[grid]
            for up in chain.chain_of_command(grid)[1:]:
                households[up] += count
        at_home: defaultdict[str, list[str]] = defaultdict(list)
        at_post: defaultdict[str, list[str]] = defaultdict(list)
        for person in self._people.values():
            at_home[person.home].append(person.id)
            at_post[person.normal_post.unit].append(person.id)
        committees: defaultdict[str, set[str]] = defaultdict(set)
        for org in self._organisations.values():
            committees[org.community].add(org.id)
        for community in chain.units(Level.COMMUNITY):
            committees[community].update(chain.co_building_units(community))
        self._buildings_of = {k: tuple(v) for k, v in by_place.items()}
        self._grids_of_compound = {k: tuple(sorted(v)) for k, v in grids_of.items()}
        self._compounds_of_grid = {k: tuple(sorted(v)) for k, v in compounds_of.items()}
        self._households = dict(households)
        self._people_at_home = {k: tuple(v) for k, v in at_home.items()}
        self._people_at_post = {k: tuple(v) for k, v in at_post.items()}
        self._committees = {
            c: BigPartyCommittee(community=c, members=tuple(sorted(m)))
            for c, m in committees.items()
        }

    # --------------------------------------------------------------- lookups

    @property
    def compounds(self) -> Mapping[str, Compound]:
        """Every compound by id (read-only)."""
        return self._compounds

    @property
    def buildings(self) -> Mapping[str, Building]:
        """Every building by id (read-only)."""
        return self._buildings

    @property
    def people(self) -> Mapping[str, Person]:
        """Every person by id (read-only)."""
        return self._people

    @property
    def organisations(self) -> Mapping[str, Organisation]:
        """Every organisation by id (read-only)."""
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
        building = self._buildings.get(node)
        if building is not None:
            return self.chain.chain_of_command(building.grid)
        return self.chain.chain_of_command(node)

    def ancestor(self, node: str, level: Level | str) -> str:
        """The unit at ``level`` above a unit, compound or building."""
        building = self._buildings.get(node)
        return self.chain.ancestor(building.grid if building else node, level)

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
        """The grids covering a compound, sorted."""
        self.compound(compound_id)
        return self._grids_of_compound.get(compound_id, ())

    def households(self, node: str) -> int:
        """Households in a building, compound, grid or any unit's subtree."""
        building = self._buildings.get(node)
        if building is not None:
            return building.households
        self.chain.level(node)
        return self._households.get(node, 0)

    def residents(self, community: str) -> tuple[str, ...]:
        """Ids of the people who live in ``community``."""
        self.chain.level(community)
        return self._people_at_home.get(community, ())

    def people_at_post(self, unit: str) -> tuple[str, ...]:
        """Ids of the people whose normal post is at ``unit`` (a unit or organisation)."""
        return self._people_at_post.get(unit, ())

    def big_party_committee(self, community: str) -> BigPartyCommittee:
        """The community's big party committee (its co-building organisations)."""
        if self.chain.level(community) is not Level.COMMUNITY:
            raise ChainError(f"{community} is not a community", [community])
        return self._committees.get(community, BigPartyCommittee(community=community))

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
        return [g for g in grids if self.chain.unit(g).kind == want]

    def summary(self) -> dict[str, Any]:
        """The counts of the city, as printed by ``gridgov city``."""
        chain = self.chain
        grid_kinds = Counter(chain.unit(g).kind for g in chain.units(Level.GRID))
        kinds = Counter(p.kind for p in self._people.values())
        worker_kinds = Counter(
            p.grid_worker_kind.value for p in self._people.values() if p.grid_worker_kind
        )
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
            "grid_workers_by_kind": {k.value: worker_kinds[k.value] for k in GridWorkerKind},
            "cadres": kinds[PersonKind.CADRE],
            "in_service_members": kinds[PersonKind.IN_SERVICE_MEMBER],
            "volunteers": kinds[PersonKind.VOLUNTEER],
        }


def _unique(items: Iterable[Any], what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    dup: set[str] = set()
    for item in items:
        if item.id in out:
            dup.add(item.id)
        out[item.id] = item
    if dup:
        raise ChainError(f"duplicate {what} ids: {', '.join(sorted(dup))}", dup)
    return out

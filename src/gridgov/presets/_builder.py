"""A deterministic builder of synthetic cities, shared by the presets.

The builder lays out the chain unit by unit, generates the buildings of each
community (households as a count per building), cuts them into grids with
:func:`gridgov.gridding.partition`, and finally staffs the city: grid teams
(1 + X + N), cadres of every office and organisation, in-service members
registered at their home community, and volunteers. Every random draw comes
from one ``random.Random(seed)`` consumed in a fixed order, so the same seed
gives the same city bit for bit.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from gridgov.chain import CommandChain
from gridgov.city import City
from gridgov.errors import PresetError
from gridgov.gridding import partition
from gridgov.model import (
    Building,
    Compound,
    GridKind,
    GridWorkerKind,
    Level,
    Organisation,
    Person,
    PersonKind,
    Post,
    Unit,
)

__all__ = ["CityBuilder", "allocate"]


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
    total_weight = sum(weights)  # once: summing inside the loop made this quadratic
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

    def __init__(self, name: str, code: str, seed: int) -> None:
        self.rng = random.Random(seed)
        self.name = name
        self.city_id = code[:6]
        self.units: list[Unit] = [
            Unit(id=self.city_id, level=Level.CITY, name=name, code=code[:6].ljust(12, "0"))
        ]
        self.compounds: list[Compound] = []
        self.buildings: list[Building] = []
        self.organisations: list[Organisation] = []
        self.people: list[Person] = []
        self.co_building: list[tuple[str, str]] = []
        self._grids: list[tuple[str, str, str]] = []  # (grid id, kind, community)
        self._orgs_of_community: dict[str, list[Organisation]] = {}
        self._households: dict[str, int] = {}
        self._next_person = 1

    # ------------------------------------------------------------- the chain

    def district(self, code6: str, name: str, kind: str) -> str:
        """Add a district or county under the city; returns its id."""
        self.units.append(
            Unit(
                id=code6,
                level=Level.DISTRICT,
                name=name,
                parent=self.city_id,
                code=code6.ljust(12, "0"),
                kind=kind,
            )
        )
        return code6

    def street(self, district: str, number: int, name: str, kind: str) -> str:
        """Add a street, town or township; returns its 9-digit id."""
        sid = f"{district}{number:03d}"
        self.units.append(
            Unit(
                id=sid,
                level=Level.STREET,
                name=name,
                parent=district,
                code=sid.ljust(12, "0"),
                kind=kind,
            )
        )
        return sid

    def community(self, street: str, number: int, name: str, kind: str) -> str:
        """Add a community or village; returns its 12-digit id."""
        cid = f"{street}{number:03d}"
        self.units.append(
            Unit(id=cid, level=Level.COMMUNITY, name=name, parent=street, code=cid, kind=kind)
        )
        self._orgs_of_community[cid] = []
        return cid

    # ------------------------------------------------------ places and grids

    def urban_community(self, community: str, grids: int, compounds: int, exclusive: int) -> None:
        """Buildings in ``compounds`` compounds, cut into ``grids`` urban grids,
        plus ``exclusive`` exclusive grids of large organisations."""
        rng = self.rng
        if grids:
            target = grids * 200 + rng.randint(-grids * 8, grids * 8)
            sizes = _sizes(rng, target, 36, 84)
            self._place(community, GridKind.URBAN, 200, grids, sizes, compounds, "residential")
        numbered = grids
        for _ in range(exclusive):
            numbered += 1
            gid = f"{community}-G{numbered:03d}"
            kind = rng.choices(("enterprise", "hospital", "mall"), (6, 2, 2))[0]
            org = self._organisation(community, kind, rng.randint(300, 3000), gid)
            self._grid(gid, GridKind.EXCLUSIVE, community, f"{org.name} grid")
            self.buildings.append(Building(id=f"{gid}-B01", grid=gid, compound=None, households=0))
        for _ in range(rng.randint(2, 5)):
            kind = rng.choices(("enterprise", "institution", "agency"), (5, 3, 2))[0]
            self._organisation(community, kind, rng.randint(20, 400), None)

    def village(self, community: str, grids: int, hamlets: int) -> None:
        """Rows of houses in ``hamlets`` hamlets, cut into ``grids`` rural grids."""
        rng = self.rng
        target = grids * 50 + rng.randint(-grids * 3, grids * 3)
        sizes = _sizes(rng, target, 6, 18)
        self._place(community, GridKind.RURAL, 50, grids, sizes, hamlets, "hamlet")
        for _ in range(rng.randint(0, 2)):
            self._organisation(community, "enterprise", rng.randint(10, 120), None)

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
            entrances = min(6, 1 + households // 400)
            label = "Hamlet" if compound_kind == "hamlet" else "Compound"
            self.compounds.append(
                Compound(
                    id=cid,
                    community=community,
                    name=f"{label} {c + 1}",
                    kind=compound_kind,
                    entrances=entrances,
                )
            )
            for b, h in enumerate(run):
                bid = f"{cid}-B{b + 1:02d}"
                placed.append((bid, h))
                compound_of[bid] = cid
        for g, members in enumerate(partition(placed, size, count=grids)):
            gid = f"{community}-G{g + 1:03d}"
            self._grid(gid, kind, community, f"Grid {g + 1}")
            lookup = dict(placed)
            for bid in members:
                self.buildings.append(
                    Building(id=bid, grid=gid, compound=compound_of[bid], households=lookup[bid])
                )
                self._households[community] = self._households.get(community, 0) + lookup[bid]

    def _grid(self, gid: str, kind: GridKind, community: str, name: str) -> None:
        self.units.append(
            Unit(id=gid, level=Level.GRID, name=name, parent=community, kind=kind.value)
        )
        self._grids.append((gid, kind.value, community))

    def _organisation(
        self, community: str, kind: str, staff: int, exclusive_grid: str | None
    ) -> Organisation:
        orgs = self._orgs_of_community[community]
        org = Organisation(
            id=f"{community}-O{len(orgs) + 1:02d}",
            kind=kind,
            community=community,
            name=f"{kind.title()} {community[-3:]}-{len(orgs) + 1}",
            staff=staff,
            exclusive_grid=exclusive_grid,
        )
        orgs.append(org)
        self.organisations.append(org)
        self.co_building.append((org.id, community))
        return org

    # ----------------------------------------------------------------- people

    def _person(
        self,
        kind: PersonKind,
        home: str,
        post: Post,
        employer: str | None = None,
        worker: GridWorkerKind | None = None,
    ) -> None:
        self.people.append(
            Person(
                id=f"P{self._next_person:07d}",
                kind=kind,
                home=home,
                normal_post=post,
                employer=employer,
                grid_worker_kind=worker,
            )
        )
        self._next_person += 1

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
        rng = self.rng
        grids = self._grids
        professional = sum(1 for _, kind, _ in grids if kind != GridKind.RURAL.value)
        part_time = grid_workers - len(grids) - professional
        if part_time < 0:
            raise PresetError(
                f"{grid_workers} grid workers cannot cover {len(grids)} full-time and "
                f"{professional} professional posts"
            )
        weights = [{"urban": 3.0, "exclusive": 3.0}.get(kind, 1.0) for _, kind, _ in grids]
        extra = allocate(part_time, weights)
        for (gid, kind, community), n_part in zip(grids, extra, strict=True):
            orgs = self._orgs_of_community[community]
            self._person(
                PersonKind.GRID_WORKER,
                community,
                Post("grid_worker", gid),
                worker=GridWorkerKind.FULL_TIME,
            )
            if kind != GridKind.RURAL.value:
                self._person(
                    PersonKind.GRID_WORKER,
                    community,
                    Post("grid_worker", gid),
                    worker=GridWorkerKind.PROFESSIONAL,
                )
            for _ in range(n_part):
                employer = rng.choice(orgs).id if orgs else None
                self._person(
                    PersonKind.GRID_WORKER,
                    community,
                    Post("grid_worker", gid),
                    employer=employer,
                    worker=GridWorkerKind.PART_TIME,
                )

        parents = self._parents()
        communities_below: dict[str, list[str]] = {}
        for unit in self.units:
            if unit.level is Level.COMMUNITY:
                for up in _ancestors_of(unit.id, parents):
                    communities_below.setdefault(up, []).append(unit.id)
        for unit in self.units:
            if unit.level is Level.GRID:
                continue
            key = unit.kind if unit.level is Level.COMMUNITY else unit.level.value
            for _ in range(cadres_per_office.get(key, 0)):
                home = rng.choice(communities_below.get(unit.id) or [unit.id])
                self._person(PersonKind.CADRE, home, Post("cadre", unit.id))
        for org in self.organisations:
            for _ in range(max(1, org.staff // 100)):
                self._person(
                    PersonKind.CADRE, org.community, Post("cadre", org.id), employer=org.id
                )

        district_orgs: dict[str, list[str]] = {}
        for org in self.organisations:
            district = _ancestors_of(org.community, parents)[-2]
            district_orgs.setdefault(district, []).append(org.id)
        bases = self._volunteer_bases(volunteer_bases, parents)
        for unit in self.units:
            if unit.level is not Level.COMMUNITY:
                continue
            households = self._households.get(unit.id, 0)
            district = _ancestors_of(unit.id, parents)[-2]
            employers = district_orgs.get(district, [])
            for _ in range(round(households * member_rate.get(unit.kind, 0.0))):
                employer = rng.choice(employers) if employers else None
                self._person(
                    PersonKind.IN_SERVICE_MEMBER,
                    unit.id,
                    Post("in_service_member", employer or unit.id),
                    employer=employer,
                )
            base = bases.get(district) or bases.get("")
            for _ in range(round(households * volunteer_rate)):
                self._person(PersonKind.VOLUNTEER, unit.id, Post("volunteer", base or unit.id))

    def _volunteer_bases(self, count: int, parents: dict[str, str | None]) -> dict[str, str]:
        """Spread the volunteer service bases over the districts; one base per district
        is where that district's volunteers are registered."""
        districts = [u.id for u in self.units if u.level is Level.DISTRICT]
        urban = [c for c, orgs in self._orgs_of_community.items() if orgs]
        if not count or not urban:
            return {}
        out: dict[str, str] = {}
        for i in range(count):
            community = urban[(i * 7919) % len(urban)]
            base = self._organisation(community, "volunteer_base", 10, None)
            district = _ancestors_of(community, parents)[-2]
            out.setdefault(district, base.id)
        out[""] = next(iter(out.values()))
        for district in districts:
            out.setdefault(district, out[""])
        return out

    def _parents(self) -> dict[str, str | None]:
        return {u.id: u.parent for u in self.units}

    # ------------------------------------------------------------------ build

    def build(self) -> City:
        """Validate and return the city."""
        chain = CommandChain.from_units(self.units, self.compounds, self.co_building)
        return City.build(
            self.name, chain, self.compounds, self.buildings, self.people, self.organisations
        )


def _sizes(rng: random.Random, total: int, low: int, high: int) -> list[int]:
    """Building sizes drawn from [low, high] adding up to ``total`` (the last one trimmed)."""
    sizes: list[int] = []
    left = total
    while left > 0:
        size = min(left, rng.randint(low, high))
        sizes.append(size)
        left -= size
    if len(sizes) > 1 and sizes[-1] < low:
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

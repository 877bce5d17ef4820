"""Supplies for sealed households: demand, and the daily dispatch plan as a min-cost flow.

Sealed and controlled households cannot shop: every day each of them needs a
*ration* per supply category (kilograms per household per day), and residents'
requests for food and medicine add to it. What is not delivered is *carried
over* and ages: tomorrow it is served before fresh demand.

Goods move down the chain of command: from *depots* (shops, pharmacies, the
city warehouse, donated stock; :class:`gridgov.model.Depot`) to *street hubs*
(the street's sorting point), to communities, to the compounds' checkpoints,
where *building leads* and volunteers carry them to the doors. Each link has a
capacity:

* a depot ships at most its stock of a category and its dispatch capacity
  (all categories together); shops ship within their district, the warehouse
  and donations anywhere;
* a street hub handles at most its throughput a day;
* a compound's checkpoint hands over at most a fixed amount per entrance;
* the building leads and volunteers staffed at a compound carry at most their
  *hands* capacity.

:func:`plan_dispatch` is pure: it reads a :class:`SupplyNetwork` (the city,
its depots, the parameters) and a :class:`SupplyDay` (stock on hand, demand,
hands) and returns a frozen :class:`DispatchPlan`: the flow on every edge,
deliveries and unmet demand per compound with the *binding constraint* named
(``stock``, ``transport``, ``checkpoint``, ``hands``), and requests for more
building leads where hands were short. It solves, per category, a min-cost
flow on a networkx graph (:func:`networkx.network_simplex`): delivered goods
are maximised first, carried-over demand is served before fresh demand, and
among those plans the goods travel the shortest distance along the chain
(same street 0, same district 2, across districts 4 links; a district-level
depot 1 or 3, the city warehouse 2).

Two aggregations keep the graph small, both exact for a category (see
``docs/supplies.md``): depots at the same unit that serve the same area are
one node (their edges and costs are identical), and the compounds of a
community are one node with two edges to the sink, one for carried-over
demand and one for fresh demand, sized by the sum of each compound's
deliverable amount (below a community every compound is one link away, so any
split within these sums is feasible and costs the same). Categories share the
depots' dispatch, the hubs, the checkpoints and the hands: they are planned
one after the other in the order of :attr:`SupplyParams.categories` (medicine
first by default), each on what the earlier ones left. Within a category the
plan is optimal; across categories it is a priority order, not a joint
optimum.

:func:`plan_greedy` is the reference to beat: categories in the same order,
compounds in id order, each served from its nearest depot first.
"""

from __future__ import annotations

import importlib
import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import networkx as nx

from gridgov.city import City
from gridgov.errors import CommandError, DepotsError, NotFoundError, Problem
from gridgov.model import Depot, Level

__all__ = [
    "BINDING",
    "CATEGORIES",
    "DispatchPlan",
    "Flow",
    "HandsRequest",
    "Shipment",
    "SupplyDay",
    "SupplyNetwork",
    "SupplyParams",
    "Unmet",
    "plan_dispatch",
    "plan_greedy",
    "positions_from_geometry",
]

#: Supply categories by default, in the order they are planned (most urgent first).
CATEGORIES = ("medicine", "food", "daily_goods")

#: What can stop goods reaching a compound, in the order they are named.
BINDING = ("stock", "transport", "checkpoint", "hands")

# Cost of a kilogram served from carried-over demand (a reward): greater than
# any path's length, so old demand goes first wherever it is.
_CARRIED_REWARD = 10


def _float_map(value: Mapping[str, float]) -> dict[str, float]:
    return {str(k): float(v) for k, v in dict(value).items()}


def _names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class SupplyParams:
    """Rations and capacities of the supply chain (defaults and sources in docs/supplies.md)."""

    #: Supply categories, in planning order (most urgent first).
    categories: tuple[str, ...] = attrs.field(default=CATEGORIES, converter=_names)
    #: Kilograms per household per day, per category.
    ration_kg: Mapping[str, float] = attrs.field(
        factory=lambda: {"medicine": 0.05, "food": 3.2, "daily_goods": 0.4},
        converter=_float_map,
    )
    #: Extra kilograms one resident's request brings, by ticket category
    #: (``food_supplies``, ``medicine``), and the supply category it is for.
    request_kg: Mapping[str, float] = attrs.field(
        factory=lambda: {"food_supplies": 5.0, "medicine": 0.5}, converter=_float_map
    )
    #: Supply category of each request category.
    request_category: Mapping[str, str] = attrs.field(
        factory=lambda: {"food_supplies": "food", "medicine": "medicine"}
    )
    #: Kilograms a compound's checkpoint hands over per entrance per day.
    checkpoint_kg_per_entrance: int = attrs.field(default=4000, validator=attrs.validators.ge(0))
    #: Kilograms a building lead carries to the doors per day.
    building_lead_kg: int = attrs.field(default=450, validator=attrs.validators.ge(0))
    #: Kilograms a volunteer carries to the doors per day.
    volunteer_kg: int = attrs.field(default=150, validator=attrs.validators.ge(0))
    #: A street hub's throughput per household of its street per day (kg).
    hub_kg_per_household: float = attrs.field(default=6.0, validator=attrs.validators.ge(0))

    def ration(self, category: str) -> float:
        """Kilograms per household per day of ``category`` (0 when it has none)."""
        return self.ration_kg.get(category, 0.0)


@attrs.frozen
class SupplyDay:
    """What one day's plan reads: stock on hand, demand and hands (kilograms)."""

    #: Depot -> category -> kg on hand.
    stock: Mapping[str, Mapping[str, int]]
    #: Compound -> category -> kg wanted today (carried-over demand included).
    demand: Mapping[str, Mapping[str, int]]
    #: Compound -> kg the building leads and volunteers there can carry today.
    hands: Mapping[str, int]
    #: Compound -> category -> kg of ``demand`` carried over from earlier days.
    carried: Mapping[str, Mapping[str, int]] = attrs.field(factory=dict)


@attrs.frozen
class Flow:
    """Goods of one category on one edge of the supply chain."""

    #: ``depot:<id>``, ``hub:<street>`` or ``community:<id>``.
    source: str
    #: ``hub:<street>``, ``community:<id>`` or ``compound:<id>``.
    target: str
    category: str
    kg: int


@attrs.frozen
class Shipment:
    """Goods a depot sends out today."""

    depot: str
    category: str
    kg: int


@attrs.frozen
class Unmet:
    """Demand of a compound left undelivered today, and why."""

    compound: str
    category: str
    kg: int
    #: One of :data:`BINDING`.
    binding: str


@attrs.frozen
class HandsRequest:
    """A compound short of hands asking its street for more building leads."""

    compound: str
    #: The community asking (the compound's own).
    community: str
    #: The street asked.
    street: str
    #: Building leads asked for.
    people: int
    #: Kilograms that stayed at the checkpoint for want of hands.
    kg: int


@attrs.frozen
class DispatchPlan:
    """One day's dispatch; applied by the engine (``Engine.dispatch_supplies``)."""

    #: ``min_cost`` or ``greedy``.
    method: str
    #: Goods on every edge used, sorted.
    flows: tuple[Flow, ...] = ()
    #: What each depot sends out, sorted.
    shipments: tuple[Shipment, ...] = ()
    #: Compound -> category -> kg delivered (compounds with deliveries only).
    deliveries: Mapping[str, Mapping[str, int]] = attrs.field(factory=dict)
    #: Undelivered demand, sorted by compound and category.
    unmet: tuple[Unmet, ...] = ()
    #: Requests for more building leads where hands were short.
    reinforcements: tuple[HandsRequest, ...] = ()
    #: Kilogram-links travelled (the flow's cost, rewards left out).
    distance: int = 0

    def delivered(self, category: str | None = None) -> int:
        """Kilograms delivered (of ``category``, or all)."""
        return sum(
            kg
            for per in self.deliveries.values()
            for cat, kg in per.items()
            if category is None or cat == category
        )

    def unmet_kg(self, category: str | None = None) -> int:
        """Kilograms left undelivered (of ``category``, or all)."""
        return sum(u.kg for u in self.unmet if category is None or u.category == category)

    def binding_counts(self) -> dict[str, int]:
        """Kilograms undelivered per binding constraint."""
        out = dict.fromkeys(BINDING, 0)
        for u in self.unmet:
            out[u.binding] += u.kg
        return out


# ================================================================ the network


def _depot_error(key: str, message: str) -> DepotsError:
    """A problem of depots given in code (no file): the message alone."""
    return DepotsError([Problem("", 0, key, message)], message)


class SupplyNetwork:
    """The static part of the supply chain: where depots, hubs and compounds are.

    Args:
        city: the city.
        depots: its depots.
        params: rations and capacities.

    Raises:
        DepotsError: a depot id is repeated, sits at no unit of the city (or
            below a street), a depot at the city level serves only a district,
            or real distances lack a position.
    """

    def __init__(
        self,
        city: City,
        depots: Iterable[Depot],
        params: SupplyParams,
        positions: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        self.city = city
        self.params = params
        #: Unit -> (x, y) in metres, when costs are real distances (see
        #: :func:`positions_from_geometry`); None: distances along the chain.
        self.positions = dict(positions) if positions is not None else None
        #: Cost of each of the two links below a street hub: 1 along the chain,
        #: 0 with real distances (which stop at the hub).
        self.down = 1 if positions is None else 0
        chain = city.chain
        self.depots: dict[str, Depot] = {}
        #: Depot -> (level, unit) it ships from: a street, district or the city.
        self.attach: dict[str, tuple[Level, str]] = {}
        #: Depot -> its district (None at the city level).
        self.depot_district: dict[str, str | None] = {}
        for depot in depots:
            if depot.id in self.depots:
                raise _depot_error(
                    depot.id, f"depot {depot.id} is listed twice (expected unique ids)"
                )
            if depot.unit not in chain:
                raise _depot_error(
                    depot.id, f"depot {depot.id} sits at {depot.unit!r}, no unit of the city"
                )
            level = chain.level(depot.unit)
            if level.rank > Level.COMMUNITY.rank:
                raise _depot_error(
                    depot.id,
                    f"depot {depot.id} sits at {depot.unit} ({level.value}); "
                    "expected a community, street, district or the city",
                )
            if level is Level.CITY and depot.serves != "city":
                raise _depot_error(
                    depot.id, f"depot {depot.id} sits at the city level but serves a district"
                )
            self.depots[depot.id] = depot
            if level is Level.COMMUNITY:
                self.attach[depot.id] = (Level.STREET, chain.street_of(depot.unit))
            else:
                self.attach[depot.id] = (level, depot.unit)
            self.depot_district[depot.id] = (
                None if level is Level.CITY else chain.district_of(depot.unit)
            )
        self.compound_street = {c: chain.street_of(c) for c in city.compounds}
        #: Street -> its compounds, sorted.
        self.street_compounds: dict[str, tuple[str, ...]] = {}
        for compound, street in sorted(self.compound_street.items()):
            self.street_compounds[street] = (*self.street_compounds.get(street, ()), compound)
        self.compound_community = {c: comp.community for c, comp in city.compounds.items()}
        self.street_district = {s: chain.district_of(s) for s in chain.units(Level.STREET)}
        self.checkpoint = {
            c: comp.entrances * params.checkpoint_kg_per_entrance
            for c, comp in city.compounds.items()
        }
        self.hub_capacity = {
            s: math.floor(city.households(s) * params.hub_kg_per_household)
            for s in self.street_district
        }
        self.households = {c: city.households(c) for c in city.compounds}
        if self.positions is not None:
            needed = {unit for _, unit in self.attach.values()} | set(self.street_compounds)
            missing = sorted(needed - set(self.positions))
            if missing:
                raise _depot_error(
                    missing[0],
                    f"no position for {missing[0]} (and {len(missing) - 1} more): real "
                    "distances need every depot's unit and every street with compounds",
                )

    def distance(self, depot: str, street: str) -> int | None:
        """Links along the chain from a depot to a street hub, or with positions the
        straight-line distance in hectometres (None: the hub is out of its area)."""
        unit = self.attach[depot][1]
        if self.positions is not None:
            if self._chain_distance(depot, street) is None:
                return None
            (x0, y0), (x1, y1) = self.positions[unit], self.positions[street]
            return round(math.hypot(x1 - x0, y1 - y0) / 100)
        return self._chain_distance(depot, street)

    def _chain_distance(self, depot: str, street: str) -> int | None:
        level, unit = self.attach[depot]
        district = self.street_district[street]
        serves_city = self.depots[depot].serves == "city"
        if level is Level.STREET:
            if unit == street:
                return 0
            if self.street_district[unit] == district:
                return 2
            return 4 if serves_city else None
        if level is Level.DISTRICT:
            if unit == district:
                return 1
            return 3 if serves_city else None
        return 2

    def reaches(self, depot: str, compound: str) -> bool:
        """Whether a depot ships to a compound at all."""
        return self.distance(depot, self.compound_street[compound]) is not None


def positions_from_geometry(city: City, geometry: Any) -> dict[str, tuple[float, float]]:
    """Where each street, district and the city lie: the centroids of their shapes, in metres.

    Args:
        city: the city.
        geometry: its :class:`gridgov.geo.CityGeometry` (the ``geo`` extra).

    Returns:
        Unit id -> (x, y) in the geometry's local projection, for
        :class:`SupplyNetwork`'s ``positions``.

    Raises:
        MissingExtraError: shapely (the ``geo`` extra) is not installed.
    """
    # Importing gridgov.geo raises MissingExtraError (naming the extra) without shapely.
    importlib.import_module("gridgov.geo")
    shapely = importlib.import_module("shapely")

    chain = city.chain
    ids = [u for u in (*chain.units(Level.STREET), *chain.units(Level.DISTRICT), chain.city)]
    ids = [u for u in ids if u in geometry]
    centres = shapely.centroid(geometry.metric(ids))
    xs, ys = shapely.get_x(centres), shapely.get_y(centres)
    return {u: (float(x), float(y)) for u, x, y in zip(ids, xs, ys, strict=True)}


# ============================================================== the planners


class _Residual:
    """Capacities shared by the categories, used up one category after another."""

    def __init__(self, network: SupplyNetwork, day: SupplyDay) -> None:
        self.dispatch = {d: network.depots[d].dispatch for d in network.depots}
        self.stock = {
            d: {k: int(v) for k, v in day.stock.get(d, {}).items()} for d in network.depots
        }
        self.hub = dict(network.hub_capacity)
        compounds = [c for c, per in day.demand.items() if any(v > 0 for v in per.values())]
        self.gate = {c: network.checkpoint[c] for c in compounds}
        self.hands = {c: max(0, int(day.hands.get(c, 0))) for c in compounds}
        #: Gate and hands before each category took its share (for naming the binding).
        self.before: dict[tuple[str, str], tuple[int, int]] = {}

    def cap(self, compound: str) -> int:
        return min(self.gate[compound], self.hands[compound])


def _ordered_categories(network: SupplyNetwork, day: SupplyDay) -> list[str]:
    seen = list(network.params.categories)
    extra = sorted({k for per in day.demand.values() for k in per} - set(seen))
    return seen + extra


def _check_day(network: SupplyNetwork, day: SupplyDay) -> None:
    unknown = sorted(set(day.stock) - set(network.depots))
    if unknown:
        raise NotFoundError(
            unknown[0], "depot;", message=f"stock given for unknown depot {unknown[0]!r}"
        )
    for compound, per in day.demand.items():
        if compound not in network.checkpoint:
            raise NotFoundError(
                compound, "compound;", message=f"demand given for unknown compound {compound!r}"
            )
        for category, kg in per.items():
            if kg < 0:
                raise CommandError(
                    f"demand of {compound} for {category} is {kg} kg (expected 0 or more)",
                    reason="negative demand",
                )


def plan_dispatch(
    network: SupplyNetwork, day: SupplyDay, *, aggregate: bool = True
) -> DispatchPlan:
    """The day's dispatch as a min-cost flow per category (see the module docstring).

    Args:
        network: depots, hubs, compounds and parameters.
        day: stock on hand, demand and hands.
        aggregate: solve on the aggregated graph (depots by unit and area,
            compounds by community); ``False`` solves the full graph, one
            node per depot and compound, with the same result (slower; kept
            to show that the aggregation is exact).

    Returns:
        The frozen plan.

    Raises:
        NotFoundError: stock for an unknown depot, demand for an unknown
            compound.
        CommandError: negative demand.
    """
    _check_day(network, day)
    residual = _Residual(network, day)
    result = _Result()
    for category in _ordered_categories(network, day):
        _solve_category(network, day, residual, result, category, aggregate)
    return result.finish("min_cost", network, day, residual)


def plan_greedy(network: SupplyNetwork, day: SupplyDay) -> DispatchPlan:
    """The reference plan: compounds in id order, each from its nearest depot first.

    Categories go in the same order as :func:`plan_dispatch`; within a
    compound, carried-over demand first. Nothing is planned ahead, so a
    compound may take the only stock another one could have reached.

    Raises:
        NotFoundError, CommandError: as :func:`plan_dispatch`.
    """
    _check_day(network, day)
    residual = _Residual(network, day)
    result = _Result()
    nearest: dict[str, list[str]] = {}
    for category in _ordered_categories(network, day):
        for compound in sorted(day.demand):
            want = int(day.demand[compound].get(category, 0))
            if want <= 0:
                continue
            residual.before[(compound, category)] = (
                residual.gate[compound],
                residual.hands[compound],
            )
            street = network.compound_street[compound]
            need = min(want, residual.cap(compound), residual.hub[street])
            if need <= 0:
                continue
            order = nearest.get(street)
            if order is None:
                ranked = [
                    (dist, d)
                    for d in network.depots
                    if (dist := network.distance(d, street)) is not None
                ]
                order = [d for _, d in sorted(ranked)]
                nearest[street] = order
            got = 0
            for depot in order:
                take = min(
                    need - got, residual.stock[depot].get(category, 0), residual.dispatch[depot]
                )
                if take <= 0:
                    continue
                residual.stock[depot][category] -= take
                residual.dispatch[depot] -= take
                result.ship(depot, street, category, take, network.distance(depot, street) or 0)
                got += take
                if got == need:
                    break
            if got:
                residual.hub[street] -= got
                residual.gate[compound] -= got
                residual.hands[compound] -= got
                community = network.compound_community[compound]
                result.add_flow(f"hub:{street}", f"community:{community}", category, got)
                result.add_flow(f"community:{community}", f"compound:{compound}", category, got)
                result.deliver(compound, category, got)
                result.distance += 2 * network.down * got
    return result.finish("greedy", network, day, residual)


class _Result:
    """Flows, shipments and deliveries being gathered for a plan."""

    def __init__(self) -> None:
        self.flows: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        self.shipped: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.delivered: defaultdict[str, defaultdict[str, int]] = defaultdict(
            lambda: defaultdict(int)
        )
        self.distance = 0

    def add_flow(self, source: str, target: str, category: str, kg: int) -> None:
        if kg > 0:
            self.flows[(source, target, category)] += kg

    def ship(self, depot: str, street: str, category: str, kg: int, distance: int) -> None:
        self.add_flow(f"depot:{depot}", f"hub:{street}", category, kg)
        self.shipped[(depot, category)] += kg
        self.distance += distance * kg

    def deliver(self, compound: str, category: str, kg: int) -> None:
        if kg > 0:
            self.delivered[compound][category] += kg

    def finish(
        self, method: str, network: SupplyNetwork, day: SupplyDay, residual: _Residual
    ) -> DispatchPlan:
        unmet: list[Unmet] = []
        hands_short: dict[str, int] = {}
        for compound in sorted(day.demand):
            for category, want in sorted(day.demand[compound].items()):
                got = self.delivered[compound][category] if compound in self.delivered else 0
                if want - got <= 0:
                    continue
                for binding, kg in _bindings(network, residual, compound, category, want, got):
                    unmet.append(Unmet(compound, category, kg, binding))
                    if binding == "hands":
                        hands_short[compound] = hands_short.get(compound, 0) + kg
        params = network.params
        requests = []
        for compound, kg in sorted(hands_short.items()):
            # More hands help only as far as the checkpoint lets goods in.
            kg = min(kg, residual.gate[compound])
            if kg <= 0:
                continue
            people = math.ceil(kg / params.building_lead_kg) if params.building_lead_kg else 0
            community = network.compound_community[compound]
            requests.append(
                HandsRequest(
                    compound, community, network.compound_street[compound], max(people, 1), kg
                )
            )
        return DispatchPlan(
            method=method,
            flows=tuple(Flow(s, t, k, kg) for (s, t, k), kg in sorted(self.flows.items()) if kg),
            shipments=tuple(
                Shipment(d, k, kg) for (d, k), kg in sorted(self.shipped.items()) if kg
            ),
            deliveries={
                c: {k: v for k, v in sorted(per.items()) if v}
                for c, per in sorted(self.delivered.items())
                if any(per.values())
            },
            unmet=tuple(unmet),
            reinforcements=tuple(requests),
            distance=self.distance,
        )


def _bindings(
    network: SupplyNetwork,
    residual: _Residual,
    compound: str,
    category: str,
    want: int,
    got: int,
) -> list[tuple[str, int]]:
    """Which constraints kept the rest of ``want`` from ``compound``, and how much each.

    What lay beyond the compound's gate or hands when its category's turn
    came is theirs; the rest is upstream: its street hub was full, or the
    depots that reach it had no stock left, or had stock but no dispatch.
    """
    gate, hands = residual.before.get((compound, category), (0, 0))
    short = want - got
    local = min(short, max(0, want - min(gate, hands)))
    out: list[tuple[str, int]] = []
    if local > 0:
        out.append(("hands" if hands < gate else "checkpoint", local))
    rest = short - local
    if rest > 0:
        street = network.compound_street[compound]
        if residual.hub[street] <= 0:
            binding = "transport"
        elif any(
            residual.stock[d].get(category, 0) > 0
            for d in network.depots
            if network.distance(d, street) is not None
        ):
            binding = "transport"  # stock is there, but no depot holding it can send more
        else:
            binding = "stock"
        out.append((binding, rest))
    return out


# -------------------------------------------------------- the min-cost flow


def _group_key(network: SupplyNetwork, depot: str, aggregate: bool) -> tuple[str, ...]:
    level, unit = network.attach[depot]
    if not aggregate:
        return ("depot", depot)
    return ("group", level.value, unit, network.depots[depot].serves)


def _solve_category(
    network: SupplyNetwork,
    day: SupplyDay,
    residual: _Residual,
    result: _Result,
    category: str,
    aggregate: bool,
) -> None:
    # What each compound can still take of this category today (within its
    # gate and hands), the carried-over part first.
    take: dict[str, tuple[int, int]] = {}  # compound -> (carried part, total)
    for compound, per in day.demand.items():
        got = result.delivered[compound][category] if compound in result.delivered else 0
        want = int(per.get(category, 0)) - got
        if want <= 0:
            continue
        residual.before.setdefault(
            (compound, category), (residual.gate[compound], residual.hands[compound])
        )
        cap = residual.cap(compound)
        street = network.compound_street[compound]
        total = min(want, cap)
        if total <= 0 or residual.hub[street] <= 0:
            continue
        owed = int(day.carried.get(compound, {}).get(category, 0)) - got
        take[compound] = (min(max(0, owed), total), total)
    supply: dict[str, int] = {}
    for depot in network.depots:
        kg = min(residual.stock[depot].get(category, 0), residual.dispatch[depot])
        if kg > 0:
            supply[depot] = kg
    if not take or not supply:
        return
    keys = {d: _group_key(network, d, aggregate) for d in supply}
    graph = _graph(network, residual, take, supply, keys, aggregate)
    _, flow = nx.network_simplex(graph)
    _apply_flow(network, residual, result, category, take, supply, flow, aggregate, keys)


def _graph(
    network: SupplyNetwork,
    residual: _Residual,
    take: Mapping[str, tuple[int, int]],
    supply: Mapping[str, int],
    keys: Mapping[str, tuple[str, ...]],
    aggregate: bool,
) -> nx.DiGraph:
    """The flow network of one category: source -> depots -> chain -> compounds -> sink."""
    graph = nx.DiGraph()
    streets: dict[str, None] = {}
    sinks: defaultdict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0])
    for compound, (carried, total) in take.items():
        street = network.compound_street[compound]
        streets[street] = None
        if aggregate:
            # Every compound below a street hub is two links away from it:
            # the street's compounds are one sink.
            key: tuple[str, ...] = ("hub", street)
        else:
            community = ("community", network.compound_community[compound])
            key = ("compound", compound)
            graph.add_edge(("hub", street), community, weight=1)
            graph.add_edge(community, key, weight=1)
        sinks[key][0] += carried
        sinks[key][1] += total
    # The last link (hub -> community -> compound) costs the same for every
    # kilogram, so the aggregated graph leaves it out. Carried-over demand is
    # rewarded above the cost of any path, so it goes first wherever it is.
    reward = _CARRIED_REWARD
    if network.positions is not None:
        reward = 1 + max(
            (d for dep in supply for st in streets if (d := network.distance(dep, st)) is not None),
            default=0,
        )
    wanted = 0
    for key, (carried, total) in sinks.items():
        wanted += total
        if carried:
            graph.add_edge(key, ("carried", *key), capacity=carried, weight=-reward)
            graph.add_edge(("carried", *key), ("sink",), weight=0)
        if total > carried:
            graph.add_edge(key, ("sink",), capacity=total - carried, weight=0)
    groups: defaultdict[tuple[str, ...], int] = defaultdict(int)
    for depot, kg in supply.items():
        groups[keys[depot]] += kg
    for street in streets:
        graph.add_edge(("street", street), ("hub", street), capacity=residual.hub[street], weight=0)
    if network.positions is not None:
        _direct_edges(network, graph, supply, streets, keys)
    else:
        _chain_edges(network, graph, supply, streets, keys)
    offered = sum(groups.values())
    for group, kg in groups.items():
        graph.add_edge(("source",), group, capacity=kg, weight=0)
    # Whatever cannot be delivered goes straight from source to sink at a
    # price above any path's cost, so the plan delivers as much as it can.
    penalty = (reward + 10) * (graph.number_of_nodes() + 2) + 100
    flow_in = min(offered, wanted)
    graph.add_edge(("source",), ("sink",), capacity=flow_in, weight=penalty)
    graph.add_node(("source",), demand=-flow_in)
    graph.add_node(("sink",), demand=flow_in)
    return graph


def _chain_edges(
    network: SupplyNetwork,
    graph: nx.DiGraph,
    supply: Mapping[str, int],
    streets: Mapping[str, None],
    keys: Mapping[str, tuple[str, ...]],
) -> None:
    """Depots reach the hubs along the chain: street -> district -> city and down."""
    districts = {network.street_district[s] for s in streets}
    for street in streets:
        graph.add_edge(("district", network.street_district[street]), ("street", street), weight=1)
    for district in districts:
        graph.add_edge(("city",), ("district", district), weight=1)
    for depot in supply:
        level, unit = network.attach[depot]
        group = keys[depot]
        serves_city = network.depots[depot].serves == "city"
        if level is Level.STREET:
            if unit in streets:
                graph.add_edge(group, ("street", unit), weight=0)
            district = network.street_district[unit]
            if district in districts:
                graph.add_edge(group, ("district", district), weight=1)
            if serves_city:
                graph.add_edge(group, ("city",), weight=2)
        elif level is Level.DISTRICT:
            if unit in districts:
                graph.add_edge(group, ("district", unit), weight=0)
            if serves_city:
                graph.add_edge(group, ("city",), weight=1)
        else:
            graph.add_edge(group, ("city",), weight=0)


def _direct_edges(
    network: SupplyNetwork,
    graph: nx.DiGraph,
    supply: Mapping[str, int],
    streets: Mapping[str, None],
    keys: Mapping[str, tuple[str, ...]],
) -> None:
    """Depots reach every hub of their area directly, at the distance in hectometres."""
    for depot in supply:
        group = keys[depot]
        for street in streets:
            distance = network.distance(depot, street)
            if distance is not None:
                graph.add_edge(group, ("street", street), weight=distance)


def _apply_flow(
    network: SupplyNetwork,
    residual: _Residual,
    result: _Result,
    category: str,
    take: Mapping[str, tuple[int, int]],
    supply: Mapping[str, int],
    flow: Mapping[tuple[str, ...], Mapping[tuple[str, ...], int]],
    aggregate: bool,
    keys: Mapping[str, tuple[str, ...]],
) -> None:
    # Depots of a group in the order they give: most spare dispatch (beyond
    # their stock of the other categories) first, so later categories keep
    # the vehicles of the depots that hold their goods.
    members: defaultdict[tuple[str, ...], list[str]] = defaultdict(list)
    for depot in sorted(supply):
        members[keys[depot]].append(depot)
    left = dict(supply)
    for depots in members.values():
        depots.sort(
            key=lambda d: (-(residual.dispatch[d] - _other_stock(residual, d, category)), d)
        )
    # Paths from each group down to the street nodes: the tree below the groups
    # carries no flow in a cycle, so peeling paths off in a fixed order works.
    remaining = {u: dict(vs) for u, vs in flow.items()}
    for group in sorted(members):
        for street, kg in _peel(remaining, group):
            for depot in members[group]:
                give = min(kg, left[depot])
                if give <= 0:
                    continue
                left[depot] -= give
                kg -= give
                residual.stock[depot][category] -= give
                residual.dispatch[depot] -= give
                distance = network.distance(depot, street)
                assert distance is not None
                result.ship(depot, street, category, give, distance)
                if not kg:
                    break
    if aggregate:
        # Down from the hubs: the street's goods shared among its compounds.
        for street in {network.compound_street[c] for c in take}:
            hub = ("hub", street)
            out = flow.get(hub, {})
            carried = out.get(("carried", *hub), 0)
            fresh = out.get(("sink",), 0)
            if carried or fresh:
                residual.hub[street] -= carried + fresh
                _split_street(network, residual, result, category, street, carried, fresh, take)
        return
    for key, targets in flow.items():
        if key[0] == "hub":
            for target, kg in targets.items():
                if kg > 0:
                    residual.hub[key[1]] -= kg
                    result.add_flow(f"hub:{key[1]}", f"community:{target[1]}", category, kg)
                    result.distance += network.down * kg
        elif key[0] == "community":
            for target, kg in targets.items():
                if kg > 0:
                    _deliver(network, residual, result, category, target[1], kg)


def _other_stock(residual: _Residual, depot: str, category: str) -> int:
    return sum(kg for k, kg in residual.stock[depot].items() if k != category)


def _peel(
    remaining: dict[tuple[str, ...], dict[tuple[str, ...], int]], start: tuple[str, ...]
) -> list[tuple[str, int]]:
    """Take paths of flow off from ``start`` down to the street nodes: (street, kg) each."""
    out: list[tuple[str, int]] = []
    while True:
        path = [start]
        node = start
        while node[0] != "street":
            nxt = next((v for v, kg in sorted(remaining.get(node, {}).items()) if kg > 0), None)
            if nxt is None:
                return out
            path.append(nxt)
            node = nxt
        kg = min(remaining[u][v] for u, v in itertools.pairwise(path))
        for u, v in itertools.pairwise(path):
            remaining[u][v] -= kg
        out.append((node[1], kg))


def _split_street(
    network: SupplyNetwork,
    residual: _Residual,
    result: _Result,
    category: str,
    street: str,
    carried_kg: int,
    fresh_kg: int,
    take: Mapping[str, tuple[int, int]],
) -> None:
    """Share a street's goods among its compounds: the carried-over part in
    proportion to their carried-over demand, the fresh part to their fresh demand."""
    compounds = sorted(c for c in network.street_compounds[street] if c in take)
    carried = _proportional(carried_kg, [take[c][0] for c in compounds])
    fresh = _proportional(fresh_kg, [take[c][1] - take[c][0] for c in compounds])
    per_community: defaultdict[str, int] = defaultdict(int)
    for compound, a, b in zip(compounds, carried, fresh, strict=True):
        if a + b:
            per_community[network.compound_community[compound]] += a + b
            _deliver(network, residual, result, category, compound, a + b)
    for community, kg in sorted(per_community.items()):
        result.add_flow(f"hub:{street}", f"community:{community}", category, kg)
        result.distance += network.down * kg


def _deliver(
    network: SupplyNetwork,
    residual: _Residual,
    result: _Result,
    category: str,
    compound: str,
    kg: int,
) -> None:
    if kg <= 0:
        return
    community = network.compound_community[compound]
    result.add_flow(f"community:{community}", f"compound:{compound}", category, kg)
    result.deliver(compound, category, kg)
    result.distance += network.down * kg
    residual.gate[compound] -= kg
    residual.hands[compound] -= kg


def _proportional(total: int, caps: Sequence[int]) -> list[int]:
    """Split ``total`` (at most ``sum(caps)``) in proportion to ``caps``, never above one."""
    whole = sum(caps)
    if total <= 0 or whole <= 0:
        return [0] * len(caps)
    shares = [total * c // whole for c in caps]
    left = total - sum(shares)
    order = sorted(range(len(caps)), key=lambda i: (-(total * caps[i] % whole), i))
    for i in order:
        if left <= 0:
            break
        if shares[i] < caps[i]:
            shares[i] += 1
            left -= 1
    return shares

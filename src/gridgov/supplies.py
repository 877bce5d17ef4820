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
building leads where hands were short.

Categories share the depots' dispatch, the hubs, the checkpoints and the
hands, so they are planned together: a multi-commodity min-cost flow over
the graph of :meth:`SupplyNetwork.graph` (networkx: depot groups -> street
hubs -> communities -> compounds), solved as an integer linear program by
HiGHS (:func:`scipy.optimize.milp`), the best plan in a strict order of
priorities (lexicographic: each one counts only among the plans that tie on
all before it). First the most kilograms delivered, all categories counted
alike (so the plan never leaves more unmet than greedy, which is one of the
plans it chooses among); then the most carried-over demand; then the most of
each category in the order of :attr:`SupplyParams.categories` (medicine
first by default); then the shortest distance along the chain (same street
0, same district 2, across districts 4 links; a district-level depot 1 or 3,
the city warehouse 2). The plan is the same whichever of equally good plans
the solver meets first, so it does not depend on how the graph is drawn
(``aggregate``). Depots at the same unit that serve the same area are one
node of the graph (their edges and costs are identical; what each sends is
its own variable, within its stock and dispatch), and the graph is compiled
once per network and reused every day. Below a street hub every kilogram
costs the same, so the street's goods are shared among its compounds in
proportion to their demand, carried-over part first (see ``docs/supplies.md``).

:func:`plan_greedy` is the reference to beat: categories in the same order,
compounds in id order, each served from its nearest depot first.
"""

from __future__ import annotations

import importlib
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import networkx as nx

from gridgov.city import City
from gridgov.errors import CommandError, DepotsError, InvariantError, NotFoundError, Problem
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

#: Check each level of the order against a cheap upper bound before solving for it
#: (:meth:`_Program._ceiling`); tests turn it off to compare with the full path.
_CERTIFY = True

#: Where a delivery column of the planner ends: ("compound", id), or
#: ("street", id) for the compounds of a street that can take all they want.
Sink = tuple[str, str]


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
    #: Days a ration or request stays owed: demand owed this long at a dispatch
    #: is written off before planning (``supply.expired``), see docs/supplies.md.
    owed_days: int = attrs.field(default=3, validator=attrs.validators.ge(1))

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
        self._graphs: dict[bool, nx.DiGraph] = {}
        self._layouts: dict[bool, _Layout] = {}
        self._reaching: dict[str, tuple[str, ...]] = {}
        self._programs: dict[tuple[Any, ...], _Program] = {}
        self._labels: dict[str, tuple[str, str, str]] | None = None
        self._rations: dict[str, tuple[dict[str, int], dict[str, int]]] | None = None
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

    def reaching(self, street: str) -> tuple[str, ...]:
        """The depots that ship to ``street``'s hub, sorted."""
        cached = self._reaching.get(street)
        if cached is None:
            cached = tuple(d for d in sorted(self.depots) if self.distance(d, street) is not None)
            self._reaching[street] = cached
        return cached

    def graph(self, aggregate: bool = True) -> nx.DiGraph:
        """The supply chain as a networkx graph (built once, then shared).

        Nodes: depot groups ``("group", level, unit, serves)`` (depots at the
        same unit serving the same area; ``aggregate=False``: one
        ``("depot", id)`` node each) with their ``depots``; ``("hub", street)``
        with its ``capacity``; ``("community", id)``; ``("compound", id)`` with
        its checkpoint ``capacity``. Edges carry the ``weight`` of a kilogram:
        a group reaches every hub of its area at :meth:`distance`, and a hub
        its communities and their compounds at one link each (0 with real
        distances). Do not change it: the planner compiles it once.
        """
        cached = self._graphs.get(aggregate)
        if cached is not None:
            return cached
        graph = nx.DiGraph()
        for depot in sorted(self.depots):
            group = _group_key(self, depot, aggregate)
            if group in graph:
                # Its group's edges are its own: the same unit and area.
                graph.nodes[group]["depots"].append(depot)
                continue
            graph.add_node(group, kind="group", depots=[depot])
            graph.add_edges_from(
                (group, ("hub", street), {"weight": distance})
                for street in self.street_compounds
                if (distance := self.distance(depot, street)) is not None
            )
        for street, compounds in self.street_compounds.items():
            graph.add_node(("hub", street), kind="hub", capacity=self.hub_capacity[street])
            for compound in compounds:
                community = ("community", self.compound_community[compound])
                graph.add_edge(("hub", street), community, weight=self.down)
                graph.add_node(
                    ("compound", compound), kind="compound", capacity=self.checkpoint[compound]
                )
                graph.add_edge(community, ("compound", compound), weight=self.down)
        self._graphs[aggregate] = graph
        return graph

    def program(
        self,
        aggregate: bool,
        sends: tuple[tuple[str, str], ...],
        deliveries: tuple[tuple[Sink, str, bool], ...],
        categories: tuple[str, ...],
    ) -> _Program:
        """The planner's integer program for these columns (the last few kept)."""
        key = (aggregate, sends, deliveries, categories)
        program = self._programs.get(key)
        if program is None:
            layout = self.layout(aggregate)
            program = _Program(self, layout, sends, deliveries, categories)
            if len(self._programs) >= 4:
                self._programs.pop(next(iter(self._programs)))
            self._programs[key] = program
        return program

    def labels(self) -> dict[str, tuple[str, str, str]]:
        """Compound -> (its community, ``community:<id>``, ``compound:<id>``): the
        ends of its last flow, made once per network."""
        cached = self._labels
        if cached is None:
            cached = self._labels = {
                c: (community, f"community:{community}", f"compound:{c}")
                for c, community in self.compound_community.items()
            }
        return cached

    def rations(self) -> dict[str, tuple[dict[str, int], dict[str, int]]]:
        """Compound -> (its households' daily rations per category in the parameters'
        order, the same without the categories of 0 kg): the fixed part of each
        day's demand, made once per network (callers copy before changing them)."""
        cached = self._rations
        if cached is None:
            params = self.params
            rations = [(k, params.ration(k)) for k in params.categories]
            cached = {}
            for compound, households in self.households.items():
                per = {k: round(households * ration) for k, ration in rations}
                cached[compound] = (per, {k: kg for k, kg in per.items() if kg > 0})
            self._rations = cached
        return cached

    def layout(self, aggregate: bool = True) -> _Layout:
        """The planner's compiled form of :meth:`graph` (built once, then shared)."""
        cached = self._layouts.get(aggregate)
        if cached is None:
            cached = self._layouts[aggregate] = _Layout(self, aggregate)
        return cached


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
    """Capacities shared by the categories, as they are used up."""

    def __init__(self, network: SupplyNetwork, day: SupplyDay) -> None:
        self.dispatch = {d: network.depots[d].dispatch for d in network.depots}
        self.stock = {
            d: {k: int(v) for k, v in day.stock.get(d, {}).items()} for d in network.depots
        }
        self.hub = dict(network.hub_capacity)
        compounds = [c for c, per in day.demand.items() if any(v > 0 for v in per.values())]
        self.gate = {c: network.checkpoint[c] for c in compounds}
        self.hands = {c: max(0, int(day.hands.get(c, 0))) for c in compounds}

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
    """The day's dispatch as one min-cost flow of every category (see the module docstring).

    Args:
        network: depots, hubs, compounds and parameters.
        day: stock on hand, demand and hands.
        aggregate: depots at the same unit serving the same area are one
            node; ``False``: one node per depot, with the same result (kept
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
    categories = _ordered_categories(network, day)
    _solve_joint(network, day, residual, result, categories, aggregate)
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
        demand = day.demand
        for compound in sorted(demand):
            have: Mapping[str, int] = self.delivered.get(compound, {})
            wants = demand[compound]
            if have == wants:  # got all it wanted (as a rule): nothing short
                continue
            short = [(k, want) for k, want in wants.items() if want > have.get(k, 0)]
            for category, want in sorted(short):
                got = have.get(category, 0)
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
        # Sorted by key (keys are unique: the same order as sorting the items, with
        # fewer comparisons of nested tuples).
        flows, shipped, delivered = self.flows, self.shipped, self.delivered
        return DispatchPlan(
            method=method,
            flows=tuple(Flow(*key, kg) for key in sorted(flows) if (kg := flows[key])),
            shipments=tuple(Shipment(*key, kg) for key in sorted(shipped) if (kg := shipped[key])),
            deliveries={
                c: {k: v for k, v in sorted(per.items()) if v}
                for c in sorted(delivered)
                if any((per := delivered[c]).values())
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
    """What kept the rest of ``want`` from ``compound``: the first constraint found
    full on the way from its doors back to the depots, once the plan is made.

    Its gate or hands full (``checkpoint`` or ``hands``, whichever has less
    room left); else its street hub full (``transport``); else, when a depot
    that reaches it still holds the goods, that depot's dispatch (``transport``);
    else ``stock``.
    """
    short = want - got
    if residual.cap(compound) <= 0:
        hands, gate = residual.hands[compound], residual.gate[compound]
        return [("hands" if hands < gate else "checkpoint", short)]
    street = network.compound_street[compound]
    if residual.hub[street] <= 0:
        return [("transport", short)]
    if any(residual.stock[d].get(category, 0) > 0 for d in network.reaching(street)):
        return [("transport", short)]  # stock is there, but no depot holding it can send more
    return [("stock", short)]


# ------------------------------------------------------ the joint min-cost plan


def _group_key(network: SupplyNetwork, depot: str, aggregate: bool) -> tuple[str, ...]:
    level, unit = network.attach[depot]
    if not aggregate:
        return ("depot", depot)
    return ("group", level.value, unit, network.depots[depot].serves)


class _Layout:
    """The static part of the flow network, compiled once from the networkx graph.

    Depot groups (depots at the same unit serving the same area: their edges
    and costs are identical) reach every street hub of their area directly,
    at the distance of :meth:`SupplyNetwork.distance`; hubs feed their
    compounds. The graph is :meth:`SupplyNetwork.graph`; this is its edge
    list as arrays, read once per network and reused every day.
    """

    def __init__(self, network: SupplyNetwork, aggregate: bool) -> None:
        graph = network.graph(aggregate)
        #: Group -> its depots, sorted.
        self.members: dict[tuple[str, ...], tuple[str, ...]] = {
            node: tuple(data["depots"])
            for node, data in sorted(graph.nodes(data=True))
            if data.get("kind") == "group"
        }
        #: Group -> ((street, distance), ...) it reaches, sorted by street.
        self.reach: dict[tuple[str, ...], tuple[tuple[str, int], ...]] = {
            group: tuple(
                sorted((v[1], int(d["weight"])) for _, v, d in graph.out_edges(group, data=True))
            )
            for group in self.members
        }
        #: Depot -> its group.
        self.group_of = {d: g for g, depots in self.members.items() for d in depots}
        #: The largest distance of any group to any hub (for the rewards).
        self.longest = max((d for edges in self.reach.values() for _, d in edges), default=0)


def _solve_joint(
    network: SupplyNetwork,
    day: SupplyDay,
    residual: _Residual,
    result: _Result,
    categories: Sequence[str],
    aggregate: bool,
) -> None:
    """Plan every category at once: a multi-commodity min-cost flow, solved as an
    integer linear program by HiGHS (see :class:`_Program`)."""
    # What each compound can take of each category (carried part, fresh part).
    take: dict[str, dict[str, tuple[int, int]]] = {}
    # Compounds whose gate and hands take all they want (see below).
    unbound: set[str] = set()
    gate, hands, hub = residual.gate, residual.hands, residual.hub
    compound_street = network.compound_street
    demand, carried = day.demand, day.carried
    for compound in sorted(gate):
        cap = gate[compound]
        if hands[compound] < cap:  # (the lesser of the two, without a call to min)
            cap = hands[compound]
        if cap <= 0 or hub[compound_street[compound]] <= 0:
            continue
        per: dict[str, tuple[int, int]] = {}
        wants = demand[compound]
        old = carried.get(compound)
        total = 0
        for category in categories:  # every category of the day, in priority order
            want = int(wants.get(category, 0))
            if want <= 0:
                continue
            owed = min(want, max(0, int(old.get(category, 0)))) if old else 0
            per[category] = (owed, want - owed)
            total += want
        if per:
            take[compound] = per
            if cap >= total:
                unbound.add(compound)
    wanted = {k for per in take.values() for k in per}
    supply: dict[tuple[str, str], int] = {}  # (depot, category) -> kg it can send
    for depot in sorted(network.depots):
        if residual.dispatch[depot] <= 0:
            continue
        for category, kg in sorted(residual.stock[depot].items()):
            if category in wanted and min(kg, residual.dispatch[depot]) > 0:
                supply[(depot, category)] = min(kg, residual.dispatch[depot])
    if not take or not supply:
        return
    # A compound whose gate and hands can take all it wants has no constraint
    # of its own: below its hub it is one sink with the street's other such
    # compounds (every kilogram there costs the same), shared out after.
    parts: dict[tuple[Sink, str, bool], int] = {}
    free: dict[str, list[str]] = {}
    for compound, per in take.items():
        sink: Sink
        if compound in unbound:
            street = compound_street[compound]
            sink = ("street", street)
            free.setdefault(street, []).append(compound)
        else:
            sink = ("compound", compound)
        for category, (owed, fresh) in per.items():
            if owed > 0:
                key = (sink, category, True)
                parts[key] = parts.get(key, 0) + owed
            if fresh > 0:
                key = (sink, category, False)
                parts[key] = parts.get(key, 0) + fresh
    program = network.program(aggregate, tuple(supply), tuple(parts), tuple(categories))
    values = program.solve(residual, parts, supply)
    if values is not None:
        got = _received(program, take, free, values)
        _apply_joint(network, residual, result, program, take, got, values, categories)


def _received(
    program: _Program,
    take: Mapping[str, Mapping[str, tuple[int, int]]],
    free: Mapping[str, Sequence[str]],
    values: Mapping[int, int],
) -> dict[str, dict[str, list[int]]]:
    """Compound -> category -> [carried, fresh] kg from the solution; a street sink's
    goods shared among its compounds in proportion to what each wants."""
    got: dict[str, dict[str, list[int]]] = {}
    for j, kg in values.items():
        if j < program.start:
            continue
        (kind, name), category, carried = program.deliveries[j - program.start]
        part = 0 if carried else 1
        if kind == "compound":
            got.setdefault(name, {}).setdefault(category, [0, 0])[part] += kg
            continue
        compounds = free[name]
        wants = [take[c].get(category, (0, 0))[part] for c in compounds]
        for compound, share in zip(compounds, _proportional(kg, wants), strict=True):
            if share:
                per = got.get(compound)
                if per is None:
                    per = got[compound] = {}
                pair = per.get(category)
                if pair is None:
                    pair = per[category] = [0, 0]
                pair[part] += share
    return got


class _Program:
    """The integer linear program of a day's dispatch.

    Columns, per category: what each depot that has some sends (within its
    stock and dispatch), the flow on each group -> hub edge of the graph that
    can carry some, and what each compound receives, carried-over and fresh
    parts apart (those it wants). Rows: conservation at each group and hub per
    category; each depot's dispatch, each hub's throughput and each compound's
    gate and hands, all categories together. The matrix depends only on which
    columns there are, so it is built once and reused while they stay the same
    (a lockdown's days, as a rule); each day only sets the bounds.
    """

    def __init__(
        self,
        network: SupplyNetwork,
        layout: _Layout,
        sends: tuple[tuple[str, str], ...],
        deliveries: tuple[tuple[Sink, str, bool], ...],
        categories: tuple[str, ...],
    ) -> None:
        import numpy as np
        from scipy import sparse

        self.layout = layout
        #: (depot, category) of each send column.
        self.sends = sends
        #: (sink, category, carried) of each delivery column.
        self.deliveries = deliveries
        #: The street of each delivery column.
        self.street_of = [
            network.compound_street[name] if kind == "compound" else name
            for (kind, name), _, _ in deliveries
        ]
        self.depots = sorted({d for d, _ in sends})
        #: Compounds with a gate-and-hands row of their own.
        self.compounds = tuple(
            dict.fromkeys(name for (kind, name), _, _ in deliveries if kind == "compound")
        )
        self.streets = sorted(set(self.street_of))
        #: Row of each node: conservation rows first, then the shared ones.
        self._rows: dict[tuple[Any, ...], int] = {}
        #: Nonzero entries of the matrix: row, column, value.
        self._entries: tuple[list[int], list[int], list[float]] = ([], [], [])
        cost = self._columns(network, categories)
        self.n_eq = len(self._rows)
        self._shared_rows(network)
        rows, cols, values = self._entries
        shape = (len(self._rows), len(cost))
        self.matrix = sparse.csr_array((values, (rows, cols)), shape=shape)
        self._eq, self._ub = self.matrix[: self.n_eq], self.matrix[self.n_eq :]
        #: Lower bounds of the rows: 0 for conservation, none for capacities.
        self.lower = np.zeros(len(self._rows))
        self.lower[self.n_eq :] = -np.inf
        self.cost = np.asarray(cost)
        self.delivered = np.zeros(len(cost))
        self.delivered[self.start :] = 1.0
        # A kilogram delivered is worth more than any cost or reward of one path
        # (a first guess only: solve() checks every level of the order).
        self.weight = 2.0 * float(-self.cost.min(initial=0.0) + self.cost.max(initial=0.0)) + 1.0
        #: The levels of the order after "most delivered", each a 0/1 vector of
        #: the kilograms it counts (to maximise, in this order): carried-over
        #: demand, then each category but the last in priority order (the
        #: last one is what the delivered total leaves).
        self.levels: list[Any] = []
        #: The category each level counts (None: carried-over demand, any category).
        self.level_category: list[str | None] = []
        present = [k for k in categories if any(k == kk for _, kk, _ in deliveries)]
        masks: list[tuple[str | None, list[bool]]] = [
            (None, [carried for _, _, carried in deliveries])
        ]
        masks += [(c, [k == c for _, k, _ in deliveries]) for c in present[:-1]]
        for category, mask in masks:
            if any(mask) and not all(mask):  # all: the delivered total itself
                level = np.zeros(len(cost))
                level[self.start :] = mask
                self.levels.append(level)
                self.level_category.append(category)
        self._bounds_index(network)

    def _bounds_index(self, network: SupplyNetwork) -> None:
        """Where each column's kilograms pass (for :meth:`_ceiling`): the depot of
        each send column, and the street and gate row of each delivery column."""
        import numpy as np

        depot_at = {d: i for i, d in enumerate(self.depots)}
        street_at = {s: i for i, s in enumerate(self.streets)}
        compound_at = {c: i for i, c in enumerate(self.compounds)}
        self.send_depot = np.array([depot_at[d] for d, _ in self.sends], dtype=np.intp)
        self.send_category = [k for _, k in self.sends]
        self.column_street = np.array([street_at[s] for s in self.street_of], dtype=np.intp)
        # -1: a street's sink of compounds that can take all they want (no gate row).
        self.column_gate = np.array(
            [compound_at[n] if kind == "compound" else -1 for (kind, n), _, _ in self.deliveries],
            dtype=np.intp,
        )
        self.gate_street = np.array(
            [street_at[network.compound_street[c]] for c in self.compounds], dtype=np.intp
        )

    def _row(self, node: tuple[Any, ...]) -> int:
        return self._rows.setdefault(node, len(self._rows))

    def _enter(self, node: tuple[Any, ...], column: int, value: float) -> None:
        rows, cols, values = self._entries
        rows.append(self._row(node))
        cols.append(column)
        values.append(value)

    def _columns(self, network: SupplyNetwork, categories: tuple[str, ...]) -> list[float]:
        """The columns and their conservation rows; returns each column's cost."""
        layout = self.layout
        cost: list[float] = []
        n = len(categories)
        rank = {k: i for i, k in enumerate(categories)}
        # Old demand first, then categories in priority order, then the shortest
        # way: rewards that rank one kilogram's path so. Rerouting other goods to
        # make room can cost more than one path, so they are a first guess only;
        # solve() makes the order exact.
        unit = layout.longest + 1
        carried_reward = unit * n
        offered: set[tuple[tuple[str, ...], str]] = set()
        for depot, category in self.sends:
            group = layout.group_of[depot]
            offered.add((group, category))
            self._enter(("group", group, category), len(cost), 1.0)
            cost.append(0.0)
        self.n_sends = len(cost)
        wanted = {
            (street, k) for street, (_, k, _) in zip(self.street_of, self.deliveries, strict=True)
        }
        #: (group, street, category, distance) of each edge column.
        self.edges: list[tuple[tuple[str, ...], str, str, int]] = []
        for group, reach in layout.reach.items():
            for category in categories:
                if (group, category) not in offered:
                    continue
                for street, distance in reach:
                    if (street, category) in wanted:
                        self._enter(("group", group, category), len(cost), -1.0)
                        self._enter(("street", street, category), len(cost), 1.0)
                        cost.append(float(distance))
                        self.edges.append((group, street, category, distance))
        self.start = len(cost)
        for street, (_, category, carried) in zip(self.street_of, self.deliveries, strict=True):
            self._enter(("street", street, category), len(cost), -1.0)
            bonus = unit * (n - 1 - rank[category])
            cost.append(-float(bonus + (carried_reward if carried else 0)))
        return cost

    def _shared_rows(self, network: SupplyNetwork) -> None:
        """Rows after the conservation ones: dispatch, hubs, compounds (in that order)."""
        for depot in self.depots:
            self._row(("dispatch", depot))
        for street in self.streets:
            self._row(("hub", street))
        for compound in self.compounds:
            self._row(("compound", compound))
        for j, (depot, _) in enumerate(self.sends):
            self._enter(("dispatch", depot), j, 1.0)
        for j, ((kind, name), _, _) in enumerate(self.deliveries, self.start):
            self._enter(("hub", self.street_of[j - self.start]), j, 1.0)
            if kind == "compound":
                self._enter(("compound", name), j, 1.0)

    def _bounds(
        self,
        residual: _Residual,
        parts: Mapping[tuple[Sink, str, bool], int],
        supply: Mapping[tuple[str, str], int],
    ) -> tuple[Any, Any]:
        """The day's column bounds (upper; lower are 0) and row limits."""
        import numpy as np

        upper = np.zeros(len(self.cost))
        upper[: self.n_sends] = [supply[key] for key in self.sends]
        upper[self.n_sends : self.start] = np.inf
        upper[self.start :] = [parts[key] for key in self.deliveries]
        limits = np.concatenate(
            [
                np.zeros(self.n_eq),
                [residual.dispatch[d] for d in self.depots],
                [residual.hub[s] for s in self.streets],
                [residual.cap(c) for c in self.compounds],
            ]
        )
        return upper, limits

    def solve(
        self,
        residual: _Residual,
        parts: Mapping[tuple[Sink, str, bool], int],
        supply: Mapping[tuple[str, str], int],
    ) -> dict[int, int] | None:
        """The nonzero column values of the day's best plan (None: nothing can move).

        The best plan in the planner's order, exactly: the most kilograms
        delivered; at that, the most carried-over demand; at that, the most
        of each category in priority order; at that, the shortest distance.
        A first solve of ``cost - weight x delivered`` ranks each kilogram's
        path so, but making room for one kilogram can reroute others over
        more than one path's length, so it can tie or lose against a plan
        that is better in the order (a fresh kilogram nearby for a carried
        one far away). Each level is therefore checked: one at its bound
        (everything it counts delivered) holds in every plan that fixes
        those columns full; otherwise it is maximised with the levels
        before it as floors. When the first solve reaches every level's
        best it is the answer (among plans that do, it costs least, and
        they differ only in distance); else the least cost (the distance,
        then) is solved with every level's floor. Each solve tries the
        linear relaxation first (HiGHS' dual simplex, a vertex): when its
        solution is whole it is the integer optimum too; else the integer
        program is solved.
        """
        import numpy as np

        upper, limits = self._bounds(residual, parts, supply)
        lower = np.zeros(len(self.cost))
        # (level, least kilograms) of the levels decided below their bound.
        floors: list[tuple[Any, int]] = []

        def run(objective: Any) -> Any:
            return self._run(objective, lower, upper, limits, floors)

        first = x = run(self.cost - self.weight * self.delivered)
        exact = True
        most = 0  # the most kilograms delivered, once known
        ranked = 0  # kilograms the categories before this one hold at least
        for level, category in zip(
            (self.delivered, *self.levels), ("*", *self.level_category), strict=True
        ):
            counted = level > 0
            bound = round(float(upper[counted].sum()))
            best = round(float(level @ x))
            # Solved for unless the plan at hand is exactly at the cheap bound (a
            # plan above it would mean a wrong bound: solving is then the safe way).
            if best < bound and (
                not _CERTIFY
                or best != self._ceiling(counted, category, upper, limits, most - ranked)
            ):
                x = run(-level)
                best = round(float(level @ x))
            if category == "*":
                most = best
            elif category is not None:
                ranked += best
            if best >= bound:
                lower[counted] = upper[counted]  # every column it counts full
            else:
                floors.append((level, best))
            exact = exact and round(float(level @ first)) == best
        x = first if exact else run(self.cost)
        delivered = round(float(self.delivered @ x))
        if delivered <= 0:
            return None
        whole = np.rint(x).astype(np.int64)
        return {int(j): int(whole[j]) for j in np.flatnonzero(whole)}

    def _ceiling(
        self, counted: Any, category: str | None, upper: Any, limits: Any, left: int
    ) -> int:
        """An upper bound of a level's kilograms under the levels before it, cheap
        to compute: when the plan at hand reaches it, no solve can do better.

        The least of: what the gates (a compound's gate and hands) and then the
        street hubs let through of the columns it counts; what the depots can
        send of its category (all categories for the delivered total or the
        carried-over demand), each within its dispatch; and for a category,
        the most delivered less what the categories before it hold at least
        (``left``; for carried-over demand the most delivered).
        """
        import numpy as np

        start = self.start
        n_streets = len(self.streets)
        want = np.where(counted[start:], upper[start:], 0.0)
        gates = self.column_gate >= 0
        at_gate = np.bincount(self.column_gate[gates], want[gates], minlength=len(self.compounds))
        rows = limits[self.n_eq :]
        n_depots = len(self.depots)
        hubs = rows[n_depots : n_depots + n_streets]
        caps = rows[n_depots + n_streets :]
        through = np.bincount(
            self.gate_street, np.minimum(at_gate, caps), minlength=n_streets
        ) + np.bincount(self.column_street[~gates], want[~gates], minlength=n_streets)
        ceiling = float(np.minimum(through, hubs).sum())
        sends = upper[: self.n_sends]
        if category is not None and category != "*":
            sends = np.where([k == category for k in self.send_category], sends, 0.0)
        sent = np.bincount(self.send_depot, sends, minlength=n_depots)
        ceiling = min(ceiling, float(np.minimum(sent, rows[:n_depots]).sum()))
        if category != "*":
            ceiling = min(ceiling, float(left))
        return math.floor(ceiling + 1e-6)

    def _run(
        self,
        objective: Any,
        lower: Any,
        upper: Any,
        limits: Any,
        floors: Sequence[tuple[Any, int]],
    ) -> Any:
        """The best whole column values for ``objective``, each level of ``floors``
        at its least: the linear relaxation when its vertex is whole, else the
        integer program."""
        import numpy as np
        from scipy import sparse
        from scipy.optimize import Bounds, LinearConstraint, linprog, milp

        ub, b_ub = self._ub, limits[self.n_eq :]
        levels = least = None
        if floors:
            levels = np.vstack([level for level, _ in floors])
            least = np.array([kg - 0.5 for _, kg in floors])  # whole kilograms
            ub = sparse.vstack([ub, sparse.csr_array(-levels)], format="csr")
            b_ub = np.concatenate([b_ub, -least])
        relaxed = linprog(
            objective,
            A_ub=ub,
            b_ub=b_ub,
            A_eq=self._eq,
            b_eq=limits[: self.n_eq],
            bounds=np.column_stack([lower, upper]),
            method="highs-ds",
        )
        if (
            relaxed.status == 0
            and relaxed.x is not None
            and np.abs(relaxed.x - np.rint(relaxed.x)).max() < 1e-6
        ):
            return relaxed.x
        # The integer program, only when the relaxation's vertex is not whole.
        constraints = [LinearConstraint(self.matrix, self.lower, limits)]
        if levels is not None:
            constraints.append(LinearConstraint(levels, least, np.inf))
        out = milp(
            objective,
            integrality=np.ones(len(self.cost)),
            bounds=Bounds(lower, upper),
            constraints=constraints,
            options={"mip_rel_gap": 0.0, "presolve": True},
        )
        if out.x is None:
            raise InvariantError(f"the dispatch plan found no solution ({out.message})")
        return out.x


def _apply_joint(
    network: SupplyNetwork,
    residual: _Residual,
    result: _Result,
    program: _Program,
    take: Mapping[str, Mapping[str, tuple[int, int]]],
    got: Mapping[str, Mapping[str, Sequence[int]]],
    values: Mapping[int, int],
    categories: Sequence[str],
) -> None:
    # What each depot of a group sends, shared out over the group's hubs in
    # depot id order (their edges and costs are identical).
    left = {program.sends[j]: kg for j, kg in values.items() if j < program.n_sends}
    members = program.layout.members
    start = program.start
    for j in sorted(values):
        kg = values[j]
        if j < program.n_sends or j >= start:
            continue
        group, street, category, distance = program.edges[j - program.n_sends]
        for depot in members[group]:
            if kg <= 0:
                break
            give = min(kg, left.get((depot, category), 0))
            if give <= 0:
                continue
            left[(depot, category)] -= give
            kg -= give
            residual.stock[depot][category] -= give
            residual.dispatch[depot] -= give
            result.ship(depot, street, category, give, distance)
    by_street: dict[str, list[str]] = {}
    compound_street = network.compound_street
    for compound in take:
        by_street.setdefault(compound_street[compound], []).append(compound)
    # What _deliver does, inlined: thousands of (compound, category) a day.
    labels = network.labels()
    flows, delivered = result.flows, result.delivered
    gate, hands, hub = residual.gate, residual.hands, residual.hub
    for street, compounds in by_street.items():
        split = _split(residual, take, categories, compounds, got)
        per_community: dict[tuple[str, str], int] = {}
        street_kg = 0
        for compound, per in split.items():
            community, source, target = labels[compound]
            mine = None
            taken = 0
            for category, kg in per.items():
                if kg > 0:
                    key = (community, category)
                    per_community[key] = per_community.get(key, 0) + kg
                    flows[(source, target, category)] += kg
                    if mine is None:
                        mine = delivered[compound]
                    mine[category] += kg
                    taken += kg
            if taken:
                gate[compound] -= taken
                hands[compound] -= taken
                street_kg += taken
        hub[street] -= street_kg
        hub_label = f"hub:{street}"
        for community, category in sorted(per_community):
            kg = per_community[(community, category)]
            flows[(hub_label, f"community:{community}", category)] += kg
        # A link from the hub to the community, and one on to the compound.
        result.distance += 2 * network.down * street_kg


def _split(
    residual: _Residual,
    take: Mapping[str, Mapping[str, tuple[int, int]]],
    categories: Sequence[str],
    compounds: Sequence[str],
    got: Mapping[str, Mapping[str, Sequence[int]]],
) -> dict[str, dict[str, int]]:
    """Share a street's goods among its compounds, fairly where the plan is indifferent.

    Every kilogram below a hub costs the same, so the solver's split among a
    street's compounds is one of many equal ones. The street's carried-over
    part of each category goes out in proportion to the compounds' carried-over
    demand, then the fresh part in proportion to their fresh demand, both
    within what each compound can still take, categories in priority order.
    Where that cannot place everything (gates and hands shared by the
    categories), the solver's own split stands.
    """
    none: Mapping[str, Sequence[int]] = {}
    solver: dict[str, dict[str, int]] = {}
    everyone = True  # got all they wanted: then there is nothing to share
    for c in compounds:
        mine = got.get(c, none)
        solver[c] = {k: v[0] + v[1] for k, v in mine.items()}
        if everyone:
            for k, (owed, fresh) in take[c].items():
                pair = mine.get(k, (0, 0))
                if pair[0] != owed or pair[1] != fresh:
                    everyone = False
                    break
    if everyone:
        return solver
    room = {c: residual.cap(c) for c in compounds}
    out: dict[str, dict[str, int]] = {c: {} for c in compounds}
    for category in categories:
        for part in (0, 1):
            total = sum(got.get(c, {}).get(category, (0, 0))[part] for c in compounds)
            if total <= 0:
                continue
            caps = [min(take[c].get(category, (0, 0))[part], room[c]) for c in compounds]
            if sum(caps) < total:
                return solver
            for compound, kg in zip(compounds, _proportional(total, caps), strict=True):
                if kg:
                    out[compound][category] = out[compound].get(category, 0) + kg
                    room[compound] -= kg
    return out


def _proportional(total: int, caps: Sequence[int]) -> list[int]:
    """Split ``total`` (at most ``sum(caps)``) in proportion to ``caps``, never above one."""
    whole = sum(caps)
    if total <= 0 or whole <= 0:
        return [0] * len(caps)
    shares = [total * c // whole for c in caps]
    left = total - sum(shares)
    if not left:  # as a rule: everyone gets all they asked for
        return shares
    order = sorted(range(len(caps)), key=lambda i: (-(total * caps[i] % whole), i))
    for i in order:
        if left <= 0:
            break
        if shares[i] < caps[i]:
            shares[i] += 1
            left -= 1
    return shares

"""The supply book: stock on hand and demand carried over, changed only by supply events.

The engine keeps one :class:`SupplyBook`. Its state changes only through
``SupplyBook._apply_event``, the supply domain's reducer (private: only the
engine calls it), both when a command commits and when it replays a journal,
so replaying the journal gives exactly the live book.

A day's dispatch (:func:`plan_supply_day`, pure) reads the book, the zones
and the hands staffed at each compound, and returns the day's
:class:`~gridgov.supplies.DispatchPlan` with the event records that apply it,
in this order:

``supply.restocked`` (unit: the city)
    the depots' daily restock, once per calendar day, up to what each held at
    the start (its shelves): ``{"date", "depots": {depot: {category: kg}}}``.
``supply.expired`` (unit: a compound)
    ``{"kg": {category: kg}, "household_days": {category: n}}``: demand owed
    for :attr:`~gridgov.supplies.SupplyParams.owed_days` days or more, written
    off before the plan (the oldest lots), and the household-days of rations
    it stood for (per lot, its kilograms over the ration, at most the
    compound's households).
``supply.demanded`` (unit: the city)
    the day's fresh demand of every sealed or controlled compound, a ration
    per household per category plus its residents' requests:
    ``{"compounds": {compound: {category: kg}}, "dropped": [compound, ...]}``;
    ``dropped`` compounds are no longer sealed or controlled, and what they
    were still owed is dropped (their residents can shop again).
``supply.dispatched`` (unit: a depot)
    what it sends out: ``{"kg": {category: kg}, "to": {street: {category: kg}}}``.
``supply.delivered`` (unit: a compound)
    ``{"kg": {category: kg}, "waited_hours": {category: [[hours, kg], ...]}}``:
    goods handed to the households, the oldest demand first, and how long
    each part of it waited.
``supply.short`` (unit: a compound)
    ``{"kg": {category: kg}, "binding": {category: {constraint: kg}}}``: demand
    left over, carried to the next day, and what kept it back.
``supply.hands_requested`` (unit: a compound)
    ``{"community", "street", "people", "kg"}``: building leads asked of the street.

Demand is carried as *lots* (when raised, kilograms), served oldest first.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any

import attrs

from gridgov.errors import CommandError, JournalError, NotFoundError
from gridgov.supplies import DispatchPlan, SupplyDay, SupplyNetwork, plan_dispatch, plan_greedy
from gridgov.vocabulary import HOT_ZONES

__all__ = [
    "SUPPLIED_ZONES",
    "SUPPLY_EVENTS",
    "SupplyBook",
    "SupplyOutcome",
    "hands_at",
    "percentile",
    "plan_supply_day",
]

#: Event types of the supply domain, in the order a dispatch records them.
SUPPLY_EVENTS = (
    "supply.restocked",
    "supply.expired",
    "supply.demanded",
    "supply.dispatched",
    "supply.delivered",
    "supply.short",
    "supply.hands_requested",
)

#: Zones whose households need supplies delivered.
SUPPLIED_ZONES = HOT_ZONES

#: One event record: (type, unit, cause, data).
Record = tuple[str, str, str, dict[str, Any]]


class SupplyBook:
    """Stock on hand per depot and category, and demand carried over per compound.

    Args:
        network: the depots, hubs and compounds, and the parameters.
    """

    def __init__(self, network: SupplyNetwork) -> None:
        self.network = network
        self._stock: dict[str, dict[str, int]] = {
            d.id: dict(d.stock) for d in network.depots.values()
        }
        # compound -> category -> [[raised (ISO time), kg], ...], oldest first
        self._lots: dict[str, dict[str, list[list[Any]]]] = {}
        self._restocked_on: str | None = None
        # When demand was last raised (ISO time): requests before it are counted.
        self._demanded_at: str | None = None
        # The engine's last reading of the hands (what the roster gives, and the
        # roster's mark then): not part of the book, kept to spare the reading.
        self._hands: tuple[tuple[int, int], dict[str, int]] | None = None

    # ------------------------------------------------------------- reads

    def stock(self, depot: str | None = None) -> dict[str, int]:
        """Kilograms on hand per category, at ``depot`` or at every depot together.

        Raises:
            NotFoundError: no such depot.
        """
        if depot is not None:
            if depot not in self._stock:
                raise NotFoundError(depot, "depot;", " in the supply network")
            return dict(self._stock[depot])
        total: dict[str, int] = {}
        for per in self._stock.values():
            for category, kg in per.items():
                total[category] = total.get(category, 0) + kg
        return total

    def owed(self, compound: str | None = None) -> dict[str, int]:
        """Kilograms still owed per category (at ``compound`` or everywhere)."""
        total: dict[str, int] = {}
        books = [self._lots.get(compound, {})] if compound is not None else self._lots.values()
        for per in books:
            for category, lots in per.items():
                kg = sum(int(lot[1]) for lot in lots)
                if kg:
                    total[category] = total.get(category, 0) + kg
        return total

    def owed_by_compound(self) -> dict[str, dict[str, int]]:
        """Compound -> category -> kilograms still owed (owing compounds only)."""
        out = {}
        for compound in sorted(self._lots):
            owed = self.owed(compound)
            if owed:
                out[compound] = owed
        return out

    def lots(self, compound: str, category: str) -> tuple[tuple[str, int], ...]:
        """What ``compound`` is owed of ``category``: (raised at, kg), oldest first."""
        return tuple((str(t), int(kg)) for t, kg in self._lots.get(compound, {}).get(category, []))

    def to_json(self) -> dict[str, Any]:
        """The book as JSON-ready data (for snapshots)."""
        return {
            "stock": {d: dict(per) for d, per in sorted(self._stock.items())},
            "lots": {
                c: {k: [list(lot) for lot in lots] for k, lots in sorted(per.items())}
                for c, per in sorted(self._lots.items())
            },
            "restocked_on": self._restocked_on,
            "demanded_at": self._demanded_at,
        }

    def _load(self, data: Mapping[str, Any]) -> None:
        """Restore the book from :meth:`to_json` data.

        Raises:
            JournalError: the data names a depot the network lacks.
        """
        stock = {
            str(d): {str(k): int(v) for k, v in per.items()} for d, per in data["stock"].items()
        }
        unknown = sorted(set(stock) - set(self._stock))
        if unknown:
            raise JournalError(f"supply snapshot names unknown depot {unknown[0]!r}")
        self._stock.update(stock)
        self._lots = {
            str(c): {str(k): [[str(t), int(kg)] for t, kg in lots] for k, lots in per.items()}
            for c, per in data["lots"].items()
        }
        restocked = data.get("restocked_on")
        self._restocked_on = None if restocked is None else str(restocked)
        demanded = data.get("demanded_at")  # absent from snapshots before it was kept
        self._demanded_at = None if demanded is None else str(demanded)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SupplyBook):
            return NotImplemented
        return self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]

    # ----------------------------------------------------------- reducer

    def _apply_event(self, event: Any) -> None:
        """Apply one supply event (see the module docstring); other events are ignored.

        This is the supply domain's reducer: the engine calls it on commit and on replay.

        Raises:
            JournalError: a restock or dispatch for an unknown depot.
        """
        kind = event.type
        data = event.data
        if kind == "supply.restocked":
            for depot, per in data["depots"].items():
                book = self._depot(depot)
                for category, kg in per.items():
                    book[category] = book.get(category, 0) + int(kg)
            self._restocked_on = str(data["date"])
        elif kind == "supply.demanded":
            for compound in data.get("dropped", ()):
                self._lots.pop(compound, None)
            raised = event.time.isoformat()
            self._demanded_at = raised
            for compound, per in data["compounds"].items():
                lots = self._lots.setdefault(compound, {})
                for category, kg in per.items():
                    if int(kg) > 0:
                        lots.setdefault(category, []).append([raised, int(kg)])
        elif kind in ("supply.expired", "supply.delivered"):
            # Written off or delivered: either way the oldest owed lots go first.
            per = self._lots.get(event.unit, {})
            for category, kg in data["kg"].items():
                owed = per.get(category)
                if owed:
                    _consume(owed, int(kg))
                if not owed:
                    per.pop(category, None)
            if not per:
                self._lots.pop(event.unit, None)
        elif kind == "supply.dispatched":
            book = self._depot(event.unit)
            for category, kg in data["kg"].items():
                book[category] = book.get(category, 0) - int(kg)

    def _depot(self, depot: str) -> dict[str, int]:
        try:
            return self._stock[depot]
        except KeyError:
            raise JournalError(f"supply event names unknown depot {depot!r}") from None

    # ----------------------------------------------------------- planning

    def demanded_at(self) -> datetime | None:
        """When the last dispatch raised demand (None: never): requests opened since
        then are the ones the next dispatch adds."""
        return None if self._demanded_at is None else datetime.fromisoformat(self._demanded_at)

    def restock_due(self, when: datetime) -> bool:
        """Whether the depots are still to be restocked on ``when``'s date."""
        return self._restocked_on != when.date().isoformat()


def _consume(lots: list[list[Any]], kg: int, taken: list[tuple[str, int]] | None = None) -> None:
    """Take ``kg`` off the oldest lots; (raised at, kg taken) of each lot touched is
    added to ``taken`` when given (the reducer needs none: it spares the list)."""
    while kg > 0 and lots:
        raised, have = lots[0]
        take = min(kg, int(have))
        if taken is not None:
            taken.append((str(raised), take))
        kg -= take
        if take == have:
            lots.pop(0)
        else:
            lots[0][1] = int(have) - take


@attrs.frozen
class SupplyOutcome:
    """One day's dispatch: the plan and the event records that apply it."""

    #: The day's plan.
    plan: DispatchPlan
    #: (type, unit, cause, data) of every event, in order.
    records: tuple[Record, ...]


def plan_supply_day(
    book: SupplyBook,
    zones: Mapping[str, str],
    hands: Mapping[str, int],
    when: datetime,
    requests: Mapping[str, Mapping[str, float]] | None = None,
    method: str = "min_cost",
) -> SupplyOutcome:
    """Plan one day's dispatch from the book, without changing it.

    Args:
        book: the supply book (read only).
        zones: every compound's zone.
        hands: kilograms the building leads and volunteers of each compound can carry.
        when: the time of the dispatch.
        requests: compound -> request category (``food_supplies``, ``medicine``)
            -> residents' requests to add to the day's demand.
        method: ``min_cost`` (:func:`~gridgov.supplies.plan_dispatch`) or
            ``greedy`` (:func:`~gridgov.supplies.plan_greedy`).

    Returns:
        The plan and its event records.

    Raises:
        CommandError: an unknown method or request category.
    """
    if method not in ("min_cost", "greedy"):
        raise CommandError(
            f"unknown dispatch method {method!r} (expected min_cost or greedy)",
            reason="unknown dispatch method",
        )
    network = book.network
    records: list[Record] = []
    city = network.city.chain.city
    # Work on copies: the book changes only when the engine applies the records.
    stock = {d: dict(per) for d, per in book._stock.items()}
    if book.restock_due(when):
        restock = _restock(network, stock)
        if restock:
            records.append(
                (
                    "supply.restocked",
                    city,
                    "daily restock of the depots",
                    {"date": when.date().isoformat(), "depots": restock},
                )
            )
    fresh = _fresh_demand(network, zones, requests or {})
    dropped = sorted(c for c in book._lots if zones.get(c) not in SUPPLIED_ZONES)
    owed_lots, expired = _expire(book, dropped, when)
    for compound, data in expired.items():
        records.append(
            (
                "supply.expired",
                compound,
                f"owed for {network.params.owed_days} days or more: written off",
                data,
            )
        )
    if fresh or dropped:
        records.append(
            (
                "supply.demanded",
                city,
                "rations and requests of sealed and controlled households",
                {"compounds": fresh, "dropped": dropped},
            )
        )
    day = _supply_day(stock, fresh, owed_lots, dropped, hands)
    plan = plan_dispatch(network, day) if method == "min_cost" else plan_greedy(network, day)
    records += _plan_records(owed_lots, plan, fresh, when)
    return SupplyOutcome(plan, tuple(records))


def _supply_day(
    stock: dict[str, dict[str, int]],
    fresh: Mapping[str, Mapping[str, int]],
    owed_lots: Mapping[str, Mapping[str, list[list[Any]]]],
    dropped: Iterable[str],
    hands: Mapping[str, int],
) -> SupplyDay:
    """The planner's day: what is owed (after write-offs) plus the fresh demand."""
    demand: dict[str, dict[str, int]] = {}
    carried: dict[str, dict[str, int]] = {}
    none: dict[str, int] = {}
    for compound in sorted({*fresh, *owed_lots} - set(dropped)):
        lots_of = owed_lots.get(compound)
        if lots_of:
            old = {k: sum(int(lot[1]) for lot in lots) for k, lots in lots_of.items()}
            old = {k: kg for k, kg in old.items() if kg}
        else:
            old = {}
        new = fresh.get(compound, none)
        if old:
            total = {k: old.get(k, 0) + new.get(k, 0) for k in sorted({*old, *new})}
        else:
            total = dict(sorted(new.items()))
        if any(total.values()):
            demand[compound] = total
            carried[compound] = old
    return SupplyDay(
        stock=stock,
        demand=demand,
        hands={c: int(hands.get(c, 0)) for c in demand},
        carried=carried,
    )


def _restock(network: SupplyNetwork, stock: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """The day's restock per depot, added to ``stock``: up to what each depot held
    at the start (its shelves), never beyond."""
    out: dict[str, dict[str, int]] = {}
    for depot in sorted(network.depots.values(), key=lambda d: d.id):
        per = {}
        for category, kg in sorted(depot.restock.items()):
            room = max(0, depot.stock.get(category, 0) - stock[depot.id].get(category, 0))
            if min(kg, room) > 0:
                per[category] = min(kg, room)
                stock[depot.id][category] = stock[depot.id].get(category, 0) + per[category]
        if per:
            out[depot.id] = per
    return out


def _fresh_demand(
    network: SupplyNetwork,
    zones: Mapping[str, str],
    requests: Mapping[str, Mapping[str, float]],
) -> dict[str, dict[str, int]]:
    """The day's rations of every supplied compound, plus its residents' requests."""
    params = network.params
    fresh: dict[str, dict[str, int]] = {}
    # Each compound's rations are the same every day: made once per network.
    fixed = network.rations()
    nothing: tuple[dict[str, int], dict[str, int]] = ({k: 0 for k in params.categories}, {})
    supplied = [c for c, zone in zones.items() if zone in SUPPLIED_ZONES]
    supplied.sort()
    for compound in supplied:
        rations, positive = fixed.get(compound, nothing)
        asked = requests.get(compound)
        if not asked:
            if positive:
                fresh[compound] = dict(positive)
            continue
        per = dict(rations)
        for request, count in asked.items():
            target = params.request_category.get(request)
            if target is None:
                raise CommandError(
                    f"request category {request!r} has no supply category (expected one of: "
                    f"{', '.join(sorted(params.request_category))})",
                    reason="request category without supply category",
                )
            per[target] = per.get(target, 0) + round(count * params.request_kg.get(request, 0))
        per = {k: kg for k, kg in per.items() if kg > 0}
        if per:
            fresh[compound] = per
    return fresh


def _expire(
    book: SupplyBook, dropped: Iterable[str], when: datetime
) -> tuple[dict[str, dict[str, list[list[Any]]]], dict[str, dict[str, Any]]]:
    """What stays owed after the lots owed ``owed_days`` or more are written off,
    and the ``supply.expired`` data of each compound that had such lots."""
    network = book.network
    params = network.params
    cutoff = when - timedelta(days=params.owed_days)

    def due(lot: list[Any]) -> bool:
        return datetime.fromisoformat(str(lot[0])) <= cutoff

    skip = set(dropped)
    owed: dict[str, dict[str, list[list[Any]]]] = {}
    expired: dict[str, dict[str, Any]] = {}
    for compound, per in book._lots.items():
        if compound in skip:
            continue
        # Lots are kept oldest first: the first one tells.
        if not any(lots and due(lots[0]) for lots in per.values()):
            owed[compound] = per
            continue
        households = network.households.get(compound, 0)
        kept: dict[str, list[list[Any]]] = {}
        data: dict[str, Any] = {"kg": {}, "household_days": {}}
        for category, lots in sorted(per.items()):
            old = [lot for lot in lots if due(lot)]
            kept[category] = lots[len(old) :]
            if not old:
                continue
            ration = params.ration(category)
            data["kg"][category] = sum(int(kg) for _, kg in old)
            data["household_days"][category] = sum(
                min(households, math.ceil(int(kg) / ration)) if ration > 0 else 0 for _, kg in old
            )
        owed[compound] = {k: lots for k, lots in kept.items() if lots}
        expired[compound] = data
    return owed, expired


#: A flow's source (the key the plan's flows are sorted by first).
_source = attrgetter("source")


def _plan_records(
    owed_lots: Mapping[str, Mapping[str, list[list[Any]]]],
    plan: DispatchPlan,
    fresh: Mapping[str, Mapping[str, int]],
    when: datetime,
) -> list[Record]:
    records: list[Record] = []
    shipped: dict[str, dict[str, int]] = {}
    for s in plan.shipments:
        shipped.setdefault(s.depot, {})[s.category] = s.kg
    routes: dict[str, dict[str, dict[str, int]]] = {}
    # The plan's flows are sorted: its depots' flows are the run of sources from
    # "depot:" on (thousands of flows below the hubs a day are not looked at).
    flows = plan.flows
    for at in range(bisect.bisect_left(flows, "depot:", key=_source), len(flows)):
        f = flows[at]
        if not f.source.startswith("depot:"):
            break
        depot = f.source[len("depot:") :]
        street = f.target[len("hub:") :]
        routes.setdefault(depot, {}).setdefault(street, {})[f.category] = f.kg
    for depot, per in sorted(shipped.items()):
        records.append(
            (
                "supply.dispatched",
                depot,
                f"dispatch of {when.date().isoformat()} ({plan.method})",
                {"kg": per, "to": routes.get(depot, {})},
            )
        )
    for compound, got in plan.deliveries.items():
        waited: dict[str, list[list[float]]] = {}
        owed = owed_lots.get(compound, {})
        for category, kg in got.items():
            if not owed.get(category):  # nothing carried over: all of it is today's
                waited[category] = [[0.0, kg]]
                continue
            lots = [list(lot) for lot in owed[category]]
            if fresh.get(compound, {}).get(category):
                lots.append([when.isoformat(), fresh[compound][category]])
            parts: list[tuple[str, int]] = []
            _consume(lots, kg, parts)
            waited[category] = [
                [round((when - datetime.fromisoformat(raised)).total_seconds() / 3600, 3), taken]
                for raised, taken in parts
            ]
        records.append(
            (
                "supply.delivered",
                compound,
                "delivered to the households by building leads and volunteers",
                {"kg": dict(got), "waited_hours": waited},
            )
        )
    short: dict[str, dict[str, Any]] = {}
    for u in plan.unmet:
        entry = short.setdefault(u.compound, {"kg": {}, "binding": {}})
        entry["kg"][u.category] = entry["kg"].get(u.category, 0) + u.kg
        entry["binding"].setdefault(u.category, {})[u.binding] = u.kg
    for compound, data in short.items():
        bindings = ", ".join(f"{k}: {b}" for k, per in data["binding"].items() for b in per)
        records.append(("supply.short", compound, f"demand carried over ({bindings})", data))
    for r in plan.reinforcements:
        records.append(
            (
                "supply.hands_requested",
                r.compound,
                f"{r.kg} kg left at the checkpoint for want of hands",
                {"community": r.community, "street": r.street, "people": r.people, "kg": r.kg},
            )
        )
    return records


def hands_at(
    posts: Iterable[tuple[str, str, int]], building_lead_kg: int, volunteer_kg: int
) -> dict[str, int]:
    """Kilograms each compound's people can carry, from (compound, role, holders) of its posts."""
    out: dict[str, int] = {}
    for compound, role, holders in posts:
        if role == "building_lead":
            out[compound] = out.get(compound, 0) + holders * building_lead_kg
        elif role == "volunteer":
            out[compound] = out.get(compound, 0) + holders * volunteer_kg
    return out


def percentile(pairs: Iterable[tuple[float, int]], share: float) -> float:
    """The ``share`` percentile of values weighted by kilograms (NaN when empty)."""
    ordered = sorted((float(v), int(w)) for v, w in pairs if w > 0)
    total = sum(w for _, w in ordered)
    if not total:
        return math.nan
    target = share * total
    running = 0
    for value, weight in ordered:
        running += weight
        if running >= target:
            return value
    return ordered[-1][0]

"""Residents' requests in a simulation: the closed loop's bulk path under load.

Sealed and controlled households raise requests at the scenario's rates
(per household, per category, per day). Each becomes a ticket on the bulk
path (:class:`gridgov.tickets.TicketArrays`: the same workflow machine and the
same routing and escalation rules as the engine's ticket desk, compiled into
integer arrays), so a city-wide lockdown's hundreds of thousands of tickets a
day stay cheap.

Handling is a queue at each unit. Every *round* (15 minutes by default) a
unit moves at most its capacity of tickets one step on, oldest first by due
time; the capacity of a grid grows with its grid workers on front-line duty,
that of a community with the building leads, deployed members and volunteers
serving it, and the street, district and city offices have fixed capacities.
A ticket that waits past its step's time limit is escalated one level up by
the sweep, exactly as the desk would, and keeps climbing on further breaches.
Scores are drawn with a small share of low ones, which reopen a ticket once
and then escalate it. Closed tickets leave the arrays each day.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from itertools import chain

import attrs
import numpy as np

from gridgov.city import City
from gridgov.engine import Engine
from gridgov.model import Level
from gridgov.rules import TicketRule
from gridgov.tickets import TicketArrays
from gridgov.vocabulary import TICKET_LEVELS

__all__ = ["ClosedLoopLoad", "HandlingCapacity"]

#: The next trigger of each open state, in the order rounds apply them.
_NEXT = (
    ("published", "archive"),
    ("scored", "publish"),
    ("supervising", "feed_back"),
    ("tracking", "supervise"),
    ("classified", "track"),
    ("accepted", "classify"),
)
#: The steps a delivery takes an open ticket through, up to fed_back, in order.
_FULFIL = (
    ("accepted", "classify"),
    ("classified", "track"),
    ("tracking", "supervise"),
    ("supervising", "feed_back"),
)
_LEVELS = TICKET_LEVELS
_NO_DUE = TicketArrays.NO_DUE
_MICROS_PER_HOUR = 3_600_000_000
#: Up to this many tickets in a turn, a round chooses in Python (above: with arrays).
_SMALL = 32
#: Up to this many tickets per round on average, a step handles them in lists
#: (:class:`_Listed`; above: with arrays).
_LISTED = 16


@attrs.frozen
class HandlingCapacity:
    """Tickets a unit moves one step on, per hour."""

    #: Base capacity of each level's office.
    base: Mapping[str, float] = attrs.field(
        factory=lambda: {
            "grid": 2.0,
            "community": 4.0,
            "street": 12.0,
            "district": 30.0,
            "city": 60.0,
        }
    )
    #: Extra per grid worker on front-line duty in the grid.
    per_front_line_worker: float = 2.0
    #: Extra per building lead, deployed member or volunteer serving the community.
    per_community_staff: float = 0.5
    #: Share of scores below the rules' low score.
    low_score_share: float = 0.05
    #: Minutes between handling rounds.
    round_minutes: int = 15


class ClosedLoopLoad:
    """Generates requests and moves them through the closed loop, round by round.

    Args:
        city: the city.
        rule: the ticket rules.
        rates: requests per household per day: zone -> category -> rate.
        seed: the random seed.
        capacity: how fast units handle tickets.
    """

    def __init__(
        self,
        city: City,
        rule: TicketRule,
        rates: Mapping[str, Mapping[str, float]],
        seed: int,
        capacity: HandlingCapacity | None = None,
    ) -> None:
        self.city = city
        self.rule = rule
        self.capacity = capacity if capacity is not None else HandlingCapacity()
        self.arrays = TicketArrays(city, rule, capacity=4096)
        self.rng = np.random.Generator(np.random.PCG64(seed))
        unknown = {c for zone in rates.values() for c in zone} - set(rule.categories)
        if unknown:
            from gridgov.errors import NotFoundError

            raise NotFoundError(
                min(unknown),
                "ticket category;",
                message=f"request categories {', '.join(sorted(unknown))} are not ticket "
                f"categories of the rules (expected some of: {', '.join(rule.categories)})",
            )
        self.rates = {z: dict(c) for z, c in rates.items()}
        #: Whether any zone raises requests at all (all rates 0: none ever).
        self._raising = any(rate > 0 for zone in self.rates.values() for rate in zone.values())
        self.compounds = sorted(city.compounds)
        #: Each compound's index in ``compounds``.
        self._compound_index = {name: i for i, name in enumerate(self.compounds)}
        self.households = np.array([city.households(c) for c in self.compounds], dtype=float)
        arrays = self.arrays
        self.origin = np.array(
            [arrays.unit_index[city.grids_of_compound(c)[0]] for c in self.compounds],
            dtype=np.int32,
        )
        chain = city.chain
        self.community_of_unit = np.array(
            [
                arrays.unit_index.get(chain.community_of(u), -1)
                if chain.level(u).rank >= Level.COMMUNITY.rank
                else -1
                for u in arrays.units
            ],
            dtype=np.int32,
        )
        self.opened_at = np.zeros(arrays.state.size, np.int64)
        #: Each ticket's compound (an index of ``compounds``), beside the arrays.
        self.compound_of = np.zeros(arrays.state.size, np.int32)
        #: Tickets opened per compound and category since :meth:`take_requests`.
        self.requested = np.zeros((len(self.compounds), len(arrays.categories)), np.int64)
        self._state = {s: i for i, s in enumerate(arrays.states)}
        self._open_states = [
            i for s, i in self._state.items() if s not in ("archived", "withdrawn")
        ]
        #: The rounds' turns: (state, trigger, state index), in order.
        self._turns = tuple((state, trigger, self._state[state]) for state, trigger in _NEXT)
        self._turn_states = [i for _, _, i in self._turns]
        self._fed_back = self._state["fed_back"]
        self._state_count = len(arrays.states)
        self._triggers = tuple(trigger for _, trigger, _ in self._turns)
        #: Each state's turn in a round (states without one after the last).
        self._turn_of = np.full(len(arrays.states), len(self._turns), np.int8)
        self._turn_of[self._turn_states] = np.arange(len(self._turns))
        self.base = np.array(
            [self.capacity.base[_LEVELS[int(level)]] for level in arrays.unit_level],
            dtype=float,
        )
        self.extra = np.zeros(len(arrays.units))
        self._roster: object = None
        self._tables = _Tables(arrays)
        #: The bounds of :meth:`_scores`' integer draw, by size (small sizes).
        self._score_bounds: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        # Today's counts, read and reset by the runner.
        self.today: Counter[str] = Counter()
        self.latencies: dict[str, list[float]] = {}
        self._pending: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    # ------------------------------------------------------------------ staff

    def update_capacity(self, engine: Engine) -> None:
        """Refresh the units' capacities from who is on emergency duty now."""
        roster = engine.roster
        # The engine hands out the same roster until the next event: no event,
        # no change of who is on duty.
        if roster is self._roster:
            return
        self._roster = roster
        arrays = self.arrays
        extra = np.zeros(len(arrays.units))
        per_worker = self.capacity.per_front_line_worker
        per_staff = self.capacity.per_community_staff
        unit_index = arrays.unit_index
        # Read from the roster's rows, in the order of its posts (the sums stay
        # the same to the last bit): a post object each would cost 10,000 a day.
        for role, unit, community, holders in roster._seats():
            if role == "front_line":
                extra[unit_index[unit]] += per_worker * holders
            elif role != "point_lead":
                extra[unit_index[community]] += per_staff * holders
        self.extra = extra

    # --------------------------------------------------------------- requests

    def raise_requests(self, zones: Mapping[str, str], start: datetime, days: float) -> int:
        """Draw the requests of sealed and controlled households for a step.

        They are opened by :meth:`run_rounds` at their own times, spread over the step.
        """
        if not self._raising:
            self._pending = None
            self.today["opened"] += 0
            return 0
        zone_of = np.array([zones[c] for c in self.compounds])
        origins: list[np.ndarray] = []
        categories: list[np.ndarray] = []
        which: list[np.ndarray] = []
        total = 0
        for zone, rates in sorted(self.rates.items()):
            mask = zone_of == zone
            if not mask.any():
                continue
            households = self.households[mask]
            where = self.origin[mask]
            compounds = np.flatnonzero(mask).astype(np.int32)
            for category, rate in sorted(rates.items()):
                counts = self.rng.poisson(households * rate * days)
                count = int(counts.sum())
                if not count:
                    continue
                origins.append(np.repeat(where, counts))
                which.append(np.repeat(compounds, counts))
                categories.append(
                    np.full(count, self.arrays.category_index[category], dtype=np.int16)
                )
                total += count
                self.today[f"opened_{category}"] += count
        if total:
            offsets = self.rng.random(total) * days * 24 * _MICROS_PER_HOUR
            order = np.argsort(offsets, kind="stable")
            base = TicketArrays.micros(start)
            self._pending = (
                np.concatenate(origins)[order],
                np.concatenate(categories)[order],
                (base + offsets[order]).astype(np.int64),
                np.concatenate(which)[order],
            )
        else:
            self._pending = None
        self.today["opened"] += total
        return total

    def _grow_mirror(self) -> None:
        size = self.arrays.state.size
        if self.opened_at.size < size:
            grown = np.zeros(size, np.int64)
            grown[: self.opened_at.size] = self.opened_at
            self.opened_at = grown
            where = np.zeros(size, np.int32)
            where[: self.compound_of.size] = self.compound_of
            self.compound_of = where

    # ----------------------------------------------------------------- rounds

    def run_rounds(self, start: datetime, days: float) -> None:
        """Handle tickets round by round from ``start`` for ``days``."""
        step = timedelta(minutes=self.capacity.round_minutes)
        rounds = max(1, round(days * 24 * 60 / self.capacity.round_minutes))
        per_round = ((self.base + self.extra) * self.capacity.round_minutes / 60).tolist()
        pending = self._pending
        self._pending = None
        # Each round's last opening, found at once (the requests are in time order).
        ends = [TicketArrays.micros(start + step * (index + 1)) for index in range(rounds)]
        arrays = self.arrays
        first = arrays.n
        if pending is None:
            stops = [first] * rounds
        else:
            # The step's requests are opened at once, each at its own time, in
            # time order: a round works on the tickets opened by its end only
            # (the first ``stops[r]``), and handles those from the round after.
            # A ticket opened later has its deadline after the round (its time
            # plus a limit of 0 or more), so no sweep touches it early. The
            # requests were drawn valid (grids, categories): the arrays take
            # them unchecked.
            origins, categories, times, which = pending
            stops = (first + np.searchsorted(times, ends, side="right")).tolist()
            # (Requests after the last round's end, if rounds do not fill the
            # step, are never opened.)
            last = stops[-1] - first
            origins, categories = origins[:last], categories[:last]
            times, which = times[:last], which[:last]
            idx = arrays._open_checked(origins, categories, times, np.ones(last, np.int8))
            self._grow_mirror()
            self.opened_at[idx] = times
            self.compound_of[idx] = which
            np.add.at(self.requested, (which, categories), 1)
        live = self._live()
        if live.size <= _LISTED * rounds:
            tickets = _Listed(self._tables, arrays, live, self.opened_at[live].tolist())
            for now, n in zip(ends, stops, strict=True):
                tickets.show(n)
                self._listed_round(tickets, now, per_round)
            tickets.write(arrays)
        else:
            for now, n in zip(ends, stops, strict=True):
                self._round(now, per_round, n)

    def _live(self) -> np.ndarray:
        """The tickets the rounds can still change: open, or with a limit running."""
        arrays = self.arrays
        n = arrays.n
        closed = np.isin(arrays.state[:n], self._tables.closed)
        return np.flatnonzero(~closed | (arrays.due[:n] != _NO_DUE))

    def _listed_round(self, tickets: _Listed, now: int, per_round: list[float]) -> None:
        """:meth:`_round` on the tickets in lists: the same moves, draws and counts."""
        state, due = tickets.state, tickets.due
        # The tickets in each state at the start of the round (in index order),
        # those that can no longer change left out for good.
        by_state: list[list[int]] = [[] for _ in range(self._state_count)]
        for p in tickets.active:
            by_state[state[p]].append(p)
        for s in self._tables.closed:
            if by_state[s]:
                by_state[s] = [p for p in by_state[s] if due[p] != _NO_DUE]
        # (Joined and sorted in C: cheaper than a test per ticket in the loop.)
        tickets.active = active = sorted(chain.from_iterable(by_state))
        if not any(by_state[s] for s in self._open_states):
            return
        # Each turn's tickets, oldest deadline first (ties: lower index).
        groups = [by_state[s] for s in self._turn_states]
        handled: list[int] = []
        for group in groups:
            group.sort(key=due.__getitem__)
            handled += group
        counts = [len(group) for group in groups]
        handled_count = len(handled)
        # Tickets waiting for a score: those already there and those fed back now.
        waiting = by_state[self._fed_back]
        if handled:
            draws = self.rng.random(handled_count).tolist()
            units = list(map(tickets.unit.__getitem__, handled))
            taken, runs = _choose(units, draws, counts, self._triggers, per_round)
            take = handled if len(taken) == handled_count else list(map(handled.__getitem__, taken))
            start = 0
            for trigger, count in runs:
                moved = take[start : start + count]
                start += count
                if trigger == "archive":
                    self._record_latency(
                        [(now - tickets.opened_at[p]) / _MICROS_PER_HOUR for p in moved],
                        list(map(tickets.category.__getitem__, moved)),
                    )
                elif trigger == "feed_back":
                    waiting += moved
                tickets.fire(moved, trigger, now)
        if waiting:
            waiting.sort()
            given, lows = self._scores(len(waiting))
            climbed = tickets.score(waiting, given, now)
            self.today["low_scores"] += lows
            self.today["escalated_on_score"] += climbed
        # Whatever waited past its limit climbs, one level per breach.
        overdue = 0
        if min(map(due.__getitem__, active)) <= now:
            climbs, overdue = tickets.sweep([p for p in active if due[p] <= now], now)
            for level, count in enumerate(climbs):
                if count:
                    self.today[f"escalated_{_LEVELS[level]}"] += count
        self.today["overdue"] += overdue

    def _round(self, now: int, per_round: list[float], n: int) -> None:
        """One round at ``now`` over the first ``n`` tickets (those opened by now)."""
        arrays = self.arrays
        if not n:
            return
        states = arrays.state[:n]
        # Tickets per state at the start of the round: a step only moves
        # tickets into states handled before it, so each state holds at its
        # turn the tickets it held at the start. A round with no open ticket
        # has nothing to do.
        present = np.bincount(states, minlength=self._state_count).tolist()
        counts = [present[s] for s in self._turn_states]
        handled_count = sum(counts)
        if not handled_count and not any(present[s] for s in self._open_states):
            return
        # Tickets waiting for a score: those already there (a delivery put
        # them there between rounds) and those fed back in this round.
        already = present[self._fed_back] > 0
        fed_back: np.ndarray | None = None
        if handled_count:
            # The handled tickets turn by turn, oldest deadline first (ties:
            # lower index): each state's tickets as a stable sort of them by due.
            order = np.lexsort((arrays.due[:n], self._turn_of[states]))
            handled = order[:handled_count]
            # One draw for every turn's tickets: the same numbers as a draw per turn.
            draws = self.rng.random(handled_count)
            taken, runs = _choose(
                arrays.unit[handled].tolist(), draws.tolist(), counts, self._triggers, per_round
            )
            if taken:
                take = handled[taken]
                if runs[0][0] == "archive":
                    closed = take[: runs[0][1]]
                    self._record_latency(
                        ((now - self.opened_at[closed]) / _MICROS_PER_HOUR).tolist(),
                        arrays.category[closed].tolist(),
                    )
                # Legal by construction: every ticket takes its state's next trigger.
                arrays._fire_runs(take, runs, now)
                start = 0
                for trigger, count in runs:
                    if trigger == "feed_back":
                        fed_back = take[start : start + count]
                        break
                    start += count
        if already:
            self._score(np.flatnonzero(arrays.state[:n] == self._fed_back), now)
        elif fed_back is not None:
            # The only tickets waiting: those fed back just now, in index order.
            self._score(np.sort(fed_back), now)
        # Whatever waited past its limit climbs, one level per breach.
        if arrays.due[:n].min() <= now:
            escalated = arrays.sweep(now)
            if escalated.ticket.size:
                levels = np.bincount(
                    arrays.unit_level[escalated.to_unit], minlength=len(_LEVELS)
                ).tolist()
                for level, count in enumerate(levels):
                    if count:
                        self.today[f"escalated_{_LEVELS[level]}"] += count
            self.today["overdue"] += int(escalated.overdue.size)
        else:
            self.today["overdue"] += 0

    def _score(self, waiting: np.ndarray, now: int) -> None:
        """The residents score the tickets ``waiting`` (fed back): a small share low."""
        given, lows = self._scores(waiting.size)
        climbed = self.arrays._score_checked(waiting, np.array(given, np.int64), now)
        self.today["low_scores"] += lows
        self.today["escalated_on_score"] += int(climbed.size)

    def _scores(self, size: int) -> tuple[list[int], int]:
        """``size`` scores as the residents give them (a small share low), and how many are low."""
        rng = self.rng
        share = self.capacity.low_score_share
        # All three draws are made, in this order, whatever the first gives.
        draws = rng.random(size).tolist()
        # The low scores, then the others, in one call: numpy draws an array
        # of bounds element by element, the same numbers as a call for each
        # (whose fixed cost is most of what a round's scores cost).
        bounds = self._score_bounds.get(size)
        if bounds is None:
            low = self.rule.low_score
            bounds = (np.repeat([1, low], size), np.repeat([low, 6], size))
            if size <= _SMALL:
                self._score_bounds[size] = bounds
        drawn = rng.integers(*bounds).tolist()
        given = [
            low if draw < share else score
            for draw, low, score in zip(draws, drawn, drawn[size:], strict=False)
        ]
        return given, sum(draw < share for draw in draws)

    def _record_latency(self, hours: list[float], categories: list[int]) -> None:
        """The closing latencies (hours) of tickets of ``categories`` archived together."""
        names = self.arrays.categories
        latencies = self.latencies
        first = categories[0]
        if categories.count(first) == len(categories):
            latencies.setdefault(names[first], []).extend(hours)
        else:
            # Each category's latencies in order, categories in index order.
            found: dict[int, list[float]] = {}
            for hour, c in zip(hours, categories, strict=True):
                found.setdefault(c, []).append(hour)
            for c in sorted(found):
                latencies.setdefault(names[c], []).extend(found[c])
        self.today["closed"] += len(hours)

    # ----------------------------------------------------------------- reads

    def busy(self) -> bool:
        """Whether the next rounds have anything to do: open tickets or requests to open."""
        return self._pending is not None or self.open_count() > 0

    def open_count(self) -> int:
        """Tickets not yet closed."""
        arrays = self.arrays
        states = arrays.state[: arrays.n]
        closed = np.isin(states, [self._state["archived"], self._state["withdrawn"]])
        return int((~closed).sum())

    def breached_count(self) -> int:
        """Open tickets that have breached a limit and not yet moved on."""
        arrays = self.arrays
        return int(arrays.breached[: arrays.n].sum())

    def compact(self) -> None:
        """Drop closed tickets from the arrays (they are counted already)."""
        arrays = self.arrays
        n = arrays.n
        states = arrays.state[:n]
        keep = ~np.isin(states, [self._state["archived"], self._state["withdrawn"]])
        if keep.all():
            return
        kept = int(keep.sum())
        for name in TicketArrays.FIELDS:
            column = getattr(arrays, name)
            column[:kept] = column[:n][keep]
        self.opened_at[:kept] = self.opened_at[:n][keep]
        self.compound_of[:kept] = self.compound_of[:n][keep]
        arrays.n = kept

    def take_requests(self, categories: Collection[str]) -> dict[str, dict[str, int]]:
        """Tickets of ``categories`` opened per compound since the last call, reset after.

        Returns:
            Compound -> ticket category -> tickets (compounds with some only).
        """
        arrays = self.arrays
        picked = [
            (c, arrays.category_index[c]) for c in sorted(categories) if c in arrays.category_index
        ]
        out: dict[str, dict[str, int]] = {}
        compounds = self.compounds
        for name, c in picked:
            column = self.requested[:, c]
            where = np.flatnonzero(column)
            # The counts read in one call, not a numpy scalar each.
            for i, count in zip(where.tolist(), column[where].tolist(), strict=True):
                out.setdefault(compounds[i], {})[name] = count
        self.requested[:] = 0
        return out

    def fulfil(self, compounds: Collection[str], category: str, now: datetime) -> int:
        """Take the open ``category`` tickets of ``compounds`` to ``fed_back``: what they
        asked for was delivered. The residents then score them as usual.

        Returns:
            The tickets fulfilled.
        """
        arrays = self.arrays
        c = arrays.category_index.get(category)
        n = arrays.n
        if c is None or not n or not compounds:
            return 0
        index = self._compound_index
        wanted = np.zeros(len(self.compounds), np.bool_)
        wanted[[index[name] for name in compounds if name in index]] = True
        mine = (arrays.category[:n] == c) & wanted[self.compound_of[:n]]
        at = TicketArrays.micros(now)
        done = 0
        for state, trigger in _FULFIL:
            idx = np.flatnonzero(mine & (arrays.state[:n] == self._state[state]))
            if idx.size:
                arrays.fire(idx, trigger, at)
                if trigger == "feed_back":
                    done = int(idx.size)
        return done

    def take_day(self) -> tuple[Counter[str], dict[str, list[float]]]:
        """Today's counts and closing latencies, reset for tomorrow."""
        today, latencies = self.today, self.latencies
        self.today, self.latencies = Counter(), {}
        return today, latencies


def _choose(
    units: list[int],
    draws: list[float],
    counts: list[int],
    triggers: tuple[str, ...],
    per_round: list[float],
) -> tuple[list[int], list[tuple[str, int]]]:
    """Which tickets a round moves: positions in ``units`` (the tickets' units, turn
    by turn, ``counts[t]`` of them in turn ``t``, each turn oldest deadline
    first) and the runs of them (trigger, how many) in turn order.

    Within a turn, a unit moves its ``k``-th ticket (from 0) when ``k < floor(b
    + draw)``, ``b`` being what is left of its budget when the turn starts; each
    ticket moved then takes one from it.
    """
    # A unit whose budget covers all its tickets of the round moves every one of
    # them whatever the draws: in each turn its k-th ticket (from 1) has k <= what
    # is left of its budget, the tickets of its earlier turns taken off. Only the
    # other units' tickets (few with light loads) are decided one by one; the
    # budgets of the others are then not kept (nothing reads them).
    tight = {unit for unit, n in Counter(units).items() if not n <= per_round[unit]}
    if not tight:
        runs = [(trigger, count) for trigger, count in zip(triggers, counts, strict=True) if count]
        return list(range(len(units))), runs
    # The positions of the tight units' tickets, in order.
    mine = [j for j, unit in enumerate(units) if unit in tight]
    budget = list(per_round)
    taken: list[int] = []
    runs = []
    stop = 0
    i = 0
    for trigger, count in zip(triggers, counts, strict=True):
        if not count:
            continue
        start, stop = stop, stop + count
        end = bisect_left(mine, stop, i)
        if count > _SMALL:
            # (Every unit's budget read here is what is left of it, or more for a
            # unit that moves all its tickets anyway.)
            group = np.array(units[start:stop])
            ranks = _rank_within(group)
            left = np.array([budget[unit] for unit in units[start:stop]])
            chosen = np.flatnonzero(ranks < np.floor(left + np.array(draws[start:stop])))
            moved: list[int] = group[chosen].tolist()
            taken += (chosen + start).tolist()
            for unit in moved:
                budget[unit] -= 1.0
            if moved:
                runs.append((trigger, len(moved)))
            i = end
            continue
        # The k-th ticket of a unit (from 1) moves when k <= b + draw, the
        # same test as k - 1 < floor(b + draw) for whole k.
        seen: dict[int, int] = {}
        moved = []
        left_out: list[int] = []
        for j in mine[i:end]:
            unit = units[j]
            rank = seen.get(unit, 0) + 1
            seen[unit] = rank
            if rank <= budget[unit] + draws[j]:
                moved.append(unit)
            else:
                left_out.append(j)
        i = end
        for unit in moved:
            budget[unit] -= 1.0
        if left_out:
            out = set(left_out)
            taken += [j for j in range(start, stop) if j not in out]
        else:
            taken += range(start, stop)
        if count > len(left_out):
            runs.append((trigger, count - len(left_out)))
    return taken, runs


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """For each element, how many earlier elements share its group (0, 1, 2, ...)."""
    size = groups.size
    if size < 2:
        return np.zeros(size, dtype=np.intp)
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    # Where each run of one group starts, in sorted order; then, for every
    # position, the start of its run (a running maximum of the starts).
    starts = np.empty(size, dtype=bool)
    starts[0] = True
    np.not_equal(sorted_groups[1:], sorted_groups[:-1], out=starts[1:])
    positions = np.arange(size)
    first = np.maximum.accumulate(np.where(starts, positions, 0))
    rank = np.empty(size, dtype=np.intp)
    rank[order] = positions - first
    return rank


class _Tables:
    """The arrays' rules as plain lists, for tickets handled one by one."""

    def __init__(self, arrays: TicketArrays) -> None:
        self.table: list[list[int]] = arrays.table.tolist()
        self.column = dict(arrays._trigger_index)
        self.limits: list[list[list[int]]] = arrays.limits.tolist()
        self.parent: list[int] = arrays.parent.tolist()
        self.ancestor: list[list[int]] = arrays.ancestor.tolist()
        self.unit_level: list[int] = arrays.unit_level.tolist()
        self.category_level: list[int] = arrays.category_level.tolist()
        states = arrays._state_index
        self.closed = (states["archived"], states["withdrawn"])
        self.scored = states["scored"]
        self.tracking = states["tracking"]
        self.low_score = arrays.rule.low_score
        self.reopens = arrays.rule.reopens


class _Listed:
    """Tickets of the arrays copied into lists, handled one by one, then written back.

    A round of a light load moves a few dozen tickets: numpy's fixed cost per
    call would be most of its work, so a step reads the tickets it can change
    once, its rounds work on lists, and it writes them back once. Position
    ``p`` is ticket ``index[p]`` (in index order). :meth:`fire`, :meth:`score`
    and :meth:`sweep` do what :meth:`TicketArrays.fire`,
    :meth:`TicketArrays.score` and :meth:`TicketArrays.sweep` do with the
    same rules (the tests check them against each other).

    Args:
        tables: the arrays' rules as lists.
        arrays: the tickets.
        index: the tickets to copy (ascending).
        opened_at: their opening times.
    """

    #: The columns a round changes (the others are only read).
    CHANGED = ("state", "unit", "handler", "due", "breached", "low_scores", "escalations")

    def __init__(
        self, tables: _Tables, arrays: TicketArrays, index: np.ndarray, opened_at: list[int]
    ) -> None:
        self.tables = tables
        self.index = index
        self.opened_at = opened_at
        self.state: list[int] = arrays.state[index].tolist()
        self.category: list[int] = arrays.category[index].tolist()
        self.mode: list[int] = arrays.mode[index].tolist()
        self.origin: list[int] = arrays.origin[index].tolist()
        self.unit: list[int] = arrays.unit[index].tolist()
        self.handler: list[int] = arrays.handler[index].tolist()
        self.due: list[int] = arrays.due[index].tolist()
        self.breached: list[bool] = arrays.breached[index].tolist()
        self.low_scores: list[int] = arrays.low_scores[index].tolist()
        self.escalations: list[int] = arrays.escalations[index].tolist()
        self._indices: list[int] = index.tolist()
        #: Each ticket's limits by state (its category's, in its mode).
        self.limits = [tables.limits[c][m] for c, m in zip(self.category, self.mode, strict=True)]
        #: Positions of the tickets opened so far (by :meth:`show`) still able to change.
        self.active: list[int] = []
        self._shown = 0

    def show(self, n: int) -> None:
        """Take in the tickets among the arrays' first ``n`` (those opened by now)."""
        stop = bisect_left(self._indices, n, self._shown)
        self.active += range(self._shown, stop)
        self._shown = stop

    def write(self, arrays: TicketArrays) -> None:
        """Write the tickets back into ``arrays``."""
        for name in self.CHANGED:
            getattr(arrays, name)[self.index] = getattr(self, name)

    def fire(self, positions: list[int], trigger: str, now: int) -> None:
        """:meth:`TicketArrays.fire` for tickets in one state known to take ``trigger``
        (a round's: not ``reject``, ``transfer``, ``score`` or ``reopen``), at ``now``."""
        if not positions:
            return
        tables = self.tables
        state, unit, origin = self.state, self.unit, self.origin
        new = tables.table[state[positions[0]]][tables.column[trigger]]
        if trigger == "classify":
            # Up to the category's level; a ticket that already climbed higher stays.
            level_of, unit_level, ancestor = (
                tables.category_level,
                tables.unit_level,
                tables.ancestor,
            )
            for p in positions:
                level = level_of[self.category[p]]
                if level > unit_level[unit[p]]:
                    unit[p] = ancestor[origin[p]][level]
        elif trigger == "feed_back":
            for p in positions:
                self.handler[p] = unit[p]
                unit[p] = origin[p]
        # The new state's limit starts now.
        limits, due, breached = self.limits, self.due, self.breached
        for p in positions:
            state[p] = new
            limit = limits[p][new]
            due[p] = now + limit if limit >= 0 else _NO_DUE
            breached[p] = False

    def _restart(self, positions: list[int], now: int) -> None:
        """The limit of each ticket's (new) state starts at ``now``."""
        limits, state, due, breached = self.limits, self.state, self.due, self.breached
        for p in positions:
            limit = limits[p][state[p]]
            due[p] = now + limit if limit >= 0 else _NO_DUE
            breached[p] = False

    def score(self, positions: list[int], given: list[int], now: int) -> int:
        """:meth:`TicketArrays.score` for tickets known to wait for a score, scores
        known to be 1-5; returns how many escalated."""
        tables = self.tables
        low_score, reopens, parent = tables.low_score, tables.reopens, tables.parent
        state, unit = self.state, self.unit
        climbed = 0
        for p, score in zip(positions, given, strict=True):
            if score >= low_score:
                state[p] = tables.scored
                continue
            count = self.low_scores[p] + 1
            self.low_scores[p] = count
            handler = self.handler[p]
            up = parent[handler]
            if count <= reopens:
                state[p] = tables.tracking
                unit[p] = handler
            elif up >= 0:
                state[p] = tables.tracking
                unit[p] = up
                self.escalations[p] += 1
                climbed += 1
            else:
                state[p] = tables.scored
        self._restart(positions, now)
        return climbed

    def sweep(self, positions: list[int], now: int) -> tuple[list[int], int]:
        """:meth:`TicketArrays.sweep` of the tickets ``positions`` up to ``now``:
        escalations to each level (by index in TICKET_LEVELS), and how many became
        overdue."""
        tables = self.tables
        parent, unit_level = tables.parent, tables.unit_level
        unit, due = self.unit, self.due
        climbs = [0] * len(_LEVELS)
        overdue = 0
        for p in positions:
            at = due[p]
            while at <= now:
                self.breached[p] = True
                up = parent[unit[p]]
                if up < 0:
                    overdue += 1
                    due[p] = _NO_DUE
                    break
                unit[p] = up
                self.escalations[p] += 1
                climbs[unit_level[up]] += 1
                at += self.limits[p][self.state[p]]
                due[p] = at
        return climbs, overdue

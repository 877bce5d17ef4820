"""Community modes and compound zones on ``transitions``; scope escalation along the chain.

Every community has a *mode*: ``normal`` ("co-build, co-govern, share"),
``alert``, ``emergency`` ("linked prevention, linked control") and
``recovery``. Every residential compound has a *zone*: ``open``,
``precaution`` (watch), ``controlled`` (movement restricted) and ``sealed``
(nobody leaves).

Each of the two is one ``transitions.Machine`` definition with every unit as
one of its models (``add_model``), the maintainers' advice: a machine per
object costs three times the time and memory. ``auto_transitions`` is off (a
third less memory, and no ``to_<state>`` backdoor around the rules). The
machine definitions below are the single source of truth: the engine plans a
command against the transition table compiled from them (:meth:`StateBoard.table`)
so that it can refuse a whole command before changing anything, and docs draw
the diagrams from the same machines.

*Scope* is how far a measure reaches around a compound: the compound itself,
the grids covering it, its community, street, district, the city, or a named
area (a group of units such as the four urban districts).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from types import MappingProxyType
from typing import Any

from transitions import Machine

from gridgov._gc import gc_paused
from gridgov.city import City
from gridgov.errors import NotFoundError, TransitionError
from gridgov.model import Level
from gridgov.vocabulary import MODES, ZONES

__all__ = [
    "MODES",
    "MODE_TRANSITIONS",
    "ZONES",
    "ZONE_TRANSITIONS",
    "StateBoard",
    "compounds_in_scope",
    "mode_board",
    "zone_board",
]

#: Triggers of the community mode machine.
MODE_TRANSITIONS: tuple[dict[str, Any], ...] = (
    {"trigger": "raise_alert", "source": "normal", "dest": "alert"},
    {"trigger": "stand_down", "source": "alert", "dest": "normal"},
    {"trigger": "declare_emergency", "source": ["normal", "alert"], "dest": "emergency"},
    {"trigger": "begin_recovery", "source": "emergency", "dest": "recovery"},
    {"trigger": "relapse", "source": "recovery", "dest": "emergency"},
    {"trigger": "resume_normal", "source": "recovery", "dest": "normal"},
)

#: Triggers of the compound zone machine: one per destination, plus
#: ``step_down`` (one zone milder).
ZONE_TRANSITIONS: tuple[dict[str, Any], ...] = (
    {"trigger": "seal", "source": ["open", "precaution", "controlled"], "dest": "sealed"},
    {"trigger": "control", "source": ["open", "precaution", "sealed"], "dest": "controlled"},
    {"trigger": "watch", "source": ["open", "controlled", "sealed"], "dest": "precaution"},
    {"trigger": "lift", "source": ["precaution", "controlled", "sealed"], "dest": "open"},
    {"trigger": "step_down", "source": "sealed", "dest": "controlled"},
    {"trigger": "step_down", "source": "controlled", "dest": "precaution"},
    {"trigger": "step_down", "source": "precaution", "dest": "open"},
)


class UnitState:
    """The model object ``transitions`` drives: a unit id and its ``state``.

    ``transitions`` gives every model of a machine its own bound functions:
    ``trigger``, ``may_trigger``, one per event, ``may_<event>`` and
    ``is_<state>``, some fifty objects per model (3.6 million for a 4x
    Jiamusi), every one for the garbage collector to walk again and again.
    Here they are made when asked for, from the model's machine: the model
    answers ``trigger``, ``seal()``, ``may_seal()``, ``is_sealed()`` as
    ``transitions`` would, for three slots.
    """

    __slots__ = ("_machine", "state", "unit")

    def __init__(self, unit: str, machine: Machine | None = None) -> None:
        #: The community or compound id.
        self.unit = unit
        #: Set by the machine.
        self.state: str
        self._machine = machine

    def __getattr__(self, name: str) -> Any:
        # Only called for names that are not slots (or not set yet).
        machine = self._machine if name != "_machine" else None
        if machine is not None:
            if name == "trigger":
                return partial(machine._get_trigger, self)
            if name == "may_trigger":
                return partial(machine._can_trigger, self)
            if name in machine.events:
                return partial(machine.events[name].trigger, self)
            if name.startswith("may_") and name[4:] in machine.events:
                return partial(machine._can_trigger, self, name[4:])
            if name.startswith("is_") and name[3:] in machine.states:
                return partial(machine.is_state, name[3:], self)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


class _LeanMachine(Machine):
    """A machine that binds no functions onto its models (:class:`UnitState`
    makes them when asked for); everything else is ``transitions``' own."""

    def _checked_assignment(self, model: Any, name: str, func: Any) -> None:
        if not isinstance(model, UnitState):
            super()._checked_assignment(model, name, func)

    def _add_trigger_to_model(self, trigger: str, model: Any) -> None:
        if not isinstance(model, UnitState):
            super()._add_trigger_to_model(trigger, model)

    def _add_model_to_state(self, state: Any, model: Any) -> None:
        if not isinstance(model, UnitState):
            super()._add_model_to_state(state, model)


class _ModelList(list[Any]):
    """A machine's list of models that answers ``in`` by identity in constant time.

    ``transitions.Machine.add_model`` asks ``model in machine.models`` for
    every model it adds; on a plain list that makes adding n models O(n**2).
    Models are compared by identity here, as a plain list does for objects
    without ``__eq__`` (``UnitState`` has none).
    """

    def __init__(self, items: Iterable[Any] = ()) -> None:
        super().__init__(items)
        self._ids = {id(m) for m in self}

    def __contains__(self, model: object) -> bool:
        return id(model) in self._ids

    def append(self, model: Any) -> None:
        super().append(model)
        self._ids.add(id(model))

    def remove(self, model: Any) -> None:
        super().remove(model)
        self._ids = {id(m) for m in self}


class StateBoard:
    """One machine definition and every unit of one kind as its model.

    Args:
        kind: ``mode`` or ``zone`` (used in messages and diagrams).
        states: the machine's states; the first is the initial one.
        transitions: the machine's transitions (transitions' dict format).
        units: ids of the units to add as models.
        pause_gc: pause the cyclic garbage collector (process-wide) while the
            units are added; off unless asked for.
    """

    def __init__(
        self,
        kind: str,
        states: Sequence[str],
        transitions: Sequence[Mapping[str, Any]],
        units: Iterable[str],
        *,
        pause_gc: bool = False,
    ) -> None:
        self._kind = kind
        self._pause_gc = pause_gc
        self._states = tuple(states)
        self._state_set = frozenset(states)
        self._definition = [dict(t) for t in transitions]
        self._machine = _LeanMachine(
            model=None,
            states=list(states),
            transitions=self._definition,
            initial=states[0],
            auto_transitions=False,
            send_event=False,
        )
        self._models: dict[str, UnitState] = {}
        self._add_bulk(units)
        self._table = self._compile()
        self._table_view: Mapping[tuple[str, str], str] = MappingProxyType(self._table)
        self._allowed = {
            state: tuple(sorted({t for (s, t) in self._table if s == state}))
            for state in self.states
        }
        # (state, destination) -> the first allowed trigger, in the allowed order,
        # that leads there (what trigger_to answers): one lookup a change planned.
        self._trigger_to: dict[tuple[str, str], str] = {}
        for state, triggers in self._allowed.items():
            for trigger in triggers:
                self._trigger_to.setdefault((state, self._table[(state, trigger)]), trigger)

    def _add_bulk(self, units: Iterable[str]) -> None:
        machine = self._machine
        models = [UnitState(u, machine) for u in units]
        # transitions checks each new model with ``in`` on its list of models,
        # which is quadratic: the list becomes one that answers ``in`` from a
        # set of identities (it stays a list for everything else). The
        # collector is paused too when the caller asked for it.
        if not isinstance(self._machine.models, _ModelList):
            self._machine.models = _ModelList(self._machine.models)
        with gc_paused() if self._pause_gc else contextlib.nullcontext():
            self._machine.add_model(models)
        self._models.update((m.unit, m) for m in models)

    def _compile(self) -> dict[tuple[str, str], str]:
        """The machine's transition table: (state, trigger) -> destination."""
        table: dict[tuple[str, str], str] = {}
        for name, event in self._machine.events.items():
            for source, transitions in event.transitions.items():
                for transition in transitions:
                    table[(source, name)] = str(transition.dest)
        return table

    # ------------------------------------------------------------------ reads

    @property
    def kind(self) -> str:
        """``mode`` or ``zone`` (or ``workflow`` for tickets)."""
        return self._kind

    @property
    def states(self) -> tuple[str, ...]:
        """The machine's states; the first is the initial one."""
        return self._states

    def __contains__(self, unit: object) -> bool:
        return unit in self._models

    def __len__(self) -> int:
        return len(self._models)

    def state(self, unit: str) -> str:
        """The current state of ``unit``.

        Raises:
            NotFoundError: no such unit on this board.
        """
        try:
            return self._models[unit].state
        except KeyError:
            raise NotFoundError(unit, self.kind_label, f" on the {self.kind} board") from None

    def states_of(self) -> dict[str, str]:
        """Every unit's state."""
        return {u: m.state for u, m in self._models.items()}

    @property
    def triggers(self) -> tuple[str, ...]:
        """The machine's triggers, sorted."""
        return tuple(sorted(self._machine.events))

    def table(self) -> Mapping[tuple[str, str], str]:
        """The compiled transition table (state, trigger) -> destination (read-only)."""
        return self._table_view

    def allowed(self, state: str) -> tuple[str, ...]:
        """The triggers allowed in ``state``, sorted."""
        return self._allowed.get(state, ())

    def destination(self, unit: str, state: str, trigger: str) -> str:
        """Where ``trigger`` takes ``unit`` from ``state``.

        Raises:
            TransitionError: the trigger is not allowed in that state.
        """
        try:
            return self._table[(state, trigger)]
        except KeyError:
            raise TransitionError(
                f"{self.kind_label} {unit}", state, trigger, self.allowed(state)
            ) from None

    def trigger_to(self, state: str, dest: str) -> str | None:
        """A trigger that takes a unit from ``state`` to ``dest`` (None when none does):
        the first of the allowed triggers, in their sorted order, that leads there."""
        return self._trigger_to.get((state, dest))

    @property
    def kind_label(self) -> str:
        """``community`` or ``compound``: what the units of this board are."""
        return "community" if self.kind == "mode" else "compound"

    # ----------------------------------------------------------------- writes

    def _force(self, unit: str, state: str) -> None:
        """Set a state directly: the engine's reducer applies recorded events this way.

        Every change was checked against :meth:`table` when it was planned
        (or comes from the journal), so the machine is not asked again: the
        state is set on the model as ``transitions``' ``set_state`` sets it.
        """
        model = self._models[unit]
        if state not in self._state_set:
            # What transitions' own set_state would refuse.
            self._machine.set_state(state, model=model)
        model.state = state

    def _force_all(self, states: Mapping[str, str]) -> None:
        """:meth:`_force` each unit of ``states`` (unit -> state), in order, in one call
        (a case forces some ten: a call each cost more than the setting)."""
        if not self._state_set.issuperset(states.values()):
            for unit, state in states.items():  # the unknown state refused at its unit
                self._force(unit, state)
            return
        models = self._models
        for unit, state in states.items():
            models[unit].state = state

    # ---------------------------------------------------------------- diagram

    def diagram(self) -> str:
        """A mermaid state diagram drawn by transitions from this machine's definition."""
        from transitions.extensions import GraphMachine

        graph_machine = GraphMachine(
            states=list(self.states),
            transitions=self._definition,
            initial=self.states[0],
            auto_transitions=False,
            graph_engine="mermaid",
            show_state_attributes=False,
            title=f"{self.kind_label} {self.kind}",
        )
        return str(graph_machine.get_graph().draw(None))


def mode_board(communities: Iterable[str], *, pause_gc: bool = False) -> StateBoard:
    """The community mode machine with ``communities`` as models, all ``normal``."""
    return StateBoard("mode", MODES, MODE_TRANSITIONS, communities, pause_gc=pause_gc)


def zone_board(compounds: Iterable[str], *, pause_gc: bool = False) -> StateBoard:
    """The compound zone machine with ``compounds`` as models, all ``open``."""
    return StateBoard("zone", ZONES, ZONE_TRANSITIONS, compounds, pause_gc=pause_gc)


def compounds_in_scope(
    city: City, compound: str, scope: str, areas: Mapping[str, Sequence[str]]
) -> tuple[str, ...]:
    """Compounds reached by a measure of ``scope`` around ``compound``.

    Args:
        city: the city.
        compound: the compound where the case is.
        scope: a level (``compound``, ``grid``, ``community``, ``street``,
            ``district``, ``city``) or the name of an area.
        areas: named areas: unit ids whose compounds make up the area.

    Returns:
        The compounds, sorted. A ``grid`` scope reaches every compound that
        shares a grid with ``compound``. An area reaches its compounds only
        when ``compound`` lies inside it; otherwise just ``compound``.

    Raises:
        NotFoundError: ``scope`` names neither a level nor an area.
    """
    if scope in areas:
        members = areas[scope]
        chain_up = set(city.chain.chain_of_command(compound))
        if not chain_up.intersection(members):
            return (compound,)
        return units_compounds(city, members)
    try:
        level = Level(scope)
    except ValueError:
        raise NotFoundError(
            scope,
            "level or area;",
            message=f"scope {scope!r} is neither a level nor a defined area",
        ) from None
    if level is Level.COMPOUND:
        return (compound,)
    if level is Level.GRID:
        return compounds_sharing_a_grid(city, compound)
    return tuple(sorted(city.compounds_of(city.chain.ancestor(compound, level))))


def compounds_sharing_a_grid(city: City, compound: str) -> tuple[str, ...]:
    """``compound`` and every compound sharing a grid with it, sorted (a ``grid`` scope)."""
    reached = {compound}
    reached.update(*map(city.compounds_of, city.grids_of_compound(compound)))
    return tuple(sorted(reached))


def units_compounds(city: City, units: Iterable[str]) -> tuple[str, ...]:
    """Every compound at or below any of ``units``, sorted and without repeats."""
    reached: set[str] = set()
    for unit in units:
        reached.update(city.compounds_of(unit))
    return tuple(sorted(reached))


def communities_in_scope(
    city: City, compound: str, scope: str, areas: Mapping[str, Sequence[str]]
) -> tuple[str, ...]:
    """Communities reached by a scope around ``compound`` (see :func:`compounds_in_scope`)."""
    chain = city.chain
    if scope in areas:
        members = areas[scope]
        if not set(chain.chain_of_command(compound)).intersection(members):
            return (chain.community_of(compound),)
        out: set[str] = set()
        for unit in members:
            if chain.level(unit) is Level.COMMUNITY:
                out.add(unit)
            elif chain.level(unit).rank < Level.COMMUNITY.rank:
                out.update(chain.below(unit, Level.COMMUNITY))
            else:
                out.add(chain.community_of(unit))
        return tuple(sorted(out))
    level = Level(scope)
    if level.rank >= Level.COMMUNITY.rank:
        return (chain.community_of(compound),)
    return tuple(sorted(chain.below(chain.ancestor(compound, level), Level.COMMUNITY)))

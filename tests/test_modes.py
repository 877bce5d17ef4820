"""The mode and zone machines: one definition, compiled tables that agree, diagrams in docs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridgov import GridgovError, TransitionError
from gridgov.modes import MODES, ZONES, StateBoard, mode_board, zone_board

DOCS = Path(__file__).resolve().parent.parent / "docs" / "modes.md"
BOARDS = {"mode": (mode_board, MODES), "zone": (zone_board, ZONES)}


def mermaid_blocks(text: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)```", text, flags=re.S)


class TestMachines:
    """The machines are transitions machines with every unit as a model."""

    def test_every_unit_is_a_model_of_one_machine(self) -> None:
        """add_model puts every unit on the same machine, starting in the first state."""
        board = zone_board([f"c{i}" for i in range(100)])
        assert len(board) == 100
        assert len(board._machine.models) == 100
        assert set(board.states_of().values()) == {"open"}

    def test_no_auto_transitions(self) -> None:
        """auto_transitions are off: no to_<state> triggers bypass the rules."""
        board = mode_board(["m"])
        assert not any(name.startswith("to_") for name in board.triggers)

    @pytest.mark.parametrize("kind", ["mode", "zone"])
    def test_table_agrees_with_machine(self, kind: str) -> None:
        """For every state and trigger, the compiled table gives what the machine does."""
        factory, states = BOARDS[kind]
        triggers = list(factory([]).triggers)
        for state in states:
            for trigger in triggers:
                board = factory(["u"])
                board._force("u", state)
                expected = board.table().get((state, trigger))
                model = board._machine.models[0]
                if expected is None:
                    with pytest.raises(Exception, match="Can't trigger"):
                        model.trigger(trigger)
                    with pytest.raises(TransitionError):
                        board.destination("u", state, trigger)
                    assert board.state("u") == state
                else:
                    model.trigger(trigger)
                    assert board.state("u") == expected

    @pytest.mark.parametrize("kind", ["mode", "zone"])
    def test_trigger_to_is_the_first_trigger_the_machine_takes_there(self, kind: str) -> None:
        """For every pair of states, trigger_to names the first trigger (sorted by name)
        that the transitions machine itself takes from the one to the other, or None
        when no trigger does (each trigger fired on a fresh model)."""
        factory, states = BOARDS[kind]
        triggers = sorted(factory([]).triggers)
        reached: dict[tuple[str, str], list[str]] = {}
        for state in states:
            for trigger in triggers:
                board = factory(["u"])
                board._force("u", state)
                model = board._machine.models[0]
                try:
                    model.trigger(trigger)
                except Exception:  # not allowed from this state
                    continue
                reached.setdefault((state, board.state("u")), []).append(trigger)
        board = factory(["u"])
        for state in states:
            for dest in states:
                firing = reached.get((state, dest))
                assert board.trigger_to(state, dest) == (firing[0] if firing else None)
        assert board.trigger_to("no such state", states[0]) is None

    def test_unknown_unit(self) -> None:
        """Asking for a unit that is not a model is a GridgovError naming it."""
        with pytest.raises(GridgovError, match="ghost"):
            zone_board(["a"]).state("ghost")

    @given(
        st.lists(st.sampled_from(["seal", "control", "watch", "lift", "step_down"]), max_size=30)
    )
    def test_zone_sequences_stay_in_states(self, triggers: list[str]) -> None:
        """Any sequence of triggers leaves a zone among the four, refusing illegal ones."""
        board = zone_board(["c"])
        for trigger in triggers:
            before = board.state("c")
            if (before, trigger) in board.table():
                after = board.destination("c", before, trigger)
                assert after == board.table()[(before, trigger)]
                board._force("c", after)
            else:
                with pytest.raises(TransitionError) as info:
                    board.destination("c", before, trigger)
                assert info.value.state == before
                assert trigger not in info.value.allowed
                assert board.state("c") == before
        assert board.state("c") in ZONES

    @given(
        st.sampled_from(["mode", "zone"]),
        st.dictionaries(
            st.sampled_from([f"u{i}" for i in range(6)]),
            st.sampled_from([*MODES, *ZONES, "no such state"]),
            max_size=6,
        ),
    )
    def test_forcing_all_at_once_is_forcing_each_in_order(
        self, kind: str, states: dict[str, str]
    ) -> None:
        """``_force_all`` leaves every unit as ``_force`` unit by unit does, and refuses a
        state the machine does not know as it does (its error, the units before it set)."""
        factory, known = BOARDS[kind]
        units = [f"u{i}" for i in range(6)]
        one_by_one, at_once = factory(units), factory(units)
        refusals: list[str] = []
        try:
            for unit, state in states.items():
                one_by_one._force(unit, state)
        except ValueError as exc:
            refusals.append(str(exc))
        try:
            at_once._force_all(states)
        except ValueError as exc:
            refusals.append(str(exc))
        unknown = [state for state in states.values() if state not in known]
        assert refusals == (
            [f"State '{unknown[0]}' is not a registered state."] * 2 if unknown else []
        )
        assert at_once.states_of() == one_by_one.states_of()
        settled = dict.fromkeys(units, known[0])
        for unit, state in states.items():
            if state not in known:
                break
            settled[unit] = state
        assert at_once.states_of() == settled


class TestDiagrams:
    """The docs show the diagrams the machines draw of themselves."""

    def test_docs_diagrams_are_current(self) -> None:
        """docs/modes.md holds exactly what `gridgov diagram mode|zone` prints."""
        blocks = mermaid_blocks(DOCS.read_text(encoding="utf-8"))
        assert blocks[0] == mode_board([]).diagram().rstrip("\n") + "\n"
        assert blocks[1] == zone_board([]).diagram().rstrip("\n") + "\n"

    def test_diagram_names_every_trigger(self) -> None:
        """Each trigger of the definition appears in the drawn diagram."""
        for factory, _ in BOARDS.values():
            board: StateBoard = factory([])
            text = board.diagram()
            for trigger in board.triggers:
                assert trigger in text

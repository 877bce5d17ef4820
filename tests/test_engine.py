"""The switching engine: cases, declarations, lifts, step-downs, atomicity and replay."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from gridgov import (
    AuthorityError,
    ClockError,
    Engine,
    GridgovError,
    JournalError,
    ManualClock,
    Rules,
    TransitionError,
    UnknownUnitError,
)
from gridgov.journal import MemoryJournal
from gridgov.presets import small
from gridgov.rules import CaseRule, ModeRule, ZoneStepDown

CITY = small()
CHAIN = CITY.chain
COMPOUNDS = sorted(CITY.compounds)
COMMUNITIES = CHAIN.units("community")
EAST = "990101001001"
WEST = "990101001002"
VILLAGE = "990101201201"
STREET = "990101001"
TOWNSHIP = "990101201"
DAY = timedelta(days=1)


def make_engine(rules: Rules | None = None) -> tuple[Engine, ManualClock]:
    clock = ManualClock()
    return Engine(CITY, rules, clock=clock), clock


def community_of(compound: str) -> str:
    return CITY.compounds[compound].community


def east_compound() -> str:
    return next(c for c in COMPOUNDS if community_of(c) == EAST)


class TestConfirmedCase:
    """What one confirmed case does under the default rules."""

    def test_case_seals_its_compound_at_once(self) -> None:
        """The compound of a case is sealed by the same command, at the clock's time."""
        engine, clock = make_engine()
        compound = east_compound()
        result = engine.report_case(compound)
        assert engine.zone(compound) == "sealed"
        sealed = [e for e in result.events if e.type == "zone.changed" and e.unit == compound]
        assert len(sealed) == 1
        assert sealed[0].time == clock.now()
        assert (sealed[0].old, sealed[0].new) == ("open", "sealed")

    def test_rest_of_grid_controlled_and_community_under_precaution(self) -> None:
        """Compounds sharing a grid are controlled; the rest of the community is watched."""
        engine, _ = make_engine()
        compound = east_compound()
        engine.report_case(compound)
        grid_mates = {c for g in CITY.grids_of_compound(compound) for c in CITY.compounds_of(g)}
        for other in COMPOUNDS:
            if other == compound:
                continue
            if other in grid_mates:
                assert engine.zone(other) == "controlled", other
            elif community_of(other) == EAST:
                assert engine.zone(other) == "precaution", other
            else:
                assert engine.zone(other) == "open", other

    def test_community_in_emergency_and_street_on_alert(self) -> None:
        """The case's community declares an emergency, the rest of the street goes on alert."""
        engine, _ = make_engine()
        engine.report_case(east_compound())
        assert engine.mode(EAST) == "emergency"
        assert engine.mode(WEST) == "alert"
        assert engine.mode(VILLAGE) == "normal"

    def test_one_event_per_change_with_command_and_actor(self) -> None:
        """Every change is one event naming the command and actor; sequence has no gaps."""
        engine, _ = make_engine()
        result = engine.report_case(east_compound(), actor=STREET)
        assert [e.seq for e in engine.journal] == list(range(1, len(engine.journal) + 1))
        assert {e.command for e in result.events} == {result.command}
        assert {e.actor for e in result.events} == {STREET}
        changed = Counter(e.type for e in result.events)
        zones_now = Counter(engine.zones().values())
        assert changed["zone.changed"] == len(COMPOUNDS) - zones_now["open"]

    def test_case_in_the_future_is_refused(self) -> None:
        """A case dated after the clock is refused: no state changes, one refusal is recorded."""
        engine, clock = make_engine()
        with pytest.raises(GridgovError, match="in the future"):
            engine.report_case(east_compound(), at=clock.now() + DAY)
        assert [e.type for e in engine.journal] == ["command.refused"]
        assert set(engine.zones().values()) == {"open"}

    def test_unknown_compound_is_refused(self) -> None:
        """A case in an unknown compound raises UnknownUnitError naming it."""
        engine, _ = make_engine()
        with pytest.raises(UnknownUnitError, match="no compound with id 'nowhere'"):
            engine.report_case("nowhere")
        assert [e.type for e in engine.journal] == ["command.refused"]


class TestStepDown:
    """Time-based step-downs follow the rules' quiet days, in time order."""

    def test_default_timeline(self) -> None:
        """Sealed 14 days, controlled 7, precaution 7, then recovery 14 before normal."""
        engine, clock = make_engine()
        compound = east_compound()
        start = clock.now()
        engine.report_case(compound)
        engine.advance(start + 14 * DAY - timedelta(seconds=1))
        assert engine.zone(compound) == "sealed"
        engine.advance(start + 14 * DAY)
        assert engine.zone(compound) == "controlled"
        assert engine.mode(EAST) == "emergency"
        engine.advance(start + 21 * DAY)
        assert engine.zone(compound) == "precaution"
        assert engine.mode(EAST) == "recovery"
        engine.advance(start + 28 * DAY)
        assert engine.zone(compound) == "open"
        assert engine.mode(EAST) == "recovery"
        engine.advance(start + 35 * DAY)
        assert engine.mode(EAST) == "normal"
        assert set(engine.zones().values()) == {"open"}
        assert set(engine.modes().values()) == {"normal"}

    def test_one_big_advance_applies_changes_at_their_due_times(self) -> None:
        """Advancing past many deadlines records each change at its own due time."""
        engine, clock = make_engine()
        compound = east_compound()
        start = clock.now()
        engine.report_case(compound)
        result = engine.advance(start + 100 * DAY)
        times = [e.time for e in result.events]
        assert times == sorted(times)
        steps = [
            (e.old, e.new, e.time - start)
            for e in result.events
            if e.unit == compound and e.type == "zone.changed"
        ]
        assert steps == [
            ("sealed", "controlled", 14 * DAY),
            ("controlled", "precaution", 21 * DAY),
            ("precaution", "open", 28 * DAY),
        ]

    def test_new_case_restarts_the_quiet_period(self) -> None:
        """A second case in a sealed compound pushes its step-down back."""
        engine, clock = make_engine()
        compound = east_compound()
        start = clock.now()
        engine.report_case(compound)
        engine.advance(start + 10 * DAY)
        result = engine.report_case(compound)
        assert [e.type for e in result.events if e.unit == compound] == [
            "case.confirmed",
            "zone.renewed",
        ]
        engine.advance(start + 20 * DAY)
        assert engine.zone(compound) == "sealed"
        engine.advance(start + 24 * DAY)
        assert engine.zone(compound) == "controlled"

    def test_relapse_from_recovery(self) -> None:
        """A case in a recovering community puts it back into emergency."""
        engine, clock = make_engine()
        compound = east_compound()
        engine.report_case(compound)
        engine.advance(clock.now() + 22 * DAY)
        assert engine.mode(EAST) == "recovery"
        result = engine.report_case(compound)
        assert engine.mode(EAST) == "emergency"
        relapse = [e for e in result.events if e.type == "mode.changed" and e.unit == EAST]
        assert relapse[0].data["trigger"] == "relapse"

    def test_advance_backwards_is_refused(self) -> None:
        """The clock never goes back: advancing to the past raises and changes nothing."""
        engine, clock = make_engine()
        clock.advance(DAY)
        with pytest.raises(GridgovError, match="cannot advance"):
            engine.advance(clock.now() - DAY)
        with pytest.raises(ClockError):
            clock.set(clock.now() - DAY)


class TestDeclareAndLift:
    """Manual measures on any node of the chain, and lifting them."""

    def test_declare_on_a_street_seals_everything_below(self) -> None:
        """Declaring 'sealed' on a street seals all its compounds and puts its communities
        into emergency, and nothing outside it."""
        engine, _ = make_engine()
        engine.declare(STREET)
        for compound in COMPOUNDS:
            inside = CHAIN.street_of(community_of(compound)) == STREET
            assert engine.zone(compound) == ("sealed" if inside else "open")
        assert engine.mode(EAST) == engine.mode(WEST) == "emergency"
        assert engine.mode(VILLAGE) == "normal"

    def test_declare_on_an_area(self) -> None:
        """A named area of the rules (several units) is a scope of its own."""
        rules = Rules(areas={"both": (EAST, VILLAGE)})
        engine, _ = make_engine(rules)
        engine.declare("both", "controlled")
        for compound in COMPOUNDS:
            expected = "controlled" if community_of(compound) in (EAST, VILLAGE) else "open"
            assert engine.zone(compound) == expected

    def test_declare_never_steps_down(self) -> None:
        """Declaring precaution over a sealed compound leaves it sealed."""
        engine, _ = make_engine()
        compound = east_compound()
        engine.report_case(compound)
        engine.declare(EAST, "precaution")
        assert engine.zone(compound) == "sealed"

    def test_held_measure_does_not_step_down(self) -> None:
        """A measure declared with hold=True stays until lifted."""
        engine, clock = make_engine()
        engine.declare(WEST, hold=True)
        engine.advance(clock.now() + 365 * DAY)
        assert {engine.zone(c) for c in CITY.compounds_of(WEST)} == {"sealed"}
        engine.lift(WEST, skip_recovery=True)
        assert {engine.zone(c) for c in CITY.compounds_of(WEST)} == {"open"}
        assert engine.mode(WEST) == "normal"

    def test_lift_starts_recovery(self) -> None:
        """Lifting to open moves an emergency community into recovery, then normal."""
        engine, clock = make_engine()
        engine.declare(EAST)
        engine.lift(EAST)
        assert engine.mode(EAST) == "recovery"
        engine.advance(clock.now() + 14 * DAY)
        assert engine.mode(EAST) == "normal"

    def test_declare_open_is_refused(self) -> None:
        """'open' is not a measure: declaring it raises and changes nothing."""
        engine, _ = make_engine()
        with pytest.raises(GridgovError, match="cannot declare zone 'open'"):
            engine.declare(EAST, "open")
        assert [e.type for e in engine.journal] == ["command.refused"]

    def test_unknown_target(self) -> None:
        """Declaring on an unknown unit or area names it."""
        engine, _ = make_engine()
        with pytest.raises(UnknownUnitError, match="atlantis"):
            engine.declare("atlantis")


class TestAuthority:
    """Manual overrides need a commander at or above the scope, over it in the chain."""

    def test_street_may_not_command_another_street(self) -> None:
        """A township cannot seal a community of another street."""
        engine, _ = make_engine()
        with pytest.raises(AuthorityError, match="outside the jurisdiction") as info:
            engine.declare(EAST, actor=TOWNSHIP)
        assert info.value.actor == TOWNSHIP
        assert info.value.target == EAST
        # Refusals are audit data: one event, and nothing else changed.
        [refusal] = list(engine.journal)
        assert (refusal.type, refusal.unit, refusal.actor) == ("command.refused", EAST, TOWNSHIP)
        assert refusal.data["command"] == "declare"
        assert "outside the jurisdiction" in refusal.cause
        assert set(engine.zones().values()) == {"open"}

    def test_community_may_not_declare_on_its_street(self) -> None:
        """A community is below the street's level: refused, naming the rule."""
        engine, _ = make_engine()
        with pytest.raises(
            AuthorityError, match="a community may not declare measures on a street"
        ):
            engine.declare(STREET, actor=EAST)

    def test_levels_above_rule(self) -> None:
        """With overrides.levels_above = 1 a community can no longer seal itself."""
        engine, _ = make_engine(Rules(override_levels_above=1))
        with pytest.raises(AuthorityError, match="levels_above = 1"):
            engine.declare(EAST, actor=EAST)
        engine.declare(EAST, actor=STREET)
        assert engine.mode(EAST) == "emergency"

    def test_person_acts_through_their_post(self) -> None:
        """A cadre of the street office may seal a community of that street."""
        engine, _ = make_engine()
        cadre = next(
            p
            for p in CITY.people.values()
            if p.normal_post.role == "cadre" and p.normal_post.unit == STREET
        )
        engine.declare(WEST, actor=cadre.id)
        assert engine.mode(WEST) == "emergency"


class TestRules:
    """Rules change what a case does."""

    def test_area_seal_like_17_september(self) -> None:
        """With seal = an area, one case seals every compound of the area."""
        rules = Rules(
            areas={"urban": (STREET,)},
            case=CaseRule(seal="urban", control=None, precaution=None, alert="city"),
        )
        engine, _ = make_engine(rules)
        engine.report_case(east_compound())
        for compound in COMPOUNDS:
            inside = CHAIN.street_of(community_of(compound)) == STREET
            assert engine.zone(compound) == ("sealed" if inside else "open")
        assert engine.mode(VILLAGE) == "alert"

    def test_case_outside_the_area_seals_only_its_compound(self) -> None:
        """An area scope reaches only cases inside it; elsewhere the compound alone."""
        rules = Rules(
            areas={"urban": (STREET,)},
            case=CaseRule(seal="urban", control=None, precaution=None, alert=None),
        )
        engine, _ = make_engine(rules)
        village = next(c for c in COMPOUNDS if community_of(c) == VILLAGE)
        engine.report_case(village)
        assert engine.under("sealed") == [village]

    def test_zone_can_skip_a_step(self) -> None:
        """Step-down targets come from the rules: controlled may go straight to open."""
        zones = {
            "sealed": ZoneStepDown("controlled", 7.0),
            "controlled": ZoneStepDown("open", 7.0),
            "precaution": ZoneStepDown("open", 7.0),
        }
        engine, clock = make_engine(Rules(zones=zones, modes=ModeRule(recovery_days=1.0)))
        compound = east_compound()
        engine.report_case(compound)
        engine.advance(clock.now() + 14 * DAY)
        assert engine.zone(compound) == "open"

    def test_area_naming_unknown_unit_is_refused(self) -> None:
        """An engine refuses rules whose area names a unit the city lacks."""
        with pytest.raises(UnknownUnitError, match="nowhere"):
            Engine(CITY, Rules(areas={"x": ("nowhere",)}))


class TestAtomicity:
    """A command that fails half-way leaves no trace."""

    def test_failure_while_applying_rolls_back(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """If the reducer fails mid-command, states and journal are restored."""
        engine, _ = make_engine()
        before = engine.snapshot()
        zones = engine._kernel.state.measures.zone_board  # the live board, not the view
        calls = {"n": 0}
        original = zones._force

        def flaky(unit: str, state: str) -> None:
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("disk on fire")
            original(unit, state)

        def flaky_all(states: dict[str, str]) -> None:  # a draft's tables, unit by unit
            for unit, state in states.items():
                flaky(unit, state)

        monkeypatch.setattr(zones, "_force", flaky)
        monkeypatch.setattr(zones, "_force_all", flaky_all)
        with pytest.raises(RuntimeError):
            engine.declare(EAST)
        assert calls["n"] >= 2
        assert engine.snapshot() == before
        assert len(engine.journal) == 0
        monkeypatch.undo()
        engine.declare(EAST)
        assert Engine.replay(CITY, list(engine.journal)).snapshot() == engine.snapshot()

    def test_failure_while_journaling_rolls_back(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """If the journal refuses the events, the applied state is put back."""
        journal = MemoryJournal()
        engine = Engine(CITY, clock=ManualClock(), journal=journal)
        engine.report_case(east_compound())
        before = engine.snapshot()
        length = len(engine.journal)

        def broken(*args: object, **kwargs: object) -> None:
            raise JournalError("disk full")

        monkeypatch.setattr(journal, "append", broken)
        with pytest.raises(JournalError, match="disk full"):
            engine.declare(EAST)
        assert engine.snapshot() == before
        assert len(engine.journal) == length

    def test_illegal_trigger_names_unit_state_and_allowed(self) -> None:
        """A trigger the state does not allow raises TransitionError with the
        unit, its state and the allowed triggers, and changes nothing."""
        engine, _ = make_engine()
        modes, _ = engine.boards
        with pytest.raises(TransitionError) as info:
            modes.destination(EAST, engine.mode(EAST), "begin_recovery")
        assert (info.value.unit, info.value.state) == (f"community {EAST}", "normal")
        assert info.value.allowed == ("declare_emergency", "raise_alert")
        assert "allowed: declare_emergency, raise_alert" in str(info.value)
        assert engine.mode(EAST) == "normal"


class TestReplay:
    """Replaying the journal gives exactly the live state."""

    def test_replay_after_a_full_cycle(self) -> None:
        """Cases, a declaration, a lift and step-downs replay to the same state."""
        engine, clock = make_engine()
        engine.report_case(east_compound())
        engine.declare(VILLAGE, "controlled")
        engine.advance(clock.now() + 9 * DAY)
        engine.lift(VILLAGE)
        again = Engine.replay(CITY, list(engine.journal), clock=clock)
        assert again.snapshot() == engine.snapshot()
        assert again.next_deadline() == engine.next_deadline()
        # and the two go on identically
        a = engine.advance(clock.now() + 30 * DAY)
        b = again.advance(clock.now())
        assert [(e.type, e.unit, e.new, e.time) for e in a.events] == [
            (e.type, e.unit, e.new, e.time) for e in b.events
        ]


# --------------------------------------------------------------------- stateful

HOT = ("sealed", "controlled")


class SwitchingMachine(RuleBasedStateMachine):
    """Random cases, declarations, lifts and clock advances on the small preset."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.engine = Engine(CITY, clock=self.clock)

    def _snapshot(self) -> tuple[dict[str, object], int]:
        return self.engine.snapshot(), len(self.engine.journal)

    @rule(compound=st.sampled_from(COMPOUNDS))
    def case(self, compound: str) -> None:
        before = self.engine.zones()
        self.engine.report_case(compound)
        assert self.engine.zone(compound) == "sealed"
        after = self.engine.zones()
        from gridgov.modes import ZONES

        for unit, zone in before.items():
            assert ZONES.index(after[unit]) >= ZONES.index(zone), "a case never lowers a zone"

    @rule(
        unit=st.sampled_from([*COMPOUNDS, *COMMUNITIES, STREET, TOWNSHIP]),
        zone=st.sampled_from(["sealed", "controlled", "precaution"]),
    )
    def declare(self, unit: str, zone: str) -> None:
        self.engine.declare(unit, zone)

    @rule(
        unit=st.sampled_from([*COMMUNITIES, STREET, TOWNSHIP, CHAIN.city]),
        to=st.sampled_from(["open", "precaution"]),
        hurry=st.booleans(),
    )
    def lift(self, unit: str, to: str, hurry: bool) -> None:
        self.engine.lift(unit, to, skip_recovery=hurry)

    @rule(hours=st.integers(min_value=1, max_value=24 * 20))
    def advance(self, hours: int) -> None:
        before = self.engine.zones()
        self.engine.advance(self.clock.now() + timedelta(hours=hours))
        from gridgov.modes import ZONES

        for unit, zone in before.items():
            assert ZONES.index(self.engine.zone(unit)) <= ZONES.index(zone), "time never raises"

    @rule(unit=st.sampled_from(["nowhere", EAST]), zone=st.sampled_from(["open", "bogus"]))
    def rejected(self, unit: str, zone: str) -> None:
        before, length = self._snapshot()
        with pytest.raises(GridgovError):
            self.engine.declare(unit, zone)
        after, new_length = self._snapshot()
        assert after == before, "a refusal changes no state"
        assert new_length == length + 1, "a refusal is recorded as one audit event"
        assert self.engine.journal[-1].type == "command.refused"

    @rule(compound=st.sampled_from(COMPOUNDS))
    def refused_actor(self, compound: str) -> None:
        before, length = self._snapshot()
        outsider = TOWNSHIP if CHAIN.street_of(community_of(compound)) == STREET else STREET
        with pytest.raises(AuthorityError):
            self.engine.declare(compound, actor=outsider)
        after, new_length = self._snapshot()
        assert new_length == length + 1, "a refusal is recorded as one audit event"
        assert self.engine.journal[-1].type == "command.refused"
        assert {k: v for k, v in after.items() if k != "commands"} == {
            k: v for k, v in before.items() if k != "commands"
        }

    @invariant()
    def modes_follow_zones(self) -> None:
        zones = self.engine.zones()
        for community in COMMUNITIES:
            mine = [zones[c] for c in CITY.compounds_of(community)]
            mode = self.engine.mode(community)
            if any(z in HOT for z in mine):
                assert mode == "emergency", (community, mine, mode)
            else:
                assert mode != "emergency", (community, mine, mode)
            if mode == "normal":
                assert all(z == "open" for z in mine), (community, mine)

    @invariant()
    def journal_is_gap_free(self) -> None:
        assert [e.seq for e in self.engine.journal] == list(range(1, len(self.engine.journal) + 1))

    @precondition(lambda self: len(self.engine.journal) > 0)
    @invariant()
    def replay_gives_live_state(self) -> None:
        again = Engine.replay(CITY, list(self.engine.journal), clock=self.clock)
        assert again.snapshot() == self.engine.snapshot()

    def teardown(self) -> None:
        # After enough quiet time everything is back to normal and open.
        self.engine.advance(self.clock.now() + timedelta(days=400))
        assert set(self.engine.zones().values()) == {"open"}
        assert set(self.engine.modes().values()) == {"normal"}


SwitchingMachine.TestCase.settings = settings(stateful_step_count=25, deadline=None)
TestSwitching = SwitchingMachine.TestCase

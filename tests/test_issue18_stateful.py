"""A hypothesis state machine over the whole public API of the engine (issue 18).

Every command of the engine (measures, deadlines, staffing, the task board,
availability, tickets, CAP alerts and their reviews, supplies) is a rule, with
actors drawn from the chain (some outside the target's jurisdiction) and now
and then a hostile argument. After every step ``check_invariants`` holds (the
six invariants of the design: replay == live among them); a refused step
changed no state and recorded exactly one refusal event; and now and then the
durable journal is closed and reopened, which must give the same state.

The default suite runs a few short runs; CI runs 500 runs of 50 steps
(``@pytest.mark.slow``).
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from gridgov import Engine, GridgovError, ManualClock
from gridgov._commands import COMMANDS
from gridgov.depots import synth_depots
from gridgov.presets import small
from gridgov.supplies import SupplyNetwork, SupplyParams
from gridgov.testing import cap_message, check_invariants

CITY = small()
NETWORK = SupplyNetwork(CITY, synth_depots(CITY), SupplyParams())
CHAIN = CITY.chain
COMPOUNDS = sorted(CITY.compounds)[:8]
COMMUNITIES = sorted(CHAIN.units("community"))
GRIDS = sorted(CHAIN.units("grid"))[:4]
TARGETS = [*COMPOUNDS, *COMMUNITIES, *GRIDS, CHAIN.city]
MEMBERS = sorted(p.id for p in CITY.people.values() if p.kind.value == "in_service_member")[:30]
#: Actors: None (the embedding code), the city, each community, a few people, outsiders.
ACTORS: list[str | None] = [None, None, CHAIN.city, *COMMUNITIES, MEMBERS[0], "nobody", ""]
#: Now and then, a value of the wrong kind in place of an argument.
ODD: list[object] = [5, 2.5, math.nan, True, "", None, ["x"], "\ud800"]

actors = st.sampled_from(ACTORS)


def odd_or(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(values, values, values, values, values, values, st.sampled_from(ODD))


class WholeApi(RuleBasedStateMachine):
    """Every public command, any order, with invariants after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="gridgov-stateful-"))
        self.path = self.folder / "journal.sqlite"
        self.clock = ManualClock()
        self.engine = self._open()
        self.keys = 0
        self.used: set[str] = set()

    def _open(self) -> Engine:
        return Engine.open(
            self.path, city=CITY, clock=self.clock, snapshot_every=11, supplies=NETWORK
        )

    def teardown(self) -> None:
        self.engine.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # ---------------------------------------------------------------- helpers

    def do(self, name: str, call: Callable[[], object]) -> None:
        """Run a command: accepted, or refused with exactly one refusal event and no change."""
        engine = self.engine
        self.used.add(name)
        before, length = engine.snapshot(), len(engine.journal)
        try:
            call()
        except GridgovError:
            assert engine.snapshot() == before, f"refused {name} changed the state"
            added = [e.type for e in list(engine.journal)[length:]]
            assert added in (["command.refused"], ["alert.refused"], []), (name, added)
            if not added:
                # Only a retried refusal under its key records nothing new.
                assert engine.journal.select(type="command.refused") or engine.journal.select(
                    type="alert.refused"
                ), name

    def key(self, data: st.DataObject) -> dict[str, Any]:
        """No key, a fresh key, or the last key again (a retry)."""
        choice = data.draw(st.sampled_from(["none", "none", "fresh", "again"]), label="key")
        if choice == "none" or (choice == "again" and not self.keys):
            return {}
        if choice == "fresh":
            self.keys += 1
        return {"key": f"k{self.keys}"}

    def tasks(self) -> list[str]:
        return sorted(p for p in self.engine.roster.posts if "/task/" in p) or ["none/task/1"]

    def tickets(self) -> list[str]:
        return sorted(t.id for t in self.engine.tickets) or ["T000001"]

    # ------------------------------------------------------------------ rules

    @initialize()
    def start(self) -> None:
        check_invariants(self.engine)

    @rule(minutes=st.integers(1, 3 * 24 * 60))
    def time_passes(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))

    @rule(compound=odd_or(st.sampled_from(COMPOUNDS)), actor=actors, data=st.data())
    def report_case(self, compound: Any, actor: str | None, data: st.DataObject) -> None:
        kw = self.key(data)
        self.do("report_case", lambda: self.engine.report_case(compound, actor=actor, **kw))

    @rule(
        compounds=odd_or(st.lists(st.sampled_from(COMPOUNDS), max_size=4)),
        actor=actors,
        data=st.data(),
    )
    def report_cases(self, compounds: Any, actor: str | None, data: st.DataObject) -> None:
        kw = self.key(data)
        self.do("report_cases", lambda: self.engine.report_cases(compounds, actor=actor, **kw))

    @rule(
        unit=st.sampled_from(TARGETS),
        zone=odd_or(st.sampled_from(["sealed", "controlled", "precaution"])),
        hold=st.booleans(),
        actor=actors,
        data=st.data(),
    )
    def declare(
        self, unit: str, zone: Any, hold: bool, actor: str | None, data: st.DataObject
    ) -> None:
        kw = self.key(data)
        self.do("declare", lambda: self.engine.declare(unit, zone, hold=hold, actor=actor, **kw))

    @rule(
        unit=st.sampled_from(TARGETS),
        to=st.sampled_from(["open", "precaution", "controlled"]),
        skip=st.booleans(),
        actor=actors,
    )
    def lift(self, unit: str, to: str, skip: bool, actor: str | None) -> None:
        self.do("lift", lambda: self.engine.lift(unit, to, skip_recovery=skip, actor=actor))

    @rule(days=st.integers(0, 30), actor=st.sampled_from([None, None, CHAIN.city, "nobody"]))
    def advance(self, days: int, actor: str | None) -> None:
        to = self.clock.now() + timedelta(days=days)
        self.do("advance", lambda: self.engine.advance(to, actor=actor))

    @rule(actor=actors)
    def staff(self, actor: str | None) -> None:
        self.do("staff", lambda: self.engine.staff(actor=actor))

    @rule(
        community=st.sampled_from(COMMUNITIES),
        capacity=odd_or(st.integers(1, 3)),
        actor=actors,
    )
    def post_task(self, community: str, capacity: Any, actor: str | None) -> None:
        self.do(
            "post_task",
            lambda: self.engine.post_task(
                community, "medicine_delivery", capacity=capacity, actor=actor
            ),
        )

    @rule(person=st.sampled_from(MEMBERS), data=st.data())
    def claim(self, person: str, data: st.DataObject) -> None:
        task = data.draw(st.sampled_from(self.tasks()), label="task")
        kw = self.key(data)
        self.do("claim", lambda: self.engine.claim(task, person, **kw))

    @rule(person=st.sampled_from(MEMBERS), actor=st.sampled_from([None, *COMMUNITIES]))
    def hand_back(self, person: str, actor: str | None) -> None:
        self.do("hand_back", lambda: self.engine.hand_back(person, actor=actor))

    @rule(actor=actors, data=st.data())
    def complete_task(self, actor: str | None, data: st.DataObject) -> None:
        task = data.draw(st.sampled_from(self.tasks()), label="task")
        self.do("complete_task", lambda: self.engine.complete_task(task, actor=actor))

    @rule(
        away=st.dictionaries(
            st.sampled_from(["volunteer", "grid_worker", "cadre", "in_service_member"]),
            odd_or(st.sampled_from([0.0, 0.3, 0.7, 1.0])),
            max_size=2,
        ),
        seed=odd_or(st.integers(0, 9)),
        actor=actors,
    )
    def set_availability(self, away: dict[str, Any], seed: Any, actor: str | None) -> None:
        self.do(
            "set_availability",
            lambda: self.engine.set_availability(away, seed=seed, actor=actor),
        )

    @rule(
        where=st.sampled_from([*COMPOUNDS, *GRIDS]),
        category=st.sampled_from(["medicine", "garbage", "food_supplies", "dispute"]),
        description=odd_or(st.text(max_size=12)),
        actor=actors,
        data=st.data(),
    )
    def open_ticket(
        self, where: str, category: str, description: Any, actor: str | None, data: st.DataObject
    ) -> None:
        kw = self.key(data)
        self.do(
            "open_ticket",
            lambda: self.engine.open_ticket(
                where, category, description=description, actor=actor, **kw
            ),
        )

    @rule(
        trigger=st.sampled_from(
            ["classify", "track", "supervise", "feed_back", "score", "publish", "archive"]
        ),
        score=odd_or(st.integers(1, 5)),
        actor=actors,
        data=st.data(),
    )
    def handle_ticket(
        self, trigger: str, score: Any, actor: str | None, data: st.DataObject
    ) -> None:
        ticket = data.draw(st.sampled_from(self.tickets()), label="ticket")
        extra: dict[str, Any] = {"score": score} if trigger == "score" else {}
        self.do(
            "handle_ticket",
            lambda: self.engine.handle_ticket(ticket, trigger, actor=actor, **extra),
        )

    @rule(
        number=st.integers(1, 4),
        area=st.sampled_from([[COMPOUNDS[1]], [COMPOUNDS[2]], []]),
        expires=st.sampled_from([None, 1, 3]),
        msg_type=st.sampled_from(["Alert", "Alert", "Cancel"]),
        broken=st.booleans(),
        data=st.data(),
    )
    def receive_alert(
        self,
        number: int,
        area: list[str],
        expires: int | None,
        msg_type: str,
        broken: bool,
        data: st.DataObject,
    ) -> None:
        sent = self.clock.now() - timedelta(minutes=1)
        end = sent + timedelta(days=expires) if expires is not None else None
        references = []
        if msg_type == "Cancel":
            references = [("230800-health-commission", f"A{number}", sent - timedelta(hours=1))]
        xml = cap_message(
            f"A{number}-{self.clock.now().timestamp():.0f}"
            if msg_type == "Alert"
            else f"C{number}",
            sent,
            msg_type=msg_type,
            references=references,
            areas=[("area", area)] if area else [("Grid 1", [])],
            expires=end,
        )
        kw = self.key(data)
        self.do(
            "receive_alert", lambda: self.engine.receive_alert(xml if not broken else "<a>", **kw)
        )

    @rule(actor=actors, data=st.data())
    def review(self, actor: str | None, data: st.DataObject) -> None:
        reviews = [r.id for r in self.engine.reviews] or ["R1"]
        review = data.draw(st.sampled_from(reviews), label="review")
        who = actor if actor is not None else CHAIN.city
        if data.draw(st.booleans(), label="approve"):
            units = data.draw(st.sampled_from([None, [COMPOUNDS[3]]]), label="units")
            self.do(
                "approve_review",
                lambda: self.engine.approve_review(review, actor=who, units=units),
            )
        else:
            self.do(
                "reject_review",
                lambda: self.engine.reject_review(review, actor=who, reason="not here"),
            )

    @rule(method=st.sampled_from(["min_cost", "greedy"]), actor=actors)
    def dispatch_supplies(self, method: str, actor: str | None) -> None:
        self.do(
            "dispatch_supplies",
            lambda: self.engine.dispatch_supplies(method=method, actor=actor),
        )

    @precondition(lambda self: len(self.engine.journal) > 0)
    @rule()
    def reopen(self) -> None:
        """Close the durable journal and open it again: the same state (from its snapshot)."""
        before = self.engine.snapshot()
        self.engine.close()
        self.engine = self._open()
        assert self.engine.load_report.ignored is None
        assert self.engine.snapshot() == before

    # ------------------------------------------------------------- invariants

    @invariant()
    def the_invariants_hold(self) -> None:
        check_invariants(self.engine)


def test_every_command_has_a_rule() -> None:
    """The machine drives every public command (a new command needs a rule)."""
    names = {name for name in dir(WholeApi) if not name.startswith("_")}
    assert COMMANDS - names <= {"approve_review", "reject_review"}
    assert "review" in names


TestWholeApiShort = WholeApi.TestCase
TestWholeApiShort.settings = settings(
    max_examples=20,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.mark.slow
@pytest.mark.parametrize("part", range(4))
def test_whole_api_500_runs_of_50_steps(part: int) -> None:
    """The CI run: 500 runs of 50 steps (four parts of 125, so that they run side by
    side), invariants after every step."""
    run_state_machine_as_test(  # type: ignore[no-untyped-call, unused-ignore]
        WholeApi,
        settings=settings(
            max_examples=125,
            stateful_step_count=50,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )

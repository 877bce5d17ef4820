"""A staffing draft's records' columns and its set of people freed (issue 15 item 4).

The planner writes the ``post.assigned`` records' units, causes and compact data
while it fills (each person's data as the person is chosen), and makes the set
of people it released only when a fill asks for it.
Each is checked here against what the draft's runs and releases say.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gridgov import Engine, ManualClock, staffing
from gridgov.presets import jiamusi
from histories import play

CITY = jiamusi(scale=0.05)
COMPOUNDS = sorted(CITY.compounds)
UNITS = sorted(CITY.chain.units())
ZONES = ["sealed", "controlled", "precaution", "open"]

#: One step of a history: a case, a declaration, a lift, or people away (posts
#: left short: the fill stages fewer than the seats it made room for).
step = st.one_of(
    st.tuples(st.just("away"), st.sampled_from(["0.5", "0.9"])),
    st.tuples(st.just("case"), st.sampled_from(COMPOUNDS)),
    st.tuples(st.just("declare"), st.sampled_from(UNITS), st.sampled_from(ZONES[:3])),
    st.tuples(st.just("lift"), st.sampled_from(UNITS), st.sampled_from(["open", "precaution"])),
)


class TestAssignmentColumns:
    """The draft's units, causes and data are its runs', person by person."""

    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(step, max_size=5),
        st.lists(st.tuples(st.sampled_from(COMPOUNDS), st.sampled_from(ZONES)), max_size=6),
        st.booleans(),
    )
    def test_each_assignment_s_record_columns_follow_its_run(
        self, history: list[tuple[str, ...]], moves: list[tuple[str, str]], refill: bool
    ) -> None:
        """Whatever the roster held (refills, front-line duty filled inside a fill),
        the three columns are as long as the runs' people, and the i-th person's
        unit, cause and data are those of its run's post, role and level."""
        engine, _ = play(CITY, history)
        kernel = engine._kernel
        roster = kernel.state.roster
        changes = {}
        for compound, zone in moves:
            now = engine.zone(compound)
            if zone != now:
                changes[compound] = (now, zone)
        draft = staffing._plan(
            CITY, kernel.pools, roster, changes, engine.rules.staffing, refill=refill, close=()
        )
        people = [(person, run) for run in draft.runs for person in run[3]]
        assert len(draft.units) == len(draft.causes) == len(draft.datas) == len(people)
        for i, (person, (post, role, level, _)) in enumerate(people):
            row = draft.opened.get(post) or roster._posts[post]
            assert draft.units[i] == row[2]
            assert draft.causes[i] == f"{role} from the {level} pool"
            keys = ("person", "post", "role", "level")
            assert draft.datas[i] == (keys, person, post, role, level)


class TestFreed:
    """The set of people freed is made when asked for, and is every release so far."""

    @given(
        st.lists(
            st.tuples(
                st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f"]), max_size=4),
                st.booleans(),
            ),
            max_size=8,
        )
    )
    def test_freed_is_everyone_released_so_far(self, steps: list[tuple[list[str], bool]]) -> None:
        """Asked for between releases or not, ``freed`` holds exactly the people
        released before it was read."""
        engine = Engine(CITY, clock=ManualClock())
        draft = staffing._Draft(engine._kernel.state.roster)
        # Each letter a person of the city, by their row.
        row = dict(
            zip("abcdef", map(CITY.people._index.__getitem__, sorted(CITY.people)), strict=False)
        )
        released: set[int] = set()
        for persons, ask in steps:
            rows = [row[letter] for letter in persons]
            draft.release_all(rows, "some/post", "why")
            released.update(rows)
            if ask:
                assert draft.freed == released
        assert draft.freed == released

    def test_a_lift_that_fills_nothing_never_makes_the_set(self) -> None:
        """A lift of the whole city releases everyone and fills nothing: its draft
        never made the set of people freed (a set of every id in a big city)."""
        engine = Engine(CITY, clock=ManualClock())
        engine.declare(COMPOUNDS[0], "sealed")
        kernel = engine._kernel
        roster = kernel.state.roster
        assert roster.assignment
        changes = {c: (engine.zone(c), "open") for c in COMPOUNDS if engine.zone(c) != "open"}
        draft = staffing._plan(
            CITY, kernel.pools, roster, changes, engine.rules.staffing, refill=False, close=()
        )
        assert draft.releases[0]
        assert not draft._freed
        assert draft.freed == {CITY.people._index[person] for person in draft.releases[0]}

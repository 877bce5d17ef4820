"""The roster's tables by person row (``staffing._ByRow``) read as the dicts keyed by id
they replace: the same entries in a dict's order (an entry set again keeps its place,
one taken out and set again goes last), however the entries were set and taken out."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from gridgov.staffing import _ByRow, _PersonView

IDS = tuple(f"P{i:03d}" for i in range(12))
INDEX = {person: row for row, person in enumerate(IDS)}

#: One step: set a row, pop a row, set several rows without an entry at once, or take
#: out several rows' entries directly (as a lift does).
STEP = st.one_of(
    st.tuples(st.just("set"), st.integers(0, len(IDS) - 1), st.integers(1, 5)),
    st.tuples(st.just("pop"), st.integers(0, len(IDS) - 1), st.just(0)),
    st.tuples(
        st.just("set_new"),
        st.lists(st.integers(0, len(IDS) - 1), unique=True, max_size=6),
        st.integers(1, 5),
    ),
    st.tuples(
        st.just("taken_out"), st.lists(st.integers(0, len(IDS) - 1), unique=True), st.just(0)
    ),
)


def _play(steps: list[tuple[str, Any, int]]) -> tuple[_ByRow, dict[str, int]]:
    table, model = _ByRow(len(IDS)), {}
    for kind, rows, value in steps:
        if kind == "set":
            table.set(rows, value)
            model[IDS[rows]] = value
        elif kind == "pop":
            assert table.pop(rows) == model.pop(IDS[rows], None)
        elif kind == "set_new":
            fresh = [row for row in rows if IDS[row] not in model]
            table.set_new(tuple(fresh), value)
            model.update(dict.fromkeys(map(IDS.__getitem__, fresh), value))
        else:
            held = [row for row in rows if IDS[row] in model]
            for row in held:
                table.values[row] = None
                del model[IDS[row]]
            table.taken_out(len(held))
    return table, model


class TestByRow:
    """A table by row reads as the dict by id it stands for."""

    @given(st.lists(STEP, max_size=60))
    def test_the_entries_and_their_order_are_the_dict_s(
        self, steps: list[tuple[str, Any, int]]
    ) -> None:
        """Its view holds the dict's entries in the dict's order, its count is the
        dict's length, and its log never holds many more rows than entries."""
        table, model = _play(steps)
        view = _PersonView(table, IDS, INDEX)
        assert list(view.items()) == list(model.items())
        assert len(view) == len(model) == table.count
        assert len(table.log) <= 2 * table.count + 64
        for person in IDS:
            assert (person in view) == (person in model)
        assert "nobody" not in view

    @given(st.lists(STEP, max_size=30), st.lists(STEP, max_size=30))
    def test_a_copy_goes_its_own_way(
        self, before: list[tuple[str, Any, int]], after: list[tuple[str, Any, int]]
    ) -> None:
        """A copy keeps the entries as they were when copied, in order, whatever is
        done to the table after."""
        table, model = _play(before)
        copy = table.copy()
        kept = list(model.items())
        for kind, rows, value in after:
            if kind == "set":
                table.set(rows, value)
            elif kind == "pop":
                table.pop(rows)
        assert list(_PersonView(copy, IDS, INDEX).items()) == kept

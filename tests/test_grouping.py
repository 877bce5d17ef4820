"""Grouping a column of values by a column of keys (the chain's and the city's indexes)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridgov._grouping import grouped, grouped_sorted

PAIRS = st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.text(max_size=3)), max_size=40)


class TestGrouped:
    """Each key's values in their order, keys in the order they first come."""

    @given(PAIRS)
    def test_each_keys_values_in_order(self, pairs: list[tuple[str, str]]) -> None:
        """Runs of a key, and a key that comes back after others, all in order; keys in
        order of first appearance; no key without values."""
        want: dict[str, list[str]] = {}
        for key, value in pairs:
            want.setdefault(key, []).append(value)
        got = grouped([k for k, _ in pairs], (v for _, v in pairs))
        assert got == {k: tuple(v) for k, v in want.items()}
        assert list(got) == list(want)

    def test_one_value_per_key(self) -> None:
        """Columns of different lengths are refused."""
        with pytest.raises(ValueError, match="one value per key"):
            grouped(("a", "b"), ("x",))


class TestGroupedSorted:
    """Each key's values sorted, as a sort of every (key, value) pair would give them."""

    @given(PAIRS)
    def test_as_the_sorted_pairs(self, pairs: list[tuple[str, str]]) -> None:
        """The values of each key are those of the sorted pairs, in that order; keys in
        order of first appearance."""
        got = grouped_sorted([k for k, _ in pairs], [v for _, v in pairs])
        for key, values in got.items():
            assert values == tuple(v for k, v in sorted(pairs) if k == key)
        assert list(got) == list(dict.fromkeys(k for k, _ in pairs))

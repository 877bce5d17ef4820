"""The argument checks' quick paths (gridgov._arguments.Quick) never accept more.

Each declared type has a quick path that accepts the common values with a few
comparisons and hands everything else to the full check. A quick path that
said yes to a value the full check refuses would let a bad argument through,
so: for every parameter of every engine command and any value, a quick yes
implies the full check accepts; and ``check_call`` with the quick paths
refuses exactly the calls (with the same message) it refuses without them.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridgov import ArgumentError, Engine, Private
from gridgov._arguments import MAX_ITEMS, Signature, _never, _Refusal, check_call
from gridgov._commands import COMMANDS

SPECS = {name: Signature.of(getattr(Engine, name).__wrapped__) for name in sorted(COMMANDS)}
PARAMETERS = [(name, p) for name, spec in SPECS.items() for p in spec.checks]

texts = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.characters(codec=None), max_size=6),
    st.sampled_from(["", " ", "a\x00b", "\ud800", "tab\there", "line\n", "\u200b", "x" * 201]),
    st.text(min_size=195, max_size=205, alphabet="ab"),
)
numbers = st.one_of(
    st.integers(-3, 3),
    st.integers(10**29, 10**31),
    st.integers(2**31 - 2, 2**31 + 2),
    st.integers(999_998, 1_000_002),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([-0.0, 0.0, 1.0, 1.0000001, 1e12, 1e12 + 1, math.nan, math.inf]),
    st.booleans(),
)


class _Str(str):
    pass


class _Int(int):
    pass


values = st.recursive(
    st.one_of(
        st.none(),
        texts,
        numbers,
        st.builds(_Str, texts),
        st.builds(_Int, st.integers(-2, 3)),
        st.sampled_from(
            [
                datetime(2022, 9, 17),
                datetime(2022, 9, 17, tzinfo=UTC),
                datetime(2022, 9, 17, tzinfo=timezone(timedelta(hours=8))),
                b"bytes",
                Private(name="x"),
                object(),
            ]
        ),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(texts, numbers), inner, max_size=3),
    ),
    max_leaves=6,
)


def _outcome(spec: Signature, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    try:
        check_call(spec, args, kwargs)
    except ArgumentError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize(("command", "parameter"), PARAMETERS)
@given(value=values)
def test_a_quick_yes_is_a_full_yes(command: str, parameter: str, value: Any) -> None:
    spec = SPECS[command]
    if spec.quick[parameter](value):
        spec.checks[parameter](value, parameter)  # raises _Refusal if it refuses


def test_quick_paths_cover_the_common_arguments() -> None:
    """Names, counts, shares, flags and optional ones take the quick path."""
    quick = SPECS["open_ticket"].quick
    assert quick["where"]("community-1")
    assert quick["description"]("round 5")
    assert quick["actor"](None)
    assert quick["key"]("k1")
    assert SPECS["post_task"].quick["capacity"](2)
    assert SPECS["set_availability"].quick["away"]({"volunteer": 0.1})
    assert not SPECS["post_task"].quick["capacity"](True)
    assert not SPECS["post_task"].quick["capacity"](0)
    assert not SPECS["open_ticket"].quick["where"]("a\x00b")
    big = dict.fromkeys(range(MAX_ITEMS + 1), 0.5)
    assert not SPECS["set_availability"].quick["away"](big)
    with pytest.raises(_Refusal):
        SPECS["set_availability"].checks["away"](big, "away")


@given(
    command=st.sampled_from(sorted(COMMANDS)),
    args=st.lists(values, max_size=4),
    kwargs=st.dictionaries(
        st.sampled_from(["actor", "key", "at", "capacity", "seed", "zone", "bogus", "where"]),
        values,
        max_size=3,
    ),
)
def test_check_call_refuses_the_same_with_and_without_quick_paths(
    command: str, args: list[Any], kwargs: dict[str, Any]
) -> None:
    spec = SPECS[command]
    slow = attrs.evolve(spec, quick=dict.fromkeys(spec.quick, _never), leading=None)
    assert _outcome(spec, tuple(args), kwargs) == _outcome(slow, tuple(args), kwargs)

"""The contact weights the Covasim driver writes, checked without Covasim: each rewrite
of a layer's betas (in place, only where compounds changed, after edges were dropped)
gives every edge its kept beta times its two ends' factors, and counts the cut edges."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gridgov.sim.covasim import _Coupling, _WeightedLayer

FACTORS = (1.0, 0.0, 0.4, 0.5)


@st.composite
def days(draw: st.DrawFn) -> tuple[int, int, int, list[tuple[list[int], list[int]]]]:
    """A layer size, agents, compounds and days of (factor choices, agents who die)."""
    agents = draw(st.integers(2, 60))
    compounds = draw(st.integers(1, 8))
    edges = draw(st.integers(0, 200))
    schedule = draw(
        st.lists(
            st.tuples(
                st.lists(st.integers(0, len(FACTORS) - 1), min_size=compounds, max_size=compounds),
                st.lists(st.integers(0, agents - 1), max_size=3),
            ),
            min_size=1,
            max_size=8,
        )
    )
    return edges, agents, compounds, schedule


@settings(max_examples=150, deadline=None)
@given(days(), st.integers(0, 2**32 - 1))
def test_rewrites_match_the_betas_computed_whole(
    case: tuple[int, int, int, list[tuple[list[int], list[int]]]], seed: int
) -> None:
    """Day after day, the layer's betas equal kept beta * factor(p1) * factor(p2) (float32,
    bit for bit) on the edges still there, and the cut count is their zeros."""
    edges, agents, compounds, schedule = case
    rng = np.random.default_rng(seed)
    p1 = rng.integers(0, agents, edges).astype(np.int32)
    p2 = rng.integers(0, agents, edges).astype(np.int32)
    beta = rng.choice(np.array([0.0, 0.5, 1.0, 1.3], dtype=np.float32), edges)
    compound = rng.integers(0, compounds, agents).astype(np.int32)
    layer = _WeightedLayer(p1, p2, beta.copy(), compound, compounds)
    alive = np.ones(agents, dtype=bool)
    live = np.ones(edges, dtype=bool)  # the edges Covasim still has
    betas = beta.copy()  # Covasim's array of them: what the layer rewrites
    applied = np.ones(compounds)
    for choices, deaths in schedule:
        if deaths:
            # Covasim drops the dead agents' edges, keeping the others in order.
            alive[deaths] = False
            now_live = alive[p1] & alive[p2]
            betas = betas[now_live[live]]
            live = now_live
            layer.follow(int(live.sum()), alive)
        factor = np.array([FACTORS[c] for c in choices])
        changed = np.flatnonzero(applied != factor)
        if not len(changed):
            continue
        layer.reweight(betas, factor.astype(np.float32), changed)
        applied = factor
        f32 = factor.astype(np.float32)
        whole = beta * (f32[compound[p1]] * f32[compound[p2]])
        assert np.array_equal(betas, whole[live])
        assert layer.cut == int(np.count_nonzero(betas == 0))


@given(
    st.lists(st.integers(0, 5), min_size=1, max_size=80),
    st.lists(st.integers(0, 5), max_size=6),
)
def test_agents_of_compounds_in_uid_order(homes: list[int], wanted: list[int]) -> None:
    """The agents of some compounds are those whose compound is among them, sorted."""

    class Map:
        compound = np.array(homes, dtype=np.int32)
        compounds = range(6)

    coupling = _Coupling(Map(), None)  # type: ignore[arg-type]
    got = coupling.agents_of(np.array(sorted(set(wanted)), dtype=np.int64))
    expected = [i for i, home in enumerate(homes) if home in set(wanted)]
    assert got.tolist() == expected

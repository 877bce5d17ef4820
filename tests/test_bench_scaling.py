"""The scaling benchmark's case rounds: the interleaving and the ratios (no city built)."""

from __future__ import annotations

from typing import Any

import pytest
from benchmarks import bench_scaling
from benchmarks.bench_scaling import _block, _round_ratios, _turns
from hypothesis import given
from hypothesis import strategies as st


class TestTurns:
    """The blocks of the two cities take turns, neither always first."""

    def test_order(self) -> None:
        """Small, large, large, small, small, large."""
        assert _turns(3) == [(0, 0), (0, 1), (1, 1), (1, 0), (2, 0), (2, 1)]

    @given(st.integers(min_value=0, max_value=50))
    def test_every_block_once(self, blocks: int) -> None:
        """Each block of each city comes once, in block order, and each city goes first
        in half of the pairs (rounded up for the small one)."""
        turns = _turns(blocks)
        for side in (0, 1):
            assert [index for index, s in turns if s == side] == list(range(blocks))
        firsts = [turns[2 * i][1] for i in range(blocks)]
        assert firsts.count(0) == (blocks + 1) // 2


class _Engine:
    """A stand-in engine that logs what it is asked (one event per case)."""

    def __init__(self, log: list[tuple[str, str]]) -> None:
        self.log = log
        self.city = type("C", (), {"chain": type("H", (), {"city": "CITY"})()})()

    def report_case(self, compound: str) -> Any:
        self.log.append(("case", compound))
        return type("R", (), {"events": (1, 2, 3)})()

    def lift(self, city: str, *, skip_recovery: bool) -> None:
        assert skip_recovery
        self.log.append(("lift", city))


class TestBlock:
    """A block: an untimed lead-in case, then its cases, each followed by a lift."""

    def test_lead_in_first_then_lift_after_each(self) -> None:
        """Every timed case follows a case and a lift of its own engine."""
        log: list[tuple[str, str]] = []
        timed = _block(_Engine(log), "LEAD", ["A", "B"])
        assert log == [
            ("case", "LEAD"),
            ("lift", "CITY"),
            ("case", "A"),
            ("lift", "CITY"),
            ("case", "B"),
            ("lift", "CITY"),
        ]
        assert [events for _, _, events in timed] == [3, 3]
        assert all(wall >= 0 and cpu >= 0 for wall, cpu, _ in timed)


def _blocks(times: list[list[float]], events: int = 10) -> list[list[list[float]]]:
    return [[[t, t / 2, events] for t in block] for block in times]


class TestRoundRatios:
    """A round's ratios: the large city's medians over the small one's."""

    def test_ratios(self) -> None:
        """Medians over every case; block pairs' quartiles beside."""
        small = _blocks([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
        large = _blocks([[2.0, 3.0, 4.0], [4.0, 6.0, 8.0]], events=20)
        got = _round_ratios({"small": small, "large": large})
        assert got["ratio"] == pytest.approx(4.0 / 2.0)
        assert got["cpu"] == pytest.approx(2.0 / 1.0)
        # Per event: large 4/20 = 0.2, small 2/10 = 0.2.
        assert got["per_event"] == pytest.approx(1.0)
        assert got["medians"]["large"]["events"] == 20
        # Block pairs: 3/2 and 6/2.
        assert got["block_quartiles"][1] == pytest.approx((1.5 + 3.0) / 2)

    def test_cases_without_events_left_out_of_per_event(self) -> None:
        """A case of no event has no time per event."""
        small = [[[1.0, 1.0, 0], [2.0, 2.0, 4], [2.0, 2.0, 4]]]
        large = _blocks([[1.0, 1.0, 1.0]], events=2)
        got = _round_ratios({"small": small, "large": large})
        assert got["per_event"] == pytest.approx((1.0 / 2) / (2.0 / 4))

    def test_figure_is_median_of_rounds(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The figure is the median of the rounds' ratios; their range is the spread."""
        rounds = iter([2.0, 1.0, 5.0])

        def fake(code: str, *args: object) -> dict[str, Any]:
            assert code is bench_scaling._CASE_CHILD
            factor = next(rounds)
            return {
                "small": _blocks([[1.0, 1.0], [1.0, 1.0]]),
                "large": _blocks([[factor, factor], [factor, factor]]),
            }

        monkeypatch.setattr(bench_scaling, "_run_child", fake)
        got = bench_scaling._case_figure(1.0, 4.0, 4, 3, [])
        assert got["value"] == 2.0
        assert got["rounds"] == [2.0, 1.0, 5.0]
        assert got["spread"] == 4.0
        assert got["case_ms"] == [1000.0, 2000.0]


def _scale_round(scale: float, wall: list[float], cpu: list[float]) -> dict[str, Any]:
    """A stand-in child's result at one scale: every step's samples were ``wall`` (``cpu``)."""
    steps = ("build", "engine", "pools", "declare", "lift")
    seen = {name: {"full_collections": 0, "full_collections_s": 0.0} for name in steps}
    return {
        "scale": scale,
        "grids": 1,
        "households": 1,
        "sealed": 1,
        "declare_events": 1,
        "wall": {name: list(wall) for name in steps},
        "cpu": {name: list(cpu) for name in steps},
        "collector": seen,
    }


#: Three interpreters' samples of one step at one scale.
ROUNDS = [[3.0, 1.0, 2.0], [0.5, 4.0, 4.0], [2.0, 2.0, 0.9]]


class TestScaleTimes:
    """How a scale's time is taken from its interpreters' samples."""

    def test_fastest_round(self) -> None:
        """The interpreters' medians 2, 4, 2: the fastest."""
        assert bench_scaling.fastest_round(ROUNDS) == 2.0

    def test_fastest_round_of_one_build(self) -> None:
        """One build per interpreter: the fastest build."""
        assert bench_scaling.fastest_round([[3.0], [0.5], [2.0]]) == 0.5

    def test_fastest_sample(self) -> None:
        """The fastest sample of every interpreter's."""
        assert bench_scaling.fastest_sample(ROUNDS) == 0.5

    def test_median_of_medians(self) -> None:
        """The interpreters' medians 2, 4, 2: their median."""
        assert bench_scaling.median_of_medians(ROUNDS) == 2.0

    def test_first_sample(self) -> None:
        """The interpreters' first samples 3, 0.5, 2: their median."""
        assert bench_scaling.first_sample(ROUNDS) == 2.0


class TestExponentFigures:
    """The exponents are fitted to each scale's fastest round, the other methods beside."""

    def test_fastest_round_is_the_headline(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Slow rounds at the largest scale move the median fit, not the fastest round's;
        a fast sample in a slow round moves the fastest sample's."""
        # Three rounds of three samples; linear in the fastest rounds' medians (1, 2, 4 s).
        walls = {
            1.0: [[1.0, 1.3, 1.0], [1.2, 1.2, 1.2], [1.1, 1.1, 1.1]],
            2.0: [[2.2, 2.2, 2.2], [2.0, 2.0, 2.4], [2.1, 2.1, 2.1]],
            4.0: [[6.0, 6.0, 6.0], [8.0, 4.0, 4.0], [8.0, 3.2, 8.0]],
        }
        asked: list[tuple[int, int, int]] = []

        def fake_rounds(scales: list[float], repeats: int, rounds: int, builds: int) -> Any:
            asked.append((repeats, rounds, builds))
            return [[_scale_round(s, w, [t * 0.9 for t in w]) for w in walls[s]] for s in scales]

        monkeypatch.setattr(bench_scaling, "_rounds", fake_rounds)
        monkeypatch.setattr(bench_scaling, "_case_figure", lambda *args: {})
        monkeypatch.setattr(bench_scaling, "ROUNDS", 3)
        got = bench_scaling.scaling(False)
        assert asked == [(bench_scaling.REPEATS, 3, bench_scaling.BUILDS)]
        scales = [1.0, 2.0, 4.0]
        for name in ("build", "lift"):
            fig = got[f"{name}_exponent"]
            assert fig["value"] == pytest.approx(1.0, abs=1e-4)
            assert fig["cpu_value"] == pytest.approx(1.0, abs=1e-4)
            assert fig["fastest_seconds"] == [1.0, 2.0, 4.0]
            assert fig["fastest_cpu_seconds"] == [0.9, 1.8, 3.6]
            assert fig["runs_s"] == [[1.0, 1.2, 1.1], [2.2, 2.0, 2.1], [6.0, 4.0, 8.0]]
            assert fig["samples_s"] == [walls[s] for s in scales]
            # Medians of the interpreters' medians: 1.1, 2.1, 6.0.
            median = bench_scaling.exponent(scales, [1.1, 2.1, 6.0])
            assert fig["median_value"] == pytest.approx(median, abs=1e-4)
            assert fig["seconds"] == [1.1, 2.1, 6.0]
            # The fastest samples: 1.0, 2.0, 3.2.
            quickest = bench_scaling.exponent(scales, [1.0, 2.0, 3.2])
            assert fig["fastest_sample_value"] == pytest.approx(quickest, abs=1e-4)
            # Each round's own fit on its medians: the second round 1.2, 2.0, 4.0.
            assert fig["rounds"][1] == pytest.approx(
                bench_scaling.exponent(scales, [1.2, 2.0, 4.0]), abs=1e-4
            )
        assert "first_engine_value" not in got["build_exponent"]
        # The first engines' medians over the rounds: 1.1, 2.1, 8.0.
        first = bench_scaling.exponent(scales, [1.1, 2.1, 8.0])
        assert got["lift_exponent"]["first_engine_value"] == pytest.approx(first, abs=1e-4)


class TestMeasureScale:
    """One interpreter's work at one scale: every build and engine timed, every sample kept."""

    def test_samples(self) -> None:
        """Two builds and two engines at a quarter of Jiamusi: two samples of each step."""
        got = bench_scaling.measure_scale(0.25, repeats=2, builds=2)
        for kind in ("wall", "cpu"):
            assert {name: len(got[kind][name]) for name in got[kind]} == {
                "build": 2,
                "engine": 2,
                "pools": 2,
                "declare": 2,
                "lift": 2,
            }
            assert all(t > 0 for samples in got[kind].values() for t in samples)
        assert got["scale"] == 0.25
        assert got["sealed"] > 0
        assert got["declare_events"] > got["sealed"]

"""The cyclic garbage collector: gridgov switches it off only when a call asks (issue #11)."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gridgov import Engine, ManualClock
from gridgov.cities import check_bundle, load_city
from gridgov.geo import synthesize as geo_synthesize
from gridgov.presets import small
from gridgov.synthesis import synthesize

UNITS = """\
id,parent,level,kind,name,households,population,large_enterprises,hospitals
330100,,city,,Lakeside,,,,
330102,330100,district,urban_district,Old Town,,,,
330102001,330102,street,street,Bridge Street,,,,
330102001001,330102001,community,,Bridge Community,2400,,1,1
330105,330100,district,county,Hill County,,,,
330105201,330105,street,township,Pine Township,,,,
330105201201,330105201,community,,Pine Village,260,,,
"""


@pytest.fixture
def switches(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every gc.disable() made meanwhile (the collector is still switched for real)."""
    calls: list[str] = []
    disable = gc.disable

    def recording() -> None:
        calls.append("disable")
        disable()

    monkeypatch.setattr(gc, "disable", recording)
    yield calls
    assert gc.isenabled()


def bulk_work(tmp_path: Path, pause_gc: bool) -> None:
    """Synthesise a city, draw its geometry, save it, load and check the bundle, run an engine."""
    units = tmp_path / "units.csv"
    units.write_text(UNITS, encoding="utf-8")
    synthesize(units, pause_gc=pause_gc)
    city = small()
    geo_synthesize(city, pause_gc=pause_gc)
    bundle = city.save(tmp_path / "bundle")
    load_city(bundle, pause_gc=pause_gc)
    check_bundle(bundle, pause_gc=pause_gc)
    engine = Engine(city, clock=ManualClock(), pause_gc=pause_gc)
    engine.report_case(sorted(city.compounds)[0])
    assert engine.pools is not None


class TestCollector:
    """Process-wide switches are the caller's choice, never a default."""

    def test_nothing_switches_it_by_default(self, tmp_path: Path, switches: list[str]) -> None:
        """Synthesis, bundles and the engine leave the collector alone unless asked."""
        bulk_work(tmp_path, pause_gc=False)
        assert switches == []

    def test_asked_it_pauses_and_resumes(self, tmp_path: Path, switches: list[str]) -> None:
        """With pause_gc=True each bulk step pauses it, and it runs again afterwards."""
        bulk_work(tmp_path, pause_gc=True)
        assert len(switches) >= 4

    def test_a_collector_left_off_stays_off(self, tmp_path: Path) -> None:
        """Pausing restores the caller's setting: off stays off."""
        gc.disable()
        try:
            bulk_work(tmp_path, pause_gc=True)
            assert not gc.isenabled()
        finally:
            gc.enable()


def reopen_play_and_run(tmp_path: Path, pause_gc: bool) -> None:
    """Reopen a journal (replaying its tail), read it back, play a ticket stream on a
    desk, and run a scenario with supplies: the bulk paths added after issue #11."""
    from gridgov import SqliteJournal
    from gridgov.sim.runner import run_scenario
    from gridgov.sim.scenario import Scenario
    from gridgov.testing import StandaloneDesk

    city = small()
    compound = sorted(city.compounds)[0]
    path = tmp_path / "j.db"
    engine = Engine(city, clock=ManualClock(), journal=SqliteJournal(path))
    engine.report_case(compound)
    engine.close()
    reopened = Engine.open(path, city=city, clock=ManualClock(), pause_gc=pause_gc)
    assert len(list(reopened.journal)) == len(reopened.journal.between(1, 10**6)) > 0
    reopened.close()
    desk = StandaloneDesk(city)
    grid = city.buildings[sorted(city.buildings)[0]].grid
    changes = desk.play(
        [0, 1],
        ["T1", "T1"],
        ["open", "classify"],
        [{"where": grid, "category": "medicine"}, None],
        pause_gc=pause_gc,
    )
    assert len(changes) >= 2
    scenario = Scenario.from_toml(
        'version = 1\nname = "t"\n[city]\npreset = "small"\n'
        f'[outbreak]\ncases = [{{ compound = "{compound}", day = 0 }}]\n'
        "[supplies]\n[run]\ndays = 3\n"
    )
    result = run_scenario(scenario, pause_gc=pause_gc)
    assert result.supply_rows


class TestCollectorOnTheBulkPaths:
    """Reopening, reading a journal, a ticket stream and a run's daily dispatch leave
    the collector alone unless the call asks (pause_gc=True)."""

    def test_not_switched_by_default(self, tmp_path: Path, switches: list[str]) -> None:
        reopen_play_and_run(tmp_path, pause_gc=False)
        assert switches == []

    def test_switched_when_asked(self, tmp_path: Path, switches: list[str]) -> None:
        reopen_play_and_run(tmp_path, pause_gc=True)
        assert len(switches) >= 3


class TestSurvivors:
    """Synthesis keeps its per-row data out of the collector's lists, so a big city's
    build does not pile up survivors of the young generations that bring on a full
    collection (every survivor counts towards the next one)."""

    def test_no_list_per_row_or_per_community(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The cells of each input row, and each community's organisations drawn from
        for its grid workers, are containers the collector drops from its lists (a
        list is tracked for life: one survivor per row or community)."""
        import gridgov.synthesis as synthesis
        from gridgov.presets.jiamusi import units_table

        seen: dict[str, Any] = {}
        check_input, run = synthesis._check_input, synthesis.CityBuilder._run

        def checking(source: str, raw: Any) -> Any:
            gc.collect()
            seen["cells"] = [cells for _, cells in raw if gc.is_tracked(cells)]
            seen["rows"] = len(raw)
            return check_input(source, raw)

        def running(self: Any, *args: Any) -> Any:
            caller = sys._getframe(1)
            if caller.f_code.co_name == "_staff_grids" and "organisations" not in seen:
                gc.collect()
                orgs_of = caller.f_locals["orgs_of"]
                seen["organisations"] = [v for v in orgs_of.values() if gc.is_tracked(v)]
                seen["communities"] = len(orgs_of)
            return run(self, *args)

        monkeypatch.setattr(synthesis, "_check_input", checking)
        monkeypatch.setattr(synthesis.CityBuilder, "_run", running)
        synthesis.synthesize(units_table(scale=0.1))
        assert seen["rows"] > 50
        assert seen["cells"] == []
        assert seen["communities"] > 20
        assert seen["organisations"] == []

"""Supplies in scenarios: the [supplies] table, off without it, problems at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridgov.errors import ScenarioError
from gridgov.sim.scenario import Scenario, load_scenario
from gridgov.sim.supplies import SupplySpec
from gridgov.supplies import SupplyParams

HEAD = 'version = 1\nname = "t"\n[city]\npreset = "small"\n'


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


class TestTable:
    """The [supplies] table."""

    def test_off_without_the_table(self) -> None:
        assert Scenario.from_toml(HEAD).supplies is None

    def test_defaults(self) -> None:
        scenario = Scenario.from_toml(HEAD + "[supplies]\n")
        assert scenario.supplies == SupplySpec()
        assert scenario.supplies.params == SupplyParams()

    def test_values_and_round_trip(self) -> None:
        text = HEAD + (
            "[supplies]\n"
            'method = "greedy"\n'
            'categories = ["food", "medicine"]\n'
            "building_lead_kg = 300\n"
            "stock_factor = 0.25\n"
            "[supplies.ration_kg]\n"
            "food = 2.5\n"
            "[supplies.request_kg]\n"
            "medicine = 1\n"
        )
        scenario = Scenario.from_toml(text)
        spec = scenario.supplies
        assert spec is not None
        assert spec.method == "greedy"
        assert spec.params.categories == ("food", "medicine")
        assert spec.params.building_lead_kg == 300
        assert spec.params.ration_kg["food"] == 2.5
        assert spec.params.ration_kg["medicine"] == 0.05
        assert spec.params.request_kg == {"food_supplies": 5.0, "medicine": 1.0}
        assert spec.stock_factor == 0.25
        assert Scenario.from_toml(scenario.to_toml()) == scenario

    def test_every_problem_at_its_line(self, tmp_path: Path) -> None:
        text = HEAD + (
            "[supplies]\n"  # line 5
            'depots = "nope.csv"\n'
            'methd = "x"\n'
            "building_lead_kg = -3\n"
            'categories = ["food", "water"]\n'
            "hub_kg_per_household = -1.0\n"
            "[supplies.request_kg]\n"
            "garbage = 2\n"
        )
        path = write(tmp_path, text)
        with pytest.raises(ScenarioError) as info:
            load_scenario(path)
        shown = [str(p) for p in info.value.problems]
        assert shown == [
            f"{path}:6: supplies.depots: no depots.csv at {str(tmp_path / 'nope.csv')!r} "
            "(expected 'synth' or a file)",
            f"{path}:7: supplies.methd: unknown key (did you mean 'method'? expected one of: "
            "depots, method, categories, checkpoint_kg_per_entrance, building_lead_kg, "
            "volunteer_kg, hub_kg_per_household, stock_factor, restock_factor, "
            "dispatch_factor, ration_kg, request_kg)",
            f"{path}:8: supplies.building_lead_kg: must be a whole number of kg, 0 or more, got -3",
            f"{path}:9: supplies.categories: category 'water' has no ration (add it under "
            "[supplies.ration_kg])",
            f"{path}:10: supplies.hub_kg_per_household: must be a finite number, 0 or more, "
            "got -1.0",
            f"{path}:12: supplies.request_kg.garbage: unknown request category 'garbage' "
            "(expected one of: food_supplies, medicine)",
        ]

    def test_a_bad_depots_csv_at_its_own_lines(self, tmp_path: Path) -> None:
        write(tmp_path, "id,kind,unit\nS1,shop,990101001\n", "depots.csv")
        path = write(tmp_path, HEAD + '[supplies]\ndepots = "depots.csv"\n')
        with pytest.raises(ScenarioError) as info:
            load_scenario(path)
        (problem,) = info.value.problems
        assert str(problem).startswith(f"{tmp_path / 'depots.csv'}:2: kind: unknown kind 'shop'")

    def test_a_good_depots_csv(self, tmp_path: Path) -> None:
        scenario = Scenario.from_toml(HEAD)
        city = scenario.build_city()
        street = sorted(u for u in city.chain.units("street"))[0]
        write(
            tmp_path,
            f"id,kind,unit,dispatch_kg,stock_food\nS1,supermarket,{street},100,500\n",
            "depots.csv",
        )
        loaded = load_scenario(write(tmp_path, HEAD + '[supplies]\ndepots = "depots.csv"\n'))
        assert loaded.supplies is not None
        (depot,) = loaded.supplies.depots_for(city)
        assert depot.stock == {"food": 500}

"""Supplies in scenarios: the [supplies] table, off without it, problems at file:line."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from gridgov.errors import ScenarioError
from gridgov.sim._demo import figures
from gridgov.sim.results import write_run
from gridgov.sim.runner import RunResult, run_scenario
from gridgov.sim.scenario import Scenario, load_scenario
from gridgov.sim.supplies import SUPPLY_COLUMNS, SupplySpec
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
            "(expected 'auto', 'synth' or a file)",
            f"{path}:7: supplies.methd: unknown key (did you mean 'method'? expected one of: "
            "depots, method, distance, categories, checkpoint_kg_per_entrance, building_lead_kg, "
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


# ------------------------------------------------------------------ runs

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "scenarios"


@pytest.fixture(scope="module")
def runs() -> tuple[RunResult, RunResult]:
    """The small example over 30 days without and with supplies (thin stock: it binds)."""
    plain = load_scenario(EXAMPLES / "small.toml").with_values({"run.days": 30})
    spec = SupplySpec(stock_factor=0.05, restock_factor=0.2)
    return run_scenario(plain), run_scenario(attrs.evolve(plain, supplies=spec))


class TestRuns:
    """Supplies in a run: metrics.csv untouched, supplies.csv beside it."""

    def test_metrics_do_not_change(self, runs: tuple[RunResult, RunResult]) -> None:
        """Switching supplies on changes no value and no column of metrics.csv."""
        plain, supplied = runs
        assert supplied.columns == plain.columns
        assert supplied.rows == plain.rows
        assert plain.supply_rows == ()

    def test_one_row_a_day(self, runs: tuple[RunResult, RunResult]) -> None:
        _, supplied = runs
        assert supplied.supply_columns == SUPPLY_COLUMNS
        assert len(supplied.supply_rows) == len(supplied.rows)
        assert all(len(r) == len(SUPPLY_COLUMNS) for r in supplied.supply_rows)

    def test_demand_is_delivered_or_owed(self, runs: tuple[RunResult, RunResult]) -> None:
        """Each day, per category: delivered <= owed from yesterday + demanded today, and
        while compounds stay supplied, owed today = owed yesterday + demanded - delivered."""
        _, supplied = runs
        index = {c: i for i, c in enumerate(supplied.supply_columns)}
        rows = supplied.supply_rows
        for k in ("medicine", "food", "daily_goods"):
            owed = 0
            for before, row in zip((None, *rows), rows, strict=False):
                demanded = row[index[f"demand_kg_{k}"]]
                delivered = row[index[f"delivered_kg_{k}"]]
                assert delivered <= owed + demanded
                same = before is not None and (
                    before[index["compounds_supplied"]] == row[index["compounds_supplied"]]
                )
                if same:
                    assert row[index[f"unmet_kg_{k}"]] == owed + demanded - delivered
                owed = row[index[f"unmet_kg_{k}"]]

    def test_something_binds_with_thin_stock(self, runs: tuple[RunResult, RunResult]) -> None:
        _, supplied = runs
        assert supplied.summary["household_days_unsupplied"] > 0
        assert sum(supplied.summary["supplies_unmet_kg_by_binding"].values()) > 0

    def test_real_distances(self, runs: tuple[RunResult, RunResult]) -> None:
        """distance = "geometry" plans on synthetic shapes; metrics.csv is unchanged."""
        pytest.importorskip("gridgov.geo")
        plain, supplied = runs
        assert supplied.scenario.supplies is not None
        spec = attrs.evolve(supplied.scenario.supplies, distance="geometry")
        real = run_scenario(attrs.evolve(supplied.scenario, supplies=spec))
        assert real.rows == plain.rows
        assert real.summary["supplies_delivered"] > 0

    def test_same_seed_same_supplies(self, runs: tuple[RunResult, RunResult]) -> None:
        _, supplied = runs
        again = run_scenario(supplied.scenario)
        assert again.supply_rows == supplied.supply_rows

    def test_run_folder(self, runs: tuple[RunResult, RunResult], tmp_path: Path) -> None:
        plain, supplied = runs
        write_run(plain, tmp_path / "plain", plots=False)
        write_run(supplied, tmp_path / "supplied", plots=False)
        assert not (tmp_path / "plain" / "supplies.csv").exists()
        text = (tmp_path / "supplied" / "supplies.csv").read_text(encoding="utf-8")
        assert text.splitlines()[0] == ",".join(SUPPLY_COLUMNS)
        assert (tmp_path / "plain" / "metrics.csv").read_bytes() == (
            tmp_path / "supplied" / "metrics.csv"
        ).read_bytes()
        assert "scenario.toml" in {p.name for p in (tmp_path / "supplied").iterdir()}
        assert (
            load_scenario(tmp_path / "supplied" / "scenario.toml").supplies
            == supplied.scenario.supplies
        )

    def test_report_has_the_supply_map_and_plots(
        self, runs: tuple[RunResult, RunResult], tmp_path: Path
    ) -> None:
        pytest.importorskip("gridgov.geo")
        pytest.importorskip("matplotlib")
        from gridgov.sim.report import write_report

        _, supplied = runs
        folder = write_run(supplied, tmp_path / "run")
        assert (folder / "plot_supplies_unsupplied.png").is_file()
        table = (folder / "supplies_compounds.csv").read_text(encoding="utf-8").splitlines()
        assert table[0] == "compound,household_days_unsupplied"
        assert sum(int(line.split(",")[1]) for line in table[1:]) > 0
        page = write_report(folder).read_text(encoding="utf-8")
        assert "Map: household-days unsupplied" in page
        assert "Households left unsupplied, by category" in page

    def test_demo_figures(self, runs: tuple[RunResult, RunResult]) -> None:
        """The demo's figures carry the supply keys of ``gridgov demo --json``."""
        _, supplied = runs
        shown = figures(supplied, supplied.scenario.build_city().summary())
        assert shown["supplies_delivered"] == supplied.summary["supplies_delivered"] > 0
        assert shown["household_days_unsupplied"] == supplied.summary["household_days_unsupplied"]


def test_the_supplies_example_loads() -> None:
    """examples/scenarios/sept17_supplies.toml is sept17.toml with a [supplies] table."""
    supplied = load_scenario(EXAMPLES / "sept17_supplies.toml")
    plain = load_scenario(EXAMPLES / "sept17.toml")
    assert supplied.supplies is not None
    assert supplied.supplies.stock_factor == 0.2
    assert attrs.evolve(supplied, supplies=None, name=plain.name) == plain

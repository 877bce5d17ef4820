"""Supplies in scenarios: the [supplies] table, off without it, problems at file:line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import attrs
import numpy as np
import pytest

from gridgov import City
from gridgov.errors import ScenarioError
from gridgov.sim._demo import figures
from gridgov.sim._requests import ClosedLoopLoad
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
            "volunteer_kg, hub_kg_per_household, owed_days, stock_factor, restock_factor, "
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


def outside_the_loop(run: RunResult) -> list[tuple[object, ...]]:
    """metrics.csv's rows without the closed loop's columns (tickets_*, ticket_latency_*)."""
    keep = [i for i, c in enumerate(run.columns) if not c.startswith(("tickets_", "ticket_"))]
    return [tuple(row[i] for i in keep) for row in run.rows]


class TestRuns:
    """Supplies in a run: supplies.csv beside metrics.csv; only the closed loop changes."""

    def test_only_the_closed_loop_changes(self, runs: tuple[RunResult, RunResult]) -> None:
        """Switching supplies on keeps metrics.csv's columns and every value outside the
        closed loop; deliveries fulfil food and medicine tickets, so the loop moves."""
        plain, supplied = runs
        assert supplied.columns == plain.columns
        assert outside_the_loop(supplied) == outside_the_loop(plain)
        assert plain.supply_rows == ()
        assert supplied.summary["supplies_tickets_fulfilled"] > 0

    def test_one_row_a_day(self, runs: tuple[RunResult, RunResult]) -> None:
        _, supplied = runs
        assert supplied.supply_columns == SUPPLY_COLUMNS
        assert len(supplied.supply_rows) == len(supplied.rows)
        assert all(len(r) == len(SUPPLY_COLUMNS) for r in supplied.supply_rows)

    def test_demand_is_delivered_or_owed(self, runs: tuple[RunResult, RunResult]) -> None:
        """Each day, per category: delivered <= owed from yesterday + demanded today, and
        while compounds stay supplied, owed today = owed yesterday + demanded - delivered
        - written off (owed too long)."""
        _, supplied = runs
        index = {c: i for i, c in enumerate(supplied.supply_columns)}
        rows = supplied.supply_rows
        for k in ("medicine", "food", "daily_goods"):
            owed = 0
            for before, row in zip((None, *rows), rows, strict=False):
                demanded = row[index[f"demand_kg_{k}"]]
                delivered = row[index[f"delivered_kg_{k}"]]
                expired = row[index[f"expired_kg_{k}"]]
                assert delivered + expired <= owed + demanded
                same = before is not None and (
                    before[index["compounds_supplied"]] == row[index["compounds_supplied"]]
                )
                if same:
                    assert row[index[f"unmet_kg_{k}"]] == owed + demanded - delivered - expired
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
        assert outside_the_loop(real) == outside_the_loop(plain)
        assert real.summary["supplies_delivered"] > 0

    def test_thin_stock_writes_off_old_demand(self, runs: tuple[RunResult, RunResult]) -> None:
        """With thin stock some demand is owed for owed_days (3) and written off; each
        written-off lot stands for at least one household-day."""
        _, supplied = runs
        index = {c: i for i, c in enumerate(supplied.supply_columns)}
        for row in supplied.supply_rows:
            for k in ("medicine", "food", "daily_goods"):
                kg, days = row[index[f"expired_kg_{k}"]], row[index[f"household_days_expired_{k}"]]
                assert (kg > 0) == (days > 0)
        assert supplied.summary["household_days_expired"] > 0

    def test_requests_are_the_runs_tickets(self) -> None:
        """Demand is the rations plus request_kg per ticket the loop opened: with request_kg
        at 0 the food demanded is the rations alone, and more with it (5 kg a ticket)."""
        plain = load_scenario(EXAMPLES / "small.toml").with_values({"run.days": 4})
        base = attrs.evolve(
            plain,
            supplies=SupplySpec(
                params=SupplyParams(request_kg={"food_supplies": 0.0, "medicine": 0.0})
            ),
        )
        with_requests = attrs.evolve(plain, supplies=SupplySpec())
        low, high = run_scenario(base), run_scenario(with_requests)
        column = low.supply_columns.index("demand_kg_food")
        opened = low.columns.index("tickets_opened")
        extra = sum(
            b[column] - a[column] for a, b in zip(low.supply_rows, high.supply_rows, strict=True)
        )
        # Every extra kilogram is 5 kg per food ticket; some tickets were opened.
        assert extra > 0
        assert extra % 5 == 0
        assert extra // 5 <= sum(row[opened] for row in high.rows)

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
        header = (tmp_path / "plain" / "metrics.csv").read_text(encoding="utf-8").splitlines()[0]
        assert (tmp_path / "supplied" / "metrics.csv").read_text(encoding="utf-8").splitlines()[
            0
        ] == header
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


class TestLoopRequests:
    """The closed loop's tickets as supply requests: counted per compound, fulfilled."""

    def loop(self, city: City) -> tuple[ClosedLoopLoad, dict[str, str]]:
        rule = Scenario.from_toml(HEAD).rules.tickets
        load = ClosedLoopLoad(city, rule, {"sealed": {"food_supplies": 0.5, "garbage": 0.5}}, 3)
        zones = dict.fromkeys(city.compounds, "open")
        for compound in sorted(city.compounds)[:4]:
            zones[compound] = "sealed"
        start = datetime(2022, 9, 17, tzinfo=UTC)
        load.raise_requests(zones, start, 1.0)
        load.run_rounds(start, 1.0)
        return load, zones

    def test_take_requests_counts_the_opened_tickets(self, small_city: City) -> None:
        """Per compound, the food tickets opened; the day's total is the loop's own count;
        a second call finds none."""
        load, zones = self.loop(small_city)
        taken = load.take_requests(["food_supplies", "medicine"])
        assert set(taken) <= {c for c, z in zones.items() if z == "sealed"}
        assert (
            sum(per["food_supplies"] for per in taken.values())
            == (load.today["opened_food_supplies"])
        )
        assert load.take_requests(["food_supplies"]) == {}

    def test_fulfil_takes_a_compounds_tickets_to_fed_back(self, small_city: City) -> None:
        """The open food tickets of the compound reached go to fed_back; its garbage
        tickets and the other compounds' tickets stay where they were."""
        load, zones = self.loop(small_city)
        arrays = load.arrays
        n = arrays.n
        target = sorted(c for c, z in zones.items() if z == "sealed")[0]
        index = load.compounds.index(target)
        food = arrays.category_index["food_supplies"]
        fed_back = arrays.states.index("fed_back")
        before = arrays.state[:n].copy()
        open_states = [
            arrays.states.index(s) for s in ("accepted", "classified", "tracking", "supervising")
        ]
        mine = (load.compound_of[:n] == index) & (arrays.category[:n] == food)
        expected = int((mine & np.isin(before, open_states)).sum())
        assert expected > 0
        done = load.fulfil([target], "food_supplies", datetime(2022, 9, 18, 1, tzinfo=UTC))
        assert done == expected
        after = arrays.state[:n]
        assert (after[mine & np.isin(before, open_states)] == fed_back).all()
        assert (after[~mine] == before[~mine]).all()

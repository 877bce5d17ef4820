"""Depots: synthesised from the documented ratios, read from and written to depots.csv."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from gridgov import City
from gridgov.depots import load_depots, ratios, save_depots, synth_depots
from gridgov.errors import DepotsError, GridgovError
from gridgov.model import Depot, Level


class TestSynth:
    """Every district gets plausible depots by the ratios of gridgov/data/depots.toml."""

    def test_jiamusi_has_about_two_hundred(self, jiamusi_city: City) -> None:
        """1.03 million households at one supermarket per 8,000 and one pharmacy per 15,000
        households, rounded up per district, plus a grain store per district (10), the
        warehouse and the donations point: about 200."""
        depots = synth_depots(jiamusi_city)
        kinds = Counter(d.kind for d in depots)
        assert kinds["grain_store"] == 10
        assert kinds["warehouse"] == kinds["donation"] == 1
        households = jiamusi_city.households(jiamusi_city.chain.city)
        assert households / 8000 <= kinds["supermarket"] <= households / 8000 + 10
        assert households / 15000 <= kinds["pharmacy"] <= households / 15000 + 10
        assert 190 <= len(depots) <= 230

    def test_every_district_has_shops_and_a_grain_store(self, jiamusi_city: City) -> None:
        chain = jiamusi_city.chain
        by_district = Counter(
            (chain.district_of(d.unit), d.kind)
            for d in synth_depots(jiamusi_city)
            if d.serves == "district"
        )
        for district in chain.units(Level.DISTRICT):
            for kind in ("supermarket", "pharmacy", "grain_store"):
                assert by_district[(district, kind)] >= 1, (district, kind)

    def test_stock_is_days_of_rations(self, small_city: City) -> None:
        """A supermarket's food stock is 4 days of its households' food ration (3.2 kg)."""
        table = ratios()
        depots = synth_depots(small_city)
        shops = [d for d in depots if d.kind == "supermarket"]
        total_food = sum(d.stock["food"] for d in shops)
        households = small_city.households(small_city.chain.city)
        expected = households * 3.2 * table["supermarket"]["stock_days"]["food"]
        assert total_food == pytest.approx(expected, rel=0.01)

    def test_deterministic(self, small_city: City) -> None:
        assert synth_depots(small_city) == synth_depots(small_city)


GOOD = (
    "id,kind,unit,name,serves,dispatch_kg,stock_food,stock_medicine,restock_food\n"
    "S1,supermarket,{street},Shop,district,500,1000,0,100\n"
    "W1,warehouse,{city},Store,city,9000,50000,800,0\n"
)


def write(tmp_path: Path, text: str, name: str = "depots.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


class TestCsv:
    """depots.csv: read, written, and every problem reported at its line."""

    def test_round_trip(self, small_city: City, tmp_path: Path) -> None:
        depots = synth_depots(small_city)
        path = tmp_path / "depots.csv"
        save_depots(depots, path)
        again = load_depots(path, small_city)
        assert sorted(again, key=lambda d: d.id) == sorted(depots, key=lambda d: d.id)
        save_depots(again, tmp_path / "again.csv")
        assert (tmp_path / "again.csv").read_bytes() == path.read_bytes()

    def test_reads_a_good_file(self, small_city: City, tmp_path: Path) -> None:
        street = small_city.chain.units(Level.STREET)[0]
        city = small_city.chain.city
        path = write(
            tmp_path, "\ufeff" + GOOD.format(street=street, city=city).replace("\n", "\r\n")
        )
        s1, w1 = load_depots(path, small_city)
        assert s1 == Depot(
            id="S1",
            kind="supermarket",
            unit=street,
            name="Shop",
            stock={"food": 1000},
            restock={"food": 100},
            dispatch=500,
        )
        assert w1.serves == "city"

    def test_every_problem_at_its_line(self, small_city: City, tmp_path: Path) -> None:
        street = small_city.chain.units(Level.STREET)[0]
        city = small_city.chain.city
        text = (
            "id,kind,unit,serves,dispatch_kg,stock_food\n"
            f"S1,supermarkt,{street},district,10,5\n"
            f"S1,pharmacy,{street},district,x,5\n"
            "S3,pharmacy,nowhere,district,1,-2\n"
            f"S4,warehouse,{city},district,1,1\n"
            f"S5,pharmacy,{street},county,1,1\n"
        )
        with pytest.raises(DepotsError) as info:
            load_depots(write(tmp_path, text), small_city)
        shown = [str(p).split(": ", 1)[1] for p in info.value.problems]
        lines = [p.line for p in info.value.problems]
        assert lines == [2, 3, 3, 4, 4, 5, 6]
        assert shown[0].startswith("kind: unknown kind 'supermarkt' (did you mean 'supermarket'?")
        assert shown[1] == "id: 'S1' repeats the id of line 2"
        assert shown[2] == "dispatch_kg: not a whole number of kilograms: 'x'"
        assert shown[3].startswith("unit: no unit 'nowhere' in the city")
        assert shown[4] == "stock_food: must be 0 or more kg, got -2"
        assert shown[5] == f"serves: a depot at the city level ({city}) must serve 'city'"
        assert shown[6].startswith("serves: unknown area 'county'")
        assert all(str(p).startswith(f"{tmp_path / 'depots.csv'}:") for p in info.value.problems)

    def test_header_problems(self, tmp_path: Path) -> None:
        with pytest.raises(DepotsError) as info:
            load_depots(write(tmp_path, "id,knd,unit\n"))
        messages = [str(p) for p in info.value.problems]
        assert any("1: knd: unknown column (did you mean 'kind'?" in m for m in messages)
        assert any("1: (header): missing required column 'kind'" in m for m in messages)

    def test_not_utf8(self, tmp_path: Path) -> None:
        path = tmp_path / "depots.csv"
        path.write_bytes(b"id,kind,unit\nS1,supermarket,\xff\n")
        with pytest.raises(
            DepotsError, match=r"depots.csv:2: \(file\): not UTF-8 text \(byte 0xff"
        ):
            load_depots(path)

    def test_wrong_number_of_cells(self, tmp_path: Path) -> None:
        with pytest.raises(DepotsError, match=r"depots.csv:2: \(row\): 2 cells \(expected 3\)"):
            load_depots(write(tmp_path, "id,kind,unit\nS1,supermarket\n"))

    def test_is_a_gridgov_error(self) -> None:
        assert issubclass(DepotsError, GridgovError)


class TestDocs:
    """The examples of docs/supplies.md read as they say."""

    DOC = Path(__file__).resolve().parent.parent / "docs" / "supplies.md"

    def blocks(self, lang: str) -> list[str]:
        from test_docs import fenced_blocks

        return [b.code for b in fenced_blocks(self.DOC) if b.lang == lang]

    def test_the_depots_csv_example_loads(self, jiamusi_city: City, tmp_path: Path) -> None:
        (example,) = [b for b in self.blocks("text") if b.startswith("id,kind,unit")]
        path = tmp_path / "depots.csv"
        path.write_text(example, encoding="utf-8")
        shop, warehouse = load_depots(path, jiamusi_city)
        assert shop.stock == {"food": 30000}
        assert warehouse.serves == "city"

    def test_the_supplies_table_is_the_defaults(self) -> None:
        from gridgov.sim.scenario import Scenario
        from gridgov.sim.supplies import SupplySpec

        (table,) = [b for b in self.blocks("toml") if b.startswith("[supplies]")]
        scenario = Scenario.from_toml('version = 1\n[city]\npreset = "small"\n' + table)
        assert scenario.supplies == SupplySpec()

    def rows(self, header: str) -> list[str]:
        """The first cells of the table whose header row starts with ``header``."""
        lines = self.DOC.read_text(encoding="utf-8").splitlines()
        start = lines.index(header)
        cells = []
        for line in lines[start + 2 :]:
            if not line.startswith("|"):
                break
            cells.append(line.split("|")[1].strip())
        return cells

    def test_the_columns_table_is_supplies_csv(self) -> None:
        """The table of supplies.csv's columns names every column, in order."""
        from gridgov.sim.supplies import SUPPLY_COLUMNS
        from gridgov.supplies import CATEGORIES

        shown: list[str] = []
        for cell in self.rows("| column | what |"):
            for name in cell.replace("`", "").split(", "):
                if "<category>" in name:
                    shown += [name.replace("<category>", k) for k in CATEGORIES]
                else:
                    shown.append(name)
        assert sorted(shown) == sorted(SUPPLY_COLUMNS)

    def test_the_events_table_is_the_supply_events(self) -> None:
        from gridgov.supply_book import SUPPLY_EVENTS

        shown = [cell.strip("`") for cell in self.rows("| event | unit | what |")]
        assert shown == list(SUPPLY_EVENTS)


class TestBundle:
    """depots.csv as an optional part of a city bundle."""

    def test_round_trip(self, small_city: City, tmp_path: Path) -> None:
        from gridgov.cities import load_city, save_city

        depots = synth_depots(small_city)
        save_city(small_city.with_depots(depots), tmp_path / "b")
        assert (tmp_path / "b" / "depots.csv").is_file()
        loaded = load_city(tmp_path / "b")
        assert loaded.depots == depots
        save_city(loaded, tmp_path / "c")
        assert (tmp_path / "c" / "depots.csv").read_bytes() == (
            tmp_path / "b" / "depots.csv"
        ).read_bytes()

    def test_no_depots_no_file(self, small_city: City, tmp_path: Path) -> None:
        from gridgov.cities import load_city, save_city

        save_city(small_city, tmp_path / "b")
        assert not (tmp_path / "b" / "depots.csv").exists()
        assert load_city(tmp_path / "b").depots == ()

    def test_problems_join_the_bundle(self, small_city: City, tmp_path: Path) -> None:
        from gridgov.cities import check_bundle, load_city, save_city
        from gridgov.errors import CityError

        save_city(small_city, tmp_path / "b")
        (tmp_path / "b" / "depots.csv").write_text(
            "id,kind,unit\nS1,supermarkt,nowhere\n", encoding="utf-8"
        )
        with pytest.raises(CityError) as info:
            load_city(tmp_path / "b")
        shown = [str(p) for p in info.value.problems]
        assert any("depots.csv:2: unit: no unit 'nowhere' in the city" in p for p in shown)
        assert any("depots.csv:2: kind: unknown kind 'supermarkt'" in p for p in shown)
        # Checking without building the city sees the file's own problems only.
        checked = [str(p) for p in check_bundle(tmp_path / "b")]
        assert any("depots.csv:2: kind: unknown kind 'supermarkt'" in p for p in checked)

    def test_a_scenario_uses_the_bundles_depots(self, small_city: City, tmp_path: Path) -> None:
        from gridgov.cities import save_city
        from gridgov.sim.scenario import load_scenario

        street = small_city.chain.units(Level.STREET)[0]
        shop = Depot(id="X1", kind="supermarket", unit=street, stock={"food": 5}, dispatch=5)
        save_city(small_city.with_depots([shop]), tmp_path / "b")
        (tmp_path / "s.toml").write_text(
            'version = 1\n[city]\npath = "b"\n[supplies]\n', encoding="utf-8"
        )
        scenario = load_scenario(tmp_path / "s.toml")
        assert scenario.supplies is not None
        assert scenario.supplies.depots_for(scenario.build_city()) == (shop,)

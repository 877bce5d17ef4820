"""Maps of a run: zones.csv, static maps, the interactive map, report.html in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

shapely = pytest.importorskip("shapely", reason="the geo extra (shapely) is not installed")

from gridgov import City  # noqa: E402
from gridgov.geo import CityGeometry, synthesize  # noqa: E402
from gridgov.geo.maps import (  # noqa: E402
    ZONE_COLOURS,
    ZoneDays,
    zone_map_html,
    zone_map_png,
    zone_strip_png,
)
from gridgov.sim.report import write_report  # noqa: E402
from gridgov.sim.results import read_zones, write_run  # noqa: E402
from gridgov.sim.runner import run_scenario  # noqa: E402
from gridgov.sim.scenario import load_scenario  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SMALL_SCENARIO = ROOT / "examples" / "scenarios" / "small.toml"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def small_geo(small_city: City) -> CityGeometry:
    return synthesize(small_city)


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small scenario run and reported once for the module."""
    folder = tmp_path_factory.mktemp("run")
    result = run_scenario(load_scenario(SMALL_SCENARIO))
    write_run(result, folder, plots=False)
    write_report(folder)
    return folder


def _days(city: City) -> ZoneDays:
    first, second, third = sorted(city.compounds)[:3]
    return ZoneDays(
        (0, 1, 2, 3),
        (
            {first: "precaution"},
            {first: "sealed", second: "controlled"},
            {first: "sealed", second: "sealed", third: "precaution"},
            {},
        ),
    )


class TestZoneDays:
    """Zones day by day: the peak is the first day with the most sealed compounds."""

    def test_peak_is_the_first_day_with_most_sealed(self, small_city: City) -> None:
        assert _days(small_city).peak == 2

    def test_days_and_zone_maps_must_pair_up(self) -> None:
        with pytest.raises(ValueError, match="2 days but 1 zone maps"):
            ZoneDays((0, 1), ({},))


class TestRunFolder:
    """A run writes zones.csv (non-open compounds by day) and reads it back."""

    def test_zones_round_trip(self, run_folder: Path) -> None:
        result = run_scenario(load_scenario(SMALL_SCENARIO))
        back = read_zones(run_folder)
        assert [day for day, _ in back] == [day for day, _ in result.zone_days]
        assert [zones for _, zones in back] == [dict(z) for _, z in result.zone_days]
        assert any(zones for _, zones in back), "the small scenario seals something"
        assert all(zone != "open" for _, zones in back for zone in zones.values())

    def test_damaged_zones_csv_is_named(self, run_folder: Path, tmp_path: Path) -> None:
        copy = tmp_path / "run"
        shutil.copytree(run_folder, copy)
        (copy / "zones.csv").write_text("day,compound,zone\n999,X,sealed\n", encoding="utf-8")
        from gridgov.sim.results import RunFolderError

        with pytest.raises(RunFolderError, match=r"zones.csv:2: expected a day of metrics.csv"):
            read_zones(copy)


class TestStaticMaps:
    """PNG maps: the peak day and a strip over the run, in the zone colours."""

    def _pixels(self, png: bytes) -> np.ndarray:
        import io

        import matplotlib.image as mpimg

        return np.asarray(mpimg.imread(io.BytesIO(png), format="png"))[:, :, :3]

    def _has(self, image: np.ndarray, colour: str) -> int:
        rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255
        return int((np.abs(image - rgb).max(axis=2) < 0.02).sum())

    def test_peak_map_shows_sealed_and_precaution(
        self, small_city: City, small_geo: CityGeometry
    ) -> None:
        png = zone_map_png(small_city, small_geo, _days(small_city))
        assert png.startswith(PNG_MAGIC)
        image = self._pixels(png)
        assert self._has(image, ZONE_COLOURS["sealed"]) > 500
        assert self._has(image, ZONE_COLOURS["precaution"]) > 100
        # Not on the peak day: only the legend's swatch has it.
        assert self._has(image, ZONE_COLOURS["controlled"]) < 300

    def test_strip_has_every_day_of_a_short_run(
        self, small_city: City, small_geo: CityGeometry
    ) -> None:
        days = _days(small_city)
        calm = ZoneDays(
            days.days,
            tuple({c: z for c, z in d.items() if z != "controlled"} for d in days.zones),
        )
        with_it = self._pixels(zone_strip_png(small_city, small_geo, days, panels=6))
        without = self._pixels(zone_strip_png(small_city, small_geo, calm, panels=6))
        colour = ZONE_COLOURS["controlled"]
        # Day 1 (the only controlled compound) is one of the panels.
        assert self._has(with_it, colour) > self._has(without, colour) + 100


class TestInteractiveMap:
    """The inline-SVG map: one path per compound shown, data for every day, nothing fetched."""

    def test_fragment_carries_paths_days_and_figures(
        self, small_city: City, small_geo: CityGeometry
    ) -> None:
        fragment = zone_map_html(small_city, small_geo, _days(small_city))
        paths = re.findall(r'<path class="zm-c" data-i="(\d+)"', fragment)
        data = json.loads(
            re.search(r'<script type="application/json" id="zm-data">(.*?)</script>', fragment)
            .group(1)  # type: ignore[union-attr]
            .replace("<\\/", "</")
        )
        assert len(paths) == len(data["info"]) == len(data["zones"][0])
        assert data["days"] == [0, 1, 2, 3]
        shown = [row[0] for row in data["info"]]
        first = sorted(small_city.compounds)[0]
        assert data["zones"][2][shown.index(first)] == "3"  # sealed on day 2
        assert data["info"][shown.index(first)][3] == small_city.households(first)
        assert 'value="2"' in fragment  # the slider starts on the peak day

    def test_nothing_is_fetched_from_the_network(
        self, small_city: City, small_geo: CityGeometry
    ) -> None:
        fragment = zone_map_html(small_city, small_geo, _days(small_city))
        assert "<link" not in fragment
        assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", fragment)
        assert "@import" not in fragment


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("chromium is not installed (CI installs it: apt-get install -y chromium)")


def _run_chromium(*args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


class TestReportInChromium:
    """report.html draws its map in a real browser, in the zone colours, with no console output."""

    def test_report_has_the_map_section(self, run_folder: Path) -> None:
        page = (run_folder / "report.html").read_text(encoding="utf-8")
        assert "<h2>Map: compounds by zone</h2>" in page
        data = json.loads(
            re.search(r'<script type="application/json" id="zm-data">(.*?)</script>', page)
            .group(1)  # type: ignore[union-attr]
            .replace("<\\/", "</")
        )
        shown = [row[0] for row in data["info"]]
        assert page.count('<path class="zm-c"') == len(shown)
        ever = {c for _, zones in read_zones(run_folder) for c in zones}
        assert ever <= set(shown)
        assert "Synthetic geometry" in page

    def test_screenshot_shows_the_zone_colours_and_the_page_logs_nothing(
        self, run_folder: Path, tmp_path: Path
    ) -> None:
        shot = tmp_path / "shot.png"
        done = _run_chromium(
            f"--screenshot={shot}", "--window-size=1280,2200", (run_folder / "report.html").as_uri()
        )
        assert done.returncode == 0, done.stderr[-2000:]
        console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
        assert console == []
        import matplotlib.image as mpimg

        image = np.asarray(mpimg.imread(shot))[:, :, :3]
        assert image.std() > 0.05, "the screenshot is blank"
        for zone in ("sealed", "open"):
            rgb = np.array([int(ZONE_COLOURS[zone][i : i + 2], 16) for i in (1, 3, 5)]) / 255
            assert (np.abs(image - rgb).max(axis=2) < 0.02).sum() > 500, zone

    def test_the_script_runs_and_colours_every_compound(self, run_folder: Path) -> None:
        done = _run_chromium("--dump-dom", (run_folder / "report.html").as_uri())
        assert done.returncode == 0, done.stderr[-2000:]
        label = re.search(r'<output id="zm-label" for="zm-day">(.*?)</output>', done.stdout)
        assert label is not None
        assert re.fullmatch(r"day \d+: \d+ sealed", label.group(1))
        fills = re.findall(
            r'<path class="zm-c" data-i="\d+" d="[^"]*" fill="(#[0-9a-f]{6})"', done.stdout
        )
        assert len(fills) == done.stdout.count('<path class="zm-c"') >= 3
        assert set(fills) <= set(ZONE_COLOURS.values())


def test_docs_zone_colour_table_matches_the_code() -> None:
    """docs/geo.md's table of zone colours is the one the maps use."""
    page = (ROOT / "docs" / "geo.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(\w+)` \| `(#[0-9a-f]{6})`", page, flags=re.M))
    assert rows == dict(ZONE_COLOURS)


class TestExportWithARun:
    """gridgov export --format geojson --run DIR adds zones and modes of one day."""

    def test_peak_day_zones_and_modes(
        self, run_folder: Path, small_city: City, tmp_path: Path
    ) -> None:
        from gridgov.cli import main
        from gridgov.sim.results import read_modes

        target = tmp_path / "run.geojson"
        argv = ["export", "--preset", "small", "--format", "geojson", "--run", str(run_folder)]
        assert (
            main([*argv, "--level", "compound", "--level", "community", "--out", str(target)]) == 0
        )
        features = json.loads(target.read_text(encoding="utf-8"))["features"]
        zones = read_zones(run_folder)
        modes = dict(read_modes(run_folder))
        sealed = [sum(z == "sealed" for z in by.values()) for _, by in zones]
        day, zone_of = zones[sealed.index(max(sealed))]
        for feature in features:
            props = feature["properties"]
            assert props["day"] == day
            if props["level"] == "compound":
                assert props["zone"] == zone_of.get(props["id"], "open")
            else:
                assert props["mode"] == modes[day].get(props["id"], "normal")
        assert {f["properties"]["level"] for f in features} == {"compound", "community"}

    def test_a_day_outside_the_run_is_refused(
        self, run_folder: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        from gridgov.cli import main

        argv = ["export", "--preset", "small", "--format", "geojson", "--run", str(run_folder)]
        assert main([*argv, "--day", "999"]) == 1
        assert "day 999 is not a day of run" in capsys.readouterr().err

    def test_a_run_of_another_city_is_refused(
        self, run_folder: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        from gridgov.cli import main

        argv = ["export", "--preset", "jiamusi", "--format", "geojson", "--run", str(run_folder)]
        assert main(argv) == 1
        assert "is of another city" in capsys.readouterr().err

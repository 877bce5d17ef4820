"""report.html of the demo: the published table first, labelled figures, readable plots,
the scenario's parameters; self-contained; and it opens in a real browser (headless
Chromium) with the published table in the DOM and nothing on the console."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import DemoRun
from gridgov.sim._plots import ZONE_COLOURS
from gridgov.sim.report import SECTIONS, add_section, write_report

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


pytestmark = pytest.mark.xdist_group("demo")


@pytest.fixture(scope="module")
def demo_folder(demo_run: DemoRun) -> Path:
    """The demo's run folder and report (the 17 September scenario, run once: conftest)."""
    assert demo_run.code == 0, demo_run.err
    return demo_run.folder


@pytest.fixture(scope="module")
def page(demo_folder: Path) -> str:
    return (demo_folder / "report.html").read_text(encoding="utf-8")


def section(page: str, name: str) -> str:
    match = re.search(rf'<section id="{name}">(.*?)</section>', page, flags=re.S)
    assert match is not None, name
    return match.group(1)


class TestDemoReport:
    def test_the_published_table_comes_first(self, page: str) -> None:
        order = [m.group(1) for m in re.finditer(r'<section id="([\w-]+)">', page)]
        assert order[:2] == ["published", "summary"]
        published = section(page, "published")
        for text in ("grids: total", "8,886", "37,762", "652", "4,000+", "10,000+"):
            assert text in published, text

    def test_figures_are_labelled_grouped_with_units(self, page: str, demo_folder: Path) -> None:
        import json

        sealed = json.loads((demo_folder / "summary.json").read_text(encoding="utf-8"))[
            "household_days_sealed"
        ]
        assert float(sealed).is_integer()
        summary = section(page, "summary")
        assert [h for h in re.findall(r"<h3>(.*?)</h3>", summary)][:4] == [
            "Cases",
            "Measures",
            "Staffing",
            "Requests",
        ]
        assert "household_days" not in summary  # no snake_case keys
        row = re.search(r"<td>Household-days sealed</td><td[^>]*>([^<]*)</td>", summary)
        assert row is not None
        assert row.group(1) == f"{int(sealed):,}"  # a whole float as an integer, with separators
        assert '<td class="unit">hours</td>' in summary

    def test_parameters_are_shown(self, page: str) -> None:
        parameters = section(page, "parameters")
        assert "outbreak.driver" in parameters
        assert "run.days" in parameters
        assert "The rules of the run" in parameters

    def test_self_contained(self, page: str) -> None:
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
        assert "@import" not in page
        assert len(re.findall(r'src="data:image/png;base64,', page)) >= 6

    def test_plots_have_units_and_the_zone_colours(self, demo_folder: Path) -> None:
        import matplotlib.image as mpimg
        import numpy as np

        image = np.asarray(mpimg.imread(demo_folder / "plot_compounds.png"))[:, :, :3]
        sealed = np.array([int(ZONE_COLOURS["sealed"][i : i + 2], 16) for i in (1, 3, 5)]) / 255
        assert (np.abs(image - sealed).max(axis=2) < 0.02).sum() > 100

    def test_the_map_palette_is_the_plots_palette(self) -> None:
        maps = pytest.importorskip("gridgov.geo.maps")
        assert dict(maps.ZONE_COLOURS) == dict(ZONE_COLOURS)


def test_a_section_can_be_added(demo_folder: Path, tmp_path: Path) -> None:
    """add_section puts a section in its place, and replaces one of the same name."""
    folder = tmp_path / "run"
    shutil.copytree(demo_folder, folder)
    before = list(SECTIONS)
    try:
        add_section("extra", lambda path, data: ["<h2>Extra</h2>"], after="published")
        page = write_report(folder).read_text(encoding="utf-8")
    finally:
        SECTIONS[:] = before
    order = [m.group(1) for m in re.finditer(r'<section id="([\w-]+)">', page)]
    assert order[:3] == ["published", "extra", "summary"]


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
            timeout=180,
            check=False,
        )


class TestDemoReportInChromium:
    def test_screenshot_is_not_blank_and_the_console_is_quiet(
        self, demo_folder: Path, tmp_path: Path
    ) -> None:
        shot = tmp_path / "shot.png"
        done = _run_chromium(
            f"--screenshot={shot}",
            "--window-size=1280,1600",
            (demo_folder / "report.html").as_uri(),
        )
        assert done.returncode == 0, done.stderr[-2000:]
        console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
        assert console == []
        import matplotlib.image as mpimg
        import numpy as np

        image = np.asarray(mpimg.imread(shot))[:, :, :3]
        assert image.std() > 0.05, "the screenshot is blank"

    def test_the_published_table_is_in_the_dom_first(self, demo_folder: Path) -> None:
        done = _run_chromium("--dump-dom", (demo_folder / "report.html").as_uri())
        assert done.returncode == 0, done.stderr[-2000:]
        dom = done.stdout
        first = dom.index("<table")
        assert dom.index('<table class="published">') == first
        assert re.search(r"<td>grids: total</td><td[^>]*>8,886</td>", dom)

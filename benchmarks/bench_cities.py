"""City bundles: loading, saving and checking the Jiamusi bundle, and linearity.

``city_bundle``
    ``load``: ``gridgov.load_city`` on the Jiamusi preset saved as a bundle
    (138 streets, 8,886 grids, about 31,000 buildings and 108,000 people),
    median wall time; baseline: building the preset itself,
    ``gridgov.presets.jiamusi()``, in the same run, runs interleaved with the
    loads (``ratio`` = load / build).
    ``load_vs_build`` is that ratio as a figure of its own (target < 1.5).
    ``save``: ``City.save`` of the same city into a fresh folder; baseline:
    writing the same rows with a bare ``csv.writer`` (no quoting checks, no
    encoding checks). ``check``: ``gridgov.check_bundle`` (validation only,
    no city built); baseline: parsing the six files with a bare
    ``csv.reader``.

``bundle_linearity``
    ``load_4x``: loading a bundle four times Jiamusi (four renamed copies of
    every district, street, community, grid, compound, building,
    organisation and person under one city), divided by the 1x load time
    measured in the same run (target < 4.4: loading is linear). Each load
    starts after an untimed ``gc.collect()`` (as in ``bench_scaling``: it
    pays for the full collections its own objects cause, not for those the
    load before left pending); ``collector`` lists, per run, the full
    collections inside the load and their wall time. Baseline: the same
    ratio for the least any loader does with these bytes in Python, measured
    in the same run (``_bare_read``: each file read, decoded, split into
    columns and its first column indexed in a dict; no checks, no city),
    so the figure can be read against what this machine's memory makes of
    four times the data.
"""

from __future__ import annotations

import atexit
import csv
import functools
import io
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

import gridgov
from benchmarks import benchmark, figure, median_wall
from benchmarks.bench_scaling import _timed
from gridgov.cities import COLUMNS, check_bundle, load_city
from gridgov.presets import jiamusi

LOAD_TARGET_S = 1.0
LOAD_RATIO_TARGET = 1.5
SAVE_TARGET_S = 1.0
CHECK_TARGET_S = 1.0
LINEAR_TARGET = 4.4

# Columns that hold ids (renamed in the copies of a scaled-up bundle).
_ID_COLUMNS = {
    "id",
    "parent",
    "community",
    "grid",
    "compound",
    "home",
    "post_unit",
    "employer",
    "exclusive_grid",
    "organisation",
    "code",
}


@functools.cache
def _city() -> gridgov.City:
    return jiamusi()


@functools.cache
def _folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="gridgov-bench-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


@functools.cache
def _bundle() -> Path:
    return _city().save(_folder() / "jiamusi")


@functools.cache
def _bundle_4x() -> Path:
    """Four renamed copies of the Jiamusi bundle under one city."""
    source = _bundle()
    out = _folder() / "jiamusi-4x"
    out.mkdir()
    shutil.copy(source / "city.toml", out / "city.toml")
    city_id = _city().chain.city
    for name in COLUMNS:
        path = source / name
        if not path.exists():
            continue
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
        header, body = rows[0], rows[1:]
        renamed = [i for i, column in enumerate(header) if column in _ID_COLUMNS]
        with open(out / name, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            for copy in "ABCD":
                for row in body:
                    row = list(row)
                    for i in renamed:
                        if row[i] and row[i] != city_id:
                            row[i] = f"{copy}{row[i]}"
                    writer.writerow(row)
    return out


def _plain_write(folder: Path) -> None:
    city = _city()
    folder.mkdir(parents=True, exist_ok=True)
    tables = {
        "units.csv": [
            (u.id, u.parent or "", u.level.value, u.kind, u.name, u.code)
            for u in (city.chain.unit(n) for n in city.chain.units())
        ],
        "compounds.csv": [
            (c.id, c.community, c.name, c.kind, c.entrances) for c in city.compounds.values()
        ],
        "buildings.csv": [
            (b.id, b.grid, b.compound or "", b.households) for b in city.buildings.values()
        ],
        "organisations.csv": [
            (o.id, o.kind, o.community, o.name, o.staff, o.exclusive_grid or "")
            for o in city.organisations.values()
        ],
        "people.csv": [
            (
                p.id,
                p.kind,
                p.home,
                p.normal_post.role,
                p.normal_post.unit,
                p.employer or "",
                p.grid_worker_kind or "",
            )
            for p in city.people.values()
        ],
    }
    for name, rows in tables.items():
        with open(folder / name, "w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows(rows)


def _plain_read(folder: Path) -> int:
    rows = 0
    for name in COLUMNS:
        path = folder / name
        if path.exists():
            with open(path, encoding="utf-8", newline="") as handle:
                rows += sum(1 for _ in csv.reader(handle))
    return rows


@benchmark("city_bundle")
def city_bundle(quick: bool) -> dict[str, dict[str, object]]:
    """Load, save and check the Jiamusi bundle, against building the preset."""
    repeat = 1 if quick else 5
    bundle = _bundle()
    assert check_bundle(bundle) == []
    assert load_city(bundle).summary() == _city().summary()
    # Interleaved, so that both see the same machine (others' load comes and goes).
    load_runs: list[float] = []
    build_runs: list[float] = []
    for _ in range(repeat):
        load_runs.extend(median_wall(lambda: load_city(bundle), 1)[1])
        build_runs.extend(median_wall(jiamusi, 1)[1])
    load_s, build_s = statistics.median(load_runs), statistics.median(build_runs)
    counter = iter(range(10**6))
    save_s, _ = median_wall(lambda: _city().save(_folder() / f"save-{next(counter)}"), repeat)
    plain_s, _ = median_wall(lambda: _plain_write(_folder() / f"plain-{next(counter)}"), repeat)
    check_s, _ = median_wall(lambda: check_bundle(bundle), repeat)
    parse_s, _ = median_wall(lambda: _plain_read(bundle), repeat)
    size = sum(p.stat().st_size for p in bundle.iterdir())
    return {
        "load": figure(
            load_s,
            "s",
            LOAD_TARGET_S,
            f"gridgov.load_city on the Jiamusi bundle ({size / 1e6:.1f} MB), median of {repeat}",
            baseline=build_s,
            baseline_what="gridgov.presets.jiamusi(), the preset built in the same run",
            runs=[round(r, 4) for r in load_runs],
            baseline_runs=[round(r, 4) for r in build_runs],
        ),
        "load_vs_build": figure(
            load_s / build_s,
            "x",
            LOAD_RATIO_TARGET,
            "load time of the bundle divided by the build time of the preset (same run)",
        ),
        "save": figure(
            save_s,
            "s",
            SAVE_TARGET_S,
            f"City.save of the Jiamusi preset into a fresh folder, median of {repeat}",
            baseline=plain_s,
            baseline_what="the same rows written with a bare csv.writer",
        ),
        "check": figure(
            check_s,
            "s",
            CHECK_TARGET_S,
            f"gridgov.check_bundle on the Jiamusi bundle (no city built), median of {repeat}",
            baseline=parse_s,
            baseline_what="the same files parsed with a bare csv.reader",
        ),
    }


def _bare_read(path: Path) -> int:
    """The least a loader does with a bundle's bytes: each CSV file read, decoded,
    split into columns, and its first column (the ids) indexed in a dict."""
    rows = 0
    for name in COLUMNS:
        file = path / name
        if not file.exists():
            continue
        lines = file.read_bytes().decode("utf-8").splitlines()
        columns = list(zip(*(line.split(",") for line in lines[1:]), strict=True))
        index = dict(zip(columns[0], range(len(columns[0])), strict=True)) if columns else {}
        rows += len(index)
    return rows


@benchmark("bundle_linearity")
def bundle_linearity(quick: bool) -> dict[str, dict[str, object]]:
    """Loading four times Jiamusi takes about four times as long (linear)."""
    repeat = 1 if quick else 3
    one, four = _bundle(), _bundle_4x()
    assert check_bundle(four) == []
    one_runs: list[float] = []
    four_runs: list[float] = []
    seen: dict[str, list[dict[str, Any]]] = {"1x": [], "4x": []}
    for _ in range(repeat):  # interleaved, as above
        for runs, path, key in ((one_runs, one, "1x"), (four_runs, four, "4x")):
            collector: dict[str, Any] = {}
            seconds, city = _timed(functools.partial(load_city, path), collector)
            del city
            runs.append(seconds)
            seen[key].append(collector)
    one_s, four_s = statistics.median(one_runs), statistics.median(four_runs)
    bare: dict[str, list[float]] = {"1x": [], "4x": []}
    for _ in range(repeat):
        for path, key in ((one, "1x"), (four, "4x")):
            seconds, _rows = _timed(functools.partial(_bare_read, path), {})
            bare[key].append(seconds)
    bare_one, bare_four = statistics.median(bare["1x"]), statistics.median(bare["4x"])
    return {
        "load_4x": figure(
            four_s / one_s,
            "x",
            LINEAR_TARGET,
            f"load time of a 4x Jiamusi bundle divided by the 1x load time, median of {repeat}",
            baseline=bare_four / bare_one,
            baseline_what="the same ratio for reading, decoding and splitting the same files "
            "into columns and indexing their ids in a dict, in plain Python (no checks, no "
            f"city), median of {repeat}",
            bare_one_x_s=round(bare_one, 4),
            bare_four_x_s=round(bare_four, 4),
            one_x_s=round(one_s, 4),
            four_x_s=round(four_s, 4),
            runs=[round(r, 4) for r in four_runs],
            one_x_runs=[round(r, 4) for r in one_runs],
            collector=seen,
        ),
    }

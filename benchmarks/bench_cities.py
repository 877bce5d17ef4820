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
    measured in the same run (target < 4.4: loading is linear). Each load is
    timed in a fresh interpreter of its own (``_fresh``: gridgov imported,
    the small preset's bundle loaded once to import what a first load
    imports (numpy, the bundle parts), ``gc.collect()``, then the load
    timed, all untimed but the load), the
    1x and 4x runs interleaved, median of 5: a load does not inherit the
    heap the loads before it left (in one long process a 1x load after a 4x
    one reuses the 4x heap's pages, about 5,000 page faults instead of
    27,000, while a 4x load after a 1x one pays about 70,000 of its 101,000;
    see RESULTS.md, "bundle linearity in fresh interpreters"). The collector
    runs as a user's would; ``collector`` lists, per run, the full
    collections inside the load and their wall time, ``faults`` the minor
    page faults. Baseline: the same ratio, measured the same way in the same
    run, for the least any loader does with these bytes in Python
    (``_bare_read``: each file read, decoded, split into columns and its
    first column indexed in a dict; no checks, no city), so the figure can
    be read against what this machine's memory makes of four times the
    data. ``in_process`` keeps the figures of the previous method (every
    load in the benchmark's own process, after an untimed ``gc.collect()``,
    median of 3), measured in the same run, for comparison.
"""

from __future__ import annotations

import atexit
import csv
import functools
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import gridgov
from benchmarks import benchmark, figure, median_wall
from benchmarks.bench_scaling import _timed
from gridgov.cities import COLUMNS, check_bundle, load_city
from gridgov.presets import jiamusi, small

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


@functools.cache
def _small_bundle() -> Path:
    """The small preset's bundle: what a fresh interpreter loads to warm up."""
    return small().save(_folder() / "small")


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


# One timed step in a fresh interpreter: gridgov imported and warmed up by
# loading the small preset's bundle (the modules a load imports on its first
# call, numpy and the bundle parts among them, are imported before the timing,
# as in the benchmark's own process), then ``_timed`` (the heap collected,
# only the step timed).
_FRESH = """\
import json, resource, sys
from pathlib import Path
from benchmarks.bench_cities import _bare_read
from benchmarks.bench_scaling import _timed
from gridgov.cities import load_city
what, path, warm = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
load_city(warm)
_bare_read(Path(warm))
step = (lambda: load_city(path)) if what == "load" else (lambda: _bare_read(path))
collector = {}
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
seconds, cpu, out = _timed(step, collector)
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
size = len(out.people) if what == "load" else out
print(json.dumps({"seconds": seconds, "cpu_s": cpu, "faults": faults, "size": size, **collector}))
"""


def _fresh(what: str, path: Path) -> dict[str, Any]:
    """Time ``load_city`` (``what`` = "load") or ``_bare_read`` on ``path`` in a
    fresh interpreter running this benchmark's gridgov."""
    root = Path(__file__).resolve().parent.parent
    src = Path(gridgov.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(src), str(root)))}
    done = subprocess.run(
        [sys.executable, "-c", _FRESH, what, str(path), str(_small_bundle())],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        env=env,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _in_process(one: Path, four: Path, repeat: int) -> dict[str, Any]:
    """The previous method: every load in this process, interleaved, after an
    untimed ``gc.collect()`` (figures kept for comparison, same run)."""
    runs: dict[str, list[float]] = {"1x": [], "4x": [], "bare_1x": [], "bare_4x": []}
    for _ in range(repeat):
        for path, key in ((one, "1x"), (four, "4x")):
            seconds, _cpu, city = _timed(functools.partial(load_city, path), {})
            del city
            runs[key].append(seconds)
    for _ in range(repeat):
        for path, key in ((one, "bare_1x"), (four, "bare_4x")):
            runs[key].append(_timed(functools.partial(_bare_read, path), {})[0])
    med = {key: statistics.median(values) for key, values in runs.items()}
    return {
        "load_4x": round(med["4x"] / med["1x"], 3),
        "bare_4x": round(med["bare_4x"] / med["bare_1x"], 3),
        "one_x_s": round(med["1x"], 4),
        "four_x_s": round(med["4x"], 4),
        "runs": {key: [round(v, 4) for v in values] for key, values in runs.items()},
    }


@benchmark("bundle_linearity")
def bundle_linearity(quick: bool) -> dict[str, dict[str, object]]:
    """Loading four times Jiamusi takes about four times as long (linear)."""
    repeat = 1 if quick else 5
    one, four = _bundle(), _bundle_4x()
    assert check_bundle(four) == []
    people = len(_city().people)
    seen: dict[str, list[dict[str, Any]]] = {"1x": [], "4x": [], "bare_1x": [], "bare_4x": []}
    for _ in range(repeat):  # interleaved, so that load changes hit each alike
        for what, path, key in (
            ("load", one, "1x"),
            ("load", four, "4x"),
            ("bare", one, "bare_1x"),
            ("bare", four, "bare_4x"),
        ):
            run = _fresh(what, path)
            if what == "load":
                assert run["size"] == people * (1 if path == one else 4), run
            seen[key].append(run)
    med = {key: statistics.median(r["seconds"] for r in runs) for key, runs in seen.items()}
    cpu = {key: statistics.median(r["cpu_s"] for r in runs) for key, runs in seen.items()}
    one_s, four_s = med["1x"], med["4x"]
    bare_one, bare_four = med["bare_1x"], med["bare_4x"]
    in_process = _in_process(one, four, 1 if quick else 3)
    return {
        "load_4x": figure(
            four_s / one_s,
            "x",
            LINEAR_TARGET,
            f"load time of a 4x Jiamusi bundle divided by the 1x load time, each load in a "
            f"fresh interpreter, median of {repeat}",
            baseline=bare_four / bare_one,
            baseline_what="the same ratio for reading, decoding and splitting the same files "
            "into columns and indexing their ids in a dict, in plain Python (no checks, no "
            f"city), each in a fresh interpreter, median of {repeat}",
            bare_one_x_s=round(bare_one, 4),
            bare_four_x_s=round(bare_four, 4),
            one_x_s=round(one_s, 4),
            four_x_s=round(four_s, 4),
            cpu_ratio=round(cpu["4x"] / cpu["1x"], 3),
            bare_cpu_ratio=round(cpu["bare_4x"] / cpu["bare_1x"], 3),
            runs=[round(r["seconds"], 4) for r in seen["4x"]],
            one_x_runs=[round(r["seconds"], 4) for r in seen["1x"]],
            faults={key: [r["faults"] for r in runs] for key, runs in seen.items()},
            collector={
                key: [{k: r[k] for k in ("full_collections", "full_collections_s")} for r in runs]
                for key, runs in seen.items()
                if not key.startswith("bare")
            },
            in_process=in_process,
        ),
    }

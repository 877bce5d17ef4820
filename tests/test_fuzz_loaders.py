"""Loaders that cannot be crashed: mutated rules, scenario, sweep, cases and run files.

A mutator takes the example files and breaks them (spans cut, doubled or
swapped, tokens of TOML and CSV put in, numbers made huge, negative, nan or
inf, brackets nested deep, bytes that are not UTF-8) and hands each mutant to
its loader. Every loader must either accept it or raise a gridgov error: no
other exception, ever. And what a loader accepts must run: an accepted
scenario (or a scenario on accepted rules) runs a few days without an
exception.

The default run tries a few hundred mutants per kind; the ``slow`` run
(CI) tries 5,000 per kind, 20,000 in all.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from gridgov.errors import GridgovError
from gridgov.rules import load_rules
from gridgov.sim.results import read_run, write_run
from gridgov.sim.runner import run_scenario
from gridgov.sim.scenario import Scenario, load_scenario
from gridgov.sim.sweep import load_sweep, plan_sweep

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "examples" / "scenarios"
RULES = ROOT / "examples" / "rules"

TOKENS = [
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "=",
    ",",
    '"',
    "'",
    '"""',
    "\n",
    "#",
    ".",
    "nan",
    "inf",
    "-inf",
    "-1",
    "0",
    "1e308",
    "3e6",
    "1e9",
    "99999999999999999999",
    "-99999999999999999999",
    "true",
    "1979-05-27T07:32:00Z",
    "[zones.sealed]",
    "[modes]",
    "[run]",
    "[outbreak]",
    "[rules]",
    "[rules.inline.case]",
    "[requests.sealed]",
    "[staffing]",
    "[parameters]",
    'path = "/dev/zero"',
    'cases_csv = "/dev/zero"',
    'scenario = "/dev/zero"',
    "days = ",
    "after_quiet_days = ",
    "recovery_days = ",
    "step_hours = ",
    "seed = ",
    "replicates = ",
    "day,compound\n",
    "\x00",
    "a.b.c.d.e.f.g = 1",
]
NUMBERS = ["nan", "inf", "-inf", "-1", "0", "1e308", "1e-308", "3e6", "1e9", "2" * 30, "0.5"]


def mutate(rng: random.Random, text: str) -> bytes:
    """One mutant of ``text`` (as bytes: some mutants are not UTF-8).

    Half the mutants change one number only (so that many are still accepted,
    with values at the edges of their ranges); the others make up to four
    changes of any kind.
    """
    out = text
    mild = rng.random() < 0.5
    for _ in range(1 if mild else rng.randint(1, 4)):
        kind = 3 if mild else rng.randrange(8)
        i, j = sorted(rng.randrange(len(out) + 1) for _ in range(2))
        if kind == 0:  # cut a span
            out = out[:i] + out[j:]
        elif kind == 1:  # double a span
            out = out[:j] + out[i:j] + out[j:]
        elif kind == 2:  # a token
            out = out[:i] + rng.choice(TOKENS) + out[i:]
        elif kind == 3:  # a number replaced
            digits = [k for k, c in enumerate(out) if c.isdigit()]
            if digits:
                k = rng.choice(digits)
                end = k
                while end < len(out) and (out[end].isdigit() or out[end] in ".e+-"):
                    end += 1
                out = out[:k] + rng.choice(NUMBERS) + out[end:]
        elif kind == 4:  # deep nesting
            depth = rng.choice([20, 200, 600, 2000])
            opener, closer = rng.choice([("[", "]"), ("{a=", "}")])
            out = out[:i] + f"x{i} = " + opener * depth + "1" + closer * depth + "\n" + out[i:]
        elif kind == 5:  # swap two lines
            lines = out.split("\n")
            a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[a], lines[b] = lines[b], lines[a]
            out = "\n".join(lines)
        elif kind == 6:  # a long value
            out = out[:i] + "x" * rng.choice([100, 200_000]) + out[i:]
        else:  # a key duplicated under another table
            out = out + "\n" + out[i:j]
    data = out.encode("utf-8")
    if rng.random() < 0.05:
        k = rng.randrange(len(data) + 1)
        data = data[:k] + bytes([rng.choice([0x80, 0xFF, 0xC3, 0x00])]) + data[k:]
    return data


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the example files, where mutants are written beside them."""
    base = tmp_path_factory.mktemp("fuzz")
    for name in ("small.toml", "replay.toml", "cases.csv", "sweep.toml"):
        shutil.copy(SCENARIOS / name, base / name)
    shutil.copy(RULES / "sept17.toml", base / "rules.toml")
    with_rules = (SCENARIOS / "small.toml").read_text(encoding="utf-8")
    (base / "with_rules.toml").write_text(
        with_rules + '\n[rules]\npath = "rules.toml"\n', encoding="utf-8"
    )
    return base


def _short(scenario: Scenario) -> Scenario:
    """The scenario cut to at most three days (its later cases left out), so that an
    accepted mutant runs fast. Every other value stays as the loader accepted it."""
    days = min(scenario.run.days, 3)
    cases = tuple(case for case in scenario.outbreak.cases if case.day < days)
    return attrs.evolve(
        scenario,
        run=attrs.evolve(scenario.run, days=days),
        outbreak=attrs.evolve(scenario.outbreak, cases=cases),
    )


def _load_rules(workspace: Path, data: bytes) -> Scenario | None:
    path = workspace / "mutant_rules.toml"
    path.write_bytes(data)
    rules = load_rules(path)
    # Accepted rules must run: the small scenario on them, when their areas are
    # units of the small city (as a scenario's validation demands).
    scenario = load_scenario(workspace / "small.toml")
    if rules.check_against(scenario.build_city().chain):
        return None
    return attrs.evolve(scenario, rules=rules)


def _load_scenario(workspace: Path, data: bytes) -> Scenario | None:
    path = workspace / "mutant_scenario.toml"
    path.write_bytes(data)
    scenario = load_scenario(path)
    # The full preset takes seconds a day: its scenarios are loaded, not run.
    return scenario if scenario.city.preset == "small" else None


def _load_sweep(workspace: Path, data: bytes) -> Scenario | None:
    path = workspace / "mutant_sweep.toml"
    path.write_bytes(data)
    sweep = load_sweep(path)
    runs = plan_sweep(sweep)
    return runs[-1].scenario if runs and runs[-1].scenario.city.preset == "small" else None


def _load_cases(workspace: Path, data: bytes) -> Scenario:
    (workspace / "cases.csv").write_bytes(data)
    try:
        return load_scenario(workspace / "replay.toml")
    finally:
        shutil.copy(SCENARIOS / "cases.csv", workspace / "cases.csv")


KINDS: dict[str, tuple[list[Path], Callable[[Path, bytes], Scenario | None]]] = {
    "rules": ([RULES / "sept17.toml", RULES / "default.toml"], _load_rules),
    "scenario": ([SCENARIOS / "small.toml", SCENARIOS / "replay.toml"], _load_scenario),
    "sweep": ([SCENARIOS / "sweep.toml"], _load_sweep),
    "cases": ([SCENARIOS / "cases.csv"], _load_cases),
}


def fuzz(kind: str, count: int, workspace: Path, seed: int, runs: int = 40) -> list[str]:
    """Try ``count`` mutants of ``kind``: the failures, loading (anything but a gridgov
    error) or running (anything at all) the first ``runs`` accepted ones."""
    seeds, load = KINDS[kind]
    texts = [p.read_text(encoding="utf-8") for p in seeds]
    if kind == "scenario":
        texts.append((workspace / "with_rules.toml").read_text(encoding="utf-8"))
    rng = random.Random(f"{kind}:{seed}")
    failures = []
    ran = 0
    for number in range(count):
        data = mutate(rng, rng.choice(texts))
        try:
            scenario = load(workspace, data)
        except GridgovError:
            continue
        except Exception as exc:  # what the test is looking for
            failures.append(f"{kind} #{number}: {type(exc).__name__}: {exc!s:.200}")
            continue
        if scenario is None or ran >= runs:
            continue
        ran += 1
        try:
            run_scenario(_short(scenario))
        except Exception as exc:  # accepted, so any exception is a failure
            failures.append(f"{kind} #{number} ran: {type(exc).__name__}: {exc!s:.200}")
    return failures


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_mutants_raise_only_gridgov_errors(kind: str, workspace: Path) -> None:
    assert fuzz(kind, 150, workspace, seed=0) == []


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_twenty_thousand_mutants(kind: str, workspace: Path) -> None:
    """5,000 mutants of each of the four kinds (CI)."""
    assert fuzz(kind, 5000, workspace, seed=1, runs=300) == []


def test_damaged_run_folders_raise_only_run_folder_errors(tmp_path: Path) -> None:
    """A run folder whose files are mutated reads back, or raises RunFolderError."""
    scenario = load_scenario(SCENARIOS / "small.toml").with_values({"run.days": 3})
    folder = write_run(run_scenario(scenario), tmp_path / "run", plots=False)
    originals = {name: (folder / name).read_text(encoding="utf-8") for name in _RUN_FILES}
    rng = random.Random("run-folder")
    failures = []
    for number in range(200):
        name = rng.choice(_RUN_FILES)
        (folder / name).write_bytes(mutate(rng, originals[name]))
        try:
            read_run(folder)
        except GridgovError:
            pass
        except Exception as exc:
            failures.append(f"{name} #{number}: {type(exc).__name__}: {exc!s:.200}")
        (folder / name).write_text(originals[name], encoding="utf-8")
    assert failures == []
    json.loads((folder / "run.json").read_text(encoding="utf-8"))


_RUN_FILES = ["run.json", "metrics.csv", "summary.json"]

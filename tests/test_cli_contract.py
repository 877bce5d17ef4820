"""The command line's error contract, driven with a corpus of careless inputs.

Every failure of every command is one line per problem on standard error,
each starting ``gridgov: error:``; exit 1 for errors, 2 for usage errors;
nothing on standard output; never a traceback, never an internal error; and
Ctrl-C exits 130 with ``gridgov: interrupted`` on its own line.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gridgov.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "examples" / "scenarios"
RULES = ROOT / "examples" / "rules"

#: A path no one can create anything in, even root (procfs refuses new entries).
UNWRITABLE = "/proc/gridgov-cannot-write-here"


def violations(code: int, expected: int, out: str, err: str) -> list[str]:
    """What breaks the contract in one failed command's outcome (empty: none)."""
    found = []
    if code != expected:
        found.append(f"exit {code}, expected {expected}")
    if out:
        found.append(f"stdout not empty: {out[:200]!r}")
    lines = err.splitlines()
    errors = [line for line in lines if line.startswith("gridgov: error: ")]
    if not errors:
        found.append(f"no 'gridgov: error:' line: {err[:300]!r}")
    for line in lines:
        if not line.startswith(("gridgov: error: ", "gridgov: warning: ")):
            found.append(f"stray stderr line: {line[:200]!r}")
    if "Traceback" in err:
        found.append("a traceback")
    if "internal error" in err:
        found.append(f"an internal error: {err[:300]!r}")
    return found


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Files a careless user might hand to gridgov."""
    base = tmp_path_factory.mktemp("corpus")
    files: dict[str, Path] = {}

    def write(name: str, text: str | bytes) -> Path:
        path = base / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        files[name] = path
        return path

    for name in ("small.toml", "cases.csv", "sweep.toml"):
        shutil.copy(SCENARIOS / name, base / name)
        files[name] = base / name
    small = (SCENARIOS / "small.toml").read_text(encoding="utf-8")
    files["folder"] = base / "a-folder"
    files["folder"].mkdir()
    write("a-file.txt", "just text\n")
    write("latin1.toml", "name = 'caf\xe9'\n".encode("latin-1"))
    write("deep-array.toml", "a = " + "[" * 600 + "]" * 600 + "\n")
    write("deep-table.toml", "a = " + "{b = " * 400 + "1" + "}" * 400 + "\n")
    write("deep-dotted.toml", "a" + ".a" * 300 + " = 1\n")
    write("huge-days.toml", small.replace("days = 30", "days = 100000000000000000000"))
    write("days-float.toml", small.replace("days = 30", "days = 1e308"))
    write("rules-devzero.toml", small + '\n[rules]\npath = "/dev/zero"\n')
    write("rules-folder.toml", small + '\n[rules]\npath = "a-folder"\n')
    write("quiet-1e308.toml", "[zones.sealed]\nafter_quiet_days = 1e308\n")
    write("quiet-3e6.toml", "[zones.sealed]\nafter_quiet_days = 3e6\n")
    write("recovery-1e9.toml", "[modes]\nrecovery_days = 1e9\n")
    write("hours-inf.toml", "[tickets.hours.normal]\naccepted = inf\n")
    write("shifts-huge.toml", "[staffing]\ncheckpoint_shifts = 1000000000\n")
    write("inline-huge.toml", small + "\n[rules.inline.zones.sealed]\nafter_quiet_days = 1e308\n")
    write("rate-huge.toml", small.replace("within_compound = 0.35", "within_compound = 1e300"))
    write("rate-nan.toml", small.replace("within_compound = 0.35", "within_compound = nan"))
    write("request-huge.toml", small.replace("garbage = 0.01", "garbage = 1e9"))
    write("seed-negative.toml", small.replace("seed = 1", "seed = -1"))
    write("seed-huge.toml", small.replace("seed = 1", "seed = 99999999999999999999"))
    write("city-seed-huge.toml", small.replace("seed = 0", "seed = 18446744073709551616"))
    write("syntax.toml", "[run\ndays = 3\n")
    write("several.toml", "[run]\ndays = 0\nstep_hours = 7\n[outbreak]\nstreet = -1\n")
    write(
        "csv-passwd.toml",
        small.replace(
            'cases = [{ compound = "990101001001-C01", day = 0 }]', 'cases_csv = "passwd.csv"'
        ),
    )
    write("passwd.csv", "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/:/bin/false\n")
    write(
        "csv-wide.toml",
        small.replace(
            'cases = [{ compound = "990101001001-C01", day = 0 }]', 'cases_csv = "wide.csv"'
        ),
    )
    write("wide.csv", "day,compound\n0," + "x" * 200_000 + "\n")
    write(
        "csv-nul.toml",
        small.replace(
            'cases = [{ compound = "990101001001-C01", day = 0 }]', 'cases_csv = "nul.csv"'
        ),
    )
    write("nul.csv", "day,compound\n0,\x00\x00\n")
    write("sweep-nan.toml", 'scenario = "small.toml"\n[parameters]\n"run.days" = [nan]\n')
    write(
        "sweep-nan-rate.toml",
        'scenario = "small.toml"\n[parameters]\n"outbreak.street" = [nan, nan]\n',
    )
    write("sweep-huge.toml", 'scenario = "small.toml"\nreplicates = 1000000\n')
    write("sweep-missing.toml", 'scenario = "nowhere.toml"\n')
    write("sweep-deep.toml", 'scenario = "small.toml"\n[parameters]\nx = ' + "[" * 500 + "]" * 500)
    write("empty.toml", "")
    write("alert.xml", "<alert>not cap</alert>\n")
    write("bomb.xml", '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>')
    write("out-file", "I am a file\n")
    units = (
        "id,parent,level,kind,name,households\n330100,,city,,Lakeside,\n"
        "330102,330100,district,urban_district,Old Town,\n"
        "330102001,330102,street,street,Bridge Street,\n"
        "330102001001,330102001,community,,Bridge Community,{households}\n"
    )
    write("units.csv", units.format(households=2400))
    write("units-huge.csv", units.format(households=10**13))
    many = "".join(f"33010200100{i:02d},330102001,community,,C{i},1000000\n" for i in range(25))
    write("units-huge-city.csv", units.format(households=1) + many)
    return files


def _cases() -> list[tuple[str, list[str], int]]:
    """(id, argv with {NAME} placeholders for corpus files, expected exit code)."""
    out = ["--out", "{tmp}/out"]
    quiet = ["--quiet", "--no-plots"]
    simulate = [
        (name, ["simulate", "{" + name + "}", *out, *quiet], 1)
        for name in (
            "folder",
            "a-file.txt",
            "latin1.toml",
            "deep-array.toml",
            "deep-table.toml",
            "deep-dotted.toml",
            "huge-days.toml",
            "days-float.toml",
            "rules-devzero.toml",
            "rules-folder.toml",
            "inline-huge.toml",
            "rate-huge.toml",
            "rate-nan.toml",
            "request-huge.toml",
            "seed-negative.toml",
            "seed-huge.toml",
            "city-seed-huge.toml",
            "syntax.toml",
            "several.toml",
            "csv-passwd.toml",
            "csv-wide.toml",
            "csv-nul.toml",
            "sweep.toml",
        )
    ]
    check = [
        (name, ["check", "{" + name + "}"], 1)
        for name in (
            "folder",
            "a-file.txt",
            "latin1.toml",
            "deep-array.toml",
            "deep-table.toml",
            "deep-dotted.toml",
            "huge-days.toml",
            "quiet-1e308.toml",
            "quiet-3e6.toml",
            "recovery-1e9.toml",
            "hours-inf.toml",
            "shifts-huge.toml",
            "inline-huge.toml",
            "rate-huge.toml",
            "request-huge.toml",
            "seed-huge.toml",
            "several.toml",
            "csv-passwd.toml",
            "csv-wide.toml",
            "sweep-nan.toml",
            "sweep-nan-rate.toml",
            "sweep-huge.toml",
            "sweep-missing.toml",
            "sweep-deep.toml",
            "empty.toml",
            "alert.xml",
            "bomb.xml",
            "cases.csv",
            "passwd.csv",
        )
    ]
    other = [
        ("check-devzero", ["check", "/dev/zero"], 1),
        ("check-missing", ["check", "{tmp}/missing.toml"], 1),
        ("check-no-path", ["check"], 2),
        ("check-bad-kind", ["check", "--kind", "city", "{small.toml}"], 2),
        ("check-forced-kind", ["check", "--kind", "rules", "{small.toml}"], 1),
        ("simulate-missing", ["simulate", "{tmp}/missing.toml", *out], 1),
        ("simulate-devzero", ["simulate", "/dev/zero", *out], 1),
        ("simulate-seed-negative", ["simulate", "{small.toml}", *out, "--seed", "-1"], 2),
        ("simulate-seed-text", ["simulate", "{small.toml}", *out, "--seed", "x"], 2),
        ("simulate-seed-huge", ["simulate", "{small.toml}", *out, "--seed", str(2**64)], 2),
        ("simulate-out-file", ["simulate", "{small.toml}", "--out", "{out-file}", *quiet], 1),
        ("simulate-out-proc", ["simulate", "{small.toml}", "--out", UNWRITABLE, *quiet], 1),
        ("simulate-out-not-run", ["simulate", "{small.toml}", "--out", "{tmp}", *quiet], 1),
        ("simulate-no-out", ["simulate", "{small.toml}"], 2),
        ("simulate-no-argument", ["simulate"], 2),
        ("simulate-extra-argument", ["simulate", "{small.toml}", "x", *out], 2),
        ("unknown-command", ["simulat"], 2),
        ("unknown-option", ["city", "--presett", "small"], 2),
        ("unknown-top-option", ["--verbose", "city"], 2),
        ("city-unknown-preset", ["city", "--preset", "atlantis"], 1),
        ("city-seed-negative", ["city", "--preset", "small", "--seed", "-1"], 2),
        ("export-format-dot", ["export", "--preset", "small", "--format", "dot"], 2),
        ("export-out-folder", ["export", "--preset", "small", "--out", "{folder}"], 1),
        ("export-out-proc", ["export", "--preset", "small", "--out", UNWRITABLE + "/x.json"], 1),
        ("export-out-missing-folder", ["export", "--preset", "small", "--out", "{tmp}/a/b"], 1),
        ("export-unknown-preset", ["export", "--preset", "atlantis"], 1),
        ("diagram-foo", ["diagram", "foo"], 2),
        ("diagram-none", ["diagram"], 2),
        ("report-file", ["report", "{a-file.txt}"], 1),
        ("report-missing", ["report", "{tmp}/missing"], 1),
        ("report-not-a-run", ["report", "{folder}"], 1),
        ("report-proc", ["report", "/proc"], 1),
        ("report-devzero", ["report", "/dev/zero"], 1),
        ("demo-out-file", ["demo", "--out", "{out-file}"], 1),
        ("demo-out-proc", ["demo", "--out", UNWRITABLE], 1),
        ("demo-bad-option", ["demo", "--jsn"], 2),
        ("alert-not-cap", ["alert", "--preset", "small", "{a-file.txt}"], 1),
        ("alert-bomb", ["alert", "--preset", "small", "{bomb.xml}"], 1),
        ("alert-devzero", ["alert", "--preset", "small", "/dev/zero"], 1),
        ("alert-no-file", ["alert"], 2),
        ("alert-bad-time", ["alert", "--preset", "small", "--at", "soon", "{alert.xml}"], 2),
        ("synth-not-csv", ["synth", "{a-file.txt}", "--out", "{tmp}/s"], 1),
        ("synth-passwd", ["synth", "{passwd.csv}", "--out", "{tmp}/s"], 1),
        ("synth-devzero", ["synth", "/dev/zero", "--out", "{tmp}/s"], 1),
        ("synth-out-file", ["synth", "{cases.csv}", "--out", "{out-file}"], 1),
        ("synth-huge-households", ["synth", "{units-huge.csv}", "--out", "{tmp}/s"], 1),
        ("synth-huge-city", ["synth", "{units-huge-city.csv}", "--out", "{tmp}/s"], 1),
        (
            "synth-grid-workers-huge",
            ["synth", "{units.csv}", "--out", "{tmp}/s", "--grid-workers", str(10**6)],
            1,
        ),
        (
            "synth-grid-workers-absurd",
            ["synth", "{units.csv}", "--out", "{tmp}/s", "--grid-workers", str(10**30)],
            2,
        ),
        ("synth-seed-negative", ["synth", "{units.csv}", "--out", "{tmp}/s", "--seed", "-1"], 2),
        ("alert-seed-negative", ["alert", "--seed", "-1", "{alert.xml}"], 2),
        ("city-from-missing", ["city", "--from", "{tmp}/nowhere"], 1),
        ("city-from-file", ["city", "--from", "{a-file.txt}"], 1),
        ("city-from-and-preset", ["city", "--from", "{folder}", "--preset", "small"], 2),
        ("export-bundle-no-out", ["export", "--preset", "small", "--format", "bundle"], 2),
        (
            "export-bundle-out-file",
            ["export", "--preset", "small", "--format", "bundle", "--out", "{out-file}"],
            1,
        ),
        ("sweep-missing", ["sweep", "{tmp}/missing.toml", *out], 1),
        ("sweep-scenario-given", ["sweep", "{small.toml}", *out], 1),
        ("sweep-nan", ["sweep", "{sweep-nan.toml}", *out], 1),
        ("sweep-nan-rate", ["sweep", "{sweep-nan-rate.toml}", *out], 1),
        ("sweep-huge", ["sweep", "{sweep-huge.toml}", *out], 1),
        ("sweep-deep", ["sweep", "{sweep-deep.toml}", *out], 1),
        ("sweep-out-file", ["sweep", "{sweep.toml}", "--out", "{out-file}"], 1),
        ("sweep-out-proc", ["sweep", "{sweep.toml}", "--out", UNWRITABLE], 1),
        ("sweep-workers-0", ["sweep", "{sweep.toml}", *out, "--workers", "0"], 2),
        (
            "sweep-workers-and-dask",
            ["sweep", "{sweep.toml}", *out, "--workers", "1", "--dask", "local"],
            2,
        ),
        ("sweep-resume-other", ["sweep", "{sweep.toml}", "--out", "{other-sweep}", "--resume"], 1),
    ]
    return [*simulate, *[(f"check-{n}", a, c) for n, a, c in check], *other]


CASES = _cases()


def _fill(argv: list[str], corpus: dict[str, Path], tmp: Path) -> list[str]:
    names = {name: str(path) for name, path in corpus.items()}
    names["tmp"] = str(tmp)
    other = tmp / "other-sweep"
    other.mkdir(exist_ok=True)
    (other / "sweep.toml").write_text("version = 1\n", encoding="utf-8")
    names["other-sweep"] = str(other)
    (tmp / "clutter.txt").write_text("not a run\n", encoding="utf-8")
    filled = []
    for arg in argv:
        for name, value in names.items():
            arg = arg.replace("{" + name + "}", value)
        filled.append(arg)
    return filled


@pytest.mark.parametrize(("argv", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_keeps_the_contract(
    argv: list[str],
    expected: int,
    corpus: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One careless input: the command fails by the contract (or, where noted, succeeds)."""
    args = _fill(argv, corpus, tmp_path)
    code = main(args)
    out, err = capsys.readouterr()
    if expected == 0:
        assert code == 0, err
        return
    if args[0] == "alert":  # alerts it could play are results, printed before the errors
        out = ""
    assert violations(code, expected, out, err) == []


def test_the_corpus_covers_every_command() -> None:
    """Every command of the group appears in the corpus."""
    from gridgov.cli import cli

    used = {argv[0] for _, argv, _ in CASES}
    assert set(cli.commands) <= used | {"--verbose"}, set(cli.commands) - used


class TestWhatTheErrorsSay:
    """The lines name what is wrong and quote nothing of a file of the wrong kind."""

    def test_every_scenario_problem_is_shown(
        self, corpus: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["simulate", str(corpus["several.toml"]), "--out", str(tmp_path / "o")]) == 1
        err = capsys.readouterr().err.splitlines()
        assert [line.split(": ")[2] for line in err] == [
            f"{corpus['several.toml']}:2",
            f"{corpus['several.toml']}:3",
            f"{corpus['several.toml']}:5",
        ]

    def test_a_password_file_is_not_echoed(
        self, corpus: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["check", str(corpus["csv-passwd.toml"])]) == 1
        err = capsys.readouterr().err
        assert "passwd.csv:1: (header)" in err
        assert "root:x" not in err
        assert "bash" not in err

    def test_check_of_several_files(
        self, corpus: dict[str, Path], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Each valid file is ok on stdout, each problem an error line; exit 1 if any."""
        assert main(["check", str(corpus["small.toml"]), str(corpus["syntax.toml"])]) == 1
        out, err = capsys.readouterr()
        assert out == f"{corpus['small.toml']}: ok (scenario)\n"
        assert err.startswith(f"gridgov: error: {corpus['syntax.toml']}:1: (syntax): ")
        assert len(err.splitlines()) == 1

    def test_nothing_is_created_by_a_refused_run(
        self, corpus: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out = tmp_path / "never"
        assert main(["simulate", str(corpus["several.toml"]), "--out", str(out)]) == 1
        assert not out.exists()

    def test_special_files_are_refused_before_reading(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        start = time.monotonic()
        assert main(["check", "/dev/zero"]) == 1
        assert time.monotonic() - start < 5
        assert "a device" in capsys.readouterr().err

    def test_overlong_toml_is_refused_by_size(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        big = tmp_path / "big.toml"
        big.write_text("# padding\n" * 200_000, encoding="utf-8")
        assert main(["check", "--kind", "rules", str(big)]) == 1
        assert "may be at most 1,048,576" in capsys.readouterr().err

    def test_empty_scenario_warns(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        empty = tmp_path / "empty.toml"
        empty.write_text("[city]\npreset = 'small'\n", encoding="utf-8")
        assert main(["check", str(empty)]) == 0
        out, err = capsys.readouterr()
        assert out == "ok (scenario)\n"
        assert err.startswith(f"gridgov: warning: {empty}: outbreak.cases: ")
        assert "nothing happens" in err

    def test_usage_errors_say_where_help_is(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["simulat"]) == 2
        assert capsys.readouterr().err == (
            "gridgov: error: No such command 'simulat'. Did you mean 'simulate'? "
            "(see 'gridgov --help')\n"
        )

    def test_no_arguments_shows_help(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main([]) == 0
        assert "Commands:" in capsys.readouterr().out

    @pytest.mark.skipif(
        not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes read-only folders"
    )
    @pytest.mark.parametrize("command", ["simulate", "report"])
    def test_read_only_folder(
        self,
        command: str,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """A folder made read-only with chmod (the real thing; root ignores it)."""
        run = tmp_path / "run"
        assert main(["simulate", str(SCENARIOS / "small.toml"), "--out", str(run), "--quiet"]) == 0
        capsys.readouterr()
        run.chmod(0o500)
        try:
            if command == "simulate":
                args = ["simulate", str(SCENARIOS / "small.toml"), "--out", str(run), "--quiet"]
            else:
                args = ["report", str(run), "--quiet"]
            code = main(args)
        finally:
            run.chmod(0o700)
        out, err = capsys.readouterr()
        assert violations(code, 1, out, err) == []


def _refuse_writes_in(monkeypatch: pytest.MonkeyPatch, folder: Path, *, probe: bool) -> None:
    """Make ``folder`` refuse new files as a read-only folder does (EACCES), even for root.

    gridgov creates every file through :mod:`tempfile` (a probe folder before
    the work, a temporary file renamed into place), so refusing those two
    calls inside ``folder`` is what the operating system would do. With
    ``probe=False`` the check before the work passes and the refusal comes
    only when the results are written (the folder turned read-only mid-run).
    """
    import errno
    import tempfile

    def inside(where: object) -> bool:
        return where is not None and Path(str(where)).resolve().is_relative_to(folder.resolve())

    def refused(original: Callable[..., object]) -> Callable[..., object]:
        def call(*args: object, **kwargs: object) -> object:
            if inside(kwargs.get("dir")):
                raise PermissionError(errno.EACCES, "Permission denied", str(kwargs.get("dir")))
            return original(*args, **kwargs)

        return call

    if probe:
        monkeypatch.setattr(tempfile, "mkdtemp", refused(tempfile.mkdtemp))
    monkeypatch.setattr(tempfile, "mkstemp", refused(tempfile.mkstemp))


def _no_run(*args: object, **kwargs: object) -> None:
    raise AssertionError("the run started although its output cannot be written")


class TestReadOnlyOutputs:
    """Outputs that cannot be written, as root too (CI runs as root): refused before the
    work by the check, or, when the folder turns read-only during the work, one error
    line and no half-written file."""

    @pytest.fixture
    def run(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
        run = tmp_path / "run"
        assert main(["simulate", str(SCENARIOS / "small.toml"), "--out", str(run), "--quiet"]) == 0
        capsys.readouterr()
        return run

    @pytest.mark.parametrize("command", ["simulate", "demo", "sweep", "export", "synth"])
    def test_refused_before_the_work(
        self,
        command: str,
        tmp_path: Path,
        corpus: dict[str, Path],
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        folder = tmp_path / "read-only"
        folder.mkdir()
        _refuse_writes_in(monkeypatch, folder, probe=True)
        import gridgov.sim.runner
        import gridgov.synthesis

        monkeypatch.setattr(gridgov.sim.runner.ScenarioRun, "run", _no_run)
        monkeypatch.setattr(gridgov.synthesis, "_synthesize", _no_run)
        args = {
            "simulate": ["simulate", str(corpus["small.toml"]), "--out", str(folder), "--quiet"],
            "demo": ["demo", "--out", str(folder / "demo"), "--quiet"],
            "sweep": ["sweep", str(corpus["sweep.toml"]), "--out", str(folder), "--quiet"],
            "export": ["export", "--preset", "small", "--out", str(folder / "chain.json")],
            "synth": ["synth", str(corpus["units.csv"]), "--out", str(folder / "bundle")],
        }[command]
        code = main(args)
        out, err = capsys.readouterr()
        assert violations(code, 1, out, err) == []
        assert "Permission denied" in err
        assert list(folder.iterdir()) == []

    def test_report_of_a_read_only_run(
        self, run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        before = sorted(p.name for p in run.iterdir())
        _refuse_writes_in(monkeypatch, run, probe=True)
        code = main(["report", str(run), "--quiet"])
        out, err = capsys.readouterr()
        assert violations(code, 1, out, err) == []
        assert f"cannot write the report {run / 'report.html'}" in err
        assert sorted(p.name for p in run.iterdir()) == before

    @pytest.mark.parametrize("command", ["simulate", "report"])
    def test_refused_while_writing(
        self,
        command: str,
        run: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """The check passed, the folder refuses the results: one line, no .part file."""
        _refuse_writes_in(monkeypatch, run, probe=False)
        if command == "simulate":
            args = ["simulate", str(SCENARIOS / "small.toml"), "--out", str(run), "--quiet"]
        else:
            args = ["report", str(run), "--quiet"]
        code = main(args)
        out, err = capsys.readouterr()
        assert violations(code, 1, out, err) == []
        assert "Permission denied" in err
        assert not [p for p in run.iterdir() if p.name.endswith(".part")]


# ------------------------------------------------------------------ SIGINT


def _gridgov(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full_env = {**os.environ, "GRIDGOV_PROGRESS_SECONDS": "0", **(env or {})}
    src = str(ROOT / "src")
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (src, full_env.get("PYTHONPATH", "")) if p)
    return subprocess.Popen(
        [sys.executable, "-m", "gridgov.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        # As from a terminal: a suite run as a background job (``cmd &`` in a
        # shell without job control) ignores SIGINT, and an ignored signal is
        # inherited, so the command would never see the tests' Ctrl-C.
        preexec_fn=_default_interrupt,
    )


def _default_interrupt() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(process: subprocess.Popen[str], ready: Callable[[str], bool], delay: float) -> str:
    """Send SIGINT ``delay`` seconds after the first stderr line that ``ready`` accepts."""
    assert process.stderr is not None
    seen = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        if ready(line):
            break
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=120)
    return "".join(seen) + rest


def _long_scenario(tmp_path: Path) -> Path:
    text = (SCENARIOS / "small.toml").read_text(encoding="utf-8")
    text = text.replace("days = 30", "days = 3000")
    path = tmp_path / "long.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("seed", range(3))
def test_sigint_during_a_run(tmp_path: Path, seed: int) -> None:
    """Ctrl-C at a random moment of a run: exit 130, one line, no traceback, no half file."""
    delay = random.Random(seed).uniform(0.0, 1.0)
    out = tmp_path / "run"
    process = _gridgov("simulate", str(_long_scenario(tmp_path)), "--out", str(out))
    err = _interrupt(process, lambda line: "day " in line, delay)
    assert "Traceback" not in err
    if process.returncode == 0:
        return  # finished before the signal came
    assert process.returncode == 130, err
    assert err.splitlines()[-1] == "gridgov: interrupted"
    assert not any(p.name.endswith(".part") for p in tmp_path.rglob("*"))


def test_sigint_during_a_sweep_says_how_to_resume(tmp_path: Path) -> None:
    """Ctrl-C in a sweep on processes: 130, the interrupted line, then how to resume."""
    long = _long_scenario(tmp_path)
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(
        f'scenario = "{long.name}"\nreplicates = 4\n[parameters]\n"run.days" = [2000, 3000]\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    process = _gridgov("sweep", str(sweep), "--out", str(out), "--workers", "2")
    err = _interrupt(process, lambda line: True, 1.0)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert lines[-2] == "gridgov: interrupted"
    assert lines[-1].startswith("gridgov: ")
    assert f"resume with: gridgov sweep {sweep} --out {out} --resume" in lines[-1]


#: A progress line of a sweep off a terminal (the only stderr lines not from the contract).
PROGRESS = re.compile(r"^sweep \S+: run \d+/\d+, \d+\.\d s$")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("on", "target", "seed"),
    [
        ("dask", "process", 0),
        ("dask", "group", 0),
        ("dask", "group", 1),
        ("dask", "group", 2),
        ("processes", "group", 0),
        ("processes", "group", 1),
    ],
)
def test_sigint_during_a_parallel_sweep(tmp_path: Path, on: str, target: str, seed: int) -> None:
    """Ctrl-C at a random moment of ``sweep --dask local`` or ``--workers 2`` (while the
    workers start or run): 130, the interrupted line and how to resume, and not one
    traceback, neither from gridgov nor from a worker. ``group`` signals every process
    of the group, as a terminal does; ``process`` the gridgov process alone, as
    ``kill -INT`` does."""
    if on == "dask":
        pytest.importorskip("dask.distributed", reason="the dask extra is not installed")
    long = _long_scenario(tmp_path)
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(
        f'scenario = "{long.name}"\nreplicates = 4\n[parameters]\n"run.days" = [2000, 3000]\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    env = {**os.environ, "GRIDGOV_PROGRESS_SECONDS": "0"}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
    )
    argv = ["sweep", str(sweep), "--out", str(out)]
    argv += ["--dask", "local"] if on == "dask" else ["--workers", "2"]
    process = subprocess.Popen(
        [sys.executable, "-m", "gridgov.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # a process group of its own, as a terminal's job is
        preexec_fn=_default_interrupt,  # SIGINT not ignored, as from a terminal
    )
    assert process.stderr is not None
    first = process.stderr.readline()
    time.sleep(random.Random(seed).uniform(0.0, 4.0))
    if target == "group":
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=120)
    err = first + rest
    assert process.returncode == 130, err
    assert "Traceback" not in err
    lines = err.splitlines()
    stray = [
        line for line in lines if not line.startswith("gridgov: ") and not PROGRESS.match(line)
    ]
    assert stray == []
    assert lines[-2] == "gridgov: interrupted"
    assert lines[-1].endswith(f"resume with: gridgov sweep {sweep} --out {out} --resume")

"""The command line: what the ``gridgov`` command costs on top of the library.

``cli_startup``
    ``gridgov --help`` in a fresh interpreter (``python -m gridgov.cli
    --help``), against ``python -c "import gridgov"`` (the baseline): what
    the command's own imports (click, rich, the commands) and its error
    contract add to starting the library. Every command pays it once.

``cli_check``
    ``gridgov check BUNDLE`` through :func:`gridgov.cli.main` (the whole
    command: parsing, recognising the kind, the ``ok (bundle)`` line),
    against :func:`gridgov._checking.check_path` on the same bundle (the
    baseline), both in this process, on the ``small`` preset saved as a
    bundle: the cost of the command line around the check.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import benchmark, figure, median_wall
from gridgov._checking import check_path
from gridgov.cli import main
from gridgov.presets import small

#: ``gridgov --help`` may take this long in a fresh interpreter.
STARTUP_TARGET_S = 2.0
#: ``gridgov check`` of the small bundle may take this long.
CHECK_TARGET_S = 0.1


def _fresh(*args: str) -> None:
    """Run a fresh interpreter with ``args``; fail loudly if it fails."""
    env = {**os.environ}
    src = Path(__file__).resolve().parent.parent / "src"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), env.get("PYTHONPATH", "")) if p)
    subprocess.run([sys.executable, *args], check=True, capture_output=True, env=env)


@benchmark("cli_startup")
def cli_startup(quick: bool) -> dict[str, dict[str, object]]:
    """gridgov --help in a fresh interpreter against python -c 'import gridgov'."""
    repeat = 1 if quick else 5
    _fresh("-c", "import gridgov")  # warm the file cache for both
    bare, bare_runs = median_wall(lambda: _fresh("-c", "import gridgov"), repeat)
    helped, help_runs = median_wall(lambda: _fresh("-m", "gridgov.cli", "--help"), repeat)
    return {
        "help": figure(
            helped,
            "s",
            STARTUP_TARGET_S,
            f"python -m gridgov.cli --help in a fresh interpreter, median of {repeat}",
            baseline=bare,
            baseline_what='python -c "import gridgov" in a fresh interpreter',
            runs=[round(r, 4) for r in help_runs],
            baseline_runs=[round(r, 4) for r in bare_runs],
        )
    }


@benchmark("cli_check")
def cli_check(quick: bool) -> dict[str, dict[str, object]]:
    """gridgov check BUNDLE through main() against check_path(BUNDLE)."""
    repeat = 3 if quick else 15
    with tempfile.TemporaryDirectory() as folder:
        bundle = str(small().save(Path(folder) / "small"))

        def command() -> None:
            with contextlib.redirect_stdout(io.StringIO()) as out:
                code = main(["check", bundle])
            if code != 0 or out.getvalue() != "ok (bundle)\n":
                raise RuntimeError(f"gridgov check {bundle} failed: {out.getvalue()!r}")

        def library() -> None:
            if check_path(bundle).problems:
                raise RuntimeError(f"check_path({bundle}) found problems")

        command()  # the first call imports what both use
        base, base_runs = median_wall(library, repeat)
        value, runs = median_wall(command, repeat)
    return {
        "check_bundle": figure(
            value,
            "s",
            CHECK_TARGET_S,
            f"gridgov check of the small preset's bundle through gridgov.cli.main, "
            f"median of {repeat}",
            baseline=base,
            baseline_what="gridgov._checking.check_path on the same bundle",
            runs=[round(r, 4) for r in runs],
            baseline_runs=[round(r, 4) for r in base_runs],
        )
    }

"""``python -m benchmarks [--only NAME ...] [--quick] [--list] [--in-process]``: print one JSON
object."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from benchmarks import load, run, run_in_process, work


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks and print the report; returns the exit code.

    The exit code is 0 even when a figure misses its target: benchmarks
    report, they are not tests (``all_meet_target`` in the JSON says it).
    """
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="Run gridgov's benchmarks; print one JSON object."
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only this benchmark (repeat for several); see --list",
    )
    parser.add_argument(
        "--quick", action="store_true", help="one run and fewer samples: a smoke test, not figures"
    )
    parser.add_argument("--list", action="store_true", help="list the benchmark names and exit")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run every benchmark in this process, one after the other, instead of each in "
        "a fresh interpreter of its own (each then runs on what the ones before it left)",
    )
    # What a worker runs: the one --only benchmark, its figures written to FILE.
    parser.add_argument("--worker", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    registry = load()
    if args.list:
        for name, fn in registry.items():
            doc = (fn.__doc__ or "").strip().splitlines()
            print(f"{name}: {doc[0] if doc else ''}")
        return 0
    if args.only:
        unknown = [n for n in args.only if n not in registry]
        if unknown:
            parser.error(
                f"unknown benchmark {', '.join(unknown)} (expected one of: {', '.join(registry)})"
            )
    if args.worker is not None:
        if not args.only or len(args.only) != 1:
            parser.error("--worker runs exactly one benchmark: give one --only NAME")
        work(args.only[0], args.quick, args.worker)
        return 0
    report = (run_in_process if args.in_process else run)(args.only, quick=args.quick)
    json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run one benchmark in two checkouts, in turn, and print both columns of every figure.

    .venv/bin/python bench/side_by_side.py --old ../old-checkout --runs 3 -- bench/ingest.py --quick

Each checkout runs its own copy of the benchmark with its own virtualenv (`<checkout>/.venv`;
`--venv .venv/lake` for the lake's benchmarks), alternating old, new, old, new ... so that the
drift of a shared machine hits both alike. Every
line a benchmark prints is a row: its text with the numbers taken out is the row's key, and
each number in it a figure; the table gives each figure's median over the runs, old and new,
and new / old. Lines whose text differs between the checkouts have no pair and are left out.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
# Figures of the set-up, not of the measurement (sizes, counts, seeds): not compared.
_SKIP = re.compile(r"^(batches of|  one batch|built in|goals|  \(b\)|  big/empty|goal)", re.I)


def _rows(output: str) -> dict[str, list[float]]:
    rows: dict[str, list[float]] = {}
    for line in output.splitlines():
        if _SKIP.search(line):
            continue
        numbers = [float(n.replace(",", "")) for n in _NUMBER.findall(line)]
        if numbers:
            rows[" ".join(_NUMBER.sub("#", line).split())] = numbers
    return rows


def _run(checkout: Path, venv: str, argv: list[str], timeout: float) -> dict[str, list[float]]:
    python = checkout / venv / "bin" / "python"
    done = subprocess.run(
        [str(python), *argv], cwd=checkout, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        tail = f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
        sys.exit(f"{checkout}: {' '.join(argv)} exited {done.returncode}:\n{tail}")
    return _rows(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--old", type=Path, required=True, help="the other checkout (with its .venv)")
    parser.add_argument("--new", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--runs", type=int, default=3, help="runs of each checkout [3]")
    parser.add_argument(
        "--venv", default=".venv", help="each checkout's virtualenv, relative to it [.venv; lake: .venv/lake]"
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run [1800]")
    parser.add_argument("benchmark", nargs=argparse.REMAINDER, help="-- bench/<name>.py [its arguments]")
    args = parser.parse_args()
    argv = [a for a in args.benchmark if a != "--"] if args.benchmark[:1] == ["--"] else args.benchmark
    if not argv:
        parser.error("name the benchmark after --")
    old: list[dict[str, list[float]]] = []
    new: list[dict[str, list[float]]] = []
    for i in range(args.runs):
        for side, runs in (("old", old), ("new", new)):
            print(f"run {i + 1}/{args.runs} {side}: {' '.join(argv)}", file=sys.stderr, flush=True)
            runs.append(_run(args.old if side == "old" else args.new, args.venv, argv, args.timeout))
    keys = [k for k in new[0] if all(k in r for r in old + new)]
    print(f"{' '.join(argv)}: medians of {args.runs} runs each, alternating old/new")
    print(f"| {'row (# = figure)':<70} | old | new | new/old |")
    print(f"|{'-' * 72}|---|---|---|")
    for key in keys:
        width = min(len(r[key]) for r in old + new)
        for j in range(width):
            o = statistics.median(r[key][j] for r in old)
            n = statistics.median(r[key][j] for r in new)
            ratio = f"{n / o:.2f}" if o else "-"
            print(f"| {key[:66]:<66} #{j + 1} | {o:,.6g} | {n:,.6g} | {ratio} |")


if __name__ == "__main__":
    main()

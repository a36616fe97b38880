"""Step metrics in process (issue 11): p50/p95 of `step_totals` (GET .../steps/metrics without
HTTP) and, for comparison, `workflow_totals` (GET .../metrics), all time, on the hot workflow
and on random cold ones of bench/api_queries.py's cached dataset, read-only (no server may
hold the file).

    .venv/bin/python bench/step_metrics.py                       # 10M spans, 100 calls each
    .venv/bin/python bench/side_by_side.py --old <checkout> --runs 3 -- bench/step_metrics.py

The dataset is built by bench/api_queries.py (`--sizes 10000000`) when missing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb

from bench import api_dataset as data
from bench import api_queries

_FOREVER = 2**63 - 1


class _ReadOnly:
    """What DuckDBWorkflowMetrics needs of a store: cursors on one read-only connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con

    def cursor(self) -> duckdb.DuckDBPyConnection:
        return self._con.cursor()

    def step_read_caches(self) -> None:
        return None  # a read-only file has no writer to tell it what changed


def _measure(name: str, call: Callable[[random.Random], Any], calls: int) -> None:
    rnd = random.Random(3)
    for _ in range(5):  # warm-up
        call(rnd)
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        call(rnd)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    print(f"{name:28s} p50 {statistics.median(times):7.2f} ms  p95 {p95:7.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=10_000_000, help="dataset size in spans [10M]")
    parser.add_argument("--calls", type=int, default=100, help="calls per row [100]")
    args = parser.parse_args()
    from flowscope.storage.duckdb.workflow_metrics import DuckDBWorkflowMetrics

    path = api_queries.dataset(args.size // data.SPANS_PER_EXECUTION)
    with duckdb.connect(str(path), read_only=True) as con:
        metrics = DuckDBWorkflowMetrics(_ReadOnly(con))  # type: ignore[arg-type]
        hot = data.workflow_id(0)
        cold = [data.workflow_id(k) for k in range(1, data.WORKFLOWS)]
        steps, totals = metrics.step_totals, metrics.workflow_totals
        rows: dict[str, Callable[[random.Random], Any]] = {
            "step totals, hot": lambda r: steps("default", hot, 0, _FOREVER),
            "step totals, cold": lambda r: steps("default", r.choice(cold), 0, _FOREVER),
            "workflow totals, hot": lambda r: totals("default", hot, 0, _FOREVER),
            "workflow totals, cold": lambda r: totals("default", r.choice(cold), 0, _FOREVER),
        }
        for name, call in rows.items():
            _measure(name, call, args.calls)


if __name__ == "__main__":
    main()

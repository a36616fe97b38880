"""What the lake's cross-node dedupe costs a commit (storage/ducklake/writer.py): on one node,
the reads of the other nodes' commits before and after each commit (storage/ducklake/others.py;
with no other node, one catalog query each). Until 35939ff the rule looked up every span and
log record in the batch's time clusters and always took the execution rows, which this
measured at 1.3-1.8x the commit time (README "Retries across nodes", before that commit).

One lake on a local PostgreSQL, filled with `--fill` engine-shaped spans (512-span units, their
lifecycle records, committed `--fill-batch` units at a time), then `--commits` new units
committed one by one, alternating between the lake writer as it is and the same writer without
the cross-node lookups (what each node did before: its own filters only). Prints the median and
p90 of each, and their ratio: one run, ratios within it.

    .venv/lake/bin/python -m bench.lake_dedupe --fill 200000 --commits 60 [--units-per-commit 8] [--maintain]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from flowscope.storage.duckdb.writer import Writer
from flowscope.storage.ducklake.maintenance import Maintainer, Policy
from flowscope.storage.ducklake.store import LakeStore
from flowscope.storage.ducklake.writer import LakeWriter

from bench.ingest import _prepared_request
from bench.workloads import make_units
from tests.support.postgres import start_postgres


class OwnFiltersOnly(LakeWriter):
    """The lake writer without the cross-node lookups: the file's rules (its own filters)."""

    _lookups = Writer._lookups
    _stored_ids = Writer._stored_ids
    _executions_maybe_stored = Writer._executions_maybe_stored

    def _insert(self, parts: list[Any]) -> Any:
        return Writer._insert(self, parts)


def _commit(store: LakeStore, units: list[Any]) -> float:
    started = time.perf_counter()
    futures = [store.writer.submit(_prepared_request(path, body)) for unit in units for path, body in unit]
    for future in futures:
        future.result()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fill", type=int, default=200_000, help="spans stored before measuring")
    parser.add_argument("--fill-batch", type=int, default=16, help="units (512 spans) per fill commit")
    parser.add_argument("--commits", type=int, default=60, help="measured commits (alternating)")
    parser.add_argument("--maintain", action="store_true", help="a maintain round after filling")
    parser.add_argument("--units-per-commit", type=int, default=1, help="units (512 spans) a measured commit")
    args = parser.parse_args()
    pg = start_postgres()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = "ducklake:postgres:" + pg.create_database("bench_dedupe")
            store = LakeStore(url, Path(tmp) / "lake", max_batch_items=10**6)
            store.start()
            units = make_units("engine", args.fill // 512, seed=7, start_ns=time.time_ns() - 3600 * 10**9)
            filled = time.perf_counter()
            for i in range(0, len(units), args.fill_batch):
                _commit(store, units[i : i + args.fill_batch])
            print(f"filled {len(units) * 512} spans in {time.perf_counter() - filled:.1f} s")
            if args.maintain:  # the lake as `maintain` keeps it: merged files, no delete files
                maintainer = Maintainer(store.lake, store.data_path, Policy())
                print(maintainer.run_round().line())
                maintainer.close()
            per = args.units_per_commit
            fresh = make_units("engine", args.commits * per, seed=11)
            timings: dict[str, list[float]] = {"lake": [], "own-filters": []}
            for i in range(args.commits):
                kind = "lake" if i % 2 == 0 else "own-filters"
                store.writer.__class__ = LakeWriter if kind == "lake" else OwnFiltersOnly
                timings[kind].append(_commit(store, fresh[i * per : (i + 1) * per]))
            store.writer.__class__ = LakeWriter
            store.close()
    finally:
        pg.stop()
    for kind, values in timings.items():
        values.sort()
        p90 = values[int(0.9 * (len(values) - 1))]
        median = statistics.median(values)
        print(f"{kind:12} median {median * 1e3:7.1f} ms  p90 {p90 * 1e3:7.1f} ms  n={len(values)}")
    ratio = statistics.median(timings["lake"]) / statistics.median(timings["own-filters"])
    print(f"lake / own-filters median commit time: {ratio:.2f}")


if __name__ == "__main__":
    main()

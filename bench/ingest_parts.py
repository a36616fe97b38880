"""Where each ingest workload's CPU goes, without HTTP (issue 11): conversion and the writer.

    .venv/bin/python bench/ingest_parts.py                 # ~1 min
    .venv/bin/python bench/ingest_parts.py --checkpoints   # also each checkpoint's time

bench/ingest.py measures the three workloads (bench/workloads.py: generic, engine-shaped,
foreign-shaped) end to end; this splits their cost in process, so a change can be aimed at
the part where a workflow span costs more than a generic one:

- conversion: `prepare` (what the receivers run on their threads) of every request of
  `--batches` units, decoded beforehand; process CPU per span, best of `--repeats`;
- writer: the same requests, prepared beforehand, through `Store`'s writer with 16 in
  flight (what bench/ingest.py's 2 clients x 8 connections keep in flight): process CPU
  (the writer thread and DuckDB's) and wall time per span, into a new file;
- with `--checkpoints`, the writer run again with DuckDB's automatic checkpoints off and a
  `CHECKPOINT` every `--every` commits, each one timed: the cost they add to a commit.

Then, per workflow shape, its µs per span over generic's, part by part, and the most it may
cost in all for issue 11's goal (>= 80 % of generic's spans/s, i.e. <= 1.25 x its CPU).
Figures are CPU per span of 512-span batches; the engine shape's records count in its spans'
figures (0.625 records a span).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flowscope.collector.prepare import prepare
from flowscope.storage.batches import ExportOutcome
from flowscope.storage.duckdb.store import Store
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bench.common import SPANS_PER_BATCH
from bench.ingest import _prepared_request
from bench.workloads import LOGS, WORKLOADS, Unit, make_units
from flowscope.gc_tuning import collect_less

IN_FLIGHT = 16
GOAL_RATIO = 0.8  # issue 11: each workflow shape's spans/s >= 80 % of generic spans'


@dataclass
class Parts:
    conversion_us: float  # process CPU per span of `prepare`
    writer_us: float  # process CPU per span of the writer (and DuckDB's threads)
    writer_wall_us: float  # wall time per span of the writer
    checkpoints_ms: list[float]


def conversion(units: list[Unit], repeats: int) -> float:
    """Best-of-`repeats` process CPU per span of `prepare` over every request of `units`."""
    decoded = [
        ("logs", ExportLogsServiceRequest.FromString(body), body)
        if path == LOGS
        else ("traces", ExportTraceServiceRequest.FromString(body), body)
        for unit in units
        for path, body in unit
    ]
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        for signal, message, body in decoded:
            prepare(signal, message, "default", body)
        best = min(best, time.process_time() - started)
    return best / (len(units) * SPANS_PER_BATCH) * 1e6


def writer(units: list[Unit], db: Path, every: int = 0) -> tuple[float, float, list[float]]:
    """The units' requests, prepared beforehand, through the writer (IN_FLIGHT at a time): process
    CPU and wall µs per span; with `every`, automatic checkpoints off and one every `every`
    commits, their times in ms."""
    store = Store(db, checkpoint_threshold="1TB") if every else Store(db)
    store.start()
    requests = [_prepared_request(path, body) for unit in units for path, body in unit]
    checkpoints: list[float] = []

    def checkpoint(con: duckdb.DuckDBPyConnection) -> None:
        started = time.perf_counter()
        con.execute("CHECKPOINT")
        checkpoints.append((time.perf_counter() - started) * 1e3)

    pending: list[Future[ExportOutcome]] = []
    cpu, wall = time.process_time(), time.perf_counter()
    for k, request in enumerate(requests, 1):
        pending.append(store.writer.submit(request))
        while len(pending) >= IN_FLIGHT:
            pending.pop(0).result()
        if every and k % (every * IN_FLIGHT // 2) == 0:  # about `every` commits of half the requests
            store.writer.run_maintenance(checkpoint)
    for future in pending:
        future.result()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    store.close()
    spans = len(units) * SPANS_PER_BATCH
    return cpu / spans * 1e6, wall / spans * 1e6, checkpoints


def measure(workload: str, batches: int, repeats: int, every: int, folder: Path) -> Parts:
    units = make_units(workload, batches, seed=3)
    collect_less()  # the garbage collector as `serve` sets it once started
    converted = conversion(units, repeats)
    cpu, wall, _ = writer(units, folder / f"{workload}.duckdb")
    checkpoints = writer(units, folder / f"{workload}-checkpoints.duckdb", every)[2] if every else []
    return Parts(converted, cpu, wall, checkpoints)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=400, help="units of 512 spans per workload [400]")
    parser.add_argument("--repeats", type=int, default=5, help="conversion passes, the best counts [5]")
    parser.add_argument("--checkpoints", action="store_true", help="also time explicit checkpoints")
    parser.add_argument("--every", type=int, default=20, help="commits between those checkpoints [20]")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="which, comma-separated [all three]")
    args = parser.parse_args()
    every = args.every if args.checkpoints else 0
    print(f"{args.batches} batches of 512 spans per workload; µs per span", flush=True)
    results: dict[str, Parts] = {}
    with tempfile.TemporaryDirectory() as folder:
        for workload in args.workloads.split(","):
            parts = results[workload] = measure(workload, args.batches, args.repeats, every, Path(folder))
            print(
                f"  {workload:8s} conversion {parts.conversion_us:6.2f}   writer {parts.writer_us:6.2f} CPU, "
                f"{parts.writer_wall_us:6.2f} wall   in all {parts.conversion_us + parts.writer_us:6.2f} CPU",
                flush=True,
            )
            if parts.checkpoints_ms:
                print("           checkpoints, ms: " + " ".join(f"{ms:.0f}" for ms in parts.checkpoints_ms))
    generic = results.get("generic")
    if generic is None:
        return
    budget = (generic.conversion_us + generic.writer_us) / GOAL_RATIO
    print(f"issue 11: a workflow span may cost {budget:.2f} µs in all (generic's / {GOAL_RATIO:.0%})")
    for workload in ("engine", "foreign"):
        if workload not in results:
            continue
        parts = results[workload]
        total = parts.conversion_us + parts.writer_us
        print(
            f"  {workload:8s} over generic: conversion {parts.conversion_us - generic.conversion_us:+6.2f}, "
            f"writer {parts.writer_us - generic.writer_us:+6.2f}; in all {total:6.2f} "
            f"({'within' if total <= budget else 'over'} the budget by {abs(total - budget):.2f})"
        )


if __name__ == "__main__":
    main()

"""Live events across lake nodes (issue 14): ack-to-delivery latency from an ingest node to a
WebSocket client of another node, and what following the lake costs an idle node.

    .venv/lake/bin/python bench/lake_events.py                      # 300 executions per case
    .venv/lake/bin/python bench/lake_events.py --executions 100 --intervals 0.05,0.1,0.25

Against `flowscope serve` subprocesses on one DuckLake (a PostgreSQL of its own, started as the
tests start theirs: tests/support/postgres.py; a fresh catalog database per case):

cross-node: node A `--role ingest` receives bench/ws_latency.py's driver (one workflow fact per
    OTLP/HTTP request: each acknowledgement is one commit and releases one event); node B
    `--role query`, polling the lake every FLOWSCOPE_LAKE_POLL_INTERVAL seconds, serves one
    subscriber of the workflow. Latency: from A's acknowledgement to the event's arrival at
    the subscriber (monotonic clock, one machine). One case per poll interval.
same node: one `--role all` node on the lake ingests and serves the subscriber (its writer's
    events reach the feed on its own bus; its follower skips them): the baseline of the run.
idle cost: CPU seconds per second of the query node (follower polling) and of the ingest node
    (no follower) while nothing is sent, from /proc.

Goal (issue 14): cross-node p99 < 1 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Serve, cpu_seconds, start_serve
from bench.ws_latency import STEPS, Driver, Latency, Subscribers, latency
from tests.support.postgres import Postgres, start_postgres

EVENTS_PER_EXECUTION = 2 + 2 * STEPS
SETTLE_SECONDS = 2.0


def idle_cpu(server: Serve, seconds: float) -> float:
    """CPU seconds per second `server` spent while nothing was sent to any node."""
    before, started = cpu_seconds(server.process.pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(server.process.pid) - before) / (time.monotonic() - started)


def measure(api: str, otlp: str, args: argparse.Namespace) -> Latency:
    subs = Subscribers(api, 1, False)
    time.sleep(SETTLE_SECONDS)
    driver = Driver(otlp, args.rate)
    try:
        for _ in range(args.executions):  # a count, not a duration: commits are slow under load
            driver._execution()
    finally:
        driver.stop()
    time.sleep(1.5)  # the last deliveries (beyond the slowest poll interval measured)
    received, closed = subs.finish()
    if closed:
        raise RuntimeError("the server closed the feed")
    return latency(driver.acks, received, 1)


def _lake(pg: Postgres, name: str, workdir: Path) -> tuple[str, ...]:
    url = "ducklake:postgres:" + pg.create_database(name)
    return ("--store", url, "--data-path", str(workdir / f"{name}-data"))


def _print(label: str, lat: Latency) -> None:
    print(
        f"{label:<38s} p50 {lat.p50:7.1f} ms  p99 {lat.p99:7.1f} ms  max {lat.max:7.1f} ms  "
        f"({lat.events // EVENTS_PER_EXECUTION} executions, {lat.events} events, {lat.missing} missing)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--executions", type=int, default=300, help="executions per case [300]")
    parser.add_argument("--rate", type=float, default=40.0, help="driver: events (commits) per second [40]")
    parser.add_argument("--intervals", default="0.1", help="poll intervals to measure, seconds [0.1]")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="idle CPU window [10]")
    args = parser.parse_args()
    intervals = [float(i) for i in args.intervals.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="flowscope-lakebench-"))
    pg = start_postgres()
    worst = 0.0
    try:
        print(
            f"{os.cpu_count()} CPUs; driver: {args.rate:g} events/s to the ingest node, executions of "
            f"{STEPS} steps, one fact per OTLP request; load: {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        for k, interval in enumerate(intervals):
            lake = _lake(pg, f"cross{k}", workdir)
            ingest = start_serve(workdir / f"a{k}.duckdb", *lake, "--role", "ingest")
            query = start_serve(
                workdir / f"b{k}.duckdb", *lake, "--role", "query",
                env={"FLOWSCOPE_LAKE_POLL_INTERVAL": str(interval)},
            )  # fmt: skip
            try:
                time.sleep(SETTLE_SECONDS)
                cpu_query = idle_cpu(query, args.idle_seconds)
                cpu_ingest = idle_cpu(ingest, args.idle_seconds)
                print(
                    f"idle CPU, poll {interval:g} s: query node {cpu_query * 1000:.1f} ms/s, "
                    f"ingest node (no follower) {cpu_ingest * 1000:.1f} ms/s",
                    flush=True,
                )
                lat = measure(query.urls["api"], ingest.urls["otlp_http"], args)
                _print(f"cross-node, poll {interval:g} s", lat)
                worst = max(worst, lat.p99 if not lat.missing else float("inf"))
            finally:
                query.stop()
                ingest.stop()
        single = start_serve(workdir / "one.duckdb", *_lake(pg, "same", workdir), "--role", "all")
        try:
            same = measure(single.urls["api"], single.urls["otlp_http"], args)
            _print("same node (--role all, own bus)", same)
        finally:
            single.stop()
        print(f"\ngoal cross-node p99 < 1 s: worst {worst:.1f} ms -> {'met' if worst < 1000 else 'NOT met'}")
        print(f"load after: {os.getloadavg()[0]:.1f}")
    finally:
        pg.remove()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

"""REST API query latency at scale (issue 4): p50/p95 of the spec's endpoints over
HTTP against a real `flowscope serve`, on 1M and 10M spans.

    .venv/bin/python bench/api_queries.py            # 1M and 10M spans (first run builds ~10 min)
    .venv/bin/python bench/api_queries.py --quick    # 200k spans, fewer calls (~1 min)
    .venv/bin/python bench/api_queries.py --sizes 1000000 --calls 500 --json
    .venv/lake/bin/python bench/api_queries.py --store ducklake --sizes 1000000   # on a lake
    .venv/lake/bin/python bench/api_queries.py --store ducklake --lake-from-file --sizes 10000000

`--store ducklake` (in .venv/lake): the same dataset on a DuckLake whose catalog is a local
PostgreSQL (Debian's binaries), compacted as `flowscope maintain` does (bench/api_lake.py);
`--lake-from-file` copies the file dataset's rows into it instead of storing them through
the lake's writer (minutes instead of an hour at 10M spans).

Data (bench/api_dataset.py): executions x (root + 9 step spans) + 2 lifecycle records
each, over 100 workflows, one hot workflow with 10% of the executions, spread over 30
days; stored through the collector's real Writer and cached under bench/.cache/.
Queries, each called `--calls` times with random ids (warm-up calls excluded): timeline,
details, step details, workflow metrics (all time; last 24 h), executions page 1,
page at skip=10000 (hot workflow), status-filtered page, and (informational) step
metrics. Also the server's peak RSS. On a file, the queries start once the node's first pass
keeping step metrics ready has ended (storage/duckdb/step_warming.py; ~20-30 s at 10M
spans). Goal: p95 < 20 ms at 10M spans (skip >= 10000: < 50 ms).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb
import httpx
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bench import api_dataset as data
from bench import api_lake
from bench.common import Serve, start_serve
from bench.ingest import PeakRss

CACHE = Path(__file__).resolve().parent / ".cache"
DATASET_VERSION = 2  # bump when the generator changes: cached files are rebuilt
# Every 10th batch goes to a second workspace with the same workflow ids, so that the
# workspace filters are real filters (with one workspace DuckDB drops them by statistics).
OTHER_WORKSPACE = "ws_bench_other"


def _build_worker(args: tuple[data.Plan, int, int]) -> tuple[bytes, bytes, int, int]:
    return data.build_batch(*args)


def store_dataset(store: Any, executions: int) -> int:
    """Generate `executions` executions and store them through `store`'s real writer (a DuckDB
    file or a lake store); closes the store; returns the data's end time (ns)."""
    from flowscope.collector.prepare import prepared_request

    end_ns = time.time_ns()
    plan = data.Plan(executions, seed=7, end_ns=end_ns)
    store.start()
    store.cursor().execute("INSERT INTO workspaces (id, slug, name) VALUES (?, 'bench-other', 'Bench other')",
                           [OTHER_WORKSPACE])  # fmt: skip
    started = time.perf_counter()
    pending = []
    spans = 0
    with mp.get_context("spawn").Pool(max(1, (mp.cpu_count() or 2) - 1)) as pool:
        jobs = ((plan, first, count) for first, count in data.batch_ranges(executions))
        for n, (traces, logs, n_spans, n_records) in enumerate(pool.imap(_build_worker, jobs, chunksize=4)):
            ws = OTHER_WORKSPACE if n % 10 == 9 else "default"
            t = ExportTraceServiceRequest.FromString(traces)
            lg = ExportLogsServiceRequest.FromString(logs)
            pending.append(store.writer.submit(prepared_request("traces", t, ws, n_spans, raw=traces)))
            pending.append(store.writer.submit(prepared_request("logs", lg, ws, n_records, raw=logs)))
            spans += n_spans
            while len(pending) > 64:
                pending.pop(0).result()
            if n % 2000 == 0:
                rate = spans / (time.perf_counter() - started + 1e-9)
                print(f"  built {spans:,} spans ({rate:,.0f}/s)", file=sys.stderr, flush=True)
    for future in pending:
        future.result()
    cur = store.cursor()
    for k in range(data.WORKFLOWS):  # the catalog, as the API would have created it
        cur.execute(
            "INSERT INTO workflows (id, workspace_id, name, definition) VALUES (?, 'default', ?, ?)",
            [data.workflow_id(k), data.workflow_name(k), json.dumps(data.definition(k))],
        )
    store.close()
    print(f"  stored {spans:,} spans in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return end_ns


def build(path: Path, executions: int) -> None:
    """The dataset in a new DuckDB file at `path`."""
    from flowscope.storage.duckdb.store import Store

    building = path.with_suffix(".building")
    for stale in (building, Path(f"{building}.wal")):
        stale.unlink(missing_ok=True)
    end_ns = store_dataset(Store(building, max_queue_items=400_000, max_batch_items=100_000), executions)
    with duckdb.connect(str(building)) as con:
        con.execute("CREATE TABLE bench_api_meta AS SELECT ? AS version, ? AS executions, ? AS end_ns",
                    [DATASET_VERSION, executions, end_ns])  # fmt: skip
    building.rename(path)


def dataset(executions: int) -> Path:
    # DuckDB reads no file a newer DuckDB wrote: one cached file per version.
    path = CACHE / f"api-{executions}-duckdb{duckdb.__version__}.duckdb"
    if path.exists():
        try:
            with duckdb.connect(str(path), read_only=True) as con:
                (version,) = con.execute("SELECT version FROM bench_api_meta").fetchone()  # type: ignore[misc]
            if version == DATASET_VERSION:
                return path
        except duckdb.Error:
            pass
        path.unlink()
    CACHE.mkdir(parents=True, exist_ok=True)
    print(f"building {executions * data.SPANS_PER_EXECUTION:,}-span dataset (cached)", file=sys.stderr)
    build(path, executions)
    return path


@dataclass
class Target:
    """A built dataset: how to read it directly, and how `serve` opens it."""

    connect: Callable[[], duckdb.DuckDBPyConnection]
    end_ns: int
    db: Path  # serve's --db (with a lake: the node's own files)
    serve_args: list[str]


@contextlib.contextmanager
def opened(store: str, executions: int, *, copied: bool = False) -> Iterator[Target]:
    """The dataset of `executions` executions in `store` (built and cached when missing);
    `copied`: a lake built from the file dataset's rows (api_lake.build_from_file)."""
    if store == "file":
        path = dataset(executions)
        with duckdb.connect(str(path), read_only=True) as con:
            (end_ns,) = con.execute("SELECT end_ns FROM bench_api_meta").fetchone()  # type: ignore[misc]
        yield Target(lambda: duckdb.connect(str(path), read_only=True), end_ns, path, [])
        return
    root = api_lake.lake_dir(executions, CACHE, copied=copied)
    if not api_lake.cached(root, DATASET_VERSION):
        print(f"building {executions * data.SPANS_PER_EXECUTION:,}-span lake (cached)", file=sys.stderr)
        if copied:
            api_lake.build_from_file(root, dataset(executions), DATASET_VERSION)
        else:
            api_lake.build(root, executions, DATASET_VERSION, store_dataset)
    with api_lake.opened(root) as lake:
        meta = json.loads(lake.meta.read_text())
        yield Target(lake.connect, meta["end_ns"], root / "node", lake.serve_args())


def samples(target: Target, n: int) -> dict[str, object]:
    """Random finished executions (any workflow, and of the hot one) and the data's end time."""
    with target.connect() as con:
        query = (
            "SELECT execution_id FROM executions WHERE status_rank = 3 AND workspace_id = 'default' "
            f"USING SAMPLE reservoir({int(n)} ROWS)"
        )
        ids = [r[0] for r in con.execute(query + " REPEATABLE (1)").fetchall()]
        (spans,) = con.execute("SELECT count(*) FROM spans").fetchone()  # type: ignore[misc]
    return {"ids": ids, "end_ns": target.end_ns, "spans": spans}


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def measure(client: httpx.Client, make_path: Callable[[random.Random], str], calls: int) -> dict[str, float]:
    rnd = random.Random(3)
    for _ in range(min(10, calls)):  # warm-up: caches, connection
        client.get(make_path(rnd)).raise_for_status()
    times = []
    for _ in range(calls):
        path = make_path(rnd)
        t = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - t) * 1000)
        response.raise_for_status()
    return {
        "p50_ms": statistics.median(times), "p95_ms": _percentile(times, 95),
        "max_ms": max(times), "calls": calls,
    }  # fmt: skip


# The end of a pass of storage/duckdb/step_warming.py, which a file store's node runs one second
# after its start: it reads every recently run workflow's step metrics (~20-30 s at 10M spans)
# and slows the requests it competes with, so the queries are measured after it (the figures
# of a node in service, not of its first half minute).
_WARMED = re.compile(r"step metrics of \d+ workflows made ready")


def _warms(target: Target) -> bool:
    """Whether a node started on the file runs a warming pass: some execution began in the last
    day (queries/step_metrics_warm.sql); with none it reads nothing and logs nothing."""
    since = time.time_ns() - 86_400 * 10**9
    with target.connect() as con:
        query = "SELECT count(*) FROM executions WHERE began_ns >= ? AND workflow_id IS NOT NULL"
        (found,) = con.execute(query, [since]).fetchone()  # type: ignore[misc]
    return bool(found)


def _settled(serve: Serve, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not any(_WARMED.search(line) for line in serve.output):
        if time.monotonic() > deadline or serve.process.poll() is not None:
            raise RuntimeError("the node's step metrics warming did not end:\n" + "".join(serve.output[-20:]))
        time.sleep(0.2)
    line = next(filter(_WARMED.search, serve.output)).strip()
    print(f"  (measured after the warming pass: {line})", file=sys.stderr)


def run(target: Target, calls: int) -> dict[str, object]:
    sample = samples(target, 1000)
    ids: list[str] = sample["ids"]  # type: ignore[assignment]
    end = datetime.fromtimestamp(sample["end_ns"] / 1e9, UTC)  # type: ignore[operator]
    since = (end - timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%SZ")
    hot = data.workflow_id(0)

    def cold(r: random.Random) -> str:
        return data.workflow_id(r.randrange(1, data.WORKFLOWS))

    def any_wf(r: random.Random) -> str:
        return hot if r.random() < 0.5 else cold(r)

    queries: dict[str, Callable[[random.Random], str]] = {
        "timeline": lambda r: f"/api/workflows/executions/{r.choice(ids)}/timeline",
        "details": lambda r: f"/api/workflows/executions/{r.choice(ids)}",
        "step details": lambda r: (
            f"/api/workflows/executions/{r.choice(ids)}/steps/step_{r.randrange(1, 10)}"
        ),
        "metrics (all time)": lambda r: f"/api/workflows/{any_wf(r)}/metrics",
        "metrics (hot, all time)": lambda r: f"/api/workflows/{hot}/metrics",
        "metrics (last 24 h)": lambda r: f"/api/workflows/{any_wf(r)}/metrics?since={since}",
        "executions page 1": lambda r: f"/api/workflows/{any_wf(r)}/executions",
        "executions skip=10000 (hot)": lambda r: f"/api/workflows/{hot}/executions?skip=10000",
        "executions status=failed": lambda r: f"/api/workflows/{any_wf(r)}/executions?status=failed",
        "step metrics (info)": lambda r: f"/api/workflows/{any_wf(r)}/steps/metrics",
    }
    warms = target.serve_args == [] and _warms(target)
    serve = start_serve(target.db, *target.serve_args, *(["--log-level", "info"] if warms else []))
    rss = PeakRss(serve.process.pid)
    if warms:
        _settled(serve)
    results: dict[str, object] = {}
    try:
        # One kept-alive connection, as a UI polling the API uses. (Measured before
        # serve set TCP_NODELAY, each response waited ~40 ms for a delayed ACK.)
        with httpx.Client(base_url=serve.urls["api"], timeout=60) as client:
            for name, make in queries.items():
                n = max(10, calls // 5) if name.startswith("step metrics") else calls
                results[name] = measure(client, make, n)
                r = results[name]
                print(f"  {name:30s} p50 {r['p50_ms']:7.2f} ms  p95 {r['p95_ms']:7.2f} ms", file=sys.stderr)  # type: ignore[index]
    finally:
        peak = rss.stop()
        serve.stop()
    return {"spans": sample["spans"], "queries": results, "server_peak_rss_mb": round(peak / 2**20)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="200k spans, 50 calls per query")
    parser.add_argument("--sizes", type=int, nargs="*", help="dataset sizes in spans (default 1M 10M)")
    parser.add_argument("--calls", type=int, help="calls per query (default 300; --quick 50)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--store", choices=("file", "ducklake"), default="file",
        help="the DuckDB file (default) or a compacted DuckLake on a local PostgreSQL (.venv/lake)",
    )  # fmt: skip
    parser.add_argument(
        "--lake-from-file", action="store_true",
        help="build the lake from the file dataset's rows (fast) instead of through the lake's writer",
    )  # fmt: skip
    args = parser.parse_args()
    sizes = args.sizes or ([200_000] if args.quick else [1_000_000, 10_000_000])
    calls = args.calls or (50 if args.quick else 300)
    report = {}
    for size in sizes:
        executions = size // data.SPANS_PER_EXECUTION
        with opened(args.store, executions, copied=args.lake_from_file) as target:
            print(f"{size:,} spans ({executions:,} executions, {args.store}): {calls} calls per query",
                  file=sys.stderr)  # fmt: skip
            report[size] = run(target, calls)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    names = list(next(iter(report.values()))["queries"])  # type: ignore[call-overload]
    header = "query".ljust(30) + "".join(f"{f'{s / 1e6:g}M p50 / p95 (ms)':>26}" for s in report)
    print(header)
    for name in names:
        cells = "".join(
            f"{r['queries'][name]['p50_ms']:>14.1f} / {r['queries'][name]['p95_ms']:<9.1f}"
            for r in report.values()  # type: ignore[index]
        )
        print(name.ljust(30) + cells)
    print(
        "server peak RSS".ljust(30)
        + "".join(f"{r['server_peak_rss_mb']:>20} MB    " for r in report.values())
    )  # type: ignore[index]


if __name__ == "__main__":
    main()

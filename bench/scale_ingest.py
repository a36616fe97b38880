"""Scale-out ingest benchmark (issue 14): the DuckLake store against the DuckDB file, one and
two ingest nodes, and what each span costs in CPU.

    make lake-env
    .venv/lake/bin/python bench/scale_ingest.py            # 204,800 spans per run, 2 rounds
    .venv/lake/bin/python bench/scale_ingest.py --quick    # seconds-long smoke run

It runs in the lake's virtualenv (DuckDB 1.5.5 with the DuckLake and postgres extensions), so
the file store it compares with runs the same DuckDB: the ratio isolates the store.

Configurations, alternated within each round (these 2-core machines are noisy, so every
ratio compares runs of the same round):
- file:   one `serve --role ingest --db FILE` node;
- lake-1: one `serve --role ingest --store ducklake:postgres:... --data-path DIR` node;
- lake-2: two such nodes on the same lake, the client processes split between them.

The load is bench/ingest.py's: client processes POST pre-built 512-span OTLP/HTTP protobuf
batches over keep-alive connections (`--workload`, default foreign-shaped workflow spans:
bench/workloads.py), and a batch counts once answered 200, which comes after its commit.
Every run gets a fresh file, or a fresh lake (its own PostgreSQL database and data path) on
one PostgreSQL server started here (tests/support/postgres.py; Debian's binaries). That
server runs with fsync off, as in the tests, unless `--durable-catalog`.

For each run: acknowledged spans/s; CPU seconds per 1,000 spans of the Flowscope nodes and
of PostgreSQL (all its processes, exited backends included); stored spans, counted afterwards,
which must be all those acknowledged; the lake's Parquet files on disk. The CPU per span is
what projects the scaling on machines with more cores than this one: the nodes' spans/s per
core is 1,000 / (node CPU s per 1,000 spans).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb
import psutil
from flowscope.storage.ducklake import extensions
from flowscope.storage.ducklake.sqlfiles import required

from bench.common import REPO, start_serve
from bench.ingest import count_spans, drive
from tests.support.postgres import Postgres, start_postgres

CONFIGS = ("file", "lake-1", "lake-2")


def _cpu_seconds(proc: psutil.Process, *, children: bool) -> float:
    """User+system CPU of `proc`; with `children`, also of its live children and of the
    children it has reaped (PostgreSQL's exited backends)."""
    times = proc.cpu_times()
    total = times.user + times.system
    if children:
        total += times.children_user + times.children_system
        for child in proc.children(recursive=True):
            try:
                t = child.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass  # exited between the listing and the read: counted at its parent's reaping
    return total


def _postmaster(pg: Postgres) -> psutil.Process:
    pid = int((pg.root / "data" / "postmaster.pid").read_text().split()[0])
    return psutil.Process(pid)


@dataclass
class Run:
    config: str
    rate: float
    acked: int
    stored: int
    node_cpu_per_1k: float
    pg_cpu_per_1k: float
    files: int


def _count_lake_spans(conninfo: str, data_path: Path) -> int:
    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    try:
        extensions.install(con)
        con.execute(f"ATTACH 'ducklake:postgres:{conninfo}' AS lake (DATA_PATH '{data_path}/', READ_ONLY)")
        return con.execute("SELECT count(*) FROM lake.spans").fetchone()[0]  # type: ignore[index]
    finally:
        con.close()


def run_once(config: str, n: int, pg: Postgres, workdir: Path, args: argparse.Namespace) -> Run:
    nodes = 2 if config == "lake-2" else 1
    common = ["--role", "ingest"]
    if config == "file":
        db = workdir / f"file-{n}.duckdb"
        servers = [start_serve(db, *common)]
    else:
        conninfo = pg.create_database(f"lake_{config.replace('-', '_')}_{n}")
        data_path = workdir / f"lake-{config}-{n}"
        store = ["--store", f"ducklake:postgres:{conninfo}", "--data-path", str(data_path)]
        # Each node keeps a local file of its own beside the lake (--db): never shared.
        servers = [
            start_serve(workdir / f"node-{config}-{n}-{k}.duckdb", *common, *store) for k in range(nodes)
        ]
    procs = [psutil.Process(s.process.pid) for s in servers]
    postmaster = _postmaster(pg)
    node_before = sum(_cpu_seconds(p, children=False) for p in procs)
    pg_before = _cpu_seconds(postmaster, children=True)
    try:
        urls = [s.urls["otlp_http"] for s in servers]
        rate, result = drive(urls, args.spans, args.clients, args.connections, args.workload)
        node_cpu = sum(_cpu_seconds(p, children=False) for p in procs) - node_before
        pg_cpu = _cpu_seconds(postmaster, children=True) - pg_before
    finally:
        codes = [s.stop() for s in servers]
    if any(codes):
        raise RuntimeError(f"{config}: a node exited with {codes}:\n" + "".join(servers[0].output[-20:]))
    if config == "file":
        stored, files = count_spans(db), 0
    else:
        stored = _count_lake_spans(conninfo, data_path)
        files = sum(1 for _ in data_path.rglob("*.parquet"))
    acked = result.acked_spans
    if stored < acked:
        raise SystemExit(f"LOST DATA in {config}: {acked - stored} acknowledged spans not stored")
    per_1k = 1000 / max(acked, 1)
    return Run(config, rate, acked, stored, node_cpu * per_1k, pg_cpu * per_1k, files)


def _live_files(conninfo: str, data_path: Path) -> int:
    """Data and delete files the lake's current snapshot reads (the maintenance process's own
    count: storage/ducklake/sql/maintenance/live_files.sql)."""
    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    try:
        extensions.install(con)
        con.execute(f"ATTACH 'ducklake:postgres:{conninfo}' AS lake (DATA_PATH '{data_path}/', READ_ONLY)")
        data, deletes = con.execute(required("maintenance/live_files")).fetchone()  # type: ignore[misc]
        return int(data) + int(deletes)
    finally:
        con.close()


def soak(pg: Postgres, workdir: Path, args: argparse.Namespace) -> None:
    """Ingest at full speed into one lake for `--soak` seconds (`--nodes` ingest nodes) while
    `flowscope maintain` runs every `--maintain-interval` seconds; sample the live data files
    and the Parquet files on disk (replaced files stay there for the maintenance's file grace)."""
    conninfo = pg.create_database("lake_soak")
    data_path = workdir / "lake-soak"
    store = ["--store", f"ducklake:postgres:{conninfo}", "--data-path", str(data_path)]
    servers = [
        start_serve(workdir / f"node-soak-{k}.duckdb", "--role", "ingest", *store) for k in range(args.nodes)
    ]
    maintainer = subprocess.Popen(
        [sys.executable, "-m", "flowscope", "maintain", *store,
         "--interval-seconds", str(args.maintain_interval), "--file-grace-seconds", str(args.file_grace)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
    )  # fmt: skip
    urls = [s.urls["otlp_http"] for s in servers]
    stop = threading.Event()
    samples: list[tuple[float, int, int]] = []

    def sample() -> None:
        started = time.monotonic()
        while not stop.wait(10):
            on_disk = sum(1 for _ in data_path.rglob("*.parquet"))
            samples.append((time.monotonic() - started, _live_files(conninfo, data_path), on_disk))
            elapsed, live, disk = samples[-1]
            print(f"  {elapsed:>5.0f} s  live files {live:>5}  Parquet files on disk {disk:>5}", flush=True)

    sampler = threading.Thread(target=sample, daemon=True)
    acked = 0
    deadline = time.monotonic() + args.soak
    started = time.perf_counter()
    sampler.start()
    try:
        while time.monotonic() < deadline:
            _, result = drive(urls, args.spans, args.clients, args.connections, args.workload)
            acked += result.acked_spans
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        sampler.join()
        codes = [s.stop() for s in servers]
        maintainer.terminate()
        output, _ = maintainer.communicate(timeout=300)
    if any(codes):
        raise RuntimeError(f"a node exited with {codes}")
    stored = _count_lake_spans(conninfo, data_path)
    if stored < acked:
        raise SystemExit(f"LOST DATA: {acked - stored} acknowledged spans not stored")
    problems = [line for line in output.splitlines() if "ERROR" in line or "Traceback" in line]
    print(
        f"soak: {acked:,} spans acked ({acked / elapsed:,.0f}/s over {elapsed:.0f} s, "
        f"{args.nodes} node(s)), stored {stored:,}; maintain every {args.maintain_interval:g} s, "
        f"file grace {args.file_grace:g} s; load {os.getloadavg()[0]:.1f}"
    )
    if samples:
        print(
            f"  max live files {max(x[1] for x in samples)} (goal < 1,000), "
            f"max Parquet files on disk {max(x[2] for x in samples)}"
        )
    if problems:
        print("  maintain logged:\n    " + "\n    ".join(problems[:5]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run (20,480 spans, 1 round)")
    parser.add_argument("--spans", type=int, help="spans per run [204,800; quick 20,480]")
    parser.add_argument("--rounds", type=int, help="rounds, each running every configuration [2; quick 1]")
    parser.add_argument("--clients", type=int, default=2, help="client processes [2]")
    parser.add_argument("--connections", type=int, default=4, help="keep-alive connections per client [4]")
    parser.add_argument("--workload", default="foreign", choices=("foreign", "engine", "generic"))
    parser.add_argument(
        "--durable-catalog", action="store_true", help="PostgreSQL with fsync and synchronous commits on"
    )
    parser.add_argument("--soak", type=float, help="instead: ingest this many seconds with maintain running")
    parser.add_argument("--nodes", type=int, default=1, help="ingest nodes in --soak [1]")
    parser.add_argument("--maintain-interval", type=float, default=30, help="--soak: maintain rounds [30 s]")
    parser.add_argument("--file-grace", type=float, default=600, help="--soak: maintain's file grace [600 s]")
    args = parser.parse_args()
    args.spans = args.spans or (20_480 if args.quick else 204_800)
    rounds = args.rounds or (1 if args.quick else 2)
    if not extensions.available():
        raise SystemExit(
            "the lake's extensions are missing: run this with .venv/lake/bin/python (make lake-env)"
        )

    workdir = Path(tempfile.mkdtemp(prefix="flowscope-scale-"))
    pg = start_postgres(durable=args.durable_catalog)
    runs: list[Run] = []
    if args.soak:
        try:
            soak(pg, workdir, args)
        finally:
            pg.remove()
            shutil.rmtree(workdir, ignore_errors=True)
        return
    try:
        print(
            f"{args.spans:,} {args.workload}-shaped spans per run, {args.clients} clients x "
            f"{args.connections} connections, {os.cpu_count()} CPUs, DuckDB {duckdb.__version__}, "
            f"catalog fsync {'on' if args.durable_catalog else 'off'}"
        )
        header = f"{'round':>5} {'config':<7} {'spans/s':>9} {'acked':>9} {'stored':>9}"
        print(header + f" {'node CPU s/1k':>13} {'PG CPU s/1k':>11} {'files':>6}  load")
        for r in range(rounds):
            # Alternate the order between rounds, so neither store always runs first.
            order = CONFIGS if r % 2 == 0 else tuple(reversed(CONFIGS))
            for config in order:
                run = run_once(config, r, pg, workdir, args)
                runs.append(run)
                load = os.getloadavg()[0]
                print(
                    f"{r:>5} {run.config:<7} {run.rate:>9,.0f} {run.acked:>9,} {run.stored:>9,} "
                    f"{run.node_cpu_per_1k:>13.3f} {run.pg_cpu_per_1k:>11.3f} {run.files:>6}  {load:.1f}",
                    flush=True,
                )
    finally:
        pg.remove()
        shutil.rmtree(workdir, ignore_errors=True)

    def median(config: str, field: str) -> float:
        return statistics.median(getattr(x, field) for x in runs if x.config == config)

    file_rate, one, two = (median(c, "rate") for c in CONFIGS)
    print()
    print("medians over the rounds:")
    print(f"  lake-1 / file = {one / file_rate:.0%}   (goal >= 50%)")
    print(f"  lake-2 / lake-1 = {two / one:.0%}   (goal >= 100%; on 2 cores both nodes share the CPUs)")
    for config in CONFIGS:
        node, pgc = median(config, "node_cpu_per_1k"), median(config, "pg_cpu_per_1k")
        print(
            f"  {config:<7} CPU per 1,000 spans: nodes {node:.3f} s, PostgreSQL {pgc:.3f} s"
            f"  -> {1000 / node:,.0f} spans/s per node core"
        )


if __name__ == "__main__":
    main()

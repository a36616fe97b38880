"""Ingest benchmark (issue 2): how many spans per second Flowscope stores, durably.

    .venv/bin/python bench/ingest.py            # full run (~1 min; the first builds a 10M-span
                                                # database in ~2.5 min, cached in bench/.cache/)
    .venv/bin/python bench/ingest.py --quick    # seconds-long smoke run (200k-span "big" db)

Measures, on the same pre-built OTLP protobuf batches of 512 realistic spans
(bench/common.py: ~10 mixed-type attributes, one event, a resource of 5 attributes):

(a) in-process limit: decode + convert (`prepare`, as receivers do) + insert through
    `Store` and its `Writer` (group commit, dedupe, commit), 64 requests in flight, no HTTP;
client alone: the load generator against a sink that answers 200 without work, to
    show the client is not the bottleneck;
(b) end-to-end: client processes POST the pre-serialized batches over OTLP/HTTP with
    keep-alive connections (default 2 processes x 8) to a `flowscope serve` subprocess.
    Only that many requests are in flight, so the writer's group commits hold about half
    of them: fewer connections mean smaller commits (each has a fixed cost of ~10 ms,
    mostly per-statement overhead), e.g. 2 x 4 gave ~15% less. A batch counts
    once it is answered 200, which the server sends only after the commit (durable
    acks). Afterwards the server is stopped and the stored spans are counted;
(b) again into a database that already holds 10M spans (built once through the same
    writer code, cached under bench/.cache/).

Then (a) and (b) for the product's own workloads (issue 11; bench/workloads.py), same batch
size, client setup and durable acks, every batch new:
- engine-shaped: workflow spans plus lifecycle records, as `flowscope run` sends them
  (32 executions of 7 steps per 512-span batch, and a logs request with their 320 records);
- foreign-shaped: workflow spans only (64 executions per batch, each a root plus 7 steps).

Prints spans/s for each, the ratio (b)/(a), ingest into the big database vs the
empty one, the server's peak RSS, and each workflow shape's spans/s against generic spans'.
`--rounds N` runs (b) of the three workloads N - 1 more times, one after the other, and
judges issue 11's goals on the medians: this shared machine's speed drifts by several
percent from one minute to the next, more than the differences a change usually makes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import multiprocessing as mp
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb
import psutil
from flowscope.collector.prepare import prepare, prepared_request
from flowscope.storage.batches import WriteRequest
from flowscope.storage.duckdb.schema import migrations
from flowscope.storage.duckdb.store import Store
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from bench.common import SPANS_PER_BATCH, cpu_seconds, make_batches, start_serve
from bench.workloads import LOGS, TRACES, Unit, make_units

CACHE = Path(__file__).resolve().parent / ".cache"
DAY_NS = 86_400 * 10**9


# --- (a) in-process -------------------------------------------------------------------


def in_process(batches: list[bytes] | list[Unit], db: Path, inflight: int = 64) -> float:
    """Decode and convert each batch (`prepare`) and hand it to the writer, as a receiver does,
    without HTTP; spans/s once everything is committed. Batches are span request bodies, or
    units of a workload (bench/workloads.py: a logs request may come with the spans)."""
    store = Store(db)
    store.start()
    pending = []
    started = time.perf_counter()
    for batch in batches:
        for path, body in [(TRACES, batch)] if isinstance(batch, bytes) else batch:
            pending.append(store.writer.submit(_prepared_request(path, body)))
        while len(pending) >= inflight:
            pending.pop(0).result()
    for future in pending:
        future.result()
    elapsed = time.perf_counter() - started
    store.close()
    return len(batches) * SPANS_PER_BATCH / elapsed


def _prepared_request(path: str, body: bytes) -> WriteRequest:
    """What a receiver hands the writer for one OTLP/HTTP request body."""
    if path == LOGS:
        logs = ExportLogsServiceRequest.FromString(body)
        items = sum(len(sl.log_records) for rl in logs.resource_logs for sl in rl.scope_logs)
        return WriteRequest("logs", None, "default", items, prepared=prepare("logs", logs, "default", body))
    message = ExportTraceServiceRequest.FromString(body)
    prepared = prepare("traces", message, "default", body)
    return WriteRequest("traces", None, "default", SPANS_PER_BATCH, prepared=prepared)


# --- load generator (separate processes) -------------------------------------------------


@dataclass
class ClientResult:
    acked_spans: int
    errors: int
    retries: int


def _post_all(url: str, units: list[Unit], results: list[ClientResult], lock: threading.Lock) -> None:
    """POST each unit's requests in turn; a unit's 512 spans count once all its requests are acked."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
    headers = {"Content-Type": "application/x-protobuf"}
    acked = errors = retries = 0
    for unit in units:
        ok = True
        for path, body in unit:
            tries = 0
            while True:
                tries += 1
                try:
                    conn.request("POST", path, body, headers)
                    response = conn.getresponse()
                    response.read()
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
                    errors += 1
                    ok = False
                    break
                if response.status == 200:
                    break
                if response.status in (429, 503) and tries < 100:
                    retries += 1
                    time.sleep(float(response.getheader("Retry-After") or 1) / 10)
                    continue
                errors += 1
                ok = False
                break
        if ok:
            acked += SPANS_PER_BATCH
    conn.close()
    with lock:
        results.append(ClientResult(acked, errors, retries))


def client_process(  # type: ignore[no-untyped-def]
    url: str, n_batches: int, seed: int, connections: int, ready, go, out, workload: str = "generic"
) -> None:
    bodies = make_units(workload, n_batches, seed=seed)
    ready.put(len(bodies))
    go.wait()
    results: list[ClientResult] = []
    lock = threading.Lock()
    threads = [
        threading.Thread(target=_post_all, args=(url, bodies[k::connections], results, lock))
        for k in range(connections)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(
        ClientResult(
            sum(r.acked_spans for r in results),
            sum(r.errors for r in results),
            sum(r.retries for r in results),
        )
    )


def drive(
    url: str | list[str], spans: int, clients: int, connections: int, workload: str = "generic"
) -> tuple[float, ClientResult]:
    """Post `spans` spans (in 512-span batches, of `workload`: bench/workloads.py) from `clients`
    processes; spans/s acknowledged. Several URLs (several nodes): client k posts to the k-th,
    round robin."""
    urls = [url] if isinstance(url, str) else url
    ctx = mp.get_context("spawn")
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    per_client = max(1, spans // SPANS_PER_BATCH // clients)
    procs = [
        ctx.Process(
            target=client_process,
            args=(urls[k % len(urls)], per_client, 1000 + k, connections, ready, go, out, workload),
        )
        for k in range(clients)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=600)
    started = time.perf_counter()
    go.set()
    results = [out.get(timeout=3600) for _ in procs]
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join()
    total = ClientResult(
        sum(r.acked_spans for r in results), sum(r.errors for r in results), sum(r.retries for r in results)
    )
    return total.acked_spans / elapsed, total


# --- a sink that answers 200 without doing anything (client-alone measurement) ----------------

_OK = ExportTraceServiceResponse().SerializeToString()
_SINK_RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: "
    + str(len(_OK)).encode()
    + b"\r\n\r\n"
    + _OK
)
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


class _SinkProtocol(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = bytearray()
        self.need: int | None = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.need is None:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                m = _LENGTH.search(self.buffer, 0, end)
                self.need = end + 4 + (int(m.group(1)) if m else 0)
            if len(self.buffer) < self.need:
                return
            del self.buffer[: self.need]
            self.need = None
            self.transport.write(_SINK_RESPONSE)  # type: ignore[attr-defined]


def sink_process(port_out) -> None:  # type: ignore[no-untyped-def]
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_SinkProtocol, "127.0.0.1", 0)
        port_out.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


def client_alone(spans: int, clients: int, connections: int) -> float:
    ctx = mp.get_context("spawn")
    port_out = ctx.Queue()
    sink = ctx.Process(target=sink_process, args=(port_out,), daemon=True)
    sink.start()
    try:
        rate, _ = drive(f"http://127.0.0.1:{port_out.get(timeout=60)}", spans, clients, connections)
    finally:
        sink.terminate()
        sink.join()
    return rate


# --- (b) end-to-end ----------------------------------------------------------------------


class PeakRss:
    """Samples a process's resident memory every 50 ms; `peak` in bytes."""

    def __init__(self, pid: int) -> None:
        self.peak = 0
        self._proc = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self.peak = max(self.peak, self._proc.memory_info().rss)
            except psutil.Error:
                return

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


@dataclass
class EndToEnd:
    rate: float
    acked: int
    stored: int
    peak_rss: int
    result: ClientResult
    cpu_us_per_span: float  # the server process's CPU time (all threads) per acknowledged span


def end_to_end(db: Path, spans: int, clients: int, connections: int, workload: str = "generic") -> EndToEnd:
    before = count_spans(db) if db.exists() else 0
    server = start_serve(db)
    rss = PeakRss(server.process.pid)
    cpu_before = cpu_seconds(server.process.pid)
    try:
        rate, result = drive(server.urls["otlp_http"], spans, clients, connections, workload)
        cpu = cpu_seconds(server.process.pid) - cpu_before
    finally:
        code = server.stop()
        peak = rss.stop()
    if code != 0:
        raise RuntimeError(f"server exited with {code}:\n" + "".join(server.output))
    problems = [line for line in server.output if "ERROR" in line or "Traceback" in line]
    if problems:
        print("    server logged errors:\n      " + "      ".join(problems[:5]), flush=True)
    stored = count_spans(db) - before
    return EndToEnd(rate, result.acked_spans, stored, peak, result, cpu / max(1, result.acked_spans) * 1e6)


def count_spans(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM spans").fetchone()[0]  # type: ignore[index]
    finally:
        con.close()


# --- the pre-filled database -----------------------------------------------------------------


def prefilled_db(spans: int) -> Path:
    """A database holding `spans` spans of the past week, built once through the writer and cached."""
    version = migrations()[-1][0]
    # DuckDB reads no file a newer DuckDB wrote: one cached file per version.
    path = CACHE / f"prefill-{spans}-schema{version}-duckdb{metadata.version('duckdb')}.duckdb"
    if path.exists():
        return path
    CACHE.mkdir(exist_ok=True)
    (CACHE / ".gitignore").write_text("*\n")
    building = path.with_suffix(".building")
    for stale in (building, Path(f"{building}.wal")):
        stale.unlink(missing_ok=True)
    print(f"building a {spans:,}-span database at {path} (once; cached) ...", flush=True)
    started = time.perf_counter()
    store = Store(building, max_queue_items=400_000, max_batch_items=100_000)
    store.start()
    n_batches = spans // SPANS_PER_BATCH
    week_start = time.time_ns() - 7 * DAY_NS
    rate = spans / (7 * DAY_NS / 1e9 - 3_600)  # spread over the week before the last hour
    pending = []
    chunk = 200
    for first in range(0, n_batches, chunk):
        count = min(chunk, n_batches - first)
        start = week_start + int(first * SPANS_PER_BATCH / rate * 1e9)
        bodies = make_batches(count, seed=first, start_ns=start, spans_per_second=rate)
        for body in bodies:
            message = ExportTraceServiceRequest.FromString(body)
            pending.append(
                store.writer.submit(prepared_request("traces", message, "default", SPANS_PER_BATCH, raw=body))
            )
        while len(pending) > 400:
            pending.pop(0).result()
        done = first + count
        if done % 2000 < chunk:
            rate = done * SPANS_PER_BATCH / (time.perf_counter() - started)
            print(f"  {done * SPANS_PER_BATCH:>11,} spans  {rate:,.0f} spans/s", flush=True)
    for future in pending:
        future.result()
    store.close()
    building.rename(path)
    print(f"built in {time.perf_counter() - started:.0f} s, {path.stat().st_size / 1e9:.2f} GB", flush=True)
    return path


# --- main ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run (small sizes)")
    parser.add_argument("--spans", type=int, help="spans per measurement [full 1,000,000; quick 51,200]")
    parser.add_argument("--prefill", type=int, help="spans already in the big database [10M; quick 200k]")
    parser.add_argument("--clients", type=int, default=2, help="client processes [2]")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections per client [8]")
    parser.add_argument("--skip-prefilled", action="store_true", help="skip the run into the big database")
    parser.add_argument(
        "--rounds", type=int, default=1,
        help="end-to-end rounds of the three workloads, interleaved; verdicts on the median ratio [1]",
    )  # fmt: skip
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    spans = args.spans or (51_200 if args.quick else 1_000_000)
    prefill = args.prefill or (204_800 if args.quick else 10_000_000)
    conc = f"{args.clients} client processes x {args.connections} connections"

    workdir = Path(tempfile.mkdtemp(prefix="flowscope-bench-"))
    try:
        print(f"batches of {SPANS_PER_BATCH} spans; {spans:,} spans per measurement; {os.cpu_count()} CPUs")
        batches = make_batches(spans // SPANS_PER_BATCH, seed=7)
        print(f"  one batch = {len(batches[0]):,} bytes of OTLP protobuf")
        a = in_process(batches, workdir / "inprocess.duckdb")
        del batches
        print(f"(a) in-process decode+convert+insert     {a:>10,.0f} spans/s", flush=True)

        alone = client_alone(spans, args.clients, args.connections)
        print(f"    client alone vs. a null sink          {alone:>10,.0f} spans/s  ({conc})", flush=True)

        empty = end_to_end(workdir / "empty.duckdb", spans, args.clients, args.connections)
        _report("(b) end-to-end OTLP/HTTP, empty db", empty)
        print(f"    ratio (b)/(a)                         {empty.rate / a:>10.0%}", flush=True)

        big = None
        if not args.skip_prefilled:
            cached = prefilled_db(prefill)
            target = workdir / "prefilled.duckdb"
            shutil.copyfile(cached, target)
            big = end_to_end(target, spans, args.clients, args.connections)
            _report(f"(b) end-to-end, db with {prefill / 1e6:g}M spans", big)
            print(f"    {prefill / 1e6:g}M-span db vs empty                 {big.rate / empty.rate:>10.0%}")

        shapes = _workflow_shapes(workdir, spans, args.clients, args.connections, empty)
        rounds = [{"generic": empty, **shapes}]
        for n in range(2, args.rounds + 1):
            rounds.append(_round(workdir / f"round-{n}", spans, args.clients, args.connections, n))
        ratios = _median_ratios(rounds)

        print()
        print("goals (2-core machine): (b) >= 40,000 spans/s and >= 50% of (a); big db >= 80% of empty")
        print(f"  (b) = {empty.rate:,.0f} spans/s: {'met' if empty.rate >= 40_000 else 'NOT met'}")
        print(f"  (b)/(a) = {empty.rate / a:.0%}: {'met' if empty.rate >= 0.5 * a else 'NOT met'}")
        if big is not None:
            ok = big.rate >= 0.8 * empty.rate
            print(f"  big/empty = {big.rate / empty.rate:.0%}: {'met' if ok else 'NOT met'}")
        goals = "(b) of each workflow shape >= 80% of generic (b), and >= 40,000 spans/s"
        print(f"goals (issue 11): {goals}{' (medians of the rounds)' if len(rounds) > 1 else ''}")
        for shape in shapes:
            ratio, rate = ratios[shape]
            print(f"  (b) {shape}-shaped/generic = {ratio:.0%}: {'met' if ratio >= 0.8 else 'NOT met'}")
            print(f"  (b) {shape}-shaped = {rate:,.0f} spans/s: {'met' if rate >= 40_000 else 'NOT met'}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _workflow_shapes(
    workdir: Path, spans: int, clients: int, connections: int, generic: EndToEnd
) -> dict[str, EndToEnd]:
    """(a) and (b) for the engine's and a foreign tracer's workflow telemetry, against generic (b)."""
    runs: dict[str, EndToEnd] = {}
    for shape in ("engine", "foreign"):
        units = make_units(shape, spans // SPANS_PER_BATCH, seed=7)
        a = in_process(units, workdir / f"inprocess-{shape}.duckdb")
        del units
        print(f"{f'(a) in-process, {shape}-shaped workflow':<42s}{a:>10,.0f} spans/s", flush=True)
        runs[shape] = run = end_to_end(workdir / f"{shape}.duckdb", spans, clients, connections, shape)
        _report(f"(b) end-to-end, {shape}-shaped workflow", run)
        print(f"{f'    {shape}-shaped (b) / generic (b)':<42s}{run.rate / generic.rate:>10.0%}", flush=True)
        cpu_ratio = run.cpu_us_per_span / generic.cpu_us_per_span
        print(f"{f'    {shape}-shaped server CPU / generic':<42s}{cpu_ratio:>10.2f}x", flush=True)
    return runs


def _round(workdir: Path, spans: int, clients: int, connections: int, n: int) -> dict[str, EndToEnd]:
    """Another end-to-end run of each workload, one after the other (each into an empty database):
    on a shared machine whose speed drifts, the ratios of one round compare runs minutes apart."""
    workdir.mkdir()
    runs: dict[str, EndToEnd] = {}
    for shape in ("generic", "engine", "foreign"):
        runs[shape] = run = end_to_end(workdir / f"{shape}.duckdb", spans, clients, connections, shape)
        _report(f"(b) round {n}, {shape}", run)
    for shape in ("engine", "foreign"):
        ratio = runs[shape].rate / runs["generic"].rate
        print(f"{f'    round {n}, {shape}-shaped / generic':<42s}{ratio:>10.0%}", flush=True)
    return runs


def _median_ratios(rounds: list[dict[str, EndToEnd]]) -> dict[str, tuple[float, float]]:
    """Per workflow shape: the median over the rounds of its ratio to generic spans, and of its rate."""
    out = {}
    for shape in ("engine", "foreign"):
        ratio = statistics.median(r[shape].rate / r["generic"].rate for r in rounds)
        out[shape] = (ratio, statistics.median(r[shape].rate for r in rounds))
    if len(rounds) > 1:
        for shape, (ratio, rate) in out.items():
            label = f"    median of {len(rounds)} rounds, {shape}-shaped"
            print(f"{label:<42s}{rate:>10,.0f} spans/s, {ratio:.0%} of generic", flush=True)
    return out


def _report(label: str, run: EndToEnd) -> None:
    print(
        f"{label:<42s}{run.rate:>10,.0f} spans/s  acked {run.acked:,}, stored {run.stored:,}, "
        f"503-retries {run.result.retries}, errors {run.result.errors}, "
        f"server peak RSS {run.peak_rss / 2**20:,.0f} MiB",
        flush=True,
    )
    print(f"    server CPU per acknowledged span, {label}: {run.cpu_us_per_span:.1f} µs", flush=True)
    if run.stored < run.acked:
        raise SystemExit(f"LOST DATA: {run.acked - run.stored} acknowledged spans not stored")


if __name__ == "__main__":
    main()

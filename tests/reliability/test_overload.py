"""Overload, beyond tests/collector/test_backpressure.py (which proves 503/Retry-After/RetryInfo,
bounded memory and SDK retries on their own):

- 1,000 WebSocket subscribers plus concurrent API readers while ingest runs: every read
  answers 200, every subscriber gets every event, ingest keeps its pace (bounded time);
- floods over HTTP and gRPC (clients that wait what Retry-After / UNAVAILABLE advise) *while*
  real OTel SDK exporters (HTTP and gRPC) export into the same slowed writer: floods get 503 +
  Retry-After / UNAVAILABLE, the server's memory stays bounded, and the exporters' retries
  still land every span exactly once. (Clients that ignore Retry-After and resend at once can
  starve well-behaved exporters: admission is first come, first served.)

Figures (subscribers, events, reads and their p99, spans/s, peak RSS) are printed;
FLOWSCOPE_SOAK=1 runs longer.
"""

from __future__ import annotations

import asyncio
import resource
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import httpx
import orjson
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from websockets.asyncio.client import connect

from tests.reliability.support import (
    GRPC_TRACES,
    PROTOBUF,
    padded_request,
    rss_sampler,
    soak,
    stored_spans,
)
from tests.support.server import start_server
from tests.ws.support import Execution, Tracer, new_workflow_id, ws_url

MiB = 1 << 20
SUBSCRIBERS = 1000
RUNS = 3
EVENTS_PER_RUN = 6  # workflow_started, 2 x (step_started, step_completed), workflow_completed


def _raise_open_files(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(len(ordered) * 0.99) - 1] if ordered else 0.0


def test_1000_subscribers_and_api_readers_during_ingest(tmp_path: Path) -> None:
    _raise_open_files(4 * SUBSCRIBERS + 1024)  # the server inherits it: one socket per subscriber each side
    server = start_server(tmp_path / "fanout.duckdb")
    wf = new_workflow_id()
    duration = 60.0 if soak() else 8.0
    reads: Counter[int] = Counter()
    read_latency: list[float] = []
    ingest_status: Counter[int] = Counter()
    ingested = 0
    stop = threading.Event()

    def reader() -> None:
        paths = ["/api/workflows", "/api/services", f"/api/workflows/{wf}/executions",
                 "/api/grafana/executions", "/api/traces?service=test-service&limit=5",
                 f"/api/workflows/{wf}/metrics"]  # fmt: skip
        with httpx.Client(base_url=server.api, timeout=30) as client:
            i = 0
            while not stop.is_set():
                path = paths[i % len(paths)]
                t = time.monotonic()
                try:
                    status = client.get(path).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__  # type: ignore[assignment]
                read_latency.append(time.monotonic() - t)
                # the workflow exists once its first execution is ingested: 404 until then is right
                reads[404 if status == 404 and wf in path else status] += 1
                i += 1

    def flood() -> None:
        nonlocal ingested
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                request, ids = padded_request(500, 100)
                response = client.post(f"{server.otlp_http}/v1/traces", content=request.SerializeToString(),
                                       headers=PROTOBUF)  # fmt: skip
                ingest_status[response.status_code] += 1
                if response.status_code == 200:
                    ingested += len(ids)

    async def subscriber(path: str, ready: asyncio.Semaphore) -> list[str]:
        async with connect(ws_url(server.api, path), open_timeout=60, ping_interval=None) as conn:
            ready.release()
            got: list[str] = []
            end = "step_completed" if "/step/" in path else "workflow_completed"
            per_run = 2 if "/step/" in path else EVENTS_PER_RUN
            while len(got) < RUNS * per_run:
                message = orjson.loads(await asyncio.wait_for(conn.recv(), 60))
                got.append(message["event"])
            assert got.count(end) == RUNS
            return got

    async def main() -> tuple[list[list[str]], float, float]:
        ready = asyncio.Semaphore(0)
        paths = [f"/ws/workflows/{wf}"] * (SUBSCRIBERS * 4 // 5) + [f"/ws/workflows/{wf}/step/b"] * (
            SUBSCRIBERS // 5
        )
        t0 = time.monotonic()
        tasks = []
        for path in paths:
            tasks.append(asyncio.create_task(subscriber(path, ready)))
            await asyncio.sleep(0)
        for _ in paths:
            await asyncio.wait_for(ready.acquire(), 120)
        connected = time.monotonic() - t0
        tracer = Tracer(server.otlp_http)
        try:

            def emit() -> None:
                time.sleep(duration / 2)  # in the middle of the readers' and the flood's run
                for _ in range(RUNS):
                    ex = Execution(tracer, wf, autoflush=True)
                    for s in ("a", "b"):
                        ex.start_step(s)
                        ex.end_step(s, output={"s": s})
                    ex.end()

            t1 = time.monotonic()
            await asyncio.to_thread(emit)
            results = await asyncio.wait_for(asyncio.gather(*tasks), 120)
            delivered = time.monotonic() - t1 - duration / 2
        finally:
            tracer.shutdown()
        return results, connected, delivered

    threads = [threading.Thread(target=reader) for _ in range(6)] + [threading.Thread(target=flood)]
    try:
        with rss_sampler(server.process.pid) as rss:
            for t in threads:
                t.start()
            started = time.monotonic()
            results, connected, delivered = asyncio.run(main())
            remaining = duration - (time.monotonic() - started)
            if remaining > 0:
                time.sleep(remaining)
            stop.set()
            for t in threads:
                t.join(60)
            elapsed = time.monotonic() - started
        assert server.terminate() == 0
    finally:
        stop.set()
        server.kill()
    events = sum(len(r) for r in results)
    assert len(results) == SUBSCRIBERS
    assert set(reads) <= {200, 404}, f"reads failed: {dict(reads)}"
    assert set(ingest_status) == {200}, f"ingest refused or failed: {dict(ingest_status)}"
    assert ingested > 0
    stored, rows = stored_spans(server.db)
    assert rows == len(stored) >= ingested
    print(
        f"\n[overload/fan-out] {SUBSCRIBERS} WebSocket subscribers connected in {connected:.1f}s, "
        f"{events} events delivered ({RUNS} executions; last event {delivered:.1f}s after the first send); "
        f"{sum(reads.values())} API reads {dict(reads)} (p99 {_p99(read_latency) * 1000:.0f} ms); "
        f"{ingested} spans ingested meanwhile ({ingested / elapsed:.0f}/s, all 200); "
        f"server RSS peak {rss['peak'] / MiB:.0f} MiB (baseline {rss['baseline'] / MiB:.0f})"
    )


def _sdk_batches(n_batches: int, per_batch: int) -> list[list[Any]]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "pressured"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("overload")
    for i in range(n_batches * per_batch):
        with tracer.start_as_current_span(f"op {i % 7}", attributes={"i": i, "blob": "q" * 200}):
            pass
    spans = list(memory.get_finished_spans())
    return [spans[k : k + per_batch] for k in range(0, len(spans), per_batch)]


def test_sdk_exporters_land_everything_while_raw_floods_are_refused(tmp_path: Path) -> None:
    env = {"FLOWSCOPE_COMMIT_DELAY_SECONDS": "0.2", "FLOWSCOPE_QUEUE_ITEMS": "2000"}
    server = start_server(tmp_path / "overload.duckdb", env=env)
    batches = _sdk_batches(30 if soak() else 12, 250)
    flood_seconds = 60.0 if soak() else 6.0
    http_status: Counter[int] = Counter()
    grpc_codes: Counter[str] = Counter()
    retry_after: Counter[str] = Counter()
    flood_acked: set[tuple[str, str]] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def flood_http() -> None:
        with httpx.Client(timeout=60) as client:
            while not stop.is_set():
                request, ids = padded_request(400, 500)
                response = client.post(f"{server.otlp_http}/v1/traces", content=request.SerializeToString(),
                                       headers=PROTOBUF)  # fmt: skip
                with lock:
                    http_status[response.status_code] += 1
                    if response.status_code == 503:
                        retry_after[response.headers.get("retry-after", "")] += 1
                    elif response.status_code == 200:
                        flood_acked.update(ids)
                if response.status_code == 503:  # as a well-behaved client does
                    stop.wait(int(response.headers.get("retry-after", "1")))

    def flood_grpc() -> None:
        with grpc.insecure_channel(server.otlp_grpc) as channel:
            call = channel.unary_unary(GRPC_TRACES)
            while not stop.is_set():
                request, ids = padded_request(400, 500)
                try:
                    call(request.SerializeToString(), timeout=60)
                    code = "OK"
                except grpc.RpcError as err:
                    code = err.code().name
                with lock:
                    grpc_codes[code] += 1
                    if code == "OK":
                        flood_acked.update(ids)
                if code == "UNAVAILABLE":
                    stop.wait(1.0)

    def export(k_batch: tuple[int, list[Any]]) -> Any:
        k, batch = k_batch
        if k % 2:
            exporter: Any = GrpcSpanExporter(endpoint=server.otlp_grpc, insecure=True, timeout=120)
        else:
            exporter = HttpSpanExporter(endpoint=f"{server.otlp_http}/v1/traces", timeout=120)
        try:
            return exporter.export(batch)
        finally:
            exporter.shutdown()

    floods = [threading.Thread(target=flood_http) for _ in range(2)]
    floods += [threading.Thread(target=flood_grpc) for _ in range(1)]
    try:
        with rss_sampler(server.process.pid) as rss:
            for t in floods:
                t.start()
            t0 = time.monotonic()
            with ThreadPoolExecutor(len(batches)) as pool:
                results = list(pool.map(export, enumerate(batches)))
            exported_in = time.monotonic() - t0
            time.sleep(max(0.0, flood_seconds - exported_in))
            stop.set()
            for t in floods:
                t.join(120)
        assert server.terminate() == 0
    finally:
        stop.set()
        server.kill()
    assert results == [SpanExportResult.SUCCESS] * len(batches)
    refused = http_status[503] + grpc_codes["UNAVAILABLE"]
    assert refused > 0, ("the queue never filled", http_status, grpc_codes)
    assert set(http_status) <= {200, 503} and set(grpc_codes) <= {"OK", "UNAVAILABLE"}
    assert all(v.isdigit() and 1 <= int(v) <= 30 for v in retry_after), retry_after
    stored, rows = stored_spans(server.db)
    sent = {(f"{s.context.trace_id:032x}", f"{s.context.span_id:016x}") for b in batches for s in b}
    assert sent <= stored, f"{len(sent - stored)} SDK spans lost"
    assert flood_acked <= stored, f"{len(flood_acked - stored)} acknowledged flood spans lost"
    assert rows == len(stored), f"{rows - len(stored)} spans stored twice"
    growth = rss["peak"] - rss["baseline"]
    assert growth < 400 * MiB, f"server grew {growth / MiB:.0f} MiB under overload"
    print(
        f"\n[overload/backpressure] queue 2000 items, commit delay 0.2 s: {len(batches)} SDK exports "
        f"({len(sent)} spans, HTTP+gRPC) all SUCCESS after retries in {exported_in:.1f}s; floods: HTTP "
        f"{dict(http_status)}, gRPC {dict(grpc_codes)}, Retry-After values {sorted(retry_after)}; "
        f"every acknowledged span stored once ({len(stored)}); server RSS peak {rss['peak'] / MiB:.0f} MiB "
        f"(+{growth / MiB:.0f} MiB)"
    )

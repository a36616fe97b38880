"""A writer slowed on purpose fills the bounded queue: clients are told to retry, memory stays bounded,
and the real SDK exporters' retries land every span in the end."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import httpx
import psutil
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.collector.helpers import (
    GRPC_METHODS,
    PROTOBUF,
    all_spans,
    count,
    metric,
    open_db,
    rows,
    spans_request,
)

SLOW = {"FLOWSCOPE_COMMIT_DELAY_SECONDS": "0.25", "FLOWSCOPE_QUEUE_ITEMS": "1000"}


def _payload_request(n: int, size: int) -> bytes:
    request, _ = spans_request(n)
    for span in all_spans(request):
        span.attributes.add(key="payload", value=AnyValue(string_value="z" * size))
    return request.SerializeToString()


def test_full_queue_answers_503_and_unavailable_and_memory_stays_bounded(make_server: Any) -> None:
    server = make_server(env=SLOW)
    proc = psutil.Process(server.process.pid)
    baseline = _private_bytes(proc)
    body = _payload_request(500, 2000)  # ~1 MB, 500 items: two of them fill the queue
    statuses: list[int] = []
    retry_after: set[str] = set()
    messages: set[str] = set()
    grpc_errors: list[grpc.RpcError] = []
    offered = 0
    lock = threading.Lock()
    stop = threading.Event()
    peak = baseline

    def flood_http() -> None:
        nonlocal offered
        with httpx.Client(timeout=60) as client:
            while not stop.is_set():
                response = client.post(
                    f"{server.otlp_http}/v1/traces", content=body, headers={"Content-Type": PROTOBUF}
                )
                with lock:
                    offered += len(body)
                    statuses.append(response.status_code)
                    if response.status_code == 503:
                        retry_after.add(response.headers.get("retry-after", ""))
                        messages.add(status_pb2.Status.FromString(response.content).message)

    def flood_grpc() -> None:
        nonlocal offered
        with grpc.insecure_channel(server.otlp_grpc) as channel:
            call = channel.unary_unary(GRPC_METHODS["traces"])
            while not stop.is_set():
                try:
                    call(body, timeout=60)
                except grpc.RpcError as err:
                    with lock:
                        grpc_errors.append(err)
                with lock:
                    offered += len(body)

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _private_bytes(proc))
            time.sleep(0.01)

    threads = [threading.Thread(target=flood_http) for _ in range(12)]
    threads += [threading.Thread(target=flood_grpc) for _ in range(4)]
    threads.append(threading.Thread(target=sample))
    for t in threads:
        t.start()
    # Flood until FLOOD_BYTES were offered (a few seconds on a quiet machine), not for a fixed
    # time: what is compared with the growth is the amount offered, whatever the speed.
    deadline = time.monotonic() + 90
    while offered < FLOOD_BYTES and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(60)

    assert 200 in statuses, "nothing got through"
    assert statuses.count(503) > 10, f"no backpressure: {set(statuses)}"
    assert set(statuses) <= {200, 503}
    assert retry_after and all(v.isdigit() and 1 <= int(v) <= 30 for v in retry_after), retry_after
    assert any("write queue full" in m for m in messages)
    unavailable = [e for e in grpc_errors if e.code() == grpc.StatusCode.UNAVAILABLE]
    assert unavailable and len(unavailable) == len(grpc_errors)
    status = rpc_status.from_call(unavailable[0])
    assert status is not None and status.details, "UNAVAILABLE without RetryInfo"
    info = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(info)
    assert 1 <= info.retry_delay.seconds + info.retry_delay.nanos / 1e9 <= 30
    # the same delay where the Python SDK's gRPC exporter reads it
    trailer = dict(unavailable[0].trailing_metadata() or ()).get("google.rpc.retryinfo-bin")
    assert trailer is not None and error_details_pb2.RetryInfo.FromString(trailer) == info
    growth = peak - baseline
    assert offered >= FLOOD_BYTES, f"only {offered >> 20} MiB offered in 90 s"
    assert growth < GROWTH_BOUND, f"server grew by {growth >> 20} MiB of {offered >> 20} MiB offered"
    assert metric(server, "flowscope_collector_backpressure_total") > 0


# Three times the bound on growth: a server that kept what it refused could not stay under it.
# (Comparing growth with a fixed share of the flood failed as the database's own cache grew
# with what it accepted.)
GROWTH_BOUND = 300 << 20
FLOOD_BYTES = 3 * GROWTH_BOUND


def _private_bytes(proc: psutil.Process) -> int:
    """Resident memory the server allocated (RSS less file-backed pages): what a queue that
    buffered without bound would grow. Shared-library pages mapped in on first use of a code
    path count in RSS too, by an amount that depends on the page cache, not on the server."""
    info = proc.memory_info()
    return int(info.rss - info.shared)


def _sdk_batches(n_batches: int, per_batch: int) -> list[list[Any]]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "pressured"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bp")
    for i in range(n_batches * per_batch):
        with tracer.start_as_current_span(f"op {i % 9}", attributes={"i": i, "blob": "q" * 300}):
            pass
    spans = list(memory.get_finished_spans())
    return [spans[k : k + per_batch] for k in range(0, len(spans), per_batch)]


def test_sdk_exporters_retry_until_everything_lands(make_server: Any) -> None:
    server = make_server(env=SLOW)
    batches = _sdk_batches(18, 300)  # 5,400 spans offered at once against a 1,000-item queue

    def export(k_batch: tuple[int, list[Any]]) -> Any:
        k, batch = k_batch
        if k % 3 == 0:
            exporter: Any = GrpcSpanExporter(endpoint=server.otlp_grpc, insecure=True, timeout=60)
        else:
            exporter = HttpSpanExporter(endpoint=f"{server.otlp_http}/v1/traces", timeout=60)
        try:
            return exporter.export(batch)
        finally:
            exporter.shutdown()

    with ThreadPoolExecutor(len(batches)) as pool:
        results = list(pool.map(export, enumerate(batches)))
    refused = metric(server, "flowscope_collector_backpressure_total", transport="http")
    refused_grpc = metric(server, "flowscope_collector_backpressure_total", transport="grpc")
    assert server.terminate() == 0
    assert results == [SpanExportResult.SUCCESS] * len(batches)
    assert refused > 0 and refused_grpc > 0, "the queue never filled: the test proved nothing"
    with open_db(server.db) as con:
        assert count(con, "spans") == 18 * 300
        stored = {(r["trace_id"], r["span_id"]) for r in rows(con, "SELECT trace_id, span_id FROM spans")}
    sent = {(f"{s.context.trace_id:032x}", f"{s.context.span_id:016x}") for b in batches for s in b}
    assert stored == sent

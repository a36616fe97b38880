"""Helpers shared by the reliability tests: padded OTLP requests, sending, reading the file."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import grpc
import httpx
import psutil
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.support.otlp import trace_request

PROTOBUF = {"content-type": "application/x-protobuf"}
GRPC_TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
GRPC_LOGS = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"


def padded_request(
    n_spans: int, pad_bytes: int = 300
) -> tuple[ExportTraceServiceRequest, list[tuple[str, str]]]:
    """`n_spans` spans, each with an incompressible attribute of `2 * pad_bytes` characters."""
    request, ids = trace_request(n_spans)
    for span in request.resource_spans[0].scope_spans[0].spans:
        span.attributes.add(key="pad").value.string_value = os.urandom(pad_bytes).hex()
    return request, ids


def post_traces(url: str, body: bytes, client: httpx.Client | None = None) -> httpx.Response:
    send = client.post if client is not None else httpx.post
    return send(f"{url}/v1/traces", content=body, headers=PROTOBUF, timeout=30)


def grpc_export(address: str, body: bytes, method: str = GRPC_TRACES) -> grpc.RpcError | None:
    """None on success, else the error."""
    with grpc.insecure_channel(address) as channel:
        try:
            channel.unary_unary(method)(body, timeout=30)
        except grpc.RpcError as err:
            return err
    return None


def file_sizes(db: Path) -> dict[str, int]:
    """Sizes of the database file and its WAL."""
    return {p.name: p.stat().st_size for p in db.parent.iterdir() if p.name.startswith(db.name)}


def stored_spans(db: Path) -> tuple[set[tuple[str, str]], int]:
    """(trace_id, span_id) pairs in the file, and the number of rows (to catch duplicates)."""
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT trace_id, span_id FROM spans").fetchall()
    return set(rows), len(rows)


@contextmanager
def rss_sampler(pid: int, interval: float = 0.02) -> Iterator[dict[str, int]]:
    """Samples the process's resident memory in a thread; yields {'baseline', 'peak'} (bytes)."""
    import threading

    proc = psutil.Process(pid)
    figures = {"baseline": proc.memory_info().rss, "peak": proc.memory_info().rss}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                figures["peak"] = max(figures["peak"], proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield figures
    finally:
        stop.set()
        thread.join(5)


def soak() -> bool:
    """FLOWSCOPE_SOAK=1 runs the long variants."""
    return os.environ.get("FLOWSCOPE_SOAK", "") not in ("", "0")

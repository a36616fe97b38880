"""Shared helpers for the collector tests: build OTLP requests, send them, read the database."""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import grpc
import httpx
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from prometheus_client.parser import text_string_to_metric_families

from tests.support.otlp import logs_request, spans_request
from tests.support.server import RunningServer

__all__ = ["logs_request", "spans_request"]  # re-exported: the collector tests import them from here

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
GRPC_METHODS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}


# --- building requests (spans_request / logs_request live in tests/support/otlp.py) ---------


def all_spans(request: ExportTraceServiceRequest) -> list[Span]:
    return [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]


def all_records(request: ExportLogsServiceRequest) -> list[LogRecord]:
    return [r for rl in request.resource_logs for sl in rl.scope_logs for r in sl.log_records]


# --- sending ---------------------------------------------------------------------------------------


def post(
    server: RunningServer,
    signal: str,
    body: bytes | Message,
    content_type: str = PROTOBUF,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> httpx.Response:
    if isinstance(body, Message):
        body = body.SerializeToString()
    return httpx.post(
        f"{server.otlp_http}/v1/{signal}",
        content=body,
        headers={"Content-Type": content_type, **(headers or {})},
        timeout=timeout,
    )


def grpc_export(
    server: RunningServer,
    signal: str,
    body: bytes | Message,
    metadata: tuple[tuple[str, str], ...] = (),
    timeout: float = 30,
    options: list[tuple[str, Any]] | None = None,
    compression: grpc.Compression | None = None,
) -> bytes:
    """One raw unary Export call (bytes in, bytes out); raises grpc.RpcError on failure."""
    if isinstance(body, Message):
        body = body.SerializeToString()
    with grpc.insecure_channel(server.otlp_grpc, options=options or []) as channel:
        call = channel.unary_unary(GRPC_METHODS[signal])
        return call(body, metadata=metadata, timeout=timeout, compression=compression)


# --- observing the server ----------------------------------------------------------------------------


def metric(server: RunningServer, name: str, **labels: str) -> float:
    """Sum of the samples of metric `name` (exact sample name) matching `labels`, from /metrics."""
    text = server.get("/metrics").text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def wait_for(predicate: Any, timeout: float = 15, interval: float = 0.05, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# --- reading the database (the server must be stopped: DuckDB allows one process per file) ---------


@contextlib.contextmanager
def open_db(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        yield con
    finally:
        con.close()


def rows(con: duckdb.DuckDBPyConnection, query: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cursor = con.execute(query, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def stored_spans(
    con: duckdb.DuckDBPyConnection, where: str = "true"
) -> dict[tuple[str, str], dict[str, Any]]:
    """Stored span rows by (trace_id, span_id), each with its decoded `span` and resource/scope."""
    found = {}
    for row in rows(
        con,
        f"SELECT s.*, r.resource AS resource_blob, r.schema_url AS resource_schema_url, "
        f"c.scope AS scope_blob, c.schema_url AS scope_schema_url "
        f"FROM spans s JOIN resources r ON r.id = s.resource_id JOIN scopes c ON c.id = s.scope_id "
        f"WHERE {where}",
    ):
        row["span"] = Span.FromString(row["span"])
        row["resource"] = Resource.FromString(row.pop("resource_blob"))
        row["scope"] = InstrumentationScope.FromString(row.pop("scope_blob"))
        found[(row["trace_id"], row["span_id"])] = row
    return found


def stored_records(con: duckdb.DuckDBPyConnection, where: str = "true") -> list[dict[str, Any]]:
    out = []
    for row in rows(
        con,
        f"SELECT l.*, r.resource AS resource_blob, r.schema_url AS resource_schema_url, "
        f"c.scope AS scope_blob, c.schema_url AS scope_schema_url "
        f"FROM logs l JOIN resources r ON r.id = l.resource_id JOIN scopes c ON c.id = l.scope_id "
        f"WHERE {where} ORDER BY l.time_ns",
    ):
        row["record"] = LogRecord.FromString(row["record"])
        row["resource"] = Resource.FromString(row.pop("resource_blob"))
        row["scope"] = InstrumentationScope.FromString(row.pop("scope_blob"))
        out.append(row)
    return out


def count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]


# --- the official OTLP JSON codec (opentelemetry-proto-json dataclasses) -> protobuf ----------------


def official_to_proto(value: Any, message: Message) -> Message:
    """Copy a decoded `opentelemetry.proto_json` dataclass into the equivalent protobuf message."""
    for f in dataclasses.fields(value):
        v = getattr(value, f.name)
        if v is None:
            continue
        if isinstance(v, list):
            target = getattr(message, f.name)
            for item in v:
                if dataclasses.is_dataclass(item):
                    official_to_proto(item, target.add())
                else:
                    target.append(item)
        elif dataclasses.is_dataclass(v):
            sub = getattr(message, f.name)
            sub.SetInParent()
            official_to_proto(v, sub)
        else:
            setattr(message, f.name, int(v) if isinstance(v, enum.IntEnum) else v)
    return message

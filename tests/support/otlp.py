"""Build OTLP export requests with known ids, for tests that count what was stored."""

from __future__ import annotations

import os
import time

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def spans_request(
    n: int,
    *,
    service: str = "test-service",
    start_ns: int | None = None,
    trace_id: bytes | None = None,
) -> tuple[ExportTraceServiceRequest, list[tuple[str, str]]]:
    """`n` spans of one trace with fresh random span ids; returns the request and its
    (trace_id, span_id) hex pairs."""
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.add(key="service.name", value=AnyValue(string_value=service))
    ss = rs.scope_spans.add()
    ss.scope.name = "tests"
    base = start_ns if start_ns is not None else time.time_ns()
    tid = trace_id or os.urandom(16)
    ids = []
    for i in range(n):
        span = ss.spans.add()
        span.trace_id = tid
        span.span_id = os.urandom(8)
        span.name = f"op-{i % 5}"
        span.kind = 1 + i % 5
        span.start_time_unix_nano = base + i * 1000
        span.end_time_unix_nano = base + i * 1000 + 250_000
        span.attributes.add(key="i", value=AnyValue(int_value=i))
        ids.append((tid.hex(), span.span_id.hex()))
    return request, ids


trace_request = spans_request


def logs_request(
    n: int, *, service: str = "test-service", time_ns: int | None = None
) -> ExportLogsServiceRequest:
    """`n` log records with distinct bodies (so none is a duplicate of another)."""
    request = ExportLogsServiceRequest()
    rl = request.resource_logs.add()
    rl.resource.attributes.add(key="service.name", value=AnyValue(string_value=service))
    sl = rl.scope_logs.add()
    sl.scope.name = "tests"
    base = time_ns if time_ns is not None else time.time_ns()
    for i in range(n):
        record = sl.log_records.add()
        record.time_unix_nano = base + i
        record.observed_time_unix_nano = base + i + 1
        record.severity_number = 9
        record.body.string_value = f"record {i} {os.urandom(6).hex()}"
    return request

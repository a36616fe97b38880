"""Build OTLP export requests with known ids, for tests that count what was stored."""

from __future__ import annotations

import os
import time

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def trace_request(
    n_spans: int, service: str = "test-service", start_ns: int | None = None
) -> tuple[ExportTraceServiceRequest, list[tuple[str, str]]]:
    """A request of `n_spans` spans with random ids; returns it and the (trace_id, span_id) hex pairs."""
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.add(key="service.name", value=AnyValue(string_value=service))
    ss = rs.scope_spans.add()
    ss.scope.name = "tests"
    base = start_ns if start_ns is not None else time.time_ns()
    ids = []
    trace_id = os.urandom(16)
    for i in range(n_spans):
        span = ss.spans.add()
        span.trace_id = trace_id
        span.span_id = os.urandom(8)
        span.name = f"op-{i % 7}"
        span.kind = 1 + i % 5
        span.start_time_unix_nano = base + i * 1000
        span.end_time_unix_nano = base + i * 1000 + 500_000
        span.attributes.add(key="i", value=AnyValue(int_value=i))
        span.attributes.add(key="s", value=AnyValue(string_value="x" * 16))
        ids.append((trace_id.hex(), span.span_id.hex()))
    return request, ids


def logs_request(n_records: int, service: str = "test-service") -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    rl = request.resource_logs.add()
    rl.resource.attributes.add(key="service.name", value=AnyValue(string_value=service))
    sl = rl.scope_logs.add()
    now = time.time_ns()
    for i in range(n_records):
        rec = sl.log_records.add()
        rec.time_unix_nano = now + i
        rec.body.string_value = f"record {i} {os.urandom(4).hex()}"
        rec.severity_number = 9
    return request

"""Exporter retries are harmless: a batch sent again stores nothing new and never fails."""

from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.collector.helpers import (
    JSON,
    all_records,
    all_spans,
    count,
    grpc_export,
    logs_request,
    metric,
    open_db,
    post,
    rows,
    spans_request,
    wait_for,
)


def _send(server: Any, transport: str, signal: str, message: Any) -> Any:
    """Send one request; assert full success (no partial_success); return the response message."""
    if transport == "http":
        response = post(server, signal, message)
        assert response.status_code == 200, response.content
        raw = response.content
    else:
        raw = grpc_export(server, signal, message)
    parsed = (ExportTraceServiceResponse if signal == "traces" else ExportLogsServiceResponse).FromString(raw)
    assert not parsed.HasField("partial_success"), parsed
    return parsed


def _stored(server: Any, signal: str) -> float:
    return metric(server, "flowscope_collector_stored_total", signal=signal)


def _duplicated(server: Any, signal: str) -> float:
    return metric(server, "flowscope_collector_duplicated_total", signal=signal)


def test_resending_the_same_batches_stores_nothing_new(make_server: Any) -> None:
    server = make_server()
    spans, span_ids = spans_request(100)
    logs = logs_request(50)
    for transport in ("http", "grpc"):
        _send(server, transport, "traces", spans)
        _send(server, transport, "logs", logs)
    assert (_stored(server, "traces"), _stored(server, "logs")) == (100, 50)
    assert (_duplicated(server, "traces"), _duplicated(server, "logs")) == (100, 50)

    # A retry that carries old and new items: the new ones are stored, the request succeeds.
    mixed, mixed_ids = spans_request(20)
    mixed_spans = all_spans(mixed)
    mixed_spans.extend(all_spans(spans)[:30])
    mixed_logs = logs_request(5)
    all_records(mixed_logs).extend(all_records(logs)[:10])
    _send(server, "grpc", "traces", mixed)
    _send(server, "http", "logs", mixed_logs)
    assert (_stored(server, "traces"), _stored(server, "logs")) == (120, 55)

    # The same span twice in one request: stored once, no failure.
    twice, twice_ids = spans_request(3)
    all_spans(twice).append(all_spans(twice)[0])
    twice_logs = logs_request(2)
    all_records(twice_logs).append(all_records(twice_logs)[1])
    _send(server, "http", "traces", twice)
    _send(server, "grpc", "logs", twice_logs)
    assert (_stored(server, "traces"), _stored(server, "logs")) == (123, 57)

    # The same spans as OTLP/JSON (another encoding of the same ids): nothing new.
    as_json = json_format.MessageToDict(spans)
    for span in as_json["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        for key in ("traceId", "spanId"):
            span[key] = base64.b64decode(span[key]).hex()
    response = post(server, "traces", json.dumps(as_json).encode(), JSON)
    assert response.status_code == 200 and response.json() == {}
    assert _stored(server, "traces") == 123
    assert server.terminate() == 0

    # After a restart the dedupe works from what is on disk.
    server = make_server(db=server.db)
    _send(server, "http", "traces", spans)
    _send(server, "grpc", "traces", mixed)
    _send(server, "http", "logs", logs)
    assert (_stored(server, "traces"), _stored(server, "logs")) == (0, 0)
    assert server.terminate() == 0

    with open_db(server.db) as con:
        assert count(con, "spans") == 123
        distinct = con.execute(
            "SELECT count(*) FROM (SELECT DISTINCT workspace_id, trace_id, span_id FROM spans)"
        )
        assert distinct.fetchone()[0] == 123
        assert count(con, "logs") == 57
        assert con.execute("SELECT count(DISTINCT record_hash) FROM logs").fetchone()[0] == 57
        stored_ids = {(r["trace_id"], r["span_id"]) for r in rows(con, "SELECT trace_id, span_id FROM spans")}
    assert stored_ids == set(span_ids) | set(mixed_ids) | set(twice_ids)


def test_a_retried_workflow_root_span_does_not_move_its_execution(make_server: Any) -> None:
    """Executions are derived at ingest: a duplicate must neither duplicate nor regress them."""
    server = make_server()
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name, span.kind = b"\x01" * 16, b"\x02" * 8, "RUN wf", 2
    span.start_time_unix_nano, span.end_time_unix_nano = 1_000_000_000, 3_000_000_000
    for key, value in (("workflow.id", "wf-1"), ("workflow.status", "completed")):
        kv = span.attributes.add()
        kv.key, kv.value.string_value = key, value
    for _ in range(3):
        _send(server, "http", "traces", request)
    wait_for(lambda: _duplicated(server, "traces") == 2, what="duplicates counted")
    assert server.terminate() == 0
    with open_db(server.db) as con:
        executions = rows(con, "SELECT * FROM executions")
    assert len(executions) == 1 and executions[0]["status"] == "completed"
    assert executions[0]["execution_id"] == "01" * 16

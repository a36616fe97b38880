"""The real OpenTelemetry Python SDK exporters, over OTLP/HTTP and OTLP/gRPC, against `serve`.

Round-trip fidelity: what the SDK put on the wire (its own encoder's output for the
same spans and log records) equals what the database holds once decoded: the span and
log record blobs, and the resources and scopes tables, field for field, attribute
types included.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    InMemoryLogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from flowscope import conventions as c
from tests.collector.helpers import count, open_db, rows, stored_records, stored_spans

RESOURCE_ATTRIBUTES: dict[str, Any] = {
    "service.name": "fidelity-svc",
    "service.version": "3.1.4",
    "host.cores": 2,
    "deployment.canary": True,
    "sample.ratio": 0.25,
    "team.owners": ["ana", "bo"],
}
SCHEMA_RESOURCE = "https://opentelemetry.io/schemas/1.26.0"
SCHEMA_SCOPE = "https://opentelemetry.io/schemas/1.27.0"

# One attribute of every AnyValue type (and nesting), all on one span.
TYPED_ATTRIBUTES: dict[str, Any] = {
    "a.str": "héllo wörld",
    "a.empty_str": "",
    "a.bool": True,
    "a.false": False,
    "a.int": -(2**63),
    "a.big_int": 2**63 - 1,
    "a.double": 3.141592653589793,
    "a.bytes": b"\x00\x01\xfe\xff",
    "a.str_array": ["x", "y", ""],
    "a.bool_array": [True, False],
    "a.int_array": [1, -2, 3],
    "a.double_array": [0.5, -1.25],
    "a.kvlist": {"k1": "v1", "k2": 2, "nested": {"deep": [1, "two", {"three": 3.0}]}},
}
EXPECTED_KINDS = {
    "a.str": "string_value", "a.empty_str": "string_value", "a.bool": "bool_value",
    "a.false": "bool_value", "a.int": "int_value", "a.big_int": "int_value",
    "a.double": "double_value", "a.bytes": "bytes_value", "a.str_array": "array_value",
    "a.bool_array": "array_value", "a.int_array": "array_value", "a.double_array": "array_value",
    "a.kvlist": "kvlist_value",
}  # fmt: skip


def _exporters(transport: str, server: Any, compression: bool) -> tuple[Any, Any]:
    if transport == "http":
        comp = Compression.Gzip if compression else Compression.NoCompression
        return (
            HttpSpanExporter(endpoint=f"{server.otlp_http}/v1/traces", compression=comp, timeout=30),
            HttpLogExporter(endpoint=f"{server.otlp_http}/v1/logs", compression=comp, timeout=30),
        )
    import grpc

    comp = grpc.Compression.Gzip if compression else None
    return (
        GrpcSpanExporter(endpoint=server.otlp_grpc, insecure=True, compression=comp, timeout=30),
        GrpcLogExporter(endpoint=server.otlp_grpc, insecure=True, compression=comp, timeout=30),
    )


def _make_spans() -> list[Any]:
    """Spans covering every field OTLP carries, recorded by the real SDK."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource(RESOURCE_ATTRIBUTES, schema_url=SCHEMA_RESOURCE),
        span_limits=SpanLimits(max_span_attributes=16, max_events=2, max_links=2),
    )
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer(
        "fidelity.scope", "9.8.7", schema_url=SCHEMA_SCOPE, attributes={"scope.attr": "s", "scope.n": 7}
    )
    remote = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "abc"), ("rojo", "00f067aa0ba902b7")]),
    )
    linked = SpanContext(
        trace_id=0x11111111111111111111111111111111,
        span_id=0x2222222222222222,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("linked", "yes")]),
    )
    ctx = trace.set_span_in_context(trace.NonRecordingSpan(remote))
    t0 = time.time_ns()
    root = tracer.start_span(
        "GET /orders/{id}",
        context=ctx,
        kind=SpanKind.SERVER,
        attributes=TYPED_ATTRIBUTES,
        links=[Link(linked, {"link.attr": "l", "link.n": 1})],
        start_time=t0,
    )
    root.add_event(
        "cache.miss", {"cache.key": "order:42", "cache.bytes": b"\x01", "retries": [1, 2]}, t0 + 10
    )
    root.add_event("plain", timestamp=t0 + 20)
    root.set_status(Status(StatusCode.ERROR, "upstream said no"))
    with trace.use_span(root, end_on_exit=False):
        child = tracer.start_span("SELECT orders", kind=SpanKind.CLIENT, start_time=t0 + 100)
        child.set_attribute("db.system", "duckdb")
        child.set_status(Status(StatusCode.OK))
        child.end(end_time=t0 + 5_000)
        # Over every limit: attributes, events and links are dropped and counted.
        crowded = tracer.start_span(
            "crowded",
            kind=SpanKind.PRODUCER,
            attributes={f"k{i}": i for i in range(20)},
            links=[Link(linked), Link(remote), Link(linked, {"x": 1})],
            start_time=t0 + 200,
        )
        for i in range(3):
            crowded.add_event(f"e{i}", timestamp=t0 + 300 + i)
        crowded.end(end_time=t0 + 6_000)
        consumer = tracer.start_span("consume", kind=SpanKind.CONSUMER, start_time=t0 + 400)
        consumer.end(end_time=t0 + 400)  # zero duration
    root.end(end_time=t0 + 10_000_000)
    provider.shutdown()
    return list(memory.get_finished_spans())


def _make_log_records(span_context_span: Any) -> list[Any]:
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource(RESOURCE_ATTRIBUTES, schema_url=SCHEMA_RESOURCE))
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("fidelity.logs", "1.2.3", schema_url=SCHEMA_SCOPE, attributes={"la": True})
    t0 = time.time_ns()
    ctx = trace.set_span_in_context(span_context_span)
    logger.emit(
        timestamp=t0, observed_timestamp=t0 + 5, context=ctx, severity_number=SeverityNumber.ERROR,
        severity_text="ERROR", body="payment failed", attributes=TYPED_ATTRIBUTES,
        event_name="payment.failed",
    )  # fmt: skip
    logger.emit(
        timestamp=t0 + 1, severity_number=SeverityNumber.INFO, severity_text="INFO",
        body={"structured": {"list": [1, 2.5, "x", False], "bytes": b"\xff"}, "n": 3},
    )  # fmt: skip
    logger.emit(timestamp=t0 + 2, severity_number=SeverityNumber.DEBUG, body=b"\x00raw bytes body")
    logger.emit(timestamp=t0 + 3, body=["an", "array", 1])
    logger.emit(observed_timestamp=t0 + 4, body="no timestamp, only observed")
    provider.shutdown()
    return list(memory.get_finished_logs())


@pytest.mark.parametrize(
    ("transport", "compression"),
    [("http", False), ("http", True), ("grpc", False), ("grpc", True)],
)
def test_sdk_spans_and_logs_round_trip_exactly(make_server: Any, transport: str, compression: bool) -> None:
    server = make_server()
    spans = _make_spans()
    root = next(s for s in spans if s.name == "GET /orders/{id}")
    records = _make_log_records(trace.NonRecordingSpan(root.context))
    span_exporter, log_exporter = _exporters(transport, server, compression)
    assert span_exporter.export(spans) == SpanExportResult.SUCCESS
    assert log_exporter.export(records) == LogRecordExportResult.SUCCESS
    span_exporter.shutdown()
    log_exporter.shutdown()
    assert server.terminate() == 0

    sent = encode_spans(spans)  # exactly what the exporter put on the wire
    sent_records = encode_logs(records)
    with open_db(server.db) as con:
        stored = stored_spans(con)
        logs = stored_records(con)
        assert count(con, "spans") == len(spans) == 4
        assert count(con, "logs") == len(records) == 5

    for rs in sent.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                row = stored[(span.trace_id.hex(), span.span_id.hex())]
                assert row["span"] == span, f"span {span.name} differs after the round trip"
                assert row["resource"] == rs.resource
                assert row["resource_schema_url"] == rs.schema_url == SCHEMA_RESOURCE
                assert row["scope"] == ss.scope
                assert row["scope_schema_url"] == ss.schema_url == SCHEMA_SCOPE

    # The same facts, spelled out, so a failure says what was lost.
    root_row = stored[(f"{root.context.trace_id:032x}", f"{root.context.span_id:016x}")]
    pb = root_row["span"]
    kinds = {kv.key: kv.value.WhichOneof("value") for kv in pb.attributes}
    assert kinds == EXPECTED_KINDS
    values = {kv.key: kv.value for kv in pb.attributes}
    assert values["a.bytes"].bytes_value == b"\x00\x01\xfe\xff"
    assert values["a.int"].int_value == -(2**63)
    assert [v.double_value for v in values["a.double_array"].array_value.values] == [0.5, -1.25]
    nested = {kv.key: kv.value for kv in values["a.kvlist"].kvlist_value.values}["nested"]
    assert nested.kvlist_value.values[0].value.array_value.values[2].kvlist_value.values[0].key == "three"
    assert pb.trace_state == "vendor=abc,rojo=00f067aa0ba902b7"
    assert pb.parent_span_id.hex() == "b7ad6b7169203331"
    assert pb.flags & 0x100 and pb.flags & 0x200  # parent is remote (+ SAMPLED in the low byte)
    assert pb.status.code == 2 and pb.status.message == "upstream said no"
    assert [e.name for e in pb.events] == ["cache.miss", "plain"]
    # (the SDK's encoder does not send a link's trace_state; the JSON tests cover that field)
    assert pb.links[0].span_id.hex() == "2222222222222222" and pb.links[0].attributes[0].key == "link.attr"
    assert root_row["resource"].attributes[0].key == "service.name"
    assert {kv.key for kv in root_row["scope"].attributes} == {"scope.attr", "scope.n"}
    assert root_row["scope"].version == "9.8.7"
    crowded = next(r["span"] for r in stored.values() if r["name"] == "crowded")
    assert (crowded.dropped_attributes_count, crowded.dropped_events_count, crowded.dropped_links_count) == (
        4,
        1,
        1,
    )

    # Promoted columns agree with the blob.
    assert root_row["service_name"] == "fidelity-svc"
    assert root_row["scope_name"] == "fidelity.scope"
    assert root_row["parent_span_id"] == "b7ad6b7169203331"
    assert root_row["kind"] == 2 and root_row["status_code"] == 2
    assert root_row["status_message"] == "upstream said no"
    assert root_row["duration_ns"] == 10_000_000
    assert root_row["workspace_id"] == "default"
    assert root_row["span_role"] is None

    expected_records = [
        (r, rl.resource, rl.schema_url, sl.scope, sl.schema_url)
        for rl in sent_records.resource_logs
        for sl in rl.scope_logs
        for r in sl.log_records
    ]
    assert len(expected_records) == len(logs)
    by_bytes = {row["record"].SerializeToString(deterministic=True): row for row in logs}
    for record, resource, resource_url, scope, scope_url in expected_records:
        row = by_bytes.get(record.SerializeToString(deterministic=True))
        assert row is not None, f"log record {record.body} not stored intact"
        assert row["resource"] == resource and row["resource_schema_url"] == resource_url
        assert row["scope"] == scope and row["scope_schema_url"] == scope_url
    first = by_bytes[expected_records[0][0].SerializeToString(deterministic=True)]
    assert first["event_name"] == "payment.failed"
    assert first["trace_id"] == f"{root.context.trace_id:032x}"
    assert first["span_id"] == f"{root.context.span_id:016x}"
    assert first["severity_number"] == 17 and first["severity_text"] == "ERROR"
    assert first["body"] == "payment failed"
    assert {kv.key: kv.value.WhichOneof("value") for kv in first["record"].attributes} == EXPECTED_KINDS
    observed_only = next(r for r in logs if r["body"] == "no timestamp, only observed")
    assert observed_only["time_ns"] == observed_only["observed_ns"] > 0  # time falls back to observed


def test_workflow_spans_and_lifecycle_records_fill_promoted_columns_and_executions(make_server: Any) -> None:
    """Workflow conventions (flowscope/conventions.py) from the real SDK become columns and executions."""
    # Not the server's own engine ("flowscope-engine"): at the restart below, the server closes
    # its own engine's open executions as interrupted (their root span, written first, would
    # then be the execution's root: the first version of a span wins).
    resource = Resource({"service.name": "nightly-ci"})
    memory = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = tracer_provider.get_tracer("flowscope.engine")
    log_memory = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_memory))
    logger = logger_provider.get_logger("flowscope.engine")

    t0 = time.time_ns()
    root = tracer.start_span(
        "RUN nightly-build",
        kind=SpanKind.SERVER,
        start_time=t0,
        attributes={
            c.WORKFLOW_ID: "wf-123", c.WORKFLOW_NAME: "nightly-build", c.WORKFLOW_EXECUTION_NUMBER: 42,
            c.WORKFLOW_STATUS: "failed", c.WORKFLOW_INPUT: '{"branch": "main"}',
            c.WORKFLOW_RESULTS: '{"ok": false}', c.WORKFLOW_PROJECT_ID: "proj-1",
            c.CICD_PIPELINE_NAME: "nightly-build", c.CICD_PIPELINE_RESULT: "failure",
            c.ERROR_TYPE: "StepFailed",
        },
    )  # fmt: skip
    execution_id = f"{root.context.trace_id:032x}"
    root_span_id = f"{root.context.span_id:016x}"
    root_ctx = trace.set_span_in_context(root)
    for event, ts in ((c.EVENT_EXECUTION_QUEUED, t0 - 2_000), (c.EVENT_EXECUTION_STARTED, t0)):
        logger.emit(
            timestamp=ts, context=root_ctx, event_name=event, body=event,
            attributes={c.WORKFLOW_ID: "wf-123", c.WORKFLOW_NAME: "nightly-build",
                        c.WORKFLOW_EXECUTION_NUMBER: 42, c.WORKFLOW_INPUT: '{"branch": "main"}'},
        )  # fmt: skip
    step = tracer.start_span(
        "compile",
        context=root_ctx,
        kind=SpanKind.INTERNAL,
        start_time=t0 + 1_000,
        attributes={
            c.WORKFLOW_ID: "wf-123", c.WORKFLOW_EXECUTION_ID: execution_id, c.STEP_ID: "compile",
            c.STEP_NAME: "compile", c.STEP_ORDER: 1, c.STEP_STATUS: "failed", c.STEP_RETRY_COUNT: 1,
        },
    )  # fmt: skip
    step_ctx = trace.set_span_in_context(step)
    for n in (1, 2):
        attempt = tracer.start_span(
            f"attempt {n}", context=step_ctx, start_time=t0 + 1_000 * n,
            attributes={c.WORKFLOW_ID: "wf-123", c.STEP_ID: "compile", c.STEP_ATTEMPT: n},
        )  # fmt: skip
        attempt.set_status(Status(StatusCode.ERROR, "exit 2"))
        attempt.end(end_time=t0 + 1_000 * n + 500)
    foreign = tracer.start_span(  # only CI/CD conventions, as a foreign tracer would emit
        "deploy", context=root_ctx, start_time=t0 + 5_000,
        attributes={c.CICD_TASK_NAME: "deploy", c.CICD_TASK_RUN_RESULT: "skip"},
    )  # fmt: skip
    foreign.end(end_time=t0 + 5_001)
    step.set_status(Status(StatusCode.ERROR, "compile failed"))
    step.end(end_time=t0 + 4_000)
    root.set_status(Status(StatusCode.ERROR, "step compile failed"))
    plain = tracer.start_span("GET /health", start_time=t0)  # not a workflow span
    plain.end(end_time=t0 + 10)

    server = make_server()
    # Phase 1: only the lifecycle records have arrived: the execution is running.
    log_exporter = HttpLogExporter(endpoint=f"{server.otlp_http}/v1/logs")
    assert log_exporter.export(list(log_memory.get_finished_logs())) == LogRecordExportResult.SUCCESS
    assert server.terminate() == 0
    with open_db(server.db) as con:
        (running,) = rows(con, "SELECT * FROM executions")
    assert running["status"] == "running" and running["status_rank"] == 2
    assert running["execution_id"] == execution_id and running["workflow_id"] == "wf-123"
    assert running["queued_ns"] == t0 - 2_000 and running["started_ns"] == t0
    assert running["execution_number"] == 42 and running["input_json"] == '{"branch": "main"}'

    # Phase 2 (after a restart on the same file): the spans, then a late duplicate record.
    root.end(end_time=t0 + 9_000_000)
    server = make_server(db=server.db)
    span_exporter = GrpcSpanExporter(endpoint=server.otlp_grpc, insecure=True)
    assert span_exporter.export(list(memory.get_finished_spans())) == SpanExportResult.SUCCESS
    span_exporter.shutdown()
    late = HttpLogExporter(endpoint=f"{server.otlp_http}/v1/logs")
    assert late.export(list(log_memory.get_finished_logs())[1:]) == LogRecordExportResult.SUCCESS
    assert server.terminate() == 0

    with open_db(server.db) as con:
        spans = {r["name"]: r for r in rows(con, "SELECT * FROM spans")}
        (execution,) = rows(con, "SELECT * FROM executions")
        assert count(con, "logs") == 2
    assert spans["RUN nightly-build"]["span_role"] == "execution"
    assert spans["RUN nightly-build"]["workflow_id"] == "wf-123"
    assert spans["RUN nightly-build"]["execution_id"] == execution_id
    assert spans["RUN nightly-build"]["step_status"] == "failed"
    assert spans["compile"]["span_role"] == "step"
    assert (spans["compile"]["step_id"], spans["compile"]["step_status"]) == ("compile", "failed")
    assert spans["compile"]["retry_count"] == 1
    assert spans["compile"]["parent_span_id"] == root_span_id
    assert spans["attempt 1"]["span_role"] == spans["attempt 2"]["span_role"] == "attempt"
    assert spans["attempt 2"]["step_id"] == "compile" and spans["attempt 2"]["step_status"] == "failed"
    assert (spans["deploy"]["span_role"], spans["deploy"]["step_id"]) == ("step", "deploy")
    assert spans["deploy"]["step_status"] == "skipped"
    assert spans["GET /health"]["span_role"] is None and spans["GET /health"]["workflow_id"] is None

    assert execution["status"] == "failed" and execution["status_rank"] == 3
    assert execution["workflow_name"] == "nightly-build" and execution["project_id"] == "proj-1"
    assert execution["execution_number"] == 42
    assert execution["queued_ns"] == t0 - 2_000, "the queued time survives the root span"
    assert execution["started_ns"] == t0
    assert execution["ended_ns"] == t0 + 9_000_000
    assert execution["duration_seconds"] == pytest.approx(0.009)
    assert execution["results_json"] == '{"ok": false}'
    assert execution["error_message"] == "step compile failed"
    assert execution["root_span_id"] == root_span_id
    assert execution["service_name"] == "nightly-ci"


def test_sdk_exporters_with_many_spans_store_each_once(make_server: Any) -> None:
    """A few thousand spans through both exporters (each span sent over both): stored once each."""
    server = make_server()
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "bulk"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bulk")
    for i in range(3000):
        with tracer.start_as_current_span(f"op {i % 10}", attributes={"i": i}):
            pass
    spans = list(memory.get_finished_spans())
    http = HttpSpanExporter(endpoint=f"{server.otlp_http}/v1/traces")
    grpc_exporter = GrpcSpanExporter(endpoint=server.otlp_grpc, insecure=True)
    for k in range(0, len(spans), 512):
        assert http.export(spans[k : k + 512]) == SpanExportResult.SUCCESS
        assert grpc_exporter.export(spans[k : k + 512]) == SpanExportResult.SUCCESS
    grpc_exporter.shutdown()
    assert server.terminate() == 0
    with open_db(server.db) as con:
        assert count(con, "spans") == 3000
        got = {(r["trace_id"], r["span_id"]) for r in rows(con, "SELECT trace_id, span_id FROM spans")}
    assert got == {(f"{s.context.trace_id:032x}", f"{s.context.span_id:016x}") for s in spans}

"""OTLP export requests with fixed ids and times, and writing them through a store's writer.

The conformance suite asserts exact values, so unlike tests/support/otlp.py nothing here
is random: a span or record is described by a plain spec and encoded as an exporter would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowscope.collector.prepare import prepared_request
from flowscope.storage.batches import ExportOutcome, Signal
from flowscope.storage.interfaces import Store
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue

SERVER, INTERNAL = 2, 1  # OTLP SpanKind
UNSET, ERROR = 0, 2  # OTLP Status.StatusCode
ACK_TIMEOUT = 30.0


@dataclass(frozen=True)
class SpanSpec:
    trace_id: str
    span_id: str
    name: str
    start_ns: int
    end_ns: int
    parent_span_id: str = ""
    kind: int = INTERNAL
    attributes: Mapping[str, Any] = field(default_factory=dict)
    status_code: int = UNSET
    status_message: str = ""


@dataclass(frozen=True)
class RecordSpec:
    time_ns: int
    body: str
    trace_id: str = ""
    span_id: str = ""
    event_name: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    severity_number: int = 9  # INFO


def _value(value: Any) -> AnyValue:
    if isinstance(value, tuple):
        return AnyValue(array_value=ArrayValue(values=[_value(v) for v in value]))
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(string_value=value)


def _attributes(values: Mapping[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=_value(v)) for k, v in values.items()]


def _scope(resource_item: Any, scopes: Any, service: str) -> Any:
    """Name the resource's service; add and return its one scope (the engine's)."""
    resource_item.resource.attributes.extend(_attributes({"service.name": service}))
    scope = scopes.add()
    scope.scope.name = "flowscope.engine"
    return scope


def traces(specs: Iterable[SpanSpec], service: str = "etl-runner") -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    ss = _scope(rs, rs.scope_spans, service)
    for s in specs:
        span = ss.spans.add(
            trace_id=bytes.fromhex(s.trace_id), span_id=bytes.fromhex(s.span_id),
            parent_span_id=bytes.fromhex(s.parent_span_id), name=s.name, kind=s.kind,
            start_time_unix_nano=s.start_ns, end_time_unix_nano=s.end_ns,
        )  # fmt: skip
        span.attributes.extend(_attributes(s.attributes))
        span.status.code = s.status_code
        span.status.message = s.status_message
    return request


def logs(specs: Iterable[RecordSpec], service: str = "etl-runner") -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    rl = request.resource_logs.add()
    sl = _scope(rl, rl.scope_logs, service)
    for r in specs:
        record = sl.log_records.add(
            time_unix_nano=r.time_ns, observed_time_unix_nano=r.time_ns,
            severity_number=r.severity_number, event_name=r.event_name,
            trace_id=bytes.fromhex(r.trace_id), span_id=bytes.fromhex(r.span_id),
        )  # fmt: skip
        record.body.string_value = r.body
        record.attributes.extend(_attributes(r.attributes))
    return request


def items(message: Message) -> int:
    """Spans or log records in an export request (what a receiver counts as its items)."""
    if isinstance(message, ExportTraceServiceRequest):
        return sum(len(ss.spans) for rs in message.resource_spans for ss in rs.scope_spans)
    assert isinstance(message, ExportLogsServiceRequest)
    return sum(len(sl.log_records) for rl in message.resource_logs for sl in rl.scope_logs)


def signal_of(message: Message) -> Signal:
    return "traces" if isinstance(message, ExportTraceServiceRequest) else "logs"


def submit(store: Store, message: Message, workspace_id: str) -> Any:
    """Queue one request as a receiver does (prepared on this thread); returns its future."""
    request = prepared_request(signal_of(message), message, workspace_id, items(message))
    return store.writer.submit(request)


def write(store: Store, message: Message, workspace_id: str) -> ExportOutcome:
    """Submit one request and wait for its acknowledgement."""
    outcome: ExportOutcome = submit(store, message, workspace_id).result(ACK_TIMEOUT)
    return outcome

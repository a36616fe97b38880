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
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

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
    if isinstance(value, Mapping):
        return AnyValue(kvlist_value=KeyValueList(values=_attributes(value)))
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
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


def every_field(trace_id: str, start_ns: int = 1_700_000_000 * 10**9) -> ExportTraceServiceRequest:
    """One trace using every field OTLP spans have: two resources (with a dropped-attribute
    count and schema URLs), two scopes in each (versions, attributes), and in each a span with
    a trace state, flags, dropped counts, an error status, an attribute of every value type
    (an empty array, an empty list of key-values and a value-less one included), an event and
    a link with attributes. Span ids: 01.., 02.. (resources) x ..01, ..02 (scopes)."""
    request = ExportTraceServiceRequest()
    for r, service in enumerate(("shop", "stock"), start=1):
        rs = request.resource_spans.add(schema_url=f"https://opentelemetry.io/schemas/1.{r}.0")
        rs.resource.attributes.extend(_attributes({"service.name": service, "host.cores": r}))
        rs.resource.dropped_attributes_count = r
        for s, scope_name in enumerate(("http", "db"), start=1):
            ss = rs.scope_spans.add(schema_url=f"https://example.com/{scope_name}" if s == 1 else "")
            ss.scope.name, ss.scope.version = scope_name, f"{r}.{s}"
            ss.scope.attributes.extend(_attributes({"scope.rank": s}))
            span = ss.spans.add(
                trace_id=bytes.fromhex(trace_id), span_id=bytes.fromhex(f"{r:02x}{s:014x}"),
                parent_span_id=b"" if (r, s) == (1, 1) else bytes.fromhex(f"{1:02x}{1:014x}"),
                name=f"{service} {scope_name}", kind=r + s, trace_state="vendor=a,other=b", flags=0x301,
                start_time_unix_nano=start_ns + 10**6 * (r * 10 + s), end_time_unix_nano=start_ns + 10**9,
                dropped_attributes_count=2, dropped_events_count=3, dropped_links_count=4,
            )  # fmt: skip
            span.status.code, span.status.message = (2, "boom") if s == 2 else (1, "")
            span.attributes.extend(_attributes({
                "s": "text", "b": True, "f": False, "i": -(2**63), "d": 1.25, "y": b"\x00\xff",
                "a": ("x", 1, 2.5, True), "kv": {"k": "v", "n": {"deep": 1}}, "empty.a": (), "empty.kv": {},
            }))  # fmt: skip
            span.attributes.add(key="none").value.SetInParent()  # an AnyValue without a value
            event = span.events.add(name="exception", time_unix_nano=start_ns + 5, dropped_attributes_count=1)
            event.attributes.extend(_attributes({"exception.message": "boom"}))
            link = span.links.add(trace_id=bytes(range(16)), span_id=bytes(range(1, 9)), trace_state="x=1",
                                  flags=0x101, dropped_attributes_count=1)  # fmt: skip
            link.attributes.extend(_attributes({"link.kind": "follows"}))
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

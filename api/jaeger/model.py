"""Stored OTLP spans as Jaeger's UI JSON (jaeger `model/json`), mapped the way Jaeger maps OTLP.

The mapping follows the OpenTelemetry Collector's Jaeger translator, which
jaeger-query itself uses: scope -> `otel.scope.name`/`otel.scope.version`, kind ->
`span.kind`, status -> `otel.status_code` (+ `error=true`, `otel.status_description`),
trace state -> `w3c.tracestate`, parent -> first `CHILD_OF` reference, links ->
`FOLLOWS_FROM`, events -> logs whose `event` field is the event name, resource ->
the process (service.name as serviceName, the rest as tags). Times are microseconds.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from flowscope.collector.anyvalue import any_value_to_python, to_jsonable
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

SPAN_KIND_TAG = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
STATUS_CODE_TAG = {1: "OK", 2: "ERROR"}
Tag = dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredSpan:
    """One row of the spans table, as the Jaeger reader selects it."""

    trace_id: str
    span_id: str
    parent_span_id: str
    resource_id: int
    scope_id: int
    span: bytes


def to_tag(key: str, value: AnyValue) -> Tag:
    """A typed Jaeger tag: string, bool, int64, float64 or binary; arrays and maps as JSON text."""
    which = value.WhichOneof("value")
    if which == "bool_value":
        return {"key": key, "type": "bool", "value": value.bool_value}
    if which == "int_value":
        return {"key": key, "type": "int64", "value": value.int_value}
    if which == "double_value":
        number = value.double_value
        if math.isfinite(number):
            return {"key": key, "type": "float64", "value": number}
        return {"key": key, "type": "string", "value": str(number)}  # JSON has no NaN/Inf
    if which == "bytes_value":
        return {"key": key, "type": "binary", "value": base64.b64encode(value.bytes_value).decode()}
    if which in ("array_value", "kvlist_value"):
        text = orjson.dumps(to_jsonable(any_value_to_python(value))).decode()
        return {"key": key, "type": "string", "value": text}
    return {"key": key, "type": "string", "value": value.string_value}


def tags_of(attributes: Iterable[KeyValue], skip: str | None = None) -> list[Tag]:
    return [to_tag(kv.key, kv.value) for kv in attributes if kv.key != skip]


def _string(key: str, value: str) -> Tag:
    return {"key": key, "type": "string", "value": value}


def span_tags(span: Span, scope: InstrumentationScope) -> list[Tag]:
    """Tags in the translator's order: scope, attributes, then the synthesized OTel ones."""
    tags: list[Tag] = []
    if scope.name:
        tags.append(_string("otel.scope.name", scope.name))
    if scope.version:
        tags.append(_string("otel.scope.version", scope.version))
    tags.extend(tags_of(span.attributes))
    if span.kind in SPAN_KIND_TAG:
        tags.append(_string("span.kind", SPAN_KIND_TAG[span.kind]))
    code = span.status.code
    if code in STATUS_CODE_TAG:
        tags.append(_string("otel.status_code", STATUS_CODE_TAG[code]))
    if code == 2:
        tags.append({"key": "error", "type": "bool", "value": True})
    if span.status.message:
        tags.append(_string("otel.status_description", span.status.message))
    if span.trace_state:
        tags.append(_string("w3c.tracestate", span.trace_state))
    return tags


def _logs(span: Span) -> list[dict[str, Any]]:
    logs = []
    for event in span.events:
        fields: list[Tag] = []
        if event.name and not any(kv.key == "event" for kv in event.attributes):
            fields.append(_string("event", event.name))
        fields.extend(tags_of(event.attributes))
        logs.append({"timestamp": event.time_unix_nano // 1000, "fields": fields})
    return logs


def _references(row: StoredSpan, span: Span) -> list[dict[str, str]]:
    refs = []
    if row.parent_span_id:
        refs.append({"refType": "CHILD_OF", "traceID": row.trace_id, "spanID": row.parent_span_id})
    for link in span.links:
        if len(link.trace_id) == 16 and len(link.span_id) == 8:
            refs.append(
                {"refType": "FOLLOWS_FROM", "traceID": link.trace_id.hex(), "spanID": link.span_id.hex()}
            )
    return refs


def _warnings(span: Span) -> list[str] | None:
    dropped = [
        (span.dropped_attributes_count, "attributes"),
        (span.dropped_events_count, "events"),
        (span.dropped_links_count, "links"),
    ]
    found = [f"the SDK dropped {n} {what} of this span" for n, what in dropped if n]
    return found or None


def truncation_warning(shown: int, total: int) -> str:
    """The marker of a trace cut by the span cap (FLOWSCOPE_JAEGER_MAX_TRACE_SPANS)."""
    return (
        f"trace truncated: showing {shown} of its {total} spans (the root and the earliest to start; "
        f"the cap is FLOWSCOPE_JAEGER_MAX_TRACE_SPANS)"
    )


class TraceBuilder:
    """Assembles Jaeger traces from stored rows; resources and scopes are decoded once each."""

    def __init__(self, resources: dict[int, bytes], scopes: dict[int, bytes]) -> None:
        self._resource_bytes = resources
        self._scope_bytes = scopes
        self._scopes: dict[int, InstrumentationScope] = {}

    def _scope(self, scope_id: int) -> InstrumentationScope:
        scope = self._scopes.get(scope_id)
        if scope is None:
            scope = InstrumentationScope.FromString(self._scope_bytes.get(scope_id, b""))
            self._scopes[scope_id] = scope
        return scope

    def _process(self, resource_id: int) -> dict[str, Any]:
        resource = Resource.FromString(self._resource_bytes.get(resource_id, b""))
        service = next(
            (kv.value.string_value for kv in resource.attributes if kv.key == "service.name"),
            "unknown_service",
        )
        return {"serviceName": service, "tags": tags_of(resource.attributes, skip="service.name")}

    def trace(self, trace_id: str, rows: list[StoredSpan], total: int | None = None) -> dict[str, Any]:
        """The trace of `rows`; `total` is its stored span count when `rows` are only some of them."""
        process_ids: dict[int, str] = {}
        processes: dict[str, dict[str, Any]] = {}
        spans = []
        for row in rows:
            pid = process_ids.get(row.resource_id)
            if pid is None:
                pid = f"p{len(process_ids) + 1}"
                process_ids[row.resource_id] = pid
                processes[pid] = self._process(row.resource_id)
            spans.append(self._span(row, pid))
        warnings = None
        if total is not None and total > len(rows):
            warnings = [truncation_warning(len(rows), total)]
            # Jaeger UI and Grafana show span warnings, not trace ones: the first span (a root
            # when the trace has one) carries the marker too.
            first = next((s for s in spans if not s["references"]), spans[0])
            first["warnings"] = [*warnings, *(first["warnings"] or [])]
        return {"traceID": trace_id, "spans": spans, "processes": processes, "warnings": warnings}

    def _span(self, row: StoredSpan, process_id: str) -> dict[str, Any]:
        span = Span.FromString(row.span)
        start = span.start_time_unix_nano
        duration_ns = max(span.end_time_unix_nano - start, 0)
        return {
            "traceID": row.trace_id,
            "spanID": row.span_id,
            "operationName": span.name,
            "references": _references(row, span),
            "startTime": start // 1000,
            "duration": duration_ns // 1000,
            "flags": span.flags & 0xFF,  # the W3C trace flags (bit 0: sampled)
            "tags": span_tags(span, self._scope(row.scope_id)),
            "logs": _logs(span),
            "processID": process_id,
            "warnings": _warnings(span),
        }


def tag_text(tag: Tag) -> str:
    """A tag's value as jaeger-query compares it with a search `tags` value."""
    value = tag["value"]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    return str(value)

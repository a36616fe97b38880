"""The JSON bodies of the Jaeger query API v3, as Jaeger's HTTP gateway writes them.

Sources (jaegertracing/jaeger): cmd/jaeger/internal/extension/jaegerquery/internal/apiv3/
http_gateway.go (the handlers), grpc_handler.go (`toProtoTraceSummaries`), querysvc/summary.go;
the messages are jaegertracing/jaeger-idl proto/api_v3/query_service.proto, written with
gogo's jsonpb (camelCase keys, zero values left out, an empty but present list kept, 64-bit
integers as strings), and traces as OTLP/JSON (`otlp_json`) inside `{"result": ...}`
(`GRPCGatewayWrapper`).
"""

from __future__ import annotations

from typing import Any

import orjson
from flowscope.api.jaeger.model import truncation_warning
from flowscope.api.jaeger_v3.otlp_json import Json, resource_json, scope_json, span_json
from flowscope.storage.trace_tags import SPAN_KIND_TAG
from flowscope.storage.traces import Operation, StoredPart, StoredTrace, TraceSummary
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

WARNINGS_ATTRIBUTE = "@jaeger@warnings"
"""Where Jaeger puts a span's warnings (internal/jptrace/attributes.go): a string array."""


def span_kind(kind: int) -> str:
    """A kind as Jaeger names it in operations: lowercase, '' for unspecified."""
    return SPAN_KIND_TAG.get(kind, "")


def operations_json(operations: list[Operation], wanted_kind: str) -> Json:
    """`GetOperationsResponse`: the operations of the kind asked for ('' for all); an
    unspecified kind is named 'internal' after filtering, as the HTTP gateway does."""
    return {
        "operations": [
            {"name": op.name, "spanKind": span_kind(op.kind) or "internal"}
            for op in operations
            if not wanted_kind or span_kind(op.kind) == wanted_kind
        ]
    }


def summaries_json(summaries: list[TraceSummary]) -> Json:
    """`FindTraceSummariesResponse` (zero counts and empty names left out, times as strings)."""
    return {"summaries": [_summary(s) for s in summaries]}


def _summary(summary: TraceSummary) -> Json:
    fields: list[tuple[str, Any]] = [
        ("traceId", summary.trace_id),
        ("rootServiceName", summary.root_service),
        ("rootOperationName", summary.root_operation),
        ("minStartTimeUnixNano", str(summary.start_ns) if summary.start_ns else ""),
        ("maxEndTimeUnixNano", str(summary.end_ns) if summary.end_ns else ""),
        ("spanCount", summary.span_count),
        ("errorSpanCount", summary.error_span_count),
        ("orphanSpanCount", summary.orphan_span_count),
        ("services", [_service(s.name, s.span_count, s.error_span_count) for s in summary.services]),
    ]
    return {key: value for key, value in fields if value or isinstance(value, list)}


def _service(name: str, spans: int, errors: int) -> Json:
    fields = {"name": name, "spanCount": spans, "errorSpanCount": errors}
    return {key: value for key, value in fields.items() if value}


def traces_data(traces: list[StoredTrace], raw: bool) -> Json:
    """`TracesData` of the traces, one after another: per trace, a `ResourceSpans` per
    resource and in it a `ScopeSpans` per scope, in the order of first use, the spans in the
    trace's order (each already JSON: an `orjson.Fragment`). Unless `raw`, a trace cut by the
    span cap says so in its first root span's (else first span's) `@jaeger@warnings`, where
    Jaeger marks the traces it truncates."""
    resource_spans: list[Json] = []
    for trace in traces:
        resource_spans.extend(_resource_spans(trace, raw))
    return {"resourceSpans": resource_spans} if resource_spans else {}


def _resource_spans(trace: StoredTrace, raw: bool) -> list[Json]:
    grouped: dict[int, dict[int, list[orjson.Fragment]]] = {}
    marked = raw or trace.total_spans <= len(trace.spans)
    decoded = [Span.FromString(stored.span) for stored in trace.spans]
    first = next((i for i, span in enumerate(decoded) if not any(span.parent_span_id)), 0)
    for i, (stored, span) in enumerate(zip(trace.spans, decoded, strict=True)):
        out = span_json(span)
        if not marked and i == first:
            _add_warning(out, truncation_warning(len(trace.spans), trace.total_spans))
        # Each span is written to JSON at once, so its dicts die young: kept until the end, the
        # 25 or so containers of each of 5,000 spans made the garbage collector triple the time.
        grouped.setdefault(stored.resource, {}).setdefault(stored.scope, []).append(
            orjson.Fragment(orjson.dumps(out))
        )
    return [
        _with_schema(
            {
                "resource": resource_json(Resource.FromString(trace.resources[rid].message)),
                "scopeSpans": [
                    _with_schema(
                        {"scope": scope_json(InstrumentationScope.FromString(trace.scopes[sid].message)),
                         "spans": spans},
                        trace.scopes[sid],
                    )
                    for sid, spans in scopes.items()
                ],
            },
            trace.resources[rid],
        )
        for rid, scopes in grouped.items()
    ]  # fmt: skip


def _with_schema(out: Json, part: StoredPart) -> Json:
    if part.schema_url:
        out["schemaUrl"] = part.schema_url
    return out


def _add_warning(span: Json, warning: str) -> None:
    """Jaeger's `jptrace.AddWarnings`: append to the span's warnings array (made if missing)."""
    attributes = span.setdefault("attributes", [])
    entry = {"stringValue": warning}
    for attribute in attributes:
        if attribute.get("key") == WARNINGS_ATTRIBUTE:
            value = attribute["value"]
            if "arrayValue" in value:
                value["arrayValue"].setdefault("values", []).append(entry)
            else:  # a plain value where an array belongs: kept as the first warning
                attribute["value"] = {"arrayValue": {"values": [value, entry]}}
            return
    attributes.append({"key": WARNINGS_ATTRIBUTE, "value": {"arrayValue": {"values": [entry]}}})

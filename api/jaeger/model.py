"""Traces as Jaeger's UI JSON (jaeger `model/json`), from the decoded spans the store reads.

Which tags a span has, and how their values are typed, is `flowscope.storage.trace_tags`
(trace search matches the same tags). Here the rest of the OTLP-to-Jaeger mapping of the
OpenTelemetry Collector's Jaeger translator: parent -> first `CHILD_OF` reference, links ->
`FOLLOWS_FROM`, events -> logs whose `event` field is the event name, resource -> the
process (service.name as serviceName, the rest as tags). Times are microseconds.
"""

from __future__ import annotations

from typing import Any

from flowscope.storage.trace_tags import SPAN_KIND_TAG, span_tags, typed_value
from flowscope.storage.traces import Attributes, AttributeValue, Operation, Trace, TraceSpan

Tag = dict[str, Any]


def to_tag(key: str, value: AttributeValue) -> Tag:
    """A typed Jaeger tag."""
    if value.__class__ is str:  # most tags: typed_value's first case, without the call
        return {"key": key, "type": "string", "value": value}
    kind, shown = typed_value(value)
    return {"key": key, "type": kind, "value": shown}


def _tags(pairs: Attributes | list[tuple[str, AttributeValue]], skip: str | None = None) -> list[Tag]:
    return [to_tag(key, value) for key, value in pairs if key != skip]


def operation_json(operation: Operation) -> dict[str, str]:
    """{name, spanKind} with Jaeger's lowercase kinds ('' for unspecified)."""
    return {"name": operation.name, "spanKind": SPAN_KIND_TAG.get(operation.kind, "")}


def _logs(span: TraceSpan) -> list[dict[str, Any]]:
    logs = []
    for event in span.events:
        fields: list[Tag] = []
        if event.name and not any(key == "event" for key, _ in event.attributes):
            fields.append(to_tag("event", event.name))
        fields.extend(_tags(event.attributes))
        logs.append({"timestamp": event.time_ns // 1000, "fields": fields})
    return logs


def _references(span: TraceSpan) -> list[dict[str, str]]:
    refs = []
    if span.parent_span_id:
        refs.append({"refType": "CHILD_OF", "traceID": span.trace_id, "spanID": span.parent_span_id})
    for link in span.links:
        if len(link.trace_id) == 32 and len(link.span_id) == 16:  # 16 and 8 bytes: well-formed ids
            refs.append({"refType": "FOLLOWS_FROM", "traceID": link.trace_id, "spanID": link.span_id})
    return refs


def _warnings(span: TraceSpan) -> list[str] | None:
    dropped = [
        (span.dropped_attributes, "attributes"),
        (span.dropped_events, "events"),
        (span.dropped_links, "links"),
    ]
    found = [f"the SDK dropped {n} {what} of this span" for n, what in dropped if n]
    return found or None


def truncation_warning(shown: int, total: int) -> str:
    """The marker of a trace cut by the span cap (FLOWSCOPE_JAEGER_MAX_TRACE_SPANS)."""
    return (
        f"trace truncated: showing {shown} of its {total} spans (the root and the earliest to start; "
        f"the cap is FLOWSCOPE_JAEGER_MAX_TRACE_SPANS)"
    )


def _process(resource: Attributes) -> dict[str, Any]:
    service = next(
        (value if isinstance(value, str) else "" for key, value in resource if key == "service.name"),
        "unknown_service",
    )
    return {"serviceName": service, "tags": _tags(resource, skip="service.name")}


def _span(span: TraceSpan) -> dict[str, Any]:
    return {
        "traceID": span.trace_id,
        "spanID": span.span_id,
        "operationName": span.name,
        "references": _references(span),
        "startTime": span.start_ns // 1000,
        "duration": max(span.end_ns - span.start_ns, 0) // 1000,
        "flags": span.flags & 0xFF,  # the W3C trace flags (bit 0: sampled)
        "tags": _tags(span_tags(span)),
        "logs": _logs(span),
        "processID": f"p{span.resource + 1}",
        "warnings": _warnings(span),
    }


def trace_json(trace: Trace) -> dict[str, Any]:
    """One trace in Jaeger's JSON; a trace cut by the span cap says so in its warnings."""
    spans = [_span(span) for span in trace.spans]
    processes = {f"p{i + 1}": _process(resource) for i, resource in enumerate(trace.resources)}
    warnings = None
    if trace.total_spans > len(spans):
        warnings = [truncation_warning(len(spans), trace.total_spans)]
        # Jaeger UI and Grafana show span warnings, not trace ones: the first span (a root
        # when the trace has one) carries the marker too.
        first = next((s for s in spans if not s["references"]), spans[0])
        first["warnings"] = [*warnings, *(first["warnings"] or [])]
    return {"traceID": trace.trace_id, "spans": spans, "processes": processes, "warnings": warnings}

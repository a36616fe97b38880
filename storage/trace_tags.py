"""A span's tags as Jaeger sees them: one mapping for what trace search matches
(`TraceReader.find_traces`) and what the Jaeger API shows.

It follows the OpenTelemetry Collector's Jaeger translator, which jaeger-query itself
uses: scope -> `otel.scope.name`/`otel.scope.version`, kind -> `span.kind`, status ->
`otel.status_code` (+ `error=true`, `otel.status_description`), trace state ->
`w3c.tracestate`; a span's process is its resource, its logs are its events.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator, Mapping

import orjson
from flowscope.storage.anyvalue import to_jsonable
from flowscope.storage.traces import Attributes, AttributeValue, TraceSpan

SPAN_KIND_TAG = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
STATUS_CODE_TAG = {1: "OK", 2: "ERROR"}


def span_tags(span: TraceSpan) -> list[tuple[str, AttributeValue]]:
    """The span's tags in the translator's order: scope, attributes, then the synthesized ones."""
    tags: list[tuple[str, AttributeValue]] = []
    if span.scope.name:
        tags.append(("otel.scope.name", span.scope.name))
    if span.scope.version:
        tags.append(("otel.scope.version", span.scope.version))
    tags.extend(span.attributes)
    if span.kind in SPAN_KIND_TAG:
        tags.append(("span.kind", SPAN_KIND_TAG[span.kind]))
    if span.status_code in STATUS_CODE_TAG:
        tags.append(("otel.status_code", STATUS_CODE_TAG[span.status_code]))
    if span.status_code == 2:
        tags.append(("error", True))
    if span.status_message:
        tags.append(("otel.status_description", span.status_message))
    if span.trace_state:
        tags.append(("w3c.tracestate", span.trace_state))
    return tags


def searchable_tags(span: TraceSpan, resource: Attributes) -> Iterator[tuple[str, AttributeValue]]:
    """What a search's `tags` are matched against: the span's tags, its process's (every
    resource attribute) and its logs' (event attributes, and `event` = the event's name)."""
    yield from span_tags(span)
    yield from resource
    for event in span.events:
        yield from event.attributes
        if event.name:
            yield "event", event.name


def matches(span: TraceSpan, resource: Attributes, wanted: Mapping[str, str]) -> bool:
    """Whether every wanted key=value is among the searchable tags of `span` (with its
    resource's attributes), the value compared as `tag_text`."""
    have: dict[str, set[str]] = {}
    for key, value in searchable_tags(span, resource):
        if key in wanted:  # only the wanted keys' values are worth turning into text
            have.setdefault(key, set()).add(tag_text(value))
    return all(value in have.get(key, ()) for key, value in wanted.items())


def typed_value(value: AttributeValue) -> tuple[str, AttributeValue]:
    """Jaeger's tag type and value: string, bool, int64, float64 or binary (base64); arrays
    and maps as JSON text, non-finite floats as text (JSON has neither), no value as ''."""
    if isinstance(value, str):
        return "string", value
    if isinstance(value, bool):
        return "bool", value
    if isinstance(value, int):
        return "int64", value
    if isinstance(value, float):
        return ("float64", value) if math.isfinite(value) else ("string", str(value))
    if isinstance(value, bytes):
        return "binary", base64.b64encode(value).decode()
    if isinstance(value, list | dict):
        return "string", orjson.dumps(to_jsonable(value)).decode()
    return "string", ""  # an AnyValue without a value


def tag_text(value: AttributeValue) -> str:
    """A tag's value as jaeger-query compares it with a search `tags` value."""
    shown = typed_value(value)[1]
    if isinstance(shown, bool):
        return "true" if shown else "false"
    return str(shown)

"""Asking the recognizers (flowscope.emitters) about a span at ingest, and storing their answer.

Only spans whose bytes hold a recognizer's marker and that carry none of our own workflow
attributes get here, so plain service spans and our engine's spans never pay for it. What a
recognizer derives is appended to the span's stored bytes as ordinary attributes: a span
message with more `attributes` entries appended is the same message with those attributes
added (protobuf merges repeated fields on concatenation), so the emitter's own bytes stay as
sent and every reader of stored spans sees the workflow meaning without knowing emitters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowscope.storage.anyvalue import attributes_to_dict
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from flowscope import conventions as c
from flowscope import workflow_meaning as m
from flowscope.emitters import ForeignSpan
from flowscope.emitters.registry import Recognition


def has_marker(data: bytes, markers: tuple[bytes, ...]) -> bool:
    return any(marker in data for marker in markers)


class ResourceAttributes:
    """A resource's attributes, decoded once however many of its spans are recognized."""

    __slots__ = ("_decoded", "_marked", "_resource")

    def __init__(self, resource: Any) -> None:
        self._resource = resource
        self._decoded: dict[str, Any] | None = None
        self._marked: bool | None = None

    def get(self) -> dict[str, Any]:
        if self._decoded is None:
            self._decoded = attributes_to_dict(self._resource.attributes)
        return self._decoded

    def marked(self, markers: tuple[bytes, ...]) -> bool:
        """Whether the resource's bytes hold a marker (checked once): some emitters put a span's
        own attributes on its resource (the contrib GitHub receiver's run and job spans carry
        none of their own), so their markers are found there, not in the span's bytes."""
        if self._marked is None:
            self._marked = has_marker(self._resource.SerializeToString(), markers)
        return self._marked


def foreign_span(
    span: Any, trace_id: str, span_id: str, parent: str, resource: Mapping[str, Any], scope_name: str
) -> ForeignSpan:
    """The recognizers' view of an OTLP span: every field decoded to plain Python values."""
    return ForeignSpan(
        name=span.name,
        kind=span.kind,
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        start_ns=span.start_time_unix_nano,
        end_ns=span.end_time_unix_nano,
        status_code=span.status.code,
        status_message=span.status.message,
        attributes=attributes_to_dict(span.attributes),
        events=tuple((e.name, e.time_unix_nano, attributes_to_dict(e.attributes)) for e in span.events),
        links=tuple(
            (link.trace_id.hex(), link.span_id.hex(), attributes_to_dict(link.attributes))
            for link in span.links
        ),
        resource=resource,
        scope_name=scope_name,
    )


def recognize(
    recognition: Recognition, span: Any, trace_id: str, span_id: str, parent: str,
    resource: ResourceAttributes, scope_name: str,
) -> dict[str, Any] | None:  # fmt: skip
    """The workflow attributes the first recognizer that claims the span derives (with
    `flowscope.recognizer` naming it), or None when none does."""
    view = foreign_span(span, trace_id, span_id, parent, resource.get(), scope_name)
    found = m.recognize(recognition.recognizers, view)
    if found is None:
        return None
    name, derived = found
    derived[c.RECOGNIZER] = name
    return derived


def _any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, list | tuple):
        return AnyValue(array_value=ArrayValue(values=[_any_value(v) for v in value]))
    return AnyValue(string_value=str(value))


def with_attributes(blob: bytes, added: Mapping[str, Any]) -> bytes:
    """A span's protobuf bytes with `added` appended as attributes."""
    extra = Span(attributes=[KeyValue(key=k, value=_any_value(v)) for k, v in added.items()])
    return blob + extra.SerializeToString()

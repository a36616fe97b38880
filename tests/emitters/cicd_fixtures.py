"""The CI/CD fixtures (tests/emitters/fixtures/{github_actions,gitlab,jenkins}.json): OTLP/JSON
export requests shaped as each emitter's source builds them (each file's "_source" names the
files and versions), read through the collector's own OTLP/JSON decoding."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowscope.collector.otlp_json import parse_json
from flowscope.storage.anyvalue import attributes_to_dict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from flowscope.emitters import ForeignSpan

FIXTURES = Path(__file__).parent / "fixtures"
EMITTERS = ("github_actions", "gitlab", "jenkins")


def body(emitter: str, shift_ns: int = 0) -> bytes:
    """The fixture as an OTLP/JSON request body, every time moved by `shift_ns` (end-to-end
    tests move them to the present, where the API's default windows look)."""
    data = json.loads((FIXTURES / f"{emitter}.json").read_text())
    data.pop("_source")
    if shift_ns:
        for resource_spans in data["resourceSpans"]:
            for scope_spans in resource_spans["scopeSpans"]:
                for span in scope_spans["spans"]:
                    for key in ("startTimeUnixNano", "endTimeUnixNano"):
                        span[key] = str(int(span[key]) + shift_ns)
                    for event in span.get("events", ()):
                        event["timeUnixNano"] = str(int(event["timeUnixNano"]) + shift_ns)
    return json.dumps(data).encode()


def request(emitter: str) -> ExportTraceServiceRequest:
    return parse_json(body(emitter), "traces", ExportTraceServiceRequest())  # type: ignore[return-value]


def earliest_ns(emitter: str) -> int:
    return min(span.start_time_unix_nano for span, _ in spans(request(emitter)))


@dataclass(frozen=True)
class Sent:
    """One span as the recognizers see it, with the bytes the collector looks for markers in."""

    view: ForeignSpan
    span_bytes: bytes
    resource_bytes: bytes


def spans(message: ExportTraceServiceRequest) -> Iterator[tuple[Span, Resource]]:
    for resource_spans in message.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield span, resource_spans.resource


def sent(emitter: str) -> list[Sent]:
    found = []
    for resource_spans in request(emitter).resource_spans:
        resource: dict[str, Any] = attributes_to_dict(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                found.append(Sent(_view(span, resource, scope_spans.scope.name), span.SerializeToString(),
                                  resource_spans.resource.SerializeToString()))  # fmt: skip
    return found


def _view(span: Span, resource: dict[str, Any], scope_name: str) -> ForeignSpan:
    """What the collector hands a recognizer (collector/recognize.py foreign_span)."""
    events = tuple((e.name, e.time_unix_nano, attributes_to_dict(e.attributes)) for e in span.events)
    links = tuple((k.trace_id.hex(), k.span_id.hex(), attributes_to_dict(k.attributes)) for k in span.links)
    return ForeignSpan(
        name=span.name, kind=span.kind, trace_id=span.trace_id.hex(), span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex(), start_ns=span.start_time_unix_nano,
        end_ns=span.end_time_unix_nano, status_code=span.status.code, status_message=span.status.message,
        attributes=attributes_to_dict(span.attributes), events=events, links=links, resource=resource,
        scope_name=scope_name,
    )  # fmt: skip

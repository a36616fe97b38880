"""Other systems' telemetry read as workflows (issue 13): one recognizer per emitter.

A recognizer looks at one span that does not follow Flowscope's own conventions (no
`workflow.id`, `workflow.step.id` or `workflow.step.attempt`) and says what it means in
those conventions: it returns the `flowscope.conventions` attributes the span would carry
had our engine emitted it (`workflow.id`, `workflow.step.id`, `workflow.status`, ...), or
None when the span is not one of its emitter's runs or tasks. The collector adds them to
the stored span at ingest (`flowscope.workflow_meaning.recognize`), so every reader after
it (REST, the live feed, `/metrics`, Grafana, the SQL views, Jaeger) reads one meaning.

Each recognizer names, in comments, the emitter's source file or page behind each rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class ForeignSpan:
    """What a recognizer sees of one span: everything decoded to plain Python values."""

    name: str
    kind: int  # opentelemetry.proto.trace.v1.Span.SpanKind (1 internal, 2 server, ...)
    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits
    parent_span_id: str  # "" for a trace root
    start_ns: int
    end_ns: int
    status_code: int  # 0 unset, 1 ok, 2 error
    status_message: str
    attributes: Mapping[str, Any]
    events: Sequence[tuple[str, int, Mapping[str, Any]]] = ()  # (name, time_ns, attributes), in order
    links: Sequence[tuple[str, str, Mapping[str, Any]]] = ()  # (trace_id, span_id, attributes)
    resource: Mapping[str, Any] = field(default_factory=dict)
    scope_name: str = ""


class Recognizer(Protocol):
    """One emitter's rules."""

    @property
    def name(self) -> str:
        """Short name stored with what it derived (`flowscope.recognizer`), e.g. "prefect"."""
        ...

    @property
    def markers(self) -> tuple[bytes, ...]:
        """Byte strings of which at least one occurs in the protobuf encoding of every span this
        recognizer claims (attribute keys, e.g. b"prefect.run.type"). Spans holding none of any
        recognizer's markers are never decoded: this keeps plain service spans at full speed."""
        ...

    def recognize(self, span: ForeignSpan) -> dict[str, Any] | None:
        """The span's meaning as `flowscope.conventions` attributes, or None if not claimed."""
        ...

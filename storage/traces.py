"""Trace reads: what the Jaeger query API needs from a store (`store.traces`).

Modelled on Jaeger's `tracestore.Reader`: services, operations, trace search, traces by id,
trace summaries and the service call graph; traces are read decoded (`Trace`, for Jaeger's
v1 JSON) or as the OTLP bytes their clients sent (`StoredTrace`, for the OTLP JSON of the
query API v3). The shared rules of `flowscope.storage.interfaces` hold
(tenancy, [] for not found, Unix ns times, plain rows, one committed state per call); what
is particular to each method is written beside it. Turning these spans into Jaeger's JSON
is the API's job; which tags a span has, for search and display alike, is decided once in
`flowscope.storage.trace_tags`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

AttributeValue = Any
"""A decoded OTLP AnyValue: str, bool, int, float, bytes, list, dict, or None (no value)."""
Attributes = tuple[tuple[str, AttributeValue], ...]
"""OTLP attributes as stored: (key, value) pairs in their order, repeated keys kept."""


@dataclass(frozen=True, slots=True)
class Operation:
    """A span name of a service with one of the span kinds it was seen with."""

    name: str
    kind: int
    """The OTLP SpanKind number (0 unspecified, 1 internal, 2 server, 3 client, 4 producer,
    5 consumer)."""


@dataclass(frozen=True, slots=True)
class Scope:
    """The instrumentation scope of a span (empty when unknown)."""

    name: str = ""
    version: str = ""


@dataclass(frozen=True, slots=True)
class SpanEvent:
    name: str
    time_ns: int
    attributes: Attributes


@dataclass(frozen=True, slots=True)
class SpanLink:
    """A link as sent: the hex of its ids, whatever their length (a malformed one included)."""

    trace_id: str
    span_id: str


@dataclass(frozen=True, slots=True)
class TraceSpan:
    """One stored span, decoded."""

    trace_id: str
    span_id: str
    parent_span_id: str
    """'' for a root span."""
    name: str
    kind: int
    start_ns: int
    end_ns: int
    flags: int
    trace_state: str
    status_code: int
    """OTLP StatusCode: 0 unset, 1 ok, 2 error."""
    status_message: str
    attributes: Attributes
    events: tuple[SpanEvent, ...]
    links: tuple[SpanLink, ...]
    dropped_attributes: int
    dropped_events: int
    dropped_links: int
    scope: Scope
    resource: int
    """Index of its resource in `Trace.resources`."""


@dataclass(frozen=True, slots=True)
class Trace:
    """One trace, or its first spans when it has more than a read's cap."""

    trace_id: str
    spans: tuple[TraceSpan, ...]
    """Ordered by start time, then span id."""
    resources: tuple[Attributes, ...]
    """The attributes of each distinct resource of these spans (a stored resource the store
    no longer knows has none)."""
    total_spans: int
    """How many spans the trace has stored: more than `len(spans)` when it was cut."""


@dataclass(frozen=True, slots=True)
class Dependency:
    """Calls from one service to another: spans of `child` whose parent span is `parent`'s."""

    parent: str
    child: str
    call_count: int


@dataclass(frozen=True, slots=True)
class StoredPart:
    """A resource or an instrumentation scope as stored: its OTLP protobuf bytes
    (`opentelemetry.proto.resource.v1.Resource` or `common.v1.InstrumentationScope`) and the
    schema URL its `ResourceSpans` or `ScopeSpans` carried."""

    message: bytes
    schema_url: str


@dataclass(frozen=True, slots=True)
class StoredSpan:
    """One span as its client sent it."""

    span: bytes
    """Its `opentelemetry.proto.trace.v1.Span` protobuf bytes, unknown fields included."""
    resource: int
    """Index of its resource in `StoredTrace.resources`."""
    scope: int
    """Index of its scope in `StoredTrace.scopes`."""


@dataclass(frozen=True, slots=True)
class StoredTrace:
    """One trace as stored (or its first spans when it has more than a read's cap)."""

    trace_id: str
    spans: tuple[StoredSpan, ...]
    """The spans `get_traces` returns, in its order (start time, then span id)."""
    resources: tuple[StoredPart, ...]
    """Each distinct resource of these spans, in the order of first use (a resource the
    store no longer knows is empty bytes)."""
    scopes: tuple[StoredPart, ...]
    """Each distinct scope of these spans, in the order of first use (the same)."""
    total_spans: int
    """How many spans the trace has stored: more than `len(spans)` when it was cut."""


@dataclass(frozen=True, slots=True)
class ServiceSummary:
    """The spans of one service in a trace."""

    name: str
    span_count: int
    error_span_count: int
    """Its spans with status code ERROR."""


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """One trace in numbers, for a list of search results (Jaeger's `TraceSummary`)."""

    trace_id: str
    root_service: str
    """The service of its earliest-starting span without a parent ('' when it has none)."""
    root_operation: str
    """That span's name ('' when it has none)."""
    start_ns: int
    """The earliest start of its spans."""
    end_ns: int
    """The latest end of its spans."""
    span_count: int
    error_span_count: int
    """Its spans with status code ERROR."""
    orphan_span_count: int
    """Its spans whose parent span is not in the trace (a partial trace)."""
    services: tuple[ServiceSummary, ...]
    """One entry per service of its spans, sorted by name."""


@dataclass(frozen=True)
class TraceQuery:
    """Trace search criteria; one span must meet all of them."""

    service: str
    start_ns: int
    end_ns: int
    """The span's start is in [start_ns, end_ns], both ends included (as jaeger-query)."""
    limit: int
    """At most this many traces."""
    operation: str | None = None
    """The span's name."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Each key=value is one of the span's tags (see `TraceReader.find_traces`)."""
    min_duration_ns: int | None = None
    max_duration_ns: int | None = None
    """Bounds of the span's duration, both included."""


class TraceReader(Protocol):
    """The Jaeger query API's reads. Every method reads one committed state."""

    def services(self, workspace_id: str) -> list[str]:
        """Service names (resource `service.name`, else 'unknown_service') with spans stored,
        sorted; [] for a workspace without spans."""
        ...

    def operations(self, workspace_id: str, service: str) -> list[Operation]:
        """Each distinct (span name, kind) of the service, sorted by name then kind; [] for a
        service without spans."""
        ...

    def find_traces(self, workspace_id: str, query: TraceQuery, max_spans: int) -> list[Trace]:
        """The traces having one span that meets every criterion of `query`, newest first (by
        their newest matching span's start), at most `query.limit`, each read as
        `get_traces` reads it.

        Tags: each wanted key=value must be found among the matching span's own tags, its
        resource's attributes, or one of its events' (`trace_tags.searchable_tags`), the value
        compared as text (`trace_tags.tag_text`), as jaeger-query does. A store that must
        decode spans to match tags may bound the work of one search: DuckDB stops after
        200,000 candidate spans (newest first) with the traces found so far."""
        ...

    def get_traces(self, workspace_id: str, trace_ids: list[str], max_spans: int) -> list[Trace]:
        """The traces of `trace_ids` (32 lowercase hex digits), in that order; an id with no
        span in this workspace is left out, so an unknown trace gives [].

        Each holds at most `max_spans` spans: its roots first, then the earliest to start (ties
        by span id), so the top of the tree stays whole; `total_spans` tells a cut trace."""
        ...

    def get_stored_traces(self, workspace_id: str, trace_ids: list[str], max_spans: int) -> list[StoredTrace]:
        """`get_traces` as stored: the same traces, spans, order and cut, each span the bytes
        its client sent, with its resource and scope (bytes and schema URL)."""
        ...

    def find_stored_traces(self, workspace_id: str, query: TraceQuery, max_spans: int) -> list[StoredTrace]:
        """The traces `find_traces` finds, in its order, each read as `get_stored_traces`
        reads it."""
        ...

    def find_trace_summaries(self, workspace_id: str, query: TraceQuery) -> list[TraceSummary]:
        """A summary of each trace `find_traces` finds, in its order, counting every span the
        trace has stored (no cap)."""
        ...

    def dependencies(self, workspace_id: str, start_ns: int, end_ns: int) -> list[Dependency]:
        """Service-to-service calls by spans that started in [start_ns, end_ns] (both
        included): one row per (parent service, child service) pair with a span whose parent
        span belongs to the other service, sorted by parent then child."""
        ...

"""`TraceReader` on DuckDB: the Jaeger reads, SQL in sql/queries/traces/, blobs decoded here.

Tags are not columns (they live in the span's protobuf bytes), so a search with tags pages
through the spans meeting its other criteria, newest first, and matches each in Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import duckdb
from flowscope.storage.anyvalue import any_value_to_python
from flowscope.storage.duckdb.errors import mapped_errors
from flowscope.storage.duckdb.snapshot import snapshot
from flowscope.storage.duckdb.sqlfiles import sql
from flowscope.storage.duckdb.stored_traces import fetch_parts, load_stored, summarize, trace_span_rows
from flowscope.storage.trace_tags import matches
from flowscope.storage.traces import (
    Attributes,
    Dependency,
    Operation,
    Scope,
    SpanEvent,
    SpanLink,
    StoredTrace,
    Trace,
    TraceQuery,
    TraceSpan,
    TraceSummary,
)
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

if TYPE_CHECKING:
    from flowscope.storage.duckdb.store import Store

_CANDIDATE_PAGE = 2000
# Tag search decodes span bytes in Python; past this many candidate spans it stops
# (with the traces found so far) rather than scan a huge window span by span.
MAX_TAG_SCAN_SPANS = 200_000


def _attributes(attributes: Iterable[KeyValue]) -> Attributes:
    # Strings, most attributes, skip a call (this runs for every attribute of every span read).
    return tuple(
        [
            (kv.key, v.string_value if v.WhichOneof("value") == "string_value" else any_value_to_python(v))
            for kv in attributes
            for v in (kv.value,)
        ]
    )


def _decode_span(
    trace_id: str, span_id: str, parent_span_id: str, blob: bytes, scope: Scope, resource: int
) -> TraceSpan:
    """A stored span; its ids come from the columns, the rest from its bytes."""
    span = Span.FromString(blob)
    status = span.status
    return TraceSpan(
        trace_id, span_id, parent_span_id, span.name, span.kind,
        span.start_time_unix_nano, span.end_time_unix_nano, span.flags, span.trace_state,
        status.code, status.message, _attributes(span.attributes),
        tuple([SpanEvent(e.name, e.time_unix_nano, _attributes(e.attributes)) for e in span.events]),
        tuple([SpanLink(link.trace_id.hex(), link.span_id.hex()) for link in span.links]),
        span.dropped_attributes_count, span.dropped_events_count, span.dropped_links_count,
        scope, resource,
    )  # fmt: skip


class _Catalog:
    """The resources and scopes one read needs, each fetched and decoded once."""

    def __init__(self, cur: duckdb.DuckDBPyConnection) -> None:
        self._cur = cur
        self._resources: dict[int, Attributes] = {}
        self._scopes: dict[int, Scope] = {}

    def load(self, resource_ids: set[int], scope_ids: set[int]) -> None:
        """Fetch the ones not known yet (an unknown id decodes as empty)."""
        if missing := resource_ids - self._resources.keys():
            found = fetch_parts(self._cur, "resources", missing)
            for rid in missing:
                blob = found[rid].message if rid in found else b""
                self._resources[rid] = _attributes(Resource.FromString(blob).attributes)
        if missing := scope_ids - self._scopes.keys():
            found = fetch_parts(self._cur, "scopes", missing)
            for sid in missing:
                scope = InstrumentationScope.FromString(found[sid].message if sid in found else b"")
                self._scopes[sid] = Scope(scope.name, scope.version)

    def resource(self, resource_id: int) -> Attributes:
        return self._resources[resource_id]

    def scope(self, scope_id: int) -> Scope:
        return self._scopes[scope_id]


class DuckDBTraces:
    """The trace reads of one DuckDB `Store`, on the calling thread's cursor."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def services(self, workspace_id: str) -> list[str]:
        with mapped_errors():
            cur = self._store.cursor()
            rows = cur.execute(sql("queries/traces/services"), {"workspace_id": workspace_id}).fetchall()
        return [r[0] for r in rows]

    def operations(self, workspace_id: str, service: str) -> list[Operation]:
        params = {"workspace_id": workspace_id, "service": service}
        with mapped_errors():
            rows = self._store.cursor().execute(sql("queries/traces/operations"), params).fetchall()
        return [Operation(name, kind) for name, kind in rows]

    def find_traces(self, workspace_id: str, query: TraceQuery, max_spans: int) -> list[Trace]:
        with mapped_errors():
            cur = self._store.cursor()
            with snapshot(cur):
                return _load_traces(cur, workspace_id, _found(cur, workspace_id, query), max_spans)

    def find_stored_traces(self, workspace_id: str, query: TraceQuery, max_spans: int) -> list[StoredTrace]:
        with mapped_errors():
            cur = self._store.cursor()
            with snapshot(cur):
                return load_stored(cur, workspace_id, _found(cur, workspace_id, query), max_spans)

    def find_trace_summaries(self, workspace_id: str, query: TraceQuery) -> list[TraceSummary]:
        with mapped_errors():
            cur = self._store.cursor()
            with snapshot(cur):
                return summarize(cur, workspace_id, _found(cur, workspace_id, query))

    def get_traces(self, workspace_id: str, trace_ids: list[str], max_spans: int) -> list[Trace]:
        with mapped_errors():
            cur = self._store.cursor()
            with snapshot(cur):
                return _load_traces(cur, workspace_id, trace_ids, max_spans)

    def get_stored_traces(self, workspace_id: str, trace_ids: list[str], max_spans: int) -> list[StoredTrace]:
        with mapped_errors():
            cur = self._store.cursor()
            with snapshot(cur):
                return load_stored(cur, workspace_id, trace_ids, max_spans)

    def dependencies(self, workspace_id: str, start_ns: int, end_ns: int) -> list[Dependency]:
        params = {"workspace_id": workspace_id, "start_ns": start_ns, "end_ns": end_ns}
        with mapped_errors():
            rows = self._store.cursor().execute(sql("queries/traces/dependencies"), params).fetchall()
        return [Dependency(parent, child, count) for parent, child, count in rows]


def _criteria(workspace_id: str, query: TraceQuery) -> dict[str, Any]:
    """The parameters of a search's SQL but the paging ones (None: no such criterion)."""
    return {
        "workspace_id": workspace_id,
        "service": query.service,
        "start_ns": query.start_ns,
        "end_ns": query.end_ns,
        "operation": query.operation,
        "min_duration_ns": query.min_duration_ns,
        "max_duration_ns": query.max_duration_ns,
    }


def _found(cur: duckdb.DuckDBPyConnection, workspace_id: str, query: TraceQuery) -> list[str]:
    """Ids of the traces a search finds, newest first (`TraceReader.find_traces`)."""
    find = _find_by_tags if query.tags else _find
    return find(cur, workspace_id, query)


def _find(cur: duckdb.DuckDBPyConnection, workspace_id: str, query: TraceQuery) -> list[str]:
    """Ids of the newest traces with a span matching every criterion (no tags)."""
    params = {**_criteria(workspace_id, query), "limit": query.limit}
    return [r[0] for r in cur.execute(sql("queries/traces/matching_traces"), params).fetchall()]


def _find_by_tags(cur: duckdb.DuckDBPyConnection, workspace_id: str, query: TraceQuery) -> list[str]:
    """Ids of the newest traces with a span matching every criterion, tags included."""
    statement = sql("queries/traces/candidate_spans")
    criteria = _criteria(workspace_id, query)
    catalog = _Catalog(cur)
    found: list[str] = []
    seen: set[str] = set()
    offset = 0
    while offset < MAX_TAG_SCAN_SPANS:
        page = cur.execute(statement, {**criteria, "limit": _CANDIDATE_PAGE, "offset": offset}).fetchall()
        catalog.load({r[3] for r in page}, {r[4] for r in page})
        for trace_id, span_id, parent, resource_id, scope_id, blob in page:
            if trace_id in seen:
                continue
            span = _decode_span(trace_id, span_id, parent, blob, catalog.scope(scope_id), 0)
            if matches(span, catalog.resource(resource_id), query.tags):
                seen.add(trace_id)
                found.append(trace_id)
                if len(found) >= query.limit:
                    return found
        if len(page) < _CANDIDATE_PAGE:
            break
        offset += _CANDIDATE_PAGE
    return found


def _load_traces(
    cur: duckdb.DuckDBPyConnection, workspace_id: str, trace_ids: list[str], max_spans: int
) -> list[Trace]:
    if not trace_ids:
        return []
    rows = trace_span_rows(cur, workspace_id, trace_ids, max_spans)
    catalog = _Catalog(cur)
    catalog.load({r[3] for r in rows}, {r[4] for r in rows})
    spans: dict[str, list[TraceSpan]] = {}
    resources: dict[str, dict[int, int]] = {}  # per trace: resource id -> index in Trace.resources
    totals: dict[str, int] = {}
    for trace_id, span_id, parent, resource_id, scope_id, blob, total in rows:
        indexes = resources.setdefault(trace_id, {})
        index = indexes.setdefault(resource_id, len(indexes))
        span = _decode_span(trace_id, span_id, parent, blob, catalog.scope(scope_id), index)
        spans.setdefault(trace_id, []).append(span)
        totals[trace_id] = total
    return [
        Trace(
            trace_id=tid,
            spans=tuple(spans[tid]),
            resources=tuple(catalog.resource(rid) for rid in resources[tid]),
            total_spans=totals[tid],
        )
        for tid in trace_ids
        if tid in spans
    ]

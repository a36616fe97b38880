"""Reads for the Jaeger API: services, operations, trace search, traces by id, dependencies.

Contracts: every function takes the caller's own cursor and a workspace id and sees
only that workspace; an unknown trace yields an empty list (the router turns it into
404); search returns traces newest first, at most `query.limit` of them.
"""

from __future__ import annotations

from typing import Any

import duckdb
from flowscope.api.jaeger import sql
from flowscope.api.jaeger.model import SPAN_KIND_TAG, StoredSpan, TraceBuilder, span_tags, tag_text, tags_of
from flowscope.api.jaeger.params import TraceQuery
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

_CANDIDATE_PAGE = 2000
# Tag search decodes span bytes in Python; past this many candidate spans it stops
# (with the traces found so far) rather than scan a huge window span by span.
MAX_TAG_SCAN_SPANS = 200_000


def services(cur: duckdb.DuckDBPyConnection, workspace_id: str) -> list[str]:
    return [r[0] for r in cur.execute(sql.SERVICES, [workspace_id]).fetchall()]


def operations(
    cur: duckdb.DuckDBPyConnection, workspace_id: str, service: str, span_kind: str | None = None
) -> list[dict[str, str]]:
    """[{name, spanKind}] with Jaeger's lowercase kinds ('' for unspecified)."""
    rows = cur.execute(sql.OPERATIONS, [workspace_id, service]).fetchall()
    ops = [{"name": name, "spanKind": SPAN_KIND_TAG.get(kind, "")} for name, kind in rows]
    return [op for op in ops if not span_kind or op["spanKind"] == span_kind]


def _filters(query: TraceQuery) -> tuple[str, list[Any]]:
    clauses, args = [], []
    if query.operation:
        clauses.append("AND name = ?")
        args.append(query.operation)
    if query.min_duration_ns is not None:
        clauses.append("AND duration_ns >= ?")
        args.append(query.min_duration_ns)
    if query.max_duration_ns is not None:
        clauses.append("AND duration_ns <= ?")
        args.append(query.max_duration_ns)
    return " ".join(clauses), args


def find_trace_ids(cur: duckdb.DuckDBPyConnection, workspace_id: str, query: TraceQuery) -> list[str]:
    """Ids of the newest traces having one span that matches every criterion."""
    filters, args = _filters(query)
    head = [workspace_id, query.service, query.start_ns, query.end_ns, *args]
    if not query.tags:
        statement = sql.MATCHING_TRACES.format(filters=filters)
        return [r[0] for r in cur.execute(statement, [*head, query.limit]).fetchall()]
    statement = sql.CANDIDATE_SPANS.format(filters=filters)
    found: list[str] = []
    seen: set[str] = set()
    resources: dict[int, list[dict[str, Any]]] = {}
    scopes: dict[int, InstrumentationScope] = {}
    offset = 0
    while offset < MAX_TAG_SCAN_SPANS:
        page = cur.execute(statement, [*head, _CANDIDATE_PAGE, offset]).fetchall()
        for trace_id, resource_id, scope_id, blob in page:
            if trace_id in seen:
                continue
            if resource_id not in resources:
                resources[resource_id] = _resource_tags(cur, resource_id)
            if scope_id not in scopes:
                scopes[scope_id] = _scope(cur, scope_id)
            if _span_matches(blob, scopes[scope_id], resources[resource_id], query.tags):
                seen.add(trace_id)
                found.append(trace_id)
                if len(found) >= query.limit:
                    return found
        if len(page) < _CANDIDATE_PAGE:
            break
        offset += _CANDIDATE_PAGE
    return found


def _resource_tags(cur: duckdb.DuckDBPyConnection, resource_id: int) -> list[dict[str, Any]]:
    row = cur.execute(sql.RESOURCES.format(placeholders="?"), [resource_id]).fetchone()
    return tags_of(Resource.FromString(row[1]).attributes) if row else []


def _scope(cur: duckdb.DuckDBPyConnection, scope_id: int) -> InstrumentationScope:
    row = cur.execute(sql.SCOPES.format(placeholders="?"), [scope_id]).fetchone()
    return InstrumentationScope.FromString(row[1]) if row else InstrumentationScope()


def _span_matches(
    blob: bytes, scope: InstrumentationScope, process_tags: list[dict[str, Any]], wanted: dict[str, str]
) -> bool:
    """Jaeger semantics: each wanted tag is found on the span, its process, or one of its logs."""
    span = Span.FromString(blob)
    have: dict[str, set[str]] = {}
    for tag in span_tags(span, scope) + process_tags:
        have.setdefault(tag["key"], set()).add(tag_text(tag))
    for event in span.events:
        for tag in tags_of(event.attributes):
            have.setdefault(tag["key"], set()).add(tag_text(tag))
        if event.name:
            have.setdefault("event", set()).add(event.name)
    return all(value in have.get(key, ()) for key, value in wanted.items())


def load_traces(
    cur: duckdb.DuckDBPyConnection, workspace_id: str, trace_ids: list[str], max_spans: int
) -> list[dict[str, Any]]:
    """Traces in the order of `trace_ids`, each cut to `max_spans` spans (with a warning
    saying so); ids with no stored span are left out."""
    if not trace_ids:
        return []
    placeholders = ", ".join("?" * len(trace_ids))
    rows = cur.execute(
        sql.TRACE_SPANS.format(placeholders=placeholders), [*trace_ids, workspace_id, max_spans]
    ).fetchall()
    by_trace: dict[str, list[StoredSpan]] = {}
    totals: dict[str, int] = {}
    for trace_id, span_id, parent, resource_id, scope_id, blob, total in rows:
        by_trace.setdefault(trace_id, []).append(
            StoredSpan(trace_id, span_id, parent, resource_id, scope_id, blob)
        )
        totals[trace_id] = total
    builder = TraceBuilder(
        _catalog(cur, sql.RESOURCES, {r[3] for r in rows}), _catalog(cur, sql.SCOPES, {r[4] for r in rows})
    )
    return [builder.trace(tid, by_trace[tid], totals[tid]) for tid in trace_ids if tid in by_trace]


def _catalog(cur: duckdb.DuckDBPyConnection, statement: str, ids: set[int]) -> dict[int, bytes]:
    if not ids:
        return {}
    placeholders = ", ".join("?" * len(ids))
    return dict(cur.execute(statement.format(placeholders=placeholders), list(ids)).fetchall())


def dependencies(
    cur: duckdb.DuckDBPyConnection, workspace_id: str, start_ns: int, end_ns: int
) -> list[dict[str, Any]]:
    rows = cur.execute(sql.DEPENDENCIES, [workspace_id, start_ns, end_ns]).fetchall()
    return [{"parent": p, "child": c, "callCount": n} for p, c, n in rows]

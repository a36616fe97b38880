"""Traces as stored, and trace summaries, on DuckDB (the `TraceReader` reads of the Jaeger
query API v3): the span bytes the clients sent with their resources and scopes, and per-trace
numbers aggregated from the span columns. Which traces a search finds is decided in traces.py.
"""

from __future__ import annotations

from typing import Any

import duckdb
from flowscope.storage.duckdb.blobs import by_rowid
from flowscope.storage.duckdb.sqlfiles import sql
from flowscope.storage.traces import (
    ServiceSummary,
    StoredPart,
    StoredSpan,
    StoredTrace,
    TraceSummary,
)


def fetch_parts(cur: duckdb.DuckDBPyConnection, table: str, ids: set[int]) -> dict[int, StoredPart]:
    """Stored resources or scopes (`table`: 'resources' or 'scopes') by id; an id the store no
    longer knows is left out."""
    if not ids:
        return {}
    placeholders = ", ".join("?" * len(ids))  # only markers are spliced in, never values
    statement = sql(f"queries/traces/{table}").format(placeholders=placeholders)
    return {rid: StoredPart(blob, url) for rid, blob, url in cur.execute(statement, list(ids)).fetchall()}


_UNKNOWN = StoredPart(b"", "")


def trace_span_rows(
    cur: duckdb.DuckDBPyConnection, workspace_id: str, trace_ids: list[str], max_spans: int
) -> list[tuple[str, str, str, int, int, bytes, int]]:
    """The workspace's spans of `trace_ids`, cut at `max_spans` a trace (trace_spans.sql), as
    (trace id, span id, parent span id, resource id, scope id, span bytes, the trace's span
    count); the bytes read in a second statement, by row id (storage/duckdb/blobs.py)."""
    if not trace_ids:
        return []
    placeholders = ", ".join("?" * len(trace_ids))  # only markers are spliced in, never values
    statement = sql("queries/traces/trace_spans").format(placeholders=placeholders)
    rows = cur.execute(statement, [*trace_ids, workspace_id, max_spans]).fetchall()
    blobs = by_rowid(cur, "queries/span_blobs", [r[5] for r in rows])
    return [(*r[:5], blobs[r[5]], r[6]) for r in rows]


def load_stored(
    cur: duckdb.DuckDBPyConnection, workspace_id: str, trace_ids: list[str], max_spans: int
) -> list[StoredTrace]:
    """The traces of `trace_ids` as stored, cut as `get_traces` cuts them (trace_spans.sql)."""
    rows = trace_span_rows(cur, workspace_id, trace_ids, max_spans)
    resources = fetch_parts(cur, "resources", {r[3] for r in rows})
    scopes = fetch_parts(cur, "scopes", {r[4] for r in rows})
    spans: dict[str, list[StoredSpan]] = {}
    resource_index: dict[str, dict[int, int]] = {}  # per trace: resource id -> index
    scope_index: dict[str, dict[int, int]] = {}
    totals: dict[str, int] = {}
    for trace_id, _span_id, _parent, resource_id, scope_id, blob, total in rows:
        by_resource = resource_index.setdefault(trace_id, {})
        by_scope = scope_index.setdefault(trace_id, {})
        resource = by_resource.setdefault(resource_id, len(by_resource))
        scope = by_scope.setdefault(scope_id, len(by_scope))
        spans.setdefault(trace_id, []).append(StoredSpan(blob, resource, scope))
        totals[trace_id] = total
    return [
        StoredTrace(
            trace_id=tid,
            spans=tuple(spans[tid]),
            resources=tuple(resources.get(rid, _UNKNOWN) for rid in resource_index[tid]),
            scopes=tuple(scopes.get(sid, _UNKNOWN) for sid in scope_index[tid]),
            total_spans=totals[tid],
        )
        for tid in trace_ids
        if tid in spans
    ]


def summarize(cur: duckdb.DuckDBPyConnection, workspace_id: str, trace_ids: list[str]) -> list[TraceSummary]:
    """A summary of each trace of `trace_ids` with spans in the workspace, in that order."""
    if not trace_ids:
        return []
    placeholders = ", ".join("?" * len(trace_ids))
    statement = sql("queries/traces/trace_summaries").format(placeholders=placeholders)
    found = {row[0]: _summary(row) for row in cur.execute(statement, [*trace_ids, workspace_id]).fetchall()}
    return [found[tid] for tid in trace_ids if tid in found]


def _summary(row: tuple[Any, ...]) -> TraceSummary:
    trace_id, root_service, root_operation, start, end, spans, errors, orphans, services = row
    return TraceSummary(
        trace_id, root_service, root_operation, start, end, spans, errors, orphans,
        tuple(ServiceSummary(s["name"], s["spans"], s["errors"]) for s in services),
    )  # fmt: skip

"""Flat JSON tables for Grafana's Infinity data source, where the spec's REST API has none.

- `GET /api/grafana/executions`: recent executions of every workflow (the overview's
  table and the drilldown's `execution_id` variable), newest first.
- `GET /api/grafana/executions/{execution_id}/steps`: each step's input and output as
  JSON text (the drilldown's "step input/output" table).

Rows are flat objects with stable keys, so an Infinity column selector is just the key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb
from fastapi import APIRouter, HTTPException, Query
from flowscope.api.deps import Context, ViewerContext
from flowscope.collector.anyvalue import any_value_to_python
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from flowscope import conventions as c

router = APIRouter(prefix="/api/grafana", tags=["grafana"])

# Grafana sends these for "All" in a multi-value variable.
_ALL = {"", "*", ".*", "$__all", "All"}

_EXECUTIONS_SQL = """
SELECT execution_id, workflow_id, workflow_name, execution_number, status,
       coalesce(started_ns, queued_ns) AS started_ns, ended_ns, duration_seconds, error_message
FROM executions
WHERE workspace_id = ? {filters}
ORDER BY coalesce(started_ns, queued_ns, updated_ns) DESC
LIMIT ?
"""

# The trace lookup is a MATERIALIZED CTE so DuckDB keeps the trace_id index scan (an extra
# filter in the same scan turns it into a full scan; see api/sql/execution.sql).
_STEP_SPANS_SQL = """
WITH found AS MATERIALIZED (
    SELECT workspace_id, span_id, step_id, name, step_status, retry_count, start_ns, end_ns, span_role, span
    FROM spans WHERE trace_id = $trace_id
)
SELECT span_id, step_id, name, step_status, coalesce(retry_count, 0), start_ns, end_ns, span
FROM found
WHERE workspace_id = $workspace_id AND span_role = 'step'
ORDER BY start_ns, span_id
"""

_ATTEMPTS_SQL = """
WITH found AS MATERIALIZED (
    SELECT workspace_id, parent_span_id, span_role FROM spans WHERE trace_id = $trace_id
)
SELECT parent_span_id, count(*) FROM found
WHERE workspace_id = $workspace_id AND span_role = 'attempt'
GROUP BY parent_span_id
"""


def iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@router.get("/executions")
def recent_executions(
    ctx: ViewerContext,
    app: Context,
    workflow: str = Query("", description="Workflow ids, comma-separated (empty or '.*': all)"),
    status: str = Query("", description="Only executions with this status"),
    limit: int = Query(50, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Recent executions across workflows, newest first, with a display `label`."""
    filters, args = "", []
    workflows = [w for w in workflow.split(",") if w.strip() and w.strip() not in _ALL]
    if workflows and workflow.strip() not in _ALL:
        filters += f" AND workflow_id IN ({', '.join('?' * len(workflows))})"
        args.extend(w.strip() for w in workflows)
    if status and status not in _ALL:
        filters += " AND status = ?"
        args.append(status)
    statement = _EXECUTIONS_SQL.format(filters=filters)
    rows = app.store.read(lambda cur: cur.execute(statement, [ctx.workspace_id, *args, limit]).fetchall())
    out = []
    for eid, wf, name, number, st, started, ended, duration, err in rows:
        title = name or wf
        label = f"{title} #{number} · {st}" if number is not None else f"{title} · {st}"
        out.append({
            "label": f"{label} · {iso(started) or 'not started'} · {eid[:8]}",
            "execution_id": eid,
            "workflow_id": wf,
            "workflow_name": title,
            "execution_number": number,
            "status": st,
            "started_at": iso(started),
            "completed_at": iso(ended),
            "duration_seconds": duration,
            "error_message": err,
        })  # fmt: skip
    return out


@router.get("/executions/{execution_id}/steps")
def step_payloads(execution_id: str, ctx: ViewerContext, app: Context) -> list[dict[str, Any]]:
    """Each step of one execution with its input/output JSON text (as the engine capped it)."""
    eid = execution_id.strip().lower()

    def read(cur: duckdb.DuckDBPyConnection) -> tuple[list[Any], dict[str, int], bool]:
        params = {"trace_id": eid, "workspace_id": ctx.workspace_id}
        steps = cur.execute(_STEP_SPANS_SQL, params).fetchall()
        attempts = dict(cur.execute(_ATTEMPTS_SQL, params).fetchall())
        known = (
            bool(steps)
            or cur.execute(
                "SELECT 1 FROM executions WHERE workspace_id = ? AND execution_id = ?",
                [ctx.workspace_id, eid],
            ).fetchone()
            is not None
        )
        return steps, attempts, known

    steps, attempts, known = app.store.read(read)
    if not known:
        raise HTTPException(404, f"execution {execution_id!r} not found")
    return [_step_row(row, attempts) for row in steps]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _step_row(row: tuple[Any, ...], attempts: dict[str, int]) -> dict[str, Any]:
    span_id, step_id, name, status, retries, start, end, blob = row
    span = Span.FromString(blob)
    attrs = {kv.key: kv.value for kv in span.attributes}

    def attr(key: str) -> Any:
        return any_value_to_python(attrs[key]) if key in attrs else None

    error = attr(c.STEP_ERROR) or (span.status.message if span.status.code == c.STATUS_CODE_ERROR else None)
    return {
        "step_id": step_id or name,
        "step_name": _text(attr(c.STEP_NAME)) or name,
        "step_order": attr(c.STEP_ORDER),
        "status": status,
        "started_at": iso(start),
        "completed_at": iso(end),
        "duration_seconds": max(end - start, 0) / 1e9,
        "attempts": attempts.get(span_id, 0),
        "retry_count": retries,
        "input": _text(attr(c.STEP_INPUT)),
        "input_truncated": bool(attr(c.STEP_INPUT_TRUNCATED)),
        "output": _text(attr(c.STEP_OUTPUT)),
        "output_truncated": bool(attr(c.STEP_OUTPUT_TRUNCATED)),
        "error_message": _text(error) or None,
        "span_id": span_id,
    }

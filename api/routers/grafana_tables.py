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

from fastapi import APIRouter, HTTPException, Query
from flowscope.api.deps import Context, FreshViewerContext
from flowscope.storage.executions import ExecutionStep

router = APIRouter(prefix="/api/grafana", tags=["grafana"])

# Grafana sends these for "All" in a multi-value variable.
_ALL = {"", "*", ".*", "$__all", "All"}


def iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@router.get("/executions")
def recent_executions(
    ctx: FreshViewerContext,
    app: Context,
    workflow: str = Query("", description="Workflow ids, comma-separated (empty or '.*': all)"),
    status: str = Query("", description="Only executions with this status"),
    limit: int = Query(50, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Recent executions across workflows, newest first, with a display `label`."""
    workflows = [w.strip() for w in workflow.split(",") if w.strip() and w.strip() not in _ALL]
    rows = app.store.tables.recent_executions(
        ctx.workspace_id,
        workflow_ids=workflows if workflow.strip() not in _ALL else (),
        status=status if status not in _ALL else None,
        limit=limit,
    )
    out = []
    for r in rows:
        title = r.workflow_name or r.workflow_id
        number = r.execution_number
        label = f"{title} #{number} · {r.status}" if number is not None else f"{title} · {r.status}"
        out.append({
            "label": f"{label} · {iso(r.started_ns) or 'not started'} · {r.execution_id[:8]}",
            "execution_id": r.execution_id,
            "workflow_id": r.workflow_id,
            "workflow_name": title,
            "execution_number": number,
            "status": r.status,
            "started_at": iso(r.started_ns),
            "completed_at": iso(r.ended_ns),
            "duration_seconds": r.duration_seconds,
            "error_message": r.error_message,
        })  # fmt: skip
    return out


@router.get("/executions/{execution_id}/steps")
def step_payloads(execution_id: str, ctx: FreshViewerContext, app: Context) -> list[dict[str, Any]]:
    """Each step of one execution with its input/output JSON text (as the engine capped it)."""
    found = app.store.executions.records(ctx.workspace_id, execution_id.strip().lower())
    if found is None:
        raise HTTPException(404, f"execution {execution_id!r} not found")
    return [_step_row(step) for step in found.steps]


def _step_row(step: ExecutionStep) -> dict[str, Any]:
    start, end = step.start_ns or 0, step.end_ns or 0  # stored step spans have both
    return {
        "step_id": step.step_id,
        "step_name": step.name,
        "step_order": step.order,
        "status": step.status,
        "started_at": iso(step.start_ns),
        "completed_at": iso(step.end_ns),
        "duration_seconds": max(end - start, 0) / 1e9,
        "attempts": len(step.attempts),
        "retry_count": step.retry_count,
        "input": step.input_text,
        "input_truncated": step.input_truncated,
        "output": step.output_text,
        "output_truncated": step.output_truncated,
        "error_message": step.error_message or None,
        "span_id": step.span_id,
    }

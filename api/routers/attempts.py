"""Every step's attempts of one execution in one request (a Gantt draws each attempt, and
the backoff between them, without one request per step)."""

from __future__ import annotations

from fastapi import APIRouter
from flowscope.api.deps import Context, FreshViewerContext
from flowscope.api.errors import not_found
from flowscope.api.queries.overview import execution_attempts
from flowscope.api.schemas.overview import ExecutionAttempts

router = APIRouter(prefix="/api/workflows", tags=["executions"])


@router.get("/executions/{execution_id}/attempts", response_model=ExecutionAttempts)
def get_attempts(execution_id: str, ctx: FreshViewerContext, app: Context) -> ExecutionAttempts:
    """Attempt spans of every step (start, end, status, error), numbered from 1, steps in
    start order."""
    found = execution_attempts(app.store.tables, ctx.workspace_id, execution_id)
    # No attempts: an execution without retries, or none at all (404).
    if not found.steps and app.store.executions.records(ctx.workspace_id, execution_id) is None:
        raise not_found("Execution", execution_id)
    return found

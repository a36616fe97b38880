"""Read models for the web UI (and anyone else): per-workflow summaries for a home page,
and a workflow's durations over time. Definitions in schemas/overview.py and the README."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from flowscope.api.deps import Context, FreshViewerContext
from flowscope.api.errors import not_found
from flowscope.api.queries.overview import workflow_durations, workflow_summaries
from flowscope.api.routers.executions import workflow_known
from flowscope.api.routers.metrics import Since, Until  # the metrics endpoint's window parameters
from flowscope.api.schemas.overview import WorkflowDurations, WorkflowOverview

router = APIRouter(tags=["overview"])


@router.get("/api/overview", response_model=WorkflowOverview)
def overview(
    ctx: FreshViewerContext,
    app: Context,
    since: Since = None,
    until: Until = None,
    days: Annotated[int, Query(ge=1, le=90, description="Days of the executions-per-day trend.")] = 14,
) -> WorkflowOverview:
    """Every workflow of the workspace, catalogued or only seen in telemetry: last status,
    running now, success rate and p50/p95 duration over the window, executions per day."""
    items = workflow_summaries(app.store.workflow_metrics, ctx.workspace_id, since, until, days)
    return WorkflowOverview(workflows=items, since=since, until=until, days=days)


@router.get("/api/workflows/{workflow_id}/durations", response_model=WorkflowDurations)
def durations(
    workflow_id: str,
    ctx: FreshViewerContext,
    app: Context,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, Query(ge=1, le=2000, description="Newest finished executions to return.")] = 500,
) -> WorkflowDurations:
    """Duration and status of the newest finished executions (for a chart), oldest first,
    and how many finished in the window."""
    reader = app.store.workflow_metrics
    result = workflow_durations(reader, ctx.workspace_id, workflow_id, since, until, limit)
    if not result.points and not workflow_known(app, ctx.workspace_id, workflow_id):
        raise not_found("Workflow", workflow_id)
    return result

"""Aggregates over a workflow's executions and steps (definitions: schemas/metrics.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from flowscope.api.deps import Context, FreshViewerContext
from flowscope.api.errors import not_found
from flowscope.api.queries.metrics import step_metrics, workflow_metrics
from flowscope.api.routers.executions import workflow_known
from flowscope.api.schemas.metrics import WorkflowMetricsSummary, WorkflowStepMetrics

router = APIRouter(prefix="/api/workflows", tags=["metrics"])

Since = Annotated[
    datetime | None,
    Query(description="Only executions started (else queued) at or after this time (ISO 8601; naive = UTC)."),
]
Until = Annotated[datetime | None, Query(description="Only executions started before this time (ISO 8601).")]


@router.get("/{workflow_id}/metrics", response_model=WorkflowMetricsSummary)
def get_metrics(
    workflow_id: str, ctx: FreshViewerContext, app: Context, since: Since = None, until: Until = None
) -> WorkflowMetricsSummary:
    """Success rate and duration statistics over the workflow's finished executions."""
    summary, seen = workflow_metrics(app.store.workflow_metrics, ctx.workspace_id, workflow_id, since, until)
    if not seen and not workflow_known(app, ctx.workspace_id, workflow_id):
        raise not_found("Workflow", workflow_id)
    return summary


@router.get("/{workflow_id}/steps/metrics", response_model=WorkflowStepMetrics)
def get_step_metrics(
    workflow_id: str, ctx: FreshViewerContext, app: Context, since: Since = None, until: Until = None
) -> WorkflowStepMetrics:
    """Per step: runs, failure rate, retries, duration percentiles, share of execution time."""
    result = step_metrics(app.store.workflow_metrics, ctx.workspace_id, workflow_id, since, until)
    if not result.steps and not workflow_known(app, ctx.workspace_id, workflow_id):
        raise not_found("Workflow", workflow_id)
    return result

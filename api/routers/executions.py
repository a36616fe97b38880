"""Executions (the spec's telemetry endpoints): details, timeline, step details, logs,
cancel, and a workflow's executions list. All derived from stored spans and logs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, HTTPException, Query
from flowscope.api.catalog import workflows as catalog
from flowscope.api.deps import Context, ExecutionViewerContext, FreshEditorContext, FreshViewerContext
from flowscope.api.errors import not_found, or_404
from flowscope.api.queries import executions as views
from flowscope.api.queries.steps import DefinedStep
from flowscope.api.schemas.common import TriggeredBy
from flowscope.api.schemas.executions import (
    ExecutionCancel,
    ExecutionLogPage,
    StepExecutionDetails,
    WorkflowExecutionDetails,
    WorkflowExecutionPage,
)
from flowscope.api.schemas.timeline import WorkflowExecutionTimeline
from flowscope.storage.executions import ExecutionRecords
from starlette.concurrency import run_in_threadpool

router = APIRouter(prefix="/api/workflows", tags=["executions"])

T = TypeVar("T")
# The definition's size up to which an answer from an acknowledged trigger is built on the
# event loop (a pending step each: well under a millisecond); bigger ones in a worker thread.
_ON_LOOP_STEPS = 200

StatusFilter = Literal["pending", "running", "completed", "failed", "cancelled", "timeout", "unknown"]


def _load(
    app: Context, workspace_id: str, execution_id: str
) -> tuple[ExecutionRecords, list[DefinedStep] | None]:
    """The execution's records (404 if not in this workspace) and, when it helps, the
    catalog definition of its workflow."""
    found = app.barrier.acknowledged(workspace_id, execution_id) or app.store.executions.records(
        workspace_id, execution_id
    )
    found = or_404(found, "Execution", execution_id)
    definition: list[DefinedStep] | None = None
    if views.needs_definition(found):
        definition = catalog.defined_steps(app.store.catalog, workspace_id, found.row.workflow_id)
    return found, definition


def _triggered_by(app: Context, workspace_id: str, records: ExecutionRecords) -> TriggeredBy | None:
    """The caller span that started the execution, with the execution and step it is when
    this workspace has them (never another workspace's: only the ids the caller sent)."""
    caller = views.trigger(records)
    if caller is None:
        return None
    return views.triggered_by(caller, app.store.executions.link_target(workspace_id, *caller))


async def _answer(
    app: Context,
    workspace_id: str,
    execution_id: str,
    build: Callable[[ExecutionRecords, list[DefinedStep] | None, TriggeredBy | None], T],
) -> T:
    """`build`'s answer from the execution's records, its workflow's catalog steps and its caller.

    An execution whose trigger this node acknowledged and has not committed yet (a read right
    after its 202) is answered on the event loop, from what the trigger acknowledged: no query,
    so no hop to a worker thread and back (two hops were a third of such a read). Everything
    else, and a definition not cached or big, is read and built in a worker thread."""
    acknowledged = app.barrier.acknowledged(workspace_id, execution_id)
    if acknowledged is not None and views.trigger(acknowledged) is None:
        needed = views.needs_definition(acknowledged)
        workflow_id = acknowledged.row.workflow_id
        definition = catalog.cached_steps(app.store.catalog, workspace_id, workflow_id) if needed else None
        if (definition is not None or not needed) and len(definition or ()) <= _ON_LOOP_STEPS:
            return build(acknowledged, definition, None)

    def load_and_build() -> T:
        found, definition = _load(app, workspace_id, execution_id)
        return build(found, definition, _triggered_by(app, workspace_id, found))

    return await run_in_threadpool(load_and_build)


@router.get("/executions/{execution_id}", response_model=WorkflowExecutionDetails)
async def get_execution(
    execution_id: str, ctx: ExecutionViewerContext, app: Context
) -> WorkflowExecutionDetails:
    """Execution details: steps, inputs, results, error and status transitions; `triggered_by`:
    the caller span whose traceparent started it (another execution's step, a CI job)."""
    return await _answer(app, ctx.workspace_id, execution_id, views.details)


@router.get("/executions/{execution_id}/timeline", response_model=WorkflowExecutionTimeline)
async def get_timeline(
    execution_id: str, ctx: ExecutionViewerContext, app: Context
) -> WorkflowExecutionTimeline:
    """Per-step timeline in step order, including skipped, running and pending steps;
    `triggered_by` as in the details."""
    return await _answer(app, ctx.workspace_id, execution_id, views.timeline)


@router.get("/executions/{execution_id}/steps/{step_id}", response_model=StepExecutionDetails)
async def get_step(
    execution_id: str, step_id: str, ctx: ExecutionViewerContext, app: Context
) -> StepExecutionDetails:
    """One step (by step id, or by step execution id) with its complete input and output."""

    def step(
        found: ExecutionRecords, definition: list[DefinedStep] | None, _: TriggeredBy | None
    ) -> StepExecutionDetails:
        found_step = views.step_details(found, definition, step_id)
        return or_404(found_step, "Step", step_id, f"execution {execution_id!r}")

    return await _answer(app, ctx.workspace_id, execution_id, step)


@router.get("/executions/{execution_id}/logs", response_model=ExecutionLogPage)
def get_logs(
    execution_id: str,
    ctx: FreshViewerContext,
    app: Context,
    step_id: Annotated[str | None, Query(description="Only this step's records.")] = None,
    skip: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    limit: Annotated[int, Query(ge=0, le=1000)] = 100,
) -> ExecutionLogPage:
    """Log records of the execution (lifecycle records and whatever steps logged), oldest first."""
    found, _ = _load(app, ctx.workspace_id, execution_id)
    span_ids = views.step_span_ids(found, step_id) if step_id is not None else []
    page = app.store.executions.logs(
        ctx.workspace_id, execution_id, step_id=step_id, span_ids=span_ids, skip=skip, limit=limit
    )
    return views.log_page(page, skip, limit)


@router.post("/executions/{execution_id}/cancel", response_model=ExecutionCancel, status_code=202)
def cancel_execution(execution_id: str, ctx: FreshEditorContext, app: Context) -> ExecutionCancel:
    """Ask the engine to cancel a pending or running execution (409 once it has finished).
    On a lake, an execution another node's engine runs is cancelled by that node, which polls
    for requests (api/cluster.py); 409 when that node is dead."""
    row = or_404(app.store.executions.execution(ctx.workspace_id, execution_id), "Execution", execution_id)
    if row.terminal:
        raise HTTPException(409, f"Execution {execution_id!r} already finished ({row.status})")
    accepted = bool(app.engine is not None and app.engine.cancel(execution_id))
    if not accepted:
        why = (
            f"Execution {execution_id!r} is not running in this server's engine; it cannot be cancelled here"
            if app.cluster is None
            else app.cluster.request_cancel(ctx.workspace_id, execution_id, row.created_ns or 0)
        )
        if why is not None:
            raise HTTPException(409, why)
    return ExecutionCancel(id=execution_id, status=row.status, cancel_requested=True)  # type: ignore[arg-type]


@router.get("/{workflow_id}/executions", response_model=WorkflowExecutionPage)
def list_executions(
    workflow_id: str,
    ctx: FreshViewerContext,
    app: Context,
    skip: Annotated[
        int, Query(ge=0, le=1_000_000_000, description="Executions to skip (newest first).")
    ] = 0,
    limit: Annotated[int, Query(ge=0, le=100, description="Page size, at most 100.")] = 10,
    status: Annotated[StatusFilter | None, Query(description="Only executions with this status.")] = None,
) -> WorkflowExecutionPage:
    """A workflow's executions, newest first."""
    found = app.store.executions.page(ctx.workspace_id, workflow_id, status=status, skip=skip, limit=limit)
    page = views.execution_page(found, skip, limit)
    if page.total == 0 and not workflow_known(app, ctx.workspace_id, workflow_id):
        raise not_found("Workflow", workflow_id)
    return page


def workflow_known(app: Context, workspace_id: str, workflow_id: str) -> bool:
    """In the catalog, or seen in telemetry (foreign tracers' workflows are not in the catalog)."""
    in_catalog = app.store.catalog.get_workflow(workspace_id, workflow_id) is not None
    return in_catalog or app.store.executions.workflow_seen(workspace_id, workflow_id)

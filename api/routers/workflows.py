"""Workflows in the catalog (CRUD) and starting executions of them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from flowscope.api import runs
from flowscope.api.definitions import validate_or_422
from flowscope.api.deps import Context, EditorContext, FreshViewerContext
from flowscope.api.errors import or_404
from flowscope.api.schemas.workflows import (
    ExecuteRequest,
    ExecutionsStarted,
    ExecutionStarted,
    WorkflowCreate,
    WorkflowPage,
    WorkflowPublic,
    WorkflowUpdate,
)
from flowscope.api.timefmt import ns_to_dt
from flowscope.engine.telemetry import remote_parent
from flowscope.storage.catalog import Workflow

router = APIRouter(prefix="/api/workflows", tags=["workflows"])


def _public(wf: Workflow) -> WorkflowPublic:
    steps = wf.definition.get("steps")
    step_count = len(steps) if isinstance(steps, list) else 0
    return WorkflowPublic(
        id=wf.id, workspace_id=wf.workspace_id, project_id=wf.project_id, name=wf.name,
        description=wf.description, version=wf.version, step_count=step_count,
        execution_count=wf.next_execution_number - 1, definition=wf.definition,
        created_at=ns_to_dt(wf.created_ns), updated_at=ns_to_dt(wf.updated_ns),
    )  # fmt: skip


def _check_project(app: Context, workspace_id: str, project_id: str | None) -> None:
    if project_id is not None:
        or_404(app.store.catalog.get_project(workspace_id, project_id), "Project", project_id)


@router.post("", response_model=WorkflowPublic, status_code=201)
def create_workflow(body: WorkflowCreate, ctx: EditorContext, app: Context) -> WorkflowPublic:
    """Create a workflow from a definition; 422 lists every problem with its location."""
    validate_or_422(app, body.definition)
    _check_project(app, ctx.workspace_id, body.project_id)
    wf = app.store.catalog.create_workflow(
        ctx.workspace_id, project_id=body.project_id,
        name=body.name or str(body.definition["name"]),
        description=body.description if body.description is not None else body.definition.get("description"),
        definition=body.definition,
    )  # fmt: skip
    return _public(wf)


@router.get("", response_model=WorkflowPage)
def list_workflows(
    ctx: FreshViewerContext,  # execution counts
    app: Context,
    project_id: str | None = None,
    name: Annotated[str | None, Query(description="Only workflows with exactly this name.")] = None,
    skip: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    limit: Annotated[int, Query(ge=0, le=100)] = 50,
) -> WorkflowPage:
    """The workspace's workflows, newest first."""
    items, total = app.store.catalog.workflows(
        ctx.workspace_id, project_id=project_id, name=name, skip=skip, limit=limit
    )
    return WorkflowPage(items=[_public(w) for w in items], total=total, skip=skip, limit=limit)


@router.get("/{workflow_id}", response_model=WorkflowPublic)
def get_workflow(workflow_id: str, ctx: FreshViewerContext, app: Context) -> WorkflowPublic:
    wf = app.store.catalog.get_workflow(ctx.workspace_id, workflow_id)
    return _public(or_404(wf, "Workflow", workflow_id))


@router.put("/{workflow_id}", response_model=WorkflowPublic)
@router.patch("/{workflow_id}", response_model=WorkflowPublic, include_in_schema=False)
def update_workflow(
    workflow_id: str, body: WorkflowUpdate, ctx: EditorContext, app: Context
) -> WorkflowPublic:
    """Change fields; a new definition is validated and bumps `version`."""
    changes = body.model_dump(exclude_unset=True)
    if changes.get("definition") is not None:
        validate_or_422(app, changes["definition"])
    else:
        changes.pop("definition", None)
    if "project_id" in changes:
        _check_project(app, ctx.workspace_id, changes["project_id"])
    wf = app.store.catalog.update_workflow(ctx.workspace_id, workflow_id, changes)
    return _public(or_404(wf, "Workflow", workflow_id))


@router.delete("/{workflow_id}", status_code=204, response_class=Response)
def delete_workflow(workflow_id: str, ctx: EditorContext, app: Context) -> Response:
    """Remove the workflow from the catalog; its executions stay queryable."""
    if not app.store.catalog.delete_workflow(ctx.workspace_id, workflow_id):
        or_404(None, "Workflow", workflow_id)
    return Response(status_code=204)


@router.post(
    "/{workflow_id}/execute",
    response_model=ExecutionStarted | ExecutionsStarted,
    status_code=202,
    responses={
        202: {
            "description": "The execution (`ExecutionStarted`), or for `input_sets` the executions in "
            "order (`ExecutionsStarted`): pending, already readable through the execution endpoints."
        },
        422: {"description": "Invalid inputs (each invalid input set named by its index), or too many sets."},
        429: {
            "description": "The workspace has no room for the execution(s) (--max-running-per-workspace, "
            "--max-pending-per-workspace); none was started; retry after `Retry-After` seconds."
        },
    },
)
async def execute_workflow(
    workflow_id: str, request: Request, ctx: EditorContext, app: Context, body: ExecuteRequest | None = None
) -> ExecutionStarted | ExecutionsStarted:
    """Queue one execution (`{"input_variables": {...}}`) or several (`{"input_sets": [{...}, ...]}`,
    all or none) in this server's engine: 202 once they are recorded durably (journaled, not yet
    committed), and the execution endpoints (details, list, timeline, WebSocket `since` replay)
    find them at once: those reads wait for the commits of the triggers before them. Waiting executions
    start round-robin across workspaces.

    A W3C `traceparent` header (a CI job's span, another execution's `http` step) is the caller:
    each new execution is still a trace of its own, and its root span links to that span
    (`triggered_by` in details and timeline). An invalid one is ignored, as W3C Trace Context
    says a receiver does (it restarts the trace; the request does not fail)."""
    headers = request.headers
    parent = remote_parent(headers.getlist("traceparent"), headers.getlist("tracestate"))
    if body is not None and body.input_sets is not None:
        many = await runs.start_many(app, ctx.workspace_id, workflow_id, body.input_sets, triggered_by=parent)
        return ExecutionsStarted(workflow_id=workflow_id, executions=[_started(s) for s in many])
    inputs = body.input_variables if body is not None and body.input_variables is not None else {}
    return _started(await runs.start(app, ctx.workspace_id, workflow_id, inputs, triggered_by=parent))


def _started(started: runs.Started) -> ExecutionStarted:
    return ExecutionStarted(
        id=started.execution_id, workflow_id=started.workflow_id, execution_number=started.execution_number,
        status="pending", input_variables=started.inputs, created_at=started.created_at,
    )  # fmt: skip

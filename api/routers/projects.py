"""Projects of the request's workspace."""

from __future__ import annotations

from fastapi import APIRouter, Response
from flowscope.api.deps import Context, EditorContext, ViewerContext
from flowscope.api.errors import conflict_as_409, or_404
from flowscope.api.schemas.projects import ProjectCreate, ProjectPublic, ProjectUpdate
from flowscope.api.timefmt import ns_to_dt
from flowscope.storage.catalog import Project

router = APIRouter(prefix="/api/projects", tags=["projects"])


def _public(p: Project) -> ProjectPublic:
    return ProjectPublic(
        id=p.id, workspace_id=p.workspace_id, name=p.name, description=p.description,
        created_at=ns_to_dt(p.created_ns), updated_at=ns_to_dt(p.updated_ns),
    )  # fmt: skip


@router.post("", response_model=ProjectPublic, status_code=201)
def create_project(body: ProjectCreate, ctx: EditorContext, app: Context) -> ProjectPublic:
    return _public(app.store.catalog.create_project(ctx.workspace_id, body.name, body.description))


@router.get("", response_model=list[ProjectPublic])
def list_projects(ctx: ViewerContext, app: Context) -> list[ProjectPublic]:
    """The workspace's projects, oldest first."""
    return [_public(p) for p in app.store.catalog.projects(ctx.workspace_id)]


@router.get("/{project_id}", response_model=ProjectPublic)
def get_project(project_id: str, ctx: ViewerContext, app: Context) -> ProjectPublic:
    return _public(or_404(app.store.catalog.get_project(ctx.workspace_id, project_id), "Project", project_id))


@router.patch("/{project_id}", response_model=ProjectPublic)
def update_project(project_id: str, body: ProjectUpdate, ctx: EditorContext, app: Context) -> ProjectPublic:
    changes = body.model_dump(exclude_unset=True)
    updated = app.store.catalog.update_project(ctx.workspace_id, project_id, changes)
    return _public(or_404(updated, "Project", project_id))


@router.delete("/{project_id}", status_code=204, response_class=Response)
def delete_project(project_id: str, ctx: EditorContext, app: Context) -> Response:
    """Delete an empty project (409 while workflows belong to it)."""
    with conflict_as_409():
        deleted = app.store.catalog.delete_project(ctx.workspace_id, project_id)
    or_404(deleted or None, "Project", project_id)
    return Response(status_code=204)

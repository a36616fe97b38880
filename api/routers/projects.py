"""Projects of the request's workspace."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response
from flowscope.api.catalog import projects as catalog
from flowscope.api.deps import Context, EditorContext, ViewerContext
from flowscope.api.errors import or_404
from flowscope.api.schemas.projects import ProjectCreate, ProjectPublic, ProjectUpdate

router = APIRouter(prefix="/api/projects", tags=["projects"])


def _public(p: catalog.Project) -> ProjectPublic:
    return ProjectPublic(
        id=p.id, workspace_id=p.workspace_id, name=p.name, description=p.description,
        created_at=p.created_at, updated_at=p.updated_at,
    )  # fmt: skip


@router.post("", response_model=ProjectPublic, status_code=201)
def create_project(body: ProjectCreate, ctx: EditorContext, app: Context) -> ProjectPublic:
    return _public(catalog.create(app.store.cursor(), ctx.workspace_id, body.name, body.description))


@router.get("", response_model=list[ProjectPublic])
def list_projects(ctx: ViewerContext, app: Context) -> list[ProjectPublic]:
    """The workspace's projects, oldest first."""
    return [_public(p) for p in catalog.list_all(app.store.cursor(), ctx.workspace_id)]


@router.get("/{project_id}", response_model=ProjectPublic)
def get_project(project_id: str, ctx: ViewerContext, app: Context) -> ProjectPublic:
    return _public(
        or_404(catalog.get(app.store.cursor(), ctx.workspace_id, project_id), "Project", project_id)
    )


@router.patch("/{project_id}", response_model=ProjectPublic)
def update_project(project_id: str, body: ProjectUpdate, ctx: EditorContext, app: Context) -> ProjectPublic:
    changes = body.model_dump(exclude_unset=True)
    updated = catalog.update(app.store.cursor(), ctx.workspace_id, project_id, changes)
    return _public(or_404(updated, "Project", project_id))


@router.delete("/{project_id}", status_code=204, response_class=Response)
def delete_project(project_id: str, ctx: EditorContext, app: Context) -> Response:
    """Delete an empty project (409 while workflows belong to it)."""
    try:
        deleted = catalog.delete(app.store.cursor(), ctx.workspace_id, project_id)
    except catalog.ProjectInUse as exc:
        raise HTTPException(409, str(exc)) from None
    or_404(deleted, "Project", project_id)
    return Response(status_code=204)

"""Workspaces: create (unique slugs) and list the ones the caller can see."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from flowscope.api.auth import create_token
from flowscope.api.deps import AdminContext, Context, ViewerContext
from flowscope.api.errors import conflict_as_409, or_404
from flowscope.api.schemas.workspaces import WorkspaceCreate, WorkspaceCreated, WorkspacePublic
from flowscope.api.timefmt import ns_to_dt
from flowscope.storage.catalog import Workspace

router = APIRouter(prefix="/api/workspaces", tags=["workspaces"])


def _public(ws: Workspace) -> WorkspacePublic:
    return WorkspacePublic(id=ws.id, slug=ws.slug, name=ws.name, created_at=ns_to_dt(ws.created_ns))


@router.post("", response_model=WorkspaceCreated, status_code=201)
def create_workspace(body: WorkspaceCreate, ctx: AdminContext, app: Context) -> WorkspaceCreated:
    """Create a workspace (409 if the slug is taken). With auth on, only a server-admin
    token may (made with `flowscope token create --server-admin` on the database file; a
    workspace admin gets 403); the answer carries an admin token for the new workspace,
    shown once."""
    if app.settings.auth_required and not ctx.server_admin:
        raise HTTPException(
            403, "creating workspaces needs a server-admin token (flowscope token create --server-admin)"
        )
    with conflict_as_409():
        ws = app.store.catalog.create_workspace(body.slug, body.name or body.slug)
    secret = None
    if app.settings.auth_required:
        secret, _ = create_token(app.store.catalog, ws.id, "admin", f"created by {ctx.token_id}")
    return WorkspaceCreated(**_public(ws).model_dump(), admin_token=secret)


@router.get("", response_model=list[WorkspacePublic])
def list_workspaces(ctx: ViewerContext, app: Context) -> list[WorkspacePublic]:
    """All workspaces; with auth on, the token's own workspace only."""
    if not app.settings.auth_required:
        return [_public(ws) for ws in app.store.catalog.workspaces()]
    own = app.store.catalog.get_workspace(ctx.workspace_id)
    return [_public(own)] if own else []


@router.get("/{workspace_id}", response_model=WorkspacePublic)
def get_workspace(workspace_id: str, ctx: ViewerContext, app: Context) -> WorkspacePublic:
    visible = not app.settings.auth_required or workspace_id == ctx.workspace_id
    ws = app.store.catalog.get_workspace(workspace_id) if visible else None
    return _public(or_404(ws, "Workspace", workspace_id))

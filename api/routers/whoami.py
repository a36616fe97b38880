"""Who the caller is: the workspace a request acts in and the role it has there (a UI
shows or hides write controls by it)."""

from __future__ import annotations

from fastapi import APIRouter
from flowscope.api.deps import Context, ViewerContext
from flowscope.api.schemas.overview import Caller

router = APIRouter(tags=["session"])


@router.get("/api/whoami", response_model=Caller)
def whoami(ctx: ViewerContext, app: Context) -> Caller:
    """The request's workspace (header, query parameter, else the token's, else `default`)
    and role (`admin` when auth is off)."""
    ws = app.store.catalog.get_workspace(ctx.workspace_id)
    return Caller(
        workspace_id=ctx.workspace_id,
        workspace_slug=ws.slug if ws else None,
        workspace_name=ws.name if ws else None,
        role=ctx.role,  # type: ignore[arg-type]
        auth_required=app.settings.auth_required,
    )

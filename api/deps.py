"""Request context: which workspace a request acts in, and with which role.

Used by every router (HTTP and WebSocket) as `Annotated` dependencies, so handlers
read like plain functions: `def get(ctx: ViewerContext, ...)`.

Workspace: `X-Workspace-Id` / `X-Workspace-Slug` header, else `workspace_id` /
`workspace_slug` query parameter (browsers cannot set WebSocket headers), else the
token's workspace, else `default`. With auth on, a valid bearer token (header or
`?token=`) is required (401), and it must belong to that workspace with a role high
enough (403). Resources of other workspaces are simply not found (404).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException
from starlette.requests import HTTPConnection

from api.auth import bearer, role_allows, verify_token
from api.context import AppContext
from collector.store import DEFAULT_WORKSPACE_ID, Store


@dataclass(frozen=True)
class RequestContext:
    workspace_id: str
    role: str
    token_id: str | None = None


class AccessDenied(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def resolve_access(
    store: Store,
    auth_required: bool,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    required_role: str,
) -> RequestContext:
    """The workspace and role of a request, or AccessDenied(401/403/404)."""
    ws_id = headers.get("x-workspace-id") or query.get("workspace_id")
    ws_slug = headers.get("x-workspace-slug") or query.get("workspace_slug")
    token = None
    if auth_required:
        secret = bearer(headers.get("authorization")) or query.get("token")
        if not secret:
            raise AccessDenied(401, "authentication required: send 'Authorization: Bearer <token>'")
        token = verify_token(store, secret)
        if token is None:
            raise AccessDenied(401, "invalid or revoked token")
    if ws_id is not None:
        workspace_id = store.find_workspace(workspace_id=ws_id)
        if workspace_id is None:
            raise AccessDenied(404, f"workspace {ws_id!r} not found")
    elif ws_slug is not None:
        workspace_id = store.find_workspace(slug=ws_slug)
        if workspace_id is None:
            raise AccessDenied(404, f"workspace with slug {ws_slug!r} not found")
    else:
        workspace_id = token.workspace_id if token else DEFAULT_WORKSPACE_ID
    if token is None:
        return RequestContext(workspace_id, "admin")
    if token.workspace_id != workspace_id:
        raise AccessDenied(403, f"token does not grant access to workspace {workspace_id!r}")
    if not role_allows(token.role, required_role):
        raise AccessDenied(403, f"role {token.role!r} cannot do this: {required_role!r} or higher required")
    return RequestContext(workspace_id, token.role, token.id)


def app_context(conn: HTTPConnection) -> AppContext:
    return conn.app.state.context  # type: ignore[no-any-return]


def _require(role: str):  # type: ignore[no-untyped-def]
    def dependency(conn: HTTPConnection) -> RequestContext:
        ctx = app_context(conn)
        try:
            return resolve_access(
                ctx.store,
                ctx.settings.auth_required,
                {k.lower(): v for k, v in conn.headers.items()},
                conn.query_params,
                role,
            )
        except AccessDenied as exc:
            raise HTTPException(exc.status, exc.detail) from None

    return dependency


ViewerContext = Annotated[RequestContext, Depends(_require("viewer"))]
EditorContext = Annotated[RequestContext, Depends(_require("editor"))]
AdminContext = Annotated[RequestContext, Depends(_require("admin"))]
Context = Annotated[AppContext, Depends(app_context)]

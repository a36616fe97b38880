"""Request context: which workspace a request acts in, and with which role.

Used by every router (HTTP and WebSocket) as `Annotated` dependencies, so handlers
read like plain functions: `def get(ctx: ViewerContext, ...)`.

Workspace: `X-Workspace-Id` / `X-Workspace-Slug` header, else `workspace_id` /
`workspace_slug` query parameter (browsers cannot set WebSocket headers), else the
token's workspace, else `default`. With auth on, a valid bearer token (header, or
`?token=` on WebSockets only: REST answers it 401) is required (401), and it must
belong to that workspace with a role high enough (403; naming a workspace that does not
exist gets the same 403 as naming another one). Resources of other workspaces are simply
not found (404). A client address that presented too many invalid tokens is refused with
429 for a while (api/throttle.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Annotated

from fastapi import Depends, HTTPException
from flowscope.api.auth import bearer, role_allows, verify_token
from flowscope.api.context import AppContext
from flowscope.api.throttle import AuthThrottle, Throttled, retry_after_header
from flowscope.storage.catalog import DEFAULT_WORKSPACE_ID, Token
from flowscope.storage.interfaces import Store
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection


@dataclass(frozen=True)
class RequestContext:
    workspace_id: str
    role: str
    token_id: str | None = None
    server_admin: bool = False  # the token may create workspaces (DESIGN "Identity and tenancy")


class AccessDenied(Exception):
    def __init__(self, status: int, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.retry_after = retry_after  # seconds, with 429

    def headers(self) -> dict[str, str] | None:
        return None if self.retry_after is None else {"Retry-After": retry_after_header(self.retry_after)}


def authenticate(store: Store, secret: str, peer: str | None, throttle: AuthThrottle | None) -> Token:
    """The token of `secret`; AccessDenied 401 when it does not verify (a failure of `peer`),
    429 when `peer` failed too often lately (checked first: a throttled client's guesses are
    not even looked at)."""
    refuse_throttled(throttle, peer)
    token = verify_token(store.catalog, secret)
    if token is None:
        if throttle is not None:
            throttle.failed(peer)
        raise AccessDenied(401, "invalid or revoked token")
    return token


def refuse_throttled(throttle: AuthThrottle | None, peer: str | None) -> None:
    """AccessDenied 429 when `peer` failed to authenticate too often lately."""
    if throttle is not None:
        try:
            throttle.check(peer)
        except Throttled as exc:
            raise AccessDenied(429, str(exc), exc.retry_after) from None


def _named(ws_id: str | None, ws_slug: str | None) -> str:
    return f"workspace {ws_id!r}" if ws_id is not None else f"workspace with slug {ws_slug!r}"


def resolve_access(
    store: Store,
    auth_required: bool,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    required_role: str,
    *,
    peer: str | None = None,
    throttle: AuthThrottle | None = None,
) -> RequestContext:
    """The workspace and role of a request, or AccessDenied(401/403/404/429)."""
    ws_id, ws_slug = named_workspace(headers, query)
    token = None
    if auth_required:
        secret = bearer(headers.get("authorization")) or query.get("token")
        if not secret:
            raise AccessDenied(401, "authentication required: send 'Authorization: Bearer <token>'")
        token = authenticate(store, secret, peer, throttle)
    named = ws_id is not None or ws_slug is not None
    found = store.catalog.find_workspace(workspace_id=ws_id, slug=ws_slug) if named else None
    if token is None:  # auth off: every workspace is open, so whether one exists is no secret
        if named and found is None:
            raise AccessDenied(404, f"{_named(ws_id, ws_slug)} not found")
        return RequestContext(found or DEFAULT_WORKSPACE_ID, "admin")
    # One answer whether the named workspace is another one or none at all: a token learns
    # nothing about workspaces outside its own (their ids, slugs, or existence).
    if named and found != token.workspace_id:
        raise AccessDenied(403, f"token does not grant access to {_named(ws_id, ws_slug)}")
    if not role_allows(token.role, required_role):
        raise AccessDenied(403, f"role {token.role!r} cannot do this: {required_role!r} or higher required")
    return RequestContext(token.workspace_id, token.role, token.id, token.server_admin)


def named_workspace(headers: Mapping[str, str], query: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The workspace id and slug a request names (header, else query parameter), if any."""
    ws_id = headers.get("x-workspace-id") or query.get("workspace_id")
    ws_slug = headers.get("x-workspace-slug") or query.get("workspace_slug")
    return ws_id, ws_slug


def client_address(conn: HTTPConnection) -> str | None:
    """The TCP peer's address (the key of failed-authentication throttling)."""
    return conn.client.host if conn.client else None


def _app_context(conn: HTTPConnection) -> AppContext:
    return conn.app.state.context  # type: ignore[no-any-return]


async def app_context(conn: HTTPConnection) -> AppContext:
    # async: FastAPI runs a plain-function dependency in a worker thread, a hop per request.
    return _app_context(conn)


QUERY_TOKEN_REFUSED = (
    "the 'token' query parameter is accepted on WebSocket endpoints only: "
    "send 'Authorization: Bearer <token>'"
)


def _require(role: str, *, fresh: bool = False, one_execution: bool = False):  # type: ignore[no-untyped-def]
    async def dependency(conn: HTTPConnection) -> RequestContext:
        request = await _resolve(conn, role)
        if fresh:
            execution_id = conn.path_params.get("execution_id") if one_execution else None
            await _app_context(conn).barrier.wait(request.workspace_id, execution_id)
        return request

    return dependency


async def _resolve(conn: HTTPConnection, role: str) -> RequestContext:
    """The request's workspace and role (HTTPException 401/403/404/429)."""
    ctx = _app_context(conn)
    auth = ctx.settings.auth_required
    if auth and "token" in conn.query_params:
        # REST URLs end up in logs, proxies and browser history; only WebSockets take the
        # token in the URL (api/ws/access.py), because browsers cannot set their headers.
        raise HTTPException(401, QUERY_TOKEN_REFUSED)
    headers = {k.lower(): v for k, v in conn.headers.items()}
    query = conn.query_params
    peer = client_address(conn)
    resolve = partial(
        resolve_access, ctx.store, auth, headers, query, role, peer=peer, throttle=ctx.throttle
    )  # fmt: skip
    try:
        named = named_workspace(headers, query)
        if not (auth or any(named)):  # auth off, default workspace: nothing to look up
            return resolve()
        # Tokens and named workspaces are looked up in the database, in a worker thread,
        # unless a recent lookup decided the same (api/access_cache.py).
        refuse_throttled(ctx.throttle, peer)
        key = ("api", role, headers.get("authorization"), *named)
        if (hit := ctx.access.get(key)) is not None:
            return hit
        generation = ctx.access.generation()
        found = await run_in_threadpool(resolve)
        ctx.access.put(key, found, generation)
        return found
    except AccessDenied as exc:
        raise HTTPException(exc.status, exc.detail, exc.headers()) from None


# The dependencies of the contexts below, by name for api/shortcuts.py, which calls them as
# FastAPI would.
editor_context = _require("editor")
execution_viewer_context = _require("viewer", fresh=True, one_execution=True)

ViewerContext = Annotated[RequestContext, Depends(_require("viewer"))]
EditorContext = Annotated[RequestContext, Depends(editor_context)]
AdminContext = Annotated[RequestContext, Depends(_require("admin"))]
# For reads that can show executions: they first wait for the commits of the triggers their
# workspace acknowledged before them (api/visibility.py `VisibilityBarrier`), so an execution
# is readable right after its 202; with none in flight that costs a dict lookup.
FreshViewerContext = Annotated[RequestContext, Depends(_require("viewer", fresh=True))]
FreshEditorContext = Annotated[RequestContext, Depends(_require("editor", fresh=True))]
# For reads answered whole from one execution's records (details, timeline, a step): as
# FreshViewerContext, but an execution whose trigger is not committed yet does not wait; it
# is answered from what the store will read of it (`VisibilityBarrier.acknowledged`).
ExecutionViewerContext = Annotated[RequestContext, Depends(execution_viewer_context)]
Context = Annotated[AppContext, Depends(app_context)]

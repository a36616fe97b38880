"""Access tokens of the request's workspace (admin role)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from flowscope.api.auth import create_token
from flowscope.api.deps import AdminContext, Context
from flowscope.api.errors import or_404
from flowscope.api.schemas.tokens import TokenCreate, TokenCreated, TokenPublic
from flowscope.api.timefmt import ns_to_dt
from flowscope.storage.catalog import Token

router = APIRouter(prefix="/api/tokens", tags=["tokens"])


def _public(t: Token) -> TokenPublic:
    return TokenPublic(
        id=t.id, workspace_id=t.workspace_id, role=t.role, name=t.name,  # type: ignore[arg-type]
        created_at=ns_to_dt(t.created_ns), revoked_at=ns_to_dt(t.revoked_ns),
    )  # fmt: skip


@router.post("", response_model=TokenCreated, status_code=201)
def create(body: TokenCreate, ctx: AdminContext, app: Context) -> TokenCreated:
    """A new token for this workspace; the secret is in the response only."""
    secret, token = create_token(app.store.catalog, ctx.workspace_id, body.role, body.name)
    return TokenCreated(**_public(token).model_dump(), token=secret)


@router.get("", response_model=list[TokenPublic])
def list_all(ctx: AdminContext, app: Context) -> list[TokenPublic]:
    return [_public(t) for t in app.store.catalog.tokens(ctx.workspace_id)]


@router.delete("/{token_id}", status_code=204, response_class=Response)
def revoke(token_id: str, ctx: AdminContext, app: Context) -> Response:
    """Revoke a token: it stops working at once, for ingest too (its lookup cache is emptied)."""
    if not app.store.catalog.revoke_token(ctx.workspace_id, token_id):
        or_404(None, "Token", token_id)
    return Response(status_code=204)

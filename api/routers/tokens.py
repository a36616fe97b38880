"""Access tokens of the request's workspace (admin role)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response
from flowscope.api.auth import create_token, list_tokens, revoke_token
from flowscope.api.deps import AdminContext, Context
from flowscope.api.errors import or_404
from flowscope.api.schemas.tokens import TokenCreate, TokenCreated, TokenPublic
from flowscope.api.timefmt import ns_to_dt

router = APIRouter(prefix="/api/tokens", tags=["tokens"])


@router.post("", response_model=TokenCreated, status_code=201)
def create(body: TokenCreate, ctx: AdminContext, app: Context) -> TokenCreated:
    """A new token for this workspace; the secret is in the response only."""
    secret, info = create_token(app.store, ctx.workspace_id, body.role, body.name)
    return TokenCreated(
        id=info.id, workspace_id=info.workspace_id, role=body.role, name=body.name,
        created_at=datetime.now(UTC), token=secret,
    )  # fmt: skip


@router.get("", response_model=list[TokenPublic])
def list_all(ctx: AdminContext, app: Context) -> list[TokenPublic]:
    return [
        TokenPublic(
            id=t[0],
            workspace_id=t[1],
            role=t[2],
            name=t[3],  # type: ignore[arg-type]
            created_at=ns_to_dt(t[4]),
            revoked_at=ns_to_dt(t[5]),
        )
        for t in list_tokens(app.store, ctx.workspace_id)
    ]


@router.delete("/{token_id}", status_code=204, response_class=Response)
def revoke(token_id: str, ctx: AdminContext, app: Context) -> Response:
    """Revoke a token: it stops working at once, for ingest too (its lookup cache is emptied)."""
    if not revoke_token(app.store, ctx.workspace_id, token_id):
        or_404(None, "Token", token_id)
    return Response(status_code=204)

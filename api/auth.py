"""Tokens and roles (DESIGN.md "Identity and tenancy").

A token belongs to one workspace and has one role: viewer (read), editor (+ write,
execute, ingest), admin (+ tokens). Only a hash of the secret is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from flowscope.storage.duckdb.store import Store

ROLES = ("viewer", "editor", "admin")
_RANK = {role: i for i, role in enumerate(ROLES)}
TOKEN_PREFIX = "fst_"


def role_allows(role: str, required: str) -> bool:
    return _RANK.get(role, -1) >= _RANK[required]


@dataclass(frozen=True)
class TokenInfo:
    id: str
    workspace_id: str
    role: str
    server_admin: bool = False  # may create workspaces; only `flowscope token create --server-admin` sets it


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    store: Store, workspace_id: str, role: str, name: str | None = None, *, server_admin: bool = False
) -> tuple[str, TokenInfo]:
    """Create a token; returns (secret, info). The secret is not stored and cannot be shown again."""
    if server_admin and role != "admin":
        raise ValueError("a server-admin token must have the admin role")
    if role not in _RANK:
        raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = "tok_" + secrets.token_hex(8)
    store.cursor().execute(
        "INSERT INTO tokens (id, token_hash, workspace_id, role, name, server_admin) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [token_id, _hash(secret), workspace_id, role, name, server_admin],
    )
    return secret, TokenInfo(token_id, workspace_id, role, server_admin)


def verify_token(store: Store, secret: str) -> TokenInfo | None:
    row = (
        store.cursor()
        .execute(
            "SELECT id, workspace_id, role, server_admin FROM tokens "
            "WHERE token_hash = ? AND revoked_at IS NULL",
            [_hash(secret)],
        )
        .fetchone()
    )
    return TokenInfo(*row) if row else None


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def list_tokens(store: Store, workspace_id: str) -> list[tuple[str, str, str, str | None, int, int | None]]:
    """(id, workspace_id, role, name, created_ns, revoked_ns) of the workspace's tokens, oldest first."""
    return (
        store.cursor()
        .execute(  # type: ignore[return-value]
            "SELECT id, workspace_id, role, name, epoch_ns(created_at), epoch_ns(revoked_at) FROM tokens "
            "WHERE workspace_id = ? ORDER BY created_at, id",
            [workspace_id],
        )
        .fetchall()
    )


def revoke_token(store: Store, workspace_id: str, token_id: str) -> bool:
    """Revoke a token of this workspace; False when there is no such (unrevoked) token."""
    rows = (
        store.cursor()
        .execute(
            "UPDATE tokens SET revoked_at = now() WHERE workspace_id = ? AND id = ? AND revoked_at IS NULL "
            "RETURNING id",
            [workspace_id, token_id],
        )
        .fetchall()
    )
    if rows:
        _revoked()
    return bool(rows)


# Bumped by every revocation in this process: caches of verified tokens (ingest's) drop
# everything they hold when it changes, so a revoked token stops working at once.
_revocations = 0


def _revoked() -> None:
    global _revocations
    _revocations += 1


def revocations() -> int:
    return _revocations

"""Tokens and roles (DESIGN.md "Identity and tenancy").

A token belongs to one workspace and has one role: viewer (read), editor (+ write,
execute, ingest), admin (+ tokens). Secrets are made and hashed here; the catalog keeps
only the hash (`flowscope.storage.catalog`).
"""

from __future__ import annotations

import hashlib
import secrets

from flowscope.storage.catalog import Catalog, Token

ROLES = ("viewer", "editor", "admin")
_RANK = {role: i for i, role in enumerate(ROLES)}
TOKEN_PREFIX = "fst_"


def role_allows(role: str, required: str) -> bool:
    return _RANK.get(role, -1) >= _RANK[required]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    catalog: Catalog, workspace_id: str, role: str, name: str | None = None, *, server_admin: bool = False
) -> tuple[str, Token]:
    """Create a token (only `flowscope token create --server-admin` makes server-admin ones,
    which may create workspaces); returns (secret, token). The secret is not stored and cannot
    be shown again."""
    if server_admin and role != "admin":
        raise ValueError("a server-admin token must have the admin role")
    if role not in _RANK:
        raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return secret, catalog.add_token(workspace_id, _hash(secret), role, name, server_admin=server_admin)


def verify_token(catalog: Catalog, secret: str) -> Token | None:
    """The active token whose secret this is, or None."""
    return catalog.token_by_hash(_hash(secret))


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None

"""The collector's `Authorizer` when tokens are on: ingest needs an editor token.

Lookups are cached for a few seconds so ingest does not query the catalog per request.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping

from api.deps import AccessDenied, resolve_access
from collector.store import Store
from collector.tenancy import Authorizer, IngestDenied, WorkspaceResolver

_TTL_SECONDS = 5.0


def ingest_authorizer(store: Store, auth_required: bool) -> Authorizer:
    if not auth_required:
        return WorkspaceResolver(store).resolve
    cache: dict[tuple[str | None, ...], tuple[str, float]] = {}

    def authorize(headers: Mapping[str, str]) -> str:
        key = (headers.get("authorization"), headers.get("x-workspace-id"), headers.get("x-workspace-slug"))
        hit = cache.get(key)
        now = time.monotonic()
        if hit and hit[1] > now:
            return hit[0]
        try:
            ctx = resolve_access(store, True, headers, {}, "editor")
        except AccessDenied as exc:
            raise IngestDenied(400 if exc.status == 404 else exc.status, exc.detail) from None
        if len(cache) > 10_000:
            cache.clear()
        cache[key] = (ctx.workspace_id, now + _TTL_SECONDS)
        return ctx.workspace_id

    return authorize


def with_internal_token(authorize: Authorizer, store: Store, secret: str) -> Authorizer:
    """`authorize`, plus one process-local credential accepted for any existing workspace
    (chosen by header): the in-process engine's, which exports into every workspace it
    runs workflows of while user tokens are scoped to one."""
    expected = f"Bearer {secret}".encode()
    resolve = WorkspaceResolver(store).resolve

    def authorize_with_internal(headers: Mapping[str, str]) -> str:
        if hmac.compare_digest((headers.get("authorization") or "").encode(), expected):
            return resolve(headers)
        return authorize(headers)

    return authorize_with_internal

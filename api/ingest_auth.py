"""The collector's `Authorizer` when tokens are on: ingest needs an editor token.

Successful lookups are kept a few seconds (api/access_cache.py), so ingest does not query the
catalog per request; revocation through this store is immediate, failures are never kept, and
the failed-authentication throttle (api/throttle.py) is consulted first.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from flowscope.api.access_cache import AccessCache
from flowscope.api.deps import AccessDenied, refuse_throttled, resolve_access
from flowscope.api.throttle import AuthThrottle
from flowscope.collector.tenancy import PEER_KEY, Authorizer, IngestDenied, WorkspaceResolver
from flowscope.storage.interfaces import Store


def ingest_authorizer(store: Store, auth_required: bool, throttle: AuthThrottle | None = None) -> Authorizer:
    if not auth_required:
        return WorkspaceResolver(store.catalog).resolve
    access = AccessCache(store.catalog)

    def authorize(headers: Mapping[str, str]) -> str:
        peer = headers.get(PEER_KEY)
        try:
            refuse_throttled(throttle, peer)
        except AccessDenied as exc:
            raise IngestDenied(exc.status, exc.detail, exc.retry_after) from None
        key = (
            "ingest",
            headers.get("authorization"),
            headers.get("x-workspace-id"),
            headers.get("x-workspace-slug"),
        )
        hit = access.get(key)
        if hit is not None:
            return hit.workspace_id
        generation = access.generation()
        try:
            ctx = resolve_access(store, True, headers, {}, "editor", peer=peer, throttle=throttle)
        except AccessDenied as exc:
            raise IngestDenied(exc.status, exc.detail, exc.retry_after) from None
        access.put(key, ctx, generation)
        return ctx.workspace_id

    return authorize


def with_internal_token(authorize: Authorizer, store: Store, secret: str) -> Authorizer:
    """`authorize`, plus one process-local credential accepted for any existing workspace
    (chosen by header): the in-process engine's, which exports into every workspace it
    runs workflows of while user tokens are scoped to one."""
    expected = f"Bearer {secret}".encode()
    resolve = WorkspaceResolver(store.catalog).resolve

    def authorize_with_internal(headers: Mapping[str, str]) -> str:
        if hmac.compare_digest((headers.get("authorization") or "").encode(), expected):
            return resolve(headers)
        return authorize(headers)

    return authorize_with_internal

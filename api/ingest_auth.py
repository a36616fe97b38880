"""The collector's `Authorizer` when tokens are on: ingest needs an editor token.

Successful lookups are cached for a few seconds so ingest does not query the catalog per
request. Revocation is immediate all the same: every revocation through this store (the
API's DELETE /api/tokens/{id}) changes the catalog's `generation()`, which empties the cache.
Another process cannot change tokens while the server runs (DuckDB lets one process open the
file), and _TTL_SECONDS bounds how long a cached answer could outlive any change made elsewhere.
Failures are never cached: each one counts for the client's failed-authentication
throttle (api/throttle.py), which is also consulted before the cache, so a throttled
client is refused whatever it sends.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping

from flowscope.api.deps import AccessDenied, resolve_access
from flowscope.api.throttle import AuthThrottle, Throttled
from flowscope.collector.tenancy import PEER_KEY, Authorizer, IngestDenied, WorkspaceResolver
from flowscope.storage.interfaces import Store

_TTL_SECONDS = 5.0
_MAX_ENTRIES = 10_000


def ingest_authorizer(store: Store, auth_required: bool, throttle: AuthThrottle | None = None) -> Authorizer:
    if not auth_required:
        return WorkspaceResolver(store.catalog).resolve
    cache: dict[tuple[str | None, ...], tuple[str, float]] = {}
    revocations = store.catalog.generation  # changes with every revocation (and workflow change)
    seen_revocations = revocations()

    def authorize(headers: Mapping[str, str]) -> str:
        nonlocal seen_revocations
        peer = headers.get(PEER_KEY)
        if throttle is not None:
            try:
                throttle.check(peer)
            except Throttled as exc:
                raise IngestDenied(429, str(exc), exc.retry_after) from None
        if (before := revocations()) != seen_revocations:
            cache.clear()
            seen_revocations = before
        key = (headers.get("authorization"), headers.get("x-workspace-id"), headers.get("x-workspace-slug"))
        hit = cache.get(key)
        now = time.monotonic()
        if hit and hit[1] > now:
            return hit[0]
        try:
            ctx = resolve_access(store, True, headers, {}, "editor", peer=peer, throttle=throttle)
        except AccessDenied as exc:
            raise IngestDenied(exc.status, exc.detail, exc.retry_after) from None
        if len(cache) > _MAX_ENTRIES:
            cache.clear()
        if revocations() == before:  # a revocation during the lookup may concern this token
            cache[key] = (ctx.workspace_id, now + _TTL_SECONDS)
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

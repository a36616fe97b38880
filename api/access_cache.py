"""Successful access decisions, kept a few seconds.

With tokens on, every REST request and OTLP export would otherwise look its token (and any
workspace it names) up in the catalog: a DuckDB query of ~0.5-1.5 ms of CPU each, and for
the API a hop to a worker thread and back.

Revocation is immediate all the same: every change to tokens or workspaces through this store
(DELETE /api/tokens/{id}, say) changes the catalog's `generation()`, which empties the cache,
and an answer looked up while the generation changed is not kept. Another process cannot
change the file's tokens while the server runs; on a lake, another node's revocation reaches
this one within TTL_SECONDS. Failures are never cached: each one counts for the client's
failed-authentication throttle (api/throttle.py), which callers consult before the cache, so a
throttled client is refused whatever it sends.
"""

from __future__ import annotations

import time
from collections.abc import Hashable

from flowscope.api.deps import RequestContext
from flowscope.storage.catalog import Catalog

TTL_SECONDS = 5.0
MAX_ENTRIES = 10_000


class AccessCache:
    """RequestContexts by what decided them (credential, named workspace, role); any thread."""

    def __init__(
        self, catalog: Catalog, ttl_seconds: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES
    ) -> None:
        self._generation = catalog.generation
        self._seen = catalog.generation()
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._entries: dict[Hashable, tuple[RequestContext, float]] = {}

    def generation(self) -> int:
        """Read before a lookup whose answer is then `put`."""
        return self._generation()

    def get(self, key: Hashable) -> RequestContext | None:
        if (generation := self._generation()) != self._seen:
            self._entries.clear()
            self._seen = generation
        hit = self._entries.get(key)
        if hit is None or hit[1] <= time.monotonic():
            return None
        return hit[0]

    def put(self, key: Hashable, context: RequestContext, generation: int) -> None:
        """`context`, looked up for `key` from catalog `generation` on: kept unless the catalog
        changed since (a revocation during the lookup may concern it)."""
        if self._generation() != generation:
            return
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[key] = (context, time.monotonic() + self._ttl)

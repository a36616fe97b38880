"""Which workspace an ingest request writes to (DESIGN.md "Identity and tenancy").

The collector does not know about tokens; the server composes an `Authorizer` that
does (the api's auth), or uses a `WorkspaceResolver` when auth is off. Span
attributes never choose the workspace.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flowscope.storage.catalog import DEFAULT_WORKSPACE_ID, Catalog


@dataclass
class IngestDenied(Exception):
    http_status: int  # 400 unknown workspace, 401 no/bad token, 403 token lacks rights, 429 throttled
    message: str
    retry_after: float | None = None  # seconds, with 429

    def __str__(self) -> str:
        return self.message


# Lower-cased request headers (HTTP) or gRPC metadata -> workspace id, or IngestDenied.
# The receivers add the client's address under PEER_KEY, overwriting anything sent under
# that name (no HTTP field name or gRPC metadata key can contain ':' anyway).
Authorizer = Callable[[Mapping[str, str]], str]
PEER_KEY = ":peer"


def grpc_peer_host(peer: str | None) -> str | None:
    """The address in a gRPC peer string: 'ipv4:10.0.0.1:5000' -> '10.0.0.1',
    'ipv6:[::1]:5000' -> '::1', 'unix:/path' -> 'unix:/path'."""
    if not peer:
        return None
    kind, _, rest = peer.partition(":")
    if kind == "ipv6" and rest.startswith("["):
        return rest[1:].split("]", 1)[0]
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    return peer


class WorkspaceResolver:
    """Resolves `x-workspace-id` / `x-workspace-slug`, caching hits for a few seconds."""

    def __init__(self, catalog: Catalog, ttl_seconds: float = 5.0) -> None:
        self._catalog = catalog
        self._ttl = ttl_seconds
        self._cache: dict[tuple[str, str], tuple[str, float]] = {}

    def resolve(self, headers: Mapping[str, str]) -> str:
        if (ws := headers.get("x-workspace-id")) is not None:
            key = ("id", ws)
        elif (slug := headers.get("x-workspace-slug")) is not None:
            key = ("slug", slug)
        else:
            return DEFAULT_WORKSPACE_ID
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit and hit[1] > now:
            return hit[0]
        found = (
            self._catalog.find_workspace(workspace_id=key[1])
            if key[0] == "id"
            else self._catalog.find_workspace(slug=key[1])
        )
        if found is None:
            raise IngestDenied(400, f"unknown workspace {key[0]} {key[1]!r}")
        self._cache[key] = (found, now + self._ttl)
        return found

"""Who may open a feed: the workspace rules of every API request, nothing more.

Workflow ids are namespaced by workspace: a feed is the pair (workspace, workflow id),
and events are routed, and replays read, by the workspace the data was ingested into.
So any workflow id may be subscribed to, known or not (it may be created, or a foreign
tracer may start sending executions under it, after the client subscribed), and an id
that exists only in another workspace is answered exactly like an unknown one: the feed
opens and carries this workspace's events under that id, never the other's. Refusing
such ids would tell a client which ids other workspaces use, and let one workspace keep
another from subscribing to an id by ingesting under it first.
"""

from __future__ import annotations

from collections.abc import Mapping

from flowscope.api.deps import AccessDenied, resolve_access
from flowscope.api.throttle import AuthThrottle
from flowscope.storage.interfaces import Store


class FeedDenied(Exception):
    """The connection is closed with 1008 and this message as the reason (or, with
    `retry_after`, refused at the handshake with HTTP 429)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def authorize_feed(
    store: Store,
    auth_required: bool,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    *,
    peer: str | None = None,
    throttle: AuthThrottle | None = None,
) -> str:
    """The workspace id the feed reads from, or FeedDenied (reads the store: call off-loop)."""
    try:
        ctx = resolve_access(store, auth_required, headers, query, "viewer", peer=peer, throttle=throttle)
    except AccessDenied as exc:
        raise FeedDenied(f"{exc.status}: {exc.detail}", exc.retry_after) from None
    return ctx.workspace_id

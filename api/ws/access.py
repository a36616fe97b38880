"""Who may open a feed: the workspace rules of every API request, plus workflow visibility.

A workflow id known only in other workspaces (catalog `workflows` or telemetry
`executions`) is refused like a REST 404. An id known nowhere is accepted: the
workflow may be created, or a foreign tracer may start sending executions under that
id, after the client subscribed; events are routed by the workspace the data was
ingested into, so such a subscription can only ever see its own workspace's data.
"""

from __future__ import annotations

from collections.abc import Mapping

from api.deps import AccessDenied, resolve_access
from collector.store import Store

_OWNERS_SQL = """
SELECT workspace_id FROM workflows WHERE id = ?
UNION
SELECT DISTINCT workspace_id FROM executions WHERE workflow_id = ?
"""


class FeedDenied(Exception):
    """The connection is closed with 1008 and this message as the reason."""


def workflow_owners(store: Store, workflow_id: str) -> set[str]:
    rows = store.cursor().execute(_OWNERS_SQL, [workflow_id, workflow_id]).fetchall()
    return {r[0] for r in rows}


def authorize_feed(
    store: Store,
    auth_required: bool,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    workflow_id: str,
) -> str:
    """The workspace id the feed reads from, or FeedDenied (runs DuckDB queries: call off-loop)."""
    try:
        ctx = resolve_access(store, auth_required, headers, query, "viewer")
    except AccessDenied as exc:
        raise FeedDenied(f"{exc.status}: {exc.detail}") from None
    owners = workflow_owners(store, workflow_id)
    if owners and ctx.workspace_id not in owners:
        raise FeedDenied(f"404: workflow {workflow_id!r} not found in workspace {ctx.workspace_id!r}")
    return ctx.workspace_id

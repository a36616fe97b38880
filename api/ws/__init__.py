"""Live WebSocket feeds of workflow executions (spec "WebSocket Events").

Channels:
- `ws://HOST/ws/workflows/{workflow_id}`: every event of the workflow's executions:
  `workflow_started`, `workflow_completed`, `workflow_failed`, plus `workflow_cancelled`
  and `workflow_timeout`, and all step events.
- `ws://HOST/ws/workflows/{workflow_id}/step/{step_id}`: that step's events only:
  `step_started`, `step_completed`, `step_failed`, plus `step_retrying`, `step_skipped`
  and `step_cancelled`.

Messages are `{"event": ..., "data": {...}}` (fields in `api.ws.events`). Events come
only from committed data: a span's end gives `*_completed|failed|...`, lifecycle
records give `*_started` and `step_retrying` (`api.ws.sequencer` states the ordering
guarantee). Any tracer that follows the conventions streams, not only our engine.
A client whose handshake has completed is subscribed: everything committed from then
on reaches it. An execution already running when its workflow got its first subscriber
starts on that feed with a synthesized `workflow_started` (and `step_started` for its
running steps) after the reorder window, since only watched workflows are sequenced
(`api.ws.interest`); a `since` replay sends the real ones, and the copies are dropped.

Access: workspace by `X-Workspace-Id`/`X-Workspace-Slug` header or `workspace_id`/
`workspace_slug` query parameter; with auth on, a token by `Authorization: Bearer` or
`?token=` (role viewer or higher). A bad token, a missing role, or a workflow of another
workspace closes the connection with 1008 and a reason, before any event. Unknown
workflow ids are accepted (see `api.ws.access`).

`?since=<ISO 8601>` first replays the committed events with a later timestamp (see
`api.ws.replay` for bounds), then sends `{"event": "replay_complete", ...}`, then
continues live with neither gap nor repeat. Delivery order is commit order, not
timestamp order: to resume after a disconnect, pass the latest timestamp received
minus a few seconds and drop `event_id`s already seen.

Robustness: each connection has a bounded queue (1024 messages,
FLOWSCOPE_WS_QUEUE_MESSAGES); a client that falls that far behind is closed with 1013
and a reason, without slowing ingest or other clients. Should the server itself lose
committed batches (overload), every feed is closed with 1013 so clients resync with
`since`. The server pings every 20 s (uvicorn) and closes unresponsive clients; on
shutdown every feed is closed with 1001.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter
from flowscope.api.context import AppContext
from flowscope.api.ws.hub import Hub
from flowscope.api.ws.router import router


def feeds_router(context: AppContext) -> APIRouter:
    """The feed endpoints, with a lifespan that starts the context's hub; feeds close on
    shutdown (1001: `flowscope serve` shuts the hub down before uvicorn stops)."""
    hub = context.hub

    @asynccontextmanager
    async def lifespan(_app: object) -> AsyncIterator[None]:
        hub.start()
        try:
            yield
        finally:
            await hub.shutdown()
            await hub.stop()

    feeds = APIRouter(lifespan=lifespan)
    feeds.include_router(router)
    return feeds


__all__ = ["Hub", "feeds_router"]

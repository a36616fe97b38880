"""The two feed endpoints (spec "WebSocket Events").

Connection lifecycle: check access (failure: accept, then close 1008 with the reason,
before any event; a client throttled for failed authentication gets HTTP 429 at the
handshake instead); register with the hub (paused when `since` is given, so live
events queue up while the replay is read); complete the handshake, so a client that
sees the connection open is already subscribed; replay; then stream live until the
client leaves, the server shuts down (1001) or the client falls behind (1013). A store that
cannot answer the access check or the replay (within its answer deadline, on a lake) gets the
client HTTP 503 with Retry-After at the handshake, or a close with 1013, "try again later".
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import orjson
from fastapi import APIRouter, WebSocket
from flowscope.api.answer_deadline import unavailable_text, within_deadline
from flowscope.api.context import AppContext
from flowscope.api.deps import client_address
from flowscope.api.throttle import retry_after_header
from flowscope.api.ws.access import FeedDenied, authorize_feed
from flowscope.api.ws.events import iso
from flowscope.api.ws.hub import Hub
from flowscope.api.ws.replay import ReplayResult, replay
from flowscope.api.ws.subscriber import (
    CLOSE_GOING_AWAY,
    CLOSE_INTERNAL,
    CLOSE_POLICY,
    CLOSE_TRY_AGAIN,
    Subscriber,
    close_quietly,
    receive_until_disconnect,
)
from flowscope.storage.errors import StorageUnavailable
from starlette.responses import PlainTextResponse

log = logging.getLogger(__name__)
router = APIRouter()


def parse_since(value: str) -> int:
    """ISO 8601 (a `Z` or an offset; naive means UTC) to unix nanoseconds."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    delta = parsed - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


@router.websocket("/ws/workflows/{workflow_id}")
async def workflow_feed(websocket: WebSocket, workflow_id: str) -> None:
    """Every event of the workflow's executions: workflow_* and step_* events."""
    await _feed(websocket, workflow_id, None)


@router.websocket("/ws/workflows/{workflow_id}/step/{step_id}")
async def step_feed(websocket: WebSocket, workflow_id: str, step_id: str) -> None:
    """Events of one step of the workflow: step_started, step_retrying, step_completed, ..."""
    await _feed(websocket, workflow_id, step_id)


async def _feed(websocket: WebSocket, workflow_id: str, step_id: str | None) -> None:
    context: AppContext = websocket.app.state.context
    hub = context.hub
    if hub.closing:
        await websocket.accept()
        await close_quietly(websocket, CLOSE_GOING_AWAY, "server shutting down", 1.0)
        return
    hub.start()  # normally already started by the app's lifespan
    headers = {k.lower(): v for k, v in websocket.headers.items()}
    query = dict(websocket.query_params)
    since_ns: int | None = None
    try:
        if "since" in query:
            try:
                since_ns = parse_since(query["since"])
            except ValueError:
                raise FeedDenied(
                    f"invalid since {query['since']!r}: use ISO 8601, e.g. 2024-01-15T10:00:00Z"
                ) from None
        authorized = asyncio.to_thread(
            authorize_feed,
            context.store,
            context.settings.auth_required,
            headers,
            query,
            peer=client_address(websocket),
            throttle=context.throttle,
        )
        workspace_id = await within_deadline(context.store, authorized)
    except StorageUnavailable as exc:
        if _can_answer_http(websocket):
            await websocket.send_denial_response(
                PlainTextResponse(unavailable_text(exc), 503, {"Retry-After": "1"})
            )
            return
        await websocket.accept()
        reason = unavailable_text(exc)
        await close_quietly(websocket, CLOSE_TRY_AGAIN, reason, hub.config.close_timeout_seconds)
        return
    except FeedDenied as exc:
        if exc.retry_after is not None and _can_answer_http(websocket):
            # Throttled: an HTTP 429 with Retry-After at the handshake, as REST answers.
            wait = {"Retry-After": retry_after_header(exc.retry_after)}
            await websocket.send_denial_response(PlainTextResponse(str(exc), 429, wait))
            return
        # Accept, then close: browsers see a close code and reason, not just a failed handshake.
        await websocket.accept()
        await close_quietly(websocket, CLOSE_POLICY, str(exc), hub.config.close_timeout_seconds)
        return
    sub = Subscriber(
        websocket, workspace_id, workflow_id, step_id, hub.config.queue_messages, paused=since_ns is not None
    )
    # Subscribed before the handshake completes: once a client sees it open, nothing
    # committed afterwards can be missed (and with `since`, nothing before either).
    hub.add(sub)
    try:
        await websocket.accept()
        await _stream(websocket, hub, context, sub, since_ns)
    finally:
        hub.remove(sub)


async def _stream(
    websocket: WebSocket, hub: Hub, context: AppContext, sub: Subscriber, since_ns: int | None
) -> None:
    async def history(since_ns: int) -> ReplayResult:
        # Triggers acknowledged before this replay are read by it (api/visibility.py).
        await context.barrier.wait(sub.workspace_id)
        return await asyncio.to_thread(
            replay, context.store, hub.config, sub.workspace_id, sub.workflow_id, sub.step_id, since_ns
        )

    async def send_all() -> None:
        send = websocket.send_text
        if since_ns is not None:
            result = await within_deadline(context.store, history(since_ns))
            for event in result.events:
                await send(event.text)
            await send(_replay_complete(result, since_ns))
            ended = {e.execution_id for e in result.events if e.terminal}
            sub.resume({e.event_id for e in result.events}, ended)
        await sub.send_loop(send)

    sender = asyncio.create_task(send_all())
    sub.task = sender
    if sub.close_code is not None:  # closed before the task existed
        sender.cancel()
    receiver = asyncio.create_task(receive_until_disconnect(websocket))
    try:
        await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        sender.cancel()
    if receiver.done():
        return  # the client left
    code, reason = sub.close_code, sub.close_reason
    if code is None:
        failure = sender.exception() if sender.done() and not sender.cancelled() else None
        if isinstance(failure, StorageUnavailable):  # the replay's read: retry later
            code, reason = CLOSE_TRY_AGAIN, unavailable_text(failure)
        else:
            if failure is not None and not _is_disconnect(failure):
                log.error("live feed sender failed", exc_info=failure)
            code, reason = CLOSE_INTERNAL, "internal error"
    hub.remove(sub)
    await close_quietly(websocket, code, reason, hub.config.close_timeout_seconds)
    receiver.cancel()


def _can_answer_http(websocket: WebSocket) -> bool:
    """Whether the server can refuse the handshake with an HTTP response (ASGI's extension)."""
    return "websocket.http.response" in websocket.scope.get("extensions", {})


def _is_disconnect(exc: BaseException) -> bool:
    return isinstance(exc, OSError | RuntimeError) or type(exc).__name__ in (
        "WebSocketDisconnect",
        "ClientDisconnected",
    )


def _replay_complete(result: ReplayResult, since_ns: int) -> str:
    """Marks the end of the replayed history; what follows is live."""
    data = {
        "since": iso(since_ns),
        "count": len(result.events),
        "truncated": result.truncated,
        "timestamp": iso(result.events[-1].time_ns) if result.events else None,
    }
    return orjson.dumps({"event": "replay_complete", "data": data}).decode()

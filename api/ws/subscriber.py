"""One WebSocket connection's side of the fan-out: a bounded queue and its sender task.

The hub only appends to the queue (never awaits), so a connection that cannot keep
up never slows the hub, ingest or other connections: when its queue is full it is
closed with 1013 ("try again later") and a reason saying to reconnect with `since`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable

from starlette.websockets import WebSocket

from api.ws.events import LiveEvent

CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_INTERNAL = 1011
CLOSE_TRY_AGAIN = 1013

SendText = Callable[[str], Awaitable[None]]


def close_reason(text: str) -> str:
    """Close reasons are limited to 123 bytes of UTF-8."""
    data = text.encode()
    return text if len(data) <= 123 else data[:120].decode("utf-8", "ignore") + "..."


class Subscriber:
    __slots__ = (
        "_wake", "close_code", "close_reason", "ended", "max_queue", "paused", "queue", "skip_ids",
        "step_id", "task", "websocket", "workflow_id", "workspace_id",
    )  # fmt: skip

    def __init__(
        self, websocket: WebSocket, workspace_id: str, workflow_id: str, step_id: str | None,
        max_queue: int, paused: bool,
    ) -> None:  # fmt: skip
        self.websocket = websocket
        self.workspace_id = workspace_id
        self.workflow_id = workflow_id
        self.step_id = step_id
        self.max_queue = max_queue
        self.queue: deque[LiveEvent] = deque()
        self.paused = paused  # while replaying: live events queue up, unsent
        self.skip_ids: set[str] | None = None  # event ids the replay sent
        self.ended: set[str] | None = None  # executions whose end event the replay sent
        self.close_code: int | None = None
        self.close_reason = ""
        self.task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def offer(self, event: LiveEvent) -> None:
        """Called by the hub, synchronously; never blocks."""
        if self.close_code is not None:
            return
        if len(self.queue) >= self.max_queue:
            self.close(
                CLOSE_TRY_AGAIN,
                f"client too slow: {len(self.queue)} messages unsent; reconnect with ?since=<last timestamp>",
            )
            return
        self.queue.append(event)
        if not self.paused:
            self._wake.set()

    def close(self, code: int, reason: str) -> None:
        """Ask for this connection to be closed; the handler sends the close frame."""
        if self.close_code is not None:
            return
        self.close_code, self.close_reason = code, close_reason(reason)
        if self.task is not None:
            self.task.cancel()  # it may be stuck sending to a congested client

    def resume(self, sent_ids: set[str], ended: set[str]) -> None:
        """After replay: send what queued meanwhile, minus what the replay already sent."""
        self.skip_ids, self.ended = sent_ids, ended
        self.paused = False
        self._wake.set()

    async def send_loop(self, send: SendText) -> None:
        queue, wake = self.queue, self._wake
        while True:
            if not queue or self.paused:
                wake.clear()
                await wake.wait()
                continue
            event = queue.popleft()
            if self.skip_ids is not None and (
                event.event_id in self.skip_ids or event.execution_id in (self.ended or ())
            ):
                continue
            await send(event.text)


async def receive_until_disconnect(websocket: WebSocket) -> None:
    """Read (and ignore) client messages until it disconnects: that is how we learn it left."""
    receive = websocket.receive
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return


async def close_quietly(websocket: WebSocket, code: int, reason: str, timeout: float) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(websocket.close(code, close_reason(reason)), timeout)

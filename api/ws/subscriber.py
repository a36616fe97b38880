"""One WebSocket connection's side of the fan-out: a bounded queue and its sender task.

The hub only calls `offer` (never awaits), so a connection that cannot keep up never
slows the hub, ingest or other connections: when its queue is full it is closed with
1013 ("try again later") and a reason saying to reconnect with `since`.

Fast path: when the connection is idle (nothing queued, sender task waiting) `offer`
sends at once, on the hub's stack. An ASGI WebSocket send to an uncongested client
completes without suspending, so this saves waking one task per connection and event,
about a third of the fan-out cost with 1,000 connections. A send that does have to
wait (congested client) is handed to the sender task, which finishes it and then
drains the queue; the queue keeps order meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from flowscope.api.ws.events import LiveEvent
from starlette.websockets import WebSocket

CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_INTERNAL = 1011
CLOSE_TRY_AGAIN = 1013

SendText = Callable[[str], Coroutine[Any, Any, None]]


def close_reason(text: str) -> str:
    """Close reasons are limited to 123 bytes of UTF-8."""
    data = text.encode()
    return text if len(data) <= 123 else data[:120].decode("utf-8", "ignore") + "..."


class Subscriber:
    __slots__ = (
        "_blocked", "_idle", "_send", "_wake", "close_code", "close_reason", "ended", "max_queue",
        "paused", "queue", "skip_ids", "step_id", "task", "websocket", "workflow_id", "workspace_id",
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
        self._send: SendText | None = None
        self._idle = False  # the sender task waits with nothing to do: offer may send directly
        self._blocked: tuple[Coroutine[Any, Any, None], Any] | None = None  # a direct send that waits
        self._wake = asyncio.Event()

    def offer(self, event: LiveEvent) -> None:
        """Called by the hub, synchronously; never blocks."""
        if self.close_code is not None:
            return
        if self._idle:
            self._send_directly(event)
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
        self._idle = False
        if self.task is not None:
            self.task.cancel()  # it may be stuck sending to a congested client

    def resume(self, sent_ids: set[str], ended: set[str]) -> None:
        """After replay: send what queued meanwhile, minus what the replay already sent."""
        self.skip_ids, self.ended = sent_ids, ended
        self.paused = False
        self._wake.set()

    def _replayed(self, event: LiveEvent) -> bool:
        """Already sent by the `since` replay (or after an execution end the replay sent)."""
        return self.skip_ids is not None and (
            event.event_id in self.skip_ids or event.execution_id in (self.ended or ())
        )

    def _send_directly(self, event: LiveEvent) -> None:
        if self._replayed(event):
            return
        assert self._send is not None
        coro = self._send(event.text)
        try:
            waiting_for = coro.send(None)  # run the send until it completes or must wait
        except StopIteration:
            return  # sent
        except Exception:  # the client is gone; its receiver task ends the connection
            return
        self._blocked = (coro, waiting_for)
        self._idle = False
        self._wake.set()

    async def send_loop(self, send: SendText) -> None:
        queue, wake = self.queue, self._wake
        self._send = send
        while True:
            if self._blocked is not None:
                coro, waiting_for = self._blocked
                self._blocked = None
                await _finish(coro, waiting_for)
            elif queue and not self.paused:
                event = queue.popleft()
                if not self._replayed(event):
                    await send(event.text)
            else:
                self._idle = not self.paused and self.close_code is None
                wake.clear()
                try:
                    await wake.wait()
                finally:
                    self._idle = False


async def _finish(coro: Coroutine[Any, Any, None], waiting_for: Any) -> None:
    """Drive a coroutine that suspended outside any task to its end, as a Task would."""
    try:
        while True:
            if isinstance(waiting_for, asyncio.Future):
                await asyncio.wait((waiting_for,))  # the coroutine reads the outcome itself
            else:
                await asyncio.sleep(0)  # a bare yield
            waiting_for = coro.send(None)
    except StopIteration:
        return
    except BaseException:
        coro.close()
        raise


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

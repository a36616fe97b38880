"""A GET on the API is answered within the store's answer deadline (`Store.answer_deadline_seconds`,
set by the lake store only): past it, 503 "retry later" with Retry-After, in the error shape of
the path's family (Jaeger's envelope, the query API v3's, FastAPI's `{"detail": ...}`), while
the read itself goes on in its thread and its answer is dropped.

Why: a lake's catalog that stopped answering without closing its connections (a frozen
PostgreSQL, a network dropping packets) holds the read in libpq without bound, and DuckDB's
interrupt cannot cut that wait. Only GET and HEAD: a write answered 503 that lands later would
be sent again by its client. A response that has begun (a stream) is left alone. WebSockets
pass through (their feeds answer by events, not by one response): their reads of the store
(the feed's authorization, its `since` replay) are bounded one by one (`within_deadline`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import Any, TypeVar

from flowscope.api.unknown_paths import family_error
from flowscope.storage.errors import StorageUnavailable
from flowscope.storage.interfaces import Store
from starlette.types import ASGIApp, Message, Receive, Scope, Send

T = TypeVar("T")

_READS = ("GET", "HEAD")


class AnswerDeadline:
    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds
        self._late: set[asyncio.Task[None]] = set()  # reads still running after their 503

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _READS:
            await self.app(scope, receive, send)
            return
        started = False
        abandoned = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if abandoned:
                return  # answered 503 already: the late answer goes nowhere
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        done, _ = await asyncio.wait({task}, timeout=self.seconds)
        if task in done or started:
            await task
            return
        abandoned = True
        self._late.add(task)
        task.add_done_callback(self._finished_late)
        await _unavailable(scope, send, no_answer(self.seconds))

    def _finished_late(self, task: asyncio.Task[None]) -> None:
        self._late.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: its client was answered already (the 503)


def no_answer(seconds: float) -> str:
    return f"no answer from the store within {seconds:g} s; retry later"


def unavailable_text(reason: object) -> str:
    """What a client is told when the store cannot answer now (a 503's detail, a feed's close)."""
    return f"storage unavailable, retry later: {reason}"


async def within_deadline(store: Store, work: Awaitable[T]) -> T:
    """`work` (reads of the store, off the loop) within the store's answer deadline, if it has
    one; past it, StorageUnavailable, while the read goes on in its thread and its answer is
    dropped."""
    seconds = store.answer_deadline_seconds
    if seconds is None:
        return await work
    try:
        return await asyncio.wait_for(work, seconds)
    except TimeoutError:
        raise StorageUnavailable(no_answer(seconds)) from None


async def _unavailable(scope: Scope, send: Send, message: str) -> None:
    render = family_error(scope["path"])
    text = unavailable_text(message)
    if render is not None:
        response = render(503, text)
        body, headers = response.body, [(k.encode(), v.encode()) for k, v in response.headers.items()]
    else:
        body = json.dumps({"detail": text}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers = [h for h in headers if h[0].lower() != b"retry-after"] + [(b"retry-after", b"1")]
    start: dict[str, Any] = {"type": "http.response.start", "status": 503, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": bytes(body)})

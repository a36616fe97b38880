"""In-process event bus: the writer publishes what each commit stored.

Publishing never blocks the writer: every subscriber receives batches through its
own bounded hand-off and must do its work elsewhere. A subscriber that falls behind
loses batches and is told so (`overflowed`), instead of slowing ingest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

from collector.convert import WorkflowLogRecord, WorkflowSpan

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CommittedBatch:
    """What one commit stored (duplicates already removed)."""

    commit_seq: int
    spans: pa.Table | None  # promoted span columns (no blobs), for metrics
    log_count: int
    workflow_spans: list[WorkflowSpan] = field(default_factory=list)
    workflow_logs: list[WorkflowLogRecord] = field(default_factory=list)


Subscriber = Callable[[CommittedBatch], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Register a non-blocking callback; returns a function that unsubscribes it."""
        with self._lock:
            self._subscribers = [*self._subscribers, subscriber]

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = [s for s in self._subscribers if s is not subscriber]

        return unsubscribe

    def publish(self, batch: CommittedBatch) -> None:
        for subscriber in self._subscribers:  # copy-on-write list: no lock needed to read
            try:
                subscriber(batch)
            except Exception:  # a broken consumer must not break ingest
                log.exception("event bus subscriber failed")


class AsyncSubscription:
    """Delivers batches into an asyncio queue on `loop`, bounded to `maxsize` batches."""

    def __init__(self, bus: EventBus, loop: asyncio.AbstractEventLoop, maxsize: int = 1024) -> None:
        self.queue: asyncio.Queue[CommittedBatch] = asyncio.Queue(maxsize)
        self.overflowed = False
        self._loop = loop
        self._unsubscribe = bus.subscribe(self._offer)

    def _offer(self, batch: CommittedBatch) -> None:
        with contextlib.suppress(RuntimeError):  # loop closed during shutdown
            self._loop.call_soon_threadsafe(self._put, batch)

    def _put(self, batch: CommittedBatch) -> None:
        try:
            self.queue.put_nowait(batch)
        except asyncio.QueueFull:
            self.overflowed = True

    def close(self) -> None:
        self._unsubscribe()

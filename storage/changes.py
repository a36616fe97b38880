"""The committed-change feed: an in-process event bus on which the writer publishes what
each commit stored.

Publishing never blocks the writer: every subscriber gets its own delivery thread
behind a bounded queue, so a slow (or stuck, or failing) consumer delays only itself.
A subscriber that falls more than `max_pending` commits (or `max_pending_items` spans
and log records) behind loses batches, which is logged and counted (`dropped`),
instead of slowing ingest or holding unbounded memory. Each subscriber sees
batches in commit order, one at a time, on its delivery thread.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

log = logging.getLogger(__name__)


@dataclass(slots=True)
class WorkflowSpan:
    """A committed workflow span, as consumers of the event bus see it."""

    workspace_id: str
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    role: str
    start_ns: int
    end_ns: int
    status_code: int
    status_message: str
    attributes: dict[str, Any]


@dataclass(slots=True)
class WorkflowLogRecord:
    """A committed lifecycle (or any workflow-attributed) log record, for the event bus."""

    workspace_id: str
    record_hash: int
    event_name: str
    time_ns: int
    trace_id: str
    span_id: str
    body: str | None
    attributes: dict[str, Any]


@dataclass(slots=True)
class CommittedBatch:
    """What one commit stored (duplicates already removed)."""

    commit_seq: int
    spans: pa.Table | None  # promoted span columns (no blobs), for metrics
    log_count: int
    workflow_spans: list[WorkflowSpan] = field(default_factory=list)
    workflow_logs: list[WorkflowLogRecord] = field(default_factory=list)
    # Stored step spans this commit replaced with later tries (storage/later_tries.py): the
    # workspace_id, workflow_id, step_id and retry_count they had, which cumulative
    # consumers counted once already.
    replaced_steps: pa.Table | None = None
    # Committed by another node of the same lake and read back by this one
    # (storage/ducklake/follow.py): the workflow spans and records only (`spans` is None).
    # Numbered by the follower, apart from this node's own commits; consumers that count
    # what their node ingested (Prometheus' cumulative metrics) skip these.
    remote: bool = False
    # Commits before this one were lost for the live feeds (a lake follower that fell behind
    # or could not read them back): the hub closes every feed with 1013.
    lost: bool = False


Subscriber = Callable[[CommittedBatch], None]

_CLOSE = object()


class _Delivery:
    """One subscriber's bounded queue and the thread that calls it."""

    def __init__(self, subscriber: Subscriber, max_pending: int, max_pending_items: int) -> None:
        self.subscriber = subscriber
        self.dropped = 0
        self._queue: queue.Queue[Any] = queue.Queue(max_pending)
        self._pending_items = 0
        self._max_pending_items = max_pending_items
        self._items_lock = threading.Lock()
        self._closed = False
        name = getattr(subscriber, "__qualname__", type(subscriber).__name__)
        self._thread = threading.Thread(target=self._run, name=f"flowscope-bus-{name}", daemon=True)
        self._thread.start()

    def offer(self, batch: CommittedBatch) -> None:
        items = _items(batch)
        try:
            with self._items_lock:
                if self._pending_items and self._pending_items + items > self._max_pending_items:
                    raise queue.Full
                self._queue.put_nowait(batch)
                self._pending_items += items
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning(
                    "event bus subscriber %r is behind: %d batches dropped", self.subscriber, self.dropped
                )

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            try:
                if batch is _CLOSE or self._closed:
                    return
                with self._items_lock:
                    self._pending_items -= _items(batch)
                self.subscriber(batch)
            except Exception:  # a broken consumer must not break the bus
                log.exception("event bus subscriber failed")
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        self._queue.join()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(_CLOSE)


def _items(batch: CommittedBatch) -> int:
    return (batch.spans.num_rows if batch.spans is not None else 0) + batch.log_count


class EventBus:
    def __init__(self, max_pending: int = 1024, max_pending_items: int = 1_000_000) -> None:
        self._deliveries: list[_Delivery] = []
        self._lock = threading.Lock()
        self._max_pending = max_pending
        self._max_pending_items = max_pending_items

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Register a callback (called on its own thread); returns a function that unsubscribes it."""
        delivery = _Delivery(subscriber, self._max_pending, self._max_pending_items)
        with self._lock:
            self._deliveries = [*self._deliveries, delivery]

        def unsubscribe() -> None:
            with self._lock:
                self._deliveries = [d for d in self._deliveries if d is not delivery]
            delivery.close()

        return unsubscribe

    def publish(self, batch: CommittedBatch) -> None:
        """Hand `batch` to every subscriber without waiting for any of them."""
        for delivery in self._deliveries:  # copy-on-write list: no lock needed to read
            delivery.offer(batch)

    def flush(self) -> None:
        """Wait until every subscriber has processed what was published so far (tests, shutdown)."""
        for delivery in self._deliveries:
            delivery.flush()

    @property
    def dropped(self) -> int:
        return sum(d.dropped for d in self._deliveries)

"""What both receivers do with a decoded export request: queue it and await its commit."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from flowscope.collector.decode import count_items
from flowscope.collector.prepare import prepare
from flowscope.storage.batches import ExportOutcome, WriteRequest
from flowscope.storage.errors import QueueFull, StorageUnavailable
from flowscope.storage.interfaces import Store
from google.protobuf.message import Message

from flowscope.emitters.registry import Recognition, builtin

MIN_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0
_DEMAND_WINDOW_SECONDS = 2.0
_INLINE_PREPARE_ITEMS = 64  # smaller requests are converted on the event loop (no thread hop)
# Requests up to this size are converted one at a time, in a thread of their own. Under the
# GIL, conversions in the loop's worker threads (six on 2 cores) only took turns, and each
# turn's hand-off cost CPU: `bench/ingest.py --quick --skip-prefilled`, one conversion at a
# time against six, three alternations, medians of server CPU per span: foreign-shaped 48.2
# against 52.1 µs, engine-shaped 66.2 against 71.1, generic 17.6 against 18.2. Bigger requests
# (a conversion of seconds) keep threads of their own, so that one cannot hold up the others.
_SERIAL_PREPARE_ITEMS = 4096


class IngestService:
    def __init__(self, store: Store, recognition: Recognition | None = None) -> None:
        self.store = store
        self.recognition = recognition or builtin()
        self.metrics = store.metrics
        self._refused: deque[tuple[float, int]] = deque()  # (when, items) of recent refusals
        self._lock = threading.Lock()
        self._converter = ThreadPoolExecutor(1, thread_name_prefix="flowscope-convert")

    def retry_delay(self) -> float:
        """How long a refused client should wait before retrying, in seconds.

        OTLP exporters wait exactly what the server says (Retry-After / RetryInfo), so a
        constant delay makes every refused client come back at the same instant, where
        the queue again admits only a few of them. The delay is therefore spread at
        random over the time the writer needs for the current demand (what is queued
        plus what was refused in the last seconds, at its measured drain rate).
        """
        now = time.monotonic()
        with self._lock:
            while self._refused and self._refused[0][0] < now - _DEMAND_WINDOW_SECONDS:
                self._refused.popleft()
            demand = sum(items for _, items in self._refused) + self.store.writer.queued_items
        rate = max(self.store.writer.drain_rate, 1000.0)
        # Over twice the drain time, retries arrive at about half the rate the writer takes.
        spread = min(MAX_RETRY_SECONDS - MIN_RETRY_SECONDS, 2 * demand / rate)
        return MIN_RETRY_SECONDS + random.random() * spread

    async def export(
        self, signal: str, message: Message, workspace_id: str, transport: str, raw: bytes | None = None
    ) -> ExportOutcome:
        """Return once the request's data is committed.

        `raw` is the protobuf encoding `message` was parsed from (None for JSON): the
        writer then stores each span and log record as the bytes sent instead of re-serializing it.

        Raises QueueFull (retry later), StorageUnavailable (commit failed, retry later)
        or WriterStopped (shutting down).
        """
        items = count_items(signal, message)
        self.metrics.received.labels(signal, transport).inc(items)
        if items == 0:
            return ExportOutcome(0, 0, "")
        writer = self.store.writer
        try:
            if not writer.has_room(items):  # refuse before spending CPU on conversion
                raise QueueFull(
                    f"write queue full ({writer.queued_items} items waiting, capacity "
                    f"{writer.max_queue_items}); retry later"
                )
            # Conversion happens here, not on the writer thread: the writer's time goes to
            # DuckDB (which releases the GIL), while receivers convert the next requests.
            with writer.converting():
                if items > _INLINE_PREPARE_ITEMS:
                    # (None: the loop's default executor)
                    converter = self._converter if items <= _SERIAL_PREPARE_ITEMS else None
                    prepared = await asyncio.get_running_loop().run_in_executor(
                        converter, prepare, signal, message, workspace_id, raw, None, self.recognition
                    )
                else:
                    prepared = prepare(signal, message, workspace_id, raw, None, self.recognition)
                future = writer.submit(
                    WriteRequest(signal, None, workspace_id, items, prepared=prepared)  # type: ignore[arg-type]
                )
        except QueueFull:
            self.metrics.backpressure.labels(transport).inc()
            with self._lock:
                self._refused.append((time.monotonic(), items))
            raise
        deadline = self.store.answer_deadline_seconds
        if deadline is None:
            return await asyncio.wrap_future(future)
        try:
            # shield: the commit goes on; if it lands after the 503, the exporter's retry is
            # deduplicated (the span filter holds its spans), so nothing is stored twice.
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), deadline)
        except TimeoutError:
            raise StorageUnavailable(
                f"the store did not commit within {deadline:g} s (its database does not answer); retry later"
            ) from None

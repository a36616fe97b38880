"""What both receivers do with a decoded export request: queue it and await its commit."""

from __future__ import annotations

import asyncio

from google.protobuf.message import Message

from collector.decode import count_items
from collector.store import Store
from collector.writer import ExportOutcome, QueueFull, WriteRequest

RETRY_AFTER_SECONDS = 1


class IngestService:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.metrics = store.metrics

    async def export(
        self, signal: str, message: Message, workspace_id: str, transport: str, raw: bytes | None = None
    ) -> ExportOutcome:
        """Return once the request's data is committed.

        `raw` is the protobuf encoding `message` was parsed from (None for JSON): the
        writer then stores each span's bytes as sent instead of re-serializing it.

        Raises QueueFull (retry later), StorageUnavailable (commit failed, retry later)
        or WriterStopped (shutting down).
        """
        items = count_items(signal, message)
        self.metrics.received.labels(signal, transport).inc(items)
        if items == 0:
            return ExportOutcome(0, 0, "")
        try:
            future = self.store.writer.submit(
                WriteRequest(signal, message, workspace_id, items, raw=raw)  # type: ignore[arg-type]
            )
        except QueueFull:
            self.metrics.backpressure.labels(transport).inc()
            raise
        return await asyncio.wrap_future(future)

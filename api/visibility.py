"""Read-your-writes for executions started through the API, when the engine exports elsewhere.

By default the API records each execution's `workflow.execution.queued` record itself before
the 202 (api/intake.py). With `--engine-endpoint` (an OpenTelemetry Collector in between,
say) the record reaches the store only through that pipeline (exporter -> collector ->
commit), so right after `submit` the store may not know it yet: `CommitWatcher` lets the
execute endpoint wait, briefly, until it is committed, so a client that follows the 202
with a GET finds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from flowscope.storage.changes import CommittedBatch, EventBus


class CommitWatcher:
    def __init__(self, bus: EventBus) -> None:
        self._waiters: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]] = {}
        self._lock = threading.Lock()
        self._unsubscribe = bus.subscribe(self._on_commit)

    def _on_commit(self, batch: CommittedBatch) -> None:
        # On the writer thread: return at once unless someone waits.
        if not self._waiters or not batch.workflow_logs:
            return
        with self._lock:
            for record in batch.workflow_logs:
                for loop, future in self._waiters.pop(record.trace_id, []):
                    with contextlib.suppress(RuntimeError):  # loop closed
                        loop.call_soon_threadsafe(_resolve, future)

    def watch(self, execution_id: str) -> asyncio.Future[None]:
        """A future resolved when any record of this execution is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            self._waiters.setdefault(execution_id, []).append((loop, future))
        return future

    def forget(self, execution_id: str) -> None:
        with self._lock:
            self._waiters.pop(execution_id, None)

    def close(self) -> None:
        self._unsubscribe()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)

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
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from flowscope.storage.changes import CommittedBatch, EventBus
from flowscope.storage.executions import ExecutionRecords

from flowscope.conventions import EVENT_EXECUTION_QUEUED

# How long a read waits at the barrier for the commits before it; then it reads what is stored.
READ_WAIT_SECONDS = 5.0
# How long, and how many, committed executions' records are kept while no commit changes them
# (`VisibilityBarrier` with keep_seconds): a backlog of pending executions polled by clients.
KEEP_SECONDS = 300.0
KEEP_MAX = 20_000


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


class VisibilityBarrier:
    """Read-your-writes on the read side: reads wait for the executions triggered before them.

    Execute answers 202 once its executions are journaled (api/journal.py) and queued for the
    writer, not committed. Each such writer request is `begin`-registered under its workspace
    before the 202 and `settle`d when the writer has committed it (or given up), so a read
    that can show executions first `await wait(workspace)`: at that moment's pending requests
    of its workspace all settled. With nothing pending (the common case) that is one dict
    lookup, no lock and no await of anything that suspends.

    A read of one execution whose trigger is still in flight need not wait at all: `begin`
    also takes what the store will read of each execution the request announces once it is
    committed (`ExecutionReader.acknowledged`), and `acknowledged` answers with it until then.
    Those reads then cost what a committed one does: sequential triggers each followed by a
    details read stop waiting for a commit behind the engine's own exports.

    With `keep_seconds` (a store whose writer makes every change: `Store.sole_writer`), those
    records are kept once committed, until a later commit changes the execution (`changed`,
    the writer's `on_commit` listener, called before anyone is told of that commit): up to
    `keep_seconds` and `keep_max` executions. What no commit changed is what is stored, so a
    read of a pending execution (a backlog that clients poll; 1,000 concurrent triggers each
    read back right after its 202) is answered without a query. A queued record changes
    nothing kept (it is what created the entry: the engine's exported copy is a duplicate);
    any other new record or workflow span of the execution's trace does.
    """

    def __init__(
        self,
        timeout_seconds: float = READ_WAIT_SECONDS,
        hurry: Callable[[], None] | None = None,
        *,
        keep_seconds: float = 0.0,
        keep_max: int = KEEP_MAX,
    ) -> None:
        self._timeout = timeout_seconds
        self._hurry = hurry  # the writer's `hurry`: a read waits, so commit without pacing
        self._keep_seconds = keep_seconds
        self._keep_max = keep_max
        # execution id -> (workspace id, records, kept until time.monotonic()), oldest first
        self._kept: OrderedDict[str, tuple[str, ExecutionRecords, float]] = OrderedDict()
        # Executions in flight (in `_acknowledged`) that a commit changed before their own settled.
        self._changed_in_flight: set[str] = set()
        self._lock = threading.Lock()
        self._seq = 0
        self._pending: dict[str, set[int]] = {}  # workspace -> sequence numbers not settled
        self._waiters: dict[str, list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]]] = {}
        # workspace -> execution id -> its records as they will be read, while not committed
        self._acknowledged: dict[str, dict[str, ExecutionRecords]] = {}
        self._announced: dict[int, list[str]] = {}  # sequence number -> its executions there

    def begin(self, workspace_id: str, acknowledged: Mapping[str, ExecutionRecords] | None = None) -> int:
        """A writer request of `workspace_id` is about to be queued: its sequence number.
        `acknowledged`: what the store will read of the executions it announces (by id)."""
        with self._lock:
            self._seq += 1
            self._pending.setdefault(workspace_id, set()).add(self._seq)
            if acknowledged:
                self._acknowledged.setdefault(workspace_id, {}).update(acknowledged)
                self._announced[self._seq] = list(acknowledged)
            return self._seq

    def acknowledged(self, workspace_id: str, execution_id: str) -> ExecutionRecords | None:
        """The records of an execution of the workspace whose request is not settled yet, or
        that is kept (committed, and no commit changed it since)."""
        found = self._acknowledged.get(workspace_id, {}).get(execution_id)
        if found is not None or not self._kept:
            return found
        kept = self._kept.get(execution_id)
        if kept is None or kept[0] != workspace_id or kept[2] < time.monotonic():
            return None
        return kept[1]

    def changed(self, batch: CommittedBatch) -> None:
        """The writer's `on_commit` listener (its thread, before the commit's requests are
        answered): forget the executions `batch` changed."""
        if not self._kept and not self._acknowledged:
            return
        changed = {s.trace_id for s in batch.workflow_spans}
        changed.update(r.trace_id for r in batch.workflow_logs if r.event_name != EVENT_EXECUTION_QUEUED)
        if not changed:
            return
        with self._lock:
            for execution_id in changed:
                self._kept.pop(execution_id, None)
            # A lookup per changed execution, not a set of every one in flight (a burst's
            # thousand) built on each commit.
            in_flight = self._acknowledged.values()
            self._changed_in_flight.update(e for e in changed if any(e in records for records in in_flight))

    def settle(self, workspace_id: str, seq: int, *, committed: bool = False) -> None:
        """The request `seq` is committed (`committed`) or failed for good: any thread (the
        writer's). Its executions are kept (`keep_seconds`) unless a commit changed them."""
        with self._lock:
            announced = self._announced.pop(seq, ())
            if announced:  # reads of them go to the store from now on, unless kept
                records = self._acknowledged[workspace_id]
                until = time.monotonic() + self._keep_seconds
                for execution_id in announced:
                    found = records.pop(execution_id, None)
                    if execution_id in self._changed_in_flight:
                        self._changed_in_flight.discard(execution_id)
                    elif committed and found is not None and self._keep_seconds > 0:
                        self._kept[execution_id] = (workspace_id, found, until)
                while len(self._kept) > self._keep_max:
                    self._kept.popitem(last=False)
                if not records:
                    del self._acknowledged[workspace_id]
            pending = self._pending.get(workspace_id)
            if pending is None:
                return
            pending.discard(seq)
            oldest = min(pending) if pending else None
            if oldest is None:
                del self._pending[workspace_id]
            waiters = self._waiters.get(workspace_id)
            if not waiters:
                return
            ready = [w for w in waiters if oldest is None or oldest > w[0]]
            if not ready:
                return
            self._waiters[workspace_id] = [w for w in waiters if not (oldest is None or oldest > w[0])]
        for _, loop, future in ready:
            with contextlib.suppress(RuntimeError):  # loop closed
                loop.call_soon_threadsafe(_resolve, future)

    def pending(self, workspace_id: str) -> int:
        return len(self._pending.get(workspace_id, ()))

    async def wait(self, workspace_id: str, execution_id: str | None = None) -> None:
        """Until every request of `workspace_id` begun before this call has settled (bounded:
        a stuck writer delays a read by the timeout, then it reads what is stored). A read of
        the execution `execution_id` alone does not wait while that one is `acknowledged`."""
        if workspace_id not in self._pending:  # the common path: nothing in flight
            return
        if execution_id is not None and self.acknowledged(workspace_id, execution_id) is not None:
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            pending = self._pending.get(workspace_id)
            if not pending:
                return
            entry = (max(pending), loop, future)
            self._waiters.setdefault(workspace_id, []).append(entry)
        if self._hurry is not None:
            self._hurry()
        try:
            await asyncio.wait_for(asyncio.shield(future), self._timeout)
        except TimeoutError:
            with self._lock:
                waiters = self._waiters.get(workspace_id, [])
                if entry in waiters:
                    waiters.remove(entry)

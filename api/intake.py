"""Recording the executions the API starts, in the transaction that takes their numbers.

`POST /api/workflows/{id}/execute` answers 202 once the new execution is readable (details,
list, timeline, `?since=` replay). It used to wait for the engine's `workflow.execution.queued`
record to travel exporter (100 ms batch delay) -> OTLP receiver -> commit: 100-150 ms a
trigger, 7 triggers a second. Now (`Intake.record`, the engine's `submit_many` callback):

1. The engine admits the executions (their quota places held) and builds their queued
   records without exporting them.
2. Those records, as the very OTLP request the engine's exporter sends, are queued for the
   storage writer like any export but without the HTTP hop, to be group-committed with
   whatever else is queued, in one transaction with the workflow's execution counter (the
   request carries the numbers taken: `ExecutionNumbers`, TelemetryWriter.submit).
3. The same request is appended to the trigger journal and fdatasync'd (api/journal.py):
   once it is on disk the trigger is acknowledged, without waiting for the DuckDB commit
   (~13 ms, which capped sequential triggers near 60 a second). Triggers arriving during a
   sync share the next one. Reads that can show executions wait for the commits of the
   triggers before them (api/visibility.py `VisibilityBarrier`), so the execution of a 202
   is still readable at once; after a crash the journal is replayed at start.
4. Only then does the engine export the records and run the executions. The exported copies
   arrive later, queued behind the API's request, with the same content, and the collector
   drops them as duplicates (records are deduplicated by content hash), so the engine stays
   a client like any other and every reader sees each record once.

Without a journal (an in-memory store) or when it cannot be written, a trigger is
acknowledged once committed, as before the journal.

When the engine exports elsewhere (`--engine-endpoint`: an OpenTelemetry Collector in
between may rewrite resources or route workspaces, so a copy might not be recognised as
one), only the counter is committed here and execute waits, bounded, for the record to come
back (api/visibility.py).

Execution numbers are taken after the quota admitted the executions, so a refused request
takes none; they are sequential per workflow and never reused (a failed commit leaves a
gap). On a file they are taken in memory (this process owns the database file) and
committed with the records; on a lake every node triggers, so each take is a catalog
transaction of its own (`catalog.SharedNumbers`: storage/ducklake/catalog.py), committed
before the numbers are used, in a worker thread, and the records carry no numbers to commit.
Workflows are cached with their plan while the catalog generation is unchanged, so a trigger
on a file costs no catalog query.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowscope.api.journal import Entry, TriggerJournal
from flowscope.api.queries.executions import trigger
from flowscope.api.visibility import VisibilityBarrier
from flowscope.collector.prepare import prepare
from flowscope.engine.telemetry import encode_logs
from flowscope.storage.batches import ExecutionNumbers, ExportOutcome, WriteRequest
from flowscope.storage.catalog import SharedNumbers, Workflow
from flowscope.storage.errors import QueueFull, StorageUnavailable
from flowscope.storage.interfaces import Store
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from starlette.concurrency import run_in_threadpool

if TYPE_CHECKING:
    from flowscope.engine.engine import QueuedBatch
    from flowscope.engine.host import EngineHost
    from flowscope.engine.plan import WorkflowPlan

log = logging.getLogger("flowscope.api")

# Cached workflows and plans: bounded by count and by plan size (a 10k-step plan is megabytes).
_CACHED_WORKFLOWS = 1024
_CACHED_STEPS = 20_000
_TAKERS = 64  # threads taking execution numbers on a lake (started as needed)
# Acknowledged triggers whose commit failed are submitted again after 0.5, 1, 2, 4, 5, 5... s.
_RETRY_FIRST_SECONDS = 0.5
_RETRY_MAX_SECONDS = 5.0
_RETRY_LOG_EVERY = 20


@dataclass(frozen=True, slots=True)
class Target:
    """A workflow of the catalog and the engine's plan of its definition."""

    workflow: Workflow
    plan: WorkflowPlan


class RecordRefused(Exception):
    """The collector refused a queued record the engine built (a bug, not bad input)."""


class WorkflowGone(LookupError):
    """The workflow was deleted (on another node) before its numbers were taken."""


class Intake:
    def __init__(
        self, store: Store, engine: EngineHost, *, direct: bool,
        barrier: VisibilityBarrier | None = None, journal: TriggerJournal | None = None,
    ) -> None:  # fmt: skip
        self._store = store
        self._engine = engine
        self.direct = direct  # the engine exports to this server's own collector
        # Acknowledge once journaled (reads wait at the barrier) when both are given and the
        # API records the queued records itself; else once committed.
        self._barrier = barrier
        self._journal = journal if direct and barrier is not None else None
        self._journal_file = journal
        self._syncs = ThreadPoolExecutor(1, thread_name_prefix="flowscope-journal")
        self._flusher: asyncio.Task[None] | None = None  # engine loop only
        self._targets: OrderedDict[tuple[str, str], tuple[int, Target]] = OrderedDict()
        self._target_steps = 0
        self._next_numbers: dict[tuple[str, str], int] = {}
        catalog = store.catalog
        self._shared = catalog if isinstance(catalog, SharedNumbers) else None
        # A thread for each trigger waiting for its numbers (a lake): those waiting while a
        # take runs are taken together in the next one (storage/ducklake/numbers.py), so the
        # more wait, the fewer catalog transactions a burst costs.
        self._takers = (
            ThreadPoolExecutor(_TAKERS, thread_name_prefix="flowscope-numbers")
            if self._shared is not None
            else None
        )
        self._lock = threading.Lock()  # taken on the serving loop and on the engine's
        self._waiting: list[tuple[QueuedBatch, asyncio.Future[None]]] = []  # engine loop only
        self._closed = threading.Event()

    async def target(self, workspace_id: str, workflow_id: str) -> Target | None:
        """The workflow and its plan (cached), or None when not in this workspace's catalog.
        Raises DefinitionError when the stored definition is invalid under this server's config."""
        key = (workspace_id, workflow_id)
        generation = self._store.catalog.generation()
        with self._lock:
            hit = self._targets.get(key)
            if hit is not None and hit[0] == generation:
                self._targets.move_to_end(key)
                return hit[1]
        workflow = await run_in_threadpool(self._store.catalog.get_workflow, *key)
        if workflow is None:
            # Its next number stays known (about 100 bytes a workflow): a request that read it
            # just before a delete may still take one, which must not repeat an earlier one.
            with self._lock:
                self._forget(key)
            return None
        target = Target(workflow, await self._engine.prepare(workflow.definition))
        with self._lock:
            self._forget(key)
            self._targets[key] = (generation, target)
            self._target_steps += len(target.plan.steps)
            while len(self._targets) > 1 and (
                len(self._targets) > _CACHED_WORKFLOWS or self._target_steps > _CACHED_STEPS
            ):
                self._forget(next(iter(self._targets)))
        return target

    def _forget(self, key: tuple[str, str]) -> None:
        old = self._targets.pop(key, None)
        if old is not None:
            self._target_steps -= len(old[1].plan.steps)

    def numbers(self, target: Target) -> Callable[[int], Sequence[int] | Awaitable[Sequence[int]]]:
        """How `submit_many` takes the numbers of the workflow's new executions."""
        if self._shared is None:
            return lambda count: self.take_numbers(target, count)
        return lambda count: self._take_shared(target, count)

    async def _take_shared(self, target: Target, count: int) -> list[int]:
        """From the catalog every node shares (blocking: a catalog transaction, in a thread)."""
        assert self._shared is not None and self._takers is not None
        wf = target.workflow
        first = await asyncio.get_running_loop().run_in_executor(
            self._takers, self._shared.take_execution_numbers, wf.workspace_id, wf.id, count
        )
        if first is None:
            raise WorkflowGone(wf.id)
        return list(range(first, first + count))

    def take_numbers(self, target: Target, count: int) -> list[int]:
        """The next `count` execution numbers of the workflow (any thread), in memory: for a
        store one process owns."""
        wf = target.workflow
        key = (wf.workspace_id, wf.id)
        with self._lock:
            # The stored counter is never ahead of the numbers taken in this process, but the
            # cached row may be behind them: the larger one is next.
            first = max(self._next_numbers.get(key, 0), wf.next_execution_number)
            self._next_numbers[key] = first + count
        return list(range(first, first + count))

    async def record(self, batch: QueuedBatch) -> None:
        """Record `batch`: its queued records when `direct`, and its numbers. The engine's
        `submit_many` callback, on the engine's loop. Returns once journaled and queued for
        the writer (or, without a journal, once committed). Batches arriving while one is
        being recorded (concurrent triggers) are encoded, converted, queued and synced
        together. Raises the writer's QueueFull, StorageUnavailable or WriterStopped when it
        cannot take them."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._waiting.append((batch, done))
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush_all())
        await done

    async def _flush_all(self) -> None:
        try:
            while self._waiting:
                waiting, self._waiting = self._waiting, []
                await self._flush(waiting)
        finally:
            self._flusher: asyncio.Task[None] | None = None  # engine loop only

    async def _flush(self, waiting: list[tuple[QueuedBatch, asyncio.Future[None]]]) -> None:
        by_workspace: dict[str, list[tuple[QueuedBatch, asyncio.Future[None]]]] = {}
        for batch, done in waiting:
            by_workspace.setdefault(batch.workspace_id, []).append((batch, done))
        journaled: list[tuple[list[asyncio.Future[None]], Future[ExportOutcome]]] = []
        seqs: list[int] = []
        lines: list[bytes] = []
        for workspace_id, part in by_workspace.items():
            futures = [done for _, done in part]
            try:
                # One writer request per workspace (a request belongs to one), carrying that
                # workspace's numbers with its records: both commit in the same transaction.
                request = self._request(workspace_id, part)
                if self._journal is None:
                    committed = asyncio.wrap_future(self._store.writer.submit(request))
                    committed.add_done_callback(lambda f, futures=futures: _settle(futures, f.exception()))
                    continue
                seq = self._begin(workspace_id, request)
                try:
                    written = self._store.writer.submit(request)
                except BaseException:
                    self._settled(workspace_id, seq, ok=True)  # nothing was queued
                    raise
            except Exception as exc:  # QueueFull, WriterStopped...: each trigger answers it
                _settle(futures, exc)
                continue
            self._on_commit(workspace_id, seq, request, written, tries=1)
            journaled.append((futures, written))
            seqs.append(seq)
            lines.append(_entry(request, part).line())
        if not journaled:
            return
        assert self._journal is not None
        try:
            await asyncio.get_running_loop().run_in_executor(self._syncs, self._journal.append, seqs, lines)
        except Exception as exc:  # a full or failing disk: acknowledge once committed instead
            log.error("trigger journal not written (%s): these triggers answer once committed", exc)
            for futures, written in journaled:
                asyncio.wrap_future(written).add_done_callback(
                    lambda f, futures=futures: _settle(futures, f.exception())
                )
            return
        for futures, _ in journaled:
            _settle(futures, None)

    def _begin(self, workspace_id: str, request: WriteRequest) -> int:
        assert self._barrier is not None and self._journal is not None and request.prepared is not None
        # Until committed, a read of one of these executions is answered with what the store
        # will read of it then. Not one with a caller: its details name the caller's execution
        # and step as stored, which the triggers acknowledged before it may still change.
        acknowledged = self._store.executions.acknowledged(request.prepared)
        seq = self._barrier.begin(
            workspace_id, {key: records for key, records in acknowledged.items() if trigger(records) is None}
        )
        self._journal.begin(seq)
        return seq

    def _settled(self, workspace_id: str, seq: int, *, ok: bool) -> None:
        assert self._barrier is not None and self._journal is not None
        if ok:
            self._journal.done(seq)
        self._barrier.settle(workspace_id, seq)

    def _on_commit(
        self, workspace_id: str, seq: int, request: WriteRequest, commit: Future[ExportOutcome], *, tries: int
    ) -> None:
        commit.add_done_callback(
            lambda f: self._committed(workspace_id, seq, request, f.exception(), tries=tries)
        )

    def _committed(
        self, workspace_id: str, seq: int, request: WriteRequest, error: BaseException | None, *, tries: int
    ) -> None:
        """The writer's answer to a journaled request (on the writer thread). After the first
        answer reads stop waiting for it, committed or not. Acknowledged triggers the store
        could not take (StorageUnavailable: PostgreSQL or the disk back soon) are submitted
        again, with a growing delay, until committed: their executions are then readable
        without waiting for a restart. The engine's exported copies of the same records may
        not come (an exporter gives up after its timeout), and a copy that does is dropped as
        a duplicate. Until committed the journal keeps the line, for the next start if this
        process ends first; other errors (a bug, the writer stopping) leave it to that."""
        assert self._barrier is not None and self._journal is not None
        if error is None:
            self._journal.done(seq)
            if tries > 1:
                log.warning("acknowledged triggers committed on try %d", tries)
        if tries == 1:
            self._barrier.settle(workspace_id, seq, committed=error is None)
        if error is None:
            return
        if not isinstance(error, (StorageUnavailable, QueueFull)) or self._closed.is_set():
            log.error("acknowledged triggers not committed (%s); the journal keeps them until restart", error)
            return
        if tries == 1 or tries % _RETRY_LOG_EVERY == 0:
            log.warning("acknowledged triggers not committed (%s, try %d); trying again", error, tries)
        self._again(workspace_id, seq, request, tries + 1)

    def _again(self, workspace_id: str, seq: int, request: WriteRequest, tries: int) -> None:
        """Submit the request again after a delay growing with its tries."""
        delay = min(_RETRY_FIRST_SECONDS * 2 ** (tries - 2), _RETRY_MAX_SECONDS)
        retry = threading.Timer(delay, self._retry, (workspace_id, seq, request, tries))
        retry.daemon = True  # the journal keeps the line if the process ends first
        retry.start()

    def _retry(self, workspace_id: str, seq: int, request: WriteRequest, tries: int) -> None:
        assert self._journal is not None
        if self._closed.is_set():
            return
        state = self._journal.state(seq)
        if state == "gone":  # its line could not be written: the failed commit answered the triggers
            return
        if state == "writing":  # the append still syncing
            self._again(workspace_id, seq, request, tries)
            return
        request = dataclasses.replace(request, future=Future())  # (a request is answered once)
        try:
            commit = self._store.writer.submit(request)
        except Exception as exc:  # QueueFull, StorageUnavailable, WriterStopped
            self._committed(workspace_id, seq, request, exc, tries=tries)
            return
        self._on_commit(workspace_id, seq, request, commit, tries=tries)

    def close(self) -> None:
        self._closed.set()  # no more tries: what is still not committed waits for the next start
        self._syncs.shutdown(wait=True)
        if self._takers is not None:
            self._takers.shutdown(wait=True)
        if self._journal_file is not None:
            self._journal_file.close()

    def _request(self, workspace_id: str, part: list[tuple[QueuedBatch, Any]]) -> WriteRequest:
        records = [r for batch, _ in part for r in batch.records] if self.direct else []
        message = encode_logs(records) if records else ExportLogsServiceRequest()
        prepared = prepare("logs", message, workspace_id)
        if prepared.result.rejected:
            raise RecordRefused(prepared.result.error_message)
        taken: dict[str, int] = {}  # none on a lake: committed when taken
        for batch, _ in part if self._shared is None else []:
            taken[batch.workflow_id] = max(taken.get(batch.workflow_id, 0), max(batch.execution_numbers) + 1)
        prepared.execution_numbers = ExecutionNumbers(workspace_id, taken)
        return WriteRequest("logs", message, workspace_id, prepared.result.accepted, prepared=prepared)


def _entry(request: WriteRequest, part: list[tuple[QueuedBatch, Any]]) -> Entry:
    """The journal line of a writer request of triggers."""
    assert request.prepared is not None and request.prepared.execution_numbers is not None
    ids = [e for batch, _ in part for e in batch.execution_ids]
    numbers = request.prepared.execution_numbers.next_numbers
    return Entry(request.workspace_id, ids, dict(numbers), request.message.SerializeToString())


def _settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)

"""The storage seam: what the collector, the API and the live feeds need from a store.

Every store (the embedded DuckDB file, DuckDB in memory, later a scale-out store) implements
`Store`; nothing above this layer knows which one it talks to. The contracts are written
beside each method and checked for every store by one conformance suite
(tests/storage/conformance/).

Shared rules, for every method of every interface here:
- **Tenancy.** Every read and write names its workspace; no method returns or changes data
  of another workspace. Ids (execution, trace, span, workflow) are unique only within one.
- **Not found** is `None` for one thing and an empty list for many, never an exception.
- **Time** is Unix nanoseconds (int) inside storage; windows are half-open `[start, end)`
  unless a method says otherwise.
- **Rows** are plain objects (dataclasses, dicts, tuples of Python values), never cursors,
  Arrow tables or protobuf bytes: decoding stored blobs is the store's job.
- **Reads are consistent**: one call answers from one committed state.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

from flowscope.storage.batches import ExportOutcome, WriteRequest
from flowscope.storage.catalog import Catalog
from flowscope.storage.changes import CommittedBatch
from flowscope.storage.executions import ExecutionReader
from flowscope.storage.metrics import CollectorMetrics
from flowscope.storage.rebuild import Derive, RebuildCounts
from flowscope.storage.replay import ReplayReader
from flowscope.storage.span_metrics import SpanMetricsReader
from flowscope.storage.tables import TableReader
from flowscope.storage.traces import TraceReader
from flowscope.storage.workflow_metrics import WorkflowMetricsReader
from prometheus_client import CollectorRegistry


@runtime_checkable
class TelemetryWriter(Protocol):
    """Appends prepared batches (`flowscope.storage.batches`), one writer per store."""

    max_queue_items: int
    """How many spans and records may wait at once; `submit` refuses more."""

    drain_rate: float
    """Spans and records committed per second while busy (for clients' retry advice)."""

    def submit(self, request: WriteRequest) -> Future[ExportOutcome]:
        """Queue one prepared request; raise `QueueFull` when it does not fit (an empty queue
        always takes one), `WriterStopped` once the store is closing.

        The future resolves only after the request's rows are **durable** (committed: a crash
        after that loses none of them), or fails with `StorageUnavailable` having stored none.
        Writes are **idempotent**: a span is identified by (workspace, trace id, span id) and a
        log record by (workspace, content hash); the first version stored wins, and later
        copies are counted as duplicates and dropped with the facts derived from them.
        Requests are committed in submission order; each commit is announced on the change
        feed after it is durable.
        A request whose prepared batch carries `execution_numbers` (`batches.ExecutionNumbers`:
        the numbers the API gave the executions it records) also raises each named workflow's
        `next_execution_number` in the catalog to at least the number given, never lowering it
        and ignoring workflows not in the catalog, atomically with the request's rows: the
        future resolves when both are durable, and a failure stores neither.
        """
        ...

    def has_room(self, items: int) -> bool:
        """Whether `submit` would take `items` now (receivers ask before converting)."""
        ...

    def converting(self) -> AbstractContextManager[None]:
        """Wraps a received request's conversion and its `submit`: a writer gathering a commit
        may wait a little for requests that are sure to come (storage/duckdb/pacing.py)."""
        ...

    def hurry(self) -> None:
        """Someone waits for what is submitted: commit it without delay. A writer may wait a
        little after a commit to take more requests in the next one (storage/duckdb/pacing.py);
        a read waiting for its commits asks it not to. Any thread; never blocks."""
        ...

    def on_commit(self, listener: Callable[[CommittedBatch], None]) -> None:
        """Call `listener` with each commit's batch on the writer thread, once it is durable and
        before its requests are answered (unlike the change feed, which delivers later, on a
        thread of its own): what a cache must forget before anyone can have been told of the
        commit. It must be quick; what it raises is logged, and the commit stands."""
        ...

    def expect_stored(self, executions: list[tuple[str, str]]) -> None:
        """(workspace id, execution id) of executions another writer of a shared store stored
        (another node's, on a lake): facts about them submitted after this call are folded
        into their stored rows, which this writer, knowing its own commits, would not look up."""
        ...

    @property
    def queued_items(self) -> int:
        """Spans and records submitted and not yet committed."""
        ...


class ChangeFeed(Protocol):
    """Committed changes, in commit order: what the live feeds and `/metrics` consume."""

    def subscribe(self, subscriber: Callable[[CommittedBatch], None]) -> Callable[[], None]:
        """Call `subscriber` with every batch committed from now on, on a thread of its own,
        in commit order; returns the function that unsubscribes. A subscriber more than a
        bounded number of batches behind loses batches (counted in `dropped`), never stalls
        the writer."""
        ...

    def flush(self) -> None:
        """Return once every batch published so far was delivered (tests, shutdown)."""
        ...

    @property
    def dropped(self) -> int:
        """Batches not delivered to slow subscribers so far."""
        ...


class Store(Protocol):
    """One store: a writer, a change feed, the catalog and the readers, with their lifecycle."""

    writer: TelemetryWriter
    changes: ChangeFeed
    registry: CollectorRegistry
    """Where the store's own health metrics (queue depth, commit latency) are registered."""
    metrics: CollectorMetrics
    schema_version: int
    answer_deadline_seconds: float | None
    """The longest a client waits for an answer that waits on the store (an export's commit, a
    GET on the API) before 503 "retry later"; None: no bound (a local file answers or fails)."""
    sole_writer: bool
    """Whether this process's writer makes every change to the store (a file one process holds;
    not a lake, which other nodes change too): then what its commits did not change is still
    what is stored, and readers may keep it (the step reads' caches, api/visibility.py)."""
    # --- readers
    span_metrics: SpanMetricsReader
    traces: TraceReader
    replay: ReplayReader
    catalog: Catalog
    executions: ExecutionReader
    tables: TableReader
    workflow_metrics: WorkflowMetricsReader

    def described(self) -> str:
        """The store as messages name it (a file's path; a lake's URL without its password)."""
        ...

    def start(self) -> None:
        """Begin taking writes (called once, before the first `submit`)."""
        ...

    def ping(self) -> bool:
        """Whether the store answers a trivial read now (readiness)."""
        ...

    def apply_retention(self, days: float) -> None:
        """Delete spans and records that started more than `days` ago, and finished executions
        that ended before then; returns once done."""
        ...

    def start_retention(self, days: float, interval_seconds: float = 300.0) -> None:
        """Apply retention every `interval_seconds` until `close`."""
        ...

    def mark_silent(self, heard_before_ns: int, except_service: str) -> int:
        """Executions still running that nothing was heard of since `heard_before_ns` (their
        last fact's arrival), other than `except_service`'s (our engine, which recovers its
        own), become `unknown`: a foreign run whose end never came is never shown completed.
        A later fact of one makes it running again, or ends it. Returns how many were marked."""
        ...

    def start_silence_sweep(self, silence_seconds: float, except_service: str) -> None:
        """Apply `mark_silent` for `silence_seconds` of silence, periodically, until `close`."""
        ...

    def start_step_warming(self) -> None:
        """Keep the step metrics of recently run workflows ready to answer, in the background,
        until `close` (a store that keeps no caches of them does nothing)."""
        ...

    def summarize(self) -> int:
        """Bring the summaries step metrics read (per-step summaries of sealed UTC days) up
        to date now, as the store's background maintenance does between commits; returns
        once done, with how many units of work it took. Step metrics answer the same before
        and after (summaries are a cache of the stored spans, never of anything else)."""
        ...

    def rebuild_summaries(self) -> int:
        """Recompute the summaries from the stored spans, in one transaction between commits;
        idempotent. Returns how many summary rows there are."""
        ...

    def rebuild_rows(self, derive: Derive) -> RebuildCounts:
        """Recompute what ingest derived from the stored spans and log records (their workflow
        columns, every execution row) by converting the stored bytes again with `derive`, in
        one transaction between commits: for when the rules of workflow_meaning changed or
        derived rows were lost. Idempotent; readers see the old rows or the new ones."""
        ...

    def close(self) -> None:
        """Commit everything already submitted, then release the store. Idempotent."""
        ...

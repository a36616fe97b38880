"""The DuckDB store: one file, one writer, per-thread read cursors.

Callers never hold the raw connection: writes go through `Store.writer`, reads
through `Store.read()` (a cursor private to the calling thread, so readers never
block each other or ingest).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb
from flowscope.storage.changes import EventBus
from flowscope.storage.duckdb import step_warming
from flowscope.storage.duckdb.catalog import DuckDBCatalog
from flowscope.storage.duckdb.day_cache import DayCache
from flowscope.storage.duckdb.errors import opening
from flowscope.storage.duckdb.executions import DuckDBExecutions
from flowscope.storage.duckdb.pacing import CommitPacing
from flowscope.storage.duckdb.rebuild import rebuild_rows
from flowscope.storage.duckdb.replay import DuckDBReplay
from flowscope.storage.duckdb.retention import delete_before
from flowscope.storage.duckdb.schema import migrate
from flowscope.storage.duckdb.span_metrics import DuckDBSpanMetrics
from flowscope.storage.duckdb.sqlfiles import sql
from flowscope.storage.duckdb.step_summaries import Maintenance
from flowscope.storage.duckdb.step_summary_reads import Caches, SummaryState
from flowscope.storage.duckdb.summary_cache import SummaryCache
from flowscope.storage.duckdb.tables import DuckDBTables
from flowscope.storage.duckdb.traces import DuckDBTraces
from flowscope.storage.duckdb.transaction import transaction
from flowscope.storage.duckdb.workflow_metrics import DuckDBWorkflowMetrics
from flowscope.storage.duckdb.writer import Writer
from flowscope.storage.metrics import CollectorMetrics
from flowscope.storage.rebuild import Derive, RebuildCounts
from prometheus_client import CollectorRegistry

from flowscope import conventions as c

log = logging.getLogger(__name__)
T = TypeVar("T")

# A new file in the newest storage format this DuckDB writes. DuckDB 1.5 otherwise writes
# the v0.10.2 format, which has no ZSTD for BLOBs: it silently ignores migration 004's
# `USING COMPRESSION zstd` and stores the span and log blobs uncompressed (~20x the bytes
# of ZSTD). DuckDB 2.0 writes its newest format by default. An existing file keeps its format.
STORAGE = {"storage_compatibility_version": "latest"}


class Store:
    def __init__(
        self,
        path: str | Path,
        *,
        registry: CollectorRegistry | None = None,
        max_queue_items: int = 200_000,
        max_batch_items: int = 50_000,
        commit_delay_seconds: float = 0.0,
        pacing: CommitPacing = CommitPacing(),
        memory_limit: str = "2GB",
        checkpoint_threshold: str = "64MB",
    ) -> None:
        self.path = str(path)
        # A larger checkpoint threshold than DuckDB's 16 MiB default: automatic
        # checkpoints stall a commit for 100-250 ms, and at 64 MiB they happen 4x less
        # often while WAL replay after a crash stays around a second.
        self._config = {"memory_limit": memory_limit, "checkpoint_threshold": checkpoint_threshold, **STORAGE}
        with opening(self.described()):  # locked by another process, unreadable, ...: StoreOpenError
            self._con = self._open()
        self._generation = 0  # bumped when the file is reopened: thread cursors are then renewed
        self.schema_version = self._migrate(self._con)
        self.registry = registry if registry is not None else CollectorRegistry()
        self.metrics = CollectorMetrics(self.registry)
        self.changes = EventBus()
        self.writer = self.writer_type(
            self._con.cursor(),
            self.changes,
            self.metrics,
            max_queue_items=max_queue_items,
            max_batch_items=max_batch_items,
            commit_delay_seconds=commit_delay_seconds,
            pacing=pacing,
            # ":memory:" opened again is a new, empty database without the schema: every
            # acknowledged row would be lost and every read fail. Writes fail instead.
            reopen=None if self.path == ":memory:" else self._reopen,
        )
        self.writer.step_days.load(self._con)
        self.step_summaries = Maintenance(self.writer)  # sealed days summarized off the commit path
        # Step metrics' current day, summarized once and kept while no commit changes it, and
        # each workflow's summary state and rollup, kept while the summaries do not change.
        self.day_cache = DayCache(self.writer.span_changes) if self.sole_writer else None
        self.summary_cache: SummaryCache[SummaryState] = SummaryCache(self.writer.step_days.changes)
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._cursors_lock = threading.Lock()
        self._retention_stop = threading.Event()
        self._closed = False
        # --- readers (one attribute per area; contracts in storage/interfaces.py)
        self.span_metrics = DuckDBSpanMetrics(self)
        self.traces = DuckDBTraces(self)
        self.replay = DuckDBReplay(self)
        self.catalog = DuckDBCatalog(self)
        self.executions = DuckDBExecutions(self)
        self.tables = DuckDBTables(self)
        self.workflow_metrics = DuckDBWorkflowMetrics(self)

    # --- what another store on DuckDB (storage/ducklake/) replaces ---------------------

    writer_type: type[Writer] = Writer
    answer_deadline_seconds: float | None = None  # a local file answers or fails
    sole_writer = True  # Store.sole_writer: this process holds the file

    def step_read_caches(self) -> Caches | None:
        """The step metrics reads' caches, with what a snapshot begun after this call holds."""
        if self.day_cache is None:
            return None
        summaries = self.summary_cache
        return Caches(self.day_cache, self.day_cache.committed(), summaries, summaries.changes.note())

    def described(self) -> str:
        """The database as messages name it."""
        return self.path

    def _open(self) -> duckdb.DuckDBPyConnection:
        """The connection of the first open (making the file's folder)."""
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        return self._connect()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """A connection to the database (at the first open and after a fatal error)."""
        return duckdb.connect(self.path, config=self._config)

    def _migrate(self, con: duckdb.DuckDBPyConnection) -> int:
        return migrate(con)

    def _checkpoint(self) -> None:
        """At close: write the WAL into the file (a clean open replays nothing)."""
        self._con.execute("CHECKPOINT")

    def start(self) -> None:
        self.writer.start()
        self.step_summaries.start()

    # --- reads -------------------------------------------------------------------

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's own cursor (DuckDB connections must not be shared across threads)."""
        cur = getattr(self._local, "cursor", None)
        if cur is None or self._local.generation != self._generation:
            generation = self._generation
            cur = self._con.cursor()
            self._local.cursor = cur
            self._local.generation = generation
            with self._cursors_lock:
                self._cursors.append(cur)
        return cur

    def read(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        return fn(self.cursor())

    def ping(self) -> bool:
        try:
            self.cursor().execute("SELECT 1").fetchone()
            return True
        except duckdb.Error:
            return False

    def _reopen(self) -> duckdb.DuckDBPyConnection:
        """Close every connection and open the file again (replaying its WAL), after a fatal
        error invalidated the DuckDB instance. Called on the writer thread; returns its cursor."""
        with contextlib.suppress(duckdb.Error):
            self._con.close()  # closes every cursor of the old instance too
        con = self._connect()
        with self._cursors_lock:
            self._cursors.clear()
            self._con = con
            self._generation += 1
        return con.cursor()

    # --- retention -------------------------------------------------------------------

    def start_retention(self, days: float, interval_seconds: float = 300.0) -> None:
        """Delete telemetry older than `days`, periodically, on the writer thread."""

        def loop() -> None:
            while not self._retention_stop.wait(interval_seconds):
                self.apply_retention(days)

        threading.Thread(target=loop, name="flowscope-retention", daemon=True).start()

    def apply_retention(self, days: float) -> None:
        cutoff = time.time_ns() - int(days * 86400 * 1e9)
        done = threading.Event()

        def task(con: duckdb.DuckDBPyConnection) -> None:
            change = self.writer.span_changes.begin(None)  # spans of any start may go
            try:
                with transaction(con):
                    deleted = delete_before(con, cutoff, self.writer.step_days)
            finally:
                self.writer.span_changes.done(change)
                done.set()
            self.metrics.retention_deleted.labels("traces").inc(deleted.spans)
            self.metrics.retention_deleted.labels("logs").inc(deleted.logs)
            self.metrics.retention_runs.inc()
            if deleted.spans:
                self.writer.spans_deleted(con)
            if deleted.logs:
                self.writer.records_deleted()

        self.writer.run_maintenance(task)
        done.wait(600)

    def mark_silent(self, heard_before_ns: int, except_service: str) -> int:
        def task(con: duckdb.DuckDBPyConnection) -> int:
            args = [c.UNKNOWN_STATUS, heard_before_ns, except_service]
            row = con.execute(sql("maintenance/mark_silent"), args).fetchone()
            return row[0] if row else 0

        return self.step_summaries.run_now(task)

    def start_silence_sweep(self, silence_seconds: float, except_service: str) -> None:
        """`mark_silent` what was silent for `silence_seconds`, checked a few times per silence."""
        interval = min(60.0, max(0.05, silence_seconds / 4))

        def loop() -> None:
            while not self._retention_stop.wait(interval):
                try:
                    self.mark_silent(time.time_ns() - int(silence_seconds * 1e9), except_service)
                except Exception:  # a failed sweep is retried at the next; ingest goes on
                    log.exception("marking silent executions unknown failed")

        threading.Thread(target=loop, name="flowscope-silence", daemon=True).start()

    def start_step_warming(self) -> None:
        """Keep the step metrics of recently run workflows ready (step_warming.py)."""
        step_warming.start(self, self._retention_stop)

    # --- step summaries (storage/duckdb/step_summaries.py) --------------------------------

    def summarize(self) -> int:
        return self.step_summaries.catch_up()

    def rebuild_summaries(self) -> int:
        return self.step_summaries.rebuild()

    def rebuild_rows(self, derive: Derive) -> RebuildCounts:
        def rebuild(con: duckdb.DuckDBPyConnection) -> RebuildCounts:
            # Spans' derived columns of any start, and the executions' totals, may change.
            change = self.writer.span_changes.begin(None)
            self.writer.step_days.changes.begin()
            try:
                counts = rebuild_rows(con, derive)
            finally:
                self.writer.span_changes.done(change)
            self.writer.rows_rebuilt(con)
            return counts

        return self.step_summaries.run_now(rebuild)

    # --- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        """Commit everything queued, then checkpoint and close the file."""
        if self._closed:
            return
        self._closed = True
        self._retention_stop.set()
        self.step_summaries.stop()
        self.writer.stop()
        try:
            self._checkpoint()
        except duckdb.Error as exc:
            log.warning("checkpoint at close failed: %s", exc)
        with self._cursors_lock:
            for cur in self._cursors:
                cur.close()
        self._con.close()

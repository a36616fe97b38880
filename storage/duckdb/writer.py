"""The single writer: a bounded queue in front of one thread that group-commits.

Receivers `submit()` decoded export requests and await the returned future; the
writer takes everything queued, converts it, inserts it in one transaction and only
then resolves each request's future. A request is therefore acknowledged only after
its rows are committed. When the queue is full, `submit()` raises `QueueFull` at once
so receivers answer 503/UNAVAILABLE instead of buffering without bound.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from itertools import pairwise
from operator import itemgetter
from typing import Any, TypeVar

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from flowscope.storage import later_tries
from flowscope.storage.batches import (
    BLOBLESS_SPAN_COLUMNS,
    EXEC_COLUMNS,
    EXEC_SCHEMA,
    ExecutionNumbers,
    ExportOutcome,
    Prepared,
    Rows,
    WriteRequest,
)
from flowscope.storage.changes import CommittedBatch, EventBus, WorkflowSpan
from flowscope.storage.duckdb import execution_summaries, step_summaries
from flowscope.storage.duckdb.day_cache import SpanChanges
from flowscope.storage.duckdb.errors import is_fatal
from flowscope.storage.duckdb.pacing import CommitPacing
from flowscope.storage.duckdb.recent_records import RecentRecords
from flowscope.storage.duckdb.sqlfiles import sql
from flowscope.storage.duckdb.transaction import rollback
from flowscope.storage.errors import QueueFull, StorageUnavailable, WriterStopped
from flowscope.storage.metrics import CollectorMetrics
from flowscope.storage.seen import SpanFilter

log = logging.getLogger(__name__)

T = TypeVar("T")

_STOP = object()
_HURRY = object()  # `hurry()`: commit what is gathered without waiting (storage/duckdb/pacing.py)

# _BY_NAME: the statements read each batch (an Arrow table) through DuckDB's replacement
# scan, which finds a table named in the SQL (`span_batch`, `log_batch`, ...) among the
# calling function's local variables. Hence the locals bound just before each statement.
# `con.register()` + `unregister()` would add a catalog entry and remove it again in the
# transaction: about 1.5 ms a table, a third of a trigger's one-row insert.


class Writer:
    """Owns the write cursor; everything that writes telemetry goes through here."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        bus: EventBus,
        metrics: CollectorMetrics,
        *,
        max_queue_items: int = 200_000,
        max_batch_items: int = 50_000,
        commit_delay_seconds: float = 0.0,
        pacing: CommitPacing = CommitPacing(),
        reopen: Callable[[], duckdb.DuckDBPyConnection] | None = None,
    ) -> None:
        self._con = con
        # After a fatal DuckDB error (e.g. a checkpoint hit a full disk) the instance is
        # invalidated: every later query fails until the file is opened again.
        self._reopen = reopen
        self._broken = False
        self._consecutive_failures = 0
        self._bus = bus
        self._commit_listeners: list[Callable[[CommittedBatch], None]] = []
        self._metrics = metrics
        self._queue: queue.Queue[Any] = queue.Queue()
        self._lock = threading.Lock()
        self._queued_items = 0
        self._max_queue_items = max_queue_items
        self.max_queue_items = max_queue_items
        self._max_batch_items = max_batch_items
        self._commit_delay = commit_delay_seconds  # test-only: simulates a slow disk
        self._pacing = pacing
        self._last_commit_end: float | None = None  # time.monotonic() after the last commit
        self._last_commit_seconds: float | None = None  # how long it took
        self._converting = 0  # requests being converted for `submit` (`converting`), under _lock
        self._arrived_meanwhile = False  # whether requests were queued while it ran
        # Ends a pacing wait early (enough items queued, `hurry`, `stop`): requests arriving
        # meanwhile do not wake the writer one by one.
        self._wake = threading.Event()
        self._stopping = False
        self._commit_seq = 0
        self.drain_rate = 0.0  # items per second while busy (EWMA over commits), for retry advice
        # Resource/scope ids known to be committed: most batches then skip the catalog inserts.
        self._known_catalog: dict[str, set[int]] = {"resource": set(), "scope": set()}
        # Span ids stored or queued (a Bloom filter): the dedupe looks up only spans it may have
        # seen. Submitters screen their spans against it (off the writer thread), in queue order.
        self._seen = SpanFilter()
        # Log record hashes stored or queued, likewise: a commit whose records are all new (an
        # execution the API records, most foreign logs) skips the duplicate query (~5 ms).
        self._seen_records = SpanFilter()
        # The log records committed lately (recent_records.py): a candidate record found there
        # is a stored duplicate without a query.
        self._recent_records = RecentRecords(_RECENT_RECORDS)
        # Executions with a stored summary (writer thread only): facts about new executions
        # only (the API's triggers) skip taking the stored summaries out of the table.
        self._seen_executions = SpanFilter()
        self._seen_lock = threading.Lock()
        self._expected: list[tuple[str, str]] = []  # `expect_stored`'s, under _seen_lock
        self._maintenance: list[Callable[[duckdb.DuckDBPyConnection], None]] = []
        self.step_days = step_summaries.SealedDays()  # the summarized days (step_summaries.py)
        self.span_changes = SpanChanges()  # each commit's earliest span start (day_cache.py)
        self._thread = threading.Thread(target=self._run, name="flowscope-writer", daemon=True)
        metrics.queue_capacity.set(max_queue_items)

    def start(self) -> None:
        """Build the span filter from the table (before any commit can need it), then run."""
        started = time.perf_counter()
        self._load_span_filter(self._con)
        log.info(
            "span dedupe filter built from %d stored spans in %.2f s (%.1f MiB)",
            self._seen.keys, time.perf_counter() - started, self._seen.nbytes / 2**20,
        )  # fmt: skip
        self._thread.start()

    def _load_span_filter(self, con: duckdb.DuckDBPyConnection) -> None:
        """A new filter from the stored spans, plus the spans queued (screened, not committed).

        Built outside the lock (submitters keep screening against the old one meanwhile);
        called on the writer thread or before it runs, so nothing commits while it builds and
        every span screened since is still in the queue when the new filter takes over."""
        fresh, fresh_records = _stored_keys(con, "ingest/span_keys"), _stored_keys(con, "ingest/record_keys")
        with self._seen_lock, self._queue.mutex:
            for request in self._queue.queue:
                if not isinstance(request, WriteRequest) or request.prepared is None:
                    continue
                if request.prepared.span_keys is not None:
                    fresh.add(request.prepared.span_keys)
                if request.prepared.logs is not None:
                    fresh_records.add(_record_keys(request.prepared.logs))
            self._seen, self._seen_records = fresh, fresh_records
        self._seen_executions = _stored_keys(con, "ingest/execution_keys")

    def spans_deleted(self, con: duckdb.DuckDBPyConnection) -> None:
        """After retention deleted spans (on the writer thread): rebuild the span filter once it
        holds more than twice the keys still stored, so its memory follows the table."""
        (stored,) = con.execute("SELECT count(*) FROM spans").fetchall()[0]
        if self._seen.keys > 2 * stored:
            self._load_span_filter(con)

    @property
    def queued_items(self) -> int:
        return self._queued_items

    def has_room(self, items: int) -> bool:
        """Whether `submit` would take `items` now (receivers check before converting)."""
        return not self._queued_items or self._queued_items + items <= self._max_queue_items

    def expect_stored(self, executions: list[tuple[str, str]]) -> None:
        with self._seen_lock:
            self._expected.extend(executions)

    def submit(self, request: WriteRequest) -> Future[ExportOutcome]:
        """Queue a request; raise QueueFull when it does not fit (an empty queue always takes one).

        The request comes prepared (`flowscope.collector.prepare`): conversion is the
        submitter's CPU work, off the writer thread.
        Its spans are screened against the span filter here, so the writer thread does no
        per-span work for new spans: screening and queueing happen in one order, so of two
        requests carrying the same span, the one queued later is the one screened as a candidate.
        """
        if request.prepared is None:
            raise ValueError("WriteRequest.prepared is required (flowscope.collector.prepare)")
        with self._seen_lock:
            with self._lock:
                self._check_room(request.items)
            _screen(self._seen, request.prepared)
            _screen_records(self._seen_records, request.prepared)
            with self._lock:
                self._check_room(request.items)  # (the writer only frees room meanwhile)
                self._queued_items += request.items
                self._metrics.queue_depth.set(self._queued_items)
                self._queue.put(request)
                if self._queued_items >= self._pacing.enough_items:
                    self._wake.set()  # a pacing wait ends: enough to commit
        return request.future

    @contextlib.contextmanager
    def converting(self) -> Iterator[None]:
        """Around a received request's conversion and `submit`: a gathering writer waits a
        little for it (storage/duckdb/pacing.py)."""
        with self._lock:
            self._converting += 1
        try:
            yield
        finally:
            with self._lock:
                self._converting -= 1
            self._wake.set()  # queued (or refused): a writer waiting for it goes on

    def _check_room(self, items: int) -> None:
        if self._stopping:
            raise WriterStopped("server is shutting down")
        if self._queued_items and self._queued_items + items > self._max_queue_items:
            raise QueueFull(
                f"write queue full ({self._queued_items} items waiting, capacity "
                f"{self._max_queue_items}); retry later"
            )

    def run_maintenance(self, task: Callable[[duckdb.DuckDBPyConnection], None]) -> None:
        """Run `task` on the writer thread between commits (retention, repairs)."""
        with self._lock:
            self._maintenance.append(task)
        self._queue.put(None)  # wake the writer

    def on_commit(self, listener: Callable[[CommittedBatch], None]) -> None:
        """`TelemetryWriter.on_commit`: called in `_commit`, before the requests are answered."""
        self._commit_listeners.append(listener)

    def hurry(self) -> None:
        """Someone waits for what is queued (a read at the visibility barrier): commit it
        without the pacing's wait. Any thread."""
        self._queue.put(_HURRY)
        self._wake.set()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop taking requests, commit everything already queued, then end the thread."""
        with self._lock:
            self._stopping = True
        self._queue.put(_STOP)
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # --- writer thread -----------------------------------------------------------

    # Seconds without a request after which the writer thread runs `_idle` (None: never; a
    # lake node reads the other nodes' commits then: storage/ducklake/writer.py).
    idle_seconds: float | None = None

    def _run(self) -> None:
        stop = False
        while not stop:
            if self._broken:
                self._try_reopen()
            # While broken, wake up now and then to try reopening the file.
            timeout = 1.0 if self._broken else self.idle_seconds
            try:
                item = self._queue.get() if timeout is None else self._queue.get(timeout=timeout)
            except queue.Empty:
                if not self._broken:
                    self._idle()
                continue
            batch: list[WriteRequest] = []
            stop = self._gather(item, batch)
            if batch:
                started = time.monotonic()
                self._commit(batch)
                self._last_commit_end = time.monotonic()
                self._last_commit_seconds = self._last_commit_end - started
                self._arrived_meanwhile = not self._queue.empty()  # (pacing.py)
                items = sum(r.items for r in batch)
                with self._lock:
                    self._queued_items -= items
                    self._metrics.queue_depth.set(self._queued_items)
            else:  # woken for maintenance, and nothing else was queued: the writer is idle
                self._arrived_meanwhile = False
            self._run_maintenance()
            self.step_days.changes.settle()  # every transaction of this round has ended

    def _gather(self, item: Any, batch: list[WriteRequest]) -> bool:
        """Add `item` and what is queued after it to `batch`, waiting as `self._pacing` says
        while the batch is small; whether the writer was told to stop."""
        items = 0
        deadline: float | None = None
        # Until when to wait for requests in conversion (pacing.py), from the gathering's start.
        converted_by = self._pacing.conversion_deadline(time.monotonic(), self._last_commit_seconds)
        hurried = False
        while True:
            if item is _STOP:
                return True
            if item is _HURRY:
                hurried = True
            elif item is not None:
                batch.append(item)
                items += item.items
            if items >= self._max_batch_items:
                return False
            try:
                item = self._queue.get_nowait()
                continue
            except queue.Empty:
                item = None
            if not batch or hurried:  # woken for maintenance only, or someone waits
                return False
            now = time.monotonic()
            if deadline is None:
                deadline = self._pacing.deadline(items, self._last_commit_end, self._arrived_meanwhile, now)
            paced = deadline is not None and now < deadline and items < self._pacing.enough_items
            converting = converted_by is not None and now < converted_by and self._converting > 0
            if not paced and not converting:
                return False
            until = max(t for t, waits in ((deadline, paced), (converted_by, converting)) if waits and t)
            self._wake.clear()
            # (a conversion that ended since the check above woke nothing: look again)
            if self._queue.empty() and (paced or self._converting > 0):  # else take what came first
                self._wake.wait(until - now)

    def _idle(self) -> None:
        """Work for the writer thread when no request came for `idle_seconds` (none here)."""

    def _run_maintenance(self) -> None:
        with self._lock:
            tasks, self._maintenance = self._maintenance, []
        for task in tasks:
            try:
                task(self._con)
            except Exception:
                log.exception("writer maintenance task failed")

    def _try_reopen(self) -> bool:
        if self._reopen is None:
            return False
        try:
            self._con = self._reopen()
        except Exception as exc:
            log.error("database still unavailable: %s", exc)
            return False
        self._broken = False
        self._consecutive_failures = 0
        log.warning("database reopened after a fatal error")
        return True

    def _reopen_cures(self, exc: Exception) -> bool:
        """Whether opening the database again may cure the failed commit's cause. Fatal errors
        invalidate the instance; a run of ordinary failures may mean a connection left in a
        bad state: both are cured by opening the file again."""
        return is_fatal(exc) or (
            self._reopen is not None and self._consecutive_failures >= _REOPEN_AFTER_FAILURES
        )

    def _commit(self, batch: list[WriteRequest]) -> None:
        started = time.perf_counter()
        if self._broken and not self._try_reopen():
            error = StorageUnavailable("storage unavailable: the database could not be reopened; retry later")
            for request in batch:
                request.future.set_exception(error)
            return
        if self._commit_delay:
            time.sleep(self._commit_delay)
        parts: list[Prepared] = []
        for request in batch:
            prepared = request.prepared
            assert prepared is not None  # submit() converted it
            parts.append(prepared)
            if prepared.result.rejected:
                self._metrics.rejected.labels(request.signal).inc(prepared.result.rejected)
        try:
            committed = self._insert(parts)
        except Exception as exc:
            log.error("commit failed: %s", exc)
            self._metrics.commit_failures.inc()
            self._consecutive_failures += 1
            if self._reopen_cures(exc):
                self._broken = True
            error = StorageUnavailable(f"storage unavailable: {exc}")
            for request in batch:
                request.future.set_exception(error)
            return
        self._consecutive_failures = 0
        if self._broken:  # committed, but the instance is invalidated: reopen before answering
            self._try_reopen()
        for listener in self._commit_listeners:
            try:
                listener(committed)
            except Exception:
                log.exception("commit listener failed")
        for request, part in zip(batch, parts, strict=True):
            result = part.result
            request.future.set_result(ExportOutcome(result.accepted, result.rejected, result.error_message))
        items = sum(r.items for r in batch)
        elapsed = time.perf_counter() - started
        self._metrics.commit_items.observe(items)
        self._metrics.commit_seconds.observe(elapsed)
        rate = items / max(elapsed, 1e-6)
        self.drain_rate = rate if not self.drain_rate else 0.7 * self.drain_rate + 0.3 * rate
        self._bus.publish(committed)

    def _insert(self, parts: list[Prepared]) -> CommittedBatch:
        span_tables = [p.spans for p in parts if p.spans is not None]
        log_tables = [p.logs for p in parts if p.logs is not None]
        spans = pa.concat_tables(span_tables) if span_tables else None
        logs = pa.concat_tables(log_tables) if log_tables else None
        # Per row of `spans` / `logs`: may be stored already (None: none may).
        candidates = _row_mask([(p.spans, p.candidates) for p in parts])
        record_candidates = _row_mask([(p.logs, p.record_candidates) for p in parts])
        candidates, record_candidates = self._lookups(spans, candidates, logs, record_candidates)
        rows = Rows()
        for p in parts:
            rows.executions.extend(p.executions)
            rows.resources.update(p.resources)
            rows.scopes.update(p.scopes)
            rows.workflow_spans.extend(p.workflow_spans)
            rows.workflow_logs.extend(p.workflow_logs)
        numbers = [p.execution_numbers for p in parts if p.execution_numbers is not None]
        return self._write(spans, logs, rows, candidates, numbers, record_candidates)

    def _lookups(
        self, spans: pa.Table | None, candidates: npt.NDArray[np.bool_] | None,
        logs: pa.Table | None, record_candidates: npt.NDArray[np.bool_] | None,
    ) -> tuple[npt.NDArray[np.bool_] | None, npt.NDArray[np.bool_] | None]:  # fmt: skip
        """Which spans and log records the commit looks up as maybe stored (None: none): those
        this writer's filters may have seen, since it alone writes the file."""
        return candidates, record_candidates

    def _write(
        self, spans: pa.Table | None, logs: pa.Table | None, rows: Rows,
        candidates: npt.NDArray[np.bool_] | None, numbers: list[ExecutionNumbers] | None = None,
        record_candidates: npt.NDArray[np.bool_] | None = None,
    ) -> CommittedBatch:  # fmt: skip
        """One transaction: dedupe, insert, fold the execution facts, commit.

        A span is identified by (workspace, trace id, span id) alone, and the first version
        stored wins: a later one with the same ids (an exporter retry, or other content, or
        another start time) is dropped whole, with the facts derived from it (the execution
        summary, bus events), so every reader sees the first version. One exception: a step
        span sent again as that step's later try replaces the stored one (Airflow 3.2+ sends
        every try of a task under one span id: storage/later_tries.py has the rule).
        """
        con = self._con
        try:
            con.execute("BEGIN")
        except duckdb.TransactionException:
            # An earlier failure left a transaction open (its ROLLBACK failed too): without
            # this, every later commit would fail the same way.
            log.warning("ending a transaction left open by an earlier failure")
            con.execute("ROLLBACK")
            con.execute("BEGIN")
        try:
            dup_spans: set[tuple[Any, ...]] = set()
            tries: later_tries.LaterTries | None = None
            if spans is not None and candidates is not None:  # else all new: insert them as they are
                spans, dup_spans, tries = self._dedupe_spans(spans, candidates)
            dup_logs: set[tuple[Any, ...]] = set()
            if logs is not None and record_candidates is not None:
                logs, dup_logs = self._dedupe_logs(logs, record_candidates)
            new_resources = self._insert_catalog("resource", rows.resources) if rows.resources else []
            new_scopes = self._insert_catalog("scope", rows.scopes) if rows.scopes else []
            if spans is not None:
                if spans.num_rows:
                    span_batch = spans  # noqa: F841  (scanned by name: see _BY_NAME)
                    con.execute(sql("ingest/insert_spans"))
                self.step_days.spans_stored(con, spans)  # no statement unless late step runs
            if logs is not None and logs.num_rows:
                log_batch = logs  # noqa: F841
                con.execute(sql("ingest/insert_logs"))
            facts = _new_facts(rows.executions, dup_spans)
            if facts:
                self._merge_executions(facts)
            if numbers:
                _persist_execution_numbers(con, numbers)
            self._before_commit(spans, logs)
            change = self.span_changes.begin(_changed_starts(spans, tries))
            try:
                con.execute("COMMIT")
            except duckdb.FatalException as exc:
                if "COMMIT succeeded" not in str(exc):
                    raise
                # Durable in the WAL; only the automatic checkpoint after it failed (and
                # invalidated the instance): acknowledge, and reopen before the next commit.
                log.error("checkpoint after commit failed: %s", exc)
                self._broken = True
            finally:
                self.span_changes.done(change)
            self._remember_catalog("resource", new_resources)
            self._remember_catalog("scope", new_scopes)
            if logs is not None and logs.num_rows:
                self._remember_records(logs)
        except BaseException:
            rollback(con)
            raise
        self._commit_seq += 1
        n_spans = spans.num_rows if spans is not None else 0
        n_logs = logs.num_rows if logs is not None else 0
        self._metrics.stored.labels("traces").inc(n_spans)
        self._metrics.stored.labels("logs").inc(n_logs)
        # No candidates: the filters say none of them was stored before or comes twice (`_screen`),
        # so the live feed hears every one (the lists are this commit's own).
        heard_spans = rows.workflow_spans
        if candidates is not None:
            heard_spans = _heard_spans(heard_spans, dup_spans, tries)
        heard_logs = rows.workflow_logs
        if record_candidates is not None:
            heard_logs = _unique(heard_logs, dup_logs, [(r.workspace_id, r.record_hash) for r in heard_logs])
        return CommittedBatch(
            commit_seq=self._commit_seq,
            spans=spans.select(BLOBLESS_SPAN_COLUMNS) if spans is not None else None,
            log_count=n_logs,
            workflow_spans=heard_spans,
            workflow_logs=heard_logs,
            replaced_steps=tries.replaced_rows if tries is not None else None,
        )

    def _before_commit(self, spans: pa.Table | None, logs: pa.Table | None) -> None:
        """The last statement of a commit's transaction, with the rows it inserts (a lake
        labels its commits for the other nodes: storage/ducklake/writer.py); none in the file."""

    def _dedupe_spans(
        self, spans: pa.Table, candidates: npt.NDArray[np.bool_]
    ) -> tuple[pa.Table, set[tuple[Any, ...]], later_tries.LaterTries | None]:
        """Drop spans stored before (whatever their start time) and repeats within the batch,
        but for later tries of steps (`_later_tries`); also returns the ids found stored (less
        those a later try replaced) and what later tries changed. Only the candidates (spans
        the filter may have seen, which includes every repeat of a span queued earlier) are
        looked up."""
        stored = self._stored_ids(spans, candidates)
        ids = list(zip(*(spans.column(k).to_pylist() for k in _SPAN_KEY), strict=True))
        keep = _first_occurrences(ids, stored)
        if keep is None:
            return spans, stored, None
        tries = self._later_tries(spans, ids, keep, stored)
        if tries is not None:
            keep = tries.keep
            stored -= tries.replaced
        self._metrics.duplicated.labels("traces").inc(len(ids) - sum(keep))
        return spans.filter(pa.array(keep)), stored, tries

    def _later_tries(
        self, spans: pa.Table, ids: list[tuple[Any, ...]], keep: list[bool], stored: set[tuple[Any, ...]]
    ) -> later_tries.LaterTries | None:
        """Later tries of steps among the repeated spans (storage/later_tries.py); None when
        there are none. The stored tries they replace are deleted here, in the batch's
        transaction, and the summarized days those started on are marked stale."""
        maybe = later_tries.candidates(spans, ids, keep)
        if not maybe:
            return None
        asked = sorted(key for key in maybe if key in stored)
        found = None
        earlier: dict[tuple[Any, ...], later_tries.Try] = {}
        if asked:
            params = _span_keys_params(asked)
            found = self._con.sql(sql("ingest/stored_step_tries"), params=params).to_arrow_table()
            earlier = dict(zip(later_tries.keys(found), later_tries.tries(found), strict=True))
        tries = later_tries.resolve(spans, ids, keep, maybe, earlier)
        if tries.replaced and found is not None:
            self._con.execute(sql("ingest/delete_spans"), _span_keys_params(sorted(tries.replaced)))
            gone = pa.array([key in tries.replaced for key in later_tries.keys(found)], pa.bool_())
            tries.replaced_rows = found.filter(gone)
            self.step_days.spans_stored(self._con, tries.replaced_rows)  # their days counted them
        return tries

    def _stored_ids(self, spans: pa.Table, candidates: npt.NDArray[np.bool_]) -> set[tuple[Any, ...]]:
        """Ids of the batch's spans found stored: only the candidates are looked up."""
        return self._stored_spans(spans.filter(pa.array(candidates)))

    def _stored_in_window(self, candidates: pa.Table) -> set[tuple[Any, ...]]:
        """Ids of the candidate spans stored in the candidates' start-time clusters (cheap:
        where a retry finds its copy, which keeps its start time)."""
        candidate_batch = candidates.select([*_SPAN_KEY, "start_ns"])  # noqa: F841
        window, params = _window("start_ns", candidates)
        statement = sql("ingest/stored_spans_in_window").replace("{time_ranges}", window)
        return {tuple(r) for r in self._con.execute(statement, params).fetchall()}

    def _stored_spans(self, candidates: pa.Table) -> set[tuple[Any, ...]]:
        """Ids of the candidate spans that are stored: first in the candidates' start-time
        clusters, then, for the rest, by trace id."""
        con = self._con
        found = self._stored_in_window(candidates)
        candidate_batch = candidates  # noqa: F841  (stored_spans_of_traces scans it by name)
        ids = zip(*(candidates.column(k).to_pylist() for k in _SPAN_KEY), strict=True)
        traces = sorted({trace for ws, trace, span in ids if (ws, trace, span) not in found})
        for start in range(0, len(traces), _TRACES_PER_LOOKUP):
            chunk = traces[start : start + _TRACES_PER_LOOKUP]
            statement = sql("ingest/stored_spans_of_traces").replace(
                "{placeholders}", ", ".join("?" * len(chunk))
            )
            found.update(tuple(r) for r in con.execute(statement, chunk).fetchall())
        return found

    def _merge_executions(self, facts: list[tuple[Any, ...]]) -> None:
        """Fold the facts into the executions' summaries; when the filter says none of these
        executions is stored (new ones: the API's triggers), without looking them up."""
        keys = execution_summaries.touched(facts)
        with self._seen_lock:
            expected, self._expected = self._expected, []
        if expected:
            self._seen_executions.add(_execution_keys(expected)[0])
        screened, complete = _execution_keys(keys)
        stored = []
        if self._executions_maybe_stored(screened, complete):
            stored = self._take_executions(keys)
        self._seen_executions.add(screened)
        summaries = _insert_summaries(self._con, stored, facts)
        self.step_days.executions_stored(self._con, [*stored, *summaries])  # no statement unless late

    def _executions_maybe_stored(self, screened: npt.NDArray[np.uint64], complete: bool) -> bool:
        """Whether some of these executions may have a stored summary (the filter screens only
        the trace-id execution ids, `complete` when every id was one)."""
        return not complete or bool(self._seen_executions.may_contain(screened).any())

    def _take_executions(self, keys: list[tuple[str, str]]) -> list[tuple[Any, ...]]:
        """Delete the stored summaries of these (workspace, execution) and return them."""
        return _take_executions(self._con, keys)

    def _remember_catalog(self, kind: str, ids: list[int]) -> None:
        known = self._known_catalog[kind]
        if len(known) + len(ids) > _CATALOG_CACHE_IDS:
            known.clear()  # a cache only: the anti-join insert stays correct without it
        known.update(ids)

    def _remember_records(self, logs: pa.Table) -> None:
        self._recent_records.remember(logs.column("workspace_id"), _record_keys(logs))

    def rows_rebuilt(self, con: duckdb.DuckDBPyConnection) -> None:
        """After a rebuild replaced the execution rows (on the writer thread): the filters
        again hold exactly what is stored, so no stored execution is taken for a new one."""
        self._load_span_filter(con)

    def records_deleted(self) -> None:
        """After retention deleted log records (on the writer thread): none is known stored."""
        self._recent_records.clear()

    def _dedupe_logs(
        self, table: pa.Table, candidates: npt.NDArray[np.bool_]
    ) -> tuple[pa.Table, set[tuple[Any, ...]]]:
        """Drop log records already stored (exporter retries, the engine's copies of the
        records the API committed) and repeats within the batch.

        Candidates committed lately are known stored. For any other candidate one query
        looks up the batch: a record's key is the hash of its whole content, time included,
        so a stored copy has the same time, and only the batch's time clusters are read.
        """
        keys = _log_keys(table)
        maybe = {k for k, candidate in zip(keys, candidates.tolist(), strict=True) if candidate}
        stored = self._recent_records.known(maybe)
        if len(stored) < len(maybe):  # some candidate is not known: ask the table
            stored.update(self._stored_records(table))
        keep = _first_occurrences(keys, stored)
        if keep is None:
            return table, stored
        self._metrics.duplicated.labels("logs").inc(len(keys) - sum(keep))
        return table.filter(pa.array(keep, pa.bool_())), stored

    def _stored_records(self, table: pa.Table) -> set[tuple[Any, ...]]:
        """(workspace, record hash) of the batch's records stored already: one query reading
        the batch's time clusters only."""
        window, params = _window("time_ns", table)
        log_batch = table  # noqa: F841
        statement = sql("ingest/log_duplicates").replace("{time_ranges}", window)
        found = self._con.execute(statement, params).fetchall()
        return {tuple(r[1:]) for r in found if r[0] == "stored"}

    def _insert_catalog(self, kind: str, entries: dict[int, tuple[bytes, str]]) -> list[int]:
        """Store resources/scopes not stored yet; returns the ids written (known once committed)."""
        known = self._known_catalog[kind]
        new = [key for key in entries if key not in known]
        if not new:
            return []
        table = pa.table({
            "id": pa.array(new, pa.uint64()),
            kind: pa.array([entries[k][0] for k in new], pa.binary()),
            "schema_url": pa.array([entries[k][1] for k in new], pa.string()),
        })  # fmt: skip
        resource_batch = scope_batch = table  # noqa: F841  (the statement scans one of them)
        self._con.execute(sql(f"ingest/insert_{kind}s"))
        return new


_NO_STARTS = np.zeros(0, np.int64)


def _changed_starts(spans: pa.Table | None, tries: later_tries.LaterTries | None) -> npt.NDArray[np.integer]:
    """The start times of the spans a commit stores, and of the earlier tries it deletes."""
    parts = [
        t.column("start_ns").to_numpy()
        for t in (spans, tries.replaced_rows if tries is not None else None)
        if t is not None and t.num_rows
    ]
    if not parts:
        return _NO_STARTS
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _window(column: str, table: pa.Table) -> tuple[str, list[int]]:
    """SQL condition and parameters selecting stored rows in the batch's time clusters."""
    ranges = time_ranges(table.column(column))
    return " OR ".join(f"{column} BETWEEN ? AND ?" for _ in ranges), [b for r in ranges for b in r]


_CATALOG_CACHE_IDS = 100_000
_RECENT_RECORDS = 100_000  # committed log records remembered (~2.5 MB): minutes of triggers
_SPAN_KEY = ("workspace_id", "trace_id", "span_id")
_TRACES_PER_LOOKUP = 500  # trace ids per indexed lookup (DuckDB scans the table past ~2,000 rows)
_NO_KEYS = np.zeros(0, dtype=np.uint64)
_TRACE_ID = re.compile("[0-9a-f]{32}")
_EXEC_WORKSPACE = EXEC_COLUMNS.index("workspace_id")
_EXEC_ID = EXEC_COLUMNS.index("execution_id")
_EXEC_ROOT_SPAN = EXEC_COLUMNS.index("root_span_id")
_REOPEN_AFTER_FAILURES = 3
DEDUPE_GAP_NS = 60 * 10**9
DEDUPE_MAX_RANGES = 16
_ZERO_NS = pa.scalar(0.0, pa.float64())


def time_ranges(
    times: pa.ChunkedArray | pa.Array, gap_ns: int = DEDUPE_GAP_NS, max_ranges: int = DEDUPE_MAX_RANGES
) -> list[tuple[int, int]]:
    """The batch's times as a few [lo, hi] clusters (split where sorted times jump by > gap_ns).

    The dedupe scans stored rows only inside these ranges; one span that started an hour
    before the others (a long workflow root, a skewed clock) then adds one small range
    instead of stretching a single window over an hour of stored rows. At most
    `max_ranges` ranges: the largest gaps are the ones kept as splits.
    """
    values = times.combine_chunks() if isinstance(times, pa.ChunkedArray) else times
    ordered = pc.take(values, pc.array_sort_indices(values))
    n = len(ordered)
    if n == 0:
        return []
    # Differences in float64: uint64 differences overflow pyarrow's checked int64 result for
    # timestamps near 2^64, and ~256 ns of precision is plenty to find minute-long gaps.
    # Typed scalars: a Python one costs a type inference per call (see api/prometheus_metrics.py).
    diffs = pc.fill_null(pc.pairwise_diff(pc.cast(ordered, pa.float64(), safe=False)), _ZERO_NS)
    gap = pa.scalar(float(gap_ns), pa.float64())
    splits = pc.indices_nonzero(pc.greater(diffs, gap)).to_pylist()  # i: gap between i-1 and i
    if len(splits) >= max_ranges:
        widest = pc.take(diffs, pa.array(splits, pa.int64())).to_pylist()
        keep = sorted(sorted(range(len(splits)), key=lambda k: widest[k], reverse=True)[: max_ranges - 1])
        splits = [splits[k] for k in keep]
    edges = [0, *splits, n]
    return [(ordered[a].as_py(), ordered[b - 1].as_py()) for a, b in pairwise(edges)]


def _screen(seen: SpanFilter, prepared: Prepared) -> None:
    """Mark the request's spans the filter may have seen (`prepared.candidates`), then add them.
    A request repeating a span of its own is looked up whole (rare)."""
    keys = prepared.span_keys
    if keys is None or not keys.size:
        return
    maybe = seen.may_contain(keys)
    if np.unique(keys).size != keys.size:  # equal keys: the same ids, or (rarely) a collision
        maybe[:] = True
    seen.add(keys)
    prepared.candidates = maybe if maybe.any() else None


def _screen_records(seen: SpanFilter, prepared: Prepared) -> None:
    """Mark the request's log records the filter may have seen (`prepared.record_candidates`:
    the commit looks them up), then add them. A request repeating a record of its own is
    looked up whole."""
    if prepared.logs is None or not prepared.logs.num_rows:
        prepared.record_candidates = None
        return
    keys = _record_keys(prepared.logs)
    maybe = seen.may_contain(keys)
    if np.unique(keys).size != keys.size:  # equal keys: the same record, or (rarely) a collision
        maybe[:] = True
    seen.add(keys)
    prepared.record_candidates = maybe if maybe.any() else None


def _row_mask(
    parts: list[tuple[pa.Table | None, npt.NDArray[np.bool_] | None]],
) -> npt.NDArray[np.bool_] | None:
    """The requests' row masks over their tables concatenated (a part without one: all
    False); None when no part has one."""
    if all(mask is None for table, mask in parts if table is not None):
        return None
    return np.concatenate([
        mask if mask is not None else np.zeros(table.num_rows, dtype=bool)
        for table, mask in parts if table is not None
    ])  # fmt: skip


def _log_keys(logs: pa.Table) -> list[tuple[str, int]]:
    """(workspace, record hash) of each row: a stored record's identity."""
    workspaces, hashes = logs.column("workspace_id").to_pylist(), logs.column("record_hash").to_pylist()
    return list(zip(workspaces, hashes, strict=True))


def _record_keys(logs: pa.Table) -> npt.NDArray[np.uint64]:
    return logs.column("record_hash").to_numpy().astype(np.uint64, copy=False)


def _stored_keys(con: duckdb.DuckDBPyConnection, query: str) -> SpanFilter:
    """A filter holding the keys `query` gives (one UBIGINT column), read in chunks."""
    reader = con.sql(sql(query)).to_arrow_reader(1 << 20)
    fresh = SpanFilter()
    fresh.rebuild(np.concatenate([b.column(0).to_numpy() for b in reader] or [_NO_KEYS]))
    return fresh


def _first_occurrences(keys: list[tuple[Any, ...]], stored: set[tuple[Any, ...]]) -> list[bool] | None:
    """Mask keeping the first occurrence of each key not already stored; None = keep all."""
    if not stored and len(set(keys)) == len(keys):
        return None
    seen = set(stored)
    keep = []
    for key in keys:
        if key in seen:
            keep.append(False)
        else:
            seen.add(key)
            keep.append(True)
    return keep


def _take_executions(con: duckdb.DuckDBPyConnection, keys: list[tuple[str, str]]) -> list[tuple[Any, ...]]:
    """Delete the stored summaries of these (workspace, execution) and return them."""
    cursor = con.execute(
        sql("ingest/take_executions"),
        {"execution_ids": list(dict.fromkeys(k[1] for k in keys)), "keys": [f"{ws}\0{e}" for ws, e in keys]},
    )
    names = [d[0] for d in cursor.description]
    in_fact_order = itemgetter(*(names.index(c) for c in EXEC_COLUMNS))  # a C call per row
    return list(map(in_fact_order, cursor.fetchall()))


def _execution_keys(keys: list[tuple[str, str]]) -> tuple[npt.NDArray[np.uint64], bool]:
    """Filter keys of the trace-id execution ids (as ingest/execution_keys.sql computes them),
    and whether every id was one (others cannot be screened: they are always looked up)."""
    hexes = [e for _, e in keys if _TRACE_ID.fullmatch(e)]
    return np.array([int(e[16:], 16) for e in hexes], dtype=np.uint64), len(hexes) == len(keys)


def _insert_summaries(
    con: duckdb.DuckDBPyConnection, stored: list[tuple[Any, ...]], facts: list[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    """Insert the facts folded into the stored summaries (storage/duckdb/execution_summaries.py);
    returns the rows inserted."""
    summaries = execution_summaries.fold(stored, facts)
    # Column by column: half the cost of from_pylist's dict per row (~1 ms per 500 rows).
    columns = zip(*summaries, strict=True) if summaries else ([] for _ in EXEC_SCHEMA)
    table = pa.Table.from_arrays(
        [pa.array(column, type=field.type) for column, field in zip(columns, EXEC_SCHEMA, strict=True)],
        schema=EXEC_SCHEMA,
    )
    exec_batch = table  # noqa: F841  (scanned by name: see _BY_NAME)
    con.execute(sql("ingest/insert_executions"))
    return summaries


def _persist_execution_numbers(con: duckdb.DuckDBPyConnection, numbers: list[ExecutionNumbers]) -> None:
    """Raise the workflows' counters past the numbers taken, in the current transaction."""
    largest: dict[str, dict[str, int]] = {}
    for n in numbers:
        taken = largest.setdefault(n.workspace_id, {})
        for wf, next_number in n.next_numbers.items():
            taken[wf] = max(taken.get(wf, next_number), next_number)
    for workspace_id, taken in largest.items():
        if not taken:  # a lake's triggers: their numbers were committed when taken
            continue
        con.execute(
            sql("ingest/persist_execution_numbers"),
            {"workspace_id": workspace_id, "workflow_ids": list(taken), "next_numbers": list(taken.values())},
        )


def _new_facts(facts: list[tuple[Any, ...]], dup_spans: set[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Execution facts without those of root spans that were not stored (stored before, or
    repeated earlier in the batch): the summary follows the stored version of a span.
    Facts of lifecycle records (no root span) are kept: records dedupe by content."""
    seen = set(dup_spans)
    kept = []
    for fact in facts:
        root = fact[_EXEC_ROOT_SPAN]
        if root is not None:
            key = (fact[_EXEC_WORKSPACE], fact[_EXEC_ID], root)  # a root's execution id is its trace id
            if key in seen:
                continue
            seen.add(key)
        kept.append(fact)
    return kept


def _heard_spans(
    spans: list[WorkflowSpan], stored: set[tuple[Any, ...]], tries: later_tries.LaterTries | None
) -> list[WorkflowSpan]:
    """The workflow spans the live feed hears, in order: each span not stored before, once, and
    for a step that later tries replaced, each of its tries stored in turn."""
    if tries is None or not tries.changed:
        return _unique(spans, stored, [(s.workspace_id, s.trace_id, s.span_id) for s in spans])
    heard, seen = set(tries.heard), set(stored)
    out = []
    for span in spans:
        key = (span.workspace_id, span.trace_id, span.span_id)
        if key in tries.changed:
            version = (key, span.start_ns, span.end_ns)
            if version in heard:
                heard.discard(version)
                out.append(span)
        elif key not in seen:
            seen.add(key)
            out.append(span)
    return out


def _span_keys_params(keys: list[tuple[Any, ...]]) -> dict[str, list[str]]:
    """Parameters naming (workspace, trace, span) keys: $traces for the trace_id index,
    $keys the keys joined with NUL."""
    return {"traces": sorted({trace for _, trace, _ in keys}), "keys": ["\0".join(key) for key in keys]}


def _unique(items: list[T], stored: set[Any], keys: list[Any]) -> list[T]:
    """Items whose key (`keys[i]` is items[i]'s) is neither stored before nor seen earlier in the
    list. The writer runs it on every commit's workflow spans and records: in the common case,
    none stored and no key twice, that is told by one set and the list is returned whole."""
    if not stored and len(set(keys)) == len(keys):
        return list(items)
    seen = set(stored)
    out = []
    for item, k in zip(items, keys, strict=True):
        if k not in seen:
            seen.add(k)
            out.append(item)
    return out

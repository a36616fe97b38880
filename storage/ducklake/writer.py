"""The DuckDB store's writer (storage/duckdb/writer.py) on DuckLake: the same commits, but for
the one statement DuckLake cannot run (DELETE ... RETURNING), a commit that lost to a
concurrent one is run again, each commit is labelled for the other nodes' followers
(labels.py, follow.py), one the catalog or the data path refused fails as `StorageUnavailable`
saying which (storage/ducklake/failures.py): receivers answer 503/UNAVAILABLE and the exporter
sends the batch again; and what the other nodes committed is deduplicated against.

Several nodes write one lake, so a batch may hold rows another node stored: an exporter's retry
that landed elsewhere, or the same execution's telemetry split over nodes. Each node's dedupe
filters therefore also hold what the other nodes committed (others.py: read from DuckLake's
insertions of their snapshots, before each commit, after it and when idle), and a commit looks
up the lake only for the rows some filter may have seen, as a file does: a span another node's
commit inserted lately is known stored without a lookup (its exact id is kept), the other
candidates are looked up in the batch's own time clusters (a retry keeps its spans' start
times and its records' content: that is where its copy is), and the stored execution rows are
taken only for executions some filter may hold (or whose ids are not trace ids).

What that cannot see: a copy another node committed after the read this commit started from
(both insert; DuckLake lets two inserts commit side by side). The read right after the commit
lists those commits and compares the ids they inserted with the batch's; where some are the
same, the node removes the copies (`_repair`): of each span or record stored twice the first
committed copy stays (lowest snapshot, then row id: every node picks the same), and an
execution stored as two rows is folded into one. Only the commits made before this node's are
compared: of one landing after it, the other node's read either listed this commit before its
own began (then its filters held these rows) or lists it after (then that node compares). Two
repairs of the same copies both delete from the table, which DuckLake refuses for the second: it
runs again and finds nothing left."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from flowscope.storage.batches import EXEC_COLUMNS, Prepared
from flowscope.storage.changes import CommittedBatch
from flowscope.storage.duckdb import execution_summaries
from flowscope.storage.duckdb.writer import (
    _SPAN_KEY,
    Writer,
    _insert_summaries,
    _log_keys,
    _record_keys,
    _window,
)
from flowscope.storage.ducklake import failures, labels
from flowscope.storage.ducklake.conflicts import is_conflict
from flowscope.storage.ducklake.others import LakeDedupeMetrics, OtherCommits, OtherKeys, Read, span_ids
from flowscope.storage.ducklake.sqlfiles import required

log = logging.getLogger(__name__)
COMMIT_TRIES = 5


class LakeWriter(Writer):
    idle_seconds = 1.0  # an idle node reads the other nodes' commits this often (others.py)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.node_id = ""  # the store's (LakeStore.__init__ calls `join`)
        self._others: OtherCommits | None = None
        self._other_keys = OtherKeys()
        self._lake_metrics = LakeDedupeMetrics(self._metrics.registry)
        # Per row of the commit's spans / records: whether the other nodes' filters may have seen
        # it; and this node's own span candidates (`_lookups` sets them, `_stored_ids` reads them).
        self._other_spans: npt.NDArray[np.bool_] | None = None
        self._own_span_candidates: npt.NDArray[np.bool_] | None = None
        self._idle_failures = 0

    def join(self, node_id: str, conninfo: str, data_path: str) -> None:
        """This node's id on the lake, the catalog the other nodes' commits are listed from, and
        the data path their files are read under."""
        self.node_id = node_id
        self._others = OtherCommits(conninfo, node_id, data_path)

    def start(self) -> None:
        """The other nodes' commits are read from the lake's newest snapshot on: taken before the
        filters are built from the tables, so no commit falls in between."""
        assert self._others is not None, "LakeStore joins its writer to the lake before starting it"
        self._others.open()
        super().start()

    def stop(self, timeout: float | None = 30.0) -> None:
        super().stop(timeout)
        if self._others is not None:
            self._others.close()

    def _before_commit(self, spans: pa.Table | None, logs: pa.Table | None) -> None:
        label = labels.label(self.node_id, spans, logs)
        self._con.execute(
            required("follow/label_commit"),
            {"author": labels.AUTHOR, "node_id": label.node_id, "extra_info": label.extra_info()},
        )

    def _insert(self, parts: list[Prepared]) -> CommittedBatch:
        """Read what the other nodes committed since the last read (the snapshot this commit
        starts from), screen the batch against it, commit, then read again: the other commits
        that landed in between and inserted some of the batch's rows committed copies, which
        `_repair` removes. A commit that lost to a concurrent lake commit (`flowscope maintain`
        compacting a table this one deletes from) rolled back whole; it runs again on the new
        snapshot, so exporters are not answered 503 for it. What the failed try left in memory
        is only ever more than was stored (the dedupe filters may say "maybe seen": a lookup),
        as after any failed commit."""
        try:
            self._catch_up(None)
        except duckdb.Error as exc:
            unavailable = failures.unavailable(exc)
            if unavailable is not None:
                raise unavailable from None  # (the cause's message holds the conninfo)
            raise
        self._screen_others(parts)
        for attempt in range(1, COMMIT_TRIES + 1):
            try:
                committed = super()._insert(parts)
                break
            except duckdb.Error as exc:
                unavailable = failures.unavailable(exc)
                if unavailable is not None:
                    raise unavailable from None  # (the cause's message holds the conninfo)
                if attempt == COMMIT_TRIES or not is_conflict(exc):
                    raise
                log.warning(
                    "commit lost to a concurrent lake commit (try %d), retrying the commit: %s", attempt, exc
                )
        else:
            raise AssertionError("unreachable")
        try:
            raced = self._catch_up(parts)
        except duckdb.Error as exc:  # the batch is committed: it is answered as such
            log.error("cannot tell whether another node committed copies at the same time: %s",
                      failures.unavailable(exc) or exc)  # fmt: skip
            raced = False
        if raced:
            self._lake_metrics.repairs.inc()
            self._repair(parts)
        return committed

    def _idle(self) -> None:
        try:
            self._catch_up(None)
        except duckdb.Error as exc:  # the next commit reads them, or fails as unavailable
            self._idle_failures += 1
            if self._idle_failures == 1 or self._idle_failures % 100 == 0:
                log.warning("reading the other nodes' commits (try %d): %s", self._idle_failures,
                            failures.unavailable(exc) or exc)  # fmt: skip
        else:
            self._idle_failures = 0

    def _catch_up(self, parts: list[Prepared] | None) -> bool:
        """Read the other nodes' commits since the last read into the filters; with the `parts`
        just committed, whether those committed before this one inserted some of their rows."""
        assert self._others is not None
        try:
            read = self._others.read(self._con)
        except duckdb.Error as exc:
            if failures.unavailable(exc) is not None:
                raise
            # Not read, and never will be (their snapshots expired, ...): start over from the
            # tables, which hold every node's rows, rather than fail every commit after.
            log.warning("reading the other nodes' commits failed, rebuilding the dedupe filters: %s", exc)
            read = Read(skipped=True)
            self._others.open()
        if read.skipped:
            log.warning("reading the other nodes' commits: rebuilding the dedupe filters from the tables")
            self._load_span_filter(self._con)  # every node's rows are in the tables
            return parts is not None  # unknown: look for copies
        self._other_keys.add(read)
        self._lake_metrics.other_commits.inc(read.snapshots)
        if read.records is not None and read.records.num_rows:
            self._remember_records(read.records)
        return parts is not None and bool(read.snapshots) and _overlaps(read, parts)

    def _load_span_filter(self, con: duckdb.DuckDBPyConnection) -> None:
        super()._load_span_filter(con)
        self._other_keys.reset()  # the tables held what they had

    def _screen_others(self, parts: list[Prepared]) -> None:
        """Which of the commit's spans the other nodes' commits read so far may hold: their keys
        came after the batch was screened against this node's own filter (at submit)."""
        with_spans = [p for p in parts if p.spans is not None]
        if not with_spans:
            self._other_spans = None
            return
        maybe = [
            self._other_keys.spans.may_contain(p.span_keys) if p.span_keys is not None
            else np.ones(p.spans.num_rows, dtype=np.bool_)  # (never: prepare keys every span)
            for p in with_spans if p.spans is not None
        ]  # fmt: skip
        self._other_spans = np.concatenate(maybe)

    def _lookups(
        self, spans: pa.Table | None, candidates: npt.NDArray[np.bool_] | None,
        logs: pa.Table | None, record_candidates: npt.NDArray[np.bool_] | None,
    ) -> tuple[npt.NDArray[np.bool_] | None, npt.NDArray[np.bool_] | None]:  # fmt: skip
        """This node's candidates (as on a file) and the rows the other nodes' filters may hold."""
        self._own_span_candidates = candidates
        others = self._other_spans
        if spans is not None and others is not None and others.any():
            candidates = others if candidates is None else candidates | others
        if logs is not None and logs.num_rows:
            maybe = self._other_keys.records.may_contain(_record_keys(logs))
            if maybe.any():
                record_candidates = maybe if record_candidates is None else record_candidates | maybe
        return candidates, record_candidates

    def _stored_ids(self, spans: pa.Table, candidates: npt.NDArray[np.bool_]) -> set[tuple[Any, ...]]:
        """Candidates another node's commit read lately inserted are stored (no lookup); the
        rest of this node's own are looked up as on a file (their window, then by trace id),
        the rest of the other nodes' only in their start-time clusters, where another node's
        copy of a retried batch is (a retry keeps its spans' start times)."""
        rows = np.flatnonzero(candidates)
        asked = spans.take(pa.array(rows))
        known = self._other_keys.known_spans(span_ids(asked))
        found: set[tuple[Any, ...]] = set()
        if known.any():
            stored = asked.filter(pa.array(known))
            found.update(zip(*(stored.column(k).to_pylist() for k in _SPAN_KEY), strict=True))
        rest = np.zeros(len(candidates), dtype=np.bool_)
        rest[rows[~known]] = True
        own = self._own_span_candidates
        mine = rest & own if own is not None else np.zeros_like(rest)
        theirs = rest & ~mine
        if mine.any():
            self._lake_metrics.lookups.labels("spans").inc()
            found |= self._stored_spans(spans.filter(pa.array(mine)))
        if theirs.any():
            self._lake_metrics.lookups.labels("spans").inc()
            found |= self._stored_in_window(spans.filter(pa.array(theirs)))
        return found

    def _stored_records(self, table: pa.Table) -> set[tuple[Any, ...]]:
        self._lake_metrics.lookups.labels("logs").inc()
        return super()._stored_records(table)

    def _executions_maybe_stored(self, screened: npt.NDArray[np.uint64], complete: bool) -> bool:
        """Also when the other nodes' filter may hold one of them."""
        return super()._executions_maybe_stored(screened, complete) or bool(
            self._other_keys.executions.may_contain(screened).any()
        )

    def _repair(self, parts: list[Prepared]) -> None:
        """Remove the copies of this batch's spans, records and execution rows that another
        node committed while this commit ran (the module's docstring says which stay). The
        batch is committed whatever happens here: a repair that fails is logged, and its
        copies read twice."""
        for attempt in range(1, COMMIT_TRIES + 1):
            try:
                self._con.execute("BEGIN")
                removed = self._remove_copies(parts)
                self._con.execute("COMMIT")
            except duckdb.Error as exc:
                with contextlib.suppress(duckdb.Error):
                    self._con.execute("ROLLBACK")
                if attempt == COMMIT_TRIES or not is_conflict(exc):
                    log.error("removing copies another node committed at the same time failed: %s", exc)
                    return
                continue
            if any(removed):
                log.info(
                    "removed copies another node committed at the same time: %d spans, %d log records, "
                    "%d executions folded", *removed,
                )  # fmt: skip
            return

    def _remove_copies(self, parts: list[Prepared]) -> tuple[int, int, int]:
        con = self._con
        counts = [0, 0, 0]
        for i, (table, kind, time_column) in enumerate(
            (("spans", "span", "start_ns"), ("logs", "log", "time_ns"))
        ):
            tables = [t for p in parts if (t := getattr(p, table)) is not None and t.num_rows]
            if not tables:
                continue
            repair_batch = pa.concat_tables(tables)  # the copies statements scan it by name
            window, params = _window(time_column, repair_batch)
            statement = required(f"ingest/{kind}_copies").replace("{time_ranges}", window)
            copies = [row[0] for row in con.execute(statement, params).fetchall()]
            if copies:
                self._delete_rows(table, copies)
            counts[i] = len(copies)
        keys = execution_summaries.touched(f for p in parts for f in p.executions)
        if keys:
            execution_keys = _keys_table(keys)  # noqa: F841  (split_executions scans it by name)
            split = [tuple(r) for r in con.execute(required("ingest/split_executions")).fetchall()]
            if split:
                taken = self._take_executions(split)
                self.step_days.executions_stored(con, [*taken, *_insert_summaries(con, taken, [])])
            counts[2] = len(split)
        return counts[0], counts[1], counts[2]

    def _reopen_cures(self, exc: Exception) -> bool:
        """Never on a lake. Its instance is never invalidated (extensions.CONFIG), and the
        postgres extension's pool connects anew once PostgreSQL answers (failures.py), so a
        reopen cures nothing; and closing the instance under a serving node aborts it: with
        PostgreSQL ending sessions (measured: pg_terminate_backend in a loop), three failed
        commits in a row (most not worded as the catalog unreachable, e.g. "Failed to prepare
        COPY ...: " with libpq's reason empty) reopened it, and DuckDB threw "Failed to execute
        query ROLLBACK" out of a destructor while closing (std::terminate: SIGABRT)."""
        return False

    def _take_executions(self, keys: list[tuple[str, str]]) -> list[tuple[Any, ...]]:
        self._lake_metrics.lookups.labels("executions").inc()
        execution_keys = _keys_table(keys)  # noqa: F841  (stored_executions scans it by name)
        cursor = self._con.execute(required("ingest/stored_executions"))
        names = [d[0] for d in cursor.description]
        order = [names.index(c) for c in EXEC_COLUMNS]
        rows = cursor.fetchall()
        if rows:
            self._delete_rows("executions", [row[0] for row in rows])
        return [tuple(row[i] for i in order) for row in rows]

    def _delete_rows(self, table: str, rowids: list[int]) -> None:
        doomed_rows = pa.table({"rowid": pa.array(rowids, pa.int64())})  # noqa: F841  (scanned by name)
        self._con.execute(required("ingest/delete_rows").replace("{table}", table))


def _overlaps(read: Read, parts: list[Prepared]) -> bool:
    """Whether the other commits of `read` made before this node's own inserted some of the
    spans, log records or execution rows of `parts` (exact ids, not filters)."""
    spans = read.before_own(read.spans)
    if spans is not None and spans.num_rows:
        theirs = spans.column("id").combine_chunks()
        batches = [p.spans for p in parts if p.spans is not None and p.spans.num_rows]
        if any(pc.any(pc.is_in(span_ids(t), value_set=theirs)).as_py() for t in batches):
            return True
    records = read.before_own(read.records)
    if records is not None and records.num_rows:
        stored = set(_log_keys(records))
        if any(key in stored for p in parts if p.logs is not None for key in _log_keys(p.logs)):
            return True
    executions = read.before_own(read.executions)
    if executions is not None and executions.num_rows:
        stored_ids = set(executions.column("id").to_pylist())
        touched = execution_summaries.touched(f for p in parts for f in p.executions)
        if any(f"{ws}\0{e}" in stored_ids for ws, e in touched):
            return True
    return False


def _keys_table(keys: list[tuple[str, str]]) -> pa.Table:
    """(workspace id, execution id) pairs as the Arrow table the statements join with."""
    return pa.table({
        "workspace_id": pa.array([ws for ws, _ in keys], pa.string()),
        "execution_id": pa.array([e for _, e in keys], pa.string()),
    })  # fmt: skip

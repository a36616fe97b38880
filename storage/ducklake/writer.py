"""The DuckDB store's writer (storage/duckdb/writer.py) on DuckLake: the same commits, but for
the one statement DuckLake cannot run (DELETE ... RETURNING), a commit that lost to a
concurrent one is run again, each commit is labelled for the other nodes' followers
(labels.py, follow.py), one the catalog or the data path refused fails as `StorageUnavailable`
saying which (storage/ducklake/failures.py): receivers answer 503/UNAVAILABLE and the exporter
sends the batch again; and what other nodes committed is looked up.

Several nodes write one lake, and each one's dedupe filters hold only its own commits: a batch
another node stored (an exporter's retry that landed elsewhere, or the same execution's
telemetry split over nodes) passes them as new. So on a lake every commit also looks up the
spans and log records its filters call new, in the batch's own time clusters only (a retry
keeps its spans' start times and its records' content: that is where its copy is; no trace-id
lookup, which scans the lake: the lake has no index), and always takes the stored execution
rows its facts fold into.

What that cannot see: a copy another node commits while this commit runs (both look, neither
finds, both insert; DuckLake lets two inserts commit side by side). So when another snapshot
landed while a commit ran, the node looks again right after it and removes the copies
(`_repair`): of each span or record stored twice the first committed copy stays (lowest
snapshot, then row id: every node picks the same), and an execution stored as two rows is
folded into one. Two repairs of the same copies both delete from the table, which DuckLake
refuses for the second: it runs again and finds nothing left."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
from flowscope.storage.batches import EXEC_COLUMNS, Prepared
from flowscope.storage.changes import CommittedBatch
from flowscope.storage.duckdb import execution_summaries
from flowscope.storage.duckdb.writer import Writer, _insert_summaries, _window
from flowscope.storage.ducklake import failures, labels
from flowscope.storage.ducklake.conflicts import is_conflict
from flowscope.storage.ducklake.sqlfiles import required

log = logging.getLogger(__name__)
COMMIT_TRIES = 5


class LakeWriter(Writer):
    node_id = ""  # the store's (LakeStore sets it before the writer starts)

    def _before_commit(self, spans: pa.Table | None, logs: pa.Table | None) -> None:
        label = labels.label(self.node_id, spans, logs)
        self._con.execute(
            required("follow/label_commit"),
            {"author": labels.AUTHOR, "node_id": label.node_id, "extra_info": label.extra_info()},
        )

    def _insert(self, parts: list[Prepared]) -> CommittedBatch:
        """A commit that lost to a concurrent lake commit (`flowscope maintain` compacting a
        table this one deletes from: "another transaction has compacted it") rolled back
        whole; it runs again on the new snapshot, so exporters are not answered 503 for it.
        What the failed try left in memory is only ever more than was stored (the dedupe
        filters may say "maybe seen": a lookup), as after any failed commit."""
        try:
            before = self._snapshot()
        except duckdb.Error as exc:
            unavailable = failures.unavailable(exc)
            if unavailable is not None:
                raise unavailable from None  # (the cause's message holds the conninfo)
            raise
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
            raced = self._snapshot() > before + 1  # another commit landed while this one ran
        except duckdb.Error as exc:  # the batch is committed: it is answered as such
            log.error("cannot tell whether another node committed copies at the same time: %s",
                      failures.unavailable(exc) or exc)  # fmt: skip
            raced = False
        if raced:
            self._repair(parts)
        return committed

    def _snapshot(self) -> int:
        """The lake's latest snapshot: read before a commit and after it, it says whether
        another commit landed in between (more than this one's snapshot was added)."""
        row = self._con.execute(required("current_snapshot")).fetchone()
        return int(row[0]) if row else 0

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
                _insert_summaries(con, self._take_executions(split), [])
            counts[2] = len(split)
        return counts[0], counts[1], counts[2]

    def _lookups(
        self, spans: pa.Table | None, candidates: npt.NDArray[np.bool_] | None,
        logs: pa.Table | None, record_candidates: npt.NDArray[np.bool_] | None,
    ) -> tuple[npt.NDArray[np.bool_] | None, npt.NDArray[np.bool_] | None]:  # fmt: skip
        """Every span is looked up (`_stored_ids` says how), and every log record: its lookup
        reads only the batch's own time clusters."""
        if spans is not None and candidates is None:
            candidates = np.zeros(spans.num_rows, dtype=np.bool_)
        if logs is not None:
            record_candidates = np.ones(logs.num_rows, dtype=np.bool_)
        return candidates, record_candidates

    def _stored_ids(self, spans: pa.Table, candidates: npt.NDArray[np.bool_]) -> set[tuple[Any, ...]]:
        """The filter's candidates as on a file (their window, then by trace id); the spans it
        calls new only in their start-time clusters, where another node's copy of a retried
        batch is."""
        found = self._stored_spans(spans.filter(pa.array(candidates))) if candidates.any() else set()
        others = spans.filter(pa.array(~candidates))
        if others.num_rows:
            found |= self._stored_in_window(others)
        return found

    def _executions_maybe_stored(self, screened: npt.NDArray[np.uint64], complete: bool) -> bool:
        """Always: another node may have stored any execution's row."""
        return True

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


def _keys_table(keys: list[tuple[str, str]]) -> pa.Table:
    """(workspace id, execution id) pairs as the Arrow table the statements join with."""
    return pa.table({
        "workspace_id": pa.array([ws for ws, _ in keys], pa.string()),
        "execution_id": pa.array([e for _, e in keys], pa.string()),
    })  # fmt: skip

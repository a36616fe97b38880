"""`ExecutionReader` on DuckLake: the DuckDB store's reads (storage/duckdb/executions.py), with
an execution's row found without a scan of its table and its spans read in one scan.

A lake has no index: a read by id scans every Parquet file of its table, pruned only by
min/max statistics. Executions are sorted by workflow (lists and metrics read one workflow's
row groups), then by id (lake migration 007), so the row of an execution is found in one row group
once its workflow is known; the id alone reads every row group's ids. The reads here take the
workflow ids from what they read of the execution's trace anyway: a details read from its
spans (read first here), a row read from its log records. Those ids are the ones ingest folded
into the row (the row's facts come from the trace's root span and lifecycle records), but the
row keeps the latest, so when none of them finds it the id alone is read, as on the file: the
answer is the file's either way; only its cost differs.

Where a details read's time goes at 10M spans (session 10, the bench's copied lake: 4 span
files of 379 row groups of 8,192 rows, sorted by trace id; CPU ms per statement, DuckDB 1.5.5,
machine loaded, so ratios only). The trace's spans cost by the columns read, not by the rows
found: one column 18-27, 4 columns 25, execution_spans.sql's 16 columns 68-98, all 24
74-96; planning is 6 whatever the columns. The bare Parquet file has the same shape (wall ms:
a point lookup of 24 columns 50-60 against 11 for 4, and 22 against 1 when no row group can
match). A narrow first read, then the wide one, does not pay: a filter on `rowid` prunes no
file, and one on `filename` / `file_row_number` reads one file but costs what `filename` alone
does (two statements, 22 + 35, against 73 for the one scan). Row
groups of 2,048 or 32,768 rows instead of 8,192 cost more or the same. PostgreSQL's own time is
a few ms per request (log_min_duration_statement): ~8-10 catalog round trips per statement.
"""

from __future__ import annotations

import duckdb
from flowscope.storage.duckdb.errors import mapped_errors
from flowscope.storage.duckdb.executions import (
    BLOB_ROLES,
    DuckDBExecutions,
    _row,
    _SpanRow,
    assemble,
    workflow_spans,
)
from flowscope.storage.duckdb.snapshot import snapshot
from flowscope.storage.duckdb.sqlfiles import sql
from flowscope.storage.ducklake.sqlfiles import required
from flowscope.storage.executions import ExecutionRecords, ExecutionRow, Page


class LakeExecutions(DuckDBExecutions):
    def execution(self, workspace_id: str, execution_id: str) -> ExecutionRow | None:
        params = {"workspace_id": workspace_id, "execution_id": execution_id}
        with mapped_errors():
            cur = self._store.cursor()
            found = cur.execute(required("queries/execution_by_records"), params).fetchall()
            if found:
                return ExecutionRow(*found[0][1:])
            return _row(cur, workspace_id, execution_id)

    def page(
        self,
        workspace_id: str,
        workflow_id: str,
        *,
        status: str | None = None,
        skip: int = 0,
        limit: int = 10,
    ) -> Page[ExecutionRow]:
        """As the file's, in one statement with the count (sql/queries/executions_page.sql)."""
        params = {"workspace_id": workspace_id, "workflow_id": workflow_id, "status": status}
        with mapped_errors(), snapshot(self._store.cursor()) as cur:
            if limit:
                page = {**params, "skip": skip, "limit": limit}
                rows = cur.execute(required("queries/executions_page"), page).fetchall()
                if rows:
                    return Page([ExecutionRow(*r[:-1]) for r in rows], rows[0][-1])
            (total,) = cur.execute(sql("queries/executions_count"), params).fetchone()  # type: ignore[misc]
        return Page([], total)

    def records(self, workspace_id: str, execution_id: str) -> ExecutionRecords | None:
        with mapped_errors(), snapshot(self._store.cursor()) as cur:
            spans = _spans(cur, workspace_id, execution_id)
            row = _row_in(cur, workspace_id, execution_id, {s.workflow_id for s in spans if s.workflow_id})
            return assemble(cur, workspace_id, execution_id, row, spans)


def _spans(cur: duckdb.DuckDBPyConnection, workspace_id: str, execution_id: str) -> list[_SpanRow]:
    """As the file's `_spans` (the workspace's workflow spans by start time, the root's and
    steps' with their blobs), in one scan (sql/queries/execution_spans.sql)."""
    params = {"workspace_id": workspace_id, "execution_id": execution_id, "blob_roles": list(BLOB_ROLES)}
    stored = cur.execute(required("queries/execution_spans"), params).fetchall()
    return [s for _, s in workflow_spans(((r[0], r[1], _SpanRow(*r[2:])) for r in stored), workspace_id)]


def _row_in(
    cur: duckdb.DuckDBPyConnection, workspace_id: str, execution_id: str, workflow_ids: set[str]
) -> ExecutionRow | None:
    """The execution's row, looked up among these workflows' executions first."""
    if workflow_ids:
        params = {
            "workspace_id": workspace_id,
            "execution_id": execution_id,
            "workflow_ids": sorted(workflow_ids),
        }
        found = cur.execute(required("queries/execution_in_workflows"), params).fetchall()
        if found:
            return ExecutionRow(*found[0][1:])
    return _row(cur, workspace_id, execution_id)

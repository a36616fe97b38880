"""`WorkflowMetricsReader` on DuckDB (contracts in `flowscope.storage.workflow_metrics`)."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from flowscope.storage.duckdb import step_summary_reads
from flowscope.storage.duckdb.began import began_in
from flowscope.storage.duckdb.errors import mapped_errors
from flowscope.storage.duckdb.snapshot import snapshot
from flowscope.storage.duckdb.sqlfiles import sql
from flowscope.storage.workflow_metrics import (
    DailyCount,
    DurationPoint,
    FinishedDurations,
    OpenCount,
    StepTotals,
    WorkflowSummaryRow,
    WorkflowTotals,
)

if TYPE_CHECKING:
    from flowscope.storage.duckdb.store import Store

_EPOCH_DAY = date(1970, 1, 1)


def _in_window(name: str, since_ns: int, until_ns: int) -> str:
    """The statement `queries/<name>` over the executions begun in [since_ns, until_ns)."""
    return sql(f"queries/{name}").replace("{began}", began_in([(since_ns, until_ns)]))


class DuckDBWorkflowMetrics:
    def __init__(self, store: Store) -> None:
        self._store = store

    def _all(self, name: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        return self._run(sql(f"queries/{name}"), params)

    def _run(self, statement: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        with mapped_errors():
            return self._store.cursor().execute(statement, params).fetchall()

    def workflow_totals(
        self, workspace_id: str, workflow_id: str, since_ns: int, until_ns: int
    ) -> WorkflowTotals:
        params = {"workspace_id": workspace_id, "workflow_id": workflow_id}
        with mapped_errors():
            caches = self._store.step_read_caches()  # before the snapshot begins
            cur = self._store.cursor()
            # Two reads (the summary state, then the rows) when the state may serve: one snapshot.
            with snapshot(cur) if caches is not None else contextlib.nullcontext(cur):
                finished = step_summary_reads.finished_executions(
                    cur, workspace_id, workflow_id, since_ns, until_ns, caches
                )
                statement = _in_window("workflow_metrics", since_ns, until_ns).replace("{finished}", finished)
                rows = cur.execute(statement, params).fetchall()
        # One row always (aggregates without GROUP BY); sums are NULL over no rows.
        [(total, completed, failed, timeout, cancelled, total_duration, avg_d, min_d, max_d, q, running,
          pending)] = rows  # fmt: skip
        q = q or [None] * 4
        return WorkflowTotals(
            finished=total,
            completed=int(completed or 0),
            failed=int(failed or 0),
            timeout=int(timeout or 0),
            cancelled=int(cancelled or 0),
            running=running,
            pending=pending,
            total_duration_seconds=float(total_duration),
            average_duration_seconds=avg_d,
            min_duration_seconds=min_d,
            max_duration_seconds=max_d,
            p50_duration_seconds=q[0],
            p90_duration_seconds=q[1],
            p95_duration_seconds=q[2],
            p99_duration_seconds=q[3],
        )

    def step_totals(
        self, workspace_id: str, workflow_id: str, since_ns: int, until_ns: int
    ) -> list[StepTotals]:
        with mapped_errors():
            cursor = self._store.cursor()
            caches = self._store.step_read_caches()  # before the snapshot begins
            cursor.execute("BEGIN TRANSACTION")  # every read sees one committed state
            try:
                steps = step_summary_reads.read_step_totals(
                    cursor, workspace_id, workflow_id, since_ns, until_ns, caches
                )
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")
        return steps

    def workflow_summaries(self, workspace_id: str, since_ns: int, until_ns: int) -> list[WorkflowSummaryRow]:
        params = {"workspace_id": workspace_id, "since": since_ns, "until": until_ns}
        out = []
        for (workflow_id, name, description, catalogued, service, last_id, last_status, last_created, running,
             pending, finished, completed, q) in self._all("overview_workflows", params):  # fmt: skip
            q = q or [None, None]
            out.append(
                WorkflowSummaryRow(
                    workflow_id=workflow_id,
                    name=name,
                    description=description,
                    catalogued=catalogued,
                    service_name=service,
                    last_execution_id=last_id,
                    last_status=last_status,
                    last_created_ns=last_created,
                    running=running,
                    pending=pending,
                    finished=finished,
                    completed=completed,
                    p50_duration_seconds=q[0],
                    p95_duration_seconds=q[1],
                )
            )
        return out

    def executions_per_day(self, workspace_id: str, since_ns: int) -> list[DailyCount]:
        rows = self._all("overview_trend", {"workspace_id": workspace_id, "trend_since": since_ns})
        return [
            DailyCount(workflow_id, _EPOCH_DAY + timedelta(days=day), executions, failed)
            for workflow_id, day, executions, failed in rows
        ]

    def finished_durations(
        self, workspace_id: str, workflow_id: str, since_ns: int, until_ns: int, limit: int
    ) -> FinishedDurations:
        statement = _in_window("workflow_durations", since_ns, until_ns)
        params = {"workspace_id": workspace_id, "workflow_id": workflow_id, "limit": limit}
        rows = self._run(statement, params)
        points = [DurationPoint(*row[:5]) for row in rows]
        return FinishedDurations(points=points, total=rows[0][5] if rows else 0)

    def open_counts(self) -> list[OpenCount]:
        return [OpenCount(*row) for row in self._all("open_counts", {})]

"""Workflow and per-step aggregates (definitions in schemas/metrics.py and the README)."""

from __future__ import annotations

from datetime import datetime

import duckdb
from flowscope.api.schemas.metrics import StepMetrics, WorkflowMetricsSummary, WorkflowStepMetrics
from flowscope.api.sqlfiles import sql
from flowscope.api.timefmt import dt_to_ns

_FOREVER = 2**63 - 1


def _window(since: datetime | None, until: datetime | None) -> dict[str, int]:
    return {
        "since": dt_to_ns(since) if since else 0,
        "until": dt_to_ns(until) if until else _FOREVER,
    }


def success_rate(completed: int, finished: int) -> float:
    """Percent of finished executions that completed; 0 when none finished (README "Metrics")."""
    return 100.0 * completed / finished if finished else 0.0


def workflow_metrics(
    cur: duckdb.DuckDBPyConnection,
    workspace_id: str,
    workflow_id: str,
    since: datetime | None,
    until: datetime | None,
) -> tuple[WorkflowMetricsSummary, int]:
    """The summary, and how many executions (of any status) it saw."""
    params = {"workspace_id": workspace_id, "workflow_id": workflow_id, **_window(since, until)}
    row = cur.execute(sql("workflow_metrics"), params).fetchone()
    opened = cur.execute(sql("workflow_open_counts"), params).fetchone()
    assert row is not None and opened is not None
    (total, completed, failed, timeout, cancelled, total_duration, avg_d, min_d, max_d, q) = row
    running, pending = opened
    completed, failed, timeout, cancelled = (int(n or 0) for n in (completed, failed, timeout, cancelled))
    q = q or [None] * 4
    summary = WorkflowMetricsSummary(
        total_duration_seconds=float(total_duration),
        success_rate=success_rate(completed, total),
        total_executions=total,
        successful_executions=completed,
        failed_executions=failed + timeout,
        average_duration_seconds=float(avg_d or 0.0),
        min_duration_seconds=min_d,
        max_duration_seconds=max_d,
        p50_duration_seconds=q[0],
        p90_duration_seconds=q[1],
        p95_duration_seconds=q[2],
        p99_duration_seconds=q[3],
        cancelled_executions=cancelled,
        timeout_executions=timeout,
        running_executions=running,
        pending_executions=pending,
        since=since,
        until=until,
    )
    return summary, total + running + pending


def step_metrics(
    cur: duckdb.DuckDBPyConnection,
    workspace_id: str,
    workflow_id: str,
    since: datetime | None,
    until: datetime | None,
) -> WorkflowStepMetrics:
    params = {"workspace_id": workspace_id, "workflow_id": workflow_id, **_window(since, until)}
    (in_executions,) = cur.execute(sql("workflow_time"), params).fetchone()  # type: ignore[misc]
    steps = []
    for row in cur.execute(sql("step_metrics"), params).fetchall():
        (step_id, name, runs, completed, failed, skipped, cancelled, retries, with_retries, avg_d, q, max_d,
         in_step) = row  # fmt: skip
        q = q or [None, None]
        ran = completed + failed
        steps.append(
            StepMetrics(
                step_id=step_id,
                step_name=name,
                runs=runs,
                completed=completed,
                failed=failed,
                skipped=skipped,
                cancelled=cancelled,
                failure_rate=100.0 * failed / ran if ran else 0.0,
                retries=int(retries or 0),
                runs_with_retries=with_retries,
                average_duration_seconds=avg_d,
                p50_duration_seconds=q[0] / 1e9 if q[0] is not None else None,
                p95_duration_seconds=q[1] / 1e9 if q[1] is not None else None,
                max_duration_seconds=max_d,
                share_of_execution_time=100.0 * in_step / in_executions if in_executions else None,
            )
        )
    return WorkflowStepMetrics(workflow_id=workflow_id, steps=steps, since=since, until=until)

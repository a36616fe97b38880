"""Workflow and per-step aggregates (definitions in schemas/metrics.py and the README): the
window and success-rate rules, and the store's totals shaped as the API answers them."""

from __future__ import annotations

from datetime import datetime

from flowscope.api.schemas.metrics import StepMetrics, WorkflowMetricsSummary, WorkflowStepMetrics
from flowscope.api.timefmt import dt_to_ns
from flowscope.storage.workflow_metrics import WorkflowMetricsReader

_FOREVER = 2**63 - 1


def window(since: datetime | None, until: datetime | None) -> tuple[int, int]:
    """The half-open window `[since, until)` in ns; a missing bound is unbounded."""
    return (dt_to_ns(since) if since else 0, dt_to_ns(until) if until else _FOREVER)


def success_rate(completed: int, finished: int) -> float:
    """Percent of finished executions that completed; 0 when none finished (README "Metrics")."""
    return 100.0 * completed / finished if finished else 0.0


def workflow_metrics(
    reader: WorkflowMetricsReader,
    workspace_id: str,
    workflow_id: str,
    since: datetime | None,
    until: datetime | None,
) -> tuple[WorkflowMetricsSummary, int]:
    """The summary, and how many executions (of any status) it saw."""
    t = reader.workflow_totals(workspace_id, workflow_id, *window(since, until))
    summary = WorkflowMetricsSummary(
        total_duration_seconds=t.total_duration_seconds,
        success_rate=success_rate(t.completed, t.finished),
        total_executions=t.finished,
        successful_executions=t.completed,
        failed_executions=t.failed + t.timeout,
        average_duration_seconds=t.average_duration_seconds or 0.0,
        min_duration_seconds=t.min_duration_seconds,
        max_duration_seconds=t.max_duration_seconds,
        p50_duration_seconds=t.p50_duration_seconds,
        p90_duration_seconds=t.p90_duration_seconds,
        p95_duration_seconds=t.p95_duration_seconds,
        p99_duration_seconds=t.p99_duration_seconds,
        cancelled_executions=t.cancelled,
        timeout_executions=t.timeout,
        running_executions=t.running,
        pending_executions=t.pending,
        since=since,
        until=until,
    )
    return summary, t.finished + t.running + t.pending


def step_metrics(
    reader: WorkflowMetricsReader,
    workspace_id: str,
    workflow_id: str,
    since: datetime | None,
    until: datetime | None,
) -> WorkflowStepMetrics:
    steps = []
    for s in reader.step_totals(workspace_id, workflow_id, *window(since, until)):
        ran = s.completed + s.failed
        in_executions = s.workflow_time_seconds
        share = 100.0 * s.time_in_step_seconds / in_executions if in_executions else None
        steps.append(
            StepMetrics(
                step_id=s.step_id,
                step_name=s.step_name,
                runs=s.runs,
                completed=s.completed,
                failed=s.failed,
                skipped=s.skipped,
                cancelled=s.cancelled,
                failure_rate=100.0 * s.failed / ran if ran else 0.0,
                retries=s.retries,
                runs_with_retries=s.runs_with_retries,
                average_duration_seconds=s.average_duration_seconds,
                p50_duration_seconds=s.p50_duration_seconds,
                p95_duration_seconds=s.p95_duration_seconds,
                max_duration_seconds=s.max_duration_seconds,
                share_of_execution_time=share,
            )
        )
    return WorkflowStepMetrics(workflow_id=workflow_id, steps=steps, since=since, until=until)

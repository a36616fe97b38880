"""The web UI's read models (schemas/overview.py): per-workflow summaries, durations over
time, and every step's attempts of one execution."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from flowscope.api.queries.executions import step_attempt
from flowscope.api.queries.metrics import success_rate, window  # the metrics endpoint's rules, one place
from flowscope.api.schemas.overview import (
    DayCount,
    DurationPoint,
    ExecutionAttempts,
    StepAttempts,
    WorkflowDurations,
    WorkflowSummary,
)
from flowscope.api.timefmt import ns_to_dt
from flowscope.storage.tables import TableReader
from flowscope.storage.workflow_metrics import WorkflowMetricsReader

_DAY_NS = 86_400 * 1_000_000_000


def _days(today: date, count: int) -> list[date]:
    return [today - timedelta(days=count - 1 - i) for i in range(count)]


def workflow_summaries(
    reader: WorkflowMetricsReader,
    workspace_id: str,
    since: datetime | None,
    until: datetime | None,
    days: int,
    now: datetime | None = None,
) -> list[WorkflowSummary]:
    """Every workflow of the workspace (catalogued, or seen in telemetry), by name."""
    today = (now or datetime.now(UTC)).date()
    day_list = _days(today, days)
    first_day_ns = (day_list[0] - date(1970, 1, 1)).days * _DAY_NS
    rows = reader.workflow_summaries(workspace_id, *window(since, until))
    trend: dict[str, dict[date, tuple[int, int]]] = {}
    for d in reader.executions_per_day(workspace_id, first_day_ns):
        trend.setdefault(d.workflow_id, {})[d.day] = (d.executions, d.failed)
    out = []
    for row in rows:
        per_day = trend.get(row.workflow_id, {})
        out.append(
            WorkflowSummary(
                workflow_id=row.workflow_id,
                name=row.name,
                description=row.description,
                catalogued=row.catalogued,
                service_name=row.service_name,
                last_execution_id=row.last_execution_id,
                last_status=row.last_status,
                last_execution_at=ns_to_dt(row.last_created_ns),
                running_executions=row.running,
                pending_executions=row.pending,
                total_executions=row.finished,
                successful_executions=row.completed,
                success_rate=success_rate(row.completed, row.finished),
                p50_duration_seconds=row.p50_duration_seconds,
                p95_duration_seconds=row.p95_duration_seconds,
                executions_per_day=[
                    DayCount(day=d, executions=c, failed=f)
                    for d in day_list
                    for c, f in [per_day.get(d, (0, 0))]
                ],
            )
        )
    return out


def workflow_durations(
    reader: WorkflowMetricsReader,
    workspace_id: str,
    workflow_id: str,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> WorkflowDurations:
    found = reader.finished_durations(workspace_id, workflow_id, *window(since, until), limit)
    points = [
        DurationPoint(
            execution_id=p.execution_id,
            execution_number=p.execution_number,
            status=p.status,
            started_at=ns_to_dt(p.started_ns),
            duration_seconds=p.duration_seconds,
        )
        for p in found.points
    ]
    return WorkflowDurations(
        workflow_id=workflow_id, points=points, total=found.total, since=since, until=until
    )


def execution_attempts(tables: TableReader, workspace_id: str, execution_id: str) -> ExecutionAttempts:
    """Every step's attempts, numbered from 1 in start order (no steps for an execution without
    attempts, or an unknown one: the caller tells those apart)."""
    steps = [
        StepAttempts(
            step_id=s.step_id,
            step_execution_id=s.step_span_id,
            attempts=[step_attempt(n, a) for n, a in enumerate(s.attempts, 1)],
        )
        for s in tables.step_attempts(workspace_id, execution_id)
    ]
    return ExecutionAttempts(execution_id=execution_id, steps=steps)

"""The web UI's read models (schemas/overview.py): per-workflow summaries, durations over
time, and every step's attempts of one execution."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb
from flowscope.api.queries import records
from flowscope.api.queries.executions import step_attempt
from flowscope.api.queries.metrics import _window as window  # the metrics endpoint's window, one rule
from flowscope.api.queries.metrics import success_rate
from flowscope.api.queries.records import attempt
from flowscope.api.schemas.overview import (
    DayCount,
    DurationPoint,
    ExecutionAttempts,
    StepAttempts,
    WorkflowDurations,
    WorkflowSummary,
)
from flowscope.api.sqlfiles import sql
from flowscope.api.timefmt import ns_to_dt

_DAY_NS = 86_400 * 1_000_000_000


def _days(today: date, count: int) -> list[date]:
    return [today - timedelta(days=count - 1 - i) for i in range(count)]


def workflow_summaries(
    cur: duckdb.DuckDBPyConnection,
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
    params = {"workspace_id": workspace_id, **window(since, until)}
    rows = cur.execute(sql("overview_workflows"), params).fetchall()
    trend: dict[str, dict[int, tuple[int, int]]] = {}
    for workflow_id, day, count, failed in cur.execute(
        sql("overview_trend"), {"workspace_id": workspace_id, "trend_since": first_day_ns}
    ).fetchall():
        trend.setdefault(workflow_id, {})[day] = (count, failed)
    out = []
    for (
        workflow_id,
        name,
        description,
        catalogued,
        service,
        last_id,
        last_status,
        last_created,
        running,
        pending,
        finished,
        completed,
        quantiles,
    ) in rows:
        q = quantiles or [None, None]
        per_day = trend.get(workflow_id, {})
        out.append(
            WorkflowSummary(
                workflow_id=workflow_id,
                name=name,
                description=description,
                catalogued=catalogued,
                service_name=service,
                last_execution_id=last_id,
                last_status=last_status,
                last_execution_at=ns_to_dt(last_created),
                running_executions=running,
                pending_executions=pending,
                total_executions=finished,
                successful_executions=completed,
                success_rate=success_rate(completed, finished),
                p50_duration_seconds=q[0],
                p95_duration_seconds=q[1],
                executions_per_day=[
                    DayCount(day=d, executions=c, failed=f)
                    for d in day_list
                    for c, f in [per_day.get((d - date(1970, 1, 1)).days, (0, 0))]
                ],
            )
        )
    return out


def workflow_durations(
    cur: duckdb.DuckDBPyConnection,
    workspace_id: str,
    workflow_id: str,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> WorkflowDurations:
    params = {
        "workspace_id": workspace_id,
        "workflow_id": workflow_id,
        "limit": limit,
        **window(since, until),
    }
    rows = cur.execute(sql("workflow_durations"), params).fetchall()
    points = [
        DurationPoint(
            execution_id=eid,
            execution_number=number,
            status=status,
            started_at=ns_to_dt(began),
            duration_seconds=duration,
        )
        for eid, number, status, began, duration, _ in rows
    ]
    total = rows[0][5] if rows else 0
    return WorkflowDurations(workflow_id=workflow_id, points=points, total=total, since=since, until=until)


def execution_attempts(
    cur: duckdb.DuckDBPyConnection, workspace_id: str, execution_id: str
) -> ExecutionAttempts | None:
    """Every step's attempts, numbered from 1 in start order; None if the execution is unknown."""
    params = {"execution_id": execution_id, "workspace_id": workspace_id}
    steps: dict[str, StepAttempts] = {}
    for step_id, step_span, *columns in cur.execute(sql("execution_attempts"), params).fetchall():
        found = steps.setdefault(
            step_span, StepAttempts(step_id=step_id, step_execution_id=step_span, attempts=[])
        )
        found.attempts.append(step_attempt(len(found.attempts) + 1, attempt(*columns)))
    if not steps and records.fetch(cur, workspace_id, execution_id) is None:
        return None
    return ExecutionAttempts(execution_id=execution_id, steps=list(steps.values()))

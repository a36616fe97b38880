"""Read models for the web UI that the spec's endpoints do not offer in one request:
per-workflow summaries (home page), a workflow's durations over time, every step's
attempts of an execution, and who the caller is."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from flowscope.api.schemas.common import ExecutionStatus
from flowscope.api.schemas.executions import StepAttempt
from pydantic import BaseModel, Field


class DayCount(BaseModel):
    day: date = Field(description="UTC day.")
    executions: int = Field(description="Executions started (else queued) that day.")
    failed: int = Field(description="Of them, failed or timed out.")


class WorkflowSummary(BaseModel):
    workflow_id: str
    name: str
    description: str | None = None
    catalogued: bool = Field(
        description="In the catalog (false: only seen in telemetry, e.g. a foreign tracer)."
    )
    service_name: str | None = Field(None, description="Service that emitted its newest execution.")
    last_execution_id: str | None = None
    last_status: ExecutionStatus | None = None
    last_execution_at: datetime | None = Field(None, description="Created (queued, else started) time.")
    running_executions: int = Field(description="Running now.")
    pending_executions: int = Field(description="Queued, not started, now.")
    total_executions: int = Field(
        description="Finished executions in the window (as in the metrics endpoint)."
    )
    successful_executions: int
    success_rate: float = Field(description="100 * successful / total; 0 when there are none.")
    p50_duration_seconds: float | None = None
    p95_duration_seconds: float | None = None
    executions_per_day: list[DayCount] = Field(description="The last `days` UTC days, oldest first.")


class WorkflowOverview(BaseModel):
    workflows: list[WorkflowSummary]
    since: datetime | None = None
    until: datetime | None = None
    days: int


class DurationPoint(BaseModel):
    execution_id: str
    execution_number: int | None
    status: ExecutionStatus
    started_at: datetime | None
    duration_seconds: float | None


class WorkflowDurations(BaseModel):
    workflow_id: str
    points: list[DurationPoint] = Field(description="The newest `limit` finished executions, oldest first.")
    total: int = Field(description="Finished executions in the window (points may be fewer).")
    since: datetime | None = None
    until: datetime | None = None


class StepAttempts(BaseModel):
    step_id: str
    step_execution_id: str | None
    attempts: list[StepAttempt]


class ExecutionAttempts(BaseModel):
    execution_id: str
    steps: list[StepAttempts] = Field(description="Steps with at least one recorded attempt, in step order.")


class Caller(BaseModel):
    workspace_id: str
    workspace_slug: str | None
    workspace_name: str | None
    role: Literal["viewer", "editor", "admin"]
    auth_required: bool = Field(description="Whether the server requires tokens.")

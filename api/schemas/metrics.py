"""Aggregates over a workflow's executions (WorkflowMetricsSummary) and its steps."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class WorkflowMetricsSummary(BaseModel):
    """Over finished executions (completed, failed, cancelled, timeout) in the window."""

    total_duration_seconds: float
    success_rate: float = Field(description="100 * successful / total; 0 when there are none.")
    total_executions: int = Field(
        description="Finished executions: completed + failed + cancelled + timeout."
    )
    successful_executions: int = Field(description="completed")
    failed_executions: int = Field(description="failed + timeout")
    average_duration_seconds: float
    min_duration_seconds: float | None
    max_duration_seconds: float | None
    # Beyond the spec
    p50_duration_seconds: float | None = None
    p90_duration_seconds: float | None = None
    p95_duration_seconds: float | None = None
    p99_duration_seconds: float | None = None
    cancelled_executions: int = 0
    timeout_executions: int = 0
    running_executions: int = Field(0, description="Running now (started in the window).")
    pending_executions: int = Field(0, description="Queued, not started (queued in the window).")
    since: datetime | None = None
    until: datetime | None = None


class StepMetrics(BaseModel):
    step_id: str
    step_name: str
    runs: int = Field(description="Step spans: completed + failed + skipped + cancelled.")
    completed: int
    failed: int
    skipped: int
    cancelled: int
    failure_rate: float = Field(description="100 * failed / (completed + failed); 0 when neither.")
    retries: int = Field(description="Retries over all runs.")
    runs_with_retries: int
    average_duration_seconds: float | None
    p50_duration_seconds: float | None
    p95_duration_seconds: float | None
    max_duration_seconds: float | None
    share_of_execution_time: float | None = Field(
        description="100 * time in this step / total duration of the workflow's finished executions "
        "in the window (0-100; steps that run in parallel can add up to more than 100)."
    )


class WorkflowStepMetrics(BaseModel):
    workflow_id: str
    steps: list[StepMetrics]
    since: datetime | None = None
    until: datetime | None = None

"""The spec's execution timeline (WorkflowExecutionTimeline, WorkflowStepTimelineEntry)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flowscope.api.schemas.common import ExecutionStatus, StepStatus, TriggeredBy
from pydantic import BaseModel, Field


class WorkflowStepTimelineEntry(BaseModel):
    step_id: str
    step_name: str
    step_order: int
    status: StepStatus
    started_at: datetime | None
    completed_at: datetime | None
    duration_seconds: float | None
    retry_count: int
    error_message: str | None
    input_summary: dict[str, Any] | None = Field(
        description="The step's input, cut to a bounded size; `_truncated: true` marks a cut summary."
    )
    output_summary: dict[str, Any] | None = Field(
        description="The step's output, cut to a bounded size; `_truncated: true` marks a cut summary."
    )
    # Beyond the spec
    step_execution_id: str | None = Field(None, description="The step's span id (16 hex).")
    depends_on: list[str] = Field(default_factory=list)
    attempts: int = Field(0, description="Attempt spans recorded (retries + 1 once finished).")
    queue_seconds: float | None = Field(
        None,
        description="From when the step could run (its dependencies finished, or the execution "
        "started; or when its emitter says it was queued, e.g. a CI job) to when it started.",
    )
    run_seconds: float | None = Field(None, description="Time spent inside attempts.")
    wait_seconds: float | None = Field(None, description="Time between attempts (retry backoff).")
    skip_reason: str | None = None
    triggered: list[str] = Field(
        default_factory=list,
        description="Ids of the executions this step started (its `http` step's traceparent sent to "
        "execute), oldest first; known once the step's span is stored.",
    )


class WorkflowExecutionTimeline(BaseModel):
    execution_id: str
    workflow_id: str
    status: ExecutionStatus
    started_at: datetime | None
    completed_at: datetime | None
    total_duration_seconds: float | None
    step_count: int
    completed_step_count: int
    failed_step_count: int
    skipped_step_count: int
    step_timeline: list[WorkflowStepTimelineEntry]
    error_message: str | None
    # Beyond the spec
    workflow_name: str | None = None
    execution_number: int | None = None
    queued_at: datetime | None = None
    queue_seconds: float | None = Field(None, description="From queued to started.")
    critical_path: list[str] = Field(
        default_factory=list,
        description="Step ids of the chain of dependencies that determined the execution's end, "
        "first to last.",
    )
    triggered_by: TriggeredBy | None = None

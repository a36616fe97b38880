"""Executions: the spec's list items and details, step details, status history, logs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flowscope.api.schemas.common import ExecutionStatus, Page, StepStatus, TriggeredBy
from pydantic import BaseModel, Field


class StatusTransition(BaseModel):
    status: ExecutionStatus
    timestamp: datetime | None
    source: str = Field(description="What recorded it: a lifecycle log record or the root span.")


class WorkflowExecution(BaseModel):
    """One execution, as listed (spec: List Workflow Executions)."""

    id: str = Field(description="The execution id: its trace id (32 hex).")
    workflow_id: str
    execution_number: int | None = Field(
        description="Sequential per workflow; null for foreign executions that do not set one."
    )
    status: ExecutionStatus
    started_at: datetime | None
    completed_at: datetime | None
    duration: float | None = Field(description="Seconds.")
    input_variables: dict[str, Any] | None
    results: dict[str, Any] | None
    error_message: str | None = None
    created_at: datetime | None
    updated_at: datetime | None
    workflow_name: str | None = None
    project_id: str | None = None


class StepExecution(BaseModel):
    """One step of an execution (spec: `step_executions` of the execution details)."""

    id: str | None = Field(description="The step execution id: the step's span id (16 hex).")
    execution_id: str
    step_id: str
    step_name: str
    step_order: int | None = None
    status: StepStatus
    started_at: datetime | None
    completed_at: datetime | None
    duration: float | None
    retry_count: int
    output_data: Any = None
    error_message: str | None = None


class WorkflowExecutionDetails(WorkflowExecution):
    error_message: str | None
    step_executions: list[StepExecution]
    status_history: list[StatusTransition]
    error_type: str | None = None
    service_name: str | None = None
    triggered_by: TriggeredBy | None = None


class StepAttempt(BaseModel):
    attempt: int
    span_id: str
    status: str
    started_at: datetime | None
    completed_at: datetime | None
    duration: float | None
    error_message: str | None


class StepExecutionDetails(StepExecution):
    """One step with its complete input and output (as stored: the emitter may cap them)."""

    input_data: Any = None
    input_truncated: bool = Field(False, description="The emitter cut the input to its size cap.")
    output_truncated: bool = Field(False, description="The emitter cut the output to its size cap.")
    depends_on: list[str] = Field(default_factory=list)
    skip_reason: str | None = None
    attempts: list[StepAttempt] = Field(default_factory=list)
    events: list[dict[str, Any]] = Field(default_factory=list, description="Span events (exceptions, ...).")


class ExecutionLogRecord(BaseModel):
    timestamp: datetime | None
    observed_at: datetime | None
    severity_number: int
    severity_text: str
    event_name: str | None
    body: str | None
    step_id: str | None
    span_id: str | None
    service_name: str
    attributes: dict[str, Any]


class ExecutionCancel(BaseModel):
    id: str
    status: ExecutionStatus
    cancel_requested: bool = Field(description="The engine accepted the request; the status follows.")


class WorkflowExecutionPage(Page[WorkflowExecution]):
    """A page of a workflow's executions (spec: List Workflow Executions)."""


class ExecutionLogPage(Page[ExecutionLogRecord]):
    """A page of an execution's log records, oldest first."""

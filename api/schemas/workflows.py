"""Workflows in the catalog, and starting executions of them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flowscope.api.schemas.common import ExecutionStatus, Page
from pydantic import BaseModel, Field, model_validator


class WorkflowCreate(BaseModel):
    definition: dict[str, Any] = Field(
        description="The workflow definition (see examples/workflows/*.json and `flowscope schema`)."
    )
    project_id: str | None = Field(None, description="Project of this workspace (optional).")
    name: str | None = Field(None, max_length=256, description="Default: the definition's name.")
    description: str | None = Field(None, max_length=10_000, description="Default: the definition's.")


class WorkflowUpdate(BaseModel):
    definition: dict[str, Any] | None = Field(None, description="A new definition (bumps `version`).")
    project_id: str | None = None
    # Omit to keep; null is refused (422): the name is required.
    name: str = Field(None, min_length=1, max_length=256)  # type: ignore[assignment]
    description: str | None = Field(None, max_length=10_000)


class WorkflowPublic(BaseModel):
    id: str
    workspace_id: str
    project_id: str | None
    name: str
    description: str | None
    version: int = Field(description="1, then +1 for each new definition.")
    step_count: int
    execution_count: int = Field(description="Executions started through the API so far.")
    definition: dict[str, Any]
    created_at: datetime | None
    updated_at: datetime | None


class WorkflowPage(Page[WorkflowPublic]):
    """A page of the workspace's workflows, newest first."""


class ExecuteRequest(BaseModel):
    """One execution (`input_variables`, or an empty body), or several (`input_sets`)."""

    input_variables: dict[str, Any] | None = Field(None, description="The inputs of one execution.")
    input_sets: list[dict[str, Any]] | None = Field(
        None,
        min_length=1,
        description="Bulk: one execution per input set, all started or none (a quota too small for "
        "all of them answers 429); at most `--max-bulk-executions` (1,000). The answer lists the "
        "executions in the order of their input sets.",
    )

    @model_validator(mode="after")
    def _one_form(self) -> ExecuteRequest:
        if self.input_variables is not None and self.input_sets is not None:
            raise ValueError("give input_variables (one execution) or input_sets (several), not both")
        return self


class ExecutionStarted(BaseModel):
    """The new execution (202): queued; follow it with the execution endpoints."""

    id: str = Field(description="The execution id (= trace id).")
    workflow_id: str
    execution_number: int
    status: ExecutionStatus
    input_variables: dict[str, Any]
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None


class ExecutionsStarted(BaseModel):
    """The new executions of a bulk request (202), in the order of its input sets."""

    workflow_id: str
    executions: list[ExecutionStarted]

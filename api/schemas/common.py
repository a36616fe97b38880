"""Shapes shared by several resources."""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")

# unknown: another emitter's run unheard of for `serve --silence-seconds` (conventions.UNKNOWN_STATUS)
ExecutionStatus = Literal["pending", "running", "completed", "failed", "cancelled", "timeout", "unknown"]
StepStatus = Literal["pending", "running", "completed", "failed", "skipped", "cancelled"]


class Page(BaseModel, Generic[T]):
    """One page of a list, newest first: `items[skip : skip + limit]` of `total`."""

    items: list[T]
    total: int = Field(description="Items matching the filters, over all pages.")
    skip: int
    limit: int


class TriggeredBy(BaseModel):
    """The caller span that started an execution: the `traceparent` it sent to execute (a CI
    job's span, another execution's `http` step), which the execution's root span links to."""

    trace_id: str = Field(description="The caller's trace id (32 hex).")
    span_id: str = Field(description="The caller's span id (16 hex).")
    execution_id: str | None = Field(
        description="The caller's trace id when that trace is an execution of this workspace, else null."
    )
    step_id: str | None = Field(
        description="The step of that execution whose span (or attempt span) the caller was, when "
        "stored; else null (not a step, another workspace's, or its span has not arrived yet)."
    )

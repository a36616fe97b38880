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

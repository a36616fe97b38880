"""Projects group workflows inside a workspace."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ProjectCreate(BaseModel):
    name: str = Field(min_length=1, max_length=256)
    description: str | None = Field(None, max_length=10_000)


class ProjectUpdate(BaseModel):
    # Omit to keep; null is refused (422): the name is required.
    name: str = Field(None, min_length=1, max_length=256)  # type: ignore[assignment]
    description: str | None = Field(None, max_length=10_000)


class ProjectPublic(BaseModel):
    id: str
    workspace_id: str
    name: str
    description: str | None
    created_at: datetime | None
    updated_at: datetime | None

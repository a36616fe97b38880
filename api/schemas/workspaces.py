"""Workspaces: the tenancy root."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class WorkspaceCreate(BaseModel):
    slug: str = Field(
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$",
        description="Unique, lowercase letters, digits and '-'.",
    )
    name: str | None = Field(None, max_length=256, description="Display name (default: the slug).")


class WorkspacePublic(BaseModel):
    id: str
    slug: str
    name: str
    created_at: datetime | None


class WorkspaceCreated(WorkspacePublic):
    admin_token: str | None = Field(
        None,
        description="With auth on: an admin token for the new workspace (shown once; "
        "the creating token is scoped to its own workspace).",
    )

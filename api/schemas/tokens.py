"""Access tokens (admin only): scoped to one workspace with one role."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Role = Literal["viewer", "editor", "admin"]


class TokenCreate(BaseModel):
    role: Role
    name: str | None = Field(None, max_length=256)


class TokenPublic(BaseModel):
    id: str
    workspace_id: str
    role: Role
    name: str | None
    created_at: datetime | None
    revoked_at: datetime | None = None


class TokenCreated(TokenPublic):
    token: str = Field(description="The secret: shown once, only its hash is stored.")

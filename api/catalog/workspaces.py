"""Workspaces: the tenancy root. Slugs are unique; ids are chosen by the server."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import duckdb
from flowscope.api.catalog import write_transaction
from flowscope.api.timefmt import ns_to_dt

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_COLUMNS = "id, slug, name, epoch_ns(created_at)"


class SlugTaken(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Workspace:
    id: str
    slug: str
    name: str
    created_at: datetime | None


def _workspace(row: tuple[str, str, str, int]) -> Workspace:
    return Workspace(row[0], row[1], row[2], ns_to_dt(row[3]))


def list_all(cur: duckdb.DuckDBPyConnection, only: str | None = None) -> list[Workspace]:
    """Every workspace, or just `only` (what a token may see)."""
    if only is not None:
        rows = cur.execute(f"SELECT {_COLUMNS} FROM workspaces WHERE id = ?", [only]).fetchall()
    else:
        rows = cur.execute(f"SELECT {_COLUMNS} FROM workspaces ORDER BY created_at, id").fetchall()
    return [_workspace(r) for r in rows]


def get(cur: duckdb.DuckDBPyConnection, workspace_id: str) -> Workspace | None:
    row = cur.execute(f"SELECT {_COLUMNS} FROM workspaces WHERE id = ?", [workspace_id]).fetchone()
    return _workspace(row) if row else None


def create(cur: duckdb.DuckDBPyConnection, slug: str, name: str | None) -> Workspace:
    """A new workspace; SlugTaken when the slug is in use."""
    workspace_id = "ws_" + secrets.token_hex(8)
    with write_transaction(cur):
        if cur.execute("SELECT 1 FROM workspaces WHERE slug = ?", [slug]).fetchone():
            raise SlugTaken(slug)
        cur.execute(
            "INSERT INTO workspaces (id, slug, name) VALUES (?, ?, ?)", [workspace_id, slug, name or slug]
        )
    found = get(cur, workspace_id)
    assert found is not None
    return found

"""Projects group workflows inside a workspace."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import duckdb
from flowscope.api.catalog import write_transaction
from flowscope.api.timefmt import ns_to_dt

_COLUMNS = "id, workspace_id, name, description, epoch_ns(created_at), epoch_ns(updated_at)"


class ProjectInUse(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    workspace_id: str
    name: str
    description: str | None
    created_at: datetime | None
    updated_at: datetime | None


def _project(row: tuple) -> Project:  # type: ignore[type-arg]
    return Project(row[0], row[1], row[2], row[3], ns_to_dt(row[4]), ns_to_dt(row[5]))


def list_all(cur: duckdb.DuckDBPyConnection, workspace_id: str) -> list[Project]:
    rows = cur.execute(
        f"SELECT {_COLUMNS} FROM projects WHERE workspace_id = ? ORDER BY created_at, id", [workspace_id]
    ).fetchall()
    return [_project(r) for r in rows]


def get(cur: duckdb.DuckDBPyConnection, workspace_id: str, project_id: str) -> Project | None:
    row = cur.execute(
        f"SELECT {_COLUMNS} FROM projects WHERE workspace_id = ? AND id = ?", [workspace_id, project_id]
    ).fetchone()
    return _project(row) if row else None


def create(cur: duckdb.DuckDBPyConnection, workspace_id: str, name: str, description: str | None) -> Project:
    project_id = "prj_" + secrets.token_hex(8)
    with write_transaction(cur):
        cur.execute(
            "INSERT INTO projects (id, workspace_id, name, description) VALUES (?, ?, ?, ?)",
            [project_id, workspace_id, name, description],
        )
    found = get(cur, workspace_id, project_id)
    assert found is not None
    return found


def update(
    cur: duckdb.DuckDBPyConnection, workspace_id: str, project_id: str, changes: dict[str, object]
) -> Project | None:
    allowed = {k: v for k, v in changes.items() if k in ("name", "description")}
    with write_transaction(cur):
        if not cur.execute(
            "SELECT 1 FROM projects WHERE workspace_id = ? AND id = ?", [workspace_id, project_id]
        ).fetchone():
            return None
        for key, value in allowed.items():  # keys from the allow-list above, never from the client
            cur.execute(
                f"UPDATE projects SET {key} = ?, updated_at = now() WHERE workspace_id = ? AND id = ?",
                [value, workspace_id, project_id],
            )
    return get(cur, workspace_id, project_id)


def delete(cur: duckdb.DuckDBPyConnection, workspace_id: str, project_id: str) -> bool | None:
    """True when deleted, None when unknown; ProjectInUse while workflows belong to it."""
    with write_transaction(cur):
        if not cur.execute(
            "SELECT 1 FROM projects WHERE workspace_id = ? AND id = ?", [workspace_id, project_id]
        ).fetchone():
            return None
        (count,) = cur.execute(  # type: ignore[misc]
            "SELECT count(*) FROM workflows WHERE workspace_id = ? AND project_id = ?",
            [workspace_id, project_id],
        ).fetchone()
        if count:
            raise ProjectInUse(f"project {project_id!r} still has {count} workflow(s)")
        cur.execute("DELETE FROM projects WHERE workspace_id = ? AND id = ?", [workspace_id, project_id])
    return True

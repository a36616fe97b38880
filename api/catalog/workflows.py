"""Workflow definitions in the catalog, and their per-workflow execution counter (taken by
api/intake.py, which persists it in the transaction that records the executions)."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import orjson
from flowscope.api.catalog import write_transaction
from flowscope.api.queries.steps import DefinedStep
from flowscope.api.timefmt import ns_to_dt

_COLUMNS = (
    "id, workspace_id, project_id, name, description, definition, version, next_execution_number, "
    "epoch_ns(created_at), epoch_ns(updated_at)"
)
_EDITABLE = ("project_id", "name", "description", "definition")

# Bumped after every committed change of a workflow (update, delete) in this process, which
# owns the database file: caches of workflows (api/intake.py) compare it to know they are
# still current without a query.
_changes = itertools.count(1)
_generation = 0


def generation() -> int:
    return _generation


def _changed() -> None:
    global _generation
    _generation = next(_changes)


@dataclass(frozen=True, slots=True)
class Workflow:
    id: str
    workspace_id: str
    project_id: str | None
    name: str
    description: str | None
    definition: dict[str, Any]
    version: int
    next_execution_number: int
    created_at: datetime | None
    updated_at: datetime | None


def _workflow(row: tuple[Any, ...]) -> Workflow:
    return Workflow(
        row[0], row[1], row[2], row[3], row[4], orjson.loads(row[5]), row[6], row[7],
        ns_to_dt(row[8]), ns_to_dt(row[9]),
    )  # fmt: skip


def get(cur: duckdb.DuckDBPyConnection, workspace_id: str, workflow_id: str) -> Workflow | None:
    row = cur.execute(
        f"SELECT {_COLUMNS} FROM workflows WHERE workspace_id = ? AND id = ?", [workspace_id, workflow_id]
    ).fetchone()
    return _workflow(row) if row else None


def list_page(
    cur: duckdb.DuckDBPyConnection,
    workspace_id: str,
    project_id: str | None,
    name: str | None,
    skip: int,
    limit: int,
) -> tuple[list[Workflow], int]:
    where = (
        "workspace_id = $ws"
        " AND ($project IS NULL OR project_id = $project)"
        " AND ($name IS NULL OR name = $name)"
    )
    params: dict[str, Any] = {"ws": workspace_id, "project": project_id, "name": name}
    (total,) = cur.execute(f"SELECT count(*) FROM workflows WHERE {where}", params).fetchone()  # type: ignore[misc]
    rows = cur.execute(
        f"SELECT {_COLUMNS} FROM workflows WHERE {where} "
        "ORDER BY created_at DESC, id LIMIT $limit OFFSET $skip",
        {**params, "limit": limit, "skip": skip},
    ).fetchall()
    return [_workflow(r) for r in rows], total


def create(
    cur: duckdb.DuckDBPyConnection,
    workspace_id: str,
    *,
    project_id: str | None,
    name: str,
    description: str | None,
    definition: dict[str, Any],
) -> Workflow:
    workflow_id = "wf_" + secrets.token_hex(8)
    with write_transaction(cur):
        cur.execute(
            "INSERT INTO workflows (id, workspace_id, project_id, name, description, definition) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [workflow_id, workspace_id, project_id, name, description, orjson.dumps(definition).decode()],
        )
    found = get(cur, workspace_id, workflow_id)
    assert found is not None
    return found


def update(
    cur: duckdb.DuckDBPyConnection, workspace_id: str, workflow_id: str, changes: dict[str, Any]
) -> Workflow | None:
    """Apply the given fields; a new definition bumps the version. None if unknown."""
    sets = {k: v for k, v in changes.items() if k in _EDITABLE}
    if "definition" in sets:
        sets["definition"] = orjson.dumps(sets["definition"]).decode()
    with write_transaction(cur):
        if get(cur, workspace_id, workflow_id) is None:
            return None
        assignments = ", ".join(f"{k} = ?" for k in sets)  # keys from _EDITABLE only
        bump = ", version = version + 1" if "definition" in sets else ""
        cur.execute(
            f"UPDATE workflows SET {assignments}{', ' if sets else ''}updated_at = now(){bump} "
            "WHERE workspace_id = ? AND id = ?",
            [*sets.values(), workspace_id, workflow_id],
        )
    _changed()
    return get(cur, workspace_id, workflow_id)


def delete(cur: duckdb.DuckDBPyConnection, workspace_id: str, workflow_id: str) -> bool:
    """Remove the definition (its executions stay in the telemetry). False if unknown."""
    with write_transaction(cur):
        found = cur.execute(
            "DELETE FROM workflows WHERE workspace_id = ? AND id = ? RETURNING id",
            [workspace_id, workflow_id],
        ).fetchall()
    if found:
        _changed()
    return bool(found)


def defined_steps(
    cur: duckdb.DuckDBPyConnection, workspace_id: str, workflow_id: str
) -> list[DefinedStep] | None:
    """The steps the catalog definition declares, in definition order; None if not in the catalog."""
    row = cur.execute(
        "SELECT definition FROM workflows WHERE workspace_id = ? AND id = ?", [workspace_id, workflow_id]
    ).fetchone()
    if row is None:
        return None
    steps = orjson.loads(row[0]).get("steps") or []
    return [
        DefinedStep(
            str(s.get("id")),
            str(s.get("name") or s.get("id")),
            tuple(str(d) for d in s.get("depends_on") or ()),
        )
        for s in steps
        if isinstance(s, dict) and s.get("id")
    ]

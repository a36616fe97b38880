"""A workflow's executions, one page at a time, newest first."""

from __future__ import annotations

import duckdb
from flowscope.api.queries.executions import execution_item
from flowscope.api.queries.records import ExecutionRow
from flowscope.api.schemas.executions import WorkflowExecutionPage
from flowscope.api.sqlfiles import sql


def workflow_seen(cur: duckdb.DuckDBPyConnection, workspace_id: str, workflow_id: str) -> bool:
    """Any execution of this workflow in the workspace (workflows not in the catalog count)."""
    params = {"workspace_id": workspace_id, "workflow_id": workflow_id}
    return cur.execute(sql("workflow_seen"), params).fetchone() is not None


def executions_page(
    cur: duckdb.DuckDBPyConnection,
    workspace_id: str,
    workflow_id: str,
    status: str | None,
    skip: int,
    limit: int,
) -> WorkflowExecutionPage:
    params = {"workspace_id": workspace_id, "workflow_id": workflow_id, "status": status}
    (total,) = cur.execute(sql("executions_count"), params).fetchone()  # type: ignore[misc]
    rows = []
    if limit and skip < total:
        rows = cur.execute(sql("executions_page"), {**params, "skip": skip, "limit": limit}).fetchall()
    items = [execution_item(ExecutionRow(*r)) for r in rows]
    return WorkflowExecutionPage(items=items, total=total, skip=skip, limit=limit)

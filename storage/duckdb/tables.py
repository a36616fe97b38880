"""`TableReader` on DuckDB (contracts in `flowscope.storage.tables`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from flowscope.storage.duckdb.errors import mapped_errors
from flowscope.storage.duckdb.sqlfiles import sql
from flowscope.storage.executions import Attempt
from flowscope.storage.tables import RecentExecution, StepAttempts

if TYPE_CHECKING:
    from flowscope.storage.duckdb.store import Store


class DuckDBTables:
    def __init__(self, store: Store) -> None:
        self._store = store

    def recent_executions(
        self, workspace_id: str, *, workflow_ids: Sequence[str] = (), status: str | None = None, limit: int
    ) -> list[RecentExecution]:
        params = {
            "workspace_id": workspace_id,
            "workflow_ids": list(workflow_ids),
            "status": status,
            "limit": limit,
        }
        with mapped_errors():
            rows = self._store.cursor().execute(sql("queries/recent_executions"), params).fetchall()
        return [RecentExecution(*row) for row in rows]

    def step_attempts(self, workspace_id: str, execution_id: str) -> list[StepAttempts]:
        params = {"execution_id": execution_id, "workspace_id": workspace_id}
        with mapped_errors():
            rows = self._store.cursor().execute(sql("queries/execution_attempts"), params).fetchall()
        # Rows come grouped by step span (ordered by its start, then id).
        steps: dict[str, tuple[str | None, list[Attempt]]] = {}
        for step_id, step_span, *columns in rows:
            steps.setdefault(step_span, (step_id, []))[1].append(Attempt.of(*columns))
        return [StepAttempts(step_id, span, tuple(found)) for span, (step_id, found) in steps.items()]

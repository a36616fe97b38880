"""Flat per-execution tables: Grafana's recent-executions table and the UI's Gantt of
attempts (`store.tables`).

The shared rules of `flowscope.storage.interfaces` hold (tenancy, None / [] for not found,
Unix ns times, plain rows, one committed state per call).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from flowscope.storage.executions import Attempt


@dataclass(frozen=True, slots=True)
class RecentExecution:
    """One execution, narrow (no input or results)."""

    execution_id: str
    workflow_id: str
    workflow_name: str | None
    execution_number: int | None
    status: str
    started_ns: int | None
    """When it started, else when it was queued."""
    ended_ns: int | None
    duration_seconds: float | None
    error_message: str | None


@dataclass(frozen=True, slots=True)
class StepAttempts:
    """One step span of an execution with its attempt spans (at least one)."""

    step_id: str | None
    step_span_id: str
    attempts: tuple[Attempt, ...]
    """In start order, then span id."""


class TableReader(Protocol):
    def recent_executions(
        self, workspace_id: str, *, workflow_ids: Sequence[str] = (), status: str | None = None, limit: int
    ) -> list[RecentExecution]:
        """The workspace's newest `limit` executions by start, else queue, else update time,
        newest first, of any workflow (or of `workflow_ids` when given), with any status (or
        `status`); [] when none."""
        ...

    def step_attempts(self, workspace_id: str, execution_id: str) -> list[StepAttempts]:
        """The execution's step spans that have attempt spans, in start order (then span id),
        each with its attempts. Reads only what indexes and promoted columns give (a Gantt
        of hundreds of steps stays one lookup); [] for an unknown execution or one without
        attempts: telling those apart is `store.executions.records`' job."""
        ...

"""Workflow aggregates: the metrics endpoints' and the web UI overview's reads.

The shared rules of `flowscope.storage.interfaces` hold (tenancy, not-found, one committed
state per call). Here besides:
- **Window.** `[since_ns, until_ns)` filters an execution on its start time, else (never
  started) its queue time; a step span on its start time. The caller passes both bounds
  (`0` and `2**63 - 1` for "unbounded").
- **Finished** means status completed, failed, cancelled or timeout; **open** means running
  or pending.
- **Durations** are float seconds (`*_seconds`), timestamps Unix nanoseconds (`*_ns`).
  Percentiles are continuous (interpolated); every duration aggregate is None when it has
  no input.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol


@dataclass(frozen=True, slots=True)
class WorkflowTotals:
    """One workflow's executions in a window: counts by status and finished-run durations."""

    finished: int
    completed: int
    failed: int
    timeout: int
    cancelled: int
    running: int
    pending: int
    total_duration_seconds: float
    """Sum over the finished executions; 0.0 when none."""
    average_duration_seconds: float | None
    min_duration_seconds: float | None
    max_duration_seconds: float | None
    p50_duration_seconds: float | None
    p90_duration_seconds: float | None
    p95_duration_seconds: float | None
    p99_duration_seconds: float | None


@dataclass(frozen=True, slots=True)
class StepTotals:
    """One step (by step id) of a workflow over the step spans started in a window."""

    step_id: str
    step_name: str
    """The name of its latest run."""
    runs: int
    completed: int
    failed: int
    skipped: int
    cancelled: int
    retries: int
    """Sum of the runs' retry counts (a run without one counts 0)."""
    runs_with_retries: int
    average_duration_seconds: float | None
    """Over the runs that ran (completed or failed), as p50, p95 and max."""
    p50_duration_seconds: float | None
    """Continuous percentiles, exact for a window without a whole UTC day before today;
    otherwise read from per-step summaries, within 1% (relative) of the exact ones: each
    order statistic may be read as the mean of the durations within 1% of it (exact when it
    has none). Counts, sums, averages and maxima are exact."""
    p95_duration_seconds: float | None
    max_duration_seconds: float | None
    time_in_step_seconds: float
    """Sum of every run's duration."""
    workflow_time_seconds: float | None
    """Total duration of the workflow's finished executions in the same window (the same in
    every row: the denominator of a step's share of execution time); None when none."""


@dataclass(frozen=True, slots=True)
class WorkflowSummaryRow:
    """One workflow of a workspace, catalogued or only seen in telemetry (foreign tracers)."""

    workflow_id: str
    name: str
    """The catalogue's name, else the newest execution's workflow name, else the id."""
    description: str | None
    catalogued: bool
    service_name: str | None
    """Of the newest execution naming one."""
    last_execution_id: str | None
    """The newest execution by creation (queue, else start, else update time); None if none."""
    last_status: str | None
    last_created_ns: int | None
    running: int
    """Open executions now (whatever the window)."""
    pending: int
    finished: int
    """Finished executions in the window, and how many of them completed."""
    completed: int
    p50_duration_seconds: float | None
    p95_duration_seconds: float | None


@dataclass(frozen=True, slots=True)
class DailyCount:
    """Executions of one workflow on one UTC day (by start, else queue time)."""

    workflow_id: str
    day: date
    executions: int
    failed: int
    """Of those, how many failed or timed out."""


@dataclass(frozen=True, slots=True)
class DurationPoint:
    """One finished execution, narrow (a point of a duration-over-time chart)."""

    execution_id: str
    execution_number: int | None
    status: str
    started_ns: int | None
    """Start time, else queue time."""
    duration_seconds: float | None


@dataclass(frozen=True, slots=True)
class OpenCount:
    """How many executions of one workflow of one workspace are in one open status now."""

    workspace_id: str
    workflow_id: str
    status: str
    """running or pending"""
    executions: int


@dataclass(frozen=True, slots=True)
class FinishedDurations:
    points: list[DurationPoint]
    total: int
    """How many finished executions the window holds (points may be fewer)."""


class WorkflowMetricsReader(Protocol):
    """Aggregates over one workspace's executions and step spans."""

    def workflow_totals(
        self, workspace_id: str, workflow_id: str, since_ns: int, until_ns: int
    ) -> WorkflowTotals:
        """The workflow's executions in the window: finished ones by status with their
        durations, and the open ones. An unknown workflow gets all zeros and None."""
        ...

    def step_totals(
        self, workspace_id: str, workflow_id: str, since_ns: int, until_ns: int
    ) -> list[StepTotals]:
        """Per step id, over the workflow's step spans in the window (a step span without a
        workflow id belongs to its execution's workflow), ordered by each step's first start,
        then step id; [] when none."""
        ...

    def workflow_summaries(self, workspace_id: str, since_ns: int, until_ns: int) -> list[WorkflowSummaryRow]:
        """Every workflow of the workspace, catalogued or seen in executions, ordered by
        lower-cased name, then id; [] when none. Only `finished`, `completed` and the
        percentiles are windowed."""
        ...

    def executions_per_day(self, workspace_id: str, since_ns: int) -> list[DailyCount]:
        """Per workflow and UTC day, executions started (else queued) at or after
        `since_ns`; days without executions are absent; unordered."""
        ...

    def finished_durations(
        self, workspace_id: str, workflow_id: str, since_ns: int, until_ns: int, limit: int
    ) -> FinishedDurations:
        """The newest `limit` finished executions of the workflow in the window (by start,
        else queue time, then id), returned oldest first, and how many the window holds;
        empty points and total 0 when none."""
        ...

    def open_counts(self) -> list[OpenCount]:
        """Open executions now, per workspace, workflow and status (absent when none);
        unordered. The one read across workspaces (the server's `/metrics`, each row naming
        its workspace)."""
        ...

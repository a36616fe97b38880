"""What callers see of an execution: a live handle and immutable result snapshots."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowscope.engine.state import StepRun
from flowscope.engine.telemetry import format_span_id

if TYPE_CHECKING:
    from flowscope.engine.scheduler import Execution


def _ts(ns: int) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC) if ns else None


@dataclass(frozen=True)
class StepResult:
    id: str
    name: str
    order: int  # 1-based position in the definition
    status: str  # pending | running | completed | failed | skipped | cancelled
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    duration_seconds: float | None
    retry_count: int
    output: Any
    error: str | None
    skip_reason: str | None
    span_id: str  # step execution id (16 hex)

    @classmethod
    def of(cls, run: StepRun) -> StepResult:
        return cls(
            id=run.step.id, name=run.step.display_name, order=run.index + 1, status=run.status,
            started_at=_ts(run.started_ns), ended_at=_ts(run.ended_ns),
            duration_seconds=run.duration_seconds, retry_count=run.retry_count, output=run.output,
            error=run.error, skip_reason=run.skip_reason, span_id=format_span_id(run.span_id),
        )  # fmt: skip


@dataclass(frozen=True)
class ExecutionResult:
    execution_id: str
    workflow_id: str
    workflow_name: str
    execution_number: int
    workspace_id: str
    status: str  # completed | failed | cancelled | timeout
    error: str | None
    inputs: dict[str, Any]
    results: dict[str, Any]  # step id -> output, for completed steps
    queued_at: dt.datetime | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    duration_seconds: float | None
    steps: list[StepResult]

    def step(self, step_id: str) -> StepResult:
        return next(s for s in self.steps if s.id == step_id)


class ExecutionHandle:
    """A submitted execution. `execution_id` (= trace id) is valid from the moment of submit.

    Once finished it holds only its `ExecutionResult`: the run-time state (the Execution, its
    step runs, its telemetry emitter, its plan) is released, so kept handles stay small."""

    def __init__(
        self, execution: Execution, *, workspace_id: str, execution_number: int, project_id: str | None
    ) -> None:
        self._execution: Execution | None = execution
        self._task: asyncio.Task[None] | None = None
        self._result: ExecutionResult | None = None
        self._done_event = asyncio.Event()
        self.execution_id = execution.execution_id
        self.root_span_id = format_span_id(execution.telemetry.root_span_id)
        self.workflow_id = execution.workflow_id
        self.workflow_name = execution.plan.definition.name
        self.workspace_id = workspace_id
        self.execution_number = execution_number
        self.project_id = project_id
        self.queued_ns = execution.queued_ns  # like the ids, readable from any thread

    @property
    def status(self) -> str:
        if self._result is not None:
            return self._result.status
        assert self._execution is not None
        return self._execution.status

    @property
    def result(self) -> ExecutionResult | None:
        return self._result

    @property
    def queued_at(self) -> dt.datetime | None:
        return _ts(self.queued_ns)

    def done(self) -> bool:
        return self._result is not None

    def steps(self) -> list[StepResult]:
        """Live snapshot of every step, in definition order."""
        if self._result is not None:
            return self._result.steps
        assert self._execution is not None
        return [StepResult.of(r) for r in self._execution.runs]

    def cancel(self) -> bool:
        return self._execution.cancel() if self._execution is not None else False

    async def wait(self, timeout: float | None = None) -> ExecutionResult:
        await asyncio.wait_for(self._done_event.wait(), timeout)
        assert self._result is not None
        return self._result

    def _complete(self) -> None:
        e = self._execution
        if e is None:
            return
        if e.status in ("pending", "running"):  # the driver itself failed: never leave it running
            e.finish_unstarted()
        started = e.started_ns or e.queued_ns
        self._result = ExecutionResult(
            execution_id=e.execution_id, workflow_id=e.workflow_id, workflow_name=self.workflow_name,
            execution_number=self.execution_number, workspace_id=self.workspace_id, status=e.status,
            error=e.error, inputs=e.inputs, results=e.results(), queued_at=_ts(e.queued_ns),
            started_at=_ts(e.started_ns), ended_at=_ts(e.ended_ns),
            duration_seconds=(e.ended_ns - started) / 1e9 if e.ended_ns else None, steps=self.steps(),
        )  # fmt: skip
        self._execution = None
        self._done_event.set()

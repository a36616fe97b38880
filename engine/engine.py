"""`Engine`: the facade the API server and the CLI use to run workflows.

engine = Engine(EngineConfig(...))
handle = await engine.submit(definition, {"mode": "fast"}, workflow_id="wf-1",
                             execution_number=7, workspace_id="default")
handle.execution_id          # = trace id, known before anything runs
result = await handle.wait()
engine.cancel(handle.execution_id)
await engine.shutdown()

An Engine lives on the loop that calls it (the server runs it on a loop of its own, see
`engine.host`). Which submitted executions run when is `engine.admission`'s: quotas per
workspace (`QuotaExceeded` when full) and round-robin starts across workspaces.

Memory is bounded by what runs, not by what ran: a finished execution leaves only its
`ExecutionResult` (on the caller's handle, and in a small LRU for `get()`), and plans are
cached by content in an LRU bounded by their total steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import orjson

from engine.actions import ActionRegistry
from engine.actions import registry as default_registry
from engine.admission import FairQueue, Limits, QuotaExceeded
from engine.config import EngineConfig
from engine.expressions import Evaluator
from engine.inputs import resolve_inputs
from engine.model import WorkflowDefinition
from engine.plan import WorkflowPlan
from engine.results import ExecutionHandle, ExecutionResult, StepResult
from engine.scheduler import Execution
from engine.telemetry import Telemetry
from engine.validation import DefinitionError, require_valid, validate_definition

_PLAN_CACHE_SIZE = 256
# Bounds by size, not only by count: a 10k-step plan or result is megabytes, 256 of them gigabytes.
_PLAN_CACHE_STEPS = 20_000  # ~3 KB a step
_FINISHED_STEPS_KEPT = 20_000


class Engine:
    def __init__(
        self,
        config: EngineConfig | None = None,
        *,
        registry: ActionRegistry | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.config = config or EngineConfig()
        self.registry = registry or default_registry
        self.telemetry = telemetry or Telemetry(self.config.telemetry)
        self.evaluator = Evaluator(self.config.expression_limits)
        self._plans: OrderedDict[Any, tuple[Any, WorkflowPlan]] = OrderedDict()
        self._plan_steps = 0
        self._plans_lock = threading.Lock()  # prepare() may run in worker threads (engine.host)
        self._active: dict[str, ExecutionHandle] = {}
        self._finished: OrderedDict[str, ExecutionHandle] = OrderedDict()
        self._finished_steps = 0
        c = self.config
        self._queue: FairQueue[ExecutionHandle] = FairQueue(
            Limits(c.max_concurrent_executions, c.max_running_per_workspace, c.max_pending_per_workspace)
        )
        self._closed = False

    # -- definitions -----------------------------------------------------------------
    def validate(self, data: Any) -> tuple[WorkflowDefinition | None, list[Any]]:
        """`validate_definition` under this engine's config (disabled actions are problems)."""
        return validate_definition(data, config=self.config, registry=self.registry)

    def prepare(
        self, definition: WorkflowDefinition | dict[str, Any], base_dir: Path | None = None
    ) -> WorkflowPlan:
        """Validate and compile a definition (cached), raising DefinitionError with every problem.

        Thread-safe, and CPU-heavy for big definitions (a 10k-step one takes about a second):
        a server calls it off its serving loop. Dict definitions are cached by content, so
        every execution of one workflow version shares one plan, validated once."""
        if isinstance(definition, WorkflowDefinition):
            key: Any = (id(definition), base_dir)
        else:
            data = orjson.dumps(definition, option=orjson.OPT_SORT_KEYS, default=str)
            key = (hashlib.blake2b(data, digest_size=32).digest(), base_dir)
        with self._plans_lock:
            hit = self._plans.get(key)
            if hit is not None:
                self._plans.move_to_end(key)
                return hit[1]
        model = require_valid(definition, config=self.config, registry=self.registry)
        plan = WorkflowPlan(model, self.config, self.registry, base_dir)
        with self._plans_lock:
            old = self._plans.pop(key, None)
            self._plan_steps += len(plan.steps) - (len(old[1].steps) if old else 0)
            # A model stays alive with its plan so that its id() (the key) is not reused.
            self._plans[key] = (definition if isinstance(definition, WorkflowDefinition) else None, plan)
            while len(self._plans) > 1 and (
                len(self._plans) > _PLAN_CACHE_SIZE or self._plan_steps > _PLAN_CACHE_STEPS
            ):
                self._plan_steps -= len(self._plans.popitem(last=False)[1][1].steps)
        return plan

    # -- executions ------------------------------------------------------------------
    async def submit(
        self,
        definition: WorkflowDefinition | dict[str, Any] | WorkflowPlan,
        inputs: dict[str, Any] | None = None,
        *,
        workflow_id: str,
        execution_number: int = 1,
        workspace_id: str = "default",
        project_id: str | None = None,
        base_dir: Path | None = None,
    ) -> ExecutionHandle:
        """Queue an execution and return at once. Raises DefinitionError / InputError when invalid,
        QuotaExceeded when the workspace has as many running and pending as it may."""
        if self._closed:
            raise RuntimeError("engine is shut down")
        plan = definition if isinstance(definition, WorkflowPlan) else self.prepare(definition, base_dir)
        resolved = resolve_inputs(plan.definition, inputs)
        self._queue.check(workspace_id)  # before anything is emitted: a refused one leaves no trace
        tel = self.telemetry.execution(
            workspace_id=workspace_id, workflow_id=workflow_id, workflow_name=plan.definition.name,
            execution_number=execution_number, project_id=project_id,
        )  # fmt: skip
        execution = Execution(
            plan, resolved, tel, config=self.config, evaluator=self.evaluator, workflow_id=workflow_id
        )
        tel.queued(resolved)
        handle = ExecutionHandle(
            execution, workspace_id=workspace_id, execution_number=execution_number, project_id=project_id
        )
        self._active[handle.execution_id] = handle
        if self._queue.admit(workspace_id, handle):
            self._start(handle)
        return handle

    def check_quota(self, workspace_id: str) -> None:
        """Raise QuotaExceeded if `submit` for this workspace would (so callers can refuse early)."""
        self._queue.check(workspace_id)

    def quota_room(self, workspace_id: str) -> int:
        """How many more executions `workspace_id` may submit now before QuotaExceeded."""
        return self._queue.room(workspace_id)

    def _start(self, handle: ExecutionHandle) -> None:
        handle._task = asyncio.get_running_loop().create_task(self._drive(handle))

    async def _drive(self, handle: ExecutionHandle) -> None:
        execution = handle._execution
        assert execution is not None
        started = time.monotonic()
        try:
            if execution.cancel_requested:  # cancelled between its turn and its task's first step
                execution.finish_unstarted()
            else:
                await execution.run()
        finally:
            self._retire(handle)
            for nxt in self._queue.release(handle.workspace_id, time.monotonic() - started):
                self._start(nxt)

    def _retire(self, handle: ExecutionHandle) -> None:
        """An execution ended: keep its result only (and only in the bounded LRU)."""
        handle._complete()
        self._active.pop(handle.execution_id, None)
        if self.config.finished_executions_kept <= 0:
            return
        self._finished[handle.execution_id] = handle
        self._finished_steps += len(handle.steps())
        while len(self._finished) > self.config.finished_executions_kept or (
            self._finished_steps > _FINISHED_STEPS_KEPT and len(self._finished) > 1
        ):
            self._finished_steps -= len(self._finished.popitem(last=False)[1].steps())

    def get(self, execution_id: str) -> ExecutionHandle | None:
        return self._active.get(execution_id) or self._finished.get(execution_id)

    def active(self) -> list[ExecutionHandle]:
        return list(self._active.values())

    def stats(self) -> dict[str, int]:
        """Sizes of everything the engine holds: running, pending, kept for get(), cached plans."""
        return {
            "active": len(self._active), "running": self._queue.running(), "pending": self._queue.pending(),
            "finished_kept": len(self._finished), "finished_steps_kept": self._finished_steps,
            "plans_cached": len(self._plans), "plan_steps_cached": self._plan_steps,
        }  # fmt: skip

    def cancel(self, execution_id: str) -> bool:
        """Cancel a pending or running execution; False if unknown or already finished."""
        handle = self._active.get(execution_id)
        if handle is None:
            return False
        if self._queue.discard(handle.workspace_id, handle):  # still waiting: end it here and now
            handle.cancel()
            handle._execution.finish_unstarted()  # type: ignore[union-attr]
            self._retire(handle)
            return True
        return handle.cancel()

    def emit_interrupted(self, **kwargs: Any) -> None:
        """Close an execution a crash left running as `failed` (see Telemetry.emit_interrupted)."""
        self.telemetry.emit_interrupted(**kwargs)

    async def shutdown(self, *, grace_seconds: float = 0.0) -> None:
        """Let running executions finish for `grace_seconds`, cancel the rest, flush telemetry."""
        self._closed = True
        for waiting in self._queue.drain():
            waiting.cancel()
            waiting._execution.finish_unstarted()  # type: ignore[union-attr]
            self._retire(waiting)
        handles = list(self._active.values())
        if handles and grace_seconds > 0:
            await asyncio.wait([h._task for h in handles if h._task], timeout=grace_seconds)
        for h in list(self._active.values()):
            h.cancel()
        tasks = [h._task for h in handles if h._task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.evaluator.close()
        await asyncio.to_thread(self.telemetry.shutdown)


__all__ = ["DefinitionError", "Engine", "ExecutionHandle", "ExecutionResult", "QuotaExceeded", "StepResult"]

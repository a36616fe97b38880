"""`Engine`: the facade the API server and the CLI use to run workflows.

engine = Engine(EngineConfig(...))
handle = await engine.submit(definition, {"mode": "fast"}, workflow_id="wf-1",
                             execution_number=7, workspace_id="default")
handle.execution_id          # = trace id, known before anything runs
result = await handle.wait()
engine.cancel(handle.execution_id)
await engine.shutdown()
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from pathlib import Path
from typing import Any

import orjson

from engine.actions import ActionRegistry
from engine.actions import registry as default_registry
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
_FINISHED_KEPT = 256  # recent results for get(); the collector is the history


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
        self._active: dict[str, ExecutionHandle] = {}
        self._finished: OrderedDict[str, ExecutionHandle] = OrderedDict()
        self._slots: asyncio.Semaphore | None = None
        self._closed = False

    # -- definitions -----------------------------------------------------------------
    def validate(self, data: Any) -> tuple[WorkflowDefinition | None, list[Any]]:
        """`validate_definition` under this engine's config (disabled actions are problems)."""
        return validate_definition(data, config=self.config, registry=self.registry)

    def prepare(
        self, definition: WorkflowDefinition | dict[str, Any], base_dir: Path | None = None
    ) -> WorkflowPlan:
        """Validate and compile a definition (cached), raising DefinitionError with every problem."""
        if isinstance(definition, WorkflowDefinition):
            key: Any = (id(definition), base_dir)
        else:
            key = (orjson.dumps(definition, option=orjson.OPT_SORT_KEYS, default=str), base_dir)
        hit = self._plans.get(key)
        if hit is not None:
            self._plans.move_to_end(key)
            return hit[1]
        model = require_valid(definition, config=self.config, registry=self.registry)
        plan = WorkflowPlan(model, self.config, self.registry, base_dir)
        # Keep the definition object alive with the plan so its id() is not reused.
        self._plans[key] = (definition, plan)
        if len(self._plans) > _PLAN_CACHE_SIZE:
            self._plans.popitem(last=False)
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
        """Queue an execution and return at once. Raises DefinitionError / InputError when invalid."""
        if self._closed:
            raise RuntimeError("engine is shut down")
        plan = definition if isinstance(definition, WorkflowPlan) else self.prepare(definition, base_dir)
        resolved = resolve_inputs(plan.definition, inputs)
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
        handle._task = asyncio.get_running_loop().create_task(self._drive(handle))
        return handle

    async def _drive(self, handle: ExecutionHandle) -> None:
        execution = handle._execution
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.config.max_concurrent_executions)
        slots = self._slots
        try:
            if slots.locked():
                # Wait for a slot, but let cancel() end a queued execution at once.
                acquire = asyncio.ensure_future(slots.acquire())
                await asyncio.wait({acquire, execution._done}, return_when=asyncio.FIRST_COMPLETED)
                if not acquire.done() or acquire.cancelled():
                    acquire.cancel()
                    execution.finish_unstarted()
                    return
                if execution.cancel_requested:
                    slots.release()
                    execution.finish_unstarted()
                    return
            else:
                await slots.acquire()
            try:
                await execution.run()
            finally:
                slots.release()
        finally:
            handle._complete()
            self._active.pop(handle.execution_id, None)
            self._finished[handle.execution_id] = handle
            if len(self._finished) > _FINISHED_KEPT:
                self._finished.popitem(last=False)

    def get(self, execution_id: str) -> ExecutionHandle | None:
        return self._active.get(execution_id) or self._finished.get(execution_id)

    def active(self) -> list[ExecutionHandle]:
        return list(self._active.values())

    def cancel(self, execution_id: str) -> bool:
        """Cancel a pending or running execution; False if unknown or already finished."""
        handle = self._active.get(execution_id)
        return handle.cancel() if handle is not None else False

    def emit_interrupted(self, **kwargs: Any) -> None:
        """Close an execution a crash left running as `failed` (see Telemetry.emit_interrupted)."""
        self.telemetry.emit_interrupted(**kwargs)

    async def shutdown(self, *, grace_seconds: float = 0.0) -> None:
        """Let running executions finish for `grace_seconds`, cancel the rest, flush telemetry."""
        self._closed = True
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


__all__ = ["DefinitionError", "Engine", "ExecutionHandle", "ExecutionResult", "StepResult"]

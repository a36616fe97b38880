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
import inspect
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from flowscope.engine.actions import ActionRegistry
from flowscope.engine.actions import registry as default_registry
from flowscope.engine.admission import FairQueue, Limits, QuotaExceeded
from flowscope.engine.config import EngineConfig
from flowscope.engine.expressions import Evaluator
from flowscope.engine.inputs import resolve_inputs
from flowscope.engine.model import WorkflowDefinition
from flowscope.engine.plan import WorkflowPlan
from flowscope.engine.results import ExecutionHandle, ExecutionResult, StepResult
from flowscope.engine.scheduler import Execution
from flowscope.engine.telemetry import BuiltRecord, RemoteParent, Telemetry
from flowscope.engine.validation import DefinitionError, require_valid, validate_definition

_PLAN_CACHE_SIZE = 256
# Bounds by size, not only by count: a 10k-step plan or result is megabytes, 256 of them gigabytes.
_PLAN_CACHE_STEPS = 20_000  # ~3 KB a step
_FINISHED_STEPS_KEPT = 20_000


@dataclass(frozen=True, slots=True)
class QueuedBatch:
    """Executions `submit_many` admitted, before anything of them is exported or runs: their
    ids and numbers, and their `workflow.execution.queued` records (none when tracing is off;
    with a caller, its `flowscope.execution.triggered` records too), which
    `engine.telemetry.encode_logs` turns into the very OTLP request, byte for byte, that the
    engine's exporter sends once they are recorded."""

    workspace_id: str
    workflow_id: str
    execution_ids: list[str]
    execution_numbers: list[int]
    records: list[BuiltRecord]


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
        self._held: set[ExecutionHandle] = set()  # admitted, their queued records being recorded
        self._start_when_recorded: set[ExecutionHandle] = set()
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
        (handle,) = await self.submit_many(
            definition, [inputs], workflow_id=workflow_id, numbers=[execution_number],
            workspace_id=workspace_id, project_id=project_id, base_dir=base_dir,
        )  # fmt: skip
        return handle

    async def submit_many(
        self,
        definition: WorkflowDefinition | dict[str, Any] | WorkflowPlan,
        input_sets: Sequence[dict[str, Any] | None],
        *,
        workflow_id: str,
        numbers: Sequence[int] | Callable[[int], Sequence[int] | Awaitable[Sequence[int]]],
        workspace_id: str = "default",
        project_id: str | None = None,
        base_dir: Path | None = None,
        record: Callable[[QueuedBatch], Awaitable[None]] | None = None,
        triggered_by: RemoteParent | None = None,
    ) -> list[ExecutionHandle]:
        """Queue one execution per input set, all or none: InputError for the first invalid set,
        QuotaExceeded unless the workspace has room for every one (nothing is emitted then).

        `numbers`: their execution numbers, or a function giving that many (or an awaitable of
        them), called once the quota admitted them (so a refused request takes none).
        `record`: awaited with their queued records (`QueuedBatch`) after they are admitted
        (their places held) and before anything is exported or runs, so the caller can
        store them first (the API's read-your-writes, see api/intake.py). If it raises,
        nothing is emitted or run, their places are freed, and the error propagates.
        `triggered_by`: the caller's span (its traceparent), which each root span links to."""
        if self._closed:
            raise RuntimeError("engine is shut down")
        plan = definition if isinstance(definition, WorkflowPlan) else self.prepare(definition, base_dir)
        resolved = [resolve_inputs(plan.definition, inputs) for inputs in input_sets]
        self._queue.check(workspace_id, len(resolved))  # a refused request leaves no trace
        given = numbers(len(resolved)) if callable(numbers) else numbers
        if inspect.isawaitable(given):  # numbers taken elsewhere (a lake's catalog: api/intake.py)
            given = await given
            if self._closed:
                raise RuntimeError("engine is shut down")
            # Others may have taken the room meanwhile: then these numbers stay unused (a gap).
            self._queue.check(workspace_id, len(resolved))
        taken = list(given)
        handles: list[ExecutionHandle] = []
        tels, records = [], []
        for inputs, number in zip(resolved, taken, strict=True):
            tel = self.telemetry.execution(
                workspace_id=workspace_id, workflow_id=workflow_id, workflow_name=plan.definition.name,
                execution_number=number, project_id=project_id, triggered_by=triggered_by,
            )  # fmt: skip
            execution = Execution(
                plan, inputs, tel, config=self.config, evaluator=self.evaluator, workflow_id=workflow_id
            )
            tels.append(tel)
            records.append(tel.queued_records(inputs, execution.queued_ns))
            handles.append(ExecutionHandle(
                execution, workspace_id=workspace_id, execution_number=number, project_id=project_id
            ))  # fmt: skip
        # Admitted now, so that concurrent submits see these places taken while `record` runs;
        # held, so that none starts (were a place freed meanwhile) before it is recorded.
        start_now = {h for h in handles if self._queue.admit(workspace_id, h)}
        if record is not None:
            self._held.update(handles)
            try:
                await record(QueuedBatch(
                    workspace_id, workflow_id, [h.execution_id for h in handles], taken,
                    [r for built in records for r in built],
                ))  # fmt: skip
            except BaseException:
                self._unadmit(handles, start_now)
                raise
            finally:
                self._held.difference_update(handles)
            start_now |= self._start_when_recorded.intersection(handles)
            self._start_when_recorded.difference_update(handles)
        for handle, tel, queued in zip(handles, tels, records, strict=True):
            tel.emit_queued(queued)
            if handle.done():  # drained by a shutdown while it was being recorded
                continue
            self._active[handle.execution_id] = handle
            if self._closed:  # shut down while it was being recorded: it never runs
                handle.cancel()
                handle._execution.finish_unstarted()  # type: ignore[union-attr]
                self._retire(handle)
            elif handle in start_now:
                self._start(handle)
        return handles

    def _unadmit(self, handles: list[ExecutionHandle], started: set[ExecutionHandle]) -> None:
        """Give back the places of executions that will not run (their recording failed)."""
        for handle in handles:
            if handle in started or handle in self._start_when_recorded:
                self._start_when_recorded.discard(handle)
                for nxt in self._queue.release(handle.workspace_id):
                    self._start(nxt)
            else:
                self._queue.discard(handle.workspace_id, handle)

    def check_quota(self, workspace_id: str) -> None:
        """Raise QuotaExceeded if `submit` for this workspace would (so callers can refuse early)."""
        self._queue.check(workspace_id)

    def quota_room(self, workspace_id: str) -> int:
        """How many more executions `workspace_id` may submit now before QuotaExceeded."""
        return self._queue.room(workspace_id)

    def _start(self, handle: ExecutionHandle) -> None:
        if handle in self._held:  # its turn came while it is being recorded: start it after
            self._start_when_recorded.add(handle)
            return
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


__all__ = [
    "DefinitionError", "Engine", "ExecutionHandle", "ExecutionResult", "QueuedBatch", "QuotaExceeded",
    "StepResult",
]  # fmt: skip

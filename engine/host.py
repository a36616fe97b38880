"""`EngineHost`: an Engine on its own event loop, in its own thread, driven from another loop.

Why: an execution is engine bookkeeping on the loop that runs it - a task, a span and a
few callbacks per step. A 10k-step workflow on the loop that also serves HTTP held it for
5-6 s (/healthz answered in up to 4.6 s). On a loop of its own that work only competes for
the GIL, which the interpreter hands to a waiting thread every few milliseconds
(`sys.getswitchinterval()`), so the serving loop stays responsive whatever runs.
Validation and planning, the CPU-heavy part of a big definition (about a second for 10k
steps), run in a worker thread, on neither loop.

host = EngineHost(EngineConfig(...))                # starts the thread
plan = await host.prepare(definition)               # from the serving loop; cached by content
handle = await host.submit(plan, inputs, workflow_id=..., workspace_id=...)
handles = await host.submit_many(plan, [inputs, ...], workflow_id=..., numbers=..., record=...)
result = await host.wait(handle)
host.cancel(handle.execution_id)                    # blocking: call from a worker thread
await host.shutdown()

Handles live on the engine's loop: read their ids and results, await them through `wait`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from flowscope.engine.config import EngineConfig
from flowscope.engine.engine import Engine
from flowscope.engine.plan import WorkflowPlan
from flowscope.engine.results import ExecutionHandle, ExecutionResult
from flowscope.engine.validation import ValidationProblem

T = TypeVar("T")

_CALL_TIMEOUT_S = 30.0  # blocking calls into the engine loop (cancel, stats) never wait forever


class EngineHost:
    def __init__(self, config: EngineConfig | None = None, **engine_kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="flowscope-engine", daemon=True)
        self._thread.start()
        # Built on its own loop, so anything it creates there belongs to that loop.
        self.engine: Engine = self._call(lambda: Engine(config, **engine_kwargs))

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    # -- what callers on any thread may read ------------------------------------------
    @property
    def config(self) -> EngineConfig:
        return self.engine.config

    @property
    def telemetry(self) -> Any:
        """The engine's `Telemetry` (thread-safe: its pipelines lock, its processors queue)."""
        return self.engine.telemetry

    def validate(self, data: Any) -> tuple[Any, list[ValidationProblem]]:
        """The engine's validation (a pure function of its config): any thread, CPU-bound."""
        return self.engine.validate(data)

    def emit_interrupted(self, **kwargs: Any) -> None:
        self.engine.emit_interrupted(**kwargs)

    # -- async calls from another loop ------------------------------------------------
    async def prepare(self, definition: dict[str, Any]) -> WorkflowPlan:
        """Validate and compile (cached) in a worker thread; raises DefinitionError."""
        return await asyncio.to_thread(self.engine.prepare, definition)

    async def submit(self, plan: WorkflowPlan | dict[str, Any], inputs: dict[str, Any] | None = None,
                     **kwargs: Any) -> ExecutionHandle:  # fmt: skip
        """`Engine.submit` on the engine's loop: raises what it raises (QuotaExceeded, InputError...)."""
        return await self._run(self.engine.submit(plan, inputs, **kwargs))

    async def submit_many(
        self, plan: WorkflowPlan | dict[str, Any], input_sets: Sequence[dict[str, Any] | None], **kwargs: Any
    ) -> list[ExecutionHandle]:
        """`Engine.submit_many` on the engine's loop (its `record` callback runs there too).

        Shielded: a caller cancelled meanwhile (a client gone) does not cancel a submit that
        may already have stored its executions, so they never stay pending without running."""
        coro = self.engine.submit_many(plan, input_sets, **kwargs)
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return await asyncio.shield(asyncio.wrap_future(future))

    async def wait(self, handle: ExecutionHandle, timeout: float | None = None) -> ExecutionResult:
        return await self._run(handle.wait(timeout))

    async def check_quota(self, workspace_id: str) -> None:
        """Raise QuotaExceeded if a submit for this workspace would."""
        await self._run(self._async(lambda: self.engine.check_quota(workspace_id)))

    async def quota_room(self, workspace_id: str) -> int:
        """How many more executions the workspace may submit now (for bulk triggers)."""
        return await self._run(self._async(lambda: self.engine.quota_room(workspace_id)))

    # -- blocking calls (from worker threads) -----------------------------------------
    def cancel(self, execution_id: str) -> bool:
        """Cancel a pending or running execution; False if unknown here or already finished."""
        return self._call(lambda: self.engine.cancel(execution_id))

    def stats(self) -> dict[str, int]:
        return self._call(self.engine.stats)

    # -- lifecycle ---------------------------------------------------------------------
    async def shutdown(self, *, grace_seconds: float = 0.0) -> None:
        """Shut the engine down (see `Engine.shutdown`), then stop its loop and thread."""
        if not self._thread.is_alive():
            return
        try:
            await self._run(self.engine.shutdown(grace_seconds=grace_seconds))
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join)
            self._loop.close()

    # -- plumbing ------------------------------------------------------------------------
    async def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    @staticmethod
    async def _async(fn: Callable[[], T]) -> T:
        return fn()

    def _call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the engine's loop and wait for its result (blocking this thread)."""
        if threading.current_thread() is self._thread:
            return fn()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def call() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the caller
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(call)
        return future.result(_CALL_TIMEOUT_S)


__all__ = ["EngineHost"]

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
import logging
import threading
import weakref
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from flowscope.engine.config import EngineConfig
from flowscope.engine.engine import Engine
from flowscope.engine.plan import WorkflowPlan
from flowscope.engine.results import ExecutionHandle, ExecutionResult
from flowscope.engine.validation import ValidationProblem

from flowscope import event_loops

T = TypeVar("T")

log = logging.getLogger("flowscope.engine")

_CALL_TIMEOUT_S = 30.0  # blocking calls into the engine loop (cancel, stats) never wait forever


class EngineHost:
    def __init__(self, config: EngineConfig | None = None, **engine_kwargs: Any) -> None:
        self._loop = event_loops.new_event_loop()
        self._inbox = Mailbox(self._loop)
        # The callers' loops (a test makes many): engine thread only.
        self._outboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Mailbox] = (
            weakref.WeakKeyDictionary()
        )
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
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[list[ExecutionHandle]] = loop.create_future()

        def reply(task: asyncio.Task[list[ExecutionHandle]]) -> None:  # on the engine's loop
            self._mailbox(loop).post(lambda: _settle(answer, task))

        def start() -> None:  # on the engine's loop
            task = self._loop.create_task(self.engine.submit_many(plan, input_sets, **kwargs))
            task.add_done_callback(reply)

        self._inbox.post(start)
        # Cancelling this await cancels `answer` alone: the submit goes on (the shield).
        return await answer

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

    def _mailbox(self, loop: asyncio.AbstractEventLoop) -> Mailbox:
        """The mailbox of a caller's loop (created on first use, on the engine's thread)."""
        box = self._outboxes.get(loop)
        if box is None:
            box = self._outboxes[loop] = Mailbox(loop)
        return box

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


class Mailbox:
    """Calls for one event loop from other threads, run there in order, with one wake-up of
    that loop per batch: a burst of triggers (each a hop to the engine's loop and one back)
    costs each loop one wake-up and one callback per batch instead of a future chain per call
    (run_coroutine_threadsafe + wrap_future + shield: ~0.2 ms of the serving loop each)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._calls: list[Callable[[], None]] = []

    def post(self, call: Callable[[], None]) -> None:
        """Run `call` on the loop soon (any thread). Raises RuntimeError if the loop is closed
        (for the call that finds it closed: calls posted with it are dropped, as the loop's)."""
        with self._lock:
            self._calls.append(call)
            if len(self._calls) > 1:  # the batch's wake-up is on its way
                return
        try:
            self._loop.call_soon_threadsafe(self._run)
        except RuntimeError:
            with self._lock:
                self._calls.clear()
            raise

    def _run(self) -> None:
        with self._lock:
            calls, self._calls = self._calls, []
        for call in calls:
            try:
                call()
            except Exception:  # one failing call must not drop the others of its batch
                log.exception("a call posted to an event loop failed")


def _settle(answer: asyncio.Future[T], task: asyncio.Task[T]) -> None:
    """Hand a finished engine task's outcome to the caller's future (unless it gave up)."""
    if answer.done():  # the caller was cancelled; the outcome is dropped
        if not task.cancelled():
            task.exception()  # (retrieved, so that asyncio does not log it as lost)
        return
    if task.cancelled():
        answer.cancel()
    elif (error := task.exception()) is not None:
        answer.set_exception(error)
    else:
        answer.set_result(task.result())


__all__ = ["EngineHost", "Mailbox"]

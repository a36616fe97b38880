"""Runs one execution of a workflow plan on the asyncio loop.

Semantics (documented for users in the README):
- A step becomes ready when all its dependencies have finished; its trigger rule
  then decides run or skip (see `TriggerRule`). Ready steps run in parallel, at
  most `max_parallelism` at once, in definition order when capacity is short.
- `condition` false -> `skipped` with the reason recorded.
- Each attempt may time out ("Timeout exceeded"); failures are retried with
  exponential backoff and jitter until `retry.max_attempts`; retry_count = attempts - 1.
  Param rendering errors (a template that fails) are not retried: they are deterministic.
- A failed step skips its dependents ("upstream failed") unless their trigger rule
  says otherwise. Other branches keep going - running steps finish and independent
  pending steps still run - so cleanup/all_done steps can run; the execution then
  ends `failed` with error "Step '<id>' failed" (the first step that failed).
- Workflow timeout: running steps are cancelled, unstarted ones become
  `cancelled`, the execution ends `timeout`. `cancel()` does the same with status
  `cancelled`. Cancelled running steps stop promptly: asyncio work is cancelled,
  subprocess groups are killed, SQL queries interrupted; a sync Python function
  cannot be killed, so its thread is abandoned and finishes in the background.

Performance: there is no polling loop. Step completion synchronously updates the
dependents' counters and launches newly ready steps, so per-step overhead is one
task plus a few dict/list operations.
"""

from __future__ import annotations

import asyncio
import decimal
import functools
import random
import time
from collections import deque
from pathlib import PurePath
from typing import Any

import orjson
from flowscope.engine.actions import StepContext
from flowscope.engine.config import EngineConfig
from flowscope.engine.execution_telemetry import ExecutionTelemetry
from flowscope.engine.expressions import Evaluator, ExpressionError, truthy
from flowscope.engine.model import RetryPolicy, TriggerRule
from flowscope.engine.plan import StepPlan, WorkflowPlan
from flowscope.engine.state import AttemptRecord, StepRun, exact_bytes
from flowscope.engine.telemetry import new_span_id

TIMEOUT_EXCEEDED = "Timeout exceeded"
_ORJSON_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


class _ParamsError(Exception):
    """Rendering or validating a step's params failed: not retried."""


def backoff_delay(policy: RetryPolicy, failed_attempt: int) -> float:
    """Wait after attempt `failed_attempt` (1-based): initial * multiplier^(n-1), jittered, capped."""
    base = policy.initial_backoff_seconds * policy.backoff_multiplier ** (failed_attempt - 1)
    if policy.jitter:
        base *= random.uniform(1 - policy.jitter, 1 + policy.jitter)
    return max(0.0, min(base, policy.max_backoff_seconds))


def trigger_decision(rule: TriggerRule, statuses: list[str]) -> str | None:
    """None to run, else the skip reason. `statuses` are the dependencies' final statuses."""
    if not statuses:
        return None
    failed = any(s in ("failed", "cancelled") for s in statuses)
    completed = any(s == "completed" for s in statuses)
    if rule is TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS:
        if failed:
            return "upstream failed"
        return None if completed else "all upstream steps skipped"
    if rule is TriggerRule.ALL_SUCCESS:
        if all(s == "completed" for s in statuses):
            return None
        return "upstream failed" if failed else "upstream skipped"
    if rule is TriggerRule.ALL_DONE:
        return None
    # ONE_FAILED
    return None if failed else "no upstream step failed"


class Execution:
    def __init__(
        self,
        plan: WorkflowPlan,
        inputs: dict[str, Any],
        telemetry: ExecutionTelemetry,
        *,
        config: EngineConfig,
        evaluator: Evaluator,
        workflow_id: str,
    ) -> None:
        self.plan = plan
        self.inputs = inputs
        self.telemetry = telemetry
        self.config = config
        self.evaluator = evaluator
        self.workflow_id = workflow_id
        self.execution_id = telemetry.execution_id
        self.status = "pending"
        self.error: str | None = None
        self.queued_ns = time.time_ns()
        self.started_ns = 0
        self.ended_ns = 0
        # Per-step state is built when the execution starts (see `runs`): a pending one is small.
        self._remaining: list[int] = []
        self._unfinished = 0
        self._running: dict[int, asyncio.Task[None]] = {}
        self._waiting: deque[int] = deque()  # ready but over max_parallelism
        self._ready: deque[int] = deque()  # to decide (run/skip); drained by _pump
        self._pumping = False
        self._first_failure: str | None = None
        self._stop_reason: str | None = None  # "cancelled" | "timeout"
        self._done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._names_base: dict[str, Any] | None = None
        self._inputs_size = 0
        self._max_parallel = plan.definition.max_parallelism
        self._trace_id = telemetry.trace_id if telemetry.propagates else None

    @functools.cached_property
    def runs(self) -> list[StepRun]:
        """Each step's run-time state; created on first use, so waiting executions cost O(1)."""
        return [StepRun(p.step, p.index, new_span_id(), static_attrs=p.static_attrs) for p in self.plan.steps]

    # -- public -------------------------------------------------------------
    def cancel(self) -> bool:
        """Request cancellation; False if the execution already finished."""
        if self.status in ("completed", "failed", "cancelled", "timeout") or self._stop_reason:
            return False
        self._stop_reason = "cancelled"
        if not self._done.done():
            self._done.set_result(None)
        return True

    @property
    def cancel_requested(self) -> bool:
        return self._stop_reason == "cancelled"

    async def run(self) -> None:
        self.status = "running"
        self.started_ns = time.time_ns()
        self.telemetry.started()
        if self._stop_reason is None:
            self._remaining = [len(p.deps) for p in self.plan.steps]
            self._unfinished = len(self.plan.steps)
            self._ready.extend(self.plan.roots)
            self._pump()
            timeout = self.plan.definition.timeout_seconds
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.shield(self._done)
            except TimeoutError:
                if self._stop_reason is None:
                    self._stop_reason = "timeout"
        if self._stop_reason is not None:
            await self._stop()
        self._finish()

    def finish_unstarted(self) -> None:
        """Cancelled while still queued: close it without running anything."""
        self._stop_reason = self._stop_reason or "cancelled"
        self.started_ns = self.started_ns or time.time_ns()
        self._cancel_unfinished()
        self._finish()

    # -- scheduling -------------------------------------------------------------
    def _pump(self) -> None:
        """Decide ready steps iteratively (skips can cascade through long chains)."""
        if self._pumping:
            return
        self._pumping = True
        try:
            while self._ready and self._stop_reason is None:
                i = self._ready.popleft()
                plan = self.plan.steps[i]
                reason = trigger_decision(plan.step.trigger_rule, [self.runs[d].status for d in plan.deps])
                if reason is not None:
                    self._skip(i, reason)
                elif len(self._running) < self._max_parallel:
                    self._launch(i)
                else:
                    self._waiting.append(i)
        finally:
            self._pumping = False

    def _launch(self, i: int) -> None:
        self._running[i] = asyncio.get_running_loop().create_task(self._run_step(self.plan.steps[i]))

    def _skip(self, i: int, reason: str) -> None:
        run = self.runs[i]
        run.status = "skipped"
        run.skip_reason = reason
        run.started_ns = run.ended_ns = time.time_ns()
        self._finished(i)

    def _finished(self, i: int) -> None:
        """Bookkeeping after step i reached a final status (called synchronously)."""
        run = self.runs[i]
        self.telemetry.step_finished(run)
        if run.status == "failed" and self._first_failure is None:
            self._first_failure = run.step.id
        for j in self.plan.steps[i].dependents:
            self._remaining[j] -= 1
            if self._remaining[j] == 0:
                self._ready.append(j)
        self._unfinished -= 1
        if self._unfinished == 0 and not self._done.done():
            self._done.set_result(None)
            return
        if self._stop_reason is None:
            while self._waiting and len(self._running) < self._max_parallel:
                self._launch(self._waiting.popleft())
            self._pump()

    # -- one step ------------------------------------------------------------------
    def _names(self, plan: StepPlan) -> tuple[dict[str, Any], int]:
        if self._names_base is None:
            self._names_base = self.plan.names_base(self.inputs)
            self._inputs_size = len(orjson.dumps(self.inputs, default=str))
        size = self._inputs_size
        steps: dict[str, Any] = {}
        for k in plan.upstream:
            r = self.runs[k]
            steps[r.step.id] = {"output": r.output, "status": r.status}
            size += len(r.output_json) if r.output_json else 8
        return {**self._names_base, "steps": steps}, size

    async def _run_step(self, plan: StepPlan) -> None:
        run = self.runs[plan.index]
        try:
            await self._execute(plan, run)
        except asyncio.CancelledError as exc:
            if self._stop_reason is not None:
                self._mark_stopped(run)
            else:  # raised by the action's own code, not a cancellation we requested
                run.status, run.error, run.exception = "failed", "Step was cancelled unexpectedly", exc
        except Exception as exc:  # a bug in our own code must not wedge the execution
            run.status, run.error, run.exception = "failed", f"Internal error: {exc}", exc
        run.ended_ns = time.time_ns()
        self._running.pop(plan.index, None)
        self._finished(plan.index)

    async def _execute(self, plan: StepPlan, run: StepRun) -> None:
        params = plan.static_params
        if plan.needs_names:
            names, size = self._names(plan)
            if plan.condition is not None:
                try:
                    ok = truthy(await self.evaluator.evaluate(plan.condition, names, size))
                except ExpressionError as exc:
                    run.started_ns = time.time_ns()
                    run.status, run.error = "failed", f"Condition error: {exc}"
                    return
                if not ok:
                    run.started_ns = time.time_ns()
                    run.status = "skipped"
                    run.skip_reason = f"condition is false: {plan.condition.source}"
                    return
            if params is None:
                try:
                    params = await self._render(plan, run, names, size)
                except _ParamsError as exc:
                    run.started_ns = time.time_ns()
                    run.status, run.error = "failed", str(exc)
                    return
        else:
            run.input_json = plan.static_input_json
        run.status = "running"
        run.started_ns = time.time_ns()
        self.telemetry.step_started(run)
        await self._attempts(plan, run, params)

    async def _render(self, plan: StepPlan, run: StepRun, names: dict[str, Any], size: int) -> Any:
        try:
            rendered = await plan.params.render(self.evaluator, names, size)
        except ExpressionError as exc:
            raise _ParamsError(f"Parameter error: {exc}") from None
        run.input = rendered
        try:
            return plan.action.params_model.model_validate(rendered)
        except ValueError as exc:
            raise _ParamsError(f"Parameter error: {exc}") from None

    async def _attempts(self, plan: StepPlan, run: StepRun, params: Any) -> None:
        step, policy = plan.step, plan.step.retry
        fn = plan.action.fn
        for number in range(1, policy.max_attempts + 1):
            attempt = AttemptRecord(number, new_span_id(), time.time_ns())
            run.attempts.append(attempt)
            ctx = StepContext(
                self.execution_id, self.workflow_id, step.id, number, self.config, self.plan.base_dir,
                self._trace_id, attempt.span_id, self.telemetry.workspace_id,
            )  # fmt: skip
            try:
                if step.timeout_seconds is None:
                    output = await fn(params, ctx)
                else:
                    output = await _with_timeout(fn(params, ctx), step.timeout_seconds)
                self._set_output(run, output)
            except asyncio.CancelledError:
                attempt.end_ns = time.time_ns()
                attempt.status = "cancelled"
                raise
            except Exception as exc:
                attempt.end_ns = time.time_ns()
                attempt.status, attempt.exception = "failed", exc
                timed_out = isinstance(exc, _StepTimeout)
                attempt.error = TIMEOUT_EXCEEDED if timed_out else (str(exc) or type(exc).__name__)
                run.error, run.exception = attempt.error, exc
                if number < policy.max_attempts:
                    delay = backoff_delay(policy, number)
                    self.telemetry.step_retrying(run, number + 1, delay)
                    if delay > 0:
                        await asyncio.sleep(delay)
                    continue
                run.status = "failed"
                return
            attempt.end_ns = time.time_ns()
            attempt.status = "completed"
            run.status, run.error, run.exception = "completed", None, None
            return

    def _set_output(self, run: StepRun, output: Any) -> None:
        try:
            data = orjson.dumps(output, option=_ORJSON_OPTS, default=_json_default)
        except TypeError as exc:
            raise ValueError(f"step output is not JSON-serializable: {exc}") from None
        if len(data) > self.config.max_output_bytes:
            raise ValueError(f"step output larger than {self.config.max_output_bytes} bytes")
        run.output_json = exact_bytes(data)
        # Plain JSON data from here on: expressions and results see exactly what was recorded.
        run.output = output if _plain(output) else orjson.loads(data)

    # -- stopping ------------------------------------------------------------------------
    def _mark_stopped(self, run: StepRun) -> None:
        run.status = "cancelled"
        run.error = "Workflow timeout exceeded" if self._stop_reason == "timeout" else "Execution cancelled"
        if not run.started_ns:
            run.started_ns = time.time_ns()

    async def _stop(self) -> None:
        tasks = list(self._running.values())
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._cancel_unfinished()

    def _cancel_unfinished(self) -> None:
        now = time.time_ns()
        for run in self.runs:
            if not run.finished:
                self._mark_stopped(run)
                run.ended_ns = now
                self.telemetry.step_finished(run)

    def _finish(self) -> None:
        self.ended_ns = time.time_ns()
        error_type = None
        if self._stop_reason == "cancelled":
            self.status, self.error = "cancelled", "Execution cancelled"
        elif self._stop_reason == "timeout":
            self.status, error_type = "timeout", "timeout"
            self.error = f"Workflow timeout exceeded ({self.plan.definition.timeout_seconds:g}s)"
        elif self._first_failure is not None:
            self.status, error_type = "failed", "step_failed"
            self.error = f"Step '{self._first_failure}' failed"
        else:
            self.status = "completed"
        self.telemetry.finished(
            status=self.status, error=self.error, error_type=error_type, inputs=self.inputs,
            results=self.results(), start_ns=self.started_ns or self.queued_ns, end_ns=self.ended_ns,
        )  # fmt: skip
        if not self._done.done():
            self._done.set_result(None)

    def results(self) -> dict[str, Any]:
        return {r.step.id: r.output for r in self.runs if r.status == "completed"}


class _StepTimeout(Exception):
    pass


async def _with_timeout(coro: Any, seconds: float) -> Any:
    """Our own timeout, distinguishable from a TimeoutError raised by the action itself."""
    try:
        async with asyncio.timeout(seconds) as cm:
            return await coro
    except TimeoutError:
        if cm.expired():
            raise _StepTimeout(TIMEOUT_EXCEEDED) from None
        raise


def _json_default(value: Any) -> Any:
    """Common non-JSON types a step may return; anything else is an error, not a repr string."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, PurePath):
        return str(value)
    dump = getattr(value, "model_dump", None)  # pydantic models
    if callable(dump):
        return dump(mode="json")
    raise TypeError(f"type {type(value).__name__} is not JSON-serializable")


def _plain(value: Any) -> bool:
    return value is None or type(value) in (str, int, float, bool) or (
        type(value) is dict and all(type(v) in (str, int, float, bool) or v is None for v in value.values())
        and all(type(k) is str for k in value)
    )  # fmt: skip

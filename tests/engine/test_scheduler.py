"""Execution semantics: statuses, retries, timeouts, cancellation, trigger rules, parallelism."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

import pytest
from flowscope.engine.actions import ActionError, ActionRegistry, StepContext
from flowscope.engine.model import RetryPolicy
from flowscope.engine.scheduler import backoff_delay
from pydantic import BaseModel

from tests.engine.conftest import Captured, run, run_workflow, step, until, wf


class ProbeParams(BaseModel):
    seconds: float = 0.0
    fail_times: int = 0  # fail the first N attempts (per execution and step)
    fail_message: str = "boom"
    output: Any = None


class Probe:
    """A test action that records when it ran and how many ran at once."""

    def __init__(self) -> None:
        self.attempts: dict[tuple[str, str], int] = defaultdict(int)
        self.intervals: dict[str, list[tuple[float, float]]] = defaultdict(list)
        self.running = 0
        self.max_running = 0
        self.cancelled: list[str] = []

    async def __call__(self, params: ProbeParams, ctx: StepContext) -> Any:
        key = (ctx.execution_id, ctx.step_id)
        self.attempts[key] += 1
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        start = time.monotonic()
        try:
            if params.seconds:
                await asyncio.sleep(params.seconds)
            if self.attempts[key] <= params.fail_times:
                raise ActionError(f"{params.fail_message} #{self.attempts[key]}")
            return (
                params.output if params.output is not None else {"step": ctx.step_id, "attempt": ctx.attempt}
            )
        except asyncio.CancelledError:
            self.cancelled.append(ctx.step_id)
            raise
        finally:
            self.running -= 1
            self.intervals[ctx.step_id].append((start, time.monotonic()))


@pytest.fixture
def probe(registry: ActionRegistry) -> Probe:
    p = Probe()
    registry.register("probe", p, ProbeParams)
    return p


def probe_step(sid: str, *deps: str, **params: Any) -> dict[str, Any]:
    extra = {
        k: params.pop(k) for k in ("retry", "timeout_seconds", "condition", "trigger_rule") if k in params
    }
    return step(sid, *deps, action={"type": "probe", "params": params}, **extra)


FAST_RETRY = {"max_attempts": 3, "initial_backoff_seconds": 0.01, "jitter": 0}


def test_success_sequence(make_engine, probe: Probe, captured: Captured) -> None:
    result = run(run_workflow(make_engine(), wf(probe_step("a"), probe_step("b", "a"), probe_step("c", "b"))))
    assert result.status == "completed" and result.error is None
    assert [s.status for s in result.steps] == ["completed"] * 3
    assert result.results["c"] == {"step": "c", "attempt": 1}
    a, b, c = (probe.intervals[k][0] for k in "abc")
    assert a[1] <= b[0] and b[1] <= c[0]


def test_retry_then_success(make_engine, probe: Probe, captured: Captured) -> None:
    result = run(run_workflow(make_engine(), wf(probe_step("a", fail_times=2, retry=FAST_RETRY))))
    s = result.step("a")
    assert (result.status, s.status, s.retry_count, s.error) == ("completed", "completed", 2, None)
    assert s.output == {"step": "a", "attempt": 3}


def test_retries_exhausted(make_engine, probe: Probe) -> None:
    result = run(run_workflow(make_engine(), wf(probe_step("process", fail_times=5, retry=FAST_RETRY))))
    s = result.step("process")
    assert (s.status, s.retry_count, s.error) == ("failed", 2, "boom #3")
    assert (result.status, result.error) == ("failed", "Step 'process' failed")


def test_step_timeout_fails_attempt_and_may_retry(make_engine, probe: Probe) -> None:
    definition = wf(
        probe_step(
            "slow", seconds=5, timeout_seconds=0.05, retry={"max_attempts": 2, "initial_backoff_seconds": 0}
        )
    )
    t0 = time.monotonic()
    result = run(run_workflow(make_engine(), definition))
    assert time.monotonic() - t0 < 3  # the action sleeps 5 s; generous for loaded CI boxes
    s = result.step("slow")
    assert (s.status, s.error, s.retry_count) == ("failed", "Timeout exceeded", 1)
    assert probe.cancelled == ["slow", "slow"]


def test_workflow_timeout(make_engine, probe: Probe) -> None:
    definition = wf(probe_step("a", seconds=5), probe_step("b", "a"), timeout_seconds=0.2)
    t0 = time.monotonic()
    result = run(run_workflow(make_engine(), definition))
    assert time.monotonic() - t0 < 3  # the action sleeps 5 s; generous for loaded CI boxes
    assert result.status == "timeout"
    assert result.error == "Workflow timeout exceeded (0.2s)"
    assert [(s.status, s.error) for s in result.steps] == [
        ("cancelled", "Workflow timeout exceeded"),
        ("cancelled", "Workflow timeout exceeded"),
    ]


def test_cancel_running_execution(make_engine, probe: Probe) -> None:
    async def go() -> Any:
        engine = make_engine()
        handle = await engine.submit(
            wf(probe_step("a", seconds=10), probe_step("b"), probe_step("c", "a", "b")), workflow_id="w"
        )
        await until(lambda: (handle.execution_id, "a") in probe.attempts, "step a to start")
        assert handle.status == "running"
        t0 = time.monotonic()
        assert engine.cancel(handle.execution_id) is True
        result = await handle.wait(timeout=5)
        assert time.monotonic() - t0 < 2
        assert engine.cancel(handle.execution_id) is False
        await engine.shutdown()
        return result

    result = run(go())
    assert (result.status, result.error) == ("cancelled", "Execution cancelled")
    assert [s.status for s in result.steps] == ["cancelled", "completed", "cancelled"]
    assert probe.cancelled == ["a"]


def test_conditional_skip_and_join(make_engine, probe: Probe) -> None:
    definition = wf(
        probe_step("start"),
        probe_step("fast", "start", condition="mode == 'fast'"),
        probe_step("slow", "start", condition="mode == 'slow'"),
        probe_step("join", "fast", "slow"),
        probe_step("after_skip", "slow"),
        inputs={"mode": {"type": "string", "default": "fast"}},
    )
    result = run(run_workflow(make_engine(), definition))
    statuses = {s.id: (s.status, s.skip_reason) for s in result.steps}
    assert statuses == {
        "start": ("completed", None),
        "fast": ("completed", None),
        "slow": ("skipped", "condition is false: mode == 'slow'"),
        "join": ("completed", None),
        "after_skip": ("skipped", "all upstream steps skipped"),
    }
    assert result.status == "completed"


def test_upstream_failure_skips_dependents_and_other_branches_continue(make_engine, probe: Probe) -> None:
    definition = wf(
        probe_step("process", fail_times=1),
        probe_step("after", "process"),
        probe_step("independent", seconds=0.1),
        probe_step("after_independent", "independent"),
        probe_step("cleanup", "after", trigger_rule="all_done"),
        probe_step("on_failure", "process", trigger_rule="one_failed"),
        probe_step("strict", "independent", "process", trigger_rule="all_success"),
    )
    result = run(run_workflow(make_engine(), definition))
    statuses = {s.id: (s.status, s.skip_reason) for s in result.steps}
    assert statuses == {
        "process": ("failed", None),
        "after": ("skipped", "upstream failed"),
        "independent": ("completed", None),
        "after_independent": ("completed", None),
        "cleanup": ("completed", None),
        "on_failure": ("completed", None),
        "strict": ("skipped", "upstream failed"),
    }
    assert (result.status, result.error) == ("failed", "Step 'process' failed")


def test_one_failed_skipped_when_nothing_failed(make_engine, probe: Probe) -> None:
    result = run(
        run_workflow(make_engine(), wf(probe_step("a"), probe_step("h", "a", trigger_rule="one_failed")))
    )
    assert result.step("h").skip_reason == "no upstream step failed"
    assert result.status == "completed"


def test_parallel_branches_overlap(make_engine, probe: Probe) -> None:
    definition = wf(
        probe_step("prep"),
        *(probe_step(b, "prep", seconds=0.2) for b in ("x", "y", "z")),
        probe_step("merge", "x", "y", "z"),
    )
    result = run(run_workflow(make_engine(), definition))
    assert result.status == "completed"
    (x,), (y,), (z,) = probe.intervals["x"], probe.intervals["y"], probe.intervals["z"]
    assert max(x[0], y[0], z[0]) < min(x[1], y[1], z[1])  # all three were running at one moment
    assert probe.intervals["merge"][0][0] >= max(x[1], y[1], z[1])


def test_max_parallelism_respected(make_engine, probe: Probe) -> None:
    definition = wf(*(probe_step(f"s{i}", seconds=0.03) for i in range(12)), max_parallelism=3)
    result = run(run_workflow(make_engine(), definition))
    assert result.status == "completed"
    assert probe.max_running == 3


def test_outputs_flow_downstream(make_engine, probe: Probe) -> None:
    definition = wf(
        probe_step("a", output={"rows": [{"total": 41}]}),
        probe_step("b", "a", output="${{ steps.a.output.rows[0].total + 1 }}"),
        probe_step("c", "b", output="total=${{ steps.b.output }} status=${{ steps.b.status }}"),
    )
    result = run(run_workflow(make_engine(), definition))
    assert result.results == {"a": {"rows": [{"total": 41}]}, "b": 42, "c": "total=42 status=completed"}


def test_template_error_fails_without_retry(make_engine, probe: Probe) -> None:
    definition = wf(
        probe_step("a", output={"n": 0}),
        probe_step("b", "a", seconds="${{ steps.a.output.missing }}", retry=FAST_RETRY),
    )
    result = run(run_workflow(make_engine(), definition))
    b = result.step("b")
    assert b.status == "failed" and b.error.startswith("Parameter error:")
    assert b.retry_count == 0 and ("b" not in probe.intervals)


def test_condition_error_fails_step(make_engine, probe: Probe) -> None:
    definition = wf(probe_step("a"), probe_step("b", "a", condition="steps.a.output.step"))
    result = run(run_workflow(make_engine(), definition))
    assert result.step("b").error == "Condition error: condition must evaluate to a boolean, got str"


def test_backoff_is_exponential_capped_and_jittered() -> None:
    p = RetryPolicy(
        max_attempts=10, initial_backoff_seconds=1, backoff_multiplier=2, max_backoff_seconds=5, jitter=0
    )
    assert [backoff_delay(p, n) for n in range(1, 6)] == [1, 2, 4, 5, 5]
    j = RetryPolicy(initial_backoff_seconds=1, jitter=0.5)
    samples = {round(backoff_delay(j, 1), 6) for _ in range(50)}
    assert len(samples) > 1 and all(0.5 <= s <= 1.5 for s in samples)

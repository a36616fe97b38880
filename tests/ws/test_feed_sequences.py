"""Exact event sequences on the feeds, from spans and records sent through the OTel SDK."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flowscope import conventions as c
from tests.support.server import RunningServer
from tests.ws.support import Execution, Feed, Tracer, names, new_workflow_id, open_feed, ws_url

WORKFLOW_FIELDS = {
    "workflow_started": {"execution_id": str, "workflow_id": str, "timestamp": str},
    "workflow_completed": {
        "execution_id": str, "workflow_id": str, "status": str, "duration_seconds": float, "timestamp": str,
    },
    "workflow_failed": {"execution_id": str, "workflow_id": str, "error": str, "timestamp": str},
}  # fmt: skip
STEP_FIELDS = {
    "step_started": {"execution_id": str, "step_id": str, "step_name": str, "timestamp": str},
    "step_completed": {
        "execution_id": str, "step_id": str, "step_name": str, "duration_seconds": float,
        "output": (dict, list, str, int, float, bool, type(None)), "timestamp": str,
    },
    "step_failed": {
        "execution_id": str, "step_id": str, "step_name": str, "error": str, "retry_count": int,
        "timestamp": str,
    },
}  # fmt: skip
ALL_FIELDS = {
    "execution_id", "workflow_id", "step_id", "step_name", "status", "duration_seconds", "output",
    "error", "retry_count", "timestamp",
}  # fmt: skip


@pytest.fixture(scope="module")
def tracer(shared_server: RunningServer) -> Iterator[Tracer]:
    t = Tracer(shared_server.otlp_http)
    yield t
    t.shutdown()


def run_scenario(
    server: RunningServer, emit: Callable[[str], None], *, steps: tuple[str, ...] = (), end: str = "workflow_"
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Subscribe to the workflow (and to `steps`), run `emit(workflow_id)`, collect to the end event."""
    workflow_id = new_workflow_id()

    async def main() -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        async with open_feed(ws_url(server.api, f"/ws/workflows/{workflow_id}")) as conn:
            step_conns = [
                await open_feed(ws_url(server.api, f"/ws/workflows/{workflow_id}/step/{s}")) for s in steps
            ]
            try:
                await asyncio.to_thread(emit, workflow_id)
                feed = Feed(conn)
                messages = []
                while not messages or not messages[-1]["event"].startswith(end):
                    messages.append(await feed.next(10))
                messages += await Feed(conn).quiet(0.3)  # nothing after the end event
                per_step = {}
                for s, sc in zip(steps, step_conns, strict=True):
                    per_step[s] = await Feed(sc).quiet(0.3)
                return messages, per_step
            finally:
                for sc in step_conns:
                    await sc.close()

    return asyncio.run(main())


def check_payloads(messages: list[dict[str, Any]]) -> None:
    for m in messages:
        data = m["data"]
        spec = WORKFLOW_FIELDS.get(m["event"]) or STEP_FIELDS.get(m["event"]) or {}
        for key, kind in spec.items():
            assert isinstance(data[key], kind), (m["event"], key, data[key])
        assert data["timestamp"].endswith("Z")
        if m["event"].startswith("step_"):
            assert data.keys() >= ALL_FIELDS, m
        else:
            assert (ALL_FIELDS - {"step_id", "step_name", "output", "retry_count"}) <= data.keys(), m


def test_success_sequence_and_payloads(shared_server: RunningServer, tracer: Tracer) -> None:
    def emit(workflow_id: str) -> None:
        ex = Execution(tracer, workflow_id, autoflush=True)
        ex.start_step("a")
        ex.end_step("a", output={"records": 100})
        ex.start_step("b", order=2)
        ex.end_step("b", output=[1, 2])
        ex.end()

    messages, steps = run_scenario(shared_server, emit, steps=("a",))
    assert names(messages) == [
        "workflow_started", "step_started:a", "step_completed:a", "step_started:b", "step_completed:b",
        "workflow_completed",
    ]  # fmt: skip
    check_payloads(messages)
    done = messages[2]["data"]
    assert done["output"] == {"records": 100} and done["step_name"] == "a step"
    assert done["status"] == "completed"
    end = messages[-1]["data"]
    assert end["status"] == "completed" and end["duration_seconds"] > 0 and end["error"] is None
    assert len({m["data"]["execution_id"] for m in messages}) == 1
    assert not any(m["data"]["synthesized"] for m in messages)
    assert names(steps["a"]) == ["step_started:a", "step_completed:a"]


def test_retry_then_success(shared_server: RunningServer, tracer: Tracer) -> None:
    def emit(workflow_id: str) -> None:
        ex = Execution(tracer, workflow_id, autoflush=True)
        ex.start_step("fetch")
        ex.attempt("fetch", 1, error="connection reset")
        ex.attempt("fetch", 2, error="connection reset")
        ex.attempt("fetch", 3)
        ex.end_step("fetch", output={"ok": True}, retries=2)
        ex.end()

    messages, steps = run_scenario(shared_server, emit, steps=("fetch",))
    expected = [
        "step_started:fetch", "step_retrying:fetch", "step_retrying:fetch", "step_completed:fetch",
    ]  # fmt: skip
    assert names(messages) == ["workflow_started", *expected, "workflow_completed"]
    assert names(steps["fetch"]) == expected
    retries = [m["data"] for m in messages if m["event"] == "step_retrying"]
    assert [r["retry_count"] for r in retries] == [1, 2]
    assert [r["attempt"] for r in retries] == [2, 3]
    assert retries[0]["error"] == "connection reset"
    assert messages[-2]["data"]["retry_count"] == 2
    check_payloads(messages)


def test_failure(shared_server: RunningServer, tracer: Tracer) -> None:
    def emit(workflow_id: str) -> None:
        ex = Execution(tracer, workflow_id, autoflush=True)
        ex.start_step("a")
        ex.end_step("a", output={})
        ex.start_step("b", order=2)
        ex.attempt("b", 1, error="Timeout exceeded")
        ex.attempt("b", 2, error="Timeout exceeded", retry=False)
        ex.end_step("b", "failed", error="Timeout exceeded", retries=1)
        ex.end("failed", error="Step 'b' failed")

    messages, _ = run_scenario(shared_server, emit)
    assert names(messages) == [
        "workflow_started", "step_started:a", "step_completed:a", "step_started:b", "step_retrying:b",
        "step_failed:b", "workflow_failed",
    ]  # fmt: skip
    failed = messages[-2]["data"]
    assert failed["error"] == "Timeout exceeded" and failed["retry_count"] == 1
    assert failed["status"] == "failed"
    assert messages[-1]["data"]["error"] == "Step 'b' failed"
    assert messages[-1]["data"]["status"] == "failed"
    check_payloads(messages)


def test_conditional_skip(shared_server: RunningServer, tracer: Tracer) -> None:
    def emit(workflow_id: str) -> None:
        ex = Execution(tracer, workflow_id, autoflush=True)
        ex.start_step("evaluate")
        ex.end_step("evaluate", output={"mode": "fast"})
        ex.start_step("fast", order=2)
        ex.end_step("fast", output={})
        ex.skip_step("thorough", reason="condition mode == 'thorough' is false")
        ex.end()

    messages, _ = run_scenario(shared_server, emit)
    assert names(messages) == [
        "workflow_started", "step_started:evaluate", "step_completed:evaluate", "step_started:fast",
        "step_completed:fast", "step_skipped:thorough", "workflow_completed",
    ]  # fmt: skip
    skipped = messages[-2]["data"]
    assert skipped["status"] == "skipped" and skipped["reason"] == "condition mode == 'thorough' is false"


def test_cancel(shared_server: RunningServer, tracer: Tracer) -> None:
    def emit(workflow_id: str) -> None:
        ex = Execution(tracer, workflow_id, autoflush=True)
        ex.start_step("long")
        ex.end_step("long", "cancelled", error="execution cancelled")
        ex.end_step("after", "cancelled", error="execution cancelled")  # never ran
        ex.end("cancelled", error="cancelled by user")

    started = time.monotonic()
    messages, _ = run_scenario(shared_server, emit)
    assert names(messages) == [
        "workflow_started", "step_started:long", "step_cancelled:long", "step_cancelled:after",
        "workflow_cancelled",
    ]  # fmt: skip
    assert messages[-1]["data"]["status"] == "cancelled" and messages[-1]["data"]["error"]
    assert time.monotonic() - started < 1.5  # nothing waited for a record that never comes


def test_timeout(shared_server: RunningServer, tracer: Tracer) -> None:
    def emit(workflow_id: str) -> None:
        ex = Execution(tracer, workflow_id, autoflush=True)
        ex.start_step("slow")
        ex.end_step("slow", "cancelled", error="execution timed out after 1s")
        ex.end("timeout", error="execution timed out after 1s")

    messages, _ = run_scenario(shared_server, emit)
    expected = ["workflow_started", "step_started:slow", "step_cancelled:slow", "workflow_timeout"]
    assert names(messages) == expected
    assert messages[-1]["data"]["status"] == "timeout"
    assert messages[-1]["data"]["error"] == "execution timed out after 1s"


def test_spans_before_records_in_separate_requests_still_stream_in_causal_order(
    shared_server: RunningServer, tracer: Tracer
) -> None:
    def emit(workflow_id: str) -> None:
        ex = Execution(tracer, workflow_id)
        ex.start_step("a")
        ex.end_step("a", output={})
        ex.start_step("b", order=2)
        ex.attempt("b", 1, error="flaky")
        ex.end_step("b", output={}, retries=1)
        ex.end()
        tracer.flush_spans()  # root and steps committed first...
        time.sleep(0.2)
        tracer.flush_logs()  # ...their lifecycle records in a later request

    messages, _ = run_scenario(shared_server, emit)
    assert names(messages) == [
        "workflow_started", "step_started:a", "step_completed:a", "step_started:b", "step_retrying:b",
        "step_completed:b", "workflow_completed",
    ]  # fmt: skip
    assert not any(m["data"]["synthesized"] for m in messages)


def test_spans_without_records_get_synthesized_starts(shared_server: RunningServer, tracer: Tracer) -> None:
    def emit(workflow_id: str) -> None:
        ex = Execution(tracer, workflow_id, records=False)
        ex.start_step("only")
        ex.end_step("only", output={"n": 1})
        ex.end()
        tracer.flush()

    messages, _ = run_scenario(shared_server, emit)
    expected = ["workflow_started", "step_started:only", "step_completed:only", "workflow_completed"]
    assert names(messages) == expected
    assert [m["data"]["synthesized"] for m in messages] == [True, True, False, False]
    started, step_started, step_done, done = (m["data"] for m in messages)
    assert started["timestamp"] <= step_started["timestamp"] <= step_done["timestamp"] <= done["timestamp"]


def test_step_channel_only_its_step_and_workflows_do_not_mix(
    shared_server: RunningServer, tracer: Tracer
) -> None:
    wf1, wf2 = new_workflow_id(), new_workflow_id()

    async def main() -> None:
        url = shared_server.api
        async with (
            open_feed(ws_url(url, f"/ws/workflows/{wf1}")) as c1,
            open_feed(ws_url(url, f"/ws/workflows/{wf2}")) as c2,
            open_feed(ws_url(url, f"/ws/workflows/{wf1}/step/b")) as c1b,
        ):

            def emit() -> None:
                e1, e2 = Execution(tracer, wf1), Execution(tracer, wf2)
                for ex in (e1, e2):
                    for s in ("a", "b"):
                        ex.start_step(s)
                        ex.end_step(s, output={"wf": ex.workflow_id, "step": s})
                    ex.end()
                tracer.flush()

            await asyncio.to_thread(emit)
            m1 = await Feed(c1).until("workflow_completed")
            m2 = await Feed(c2).until("workflow_completed")
            m1b = await Feed(c1b).quiet(0.5)
            assert {m["data"]["workflow_id"] for m in m1} == {wf1}
            assert {m["data"]["workflow_id"] for m in m2} == {wf2}
            assert len(m1) == len(m2) == 6
            assert names(m1b) == ["step_started:b", "step_completed:b"]
            assert m1b[1]["data"]["output"] == {"wf": wf1, "step": "b"}
            assert await Feed(c1).quiet(0.2) == []

    asyncio.run(main())


def test_plain_otel_sdk_program_streams(shared_server: RunningServer) -> None:
    """A separate program using only the OTel SDK and the standard OTEL_* environment."""
    program = Path(__file__).with_name("plain_sdk_program.py")

    async def main() -> None:
        for mode, workflow_id in (("workflow", new_workflow_id()), ("cicd", "pipeline-" + new_workflow_id())):
            async with open_feed(ws_url(shared_server.api, f"/ws/workflows/{workflow_id}")) as conn:
                env = {
                    **os.environ,
                    "OTEL_EXPORTER_OTLP_ENDPOINT": shared_server.otlp_http,
                    "OTEL_SERVICE_NAME": "plain-sdk",
                }
                await asyncio.to_thread(
                    subprocess.run, [sys.executable, str(program), mode, workflow_id], env=env, check=True,
                    timeout=60,
                )  # fmt: skip
                messages = await Feed(conn).until("workflow_completed", timeout=15)
                assert names(messages) == [
                    "workflow_started", "step_started:build", "step_completed:build", "step_started:test",
                    "step_failed:test", "workflow_completed",
                ], mode  # fmt: skip
                assert messages[4]["data"]["error"] == "2 tests failed"

    asyncio.run(main())


def test_client_ping_is_answered(shared_server: RunningServer) -> None:
    async def main() -> None:
        async with open_feed(ws_url(shared_server.api, f"/ws/workflows/{new_workflow_id()}")) as conn:
            latency = await asyncio.wait_for(await conn.ping(), 5)
            assert latency < 5

    asyncio.run(main())


def test_a_step_span_still_saying_running_ends_as_its_span_says(
    shared_server: RunningServer, tracer: Tracer
) -> None:
    """A tracer that set `workflow.step.status = running` when the step began and never changed
    it: a span that ended is no running step, so its status comes from the span's status
    (workflow_meaning.step_status). The feed had no end event for 'running' and lost the batch."""

    def emit(workflow_id: str) -> None:
        ex = Execution(tracer, workflow_id, records=False)
        span = ex.start_step("only")
        span.set_attribute(c.STEP_STATUS, "running")
        span.end()
        ex.end()
        tracer.flush()

    messages, _ = run_scenario(shared_server, emit)
    expected = ["workflow_started", "step_started:only", "step_completed:only", "workflow_completed"]
    assert names(messages) == expected
    assert messages[2]["data"]["status"] == "completed"

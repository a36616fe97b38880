"""Real executions: workflows created and run through the REST API by the server's own engine.

The engine exports spans and records through separate OTLP batch exporters, so how the
steps of different executions or of parallel branches interleave on the workflow channel
depends on export timing; each step's own sequence, the first and the last event, and
the exact set of events do not. Step channels are checked for their exact sequence.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import RunningServer, start_server
from tests.ws.support import Feed, names, open_feed, ws_url

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "workflows"
TERMINAL = ("workflow_completed", "workflow_failed", "workflow_cancelled", "workflow_timeout")


@pytest.fixture(scope="module")
def engine_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(tmp_path_factory.mktemp("engine") / "flowscope.duckdb", "--enable-shell")
    yield srv
    srv.terminate()


def create(server: RunningServer, definition: dict[str, Any]) -> str:
    r = server.post("/api/workflows", json={"definition": definition})
    assert r.status_code == 201, r.text
    return r.json()["id"]  # type: ignore[no-any-return]


def step(step_id: str, action: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "action": action, **extra}


def delay(seconds: float = 0.0, **params: Any) -> dict[str, Any]:
    return {"type": "delay", "params": {"seconds": seconds, **params}}


def run(
    server: RunningServer,
    workflow_id: str,
    inputs: dict[str, Any] | None = None,
    steps: tuple[str, ...] = (),
    cancel_after: str | None = None,
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Subscribe (workflow + step channels), execute, collect to the end event."""

    async def main() -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
        pending_cancel = cancel_after
        async with open_feed(ws_url(server.api, f"/ws/workflows/{workflow_id}")) as conn:
            step_conns = [
                await open_feed(ws_url(server.api, f"/ws/workflows/{workflow_id}/step/{s}")) for s in steps
            ]
            try:
                r = await asyncio.to_thread(
                    server.post,
                    f"/api/workflows/{workflow_id}/execute",
                    json={"input_variables": inputs or {}},
                )
                assert r.status_code == 202, r.text
                execution_id = r.json()["id"]
                feed = Feed(conn)
                messages: list[dict[str, Any]] = []
                while not messages or messages[-1]["event"] not in TERMINAL:
                    messages.append(await feed.next(30))
                    if pending_cancel and messages[-1]["event"] == pending_cancel:
                        c = await asyncio.to_thread(
                            server.post, f"/api/workflows/executions/{execution_id}/cancel"
                        )
                        assert c.status_code == 202, c.text
                        pending_cancel = None
                messages += await feed.quiet(0.5)
                assert {m["data"]["execution_id"] for m in messages} == {execution_id}
                per_step = {
                    s: names(await Feed(sc).quiet(0.3)) for s, sc in zip(steps, step_conns, strict=True)
                }
                return messages, per_step
            finally:
                for sc in step_conns:
                    await sc.close()

    return asyncio.run(main())


def assert_sequence(messages: list[dict[str, Any]], per_step: dict[str, list[str]], end: str) -> None:
    """workflow_started first, `end` last, each step's events exactly `per_step[step]`, nothing else."""
    got = names(messages)
    assert got[0] == "workflow_started" and got[-1] == end, got
    for step_id, expected in per_step.items():
        assert [n for n in got if n.endswith(f":{step_id}")] == [f"{e}:{step_id}" for e in expected], got
    assert len(got) == 2 + sum(len(v) for v in per_step.values()), got


DONE = ["step_started", "step_completed"]


def test_success_basic_sequence_example(engine_server: RunningServer) -> None:
    definition = json.loads((EXAMPLES / "basic_sequence.json").read_text())
    wf = create(engine_server, definition)
    messages, steps = run(engine_server, wf, steps=("process",))
    assert_sequence(messages, {"initialize": DONE, "process": DONE, "finalize": DONE}, "workflow_completed")
    assert steps["process"] == ["step_started:process", "step_completed:process"]
    process_done = next(
        m["data"] for m in messages if m["event"] == "step_completed" and m["data"]["step_id"] == "process"
    )
    assert process_done["output"] == {"processed_records": 100}
    assert process_done["step_name"] == "Process" and process_done["duration_seconds"] >= 0.2
    assert messages[-1]["data"]["duration_seconds"] > 0.3


def test_retry_then_success(engine_server: RunningServer, tmp_path: Path) -> None:
    marker = tmp_path / "attempted"
    flaky = {
        "type": "shell",
        "params": {
            "command": f"if [ -f {marker} ]; then echo ok; else touch {marker}; echo boom >&2; exit 3; fi"
        },
    }
    definition = {
        "name": "flaky",
        "steps": [step("flaky", flaky, retry={"max_attempts": 3, "initial_backoff_seconds": 0.05})],
    }
    messages, steps = run(engine_server, create(engine_server, definition), steps=("flaky",))
    expected = ["step_started", "step_retrying", "step_completed"]
    assert_sequence(messages, {"flaky": expected}, "workflow_completed")
    assert steps["flaky"] == [f"{e}:flaky" for e in expected]
    retrying = messages[2]["data"]
    assert retrying["retry_count"] == 1 and retrying["attempt"] == 2 and retrying["error"]
    assert messages[3]["data"]["retry_count"] == 1


def test_failure(engine_server: RunningServer) -> None:
    definition = {
        "name": "failing",
        "steps": [
            step("ok", delay(0.01)),
            step(
                "broken", delay(0.01, fail_probability=1.0, fail_message="Timeout exceeded"),
                depends_on=["ok"], retry={"max_attempts": 2, "initial_backoff_seconds": 0.05},
            ),
            step("never", delay(0.01), depends_on=["broken"]),
        ],
    }  # fmt: skip
    messages, steps = run(engine_server, create(engine_server, definition), steps=("broken",))
    got = names(messages)
    assert got[0] == "workflow_started" and got[-1] == "workflow_failed", got
    assert [n for n in got if n.endswith(":broken")] == [
        "step_started:broken",
        "step_retrying:broken",
        "step_failed:broken",
    ]
    assert steps["broken"] == ["step_started:broken", "step_retrying:broken", "step_failed:broken"]
    assert "step_started:never" not in got and "step_completed:never" not in got
    failed = next(m["data"] for m in messages if m["event"] == "step_failed")
    assert failed["error"] == "Timeout exceeded" and failed["retry_count"] == 1
    assert messages[-1]["data"]["error"] and messages[-1]["data"]["status"] == "failed"


def test_conditional_skip_example(engine_server: RunningServer) -> None:
    definition = json.loads((EXAMPLES / "conditional_workflow.json").read_text())
    step_ids = [s["id"] for s in definition["steps"]]
    messages, _ = run(engine_server, create(engine_server, definition), inputs={"mode": "fast"})
    got = names(messages)
    assert got[0] == "workflow_started" and got[-1] == "workflow_completed", got
    skipped = [n.split(":")[1] for n in got if n.startswith("step_skipped")]
    ran = [n.split(":")[1] for n in got if n.startswith("step_completed")]
    assert "fast_process" in ran and {"standard_process", "thorough_process"} <= set(skipped), got
    for s in skipped:
        assert [n for n in got if n.endswith(f":{s}")] == [f"step_skipped:{s}"]
    for s in ran:
        assert [n for n in got if n.endswith(f":{s}")] == [f"step_started:{s}", f"step_completed:{s}"]
    assert set(skipped) | set(ran) == set(step_ids)
    assert next(m for m in messages if m["event"] == "step_skipped")["data"]["reason"]


def test_cancel(engine_server: RunningServer) -> None:
    definition = {
        "name": "long",
        "steps": [step("wait", delay(30)), step("after", delay(0), depends_on=["wait"])],
    }
    messages, _ = run(engine_server, create(engine_server, definition), cancel_after="step_started")
    got = names(messages)
    assert got[0] == "workflow_started" and got[-1] == "workflow_cancelled", got
    assert [n for n in got if n.endswith(":wait")] == ["step_started:wait", "step_cancelled:wait"]
    assert "step_started:after" not in got
    assert messages[-1]["data"]["status"] == "cancelled"


def test_timeout(engine_server: RunningServer) -> None:
    definition = {"name": "slow", "timeout_seconds": 0.5, "steps": [step("slow", delay(30))]}
    messages, _ = run(engine_server, create(engine_server, definition))
    got = names(messages)
    assert got[0] == "workflow_started" and got[-1] == "workflow_timeout", got
    assert got[1] == "step_started:slow" and got[2].endswith(":slow") and len(got) == 4, got
    assert messages[-1]["data"]["status"] == "timeout" and messages[-1]["data"]["error"]

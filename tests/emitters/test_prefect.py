"""Real Prefect 3 flow runs, traced by Prefect's own run telemetry, read as Flowscope executions.

tests/emitters/prefect_program.py runs two flow runs of one flow in Prefect's local ephemeral
mode (Prefect starts its temporary API server itself), in the Prefect virtualenv that
`make setup` builds ($(VENV)/prefect: Prefect's pins conflict with ours), exporting with the
OTel SDK's OTLP/HTTP exporter to a real `flowscope serve`. Each run has three parallel runs of
one task, a task run that fails once and is retried, a subflow run (with a task run of its own)
and a last task run, which fails in the second flow run. The test reads what users read: the
WebSocket feed, the executions list, details, timelines and the workflow's metrics.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from tests.support.server import RunningServer
from tests.ws.support import Feed, open_feed, ws_url

PREFECT_VENV = Path(sys.prefix) / "prefect"  # the Makefile's $(VENV)/prefect
PROGRAM = Path(__file__).with_name("prefect_program.py")
DEADLINE_SECONDS = 100  # the flow runs take ~10 s; Prefect's start ~10-30 s on a busy 2-core machine

TASK_ERROR = "Task run encountered an exception ValueError: disk full writing 3 rows"
FLOW_ERROR = "Flow run encountered an exception: ValueError: disk full writing 3 rows"


def _prefect_env(server: RunningServer, home: Path) -> dict[str, str]:
    home.mkdir()
    migrated = PREFECT_VENV / "home" / "prefect.db"  # migrated once by `make setup`
    if migrated.exists():
        shutil.copy(migrated, home / "prefect.db")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "OTEL_"))}
    return {
        **env,
        "PREFECT_HOME": str(home),  # no PREFECT_API_URL: local ephemeral mode
        # What RunTelemetry reads (prefect/telemetry/run_telemetry.py; on by default).
        "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "true",
        # Its temporary server's default 20 s start budget is short on a busy machine.
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{server.otlp_http}/v1/traces",
    }


async def _line(process: asyncio.subprocess.Process, deadline: float, log: Path) -> dict[str, Any]:
    assert process.stdout is not None
    try:
        raw = await asyncio.wait_for(process.stdout.readline(), max(0.1, deadline - time.monotonic()))
    except TimeoutError:
        raise AssertionError(
            "the Prefect program said nothing in time:\n" + log.read_text()[-4000:]
        ) from None
    assert raw, "the Prefect program exited:\n" + log.read_text()[-4000:]
    return orjson.loads(raw)  # type: ignore[no-any-return]


async def _run_flows(server: RunningServer, tmp_path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Runs the program; (its ids, the feed's events until both executions ended)."""
    python = PREFECT_VENV / "bin" / "python"
    assert python.exists(), f"no Prefect virtualenv at {PREFECT_VENV}: run `make setup prefect-env`"
    deadline = time.monotonic() + DEADLINE_SECONDS
    log = tmp_path / "prefect.log"
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            str(python), str(PROGRAM), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=stderr, env=_prefect_env(server, tmp_path / "prefect-home"),
        )  # fmt: skip
        try:
            ids = await _line(process, deadline, log)
            # The flow's id is the workflow id: watch its feed before any run starts.
            async with open_feed(ws_url(server.api, f"/ws/workflows/{ids['flow_id']}")) as conn:
                feed = Feed(conn)
                assert process.stdin is not None
                process.stdin.write(b"go\n")
                await process.stdin.drain()
                events: list[dict[str, Any]] = []
                while sum(e["event"] in ("workflow_completed", "workflow_failed") for e in events) < 2:
                    try:
                        events.append(await feed.next(max(0.1, deadline - time.monotonic())))
                    except TimeoutError:
                        got = [e["event"] for e in events]
                        raise AssertionError(f"both executions did not end on the feed: {got}") from None
            ids.update(await _line(process, deadline, log))
            assert await asyncio.wait_for(process.wait(), max(1.0, deadline - time.monotonic())) == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    return ids, events


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _steps(server: RunningServer, execution_id: str) -> dict[str, list[dict[str, Any]]]:
    timeline = server.get(f"/api/workflows/executions/{execution_id}/timeline")
    assert timeline.status_code == 200, timeline.text
    by_id: dict[str, list[dict[str, Any]]] = {}
    for entry in timeline.json()["step_timeline"]:
        by_id.setdefault(entry["step_id"], []).append(entry)
    return by_id


def test_prefect_flow_runs_are_executions_and_task_runs_steps(server: RunningServer, tmp_path: Path) -> None:
    ids, events = asyncio.run(_run_flows(server, tmp_path))
    flow_id, subflow_id = ids["flow_id"], ids["subflow_id"]
    assert [r["state"] for r in ids["runs"]] == ["COMPLETED", "FAILED"]

    # --- The executions list: both runs of the flow, under the flow's id (stable across runs).
    listed = server.get(f"/api/workflows/{flow_id}/executions")
    assert listed.status_code == 200, listed.text
    by_status = {e["status"]: e for e in listed.json()["items"]}
    assert listed.json()["total"] == 2 and set(by_status) == {"completed", "failed"}
    ok, failed = by_status["completed"], by_status["failed"]
    for execution in (ok, failed):
        assert execution["workflow_id"] == flow_id
        assert execution["input_variables"] == {"fail": "bool", "n": "int"}  # type names: all Prefect sends

    # --- Execution details.
    details = {e["id"]: server.get(f"/api/workflows/executions/{e['id']}").json() for e in (ok, failed)}
    assert details[ok["id"]]["status"] == "completed" and details[ok["id"]]["error_message"] is None
    assert details[failed["id"]]["status"] == "failed"
    assert details[failed["id"]]["error_message"] == FLOW_ERROR
    assert details[failed["id"]]["service_name"] == "prefect-etl"

    # --- Timelines: task runs are steps keyed by their task's name, the subflow run by its flow.
    for execution, last_status in ((ok, "completed"), (failed, "failed")):
        steps = _steps(server, execution["id"])
        assert sorted(steps) == sorted(["extract", "flaky", "double", "load", subflow_id])
        # Three runs of one task, each its own timeline entry, running at once.
        parallel = steps["extract"]
        assert len(parallel) == 3
        assert all(s["status"] == "completed" and s["retry_count"] == 0 for s in parallel)
        assert max(_at(s["started_at"]) for s in parallel) < min(_at(s["completed_at"]) for s in parallel)
        assert all(s["input_summary"] == {"part": "int"} for s in parallel)
        (double,) = steps["double"]  # the subflow's task run: a step of the same execution
        assert double["status"] == "completed"
        (flaky,) = steps["flaky"]  # one step however many tries: Prefect sends one span
        assert (flaky["status"], flaky["retry_count"], flaky["error_message"]) == ("completed", 1, None)
        assert flaky["input_summary"] == {"total": "int"}
        (subflow,) = steps[subflow_id]
        assert subflow["status"] == "completed" and subflow["step_name"]  # the run's name
        (load,) = steps["load"]
        assert load["status"] == last_status
        assert load["error_message"] == (TASK_ERROR if last_status == "failed" else None)
        assert _at(flaky["completed_at"]) <= _at(load["started_at"])

    # --- The workflow's metrics.
    metrics = server.get(f"/api/workflows/{flow_id}/metrics")
    assert metrics.status_code == 200, metrics.text
    m = metrics.json()
    assert (m["total_executions"], m["successful_executions"], m["failed_executions"]) == (2, 1, 1)
    assert m["success_rate"] == 50.0

    # --- The live feed: starts synthesized (Prefect sends no lifecycle records), then step
    # events, then each execution's end, in order per execution.
    for execution_id, end in ((ok["id"], "workflow_completed"), (failed["id"], "workflow_failed")):
        mine = [e for e in events if e["data"]["execution_id"] == execution_id]
        assert mine[0]["event"] == "workflow_started" and mine[0]["data"]["synthesized"] is True
        assert mine[-1]["event"] == end
        assert all(e["data"]["workflow_id"] == flow_id for e in mine)
        # Each step on the feed starts before it ends. The feed keys steps by step id, so the
        # three runs of task "extract" in one flow run are one step there (REST lists all three).
        seen: set[str] = set()
        step_ends = {}
        for e in mine:
            step = e["data"].get("step_id")
            if e["event"] == "step_started":
                seen.add(step)
            elif e["event"].startswith("step_"):
                assert step in seen, f"{e['event']} of {step} before its step_started"
                step_ends.setdefault(step, e)
        assert seen == {"extract", "flaky", "double", "load", subflow_id}
        flaky_end, load_end = step_ends["flaky"], step_ends["load"]
        assert flaky_end["event"] == "step_completed" and flaky_end["data"]["retry_count"] == 1
        if end == "workflow_failed":
            assert load_end["event"] == "step_failed" and load_end["data"]["error"] == TASK_ERROR
            assert mine[-1]["data"]["error"] == FLOW_ERROR
        else:
            assert load_end["event"] == "step_completed" and mine[-1]["data"]["error"] is None

"""CI/CD pipelines end to end: each fixture (tests/emitters/fixtures/*.json, OTLP/JSON shaped as
the emitter builds it) is posted to a real `flowscope serve` over OTLP/HTTP, and the spec's
REST answers (execution details, timeline, a workflow's executions, its metrics) and a
WebSocket replay read it as workflows: runs as executions, jobs and stages as steps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flowscope.api.ws.events import iso

from tests.emitters.cicd_fixtures import EMITTERS, body, earliest_ns, request
from tests.support.server import RunningServer, start_server
from tests.ws.support import Feed, names, open_feed, ws_url

HOUR_NS = 3_600 * 10**9
GITHUB = "acme:shop-api:CI"
GITLAB = "acme:platform:shop-api"
JENKINS = "team:shop-api:main"

Served = tuple[RunningServer, dict[str, list[str]], int]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server holding the three fixtures, moved to an hour ago; the traces of each, in order;
    the time before all of them (ns)."""
    db: Path = tmp_path_factory.mktemp("cicd") / "cicd.duckdb"
    running = start_server(db)
    try:
        now = time.time_ns()
        before = now - 2 * HOUR_NS
        traces: dict[str, list[str]] = {}
        for emitter in EMITTERS:
            response = httpx.post(
                f"{running.otlp_http}/v1/traces", content=body(emitter, now - HOUR_NS - earliest_ns(emitter)),
                headers={"Content-Type": "application/json"}, timeout=30,
            )  # fmt: skip
            assert response.status_code == 200, response.text
            roots = [
                span.trace_id.hex()
                for rs in request(emitter).resource_spans
                for ss in rs.scope_spans
                for span in ss.spans
                if not span.parent_span_id
            ]
            traces[emitter] = list(dict.fromkeys(roots))
        yield running, traces, before
    finally:
        running.terminate()


def details(running: RunningServer, execution_id: str, steps: int) -> dict[str, Any]:
    """The execution once it ended with `steps` steps (ingest commits before answering, but the
    executions' summaries may follow a moment later)."""
    deadline = time.monotonic() + 30
    while True:
        response = running.get(f"/api/workflows/executions/{execution_id}")
        seen: Any = response.text
        if response.status_code == 200:
            found = response.json()
            if found["status"] not in ("pending", "running") and len(found["step_executions"]) == steps:
                return found
            seen = (found["status"], sorted(s["step_id"] for s in found["step_executions"]))
        assert time.monotonic() < deadline, seen
        time.sleep(0.05)


def steps_of(found: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {s["step_id"]: (s["status"], s["error_message"]) for s in found["step_executions"]}


def timeline(running: RunningServer, execution_id: str) -> dict[str, Any]:
    response = running.get(f"/api/workflows/executions/{execution_id}/timeline")
    assert response.status_code == 200, response.text
    return response.json()


def listed(running: RunningServer, workflow_id: str) -> list[dict[str, Any]]:
    response = running.get(f"/api/workflows/{workflow_id}/executions")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def metrics(running: RunningServer, workflow_id: str) -> tuple[int, int, int]:
    """(total, successful, failed) executions of the workflow."""
    response = running.get(f"/api/workflows/{workflow_id}/metrics")
    assert response.status_code == 200, response.text
    found = response.json()
    return found["total_executions"], found["successful_executions"], found["failed_executions"]


# --- GitHub Actions ------------------------------------------------------------------------------

GITHUB_JOBS_FIRST = {
    "build": ("completed", None), "test": ("failed", "failure"), "lint": ("completed", None),
    "deploy": ("skipped", None),
}  # fmt: skip


def test_github_run_attempts(server: Served) -> None:
    running, traces, _ = server
    first_id, second_id = traces["github_actions"]
    first = details(running, first_id, steps=4 + 4 + 4 + 3)  # 4 jobs and their 11 steps
    assert (first["workflow_id"], first["workflow_name"], first["status"]) == (GITHUB, "CI", "failed")
    assert first["error_message"] == "failure"  # the conclusion, the span's status message
    steps = steps_of(first)
    assert {job: steps[job] for job in GITHUB_JOBS_FIRST} == GITHUB_JOBS_FIRST
    assert steps["test > Run tests"][0] == "failed"
    assert steps["test > Upload coverage"][0] == "skipped"
    assert "queue-lint" not in steps

    second = details(running, second_id, steps=1 + 3)  # the re-run job test and its steps
    assert (second["workflow_id"], second["status"]) == (GITHUB, "completed")
    assert steps_of(second)["test"] == ("completed", None)

    assert {e["id"] for e in listed(running, GITHUB)} == {first_id, second_id}
    assert metrics(running, GITHUB) == (2, 1, 1)

    entries = {e["step_id"]: e for e in timeline(running, first_id)["step_timeline"]}
    assert entries["test"]["status"] == "failed" and entries["deploy"]["status"] == "skipped"


# --- GitLab --------------------------------------------------------------------------------------


def test_gitlab_pipelines(server: Served) -> None:
    running, traces, _ = server
    failed_id, passed_id = traces["gitlab"]
    failed = details(running, failed_id, steps=4)  # the four jobs; the stages are not steps
    assert (failed["workflow_id"], failed["status"]) == (GITLAB, "failed")
    assert steps_of(failed) == {
        "build": ("completed", None), "test:unit": ("failed", "script_failure"),
        "test:lint": ("completed", None), "deploy": ("cancelled", None),
    }  # fmt: skip
    assert details(running, passed_id, steps=4)["status"] == "completed"
    assert [e["id"] for e in listed(running, GITLAB)] == [passed_id, failed_id]  # newest first
    assert metrics(running, GITLAB) == (2, 1, 1)
    line = timeline(running, failed_id)
    assert (line["step_count"], line["failed_step_count"], line["completed_step_count"]) == (4, 1, 2)


# --- Jenkins -------------------------------------------------------------------------------------


def test_jenkins_build(server: Served) -> None:
    running, traces, _ = server
    [build_id] = traces["jenkins"]
    build = details(running, build_id, steps=7)
    assert (build["workflow_id"], build["workflow_name"]) == (JENKINS, "team » shop-api » main")
    assert (build["execution_number"], build["status"], build["error_message"]) == (42, "failed", "FAILURE")
    steps = steps_of(build)
    assert {step: status for step, (status, _) in steps.items()} == {
        "Build": "completed", "Test": "failed", "unit": "failed", "integration": "cancelled",
        "Deploy": "skipped", "Notify": "completed", "team/notifier": "completed",
    }  # fmt: skip
    assert steps["unit"][1] == "script returned exit code 1"
    assert [e["execution_number"] for e in listed(running, JENKINS)] == [42]
    assert metrics(running, JENKINS) == (1, 0, 1)


# --- The live feed's replay ----------------------------------------------------------------------


def test_websocket_replay_of_a_github_workflow(server: Served) -> None:
    running, traces, before = server
    for execution_id in traces["github_actions"]:  # both attempts stored before replaying
        details(running, execution_id, steps=15 if execution_id == traces["github_actions"][0] else 4)

    async def replay() -> list[dict[str, Any]]:
        async with open_feed(ws_url(running.api, f"/ws/workflows/{GITHUB}", since=iso(before))) as conn:
            return await Feed(conn).until("replay_complete", timeout=20)

    messages = asyncio.run(replay())
    seen = names(messages)
    assert seen.count("workflow_failed") == 1 and seen.count("workflow_completed") == 1
    for event in ("step_failed:test", "step_skipped:deploy", "step_completed:lint", "step_completed:test"):
        assert event in seen, seen
    first, second = traces["github_actions"]
    ended = {m["data"]["execution_id"]: m["event"] for m in messages if m["event"].startswith("workflow_")}
    assert ended == {first: "workflow_failed", second: "workflow_completed"}


# --- Queued times, as every reader of stored spans sees them (here: the Jaeger API) ------------


def stored_tags(running: RunningServer, trace_id: str, operation: str) -> tuple[int, dict[str, Any]]:
    """(start in µs, as Jaeger gives it; workflow tags) of the trace's span named `operation`."""
    response = running.get(f"/api/traces/{trace_id}")
    assert response.status_code == 200, response.text
    [span] = [s for s in response.json()["data"][0]["spans"] if s["operationName"] == operation]
    tags = {t["key"]: t["value"] for t in span["tags"] if t["key"].startswith(("workflow.", "flowscope."))}
    return span["startTime"], tags


def test_jobs_queued_times_are_stored(server: Served) -> None:
    running, traces, _ = server
    details(running, traces["github_actions"][0], steps=15)
    start, tags = stored_tags(running, traces["github_actions"][0], "lint")
    # the job's span starts when it was queued (created_at); its queue span waited 95 s of it
    assert tags["workflow.step.queued_time_unix_nano"] // 1000 == start
    assert tags["flowscope.recognizer"] == "github-actions"
    details(running, traces["gitlab"][0], steps=4)
    start, tags = stored_tags(running, traces["gitlab"][0], "test:lint")
    # the job's span starts at started_at; it waited gitlab.job.queued_duration (42.7 s) before
    assert start - tags["workflow.step.queued_time_unix_nano"] // 1000 == 42_700_000
    assert tags["flowscope.recognizer"] == "gitlab"
    # ... which the timeline shows as the job's queue time
    timeline = running.get(f"/api/workflows/executions/{traces['gitlab'][0]}/timeline").json()
    [lint] = [e for e in timeline["step_timeline"] if e["step_id"] == "test:lint"]
    assert lint["queue_seconds"] == 42.7

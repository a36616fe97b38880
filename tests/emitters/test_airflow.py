"""Airflow 3.3.2's, 3.2.2's and 3.1.8's recorded export requests, posted to a real `flowscope
serve` over OTLP/HTTP as Airflow sent them, read back as workflows by every reader (REST,
WebSocket, the Jaeger API)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from flowscope.api.ws.events import iso

from flowscope import conventions as c
from flowscope.emitters import ForeignSpan
from flowscope.emitters.airflow import Airflow, unix_nano
from tests.emitters.airflow_fixtures import (
    CURRENT,
    DEMO,
    OK,
    V31,
    VERSIONS,
    request_bodies,
    run_spans,
    spans,
    spans_of,
)
from tests.support.server import RunningServer, start_server
from tests.ws.support import Feed, open_feed, ws_url

# What each DAG run did (fixtures/airflow/README.md): step id -> final status. `flaky` is left
# out here: see test_a_retried_task_reads_as_its_last_try.
DEMO_STEPS = {
    "extract": "completed",
    "transform_a": "completed",
    "transform_b": "completed",
    "square[0]": "completed",
    "square[1]": "completed",
    "broken": "failed",
}
OK_STEPS = {"left": "completed", "right": "completed", "join": "completed"}


def _step_spans(version: str, trace_id: str) -> dict[str, ForeignSpan]:
    """step id -> the span of each step (last try) of DEMO_STEPS in the recording's trace."""
    found: dict[str, ForeignSpan] = {}
    for span in spans(version):
        derived = Airflow().recognize(span) if span.trace_id == trace_id else None
        if derived and derived.get(c.STEP_ID) in DEMO_STEPS:
            found[derived[c.STEP_ID]] = span
    assert set(found) == set(DEMO_STEPS)
    return found


def _post(server: RunningServer, bodies: list[bytes]) -> None:
    """Each body as one OTLP/HTTP request, in order, as Airflow's exporter sent it."""
    for body in bodies:
        response = httpx.post(
            f"{server.otlp_http}/v1/traces",
            content=body,
            headers={"content-type": "application/x-protobuf"},
            timeout=30,
        )
        assert response.status_code == 200, response.text


def _get(server: RunningServer, path: str, **params: str) -> dict[str, Any]:
    response = server.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server holding every recording, each request posted in the order Airflow sent it."""
    server = start_server(tmp_path_factory.mktemp("airflow") / "airflow.duckdb")
    try:
        for version in VERSIONS:
            _post(server, request_bodies(version))
        expected = [(run.trace_id, len(steps)) for v in VERSIONS for run, steps in (
            (run_spans(v)[DEMO], DEMO_STEPS.keys() | {"flaky"}), (run_spans(v)[OK], OK_STEPS.keys()),
        )]  # fmt: skip
        deadline = time.monotonic() + 30
        for execution_id, step_count in expected:
            while True:
                response = server.get(f"/api/workflows/executions/{execution_id}/timeline")
                if response.status_code == 200:
                    body = response.json()
                    if body["status"] in ("completed", "failed") and body["step_count"] == step_count:
                        break
                assert time.monotonic() < deadline, response.text
                time.sleep(0.05)
        yield server
    finally:
        assert server.terminate() == 0


@pytest.mark.parametrize("version", VERSIONS)
def test_execution_details(airflow: RunningServer, version: str) -> None:
    for dag_id, status, steps in ((DEMO, "failed", DEMO_STEPS), (OK, "completed", OK_STEPS)):
        run = run_spans(version)[dag_id]
        details = _get(airflow, f"/api/workflows/executions/{run.trace_id}")
        assert details["workflow_id"] == dag_id
        assert details["workflow_name"] == dag_id
        assert details["status"] == status
        assert details["service_name"] == "airflow"
        found = {s["step_id"]: s for s in details["step_executions"]}
        assert {k: found[k]["status"] for k in steps} == steps
        assert set(found) - set(steps) <= {"flaky"}
        assert all(s["step_name"] == s["step_id"] for s in found.values())
        assert all(s["retry_count"] == 0 for k, s in found.items() if k != "flaky")
        # Airflow sends no error text (neither status message nor exception event).
        assert found.get("broken", {}).get("error_message") is None


@pytest.mark.parametrize("version", VERSIONS)
def test_timeline(airflow: RunningServer, version: str) -> None:
    run = run_spans(version)[DEMO]
    timeline = _get(airflow, f"/api/workflows/executions/{run.trace_id}/timeline")
    assert timeline["workflow_id"] == DEMO
    assert timeline["status"] == "failed"
    assert timeline["step_count"] == len(DEMO_STEPS) + 1  # and flaky
    entries = {e["step_id"]: e for e in timeline["step_timeline"]}
    assert {k: entries[k]["status"] for k in DEMO_STEPS} == DEMO_STEPS
    # The run's queued_at attribute is the execution's queue time; the dag_run span starts then.
    queued_ns = unix_nano(run.attributes["airflow.dag_run.queued_at"])
    assert queued_ns is not None
    assert abs(_ns(timeline["queued_at"]) - queued_ns) < 1_000_000
    # A step's times are its span's: from the TI's queueing to the try's end.
    for step_id, span in _step_spans(version, run.trace_id).items():
        assert abs(_ns(entries[step_id]["started_at"]) - span.start_ns) < 1_000_000
        assert abs(_ns(entries[step_id]["completed_at"]) - span.end_ns) < 1_000_000


@pytest.mark.parametrize(
    "version",
    [
        *CURRENT,  # every try under one span id: the later try replaces the earlier one
        V31,  # 3.1 sends only the last try
    ],
)
def test_a_retried_task_reads_as_its_last_try(airflow: RunningServer, version: str) -> None:
    run = run_spans(version)[DEMO]
    details = _get(airflow, f"/api/workflows/executions/{run.trace_id}")
    flaky = next(s for s in details["step_executions"] if s["step_id"] == "flaky")
    assert (flaky["status"], flaky["retry_count"]) == ("completed", 1)


def test_executions_list_and_metrics(airflow: RunningServer) -> None:
    for dag_id, status in ((DEMO, "failed"), (OK, "completed")):
        page = _get(airflow, f"/api/workflows/{dag_id}/executions", limit="100")
        assert page["total"] == len(VERSIONS)
        assert {e["id"] for e in page["items"]} == {run_spans(v)[dag_id].trace_id for v in VERSIONS}
        assert {e["status"] for e in page["items"]} == {status}
        assert {e["workflow_name"] for e in page["items"]} == {dag_id}
        metrics = _get(airflow, f"/api/workflows/{dag_id}/metrics")
        assert metrics["total_executions"] == len(VERSIONS)
        successful = len(VERSIONS) if status == "completed" else 0
        assert metrics["successful_executions"] == successful
        assert metrics["failed_executions"] == len(VERSIONS) - successful
    steps = _get(airflow, f"/api/workflows/{OK}/steps/metrics")
    assert {s["step_id"]: (s["runs"], s["completed"]) for s in steps["steps"]} == {
        step: (len(VERSIONS), len(VERSIONS)) for step in OK_STEPS
    }


STEP_ENDS = ("step_completed", "step_failed")


def test_websocket_replay(airflow: RunningServer) -> None:
    earliest = min(s.start_ns for v in VERSIONS for s in spans(v))
    since = iso(earliest - 1_000_000_000)

    async def feed() -> list[dict[str, Any]]:
        async with open_feed(ws_url(airflow.api, f"/ws/workflows/{DEMO}", since=since)) as conn:
            return await Feed(conn).until("replay_complete")

    events = asyncio.run(feed())
    for version in VERSIONS:
        execution_id = run_spans(version)[DEMO].trace_id
        mine = [m for m in events if m["data"].get("execution_id") == execution_id]
        assert [m["event"] for m in mine if m["event"].startswith("workflow_")][-1] == "workflow_failed"
        ended = {m["data"]["step_id"]: m["event"] for m in mine if m["event"] in STEP_ENDS}
        assert {k: ended[k] for k in DEMO_STEPS} == {
            k: "step_completed" if v == "completed" else "step_failed" for k, v in DEMO_STEPS.items()
        }


@pytest.mark.parametrize("version", VERSIONS)
def test_stored_spans_name_the_recognizer(airflow: RunningServer, version: str) -> None:
    run = run_spans(version)[DEMO]
    (trace,) = _get(airflow, f"/api/traces/{run.trace_id}")["data"]
    tags = {s["spanID"]: {t["key"]: t["value"] for t in s["tags"]} for s in trace["spans"]}
    assert len(tags) == len({s.span_id for s in spans(version) if s.trace_id == run.trace_id})
    root = tags[run.span_id]
    assert root[c.RECOGNIZER] == "airflow"
    assert root[c.WORKFLOW_ID] == DEMO
    assert root["airflow.dag_run.run_id"] == run.attributes["airflow.dag_run.run_id"]  # its own keys stay
    for span in spans(version):
        if span.trace_id == run.trace_id and span.name.startswith("worker."):  # not claimed
            assert c.RECOGNIZER not in tags[span.span_id] and c.STEP_ID not in tags[span.span_id]


def test_a_run_shows_live_before_its_dag_run_span(server: RunningServer) -> None:
    """The scheduler sends the dag_run span when the run ends; the task_run spans before it
    already name the DAG, so the run is listed running and its steps stream live."""
    version = CURRENT[0]
    run = run_spans(version)[DEMO]
    bodies = request_bodies(version)
    cut = next(i for i, body in enumerate(bodies) if run in spans_of(body))  # the run's request

    async def watch() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with open_feed(ws_url(server.api, f"/ws/workflows/{DEMO}")) as conn:
            feed = Feed(conn)
            await asyncio.to_thread(_post, server, bodies[:cut])
            before = await feed.until("step_failed", count=2)  # flaky's first try, then broken
            await asyncio.to_thread(_await_execution, server, run.trace_id, "running")
            await asyncio.to_thread(_post, server, bodies[cut:])
            return before, await feed.until("workflow_failed")

    before, after = asyncio.run(watch())
    names = [m["event"] for m in before if m["data"].get("execution_id") == run.trace_id]
    assert names[0] == "workflow_started"
    assert not [n for n in names[1:] if n.startswith("workflow_")]
    assert {"step_completed", "step_failed"} <= set(names)
    assert [m["event"] for m in after][-1] == "workflow_failed"
    assert after[-1]["data"]["execution_id"] == run.trace_id
    _await_execution(server, run.trace_id, "failed")


def _await_execution(server: RunningServer, execution_id: str, status: str) -> None:
    """Until the executions list shows the execution with `status` and its details every step
    of DEMO_STEPS."""
    deadline = time.monotonic() + 30
    while True:
        page = server.get(f"/api/workflows/{DEMO}/executions", params={"limit": "100"})
        details = server.get(f"/api/workflows/executions/{execution_id}")
        if page.status_code == 200 and details.status_code == 200:
            listed = {e["id"]: e["status"] for e in page.json()["items"]}
            steps = {s["step_id"] for s in details.json()["step_executions"]}
            if listed.get(execution_id) == status == details.json()["status"] and steps >= set(DEMO_STEPS):
                return
        assert time.monotonic() < deadline, (page.text, details.text)
        time.sleep(0.05)


def _ns(text: str) -> int:
    """ns since the epoch of a REST timestamp (ISO 8601)."""
    nanos = unix_nano(str(datetime.fromisoformat(text.replace("Z", "+00:00"))))
    assert nanos is not None, text
    return nanos

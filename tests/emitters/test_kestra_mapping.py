"""examples/mappings/kestra.yaml end to end: Kestra-shaped spans (tests/emitters/fixtures/kestra.json,
whose "_source" names the Kestra files they were built from) posted over OTLP/HTTP to a real
`flowscope serve --mapping examples/mappings/kestra.yaml`, read back from the REST API: the
task runs (WORKER spans) are the steps of the execution their trace is, the failed one with
its error; the EXECUTOR spans and the API's HTTP span are no steps; as no Kestra span says how
an execution ended, it is listed running, then unknown after --silence-seconds. Without the
mapping the same spans stay plain spans."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from flowscope import conventions as c
from flowscope.emitters.mapping import load
from tests.emitters.cicd_fixtures import sent
from tests.emitters.support import answer, until
from tests.support.server import REPO, RunningServer, start_server

FIXTURE = Path(__file__).parent / "fixtures" / "kestra.json"
MAPPING = REPO / "examples" / "mappings" / "kestra.yaml"
TRACE_ID = "6f0b3c7e2a9d41c58e1f7a2b4c6d8e90"
FLOW = "company.team.etl-daily"  # kestra.namespace + "." + kestra.flowId
# The task runs (kestra.uid) as the fixture's flow ran them: (task type, status, error).
SCRIPT_ERROR = "Command failed with exit code 1"  # its exception event (the status says "... FAILED")
TASK_RUNS = {
    "2Xb7KqQw8Ee1RnBfT3vZc0": ("io.kestra.plugin.core.log.Log", "completed", None),
    "5Lm0PzYt6Aa9VhCkD2uWq4": ("io.kestra.plugin.core.http.Download", "completed", None),
    "7Gd3SxNr1Jj5OiEbM8yLp6": ("io.kestra.plugin.scripts.python.Script", "failed", SCRIPT_ERROR),
    "1Hf8UwMe4Cc2TgRnK9oXs3": ("io.kestra.plugin.core.log.Log", "completed", None),
}  # fmt: skip
MINUTE_NS = 60 * 10**9


def body() -> bytes:
    """The fixture as an OTLP/JSON request, moved to end a minute ago (where the API's default
    windows look)."""
    data = json.loads(FIXTURE.read_text())
    data.pop("_source")
    spans = [span for rs in data["resourceSpans"] for ss in rs["scopeSpans"] for span in ss["spans"]]
    shift = time.time_ns() - MINUTE_NS - max(int(span["endTimeUnixNano"]) for span in spans)
    for span in spans:
        for key in ("startTimeUnixNano", "endTimeUnixNano"):
            span[key] = str(int(span[key]) + shift)
        for event in span.get("events", ()):
            event["timeUnixNano"] = str(int(event["timeUnixNano"]) + shift)
    return json.dumps(data).encode()


def post(server: RunningServer) -> None:
    headers = {"Content-Type": "application/json"}
    response = httpx.post(f"{server.otlp_http}/v1/traces", content=body(), headers=headers, timeout=30)
    assert response.status_code == 200, response.text


def with_all_steps(server: RunningServer) -> dict[str, Any]:
    """The execution's details once its four task runs are stored."""
    return until(
        lambda: answer(server, f"/api/workflows/executions/{TRACE_ID}"),
        lambda d: isinstance(d, dict) and len(d["step_executions"]) == len(TASK_RUNS),
        "the execution with its four task runs",
    )


def test_the_mapping_claims_each_worker_span_and_nothing_else() -> None:
    """Pure logic: what the mapping derives from each fixture span, and that each span it
    claims holds one of its markers in its bytes (how the collector finds candidates)."""
    recognizer = load(MAPPING)
    derived = [(span, recognizer.recognize(span.view)) for span in sent("kestra")]
    steps = {
        found[c.STEP_ID]: (
            found[c.STEP_NAME],
            found[c.WORKFLOW_ID],
            found[c.STEP_STATUS],
            found[c.STEP_RETRY_COUNT],
        )
        for _, found in derived
        if found is not None
    }
    # The status is derived only where the status message names Kestra's state ("... FAILED").
    assert steps == {
        uid: (task_type, FLOW, "failed" if status == "failed" else None, None)
        for uid, (task_type, status, _) in TASK_RUNS.items()
    }
    unclaimed = {span.view.name for span, found in derived if found is None}
    assert unclaimed == {
        "EXECUTOR - main_company.team_etl-daily",
        "POST /api/v1/{tenant}/executions/{namespace}/{id}",
    }
    for span, found in derived:
        if found is not None:
            assert any(marker in span.span_bytes for marker in recognizer.markers)


def test_a_worker_span_without_trace_context_is_not_claimed() -> None:
    """A scheduled execution carries no traceparent: each of its WORKER spans is a trace root,
    which would make each task run an execution of its own. Those stay plain spans."""
    recognizer = load(MAPPING)
    worker = next(span.view for span in sent("kestra") if span.view.name.startswith("WORKER - "))
    assert recognizer.recognize(worker) is not None
    assert recognizer.recognize(dataclasses.replace(worker, parent_span_id="")) is None


@pytest.fixture(scope="module")
def mapped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start_server(tmp_path_factory.mktemp("kestra") / "kestra.duckdb", "--mapping", str(MAPPING))
    try:
        post(server)
        yield server
    finally:
        server.terminate()


def test_task_runs_are_the_steps_of_the_execution_their_trace_is(mapped: RunningServer) -> None:
    details = with_all_steps(mapped)
    assert (details["id"], details["workflow_id"]) == (TRACE_ID, FLOW)
    # Kestra sends no span for the whole execution: it runs, as far as its spans say.
    assert details["status"] == "running"
    assert details["service_name"] == "Kestra"
    steps = {
        s["step_id"]: (s["step_name"], s["status"], s["error_message"]) for s in details["step_executions"]
    }
    assert steps == TASK_RUNS  # the EXECUTOR spans and the HTTP root are no steps
    assert all(s["retry_count"] == 0 for s in details["step_executions"])  # Kestra records no attempts
    download = next(s for s in details["step_executions"] if s["step_id"] == "5Lm0PzYt6Aa9VhCkD2uWq4")
    assert download["duration"] == pytest.approx(1.84)


def test_only_worker_spans_are_claimed(mapped: RunningServer) -> None:
    """As every reader of stored spans sees them (here the Jaeger API): the WORKER spans carry
    what the mapping derived, the EXECUTOR spans and the API's HTTP span nothing."""
    with_all_steps(mapped)
    stored = answer(mapped, f"/api/traces/{TRACE_ID}")
    tags = {
        s["spanID"]: (s["operationName"], {t["key"]: t["value"] for t in s["tags"]})
        for s in stored["data"][0]["spans"]
    }
    claimed = {name for name, found in tags.values() if found.get("flowscope.recognizer") == "kestra"}
    assert claimed == {
        "WORKER - io.kestra.plugin.core.log.Log",
        "WORKER - io.kestra.plugin.core.http.Download",
        "WORKER - io.kestra.plugin.scripts.python.Script",
    }
    plain = [name for name, found in tags.values() if not any(k.startswith("workflow.") for k in found)]
    assert sorted(set(plain)) == [
        "EXECUTOR - main_company.team_etl-daily",
        "POST /api/v1/{tenant}/executions/{namespace}/{id}",
    ]
    assert len(plain) == 6


def test_the_timeline_orders_the_task_runs_and_counts_the_failed_one(mapped: RunningServer) -> None:
    with_all_steps(mapped)
    timeline = answer(mapped, f"/api/workflows/executions/{TRACE_ID}/timeline")
    assert isinstance(timeline, dict), timeline
    assert (timeline["workflow_id"], timeline["status"]) == (FLOW, "running")
    counts = (timeline["step_count"], timeline["completed_step_count"], timeline["failed_step_count"])
    assert counts == (4, 3, 1)
    assert [e["step_id"] for e in timeline["step_timeline"]] == list(TASK_RUNS)  # in start order
    failed = [e["step_id"] for e in timeline["step_timeline"] if e["status"] == "failed"]
    assert failed == ["7Gd3SxNr1Jj5OiEbM8yLp6"]


def test_the_flow_lists_the_execution_running(mapped: RunningServer) -> None:
    with_all_steps(mapped)
    listed = answer(mapped, f"/api/workflows/{FLOW}/executions")
    assert [(e["id"], e["status"]) for e in listed["items"]] == [(TRACE_ID, "running")]
    running = answer(mapped, f"/api/workflows/{FLOW}/executions?status=running")
    assert [e["id"] for e in running["items"]] == [TRACE_ID]


def test_silence_shows_the_execution_unknown_never_completed(tmp_path: Path) -> None:
    """Kestra never says how an execution ended: after --silence-seconds it is unknown."""
    server = start_server(tmp_path / "kestra.duckdb", "--mapping", str(MAPPING), "--silence-seconds", "1")
    try:
        post(server)
        assert with_all_steps(server)["workflow_id"] == FLOW
        until(
            lambda: answer(server, f"/api/workflows/executions/{TRACE_ID}")["status"],
            lambda s: s == "unknown",
            "unknown after a second of silence",
        )
        unknown = answer(server, f"/api/workflows/{FLOW}/executions?status=unknown")
        assert [e["id"] for e in unknown["items"]] == [TRACE_ID]
    finally:
        server.terminate()


def test_without_the_mapping_kestra_spans_stay_plain(tmp_path: Path) -> None:
    server = start_server(tmp_path / "plain.duckdb")
    try:
        post(server)
        # Stored (the Jaeger API finds the trace with its ten spans), but no execution and no
        # steps: no built-in recognizer knows kestra.* attributes.
        stored = until(
            lambda: answer(server, f"/api/traces/{TRACE_ID}"), lambda a: isinstance(a, dict), "stored"
        )
        spans = stored["data"][0]["spans"]
        assert len(spans) == 10
        assert not any(t["key"].startswith("workflow.") for s in spans for t in s["tags"])
        assert server.get(f"/api/workflows/executions/{TRACE_ID}").status_code == 404
        assert answer(server, f"/api/workflows/{FLOW}/executions") == 404  # no such workflow
    finally:
        server.terminate()

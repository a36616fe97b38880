"""Spans from a plain OTel SDK program (not our engine) that follows the conventions show
up as executions with a correct timeline, also for workflows not in the catalog."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.client import Api
from tests.support.server import RunningServer


@pytest.fixture(scope="module")
def traced(api_server: RunningServer, root: Api) -> tuple[Api, dict[str, str]]:
    ws = root.new_workspace()
    program = Path(__file__).with_name("foreign_tracer.py")
    done = subprocess.run(
        [sys.executable, str(program), api_server.otlp_http, ws.workspace["id"]],  # type: ignore[attr-defined]
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return ws, json.loads(done.stdout)


def test_cicd_pipeline(traced: tuple[Api, dict[str, str]]) -> None:
    ws, ids = traced
    timeline = ws.wait_until(
        f"/api/workflows/executions/{ids['cicd']}/timeline", lambda t: t["step_count"] == 3
    )
    assert (timeline["workflow_id"], timeline["status"]) == ("nightly-build", "failed")
    assert timeline["total_duration_seconds"] == pytest.approx(0.45)
    steps = timeline["step_timeline"]
    assert [(s["step_id"], s["status"], s["step_order"]) for s in steps] == [
        ("checkout", "completed", 1), ("build", "failed", 2), ("deploy", "skipped", 3),
    ]  # fmt: skip
    assert steps[1]["error_message"] == "compiler exited with 2"
    assert steps[1]["queue_seconds"] == pytest.approx(0.05)  # waited for checkout to end
    assert timeline["critical_path"] == ["checkout", "build"]
    counts = (timeline["completed_step_count"], timeline["failed_step_count"], timeline["skipped_step_count"])
    assert counts == (1, 1, 1)
    page = ws.ok(ws.get("/api/workflows/nightly-build/executions"))
    assert [i["id"] for i in page["items"]] == [ids["cicd"]] and page["items"][0]["execution_number"] is None
    assert ws.ok(ws.get("/api/workflows/nightly-build/metrics"))["failed_executions"] == 1


def test_workflow_conventions(traced: tuple[Api, dict[str, str]]) -> None:
    ws, ids = traced
    timeline = ws.wait_until(
        f"/api/workflows/executions/{ids['workflow']}/timeline", lambda t: t["step_count"] == 2
    )
    assert (timeline["workflow_id"], timeline["status"], timeline["execution_number"]) == (
        "etl-foreign",
        "completed",
        5,
    )
    extract, load = timeline["step_timeline"]
    assert (extract["step_id"], extract["step_name"], extract["retry_count"]) == ("extract", "Extract", 1)
    assert load["step_order"] == 2 and load["output_summary"]["_truncated"] is True
    assert len(json.dumps(load["output_summary"])) < 4096
    assert extract["output_summary"] == {"rows": 3} and extract["input_summary"] == {"source": "s3://bucket"}
    full = ws.ok(ws.get(f"/api/workflows/executions/{ids['workflow']}/steps/load"))
    assert len(full["output_data"]["rows"]) == 50 and full["input_data"] == {"source": "s3://bucket"}
    details = ws.details(ids["workflow"])
    assert details["input_variables"] == {"day": "2024-01-15"} and details["results"] == {"rows": 3}
    assert [h["status"] for h in details["status_history"]] == ["running", "completed"]  # from the root span


def test_lifecycle_records_only(traced: tuple[Api, dict[str, str]]) -> None:
    ws, ids = traced
    pending = ws.details(ids["pending"])
    assert pending["status"] == "pending" and pending["started_at"] is None and pending["duration"] is None
    assert [h["status"] for h in pending["status_history"]] == ["pending"]
    running = ws.details(ids["running"])
    assert running["status"] == "running" and running["completed_at"] is None
    assert [h["status"] for h in running["status_history"]] == ["pending", "running"]
    listed = ws.ok(ws.get("/api/workflows/etl-foreign/executions", params={"status": "pending"}))
    assert [i["id"] for i in listed["items"]] == [ids["pending"]]
    metrics = ws.ok(ws.get("/api/workflows/etl-foreign/metrics"))
    assert (metrics["pending_executions"], metrics["running_executions"], metrics["total_executions"]) == (
        1,
        1,
        1,
    )


def test_step_metrics_without_retry_counts(traced: tuple[Api, dict[str, str]]) -> None:
    """Plain cicd.pipeline.* step spans carry no retry count: the step metrics count no
    retries for them (issue 15 finding 5: this answered 500, runs_with_retries was None)."""
    ws, ids = traced
    ws.wait_until(f"/api/workflows/executions/{ids['cicd']}/timeline", lambda t: t["step_count"] == 3)
    metrics = ws.ok(ws.get("/api/workflows/nightly-build/steps/metrics"))
    steps = {s["step_id"]: s for s in metrics["steps"]}
    assert list(steps) == ["checkout", "build", "deploy"]
    for step in steps.values():
        assert (step["runs"], step["retries"], step["runs_with_retries"]) == (1, 0, 0), step
    assert (steps["build"]["failed"], steps["build"]["failure_rate"]) == (1, 100.0)
    # The workflow.* tracer says its retries: counted as before.
    metrics = ws.ok(ws.get("/api/workflows/etl-foreign/steps/metrics"))
    retried = {s["step_id"]: (s["retries"], s["runs_with_retries"]) for s in metrics["steps"]}
    assert retried == {"extract": (1, 1), "load": (0, 0)}


def test_step_metrics_of_tasks_naming_their_pipeline(api_server: RunningServer, root: Api) -> None:
    """OTel cicd.pipeline.* task spans that name their pipeline (so they carry a workflow id)
    but no retry count: the step metrics answered 500 (issue 15 finding 5)."""
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    ws = root.new_workspace()
    provider = TracerProvider(resource=Resource.create({"service.name": "ci-runner"}))
    exporter = OTLPSpanExporter(
        f"{api_server.otlp_http}/v1/traces",
        headers={"x-workspace-id": ws.workspace["id"]},  # type: ignore[attr-defined]
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("ci.runner")
    pipeline = {"cicd.pipeline.name": "release"}
    with tracer.start_as_current_span(
        "RUN release", kind=trace.SpanKind.SERVER, attributes={**pipeline, "cicd.pipeline.result": "success"}
    ) as run:
        for task in ("lint", "publish"):
            with tracer.start_as_current_span(
                task, attributes={**pipeline, "cicd.pipeline.task.name": task,
                                  "cicd.pipeline.task.run.result": "success"},
            ):  # fmt: skip
                pass
    provider.shutdown()
    execution_id = format(run.get_span_context().trace_id, "032x")
    ws.wait_until(f"/api/workflows/executions/{execution_id}/timeline", lambda t: t["step_count"] == 2)
    metrics = ws.ok(ws.get("/api/workflows/release/steps/metrics"))
    assert [(s["step_id"], s["runs"], s["completed"], s["retries"], s["runs_with_retries"])
            for s in metrics["steps"]] == [("lint", 1, 1, 0, 0), ("publish", 1, 1, 0, 0)]  # fmt: skip

"""`flowscope serve --mapping FILE` end to end: a tracer Flowscope knows nothing of (the real
OTel SDK with its own span names and attributes) becomes executions and steps through an
operator's mapping file; a run whose end never comes shows running, then `unknown` after
`--silence-seconds`, then ends when its end arrives; a bad file stops `serve` with every
problem's location."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from tests.emitters.support import answer, until
from tests.support.server import REPO, RunningServer, start_server

MAPPING = """\
# An imaginary batch scheduler's tracer, as an operator would map it.
version: 1
name: acme-batch
executions:
  - match:
      attributes: {acme.kind: run}
    workflow_id: {attribute: acme.job}
    workflow_name: {span_name: true, pattern: '^batch (.+)$'}
    execution_id: {attribute: acme.run_id}
    execution_number: {attribute: acme.run_number}
    status:
      attribute: acme.state
      values: {SUCCEEDED: completed, FAILED: failed, KILLED: cancelled}
    error: {attribute: acme.reason}
steps:
  - match:
      attributes: {acme.kind: task}
    step_id: {attribute: acme.task}
    workflow_id: {attribute: acme.job}
    attempt: {attribute: acme.try}
    status:
      attribute: acme.state
      values: {SUCCEEDED: completed, FAILED: failed, SKIPPED: skipped}
    error: {attribute: acme.reason}
"""


@pytest.fixture(scope="module")
def mapped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("mapping")
    mapping = tmp / "acme.yaml"
    mapping.write_text(MAPPING)
    server = start_server(tmp / "flowscope.duckdb", "--mapping", str(mapping), "--silence-seconds", "1")
    yield server
    server.terminate()


class Acme:
    """The imaginary scheduler's tracer: the real OTel SDK, exporting each span as it ends."""

    def __init__(self, otlp_http: str) -> None:
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": "acme-scheduler"}), shutdown_on_exit=False
        )
        self.provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(f"{otlp_http}/v1/traces")))
        self.tracer = self.provider.get_tracer("acme.scheduler")

    def run(self, job: str, number: int) -> trace.Span:
        attrs = {
            "acme.kind": "run",
            "acme.job": job,
            "acme.run_id": f"run-{number}",
            "acme.run_number": number,
        }
        return self.tracer.start_span(f"batch {job.title()}", attributes=attrs)

    def task(self, run: trace.Span, job: str, task: str, attempt: int, state: str, reason: str = "") -> None:
        attrs = {
            "acme.kind": "task",
            "acme.job": job,
            "acme.task": task,
            "acme.try": attempt,
            "acme.state": state,
        }
        if reason:
            attrs["acme.reason"] = reason
        span = self.tracer.start_span(
            f"task {task}", context=trace.set_span_in_context(run), attributes=attrs
        )
        if state == "FAILED":
            span.set_status(Status(StatusCode.ERROR))
        span.end()


def _trace_id(span: trace.Span) -> str:
    return f"{span.get_span_context().trace_id:032x}"


def test_a_mapped_tracer_runs_are_executions_with_their_steps(mapped: RunningServer) -> None:
    acme = Acme(mapped.otlp_http)
    run = acme.run("nightly-import", 41)
    acme.task(run, "nightly-import", "extract", 1, "SUCCEEDED")
    acme.task(run, "nightly-import", "load", 3, "FAILED", "disk full")
    acme.task(run, "nightly-import", "report", 1, "SKIPPED")
    run.set_attributes({"acme.state": "FAILED", "acme.reason": "load failed"})
    run.set_status(Status(StatusCode.ERROR))
    run.end()
    execution_id = _trace_id(run)

    details = until(
        lambda: answer(mapped, f"/api/workflows/executions/{execution_id}"),
        lambda d: isinstance(d, dict) and d["status"] == "failed",
        "details",
    )
    assert (details["workflow_id"], details["execution_number"], details["error_message"]) == (
        "nightly-import", 41, "load failed",
    )  # fmt: skip
    assert details["service_name"] == "acme-scheduler"
    steps = {s["step_id"]: s for s in details["step_executions"]}
    assert {k: (v["status"], v["retry_count"], v["error_message"]) for k, v in steps.items()} == {
        "extract": ("completed", 0, None),
        "load": ("failed", 2, "disk full"),
        "report": ("skipped", 0, None),
    }
    timeline = answer(mapped, f"/api/workflows/executions/{execution_id}/timeline")
    assert (timeline["workflow_name"], timeline["step_count"], timeline["failed_step_count"]) == (
        "Nightly-Import", 3, 1,
    )  # fmt: skip
    listed = answer(mapped, "/api/workflows/nightly-import/executions")
    assert [e["id"] for e in listed["items"]] == [execution_id]
    metrics = answer(mapped, "/api/workflows/nightly-import/metrics")
    assert (metrics["total_executions"], metrics["failed_executions"]) == (1, 1)
    # /metrics (Prometheus) counts the mapped run and its step retries like the engine's.
    exposition = mapped.get("/metrics").text
    run_series = [
        line for line in exposition.splitlines() if line.startswith("flowscope_workflow_executions_total{")
    ]
    assert any('workflow="nightly-import"' in line and 'status="failed"' in line and line.endswith(" 1.0")
               for line in run_series), run_series  # fmt: skip
    retry_series = [
        line for line in exposition.splitlines() if line.startswith("flowscope_workflow_step_retries_total{")
    ]
    assert any('step="load"' in line and line.endswith(" 2.0") for line in retry_series), retry_series


def test_a_run_whose_end_never_comes_shows_unknown_after_the_silence_then_its_end(
    mapped: RunningServer,
) -> None:
    acme = Acme(mapped.otlp_http)
    run = acme.run("hourly-sync", 7)
    acme.task(run, "hourly-sync", "fetch", 1, "SUCCEEDED")  # only the step: the run span is still open
    execution_id = _trace_id(run)
    path = f"/api/workflows/executions/{execution_id}"

    def status() -> Any:
        found = answer(mapped, path)
        return found["status"] if isinstance(found, dict) else found

    # Listed running from its step span alone, before its run span ends...
    until(status, lambda s: s == "running", "running from its step")
    listed = answer(mapped, "/api/workflows/hourly-sync/executions?status=running")
    assert [e["id"] for e in listed["items"]] == [execution_id]
    # ... unknown once nothing was heard of it for --silence-seconds (1 s), never completed ...
    until(status, lambda s: s == "unknown", "unknown after the silence")
    unknown = answer(mapped, "/api/workflows/hourly-sync/executions?status=unknown")
    assert [e["id"] for e in unknown["items"]] == [execution_id]
    # ... and ended when its end comes after all.
    run.set_attribute("acme.state", "SUCCEEDED")
    run.end()
    until(status, lambda s: s == "completed", "completed when its run span came")


def test_our_engine_runs_are_never_marked_unknown(mapped: RunningServer) -> None:
    """The engine's executions are closed by crash recovery, not by silence: a workflow whose
    step sleeps longer than the silence stays running, then completes."""
    definition = {
        "name": "slow-one",
        "steps": [{"id": "wait", "action": {"type": "delay", "params": {"seconds": 2.5}}}],
    }
    created = mapped.post("/api/workflows", json={"definition": definition})
    assert created.status_code == 201, created.text
    started = mapped.post(f"/api/workflows/{created.json()['id']}/execute", json={})
    assert started.status_code == 202, started.text
    execution_id = started.json()["id"]
    seen: list[str] = []

    def status() -> str:
        seen.append(answer(mapped, f"/api/workflows/executions/{execution_id}")["status"])
        return seen[-1]

    until(status, lambda s: s == "completed", "the engine's run completes", timeout=60)
    assert "unknown" not in seen and "running" in seen


def test_without_the_mapping_the_same_spans_stay_plain(tmp_path: Path) -> None:
    server = start_server(tmp_path / "flowscope.duckdb")
    try:
        acme = Acme(server.otlp_http)
        run = acme.run("plain-job", 1)
        acme.task(run, "plain-job", "only", 1, "SUCCEEDED")
        run.end()
        acme.provider.shutdown()
        trace_id = _trace_id(run)
        # Stored (Jaeger finds the trace) but no execution: no built-in recognizer knows acme.*.
        until(lambda: server.get(f"/api/traces/{trace_id}").status_code, lambda s: s == 200, "stored")
        assert server.get(f"/api/workflows/executions/{trace_id}").status_code == 404
    finally:
        server.terminate()


def test_a_bad_mapping_file_stops_serve_with_every_problem_located(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\nname: acme\nsteps:\n  - match: {attributes: {}}\n    stepid: {attribute: x}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "flowscope", "serve", "--api-port", "0", "--otlp-http-port", "0",
         "--otlp-grpc-port", "0", "--db", str(tmp_path / "x.duckdb"), "--mapping", str(bad)],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"--mapping / FLOWSCOPE_MAPPING: {bad}:4:5: steps[0].step_id: Field required" in done.stderr
    assert f"{bad}:4:25: steps[0].match.attributes: Dictionary should have at least 1 item" in done.stderr
    assert f"{bad}:5:5: steps[0].stepid: Extra inputs are not permitted" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "x.duckdb").exists()  # nothing was opened
    checked = subprocess.run(
        [sys.executable, "-m", "flowscope", "mapping", "check", str(bad)],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert checked.returncode == 2 and f"{bad}:5:5: steps[0].stepid" in checked.stderr

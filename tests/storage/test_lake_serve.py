"""`flowscope serve --store ducklake:postgres:... --data-path PATH`: the real server on a DuckLake
whose catalog is the tests' own PostgreSQL. A plain OTel SDK exports a workflow run over
OTLP/HTTP; the spec's REST reads answer it, and answer it again from a restarted server."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

from flowscope import conventions as c
from tests.support.postgres import Postgres
from tests.support.server import RunningServer, start_server

WORKFLOW_ID = "lake-etl"
# More spans than DuckLake inlines into catalog rows (10): the export's commit writes Parquet.
STEPS = [f"step-{i:02d}" for i in range(12)]
FAILED_STEP = STEPS[-1]


def _run_workflow(otlp_http: str) -> str:
    """One execution: a root span and its steps, the last failing; exported in one request."""
    provider = TracerProvider(resource=Resource.create({"service.name": "lake-etl"}), shutdown_on_exit=False)
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(f"{otlp_http}/v1/traces"), schedule_delay_millis=60_000)
    )
    tracer = provider.get_tracer("tests.lake")
    base = {c.WORKFLOW_ID: WORKFLOW_ID, c.WORKFLOW_NAME: "Lake ETL"}
    root = tracer.start_span("RUN lake-etl", kind=trace.SpanKind.SERVER, attributes=base)
    context = trace.set_span_in_context(root)
    for step_id in STEPS:
        span = tracer.start_span(step_id, context=context, attributes={**base, c.STEP_ID: step_id})
        if step_id == FAILED_STEP:
            span.set_status(Status(StatusCode.ERROR, "disk full"))
        span.end()
    root.set_status(Status(StatusCode.ERROR, "load failed"))
    root.end()
    provider.shutdown()  # flushes the batch: one export request, acknowledged after the commit
    return f"{root.get_span_context().trace_id:032x}"


def _get(server: RunningServer, path: str) -> Any:
    response = server.get(path)
    assert response.status_code == 200, (path, response.status_code, response.text)
    return response.json()


def _check_reads(server: RunningServer, execution_id: str) -> None:
    details = _get(server, f"/api/workflows/executions/{execution_id}")
    assert details["id"] == execution_id and details["workflow_id"] == WORKFLOW_ID
    assert details["status"] == "failed" and details["error_message"] == "load failed"
    timeline = _get(server, f"/api/workflows/executions/{execution_id}/timeline")
    assert timeline["step_count"] == len(STEPS)
    statuses = {s["step_id"]: s["status"] for s in timeline["step_timeline"]}
    assert statuses == {s: "failed" if s == FAILED_STEP else "completed" for s in STEPS}
    errors = {s["step_id"]: s["error_message"] for s in timeline["step_timeline"] if s["error_message"]}
    assert errors == {FAILED_STEP: "disk full"}
    page = _get(server, f"/api/workflows/{WORKFLOW_ID}/executions")
    assert [(e["id"], e["status"]) for e in page["items"]] == [(execution_id, "failed")]
    assert page["total"] == 1


def test_serve_on_a_lake_answers_the_spec_reads(postgres: Postgres, tmp_path: Path) -> None:
    url = "ducklake:postgres:" + postgres.create_database("serve_lake")
    data = tmp_path / "lake-data"
    # --db: this node's own files (trigger journal, sandbox); telemetry goes to the lake.
    args = ("--store", url, "--data-path", str(data))
    server = start_server(tmp_path / "node", *args)
    try:
        assert str(server.db).startswith("ducklake:postgres:dbname=serve_lake")
        execution_id = _run_workflow(server.otlp_http)  # acknowledged: committed to the lake
        _check_reads(server, execution_id)
    finally:
        assert server.terminate() == 0, server.log
    assert list(data.glob("main/spans/*.parquet")), "the export's spans were not written as Parquet"
    assert not (tmp_path / "node").exists(), "telemetry went to a DuckDB file"

    again = start_server(tmp_path / "node", *args)
    try:
        _check_reads(again, execution_id)
    finally:
        assert again.terminate() == 0, again.log


def test_a_lake_needs_its_data_path(tmp_path: Path) -> None:
    started = time.monotonic()
    try:
        start_server(tmp_path / "node", "--store", "ducklake:postgres:dbname=x host=127.0.0.1")
    except RuntimeError as exc:
        assert "exited (2)" in str(exc)
        assert "--data-path / FLOWSCOPE_DATA_PATH: is required with a ducklake: store" in str(exc)
    else:
        raise AssertionError("serve started on a lake without --data-path")
    assert time.monotonic() - started < 30

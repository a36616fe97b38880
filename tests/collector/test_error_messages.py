"""The one error-message rule (workflow_meaning.error_message, README "Error messages"; its
table is tested in tests/test_workflow_meaning.py): the same answer from REST, the live feed
and the spec's SQL views, for our engine's spans and for foreign tracers' (exception events,
error.type, cicd.* results)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx
from flowscope.api.ws.events import iso
from flowscope.storage.duckdb.sqlfiles import statements
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from flowscope import conventions as c
from tests.support.server import start_server
from tests.ws.support import Feed, open_feed, ws_url

# What a foreign tracer sends (plain OTel SDK), and the error each reader must show.
EXPECTED_STEPS = {
    "raises": "ValueError: bad row 7",  # only an exception event (record_exception)
    "typed": "ConnectionRefused",  # only error.type
    "ci-timeout": "timeout",  # only the cicd task result
    "described": "exit code 3",  # the status description wins over the exception event
    "explicit": "quota exceeded",  # workflow.step.error wins over everything
    "cancelled": None,  # nothing said: no error
    "fine": None,
}
EXPECTED_EXECUTION = "RuntimeError: pipeline aborted"


def _trace(otlp_http: str, workflow_id: str) -> str:
    provider = TracerProvider(resource=Resource.create({"service.name": "foreign"}), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(f"{otlp_http}/v1/traces")))
    tracer = provider.get_tracer("tests.errors")
    base = {c.WORKFLOW_ID: workflow_id}
    root = tracer.start_span("RUN etl", kind=trace.SpanKind.SERVER, attributes=base)
    context = trace.set_span_in_context(root)

    def step(step_id: str, attrs: dict[str, Any], end: Any) -> None:
        span = tracer.start_span(step_id, context=context, attributes={**base, c.STEP_ID: step_id, **attrs})
        end(span)
        span.end()

    def raises(span: Any) -> None:
        span.record_exception(ValueError("bad row 7"))  # exception.message "bad row 7"
        span.set_status(Status(StatusCode.ERROR))

    step("raises", {}, raises)
    step("typed", {c.ERROR_TYPE: "ConnectionRefused"}, lambda s: s.set_status(Status(StatusCode.ERROR)))
    step("ci-timeout", {c.CICD_TASK_RUN_RESULT: "timeout"}, lambda s: None)
    step(
        "described",
        {},
        lambda s: (s.record_exception(OSError("x")), s.set_status(Status(StatusCode.ERROR, "exit code 3"))),
    )
    step("explicit", {c.STEP_ERROR: "quota exceeded"}, lambda s: s.set_status(Status(StatusCode.ERROR, "x")))
    step("cancelled", {c.STEP_STATUS: "cancelled"}, lambda s: None)
    step("fine", {}, lambda s: None)
    root.record_exception(RuntimeError("pipeline aborted"))
    root.set_status(Status(StatusCode.ERROR))
    root.end()
    provider.shutdown()
    return f"{root.get_span_context().trace_id:032x}"


def _await_steps(api: str, execution_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        response = httpx.get(f"{api}/api/workflows/executions/{execution_id}/timeline", timeout=10)
        if response.status_code == 200 and response.json()["step_count"] == len(EXPECTED_STEPS):
            return response.json()
        assert time.monotonic() < deadline, response.text
        time.sleep(0.05)


def test_every_reader_shows_the_same_error(tmp_path: Path) -> None:
    db = tmp_path / "errors.duckdb"
    server = start_server(db)
    try:
        since = iso(time.time_ns())
        workflow_id = "etl-errors"
        execution_id = _trace(server.otlp_http, workflow_id)
        timeline = _await_steps(server.api, execution_id)
        assert {s["step_id"]: s["error_message"] for s in timeline["step_timeline"]} == EXPECTED_STEPS
        details = httpx.get(f"{server.api}/api/workflows/executions/{execution_id}", timeout=10).json()
        assert details["error_message"] == EXPECTED_EXECUTION

        async def feed() -> list[dict[str, Any]]:
            async with open_feed(ws_url(server.api, f"/ws/workflows/{workflow_id}", since=since)) as conn:
                return await Feed(conn).until("replay_complete")

        events = asyncio.run(feed())
        ended = {m["data"]["step_id"]: m["data"]["error"] for m in events if m["event"].startswith("step_")
                 and m["event"] != "step_started"}  # fmt: skip
        assert ended == EXPECTED_STEPS
        workflow_end = next(m for m in events if m["event"] == "workflow_failed")
        assert workflow_end["data"]["error"] == EXPECTED_EXECUTION
    finally:
        assert server.terminate() == 0

    with duckdb.connect(str(db), read_only=True) as con:
        viewed = dict(
            con.execute(  # type: ignore[arg-type]
                "SELECT step_id, error_message FROM workflow_step_executions WHERE execution_id = ?",
                [execution_id],
            ).fetchall()
        )
        (execution_error,) = con.execute(  # type: ignore[misc]
            "SELECT error_message FROM workflow_executions WHERE id = ?", [execution_id]
        ).fetchone()
    assert viewed == EXPECTED_STEPS and execution_error == EXPECTED_EXECUTION


def test_migration_backfills_what_sql_can_read(tmp_path: Path) -> None:
    """Spans stored before migration 006 get their error message by the same rule, except
    `exception` events (SQL cannot read them from the blob)."""
    db = tmp_path / "backfill.duckdb"
    server = start_server(db)
    try:
        execution_id = _trace(server.otlp_http, "etl-backfill")
        _await_steps(server.api, execution_id)
    finally:
        assert server.terminate() == 0
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE spans SET error_message = NULL")
        backfill = next(s for s in statements("migrations/006_error_messages") if "UPDATE spans" in s)
        con.execute(backfill)
        rows = dict(
            con.execute(  # type: ignore[arg-type]
                "SELECT coalesce(step_id, 'root'), error_message FROM spans WHERE execution_id = ?",
                [execution_id],
            ).fetchall()
        )
    from_exceptions = {"raises"}  # their only source is an exception event
    expected = {k: (None if k in from_exceptions else v) for k, v in EXPECTED_STEPS.items()}
    assert rows == {**expected, "root": None}

"""A retried export that lands on another node of the same lake (issue 14, "Routing and
idempotency"): two real `serve` nodes on one DuckLake (the tests' PostgreSQL), and the very same
OTLP/HTTP protobuf bytes posted to both, one after the other and at the same time. Every read
must then answer as if the batch had been sent once: execution rows, details, timeline, list,
workflow and step metrics, logs and Jaeger traces.

The bytes are what the OTel SDK's OTLP exporter sends (its own encoders), built once and posted
with plain HTTP, as an exporter's retry resends them."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode
from prometheus_client.parser import text_string_to_metric_families

from flowscope import conventions as c
from tests.collector.helpers import metric
from tests.support.postgres import Postgres
from tests.support.server import RunningServer, start_server

WORKFLOW_ID = "retry-etl"
# More spans than DuckLake inlines into catalog rows (10): the commits write Parquet.
STEPS = [f"step-{i:02d}" for i in range(12)]
FAILED_STEP = STEPS[-1]
PROTOBUF = {"Content-Type": "application/x-protobuf"}
CONCURRENT_RUNS = 6
REPAIRED = "removed copies another node committed at the same time: 13 spans"
LOOKUPS = "flowscope_lake_dedupe_lookups_total"
REPAIRS = "flowscope_lake_dedupe_repairs_total"
DUPLICATED = "flowscope_collector_duplicated_total"
_LAKES = itertools.count()  # one lake (catalog database) per test on the session's PostgreSQL


def _execution_bytes(run: int) -> tuple[str, bytes, bytes, str]:
    """One execution as the SDK's OTLP exporter encodes it: (execution id, the traces request,
    the logs request, the trace id). Each step also logs one record in the trace's context."""
    trace_id, spans, records = _execution(run)
    traces = encode_spans(spans).SerializeToString()
    return trace_id, traces, encode_logs(records).SerializeToString(), trace_id


def _execution(run: int) -> tuple[str, list[ReadableSpan], list[Any]]:
    """One execution's finished spans (the steps', then the root's) and log records, as the SDK
    hands them to its exporters: (trace id = execution id, spans, records)."""
    spans, records = InMemorySpanExporter(), InMemoryLogExporter()
    resource = Resource.create({"service.name": "retry-etl"})
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(spans))
    logs = LoggerProvider(resource=resource, shutdown_on_exit=False)
    logs.add_log_record_processor(SimpleLogRecordProcessor(records))
    tracer, logger = provider.get_tracer("tests.retry"), logs.get_logger("tests.retry")
    base = {c.WORKFLOW_ID: WORKFLOW_ID, c.WORKFLOW_NAME: "Retry ETL"}
    root = tracer.start_span(f"RUN {WORKFLOW_ID} {run}", kind=trace.SpanKind.SERVER, attributes=base)
    context = trace.set_span_in_context(root)
    for step_id in STEPS:
        span = tracer.start_span(step_id, context=context, attributes={**base, c.STEP_ID: step_id})
        logger.emit(
            body=f"{step_id} ran", severity_number=SeverityNumber.INFO,
            context=trace.set_span_in_context(span), attributes={c.STEP_ID: step_id},
        )  # fmt: skip
        if step_id == FAILED_STEP:
            span.set_status(Status(StatusCode.ERROR, "disk full"))
        span.end()
    root.set_status(Status(StatusCode.ERROR, "load failed"))
    root.end()
    provider.shutdown()
    logs.shutdown()
    trace_id = f"{root.get_span_context().trace_id:032x}"
    return trace_id, list(spans.get_finished_spans()), list(records.get_finished_logs())


def _post(server: RunningServer, signal: str, body: bytes) -> None:
    response = httpx.post(f"{server.otlp_http}/v1/{signal}", content=body, headers=PROTOBUF, timeout=30)
    assert response.status_code == 200, (signal, response.status_code, response.text)


def _send(server: RunningServer, traces: bytes, logs: bytes) -> None:
    _post(server, "traces", traces)
    _post(server, "logs", logs)


def _get(server: RunningServer, path: str) -> Any:
    response = server.get(path)
    assert response.status_code == 200, (path, response.status_code, response.text)
    return response.json()


def _check_once(server: RunningServer, executions: list[str]) -> None:
    """Every read answers as if each execution's batch had been stored once."""
    page = _get(server, f"/api/workflows/{WORKFLOW_ID}/executions?limit=100")
    assert sorted(e["id"] for e in page["items"]) == sorted(executions) and page["total"] == len(executions)
    for execution_id in executions:
        details = _get(server, f"/api/workflows/executions/{execution_id}")
        assert details["status"] == "failed" and details["error_message"] == "load failed"
        assert sorted(s["step_id"] for s in details["step_executions"]) == STEPS
        timeline = _get(server, f"/api/workflows/executions/{execution_id}/timeline")
        assert timeline["step_count"] == len(STEPS)
        assert sorted(s["step_id"] for s in timeline["step_timeline"]) == STEPS
        steps = _get(server, f"/api/grafana/executions/{execution_id}/steps")
        assert sorted(s["step_id"] for s in steps) == STEPS
        logs = _get(server, f"/api/workflows/executions/{execution_id}/logs?limit=100")
        assert logs["total"] == len(STEPS) and len(logs["items"]) == len(STEPS)
        jaeger = _get(server, f"/api/traces/{execution_id}")["data"]
        assert len(jaeger) == 1 and len(jaeger[0]["spans"]) == len(STEPS) + 1
    recent = _get(server, f"/api/grafana/executions?workflow={WORKFLOW_ID}")
    assert sorted(e["execution_id"] for e in recent) == sorted(executions)
    metrics = _get(server, f"/api/workflows/{WORKFLOW_ID}/metrics")
    assert metrics["total_executions"] == len(executions) and metrics["failed_executions"] == len(executions)
    steps_page = _get(server, f"/api/workflows/{WORKFLOW_ID}/steps/metrics")
    step_metrics = {s["step_id"]: s for s in steps_page["steps"]}
    assert sorted(step_metrics) == STEPS
    assert {s: m["runs"] for s, m in step_metrics.items()} == dict.fromkeys(STEPS, len(executions))
    assert step_metrics[FAILED_STEP]["failed"] == len(executions)


@pytest.fixture
def two_nodes(postgres: Postgres, tmp_path: Path) -> Any:
    url = "ducklake:postgres:" + postgres.create_database(f"cross_node_retry_{next(_LAKES)}")
    # info: the log says when a node removed copies (the test checks the race happened)
    lake = ("--store", url, "--data-path", str(tmp_path / "lake-data"), "--log-level", "info")
    first = start_server(tmp_path / "node-a", *lake)
    try:
        second = start_server(tmp_path / "node-b", *lake)
    except BaseException:
        first.terminate()
        raise
    yield first, second
    assert second.terminate() == 0
    assert first.terminate() == 0


def test_a_retry_on_another_node_reads_once(two_nodes: tuple[RunningServer, RunningServer]) -> None:
    a, b = two_nodes
    executions = []
    # One after the other: node A acknowledged, the exporter sends the same bytes to node B.
    execution_id, traces, logs, _ = _execution_bytes(1)
    _send(a, traces, logs)
    _send(b, traces, logs)
    executions.append(execution_id)
    _check_once(a, executions)
    _check_once(b, executions)

    # At the same time: node A is slow to answer, the exporter's retry reaches node B meanwhile.
    # Both look, neither finds the other's copy, both commit; the later one removes the copies.
    for run in range(2, 2 + CONCURRENT_RUNS):
        execution_id, traces, logs, _ = _execution_bytes(run)
        _send_together((a, b), traces, logs)
        executions.append(execution_id)
    _check_once(a, executions)
    _check_once(b, executions)
    # The race happened (the same commits, unrepaired, read doubled in 17 of 20 runs here).
    assert REPAIRED in a.log + b.log, "no commit raced another node's: the concurrent case went untested"
    assert metric(a, REPAIRS) + metric(b, REPAIRS) >= 1


def test_a_retry_after_the_other_nodes_commit_is_dropped_without_a_lake_lookup(
    two_nodes: tuple[RunningServer, RunningServer],
) -> None:
    """Node B read node A's commits into its dedupe filters (others.py) before its own commit:
    the retry's spans and records are known stored, so nothing is looked up in the lake; new
    rows pass the filters as new without a lookup too. A lookup happens where one is needed:
    an execution whose root span comes to B after its steps went to A folds into A's row."""
    a, b = two_nodes
    assert {labels["table"] for labels in _samples(b, LOOKUPS)} == {"spans", "logs", "executions"}
    execution_id, traces, logs, _ = _execution_bytes(1)
    _send(a, traces, logs)  # acknowledged: A's commits are in the lake
    lookups, spans, records = metric(b, LOOKUPS), metric(b, DUPLICATED, signal="traces"), metric(
        b, DUPLICATED, signal="logs"
    )  # fmt: skip
    _send(b, traces, logs)
    assert metric(b, DUPLICATED, signal="traces") - spans == len(STEPS) + 1
    assert metric(b, DUPLICATED, signal="logs") - records == len(STEPS)
    assert metric(b, LOOKUPS) == lookups, _samples(b, LOOKUPS)
    assert metric(b, "flowscope_lake_other_commits_read_total") >= 2  # A's spans and records
    new_id, traces, logs, _ = _execution_bytes(2)
    _send(b, traces, logs)
    assert metric(b, LOOKUPS) == lookups, _samples(b, LOOKUPS)
    _check_once(a, [execution_id, new_id])
    _check_once(b, [execution_id, new_id])

    split_id, spans_of_split, records_of_split = _execution(3)
    steps, root = spans_of_split[:-1], spans_of_split[-1:]
    _post(a, "traces", encode_spans(steps).SerializeToString())  # A stores a running execution
    _post(a, "logs", encode_logs(records_of_split).SerializeToString())
    _post(b, "traces", encode_spans(root).SerializeToString())  # B ends it: A's row is taken
    assert metric(b, LOOKUPS, table="executions") >= 1
    _check_once(a, [execution_id, new_id, split_id])
    _check_once(b, [execution_id, new_id, split_id])


def _samples(server: RunningServer, name: str) -> list[dict[str, str]]:
    """The label sets of metric `name`'s samples on /metrics."""
    text = server.get("/metrics").text
    return [s.labels for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]


def _send_together(nodes: tuple[RunningServer, ...], traces: bytes, logs: bytes) -> None:
    start = threading.Barrier(len(nodes))
    errors: list[BaseException] = []

    def send(node: RunningServer) -> None:
        try:
            start.wait(30)
            _send(node, traces, logs)
        except BaseException as exc:  # re-raised below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(node,)) for node in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors

"""Overlapping rules: one OTLP request mixing every emitter Flowscope recognizes (GitHub Actions,
GitLab CI, Jenkins, Airflow, Prefect-shaped spans, a mapping file's tracer), our own
conventions, and plain service spans, some of them holding a marker's bytes in a value. Each
span is read exactly as it is when its emitter's spans arrive alone, and the plain spans stay
plain."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from flowscope.collector.prepare import prepare
from flowscope.storage.later_tries import Try, is_later_try, tries
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from flowscope import conventions as c
from flowscope.compose import recognition
from flowscope.emitters.registry import Recognition
from tests.emitters import airflow_fixtures, cicd_fixtures
from tests.emitters.test_mapping import MAPPING
from tests.support.server import RunningServer, start_server

PREFECT_FLOW_ID = "d41b3a3f-29da-4ab1-9181-8f92874163b2"


def _sdk_spans() -> ExportTraceServiceRequest:
    """Prefect-shaped, mapped (acme), our own and plain spans, from the real OTel SDK."""
    requests = ExportTraceServiceRequest()
    for service, build in (
        ("prefect-worker", _prefect),
        ("acme-scheduler", _acme),
        ("shop", _ours_and_plain),
    ):
        provider = TracerProvider(resource=Resource.create({"service.name": service}), shutdown_on_exit=False)
        exporter = InMemorySpanExporter()  # (a provider's shutdown shuts its exporter)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        build(provider)
        requests.MergeFrom(encode_spans(exporter.get_finished_spans()))
        provider.shutdown()
    return requests


def _prefect(provider: TracerProvider) -> None:
    # prefect/telemetry/run_telemetry.py (3.9.1) `_start_span`: name = run name; these attributes.
    tracer = provider.get_tracer("prefect", "3.9.1")
    flow = tracer.start_span("dancing-cheetah", attributes={
        "prefect.run.name": "dancing-cheetah", "prefect.run.type": "flow", "prefect.run.id": "a6b5",
        "prefect.tags": [], "prefect.flow.id": PREFECT_FLOW_ID,
    })  # fmt: skip
    task = tracer.start_span("extract-1f3", context=set_span_in_context(flow), attributes={
        "prefect.run.name": "extract-1f3", "prefect.run.type": "task", "prefect.run.id": "01a2",
        "prefect.tags": [],
    })  # fmt: skip
    task.add_event("Completed", {"prefect.state.type": "COMPLETED", "prefect.state.name": "Completed"})
    task.end()
    flow.add_event("Completed", {"prefect.state.type": "COMPLETED", "prefect.state.name": "Completed"})
    flow.set_status(Status(StatusCode.OK))
    flow.end()


def _acme(provider: TracerProvider) -> None:
    tracer = provider.get_tracer("acme.scheduler")
    run = tracer.start_span("batch Mixed", attributes={"acme.kind": "run", "acme.job": "mixed-job"})
    task = {"acme.kind": "task", "acme.job": "mixed-job", "acme.task": "a", "acme.state": "SUCCEEDED"}
    tracer.start_span("task a", context=set_span_in_context(run), attributes=task).end()
    run.set_attribute("acme.state", "SUCCEEDED")
    run.end()


def _ours_and_plain(provider: TracerProvider) -> None:
    tracer = provider.get_tracer("shop")
    root = tracer.start_span("RUN ours", attributes={c.WORKFLOW_ID: "ours-wf"})
    tracer.start_span(
        "step", context=set_span_in_context(root), attributes={c.WORKFLOW_ID: "ours-wf", c.STEP_ID: "s1"}
    ).end()
    root.end()
    # Plain spans; some hold a marker's bytes in a value, or a foreign emitter's key alone.
    http = tracer.start_span("GET /orders", kind=SpanKind.SERVER, attributes={
        "http.request.method": "GET", "url.path": "/cicd.pipeline.name/prefect.run.type/acme.kind",
    })  # fmt: skip
    tracer.start_span(
        "SELECT", context=set_span_in_context(http),
        attributes={"db.statement": "select 'airflow.dag_id', 'ci.pipeline.id'", "prefect.run.name": "x"},
    ).end()  # fmt: skip
    http.end()
    tracer.start_span("lonely acme", attributes={"acme.kind": "other"}).end()


def _mixed() -> ExportTraceServiceRequest:
    mixed = ExportTraceServiceRequest()
    for emitter in cicd_fixtures.EMITTERS:
        mixed.MergeFrom(cicd_fixtures.request(emitter))
    for body in airflow_fixtures.request_bodies(airflow_fixtures.CURRENT[0]):
        mixed.MergeFrom(ExportTraceServiceRequest.FromString(body))
    mixed.MergeFrom(_sdk_spans())
    return mixed


def _roles(
    request: ExportTraceServiceRequest, mapped: Recognition
) -> list[tuple[tuple[str, str], tuple[Any, ...], Try]]:
    """What ingest derives for each span of `request` alone, in order: (trace id, span id),
    columns, and what decides whether it is a later try of a step."""
    spans = prepare("traces", request, "default", recognition=mapped).spans
    assert spans is not None
    cols = spans.to_pydict()
    keys = ("span_role", "workflow_id", "step_id", "step_status", "retry_count", "error_message")
    return [
        ((t, s), tuple(cols[k][i] for k in keys), version)
        for i, (t, s, version) in enumerate(zip(cols["trace_id"], cols["span_id"], tries(spans), strict=True))
    ]


@pytest.fixture(scope="module")
def mapping_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mixed") / "acme.yaml"
    path.write_text(MAPPING)
    return path


@pytest.fixture(scope="module")
def server(mapping_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        tmp_path_factory.mktemp("mixed-db") / "flowscope.duckdb", "--mapping", str(mapping_file)
    )
    yield running
    running.terminate()


def test_one_batch_of_everything_is_read_as_each_part_alone(
    server: RunningServer, mapping_file: Path
) -> None:
    mapped = recognition(mapping_file)
    mixed = _mixed()
    # Each emitter's part alone, converted by the collector's own code: the expected reading.
    alone: dict[tuple[str, str], tuple[tuple[Any, ...], Try]] = {}
    later = 0
    for resource_spans in mixed.resource_spans:
        part = ExportTraceServiceRequest()
        part.resource_spans.append(resource_spans)
        for key, columns, version in _roles(part, mapped):
            # The store keeps a span id's first version, but for a later try of a step (Airflow
            # 3.2+ sends every try of a task under one span id: storage/later_tries.py).
            earlier = alone.get(key)
            if earlier is None or is_later_try(earlier[1], version):
                alone[key] = (columns, version)
                later += earlier is not None
    assert later == 1  # Airflow's flaky task: its second try

    response = httpx.post(
        f"{server.otlp_http}/v1/traces", content=mixed.SerializeToString(),
        headers={"content-type": "application/x-protobuf"}, timeout=30,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    server.terminate()  # everything acknowledged is committed; read the file as it is
    with duckdb.connect(str(server.db), read_only=True) as con:
        rows = con.execute(
            "SELECT trace_id, span_id, name, span_role, workflow_id, step_id, step_status, retry_count,"
            " error_message, service_name FROM spans"
        ).fetchall()
        executions = dict(con.execute("SELECT execution_id, workflow_id FROM executions").fetchall())
    stored = {(r[0], r[1]): tuple(r[3:9]) for r in rows}
    # (Airflow 3.2+ sends every try of a task under one span id: one span each)
    sent = {(sp.trace_id.hex(), sp.span_id.hex()) for rs in mixed.resource_spans for ss in rs.scope_spans
            for sp in ss.spans}  # fmt: skip
    assert len(stored) == len(alone) == len(sent)
    assert stored == {key: columns for key, (columns, _) in alone.items()}

    by_name = {r[2]: r for r in rows if r[9] in ("shop", "acme-scheduler", "prefect-worker")}
    for plain in ("GET /orders", "SELECT", "lonely acme"):
        assert by_name[plain][3] is None, plain  # plain spans stay plain
    assert (by_name["RUN ours"][3], by_name["RUN ours"][4]) == ("execution", "ours-wf")
    assert (by_name["batch Mixed"][3], by_name["batch Mixed"][4]) == ("execution", "mixed-job")
    assert (by_name["dancing-cheetah"][3], by_name["dancing-cheetah"][4]) == ("execution", PREFECT_FLOW_ID)
    assert (by_name["extract-1f3"][3], by_name["extract-1f3"][5]) == ("step", "extract")
    # Every emitter's runs are executions of the workflows its recognizer names.
    workflows = set(executions.values())
    assert {"ours-wf", "mixed-job", PREFECT_FLOW_ID} <= workflows
    assert {w for w in workflows if w.startswith("flowscope_")} == {
        "flowscope_demo",
        "flowscope_ok",
    }  # Airflow
    assert sum(1 for r in rows if r[9] not in ("shop", "acme-scheduler", "prefect-worker") and r[3]) > 10
    for emitter_root in (r for r in rows if r[3] == "execution"):
        assert executions.get(emitter_root[0]) == emitter_root[4]

"""A value that does not fit its typed column rejects its span alone (issue 15, finding 4).

`workflow.step.retry_count` = 2^31 used to fail the whole request (HTTP 500, gRPC
UNKNOWN) and lose the valid root span beside it. Now the span is rejected through
OTLP partial_success, naming the attribute, and everything else in the request is
stored. The same rule holds for every promoted value (storage/columns.py): span
kind, status code, retry count, execution number (on root spans and lifecycle records).

Requests are what the OpenTelemetry SDK puts on the wire (its own encoder), sent over
OTLP/HTTP protobuf, OTLP/HTTP JSON and OTLP/gRPC.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import httpx
import orjson
import pytest
from google.protobuf import json_format
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from opentelemetry.proto_json.collector.trace.v1.trace_service import (
    ExportTraceServiceRequest as OfficialTraceRequest,
)
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from flowscope import conventions as c
from tests.collector.helpers import GRPC_METHODS, JSON, PROTOBUF, all_spans, official_to_proto
from tests.support.server import RunningServer, start_server

RESOURCE = Resource.create({"service.name": "ranges-svc"})
_KINDS = frozenset(Span.SpanKind.values())
_CODES = frozenset(Status.StatusCode.values())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(tmp_path_factory.mktemp("ranges") / "flowscope.duckdb")
    yield srv
    assert srv.terminate() == 0, srv.log


def _execution(step_attributes: dict[str, Any], root_attributes: dict[str, Any] | None = None) -> list[Any]:
    """A workflow execution recorded by the SDK: a valid root span and one step span."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("ranges.test")
    workflow_id = "wf-" + format(time.time_ns(), "x")
    root = tracer.start_span(
        f"RUN {workflow_id}", kind=SpanKind.SERVER,
        attributes={c.WORKFLOW_ID: workflow_id, c.WORKFLOW_NAME: "ranges", c.WORKFLOW_STATUS: "completed",
                    **(root_attributes or {})},
    )  # fmt: skip
    with trace.use_span(root, end_on_exit=True):
        step = tracer.start_span(
            "Load", attributes={c.WORKFLOW_ID: workflow_id, c.STEP_ID: "load", **step_attributes}
        )
        step.end()
    provider.shutdown()
    return list(memory.get_finished_spans())


def _otlp_json(request: ExportTraceServiceRequest) -> bytes:
    """The OTLP/JSON encoding of `request`: proto3 JSON with hex ids and integer enums."""
    data = json_format.MessageToDict(request, use_integers_for_enums=True)
    for rs in data["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    body = orjson.dumps(data)
    # The official OTLP JSON codec reads it back as the same request: the body is genuine
    # OTLP/JSON. (Its enums are closed: it refuses the unknown kinds proto3 lets through.)
    if all(s.kind in _KINDS and s.status.code in _CODES for s in all_spans(request)):
        assert official_to_proto(OfficialTraceRequest.from_json(body), ExportTraceServiceRequest()) == request
    return body


def _send_http_protobuf(server: RunningServer, request: ExportTraceServiceRequest) -> tuple[int, str]:
    r = httpx.post(
        f"{server.otlp_http}/v1/traces", content=request.SerializeToString(),
        headers={"content-type": PROTOBUF}, timeout=30,
    )  # fmt: skip
    assert r.status_code == 200, r.content
    answer = ExportTraceServiceResponse.FromString(r.content).partial_success
    return answer.rejected_spans, answer.error_message


def _send_http_json(server: RunningServer, request: ExportTraceServiceRequest) -> tuple[int, str]:
    r = httpx.post(
        f"{server.otlp_http}/v1/traces",
        content=_otlp_json(request),
        headers={"content-type": JSON},
        timeout=30,
    )
    assert r.status_code == 200, r.content
    answer = r.json().get("partialSuccess", {})
    return int(answer.get("rejectedSpans", 0)), answer.get("errorMessage", "")


def _send_grpc(server: RunningServer, request: ExportTraceServiceRequest) -> tuple[int, str]:
    with grpc.insecure_channel(server.otlp_grpc) as channel:
        raw = channel.unary_unary(GRPC_METHODS["traces"])(request.SerializeToString(), timeout=30)
    answer = ExportTraceServiceResponse.FromString(raw).partial_success
    return answer.rejected_spans, answer.error_message


TRANSPORTS: dict[str, Callable[[RunningServer, ExportTraceServiceRequest], tuple[int, str]]] = {
    "http-protobuf": _send_http_protobuf,
    "http-json": _send_http_json,
    "grpc": _send_grpc,
}


def _execution_of(server: RunningServer, trace_id: str) -> dict[str, Any]:
    r = server.get(f"/api/workflows/executions/{trace_id}/timeline")
    assert r.status_code == 200, f"the valid root span was not stored: {r.status_code} {r.text}"
    return r.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("retry_count", [2**31, 2**40, -1])
def test_out_of_range_retry_count_rejects_only_its_span(
    server: RunningServer, transport: str, retry_count: int
) -> None:
    spans = _execution({c.STEP_RETRY_COUNT: retry_count, c.STEP_STATUS: "completed"})
    request = encode_spans(spans)
    rejected, message = TRANSPORTS[transport](server, request)
    assert rejected == 1
    assert "span 'Load'" in message and f"{c.STEP_RETRY_COUNT} = {retry_count} is out of range" in message
    assert "0 to 2147483647" in message
    root = next(s for s in spans if s.parent is None)
    timeline = _execution_of(server, format(root.context.trace_id, "032x"))
    assert (timeline["status"], timeline["step_count"]) == ("completed", 0)  # the root alone


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_largest_retry_count_that_fits_is_stored_exactly(server: RunningServer, transport: str) -> None:
    spans = _execution({c.STEP_RETRY_COUNT: 2**31 - 1, c.STEP_STATUS: "completed"})
    assert TRANSPORTS[transport](server, encode_spans(spans)) == (0, "")
    root = next(s for s in spans if s.parent is None)
    timeline = _execution_of(server, format(root.context.trace_id, "032x"))
    assert [s["retry_count"] for s in timeline["step_timeline"]] == [2**31 - 1]


def _patched(request: ExportTraceServiceRequest, name: str, patch: Callable[[Any], None]) -> None:
    patch(next(s for s in all_spans(request) if s.name == name))


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("field", "patch"),
    [
        ("kind = 1000", lambda s: setattr(s, "kind", 1000)),
        ("kind = -3", lambda s: setattr(s, "kind", -3)),
        ("status.code = 256", lambda s: setattr(s.status, "code", 256)),
    ],
)
def test_out_of_range_kind_or_status_code_rejects_only_its_span(
    server: RunningServer, transport: str, field: str, patch: Callable[[Any], None]
) -> None:
    """Enums are open in proto3: any int32 arrives on the wire; the columns hold one byte."""
    spans = _execution({c.STEP_STATUS: "completed"})
    request = encode_spans(spans)
    _patched(request, "Load", patch)
    rejected, message = TRANSPORTS[transport](server, request)
    assert (rejected, f"{field} is out of range" in message) == (1, True), message
    root = next(s for s in spans if s.parent is None)
    assert _execution_of(server, format(root.context.trace_id, "032x"))["step_count"] == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_out_of_range_execution_number_rejects_the_root_span_only(
    server: RunningServer, transport: str
) -> None:
    spans = _execution({c.STEP_STATUS: "completed"}, {c.WORKFLOW_EXECUTION_NUMBER: -5})
    rejected, message = TRANSPORTS[transport](server, encode_spans(spans))
    assert rejected == 1 and f"{c.WORKFLOW_EXECUTION_NUMBER} = -5 is out of range" in message
    root = next(s for s in spans if s.parent is None)
    # The step span was stored, the root span was not: the execution is known only from its step.
    timeline = _execution_of(server, format(root.context.trace_id, "032x"))
    assert (timeline["step_count"], timeline["status"], timeline["execution_number"]) == (1, "running", None)


def test_lifecycle_record_with_out_of_range_execution_number_is_rejected_alone(server: RunningServer) -> None:
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("ranges.test")
    tracer = TracerProvider(resource=RESOURCE).get_tracer("ranges.test")
    contexts = []
    for number in (-1, 7):
        span = tracer.start_span("RUN ranges")  # only its context is used
        contexts.append(span.get_span_context())
        logger.emit(
            timestamp=time.time_ns(), context=trace.set_span_in_context(span),
            severity_number=SeverityNumber.INFO, body="queued", event_name=c.EVENT_EXECUTION_QUEUED,
            attributes={c.WORKFLOW_ID: "wf-records", c.WORKFLOW_EXECUTION_NUMBER: number},
        )  # fmt: skip
    provider.shutdown()
    request: ExportLogsServiceRequest = encode_logs(memory.get_finished_logs())
    r = httpx.post(
        f"{server.otlp_http}/v1/logs", content=request.SerializeToString(),
        headers={"content-type": PROTOBUF}, timeout=30,
    )  # fmt: skip
    assert r.status_code == 200, r.content
    answer = ExportLogsServiceResponse.FromString(r.content).partial_success
    assert answer.rejected_log_records == 1
    assert f"{c.WORKFLOW_EXECUTION_NUMBER} = -1 is out of range" in answer.error_message
    bad, good = (format(ctx.trace_id, "032x") for ctx in contexts)
    assert server.get(f"/api/workflows/executions/{bad}").status_code == 404
    details = server.get(f"/api/workflows/executions/{good}").json()
    assert (details["status"], details["execution_number"]) == ("pending", 7)


def test_digit_like_strings_that_are_no_integers(server: RunningServer) -> None:
    """ "²" passes str.isdigit() but int() refuses it: attribute readers (timeline, live feed)
    answered 500 or dropped events. It is no integer anywhere: stored, not promoted."""
    import asyncio

    from tests.ws.support import Feed, open_feed, ws_url

    attributes = {c.STEP_ORDER: "²", c.STEP_RETRY_COUNT: "³", c.STEP_STATUS: "completed"}
    spans = _execution(attributes, {c.WORKFLOW_EXECUTION_NUMBER: "¹"})
    root = next(s for s in spans if s.parent is None)
    workflow_id = root.attributes[c.WORKFLOW_ID]

    async def live() -> list[str]:
        async with open_feed(ws_url(server.api, f"/ws/workflows/{workflow_id}")) as conn:
            feed = Feed(conn)
            await asyncio.to_thread(TRANSPORTS["http-protobuf"], server, encode_spans(spans))
            return [m["event"] for m in await feed.until("workflow_completed", timeout=20)]

    assert "step_completed" in asyncio.run(live())
    timeline = _execution_of(server, format(root.context.trace_id, "032x"))
    assert [(s["step_id"], s["retry_count"]) for s in timeline["step_timeline"]] == [("load", 0)]
    assert timeline["execution_number"] is None

"""OTLP/gRPC semantics, message size limits, and the workspace every row is stored in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import grpc
import pytest
from flowscope.storage.duckdb.schema import migrate
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.collector.helpers import all_spans, grpc_export, logs_request, open_db, post, rows, spans_request


def test_garbage_bytes_are_invalid_argument(make_server: Any) -> None:
    server = make_server()
    for signal in ("traces", "logs"):
        with pytest.raises(grpc.RpcError) as err:
            grpc_export(server, signal, b"\x0a\xff\xff\xff\xff\x0f not protobuf")
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "not a valid" in err.value.details() and "protobuf" in err.value.details()


def test_metrics_over_grpc_is_unimplemented(make_server: Any) -> None:
    server = make_server()
    with grpc.insecure_channel(server.otlp_grpc) as channel:
        call = channel.unary_unary("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export")
        with pytest.raises(grpc.RpcError) as err:
            call(b"", timeout=10)
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED  # not retryable per OTLP


def test_partial_success_over_grpc(make_server: Any) -> None:
    server = make_server()
    request, ids = spans_request(4)
    all_spans(request)[2].span_id = b"\x01\x02"
    response = ExportTraceServiceResponse.FromString(grpc_export(server, "traces", request))
    assert response.partial_success.rejected_spans == 1
    assert "span_id must be 8 bytes" in response.partial_success.error_message
    logs = logs_request(2)
    logs.resource_logs[0].scope_logs[0].log_records[0].span_id = b"\x01" * 9
    logs_response = ExportLogsServiceResponse.FromString(grpc_export(server, "logs", logs))
    assert logs_response.partial_success.rejected_log_records == 1
    ok = ExportTraceServiceResponse.FromString(grpc_export(server, "traces", spans_request(1)[0]))
    assert not ok.HasField("partial_success")
    assert server.terminate() == 0
    with open_db(server.db) as con:
        stored = {(r["trace_id"], r["span_id"]) for r in rows(con, "SELECT trace_id, span_id FROM spans")}
        assert con.execute("SELECT count(*) FROM logs").fetchone()[0] == 1
    assert stored >= {ids[0], ids[1], ids[3]} and len(stored) == 4


def test_message_size_limit_default_64mib_and_configurable(make_server: Any, tmp_path: Path) -> None:
    request, _ = spans_request(1000)
    for span in all_spans(request):
        span.attributes.add(key="payload", value=AnyValue(string_value="x" * 10_000))
    body = request.SerializeToString()
    assert len(body) > 10_000_000  # well above grpcio's 4 MiB default
    server = make_server()
    response = ExportTraceServiceResponse.FromString(grpc_export(server, "traces", body, timeout=60))
    assert not response.HasField("partial_success")
    assert post(server, "traces", body, timeout=60).status_code == 200  # and over HTTP

    small = make_server("--grpc-max-message-bytes", "1000000", db=tmp_path / "small.duckdb")
    with pytest.raises(grpc.RpcError) as err:
        grpc_export(small, "traces", spans_with_payload(200, 10_000))
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert grpc_export(small, "traces", spans_request(5)[0]) is not None  # small messages still fine


def spans_with_payload(n: int, size: int) -> bytes:
    request, _ = spans_request(n)
    for span in all_spans(request):
        span.attributes.add(key="payload", value=AnyValue(string_value="y" * size))
    return request.SerializeToString()


# --- workspaces -----------------------------------------------------------------------------------------


def _db_with_workspaces(path: Path) -> Path:
    """A database that already has a second workspace (id ws-b, slug team-b)."""
    con = duckdb.connect(str(path))
    migrate(con)
    con.execute("INSERT INTO workspaces (id, slug, name) VALUES ('ws-b', 'team-b', 'Team B')")
    con.close()
    return path


def _sdk_spans(service: str, n: int = 3) -> list[Any]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("ws")
    for i in range(n):
        # An attribute naming a workspace must not choose it.
        with tracer.start_as_current_span(
            f"op{i}", attributes={"workspace.id": "ws-b", "x-workspace-id": "ws-b"}
        ):
            pass
    return list(memory.get_finished_spans())


def test_workspace_comes_from_headers_and_metadata_case_insensitively(
    make_server: Any, tmp_path: Path
) -> None:
    server = make_server(db=_db_with_workspaces(tmp_path / "ws.duckdb"))
    sent: dict[str, str] = {}  # service name -> expected workspace

    def export(exporter: Any, service: str, workspace: str) -> None:
        assert exporter.export(_sdk_spans(service)) == SpanExportResult.SUCCESS
        sent[service] = workspace

    # HTTP headers, any case.
    export(
        HttpSpanExporter(endpoint=f"{server.otlp_http}/v1/traces", headers={"X-Workspace-Id": "ws-b"}),
        "http-id",
        "ws-b",
    )
    export(
        HttpSpanExporter(endpoint=f"{server.otlp_http}/v1/traces", headers={"X-WORKSPACE-SLUG": "team-b"}),
        "http-slug",
        "ws-b",
    )
    export(HttpSpanExporter(endpoint=f"{server.otlp_http}/v1/traces"), "http-none", "default")
    # gRPC metadata (HTTP/2 sends header names in lower case; the exporter's header string, as
    # OTEL_EXPORTER_OTLP_HEADERS would give it, is written in mixed case).
    export(
        GrpcSpanExporter(endpoint=server.otlp_grpc, insecure=True, headers="X-Workspace-Slug=team-b"),
        "grpc-slug",
        "ws-b",
    )
    export(
        GrpcSpanExporter(endpoint=server.otlp_grpc, insecure=True, headers={"x-workspace-id": "ws-b"}),
        "grpc-id",
        "ws-b",
    )
    export(GrpcSpanExporter(endpoint=server.otlp_grpc, insecure=True), "grpc-none", "default")
    # Raw requests: logs carry their workspace too.
    response = post(server, "logs", logs_request(2, service="logs-b"), headers={"x-WORKSPACE-id": "ws-b"})
    assert response.status_code == 200
    grpc_export(server, "logs", logs_request(1, service="logs-b"), metadata=(("x-workspace-slug", "team-b"),))

    # Unknown workspaces are refused, with a message, on both transports; nothing is stored.
    unknown = post(
        server, "traces", spans_request(1, service="nowhere")[0], headers={"X-Workspace-Slug": "nope"}
    )
    assert unknown.status_code == 400
    assert "unknown workspace" in unknown.content.decode(errors="replace")
    with pytest.raises(grpc.RpcError) as err:
        grpc_export(
            server, "traces", spans_request(1, service="nowhere")[0], metadata=(("x-workspace-id", "nope"),)
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "unknown workspace" in err.value.details()
    assert server.terminate() == 0

    with open_db(server.db) as con:
        by_service = {
            r["service_name"]: set(r["workspaces"])
            for r in rows(
                con, "SELECT service_name, list(DISTINCT workspace_id) AS workspaces FROM spans GROUP BY 1"
            )
        }
        log_workspaces = {r[0] for r in con.execute("SELECT DISTINCT workspace_id FROM logs").fetchall()}
        assert con.execute("SELECT count(*) FROM logs").fetchone()[0] == 3
    assert by_service == {service: {workspace} for service, workspace in sent.items()}
    assert log_workspaces == {"ws-b"}


def test_the_same_span_in_two_workspaces_is_two_rows(make_server: Any, tmp_path: Path) -> None:
    """Dedupe is per workspace: identical ids sent to different workspaces are different data."""
    server = make_server(db=_db_with_workspaces(tmp_path / "ws2.duckdb"))
    request, _ = spans_request(3)
    assert post(server, "traces", request).status_code == 200
    assert post(server, "traces", request, headers={"X-Workspace-Id": "ws-b"}).status_code == 200
    assert post(server, "traces", request, headers={"X-Workspace-Id": "ws-b"}).status_code == 200
    assert server.terminate() == 0
    with open_db(server.db) as con:
        counts = dict(con.execute("SELECT workspace_id, count(*) FROM spans GROUP BY 1").fetchall())
    assert counts == {"default": 3, "ws-b": 3}

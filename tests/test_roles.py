"""`flowscope serve --role all|ingest|query` (issue 14): each node serves only its part.

- ingest: OTLP from the real SDK exporters (HTTP and gRPC) is committed; the API port answers
  /healthz, /readyz, /metrics, and 404 naming the role for everything else (REST, Jaeger,
  WebSockets, the UI).
- query: no OTLP port a client can reach (the given ones are not bound; the engine's own
  receiver is on loopback and refuses anyone without the engine's credential); REST,
  WebSockets and execute work, and the executed run's telemetry is read back from it.
- combinations that cannot work stop `serve` with one line and status 2.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from flowscope.api.not_served import part
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from websockets.exceptions import InvalidStatus

from tests.api.client import Api
from tests.api.workflows import SEQUENCE
from tests.collector.helpers import GRPC_METHODS, metric, open_db, spans_request, wait_for
from tests.support.server import RunningServer, start_server
from tests.ws.support import Feed, open_feed, ws_url

ROLE_MESSAGE = "this node serves --role ingest"


def _sdk_spans(service: str, n: int) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    for i in range(n):
        with provider.get_tracer("roles").start_as_current_span(f"op{i}"):
            pass
    return list(memory.get_finished_spans())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(5)
        return sock.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED


def _listening(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket process `pid` listens on (Linux /proc)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table, width in (("tcp", 8), ("tcp6", 32)):
        with open(f"/proc/net/{table}") as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and inode in inodes:  # 0A: LISTEN
                    address, port = local.split(":")
                    raw = bytes.fromhex(address)
                    # /proc prints each 32-bit word of the address in host (little-endian) order.
                    words = b"".join(raw[i : i + 4][::-1] for i in range(0, width // 2, 4))
                    family = socket.AF_INET if width == 8 else socket.AF_INET6
                    found.add((socket.inet_ntop(family, words), int(port, 16)))
    return found


def _loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None  # gRPC's ::ffff:127.0.0.1
    return (mapped or ip).is_loopback


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@pytest.fixture
def ingest_node(tmp_path: Path) -> Iterator[RunningServer]:
    srv = start_server(tmp_path / "flowscope.duckdb", "--role", "ingest")
    yield srv
    srv.terminate()


def test_ingest_node_stores_sdk_exports_and_serves_only_health_and_metrics(
    ingest_node: RunningServer, tmp_path: Path
) -> None:
    srv = ingest_node
    assert "role=ingest" in srv.log
    http = HttpSpanExporter(endpoint=f"{srv.otlp_http}/v1/traces")
    assert http.export(_sdk_spans("over-http", 3)) == SpanExportResult.SUCCESS
    grpc_exporter = GrpcSpanExporter(endpoint=srv.otlp_grpc, insecure=True)
    assert grpc_exporter.export(_sdk_spans("over-grpc", 2)) == SpanExportResult.SUCCESS

    # What operators need of an ingest node.
    assert srv.get("/healthz").json() == {"status": "ok"}
    assert srv.get("/readyz").json() == {"status": "ready"}
    for service, count in (("over-http", 3), ("over-grpc", 2)):
        wait_for(
            lambda s=service, n=count: metric(srv, "traces_span_metrics_calls_total", service_name=s) == n,
            what=f"span metrics of {service}",
        )

    # Nothing of the query side, each in its clients' error shape, naming the role.
    rest = srv.get("/api/workflows")
    assert rest.status_code == 404
    assert rest.json()["detail"].startswith(f"{ROLE_MESSAGE}: no REST API here")
    jaeger = srv.get("/api/services")
    assert jaeger.status_code == 404
    assert jaeger.json()["errors"][0]["msg"].startswith(f"{ROLE_MESSAGE}: no Jaeger query API")
    v3 = srv.get("/api/v3/traces/0af7651916cd43dd8448eb211c80319c")
    assert v3.status_code == 404 and ROLE_MESSAGE in v3.json()["error"]["message"]
    for path in ("/", "/workflows/x", "/docs", "/openapi.json", "/api/grafana/executions"):
        answer = srv.get(path)
        assert answer.status_code == 404 and ROLE_MESSAGE in answer.json()["detail"], (path, answer.text)
    executing = srv.post("/api/workflows/wf_x/execute", json={})
    assert executing.status_code == 404 and ROLE_MESSAGE in executing.text

    async def feed() -> InvalidStatus:
        with pytest.raises(InvalidStatus) as refused:
            async with open_feed(ws_url(srv.api, "/ws/workflows/wf_x")):
                pass
        return refused.value

    refusal = asyncio.run(feed())
    assert refusal.response.status_code == 404
    assert b"--role ingest: no WebSocket feeds" in refusal.response.body

    assert srv.terminate() == 0
    with open_db(srv.db) as con:
        stored = dict(con.execute("SELECT service_name, count(*) FROM spans GROUP BY 1").fetchall())
    assert stored == {"over-http": 3, "over-grpc": 2}
    assert not (tmp_path / "flowscope.duckdb.sandbox").exists()  # no engine: nothing prepared for it


@pytest.fixture
def query_node(tmp_path: Path) -> Iterator[tuple[RunningServer, int, int]]:
    http_port, grpc_port = _free_port(), _free_port()
    srv = start_server(
        tmp_path / "flowscope.duckdb", "--role", "query",
        "--otlp-http-port", str(http_port), "--otlp-grpc-port", str(grpc_port),
    )  # fmt: skip
    yield srv, http_port, grpc_port
    srv.terminate()


def test_query_node_binds_no_client_otlp_port_and_runs_and_reads_executions(
    query_node: tuple[RunningServer, int, int],
) -> None:
    srv, http_port, grpc_port = query_node
    assert srv.otlp_http == "none" and srv.otlp_grpc == "none" and "role=query" in srv.log
    assert (
        "--role query binds no OTLP receiver: --otlp-http-port (FLOWSCOPE_OTLP_HTTP_PORT), "
        "--otlp-grpc-port (FLOWSCOPE_OTLP_GRPC_PORT) ignored"
    ) in srv.log
    for port in (http_port, grpc_port):
        assert _refused(port), port

    # The only other listeners are the engine's receivers, on loopback, refusing everyone else.
    api_port = _port(srv.api)
    private = {(a, p) for a, p in _listening(srv.process.pid) if p != api_port}
    assert private and all(_loopback(address) for address, _ in private), private
    http_refusals, grpc_refusals = [], []
    for _, port in private:
        try:
            answer = httpx.post(f"http://127.0.0.1:{port}/v1/traces", json={}, timeout=5)
            http_refusals.append((answer.status_code, answer.text))
        except httpx.HTTPError:
            pass  # the gRPC one: HTTP/2 only
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                call = channel.unary_unary(GRPC_METHODS["traces"])
                call(spans_request(1)[0].SerializeToString(), timeout=5)
        except grpc.RpcError as exc:
            grpc_refusals.append((exc.code(), exc.details()))
    assert any(s == 401 and "--role query" in t for s, t in http_refusals), http_refusals
    assert any(
        c == grpc.StatusCode.UNAUTHENTICATED and "--role query" in (d or "") for c, d in grpc_refusals
    ), grpc_refusals

    # The query side works, and the engine's telemetry of a run is stored and read back here.
    created = srv.post("/api/workflows", json={"definition": SEQUENCE})
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]

    async def run() -> tuple[str, list[dict[str, Any]]]:
        async with open_feed(ws_url(srv.api, f"/ws/workflows/{workflow_id}")) as conn:
            started = await asyncio.to_thread(srv.post, f"/api/workflows/{workflow_id}/execute", json={})
            assert started.status_code == 202, started.text
            events = await Feed(conn).until("workflow_completed", timeout=30)
            return started.json()["id"], events

    execution_id, events = asyncio.run(run())
    assert events[0]["event"] == "workflow_started"
    assert {e["data"].get("step_id") for e in events if e["event"] == "step_completed"} == {
        "initialize", "process", "finalize",
    }  # fmt: skip
    timeline = srv.get(f"/api/workflows/executions/{execution_id}/timeline")
    assert timeline.status_code == 200, timeline.text
    body = timeline.json()
    assert body["status"] == "completed"
    assert [(s["step_id"], s["status"]) for s in body["step_timeline"]] == [
        ("initialize", "completed"), ("process", "completed"), ("finalize", "completed"),
    ]  # fmt: skip
    assert all(s["started_at"] and s["completed_at"] for s in body["step_timeline"])


def test_query_node_engine_over_grpc_with_tokens_on(tmp_path: Path) -> None:
    """The engine's own receiver on gRPC, with --auth token: its credential passes there."""
    db = tmp_path / "flowscope.duckdb"
    made = subprocess.run(
        [sys.executable, "-m", "flowscope", "token", "create", "--workspace", "default", "--role", "admin",
         "--db", str(db)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    srv = start_server(db, "--role", "query", "--auth", "token", "--engine-protocol", "grpc")
    try:
        api = Api(srv.api, {"Authorization": f"Bearer {made.stdout.strip()}"})
        workflow = api.create_workflow(SEQUENCE)
        execution = api.wait(api.execute(workflow["id"])["id"])
        assert execution["status"] == "completed", execution
        timeline = api.ok(api.get(f"/api/workflows/executions/{execution['id']}/timeline"))
        assert {s["status"] for s in timeline["step_timeline"]} == {"completed"}
        assert len(timeline["step_timeline"]) == 3
    finally:
        srv.terminate()


def test_query_node_exporting_elsewhere_listens_on_the_api_port_only(tmp_path: Path) -> None:
    srv = start_server(
        tmp_path / "flowscope.duckdb", "--role", "query",
        "--engine-endpoint", f"http://127.0.0.1:{_free_port()}",
    )  # fmt: skip
    try:
        assert _listening(srv.process.pid) == {("127.0.0.1", _port(srv.api))}
        assert srv.get("/readyz").json() == {"status": "ready"}
    finally:
        srv.terminate()


def _serve(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowscope", "serve", "--api-port", "0", "--db", "f.duckdb", *args],
        cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=90,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (("--role", "ingest", "--demo"), {}, "--demo (FLOWSCOPE_DEMO) runs the example workflows on the "
         "engine, which a --role ingest node does not run"),
        ((), {"FLOWSCOPE_ROLE": "ingest", "FLOWSCOPE_DEMO": "true"}, "--role ingest node does not run"),
        (("--role", "reader"), {}, "--role: invalid value 'reader': Input should be 'all', 'ingest' or"),
    ],
    ids=["demo-flag", "demo-environment", "unknown-role"],
)  # fmt: skip
def test_invalid_role_settings_stop_serve_with_one_line(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], says: str
) -> None:
    done = _serve(tmp_path, *args, env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()] and "Traceback" not in done.stderr
    assert done.stderr.startswith("flowscope: ") and says in done.stderr, done.stderr
    assert not (tmp_path / "f.duckdb").exists()  # nothing was opened


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/api/workflows", "REST API"), ("/api/workflows/executions/x/timeline", "REST API"),
        ("/api/services", "Jaeger query API"), ("/api/metrics/latencies", "Jaeger query API"),
        ("/api/v3/traces", "Jaeger query API"), ("/api/grafana/executions", "Grafana tables"),
        ("/ws/workflows/wf", "WebSocket feeds"), ("/docs", "API docs"), ("/openapi.json", "API docs"),
        ("/", "web UI"), ("/executions/e/steps/s", "web UI"), ("/ui/assets/app.js", "web UI"),
    ],
)  # fmt: skip
def test_the_404_names_the_part_an_ingest_node_does_not_serve(path: str, named: str) -> None:
    assert part(path) == named

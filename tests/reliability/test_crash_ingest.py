"""SIGKILL the server at random moments during sustained ingest, 20 cycles over HTTP and
gRPC: every request answered success is in the database afterwards, the file opens
cleanly every time, and no span is stored twice (acknowledged batches are resent after
each restart, as exporters retrying would)."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import duckdb
import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from tests.support.otlp import trace_request
from tests.support.server import start_server

CYCLES = 20
SPANS_PER_REQUEST = 200


def _send_http(url: str, body: bytes, client: httpx.Client) -> bool:
    try:
        r = client.post(url, content=body, headers={"content-type": "application/x-protobuf"}, timeout=10)
    except httpx.HTTPError:
        return False
    return r.status_code == 200


def _send_grpc(stub: trace_service_pb2_grpc.TraceServiceStub, request: object) -> bool:
    try:
        stub.Export(request, timeout=10)
    except grpc.RpcError:
        return False
    return True


# 20 kill/restart cycles: about a minute, over two on a loaded machine (the default is 120 s).
@pytest.mark.timeout(360)
def test_sigkill_during_ingest_loses_nothing_acknowledged(tmp_path: Path) -> None:
    db = tmp_path / "crash.duckdb"
    rng = random.Random(7)
    acked: set[tuple[str, str]] = set()
    acked_requests: list[bytes] = []
    attempted = 0
    for cycle in range(CYCLES):
        server = start_server(db)  # opening the file again after a SIGKILL must work every time
        transport = "http" if cycle % 2 == 0 else "grpc"
        stop = threading.Event()
        cycle_acked: list[tuple[bytes, list[tuple[str, str]]]] = []

        def client(server=server, transport=transport, stop=stop, cycle_acked=cycle_acked) -> None:
            nonlocal attempted
            http = httpx.Client()
            channel = grpc.insecure_channel(server.otlp_grpc)
            stub = trace_service_pb2_grpc.TraceServiceStub(channel)
            # Exporter-style retries of what earlier incarnations acknowledged: must not duplicate.
            for body in acked_requests[-3:]:
                _send_http(server.otlp_http + "/v1/traces", body, http)
            while not stop.is_set():
                request, ids = trace_request(SPANS_PER_REQUEST)
                body = request.SerializeToString()
                attempted += 1
                ok = (
                    _send_http(server.otlp_http + "/v1/traces", body, http)
                    if transport == "http"
                    else _send_grpc(stub, request)
                )
                if ok:
                    cycle_acked.append((body, ids))
            http.close()
            channel.close()

        worker = threading.Thread(target=client)
        worker.start()
        time.sleep(rng.uniform(0.3, 1.2))
        server.kill()
        stop.set()
        worker.join(30)
        for body, ids in cycle_acked:
            acked_requests.append(body)
            acked.update(ids)

    assert attempted > CYCLES, "the clients never got to send"
    assert len(acked) > 0, "no request was ever acknowledged"
    con = duckdb.connect(str(db))
    stored = set(con.execute("SELECT trace_id, span_id FROM spans").fetchall())
    total, distinct = con.execute(
        "SELECT count(*), count(DISTINCT (workspace_id, trace_id, span_id)) FROM spans"
    ).fetchone()
    con.close()
    missing = acked - stored
    assert not missing, f"{len(missing)} acknowledged spans lost (of {len(acked)})"
    assert total == distinct, f"{total - distinct} spans stored twice"

"""SIGTERM ends within the shutdown timeout whatever the clients do (issue 15, finding 8).

A stalled OTLP/HTTP body kept the process alive until the client gave up. Now requests
still in flight when the timeout expires are cut, unacknowledged (OTLP/HTTP answers 503,
which exporters retry), and everything acknowledged before is committed.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import grpc
import httpx

from tests.collector.helpers import GRPC_METHODS, PROTOBUF, open_db, rows, spans_request
from tests.support.rawsock import connect, get, read_until_closed, status_of

SHUTDOWN_TIMEOUT = 2.0
MARGIN = 8.0  # interpreter exit and the final commit, on a loaded machine


def test_stalled_clients_do_not_hold_sigterm_past_the_shutdown_timeout(make_server: Any) -> None:
    server = make_server(
        env={
            "FLOWSCOPE_SHUTDOWN_TIMEOUT_SECONDS": str(SHUTDOWN_TIMEOUT),
            # the clients' own deadlines must not be what ends them
            "FLOWSCOPE_HEADER_TIMEOUT_SECONDS": "300",
            "FLOWSCOPE_BODY_TIMEOUT_SECONDS": "300",
            "FLOWSCOPE_IDLE_TIMEOUT_SECONDS": "300",
        }
    )
    acknowledged, ids = spans_request(20)
    response = httpx.post(
        f"{server.otlp_http}/v1/traces",
        content=acknowledged.SerializeToString(),
        headers={"Content-Type": PROTOBUF},
        timeout=30,
    )
    assert response.status_code == 200

    stalled_otlp = connect(server.otlp_http)
    head = f"POST /v1/traces HTTP/1.1\r\nHost: t\r\nContent-Type: {PROTOBUF}\r\nContent-Length: 1000\r\n\r\n"
    stalled_otlp.sendall(head.encode() + b"\x0a\x05")
    stalled_api = connect(server.api)
    stalled_api.sendall(b"POST /api/projects HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{")
    half_head = connect(server.api)
    half_head.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
    silent = connect(server.otlp_http)

    release = threading.Event()
    grpc_outcome: list[grpc.StatusCode] = []

    def never() -> Iterator[bytes]:
        release.wait(60)
        yield from ()

    def stalled_grpc() -> None:
        with grpc.insecure_channel(server.otlp_grpc) as channel:
            try:
                channel.stream_unary(GRPC_METHODS["traces"])(never(), timeout=60)
            except grpc.RpcError as exc:
                grpc_outcome.append(exc.code())

    grpc_thread = threading.Thread(target=stalled_grpc)
    grpc_thread.start()
    # The stalled requests are in progress once the server has answered a later request on
    # the same event loop (it handles ready sockets in order).
    with connect(server.api) as probe:
        assert status_of(get(probe, "/healthz")) == 200

    try:
        sent = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(SHUTDOWN_TIMEOUT + MARGIN) == 0
        took = time.monotonic() - sent
        assert "flowscope stopped" in server.log

        # the cut OTLP request was not acknowledged: the exporter is told to retry
        answer, _ = read_until_closed(stalled_otlp, 5)
        assert status_of(answer) == 503 and b"retry" in answer.lower(), answer[:300]
        for sock in (stalled_api, half_head, silent):
            read_until_closed(sock, 5)
    finally:
        release.set()
        grpc_thread.join(30)
        for sock in (stalled_otlp, stalled_api, half_head, silent):
            sock.close()
    assert took < SHUTDOWN_TIMEOUT + MARGIN
    assert grpc_outcome and grpc_outcome[0] != grpc.StatusCode.OK
    with open_db(server.db) as con:
        stored = {(r["trace_id"], r["span_id"]) for r in rows(con, "SELECT trace_id, span_id FROM spans")}
    assert set(ids) <= stored

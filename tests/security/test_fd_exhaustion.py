"""1,100 idle connections per port under a 1,024 open files limit (issue 15, finding 7).

Before, they exhausted the descriptors (EMFILE): /healthz, REST and ingest all timed out.
Now each listener holds at most what the limit allows, and new connections make room
by closing the longest-idle ones.
"""

from __future__ import annotations

import os
import resource
import socket
from pathlib import Path

import grpc
import httpx
import pytest

from tests.collector.helpers import GRPC_METHODS, PROTOBUF, open_db, rows
from tests.support.otlp import trace_request
from tests.support.rawsock import connect
from tests.support.server import start_server

OPEN_FILES = 1024
IDLE_PER_PORT = 1100


def _limit_open_files() -> None:  # in the server's process, before exec
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))


def _room_for_the_clients() -> None:
    """This process opens the idle sockets: make sure its own limit holds them."""
    need = 3 * IDLE_PER_PORT + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip(f"the test process may open only {hard} files; it needs {need}")
    if soft != resource.RLIM_INFINITY and soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def test_idle_connections_beyond_the_descriptor_limit_stop_neither_healthz_nor_ingest(tmp_path: Path) -> None:
    _room_for_the_clients()
    server = start_server(tmp_path / "flowscope.duckdb", preexec_fn=_limit_open_files)
    idle: list[socket.socket] = []
    try:
        with grpc.insecure_channel(server.otlp_grpc) as channel:
            export = channel.unary_unary(GRPC_METHODS["traces"])
            export(trace_request(1)[0].SerializeToString(), timeout=30)  # connected before the flood

            for url in (server.api, server.otlp_http, server.otlp_grpc):
                idle += [connect(url) for _ in range(IDLE_PER_PORT)]

            assert httpx.get(f"{server.api}/healthz", timeout=10).status_code == 200
            assert httpx.get(f"{server.api}/api/workflows", timeout=10).status_code == 200
            request, ids = trace_request(5)
            posted = httpx.post(
                f"{server.otlp_http}/v1/traces",
                content=request.SerializeToString(),
                headers={"Content-Type": PROTOBUF},
                timeout=10,
            )
            assert posted.status_code == 200, posted.text
            grpc_request, grpc_ids = trace_request(5)
            export(grpc_request.SerializeToString(), timeout=10)

            open_now = len(os.listdir(f"/proc/{server.process.pid}/fd"))
            assert open_now < OPEN_FILES, f"{open_now} descriptors open"
    finally:
        for sock in idle:
            sock.close()
        assert server.terminate() == 0
    assert "Too many open files" not in server.log and "out of system resource" not in server.log
    # (1024 - 452 reserved) // 3 listeners; the reserve: flowscope/limits.py FD_RESERVE.
    assert f"open files limit {OPEN_FILES} allows 190 connections per listener" in server.log
    with open_db(server.db) as con:
        stored = {(r["trace_id"], r["span_id"]) for r in rows(con, "SELECT trace_id, span_id FROM spans")}
    assert set(ids) | set(grpc_ids) <= stored

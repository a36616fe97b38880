"""Disk full while the server runs, simulated by lowering the server process's RLIMIT_FSIZE
(Python ignores SIGXFSZ, so DuckDB's writes fail with EFBIG "File too large"):

- the WAL cannot grow: every ingest path answers 503 / UNAVAILABLE with a message naming the
  cause and a retry delay, reads keep working, and once the limit is raised the refused
  requests are accepted when resent;
- a checkpoint cannot grow the database file: DuckDB reports the commit as durable but
  invalidates its instance, so the writer must reopen the file or every later request
  (and every read) would fail until a restart.

Afterwards every acknowledged span is in the file exactly once.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

import grpc
import httpx
from google.rpc import status_pb2

from tests.api.client import Api
from tests.api.workflows import SEQUENCE
from tests.collector.helpers import wait_for
from tests.reliability.support import (
    GRPC_LOGS,
    file_sizes,
    grpc_export,
    padded_request,
    post_traces,
    stored_spans,
)
from tests.support.otlp import logs_request
from tests.support.server import RunningServer, start_server


def _limit_file_size(server: RunningServer, size: int | None) -> None:
    soft = resource.RLIM_INFINITY if size is None else size
    resource.prlimit(server.process.pid, resource.RLIMIT_FSIZE, (soft, resource.RLIM_INFINITY))


def _read_api(server: RunningServer) -> int:
    return httpx.get(f"{server.api}/api/workflows", timeout=30).status_code


def test_wal_cannot_grow_ingest_answers_503_then_resumes(tmp_path: Path) -> None:
    server = start_server(tmp_path / "full.duckdb")
    acked: set[tuple[str, str]] = set()
    try:
        for i in range(6):
            request, ids = padded_request(200)
            if i % 2:
                assert grpc_export(server.otlp_grpc, request.SerializeToString()) is None
            else:
                assert post_traces(server.otlp_http, request.SerializeToString()).status_code == 200
            acked.update(ids)

        sizes = file_sizes(server.db)
        _limit_file_size(server, max(sizes.values()) + 64 * 1024)
        refused: list[tuple[bytes, list[tuple[str, str]]]] = []
        http_messages: set[str] = set()
        for _ in range(4):
            request, ids = padded_request(200)  # ~130 KB each: over the 64 KB left
            body = request.SerializeToString()
            response = post_traces(server.otlp_http, body)
            assert response.status_code == 503, response.status_code
            assert response.headers["retry-after"].isdigit()
            http_messages.add(status_pb2.Status.FromString(response.content).message)
            refused.append((body, ids))
            err = grpc_export(server.otlp_grpc, body)
            assert err is not None and err.code() == grpc.StatusCode.UNAVAILABLE, err
            assert "storage unavailable" in (err.details() or "")
            refused.append((body, ids))
        big_logs = logs_request(3000).SerializeToString()
        log_response = httpx.post(
            f"{server.otlp_http}/v1/logs", content=big_logs,
            headers={"content-type": "application/x-protobuf"}, timeout=30,
        )  # fmt: skip
        assert log_response.status_code == 503
        err = grpc_export(server.otlp_grpc, big_logs, GRPC_LOGS)
        assert err is not None and err.code() == grpc.StatusCode.UNAVAILABLE
        assert all("storage unavailable" in m and "File too large" in m for m in http_messages), http_messages
        assert _read_api(server) == 200, "reads must keep working while writes fail"

        _limit_file_size(server, None)  # space is back
        for body, ids in refused:  # what exporters retrying would send
            assert post_traces(server.otlp_http, body).status_code == 200
            acked.update(ids)
        request, ids = padded_request(200)
        assert grpc_export(server.otlp_grpc, request.SerializeToString()) is None
        acked.update(ids)
        assert _read_api(server) == 200
        assert server.terminate() == 0
    finally:
        server.kill()
    stored, rows = stored_spans(server.db)
    assert not acked - stored, f"{len(acked - stored)} acknowledged spans lost"
    assert rows == len(stored) == len(acked), (rows, len(stored), len(acked))
    print(
        f"\n[disk-full/wal] limit at {max(sizes.values()) + 65536} bytes: {len(refused)} trace requests "
        f"+ 2 log requests refused 503/UNAVAILABLE; {len(acked)} spans acknowledged, all stored once; "
        f"message: {sorted(http_messages)[0]!r}"
    )


def test_failed_checkpoint_invalidates_duckdb_and_the_writer_reopens_the_file(tmp_path: Path) -> None:
    # A 1 MB checkpoint threshold: the WAL stays small while each checkpoint grows the file.
    server = start_server(tmp_path / "ckpt.duckdb", env={"FLOWSCOPE_CHECKPOINT_THRESHOLD": "1MB"})
    acked: set[tuple[str, str]] = set()
    statuses: list[int] = []
    reads: list[int] = []
    try:
        while file_sizes(server.db).get(server.db.name, 0) < 3_000_000:
            request, ids = padded_request(200)
            assert post_traces(server.otlp_http, request.SerializeToString()).status_code == 200
            acked.update(ids)
        _limit_file_size(server, max(file_sizes(server.db).values()) + 2_000_000)
        refused: list[tuple[bytes, list[tuple[str, str]]]] = []
        for _ in range(60):
            request, ids = padded_request(200)
            body = request.SerializeToString()
            response = post_traces(server.otlp_http, body)
            statuses.append(response.status_code)
            if response.status_code == 200:
                acked.update(ids)
            else:
                refused.append((body, ids))
            reads.append(_read_api(server))
            if response.status_code == 503:
                break
        assert "autocheckpoint failed" in server.log, "the checkpoint never failed: the test proved nothing"
        assert set(statuses) <= {200, 503}, statuses
        assert set(reads) <= {200, 503}, f"reads failed while the file was being reopened: {reads}"

        _limit_file_size(server, None)
        for body, ids in refused:
            assert post_traces(server.otlp_http, body).status_code == 200
            acked.update(ids)
        deadline = time.monotonic() + 10
        while _read_api(server) != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        for _ in range(5):
            request, ids = padded_request(200)
            assert post_traces(server.otlp_http, request.SerializeToString()).status_code == 200
            acked.update(ids)
        assert _read_api(server) == 200
        assert httpx.get(f"{server.api}/readyz", timeout=10).status_code == 200
        assert server.terminate() == 0
    finally:
        server.kill()
    stored, rows = stored_spans(server.db)
    assert not acked - stored, f"{len(acked - stored)} acknowledged spans lost"
    assert rows == len(stored), f"{rows - len(stored)} spans stored twice"
    reopens = server.log.count("database reopened")
    print(
        f"\n[disk-full/checkpoint] {len(statuses)} requests under the limit: "
        f"{statuses.count(200)} acknowledged (durable in the WAL), {statuses.count(503)} refused; "
        f"{reopens} reopen(s) after an invalidating checkpoint failure; reads meanwhile: "
        f"{reads.count(200)}x200 {reads.count(503)}x503; {len(acked)} spans acknowledged, all stored once"
    )


def test_an_acknowledged_trigger_the_disk_refused_is_committed_once_space_is_back(tmp_path: Path) -> None:
    """Execute answers 202 once its trigger is journaled; the commit after it can still fail.
    The API then submits it again until the store takes it, so the execution is readable with
    its number without a restart (the engine's exported copy may never come: an exporter gives
    up after its timeout), and stored once."""
    server = start_server(tmp_path / "triggers.duckdb")
    try:
        api = Api(server.api)
        wf = api.create_workflow(SEQUENCE)["id"]
        assert api.execute(wf)["execution_number"] == 1
        for _ in range(2):  # a WAL far larger than the trigger journal, so the limit spares that
            request, _ids = padded_request(200)
            assert post_traces(server.otlp_http, request.SerializeToString()).status_code == 200
        wal = server.db.with_name(server.db.name + ".wal")
        _limit_file_size(server, wal.stat().st_size + 1024)
        second = api.execute(wf, {"mode": os.urandom(4096).hex()})  # a commit of > 8 KB
        assert second["execution_number"] == 2
        wait_for(lambda: "acknowledged triggers not committed" in server.log,
                 what="the trigger's commit refused", timeout=30)  # fmt: skip
        _limit_file_size(server, None)
        wait_for(lambda: "acknowledged triggers committed on try" in server.log,
                 what="the trigger committed by a later try", timeout=30)  # fmt: skip
        page = api.wait_until(
            f"/api/workflows/{wf}/executions?limit=10",
            lambda p: p["total"] == 2 and all(e["execution_number"] is not None for e in p["items"]),
        )
        assert sorted(e["execution_number"] for e in page["items"]) == [1, 2]
        assert second["id"] in {e["id"] for e in page["items"]}
        assert server.terminate() == 0
    finally:
        server.kill()

"""SIGTERM ends a lake node within its bound even while PostgreSQL answers nothing (frozen with
SIGSTOP: libpq waits without bound, and the threads waiting in it would hold the drain and the
interpreter's exit forever), and nothing it acknowledged is lost (flowscope/server.py
`_exit_if_stuck`). Real PostgreSQL, a real `serve`, the real OTel SDK exporter."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx
from flowscope.storage.ducklake.store import ANSWER_DEADLINE_SECONDS
from opentelemetry.sdk.trace.export import SpanExportResult

from flowscope.server import STUCK_EXIT_STATUS
from tests.collector.helpers import PROTOBUF, spans_request
from tests.storage.test_lake_failures import (
    STEPS,
    _check_whole,
    _execution_ids,
    _exporter,
    _workflow_spans,
    own_postgres,  # noqa: F401  (the fixture)
)
from tests.support.postgres import Postgres
from tests.support.server import start_server

SHUTDOWN_SECONDS = 2.0
SLACK_SECONDS = 15.0  # a loaded machine


def test_sigterm_ends_a_node_whose_postgres_does_not_answer_and_loses_nothing_acknowledged(
    own_postgres: Postgres,  # noqa: F811
    tmp_path: Path,
) -> None:
    pg = own_postgres
    args = (
        "--store", "ducklake:postgres:" + pg.create_database("shutdown_frozen"),
        "--data-path", str(tmp_path / "data"),
    )  # fmt: skip
    server = start_server(tmp_path / "node", *args, "--shutdown-timeout-seconds", str(SHUTDOWN_SECONDS))
    try:
        acked_spans = _workflow_spans()
        assert _exporter(server).export(acked_spans) == SpanExportResult.SUCCESS
        (acked,) = _execution_ids(acked_spans)
        pg.freeze()
        # A read and a commit stuck in libpq: each is answered 503 at the store's deadline,
        # while its thread goes on waiting for PostgreSQL.
        read = server.get(f"/api/workflows/executions/{acked}")
        assert read.status_code == 503, read.text
        request, _ = spans_request(STEPS + 1)
        export = httpx.post(
            f"{server.otlp_http}/v1/traces", content=request.SerializeToString(),
            headers={"Content-Type": PROTOBUF}, timeout=60,
        )  # fmt: skip
        assert export.status_code == 503, export.text
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        bound = SHUTDOWN_SECONDS + ANSWER_DEADLINE_SECONDS
        try:
            status = server.process.wait(bound + SLACK_SECONDS)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"no exit within {bound + SLACK_SECONDS:g} s of SIGTERM") from None
        assert time.monotonic() - started >= SHUTDOWN_SECONDS  # it drained first
        assert status == STUCK_EXIT_STATUS
        assert "stopped without closing the store" in server.log
    finally:
        pg.thaw()
        server.kill()
    again = start_server(tmp_path / "node", *args)  # the same node started again
    try:
        _check_whole(again, acked)
    finally:
        assert again.terminate() == 0

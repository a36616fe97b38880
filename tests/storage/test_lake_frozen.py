"""A lake node whose PostgreSQL is down, or answers nothing (frozen with SIGSTOP: libpq waits
without bound, and DuckDB cannot interrupt it): SIGTERM still ends the node within its bound,
losing nothing acknowledged (flowscope/server.py `_exit_if_stuck`), and live feeds are refused
as "retry later" within the store's answer deadline instead of hanging (api/ws/router.py).
Real PostgreSQL, real `serve`, the real OTel SDK exporter, a real WebSocket client."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

import httpx
import orjson
from flowscope.storage.ducklake.store import ANSWER_DEADLINE_SECONDS
from opentelemetry.sdk.trace.export import SpanExportResult
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from flowscope.server import STUCK_EXIT_STATUS
from tests.collector.helpers import PROTOBUF, spans_request
from tests.storage.test_lake_failures import (
    STEPS,
    WORKFLOW_ID,
    _check_whole,
    _execution_ids,
    _exporter,
    _workflow_spans,
    own_postgres,  # noqa: F401  (the fixture)
)
from tests.support.postgres import Postgres
from tests.support.server import RunningServer, start_server

SHUTDOWN_SECONDS = 2.0
SLACK_SECONDS = 15.0  # a loaded machine


async def _feed_answer(server: RunningServer) -> tuple[str, object]:
    """What a `since` subscription to the workflow gets first: ('http', status) when refused at
    the handshake, ('close', (code, reason)), or ('replay', how many events were replayed)."""
    url = server.api.replace("http://", "ws://") + f"/ws/workflows/{WORKFLOW_ID}?since=2000-01-01T00:00:00Z"
    try:
        async with connect(url, open_timeout=60, close_timeout=5) as conn:
            count = 0
            while True:
                try:
                    message = orjson.loads(await asyncio.wait_for(conn.recv(), 60))
                except ConnectionClosed as exc:
                    assert exc.rcvd is not None
                    return "close", (exc.rcvd.code, exc.rcvd.reason)
                if message["event"] == "replay_complete":
                    return "replay", count
                count += 1
    except InvalidStatus as exc:
        assert exc.response.headers.get("Retry-After") == "1"
        assert b"storage unavailable, retry later" in exc.response.body
        return "http", exc.response.status_code


def _refused_in_time(server: RunningServer) -> None:
    started = time.monotonic()
    kind, answer = asyncio.run(_feed_answer(server))
    assert time.monotonic() - started < ANSWER_DEADLINE_SECONDS + SLACK_SECONDS
    assert (kind, answer) == ("http", 503) or (
        kind == "close" and answer[0] == 1013 and answer[1].startswith("storage unavailable, retry later")
    ), (kind, answer)


def test_a_node_whose_postgres_is_down_or_frozen_refuses_feeds_and_still_stops_on_sigterm(
    own_postgres: Postgres,  # noqa: F811
    tmp_path: Path,
) -> None:
    pg = own_postgres
    args = (
        "--store", "ducklake:postgres:" + pg.create_database("frozen"),
        "--data-path", str(tmp_path / "data"),
    )  # fmt: skip
    server = start_server(tmp_path / "node", *args, "--shutdown-timeout-seconds", str(SHUTDOWN_SECONDS))
    try:
        acked_spans = _workflow_spans()
        assert _exporter(server).export(acked_spans) == SpanExportResult.SUCCESS
        (acked,) = _execution_ids(acked_spans)
        kind, replayed = asyncio.run(_feed_answer(server))
        assert kind == "replay" and replayed > 0
        pg.stop()
        try:
            _refused_in_time(server)
        finally:
            pg.start()
        assert asyncio.run(_feed_answer(server)) == ("replay", replayed)  # served again, the same
        pg.freeze()
        _refused_in_time(server)
        # A read and a commit stuck in libpq too: each is answered 503 at the store's deadline,
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
    again = start_server(tmp_path / "node", *args)  # the same node started again: nothing lost
    try:
        _check_whole(again, acked)
        assert asyncio.run(_feed_answer(again)) == ("replay", replayed)
    finally:
        assert again.terminate() == 0

"""SIGTERM drains: every request in flight when it arrives, and answered with success, is committed."""

from __future__ import annotations

import re
import signal
import threading
import time
from typing import Any

import grpc
import httpx

from tests.collector.helpers import GRPC_METHODS, PROTOBUF, count, logs_request, open_db, rows, spans_request

_RECEIVED = re.compile(r"^flowscope_collector_received_total\{[^}]*\} (\S+)$", re.M)


def _until_received(server: Any, items: int, timeout: float = 30) -> None:
    """Until the receivers have taken `items` spans and records (the server's own count)."""
    deadline = time.monotonic() + timeout
    while True:
        text = server.get("/metrics").text
        got = sum(float(m) for m in _RECEIVED.findall(text))
        if got >= items:
            return
        assert time.monotonic() < deadline, f"only {got:.0f} of {items} items received"
        time.sleep(0.02)


def _until_draining(server: Any, timeout: float = 30) -> None:
    """Until readiness drops (the drain began) or the API stopped answering."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if server.get("/readyz").status_code == 503:
                return
        except httpx.HTTPError:
            return
        assert time.monotonic() < deadline, "/readyz still ready after SIGTERM"
        time.sleep(0.02)


def test_sigterm_commits_everything_in_flight_before_exit(make_server: Any) -> None:
    # Each commit waits 0.8 s, so requests are still queued/committing when SIGTERM lands.
    server = make_server(env={"FLOWSCOPE_COMMIT_DELAY_SECONDS": "0.8"})
    results: list[tuple[str, set[tuple[str, str]], float]] = []  # (outcome, ids, answered at)
    lock = threading.Lock()

    def http_send() -> None:
        request, ids = spans_request(150)
        try:
            response = httpx.post(
                f"{server.otlp_http}/v1/traces",
                content=request.SerializeToString(),
                headers={"Content-Type": PROTOBUF},
                timeout=60,
            )
            outcome = "ok" if response.status_code == 200 else f"http {response.status_code}"
        except httpx.HTTPError as exc:
            outcome = f"error {type(exc).__name__}"
        with lock:
            results.append((outcome, set(ids), time.monotonic()))

    def grpc_send(signal_name: str) -> None:
        request, ids = spans_request(150)
        body = request if signal_name == "traces" else logs_request(10)
        with grpc.insecure_channel(server.otlp_grpc) as channel:
            try:
                channel.unary_unary(GRPC_METHODS[signal_name])(body.SerializeToString(), timeout=60)
                outcome = "ok"
            except grpc.RpcError as exc:
                outcome = f"grpc {exc.code()}"
        with lock:
            results.append((outcome, set(ids) if signal_name == "traces" else set(), time.monotonic()))

    threads = [threading.Thread(target=http_send) for _ in range(8)]
    threads += [threading.Thread(target=grpc_send, args=(signal_name,)) for signal_name in ["traces"] * 4]
    threads += [threading.Thread(target=grpc_send, args=("logs",)) for _ in range(4)]
    for t in threads:
        t.start()
    _until_received(server, 12 * 150 + 4 * 10)  # every request in; the first commit still sleeps
    sigterm_at = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    not_ready = False
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and not not_ready:  # readiness drops while draining
        try:
            not_ready = server.get("/readyz").status_code == 503
        except httpx.HTTPError:
            break
        time.sleep(0.02)
    for t in threads:
        t.join(60)
    assert server.process.wait(60) == 0
    assert "flowscope stopped" in server.log

    ok = [r for r in results if r[0] == "ok"]
    assert len(results) == 16
    assert len(ok) == 16, f"in-flight requests failed during the drain: {[r[0] for r in results]}"
    assert any(at > sigterm_at + 0.2 for _, _, at in ok), (
        "nothing was answered after SIGTERM: not a drain test"
    )
    assert not_ready, "/readyz kept answering ready while draining"
    acked = set().union(*(ids for _, ids, _ in ok))
    with open_db(server.db) as con:
        stored = {(r["trace_id"], r["span_id"]) for r in rows(con, "SELECT trace_id, span_id FROM spans")}
        assert count(con, "logs") == 40
    assert acked <= stored and len(stored) == 12 * 150


def test_requests_after_sigterm_are_refused_not_lost(make_server: Any) -> None:
    """Once draining starts, new requests are refused (the client will retry), never half-taken."""
    server = make_server(env={"FLOWSCOPE_COMMIT_DELAY_SECONDS": "1.5"})
    inflight = threading.Thread(
        target=lambda: httpx.post(
            f"{server.otlp_http}/v1/traces",
            content=spans_request(10)[0].SerializeToString(),
            headers={"Content-Type": PROTOBUF},
            timeout=60,
        )
    )
    inflight.start()
    _until_received(server, 10)
    server.process.send_signal(signal.SIGTERM)
    _until_draining(server)
    late_request, late_ids = spans_request(5)
    try:
        with grpc.insecure_channel(server.otlp_grpc) as channel:
            channel.unary_unary(GRPC_METHODS["traces"])(late_request.SerializeToString(), timeout=10)
        late = "ok"
    except grpc.RpcError as exc:
        late = str(exc.code())
    inflight.join(60)
    assert server.process.wait(60) == 0
    with open_db(server.db) as con:
        stored = {(r["trace_id"], r["span_id"]) for r in rows(con, "SELECT trace_id, span_id FROM spans")}
    assert len(stored - set(late_ids)) == 10  # the in-flight request was committed
    if late == "ok":  # accepted => committed; otherwise refused with a retryable code
        assert set(late_ids) <= stored
    else:
        assert late in ("StatusCode.UNAVAILABLE", "StatusCode.CANCELLED") and not set(late_ids) & stored

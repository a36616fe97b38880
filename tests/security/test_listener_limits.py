"""Slow, silent and oversized clients on every listener (issue 15, findings 7 and 18).

Raw sockets against the real `flowscope serve`: a client that sends nothing, half a
request head, or half a body is answered (408) or closed within its deadline; oversized
request targets and headers get 414 / 431 at once, WebSocket handshakes included; at
the connection cap, idle connections make room and busy ones get a 503.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from tests.collector.helpers import GRPC_METHODS, PROTOBUF
from tests.support.otlp import trace_request
from tests.support.rawsock import (
    connect,
    get,
    read_response_head,
    read_until_closed,
    status_of,
    websocket_upgrade,
)
from tests.support.server import RunningServer, start_server

TIMEOUT = 1.0  # header, body and idle timeouts of the `quick` server
MARGIN = 4.0  # for a loaded machine: linger (1 s) and scheduling


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {
        "FLOWSCOPE_HEADER_TIMEOUT_SECONDS": str(TIMEOUT),
        "FLOWSCOPE_BODY_TIMEOUT_SECONDS": str(TIMEOUT),
        "FLOWSCOPE_IDLE_TIMEOUT_SECONDS": str(TIMEOUT),
    }
    srv = start_server(tmp_path_factory.mktemp("quick") / "flowscope.duckdb", env=env)
    yield srv
    srv.terminate()


def _http_ports(srv: RunningServer) -> dict[str, str]:
    return {"api": srv.api, "otlp_http": srv.otlp_http}


def _closed_after(sock: socket.socket, seconds: float) -> bytes:
    """What the server sent before closing, which it must do after about `seconds`."""
    data, took = read_until_closed(sock, seconds + MARGIN)
    assert took >= seconds * 0.5, f"closed after {took:.2f} s, before its deadline of {seconds} s"
    return data


@pytest.mark.parametrize("port", ["api", "otlp_http", "otlp_grpc"])
def test_a_silent_connection_is_closed_after_the_header_timeout(quick: RunningServer, port: str) -> None:
    with connect(getattr(quick, port)) as sock:
        data = _closed_after(sock, TIMEOUT)
    if port == "otlp_grpc":  # grpc says why, in an HTTP/2 GOAWAY (both deadlines are 1 s)
        assert b"handshake timeout" in data or b"connection idle" in data
    else:  # nothing asked, nothing answered
        assert data == b""


@pytest.mark.parametrize("port", ["api", "otlp_http"])
def test_half_a_request_head_gets_408(quick: RunningServer, port: str) -> None:
    with connect(_http_ports(quick)[port]) as sock:
        sock.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: test\r\nContent-Type: application/x-")
        answer = _closed_after(sock, TIMEOUT)
    assert status_of(answer) == 408 and b"request headers not received within 1 s" in answer


def test_a_trickled_head_is_cut_at_the_deadline_not_kept_alive_by_each_byte(quick: RunningServer) -> None:
    with connect(quick.api) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
        stop = threading.Event()

        def trickle() -> None:  # one byte every 100 ms: a slowloris client
            while not stop.wait(0.1):
                try:
                    sock.send(b"a")
                except OSError:
                    return

        threading.Thread(target=trickle, daemon=True).start()
        try:
            answer = _closed_after(sock, TIMEOUT)
        finally:
            stop.set()
    assert status_of(answer) == 408


@pytest.mark.parametrize(
    ("port", "head"),
    [
        ("otlp_http", f"POST /v1/traces HTTP/1.1\r\nHost: t\r\nContent-Type: {PROTOBUF}\r\n"),
        ("api", "POST /api/projects HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"),
    ],
)
def test_half_a_body_gets_408(quick: RunningServer, port: str, head: str) -> None:
    with connect(_http_ports(quick)[port]) as sock:
        sock.sendall(f"{head}Content-Length: 1000\r\n\r\n".encode() + b"\x0a" * 10)
        answer = _closed_after(sock, TIMEOUT)
    assert status_of(answer) == 408 and b"request body not received within 1 s" in answer


def test_an_idle_kept_alive_connection_is_closed_after_the_idle_timeout(quick: RunningServer) -> None:
    with connect(quick.api) as sock:
        assert status_of(get(sock, "/healthz")) == 200
        assert status_of(get(sock, "/healthz")) == 200  # kept alive
        assert _closed_after(sock, TIMEOUT) == b""


def test_a_stalled_grpc_request_message_gets_deadline_exceeded(quick: RunningServer) -> None:
    """Export is unary, but a client can open the call and never finish its message."""
    release = threading.Event()

    def never() -> Iterator[bytes]:
        release.wait(60)
        yield from ()

    with grpc.insecure_channel(quick.otlp_grpc) as channel:
        call = channel.stream_unary(GRPC_METHODS["traces"])
        start = time.monotonic()
        try:
            with pytest.raises(grpc.RpcError) as caught:
                call(never(), timeout=60)
        finally:
            release.set()
        took = time.monotonic() - start
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert "request message not received within 1 s" in (caught.value.details() or "")
        assert took < TIMEOUT + MARGIN
        # the same channel still exports
        channel.unary_unary(GRPC_METHODS["traces"])(trace_request(2)[0].SerializeToString(), timeout=30)


# --- oversized request heads (finding 18) -----------------------------------------------------


def _answer_to(url: str, request: bytes) -> bytes:
    """Send `request` (the server may stop reading it) and return the answer, which must come promptly."""
    with connect(url) as sock:
        # answered and closed before the whole request was read: the answer is still there
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        data, _ = read_until_closed(sock, 5)
    return data


@pytest.mark.parametrize("size", [9 * 1024, 100 * 1024])
@pytest.mark.parametrize("port", ["api", "otlp_http"])
def test_a_long_websocket_path_gets_414_at_once(quick: RunningServer, port: str, size: int) -> None:
    path = "/ws/workflows/" + "a" * size
    answer = _answer_to(_http_ports(quick)[port], websocket_upgrade(path))
    assert status_of(answer) == 414, answer[:200]


@pytest.mark.parametrize("size", [9 * 1024, 100 * 1024])
@pytest.mark.parametrize(
    ("port", "method"), [("api", "GET /api/workflows"), ("otlp_http", "POST /v1/traces")]
)
def test_a_long_request_target_gets_414_at_once(
    quick: RunningServer, port: str, method: str, size: int
) -> None:
    verb, path = method.split(" ")
    request = f"{verb} {path}?q={'a' * size} HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n".encode()
    assert status_of(_answer_to(_http_ports(quick)[port], request)) == 414


def test_a_websocket_request_line_just_over_the_websocket_limit_is_answered(quick: RunningServer) -> None:
    """Within our 8 KiB target limit, over the websockets library's 8 KiB request line:
    it rejects the handshake with 414, and that answer must be sent, not left queued."""
    path = "/ws/workflows/" + "a" * (8 * 1024 - len("/ws/workflows/") - 4)
    answer = _answer_to(quick.api, websocket_upgrade(path))
    assert status_of(answer) == 414, answer[:200]


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        (f"X-Big: {'b' * 20_000}\r\n", "one header line over the websockets limit"),
        ("".join(f"X-H{i}: v\r\n" for i in range(200)), "more headers than websockets takes"),
        ("".join(f"X-H{i}: {'c' * 4000}\r\n" for i in range(20)), "over our 32 KiB of headers"),
    ],
)
def test_oversized_websocket_headers_get_431_at_once(quick: RunningServer, extra: str, why: str) -> None:
    answer = _answer_to(quick.api, websocket_upgrade("/ws/workflows/wf", extra))
    assert status_of(answer) == 431, (why, answer[:200])


@pytest.mark.parametrize("port", ["api", "otlp_http"])
def test_oversized_headers_get_431_at_once(quick: RunningServer, port: str) -> None:
    headers = "".join(f"X-H{i}: {'c' * 4000}\r\n" for i in range(20))
    request = f"GET /healthz HTTP/1.1\r\nHost: t\r\n{headers}\r\n".encode()
    assert status_of(_answer_to(_http_ports(quick)[port], request)) == 431


def test_a_never_ending_header_is_cut_without_being_buffered(quick: RunningServer) -> None:
    """The parser shows a header only once it ends: the head is also bounded while it arrives."""
    with connect(quick.api) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nX-Endless: ")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(4):  # 256 KiB, and no end to the header
                sock.sendall(b"d" * 65536)
        data, _ = read_until_closed(sock, 5)
    assert status_of(data) == 431


# --- the connection cap -----------------------------------------------------------------------

CAP = 16


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[RunningServer]:
    env = {"FLOWSCOPE_MAX_CONNECTIONS": str(CAP), "FLOWSCOPE_BODY_TIMEOUT_SECONDS": "120"}
    srv = start_server(tmp_path / "flowscope.duckdb", env=env)
    yield srv
    srv.terminate()


def _stalled_body(url: str) -> socket.socket:
    """A connection with a request in progress: its head sent, its body never finished."""
    sock = connect(url)
    sock.sendall(b"POST /api/projects HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{")
    return sock


def _processed(srv: RunningServer) -> None:
    """Returns once the server has parsed what was sent to the API port before the call.

    Both HTTP listeners share one event loop, which handles ready sockets in order: by
    the time a request sent to the OTLP port later is answered, earlier bytes were parsed."""
    with connect(srv.otlp_http) as sock:
        assert status_of(get(sock, "/v1/traces")) == 405


def _wait_for(predicate: Callable[[], bool], within: float = 10) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_at_the_cap_idle_connections_make_room_and_busy_ones_refuse_with_503(capped: RunningServer) -> None:
    opened: list[socket.socket] = []
    try:
        # A kept-alive client, then the listener filled with requests in progress.
        keeper = connect(capped.api)
        opened.append(keeper)
        assert status_of(get(keeper, "/healthz")) == 200
        opened += [_stalled_body(capped.api) for _ in range(CAP - 1)]
        _processed(capped)
        assert status_of(get(keeper, "/healthz")) == 200  # at the cap, an open connection still works

        # A new connection: the kept-alive one, idle, is closed to make room for it.
        newcomer = connect(capped.api)
        opened.append(newcomer)
        assert status_of(get(newcomer, "/healthz")) == 200
        assert read_until_closed(keeper, 5)[0] == b""

        # Every slot busy: the next connection is refused, with a reason, at once (the
        # other listeners have their own caps: _processed() used the OTLP port).
        opened.append(_stalled_body(capped.api))  # takes the newcomer's slot (idle again)
        _processed(capped)
        with connect(capped.api) as refused:
            head = read_response_head(refused, 5)
            answer = head + read_until_closed(refused, 5)[0]
        assert status_of(answer) == 503
        assert b"retry-after: 1" in answer.lower() and b"16 connections open on this port" in answer

        # A request in progress ends: there is room again.
        opened.pop().close()

        def healthz_ok() -> bool:
            with connect(capped.api) as sock:
                try:
                    return status_of(get(sock, "/healthz", within=5)) == 200
                except AssertionError:
                    return False

        _wait_for(healthz_ok)
    finally:
        for sock in opened:
            sock.close()


def test_silent_connections_beyond_the_cap_do_not_lock_anyone_out(capped: RunningServer) -> None:
    silent = [connect(capped.api) for _ in range(3 * CAP)]
    try:
        with connect(capped.api) as sock:
            assert status_of(get(sock, "/healthz")) == 200
        # the oldest silent ones were closed to make room
        assert read_until_closed(silent[0], 5)[0] == b""
    finally:
        for sock in silent:
            sock.close()


def test_grpc_refuses_connections_beyond_its_cap_and_keeps_serving_its_own(capped: RunningServer) -> None:
    with grpc.insecure_channel(capped.otlp_grpc) as channel:
        export = channel.unary_unary(GRPC_METHODS["traces"])
        export(trace_request(1)[0].SerializeToString(), timeout=30)
        extra = [connect(capped.otlp_grpc) for _ in range(2 * CAP)]
        try:
            # beyond the cap, grpc closes new connections at once
            assert read_until_closed(extra[-1], 5)[0] == b""
            export(trace_request(1)[0].SerializeToString(), timeout=30)
        finally:
            for sock in extra:
                sock.close()

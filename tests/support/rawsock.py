"""Raw TCP clients for listener tests: half-sent requests, idle sockets, answers read with deadlines."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit


def address(url: str) -> tuple[str, int]:
    """(host, port) of `http://host:port` or `host:port`."""
    parts = urlsplit(url if "//" in url else f"//{url}")
    assert parts.hostname and parts.port, url
    return parts.hostname, parts.port


def connect(url: str, timeout: float = 10) -> socket.socket:
    sock = socket.create_connection(address(url), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_until_closed(sock: socket.socket, within: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took.

    Fails when the connection is still open after `within` seconds."""
    start = time.monotonic()
    deadline = start + within
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"connection still open after {within} s; received {data[:200]!r}")
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return data, time.monotonic() - start
        data += chunk


def read_response_head(sock: socket.socket, within: float) -> bytes:
    """The status line and headers of the next response (fails after `within` seconds)."""
    deadline = time.monotonic() + within
    data = b""
    while b"\r\n\r\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no complete response within {within} s; received {data[:200]!r}")
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            raise AssertionError(f"connection closed before a complete response; received {data[:200]!r}")
        data += chunk
    return data


def status_of(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:100]
    return int(response[9:12])


def get(sock: socket.socket, path: str, within: float = 10) -> bytes:
    """A keep-alive GET on an open connection; returns the response (head and body)."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    head = read_response_head(sock, within)
    lines = head.split(b"\r\n")
    length = next((int(h.split(b":")[1]) for h in lines if h.lower().startswith(b"content-length:")), 0)
    body = head.split(b"\r\n\r\n", 1)[1]
    while len(body) < length:
        body += sock.recv(65536)
    return head.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n" + body


def websocket_upgrade(path: str, extra_headers: str = "") -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra_headers}\r\n"
    ).encode()

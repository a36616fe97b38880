"""An OTLP/HTTP relay standing in for an OpenTelemetry Collector between the engine and the
server (`--engine-endpoint`): it forwards each export request, headers and body, to its
target, or answers 503 while it has none (a collector that is down)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

_FORWARDED = ("content-type", "content-encoding", "x-workspace-id", "x-workspace-slug", "authorization")


class Relay:
    def __init__(self) -> None:
        self.target: str | None = None  # e.g. the server's otlp_http URL
        self.forwarded: list[str] = []  # paths of the requests forwarded
        self.url = ""


@contextmanager
def otlp_relay() -> Iterator[Relay]:
    relay = Relay()
    client = httpx.Client(timeout=30)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            if relay.target is None:
                self._answer(503, b"", {"retry-after": "1"})
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() in _FORWARDED}
            answer = client.post(relay.target + self.path, content=body, headers=headers)
            relay.forwarded.append(self.path)
            self._answer(
                answer.status_code, answer.content, {"content-type": answer.headers.get("content-type", "")}
            )

        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    relay.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield relay
    finally:
        server.shutdown()
        server.server_close()
        client.close()

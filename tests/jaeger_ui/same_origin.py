"""One origin for a Jaeger UI build and a Flowscope API, as Jaeger's own query service
serves them: the UI's files, and `/api/*` passed through to `flowscope serve` unchanged.

The UI calls its API at the page's origin (`prefixUrl('/api/...')`), so the browser must
see both at one address. This stands in for the Jaeger query service's static handler
(jaegertracing/jaeger@v2.19.0, cmd/jaeger/internal/extension/jaegerquery/internal/
static_handler.go): files under /static/ as they are; every other path the single-page
app's index.html with its storage capabilities search-replaced in (the pattern
`JAEGER_STORAGE_CAPABILITIES = DEFAULT_STORAGE_CAPABILITIES;`), which is how the UI learns
that metrics exist and shows its Monitor tab. The UI files themselves are not changed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

_CAPABILITIES = "JAEGER_STORAGE_CAPABILITIES = DEFAULT_STORAGE_CAPABILITIES;"
# Hop-by-hop or recomputed headers: the proxy sends the body whole, decoded.
_DROP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host"}


def index_html(ui_dir: Path, capabilities: dict[str, bool]) -> bytes:
    """The UI's index.html with `capabilities` in it, as the query service serves it."""
    raw = (ui_dir / "index.html").read_text()
    assert _CAPABILITIES in raw, "this build's index.html lacks the capabilities pattern"
    return raw.replace(_CAPABILITIES, f"JAEGER_STORAGE_CAPABILITIES = {json.dumps(capabilities)};").encode()


def _handler(ui_dir: Path, index: bytes, api: httpx.Client) -> type[SimpleHTTPRequestHandler]:
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(ui_dir), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            pass

        def do_GET(self) -> None:
            if self.path.startswith("/api/"):
                self._proxy()
            elif self.path.startswith("/static/"):
                super().do_GET()
            else:
                self._send(200, {"Content-Type": "text/html; charset=utf-8"}, index)

        def do_POST(self) -> None:
            self._proxy()

        def _proxy(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _DROP}
            upstream = api.request(self.command, self.path, headers=headers, content=body)
            kept = {k: v for k, v in upstream.headers.items() if k.lower() not in _DROP}
            self._send(upstream.status_code, kept, upstream.content)

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def serve_jaeger_ui(ui_dir: Path, api_base: str, capabilities: dict[str, bool]) -> Iterator[str]:
    """Serve `ui_dir` with `/api/*` proxied to `api_base` on a free loopback port; yields
    the origin (`http://127.0.0.1:<port>`)."""
    with httpx.Client(base_url=api_base, timeout=30) as api:
        handler = _handler(ui_dir, index_html(ui_dir, capabilities), api)
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(10)

"""`shell` and `http` step actions through `flowscope serve` and the REST API: disabled unless
configured, and the `http` allow-list holds against redirects and URL tricks.

Two local HTTP servers on 127.0.0.1: an allowed one (`--http-allowed-host 127.0.0.1:PORT`, and
`--http-allowed-network 127.0.0.1/32` since it is loopback) that redirects in every way, and a
forbidden one on another port that counts every request it gets; it must get none.
(tests/engine covers the action in-process; this is end to end.)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.api.client import Api
from tests.support.server import start_server


class _Hits:
    def __init__(self) -> None:
        self.paths: list[str] = []


def _serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def web() -> Iterator[tuple[int, int, _Hits]]:
    hits = _Hits()

    class Forbidden(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.paths.append(self.path)
            self.send_response(200)
            self.send_header("content-length", "6")
            self.end_headers()
            self.wfile.write(b"secret")

        do_POST = do_GET

        def log_message(self, *args: Any) -> None:
            pass

    forbidden = _serve(Forbidden)
    other = forbidden.server_address[1]

    class Allowed(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            routes = {
                "/to-other-port": (302, f"http://127.0.0.1:{other}/secret"),
                "/to-other-port-307": (307, f"http://127.0.0.1:{other}/secret"),
                "/to-localhost": (301, f"http://localhost:{other}/secret"),
                "/to-ipv6-mapped": (302, f"http://[::ffff:127.0.0.1]:{other}/secret"),
                "/scheme-relative": (302, f"//127.0.0.1:{other}/secret"),
                "/to-userinfo": (302, f"http://127.0.0.1:{self.server.server_address[1]}@127.0.0.1:{other}/"),
                "/hop": (302, "/to-other-port"),
                "/inside": (302, "/ok"),
            }
            if self.path in routes:
                code, location = routes[self.path]
                self.send_response(code)
                self.send_header("location", location)
                self.send_header("content-length", "0")
                self.end_headers()
                return
            body = json.dumps({"ok": True, "path": self.path}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args: Any) -> None:
            pass

    allowed = _serve(Allowed)
    yield allowed.server_address[1], other, hits
    for s in (allowed, forbidden):
        s.shutdown()
        s.server_close()


def _http(step_id: str, url: str, **params: Any) -> dict[str, Any]:
    return {"id": step_id, "action": {"type": "http", "params": {"url": url, "timeout_seconds": 5, **params}}}


def _shell(step_id: str = "sh") -> dict[str, Any]:
    return {"id": step_id, "action": {"type": "shell", "params": {"command": "echo ran"}}}


def test_shell_and_http_are_disabled_by_default(tmp_path: Path) -> None:
    server = start_server(tmp_path / "default.duckdb")
    try:
        api = Api(server.api)
        for definition, fragment in (
            ({"name": "s", "steps": [_shell()]}, "shell steps are off"),
            ({"name": "h", "steps": [_http("h", "http://127.0.0.1:9/")]}, "action 'http' is disabled"),
        ):
            response = api.post("/api/workflows", json={"definition": definition})
            assert response.status_code == 422 and fragment in response.text, response.text
    finally:
        server.terminate()


def test_http_allow_list_holds_against_redirects_end_to_end(
    tmp_path: Path, web: tuple[int, int, _Hits]
) -> None:
    allowed, other, hits = web
    server = start_server(tmp_path / "http.duckdb", "--http-allowed-host", f"127.0.0.1:{allowed}",
                          "--http-allowed-network", "127.0.0.1/32")  # loopback test servers  # fmt: skip
    base = f"http://127.0.0.1:{allowed}"
    blocked = {
        "redirect_302": _http("redirect_302", f"{base}/to-other-port"),
        "redirect_307_post": _http("redirect_307_post", f"{base}/to-other-port-307", method="POST", body="x"),
        "redirect_localhost": _http("redirect_localhost", f"{base}/to-localhost"),
        "redirect_ipv6_mapped": _http("redirect_ipv6_mapped", f"{base}/to-ipv6-mapped"),
        "redirect_scheme_relative": _http("redirect_scheme_relative", f"{base}/scheme-relative"),
        "redirect_userinfo": _http("redirect_userinfo", f"{base}/to-userinfo"),
        "redirect_two_hops": _http("redirect_two_hops", f"{base}/hop"),
        "direct_other_port": _http("direct_other_port", f"http://127.0.0.1:{other}/secret"),
        "userinfo_trick": _http("userinfo_trick", f"http://127.0.0.1:{allowed}@127.0.0.1:{other}/secret"),
        "localhost_alias": _http("localhost_alias", f"http://localhost:{allowed}/ok"),
    }
    allowed_steps = [_http("direct", f"{base}/ok"), _http("redirect_inside", f"{base}/inside")]
    try:
        api = Api(server.api)
        assert api.post("/api/workflows", json={"definition": {"name": "s", "steps": [_shell()]}}
                        ).status_code == 422, "shell must stay off when only http is configured"  # fmt: skip
        workflow = api.create_workflow({"name": "redirects", "steps": [*allowed_steps, *blocked.values()]})
        done = api.wait(api.execute(workflow["id"])["id"], timeout=60)
        timeline = api.ok(api.get(f"/api/workflows/executions/{done['id']}/timeline"))
        steps = {s["step_id"]: s for s in timeline["step_timeline"]}
    finally:
        server.terminate()
    assert steps["direct"]["status"] == "completed", steps["direct"]
    assert steps["redirect_inside"]["status"] == "completed", steps["redirect_inside"]
    print(f"\n[http allow-list] allowed 127.0.0.1:{allowed}; forbidden 127.0.0.1:{other}")
    for sid in blocked:
        s = steps[sid]
        print(f"  {sid:26} {s['status']:9} {(s['error_message'] or '')[:80]}")
        assert s["status"] == "failed", (sid, s)
        assert "not in the allowed hosts" in (s["error_message"] or ""), (sid, s["error_message"])
    assert hits.paths == [], f"the forbidden server was reached: {hits.paths}"


def test_shell_runs_only_when_enabled(tmp_path: Path) -> None:
    server = start_server(tmp_path / "shell.duckdb", "--enable-shell")
    try:
        api = Api(server.api)
        workflow = api.create_workflow({"name": "s", "steps": [_shell()]})
        done = api.wait(api.execute(workflow["id"])["id"], timeout=30)
        step = api.ok(api.get(f"/api/workflows/executions/{done['id']}/steps/sh"))
    finally:
        server.terminate()
    assert done["status"] == "completed" and step["output_data"]["stdout"] == "ran\n", step

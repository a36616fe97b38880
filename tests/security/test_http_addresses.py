"""Issue 15 finding 19: the `http` allow-list matched names only, so an allowed name that
resolves to 127.0.0.1 reached a loopback service. Now the resolved address is checked
(loopback, private, link-local, multicast, unspecified... refused unless a network is
allowed with `--http-allowed-network`), on every redirect hop, and the connection goes to
the address that was checked (no second lookup: no DNS rebinding window).

End to end through `serve`: real loopback servers count every request they get. In-process:
a resolver that answers differently on its second lookup (what a rebinding DNS server does)
never gets that second lookup, and the request carries the name in its Host header.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flowscope.engine.actions import ActionRegistry, register_builtins
from flowscope.engine.actions.http_addresses import parse_networks, refusal
from flowscope.engine.config import EngineConfig
from flowscope.engine.engine import Engine
from flowscope.engine.telemetry import TelemetryConfig

from tests.api.client import Api
from tests.engine.conftest import run, run_workflow
from tests.security.editor import run_steps
from tests.support.server import start_server


class Recorder:
    """A loopback HTTP server that records (path, Host header) of every request."""

    def __init__(self, address: str, port: int = 0, redirect_to: str | None = None) -> None:
        seen: list[tuple[str, str]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append((self.path, self.headers.get("host", "")))
                if self.path == "/redirect" and redirect_to:
                    self.send_response(302)
                    self.send_header("location", redirect_to)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                body = json.dumps({"path": self.path, "host": self.headers.get("host")}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.seen = seen
        self.server = ThreadingHTTPServer((address, port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def loopback() -> Iterator[tuple[Recorder, Recorder]]:
    """A service on 127.0.0.2 (another loopback address), and one on 127.0.0.1 that redirects there."""
    other = Recorder("127.0.0.2")
    main = Recorder("127.0.0.1", redirect_to=f"http://127.0.0.2:{other.port}/secret")
    yield main, other
    main.close()
    other.close()


def _http(step_id: str, url: str) -> dict[str, Any]:
    return {"id": step_id, "action": {"type": "http", "params": {"url": url, "timeout_seconds": 5}},
            "trigger_rule": "all_done"}  # fmt: skip


def test_allowed_names_cannot_reach_loopback_unless_the_network_is_allowed(
    tmp_path: Path, loopback: tuple[Recorder, Recorder]
) -> None:
    main, other = loopback
    p, q = main.port, other.port
    names = {"localhost": f"localhost:{p}", "ip": f"127.0.0.1:{p}", "mapped": f"[::ffff:127.0.0.1]:{p}",
             "unspecified": f"0.0.0.0:{p}", "other": f"127.0.0.2:{q}"}  # fmt: skip
    hosts = [arg for name in names.values() for arg in ("--http-allowed-host", name)]
    steps = [_http(sid, f"http://{authority}/{sid}") for sid, authority in names.items()]
    steps.append(_http("redirect", f"http://127.0.0.1:{p}/redirect"))

    refused: dict[str, Any] = {}
    server = start_server(tmp_path / "names.duckdb", *hosts)
    try:
        _, refused = run_steps(Api(server.api), {"name": "names only", "steps": steps})
    finally:
        server.terminate()
    print(f"\n[http addresses] allowed by name, no network allowed (loopback servers :{p}, :{q})")
    for sid, step in refused.items():
        print(f"  {sid:12} {step['status']:9} {(step['error_message'] or '')[:90]}")
        assert step["status"] == "failed", (sid, step)
        assert "resolves to" in step["error_message"] and "not allowed" in step["error_message"], step
    assert "(loopback)" in refused["localhost"]["error_message"]
    assert "(unspecified)" in refused["unspecified"]["error_message"]
    assert "::ffff:7f00:1 (loopback)" in refused["mapped"]["error_message"]  # = ::ffff:127.0.0.1
    assert main.seen == [] and other.seen == [], "a loopback service was reached"

    server = start_server(tmp_path / "networks.duckdb", *hosts, "--http-allowed-network", "127.0.0.1/32")
    try:
        api = Api(server.api)
        allowed_steps = [s for s in steps if s["id"] in ("localhost", "ip", "redirect", "other")]
        execution_id, allowed = run_steps(api, {"name": "network allowed", "steps": allowed_steps})
        out = api.ok(api.get(f"/api/workflows/executions/{execution_id}/steps/localhost"))["output_data"]
    finally:
        server.terminate()
    print("  with --http-allowed-network 127.0.0.1/32:")
    for sid, step in allowed.items():
        print(f"  {sid:12} {step['status']:9} {(step['error_message'] or '')[:90]}")
    assert allowed["localhost"]["status"] == "completed" and allowed["ip"]["status"] == "completed"
    assert out["json"] == {"path": "/localhost", "host": f"localhost:{p}"}  # the name, not the address
    assert out["url"] == f"http://localhost:{p}/localhost"
    # 127.0.0.2 is not in the allowed network: refused directly and as a redirect hop.
    for sid in ("other", "redirect"):
        assert allowed[sid]["status"] == "failed", allowed[sid]
        assert "127.0.0.2 (loopback)" in allowed[sid]["error_message"], allowed[sid]
    assert other.seen == [], "the redirect hop reached a network that is not allowed"
    assert sorted(path for path, _ in main.seen) == ["/ip", "/localhost", "/redirect"]


def test_the_checked_address_is_the_one_connected_to(
    loopback: tuple[Recorder, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebinding resolver: 127.0.0.1 (allowed) first, then 127.0.0.2 (a service on the same
    port there). A second lookup at connect time would reach it; there is none."""
    main, _ = loopback
    decoy = Recorder("127.0.0.2", main.port)
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        address = "127.0.0.1" if len(lookups) == 1 else "127.0.0.2"
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    registry = ActionRegistry()
    register_builtins(registry)
    config = EngineConfig(
        telemetry=TelemetryConfig(enabled=False),
        http_allowed_hosts=("rebind.test",),
        http_allowed_networks=("127.0.0.1/32",),
    )
    url = f"http://rebind.test:{main.port}/pinned"
    definition = {"name": "rebind", "steps": [_http("a", url), {**_http("b", url), "depends_on": ["a"]}]}
    try:
        result = run(run_workflow(Engine(config, registry=registry), definition))
    finally:
        decoy.close()
    assert result.step("a").status == "completed", result.step("a").error
    assert result.results["a"]["json"] == {"path": "/pinned", "host": f"rebind.test:{main.port}"}
    # One lookup per request: step b's got the rebound answer, which is refused.
    assert len(lookups) == 2
    assert "resolves to 127.0.0.2 (loopback)" in result.step("b").error
    assert decoy.seen == [] and len(main.seen) == 1


@pytest.mark.parametrize(
    ("address", "allowed", "expected"),
    [
        ("127.0.0.1", (), "loopback"), ("::1", (), "loopback"), ("::ffff:127.0.0.1", (), "loopback"),
        ("10.1.2.3", (), "private"), ("172.16.0.1", (), "private"), ("192.168.1.1", (), "private"),
        ("fc00::1", (), "private"), ("::ffff:10.0.0.1", (), "private"),
        ("169.254.169.254", (), "link-local"), ("fe80::1", (), "link-local"),
        ("::ffff:169.254.169.254", (), "link-local"),
        ("224.0.0.1", (), "multicast"), ("ff02::1", (), "multicast"),
        ("0.0.0.0", (), "unspecified"), ("::", (), "unspecified"),
        ("100.64.0.1", (), "non-global"), ("240.0.0.1", (), "reserved"),
        ("8.8.8.8", (), None), ("2606:4700:4700::1111", (), None),
        ("10.1.2.3", ("10.0.0.0/8",), None), ("::ffff:10.0.0.1", ("10.0.0.0/8",), None),
        ("127.0.0.2", ("127.0.0.1",), "loopback"), ("::1", ("::1/128",), None),
    ],
)  # fmt: skip
def test_address_ranges(address: str, allowed: tuple[str, ...], expected: str | None) -> None:
    assert refusal(ipaddress.ip_address(address), parse_networks(allowed)) == expected

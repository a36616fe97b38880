"""The engine exports to its own server directly, whatever proxy the host's environment sets
for outbound traffic: a server started with HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and
grpc_proxy pointing at a closed port (and no NO_PROXY) still stores its executions'
telemetry, so they complete. Over HTTP the exporter's requests session would otherwise send
it to the proxy, and gRPC's core would too."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.api.client import Api
from tests.support.server import start_server


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again on return: connections are refused


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_executions_complete_with_an_unreachable_proxy_in_the_environment(
    tmp_path: Path, protocol: str
) -> None:
    proxy = f"http://127.0.0.1:{_closed_port()}"
    names = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy", "grpc_proxy")
    env = {name: proxy for name in names} | {"NO_PROXY": "", "no_proxy": "", "no_grpc_proxy": ""}
    server = start_server(tmp_path / "flowscope.duckdb", "--engine-protocol", protocol, env=env)
    try:
        api = Api(server.api)
        workflow = api.create_workflow(
            {"name": f"behind-a-proxy-{protocol}", "steps": [{"id": "a", "action": {"type": "delay"}}]}
        )
        execution = api.execute(workflow["id"])
        assert api.wait(execution["id"])["status"] == "completed"  # its root span arrived
    finally:
        server.terminate()

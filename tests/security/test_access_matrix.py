"""Isolation and access matrix under `serve --auth token` (DESIGN.md "Identity and tenancy").

Two workspaces, each bootstrapped with `flowscope token create` on the file before the server
starts, then a viewer, an editor and an admin token each. The REST matrix is driven by the
live /openapi.json, so every operation is covered (a new endpoint without an expected role
here fails the test). For every operation and each workspace W:

- no token or an unknown token: 401;
- W's own tokens: the operation's status when the role suffices, else 403;
- the other workspace's tokens on W's resource ids: 404 when the role suffices (else 403),
  and on list/search operations nothing of W in the answer;
- the other workspace's tokens naming W by header or query parameter: 403.

Creating a workspace is a server-level right: every workspace token gets 403, a
server-admin token (`flowscope token create --server-admin`) 201.

Then both WebSocket channels (close 1008 before any event, even with a `since` replay that
would send history; W's workflow ids are unknown to the other workspace's tokens: their feed
opens on their own workspace and replays nothing of W), and both ingest paths (HTTP and gRPC).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.api.workflows import SEQUENCE
from tests.reliability.support import GRPC_TRACES
from tests.support.otlp import trace_request
from tests.support.server import RunningServer, start_server
from tests.ws.support import open_feed, ws_url

ROLES = ("viewer", "editor", "admin")
RANK = {r: i for i, r in enumerate((*ROLES, "server_admin"))}  # no workspace token is a server admin
PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
# (method, path) -> (lowest role allowed, status when allowed). Every operation of
# /openapi.json must be listed: the test fails on one that is not.
EXPECTED: dict[tuple[str, str], tuple[str, int]] = {
    ("GET", "/api/workflows/executions/{execution_id}"): ("viewer", 200),
    ("GET", "/api/workflows/executions/{execution_id}/timeline"): ("viewer", 200),
    ("GET", "/api/workflows/executions/{execution_id}/steps/{step_id}"): ("viewer", 200),
    ("GET", "/api/workflows/executions/{execution_id}/logs"): ("viewer", 200),
    ("POST", "/api/workflows/executions/{execution_id}/cancel"): ("editor", 409),  # already finished
    ("GET", "/api/workflows/{workflow_id}/executions"): ("viewer", 200),
    ("GET", "/api/workflows/{workflow_id}/metrics"): ("viewer", 200),
    ("GET", "/api/workflows/{workflow_id}/steps/metrics"): ("viewer", 200),
    ("POST", "/api/workflows"): ("editor", 201),
    ("GET", "/api/workflows"): ("viewer", 200),
    ("GET", "/api/workflows/{workflow_id}"): ("viewer", 200),
    ("PUT", "/api/workflows/{workflow_id}"): ("editor", 200),
    ("DELETE", "/api/workflows/{workflow_id}"): ("editor", 204),
    ("POST", "/api/workflows/{workflow_id}/execute"): ("editor", 202),
    ("GET", "/api/workspaces"): ("viewer", 200),
    ("POST", "/api/workspaces"): ("server_admin", 201),
    ("GET", "/api/workspaces/{workspace_id}"): ("viewer", 200),
    ("GET", "/api/projects"): ("viewer", 200),
    ("POST", "/api/projects"): ("editor", 201),
    ("GET", "/api/projects/{project_id}"): ("viewer", 200),
    ("PATCH", "/api/projects/{project_id}"): ("editor", 200),
    ("DELETE", "/api/projects/{project_id}"): ("editor", 204),
    ("GET", "/api/tokens"): ("admin", 200),
    ("POST", "/api/tokens"): ("admin", 201),
    ("DELETE", "/api/tokens/{token_id}"): ("admin", 204),
    ("GET", "/api/services"): ("viewer", 200),
    ("GET", "/api/services/{service}/operations"): ("viewer", 200),
    ("GET", "/api/operations"): ("viewer", 200),
    ("GET", "/api/traces"): ("viewer", 200),
    ("GET", "/api/traces/{trace_id}"): ("viewer", 200),
    ("GET", "/api/dependencies"): ("viewer", 200),
    ("GET", "/api/metrics/latencies"): ("viewer", 200),
    ("GET", "/api/metrics/calls"): ("viewer", 200),
    ("GET", "/api/metrics/errors"): ("viewer", 200),
    ("GET", "/api/metrics/minstep"): ("viewer", 200),
    ("GET", "/api/v3/services"): ("viewer", 200),
    ("GET", "/api/v3/operations"): ("viewer", 200),
    ("GET", "/api/v3/traces"): ("viewer", 200),
    ("GET", "/api/v3/trace-summaries"): ("viewer", 200),
    ("GET", "/api/v3/traces/{trace_id}"): ("viewer", 200),
    ("GET", "/api/grafana/executions"): ("viewer", 200),
    ("GET", "/api/grafana/executions/{execution_id}/steps"): ("viewer", 200),
    ("GET", "/api/overview"): ("viewer", 200),
    ("GET", "/api/workflows/{workflow_id}/durations"): ("viewer", 200),
    ("GET", "/api/workflows/executions/{execution_id}/attempts"): ("viewer", 200),
    ("GET", "/api/whoami"): ("viewer", 200),
}
# Path parameters that are not resource ids: another workspace's value is not a 404 but an
# empty answer (a Jaeger service name is a search term).
SEARCH_PARAMS = {"service"}
# Searches that answer "nothing found" with 404, as Jaeger's api_v3 gateway does: another
# workspace's search finds nothing (and must show nothing).
EMPTY_IS_404 = {("GET", "/api/v3/traces")}
# Operations that change or remove the resource in their path: each allowed call gets a fresh one.
CONSUMING = {
    ("PUT", "/api/workflows/{workflow_id}"), ("DELETE", "/api/workflows/{workflow_id}"),
    ("PATCH", "/api/projects/{project_id}"), ("DELETE", "/api/projects/{project_id}"),
    ("DELETE", "/api/tokens/{token_id}"),
}  # fmt: skip


def _definition(name: str) -> dict[str, Any]:
    return {**SEQUENCE, "name": name}


def _body(method: str, path: str, ws: str) -> Any:
    return {
        ("POST", "/api/workflows"): {"definition": _definition(f"made-{ws}")},
        ("PUT", "/api/workflows/{workflow_id}"): {"description": "changed"},
        ("POST", "/api/workflows/{workflow_id}/execute"): {"input_variables": {}},
        ("POST", "/api/workspaces"): {"slug": "m-" + secrets.token_hex(4)},
        ("POST", "/api/projects"): {"name": f"made-{ws}"},
        ("PATCH", "/api/projects/{project_id}"): {"description": "changed"},
        ("POST", "/api/tokens"): {"role": "viewer", "name": "made"},
    }.get((method, path))


@dataclass
class Workspace:
    slug: str
    id: str = ""
    tokens: dict[str, str] = field(default_factory=dict)  # role -> secret
    ids: dict[str, str] = field(default_factory=dict)  # path parameter -> an id of this workspace
    markers: set[str] = field(default_factory=set)  # strings only this workspace's answers may contain
    queries: dict[str, dict[str, str]] = field(default_factory=dict)

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@dataclass
class Setup:
    server: RunningServer
    a: Workspace
    b: Workspace
    http: httpx.Client
    server_admin: str  # a token of a third workspace that may create workspaces


def _cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "flowscope", *args], capture_output=True, text=True, timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.url}: {response.status_code} {response.text}"
    return response.json() if response.content else None


def _ingest(server: RunningServer, ws: Workspace, service: str) -> str:
    request, ids = trace_request(3, service=service)
    headers = {"content-type": "application/x-protobuf", **ws.auth("editor")}
    _ok(httpx.post(f"{server.otlp_http}/v1/traces", content=request.SerializeToString(), headers=headers))
    return ids[0][0]


def _populate(server: RunningServer, http: httpx.Client, ws: Workspace) -> None:
    admin = ws.auth("admin")
    ws.id = _ok(http.get("/api/workspaces", headers=admin))[0]["id"]
    for role in ("viewer", "editor"):
        ws.tokens[role] = _ok(http.post("/api/tokens", json={"role": role}, headers=admin), 201)["token"]
    project = _ok(http.post("/api/projects", json={"name": f"proj-{ws.slug}"}, headers=admin), 201)
    body = {"definition": _definition(f"wf-{ws.slug}"), "project_id": project["id"]}
    workflow = _ok(http.post("/api/workflows", json=body, headers=ws.auth("editor")), 201)
    execute = f"/api/workflows/{workflow['id']}/execute"
    execution_id = _ok(http.post(execute, json={}, headers=ws.auth("editor")), 202)["id"]
    for _ in range(300):
        details = http.get(f"/api/workflows/executions/{execution_id}", headers=ws.auth("viewer"))
        if details.status_code == 200 and details.json()["status"] == "completed":
            break
        asyncio.run(asyncio.sleep(0.05))
    else:
        raise AssertionError(f"execution of {ws.slug} did not complete")
    service = f"svc-{ws.slug}"
    trace_id = _ingest(server, ws, service)
    ws.ids = {
        "execution_id": execution_id, "step_id": "process", "workflow_id": workflow["id"],
        "workspace_id": ws.id, "project_id": project["id"], "service": service, "trace_id": trace_id,
    }  # fmt: skip
    ws.queries = {"/api/operations": {"service": service}, "/api/traces": {"service": service}}
    for metric in ("calls", "errors", "latencies"):  # Monitor metrics of the service (quantile: latencies)
        ws.queries[f"/api/metrics/{metric}"] = {"service": service, "quantile": "0.95"}
    ws.queries["/api/v3/operations"] = {"service": service}
    search = {"query.service_name": service, "query.start_time_min": "2000-01-01T00:00:00Z",
              "query.start_time_max": "2100-01-01T00:00:00Z"}  # fmt: skip
    ws.queries["/api/v3/traces"] = ws.queries["/api/v3/trace-summaries"] = search
    token_ids = {t["id"] for t in _ok(http.get("/api/tokens", headers=admin))}
    ws.ids["token_id"] = next(iter(token_ids))
    ws.markers = {execution_id, workflow["id"], project["id"], ws.id, service, trace_id, f"wf-{ws.slug}",
                  f"proj-{ws.slug}", *token_ids}  # fmt: skip


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    db = tmp_path_factory.mktemp("matrix") / "flowscope.duckdb"
    a, b = Workspace("team-a"), Workspace("team-b")
    for ws in (a, b):  # bootstrap: the first admin token of each workspace, on the file
        ws.tokens["admin"] = _cli("token", "create", "--workspace", ws.slug, "--role", "admin",
                                  "--create-workspace", "--db", str(db))  # fmt: skip
    server_admin = _cli("token", "create", "--workspace", "ops", "--role", "admin", "--server-admin",
                        "--create-workspace", "--db", str(db))  # fmt: skip
    # The matrix presents ~100 invalid tokens from one address, far past the default
    # failed-authentication burst: throttling is off here (tests/security/test_auth_hardening.py).
    server = start_server(db, "--auth", "token", "--auth-failure-burst", "0")
    http = httpx.Client(base_url=server.api, timeout=30)
    try:
        for ws in (a, b):
            _populate(server, http, ws)
        yield Setup(server, a, b, http, server_admin)
    finally:
        http.close()
        server.terminate()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m.upper(), p) for p, ops in spec["paths"].items() for m in ops if m in ("get", "post", "put",
            "patch", "delete")]  # fmt: skip


def _fresh(s: Setup, ws: Workspace, param: str) -> str:
    """A new resource of `ws` for an operation that changes or removes it."""
    admin = ws.auth("admin")
    if param == "workflow_id":
        body = {"definition": _definition(f"wf-{ws.slug}")}
        return _ok(s.http.post("/api/workflows", json=body, headers=admin), 201)["id"]  # type: ignore[no-any-return]
    if param == "project_id":
        return _ok(s.http.post("/api/projects", json={"name": "fresh"}, headers=admin), 201)["id"]  # type: ignore[no-any-return]
    if param == "token_id":
        return _ok(s.http.post("/api/tokens", json={"role": "viewer"}, headers=admin), 201)["id"]  # type: ignore[no-any-return]
    raise AssertionError(param)


def _call(
    s: Setup, method: str, path: str, owner: Workspace, headers: dict[str, str], *, fresh: bool,
    params: dict[str, str] | None = None,
) -> httpx.Response:  # fmt: skip
    values = dict(owner.ids)
    if fresh and (method, path) in CONSUMING:
        param = path.rsplit("{", 1)[1].rstrip("}")
        values[param] = _fresh(s, owner, param)
    url = path.format(**values)
    query = {**owner.queries.get(path, {}), **(params or {})}
    return s.http.request(method, url, headers=headers, params=query, json=_body(method, path, owner.slug))


def test_every_rest_operation_by_every_role_of_both_workspaces(setup: Setup) -> None:
    s = setup
    spec = _ok(s.http.get("/openapi.json"))
    operations = _operations(spec)
    unlisted = sorted(set(operations) - EXPECTED.keys() - PUBLIC)
    assert not unlisted, f"operations without an expected role in this matrix: {unlisted}"
    assert not EXPECTED.keys() - set(operations), "the matrix lists operations the API no longer has"
    tally: Counter[str] = Counter()
    failures: list[str] = []

    def expect(label: str, response: httpx.Response, status: int) -> None:
        tally[str(status)] += 1
        if response.status_code != status:
            failures.append(f"{label}: expected {status}, got {response.status_code} {response.text[:200]}")

    for method, path in PUBLIC:
        assert s.http.request(method, path).status_code in (200, 503), path
    for (method, path), (owner, other) in itertools.product(
        sorted(EXPECTED), ((s.a, s.b), (s.b, s.a))
    ):
        required, allowed = EXPECTED[(method, path)]
        has_resource = any(f"{{{p}}}" in path for p in owner.ids if p not in SEARCH_PARAMS)
        label = f"{method} {path} [{owner.slug}]"
        # no credentials, unknown credentials
        expect(f"{label} anonymous", _call(s, method, path, owner, {}, fresh=False), 401)
        bogus = {"Authorization": "Bearer fst_" + secrets.token_urlsafe(32)}
        expect(f"{label} unknown token", _call(s, method, path, owner, bogus, fresh=False), 401)
        for role in ROLES:
            sufficient = RANK[role] >= RANK[required]
            # the workspace's own tokens: exactly their rights
            response = _call(s, method, path, owner, owner.auth(role), fresh=sufficient)
            expect(f"{label} own {role}", response, allowed if sufficient else 403)
            # the other workspace's tokens on this workspace's ids: not found (role checked first)
            response = _call(s, method, path, owner, other.auth(role), fresh=False)
            if has_resource:
                expect(f"{label} {other.slug} {role}", response, 404 if sufficient else 403)
            elif not sufficient:
                expect(f"{label} {other.slug} {role}", response, 403)
            else:
                tally["content"] += 1
                leaked = sorted(m for m in owner.markers if m in response.text)
                empty = 404 if (method, path) in EMPTY_IS_404 else 299
                if (response.status_code >= 300 and response.status_code != empty) or leaked:
                    failures.append(f"{label} {other.slug} {role}: {response.status_code}, leaked {leaked}")
            # ...naming this workspace by header, or by query parameter: the token lacks it
            for how, extra in (("header", {"X-Workspace-Id": owner.id}), ("query", {})):
                params = {"workspace_slug": owner.slug} if how == "query" else None
                response = _call(s, method, path, owner, {**other.auth(role), **extra}, fresh=False,
                                 params=params)  # fmt: skip
                expect(f"{label} {other.slug} {role} by {how}", response, 403)
    created = s.http.post("/api/workspaces", json={"slug": "m-" + secrets.token_hex(4)},
                          headers={"Authorization": f"Bearer {s.server_admin}"})  # fmt: skip
    expect("POST /api/workspaces server admin", created, 201)
    total = sum(tally.values())
    print(
        f"\n[access/rest] {len(EXPECTED)} operations x 2 workspaces: {total} requests "
        f"({', '.join(f'{k}: {v}' for k, v in sorted(tally.items()))}); public: "
        f"{', '.join(p for _, p in sorted(PUBLIC))}"
    )
    assert not failures, f"{len(failures)} of {total} checks failed:\n" + "\n".join(failures[:40])


async def _first_frame(url: str, headers: dict[str, str] | None = None) -> tuple[str, Any]:
    """('close', (code, reason)) if the server closes before sending anything, else
    ('messages', [every event up to replay_complete])."""
    async with open_feed(url, headers) as conn:
        messages: list[Any] = []
        try:
            while not messages or messages[-1]["event"] != "replay_complete":
                messages.append(json.loads(await asyncio.wait_for(conn.recv(), 10)))
        except ConnectionClosed as exc:
            assert exc.rcvd is not None
            if messages:
                return "closed after messages", (exc.rcvd.code, exc.rcvd.reason, messages)
            return "close", (exc.rcvd.code, exc.rcvd.reason)
        except TimeoutError:
            return "silence", messages
        return "messages", messages


def test_websocket_channels(setup: Setup) -> None:
    s = setup
    since = "2000-01-01T00:00:00Z"  # with access, the history replays at once
    outcomes: Counter[str] = Counter()

    def frame(path: str, headers: dict[str, str] | None = None, **query: str) -> tuple[str, Any]:
        return asyncio.run(_first_frame(ws_url(s.server.api, path, since=since, **query), headers))

    for owner, other in ((s.a, s.b), (s.b, s.a)):
        wf, execution = owner.ids["workflow_id"], owner.ids["execution_id"]
        for path in (f"/ws/workflows/{wf}", f"/ws/workflows/{wf}/step/process"):
            for headers, query, expected_reason in (
                ({}, {}, "401"),
                ({"Authorization": "Bearer fst_nope"}, {}, "401"),
                ({}, {"token": "fst_nope"}, "401"),
                *(({}, {"token": other.tokens[r], "workspace_id": owner.id}, "403") for r in ROLES),
                *(({**other.auth(r), "X-Workspace-Slug": owner.slug}, {}, "403") for r in ROLES),
            ):
                kind, value = frame(path, headers, **query)
                outcomes[f"close 1008 {expected_reason}"] += 1
                assert kind == "close", f"{path} {query or headers}: {kind} {value} before any close"
                code, reason = value
                assert code == 1008 and reason.startswith(expected_reason), (path, value)
            for role in ROLES:  # the other workspace's tokens: W's id is unknown there, nothing of W
                for kind, value in (
                    frame(path, other.auth(role)),
                    frame(path, None, token=other.tokens[role]),
                ):
                    assert kind == "messages" and len(value) == 1, f"{path} {role}: {kind} {value}"
                    leaked = [m for m in owner.markers if m in str(value)]
                    assert value[0]["data"]["count"] == 0 and not leaked, (path, role, value)
                    outcomes["unknown id, empty replay"] += 1
            for role in ROLES:  # own tokens, by header and by query: the replayed history, only its own
                for kind, value in (
                    frame(path, owner.auth(role)),
                    frame(path, None, token=owner.tokens[role]),
                ):
                    assert kind == "messages", f"{path} {role}: {kind} {value}"
                    seen = {m["data"].get("execution_id") for m in value if m["event"] != "replay_complete"}
                    assert execution in seen and not seen & other.markers, (path, role, seen)
                    outcomes["replayed events"] += len(value) - 1
    print(f"\n[access/ws] 2 channels x 2 workspaces: {dict(outcomes)}")


def test_ingest_paths(setup: Setup) -> None:
    s = setup
    results: Counter[str] = Counter()
    codes = {
        401: grpc.StatusCode.UNAUTHENTICATED, 403: grpc.StatusCode.PERMISSION_DENIED, 200: grpc.StatusCode.OK,
    }  # fmt: skip

    def services(ws: Workspace) -> set[str]:
        return set(_ok(s.http.get("/api/services", headers=ws.auth("viewer")))["data"])

    for owner, other in ((s.a, s.b), (s.b, s.a)):
        cases: list[tuple[str, dict[str, str], int, Workspace | None]] = [
            ("anonymous", {}, 401, None),
            ("unknown token", {"authorization": "Bearer fst_nope"}, 401, None),
            ("viewer", {"authorization": f"Bearer {owner.tokens['viewer']}"}, 403, None),
            ("editor", {"authorization": f"Bearer {owner.tokens['editor']}"}, 200, owner),
            ("admin", {"authorization": f"Bearer {owner.tokens['admin']}"}, 200, owner),
            ("other editor naming this workspace",
             {"authorization": f"Bearer {other.tokens['editor']}", "x-workspace-id": owner.id}, 403, None),
            ("other admin naming this workspace",
             {"authorization": f"Bearer {other.tokens['admin']}", "x-workspace-slug": owner.slug}, 403, None),
        ]  # fmt: skip
        for label, headers, status, lands_in in cases:
            for transport in ("http", "grpc"):
                service = f"ingest-{transport}-{secrets.token_hex(4)}"
                request, _ = trace_request(2, service=service)
                # span and resource attributes never choose the workspace
                for attrs in (request.resource_spans[0].resource.attributes,
                              request.resource_spans[0].scope_spans[0].spans[0].attributes):
                    attrs.add(key="workspace_id").value.string_value = other.id
                    attrs.add(key="x-workspace-id").value.string_value = other.id
                body = request.SerializeToString()
                if transport == "http":
                    response = httpx.post(f"{s.server.otlp_http}/v1/traces", content=body,
                                          headers={"content-type": "application/x-protobuf", **headers})
                    assert response.status_code == status, (label, transport, response.text)
                else:
                    with grpc.insecure_channel(s.server.otlp_grpc) as channel:
                        call = channel.unary_unary(GRPC_TRACES)
                        try:
                            call(body, metadata=tuple(headers.items()), timeout=30)
                            code = grpc.StatusCode.OK
                        except grpc.RpcError as err:
                            code = err.code()
                    assert code == codes[status], (label, transport, code)
                results[f"{transport} {status}"] += 1
                assert (service in services(owner)) == (lands_in is owner), (label, transport)
                assert service not in services(other), (label, transport, "crossed workspaces")
    print(f"\n[access/ingest] {dict(results)}")

"""`serve --auth token`: the 401/403/404 matrix over the API and ingest, tokens made with
the CLI (on the file before the server starts, then through the API while it runs)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.client import Api
from tests.api.workflows import SEQUENCE
from tests.support.otlp import trace_request
from tests.support.server import RunningServer, start_server


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowscope", *args], capture_output=True, text=True, timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, str]]:
    db = tmp_path_factory.mktemp("auth") / "flowscope.duckdb"
    made = _cli(
        "token", "create", "--workspace", "default", "--role", "admin", "--server-admin", "--db", str(db)
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    srv = start_server(db, "--auth", "token")
    yield srv, made.stdout.strip()
    srv.terminate()


def _as(srv: RunningServer, token: str | None, **headers: str) -> Api:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return Api(srv.api, headers)


def _token(admin: Api, role: str) -> str:
    return admin.ok(admin.post("/api/tokens", json={"role": role, "name": role}), 201)["token"]  # type: ignore[no-any-return]


def test_matrix(secured: tuple[RunningServer, str]) -> None:
    srv, admin_secret = secured
    admin = _as(srv, admin_secret)
    viewer, editor = _as(srv, _token(admin, "viewer")), _as(srv, _token(admin, "editor"))
    anonymous, forged = _as(srv, None), _as(srv, "fst_forged")

    for client in (anonymous, forged):
        for response in (client.get("/api/workflows"), client.get("/api/workflows/executions/x/timeline")):
            assert response.status_code == 401
    assert "Bearer" in anonymous.get("/api/workflows").json()["detail"]

    # viewer reads; editor writes and executes; only admin manages tokens
    wf = editor.create_workflow(SEQUENCE)
    assert viewer.post("/api/workflows", json={"definition": SEQUENCE}).status_code == 403
    assert viewer.post(f"/api/workflows/{wf['id']}/execute", json={}).status_code == 403
    execution = editor.wait(editor.execute(wf["id"])["id"])  # the engine ingests with auth on
    assert execution["status"] == "completed"
    for path in (
        f"/api/workflows/executions/{execution['id']}/timeline",
        f"/api/workflows/{wf['id']}/metrics",
    ):
        assert viewer.get(path).status_code == 200
    assert viewer.post(f"/api/workflows/executions/{execution['id']}/cancel").status_code == 403
    assert editor.post(f"/api/workflows/executions/{execution['id']}/cancel").status_code == 409
    for client in (viewer, editor):
        assert client.post("/api/tokens", json={"role": "viewer"}).status_code == 403
        assert client.post("/api/workspaces", json={"slug": "nope"}).status_code == 403
    assert len(admin.ok(admin.get("/api/tokens"))) == 3

    # another workspace: the default tokens may not act there (403); its token sees none of ours (404)
    other = admin.ok(admin.post("/api/workspaces", json={"slug": "other"}), 201)
    assert other["admin_token"].startswith("fst_")
    in_other = _as(srv, other["admin_token"])
    assert [w["slug"] for w in in_other.ok(in_other.get("/api/workspaces"))] == ["other"]
    assert admin.get("/api/workflows", headers={"X-Workspace-Slug": "other"}).status_code == 403
    assert viewer.get("/api/workflows", params={"workspace_id": other["id"]}).status_code == 403
    assert in_other.get(f"/api/workflows/executions/{execution['id']}").status_code == 404
    assert in_other.get(f"/api/workflows/{wf['id']}").status_code == 404
    assert (
        in_other.get(f"/api/workflows/{wf['id']}", headers={"X-Workspace-Slug": "default"}).status_code == 403
    )

    # the token in a query parameter is for WebSockets only (browsers cannot set their
    # headers): on REST it would end up in logs and history, so it is refused, saying why
    by_query = httpx.get(f"{srv.api}/api/workflows", params={"token": admin_secret})
    assert by_query.status_code == 401 and "Authorization: Bearer" in by_query.json()["detail"]
    assert "WebSocket" in by_query.json()["detail"]
    # the same on the two routes api/shortcuts.py answers outside FastAPI's routing
    for refused in (
        httpx.get(f"{srv.api}/api/workflows/executions/{execution['id']}", params={"token": admin_secret}),
        httpx.post(f"{srv.api}/api/workflows/{wf['id']}/execute", params={"token": admin_secret}),
    ):
        assert (refused.status_code, refused.json()) == (401, by_query.json())


def test_ingest_needs_an_editor_token(secured: tuple[RunningServer, str]) -> None:
    srv, admin_secret = secured
    admin = _as(srv, admin_secret)
    body = trace_request(2)[0].SerializeToString()

    def post(token: str | None) -> int:
        headers = {"content-type": "application/x-protobuf"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        return httpx.post(f"{srv.otlp_http}/v1/traces", content=body, headers=headers).status_code

    assert post(None) == 401
    assert post(_token(admin, "viewer")) == 403
    assert post(_token(admin, "editor")) == 200


def test_revoked_token_stops_working(secured: tuple[RunningServer, str]) -> None:
    srv, admin_secret = secured
    admin = _as(srv, admin_secret)
    created = admin.ok(admin.post("/api/tokens", json={"role": "viewer"}), 201)
    assert _as(srv, created["token"]).get("/api/workflows").status_code == 200
    admin.ok(admin.delete(f"/api/tokens/{created['id']}"), 204)
    assert _as(srv, created["token"]).get("/api/workflows").status_code == 401
    assert admin.delete(f"/api/tokens/{created['id']}").status_code == 404


def test_cli_while_the_server_runs(secured: tuple[RunningServer, str]) -> None:
    srv, admin_secret = secured
    on_file = _cli("token", "create", "--workspace", "default", "--role", "viewer", "--db", str(srv.db))
    assert on_file.returncode == 1 and "--api" in on_file.stderr
    via_api = _cli(
        "token",
        "create",
        "--workspace",
        "default",
        "--role",
        "editor",
        "--api",
        srv.api,
        "--token",
        admin_secret,
    )
    assert via_api.returncode == 0, via_api.stderr
    assert _as(srv, via_api.stdout.strip()).get("/api/workflows").status_code == 200

"""Two workspaces with identically named workflows: nothing crosses; id, slug and query forms."""

from __future__ import annotations

import secrets

import pytest

from tests.api.client import Api
from tests.api.workflows import SEQUENCE


@pytest.fixture(scope="module")
def pair(root: Api) -> dict[str, tuple[Api, str, str]]:
    out = {}
    for name in ("alpha", "beta"):
        ws = root.new_workspace(f"{name}-{secrets.token_hex(3)}")
        wf = ws.create_workflow(SEQUENCE)  # same name in both
        execution = ws.wait(ws.execute(wf["id"])["id"])
        out[name] = (ws, wf["id"], execution["id"])
    return out


def _paths(wf: str, execution: str) -> list[str]:
    return [
        f"/api/workflows/{wf}", f"/api/workflows/{wf}/executions", f"/api/workflows/{wf}/metrics",
        f"/api/workflows/{wf}/steps/metrics", f"/api/workflows/executions/{execution}",
        f"/api/workflows/executions/{execution}/timeline",
        f"/api/workflows/executions/{execution}/steps/process", f"/api/workflows/executions/{execution}/logs",
    ]  # fmt: skip


def test_nothing_crosses(pair: dict[str, tuple[Api, str, str]]) -> None:
    for mine, other in (("alpha", "beta"), ("beta", "alpha")):
        ws, _, _ = pair[mine]
        _, wf, execution = pair[other]
        for path in _paths(wf, execution):
            response = ws.get(path)
            assert response.status_code == 404, path
            assert (wf in response.json()["detail"]) or (execution in response.json()["detail"])
        assert ws.post(f"/api/workflows/{wf}/execute", json={}).status_code == 404
        assert ws.post(f"/api/workflows/executions/{execution}/cancel").status_code == 404
        names = ws.ok(ws.get("/api/workflows", params={"name": "sequence"}))["items"]
        assert [w["id"] for w in names] == [pair[mine][1]]


def test_own_resources_visible(pair: dict[str, tuple[Api, str, str]]) -> None:
    for ws, wf, execution in pair.values():
        for path in _paths(wf, execution):
            assert ws.get(path).status_code == 200, path
        assert ws.ok(ws.get(f"/api/workflows/{wf}/executions"))["total"] == 1


def test_default_workspace_sees_none(root: Api, pair: dict[str, tuple[Api, str, str]]) -> None:
    for _, wf, execution in pair.values():
        assert root.get(f"/api/workflows/executions/{execution}").status_code == 404
        assert root.get(f"/api/workflows/{wf}/metrics").status_code == 404


def test_id_slug_and_query_parameters_agree(root: Api, pair: dict[str, tuple[Api, str, str]]) -> None:
    ws, _, execution = pair["alpha"]
    ws_id, slug = ws.workspace["id"], ws.workspace["slug"]  # type: ignore[attr-defined]
    path = f"/api/workflows/executions/{execution}/timeline"
    by_id = root.ok(root.get(path, headers={"X-Workspace-Id": ws_id}))
    by_slug = root.ok(root.get(path, headers={"X-Workspace-Slug": slug}))
    by_query_id = root.ok(root.get(path, params={"workspace_id": ws_id}))
    by_query_slug = root.ok(root.get(path, params={"workspace_slug": slug}))
    assert by_id == by_slug == by_query_id == by_query_slug
    lower = root.get(path, headers={"x-workspace-slug": slug})
    assert lower.status_code == 200
    unknown = root.get(path, headers={"X-Workspace-Slug": "no-such-slug"})
    assert unknown.status_code == 404 and "no-such-slug" in unknown.json()["detail"]
    assert root.get(path, headers={"X-Workspace-Id": "ws_nope"}).status_code == 404

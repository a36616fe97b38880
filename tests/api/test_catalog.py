"""Workspaces, projects and workflows (CRUD), validation problems, execute errors."""

from __future__ import annotations

import secrets

from tests.api.client import Api
from tests.api.workflows import CONDITIONAL, SEQUENCE, step


def test_workspaces(root: Api) -> None:
    slug = "ws-" + secrets.token_hex(3)
    created = root.ok(root.post("/api/workspaces", json={"slug": slug, "name": "Team"}), 201)
    assert created["slug"] == slug and created["name"] == "Team" and created["id"].startswith("ws_")
    assert created["admin_token"] is None  # auth off
    duplicate = root.post("/api/workspaces", json={"slug": slug})
    assert duplicate.status_code == 409 and slug in duplicate.json()["detail"]
    assert root.post("/api/workspaces", json={"slug": "Not A Slug"}).status_code == 422
    listed = root.ok(root.get("/api/workspaces"))
    assert {"default", created["id"]} <= {w["id"] for w in listed}
    assert root.ok(root.get(f"/api/workspaces/{created['id']}"))["slug"] == slug
    assert root.get("/api/workspaces/ws_nope").status_code == 404


def test_projects_crud(ws: Api) -> None:
    project = ws.ok(ws.post("/api/projects", json={"name": "ETL", "description": "nightly"}), 201)
    assert ws.ok(ws.get("/api/projects")) == [project]
    renamed = ws.ok(ws.patch(f"/api/projects/{project['id']}", json={"name": "ETL v2"}))
    assert renamed["name"] == "ETL v2" and renamed["description"] == "nightly"
    wf = ws.create_workflow(SEQUENCE, project_id=project["id"])
    in_use = ws.delete(f"/api/projects/{project['id']}")
    assert in_use.status_code == 409
    assert ws.ok(ws.get("/api/workflows", params={"project_id": project["id"]}))["total"] == 1
    ws.ok(ws.delete(f"/api/workflows/{wf['id']}"), 204)
    ws.ok(ws.delete(f"/api/projects/{project['id']}"), 204)
    missing = ws.get(f"/api/projects/{project['id']}")
    assert missing.status_code == 404 and project["id"] in missing.json()["detail"]
    assert (
        ws.post("/api/workflows", json={"definition": SEQUENCE, "project_id": "prj_nope"}).status_code == 404
    )


def test_workflow_crud(ws: Api) -> None:
    wf = ws.create_workflow(SEQUENCE, description="three steps")
    assert (wf["name"], wf["version"], wf["step_count"], wf["execution_count"]) == ("sequence", 1, 3, 0)
    assert wf["definition"] == SEQUENCE and wf["id"].startswith("wf_")
    assert ws.ok(ws.get(f"/api/workflows/{wf['id']}")) == wf
    listed = ws.ok(ws.get("/api/workflows", params={"name": "sequence"}))
    assert [w["id"] for w in listed["items"]] == [wf["id"]]
    new_definition = {**SEQUENCE, "steps": [*SEQUENCE["steps"], step("extra", depends_on=["finalize"])]}
    updated = ws.ok(ws.put(f"/api/workflows/{wf['id']}", json={"definition": new_definition, "name": "seq"}))
    assert (updated["version"], updated["step_count"], updated["name"]) == (2, 4, "seq")
    bad = ws.put(f"/api/workflows/{wf['id']}", json={"definition": {"name": "x", "steps": []}})
    assert bad.status_code == 422
    ws.ok(ws.delete(f"/api/workflows/{wf['id']}"), 204)
    for response in (ws.get(f"/api/workflows/{wf['id']}"), ws.delete(f"/api/workflows/{wf['id']}")):
        assert response.status_code == 404 and response.json()["detail"] == f"Workflow '{wf['id']}' not found"


def test_invalid_definition_lists_every_problem(ws: Api) -> None:
    definition = {
        "name": "broken",
        "steps": [
            {"id": "a", "action": {"type": "no_such_action"}, "depends_on": ["zz"]},
            {"id": "a", "action": {"type": "delay", "params": {"seconds": -1}}, "condition": "nope +"},
        ],
    }
    response = ws.post("/api/workflows", json={"definition": definition})
    assert response.status_code == 422
    problems = response.json()["detail"]
    locations = {p["location"] for p in problems}
    assert {
        "steps[0].depends_on[0]",
        "steps[0].action.type",
        "steps[1].id",
        "steps[1].condition",
    } <= locations
    assert any(p["location"].startswith("steps[1].action.params") for p in problems)
    first = next(p for p in problems if p["location"] == "steps[0].depends_on[0]")
    assert first["loc"] == ["body", "definition", "steps", 0, "depends_on", 0] and "zz" in first["msg"]
    assert ws.post("/api/workflows", json={"definition": "not an object"}).status_code == 422


def test_execute_errors(ws: Api) -> None:
    assert ws.post("/api/workflows/wf_nope/execute", json={}).status_code == 404
    wf = ws.create_workflow(CONDITIONAL)  # `mode` is required
    missing = ws.post(f"/api/workflows/{wf['id']}/execute", json={"input_variables": {}})
    assert missing.status_code == 422 and "mode" in str(missing.json()["detail"])
    unknown = ws.post(
        f"/api/workflows/{wf['id']}/execute", json={"input_variables": {"mode": "fast", "x": 1}}
    )
    assert unknown.status_code == 422 and "x" in str(unknown.json()["detail"])
    started = ws.execute(wf["id"], {"mode": "fast"})
    assert started["execution_number"] == 1  # rejected requests take no number
    assert ws.execute(wf["id"], {"mode": "standard"})["execution_number"] == 2
    assert ws.ok(ws.get(f"/api/workflows/{wf['id']}"))["execution_count"] == 2


def test_deleted_workflow_keeps_its_executions(ws: Api) -> None:
    wf = ws.create_workflow(SEQUENCE)
    execution = ws.wait(ws.execute(wf["id"])["id"])
    ws.ok(ws.delete(f"/api/workflows/{wf['id']}"), 204)
    timeline = ws.ok(ws.get(f"/api/workflows/executions/{execution['id']}/timeline"))
    assert [s["step_id"] for s in timeline["step_timeline"]] == ["initialize", "process", "finalize"]
    assert ws.ok(ws.get(f"/api/workflows/{wf['id']}/executions"))["total"] == 1

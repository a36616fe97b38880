"""Step details, logs, truncated summaries, 404s naming the id, CORS."""

from __future__ import annotations

import json

import pytest

from tests.api.client import Api
from tests.api.conftest import CORS_ORIGIN
from tests.api.workflows import FAILING, step

BIG = {
    "name": "big-output",
    "steps": [step("produce", params={"output": {"rows": [{"i": i, "v": "x" * 100} for i in range(200)]}})],
}


@pytest.fixture(scope="module")
def failed(root: Api) -> tuple[Api, dict]:
    ws = root.new_workspace()
    return ws, ws.wait(ws.execute(ws.create_workflow(FAILING)["id"])["id"])


def test_logs_all_and_per_step(failed: tuple[Api, dict]) -> None:
    ws, execution = failed
    logs = ws.ok(ws.get(f"/api/workflows/executions/{execution['id']}/logs"))
    events = [r["event_name"] for r in logs["items"]]
    assert events[:2] == ["workflow.execution.queued", "workflow.execution.started"]
    assert logs["total"] == len(logs["items"]) and "workflow.step.retrying" in events
    times = [r["timestamp"] for r in logs["items"]]
    assert times == sorted(times)
    only_b = ws.ok(ws.get(f"/api/workflows/executions/{execution['id']}/logs", params={"step_id": "b"}))
    assert {r["step_id"] for r in only_b["items"]} == {"b"}
    assert [r["event_name"] for r in only_b["items"]] == ["workflow.step.started", "workflow.step.retrying"]
    assert only_b["items"][1]["attributes"]["workflow.step.retry_count"] == 1
    paged = ws.ok(ws.get(f"/api/workflows/executions/{execution['id']}/logs", params={"skip": 1, "limit": 1}))
    assert paged["items"] == logs["items"][1:2] and paged["total"] == logs["total"]


def test_step_by_id_or_span_id(failed: tuple[Api, dict]) -> None:
    ws, execution = failed
    by_step = ws.ok(ws.get(f"/api/workflows/executions/{execution['id']}/steps/a"))
    by_span = ws.ok(ws.get(f"/api/workflows/executions/{execution['id']}/steps/{by_step['id']}"))
    assert by_step == by_span and by_step["step_name"] == "Prepare" and len(by_step["id"]) == 16
    skipped = ws.ok(ws.get(f"/api/workflows/executions/{execution['id']}/steps/c"))
    assert skipped["status"] == "skipped" and skipped["attempts"] == [] and skipped["skip_reason"]


def test_not_found_names_the_id(failed: tuple[Api, dict]) -> None:
    ws, execution = failed
    missing = "f" * 32
    for suffix in ("", "/timeline", "/steps/a", "/logs"):
        response = ws.get(f"/api/workflows/executions/{missing}{suffix}")
        assert response.status_code == 404 and response.json() == {
            "detail": f"Execution '{missing}' not found"
        }
    step_404 = ws.get(f"/api/workflows/executions/{execution['id']}/steps/nope")
    assert step_404.status_code == 404 and "'nope'" in step_404.json()["detail"]


def test_large_output_is_summarized_and_marked(ws: Api) -> None:
    execution = ws.wait(ws.execute(ws.create_workflow(BIG)["id"])["id"])
    timeline = ws.ok(ws.get(f"/api/workflows/executions/{execution['id']}/timeline"))
    summary = timeline["step_timeline"][0]["output_summary"]
    assert summary["_truncated"] is True and len(json.dumps(summary)) <= 2200
    full = ws.ok(ws.get(f"/api/workflows/executions/{execution['id']}/steps/produce"))
    assert full["output_truncated"] is True  # the engine capped the attribute; what it kept is returned
    assert isinstance(full["output_data"], str) and len(full["output_data"]) > 4000


def test_cors(root: Api) -> None:
    preflight = root.http.options(
        "/api/workflows",
        headers={"Origin": CORS_ORIGIN, "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "x-workspace-id"},
    )  # fmt: skip
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == CORS_ORIGIN
    other = root.get("/api/workflows", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers

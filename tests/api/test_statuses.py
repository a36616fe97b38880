"""Every execution status, conditional skips and retries, as the real engine produces them."""

from __future__ import annotations

from tests.api.client import Api
from tests.api.workflows import CONDITIONAL, FAILING, SLOW, TIMEOUT


def _timeline(ws: Api, execution_id: str) -> dict:
    return ws.ok(ws.get(f"/api/workflows/executions/{execution_id}/timeline"))  # type: ignore[no-any-return]


def test_failed_with_retries_and_skip(ws: Api) -> None:
    wf = ws.create_workflow(FAILING)
    execution = ws.wait(ws.execute(wf["id"])["id"])
    assert execution["status"] == "failed"
    assert execution["error_message"] and "b" in execution["error_message"]
    assert [h["status"] for h in execution["status_history"]] == ["pending", "running", "failed"]
    timeline = _timeline(ws, execution["id"])
    steps = {s["step_id"]: s for s in timeline["step_timeline"]}
    assert [s["step_id"] for s in timeline["step_timeline"]] == ["a", "b", "c", "d"]
    assert steps["b"]["status"] == "failed" and steps["b"]["retry_count"] == 1 and steps["b"]["attempts"] == 2
    assert steps["b"]["error_message"] == "boom"
    assert steps["b"]["wait_seconds"] > 0.03  # the backoff between the two attempts
    assert steps["c"]["status"] == "skipped" and "mode" in steps["c"]["skip_reason"]
    assert steps["d"]["status"] == "completed"
    counts = (timeline["failed_step_count"], timeline["skipped_step_count"], timeline["completed_step_count"])
    assert counts == (1, 1, 2)
    assert timeline["error_message"] == execution["error_message"]
    step_b = ws.ok(ws.get(f"/api/workflows/executions/{execution['id']}/steps/b"))
    assert [a["status"] for a in step_b["attempts"]] == ["failed", "failed"]
    assert step_b["input_data"]["fail_probability"] == 1
    assert any(e["name"] == "exception" for e in step_b["events"])


def test_conditional_runs_one_branch(ws: Api) -> None:
    wf = ws.create_workflow(CONDITIONAL)
    for mode in ("fast", "thorough"):
        execution = ws.wait(ws.execute(wf["id"], {"mode": mode})["id"])
        assert execution["status"] == "completed"
        statuses = {s["step_id"]: s["status"] for s in execution["step_executions"]}
        branches = {"fast", "standard", "thorough"}
        assert statuses[mode] == "completed"
        assert all(statuses[b] == "skipped" for b in branches - {mode})
        assert statuses["aggregate"] == "completed"
        timeline = _timeline(ws, execution["id"])
        assert timeline["skipped_step_count"] == 2
        assert timeline["critical_path"] == ["evaluate", mode, "aggregate"]


def test_running_pending_steps_then_cancelled(ws: Api) -> None:
    wf = ws.create_workflow(SLOW)
    started = ws.execute(wf["id"])
    assert started["status"] == "pending" and started["execution_number"] == 1
    # While running: the long step is running (from its started record), the last one pending.
    timeline = ws.wait_until(
        f"/api/workflows/executions/{started['id']}/timeline",
        lambda t: [s["status"] for s in t["step_timeline"]] == ["completed", "running", "pending"],
    )
    assert timeline["status"] == "running" and timeline["completed_at"] is None
    assert timeline["total_duration_seconds"] is None
    assert timeline["step_timeline"][2]["started_at"] is None
    running = ws.details(started["id"])
    assert running["status"] == "running" and running["completed_at"] is None and running["results"] is None
    listed = ws.ok(ws.get(f"/api/workflows/{wf['id']}/executions", params={"status": "running"}))
    assert [i["id"] for i in listed["items"]] == [started["id"]]
    metrics = ws.ok(ws.get(f"/api/workflows/{wf['id']}/metrics"))
    assert metrics["running_executions"] == 1 and metrics["total_executions"] == 0

    cancel = ws.ok(ws.post(f"/api/workflows/executions/{started['id']}/cancel"), 202)
    assert cancel["cancel_requested"] is True
    execution = ws.wait(started["id"])
    assert execution["status"] == "cancelled"
    assert [h["status"] for h in execution["status_history"]] == ["pending", "running", "cancelled"]
    again = ws.post(f"/api/workflows/executions/{started['id']}/cancel")
    assert again.status_code == 409 and "already finished" in again.json()["detail"]
    metrics = ws.ok(ws.get(f"/api/workflows/{wf['id']}/metrics"))
    assert (metrics["cancelled_executions"], metrics["total_executions"], metrics["running_executions"]) == (
        1,
        1,
        0,
    )
    assert metrics["failed_executions"] == 0 and metrics["success_rate"] == 0.0


def test_timeout(ws: Api) -> None:
    wf = ws.create_workflow(TIMEOUT)
    execution = ws.wait(ws.execute(wf["id"])["id"])
    assert execution["status"] == "timeout"
    assert execution["error_message"]
    metrics = ws.ok(ws.get(f"/api/workflows/{wf['id']}/metrics"))
    assert metrics["failed_executions"] == 1 and metrics["timeout_executions"] == 1


def test_cancel_unknown_execution_is_404(ws: Api) -> None:
    response = ws.post("/api/workflows/executions/" + "0" * 32 + "/cancel")
    assert response.status_code == 404 and "0" * 32 in response.json()["detail"]

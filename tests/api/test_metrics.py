"""Workflow metrics (definitions per issue 4) and per-step metrics over real executions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.api.client import Api
from tests.api.workflows import FAILING

# One step whose duration and failure come from the inputs; the whole run times out at 1 s.
MIXED = {
    "name": "mixed",
    "timeout_seconds": 1.0,
    "inputs": {"seconds": {"type": "number", "default": 0.01}, "fail": {"type": "number", "default": 0}},
    "steps": [
        {
            "id": "work",
            "action": {
                "type": "delay",
                "params": {"seconds": "${{ seconds }}", "fail_probability": "${{ fail }}"},
            },
        }
    ],
}


@pytest.fixture(scope="module")
def mixed(root: Api) -> tuple[Api, str, list[dict]]:
    ws = root.new_workspace()
    wf = ws.create_workflow(MIXED)["id"]
    runs = [{"seconds": s} for s in (0.01, 0.05, 0.1)] + [{"fail": 1}, {"fail": 1}] + [{"seconds": 5}]
    started = [ws.execute(wf, inputs)["id"] for inputs in runs]
    to_cancel = ws.execute(wf, {"seconds": 30})["id"]
    ws.wait(to_cancel, {"running"})
    ws.post(f"/api/workflows/executions/{to_cancel}/cancel")
    return ws, wf, [ws.wait(e) for e in [*started, to_cancel]]


def test_definitions(mixed: tuple[Api, str, list[dict]]) -> None:
    ws, wf, finished = mixed
    m = ws.ok(ws.get(f"/api/workflows/{wf}/metrics"))
    by_status = [e["status"] for e in finished]
    assert sorted(by_status) == sorted(["completed"] * 3 + ["failed"] * 2 + ["timeout", "cancelled"])
    assert m["total_executions"] == 7  # finished: completed + failed + cancelled + timeout
    assert m["successful_executions"] == 3
    assert m["failed_executions"] == 3  # failed + timeout
    assert m["timeout_executions"] == 1 and m["cancelled_executions"] == 1
    assert m["running_executions"] == 0 and m["pending_executions"] == 0  # running: see test_statuses
    assert m["success_rate"] == pytest.approx(100 * 3 / 7)
    durations = [e["duration"] for e in finished]
    assert m["total_duration_seconds"] == pytest.approx(sum(durations))
    assert m["average_duration_seconds"] == pytest.approx(sum(durations) / 7)
    assert m["min_duration_seconds"] == pytest.approx(min(durations))
    assert m["max_duration_seconds"] == pytest.approx(max(durations))
    q = [m[f"p{p}_duration_seconds"] for p in (50, 90, 95, 99)]
    assert m["min_duration_seconds"] <= q[0] <= q[1] <= q[2] <= q[3] <= m["max_duration_seconds"]


def test_time_window(mixed: tuple[Api, str, list[dict]]) -> None:
    ws, wf, finished = mixed
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    empty = ws.ok(ws.get(f"/api/workflows/{wf}/metrics", params={"since": later}))
    assert empty["total_executions"] == 0 and empty["success_rate"] == 0.0
    assert empty["average_duration_seconds"] == 0.0 and empty["min_duration_seconds"] is None
    first = min(finished, key=lambda e: e["started_at"])
    until = ws.ok(ws.get(f"/api/workflows/{wf}/metrics", params={"until": first["started_at"]}))
    assert until["total_executions"] == 0
    window = ws.ok(
        ws.get(f"/api/workflows/{wf}/metrics", params={"since": first["started_at"], "until": later})
    )
    assert window["total_executions"] == 7
    assert ws.get(f"/api/workflows/{wf}/metrics", params={"since": "yesterday"}).status_code == 422


def test_unknown_workflow_metrics_404(ws: Api) -> None:
    for path in ("/api/workflows/wf_nope/metrics", "/api/workflows/wf_nope/steps/metrics"):
        response = ws.get(path)
        assert response.status_code == 404 and "'wf_nope'" in response.json()["detail"]


def test_known_workflow_without_executions_has_zero_metrics(ws: Api) -> None:
    wf = ws.create_workflow(MIXED)["id"]
    m = ws.ok(ws.get(f"/api/workflows/{wf}/metrics"))
    assert m["total_executions"] == 0 and m["success_rate"] == 0.0 and m["max_duration_seconds"] is None
    assert ws.ok(ws.get(f"/api/workflows/{wf}/steps/metrics"))["steps"] == []


def test_step_metrics(ws: Api) -> None:
    wf = ws.create_workflow(FAILING)["id"]
    for _ in range(2):
        ws.wait(ws.execute(wf)["id"])
    result = ws.ok(ws.get(f"/api/workflows/{wf}/steps/metrics"))
    steps = {s["step_id"]: s for s in result["steps"]}
    assert next(s["step_id"] for s in result["steps"]) == "a"  # in the order steps run
    assert (
        steps["a"]["step_name"] == "Prepare" and steps["a"]["runs"] == 2 and steps["a"]["failure_rate"] == 0
    )
    assert steps["b"]["failed"] == 2 and steps["b"]["failure_rate"] == 100.0
    assert steps["b"]["retries"] == 2 and steps["b"]["runs_with_retries"] == 2
    assert steps["c"]["skipped"] == 2 and steps["c"]["p50_duration_seconds"] is None
    assert steps["d"]["completed"] == 2
    assert steps["b"]["p50_duration_seconds"] <= steps["b"]["p95_duration_seconds"]
    total_share = sum(s["share_of_execution_time"] or 0 for s in result["steps"])
    assert 50 < total_share <= 100.5

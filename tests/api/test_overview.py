"""The web UI's read endpoints: /api/overview, /api/workflows/{id}/durations,
/api/workflows/executions/{id}/attempts and /api/whoami."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.api.client import TERMINAL, Api
from tests.api.workflows import FAILING, SEQUENCE, SLOW
from tests.support.server import RunningServer


def _summary(ws: Api, workflow_id: str, **params: object) -> dict:
    found = [
        w
        for w in ws.ok(ws.get("/api/overview", params=params))["workflows"]
        if w["workflow_id"] == workflow_id
    ]
    assert len(found) == 1, found
    return found[0]  # type: ignore[no-any-return]


def test_overview_agrees_with_the_metrics_endpoint(ws: Api) -> None:
    sequence = ws.create_workflow(SEQUENCE)["id"]
    failing = ws.create_workflow(FAILING)["id"]
    idle = ws.create_workflow({**SEQUENCE, "name": "never run"})["id"]
    for wf in (sequence, sequence, failing):
        ws.wait(ws.execute(wf)["id"])
    last = ws.wait(ws.execute(sequence)["id"])
    for wf in (sequence, failing):
        summary = _summary(ws, wf)
        metrics = ws.ok(ws.get(f"/api/workflows/{wf}/metrics"))
        for key in ("total_executions", "successful_executions", "success_rate", "p50_duration_seconds",
                    "p95_duration_seconds", "running_executions", "pending_executions"):  # fmt: skip
            assert summary[key] == pytest.approx(metrics[key]), key
        assert summary["catalogued"] is True and summary["service_name"]
    s = _summary(ws, sequence)
    assert (s["last_execution_id"], s["last_status"], s["name"]) == (last["id"], "completed", "sequence")
    assert _summary(ws, failing)["last_status"] == "failed"
    assert len(s["executions_per_day"]) == 14 and s["executions_per_day"][-1]["executions"] == 3
    assert sum(d["failed"] for d in _summary(ws, failing)["executions_per_day"]) == 1
    never = _summary(ws, idle, days=3)
    assert (never["last_status"], never["total_executions"], never["success_rate"]) == (None, 0, 0.0)
    assert [d["executions"] for d in never["executions_per_day"]] == [0, 0, 0]
    # A window that ends before everything: nothing finished in it, the last run still shown.
    past = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    s = _summary(ws, sequence, until=past)
    assert (s["total_executions"], s["p95_duration_seconds"], s["last_status"]) == (0, None, "completed")


def test_overview_counts_running_now(ws: Api) -> None:
    wf = ws.create_workflow(SLOW)["id"]
    started = ws.execute(wf)["id"]
    ws.wait(started, {"running"})
    try:
        assert _summary(ws, wf)["running_executions"] == 1
    finally:
        ws.post(f"/api/workflows/executions/{started}/cancel")
    ws.wait(started)


def test_foreign_workflows_appear_beside_catalogued_ones(api_server: RunningServer, root: Api) -> None:
    ws = root.new_workspace()
    program = Path(__file__).with_name("foreign_tracer.py")
    done = subprocess.run(
        [sys.executable, str(program), api_server.otlp_http, ws.workspace["id"]],  # type: ignore[attr-defined]
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    ids = json.loads(done.stdout)
    ws.wait_until(f"/api/workflows/executions/{ids['cicd']}", lambda d: d["status"] in TERMINAL)
    catalogued = ws.create_workflow(SEQUENCE)["id"]
    overview = ws.ok(ws.get("/api/overview"))["workflows"]
    by_id = {w["workflow_id"]: w for w in overview}
    assert {"nightly-build", catalogued} <= by_id.keys()
    foreign = by_id["nightly-build"]
    assert (foreign["catalogued"], foreign["service_name"], foreign["last_status"]) == (
        False,
        "ci-runner",
        "failed",
    )
    assert by_id[catalogued]["catalogued"] is True


def test_durations(ws: Api) -> None:
    wf = ws.create_workflow(SEQUENCE)["id"]
    ids = [ws.wait(ws.execute(wf)["id"])["id"] for _ in range(3)]
    full = ws.ok(ws.get(f"/api/workflows/{wf}/durations"))
    assert [p["execution_id"] for p in full["points"]] == ids  # oldest first
    assert full["total"] == 3 and all(
        p["status"] == "completed" and p["duration_seconds"] > 0 for p in full["points"]
    )
    newest = ws.ok(ws.get(f"/api/workflows/{wf}/durations", params={"limit": 2}))
    assert [p["execution_id"] for p in newest["points"]] == ids[1:] and newest["total"] == 3
    assert ws.get(f"/api/workflows/{wf}/durations", params={"limit": 2001}).status_code == 422
    missing = ws.get("/api/workflows/no-such-workflow/durations")
    assert missing.status_code == 404 and "no-such-workflow" in missing.json()["detail"]


def test_attempts(ws: Api) -> None:
    execution = ws.wait(ws.execute(ws.create_workflow(FAILING)["id"])["id"])
    steps = {
        s["step_id"]: s
        for s in ws.ok(ws.get(f"/api/workflows/executions/{execution['id']}/attempts"))["steps"]
    }
    assert set(steps) == {"a", "b", "d"}  # c was skipped: it never ran
    b = steps["b"]["attempts"]
    assert [(a["attempt"], a["status"], a["error_message"]) for a in b] == [
        (1, "failed", "boom"),
        (2, "failed", "boom"),
    ]
    assert b[0]["completed_at"] <= b[1]["started_at"]  # the backoff lies between them
    details = ws.ok(ws.get(f"/api/workflows/executions/{execution['id']}/steps/b"))
    assert [a["span_id"] for a in details["attempts"]] == [a["span_id"] for a in b]
    assert ws.get(f"/api/workflows/executions/{'0' * 32}/attempts").status_code == 404


def test_whoami(ws: Api, root: Api) -> None:
    me = root.ok(root.get("/api/whoami"))
    assert me == {
        "workspace_id": "default", "workspace_slug": "default", "workspace_name": me["workspace_name"],
        "role": "admin", "auth_required": False,
    }  # fmt: skip
    other = ws.ok(ws.get("/api/whoami"))
    assert (other["workspace_id"], other["workspace_slug"]) == (ws.workspace["id"], ws.workspace["slug"])  # type: ignore[attr-defined]
    assert root.get("/api/whoami", headers={"X-Workspace-Slug": "nope-nope"}).status_code in (403, 404)

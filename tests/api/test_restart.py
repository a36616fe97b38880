"""A crash mid-execution: after restart the execution is closed as failed ("interrupted")
through a real root span. Then the spec's SQL views, read from the file."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from tests.api.client import Api
from tests.api.workflows import SEQUENCE, SLOW
from tests.support.server import start_server


def test_interrupted_execution_is_closed_and_views_match(tmp_path: Path) -> None:
    db = tmp_path / "flowscope.duckdb"
    first = start_server(db)
    try:
        api = Api(first.api)
        done = api.wait(api.execute(api.create_workflow(SEQUENCE)["id"])["id"])
        process = api.ok(api.get(f"/api/workflows/executions/{done['id']}/steps/process"))
        slow = api.execute(api.create_workflow(SLOW)["id"])
        api.wait_until(
            f"/api/workflows/executions/{slow['id']}/timeline",
            lambda t: [s["status"] for s in t["step_timeline"]] == ["completed", "running", "pending"],
        )
    finally:
        first.kill()  # SIGKILL: the engine never ends the execution

    second = start_server(db)
    try:
        api = Api(second.api)
        closed = api.wait(slow["id"], timeout=15)
        assert closed["status"] == "failed" and "interrupted" in closed["error_message"]
        assert closed["error_type"] == "interrupted"
        assert [h["status"] for h in closed["status_history"]] == ["pending", "running", "failed"]
        timeline = api.ok(api.get(f"/api/workflows/executions/{slow['id']}/timeline"))
        statuses = [(s["step_id"], s["status"]) for s in timeline["step_timeline"]]
        assert statuses == [("quick", "completed"), ("long", "failed")]
        assert "did not finish" in timeline["step_timeline"][1]["error_message"]
        listed = api.ok(
            api.get(f"/api/workflows/{slow['workflow_id']}/executions", params={"status": "failed"})
        )
        assert [i["id"] for i in listed["items"]] == [slow["id"]]
    finally:
        assert second.terminate() == 0

    # The file is free again: the spec's views answer in plain SQL.
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute(
            "SELECT status, error_message, execution_number, duration > 0, started_at < completed_at "
            "FROM workflow_executions WHERE id = ?",
            [slow["id"]],
        ).fetchone()
        assert row[0] == "failed" and "interrupted" in row[1] and row[2:] == (1, True, True)
        steps = con.execute(
            "SELECT step_id, status, retry_count, input_data, output_data, duration "
            "FROM workflow_step_executions WHERE execution_id = ? ORDER BY started_at",
            [done["id"]],
        ).fetchall()
        assert [s[:3] for s in steps] == [("initialize", "completed", 0), ("process", "completed", 0),
                                          ("finalize", "completed", 0)]  # fmt: skip
        assert json.loads(steps[1][3]) == process["input_data"]
        assert json.loads(steps[1][4]) == process["output_data"] == {"results": "success"}
        assert steps[1][5] == process["duration"]

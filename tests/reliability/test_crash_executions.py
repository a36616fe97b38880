"""SIGKILL `flowscope serve` while the real engine runs several executions (started through
the REST API), restart it on the same file, repeatedly: every execution the killed process
left pending or running becomes `failed` with an "interrupted" error in the details, the
executions list and the timeline (no step stays running), and new executions run normally.

tests/api/test_restart.py covers one execution once; this is many at once, across cycles,
at random moments (FLOWSCOPE_SOAK=1: more cycles).
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from tests.api.client import Api
from tests.api.workflows import SEQUENCE, step
from tests.reliability.support import soak
from tests.support.server import start_server

CYCLES = 12 if soak() else 3
RUNS_PER_CYCLE = 4

# Two long branches in parallel after a quick step, then a join: killed mid-run, the quick step
# has completed, the long ones are running and the join was never reached.
LONG: dict[str, Any] = {
    "name": "crash-long",
    "steps": [
        step("prepare", 0.02),
        step("left", 60, depends_on=["prepare"]),
        step("right", 60, depends_on=["prepare"]),
        step("join", 0.01, depends_on=["left", "right"]),
    ],
}


def _check_interrupted(api: Api, workflow_id: str, killed: list[str]) -> None:
    for execution_id in killed:
        details = api.wait(execution_id, timeout=20)
        assert details["status"] == "failed", details
        assert "interrupted" in (details["error_message"] or ""), details["error_message"]
        timeline = api.ok(api.get(f"/api/workflows/executions/{execution_id}/timeline"))
        steps = {s["step_id"]: s["status"] for s in timeline["step_timeline"]}
        assert "running" not in steps.values(), steps
        assert steps.get("left") in (None, "failed") and steps.get("right") in (None, "failed"), steps
    listed = api.ok(
        api.get(f"/api/workflows/{workflow_id}/executions", params={"status": "failed", "limit": 100})
    )
    assert set(killed) <= {i["id"] for i in listed["items"]}
    for status in ("running", "pending"):
        still = api.ok(api.get(f"/api/workflows/{workflow_id}/executions", params={"status": status}))
        assert still["total"] == 0, f"{still['total']} executions still {status}"


def test_sigkill_during_executions_closes_them_as_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "exec-crash.duckdb"
    rng = random.Random(11)
    killed: list[str] = []
    workflow_ids: dict[str, str] = {}
    closed = completed_after = 0
    started = time.monotonic()
    for cycle in range(CYCLES + 1):
        server = start_server(db)
        try:
            api = Api(server.api)
            if not workflow_ids:
                workflow_ids["long"] = api.create_workflow(LONG)["id"]
                workflow_ids["quick"] = api.create_workflow(SEQUENCE)["id"]
            if killed:
                _check_interrupted(api, workflow_ids["long"], killed)
                closed += len(killed)
                # the restarted engine runs new executions normally
                done = api.wait(api.execute(workflow_ids["quick"])["id"])
                assert done["status"] == "completed", done
                completed_after += 1
            if cycle == CYCLES:
                break
            killed = [api.execute(workflow_ids["long"])["id"] for _ in range(RUNS_PER_CYCLE)]
            if cycle % 2:  # sometimes only once the long steps are known to run
                api.wait(killed[-1], statuses={"running"}, timeout=10)
            time.sleep(rng.uniform(0.05, 1.0))
        finally:
            server.kill()
    elapsed = time.monotonic() - started
    assert closed == CYCLES * RUNS_PER_CYCLE
    print(
        f"\n[crash/executions] {CYCLES} SIGKILL cycles x {RUNS_PER_CYCLE} running executions: "
        f"{closed} closed as failed/interrupted after restart, {completed_after} new executions completed "
        f"({elapsed:.1f}s)"
    )

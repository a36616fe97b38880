"""The engine across nodes (issue 14): several real `serve` nodes on one DuckLake (the tests'
PostgreSQL), real HTTP. An execution started on one node is cancelled through another; a
node SIGKILLed mid-execution has its executions closed as failed ("interrupted") by a live
node, which leaves its own and other live nodes' running executions alone, also when the
dead node restarts; a cancel for an execution whose node is dead answers 409 naming it; a
node stalled past the limit is closed like a dead one, and is a node again afterwards."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowscope.compose import preflight
from flowscope.settings import Settings
from tests.api.client import Api
from tests.api.workflows import SLOW
from tests.storage.lake_nodes import Lake
from tests.support.postgres import Postgres

HEARTBEAT_S = 0.5
STALE_S = 5.0  # ten heartbeats: a loaded test machine must not make a live node look dead
TIMEOUT_S = 60.0


@pytest.fixture
def lake(postgres: Postgres, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Lake]:
    found = Lake(
        postgres, tmp_path, "nodes_" + request.node.name.removeprefix("test_")[:40],
        "--node-heartbeat-seconds", str(HEARTBEAT_S), "--node-stale-seconds", str(STALE_S),
    )  # fmt: skip
    yield found
    found.close()


def _running(api: Api, execution_id: str) -> None:
    """Until its long step runs (read through `api`: any node reads the one lake)."""
    api.wait_until(
        f"/api/workflows/executions/{execution_id}/timeline",
        lambda t: [s["status"] for s in t["step_timeline"]] == ["completed", "running", "pending"],
        timeout=TIMEOUT_S,
    )


def _status(api: Api, execution_id: str) -> str:
    return str(api.details(execution_id)["status"])


def _interrupted(details: dict[str, Any]) -> bool:
    return details["status"] == "failed" and details["error_type"] == "interrupted"


def test_an_execution_started_on_one_node_is_cancelled_through_another(lake: Lake) -> None:
    a, b = Api(lake.node("a").api), Api(lake.node("b").api)
    workflow = a.create_workflow(SLOW)
    started = a.execute(workflow["id"])
    _running(b, started["id"])

    asked = time.monotonic()
    answer = b.post(f"/api/workflows/executions/{started['id']}/cancel")
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"id": started["id"], "status": "running", "cancel_requested": True}
    cancelled = b.wait(started["id"], timeout=TIMEOUT_S)
    latency = time.monotonic() - asked
    assert cancelled["status"] == "cancelled"
    assert [h["status"] for h in cancelled["status_history"]] == ["pending", "running", "cancelled"]
    assert _status(a, started["id"]) == "cancelled"
    steps = {s["step_id"]: s["status"] for s in a.details(started["id"])["step_executions"]}
    assert steps == {"quick": "completed", "long": "cancelled", "after": "cancelled"}
    print(f"cancel through another node: cancelled as read from it {latency:.2f} s after the 202")

    again = b.post(f"/api/workflows/executions/{started['id']}/cancel")
    assert again.status_code == 409 and "already finished (cancelled)" in again.json()["detail"]


def test_a_dead_nodes_executions_are_closed_and_live_ones_kept(lake: Lake) -> None:
    node_a, node_b, node_c = lake.node("a"), lake.node("b"), lake.node("c")
    a, b = Api(node_a.api), Api(node_b.api)
    workflow = a.create_workflow(SLOW)
    on_a, on_c = a.execute(workflow["id"]), Api(node_c.api).execute(workflow["id"])
    _running(a, on_a["id"])
    _running(a, on_c["id"])

    node_c.kill()  # SIGKILL: its engine never ends on_c, nor says anything
    restarted = Api(lake.node("c").api)  # a restart of c (same files): a new node
    closed = restarted.wait(on_c["id"], timeout=TIMEOUT_S)
    assert _interrupted(closed), closed
    assert [h["status"] for h in closed["status_history"]] == ["pending", "running", "failed"]
    assert _interrupted(b.details(on_c["id"]))
    # a and b both watched c die: one of them closed it, once (one root span).
    trace = a.ok(a.get(f"/api/traces/{on_c['id']}"))["data"][0]
    assert [s["operationName"] for s in trace["spans"] if not s["references"]] == ["RUN slow"]
    # The live node's execution was left alone, by the restarted node and by whoever closed c's.
    assert _status(a, on_a["id"]) == "running" and _status(restarted, on_a["id"]) == "running"

    answer = restarted.post(f"/api/workflows/executions/{on_a['id']}/cancel")
    assert answer.status_code == 202, answer.text
    assert restarted.wait(on_a["id"], timeout=TIMEOUT_S)["status"] == "cancelled"


def test_a_cancel_for_a_dead_nodes_execution_says_so(lake: Lake) -> None:
    node_a = lake.node("a")
    a = Api(node_a.api)
    started = a.execute(a.create_workflow(SLOW)["id"])
    _running(a, started["id"])
    node_a.kill()

    # A node started after a's death watches for STALE_S before it closes anything (it must
    # hear every live node first); a is dead by then (its last heartbeat came before it died).
    b = Api(lake.node("b").api)
    path = f"/api/workflows/executions/{started['id']}/cancel"
    deadline = time.monotonic() + TIMEOUT_S
    answers: list[tuple[int, str]] = []
    while time.monotonic() < deadline:
        response = b.post(path)
        answers.append((response.status_code, response.json().get("detail", "")))
        if "already finished" in answers[-1][1]:
            break
        time.sleep(0.1)
    dead = [detail for status, detail in answers if status == 409 and "has not been heard of" in detail]
    assert dead, answers
    assert "cannot be cancelled: its node" in dead[0] and "closes its executions as failed" in dead[0]
    assert answers[-1][0] == 409 and "already finished (failed)" in answers[-1][1], answers[-1]
    assert _interrupted(b.details(started["id"]))


def test_a_node_stalled_past_the_limit_is_closed_and_then_a_node_again(lake: Lake) -> None:
    node_a = lake.node("a")
    a, b = Api(node_a.api), Api(lake.node("b").api)
    workflow = a.create_workflow(SLOW)
    stalled = a.execute(workflow["id"])
    _running(b, stalled["id"])

    os.kill(node_a.process.pid, signal.SIGSTOP)  # no heartbeat, yet not dead
    try:
        closed = b.wait(stalled["id"], timeout=TIMEOUT_S)
    finally:
        os.kill(node_a.process.pid, signal.SIGCONT)
    assert _interrupted(closed), closed
    # a learns it was taken for dead; its execution's real end, later, would be a duplicate.
    deadline = time.monotonic() + TIMEOUT_S
    while "was taken for dead" not in node_a.log:
        assert time.monotonic() < deadline, node_a.log[-3000:]
        time.sleep(0.1)
    # Once b has forgotten it, a registers again: what it runs next is cancelled through b.
    later = a.execute(workflow["id"])
    _running(b, later["id"])
    deadline = time.monotonic() + TIMEOUT_S
    while (answer := b.post(f"/api/workflows/executions/{later['id']}/cancel")).status_code != 202:
        assert answer.status_code == 409 and "its node" in answer.json()["detail"], answer.text
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.2)
    assert b.wait(later["id"], timeout=TIMEOUT_S)["status"] == "cancelled"
    assert _interrupted(a.details(stalled["id"]))  # its first version stays


def test_the_staleness_limit_is_several_heartbeats(tmp_path: Path) -> None:
    lake = {"store": "ducklake:postgres:dbname=x", "data_path": str(tmp_path / "data"), "db": tmp_path / "n"}
    refused = preflight(Settings(**lake, node_heartbeat_seconds=2, node_stale_seconds=5))
    assert refused is not None
    assert refused.startswith("--node-stale-seconds (5.0) must be at least 3 heartbeats")
    assert preflight(Settings(**lake, node_heartbeat_seconds=2, node_stale_seconds=6)) is None
    # The DuckDB file has no engine nodes: the two settings mean nothing there.
    file = Settings(db=tmp_path / "f.duckdb", node_heartbeat_seconds=2, node_stale_seconds=1)
    assert preflight(file) is None

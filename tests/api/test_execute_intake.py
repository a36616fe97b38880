"""Triggering executions (issue 17): recorded before the 202, so readable at once through
details, list, timeline and the WebSocket `since` replay; bulk triggers (`input_sets`),
validated set by set and admitted whole or not at all; a concurrent burst; the engine's
exported copy of each queued record deduplicated; numbers kept across a restart; and an
OTLP relay (a collector) between engine and server, where visibility falls back to a
bounded wait and nothing breaks. Real server, real HTTP and WebSocket clients."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flowscope.api.ws.events import iso

from tests.api.client import Api
from tests.api.relay import otlp_relay
from tests.api.workflows import CONDITIONAL, SEQUENCE, SLOW, step
from tests.support.server import RunningServer, start_server
from tests.ws.support import Feed, names, open_feed, ws_url

QUEUED = "workflow.execution.queued"
SEQUENCE_EVENTS = [
    "workflow_started", "step_started:initialize", "step_completed:initialize", "step_started:process",
    "step_completed:process", "step_started:finalize", "step_completed:finalize", "workflow_completed",
]  # fmt: skip


def _readable(ws: Api, started: dict[str, Any]) -> None:
    """The execution of a 202, read back at once: details, the list, the timeline."""
    details = ws.ok(ws.get(f"/api/workflows/executions/{started['id']}"))
    assert details["execution_number"] == started["execution_number"]
    assert details["input_variables"] == started["input_variables"]
    listed = ws.ok(ws.get(f"/api/workflows/{started['workflow_id']}/executions", params={"limit": 100}))
    assert started["id"] in [item["id"] for item in listed["items"]]
    timeline = ws.ok(ws.get(f"/api/workflows/executions/{started['id']}/timeline"))
    assert timeline["execution_id"] == started["id"] and len(timeline["step_timeline"]) >= 1


def test_an_execution_is_readable_right_after_its_202(ws: Api) -> None:
    wf = ws.create_workflow(SEQUENCE)
    for number in (1, 2, 3):
        started = ws.execute(wf["id"], {"mode": "fast"})
        assert (started["execution_number"], started["status"]) == (number, "pending")
        _readable(ws, started)
        assert ws.ok(ws.get(f"/api/workflows/{wf['id']}"))["execution_count"] == number


def test_the_exported_queued_record_is_stored_once(ws: Api) -> None:
    """The API records the engine's queued record; the copy the engine exports afterwards is
    recognised (same content) and dropped, so it is neither listed twice nor counted twice."""
    started = ws.execute(ws.create_workflow(SEQUENCE)["id"])
    path = f"/api/workflows/executions/{started['id']}/logs"
    # The exporter sends records in order: once `started` is stored, the queued copy came too.
    logs = ws.wait_until(path, lambda page: "workflow.execution.started" in _events(page))
    assert _events(logs).count(QUEUED) == 1
    finished = ws.wait(started["id"])
    assert [h["status"] for h in finished["status_history"]] == ["pending", "running", "completed"]
    assert _events(ws.ok(ws.get(path))).count(QUEUED) == 1


def _events(page: dict[str, Any]) -> list[str]:
    return [r["event_name"] for r in page["items"]]


def test_the_since_replay_is_consistent_right_after_the_202(ws: Api) -> None:
    """Connected with `since` right after the 202, a client gets each event of the execution
    exactly once (replay, then live), with the ids a later replay gives them."""
    wf = ws.create_workflow(SEQUENCE)
    since = iso(time.time_ns() - 1_000_000_000)
    query = {"since": since, "workspace_id": ws.workspace["id"]}  # type: ignore[attr-defined]
    url = ws_url(ws.base, f"/ws/workflows/{wf['id']}", **query)

    async def main() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        started = ws.execute(wf["id"])
        async with open_feed(url) as conn:
            feed = Feed(conn)
            await feed.until("replay_complete", timeout=30)
            await feed.until("workflow_completed", timeout=30)
            first = [m for m in feed.received if m["data"].get("execution_id") == started["id"]]
        async with open_feed(url) as conn:
            again = Feed(conn)
            replayed = await again.until("replay_complete", timeout=30)
        return first, [m for m in replayed if m["data"].get("execution_id") == started["id"]]

    live, replayed = asyncio.run(main())
    assert names(live) == SEQUENCE_EVENTS
    assert [m["data"]["event_id"] for m in replayed] == [m["data"]["event_id"] for m in live]


def test_bulk_starts_one_execution_per_input_set_in_order(ws: Api) -> None:
    wf = ws.create_workflow(CONDITIONAL)  # `mode` is required and picks the branch that runs
    modes = ["fast", "thorough", "standard", "fast"]
    answer = ws.ok(
        ws.post(f"/api/workflows/{wf['id']}/execute", json={"input_sets": [{"mode": m} for m in modes]}), 202
    )
    started = answer["executions"]
    assert answer["workflow_id"] == wf["id"]
    assert [s["execution_number"] for s in started] == [1, 2, 3, 4]
    assert [s["input_variables"] for s in started] == [{"mode": m} for m in modes]
    assert len({s["id"] for s in started}) == 4
    for s in started:
        _readable(ws, s)
    assert ws.ok(ws.get(f"/api/workflows/{wf['id']}"))["execution_count"] == 4
    for s, mode in zip(started, modes, strict=True):
        timeline = ws.wait_until(
            f"/api/workflows/executions/{s['id']}/timeline", lambda t: t["status"] == "completed"
        )
        ran = {x["step_id"] for x in timeline["step_timeline"] if x["status"] == "completed"}
        assert ran == {"evaluate", mode, "aggregate"}


def test_bulk_names_every_invalid_input_set_and_starts_nothing(ws: Api) -> None:
    wf = ws.create_workflow(CONDITIONAL)
    sets = [{"mode": "fast"}, {}, {"mode": 3}, {"mode": "fast", "extra": 1}]
    refused = ws.post(f"/api/workflows/{wf['id']}/execute", json={"input_sets": sets})
    assert refused.status_code == 422
    problems = refused.json()["detail"]
    assert [p["loc"] for p in problems] == [["body", "input_sets", i] for i in (1, 2, 3)]
    assert "'mode' is required" in problems[0]["msg"] and "integer" not in problems[0]["msg"]
    assert "type string" in problems[1]["msg"] and "unknown input 'extra'" in problems[2]["msg"]
    listed = ws.ok(ws.get(f"/api/workflows/{wf['id']}/executions"))
    assert listed["total"] == 0 and ws.ok(ws.get(f"/api/workflows/{wf['id']}"))["execution_count"] == 0
    for body in ({"input_sets": []}, {"input_sets": [{}], "input_variables": {}}, {"input_sets": [1]}):
        assert ws.post(f"/api/workflows/{wf['id']}/execute", json=body).status_code == 422, body
    assert ws.post("/api/workflows/wf_nope/execute", json={"input_sets": [{}]}).status_code == 404
    # Nothing was taken: the next valid request gets number 1.
    assert ws.execute(wf["id"], {"mode": "fast"})["execution_number"] == 1


def test_a_concurrent_burst_is_answered_and_readable(ws: Api) -> None:
    """200 triggers at once: every one 202, each readable right after its own 202, the
    numbers 1..200 each taken once."""
    wf = ws.create_workflow({"name": "burst", "steps": [step("a", 0)]})
    url = f"/api/workflows/{wf['id']}/execute"
    burst = 200

    async def main() -> list[tuple[int, dict[str, Any], int]]:
        limits = httpx.Limits(max_connections=burst, max_keepalive_connections=burst)
        async with httpx.AsyncClient(
            base_url=ws.base, headers=ws.headers, limits=limits, timeout=120
        ) as client:
            go = asyncio.Event()

            async def one() -> tuple[int, dict[str, Any], int]:
                await go.wait()
                answer = await client.post(url, json={})
                if answer.status_code != 202:
                    return answer.status_code, {}, 0
                body = answer.json()
                details = await client.get(f"/api/workflows/executions/{body['id']}")
                return 202, body, details.status_code

            tasks = [asyncio.create_task(one()) for _ in range(burst)]
            await asyncio.sleep(0)
            go.set()
            return await asyncio.gather(*tasks)

    results = asyncio.run(main())
    assert [status for status, _, _ in results] == [202] * burst
    assert [read for _, _, read in results] == [200] * burst
    assert sorted(body["execution_number"] for _, body, _ in results) == list(range(1, burst + 1))
    assert ws.ok(ws.get(f"/api/workflows/{wf['id']}/executions", params={"limit": 0}))["total"] == burst


# --- a server with small quotas ------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(
        tmp_path_factory.mktemp("quota") / "flowscope.duckdb",
        "--max-running-per-workspace", "1", "--max-pending-per-workspace", "2", "--max-bulk-executions", "5",
    )  # fmt: skip
    yield srv
    srv.terminate()


def test_bulk_beyond_the_quota_is_refused_whole(small: RunningServer) -> None:
    ws = Api(small.api).new_workspace()
    wf = ws.create_workflow(SLOW)
    url = f"/api/workflows/{wf['id']}/execute"
    refused = ws.post(url, json={"input_sets": [{}] * 4})  # room: 1 running + 2 pending
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "4 requested, room for 3" in refused.json()["detail"]
    assert ws.ok(ws.get(f"/api/workflows/{wf['id']}/executions"))["total"] == 0
    assert ws.ok(ws.get(f"/api/workflows/{wf['id']}"))["execution_count"] == 0
    started = ws.ok(ws.post(url, json={"input_sets": [{}] * 3}), 202)["executions"]
    assert [s["execution_number"] for s in started] == [1, 2, 3]
    full = ws.post(url, json={})
    assert full.status_code == 429 and "Retry-After" in full.headers
    for s in started:
        ws.ok(ws.post(f"/api/workflows/executions/{s['id']}/cancel"), 202)
    assert {ws.wait(s["id"])["status"] for s in started} == {"cancelled"}


def test_a_pending_execution_answered_from_memory_follows_its_later_commits(small: RunningServer) -> None:
    """Once its trigger is committed, a pending execution's reads are answered from what the
    trigger acknowledged (api/visibility.py, keep_seconds) until a commit changes it: its
    start, steps and end here, then a cancel. Each change shows in the next reads."""
    ws = Api(small.api).new_workspace()
    slow, quick = ws.create_workflow(SLOW), ws.create_workflow(SEQUENCE)
    first = ws.execute(slow["id"])
    ws.wait(first["id"], {"running"})
    queued = ws.execute(quick["id"])  # behind `first` (1 running a workspace)
    waiting = ws.execute(slow["id"])
    pending = ws.details(queued["id"])
    assert pending["status"] == "pending" and ws.details(queued["id"]) == pending
    ws.ok(ws.post(f"/api/workflows/executions/{first['id']}/cancel"), 202)
    done = ws.wait(queued["id"])  # started once `first` ended, then ran to its end
    assert done["status"] == "completed", done
    assert [s["status"] for s in done["step_executions"]] == ["completed"] * 3
    ws.wait(waiting["id"], {"running"})
    ws.ok(ws.post(f"/api/workflows/executions/{waiting['id']}/cancel"), 202)
    assert ws.wait(waiting["id"])["status"] == "cancelled"


def test_bulk_size_is_bounded(small: RunningServer) -> None:
    ws = Api(small.api).new_workspace()
    wf = ws.create_workflow(SEQUENCE)
    refused = ws.post(f"/api/workflows/{wf['id']}/execute", json={"input_sets": [{}] * 6})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "input_sets"]
    assert "at most 5 input sets" in refused.json()["detail"][0]["msg"]


# --- numbers across a restart, and a collector between engine and server ------------------


def test_numbers_continue_after_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "flowscope.duckdb"
    first = start_server(db)
    try:
        api = Api(first.api)
        wf = api.create_workflow(SEQUENCE)
        numbers = [s["execution_number"] for s in api.ok(
            api.post(f"/api/workflows/{wf['id']}/execute", json={"input_sets": [{}, {}]}), 202
        )["executions"]]  # fmt: skip
        assert numbers == [1, 2]
    finally:
        first.kill()  # no drain: what the 202s promised must already be on disk
    second = start_server(db)
    try:
        api = Api(second.api)
        assert api.ok(api.get(f"/api/workflows/{wf['id']}"))["execution_count"] == 2
        assert api.execute(wf["id"])["execution_number"] == 3
        assert api.ok(api.get(f"/api/workflows/{wf['id']}/executions"))["total"] == 3
    finally:
        assert second.terminate() == 0


def test_through_a_collector_readability_falls_back_to_a_bounded_wait(tmp_path: Path) -> None:
    """`--engine-endpoint` names a relay (a collector): execute then waits, bounded, for the
    queued record to come back through it; the record is stored once. With the relay down,
    execute still answers 202 (after the wait) and the execution runs; its telemetry
    arrives when the exporter's retries get through."""
    with otlp_relay() as relay:
        server = start_server(tmp_path / "flowscope.duckdb", "--engine-endpoint", relay.url)
        try:
            relay.target = server.otlp_http
            api = Api(server.api)
            wf = api.create_workflow(SEQUENCE)
            started = api.execute(wf["id"])
            _readable(api, started)
            finished = api.wait(started["id"])
            assert finished["status"] == "completed" and any(p == "/v1/logs" for p in relay.forwarded)
            logs = api.ok(api.get(f"/api/workflows/executions/{started['id']}/logs"))
            assert _events(logs).count(QUEUED) == 1

            relay.target = None  # the collector is down
            unseen = api.execute(wf["id"])
            assert unseen["execution_number"] == 2
            relay.target = server.otlp_http  # back: the engine's exporter retries
            assert api.wait(unseen["id"], timeout=60)["status"] == "completed"
        finally:
            assert server.terminate() == 0
    assert re.search(r"flowscope ready", server.log)


def test_an_unfinished_execution_shows_the_current_definitions_pending_steps(ws: Api) -> None:
    """Details list the steps not seen yet from the catalog definition (cached per catalog
    generation): a changed definition shows at once."""
    wf = ws.create_workflow(SLOW)
    started = ws.execute(wf["id"])
    steps = [s["step_id"] for s in ws.details(started["id"])["step_executions"]]
    assert steps == ["quick", "long", "after"]
    renamed = {**SLOW, "steps": [*SLOW["steps"][:2], step("last", depends_on=["long"])]}
    ws.ok(ws.patch(f"/api/workflows/{wf['id']}", json={"definition": renamed}))
    steps = [s["step_id"] for s in ws.details(started["id"])["step_executions"]]
    assert steps == ["quick", "long", "last"]
    ws.ok(ws.post(f"/api/workflows/executions/{started['id']}/cancel"), 202)

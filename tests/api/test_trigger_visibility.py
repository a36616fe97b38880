"""Execute answers before its DuckDB commit (the trigger is journaled: api/journal.py), and
read-your-writes holds on the read side (api/visibility.py `VisibilityBarrier`): right after
its 202, under concurrency, an execution is found by details, the list, the timeline, the
workflow's count and metrics, and a `since` feed gets each of its events once.

The server commits slowly (`FLOWSCOPE_COMMIT_DELAY_SECONDS`), so every 202 here comes before the
commit of its execution: a read that did not wait for it would not find it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flowscope.api.visibility import READ_WAIT_SECONDS
from flowscope.api.ws.events import iso

from tests.api.client import Api
from tests.api.workflows import SEQUENCE
from tests.support.server import RunningServer, start_server
from tests.ws.support import Feed, names, open_feed, ws_url

COMMIT_DELAY_S = 1.0
SEQUENCE_EVENTS = [
    "workflow_started", "step_started:initialize", "step_completed:initialize", "step_started:process",
    "step_completed:process", "step_started:finalize", "step_completed:finalize", "workflow_completed",
]  # fmt: skip


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(
        tmp_path_factory.mktemp("slow-commits") / "flowscope.duckdb",
        env={"FLOWSCOPE_COMMIT_DELAY_SECONDS": str(COMMIT_DELAY_S)},
    )
    yield srv
    srv.terminate()


@pytest.fixture(scope="module")
def stalled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Commits take longer than a read waits for them at the barrier."""
    srv = start_server(
        tmp_path_factory.mktemp("stalled-commits") / "flowscope.duckdb",
        env={"FLOWSCOPE_COMMIT_DELAY_SECONDS": str(READ_WAIT_SECONDS + 1)},
    )
    yield srv
    srv.terminate()


def test_execute_answers_before_its_commit(slow: RunningServer) -> None:
    """Each commit takes at least COMMIT_DELAY_S; the 202s do not wait for one."""
    ws = Api(slow.api).new_workspace()
    wf = ws.create_workflow(SEQUENCE)
    took = []
    for _ in range(5):
        t0 = time.perf_counter()
        ws.execute(wf["id"])
        took.append(time.perf_counter() - t0)
    assert sorted(took)[2] < COMMIT_DELAY_S / 2, took


def test_every_read_path_finds_an_execution_right_after_its_202(slow: RunningServer) -> None:
    ws = Api(slow.api).new_workspace()
    wf = ws.create_workflow(SEQUENCE)
    clients = 12

    async def main() -> list[dict[str, Any]]:
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        client = httpx.AsyncClient(base_url=ws.base, headers=ws.headers, limits=limits, timeout=60)
        async with client:
            go = asyncio.Event()

            async def one() -> dict[str, Any]:
                await go.wait()
                started = await client.post(f"/api/workflows/{wf['id']}/execute", json={})
                assert started.status_code == 202, started.text
                body = started.json()
                ex = f"/api/workflows/executions/{body['id']}"
                reads = await asyncio.gather(
                    client.get(ex),
                    client.get(f"{ex}/timeline"),
                    client.get(f"{ex}/steps/initialize"),
                    client.get(f"/api/workflows/{wf['id']}/executions", params={"limit": 100}),
                    client.get(f"/api/workflows/{wf['id']}"),
                    client.get(f"/api/workflows/{wf['id']}/metrics"),
                )
                for read in reads:
                    assert read.status_code == 200, f"{read.request.url}: {read.status_code} {read.text}"
                details, timeline, step, listed, workflow, metrics = (r.json() for r in reads)
                assert details["execution_number"] == body["execution_number"]
                assert timeline["execution_id"] == body["id"] and len(timeline["step_timeline"]) == 3
                assert step["step_id"] == "initialize"
                assert body["id"] in [item["id"] for item in listed["items"]]
                assert workflow["execution_count"] >= body["execution_number"]
                assert metrics["total_executions"] >= 1
                return body

            tasks = [asyncio.create_task(one()) for _ in range(clients)]
            await asyncio.sleep(0)
            go.set()
            return await asyncio.gather(*tasks)

    started = asyncio.run(main())
    assert sorted(s["execution_number"] for s in started) == list(range(1, clients + 1))


def test_reads_of_one_execution_not_committed_yet_answer_from_its_acknowledged_trigger(
    stalled: RunningServer,
) -> None:
    """Details, timeline and a step of an execution whose trigger is journaled but whose commit
    takes longer than a read waits at the barrier. They answer at once, not after the
    barrier's wait, from what the store will read of it
    (tests/storage/conformance/test_acknowledged.py checks that it is the same)."""
    ws = Api(stalled.api).new_workspace()
    wf = ws.create_workflow(SEQUENCE)
    started = ws.execute(wf["id"])
    # A read that waited at the barrier would take READ_WAIT_SECONDS: it times out instead.
    ws.http.timeout = httpx.Timeout(READ_WAIT_SECONDS / 2)
    ex = f"/api/workflows/executions/{started['id']}"
    details = ws.details(started["id"])
    assert (details["id"], details["status"], details["execution_number"]) == (
        started["id"], "pending", started["execution_number"],
    )  # fmt: skip
    assert [(s["step_id"], s["status"]) for s in details["step_executions"]] == [
        ("initialize", "pending"), ("process", "pending"), ("finalize", "pending"),
    ]  # fmt: skip
    assert [h["status"] for h in details["status_history"]] == ["pending"]
    # The first read cached the workflow's steps in a worker thread; this one, and the reads
    # below, are built on the event loop (api/routers/executions.py `_answer`): the same answer.
    assert ws.details(started["id"]) == details
    timeline = ws.ok(ws.get(f"{ex}/timeline"))
    assert (timeline["execution_id"], timeline["status"]) == (started["id"], "pending")
    assert [(s["step_id"], s["status"]) for s in timeline["step_timeline"]] == [
        ("initialize", "pending"), ("process", "pending"), ("finalize", "pending"),
    ]  # fmt: skip
    assert ws.ok(ws.get(f"{ex}/steps/initialize"))["status"] == "pending"


def test_a_since_feed_opened_right_after_the_202_gets_each_event_once(slow: RunningServer) -> None:
    """Several executions at once, each followed at once by its own `since` feed: replay
    (after the commits of the triggers before it), then live, each event exactly once."""
    ws = Api(slow.api).new_workspace()
    wf = ws.create_workflow(SEQUENCE)
    since = iso(time.time_ns() - 1_000_000_000)
    url = ws_url(ws.base, f"/ws/workflows/{wf['id']}", since=since, workspace_id=ws.workspace["id"])  # type: ignore[attr-defined]

    async def one(client: httpx.AsyncClient) -> tuple[str, list[str]]:
        answer = await client.post(f"/api/workflows/{wf['id']}/execute", json={})
        assert answer.status_code == 202, answer.text
        execution_id = answer.json()["id"]
        async with open_feed(url) as conn:
            feed = Feed(conn)
            await feed.until("replay_complete", timeout=30)
            deadline = time.monotonic() + 30
            while True:
                mine = [m for m in feed.received if m["data"].get("execution_id") == execution_id]
                if names(mine)[-1:] == ["workflow_completed"] or time.monotonic() > deadline:
                    return execution_id, names(mine)
                await feed.next(timeout=max(0.1, deadline - time.monotonic()))

    async def main() -> list[tuple[str, list[str]]]:
        async with httpx.AsyncClient(base_url=ws.base, headers=ws.headers, timeout=60) as client:
            return await asyncio.gather(*(one(client) for _ in range(4)))

    for execution_id, events in asyncio.run(main()):
        assert events == SEQUENCE_EVENTS, execution_id

"""Execution numbers across nodes (issue 14): each node of a lake used to number a workflow's
executions from its own memory, so executions triggered through different nodes got the same
numbers. Now every node takes them in the lake's catalog (storage/ducklake/catalog.py
`take_execution_numbers`). Two real `serve` nodes on one DuckLake (the tests' PostgreSQL),
real HTTP: concurrent executes alternating between the nodes get distinct numbers, 1..N once
all are recorded; a bulk trigger takes a contiguous block; a restarted node continues after
the other's numbers; a workflow deleted through one node is not executed through another."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from flowscope.storage.ducklake.store import LakeStore

from tests.api.client import Api
from tests.api.workflows import SEQUENCE
from tests.collector.helpers import wait_for
from tests.storage.lake_nodes import Lake
from tests.support.postgres import Postgres, start_postgres
from tests.support.server import start_server

TIMEOUT_S = 60.0
BOUND_SECONDS = 15.0  # an execute while PostgreSQL is down is answered within this


@pytest.fixture
def lake(postgres: Postgres, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Lake]:
    found = Lake(postgres, tmp_path, "numbers_" + request.node.name.removeprefix("test_")[:40])
    yield found
    found.close()


def _burst(nodes: list[Api], workflow_id: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """POST every body to execute at once, the i-th through nodes[i % len(nodes)]; the 202s."""
    url = f"/api/workflows/{workflow_id}/execute"

    async def main() -> list[dict[str, Any]]:
        limits = httpx.Limits(max_connections=len(bodies))
        clients = [
            httpx.AsyncClient(base_url=n.base, headers=n.headers, limits=limits, timeout=TIMEOUT_S)
            for n in nodes
        ]
        go = asyncio.Event()

        async def one(i: int, body: dict[str, Any]) -> dict[str, Any]:
            await go.wait()
            answer = await clients[i % len(clients)].post(url, json=body)
            assert answer.status_code == 202, answer.text
            return answer.json()  # type: ignore[no-any-return]

        try:
            tasks = [asyncio.create_task(one(i, b)) for i, b in enumerate(bodies)]
            await asyncio.sleep(0)
            go.set()
            return await asyncio.gather(*tasks)
        finally:
            for client in clients:
                await client.aclose()

    return asyncio.run(main())


def _recorded_numbers(api: Api, workflow_id: str, count: int) -> list[int]:
    """The numbers of the workflow's executions as `api` lists them, once all `count` are
    and every number is known: an execution whose trigger's commit failed (PostgreSQL going
    away) and was taken by a later try may be listed from its spans first, without its number."""
    page = api.wait_until(
        f"/api/workflows/{workflow_id}/executions?limit={count}",
        lambda p: p["total"] == count and all(e["execution_number"] is not None for e in p["items"]),
        timeout=TIMEOUT_S,
    )
    return sorted(e["execution_number"] for e in page["items"])


def test_concurrent_executes_through_two_nodes_are_numbered_once_each(lake: Lake) -> None:
    a, b = Api(lake.node("a").api), Api(lake.node("b").api)
    workflow = a.create_workflow(SEQUENCE)
    wf = workflow["id"]

    # One after the other, alternating: each node's next number follows the other's.
    sequential = [node.execute(wf)["execution_number"] for node in (a, b, a, b)]
    assert sequential == [1, 2, 3, 4]

    burst = 40
    started = _burst([a, b], wf, [{}] * burst)
    numbers = [s["execution_number"] for s in started]
    assert len(set(numbers)) == burst, sorted(numbers)
    assert sorted(numbers) == list(range(5, 5 + burst))  # gap-free: every take committed
    total = 4 + burst
    assert _recorded_numbers(a, wf, total) == list(range(1, total + 1))
    assert _recorded_numbers(b, wf, total) == list(range(1, total + 1))
    for node in (a, b):
        assert node.ok(node.get(f"/api/workflows/{wf}"))["execution_count"] == total

    # Deleted through b: a, which read the workflow before, takes no number of it and answers 404.
    b.ok(b.delete(f"/api/workflows/{wf}"), 204)
    gone = a.post(f"/api/workflows/{wf}/execute", json={})
    assert gone.status_code == 404, gone.text


def test_bulk_triggers_on_two_nodes_take_contiguous_blocks(lake: Lake) -> None:
    a, b = Api(lake.node("a").api), Api(lake.node("b").api)
    wf = a.create_workflow(SEQUENCE)["id"]
    size, bulks = 5, 6
    answers = _burst([a, b], wf, [{"input_sets": [{}] * size}] * bulks)
    blocks = [[e["execution_number"] for e in answer["executions"]] for answer in answers]
    for block in blocks:
        assert block == list(range(block[0], block[0] + size)), blocks
    assert sorted(n for block in blocks for n in block) == list(range(1, size * bulks + 1))
    assert _recorded_numbers(b, wf, size * bulks) == list(range(1, size * bulks + 1))


def test_a_restarted_node_continues_after_the_other_nodes_numbers(lake: Lake) -> None:
    node_a = lake.node("a")
    a, b = Api(node_a.api), Api(lake.node("b").api)
    wf = a.create_workflow(SEQUENCE)["id"]
    assert [a.execute(wf)["execution_number"] for _ in range(3)] == [1, 2, 3]
    node_a.terminate()
    assert [b.execute(wf)["execution_number"] for _ in range(2)] == [4, 5]
    restarted = Api(lake.node("a").api)  # the same files: its journal, its sandbox
    assert restarted.execute(wf)["execution_number"] == 6
    assert b.execute(wf)["execution_number"] == 7
    assert _recorded_numbers(restarted, wf, 7) == list(range(1, 8))


def test_takes_of_two_stores_on_one_lake_are_disjoint_blocks(postgres: Postgres, tmp_path: Path) -> None:
    """The catalog itself (storage/ducklake/numbers.py), two stores (nodes) in one process:
    takes of 1 to 4 numbers from 8 threads each, batched within a store and conflicting
    across the two, get disjoint contiguous blocks covering 1..N; a gone workflow, None."""
    url = "ducklake:postgres:" + postgres.create_database("numbers_takes")
    stores = [LakeStore(url, tmp_path / "lake-data") for _ in range(2)]
    try:
        wf = stores[0].catalog.create_workflow(
            "default", project_id=None, name="w", description=None, definition=SEQUENCE
        )
        counts = [1 + i % 4 for i in range(60)]

        def take(i: int) -> list[int]:
            first = stores[i % 2].catalog.take_execution_numbers("default", wf.id, counts[i])  # type: ignore[attr-defined]
            assert first is not None
            return list(range(first, first + counts[i]))

        with ThreadPoolExecutor(16) as pool:
            blocks = list(pool.map(take, range(len(counts))))
        assert sorted(n for block in blocks for n in block) == list(range(1, sum(counts) + 1))
        stored = stores[1].catalog.get_workflow("default", wf.id)
        assert stored is not None and stored.next_execution_number == sum(counts) + 1
        assert stores[1].catalog.take_execution_numbers("default", "no-such-workflow", 1) is None  # type: ignore[attr-defined]
    finally:
        for store in stores:
            store.close()


@pytest.fixture
def own_postgres(postgres: Postgres) -> Iterator[Postgres]:
    """A PostgreSQL of this test's own, to stop and start (the session's serves other tests)."""
    pg = start_postgres()
    yield pg
    pg.remove()


def test_an_execute_while_postgres_is_down_is_refused_and_takes_no_number(
    own_postgres: Postgres, tmp_path: Path
) -> None:
    url = "ducklake:postgres:" + own_postgres.create_database("numbers_down")
    server = start_server(tmp_path / "node", "--store", url, "--data-path", str(tmp_path / "data"))
    try:
        api = Api(server.api)
        wf = api.create_workflow(SEQUENCE)["id"]
        assert api.execute(wf)["execution_number"] == 1
        own_postgres.stop()
        asked = time.monotonic()
        refused = api.post(f"/api/workflows/{wf}/execute", json={})
        assert time.monotonic() - asked < BOUND_SECONDS
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1", refused.text
        own_postgres.start()
        answers: list[httpx.Response] = []

        def executed() -> bool:
            answers.append(api.post(f"/api/workflows/{wf}/execute", json={}))
            return answers[-1].status_code == 202

        wait_for(executed, what="an execute accepted once PostgreSQL is back", timeout=TIMEOUT_S)
        assert answers[-1].json()["execution_number"] == 2  # the refused ones took none
        assert _recorded_numbers(api, wf, 2) == [1, 2]
    finally:
        server.kill()

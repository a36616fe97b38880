"""Live events across nodes (issue 14): real `serve` processes on one DuckLake (the tests' own
PostgreSQL catalog, a shared data directory). Two `--role ingest` nodes receive OTLP from the
plain SDK; a `--role query` node serves the WebSocket feeds, which carry the ingest nodes'
executions in causal order, replay them with `since`, and close with 1013 when the node fell
behind the lake rather than skip what it missed (storage/ducklake/follow.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flowscope.api.ws.events import iso
from websockets.exceptions import ConnectionClosed

from tests.support.postgres import Postgres
from tests.support.server import RunningServer, start_server
from tests.ws.support import Execution, Feed, Tracer, names, new_workflow_id, open_feed, ws_url

TWO_STEPS = [
    "workflow_started", "step_started:a", "step_completed:a", "step_started:b", "step_completed:b",
    "workflow_completed",
]  # fmt: skip
ONE_STEP = ["workflow_started", "step_started:a", "step_completed:a", "workflow_completed"]


@dataclass
class Lake:
    url: str
    data: Path
    ingest: list[RunningServer]
    query: RunningServer

    def node(self, where: Path, *args: str, env: dict[str, str] | None = None) -> RunningServer:
        return _node(self.url, self.data, where, *args, env=env)


def _node(url: str, data: Path, where: Path, *args: str, env: dict[str, str] | None = None) -> RunningServer:
    """A `serve` process on the lake (`where`: the prefix of its own files, never telemetry)."""
    return start_server(where, "--store", url, "--data-path", str(data), *args, env=env)


@pytest.fixture(scope="module")
def lake(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    root = tmp_path_factory.mktemp("lake-nodes")
    url = "ducklake:postgres:" + postgres.create_database("lake_nodes")
    servers: list[RunningServer] = []
    try:
        for i in range(2):
            servers.append(_node(url, root / "data", root / f"ingest{i}", "--role", "ingest"))
        servers.append(_node(url, root / "data", root / "query", "--role", "query"))
        yield Lake(url, root / "data", servers[:2], servers[2])
    finally:
        for server in servers:
            server.terminate()


def _run(tracer: Tracer, workflow_id: str, steps: list[str], number: int = 1) -> Execution:
    """An execution exported record by record and span by span (each one request, committed
    before the next is sent), as on one node."""
    execution = Execution(tracer, workflow_id, autoflush=True, number=number)
    for step in steps:
        execution.start_step(step)
        execution.end_step(step, output={})
    execution.end()
    return execution


def test_events_of_executions_ingested_on_two_nodes_reach_the_query_node_in_order(lake: Lake) -> None:
    wf = new_workflow_id()
    tracers = [Tracer(node.otlp_http, service=f"svc{i}") for i, node in enumerate(lake.ingest)]

    async def main() -> None:
        async with open_feed(ws_url(lake.query.api, f"/ws/workflows/{wf}")) as conn:
            feed = Feed(conn)
            first = await asyncio.to_thread(_run, tracers[0], wf, ["a", "b"])
            second = await asyncio.to_thread(_run, tracers[1], wf, ["a", "b"], 2)
            messages = await feed.until("workflow_completed", timeout=30, count=2)
            by_execution: dict[str, list[str]] = {}
            for m in messages:
                by_execution.setdefault(m["data"]["execution_id"], []).extend(names([m]))
            assert by_execution == {first.execution_id: TWO_STEPS, second.execution_id: TWO_STEPS}
            # Nothing had to be made up: the records arrived before the spans they announce.
            assert not any(m["data"]["synthesized"] for m in messages)
            assert len({m["data"]["event_id"] for m in messages}) == len(messages)
            assert await feed.quiet(0.5) == []

    try:
        asyncio.run(main())
    finally:
        for tracer in tracers:
            tracer.shutdown()


def test_since_replay_on_the_query_node_covers_the_ingest_nodes_commits(lake: Lake) -> None:
    wf = new_workflow_id()
    tracers = [Tracer(node.otlp_http) for node in lake.ingest]
    since = iso(time.time_ns())
    done = _run(tracers[0], wf, ["a"])  # acknowledged on ingest node 0 before the feed opens

    async def main() -> None:
        async with open_feed(ws_url(lake.query.api, f"/ws/workflows/{wf}", since=since)) as conn:
            feed = Feed(conn)
            history = await feed.until("replay_complete")
            assert names(history[:-1]) == ONE_STEP
            assert {m["data"]["execution_id"] for m in history[:-1]} == {done.execution_id}
            live_run = await asyncio.to_thread(_run, tracers[1], wf, ["a"], 2)
            live = await feed.until("workflow_completed", timeout=30)
            assert names(live) == ONE_STEP
            assert {m["data"]["execution_id"] for m in live} == {live_run.execution_id}

    try:
        asyncio.run(main())
    finally:
        for tracer in tracers:
            tracer.shutdown()


def test_a_query_node_that_fell_behind_the_lake_closes_its_feeds_with_1013(
    lake: Lake, tmp_path: Path
) -> None:
    """A query node stalled for longer than its max lag (SIGSTOP) closes its feeds with 1013 on
    waking instead of streaming some of what it missed; `since` replay then has it all."""
    wf = new_workflow_id()
    node = lake.node(tmp_path / "stalled", "--role", "query", env={"FLOWSCOPE_LAKE_FOLLOW_MAX_LAG": "1"})
    tracer = Tracer(lake.ingest[0].otlp_http)
    since = iso(time.time_ns())

    async def main() -> None:
        async with open_feed(ws_url(node.api, f"/ws/workflows/{wf}")) as conn:
            feed = Feed(conn)
            os.kill(node.process.pid, signal.SIGSTOP)
            try:
                stalled = time.monotonic()
                missed = await asyncio.to_thread(_run, tracer, wf, ["a"])
                # the stall outlasts the max lag (the condition under test, not a wait for an event)
                await asyncio.sleep(max(0.0, 1.5 - (time.monotonic() - stalled)))
            finally:
                os.kill(node.process.pid, signal.SIGCONT)
            with pytest.raises(ConnectionClosed) as closed:
                while True:  # every message until the close (none: nothing missed is streamed)
                    await feed.next(30)
            assert feed.received == []
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
            assert "since" in closed.value.rcvd.reason
        async with open_feed(ws_url(node.api, f"/ws/workflows/{wf}", since=since)) as conn:
            history = await Feed(conn).until("replay_complete")
            assert names(history[:-1]) == ONE_STEP
            assert {m["data"]["execution_id"] for m in history[:-1]} == {missed.execution_id}

    try:
        asyncio.run(main())
        assert "behind, skipping to its newest snapshot" in node.log
    finally:
        tracer.shutdown()
        node.terminate()

"""Many subscribers, and a subscriber that cannot keep up."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import RunningServer, start_server
from tests.ws.support import Execution, Feed, Tracer, names, new_workflow_id, open_feed, ws_url


@pytest.fixture(scope="module")
def small_queue_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    db: Path = tmp_path_factory.mktemp("slow") / "flowscope.duckdb"
    srv = start_server(db, env={"FLOWSCOPE_WS_QUEUE_MESSAGES": "50"})
    yield srv
    srv.terminate()


def test_slow_consumer_is_closed_1013_while_a_fast_one_and_ingest_keep_going(
    small_queue_server: RunningServer,
) -> None:
    srv = small_queue_server
    wf = new_workflow_id()
    # Large, incompressible events (permessage-deflate is on) fill the socket buffers quickly.
    big = {"blob": base64.b64encode(os.urandom(48_000)).decode()}
    steps = 400

    async def main() -> None:
        url = ws_url(srv.api, f"/ws/workflows/{wf}")
        # max_queue=1: the slow client's library stops reading from the socket at once.
        async with open_feed(url) as fast_conn, open_feed(url, max_queue=1, max_size=None) as slow_conn:
            tracer = Tracer(srv.otlp_http)
            ack_times: list[float] = []
            try:

                def emit() -> None:
                    ex = Execution(tracer, wf)
                    for i in range(steps):
                        ex.start_step(f"s{i}")
                        ex.end_step(f"s{i}", output=big)
                        if i % 20 == 19:
                            t = time.monotonic()
                            tracer.flush()
                            ack_times.append(time.monotonic() - t)
                    ex.end()
                    tracer.flush()

                fast = Feed(fast_conn)
                emitting = asyncio.create_task(asyncio.to_thread(emit))
                received = await fast.until("workflow_completed", timeout=60)
                await emitting
            finally:
                tracer.shutdown()
            assert len(received) == 2 + 2 * steps
            assert max(ack_times) < 2.0, ack_times  # ingest was never held up by the stuck client
            code, reason = await Feed(slow_conn).close_code(timeout=20)
            assert code == 1013, (code, reason)
            assert "too slow" in reason and "since" in reason

    asyncio.run(main())


def test_200_concurrent_subscribers_all_receive_every_event(shared_server: RunningServer) -> None:
    wf = new_workflow_id()
    runs = 3
    expected = [
        "workflow_started",
        "step_started:a",
        "step_completed:a",
        "step_started:b",
        "step_completed:b",
    ]
    expected += ["workflow_completed"]

    async def subscriber(path: str) -> list[str]:
        async with open_feed(ws_url(shared_server.api, path)) as conn:
            ready.release()
            feed = Feed(conn)
            end = "workflow_completed" if "/step/" not in path else "step_completed"
            return names(await feed.until(end, timeout=30, count=runs))

    ready = asyncio.Semaphore(0)

    async def main() -> None:
        paths = [f"/ws/workflows/{wf}"] * 150 + [f"/ws/workflows/{wf}/step/b"] * 50
        tasks = [asyncio.create_task(subscriber(p)) for p in paths]
        for _ in paths:
            await asyncio.wait_for(ready.acquire(), 30)
        tracer = Tracer(shared_server.otlp_http)
        try:

            def emit() -> None:
                for _ in range(runs):
                    ex = Execution(tracer, wf, autoflush=True)
                    for s in ("a", "b"):
                        ex.start_step(s)
                        ex.end_step(s, output={"s": s})
                    ex.end()

            await asyncio.to_thread(emit)
            results = await asyncio.gather(*tasks)
        finally:
            tracer.shutdown()
        for path, got in zip(paths, results, strict=True):
            if "/step/" in path:
                assert got == ["step_started:b", "step_completed:b"] * runs
            else:
                assert got == expected * runs

    asyncio.run(main())

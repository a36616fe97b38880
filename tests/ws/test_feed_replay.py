"""`?since=` replay: committed history first, then live, with neither gap nor repeat."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flowscope.api.ws.config import LiveConfig
from flowscope.api.ws.events import iso
from flowscope.api.ws.replay import replay
from flowscope.collector.prepare import prepared_request
from flowscope.storage.duckdb.store import Store
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from tests.support.server import RunningServer
from tests.ws.support import Execution, Feed, Tracer, names, new_workflow_id, open_feed, ws_url

ONE_STEP = ["workflow_started", "step_started:a", "step_completed:a", "workflow_completed"]
TWO_STEPS = [
    "workflow_started", "step_started:a", "step_completed:a", "step_started:b", "step_completed:b",
    "workflow_completed",
]  # fmt: skip


def by_execution(messages: list[dict[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for m in messages:
        if m["event"] != "replay_complete":
            out[m["data"]["execution_id"]] += names([m])
    return dict(out)


def test_since_replays_history_then_continues_live(shared_server: RunningServer) -> None:
    wf = new_workflow_id()
    tracer = Tracer(shared_server.otlp_http)
    since = iso(time.time_ns())
    done = Execution(tracer, wf, autoflush=True)
    done.start_step("a")
    done.end_step("a", output={})
    done.end()
    running = Execution(tracer, wf, autoflush=True, number=2)
    running.start_step("a")
    running.end_step("a", output={})

    async def main() -> None:
        async with (
            open_feed(ws_url(shared_server.api, f"/ws/workflows/{wf}", since=since)) as conn,
            open_feed(ws_url(shared_server.api, f"/ws/workflows/{wf}/step/b", since=since)) as step_conn,
        ):
            feed = Feed(conn)
            history = await feed.until("replay_complete")
            assert history[-1]["data"]["count"] == 7 and history[-1]["data"]["truncated"] is False
            assert by_execution(history) == {
                done.execution_id: ONE_STEP,
                running.execution_id: ["workflow_started", "step_started:a", "step_completed:a"],
            }
            assert names(await Feed(step_conn).until("replay_complete")) == ["replay_complete"]

            def finish() -> None:
                running.start_step("b")
                running.end_step("b", output={})
                running.end()

            await asyncio.to_thread(finish)
            live = await feed.until("workflow_completed")
            assert names(live) == ["step_started:b", "step_completed:b", "workflow_completed"]
            assert names(await Feed(step_conn).quiet(0.3)) == ["step_started:b", "step_completed:b"]

            # reconnect from the middle: only what has a later timestamp
            middle = history[2]["data"]["timestamp"]  # the first execution's step_completed
            assert names(history[:4]) == ONE_STEP
            async with open_feed(ws_url(shared_server.api, f"/ws/workflows/{wf}", since=middle)) as again:
                rest = await Feed(again).until("replay_complete")
            assert by_execution(rest) == {
                done.execution_id: ["workflow_completed"],
                running.execution_id: TWO_STEPS,
            }
            assert all(m["data"]["timestamp"] > middle for m in rest[:-1])

    try:
        asyncio.run(main())
    finally:
        tracer.shutdown()


def test_replay_to_live_boundary_under_traffic_has_no_gap_and_no_repeat(shared_server: RunningServer) -> None:
    """Executions keep committing while clients connect with `since`: each sees every event once."""
    wf = new_workflow_id()
    tracer = Tracer(shared_server.otlp_http)
    since = iso(time.time_ns())
    started: list[str] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set() and len(started) < 40:
            ex = Execution(tracer, wf, autoflush=True)
            started.append(ex.execution_id)
            for step in ("a", "b"):
                ex.start_step(step)
                ex.end_step(step, output={})
            ex.end()

    async def client(delay: float) -> list[dict[str, Any]]:
        await asyncio.sleep(delay)
        async with open_feed(ws_url(shared_server.api, f"/ws/workflows/{wf}", since=since)) as conn:
            feed = Feed(conn)
            messages: list[dict[str, Any]] = []
            while True:
                ended = {m["data"]["execution_id"] for m in messages if m["event"] == "workflow_completed"}
                # Everything started so far has ended: done once the traffic thread is (the last
                # event can arrive before that thread returns from its last export), unless it
                # started more meanwhile.
                if (
                    set(started) <= ended
                    and await asyncio.to_thread(thread_done.wait, 60)
                    and set(started) <= ended
                ):
                    return messages
                messages.append(await feed.next(45))  # a loaded CI machine may pause a writer for seconds

    thread_done = threading.Event()

    def run_traffic() -> None:
        try:
            traffic()
        finally:
            thread_done.set()

    async def main() -> None:
        worker = threading.Thread(target=run_traffic)
        worker.start()
        try:
            results = await asyncio.gather(*(client(0.05 + 0.1 * i) for i in range(6)))
        finally:
            stop.set()
            await asyncio.to_thread(worker.join)
        for messages in results:
            assert sum(m["event"] == "replay_complete" for m in messages) == 1
            assert by_execution(messages) == dict.fromkeys(started, TWO_STEPS)

    try:
        asyncio.run(main())
    finally:
        tracer.shutdown()


def test_first_subscribers_joining_mid_execution_get_a_causal_feed(shared_server: RunningServer) -> None:
    """Nobody watched the workflow when the execution and its step `a` began, so the hub never
    sequenced those records. Subscribers that arrive then still get causal feeds: without
    `since`, the execution and step `a` start (synthesized, after the reorder window) before
    what follows; with `since`, the replay sends the real starts and live continues with
    neither gap nor repeat (the synthesized copies carry the same event ids and are dropped)."""
    wf = new_workflow_id()
    tracer = Tracer(shared_server.otlp_http)
    since = iso(time.time_ns())
    running = Execution(tracer, wf, autoflush=True)
    running.start_step("a")

    def finish() -> None:
        running.end_step("a", output={})
        running.start_step("b", order=2)
        running.end_step("b", output={})
        running.end()

    async def main() -> None:
        async with (
            open_feed(ws_url(shared_server.api, f"/ws/workflows/{wf}")) as plain,
            open_feed(ws_url(shared_server.api, f"/ws/workflows/{wf}", since=since)) as replaying,
        ):
            replayed = Feed(replaying)
            history = await replayed.until("replay_complete")
            assert names(history) == ["workflow_started", "step_started:a", "replay_complete"]
            await asyncio.to_thread(finish)
            live = await Feed(plain).until("workflow_completed")
            assert names(live) == TWO_STEPS
            # The starts are synthesized unless the hub took their commit only after this feed
            # subscribed (it consumes the change feed on its own thread): then they are the real
            # ones. Either way they are the same events, ids included, and come first.
            assert not any(m["data"]["synthesized"] for m in live[2:])
            assert [m["data"]["event_id"] for m in live[:2]] == [m["data"]["event_id"] for m in history[:2]]
            rest = await replayed.until("workflow_completed")
            assert names(rest) == TWO_STEPS[2:]
            assert not any(m["data"]["synthesized"] for m in history[:2] + rest)
            assert await Feed(plain).quiet(0.3) == [] and await replayed.quiet(0.3) == []

    try:
        asyncio.run(main())
    finally:
        tracer.shutdown()


class _StoreSpans(SpanExporter):
    def __init__(self, store: Store) -> None:
        self.store = store

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        self.store.writer.submit(
            prepared_request("traces", encode_spans(spans), "default", len(spans))
        ).result(30)
        return SpanExportResult.SUCCESS


class _StoreLogs(LogRecordExporter):
    def __init__(self, store: Store) -> None:
        self.store = store

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        self.store.writer.submit(prepared_request("logs", encode_logs(batch), "default", len(batch))).result(
            30
        )
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def test_replay_is_bounded_and_keeps_the_most_recent(tmp_path: Path) -> None:
    store = Store(tmp_path / "replay.duckdb")
    store.start()
    tracer = Tracer("", exporters=(_StoreSpans(store), _StoreLogs(store)))
    try:
        wf = new_workflow_id()
        since = time.time_ns()
        executions = []
        for n in range(5):
            ex = Execution(tracer, wf, autoflush=True, number=n + 1)
            ex.start_step("a")
            ex.end_step("a", output={"n": n})
            ex.end()
            executions.append(ex.execution_id)
        full = replay(store, LiveConfig(), "default", wf, None, since)
        assert not full.truncated
        assert [names([m])[0] for m in _as_messages(full.events)] == ONE_STEP * 5
        assert [e.execution_id for e in full.events[::4]] == executions

        few = replay(store, LiveConfig(replay_max_events=6), "default", wf, None, since)
        assert few.truncated and [e.event_id for e in few.events] == [e.event_id for e in full.events[-6:]]
        recent = replay(store, LiveConfig(replay_max_executions=2), "default", wf, None, since)
        assert recent.truncated and {e.execution_id for e in recent.events} == set(executions[-2:])
        step = replay(store, LiveConfig(), "default", wf, "a", since)
        assert {e.event for e in step.events} == {"step_started", "step_completed"} and len(step.events) == 10
        assert replay(store, LiveConfig(), "other-workspace", wf, None, since).events == []
    finally:
        tracer.shutdown()
        store.close()


def _as_messages(events: Sequence[Any]) -> list[dict[str, Any]]:
    return [{"event": e.event, "data": e.data} for e in events]

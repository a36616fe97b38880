"""The hub in-process: routing to workflow/step subscribers, bounded queues, bus overflow, shutdown,
joining mid-execution, ordering off the event loop, reorder windows without further commits."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from flowscope.api.ws.config import LiveConfig
from flowscope.api.ws.hub import Hub
from flowscope.api.ws.subscriber import Subscriber
from flowscope.storage.changes import CommittedBatch, EventBus, WorkflowLogRecord, WorkflowSpan
from flowscope.storage.replay import WorkflowHistory

from flowscope import conventions as c

T0 = 1_700_000_000_000_000_000


def execution(workspace: str, workflow: str, trace: str) -> CommittedBatch:
    """One whole execution (a started record, one step with its record, the root) in one commit."""
    base = {c.WORKFLOW_ID: workflow}
    step = {**base, c.STEP_ID: "s", c.STEP_NAME: "S"}
    logs = [
        WorkflowLogRecord(workspace, 1, c.EVENT_EXECUTION_STARTED, T0, trace, "r" * 16, None, base),
        WorkflowLogRecord(workspace, 2, c.EVENT_STEP_STARTED, T0 + 1, trace, "s" * 16, None, step),
    ]
    spans = [
        WorkflowSpan(workspace, trace, "s" * 16, "r" * 16, "S", "step", T0 + 1, T0 + 2, 0, "", step),
        WorkflowSpan(workspace, trace, "r" * 16, "", "RUN", "execution", T0, T0 + 3, 0, "", base),
    ]
    return CommittedBatch(1, None, 0, spans, logs)


def subscriber(workspace: str, workflow: str, step: str | None = None, max_queue: int = 100) -> Subscriber:
    return Subscriber(None, workspace, workflow, step, max_queue, paused=False)  # type: ignore[arg-type]


def events(sub: Subscriber) -> list[str]:
    return [e.event for e in sub.queue]


async def settle(bus: EventBus) -> None:
    """Until what was published is ordered and fanned out: the bus's delivery thread orders each
    commit and hands its events to the loop before it counts as delivered, so they run first."""
    await asyncio.to_thread(bus.flush)
    await asyncio.sleep(0)


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """For what another thread does at a time of its own (a reorder window passing)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_routing_by_workspace_workflow_and_step() -> None:
    async def main() -> None:
        bus = EventBus()
        hub = Hub(bus, LiveConfig())
        hub.start()
        subs: dict[str, Any] = {
            "wf": subscriber("ws1", "wf"),
            "step": subscriber("ws1", "wf", "s"),
            "other_step": subscriber("ws1", "wf", "t"),
            "other_workflow": subscriber("ws1", "wf2"),
            "other_workspace": subscriber("ws2", "wf"),
        }
        for sub in subs.values():
            hub.add(sub)
        bus.publish(execution("ws1", "wf", "a" * 32))
        await settle(bus)
        assert events(subs["wf"]) == [
            "workflow_started",
            "step_started",
            "step_completed",
            "workflow_completed",
        ]
        assert events(subs["step"]) == ["step_started", "step_completed"]
        assert events(subs["other_step"]) == events(subs["other_workflow"]) == []
        assert events(subs["other_workspace"]) == []
        # one serialization per event, shared by every connection that receives it
        assert subs["wf"].queue[1] is subs["step"].queue[0]
        await hub.stop()

    asyncio.run(main())


def test_full_queue_closes_only_that_subscriber_with_1013() -> None:
    async def main() -> None:
        bus = EventBus()
        hub = Hub(bus, LiveConfig())
        hub.start()
        slow, fast = subscriber("ws", "wf", max_queue=6), subscriber("ws", "wf", max_queue=1000)
        hub.add(slow)
        hub.add(fast)
        for i in range(3):  # 12 events
            bus.publish(execution("ws", "wf", f"{i:032x}"))
        await settle(bus)
        assert slow.close_code == 1013 and "too slow" in slow.close_reason
        assert len(fast.queue) == 12 and fast.close_code is None
        await hub.stop()

    asyncio.run(main())


def test_lost_batches_make_every_feed_resync() -> None:
    """A commit the bus dropped for the hub (commit numbers skip) or an overflowing hand-off."""

    async def main() -> None:
        bus = EventBus()
        hub = Hub(bus, LiveConfig())
        hub.start()
        subs = [subscriber("ws", "wf"), subscriber("ws", "other")]
        for sub in subs:
            hub.add(sub)
        for seq in (1, 2, 4):  # 3 never arrived
            bus.publish(CommittedBatch(seq, None, 0))
        await settle(bus)
        for sub in subs:
            assert sub.close_code == 1013 and "since" in sub.close_reason
        await hub.stop()

    asyncio.run(main())


def test_a_feed_that_falls_behind_the_bus_makes_every_feed_resync() -> None:
    """The bus drops commits for a subscriber that falls `max_pending` behind: the numbers skip."""

    async def main() -> None:
        bus = EventBus(max_pending=4)
        hub = Hub(bus, LiveConfig())
        hub.start()
        sub = subscriber("ws", "wf")
        hub.add(sub)
        assert hub._ordering is not None
        with hub._ordering._lock:  # ordering stalls: its delivery thread takes one commit and waits
            for seq in range(1, 20):
                bus.publish(CommittedBatch(seq, None, 0))
        await settle(bus)
        assert bus.dropped > 0
        bus.publish(CommittedBatch(20, None, 0))
        await settle(bus)
        assert sub.close_code == 1013 and "since" in sub.close_reason
        await hub.stop()

    asyncio.run(main())


def test_shutdown_closes_with_1001_and_refuses_new_feeds() -> None:
    async def main() -> None:
        hub = Hub(EventBus(), LiveConfig(close_timeout_seconds=0.1))
        hub.start()
        sub = subscriber("ws", "wf")
        hub.add(sub)
        waiter = asyncio.create_task(hub.shutdown())
        await asyncio.sleep(0.01)
        assert sub.close_code == 1001 and sub.close_reason == "server shutting down"
        hub.remove(sub)  # what the connection handler does once the close frame is sent
        await asyncio.wait_for(waiter, 2)
        assert hub.closing and hub.subscriber_count == 0
        await hub.stop()

    asyncio.run(main())


class History:
    """A store's replay reader holding some committed spans and records (any workflow's)."""

    def __init__(self, batch: CommittedBatch) -> None:
        self.batch = batch

    def workflow_history(
        self, workspace_id: str, workflow_id: str, since_ns: int, event_names: Any, max_executions: int
    ) -> WorkflowHistory:
        return WorkflowHistory(self.batch.workflow_spans, self.batch.workflow_logs, False)


def test_a_subscriber_joining_mid_execution_gets_what_follows_as_if_ordered_all_along() -> None:
    """Nobody watched the workflow while its execution started (so nothing ordered it); the first
    subscriber's workflow is ordered from its stored history on: no workflow_started or
    step_started again, no synthesized ones, no waiting for the reorder window."""

    async def main() -> None:
        whole = execution("ws", "wf", "a" * 32)
        started = CommittedBatch(1, None, 0, [], whole.workflow_logs)  # both started records
        ended = CommittedBatch(2, None, 0, whole.workflow_spans, [])  # the step's and the root's spans
        bus = EventBus()
        hub = Hub(bus, LiveConfig(), history=History(started))  # type: ignore[arg-type]
        hub.start()
        bus.publish(started)
        await settle(bus)
        sub = subscriber("ws", "wf")
        await hub.subscribe(sub)
        bus.publish(ended)
        await settle(bus)
        assert events(sub) == ["step_completed", "workflow_completed"]
        assert not any(e.data["synthesized"] for e in sub.queue)
        await hub.stop()

    asyncio.run(main())


def test_ordering_runs_off_the_event_loop() -> None:
    async def main() -> None:
        bus = EventBus()
        hub = Hub(bus, LiveConfig())
        hub.start()
        assert hub._ordering is not None
        sequencer = hub._ordering.sequencer
        threads: set[int] = set()
        feed = sequencer.feed

        def recording_feed(*args: Any) -> Any:
            threads.add(threading.get_ident())
            return feed(*args)

        sequencer.feed = recording_feed  # type: ignore[method-assign]
        sub = subscriber("ws", "wf")
        hub.add(sub)
        bus.publish(execution("ws", "wf", "b" * 32))
        await settle(bus)
        assert len(sub.queue) == 4
        assert threads and threading.get_ident() not in threads
        await hub.stop()

    asyncio.run(main())


def test_a_fact_waiting_for_its_predecessor_is_released_when_the_window_passes_without_more_commits() -> None:
    """A step span whose started record never comes: after the window, a synthesized start and
    the end, with nothing else committed to wake the ordering."""

    async def main() -> None:
        bus = EventBus()
        hub = Hub(bus, LiveConfig(reorder_window_seconds=0.2))
        hub.start()
        sub = subscriber("ws", "wf")
        hub.add(sub)
        whole = execution("ws", "wf", "c" * 32)
        bus.publish(CommittedBatch(1, None, 0, whole.workflow_spans[:1], whole.workflow_logs[:1]))
        await settle(bus)
        assert events(sub) == ["workflow_started"]  # the step's end waits for its start
        await until(lambda: len(sub.queue) == 3)
        assert events(sub) == ["workflow_started", "step_started", "step_completed"]
        assert sub.queue[1].data["synthesized"]
        await hub.stop()

    asyncio.run(main())


def test_first_subscribers_connecting_together_read_the_history_once() -> None:
    async def main() -> None:
        history = History(CommittedBatch(1, None, 0))
        reads = [0]
        read = history.workflow_history

        def counting(*args: Any) -> WorkflowHistory:
            reads[0] += 1
            return read(*args)

        history.workflow_history = counting  # type: ignore[method-assign]
        hub = Hub(EventBus(), LiveConfig(), history=history)  # type: ignore[arg-type]
        hub.start()
        await asyncio.gather(*(hub.subscribe(subscriber("ws", "wf")) for _ in range(20)))
        assert reads[0] == 1 and hub.subscriber_count == 20
        await hub.subscribe(subscriber("ws", "wf"))  # watched already: nothing to read
        assert reads[0] == 1
        await hub.stop()

    asyncio.run(main())

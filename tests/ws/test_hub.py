"""The hub in-process: routing to workflow/step subscribers, bounded queues, bus overflow, shutdown."""

from __future__ import annotations

import asyncio
from typing import Any

from flowscope.api.ws.config import LiveConfig
from flowscope.api.ws.hub import Hub
from flowscope.api.ws.subscriber import Subscriber
from flowscope.storage.changes import CommittedBatch, EventBus, WorkflowLogRecord, WorkflowSpan

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


async def settle() -> None:
    for _ in range(5):
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
        await settle()
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
        await settle()
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
        await settle()
        for sub in subs:
            assert sub.close_code == 1013 and "since" in sub.close_reason
        late = subscriber("ws", "wf")
        hub.add(late)
        # Overflow the bus-to-loop hand-off deterministically: nothing awaits between these
        # puts, so the hub cannot drain it (publishing through the bus instead races its
        # delivery thread and loses nothing on some runs).
        handoff = hub._subscription
        for seq in range(5, 5 + handoff.queue.maxsize + 10):
            handoff._put(CommittedBatch(seq, None, 0))
        assert handoff.overflowed
        for _ in range(1000):  # draining the backlog can take a while on a loaded machine
            if late.close_code is not None:
                break
            await asyncio.sleep(0.01)
        assert late.close_code == 1013
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

"""The hub in-process: routing to workflow/step subscribers, bounded queues, bus overflow, shutdown."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from flowscope.api.ws.config import LiveConfig
from flowscope.api.ws.hub import Hub
from flowscope.api.ws.subscriber import Subscriber
from flowscope.storage.changes import CommittedBatch, EventBus, WorkflowLogRecord, WorkflowSpan

from flowscope import conventions as c

T0 = 1_700_000_000_000_000_000


def execution(workspace: str, workflow: str, trace: str, seq: int = 1) -> CommittedBatch:
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
    return CommittedBatch(seq, None, 0, spans, logs)


def subscriber(workspace: str, workflow: str, step: str | None = None, max_queue: int = 100) -> Subscriber:
    return Subscriber(None, workspace, workflow, step, max_queue, paused=False)  # type: ignore[arg-type]


def events(sub: Subscriber) -> list[str]:
    return [e.event for e in sub.queue]


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
        await hub.flush()
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
        await hub.flush()
        assert slow.close_code == 1013 and "too slow" in slow.close_reason
        assert len(fast.queue) == 12 and fast.close_code is None
        await hub.stop()

    asyncio.run(main())


def test_lost_batches_make_every_feed_resync() -> None:
    """A commit the bus dropped for the hub (commit numbers skip), or releases the loop has not
    taken in time (the hub thread is `max_handoffs` hand-offs ahead of the loop)."""

    async def main() -> None:
        bus = EventBus()
        hub = Hub(bus, LiveConfig(), max_handoffs=2)
        hub.start()
        subs = [subscriber("ws", "wf"), subscriber("ws", "other")]
        for sub in subs:
            hub.add(sub)
        for seq in (1, 2, 4):  # 3 never arrived
            bus.publish(CommittedBatch(seq, None, 0))
        await hub.flush()
        for sub in subs:
            assert sub.close_code == 1013 and "since" in sub.close_reason
        late = subscriber("ws", "wf")
        hub.add(late)
        # Block the loop (no await) while the hub thread releases 3 executions: the third
        # release finds 2 hand-offs not taken yet and is dropped.
        for seq in range(5, 8):
            bus.publish(execution("ws", "wf", f"{seq:032x}", seq))
        deadline = time.monotonic() + 30
        while not hub._resync_pending and time.monotonic() < deadline:
            time.sleep(0.001)  # blocking on purpose: the loop must not run
        assert hub._resync_pending
        await hub.flush()
        assert late.close_code == 1013
        assert len(late.queue) == 8  # the two releases handed off before the loss
        await hub.stop()

    asyncio.run(main())


def test_other_nodes_commits_are_numbered_apart_and_a_lost_one_makes_every_feed_resync() -> None:
    """A lake node's bus carries its own commits and, numbered by its follower, the other nodes'
    (`remote`, storage/ducklake/follow.py): interleaved they are no gap, and their events stream
    like local ones; a skipped remote number, or a batch marked `lost`, closes every feed."""

    async def main() -> None:
        bus = EventBus()
        hub = Hub(bus, LiveConfig())
        hub.start()
        sub = subscriber("ws", "wf")
        hub.add(sub)
        remote = execution("ws", "wf", "b" * 32, 1)
        remote.remote = True
        for batch in (CommittedBatch(1, None, 0), remote, CommittedBatch(2, None, 0)):
            bus.publish(batch)
        await hub.flush()
        assert sub.close_code is None
        assert events(sub) == ["workflow_started", "step_started", "step_completed", "workflow_completed"]
        bus.publish(CommittedBatch(3, None, 0, remote=True))  # remote 2 never arrived
        await hub.flush()
        assert sub.close_code == 1013 and "since" in sub.close_reason
        later = subscriber("ws", "wf")
        hub.add(later)
        bus.publish(CommittedBatch(4, None, 0, remote=True, lost=True))  # numbered on, but lost
        await hub.flush()
        assert later.close_code == 1013
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


def started_only(workspace: str, workflow: str, trace: str, seq: int) -> CommittedBatch:
    """The first half of an execution: its started record and step s's started record."""
    full = execution(workspace, workflow, trace, seq)
    return CommittedBatch(seq, None, 0, [], full.workflow_logs)


def ended_only(workspace: str, workflow: str, trace: str, seq: int) -> CommittedBatch:
    """The second half: step s's span and the root span."""
    full = execution(workspace, workflow, trace, seq)
    return CommittedBatch(seq, None, 0, full.workflow_spans, [])


def test_workflows_nobody_subscribes_to_are_not_sequenced() -> None:
    """Half-done executions would be held by the sequencer: only the subscribed workflow's is."""

    async def main() -> None:
        bus = EventBus()
        hub = Hub(bus, LiveConfig())
        hub.start()
        bus.publish(started_only("ws", "wf", "a" * 32, 1))  # no subscriber at all yet
        await hub.flush()
        assert hub._sequencer.open_executions == 0
        sub = subscriber("ws", "wf")
        hub.add(sub)
        for seq, (workspace, workflow) in enumerate((("ws", "other"), ("ws2", "wf"), ("ws", "wf")), 2):
            bus.publish(started_only(workspace, workflow, f"{seq:032x}", seq))
        await hub.flush()
        assert hub._sequencer.open_executions == 1  # ("ws", "wf") only
        assert events(sub) == ["workflow_started", "step_started"]
        await hub.stop()

    asyncio.run(main())


def test_subscribing_mid_execution_gets_synthesized_starts_then_the_rest_in_order() -> None:
    """The execution and its step began before the first subscription (their records were
    skipped): after the window, the feed starts them (synthesized, with the ids the real
    events had, so a `since` replay's copies are dropped), then streams the rest."""

    async def main() -> None:
        bus = EventBus()
        hub = Hub(bus, LiveConfig(reorder_window_seconds=0.2))
        hub.start()
        other = subscriber("ws", "unrelated")  # interest elsewhere: the filter runs, and skips
        hub.add(other)
        trace = "b" * 32
        bus.publish(started_only("ws", "wf", trace, 1))
        await hub.flush()
        assert hub._sequencer.open_executions == 0
        sub = subscriber("ws", "wf")
        hub.add(sub)
        bus.publish(ended_only("ws", "wf", trace, 2))
        deadline = time.monotonic() + 30
        while len(sub.queue) < 4 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)  # the window passes on the hub thread's clock
        got = list(sub.queue)
        assert [e.event for e in got] == [
            "workflow_started",
            "step_started",
            "step_completed",
            "workflow_completed",
        ]
        assert [e.data["synthesized"] for e in got] == [True, True, False, False]
        assert [e.event_id for e in got[:2]] == [f"{trace}/start", f"{trace}/s/start"]  # the real ones' ids
        assert [e.time_ns for e in got] == sorted(e.time_ns for e in got)
        assert not other.queue
        await hub.stop()

    asyncio.run(main())


def test_facts_are_sequenced_and_serialized_off_the_event_loop() -> None:
    """With the loop blocked, the hub thread still takes the batch, orders it and serializes its
    events; the loop only appends them to the connection's queue once it runs again."""

    async def main() -> None:
        bus = EventBus()
        hub = Hub(bus, LiveConfig())
        hub.start()
        sub = subscriber("ws", "wf")
        hub.add(sub)
        bus.publish(started_only("ws", "wf", "c" * 32, 1))
        deadline = time.monotonic() + 30
        while hub._handed == 0 and time.monotonic() < deadline:
            time.sleep(0.001)  # blocking on purpose: the loop must not run
        assert hub._sequencer.open_executions == 1 and hub._handed == 1
        assert not sub.queue  # handed over, not yet delivered: that is the loop's part
        await hub.flush()
        assert events(sub) == ["workflow_started", "step_started"]
        assert all(event._text is not None for event in sub.queue)  # queued already serialized
        await hub.stop()

    asyncio.run(main())

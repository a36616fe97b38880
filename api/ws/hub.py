"""The hub: one event-bus subscription for the whole process, fanned out to every connection.

The collector's writer publishes each commit's workflow spans and lifecycle records;
the hub turns them into facts, orders them per execution (`Sequencer`), serializes
each resulting event once and appends it to the queue of every connection subscribed
to its workflow (or to its step). Cost per event is one lookup plus one deque append
per interested connection, so idle and unrelated connections cost nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time

from flowscope.api.ws.config import LiveConfig
from flowscope.api.ws.events import LiveEvent
from flowscope.api.ws.facts import Fact, from_record, from_span
from flowscope.api.ws.sequencer import Sequencer
from flowscope.api.ws.subscriber import CLOSE_GOING_AWAY, CLOSE_TRY_AGAIN, Subscriber
from flowscope.storage.changes import AsyncSubscription, CommittedBatch, EventBus
from prometheus_client import CollectorRegistry, Counter, Gauge

log = logging.getLogger(__name__)

WorkflowKey = tuple[str, str]  # (workspace_id, workflow_id)
StepKey = tuple[str, str, str]  # (workspace_id, workflow_id, step_id)


class _Metrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        # registry=None: not registered anywhere (tests that build several hubs).
        r = registry
        self.connections = Gauge("flowscope_ws_connections", "Open WebSocket feed connections", registry=r)
        self.events = Counter("flowscope_ws_events", "Live events released in order", registry=r)
        self.messages = Counter("flowscope_ws_messages", "Live event messages queued", registry=r)
        self.slow = Counter(
            "flowscope_ws_slow_disconnects", "Connections closed for not keeping up", registry=r
        )


def batch_facts(batch: CommittedBatch) -> list[Fact]:
    facts: list[Fact] = []
    for span in batch.workflow_spans:
        fact = from_span(span)
        if fact is not None:
            facts.append(fact)
    for record in batch.workflow_logs:
        fact = from_record(record)
        if fact is not None:
            facts.append(fact)
    return facts


class Hub:
    def __init__(self, bus: EventBus, config: LiveConfig, registry: CollectorRegistry | None = None) -> None:
        self.config = config
        self._bus = bus
        self._sequencer = Sequencer(
            config.reorder_window_seconds,
            max_executions=config.max_executions,
            max_finished=config.max_finished,
            idle_seconds=config.idle_seconds,
        )
        self._workflows: dict[WorkflowKey, set[Subscriber]] = {}
        self._steps: dict[StepKey, set[Subscriber]] = {}
        self._subscribers: set[Subscriber] = set()
        self._emptied = asyncio.Event()
        self._subscription: AsyncSubscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_seq: int | None = None
        self.metrics = _Metrics(registry)
        self.closing = False

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        """Subscribe to the bus (idempotent); must run on the serving event loop."""
        if self._task is not None:
            return
        loop = asyncio.get_running_loop()
        # Generous: batches are small; losing one opens a gap (then clients resync, `_gap`).
        self._subscription = AsyncSubscription(self._bus, loop, maxsize=16_384)
        self._task = loop.create_task(self._run(self._subscription), name="flowscope-ws-hub")

    async def shutdown(self, code: int = CLOSE_GOING_AWAY, reason: str = "server shutting down") -> None:
        """Close every connection with `code` and wait (bounded) until their handlers end."""
        self.closing = True
        for sub in list(self._subscribers):
            sub.close(code, reason)
        if self._subscribers:
            self._emptied.clear()
            try:
                await asyncio.wait_for(self._emptied.wait(), self.config.close_timeout_seconds + 1)
            except TimeoutError:
                log.warning("%d WebSocket connections did not close in time", len(self._subscribers))

    async def stop(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    # --- subscriptions ----------------------------------------------------------------

    def add(self, sub: Subscriber) -> None:
        self._subscribers.add(sub)
        if sub.step_id is None:
            self._workflows.setdefault((sub.workspace_id, sub.workflow_id), set()).add(sub)
        else:
            key = (sub.workspace_id, sub.workflow_id, sub.step_id)
            self._steps.setdefault(key, set()).add(sub)
        self.metrics.connections.inc()

    def remove(self, sub: Subscriber) -> None:
        if sub not in self._subscribers:
            return
        self._subscribers.discard(sub)
        index: dict[tuple[str, ...], set[Subscriber]]
        if sub.step_id is None:
            index, key = self._workflows, (sub.workspace_id, sub.workflow_id)  # type: ignore[assignment]
        else:
            index, key = self._steps, (sub.workspace_id, sub.workflow_id, sub.step_id)  # type: ignore[assignment]
        subs = index.get(key)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del index[key]
        if sub.close_code == CLOSE_TRY_AGAIN:
            self.metrics.slow.inc()
        self.metrics.connections.dec()
        if not self._subscribers:
            self._emptied.set()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    # --- the loop ---------------------------------------------------------------------

    async def _run(self, subscription: AsyncSubscription) -> None:
        queue = subscription.queue
        sequencer = self._sequencer
        while True:
            batch: CommittedBatch | None = None
            if queue.empty():
                deadline = sequencer.next_deadline()
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    async with asyncio.timeout(timeout):
                        batch = await queue.get()
                except TimeoutError:
                    pass
            else:
                batch = queue.get_nowait()
            try:
                if subscription.overflowed or (batch is not None and self._gap(batch.commit_seq)):
                    subscription.overflowed = False
                    self._lost_batches()
                now = time.monotonic()
                released: list[LiveEvent] = []
                if batch is not None and (batch.workflow_spans or batch.workflow_logs):
                    facts = batch_facts(batch)
                    if facts:
                        released = sequencer.feed(facts, now)
                released.extend(sequencer.expire(now))
                if released:
                    self._fanout(released)
            except Exception:  # a bug in one batch must not stop every feed
                log.exception("live feed hub failed on a batch")

    def _gap(self, commit_seq: int) -> bool:
        """Commits are numbered 1, 2, 3, ...: a number skipped is a batch the bus dropped for us."""
        last, self._last_seq = self._last_seq, commit_seq
        return last is not None and commit_seq > last + 1

    def _fanout(self, released: list[LiveEvent]) -> None:
        workflows, steps = self._workflows, self._steps
        queued = 0
        for event in released:
            subs = workflows.get((event.workspace_id, event.workflow_id))
            if subs:
                for sub in subs:
                    sub.offer(event)
                queued += len(subs)
            if event.step_id is not None:
                subs = steps.get((event.workspace_id, event.workflow_id, event.step_id))
                if subs:
                    for sub in subs:
                        sub.offer(event)
                    queued += len(subs)
        self.metrics.events.inc(len(released))
        if queued:
            self.metrics.messages.inc(queued)

    def _lost_batches(self) -> None:
        """The bus dropped batches for us: every feed has a gap; make clients resync."""
        log.warning("live feed fell behind the collector; closing feeds so clients resync with since")
        for sub in list(self._subscribers):
            sub.close(CLOSE_TRY_AGAIN, "server fell behind; reconnect with ?since=<last timestamp>")

"""The hub: one event-bus subscription for the whole process, fanned out to every connection.

The collector's writer publishes each commit's workflow spans and lifecycle records; the
ordering (`api.ws.ordering`, on the bus's delivery thread) turns those of watched workflows
into facts and orders them per execution, off the event loop; the hub, on the loop,
appends each released event (serialized once, by the first connection that sends it) to
the queue of every connection subscribed to its workflow (or to its step). Cost per event
is one lookup plus one deque append per interested connection, so idle and unrelated
connections cost nothing, and telemetry of workflows nobody watches costs a lookup.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from flowscope.api.ws.config import LiveConfig
from flowscope.api.ws.events import LiveEvent
from flowscope.api.ws.facts import Fact
from flowscope.api.ws.ordering import Ordering
from flowscope.api.ws.replay import recent_facts
from flowscope.api.ws.subscriber import CLOSE_GOING_AWAY, CLOSE_TRY_AGAIN, Subscriber
from flowscope.storage.changes import EventBus
from flowscope.storage.replay import ReplayReader
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


class Hub:
    def __init__(
        self,
        bus: EventBus,
        config: LiveConfig,
        registry: CollectorRegistry | None = None,
        history: ReplayReader | None = None,
    ) -> None:
        """`history`: where a workflow's first subscriber has its ordering state read from
        (without it, ordering a workflow starts with its first subscriber: an execution
        under way then may get synthesized starts)."""
        self.config = config
        self._bus = bus
        self._history = history
        self._workflows: dict[WorkflowKey, set[Subscriber]] = {}
        self._steps: dict[StepKey, set[Subscriber]] = {}
        self._watchers: dict[WorkflowKey, int] = {}  # connections per workflow, either channel
        self._reading: dict[WorkflowKey, asyncio.Future[list[Fact] | None]] = {}  # first subscribers'
        self._subscribers: set[Subscriber] = set()
        self._emptied = asyncio.Event()
        self._ordering: Ordering | None = None
        self.metrics = _Metrics(registry)
        self.closing = False

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        """Start ordering what the bus delivers (idempotent); must run on the serving event loop,
        where the events are handed for the fan-out."""
        if self._ordering is not None:
            return
        loop = asyncio.get_running_loop()

        def on_loop(callback: Callable[..., None], *args: Any) -> None:
            with contextlib.suppress(RuntimeError):  # loop closed during shutdown
                loop.call_soon_threadsafe(callback, *args)

        self._ordering = Ordering(
            self.config, lambda events: on_loop(self._fanout, events), lambda: on_loop(self._lost_batches)
        )
        self._ordering.start(self._bus)
        for key in self._watchers:  # subscribers added before the start
            self._ordering.watch(key)

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
        ordering, self._ordering = self._ordering, None
        if ordering is not None:
            await asyncio.to_thread(ordering.stop)

    # --- subscriptions ----------------------------------------------------------------

    async def subscribe(self, sub: Subscriber) -> None:
        """`add`, after reading the history that ordering the workflow starts from if it is
        the workflow's first subscriber (a read failure only costs that: it is logged)."""
        key = (sub.workspace_id, sub.workflow_id)
        seed = None
        if self._history is not None and not self._watchers.get(key):
            # Clients often connect at once (a dashboard, a reconnect wave): one read for them all.
            reading = self._reading.get(key)
            if reading is None:
                reading = self._reading[key] = asyncio.ensure_future(self._read_history(key))
                reading.add_done_callback(lambda _: self._reading.pop(key, None))
            seed = await asyncio.shield(reading)
        self.add(sub, seed)

    async def _read_history(self, key: WorkflowKey) -> list[Fact] | None:
        assert self._history is not None
        try:
            return await asyncio.to_thread(recent_facts, self._history, self.config, *key, time.time_ns())
        except Exception:
            log.exception("live feed: reading the history of workflow %r failed", key[1])
            return None

    def add(self, sub: Subscriber, seed: list[Fact] | None = None) -> None:
        """Register `sub`; everything committed from now on reaches it. `seed`: the workflow's
        stored history, read before this call (see `subscribe`); used if `sub` is its first."""
        self._subscribers.add(sub)
        if sub.step_id is None:
            self._workflows.setdefault((sub.workspace_id, sub.workflow_id), set()).add(sub)
        else:
            key = (sub.workspace_id, sub.workflow_id, sub.step_id)
            self._steps.setdefault(key, set()).add(sub)
        workflow = (sub.workspace_id, sub.workflow_id)
        watchers = self._watchers.get(workflow, 0)
        self._watchers[workflow] = watchers + 1
        if watchers == 0 and self._ordering is not None:
            self._ordering.watch(workflow, seed)
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
        workflow = (sub.workspace_id, sub.workflow_id)
        watchers = self._watchers.pop(workflow) - 1
        if watchers:
            self._watchers[workflow] = watchers
        elif self._ordering is not None:
            self._ordering.unwatch(workflow)
        if sub.close_code == CLOSE_TRY_AGAIN:
            self.metrics.slow.inc()
        self.metrics.connections.dec()
        if not self._subscribers:
            self._emptied.set()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    # --- on the loop, from the ordering ---------------------------------------------------

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

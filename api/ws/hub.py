"""The hub: one event-bus subscription for the whole process, fanned out to every connection.

The collector's writer publishes each commit's workflow spans and lifecycle records.
The hub's own thread (never the event loop that serves OTLP/HTTP and the API) keeps
only those of workflows someone subscribes to (`InterestFilter`), turns them into
facts, orders them per execution (`Sequencer`) and serializes each resulting event
once. It then hands each release to the serving loop in one `call_soon_threadsafe`,
where every event is appended to the queue of each connection subscribed to its
workflow (or its step). So a workflow nobody watches costs a dict lookup per span, and
idle or unrelated connections cost nothing.

Threads: subscriptions (`add`/`remove`) change on the loop; the hub thread only reads
the routing dicts, one `get` at a time, and their values are immutable tuples replaced
whole, so it needs no lock. Subscriber objects are touched on the loop only.

Other nodes of a lake: their commits arrive on the same bus (`remote` batches, published
by storage/ducklake/follow.py), numbered apart, and are sequenced like this node's.

Losing data: the bus drops batches for a hub that falls too far behind (commit numbers
then skip, `_gap`), a lake follower publishes a `lost` batch when it could not read the
other nodes' commits, and the hub drops releases when the loop has not taken the last
`max_handoffs` yet. Either way every feed has a gap, so every connection is closed
with 1013 and told to resync with `since`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from flowscope.api.ws.config import LiveConfig
from flowscope.api.ws.events import LiveEvent
from flowscope.api.ws.interest import InterestFilter
from flowscope.api.ws.sequencer import Sequencer
from flowscope.api.ws.subscriber import CLOSE_GOING_AWAY, CLOSE_TRY_AGAIN, Subscriber
from flowscope.storage.changes import CommittedBatch, EventBus
from prometheus_client import CollectorRegistry, Counter, Gauge

log = logging.getLogger(__name__)

WorkflowKey = tuple[str, str]  # (workspace_id, workflow_id)
StepKey = tuple[str, str, str]  # (workspace_id, workflow_id, step_id)
Delivery = tuple[tuple[Subscriber, ...], LiveEvent]

_STOP = object()
# Batches between the bus's delivery thread and the hub thread. Small: the bus queues
# (and, past its bounds, drops and counts) what the hub has not taken yet.
_INBOX = 64


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
        self, bus: EventBus, config: LiveConfig, registry: CollectorRegistry | None = None,
        *, max_handoffs: int = 10_000,
    ) -> None:  # fmt: skip
        self.config = config
        self._bus = bus
        self._max_handoffs = max_handoffs
        # Written on the loop, read by the hub thread (see the module docstring).
        self._interest: dict[WorkflowKey, int] = {}  # subscribers per workflow, step feeds included
        self._workflows: dict[WorkflowKey, tuple[Subscriber, ...]] = {}
        self._steps: dict[StepKey, tuple[Subscriber, ...]] = {}
        # The loop's alone.
        self._subscribers: set[Subscriber] = set()
        self._emptied = asyncio.Event()
        self._taken = 0  # hand-offs the loop ran
        self._loop: asyncio.AbstractEventLoop | None = None
        # The hub thread's alone.
        self._sequencer = Sequencer(
            config.reorder_window_seconds,
            max_executions=config.max_executions,
            max_finished=config.max_finished,
            idle_seconds=config.idle_seconds,
        )
        self._filter = InterestFilter(self._interest, config.reorder_window_seconds)
        self._last_seq: dict[bool, int] = {}  # by `remote`
        self._handed = 0  # hand-offs scheduled on the loop
        self._resync_pending = False  # a close-every-feed is scheduled (cleared on the loop)
        self._inbox: queue.Queue[Any] = queue.Queue(_INBOX)  # replaced on each start
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._stopping = False
        self.metrics = _Metrics(registry)
        self.closing = False

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        """Subscribe to the bus (idempotent); must run on the serving event loop, which is
        where the hub hands its events over."""
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._inbox = queue.Queue(_INBOX)
        self._thread = threading.Thread(
            target=self._work, args=(self._inbox,), name="flowscope-ws-hub", daemon=True
        )
        self._thread.start()
        self._unsubscribe = self._bus.subscribe(self._on_batch)

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
        thread = self._thread
        if thread is None:
            return
        self._stopping = True
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        # The hub thread drains the inbox, so this put does not wait long.
        with contextlib.suppress(queue.Full):
            await asyncio.to_thread(self._inbox.put, _STOP, True, 5.0)
        await asyncio.to_thread(thread.join, 5.0)
        self._thread = None

    async def flush(self) -> None:
        """Wait until every batch published so far is processed and its events are queued
        to their connections (tests; the hand-offs run before this returns)."""
        await asyncio.to_thread(self._bus.flush)
        await asyncio.to_thread(self._inbox.join)
        await asyncio.sleep(0)

    # --- subscriptions (on the loop) --------------------------------------------------

    def add(self, sub: Subscriber) -> None:
        self._subscribers.add(sub)
        workflow = (sub.workspace_id, sub.workflow_id)
        if sub.step_id is None:
            self._workflows[workflow] = (*self._workflows.get(workflow, ()), sub)
        else:
            key = (sub.workspace_id, sub.workflow_id, sub.step_id)
            self._steps[key] = (*self._steps.get(key, ()), sub)
        # Last: once the hub thread sees the interest, the routes are in place.
        self._interest[workflow] = self._interest.get(workflow, 0) + 1
        self.metrics.connections.inc()

    def remove(self, sub: Subscriber) -> None:
        if sub not in self._subscribers:
            return
        self._subscribers.discard(sub)
        workflow = (sub.workspace_id, sub.workflow_id)
        if sub.step_id is None:
            _unroute(self._workflows, workflow, sub)
        else:
            _unroute(self._steps, (sub.workspace_id, sub.workflow_id, sub.step_id), sub)
        count = self._interest[workflow] - 1
        if count:
            self._interest[workflow] = count
        else:
            del self._interest[workflow]
        if sub.close_code == CLOSE_TRY_AGAIN:
            self.metrics.slow.inc()
        self.metrics.connections.dec()
        if not self._subscribers:
            self._emptied.set()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    # --- the hub thread ---------------------------------------------------------------

    def _on_batch(self, batch: CommittedBatch) -> None:
        """The bus's delivery thread: pass the batch on; when the hub thread is behind, wait,
        so the bus's own bounded queue holds (or drops, and counts) the backlog."""
        while not self._stopping:
            with contextlib.suppress(queue.Full):
                self._inbox.put(batch, timeout=0.5)
                return

    def _work(self, inbox: queue.Queue[Any]) -> None:
        sequencer = self._sequencer
        while True:
            deadline = sequencer.next_deadline()
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                batch = inbox.get(timeout=timeout)
            except queue.Empty:
                batch = None  # a deadline passed
            if batch is _STOP:
                return
            try:
                self._process(batch)
            except Exception:  # a bug in one batch must not stop every feed
                log.exception("live feed hub failed on a batch")
            finally:
                if batch is not None:
                    inbox.task_done()

    def _process(self, batch: CommittedBatch | None) -> None:
        sequencer = self._sequencer
        if batch is not None and (batch.lost or self._gap(batch.commit_seq, batch.remote)):
            self._lost_batches()
        now = time.monotonic()
        released: list[LiveEvent] = []
        # No subscriber at all: nothing of the batch is looked at.
        if batch is not None and self._interest and (batch.workflow_spans or batch.workflow_logs):
            facts = self._filter.facts(batch, now)
            if facts:
                released = sequencer.feed(facts, now)
        released.extend(sequencer.expire(now))
        if released:
            self._hand_off(released)

    def _gap(self, commit_seq: int, remote: bool) -> bool:
        """Commits are numbered 1, 2, 3, ...: a number skipped is a batch the bus dropped for us.
        This node's commits and the other nodes' (`remote`: storage/ducklake/follow.py) are
        numbered apart."""
        last = self._last_seq.get(remote)
        self._last_seq[remote] = commit_seq
        return last is not None and commit_seq > last + 1

    def _hand_off(self, released: list[LiveEvent]) -> None:
        """Route and serialize here; the loop only appends to queues (`_deliver`)."""
        workflows, steps = self._workflows, self._steps
        deliveries: list[Delivery] = []
        queued = 0
        for event in released:
            subs = workflows.get((event.workspace_id, event.workflow_id))
            step_subs = None
            if event.step_id is not None:
                step_subs = steps.get((event.workspace_id, event.workflow_id, event.step_id))
            if not subs and not step_subs:
                continue
            _ = event.text  # serialized once, here, for every connection that sends it
            if subs:
                deliveries.append((subs, event))
                queued += len(subs)
            if step_subs:
                deliveries.append((step_subs, event))
                queued += len(step_subs)
        self.metrics.events.inc(len(released))
        if not deliveries:
            return
        if self._handed - self._taken >= self._max_handoffs:
            self._lost_batches()  # the loop is far behind: these events are lost for their feeds
            return
        self._handed += 1
        self._call(self._deliver, deliveries)
        self.metrics.messages.inc(queued)

    def _lost_batches(self) -> None:
        """Events were lost for the feeds: every feed has a gap; make clients resync (once
        until the loop has done it)."""
        if not self._resync_pending:
            self._resync_pending = True
            self._call(self._resync)

    def _call(self, callback: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
            self._loop.call_soon_threadsafe(callback, *args)

    # --- on the loop ------------------------------------------------------------------

    def _deliver(self, deliveries: list[Delivery]) -> None:
        self._taken += 1
        current = self._subscribers
        for subs, event in deliveries:
            for sub in subs:
                if sub in current:  # not removed since the hub thread routed the event
                    sub.offer(event)

    def _resync(self) -> None:
        self._resync_pending = False  # first: a loss after this point schedules another resync
        log.warning("live feed fell behind the collector; closing feeds so clients resync with since")
        for sub in list(self._subscribers):
            sub.close(CLOSE_TRY_AGAIN, "server fell behind; reconnect with ?since=<last timestamp>")


def _unroute(index: dict[Any, tuple[Subscriber, ...]], key: Any, sub: Subscriber) -> None:
    rest = tuple(s for s in index.get(key, ()) if s is not sub)
    if rest:
        index[key] = rest
    else:
        index.pop(key, None)

"""The live feeds' ordering thread: committed facts in causal order, off the event loop.

Commits reach an `Inbox` from the event bus (on the bus's delivery thread). One thread
takes them in commit order, builds facts only of executions it orders (those of workflows
someone watches: `Sequencer.admits`, one lookup per span or record of any other
workflow), runs the `Sequencer` (reorder windows included) and hands the events it
releases for watched workflows to `deliver`, which passes them to the event loop for the
fan-out. So nothing of the ordering runs on the loop that serves HTTP, OTLP and the feeds.

`watch`/`unwatch` notices from the loop travel through the same FIFO as the commits: a
commit delivered after a subscriber was added is ordered for it. A workflow watched for
the first time starts from its stored history (`seed`): what was read before the notice
is state, not news; events of it are not sent again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from flowscope.api.ws.config import LiveConfig
from flowscope.api.ws.events import LiveEvent
from flowscope.api.ws.facts import Fact, batch_facts
from flowscope.api.ws.sequencer import Sequencer
from flowscope.storage.changes import CommittedBatch, EventBus

log = logging.getLogger(__name__)

WorkflowKey = tuple[str, str]  # (workspace_id, workflow_id)


@dataclass(frozen=True, slots=True)
class _Watch:
    key: WorkflowKey
    seed: list[Fact] | None  # its stored history, read before the notice was sent


@dataclass(frozen=True, slots=True)
class _Unwatch:
    key: WorkflowKey


_STOP = object()
Item = CommittedBatch | _Watch | _Unwatch | object


class Inbox:
    """Commits from the bus and notices from the loop, in one FIFO, for the ordering thread.

    Commits are bounded: with `maxsize` of them pending, a new one is dropped and
    `overflowed` set (every feed then has a gap: clients resync). Notices are never dropped."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.overflowed = False
        self._items: deque[Item] = deque()
        self._batches = 0
        self._ready = threading.Condition(threading.Lock())

    def put(self, batch: CommittedBatch) -> None:
        """The bus subscriber: never blocks."""
        with self._ready:
            if self._batches >= self.maxsize:
                self.overflowed = True
                return
            self._batches += 1
            self._items.append(batch)
            self._ready.notify()

    def notice(self, item: Item) -> None:
        with self._ready:
            self._items.append(item)
            self._ready.notify()

    def get(self, timeout: float | None) -> Item | None:
        """The next item; None when `timeout` seconds pass without one."""
        with self._ready:
            if not self._items and not self._ready.wait_for(lambda: bool(self._items), timeout):
                return None
            item = self._items.popleft()
            if isinstance(item, CommittedBatch):
                self._batches -= 1
            return item


class Ordering:
    """The thread: `deliver(events)` and `lost()` are called on it (they hand over to the loop)."""

    def __init__(
        self,
        config: LiveConfig,
        deliver: Callable[[list[LiveEvent]], None],
        lost: Callable[[], None],
        max_pending: int = 16_384,  # generous: batches are small; losing one opens a gap
    ) -> None:
        self._watched: set[WorkflowKey] = set()  # the thread's own view (notices keep it in order)
        self.sequencer = Sequencer(
            config.reorder_window_seconds,
            max_executions=config.max_executions,
            max_finished=config.max_finished,
            idle_seconds=config.idle_seconds,
            wanted=lambda workspace_id, workflow_id: (workspace_id, workflow_id) in self._watched,
        )
        self.inbox = Inbox(max_pending)
        self._deliver = deliver
        self._lost = lost
        self._last_seq: int | None = None
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def start(self, bus: EventBus) -> None:
        self._unsubscribe = bus.subscribe(self.inbox.put)
        self._thread = threading.Thread(target=self._run, name="flowscope-ws-ordering", daemon=True)
        self._thread.start()

    def watch(self, key: WorkflowKey, seed: list[Fact] | None = None) -> None:
        self.inbox.notice(_Watch(key, seed))

    def unwatch(self, key: WorkflowKey) -> None:
        self.inbox.notice(_Unwatch(key))

    def stop(self, timeout: float = 5.0) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.inbox.notice(_STOP)
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        inbox, sequencer = self.inbox, self.sequencer
        while True:
            deadline = sequencer.next_deadline()
            item = inbox.get(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if item is _STOP:
                return
            try:
                self._handle(item)
            except Exception:  # a bug in one batch must not stop every feed
                log.exception("live feed ordering failed on a batch")

    def _handle(self, item: Item | None) -> None:
        sequencer = self.sequencer
        now = time.monotonic()
        released: list[LiveEvent] = []
        if self.inbox.overflowed or (isinstance(item, CommittedBatch) and self._gap(item.commit_seq)):
            self.inbox.overflowed = False
            self._lost()
        if isinstance(item, CommittedBatch):
            # Nothing watched and nothing being ordered: no fact of this commit can matter.
            if (item.workflow_spans or item.workflow_logs) and (self._watched or sequencer.open_executions):
                facts = batch_facts(item, sequencer.admits)
                if facts:
                    released = sequencer.feed(facts, now)
        elif isinstance(item, _Watch):
            if item.key not in self._watched:
                self._watched.add(item.key)
                if item.seed:
                    sequencer.seed(item.seed, now, time.time_ns())
        elif isinstance(item, _Unwatch):
            self._watched.discard(item.key)
        released.extend(sequencer.expire(now))
        if released:
            watched = self._watched
            wanted = [e for e in released if (e.workspace_id, e.workflow_id) in watched]
            if wanted:
                self._deliver(wanted)

    def _gap(self, commit_seq: int) -> bool:
        """Commits are numbered 1, 2, 3, ...: a number skipped is a batch the bus dropped for us."""
        last, self._last_seq = self._last_seq, commit_seq
        return last is not None and commit_seq > last + 1

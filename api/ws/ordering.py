"""The live feeds' ordering: committed facts in causal order, off the event loop.

Each commit is ordered on the event bus's delivery thread of this subscriber, as soon as
the bus hands it over: facts are built only of executions being ordered (those of
workflows someone watches: `Sequencer.admits`, one lookup per span or record of any other
workflow), the `Sequencer` releases what it can, and the events of watched workflows go
to `deliver`, which passes them to the event loop for the fan-out. In-order data thus
crosses as many threads as it did when the hub ran on the loop (writer -> bus -> loop):
each more hop is one more wake-up, which a busy 2-core machine can make wait for
milliseconds. A second thread, idle unless needed, releases what waited out its reorder
window and applies watch notices nobody's commit has applied yet.

`watch`/`unwatch` notices from the loop are applied before the next commit is ordered: a
commit delivered after a subscriber was added is ordered for it. A workflow watched for
the first time starts from its stored history (`seed`): what was read before the notice
is state, not news; events of it are not sent again. The bus numbers commits 1, 2, 3...:
one skipped is a batch it dropped for us (we fell behind), and every feed has a gap.
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

_NEVER = float("inf")

WorkflowKey = tuple[str, str]  # (workspace_id, workflow_id)


@dataclass(frozen=True, slots=True)
class _Notice:
    key: WorkflowKey
    watch: bool  # else unwatch
    seed: list[Fact] | None = None  # its stored history, read before the notice was sent


class Ordering:
    """`deliver(events)` and `lost()` are called with the ordering lock held, so in order (they
    hand over to the loop)."""

    def __init__(
        self, config: LiveConfig, deliver: Callable[[list[LiveEvent]], None], lost: Callable[[], None]
    ) -> None:
        self._watched: set[WorkflowKey] = set()  # changed only by notices, under the lock
        self.sequencer = Sequencer(
            config.reorder_window_seconds,
            max_executions=config.max_executions,
            max_finished=config.max_finished,
            idle_seconds=config.idle_seconds,
            wanted=lambda workspace_id, workflow_id: (workspace_id, workflow_id) in self._watched,
        )
        self._deliver = deliver
        self._lost = lost
        self._lock = threading.Lock()  # the sequencer's: the bus's thread or the timer's
        self._notices: deque[_Notice] = deque()
        self._wake = threading.Condition(threading.Lock())  # the timer: a notice or a new deadline
        self._sleeping_until: float | None = None  # the timer's (under `_wake`); None: awake
        self._replan = False  # a commit set a deadline the timer may not have read
        self._stopping = False
        self._last_seq: int | None = None
        self._timer: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def start(self, bus: EventBus) -> None:
        self._timer = threading.Thread(target=self._run_timer, name="flowscope-ws-ordering", daemon=True)
        self._timer.start()
        self._unsubscribe = bus.subscribe(self.on_commit)

    def stop(self, timeout: float = 5.0) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._timer is not None:
            self._timer.join(timeout)

    def watch(self, key: WorkflowKey, seed: list[Fact] | None = None) -> None:
        self._notify(_Notice(key, True, seed))

    def unwatch(self, key: WorkflowKey) -> None:
        self._notify(_Notice(key, False))

    def _notify(self, notice: _Notice) -> None:
        self._notices.append(notice)
        with self._wake:
            self._wake.notify()

    # --- on the bus's delivery thread -----------------------------------------------------

    def on_commit(self, batch: CommittedBatch) -> None:
        sequencer = self.sequencer
        try:
            with self._lock:
                now = time.monotonic()
                self._apply_notices(now)
                if self._gap(batch.commit_seq):
                    self._lost()
                released = self._feed(batch, now)
                released.extend(sequencer.expire(now))
                self._hand_over(released)
                deadline = sequencer.next_deadline()
        except Exception:  # a bug in one batch must not stop every feed
            log.exception("live feed ordering failed on a batch")
            return
        if deadline is not None:
            with self._wake:
                if self._sleeping_until is None or deadline < self._sleeping_until:
                    self._replan = True  # what the timer read may be older than this deadline
                    self._wake.notify()

    def _feed(self, batch: CommittedBatch, now: float) -> list[LiveEvent]:
        sequencer = self.sequencer
        if not (batch.workflow_spans or batch.workflow_logs):
            return []
        if not (self._watched or sequencer.open_executions):
            return []  # nothing watched, nothing being ordered: no fact of this commit can matter
        facts = batch_facts(batch, sequencer.admits)
        return sequencer.feed(facts, now) if facts else []

    def _gap(self, commit_seq: int) -> bool:
        last, self._last_seq = self._last_seq, commit_seq
        return last is not None and commit_seq > last + 1

    # --- on the timer thread --------------------------------------------------------------

    def _run_timer(self) -> None:
        while True:
            with self._lock:
                deadline = self.sequencer.next_deadline()
            with self._wake:
                if not (self._stopping or self._notices or self._replan):
                    timeout = None if deadline is None else deadline - time.monotonic()
                    if timeout is None or timeout > 0:
                        self._sleeping_until = _NEVER if deadline is None else deadline
                        self._wake.wait(timeout)
                        self._sleeping_until = None
                self._replan = False
                if self._stopping:
                    return
            try:
                with self._lock:
                    now = time.monotonic()
                    self._apply_notices(now)
                    self._hand_over(self.sequencer.expire(now))
            except Exception:  # a bug must not stop every feed
                log.exception("live feed ordering failed")

    # --- either thread, with the lock held ------------------------------------------------

    def _apply_notices(self, now: float) -> None:
        notices = self._notices
        while notices:
            notice = notices.popleft()
            if not notice.watch:
                self._watched.discard(notice.key)
            elif notice.key not in self._watched:
                self._watched.add(notice.key)
                if notice.seed:
                    self.sequencer.seed(notice.seed, now, time.time_ns())

    def _hand_over(self, released: list[LiveEvent]) -> None:
        if released:
            watched = self._watched
            wanted = [e for e in released if (e.workspace_id, e.workflow_id) in watched]
            if wanted:
                self._deliver(wanted)

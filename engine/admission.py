"""Which executions may start, and in what order: per-workspace quotas, fair dispatch.

Rules (the README's "Limits" lists them for users):
- At most `max_running` executions run at once over all workspaces, and at most
  `max_running_per_workspace` of one workspace.
- An execution that cannot start at once waits as `pending`. A workspace may have at
  most `max_pending_per_workspace` waiting; one more is refused with `QuotaExceeded`
  (the API answers 429 with its `retry_after`). Nothing is queued or emitted for it.
- When a slot frees, the next execution to start is taken round-robin over the
  workspaces that have one waiting and are under their own running limit: the one whose
  last start is the oldest goes first (FIFO within a workspace). A workspace with a
  thousand queued executions delays another's by one start, instead of a thousand as a
  global FIFO would. Choosing is a scan over the workspaces that have some waiting.

Pure bookkeeping, no asyncio and no locks: the engine calls it from its own loop only.
Invariant after every call: no waiting item could start (so admission in arrival
order never jumps over a waiting one that was entitled to the slot).
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

# Retry-After bounds (seconds): the estimate is rough, so it is kept useful for clients.
_MIN_RETRY_AFTER, _MAX_RETRY_AFTER = 1, 60
_EWMA_WEIGHT = 0.2  # of the newest execution duration in the running mean


@dataclass(frozen=True, slots=True)
class Limits:
    max_running: int
    max_running_per_workspace: int
    max_pending_per_workspace: int


class QuotaExceeded(Exception):
    """A workspace has as many executions running and waiting as it may; `retry_after` in seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class FairQueue(Generic[T]):
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._running: Counter[str] = Counter()
        self._total_running = 0
        self._pending: dict[str, deque[T]] = {}
        # Workspace -> when it last started an execution (a counter); only for workspaces with
        # some running or waiting, since "never" (absent) rightly means "first in line".
        self._last_start: dict[str, int] = {}
        self._clock = 0
        self._mean_seconds: float | None = None  # running mean of execution durations

    # -- reading -------------------------------------------------------------------
    def running(self, workspace: str | None = None) -> int:
        return self._total_running if workspace is None else self._running[workspace]

    def pending(self, workspace: str | None = None) -> int:
        if workspace is None:
            return sum(len(q) for q in self._pending.values())
        q = self._pending.get(workspace)
        return len(q) if q else 0

    def room(self, workspace: str) -> int:
        """How many more executions `workspace` may submit right now (started or queued): what
        may start now (its own and the global running limits) plus its free waiting places."""
        lim = self.limits
        start_now = min(
            lim.max_running_per_workspace - self._running[workspace], lim.max_running - self._total_running
        )
        return max(0, start_now) + max(0, lim.max_pending_per_workspace - self.pending(workspace))

    # -- changing ------------------------------------------------------------------
    def check(self, workspace: str, count: int = 1) -> None:
        """Raise QuotaExceeded unless `admit(workspace, ...)` would accept `count` more."""
        room = self.room(workspace)
        if room >= count:
            return
        lim = self.limits
        retry = self.retry_after(workspace)
        raise QuotaExceeded(
            f"too many executions in this workspace: {self._running[workspace]} running and "
            f"{self.pending(workspace)} pending (limits: max_running_per_workspace="
            f"{lim.max_running_per_workspace}, max_pending_per_workspace={lim.max_pending_per_workspace})"
            f"{f'; {count} requested, room for {room}' if count > 1 else ''}; retry in {retry}s",
            retry,
        )

    def admit(self, workspace: str, item: T) -> bool:
        """Take `item`: True if it may start now (it counts as running), False if it waits."""
        self.check(workspace)
        if self._can_start(workspace):
            self._started(workspace)
            return True
        self._pending.setdefault(workspace, deque()).append(item)
        return False

    def discard(self, workspace: str, item: T) -> bool:
        """Remove a waiting item (cancelled before it started); False if it is not waiting."""
        queue = self._pending.get(workspace)
        if not queue:
            return False
        try:
            queue.remove(item)
        except ValueError:
            return False
        if not queue:
            del self._pending[workspace]
            self._forget_if_idle(workspace)
        return True

    def release(self, workspace: str, seconds: float | None = None) -> list[T]:
        """A running item of `workspace` ended (after `seconds`): the items that may start now."""
        self._running[workspace] -= 1
        if self._running[workspace] <= 0:
            del self._running[workspace]
            self._forget_if_idle(workspace)
        self._total_running -= 1
        if seconds is not None:
            m = self._mean_seconds
            self._mean_seconds = seconds if m is None else m + _EWMA_WEIGHT * (seconds - m)
        return self._dispatch()

    def drain(self) -> list[T]:
        """Every waiting item, removed (shutdown)."""
        items = [item for q in self._pending.values() for item in q]
        self._pending.clear()
        return items

    def retry_after(self, workspace: str) -> int:
        """Seconds until this workspace's queue likely moves: a mean duration over its running ones."""
        mean = self._mean_seconds if self._mean_seconds is not None else float(_MIN_RETRY_AFTER)
        estimate = mean / max(1, self._running[workspace])
        return int(min(_MAX_RETRY_AFTER, max(_MIN_RETRY_AFTER, math.ceil(estimate))))

    # -- internals -------------------------------------------------------------------
    def _can_start(self, workspace: str) -> bool:
        lim = self.limits
        own = self._running[workspace]
        return self._total_running < lim.max_running and own < lim.max_running_per_workspace

    def _started(self, workspace: str) -> None:
        self._running[workspace] += 1
        self._total_running += 1
        self._clock += 1
        self._last_start[workspace] = self._clock

    def _forget_if_idle(self, workspace: str) -> None:
        if workspace not in self._pending and not self._running[workspace]:
            self._last_start.pop(workspace, None)

    def _dispatch(self) -> list[T]:
        """Start waiting items, least recently served workspace first, while slots are free."""
        started: list[T] = []
        per_workspace = self.limits.max_running_per_workspace
        while self._pending and self._total_running < self.limits.max_running:
            eligible = [w for w in self._pending if self._running[w] < per_workspace]
            if not eligible:
                break
            workspace = min(eligible, key=lambda w: self._last_start.get(w, -1))
            queue = self._pending[workspace]
            started.append(queue.popleft())
            if not queue:
                del self._pending[workspace]
            self._started(workspace)
        return started

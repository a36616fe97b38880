"""Step metrics' reads of the summary tables, kept per workflow until they change (the file
store only).

Every step metrics read of a workflow reads the same summary state (the sealed and stale
days, its rollup's days and executions total: queries/step_metrics_state.sql) and, for a
window holding its rollup, the rollup's rows and buckets: ~11 ms of a ~20 ms read at 10M
spans. These tables change only when the writer marks a summarized day stale in a commit (a
late run), or its maintenance summarizes, rolls up, retains or rebuilds: rarely once the
sealed days are caught up. So this keeps them per (workspace, workflow), with the
summaries' generation they were read at.

Sound because one writer makes every change to these tables. It begins a change
(`SummaryChanges.begin`) before a statement that may write them, and settles every change
begun once the transaction has ended (committed or not). A read notes the generation before
its snapshot begins (`note`): an entry is built only when no change was in flight then (the
snapshot holds that generation, or a later one, under which the entry is never used), and it
is used only while no change has begun since. A lake has other nodes' writers: it does not
use this (`Store.caches_step_reads`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

import pyarrow as pa

ENTRIES = 1024  # (workspace, workflow) pairs kept, least recently used dropped

State = TypeVar("State")


class SummaryChanges:
    """The generation of the summary tables: `begin` and `settle` on the writer thread, `note`
    and `current` from any thread (reads and writes of ints: atomic under the GIL)."""

    def __init__(self) -> None:
        self._begun = 0  # changes begun, committed or not
        self._settled = 0  # changes whose transaction has ended

    def begin(self) -> None:
        """Before a statement that may write a summary table, in the writer's transaction."""
        self._begun += 1

    def settle(self) -> None:
        """After the writer's transaction ended (its changes committed or rolled back)."""
        self._settled = self._begun

    def note(self) -> int | None:
        """Before a read's snapshot begins: the generation the snapshot will hold, if no change
        is in flight (else None: its entries are not built)."""
        begun = self._begun
        return begun if self._settled == begun else None

    def current(self) -> int:
        return self._begun


@dataclass(frozen=True, slots=True)
class Entry(Generic[State]):
    generation: int
    state: State  # the summary state (step_summary_reads.SummaryState)
    rollup: pa.Table | None  # the rollup's rows as summary rows; None until a read needed them


class SummaryCache(Generic[State]):
    def __init__(self, changes: SummaryChanges) -> None:
        self.changes = changes
        self._entries: OrderedDict[tuple[str, str], Entry[State]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> Entry[State] | None:
        """The entry of (workspace, workflow) if no summary change began since it was read."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.generation != self.changes.current():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple[str, str], entry: Entry[State]) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > ENTRIES:
                self._entries.popitem(last=False)

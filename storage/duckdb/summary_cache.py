"""Step metrics' reads of the summary tables, kept per workflow until they change (the file
store only).

Every step metrics read of a workflow reads the same summary state (the sealed and stale
days, its rollup's days and executions total: queries/step_metrics_state.sql) and, for a
window holding its rollup, the rollup's rows and buckets: ~11 ms of a ~20 ms read at 10M
spans. These tables change only when the writer marks a summarized day stale in a commit (a
late run), or its maintenance summarizes, rolls up, retains or rebuilds: rarely once the
sealed days are caught up. So this keeps them per (workspace, workflow).

Sound because one writer makes every change to these tables. Before a statement that may
write them it begins a numbered change (`SummaryChanges.begin`), naming the workflows whose
rows it may write (a late run's stale mark, a resummarized workflow) or none (a sealed day,
retention, a rebuild: any), and once its transaction has ended (committed or not) it settles
every change begun. A read notes the last settled change before its snapshot begins
(`note`): the snapshot holds every change up to it. An entry is labelled with that number;
it is used only while no change that may have written its workflow's rows began after it
(one in flight when it was read makes it unusable at once), and only by a read whose
snapshot holds it. A change that begins after a read took its entry and commits before the
read's first statement can only change what the state leaves to the spans (a day sealed is
still in the spans; a late run marked stale counts as if it came after the read). A lake has
other nodes' writers: it does not use this (`Store.sole_writer`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

import pyarrow as pa

ENTRIES = 1024  # (workspace, workflow) pairs kept, least recently used dropped

State = TypeVar("State")
Workflow = tuple[str, str]  # (workspace id, workflow id)


class SummaryChanges:
    """The changes to the summary tables, numbered in the order they begin: `begin` and
    `settle` on the writer thread, `note` and `last_for` from any thread (reads and writes of
    ints and dict items: atomic under the GIL)."""

    def __init__(self) -> None:
        self._begun = 0  # the last change begun, committed or not
        self._settled = 0  # every change up to this one has ended (committed or rolled back)
        self._last_any = 0  # the last change that may write any workflow's rows
        self._last: dict[Workflow, int] = {}  # the last change that may write each one's rows

    def begin(self, workflows: Iterable[Workflow] | None = None) -> None:
        """Before a statement that may write a summary table, in the writer's transaction:
        the (workspace, workflow)s whose rows it may write; None: any, or the sealed days."""
        change = self._begun + 1
        if workflows is None:
            self._last_any = change
        else:
            for workflow in workflows:
                self._last[workflow] = change
        self._begun = change

    def settle(self) -> None:
        """After the writer's transaction ended: every change begun so far has ended."""
        self._settled = self._begun

    def note(self) -> int:
        """Before a read's snapshot begins: every change up to this one is in the snapshot."""
        return self._settled

    def last_for(self, workflow: Workflow) -> int:
        """The last change begun that may have written `workflow`'s rows."""
        return max(self._last_any, self._last.get(workflow, 0))


@dataclass(frozen=True, slots=True)
class Entry(Generic[State]):
    generation: int  # read in a snapshot holding every change up to this one
    state: State  # the summary state (step_summary_reads.SummaryState)
    rollup: pa.Table | None  # the rollup's rows as summary rows; None until a read needed them


class SummaryCache(Generic[State]):
    def __init__(self, changes: SummaryChanges) -> None:
        self.changes = changes
        self._entries: OrderedDict[Workflow, Entry[State]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Workflow, held: int) -> Entry[State] | None:
        """The entry of (workspace, workflow) if no change that may have written its rows
        began after the snapshot it was read in, and a snapshot holding every change up to
        `held` holds every one before it."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self.changes.last_for(key) > entry.generation:
                del self._entries[key]
                return None
            if entry.generation > held:  # read in a newer snapshot than the caller's
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: Workflow, entry: Entry[State]) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > ENTRIES:
                self._entries.popitem(last=False)

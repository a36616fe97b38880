"""Step metrics' first day not summarized, summarized once and kept (the file store only).

The summaries cover whole UTC days once they are over (step_summaries.py); a read takes the
rest from the spans. For an all-time read, that rest is the current day: late in the day,
hundreds of thousands of step spans at 10M, half the read. This cache keeps, per (workspace,
workflow, day start), the summary rows of that day's step spans up to a cut, combined one row
per step, and the read takes from the spans only what started after the cut.

Sound because one writer makes every change to the spans: before each commit that stores or
deletes spans it records the earliest start among them (`SpanChanges.begin`), and after it
commits, that the change is in (`done`). A read notes the last change known committed before
its snapshot (`committed`); an entry built in that snapshot holds at least the changes up to
it, and is used only while no change recorded after it touched a span that started before the
entry's cut. A late step run (a long step, a retried batch), a later try replacing an earlier
one, retention: each is such a change, and the entry is built again. A lake has other nodes'
commits, which no writer here sees: it does not use this (`Store.sole_writer`).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

# The cut is this far before the read: the runs that start before it and arrive after (steps
# running longer, exports delayed) rebuild the entry, so it should be rare.
CUT_LAG_NS = 10 * 60 * 10**9
# An entry whose cut is older than this is built again at the next read, so that the part
# read from the spans stays small (at most ~20 minutes of the workflow's step runs).
REBUILD_AFTER_NS = 20 * 60 * 10**9
ENTRIES = 1024  # (workspace, workflow) pairs kept, least recently used dropped
CHANGES = 65_536  # changes kept at most (then the older half goes: their entries are built again)


class SpanChanges:
    """The earliest span start of each change to the spans (`begin` and `done` on the writer
    thread; `committed` and `earliest_after` from any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # The changes whose earliest start is below every later change's (ids and starts both
        # increasing): the first with an id above X holds the earliest start of all after X,
        # found by bisection. Spans arrive roughly in start order, so few are ever dropped.
        self._ids: list[int] = []
        self._starts: list[int] = []
        self._last = 0  # the last change id given
        self._forgotten = 0  # changes up to this id were let go (CHANGES)
        self.committed = 0  # every change up to this id is committed (or failed)

    def begin(self, starts: npt.NDArray[np.integer] | None) -> int:
        """Before a commit that stores or deletes spans started at `starts` (None: at any
        time, as retention's): its change id, for `done`."""
        earliest = 0 if starts is None else int(starts.min()) if starts.size else None
        with self._lock:
            self._last += 1
            if earliest is not None:
                while self._starts and self._starts[-1] >= earliest:
                    self._ids.pop()
                    self._starts.pop()
                self._ids.append(self._last)
                self._starts.append(earliest)
                if len(self._ids) > CHANGES:
                    half = len(self._ids) // 2
                    self._forgotten = self._ids[half - 1]
                    del self._ids[:half], self._starts[:half]
            return self._last

    def done(self, change: int) -> None:
        """After the commit of `change` (or its failure: a change that did not happen only
        makes entries be built again)."""
        self.committed = max(self.committed, change)

    def earliest_after(self, change: int) -> int | None:
        """The earliest span start of the changes recorded after `change`; None when there
        are none; 0 when some of them were let go."""
        with self._lock:
            if change < self._forgotten:
                return 0
            i = bisect.bisect_right(self._ids, change)
            return self._starts[i] if i < len(self._ids) else None


@dataclass(frozen=True, slots=True)
class Entry:
    cut_ns: int  # the rows are of the step runs started in [the day's start, cut_ns)
    change: int  # built in a snapshot that holds every change up to this id
    rows: pa.Table  # summary rows (step_summary_reads.ROW_SCHEMA), one per step


class DayCache:
    def __init__(self, changes: SpanChanges) -> None:
        self._changes = changes
        self._entries: OrderedDict[tuple[str, str, int], Entry] = OrderedDict()
        self._lock = threading.Lock()

    def committed(self) -> int:
        """What a snapshot begun after this call holds at least (note it before BEGIN)."""
        return self._changes.committed

    def get(self, key: tuple[str, str, int], until_ns: int) -> Entry | None:
        """The entry of (workspace, workflow, day start) if it is still right and fits a
        window ending at `until_ns`."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is None or entry.cut_ns > until_ns or time.time_ns() - entry.cut_ns > REBUILD_AFTER_NS:
            return None
        earliest = self._changes.earliest_after(entry.change)
        if earliest is not None and earliest < entry.cut_ns:
            return None
        return entry

    def put(self, key: tuple[str, str, int], entry: Entry) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > ENTRIES:
                self._entries.popitem(last=False)


def cut_for(day_start_ns: int, until_ns: int) -> int | None:
    """Where a new entry of the day starting at `day_start_ns` ends, for a window ending at
    `until_ns`; None when too little of the day is over to be worth one."""
    cut = min(until_ns, time.time_ns() - CUT_LAG_NS)
    return cut if cut > day_start_ns else None

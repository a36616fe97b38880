"""Execution numbers on a lake (`catalog.SharedNumbers`): every node triggers executions, so
none can count them in memory as the file's single process does (api/intake.py). A take is a
catalog transaction that reads each workflow's counter and advances it (sql/catalog/
numbers_next.sql, numbers_take.sql), committed before the numbers are used.

Two nodes advancing counters at once both change `workflows`, and DuckLake fails the second
COMMIT ("Transaction conflict"); it rolled back whole and runs again on the new snapshot,
after a short random wait (two losers would otherwise meet again). Within a node the takes
wait for each other on the catalog's write lock, and those that queued meanwhile are taken
together in the next transaction (a take costs tens of milliseconds of catalog round trips:
a burst of triggers on one node must not pay them one after the other). Each request gets a
contiguous block, in the order they queued."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import duckdb
from flowscope.storage.duckdb.errors import mapped_errors
from flowscope.storage.ducklake.conflicts import is_conflict
from flowscope.storage.ducklake.sqlfiles import required
from flowscope.storage.errors import StorageUnavailable

# Taking numbers loses only to another node's commit changing `workflows`: one more try
# nearly always wins.
TRIES = 20
_BACKOFF_S = 0.005

Key = tuple[str, str]  # (workspace id, workflow id)


@dataclass(slots=True)
class _Take:
    key: Key
    count: int
    first: Future[int | None]


class NumberTaker:
    def __init__(self, store: Any, write_lock: threading.Lock) -> None:
        self._store = store  # storage/ducklake/store.py LakeStore (its thread-local cursors)
        self._write_lock = write_lock  # the catalog's: serializes this node's catalog writes
        self._queued_lock = threading.Lock()
        self._queued: list[_Take] = []

    def take(self, workspace_id: str, workflow_id: str, count: int) -> int | None:
        """The first of `count` consecutive numbers (blocking: any thread), or None when the
        workflow is gone; `StorageUnavailable` when the catalog cannot be reached, or the take
        kept losing to concurrent commits."""
        mine = _Take((workspace_id, workflow_id), count, Future())
        with self._queued_lock:
            self._queued.append(mine)
        with self._write_lock:
            # Not done: still queued (a take holding the lock sets every result it took first).
            if not mine.first.done():
                with self._queued_lock:
                    batch, self._queued = self._queued, []
                self._take_all(batch)
        return mine.first.result()

    def _take_all(self, batch: list[_Take]) -> None:
        counts: dict[Key, int] = {}
        for t in batch:
            counts[t.key] = counts.get(t.key, 0) + t.count
        try:
            firsts = self._commit(counts)
        except BaseException as exc:
            for t in batch:
                t.first.set_exception(exc)
            return
        for t in batch:
            first = firsts[t.key]
            t.first.set_result(first)
            if first is not None:
                firsts[t.key] = first + t.count

    def _commit(self, counts: dict[Key, int]) -> dict[Key, int | None]:
        """Advance each workflow's counter by its count, in one transaction; the first number
        each got (None: no such workflow)."""
        cur = self._store.cursor()
        for attempt in range(1, TRIES + 1):
            with mapped_errors():
                cur.execute("BEGIN")
                try:
                    firsts: dict[Key, int | None] = {}
                    for (workspace_id, workflow_id), count in counts.items():
                        params = {"workspace_id": workspace_id, "workflow_id": workflow_id}
                        row = cur.execute(required("catalog/numbers_next"), params).fetchone()
                        firsts[(workspace_id, workflow_id)] = None if row is None else int(row[0])
                        if row is not None:
                            cur.execute(required("catalog/numbers_take"), {**params, "count": count})
                    cur.execute("COMMIT")
                    return firsts
                except BaseException as exc:
                    with contextlib.suppress(duckdb.Error):  # a failed COMMIT ended it already
                        cur.execute("ROLLBACK")
                    if not (isinstance(exc, duckdb.Error) and is_conflict(exc)):
                        raise
            time.sleep(random.uniform(0, _BACKOFF_S * attempt))
        raise StorageUnavailable(f"execution numbers not taken: {TRIES} tries lost to concurrent commits")

"""`RecentRecords`, the writer's memory of the log records it committed lately (pure logic)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from flowscope.storage.duckdb.recent_records import RecentRecords


def _commit(recent: RecentRecords, workspaces: list[str], hashes: list[int]) -> None:
    recent.remember(pa.chunked_array([pa.array(workspaces)]), np.array(hashes, dtype=np.uint64))


def test_known_names_the_remembered_keys_of_their_workspace_only() -> None:
    recent = RecentRecords(capacity=100)
    _commit(recent, ["a", "a", "b"], [1, 2, 3])
    _commit(recent, ["b"], [2**64 - 1])  # the whole uint64 range
    assert recent.known({("a", 1), ("b", 1), ("b", 3), ("a", 9), ("b", 2**64 - 1)}) == {
        ("a", 1),
        ("b", 3),
        ("b", 2**64 - 1),
    }
    assert recent.known(set()) == set()


def test_the_oldest_commits_are_forgotten_beyond_capacity() -> None:
    recent = RecentRecords(capacity=4)
    _commit(recent, ["a"] * 3, [1, 2, 3])
    _commit(recent, ["a"] * 3, [4, 5, 6])
    assert len(recent) == 6  # the first commit is kept while the rest is under capacity
    _commit(recent, ["a"] * 2, [7, 8])
    assert len(recent) == 5 and recent.known({("a", 1), ("a", 4), ("a", 8)}) == {("a", 4), ("a", 8)}
    recent.clear()
    assert len(recent) == 0 and recent.known({("a", 8)}) == set()

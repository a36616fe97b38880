"""The log records the writer committed lately: a candidate record found here is a stored
duplicate, known without a query (the engine exports every execution's queued record again
after the API committed it: api/intake.py).

Kept as each commit's columns (Arrow workspace ids, numpy hashes), not as a Python key per
record: remembering cost the writer ~1 µs of GIL-held time per record (two `to_pylist`s, a
tuple and a dict entry each, and as many deleted once full), 3.4 % of the GIL-held time under
the engine's workload (py-spy `--gil` on `serve`), while few commits have candidates to look
up. A lookup scans the newest commits first and stops once every candidate is found.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt
import pyarrow as pa

RecordKey = tuple[str, int]  # (workspace id, record hash): a stored record's identity


class RecentRecords:
    """The keys of at least the last `capacity` records committed (a commit's are dropped whole)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._commits: deque[tuple[pa.ChunkedArray | pa.Array, npt.NDArray[np.uint64]]] = deque()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def remember(self, workspaces: pa.ChunkedArray | pa.Array, hashes: npt.NDArray[np.uint64]) -> None:
        """Add one commit's records (their workspace ids and hashes, row by row)."""
        if not len(hashes):
            return
        self._commits.append((workspaces, hashes))
        self._count += len(hashes)
        while self._count - len(self._commits[0][1]) >= self._capacity:
            self._count -= len(self._commits.popleft()[1])

    def clear(self) -> None:
        self._commits.clear()
        self._count = 0

    def known(self, keys: set[RecordKey]) -> set[RecordKey]:
        """Those of `keys` that are remembered."""
        left = set(keys)
        found: set[RecordKey] = set()
        if not left:
            return found
        wanted = np.fromiter((h for _, h in left), dtype=np.uint64, count=len(left))
        for workspaces, hashes in reversed(self._commits):
            for row in np.flatnonzero(np.isin(hashes, wanted)).tolist():
                key = (workspaces[row].as_py(), int(hashes[row]))
                if key in left:
                    left.discard(key)
                    found.add(key)
            if not left:
                break
        return found

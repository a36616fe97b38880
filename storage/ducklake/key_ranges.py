"""Which Parquet files of a table read by trace id `flowscope maintain` rewrites into files of
narrow, disjoint trace id ranges (issue 14: reads at 10M spans on a lake).

A lake has no index. A read by trace id opens every file whose trace id range (DuckLake's
statistics, kept in the catalog) holds the id, then skips all but one row group of each by
Parquet's statistics. Each file opened costs the statement a few milliseconds, and skipping a
row group costs something per column read. Commits and DuckLake's merges write files in time
order: trace ids are random, so every such file spans nearly all ids ("wide"), and a read
opens all of them. Rewritten in key order, in files of the table's target size, a read opens
one file of a few dozen row groups. Measured at 10M spans (4 merged span files against 9 of
one key range each, in process, probed one after the other): a details read's spans, 24 ms
wall (40 CPU) against 10 (12).

Only settled files are rewritten: those whose every row is older than SETTLED_NS. Files in key
order each hold every time of their rewrite, so a scan by time (step metrics of the days not
yet summarized, a trace search of the last hour) can no longer skip them by their time
statistics; the recent files, which such scans read, stay in commit (time) order. Measured at
10M spans with every file rewritten (separate bench runs, not alternated): step metrics 131 ->
468-507 ms p95, as their reads of the unsummarized days scanned every span file.

The rule, pure here (storage/ducklake/maintenance.py runs it), over the settled files:
- wide files (more than WIDE_SHARE of the id space) are rewritten together once they hold at
  least two target-size files' worth of bytes: the rewrite then yields narrow files, so no
  file is rewritten again and again for nothing;
- narrow files from several such rewrites overlap one another (each rewrite is a "run" over
  all ids); once a read would open more than MAX_RUNS of them, every file is rewritten into one
  run. So reads open at most about MAX_RUNS + 2 files, and a row is rewritten a bounded number
  of times as the table grows.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

WIDE_SHARE = 0.5
MAX_RUNS = 4
SETTLED_NS = 2 * 86_400 * 10**9  # today and yesterday stay in time order
# Trace ids are hex; their first 8 digits place a file's range in the id space.
PREFIX_DIGITS = 8
_SPACE = 16**PREFIX_DIGITS


@dataclass(frozen=True, slots=True)
class KeyFile:
    """A live data file: its path (as DuckLake's `filename` names it), size and trace id range."""

    path: str
    size_bytes: int
    first: str | None  # the smallest trace id (None: no statistics)
    last: str | None
    newest_ns: int | None  # the newest start (spans) or time (records) in it (None: unknown)

    @property
    def share(self) -> float:
        """The share of the trace id space between its smallest and largest id (1: unknown)."""
        low, high = _position(self.first), _position(self.last)
        if low is None or high is None:
            return 1.0
        return max(0.0, (high - low + 1) / _SPACE)


def _position(key: str | None) -> int | None:
    if key is None:
        return None
    try:
        return int(key[:PREFIX_DIGITS].ljust(PREFIX_DIGITS, "0"), 16) if key else 0
    except ValueError:  # not a hex id: no place in the space
        return None


def to_rewrite(files: Sequence[KeyFile], target_bytes: int, now_ns: int) -> list[KeyFile]:
    """The files to rewrite in key order now (none: the layout is good enough)."""
    settled = [f for f in files if f.newest_ns is not None and f.newest_ns < now_ns - SETTLED_NS]
    wide = [f for f in settled if f.share > WIDE_SHARE]
    runs = sum(f.share for f in settled if f.share <= WIDE_SHARE)
    if runs > MAX_RUNS:
        return settled
    if sum(f.size_bytes for f in wide) >= 2 * target_bytes:
        return wide
    return []


def key_chunks(total_bytes: int, chunk_bytes: int) -> list[tuple[str | None, str | None]]:
    """The id space cut into equal ranges [low, high) of about `chunk_bytes` each (of uniformly
    spread ids), None for an open end: a rewrite sorts one range at a time, so its memory
    holds one range's rows, and each range's files cover that range only."""
    n = max(1, -(-total_bytes // max(1, chunk_bytes)))
    bounds = [f"{i * _SPACE // n:0{PREFIX_DIGITS}x}" for i in range(1, n)]
    return list(itertools.pairwise([None, *bounds, None]))

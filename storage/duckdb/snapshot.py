"""Several reads of one answer on one committed state."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import duckdb


@contextlib.contextmanager
def snapshot(cur: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run the reads inside on one snapshot of `cur`. Without it a commit landing between
    the reads of one answer tears it: an execution's row read before the commit, its steps
    after (seen as a 'pending' execution with a running step once triggers commit with
    their steps)."""
    try:
        cur.execute("BEGIN TRANSACTION")
    except duckdb.TransactionException:  # a transaction of this thread's cursor is the snapshot already
        yield cur
        return
    try:
        yield cur
    finally:
        cur.execute("ROLLBACK")  # read only: nothing to keep

"""The catalog the API manages beside the telemetry: workspaces, projects, workflows.

Writes are serialized by one process-wide lock: DuckDB cursors are per thread, and two
transactions updating the same row (e.g. a workflow's next execution number) would
otherwise conflict instead of queueing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

WRITE_LOCK = threading.Lock()


@contextmanager
def write_transaction(cur: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One catalog write transaction, serialized with every other catalog write."""
    with WRITE_LOCK:
        cur.execute("BEGIN")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")

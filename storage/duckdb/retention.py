"""Retention's one rule: what goes when telemetry older than a cutoff is deleted. The store
runs it on its writer thread (storage/duckdb/store.py); `flowscope maintain` runs it on a
lake from its own process (storage/ducklake/maintenance.py)."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
from flowscope.storage.duckdb.step_summaries import SealedDays


@dataclass(frozen=True)
class Deleted:
    spans: int
    logs: int
    executions: int


def _count(cursor: duckdb.DuckDBPyConnection) -> int:
    row = cursor.fetchone()
    return int(row[0]) if row else 0


def delete_before(con: duckdb.DuckDBPyConnection, cutoff_ns: int, step_days: SealedDays) -> Deleted:
    """In the caller's transaction: spans started and log records timed before `cutoff_ns`,
    executions that ended before it (running ones stay), and the step summaries of the days
    those spans were on."""
    spans = _count(con.execute("DELETE FROM spans WHERE start_ns < ?", [cutoff_ns]))
    logs = _count(con.execute("DELETE FROM logs WHERE time_ns < ?", [cutoff_ns]))
    executions = _count(
        con.execute("DELETE FROM executions WHERE status_rank = 3 AND coalesce(ended_ns, 0) < ?", [cutoff_ns])
    )
    step_days.retain(con, cutoff_ns)
    return Deleted(spans, logs, executions)

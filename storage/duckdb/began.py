"""The SQL condition "an execution began in these windows", on `executions.began_ns`
(started, else queued: migrations/010_execution_times.sql), shared by the metrics reads.

Each window's bounds are written as constants, and a bound that bounds nothing is left out:
DuckDB (2.0) rewrites a comparison its column's statistics prove always true (`>= 0`, `< the
readers' "no upper bound"`, or beyond the stored range) into `constant_or_null(...)`, an
expression filter evaluated on every row of the scan instead of a table filter: at 1M
executions ~3-5 ms of an all-time metrics read. A window without either bound keeps only
`began_ns IS NOT NULL`, so that the same executions count as with the bounds.
"""

from __future__ import annotations

from collections.abc import Sequence

UNBOUNDED_NS = 2**63 - 1  # the readers' "no upper bound"


def began_in(windows: Sequence[tuple[int, int]]) -> str:
    """SQL: the execution began in one of the [since, until) ns `windows`."""
    return " OR ".join(_began_in(since, until) for since, until in windows)


def _began_in(since: int, until: int) -> str:
    bounds = []
    if since > 0:
        bounds.append(f"began_ns >= {int(since)}")
    if until < UNBOUNDED_NS:
        bounds.append(f"began_ns < {int(until)}")
    return "(" + " AND ".join(bounds or ["began_ns IS NOT NULL"]) + ")"

"""`SpanMetricsReader` on DuckDB: SQL in sql/queries/span_metrics/ (contracts in
`flowscope.storage.span_metrics`).

Each window is aggregated exactly (a range join of the matching spans with the evaluation
times), so the work grows with spans x windows per span; a query past the budget is refused
before the join runs rather than hold a shared, two-core server for minutes.
"""

from __future__ import annotations

from itertools import groupby
from typing import TYPE_CHECKING, Any

from flowscope.storage.duckdb.errors import mapped_errors
from flowscope.storage.duckdb.snapshot import snapshot
from flowscope.storage.duckdb.sqlfiles import sql
from flowscope.storage.span_metrics import (
    SpanMetricsQuery,
    SpanMetricsTooLarge,
    SpanSeries,
    WindowStats,
)

if TYPE_CHECKING:
    from flowscope.storage.duckdb.store import Store

MAX_WINDOW_PAIRS = 20_000_000
"""Budget of one query in (span, window) pairs: about 3 s of one core (1M stored spans, a
window of 120 steps over 2 h of them was 80M pairs and 13 s)."""


def _statement(name: str) -> str:
    # Only our own SQL file is spliced in, never a value.
    return sql(f"queries/span_metrics/{name}").format(
        matching_spans=sql("queries/span_metrics/matching_spans").rstrip()
    )


def _windows_per_span(query: SpanMetricsQuery) -> int:
    """How many windows one span can fall in, at most."""
    return min(query.points, -(-query.window_ns // query.step_ns))


class DuckDBSpanMetrics:
    """The span-metrics reads of one DuckDB `Store`, on the calling thread's cursor."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def series(self, workspace_id: str, query: SpanMetricsQuery) -> list[SpanSeries]:
        params: dict[str, Any] = {
            "workspace_id": workspace_id,
            "services": list(query.services),
            "kinds": list(query.span_kinds),
            "first_ns": query.first_ns,
            "last_ns": query.first_ns + (query.points - 1) * query.step_ns,
            "window_ns": query.window_ns,
            "by_operation": query.by_operation,
        }
        with mapped_errors():
            cur = self._store.cursor()
            with snapshot(cur):
                [(spans,)] = cur.execute(_statement("span_count"), params).fetchall()
                pairs = spans * _windows_per_span(query)
                if pairs > MAX_WINDOW_PAIRS:
                    raise SpanMetricsTooLarge(
                        f"the query would aggregate up to {pairs:,} (span, window) pairs, more than "
                        f"{MAX_WINDOW_PAIRS:,}: use a longer step, a shorter ratePer or lookback"
                    )
                statement = _statement("window_stats")
                rows = cur.execute(
                    statement, {**params, "step_ns": query.step_ns, "quantile": query.quantile}
                ).fetchall()
        return [
            _series(service, operation, list(group), query)
            for (service, operation), group in groupby(rows, key=lambda r: (r[0], r[1]))
        ]


def _series(
    service: str, operation: str | None, rows: list[tuple[Any, ...]], query: SpanMetricsQuery
) -> SpanSeries:
    """One series with a point at every evaluation time (rows hold only non-empty windows)."""
    found = {t: (calls, errors, latency) for _, _, t, calls, errors, latency in rows}
    points = []
    for k in range(query.points):
        t = query.first_ns + k * query.step_ns
        calls, errors, latency = found.get(t, (0, 0, None))
        points.append(WindowStats(t, calls, errors, latency))
    return SpanSeries(service, operation, tuple(points))

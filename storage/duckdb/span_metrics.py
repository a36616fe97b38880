"""`SpanMetricsReader` on DuckDB: SQL in sql/queries/span_metrics/ (contracts in
`flowscope.storage.span_metrics`).

Each window is aggregated exactly: every matching span is expanded into the evaluation
times whose window holds it, so the work grows with those (span, window) pairs; they are
counted first, and a query past the budget is refused before it runs rather than hold a
shared, two-core server for minutes.
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
"""Budget of one query in (span, window) pairs (a few seconds of one core)."""


def _statement(name: str) -> str:
    # Only our own SQL file is spliced in, never a value.
    return sql(f"queries/span_metrics/{name}").format(
        matching_spans=sql("queries/span_metrics/matching_spans").rstrip()
    )


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
            "step_ns": query.step_ns,
            "points": query.points,
            "window_ns": query.window_ns,
            "by_operation": query.by_operation,
        }
        with mapped_errors():
            cur = self._store.cursor()
            with snapshot(cur):
                [(pairs,)] = cur.execute(_statement("window_pairs"), params).fetchall()
                if pairs > MAX_WINDOW_PAIRS:
                    raise SpanMetricsTooLarge(
                        f"the query would aggregate {pairs:,} (span, window) pairs, more than "
                        f"{MAX_WINDOW_PAIRS:,}: use a longer step, a shorter ratePer or lookback"
                    )
                statement = _statement("window_stats")
                rows = cur.execute(statement, {**params, "quantile": query.quantile}).fetchall()
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

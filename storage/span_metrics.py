"""Span metrics: what Jaeger's Monitor (Service Performance Monitoring) needs from a store
(`store.span_metrics`).

Jaeger computes these from Prometheus series that a spanmetrics connector derived from the
spans; a store holding the spans answers them directly. Over a sliding window ending at each
evaluation time, the spans of a series (a service, or a service and span name) give three
numbers: how many there were (calls), how many had status ERROR (errors), and a quantile of
their durations (latency). Turning counts into rates and Jaeger's JSON is the API's job.

The shared rules of `flowscope.storage.interfaces` hold (tenancy, Unix ns times, plain rows,
one committed state per call). Here besides:
- **When a span counts.** At its end time: a span belongs to the window (t - window_ns, t]
  of evaluation time t when its end is in it (left end excluded, right end included, as a
  Prometheus range selector), which is when a spanmetrics connector would have counted it.
- **Which spans.** Those of the listed services (resource `service.name`, else
  'unknown_service') whose OTLP SpanKind is one of the listed kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

MAX_POINTS = 11_000
"""Evaluation times per query at most (Prometheus's limit on points per series)."""


class SpanMetricsTooLarge(Exception):
    """The query would aggregate more (span, window) pairs than the store allows for one
    answer; a longer step, a shorter window or lookback, or fewer services make it smaller."""


@dataclass(frozen=True, slots=True)
class SpanMetricsQuery:
    services: tuple[str, ...]
    span_kinds: tuple[int, ...]
    """OTLP SpanKind numbers (0 unspecified, 1 internal, 2 server, 3 client, 4 producer,
    5 consumer); a span of another kind is left out."""
    first_ns: int
    """The first evaluation time."""
    step_ns: int
    """Between evaluation times (> 0)."""
    points: int
    """How many evaluation times: first_ns + k * step_ns for k in range(points), at least 1,
    at most MAX_POINTS, each within signed 64 bits (a window may start before -2**63)."""
    window_ns: int
    """The width of each evaluation time's window (> 0)."""
    by_operation: bool
    """One series per (service, span name) instead of per service."""
    quantile: float | None = None
    """The latency quantile in [0, 1]; None: no latency wanted (`WindowStats.latency_ns` is
    None everywhere, and the store may skip that work)."""


@dataclass(frozen=True, slots=True)
class WindowStats:
    """The spans of one series in the window ending at `time_ns`."""

    time_ns: int
    calls: int
    errors: int
    """Of those, spans with OTLP status code ERROR (2)."""
    latency_ns: float | None
    """The query's quantile of their durations (end - start), continuous (interpolated
    between the two nearest durations, as DuckDB's quantile_cont and numpy's 'linear');
    None when `calls` is 0 or no quantile was asked."""


@dataclass(frozen=True, slots=True)
class SpanSeries:
    service: str
    operation: str | None
    """The span name when grouped by operation, else None."""
    points: tuple[WindowStats, ...]
    """One per evaluation time, in time order (calls 0 where the window holds no span)."""


class SpanMetricsReader(Protocol):
    def series(self, workspace_id: str, query: SpanMetricsQuery) -> list[SpanSeries]:
        """Every series with at least one span in some window of the query (a span that
        ended in (first_ns - window_ns, last evaluation time]), sorted by service, then
        operation; [] when there is none.

        Raises `SpanMetricsTooLarge` when answering would exceed the store's budget for one
        query (DuckDB: 20 million (span, window) pairs, counted before aggregating)."""
        ...

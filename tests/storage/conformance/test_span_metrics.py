"""SpanMetricsReader (`store.span_metrics`, storage/span_metrics.py): windows over span end
times, left end excluded and right end included, exact counts and interpolated quantiles
for the crafted spans of span_metrics_data.py, series grouping and ordering, kinds, tenancy."""

from __future__ import annotations

from dataclasses import replace

import pytest
from flowscope.storage.interfaces import Store
from flowscope.storage.span_metrics import SpanMetricsQuery, SpanSeries, WindowStats

from tests.storage.conformance import dataset as d
from tests.storage.conformance.otlp import INTERNAL, SERVER, traces, write
from tests.storage.conformance.span_metrics_data import BILLING, CHECKOUT, MS, S, T

SERVERS = (SERVER,)
# Evaluation times T+10 s, T+20 s, T+30 s; each one's window is the 20 s before it.
QUERY = SpanMetricsQuery(("checkout",), SERVERS, T + 10 * S, 10 * S, 3, 20 * S, False, 0.5)


@pytest.fixture
def crafted(store: Store, workspace: str) -> str:
    """A workspace holding CHECKOUT (service `checkout`) and BILLING (service `billing`)."""
    write(store, traces(CHECKOUT, service="checkout"), workspace)
    write(store, traces(BILLING, service="billing"), workspace)
    return workspace


def _points(*stats: tuple[int, int, float | None]) -> tuple[WindowStats, ...]:
    """Stats at T+10 s, T+20 s, T+30 s: (calls, errors, latency in ms)."""
    return tuple(
        WindowStats(T + (10 + 10 * k) * S, calls, errors, None if ms is None else ms * MS)
        for k, (calls, errors, ms) in enumerate(stats)
    )


def test_counts_and_median_per_service(store: Store, crafted: str) -> None:
    assert store.span_metrics.series(crafted, QUERY) == [
        SpanSeries("checkout", None, _points((2, 1, 200), (3, 2, 300), (2, 1, 600))),
    ]


def test_by_operation_every_time_has_a_point(store: Store, crafted: str) -> None:
    query = replace(QUERY, by_operation=True)
    assert store.span_metrics.series(crafted, query) == [
        SpanSeries("checkout", "GET /a", _points((2, 1, 200), (2, 1, 200), (1, 0, 200))),
        SpanSeries("checkout", "POST /b", _points((0, 0, None), (1, 1, 1000), (1, 1, 1000))),
    ]


def test_the_quantile_is_interpolated(store: Store, crafted: str) -> None:
    [series] = store.span_metrics.series(crafted, replace(QUERY, quantile=0.9))
    # T+20 s holds 100, 300 and 1000 ms: 0.9 of the way is 300 + 0.8 * 700 ms.
    assert [p.latency_ns for p in series.points] == pytest.approx([280 * MS, 860 * MS, 920 * MS])
    [series] = store.span_metrics.series(crafted, replace(QUERY, quantile=1.0))
    assert [p.latency_ns for p in series.points] == [300 * MS, 1000 * MS, 1000 * MS]


def test_no_quantile_asked_no_latency(store: Store, crafted: str) -> None:
    [series] = store.span_metrics.series(crafted, replace(QUERY, quantile=None))
    assert series.points == _points((2, 1, None), (3, 2, None), (2, 1, None))


def test_services_and_kinds_filter_and_series_sort_by_service(store: Store, crafted: str) -> None:
    query = replace(QUERY, services=("checkout", "billing", "nobody"), span_kinds=(SERVER, INTERNAL))
    assert store.span_metrics.series(crafted, query) == [
        SpanSeries("billing", None, _points((0, 0, None), (1, 0, 40), (1, 0, 40))),
        SpanSeries("checkout", None, _points((2, 1, 200), (4, 2, 200), (3, 1, 200))),
    ]
    assert store.span_metrics.series(crafted, replace(query, span_kinds=(INTERNAL,))) == [
        SpanSeries("checkout", None, _points((0, 0, None), (1, 0, 50), (1, 0, 50))),
    ]
    assert store.span_metrics.series(crafted, replace(query, services=("nobody",))) == []
    assert store.span_metrics.series(crafted, replace(query, span_kinds=(3,))) == []


def test_a_span_between_windows_counts_nowhere(store: Store, crafted: str) -> None:
    # Windows of 2 s ending at T+10 s, T+20 s, T+30 s: only span 2 (ends on T+10 s) is in one.
    narrow = replace(QUERY, window_ns=2 * S)
    assert store.span_metrics.series(crafted, narrow) == [
        SpanSeries("checkout", None, _points((1, 1, 300), (0, 0, None), (0, 0, None))),
    ]
    # A single evaluation time: the series that have a span in no window are left out.
    assert store.span_metrics.series(crafted, replace(narrow, first_ns=T + 30 * S, points=1)) == []


def test_tenancy(store: Store, crafted: str) -> None:
    assert store.span_metrics.series("ws-conformance-nobody", QUERY) == []


def test_the_dataset_by_workspace(loaded: Store) -> None:
    # One window over everything: the root spans (kind server) of the finished executions.
    everything = SpanMetricsQuery(
        ("etl-runner",), SERVERS, d.T0 + 5 * d.HOUR, d.HOUR, 1, 6 * d.HOUR, True, 0.5
    )

    def run(calls: int, errors: int, seconds: float) -> tuple[WindowStats, ...]:
        return (WindowStats(d.T0 + 5 * d.HOUR, calls, errors, seconds * S),)

    assert loaded.span_metrics.series(d.WS_A, everything) == [
        SpanSeries("etl-runner", "RUN etl", run(2, 1, 97.75)),  # E1 150.5 s, E2 45 s (failed)
        SpanSeries("etl-runner", "RUN report", run(2, 0, 6)),  # R1 5 s, R2 7 s
    ]
    assert loaded.span_metrics.series(d.WS_B, everything) == [
        SpanSeries("etl-runner", "RUN b-only", run(1, 0, 1)),
        SpanSeries("etl-runner", "RUN etl-b", run(1, 1, 20)),
    ]


def test_far_apart_times_and_windows_reaching_before_the_64_bit_range(store: Store, crafted: str) -> None:
    # Times 2**62 ns apart; the first window starts below -2**63 ns.
    first = T + 30 * S - 2**62
    query = replace(QUERY, first_ns=first, step_ns=2**62, points=2, window_ns=2**62 + 40 * S)
    assert store.span_metrics.series(crafted, query) == [
        SpanSeries("checkout", None, (
            WindowStats(first, 0, 0, None),
            WindowStats(T + 30 * S, 5, 2, 200 * MS),  # every server span but #7 (T+31 s)
        )),
    ]  # fmt: skip

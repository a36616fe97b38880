"""Jaeger's Monitor (Service Performance Monitoring) metrics API, `/api/metrics/*`, computed
from the spans the store holds (`store.span_metrics`) instead of a spanmetrics connector's
Prometheus series.

Sources (jaegertracing/jaeger): the routes and error handling in
cmd/jaeger/internal/extension/jaegerquery/internal/http_handler.go; the numbers as its
Prometheus reader asks them (internal/storage/metricstore/prometheus/metricstore/reader.go):
at each evaluation time, calls per second over the ratePer before it, the fraction of those
calls with status ERROR, and a latency quantile in milliseconds; the answer is a
`MetricFamily` (internal/proto/metrics/openmetrics.proto) as gogo's jsonpb writes it:
camelCase fields, the enum by name, RFC 3339 timestamps, NaN as the string "NaN" (a window
without calls has no error rate or latency), empty lists kept. `/api/metrics/minstep` is the
older releases' (1 ms, as their Prometheus reader). Errors are jaeger-query's envelope
(`JaegerRoute`); workspaces come from the same headers as the rest of the Jaeger API.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from flowscope.api.deps import Context, ViewerContext
from flowscope.api.jaeger.metrics_params import parse_metrics_query, parse_quantile
from flowscope.api.jaeger.params import ParamError
from flowscope.api.jaeger.router import JaegerRoute, envelope, error
from flowscope.storage.span_metrics import SpanMetricsQuery, SpanMetricsTooLarge, SpanSeries, WindowStats

router = APIRouter(prefix="/api/metrics", tags=["jaeger"], route_class=JaegerRoute)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Value = Callable[[WindowStats, SpanMetricsQuery], float | None]
"""A metric's value at one evaluation time; None when it has none (NaN in the JSON)."""


def _call_rate(stats: WindowStats, query: SpanMetricsQuery) -> float:
    return stats.calls / (query.window_ns / 1e9)


def _error_rate(stats: WindowStats, _query: SpanMetricsQuery) -> float | None:
    return stats.errors / stats.calls if stats.calls else None


def _latency_ms(stats: WindowStats, _query: SpanMetricsQuery) -> float | None:
    return None if stats.latency_ns is None else stats.latency_ns / 1e6


def _timestamp(ns: int) -> str:
    """google.protobuf.Timestamp in jsonpb: UTC, fractional digits in groups of 3, none if 0."""
    moment = _EPOCH + timedelta(microseconds=ns // 1000)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 10**9:09d}"
    for suffix in ("000", "000", ".000"):
        text = text.removesuffix(suffix)
    return text + "Z"


def _double(value: float | None) -> float | str:
    return "NaN" if value is None or math.isnan(value) else value


def _metric(series: SpanSeries, query: SpanMetricsQuery, value: Value) -> dict[str, Any]:
    labels = [{"name": "service_name", "value": series.service}]
    if series.operation is not None:
        labels.append({"name": "operation", "value": series.operation})
    points = [
        {"gaugeValue": {"doubleValue": _double(value(p, query))}, "timestamp": _timestamp(p.time_ns)}
        for p in series.points
    ]
    return {"labels": labels, "metricPoints": points}


def _answer(
    request: Request, ctx: ViewerContext, app: Context, name: str, help_text: str, value: Value
) -> Response:
    """The MetricFamily `service_<name>` (`service_operation_<name>` when grouped by operation);
    `help_text` may name the `{quantile}`, which only latencies take (and require)."""
    params: dict[str, list[str]] = {}
    for key, text in request.query_params.multi_items():
        params.setdefault(key, []).append(text)
    try:
        quantile = parse_quantile(params) if value is _latency_ms else None
        query = parse_metrics_query(params, quantile)
        series = app.store.span_metrics.series(ctx.workspace_id, query)
    except (ParamError, SpanMetricsTooLarge) as exc:
        return error(400, str(exc))
    help_text = help_text.format(quantile=quantile)
    if query.by_operation:
        name, help_text = f"service_operation_{name}", f"{help_text} & operation"
    else:
        name = f"service_{name}"
    metrics = [_metric(s, query, value) for s in series]
    body = {"name": name, "type": "GAUGE", "help": help_text, "metrics": metrics}
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("/latencies")
def latencies(request: Request, ctx: ViewerContext, app: Context) -> Response:
    """The `quantile` (required) of span durations in ms per window, by service [and operation]."""
    help_text = "{quantile:.2f}th quantile latency, grouped by service"
    return _answer(request, ctx, app, "latencies", help_text, _latency_ms)


@router.get("/calls")
def calls(request: Request, ctx: ViewerContext, app: Context) -> Response:
    """Spans per second over each window (`ratePer` ms), by service [and operation]."""
    return _answer(request, ctx, app, "call_rate", "calls/sec, grouped by service", _call_rate)


@router.get("/errors")
def errors(request: Request, ctx: ViewerContext, app: Context) -> Response:
    """The fraction of each window's spans with status ERROR, by service [and operation]."""
    help_text = "error rate, computed as a fraction of errors/sec over calls/sec, grouped by service"
    return _answer(request, ctx, app, "error_rate", help_text, _error_rate)


@router.get("/minstep")
def min_step(ctx: ViewerContext) -> Response:
    """The smallest `step` in milliseconds (the parameters' unit)."""
    return envelope(1)

"""Parsing of the Monitor metrics API's parameters, as jaeger-query reads them.

jaegertracing/jaeger cmd/jaeger/internal/extension/jaegerquery/internal/query_parser.go
(`parseMetricsQueryParams`) and default_params.go: `service` is required and may repeat,
`groupByOperation` a Go bool, `spanKind` repeats (unspecified, internal, server, client,
producer, consumer; default server), `endTs` unix milliseconds (default now), `lookback`,
`step` and `ratePer` integer milliseconds (defaults 1 h, 5 s, 10 min); `quantile` (latencies
only, parsed first) a float. Messages are Go's: "unable to parse param 'x': ...".

What Prometheus (the reader Jaeger documents) would refuse is refused here as a bad
parameter too: a step or ratePer not above zero, an end before the start, more than 11,000
points per series. Values whose nanoseconds DuckDB's 64-bit times cannot hold are out of
range.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence

from flowscope.api.jaeger.params import ParamError
from flowscope.storage.span_metrics import MAX_POINTS, SpanMetricsQuery
from flowscope.storage.trace_tags import SPAN_KIND_TAG

MS = 1_000_000
DEFAULT_LOOKBACK_MS = 3600 * 1000
DEFAULT_STEP_MS = 5 * 1000
DEFAULT_RATE_PER_MS = 10 * 60 * 1000
DEFAULT_SPAN_KINDS = (2,)  # SPAN_KIND_SERVER
MAX_MS = 2**62 // MS
"""Every time and duration at most this (146 years), so that times and their windows' starts
stay within signed 64-bit nanoseconds."""

SPAN_KINDS = {"unspecified": 0, **{name: kind for kind, name in SPAN_KIND_TAG.items()}}
_GO_BOOL = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
            "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}  # fmt: skip
_GO_INT = re.compile(r"[+-]?[0-9]+")
_GO_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")

Params = Mapping[str, Sequence[str]]
"""The query string, every value of each name in order."""


def _fail(name: str, reason: str) -> ParamError:
    return ParamError(f"unable to parse param '{name}': {reason}")


def _first(params: Params, name: str) -> str:
    """Go's `url.Values.Get`: the first value, '' when absent."""
    values = params.get(name)
    return values[0] if values else ""


def _go_int(params: Params, name: str, default: int) -> int:
    text = _first(params, name)
    if text == "":
        return default
    if not _GO_INT.fullmatch(text):
        raise _fail(name, f'strconv.ParseInt: parsing "{text[:64]}": invalid syntax')
    value = int(text)
    if abs(value) > MAX_MS:
        raise _fail(name, f'strconv.ParseInt: parsing "{text[:64]}": value out of range')
    return value


def parse_quantile(params: Params) -> float:
    """The latency quantile, in [0, 1] (Prometheus's histogram_quantile gives +-Inf outside)."""
    text = _first(params, "quantile")
    if not _GO_FLOAT.fullmatch(text):
        raise _fail("quantile", f'strconv.ParseFloat: parsing "{text[:64]}": invalid syntax')
    value = float(text)
    if not 0 <= value <= 1:
        raise _fail("quantile", f"{text[:64]} is not in [0, 1]")
    return value


def _span_kinds(params: Params) -> tuple[int, ...]:
    if "spanKind" not in params:
        return DEFAULT_SPAN_KINDS
    kinds = []
    for text in params["spanKind"]:
        kind = SPAN_KINDS.get(text.lower())
        if kind is None:
            raise _fail("spanKind", f"unsupported span kind: '{text[:64]}'")
        kinds.append(kind)
    return tuple(kinds)


def parse_metrics_query(
    params: Params, quantile: float | None = None, now_ms: int | None = None
) -> SpanMetricsQuery:
    """The query of `/api/metrics/{calls,errors,latencies}`: evaluation times from
    endTs - lookback to endTs every step, each over the ratePer before it."""
    services = params.get("service")
    if services is None:
        raise _fail("service", "please provide at least one service name")
    group = _first(params, "groupByOperation")
    if group and group not in _GO_BOOL:
        raise _fail("groupByOperation", f'strconv.ParseBool: parsing "{group[:64]}": invalid syntax')
    kinds = _span_kinds(params)
    end_ms = _go_int(params, "endTs", time.time_ns() // MS if now_ms is None else now_ms)
    lookback_ms = _go_int(params, "lookback", DEFAULT_LOOKBACK_MS)
    step_ms = _go_int(params, "step", DEFAULT_STEP_MS)
    rate_per_ms = _go_int(params, "ratePer", DEFAULT_RATE_PER_MS)
    if lookback_ms < 0:
        raise _fail("lookback", "end timestamp must not be before start time")
    if step_ms <= 0:
        raise _fail("step", "zero or negative query resolution step widths are not accepted")
    if rate_per_ms <= 0:
        raise _fail("ratePer", "zero or negative rate windows are not accepted")
    points = lookback_ms // step_ms + 1
    if points > MAX_POINTS:
        raise _fail(
            "step",
            f"exceeded maximum resolution of {MAX_POINTS:,} points per timeseries. "
            "Try decreasing the query resolution (?step=XX)",
        )
    return SpanMetricsQuery(
        services=tuple(services),
        span_kinds=kinds,
        first_ns=(end_ms - lookback_ms) * MS,
        step_ns=step_ms * MS,
        points=points,
        window_ns=rate_per_ms * MS,
        by_operation=_GO_BOOL.get(group, False),
        quantile=quantile,
    )

"""Jaeger's Monitor metrics API (`/api/metrics/*`, api/jaeger/metrics.py) against its sources
in jaegertracing/jaeger:
- routes, parameters and errors: cmd/jaeger/internal/extension/jaegerquery/internal/
  http_handler.go (`RegisterRoutes`, `latencies`, `metrics`, `handleError`: 400 with the
  `{data, total, limit, offset, errors: [{code, msg}]}` envelope), query_parser.go
  (`parseMetricsQueryParams`, Go's strconv messages), default_params.go (1 h lookback, 5 s
  step, 10 min ratePer, server spans);
- the answer: internal/proto/metrics/openmetrics.proto `MetricFamily` as gogo jsonpb writes it
  (json_marshaler.go `newProtoJSONMarshaler`), names and help texts of the Prometheus reader
  (internal/storage/metricstore/prometheus/metricstore/reader.go), labels `service_name` and
  `operation` (its dbmodel/to_domain.go);
- what the UI reads: jaegertracing/jaeger-ui packages/jaeger-ui/src/reducers/metrics.ts
  (`metrics[0].labels[0].value` as the service, `gaugeValue.doubleValue.toFixed(2)`, a label
  named `operation`) and src/types/metrics.ts;
- `/api/metrics/minstep`: removed by jaeger #8425; older releases answered the envelope with
  the step in ms as `data` (their Prometheus reader: 1 ms).
Numbers on the crafted spans of tests/storage/conformance/span_metrics_data.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.jaeger_metrics.conftest import END_MS, REFERENCE, Get, Loaded

SERVICE_LABEL = [{"name": "service_name", "value": "checkout"}]
TIMES = ["2024-01-16T10:00:10Z", "2024-01-16T10:00:20Z", "2024-01-16T10:00:30Z"]


def _points(*values: float | str) -> list[dict[str, Any]]:
    return [{"gaugeValue": {"doubleValue": v}, "timestamp": t} for v, t in zip(values, TIMES, strict=True)]


def _ok(get: Get, metric: str, headers: dict[str, str] | None = None, **params: Any) -> dict[str, Any]:
    response = get(f"/api/metrics/{metric}", {"service": "checkout", **REFERENCE, **params}, headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()  # type: ignore[no-any-return]


def _error(get: Get, path: str, params: Any, code: int = 400, headers: dict[str, str] | None = None) -> str:
    """The message of jaeger-query's error envelope (the one shape of every failure)."""
    response = get(path, params, headers)
    assert response.status_code == code, response.text
    body = response.json()
    assert body == {"data": None, "total": 0, "limit": 0, "offset": 0, "errors": [body["errors"][0]]}
    assert body["errors"][0]["code"] == code
    return body["errors"][0]["msg"]  # type: ignore[no-any-return]


def test_calls_per_second_over_each_window(get: Get) -> None:
    assert _ok(get, "calls") == {
        "name": "service_call_rate",
        "type": "GAUGE",
        "help": "calls/sec, grouped by service",
        "metrics": [{"labels": SERVICE_LABEL, "metricPoints": _points(0.1, 0.15, 0.1)}],  # 2, 3, 2 in 20 s
    }


def test_errors_as_a_fraction_of_calls(get: Get) -> None:
    assert _ok(get, "errors") == {
        "name": "service_error_rate",
        "type": "GAUGE",
        "help": "error rate, computed as a fraction of errors/sec over calls/sec, grouped by service",
        "metrics": [{"labels": SERVICE_LABEL, "metricPoints": _points(0.5, 2 / 3, 0.5)}],
    }


def test_latency_quantiles_in_ms(get: Get) -> None:
    assert _ok(get, "latencies", quantile=0.5) == {
        "name": "service_latencies",
        "type": "GAUGE",
        "help": "0.50th quantile latency, grouped by service",
        "metrics": [{"labels": SERVICE_LABEL, "metricPoints": _points(200.0, 300.0, 600.0)}],
    }
    body = _ok(get, "latencies", quantile=0.95)
    assert body["help"] == "0.95th quantile latency, grouped by service"
    assert [p["gaugeValue"]["doubleValue"] for p in body["metrics"][0]["metricPoints"]] == pytest.approx(
        [290.0, 930.0, 960.0]  # interpolated: 100 + 0.95 * 200, 300 + 0.9 * 700, 200 + 0.95 * 800
    )


def test_grouped_by_operation_a_window_without_calls_is_nan(get: Get) -> None:
    def by_operation(metric: str, **params: Any) -> dict[str, Any]:
        body = _ok(get, metric, groupByOperation="true", **params)
        return {m["labels"][1]["value"]: m for m in body["metrics"]} | {"": body["name"]}

    calls = by_operation("calls")
    assert calls[""] == "service_operation_call_rate"
    assert calls["GET /a"] == {
        "labels": [*SERVICE_LABEL, {"name": "operation", "value": "GET /a"}],
        "metricPoints": _points(0.1, 0.1, 0.05),
    }
    assert calls["POST /b"]["metricPoints"] == _points(0.0, 0.05, 0.05)
    errors = by_operation("errors")
    assert errors[""] == "service_operation_error_rate"
    assert errors["POST /b"]["metricPoints"] == _points("NaN", 1.0, 1.0)  # jsonpb writes NaN as "NaN"
    latencies = by_operation("latencies", quantile=0.5)
    assert latencies[""] == "service_operation_latencies"
    assert latencies["GET /a"]["metricPoints"] == _points(200.0, 200.0, 200.0)
    assert latencies["POST /b"]["metricPoints"] == _points("NaN", 1000.0, 1000.0)
    body = _ok(get, "latencies", groupByOperation="1", quantile=0.5)
    assert body["help"] == "0.50th quantile latency, grouped by service & operation"


def test_services_repeat_and_span_kinds_filter(get: Get) -> None:
    params = {"service": ["checkout", "billing"], "spanKind": ["server", "INTERNAL"], **REFERENCE}
    response = get("/api/metrics/calls", params)
    assert response.status_code == 200, response.text
    metrics = response.json()["metrics"]
    assert [m["labels"] for m in metrics] == [
        [{"name": "service_name", "value": "billing"}],
        SERVICE_LABEL,
    ]
    assert metrics[1]["metricPoints"] == _points(0.1, 0.2, 0.15)  # + the internal `work` span
    assert _ok(get, "calls", spanKind="client")["metrics"] == []  # no series: an empty list
    assert _ok(get, "calls", service="nobody")["metrics"] == []


def test_timestamps_and_defaults(get: Get) -> None:
    body = _ok(get, "calls", endTs=END_MS + 500, lookback=1000, step=500)
    assert [p["timestamp"] for p in body["metrics"][0]["metricPoints"]] == [
        "2024-01-16T10:00:29.500Z",
        "2024-01-16T10:00:30Z",
        "2024-01-16T10:00:30.500Z",
    ]
    # Defaults: now, looking back 1 h every 5 s (721 times), windows of 10 min, server spans.
    response = get("/api/metrics/calls", {"service": "checkout"})
    assert response.status_code == 200 and response.json()["metrics"] == []  # 2024's spans: too old
    body = _ok(get, "calls", endTs="", lookback="", step="", ratePer="")  # empty: the defaults too
    assert body["metrics"] == []
    late = {"service": "checkout", "endTs": END_MS + 3_600_000}  # from T+30 s to T+1 h 30 s
    [metric] = get("/api/metrics/calls", late).json()["metrics"]
    points = metric["metricPoints"]
    assert len(points) == 721 and points[-1]["timestamp"] == "2024-01-16T11:00:30Z"
    rates = [p["gaugeValue"]["doubleValue"] for p in points]
    # Server spans end at T-10 s (#6), T+5 s, T+10 s, T+12 s, T+25 s and T+31 s (#7): a window
    # of 10 min ending at T+30 s holds all but #7, at T+35 s all six, at T+590 s no longer #6,
    # at T+605 s no longer T+5 s.
    assert rates[0] * 600 == pytest.approx(5) and rates[1] * 600 == pytest.approx(6)
    assert rates[111] * 600 == pytest.approx(6) and rates[112] * 600 == pytest.approx(5)
    assert rates[115] * 600 == pytest.approx(4) and rates[-1] == 0.0


def test_minstep(get: Get) -> None:
    response = get("/api/metrics/minstep")
    assert response.status_code == 200
    assert response.json() == {"data": 1, "total": 0, "limit": 0, "offset": 0, "errors": None}


@pytest.mark.parametrize(
    ("metric", "params", "message"),
    [
        ("calls", {}, "unable to parse param 'service': please provide at least one service name"),
        ("latencies", {}, "unable to parse param 'quantile': strconv.ParseFloat: parsing \"\": invalid"),
        ("latencies", {"service": "a", "quantile": "p95"}, 'parsing "p95": invalid syntax'),
        ("latencies", {"service": "a", "quantile": "1.5"}, "unable to parse param 'quantile': 1.5 is not in"),
        ("errors", {"service": "a", "groupByOperation": "yes"},
         "unable to parse param 'groupByOperation': strconv.ParseBool: parsing \"yes\": invalid syntax"),
        ("calls", {"service": "a", "spanKind": "SPAN_KIND_SERVER"},
         "unable to parse param 'spanKind': unsupported span kind: 'SPAN_KIND_SERVER'"),
        ("calls", {"service": "a", "spanKind": ""}, "unsupported span kind: ''"),
        ("calls", {"service": "a", "endTs": "now"},
         "unable to parse param 'endTs': strconv.ParseInt: parsing \"now\": invalid syntax"),
        ("calls", {"service": "a", "lookback": "1h"}, "unable to parse param 'lookback': strconv.ParseInt"),
        ("calls", {"service": "a", "ratePer": "1.5"}, "unable to parse param 'ratePer': strconv.ParseInt"),
        ("calls", {"service": "a", "endTs": "9" * 20}, "value out of range"),
        ("calls", {"service": "a", "step": "0"}, "unable to parse param 'step': zero or negative"),
        ("calls", {"service": "a", "ratePer": "-1"}, "unable to parse param 'ratePer': zero or negative"),
        ("calls", {"service": "a", "lookback": "-1"}, "end timestamp must not be before start time"),
        ("calls", {"service": "a", "step": "100"}, "exceeded maximum resolution of 11,000 points"),
    ],
)  # fmt: skip
def test_bad_parameters(get: Get, metric: str, params: dict[str, str], message: str) -> None:
    assert message in _error(get, f"/api/metrics/{metric}", params)


def test_go_bools_and_kinds_are_accepted_as_go_parses_them(get: Get) -> None:
    for value in ("1", "t", "T", "TRUE", "true", "True"):
        assert _ok(get, "calls", groupByOperation=value)["name"] == "service_operation_call_rate"
    for value in ("0", "f", "F", "FALSE", "false", "False", ""):
        assert _ok(get, "calls", groupByOperation=value)["name"] == "service_call_rate"
    assert _ok(get, "calls", spanKind="Server")["metrics"][0]["metricPoints"] == _points(0.1, 0.15, 0.1)


def test_workspaces_through_the_jaeger_headers(get: Get, loaded: Loaded) -> None:
    b = {"X-Workspace-Id": loaded.ws_b}
    assert _ok(get, "calls", headers=b)["metrics"] == [
        {"labels": SERVICE_LABEL, "metricPoints": _points(0.0, 0.05, 0.05)}
    ]
    assert _ok(get, "errors", headers={"X-Workspace-Slug": "spm-b"})["metrics"][0]["metricPoints"] == _points(
        "NaN", 1.0, 1.0
    )
    assert _ok(get, "calls", service="billing", headers=b)["metrics"] == []  # A's service
    message = _error(get, "/api/metrics/calls", {"service": "checkout"}, 404, {"X-Workspace-Id": "nope"})
    assert message == "workspace 'nope' not found"


def test_tokens_with_auth_on(get_with_auth: Get, token_b: str, loaded: Loaded) -> None:
    params = {"service": "checkout", **REFERENCE}
    assert "authentication required" in _error(get_with_auth, "/api/metrics/calls", params, 401)
    assert _error(get_with_auth, "/api/metrics/minstep", {}, 401)
    bearer = {"Authorization": f"Bearer {token_b}"}
    response = get_with_auth("/api/metrics/calls", params, bearer)
    assert response.status_code == 200
    assert response.json()["metrics"][0]["metricPoints"] == _points(0.0, 0.05, 0.05)  # B's
    other = {**bearer, "X-Workspace-Id": "default"}
    assert "does not grant access" in _error(get_with_auth, "/api/metrics/calls", params, 403, other)


def test_a_query_past_the_store_budget_is_a_bad_request(get: Get, monkeypatch: pytest.MonkeyPatch) -> None:
    from flowscope.storage.duckdb import span_metrics

    # The reference query's pairs: spans ending at T+5 s, T+10 s and T+12 s in two windows
    # each, at T+25 s in one.
    monkeypatch.setattr(span_metrics, "MAX_WINDOW_PAIRS", 7)
    assert _ok(get, "calls")["metrics"][0]["metricPoints"] == _points(0.1, 0.15, 0.1)
    monkeypatch.setattr(span_metrics, "MAX_WINDOW_PAIRS", 6)
    message = _error(get, "/api/metrics/calls", {"service": "checkout", **REFERENCE})
    assert message == (
        "the query would aggregate 7 (span, window) pairs, more than 6: "
        "use a longer step, a shorter ratePer or lookback"
    )

"""`GET /api/v3/traces` and `GET /api/v3/trace-summaries`: the `query.*` parameters.

Sources: jaegertracing/jaeger-idl proto/api_v3/query_service.proto (`TraceQueryParameters`:
service_name, operation_name, attributes as a JSON map of strings, start_time_min inclusive
and start_time_max exclusive, duration_min/max, search_depth, raw_traces, filter;
`TraceSummary`, `ServiceSummary`, `FindTraceSummariesResponse`); jaegertracing/jaeger
cmd/jaeger/internal/extension/jaegerquery/internal/apiv3/query_parser.go (camelCase names and
snake_case aliases, `query.num_traces`, default depth 100, the 400 messages), http_gateway.go
(`findTraces`: 404 "No traces found"; `findTraceSummaries`), querysvc/summary.go (how a trace
is summarized), querysvc/service.go (`ErrServiceNameRequired`), querysvc/filter.go
(`ErrFilterDisabled`), snapshots/FindTraceSummaries.json; and the request the Jaeger UI sends
(jaegertracing/jaeger-ui packages/jaeger-ui/src/api/v3/client.ts `fetchTraceSummaries`,
SearchForm.tsx `convTagsLogfmt`).
"""

from __future__ import annotations

import json

import pytest
from flowscope.api.jaeger_v3.params import FILTER_REFUSED, SERVICE_REQUIRED

from tests.jaeger_v3.data import BIG, BOUNDS, MS, RICH, TYPED, S, T
from tests.jaeger_v3.shapes import gateway_error, ok, rfc3339, search, spans, trace_ids
from tests.support.asgi import Get

D1, D2, D3 = (trace_id for trace_id, _, _ in BOUNDS)
HOUR = 3600 * S
LAYOUT = "2006-01-02T15:04:05.999999999Z07:00"  # Go's time.RFC3339Nano


def _found(get: Get, service: str = "bounds", start: int = T, end: int = T + HOUR, **extra: str) -> list[str]:
    """The trace ids a search finds, newest first; [] for the gateway's 404."""
    response = get("/api/v3/traces", search(service, start, end, **extra))
    if response.status_code == 404:
        assert gateway_error(response, 404) == "No traces found"
        return []
    return trace_ids(ok(response))


def test_traces_newest_first_as_otlp_json(get: Get) -> None:
    assert _found(get) == [D3, D2, D1]
    body = ok(get("/api/v3/traces", search("bounds")))
    assert [s["name"] for s in spans(body)] == ["bounded"] * 3 and list(body) == ["result"]


def test_start_time_min_is_inclusive_and_max_exclusive(get: Get) -> None:
    assert _found(get, start=T + S) == [D3, D2]
    assert _found(get, start=T + S + 1) == [D3]
    assert _found(get, start=T, end=T + S) == [D1]
    assert _found(get, start=T, end=T + S + 1) == [D2, D1]


def test_times_with_offsets_and_fractions(get: Get) -> None:
    window = {"query.serviceName": "bounds", "query.startTimeMax": "2024-01-15T11:00:01.5+01:00"}
    for start in (
        "2024-01-15T10:00:01Z",
        "2024-01-15T11:00:01.000000000+01:00",
        "2024-01-15T09:00:01,0-01:00",
    ):
        assert trace_ids(ok(get("/api/v3/traces", {**window, "query.startTimeMin": start}))) == [D2]


def test_duration_bounds_are_inclusive(get: Get) -> None:
    assert _found(get, **{"query.durationMin": "20ms"}) == [D3, D2]
    assert _found(get, **{"query.durationMax": "0.02s"}) == [D2, D1]
    assert _found(get, **{"query.durationMin": "20000us", "query.durationMax": "20ms"}) == [D2]
    assert _found(get, **{"query.durationMin": "20ms", "query.durationMax": "10ms"}) == []
    assert _found(get, **{"query.durationMin": "0"}) == [D3, D2, D1]  # zero: no bound


def test_operation_name(get: Get) -> None:
    assert _found(get, **{"query.operationName": "bounded"}) == [D3, D2, D1]
    assert _found(get, **{"query.operationName": "other"}) == []


def test_search_depth(get: Get) -> None:
    assert _found(get, **{"query.searchDepth": "2"}) == [D3, D2]
    assert _found(get, **{"query.search_depth": "1"}) == [D3]
    assert _found(get, **{"query.num_traces": "1"}) == [D3]
    assert _found(get, **{"query.searchDepth": "0"}) == [D3, D2, D1]  # the default, 100
    assert _found(get, **{"query.searchDepth": "100000"}) == [D3, D2, D1]  # bounded, not refused


def test_snake_case_aliases(get: Get) -> None:
    params = {
        "query.service_name": "bounds", "query.operation_name": "bounded",
        "query.start_time_min": rfc3339(T), "query.start_time_max": rfc3339(T + 2 * S),
        "query.duration_min": "10ms", "query.duration_max": "20ms", "query.raw_traces": "true",
    }  # fmt: skip
    assert trace_ids(ok(get("/api/v3/traces", params))) == [D2, D1]


@pytest.mark.parametrize("kind", sorted(TYPED))
def test_attributes_of_every_value_type(get: Get, kind: str) -> None:
    """A value matches as jaeger-query compares tag values: as text (bool as true/false, bytes
    in base64, arrays and key-value lists as JSON)."""
    trace_id, attributes, text = TYPED[kind]
    [key] = attributes
    assert _found(get, "typed", **{"query.attributes": json.dumps({key: text})}) == [trace_id]
    assert _found(get, "typed", **{"query.attributes": json.dumps({key: text + "x"})}) == []


def test_attributes_all_on_one_span(get: Get) -> None:
    """Every attribute must be on one span (with its resource): two spans do not add up."""
    both = {"v.string": "text", "v.int": "200"}
    assert _found(get, "typed", **{"query.attributes": json.dumps(both)}) == []
    with_resource = {"v.int": "200", "service.name": "typed"}
    assert _found(get, "typed", **{"query.attributes": json.dumps(with_resource)}) == [TYPED["int"][0]]
    assert len(_found(get, "typed", **{"query.attributes": json.dumps({"service.name": "typed"})})) == 7
    assert _found(get, "bounds", **{"query.attributes": '{"span.kind": "server"}'}) == [D3, D2, D1]
    assert _found(get, "typed", **{"query.attributes": "null"}) == _found(get, "typed")


def test_attributes_of_resources_and_scopes(get: Get) -> None:
    window = {"query.attributes": json.dumps({"host.cores": "2", "otel.scope.name": "db"})}
    assert _found(get, "stock", start=T - S, **window) == [RICH]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"query.serviceName": "bounds"}, "query.startTimeMin and query.startTimeMax are required"),
        ({**search("bounds", T, T)}, "query.startTimeMin must be before query.startTimeMax"),
        ({**search("bounds"), "query.startTimeMin": "yesterday"},
         f'malformed parameter query.startTimeMin: parsing time "yesterday" as "{LAYOUT}"'),
        ({**search("bounds"), "query.start_time_min": "2024-13-01T00:00:00Z", "query.startTimeMin": ""},
         'malformed parameter query.start_time_min: parsing time "2024-13-01T00:00:00Z": month out of range'),
        ({**search("bounds"), "query.searchDepth": "ten"},
         'malformed parameter query.searchDepth: strconv.Atoi: parsing "ten": invalid syntax'),
        ({**search("bounds"), "query.num_traces": "1.5"},
         'malformed parameter query.num_traces: strconv.Atoi: parsing "1.5": invalid syntax'),
        ({**search("bounds"), "query.durationMin": "10"}, "malformed parameter query.durationMin: time: "),
        ({**search("bounds"), "query.duration_max": "x"}, "malformed parameter query.duration_max: time: "),
        ({**search("bounds"), "query.rawTraces": "yes"},
         'malformed parameter query.rawTraces: strconv.ParseBool: parsing "yes": invalid syntax'),
        ({**search("bounds"), "query.attributes": "{"}, "malformed parameter query.attributes: "),
        ({**search("bounds"), "query.attributes": '["a"]'},
         "malformed parameter query.attributes: json: cannot unmarshal array into Go value of type "
         "map[string]string"),
        ({**search("bounds"), "query.attributes": '{"a": true}'},
         "malformed parameter query.attributes: json: cannot unmarshal bool into Go value of type string"),
        ({**search("bounds"), "query.filter": '{"op":"eq"}'}, FILTER_REFUSED),
        (search(""), SERVICE_REQUIRED),
    ],
)  # fmt: skip
def test_bad_parameters_are_400s(get: Get, params: dict[str, str], message: str) -> None:
    for path in ("/api/v3/traces", "/api/v3/trace-summaries"):
        assert gateway_error(get(path, params), 400).startswith(message)


def test_a_search_finding_nothing_is_the_gateways_404(get: Get) -> None:
    assert gateway_error(get("/api/v3/traces", search("no-such-service")), 404) == "No traces found"


def test_summaries_as_jaeger_summarizes(get: Get) -> None:
    """Zero counts and empty names are left out, times are decimal strings (jsonpb), services
    sorted by name; every span is counted, the span cap notwithstanding."""
    body = ok(get("/api/v3/trace-summaries", search("big")))
    assert body == {
        "summaries": [
            {
                "traceId": BIG, "rootServiceName": "big", "rootOperationName": "big root",
                "minStartTimeUnixNano": str(T), "maxEndTimeUnixNano": str(T + S),
                "spanCount": 6, "errorSpanCount": 1,
                "services": [{"name": "big", "spanCount": 6, "errorSpanCount": 1}],
            }
        ]
    }  # fmt: skip
    [rich] = ok(get("/api/v3/trace-summaries", search("stock", T - S)))["summaries"]
    assert rich["services"] == [
        {"name": "shop", "spanCount": 2, "errorSpanCount": 1},
        {"name": "stock", "spanCount": 2, "errorSpanCount": 1},
    ]
    assert (rich["rootServiceName"], rich["rootOperationName"], rich["errorSpanCount"]) == (
        "shop",
        "shop http",
        2,
    )


def test_summaries_follow_the_search(get: Get) -> None:
    listed = ok(get("/api/v3/trace-summaries", search("bounds", **{"query.durationMin": "20ms"})))
    assert [s["traceId"] for s in listed["summaries"]] == [D3, D2]
    assert ok(get("/api/v3/trace-summaries", search("no-such-service"))) == {"summaries": []}
    raw = ok(get("/api/v3/trace-summaries", search("bounds", **{"query.rawTraces": "true"})))
    assert raw == ok(get("/api/v3/trace-summaries", search("bounds")))


def test_the_jaeger_ui_search_request(get: Get) -> None:
    """What client.ts sends: ISO times in ms (Date.toISOString), the result limit as
    searchDepth, the form's durations, and logfmt tags as a JSON object of strings."""
    params = {
        "query.serviceName": "typed", "query.operationName": "typed op",
        "query.startTimeMin": "2024-01-15T10:00:00.000Z", "query.startTimeMax": "2024-01-15T11:00:00.000Z",
        "query.searchDepth": "20", "query.durationMin": "1ms", "query.durationMax": "1s",
        "query.attributes": json.dumps({"v.bool": "true"}),
    }  # fmt: skip
    [summary] = ok(get("/api/v3/trace-summaries", params))["summaries"]
    assert summary["traceId"] == TYPED["bool"][0] and summary["maxEndTimeUnixNano"] == str(T + 1 * S + MS)


def test_a_cut_trace_in_search_results(get_capped: Get) -> None:
    found = spans(ok(get_capped("/api/v3/traces", search("big"))))
    assert [s["name"] for s in found] == ["big root", "child 1", "child 2"]
    assert found[0]["attributes"][0]["key"] == "@jaeger@warnings"
    [summary] = ok(get_capped("/api/v3/trace-summaries", search("big")))["summaries"]
    assert summary["spanCount"] == 6

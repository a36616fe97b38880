"""`GET /api/v3/traces/{trace_id}`: the trace as OTLP JSON, every field as its client sent it.

Sources: jaegertracing/jaeger-idl proto/api_v3/query_service.proto (`GetTraceRequest`
{trace_id, start_time, end_time, raw_traces}; `GRPCGatewayWrapper` {result: TracesData});
jaegertracing/jaeger cmd/jaeger/internal/extension/jaegerquery/internal/apiv3/http_gateway.go
(`getTrace`: hex or base64 ids via `TraceIDFromString`, `startTime`/`endTime`/`rawTraces` with
their snake_case aliases, "malformed parameter ..." 400s, 404 "No traces found") and
snapshots/GetTrace.json; the OTLP/JSON as pdata v1.61.0 writes it
(open-telemetry/opentelemetry-collector pdata/internal/generated_proto_*.go MarshalJSON); the
truncation marker of internal/jptrace/aggregator.go (`markTraceTruncated`) and warning.go
(`@jaeger@warnings`); Grafana's request (grafana/grafana-jaeger-datasource
pkg/jaeger/grpc_client.go `GrpcTrace`: `start_time`/`end_time`, unencoded).
"""

from __future__ import annotations

import base64
import math

from flowscope.api.jaeger_v3.otlp_json import any_value
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tests.jaeger_v3.conftest import Loaded
from tests.jaeger_v3.data import BIG, MS, RICH, SPAN_1, T_TEXT, T
from tests.jaeger_v3.shapes import decoded, gateway_error, ok, spans
from tests.storage.conformance.otlp import every_field
from tests.support.asgi import Get

STRING = {"stringValue": "boom"}


def _kv(key: str, value: dict[str, object]) -> dict[str, object]:
    return {"key": key, "value": value}


# The first span of RICH (otlp.every_field: resource 1, scope 1), as pdata writes it.
FIRST_SPAN = {
    "traceId": RICH,
    "spanId": SPAN_1,
    "traceState": "vendor=a,other=b",
    "flags": 0x301,
    "name": "shop http",
    "kind": 2,
    "startTimeUnixNano": str(T + 11 * MS),
    "endTimeUnixNano": str(T + 10**9),
    "attributes": [
        _kv("s", {"stringValue": "text"}),
        _kv("b", {"boolValue": True}),
        _kv("f", {"boolValue": False}),
        _kv("i", {"intValue": "-9223372036854775808"}),
        _kv("d", {"doubleValue": 1.25}),
        _kv("y", {"bytesValue": "AP8="}),
        _kv(
            "a",
            {
                "arrayValue": {
                    "values": [
                        {"stringValue": "x"},
                        {"intValue": "1"},
                        {"doubleValue": 2.5},
                        {"boolValue": True},
                    ]
                }
            },
        ),
        _kv(
            "kv",
            {
                "kvlistValue": {
                    "values": [
                        _kv("k", {"stringValue": "v"}),
                        _kv("n", {"kvlistValue": {"values": [_kv("deep", {"intValue": "1"})]}}),
                    ]
                }
            },
        ),
        _kv("empty.a", {"arrayValue": {}}),
        _kv("empty.kv", {"kvlistValue": {}}),
        _kv("none", {}),
    ],
    "droppedAttributesCount": 2,
    "events": [
        {
            "timeUnixNano": str(T + 5),
            "name": "exception",
            "attributes": [_kv("exception.message", STRING)],
            "droppedAttributesCount": 1,
        },
    ],
    "droppedEventsCount": 3,
    "links": [
        {
            "traceId": bytes(range(16)).hex(),
            "spanId": bytes(range(1, 9)).hex(),
            "traceState": "x=1",
            "attributes": [_kv("link.kind", {"stringValue": "follows"})],
            "droppedAttributesCount": 1,
            "flags": 0x101,
        },
    ],
    "droppedLinksCount": 4,
    "status": {"code": 1},
}


def test_a_trace_is_otlp_json_in_a_result(get: Get) -> None:
    body = ok(get(f"/api/v3/traces/{RICH}"))
    assert list(body) == ["result"] and list(body["result"]) == ["resourceSpans"]
    shop, stock = body["result"]["resourceSpans"]
    assert list(shop) == ["resource", "scopeSpans", "schemaUrl"]
    assert shop["resource"] == {
        "attributes": [_kv("service.name", {"stringValue": "shop"}), _kv("host.cores", {"intValue": "1"})],
        "droppedAttributesCount": 1,
    }
    assert shop["schemaUrl"] == "https://opentelemetry.io/schemas/1.1.0"
    http, db = shop["scopeSpans"]
    assert http["scope"] == {
        "name": "http",
        "version": "1.1",
        "attributes": [_kv("scope.rank", {"intValue": "1"})],
    }
    assert http["schemaUrl"] == "https://example.com/http" and "schemaUrl" not in db
    assert [s["name"] for s in http["spans"]] == ["shop http"] and [s["name"] for s in db["spans"]] == [
        "shop db"
    ]
    assert [ss["scope"]["name"] for ss in stock["scopeSpans"]] == ["http", "db"]


def test_span_fields_as_pdata_writes_them(get: Get) -> None:
    """Ids in hex, 64-bit integers as strings, enums as numbers, bytes in base64, zero values
    left out but `status` (and a key-value's `value`) always there, in pdata's key order."""
    first, second = spans(ok(get(f"/api/v3/traces/{RICH}")))[:2]
    assert first == FIRST_SPAN
    assert list(first) == list(FIRST_SPAN)
    assert second["parentSpanId"] == SPAN_1 and second["status"] == {"message": "boom", "code": 2}


def test_every_field_round_trips(get: Get) -> None:
    """Read back by the official OTLP/JSON codec, each span, resource and scope equals what the
    client sent (tests/storage/conformance/otlp.py every_field)."""
    sent = every_field(RICH, T)
    got = decoded(ok(get(f"/api/v3/traces/{RICH}")))
    assert len(got.resource_spans) == 2
    for sent_rs, got_rs in zip(sent.resource_spans, got.resource_spans, strict=True):
        assert (got_rs.resource, got_rs.schema_url) == (sent_rs.resource, sent_rs.schema_url)
        for sent_ss, got_ss in zip(sent_rs.scope_spans, got_rs.scope_spans, strict=True):
            assert (got_ss.scope, got_ss.schema_url) == (sent_ss.scope, sent_ss.schema_url)
            assert list(got_ss.spans) == list(sent_ss.spans)


def test_values_json_cannot_hold(get: Get) -> None:
    """Non-finite doubles as pdata writes them (its json Stream's WriteFloat64)."""
    assert any_value(AnyValue(double_value=math.nan)) == {"doubleValue": "NaN"}
    assert any_value(AnyValue(double_value=math.inf)) == {"doubleValue": "Infinity"}
    assert any_value(AnyValue(double_value=-math.inf)) == {"doubleValue": "-Infinity"}
    assert any_value(AnyValue(bytes_value=b"")) == {"bytesValue": ""}
    assert any_value(AnyValue(string_value="")) == {"stringValue": ""}


def test_ids_in_hex_or_base64(get: Get) -> None:
    raw = bytes.fromhex(RICH)
    expected = ok(get(f"/api/v3/traces/{RICH}"))
    for form in (RICH.upper(), base64.b64encode(raw).decode(), base64.b64encode(raw).decode().rstrip("="),
                 base64.urlsafe_b64encode(raw).decode()):  # fmt: skip
        assert ok(get(f"/api/v3/traces/{form.replace('/', '%2F').replace('+', '%2B')}")) == expected, form
    short = "00000000000000ff"  # a 64-bit id: the high half zero
    assert gateway_error(get(f"/api/v3/traces/{short}"), 404) == "No traces found"


def test_malformed_ids(get: Get) -> None:
    assert (
        gateway_error(get("/api/v3/traces/xyz"), 400)
        == "malformed parameter trace_id: invalid length for TraceID"
    )
    long = "1" * 33
    message = gateway_error(get(f"/api/v3/traces/{long}"), 400)
    assert message == f"malformed parameter trace_id: TraceID cannot be longer than 32 hex characters: {long}"


def test_an_unknown_trace_is_the_gateways_404(get: Get) -> None:
    response = get("/api/v3/traces/" + "0123456789abcdef" * 2)
    assert gateway_error(response, 404) == "No traces found"
    assert response.text == '{"error":{"httpCode":404,"message":"No traces found"}}\n'


def test_time_bounds_are_checked_and_the_id_decides(get: Get) -> None:
    expected = ok(get(f"/api/v3/traces/{RICH}"))
    later = "2030-01-01T00:00:00.123456789+02:00"
    for params in ({"startTime": T_TEXT, "endTime": later}, {"start_time": T_TEXT, "end_time": later},
                   {"startTime": later}):  # fmt: skip
        assert ok(get(f"/api/v3/traces/{RICH}", params)) == expected
    # Grafana writes them unencoded: an offset's '+' arrives as a space.
    assert (
        ok(get(f"/api/v3/traces/{RICH}?start_time={T_TEXT}&end_time=2030-01-01T00:00:00+01:00")) == expected
    )
    for name in ("startTime", "start_time", "endTime", "end_time"):
        message = gateway_error(get(f"/api/v3/traces/{RICH}", {name: "abc"}), 400)
        assert message.startswith(f"malformed parameter {name}: parsing time")


def test_raw_traces_flag(get: Get) -> None:
    expected = ok(get(f"/api/v3/traces/{RICH}"))
    for name, value in (("rawTraces", "true"), ("raw_traces", "1"), ("rawTraces", "False")):
        assert ok(get(f"/api/v3/traces/{RICH}", {name: value})) == expected
    message = gateway_error(get(f"/api/v3/traces/{RICH}", {"rawTraces": "foobar"}), 400)
    assert message == 'malformed parameter rawTraces: strconv.ParseBool: parsing "foobar": invalid syntax'


def test_a_cut_trace_is_marked_as_jaeger_marks_truncated_traces(get_capped: Get) -> None:
    """Past the span cap a trace keeps its root and earliest spans, and (unless raw) its root
    carries the warning in `@jaeger@warnings`, a string array."""
    cut = spans(ok(get_capped(f"/api/v3/traces/{BIG}")))
    assert [s["name"] for s in cut] == ["big root", "child 1", "child 2"]
    warnings = next(a for a in cut[0]["attributes"] if a["key"] == "@jaeger@warnings")
    [warning] = warnings["value"]["arrayValue"]["values"]
    assert warning["stringValue"].startswith("trace truncated: showing 3 of its 6 spans")
    assert all("attributes" not in s for s in cut[1:])
    raw = spans(ok(get_capped(f"/api/v3/traces/{BIG}", {"rawTraces": "true"})))
    assert [s["name"] for s in raw] == ["big root", "child 1", "child 2"] and "attributes" not in raw[0]


def test_a_trace_id_belongs_to_its_workspace(get: Get, loaded: Loaded) -> None:
    """Workspace B has spans under RICH's id too: each workspace reads its own."""
    b = spans(ok(get(f"/api/v3/traces/{RICH}", headers={"X-Workspace-Id": loaded.ws_b})))
    assert [s["name"] for s in b] == ["b's own"]

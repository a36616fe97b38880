"""The v3 requests of Grafana's Jaeger data source, and its reading of the answers.

Source: grafana/grafana-jaeger-datasource (bundled with Grafana 12.3 and later; 13.0.1)
pkg/jaeger/grpc_client.go and pkg/jaeger/types/grpc_types.go. With the `jaegerEnableGrpcEndpoint`
feature toggle (experimental, off by default; pkg/jaeger/querydata.go, jaeger.go) it reads
services, operations and traces by id through /api/v3 (search and the dependency graph stay
on /api/traces and /api/dependencies). Its Go types decode with encoding/json, which refuses a
JSON type other than the field's: the fields it types are checked here as it types them.
(It types `boolValue` and `doubleValue` as strings, which OTLP JSON writes as a boolean and a
number: Grafana fails on such attributes against Jaeger itself, and the toggle stays off in
docker-compose.yml.)
"""

from __future__ import annotations

from typing import Any

from tests.jaeger_v3.data import BIG, T
from tests.jaeger_v3.shapes import ok
from tests.support.asgi import Get

# grpc_types.go: the JSON type each field decodes from (int64 fields: a number; string: a string).
SPAN_TYPES = {
    "traceId": str, "spanId": str, "traceState": str, "parentSpanId": str, "flags": int, "name": str,
    "kind": int, "startTimeUnixNano": str, "endTimeUnixNano": str, "attributes": list,
    "droppedAttributesCount": int, "events": list, "droppedEventsCount": int, "links": list,
    "droppedLinksCount": int, "status": dict,
}  # fmt: skip
STATUS_TYPES = {"message": str, "code": int}


def _typed(value: dict[str, Any], types: dict[str, type]) -> None:
    for key, item in value.items():
        assert isinstance(item, types[key]) and not isinstance(item, bool), (key, item)


def test_services_and_operation_names(get: Get) -> None:
    """GrpcServices: `response.Services`; GrpcOperations: `?service=` and each `op.Name`."""
    assert "big" in ok(get("/api/v3/services"))["services"]
    names = [op["name"] for op in ok(get("/api/v3/operations?service=big"))["operations"]]
    assert names == ["big root", *(f"child {n}" for n in range(1, 6))]


def test_a_trace_by_id_with_its_time_parameters(get: Get) -> None:
    """GrpcTrace: `url.QueryEscape(traceID)`, and with "Enable Time Parameters"
    `start_time=...&end_time=...` appended unencoded (Go's time.RFC3339Nano)."""
    start, end = "2024-01-15T09:00:00Z", "2024-01-15T11:00:00.5+01:00"
    for url in (f"/api/v3/traces/{BIG}", f"/api/v3/traces/{BIG}?start_time={start}&end_time={end}"):
        body = ok(get(url))
        assert "error" not in body  # GrpcTracesResponse.Error: only on failures
        [rs] = body["result"]["resourceSpans"]
        service = [a for a in rs["resource"]["attributes"] if a["key"] == "service.name"]
        assert service == [{"key": "service.name", "value": {"stringValue": "big"}}]
        [ss] = rs["scopeSpans"]
        assert isinstance(ss["scope"]["name"], str)
        for span in ss["spans"]:
            _typed(span, SPAN_TYPES)
            _typed(span["status"], STATUS_TYPES)
        assert ss["spans"][0]["startTimeUnixNano"] == str(T)

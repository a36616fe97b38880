"""What every answer of the Jaeger query API v3 looks like, checked the way its clients read it.

Sources: jaegertracing/jaeger cmd/jaeger/internal/extension/jaegerquery/internal/apiv3/
http_gateway.go (`marshalResponse`: application/json; `tryHandleError`/`returnTraces`:
`GRPCGatewayError` through Go's `http.Error`, i.e. text/plain, nosniff, a trailing newline) and
jaegertracing/jaeger-idl proto/api_v3/query_service.proto (`GRPCGatewayWrapper`: the traces in
`result`). Traces are decoded with the official OTLP/JSON codec (opentelemetry-proto-json).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from opentelemetry.proto_json.trace.v1.trace import TracesData as OfficialTracesData

from tests.collector.helpers import official_to_proto
from tests.jaeger_v3.data import T

HOUR = 3600 * 10**9


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, f"{response.request.url}: {response.status_code} {response.text}"
    assert response.headers["content-type"] == "application/json"
    return response.json()


def gateway_error(response: httpx.Response, status: int) -> str:
    """The gateway's error answer with `status`; its message."""
    assert response.status_code == status, f"{response.request.url}: {response.status_code} {response.text}"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.text.endswith("}\n")
    body = response.json()
    assert list(body) == ["error"] and list(body["error"]) == ["httpCode", "message"], body
    assert body["error"]["httpCode"] == status
    return body["error"]["message"]  # type: ignore[no-any-return]


def decoded(body: dict[str, Any]) -> TracesData:
    """The `result` of a traces answer, read by the official OTLP/JSON codec."""
    assert list(body) == ["result"]
    message = official_to_proto(OfficialTracesData.from_dict(body["result"]), TracesData())
    assert isinstance(message, TracesData)
    return message


def trace_ids(body: dict[str, Any]) -> list[str]:
    """The trace ids of a traces answer, in order of appearance."""
    ids: list[str] = []
    for rs in body["result"]["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                if span["traceId"] not in ids:
                    ids.append(span["traceId"])
    return ids


def spans(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [span for rs in body["result"]["resourceSpans"] for ss in rs["scopeSpans"] for span in ss["spans"]]


def rfc3339(ns: int) -> str:
    """Unix ns as RFC 3339 with nanoseconds, UTC (as Go's time.RFC3339Nano writes it, zeros kept)."""
    seconds, nanos = divmod(ns, 10**9)
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{nanos:09d}Z"


def search(service: str, start: int = T, end: int = T + HOUR, **extra: str) -> dict[str, str]:
    """The `query.*` parameters of a search of `service` over [start, end)."""
    window = {"query.startTimeMin": rfc3339(start), "query.startTimeMax": rfc3339(end)}
    return {"query.serviceName": service, **window, **extra}

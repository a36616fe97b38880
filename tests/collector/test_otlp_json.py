"""Hand-written OTLP/JSON requests, per the OTLP JSON encoding rules.

The reference for "what this JSON means" is the official OTLP JSON codec
(`opentelemetry-proto-json`); our decoder must agree with it field for field.
"""

from __future__ import annotations

import copy
import gzip
import json
import zlib
from typing import Any

import pytest
from flowscope.collector.otlp_json import JsonDecodeError, parse_json
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto_json.collector.logs.v1.logs_service import (
    ExportLogsServiceRequest as OfficialLogsRequest,
)
from opentelemetry.proto_json.collector.trace.v1.trace_service import (
    ExportTraceServiceRequest as OfficialTraceRequest,
)

from tests.collector.helpers import (
    JSON,
    all_spans,
    count,
    official_to_proto,
    open_db,
    post,
    stored_records,
    stored_spans,
)

TRACE_ID = "5b8efff798038103d269b633813fc60c"  # also valid base64: a base64 decoder takes it silently
SPAN_ID = "eee19b7ec3c1b174"
PARENT_ID = "eee19b7ec3c1b173"
LINK_TRACE = "0af7651916cd43dd8448eb211c80319c"
LINK_SPAN = "b7ad6b7169203331"


def traces_body(start: int = 1_700_000_000_000_000_000) -> dict[str, Any]:
    """A hand-written OTLP/JSON traces request using every rule of the JSON encoding."""
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": "json-svc"}},
                        {"key": "host.cores", "value": {"intValue": "8"}},  # int64 as a string
                    ],
                    "droppedAttributesCount": 1,
                    "someFutureField": {"ignored": True},  # unknown: ignored
                },
                "schemaUrl": "https://opentelemetry.io/schemas/1.26.0",
                "scopeSpans": [
                    {
                        "scope": {
                            "name": "json.scope",
                            "version": "0.1",
                            "attributes": [{"key": "scope.k", "value": {"boolValue": True}}],
                        },
                        "schemaUrl": "https://example.com/scope-schema",
                        "spans": [
                            {
                                "traceId": TRACE_ID,
                                "spanId": SPAN_ID,
                                "parentSpanId": PARENT_ID,
                                "traceState": "vendor=1",
                                "flags": 769,
                                "name": "GET /json",
                                "kind": 2,  # enum as an integer
                                "startTimeUnixNano": str(start),  # int64 as a string
                                "endTimeUnixNano": start + 1_500_000,  # int64 as a number
                                "attributes": [
                                    {"key": "s", "value": {"stringValue": "text"}},
                                    {"key": "b", "value": {"boolValue": False}},
                                    {"key": "i", "value": {"intValue": -42}},
                                    {"key": "i_str", "value": {"intValue": "9223372036854775807"}},
                                    {"key": "d", "value": {"doubleValue": 2.5}},
                                    {"key": "d_int", "value": {"doubleValue": 3}},
                                    {"key": "bytes", "value": {"bytesValue": "AAH+/w=="}},  # base64
                                    {
                                        "key": "arr",
                                        "value": {
                                            "arrayValue": {
                                                "values": [{"stringValue": "a"}, {"intValue": "1"}]
                                            }
                                        },
                                    },
                                    {
                                        "key": "kv",
                                        "value": {
                                            "kvlistValue": {
                                                "values": [
                                                    {"key": "inner", "value": {"doubleValue": 1.5}},
                                                    {"key": "empty", "value": {}},
                                                ]
                                            }
                                        },
                                    },
                                ],
                                "droppedAttributesCount": 2,
                                "events": [
                                    {
                                        "timeUnixNano": str(start + 10),
                                        "name": "exception",
                                        "attributes": [
                                            {"key": "exception.type", "value": {"stringValue": "ValueError"}}
                                        ],
                                        "droppedAttributesCount": 1,
                                    }
                                ],
                                "droppedEventsCount": 3,
                                "links": [
                                    {
                                        "traceId": LINK_TRACE,
                                        "spanId": LINK_SPAN,
                                        "traceState": "linked=yes",
                                        "attributes": [{"key": "l", "value": {"intValue": 1}}],
                                        "flags": 256,
                                        "droppedAttributesCount": 4,
                                    }
                                ],
                                "droppedLinksCount": 5,
                                "status": {"code": 2, "message": "boom"},
                                "unknownSpanField": [1, 2, 3],
                            },
                            {
                                "traceId": TRACE_ID,
                                "spanId": "aaaaaaaaaaaaaaaa",
                                "name": "child",
                                "kind": 3,
                                "startTimeUnixNano": start + 5,
                                "endTimeUnixNano": str(start + 6),
                                "status": {},
                            },
                        ],
                    }
                ],
            }
        ]
    }


def logs_body(start: int = 1_700_000_000_000_000_000) -> dict[str, Any]:
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}}]},
                "scopeLogs": [
                    {
                        "scope": {"name": "json.logs"},
                        "logRecords": [
                            {
                                "timeUnixNano": str(start),
                                "observedTimeUnixNano": start + 1,
                                "severityNumber": 17,
                                "severityText": "ERROR",
                                "body": {
                                    "kvlistValue": {"values": [{"key": "k", "value": {"intValue": "7"}}]}
                                },
                                "attributes": [{"key": "bytes", "value": {"bytesValue": "3q2+7w=="}}],
                                "droppedAttributesCount": 1,
                                "flags": 1,
                                "traceId": TRACE_ID,
                                "spanId": SPAN_ID,
                                "eventName": "payment.failed",
                                "futureField": "ignored",
                            },
                            {"timeUnixNano": start + 2, "body": {"stringValue": "plain"}},
                        ],
                    }
                ],
            }
        ]
    }


def _snake(value: Any) -> Any:
    """The same JSON with every key spelled as its proto field name (snake_case)."""
    if isinstance(value, list):
        return [_snake(v) for v in value]
    if isinstance(value, dict):
        return {
            "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in k): _snake(v) for k, v in value.items()
        }
    return value


def _official_traces(body: dict[str, Any]) -> ExportTraceServiceRequest:
    decoded = OfficialTraceRequest.from_json(json.dumps(body))
    return official_to_proto(decoded, ExportTraceServiceRequest())  # type: ignore[return-value]


def _official_logs(body: dict[str, Any]) -> ExportLogsServiceRequest:
    decoded = OfficialLogsRequest.from_json(json.dumps(body))
    return official_to_proto(decoded, ExportLogsServiceRequest())  # type: ignore[return-value]


def _ours(signal: str, body: dict[str, Any] | bytes) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    message = ExportTraceServiceRequest() if signal == "traces" else ExportLogsServiceRequest()
    return parse_json(raw, signal, message)


# --- the decoder against the official codec -----------------------------------------------------


def test_traces_json_decodes_exactly_as_the_official_codec() -> None:
    body = traces_body()
    ours = _ours("traces", body)
    official = _official_traces(body)
    assert ours == official
    span = all_spans(ours)[0]
    assert span.trace_id == bytes.fromhex(TRACE_ID) and span.span_id == bytes.fromhex(SPAN_ID)
    assert span.links[0].trace_id == bytes.fromhex(LINK_TRACE)
    assert span.start_time_unix_nano == 1_700_000_000_000_000_000
    assert span.end_time_unix_nano == 1_700_000_000_001_500_000
    attrs = {kv.key: kv.value for kv in span.attributes}
    assert attrs["bytes"].bytes_value == b"\x00\x01\xfe\xff"  # bytes values stay base64 in OTLP/JSON
    assert attrs["i_str"].int_value == 2**63 - 1
    assert attrs["d_int"].WhichOneof("value") == "double_value"


def test_logs_json_decodes_exactly_as_the_official_codec() -> None:
    body = logs_body()
    ours = _ours("logs", body)
    assert ours == _official_logs(body)
    record = ours.resource_logs[0].scope_logs[0].log_records[0]
    assert record.trace_id == bytes.fromhex(TRACE_ID) and record.span_id == bytes.fromhex(SPAN_ID)
    assert record.event_name == "payment.failed"


def test_hex_ids_are_not_decoded_as_base64() -> None:
    """protobuf's json_format reads the hex id as base64 without complaint; we must not."""
    body = traces_body()
    naive = json_format.Parse(json.dumps(body), ExportTraceServiceRequest(), ignore_unknown_fields=True)
    naive_id = all_spans(naive)[0].trace_id
    assert naive_id != bytes.fromhex(TRACE_ID) and len(naive_id) == 24  # the trap is real
    assert all_spans(_ours("traces", body))[0].trace_id == bytes.fromhex(TRACE_ID)
    assert all_spans(_official_traces(body))[0].trace_id == bytes.fromhex(TRACE_ID)


def test_snake_case_keys_are_accepted_with_the_same_meaning() -> None:
    snake_traces = _snake(traces_body())
    assert "resource_spans" in snake_traces
    assert "start_time_unix_nano" in snake_traces["resource_spans"][0]["scope_spans"][0]["spans"][0]
    assert _ours("traces", snake_traces) == _official_traces(traces_body())
    assert _ours("logs", _snake(logs_body())) == _official_logs(logs_body())


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda b: b["resourceSpans"][0]["scopeSpans"][0]["spans"][1].update(traceId="zz" * 16),
         "resourceSpans[0].scopeSpans[0].spans[1].traceId"),
        (lambda b: b["resourceSpans"][0]["scopeSpans"][0]["spans"][0].update(parentSpanId="not hex!"),
         "resourceSpans[0].scopeSpans[0].spans[0].parentSpanId"),
        (lambda b: b["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["links"][0].update(spanId="g" * 16),
         "resourceSpans[0].scopeSpans[0].spans[0].links[0].spanId"),
        (lambda b: b["resourceSpans"][0]["scopeSpans"][0]["spans"][0].update(spanId=1234),
         "resourceSpans[0].scopeSpans[0].spans[0].spanId"),
    ],
)  # fmt: skip
def test_invalid_ids_name_the_field(mutate: Any, path: str) -> None:
    body = traces_body()
    mutate(body)
    with pytest.raises(JsonDecodeError, match=path.replace("[", r"\[").replace("]", r"\]")):
        _ours("traces", body)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "expected an object"),
        (b'{"resourceSpans": {"a": 1}}', "expected an array"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}',
            "startTimeUnixNano",
        ),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"kind": "sideways"}]}]}]}', "kind"),
    ],
)
def test_malformed_json_is_an_error_that_says_what_is_wrong(raw: bytes, fragment: str) -> None:
    with pytest.raises(JsonDecodeError, match=fragment):
        _ours("traces", raw)


# --- through the server ---------------------------------------------------------------------------------


def _deflate(data: bytes, raw: bool = False) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "compress", "content_type"),
    [
        (None, lambda d: d, JSON),
        (None, lambda d: d, "application/json; charset=utf-8"),
        ("gzip", gzip.compress, JSON),
        ("deflate", _deflate, "Application/JSON;charset=UTF-8"),
        ("deflate", lambda d: _deflate(d, raw=True), JSON),
    ],
)
def test_json_requests_are_stored_as_the_official_codec_reads_them(
    make_server: Any, encoding: str | None, compress: Any, content_type: str
) -> None:
    server = make_server()
    headers = {"Content-Encoding": encoding} if encoding else {}
    body = traces_body()
    sent = post(server, "traces", compress(json.dumps(body).encode()), content_type, headers)
    assert sent.status_code == 200, sent.text
    assert sent.headers["content-type"] == "application/json"
    assert sent.json() == {}  # full success: an empty ExportTraceServiceResponse
    snake = post(server, "traces", compress(json.dumps(_snake(body)).encode()), content_type, headers)
    assert snake.status_code == 200 and snake.json() == {}  # the same spans again: stored once
    logged = post(server, "logs", compress(json.dumps(logs_body()).encode()), content_type, headers)
    assert logged.status_code == 200 and logged.json() == {}
    assert server.terminate() == 0

    official = _official_traces(body)
    with open_db(server.db) as con:
        stored = stored_spans(con)
        records = stored_records(con)
    assert len(stored) == 2
    for rs in official.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                row = stored[(span.trace_id.hex(), span.span_id.hex())]
                assert row["span"] == span
                assert row["resource"] == rs.resource and row["resource_schema_url"] == rs.schema_url
                assert row["scope"] == ss.scope and row["scope_schema_url"] == ss.schema_url
    assert stored[(TRACE_ID, SPAN_ID)]["parent_span_id"] == PARENT_ID
    assert stored[(TRACE_ID, SPAN_ID)]["start_ns"] == 1_700_000_000_000_000_000
    official_logs = _official_logs(logs_body())
    expected = [r for r in official_logs.resource_logs[0].scope_logs[0].log_records]
    assert [r["record"] for r in records] == expected
    assert records[0]["event_name"] == "payment.failed" and records[0]["trace_id"] == TRACE_ID
    assert records[0]["body"] == '{"k":7}'


def test_invalid_hex_gets_400_with_the_field_path(make_server: Any) -> None:
    server = make_server()
    body = traces_body()
    body["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["spanId"] = "xyz"
    response = post(server, "traces", json.dumps(body).encode(), JSON)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    status = response.json()  # a google.rpc.Status in JSON
    assert status["code"] == 3
    assert "resourceSpans[0].scopeSpans[0].spans[1].spanId" in status["message"]
    assert "hex" in status["message"]
    assert server.terminate() == 0
    with open_db(server.db) as con:
        assert count(con, "spans") == 0  # an undecodable request stores nothing


def test_json_spans_with_wrong_id_lengths_are_rejected_individually(make_server: Any) -> None:
    server = make_server()
    body = traces_body()
    spans = body["resourceSpans"][0]["scopeSpans"][0]["spans"]
    bad = copy.deepcopy(spans[1])
    bad["traceId"] = "abcd"  # valid hex, wrong length
    bad_span = copy.deepcopy(spans[1])
    bad_span["spanId"] = "00" * 8  # all-zero span id
    spans.extend([bad, bad_span])
    response = post(server, "traces", json.dumps(body).encode(), JSON)
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert int(partial["rejectedSpans"]) == 2
    assert "trace_id must be 16 bytes" in partial["errorMessage"]
    assert "span_id must be 8 bytes" in partial["errorMessage"]
    assert server.terminate() == 0
    with open_db(server.db) as con:
        assert count(con, "spans") == 2  # the valid ones are stored

"""Malformed input against the OTLP receivers (HTTP protobuf, HTTP JSON, gRPC).

Mutations of valid requests (truncation, bit flips, inserted bytes, random bodies) and
hand-built hostile ones (deep AnyValue nesting, 10 MB values, invalid UTF-8, short or
empty ids, end before start, extreme timestamps, NaN, 100k spans, gzip bombs). Only
2xx (with partial success where right) or 4xx may come back — never a 5xx, a crash
or a hang — and what was stored before stays intact.

The default run tries ~1,000 inputs in seconds; FLOWSCOPE_SOAK=1 tries over 100,000
(a few minutes). Either way the count is printed at the end (`pytest -s`).
"""

from __future__ import annotations

import gzip
import math
import os
from collections.abc import Iterator

import duckdb
import grpc
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tests.reliability.support import soak
from tests.support.otlp import trace_request
from tests.support.server import RunningServer, start_server

TRIED = {"http": 0, "json": 0, "grpc": 0}
_GRPC_OK = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED}
# Examples per property: each mutated protobuf is sent twice (HTTP, gRPC), each JSON
# document twice (as is, and where OTLP expects a span).
PROTOBUF_EXAMPLES = 30_000 if soak() else 250
JSON_EXAMPLES = 20_000 if soak() else 150
SOAK_MIN_INPUTS = 100_000
# The suite's 120 s per test would cut a soak run short (~100 inputs/s on a loaded 2-core box).
long_in_soak = pytest.mark.timeout(3 * 3600 if soak() else 120)


class Fuzzer:
    """The server under fuzz, with one kept-alive HTTP client and one gRPC channel: a new
    connection per input (a new TLS-ready httpx client each time) cost ~50 ms an input."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.otlp_http, timeout=60)
        self.channel = grpc.insecure_channel(
            server.otlp_grpc, options=[("grpc.max_send_message_length", 64 << 20)]
        )
        self.export = self.channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")

    def close(self) -> None:
        self.http.close()
        self.channel.close()


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Fuzzer, list]]:
    server = start_server(tmp_path_factory.mktemp("fuzz") / "fuzz.duckdb", "--max-body-bytes", str(32 << 20))
    sentinel, ids = trace_request(50, service="sentinel")
    r = httpx.post(
        server.otlp_http + "/v1/traces",
        content=sentinel.SerializeToString(),
        headers={"content-type": "application/x-protobuf"},
    )
    assert r.status_code == 200
    fuzzer = Fuzzer(server)
    yield fuzzer, ids
    fuzzer.close()
    assert server.process.poll() is None, "server died during fuzzing:\n" + server.log
    assert server.terminate() == 0
    con = duckdb.connect(str(server.db))
    (count,) = con.execute("SELECT count(*) FROM spans WHERE service_name = 'sentinel'").fetchone()
    con.close()
    assert count == 50, "data stored before the fuzzing was damaged"
    total = sum(TRIED.values())
    print(f"\nfuzz inputs tried: {total:,} {TRIED}" + (" (soak)" if soak() else ""))
    if soak():
        assert total >= SOAK_MIN_INPUTS, f"soak tried only {total:,} inputs"


_BASE = trace_request(20)[0].SerializeToString()


def _post(
    fuzzer: Fuzzer,
    body: bytes,
    ctype: str = "application/x-protobuf",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return fuzzer.http.post("/v1/traces", content=body, headers={"content-type": ctype, **(headers or {})})


def _check_http(r: httpx.Response) -> None:
    assert 200 <= r.status_code < 500, f"{r.status_code}: {r.content[:300]!r}"
    if r.status_code >= 400:
        assert r.content, "an error without a body"


def _grpc_export(fuzzer: Fuzzer, body: bytes) -> grpc.StatusCode:
    try:
        fuzzer.export(body, timeout=60)
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def _flip_bits(bits: set[int]) -> bytes:
    data = bytearray(_BASE)
    for bit in bits:
        data[bit // 8] ^= 1 << (bit % 8)
    return bytes(data)


mutations = st.one_of(
    st.integers(0, len(_BASE)).map(lambda n: _BASE[:n]),  # truncated
    st.sets(st.integers(0, len(_BASE) * 8 - 1), min_size=1, max_size=8).map(_flip_bits),
    st.tuples(st.integers(0, len(_BASE)), st.binary(min_size=1, max_size=16)).map(  # inserted bytes
        lambda t: _BASE[: t[0]] + t[1] + _BASE[t[0] :]
    ),
    st.binary(max_size=512),  # random
)


@long_in_soak
@settings(max_examples=PROTOBUF_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=mutations)
def test_mutated_protobuf(fuzz_server: tuple[Fuzzer, list], body: bytes) -> None:
    fuzzer, _ = fuzz_server
    TRIED["http"] += 1
    _check_http(_post(fuzzer, body))
    TRIED["grpc"] += 1
    assert _grpc_export(fuzzer, body) in _GRPC_OK


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@long_in_soak
@settings(max_examples=JSON_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(doc=json_values)
def test_arbitrary_json(fuzz_server: tuple[Fuzzer, list], doc: object) -> None:
    import json

    fuzzer, _ = fuzz_server
    TRIED["json"] += 1
    _check_http(_post(fuzzer, json.dumps(doc).encode(), "application/json"))
    TRIED["json"] += 1
    # The same shape placed where OTLP expects spans.
    wrapped = {"resourceSpans": [{"scopeSpans": [{"spans": [doc]}]}]}
    _check_http(_post(fuzzer, json.dumps(wrapped).encode(), "application/json"))


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field, encoded by hand (the library refuses this depth)."""
    tag, length, out = (number << 3) | 2, len(payload), bytearray()
    for value in (tag, length):
        while True:
            byte, value = value & 0x7F, value >> 7
            out.append(byte | (0x80 if value else 0))
            if not value:
                break
    return bytes(out) + payload


def _deeply_nested_request(depth: int) -> bytes:
    value = _field(1, b"leaf")  # AnyValue.string_value
    for i in range(depth):
        if i % 2:
            value = _field(5, _field(1, value))  # AnyValue.array_value.values
        else:
            value = _field(6, _field(1, _field(1, b"k") + _field(2, value)))  # kvlist_value.values
    request, _ = trace_request(1)
    span = request.resource_spans[0].scope_spans[0].spans[0].SerializeToString()
    span += _field(9, _field(1, b"deep") + _field(2, value))  # Span.attributes
    return _field(1, _field(2, _field(2, span)))  # resource_spans.scope_spans.spans


def _hostile_requests() -> list[tuple[str, bytes]]:
    cases: list[tuple[str, bytes]] = []

    def one(mutate) -> bytes:  # type: ignore[no-untyped-def]
        request, _ = trace_request(3)
        mutate(request.resource_spans[0].scope_spans[0].spans[0], request)
        return request.SerializeToString()

    cases.append(("deep nesting 30", _deeply_nested_request(30)))
    cases.append(("deep nesting 5000", _deeply_nested_request(5000)))
    cases.append(
        (
            "10 MB attribute",
            one(lambda s, r: s.attributes.add(key="big", value=AnyValue(string_value="x" * (10 << 20)))),
        )
    )
    cases.append(("short trace id", one(lambda s, r: setattr(s, "trace_id", b"\x01\x02"))))
    cases.append(("empty span id", one(lambda s, r: setattr(s, "span_id", b""))))
    cases.append(("zero trace id", one(lambda s, r: setattr(s, "trace_id", b"\0" * 16))))
    cases.append(("end before start", one(lambda s, r: setattr(s, "end_time_unix_nano", 1))))
    cases.append(
        (
            "timestamps 0",
            one(lambda s, r: (setattr(s, "start_time_unix_nano", 0), setattr(s, "end_time_unix_nano", 0))),
        )
    )
    cases.append(
        (
            "timestamps max",
            one(
                lambda s, r: (
                    setattr(s, "start_time_unix_nano", 2**64 - 1),
                    setattr(s, "end_time_unix_nano", 2**64 - 1),
                )
            ),
        )
    )
    cases.append(
        ("NaN double", one(lambda s, r: s.attributes.add(key="nan", value=AnyValue(double_value=math.nan))))
    )
    cases.append(
        ("inf double", one(lambda s, r: s.attributes.add(key="inf", value=AnyValue(double_value=math.inf))))
    )
    # values that do not fit their typed columns (issue 15, finding 4): partial success, not 500
    cases.append(("kind 1000", one(lambda s, r: setattr(s, "kind", 1000))))
    cases.append(("status code -1", one(lambda s, r: setattr(s.status, "code", -1))))
    cases.append(
        (
            "retry_count 2^40",
            one(
                lambda s, r: s.attributes.extend(
                    [
                        KeyValue(key="workflow.step.id", value=AnyValue(string_value="s")),
                        KeyValue(key="workflow.step.retry_count", value=AnyValue(int_value=2**40)),
                    ]
                )
            ),
        )
    )
    # invalid UTF-8 inside a string field: patch the bytes of a known marker string
    marker = one(lambda s, r: setattr(s, "name", "MARKERMARKER"))
    cases.append(("invalid utf-8", marker.replace(b"MARKERMARKER", b"MARKER\xff\xfeKER")))
    # a huge declared length for a field
    cases.append(("huge declared length", b"\x0a\xff\xff\xff\xff\x0f" + _BASE[:20]))
    cases.append(("wrong wire type", b"\x0d\x00\x00\x00\x00" + _BASE))
    big, _ = trace_request(100_000)
    cases.append(("100k spans", big.SerializeToString()))
    return cases


def test_hostile_requests(fuzz_server: tuple[Fuzzer, list]) -> None:
    fuzzer, _ = fuzz_server
    for name, body in _hostile_requests():
        TRIED["http"] += 1
        r = _post(fuzzer, body)
        assert 200 <= r.status_code < 500, f"{name}: HTTP {r.status_code} {r.content[:200]!r}"
        if len(body) < (30 << 20):
            TRIED["grpc"] += 1
            assert _grpc_export(fuzzer, body) in _GRPC_OK, name
    # partial success: one bad span among good ones is rejected, the rest stored
    request, _ = trace_request(5)
    request.resource_spans[0].scope_spans[0].spans[2].span_id = b"\x01"
    r = _post(fuzzer, request.SerializeToString())
    assert r.status_code == 200
    decoded = ExportTraceServiceResponse.FromString(r.content)
    assert decoded.partial_success.rejected_spans == 1
    assert "span_id" in decoded.partial_success.error_message


def test_compression_bombs(fuzz_server: tuple[Fuzzer, list]) -> None:
    fuzzer, _ = fuzz_server
    bomb = gzip.compress(b"\0" * (64 << 20))  # 64 MiB of zeros in ~64 KiB, over the 32 MiB limit
    TRIED["http"] += 1
    r = _post(fuzzer, bomb, headers={"content-encoding": "gzip"})
    assert r.status_code == 413, r.content
    TRIED["http"] += 1
    r = _post(fuzzer, os.urandom(1000), headers={"content-encoding": "gzip"})
    assert r.status_code == 400
    TRIED["http"] += 1
    r = _post(fuzzer, gzip.compress(_BASE)[:-10], headers={"content-encoding": "gzip"})
    assert r.status_code == 400

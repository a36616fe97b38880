"""The Jaeger API caps the spans of a returned trace (issue 15, finding 20).

A 10k-span trace was a 22 MB answer taking 2 s. Now each trace, by id and in search
results, holds at most FLOWSCOPE_JAEGER_MAX_TRACE_SPANS spans (default 5,000): the root
and the earliest to start. A cut trace says so in its `warnings` (Jaeger's trace
shape) and on its root span's `warnings` (what Jaeger UI and Grafana display).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tests.grafana.jaeger_shape import check_envelope, check_trace
from tests.support.server import RunningServer, start_server

CAP = 50


def _send_trace(server: RunningServer, service: str, spans: int) -> tuple[str, list[str]]:
    """One trace: a root and `spans - 1` children starting 1 ms apart, sent in shuffled order.
    Returns the trace id and the span ids in start order."""
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.add(key="service.name", value=AnyValue(string_value=service))
    scope = rs.scope_spans.add()
    trace_id, root = os.urandom(16), os.urandom(8)
    t0 = time.time_ns() - 10**9
    ids = []
    for i in range(spans):
        span = scope.spans.add()
        span.trace_id, span.span_id = trace_id, root if i == 0 else os.urandom(8)
        if i:
            span.parent_span_id = root
        span.name = "root" if i == 0 else f"child {i}"
        span.start_time_unix_nano = t0 + i * 10**6
        span.end_time_unix_nano = t0 + (spans + 1) * 10**6 if i == 0 else t0 + i * 10**6 + 500_000
        ids.append(span.span_id.hex())
    scope.spans.reverse()  # arrival order must not matter: the root is sent last
    r = httpx.post(
        f"{server.otlp_http}/v1/traces", content=request.SerializeToString(),
        headers={"content-type": "application/x-protobuf"}, timeout=60,
    )  # fmt: skip
    assert r.status_code == 200, r.content
    return trace_id.hex(), ids


def _get(server: RunningServer, path: str, **params: Any) -> list[dict[str, Any]]:
    r = httpx.get(server.api + path, params=params or None, timeout=60)
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    check_envelope(body)
    for trace in body["data"]:
        check_trace(trace)
    return body["data"]  # type: ignore[no-any-return]


def _check_cut(trace: dict[str, Any], ids: list[str], cap: int) -> None:
    marker = f"trace truncated: showing {cap} of its {len(ids)} spans"
    assert len(trace["spans"]) == cap
    assert [s["spanID"] for s in trace["spans"]] == ids[:cap]  # the root and the earliest
    assert len(trace["warnings"]) == 1 and trace["warnings"][0].startswith(marker), trace["warnings"]
    root = trace["spans"][0]
    assert root["operationName"] == "root" and root["warnings"] == trace["warnings"]
    assert all(s["warnings"] is None for s in trace["spans"][1:])


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start_server(
        tmp_path_factory.mktemp("jaeger-cap") / "flowscope.duckdb", "--jaeger-max-trace-spans", str(CAP)
    )
    yield server
    assert server.terminate() == 0


def test_trace_over_the_cap_is_cut_with_a_warning(capped: RunningServer) -> None:
    trace_id, ids = _send_trace(capped, "cap-by-id", 3 * CAP)
    (trace,) = _get(capped, f"/api/traces/{trace_id}")
    _check_cut(trace, ids, CAP)


def test_trace_at_the_cap_is_whole(capped: RunningServer) -> None:
    trace_id, ids = _send_trace(capped, "cap-exact", CAP)
    (trace,) = _get(capped, f"/api/traces/{trace_id}")
    assert [s["spanID"] for s in trace["spans"]] == ids and trace["warnings"] is None
    assert all(s["warnings"] is None for s in trace["spans"])


def test_search_results_are_cut_too(capped: RunningServer) -> None:
    big, big_ids = _send_trace(capped, "cap-search", 2 * CAP + 7)
    small, small_ids = _send_trace(capped, "cap-search", 5)
    found = {t["traceID"]: t for t in _get(capped, "/api/traces", service="cap-search", limit=10)}
    assert set(found) == {big, small}
    _check_cut(found[big], big_ids, CAP)
    assert len(found[small]["spans"]) == 5 and found[small]["warnings"] is None
    # jaeger-query's ?traceID= form of the search endpoint
    listed = {t["traceID"]: t for t in _get(capped, "/api/traces", traceID=[big, small])}
    _check_cut(listed[big], big_ids, CAP)
    assert [s["spanID"] for s in listed[small]["spans"]] == small_ids


def test_default_cap_is_5000(tmp_path_factory: pytest.TempPathFactory) -> None:
    server = start_server(tmp_path_factory.mktemp("jaeger-default") / "flowscope.duckdb")
    try:
        trace_id, ids = _send_trace(server, "cap-default", 5_100)
        started = time.monotonic()
        r = httpx.get(f"{server.api}/api/traces/{trace_id}", timeout=60)
        elapsed = time.monotonic() - started
        (trace,) = r.json()["data"]
        _check_cut(trace, ids, 5_000)
        print(f"\n5,100-span trace through the default cap: {len(r.content):,} bytes in {elapsed:.2f} s")
    finally:
        assert server.terminate() == 0

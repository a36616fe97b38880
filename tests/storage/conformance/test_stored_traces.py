"""TraceReader's reads for the Jaeger query API v3 (`store.traces`, storage/traces.py): traces
as stored (the bytes each client sent, with its resources and scopes), and trace summaries."""

from __future__ import annotations

from typing import Any

from flowscope.storage.interfaces import Store
from flowscope.storage.traces import ServiceSummary, StoredTrace, TraceQuery, TraceSummary
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.storage.conformance import dataset as d
from tests.storage.conformance.otlp import SpanSpec, every_field, traces, write

EVER = (0, 2**63 - 1)
UNKNOWN = "0123456789abcdef" * 2
TID = "5b8efff798038103d269b633813fc60c"


def _sent_spans(request: ExportTraceServiceRequest) -> list[bytes]:
    return [
        span.SerializeToString()
        for rs in request.resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]


def _by_start(specs: list[SpanSpec]) -> list[SpanSpec]:
    return sorted(specs, key=lambda s: (s.start_ns, s.span_id))


def _query(**criteria: Any) -> TraceQuery:
    return TraceQuery(
        **{"service": "etl-runner", "start_ns": EVER[0], "end_ns": EVER[1], "limit": 20, **criteria}
    )


def test_a_trace_as_stored_is_every_span_as_sent_with_its_resource_and_scope(
    store: Store, workspace: str
) -> None:
    request = every_field(TID)
    unknown = Span.FromString(_sent_spans(request)[0])
    unknown.MergeFromString(b"\xf8\x06\x2a")  # field 111 = 42: a field this protobuf version lacks
    request.resource_spans[0].scope_spans[0].spans[0].CopyFrom(unknown)
    write(store, request, workspace)
    [trace] = store.traces.get_stored_traces(workspace, [TID], max_spans=100)
    assert trace.trace_id == TID and trace.total_spans == 4 and len(trace.spans) == 4
    sent = {
        span.SerializeToString()
        for rs in request.resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    }
    assert {s.span for s in trace.spans} == sent  # byte for byte, the unknown field kept
    for span in trace.spans:
        decoded = Span.FromString(span.span)
        resource = Resource.FromString(trace.resources[span.resource].message)
        scope = InstrumentationScope.FromString(trace.scopes[span.scope].message)
        service, scope_name = decoded.name.split(" ")
        rs = next(r for r in request.resource_spans if r.resource.attributes[0].value.string_value == service)
        ss = next(s for s in rs.scope_spans if s.scope.name == scope_name)
        assert (resource, trace.resources[span.resource].schema_url) == (rs.resource, rs.schema_url)
        assert (scope, trace.scopes[span.scope].schema_url) == (ss.scope, ss.schema_url)
    assert len(trace.resources) == 2 and len(trace.scopes) == 4


def test_stored_traces_are_the_traces_get_traces_reads_in_its_order_and_cut(loaded: Store) -> None:
    stored = loaded.traces.get_stored_traces(d.WS_A, [d.PLAIN_TRACE, UNKNOWN, d.E1], max_spans=100)
    assert [t.trace_id for t in stored] == [d.PLAIN_TRACE, d.E1]
    plain, e1 = stored
    decoded = loaded.traces.get_traces(d.WS_A, [d.PLAIN_TRACE, d.E1], max_spans=100)
    for raw, trace in zip(stored, decoded, strict=True):
        assert [Span.FromString(s.span).span_id.hex() for s in raw.spans] == [s.span_id for s in trace.spans]
        assert raw.total_spans == trace.total_spans
    services = [_service(plain, s.resource) for s in plain.spans]
    assert services == ["api-gateway", "api-gateway", "inventory"]
    assert [Span.FromString(s.span).SerializeToString() for s in e1.spans] == [
        Span.FromString(b).SerializeToString()
        for b in _sent_spans(traces(_by_start(d.spans_of(d.RUNS_A[0]))))
    ]
    [cut] = loaded.traces.get_stored_traces(d.WS_A, [d.E1], max_spans=3)
    assert [Span.FromString(s.span).name for s in cut.spans] == ["RUN etl", "Initialize", "Process"]
    assert cut.total_spans == 6
    assert loaded.traces.get_stored_traces(d.WS_B, [d.PLAIN_TRACE], max_spans=100) == []
    assert loaded.traces.get_stored_traces(d.WS_A, [], max_spans=100) == []


def _service(trace: StoredTrace, resource: int) -> str:
    attributes = Resource.FromString(trace.resources[resource].message).attributes
    return next(kv.value.string_value for kv in attributes if kv.key == "service.name")


def test_a_stored_search_finds_what_find_traces_finds(loaded: Store) -> None:
    for query in (_query(), _query(operation="Process"), _query(tags={"workflow.step.status": "failed"}),
                  _query(limit=2), _query(service="no-such-service")):  # fmt: skip
        found = loaded.traces.find_traces(d.WS_A, query, 4)
        stored = loaded.traces.find_stored_traces(d.WS_A, query, 4)
        assert [t.trace_id for t in stored] == [t.trace_id for t in found]
        assert [len(t.spans) for t in stored] == [len(t.spans) for t in found]
    assert [t.trace_id for t in loaded.traces.find_stored_traces(d.WS_B, _query(), 4)] == [d.E1, d.B_ONLY]


def test_summaries_count_every_span_of_each_trace_found(loaded: Store) -> None:
    summaries = loaded.traces.find_trace_summaries(d.WS_A, _query())
    assert [s.trace_id for s in summaries] == [
        t.trace_id for t in loaded.traces.find_traces(d.WS_A, _query(), 1)
    ]
    by_id = {s.trace_id: s for s in summaries}
    e1 = d.spans_of(d.RUNS_A[0])
    assert by_id[d.E1] == TraceSummary(
        d.E1,
        "etl-runner",
        "RUN etl",
        min(s.start_ns for s in e1),
        max(s.end_ns for s in e1),
        6,
        1,
        0,
        (ServiceSummary("etl-runner", 6, 1),),
    )  # fmt: skip  (the failed first attempt is the one error span)
    assert (by_id[d.E2].span_count, by_id[d.E2].error_span_count) == (4, 2)  # Process and the root
    midrun = by_id[d.MIDRUN]  # a step span whose root span never came: no root, one orphan
    assert (midrun.root_service, midrun.root_operation, midrun.orphan_span_count) == ("", "", 1)


def test_summaries_of_a_trace_of_several_services(loaded: Store) -> None:
    [plain] = loaded.traces.find_trace_summaries(d.WS_A, _query(service="inventory"))
    spans = [*d.PLAIN_SPANS, d.INVENTORY_SPAN]
    assert plain == TraceSummary(
        d.PLAIN_TRACE, "api-gateway", "GET /orders", d.PLAIN_START, max(s.end_ns for s in spans), 3, 0, 0,
        (ServiceSummary("api-gateway", 2, 0), ServiceSummary("inventory", 1, 0)),
    )  # fmt: skip


def test_summaries_follow_the_search_and_the_workspace(loaded: Store) -> None:
    summaries = loaded.traces.find_trace_summaries
    assert [s.trace_id for s in summaries(d.WS_A, _query(operation="Process"))] == [d.E2, d.E1]
    assert [s.trace_id for s in summaries(d.WS_A, _query(tags={"workflow.step.status": "failed"}))] == [
        d.E2, d.E1,
    ]  # fmt: skip
    assert summaries(d.WS_A, _query(limit=1))[0].trace_id == d.MIDRUN
    b = summaries(d.WS_B, _query())
    assert [s.trace_id for s in b] == [d.E1, d.B_ONLY] and b[0].span_count == 3  # B's own E1
    assert summaries(d.WS_A, _query(service="no-such-service")) == []

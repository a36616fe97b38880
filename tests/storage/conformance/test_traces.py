"""TraceReader (`store.traces`, storage/traces.py) on the fixed dataset: services, operations,
traces by id (ordering, cuts), search (criteria, tags, bounds), dependencies, tenancy."""

from __future__ import annotations

from typing import Any

from flowscope.storage.interfaces import Store
from flowscope.storage.traces import Dependency, Operation, Scope, Trace, TraceQuery, TraceSpan

from tests.storage.conformance import dataset as d
from tests.storage.conformance.otlp import SpanSpec

EVER = (0, 2**63 - 1)
UNKNOWN = "0123456789abcdef" * 2
MS = 1_000_000


def _decoded(value: Any) -> Any:
    """An attribute value as a reader returns it (arrays as lists)."""
    return [_decoded(v) for v in value] if isinstance(value, tuple) else value


def _span(spec: SpanSpec, resource: int = 0) -> TraceSpan:
    """What the reader must return for a span the dataset wrote (no events, links or flags)."""
    return TraceSpan(
        spec.trace_id, spec.span_id, spec.parent_span_id, spec.name, spec.kind, spec.start_ns, spec.end_ns,
        0, "", spec.status_code, spec.status_message,
        tuple((k, _decoded(v)) for k, v in spec.attributes.items()), (), (), 0, 0, 0,
        Scope("flowscope.engine"), resource,
    )  # fmt: skip


def _ids(traces: list[Trace]) -> list[str]:
    return [t.trace_id for t in traces]


def _find(store: Store, workspace_id: str = d.WS_A, max_spans: int = 100, **criteria: Any) -> list[str]:
    query = TraceQuery(
        **{"service": "etl-runner", "start_ns": EVER[0], "end_ns": EVER[1], "limit": 20, **criteria}
    )
    return _ids(store.traces.find_traces(workspace_id, query, max_spans))


def test_services_and_operations(loaded: Store) -> None:
    traces = loaded.traces
    assert traces.services(d.WS_A) == ["api-gateway", "etl-runner", "inventory"]
    assert traces.services(d.WS_B) == ["etl-runner"]
    assert traces.services("ws-conformance-nobody") == []
    assert traces.operations(d.WS_A, "api-gateway") == [
        Operation("GET /orders", 2),
        Operation("SELECT orders", 1),
    ]
    names = {(s.name, s.kind) for run in d.RUNS_A for s in d.spans_of(run)}
    assert traces.operations(d.WS_A, "etl-runner") == [Operation(n, k) for n, k in sorted(names)]
    assert traces.operations(d.WS_B, "api-gateway") == []
    assert traces.operations(d.WS_A, "no-such-service") == []


def test_a_trace_by_id_holds_every_span_decoded_in_start_order(loaded: Store) -> None:
    [trace] = loaded.traces.get_traces(d.WS_A, [d.E1], max_spans=100)
    specs = sorted(d.spans_of(d.RUNS_A[0]), key=lambda s: (s.start_ns, s.span_id))
    assert trace == Trace(d.E1, tuple(_span(s) for s in specs), ((("service.name", "etl-runner"),),), 6)
    assert [s.name for s in trace.spans] == [
        "RUN etl",
        "Initialize",
        "Process",
        "attempt 1",
        "attempt 2",
        "Finalize",
    ]


def test_a_cut_trace_keeps_its_roots_then_the_earliest_spans(loaded: Store) -> None:
    [cut] = loaded.traces.get_traces(d.WS_A, [d.E1], max_spans=3)
    assert [s.name for s in cut.spans] == ["RUN etl", "Initialize", "Process"]
    assert cut.total_spans == 6
    [plain] = loaded.traces.get_traces(d.WS_A, [d.PLAIN_TRACE], max_spans=1)
    assert ([s.name for s in plain.spans], plain.total_spans) == (["GET /orders"], 3)


def test_traces_by_id_in_the_order_asked_leaving_out_unknown_ones(loaded: Store) -> None:
    traces = loaded.traces.get_traces(d.WS_A, [d.PLAIN_TRACE, UNKNOWN, d.E2], max_spans=100)
    assert _ids(traces) == [d.PLAIN_TRACE, d.E2]
    plain = traces[0]
    services = [dict(plain.resources[s.resource])["service.name"] for s in plain.spans]
    assert services == ["api-gateway", "api-gateway", "inventory"]
    assert loaded.traces.get_traces(d.WS_A, [UNKNOWN], max_spans=100) == []
    assert loaded.traces.get_traces(d.WS_B, [d.PLAIN_TRACE], max_spans=100) == []


def test_the_same_trace_id_in_another_workspace_is_another_trace(loaded: Store) -> None:
    [trace] = loaded.traces.get_traces(d.WS_B, [d.E1], max_spans=100)
    specs = sorted(d.spans_of(d.RUNS_B[0]), key=lambda s: (s.start_ns, s.span_id))
    assert trace.spans == tuple(_span(s) for s in specs) and trace.total_spans == 3


def test_search_newest_first_by_the_newest_matching_span(loaded: Store) -> None:
    found = _find(loaded)
    assert found[:2] == [d.MIDRUN, d.E2] and set(found[2:4]) == {d.R1, d.R2} and found[4:] == [d.E1]
    assert _find(loaded, limit=2) == [d.MIDRUN, d.E2]
    assert _find(loaded, operation="Process") == [d.E2, d.E1]
    assert _find(loaded, operation="No such span") == []
    assert _find(loaded, workspace_id=d.WS_B) == [d.E1, d.B_ONLY]
    assert _find(loaded, service="no-such-service") == []


def test_search_returns_traces_as_read_by_id(loaded: Store) -> None:
    query = TraceQuery("etl-runner", *EVER, limit=1, operation="Process")
    assert loaded.traces.find_traces(d.WS_A, query, 3) == loaded.traces.get_traces(d.WS_A, [d.E2], 3)


def test_search_by_tags_one_span_meeting_every_criterion(loaded: Store) -> None:
    assert _find(loaded, tags={"workflow.step.status": "failed"}) == [d.E2, d.E1]  # E1: its first attempt
    assert _find(loaded, operation="Process", tags={"workflow.step.status": "failed"}) == [d.E2]
    assert _find(loaded, tags={"workflow.step.order": "2", "workflow.step.id": "process"}) == [d.E2, d.E1]
    assert _find(loaded, tags={"workflow.step.order": "2", "workflow.step.id": "initialize"}) == []
    gateway = {"service": "api-gateway"}
    assert _find(loaded, **gateway, tags={"http.response.status_code": "200"}) == [d.PLAIN_TRACE]  # as text
    assert _find(loaded, **gateway, tags={"service.name": "api-gateway"}) == [d.PLAIN_TRACE]  # resource
    assert _find(loaded, **gateway, tags={"span.kind": "server"}) == [d.PLAIN_TRACE]  # synthesized
    assert _find(loaded, **gateway, tags={"db.system": "mysql"}) == []


def test_search_bounds_include_both_ends(loaded: Store) -> None:
    gateway = {"service": "api-gateway", "operation": "GET /orders"}
    start = d.PLAIN_START
    assert _find(loaded, **gateway, start_ns=start, end_ns=start) == [d.PLAIN_TRACE]
    assert _find(loaded, **gateway, start_ns=start + 1, end_ns=EVER[1]) == []
    assert _find(loaded, **gateway, start_ns=EVER[0], end_ns=start - 1) == []
    assert _find(loaded, **gateway, min_duration_ns=80 * MS, max_duration_ns=80 * MS) == [d.PLAIN_TRACE]
    assert _find(loaded, **gateway, min_duration_ns=80 * MS + 1) == []
    assert _find(loaded, **gateway, max_duration_ns=80 * MS - 1) == []


def test_dependencies(loaded: Store) -> None:
    deps = loaded.traces.dependencies
    assert deps(d.WS_A, *EVER) == [Dependency("api-gateway", "inventory", 1)]
    call = d.INVENTORY_SPAN.start_ns
    assert deps(d.WS_A, call, call) == [Dependency("api-gateway", "inventory", 1)]  # both ends included
    assert deps(d.WS_A, EVER[0], call - 1) == []
    assert deps(d.WS_B, *EVER) == []

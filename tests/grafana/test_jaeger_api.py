"""The Jaeger query API as Grafana's Jaeger data source (and the Jaeger UI) calls it."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.grafana.conftest import Stack
from tests.grafana.jaeger_shape import by_name, check_envelope, check_trace, tags
from tests.grafana.traffic import BASIC, ENGINE_SERVICE, FLAKY


def get(stack: Stack, path: str, status: int = 200, **params: Any) -> dict[str, Any]:
    response = stack.server.get(path, params=params or None)
    assert response.status_code == status, f"{path} {params}: {response.status_code} {response.text[:500]}"
    body = response.json()
    check_envelope(body)
    return body  # type: ignore[no-any-return]


def search(stack: Stack, **params: Any) -> set[str]:
    body = get(stack, "/api/traces", **params)
    for trace in body["data"]:
        check_trace(trace)
    return {t["traceID"] for t in body["data"]}


def executions(stack: Stack, workflow_id: str) -> set[str]:
    return {e for r in stack.rounds for e in r.executions[workflow_id]}


def test_services_and_operations(stack: Stack) -> None:
    body = get(stack, "/api/services")
    assert {ENGINE_SERVICE, "shop-frontend", "shop-payments"} <= set(body["data"])
    assert body["total"] == len(body["data"]) and body["errors"] is None
    ops = get(stack, "/api/services/shop-frontend/operations")
    assert ops["data"] == ["GET /checkout", "POST /pay", "render cart"]
    kinds = get(stack, "/api/operations", service="shop-frontend", spanKind="client")
    assert kinds["data"] == [{"name": "POST /pay", "spanKind": "client"}]
    every = get(stack, "/api/operations", service="shop-frontend")["data"]
    assert {(o["name"], o["spanKind"]) for o in every} == {
        ("GET /checkout", "server"),
        ("POST /pay", "client"),
        ("render cart", "internal"),
    }
    assert get(stack, "/api/operations", 400)["errors"][0]["code"] == 400


def test_engine_trace_maps_otel_like_jaeger(stack: Stack) -> None:
    execution = stack.failed_execution
    body = get(stack, f"/api/traces/{execution}")
    assert len(body["data"]) == 1
    trace = body["data"][0]
    check_trace(trace)
    spans = by_name(trace)
    root = spans[f"RUN {FLAKY.name}"]
    assert root["references"] == []
    root_tags = tags(root)
    assert root_tags["span.kind"] == "server"
    assert root_tags["otel.status_code"] == "ERROR" and root_tags["error"] is True
    assert root_tags["otel.status_description"] == "Step 'Load Data' failed"
    assert root_tags["workflow.id"] == FLAKY.workflow_id and root_tags["workflow.status"] == "failed"
    assert root_tags["workflow.execution.number"] == 3  # typed: int64, not text
    assert root_tags["otel.scope.name"] == "flowscope.engine" and root_tags["otel.scope.version"] == "0.1.0"
    transform = spans["Transform Data"]
    assert transform["references"] == [
        {"refType": "CHILD_OF", "traceID": execution, "spanID": root["spanID"]}
    ]
    assert transform["duration"] == 640_000  # 2 x 300 ms attempts + 2 x 20 ms backoff, in µs
    assert tags(transform)["span.kind"] == "internal"
    assert tags(transform)["workflow.step.retry_count"] == 1
    attempts = [
        s for s in trace["spans"] if s["references"] and s["references"][0]["spanID"] == transform["spanID"]
    ]
    assert sorted(s["operationName"] for s in attempts) == ["attempt 1", "attempt 2"]
    failed_attempt = next(s for s in attempts if s["operationName"] == "attempt 1")
    (log,) = failed_attempt["logs"]
    fields = {f["key"]: f["value"] for f in log["fields"]}
    assert fields["event"] == "exception" and fields["exception.type"] == "TimeoutError"
    assert (
        failed_attempt["startTime"]
        <= log["timestamp"]
        <= failed_attempt["startTime"] + failed_attempt["duration"]
    )
    assert all(s["logs"] == [] for s in trace["spans"] if s["operationName"] == "attempt 2")
    (process,) = trace["processes"].values()
    assert process["serviceName"] == ENGINE_SERVICE
    assert {t["key"]: t["value"] for t in process["tags"]}["service.version"] == "1.0.0"
    assert "service.name" not in {t["key"] for t in process["tags"]}


def test_plain_sdk_trace(stack: Stack) -> None:
    trace = get(stack, f"/api/traces/{stack.plain_trace_id}")["data"][0]
    check_trace(trace)
    assert {p["serviceName"] for p in trace["processes"].values()} == {"shop-frontend", "shop-payments"}
    # The program ran twice with the same (propagated) trace id: each span id once.
    spans = by_name(trace)
    root = spans["GET /checkout"]
    assert root["references"][0] == {
        "refType": "CHILD_OF",
        "traceID": stack.plain_trace_id,
        "spanID": "b7ad6b7169203331",  # the remote upstream parent
    }
    assert {"refType": "FOLLOWS_FROM", "traceID": f"{0x1234:032x}", "spanID": f"{0x5678:016x}"} in root[
        "references"
    ]
    root_tags = {t["key"]: (t["type"], t["value"]) for t in root["tags"]}
    assert root_tags["http.response.status_code"] == ("int64", 500)
    assert root_tags["cart.total"] == ("float64", 42.5)
    assert root_tags["user.vip"] == ("bool", True)
    assert root_tags["cart.skus"] == ("string", '["a-1","b-2"]')
    assert root_tags["w3c.tracestate"] == ("string", "vendor=abc")
    assert root_tags["otel.scope.name"] == ("string", "shop.web")
    assert root_tags["otel.status_description"] == ("string", "payment failed")
    render = spans["render cart"]
    (log,) = render["logs"]
    assert {f["key"]: f["value"] for f in log["fields"]} == {"event": "cache miss", "cache.key": "cart:42"}
    assert log["timestamp"] - render["startTime"] == 1000  # 1 ms after the span started, in µs
    server = next(
        s for s in trace["spans"] if trace["processes"][s["processID"]]["serviceName"] == "shop-payments"
    )
    client = next(s for s in trace["spans"] if s["operationName"] == "POST /pay" and s is not server)
    assert server["references"][0]["spanID"] == client["spanID"]
    assert tags(server)["error"] is True and tags(client)["span.kind"] == "client"
    assert server["duration"] == 243_000
    exception = {f["key"]: f["value"] for f in server["logs"][0]["fields"]}
    assert exception["exception.type"] == "ValueError" and exception["exception.message"] == "card declined"


def test_unknown_trace_is_404_with_errors(stack: Stack) -> None:
    body = get(stack, "/api/traces/00000000000000000000000000000bad", 404)
    assert body["data"] is None and body["errors"][0]["code"] == 404
    assert get(stack, "/api/traces/not-hex", 400)["errors"][0]["msg"]
    short = stack.plain_trace_id.lstrip("0")  # Jaeger accepts ids without leading zeros
    assert get(stack, f"/api/traces/{short.upper()}")["data"][0]["traceID"] == stack.plain_trace_id


def test_search_by_service_operation_and_limit(stack: Stack) -> None:
    everything = search(stack, service=ENGINE_SERVICE)
    assert executions(stack, BASIC.workflow_id) | executions(stack, FLAKY.workflow_id) <= everything
    body = get(stack, "/api/traces", service=ENGINE_SERVICE, limit=2)
    assert len(body["data"]) == 2
    starts = [min(s["startTime"] for s in t["spans"]) for t in body["data"]]
    assert starts == sorted(starts, reverse=True), "newest first"
    assert search(stack, service=ENGINE_SERVICE, operation=f"RUN {FLAKY.name}") == executions(
        stack, FLAKY.workflow_id
    )
    assert search(stack, service="shop-payments") == {stack.plain_trace_id}
    assert search(stack, service="no-such-service") == set()


def test_search_by_tags(stack: Stack) -> None:
    failed = {e for r in stack.rounds for e in r.failed}
    as_json = json.dumps({"workflow.status": "failed"})
    assert search(stack, service=ENGINE_SERVICE, tags=as_json) == failed
    assert search(stack, service=ENGINE_SERVICE, tags="workflow.status=failed") == failed  # logfmt
    assert search(stack, service=ENGINE_SERVICE, tag="workflow.status:failed") == failed
    # Synthesized tags and typed values match as text, as in Jaeger.
    assert search(stack, service=ENGINE_SERVICE, tags='{"error":"true"}') == executions(
        stack, FLAKY.workflow_id
    )
    assert search(
        stack, service=ENGINE_SERVICE, tags='{"workflow.execution.number":"3", "span.kind":"server"}'
    ) == (
        {r.executions[BASIC.workflow_id][2] for r in stack.rounds}
        | {r.executions[FLAKY.workflow_id][2] for r in stack.rounds}
    )
    # Process (resource) tags and log (event) fields match too.
    assert search(stack, service="shop-frontend", tags='{"deployment.environment":"test"}') == {
        stack.plain_trace_id
    }
    assert search(stack, service="shop-frontend", tags='{"cache.key":"cart:42"}') == {stack.plain_trace_id}
    assert search(stack, service="shop-frontend", tags="otel.scope.name=shop.web") == {stack.plain_trace_id}
    assert search(stack, service=ENGINE_SERVICE, tags='{"workflow.status":"failed","error":"false"}') == set()
    assert search(stack, service=ENGINE_SERVICE, tags=as_json, limit=1) <= failed
    assert len(search(stack, service=ENGINE_SERVICE, tags=as_json, limit=1)) == 1


def test_search_by_duration_and_time(stack: Stack) -> None:
    # Flaky executions take 1065 ms, basic ones 745 ms (see traffic.py).
    assert search(stack, service=ENGINE_SERVICE, minDuration="1s") == executions(stack, FLAKY.workflow_id)
    assert search(stack, service=ENGINE_SERVICE, minDuration="1.06s", maxDuration="1.07s") == executions(
        stack, FLAKY.workflow_id
    )
    # Only Finalize's first attempt (80 ms) is under 90 ms.
    assert search(stack, service=ENGINE_SERVICE, operation="attempt 1", maxDuration="90ms") == executions(
        stack, BASIC.workflow_id
    )
    assert search(stack, service=ENGINE_SERVICE, minDuration="1h") == set()
    now_us = time.time_ns() // 1000
    grafana_style = {"start": now_us - 3600 * 10**6, "end": now_us, "lookback": "custom", "limit": 20}
    assert len(search(stack, service=ENGINE_SERVICE, **grafana_style)) == 12
    old = {"start": now_us - 7200 * 10**6, "end": now_us - 3600 * 10**6}
    assert search(stack, service=ENGINE_SERVICE, **old) == set()
    assert search(stack, service=ENGINE_SERVICE, lookback="1h") == search(stack, service=ENGINE_SERVICE)
    assert (
        get(stack, "/api/traces", 400, service=ENGINE_SERVICE, minDuration="fast")["errors"][0]["code"] == 400
    )
    assert get(stack, "/api/traces", 400, service=ENGINE_SERVICE, minDuration="2s", maxDuration="1s")[
        "errors"
    ]
    assert get(stack, "/api/traces", 400)["errors"][0]["msg"] == "parameter 'service' is required"


def test_traces_by_id_list(stack: Stack) -> None:
    ids = [stack.plain_trace_id, stack.failed_execution]
    response = stack.server.get("/api/traces", params=[("traceID", i) for i in ids])
    assert [t["traceID"] for t in response.json()["data"]] == ids


def test_dependencies(stack: Stack) -> None:
    now_ms = time.time_ns() // 10**6
    body = get(stack, "/api/dependencies", endTs=now_ms, lookback=3600 * 1000)
    assert {"parent": "shop-frontend", "child": "shop-payments", "callCount": 2} in body["data"]
    assert all(d["parent"] != d["child"] for d in body["data"])
    assert get(stack, "/api/dependencies", endTs=now_ms - 3600 * 1000, lookback=60_000)["data"] == []
    assert get(stack, "/api/dependencies")["data"] == body["data"]  # default: the last 24 h


def test_workspace_header(stack: Stack) -> None:
    ok = stack.server.get("/api/services", headers={"X-Workspace-Slug": "default"})
    assert ok.status_code == 200 and ENGINE_SERVICE in ok.json()["data"]
    missing = stack.server.get("/api/services", headers={"X-Workspace-Slug": "no-such-workspace"})
    assert missing.status_code == 404
    check_envelope(missing.json())
    assert "no-such-workspace" in missing.json()["errors"][0]["msg"]


def test_engine_example_traces(stack: Stack) -> None:
    """Executions of the examples by the real engine, as the Jaeger data source gets them."""
    services = set()
    for execution_id in stack.example_runs:
        trace = get(stack, f"/api/traces/{execution_id}")["data"][0]
        check_trace(trace)
        roots = [s for s in trace["spans"] if not s["references"]]
        assert len(roots) == 1, [s["operationName"] for s in roots]
        root = roots[0]
        assert root["operationName"].startswith("RUN ") and tags(root)["span.kind"] == "server"
        assert tags(root)["workflow.id"] in stack.examples
        steps = [
            s for s in trace["spans"] if s["references"] and s["references"][0]["spanID"] == root["spanID"]
        ]
        assert steps and all("workflow.step.id" in tags(s) for s in steps)
        for step in steps:
            assert root["startTime"] <= step["startTime"]
            assert step["startTime"] + step["duration"] <= root["startTime"] + root["duration"]
        services |= {p["serviceName"] for p in trace["processes"].values()}
    (service,) = services
    found = search(stack, service=service, limit=1000)
    assert set(stack.example_runs) <= found
    ops = get(stack, f"/api/services/{service}/operations")["data"]
    assert {f"RUN {name}" for name in stack.examples.values()} <= set(ops)


def test_workspaces_are_isolated(stack: Stack) -> None:
    """A span with the same trace id in another workspace: each workspace sees only its own."""
    created = stack.server.post("/api/workspaces", json={"slug": "jaeger-isolation"})
    assert created.status_code == 201, created.text
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    attr = rs.resource.attributes.add()
    attr.key, attr.value.string_value = "service.name", "other-team"
    span = rs.scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = bytes.fromhex(stack.plain_trace_id), b"\x01" * 8, "theirs"
    span.start_time_unix_nano = time.time_ns() - 10**9
    span.end_time_unix_nano = time.time_ns()
    sent = httpx.post(
        f"{stack.server.otlp_http}/v1/traces",
        content=request.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf", "X-Workspace-Slug": "jaeger-isolation"},
        timeout=30,
    )
    assert sent.status_code == 200, sent.text
    theirs = {"X-Workspace-Slug": "jaeger-isolation"}
    assert stack.server.get("/api/services", headers=theirs).json()["data"] == ["other-team"]
    assert "other-team" not in get(stack, "/api/services")["data"]
    (their_trace,) = stack.server.get(f"/api/traces/{stack.plain_trace_id}", headers=theirs).json()["data"]
    assert [s["operationName"] for s in their_trace["spans"]] == ["theirs"]
    ours = get(stack, f"/api/traces/{stack.plain_trace_id}")["data"][0]
    assert "theirs" not in {s["operationName"] for s in ours["spans"]}
    workspace_id = created.json()["id"]
    by_id = stack.server.get(
        "/api/traces", params={"service": "other-team"}, headers={"X-Workspace-Id": workspace_id}
    )
    assert [t["traceID"] for t in by_id.json()["data"]] == [stack.plain_trace_id]
    assert stack.server.get("/api/dependencies", headers=theirs).json()["data"] == []
    assert stack.server.get("/api/grafana/executions", params={"workspace_id": workspace_id}).json() == []

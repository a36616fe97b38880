"""Jaeger query API v3 over HTTP: `/api/v3/services`, `/api/v3/operations`,
`/api/v3/traces/{trace_id}`, `/api/v3/traces` and `/api/v3/trace-summaries`, as Jaeger v2's
gateway serves them (jaegertracing/jaeger cmd/jaeger/internal/extension/jaegerquery/internal/
apiv3/http_gateway.go; the messages of jaegertracing/jaeger-idl proto/api_v3/query_service.proto).

The current Jaeger UI (packages/jaeger-ui/src/api/v3/client.ts) lists services and operations
and searches with trace-summaries; Grafana's Jaeger data source (grafana-jaeger-datasource
pkg/jaeger/grpc_client.go) reads services, operations and a trace by id. The gateway has no
HTTP route for `GetDependencies` (gRPC only), so neither has Flowscope: `/api/dependencies`
serves the call graph.

Errors are the gateway's `GRPCGatewayError`, written with Go's `http.Error`: status, a
text/plain body `{"error":{"httpCode":...,"message":...}}` and a newline; a search or trace
that finds nothing is a 404 "No traces found", a summary search that finds nothing an empty
list. Workspaces come from the same headers (and token) as the rest of the Jaeger API.
Traces are as stored, not adjusted (no clock-skew or other corrections), with or without
`rawTraces`: every field a client sent comes back.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from flowscope.api.deps import Context, ViewerContext
from flowscope.api.jaeger.params import ParamError
from flowscope.api.jaeger_v3.model import operations_json, summaries_json, traces_data
from flowscope.api.jaeger_v3.params import Params, first, parse_bool, parse_search, parse_time, parse_trace_id
from flowscope.api.route_errors import errors_shaped_by
from flowscope.storage.traces import StoredTrace

# Go's encoding/json escapes these inside strings (HTML safety); the body is the same JSON.
_GO_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)
NO_TRACES = "No traces found"


def error(status: int, message: str) -> Response:
    """The gateway's error answer (tryHandleError: `GRPCGatewayError` through `http.Error`)."""
    body = json.dumps(
        {"error": {"httpCode": status, "message": message}}, ensure_ascii=False, separators=(",", ":")
    )
    return Response(
        body.translate(_GO_ESCAPES) + "\n",
        status_code=status,
        media_type="text/plain; charset=utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


V3Route = errors_shaped_by(error)
router = APIRouter(prefix="/api/v3", tags=["jaeger-v3"], route_class=V3Route)


def _params(request: Request) -> Params:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    return params


def _max_spans(app: Any) -> int:
    return int(app.settings.jaeger_max_trace_spans)  # the v1 API's cap (FLOWSCOPE_JAEGER_MAX_TRACE_SPANS)


def _traces(traces: list[StoredTrace], raw: bool) -> Response:
    """`GRPCGatewayWrapper` of the traces, or the gateway's 404 when there are none."""
    if not traces:
        return error(404, NO_TRACES)
    return _json({"result": traces_data(traces, raw)})


@router.get("/services")
def get_services(ctx: ViewerContext, app: Context) -> Response:
    """`GetServicesResponse`: the service names with spans in this workspace (`[]` for none)."""
    return _json({"services": app.store.traces.services(ctx.workspace_id)})


@router.get("/operations")
def get_operations(request: Request, ctx: ViewerContext, app: Context) -> Response:
    """`GetOperationsResponse` of `service`, of one `spanKind` (alias `span_kind`) if given."""
    params = _params(request)
    service, _ = first(params, "service")
    kind, _ = first(params, "spanKind", "span_kind")
    return _json(operations_json(app.store.traces.operations(ctx.workspace_id, service), kind))


@router.get("/traces/{trace_id:path}")  # a base64 id may hold a '/' (sent as %2F)
def get_trace(trace_id: str, request: Request, ctx: ViewerContext, app: Context) -> Response:
    """One trace. `startTime`/`endTime` (aliases `start_time`/`end_time`) are checked and, as
    hints to narrow the lookup, moot: the store finds a trace by its id alone."""
    params = _params(request)
    try:
        tid = parse_trace_id(trace_id)
        for canonical, deprecated in (("startTime", "start_time"), ("endTime", "end_time")):
            value, name = first(params, canonical, deprecated)
            if value:
                parse_time(value, name)
        raw_text, raw_name = first(params, "rawTraces", "raw_traces")
        raw = parse_bool(raw_text, raw_name) if raw_text else False
    except ParamError as exc:
        return error(400, str(exc))
    return _traces(app.store.traces.get_stored_traces(ctx.workspace_id, [tid], _max_spans(app)), raw)


@router.get("/traces")
def find_traces(request: Request, ctx: ViewerContext, app: Context) -> Response:
    """The traces with a span meeting every `query.*` criterion, newest first."""
    try:
        search = parse_search(_params(request))
    except ParamError as exc:
        return error(400, str(exc))
    found = app.store.traces.find_stored_traces(ctx.workspace_id, search.query, _max_spans(app))
    return _traces(found, search.raw_traces)


@router.get("/trace-summaries")
def find_trace_summaries(request: Request, ctx: ViewerContext, app: Context) -> Response:
    """`FindTraceSummariesResponse` of the traces `/api/v3/traces` would find (what the Jaeger
    UI lists as search results); `query.rawTraces` has no effect here, as in the gateway."""
    try:
        search = parse_search(_params(request))
    except ParamError as exc:
        return error(400, str(exc))
    return _json(summaries_json(app.store.traces.find_trace_summaries(ctx.workspace_id, search.query)))

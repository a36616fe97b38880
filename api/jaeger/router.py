"""Jaeger query API routes: `/api/services`, `/api/operations`, `/api/traces`, `/api/dependencies`.

Responses use jaeger-query's envelope `{data, total, limit, offset, errors}`; errors
(bad parameters, unknown trace, workspace access) keep that envelope too, because
Grafana and the Jaeger UI read `errors[].msg`. Handlers are sync: store reads block, so
they run in the thread pool. The reads are the store's (`store.traces`, a `TraceReader`);
this module parses parameters and shapes Jaeger's JSON.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from flowscope.api.deps import Context, ViewerContext
from flowscope.api.jaeger.model import operation_json, trace_json
from flowscope.api.jaeger.params import (
    ParamError,
    normalize_trace_id,
    parse_dependency_window,
    parse_trace_query,
)
from flowscope.api.route_errors import errors_shaped_by


def envelope(data: Any, status: int = 200, errors: list[dict[str, Any]] | None = None) -> Response:
    total = len(data) if isinstance(data, list) else 0
    body = {"data": data, "total": total, "limit": 0, "offset": 0, "errors": errors}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def error(status: int, message: str) -> Response:
    return envelope(None, status, [{"code": status, "msg": message}])


JaegerRoute = errors_shaped_by(error)
"""Every error, including those of dependencies (workspace, token), in the envelope."""


router = APIRouter(prefix="/api", tags=["jaeger"], route_class=JaegerRoute)


def _max_spans(app: Any) -> int:
    """Spans per returned trace (a 10k-span trace was a 22 MB answer): beyond it traces are cut."""
    return int(app.settings.jaeger_max_trace_spans)


@router.get("/services")
def get_services(ctx: ViewerContext, app: Context) -> Response:
    """Service names (resource `service.name`) with spans in this workspace."""
    return envelope(app.store.traces.services(ctx.workspace_id))


@router.get("/services/{service:path}/operations")
def get_service_operations(service: str, ctx: ViewerContext, app: Context) -> Response:
    """Span names of one service (Jaeger's legacy endpoint, the one Grafana calls)."""
    ops = app.store.traces.operations(ctx.workspace_id, service)
    return envelope(sorted({op.name for op in ops}))


@router.get("/operations")
def get_operations(ctx: ViewerContext, app: Context, service: str = "", spanKind: str = "") -> Response:
    """[{name, spanKind}] of one service, optionally of one kind (server, client, ...)."""
    if not service:
        return error(400, "parameter 'service' is required")
    ops = [operation_json(op) for op in app.store.traces.operations(ctx.workspace_id, service)]
    return envelope([op for op in ops if not spanKind or op["spanKind"] == spanKind])


@router.get("/traces")
def search_traces(request: Request, ctx: ViewerContext, app: Context) -> Response:
    """Trace search: service, operation, tags, minDuration/maxDuration, start/end (µs), limit."""
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    try:
        if "traceID" in params:  # jaeger-query: ?traceID=a&traceID=b fetches those traces
            ids = [normalize_trace_id(t) for t in params["traceID"]]
            traces = app.store.traces.get_traces(ctx.workspace_id, ids, _max_spans(app))
        else:
            query = parse_trace_query(params)
            traces = app.store.traces.find_traces(ctx.workspace_id, query, _max_spans(app))
    except ParamError as exc:
        return error(400, str(exc))
    return envelope([trace_json(t) for t in traces])


@router.get("/traces/{trace_id}")
def get_trace(trace_id: str, ctx: ViewerContext, app: Context) -> Response:
    """One trace. Grafana may add start/end (its trace-ID time params); the id index makes them moot."""
    try:
        tid = normalize_trace_id(trace_id)
    except ParamError as exc:
        return error(400, str(exc))
    traces = app.store.traces.get_traces(ctx.workspace_id, [tid], _max_spans(app))
    if not traces:
        return error(404, "trace not found")
    return envelope([trace_json(t) for t in traces])


@router.get("/dependencies")
def get_dependencies(
    ctx: ViewerContext, app: Context, endTs: str | None = None, lookback: str | None = None
) -> Response:
    """Service call graph over [endTs - lookback, endTs] (milliseconds; default: the last 24 h)."""
    try:
        start_ns, end_ns = parse_dependency_window(endTs, lookback)
    except ParamError as exc:
        return error(400, str(exc))
    calls = app.store.traces.dependencies(ctx.workspace_id, start_ns, end_ns)
    return envelope([{"parent": d.parent, "child": d.child, "callCount": d.call_count} for d in calls])

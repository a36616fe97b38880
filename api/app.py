"""FastAPI app factory: includes the routers; each router owns one resource.

Other parts add their router with one `app.include_router(...)` line in `_routers`.
Order matters where paths overlap: executions (`/api/workflows/executions/...`)
before workflows (`/api/workflows/{workflow_id}`).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from flowscope.api.answer_deadline import AnswerDeadline, unavailable_text
from flowscope.api.context import AppContext
from flowscope.api.jaeger.metrics import router as jaeger_metrics_router
from flowscope.api.jaeger.router import router as jaeger_router
from flowscope.api.jaeger_v3.router import router as jaeger_v3_router
from flowscope.api.metrics_access import metrics_response
from flowscope.api.not_served import not_served, refuse_websocket
from flowscope.api.prometheus_metrics import install_workflow_metrics
from flowscope.api.routers import (
    attempts,
    executions,
    grafana_tables,
    metrics,
    overview,
    projects,
    tokens,
    whoami,
    workflows,
    workspaces,
)
from flowscope.api.shortcuts import Shortcuts
from flowscope.api.unknown_paths import unknown_path
from flowscope.api.webui import install_ui
from flowscope.api.ws import feeds_router
from flowscope.storage.errors import StorageUnavailable
from starlette.exceptions import HTTPException as StarletteHTTPException


def _routers(app: FastAPI) -> None:
    app.include_router(executions.router)
    app.include_router(metrics.router)
    app.include_router(workflows.router)
    app.include_router(workspaces.router)
    app.include_router(projects.router)
    app.include_router(tokens.router)
    app.include_router(feeds_router(app.state.context))  # live WebSocket feeds (api/ws)
    app.include_router(jaeger_router)  # Jaeger query API for Grafana's Jaeger data source
    app.include_router(jaeger_metrics_router)  # Jaeger's Monitor (SPM) metrics from the spans
    app.include_router(jaeger_v3_router)  # Jaeger query API v3 (OTLP JSON): Jaeger UI 2.x, Grafana
    app.include_router(grafana_tables.router)  # flat tables for Grafana's Infinity data source
    app.include_router(overview.router)  # web UI read models: workflow summaries, durations
    app.include_router(attempts.router)  # every step's attempts of an execution (the Gantt)
    app.include_router(whoami.router)  # the caller's workspace and role


def _health(context: AppContext) -> APIRouter:
    router = APIRouter()

    @router.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @router.get("/readyz", tags=["health"])
    def readyz(response: Response) -> dict[str, str]:
        """The database is open and the receivers are listening."""
        ready = context.store.ping() and context.receivers_ready
        if not ready:
            response.status_code = 503
        return {"status": "ready" if ready else "not ready"}

    @router.get("/metrics", tags=["metrics"], response_class=Response)
    def prometheus_metrics(request: Request) -> Response:
        """Prometheus exposition (with --metrics-auth token: a bearer token; api/metrics_access.py)."""
        return metrics_response(context, request)

    return router


async def _storage_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database is being reopened after a fatal error (e.g. the disk filled up): retry."""
    return JSONResponse(
        {"detail": unavailable_text(exc)}, status_code=503, headers={"Retry-After": "1"}
    )


def create_app(context: AppContext) -> FastAPI:
    # docs_url/redoc_url off: api/webui.py serves /docs and /redoc from the package (no CDN).
    app = FastAPI(
        title="Flowscope", version="0.1.0", description="Telemetry for workflow executions",
        docs_url=None, redoc_url=None,
    )  # fmt: skip
    app.state.context = context
    app.add_exception_handler(StorageUnavailable, _storage_unavailable)
    app.add_exception_handler(StarletteHTTPException, unknown_path)  # unrouted /api/ paths: family shapes
    install_workflow_metrics(context)  # span + workflow metrics on /metrics, fed by the bus
    app.add_middleware(Shortcuts)  # (added first: innermost, so CORS wraps its answers too)
    if context.store.answer_deadline_seconds is not None:  # (added first: CORS wraps its 503)
        app.add_middleware(AnswerDeadline, seconds=context.store.answer_deadline_seconds)
    origins = list(context.settings.cors_origins)
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.include_router(_health(context))
    _routers(app)
    install_ui(app)  # the web UI (/, /workflows/..., /executions/...) and /docs, /redoc
    return app


def create_ingest_app(context: AppContext) -> FastAPI:
    """The API port of a node that only ingests (`serve --role ingest`): /healthz, /readyz and
    /metrics (span and workflow metrics of what this node commits, the collector's health);
    every other path, WebSockets included, 404 naming the role (api/not_served.py)."""
    app = FastAPI(
        title="Flowscope (ingest node)", version="0.1.0", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.context = context
    app.add_exception_handler(StorageUnavailable, _storage_unavailable)
    app.add_exception_handler(StarletteHTTPException, not_served)
    install_workflow_metrics(context)
    app.include_router(_health(context))
    app.add_api_websocket_route("/{path:path}", refuse_websocket)
    return app

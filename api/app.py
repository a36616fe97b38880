"""FastAPI app factory: includes the routers; each router owns one resource."""

from __future__ import annotations

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.context import AppContext
from api.jaeger.router import router as jaeger_router
from api.prometheus_metrics import install_workflow_metrics
from api.routers.grafana_tables import router as grafana_tables_router


def create_app(context: AppContext) -> FastAPI:
    app = FastAPI(title="Flowscope", version="0.1.0", description="Telemetry for workflow executions")
    app.state.context = context
    install_workflow_metrics(context)  # span + workflow metrics on /metrics, fed by the bus
    app.include_router(jaeger_router)  # Jaeger query API for Grafana's Jaeger data source
    app.include_router(grafana_tables_router)  # flat tables for Grafana's Infinity data source

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz(response: Response) -> dict[str, str]:
        """The database is open and the receivers are listening."""
        ready = context.store.ping() and bool(context.extras.get("receivers_ready"))
        if not ready:
            response.status_code = 503
        return {"status": "ready" if ready else "not ready"}

    @app.get("/metrics", tags=["metrics"], response_class=Response)
    def metrics() -> Response:
        """Prometheus exposition."""
        return Response(generate_latest(context.registry), media_type=CONTENT_TYPE_LATEST)

    return app

"""Who may read GET /metrics (`--metrics-auth`), and what they see.

- `none` (the default): public, as Prometheus scrapes without credentials. Its labels name
  every workspace's services, span names and workflows: keep it behind your network
  boundary, or turn the token mode on.
- `token`: a bearer token is required (401 without one, or with one that does not verify,
  which counts as a failed authentication for the client's throttle: 429 after a burst).
  The scrape secret FLOWSCOPE_METRICS_TOKEN, or a server-admin token, sees everything. Any
  other valid token (any role) sees only the series of its own workspace: the samples
  labelled with its workspace id, and none of the server-wide ones (collector health),
  which say something about every tenant's traffic.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from flowscope.api.auth import bearer
from flowscope.api.context import AppContext
from flowscope.api.deps import AccessDenied, authenticate, client_address
from flowscope.api.throttle import Throttled, retry_after_header
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import Metric


class WorkspaceView:
    """The registry's samples labelled with one workspace (a `collect()` source)."""

    def __init__(self, registry: CollectorRegistry, workspace_id: str) -> None:
        self._registry = registry
        self._workspace_id = workspace_id

    def collect(self) -> Iterator[Metric]:
        for family in self._registry.collect():
            samples = [s for s in family.samples if s.labels.get("workspace") == self._workspace_id]
            if samples:
                view = Metric(family.name, family.documentation, family.type, family.unit)
                view.samples = samples
                yield view


def _denied(status: int, detail: str, retry_after: float | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if retry_after is not None:
        headers["Retry-After"] = retry_after_header(retry_after)
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _exposition(source: CollectorRegistry | WorkspaceView) -> Response:
    return Response(generate_latest(source), media_type=CONTENT_TYPE_LATEST)  # type: ignore[arg-type]


def metrics_response(context: AppContext, request: Request) -> Response:
    """The exposition this request may read (runs DuckDB queries: call from a worker thread)."""
    settings = context.settings
    if settings.metrics_auth != "token":
        return _exposition(context.registry)
    secret = bearer(request.headers.get("authorization"))
    if not secret:
        return _denied(401, "/metrics needs a token: send 'Authorization: Bearer <token>'")
    peer, throttle = client_address(request), context.throttle
    try:
        throttle.check(peer)  # before the scrape secret too: it can be guessed like a token
    except Throttled as exc:
        return _denied(429, str(exc), exc.retry_after)
    scrape_secret = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if scrape_secret and hmac.compare_digest(secret.encode(), scrape_secret.encode()):
        return _exposition(context.registry)
    try:
        token = authenticate(context.store, secret, peer, throttle)
    except AccessDenied as exc:
        return _denied(exc.status, exc.detail, exc.retry_after)
    if token.server_admin:
        return _exposition(context.registry)
    return _exposition(WorkspaceView(context.registry, token.workspace_id))

"""What the API port of an ingest-only node (`flowscope serve --role ingest`) answers for
everything but /healthz, /readyz and /metrics: 404 with a message naming the node's role and
the part it does not serve, so an operator who pointed a browser, Grafana or a script at the
wrong node reads why instead of a bare "Not Found".

The message goes in the shape the part's clients parse (api/unknown_paths.py): the Jaeger
query API's `errors[].msg` envelope, v3's `{"error": {...}}`, FastAPI's `{"detail": ...}`
for the rest; a WebSocket handshake is refused with the same 404 and JSON body (the ASGI
WebSocket denial response), not a bare 403.
"""

from __future__ import annotations

from fastapi import Request, Response, WebSocket
from fastapi.responses import JSONResponse
from flowscope.api.unknown_paths import family_error
from starlette.exceptions import HTTPException

ROLE = "ingest"
# The UI's and the docs' first path segments (api/webui.py); anything else off /api is the UI's.
_DOCS = ("docs", "redoc", "openapi.json")


def part(path: str) -> str:
    """The part of Flowscope `path` belongs to, as the message names it."""
    segments = path.strip("/").split("/")
    first, second = segments[0], segments[1] if len(segments) > 1 else ""
    if first == "api":
        if family_error(path) is not None:
            return "Jaeger query API"
        return "Grafana tables" if second == "grafana" else "REST API"
    if first == "ws":
        return "WebSocket feeds"
    return "API docs" if first in _DOCS else "web UI"


def message(path: str) -> str:
    return (
        f"this node serves --role {ROLE}: no {part(path)} here (only OTLP ingest, /healthz, "
        "/readyz and /metrics); ask a node with --role query or all"
    )


async def not_served(request: Request, exc: Exception) -> Response:
    """The ingest app's handler of HTTP errors: a path no route serves gets the role's 404."""
    assert isinstance(exc, HTTPException)
    if exc.status_code != 404 or "endpoint" in request.scope:  # a route's own answer passes
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
    text = message(request.url.path)
    render = family_error(request.url.path)
    return render(404, text) if render is not None else JSONResponse({"detail": text}, status_code=404)


async def refuse_websocket(websocket: WebSocket) -> None:
    """Every WebSocket path: the handshake answered 404 with the role's message."""
    await websocket.send_denial_response(
        JSONResponse({"detail": message(websocket.url.path)}, status_code=404)
    )

"""404 for a path under `/api/` that no route serves, in the shape of the family the path
belongs to, so that the family's clients can still parse it (issue 16 item 3):
- the Jaeger query API (`/api/services`, `/api/traces`, `/api/metrics`, ... : the first
  segments jaegertracing/jaeger's http_handler.go registers) answers jaeger-query's
  `{data, total, limit, offset, errors: [{code, msg}]}` envelope, which the Jaeger UI and
  Grafana read `errors[].msg` from. (jaeger-query itself answers an unregistered `/api/`
  path with the text "404 page not found", cmd/jaeger/internal/extension/jaegerquery/
  internal/server.go; the message is kept, in the envelope every other error uses.)
- the query API v3 (`/api/v3/...`) answers its gateway's `{"error": {httpCode, message}}`
  (api/jaeger_v3/router.py, from apiv3/http_gateway.go `tryHandleError`).
- everything else, our REST API included, answers FastAPI's `{"detail": "Not Found"}`.

A 404 a route raises itself (an unknown execution, trace, workspace) is the route's own
answer and passes unchanged: only a request that matched no route is reshaped.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request, Response
from fastapi.exception_handlers import http_exception_handler
from flowscope.api.jaeger.router import error as jaeger_error
from flowscope.api.jaeger_v3.router import error as v3_error
from starlette.exceptions import HTTPException

ErrorResponse = Callable[[int, str], Response]
"""(HTTP status, message) -> a family's error response."""
NOT_FOUND = "404 page not found"
# The first path segment after /api/ of each family with an error shape of its own.
JAEGER_SEGMENTS = (
    "services", "operations", "traces", "dependencies", "metrics", "archive", "transform",
    "deep-dependencies", "quality-metrics",
)  # fmt: skip
FAMILIES: dict[str, ErrorResponse] = {**dict.fromkeys(JAEGER_SEGMENTS, jaeger_error), "v3": v3_error}


def family_error(path: str) -> ErrorResponse | None:
    """The error shape of the family `path` belongs to; None for FastAPI's own."""
    parts = path.split("/", 3)  # ['', 'api', segment, rest]
    if len(parts) < 3 or parts[0] or parts[1] != "api":
        return None
    return FAMILIES.get(parts[2])


async def unknown_path(request: Request, exc: Exception) -> Response:
    """The app's handler of HTTP errors: FastAPI's, but for unrouted paths of a family."""
    assert isinstance(exc, HTTPException)
    # Starlette sets the scope's endpoint once a route matched: its absence means none did.
    if exc.status_code == 404 and "endpoint" not in request.scope:
        render = family_error(request.url.path)
        if render is not None:
            return render(404, NOT_FOUND)
    return await http_exception_handler(request, exc)

"""Route classes for API families with an error shape of their own (Jaeger's `{data, errors}`
envelope, the query API v3's `{"error": {...}}`): every error of a route, its dependencies'
included (workspace, token, throttling) and a store that is being reopened, is answered in
the family's shape rather than FastAPI's `{"detail": ...}`, which their clients cannot parse.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from flowscope.storage.errors import StorageUnavailable

ErrorResponse = Callable[[int, str], Response]
"""(HTTP status, message) -> the family's error response."""


def errors_shaped_by(render: ErrorResponse) -> type[APIRoute]:
    """An APIRoute class answering every error of its routes with `render`."""

    class FamilyRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def route(request: Request) -> Response:
                try:
                    return await handler(request)
                except HTTPException as exc:
                    response = render(exc.status_code, str(exc.detail))
                    response.headers.update(exc.headers or {})  # Retry-After of a 429
                    return response
                except RequestValidationError as exc:
                    return render(400, str(exc.errors()))
                except StorageUnavailable as exc:  # the database is being reopened: retry
                    response = render(503, f"storage unavailable, retry later: {exc}")
                    response.headers["Retry-After"] = "1"
                    return response

            return route

    return FamilyRoute

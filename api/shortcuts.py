"""The two requests a burst of triggers is made of, answered without FastAPI's request
handling: `POST /api/workflows/{workflow_id}/execute` and the read right after its 202,
`GET /api/workflows/executions/{execution_id}`.

Why: 1,000 triggers at once (issue 17) are answered by the one thread that serves the API.
Measured on this 2-core machine, that thread's CPU per execute request in such a burst:
0.31 ms for uvicorn's part (a bare ASGI answer); 0.68 ms with FastAPI's routing (a scan of
every route), dependency solving, body and response models around a handler that does
nothing; 0.73-1.04 ms with the real handler. FastAPI's layers were half of what the burst
waited for.

How: each shortcut stands for one route of the app (`APIRoute`) and calls what FastAPI would:
the dependency functions of its parameters (api/deps.py), then the route's own endpoint;
the answer goes through the route's response field (validation and serialization, as
FastAPI does) with the route's status code; an error raised on the way goes to the app's
exception handlers, with the route as the scope's endpoint as after routing. A request
FastAPI would judge differently is handed to the app as it came, body included, before
anything was done with it: an execute request that is neither bodiless nor an
`application/json` object `ExecuteRequest` accepts, or a body over `_MAX_BODY_BYTES`. The
routes stay in the app for those, and for the OpenAPI document.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi.routing import APIRoute
from flowscope.api import deps
from flowscope.api.routers import executions, workflows
from flowscope.api.schemas.workflows import ExecuteRequest
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A bigger body (thousands of input sets) is handed to FastAPI: its parsing costs far more
# than the layers skipped here, and a copy held here would only double the memory.
_MAX_BODY_BYTES = 256 * 1024
_CONTENT_TYPE = (b"content-type", b"application/json")


class _HandOff(Exception):
    """The request is the app's to judge (raised before anything was done with it)."""


# A route's answer: its endpoint called with the request's path parameters and body.
Answer = Callable[[Request, Mapping[str, Any], bytes], Awaitable[Any]]


@dataclass(frozen=True)
class Shortcut:
    route: APIRoute
    answer: Answer


async def _execute(request: Request, params: Mapping[str, Any], body: bytes) -> Any:
    parsed = _execute_request(request.headers, body)  # first: nothing is done before a hand-off
    ctx = await deps.editor_context(request)
    context = await deps.app_context(request)
    return await workflows.execute_workflow(params["workflow_id"], request, ctx, context, parsed)


async def _details(request: Request, params: Mapping[str, Any], _: bytes) -> Any:
    ctx = await deps.execution_viewer_context(request)
    return await executions.get_execution(params["execution_id"], ctx, await deps.app_context(request))


def _route(router: Any, endpoint: Callable[..., Any]) -> APIRoute:
    return next(r for r in router.routes if isinstance(r, APIRoute) and r.endpoint is endpoint)


# Matched before the app's routing: no route the app tries before these (api/app.py's order)
# matches their method and path, so the request is the same route's either way.
SHORTCUTS = (
    Shortcut(_route(workflows.router, workflows.execute_workflow), _execute),
    Shortcut(_route(executions.router, executions.get_execution), _details),
)


class Shortcuts:
    """ASGI middleware: the `SHORTCUTS`' requests are answered here, every other one by the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = _match(scope) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        shortcut, params = found
        messages, body = await _read_body(receive)
        if body is None:  # the client went away, or the body is too big to hold here
            await self.app(scope, _replay(messages, receive), send)
            return
        routed = {**scope, "path_params": params, "endpoint": shortcut.route.endpoint}  # as after routing
        request = Request(routed, receive)
        try:
            answer = await shortcut.answer(request, params, body)
            content = _serialized(shortcut.route, answer)
        except _HandOff:
            await self.app(scope, _replay(messages, receive), send)
            return
        except Exception as exc:
            await _handled(routed, receive, send, request, exc)
            return
        await send({
            "type": "http.response.start", "status": shortcut.route.status_code or 200,
            "headers": [(b"content-length", b"%d" % len(content)), _CONTENT_TYPE],  # Starlette's order
        })  # fmt: skip
        await send({"type": "http.response.body", "body": content})


def _match(scope: Scope) -> tuple[Shortcut, dict[str, Any]] | None:
    """The shortcut of the request and its path parameters, matched as Starlette's routing does."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    for shortcut in SHORTCUTS:
        route = shortcut.route
        if scope["method"] in route.methods and (match := route.path_regex.match(path)):
            convert = route.param_convertors
            return shortcut, {name: convert[name].convert(value) for name, value in match.groupdict().items()}
    return None


async def _read_body(receive: Receive) -> tuple[list[Message], bytes | None]:
    """The request's messages as received, and its body (None when the client disconnected or
    the body is over `_MAX_BODY_BYTES`: then the rest is left to whoever reads on)."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        size += len(message.get("body", b""))
        if size > _MAX_BODY_BYTES:
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(m.get("body", b"") for m in messages)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """`receive` that first gives back the messages already read."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def _execute_request(headers: Headers, body: bytes) -> ExecuteRequest | None:
    """The execute route's `body` parameter: None for no body and no content type, else the
    body of an `application/json` request; _HandOff for any other request, which FastAPI
    judges (it does not parse a body sent without a JSON content type, for one)."""
    content_type = headers.get("content-type")
    if content_type is None and not body:
        return None
    if content_type is None or content_type.split(";", 1)[0].strip().lower() != "application/json":
        raise _HandOff
    try:
        data = orjson.loads(body)
        if isinstance(data, dict):
            return ExecuteRequest.model_validate(data)
    except (orjson.JSONDecodeError, ValidationError):
        pass
    raise _HandOff


def _serialized(route: APIRoute, answer: Any) -> bytes:
    """The answer as FastAPI sends it: validated and serialized by the route's response field
    (an invalid answer is the route's bug: a 500, as there)."""
    field = route.response_field
    assert field is not None
    value, errors = field.validate(answer, {}, loc=("response",))
    if errors:
        raise RuntimeError(f"{route.path}: the answer does not validate: {errors}")
    return field.serialize_json(
        value, include=route.response_model_include, exclude=route.response_model_exclude,
        by_alias=route.response_model_by_alias, exclude_unset=route.response_model_exclude_unset,
        exclude_defaults=route.response_model_exclude_defaults,
        exclude_none=route.response_model_exclude_none,
    )  # fmt: skip


async def _handled(scope: Scope, receive: Receive, send: Send, request: Request, exc: Exception) -> None:
    """Answer `exc` with the app's exception handler for it, as Starlette's exception middleware
    does for an error raised by a route; re-raised when the app has none (a 500)."""
    handler = _handler(scope["app"].exception_handlers, exc)
    if handler is None:
        raise exc
    if inspect.iscoroutinefunction(handler):
        response: Response = await handler(request, exc)
    else:
        response = await run_in_threadpool(handler, request, exc)
    await response(scope, receive, send)


def _handler(handlers: Mapping[Any, Any], exc: Exception) -> Any:
    """Starlette's exception middleware's choice: for an HTTPException a handler of its status
    code first, then the handler of the nearest class (not `Exception`'s or 500's: Starlette
    leaves those to its server-error middleware, outside)."""
    if isinstance(exc, HTTPException) and exc.status_code != 500 and exc.status_code in handlers:
        return handlers[exc.status_code]
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return handlers[cls]
    return None

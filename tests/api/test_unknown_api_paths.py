"""Issue 16 item 3: a path under /api/ that no route serves answers 404 in its family's shape
(api/unknown_paths.py), never a shape the family's clients cannot parse:
- the Jaeger query API's first segments (jaegertracing/jaeger cmd/jaeger/internal/extension/
  jaegerquery/internal/http_handler.go `RegisterRoutes`, and the v1 search routes Flowscope
  serves) answer jaeger-query's `{data, total, limit, offset, errors: [{code, msg}]}`
  envelope (its `handleError`), with the text its server.go answers an unregistered /api/
  path with;
- the query API v3 answers its gateway's `{"error": {"httpCode", "message"}}` as text/plain
  with a newline (apiv3/http_gateway.go `tryHandleError`, Go's `http.Error`);
- our REST API and anything else answer FastAPI's `{"detail": "Not Found"}`;
- a 404 a route raises itself (an unknown execution or trace) is unchanged.
The API runs in process on an empty in-memory store."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from flowscope.api.app import create_app
from flowscope.engine.config import EngineConfig
from flowscope.storage.duckdb.store import Store
from prometheus_client import CollectorRegistry

from flowscope.compose import app_context, auth_throttle
from flowscope.settings import Settings

JAEGER_404 = {
    "data": None, "total": 0, "limit": 0, "offset": 0,
    "errors": [{"code": 404, "msg": "404 page not found"}],
}  # fmt: skip
FASTAPI_404 = {"detail": "Not Found"}
V3_404 = '{"error":{"httpCode":404,"message":"404 page not found"}}\n'


@pytest.fixture(scope="module")
def app() -> Iterator[object]:
    store = Store(":memory:")
    store.start()
    settings = Settings()
    yield create_app(
        app_context(settings, store, CollectorRegistry(), auth_throttle(settings), EngineConfig())
    )
    store.close()


def _request(app: object, method: str, path: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://unknown") as client:
            return await client.request(method, path)

    return asyncio.run(go())


@pytest.mark.parametrize(
    "path",
    [
        "/api/services/a/b/c",  # past /api/services/{service}/operations
        "/api/traces/0123/extra",
        "/api/metrics",
        "/api/metrics/throughput",
        "/api/dependencies/x",
        "/api/operations/x",
        "/api/quality-metrics",  # routes of jaeger-query that Flowscope does not serve
        "/api/deep-dependencies",
        "/api/archive/0123",
        "/api/transform",
    ],
)
def test_unknown_jaeger_paths_answer_the_jaeger_envelope(app: object, path: str) -> None:
    response = _request(app, "GET", path)
    assert (response.status_code, response.json()) == (404, JAEGER_404)
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize("path", ["/api/v3", "/api/v3/", "/api/v3/dependencies", "/api/v3/services/x"])
def test_unknown_v3_paths_answer_the_gateway_error(app: object, path: str) -> None:
    response = _request(app, "GET", path)
    assert (response.status_code, response.text) == (404, V3_404)
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_any_method(app: object) -> None:
    response = _request(app, "POST", "/api/transform")
    assert (response.status_code, response.json()) == (404, JAEGER_404)


@pytest.mark.parametrize(
    "path",
    [
        "/api/workflows/wf/nothing/here",
        "/api/executions",
        "/api/nope",
        "/api/",
        "/api",
        "/api/servicesx",  # not a Jaeger segment, only a prefix of one
        "/nope",
    ],
)
def test_other_unknown_paths_answer_fastapi_detail(app: object, path: str) -> None:
    response = _request(app, "GET", path)
    assert (response.status_code, response.json()) == (404, FASTAPI_404)


def test_a_routes_own_404_is_unchanged(app: object) -> None:
    trace = _request(app, "GET", "/api/traces/" + "ab" * 16)
    assert trace.status_code == 404 and trace.json()["errors"] == [{"code": 404, "msg": "trace not found"}]
    execution = _request(app, "GET", "/api/workflows/executions/" + "ab" * 16)
    assert execution.status_code == 404 and execution.json() != FASTAPI_404 and "detail" in execution.json()

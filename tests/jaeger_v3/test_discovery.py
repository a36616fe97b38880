"""`GET /api/v3/services` and `GET /api/v3/operations`.

Sources: jaegertracing/jaeger-idl proto/api_v3/query_service.proto (`GetServicesResponse`,
`GetOperationsRequest` {service, span_kind}, `GetOperationsResponse`, `Operation` {name,
span_kind}); jaegertracing/jaeger cmd/jaeger/internal/extension/jaegerquery/internal/apiv3/
http_gateway.go (`getServices`: `[]` rather than no list; `getOperations`: `spanKind` or its
alias `span_kind`, an unspecified kind named "internal") and its snapshots GetServices.json,
GetOperations.json; what jaegertracing/jaeger-ui packages/jaeger-ui/src/api/v3/client.ts asks.
"""

from __future__ import annotations

from tests.jaeger_v3.conftest import Loaded
from tests.jaeger_v3.shapes import ok
from tests.support.asgi import Get


def test_services_of_the_workspace_sorted(get: Get, loaded: Loaded) -> None:
    services = ["big", "bounds", "shop", "stock", "typed", "unkinded"]
    assert ok(get("/api/v3/services")) == {"services": services}
    assert ok(get("/api/v3/services", headers={"X-Workspace-Id": loaded.ws_b})) == {"services": ["b-only"]}


def test_a_workspace_without_spans_has_an_empty_list(get: Get, loaded: Loaded) -> None:
    empty = loaded.store.catalog.create_workspace("v3-empty", "Empty").id
    assert ok(get("/api/v3/services", headers={"X-Workspace-Id": empty})) == {"services": []}


def test_operations_name_and_kind(get: Get) -> None:
    assert ok(get("/api/v3/operations", {"service": "big"})) == {
        "operations": [
            {"name": "big root", "spanKind": "server"},
            *({"name": f"child {n}", "spanKind": "internal"} for n in range(1, 6)),
        ]
    }
    assert ok(get("/api/v3/operations", {"service": "shop"})) == {
        "operations": [{"name": "shop db", "spanKind": "client"}, {"name": "shop http", "spanKind": "server"}]
    }


def test_operations_of_one_kind(get: Get) -> None:
    for name in ("spanKind", "span_kind"):
        assert ok(get("/api/v3/operations", {"service": "big", name: "server"})) == {
            "operations": [{"name": "big root", "spanKind": "server"}]
        }
    assert ok(get("/api/v3/operations", {"service": "big", "spanKind": "producer"})) == {"operations": []}


def test_an_unspecified_kind_is_named_internal_after_the_kind_filter(get: Get) -> None:
    """The gateway names "" internal when it answers, after the store filtered by kind."""
    assert ok(get("/api/v3/operations", {"service": "unkinded"})) == {
        "operations": [{"name": "unkinded op", "spanKind": "internal"}]
    }
    internal = {"service": "unkinded", "spanKind": "internal"}
    assert ok(get("/api/v3/operations", internal)) == {"operations": []}


def test_operations_of_no_service_or_an_unknown_one(get: Get) -> None:
    assert ok(get("/api/v3/operations")) == {"operations": []}
    assert ok(get("/api/v3/operations", {"service": "no-such-service"})) == {"operations": []}


def test_the_jaeger_ui_request(get: Get) -> None:
    """client.ts: `/operations?service=${encodeURIComponent(service)}`."""
    answer = ok(get("/api/v3/operations?service=bounds"))
    assert answer["operations"] == [{"name": "bounded", "spanKind": "server"}]


def test_there_is_no_http_dependencies_endpoint(get: Get) -> None:
    """query_service.proto's GetDependencies has an HTTP binding, but the gateway registers no
    route for it (http_gateway.go RegisterRoutes): the call graph is /api/dependencies."""
    assert get("/api/v3/dependencies").status_code == 404

"""Workspaces and tokens on the v3 API: the same headers (X-Workspace-Id, X-Workspace-Slug,
or the workspace_id / workspace_slug parameters) and bearer tokens as the rest of the Jaeger
API (api/deps.py), every refusal in the gateway's error shape (jaegertracing/jaeger
cmd/jaeger/internal/extension/jaegerquery/internal/apiv3/http_gateway.go `tryHandleError`)."""

from __future__ import annotations

from tests.jaeger_v3.conftest import Loaded
from tests.jaeger_v3.data import B_SLUG, B_TRACE, RICH, T
from tests.jaeger_v3.shapes import gateway_error, ok, search, spans, trace_ids
from tests.support.asgi import Get

B_ONLY = {"services": ["b-only"]}


def test_the_workspace_by_header_or_parameter(get: Get, loaded: Loaded) -> None:
    assert ok(get("/api/v3/services", headers={"X-Workspace-Id": loaded.ws_b})) == B_ONLY
    assert ok(get("/api/v3/services", headers={"X-Workspace-Slug": B_SLUG})) == B_ONLY
    assert ok(get("/api/v3/services", {"workspace_id": loaded.ws_b})) == B_ONLY
    assert ok(get("/api/v3/services", {"workspace_slug": B_SLUG})) == B_ONLY


def test_every_read_stays_in_its_workspace(get: Get, loaded: Loaded) -> None:
    b = {"X-Workspace-Id": loaded.ws_b}
    assert set(trace_ids(ok(get("/api/v3/traces", search("b-only"), headers=b)))) == {RICH, B_TRACE}
    assert gateway_error(get("/api/v3/traces", search("b-only")), 404) == "No traces found"
    assert gateway_error(get(f"/api/v3/traces/{B_TRACE}"), 404) == "No traces found"
    summaries = ok(get("/api/v3/trace-summaries", search("b-only", T), headers=b))["summaries"]
    assert [s["spanCount"] for s in summaries] == [1, 1]
    assert ok(get("/api/v3/operations", {"service": "big"}, headers=b)) == {"operations": []}


def test_an_unknown_workspace_is_a_404_in_the_gateways_shape(get: Get) -> None:
    message = gateway_error(get("/api/v3/services", headers={"X-Workspace-Slug": "nope"}), 404)
    assert message == "workspace with slug 'nope' not found"


def test_tokens(get_with_auth: Get, token_b: str, loaded: Loaded) -> None:
    message = gateway_error(get_with_auth("/api/v3/services"), 401)
    assert message.startswith("authentication required")
    bearer = {"Authorization": f"Bearer {token_b}"}
    assert ok(get_with_auth("/api/v3/services", headers=bearer)) == B_ONLY
    [span] = spans(ok(get_with_auth(f"/api/v3/traces/{B_TRACE}", headers=bearer)))
    assert span["name"] == "b op"
    other = {**bearer, "X-Workspace-Slug": "default"}
    assert gateway_error(get_with_auth("/api/v3/trace-summaries", search("big"), headers=other), 403)
    wrong = {"Authorization": "Bearer not-a-token"}
    assert gateway_error(get_with_auth("/api/v3/operations", {"service": "big"}, headers=wrong), 401)

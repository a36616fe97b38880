"""`POST /api/workflows/{id}/execute` is answered by api/execute_shortcut.py when the request
has the usual shape, else by the FastAPI route: both give the same answers. Real server,
real HTTP."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.client import Api
from tests.api.conftest import CORS_ORIGIN
from tests.api.workflows import SEQUENCE

# FastAPI parses `application/<anything>+json` bodies as JSON; the shortcut takes only
# `application/json` (or no content type) and hands this one to the route.
ROUTED = {"content-type": "application/vnd.flowscope+json"}
JSON = {"content-type": "application/json"}


def _execute(ws: Api, workflow_id: str, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return ws.post(f"/api/workflows/{workflow_id}/execute", content=body, headers=headers or {})


def _shape(response: httpx.Response) -> tuple[int, str, list[str], dict[str, Any]]:
    payload = response.json()
    return response.status_code, response.headers["content-type"], sorted(payload), payload


def test_the_shortcut_and_the_route_answer_alike(ws: Api) -> None:
    wf = ws.create_workflow(SEQUENCE)
    one = b'{"input_variables": {"mode": "fast"}}'
    status, kind, keys, fast = _shape(_execute(ws, wf["id"], one, JSON))
    assert (status, kind) == (202, "application/json")
    routed_status, routed_kind, routed_keys, routed = _shape(_execute(ws, wf["id"], one, ROUTED))
    assert (routed_status, routed_kind, routed_keys) == (status, kind, keys)
    assert (fast["execution_number"], routed["execution_number"]) == (1, 2)
    for answer in (fast, routed):
        assert answer["input_variables"] == {"mode": "fast"} and answer["status"] == "pending"
        assert answer["created_at"].endswith("Z") and answer["started_at"] is None
    # no body, or an empty object: the defaults
    charset = {"content-type": "Application/JSON; charset=utf-8"}
    for body, headers in ((b"", {}), (b"{}", JSON), (b"{}", charset)):
        answer = ws.ok(_execute(ws, wf["id"], body, headers), 202)
        assert answer["input_variables"] == {"mode": "standard"}
    bulk = b'{"input_sets": [{"mode": "a"}, {}]}'
    fast_bulk = ws.ok(_execute(ws, wf["id"], bulk, JSON), 202)
    routed_bulk = ws.ok(_execute(ws, wf["id"], bulk, ROUTED), 202)
    assert sorted(fast_bulk) == sorted(routed_bulk) == ["executions", "workflow_id"]
    assert [e["input_variables"] for e in fast_bulk["executions"]] == [{"mode": "a"}, {"mode": "standard"}]
    assert [e["input_variables"] for e in routed_bulk["executions"]] == [{"mode": "a"}, {"mode": "standard"}]
    for started in fast_bulk["executions"] + routed_bulk["executions"] + [fast, routed]:
        assert ws.details(started["id"])["execution_number"] == started["execution_number"]


def test_errors_of_starting_keep_the_routes_shapes(ws: Api) -> None:
    """Raised by the same functions either way, answered by the app's handlers: a 404 names the
    workflow (an unrouted path would get the generic 404), a 422 names the input."""
    for headers in (JSON, ROUTED):
        missing = _execute(ws, "wf_missing", b"{}", headers)
        assert (missing.status_code, missing.json()) == (404, {"detail": "Workflow 'wf_missing' not found"})
    wf = ws.create_workflow(SEQUENCE)
    bad = b'{"input_variables": {"nope": 1}}'
    fast = _execute(ws, wf["id"], bad, JSON)
    routed = _execute(ws, wf["id"], bad, ROUTED)
    assert fast.status_code == routed.status_code == 422
    assert fast.json() == routed.json()
    assert fast.json()["detail"][0]["loc"] == ["body", "input_variables"]


def test_bodies_the_shortcut_does_not_take_get_fastapis_answers(ws: Api) -> None:
    wf = ws.create_workflow(SEQUENCE)
    broken = _execute(ws, wf["id"], b"{bad", JSON)
    assert broken.status_code == 422 and broken.json()["detail"][0]["type"] == "json_invalid"
    wrong = _execute(ws, wf["id"], b'{"input_variables": 3}', JSON)
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["loc"] == ["body", "input_variables"]
    # FastAPI reads a body without a JSON content type as bytes, not as the request object
    untyped = _execute(ws, wf["id"], b"{}")
    assert untyped.status_code == 422 and untyped.json()["detail"][0]["loc"] == ["body"]
    both = _execute(ws, wf["id"], b'{"input_variables": {}, "input_sets": [{}]}', JSON)
    assert both.status_code == 422 and "not both" in both.text
    # over the shortcut's 256 KiB: the body comes in several parts, all handed on to the route
    padded = b'{"input_variables": {"mode": "' + b"x" * 400_000 + b'"}}'
    big = _execute(ws, wf["id"], padded, JSON)
    assert big.status_code == 202, big.text[:300]
    assert big.json()["input_variables"]["mode"] == "x" * 400_000


def test_cross_origin_triggers_get_cors_headers(ws: Api) -> None:
    wf = ws.create_workflow(SEQUENCE)
    response = _execute(ws, wf["id"], b"", {"origin": CORS_ORIGIN})
    assert response.status_code == 202
    assert response.headers["access-control-allow-origin"] == CORS_ORIGIN


def test_the_details_read_answers_as_its_route(ws: Api) -> None:
    """`GET /api/workflows/executions/{id}` is the other shortcut: the same answer as the
    timeline's route (FastAPI's) gives of the same execution, and the route's errors."""
    started = ws.execute(ws.create_workflow(SEQUENCE)["id"])
    details = ws.details(started["id"])
    timeline = ws.ok(ws.get(f"/api/workflows/executions/{started['id']}/timeline"))
    assert details["id"] == timeline["execution_id"] == started["id"]
    assert details["execution_number"] == started["execution_number"]
    missing = ws.get("/api/workflows/executions/nope")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Execution 'nope' not found"})
    elsewhere = ws.get(f"/api/workflows/executions/{started['id']}", headers={"X-Workspace-Id": "ws_none"})
    assert elsewhere.status_code == 404 and "ws_none" in elsewhere.json()["detail"]

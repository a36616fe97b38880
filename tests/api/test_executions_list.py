"""A workflow's executions: pagination edges, status filter, newest first, sequential numbers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.api.client import Api
from tests.api.workflows import step

QUICK = {"name": "quick", "steps": [step("only", 0)]}
RUNS = 12


@pytest.fixture(scope="module")
def listed(root: Api) -> tuple[Api, str, list[dict]]:
    ws = root.new_workspace()
    wf = ws.create_workflow(QUICK)
    with ThreadPoolExecutor(4) as pool:  # concurrent submits still get distinct sequential numbers
        started = list(pool.map(lambda _: ws.execute(wf["id"]), range(RUNS)))
    return ws, wf["id"], [ws.wait(s["id"], {"completed"}) for s in started]


def _page(ws: Api, wf: str, **params: object) -> dict:
    return ws.ok(ws.get(f"/api/workflows/{wf}/executions", params=params))  # type: ignore[no-any-return]


def test_numbers_are_sequential(listed: tuple[Api, str, list[dict]]) -> None:
    _, _, executions = listed
    assert sorted(e["execution_number"] for e in executions) == list(range(1, RUNS + 1))


def test_default_page_is_ten_newest_first(listed: tuple[Api, str, list[dict]]) -> None:
    ws, wf, executions = listed
    page = _page(ws, wf)
    assert (page["total"], page["skip"], page["limit"], len(page["items"])) == (RUNS, 0, 10, 10)
    created = [i["created_at"] for i in page["items"]]
    assert created == sorted(created, reverse=True)
    newest = max(executions, key=lambda e: e["created_at"])
    assert page["items"][0]["id"] == newest["id"]


def test_pages_cover_everything_once(listed: tuple[Api, str, list[dict]]) -> None:
    ws, wf, executions = listed
    seen = [i["id"] for skip in range(0, RUNS, 5) for i in _page(ws, wf, skip=skip, limit=5)["items"]]
    assert sorted(seen) == sorted(e["id"] for e in executions) and len(seen) == RUNS


@pytest.mark.parametrize("skip", [RUNS, RUNS + 1, 10_000])
def test_skip_past_total(listed: tuple[Api, str, list[dict]], skip: int) -> None:
    ws, wf, _ = listed
    page = _page(ws, wf, skip=skip)
    assert page["items"] == [] and page["total"] == RUNS and page["skip"] == skip


def test_limit_edges(listed: tuple[Api, str, list[dict]]) -> None:
    ws, wf, _ = listed
    zero = _page(ws, wf, limit=0)
    assert zero["items"] == [] and zero["total"] == RUNS and zero["limit"] == 0
    assert len(_page(ws, wf, limit=100)["items"]) == RUNS
    for params in ({"limit": 101}, {"limit": -1}, {"skip": -1}, {"status": "bogus"}, {"limit": "ten"}):
        response = ws.get(f"/api/workflows/{wf}/executions", params=params)
        assert response.status_code == 422, params
        detail = response.json()["detail"]
        assert detail[0]["loc"] == ["query", next(iter(params))]
    too_big = ws.get(f"/api/workflows/{wf}/executions", params={"limit": 101}).json()["detail"][0]
    assert "100" in too_big["msg"]


def test_status_filter(listed: tuple[Api, str, list[dict]]) -> None:
    ws, wf, _ = listed
    assert _page(ws, wf, status="completed")["total"] == RUNS
    for status in ("pending", "running", "failed", "cancelled", "timeout"):
        page = _page(ws, wf, status=status)
        assert page["total"] == 0 and page["items"] == []


def test_unknown_workflow_is_404(ws: Api) -> None:
    response = ws.get("/api/workflows/wf_nope/executions")
    assert response.status_code == 404 and response.json() == {"detail": "Workflow 'wf_nope' not found"}

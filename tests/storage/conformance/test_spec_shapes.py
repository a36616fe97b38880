"""The spec's four endpoints (../shared/spec/telemetry-api.md) answered from the store under
test: the API built on it (in process, no listeners) must give the spec's shapes with these
exact values for the fixed dataset, whatever the store. Only the keys the spec shows are
compared (the API may add more)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from flowscope.api.app import create_app
from flowscope.engine.config import EngineConfig
from flowscope.storage.interfaces import Store
from prometheus_client import CollectorRegistry

from flowscope.compose import app_context, auth_throttle
from flowscope.settings import Settings
from tests.api import spec_examples as spec
from tests.storage.conformance.dataset import B_ONLY, E1, E2, E3, WS_A

Get = Callable[[str], httpx.Response]


@pytest.fixture(scope="session")
def get(loaded: Store) -> Iterator[Get]:
    """GET on the API of the loaded store, as the dataset's workspace A."""
    settings = Settings()
    app = create_app(
        app_context(settings, loaded, CollectorRegistry(), auth_throttle(settings), EngineConfig())
    )

    async def fetch(path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://conformance") as client:
            return await client.get(path, headers={"X-Workspace-Id": WS_A})

    yield lambda path: asyncio.run(fetch(path))


def _spec_view(actual: Any, example: Any, key: str = "$") -> Any:
    """`actual` with only the keys `example` shows (free-form payloads whole)."""
    if key in spec.FREE_FORM or actual is None:
        return actual
    if isinstance(example, dict):
        return {k: _spec_view(actual[k], v, k) for k, v in example.items() if k in actual}
    if isinstance(example, list) and example:
        return [_spec_view(item, example[0], key) for item in actual]
    return actual


def _ok(get: Get, path: str, example: dict[str, Any]) -> Any:
    response = get(path)
    assert response.status_code == 200, response.text
    return _spec_view(response.json(), example)


def _step(
    step_id: str, name: str, order: int, status: str, start: str, end: str | None, seconds: float | None,
    retries: int = 0, error: str | None = None, output: Any = None,
) -> dict[str, Any]:  # fmt: skip
    return {
        "step_id": step_id, "step_name": name, "step_order": order, "status": status,
        "started_at": start, "completed_at": end, "duration_seconds": seconds, "retry_count": retries,
        "error_message": error, "input_summary": {"order": order}, "output_summary": output,
    }  # fmt: skip


def test_the_timeline_of_a_completed_execution(get: Get) -> None:
    response = get(f"/api/workflows/executions/{E1}/timeline")
    assert spec.shape_problems(response.json(), spec.TIMELINE) == []
    assert _spec_view(response.json(), spec.TIMELINE) == {
        "execution_id": E1, "workflow_id": "wf-etl", "status": "completed",
        "started_at": "2024-01-15T10:00:00Z", "completed_at": "2024-01-15T10:02:30.500000Z",
        "total_duration_seconds": 150.5, "step_count": 3, "completed_step_count": 3,
        "failed_step_count": 0, "skipped_step_count": 0,
        "step_timeline": [
            _step("initialize", "Initialize", 1, "completed", "2024-01-15T10:00:00Z", "2024-01-15T10:00:30Z",
                  30.0, output={"processed_records": 100}),
            _step("process", "Process", 2, "completed", "2024-01-15T10:00:30Z", "2024-01-15T10:02:00Z",
                  90.0, retries=1, output={"results": "success"}),
            _step("finalize", "Finalize", 3, "completed", "2024-01-15T10:02:00Z",
                  "2024-01-15T10:02:30.500000Z", 30.5, output={"done": True}),
        ],
        "error_message": None,
    }  # fmt: skip


def test_the_timeline_of_a_failed_execution(get: Get) -> None:
    timeline = _ok(get, f"/api/workflows/executions/{E2}/timeline", spec.TIMELINE)
    assert timeline == {
        "execution_id": E2, "workflow_id": "wf-etl", "status": "failed",
        "started_at": "2024-01-15T11:00:00Z", "completed_at": "2024-01-15T11:00:45Z",
        "total_duration_seconds": 45.0, "step_count": 3, "completed_step_count": 1,
        "failed_step_count": 1, "skipped_step_count": 1,
        "step_timeline": [
            _step("initialize", "Initialize", 1, "completed", "2024-01-15T11:00:00Z", "2024-01-15T11:00:10Z",
                  10.0, output={"processed_records": 7}),
            _step("process", "Process", 2, "failed", "2024-01-15T11:00:10Z", "2024-01-15T11:00:45Z", 35.0,
                  error="Timeout exceeded"),
            _step("finalize", "Finalize", 3, "skipped", "2024-01-15T11:00:45Z", "2024-01-15T11:00:45Z", 0.0),
        ],
        "error_message": "Step 'process' failed",
    }  # fmt: skip


def test_the_timeline_of_a_running_execution(get: Get) -> None:
    timeline = _ok(get, f"/api/workflows/executions/{E3}/timeline", spec.TIMELINE)
    running = {**_step("initialize", "Initialize", 1, "running", "2024-01-15T12:00:00Z", None, None),
               "input_summary": None}  # fmt: skip
    assert timeline == {
        "execution_id": E3, "workflow_id": "wf-etl", "status": "running",
        "started_at": "2024-01-15T12:00:00Z", "completed_at": None, "total_duration_seconds": None,
        "step_count": 1, "completed_step_count": 0, "failed_step_count": 0, "skipped_step_count": 0,
        "step_timeline": [running], "error_message": None,
    }  # fmt: skip


def test_the_workflow_metrics(get: Get) -> None:
    response = get("/api/workflows/wf-etl/metrics")
    assert spec.shape_problems(response.json(), spec.METRICS) == []
    assert _spec_view(response.json(), spec.METRICS) == {
        "total_duration_seconds": 195.5, "success_rate": 50.0, "total_executions": 2,
        "successful_executions": 1, "failed_executions": 1, "average_duration_seconds": 97.75,
        "min_duration_seconds": 45.0, "max_duration_seconds": 150.5,
    }  # fmt: skip


def test_a_page_of_executions(get: Get) -> None:
    page = _ok(get, "/api/workflows/wf-etl/executions?skip=1&limit=2", spec.EXECUTIONS_PAGE)
    assert page == {
        "items": [
            {"id": E3, "workflow_id": "wf-etl", "execution_number": 3, "status": "running",
             "started_at": "2024-01-15T12:00:00Z", "completed_at": None, "duration": None,
             "input_variables": {"mode": "standard"}, "results": None,
             "created_at": "2024-01-15T11:59:58Z", "updated_at": "2024-01-15T12:00:00Z"},
            {"id": E2, "workflow_id": "wf-etl", "execution_number": 2, "status": "failed",
             "started_at": "2024-01-15T11:00:00Z", "completed_at": "2024-01-15T11:00:45Z", "duration": 45.0,
             "input_variables": {"mode": "fast"}, "results": {},
             "created_at": "2024-01-15T10:59:58Z", "updated_at": "2024-01-15T11:00:45Z"},
        ],
        "total": 4, "skip": 1, "limit": 2,
    }  # fmt: skip


def test_the_details_of_an_execution(get: Get) -> None:
    response = get(f"/api/workflows/executions/{E1}")
    assert spec.shape_problems(response.json(), spec.DETAILS) == []
    details = _ok(get, f"/api/workflows/executions/{E2}", spec.DETAILS)

    def step(n: int, step_id: str, status: str, start: str, end: str, seconds: float, output: Any) -> Any:
        return {
            "id": f"e2{n:014x}", "execution_id": E2, "step_id": step_id, "status": status,
            "started_at": start, "completed_at": end, "duration": seconds, "retry_count": 0,
            "output_data": output,
        }  # fmt: skip

    assert details == {
        "id": E2, "workflow_id": "wf-etl", "execution_number": 2, "status": "failed",
        "started_at": "2024-01-15T11:00:00Z", "completed_at": "2024-01-15T11:00:45Z", "duration": 45.0,
        "input_variables": {"mode": "fast"}, "results": {}, "error_message": "Step 'process' failed",
        "step_executions": [
            step(1, "initialize", "completed", "2024-01-15T11:00:00Z", "2024-01-15T11:00:10Z", 10.0,
                 {"processed_records": 7}),
            step(2, "process", "failed", "2024-01-15T11:00:10Z", "2024-01-15T11:00:45Z", 35.0, None),
            step(3, "finalize", "skipped", "2024-01-15T11:00:45Z", "2024-01-15T11:00:45Z", 0.0, None),
        ],
        "created_at": "2024-01-15T10:59:58Z", "updated_at": "2024-01-15T11:00:45Z",
    }  # fmt: skip


def test_another_workspaces_execution_is_not_found(get: Get) -> None:
    assert get(f"/api/workflows/executions/{B_ONLY}").status_code == 404
    assert get(f"/api/workflows/executions/{B_ONLY}/timeline").status_code == 404
    assert get(f"/api/workflows/executions/{'0' * 31}1").status_code == 404

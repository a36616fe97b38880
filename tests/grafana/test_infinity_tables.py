"""Every Infinity query of every dashboard, asked of the live backend, has the columns its panel selects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.grafana.conftest import Stack
from tests.grafana.support import INFINITY_UID, Target, load_dashboards, select, substitute, targets
from tests.grafana.traffic import FLAKY

INFINITY_TARGETS = [t for t in targets(load_dashboards()) if t.datasource_uid == INFINITY_UID]


def _values(stack: Stack) -> dict[str, str]:
    return {"workspace": "default", "workflow": FLAKY.workflow_id, "execution_id": stack.failed_execution}


def _rows(document: Any, root: str) -> list[dict[str, Any]]:
    node = select(document, root)
    rows = node if isinstance(node, list) else [node]  # Infinity turns one object into one row
    assert all(isinstance(r, dict) for r in rows)
    return rows


def _check_type(value: Any, kind: str) -> None:
    if value is None:
        return
    if kind == "number":
        assert isinstance(value, int | float) and not isinstance(value, bool), value
    elif kind == "timestamp":
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    elif kind == "boolean":
        assert isinstance(value, bool), value
    elif kind == "string":
        assert isinstance(value, str | int | float), value


def test_dashboards_use_infinity() -> None:
    assert len(INFINITY_TARGETS) >= 6
    urls = {t.query["url"].split("?")[0] for t in INFINITY_TARGETS}
    assert "/api/workflows/executions/${execution_id}/timeline" in urls


@pytest.mark.parametrize("target", INFINITY_TARGETS, ids=lambda t: f"{t.dashboard}:{t.where}")
def test_infinity_query_returns_selected_columns(stack: Stack, target: Target) -> None:
    query = target.query
    assert query["type"] == "json" and query["source"] == "url" and query["parser"] == "backend"
    assert query["url"].startswith("/api/"), "URLs are relative to the data source URL (the backend)"
    assert query.get("url_options", {}).get("method", "GET") == "GET"
    url = substitute(query["url"], _values(stack))
    response = stack.server.get(url)
    assert response.status_code == 200, (
        f"{target.dashboard} / {target.where}: GET {url} -> {response.status_code} {response.text[:300]}"
    )
    rows = _rows(response.json(), query.get("root_selector", ""))
    assert rows, f"{target.dashboard} / {target.where}: GET {url} returned no rows"
    assert query["columns"], "select columns explicitly: Infinity's automatic columns drift"
    for column in query["columns"]:
        selector = column["selector"]
        missing = [i for i, row in enumerate(rows) if selector.split(".")[0] not in row]
        assert not missing, f"{target.where}: column {selector!r} missing from rows {missing} of {url}"
        for row in rows:
            _check_type(select(row, selector), column["type"])
    if "_variable" in query:  # a query variable: first column is the text, second the value
        value_column = query["columns"][1]["selector"]
        assert stack.failed_execution in {row[value_column] for row in rows}


def test_recent_executions_filters(stack: Stack) -> None:
    everything = stack.server.get("/api/grafana/executions", params={"limit": 1000}).json()
    assert {r["execution_id"] for r in everything} >= set(stack.executions)
    flaky = stack.server.get("/api/grafana/executions", params={"workflow": FLAKY.workflow_id}).json()
    assert {r["workflow_id"] for r in flaky} == {FLAKY.workflow_id}
    assert (
        stack.server.get("/api/grafana/executions", params={"workflow": ".*", "limit": 1000}).json()
        == everything
    )
    failed = stack.server.get("/api/grafana/executions", params={"status": "failed"}).json()
    assert {r["execution_id"] for r in failed} == {e for r in stack.rounds for e in r.failed}
    starts = [r["started_at"] for r in everything if r["started_at"]]
    assert starts == sorted(starts, reverse=True)
    assert stack.server.get("/api/grafana/executions/0123/steps").status_code == 404


def test_step_payloads(stack: Stack) -> None:
    rows = stack.server.get(f"/api/grafana/executions/{stack.failed_execution}/steps").json()
    assert [r["step_id"] for r in rows] == ["extract", "transform", "load"]
    transform = rows[1]
    assert transform["attempts"] == 2 and transform["retry_count"] == 1 and transform["status"] == "completed"
    assert transform["input"] == '{"batch_size": 200, "source": "flaky_etl/transform"}'
    assert rows[2]["status"] == "failed" and rows[2]["error_message"] == "Load Data failed after 1 attempts"

"""The four spec endpoints answer with the spec's keys, types and nesting."""

from __future__ import annotations

import pytest

from tests.api import spec_examples as spec
from tests.api.client import Api
from tests.api.workflows import SEQUENCE


@pytest.fixture(scope="module")
def done(root: Api) -> tuple[Api, dict, dict]:
    ws = root.new_workspace()
    wf = ws.create_workflow(SEQUENCE)
    started = ws.execute(wf["id"], {"mode": "standard"})
    # Completed once the root span is in; its `workflow.execution.started` record travels
    # through the other (logs) exporter and may commit a moment later (DESIGN: any order).
    details = ws.wait_until(
        f"/api/workflows/executions/{started['id']}",
        lambda d: d["status"] == "completed" and len(d["status_history"]) == 3,
    )
    return ws, wf, details


def test_timeline_matches_spec(done: tuple[Api, dict, dict]) -> None:
    ws, wf, execution = done
    timeline = ws.ok(ws.get(f"/api/workflows/executions/{execution['id']}/timeline"))
    assert spec.shape_problems(timeline, spec.TIMELINE) == []
    assert timeline["execution_id"] == execution["id"]
    assert timeline["workflow_id"] == wf["id"]
    assert [s["step_order"] for s in timeline["step_timeline"]] == [1, 2, 3]
    assert [s["step_id"] for s in timeline["step_timeline"]] == ["initialize", "process", "finalize"]
    assert timeline["step_timeline"][0]["step_name"] == "Initialize"
    assert timeline["step_timeline"][0]["output_summary"] == {"processed_records": 100}
    assert timeline["step_count"] == timeline["completed_step_count"] == 3
    assert timeline["critical_path"] == ["initialize", "process", "finalize"]


def test_metrics_match_spec(done: tuple[Api, dict, dict]) -> None:
    ws, wf, _ = done
    metrics = ws.ok(ws.get(f"/api/workflows/{wf['id']}/metrics"))
    assert spec.shape_problems(metrics, spec.METRICS) == []
    assert metrics["total_executions"] == metrics["successful_executions"] == 1
    assert metrics["success_rate"] == 100.0


def test_executions_list_matches_spec(done: tuple[Api, dict, dict]) -> None:
    ws, wf, _ = done
    page = ws.ok(ws.get(f"/api/workflows/{wf['id']}/executions"))
    assert spec.shape_problems(page, spec.EXECUTIONS_PAGE) == []
    assert page["items"][0]["input_variables"] == {"mode": "standard"}


def test_details_match_spec(done: tuple[Api, dict, dict]) -> None:
    _, _, execution = done
    assert spec.shape_problems(execution, spec.DETAILS) == []
    assert [s["status"] for s in execution["step_executions"]] == ["completed"] * 3
    assert execution["step_executions"][0]["output_data"] == {"processed_records": 100}
    assert execution["results"]["initialize"] == {"processed_records": 100}
    assert [h["status"] for h in execution["status_history"]] == ["pending", "running", "completed"]


def test_openapi_names_the_spec_models(root: Api) -> None:
    schema = root.ok(root.get("/openapi.json"))
    names = set(schema["components"]["schemas"])
    assert {"WorkflowExecutionTimeline", "WorkflowStepTimelineEntry", "WorkflowMetricsSummary"} <= names
    timeline = schema["paths"]["/api/workflows/executions/{execution_id}/timeline"]["get"]
    ref = timeline["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/WorkflowExecutionTimeline")
    for path, methods in schema["paths"].items():
        if path.startswith("/api/"):
            for method, op in methods.items():
                ok = next(code for code in op["responses"] if code.startswith("2"))
                assert code_has_model(op["responses"][ok]) or ok == "204", (method, path)


def code_has_model(response: dict) -> bool:
    return "schema" in response.get("content", {}).get("application/json", {})

"""The response examples of ../shared/spec/telemetry-api.md, verbatim, and a shape check:
every key the spec shows is present with the same JSON type (timestamps as ISO 8601 UTC
with `Z`). Free-form payload objects are checked for being objects only."""

from __future__ import annotations

import re
from typing import Any

TIMELINE = {
    "execution_id": "exec-123", "workflow_id": "workflow-456", "status": "completed",
    "started_at": "2024-01-15T10:00:00Z", "completed_at": "2024-01-15T10:02:30Z",
    "total_duration_seconds": 150.5, "step_count": 3, "completed_step_count": 3,
    "failed_step_count": 0, "skipped_step_count": 0,
    "step_timeline": [
        {
            "step_id": "step-001", "step_name": "initialize", "step_order": 1, "status": "completed",
            "started_at": "2024-01-15T10:00:00Z", "completed_at": "2024-01-15T10:00:30Z",
            "duration_seconds": 30.0, "retry_count": 0, "error_message": None,
            "input_summary": {"data_size": 1024}, "output_summary": {"processed_records": 100},
        },
    ],
    "error_message": None,
}  # fmt: skip

METRICS = {
    "total_duration_seconds": 450.75, "success_rate": 85.5, "total_executions": 10,
    "successful_executions": 8, "failed_executions": 2, "average_duration_seconds": 45.075,
    "min_duration_seconds": 25.3, "max_duration_seconds": 120.5,
}  # fmt: skip

EXECUTIONS_PAGE = {
    "items": [
        {
            "id": "exec-001", "workflow_id": "workflow-456", "execution_number": 1, "status": "completed",
            "started_at": "2024-01-15T10:00:00Z", "completed_at": "2024-01-15T10:02:30Z", "duration": 150.0,
            "input_variables": {"mode": "standard"}, "results": {"output": "success"},
            "created_at": "2024-01-15T10:00:00Z", "updated_at": "2024-01-15T10:02:30Z",
        }
    ],
    "total": 10, "skip": 0, "limit": 10,
}  # fmt: skip

DETAILS = {
    "id": "exec-001", "workflow_id": "workflow-456", "execution_number": 1, "status": "completed",
    "started_at": "2024-01-15T10:00:00Z", "completed_at": "2024-01-15T10:02:30Z", "duration": 150.0,
    "input_variables": {"mode": "standard"}, "results": {"output": "success"}, "error_message": None,
    "step_executions": [
        {
            "id": "step-exec-001", "execution_id": "exec-001", "step_id": "step-001", "status": "completed",
            "started_at": "2024-01-15T10:00:00Z", "completed_at": "2024-01-15T10:00:30Z", "duration": 30.0,
            "retry_count": 0, "output_data": {"records": 100},
        }
    ],
    "created_at": "2024-01-15T10:00:00Z", "updated_at": "2024-01-15T10:02:30Z",
}  # fmt: skip

FREE_FORM = {"input_summary", "output_summary", "input_variables", "results", "output_data"}
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


def shape_problems(actual: Any, expected: Any, path: str = "$") -> list[str]:
    """Differences in keys and JSON types between a response and the spec's example."""
    key = path.rsplit(".", 1)[-1]
    if key in FREE_FORM:
        return [] if isinstance(actual, dict) else [f"{path}: expected an object, got {actual!r}"]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {type(actual).__name__}"]
        problems = [f"{path}.{k}: missing" for k in expected if k not in actual]
        for k, v in expected.items():
            if k in actual:
                problems += shape_problems(actual[k], v, f"{path}.{k}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path}: expected a list, got {type(actual).__name__}"]
        return (
            [p for item in actual for p in shape_problems(item, expected[0], f"{path}[]")] if expected else []
        )
    if expected is None:
        return [] if actual is None else [f"{path}: expected null, got {actual!r}"]
    if isinstance(expected, str) and ISO_UTC.match(expected):
        ok = isinstance(actual, str) and ISO_UTC.match(actual)
        return [] if ok else [f"{path}: expected an ISO 8601 UTC timestamp, got {actual!r}"]
    if isinstance(expected, bool) or isinstance(actual, bool):
        return [] if type(actual) is type(expected) else [f"{path}: expected {type(expected).__name__}"]
    if isinstance(expected, float):
        return [] if isinstance(actual, float) else [f"{path}: expected a float, got {actual!r}"]
    if isinstance(expected, int):
        return [] if isinstance(actual, int) else [f"{path}: expected an int, got {actual!r}"]
    if isinstance(expected, str):
        return [] if isinstance(actual, str) else [f"{path}: expected a string, got {actual!r}"]
    return []

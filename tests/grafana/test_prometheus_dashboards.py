"""Every PromQL expression of every dashboard runs on a real Prometheus scraping `serve`, with data."""

from __future__ import annotations

import math
import re

import pytest

from tests.grafana.conftest import Stack
from tests.grafana.support import (
    PROMETHEUS_UID,
    Target,
    grafana_regex,
    load_dashboards,
    query_result_lines,
    substitute,
    targets,
)
from tests.grafana.traffic import BASIC, FLAKY

PROM_TARGETS = [t for t in targets(load_dashboards()) if t.datasource_uid == PROMETHEUS_UID]
# What Grafana substitutes: the built-in intervals, and variables as a user would pick them.
VALUES = {
    "workspace": "default",
    "workflow": ".*",  # "All" (allValue)
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "10m",
}


def _finite(result: list[dict]) -> bool:
    return any(math.isfinite(float(series["value"][1])) for series in result)


@pytest.mark.parametrize(
    "target",
    [t for t in PROM_TARGETS if "_variable" not in t.query],
    ids=lambda t: f"{t.dashboard}:{t.where}:{t.query['refId']}",
)
def test_panel_promql_returns_data(stack: Stack, target: Target) -> None:
    for workflow in (".*", f"{FLAKY.workflow_id}"):
        expr = substitute(target.query["expr"], {**VALUES, "workflow": workflow})
        result = stack.prometheus.query(expr, at=stack.as_of)
        assert result, f"{target.dashboard} / {target.where}: no data for\n{expr}"
        assert _finite(result), f"{target.dashboard} / {target.where}: only NaN for\n{expr}\n{result}"
        if "collector" in target.dashboard:
            break  # no workflow variable there


def test_variables_yield_options(stack: Stack) -> None:
    variables = [t for t in PROM_TARGETS if "_variable" in t.query]
    assert {t.query["_variable"]["name"] for t in variables} >= {"workspace", "workflow"}
    for target in variables:
        variable = target.query["_variable"]
        query = substitute(target.query["query"], VALUES)
        if m := re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query):
            options = stack.prometheus.label_values(m.group(2), m.group(1))
            assert "default" in options, f"{variable['name']}: {options}"
        elif m := re.fullmatch(r"query_result\((.+)\)", query):
            lines = query_result_lines(stack.prometheus.query(m.group(1)))
            pattern = grafana_regex(variable["regex"])
            options = {mm["value"]: mm["text"] for line in lines if (mm := pattern.search(line))}
            expected = {BASIC.workflow_id: BASIC.name, FLAKY.workflow_id: FLAKY.name, **stack.examples}
            assert options == expected, lines
        else:
            raise AssertionError(f"unexpected variable query {query!r}")


def test_spanmetrics_connector_names_and_labels(stack: Stack) -> None:
    """The connector's exact metric names, label names and label values."""
    calls = stack.prometheus.query('traces_span_metrics_calls_total{service_name="shop-payments"}')
    labels = calls[0]["metric"]
    assert {"service_name", "span_name", "span_kind", "status_code"} <= labels.keys()
    assert (labels["span_name"], labels["span_kind"], labels["status_code"]) == (
        "POST /pay",
        "SPAN_KIND_SERVER",
        "STATUS_CODE_ERROR",
    )
    assert float(calls[0]["value"][1]) == 2  # one per plain SDK run
    buckets = stack.prometheus.query(
        'traces_span_metrics_duration_milliseconds_bucket{service_name="shop-payments"}'
    )
    bounds = sorted(float(s["metric"]["le"]) for s in buckets)
    assert bounds == [2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10000, 15000, math.inf]
    kinds = {s["metric"]["span_kind"] for s in stack.prometheus.query("traces_span_metrics_calls_total")}
    assert kinds >= {"SPAN_KIND_SERVER", "SPAN_KIND_CLIENT", "SPAN_KIND_INTERNAL"}


def test_workflow_metrics_count_what_was_sent(stack: Stack) -> None:
    by_status = {
        (s["metric"]["workflow"], s["metric"]["status"]): float(s["value"][1])
        for s in stack.prometheus.query("flowscope_workflow_executions_total")
    }
    runs = len(stack.rounds)
    assert {k: v for k, v in by_status.items() if k[0] not in stack.examples} == {
        (BASIC.workflow_id, "completed"): 3 * runs,
        (FLAKY.workflow_id, "completed"): 2 * runs,
        (FLAKY.workflow_id, "failed"): 1 * runs,
    }
    examples = sum(v for k, v in by_status.items() if k[0] in stack.examples)
    assert examples == len(stack.example_runs)
    retries = stack.prometheus.query(
        f'flowscope_workflow_step_retries_total{{workflow="{FLAKY.workflow_id}", step="transform"}}'
    )
    assert float(retries[0]["value"][1]) == 3 * runs  # one retry per run of the flaky step
    running = stack.prometheus.query("sum(flowscope_workflow_executions_running)")
    pending = stack.prometheus.query("sum(flowscope_workflow_executions_pending)")
    assert float(running[0]["value"][1]) == runs and float(pending[0]["value"][1]) == runs
    for series in stack.prometheus.query("{__name__=~'flowscope_workflow_.*'}"):
        assert not any("execution" in k and "id" in k for k in series["metric"]), series["metric"]


def test_backpressure_really_happened(stack: Stack) -> None:
    assert stack.refused > 0
    refused = stack.prometheus.query("sum(flowscope_collector_backpressure_total)")
    assert float(refused[0]["value"][1]) == stack.refused

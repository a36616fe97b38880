"""The two ways a committed batch is folded into the metrics (row by row for small batches,
vectorized for large ones) give the same exposition."""

from __future__ import annotations

import random
from typing import Any

import pyarrow as pa
import pytest
from flowscope.api.prometheus_metrics import SMALL_BATCH, WorkflowMetrics
from flowscope.storage.changes import CommittedBatch
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families


class _Store:
    def read(self, fn: Any) -> list[Any]:
        return []


class _Context:
    store = _Store()


def _spans(n: int, rng: random.Random) -> pa.Table:
    roles = [rng.choice([None, None, "step", "attempt", "execution"]) for _ in range(n)]
    bounds = [0, 2_000_000, 2_000_001, 10**9, 15 * 10**9]
    workflows = [rng.choice(["wf-a", "wf-b", None]) if r else None for r in roles]
    return pa.table({
        "workspace_id": [rng.choice(["default", "team"]) for _ in range(n)],
        "service_name": [rng.choice(["svc-a", "svc-b"]) for _ in range(n)],
        "name": [f"op {rng.randrange(4)}" for _ in range(n)],
        "kind": pa.array([rng.randrange(6) for _ in range(n)], pa.uint8()),
        "status_code": pa.array([rng.randrange(3) for _ in range(n)], pa.uint8()),
        # durations on and around bucket bounds: `le` is inclusive in both paths
        "duration_ns": pa.array(
            [rng.choice([*bounds, rng.randrange(2 * 10**10)]) for _ in range(n)],
            pa.int64(),
        ),
        "span_role": roles,
        "workflow_id": workflows,
        "step_id": [rng.choice(["s1", "s2", None]) if r == "step" else None for r in roles],
        "step_status": [rng.choice(["completed", "failed", None]) if r else None for r in roles],
        "retry_count": pa.array(
            [rng.choice([0, 1, 2, None]) if r == "step" else None for r in roles], pa.int32()
        ),
    })  # fmt: skip


def _samples(metrics: WorkflowMetrics) -> dict[tuple[Any, ...], float]:
    registry = CollectorRegistry()
    registry.register(metrics)
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_row_and_column_folds_agree(seed: int) -> None:
    rng = random.Random(seed)
    table = _spans(4 * SMALL_BATCH + 17, rng)
    by_rows, by_columns = WorkflowMetrics(_Context()), WorkflowMetrics(_Context())  # type: ignore[arg-type]
    for offset in range(0, table.num_rows, SMALL_BATCH):
        by_rows.on_batch(CommittedBatch(commit_seq=1, spans=table.slice(offset, SMALL_BATCH), log_count=0))
    by_columns.on_batch(CommittedBatch(commit_seq=1, spans=table, log_count=0))
    rows, columns = _samples(by_rows), _samples(by_columns)
    assert rows.keys() == columns.keys()
    for key, value in rows.items():
        assert value == pytest.approx(columns[key], rel=1e-9), key
    assert any(name == "flowscope_workflow_step_retries_total" for name, _ in rows)
    assert (
        sum(v for (name, _), v in rows.items() if name == "traces_span_metrics_calls_total") == table.num_rows
    )


def _try_row(retries: int) -> pa.Table:
    """One committed try of step `load` (the span columns the fold reads)."""
    return pa.table({
        "workspace_id": ["default"], "service_name": ["airflow"], "name": ["load"],
        "kind": pa.array([1], pa.uint8()), "status_code": pa.array([0], pa.uint8()),
        "duration_ns": pa.array([10**9], pa.int64()), "span_role": ["step"], "workflow_id": ["etl"],
        "step_id": ["load"], "step_status": ["completed"], "retry_count": pa.array([retries], pa.int32()),
    })  # fmt: skip


def test_a_step_retried_twice_counts_two_retries_when_each_try_replaced_the_one_before() -> None:
    """Airflow 3.2+ sends each try under the same span id, each replacing the stored one
    (storage/later_tries.py): tries with 0, 1 and 2 retries in three commits are 2 retries."""
    metrics = WorkflowMetrics(_Context())  # type: ignore[arg-type]
    replaced: pa.Table | None = None
    for retries in range(3):
        row = _try_row(retries)
        batch = CommittedBatch(commit_seq=retries + 1, spans=row, log_count=0, replaced_steps=replaced)
        metrics.on_batch(batch)
        replaced = row.select(["workspace_id", "workflow_id", "step_id", "retry_count"])
    retries_total = {
        labels: v for (name, labels), v in _samples(metrics).items()
        if name == "flowscope_workflow_step_retries_total"
    }  # fmt: skip
    assert retries_total == {(("step", "load"), ("workflow", "etl"), ("workspace", "default")): 2.0}


def test_another_lake_nodes_commits_are_not_counted_here() -> None:
    """A remote batch (another node's commit, read back by this node's lake follower) is that
    node's to count: summed across nodes, a commit must count once."""
    metrics, baseline = WorkflowMetrics(_Context()), WorkflowMetrics(_Context())  # type: ignore[arg-type]
    metrics.on_batch(CommittedBatch(commit_seq=1, spans=_try_row(0), log_count=0))
    baseline.on_batch(CommittedBatch(commit_seq=1, spans=_try_row(0), log_count=0))
    metrics.on_batch(CommittedBatch(commit_seq=1, spans=_try_row(1), log_count=0, remote=True))
    assert _samples(metrics) == _samples(baseline)

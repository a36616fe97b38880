"""Store.rebuild_rows: the derived rows converted again from the stored bytes are the rows
ingest made, and ingest after a rebuild keeps one row per execution."""

from __future__ import annotations

from typing import Any

from flowscope.collector.prepare import prepare
from flowscope.storage.interfaces import Store

from flowscope import conventions as c
from tests.storage.conformance import dataset
from tests.storage.conformance.otlp import RecordSpec, logs, write


def reads(store: Store) -> dict[str, Any]:
    """What readers answer about every execution of the dataset (both workspaces)."""
    out: dict[str, Any] = {}
    for workspace_id in (dataset.WS_A, dataset.WS_B):
        runs = dataset.runs(workspace_id)
        for run in runs:
            key = f"{workspace_id}/{run.execution_id}"
            out[key] = store.executions.records(workspace_id, run.execution_id)
        for workflow_id in sorted({run.workflow_id for run in runs}):
            out[f"{workspace_id}/{workflow_id}"] = store.executions.page(workspace_id, workflow_id, limit=100)
    return out


def test_a_rebuild_of_intact_rows_changes_nothing(new_store: Store) -> None:
    dataset.load(new_store)
    before = reads(new_store)
    assert all(v is not None for v in before.values())
    counts = new_store.rebuild_rows(prepare)
    assert (counts.spans_changed, counts.records_changed) == (0, 0)
    # every run has its row, a foreign tracer's known only from step spans too (running)
    assert counts.executions == len((*dataset.RUNS_A, *dataset.RUNS_B))
    assert reads(new_store) == before
    assert new_store.rebuild_rows(prepare) == counts  # idempotent


def test_ingest_after_a_rebuild_updates_the_rebuilt_row(new_store: Store) -> None:
    dataset.load(new_store)
    new_store.rebuild_rows(prepare)
    run = dataset.RUNS_A[3]  # E4: queued, never started
    root = dataset.span_id(run.execution_id, 0)
    started = RecordSpec(
        run.start_ns, "started", run.execution_id, root, c.EVENT_EXECUTION_STARTED,
        {c.WORKFLOW_ID: run.workflow_id, c.WORKFLOW_EXECUTION_ID: run.execution_id,
         c.EVENT_NAME: c.EVENT_EXECUTION_STARTED},
    )  # fmt: skip
    write(new_store, logs([started]), dataset.WS_A)
    page = new_store.executions.page(dataset.WS_A, run.workflow_id, limit=100)
    assert [r.execution_id for r in page.items].count(run.execution_id) == 1
    row = new_store.executions.execution(dataset.WS_A, run.execution_id)
    assert row is not None and row.status == "running"

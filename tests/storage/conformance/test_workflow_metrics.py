"""WorkflowMetricsReader (`store.workflow_metrics`, storage/workflow_metrics.py) on the fixed
dataset: exact aggregates, half-open windows, not-found, tenancy, ordering."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from flowscope.storage.interfaces import Store
from flowscope.storage.workflow_metrics import (
    DailyCount,
    DurationPoint,
    OpenCount,
    StepTotals,
    WorkflowSummaryRow,
    WorkflowTotals,
)
from pytest import approx

from tests.storage.conformance.dataset import (
    E1,
    E2,
    E4,
    HOUR,
    MIDRUN,
    R1,
    R2,
    RUNS_A,
    T0,
    WS_A,
    WS_B,
    S,
    records_of,
    spans_of,
)
from tests.storage.conformance.otlp import logs, traces, write

EVER = (0, 2**63 - 1)
DAY_OF_T0 = date(2024, 1, 15)
NOTHING = WorkflowTotals(0, 0, 0, 0, 0, 0, 0, 0.0, None, None, None, None, None, None, None)


def test_workflow_totals(loaded: Store) -> None:
    totals = loaded.workflow_metrics.workflow_totals(WS_A, "wf-etl", *EVER)
    # E1 completed in 150.5 s, E2 failed in 45 s, E3 running, E4 pending.
    assert totals == WorkflowTotals(
        finished=2, completed=1, failed=1, timeout=0, cancelled=0, running=1, pending=1,
        total_duration_seconds=195.5, average_duration_seconds=97.75, min_duration_seconds=45.0,
        max_duration_seconds=150.5, p50_duration_seconds=approx(97.75), p90_duration_seconds=approx(139.95),
        p95_duration_seconds=approx(145.225), p99_duration_seconds=approx(149.445),
    )  # fmt: skip


def test_the_window_is_half_open_on_start_else_queue_time(loaded: Store) -> None:
    totals = loaded.workflow_metrics.workflow_totals
    first = totals(WS_A, "wf-etl", T0, T0 + HOUR)  # E2 starts at T0 + 1 h: outside
    assert (first.finished, first.completed, first.failed, first.running, first.pending) == (1, 1, 0, 0, 0)
    assert (first.min_duration_seconds, first.p99_duration_seconds) == (150.5, 150.5)
    # E4 never started: its queue time (T0 + 3 h - 2 s) places it.
    pending = totals(WS_A, "wf-etl", T0 + 3 * HOUR - 2 * S, T0 + 3 * HOUR)
    assert (pending.finished, pending.running, pending.pending) == (0, 0, 1)


def test_unknown_or_foreign_workflows_have_nothing(loaded: Store) -> None:
    metrics = loaded.workflow_metrics
    assert metrics.workflow_totals(WS_A, "wf-unknown", *EVER) == NOTHING
    assert metrics.workflow_totals(WS_A, "wf-b-only", *EVER) == NOTHING
    b = metrics.workflow_totals(WS_B, "wf-etl", *EVER)
    assert (b.finished, b.failed, b.total_duration_seconds, b.running, b.pending) == (1, 1, 20.0, 0, 0)
    assert metrics.step_totals(WS_A, "wf-unknown", *EVER) == []
    assert metrics.step_totals(WS_A, "wf-b-only", *EVER) == []
    assert metrics.workflow_summaries("ws-conformance-nobody", *EVER) == []
    assert metrics.executions_per_day("ws-conformance-nobody", 0) == []
    durations = metrics.finished_durations(WS_A, "wf-b-only", *EVER, limit=10)
    assert (durations.points, durations.total) == ([], 0)


def test_step_totals_in_order_of_first_start(loaded: Store) -> None:
    steps = loaded.workflow_metrics.step_totals(WS_A, "wf-etl", *EVER)
    # initialize ran 30 s (E1) and 10 s (E2); process 90 s after a retry (E1), failed after
    # 35 s (E2); finalize ran 30.5 s (E1) and was skipped (E2, zero length).
    assert steps == [
        StepTotals("initialize", "Initialize", 2, 2, 0, 0, 0, 0, 0, 20.0, approx(20.0), approx(29.0), 30.0,
                   40.0, 195.5),
        StepTotals("process", "Process", 2, 1, 1, 0, 0, 1, 1, 62.5, approx(62.5), approx(87.25), 90.0,
                   125.0, 195.5),
        StepTotals("finalize", "Finalize", 2, 1, 0, 1, 0, 0, 0, 30.5, approx(30.5), approx(30.5), 30.5,
                   30.5, 195.5),
    ]  # fmt: skip
    late = loaded.workflow_metrics.step_totals(WS_A, "wf-etl", T0 + HOUR, EVER[1])  # E2's steps only
    assert [(s.step_id, s.runs, s.workflow_time_seconds) for s in late] == [
        ("initialize", 1, 45.0), ("process", 1, 45.0), ("finalize", 1, 45.0),
    ]  # fmt: skip


def test_workflow_summaries_by_name(loaded: Store) -> None:
    # Ordered by name; wf-midrun has none but its id (its step spans name no workflow name).
    etl, report, midrun = loaded.workflow_metrics.workflow_summaries(WS_A, *EVER)
    assert etl == WorkflowSummaryRow(
        "wf-etl", "etl", None, False, "etl-runner", E4, "pending", T0 + 3 * HOUR - 2 * S,
        running=1, pending=1, finished=2, completed=1,
        p50_duration_seconds=approx(97.75), p95_duration_seconds=approx(145.225),
    )  # fmt: skip
    assert (report.workflow_id, report.name) == ("wf-report", "report")
    assert (report.finished, report.completed) == (2, 2)
    # R1 and R2 were created at the same time: either is the newest (the contract names no tie rule).
    assert report.last_execution_id in (R1, R2) and report.last_created_ns == T0 + HOUR // 2 - 2 * S
    # A foreign tracer's run known only from its step span so far: running since that step.
    assert (midrun.workflow_id, midrun.name, midrun.last_execution_id, midrun.last_status) == (
        "wf-midrun", "wf-midrun", MIDRUN, "running",
    )  # fmt: skip
    assert (midrun.running, midrun.finished, midrun.last_created_ns) == (1, 0, T0 + 4 * HOUR + 3 * S)
    windowed = loaded.workflow_metrics.workflow_summaries(WS_A, T0 + HOUR, EVER[1])
    assert [(w.workflow_id, w.finished, w.running, w.pending) for w in windowed] == [
        ("wf-etl", 1, 1, 1), ("wf-report", 0, 0, 0), ("wf-midrun", 0, 1, 0),  # open counts: not windowed
    ]  # fmt: skip
    assert [w.workflow_id for w in loaded.workflow_metrics.workflow_summaries(WS_B, *EVER)] == [
        "wf-b-only", "wf-etl",  # "b-only" < "etl-b"
    ]  # fmt: skip


def test_a_catalogued_workflow_is_summarized_with_its_catalog_name(store: Store, workspace: str) -> None:
    ws = store.catalog.create_workspace(workspace, "Summaries")
    listed = store.catalog.create_workflow(
        ws.id, project_id=None, name="Alpha", description="d", definition={}
    )
    idle = store.catalog.create_workflow(ws.id, project_id=None, name="beta", description=None, definition={})
    run = replace(RUNS_A[0], workflow_id=listed.id)  # E1, as an execution of the catalogued workflow
    write(store, logs(records_of(run)), ws.id)
    write(store, traces(spans_of(run)), ws.id)
    alpha, beta = store.workflow_metrics.workflow_summaries(ws.id, *EVER)
    assert (alpha.workflow_id, alpha.name, alpha.description) == (listed.id, "Alpha", "d")
    assert (alpha.catalogued, alpha.last_execution_id, alpha.finished, alpha.completed) == (True, E1, 1, 1)
    assert beta == WorkflowSummaryRow(
        idle.id, "beta", None, True, None, None, None, None, 0, 0, 0, 0, None, None
    )


def test_executions_per_day(loaded: Store) -> None:
    per_day = loaded.workflow_metrics.executions_per_day
    assert sorted(per_day(WS_A, 0), key=lambda d: d.workflow_id) == [
        DailyCount("wf-etl", DAY_OF_T0, 4, 1), DailyCount("wf-midrun", DAY_OF_T0, 1, 0),
        DailyCount("wf-report", DAY_OF_T0, 2, 0),
    ]  # fmt: skip
    assert sorted(per_day(WS_A, T0 + HOUR), key=lambda d: d.workflow_id) == [
        DailyCount("wf-etl", DAY_OF_T0, 3, 1), DailyCount("wf-midrun", DAY_OF_T0, 1, 0),
    ]  # at or after: E2, E3, E4, MIDRUN  # fmt: skip


def test_finished_durations_newest_then_returned_oldest_first(loaded: Store) -> None:
    durations = loaded.workflow_metrics.finished_durations
    both = durations(WS_A, "wf-etl", *EVER, limit=10)
    assert both.points == [
        DurationPoint(E1, 1, "completed", T0, 150.5), DurationPoint(E2, 2, "failed", T0 + HOUR, 45.0),
    ]  # fmt: skip
    assert both.total == 2
    newest = durations(WS_A, "wf-etl", *EVER, limit=1)
    assert ([p.execution_id for p in newest.points], newest.total) == ([E2], 2)
    early = durations(WS_A, "wf-etl", T0, T0 + HOUR, limit=10)
    assert ([p.execution_id for p in early.points], early.total) == ([E1], 1)


def test_open_counts_are_read_across_workspaces(loaded: Store) -> None:
    counts = sorted(
        loaded.workflow_metrics.open_counts(), key=lambda o: (o.workspace_id, o.workflow_id, o.status)
    )
    assert counts == [
        OpenCount(WS_A, "wf-etl", "pending", 1), OpenCount(WS_A, "wf-etl", "running", 1),
        OpenCount(WS_A, "wf-midrun", "running", 1), OpenCount(WS_B, "wf-b-only", "pending", 1),
    ]  # fmt: skip

"""ExecutionReader (`store.executions`, storage/executions.py) on the fixed dataset: exact rows,
not-found, tenancy, ordering and paging."""

from __future__ import annotations

import pytest
from flowscope.storage.executions import Attempt, ExecutionRow, ExecutionStep, LinkTarget, LogRow
from flowscope.storage.interfaces import Store

from tests.storage.conformance.dataset import (
    APP_RECORD,
    B2,
    B_ONLY,
    E1,
    E2,
    E3,
    E4,
    HOUR,
    MIDRUN,
    PLAIN_TRACE,
    R1,
    R2,
    RUNS_A,
    RUNS_B,
    T0,
    WS_A,
    WS_B,
    S,
    span_id,
)

NOBODY = "ws-conformance-nobody"
E1_ROW = ExecutionRow(
    E1, "wf-etl", "etl", "proj-1", 1, "completed", 3, T0 - 2 * S, T0, T0 + 150_500_000_000, 150.5,
    '{"mode": "standard"}', '{"output": "success"}', None, span_id(E1, 0), "etl-runner",
)  # fmt: skip
E2_ROW = ExecutionRow(
    E2, "wf-etl", "etl", "proj-1", 2, "failed", 3, T0 + HOUR - 2 * S, T0 + HOUR, T0 + HOUR + 45 * S, 45.0,
    '{"mode": "fast"}', "{}", "Step 'process' failed", span_id(E2, 0), "etl-runner",
)  # fmt: skip
E3_ROW = ExecutionRow(
    E3, "wf-etl", "etl", "proj-1", 3, "running", 2, T0 + 2 * HOUR - 2 * S, T0 + 2 * HOUR, None, None,
    '{"mode": "standard"}', None, None, None, "etl-runner",
)  # fmt: skip
E4_ROW = ExecutionRow(
    E4, "wf-etl", "etl", "proj-1", 4, "pending", 1, T0 + 3 * HOUR - 2 * S, None, None, None,
    '{"mode": "thorough"}', None, None, None, "etl-runner",
)  # fmt: skip
B_E1_ROW = ExecutionRow(
    E1, "wf-etl", "etl-b", "proj-b", 1, "failed", 3, T0 + 298 * S, T0 + 300 * S, T0 + 320 * S, 20.0,
    '{"mode": "b"}', "{}", "Step 'process' failed", span_id(E1, 0), "etl-runner",
)  # fmt: skip


def _ids(rows: list[ExecutionRow]) -> list[str]:
    return [r.execution_id for r in rows]


def test_an_execution_is_its_summary_row(loaded: Store) -> None:
    read = loaded.executions.execution
    assert [read(WS_A, e) for e in (E1, E2, E3, E4)] == [E1_ROW, E2_ROW, E3_ROW, E4_ROW]
    assert read(WS_B, E1) == B_E1_ROW  # the same id in another workspace is another execution


RUNS = {WS_A: RUNS_A, WS_B: RUNS_B, NOBODY: ()}


@pytest.mark.parametrize("workspace_id", list(RUNS))
def test_nothing_of_another_workspace_is_visible(loaded: Store, workspace_id: str) -> None:
    ex = loaded.executions
    everyone = [r for runs in RUNS.values() for r in runs]
    own = RUNS[workspace_id]
    for execution_id in {r.execution_id for r in everyone} - {r.execution_id for r in own}:
        assert ex.execution(workspace_id, execution_id) is None
        assert ex.records(workspace_id, execution_id) is None
        page = ex.logs(workspace_id, execution_id)
        assert (page.items, page.total) == ([], 0)
    for workflow_id in {r.workflow_id for r in everyone} - {r.workflow_id for r in own}:
        assert ex.workflow_seen(workspace_id, workflow_id) is False
        page = ex.page(workspace_id, workflow_id)
        assert (page.items, page.total) == ([], 0)


def test_not_found_is_none_or_empty(loaded: Store) -> None:
    ex = loaded.executions
    unknown = "0123456789abcdef" * 2
    assert ex.execution(WS_A, unknown) is None
    assert ex.records(WS_A, unknown) is None
    logs = ex.logs(WS_A, unknown)
    assert (logs.items, logs.total) == ([], 0)
    page = ex.page(WS_A, "wf-unknown")
    assert (page.items, page.total) == ([], 0)
    assert ex.workflow_seen(WS_A, "wf-unknown") is False
    assert ex.open_executions("no-such-service") == []


def test_records_of_a_finished_execution(loaded: Store) -> None:
    records = loaded.executions.records(WS_A, E1)
    assert records is not None
    assert records.row == E1_ROW
    assert records.root_attributes["workflow.status"] == "completed"
    assert records.root_attributes["workflow.execution.number"] == 1
    assert records.root_attributes["workflow.results"] == '{"output": "success"}'
    process = span_id(E1, 2)
    assert records.steps == (
        ExecutionStep(
            "initialize", "Initialize", "completed", 1, span_id(E1, 1), T0, T0 + 30 * S, 0, None,
            '{"order": 1}', '{"processed_records": 100}', depends_declared=True,
        ),
        ExecutionStep(
            "process", "Process", "completed", 2, process, T0 + 30 * S, T0 + 120 * S, 1, None,
            '{"order": 2}', '{"results": "success"}', depends_on=("initialize",), depends_declared=True,
            attempts=(
                Attempt(span_id(E1, 21), process, T0 + 30 * S, T0 + 50 * S, "failed", "flaky"),
                Attempt(span_id(E1, 22), process, T0 + 55 * S, T0 + 120 * S, "completed", None),
            ),
        ),
        ExecutionStep(
            "finalize", "Finalize", "completed", 3, span_id(E1, 3), T0 + 120 * S, T0 + 150_500_000_000, 0,
            None, '{"order": 3}', '{"done": true}', depends_on=("process",), depends_declared=True,
        ),
    )  # fmt: skip
    # Oldest first; a terminal execution's records carry no attributes (its spans tell all).
    times = [r.time_ns for r in records.lifecycle]
    assert times == sorted(times)
    assert sorted((r.time_ns, r.event_name, r.span_id, r.step_id) for r in records.lifecycle) == [
        (T0 - 2 * S, "workflow.execution.queued", span_id(E1, 0), None),
        (T0, "workflow.execution.started", span_id(E1, 0), None),
        (T0, "workflow.step.started", span_id(E1, 1), "initialize"),
        (T0 + 30 * S, "workflow.step.started", span_id(E1, 2), "process"),
        (T0 + 120 * S, "workflow.step.started", span_id(E1, 3), "finalize"),
    ]
    assert all(r.attributes == {} for r in records.lifecycle)


def test_records_of_a_failed_execution_name_the_failed_and_skipped_steps(loaded: Store) -> None:
    records = loaded.executions.records(WS_A, E2)
    assert records is not None and records.row == E2_ROW
    steps = [(s.step_id, s.status, s.start_ns, s.end_ns, s.error_message) for s in records.steps]
    assert steps == [
        ("initialize", "completed", T0 + HOUR, T0 + HOUR + 10 * S, None),
        ("process", "failed", T0 + HOUR + 10 * S, T0 + HOUR + 45 * S, "Timeout exceeded"),
        ("finalize", "skipped", T0 + HOUR + 45 * S, T0 + HOUR + 45 * S, None),
    ]


def test_records_of_a_running_execution_carry_their_attributes(loaded: Store) -> None:
    records = loaded.executions.records(WS_A, E3)
    assert records is not None
    assert (records.row, records.root_attributes, records.steps) == (E3_ROW, {}, ())
    assert [(r.event_name, r.step_id) for r in records.lifecycle] == [
        ("workflow.execution.queued", None),
        ("workflow.execution.started", None),
        ("workflow.step.started", "initialize"),
    ]
    step = records.lifecycle[2].attributes
    assert (step["workflow.step.id"], step["workflow.step.name"], step["workflow.step.order"]) == (
        "initialize", "Initialize", 1,
    )  # fmt: skip
    assert records.lifecycle[0].attributes["workflow.input"] == '{"mode": "standard"}'


def test_an_execution_known_only_from_step_spans_is_running(loaded: Store) -> None:
    records = loaded.executions.records(WS_A, MIDRUN)
    assert records is not None
    row = records.row
    assert (row.execution_id, row.workflow_id, row.status, row.started_ns) == (
        MIDRUN, "wf-midrun", "running", T0 + 4 * HOUR + 3 * S,
    )  # fmt: skip
    assert [(s.step_id, s.status) for s in records.steps] == [("fetch", "completed")]
    assert records.lifecycle == ()
    # Its step span made its summary at ingest, so lists show it running like any other.
    summary = loaded.executions.execution(WS_A, MIDRUN)
    assert summary is not None
    assert (summary.status, summary.started_ns, summary.ended_ns, summary.root_span_id) == (
        "running", T0 + 4 * HOUR + 3 * S, None, None,
    )  # fmt: skip
    assert [r.execution_id for r in loaded.executions.page(WS_A, "wf-midrun").items] == [MIDRUN]


def test_the_same_execution_id_in_another_workspace_has_its_own_records(loaded: Store) -> None:
    records = loaded.executions.records(WS_B, E1)
    assert records is not None and records.row == B_E1_ROW
    assert [(s.step_id, s.status) for s in records.steps] == [
        ("initialize", "completed"),
        ("process", "failed"),
    ]
    assert records.root_attributes["workflow.name"] == "etl-b"


def test_logs_are_oldest_first_and_decoded(loaded: Store) -> None:
    page = loaded.executions.logs(WS_A, E1)
    assert page.total == 6
    times = [r.time_ns for r in page.items]
    assert times == sorted(times) and len(times) == 6
    assert page.items[0] == LogRow(
        T0 - 2 * S, T0 - 2 * S, 9, "", "Execution of 'etl' queued", "workflow.execution.queued",
        span_id(E1, 0), None, "etl-runner", page.items[0].attributes,
    )  # fmt: skip
    assert page.items[0].attributes["workflow.execution.number"] == 1
    app = next(r for r in page.items if r.body == APP_RECORD.body)
    assert app == LogRow(
        T0 + 60 * S, T0 + 60 * S, 13, "", "processing batch 3", None, span_id(E1, 22), None, "etl-runner", {}
    )
    assert {r.body for r in loaded.executions.logs(WS_B, E1).items} == {
        "Execution of 'etl-b' queued", "Execution of 'etl-b' started",
        "Step 'initialize' started", "Step 'process' started",
    }  # fmt: skip


def test_logs_page_in_a_fixed_order(loaded: Store) -> None:
    logs = loaded.executions.logs
    everything = logs(WS_A, E1).items
    pages = [logs(WS_A, E1, skip=k, limit=2) for k in range(0, 6, 2)]
    assert [r for p in pages for r in p.items] == everything  # ties (two records at T0) included
    assert {p.total for p in pages} == {6}
    beyond = logs(WS_A, E1, skip=6, limit=2)
    assert (beyond.items, beyond.total) == ([], 6)


def test_logs_of_one_step(loaded: Store) -> None:
    logs = loaded.executions.logs
    named = logs(WS_A, E1, step_id="process")
    assert [r.body for r in named.items] == ["Step 'process' started"] and named.total == 1
    spans = (span_id(E1, 2), span_id(E1, 21), span_id(E1, 22))
    inside = logs(WS_A, E1, step_id="process", span_ids=spans)
    assert [r.body for r in inside.items] == ["Step 'process' started", "processing batch 3"]
    assert inside.total == 2


def test_a_page_is_newest_first_with_the_total(loaded: Store) -> None:
    page = loaded.executions.page
    full = page(WS_A, "wf-etl")
    assert (full.items, full.total) == ([E4_ROW, E3_ROW, E2_ROW, E1_ROW], 4)
    middle = page(WS_A, "wf-etl", skip=1, limit=2)
    assert (_ids(middle.items), middle.total) == ([E3, E2], 4)
    assert page(WS_A, "wf-etl", limit=0).items == [] and page(WS_A, "wf-etl", limit=0).total == 4
    assert (page(WS_A, "wf-etl", skip=4).items, page(WS_A, "wf-etl", skip=4).total) == ([], 4)
    failed = page(WS_A, "wf-etl", status="failed")
    assert (failed.items, failed.total) == ([E2_ROW], 1)
    assert page(WS_A, "wf-etl", status="cancelled").total == 0
    b = page(WS_B, "wf-etl")
    assert (b.items, b.total) == ([B_E1_ROW], 1)


def test_a_tie_in_creation_time_puts_the_later_stored_first(loaded: Store) -> None:
    page = loaded.executions.page(WS_A, "wf-report")
    assert (_ids(page.items), page.total) == ([R2, R1], 2)


def test_workflow_seen(loaded: Store) -> None:
    seen = loaded.executions.workflow_seen
    assert [seen(WS_A, w) for w in ("wf-etl", "wf-report", "wf-b-only")] == [True, True, False]
    assert [seen(WS_B, w) for w in ("wf-etl", "wf-b-only", "wf-report")] == [True, True, False]


def test_open_executions_are_read_across_workspaces(loaded: Store) -> None:
    found = sorted(
        loaded.executions.open_executions("etl-runner"), key=lambda o: (o.workspace_id, o.execution_id)
    )
    assert [(o.workspace_id, o.execution_id, o.workflow_id, o.execution_number, o.start_ns, o.root_span_id)
            for o in found] == [
        (WS_A, E3, "wf-etl", 3, T0 + 2 * HOUR, span_id(E3, 0)),
        (WS_A, E4, "wf-etl", 4, T0 + 3 * HOUR - 2 * S, span_id(E4, 0)),
        (WS_B, B2, "wf-b-only", 2, T0 + HOUR - 2 * S, span_id(B2, 0)),
    ]  # fmt: skip
    assert B_ONLY not in {o.execution_id for o in found}


def test_link_target_names_the_workspaces_execution_and_step(loaded: Store) -> None:
    """What a link to span `span_id` of trace `trace_id` points at (issue 13: `triggered_by`)."""
    target = loaded.executions.link_target
    assert target(WS_A, E1, span_id(E1, 1)) == LinkTarget(E1, "initialize")  # a step span
    assert target(WS_A, E1, span_id(E1, 22)) == LinkTarget(E1, "process")  # an attempt span
    assert target(WS_A, E1, span_id(E1, 0)) == LinkTarget(E1, None)  # the root span: no step
    assert target(WS_A, E1, span_id(E1, 99)) == LinkTarget(E1, None)  # not stored (yet)
    assert target(WS_A, E4, span_id(E4, 1)) == LinkTarget(E4, None)  # pending: no spans, a summary
    assert target(WS_A, MIDRUN, span_id(MIDRUN, 1)) == LinkTarget(MIDRUN, "fetch")
    assert target(WS_A, PLAIN_TRACE, "ab00000000000001") == LinkTarget(None, None)  # no execution
    assert loaded.executions.records(WS_A, E1).root_links == ()  # type: ignore[union-attr]


def test_link_target_sees_nothing_of_another_workspace(loaded: Store) -> None:
    target = loaded.executions.link_target
    assert target(WS_A, B_ONLY, span_id(B_ONLY, 1)) == LinkTarget(None, None)
    assert target(NOBODY, E1, span_id(E1, 1)) == LinkTarget(None, None)
    # B's E1 has two steps; the span of A's third one is not B's.
    assert target(WS_B, E1, span_id(E1, 3)) == LinkTarget(E1, None)
    assert target(WS_B, E1, span_id(E1, 2)) == LinkTarget(E1, "process")

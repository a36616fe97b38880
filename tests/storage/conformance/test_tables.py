"""TableReader (`store.tables`, storage/tables.py) on the fixed dataset: recent executions
(ordering, filters, limit, tenancy) and step attempts."""

from __future__ import annotations

from flowscope.storage.executions import Attempt
from flowscope.storage.interfaces import Store
from flowscope.storage.tables import RecentExecution, StepAttempts

from tests.storage.conformance.dataset import (
    B2,
    B_ONLY,
    E1,
    E2,
    E3,
    E4,
    HOUR,
    MIDRUN,
    R1,
    R2,
    T0,
    WS_A,
    WS_B,
    S,
    span_id,
)


def _ids(rows: list[RecentExecution]) -> list[str]:
    return [r.execution_id for r in rows]


def test_recent_executions_newest_first_by_start_else_queue_time(loaded: Store) -> None:
    recent = loaded.tables.recent_executions
    newest = recent(WS_A, limit=4)
    assert newest == [
        # a foreign tracer's run known from its step span so far: running since that step
        RecentExecution(MIDRUN, "wf-midrun", None, None, "running", T0 + 4 * HOUR + 3 * S, None, None, None),
        RecentExecution(E4, "wf-etl", "etl", 4, "pending", T0 + 3 * HOUR - 2 * S, None, None, None),
        RecentExecution(E3, "wf-etl", "etl", 3, "running", T0 + 2 * HOUR, None, None, None),
        RecentExecution(E2, "wf-etl", "etl", 2, "failed", T0 + HOUR, T0 + HOUR + 45 * S, 45.0,
                        "Step 'process' failed"),
    ]  # fmt: skip
    every = _ids(recent(WS_A, limit=100))
    assert every[:4] == [MIDRUN, E4, E3, E2] and every[6:] == [E1]
    assert set(every[4:6]) == {R1, R2}  # a tie
    assert recent(WS_A, limit=0) == []


def test_recent_executions_filtered_by_workflow_and_status(loaded: Store) -> None:
    recent = loaded.tables.recent_executions
    assert set(_ids(recent(WS_A, workflow_ids=["wf-report"], limit=10))) == {R1, R2}
    assert _ids(recent(WS_A, workflow_ids=["wf-report", "wf-etl"], status="failed", limit=10)) == [E2]
    assert recent(WS_A, workflow_ids=["wf-b-only"], limit=10) == []
    assert recent(WS_A, status="timeout", limit=10) == []


def test_recent_executions_of_another_workspace(loaded: Store) -> None:
    recent = loaded.tables.recent_executions
    assert _ids(recent(WS_B, limit=10)) == [B2, E1, B_ONLY]
    assert recent(WS_B, workflow_ids=["wf-etl"], limit=10)[0].workflow_name == "etl-b"
    assert recent("ws-conformance-nobody", limit=10) == []


def test_step_attempts(loaded: Store) -> None:
    process = span_id(E1, 2)
    assert loaded.tables.step_attempts(WS_A, E1) == [
        StepAttempts("process", process, (
            Attempt(span_id(E1, 21), process, T0 + 30 * S, T0 + 50 * S, "failed", "flaky"),
            Attempt(span_id(E1, 22), process, T0 + 55 * S, T0 + 120 * S, "completed", None),
        )),
    ]  # fmt: skip
    assert loaded.tables.step_attempts(WS_A, E2) == []  # steps without attempt spans
    assert loaded.tables.step_attempts(WS_B, E1) == []  # the same id in another workspace
    assert loaded.tables.step_attempts(WS_A, "0123456789abcdef" * 2) == []

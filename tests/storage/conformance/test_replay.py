"""ReplayReader (`store.replay`, storage/replay.py): a workflow's history as the change feed
carried it, which executions are active after a time, the most recently active first."""

from __future__ import annotations

from flowscope.storage.changes import CommittedBatch, WorkflowLogRecord, WorkflowSpan
from flowscope.storage.interfaces import Store
from flowscope.storage.replay import WorkflowHistory

from flowscope import conventions as c
from tests.storage.conformance import dataset as d
from tests.storage.conformance.otlp import logs, traces, write

EVENTS = sorted(c.LIFECYCLE_EVENTS)
EMPTY = WorkflowHistory([], [], False)


def _history(store: Store, since_ns: int, workflow_id: str = "wf-etl", workspace_id: str = d.WS_A,
             events: list[str] = EVENTS, max_executions: int = 10) -> WorkflowHistory:  # fmt: skip
    return store.replay.workflow_history(workspace_id, workflow_id, since_ns, events, max_executions)


def _executions(history: WorkflowHistory) -> tuple[set[str], set[str]]:
    """The executions (trace ids) of the history's spans, and of its records."""
    return {s.trace_id for s in history.spans}, {r.trace_id for r in history.records}


def test_the_history_is_what_the_change_feed_carried(
    store: Store, workspace: str, feed: list[CommittedBatch]
) -> None:
    for run in d.RUNS_A[:3]:  # E1 completed, E2 failed, E3 running
        write(store, logs(d.records_of(run)), workspace)
        if run.status:
            write(store, traces(d.spans_of(run)), workspace)
    store.changes.flush()
    history = _history(store, 0, workspace_id=workspace)
    announced_spans = [s for b in feed for s in b.workflow_spans if s.role != "attempt"]
    announced_records = [r for b in feed for r in b.workflow_logs if r.event_name in EVENTS]

    def by_span(s: WorkflowSpan) -> str:
        return s.span_id

    def by_hash(r: WorkflowLogRecord) -> int:
        return r.record_hash

    assert len(announced_spans) == 8 and len(announced_records) == 12
    assert sorted(history.spans, key=by_span) == sorted(announced_spans, key=by_span)
    assert sorted(history.records, key=by_hash) == sorted(announced_records, key=by_hash)
    assert history.truncated is False


def test_every_active_execution_is_read_whole(loaded: Store) -> None:
    history = _history(loaded, 0)
    assert _executions(history) == ({d.E1, d.E2}, {d.E1, d.E2, d.E3, d.E4})
    assert len(history.spans) == 8  # roots and steps, no attempts
    assert {s.role for s in history.spans} == {"execution", "step"}
    assert len(history.records) == 13
    assert {r.workspace_id for r in history.records} | {s.workspace_id for s in history.spans} == {d.WS_A}


def test_active_means_after_since_strictly(loaded: Store) -> None:
    e2_end = d.T0 + d.HOUR + 45 * d.S
    # E2 ended exactly then: no longer active. E3 (running) and E4 (pending) are, with their
    # records from before `since` too.
    later = _history(loaded, e2_end)
    assert _executions(later) == (set(), {d.E3, d.E4})
    assert len(later.records) == 4
    assert _executions(_history(loaded, e2_end - 1)) == ({d.E2}, {d.E2, d.E3, d.E4})
    assert _executions(_history(loaded, d.T0 + 5 * d.HOUR)) == (set(), {d.E3, d.E4})  # unfinished: active


def test_the_most_recently_active_executions_first(loaded: Store) -> None:
    newest = _history(loaded, 0, max_executions=1)  # E4, queued last
    assert (_executions(newest), newest.truncated) == ((set(), {d.E4}), True)
    two = _history(loaded, 0, max_executions=2)
    assert (_executions(two), two.truncated) == ((set(), {d.E3, d.E4}), True)


def test_only_the_records_asked_for(loaded: Store) -> None:
    queued = _history(loaded, 0, events=[c.EVENT_EXECUTION_QUEUED])
    assert sorted(r.trace_id for r in queued.records) == sorted([d.E1, d.E2, d.E3, d.E4])
    assert {r.event_name for r in queued.records} == {c.EVENT_EXECUTION_QUEUED}
    assert len(queued.spans) == 8


def test_unknown_or_foreign_workflows_have_no_history(loaded: Store) -> None:
    assert _history(loaded, 0, workflow_id="wf-unknown") == EMPTY
    assert _history(loaded, 0, workflow_id="wf-b-only") == EMPTY
    assert _history(loaded, d.T0 + 5 * d.HOUR, workflow_id="wf-report") == EMPTY  # none active then
    b = _history(loaded, 0, workspace_id=d.WS_B)
    assert _executions(b) == ({d.E1}, {d.E1}) and len(b.spans) == 3 and len(b.records) == 4
    assert {s.workspace_id for s in b.spans} == {d.WS_B}
    assert {s.attributes.get("workflow.name") for s in b.spans if s.role == "execution"} == {"etl-b"}

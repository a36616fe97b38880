"""ChangeFeed: what each commit stored, after it is durable, in commit order, to every
subscriber on its own thread; a slow or failing subscriber delays only itself."""

from __future__ import annotations

import threading

from flowscope.collector.prepare import prepared_request
from flowscope.storage.changes import CommittedBatch
from flowscope.storage.executions import ExecutionRow
from flowscope.storage.interfaces import Store

from tests.storage.conformance import dataset
from tests.storage.conformance.otlp import ACK_TIMEOUT, SpanSpec, items, logs, submit, traces, write

T = dataset.T0


def _request(k: int) -> object:
    trace = f"c{k:031x}"
    return traces([SpanSpec(trace, f"c{k:015x}", f"op {k}", T + k, T + k + 10)])


def test_a_commit_is_announced_after_its_ack_with_what_it_stored(store: Store, workspace: str) -> None:
    run = dataset.RUNS_A[0]
    message = traces(dataset.spans_of(run))
    request = prepared_request("traces", message, workspace, items(message))
    seen: list[tuple[bool, CommittedBatch]] = []
    visible: list[ExecutionRow | None] = []

    def subscriber(batch: CommittedBatch) -> None:
        seen.append((request.future.done(), batch))
        visible.append(store.executions.execution(workspace, dataset.E1))

    unsubscribe = store.changes.subscribe(subscriber)
    store.writer.submit(request).result(ACK_TIMEOUT)
    write(store, logs(dataset.records_of(run)), workspace)
    store.changes.flush()
    unsubscribe()
    assert [acked for acked, _ in seen] == [True, True]
    assert visible[0] is not None and visible[0].status == "completed"  # readable when announced
    spans, records = seen[0][1], seen[1][1]
    assert spans.spans is not None and spans.spans.num_rows == 6 and spans.log_count == 0
    roles = sorted((s.role, s.name) for s in spans.workflow_spans)
    assert roles == [
        ("attempt", "attempt 1"), ("attempt", "attempt 2"), ("execution", "RUN etl"),
        ("step", "Finalize"), ("step", "Initialize"), ("step", "Process"),
    ]  # fmt: skip
    root = next(s for s in spans.workflow_spans if s.role == "execution")
    assert (root.workspace_id, root.trace_id, root.span_id) == (
        workspace,
        dataset.E1,
        dataset.span_id(dataset.E1, 0),
    )
    assert (root.start_ns, root.end_ns) == (T, T + 150_500_000_000)
    assert root.attributes["workflow.status"] == "completed"
    assert records.spans is None and records.log_count == 5
    assert [r.event_name for r in records.workflow_logs] == [
        "workflow.execution.queued", "workflow.execution.started",
        "workflow.step.started", "workflow.step.started", "workflow.step.started",
    ]  # fmt: skip


def test_every_subscriber_sees_every_commit_in_order(store: Store, workspace: str) -> None:
    first: list[int] = []
    second: list[int] = []
    unsubscribe = [
        store.changes.subscribe(lambda b, out=out: out.append(b.commit_seq)) for out in (first, second)
    ]
    for k in range(10):
        write(store, _request(k), workspace)  # one commit each: every ack waits for its commit
    store.changes.flush()
    assert first == second
    assert len(first) == 10 and first == sorted(set(first))
    assert store.changes.dropped == 0
    for u in unsubscribe:
        u()


def test_an_unsubscribed_callback_gets_nothing_more(store: Store, workspace: str) -> None:
    got: list[CommittedBatch] = []
    unsubscribe = store.changes.subscribe(got.append)
    write(store, _request(1), workspace)
    store.changes.flush()
    unsubscribe()
    write(store, _request(2), workspace)
    store.changes.flush()
    assert len(got) == 1


def test_a_stuck_subscriber_never_stalls_the_writer(store: Store, workspace: str) -> None:
    release = threading.Event()
    unsubscribe = store.changes.subscribe(lambda batch: release.wait(ACK_TIMEOUT))
    got: list[int] = []
    unsubscribe_other = store.changes.subscribe(lambda batch: got.append(batch.commit_seq))
    try:
        for k in range(5):
            write(store, _request(k), workspace)  # each ack comes while the first subscriber is stuck
        futures = [submit(store, _request(k), workspace) for k in range(5, 10)]
        assert all(f.result(ACK_TIMEOUT).accepted == 1 for f in futures)
    finally:
        release.set()
    store.changes.flush()
    assert got and got == sorted(got)
    unsubscribe()
    unsubscribe_other()


def test_a_failing_subscriber_does_not_break_the_feed(store: Store, workspace: str) -> None:
    calls: list[int] = []
    got: list[int] = []

    def failing(batch: CommittedBatch) -> None:
        calls.append(batch.commit_seq)
        raise RuntimeError("a broken consumer")

    unsubscribe = [
        store.changes.subscribe(failing),
        store.changes.subscribe(lambda b: got.append(b.commit_seq)),
    ]
    for k in range(3):
        write(store, _request(k), workspace)
    store.changes.flush()
    assert calls == got and len(got) == 3  # the failing one is still called for every commit
    for u in unsubscribe:
        u()

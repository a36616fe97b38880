"""TelemetryWriter: acks, idempotent writes, durable acks, commit order, tenancy of writes."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from flowscope.collector.prepare import prepared_request
from flowscope.storage.batches import ExecutionNumbers
from flowscope.storage.changes import CommittedBatch
from flowscope.storage.errors import WriterStopped
from flowscope.storage.executions import ExecutionRow
from flowscope.storage.interfaces import Store

from tests.storage.conformance import dataset
from tests.storage.conformance.conftest import OpenStore, StoreFactory
from tests.storage.conformance.otlp import ACK_TIMEOUT, RecordSpec, SpanSpec, logs, submit, traces, write

T = dataset.T0
S = dataset.S
FAILED = {"workflow.status": "failed", "workflow.step.status": "failed"}


def _spans(trace: str, n: int, name: str = "op") -> list[SpanSpec]:
    return [SpanSpec(trace, f"{trace[:2]}{k + 1:014x}", f"{name}-{k}", T + k, T + k + 1000) for k in range(n)]


def _records(n: int, tag: str = "r") -> list[RecordSpec]:
    return [RecordSpec(T + k, f"{tag} {k}") for k in range(n)]


def committed(store: Store, batches: list[CommittedBatch]) -> tuple[int, int]:
    """Spans and log records the feed announced as stored so far."""
    store.changes.flush()
    return (
        sum(b.spans.num_rows for b in batches if b.spans is not None),
        sum(b.log_count for b in batches),
    )


def _counter(store: Store, name: str, signal: str) -> float:
    value = store.registry.get_sample_value(f"flowscope_collector_{name}_total", {"signal": signal})
    return value or 0.0


def test_an_ack_counts_valid_items_and_describes_invalid_ones(store: Store, workspace: str) -> None:
    good = _spans("a1" * 16, 3)
    bad = SpanSpec("a1" * 16, "00" * 8, "zero span id", T, T + 1)  # an all-zero span id is invalid
    outcome = write(store, traces([*good, bad]), workspace)
    assert (outcome.accepted, outcome.rejected) == (3, 1)
    assert "span_id" in outcome.error_message
    outcome = write(store, logs(_records(2)), workspace)
    assert (outcome.accepted, outcome.rejected, outcome.error_message) == (2, 0, "")


def test_a_request_sent_again_stores_nothing_new(new_store: Store) -> None:
    store = new_store  # a new store: its counters count only this test's writes
    feed: list[CommittedBatch] = []
    store.changes.subscribe(feed.append)
    spans, records = traces(_spans("a2" * 16, 5)), logs(_records(4))
    for _ in range(2):  # an exporter's retry: the same bytes again
        assert write(store, spans, "w").accepted == 5  # a duplicate is accepted, not rejected
        assert write(store, records, "w").accepted == 4
    assert committed(store, feed) == (5, 4)
    assert [_counter(store, "stored", s) for s in ("traces", "logs")] == [5, 4]
    assert [_counter(store, "duplicated", s) for s in ("traces", "logs")] == [5, 4]


def test_records_stored_before_are_dropped_from_a_request_mixing_them_with_new_ones(
    new_store: Store,
) -> None:
    """The engine exports the queued record the API committed again, along with new records:
    only the new ones are stored, and a record repeated within the request is stored once."""
    store = new_store
    feed: list[CommittedBatch] = []
    store.changes.subscribe(feed.append)
    old, new = _records(2, "old"), _records(3, "new")
    assert write(store, logs(old), "w").accepted == 2
    assert write(store, logs([*old, *new, new[0]]), "w").accepted == 6
    assert committed(store, feed) == (0, 5)
    assert [_counter(store, s, "logs") for s in ("stored", "duplicated")] == [5, 3]
    assert write(store, logs(old), "w-other").accepted == 2  # another workspace's: stored
    assert committed(store, feed) == (0, 7)


def test_a_span_repeated_within_one_request_is_stored_once(
    store: Store, workspace: str, feed: list[CommittedBatch]
) -> None:
    spans = _spans("a3" * 16, 2)
    assert write(store, traces([*spans, spans[0]]), workspace).accepted == 3
    assert committed(store, feed) == (2, 0)


def test_the_first_version_of_a_span_wins_with_its_facts(
    store: Store, workspace: str, feed: list[CommittedBatch]
) -> None:
    """A later span with the same ids (other content, even another start time) is dropped,
    and so are the workflow facts derived from it."""
    run = dataset.RUNS_A[0]
    write(store, traces(dataset.spans_of(run)), workspace)
    store.changes.flush()
    first = {s.span_id for b in feed for s in b.workflow_spans}
    assert len(first) == len(dataset.spans_of(run))
    before = store.executions.execution(workspace, run.execution_id)
    assert before is not None and before.status == "completed"
    feed.clear()
    moved = [
        replace(s, name=s.name + " v2", start_ns=s.start_ns + 7, attributes={**s.attributes, **FAILED})
        for s in dataset.spans_of(run)
    ]
    write(store, traces(moved), workspace)
    assert committed(store, feed) == (0, 0)
    assert [s for b in feed for s in b.workflow_spans] == []
    assert store.executions.execution(workspace, run.execution_id) == before


def test_the_same_ids_in_two_workspaces_are_two_spans(
    store: Store, workspace: str, feed: list[CommittedBatch]
) -> None:
    spans, records = traces(_spans("a4" * 16, 3)), logs(_records(2))
    for workspace_id in (f"{workspace}-1", f"{workspace}-2"):
        write(store, spans, workspace_id)
        write(store, records, workspace_id)
    assert committed(store, feed) == (6, 4)
    assert {b.spans.column("workspace_id")[0].as_py() for b in feed if b.spans is not None} == {
        f"{workspace}-1",
        f"{workspace}-2",
    }


def test_requests_commit_in_submission_order(
    store: Store, workspace: str, feed: list[CommittedBatch]
) -> None:
    futures = [submit(store, traces(_spans(f"{k:02x}" * 16, 2)), workspace) for k in range(1, 21)]
    for future in futures:
        future.result(30)
    store.changes.flush()
    seqs = [b.commit_seq for b in feed]
    assert seqs == sorted(set(seqs))
    order = [t for b in feed if b.spans is not None for t in b.spans.column("trace_id").to_pylist()]
    assert order == [f"{k:02x}" * 16 for k in range(1, 21) for _ in range(2)]


def test_an_ack_means_every_reader_sees_the_rows(store: Store, workspace: str) -> None:
    """Durable, for any store: once the future resolved, readers on any thread see the rows."""
    run = dataset.RUNS_A[0]
    write(store, logs(dataset.records_of(run)), workspace)
    write(store, traces(dataset.spans_of(run)), workspace)
    seen: list[ExecutionRow | None] = []

    def read() -> None:  # on a thread of its own
        seen.append(store.executions.execution(workspace, run.execution_id))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(ACK_TIMEOUT)
    assert len(seen) == 4 and seen[0] is not None and seen[0].status == "completed"
    assert seen == [seen[0]] * 4


def test_acknowledged_writes_survive_close_and_reopen(factory: StoreFactory, open_store: OpenStore) -> None:
    if not factory.persistent:
        pytest.skip("an in-memory store keeps nothing across close (durable = visible to readers)")
    store = open_store()
    run = dataset.RUNS_A[0]
    spans, records = traces(dataset.spans_of(run)), logs(dataset.records_of(run))
    write(store, records, "w")
    write(store, spans, "w")
    before = store.executions.records("w", run.execution_id)
    assert before is not None
    store.close()
    again = open_store()
    assert again.executions.records("w", run.execution_id) == before
    write(again, spans, "w")
    write(again, records, "w")
    assert [_counter(again, "stored", s) for s in ("traces", "logs")] == [0, 0]
    assert [_counter(again, "duplicated", s) for s in ("traces", "logs")] == [6, 5]


def test_close_commits_everything_already_submitted(factory: StoreFactory, open_store: OpenStore) -> None:
    store = open_store()
    requests = [traces(_spans(f"{k:02x}" * 16, 3)) for k in range(1, 31)]
    futures = [submit(store, r, "w") for r in requests]
    store.close()  # without waiting for any ack
    assert [f.result(0).accepted for f in futures] == [3] * 30
    if factory.persistent:
        again = open_store()
        for r in requests:
            write(again, r, "w")
        assert _counter(again, "duplicated", "traces") == 90


def test_a_closed_store_takes_no_writes_and_closes_once(new_store: Store) -> None:
    new_store.close()
    new_store.close()  # idempotent
    with pytest.raises(WriterStopped):
        submit(new_store, traces(_spans("a6" * 16, 1)), "w")


def test_an_empty_queue_takes_a_request_of_any_size(new_store: Store) -> None:
    assert new_store.writer.queued_items == 0
    too_many = new_store.writer.max_queue_items + 1
    assert new_store.writer.has_room(too_many)
    assert new_store.ping()


def test_execution_numbers_are_raised_with_the_rows(store: Store, workspace: str) -> None:
    ws = store.catalog.create_workspace(workspace, "Numbers")
    workflow = store.catalog.create_workflow(
        ws.id, project_id=None, name="w", description=None, definition={}
    )

    def write_numbered(trace: str, numbers: dict[str, int]) -> None:
        message = traces(_spans(trace, 1))
        request = prepared_request("traces", message, ws.id, 1)
        assert request.prepared is not None
        request.prepared.execution_numbers = ExecutionNumbers(ws.id, numbers)
        assert store.writer.submit(request).result(ACK_TIMEOUT).accepted == 1

    write_numbered("b1" * 16, {workflow.id: 5, "wf-not-catalogued": 3})
    stored = store.catalog.get_workflow(ws.id, workflow.id)
    assert stored is not None and stored.next_execution_number == 5
    assert store.catalog.get_workflow(ws.id, "wf-not-catalogued") is None  # ignored, not created
    write_numbered("b2" * 16, {workflow.id: 3})  # never lowered
    stored = store.catalog.get_workflow(ws.id, workflow.id)
    assert stored is not None and stored.next_execution_number == 5


def test_an_execution_stored_before_a_reopen_is_summarised_once(
    factory: StoreFactory, open_store: OpenStore
) -> None:
    """Facts about an execution stored before the store was opened (its records) fold into
    that summary when its root span arrives: one execution, finished, with both sides' facts."""
    if not factory.persistent:
        pytest.skip("an in-memory store keeps nothing across close")
    run = dataset.RUNS_A[0]
    store = open_store()
    write(store, logs(dataset.records_of(run)), "w")
    pending = store.executions.execution("w", run.execution_id)
    assert pending is not None and pending.status != "completed"
    store.close()
    again = open_store()
    write(again, traces(dataset.spans_of(run)), "w")
    done = again.executions.execution("w", run.execution_id)
    assert done is not None and done.status == "completed"
    assert done.queued_ns == pending.queued_ns and done.execution_number == run.number
    page = again.executions.page("w", run.workflow_id, limit=100)
    assert [row.execution_id for row in page.items] == [run.execution_id] and page.total == 1


# --- A later try of a step replaces the stored one (storage/later_tries.py) ------------------

TRY_SPAN = "7e" * 8


def _try(trace: str, retries: int, status: str, start: int, end: int) -> SpanSpec:
    """One try of step `load`: the same span ids each time, as Airflow 3.2+ sends them."""
    attrs = {"workflow.id": "wf-tries", "workflow.step.id": "load", "workflow.step.status": status,
             "workflow.step.retry_count": retries}  # fmt: skip
    return SpanSpec(trace, TRY_SPAN, "load", start, end, parent_span_id="7f" * 8, attributes=attrs)


def _step(store: Store, workspace: str, trace: str) -> tuple[str, int, int, int | None]:
    records = store.executions.records(workspace, trace)
    assert records is not None
    [step] = records.steps
    return step.status, step.retry_count, step.start_ns, step.end_ns


def _heard(store: Store, feed: list[CommittedBatch], trace: str) -> list[tuple[str, int]]:
    """(status, retries) of each version of the step the live feed announced."""
    store.changes.flush()
    return [
        (s.attributes["workflow.step.status"], s.attributes["workflow.step.retry_count"])
        for batch in feed for s in batch.workflow_spans if s.trace_id == trace
    ]  # fmt: skip


def test_a_later_try_of_a_step_replaces_the_earlier_one(new_store: Store) -> None:
    store, trace = new_store, "7a" * 16  # a new store: its counters count only this test's writes
    feed: list[CommittedBatch] = []
    store.changes.subscribe(feed.append)
    write(store, traces([_try(trace, 0, "failed", T, T + 10)]), "w")
    assert _step(store, "w", trace) == ("failed", 0, T, T + 10)
    # More retries, after a failed try, starting once it ended: its next try, which replaces it.
    write(store, traces([_try(trace, 1, "completed", T + 20, T + 30)]), "w")
    assert _step(store, "w", trace) == ("completed", 1, T + 20, T + 30)
    assert _counter(store, "duplicated", "traces") == 0  # replaced, not dropped
    # An exporter's retry of either try changes nothing (fewer or as many retries: a duplicate).
    retried = [_try(trace, 1, "completed", T + 20, T + 30), _try(trace, 0, "failed", T, T + 10)]
    write(store, traces(retried), "w")
    assert _step(store, "w", trace) == ("completed", 1, T + 20, T + 30)
    assert _counter(store, "duplicated", "traces") == 2
    assert _heard(store, feed, trace) == [("failed", 0), ("completed", 1)]  # each try once
    # The commit that replaced a try names it, with the retries cumulative consumers counted.
    replaced = [b.replaced_steps.to_pylist() for b in feed if b.replaced_steps is not None]
    assert [[{k: r[k] for k in ("workspace_id", "workflow_id", "step_id", "retry_count")} for r in rows]
            for rows in replaced] == [
        [{"workspace_id": "w", "workflow_id": "wf-tries", "step_id": "load", "retry_count": 0}]
    ]  # fmt: skip


Version = tuple[int, str, int, int]  # retries, status, start, end


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # more retries, but it ends before the stored try did: no later try
        pytest.param(
            (0, "failed", T, T + 10), (1, "completed", T - 20, T + 5), id="greater-retry-earlier-end"
        ),
        # more retries, ends later, but starts before the stored try ended: tries do not overlap
        pytest.param(
            (0, "failed", T, T + 10), (1, "completed", T + 5, T + 30), id="greater-retry-overlapping"
        ),
        # as many retries, or fewer, later: other versions of the same try, or an earlier one
        pytest.param((1, "failed", T, T + 10), (1, "completed", T + 20, T + 30), id="equal-retry"),
        pytest.param((1, "failed", T, T + 10), (0, "completed", T + 20, T + 30), id="fewer-retries"),
        # a completed step is not tried again (tests/collector/test_span_versions.py)
        pytest.param((0, "completed", T, T + 10), (1, "failed", T + 20, T + 30), id="after-a-completed-try"),
    ],
)
def test_any_other_version_of_a_step_keeps_the_first(
    store: Store, workspace: str, first: Version, second: Version
) -> None:
    trace = "7c" * 16
    feed: list[CommittedBatch] = []
    store.changes.subscribe(feed.append)
    write(store, traces([_try(trace, *first)]), workspace)
    write(store, traces([_try(trace, *second)]), workspace)
    retries, status, start, end = first
    assert _step(store, workspace, trace) == (status, retries, start, end)
    assert _heard(store, feed, trace) == [(status, retries)]


def test_in_one_batch_each_later_try_replaces_the_one_before(store: Store, workspace: str) -> None:
    trace = "7b" * 16
    feed: list[CommittedBatch] = []
    store.changes.subscribe(feed.append)
    tries = [
        _try(trace, 0, "failed", T, T + 10),
        _try(trace, 2, "completed", T + 40, T + 50),
        _try(trace, 1, "failed", T + 20, T + 30),  # fewer retries than the try before it
        _try(trace, 0, "failed", T, T + 10),  # an exporter's retry
    ]
    assert write(store, traces(tries), workspace).accepted == 4
    assert _step(store, workspace, trace) == ("completed", 2, T + 40, T + 50)
    assert _heard(store, feed, trace) == [("failed", 0), ("completed", 2)]


def test_a_try_replaced_on_a_summarized_day_leaves_its_summary(store: Store, workspace: str) -> None:
    """The replaced try started on a day whose step summaries are sealed, its later try on the
    next day: step metrics count the later try alone, before and after summarizing again."""
    trace, day = "7d" * 16, 24 * 3600 * S
    midnight = (T // day + 1) * day
    write(store, traces([_try(trace, 0, "failed", T, T + 10 * S)]), workspace)
    store.summarize()
    write(store, traces([_try(trace, 1, "completed", midnight + S, midnight + 3 * S)]), workspace)
    for _ in range(2):
        [step] = store.workflow_metrics.step_totals(workspace, "wf-tries", 0, 2**63 - 1)
        assert (step.runs, step.completed, step.failed, step.retries) == (1, 1, 0, 1)
        assert step.max_duration_seconds == 2.0
        store.summarize()

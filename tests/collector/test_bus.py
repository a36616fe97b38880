"""The event bus: what each commit stored reaches consumers, and no consumer can slow the writer."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from flowscope.collector.prepare import prepared_request
from flowscope.storage.changes import CommittedBatch
from flowscope.storage.duckdb.store import Store

from tests.collector.helpers import all_spans, spans_request


def _submit(store: Store, request: object, items: int) -> None:
    store.writer.submit(prepared_request("traces", request, "default", items)).result(30)


def _workflow_request(step: str) -> object:
    request, _ = spans_request(1)
    span = all_spans(request)[0]
    for key, value in (("workflow.id", "wf"), ("workflow.step.id", step)):
        kv = span.attributes.add()
        kv.key, kv.value.string_value = key, value
    return request


def test_slow_and_failing_consumers_do_not_slow_the_writer(tmp_path: Path) -> None:
    store = Store(tmp_path / "bus.duckdb")
    store.start()
    slow_seen: list[CommittedBatch] = []
    fast_seen: list[CommittedBatch] = []
    release = threading.Event()

    def slow(batch: CommittedBatch) -> None:
        release.wait(30)  # stuck until the test lets it go
        slow_seen.append(batch)

    def failing(batch: CommittedBatch) -> None:
        raise RuntimeError("consumer bug")

    store.changes.subscribe(slow)
    store.changes.subscribe(failing)
    store.changes.subscribe(fast_seen.append)
    try:
        started = time.monotonic()
        requests = [_workflow_request(f"s{i}") for i in range(20)]
        for request in requests:
            _submit(store, request, 1)
        _submit(store, requests[0], 1)  # a duplicate: committed as nothing, published as nothing new
        elapsed = time.monotonic() - started
        assert elapsed < 5, f"ingest took {elapsed:.1f}s behind a stuck consumer"
        store.writer.submit(prepared_request("traces", spans_request(3)[0], "default", 3)).result(30)
        release.set()
        store.changes.flush()
        assert len(slow_seen) == len(fast_seen) == 22
        seqs = [b.commit_seq for b in fast_seen]
        assert seqs == sorted(seqs) and len(set(seqs)) == 22  # commit order, each once
        steps = [ws.attributes["workflow.step.id"] for b in fast_seen for ws in b.workflow_spans]
        assert steps == [f"s{i}" for i in range(20)]  # the duplicate published nothing new
        assert fast_seen[20].spans is not None and fast_seen[20].spans.num_rows == 0
        assert fast_seen[21].spans is not None and fast_seen[21].spans.num_rows == 3
        assert "span" not in fast_seen[21].spans.column_names  # no blobs on the bus
    finally:
        release.set()
        store.close()


def test_a_consumer_that_falls_too_far_behind_loses_batches_not_ingest(tmp_path: Path) -> None:
    store = Store(tmp_path / "bus2.duckdb")
    store.changes._max_pending = 4  # a tiny hand-off for the test
    store.start()
    release = threading.Event()
    store.changes.subscribe(lambda batch: release.wait(30))
    try:
        for _ in range(12):
            _submit(store, spans_request(2)[0], 2)
        assert store.changes.dropped >= 12 - 4 - 1
    finally:
        release.set()
        store.close()


def test_pending_batches_are_bounded_by_items_too(tmp_path: Path) -> None:
    store = Store(tmp_path / "bus3.duckdb")
    store.changes._max_pending_items = 25  # spans waiting per subscriber
    store.start()
    release = threading.Event()
    seen: list[int] = []
    store.changes.subscribe(lambda batch: (release.wait(30), seen.append(batch.spans.num_rows)))
    try:
        for _ in range(10):
            _submit(store, spans_request(10)[0], 10)
        release.set()
        store.changes.flush()
        # One batch in delivery, two waiting (20 items <= 25), the rest dropped.
        assert sum(seen) <= 10 + 25 and store.changes.dropped >= 6
    finally:
        release.set()
        store.close()

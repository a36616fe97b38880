"""The writer's commit pacing (storage/duckdb/pacing.py): after a commit, a small batch waits a
little for more; an idle writer and a large batch commit at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest
from flowscope.collector.prepare import prepared_request
from flowscope.storage.batches import ExportOutcome
from flowscope.storage.duckdb.pacing import CommitPacing
from flowscope.storage.duckdb.store import Store

from tests.collector.helpers import all_spans, spans_request

GAP = 1.0  # seconds: far above a commit here, so the waits below are the pacing's


def test_deadline_waits_only_after_a_recent_commit_and_for_small_batches() -> None:
    pacing = CommitPacing(gap_seconds=0.02, enough_items=100)
    assert pacing.deadline(5, None, now=50.0) is None  # nothing committed yet: at once
    assert pacing.deadline(5, 10.0, now=10.005) == pytest.approx(10.02)  # within the gap: wait
    assert pacing.deadline(5, 10.0, now=10.02) is None  # the gap has passed: at once
    assert pacing.deadline(100, 10.0, now=10.005) is None  # enough items: at once
    assert CommitPacing(gap_seconds=0).deadline(5, 10.0, now=10.0) is None  # pacing off


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "p.duckdb", pacing=CommitPacing(gap_seconds=GAP, enough_items=500))
    store.start()
    try:
        yield store
    finally:
        store.close()


def _submit(store: Store, spans: int) -> Future[ExportOutcome]:
    request, _ = spans_request(spans)
    return store.writer.submit(prepared_request("traces", request, "default", len(all_spans(request))))


def _commits(store: Store) -> float:
    return store.registry.get_sample_value("flowscope_collector_commit_batch_items_count") or 0.0


def _acked(future: Future[ExportOutcome]) -> float:
    """When `future` was acknowledged (time.monotonic())."""
    assert future.result(30).accepted > 0
    return time.monotonic()


def test_a_small_batch_after_a_commit_waits_the_gap_and_takes_what_comes(store: Store) -> None:
    first = _submit(store, 3)
    started = time.monotonic()
    first_acked = _acked(first)  # nothing committed before: no wait
    assert first_acked - started < GAP

    second = _submit(store, 3)
    deadline = time.monotonic() + 10
    while store.writer._queue.qsize() and time.monotonic() < deadline:  # the writer holds it
        time.sleep(0.001)
    third = _submit(store, 3)  # arrives while the second waits: one commit for both
    commits = _commits(store)
    second_acked, third_acked = _acked(second), _acked(third)
    assert second_acked - first_acked >= GAP * 0.9  # not before the gap after the first commit
    assert _commits(store) == commits + 1
    assert store.read(lambda c: c.execute("SELECT count(*) FROM spans").fetchone()[0]) == 9
    assert third_acked >= second_acked


def test_a_large_batch_commits_without_waiting(store: Store) -> None:
    _acked(_submit(store, 3))
    started = time.monotonic()
    _acked(_submit(store, 600))  # enough_items is 500
    assert time.monotonic() - started < GAP * 0.9


def test_hurry_commits_what_is_gathered_without_waiting(store: Store) -> None:
    """A read waiting for a commit (api/visibility.py) calls `hurry`."""
    first_acked = _acked(_submit(store, 3))
    second = _submit(store, 3)
    store.writer.hurry()
    assert _acked(second) - first_acked < GAP * 0.9

"""The writer's commit pacing (storage/duckdb/pacing.py): after a commit during which requests
kept coming, a small batch waits a little for more; otherwise it commits at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flowscope.storage.duckdb.pacing import CommitPacing
from flowscope.storage.duckdb.store import Store

from tests.support.pacing import acked_at, submit_spans, wait_taken

GAP = 1.0  # seconds: far above a commit here, so the waits below are the pacing's
SLOW_COMMIT = 0.3  # seconds each commit sleeps (the test-only slow disk): requests can come meanwhile


def test_deadline_waits_only_after_a_busy_commit_and_for_small_batches() -> None:
    pacing = CommitPacing(gap_seconds=0.02, enough_items=100)
    assert pacing.deadline(5, None, True, now=50.0) is None  # nothing committed yet: at once
    assert pacing.deadline(5, 10.0, True, now=10.005) == pytest.approx(10.02)  # within the gap
    assert pacing.deadline(5, 10.0, False, now=10.005) is None  # nothing came during the commit
    assert pacing.deadline(5, 10.0, True, now=10.02) is None  # the gap has passed: at once
    assert pacing.deadline(100, 10.0, True, now=10.005) is None  # enough items: at once
    assert CommitPacing(gap_seconds=0).deadline(5, 10.0, True, now=10.0) is None  # pacing off


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    paced = CommitPacing(gap_seconds=GAP, enough_items=500)
    store = Store(tmp_path / "p.duckdb", pacing=paced, commit_delay_seconds=SLOW_COMMIT)
    store.start()
    try:
        yield store
    finally:
        store.close()


def _commits(store: Store) -> float:
    return store.registry.get_sample_value("flowscope_collector_commit_batch_items_count") or 0.0


def test_requests_arriving_during_a_commit_wait_the_gap_and_take_what_comes(store: Store) -> None:
    first = submit_spans(store, 3)
    wait_taken(store)
    second = submit_spans(store, 3)  # arrives while the first commits (SLOW_COMMIT)
    first_acked = acked_at(first)
    wait_taken(store)  # the writer holds the second, pacing
    third = submit_spans(store, 3)  # arrives while the second waits: one commit for both
    commits = _commits(store)
    second_acked, third_acked = acked_at(second), acked_at(third)
    assert second_acked - first_acked >= GAP * 0.9  # not before the gap after the first commit
    assert _commits(store) == commits + 1
    assert store.read(lambda c: c.execute("SELECT count(*) FROM spans").fetchone()[0]) == 9
    assert third_acked >= second_acked


def test_a_client_that_waits_for_each_acknowledgement_is_not_paced(store: Store) -> None:
    """Nothing arrives while its request commits: waiting could only slow it down."""
    acked_at(submit_spans(store, 3))
    for _ in range(3):
        sent = time.monotonic()
        acked_at(submit_spans(store, 3))
        assert time.monotonic() - sent < GAP * 0.9


def test_a_large_batch_commits_without_waiting(store: Store) -> None:
    first = submit_spans(store, 3)
    wait_taken(store)
    large = submit_spans(store, 600)  # arrives during the first commit; enough_items is 500
    first_acked = acked_at(first)
    assert acked_at(large) - first_acked < GAP * 0.9


def test_hurry_commits_what_is_gathered_without_waiting(store: Store) -> None:
    """A read waiting for a commit (api/visibility.py) calls `hurry`."""
    first = submit_spans(store, 3)
    wait_taken(store)
    second = submit_spans(store, 3)
    first_acked = acked_at(first)
    wait_taken(store)
    store.writer.hurry()
    assert acked_at(second) - first_acked < GAP * 0.9


def test_conversion_deadline_is_a_share_of_the_last_commit_and_bounded() -> None:
    pacing = CommitPacing(conversion_wait_share=0.5, conversion_wait_max_seconds=0.05)
    assert pacing.conversion_deadline(10.0, None) is None  # no commit measured yet: no wait
    assert pacing.conversion_deadline(10.0, 0.02) == pytest.approx(10.01)
    assert pacing.conversion_deadline(10.0, 5.0) == pytest.approx(10.05)  # at most the bound
    assert CommitPacing(conversion_wait_max_seconds=0).conversion_deadline(10.0, 1.0) is None


def _converting_store(tmp_path: Path, wait_max: float) -> Store:
    """No commit gap, and every batch is "enough": only requests in conversion are waited for."""
    pacing = CommitPacing(
        gap_seconds=0, enough_items=1, conversion_wait_share=100, conversion_wait_max_seconds=wait_max
    )
    store = Store(tmp_path / "c.duckdb", pacing=pacing, commit_delay_seconds=SLOW_COMMIT)
    store.start()
    return store


def test_a_batch_waits_for_the_requests_being_converted(tmp_path: Path) -> None:
    """Exporters with several requests in flight send them again together: the writer waits for
    those received and still converting (collector/ingest.py) rather than commit the first alone."""
    store = _converting_store(tmp_path, wait_max=30)
    try:
        acked_at(submit_spans(store, 3))  # a commit measured: the next ones know what a commit costs
        commits = _commits(store)
        with store.writer.converting():  # another request was received and is being converted
            first = submit_spans(store, 3)
            wait_taken(store)  # the writer holds the first, waiting
            second = submit_spans(store, 3)  # the converted request
        acked_at(first), acked_at(second)
        assert _commits(store) == commits + 1  # without the wait: the first alone, then the second
        assert store.read(lambda c: c.execute("SELECT count(*) FROM spans").fetchone()[0]) == 9
    finally:
        store.close()


def test_the_wait_for_a_conversion_is_bounded(tmp_path: Path) -> None:
    store = _converting_store(tmp_path, wait_max=SLOW_COMMIT / 2)
    try:
        acked_at(submit_spans(store, 3))
        with store.writer.converting():  # a conversion that does not end while the batch waits
            submitted = time.monotonic()
            acked = acked_at(submit_spans(store, 3))
            assert acked - submitted >= SLOW_COMMIT / 2 * 0.9 + SLOW_COMMIT * 0.9  # waited, then committed
    finally:
        store.close()

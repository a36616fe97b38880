"""Store lifecycle: readiness and retention (what `apply_retention` deletes and keeps)."""

from __future__ import annotations

import time

from flowscope.storage.changes import CommittedBatch
from flowscope.storage.interfaces import Store

from tests.storage.conformance.otlp import RecordSpec, SpanSpec, logs, traces, write

DAY = 86_400 * 10**9


def _old_and_new(now: int) -> tuple[object, object, object, object]:
    old = traces(
        [
            SpanSpec("d1" * 16, f"d1{k:014x}", "old", now - 10 * DAY + k, now - 10 * DAY + k + 5)
            for k in range(3)
        ]
    )
    new = traces(
        [SpanSpec("d2" * 16, f"d2{k:014x}", "new", now - DAY + k, now - DAY + k + 5) for k in range(2)]
    )
    old_logs = logs([RecordSpec(now - 10 * DAY + k, f"old {k}") for k in range(2)])
    new_logs = logs([RecordSpec(now - DAY, "new")])
    return old, new, old_logs, new_logs


def _stored_now(store: Store, feed: list[CommittedBatch]) -> tuple[int, int]:
    store.changes.flush()
    out = (
        sum(b.spans.num_rows for b in feed if b.spans is not None),
        sum(b.log_count for b in feed),
    )
    feed.clear()
    return out


def test_a_started_store_answers_ping(store: Store) -> None:
    assert store.ping()


def test_retention_deletes_what_started_before_the_cutoff_and_keeps_the_rest(
    store: Store, feed: list[CommittedBatch]
) -> None:
    old, new, old_logs, new_logs = _old_and_new(time.time_ns())
    for message in (old, new, old_logs, new_logs):
        write(store, message, "w")
    store.apply_retention(7)  # returns once done
    _stored_now(store, feed)
    # Written again: what retention deleted is stored anew, what it kept is a duplicate.
    for message in (old, new, old_logs, new_logs):
        write(store, message, "w")
    assert _stored_now(store, feed) == (3, 2)


def test_periodic_retention_runs_until_close(store: Store, feed: list[CommittedBatch]) -> None:
    old, new, old_logs, new_logs = _old_and_new(time.time_ns())
    for message in (old, new, old_logs, new_logs):
        write(store, message, "w")
    store.start_retention(7, interval_seconds=0.05)
    deadline = time.monotonic() + 15
    deleted = 0.0
    while time.monotonic() < deadline and deleted < 3:
        time.sleep(0.05)
        deleted = (
            store.registry.get_sample_value(
                "flowscope_collector_retention_deleted_total", {"signal": "traces"}
            )
            or 0.0
        )
    assert deleted == 3

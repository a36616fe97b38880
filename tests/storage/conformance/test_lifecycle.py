"""Store lifecycle: readiness and retention (what `apply_retention` deletes and keeps)."""

from __future__ import annotations

import time

from flowscope.storage.changes import CommittedBatch
from flowscope.storage.interfaces import Store

from tests.storage.conformance.dataset import Run, Step, records_of, spans_of
from tests.storage.conformance.otlp import RecordSpec, SpanSpec, logs, traces, write

DAY = 86_400 * 10**9
STEP = Step("only", "Only", 0, 1, output=1)


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


def test_retention_deletes_what_started_before_the_cutoff_and_keeps_the_rest(new_store: Store) -> None:
    store = new_store  # retention deletes in every workspace
    feed: list[CommittedBatch] = []
    store.changes.subscribe(feed.append)
    now = time.time_ns()
    old, new, old_logs, new_logs = _old_and_new(now)
    for message in (old, new, old_logs, new_logs):
        write(store, message, "w")
    runs = {  # finished 10 days ago, queued 10 days ago and still pending, finished yesterday
        "old finished": Run("d3" + "0" * 30, "wf-r", "r", 1, now - 10 * DAY, (STEP,), "completed", 1),
        "old pending": Run("d4" + "0" * 30, "wf-r", "r", 2, now - 10 * DAY, started=False),
        "new finished": Run("d5" + "0" * 30, "wf-r", "r", 3, now - DAY, (STEP,), "completed", 1),
    }
    for run in runs.values():
        write(store, logs(records_of(run)), "w")
        if run.status:
            write(store, traces(spans_of(run)), "w")
    store.apply_retention(7)  # returns once done
    kept = {name for name, run in runs.items() if store.executions.execution("w", run.execution_id)}
    assert kept == {"old pending", "new finished"}
    _stored_now(store, feed)
    # Written again: what retention deleted is stored anew, what it kept is a duplicate.
    for message in (old, new, old_logs, new_logs):
        write(store, message, "w")
    assert _stored_now(store, feed) == (3, 2)


def test_periodic_retention_runs_until_close(new_store: Store) -> None:
    store = new_store
    run = Run("d6" + "0" * 30, "wf-r", "r", 1, time.time_ns() - 10 * DAY, (STEP,), "completed", 1)
    write(store, traces(spans_of(run)), "w")
    assert store.executions.execution("w", run.execution_id) is not None
    store.start_retention(7, interval_seconds=0.05)
    deadline = time.monotonic() + 15
    while store.executions.execution("w", run.execution_id) is not None:
        assert time.monotonic() < deadline, "periodic retention did not run"
        time.sleep(0.05)

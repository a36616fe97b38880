"""Helpers for the tests of a writer's commit pacing (storage/duckdb/pacing.py), in process:
submit a request, wait until the writer took it, and tell when it was acknowledged."""

from __future__ import annotations

import time
from concurrent.futures import Future

from flowscope.collector.prepare import prepared_request
from flowscope.storage.batches import ExportOutcome
from flowscope.storage.duckdb.store import Store

from tests.collector.helpers import all_spans, spans_request


def submit_spans(store: Store, spans: int) -> Future[ExportOutcome]:
    request, _ = spans_request(spans)
    return store.writer.submit(prepared_request("traces", request, "default", len(all_spans(request))))


def wait_taken(store: Store) -> None:
    """Until the writer has taken everything queued (it is committing or gathering it)."""
    deadline = time.monotonic() + 30
    while store.writer._queue.qsize() and time.monotonic() < deadline:
        time.sleep(0.001)


def acked_at(future: Future[ExportOutcome]) -> float:
    """When `future` was acknowledged (time.monotonic())."""
    assert future.result(30).accepted > 0
    return time.monotonic()

"""Writer internals that keep ingest fast as the table grows: dedupe time ranges, raw span bytes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest
from flowscope.collector.convert import convert_traces
from flowscope.collector.prepare import prepared_request
from flowscope.collector.wire import item_slices
from flowscope.storage.batches import Rows
from flowscope.storage.duckdb.store import Store
from flowscope.storage.duckdb.writer import time_ranges
from flowscope.storage.errors import StorageUnavailable
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.collector.helpers import all_spans, spans_request

MINUTE = 60 * 10**9


def test_time_ranges_split_on_large_gaps_and_stay_few() -> None:
    assert time_ranges(pa.array([5, 1, 3], pa.uint64()), gap_ns=10) == [(1, 5)]
    times = pa.array([5, 1, 300, 3, 1000, 1001], pa.uint64())
    assert time_ranges(times, gap_ns=10) == [(1, 5), (300, 300), (1000, 1001)]
    # More clusters than allowed: the widest gaps are kept, every value stays covered.
    many = pa.array([k * 1000 for k in range(50)], pa.uint64())
    ranges = time_ranges(many, gap_ns=10, max_ranges=4)
    assert len(ranges) == 4 and ranges[0][0] == 0 and ranges[-1][1] == 49_000
    assert all(any(lo <= v <= hi for lo, hi in ranges) for v in many.to_pylist())
    assert time_ranges(pa.chunked_array([[1, 2], [50]], pa.uint64()), gap_ns=10) == [(1, 2), (50, 50)]


def test_dedupe_is_exact_for_batches_spread_over_many_time_clusters(tmp_path: Path) -> None:
    """Spans hours apart in one request (long roots, skewed clocks): resent, nothing new."""
    store = Store(tmp_path / "w.duckdb")
    store.start()
    try:
        now = time.time_ns()
        request, _ = spans_request(60, start_ns=now)
        for k, span in enumerate(all_spans(request)):
            span.start_time_unix_nano = now - (k % 30) * 10 * MINUTE  # 30 clusters > max ranges
        items = len(all_spans(request))
        first = store.writer.submit(prepared_request("traces", request, "default", items)).result(30)
        again = store.writer.submit(prepared_request("traces", request, "default", items)).result(30)
        assert (first.accepted, again.accepted) == (60, 60)
        assert store.read(lambda c: c.execute("SELECT count(*) FROM spans").fetchone()[0]) == 60
        assert store.metrics.duplicated.labels("traces")._value.get() == 60
    finally:
        store.close()


def test_spans_are_stored_as_the_exact_bytes_sent(tmp_path: Path) -> None:
    """The stored blob is the client's encoding (unknown fields kept), cut out of the request."""
    request, _ = spans_request(3)
    raw = bytearray(request.SerializeToString())
    spans = item_slices(bytes(raw))
    assert spans is not None
    assert spans[0][0] == [s.SerializeToString() for s in all_spans(request)]
    # A span with an unknown field (number 99, a varint) appended: protobuf keeps it, so do we.
    span = all_spans(request)[0]
    extended = span.SerializeToString() + b"\x98\x06\x01"  # field 99, varint 1
    rebuilt = ExportTraceServiceRequest()
    rebuilt.resource_spans.add().scope_spans.add().spans.append(Span.FromString(extended))
    body = rebuilt.SerializeToString()
    rows = Rows()
    result = convert_traces(ExportTraceServiceRequest.FromString(body), "default", rows, 0, body)
    assert result.accepted == 1
    assert rows.spans["span"][0] == extended
    # Without the raw bytes (JSON requests) the span is re-serialized instead.
    rows = Rows()
    convert_traces(ExportTraceServiceRequest.FromString(body), "default", rows, 0)
    assert Span.FromString(rows.spans["span"][0]) == Span.FromString(extended)
    # Bytes the scanner cannot follow make it step aside (None), never guess.
    assert item_slices(b"\x0b\x0c") is None and item_slices(body[:-2]) is None


def test_a_transaction_left_open_by_a_failure_does_not_block_later_commits(tmp_path: Path) -> None:
    store = Store(tmp_path / "open.duckdb")
    store.start()
    try:
        opened = threading.Event()

        def leave_open(con: object) -> None:
            con.execute("BEGIN")  # type: ignore[attr-defined]  # as if a ROLLBACK had failed
            opened.set()

        store.writer.run_maintenance(leave_open)
        assert opened.wait(10)
        request, _ = spans_request(4)
        outcome = store.writer.submit(prepared_request("traces", request, "default", 4)).result(30)
        assert outcome.accepted == 4
        stored = store.read(lambda c: c.execute("SELECT count(*) FROM spans").fetchone()[0])
        assert stored == 4
    finally:
        store.close()


def test_readers_are_not_blocked_by_a_long_write_transaction(tmp_path: Path) -> None:
    """Readers use their own cursors: a commit in progress neither blocks nor leaks into reads."""
    store = Store(tmp_path / "mvcc.duckdb")
    store.start()
    inside = threading.Event()
    release = threading.Event()

    def slow_write(con: object) -> None:
        con.execute("BEGIN")  # type: ignore[attr-defined]
        con.execute("INSERT INTO workspaces (id, slug, name) VALUES ('w2', 'w2', 'W2')")  # type: ignore[attr-defined]
        inside.set()
        release.wait(10)
        con.execute("COMMIT")  # type: ignore[attr-defined]

    try:
        store.writer.run_maintenance(slow_write)
        assert inside.wait(10)
        seen: list[int] = []
        started = time.monotonic()
        reader = threading.Thread(
            target=lambda: seen.append(
                store.read(lambda c: c.execute("SELECT count(*) FROM workspaces").fetchone()[0])
            )
        )
        reader.start()
        reader.join(5)
        assert seen == [1], "the reader saw uncommitted data or was blocked"
        assert time.monotonic() - started < 2
        release.set()
        store.writer.submit(prepared_request("traces", spans_request(1)[0], "default", 1)).result(30)
        assert store.read(lambda c: c.execute("SELECT count(*) FROM workspaces").fetchone()[0]) == 2
    finally:
        release.set()
        store.close()


def test_repeated_commit_failures_reopen_the_database(tmp_path: Path) -> None:
    """Whatever left the connection unusable, a run of failed commits reopens the file."""
    store = Store(tmp_path / "reopen.duckdb")
    store.start()
    writer = store.writer
    original = writer._write
    failures = {"left": 3}

    def flaky(*args: object, **kwargs: object) -> object:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("simulated storage trouble")
        return original(*args, **kwargs)

    writer._write = flaky  # type: ignore[method-assign]
    try:
        con_before = writer._con
        for _ in range(3):
            future = writer.submit(prepared_request("traces", spans_request(2)[0], "default", 2))
            with pytest.raises(StorageUnavailable, match="simulated storage trouble"):
                future.result(30)
        outcome = writer.submit(prepared_request("traces", spans_request(2)[0], "default", 2)).result(30)
        assert outcome.accepted == 2
        assert writer._con is not con_before, "the connection was not reopened"
        assert store.read(lambda c: c.execute("SELECT count(*) FROM spans").fetchone()[0]) == 2
    finally:
        store.close()

"""The lake follower (storage/ducklake/follow.py) on a real PostgreSQL catalog: two stores on one
lake, as two nodes are; node A's writer commits real SDK exports, node B's follower reads them
back. Rounds run on the test's thread (`open` + `round`), so each assertion sees a whole round."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flowscope.collector.prepare import prepared_request
from flowscope.storage.changes import CommittedBatch
from flowscope.storage.ducklake import labels
from flowscope.storage.ducklake.follow import LakeFollower
from flowscope.storage.ducklake.maintenance import Maintainer, Policy
from flowscope.storage.ducklake.sqlfiles import required
from flowscope.storage.ducklake.store import LakeStore
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from flowscope import conventions as c
from tests.support.postgres import Postgres


@pytest.fixture
def nodes(postgres: Postgres, tmp_path: Path) -> Iterator[tuple[LakeStore, LakeStore]]:
    url = "ducklake:postgres:" + postgres.create_database(f"follow_{time.time_ns()}")
    a = LakeStore(url, tmp_path / "data")
    b = LakeStore(url, tmp_path / "data")
    a.start()
    b.start()
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def _export(store: LakeStore, workflow_id: str) -> tuple[str, int, int]:
    """One execution (root, two steps, an attempt, an unrelated span; a started record and a
    plain log) exported by the real SDK and committed by `store`'s writer in two commits;
    its execution id and how many workflow spans and records it has."""
    spans, records = InMemorySpanExporter(), InMemoryLogRecordExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(records))
    tracer, logger = tracer_provider.get_tracer("t"), logger_provider.get_logger("t")
    attrs = {c.WORKFLOW_ID: workflow_id, c.WORKFLOW_NAME: "follow"}
    root = tracer.start_span("RUN follow", kind=trace.SpanKind.SERVER, attributes=attrs)
    context = trace.set_span_in_context(root)
    logger.emit(
        timestamp=time.time_ns(), context=context, body="started", event_name=c.EVENT_EXECUTION_STARTED,
        attributes={c.EVENT_NAME: c.EVENT_EXECUTION_STARTED, **attrs},
    )  # fmt: skip
    logger.emit(timestamp=time.time_ns(), body="no workflow here")
    for step in ("a", "b"):
        span = tracer.start_span(step, context=context, attributes={**attrs, c.STEP_ID: step})
        attempt_context = trace.set_span_in_context(span)
        tracer.start_span("attempt 1", context=attempt_context, attributes={c.STEP_ATTEMPT: 1}).end()
        span.end()
    tracer.start_span("plain", context=context).end()
    root.end()
    logs = records.get_finished_logs()
    finished = spans.get_finished_spans()
    for request in (
        prepared_request("logs", encode_logs(logs), "default", len(logs)),
        prepared_request("traces", encode_spans(finished), "default", len(finished)),
    ):
        store.writer.submit(request).result(30)
    return f"{root.get_span_context().trace_id:032x}", 5, 1  # root, 2 steps, 2 attempts; 1 record


def test_b_publishes_a_s_commits_once_in_order_and_skips_its_own(nodes: tuple[LakeStore, LakeStore]) -> None:
    a, b = nodes
    published: list[CommittedBatch] = []
    b.changes.subscribe(published.append)
    follower = LakeFollower(b, b.changes, max_lag=600)  # (rounds run late: the test's)
    follower.open()
    execution_id, n_spans, n_records = _export(a, "wf-follow")
    _export(b, "wf-own")  # B's own commits: published by its writer, not again by its follower
    b.changes.flush()
    own = [batch for batch in published if not batch.remote]
    assert len(own) == 2
    published.clear()
    assert follower.round() is False
    b.changes.flush()
    assert [batch.remote for batch in published] == [True, True]
    assert [batch.commit_seq for batch in published] == [1, 2]
    assert not any(batch.lost for batch in published)
    records, spans = published[0].workflow_logs, published[1].workflow_spans  # A's commit order
    assert [r.event_name for r in records] == [c.EVENT_EXECUTION_STARTED] * n_records
    assert records[0].trace_id == execution_id and records[0].attributes[c.WORKFLOW_ID] == "wf-follow"
    assert sorted(s.role for s in spans) == ["attempt", "attempt", "execution", "step", "step"]
    assert len(spans) == n_spans and all(s.trace_id == execution_id for s in spans)
    assert {s.attributes.get(c.STEP_ID) for s in spans if s.role == "step"} == {"a", "b"}
    # what A's own bus carried: the same objects, field for field
    local: list[CommittedBatch] = []
    a.changes.subscribe(local.append)
    _export(a, "wf-compare")
    a.changes.flush()
    published.clear()
    follower.round()
    b.changes.flush()
    key = lambda s: s.span_id  # noqa: E731
    assert sorted(published[1].workflow_spans, key=key) == sorted(local[1].workflow_spans, key=key)
    assert published[0].workflow_logs == local[0].workflow_logs
    # nothing new: nothing published
    published.clear()
    follower.round()
    b.changes.flush()
    assert published == []


def test_a_commit_that_does_not_read_back_as_labelled_is_lost_not_skipped(
    nodes: tuple[LakeStore, LakeStore],
) -> None:
    a, b = nodes
    published: list[CommittedBatch] = []
    b.changes.subscribe(published.append)
    follower = LakeFollower(b, b.changes, max_lag=600)  # (rounds run late: the test's)
    follower.open()
    # A commit labelled with a workflow span it does not hold (as one whose rows were lost).
    con = a.cursor()
    con.execute("BEGIN")
    con.execute("CREATE TABLE IF NOT EXISTS follow_probe (x INTEGER)")
    con.execute("COMMIT")
    con.execute("BEGIN")
    con.execute("INSERT INTO follow_probe VALUES (1)")
    label = labels.Label("another-node", 1, 0)
    con.execute(
        required("follow/label_commit"),
        {"author": labels.AUTHOR, "node_id": label.node_id, "extra_info": label.extra_info()},
    )
    con.execute("COMMIT")
    _export(a, "wf-after")
    follower.round()
    b.changes.flush()
    assert [(batch.lost, bool(batch.workflow_spans or batch.workflow_logs)) for batch in published] == [
        (True, False), (False, True), (False, True),
    ]  # fmt: skip
    assert follower.gaps == 1


def test_a_follower_behind_for_longer_than_max_lag_says_so_and_goes_on_from_the_newest(
    nodes: tuple[LakeStore, LakeStore],
) -> None:
    a, b = nodes
    published: list[CommittedBatch] = []
    b.changes.subscribe(published.append)
    follower = LakeFollower(b, b.changes, max_lag=2.0)
    follower.open()
    _export(a, "wf-missed")
    time.sleep(2.1)  # the follower did not look for longer than its max lag (a stalled node)
    follower.round()
    b.changes.flush()
    assert [batch.lost for batch in published] == [True]  # the missed commits are not read late
    published.clear()
    _export(a, "wf-next")
    follower.round()
    b.changes.flush()
    assert [batch.lost for batch in published] == [False, False]
    assert {s.attributes.get(c.WORKFLOW_ID) for s in published[1].workflow_spans} == {"wf-next", None}


def test_commits_compacted_by_maintain_before_the_follower_reads_them_read_back_whole(
    nodes: tuple[LakeStore, LakeStore],
) -> None:
    """`flowscope maintain` flushes inlined rows to Parquet, merges files and (grace 0) deletes
    the replaced ones between A's commits and B's next round: the change feed still has every
    row, under its snapshot, so nothing is lost (nor reported lost)."""
    a, b = nodes
    published: list[CommittedBatch] = []
    b.changes.subscribe(published.append)
    local: list[CommittedBatch] = []
    a.changes.subscribe(local.append)
    follower = LakeFollower(b, b.changes, max_lag=600)  # (its rounds are this test's, late)
    follower.open()
    maintainer = Maintainer(a.lake, a.data_path, Policy(file_grace_seconds=0))
    rounds = []
    try:
        for part in range(2):  # the second round merges the first round's files with its own
            for k in range(3):
                _export(a, f"wf-compacted-{part}-{k}")
            rounds.append(maintainer.run_round())
    finally:
        maintainer.close()
    assert all(r.rows_flushed and not r.skipped for r in rounds) and rounds[1].files_merged
    follower.round()
    a.changes.flush()
    b.changes.flush()
    assert follower.gaps == 0 and not any(batch.lost for batch in published)
    assert len(published) == len(local) == 12
    key = lambda s: s.span_id  # noqa: E731
    for theirs, ours in zip(published, local, strict=True):
        assert theirs.workflow_logs == ours.workflow_logs
        assert sorted(theirs.workflow_spans, key=key) == sorted(ours.workflow_spans, key=key)

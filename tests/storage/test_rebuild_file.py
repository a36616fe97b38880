"""`flowscope rebuild` on a DuckDB file whose derived rows are wrong or lost (as after an
upgrade that changed how workflow telemetry is read): the rows converted again from the
stored bytes answer every reader as ingest did."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
from flowscope.collector.prepare import prepare, prepared_request
from flowscope.storage.duckdb.store import Store
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from flowscope import conventions as c
from tests.storage.conformance import dataset
from tests.storage.conformance.otlp import RecordSpec, logs
from tests.storage.conformance.test_rebuild import reads

REPO = Path(__file__).resolve().parents[2]


def _reads(db: Path) -> dict[str, object]:
    store = Store(db)
    store.start()
    try:
        return reads(store)
    finally:
        store.close()


def test_rebuild_repairs_derived_rows_from_the_stored_bytes(tmp_path: Path) -> None:
    db = tmp_path / "flowscope.duckdb"
    store = Store(db)
    store.start()
    dataset.load(store)
    store.close()
    before = _reads(db)
    with duckdb.connect(str(db)) as con:  # wrong and lost derived rows (not as users do)
        con.execute("UPDATE executions SET status = 'running', status_rank = 2, error_message = NULL")
        con.execute("DELETE FROM executions WHERE execution_id = ?", [dataset.E2])
        con.execute("UPDATE spans SET step_status = NULL, error_message = NULL WHERE span_role = 'step'")
        con.execute("UPDATE logs SET workflow_id = NULL, step_id = NULL")
    assert _reads(db) != before
    outputs = []
    for _ in range(2):  # idempotent: the second run finds nothing to change
        done = subprocess.run(
            [sys.executable, "-m", "flowscope", "rebuild", "--db", str(db)],
            cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout.strip())
    with duckdb.connect(str(db)) as con:
        steps = con.execute("SELECT count(*) FROM spans WHERE span_role = 'step'").fetchone()
        records = con.execute("SELECT count(*) FROM logs WHERE workflow_id IS NOT NULL").fetchone()
    assert steps is not None and records is not None
    changed = f"({steps[0]} spans and {records[0]} log records changed)"
    assert outputs[0].startswith(f"rebuilt 10 executions {changed}")
    assert outputs[1].startswith("rebuilt 10 executions (0 spans and 0 log records changed)")
    assert _reads(db) == before


def test_records_are_stored_and_hashed_as_sent_and_a_rebuild_reads_those_bytes(tmp_path: Path) -> None:
    # An encoder may lay a record's fields out in another order than protobuf's own (here its
    # attributes first): ingest keeps and hashes the bytes sent, and a rebuild, reading them
    # again, must find the record by that hash to repair its derived columns.
    trace_id, span_id = "ab" * 16, "cd" * 8
    spec = RecordSpec(
        1_700_000_000 * 10**9, "queued", trace_id, span_id, c.EVENT_EXECUTION_QUEUED,
        {c.WORKFLOW_ID: "wf-sent", c.WORKFLOW_EXECUTION_ID: trace_id, c.EVENT_NAME: c.EVENT_EXECUTION_QUEUED},
    )  # fmt: skip
    request = logs([spec])
    record = request.resource_logs[0].scope_logs[0].log_records[0]
    canonical = record.SerializeToString()
    rest = LogRecord()
    rest.CopyFrom(record)
    del rest.attributes[:]
    sent = LogRecord(attributes=record.attributes).SerializeToString() + rest.SerializeToString()
    assert sent != canonical and len(sent) == len(canonical) and LogRecord.FromString(sent) == record
    raw = request.SerializeToString().replace(canonical, sent)  # same length: the framing holds
    db = tmp_path / "flowscope.duckdb"
    store = Store(db)
    store.start()
    try:
        for _ in range(2):  # sent twice (a client's retry): kept once
            message = ExportLogsServiceRequest.FromString(raw)
            store.writer.submit(prepared_request("logs", message, dataset.WS_A, 1, raw)).result(30)
    finally:
        store.close()
    with duckdb.connect(str(db)) as con:
        assert con.execute("SELECT record, workflow_id FROM logs").fetchall() == [(sent, "wf-sent")]
        con.execute("UPDATE logs SET workflow_id = NULL")  # lost derived columns (not as users do)
    changed = []
    for _ in range(2):  # the second finds nothing to change
        store = Store(db)
        store.start()
        try:
            changed.append(store.rebuild_rows(prepare).records_changed)
        finally:
            store.close()
    assert changed == [1, 0]
    with duckdb.connect(str(db)) as con:
        assert con.execute("SELECT record, workflow_id FROM logs").fetchall() == [(sent, "wf-sent")]

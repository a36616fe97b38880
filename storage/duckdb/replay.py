"""`ReplayReader` on DuckDB: a workflow's recent executions, SQL in sql/queries/replay/,
span and record blobs decoded here into the change feed's objects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flowscope.storage.anyvalue import add_exception_text, workflow_attributes
from flowscope.storage.changes import WorkflowLogRecord, WorkflowSpan
from flowscope.storage.duckdb.errors import mapped_errors
from flowscope.storage.duckdb.snapshot import snapshot
from flowscope.storage.duckdb.sqlfiles import sql
from flowscope.storage.replay import WorkflowHistory
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span

if TYPE_CHECKING:
    from flowscope.storage.duckdb.store import Store


def _span_attributes(span: Span) -> dict[str, Any]:
    return add_exception_text(workflow_attributes(span.attributes) or {}, span.events)


def workflow_span(workspace_id: str, row: Sequence[Any]) -> WorkflowSpan:
    """A stored workflow span (the columns of queries/replay/workflow_spans.sql) as the change
    feed carries it (also read so by the lake's follower: storage/ducklake/follow.py)."""
    trace_id, span_id, parent, name, role, start, end, code, message, blob = row
    return WorkflowSpan(
        workspace_id, trace_id, span_id, parent, name, role, start, end, code, message,
        _span_attributes(Span.FromString(blob)),
    )  # fmt: skip


def workflow_record(workspace_id: str, row: Sequence[Any]) -> WorkflowLogRecord:
    """A stored log record (the columns of queries/replay/lifecycle_records.sql) as the change
    feed carries it."""
    record_hash, event_name, time_ns, trace_id, span_id, body, blob = row
    return WorkflowLogRecord(
        workspace_id, record_hash, event_name, time_ns, trace_id, span_id, body,
        workflow_attributes(LogRecord.FromString(blob).attributes) or {},
    )  # fmt: skip


class DuckDBReplay:
    """The replay reads of one DuckDB `Store`, on the calling thread's cursor."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def workflow_history(
        self,
        workspace_id: str,
        workflow_id: str,
        since_ns: int,
        event_names: Sequence[str],
        max_executions: int,
    ) -> WorkflowHistory:
        names = list(event_names)
        with mapped_errors():
            cur = self._store.cursor()
            with snapshot(cur):
                rows = cur.execute(
                    sql("queries/replay/active_executions"),
                    {
                        "workspace_id": workspace_id,
                        "workflow_id": workflow_id,
                        "since": since_ns,
                        "event_names": names,
                        "limit": max_executions + 1,
                    },
                ).fetchall()
                ids = [r[0] for r in rows[:max_executions]]
                if not ids:
                    return WorkflowHistory([], [], len(rows) > max_executions)
                params: dict[str, Any] = {"workspace_id": workspace_id, "execution_ids": ids}
                span_rows = cur.execute(sql("queries/replay/workflow_spans"), params).fetchall()
                record_rows = cur.execute(
                    sql("queries/replay/lifecycle_records"), {**params, "event_names": names}
                ).fetchall()
        spans = [workflow_span(workspace_id, row) for row in span_rows]
        records = [workflow_record(workspace_id, row) for row in record_rows]
        return WorkflowHistory(spans, records, len(rows) > max_executions)

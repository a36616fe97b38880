"""`ExecutionReader` on DuckDB: an execution's rows by a few index lookups, blobs decoded here.

Span and log blobs are decoded only for the handful of rows one answer needs (the root and
step spans of one execution, a page of its records); the SQL is in sql/queries/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import duckdb
from flowscope.storage.anyvalue import attributes_to_dict
from flowscope.storage.batches import EXEC_COLUMNS
from flowscope.storage.duckdb import execution_summaries
from flowscope.storage.duckdb.blobs import by_rowid
from flowscope.storage.duckdb.errors import mapped_errors
from flowscope.storage.duckdb.snapshot import snapshot
from flowscope.storage.duckdb.sqlfiles import sql
from flowscope.storage.executions import (
    Attempt,
    ExecutionRecords,
    ExecutionRow,
    ExecutionStep,
    LifecycleRecord,
    LinkTarget,
    LogRow,
    OpenExecution,
    Page,
    SpanEvent,
    SpanLink,
    Triggered,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from flowscope import conventions as c
from flowscope import workflow_meaning as m

if TYPE_CHECKING:
    from flowscope.storage.batches import Prepared
    from flowscope.storage.duckdb.store import Store

_FACT_EXECUTION = EXEC_COLUMNS.index("execution_id")


class _SpanRow(NamedTuple):
    """A span of an execution's trace (sql/queries/execution_spans.sql, after the row id and
    workspace) and, once read, its blob."""

    span_id: str
    parent_span_id: str
    span_role: str | None  # None: not a workflow span
    name: str
    step_id: str | None
    step_status: str | None
    retry_count: int | None
    start_ns: int
    end_ns: int
    status_code: int
    status_message: str
    workflow_id: str | None
    error_message: str | None  # computed at ingest (workflow_meaning.error_message)
    span: bytes | None = None  # only for the root and step spans


class _TraceRecord(NamedTuple):
    """A row of sql/queries/execution_lifecycle(_columns).sql: any log record of the trace."""

    workspace_id: str
    event_name: str
    time_ns: int
    record_hash: int
    span_id: str
    step_id: str | None
    record: bytes | None
    rowid: int


class DuckDBExecutions:
    """The execution reads of one DuckDB `Store`, on the calling thread's cursor."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def execution(self, workspace_id: str, execution_id: str) -> ExecutionRow | None:
        with mapped_errors():
            return _row(self._store.cursor(), workspace_id, execution_id)

    def records(self, workspace_id: str, execution_id: str) -> ExecutionRecords | None:
        with mapped_errors(), snapshot(self._store.cursor()) as cur:
            return _records(cur, workspace_id, execution_id)

    def acknowledged(self, prepared: Prepared) -> dict[str, ExecutionRecords]:
        """What `_records` reads of each execution `prepared` announces once it is committed,
        when nothing stored is about that execution yet: its row folded from these facts
        alone, its lifecycle records from these rows (read with their blobs, as for an
        unfinished execution: lifecycle records announce only pending or running)."""
        facts: dict[str, list[Sequence[Any]]] = {}
        for fact in prepared.executions:
            facts.setdefault(fact[_FACT_EXECUTION], []).append(fact)
        traces: dict[str, list[_TraceRecord]] = {}
        if facts and prepared.logs is not None:
            columns = prepared.logs.select([*_TraceRecord._fields[:-1], "trace_id"]).to_pydict()
            for index, trace_id in enumerate(columns["trace_id"]):
                if trace_id in facts:
                    values = [columns[name][index] for name in _TraceRecord._fields[:-1]]
                    traces.setdefault(trace_id, []).append(_TraceRecord(*values, index))
        out = {}
        for execution_id, group in facts.items():
            ((workspace_id, *summary, _updated),) = execution_summaries.fold((), group)
            # Every record here has its blob: none is left for `blobs` to read.
            lifecycle, triggered = _lifecycle_of(traces.get(execution_id, []), workspace_id, lambda _: {})
            out[execution_id] = ExecutionRecords(ExecutionRow(*summary), {}, (), lifecycle, (), triggered)
        return out

    def logs(
        self,
        workspace_id: str,
        execution_id: str,
        *,
        step_id: str | None = None,
        span_ids: Sequence[str] = (),
        skip: int = 0,
        limit: int = 100,
    ) -> Page[LogRow]:
        params = {
            "execution_id": execution_id, "workspace_id": workspace_id, "step_id": step_id,
            "span_ids": list(span_ids),
        }  # fmt: skip
        with mapped_errors(), snapshot(self._store.cursor()) as cur:
            (total,) = cur.execute(sql("queries/execution_logs_count"), params).fetchone()  # type: ignore[misc]
            rows = cur.execute(
                sql("queries/execution_logs"), {**params, "skip": skip, "limit": limit}
            ).fetchall()
            blobs = by_rowid(cur, "queries/log_blobs", [r[-1] for r in rows])
        return Page([_log_row(*r[:-1], blobs[r[-1]]) for r in rows], total)

    def page(
        self,
        workspace_id: str,
        workflow_id: str,
        *,
        status: str | None = None,
        skip: int = 0,
        limit: int = 10,
    ) -> Page[ExecutionRow]:
        params = {"workspace_id": workspace_id, "workflow_id": workflow_id, "status": status}
        rows = []
        with mapped_errors(), snapshot(self._store.cursor()) as cur:
            (total,) = cur.execute(sql("queries/executions_count"), params).fetchone()  # type: ignore[misc]
            if limit and skip < total:
                page = {**params, "skip": skip, "limit": limit}
                rows = cur.execute(sql("queries/executions_page"), page).fetchall()
        return Page([ExecutionRow(*r) for r in rows], total)

    def workflow_seen(self, workspace_id: str, workflow_id: str) -> bool:
        params = {"workspace_id": workspace_id, "workflow_id": workflow_id}
        with mapped_errors():
            return self._store.cursor().execute(sql("queries/workflow_seen"), params).fetchone() is not None

    def link_target(self, workspace_id: str, trace_id: str, span_id: str) -> LinkTarget:
        with mapped_errors(), snapshot(self._store.cursor()) as cur:
            row = _row(cur, workspace_id, trace_id)
            spans = cur.execute(sql("queries/link_spans"), {"trace_id": trace_id}).fetchall()
        ours = [(sid, role, step) for ws, sid, role, step in spans if ws == workspace_id and role]
        step_id = next(
            (step for sid, role, step in ours if sid == span_id and role in (m.STEP, m.ATTEMPT)), None
        )
        return LinkTarget(trace_id if row is not None or ours else None, step_id)

    def open_executions(self, service_name: str) -> list[OpenExecution]:
        with mapped_errors(), snapshot(self._store.cursor()) as cur:
            found = cur.execute(sql("queries/open_executions"), {"service_name": service_name}).fetchall()
            out = []
            for workspace_id, execution_id, workflow_id, name, project_id, number, start_ns, root in found:
                if not root:  # the root span has not arrived: the id its records announced
                    params = {"execution_id": execution_id, "workspace_id": workspace_id}
                    (root,) = cur.execute(sql("queries/announced_root_span"), params).fetchone()  # type: ignore[misc]
                if root and start_ns:
                    out.append(
                        OpenExecution(
                            workspace_id, execution_id, workflow_id, name, project_id, number, start_ns, root
                        )
                    )
        return out


def _row(cur: duckdb.DuckDBPyConnection, workspace_id: str, execution_id: str) -> ExecutionRow | None:
    found = cur.execute(sql("queries/execution"), {"execution_id": execution_id}).fetchall()
    return next((ExecutionRow(*r[1:]) for r in found if r[0] == workspace_id), None)


def _spans(cur: duckdb.DuckDBPyConnection, workspace_id: str, execution_id: str) -> list[_SpanRow]:
    """The workspace's workflow spans of the execution's trace, by start time, with the
    blobs of the root and step spans (whose attributes are read)."""
    params = {"execution_id": execution_id}
    stored = cur.execute(sql("queries/execution_spans"), params).fetchall()
    found = workflow_spans(((r[0], r[1], _SpanRow(*r[2:])) for r in stored), workspace_id)
    wanted = [rowid for rowid, s in found if span_blob_read(s)]
    blobs = by_rowid(cur, "queries/span_blobs", wanted)
    return [s._replace(span=blobs.get(rowid)) for rowid, s in found]


def workflow_spans(
    rows: Iterable[tuple[int, str, _SpanRow]], workspace_id: str
) -> list[tuple[int, _SpanRow]]:
    """Of a trace's (row id, workspace, span) rows, the workspace's workflow spans by start time."""
    return sorted(
        ((rowid, s) for rowid, workspace, s in rows if workspace == workspace_id and s.span_role),
        key=lambda found: (found[1].start_ns, found[1].span_id),
    )


# The spans whose blobs a details read needs: the root's and the steps' attributes are read.
BLOB_ROLES = (m.EXECUTION, m.STEP)


def span_blob_read(span: _SpanRow) -> bool:
    return span.span_role in BLOB_ROLES


def _lifecycle(
    cur: duckdb.DuckDBPyConnection, row: ExecutionRow, workspace_id: str
) -> tuple[tuple[LifecycleRecord, ...], tuple[Triggered, ...]]:
    """The workspace's lifecycle records of the execution, and the executions its spans
    triggered, oldest first. Record attributes (read from the blob) name and order running
    steps; a finished execution needs only the promoted columns (reading the blob costs a
    decompression), and the blobs of its triggered records, read by row id."""
    query = sql("queries/execution_lifecycle_columns" if row.terminal else "queries/execution_lifecycle")
    params = {"execution_id": row.execution_id}
    rows = map(_TraceRecord._make, cur.execute(query, params).fetchall())
    return _lifecycle_of(rows, workspace_id, lambda rowids: by_rowid(cur, "queries/log_blobs", rowids))


def _lifecycle_of(
    rows: Iterable[_TraceRecord], workspace_id: str, blobs: Callable[[list[int]], dict[int, bytes]]
) -> tuple[tuple[LifecycleRecord, ...], tuple[Triggered, ...]]:
    """`_lifecycle` from the trace's records; `blobs` reads the blobs of records without one."""
    ours = [r for r in rows if r.workspace_id == workspace_id]
    found = sorted(ours, key=lambda r: (r.time_ns, r.record_hash))
    lifecycle = tuple(
        LifecycleRecord(r.time_ns, r.event_name, r.span_id, r.step_id, _record_attributes(r.record))
        for r in found
        if r.event_name in c.LIFECYCLE_EVENTS
    )
    triggers = [r for r in found if r.event_name == c.EVENT_EXECUTION_TRIGGERED]
    unread = [r.rowid for r in triggers if r.record is None]
    if unread:
        read = blobs(unread)
        triggers = [r._replace(record=read.get(r.rowid)) for r in triggers]
    triggered = []
    for r in triggers:
        execution_id = m.text(_record_attributes(r.record).get(c.TRIGGERED_EXECUTION_ID))
        if execution_id and r.span_id:
            triggered.append(Triggered(r.span_id, execution_id, r.time_ns))
    return lifecycle, tuple(triggered)


def _records(cur: duckdb.DuckDBPyConnection, workspace_id: str, execution_id: str) -> ExecutionRecords | None:
    row = _row(cur, workspace_id, execution_id)
    return assemble(cur, workspace_id, execution_id, row, _spans(cur, workspace_id, execution_id))


def assemble(
    cur: duckdb.DuckDBPyConnection, workspace_id: str, execution_id: str, row: ExecutionRow | None,
    spans: list[_SpanRow],
) -> ExecutionRecords | None:  # fmt: skip
    """An execution's records from its row (None: not stored) and its workflow spans (as
    `_spans` returns them), with its lifecycle records read here."""
    if row is None:
        row = _synthetic_row(execution_id, spans)
        if row is None:
            return None
    attempts: dict[str, list[Attempt]] = {}
    for a in spans:
        if a.span_role == m.ATTEMPT:
            attempts.setdefault(a.parent_span_id, []).append(
                Attempt.of(a.span_id, a.parent_span_id, a.start_ns, a.end_ns, a.step_status, a.status_message)
            )
    root_attributes: dict[str, Any] = {}
    root_links: tuple[SpanLink, ...] = ()
    steps = []
    for s in spans:
        if s.span_role == m.EXECUTION and s.span_id == (row.root_span_id or s.span_id) and s.span:
            root = Span.FromString(s.span)
            root_attributes = attributes_to_dict(root.attributes)
            root_links = tuple(
                SpanLink(link.trace_id.hex(), link.span_id.hex(), attributes_to_dict(link.attributes))
                for link in root.links
            )
        elif s.span_role == m.STEP:
            steps.append(_step(s, tuple(attempts.get(s.span_id, ()))))
    lifecycle, triggered = _lifecycle(cur, row, workspace_id)
    return ExecutionRecords(row, root_attributes, tuple(steps), lifecycle, root_links, triggered)


def _synthetic_row(execution_id: str, spans: list[_SpanRow]) -> ExecutionRow | None:
    """An execution whose root span has not arrived and that sent no lifecycle records
    (a foreign tracer mid-run): running, known from its step spans."""
    workflow_id = next((s.workflow_id for s in spans if s.workflow_id), None)
    if workflow_id is None:
        return None
    start = min(s.start_ns for s in spans)
    return ExecutionRow(
        execution_id, workflow_id, None, None, None, m.RUNNING, m.status_rank(m.RUNNING), None, start, None,
        None, None, None, None, None, None,
    )  # fmt: skip


def _record_attributes(blob: bytes | None) -> dict[str, Any]:
    """A stored log record's attributes (none when its blob was not read)."""
    return attributes_to_dict(LogRecord.FromString(blob).attributes) if blob else {}


def _step(row: _SpanRow, attempts: tuple[Attempt, ...]) -> ExecutionStep:
    span = Span.FromString(row.span or b"")
    attrs = attributes_to_dict(span.attributes)
    status = row.step_status or "completed"
    return ExecutionStep(
        step_id=row.step_id or row.name,
        name=m.step_name(attrs) or row.name,
        status=status,
        order=m.integer(attrs.get(c.STEP_ORDER)),
        span_id=row.span_id,
        start_ns=row.start_ns,
        end_ns=row.end_ns,
        retry_count=row.retry_count or 0,
        error_message=row.error_message,
        input_text=m.text(attrs.get(c.STEP_INPUT)),
        output_text=m.text(attrs.get(c.STEP_OUTPUT)),
        input_truncated=m.flag(attrs.get(c.STEP_INPUT_TRUNCATED)),
        output_truncated=m.flag(attrs.get(c.STEP_OUTPUT_TRUNCATED)),
        depends_on=m.string_list(attrs.get(c.STEP_DEPENDS_ON)),
        depends_declared=c.STEP_DEPENDS_ON in attrs,
        skip_reason=m.text(attrs.get(c.STEP_SKIP_REASON)),
        queued_ns=m.integer(attrs.get(c.STEP_QUEUED_TIME)),
        attempts=attempts,
        events=tuple(
            SpanEvent(e.name, e.time_unix_nano, attributes_to_dict(e.attributes)) for e in span.events
        ),
    )


def _log_row(
    time_ns: int,
    observed_ns: int,
    severity_number: int,
    severity_text: str,
    body: str | None,
    event_name: str,
    span_id: str,
    step_id: str | None,
    service_name: str | None,
    blob: bytes | None,
) -> LogRow:
    return LogRow(
        time_ns, observed_ns, severity_number, severity_text, body, event_name or None, span_id or None,
        step_id, service_name, _record_attributes(blob),
    )  # fmt: skip

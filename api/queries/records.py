"""Everything stored about one execution, read with a few index lookups.

One execution is one trace: its summary row (`executions`), its workflow spans
(`spans`, by trace id) and its lifecycle log records (`logs`, by trace id). Span and
log blobs are decoded here, and only here, for the handful of rows of one execution.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import duckdb
from flowscope.api.sqlfiles import sql
from flowscope.api.timefmt import ns_to_dt
from flowscope.collector.anyvalue import attributes_to_dict, to_jsonable
from flowscope.collector.columns import as_int
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from flowscope import conventions as c


@dataclass(slots=True)
class ExecutionRow:
    """The ingest-maintained summary of an execution (lifecycle records + root span)."""

    execution_id: str
    workflow_id: str
    workflow_name: str | None
    project_id: str | None
    execution_number: int | None
    status: str
    status_rank: int
    queued_ns: int | None
    started_ns: int | None
    ended_ns: int | None
    duration_seconds: float | None
    input_json: str | None
    results_json: str | None
    error_message: str | None
    root_span_id: str | None
    service_name: str | None

    @property
    def created_ns(self) -> int | None:
        return self.queued_ns or self.started_ns

    @property
    def updated_ns(self) -> int | None:
        return self.ended_ns or self.started_ns or self.queued_ns

    @property
    def terminal(self) -> bool:
        return self.status in c.TERMINAL_EXECUTION_STATUSES


class SpanRow(NamedTuple):
    """A row of sql/execution_spans.sql."""

    span_id: str
    parent_span_id: str
    span_role: str
    name: str
    step_id: str | None
    step_status: str | None
    retry_count: int | None
    start_ns: int
    end_ns: int
    status_code: int
    status_message: str
    workflow_id: str | None
    span: bytes | None  # only for the root and step spans


@dataclass(slots=True)
class Attempt:
    span_id: str
    parent_span_id: str
    start_ns: int
    end_ns: int
    status: str
    error_message: str | None


@dataclass(slots=True)
class StepRun:
    """One step span of the execution, with its attempts; or a step known only from a
    `workflow.step.started` record (running) or from the definition (pending)."""

    step_id: str
    name: str
    status: str
    order: int | None = None
    span_id: str | None = None
    start_ns: int | None = None
    end_ns: int | None = None
    retry_count: int = 0
    error_message: str | None = None
    input_text: str | None = None
    output_text: str | None = None
    input_truncated: bool = False
    output_truncated: bool = False
    depends_on: list[str] = field(default_factory=list)
    depends_declared: bool = False  # the span said its dependencies (possibly none)
    skip_reason: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def duration_ns(self) -> int | None:
        if self.start_ns is None or self.end_ns is None:
            return None
        return max(0, self.end_ns - self.start_ns)


@dataclass(slots=True)
class Lifecycle:
    time_ns: int
    event_name: str
    span_id: str
    step_id: str | None
    attributes: dict[str, Any]


@dataclass(slots=True)
class ExecutionRecords:
    row: ExecutionRow
    root_attributes: dict[str, Any]
    root_events: list[dict[str, Any]]
    steps: list[StepRun]  # from step spans only, in start order
    lifecycle: list[Lifecycle]


def _str(value: Any) -> str | None:
    return None if value is None else value if isinstance(value, str) else str(value)


def _int(value: Any) -> int | None:
    return as_int(value)  # the collector's rule (a "²" is no integer: int() would raise)


def _events(span: Span) -> list[dict[str, Any]]:
    return [
        {
            "name": e.name,
            "timestamp": ns_to_dt(e.time_unix_nano),
            "attributes": to_jsonable(attributes_to_dict(e.attributes)),
        }
        for e in span.events
    ]


def attempt(
    span_id: str, parent_span_id: str, start_ns: int, end_ns: int, status: str | None, status_message: str
) -> Attempt:
    """An attempt span's columns as an Attempt: its status, and its message when it failed."""
    error = (status_message or None) if status == "failed" else None
    return Attempt(span_id, parent_span_id, start_ns, end_ns, status or "completed", error)


def fetch_row(cur: duckdb.DuckDBPyConnection, workspace_id: str, execution_id: str) -> ExecutionRow | None:
    found = cur.execute(
        sql("execution"), {"execution_id": execution_id, "workspace_id": workspace_id}
    ).fetchone()
    return ExecutionRow(*found) if found else None


def _step_run(row: SpanRow) -> StepRun:
    span = Span.FromString(row.span or b"")
    attrs = attributes_to_dict(span.attributes)
    error = _str(attrs.get(c.STEP_ERROR))
    if error is None and row.step_status in ("failed", "cancelled"):
        error = row.status_message or None
    depends = attrs.get(c.STEP_DEPENDS_ON)
    return StepRun(
        step_id=row.step_id or row.name,
        name=_str(attrs.get(c.STEP_NAME)) or row.name,
        status=row.step_status or "completed",
        order=_int(attrs.get(c.STEP_ORDER)),
        span_id=row.span_id,
        start_ns=row.start_ns,
        end_ns=row.end_ns,
        retry_count=row.retry_count or 0,
        error_message=error,
        input_text=_str(attrs.get(c.STEP_INPUT)),
        output_text=_str(attrs.get(c.STEP_OUTPUT)),
        input_truncated=attrs.get(c.STEP_INPUT_TRUNCATED) is True,
        output_truncated=attrs.get(c.STEP_OUTPUT_TRUNCATED) is True,
        depends_on=[str(d) for d in depends] if isinstance(depends, list) else [],
        depends_declared=c.STEP_DEPENDS_ON in attrs,
        skip_reason=_str(attrs.get(c.STEP_SKIP_REASON)),
        events=_events(span),
    )


def _synthetic_row(execution_id: str, spans: list[SpanRow]) -> ExecutionRow | None:
    """An execution whose root span has not arrived and that sent no lifecycle records
    (a foreign tracer mid-run): running, known from its step spans."""
    workflow_id = next((s.workflow_id for s in spans if s.workflow_id), None)
    if workflow_id is None:
        return None
    start = min(s.start_ns for s in spans)
    return ExecutionRow(
        execution_id, workflow_id, None, None, None, "running", 2, None, start, None, None, None, None,
        None, None, None,
    )  # fmt: skip


@contextlib.contextmanager
def snapshot(cur: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Run several reads on one snapshot. Without it a commit landing between the reads of
    one answer tears it: the execution row read before the commit, its steps after (seen
    as a 'pending' execution with a running step once triggers commit with their steps)."""
    try:
        cur.execute("BEGIN TRANSACTION")
    except duckdb.TransactionException:  # the caller's transaction is the snapshot already
        yield
        return
    try:
        yield
    finally:
        cur.execute("ROLLBACK")  # read only: nothing to keep


def fetch(cur: duckdb.DuckDBPyConnection, workspace_id: str, execution_id: str) -> ExecutionRecords | None:
    """All records of one execution of this workspace, or None when there are none,
    read on one snapshot."""
    with snapshot(cur):
        return _fetch(cur, workspace_id, execution_id)


def _fetch(cur: duckdb.DuckDBPyConnection, workspace_id: str, execution_id: str) -> ExecutionRecords | None:
    params = {"execution_id": execution_id, "workspace_id": workspace_id}
    row = fetch_row(cur, workspace_id, execution_id)
    spans = [SpanRow(*r) for r in cur.execute(sql("execution_spans"), params).fetchall()]
    if row is None:
        row = _synthetic_row(execution_id, spans) if spans else None
        if row is None:
            return None
    root_attributes: dict[str, Any] = {}
    root_events: list[dict[str, Any]] = []
    steps: list[StepRun] = []
    by_span: dict[str, StepRun] = {}
    for s in spans:
        if s.span_role == "execution" and s.span_id == (row.root_span_id or s.span_id) and s.span:
            root = Span.FromString(s.span)
            root_attributes = attributes_to_dict(root.attributes)
            root_events = _events(root)
        elif s.span_role == "step":
            run = _step_run(s)
            steps.append(run)
            by_span[s.span_id] = run
    for a in spans:
        owner = by_span.get(a.parent_span_id) if a.span_role == "attempt" else None
        if owner is not None:
            owner.attempts.append(
                attempt(a.span_id, a.parent_span_id, a.start_ns, a.end_ns, a.step_status, a.status_message)
            )
    # Record attributes (read from the blob) name and order running steps; a finished
    # execution needs only the promoted columns.
    query = sql("execution_lifecycle_columns" if row.terminal else "execution_lifecycle")
    lifecycle = []
    for time_ns, event, span_id, step_id, blob in cur.execute(query, params).fetchall():
        attributes = attributes_to_dict(LogRecord.FromString(blob).attributes) if blob else {}
        lifecycle.append(Lifecycle(time_ns, event, span_id, step_id, attributes))
    return ExecutionRecords(row, root_attributes, root_events, steps, lifecycle)

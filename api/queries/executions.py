"""Response shapes of one execution, built from its stored records (`store.executions.records`)."""

from __future__ import annotations

from typing import Any

from flowscope.api.queries.steps import (
    DefinedStep,
    critical_path,
    dependencies_known,
    execution_steps,
    timings,
)
from flowscope.api.schemas.common import TriggeredBy
from flowscope.api.schemas.executions import (
    ExecutionLogPage,
    ExecutionLogRecord,
    StatusTransition,
    StepAttempt,
    StepExecution,
    StepExecutionDetails,
    WorkflowExecution,
    WorkflowExecutionDetails,
    WorkflowExecutionPage,
)
from flowscope.api.schemas.timeline import WorkflowExecutionTimeline, WorkflowStepTimelineEntry
from flowscope.api.summaries import as_object, parse_json, summarize
from flowscope.api.timefmt import ns_to_dt
from flowscope.storage.anyvalue import to_jsonable
from flowscope.storage.executions import (
    Attempt,
    ExecutionRecords,
    ExecutionRow,
    ExecutionStep,
    LinkTarget,
    LogRow,
    Page,
    SpanEvent,
    Triggered,
)

from flowscope import conventions as c
from flowscope import workflow_meaning as m


def step_attempt(number: int, a: Attempt) -> StepAttempt:
    """One attempt span as the API shows it (step details and the attempts endpoint)."""
    return StepAttempt(
        attempt=number,
        span_id=a.span_id,
        status=a.status,
        started_at=ns_to_dt(a.start_ns),
        completed_at=ns_to_dt(a.end_ns),
        duration=max(0, a.end_ns - a.start_ns) / 1e9,
        error_message=a.error_message,
    )


def _event(event: SpanEvent) -> dict[str, Any]:
    return {
        "name": event.name,
        "timestamp": ns_to_dt(event.time_ns),
        "attributes": to_jsonable(event.attributes),
    }


def _seconds(ns: int | None) -> float | None:
    return None if ns is None else ns / 1e9


def needs_definition(records: ExecutionRecords) -> bool:
    """The catalog definition adds pending steps (while not finished) and, for spans
    that do not carry them, order and dependencies."""
    if not records.row.terminal:
        return True
    return any(r.order is None or not r.depends_declared for r in records.steps)


def _json_object(text: str | None) -> dict[str, Any] | None:
    value, ok = parse_json(text)
    if not ok:
        return {"_truncated": True, "preview": value}
    return as_object(value)


def execution_item(row: ExecutionRow) -> WorkflowExecution:
    return WorkflowExecution(
        id=row.execution_id,
        workflow_id=row.workflow_id,
        execution_number=row.execution_number,
        status=row.status,  # type: ignore[arg-type]
        started_at=ns_to_dt(row.started_ns),
        completed_at=ns_to_dt(row.ended_ns),
        duration=row.duration_seconds,
        input_variables=_json_object(row.input_json),
        results=_json_object(row.results_json),
        error_message=row.error_message,
        created_at=ns_to_dt(row.created_ns),
        updated_at=ns_to_dt(row.updated_ns),
        workflow_name=row.workflow_name,
        project_id=row.project_id,
    )


def execution_page(page: Page[ExecutionRow], skip: int, limit: int) -> WorkflowExecutionPage:
    items = [execution_item(row) for row in page.items]
    return WorkflowExecutionPage(items=items, total=page.total, skip=skip, limit=limit)


def step_span_ids(records: ExecutionRecords, step_id: str) -> list[str]:
    """The spans a step's own log records are emitted in: its step spans and their attempts'."""
    span_ids: list[str] = []
    for run in records.steps:
        if run.step_id == step_id and run.span_id:
            span_ids += [run.span_id, *(a.span_id for a in run.attempts)]
    return span_ids


def log_page(page: Page[LogRow], skip: int, limit: int) -> ExecutionLogPage:
    items = [
        ExecutionLogRecord(
            timestamp=ns_to_dt(r.time_ns),
            observed_at=ns_to_dt(r.observed_ns),
            severity_number=r.severity_number,
            severity_text=r.severity_text,
            event_name=r.event_name,
            body=r.body,
            step_id=r.step_id,
            span_id=r.span_id,
            service_name=r.service_name,
            attributes=to_jsonable(r.attributes),
        )
        for r in page.items
    ]
    return ExecutionLogPage(items=items, total=page.total, skip=skip, limit=limit)


def status_history(records: ExecutionRecords) -> list[StatusTransition]:
    """Each status the execution went through, in order (`workflow_meaning.status_history`)."""
    queued = next((r for r in records.lifecycle if r.event_name == c.EVENT_EXECUTION_QUEUED), None)
    started = next((r for r in records.lifecycle if r.event_name == c.EVENT_EXECUTION_STARTED), None)
    row = records.row
    history = m.status_history(
        queued.time_ns if queued else None, started.time_ns if started else None, row.started_ns, row.status,
        row.ended_ns,
    )  # fmt: skip
    return [
        StatusTransition(status=status, timestamp=ns_to_dt(time_ns), source=source)  # type: ignore[arg-type]
        for status, time_ns, source in history
    ]


def _step_execution(execution_id: str, run: ExecutionStep) -> StepExecution:
    output, _ = parse_json(run.output_text)
    return StepExecution(
        id=run.span_id,
        execution_id=execution_id,
        step_id=run.step_id,
        step_name=run.name,
        step_order=run.order,
        status=run.status,  # type: ignore[arg-type]
        started_at=ns_to_dt(run.start_ns),
        completed_at=ns_to_dt(run.end_ns),
        duration=_seconds(run.duration_ns),
        retry_count=run.retry_count,
        output_data=output,
        error_message=run.error_message,
    )


def trigger(records: ExecutionRecords) -> tuple[str, str] | None:
    """The caller span (trace id, span id) that started the execution: its root span's
    `triggered_by` link; before the root span arrives (it ends with the execution), what its
    queued record names."""
    for link in records.root_links:
        if link.attributes.get(c.LINK_KIND) == c.LINK_TRIGGERED_BY:
            return link.trace_id, link.span_id
    queued = next((r for r in records.lifecycle if r.event_name == c.EVENT_EXECUTION_QUEUED), None)
    if queued is None:
        return None
    trace_id = m.text(queued.attributes.get(c.TRIGGERED_BY_TRACE_ID))
    span_id = m.text(queued.attributes.get(c.TRIGGERED_BY_SPAN_ID))
    return (trace_id, span_id) if trace_id and span_id else None


def _triggered(started_from: dict[str, list[Triggered]], span_ids: list[str]) -> list[str]:
    """The executions started from these spans (a step's and its attempts'), oldest first."""
    found = [t for span_id in span_ids for t in started_from.get(span_id, ())]
    return [t.execution_id for t in sorted(found, key=lambda t: t.time_ns)]


def triggered_by(caller: tuple[str, str], target: LinkTarget) -> TriggeredBy:
    return TriggeredBy(
        trace_id=caller[0], span_id=caller[1], execution_id=target.execution_id, step_id=target.step_id
    )


def details(
    records: ExecutionRecords, definition: list[DefinedStep] | None, caller: TriggeredBy | None = None
) -> WorkflowExecutionDetails:
    row = records.row
    item = execution_item(row)
    runs = execution_steps(records, definition)
    error_type = records.root_attributes.get(c.ERROR_TYPE)
    return WorkflowExecutionDetails(
        **item.model_dump(),
        step_executions=[_step_execution(row.execution_id, r) for r in runs],
        status_history=status_history(records),
        error_type=error_type if isinstance(error_type, str) else None,
        service_name=row.service_name,
        triggered_by=caller,
    )


def timeline(
    records: ExecutionRecords, definition: list[DefinedStep] | None, caller: TriggeredBy | None = None
) -> WorkflowExecutionTimeline:
    row = records.row
    runs = execution_steps(records, definition)
    deps_known = dependencies_known(runs, definition)
    times = timings(runs, row.started_ns, deps_known)
    started_from: dict[str, list[Triggered]] = {}
    for t in records.triggered:
        started_from.setdefault(t.span_id, []).append(t)
    entries = []
    for run in runs:
        queue, in_run, wait = times.get(id(run), (None, None, None))
        spans = [run.span_id, *(a.span_id for a in run.attempts)] if run.span_id else []
        entries.append(
            WorkflowStepTimelineEntry(
                step_id=run.step_id,
                step_name=run.name,
                step_order=run.order or 0,
                status=run.status,  # type: ignore[arg-type]
                started_at=ns_to_dt(run.start_ns),
                completed_at=ns_to_dt(run.end_ns),
                duration_seconds=_seconds(run.duration_ns),
                retry_count=run.retry_count,
                error_message=run.error_message,
                input_summary=summarize(run.input_text, run.input_truncated),
                output_summary=summarize(run.output_text, run.output_truncated),
                step_execution_id=run.span_id,
                depends_on=list(run.depends_on),
                attempts=len(run.attempts),
                queue_seconds=queue,
                run_seconds=in_run,
                wait_seconds=wait,
                skip_reason=run.skip_reason,
                triggered=_triggered(started_from, spans),
            )
        )
    statuses = [e.status for e in entries]
    queue_ns = row.started_ns - row.queued_ns if row.started_ns and row.queued_ns else None
    return WorkflowExecutionTimeline(
        execution_id=row.execution_id,
        workflow_id=row.workflow_id,
        status=row.status,  # type: ignore[arg-type]
        started_at=ns_to_dt(row.started_ns),
        completed_at=ns_to_dt(row.ended_ns),
        total_duration_seconds=row.duration_seconds,
        step_count=len(entries),
        completed_step_count=statuses.count("completed"),
        failed_step_count=statuses.count("failed"),
        skipped_step_count=statuses.count("skipped"),
        step_timeline=entries,
        error_message=row.error_message,
        workflow_name=row.workflow_name,
        execution_number=row.execution_number,
        queued_at=ns_to_dt(row.queued_ns),
        queue_seconds=_seconds(max(0, queue_ns)) if queue_ns is not None else None,
        critical_path=critical_path(runs, deps_known),
        triggered_by=caller,
    )


def step_details(
    records: ExecutionRecords, definition: list[DefinedStep] | None, step_id: str
) -> StepExecutionDetails | None:
    """One step by step id (its latest run) or by step execution (span) id; None if absent."""
    runs = execution_steps(records, definition)
    matches = [r for r in runs if r.step_id == step_id] or [r for r in runs if r.span_id == step_id]
    if not matches:
        return None
    run = max(matches, key=lambda r: r.start_ns or 0)
    base = _step_execution(records.row.execution_id, run)
    input_data, _ = parse_json(run.input_text)
    attempts = [step_attempt(i + 1, a) for i, a in enumerate(sorted(run.attempts, key=lambda a: a.start_ns))]
    return StepExecutionDetails(
        **base.model_dump(),
        input_data=input_data,
        input_truncated=run.input_truncated,
        output_truncated=run.output_truncated,
        depends_on=list(run.depends_on),
        skip_reason=run.skip_reason,
        attempts=attempts,
        events=[_event(e) for e in run.events],
    )

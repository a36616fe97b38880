"""What one execution emits, per DESIGN.md "What makes a span a workflow span".

This module decides names, attributes and statuses and hands plain dicts to
`engine.telemetry._Pipeline`; it does not import OpenTelemetry itself.

- root span (SERVER) `RUN {workflow name}`: workflow.* + cicd.pipeline.*, final status;
  ERROR status + `workflow.error` + `error.type` when failed or timed out.
- step span (INTERNAL, child of the root) named the step name: workflow.step.* +
  cicd.pipeline.task.*; skipped and cancelled steps get one too (zero-length when
  they never started).
- `attempt {n}` span (child of the step span) per attempt, with `workflow.step.attempt`.
- started by a caller that sent a traceparent (`triggered_by`): still a trace of its own; the
  root span links to the caller's span (`flowscope.link.kind = triggered_by`), the queued
  record names it (`flowscope.triggered_by.trace_id` / `.span_id`), and a
  `flowscope.execution.triggered` record in the caller's trace and span names this execution.
- records: workflow.execution.queued / .started (root span id), workflow.step.started
  / .retrying (step span id).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from flowscope.engine.state import StepRun
from flowscope.engine.telemetry import (
    capped_json,
    format_span_id,
    format_trace_id,
    new_span_id,
    new_trace_id,
    traceparent,
)

from flowscope import conventions as c

if TYPE_CHECKING:
    from flowscope.engine.model import StepDefinition
    from flowscope.engine.telemetry import BuiltRecord, RemoteParent, Telemetry, _Pipeline

INTERRUPTED_ERROR = "Execution interrupted: the server stopped while it was running"


def step_attributes(step: StepDefinition, index: int) -> dict[str, Any]:
    """The attributes of a step's span that do not change between executions (computed once per plan)."""
    return {
        c.STEP_ID: step.id,
        c.STEP_NAME: step.display_name,
        c.STEP_ORDER: index + 1,
        c.STEP_DEPENDS_ON: tuple(step.depends_on),
        c.CICD_TASK_NAME: step.display_name,
    }


def _root_attributes(
    workflow_id: str, workflow_name: str, trace_id: int, number: int, project_id: str | None
) -> dict[str, Any]:
    execution_id = format_trace_id(trace_id)
    attrs: dict[str, Any] = {
        c.WORKFLOW_ID: workflow_id,
        c.WORKFLOW_NAME: workflow_name,
        c.WORKFLOW_EXECUTION_ID: execution_id,
        c.WORKFLOW_EXECUTION_NUMBER: number,
        c.CICD_PIPELINE_NAME: workflow_name,
        c.CICD_PIPELINE_RUN_ID: execution_id,
    }
    if project_id:
        attrs[c.WORKFLOW_PROJECT_ID] = project_id
    return attrs


def _status_attributes(status: str, error: str | None) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        c.WORKFLOW_STATUS: status,
        c.CICD_PIPELINE_RESULT: c.PIPELINE_RESULT_BY_STATUS[status],
    }
    if error:
        attrs[c.WORKFLOW_ERROR] = error
    return attrs


def interrupted_span(
    p: _Pipeline,
    *,
    trace_id: int,
    root_span_id: int,
    workflow_id: str,
    workflow_name: str,
    execution_number: int,
    project_id: str | None,
    start_ns: int,
    end_ns: int,
) -> None:
    attrs = _root_attributes(workflow_id, workflow_name, trace_id, execution_number, project_id)
    attrs.update(_status_attributes("failed", INTERRUPTED_ERROR))
    attrs[c.ERROR_TYPE] = "interrupted"
    p.emit_span(
        f"RUN {workflow_name}", trace_id=trace_id, span_id=root_span_id, parent_span_id=None, kind="server",
        attributes=attrs, start_ns=start_ns, end_ns=end_ns, error=INTERRUPTED_ERROR,
    )  # fmt: skip


class ExecutionTelemetry:
    """Emits one execution's records and spans. Ids exist from construction (= queue time)."""

    propagates = True  # actions get a traceparent

    def __init__(
        self,
        telemetry: Telemetry,
        *,
        workspace_id: str,
        workflow_id: str,
        workflow_name: str,
        execution_number: int,
        project_id: str | None = None,
        triggered_by: RemoteParent | None = None,
    ) -> None:
        self._t = telemetry
        self.triggered_by = triggered_by
        self.workspace_id = workspace_id
        self.trace_id = new_trace_id()
        self.root_span_id = new_span_id()
        self.execution_id = format_trace_id(self.trace_id)
        self._workflow_name = workflow_name
        self._workflow_id = workflow_id
        self._root = _root_attributes(workflow_id, workflow_name, self.trace_id, execution_number, project_id)
        self._common = {c.WORKFLOW_ID: workflow_id, c.WORKFLOW_EXECUTION_ID: self.execution_id}
        self._limit = telemetry.config.max_value_bytes
        self._p: _Pipeline | None = None

    @property
    def _pipeline(self) -> _Pipeline:
        if self._p is None:
            self._p = self._t.pipeline(self.workspace_id)
        return self._p

    def traceparent(self, span_id: int) -> str | None:
        return traceparent(self.trace_id, span_id)

    def queued_records(self, inputs: dict[str, Any], queued_ns: int) -> list[BuiltRecord]:
        """The `workflow.execution.queued` record and, with a caller, the
        `flowscope.execution.triggered` one in the caller's span: built, not emitted."""
        attrs = dict(self._root)
        attrs[c.WORKFLOW_INPUT], attrs[c.WORKFLOW_INPUT_TRUNCATED] = capped_json(inputs, self._limit)
        caller = self.triggered_by
        if caller is not None:
            attrs[c.TRIGGERED_BY_TRACE_ID] = format_trace_id(caller.trace_id)
            attrs[c.TRIGGERED_BY_SPAN_ID] = format_span_id(caller.span_id)
        records = [self._pipeline.build_record(
            c.EVENT_EXECUTION_QUEUED, trace_id=self.trace_id, span_id=self.root_span_id, attributes=attrs,
            body=f"Execution of '{self._workflow_name}' queued", time_ns=queued_ns,
        )]  # fmt: skip
        if caller is not None:
            named = {c.TRIGGERED_EXECUTION_ID: self.execution_id, c.TRIGGERED_WORKFLOW_ID: self._workflow_id}
            records.append(self._pipeline.build_record(
                c.EVENT_EXECUTION_TRIGGERED, trace_id=caller.trace_id, span_id=caller.span_id,
                attributes=named, time_ns=queued_ns,
                body=f"Execution {self.execution_id} of '{self._workflow_name}' triggered",
            ))  # fmt: skip
        return records

    def emit_queued(self, records: list[BuiltRecord]) -> None:
        for record in records:
            self._pipeline.emit_built(record)

    def started(self) -> None:
        self._pipeline.emit_record(
            c.EVENT_EXECUTION_STARTED, trace_id=self.trace_id, span_id=self.root_span_id,
            attributes=dict(self._root), body=f"Execution of '{self._workflow_name}' started",
        )  # fmt: skip

    def _record_attrs(self, run: StepRun, attempt: int) -> dict[str, Any]:
        attrs = {**self._common, c.STEP_ID: run.step.id, c.STEP_NAME: run.step.display_name}
        attrs[c.STEP_ORDER] = run.index + 1
        attrs[c.STEP_ATTEMPT] = attempt
        return attrs

    def step_started(self, run: StepRun) -> None:
        attrs = self._record_attrs(run, 1)
        if run.step.depends_on:  # lets live feeds order a start after its dependencies' ends
            attrs[c.STEP_DEPENDS_ON] = tuple(run.step.depends_on)
        self._pipeline.emit_record(
            c.EVENT_STEP_STARTED, trace_id=self.trace_id, span_id=run.span_id,
            attributes=attrs, body=f"Step '{run.step.id}' started",
        )  # fmt: skip

    def step_retrying(self, run: StepRun, next_attempt: int, delay_seconds: float) -> None:
        attrs = self._record_attrs(run, next_attempt)
        attrs[c.STEP_RETRY_COUNT] = next_attempt - 1
        attrs[c.STEP_RETRY_DELAY] = delay_seconds
        last = run.attempts[-1] if run.attempts else None
        if last is not None and last.error:
            attrs[c.STEP_ERROR] = last.error
        self._pipeline.emit_record(
            c.EVENT_STEP_RETRYING, trace_id=self.trace_id, span_id=run.span_id, attributes=attrs,
            body=f"Step '{run.step.id}' retrying (attempt {next_attempt})", severity="warn",
        )  # fmt: skip

    def step_finished(self, run: StepRun) -> None:
        """The step span and its attempt spans (skipped/cancelled-before-start steps have none)."""
        p, trace_id, step_id = self._pipeline, self.trace_id, run.step.id
        for a in run.attempts:
            attempt_attrs = {c.STEP_ATTEMPT: a.number, c.STEP_ID: step_id, c.STEP_STATUS: a.status}
            p.emit_span(
                f"attempt {a.number}", trace_id=trace_id, span_id=a.span_id, parent_span_id=run.span_id,
                kind="internal", attributes=attempt_attrs,
                start_ns=a.start_ns, end_ns=a.end_ns or run.ended_ns,
                error=a.error if a.status == "failed" else None, exception=a.exception,
            )  # fmt: skip
        status = run.status
        attrs = {**self._common, **(run.static_attrs or step_attributes(run.step, run.index))}
        attrs[c.STEP_STATUS] = status
        attrs[c.STEP_RETRY_COUNT] = run.retry_count
        attrs[c.CICD_TASK_RUN_ID] = format_span_id(run.span_id)
        attrs[c.CICD_TASK_RUN_RESULT] = c.TASK_RESULT_BY_STEP_STATUS[status]
        if run.input is not None or run.input_json is not None:
            attrs[c.STEP_INPUT], attrs[c.STEP_INPUT_TRUNCATED] = capped_json(
                run.input, self._limit, run.input_json
            )
        if status == "completed":
            attrs[c.STEP_OUTPUT], attrs[c.STEP_OUTPUT_TRUNCATED] = capped_json(
                run.output, self._limit, run.output_json
            )
        if run.error:
            attrs[c.STEP_ERROR] = run.error
        if run.skip_reason:
            attrs[c.STEP_SKIP_REASON] = run.skip_reason
        failed = status == "failed"
        if failed:
            attrs[c.ERROR_TYPE] = type(run.exception).__name__ if run.exception else "StepFailed"
        end = run.ended_ns or time.time_ns()
        p.emit_span(
            run.step.display_name, trace_id=trace_id, span_id=run.span_id, parent_span_id=self.root_span_id,
            kind="internal", attributes=attrs, start_ns=run.started_ns or end, end_ns=end,
            error=run.error if failed else None, exception=run.exception if failed else None,
        )  # fmt: skip

    def finished(
        self,
        *,
        status: str,
        error: str | None,
        error_type: str | None,
        inputs: dict[str, Any],
        results: dict[str, Any],
        start_ns: int,
        end_ns: int,
    ) -> None:
        attrs = dict(self._root)
        attrs.update(_status_attributes(status, error))
        attrs[c.WORKFLOW_INPUT], attrs[c.WORKFLOW_INPUT_TRUNCATED] = capped_json(inputs, self._limit)
        attrs[c.WORKFLOW_RESULTS], attrs[c.WORKFLOW_RESULTS_TRUNCATED] = capped_json(results, self._limit)
        is_error = status in ("failed", "timeout")
        if is_error and error_type:
            attrs[c.ERROR_TYPE] = error_type
        links = ((self.triggered_by, {c.LINK_KIND: c.LINK_TRIGGERED_BY}),) if self.triggered_by else ()
        self._pipeline.emit_span(
            f"RUN {self._workflow_name}", trace_id=self.trace_id, span_id=self.root_span_id,
            parent_span_id=None, kind="server", attributes=attrs, start_ns=start_ns, end_ns=end_ns,
            error=error if is_error else None, links=links,
        )  # fmt: skip
        self._t.request_flush(self.workspace_id)


class NullExecutionTelemetry(ExecutionTelemetry):
    """Tracing off: same ids, nothing emitted, no traceparent."""

    propagates = False

    def traceparent(self, span_id: int) -> str | None:
        return None

    def queued_records(self, inputs: dict[str, Any], queued_ns: int) -> list[BuiltRecord]:
        return []

    def started(self) -> None:
        pass

    def step_started(self, run: StepRun) -> None:
        pass

    def step_retrying(self, run: StepRun, next_attempt: int, delay_seconds: float) -> None:
        pass

    def step_finished(self, run: StepRun) -> None:
        pass

    def finished(self, **kwargs: Any) -> None:
        pass

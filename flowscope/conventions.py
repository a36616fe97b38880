"""Attribute names, event names and status vocabularies shared by the engine and the collector.

This module names the contract of DESIGN.md "What makes a span a workflow span" and
"Status"; `flowscope.workflow_meaning` reads it (recognition, ids, status, errors,
retries). It imports nothing of ours so that both sides (the engine, which emits,
and the collector/api, which recognise) can depend on it without depending on
each other.
"""

from __future__ import annotations

from typing import Final

# --- Execution (root) span -------------------------------------------------
WORKFLOW_ID: Final = "workflow.id"
WORKFLOW_NAME: Final = "workflow.name"
WORKFLOW_EXECUTION_ID: Final = "workflow.execution.id"
WORKFLOW_EXECUTION_NUMBER: Final = "workflow.execution.number"
WORKFLOW_STATUS: Final = "workflow.status"
WORKFLOW_INPUT: Final = "workflow.input"
WORKFLOW_RESULTS: Final = "workflow.results"
WORKFLOW_PROJECT_ID: Final = "workflow.project.id"
WORKFLOW_ERROR: Final = "workflow.error"  # extra: the execution's error message
WORKFLOW_INPUT_TRUNCATED: Final = "workflow.input.truncated"  # extra: workflow.input was cut
WORKFLOW_RESULTS_TRUNCATED: Final = "workflow.results.truncated"  # extra: workflow.results was cut
# extra: when the run was queued (ns since the epoch), for emitters whose root span starts when it
# runs (a CI run waiting for a runner); the queued lifecycle record says the same for our engine
WORKFLOW_QUEUED_TIME: Final = "workflow.execution.queued_time_unix_nano"

CICD_PIPELINE_NAME: Final = "cicd.pipeline.name"
CICD_PIPELINE_RUN_ID: Final = "cicd.pipeline.run.id"
CICD_PIPELINE_RESULT: Final = "cicd.pipeline.result"
ERROR_TYPE: Final = "error.type"

# --- Step span ---------------------------------------------------------------
STEP_ID: Final = "workflow.step.id"
STEP_NAME: Final = "workflow.step.name"
STEP_ORDER: Final = "workflow.step.order"
STEP_STATUS: Final = "workflow.step.status"
STEP_RETRY_COUNT: Final = "workflow.step.retry_count"
STEP_INPUT: Final = "workflow.step.input"
STEP_OUTPUT: Final = "workflow.step.output"
STEP_INPUT_TRUNCATED: Final = "workflow.step.input.truncated"
STEP_OUTPUT_TRUNCATED: Final = "workflow.step.output.truncated"
STEP_ERROR: Final = "workflow.step.error"  # extra: the step's error message
STEP_SKIP_REASON: Final = "workflow.step.skip_reason"  # extra: why a step was skipped
STEP_ATTEMPT: Final = "workflow.step.attempt"  # on attempt child spans
STEP_DEPENDS_ON: Final = "workflow.step.depends_on"  # extra: string array of step ids
STEP_RETRY_DELAY: Final = "workflow.step.retry_delay_seconds"  # extra: on workflow.step.retrying records
STEP_QUEUED_TIME: Final = "workflow.step.queued_time_unix_nano"  # extra: when a step (CI job) was queued

# --- Recognized spans (issue 13: other emitters read as workflows) -------------------
# Set on a span whose workflow.* attributes Flowscope derived at ingest from another emitter's
# own attributes (flowscope.emitters); names the recognizer, e.g. "prefect".
RECOGNIZER: Final = "flowscope.recognizer"

CICD_TASK_NAME: Final = "cicd.pipeline.task.name"
CICD_TASK_RUN_ID: Final = "cicd.pipeline.task.run.id"
CICD_TASK_RUN_RESULT: Final = "cicd.pipeline.task.run.result"

# --- Trace context across systems (issue 13) ----------------------------------------
# An execution started by a caller that sent a W3C traceparent (a CI job, another execution's
# `http` step) stays its own trace; its root span links to the caller's span. OTel semantic
# conventions define no attribute saying why a link exists (none in opentelemetry-semantic-
# conventions 0.66b2); the link says which one it is with this attribute.
LINK_KIND: Final = "flowscope.link.kind"
LINK_TRIGGERED_BY: Final = "triggered_by"
# The same caller span on the execution's `workflow.execution.queued` record: the root span
# (which carries the link) ends with the execution, the record is stored before it runs.
TRIGGERED_BY_TRACE_ID: Final = "flowscope.triggered_by.trace_id"
TRIGGERED_BY_SPAN_ID: Final = "flowscope.triggered_by.span_id"
# And a record in the caller's own trace, in the caller span's context (the execute request is
# handled within it), so the caller's execution finds what its steps started by its trace id:
# event name and the execution started. Not in the workflow.* namespace: no lifecycle meaning.
EVENT_EXECUTION_TRIGGERED: Final = "flowscope.execution.triggered"
TRIGGERED_EXECUTION_ID: Final = "flowscope.triggered.execution_id"
TRIGGERED_WORKFLOW_ID: Final = "flowscope.triggered.workflow_id"

# --- Span events (OTel semantic conventions: exceptions) ------------------------
EXCEPTION_EVENT: Final = "exception"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_TYPE: Final = "exception.type"
# Span events are not in the change feed: the attributes it carries for a workflow span hold,
# under EXCEPTION_MESSAGE, the text of the span's last `exception` event (`exception_text`).

# --- Lifecycle log records (event.name) ---------------------------------------
EVENT_NAME: Final = "event.name"
EVENT_EXECUTION_QUEUED: Final = "workflow.execution.queued"
EVENT_EXECUTION_STARTED: Final = "workflow.execution.started"
EVENT_STEP_STARTED: Final = "workflow.step.started"
EVENT_STEP_RETRYING: Final = "workflow.step.retrying"
LIFECYCLE_EVENTS: Final = frozenset(
    {EVENT_EXECUTION_QUEUED, EVENT_EXECUTION_STARTED, EVENT_STEP_STARTED, EVENT_STEP_RETRYING}
)

# --- Statuses ----------------------------------------------------------------
# unknown: a run of another emitter whose end never came, after `serve --silence-seconds` of
# silence (issue 13); it is not terminal: a later span makes it running again, or ends it.
UNKNOWN_STATUS: Final = "unknown"
EXECUTION_STATUSES: Final = ("pending", "running", "completed", "failed", "cancelled", "timeout", "unknown")
TERMINAL_EXECUTION_STATUSES: Final = frozenset({"completed", "failed", "cancelled", "timeout"})
STEP_STATUSES: Final = ("pending", "running", "completed", "failed", "skipped", "cancelled")

# workflow.status -> cicd.pipeline.result
PIPELINE_RESULT_BY_STATUS: Final = {
    "completed": "success",
    "failed": "failure",
    "cancelled": "cancellation",
    "timeout": "timeout",
}
# workflow.step.status -> cicd.pipeline.task.run.result
TASK_RESULT_BY_STEP_STATUS: Final = {
    "completed": "success",
    "failed": "failure",
    "cancelled": "cancellation",
    "skipped": "skip",
    "timeout": "timeout",
}

# OTLP span status codes (opentelemetry.proto.trace.v1.Status.StatusCode)
STATUS_CODE_UNSET: Final = 0
STATUS_CODE_OK: Final = 1
STATUS_CODE_ERROR: Final = 2

# Attribute keys that make a span (or log record) a workflow one: the collector decodes these
# (and only these) for the change feed, and a replay reads the same ones back.
WORKFLOW_ATTRIBUTE_PREFIXES: Final = ("workflow.", "cicd.pipeline.")
WORKFLOW_ATTRIBUTE_KEYS: Final = frozenset({ERROR_TYPE, EVENT_NAME})

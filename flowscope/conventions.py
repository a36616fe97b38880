"""Attribute names, event names and status mappings shared by the engine and the collector.

This module is the contract of DESIGN.md "What makes a span a workflow span" and
"Status". It imports nothing of ours so that both sides (the engine, which emits,
and the collector/api, which recognise) can depend on it without depending on
each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

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

CICD_TASK_NAME: Final = "cicd.pipeline.task.name"
CICD_TASK_RUN_ID: Final = "cicd.pipeline.task.run.id"
CICD_TASK_RUN_RESULT: Final = "cicd.pipeline.task.run.result"

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
EXECUTION_STATUSES: Final = ("pending", "running", "completed", "failed", "cancelled", "timeout")
TERMINAL_EXECUTION_STATUSES: Final = frozenset({"completed", "failed", "cancelled", "timeout"})
STEP_STATUSES: Final = ("pending", "running", "completed", "failed", "skipped", "cancelled")

# workflow.status -> cicd.pipeline.result
PIPELINE_RESULT_BY_STATUS: Final = {
    "completed": "success",
    "failed": "failure",
    "cancelled": "cancellation",
    "timeout": "timeout",
}
# cicd.pipeline.result -> workflow.status (for foreign tracers that only set cicd.*)
STATUS_BY_PIPELINE_RESULT: Final = {
    "success": "completed",
    "failure": "failed",
    "error": "failed",
    "timeout": "timeout",
    "cancellation": "cancelled",
}
# workflow.step.status -> cicd.pipeline.task.run.result
TASK_RESULT_BY_STEP_STATUS: Final = {
    "completed": "success",
    "failed": "failure",
    "cancelled": "cancellation",
    "skipped": "skip",
    "timeout": "timeout",
}
STEP_STATUS_BY_TASK_RESULT: Final = {
    "success": "completed",
    "failure": "failed",
    "error": "failed",
    "timeout": "failed",
    "cancellation": "cancelled",
    "skip": "skipped",
}

# OTLP span status codes (opentelemetry.proto.trace.v1.Status.StatusCode)
STATUS_CODE_UNSET: Final = 0
STATUS_CODE_OK: Final = 1
STATUS_CODE_ERROR: Final = 2

# Attribute keys that make a span (or log record) a workflow one: the collector decodes these
# (and only these) for the change feed, and a replay reads the same ones back.
WORKFLOW_ATTRIBUTE_PREFIXES: Final = ("workflow.", "cicd.pipeline.")
WORKFLOW_ATTRIBUTE_KEYS: Final = frozenset({ERROR_TYPE, EVENT_NAME})


def execution_status(workflow_status: str | None, pipeline_result: str | None, status_code: int) -> str:
    """Final status of an execution from its root span (DESIGN.md "Status")."""
    if workflow_status in TERMINAL_EXECUTION_STATUSES:
        return workflow_status
    if pipeline_result in STATUS_BY_PIPELINE_RESULT:
        return STATUS_BY_PIPELINE_RESULT[pipeline_result]
    return "failed" if status_code == STATUS_CODE_ERROR else "completed"


def step_status(step_status_attr: str | None, task_result: str | None, status_code: int) -> str:
    """Final status of a step from its span."""
    if step_status_attr in STEP_STATUSES:
        return step_status_attr
    if task_result in STEP_STATUS_BY_TASK_RESULT:
        return STEP_STATUS_BY_TASK_RESULT[task_result]
    return "failed" if status_code == STATUS_CODE_ERROR else "completed"


# Statuses whose end is an error: their error message falls back beyond the explicit attribute.
UNSUCCESSFUL_STATUSES: Final = frozenset({"failed", "cancelled", "timeout"})


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def exception_text(events: Iterable[tuple[str, Mapping[str, Any]]]) -> str | None:
    """The text of a span's last `exception` event, from (event name, attributes) pairs:
    "Type: message" as Python prints an exception, or whichever of the two it has."""
    found = None
    for name, attributes in events:
        if name == EXCEPTION_EVENT:
            kind, message = _text(attributes.get(EXCEPTION_TYPE)), _text(attributes.get(EXCEPTION_MESSAGE))
            found = f"{kind}: {message}" if kind and message else kind or message or found
    return found


def error_message(
    status: str, explicit: Any, status_message: str | None, exception: Any, error_type: Any, result: Any
) -> str | None:
    """The error message of an execution or a step: the one rule every reader follows
    (README "Error messages").

    The emitter's own message (`workflow.error` of an execution, `workflow.step.error` of a
    step) whatever the status. Otherwise, only when it ended failed, cancelled or timed out:
    the span's status message, else its last `exception` event's message (or type), else
    its `error.type`, else (not for a cancellation, which is no error of its own) its
    `cicd.pipeline.result` / `cicd.pipeline.task.run.result` ("failure", "error",
    "timeout"). None when there is none of these."""
    text = _text(explicit)
    if text is not None or status not in UNSUCCESSFUL_STATUSES:
        return text
    text = _text(status_message) or _text(exception) or _text(error_type)
    return text if text is not None or status == "cancelled" else _text(result)


def execution_error(status: str, attrs: Mapping[str, Any], status_message: str | None) -> str | None:
    """`error_message` of an execution from its root span's attributes (as the change feed
    carries them: with EXCEPTION_MESSAGE) and status message."""
    return error_message(
        status, attrs.get(WORKFLOW_ERROR), status_message, attrs.get(EXCEPTION_MESSAGE),
        attrs.get(ERROR_TYPE), attrs.get(CICD_PIPELINE_RESULT),
    )  # fmt: skip


def step_error(status: str, attrs: Mapping[str, Any], status_message: str | None) -> str | None:
    """`error_message` of a step from its span's attributes (as the change feed carries them:
    with EXCEPTION_MESSAGE) and status message."""
    return error_message(
        status, attrs.get(STEP_ERROR), status_message, attrs.get(EXCEPTION_MESSAGE),
        attrs.get(ERROR_TYPE), attrs.get(CICD_TASK_RUN_RESULT),
    )  # fmt: skip

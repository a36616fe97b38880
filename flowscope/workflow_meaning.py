"""What workflow telemetry means: the one reading of DESIGN.md "What makes a span a workflow
span" and "Status" (issue 11 item 1).

`conventions` names the attributes, events and statuses (the engine emits them); this module
reads them, for every reader alike: the collector at ingest, the live feed, REST, `/metrics`.
Each rule is here once: how an attribute value is read, which spans are executions, steps and
attempts, their ids and names, their status, error messages, retries and attempts, and what
lifecycle records say before spans end (pending, running), and what other emitters' spans mean
(`recognize`, by the recognizers of `flowscope.emitters`). It imports nothing of ours but
`conventions`, so every layer can use it.

`attrs` is always a span's or record's workflow attributes as a dict (decoded OTLP values:
str, int, float, bool, list, dict), e.g. `storage.anyvalue.workflow_attributes`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from flowscope import conventions as c

# --- Reading attribute values ----------------------------------------------------------------

_MAX_DIGITS: Final = 20  # longer digit strings are out of every column's range (and int() is slow)


def text(value: Any) -> str | None:
    """An attribute as text: None when absent or empty; any other type as Python prints it."""
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def attribute_int(value: Any) -> int | str | None:
    """An attribute value read as an integer: an int (not a bool), or a string of ASCII digits
    (returned as is when longer than any column holds); None for anything else. The collector
    promotes it into typed columns (`storage.columns.promoted_int`); readers use `integer`."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdecimal():
        # ("²".isdigit() is true but int("²") fails; huge digit strings make int() slow)
        return value if len(value) > _MAX_DIGITS else int(value)
    return None


def integer(value: Any) -> int | None:
    """`attribute_int` for readers: None also for digit strings too long to be a count."""
    number = attribute_int(value)
    return number if isinstance(number, int) else None


def number(value: Any) -> float | None:
    """An int or float attribute (not a bool) as a float; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def flag(value: Any) -> bool:
    """A boolean attribute (e.g. `*.truncated`): only the boolean true is true ("true" is text)."""
    return value is True


def string_list(value: Any) -> tuple[str, ...]:
    """A string-array attribute (e.g. `workflow.step.depends_on`); () when it is not an array."""
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


# --- Recognition --------------------------------------------------------------------------------

EXECUTION: Final = "execution"
STEP: Final = "step"
ATTEMPT: Final = "attempt"
SPAN_KIND_SERVER: Final = 2  # opentelemetry.proto.trace.v1.Span.SpanKind


def span_role(attrs: Mapping[str, Any], kind: int, has_parent: bool) -> str | None:
    """Which workflow span this is: EXECUTION, STEP, ATTEMPT, or None (not a workflow span).

    An attempt span carries `workflow.step.attempt`; a step span a step id (ours or the
    `cicd.pipeline.task.name`); the execution span names its workflow or execution (ours or
    `cicd.pipeline.name`) and is the trace root, or a SERVER span continuing a remote parent."""
    if c.STEP_ATTEMPT in attrs:
        return ATTEMPT
    if c.STEP_ID in attrs or c.CICD_TASK_NAME in attrs:
        return STEP
    if (not has_parent or kind == SPAN_KIND_SERVER) and (
        c.WORKFLOW_ID in attrs or c.WORKFLOW_EXECUTION_ID in attrs or c.CICD_PIPELINE_NAME in attrs
    ):
        return EXECUTION
    return None


def record_event(event_name: str, attrs: Mapping[str, Any] | None) -> str:
    """A log record's event name: its OTLP `event_name` field, else its `event.name` attribute."""
    return event_name or (text(attrs.get(c.EVENT_NAME)) if attrs else None) or ""


# --- Ids and names ------------------------------------------------------------------------------


def _ours_else_cicd(attrs: Mapping[str, Any], ours: str, cicd: str) -> str | None:
    """`text` of our attribute, else of the CI/CD convention's."""
    value = attrs.get(ours)
    if value.__class__ is str and value:  # the common case, without a call (ingest runs it per span)
        return value
    return text(value) or text(attrs.get(cicd))


def workflow_id(attrs: Mapping[str, Any]) -> str | None:
    return _ours_else_cicd(attrs, c.WORKFLOW_ID, c.CICD_PIPELINE_NAME)


def workflow_name(attrs: Mapping[str, Any]) -> str | None:
    return _ours_else_cicd(attrs, c.WORKFLOW_NAME, c.CICD_PIPELINE_NAME)


def step_id(attrs: Mapping[str, Any]) -> str | None:
    return _ours_else_cicd(attrs, c.STEP_ID, c.CICD_TASK_NAME)


def step_name(attrs: Mapping[str, Any]) -> str | None:
    """The step's name as its span or record says it (callers fall back to the span name or id)."""
    return _ours_else_cicd(attrs, c.STEP_NAME, c.CICD_TASK_NAME)


def execution_id(trace_id: str, attrs: Mapping[str, Any]) -> str | None:
    """An execution is its trace; a record without trace context may name it instead."""
    return trace_id or text(attrs.get(c.WORKFLOW_EXECUTION_ID))


def execution_number(attrs: Mapping[str, Any]) -> int | None:
    return integer(attrs.get(c.WORKFLOW_EXECUTION_NUMBER))


# --- Status (DESIGN.md "Status") ----------------------------------------------------------------

# cicd.pipeline.result -> execution status (for foreign tracers that only set cicd.*)
STATUS_BY_PIPELINE_RESULT: Final = {
    "success": "completed",
    "failure": "failed",
    "error": "failed",
    "timeout": "timeout",
    "cancellation": "cancelled",
}
# cicd.pipeline.task.run.result -> step status
STEP_STATUS_BY_TASK_RESULT: Final = {
    "success": "completed",
    "failure": "failed",
    "error": "failed",
    "timeout": "failed",
    "cancellation": "cancelled",
    "skip": "skipped",
}


# The statuses a step span can end with (`pending` and `running` are known from records only).
FINAL_STEP_STATUSES: Final = frozenset({"completed", "failed", "skipped", "cancelled"})


def execution_status(attrs: Mapping[str, Any], status_code: int) -> str:
    """Final status of an execution from its root span: `workflow.status`, else the
    `cicd.pipeline.result` mapped, else the span status (ERROR -> failed, otherwise completed)."""
    status = attrs.get(c.WORKFLOW_STATUS)
    if isinstance(status, str) and status in c.TERMINAL_EXECUTION_STATUSES:
        return status
    result = attrs.get(c.CICD_PIPELINE_RESULT)
    if isinstance(result, str) and result in STATUS_BY_PIPELINE_RESULT:
        return STATUS_BY_PIPELINE_RESULT[result]
    return "failed" if status_code == c.STATUS_CODE_ERROR else "completed"


def step_status(attrs: Mapping[str, Any], status_code: int) -> str:
    """Final status of a step from its span: `workflow.step.status`, else the
    `cicd.pipeline.task.run.result` mapped, else the span status."""
    status = attrs.get(c.STEP_STATUS)
    if isinstance(status, str) and status in FINAL_STEP_STATUSES:
        return status
    result = attrs.get(c.CICD_TASK_RUN_RESULT)
    if isinstance(result, str) and result in STEP_STATUS_BY_TASK_RESULT:
        return STEP_STATUS_BY_TASK_RESULT[result]
    return "failed" if status_code == c.STATUS_CODE_ERROR else "completed"


def span_status(role: str, attrs: Mapping[str, Any], status_code: int) -> str:
    """Final status of a workflow span of `role` (an attempt's is its span status alone)."""
    if role == EXECUTION:
        return execution_status(attrs, status_code)
    if role == STEP:
        return step_status(attrs, status_code)
    return "failed" if status_code == c.STATUS_CODE_ERROR else "completed"


def step_never_ran(status: str, start_ns: int | None, end_ns: int | None) -> bool:
    """Skipped steps never start; nor do steps cancelled before they ran (zero-length spans)."""
    return status == "skipped" or (status == "cancelled" and end_ns is not None and start_ns == end_ns)


# --- Before spans end: lifecycle records (pending, running) -----------------------------------

PENDING: Final = "pending"
RUNNING: Final = "running"
# What an execution's lifecycle record says its status is until its root span ends it.
_ANNOUNCED_STATUS: Final = {c.EVENT_EXECUTION_QUEUED: PENDING, c.EVENT_EXECUTION_STARTED: RUNNING}
_RANK: Final = {PENDING: 1, RUNNING: 2, c.UNKNOWN_STATUS: 2}


def announced_status(event_name: str) -> str | None:
    """The execution status a lifecycle record announces (queued: pending, started: running)."""
    return _ANNOUNCED_STATUS.get(event_name)


def status_rank(status: str) -> int:
    """pending 1 < running 2 = unknown 2 < terminal 3: an execution's status never goes back
    (unknown is running unheard of for a while: the newer of the two holds)."""
    return _RANK.get(status, 3)


def status_history(
    queued_ns: int | None,
    started_ns: int | None,
    span_start_ns: int | None,
    status: str,
    ended_ns: int | None,
) -> list[tuple[str, int | None, str]]:
    """(status, time, source) for each status an execution went through, in order: pending
    from its queued record, running from its started record, then its terminal status from its
    root span. Without lifecycle records (a tracer that only sends spans) it ran from the root
    span's start; with a queued record but no started one it never ran (cancelled while pending)."""
    history: list[tuple[str, int | None, str]] = []
    if queued_ns is not None:
        history.append((PENDING, queued_ns, "log"))
    if started_ns is not None:
        history.append((RUNNING, started_ns, "log"))
    elif queued_ns is None and span_start_ns:
        history.append((RUNNING, span_start_ns, "span"))
    if status in c.TERMINAL_EXECUTION_STATUSES:
        history.append((status, ended_ns, "span"))
    return history


def announced_step(execution_status: str) -> tuple[str, str | None]:
    """(status, error) of a step announced by its started record whose span never came: running
    while the execution runs; once the execution ended without it (its process died), it did
    not finish: cancelled with a cancelled execution, failed otherwise."""
    if execution_status not in c.TERMINAL_EXECUTION_STATUSES:
        return RUNNING, None
    status = "cancelled" if execution_status == "cancelled" else "failed"
    return status, f"step did not finish: the execution ended ({execution_status}) first"


def unseen_step_status(execution_status: str) -> str | None:
    """Status of a step the workflow defines but the execution has not reported: pending while
    the execution runs; none (not listed) once it ended."""
    return None if execution_status in c.TERMINAL_EXECUTION_STATUSES else PENDING


# --- Retries and attempts ----------------------------------------------------------------------


def retry_count(attrs: Mapping[str, Any]) -> int:
    """How many times a step span says it was retried (`workflow.step.retry_count`; 0 if unsaid)."""
    return integer(attrs.get(c.STEP_RETRY_COUNT)) or 0


def attempt_number(attrs: Mapping[str, Any], retries: int) -> int:
    """The attempt a `workflow.step.retrying` record announces: its `workflow.step.attempt`, else
    the one after `retries` retries."""
    return integer(attrs.get(c.STEP_ATTEMPT)) or retries + 1


def new_retry(seen: set[int], attrs: Mapping[str, Any]) -> int | None:
    """Count a `workflow.step.retrying` record into `seen`, a step's retry numbers so far: the
    number it announces (1 = the second attempt: its `workflow.step.retry_count`, else its
    `workflow.step.attempt` - 1, else the next one), or None for a retry already counted. A
    step's retries are the distinct numbers announced, so a record sent twice counts once."""
    number = integer(attrs.get(c.STEP_RETRY_COUNT))
    if number is None or number < 1:
        attempt = integer(attrs.get(c.STEP_ATTEMPT))
        number = attempt - 1 if attempt is not None and attempt > 1 else len(seen) + 1
    if number in seen:
        return None
    seen.add(number)
    return number


# --- Error messages (README "Error messages") --------------------------------------------------

# Statuses whose end is an error: their error message falls back beyond the explicit attribute.
UNSUCCESSFUL_STATUSES: Final = frozenset({"failed", "cancelled", "timeout"})


def exception_text(events: Iterable[tuple[str, Mapping[str, Any]]]) -> str | None:
    """The text of a span's last `exception` event, from (event name, attributes) pairs:
    "Type: message" as Python prints an exception, or whichever of the two it has."""
    found = None
    for name, attributes in events:
        if name == c.EXCEPTION_EVENT:
            kind, message = text(attributes.get(c.EXCEPTION_TYPE)), text(attributes.get(c.EXCEPTION_MESSAGE))
            found = f"{kind}: {message}" if kind and message else kind or message or found
    return found


def error_message(
    status: str, explicit: Any, status_message: str | None, exception: Any, error_type: Any, result: Any
) -> str | None:
    """The error message of an execution or a step: the one rule every reader follows.

    The emitter's own message (`workflow.error` of an execution, `workflow.step.error` of a
    step) whatever the status. Otherwise, only when it ended failed, cancelled or timed out:
    the span's status message, else its last `exception` event's message (or type), else
    its `error.type`, else (not for a cancellation, which is no error of its own) its
    `cicd.pipeline.result` / `cicd.pipeline.task.run.result` ("failure", "error",
    "timeout"). None when there is none of these."""
    found = text(explicit)
    if found is not None or status not in UNSUCCESSFUL_STATUSES:
        return found
    found = text(status_message) or text(exception) or text(error_type)
    return found if found is not None or status == "cancelled" else text(result)


def execution_error(status: str, attrs: Mapping[str, Any], status_message: str | None) -> str | None:
    """`error_message` of an execution from its root span's attributes (as the change feed
    carries them: with EXCEPTION_MESSAGE) and status message."""
    return error_message(
        status, attrs.get(c.WORKFLOW_ERROR), status_message, attrs.get(c.EXCEPTION_MESSAGE),
        attrs.get(c.ERROR_TYPE), attrs.get(c.CICD_PIPELINE_RESULT),
    )  # fmt: skip


def step_error(status: str, attrs: Mapping[str, Any], status_message: str | None) -> str | None:
    """`error_message` of a step from its span's attributes (as the change feed carries them:
    with EXCEPTION_MESSAGE) and status message."""
    return error_message(
        status, attrs.get(c.STEP_ERROR), status_message, attrs.get(c.EXCEPTION_MESSAGE),
        attrs.get(c.ERROR_TYPE), attrs.get(c.CICD_TASK_RUN_RESULT),
    )  # fmt: skip


def span_error(role: str, status: str, attrs: Mapping[str, Any], status_message: str | None) -> str | None:
    """`execution_error` or `step_error` by role; None for attempts (see `attempt_error`)."""
    if role == EXECUTION:
        return execution_error(status, attrs, status_message)
    if role == STEP:
        return step_error(status, attrs, status_message)
    return None


def attempt_error(status: str, status_message: str | None) -> str | None:
    """An attempt's error: its span's status message, only when it failed."""
    return (status_message or None) if status == "failed" else None


def retry_error(attrs: Mapping[str, Any], body: str | None) -> str | None:
    """Why a step is retried, from its `workflow.step.retrying` record: its `workflow.step.error`,
    else the record's body."""
    return text(attrs.get(c.STEP_ERROR)) or body or None


# --- Other emitters (issue 13) ----------------------------------------------------------------
# A recognizer (flowscope.emitters) reads one other emitter's span as our conventions would
# have it; the collector stores what it derives with the span, so the rules above read it.


@dataclass(frozen=True, slots=True)
class ForeignSpan:
    """What a recognizer sees of one span: everything decoded to plain Python values."""

    name: str
    kind: int  # opentelemetry.proto.trace.v1.Span.SpanKind (1 internal, 2 server, ...)
    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits
    parent_span_id: str  # "" for a trace root
    start_ns: int
    end_ns: int
    status_code: int  # 0 unset, 1 ok, 2 error
    status_message: str
    attributes: Mapping[str, Any]
    events: Sequence[tuple[str, int, Mapping[str, Any]]] = ()  # (name, time_ns, attributes), in order
    links: Sequence[tuple[str, str, Mapping[str, Any]]] = ()  # (trace_id, span_id, attributes)
    resource: Mapping[str, Any] = field(default_factory=dict)
    scope_name: str = ""


class Recognizer(Protocol):
    """One emitter's rules."""

    @property
    def name(self) -> str:
        """Short name stored with what it derived (`flowscope.recognizer`), e.g. "prefect"."""
        ...

    @property
    def markers(self) -> tuple[bytes, ...]:
        """Byte strings of which at least one occurs in the protobuf encoding of every span this
        recognizer claims (attribute keys, e.g. b"prefect.run.type"). Spans holding none of any
        recognizer's markers are never decoded: this keeps plain service spans at full speed.
        (A recognizer may also have `request_markers`: fewer ones, of which every request
        holding its spans has one, looked for in whole requests: `emitters.registry`.)"""
        ...

    def recognize(self, span: ForeignSpan) -> dict[str, Any] | None:
        """The span's meaning as `flowscope.conventions` attributes, or None if not claimed."""
        ...


# Our own attributes that make a span a workflow span (`is_own`): a span holding one is read
# as it is, and no recognizer is asked about it.
_DERIVED: Final = "workflow."  # recognizers speak our conventions' workflow.* names only


def is_own(attrs: Mapping[str, Any] | None) -> bool:
    """The span follows Flowscope's own conventions (our engine's, or a tracer emitting them)."""
    # Spelled out, not any() over a tuple of keys: ingest asks it of every workflow span, and
    # the generator cost 5% of converting them (py-spy, bench/ingest.py's foreign shape).
    return attrs is not None and (c.WORKFLOW_ID in attrs or c.STEP_ID in attrs or c.STEP_ATTEMPT in attrs)


def recognize(recognizers: Iterable[Recognizer], span: ForeignSpan) -> tuple[str, dict[str, Any]] | None:
    """(name, attributes) of the first recognizer that claims `span`: what it means in our
    conventions (`flowscope.emitters`); None when no recognizer claims it. Only keys of our
    conventions count; a derived value that is None or "" is dropped (absent)."""
    for recognizer in recognizers:
        derived = recognizer.recognize(span)
        if derived:
            kept = {k: v for k, v in derived.items() if v is not None and v != "" and k.startswith(_DERIVED)}
            if kept:
                return recognizer.name, kept
    return None

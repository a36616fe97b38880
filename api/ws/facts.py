"""Facts: what one committed workflow span or lifecycle record says about an execution.

The sequencer orders facts per execution and turns them into events; the same
conversion serves live data (from the event bus) and `?since=` replay (from the
database), so both produce identical events.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from flowscope.storage.changes import WorkflowLogRecord, WorkflowSpan

from flowscope import conventions as c
from flowscope import workflow_meaning as m


class Kind(IntEnum):
    """Fact kinds, in causal order within one step / execution (used to break time ties)."""

    EXEC_STARTED = 0
    STEP_STARTED = 1
    STEP_RETRYING = 2
    STEP_ENDED = 3
    EXEC_ENDED = 4


_RECORD_KINDS = {
    c.EVENT_EXECUTION_STARTED: Kind.EXEC_STARTED,
    c.EVENT_STEP_STARTED: Kind.STEP_STARTED,
    c.EVENT_STEP_RETRYING: Kind.STEP_RETRYING,
}
LIFECYCLE_EVENT_NAMES = tuple(_RECORD_KINDS)


@dataclass(slots=True)
class Fact:
    kind: Kind
    workspace_id: str
    execution_id: str
    workflow_id: str | None
    step_id: str | None
    span_id: str  # the span itself, or the span a record announces
    start_ns: int  # span start; record time for records
    time_ns: int  # span end; record time for records
    status: str  # resolved status of a span; '' for records
    status_message: str
    name: str  # span name; record body for records
    attrs: dict[str, Any]
    record_hash: int = 0
    # When waiting for predecessors ends. Set by the sequencer on arrival, unless already set
    # (the hub parks facts of executions whose workflow is not named yet: they keep the
    # deadline of their arrival).
    deadline: float = 0.0
    seq: int = 0  # the sequencer's arrival number: orders facts of equal time and kind
    waiting: bool = False  # the sequencer holds it until a predecessor is released (or its deadline)


def sort_key(fact: Fact) -> tuple[int, int]:
    """Time order; at equal times, causal order of the kinds."""
    return (fact.time_ns, fact.kind)


def from_span(span: WorkflowSpan) -> Fact | None:
    """An end fact for execution and step spans; None for attempt spans (not events)."""
    role = span.role
    if role == m.EXECUTION:
        kind = Kind.EXEC_ENDED
    elif role == m.STEP:
        kind = Kind.STEP_ENDED
    else:
        return None
    attrs = span.attributes
    return Fact(
        kind, span.workspace_id, span.trace_id, m.workflow_id(attrs),
        m.step_id(attrs) if kind == Kind.STEP_ENDED else None, span.span_id, span.start_ns,
        max(span.end_ns, span.start_ns), m.span_status(role, attrs, span.status_code), span.status_message,
        span.name, attrs,
    )  # fmt: skip


def from_record(record: WorkflowLogRecord) -> Fact | None:
    """A start/retry fact for lifecycle records; None for any other record."""
    kind = _RECORD_KINDS.get(record.event_name)
    if kind is None:
        return None
    attrs = record.attributes
    execution_id = m.execution_id(record.trace_id, attrs)
    if not execution_id:
        return None
    return Fact(
        kind, record.workspace_id, execution_id, m.workflow_id(attrs),
        m.step_id(attrs) if kind != Kind.EXEC_STARTED else None, record.span_id,
        record.time_ns, record.time_ns, "", "", record.body or "", attrs, record.record_hash,
    )  # fmt: skip

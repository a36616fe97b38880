"""Execution reads: what the spec's execution endpoints need from a store (`store.executions`).

One execution is one trace: its summary row (kept up to date by ingest from lifecycle
records and the root span), its workflow spans (root, steps, attempts) and its log records.
The shared rules of `flowscope.storage.interfaces` hold (tenancy, None / [] for not found,
Unix ns times, plain rows, one committed state per call); what is particular to each method
is written beside it. Shaping these rows into responses (steps not yet seen, timings, JSON)
is the API's job, not the store's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from flowscope import conventions as c
from flowscope import workflow_meaning as m

if TYPE_CHECKING:
    from flowscope.storage.batches import Prepared

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ExecutionRow:
    """The summary of one execution, as ingest maintains it."""

    execution_id: str
    workflow_id: str
    workflow_name: str | None
    project_id: str | None
    execution_number: int | None
    status: str
    status_rank: int
    """pending 1 < running 2 < terminal 3 (a status never goes back)."""
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


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt span of a step."""

    span_id: str
    parent_span_id: str
    start_ns: int
    end_ns: int
    status: str
    error_message: str | None

    @classmethod
    def of(
        cls, span_id: str, parent_span_id: str, start_ns: int, end_ns: int, status: str | None, message: str
    ) -> Attempt:
        """An attempt from its span's columns (no status means completed)."""
        status = status or "completed"
        return cls(span_id, parent_span_id, start_ns, end_ns, status, m.attempt_error(status, message))


@dataclass(frozen=True, slots=True)
class SpanEvent:
    name: str
    time_ns: int
    attributes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ExecutionStep:
    """One step of an execution: a stored step span with its attempts, or (built by the API)
    a step known only from a `workflow.step.started` record (running) or from the catalog
    definition (pending)."""

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
    depends_on: tuple[str, ...] = ()
    depends_declared: bool = False
    """The span said its dependencies (possibly none)."""
    skip_reason: str | None = None
    queued_ns: int | None = None
    """When its emitter says it was queued (`workflow.step.queued_time_unix_nano`: a CI job)."""
    attempts: tuple[Attempt, ...] = ()
    events: tuple[SpanEvent, ...] = ()

    @property
    def duration_ns(self) -> int | None:
        if self.start_ns is None or self.end_ns is None:
            return None
        return max(0, self.end_ns - self.start_ns)


@dataclass(frozen=True, slots=True)
class LifecycleRecord:
    """A `workflow.execution.queued|started` or `workflow.step.started|retrying` record."""

    time_ns: int
    event_name: str
    span_id: str
    step_id: str | None
    attributes: dict[str, Any]
    """The record's attributes while the execution is unfinished (they name and order its
    running steps); empty once it is terminal, when its step spans tell everything."""


@dataclass(frozen=True, slots=True)
class SpanLink:
    """A link of a span to another span (OTLP `Span.Link`), ids as lowercase hex."""

    trace_id: str
    span_id: str
    attributes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Triggered:
    """An execution started by a caller in this execution's trace (its
    `flowscope.execution.triggered` record): which one, from which span."""

    span_id: str
    """The caller span: a step's span or one of its attempts' (an `http` step's traceparent)."""
    execution_id: str
    time_ns: int


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """What a workspace knows of a span another trace links to (`ExecutionReader.link_target`)."""

    execution_id: str | None
    """The span's trace id, when that trace is an execution of the workspace."""
    step_id: str | None
    """The step whose span (or attempt span) it is, when it is one of the workspace's."""


@dataclass(frozen=True, slots=True)
class ExecutionRecords:
    """Everything stored about one execution, read from one committed state."""

    row: ExecutionRow
    root_attributes: dict[str, Any]
    """The root span's attributes; empty while the root span has not arrived."""
    steps: tuple[ExecutionStep, ...]
    """Its step spans, in start order (then span id), each with its attempts in start order."""
    lifecycle: tuple[LifecycleRecord, ...]
    """Its lifecycle records, oldest first."""
    root_links: tuple[SpanLink, ...] = ()
    """The root span's links, in their order; empty while the root span has not arrived."""
    triggered: tuple[Triggered, ...] = ()
    """Executions of the workspace started from spans of this one, oldest first."""


@dataclass(frozen=True, slots=True)
class LogRow:
    """One log record of an execution, decoded."""

    time_ns: int
    observed_ns: int
    severity_number: int
    severity_text: str
    body: str | None
    event_name: str | None
    span_id: str | None
    step_id: str | None
    service_name: str | None
    attributes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a longer list: `total` counts every match, `items` are those on the page."""

    items: list[T]
    total: int


@dataclass(frozen=True, slots=True)
class OpenExecution:
    """An execution still pending or running (for crash recovery)."""

    workspace_id: str
    execution_id: str
    workflow_id: str
    workflow_name: str | None
    project_id: str | None
    execution_number: int | None
    start_ns: int
    """When it started, else when it was queued."""
    root_span_id: str
    """Its root span's id, or the one its queued/started records announced."""


class ExecutionReader(Protocol):
    """The spec's execution reads. Every method reads one committed state."""

    def execution(self, workspace_id: str, execution_id: str) -> ExecutionRow | None:
        """The summary of one execution of the workspace, or None when it has no summary
        (unknown, another workspace's, or known only from step spans so far)."""
        ...

    def records(self, workspace_id: str, execution_id: str) -> ExecutionRecords | None:
        """Everything stored about one execution of the workspace, or None when nothing is.

        An execution whose summary has not been written yet but whose step spans arrived
        (a foreign tracer mid-run, sending no lifecycle records) is reported running, with a
        synthetic row: the workflow of its step spans, started at the earliest of them."""
        ...

    def acknowledged(self, prepared: Prepared) -> dict[str, ExecutionRecords]:
        """What `records` will return, once the writer request `prepared` is committed, for
        each execution it announces, provided nothing stored is about that execution yet (a
        trigger's new executions): the API answers reads of an acknowledged trigger with it
        until the commit (api/visibility.py). Reads nothing."""
        ...

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
        """The execution's log records, oldest first (ties in a fixed order), `skip` then at
        most `limit`. With `step_id`, only the records naming that step or emitted inside
        one of `span_ids` (the step's span and its attempts'). Empty for an unknown one."""
        ...

    def page(
        self,
        workspace_id: str,
        workflow_id: str,
        *,
        status: str | None = None,
        skip: int = 0,
        limit: int = 10,
    ) -> Page[ExecutionRow]:
        """A workflow's executions, newest first by creation (queued, else started; ties in a
        fixed order, the later stored first), optionally only those with `status`: `skip`
        then at most `limit`, and how many match in all."""
        ...

    def workflow_seen(self, workspace_id: str, workflow_id: str) -> bool:
        """Whether the workspace has any execution of this workflow (catalogued or not)."""
        ...

    def link_target(self, workspace_id: str, trace_id: str, span_id: str) -> LinkTarget:
        """What the workspace knows of span `span_id` of trace `trace_id` (hex ids, as a link
        names them): the execution that trace is (a summary row, or workflow spans of the
        workspace in it) and the step that span is or is an attempt of. Nothing of another
        workspace: both None there, as for ids never seen."""
        ...

    def open_executions(self, service_name: str) -> list[OpenExecution]:
        """Executions emitted by the service `service_name` that are still pending or running
        and whose root span id and start are known: at startup, those a process that died
        left open. The one read across workspaces (the server's own engine's executions,
        each row naming its workspace); in no particular order."""
        ...

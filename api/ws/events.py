"""The WebSocket messages: `{"event": name, "data": {...}}` (spec "WebSocket Events").

Every workflow event carries the union of the spec's workflow fields and every step
event the union of the spec's step fields, so a client never finds a field missing:

- workflow_*: execution_id, workflow_id, status, duration_seconds, error, timestamp
  (+ workflow_name, execution_number, event_id, synthesized)
- step_*: execution_id, workflow_id, step_id, step_name, status, duration_seconds,
  output, error, retry_count, timestamp (+ step_execution_id, output_truncated,
  reason, event_id, synthesized)

Values not known yet are null (e.g. duration_seconds of a `*_started` event).
`timestamp` is ISO 8601 UTC with microseconds and a `Z`. `event_id` is stable: the same
event has the same id live and in `?since=` replay, so clients can drop repeats.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from flowscope.api.ws.facts import Fact, Kind

from flowscope import conventions as c
from flowscope import workflow_meaning as m

WORKFLOW_END_EVENTS = {
    "completed": "workflow_completed",
    "failed": "workflow_failed",
    "cancelled": "workflow_cancelled",
    "timeout": "workflow_timeout",
}
STEP_END_EVENTS = {
    "completed": "step_completed",
    "failed": "step_failed",
    "skipped": "step_skipped",
    "cancelled": "step_cancelled",
}


@dataclass(slots=True)
class LiveEvent:
    event: str
    workspace_id: str
    workflow_id: str
    execution_id: str
    step_id: str | None
    time_ns: int
    event_id: str
    terminal: bool  # the execution's last event
    # The payload is built only if someone receives the event: `build(*args)`. A module
    # function and one tuple rather than a closure, which would allocate a dozen
    # GC-tracked cells per event and make the collector run far more often.
    build: Callable[..., dict[str, Any]]
    args: tuple[Any, ...]
    _data: dict[str, Any] | None = None
    _text: str | None = None

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = self.build(*self.args)
        return self._data

    @property
    def text(self) -> str:
        """The serialized message, built once however many connections send it."""
        if self._text is None:
            self._text = orjson.dumps({"event": self.event, "data": self.data}).decode()
        return self._text


def iso(ns: int) -> str:
    secs, rem = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{rem // 1000:06d}Z"


def _json_value(value: Any, truncated: bool) -> Any:
    """JSON-text attributes as objects; a value cut to its size cap stays text."""
    if not isinstance(value, str) or truncated:
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value


@dataclass(slots=True)
class ExecInfo:
    """What an execution's facts told us so far (any fact may carry these)."""

    workspace_id: str
    execution_id: str
    workflow_id: str | None = None
    workflow_name: str | None = None
    execution_number: int | None = None

    def learn(self, fact: Fact) -> None:
        if self.workflow_id is None and fact.workflow_id:
            self.workflow_id = fact.workflow_id
        attrs = fact.attrs
        if self.workflow_name is None:
            self.workflow_name = m.workflow_name(attrs)
        if self.execution_number is None:
            self.execution_number = m.execution_number(attrs)


def _workflow_data(
    info: ExecInfo, status: str, duration: float | None, error: str | None, time_ns: int, event_id: str,
    synthesized: bool,
) -> dict[str, Any]:  # fmt: skip
    return {
        "execution_id": info.execution_id,
        "workflow_id": info.workflow_id,
        "workflow_name": info.workflow_name,
        "execution_number": info.execution_number,
        "status": status,
        "duration_seconds": duration,
        "error": error,
        "timestamp": iso(time_ns),
        "event_id": event_id,
        "synthesized": synthesized,
    }


def _workflow_event(
    info: ExecInfo, event: str, slot: str, time_ns: int, status: str,
    duration: float | None, error: str | None, synthesized: bool,
) -> LiveEvent:  # fmt: skip
    assert info.workflow_id is not None
    event_id = f"{info.execution_id}/{slot}"
    args = (info, status, duration, error, time_ns, event_id, synthesized)
    return LiveEvent(
        event, info.workspace_id, info.workflow_id, info.execution_id, None, time_ns, event_id,
        slot == "end", _workflow_data, args,
    )  # fmt: skip


def workflow_started(info: ExecInfo, time_ns: int, synthesized: bool) -> LiveEvent:
    return _workflow_event(info, "workflow_started", "start", time_ns, "running", None, None, synthesized)


def workflow_ended(info: ExecInfo, fact: Fact) -> LiveEvent:
    error = m.execution_error(fact.status, fact.attrs, fact.status_message)
    if error is None and fact.status != "completed":
        error = f"execution {fact.status}"  # the feed always says why an execution did not complete
    duration = (fact.time_ns - fact.start_ns) / 1e9
    event = WORKFLOW_END_EVENTS[fact.status]
    return _workflow_event(info, event, "end", fact.time_ns, fact.status, duration, error, False)


@dataclass(slots=True)
class StepInfo:
    step_id: str
    step_name: str | None = None
    span_id: str = ""
    started: bool = False
    ended: bool = False
    started_by_record: bool = False
    retries: int = 0  # retrying events released
    retry_keys: set[int] | None = None  # the retry numbers released (workflow_meaning.new_retry)

    def learn(self, fact: Fact) -> None:
        if self.step_name is None:
            self.step_name = m.step_name(fact.attrs)
            if self.step_name is None and fact.kind == Kind.STEP_ENDED:  # named after its step
                self.step_name = fact.name or None
        if not self.span_id and fact.span_id and fact.kind in (Kind.STEP_STARTED, Kind.STEP_ENDED):
            self.span_id = fact.span_id


def _step_data(
    info: ExecInfo, step_id: str, step_name: str, span_id: str | None, status: str, time_ns: int,
    event_id: str, synthesized: bool, detail: Callable[..., dict[str, Any]] | None, fact: Fact | None,
    number: int,
) -> dict[str, Any]:  # fmt: skip
    data = {
        "execution_id": info.execution_id,
        "workflow_id": info.workflow_id,
        "step_id": step_id,
        "step_name": step_name,
        "step_execution_id": span_id,
        "status": status,
        "duration_seconds": None,
        "output": None,
        "error": None,
        "retry_count": 0,
        "timestamp": iso(time_ns),
        "event_id": event_id,
        "synthesized": synthesized,
    }
    if detail is not None:
        data.update(detail(fact, number))
    return data


def _step_event(
    info: ExecInfo, step: StepInfo, event: str, slot: str, time_ns: int, status: str,
    detail: Callable[..., dict[str, Any]] | None = None, fact: Fact | None = None, number: int = 0,
    synthesized: bool = False,
) -> LiveEvent:  # fmt: skip
    """`detail(fact, number)` adds or overrides fields (duration, output, error, ...), lazily too."""
    assert info.workflow_id is not None
    event_id = f"{info.execution_id}/{step.step_id}/{slot}"
    args = (
        info, step.step_id, step.step_name or step.step_id, step.span_id or None, status, time_ns, event_id,
        synthesized, detail, fact, number,
    )  # fmt: skip
    return LiveEvent(
        event, info.workspace_id, info.workflow_id, info.execution_id, step.step_id, time_ns, event_id,
        False, _step_data, args,
    )  # fmt: skip


def step_started(info: ExecInfo, step: StepInfo, time_ns: int, synthesized: bool) -> LiveEvent:
    return _step_event(info, step, "step_started", "start", time_ns, "running", synthesized=synthesized)


def _retry_detail(fact: Fact, retry_count: int) -> dict[str, Any]:
    attrs = fact.attrs
    return {
        "error": m.retry_error(attrs, fact.name),  # name: the record's body
        "retry_count": retry_count,
        "attempt": m.attempt_number(attrs, retry_count),  # the attempt about to run
        "delay_seconds": m.number(attrs.get(c.STEP_RETRY_DELAY)),
    }


def step_retrying(info: ExecInfo, step: StepInfo, fact: Fact, retry_count: int) -> LiveEvent:
    return _step_event(
        info, step, "step_retrying", f"retry/{retry_count}", fact.time_ns, "retrying", _retry_detail, fact,
        retry_count,
    )  # fmt: skip


def _end_detail(fact: Fact, _: int) -> dict[str, Any]:
    attrs = fact.attrs
    truncated = m.flag(attrs.get(c.STEP_OUTPUT_TRUNCATED))
    error = m.step_error(fact.status, attrs, fact.status_message)
    if error is None and fact.status == "failed":
        error = "step failed"  # the feed always says why a step failed
    out: dict[str, Any] = {
        "duration_seconds": (fact.time_ns - fact.start_ns) / 1e9,
        "output": _json_value(attrs.get(c.STEP_OUTPUT), truncated),
        "output_truncated": truncated,
        "error": error,
        "retry_count": m.retry_count(attrs),
    }
    if fact.status == "skipped":
        out["reason"] = m.text(attrs.get(c.STEP_SKIP_REASON))
    order = m.integer(attrs.get(c.STEP_ORDER))
    if order is not None:
        out["step_order"] = order
    return out


def step_ended(info: ExecInfo, step: StepInfo, fact: Fact) -> LiveEvent:
    return _step_event(
        info, step, STEP_END_EVENTS[fact.status], "end", fact.time_ns, fact.status, _end_detail, fact
    )

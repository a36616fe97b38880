"""Prefect 3 flow runs and task runs, from Prefect's own run telemetry (checked against 3.9.1).

What Prefect sends (prefect/telemetry/run_telemetry.py, `RunTelemetry`, 3.9.1): one span per
flow run and one per task run, from the tracer "prefect" of the global TracerProvider, kind
INTERNAL. It is on unless the setting `cloud.enable_orchestration_telemetry`
(PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY) is false; any process that installs an OTLP
TracerProvider gets the spans, with or without Prefect Cloud.

- Attributes (`_start_span`): `prefect.run.name`, `prefect.run.type` ("flow" | "task"),
  `prefect.run.id`, `prefect.tags`, `prefect.run.parameter.<name>` = the parameter value's
  *type name* (`type(v).__name__`: Prefect never records parameter values), and the run's
  labels except `__*` ones. A flow run's labels hold `prefect.flow.id` (and
  `prefect.deployment.id` for deployment runs: prefect/server/models/flow_runs.py
  `with_system_labels_for_flow_run`); task runs are created in the client
  (prefect/task_engine.py `_create_task_run_locally`) with no labels.
- Events: one per state the run enters (`update_state`), named after the state, with
  `prefect.state.type` (StateType: SCHEDULED, PENDING, RUNNING, COMPLETED, FAILED, CANCELLED,
  CRASHED, PAUSED, CANCELLING; sent as the enum's value), `prefect.state.name`,
  `prefect.state.message`, `prefect.state.id`; and an `exception` event per exception the run
  raised (`record_exception`).
- Status: OK on success, ERROR with the terminal state's message on failure
  (`end_span_on_success` / `end_span_on_failure`).
- Structure: the top-level flow run's span is the trace root; a task run's span is a child of
  its flow run's (or parent task run's) span; a subflow run's span is a child of the parent
  flow run's span (continued from the `__OTEL_TRACEPARENT` label: a remote parent), all in one
  trace. A retried task run is ONE span: the engine loops inside one `start()`
  (prefect/task_engine.py `run_task_sync`), so its tries show as Running, `exception`,
  Retrying (or AwaitingRetry then Retrying), ... events on that span, and no attempt spans.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from flowscope import conventions as c
from flowscope import workflow_meaning as m
from flowscope.emitters import ForeignSpan

NAME: Final = "prefect"

# prefect/telemetry/run_telemetry.py `_start_span` (3.9.1): attribute keys of every run span.
RUN_TYPE: Final = "prefect.run.type"
RUN_ID: Final = "prefect.run.id"
RUN_NAME: Final = "prefect.run.name"
PARAMETER_PREFIX: Final = "prefect.run.parameter."
# prefect/server/models/flow_runs.py `with_system_labels_for_flow_run` (3.9.1): a flow run's label.
FLOW_ID: Final = "prefect.flow.id"
# prefect/telemetry/run_telemetry.py `update_state` (3.9.1): the state events' attributes.
STATE_TYPE: Final = "prefect.state.type"
STATE_NAME: Final = "prefect.state.name"
STATE_MESSAGE: Final = "prefect.state.message"

# prefect/client/schemas/objects.py `StateType` (3.9.1), final states -> our execution and step
# statuses (the same words; only an execution can time out, see _TIMED_OUT). A
# CANCELLING run whose span ended was cancelled (prefect/flow_engine.py `handle_cancellation`
# ends the span after Cancelling, Cancelled; an external runner may leave it at Cancelling).
_STATUS: Final = {
    "COMPLETED": "completed",
    "FAILED": "failed",
    "CRASHED": "failed",
    "CANCELLED": "cancelled",
    "CANCELLING": "cancelled",
}
# prefect/flow_engine.py and prefect/task_engine.py `handle_timeout` (3.9.1): a run past its
# timeout_seconds ends Failed(name="TimedOut"): an execution's timeout, a step's failure.
_TIMED_OUT: Final = "TimedOut"

# prefect/task_engine.py `_create_task_run_locally` and prefect/tasks.py `create_local_run`
# (3.9.1): a task run inside a flow run is named f"{task.name}-{dynamic_key[:3]}", the key a
# uuid4, so three hex digits; its task's name is the stable part. A custom `task_run_name`
# replaces the whole name (`update_run_name`): then that name is all the span says.
_RUN_SUFFIX: Final = re.compile(r"-[0-9a-f]{3}$")


class Prefect:
    """Flow runs as executions (subflow runs as steps), task runs as steps."""

    name: Final = NAME
    markers: Final = (RUN_TYPE.encode(),)  # every run span carries it (run_telemetry.py `_start_span`)

    def recognize(self, span: ForeignSpan) -> dict[str, Any] | None:
        attrs = span.attributes
        run_type = attrs.get(RUN_TYPE)
        if run_type not in ("flow", "task") or not m.text(attrs.get(RUN_ID)):
            return None
        if run_type == "flow" and not span.parent_span_id:
            return _execution(span)
        if not span.parent_span_id:
            # A task run called outside any flow run: no flow run, so no execution to be a
            # step of (task_engine.py `_create_task_run_locally`: no flow run context).
            return None
        return _step(span, run_type)


def _execution(span: ForeignSpan) -> dict[str, Any] | None:
    attrs = span.attributes
    # The workflow's identity: the spans never carry the flow's name (run_telemetry.py
    # `_start_span` records the run's name, id, tags, parameters and labels; a flow run's name
    # is a random slug like "dancing-cheetah" unless `flow_run_name` is set). The most stable
    # thing they carry is the `prefect.flow.id` label: the flow's row in the Prefect API's
    # database, one per flow name (prefect/server/models/flows.py `create_flow` upserts on
    # the name), so every run of a flow against one Prefect server, Cloud workspace or local
    # ephemeral database (PREFECT_HOME) has the same id. Without it (a Prefect too old for
    # labels) nothing stable names the workflow: the span is not claimed.
    workflow_id = m.text(attrs.get(FLOW_ID))
    if workflow_id is None:
        return None
    # No workflow.name: nothing on the span names the flow (readers show the id).
    out: dict[str, Any] = {
        c.WORKFLOW_ID: workflow_id,
        c.WORKFLOW_EXECUTION_ID: m.text(attrs.get(RUN_ID)),  # the flow run's id
        c.WORKFLOW_INPUT: parameters(attrs),
    }
    if (state := final_state(span.events)) is not None:
        kind, name, message = state
        status = "timeout" if kind == "FAILED" and name == _TIMED_OUT else _STATUS.get(kind)
        out[c.WORKFLOW_STATUS] = status
        if status in m.UNSUCCESSFUL_STATUSES:
            out[c.WORKFLOW_ERROR] = message
    return out


def _step(span: ForeignSpan, run_type: str) -> dict[str, Any] | None:
    attrs = span.attributes
    if run_type == "task":
        step_id = task_name(m.text(attrs.get(RUN_NAME)) or "")
        step_name: str | None = step_id
    else:
        # A subflow run is a step of the outer execution (the contract: one execution per
        # trace). Its flow's id is the stable part (see _execution); its name is the run's
        # random slug, which readers fall back to (the span name) when no step name is given.
        step_id, step_name = m.text(attrs.get(FLOW_ID)) or "", None
    if not step_id:
        return None
    out: dict[str, Any] = {
        c.STEP_ID: step_id,
        c.STEP_NAME: step_name,
        c.STEP_INPUT: parameters(attrs),
        c.STEP_RETRY_COUNT: retry_count(span.events),
    }
    if (state := final_state(span.events)) is not None:
        kind, _, message = state
        status = _STATUS.get(kind)
        out[c.STEP_STATUS] = status
        if status in m.UNSUCCESSFUL_STATUSES:
            out[c.STEP_ERROR] = message
    return out


def task_name(run_name: str) -> str:
    """The task's name from its run's name: the run name less its `-xyz` key suffix."""
    return _RUN_SUFFIX.sub("", run_name) or run_name


def parameters(attrs: Mapping[str, Any]) -> str | None:
    """The run's parameters as JSON text, name -> the value's Python type name: all Prefect
    records of them (run_telemetry.py `_start_span`: `type(v).__name__`), never the values."""
    found = {k[len(PARAMETER_PREFIX) :]: v for k, v in attrs.items() if k.startswith(PARAMETER_PREFIX)}
    return json.dumps(found, sort_keys=True) if found else None


def _state_events(events: Sequence[tuple[str, int, Mapping[str, Any]]]) -> list[Mapping[str, Any]]:
    return [attributes for _, _, attributes in events if STATE_TYPE in attributes]


def final_state(events: Sequence[tuple[str, int, Mapping[str, Any]]]) -> tuple[str, str, str] | None:
    """(type, name, message) of the last state the run entered (its last `update_state`
    event), or None when the span has none."""
    states = _state_events(events)
    if not states:
        return None
    last = states[-1]
    kind = _state_type(last.get(STATE_TYPE))
    return kind, m.text(last.get(STATE_NAME)) or kind, m.text(last.get(STATE_MESSAGE)) or ""


def retry_count(events: Sequence[tuple[str, int, Mapping[str, Any]]]) -> int:
    """Retries before the final try: the RUNNING states entered (Running, then Retrying for
    each retry) less one, as Prefect counts `run_count` (task_engine.py `set_state`:
    `if new_state.is_running(): run_count += 1`)."""
    running = sum(1 for s in _state_events(events) if _state_type(s.get(STATE_TYPE)) == "RUNNING")
    return max(0, running - 1)


def _state_type(value: Any) -> str:
    # The OTLP exporters send StateType (a str Enum) as its value, "FAILED"; a str() of it
    # (another exporter) reads "StateType.FAILED".
    return (m.text(value) or "").removeprefix("StateType.")

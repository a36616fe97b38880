"""The Prefect recognizer's rules over spans shaped as Prefect 3.9.1 sends them.

The fixtures copy what a real flow run exported (prefect/telemetry/run_telemetry.py, 3.9.1;
captured through the OTel SDK): attribute keys, state events with their types as the OTLP
exporter encodes them, the `exception` events and span statuses. tests/emitters/test_prefect.py
runs real flows end to end.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from flowscope import conventions as c
from flowscope import workflow_meaning as m
from flowscope.emitters import ForeignSpan
from flowscope.emitters.prefect import Prefect, task_name
from flowscope.emitters.registry import BUILTIN

FLOW_ID = "d41b3a3f-29da-4ab1-9181-8f92874163b2"
SUBFLOW_ID = "ee5928c4-254c-4bb1-9525-df9747bb5c6c"
FLOW_RUN_ID = "a6b527f3-a160-464f-ab6e-1e889b483885"
ROOT = "fc5e320c2890b472"
RECOGNIZER = Prefect()

Event = tuple[str, int, Mapping[str, Any]]


def state(kind: str, name: str | None = None, message: str = "") -> Event:
    name = name or kind.title()
    return (name, 0, {
        "prefect.state.message": message, "prefect.state.type": kind, "prefect.state.name": name,
        "prefect.state.id": "0193c0de-0000-7000-8000-000000000000",
    })  # fmt: skip


def exception(kind: str, message: str) -> Event:
    return (
        "exception",
        0,
        {"exception.type": kind, "exception.message": message, "exception.escaped": "False"},
    )


def run_span(
    run_type: str, run_name: str, events: Sequence[Event], parent: str = ROOT,
    extra: Mapping[str, Any] | None = None, status: tuple[int, str] = (1, ""),
) -> ForeignSpan:  # fmt: skip
    attrs: dict[str, Any] = {
        "prefect.run.name": run_name, "prefect.run.type": run_type,
        "prefect.run.id": "01a236bd-1a0e-7bc6-b3be-ab18c9033656", "prefect.tags": [], **(extra or {}),
    }  # fmt: skip
    return ForeignSpan(
        name=run_name, kind=1, trace_id="9ea7602d" * 4, span_id="5721525bfd508c70", parent_span_id=parent,
        start_ns=1, end_ns=2, status_code=status[0], status_message=status[1], attributes=attrs,
        events=tuple(events), scope_name="prefect",
    )  # fmt: skip


def flow_span(events: Sequence[Event], **kw: Any) -> ForeignSpan:
    extra = {
        "prefect.run.parameter.n": "int",
        "prefect.run.parameter.label": "str",
        "prefect.flow.id": FLOW_ID,
    }
    span = run_span("flow", "dancing-cheetah", events, parent="", extra=extra, **kw)
    return ForeignSpan(**{**_fields(span), "attributes": {**span.attributes, "prefect.run.id": FLOW_RUN_ID}})


def _fields(span: ForeignSpan) -> dict[str, Any]:
    return {name: getattr(span, name) for name in ForeignSpan.__dataclass_fields__}


# --- Flow runs: executions ---------------------------------------------------------------------


def test_a_completed_top_level_flow_run_is_an_execution_of_its_flow() -> None:
    derived = RECOGNIZER.recognize(flow_span([state("RUNNING"), state("COMPLETED")]))
    assert derived is not None
    assert derived == {
        c.WORKFLOW_ID: FLOW_ID,  # the flow's id label, not the run's random name
        c.WORKFLOW_EXECUTION_ID: FLOW_RUN_ID,
        c.WORKFLOW_INPUT: json.dumps({"label": "str", "n": "int"}),  # type names only: all Prefect sends
        c.WORKFLOW_STATUS: "completed",
    }
    # Flowscope reads it as an execution span (trace root with workflow.id).
    assert m.span_role(derived, 1, has_parent=False) == m.EXECUTION


def test_a_failed_flow_run_says_the_final_states_message() -> None:
    message = "Flow run encountered an exception: ValueError: disk full"
    # The flow engine sets Failed before recording the exception (flow_engine.py handle_exception).
    span = flow_span(
        [state("RUNNING"), state("FAILED", message=message), exception("ValueError", "disk full")],
        status=(2, message),
    )
    derived = RECOGNIZER.recognize(span)
    assert derived is not None
    assert derived[c.WORKFLOW_STATUS] == "failed"
    assert derived[c.WORKFLOW_ERROR] == message


@pytest.mark.parametrize(
    ("kind", "name", "status"),
    [
        ("FAILED", "TimedOut", "timeout"),  # handle_timeout: Failed(name="TimedOut")
        ("CRASHED", None, "failed"),
        ("CANCELLED", None, "cancelled"),
        ("CANCELLING", None, "cancelled"),
        ("COMPLETED", "Cached", "completed"),
    ],
)
def test_final_state_types_map_to_execution_statuses(kind: str, name: str | None, status: str) -> None:
    derived = RECOGNIZER.recognize(flow_span([state("RUNNING"), state(kind, name, message="why")]))
    assert derived is not None
    assert derived[c.WORKFLOW_STATUS] == status
    assert derived.get(c.WORKFLOW_ERROR) == (None if status == "completed" else "why")


def test_a_state_type_written_as_its_python_str_is_read_too() -> None:
    derived = RECOGNIZER.recognize(
        flow_span([state("StateType.RUNNING"), state("StateType.FAILED", "Failed")])
    )
    assert derived is not None
    assert derived[c.WORKFLOW_STATUS] == "failed"


def test_a_run_span_without_state_events_leaves_the_status_to_the_span_status() -> None:
    derived = RECOGNIZER.recognize(flow_span([]))
    assert derived is not None
    assert c.WORKFLOW_STATUS not in derived
    assert c.WORKFLOW_ERROR not in derived


def test_a_flow_run_without_its_flow_id_is_not_claimed() -> None:
    span = flow_span([state("COMPLETED")])
    attrs = {k: v for k, v in span.attributes.items() if k != "prefect.flow.id"}
    assert RECOGNIZER.recognize(ForeignSpan(**{**_fields(span), "attributes": attrs})) is None


# --- Task runs and subflow runs: steps -----------------------------------------------------------


def test_a_task_run_is_a_step_named_after_its_task() -> None:
    span = run_span("task", "double-60e", [state("RUNNING"), state("COMPLETED")],
                    extra={"prefect.run.parameter.x": "int"})  # fmt: skip
    derived = RECOGNIZER.recognize(span)
    assert derived == {
        c.STEP_ID: "double",  # stable across runs: the run name less its random "-60e"
        c.STEP_NAME: "double",
        c.STEP_INPUT: json.dumps({"x": "int"}),
        c.STEP_RETRY_COUNT: 0,
        c.STEP_STATUS: "completed",
    }
    assert m.span_role(derived, 1, has_parent=True) == m.STEP


def test_a_task_retried_immediately_is_one_step_with_its_retries_counted() -> None:
    events = [state("RUNNING"), exception("RuntimeError", "transient glitch"), state("RUNNING", "Retrying"),
              state("COMPLETED")]  # fmt: skip
    derived = RECOGNIZER.recognize(run_span("task", "flaky-520", events))
    assert derived is not None
    assert derived[c.STEP_RETRY_COUNT] == 1
    assert derived[c.STEP_STATUS] == "completed"
    assert c.STEP_ERROR not in derived  # the failed try is not the step's error


def test_retries_after_a_delay_count_each_retrying_state_once() -> None:
    # retry_delay_seconds: AwaitingRetry (SCHEDULED) precedes each Retrying (task_engine.py handle_retry).
    events = [state("RUNNING")]
    for _ in range(2):
        events += [
            exception("OSError", "timeout"),
            state("SCHEDULED", "AwaitingRetry"),
            state("RUNNING", "Retrying"),
        ]
    events += [
        exception("OSError", "timeout"),
        state("FAILED", message="Task run encountered an exception OSError: timeout"),
    ]
    derived = RECOGNIZER.recognize(run_span("task", "fetch-0f3", events, status=(2, "x")))
    assert derived is not None
    assert derived[c.STEP_RETRY_COUNT] == 2
    assert derived[c.STEP_STATUS] == "failed"
    assert derived[c.STEP_ERROR] == "Task run encountered an exception OSError: timeout"


def test_a_timed_out_or_crashed_task_run_is_a_failed_step() -> None:
    for kind, name in (("FAILED", "TimedOut"), ("CRASHED", "Crashed")):
        derived = RECOGNIZER.recognize(
            run_span("task", "slow-abc", [state("RUNNING"), state(kind, name, "gone")])
        )
        assert derived is not None
        assert (derived[c.STEP_STATUS], derived[c.STEP_ERROR]) == ("failed", "gone")


def test_a_subflow_run_is_a_step_of_the_outer_execution_keyed_by_its_flow() -> None:
    span = run_span("flow", "modest-viper", [state("RUNNING"), state("COMPLETED")],
                    extra={"prefect.flow.id": SUBFLOW_ID, "prefect.run.parameter.n": "int"})  # fmt: skip
    derived = RECOGNIZER.recognize(span)
    assert derived is not None
    assert derived[c.STEP_ID] == SUBFLOW_ID
    assert c.STEP_NAME not in derived or derived[c.STEP_NAME] is None  # readers show the span name
    assert c.WORKFLOW_ID not in derived  # its flow is not the outer execution's workflow
    assert derived[c.STEP_STATUS] == "completed"
    assert m.span_role({k: v for k, v in derived.items() if v is not None}, 1, has_parent=True) == m.STEP


def test_a_task_run_outside_any_flow_run_is_not_claimed() -> None:
    assert RECOGNIZER.recognize(run_span("task", "double", [state("COMPLETED")], parent="")) is None


@pytest.mark.parametrize(
    "attrs",
    [
        {"prefect.run.type": "deployment", "prefect.run.id": "x", "prefect.run.name": "a"},
        {"prefect.run.type": "task", "prefect.run.name": "a-123"},  # no run id
        {"service.name": "prefect-worker"},
    ],
)
def test_other_spans_are_not_claimed(attrs: dict[str, Any]) -> None:
    span = ForeignSpan(name="x", kind=1, trace_id="1" * 32, span_id="2" * 16, parent_span_id=ROOT, start_ns=1,
                       end_ns=2, status_code=0, status_message="", attributes=attrs)  # fmt: skip
    assert RECOGNIZER.recognize(span) is None


@pytest.mark.parametrize(
    ("run_name", "task"),
    [
        ("double-60e", "double"),
        ("load-to-s3-0f3", "load-to-s3"),
        ("load-xyz", "load-xyz"),  # not a key suffix: a custom task_run_name, kept whole
        ("double", "double"),
        ("-abc", "-abc"),
    ],
)
def test_task_names_from_run_names(run_name: str, task: str) -> None:
    assert task_name(run_name) == task


# --- Registration and the collector's view -------------------------------------------------------


def test_registered_and_derives_only_names_of_our_conventions() -> None:
    assert [r.name for r in BUILTIN].count("prefect") == 1
    ours = {v for k, v in vars(c).items() if k.isupper() and isinstance(v, str)}
    spans = [
        flow_span([state("RUNNING"), state("FAILED", message="boom")]),
        run_span("task", "flaky-520", [state("RUNNING"), state("RUNNING", "Retrying"), state("COMPLETED")]),
    ]
    for span in spans:
        derived = RECOGNIZER.recognize(span)
        assert derived is not None
        assert set(derived) <= ours
        assert all(key.startswith("workflow.") for key in derived)  # what the collector keeps


def test_the_marker_occurs_in_the_protobuf_bytes_of_a_run_span() -> None:
    proto = Span(name="double-60e", attributes=[
        KeyValue(key="prefect.run.type", value=AnyValue(string_value="task")),
        KeyValue(key="prefect.run.name", value=AnyValue(string_value="double-60e")),
    ])  # fmt: skip
    data = proto.SerializeToString()
    assert all(marker in data for marker in RECOGNIZER.markers)

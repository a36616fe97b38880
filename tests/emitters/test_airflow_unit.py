"""The Airflow recognizer over the spans real Airflow 3.3.2, 3.2.2 and 3.1.8 sent (fixtures/airflow)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from flowscope.storage.later_tries import Try, is_later_try
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from flowscope import conventions as c
from flowscope import workflow_meaning as m
from flowscope.emitters import ForeignSpan
from flowscope.emitters.airflow import Airflow, step_id_of, unix_nano
from flowscope.emitters.registry import BUILTIN
from tests.emitters.airflow_fixtures import CURRENT, DEMO, OK, V31, VERSIONS, request_bodies, spans

RECOGNIZER = Airflow()
DEMO_STEPS = {"extract", "transform_a", "transform_b", "flaky", "square[0]", "square[1]", "broken"}
OK_STEPS = {"left", "right", "join"}


def _recognized(version: str) -> list[tuple[ForeignSpan, dict[str, Any]]]:
    return [(s, d) for s in spans(version) if (d := RECOGNIZER.recognize(s)) is not None]


def _role(span: ForeignSpan, derived: dict[str, Any]) -> str | None:
    """How Flowscope reads the span once the derived attributes are added."""
    return m.span_role(derived, span.kind, bool(span.parent_span_id))


def _runs(version: str) -> dict[str, tuple[ForeignSpan, dict[str, Any]]]:
    """dag_id -> (span, derived) of each execution the recording holds."""
    found = [(s, d) for s, d in _recognized(version) if _role(s, d) == m.EXECUTION]
    return {d[c.WORKFLOW_ID]: (s, d) for s, d in found}


@pytest.mark.parametrize("version", VERSIONS)
def test_dag_runs_are_executions(version: str) -> None:
    runs = _runs(version)
    assert set(runs) == {DEMO, OK}
    for dag_id, (span, derived) in runs.items():
        assert derived[c.WORKFLOW_NAME] == dag_id
        assert derived[c.WORKFLOW_EXECUTION_ID] == span.attributes["airflow.dag_run.run_id"]
        assert derived[c.WORKFLOW_EXECUTION_ID].startswith("manual__")
        # Every release starts the run's span at queued_at: the parsed attribute and the span
        # agree (to the float rounding of `timestamp() * 1e9`).
        assert abs(derived[c.WORKFLOW_QUEUED_TIME] - span.start_ns) < 2_000
    assert runs[DEMO][1][c.WORKFLOW_STATUS] == "failed"  # `broken` failed the run
    assert runs[OK][1][c.WORKFLOW_STATUS] == "completed"


@pytest.mark.parametrize("version", VERSIONS)
def test_task_instances_are_steps_of_their_dag(version: str) -> None:
    dag_of_trace = {span.trace_id: dag_id for dag_id, (span, _) in _runs(version).items()}
    steps: dict[str, list[dict[str, Any]]] = {}
    for span, derived in _recognized(version):
        if _role(span, derived) != m.STEP:
            continue
        assert derived[c.WORKFLOW_ID] == dag_of_trace[span.trace_id]  # the run's trace, its dag
        assert derived[c.STEP_NAME] == derived[c.STEP_ID]
        if version in CURRENT:  # named as Airflow names the span
            assert derived[c.STEP_ID] == span.name.removeprefix("task_run.")
        steps.setdefault(derived[c.WORKFLOW_ID], []).append(derived)
    by_id = {dag: {d[c.STEP_ID]: d for d in found} for dag, found in steps.items()}
    # `report` never ran (upstream_failed, set by the scheduler): Airflow sends no span for it.
    assert set(by_id[DEMO]) == DEMO_STEPS
    assert set(by_id[OK]) == OK_STEPS
    demo = by_id[DEMO]
    assert demo["broken"][c.STEP_STATUS] == "failed"
    assert demo["broken"][c.STEP_RETRY_COUNT] == 0
    assert demo["square[1]"][c.STEP_STATUS] == "completed"
    assert all(d[c.STEP_STATUS] == "completed" for d in by_id[OK].values())
    # The retried task: 3.2/3.3 send each try (the first ended up_for_retry), 3.1 the last.
    flaky = [(d[c.STEP_STATUS], d[c.STEP_RETRY_COUNT]) for d in steps[DEMO] if d[c.STEP_ID] == "flaky"]
    assert flaky == ([("failed", 0), ("completed", 1)] if version in CURRENT else [("completed", 1)])


@pytest.mark.parametrize("version", CURRENT)
def test_tries_of_one_task_instance_share_a_span_id(version: str) -> None:
    """Why the store lets a later try of a step replace the stored span (Airflow's docstring,
    storage/later_tries.py): if a later Airflow makes a span per try, this fails and the note
    can go. The second try is one by that rule: more retries, after a failed try, queued (its
    span's start) after the first try's span ended; the first is no later try of the second."""
    flaky = [s for s in spans(version) if s.name == "task_run.flaky"]
    assert [s.attributes["airflow.task_instance.state"] for s in flaky] == ["up_for_retry", "success"]
    assert len({(s.trace_id, s.span_id) for s in flaky}) == 1
    first, second = (
        Try(_role(s, d), d[c.STEP_RETRY_COUNT], d[c.STEP_STATUS], s.start_ns, s.end_ns)
        for s in flaky
        if (d := RECOGNIZER.recognize(s)) is not None
    )
    assert is_later_try(first, second) and not is_later_try(second, first)


@pytest.mark.parametrize("version", CURRENT)
def test_worker_spans_are_left_alone(version: str) -> None:
    everything = spans(version)
    task_runs = {s.span_id for s in everything if s.name.startswith("task_run.")}
    workers = [s for s in everything if s.name.startswith("worker.")]
    assert workers, "a LocalExecutor run sends the task runner's spans"
    for worker in workers:
        assert worker.parent_span_id in task_runs
        # the failed tries' worker spans too: nothing on them says how the try ended
        assert worker.status_code == c.STATUS_CODE_UNSET
        assert RECOGNIZER.recognize(worker) is None
    claimed = {s.name.split(".")[0] for s, _ in _recognized(version)}
    assert claimed == {"dag_run", "task_run"}


def test_v31_queued_times_and_map_indexes() -> None:
    for span, derived in _recognized(V31):
        if _role(span, derived) != m.STEP:
            continue
        # set_ti_span_attrs records the same queued_dttm as the `airflow.task.queued` event
        (queued_event,) = (t for name, t, _ in span.events if name == "airflow.task.queued")
        assert abs(derived[c.STEP_QUEUED_TIME] - queued_event) < 2_000
        assert derived[c.STEP_ID].startswith(span.name)  # the task_id, + [map_index] from log_url
    task = next(s for s in spans(V31) if s.name == "extract")
    url = "http://localhost:8080/dags/d/runs/manual__x/tasks/g.t/mapped/12?try_number=2"
    mapped = RECOGNIZER.recognize(
        dataclasses.replace(task, attributes={**task.attributes, "airflow.task.log_url": url})
    )
    assert mapped is not None and mapped[c.STEP_ID] == "extract[12]"


@pytest.mark.parametrize("version", VERSIONS)
def test_every_claimed_span_holds_a_marker(version: str) -> None:
    bodies = request_bodies(version)
    assert bodies
    for body in bodies:
        request = ExportTraceServiceRequest.FromString(body)
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    data = span.SerializeToString()
                    assert any(marker in data for marker in RECOGNIZER.markers), span.name


def test_only_airflow_shapes_are_claimed() -> None:
    for version in VERSIONS:
        run, _ = _runs(version)[DEMO]
        # A parented run span (3.1's `_continued`; a later Airflow's nesting) is not claimed.
        assert RECOGNIZER.recognize(dataclasses.replace(run, parent_span_id="ab" * 8)) is None
        assert RECOGNIZER.recognize(dataclasses.replace(run, attributes={"dag_id": "x"})) is None
    task = next(s for s in spans(CURRENT[0]) if s.name.startswith("task_run."))
    no_task = {k: v for k, v in task.attributes.items() if k != "airflow.task_id"}
    assert RECOGNIZER.recognize(dataclasses.replace(task, attributes=no_task)) is None


@pytest.mark.parametrize(
    ("state", "status", "reason"),
    [
        ("skipped", "skipped", None),
        ("upstream_failed", "skipped", "upstream_failed"),
        ("removed", "cancelled", None),
        ("up_for_retry", "failed", None),
    ],
)
def test_task_instance_states(state: str, status: str, reason: str | None) -> None:
    for version, key in ((CURRENT[0], "airflow.task_instance.state"), (V31, "airflow.task.state")):
        task = next(s for s, d in _recognized(version) if _role(s, d) == m.STEP)
        derived = RECOGNIZER.recognize(dataclasses.replace(task, attributes={**task.attributes, key: state}))
        assert derived is not None
        assert derived[c.STEP_STATUS] == status
        assert derived.get(c.STEP_SKIP_REASON) == reason


def test_step_ids_and_dates() -> None:
    assert step_id_of("square", 3) == "square[3]"
    assert step_id_of("square", -1) == "square"
    assert step_id_of("square", None) == "square"
    assert unix_nano("2026-12-02 12:31:29.000128+00:00") == 1_796_214_689_000_128_000
    assert unix_nano("2026-12-02 14:31:29.000128+02:00") == 1_796_214_689_000_128_000
    assert unix_nano("2026-12-02 12:31:29.000128") == 1_796_214_689_000_128_000  # naive = UTC
    assert unix_nano("None") is None  # Airflow 3.1 writes str(None) for an unset date
    assert unix_nano(None) is None


def test_registered() -> None:
    assert any(isinstance(r, Airflow) for r in BUILTIN)

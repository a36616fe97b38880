"""Apache Airflow 3 DAG runs and task instances, from Airflow's own OpenTelemetry traces.

Checked against apache-airflow 3.3.2 (current) and 3.2.2 (the release before), whose names are
the same (3.3 adds `airflow.dag_run.run_type` and `partition_date`, and head sampling), and
recorded from a real 3.3.2 and 3.2.2 (tests/emitters/fixtures/airflow/README.md). Traces are on
with `[traces] otel_on = True`; the exporter is the one OTEL_TRACES_EXPORTER names
(airflow/_shared/observability/traces/__init__.py `configure_otel`).

What Airflow 3.2/3.3 send, one trace per DAG run (its id made when the run is created,
`new_dagrun_trace_carrier`, kept in the run's `context_carrier` column):
- `dag_run.<dag_id>`: the run, sent once by the scheduler when the run ends
  (airflow/models/dagrun.py `_emit_dagrun_span`, called from `update_state`). Always a trace
  root, kind INTERNAL, started at `queued_at` (else `start_date`), status OK when the run
  succeeded and ERROR otherwise; attributes `airflow.dag_id`, `airflow.dag_run.run_id`,
  `airflow.dag_run.run_type` (3.3), `airflow.dag_run.start_date`, `.end_date`, `.queued_at`,
  `.created_at`, `.logical_date`, `.partition_key`, `.partition_date` (3.3): dates as
  `str(datetime)` ("2026-12-02 12:31:29.000128+00:00"). No state attribute, no error text.
- `task_run.<task_id>` (`task_run.<task_id>[<map_index>]` for a mapped task's instance): one
  per try of a task instance, sent by the API server when the worker reports the try's end
  (airflow/api_fastapi/execution_api/routes/task_instances.py `_emit_task_span`, from
  `ti_update_state`), child of the dag_run span, started at the TI's `queued_dttm` (else
  `start_date`), status OK on success and ERROR otherwise; attributes `airflow.dag_id`,
  `airflow.task_id`, `airflow.dag_run.run_id`, `airflow.task_instance.try_number` (int),
  `.map_index` (int, -1 when not mapped), `.state` (the TI state the try ended in: success,
  failed, up_for_retry, skipped, upstream_failed, removed), `.id`. Tasks that never run
  (upstream_failed or skipped by the scheduler) send nothing. Every try of one task instance
  reuses ONE span id: the TI's `context_carrier` is made when the TI is created or cleared
  (models/taskinstance.py `insert_mapping`, `clear_task_instances`), not per try.
- `worker.<task_id>[...]`: the task runner's span around one try (airflow/sdk/execution_time/
  task_runner.py `_make_task_span`), child of the task_run span, same attributes less state
  and id; its status stays UNSET whether the try failed or not, and the task's exception is
  not recorded on it (recorded: see the fixtures).
- `trigger.<task_id>` (triggerer, while deferred) and, at `task_span_detail_level` > 1,
  detail spans ("parse", "startup", ...) under the worker span.

Mapping: dag_run -> the execution; task_run -> a step; worker, trigger and detail spans are
left as plain spans (a worker span says nothing of its try's outcome, so as an attempt it would
read "completed" for a failed try).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from flowscope import conventions as c
from flowscope.emitters import ForeignSpan

NAME: Final = "airflow"

# airflow/models/dagrun.py `dagrun_trace_attributes` / `_emit_dagrun_span` (3.3.2; 3.2.2 the
# same keys less run_type) and api_fastapi/execution_api/routes/task_instances.py
# `_emit_task_span` (3.3.2, 3.2.2).
DAG_ID: Final = "airflow.dag_id"
RUN_ID: Final = "airflow.dag_run.run_id"
QUEUED_AT: Final = "airflow.dag_run.queued_at"
TASK_ID: Final = "airflow.task_id"
TRY_NUMBER: Final = "airflow.task_instance.try_number"
MAP_INDEX: Final = "airflow.task_instance.map_index"
TI_STATE: Final = "airflow.task_instance.state"

# Span names (same files): f"dag_run.{dag_id}", f"task_run.{task_id}" (+ f"[{map_index}]").
DAG_RUN_PREFIX: Final = "dag_run."
TASK_RUN_PREFIX: Final = "task_run."

# airflow/utils/state.py `TaskInstanceState` (3.3.2): the states a try's task_run span can end
# in (the worker's terminal, retry and success payloads: execution_api/datamodels/
# taskinstance.py `TITerminalStatePayload`, `TIRetryStatePayload`, `TISuccessStatePayload`).
_STEP_STATUS: Final = {
    "success": "completed",
    "failed": "failed",
    # the try failed and another follows; the span is that try's end (see `Airflow`)
    "up_for_retry": "failed",
    "skipped": "skipped",  # the task raised AirflowSkipException
    "upstream_failed": "skipped",  # it never ran: an upstream task failed
    "removed": "cancelled",  # the task left the DAG while its instance was scheduled
}
# Why a step that never ran did not run (our workflow.step.skip_reason).
_SKIP_REASON: Final = {"upstream_failed": "upstream_failed"}


class Airflow:
    """DAG runs as executions, task instance tries as steps.

    A retried task instance sends one task_run span per try, all with the same span id (see the
    module docstring): Flowscope stores the first version of a span id and drops later ones,
    so such a step reads as its FIRST try (state up_for_retry -> failed) until the store keeps
    the latest version of a recognized span.
    """

    @property
    def name(self) -> str:
        return NAME

    @property
    def markers(self) -> tuple[bytes, ...]:
        # Every dag_run, task_run, worker and trigger span carries it (files above).
        return (DAG_ID.encode(),)

    def recognize(self, span: ForeignSpan) -> dict[str, Any] | None:
        attrs = span.attributes
        dag_id = _text(attrs.get(DAG_ID))
        if dag_id is None:
            return None
        if span.name.startswith(TASK_RUN_PREFIX) and TI_STATE in attrs:
            return _step(dag_id, attrs)
        if span.name.startswith(DAG_RUN_PREFIX) and TASK_ID not in attrs and not span.parent_span_id:
            # dagrun.py `_emit_dagrun_span` forces a root span (context=context.Context());
            # a parented one would be a later Airflow nesting runs (its TODO, apache/airflow
            # issue 67210), which this recognizer has not seen: not claimed.
            return _execution(dag_id, attrs, span.status_code)
        return None


def _execution(dag_id: str, attrs: Mapping[str, Any], status_code: int) -> dict[str, Any]:
    return {
        c.WORKFLOW_ID: dag_id,
        c.WORKFLOW_NAME: dag_id,
        c.WORKFLOW_EXECUTION_ID: _text(attrs.get(RUN_ID)),
        # dagrun.py `_emit_dagrun_span`: StatusCode.OK if state == DagRunState.SUCCESS else
        # ERROR, sent once the run is finished (success or failed: DagRunState has no other
        # final state), so the span status is the run's state.
        c.WORKFLOW_STATUS: "failed" if status_code == c.STATUS_CODE_ERROR else "completed",
        c.WORKFLOW_QUEUED_TIME: unix_nano(attrs.get(QUEUED_AT)),
    }


def _step(dag_id: str, attrs: Mapping[str, Any]) -> dict[str, Any] | None:
    task_id = _text(attrs.get(TASK_ID))
    if task_id is None:
        return None
    step_id = step_id_of(task_id, attrs.get(MAP_INDEX))
    state = _text(attrs.get(TI_STATE))
    try_number = attrs.get(TRY_NUMBER)
    out: dict[str, Any] = {
        c.STEP_ID: step_id,
        c.STEP_NAME: step_id,
        c.WORKFLOW_ID: dag_id,
        c.STEP_STATUS: _STEP_STATUS.get(state or ""),
        c.STEP_SKIP_REASON: _SKIP_REASON.get(state or ""),
    }
    # try_number counts this try (1 = the first: models/taskinstance.py, incremented when the
    # scheduler queues a try), so the tries before it are the retries.
    if isinstance(try_number, int) and try_number >= 1:
        out[c.STEP_RETRY_COUNT] = try_number - 1
    # No queued time: the span itself starts at the TI's queued_dttm (`_emit_task_span`
    # start_time candidates), and the try's start is not on it.
    return out


def step_id_of(task_id: str, map_index: Any) -> str:
    """The step of a task instance: its task_id, with `[map_index]` for a mapped task's
    instance, as Airflow names its span (`_emit_task_span`: map_index -1 = not mapped)."""
    if isinstance(map_index, int) and map_index >= 0:
        return f"{task_id}[{map_index}]"
    return task_id


def unix_nano(value: Any) -> int | None:
    """ns since the epoch of an Airflow date attribute: `str(datetime)` of an aware UTC
    datetime ("2026-12-02 12:31:29.000128+00:00"), or None when absent or unreadable."""
    text = _text(value)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:  # Airflow stores UTC (airflow/utils/sqlalchemy.py UtcDateTime)
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None

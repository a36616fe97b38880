"""Apache Airflow 3 DAG runs and task instances, from Airflow's own OpenTelemetry traces.

Checked against apache-airflow 3.3.2 (current), 3.2.2 (the release before; the same names as
3.3.2 less `airflow.dag_run.run_type` and `partition_date`) and 3.1.8 (other names: below), and
recorded from a real run of each (tests/emitters/fixtures/airflow/README.md). Traces are on
with `[traces] otel_on = True`.

Airflow 3.2 and 3.3 (exporter chosen by OTEL_TRACES_EXPORTER: airflow/_shared/observability/
traces/__init__.py `configure_otel`) send one trace per DAG run, its id made when the run is
created (`new_dagrun_trace_carrier`, kept in the run's `context_carrier` column):
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

Airflow 3.1 (airflow/traces/otel_tracer.py: OTLP/HTTP to `[traces] otel_host`/`otel_port`)
keeps spans open in the scheduler (`active_spans`) and ends them with the final attributes:
- `<dag_id>`: the run, a trace root started at `queued_at` (models/dagrun.py
  `start_dr_spans_if_needed`) and ended when the run ends (`end_dr_span_if_needed`) with
  `set_dagrun_span_attrs`: `airflow.category` = "DAG runs", `airflow.dag_run.dag_id`,
  `.run_id`, `.queued_at`, `.run_start_date`, `.run_end_date`, `.state` (success | failed),
  `.run_type`, `.conf` (Python repr, not JSON), and `airflow.dag_run.error` = true when failed;
  status UNSET. After a scheduler handover the run is `<dag_id>_continued`, a child of the
  first scheduler's root span, which is never sent; a `<dag_id>_recreated` root replaces a lost
  one (jobs/scheduler_job_runner.py).
- `<task_id>`: one span per try, started by the executor when it queues the try
  (executors/base_executor.py `trigger_tasks`), child of the run's span, ended by the scheduler
  when the executor reports the try (jobs/scheduler_job_runner.py `process_executor_events`)
  with `set_ti_span_attrs`: `airflow.category` = "scheduler", `airflow.task.task_id`,
  `.dag_id`, `.state` (the TI's state then), `.try_number`, `.queued_dttm`, `.log_url`, ...;
  no map index attribute, status UNSET. A try that ends up_for_retry is not sent: by then the
  TI has the next try's id, under which its span is not found (recorded).

Mapping: the run -> the execution; a task_run span (3.1: a task span) -> a step; worker,
trigger and detail spans are left as plain spans (a worker span says nothing of its try's
outcome, so as an attempt it would read "completed" for a failed try).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from flowscope import conventions as c
from flowscope.emitters import ForeignSpan

NAME: Final = "airflow"

# --- Airflow 3.2 / 3.3 -----------------------------------------------------------------------
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

# --- Airflow 3.1 ------------------------------------------------------------------------------
# airflow/models/dagrun.py `set_dagrun_span_attrs` and jobs/scheduler_job_runner.py
# `set_ti_span_attrs` (3.1.8).
CATEGORY: Final = "airflow.category"
CATEGORY_RUN: Final = "DAG runs"
CATEGORY_TASK: Final = "scheduler"
V31_DAG_ID: Final = "airflow.dag_run.dag_id"
V31_RUN_STATE: Final = "airflow.dag_run.state"
V31_TASK_ID: Final = "airflow.task.task_id"
V31_TASK_DAG_ID: Final = "airflow.task.dag_id"
V31_TI_STATE: Final = "airflow.task.state"
V31_TRY_NUMBER: Final = "airflow.task.try_number"
V31_QUEUED_DTTM: Final = "airflow.task.queued_dttm"
V31_LOG_URL: Final = "airflow.task.log_url"
# models/taskinstance.py `log_url` (3.1.8): .../tasks/{task_id}[/mapped/{map_index}][?try_number=n]
# is the only place a 3.1 task span names its map index.
_MAPPED_LOG_URL: Final = re.compile(r"/tasks/[^/?]+/mapped/(\d+)(?:\?|$)")

# airflow/utils/state.py `DagRunState` (3.1.8, 3.3.2): the states a run's span ends in.
_RUN_STATUS: Final = {"success": "completed", "failed": "failed"}
# airflow/utils/state.py `TaskInstanceState`, `TerminalTIState`, `IntermediateTIState` (3.3.2;
# 3.1.8 the same values): the states a try's span ends in (3.2/3.3: the worker's terminal,
# retry and success payloads, execution_api/datamodels/taskinstance.py).
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

    Airflow 3.2/3.3 send every try of a task instance with the same span id (see the module
    docstring): the store keeps the first version of a span id, but a step span sent again as
    that step's later try (more retries, after a failed try, starting after it ended) replaces
    the stored one (storage/later_tries.py), so a retried step reads as its last try. Airflow
    3.1 sends only the last try.
    """

    @property
    def name(self) -> str:
        return NAME

    @property
    def markers(self) -> tuple[bytes, ...]:
        # 3.2/3.3: every dag_run, task_run, worker and trigger span carries airflow.dag_id;
        # 3.1: a run's span airflow.dag_run.dag_id, a task's airflow.task.dag_id (files above).
        return (DAG_ID.encode(), V31_DAG_ID.encode(), V31_TASK_DAG_ID.encode())

    @property
    def request_markers(self) -> tuple[bytes, ...]:
        # One scan of a whole request instead of three (registry.Recognition): each marker
        # above holds it.
        return (b"airflow.",)

    def recognize(self, span: ForeignSpan) -> dict[str, Any] | None:
        attrs = span.attributes
        if DAG_ID in attrs:
            return _current(span)
        category = attrs.get(CATEGORY)
        if category == CATEGORY_TASK:
            return _v31_task(attrs)
        if category == CATEGORY_RUN and not span.parent_span_id:
            # A `<dag_id>_continued` run span (3.1 scheduler handover) has a parent that is
            # never sent: it cannot be the trace's execution, and is not claimed.
            return _v31_run(attrs)
        return None


def _current(span: ForeignSpan) -> dict[str, Any] | None:
    """Airflow 3.2 / 3.3."""
    attrs = span.attributes
    dag_id = _text(attrs.get(DAG_ID))
    if dag_id is None:
        return None
    if span.name.startswith(TASK_RUN_PREFIX) and TI_STATE in attrs:
        task_id = _text(attrs.get(TASK_ID))
        if task_id is None:
            return None
        return _step(
            dag_id, step_id_of(task_id, attrs.get(MAP_INDEX)), attrs.get(TI_STATE), attrs.get(TRY_NUMBER)
        )
    if span.name.startswith(DAG_RUN_PREFIX) and TASK_ID not in attrs and not span.parent_span_id:
        # dagrun.py `_emit_dagrun_span` forces a root span (context=context.Context()); a
        # parented one would be a later Airflow nesting runs (its TODO, apache/airflow issue
        # 67210), which this recognizer has not seen: not claimed.
        # Status: StatusCode.OK if state == DagRunState.SUCCESS else ERROR, sent once the run
        # is finished (success or failed), so the span status is the run's state.
        status = "failed" if span.status_code == c.STATUS_CODE_ERROR else "completed"
        return _execution(dag_id, attrs.get(RUN_ID), status, attrs.get(QUEUED_AT))
    return None


def _v31_run(attrs: Mapping[str, Any]) -> dict[str, Any] | None:
    """Airflow 3.1's run span (`set_dagrun_span_attrs`)."""
    dag_id = _text(attrs.get(V31_DAG_ID))
    if dag_id is None:
        return None
    status = _RUN_STATUS.get(_text(attrs.get(V31_RUN_STATE)) or "")
    return _execution(dag_id, attrs.get(RUN_ID), status, attrs.get(QUEUED_AT))


def _v31_task(attrs: Mapping[str, Any]) -> dict[str, Any] | None:
    """Airflow 3.1's task span (`set_ti_span_attrs`)."""
    dag_id, task_id = _text(attrs.get(V31_TASK_DAG_ID)), _text(attrs.get(V31_TASK_ID))
    if dag_id is None or task_id is None:
        return None
    found = _MAPPED_LOG_URL.search(_text(attrs.get(V31_LOG_URL)) or "")
    step_id = step_id_of(task_id, int(found.group(1)) if found else None)
    out = _step(dag_id, step_id, attrs.get(V31_TI_STATE), attrs.get(V31_TRY_NUMBER))
    # 3.1 says when the try was queued (3.2/3.3 start the span then instead).
    out[c.STEP_QUEUED_TIME] = unix_nano(attrs.get(V31_QUEUED_DTTM))
    return out


def _execution(dag_id: str, run_id: Any, status: str | None, queued_at: Any) -> dict[str, Any]:
    return {
        c.WORKFLOW_ID: dag_id,
        c.WORKFLOW_NAME: dag_id,
        c.WORKFLOW_EXECUTION_ID: _text(run_id),
        c.WORKFLOW_STATUS: status,
        c.WORKFLOW_QUEUED_TIME: unix_nano(queued_at),
    }


def _step(dag_id: str, step_id: str, state: Any, try_number: Any) -> dict[str, Any]:
    state_text = _text(state) or ""
    out: dict[str, Any] = {
        c.STEP_ID: step_id,
        c.STEP_NAME: step_id,
        c.WORKFLOW_ID: dag_id,
        c.STEP_STATUS: _STEP_STATUS.get(state_text),
        c.STEP_SKIP_REASON: _SKIP_REASON.get(state_text),
    }
    # try_number counts this try (1 = the first: models/taskinstance.py, incremented when the
    # scheduler queues a try), so the tries before it are the retries.
    if isinstance(try_number, int) and try_number >= 1:
        out[c.STEP_RETRY_COUNT] = try_number - 1
    return out


def step_id_of(task_id: str, map_index: Any) -> str:
    """The step of a task instance: its task_id, with `[map_index]` for a mapped task's
    instance, as Airflow 3.2/3.3 name its span (`_emit_task_span`: map_index -1 = not mapped)."""
    if isinstance(map_index, int) and map_index >= 0:
        return f"{task_id}[{map_index}]"
    return task_id


def unix_nano(value: Any) -> int | None:
    """ns since the epoch of an Airflow date attribute: `str(datetime)` of an aware UTC
    datetime ("2026-12-02 12:31:29.000128+00:00"), or None when absent or unreadable (3.1
    writes "None" for an unset date)."""
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

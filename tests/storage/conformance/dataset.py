"""The fixed dataset: a few executions traced the way the engine traces them (DESIGN.md
"What makes a span a workflow span"; attributes as engine/execution_telemetry.py sets them),
with fixed ids and times, so reader tests can assert exact values.

Workspace A (`WS_A`, the default workspace, which every store has):
- workflow `wf-etl` ("etl", project `proj-1`, steps initialize → process → finalize):
  - E1 #1 completed: queued T0-2 s, ran T0 .. T0+150.5 s; `process` failed its first
    attempt and succeeded on the second (retry_count 1), which logged APP_RECORD;
  - E2 #2 failed: T0+1 h .. +45 s; `process` failed ("Timeout exceeded"), `finalize` skipped;
  - E3 #3 running: queued and started records only (T0+2 h), `initialize` started;
  - E4 #4 pending: a queued record only (T0+3 h).
- workflow `wf-report` ("report"): R1 #1 completed, T0+30 min .. +5 s, one step; R2 #2
  completed, queued and started at the same times as R1 (a tie), .. +7 s.
- workflow `wf-midrun`: MIDRUN, a foreign tracer mid-run (one step span, nothing else), T0+4 h.
- a plain (non-workflow) trace of service `api-gateway`, one of whose spans calls service
  `inventory`, and a plain log record, T0+10 min.

Workspace B (`WS_B`) reuses E1's execution id (ids are unique only within a workspace) for a
failed execution of its own `wf-etl`, and has a workflow of its own, `wf-b-only` (B_ONLY #1
completed at T0 .. +1 s, B2 #2 pending since T0+1 h).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flowscope.storage.catalog import DEFAULT_WORKSPACE_ID
from flowscope.storage.interfaces import Store

from flowscope import conventions as c
from tests.storage.conformance.otlp import ERROR, SERVER, RecordSpec, SpanSpec, logs, traces, write

WS_A, WS_B = DEFAULT_WORKSPACE_ID, "ws-conformance-b"  # A exists in every catalog: the API serves it
S = 10**9
T0 = 1_705_312_800 * S  # 2024-01-15T10:00:00Z, the spec's example time
HOUR = 3600 * S

E1, E2, E3, E4 = (f"e{n}" + "0" * 29 + "a" for n in range(1, 5))
R1, R2 = "f1" + "0" * 29 + "b", "f3" + "0" * 29 + "b"
PLAIN_TRACE = "ab" * 16
MIDRUN = "f2" + "0" * 29 + "d"
B_ONLY, B2 = "b1" + "0" * 29 + "c", "b2" + "0" * 29 + "c"


def span_id(execution_id: str, n: int) -> str:
    """The id of span `n` of an execution (0 = its root)."""
    return f"{execution_id[:2]}{n:014x}"


@dataclass(frozen=True)
class Step:
    step_id: str
    name: str
    start_s: float  # offsets from the execution's start
    end_s: float
    status: str = "completed"
    error: str | None = None
    attempts: tuple[tuple[float, float, str], ...] = ()  # (start, end, status) when retried
    output: Any = None
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Run:
    execution_id: str
    workflow_id: str
    name: str
    number: int
    start_ns: int
    steps: tuple[Step, ...] = ()
    status: str | None = None  # None: not finished (no root span)
    end_s: float = 0.0
    error: str | None = None
    started: bool = True  # False: pending (queued record only)
    midrun: bool = False  # a foreign tracer mid-run: step spans only (no root span, no records)
    project_id: str | None = "proj-1"
    inputs: Any = None
    results: Any = None


def _root_attributes(run: Run) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        c.WORKFLOW_ID: run.workflow_id, c.WORKFLOW_NAME: run.name,
        c.WORKFLOW_EXECUTION_ID: run.execution_id, c.WORKFLOW_EXECUTION_NUMBER: run.number,
        c.CICD_PIPELINE_NAME: run.name, c.CICD_PIPELINE_RUN_ID: run.execution_id,
    }  # fmt: skip
    if run.project_id:
        attrs[c.WORKFLOW_PROJECT_ID] = run.project_id
    return attrs


def records_of(run: Run) -> list[RecordSpec]:
    if run.midrun:
        return []
    root = span_id(run.execution_id, 0)
    head = _root_attributes(run)
    queued = RecordSpec(
        run.start_ns - 2 * S, f"Execution of '{run.name}' queued", run.execution_id, root,
        c.EVENT_EXECUTION_QUEUED,
        {**head, c.WORKFLOW_INPUT: json.dumps(run.inputs), c.EVENT_NAME: c.EVENT_EXECUTION_QUEUED},
    )  # fmt: skip
    if not run.started:
        return [queued]
    out = [
        queued,
        RecordSpec(
            run.start_ns, f"Execution of '{run.name}' started", run.execution_id, root,
            c.EVENT_EXECUTION_STARTED, {**head, c.EVENT_NAME: c.EVENT_EXECUTION_STARTED},
        ),
    ]  # fmt: skip
    common = {c.WORKFLOW_ID: run.workflow_id, c.WORKFLOW_EXECUTION_ID: run.execution_id}
    for order, step in enumerate(run.steps, start=1):
        if step.status == "skipped":
            continue
        attrs = {**common, c.STEP_ID: step.step_id, c.STEP_NAME: step.name, c.STEP_ORDER: order,
                 c.STEP_ATTEMPT: 1, c.EVENT_NAME: c.EVENT_STEP_STARTED}  # fmt: skip
        out.append(RecordSpec(
            run.start_ns + int(step.start_s * S), f"Step '{step.step_id}' started", run.execution_id,
            span_id(run.execution_id, order), c.EVENT_STEP_STARTED, attrs,
        ))  # fmt: skip
    return out


def spans_of(run: Run) -> list[SpanSpec]:
    if run.status is None:
        return []
    root = span_id(run.execution_id, 0)
    at = run.start_ns
    out = []
    common = {c.WORKFLOW_ID: run.workflow_id, c.WORKFLOW_EXECUTION_ID: run.execution_id}
    for order, step in enumerate(run.steps, start=1):
        sid = span_id(run.execution_id, order)
        attrs: dict[str, Any] = {
            **common, c.STEP_ID: step.step_id, c.STEP_NAME: step.name, c.STEP_ORDER: order,
            c.CICD_TASK_NAME: step.name, c.STEP_STATUS: step.status, c.STEP_DEPENDS_ON: step.depends_on,
            c.STEP_RETRY_COUNT: max(len(step.attempts) - 1, 0), c.CICD_TASK_RUN_ID: sid,
            c.CICD_TASK_RUN_RESULT: c.TASK_RESULT_BY_STEP_STATUS[step.status],
            c.STEP_INPUT: json.dumps({"order": order}), c.STEP_INPUT_TRUNCATED: False,
        }  # fmt: skip
        if step.status == "completed":
            attrs[c.STEP_OUTPUT] = json.dumps(step.output)
            attrs[c.STEP_OUTPUT_TRUNCATED] = False
        if step.error:
            attrs[c.STEP_ERROR] = step.error
            attrs[c.ERROR_TYPE] = "StepFailed"
        failed = step.status == "failed"
        out.append(SpanSpec(
            run.execution_id, sid, step.name, at + int(step.start_s * S), at + int(step.end_s * S), root,
            attributes=attrs, status_code=ERROR if failed else 0, status_message=step.error or "",
        ))  # fmt: skip
        for n, (a_start, a_end, a_status) in enumerate(step.attempts, start=1):
            out.append(SpanSpec(
                run.execution_id, span_id(run.execution_id, 10 * order + n), f"attempt {n}",
                at + int(a_start * S), at + int(a_end * S), sid,
                attributes={c.STEP_ATTEMPT: n, c.STEP_ID: step.step_id, c.STEP_STATUS: a_status},
                status_code=ERROR if a_status == "failed" else 0,
                status_message="flaky" if a_status == "failed" else "",
            ))  # fmt: skip
    if run.midrun:
        return out
    attrs = {
        **_root_attributes(run), c.WORKFLOW_STATUS: run.status,
        c.CICD_PIPELINE_RESULT: c.PIPELINE_RESULT_BY_STATUS[run.status],
        c.WORKFLOW_INPUT: json.dumps(run.inputs), c.WORKFLOW_RESULTS: json.dumps(run.results),
    }  # fmt: skip
    if run.error:
        attrs[c.WORKFLOW_ERROR] = run.error
        attrs[c.ERROR_TYPE] = "StepFailed"
    out.append(SpanSpec(
        run.execution_id, root, f"RUN {run.name}", at, at + int(run.end_s * S), kind=SERVER,
        attributes=attrs, status_code=ERROR if run.error else 0, status_message=run.error or "",
    ))  # fmt: skip
    return out


ETL_STEPS = (
    Step("initialize", "Initialize", 0, 30, output={"processed_records": 100}),
    Step("process", "Process", 30, 120, attempts=((30, 50, "failed"), (55, 120, "completed")),
         output={"results": "success"}, depends_on=("initialize",)),
    Step("finalize", "Finalize", 120, 150.5, output={"done": True}, depends_on=("process",)),
)  # fmt: skip
FAILED_STEPS = (
    Step("initialize", "Initialize", 0, 10, output={"processed_records": 7}),
    Step("process", "Process", 10, 45, status="failed", error="Timeout exceeded", depends_on=("initialize",)),
    Step("finalize", "Finalize", 45, 45, status="skipped", depends_on=("process",)),
)
RUNS_A = (
    Run(E1, "wf-etl", "etl", 1, T0, ETL_STEPS, "completed", 150.5,
        inputs={"mode": "standard"}, results={"output": "success"}),
    Run(E2, "wf-etl", "etl", 2, T0 + HOUR, FAILED_STEPS, "failed", 45, "Step 'process' failed",
        inputs={"mode": "fast"}, results={}),
    Run(E3, "wf-etl", "etl", 3, T0 + 2 * HOUR, ETL_STEPS[:1], inputs={"mode": "standard"}),
    Run(E4, "wf-etl", "etl", 4, T0 + 3 * HOUR, started=False, inputs={"mode": "thorough"}),
    Run(R1, "wf-report", "report", 1, T0 + HOUR // 2, (Step("render", "Render", 0, 5, output="ok"),),
        "completed", 5, project_id=None, inputs={}, results={"pages": 3}),
    Run(R2, "wf-report", "report", 2, T0 + HOUR // 2, (Step("render", "Render", 0, 7, output="ok"),),
        "completed", 7, project_id=None, inputs={}, results={"pages": 4}),
    Run(MIDRUN, "wf-midrun", "midrun", 1, T0 + 4 * HOUR, (Step("fetch", "Fetch", 3, 4, output=2),),
        "completed", midrun=True),
)  # fmt: skip
RUNS_B = (
    Run(E1, "wf-etl", "etl-b", 1, T0 + 300 * S, FAILED_STEPS[:2], "failed", 20, "Step 'process' failed",
        project_id="proj-b", inputs={"mode": "b"}, results={}),
    Run(B_ONLY, "wf-b-only", "b-only", 1, T0, (Step("only", "Only", 0, 1, output=1),), "completed", 1,
        project_id="proj-b", inputs={}, results={}),
    Run(B2, "wf-b-only", "b-only", 2, T0 + HOUR, started=False, project_id="proj-b", inputs={}),
)  # fmt: skip

# An application's own log record, emitted inside E1's second `process` attempt (no step attribute).
APP_RECORD = RecordSpec(T0 + 60 * S, "processing batch 3", E1, span_id(E1, 22), severity_number=13)
PLAIN_START = T0 + 600 * S
PLAIN_SPANS = (
    SpanSpec(PLAIN_TRACE, "ab00000000000001", "GET /orders", PLAIN_START, PLAIN_START + 80_000_000,
             kind=SERVER, attributes={"http.request.method": "GET", "http.response.status_code": 200}),
    SpanSpec(PLAIN_TRACE, "ab00000000000002", "SELECT orders", PLAIN_START + 10_000_000,
             PLAIN_START + 60_000_000, "ab00000000000001", attributes={"db.system": "postgresql"}),
)  # fmt: skip
# A call from api-gateway into another service (one service-to-service dependency).
INVENTORY_SPAN = SpanSpec(PLAIN_TRACE, "ab00000000000003", "GET /stock", PLAIN_START + 65_000_000,
                          PLAIN_START + 75_000_000, "ab00000000000001", kind=SERVER)  # fmt: skip
PLAIN_RECORD = RecordSpec(PLAIN_START + 20_000_000, "order 42 shipped", PLAIN_TRACE, "ab00000000000001")


def runs(workspace_id: str) -> tuple[Run, ...]:
    return RUNS_A if workspace_id == WS_A else RUNS_B


def load(store: Store) -> None:
    """Write the dataset: every run's records, then its spans, one request per run and signal."""
    for workspace_id in (WS_A, WS_B):
        for run in runs(workspace_id):
            if not run.midrun:
                write(store, logs(records_of(run)), workspace_id)
            if run.status is not None:
                write(store, traces(spans_of(run)), workspace_id)
    write(store, logs([APP_RECORD]), WS_A)
    write(store, traces(PLAIN_SPANS, service="api-gateway"), WS_A)
    write(store, traces([INVENTORY_SPAN], service="inventory"), WS_A)
    write(store, logs([PLAIN_RECORD], service="api-gateway"), WS_A)

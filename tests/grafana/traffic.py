"""Real telemetry for the Grafana contract tests, sent through the OpenTelemetry SDK's OTLP exporters.

`emit_workflows` traces workflow executions exactly as DESIGN.md's conventions say
the engine does (root SERVER span `RUN {name}`, INTERNAL step spans, `attempt {n}`
children, lifecycle log records), with explicit timestamps so durations are known.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from flowscope import conventions as c

ENGINE_SERVICE = "workflow-simulator"  # not the real engine's name: the two stay apart
MS = 1_000_000


@dataclass
class StepPlan:
    step_id: str
    name: str
    duration_ms: int
    fail_attempts: int = 0  # attempts that fail before the last one
    fails: bool = False  # the last attempt fails too (the step fails)


@dataclass
class WorkflowPlan:
    workflow_id: str
    name: str
    steps: list[StepPlan]


@dataclass
class Emitted:
    executions: dict[str, list[str]] = field(default_factory=dict)  # workflow id -> execution ids
    failed: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)

    def all_executions(self) -> list[str]:
        return [e for ids in self.executions.values() for e in ids]


BASIC = WorkflowPlan(
    "wf-basic-sequence",
    "basic_sequence",
    [
        StepPlan("initialize", "Initialize", 120),
        StepPlan("process", "Process", 450),
        StepPlan("finalize", "Finalize", 80),
    ],
)
FLAKY = WorkflowPlan(
    "wf-flaky-etl",
    "flaky_etl",
    [
        StepPlan("extract", "Extract Data", 200),
        StepPlan("transform", "Transform Data", 300, fail_attempts=1),
        StepPlan("load", "Load Data", 150),
    ],
)


class _Sdk:
    """One service's tracer and logger providers, exporting over OTLP/HTTP protobuf."""

    def __init__(self, otlp_http: str, service: str, headers: dict[str, str] | None = None) -> None:
        resource = Resource.create({"service.name": service, "service.version": "1.0.0"})
        self.tracer_provider = TracerProvider(resource=resource)
        self.tracer_provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_http}/v1/traces", headers=headers))
        )
        self.logger_provider = LoggerProvider(resource=resource)
        self.logger_provider.add_log_record_processor(
            BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{otlp_http}/v1/logs", headers=headers))
        )
        self.tracer = self.tracer_provider.get_tracer("flowscope.engine", "0.1.0")
        self.logger = self.logger_provider.get_logger("flowscope.engine", "0.1.0")

    def event(self, span: trace.Span, name: str, at_ns: int, attributes: dict[str, object]) -> None:
        self.logger.emit(
            timestamp=at_ns,
            context=trace.set_span_in_context(span),
            event_name=name,
            body=name,
            attributes={c.EVENT_NAME: name, **attributes},
        )

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()  # flushes: every span is acknowledged (committed) on return
        self.logger_provider.shutdown()


def _execution(sdk: _Sdk, plan: WorkflowPlan, number: int, start_ns: int, fail: bool) -> tuple[str, int]:
    """One finished execution; returns its id (the trace id) and its end time."""
    root = sdk.tracer.start_span(f"RUN {plan.name}", kind=SpanKind.SERVER, start_time=start_ns)
    execution_id = format(root.get_span_context().trace_id, "032x")
    common = {c.WORKFLOW_ID: plan.workflow_id, c.WORKFLOW_EXECUTION_ID: execution_id}
    head = {**common, c.WORKFLOW_NAME: plan.name, c.WORKFLOW_EXECUTION_NUMBER: number}
    sdk.event(root, c.EVENT_EXECUTION_QUEUED, start_ns - 5 * MS, head)
    sdk.event(root, c.EVENT_EXECUTION_STARTED, start_ns, head)
    ctx = trace.set_span_in_context(root)
    at = start_ns + 5 * MS
    failed_step = None
    for order, step in enumerate(plan.steps, start=1):
        last_fails = fail and step is plan.steps[-1]
        attrs = {**common, c.STEP_ID: step.step_id, c.STEP_NAME: step.name, c.STEP_ORDER: order}
        span = sdk.tracer.start_span(step.name, context=ctx, kind=SpanKind.INTERNAL, start_time=at)
        sdk.event(span, c.EVENT_STEP_STARTED, at, attrs)
        step_ctx = trace.set_span_in_context(span)
        attempts = step.fail_attempts + 1
        for n in range(1, attempts + 1):
            attempt = sdk.tracer.start_span(f"attempt {n}", context=step_ctx, start_time=at)
            attempt.set_attribute(c.STEP_ATTEMPT, n)
            attempt.set_attribute(c.STEP_ID, step.step_id)
            at += step.duration_ms * MS
            if n < attempts or last_fails:
                error = TimeoutError(f"{step.name} attempt {n} timed out")
                attempt.record_exception(error, timestamp=at)
                attempt.set_status(Status(StatusCode.ERROR, str(error)))
                if n < attempts:
                    sdk.event(span, c.EVENT_STEP_RETRYING, at, {**attrs, c.STEP_ATTEMPT: n + 1})
            attempt.end(end_time=at)
            at += 20 * MS  # backoff gap between attempts
        status = "failed" if last_fails else "completed"
        span.set_attributes({
            **attrs,
            c.STEP_STATUS: status,
            c.STEP_RETRY_COUNT: step.fail_attempts,
            c.STEP_INPUT: json.dumps({"batch_size": 100 * order, "source": f"{plan.name}/{step.step_id}"}),
            c.STEP_OUTPUT: json.dumps({"records": 100 * order, "ok": status == "completed"}),
            c.CICD_TASK_NAME: step.step_id,
            c.CICD_TASK_RUN_ID: format(span.get_span_context().span_id, "016x"),
            c.CICD_TASK_RUN_RESULT: c.TASK_RESULT_BY_STEP_STATUS[status],
        })  # fmt: skip
        if last_fails:
            failed_step = step.name
            span.set_attribute(c.STEP_ERROR, f"{step.name} failed after {attempts} attempts")
            span.set_status(Status(StatusCode.ERROR, f"{step.name} failed"))
        span.end(end_time=at)
        at += 10 * MS
    status = "failed" if fail else "completed"
    root.set_attributes({
        **head,
        c.WORKFLOW_STATUS: status,
        c.WORKFLOW_INPUT: json.dumps({"mode": "standard", "run": number}),
        c.WORKFLOW_RESULTS: json.dumps({"output": status}),
        c.CICD_PIPELINE_NAME: plan.name,
        c.CICD_PIPELINE_RUN_ID: execution_id,
        c.CICD_PIPELINE_RESULT: c.PIPELINE_RESULT_BY_STATUS[status],
    })  # fmt: skip
    if fail:
        root.set_attribute(c.ERROR_TYPE, "StepFailed")
        root.set_status(Status(StatusCode.ERROR, f"Step '{failed_step}' failed"))
    root.end(end_time=at)
    return execution_id, at


def emit_workflows(otlp_http: str, runs: int = 3, headers: dict[str, str] | None = None) -> Emitted:
    """`runs` executions of each plan (the flaky one's last run fails), plus one running and one pending."""
    sdk = _Sdk(otlp_http, ENGINE_SERVICE, headers)
    out = Emitted()
    start = time.time_ns() - 60_000 * MS  # a minute ago: all of it inside any default window
    for plan in (BASIC, FLAKY):
        for number in range(1, runs + 1):
            fail = plan is FLAKY and number == runs
            execution_id, start = _execution(sdk, plan, number, start, fail)
            out.executions.setdefault(plan.workflow_id, []).append(execution_id)
            if fail:
                out.failed.append(execution_id)
            start += 50 * MS
    # Lifecycle records alone: one execution started (running), one only queued (pending).
    for event, bucket in ((c.EVENT_EXECUTION_STARTED, out.running), (c.EVENT_EXECUTION_QUEUED, out.pending)):
        span = sdk.tracer.start_span(f"RUN {BASIC.name}", kind=SpanKind.SERVER)  # never ended: not exported
        execution_id = format(span.get_span_context().trace_id, "032x")
        attrs = {
            c.WORKFLOW_ID: BASIC.workflow_id, c.WORKFLOW_NAME: BASIC.name,
            c.WORKFLOW_EXECUTION_ID: execution_id, c.WORKFLOW_EXECUTION_NUMBER: 100 + len(bucket),
        }  # fmt: skip
        sdk.event(span, event, time.time_ns(), attrs)
        bucket.append(execution_id)
    sdk.shutdown()
    return out


def _raw_spans(n: int, service: str, *, valid: bool = True, seed: int = 1) -> bytes:
    """An OTLP/protobuf export request of `n` spans (invalid ones have an all-zero trace id)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    attr = rs.resource.attributes.add()
    attr.key, attr.value.string_value = "service.name", service
    ss = rs.scope_spans.add()
    ss.scope.name = "flowscope.tests.raw"
    now = time.time_ns()
    for i in range(n):
        span = ss.spans.add()
        span.trace_id = (b"\0" * 16) if not valid else (seed * 1_000_003 + i + 1).to_bytes(16, "big")
        span.span_id = (i + 1).to_bytes(8, "big")
        span.name = "raw span"
        span.kind = 3
        span.start_time_unix_nano = now - 5 * MS
        span.end_time_unix_nano = now
    return request.SerializeToString()


def emit_collector_edge_cases(otlp_http: str, seed: int) -> dict[str, int]:
    """A rejected span (partial success), a duplicate (a resent request) and 503 backpressure.

    Backpressure needs the server started with a small queue and a commit delay
    (FLOWSCOPE_QUEUE_ITEMS, FLOWSCOPE_COMMIT_DELAY_SECONDS): concurrent large requests
    then overflow the queue, as a real burst would.
    """
    import concurrent.futures

    import httpx

    headers = {"Content-Type": "application/x-protobuf"}
    url = f"{otlp_http}/v1/traces"
    with httpx.Client(timeout=30) as client:
        mixed = _raw_spans(1, "flowscope-tests-raw", seed=seed) + _raw_spans(1, "x", valid=False)
        assert client.post(url, content=mixed, headers=headers).status_code == 200
        again = _raw_spans(3, "flowscope-tests-raw", seed=seed + 7)
        for _ in range(2):  # the second copy is stored once: a duplicate
            assert client.post(url, content=again, headers=headers).status_code == 200
        big = [_raw_spans(1500, "flowscope-tests-burst", seed=seed * 100 + k) for k in range(6)]
        refused = 0
        for _attempt in range(5):
            with concurrent.futures.ThreadPoolExecutor(len(big)) as pool:
                codes = list(
                    pool.map(lambda body: client.post(url, content=body, headers=headers).status_code, big)
                )
            refused += sum(code in (429, 503) for code in codes)
            if refused:
                break
    return {"refused": refused}


EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "workflows").glob("*.json"))
TERMINAL = {"completed", "failed", "cancelled", "timeout"}


def create_examples(api: str) -> dict[str, str]:
    """The example workflows created through the REST API: workflow id -> name."""
    import httpx

    created = {}
    for path in EXAMPLES:
        response = httpx.post(
            f"{api}/api/workflows", json={"definition": json.loads(path.read_text())}, timeout=30
        )
        assert response.status_code == 201, f"{path.name}: {response.status_code} {response.text[:500]}"
        created[response.json()["id"]] = response.json()["name"]
    return created


def run_examples(api: str, workflow_ids: list[str], timeout: float = 60) -> list[str]:
    """Execute each workflow once through the API (the real engine) and wait until all finished."""
    import httpx

    started = []
    for workflow_id in workflow_ids:
        response = httpx.post(f"{api}/api/workflows/{workflow_id}/execute", json={}, timeout=30)
        assert response.status_code == 202, f"{workflow_id}: {response.status_code} {response.text[:500]}"
        started.append(response.json()["id"])
    deadline = time.monotonic() + timeout
    waiting = set(started)
    while waiting and time.monotonic() < deadline:
        for execution_id in list(waiting):
            response = httpx.get(f"{api}/api/workflows/executions/{execution_id}", timeout=30)
            if response.status_code == 200 and response.json()["status"] in TERMINAL:
                waiting.discard(execution_id)
        time.sleep(0.2)
    assert not waiting, f"executions still running after {timeout}s: {waiting}"
    return started

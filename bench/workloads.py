"""The three ingest workloads of bench/ingest.py, as OTLP/HTTP requests (issue 11).

Each unit of a workload is the requests of one batch of 512 spans; every unit has new
trace and span ids (nothing is deduplicated) and is timed like a stream of spans that
just ended (`spans_per_second`), as bench/common.py does for generic spans:

- generic: bench/common.py's service spans, no workflow meaning;
- engine: what `flowscope run` sends. Per execution of a 7-step workflow: the root span,
  each step's span and its attempt span, one step retried once (a second attempt span),
  so 16 spans and 32 executions per batch; plus the lifecycle records (queued, started,
  7 x step started, 1 x retrying: 320 per batch) as one OTLP logs request, posted before
  the spans (the engine emits records as things start, spans as they end). Built by the
  engine's own emitters (`engine.execution_telemetry`) and encoded by the OTel SDK's OTLP
  encoders, which its exporters send;
- foreign: a tracer that follows the conventions (DESIGN.md "What makes a span a workflow
  span") and sends spans only: 64 executions per batch, each a root plus 7 steps, about
  ten attributes and one event per span (as generic spans), one execution in eight failed.

A template of each shape is built once; each unit is a copy with fresh ids (also where an
attribute repeats them: `workflow.execution.id`, `cicd.pipeline.run.id`,
`cicd.pipeline.task.run.id`) and shifted times.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from flowscope.engine.execution_telemetry import ExecutionTelemetry
from flowscope.engine.model import ActionDefinition, StepDefinition
from flowscope.engine.state import AttemptRecord, StepRun
from flowscope.engine.telemetry import Telemetry, TelemetryConfig, encode_logs, new_span_id
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from bench.common import SPANS_PER_BATCH, _kv, make_batches
from flowscope import conventions as c

WORKLOADS = ("generic", "engine", "foreign")
TRACES, LOGS = "/v1/traces", "/v1/logs"
Request = tuple[str, bytes]  # (OTLP/HTTP path, protobuf body)
Unit = list[Request]  # one batch of 512 spans (engine: its records first)

STEPS = 7
WORKFLOWS = 8  # distinct workflow ids per shape
RETRIED_STEP = 3  # engine shape: this step's first attempt fails, the second succeeds
ENGINE_EXECUTIONS = SPANS_PER_BATCH // (1 + 2 * STEPS + 1)  # 32
FOREIGN_EXECUTIONS = SPANS_PER_BATCH // (1 + STEPS)  # 64
STEP_NS = 40_000_000  # each step runs 40 ms
_HEX_IDS = (c.WORKFLOW_EXECUTION_ID, c.CICD_PIPELINE_RUN_ID, c.CICD_TASK_RUN_ID)


# --- the engine's shape, from its own emitters ------------------------------------------------


class _KeepSpans(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[Any] = []

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


class _KeepLogs(LogRecordExporter):
    def __init__(self) -> None:
        self.records: list[Any] = []

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        self.records.extend(batch)
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


class _OffLoopTelemetry(Telemetry):
    """The engine's telemetry without its debounced flush (which needs the engine's event loop):
    the exporters here are synchronous and keep what they get."""

    def request_flush(self, workspace_id: str) -> None:
        pass


def _engine_steps() -> list[StepDefinition]:
    action = ActionDefinition(type="http", params={"url": "https://example.com/api/items", "method": "GET"})
    return [
        StepDefinition(
            id=f"step-{k}", name=f"Step {k}", action=action, depends_on=[f"step-{k - 1}"] if k else []
        )
        for k in range(STEPS)
    ]


def engine_template(seed: int) -> tuple[ExportTraceServiceRequest, ExportLogsServiceRequest]:
    """One batch of the engine's spans (32 executions) and the logs request of their records."""
    spans, logs = _KeepSpans(), _KeepLogs()
    config = TelemetryConfig(span_exporter=spans, log_exporter=logs, synchronous_export=True)
    telemetry = _OffLoopTelemetry(config)
    steps = _engine_steps()
    record_times: dict[tuple[int, str], int] = {}  # (span id, event) -> when the engine would emit it
    base = time.time_ns()
    gap = STEP_NS // 8
    for e in range(ENGINE_EXECUTIONS):
        workflow = (seed + e) % WORKFLOWS
        ex: ExecutionTelemetry = telemetry.execution(
            workspace_id="default", workflow_id=f"bench-engine-{workflow}",
            workflow_name=f"Bench engine {workflow}", execution_number=seed * 1000 + e + 1,
        )  # fmt: skip
        start = base + e * gap
        ex.emit_queued(ex.queued_records({"batch": seed, "n": e}, start - 1_000_000))
        record_times[(ex.root_span_id, c.EVENT_EXECUTION_QUEUED)] = start - 1_000_000
        ex.started()
        record_times[(ex.root_span_id, c.EVENT_EXECUTION_STARTED)] = start
        t = start
        for k, step in enumerate(steps):
            run = StepRun(step, k, new_span_id(), status="running", started_ns=t)
            run.input = {"url": "https://example.com/api/items", "page": k}
            ex.step_started(run)
            record_times[(run.span_id, c.EVENT_STEP_STARTED)] = t
            run.attempts.append(AttemptRecord(1, new_span_id(), t))
            if k == RETRIED_STEP:
                first = run.attempts[0]
                first.end_ns, first.status, first.error = t + STEP_NS // 2, "failed", "HTTP 503"
                ex.step_retrying(run, 2, 0.1)
                record_times[(run.span_id, c.EVENT_STEP_RETRYING)] = first.end_ns
                run.attempts.append(AttemptRecord(2, new_span_id(), first.end_ns + 100_000))
            last = run.attempts[-1]
            last.end_ns, last.status = t + STEP_NS, "completed"
            run.status, run.ended_ns, run.output = "completed", t + STEP_NS, {"items": k * 10, "ok": True}
            ex.step_finished(run)
            t += STEP_NS
        ex.finished(
            status="completed", error=None, error_type=None, inputs={"batch": seed, "n": e},
            results={"items": 210}, start_ns=start, end_ns=t,
        )  # fmt: skip
    request = encode_spans(spans.spans)
    records = encode_logs(logs.records)
    for rl in records.resource_logs:
        for sl in rl.scope_logs:
            for record in sl.log_records:
                at = record_times[(int.from_bytes(record.span_id, "big"), _event_name(record))]
                record.time_unix_nano = record.observed_time_unix_nano = at
    assert _span_count(request) == SPANS_PER_BATCH, _span_count(request)
    return request, records


def _event_name(record: Any) -> str:
    if record.event_name:
        return str(record.event_name)
    return next(kv.value.string_value for kv in record.attributes if kv.key == c.EVENT_NAME)


def _span_count(request: ExportTraceServiceRequest) -> int:
    return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)


# --- a foreign tracer's shape, by hand --------------------------------------------------------


def _foreign_step_status(k: int, failed_at: int | None) -> str:
    if failed_at is None or k < failed_at:
        return "completed"
    return "failed" if k == failed_at else "skipped"


def foreign_template(seed: int) -> ExportTraceServiceRequest:
    """64 executions of root + 7 steps, spans only, as a tracer that follows the conventions sends
    them (each step's span as it ends, the root last)."""
    rnd = random.Random(seed)
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.extend([
        _kv("service.name", "orchestrator"), _kv("service.version", "7.2.0"),
        _kv("host.name", f"worker-{seed % 5}"), _kv("deployment.environment", "production"),
        _kv("telemetry.sdk.language", "go"),
    ])  # fmt: skip
    ss = rs.scope_spans.add()
    ss.scope.name = "orchestrator.tracing"
    ss.scope.version = "1.4.0"
    base = time.time_ns()
    gap = STEP_NS // 8
    for e in range(FOREIGN_EXECUTIONS):
        workflow = (seed + e) % WORKFLOWS
        workflow_id, name = f"bench-foreign-{workflow}", f"nightly-etl-{workflow}"
        trace_id, root_id = rnd.randbytes(16), rnd.randbytes(8)
        execution_id = trace_id.hex()
        failed_at = 5 if e % 8 == 7 else None  # this step fails; the ones after it are skipped
        start = base + e * gap
        t = start
        for k in range(STEPS):
            status = _foreign_step_status(k, failed_at)
            span = ss.spans.add()
            span.trace_id, span.span_id, span.parent_span_id = trace_id, rnd.randbytes(8), root_id
            span.name = f"extract-{k}"
            span.kind = Span.SPAN_KIND_INTERNAL
            span.start_time_unix_nano = t
            span.end_time_unix_nano = t if status == "skipped" else t + STEP_NS
            span.attributes.extend([
                _kv(c.WORKFLOW_ID, workflow_id), _kv(c.WORKFLOW_EXECUTION_ID, execution_id),
                _kv(c.STEP_ID, f"extract-{k}"), _kv(c.STEP_NAME, f"Extract {k}"), _kv(c.STEP_ORDER, k + 1),
                _kv(c.STEP_STATUS, status), _kv(c.STEP_RETRY_COUNT, 0),
                _kv(c.STEP_OUTPUT, orjson.dumps({"rows": rnd.randint(0, 10**6)}).decode()),
                _kv(c.CICD_TASK_NAME, f"Extract {k}"), _kv(c.CICD_TASK_RUN_ID, span.span_id.hex()),
                _kv(c.CICD_TASK_RUN_RESULT, c.TASK_RESULT_BY_STEP_STATUS[status]),
            ])  # fmt: skip
            event = span.events.add()
            event.time_unix_nano = span.end_time_unix_nano
            if status == "failed":
                span.status.code = Status.STATUS_CODE_ERROR
                span.status.message = "source table locked"
                event.name = "exception"
                event.attributes.extend([_kv("exception.type", "LockTimeout"),
                                         _kv("exception.message", "source table locked")])  # fmt: skip
            else:
                event.name = "rows.read"
                event.attributes.extend([_kv("rows", rnd.randint(0, 10**6)), _kv("attempt", 1)])
            if status != "skipped":
                t += STEP_NS
        status = "completed" if failed_at is None else "failed"
        root = ss.spans.add()
        root.trace_id, root.span_id = trace_id, root_id
        root.name = f"RUN {name}"
        root.kind = Span.SPAN_KIND_SERVER
        root.start_time_unix_nano, root.end_time_unix_nano = start, t
        root.attributes.extend([
            _kv(c.WORKFLOW_ID, workflow_id), _kv(c.WORKFLOW_NAME, name),
            _kv(c.WORKFLOW_EXECUTION_ID, execution_id), _kv(c.WORKFLOW_EXECUTION_NUMBER, seed * 1000 + e + 1),
            _kv(c.WORKFLOW_STATUS, status), _kv(c.WORKFLOW_INPUT, '{"date": "2024-06-01"}'),
            _kv(c.CICD_PIPELINE_NAME, name), _kv(c.CICD_PIPELINE_RUN_ID, execution_id),
            _kv(c.CICD_PIPELINE_RESULT, c.PIPELINE_RESULT_BY_STATUS[status]),
        ])  # fmt: skip
        if failed_at is not None:
            root.status.code = Status.STATUS_CODE_ERROR
            root.status.message = f"step extract-{failed_at} failed: source table locked"
            error = [_kv(c.WORKFLOW_ERROR, root.status.message), _kv(c.ERROR_TYPE, "StepFailed")]
            root.attributes.extend(error)
        event = root.events.add()
        event.name, event.time_unix_nano = "execution.summary", t
        event.attributes.append(_kv("steps", STEPS))
    assert _span_count(request) == SPANS_PER_BATCH
    return request


# --- fresh copies -------------------------------------------------------------------------------


@dataclass
class _Template:
    """A template request and where its ids and times are, to copy it quickly."""

    spans: ExportTraceServiceRequest
    logs: ExportLogsServiceRequest | None
    first_ns: int  # the earliest time in it: copies shift times relative to it


def _earliest(spans: ExportTraceServiceRequest) -> int:
    every = (s for rs in spans.resource_spans for ss in rs.scope_spans for s in ss.spans)
    return min(s.start_time_unix_nano for s in every)


class _Ids:
    """Old id -> a new random one, the same for every place it appears in one copy."""

    def __init__(self, rnd: random.Random) -> None:
        self._rnd = rnd
        self._new: dict[bytes, bytes] = {}

    def __call__(self, old: bytes) -> bytes:
        new = self._new.get(old)
        if new is None:
            new = self._new[old] = self._rnd.randbytes(len(old)) if old else old
        return new

    def hex(self, old_hex: str) -> str:
        return self(bytes.fromhex(old_hex)).hex()


def _fresh_attributes(attributes: Any, ids: _Ids) -> None:
    for kv in attributes:
        if kv.key in _HEX_IDS:
            kv.value.string_value = ids.hex(kv.value.string_value)


def _copy(template: _Template, rnd: random.Random, start_ns: int) -> Unit:
    ids = _Ids(rnd)
    shift = start_ns - template.first_ns
    spans = ExportTraceServiceRequest()
    spans.CopyFrom(template.spans)
    for rs in spans.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                span.trace_id, span.span_id = ids(span.trace_id), ids(span.span_id)
                span.parent_span_id = ids(span.parent_span_id)
                span.start_time_unix_nano += shift
                span.end_time_unix_nano += shift
                for event in span.events:
                    event.time_unix_nano += shift
                _fresh_attributes(span.attributes, ids)
    unit: Unit = []
    if template.logs is not None:
        logs = ExportLogsServiceRequest()
        logs.CopyFrom(template.logs)
        for rl in logs.resource_logs:
            for sl in rl.scope_logs:
                for record in sl.log_records:
                    record.trace_id, record.span_id = ids(record.trace_id), ids(record.span_id)
                    record.time_unix_nano += shift
                    record.observed_time_unix_nano += shift
                    _fresh_attributes(record.attributes, ids)
        unit.append((LOGS, logs.SerializeToString()))
    unit.append((TRACES, spans.SerializeToString()))
    return unit


def _templates(workload: str, seed: int) -> list[_Template]:
    if workload == "engine":
        pairs = [engine_template(seed * 100 + k) for k in range(4)]
        return [_Template(s, logs, _earliest(s)) for s, logs in pairs]
    if workload == "foreign":
        requests = [foreign_template(seed * 100 + k) for k in range(4)]
        return [_Template(r, None, _earliest(r)) for r in requests]
    raise ValueError(f"unknown workload {workload!r}; one of {', '.join(WORKLOADS)}")


def make_units(
    workload: str, count: int, seed: int = 1, start_ns: int | None = None, spans_per_second: float = 50_000
) -> list[Unit]:
    """`count` units of `workload`, each 512 spans (and, engine-shaped, their records), new ids each."""
    if workload == "generic":
        return [[(TRACES, body)] for body in make_batches(count, seed, start_ns, spans_per_second)]
    rnd = random.Random(seed ^ os.getpid() ^ time.time_ns())
    templates = _templates(workload, seed)
    base = start_ns if start_ns is not None else time.time_ns()
    spacing = int(SPANS_PER_BATCH / spans_per_second * 1e9)
    return [_copy(templates[i % len(templates)], rnd, base + i * spacing) for i in range(count)]

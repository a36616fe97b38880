"""Every OpenTelemetry call the engine makes (DESIGN.md "What makes a span a workflow span").

Shape of an execution: a root SERVER span `RUN {workflow}`, one INTERNAL span per
step (named the step name, child of the root), one `attempt {n}` span per attempt
(child of the step span), plus lifecycle log records announcing what has not ended
yet (queued, started, step started, step retrying).

Ids are allocated up front: the execution id is the trace id, known when the
execution is queued, and step/attempt span ids exist before their spans, so the
`workflow.step.started` record can carry the step span id and `traceparent` can be
handed to actions. Because OTLP has no in-progress spans anyway, each span is
created when its outcome is known, with its recorded start time and the
pre-allocated id (a preset `IdGenerator`), all attributes in one go. This also
keeps per-span cost to a single SDK start/end.

Export: the collector picks the tenant from the `x-workspace-id` header of each
export request, so there is one TracerProvider + LoggerProvider (with their own
OTLP exporters and headers) per workspace, created on first use and cached.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, LogRecordLimits, LogRecordProcessor, ReadableLogRecord
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    LogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from engine.state import StepRun
from flowscope import __version__
from flowscope import conventions as c

INTERRUPTED_ERROR = "Execution interrupted: the server stopped while it was running"
_SCOPE = "flowscope.engine"
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_UNSET = Status(StatusCode.UNSET)


@dataclass(frozen=True)
class TelemetryConfig:
    endpoint: str | None = None  # base URL (http) or host:port (grpc); default: the local collector
    protocol: Literal["http", "grpc"] = "http"
    headers: Mapping[str, str] = field(default_factory=dict)
    token: str | None = None  # sent as `authorization: Bearer <token>`
    export_delay_ms: int = 100  # batch delay: live views lag well under a second
    max_value_bytes: int = 8192  # cap of JSON-valued attributes (inputs, outputs, results)
    enabled: bool = True  # False: no spans, no records (ids are still allocated)
    service_name: str = "flowscope-engine"
    max_queue_size: int = 65_536
    max_export_batch_size: int = 2_048
    export_timeout_ms: int = 10_000
    # Test/bench hooks: used instead of OTLP exporters (shared by every workspace).
    span_exporter: SpanExporter | None = None
    log_exporter: LogRecordExporter | None = None
    synchronous_export: bool = False  # Simple*Processor instead of Batch* (tests)
    # Build finished ReadableSpan / ReadableLogRecord objects and hand them to the processors
    # directly (see _Pipeline.emit_span); False goes through Tracer.start_span / Logger.emit.
    fast_path: bool = True


class _PresetIdGenerator(RandomIdGenerator):
    """Hands out ids chosen in advance (per thread) to the next span started, random otherwise."""

    def __init__(self) -> None:
        self._preset = threading.local()

    @contextlib.contextmanager
    def preset(self, trace_id: int | None, span_id: int) -> Iterator[None]:
        self._preset.trace_id, self._preset.span_id = trace_id, span_id
        try:
            yield
        finally:
            self._preset.trace_id = self._preset.span_id = None

    def generate_span_id(self) -> int:
        span_id = getattr(self._preset, "span_id", None)
        return span_id if span_id else super().generate_span_id()

    def generate_trace_id(self) -> int:
        trace_id = getattr(self._preset, "trace_id", None)
        return trace_id if trace_id else super().generate_trace_id()


def new_trace_id() -> int:
    return random.getrandbits(128) or 1


def new_span_id() -> int:
    return random.getrandbits(64) or 1


def format_trace_id(trace_id: int) -> str:
    return f"{trace_id:032x}"


def format_span_id(span_id: int) -> str:
    return f"{span_id:016x}"


def capped_json(value: Any, limit: int, encoded: bytes | None = None) -> tuple[str, bool]:
    """JSON text of `value` cut to `limit` bytes (on a character boundary), and whether it was cut."""
    data = encoded if encoded is not None else orjson.dumps(value, default=str)
    if len(data) <= limit:
        return data.decode(), False
    return data[:limit].decode("utf-8", errors="ignore"), True


def traceparent(trace_id: int, span_id: int) -> str:
    return f"00-{trace_id:032x}-{span_id:016x}-01"


@contextlib.contextmanager
def use_traceparent(value: str | None) -> Iterator[None]:
    """Make `value` the current OTel context, so spans created by user code join the trace."""
    if not value:
        yield
        return
    ctx = TraceContextTextMapPropagator().extract({"traceparent": value})
    token = otel_context.attach(ctx)
    try:
        yield
    finally:
        otel_context.detach(token)


def _exception_event(exc: BaseException, timestamp: int) -> Event:
    """The event Span.record_exception would add (OTel semantic conventions)."""
    module, qualname = type(exc).__module__, type(exc).__qualname__
    return Event(
        "exception",
        {
            "exception.type": f"{module}.{qualname}" if module and module != "builtins" else qualname,
            "exception.message": str(exc),
            "exception.stacktrace": "".join(traceback.format_exception(exc)),
            "exception.escaped": "False",
        },
        timestamp,
    )


def _parent(trace_id: int, span_id: int) -> otel_context.Context:
    sc = SpanContext(trace_id, span_id, is_remote=False, trace_flags=_SAMPLED)
    return trace.set_span_in_context(trace.NonRecordingSpan(sc), otel_context.Context())


class _Pipeline:
    """Tracer + logger exporting under one workspace's identity."""

    def __init__(self, config: TelemetryConfig, workspace_id: str, ids: _PresetIdGenerator) -> None:
        self.resource = Resource.create({"service.name": config.service_name})
        self.scope = InstrumentationScope(_SCOPE, __version__)
        self.fast = config.fast_path
        self._ids = ids
        span_exporter, log_exporter = config.span_exporter, config.log_exporter
        if span_exporter is None or log_exporter is None:
            otlp_spans, otlp_logs = _otlp_exporters(config, workspace_id)
            span_exporter = span_exporter or otlp_spans
            log_exporter = log_exporter or otlp_logs
        self.tracer_provider = TracerProvider(
            resource=self.resource, id_generator=ids, sampler=ALWAYS_ON, shutdown_on_exit=False
        )
        self.logger_provider = LoggerProvider(resource=self.resource, shutdown_on_exit=False)
        self.span_processor: SpanProcessor
        self.log_processor: LogRecordProcessor
        if config.synchronous_export:
            self.span_processor = SimpleSpanProcessor(span_exporter)
            self.log_processor = SimpleLogRecordProcessor(log_exporter)
        else:
            batch = {
                "schedule_delay_millis": config.export_delay_ms,
                "max_queue_size": config.max_queue_size,
                "max_export_batch_size": config.max_export_batch_size,
                "export_timeout_millis": config.export_timeout_ms,
            }
            self.span_processor = BatchSpanProcessor(span_exporter, **batch)
            self.log_processor = BatchLogRecordProcessor(log_exporter, **batch)
        self.tracer_provider.add_span_processor(self.span_processor)
        self.logger_provider.add_log_record_processor(self.log_processor)
        self.tracer = self.tracer_provider.get_tracer(_SCOPE, __version__)
        self.logger = self.logger_provider.get_logger(_SCOPE, __version__)
        self._log_limits = LogRecordLimits()
        self.flush_requested = False
        self.flush_task: asyncio.Task[None] | None = None

    def emit_span(
        self,
        name: str,
        *,
        trace_id: int,
        span_id: int,
        parent_span_id: int | None,
        kind: SpanKind,
        attributes: dict[str, Any],
        start_ns: int,
        end_ns: int,
        error: str | None = None,
        exception: BaseException | None = None,
    ) -> None:
        """A finished span with a pre-allocated id and its recorded start time."""
        end_ns = max(end_ns, start_ns)
        if self.fast:
            # The span is complete when we create it, so build the SDK's ReadableSpan (what
            # processors and exporters consume) directly: no Tracer/_Span machinery, no
            # re-validation of attributes whose types we control. ~10x cheaper per span.
            parent = SpanContext(trace_id, parent_span_id, False, _SAMPLED) if parent_span_id else None
            events = (_exception_event(exception, end_ns),) if exception is not None else ()
            span = ReadableSpan(
                name, SpanContext(trace_id, span_id, False, _SAMPLED), parent, self.resource, attributes,
                events, (), kind, None, Status(StatusCode.ERROR, error) if error is not None else _UNSET,
                start_ns, end_ns, self.scope,
            )  # fmt: skip
            self.span_processor.on_end(span)
            return
        ctx = _parent(trace_id, parent_span_id) if parent_span_id else otel_context.Context()
        with self._ids.preset(None if parent_span_id else trace_id, span_id):
            sdk_span = self.tracer.start_span(
                name, context=ctx, kind=kind, attributes=attributes, start_time=start_ns
            )
        if exception is not None:
            sdk_span.record_exception(exception, timestamp=end_ns)
        if error is not None:
            sdk_span.set_status(Status(StatusCode.ERROR, error))
        sdk_span.end(end_time=end_ns)

    def emit_record(
        self,
        event: str,
        *,
        context: otel_context.Context,
        attributes: dict[str, Any],
        body: str,
        severity: SeverityNumber = SeverityNumber.INFO,
    ) -> None:
        """A lifecycle log record; `context` carries the trace/span id of what it announces."""
        attributes[c.EVENT_NAME] = event
        now = time.time_ns()
        if self.fast:
            record = LogRecord(
                timestamp=now, observed_timestamp=now, context=context, severity_text=severity.name,
                severity_number=severity, body=body, attributes=attributes, event_name=event,
            )  # fmt: skip
            # Same shape Logger.emit hands processors, minus re-validating our own attributes.
            self.log_processor.on_emit(ReadableLogRecord(record, self.resource, self.scope, self._log_limits))
            return
        self.logger.emit(
            timestamp=now, observed_timestamp=now, context=context, severity_number=severity,
            severity_text=severity.name, body=body, attributes=attributes, event_name=event,
        )  # fmt: skip

    def force_flush(self, timeout_ms: int = 10_000) -> bool:
        spans_ok = self.tracer_provider.force_flush(timeout_ms)
        logs_ok = self.logger_provider.force_flush(timeout_ms)
        return bool(spans_ok and logs_ok)

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()


def _otlp_exporters(config: TelemetryConfig, workspace_id: str) -> tuple[SpanExporter, LogRecordExporter]:
    headers = {k.lower(): v for k, v in config.headers.items()}
    headers["x-workspace-id"] = workspace_id
    if config.token:
        headers["authorization"] = f"Bearer {config.token}"
    timeout = config.export_timeout_ms / 1000
    if config.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        endpoint = config.endpoint or "127.0.0.1:4317"
        insecure = not endpoint.startswith("https://")
        target = endpoint.split("://", 1)[-1].rstrip("/")
        return (
            OTLPSpanExporter(endpoint=target, insecure=insecure, headers=headers, timeout=timeout),
            OTLPLogExporter(endpoint=target, insecure=insecure, headers=headers, timeout=timeout),
        )
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter

    base = (config.endpoint or "http://127.0.0.1:4318").rstrip("/")
    if "://" not in base:
        base = "http://" + base
    return (
        HttpSpanExporter(endpoint=f"{base}/v1/traces", headers=headers, timeout=timeout),
        HttpLogExporter(endpoint=f"{base}/v1/logs", headers=headers, timeout=timeout),
    )


class Telemetry:
    """Owns the per-workspace pipelines; hands out per-execution emitters."""

    def __init__(self, config: TelemetryConfig | None = None) -> None:
        self.config = config or TelemetryConfig()
        self._ids = _PresetIdGenerator()
        self._pipelines: dict[str, _Pipeline] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    def pipeline(self, workspace_id: str) -> _Pipeline:
        p = self._pipelines.get(workspace_id)
        if p is None:
            with self._lock:
                p = self._pipelines.get(workspace_id)
                if p is None:
                    p = self._pipelines[workspace_id] = _Pipeline(self.config, workspace_id, self._ids)
        return p

    def execution(self, **kwargs: Any) -> ExecutionTelemetry:
        """Emitter for one execution; see `ExecutionTelemetry` for the arguments."""
        if not self.enabled:
            return NullExecutionTelemetry(self, **kwargs)
        return ExecutionTelemetry(self, **kwargs)

    def request_flush(self, workspace_id: str) -> None:
        """Flush soon without blocking the loop; concurrent requests coalesce into one flush."""
        if not self.enabled:
            return
        p = self.pipeline(workspace_id)
        if p.flush_requested:
            return
        p.flush_requested = True
        if p.flush_task is None or p.flush_task.done():
            p.flush_task = asyncio.get_running_loop().create_task(self._flush_loop(p))

    async def _flush_loop(self, p: _Pipeline) -> None:
        while p.flush_requested:
            p.flush_requested = False
            await asyncio.to_thread(p.force_flush)

    def flush(self, timeout_ms: int = 10_000) -> bool:
        return all(p.force_flush(timeout_ms) for p in list(self._pipelines.values()))

    def shutdown(self) -> None:
        with self._lock:
            pipelines, self._pipelines = list(self._pipelines.values()), {}
        for p in pipelines:
            p.force_flush()
            p.shutdown()

    def emit_interrupted(
        self,
        *,
        workspace_id: str,
        trace_id: str | int,
        root_span_id: str | int,
        workflow_id: str,
        workflow_name: str,
        execution_number: int,
        start_time_ns: int,
        project_id: str | None = None,
        end_time_ns: int | None = None,
        flush: bool = True,
    ) -> None:
        """Close an execution a crash left running: its root span, ended as `failed`."""
        tid = int(trace_id, 16) if isinstance(trace_id, str) else trace_id
        sid = int(root_span_id, 16) if isinstance(root_span_id, str) else root_span_id
        p = self.pipeline(workspace_id)
        attrs = _root_attributes(workflow_id, workflow_name, tid, execution_number, project_id)
        attrs.update(_status_attributes("failed", INTERRUPTED_ERROR))
        attrs[c.ERROR_TYPE] = "interrupted"
        end = end_time_ns or time.time_ns()
        p.emit_span(
            f"RUN {workflow_name}", trace_id=tid, span_id=sid, parent_span_id=None,
            kind=SpanKind.SERVER, attributes=attrs, start_ns=start_time_ns, end_ns=end,
            error=INTERRUPTED_ERROR,
        )  # fmt: skip
        if flush:
            p.force_flush()


def _root_attributes(
    workflow_id: str, workflow_name: str, trace_id: int, number: int, project_id: str | None
) -> dict[str, Any]:
    execution_id = format_trace_id(trace_id)
    attrs: dict[str, Any] = {
        c.WORKFLOW_ID: workflow_id,
        c.WORKFLOW_NAME: workflow_name,
        c.WORKFLOW_EXECUTION_ID: execution_id,
        c.WORKFLOW_EXECUTION_NUMBER: number,
        c.CICD_PIPELINE_NAME: workflow_name,
        c.CICD_PIPELINE_RUN_ID: execution_id,
    }
    if project_id:
        attrs[c.WORKFLOW_PROJECT_ID] = project_id
    return attrs


def _status_attributes(status: str, error: str | None) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        c.WORKFLOW_STATUS: status,
        c.CICD_PIPELINE_RESULT: c.PIPELINE_RESULT_BY_STATUS[status],
    }
    if error:
        attrs[c.WORKFLOW_ERROR] = error
    return attrs


class ExecutionTelemetry:
    """Emits one execution's records and spans. Ids exist from construction (= queue time)."""

    def __init__(
        self,
        telemetry: Telemetry,
        *,
        workspace_id: str,
        workflow_id: str,
        workflow_name: str,
        execution_number: int,
        project_id: str | None = None,
    ) -> None:
        self._t = telemetry
        self.workspace_id = workspace_id
        self.trace_id = new_trace_id()
        self.root_span_id = new_span_id()
        self.execution_id = format_trace_id(self.trace_id)
        self._workflow_name = workflow_name
        self._root = _root_attributes(workflow_id, workflow_name, self.trace_id, execution_number, project_id)
        self._common = {c.WORKFLOW_ID: workflow_id, c.WORKFLOW_EXECUTION_ID: self.execution_id}
        self._limit = telemetry.config.max_value_bytes
        self._p: _Pipeline | None = None

    @property
    def _pipeline(self) -> _Pipeline:
        if self._p is None:
            self._p = self._t.pipeline(self.workspace_id)
        return self._p

    def traceparent(self, span_id: int) -> str | None:
        return traceparent(self.trace_id, span_id)

    def queued(self, inputs: dict[str, Any]) -> None:
        attrs = dict(self._root)
        attrs[c.WORKFLOW_INPUT], attrs[c.WORKFLOW_INPUT_TRUNCATED] = capped_json(inputs, self._limit)
        self._pipeline.emit_record(
            c.EVENT_EXECUTION_QUEUED, context=_parent(self.trace_id, self.root_span_id), attributes=attrs,
            body=f"Execution of '{self._workflow_name}' queued",
        )  # fmt: skip

    def started(self) -> None:
        self._pipeline.emit_record(
            c.EVENT_EXECUTION_STARTED, context=_parent(self.trace_id, self.root_span_id),
            attributes=dict(self._root), body=f"Execution of '{self._workflow_name}' started",
        )  # fmt: skip

    def _step_attrs(self, run: StepRun) -> dict[str, Any]:
        attrs = dict(self._common)
        attrs[c.STEP_ID] = run.step.id
        attrs[c.STEP_NAME] = run.step.display_name
        attrs[c.STEP_ORDER] = run.index + 1
        return attrs

    def step_started(self, run: StepRun) -> None:
        attrs = self._step_attrs(run)
        attrs[c.STEP_ATTEMPT] = 1
        self._pipeline.emit_record(
            c.EVENT_STEP_STARTED, context=_parent(self.trace_id, run.span_id), attributes=attrs,
            body=f"Step '{run.step.id}' started",
        )  # fmt: skip

    def step_retrying(self, run: StepRun, next_attempt: int, delay_seconds: float) -> None:
        attrs = self._step_attrs(run)
        attrs[c.STEP_ATTEMPT] = next_attempt
        attrs[c.STEP_RETRY_COUNT] = next_attempt - 1
        attrs[c.STEP_RETRY_DELAY] = delay_seconds
        last = run.attempts[-1] if run.attempts else None
        if last is not None and last.error:
            attrs[c.STEP_ERROR] = last.error
        self._pipeline.emit_record(
            c.EVENT_STEP_RETRYING, context=_parent(self.trace_id, run.span_id), attributes=attrs,
            body=f"Step '{run.step.id}' retrying (attempt {next_attempt})", severity=SeverityNumber.WARN,
        )  # fmt: skip

    def step_finished(self, run: StepRun) -> None:
        """The step span and its attempt spans (skipped/cancelled-before-start steps have none)."""
        p = self._pipeline
        for a in run.attempts:
            p.emit_span(
                f"attempt {a.number}", trace_id=self.trace_id, span_id=a.span_id, parent_span_id=run.span_id,
                kind=SpanKind.INTERNAL,
                attributes={c.STEP_ATTEMPT: a.number, c.STEP_ID: run.step.id, c.STEP_STATUS: a.status},
                start_ns=a.start_ns, end_ns=a.end_ns or run.ended_ns,
                error=a.error if a.status == "failed" else None, exception=a.exception,
            )  # fmt: skip
        attrs = self._step_attrs(run)
        status = run.status
        attrs[c.STEP_STATUS] = status
        attrs[c.STEP_RETRY_COUNT] = run.retry_count
        attrs[c.STEP_DEPENDS_ON] = tuple(run.step.depends_on)
        attrs[c.CICD_TASK_NAME] = run.step.display_name
        attrs[c.CICD_TASK_RUN_ID] = format_span_id(run.span_id)
        attrs[c.CICD_TASK_RUN_RESULT] = c.TASK_RESULT_BY_STEP_STATUS[status]
        if run.input is not None or run.input_json is not None:
            attrs[c.STEP_INPUT], attrs[c.STEP_INPUT_TRUNCATED] = capped_json(
                run.input, self._limit, run.input_json
            )
        if status == "completed":
            attrs[c.STEP_OUTPUT], attrs[c.STEP_OUTPUT_TRUNCATED] = capped_json(
                run.output, self._limit, run.output_json
            )
        if run.error:
            attrs[c.STEP_ERROR] = run.error
        if run.skip_reason:
            attrs[c.STEP_SKIP_REASON] = run.skip_reason
        failed = status == "failed"
        if failed:
            attrs[c.ERROR_TYPE] = type(run.exception).__name__ if run.exception else "StepFailed"
        end = run.ended_ns or time.time_ns()
        p.emit_span(
            run.step.display_name, trace_id=self.trace_id, span_id=run.span_id,
            parent_span_id=self.root_span_id, kind=SpanKind.INTERNAL, attributes=attrs,
            start_ns=run.started_ns or end, end_ns=end, error=run.error if failed else None,
            exception=run.exception if failed else None,
        )  # fmt: skip

    def finished(
        self,
        *,
        status: str,
        error: str | None,
        error_type: str | None,
        inputs: dict[str, Any],
        results: dict[str, Any],
        start_ns: int,
        end_ns: int,
    ) -> None:
        attrs = dict(self._root)
        attrs.update(_status_attributes(status, error))
        attrs[c.WORKFLOW_INPUT], attrs[c.WORKFLOW_INPUT_TRUNCATED] = capped_json(inputs, self._limit)
        attrs[c.WORKFLOW_RESULTS], attrs[c.WORKFLOW_RESULTS_TRUNCATED] = capped_json(results, self._limit)
        is_error = status in ("failed", "timeout")
        if is_error and error_type:
            attrs[c.ERROR_TYPE] = error_type
        self._pipeline.emit_span(
            f"RUN {self._workflow_name}", trace_id=self.trace_id, span_id=self.root_span_id,
            parent_span_id=None, kind=SpanKind.SERVER, attributes=attrs, start_ns=start_ns, end_ns=end_ns,
            error=error if is_error else None,
        )  # fmt: skip
        self._t.request_flush(self.workspace_id)


class NullExecutionTelemetry(ExecutionTelemetry):
    """Tracing off: same ids, nothing emitted."""

    def traceparent(self, span_id: int) -> str | None:
        return None

    def queued(self, inputs: dict[str, Any]) -> None:
        pass

    def started(self) -> None:
        pass

    def step_started(self, run: StepRun) -> None:
        pass

    def step_retrying(self, run: StepRun, next_attempt: int, delay_seconds: float) -> None:
        pass

    def step_finished(self, run: StepRun) -> None:
        pass

    def finished(self, **kwargs: Any) -> None:
        pass


__all__ = [
    "INTERRUPTED_ERROR",
    "ExecutionTelemetry",
    "NullExecutionTelemetry",
    "Telemetry",
    "TelemetryConfig",
    "capped_json",
    "format_span_id",
    "format_trace_id",
    "new_span_id",
    "new_trace_id",
    "traceparent",
    "use_traceparent",
]

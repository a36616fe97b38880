"""Every OpenTelemetry call the engine makes: providers, exporters, span and record emission.

What an execution emits (names, attributes, statuses per DESIGN.md) is decided in
`engine.execution_telemetry`, which builds plain dicts and calls `_Pipeline.emit_span`
/ `emit_record` here; no other module imports OpenTelemetry.

Ids are allocated up front: the execution id is the trace id, known when the
execution is queued, and step/attempt span ids exist before their spans, so
lifecycle records can carry the span id of what they announce and `traceparent`
can be handed to actions. OTLP has no in-progress spans, so each span is created
when its outcome is known, with its recorded start time and pre-allocated id.

Two emission paths produce the same telemetry (a test compares them):
- fast (default): finished spans are built as the SDK's `ReadableSpan` - the object
  span processors and exporters consume - and handed to our own Batch/Simple span
  processor; lifecycle records likewise go to our log record processor. This skips
  the SDK's `Tracer`/`_Span` machinery and its per-attribute re-validation (we only
  emit str/int/float/bool/str-tuple values), about 10x cheaper per span.
- sdk: `Tracer.start_span` with a preset `IdGenerator` for the pre-allocated ids,
  and `Logger.emit`. Slower; kept as a fallback (`TelemetryConfig.fast_path=False`).

A queued record can be built before it is emitted (`_Pipeline.build_record`): the server
stores its OTLP form (`encode_logs`, the exporters' own encoder) before the execution runs,
then emits it like any other; the collector drops the exported copy as a duplicate.

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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

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
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from flowscope import __version__

if TYPE_CHECKING:
    from flowscope.engine.execution_telemetry import ExecutionTelemetry
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

_SCOPE = "flowscope.engine"
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_UNSET = Status(StatusCode.UNSET)
_KINDS = {"server": SpanKind.SERVER, "internal": SpanKind.INTERNAL}
_SEVERITIES = {"info": SeverityNumber.INFO, "warn": SeverityNumber.WARN}
_EMPTY_CONTEXT = otel_context.Context()
FLUSH_DEBOUNCE_S = 0.02  # an ended execution is exported within ~20 ms (vs the batch delay)
BuiltRecord = ReadableLogRecord  # a record built before it is emitted (`_Pipeline.build_record`)


@dataclass(frozen=True)
class TelemetryConfig:
    endpoint: str | None = None  # base URL (http) or host:port (grpc); default: the local collector
    protocol: Literal["http", "grpc"] = "http"
    headers: Mapping[str, str] = field(default_factory=dict)
    token: str | None = None  # sent as `authorization: Bearer <token>`
    # Whether the OTLP exporters take a proxy from the environment (HTTP_PROXY, ..., and over
    # HTTP .netrc credentials). False when they export to this server's own receivers: a
    # proxy set for the host's outbound traffic, without a NO_PROXY naming this server's
    # address, would otherwise carry the engine's telemetry away from it.
    proxies_from_env: bool = True
    export_delay_ms: int = 100  # batch delay: live views lag well under a second
    max_value_bytes: int = 8192  # cap of JSON-valued attributes (inputs, outputs, results)
    enabled: bool = True  # False: no spans, no records (ids are still allocated)
    service_name: str = "flowscope-engine"
    # OTel's `service.instance.id` resource attribute: set on a node of a shared store (a
    # DuckLake), where it names the node whose engine runs an execution (api/cluster.py).
    instance_id: str | None = None
    max_queue_size: int = 65_536
    max_export_batch_size: int = 2_048
    export_timeout_ms: int = 10_000
    # Test/bench hooks: used instead of OTLP exporters (shared by every workspace).
    span_exporter: SpanExporter | None = None
    log_exporter: LogRecordExporter | None = None
    synchronous_export: bool = False  # Simple*Processor instead of Batch* (tests)
    fast_path: bool = True  # see the module docstring


def resource_attributes(config: TelemetryConfig) -> dict[str, str]:
    """The engine's resource: its service name, and its instance id when it has one."""
    attributes = {"service.name": config.service_name}
    if config.instance_id is not None:
        attributes["service.instance.id"] = config.instance_id
    return attributes


def new_trace_id() -> int:
    return random.getrandbits(128) or 1


def new_span_id() -> int:
    return random.getrandbits(64) or 1


def format_trace_id(trace_id: int) -> str:
    return f"{trace_id:032x}"


def format_span_id(span_id: int) -> str:
    return f"{span_id:016x}"


def traceparent(trace_id: int, span_id: int) -> str:
    return f"00-{trace_id:032x}-{span_id:016x}-01"


@dataclass(frozen=True, slots=True)
class RemoteParent:
    """A caller's span context (W3C `traceparent` + `tracestate`), linked from a new trace's root."""

    trace_id: int
    span_id: int
    trace_flags: int
    trace_state: str  # the `tracestate` header form; "" when none

    def span_context(self) -> SpanContext:
        state = TraceState.from_header([self.trace_state]) if self.trace_state else None
        return SpanContext(self.trace_id, self.span_id, True, TraceFlags(self.trace_flags), state)


def remote_parent(traceparents: Sequence[str], tracestates: Sequence[str] = ()) -> RemoteParent | None:
    """The caller's span context from its `traceparent` / `tracestate` header values, or None.

    W3C Trace Context 1 (Processing Model): a receiver that cannot parse `traceparent`
    restarts the trace and drops `tracestate`; it does not fail the request. The W3C test
    suite (test/test.py `test_traceparent_duplicated`) counts two `traceparent` headers as
    invalid. Several `tracestate` header fields combine (RFC 9110 5.3). Parsing and every other
    check (version ff, all-zero ids, version 00 with extra fields, lengths) is the OTel
    propagator's, so an execution trusts exactly what an instrumented service would."""
    if len(traceparents) != 1:
        return None
    carrier = {"traceparent": list(traceparents), "tracestate": list(tracestates) or None}
    ctx = trace.get_current_span(TraceContextTextMapPropagator().extract(carrier)).get_span_context()
    if not ctx.is_valid:
        return None
    return RemoteParent(ctx.trace_id, ctx.span_id, int(ctx.trace_flags), ctx.trace_state.to_header())


def capped_json(value: Any, limit: int, encoded: bytes | None = None) -> tuple[str, bool]:
    """JSON text of `value` cut to `limit` bytes (on a character boundary), and whether it was cut."""
    data = encoded if encoded is not None else orjson.dumps(value, default=str)
    if len(data) <= limit:
        return data.decode(), False
    return data[:limit].decode("utf-8", errors="ignore"), True


@contextlib.contextmanager
def use_traceparent(value: str | None) -> Iterator[None]:
    """Make `value` the current OTel context, so spans created by user code join the trace."""
    if not value:
        yield
        return
    token = otel_context.attach(TraceContextTextMapPropagator().extract({"traceparent": value}))
    try:
        yield
    finally:
        otel_context.detach(token)


class _PresetIdGenerator(RandomIdGenerator):
    """sdk path: hands ids chosen in advance (per thread) to the next span started."""

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
        return getattr(self._preset, "span_id", None) or super().generate_span_id()

    def generate_trace_id(self) -> int:
        return getattr(self._preset, "trace_id", None) or super().generate_trace_id()


class _Record(LogRecord):
    """fast path: an API LogRecord built from ids we already have (no context lookups), with a
    cheap `__copy__` (the batch processor copies every record; generic copy is slow)."""

    def __init__(self, now: int, trace_id: int, span_id: int, severity: SeverityNumber, body: str,
                 attributes: dict[str, Any], event_name: str) -> None:  # fmt: skip
        self.timestamp = self.observed_timestamp = now
        self.context = _EMPTY_CONTEXT
        self.trace_id, self.span_id, self.trace_flags = trace_id, span_id, _SAMPLED
        self.severity_text, self.severity_number = severity.name, severity
        self.body, self.attributes, self.event_name, self.exception = body, attributes, event_name, None

    def __copy__(self) -> _Record:
        dup = _Record.__new__(_Record)
        dup.__dict__.update(self.__dict__)
        return dup


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


def _context(trace_id: int, span_id: int) -> otel_context.Context:
    sc = SpanContext(trace_id, span_id, is_remote=False, trace_flags=_SAMPLED)
    return trace.set_span_in_context(trace.NonRecordingSpan(sc), otel_context.Context())


class _Pipeline:
    """Providers, processors and exporters of one workspace."""

    def __init__(self, config: TelemetryConfig, workspace_id: str, ids: _PresetIdGenerator) -> None:
        self.resource = Resource.create(resource_attributes(config))
        self.scope = InstrumentationScope(_SCOPE, __version__)
        self.fast = config.fast_path
        self._ids = ids
        span_exporter, log_exporter = config.span_exporter, config.log_exporter
        if span_exporter is None or log_exporter is None:
            otlp_spans, otlp_logs = _otlp_exporters(config, workspace_id)
            span_exporter, log_exporter = span_exporter or otlp_spans, log_exporter or otlp_logs
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
        self.tracer_provider = TracerProvider(
            resource=self.resource, id_generator=ids, sampler=ALWAYS_ON, shutdown_on_exit=False
        )
        self.tracer_provider.add_span_processor(self.span_processor)
        self.logger_provider = LoggerProvider(resource=self.resource, shutdown_on_exit=False)
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
        kind: Literal["server", "internal"],
        attributes: dict[str, Any],
        start_ns: int,
        end_ns: int,
        error: str | None = None,
        exception: BaseException | None = None,
        links: Sequence[tuple[RemoteParent, dict[str, Any]]] = (),
    ) -> None:
        """A finished span with a pre-allocated id; `error` sets status ERROR with that message;
        `links`: span links to other traces' spans, each with its attributes."""
        end_ns = max(end_ns, start_ns)
        span_links = tuple(Link(target.span_context(), attrs) for target, attrs in links)
        if self.fast:
            parent = SpanContext(trace_id, parent_span_id, False, _SAMPLED) if parent_span_id else None
            events = (_exception_event(exception, end_ns),) if exception is not None else ()
            status = Status(StatusCode.ERROR, error) if error is not None else _UNSET
            span = ReadableSpan(
                name, SpanContext(trace_id, span_id, False, _SAMPLED), parent, self.resource, attributes,
                events, span_links, _KINDS[kind], None, status, start_ns, end_ns, self.scope,
            )  # fmt: skip
            self.span_processor.on_end(span)
            return
        ctx = _context(trace_id, parent_span_id) if parent_span_id else otel_context.Context()
        with self._ids.preset(None if parent_span_id else trace_id, span_id):
            sdk_span = self.tracer.start_span(
                name, context=ctx, kind=_KINDS[kind], attributes=attributes, links=span_links,
                start_time=start_ns,
            )  # fmt: skip
        if exception is not None:
            sdk_span.record_exception(exception, timestamp=end_ns)
        if error is not None:
            sdk_span.set_status(Status(StatusCode.ERROR, error))
        sdk_span.end(end_time=end_ns)

    def emit_record(
        self,
        event: str,
        *,
        trace_id: int,
        span_id: int,
        attributes: dict[str, Any],
        body: str,
        severity: Literal["info", "warn"] = "info",
    ) -> None:
        """A lifecycle log record (event name as field and `event.name` attribute) about a span."""
        attributes["event.name"] = event
        level = _SEVERITIES[severity]
        now = time.time_ns()
        if self.fast:
            record = _Record(now, trace_id, span_id, level, body, attributes, event)
            self.log_processor.on_emit(ReadableLogRecord(record, self.resource, self.scope, self._log_limits))
            return
        self.logger.emit(
            timestamp=now, observed_timestamp=now, context=_context(trace_id, span_id), severity_number=level,
            severity_text=level.name, body=body, attributes=attributes, event_name=event,
        )  # fmt: skip

    def build_record(
        self, event: str, *, trace_id: int, span_id: int, attributes: dict[str, Any], body: str, time_ns: int
    ) -> BuiltRecord:
        """The record `emit_record` would emit (severity info, at `time_ns`), built but not
        emitted yet: `encode_logs` gives its OTLP form before `emit_built` exports it."""
        attributes["event.name"] = event
        record = _Record(time_ns, trace_id, span_id, SeverityNumber.INFO, body, attributes, event)
        return ReadableLogRecord(record, self.resource, self.scope, self._log_limits)

    def emit_built(self, record: BuiltRecord) -> None:
        """Export a record from `build_record` (the sdk path through its Logger, from the same
        API record: the OTLP bytes are the same either way)."""
        if self.fast:
            self.log_processor.on_emit(record)
        else:
            self.logger.emit(record.log_record)

    def force_flush(self, timeout_ms: int = 10_000) -> bool:
        spans_ok = self.tracer_provider.force_flush(timeout_ms)
        logs_ok = self.logger_provider.force_flush(timeout_ms)
        return bool(spans_ok and logs_ok)

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()


def encode_logs(records: list[BuiltRecord]) -> ExportLogsServiceRequest:
    """The OTLP export request the engine's exporters (HTTP and gRPC) send for `records`."""
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as encode

    return encode(records)


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
        options = None if config.proxies_from_env else (("grpc.enable_http_proxy", 0),)
        return (
            OTLPSpanExporter(
                endpoint=target, insecure=insecure, headers=headers, timeout=timeout, channel_options=options
            ),
            OTLPLogExporter(
                endpoint=target, insecure=insecure, headers=headers, timeout=timeout, channel_options=options
            ),
        )
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter

    base = (config.endpoint or "http://127.0.0.1:4318").rstrip("/")
    if "://" not in base:
        base = "http://" + base
    return (
        HttpSpanExporter(
            endpoint=f"{base}/v1/traces", headers=headers, timeout=timeout, session=_session(config)
        ),
        HttpLogExporter(
            endpoint=f"{base}/v1/logs", headers=headers, timeout=timeout, session=_session(config)
        ),
    )


def _session(config: TelemetryConfig) -> Any:
    """The HTTP exporter's requests session (None: the exporter's own). Without the
    environment (`trust_env`) it reads no proxy variables and no .netrc, whose lookups also
    cost each export two file checks."""
    if config.proxies_from_env:
        return None
    import requests

    session = requests.Session()
    session.trust_env = False
    return session


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
        """Emitter for one execution (see `ExecutionTelemetry`); a no-op one when disabled."""
        from flowscope.engine.execution_telemetry import ExecutionTelemetry, NullExecutionTelemetry

        return (ExecutionTelemetry if self.enabled else NullExecutionTelemetry)(self, **kwargs)

    def request_flush(self, workspace_id: str) -> None:
        """Export soon (an execution ended) without blocking the loop.

        Requests within `FLUSH_DEBOUNCE_S` coalesce into one flush in a worker thread, so
        executions ending in bulk do not keep a flush thread fighting the loop for the GIL.
        """
        p = self.pipeline(workspace_id)
        if p.flush_requested:
            return
        p.flush_requested = True
        if p.flush_task is None or p.flush_task.done():
            p.flush_task = asyncio.get_running_loop().create_task(self._flush_loop(p))

    async def _flush_loop(self, p: _Pipeline) -> None:
        while p.flush_requested:
            await asyncio.sleep(FLUSH_DEBOUNCE_S)
            p.flush_requested = False
            await asyncio.to_thread(p.force_flush)

    def flush(self, timeout_ms: int = 10_000) -> bool:
        """Export everything queued, in every workspace (blocking)."""
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
        """Close an execution a crash left running: its root span, ended `failed` ("interrupted")."""
        from flowscope.engine.execution_telemetry import interrupted_span

        p = self.pipeline(workspace_id)
        interrupted_span(
            p, trace_id=int(trace_id, 16) if isinstance(trace_id, str) else trace_id,
            root_span_id=int(root_span_id, 16) if isinstance(root_span_id, str) else root_span_id,
            workflow_id=workflow_id, workflow_name=workflow_name, execution_number=execution_number,
            project_id=project_id, start_ns=start_time_ns, end_ns=end_time_ns or time.time_ns(),
        )  # fmt: skip
        if flush:
            p.force_flush()

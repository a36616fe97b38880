"""Test helpers: a plain OTel SDK emitter following the workflow conventions, and a feed client.

`Tracer` exports through the SDK's standard OTLP/HTTP exporters with batch processors
whose timers never fire on their own: each `flush_spans()` / `flush_logs()` is one
export request, so tests choose exactly what is committed together and in which order.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from flowscope import conventions as c

_NEVER = 3_600_000  # ms: batch timers never fire; tests flush explicitly


class Tracer:
    """One service's OTel SDK pipeline (spans + logs) into a Flowscope server."""

    def __init__(
        self, otlp_http: str, headers: dict[str, str] | None = None, service: str = "tests",
        exporters: tuple[SpanExporter, LogRecordExporter] | None = None,
    ) -> None:  # fmt: skip
        resource = Resource.create({"service.name": service})
        self.tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        self.logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        h = headers or {}
        span_exporter, log_exporter = exporters or (
            OTLPSpanExporter(endpoint=f"{otlp_http}/v1/traces", headers=h),
            OTLPLogExporter(endpoint=f"{otlp_http}/v1/logs", headers=h),
        )
        self.tracer_provider.add_span_processor(
            BatchSpanProcessor(
                span_exporter, schedule_delay_millis=_NEVER, max_export_batch_size=4096, max_queue_size=65536
            )
        )
        self.logger_provider.add_log_record_processor(
            BatchLogRecordProcessor(
                log_exporter, schedule_delay_millis=_NEVER, max_export_batch_size=4096, max_queue_size=65536
            )
        )
        self.tracer = self.tracer_provider.get_tracer("tests.ws")
        self.logger = self.logger_provider.get_logger("tests.ws")

    def flush_spans(self) -> None:
        assert self.tracer_provider.force_flush(30_000)

    def flush_logs(self) -> None:
        assert self.logger_provider.force_flush(30_000)

    def flush(self) -> None:
        self.flush_logs()
        self.flush_spans()

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()

    def record(self, span: Span, event: str, attributes: dict[str, Any], body: str = "") -> None:
        self.logger.emit(
            timestamp=time.time_ns(),
            context=trace.set_span_in_context(span),
            body=body or event,
            attributes={c.EVENT_NAME: event, **attributes},
            event_name=event,
        )


@dataclass
class Execution:
    """One workflow execution traced by hand, the way DESIGN.md describes."""

    tracer: Tracer
    workflow_id: str
    name: str = "demo"
    number: int = 1
    records: bool = True  # emit lifecycle log records
    autoflush: bool = False  # export every record and span at once (one request each), in order
    root: Span = field(init=False)
    steps: dict[str, Span] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = self.tracer.tracer.start_span(
            f"RUN {self.name}",
            kind=SpanKind.SERVER,
            attributes={
                c.WORKFLOW_ID: self.workflow_id, c.WORKFLOW_NAME: self.name,
                c.WORKFLOW_EXECUTION_NUMBER: self.number,
            },
        )  # fmt: skip
        self.attrs = {c.WORKFLOW_ID: self.workflow_id, c.WORKFLOW_NAME: self.name}
        if self.records:
            self.tracer.record(
                self.root, c.EVENT_EXECUTION_STARTED, {**self.attrs, c.WORKFLOW_EXECUTION_NUMBER: self.number}
            )
        self._flush()

    def _flush(self) -> None:
        if self.autoflush:
            self.tracer.flush()

    @property
    def execution_id(self) -> str:
        return f"{self.root.get_span_context().trace_id:032x}"

    def start_step(self, step_id: str, order: int = 1) -> Span:
        span = self.tracer.tracer.start_span(
            step_id,
            context=trace.set_span_in_context(self.root),
            kind=SpanKind.INTERNAL,
            attributes={
                **self.attrs,
                c.STEP_ID: step_id,
                c.STEP_NAME: f"{step_id} step",
                c.STEP_ORDER: order,
            },
        )
        self.steps[step_id] = span
        if self.records:
            self.tracer.record(
                span, c.EVENT_STEP_STARTED,
                {**self.attrs, c.STEP_ID: step_id, c.STEP_NAME: f"{step_id} step", c.STEP_ATTEMPT: 1},
            )  # fmt: skip
        self._flush()
        return span

    def attempt(self, step_id: str, n: int, error: str | None = None, retry: bool = True) -> None:
        """Attempt `n` of a step; a failed one announces the retry unless `retry` is False."""
        span = self.tracer.tracer.start_span(
            f"attempt {n}",
            context=trace.set_span_in_context(self.steps[step_id]),
            attributes={c.STEP_ATTEMPT: n, c.STEP_ID: step_id},
        )
        if error:
            span.set_status(Status(StatusCode.ERROR, error))
        span.end()
        if error and retry and self.records:
            self.tracer.record(
                self.steps[step_id], c.EVENT_STEP_RETRYING,
                {**self.attrs, c.STEP_ID: step_id, c.STEP_NAME: f"{step_id} step", c.STEP_ATTEMPT: n + 1,
                 c.STEP_RETRY_COUNT: n, c.STEP_ERROR: error, c.STEP_RETRY_DELAY: 0.01},
            )  # fmt: skip
        self._flush()

    def end_step(
        self, step_id: str, status: str = "completed", output: Any = None, error: str | None = None,
        retries: int = 0, skip_reason: str | None = None,
    ) -> None:  # fmt: skip
        never_started = step_id not in self.steps
        now = time.time_ns()
        span = self.steps.get(step_id) or self.tracer.tracer.start_span(
            step_id, context=trace.set_span_in_context(self.root), start_time=now,
            attributes={**self.attrs, c.STEP_ID: step_id, c.STEP_NAME: f"{step_id} step"},
        )  # fmt: skip
        span.set_attributes({
            c.STEP_STATUS: status, c.STEP_RETRY_COUNT: retries,
            c.CICD_TASK_RUN_RESULT: c.TASK_RESULT_BY_STEP_STATUS[status],
        })  # fmt: skip
        if output is not None:
            span.set_attribute(c.STEP_OUTPUT, json.dumps(output))
        if skip_reason:
            span.set_attribute(c.STEP_SKIP_REASON, skip_reason)
        if error:
            span.set_attribute(c.STEP_ERROR, error)
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=now if never_started else None)  # like the engine: zero length if never run
        self._flush()

    def skip_step(self, step_id: str, reason: str = "condition false") -> None:
        self.end_step(step_id, "skipped", skip_reason=reason)

    def end(self, status: str = "completed", error: str | None = None) -> None:
        self.root.set_attributes({
            c.WORKFLOW_STATUS: status, c.CICD_PIPELINE_RESULT: c.PIPELINE_RESULT_BY_STATUS[status],
        })  # fmt: skip
        if error:
            self.root.set_attribute(c.WORKFLOW_ERROR, error)
            self.root.set_status(Status(StatusCode.ERROR, error))
        self.root.end()
        self._flush()


def new_workflow_id() -> str:
    return "wf-" + uuid.uuid4().hex[:12]


def ws_url(api: str, path: str, **query: str) -> str:
    base = api.replace("http://", "ws://", 1) + path
    if query:
        base += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return base


class Feed:
    """A real WebSocket client on a feed; `events()` collects until a predicate holds."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.received: list[dict[str, Any]] = []
        self.closed: ConnectionClosed | None = None

    async def next(self, timeout: float = 10.0) -> dict[str, Any]:
        message = orjson.loads(await asyncio.wait_for(self.conn.recv(), timeout))
        self.received.append(message)
        return message  # type: ignore[no-any-return]

    async def until(self, event: str, timeout: float = 10.0, count: int = 1) -> list[dict[str, Any]]:
        """Messages up to and including the `count`-th `event`."""
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        seen = 0
        while seen < count:
            message = await self.next(max(0.01, deadline - time.monotonic()))
            out.append(message)
            seen += message["event"] == event
        return out

    async def quiet(self, seconds: float) -> list[dict[str, Any]]:
        """Whatever arrives within `seconds` (to assert that nothing more comes)."""
        out = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                out.append(await self.next(left))
            except TimeoutError:
                break
        return out

    async def close_code(self, timeout: float = 10.0) -> tuple[int | None, str]:
        """Read until the server closes; the close code and reason."""
        try:
            while True:
                await asyncio.wait_for(self.conn.recv(), timeout)
        except ConnectionClosed as exc:
            rcvd = exc.rcvd
            return (rcvd.code, rcvd.reason) if rcvd else (None, "")


@contextmanager
def tracer_for(otlp_http: str, headers: dict[str, str] | None = None) -> Iterator[Tracer]:
    t = Tracer(otlp_http, headers)
    try:
        yield t
    finally:
        t.shutdown()


def open_feed(url: str, headers: dict[str, str] | None = None, **kw: Any) -> Any:
    return connect(url, additional_headers=headers or {}, open_timeout=10, **kw)


def names(messages: list[dict[str, Any]]) -> list[str]:
    """`event` or `event:step_id` of each message."""
    out = []
    for m in messages:
        step = m["data"].get("step_id")
        out.append(f"{m['event']}:{step}" if step and m["event"].startswith("step_") else m["event"])
    return out

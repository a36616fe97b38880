"""A plain OpenTelemetry SDK program (no Flowscope code) that traces "workflows" the way
any tracer following the conventions would. Run as a script; prints the trace ids.

    python foreign_tracer.py OTLP_HTTP_URL WORKSPACE_ID
"""

from __future__ import annotations

import json
import sys
import time

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

MS = 1_000_000


def main(endpoint: str, workspace_id: str) -> None:
    headers = {"x-workspace-id": workspace_id}
    resource = Resource.create({"service.name": "ci-runner"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(f"{endpoint}/v1/traces", headers=headers))
    )
    tracer = provider.get_tracer("ci.runner")
    logs = LoggerProvider(resource=resource)
    logs.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(f"{endpoint}/v1/logs", headers=headers))
    )
    logger = logs.get_logger("ci.runner")
    t0 = time.time_ns() - 60_000 * MS
    out = {}

    # 1. OTel CI/CD semantic conventions only: pipeline + tasks, no workflow.* attributes.
    root = tracer.start_span(
        "RUN nightly-build", kind=SpanKind.SERVER, start_time=t0,
        attributes={"cicd.pipeline.name": "nightly-build", "cicd.pipeline.run.id": "run-77",
                    "cicd.pipeline.result": "failure"},
    )  # fmt: skip
    ctx = trace.set_span_in_context(root)
    tasks = [("checkout", "success", 0, 100), ("build", "failure", 150, 400), ("deploy", "skip", 400, 400)]
    for name, result, start, end in tasks:
        span = tracer.start_span(
            name, context=ctx, start_time=t0 + start * MS,
            attributes={"cicd.pipeline.task.name": name, "cicd.pipeline.task.run.result": result},
        )  # fmt: skip
        if result == "failure":
            span.set_status(Status(StatusCode.ERROR, "compiler exited with 2"))
        span.end(end_time=t0 + end * MS)
    root.set_status(Status(StatusCode.ERROR, "build failed"))
    root.end(end_time=t0 + 450 * MS)
    out["cicd"] = format(root.get_span_context().trace_id, "032x")

    # 2. The workflow.* conventions: order, input/output (one large), retries, attempts.
    t1 = t0 + 1_000 * MS
    root = tracer.start_span(
        "RUN etl", kind=SpanKind.SERVER, start_time=t1,
        attributes={"workflow.id": "etl-foreign", "workflow.name": "etl", "workflow.status": "completed",
                    "workflow.execution.number": 5, "workflow.input": json.dumps({"day": "2024-01-15"}),
                    "workflow.results": json.dumps({"rows": 3})},
    )  # fmt: skip
    ctx = trace.set_span_in_context(root)
    big = json.dumps({"rows": [{"id": i, "payload": "x" * 300} for i in range(50)]})
    steps = [("load", 2, 300, 500, 0, big), ("extract", 1, 0, 250, 1, json.dumps({"rows": 3}))]
    for step_id, order, start, end, retries, output in steps:  # emitted out of order on purpose
        span = tracer.start_span(
            step_id.title(), context=ctx, start_time=t1 + start * MS,
            attributes={"workflow.id": "etl-foreign", "workflow.step.id": step_id,
                        "workflow.step.order": order, "workflow.step.status": "completed",
                        "workflow.step.retry_count": retries,
                        "workflow.step.input": json.dumps({"source": "s3://bucket"}),
                        "workflow.step.output": output},
        )  # fmt: skip
        span.end(end_time=t1 + end * MS)
    root.end(end_time=t1 + 520 * MS)
    out["workflow"] = format(root.get_span_context().trace_id, "032x")

    # 3. Lifecycle records only: one execution queued (pending), one started (running).
    queued, started = "workflow.execution.queued", "workflow.execution.started"
    for key, events in (("pending", [queued]), ("running", [queued, started])):
        span = tracer.start_span("RUN etl", kind=SpanKind.SERVER)  # never ended: only its context is used
        context = trace.set_span_in_context(span)
        for event in events:
            logger.emit(
                timestamp=time.time_ns(), context=context, severity_number=SeverityNumber.INFO,
                body=event, event_name=event,
                attributes={"event.name": event, "workflow.id": "etl-foreign", "workflow.name": "etl"},
            )  # fmt: skip
        out[key] = format(span.get_span_context().trace_id, "032x")
    provider.shutdown()
    logs.shutdown()
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

"""A program instrumented with nothing but the OpenTelemetry SDK (no Flowscope code).

Usage: plain_sdk_program.py workflow|cicd WORKFLOW_ID. Exporter endpoint and service name
come from the standard OTEL_* environment variables. It sends spans only (no lifecycle
records), so the feed must synthesize the `*_started` events.

- `workflow`: the Flowscope conventions (`workflow.*` attributes).
- `cicd`: the OTel CI/CD semantic conventions alone (`cicd.pipeline.*`); the pipeline
  name is the workflow id.
"""

from __future__ import annotations

import sys
import time

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode


def main(mode: str, workflow_id: str) -> None:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    tracer = provider.get_tracer("plain-program")

    def root_attrs() -> dict[str, str]:
        if mode == "cicd":
            return {"cicd.pipeline.name": workflow_id, "cicd.pipeline.result": "success"}
        return {"workflow.id": workflow_id, "workflow.name": "plain", "workflow.status": "completed"}

    def step_attrs(step: str, result: str) -> dict[str, str]:
        if mode == "cicd":
            return {"cicd.pipeline.task.name": step, "cicd.pipeline.task.run.result": result}
        status = {"success": "completed", "failure": "failed"}[result]
        return {"workflow.id": workflow_id, "workflow.step.id": step, "workflow.step.status": status}

    with tracer.start_as_current_span(f"RUN {workflow_id}", kind=SpanKind.SERVER, attributes=root_attrs()):
        with tracer.start_as_current_span("build", attributes=step_attrs("build", "success")):
            time.sleep(0.01)
        with tracer.start_as_current_span(
            "test", attributes=step_attrs("test", "failure"), record_exception=False
        ) as span:
            span.set_status(Status(StatusCode.ERROR, "2 tests failed"))
    provider.shutdown()  # flushes


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
    trace.get_tracer_provider()

"""Many foreign executions at once: root spans that follow only the OTel CI/CD conventions
(`cicd.pipeline.*`), sent as OTLP/HTTP protobuf in large requests."""

from __future__ import annotations

import os
import time

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

SERVER_KIND = 2
DAY_NS = 86_400 * 10**9


def send_pipeline_runs(otlp_http: str, workspace_id: str, pipeline: str, count: int, days: int = 10) -> None:
    """`count` finished runs of `pipeline` spread over the last `days` days, 1 in 10 failed."""
    now = time.time_ns()
    with httpx.Client(timeout=120) as http:
        for first in range(0, count, 20_000):
            request = ExportTraceServiceRequest()
            rs = request.resource_spans.add()
            rs.resource.attributes.add(key="service.name", value=AnyValue(string_value="bulk-ci"))
            ss = rs.scope_spans.add()
            ss.scope.name = "bulk"
            for i in range(first, min(first + 20_000, count)):
                span = ss.spans.add()
                span.trace_id = os.urandom(16)
                span.span_id = os.urandom(8)
                span.name = f"RUN {pipeline}"
                span.kind = SERVER_KIND
                span.start_time_unix_nano = now - (count - i) * (days * DAY_NS // count)
                span.end_time_unix_nano = span.start_time_unix_nano + (1 + i % 7) * 10**9
                attrs = span.attributes
                attrs.add(key="cicd.pipeline.name", value=AnyValue(string_value=pipeline))
                attrs.add(key="cicd.pipeline.run.id", value=AnyValue(string_value=f"run-{i}"))
                result = "failure" if i % 10 == 0 else "success"
                attrs.add(key="cicd.pipeline.result", value=AnyValue(string_value=result))
            response = http.post(
                f"{otlp_http}/v1/traces",
                content=request.SerializeToString(),
                headers={"content-type": "application/x-protobuf", "x-workspace-id": workspace_id},
            )
            assert response.status_code == 200, response.text

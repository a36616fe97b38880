"""The recorded Airflow export requests (tests/emitters/fixtures/airflow/README.md), read back."""

from __future__ import annotations

from pathlib import Path

from flowscope.storage.anyvalue import attributes_to_dict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from flowscope.emitters import ForeignSpan

FIXTURES = Path(__file__).parent / "fixtures" / "airflow"
# 3.2 and 3.3 send the same spans (dag_run.*, task_run.*, worker.*); 3.1 others.
CURRENT = ("3.3.2", "3.2.2")
V31 = "3.1.8"
VERSIONS = (*CURRENT, V31)

# What the recorded DAGs did (fixtures/airflow/flowscope_demo.py): each version's recording
# holds one run of each DAG.
DEMO = "flowscope_demo"
OK = "flowscope_ok"


def request_bodies(version: str) -> list[bytes]:
    """The OTLP/HTTP request bodies (protobuf) Airflow sent, in the order they arrived."""
    return [path.read_bytes() for path in sorted((FIXTURES / version).glob("*.pb"))]


def spans(version: str) -> list[ForeignSpan]:
    """Every span of the recording, in arrival order, as the recognizers see it."""
    return [span for body in request_bodies(version) for span in spans_of(body)]


def spans_of(body: bytes) -> list[ForeignSpan]:
    """The spans of one export request, as the recognizers see them."""
    found: list[ForeignSpan] = []
    request = ExportTraceServiceRequest.FromString(body)
    for resource_spans in request.resource_spans:
        resource = attributes_to_dict(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                found.append(
                    ForeignSpan(
                        name=span.name,
                        kind=span.kind,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        status_code=span.status.code,
                        status_message=span.status.message,
                        attributes=attributes_to_dict(span.attributes),
                        events=tuple(
                            (e.name, e.time_unix_nano, attributes_to_dict(e.attributes)) for e in span.events
                        ),
                        resource=resource,
                        scope_name=scope_spans.scope.name,
                    )
                )
    return found


def run_spans(version: str) -> dict[str, ForeignSpan]:
    """dag_id -> the recording's run span of that DAG: the trace roots (3.2/3.3 name the DAG in
    `airflow.dag_id`, 3.1 in `airflow.dag_run.dag_id`)."""
    roots = [s for s in spans(version) if not s.parent_span_id]
    return {s.attributes.get("airflow.dag_id") or s.attributes["airflow.dag_run.dag_id"]: s for s in roots}

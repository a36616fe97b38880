"""Real Prefect 3 flows, traced by Prefect's own run telemetry into the OTel SDK (no Flowscope code).

Run by tests/emitters/test_prefect.py with the Python of the Prefect virtualenv (Prefect's
requirements conflict with Flowscope's pins, see tests/emitters/prefect-requirements.txt), in
local ephemeral mode: no PREFECT_API_URL, so Prefect starts its temporary API server itself.
Spans go to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT through the SDK's OTLP/HTTP exporter.

Protocol, one JSON object a line on stdout (Prefect logs to stderr):
  {"flow_id": ..., "subflow_id": ...}  once the flows are registered (their ids are the workflow
                                       and subflow step ids); then it waits for a line on stdin
  {"runs": [{"flow_run_id": ..., "state": ...}, ...]}  after both runs, all spans exported
"""

from __future__ import annotations

import json
import sys
import threading

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

# Prefect's RunTelemetry takes the global TracerProvider's tracer "prefect"
# (prefect/telemetry/run_telemetry.py): install it before any run starts.
provider = TracerProvider(resource=Resource.create({"service.name": "prefect-etl"}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(provider)

from prefect import flow, task  # noqa: E402
from prefect.client.orchestration import get_client  # noqa: E402
from prefect.runtime import task_run  # noqa: E402

PARALLEL = 3
# Each parallel task run waits until all of them run: they can only finish together, so their
# spans overlap (and a serial task runner would fail them after the timeout).
together = threading.Barrier(PARALLEL)


@task
def extract(part: int) -> int:
    together.wait(timeout=30)
    return part


@task
def double(x: int) -> int:
    return 2 * x


@task(retries=2)
def flaky(total: int) -> int:
    if task_run.run_count == 1:  # the first try of each run fails, the retry succeeds
        raise RuntimeError("transient glitch")
    return total


@task
def load(total: int, fail: bool) -> int:
    if fail:
        raise ValueError(f"disk full writing {total} rows")
    return total


@flow
def summarize(total: int) -> int:
    return double(total)


@flow(name="nightly-etl")
def etl(n: int = PARALLEL, fail: bool = False) -> int:
    futures = [extract.submit(i) for i in range(n)]  # the default ThreadPoolTaskRunner: in parallel
    total = flaky(sum(f.result() for f in futures))
    summarize(total)
    return load(total, fail)


def emit(message: dict[str, object]) -> None:
    print(json.dumps(message), flush=True)


def main() -> None:
    with get_client(sync_client=True) as client:  # starts the ephemeral API server
        # create_flow upserts by name: the ids the runs' prefect.flow.id labels will carry.
        emit({"flow_id": str(client.create_flow(etl)), "subflow_id": str(client.create_flow(summarize))})
    sys.stdin.readline()
    runs = []
    for fail in (False, True):
        state = etl(fail=fail, return_state=True)
        runs.append({"flow_run_id": str(state.state_details.flow_run_id), "state": state.type.value})
    assert provider.force_flush(30_000)
    emit({"runs": runs})
    provider.shutdown()


if __name__ == "__main__":
    main()

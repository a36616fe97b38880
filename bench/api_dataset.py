"""Synthetic workflow telemetry for bench/api_queries.py, shaped like the engine's.

Each execution is one trace: a root SERVER span `RUN {workflow}` and 9 INTERNAL step
spans with the attributes engine/telemetry.py sets (ids, order, status, retry count,
depends_on, JSON input/output, the cicd.* equivalents), plus its `queued` and `started`
lifecycle log records. Executions spread over the last 30 days over 100 workflows;
one hot workflow holds 10% of them. Most finish completed; some fail, are cancelled
or time out; the newest few are still running or pending (records only, no root span).

Batches are built in worker processes from per-slot templates (CopyFrom + a few field
writes), serialized, and stored through the collector's real `Writer` (the bytes sent
are what is stored), so the database holds exactly what ingest would.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from bench.common import _kv

SERVICE = "bench-engine"  # not the engine's own name: serve's startup leaves these open executions alone
WORKFLOWS = 100
STEPS = 9
SPANS_PER_EXECUTION = 1 + STEPS
HOT_SHARE = 0.10
DAYS = 30
EXECUTIONS_PER_BATCH = 50
S = 1_000_000_000
# Step dependencies: a chain with one parallel pair (3, 4 after 2; 5 after both).
DEPENDS = {1: [], 2: [1], 3: [2], 4: [2], 5: [3, 4], 6: [5], 7: [6], 8: [7], 9: [8]}


def workflow_id(k: int) -> str:
    return f"wf_bench{k:03d}"


def workflow_name(k: int) -> str:
    return "hot-pipeline" if k == 0 else f"pipeline-{k:03d}"


def definition(k: int) -> dict[str, object]:
    """The catalog definition matching the generated spans (delay steps)."""
    return {
        "name": workflow_name(k),
        "steps": [
            {
                "id": f"step_{i}", "name": f"Step {i}", "depends_on": [f"step_{d}" for d in DEPENDS[i]],
                "action": {"type": "delay", "params": {"seconds": 0.01}},
            }
            for i in range(1, STEPS + 1)
        ],
    }  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """Which workflow, number, status and start time execution `i` of `total` gets."""

    total: int
    seed: int
    end_ns: int

    def workflow_of(self, i: int) -> int:
        rnd = random.Random(self.seed * 1_000_003 + i)
        return 0 if rnd.random() < HOT_SHARE else 1 + rnd.randrange(WORKFLOWS - 1)

    def start_ns(self, i: int) -> int:
        span = DAYS * 86_400 * S
        return self.end_ns - span + span * i // self.total


def _root_template() -> tuple[Span, dict[str, int]]:
    span = Span(name="RUN x", kind=Span.SPAN_KIND_SERVER)
    keys = [
        ("workflow.id", ""), ("workflow.name", ""), ("workflow.execution.id", ""),
        ("workflow.execution.number", 0), ("cicd.pipeline.name", ""), ("cicd.pipeline.run.id", ""),
        ("workflow.status", ""), ("cicd.pipeline.result", ""), ("workflow.input", ""),
        ("workflow.input.truncated", False), ("workflow.results", ""), ("workflow.results.truncated", False),
    ]  # fmt: skip
    span.attributes.extend(_kv(k, v) for k, v in keys)
    return span, {k: i for i, (k, _) in enumerate(keys)}


def _step_template(order: int) -> tuple[Span, dict[str, int]]:
    step_id = f"step_{order}"
    span = Span(name=f"Step {order}", kind=Span.SPAN_KIND_INTERNAL)
    keys = [
        ("workflow.id", ""), ("workflow.execution.id", ""), ("workflow.step.id", step_id),
        ("workflow.step.name", f"Step {order}"), ("workflow.step.order", order), ("workflow.step.status", ""),
        ("workflow.step.retry_count", 0), ("workflow.step.depends_on", [f"step_{d}" for d in DEPENDS[order]]),
        ("cicd.pipeline.task.name", f"Step {order}"), ("cicd.pipeline.task.run.id", ""),
        ("cicd.pipeline.task.run.result", ""), ("workflow.step.input", ""),
        ("workflow.step.input.truncated", False),
        ("workflow.step.output", ""), ("workflow.step.output.truncated", False),
    ]  # fmt: skip
    span.attributes.extend(_kv(k, v) for k, v in keys)
    return span, {k: i for i, (k, _) in enumerate(keys)}


_RESULT = {"completed": "success", "failed": "failure", "cancelled": "cancellation", "timeout": "timeout",
           "skipped": "skip"}  # fmt: skip


def _status(rnd: random.Random) -> str:
    x = rnd.random()
    return "completed" if x < 0.90 else "failed" if x < 0.97 else "cancelled" if x < 0.99 else "timeout"


def build_batch(plan: Plan, first: int, count: int) -> tuple[bytes, bytes, int, int]:
    """(traces request, logs request, spans, log records) for executions [first, first+count)."""
    traces = ExportTraceServiceRequest()
    rs = traces.resource_spans.add()
    rs.resource.attributes.append(_kv("service.name", SERVICE))
    spans_out = rs.scope_spans.add()
    spans_out.scope.name = "flowscope.engine"
    logs = ExportLogsServiceRequest()
    rl = logs.resource_logs.add()
    rl.resource.attributes.append(_kv("service.name", SERVICE))
    records_out = rl.scope_logs.add()
    records_out.scope.name = "flowscope.engine"
    root_t, root_k = _root_template()
    step_ts = [_step_template(o) for o in range(1, STEPS + 1)]
    n_spans = n_records = 0
    for i in range(first, first + count):
        rnd = random.Random(plan.seed * 7_919 + i)
        k = plan.workflow_of(i)
        wf, name = workflow_id(k), workflow_name(k)
        trace_id, root_id = rnd.randbytes(16), rnd.randbytes(8)
        exec_id = trace_id.hex()
        number = i + 1  # unique, increasing; per-workflow numbering is not what is measured
        queued = plan.start_ns(i) + rnd.randrange(S)
        started = queued + rnd.randrange(50_000_000)
        inputs = json.dumps(
            {"mode": rnd.choice(["fast", "standard", "thorough"]), "batch": rnd.randrange(1000)}
        )
        for event in ("workflow.execution.queued", "workflow.execution.started"):
            rec = records_out.log_records.add()
            rec.time_unix_nano = rec.observed_time_unix_nano = queued if event.endswith("queued") else started
            rec.trace_id, rec.span_id = trace_id, root_id
            rec.event_name = event
            rec.severity_number, rec.severity_text = 9, "INFO"
            rec.body.string_value = f"Execution of '{name}' {event.rsplit('.', 1)[1]}"
            rec.attributes.extend([
                _kv("workflow.id", wf), _kv("workflow.name", name), _kv("workflow.execution.id", exec_id),
                _kv("workflow.execution.number", number), _kv("event.name", event),
            ])  # fmt: skip
            if event.endswith("queued"):
                rec.attributes.append(_kv("workflow.input", inputs))
            n_records += 1
        open_run = i >= plan.total - max(2, plan.total // 10_000)  # the newest: still running / pending
        if open_run and i % 2:
            del records_out.log_records[-1]  # pending: queued only
            n_records -= 1
            continue
        status = _status(rnd)
        stop_at = rnd.randrange(1, STEPS + 1) if status != "completed" else STEPS + 1
        t = started
        ends: dict[int, int] = {}
        for order in range(1, STEPS + 1):
            if open_run and order > 3:
                break
            template, idx = step_ts[order - 1]
            span = spans_out.spans.add()
            span.CopyFrom(template)
            sid = rnd.randbytes(8)
            span.trace_id, span.span_id, span.parent_span_id = trace_id, sid, root_id
            ready = max((ends[d] for d in DEPENDS[order]), default=started)
            begin = ready + rnd.randrange(2_000_000)
            if order < stop_at:
                st = "completed"
                dur = int(rnd.uniform(0.05, 2.0 if k else 4.0) * S)
            elif order == stop_at:
                st = "failed" if status in ("failed",) else "cancelled"
                dur = int(rnd.uniform(0.05, 1.0) * S)
            else:
                st, dur = "skipped", 0
            span.start_time_unix_nano, span.end_time_unix_nano = begin, begin + dur
            ends[order] = begin + dur
            t = max(t, begin + dur)
            a = span.attributes
            a[idx["workflow.id"]].value.string_value = wf
            a[idx["workflow.execution.id"]].value.string_value = exec_id
            a[idx["workflow.step.status"]].value.string_value = st
            a[idx["cicd.pipeline.task.run.id"]].value.string_value = sid.hex()
            a[idx["cicd.pipeline.task.run.result"]].value.string_value = _RESULT[st]
            if rnd.random() < 0.05:
                a[idx["workflow.step.retry_count"]].value.int_value = 1
            a[idx["workflow.step.input"]].value.string_value = json.dumps(
                {"batch": rnd.randrange(1000), "source": f"s3://bucket/{wf}/{order}.parquet"}
            )
            if st == "completed":
                a[idx["workflow.step.output"]].value.string_value = json.dumps(
                    {"rows": rnd.randrange(10**6), "bytes": rnd.randrange(10**9), "checksum": sid.hex()}
                )
            if st == "failed":
                span.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="Simulated failure"))
                a.extend([_kv("workflow.step.error", "Simulated failure"), _kv("error.type", "ActionError")])
            n_spans += 1
        if open_run:
            continue
        root = spans_out.spans.add()
        root.CopyFrom(root_t)
        root.name = f"RUN {name}"
        root.trace_id, root.span_id = trace_id, root_id
        root.start_time_unix_nano, root.end_time_unix_nano = started, t + rnd.randrange(1_000_000)
        a = root.attributes
        for key, value in (("workflow.id", wf), ("workflow.name", name), ("workflow.execution.id", exec_id),
                           ("cicd.pipeline.name", name), ("cicd.pipeline.run.id", exec_id),
                           ("workflow.status", status), ("cicd.pipeline.result", _RESULT[status]),
                           ("workflow.input", inputs)):  # fmt: skip
            a[root_k[key]].value.string_value = value
        a[root_k["workflow.execution.number"]].value.int_value = number
        a[root_k["workflow.results"]].value.string_value = json.dumps(
            {"step_9": {"rows": rnd.randrange(10**6)}}
        )
        if status != "completed":
            error = "Step failed" if status == "failed" else f"Execution {status}"
            a.append(_kv("workflow.error", error))
            if status in ("failed", "timeout"):
                root.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message=error))
                a.append(_kv("error.type", "step_failed" if status == "failed" else "timeout"))
        n_spans += 1
    return traces.SerializeToString(), logs.SerializeToString(), n_spans, n_records


def batch_ranges(total: int) -> Iterator[tuple[int, int]]:
    for first in range(0, total, EXECUTIONS_PER_BATCH):
        yield first, min(EXECUTIONS_PER_BATCH, total - first)

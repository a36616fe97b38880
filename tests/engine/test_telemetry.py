"""What an execution looks like in OTel: spans, parentage, attributes, statuses, lifecycle records."""

from __future__ import annotations

from typing import Any

import pytest
from flowscope.engine.actions import ActionRegistry, StepContext
from flowscope.engine.execution_telemetry import INTERRUPTED_ERROR
from flowscope.engine.telemetry import Telemetry
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.trace import SpanKind, StatusCode

from flowscope import conventions as c
from tests.engine.conftest import Captured, engine_factory, otlp_http_url, run, run_workflow, step, until, wf
from tests.engine.test_scheduler import FAST_RETRY, Probe, ProbeParams, probe_step


@pytest.fixture
def probe(registry: ActionRegistry) -> Probe:
    p = Probe()
    registry.register("probe", p, ProbeParams)
    return p


def hex_span(span_id: int) -> str:
    return f"{span_id:016x}"


def test_span_tree_kinds_names_and_parentage(make_engine, probe: Probe, captured: Captured) -> None:
    definition = wf(
        probe_step("init", output={"records": 3}),
        probe_step("process", "init"),
        name="Basic",
        inputs={"mode": {"type": "string", "default": "x"}},
    )
    result = run(
        run_workflow(make_engine(), definition, workflow_id="wf-1", execution_number=7, project_id="proj-1")
    )
    root = captured.root(result.execution_id)
    assert (root.name, root.kind, root.status.status_code) == ("RUN Basic", SpanKind.SERVER, StatusCode.UNSET)
    assert dict(root.attributes) == {
        c.WORKFLOW_ID: "wf-1",
        c.WORKFLOW_NAME: "Basic",
        c.WORKFLOW_EXECUTION_ID: result.execution_id,
        c.WORKFLOW_EXECUTION_NUMBER: 7,
        c.WORKFLOW_PROJECT_ID: "proj-1",
        c.CICD_PIPELINE_NAME: "Basic",
        c.CICD_PIPELINE_RUN_ID: result.execution_id,
        c.WORKFLOW_STATUS: "completed",
        c.CICD_PIPELINE_RESULT: "success",
        c.WORKFLOW_INPUT: '{"mode":"x"}',
        c.WORKFLOW_INPUT_TRUNCATED: False,
        c.WORKFLOW_RESULTS: '{"init":{"records":3},"process":{"step":"process","attempt":1}}',
        c.WORKFLOW_RESULTS_TRUNCATED: False,
    }
    steps = captured.step_spans(result.execution_id)
    assert set(steps) == {"init", "process"}
    for order, sid in enumerate(["init", "process"], start=1):
        span = steps[sid]
        assert span.kind == SpanKind.INTERNAL and span.name == sid
        assert span.parent.span_id == root.context.span_id
        assert span.attributes[c.STEP_ORDER] == order
        assert span.attributes[c.CICD_TASK_RUN_ID] == hex_span(span.context.span_id)
        assert root.start_time <= span.start_time <= span.end_time <= root.end_time
        (attempt,) = captured.attempts(result.execution_id, span)
        assert attempt.name == "attempt 1" and attempt.attributes[c.STEP_ATTEMPT] == 1
        assert span.start_time <= attempt.start_time <= attempt.end_time <= span.end_time
    p = steps["process"].attributes
    assert p[c.STEP_DEPENDS_ON] == ("init",)
    assert p[c.STEP_INPUT] == "{}" and p[c.STEP_OUTPUT] == '{"step":"process","attempt":1}'
    assert (p[c.STEP_STATUS], p[c.CICD_TASK_RUN_RESULT], p[c.STEP_RETRY_COUNT]) == ("completed", "success", 0)
    # every span of the execution is in its trace; ids match the results
    assert {f"{s.context.trace_id:032x}" for s in captured.finished()} == {result.execution_id}
    assert result.step("process").span_id == hex_span(steps["process"].context.span_id)


def test_lifecycle_records_carry_ids_of_what_they_announce(
    make_engine, probe: Probe, captured: Captured
) -> None:
    async def go() -> tuple[str, str, Any]:
        engine = make_engine()
        handle = await engine.submit(
            wf(probe_step("a", fail_times=1, retry=FAST_RETRY), probe_step("b", "a")), {}, workflow_id="wf-9"
        )
        # Queued is emitted before submit returns, with the pre-allocated ids.
        (queued,) = captured.records(c.EVENT_EXECUTION_QUEUED)
        assert f"{queued.trace_id:032x}" == handle.execution_id
        assert hex_span(queued.span_id) == handle.root_span_id
        assert not captured.finished()
        result = await handle.wait()
        await engine.shutdown()
        return handle.execution_id, handle.root_span_id, result

    execution_id, root_span_id, _result = run(go())
    root = captured.root(execution_id)
    assert hex_span(root.context.span_id) == root_span_id
    steps = captured.step_spans(execution_id)
    for event in (c.EVENT_EXECUTION_QUEUED, c.EVENT_EXECUTION_STARTED):
        (rec,) = captured.records(event)
        assert rec.event_name == event and rec.attributes[c.EVENT_NAME] == event
        assert (rec.trace_id, rec.span_id) == (root.context.trace_id, root.context.span_id)
        assert (
            rec.attributes[c.WORKFLOW_ID] == "wf-9"
            and rec.attributes[c.WORKFLOW_EXECUTION_ID] == execution_id
        )
    started = {r.attributes[c.STEP_ID]: r for r in captured.records(c.EVENT_STEP_STARTED)}
    assert set(started) == {"a", "b"}
    for sid, rec in started.items():
        assert (rec.trace_id, rec.span_id) == (steps[sid].context.trace_id, steps[sid].context.span_id)
        assert rec.timestamp <= steps[sid].end_time
    (retrying,) = captured.records(c.EVENT_STEP_RETRYING)
    assert retrying.span_id == steps["a"].context.span_id
    assert retrying.attributes[c.STEP_ATTEMPT] == 2 and retrying.attributes[c.STEP_ERROR] == "boom #1"
    assert retrying.attributes[c.STEP_ID] == "a"


def test_retries_are_attempt_spans_with_exceptions(make_engine, probe: Probe, captured: Captured) -> None:
    result = run(run_workflow(make_engine(), wf(probe_step("a", fail_times=2, retry=FAST_RETRY))))
    span = captured.step_spans(result.execution_id)["a"]
    attempts = captured.attempts(result.execution_id, span)
    assert [a.name for a in attempts] == ["attempt 1", "attempt 2", "attempt 3"]
    assert [a.status.status_code for a in attempts] == [StatusCode.ERROR, StatusCode.ERROR, StatusCode.UNSET]
    assert attempts[0].status.description == "boom #1"
    assert attempts[0].events[0].name == "exception"
    assert attempts[0].events[0].attributes["exception.message"] == "boom #1"
    assert attempts[0].end_time <= attempts[1].start_time  # the backoff gap is visible
    assert span.attributes[c.STEP_RETRY_COUNT] == 2 and span.status.status_code == StatusCode.UNSET


def test_failure_sets_error_status_everywhere(make_engine, probe: Probe, captured: Captured) -> None:
    result = run(
        run_workflow(make_engine(), wf(probe_step("process", fail_times=9), probe_step("next", "process")))
    )
    root = captured.root(result.execution_id)
    assert root.status.status_code == StatusCode.ERROR
    assert root.status.description == "Step 'process' failed"
    assert root.attributes[c.WORKFLOW_ERROR] == "Step 'process' failed"
    assert (root.attributes[c.WORKFLOW_STATUS], root.attributes[c.CICD_PIPELINE_RESULT]) == (
        "failed",
        "failure",
    )
    assert root.attributes[c.ERROR_TYPE] == "step_failed"
    steps = captured.step_spans(result.execution_id)
    failed = steps["process"]
    assert failed.status.status_code == StatusCode.ERROR and failed.status.description == "boom #1"
    assert failed.attributes[c.STEP_ERROR] == "boom #1"
    assert failed.attributes[c.ERROR_TYPE] == "ActionError"
    assert failed.events[0].name == "exception"
    assert c.STEP_OUTPUT not in failed.attributes
    skipped = steps["next"]
    assert skipped.attributes[c.STEP_STATUS] == "skipped"
    assert skipped.attributes[c.STEP_SKIP_REASON] == "upstream failed"
    assert skipped.attributes[c.CICD_TASK_RUN_RESULT] == "skip"
    assert skipped.start_time == skipped.end_time  # zero-length
    assert not captured.attempts(result.execution_id, skipped)
    assert skipped.status.status_code == StatusCode.UNSET


def test_timeout_and_cancel_spans(
    make_engine, probe: Probe, captured: Captured, registry: ActionRegistry
) -> None:
    result = run(
        run_workflow(make_engine(), wf(probe_step("a", seconds=5), probe_step("b", "a"), timeout_seconds=0.1))
    )
    root = captured.root(result.execution_id)
    assert (
        root.attributes[c.WORKFLOW_STATUS] == "timeout"
        and root.attributes[c.CICD_PIPELINE_RESULT] == "timeout"
    )
    assert root.status.status_code == StatusCode.ERROR and root.attributes[c.ERROR_TYPE] == "timeout"
    steps = captured.step_spans(result.execution_id)
    assert {k: v.attributes[c.STEP_STATUS] for k, v in steps.items()} == {"a": "cancelled", "b": "cancelled"}
    assert steps["a"].attributes[c.CICD_TASK_RUN_RESULT] == "cancellation"
    (attempt,) = captured.attempts(result.execution_id, steps["a"])
    assert attempt.attributes[c.STEP_STATUS] == "cancelled"

    async def cancel() -> Any:
        engine = make_engine()
        handle = await engine.submit(wf(probe_step("x", seconds=5)), workflow_id="w")
        await until(lambda: (handle.execution_id, "x") in probe.attempts, "step x to start")
        handle.cancel()
        out = await handle.wait()
        await engine.shutdown()
        return out

    captured = Captured()  # the first engine's shutdown stopped the previous exporters
    make_engine = engine_factory(captured, registry)
    cancelled = run(cancel())
    root = captured.root(cancelled.execution_id)
    assert root.attributes[c.WORKFLOW_STATUS] == "cancelled"
    assert root.attributes[c.CICD_PIPELINE_RESULT] == "cancellation"
    assert root.attributes[c.WORKFLOW_ERROR] == "Execution cancelled"


def test_values_are_capped_and_flagged(make_engine, captured: Captured) -> None:
    engine = make_engine(telemetry=captured.telemetry_config(max_value_bytes=64))
    result = run(run_workflow(engine, wf(step("big", output={"text": "é" * 200}))))
    span = captured.step_spans(result.execution_id)["big"]
    out = span.attributes[c.STEP_OUTPUT]
    assert span.attributes[c.STEP_OUTPUT_TRUNCATED] is True and len(out.encode()) <= 64
    assert out.startswith('{"text":"éé')
    assert span.attributes[c.STEP_INPUT_TRUNCATED] is True
    assert result.results["big"] == {"text": "é" * 200}  # only the telemetry copy is cut


def test_traceparent_reaches_python_functions(make_engine, captured: Captured) -> None:
    result = run(
        run_workflow(
            make_engine(python_modules=("tests.engine",)),
            wf(
                step(
                    "p",
                    action={"type": "python", "params": {"callable": "tests.engine.helpers:current_trace"}},
                ),
                step(
                    "q",
                    action={
                        "type": "python",
                        "params": {"callable": "tests.engine.helpers:current_trace_async"},
                    },
                ),
            ),
        )
    )
    steps = captured.step_spans(result.execution_id)
    for sid in ("p", "q"):
        (attempt,) = captured.attempts(result.execution_id, steps[sid])
        assert result.results[sid] == {
            "trace_id": result.execution_id,
            "span_id": hex_span(attempt.context.span_id),
        }


def test_registered_sync_action_gets_trace_context(
    make_engine, registry: ActionRegistry, captured: Captured
) -> None:
    seen: list[str | None] = []

    def sync_action(params: Any, ctx: StepContext) -> dict[str, Any]:
        from tests.engine.helpers import current_trace

        seen.append(ctx.traceparent)
        return current_trace()

    registry.register("sync_probe", sync_action)
    result = run(run_workflow(make_engine(), wf(step("s", action={"type": "sync_probe", "params": {}}))))
    assert result.results["s"]["trace_id"] == result.execution_id
    assert seen[0] == f"00-{result.execution_id}-{result.results['s']['span_id']}-01"


def test_fast_and_sdk_paths_emit_the_same_telemetry(make_engine, probe: Probe) -> None:
    def capture(fast: bool) -> tuple[list[Any], list[Any]]:
        cap = Captured()
        engine = make_engine(telemetry=cap.telemetry_config(fast_path=fast))
        definition = wf(
            probe_step("a", fail_times=1, retry=FAST_RETRY),
            probe_step("b", "a", fail_times=9),
            probe_step("c", "b"),
        )
        run(run_workflow(engine, definition))
        spans = sorted(
            (
                s.name,
                s.kind,
                s.status.status_code,
                s.status.description,
                s.parent is None,
                tuple(
                    sorted(
                        (k, v)
                        for k, v in s.attributes.items()
                        if k != c.WORKFLOW_EXECUTION_ID
                        and k != c.CICD_PIPELINE_RUN_ID
                        and k != c.CICD_TASK_RUN_ID
                    )
                ),
                tuple(e.name for e in s.events),
                s.resource.attributes.get("service.name"),
                s.instrumentation_scope.name,
            )
            for s in cap.finished()
        )
        records = sorted(
            (
                r.log_record.event_name,
                r.log_record.severity_number,
                r.log_record.body,
                tuple(
                    sorted(
                        (k, v)
                        for k, v in r.log_record.attributes.items()
                        if k not in (c.WORKFLOW_EXECUTION_ID, c.CICD_PIPELINE_RUN_ID, c.STEP_RETRY_DELAY)
                    )
                ),
            )
            for r in cap.logs.get_finished_logs()
        )
        return spans, records

    assert capture(True) == capture(False)


def test_emit_interrupted(captured: Captured) -> None:
    telemetry = Telemetry(captured.telemetry_config())
    telemetry.emit_interrupted(
        workspace_id="ws",
        trace_id="0af7651916cd43dd8448eb211c80319c",
        root_span_id="b7ad6b7169203331",
        workflow_id="wf-1",
        workflow_name="Nightly",
        execution_number=3,
        start_time_ns=1_700_000_000_000_000_000,
    )
    telemetry.shutdown()
    (span,) = captured.finished()
    assert (f"{span.context.trace_id:032x}", hex_span(span.context.span_id)) == (
        "0af7651916cd43dd8448eb211c80319c",
        "b7ad6b7169203331",
    )
    assert span.parent is None and span.kind == SpanKind.SERVER and span.name == "RUN Nightly"
    assert span.status.status_code == StatusCode.ERROR and span.status.description == INTERRUPTED_ERROR
    assert (
        span.attributes[c.WORKFLOW_STATUS] == "failed"
        and span.attributes[c.WORKFLOW_ERROR] == INTERRUPTED_ERROR
    )
    assert span.attributes[c.WORKFLOW_EXECUTION_NUMBER] == 3 and span.start_time == 1_700_000_000_000_000_000


def test_tracing_off_emits_nothing(make_engine, captured: Captured) -> None:
    engine = make_engine(telemetry=captured.telemetry_config(enabled=False))
    result = run(run_workflow(engine, wf(step("a"))))
    assert result.status == "completed" and len(result.execution_id) == 32
    assert not captured.finished() and not captured.records()


def test_otlp_http_export_per_workspace_headers(make_engine, otlp_http: list[Any]) -> None:
    from flowscope.engine.telemetry import TelemetryConfig

    tel = TelemetryConfig(endpoint=otlp_http_url(otlp_http), token="s3cret", headers={"X-Extra": "1"})

    async def go() -> list[str]:
        engine = make_engine(telemetry=tel)
        ids = []
        for ws in ("ws-a", "ws-b"):
            handle = await engine.submit(wf(step("a"), name=f"flow {ws}"), workflow_id="w", workspace_id=ws)
            ids.append((await handle.wait()).execution_id)
        assert engine.telemetry.pipeline("ws-a") is engine.telemetry.pipeline("ws-a")
        assert engine.telemetry.pipeline("ws-a") is not engine.telemetry.pipeline("ws-b")
        await engine.shutdown()
        return ids

    ids = run(go())
    roots: dict[str, str] = {}
    paths = set()
    for path, headers, body in otlp_http:
        paths.add(path)
        assert headers["authorization"] == "Bearer s3cret" and headers["x-extra"] == "1"
        if path == "/v1/traces":
            req = ExportTraceServiceRequest.FromString(body)
            for rs in req.resource_spans:
                for ss in rs.scope_spans:
                    for sp in ss.spans:
                        if not sp.parent_span_id:
                            roots[sp.trace_id.hex()] = headers["x-workspace-id"]
    assert paths == {"/v1/traces", "/v1/logs"}
    assert roots == {ids[0]: "ws-a", ids[1]: "ws-b"}


def test_otlp_grpc_export_sends_workspace_metadata(make_engine) -> None:
    import grpc
    from flowscope.engine.telemetry import TelemetryConfig
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    seen: list[tuple[str, dict[str, str]]] = []

    class Traces(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:
            seen.append(("traces", dict(context.invocation_metadata())))
            return trace_service_pb2.ExportTraceServiceResponse()

    class Logs(logs_service_pb2_grpc.LogsServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:
            seen.append(("logs", dict(context.invocation_metadata())))
            return logs_service_pb2.ExportLogsServiceResponse()

    from concurrent.futures import ThreadPoolExecutor

    server = grpc.server(ThreadPoolExecutor(2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        tel = TelemetryConfig(protocol="grpc", endpoint=f"127.0.0.1:{port}")
        result = run(run_workflow(make_engine(telemetry=tel), wf(step("a")), workspace_id="ws-g"))
    finally:
        server.stop(0)
    assert result.status == "completed"
    assert {kind for kind, _ in seen} == {"traces", "logs"}
    assert all(md["x-workspace-id"] == "ws-g" for _, md in seen)

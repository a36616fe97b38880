"""Trace context across systems (issue 13), engine side: a caller's `traceparent` parsed as W3C
Trace Context says, and an execution started with it (`triggered_by`) is a trace of its own
whose root span links to the caller's span, on both emission paths."""

from __future__ import annotations

import pytest
from flowscope.engine.engine import Engine
from flowscope.engine.telemetry import RemoteParent, remote_parent
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from flowscope import conventions as c
from tests.engine.conftest import Captured, engine_factory, run, step, wf

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
VALID = f"00-{TRACE}-{SPAN}-01"


def test_a_valid_traceparent_and_its_tracestate() -> None:
    parent = remote_parent([VALID], ["congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7"])
    assert parent == RemoteParent(int(TRACE, 16), int(SPAN, 16), 1, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
    assert remote_parent([f"00-{TRACE}-{SPAN}-00"]) == RemoteParent(int(TRACE, 16), int(SPAN, 16), 0, "")


def test_a_later_version_is_read_by_the_fields_this_one_defines() -> None:
    """W3C Trace Context 1: a higher version is parsed as version 00, extra fields ignored."""
    parent = remote_parent([f"cc-{TRACE}-{SPAN}-01-what-the-future-adds"])
    assert parent is not None and (parent.trace_id, parent.span_id) == (int(TRACE, 16), int(SPAN, 16))


@pytest.mark.parametrize(
    "values",
    [
        [],
        [""],
        ["garbage"],
        [f"00-{TRACE}-{SPAN}"],  # no flags
        [f"00-{TRACE.upper()}-{SPAN}-01"],  # upper-case hex
        [f"00-{'0' * 32}-{SPAN}-01"],  # all-zero trace id
        [f"00-{TRACE}-{'0' * 16}-01"],  # all-zero parent id
        [f"ff-{TRACE}-{SPAN}-01"],  # version ff is invalid
        [f"00-{TRACE}-{SPAN}-01-extra"],  # version 00 has exactly four fields
        [f"00-{TRACE[:-1]}-{SPAN}-01"],  # short trace id
        [VALID, f"00-{'1' * 32}-{SPAN}-01"],  # two traceparent headers (W3C test suite: restart)
        [VALID + "x" * 600],  # beyond the propagator's length bound
    ],
)
def test_an_invalid_traceparent_is_no_parent(values: list[str]) -> None:
    assert remote_parent(values, ["congo=t61rcWkgMzE"]) is None


def test_an_invalid_tracestate_is_dropped_not_the_parent() -> None:
    parent = remote_parent([VALID], ["not a list member"])
    assert parent is not None and parent.trace_state == ""


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "sdk"])
def test_the_root_span_links_to_the_caller(fast: bool, registry) -> None:
    """A CI job's span (a real SDK span, its context carried as headers) starts an execution."""
    ci = TracerProvider().get_tracer("ci")
    with ci.start_as_current_span("job"):
        carrier: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(carrier)
        job = trace.get_current_span().get_span_context()
    parent = remote_parent([carrier["traceparent"]], ["ci=job-7"])
    assert parent is not None
    cap = Captured()
    engine: Engine = engine_factory(cap, registry)(telemetry=cap.telemetry_config(fast_path=fast))

    async def main() -> list[str]:
        handles = await engine.submit_many(
            wf(step("a"), step("b", "a")), [None, None], workflow_id="wf", numbers=[1, 2],
            triggered_by=parent,
        )  # fmt: skip
        for handle in handles:
            await handle.wait(timeout=30)
        await engine.shutdown()
        return [h.execution_id for h in handles]

    for execution_id in run(main()):
        assert execution_id != f"{job.trace_id:032x}"  # one execution, one trace of its own
        root = cap.root(execution_id)
        (link,) = root.links
        assert (link.context.trace_id, link.context.span_id) == (job.trace_id, job.span_id)
        assert link.context.is_remote and link.context.trace_state.to_header() == "ci=job-7"
        assert dict(link.attributes or {}) == {c.LINK_KIND: c.LINK_TRIGGERED_BY}
        others = [s for s in cap.finished() if f"{s.context.trace_id:032x}" == execution_id and s is not root]
        assert len(others) == 4 and not any(s.links for s in others)  # 2 steps, 2 attempts
        (queued,) = [
            r for r in cap.records(c.EVENT_EXECUTION_QUEUED)
            if f"{r.trace_id:032x}" == execution_id
        ]  # fmt: skip
        assert queued.attributes[c.TRIGGERED_BY_TRACE_ID] == f"{job.trace_id:032x}"
        assert queued.attributes[c.TRIGGERED_BY_SPAN_ID] == f"{job.span_id:016x}"
        # In the caller's trace and span: what it started (the caller's side finds it by trace id).
        (triggered,) = [
            r for r in cap.records(c.EVENT_EXECUTION_TRIGGERED)
            if r.attributes[c.TRIGGERED_EXECUTION_ID] == execution_id
        ]  # fmt: skip
        assert (triggered.trace_id, triggered.span_id) == (job.trace_id, job.span_id)
        assert triggered.attributes[c.TRIGGERED_WORKFLOW_ID] == "wf"
        assert triggered.timestamp == queued.timestamp


def test_without_a_caller_there_is_no_link(make_engine, captured: Captured) -> None:
    engine = make_engine()

    async def main() -> str:
        (handle,) = await engine.submit_many(wf(step("a")), [None], workflow_id="wf", numbers=[1])
        await handle.wait(timeout=30)
        await engine.shutdown()
        return handle.execution_id

    execution_id = run(main())
    assert not captured.root(execution_id).links
    (queued,) = captured.records(c.EVENT_EXECUTION_QUEUED)
    assert c.TRIGGERED_BY_TRACE_ID not in queued.attributes
    assert captured.records(c.EVENT_EXECUTION_TRIGGERED) == []

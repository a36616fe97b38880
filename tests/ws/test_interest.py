"""The interest filter alone: facts only for workflows someone subscribes to; anonymous spans
(a foreign tracer naming its pipeline only on the root) wait for their name."""

from __future__ import annotations

from typing import Any

from flowscope.api.ws.interest import InterestFilter
from flowscope.storage.changes import CommittedBatch, WorkflowLogRecord, WorkflowSpan

from flowscope import conventions as c

T0 = 1_700_000_000_000_000_000


def span(trace: str, sid: str, role: str, workspace: str = "ws", **attrs: Any) -> WorkflowSpan:
    return WorkflowSpan(workspace, trace, sid, "", sid, role, T0, T0 + 5, 0, "", attrs)


def record(trace: str, event: str, workspace: str = "ws", **attrs: Any) -> WorkflowLogRecord:
    return WorkflowLogRecord(workspace, 1, event, T0, trace, "r" * 16, None, {c.EVENT_NAME: event, **attrs})


def batch(spans: list[WorkflowSpan] = [], logs: list[WorkflowLogRecord] = []) -> CommittedBatch:  # noqa: B006
    return CommittedBatch(1, None, 0, list(spans), list(logs))


def execution(trace: str, workflow: str, workspace: str = "ws") -> CommittedBatch:
    wf = {c.WORKFLOW_ID: workflow}
    step = {**wf, c.STEP_ID: "s"}
    return batch(
        [
            span(trace, "a" * 16, "attempt", workspace, **{**step, c.STEP_ATTEMPT: 1}),
            span(trace, "s" * 16, "step", workspace, **step),
            span(trace, "r" * 16, "execution", workspace, **wf),
        ],
        [
            record(trace, c.EVENT_EXECUTION_STARTED, workspace, **wf),
            record(trace, c.EVENT_STEP_STARTED, workspace, **step),
            record(trace, c.EVENT_EXECUTION_QUEUED, workspace, **wf),  # makes no event
        ],
    )


def test_only_subscribed_workflows_become_facts() -> None:
    interest = {("ws", "watched"): 1}
    f = InterestFilter(interest, 1.0)
    assert f.facts(execution("1" * 32, "other"), 0.0) == []
    assert f.facts(execution("2" * 32, "watched", workspace="ws2"), 0.0) == []  # another workspace's
    assert f.parked == 0
    facts = f.facts(execution("3" * 32, "watched"), 0.0)
    # the step and root spans and the two lifecycle records; not the attempt span or queued record
    assert sorted(fact.kind.name for fact in facts) == [
        "EXEC_ENDED",
        "EXEC_STARTED",
        "STEP_ENDED",
        "STEP_STARTED",
    ]
    assert {fact.execution_id for fact in facts} == {"3" * 32}
    interest.clear()  # the last subscriber left
    assert f.facts(execution("4" * 32, "watched"), 0.0) == []


def test_anonymous_spans_wait_for_the_root_that_names_their_workflow() -> None:
    interest = {("ws", "pipeline"): 1}
    f = InterestFilter(interest, 1.0)
    task = {c.CICD_TASK_NAME: "build"}
    trace = "5" * 32
    assert f.facts(batch([span(trace, "t" * 16, "step", **task)]), now=10.0) == []
    assert f.parked == 1
    facts = f.facts(
        batch([span(trace, "r" * 16, "execution", **{c.CICD_PIPELINE_NAME: "pipeline"})]), now=12.0
    )
    assert f.parked == 0
    step, root = sorted(facts, key=lambda fact: fact.kind)
    assert step.step_id == "build" and step.workflow_id == "pipeline"
    assert step.deadline == 11.0  # waited since it arrived at 10.0
    assert root.deadline == 0.0  # set by the sequencer on arrival
    # a late anonymous span of the same execution is routed by the name already seen
    late = f.facts(batch([span(trace, "u" * 16, "step", **{c.CICD_TASK_NAME: "test"})]), now=13.0)
    assert [fact.step_id for fact in late] == ["test"] and f.parked == 0


def test_anonymous_spans_of_unwatched_workflows_are_dropped_when_named() -> None:
    f = InterestFilter({("ws", "pipeline"): 1}, 1.0)
    trace = "6" * 32
    f.facts(batch([span(trace, "t" * 16, "step", **{c.CICD_TASK_NAME: "build"})]), 0.0)
    assert f.parked == 1
    named = batch([span(trace, "r" * 16, "execution", **{c.CICD_PIPELINE_NAME: "elsewhere"})])
    assert f.facts(named, 0.1) == [] and f.parked == 0


def test_parking_is_bounded() -> None:
    f = InterestFilter({("ws", "pipeline"): 1}, 1.0, max_parked=10)
    for i in range(25):
        f.facts(batch([span(f"{i:032x}", "t" * 16, "step", **{c.CICD_TASK_NAME: "build"})]), 0.0)
    assert f.parked == 10
    # the oldest executions went first: naming one of them yields nothing
    first = batch([span(f"{0:032x}", "r" * 16, "execution", **{c.CICD_PIPELINE_NAME: "pipeline"})])
    assert [fact.kind.name for fact in f.facts(first, 0.0)] == ["EXEC_ENDED"]
    last = batch([span(f"{24:032x}", "r" * 16, "execution", **{c.CICD_PIPELINE_NAME: "pipeline"})])
    assert sorted(fact.kind.name for fact in f.facts(last, 0.0)) == ["EXEC_ENDED", "STEP_ENDED"]

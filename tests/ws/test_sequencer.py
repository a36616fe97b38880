"""The ordering stage alone: facts in any order and split across commits -> causal event order."""

from __future__ import annotations

import dataclasses
import itertools
import random
from typing import Any

import pytest
from flowscope.api.ws.events import LiveEvent
from flowscope.api.ws.facts import Fact, batch_facts, from_record, from_span
from flowscope.api.ws.sequencer import Sequencer
from flowscope.storage.changes import CommittedBatch, WorkflowLogRecord, WorkflowSpan

from flowscope import conventions as c

WS, WF, EX = "default", "wf-1", "a" * 32
T0 = 1_700_000_000_000_000_000
MS = 1_000_000
_ids = itertools.count(1)


def span_id() -> str:
    return f"{next(_ids):016x}"


def root(status: str = "completed", start: int = T0, end: int = T0 + 100 * MS, **attrs: Any) -> Fact:
    a = {c.WORKFLOW_ID: WF, c.WORKFLOW_NAME: "demo", c.WORKFLOW_STATUS: status, **attrs}
    fact = from_span(WorkflowSpan(WS, EX, "f" * 16, "", "RUN demo", "execution", start, end, 0, "", a))
    assert fact is not None
    return fact


def step(step: str, sid: str, start: int, end: int, status: str = "completed", **attrs: Any) -> Fact:
    a = {c.WORKFLOW_ID: WF, c.STEP_ID: step, c.STEP_NAME: step.upper(), c.STEP_STATUS: status, **attrs}
    fact = from_span(WorkflowSpan(WS, EX, sid, "f" * 16, step, "step", start, end, 0, "", a))
    assert fact is not None
    return fact


def record(event: str, time_ns: int, sid: str = "f" * 16, **attrs: Any) -> Fact:
    a = {c.WORKFLOW_ID: WF, c.EVENT_NAME: event, **attrs}
    fact = from_record(WorkflowLogRecord(WS, next(_ids), event, time_ns, EX, sid, None, a))
    assert fact is not None
    return fact


def names(events: list[LiveEvent]) -> list[str]:
    return [f"{e.event}:{e.step_id}" if e.step_id else e.event for e in events]


def run_sequence() -> list[Fact]:
    a, b = span_id(), span_id()
    return [
        record(c.EVENT_EXECUTION_STARTED, T0),
        record(c.EVENT_STEP_STARTED, T0 + 1 * MS, a, **{c.STEP_ID: "a"}),
        step("a", a, T0 + 1 * MS, T0 + 10 * MS),
        record(c.EVENT_STEP_STARTED, T0 + 11 * MS, b, **{c.STEP_ID: "b"}),
        record(c.EVENT_STEP_RETRYING, T0 + 20 * MS, b, **{c.STEP_ID: "b", c.STEP_RETRY_COUNT: 1}),
        step("b", b, T0 + 11 * MS, T0 + 50 * MS, **{c.STEP_RETRY_COUNT: 1}),
        root(),
    ]


EXPECTED = [
    "workflow_started", "step_started:a", "step_completed:a", "step_started:b", "step_retrying:b",
    "step_completed:b", "workflow_completed",
]  # fmt: skip


def test_in_order_facts_are_released_at_once() -> None:
    seq = Sequencer(1.0)
    assert names(seq.feed(run_sequence(), now=0.0)) == EXPECTED


def test_any_arrival_order_in_any_split_gives_a_causal_order_without_waiting_when_complete() -> None:
    """Records and spans in any order and commits; only the root comes with or after its children."""
    rnd = random.Random(7)
    for _ in range(300):
        facts = run_sequence()
        last = facts.pop()
        rnd.shuffle(facts)
        facts.insert(rnd.randint(1 + max(i for i, f in enumerate(facts) if f.kind == 3), len(facts)), last)
        cut = sorted(rnd.sample(range(1, len(facts)), rnd.randint(0, 3)))
        seq = Sequencer(1.0)
        out: list[LiveEvent] = []
        now = 0.0
        for chunk in (facts[i:j] for i, j in zip([0, *cut], [*cut, len(facts)], strict=True)):
            out += seq.feed(chunk, now)
            now += 0.01  # all chunks inside the reorder window
        out += seq.expire(now + 5)
        assert_causal(names(out))
        assert not any(e.data["synthesized"] for e in out)


def assert_causal(got: list[str]) -> None:
    """The guarantee: same events, workflow_started first, end last, each step's events in order."""
    assert sorted(got) == sorted(EXPECTED), got
    assert got[0] == "workflow_started" and got[-1] == "workflow_completed", got
    for step_id in ("a", "b"):
        mine = [n for n in got if n.endswith(f":{step_id}")]
        assert mine == [n for n in EXPECTED if n.endswith(f":{step_id}")], got


def test_missing_records_are_synthesized_after_the_window() -> None:
    a = span_id()
    seq = Sequencer(1.0)
    assert seq.feed([step("a", a, T0, T0 + 5 * MS), root()], now=0.0) == []
    assert seq.next_deadline() == 1.0
    out = seq.expire(1.0)
    assert names(out) == ["workflow_started", "step_started:a", "step_completed:a", "workflow_completed"]
    assert out[0].data["synthesized"] and out[1].data["synthesized"]
    assert out[0].time_ns == T0  # the root span's start
    # the late records are dropped: the execution has ended
    assert seq.feed([record(c.EVENT_EXECUTION_STARTED, T0)], now=2.0) == []


def test_late_record_after_synthesized_start_is_not_repeated() -> None:
    a, b = span_id(), span_id()
    seq = Sequencer(1.0)
    seq.feed([record(c.EVENT_EXECUTION_STARTED, T0), step("a", a, T0, T0 + 5 * MS)], now=0.0)
    out = seq.expire(1.5)
    assert names(out) == ["step_started:a", "step_completed:a"]
    out = seq.feed([record(c.EVENT_STEP_STARTED, T0, a, **{c.STEP_ID: "a"})], now=1.6)
    assert out == []
    out = seq.feed([record(c.EVENT_STEP_STARTED, T0 + 6 * MS, b, **{c.STEP_ID: "b"})], now=1.7)
    assert names(out) == ["step_started:b"]


def test_root_waits_for_started_steps_then_gives_up() -> None:
    a = span_id()
    seq = Sequencer(1.0)
    out = seq.feed(
        [record(c.EVENT_EXECUTION_STARTED, T0), record(c.EVENT_STEP_STARTED, T0, a, **{c.STEP_ID: "a"})], 0.0
    )
    assert names(out) == ["workflow_started", "step_started:a"]
    assert seq.feed([root(status="failed")], now=0.5) == []  # step a still open
    out = seq.feed([step("a", a, T0, T0 + 5 * MS, status="failed")], now=0.7)
    assert names(out) == ["step_failed:a", "workflow_failed"]


def test_step_known_before_the_root_is_waited_for_even_if_its_span_comes_after() -> None:
    a = span_id()
    seq = Sequencer(1.0)
    seq.feed([record(c.EVENT_STEP_STARTED, T0, a, **{c.STEP_ID: "a"})], 0.0)
    assert seq.feed([root()], 0.1) == []
    out = seq.feed([record(c.EVENT_EXECUTION_STARTED, T0), step("a", a, T0, T0 + 5)], 0.3)
    assert names(out) == ["workflow_started", "step_started:a", "step_completed:a", "workflow_completed"]


def test_skipped_step_has_no_started_and_does_not_wait() -> None:
    seq = Sequencer(1.0)
    out = seq.feed([record(c.EVENT_EXECUTION_STARTED, T0), step("s", span_id(), T0, T0, status="skipped")], 0)
    assert names(out) == ["workflow_started", "step_skipped:s"]


def test_record_without_step_id_is_resolved_through_the_step_span_id() -> None:
    a = span_id()
    seq = Sequencer(1.0)
    facts = [record(c.EVENT_EXECUTION_STARTED, T0), record(c.EVENT_STEP_STARTED, T0 + 1, a)]
    out = seq.feed([*facts, step("a", a, T0, T0 + 2)], 0.0)
    assert names(out) == ["workflow_started", "step_started:a", "step_completed:a"]


def test_unknown_workflow_id_holds_events_until_the_root_names_it() -> None:
    seq = Sequencer(1.0)
    a = span_id()
    anonymous = from_span(
        WorkflowSpan(WS, EX, a, "f" * 16, "build", "step", T0, T0 + 5, 0, "", {c.CICD_TASK_NAME: "build"})
    )
    assert anonymous is not None
    assert seq.feed([anonymous], 0.0) == []
    assert seq.expire(5.0) == []
    out = seq.feed([root()], 5.1)  # names the workflow; the step waited long enough already
    assert names(out) == [
        "workflow_started", "step_started:build", "step_completed:build", "workflow_completed",
    ]  # fmt: skip


def test_payload_fields() -> None:
    a = span_id()
    seq = Sequencer(0.0)
    facts = [
        record(c.EVENT_EXECUTION_STARTED, T0, **{c.WORKFLOW_EXECUTION_NUMBER: 3}),
        step("a", a, T0, T0 + 1500 * MS, **{c.STEP_OUTPUT: '{"records": 100}', c.STEP_RETRY_COUNT: 0}),
        root(status="failed", **{c.WORKFLOW_ERROR: "Step 'a' failed"}),
    ]
    out = seq.feed(facts, 0.0)
    started, _, completed, failed = out
    assert started.data["execution_number"] == 3
    assert completed.data["output"] == {"records": 100}
    assert completed.data["duration_seconds"] == 1.5
    assert completed.data["timestamp"] == "2023-11-14T22:13:21.500000Z"
    assert failed.event == "workflow_failed" and failed.data["error"] == "Step 'a' failed"


def test_step_started_naming_its_dependencies_comes_after_their_end() -> None:
    a, b = span_id(), span_id()
    seq = Sequencer(1.0)
    facts = [
        record(c.EVENT_EXECUTION_STARTED, T0),
        record(c.EVENT_STEP_STARTED, T0 + 1, a, **{c.STEP_ID: "a"}),
        record(c.EVENT_STEP_STARTED, T0 + 5, b, **{c.STEP_ID: "b", c.STEP_DEPENDS_ON: ["a"]}),
    ]
    assert names(seq.feed(facts, 0.0)) == ["workflow_started", "step_started:a"]  # b waits for a's end
    out = seq.feed([step("a", a, T0 + 1, T0 + 4)], 0.2)
    assert names(out) == ["step_completed:a", "step_started:b"]
    # a dependency that never reports holds the start at most the window
    seq = Sequencer(1.0)
    seq.feed([record(c.EVENT_EXECUTION_STARTED, T0)], 0.0)
    assert (
        seq.feed([record(c.EVENT_STEP_STARTED, T0 + 5, b, **{c.STEP_ID: "b", c.STEP_DEPENDS_ON: ["x"]})], 0.1)
        == []
    )
    assert names(seq.expire(1.2)) == ["step_started:b"]


# --- cost: linear in the facts, and nothing for workflows nobody watches ------------------------


def counted(seq: Sequencer) -> list[int]:
    """Count the sequencer's attempts at releasing a fact (its unit of work)."""
    tries = [0]
    attempt = seq._try

    def counting(*args: Any) -> None:
        tries[0] += 1
        attempt(*args)

    seq._try = counting  # type: ignore[method-assign]
    return tries


def big_execution(steps: int, chained: bool) -> list[Fact]:
    """An execution of `steps` steps (each with its started record; chained: each depending on
    the one before) and its root, spread over 1 ms per step."""
    facts = [record(c.EVENT_EXECUTION_STARTED, T0)]
    for k in range(steps):
        sid, name = span_id(), f"s{k}"
        deps = {c.STEP_DEPENDS_ON: [f"s{k - 1}"]} if chained and k else {}
        facts.append(record(c.EVENT_STEP_STARTED, T0 + k * MS + 1, sid, **{c.STEP_ID: name}, **deps))
        facts.append(step(name, sid, T0 + k * MS + 1, T0 + (k + 1) * MS))
    facts.append(root(end=T0 + (steps + 1) * MS))
    return facts


def test_5000_steps_in_any_order_are_ordered_with_a_bounded_number_of_attempts_per_fact() -> None:
    """Shuffled and split into 50 commits (all inside the window): every event once, causal, and
    each fact tried at most a few times (the old sequencer re-sorted and re-tried every held
    fact on every commit and after every release: quadratic)."""
    rnd = random.Random(11)
    for chained in (False, True):
        facts = big_execution(5000, chained)
        last = facts.pop()  # the root comes last, as exporters send it
        rnd.shuffle(facts)
        seq = Sequencer(1.0)
        tries = counted(seq)
        out: list[LiveEvent] = []
        for i in range(0, len(facts), 200):
            out += seq.feed(facts[i : i + 200], now=i / 1e6)
        out += seq.feed([last], now=0.5)
        got = names(out)
        assert got[0] == "workflow_started" and got[-1] == "workflow_completed"
        assert len(got) == len(set(got)) == 2 + 2 * 5000
        position = {n: i for i, n in enumerate(got)}
        for k in range(5000):
            assert position[f"step_started:s{k}"] < position[f"step_completed:s{k}"]
            if chained and k:
                assert position[f"step_completed:s{k - 1}"] < position[f"step_started:s{k}"]
        assert not any(e.data["synthesized"] for e in out)
        assert tries[0] <= 3 * len(facts), tries[0]


def test_spans_waiting_out_the_window_one_commit_each_are_tried_once_or_twice() -> None:
    """A foreign tracer's long execution: no records, one step span per commit, 1 ms apart; each
    waits the 1 s window for a start record (so ~1,000 wait at any time). The old sequencer
    re-sorted and re-tried all of them on every commit: 16 s for these 5,000 steps."""
    seq = Sequencer(1.0)
    tries = counted(seq)
    out: list[LiveEvent] = []
    for k in range(5000):
        out += seq.feed([step(f"s{k}", span_id(), T0 + k * MS, T0 + (k + 1) * MS)], now=k / 1000)
        out += seq.expire(k / 1000)
    out += seq.feed([root(end=T0 + 5001 * MS)], now=5.0)
    out += seq.expire(7.0)
    got = names(out)
    assert got[0] == "workflow_started" and got[-1] == "workflow_completed" and len(got) == 2 + 2 * 5000
    assert got[1:-1] == [f"{e}:s{k}" for k in range(5000) for e in ("step_started", "step_completed")]
    assert tries[0] <= 2 * 5000, tries[0]


def test_facts_of_workflows_nobody_watches_are_not_built_or_kept() -> None:
    watched: set[tuple[str, str]] = set()
    seq = Sequencer(1.0, wanted=lambda ws, wf: (ws, wf) in watched)
    a = span_id()
    named = {c.WORKFLOW_ID: WF}
    spans = [
        WorkflowSpan(WS, EX, a, "f" * 16, "a", "step", T0, T0 + 5, 0, "", {**named, c.STEP_ID: "a"}),
        WorkflowSpan(WS, EX, "f" * 16, "", "RUN", "execution", T0, T0 + 9, 0, "", named),
    ]
    logs = [WorkflowLogRecord(WS, 7, c.EVENT_EXECUTION_STARTED, T0, EX, "f" * 16, None, named)]
    batch = CommittedBatch(1, None, 0, spans, logs)
    assert batch_facts(batch, seq.admits) == []
    assert seq.feed(batch_facts(batch), 0.0) == [] and seq.open_executions == 0
    watched.add((WS, WF))
    assert len(batch_facts(batch, seq.admits)) == 3


def test_an_unnamed_execution_is_held_until_named_then_dropped_if_nobody_watches_it() -> None:
    seq = Sequencer(1.0, wanted=lambda ws, wf: False)
    a = span_id()
    anonymous = WorkflowSpan(WS, EX, a, "f" * 16, "build", "step", T0, T0 + 5, 0, "", {c.CICD_TASK_NAME: "b"})
    assert seq.feed(batch_facts(CommittedBatch(1, None, 0, [anonymous]), seq.admits), 0.0) == []
    assert seq.open_executions == 1  # may belong to a watched workflow: held
    assert seq.feed([root()], 0.1) == [] and seq.open_executions == 0
    assert not seq.admits(WS, EX, None)  # the rest of it costs a lookup


def test_a_workflow_watched_mid_execution_goes_on_from_its_history() -> None:
    """As if it had been ordered all along: no workflow_started or step_started again, and a
    step that started before ends at once (no synthesized start, no wait for the window)."""
    a, b = span_id(), span_id()
    before = [
        record(c.EVENT_EXECUTION_STARTED, T0),
        record(c.EVENT_STEP_STARTED, T0 + 1 * MS, a, **{c.STEP_ID: "a"}),
        step("a", a, T0 + 1 * MS, T0 + 10 * MS),
        record(c.EVENT_STEP_STARTED, T0 + 11 * MS, b, **{c.STEP_ID: "b"}),
    ]
    after = [step("b", b, T0 + 11 * MS, T0 + 50 * MS), root()]
    watched: set[tuple[str, str]] = set()
    seq = Sequencer(1.0, wanted=lambda ws, wf: (ws, wf) in watched)
    assert seq.feed(copies(before), now=0.0) == []  # nobody watches yet
    watched.add((WS, WF))
    seq.seed(copies(before), now=5.0, wall_ns=T0 + 5 * 10**9)  # events of the history are not sent
    assert names(seq.feed(copies(after), now=5.1)) == ["step_completed:b", "workflow_completed"]
    # the history may overlap what arrives live: nothing is sent twice
    seq = Sequencer(1.0, wanted=lambda ws, wf: True)
    seq.seed(copies(before), now=5.0, wall_ns=T0 + 5 * 10**9)
    assert names(seq.feed(copies(before[2:] + after), now=5.1)) == ["step_completed:b", "workflow_completed"]


def test_a_seeded_fact_younger_than_the_window_waits_the_rest_of_it() -> None:
    a = span_id()
    seq = Sequencer(1.0, wanted=lambda ws, wf: True)
    seq.seed(
        [record(c.EVENT_EXECUTION_STARTED, T0), step("a", a, T0, T0 + 5)], now=10.0, wall_ns=T0 + 400 * MS
    )
    assert seq.next_deadline() == pytest.approx(10.6)
    assert names(seq.expire(10.7)) == ["step_started:a", "step_completed:a"]


def copies(facts: list[Fact]) -> list[Fact]:
    """Fresh facts (as a new read or commit gives): the sequencer marks those it took."""
    return [dataclasses.replace(f) for f in facts]

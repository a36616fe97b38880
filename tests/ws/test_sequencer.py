"""The ordering stage alone: facts in any order and split across commits -> causal event order."""

from __future__ import annotations

import itertools
import random
from typing import Any

from flowscope.api.ws.events import LiveEvent
from flowscope.api.ws.facts import Fact, from_record, from_span
from flowscope.api.ws.sequencer import Sequencer
from flowscope.storage.changes import WorkflowLogRecord, WorkflowSpan

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


def large_execution(n: int) -> tuple[list[Fact], list[Fact], Fact]:
    """Steps s0..s{n-1}, each depending on the one before and retried once, then a step `join`
    depending on all of them: (records, spans, root), oldest first."""
    spans, records = [], []
    for i in range(n):
        t, sid = T0 + i * 10 * MS, span_id()
        deps = {c.STEP_DEPENDS_ON: [f"s{i - 1}"]} if i else {}
        records.append(record(c.EVENT_STEP_STARTED, t + 1, sid, **{c.STEP_ID: f"s{i}", **deps}))
        records.append(
            record(c.EVENT_STEP_RETRYING, t + 2, sid, **{c.STEP_ID: f"s{i}", c.STEP_RETRY_COUNT: 1})
        )
        spans.append(step(f"s{i}", sid, t + 1, t + 5, **{c.STEP_RETRY_COUNT: 1}))
    t, sid = T0 + n * 10 * MS, span_id()
    every = {c.STEP_ID: "join", c.STEP_DEPENDS_ON: [f"s{i}" for i in range(n)]}
    records.append(record(c.EVENT_STEP_STARTED, t + 1, sid, **every))
    spans.append(step("join", sid, t + 1, t + 5))
    return records, spans, root(end=t + 10)


def check_large_execution(seq: Sequencer, out: list[LiveEvent], n: int, held: int) -> None:
    assert len(out) == 2 + 3 * n + 2 and not any(e.data["synthesized"] for e in out)
    assert names(out[:5]) == [
        "workflow_started", "step_started:s0", "step_retrying:s0", "step_completed:s0", "step_started:s1",
    ]  # fmt: skip
    assert names(out[-3:]) == ["step_started:join", "step_completed:join", "workflow_completed"]
    # Each held fact is examined on arrival and once more per wait; each dependency is checked
    # when its dependent is examined, and only until it is found ended.
    edges = (n - 1) + n
    assert seq.examined <= 2 * held + 2 * edges, (seq.examined, held, edges)


def test_ordering_a_large_execution_is_linear_in_its_facts() -> None:
    """Thousands of steps arriving in the worst order: every span first (newest first), then
    the records (newest first), in many commits. The ordering work (held facts examined,
    dependencies checked) is linear in the facts and dependencies: nothing held is
    re-sorted or re-scanned (counted, not timed)."""
    n = 3000
    records, spans, end = large_execution(n)
    facts = [*spans[::-1], end, record(c.EVENT_EXECUTION_STARTED, T0), *records[::-1]]
    seq = Sequencer(60.0)  # everything arrives within the window: nothing is synthesized
    out: list[LiveEvent] = []
    for i in range(0, len(facts), 50):
        out += seq.feed(facts[i : i + 50], now=i / 1e6)
    check_large_execution(seq, out, n, held=len(facts) - 2)  # the root and started record are not held


def test_a_step_waiting_for_thousands_of_dependencies_checks_each_once() -> None:
    """The join's record first, then each step in its own commit: the join is woken by every
    dependency's end, and resumes its check there (from the first, it would be n²/2 checks)."""
    n = 3000
    records, spans, end = large_execution(n)
    seq = Sequencer(60.0)
    out = seq.feed([record(c.EVENT_EXECUTION_STARTED, T0), records[-1]], now=0.0)
    for i in range(n):
        out += seq.feed([records[2 * i], records[2 * i + 1], spans[i]], now=i / 1e6)
    out += seq.feed([spans[-1], end], now=0.01)
    check_large_execution(seq, out, n, held=len(records) + len(spans))


def random_execution(rnd: random.Random, records: bool) -> list[Fact]:
    """Six steps with random dependencies on earlier ones and 0-2 retries each, in time order."""
    facts = [record(c.EVENT_EXECUTION_STARTED, T0)] if records else []
    t = T0
    for i in range(6):
        sid, deps = span_id(), sorted(rnd.sample([f"s{j}" for j in range(i)], rnd.randint(0, i)))
        retries = rnd.randint(0, 2)
        start = t = t + MS
        if records:
            facts.append(
                record(c.EVENT_STEP_STARTED, t, sid, **{c.STEP_ID: f"s{i}", c.STEP_DEPENDS_ON: deps})
            )
            for n in range(1, retries + 1):
                t += MS
                facts.append(
                    record(c.EVENT_STEP_RETRYING, t, sid, **{c.STEP_ID: f"s{i}", c.STEP_RETRY_COUNT: n})
                )
        t += MS
        facts.append(step(f"s{i}", sid, start, t, **{c.STEP_RETRY_COUNT: retries}))
    facts.append(root(end=t + MS))
    return facts


def assert_causal_execution(events: list[LiveEvent], facts: list[Fact], deps_kept: bool) -> None:
    got = names(events)
    assert len({e.event_id for e in events}) == len(events), got  # nothing twice
    assert got[0] == "workflow_started" and got[-1] == "workflow_completed", got
    for i in range(6):
        mine = [n.split(":")[0] for n in got if n.endswith(f":s{i}")]
        retries = sum(1 for f in facts if f.kind == 2 and f.step_id == f"s{i}")
        sent = mine.count("step_retrying")  # a retry record later than its step's end is dropped
        assert mine == ["step_started", *["step_retrying"] * sent, "step_completed"], got
        assert sent == retries if deps_kept else sent <= retries, got
        if deps_kept:
            started = got.index(f"step_started:s{i}")
            for f in facts:
                if f.kind == 1 and f.step_id == f"s{i}":
                    for dep in f.attrs[c.STEP_DEPENDS_ON]:
                        assert got.index(f"step_completed:{dep}") < started, got


def test_random_dependencies_retries_and_arrival_orders_stay_causal() -> None:
    """Any arrival order and split: within the window nothing is synthesized and dependencies
    hold; with records missing or late past the window, starts are synthesized, still in order."""
    rnd = random.Random(11)
    for trial in range(400):
        records = trial % 4 != 0
        facts = random_execution(rnd, records)
        last = facts.pop()
        rnd.shuffle(facts)
        facts.append(last)  # the root comes with or after its children
        cut = sorted(rnd.sample(range(1, len(facts)), rnd.randint(0, 5)))
        late = trial % 3 == 0  # commits further apart than the window
        seq = Sequencer(1.0)
        out: list[LiveEvent] = []
        now = 0.0
        for chunk in (facts[i:j] for i, j in zip([0, *cut], [*cut, len(facts)], strict=True)):
            out += seq.feed(chunk, now)
            now += 0.7 if late else 0.01
            out += seq.expire(now)
        out += seq.expire(now + 5)
        assert_causal_execution(out, facts, deps_kept=records and not late)
        if records and not late:
            assert not any(e.data["synthesized"] for e in out)
        assert seq.open_executions == 0

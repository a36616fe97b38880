"""Per-execution causal ordering of live events.

Ordering guarantee (per execution; executions are independent of each other):

1. `workflow_started` is the first event of an execution.
2. For each step: `step_started` comes before any `step_retrying`, and those before
   the step's single end event (`step_completed` | `step_failed` | `step_cancelled` |
   `step_skipped`). Skipped steps, and steps cancelled before they ran, have no
   `step_started`. When the `workflow.step.started` record lists the step's
   dependencies (`workflow.step.depends_on`), its `step_started` also comes after
   their end events.
3. The execution's end event (`workflow_completed` | `workflow_failed` |
   `workflow_cancelled` | `workflow_timeout`) is the last one; nothing of that
   execution is sent after it.
4. No event is sent twice (each has a stable `event_id`).

Spans and lifecycle log records travel through different exporters and requests, so
they reach the collector in any order (typically step spans and the root span before
some of the records that announced them). Each committed fact is released as soon as
everything that must precede it has been released; a fact whose predecessor is
missing waits for it at most the reorder window (1 s by default,
FLOWSCOPE_WS_REORDER_WINDOW). When the window passes, the missing `*_started` event
is synthesized from what is known (the root span's start, or the step span's start)
and marked `"synthesized": true`; the real record, should it arrive later, is then
dropped as a duplicate. The execution's end event likewise waits, at most the
window, for steps that have started but not ended yet, and a step end waits for
`step_retrying` records its span says were sent (`workflow.step.retry_count`).
Data arriving after an execution's end event was sent is stored and visible through
the REST API, but not streamed. Events of an execution whose workflow id is not yet
known (a foreign tracer that puts it only on the root span) wait until it is.
Only events with a missing predecessor are delayed; in-order data streams at once.

Cost: linear in an execution's facts, whatever their arrival order. Held facts sit in
a heap in time order. A fact that cannot be released yet waits for exactly one thing (a
step's start, a dependency's end, a step's next retry, or the span that names its
step), and releasing that thing wakes only the facts waiting for it, so each fact is
examined once on arrival and once more per predecessor it had to wait for (or when its
window passes), each time O(log n). Nothing is re-sorted or re-scanned.
"""

from __future__ import annotations

import heapq
import itertools
from collections import OrderedDict
from collections.abc import Iterable

from flowscope.api.ws import events as ev
from flowscope.api.ws.events import ExecInfo, LiveEvent, StepInfo
from flowscope.api.ws.facts import Fact, Kind, sort_key

from flowscope import conventions as c
from flowscope import workflow_meaning as m

ExecKey = tuple[str, str]  # (workspace_id, execution_id)
# Facts kept for one execution that cannot be released yet (most likely: its workflow id
# is never named); beyond this its new facts are dropped, so memory stays bounded.
MAX_HELD = 10_000
_NEVER = float("inf")

# What a held fact waits for: (reason, step id or span id).
_START, _END, _RETRY, _NAME = 0, 1, 2, 3
WaitKey = tuple[int, str]
_Entry = tuple[int, int, int, Fact]  # (time_ns, kind, seq, fact): heap order = sort_key, then arrival


class _Execution:
    __slots__ = (
        "deps", "first_deadline", "info", "last_seen", "min_start_ns", "open_steps", "pending", "ready",
        "root", "scheduled", "span_steps", "start_record", "started", "steps", "timeouts", "waits",
    )  # fmt: skip

    def __init__(self, info: ExecInfo, now: float) -> None:
        self.info = info
        self.started = False
        self.start_record: Fact | None = None  # the first execution.started record
        self.steps: dict[str, StepInfo] = {}
        self.span_steps: dict[str, str] = {}  # step span id -> step id (records may lack the id)
        self.root: Fact | None = None
        self.last_seen = now
        self.ready: list[_Entry] = []  # held facts to examine, in time order
        self.waits: dict[WaitKey, list[Fact]] = {}  # held facts waiting for a predecessor
        self.timeouts: list[tuple[float, int, Fact]] = []  # (deadline, seq, fact) of waiting facts
        self.pending = 0  # facts held (ready or waiting)
        self.open_steps = 0  # steps whose start was sent but not their end
        self.first_deadline = _NEVER  # earliest deadline of any fact: the execution's start waits that long
        self.min_start_ns: int | None = None  # earliest start of a step fact (a synthesized start's time)
        self.scheduled = _NEVER  # the wake-up time last pushed to the sequencer's deadline heap
        # step_started records waiting for dependencies, by seq: their dependencies and how
        # many of them (in order) have ended, so each is checked once however many wake it.
        self.deps: dict[int, tuple[tuple[str, ...], int]] = {}


def _ready(ex: _Execution, fact: Fact) -> None:
    heapq.heappush(ex.ready, (fact.time_ns, fact.kind, fact.seq, fact))


def _wait(ex: _Execution, key: WaitKey, fact: Fact) -> None:
    fact.waiting = True
    ex.waits.setdefault(key, []).append(fact)
    heapq.heappush(ex.timeouts, (fact.deadline, fact.seq, fact))


def _wake(ex: _Execution, key: WaitKey) -> None:
    """What waited for `key` is examined again (right away: its time is not later than now's fact)."""
    for fact in ex.waits.pop(key, ()):
        if fact.waiting:  # not released meanwhile by its deadline
            fact.waiting = False
            _ready(ex, fact)


class Sequencer:
    def __init__(
        self,
        window_seconds: float,
        *,
        max_executions: int = 100_000,
        max_finished: int = 200_000,
        idle_seconds: float = 3600.0,
    ) -> None:
        self._window = window_seconds
        self._max_executions = max_executions
        self._max_finished = max_finished
        self._idle = idle_seconds
        self._executions: OrderedDict[ExecKey, _Execution] = OrderedDict()  # least recently active first
        self._finished: OrderedDict[ExecKey, None] = OrderedDict()
        self._deadlines: list[tuple[float, ExecKey]] = []
        self._seq = itertools.count(1)
        # The ordering work done, in all: held facts examined plus dependencies checked
        # (linear in the facts and their dependencies).
        self.examined = 0

    @property
    def open_executions(self) -> int:
        return len(self._executions)

    def feed(self, facts: Iterable[Fact], now: float) -> list[LiveEvent]:
        """Add committed facts; return the events that can be released now, in order."""
        touched: dict[ExecKey, _Execution] = {}
        deadline = now + self._window
        seq = self._seq
        for fact in sorted(facts, key=sort_key):
            key = (fact.workspace_id, fact.execution_id)
            if key in self._finished:
                continue  # late or repeated data of an execution already ended
            ex = self._executions.get(key)
            if ex is None:
                ex = self._executions[key] = _Execution(ExecInfo(*key), now)
                if len(self._executions) > self._max_executions:
                    self._executions.popitem(last=False)
            else:
                self._executions.move_to_end(key)
                ex.last_seen = now
            ex.info.learn(fact)
            if not fact.deadline:
                fact.deadline = deadline
            if fact.deadline < ex.first_deadline:
                ex.first_deadline = fact.deadline
            kind = fact.kind
            if kind == Kind.EXEC_ENDED:
                if ex.root is None:
                    ex.root = fact
            elif kind == Kind.EXEC_STARTED:
                if ex.start_record is None:
                    ex.start_record = fact  # later ones are repeats
            else:
                if fact.step_id and fact.span_id and kind != Kind.STEP_RETRYING:
                    ex.span_steps[fact.span_id] = fact.step_id
                    if ex.waits:
                        _wake(ex, (_NAME, fact.span_id))  # records that lacked the step id
                if ex.pending < MAX_HELD:
                    fact.seq = next(seq)
                    ex.pending += 1
                    _ready(ex, fact)
                    if ex.min_start_ns is None or fact.start_ns < ex.min_start_ns:
                        ex.min_start_ns = fact.start_ns
            touched[key] = ex
        out: list[LiveEvent] = []
        for key, ex in touched.items():
            out.extend(self._release(key, ex, now))
        return out

    def next_deadline(self) -> float | None:
        return self._deadlines[0][0] if self._deadlines else None

    def expire(self, now: float) -> list[LiveEvent]:
        """Release what waited for its reorder window to pass; forget idle executions."""
        due: dict[ExecKey, None] = {}
        while self._deadlines and self._deadlines[0][0] <= now:
            due[heapq.heappop(self._deadlines)[1]] = None
        out: list[LiveEvent] = []
        for key in due:
            ex = self._executions.get(key)
            if ex is not None:
                ex.scheduled = _NEVER  # its entry was just taken
                out.extend(self._release(key, ex, now))
        while self._executions:
            key, ex = next(iter(self._executions.items()))
            if ex.last_seen > now - self._idle:
                break
            del self._executions[key]
        return out

    # --- release ----------------------------------------------------------------------

    def _release(self, key: ExecKey, ex: _Execution, now: float) -> list[LiveEvent]:
        out: list[LiveEvent] = []
        self._release_into(key, ex, now, out)
        if key in self._executions:
            self._schedule(key, ex, now)
        return out

    def _release_into(self, key: ExecKey, ex: _Execution, now: float, out: list[LiveEvent]) -> None:
        info = ex.info
        if info.workflow_id is None:
            return  # cannot route any event yet
        if not ex.started:
            record = ex.start_record
            if record is not None:
                out.append(ev.workflow_started(info, record.time_ns, synthesized=False))
            else:
                if ex.first_deadline > now:
                    return
                start = ex.root.start_ns if ex.root else ex.min_start_ns
                assert start is not None  # a fact arrived, and it was a root or a step's
                out.append(ev.workflow_started(info, start, synthesized=True))
            ex.started = True
        self._release_steps(ex, now, out, force=False)
        root = ex.root
        if root is None:
            return
        if ex.pending or ex.open_steps:
            if root.deadline > now:
                return
            self._release_steps(ex, now, out, force=True)
        out.append(ev.workflow_ended(info, root))
        self._finish(key)

    def _schedule(self, key: ExecKey, ex: _Execution, now: float) -> None:
        """Wake the execution up when the next thing it holds stops waiting."""
        if ex.info.workflow_id is None:
            return  # nothing is released before it is named (by a later fact: `feed` releases)
        if not ex.started:
            wake = ex.first_deadline
        else:
            wake = ex.timeouts[0][0] if ex.timeouts else _NEVER
            if ex.root is not None and ex.root.deadline < wake:
                wake = ex.root.deadline
        if now < wake < ex.scheduled:
            ex.scheduled = wake
            heapq.heappush(self._deadlines, (wake, key))

    def _release_steps(self, ex: _Execution, now: float, out: list[LiveEvent], force: bool) -> None:
        timeouts = ex.timeouts
        if force:  # the execution ends: everything held goes now
            for _, _, fact in timeouts:
                if fact.waiting:
                    fact.waiting = False
                    _ready(ex, fact)
            timeouts.clear()
            ex.waits.clear()
        else:
            while timeouts and timeouts[0][0] <= now:
                fact = heapq.heappop(timeouts)[2]
                if fact.waiting:  # its window passed: it waits no more
                    fact.waiting = False
                    _ready(ex, fact)
        ready = ex.ready
        while ready:
            fact = heapq.heappop(ready)[3]
            self.examined += 1
            if self._examine(ex, fact, force or fact.deadline <= now, out):
                ex.pending -= 1

    def _examine(self, ex: _Execution, fact: Fact, expired: bool, out: list[LiveEvent]) -> bool:
        """Release (or drop) one held fact, or make it wait for its predecessor: True when done."""
        info = ex.info
        step_id = fact.step_id or ex.span_steps.get(fact.span_id)
        if step_id is None:
            if not expired:
                _wait(ex, (_NAME, fact.span_id), fact)  # wait for the span that names the step
                return False
            return True
        step = ex.steps.get(step_id)
        if step is None:
            step = ex.steps[step_id] = StepInfo(step_id)
        step.learn(fact)
        if step.ended:
            return True  # late: the step's end was already sent
        if fact.kind == Kind.STEP_STARTED:
            if not step.started:
                if not expired:
                    dep = self._missing_dependency(ex, fact)
                    if dep is not None:
                        _wait(ex, (_END, dep), fact)
                        return False
                if ex.deps:
                    ex.deps.pop(fact.seq, None)
                out.append(ev.step_started(info, step, fact.time_ns, synthesized=False))
                step.started_by_record = True
                _started(ex, step)
            return True
        if fact.kind == Kind.STEP_RETRYING:
            if not step.started:
                if not expired:
                    _wait(ex, (_START, step_id), fact)
                    return False
                out.append(ev.step_started(info, step, fact.time_ns, synthesized=True))
                _started(ex, step)
            if step.retry_keys is None:
                step.retry_keys = set()
            number = m.new_retry(step.retry_keys, fact.attrs)
            if number is not None:
                step.retries += 1
                out.append(ev.step_retrying(info, step, fact, number))
                if ex.waits:
                    _wake(ex, (_RETRY, step_id))
            return True
        # STEP_ENDED. A step that never ran has no step_started to wait for.
        never_ran = m.step_never_ran(fact.status, fact.start_ns, fact.time_ns)
        if not never_ran and not step.started:
            if not expired:
                _wait(ex, (_START, step_id), fact)
                return False
            if fact.status != "cancelled":
                out.append(ev.step_started(info, step, fact.start_ns, synthesized=True))
                _started(ex, step)
        if step.started_by_record and step.retries < m.retry_count(fact.attrs) and not expired:
            _wait(ex, (_RETRY, step_id), fact)  # its step_retrying records are still on their way
            return False
        out.append(ev.step_ended(info, step, fact))
        step.ended = True
        if step.started:
            ex.open_steps -= 1
        if ex.waits:
            _wake(ex, (_END, step_id))
        return True

    def _missing_dependency(self, ex: _Execution, fact: Fact) -> str | None:
        """A step_started record naming its dependencies waits for their end events: the first
        dependency that has not ended, if any. Ended steps stay ended, so a later check
        resumes where this one stopped."""
        progress = ex.deps.get(fact.seq)
        if progress is None:
            deps, i = m.string_list(fact.attrs.get(c.STEP_DEPENDS_ON)), 0
        else:
            deps, i = progress
        steps = ex.steps
        while i < len(deps):
            self.examined += 1
            step = steps.get(deps[i])
            if step is None or not step.ended:
                ex.deps[fact.seq] = (deps, i)
                return deps[i]
            i += 1
        return None

    def _finish(self, key: ExecKey) -> None:
        self._executions.pop(key, None)
        self._finished[key] = None
        if len(self._finished) > self._max_finished:
            self._finished.popitem(last=False)


def _started(ex: _Execution, step: StepInfo) -> None:
    step.started = True
    ex.open_steps += 1
    if ex.waits:
        _wake(ex, (_START, step.step_id))

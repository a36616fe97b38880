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

Cost: linear in the facts (plus one sort of each commit's facts). A fact is tried when
it arrives; one that must wait is parked under what it waits for (its step's start, a
dependency's end, the span that names its step) and tried again only when that happens
or its window passes, each execution keeping its parked facts in a deadline heap.

Interest: with `wanted`, only executions of wanted workflows are ordered (plus those
already being ordered, until they end): the others cost one lookup per fact (`admits`).
An execution whose workflow id is not named yet is held until it is. When a workflow
becomes wanted mid-execution, `seed` brings its state up from the store's history, so
that what follows is ordered as if it had been followed all along.
"""

from __future__ import annotations

import heapq
import itertools
from collections import OrderedDict
from collections.abc import Callable, Iterable

from flowscope.api.ws import events as ev
from flowscope.api.ws.events import ExecInfo, LiveEvent, StepInfo
from flowscope.api.ws.facts import Fact, Kind, sort_key

from flowscope import conventions as c

ExecKey = tuple[str, str]  # (workspace_id, execution_id)
Wanted = Callable[[str, str], bool]  # (workspace_id, workflow_id) -> order its executions?
# Facts kept for one execution that cannot be released yet (most likely: its workflow id
# is never named); beyond this its new facts are dropped, so memory stays bounded.
MAX_HELD = 10_000
# Fact.state
NEW, PARKED, SETTLED = 0, 1, 2
_NEVER = float("inf")


class _Execution:
    __slots__ = (
        "by_dep", "by_span", "by_step", "first_deadline", "incoming", "info", "last_seen", "min_start",
        "open_steps", "parked", "records", "root", "scheduled", "span_steps", "start_record", "started",
        "steps", "unsettled", "woken",
    )  # fmt: skip

    def __init__(self, info: ExecInfo, now: float) -> None:
        self.info = info
        self.started = False
        self.steps: dict[str, StepInfo] = {}
        self.span_steps: dict[str, str] = {}  # step span id -> step id (records may lack the id)
        self.incoming: list[Fact] = []  # not tried yet (before the start is known, all of them)
        self.parked: list[tuple[float, int, Fact]] = []  # heap: facts that wait, by deadline
        self.by_step: dict[str, list[Fact]] = {}  # step id -> facts waiting for its start / retries
        self.by_dep: dict[str, list[Fact]] = {}  # step id -> step starts waiting for its end
        self.by_span: dict[str, list[Fact]] = {}  # span id -> records waiting for the span naming it
        self.woken: list[Fact] = []  # parked facts whose reason to wait went away
        self.unsettled = 0  # facts taken and neither sent nor dropped yet
        self.open_steps = 0  # steps started and not ended
        self.records: set[int] = set()  # record hashes seen: a record comes once
        self.start_record: Fact | None = None
        self.root: Fact | None = None
        self.first_deadline = _NEVER  # the earliest deadline of any fact taken
        self.min_start = 1 << 62  # the earliest start of any fact taken
        self.scheduled = _NEVER  # when `Sequencer._deadlines` next wakes this execution
        self.last_seen = now


def _retry_number(fact: Fact, step: StepInfo) -> int:
    """Which retry a `workflow.step.retrying` record announces (1 = the second attempt)."""
    value = fact.attrs.get(c.STEP_RETRY_COUNT)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    value = fact.attrs.get(c.STEP_ATTEMPT)  # the attempt about to run
    if isinstance(value, int) and not isinstance(value, bool) and value > 1:
        return value - 1
    return step.retries + 1


def _missing_dependency(ex: _Execution, fact: Fact) -> str | None:
    """A dependency whose end a step_started record naming it must wait for ('' for one that
    is no step id: nothing will end it), or None."""
    deps = fact.attrs.get(c.STEP_DEPENDS_ON)
    if not isinstance(deps, list):
        return None
    for dep in deps:
        if not isinstance(dep, str):
            return ""
        step = ex.steps.get(dep)
        if step is None or not step.ended:
            return dep
    return None


def _span_retry_count(fact: Fact) -> int:
    value = fact.attrs.get(c.STEP_RETRY_COUNT)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class Sequencer:
    def __init__(
        self,
        window_seconds: float,
        *,
        max_executions: int = 100_000,
        max_finished: int = 200_000,
        idle_seconds: float = 3600.0,
        wanted: Wanted | None = None,
    ) -> None:
        self._window = window_seconds
        self._max_executions = max_executions
        self._max_finished = max_finished
        self._idle = idle_seconds
        self._wanted = wanted  # None: every workflow
        self._executions: OrderedDict[ExecKey, _Execution] = OrderedDict()  # least recently active first
        self._finished: OrderedDict[ExecKey, None] = OrderedDict()
        self._ignored: OrderedDict[ExecKey, None] = OrderedDict()  # named a workflow not wanted
        self._deadlines: list[tuple[float, ExecKey]] = []
        self._order = itertools.count()  # ties in the parked heaps

    @property
    def open_executions(self) -> int:
        return len(self._executions)

    def admits(self, workspace_id: str, execution_id: str, workflow_id: str | None) -> bool:
        """Whether a fact of this execution would be ordered (decided before it is built)."""
        key = (workspace_id, execution_id)
        if key in self._executions:
            return True  # being ordered: until it ends, even if nobody watches any more
        if key in self._finished or key in self._ignored:
            return False
        return workflow_id is None or self._wanted is None or self._wanted(workspace_id, workflow_id)

    def feed(self, facts: Iterable[Fact], now: float) -> list[LiveEvent]:
        """Add committed facts; return the events that can be released now, in order."""
        deadline = now + self._window
        return self._take(sorted(facts, key=sort_key), now, lambda _: deadline)

    def seed(self, facts: Iterable[Fact], now: float, wall_ns: int) -> None:
        """Take the stored history of a workflow that just became wanted (events it gives are
        dropped: they happened before anyone watched). Each fact has waited since its own time
        (wall clock `wall_ns` now): older than the window, it waits no more."""
        window = self._window
        facts = sorted(facts, key=sort_key)
        for fact in facts:
            self._ignored.pop((fact.workspace_id, fact.execution_id), None)
        self._take(facts, now, lambda f: now + window - max(0.0, (wall_ns - f.time_ns) / 1e9))

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
                if ex.scheduled <= now:
                    ex.scheduled = _NEVER
                out.extend(self._release(key, ex, now))
        while self._executions:
            key, ex = next(iter(self._executions.items()))
            if ex.last_seen > now - self._idle:
                break
            del self._executions[key]
        return out

    # --- taking facts -----------------------------------------------------------------

    def _take(self, facts: list[Fact], now: float, deadline_of: Callable[[Fact], float]) -> list[LiveEvent]:
        touched: dict[ExecKey, _Execution] = {}
        for fact in facts:
            if fact.state != NEW:
                continue  # this very fact was taken before
            key = (fact.workspace_id, fact.execution_id)
            ex = self._execution(key, fact, now)
            if ex is None:
                continue
            if fact.record_hash:
                if fact.record_hash in ex.records:
                    continue  # the same record again (a seed's history overlapping live data)
                ex.records.add(fact.record_hash)
            anonymous = ex.info.workflow_id is None
            ex.info.learn(fact)
            if anonymous and ex.info.workflow_id is not None and not self._wants(ex.info):
                self._ignore(key)
                touched.pop(key, None)
                continue
            if fact.step_id and fact.span_id and fact.kind in (Kind.STEP_STARTED, Kind.STEP_ENDED):
                ex.span_steps[fact.span_id] = fact.step_id
                waiting = ex.by_span.pop(fact.span_id, None)
                if waiting:
                    ex.woken.extend(waiting)
            fact.deadline = deadline_of(fact)
            if fact.kind == Kind.EXEC_ENDED:
                if ex.root is not None:
                    continue
                ex.root = fact
            elif ex.unsettled < MAX_HELD:
                ex.incoming.append(fact)
                ex.unsettled += 1
                if fact.kind == Kind.EXEC_STARTED and ex.start_record is None:
                    ex.start_record = fact
            else:
                continue
            ex.first_deadline = min(ex.first_deadline, fact.deadline)
            ex.min_start = min(ex.min_start, fact.start_ns)
            touched[key] = ex
        out: list[LiveEvent] = []
        for key, ex in touched.items():
            out.extend(self._release(key, ex, now))
        return out

    def _execution(self, key: ExecKey, fact: Fact, now: float) -> _Execution | None:
        ex = self._executions.get(key)
        if ex is not None:
            self._executions.move_to_end(key)
            ex.last_seen = now
            return ex
        if key in self._finished or key in self._ignored:
            return None  # late or repeated data of an execution already ended (or not wanted)
        if fact.workflow_id is not None and not self._wants_workflow(fact.workspace_id, fact.workflow_id):
            return None
        ex = self._executions[key] = _Execution(ExecInfo(*key), now)
        if len(self._executions) > self._max_executions:
            self._executions.popitem(last=False)
        return ex

    def _wants_workflow(self, workspace_id: str, workflow_id: str) -> bool:
        return self._wanted is None or self._wanted(workspace_id, workflow_id)

    def _wants(self, info: ExecInfo) -> bool:
        return info.workflow_id is None or self._wants_workflow(info.workspace_id, info.workflow_id)

    def _ignore(self, key: ExecKey) -> None:
        self._executions.pop(key, None)
        self._ignored[key] = None
        if len(self._ignored) > self._max_finished:
            self._ignored.popitem(last=False)

    # --- release ----------------------------------------------------------------------

    def _release(self, key: ExecKey, ex: _Execution, now: float) -> list[LiveEvent]:
        info = ex.info
        out: list[LiveEvent] = []
        if info.workflow_id is None:
            return out  # cannot route any event yet
        if not ex.started:
            record = ex.start_record
            if record is not None:
                out.append(ev.workflow_started(info, record.time_ns, synthesized=False))
            elif ex.first_deadline <= now:
                start = ex.root.start_ns if ex.root else ex.min_start
                out.append(ev.workflow_started(info, start, synthesized=True))
            else:
                self._schedule(key, ex, ex.first_deadline, now)
                return out
            ex.started = True
        # What came in, and what waited long enough, in one run in time order (as a single pass
        # over everything held would have it).
        ready, ex.incoming = ex.incoming, []
        parked = ex.parked
        while parked and parked[0][0] <= now:
            fact = heapq.heappop(parked)[2]
            if fact.state != SETTLED:
                ready.append(fact)
        if ready or ex.woken:
            self._run(ex, ready, now, out, force=False)
        root = ex.root
        if root is None:
            self._schedule(key, ex, self._next_parked(ex), now)
            return out
        if ex.unsettled or ex.open_steps:  # the end waits for the steps, at most its window
            if root.deadline > now:
                self._schedule(key, ex, min(self._next_parked(ex), root.deadline), now)
                return out
            self._run(ex, self._parked_facts(ex), now, out, force=True)
        out.append(ev.workflow_ended(info, root))
        self._finish(key)
        return out

    def _schedule(self, key: ExecKey, ex: _Execution, when: float, now: float) -> None:
        """Wake this execution at `when` (one heap entry per change of plan)."""
        if now < when < ex.scheduled and self._window > 0:
            ex.scheduled = when
            heapq.heappush(self._deadlines, (when, key))

    def _next_parked(self, ex: _Execution) -> float:
        parked = ex.parked
        while parked and parked[0][2].state == SETTLED:
            heapq.heappop(parked)
        return parked[0][0] if parked else _NEVER

    def _parked_facts(self, ex: _Execution) -> list[Fact]:
        facts = [f for _, _, f in ex.parked if f.state != SETTLED]
        ex.parked.clear()
        return facts

    def _run(self, ex: _Execution, facts: list[Fact], now: float, out: list[LiveEvent], force: bool) -> None:
        """Try the facts in time order; those a release unblocks join the run at their time."""
        order = self._order
        work = [(f.time_ns, f.kind, next(order), f) for f in facts]
        heapq.heapify(work)
        while True:
            if ex.woken:
                for f in ex.woken:
                    heapq.heappush(work, (f.time_ns, f.kind, next(order), f))
                ex.woken = []
            if not work:
                return
            fact = heapq.heappop(work)[3]
            if fact.state != SETTLED:
                self._try(ex, fact, out, force or fact.deadline <= now)

    def _park(self, ex: _Execution, fact: Fact, index: dict[str, list[Fact]], reason: str) -> None:
        index.setdefault(reason, []).append(fact)
        if fact.state == NEW:
            fact.state = PARKED
            heapq.heappush(ex.parked, (fact.deadline, next(self._order), fact))

    @staticmethod
    def _settle(ex: _Execution, fact: Fact) -> None:
        fact.state = SETTLED
        ex.unsettled -= 1

    @staticmethod
    def _wake(ex: _Execution, index: dict[str, list[Fact]], reason: str) -> None:
        waiting = index.pop(reason, None)
        if waiting:
            ex.woken.extend(waiting)

    def _started(self, ex: _Execution, step: StepInfo) -> None:
        step.started = True
        ex.open_steps += 1
        self._wake(ex, ex.by_step, step.step_id)

    def _try(self, ex: _Execution, fact: Fact, out: list[LiveEvent], expired: bool) -> None:
        """Send what `fact` announces if its predecessors were sent (or it waited long enough:
        `expired`), park it under the missing predecessor, or drop it as late or repeated."""
        info = ex.info
        if fact.kind == Kind.EXEC_STARTED:
            self._settle(ex, fact)  # workflow_started was already sent
            return
        step_id = fact.step_id or ex.span_steps.get(fact.span_id)
        if step_id is None:
            if expired:
                self._settle(ex, fact)
            else:
                self._park(ex, fact, ex.by_span, fact.span_id)  # wait for the span that names the step
            return
        step = ex.steps.get(step_id)
        if step is None:
            step = ex.steps[step_id] = StepInfo(step_id)
        step.learn(fact)
        if step.ended:
            self._settle(ex, fact)  # late: the step's end was already sent
            return
        if fact.kind == Kind.STEP_STARTED:
            if not step.started:
                dep = None if expired else _missing_dependency(ex, fact)
                if dep is not None:
                    self._park(ex, fact, ex.by_dep, dep)
                    return
                out.append(ev.step_started(info, step, fact.time_ns, synthesized=False))
                step.started_by_record = True
                self._started(ex, step)
            self._settle(ex, fact)
            return
        if fact.kind == Kind.STEP_RETRYING:
            if not step.started:
                if not expired:
                    self._park(ex, fact, ex.by_step, step_id)
                    return
                out.append(ev.step_started(info, step, fact.time_ns, synthesized=True))
                self._started(ex, step)
            number = _retry_number(fact, step)
            seen = step.retry_keys if step.retry_keys is not None else set()
            step.retry_keys = seen
            if number not in seen:
                seen.add(number)
                step.retries += 1
                out.append(ev.step_retrying(info, step, fact, number))
                self._wake(ex, ex.by_step, step_id)  # an end waiting for its retries
            self._settle(ex, fact)
            return
        # STEP_ENDED. Skipped steps never start; nor do steps cancelled before they ran
        # (zero-length spans): neither has a step_started to wait for.
        never_ran = fact.status == "skipped" or (fact.status == "cancelled" and fact.start_ns == fact.time_ns)
        if not never_ran and not step.started:
            if not expired:
                self._park(ex, fact, ex.by_step, step_id)
                return
            if fact.status != "cancelled":
                out.append(ev.step_started(info, step, fact.start_ns, synthesized=True))
                self._started(ex, step)
        if step.started_by_record and step.retries < _span_retry_count(fact) and not expired:
            self._park(ex, fact, ex.by_step, step_id)  # its step_retrying records are still on their way
            return
        out.append(ev.step_ended(info, step, fact))
        step.ended = True
        if step.started:
            ex.open_steps -= 1
        self._wake(ex, ex.by_dep, step_id)
        self._wake(ex, ex.by_step, step_id)  # what still waits for this step is late now
        self._settle(ex, fact)

    def _finish(self, key: ExecKey) -> None:
        self._executions.pop(key, None)
        self._finished[key] = None
        if len(self._finished) > self._max_finished:
            self._finished.popitem(last=False)

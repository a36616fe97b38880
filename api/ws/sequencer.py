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
"""

from __future__ import annotations

import heapq
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


class _Execution:
    __slots__ = ("held", "info", "last_seen", "root", "span_steps", "started", "steps")

    def __init__(self, info: ExecInfo, now: float) -> None:
        self.info = info
        self.started = False
        self.steps: dict[str, StepInfo] = {}
        self.span_steps: dict[str, str] = {}  # step span id -> step id (records may lack the id)
        self.held: list[Fact] = []
        self.root: Fact | None = None
        self.last_seen = now


def _awaits_dependencies(ex: _Execution, fact: Fact) -> bool:
    """A step_started record naming its dependencies waits for their end events."""
    for dep in m.string_list(fact.attrs.get(c.STEP_DEPENDS_ON)):
        step = ex.steps.get(dep)
        if step is None or not step.ended:
            return True
    return False


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

    @property
    def open_executions(self) -> int:
        return len(self._executions)

    def feed(self, facts: Iterable[Fact], now: float) -> list[LiveEvent]:
        """Add committed facts; return the events that can be released now, in order."""
        touched: dict[ExecKey, _Execution] = {}
        deadline = now + self._window
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
            if fact.step_id and fact.span_id and fact.kind in (Kind.STEP_STARTED, Kind.STEP_ENDED):
                ex.span_steps[fact.span_id] = fact.step_id
            fact.deadline = deadline
            if fact.kind == Kind.EXEC_ENDED:
                if ex.root is None:
                    ex.root = fact
            elif len(ex.held) < MAX_HELD:
                ex.held.append(fact)
            touched[key] = ex
        if touched and self._window > 0:
            for key in touched:
                heapq.heappush(self._deadlines, (deadline, key))
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
                out.extend(self._release(key, ex, now))
        while self._executions:
            key, ex = next(iter(self._executions.items()))
            if ex.last_seen > now - self._idle:
                break
            del self._executions[key]
        return out

    # --- release ----------------------------------------------------------------------

    def _release(self, key: ExecKey, ex: _Execution, now: float) -> list[LiveEvent]:
        info = ex.info
        out: list[LiveEvent] = []
        if info.workflow_id is None:
            return out  # cannot route any event yet
        if not ex.started:
            record = next((f for f in ex.held if f.kind == Kind.EXEC_STARTED), None)
            if record is not None:
                out.append(ev.workflow_started(info, record.time_ns, synthesized=False))
            else:
                pending = [*ex.held, *([ex.root] if ex.root else [])]
                if not any(f.deadline <= now for f in pending):
                    return out
                start = ex.root.start_ns if ex.root else min(f.start_ns for f in pending)
                out.append(ev.workflow_started(info, start, synthesized=True))
            ex.started = True
        if ex.held:
            self._release_steps(ex, now, out, force=False)
        root = ex.root
        if root is None:
            return out
        open_steps = bool(ex.held) or any(s.started and not s.ended for s in ex.steps.values())
        if open_steps:
            if root.deadline > now:
                return out
            self._release_steps(ex, now, out, force=True)
        out.append(ev.workflow_ended(info, root))
        self._finish(key)
        return out

    def _release_steps(self, ex: _Execution, now: float, out: list[LiveEvent], force: bool) -> None:
        info = ex.info
        progress = True
        while progress and ex.held:
            progress = False
            keep: list[Fact] = []
            for fact in sorted(ex.held, key=sort_key):
                expired = force or fact.deadline <= now
                if fact.kind == Kind.EXEC_STARTED:
                    continue  # a repeat: workflow_started was already sent
                step_id = fact.step_id or ex.span_steps.get(fact.span_id)
                if step_id is None:
                    if not expired:
                        keep.append(fact)  # wait for the span that names the step
                    continue
                step = ex.steps.get(step_id)
                if step is None:
                    step = ex.steps[step_id] = StepInfo(step_id)
                step.learn(fact)
                if step.ended:
                    continue  # late: the step's end was already sent
                if fact.kind == Kind.STEP_STARTED:
                    if not step.started:
                        if not expired and _awaits_dependencies(ex, fact):
                            keep.append(fact)
                            continue
                        out.append(ev.step_started(info, step, fact.time_ns, synthesized=False))
                        step.started = step.started_by_record = True
                        progress = True
                    continue
                if fact.kind == Kind.STEP_RETRYING:
                    if not step.started:
                        if not expired:
                            keep.append(fact)
                            continue
                        out.append(ev.step_started(info, step, fact.time_ns, synthesized=True))
                        step.started = True
                    if step.retry_keys is None:
                        step.retry_keys = set()
                    number = m.new_retry(step.retry_keys, fact.attrs)
                    if number is not None:
                        step.retries += 1
                        out.append(ev.step_retrying(info, step, fact, number))
                        progress = True
                    continue
                # STEP_ENDED. A step that never ran has no step_started to wait for.
                never_ran = m.step_never_ran(fact.status, fact.start_ns, fact.time_ns)
                if not never_ran and not step.started:
                    if not expired:
                        keep.append(fact)
                        continue
                    if fact.status != "cancelled":
                        out.append(ev.step_started(info, step, fact.start_ns, synthesized=True))
                        step.started = True
                if step.started_by_record and step.retries < m.retry_count(fact.attrs) and not expired:
                    keep.append(fact)  # its step_retrying records are still on their way
                    continue
                out.append(ev.step_ended(info, step, fact))
                step.ended = True
                progress = True
            ex.held = keep

    def _finish(self, key: ExecKey) -> None:
        self._executions.pop(key, None)
        self._finished[key] = None
        if len(self._finished) > self._max_finished:
            self._finished.popitem(last=False)

"""Interest: which committed workflow spans and records the live feeds need at all.

Only executions of workflows someone subscribes to (a workflow feed, or a step feed of
that workflow: ordering a step's events needs its siblings, e.g. for dependencies)
become facts. Anything else costs a role check, one attribute read and one dict lookup
per span or lifecycle record, before any fact is built; with no subscriber at all, the
hub does not even look at a batch.

Joining mid-execution. Tracking an execution starts with the first of its facts that
arrives while its workflow has a subscriber; earlier facts were never kept. What came
before reaches a client through `?since=` replay (api/ws/replay.py reads whole
executions from the store). For what follows, the sequencer treats the facts it never
saw as it treats any missing predecessor: after the reorder window it synthesizes the
missing `workflow_started` / `step_started`, with the same `event_id`s as the real ones,
so a client that replayed them drops the repeats (Subscriber.resume) and a client
without `since` still sees every execution begin before its steps. Causal order thus
holds for every subscriber; the price is up to one window's delay for the first events
of executions already running when their workflow gets its first subscriber.

Executions whose workflow id is not on every span (a foreign tracer that names the
pipeline only on the root span, e.g. bare `cicd.*` task spans): their anonymous spans and
records are parked as they came, until a span or record of the same execution names
the workflow. Then they become facts if it is of interest, keeping the deadline of
their arrival (they waited already), or are dropped. Parked items and remembered names
are bounded (oldest first out).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Container

from flowscope.api.ws.facts import LIFECYCLE_EVENT_NAMES, Fact, from_record, from_span
from flowscope.storage.changes import CommittedBatch, WorkflowLogRecord, WorkflowSpan

from flowscope import workflow_meaning as m

WorkflowKey = tuple[str, str]  # (workspace_id, workflow_id)
ExecKey = tuple[str, str]  # (workspace_id, execution_id)
Item = WorkflowSpan | WorkflowLogRecord

_ROLES = frozenset({m.EXECUTION, m.STEP})  # attempt spans make no events
_LIFECYCLE = frozenset(LIFECYCLE_EVENT_NAMES)


class InterestFilter:
    def __init__(
        self, interest: Container[WorkflowKey], window_seconds: float, *, max_parked: int = 100_000,
        max_named: int = 10_000,
    ) -> None:  # fmt: skip
        # `interest` is read, never written, here: the hub keeps it (its keys are the
        # workflows with at least one subscriber).
        self._interest = interest
        self._window = window_seconds
        self._max_parked = max_parked
        self._max_named = max_named
        self._parked: OrderedDict[ExecKey, list[tuple[float, Item]]] = OrderedDict()
        self._parked_items = 0
        self._named: OrderedDict[ExecKey, str] = OrderedDict()  # executions whose workflow a span named

    @property
    def parked(self) -> int:
        """Anonymous spans and records waiting for their execution's workflow to be named."""
        return self._parked_items

    def facts(self, batch: CommittedBatch, now: float) -> list[Fact]:
        """The facts of `batch` that belong to workflows of interest (plus parked ones it names)."""
        interest = self._interest
        out: list[Fact] = []
        for span in batch.workflow_spans:
            role = span.role
            if role not in _ROLES:
                continue
            workflow = m.workflow_id(span.attributes)
            if workflow is None:
                self._anonymous((span.workspace_id, span.trace_id), span, now, out)
                continue
            if role == m.EXECUTION or self._parked:
                self._name((span.workspace_id, span.trace_id), workflow, out)
            if (span.workspace_id, workflow) in interest:
                fact = from_span(span)
                if fact is not None:
                    out.append(fact)
        for record in batch.workflow_logs:
            if record.event_name not in _LIFECYCLE:
                continue
            attrs = record.attributes
            workflow = m.workflow_id(attrs)
            if workflow is None:
                execution = m.execution_id(record.trace_id, attrs)
                if execution:
                    self._anonymous((record.workspace_id, execution), record, now, out)
                continue
            if self._parked:
                execution = m.execution_id(record.trace_id, attrs)
                if execution:
                    self._name((record.workspace_id, execution), workflow, out)
            if (record.workspace_id, workflow) in interest:
                fact = from_record(record)
                if fact is not None:
                    out.append(fact)
        return out

    def _name(self, key: ExecKey, workflow: str, out: list[Fact]) -> None:
        """A span or record named the workflow of execution `key`: release what was parked for it."""
        named = self._named
        named[key] = workflow
        if len(named) > self._max_named:
            named.popitem(last=False)
        items = self._parked.pop(key, None)
        if items is None:
            return
        self._parked_items -= len(items)
        if (key[0], workflow) not in self._interest:
            return
        for arrived, item in items:
            fact = _fact(item, workflow)
            if fact is not None:
                fact.deadline = arrived + self._window  # it waited since it arrived
                out.append(fact)

    def _anonymous(self, key: ExecKey, item: Item, now: float, out: list[Fact]) -> None:
        workflow = self._named.get(key)
        if workflow is not None:
            if (key[0], workflow) in self._interest:
                fact = _fact(item, workflow)
                if fact is not None:
                    out.append(fact)
            return
        parked = self._parked
        items = parked.get(key)
        if items is None:
            items = parked[key] = []
        items.append((now, item))
        self._parked_items += 1
        while self._parked_items > self._max_parked:
            _, dropped = parked.popitem(last=False)
            self._parked_items -= len(dropped)


def _fact(item: Item, workflow: str) -> Fact | None:
    fact = from_span(item) if isinstance(item, WorkflowSpan) else from_record(item)
    if fact is not None:
        fact.workflow_id = workflow
    return fact

"""`?since=` replay: the committed events of a workflow after a time, from the store.

The executions with activity after `since` are read whole from `store.replay` (every
workflow span and lifecycle record, also those before `since`) and run through the same
`Sequencer` as live data, with a zero reorder window since nothing more is coming for
this pass: events, ordering and synthesized starts come out exactly as live ones, with
the same `event_id`s. Then only events whose timestamp is after `since` are kept.

Bounded: at most `replay_max_executions` executions (most recently active first) and
`replay_max_events` events (the most recent); `truncated` says when something was cut.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from flowscope.api.ws.config import LiveConfig
from flowscope.api.ws.events import LiveEvent
from flowscope.api.ws.facts import LIFECYCLE_EVENT_NAMES, Fact, from_record, from_span
from flowscope.api.ws.sequencer import Sequencer
from flowscope.storage.interfaces import Store
from flowscope.storage.replay import WorkflowHistory


@dataclass(slots=True)
class ReplayResult:
    events: list[LiveEvent]
    truncated: bool


def _facts(history: WorkflowHistory) -> list[Fact]:
    facts = [from_span(span) for span in history.spans] + [from_record(r) for r in history.records]
    return [fact for fact in facts if fact is not None]


def replay(
    store: Store, config: LiveConfig, workspace_id: str, workflow_id: str, step_id: str | None, since_ns: int
) -> ReplayResult:
    """Committed events of `workflow_id` (or of one step) with a timestamp after `since_ns`."""
    history = store.replay.workflow_history(
        workspace_id, workflow_id, since_ns, LIFECYCLE_EVENT_NAMES, config.replay_max_executions
    )
    truncated = history.truncated
    facts = _facts(history)
    per_execution: dict[str, list[LiveEvent]] = {}
    for event in Sequencer(0.0).feed(facts, 0.0):
        per_execution.setdefault(event.execution_id, []).append(event)
    # Interleave executions by time; heapq.merge keeps each execution's own order.
    since_us = since_ns // 1000
    events = [
        e
        for e in heapq.merge(*per_execution.values(), key=lambda e: e.time_ns)
        if e.workflow_id == workflow_id
        and e.time_ns // 1000 > since_us
        and (step_id is None or e.step_id == step_id)
    ]
    if len(events) > config.replay_max_events:
        events = events[-config.replay_max_events :]
        truncated = True
    return ReplayResult(events, truncated)

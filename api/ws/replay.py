"""`?since=` replay: the committed events of a workflow after a time, from the database.

The executions with activity after `since` are loaded whole (every workflow span and
lifecycle record, also those before `since`) and run through the same `Sequencer` as
live data, with a zero reorder window since nothing more is coming for this pass:
events, ordering and synthesized starts come out exactly as live ones, with the same
`event_id`s. Then only events whose timestamp is after `since` are kept.

Bounded: at most `replay_max_executions` executions (most recently active first) and
`replay_max_events` events (the most recent); `truncated` says when something was cut.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

from flowscope.api.ws.config import LiveConfig
from flowscope.api.ws.events import LiveEvent
from flowscope.api.ws.facts import LIFECYCLE_EVENT_NAMES, Fact, from_record, from_span
from flowscope.api.ws.sequencer import Sequencer
from flowscope.collector.anyvalue import any_value_to_python
from flowscope.storage.changes import WorkflowLogRecord, WorkflowSpan
from flowscope.storage.duckdb.store import Store
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from flowscope import conventions as c

_LIFECYCLE = ", ".join(f"'{name}'" for name in LIFECYCLE_EVENT_NAMES)

_EXECUTIONS_SQL = f"""
WITH candidates AS (
    SELECT execution_id,
           greatest(coalesce(ended_ns, 0), coalesce(started_ns, 0), coalesce(queued_ns, 0)) AS t
    FROM executions
    WHERE workspace_id = $ws AND workflow_id = $wf AND (status_rank < 3 OR ended_ns > $since)
    UNION ALL
    SELECT execution_id, max(end_ns) AS t
    FROM spans
    WHERE workspace_id = $ws AND workflow_id = $wf AND span_role IN ('execution', 'step')
      AND end_ns > $since
    GROUP BY execution_id
    UNION ALL
    SELECT execution_id, max(time_ns) AS t
    FROM logs
    WHERE workspace_id = $ws AND workflow_id = $wf AND event_name IN ({_LIFECYCLE}) AND time_ns > $since
    GROUP BY execution_id
)
SELECT execution_id FROM candidates
GROUP BY execution_id
ORDER BY max(t) DESC
LIMIT $limit
"""

_SPANS_SQL = """
SELECT trace_id, span_id, parent_span_id, name, span_role, start_ns, end_ns, status_code,
       status_message, span
FROM spans
WHERE workspace_id = $ws AND execution_id IN (SELECT unnest($ids::VARCHAR[]))
  AND span_role IN ('execution', 'step')
"""

_LOGS_SQL = f"""
SELECT record_hash, event_name, time_ns, trace_id, span_id, body, record
FROM logs
WHERE workspace_id = $ws AND execution_id IN (SELECT unnest($ids::VARCHAR[]))
  AND event_name IN ({_LIFECYCLE})
"""

_PREFIXES = ("workflow.", "cicd.pipeline.")


@dataclass(slots=True)
class ReplayResult:
    events: list[LiveEvent]
    truncated: bool


def _attributes(attributes: Any) -> dict[str, Any]:
    """The attributes the collector decodes for the event bus (convert._workflow_attributes)."""
    return {
        kv.key: any_value_to_python(kv.value)
        for kv in attributes
        if kv.key.startswith(_PREFIXES) or kv.key in (c.ERROR_TYPE, c.EVENT_NAME)
    }


def load_facts(store: Store, workspace_id: str, execution_ids: list[str]) -> list[Fact]:
    cur = store.cursor()
    params = {"ws": workspace_id, "ids": execution_ids}
    facts: list[Fact] = []
    for trace_id, span_id, parent, name, role, start, end, code, message, blob in cur.execute(
        _SPANS_SQL, params
    ).fetchall():
        attrs = _attributes(Span.FromString(blob).attributes)
        span = WorkflowSpan(
            workspace_id, trace_id, span_id, parent, name, role, start, end, code, message, attrs
        )
        fact = from_span(span)
        if fact is not None:
            facts.append(fact)
    for record_hash, event_name, time_ns, trace_id, span_id, body, blob in cur.execute(
        _LOGS_SQL, params
    ).fetchall():
        attrs = _attributes(LogRecord.FromString(blob).attributes)
        record = WorkflowLogRecord(
            workspace_id, record_hash, event_name, time_ns, trace_id, span_id, body, attrs
        )
        fact = from_record(record)
        if fact is not None:
            facts.append(fact)
    return facts


def replay(
    store: Store, config: LiveConfig, workspace_id: str, workflow_id: str, step_id: str | None, since_ns: int
) -> ReplayResult:
    """Committed events of `workflow_id` (or of one step) with a timestamp after `since_ns`."""
    cur = store.cursor()
    rows = cur.execute(
        _EXECUTIONS_SQL,
        {"ws": workspace_id, "wf": workflow_id, "since": since_ns, "limit": config.replay_max_executions + 1},
    ).fetchall()
    truncated = len(rows) > config.replay_max_executions
    execution_ids = [r[0] for r in rows[: config.replay_max_executions]]
    if not execution_ids:
        return ReplayResult([], truncated)
    facts = load_facts(store, workspace_id, execution_ids)
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

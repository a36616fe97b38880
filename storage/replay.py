"""Replay reads: a workflow's committed history for the live feeds' `?since=` (`store.replay`).

The history comes as the change feed's own objects (`WorkflowSpan`, `WorkflowLogRecord`),
so the feeds sequence it exactly as they sequence live data. The shared rules of
`flowscope.storage.interfaces` hold (tenancy, [] for not found, Unix ns times, plain rows,
one committed state per call).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from flowscope.storage.changes import WorkflowLogRecord, WorkflowSpan


@dataclass(frozen=True, slots=True)
class WorkflowHistory:
    """The stored history of some executions of one workflow."""

    spans: list[WorkflowSpan]
    """Their execution and step spans (not attempts), in no particular order."""
    records: list[WorkflowLogRecord]
    """Their log records of the asked event names, in no particular order."""
    truncated: bool
    """More executions were active than the history holds."""


class ReplayReader(Protocol):
    """What a live feed replays before it goes live."""

    def workflow_history(
        self,
        workspace_id: str,
        workflow_id: str,
        since_ns: int,
        event_names: Sequence[str],
        max_executions: int,
    ) -> WorkflowHistory:
        """The history of the executions of `workflow_id` active after `since_ns`.

        Active after `since_ns` (strictly): not finished, or finished after it, or with an
        execution or step span ending after it, or a record of `event_names` after it. Of those, the
        `max_executions` most recently active (by the latest of their queued, started and
        ended times, span ends and record times) are read whole: every execution and step
        span and every record of `event_names`, also those before `since_ns`, with the
        attributes the change feed carries (`anyvalue.workflow_attributes`).
        An unknown workflow, or none active, has an empty history."""
        ...

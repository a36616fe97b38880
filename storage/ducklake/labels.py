"""How a lake node labels its telemetry commits, so the other nodes can follow them
(storage/ducklake/follow.py): DuckLake's commit message of the snapshot, one rule for both sides.

- author: `flowscope` (commits without it, such as catalog writes, retention and `flowscope
  maintain`, insert no telemetry and are not followed);
- message: the committing node's id (a node skips its own commits: its writer published them);
- extra info: how many workflow spans and workflow log records the commit inserted, which the
  follower checks it read back (fewer means rows it can no longer read: a gap, never a skip).

A workflow span is a span with a role; a workflow log record one with an execution id: the
rows whose change-feed objects the writer publishes (collector/convert.py), selected by the
same predicates in sql/follow/.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

AUTHOR = "flowscope"


def new_node_id() -> str:
    """This process's id among the lake's nodes: readable in the catalog, unique per start."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class Label:
    node_id: str
    workflow_spans: int
    workflow_logs: int

    def extra_info(self) -> str:
        return json.dumps({"workflow_spans": self.workflow_spans, "workflow_logs": self.workflow_logs})


def label(node_id: str, spans: pa.Table | None, logs: pa.Table | None) -> Label:
    """The label of a commit inserting `spans` and `logs` (the writer's Arrow batches)."""
    n_spans = 0 if spans is None else spans.num_rows - spans.column("span_role").null_count
    n_logs = 0
    if logs is not None and logs.num_rows:
        execution = pc.fill_null(logs.column("execution_id"), "")
        n_logs = int(pc.sum(pc.not_equal(execution, "")).as_py() or 0)
    return Label(node_id, n_spans, n_logs)


def parse(author: str | None, message: str | None, extra_info: str | None) -> Label | None:
    """The label of a snapshot, None for a commit that is not a node's telemetry commit."""
    if author != AUTHOR or not message or not extra_info:
        return None
    try:
        counts = json.loads(extra_info)
        return Label(message, int(counts["workflow_spans"]), int(counts["workflow_logs"]))
    except (ValueError, KeyError, TypeError):
        return None

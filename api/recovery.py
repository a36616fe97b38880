"""Recovery at start (`flowscope serve` runs it once the engine is up: flowscope/compose.py
`start_engine`): triggers acknowledged but not committed when the process died are stored
from the trigger journal (api/journal.py), then executions a crash left open are closed
through the engine."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from flowscope.api.journal import TriggerJournal
from flowscope.collector.prepare import prepare
from flowscope.storage.batches import ExecutionNumbers, WriteRequest
from flowscope.storage.executions import OpenExecution
from flowscope.storage.interfaces import Store
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

if TYPE_CHECKING:
    from flowscope.engine.host import EngineHost

log = logging.getLogger("flowscope.api")


async def replay_journal(store: Store, journal: TriggerJournal) -> int:
    """Store the journaled triggers whose executions are not stored (a crash came before
    their commit), with their execution numbers, then empty the journal. Before any
    execute is taken (numbers continue from the replayed counters) and before
    `close_interrupted` (which then closes these executions as interrupted)."""
    entries = await asyncio.to_thread(journal.entries)
    if not entries:
        return 0

    def missing(workspace_id: str, ids: list[str]) -> bool:
        # An entry is one transaction: stored whole or not at all.
        return any(store.executions.execution(workspace_id, e) is None for e in ids)

    replayed = 0
    for entry in entries:
        if not await asyncio.to_thread(missing, entry.workspace_id, entry.execution_ids):
            continue
        message = ExportLogsServiceRequest.FromString(entry.logs)
        prepared = prepare("logs", message, entry.workspace_id)
        prepared.execution_numbers = ExecutionNumbers(entry.workspace_id, entry.next_numbers)
        ws = entry.workspace_id
        request = WriteRequest("logs", message, ws, prepared.result.accepted, prepared=prepared)
        await asyncio.wrap_future(store.writer.submit(request))  # raises: the server does not start
        replayed += len(entry.execution_ids)
    await asyncio.to_thread(journal.clear)
    if replayed:
        log.warning("stored %d acknowledged execution(s) a crash left uncommitted (journal)", replayed)
    return replayed


async def close_interrupted(store: Store, engine: EngineHost) -> int:
    """Executions our engine left pending/running when the process died: emit their root
    span as failed ("interrupted"), so they end through the collector like any other. For a
    store one process owns (the DuckDB file): on a shared lake, other nodes' engines run
    executions too, and api/cluster.py closes only a dead node's."""
    service = engine.telemetry.config.service_name
    open_ones = await asyncio.to_thread(store.executions.open_executions, service)
    emit_interrupted(engine, open_ones)
    if open_ones:
        await asyncio.to_thread(engine.telemetry.flush)
        log.warning("closed %d execution(s) left running by a previous run as failed", len(open_ones))
    return len(open_ones)


def emit_interrupted(
    engine: EngineHost, executions: Sequence[OpenExecution], end_ns: int | None = None
) -> None:
    """Each execution's root span, ended failed ("interrupted") at `end_ns` (default: now;
    never before it started), queued for export (the caller flushes)."""
    for e in executions:
        engine.emit_interrupted(
            workspace_id=e.workspace_id, trace_id=e.execution_id, root_span_id=e.root_span_id,
            workflow_id=e.workflow_id, workflow_name=e.workflow_name or e.workflow_id,
            execution_number=e.execution_number or 0, start_time_ns=e.start_ns,
            project_id=e.project_id, end_time_ns=None if end_ns is None else max(end_ns, e.start_ns),
            flush=False,
        )  # fmt: skip

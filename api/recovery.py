"""Recovery at start: executions a crash left open are closed through the engine
(`flowscope serve` runs it once the engine is up: flowscope/compose.py `start_engine`)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from flowscope.storage.interfaces import Store

if TYPE_CHECKING:
    from flowscope.engine.host import EngineHost

log = logging.getLogger("flowscope.api")


async def close_interrupted(store: Store, engine: EngineHost) -> int:
    """Executions our engine left pending/running when the process died: emit their root
    span as failed ("interrupted"), so they end through the collector like any other."""
    service = engine.telemetry.config.service_name
    open_ones = await asyncio.to_thread(store.executions.open_executions, service)
    for e in open_ones:
        engine.emit_interrupted(
            workspace_id=e.workspace_id, trace_id=e.execution_id, root_span_id=e.root_span_id,
            workflow_id=e.workflow_id, workflow_name=e.workflow_name or e.workflow_id,
            execution_number=e.execution_number or 0, start_time_ns=e.start_ns,
            project_id=e.project_id, flush=False,
        )  # fmt: skip
    if open_ones:
        await asyncio.to_thread(engine.telemetry.flush)
        log.warning("closed %d execution(s) left running by a previous run as failed", len(open_ones))
    return len(open_ones)

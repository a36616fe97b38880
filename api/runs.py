"""Starting executions in this server's engine (the execute endpoint and the demo).

The engine runs on a loop of its own (`engine.host.EngineHost`); its validation and
planning, CPU-heavy for big definitions, run in a worker thread: nothing here holds the
serving loop for longer than a hand-off. Its per-workspace quotas answer 429.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool

from api.catalog import workflows as catalog
from api.context import AppContext
from api.definitions import problems_422
from api.errors import or_404
from api.queries.records import fetch_row

# How long `start` waits for the engine's queued record to be committed, so that a
# GET right after the 202 finds the execution (the engine exports every ~100 ms).
VISIBILITY_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class Started:
    execution_id: str
    workflow_id: str
    execution_number: int
    inputs: dict[str, Any]
    created_at: datetime


async def start(
    context: AppContext, workspace_id: str, workflow_id: str, inputs: dict[str, Any], *, wait: bool = True
) -> Started:
    """Take the next execution number and submit; HTTP errors for unknown workflows (404),
    invalid definitions or inputs (422), a workspace over its quotas (429 + Retry-After)
    and a missing engine (503)."""
    from engine.admission import QuotaExceeded

    engine = context.engine
    if engine is None:
        raise HTTPException(503, "the workflow engine is not running in this server")

    def read() -> catalog.Workflow | None:
        return catalog.get(context.store.cursor(), workspace_id, workflow_id)

    def reserve() -> catalog.Reservation | None:
        return catalog.reserve_execution(context.store.cursor(), workspace_id, workflow_id)

    # Validate (and check the quota) before taking a number, so rejected requests leave no
    # gaps in the numbering (but for a quota filled by a concurrent request in between).
    wf = or_404(await run_in_threadpool(read), "Workflow", workflow_id)
    plan = await _prepare(engine, wf.definition)
    _check_inputs(plan.definition, inputs)
    try:
        await engine.check_quota(workspace_id)
        reservation = or_404(await run_in_threadpool(reserve), "Workflow", workflow_id)
        if reservation.workflow.version != wf.version:  # updated in between: use what was reserved
            wf = reservation.workflow
            plan = await _prepare(engine, wf.definition)
        created = datetime.now(UTC)
        handle = await engine.submit(
            plan, inputs, workflow_id=wf.id, execution_number=reservation.execution_number,
            workspace_id=workspace_id, project_id=wf.project_id,
        )  # fmt: skip
    except QuotaExceeded as exc:
        raise quota_error(exc) from None
    except ValueError as exc:  # the engine's InputError (inputs valid for the old version only)
        raise _input_error(exc) from None
    execution_id: str = handle.execution_id
    if wait:
        await _until_visible(context, workspace_id, execution_id)
    return Started(execution_id, wf.id, reservation.execution_number, inputs, created)


async def _prepare(engine: Any, definition: dict[str, Any]) -> Any:
    """The engine's plan for a stored definition (validated once per version), or a 422."""
    from engine.validation import DefinitionError

    try:
        return await engine.prepare(definition)
    except DefinitionError as exc:  # valid when stored, not under this server's config
        raise problems_422(exc.problems) from None


def quota_error(exc: Any) -> HTTPException:
    """429 for `engine.admission.QuotaExceeded`, with the wait it advises as Retry-After."""
    return HTTPException(429, exc.message, headers={"Retry-After": str(exc.retry_after)})


def _input_error(exc: ValueError) -> HTTPException:
    problems = getattr(exc, "problems", None) or [str(exc)]
    return HTTPException(
        422, [{"loc": ["body", "input_variables"], "msg": p, "type": "input_error"} for p in problems]
    )


def _check_inputs(definition: Any, inputs: dict[str, Any]) -> None:
    """The engine's input check (declared names, types, required), as a 422."""
    from engine.inputs import resolve_inputs

    try:
        resolve_inputs(definition, inputs)
    except ValueError as exc:
        raise _input_error(exc) from None


async def _until_visible(context: AppContext, workspace_id: str, execution_id: str) -> None:
    watcher = context.extras.get("commit_watcher")
    if watcher is None:
        return
    committed = watcher.watch(execution_id)
    try:
        stored = await run_in_threadpool(
            lambda: fetch_row(context.store.cursor(), workspace_id, execution_id)
        )
        if stored is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(committed, VISIBILITY_TIMEOUT_SECONDS)
    finally:
        watcher.forget(execution_id)

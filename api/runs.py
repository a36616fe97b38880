"""Starting executions in this server's engine (the execute endpoint and the demo).

The engine runs on a loop of its own (`engine.host.EngineHost`); a workflow version is
planned once, in a worker thread (api/intake.py caches the plan), so nothing here holds the
serving loop for longer than a hand-off. Executions are journaled and queued for the writer
before the 202 and before they run (api/intake.py); reads wait for their commit
(api/visibility.py `VisibilityBarrier`), so they are readable right after the 202.
Per-workspace quotas answer 429 with Retry-After; a bulk request is admitted whole or not
at all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException
from flowscope.api.context import AppContext
from flowscope.api.definitions import problems_422
from flowscope.api.errors import not_found, or_404
from flowscope.api.intake import WorkflowGone
from flowscope.storage.errors import QueueFull, StorageUnavailable, WriterStopped
from starlette.concurrency import run_in_threadpool

if TYPE_CHECKING:
    from flowscope.engine.telemetry import RemoteParent

# When the engine exports elsewhere (api/intake.py), how long `start` waits for its queued
# records to come back through the collector, so that a GET right after the 202 finds them.
VISIBILITY_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class Started:
    execution_id: str
    workflow_id: str
    execution_number: int
    inputs: dict[str, Any]
    created_at: datetime


async def start(
    context: AppContext,
    workspace_id: str,
    workflow_id: str,
    inputs: dict[str, Any],
    *,
    wait: bool = True,
    triggered_by: RemoteParent | None = None,
) -> Started:
    """One execution (see `start_many`); invalid inputs are named at `body.input_variables`."""
    (started,) = await start_many(
        context, workspace_id, workflow_id, [inputs], wait=wait, bulk=False, triggered_by=triggered_by
    )
    return started


async def start_many(
    context: AppContext,
    workspace_id: str,
    workflow_id: str,
    input_sets: Sequence[dict[str, Any]],
    *,
    wait: bool = True,
    bulk: bool = True,
    triggered_by: RemoteParent | None = None,
) -> list[Started]:
    """Start one execution per input set, in order, all or none. HTTP errors for unknown
    workflows (404), invalid definitions or inputs (422, naming every invalid input set), a
    workspace without room for all of them (429 + Retry-After), a missing engine or a store
    that cannot record now (503). `triggered_by`: the caller's span each new root span links to."""
    from flowscope.engine.admission import QuotaExceeded
    from flowscope.engine.validation import DefinitionError

    limit = context.settings.max_bulk_executions
    if len(input_sets) > limit:
        raise HTTPException(422, [{
            "loc": ["body", "input_sets"], "type": "too_long",
            "msg": f"at most {limit} input sets per request (--max-bulk-executions), got {len(input_sets)}",
        }])  # fmt: skip
    engine = context.engine
    intake = context.intake
    if engine is None or intake is None:
        raise HTTPException(503, "the workflow engine is not running in this server")
    try:
        found = await intake.target(workspace_id, workflow_id)
    except DefinitionError as exc:  # valid when stored, not under this server's config
        raise problems_422(exc.problems) from None
    target = or_404(found, "Workflow", workflow_id)
    resolved = _resolve_inputs(target.plan.definition, input_sets, bulk)
    try:
        handles = await engine.submit_many(
            target.plan, resolved, workflow_id=workflow_id, workspace_id=workspace_id,
            project_id=target.workflow.project_id, numbers=intake.numbers(target),
            record=intake.record, triggered_by=triggered_by,
        )  # fmt: skip
    except QuotaExceeded as exc:
        raise quota_error(exc) from None
    except WorkflowGone:  # deleted on another node since it was read
        raise not_found("Workflow", workflow_id) from None
    except (QueueFull, StorageUnavailable, WriterStopped) as exc:
        raise HTTPException(
            503, f"cannot record executions now: {exc}", headers={"Retry-After": "1"}
        ) from exc
    started = [
        Started(h.execution_id, workflow_id, h.execution_number, inputs, h.queued_at)
        for h, inputs in zip(handles, resolved, strict=True)
    ]
    if wait and not intake.direct:
        await _until_visible(context, workspace_id, [s.execution_id for s in started])
    return started


def quota_error(exc: Any) -> HTTPException:
    """429 for `engine.admission.QuotaExceeded`, with the wait it advises as Retry-After."""
    return HTTPException(429, exc.message, headers={"Retry-After": str(exc.retry_after)})


def _resolve_inputs(
    definition: Any, input_sets: Sequence[dict[str, Any]], bulk: bool
) -> list[dict[str, Any]]:
    """Each set with its defaults (the engine's check: declared names, types, required);
    one 422 naming every invalid set."""
    from flowscope.engine.inputs import resolve_inputs

    resolved, errors = [], []
    for index, inputs in enumerate(input_sets):
        try:
            resolved.append(resolve_inputs(definition, inputs))
        except ValueError as exc:
            loc = ["body", "input_sets", index] if bulk else ["body", "input_variables"]
            problems = getattr(exc, "problems", None) or [str(exc)]
            errors.extend({"loc": loc, "msg": p, "type": "input_error"} for p in problems)
    if errors:
        raise HTTPException(422, errors)
    return resolved


async def _until_visible(context: AppContext, workspace_id: str, execution_ids: list[str]) -> None:
    """Wait (at most VISIBILITY_TIMEOUT_SECONDS) until each execution is stored."""
    watcher = context.commit_watcher
    committed = [watcher.watch(execution_id) for execution_id in execution_ids]
    try:
        stored = await run_in_threadpool(
            lambda: [context.store.executions.execution(workspace_id, e) is not None for e in execution_ids]
        )
        waiting = [future for future, found in zip(committed, stored, strict=True) if not found]
        if waiting:
            context.store.writer.hurry()  # if the records are queued: no commit pacing for them
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*waiting), VISIBILITY_TIMEOUT_SECONDS)
    finally:
        for execution_id in execution_ids:
            watcher.forget(execution_id)

"""`flowscope serve --demo`: seed the examples into the default workspace and run each
a few times, then say where to look."""

from __future__ import annotations

import logging

from fastapi import HTTPException
from flowscope.api import runs
from flowscope.api.context import AppContext
from flowscope.api.examples import example_definitions, example_inputs
from flowscope.storage.catalog import DEFAULT_WORKSPACE_ID, Workflow

log = logging.getLogger("flowscope.api")


def seed_default(context: AppContext) -> list[Workflow]:
    """The examples in the default workspace, created unless a workflow of that name exists."""
    catalog = context.store.catalog
    seeded = []
    for _, definition in example_definitions():
        existing, _ = catalog.workflows(DEFAULT_WORKSPACE_ID, name=definition["name"], limit=1)
        if existing:
            seeded.append(existing[0])
            continue
        seeded.append(
            catalog.create_workflow(
                DEFAULT_WORKSPACE_ID,
                project_id=None,
                name=definition["name"],
                description=definition.get("description"),
                definition=definition,
            )
        )
    return seeded


async def run_demo(context: AppContext, runs_each: int, api: str) -> None:
    """Seed the examples, start each `runs_each` times, and print where to look (`api`: the
    API's base URL)."""
    workflows = seed_default(context)
    started = 0
    for wf in workflows:
        for i in range(runs_each):
            try:
                await runs.start(
                    context, DEFAULT_WORKSPACE_ID, wf.id, example_inputs(wf.definition, i), wait=False
                )
                started += 1
            except HTTPException as exc:
                log.warning("demo: cannot run %s: %s", wf.name, exc.detail)
    print(
        f"demo: {len(workflows)} example workflows in workspace 'default', {started} executions started",
        flush=True,
    )
    for wf in workflows:
        print(f"demo:   {wf.name}: {api}/api/workflows/{wf.id}/executions", flush=True)
    print(f"demo: web UI at {api}/ (workflows, live executions, Gantt, compare)", flush=True)
    print(
        f"demo: API docs at {api}/docs; timelines at {api}/api/workflows/executions/<id>/timeline", flush=True
    )

"""The steps a workflow's catalog definition declares, for the execution views (steps not
yet seen in the telemetry are shown pending, in definition order)."""

from __future__ import annotations

from flowscope.api.queries.steps import DefinedStep
from flowscope.storage.catalog import Catalog


def defined_steps(catalog: Catalog, workspace_id: str, workflow_id: str) -> list[DefinedStep] | None:
    """The steps the catalog definition declares, in definition order; None if not in the catalog."""
    workflow = catalog.get_workflow(workspace_id, workflow_id)
    if workflow is None:
        return None
    steps = workflow.definition.get("steps") or []
    return [
        DefinedStep(
            str(s.get("id")),
            str(s.get("name") or s.get("id")),
            tuple(str(d) for d in s.get("depends_on") or ()),
        )
        for s in steps
        if isinstance(s, dict) and s.get("id")
    ]

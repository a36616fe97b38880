"""The steps a workflow's catalog definition declares, for the execution views (steps not
yet seen in the telemetry are shown pending, in definition order)."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

from flowscope.api.queries.steps import DefinedStep
from flowscope.storage.catalog import Catalog

# The steps of recently read workflows, valid while the catalog's generation is unchanged: the
# details of every unfinished execution need them, and reading the workflow was a fourth query
# (~25% of a details GET right after a trigger).
_CACHED = 256  # workflows per catalog
_Entries = OrderedDict[tuple[str, str], tuple[int, list[DefinedStep]]]
_caches: weakref.WeakKeyDictionary[Catalog, _Entries] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def defined_steps(catalog: Catalog, workspace_id: str, workflow_id: str) -> list[DefinedStep] | None:
    """The steps the catalog definition declares, in definition order; None if not in the catalog."""
    generation = catalog.generation()  # read first: a change meanwhile makes the entry stale
    cached = cached_steps(catalog, workspace_id, workflow_id, generation)
    if cached is not None:
        return cached
    key = (workspace_id, workflow_id)
    steps = _read_steps(catalog, workspace_id, workflow_id)
    if steps is None:  # not cached: creating a workflow leaves the generation as it is
        return None
    with _cache_lock:
        cache = _caches.setdefault(catalog, OrderedDict())
        cache[key] = (generation, steps)
        cache.move_to_end(key)
        while len(cache) > _CACHED:
            cache.popitem(last=False)
    return list(steps)


def cached_steps(
    catalog: Catalog, workspace_id: str, workflow_id: str, generation: int | None = None
) -> list[DefinedStep] | None:
    """`defined_steps` when they are cached and current, else None: no query (an event loop
    may call it)."""
    generation = catalog.generation() if generation is None else generation
    with _cache_lock:
        cache = _caches.setdefault(catalog, OrderedDict())
        hit = cache.get((workspace_id, workflow_id))
        if hit is None or hit[0] != generation:
            return None
        cache.move_to_end((workspace_id, workflow_id))
        return list(hit[1])


def _read_steps(catalog: Catalog, workspace_id: str, workflow_id: str) -> list[DefinedStep] | None:
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

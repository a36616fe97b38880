"""Catalog (`store.catalog`, storage/catalog.py): workspaces, projects, workflows, tokens.

The tests share one store: each creates the workspaces it writes to (ids are the store's), so
none sees another's rows; only the first test looks at a whole (new) store.
"""

from __future__ import annotations

import re
import time

import pytest
from flowscope.storage.catalog import DEFAULT_WORKSPACE_ID, Catalog, Workspace
from flowscope.storage.errors import Conflict
from flowscope.storage.interfaces import Store

DEFINITION = {"name": "etl", "steps": [{"id": "initialize", "action": {"type": "noop"}}]}


@pytest.fixture
def catalog(store: Store) -> Catalog:
    return store.catalog


_count = iter(range(10**6))


def _workspace(catalog: Catalog) -> Workspace:
    n = next(_count)
    return catalog.create_workspace(f"conformance-{n}", f"Conformance {n}")


def _recent(ns: int) -> bool:
    return abs(time.time_ns() - ns) < 600 * 10**9


def test_a_new_store_has_the_default_workspace(new_store: Store) -> None:
    store = new_store
    [default] = store.catalog.workspaces()
    assert default.id == DEFAULT_WORKSPACE_ID
    assert store.catalog.find_workspace(slug=default.slug) == DEFAULT_WORKSPACE_ID
    a, b = _workspace(store.catalog), _workspace(store.catalog)
    assert [w.id for w in store.catalog.workspaces()] == [DEFAULT_WORKSPACE_ID, a.id, b.id]  # oldest first


def test_workspaces_are_found_by_id_or_slug(catalog: Catalog) -> None:
    ws = _workspace(catalog)
    assert re.fullmatch(r"ws_[0-9a-f]{16}", ws.id)
    assert _recent(ws.created_ns)
    assert catalog.get_workspace(ws.id) == ws
    assert catalog.find_workspace(workspace_id=ws.id) == ws.id
    assert catalog.find_workspace(slug=ws.slug) == ws.id
    assert catalog.get_workspace("ws_0000000000000000") is None
    assert catalog.find_workspace(workspace_id="ws_0000000000000000") is None
    assert catalog.find_workspace(slug="no-such-slug") is None


def test_a_taken_slug_is_a_conflict_that_changes_nothing(catalog: Catalog) -> None:
    ws = _workspace(catalog)
    before = catalog.workspaces()
    with pytest.raises(Conflict):
        catalog.create_workspace(ws.slug, "another name")
    assert catalog.workspaces() == before


def test_projects_are_kept_per_workspace(catalog: Catalog) -> None:
    ws, other = _workspace(catalog), _workspace(catalog)
    first = catalog.create_project(ws.id, "first", None)
    second = catalog.create_project(ws.id, "second", "the second one")
    assert re.fullmatch(r"prj_[0-9a-f]{16}", first.id)
    assert (first.workspace_id, first.name, first.description) == (ws.id, "first", None)
    assert _recent(first.created_ns) and first.updated_ns == first.created_ns
    assert catalog.projects(ws.id) == [first, second]  # oldest first
    assert catalog.get_project(ws.id, second.id) == second
    # Another workspace sees none of them, and cannot change or delete them.
    assert catalog.projects(other.id) == []
    assert catalog.get_project(other.id, first.id) is None
    assert catalog.update_project(other.id, first.id, {"name": "taken over"}) is None
    assert catalog.delete_project(other.id, first.id) is False
    assert catalog.get_project(ws.id, first.id) == first


def test_a_project_update_sets_only_the_given_fields(catalog: Catalog) -> None:
    ws = _workspace(catalog)
    project = catalog.create_project(ws.id, "before", "kept")
    assert catalog.update_project(ws.id, project.id, {}) == project  # nothing to change
    updated = catalog.update_project(ws.id, project.id, {"name": "after"})
    assert updated is not None
    assert (updated.name, updated.description, updated.created_ns) == ("after", "kept", project.created_ns)
    assert updated.updated_ns >= project.updated_ns
    assert catalog.get_project(ws.id, project.id) == updated
    with pytest.raises(ValueError):
        catalog.update_project(ws.id, project.id, {"workspace_id": "elsewhere"})
    assert catalog.update_project(ws.id, "prj_0000000000000000", {"name": "x"}) is None


def test_a_project_with_workflows_cannot_be_deleted(catalog: Catalog) -> None:
    ws = _workspace(catalog)
    project = catalog.create_project(ws.id, "p", None)
    workflow = catalog.create_workflow(
        ws.id, project_id=project.id, name="w", description=None, definition={}
    )
    with pytest.raises(Conflict):
        catalog.delete_project(ws.id, project.id)
    assert catalog.get_project(ws.id, project.id) == project
    assert catalog.delete_workflow(ws.id, workflow.id) is True
    assert catalog.delete_project(ws.id, project.id) is True
    assert catalog.get_project(ws.id, project.id) is None
    assert catalog.delete_project(ws.id, project.id) is False


def test_a_new_workflow(catalog: Catalog) -> None:
    ws = _workspace(catalog)
    workflow = catalog.create_workflow(
        ws.id, project_id="prj_unchecked0000", name="etl", description="d", definition=DEFINITION
    )
    assert re.fullmatch(r"wf_[0-9a-f]{16}", workflow.id)
    assert (workflow.workspace_id, workflow.project_id, workflow.name, workflow.description) == (
        ws.id, "prj_unchecked0000", "etl", "d",
    )  # fmt: skip
    assert (workflow.definition, workflow.version, workflow.next_execution_number) == (DEFINITION, 1, 1)
    assert _recent(workflow.created_ns)
    assert catalog.get_workflow(ws.id, workflow.id) == workflow


def test_workflows_page_newest_first_with_filters(catalog: Catalog) -> None:
    ws, other = _workspace(catalog), _workspace(catalog)
    p1, p2 = catalog.create_project(ws.id, "p1", None), catalog.create_project(ws.id, "p2", None)
    made = [
        catalog.create_workflow(ws.id, project_id=p, name=n, description=None, definition={})
        for p, n in ((p1.id, "a"), (p2.id, "b"), (p1.id, "c"), (None, "a"))
    ]
    newest_first = [w.id for w in reversed(made)]
    items, total = catalog.workflows(ws.id)
    assert ([w.id for w in items], total) == (newest_first, 4)
    items, total = catalog.workflows(ws.id, skip=1, limit=2)
    assert ([w.id for w in items], total) == (newest_first[1:3], 4)
    items, total = catalog.workflows(ws.id, project_id=p1.id)
    assert ([w.id for w in items], total) == ([made[2].id, made[0].id], 2)
    items, total = catalog.workflows(ws.id, name="a")
    assert ([w.id for w in items], total) == ([made[3].id, made[0].id], 2)
    assert catalog.workflows(ws.id, skip=4) == ([], 4)
    assert catalog.workflows(other.id) == ([], 0)
    assert catalog.get_workflow(other.id, made[0].id) is None


def test_a_workflow_update_bumps_the_version_only_for_a_new_definition(catalog: Catalog) -> None:
    ws = _workspace(catalog)
    workflow = catalog.create_workflow(ws.id, project_id=None, name="w", description=None, definition={})
    renamed = catalog.update_workflow(ws.id, workflow.id, {"name": "renamed"})
    assert renamed is not None and (renamed.name, renamed.version) == ("renamed", 1)
    assert renamed.updated_ns >= workflow.updated_ns
    redefined = catalog.update_workflow(ws.id, workflow.id, {"definition": DEFINITION})
    assert redefined is not None and (redefined.definition, redefined.version) == (DEFINITION, 2)
    assert catalog.get_workflow(ws.id, workflow.id) == redefined
    with pytest.raises(ValueError):
        catalog.update_workflow(ws.id, workflow.id, {"version": 9})
    other = _workspace(catalog)
    assert catalog.update_workflow(other.id, workflow.id, {"name": "x"}) is None
    assert catalog.delete_workflow(other.id, workflow.id) is False
    assert catalog.delete_workflow(ws.id, workflow.id) is True
    assert catalog.get_workflow(ws.id, workflow.id) is None
    assert catalog.update_workflow(ws.id, workflow.id, {"name": "x"}) is None
    assert catalog.delete_workflow(ws.id, workflow.id) is False


def test_tokens_are_found_by_hash_while_active(catalog: Catalog) -> None:
    ws, other = _workspace(catalog), _workspace(catalog)
    viewer = catalog.add_token(ws.id, f"hash-{ws.id}-1", "viewer", "ci")
    admin = catalog.add_token(ws.id, f"hash-{ws.id}-2", "admin", None, server_admin=True)
    assert re.fullmatch(r"tok_[0-9a-f]{16}", viewer.id)
    assert (viewer.workspace_id, viewer.role, viewer.name, viewer.server_admin, viewer.revoked_ns) == (
        ws.id, "viewer", "ci", False, None,
    )  # fmt: skip
    assert admin.server_admin is True
    assert catalog.token_by_hash(f"hash-{ws.id}-1") == viewer
    assert catalog.token_by_hash("no-such-hash") is None
    with pytest.raises(Conflict):
        catalog.add_token(other.id, f"hash-{ws.id}-1", "admin", None)
    assert catalog.tokens(other.id) == []
    assert catalog.revoke_token(other.id, viewer.id) is False  # not the other workspace's
    assert catalog.revoke_token(ws.id, viewer.id) is True
    assert catalog.revoke_token(ws.id, viewer.id) is False  # no longer active
    assert catalog.token_by_hash(f"hash-{ws.id}-1") is None
    listed = catalog.tokens(ws.id)  # revoked ones included, oldest first
    assert [t.id for t in listed] == [viewer.id, admin.id]
    assert listed[0].revoked_ns is not None and _recent(listed[0].revoked_ns)


def test_the_generation_changes_with_what_caches_may_hold(catalog: Catalog) -> None:
    ws = _workspace(catalog)
    g = catalog.generation()
    workflow = catalog.create_workflow(ws.id, project_id=None, name="w", description=None, definition={})
    token = catalog.add_token(ws.id, f"hash-{ws.id}", "viewer", None)
    assert catalog.generation() == g  # creates leave it alone
    catalog.update_workflow(ws.id, workflow.id, {"name": "w2"})
    assert catalog.generation() != g
    g = catalog.generation()
    catalog.revoke_token(ws.id, token.id)
    assert catalog.generation() != g
    g = catalog.generation()
    catalog.delete_workflow(ws.id, workflow.id)
    assert catalog.generation() != g

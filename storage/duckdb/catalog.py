"""The catalog (`flowscope.storage.catalog.Catalog`) in the DuckDB file, beside the telemetry.

Writes are serialized by one lock per store: DuckDB cursors are per thread, and two
transactions updating the same row would otherwise fail with a conflict instead of queueing.
Workflow definitions are stored as JSON text and decoded here.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb
import orjson
from flowscope.storage.catalog import (
    PROJECT_FIELDS,
    WORKFLOW_FIELDS,
    Project,
    Token,
    Workflow,
    Workspace,
    new_id,
)
from flowscope.storage.duckdb.errors import mapped_errors
from flowscope.storage.duckdb.sqlfiles import sql
from flowscope.storage.errors import Conflict

if TYPE_CHECKING:
    from flowscope.storage.duckdb.store import Store

Row = tuple[Any, ...]
T = TypeVar("T")


def _workflow(row: Row) -> Workflow:
    return Workflow(*row[:5], orjson.loads(row[5]), *row[6:])


def _set_flags(changes: Mapping[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    """The update statements' parameters: `set_<field>` flags and values for every field."""
    unknown = changes.keys() - fields
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    params: dict[str, Any] = {}
    for field in fields:
        params[f"set_{field}"] = field in changes
        params[field] = changes.get(field)
    return params


class DuckDBCatalog:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._write_lock = threading.Lock()
        self._changes = itertools.count(1)
        self._generation = 0

    def generation(self) -> int:
        return self._generation

    # --- plumbing ---------------------------------------------------------------------

    def _statement(self, name: str) -> str:
        """The text of statement `name` (storage/duckdb/sql/queries/catalog/)."""
        return sql(f"queries/catalog/{name}")

    def _all(self, name: str, params: Mapping[str, Any]) -> list[Row]:
        with mapped_errors():
            return self._store.cursor().execute(self._statement(name), params).fetchall()

    def _one(self, name: str, params: Mapping[str, Any]) -> Row | None:
        rows = self._all(name, params)
        return rows[0] if rows else None

    def _write(self, name: str, params: Mapping[str, Any]) -> list[Row]:
        """One statement, serialized with every other catalog write of this store."""
        with self._write_lock:
            return self._all(name, params)

    def _change(self, name: str, params: Mapping[str, Any]) -> bool:
        """A write that may leave a cached workflow or token stale (`generation`): whether it
        changed a row (the statement returns the rows it changed)."""
        changed = bool(self._write(name, params))
        if changed:
            self._generation = next(self._changes)
        return changed

    @contextlib.contextmanager
    def _transaction(self, *, write: bool) -> Iterator[None]:
        """One transaction on this thread's cursor: a consistent read, or a write serialized
        with every other catalog write of this store."""
        cur = self._store.cursor()
        with self._write_lock if write else contextlib.nullcontext(), mapped_errors():
            cur.execute("BEGIN")
            try:
                yield
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    # --- workspaces -----------------------------------------------------------------------

    def workspaces(self) -> list[Workspace]:
        return [Workspace(*r) for r in self._all("workspaces", {"id": None})]

    def get_workspace(self, workspace_id: str) -> Workspace | None:
        row = self._one("workspaces", {"id": workspace_id})
        return Workspace(*row) if row else None

    def find_workspace(self, *, workspace_id: str | None = None, slug: str | None = None) -> str | None:
        by_id = workspace_id is not None
        row = self._one("workspace_id", {"id": workspace_id, "slug": None if by_id else slug})
        return row[0] if row else None

    def create_workspace(self, slug: str, name: str) -> Workspace:
        workspace_id = new_id("ws_")
        try:
            self._write("workspace_insert", {"id": workspace_id, "slug": slug, "name": name})
        except duckdb.ConstraintException:
            raise slug_taken(slug) from None
        return found(self.get_workspace(workspace_id))

    # --- projects -----------------------------------------------------------------------------

    def projects(self, workspace_id: str) -> list[Project]:
        return [Project(*r) for r in self._all("projects", {"workspace_id": workspace_id, "id": None})]

    def get_project(self, workspace_id: str, project_id: str) -> Project | None:
        row = self._one("projects", {"workspace_id": workspace_id, "id": project_id})
        return Project(*row) if row else None

    def create_project(self, workspace_id: str, name: str, description: str | None) -> Project:
        project_id = new_id("prj_")
        params = {"id": project_id, "workspace_id": workspace_id, "name": name, "description": description}
        self._write("project_insert", params)
        return found(self.get_project(workspace_id, project_id))

    def update_project(
        self, workspace_id: str, project_id: str, changes: Mapping[str, Any]
    ) -> Project | None:
        params = {**_set_flags(changes, PROJECT_FIELDS), "workspace_id": workspace_id, "id": project_id}
        if changes and not self._write("project_update", params):
            return None
        return self.get_project(workspace_id, project_id)

    def delete_project(self, workspace_id: str, project_id: str) -> bool:
        key = {"workspace_id": workspace_id, "id": project_id}
        with self._transaction(write=True):
            if self.get_project(workspace_id, project_id) is None:
                return False
            (count,) = found(self._one("project_workflow_count", key))
            if count:
                raise Conflict(f"project {project_id!r} still has {count} workflow(s)")
            self._all("project_delete", key)
        return True

    # --- workflows ----------------------------------------------------------------------------

    def workflows(
        self, workspace_id: str, *, project_id: str | None = None, name: str | None = None,
        skip: int = 0, limit: int = 50,
    ) -> tuple[list[Workflow], int]:  # fmt: skip
        filters = {"workspace_id": workspace_id, "project_id": project_id, "name": name}
        with self._transaction(write=False):  # the page and the total from one state
            rows = self._all("workflows", {**filters, "id": None, "skip": skip, "limit": limit})
            (total,) = found(self._one("workflows_count", filters))
        return [_workflow(r) for r in rows], total

    def get_workflow(self, workspace_id: str, workflow_id: str) -> Workflow | None:
        params = {"workspace_id": workspace_id, "id": workflow_id, "project_id": None, "name": None}
        row = self._one("workflows", {**params, "skip": 0, "limit": 1})
        return _workflow(row) if row else None

    def create_workflow(
        self, workspace_id: str, *, project_id: str | None, name: str, description: str | None,
        definition: dict[str, Any],
    ) -> Workflow:  # fmt: skip
        workflow_id = new_id("wf_")
        params = {
            "id": workflow_id, "workspace_id": workspace_id, "project_id": project_id, "name": name,
            "description": description, "definition": orjson.dumps(definition).decode(),
        }  # fmt: skip
        self._write("workflow_insert", params)
        return found(self.get_workflow(workspace_id, workflow_id))

    def update_workflow(
        self, workspace_id: str, workflow_id: str, changes: Mapping[str, Any]
    ) -> Workflow | None:
        params = _set_flags(changes, WORKFLOW_FIELDS)
        if "definition" in changes:
            params["definition"] = orjson.dumps(changes["definition"]).decode()
        if not self._change("workflow_update", {**params, "workspace_id": workspace_id, "id": workflow_id}):
            return None
        return self.get_workflow(workspace_id, workflow_id)

    def delete_workflow(self, workspace_id: str, workflow_id: str) -> bool:
        return self._change("workflow_delete", {"workspace_id": workspace_id, "id": workflow_id})

    # --- tokens -------------------------------------------------------------------------------

    def add_token(
        self, workspace_id: str, token_hash: str, role: str, name: str | None, *, server_admin: bool = False
    ) -> Token:
        params = {
            "id": new_id("tok_"), "token_hash": token_hash, "workspace_id": workspace_id, "role": role,
            "name": name, "server_admin": server_admin,
        }  # fmt: skip
        try:
            (row,) = self._write("token_insert", params)
        except duckdb.ConstraintException:
            raise token_taken() from None
        return Token(*row)

    def token_by_hash(self, token_hash: str) -> Token | None:
        row = self._one("token_by_hash", {"token_hash": token_hash})
        return Token(*row) if row else None

    def tokens(self, workspace_id: str) -> list[Token]:
        return [Token(*r) for r in self._all("tokens", {"workspace_id": workspace_id})]

    def revoke_token(self, workspace_id: str, token_id: str) -> bool:
        return self._change("token_revoke", {"workspace_id": workspace_id, "id": token_id})


def slug_taken(slug: str) -> Conflict:
    return Conflict(f"workspace slug {slug!r} is already taken")


def token_taken() -> Conflict:
    return Conflict("a token with this secret is already stored")


def found(value: T | None) -> T:
    """`value`, which a statement just written guarantees (a row it inserted, a count)."""
    assert value is not None
    return value

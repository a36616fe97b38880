"""The catalog: workspaces, projects, workflows and access tokens (DESIGN.md "Identity and
tenancy"), beside the telemetry in the same store.

The shared rules of `flowscope.storage.interfaces` hold (tenancy, not-found, Unix-nanosecond
times, plain rows). The catalog's own:
- **Ids** are chosen by the store (`new_id`): a kind prefix (`ws_`, `prj_`, `wf_`, `tok_`)
  and 16 hex digits.
- **Workspaces** are the tenancy root: every other row names one. `DEFAULT_WORKSPACE_ID`
  exists in every store from the start.
- **Writes** are atomic; a write that would break a rule of the catalog (a slug taken, a
  project deleted while workflows belong to it) raises `flowscope.storage.errors.Conflict`
  with a message meant for the client, and changes nothing.
- **Secrets** never reach the store: tokens are stored and found by a hash of the secret,
  which the caller computes.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

DEFAULT_WORKSPACE_ID = "default"

PROJECT_FIELDS = frozenset({"name", "description"})
"""What `Catalog.update_project` may change."""
WORKFLOW_FIELDS = frozenset({"project_id", "name", "description", "definition"})
"""What `Catalog.update_workflow` may change."""


def new_id(prefix: str) -> str:
    """A fresh catalog id: `prefix` (e.g. "wf_") and 16 random hex digits."""
    return prefix + secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class Workspace:
    id: str
    slug: str  # unique in the store
    name: str
    created_ns: int


@dataclass(frozen=True, slots=True)
class Project:
    """Groups workflows inside a workspace."""

    id: str
    workspace_id: str
    name: str
    description: str | None
    created_ns: int
    updated_ns: int


@dataclass(frozen=True, slots=True)
class Workflow:
    """A workflow definition in the catalog, and its execution counter."""

    id: str
    workspace_id: str
    project_id: str | None
    name: str
    description: str | None
    definition: dict[str, Any]  # the definition document, decoded
    version: int  # 1 when created, +1 for every new definition
    next_execution_number: int  # never behind a number persisted by the writer (see submit)
    created_ns: int
    updated_ns: int


@dataclass(frozen=True, slots=True)
class Token:
    """An access token: one workspace, one role. The secret itself is not stored."""

    id: str
    workspace_id: str
    role: str  # viewer | editor | admin (the roles' meaning is the API's)
    name: str | None
    server_admin: bool  # may create workspaces
    created_ns: int
    revoked_ns: int | None  # None while the token is active


class Catalog(Protocol):
    """Workspaces, projects, workflows and tokens (rules in the module docstring)."""

    def generation(self) -> int:
        """A number that changes after every committed update or delete of a workflow and every
        revocation of a token made through this store: caches of workflows or verified tokens
        compare it to know they are still current without a query. Creates leave it alone
        (nothing cached can be stale by one)."""
        ...

    # --- workspaces (the one kind not inside a workspace) ----------------------------

    def workspaces(self) -> list[Workspace]:
        """Every workspace, oldest first (ties by id)."""
        ...

    def get_workspace(self, workspace_id: str) -> Workspace | None:
        """The workspace with this id, or None."""
        ...

    def find_workspace(self, *, workspace_id: str | None = None, slug: str | None = None) -> str | None:
        """The id of the workspace with this id, else with this slug (pass one), or None."""
        ...

    def create_workspace(self, slug: str, name: str) -> Workspace:
        """A new workspace; `Conflict` when the slug is taken."""
        ...

    # --- projects ---------------------------------------------------------------------

    def projects(self, workspace_id: str) -> list[Project]:
        """The workspace's projects, oldest first (ties by id)."""
        ...

    def get_project(self, workspace_id: str, project_id: str) -> Project | None:
        """The project, or None when the workspace has no such project."""
        ...

    def create_project(self, workspace_id: str, name: str, description: str | None) -> Project:
        """A new project of the workspace."""
        ...

    def update_project(
        self, workspace_id: str, project_id: str, changes: Mapping[str, Any]
    ) -> Project | None:
        """Set the given fields (keys from `PROJECT_FIELDS`, else `ValueError`) and `updated_ns`
        (unless `changes` is empty); the project as it is then, or None when unknown."""
        ...

    def delete_project(self, workspace_id: str, project_id: str) -> bool:
        """Delete the project: False when unknown, `Conflict` while workflows belong to it."""
        ...

    # --- workflows ----------------------------------------------------------------------

    def workflows(
        self, workspace_id: str, *, project_id: str | None = None, name: str | None = None,
        skip: int = 0, limit: int = 50,
    ) -> tuple[list[Workflow], int]:  # fmt: skip
        """One page of the workspace's workflows (only of `project_id` / with exactly this
        `name` when given), newest first (ties by id), and how many match in all; one read."""
        ...

    def get_workflow(self, workspace_id: str, workflow_id: str) -> Workflow | None:
        """The workflow, or None when the workspace has no such workflow."""
        ...

    def create_workflow(
        self, workspace_id: str, *, project_id: str | None, name: str, description: str | None,
        definition: dict[str, Any],
    ) -> Workflow:  # fmt: skip
        """A new workflow (version 1, next execution number 1). The project is not checked."""
        ...

    def update_workflow(
        self, workspace_id: str, workflow_id: str, changes: Mapping[str, Any]
    ) -> Workflow | None:
        """Set the given fields (keys from `WORKFLOW_FIELDS`, else `ValueError`) and
        `updated_ns`; a new definition bumps `version`. The workflow as it is then, or None
        when unknown."""
        ...

    def delete_workflow(self, workspace_id: str, workflow_id: str) -> bool:
        """Remove the definition (its executions stay in the telemetry); False when unknown.
        Its execution counter goes with it: a caller that may still number executions of it
        keeps its own count (api/intake.py)."""
        ...

    # --- tokens -------------------------------------------------------------------------

    def add_token(
        self, workspace_id: str, token_hash: str, role: str, name: str | None, *, server_admin: bool = False
    ) -> Token:
        """Store a new active token found by `token_hash`; `Conflict` if that hash is stored."""
        ...

    def token_by_hash(self, token_hash: str) -> Token | None:
        """The active (unrevoked) token with this hash, or None. The one lookup not scoped to
        a workspace: a token is what tells which workspace a request acts in."""
        ...

    def tokens(self, workspace_id: str) -> list[Token]:
        """The workspace's tokens, revoked ones included, oldest first (ties by id)."""
        ...

    def revoke_token(self, workspace_id: str, token_id: str) -> bool:
        """Revoke an active token of the workspace; False when there is no such active token."""
        ...


@runtime_checkable
class SharedNumbers(Protocol):
    """A catalog several processes number executions from (a lake's: every node triggers).
    Its numbers are taken in the catalog itself, committed before they are used; a catalog
    without this method is one process's, whose caller counts in memory (api/intake.py)."""

    def take_execution_numbers(self, workspace_id: str, workflow_id: str, count: int) -> int | None:
        """The first of `count` consecutive numbers no other caller got, the workflow's counter
        advanced past them; None when the workflow is gone."""
        ...

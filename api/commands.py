"""`flowscope token ...` and `flowscope seed` (registered by flowscope/cli.py).

DuckDB lets one process open the file, and a running server holds it. So `token`
works on the database file when no server runs (how the first admin token is made),
and through the HTTP API (`--api URL --token ADMIN`) while one does. On a DuckLake store
(FLOWSCOPE_STORE / FLOWSCOPE_DATA_PATH, no --db) it works on the lake, nodes running or not.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import httpx
import typer
from flowscope.api import seed as seed_module
from flowscope.storage.errors import StoreLocked

if TYPE_CHECKING:
    from flowscope.storage.catalog import Catalog
    from flowscope.storage.interfaces import Store

token_app = typer.Typer(help="Access tokens (scoped to one workspace, with a role).", no_args_is_help=True)

Db = Annotated[
    Path | None,
    typer.Option(
        help="Database file (no server running) [FLOWSCOPE_DB, ./flowscope.duckdb; without it, a lake "
        "named by FLOWSCOPE_STORE and FLOWSCOPE_DATA_PATH]."
    ),
]
Api = Annotated[
    str | None, typer.Option(help="Server URL: go through the running server's API instead of the file.")
]
AdminToken = Annotated[
    str | None, typer.Option("--token", envvar="FLOWSCOPE_TOKEN", help="Admin token (with --api).")
]


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(1)


@dataclass(frozen=True)
class FileDefaults:
    """What the composition root (flowscope/cli.py `register`) tells the file-mode commands."""

    db: Callable[[], Path]
    """The database file when --db is not given (FLOWSCOPE_DB, else the server's default)."""
    open_store: Callable[[Path | None], Store]
    """Opens the store kept in that file; given None, the store the settings name (that
    file, or a lake); the root knows which store it is."""


def _open_store(ctx: typer.Context, db: Path | None) -> Store:
    defaults = ctx.find_object(FileDefaults)
    assert defaults is not None, "registered without FileDefaults"
    path = db or defaults.db()
    try:
        return defaults.open_store(db)
    except StoreLocked as exc:
        raise _fail(
            f"{path} is in use by a running server: use --api http://HOST:PORT --token <admin token>\n({exc})"
        ) from None


def _find_workspace(catalog: Catalog, workspace: str) -> str | None:
    """The id of the workspace with this slug, else with this id."""
    return catalog.find_workspace(slug=workspace) or catalog.find_workspace(workspace_id=workspace)


@token_app.command("create")
def create(
    ctx: typer.Context,
    workspace: Annotated[str, typer.Option(help="Workspace slug (or id).")],
    role: Annotated[str, typer.Option(help="viewer | editor | admin")],
    name: Annotated[str | None, typer.Option(help="A label for the token.")] = None,
    create_workspace: Annotated[
        bool, typer.Option("--create-workspace", help="Create the workspace if missing (file mode).")
    ] = False,
    server_admin: Annotated[
        bool,
        typer.Option(
            "--server-admin",
            help="An admin token that may also create workspaces (file mode only: whoever holds the "
            "database file runs the server).",
        ),
    ] = False,
    db: Db = None,
    api: Api = None,
    token: AdminToken = None,
) -> None:
    """Create a token and print its secret (shown once) on stdout."""
    if role not in ("viewer", "editor", "admin"):
        raise _fail(f"unknown role {role!r}: use viewer, editor or admin")
    if server_admin and role != "admin":
        raise _fail("--server-admin needs --role admin")
    if server_admin and api:
        raise _fail("--server-admin works on the database file only (stop the server, use --db)")
    if api:
        headers = {"X-Workspace-Slug": workspace, **({"Authorization": f"Bearer {token}"} if token else {})}
        response = httpx.post(
            f"{api.rstrip('/')}/api/tokens", json={"role": role, "name": name}, headers=headers
        )
        if response.status_code != 201:
            raise _fail(f"{response.status_code}: {response.text}")
        typer.echo(response.json()["token"])
        return
    from flowscope.api.auth import create_token

    store = _open_store(ctx, db)
    try:
        ws = _find_workspace(store.catalog, workspace)
        if ws is None:
            if not create_workspace:
                raise _fail(f"workspace {workspace!r} not found (add --create-workspace to create it)")
            ws = store.catalog.create_workspace(workspace, workspace).id
        secret, info = create_token(store.catalog, ws, role, name, server_admin=server_admin)
    finally:
        store.close()
    scope = " (server admin)" if server_admin else ""
    print(f"token {info.id}: role {role}{scope} in workspace {ws}", file=sys.stderr)
    typer.echo(secret)


@token_app.command("list")
def list_tokens(
    ctx: typer.Context, workspace: Annotated[str, typer.Option(help="Workspace slug (or id).")], db: Db = None
) -> None:
    """The workspace's tokens (file mode; with a server running use GET /api/tokens)."""
    store = _open_store(ctx, db)
    try:
        ws = _find_workspace(store.catalog, workspace)
        if ws is None:
            raise _fail(f"workspace {workspace!r} not found")
        for t in store.catalog.tokens(ws):
            typer.echo(f"{t.id}\t{t.role}\t{t.name or ''}\t{'revoked' if t.revoked_ns else 'active'}")
    finally:
        store.close()


@token_app.command("revoke")
def revoke(
    ctx: typer.Context,
    workspace: Annotated[str, typer.Option(help="Workspace slug (or id).")],
    token_id: Annotated[str, typer.Argument(help="The token's id (tok_...).")],
    db: Db = None,
    api: Api = None,
    token: AdminToken = None,
) -> None:
    """Revoke a token."""
    if api:
        headers = {"X-Workspace-Slug": workspace, **({"Authorization": f"Bearer {token}"} if token else {})}
        response = httpx.delete(f"{api.rstrip('/')}/api/tokens/{token_id}", headers=headers)
        if response.status_code != 204:
            raise _fail(f"{response.status_code}: {response.text}")
        return
    store = _open_store(ctx, db)
    try:
        ws = _find_workspace(store.catalog, workspace)
        if ws is None or not store.catalog.revoke_token(ws, token_id):
            raise _fail(f"token {token_id!r} not found in workspace {workspace!r}")
    finally:
        store.close()


def register(app: typer.Typer, defaults: FileDefaults) -> None:
    # `obj` is handed down to every subcommand's context (`_open_store` finds it there).
    app.add_typer(token_app, name="token", context_settings={"obj": defaults})
    app.command("seed")(seed_module.main)

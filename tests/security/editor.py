"""A `flowscope serve --auth token` with two workspaces and an editor's client in each: the
role the issue 15 probe attacked step actions with (editors may create and execute workflows)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.api.client import Api
from tests.support.server import RunningServer, start_server

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "flowscope", *args], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@dataclass
class Editor:
    api: Api
    workspace_id: str


@contextmanager
def editor_server(db: Path, *args: str) -> Iterator[tuple[RunningServer, Editor, Editor]]:
    """The server (token auth) and editors of workspaces 'team-a' and 'team-b'."""
    admins = [cli("token", "create", "--workspace", slug, "--role", "admin", "--create-workspace",
                  "--db", str(db)) for slug in ("team-a", "team-b")]  # fmt: skip
    server = start_server(db, "--auth", "token", *args)
    try:
        editors = []
        for admin in admins:
            as_admin = Api(server.api, {"Authorization": f"Bearer {admin}"})
            token = as_admin.ok(as_admin.post("/api/tokens", json={"role": "editor"}), 201)["token"]
            api = Api(server.api, {"Authorization": f"Bearer {token}"})
            editors.append(Editor(api, api.ok(api.get("/api/workspaces"))[0]["id"]))
        yield server, editors[0], editors[1]
    finally:
        server.terminate()


def python_step(step_id: str, callable_: str, **kwargs: Any) -> dict[str, Any]:
    return {"id": step_id, "action": {"type": "python", "params": {"callable": callable_, "kwargs": kwargs}}}


def sql_step(step_id: str, database: str, sql: str | list[str], **params: Any) -> dict[str, Any]:
    return {"id": step_id, "action": {"type": "sql", "params": {"database": database, "sql": sql, **params}},
            "trigger_rule": "all_done"}  # fmt: skip


def run_steps(
    api: Api, definition: dict[str, Any], inputs: dict[str, Any] | None = None, timeout: float = 60
) -> tuple[str, dict[str, Any]]:
    """Create and execute a workflow: its execution id, and step id -> timeline entry."""
    workflow = api.create_workflow(definition)
    done = api.wait(api.execute(workflow["id"], inputs)["id"], timeout=timeout)
    timeline = api.ok(api.get(f"/api/workflows/executions/{done['id']}/timeline"))
    return done["id"], {s["step_id"]: s for s in timeline["step_timeline"]}


def step_output(api: Api, execution_id: str, step_id: str) -> Any:
    return api.ok(api.get(f"/api/workflows/executions/{execution_id}/steps/{step_id}"))["output_data"]

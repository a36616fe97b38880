"""Load the example workflows into a workspace through a running server's API (the
spec's seeding script), optionally running each N times with a progress bar.

    flowscope seed --workspace-id ID [--project-id ID] [--skip-existing] [--runs N]
    python -m api.seed --workspace-id ID ...
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from flowscope.api.examples import EXAMPLES_DIR, example_definitions, example_inputs
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from flowscope import conventions as c

DEFAULT_API = "http://127.0.0.1:8000"
TERMINAL = c.TERMINAL_EXECUTION_STATUSES
console = Console(stderr=True)


class SeedError(Exception):
    pass


def _check(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise SeedError(
            f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text}"
        )
    return response.json() if response.content else None


def _project(client: httpx.Client, project_id: str | None) -> str:
    """The given project, else the workspace's first, else a new "Examples" project."""
    if project_id:
        return str(_check(client.get(f"/api/projects/{project_id}"))["id"])
    projects = _check(client.get("/api/projects"))
    if projects:
        return str(projects[0]["id"])
    created = _check(
        client.post("/api/projects", json={"name": "Examples", "description": "Example workflows"})
    )
    console.print(f"created project [bold]Examples[/] ({created['id']})")
    return str(created["id"])


def seed(
    client: httpx.Client, project_id: str | None, skip_existing: bool, examples: Path = EXAMPLES_DIR
) -> list[dict[str, Any]]:
    """Create (or, with skip_existing, reuse) one workflow per example; returns them."""
    project = _project(client, project_id)
    seeded = []
    for filename, definition in example_definitions(examples):
        if skip_existing:
            found = _check(client.get("/api/workflows", params={"name": definition["name"], "limit": 1}))
            if found["items"]:
                console.print(
                    f"skipped {filename}: workflow '{definition['name']}' exists ({found['items'][0]['id']})"
                )
                seeded.append(found["items"][0])
                continue
        created = _check(
            client.post("/api/workflows", json={"definition": definition, "project_id": project})
        )
        console.print(f"created {filename}: '{created['name']}' ({created['id']})")
        seeded.append(created)
    return seeded


def run_all(
    client: httpx.Client, workflows: list[dict[str, Any]], runs: int, timeout: float = 600
) -> dict[str, dict[str, int]]:
    """Execute every workflow `runs` times and wait for all to finish, with a progress bar.
    Returns per workflow name: status -> count."""
    pending: dict[str, str] = {}  # execution id -> workflow name
    for wf in workflows:
        for i in range(runs):
            started = _check(
                client.post(
                    f"/api/workflows/{wf['id']}/execute",
                    json={"input_variables": example_inputs(wf["definition"], i)},
                )
            )
            pending[started["id"]] = wf["name"]
    outcome: dict[str, dict[str, int]] = {wf["name"]: {} for wf in workflows}
    deadline = time.monotonic() + timeout
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("executions", total=len(pending))
        while pending and time.monotonic() < deadline:
            for execution_id, name in list(pending.items()):
                response = client.get(f"/api/workflows/executions/{execution_id}")
                if response.status_code == 404:
                    continue  # not ingested yet
                status = _check(response)["status"]
                if status in TERMINAL:
                    outcome[name][status] = outcome[name].get(status, 0) + 1
                    del pending[execution_id]
                    progress.advance(task)
            if pending:
                time.sleep(0.25)
    if pending:
        raise SeedError(f"{len(pending)} execution(s) did not finish within {timeout:.0f} s")
    return outcome


def main(
    workspace_id: Annotated[str, typer.Option(help="Workspace to seed (its id; see GET /api/workspaces).")],
    project_id: Annotated[str | None, typer.Option(help="Project (default: the workspace's first).")] = None,
    skip_existing: Annotated[bool, typer.Option(help="Keep workflows whose name already exists.")] = False,
    runs: Annotated[int, typer.Option(min=0, help="Execute each example N times and wait.")] = 0,
    api: Annotated[str, typer.Option(envvar="FLOWSCOPE_API_URL", help="Server URL.")] = DEFAULT_API,
    token: Annotated[
        str | None, typer.Option(envvar="FLOWSCOPE_TOKEN", help="Bearer token (editor) when auth is on.")
    ] = None,
    examples: Annotated[Path, typer.Option(help="Directory of workflow JSON files.")] = EXAMPLES_DIR,
) -> None:
    """Load the example workflows into a workspace through the server's API."""
    headers = {"X-Workspace-Id": workspace_id}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        with httpx.Client(base_url=api, headers=headers, timeout=30) as client:
            workflows = seed(client, project_id, skip_existing, examples)
            if runs:
                outcome = run_all(client, workflows, runs)
                table = Table("workflow", "id", *sorted(TERMINAL))
                for wf in workflows:
                    counts = outcome[wf["name"]]
                    table.add_row(wf["name"], wf["id"], *(str(counts.get(s, 0)) for s in sorted(TERMINAL)))
                Console().print(table)
    except httpx.HTTPError as exc:
        console.print(f"[red]cannot reach {api}: {exc}[/] (is `flowscope serve` running?)")
        raise typer.Exit(1) from None
    except SeedError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None


if __name__ == "__main__":
    typer.run(main)

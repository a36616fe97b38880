"""`flowscope run | validate | schema`: the engine's CLI commands (wired in by flowscope/cli.py).

Imports of the engine happen inside the commands so `flowscope --help` stays fast.
`run` executes in-process and exports telemetry like the server's engine does; it
trusts the file it is given (it is the user's own), so `python` may import any
module, `sql` (and the example pipeline helpers) may touch any path and `http` may
connect to any address of the hosts it allows; `shell`/`http` still need explicit flags.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from flowscope.engine.config import EngineConfig
    from flowscope.engine.results import ExecutionHandle, StepResult

_STATUS_STYLE = {
    "pending": "dim", "running": "bold cyan", "completed": "green", "failed": "bold red",
    "skipped": "yellow", "cancelled": "magenta", "timeout": "bold red",
}  # fmt: skip


def _cli_config(
    *,
    endpoint: str | None = None,
    protocol: str = "http",
    token: str | None = None,
    telemetry: bool = True,
    enable_shell: bool = False,
    http_allowed_hosts: list[str] | None = None,
) -> EngineConfig:
    from flowscope.engine.config import EngineConfig
    from flowscope.engine.telemetry import TelemetryConfig

    if protocol not in ("http", "grpc"):
        raise typer.BadParameter("protocol must be 'http' or 'grpc'")
    tel = TelemetryConfig(
        endpoint=endpoint, protocol=protocol, token=token, enabled=telemetry,  # type: ignore[arg-type]
        export_timeout_ms=3_000,
    )  # fmt: skip
    return EngineConfig(
        telemetry=tel, enable_shell=enable_shell, http_allowed_hosts=tuple(http_allowed_hosts or ()),
        python_modules=("*",), unrestricted_files=True, http_allowed_networks=("0.0.0.0/0", "::/0"),
    )  # fmt: skip


def _load(file: Path, config: EngineConfig) -> Any:
    from flowscope.engine.actions import registry
    from flowscope.engine.validation import load_definition_file, validate_definition

    data, problems = load_definition_file(file)
    model = None
    if not problems:
        model, problems = validate_definition(data, config=config, registry=registry)
    return data, model, problems


def _print_problems(file: Path, problems: list[Any]) -> None:
    from rich.console import Console

    err = Console(stderr=True)
    err.print(f"[bold red]{file}: {len(problems)} problem(s)[/]")
    for p in problems:
        err.print(f"  {p}", markup=False, highlight=False)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "workflow"


def _render(handle: ExecutionHandle, steps: list[StepResult], now_status: str) -> Any:
    from rich.table import Table

    table = Table(title=f"{handle.workflow_name}  [dim]{handle.execution_id}[/]", title_justify="left")
    right: dict[str, Any] = {"justify": "right"}
    for col, kw in (("#", right), ("Step", {}), ("Status", {}), ("Duration", right), ("Retries", right)):
        table.add_column(col, **kw)
    table.add_column("Detail", overflow="fold")
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    for s in steps:
        if s.duration_seconds is not None:
            duration = f"{s.duration_seconds:.2f}s"
        elif s.status == "running" and s.started_at:
            duration = f"{(now - s.started_at).total_seconds():.1f}s…"
        else:
            duration = ""
        detail = s.error or s.skip_reason or ""
        style = _STATUS_STYLE.get(s.status, "")
        table.add_row(
            str(s.order), s.name, f"[{style}]{s.status}[/]", duration, str(s.retry_count or ""), detail
        )
    table.caption = f"execution: [{_STATUS_STYLE.get(now_status, '')}]{now_status}[/]"
    return table


async def _run(file: Path, data: dict[str, Any], inputs: dict[str, Any], config: EngineConfig,
               workspace_id: str, workflow_id: str | None, execution_number: int) -> int:  # fmt: skip
    from flowscope.engine.engine import Engine
    from rich.console import Console
    from rich.live import Live

    console = Console()
    engine = Engine(config)
    handle = await engine.submit(
        data, inputs, workflow_id=workflow_id or f"cli-{_slug(data['name'])}",
        execution_number=execution_number, workspace_id=workspace_id, base_dir=file.resolve().parent,
    )  # fmt: skip
    console.print(f"execution id: [bold]{handle.execution_id}[/]")
    try:
        with Live(
            _render(handle, handle.steps(), handle.status), console=console, refresh_per_second=10
        ) as live:
            while not handle.done():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(handle.wait()), 0.1)
                live.update(_render(handle, handle.steps(), handle.status))
    except (KeyboardInterrupt, asyncio.CancelledError):
        handle.cancel()
        await handle.wait()
    result = await handle.wait()
    if not console.is_terminal:
        console.print()
    style = _STATUS_STYLE.get(result.status, "")
    line = f"[{style}]{result.status}[/] in {result.duration_seconds or 0:.2f}s"
    console.print(line + (f": {result.error}" if result.error else ""))
    console.print(f"execution id: {result.execution_id}", highlight=False)
    with console.status("flushing telemetry…"):
        await engine.shutdown()
    return 0 if result.status == "completed" else 1


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_cmd(
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Workflow JSON file.")],
        input: Annotated[
            list[str] | None, typer.Option("--input", "-i", help="Input as key=value (repeatable).")
        ] = None,
        endpoint: Annotated[
            str | None, typer.Option(help="OTLP endpoint [http://127.0.0.1:4318 | 127.0.0.1:4317 for grpc].")
        ] = None,
        protocol: Annotated[str, typer.Option(help="OTLP protocol: http or grpc.")] = "http",
        workspace_id: Annotated[str, typer.Option(help="Workspace the telemetry belongs to.")] = "default",
        token: Annotated[str | None, typer.Option(help="Bearer token for the collector.")] = None,
        workflow_id: Annotated[str | None, typer.Option(help="Workflow id [cli-<name>].")] = None,
        execution_number: Annotated[int, typer.Option(help="Execution number to record.")] = 1,
        telemetry: Annotated[
            bool, typer.Option("--telemetry/--no-telemetry", help="Export telemetry.")
        ] = True,
        enable_shell: Annotated[bool, typer.Option(help="Allow 'shell' steps.")] = False,
        http_allowed_host: Annotated[
            list[str] | None, typer.Option(help="Host 'http' steps may call (repeatable).")
        ] = None,
    ) -> None:
        """Run a workflow in-process with a live view of its steps; exits non-zero unless it completed."""
        from flowscope.engine.inputs import InputError, parse_cli_inputs, resolve_inputs

        config = _cli_config(endpoint=endpoint, protocol=protocol, token=token, telemetry=telemetry,
                             enable_shell=enable_shell, http_allowed_hosts=http_allowed_host)  # fmt: skip
        data, model, problems = _load(file, config)
        if model is None:
            _print_problems(file, problems)
            raise typer.Exit(2)
        try:
            inputs = parse_cli_inputs(model, input or [])
            resolve_inputs(model, inputs)
        except InputError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        code = asyncio.run(_run(file, data, inputs, config, workspace_id, workflow_id, execution_number))
        raise typer.Exit(code)

    @app.command("validate")
    def validate_cmd(
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Workflow JSON file.")],
        enable_shell: Annotated[bool, typer.Option(help="Treat 'shell' steps as allowed.")] = False,
        http_allowed_host: Annotated[
            list[str] | None, typer.Option(help="Treat this host as allowed for 'http' steps (repeatable).")
        ] = None,
    ) -> None:
        """Check a workflow file; prints every problem with its location and exits 1 if there are any."""
        config = _cli_config(telemetry=False, enable_shell=enable_shell, http_allowed_hosts=http_allowed_host)
        _data, model, problems = _load(file, config)
        if problems:
            _print_problems(file, problems)
            raise typer.Exit(1)
        assert model is not None
        typer.echo(f"{file}: OK ({model.name}, {len(model.steps)} steps)")

    @app.command("schema")
    def schema_cmd() -> None:
        """Print the JSON Schema of workflow files (for editors and CI)."""
        from flowscope.engine.model import WorkflowDefinition

        json.dump(WorkflowDefinition.model_json_schema(by_alias=True), sys.stdout, indent=2)
        sys.stdout.write("\n")

"""Work `flowscope serve` does once its listeners are up: start the engine (exporting to
this server's collector, or `--engine-endpoint`), close executions a crash left open,
run the demo, and register the engine's shutdown."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from flowscope.api.context import AppContext
from flowscope.api.demo import run_demo
from flowscope.api.ingest_auth import with_internal_token

from flowscope.server_hooks import StartupHook

log = logging.getLogger("flowscope.api")


def _telemetry_config(context: AppContext, internal_token: str | None) -> Any:
    from flowscope.engine.telemetry import TelemetryConfig

    s = context.settings
    if s.engine_endpoint:
        return TelemetryConfig(endpoint=s.engine_endpoint, protocol=s.engine_protocol)
    endpoint = context.otlp_grpc_address if s.engine_protocol == "grpc" else context.otlp_http_url
    return TelemetryConfig(endpoint=endpoint, protocol=s.engine_protocol, token=internal_token)


def preflight(settings: Any) -> str | None:
    """Why `serve` must not start with these settings, in one line (checked before it opens
    anything): a sandbox directory that would expose the server's or other users' files."""
    from flowscope.engine.sandbox_dir import SandboxDirError, prepare_sandbox

    try:
        prepare_sandbox(settings.sandbox_dir, settings.db)
    except SandboxDirError as exc:
        return str(exc)
    return None


async def start_engine(context: AppContext) -> None:
    """Create the engine and make it `context.engine`; its shutdown runs at SIGTERM.

    It runs on its own loop and thread (`EngineHost`), so executions never hold the loop
    that serves HTTP and OTLP."""
    from flowscope.api.intake import Intake
    from flowscope.engine.config import EngineConfig
    from flowscope.engine.host import EngineHost
    from flowscope.engine.sandbox_dir import prepare_sandbox

    s = context.settings
    internal_token = None
    if s.auth_required and not s.engine_endpoint:
        # The engine exports into every workspace it runs workflows of, but a token is
        # scoped to one: the in-process engine gets a process-local ingest credential.
        internal_token = "fsi_" + secrets.token_urlsafe(32)
        context.extras["ingest_authorizer"] = with_internal_token(
            context.extras["ingest_authorizer"], context.store, internal_token
        )
    config = EngineConfig(
        telemetry=_telemetry_config(context, internal_token),
        enable_shell=s.enable_shell,
        http_allowed_hosts=tuple(s.http_allowed_hosts),
        http_allowed_networks=tuple(str(n) for n in s.http_allowed_networks),
        max_concurrent_executions=s.max_concurrent_executions,
        max_running_per_workspace=s.max_running_per_workspace,
        max_pending_per_workspace=s.max_pending_per_workspace,
        max_steps=s.max_steps,
        finished_executions_kept=0,  # the collector is the history; the API never asks the engine
        sandbox_dir=prepare_sandbox(s.sandbox_dir, s.db),
    )
    engine = EngineHost(config)
    context.engine = engine
    # Executions started through the API are recorded before the 202 (api/intake.py); their
    # queued records too when the engine exports to this server, which then dedupes the copies.
    context.extras["intake"] = Intake(context.store, engine, direct=not s.engine_endpoint)

    async def stop_engine(_: AppContext) -> None:
        # Runs before the receivers stop, so the engine's last spans are still ingested.
        await engine.shutdown(grace_seconds=0.0)

    context.extras.setdefault("shutdown_hooks", []).append(stop_engine)


async def close_interrupted(context: AppContext) -> int:
    """Executions our engine left pending/running when the process died: emit their root
    span as failed ("interrupted"), so they end through the collector like any other."""
    engine = context.engine
    service = engine.telemetry.config.service_name
    open_ones = await asyncio.to_thread(context.store.executions.open_executions, service)
    for e in open_ones:
        engine.emit_interrupted(
            workspace_id=e.workspace_id, trace_id=e.execution_id, root_span_id=e.root_span_id,
            workflow_id=e.workflow_id, workflow_name=e.workflow_name or e.workflow_id,
            execution_number=e.execution_number or 0, start_time_ns=e.start_ns,
            project_id=e.project_id, flush=False,
        )  # fmt: skip
    if open_ones:
        await asyncio.to_thread(engine.telemetry.flush)
        log.warning("closed %d execution(s) left running by a previous run as failed", len(open_ones))
    return len(open_ones)


async def _engine_hook(context: AppContext) -> None:
    await start_engine(context)
    await close_interrupted(context)
    if context.settings.demo:
        await run_demo(context)


def startup_hooks() -> list[StartupHook]:
    return [_engine_hook]


__all__ = ["AppContext", "close_interrupted", "preflight", "start_engine", "startup_hooks"]

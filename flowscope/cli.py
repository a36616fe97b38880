"""The `flowscope` console script. Subcommands stay thin: `serve` runs flowscope/server.py
(built by flowscope/compose.py); the engine and the api contribute their own commands."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flowscope import event_loops
from flowscope import maintain as maintain_command
from flowscope.api import commands as api_commands
from flowscope.engine import commands as engine_commands
from flowscope.settings import Settings
from flowscope.startup_errors import EXIT_STATUS, Problem, StartupError, load_settings
from flowscope.storage.errors import StoreOpenError

if TYPE_CHECKING:
    from flowscope.storage.interfaces import Store

app = typer.Typer(
    help="Flowscope: OpenTelemetry-native telemetry for workflow executions.", no_args_is_help=True
)


@app.callback()
def _root() -> None:
    """Flowscope: OpenTelemetry-native telemetry for workflow executions."""


@app.command()
def serve(
    role: Annotated[
        str | None,
        typer.Option(
            help="What this node serves [FLOWSCOPE_ROLE, all]. all: receivers, API, web UI and "
            "engine in one process. ingest: the "
            "OTLP/HTTP and gRPC receivers and the writer; the API port answers only /healthz, "
            "/readyz and /metrics, anything else 404 naming the role (--demo refused, engine "
            "options ignored). query: the REST API, web UI, WebSockets, Jaeger/Grafana APIs and the "
            "engine; no OTLP port is bound (--otlp-*-port ignored, with a warning), the engine "
            "exports to a receiver of its own on loopback, any free port, or to --engine-endpoint."
        ),
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Address to bind [env FLOWSCOPE_HOST, default 127.0.0.1].")
    ] = None,
    api_port: Annotated[
        int | None,
        typer.Option(
            help="REST/WebSocket/Jaeger/metrics port; 0 = any free port [FLOWSCOPE_API_PORT, 8000]."
        ),
    ] = None,
    otlp_http_port: Annotated[
        int | None, typer.Option(help="OTLP/HTTP port; 0 = any [FLOWSCOPE_OTLP_HTTP_PORT, 4318].")
    ] = None,
    otlp_grpc_port: Annotated[
        int | None, typer.Option(help="OTLP/gRPC port; 0 = any [FLOWSCOPE_OTLP_GRPC_PORT, 4317].")
    ] = None,
    db: Annotated[
        Path | None, typer.Option(help="DuckDB database file [FLOWSCOPE_DB, ./flowscope.duckdb].")
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            help="A DuckDB file (as --db) or a DuckLake, ducklake:postgres:<libpq conninfo> "
            "(preview; needs --data-path) [FLOWSCOPE_STORE]."
        ),
    ] = None,
    data_path: Annotated[
        str | None,
        typer.Option(help="A ducklake: store's data directory (shared) or s3:// URL [FLOWSCOPE_DATA_PATH]."),
    ] = None,
    max_body_bytes: Annotated[
        int | None, typer.Option(help="OTLP/HTTP body limit after decompression [64 MiB].")
    ] = None,
    grpc_max_message_bytes: Annotated[
        int | None, typer.Option(help="OTLP/gRPC max message size [64 MiB].")
    ] = None,
    header_timeout_seconds: Annotated[
        float | None, typer.Option(help="Seconds to send a request's headers, then 408 [10].")
    ] = None,
    body_timeout_seconds: Annotated[
        float | None, typer.Option(help="Seconds to send a request body after its headers, then 408 [60].")
    ] = None,
    idle_timeout_seconds: Annotated[
        float | None, typer.Option(help="Seconds an idle kept-alive connection stays open [15].")
    ] = None,
    max_connections: Annotated[
        int | None, typer.Option(help="Connections per listener, capped by the open files limit [4096].")
    ] = None,
    shutdown_timeout_seconds: Annotated[
        float | None, typer.Option(help="SIGTERM: seconds in-flight requests get to finish [8].")
    ] = None,
    queue_items: Annotated[
        int | None,
        typer.Option(help="Write queue capacity in items; when full, ingest answers 503 [200000]."),
    ] = None,
    batch_items: Annotated[
        int | None, typer.Option(help="Most items committed per transaction [50000].")
    ] = None,
    commit_gap_ms: Annotated[
        float | None,
        typer.Option(help="After a commit, ms a small batch waits for more before committing [20]."),
    ] = None,
    retention_days: Annotated[
        float | None, typer.Option(help="Delete telemetry older than N days (default: keep all).")
    ] = None,
    retention_interval_seconds: Annotated[
        float | None, typer.Option(help="How often retention runs, in seconds [300].")
    ] = None,
    memory_limit: Annotated[str | None, typer.Option(help="DuckDB memory limit [2GB].")] = None,
    auth: Annotated[
        str | None, typer.Option(help="'none' or 'token' (bearer tokens; forced on for non-loopback hosts).")
    ] = None,
    auth_failure_burst: Annotated[
        int | None, typer.Option(help="Invalid tokens one client address may present at once; 0 = off [20].")
    ] = None,
    auth_failures_per_minute: Annotated[
        float | None, typer.Option(help="Refill rate of that allowance, per minute [10].")
    ] = None,
    metrics_auth: Annotated[
        str | None,
        typer.Option(help="none|token: /metrics needs a token (scrape secret: env FLOWSCOPE_METRICS_TOKEN)."),
    ] = None,
    metrics_series_limit: Annotated[
        int | None, typer.Option(help="Most /metrics series per workspace and family (with overflow) [2000].")
    ] = None,
    metrics_series_expiry_seconds: Annotated[
        float | None, typer.Option(help="Drop /metrics series idle this long; 0 = never [0].")
    ] = None,
    jaeger_max_trace_spans: Annotated[
        int | None, typer.Option(help="Most spans of one trace the Jaeger API returns; more are cut [5000].")
    ] = None,
    cors_origin: Annotated[
        list[str] | None, typer.Option(help="Allowed CORS origin (repeatable; default none).")
    ] = None,
    demo: Annotated[
        bool | None,
        typer.Option("--demo/--no-demo", help="Seed the example workflows and run each a few times."),
    ] = None,
    demo_runs: Annotated[int | None, typer.Option(help="Runs of each example in demo mode [3].")] = None,
    enable_shell: Annotated[
        bool | None, typer.Option("--enable-shell/--no-enable-shell", help="Allow the 'shell' step action.")
    ] = None,
    http_allowed_host: Annotated[
        list[str] | None, typer.Option(help="Host the 'http' step action may call (repeatable).")
    ] = None,
    http_allowed_network: Annotated[
        list[str] | None,
        typer.Option(help="Non-public network (CIDR) 'http' steps may reach, e.g. 10.0.0.0/8 (repeatable)."),
    ] = None,
    sandbox_dir: Annotated[
        Path | None,
        typer.Option(help="Private directory step actions may use for files [<db>.sandbox next to the db]."),
    ] = None,
    engine_protocol: Annotated[
        str | None, typer.Option(help="Engine export protocol: http or grpc [http].")
    ] = None,
    engine_endpoint: Annotated[
        str | None, typer.Option(help="Engine export endpoint (default: this server).")
    ] = None,
    max_concurrent_executions: Annotated[
        int | None, typer.Option(help="Executions running at once, all workspaces [1000].")
    ] = None,
    max_running_per_workspace: Annotated[
        int | None, typer.Option(help="Executions of one workspace running at once [100].")
    ] = None,
    max_pending_per_workspace: Annotated[
        int | None, typer.Option(help="Executions of one workspace waiting; more get 429 [1000].")
    ] = None,
    max_steps: Annotated[
        int | None, typer.Option(help="Most steps per workflow, up to 10000 [10000].")
    ] = None,
    max_bulk_executions: Annotated[
        int | None, typer.Option(help="Most input sets in one bulk execute request, up to 10000 [1000].")
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(help="Mapping file: another tracer's spans as executions and steps (YAML or JSON)."),
    ] = None,
    silence_seconds: Annotated[
        float | None,
        typer.Option(help="Another emitter's run unheard of this long shows as unknown; 0 = never [3600]."),
    ] = None,
    node_heartbeat_seconds: Annotated[
        float | None, typer.Option(help="Lake engine nodes: seconds between heartbeats [2].")
    ] = None,
    node_stale_seconds: Annotated[
        float | None,
        typer.Option(help="Lake engine nodes: one unheard of this long is dead, its runs closed [15]."),
    ] = None,
    log_level: Annotated[str | None, typer.Option(help="Log level [warning].")] = None,
) -> None:
    """Run the collector (OTLP/HTTP + gRPC), the API and the engine on one DuckDB file (or, in
    preview, on a DuckLake: --store ducklake:postgres:<conninfo> --data-path PATH)."""
    given: dict[str, Any] = {
        "host": host, "api_port": api_port, "otlp_http_port": otlp_http_port,
        "otlp_grpc_port": otlp_grpc_port, "db": db, "store": store, "data_path": data_path,
        "max_body_bytes": max_body_bytes,
        "grpc_max_message_bytes": grpc_max_message_bytes, "queue_items": queue_items,
        "header_timeout_seconds": header_timeout_seconds, "body_timeout_seconds": body_timeout_seconds,
        "idle_timeout_seconds": idle_timeout_seconds, "max_connections": max_connections,
        "shutdown_timeout_seconds": shutdown_timeout_seconds,
        "batch_items": batch_items, "commit_gap_ms": commit_gap_ms, "retention_days": retention_days,
        "retention_interval_seconds": retention_interval_seconds, "memory_limit": memory_limit,
        "auth": auth, "auth_failure_burst": auth_failure_burst,
        "auth_failures_per_minute": auth_failures_per_minute, "metrics_auth": metrics_auth,
        "metrics_series_limit": metrics_series_limit,
        "metrics_series_expiry_seconds": metrics_series_expiry_seconds,
        "jaeger_max_trace_spans": jaeger_max_trace_spans,
        "cors_origins": cors_origin or None, "demo": demo, "demo_runs": demo_runs,
        "enable_shell": enable_shell, "http_allowed_hosts": http_allowed_host or None,
        "sandbox_dir": sandbox_dir, "http_allowed_networks": http_allowed_network or None,
        "engine_protocol": engine_protocol, "engine_endpoint": engine_endpoint, "log_level": log_level,
        "max_concurrent_executions": max_concurrent_executions,
        "max_running_per_workspace": max_running_per_workspace,
        "max_pending_per_workspace": max_pending_per_workspace, "max_steps": max_steps,
        "max_bulk_executions": max_bulk_executions, "mapping": mapping,
        "silence_seconds": silence_seconds,
        "node_heartbeat_seconds": node_heartbeat_seconds, "node_stale_seconds": node_stale_seconds,
        "role": role,
    }  # fmt: skip
    settings = load_settings(given)
    from flowscope.compose import preflight, store_target
    from flowscope.server import serve as run_server

    store_target(settings)  # a malformed --store, a lake without --data-path: StartupError, exit 2
    problem = preflight(settings)
    if problem:
        typer.echo(f"flowscope: {problem}", err=True)
        raise typer.Exit(2)
    event_loops.run(run_server(settings))


engine_commands.register(app)  # run, validate, schema
maintain_command.register(app)  # maintain (a DuckLake store's maintenance process)

mapping_app = typer.Typer(help="Mapping files: another tracer's spans as executions and steps.")
app.add_typer(mapping_app, name="mapping")


@mapping_app.command("check")
def mapping_check(file: Annotated[Path, typer.Argument(help="The mapping file (YAML or JSON).")]) -> None:
    """Validate a mapping file as `serve --mapping` does: every problem with its line and column."""
    from flowscope.emitters.mapping import MappingError, load

    try:
        recognizer = load(file)
    except MappingError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_STATUS) from None
    rules = recognizer.mapping
    typer.echo(
        f"{file}: ok: '{rules.name}', {len(rules.executions)} execution rule(s), "
        f"{len(rules.steps)} step rule(s); spans read when they hold "
        + ", ".join(m.decode() for m in recognizer.markers)
    )


@mapping_app.command("schema")
def mapping_schema() -> None:
    """Print the JSON Schema of mapping files (also docs/mapping.schema.json)."""
    import json

    from flowscope.emitters.mapping import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))


@app.command()
def rebuild(
    db: Annotated[
        Path | None,
        typer.Option(
            help="Database file (no server running) [FLOWSCOPE_DB, ./flowscope.duckdb; without it, a lake "
            "named by FLOWSCOPE_STORE and FLOWSCOPE_DATA_PATH]."
        ),
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="The mapping file `serve` runs with, if any [FLOWSCOPE_MAPPING].")
    ] = None,
) -> None:
    """Recompute what ingest derives from the stored spans and log records: each one's
    workflow columns (role, ids, step status, error message) and every execution row, with
    this version's rules; then the per-step summaries step metrics read (one row per
    workflow, step and UTC day before today). Idempotent: run it after an upgrade that
    changed how workflow telemetry is read, after restoring data, or when in doubt; a
    server keeps all of them up to date by itself. On a lake, stop the nodes' ingest first:
    a rebuild that another node's commit overtook is rolled back whole."""
    from functools import partial

    from flowscope.collector.prepare import prepare
    from flowscope.compose import recognition
    from flowscope.storage.errors import StorageUnavailable

    settings = load_settings({})
    derive = partial(prepare, recognition=recognition(mapping or settings.mapping))
    try:
        store = _open_command_store(db)
    except StorageUnavailable as exc:  # a server holds the file, or the lake cannot be opened
        typer.echo(f"cannot rebuild: {exc}", err=True)
        raise typer.Exit(1) from None
    try:
        store.start()
        counts = store.rebuild_rows(derive)
        rows = store.rebuild_summaries()
    except StorageUnavailable as exc:  # nothing of the failed step was changed
        typer.echo(f"cannot rebuild: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(
        f"rebuilt {counts.executions} executions ({counts.spans_changed} spans and "
        f"{counts.records_changed} log records changed) and {rows} step summary rows in {store.described()}"
    )


def _open_command_store(path: Path | None) -> Store:
    """--db's file when given, else the store the settings name (the file, or a lake)."""
    from flowscope import compose  # imported when used: it loads the whole server

    return compose.open_file_store(path) if path else compose.open_configured_store(load_settings({}))


api_commands.register(  # token, seed
    app, api_commands.FileDefaults(db=lambda: load_settings({}).db, open_store=_open_command_store)
)


def _flags() -> dict[str, str]:
    """Each setting's `serve` flag: the parameter's name, dashed; a list setting takes its
    singular, repeated (--cors-origin for cors_origins). Settings without one have none."""
    fields = Settings.model_fields
    return {
        name if name in fields else name + "s": "--" + name.replace("_", "-")
        for name in inspect.signature(serve).parameters
    }


def _names(problem: Problem) -> str:
    """What to change: the flag or the environment variable the value came from, else both."""
    env = f"FLOWSCOPE_{problem.setting.upper()}"
    flag = _flags().get(problem.setting)
    if flag is None or problem.source == "environment":
        return env
    return flag if problem.source == "flag" else f"{flag} / {env}"


def main() -> None:
    try:
        app()
    except (StartupError, StoreOpenError) as exc:
        # A setting to change, not a bug: one line naming it, no traceback (flowscope/startup_errors.py).
        problems = exc.problems if isinstance(exc, StartupError) else (Problem("db", str(exc)),)
        typer.echo("flowscope: " + "; ".join(f"{_names(p)}: {p.text}" for p in problems), err=True)
        raise SystemExit(EXIT_STATUS) from None


if __name__ == "__main__":
    main()

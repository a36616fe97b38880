"""The composition root of `flowscope serve`: every part the server runs is built here, from
the one `Settings`, and handed what it needs as typed arguments (flowscope/server.py binds
the listeners and runs the parts in order).

The API never imports this layer: it declares what it reads (`ApiSettings`, `LiveConfig`,
`AppContext` in api/context.py) and this module fills those in.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from flowscope.api.access_cache import AccessCache
from flowscope.api.cluster import Cluster
from flowscope.api.context import ApiSettings, AppContext
from flowscope.api.demo import run_demo
from flowscope.api.ingest_auth import ingest_authorizer, with_internal_token
from flowscope.api.intake import Intake
from flowscope.api.journal import TriggerJournal
from flowscope.api.recovery import close_interrupted, replay_journal
from flowscope.api.throttle import AuthThrottle
from flowscope.api.visibility import KEEP_SECONDS, CommitWatcher, VisibilityBarrier
from flowscope.api.ws.config import LiveConfig
from flowscope.api.ws.hub import Hub
from flowscope.collector.tenancy import Authorizer, IngestDenied
from flowscope.emitters.mapping import MappingError
from flowscope.emitters.mapping import load as load_mapping
from flowscope.emitters.registry import BUILTIN, Recognition
from flowscope.engine.config import EngineConfig
from flowscope.engine.host import EngineHost
from flowscope.engine.sandbox_dir import SandboxDirError, prepare_sandbox
from flowscope.engine.telemetry import TelemetryConfig
from flowscope.settings import Settings
from flowscope.startup_errors import Problem, StartupError
from flowscope.storage.duckdb.pacing import CommitPacing
from flowscope.storage.duckdb.store import Store
from flowscope.storage.ducklake.store import LakeStore, is_remote
from flowscope.storage.ducklake.url import LakeUrl, StoreUrlError, is_lake, parse_lake
from flowscope.storage.errors import StoreOpenError


@dataclass(frozen=True)
class StoreTarget:
    """The store `serve` opens: the DuckDB file, or a DuckLake and its data path."""

    file: Path
    lake: LakeUrl | None = None
    data_path: str | None = None

    def described(self) -> str:
        """As the ready line names it: one word (a conninfo's spaces as %20), no password."""
        return re.sub(r"\s", "%20", self.lake.redacted()) if self.lake else str(self.file)


def store_target(settings: Settings) -> StoreTarget:
    """What `--store`/`--db`/`--data-path` name; StartupError naming the setting when they
    name nothing this Flowscope opens."""
    s = settings
    if s.store is None or not is_lake(s.store):
        if s.store is not None and Path(s.store) != s.db:
            raise StartupError(Problem("store", f"names another file than --db ({s.db}), its alias"))
        if s.data_path is not None:
            raise StartupError(Problem("data_path", "is for a ducklake: store only (--store ducklake:...)"))
        return StoreTarget(s.db)
    try:
        lake = parse_lake(s.store)
    except StoreUrlError as exc:
        raise StartupError(Problem("store", str(exc))) from None
    if not s.data_path:
        raise StartupError(
            Problem("data_path", "is required with a ducklake: store: the lake's data directory, "
                    "shared by every node, or an s3:// URL")
        )  # fmt: skip
    return StoreTarget(s.db, lake, s.data_path)


def preflight(settings: Settings) -> str | None:
    """Why `serve` must not start with these settings, in one line (checked before it opens
    anything): a demo on a node without the engine, a sandbox directory that would expose the
    server's or other users' files, a lake's data files among them (step actions could read
    or overwrite them)."""
    if settings.role == "ingest":  # no engine: no sandbox to check
        if settings.demo:
            return (
                "--demo (FLOWSCOPE_DEMO) runs the example workflows on the engine, which a "
                "--role ingest node does not run: use --role all or query for the demo"
            )
        return None
    try:
        sandbox = prepare_sandbox(settings.sandbox_dir, settings.db)
    except SandboxDirError as exc:
        return str(exc)
    target = store_target(settings)
    if target.lake is not None and settings.node_stale_seconds < 3 * settings.node_heartbeat_seconds:
        return (
            f"--node-stale-seconds ({settings.node_stale_seconds}) must be at least 3 heartbeats "
            f"(--node-heartbeat-seconds {settings.node_heartbeat_seconds}): a live node must not be "
            "taken for dead"
        )
    if target.data_path is not None and not is_remote(target.data_path):
        data = Path(target.data_path).expanduser().resolve()
        if data.is_relative_to(sandbox) or sandbox.is_relative_to(data):
            return (
                f"sandbox directory {sandbox} and the lake's data path {data} overlap: choose a sandbox "
                "that does not hold the server's files (FLOWSCOPE_SANDBOX_DIR / --sandbox-dir)"
            )
    return None


def recognition(mapping: Path | None) -> Recognition:
    """The recognizers ingest asks: the operator's mapping file first (configuration beats a
    built-in guess about the same spans), then the built-in emitters. An unusable mapping
    file raises StartupError listing every problem with its location."""
    if mapping is None:
        return Recognition.of(BUILTIN)
    try:
        mapped = load_mapping(mapping)
    except MappingError as exc:
        raise StartupError(Problem("mapping", str(exc), "either")) from None
    return Recognition.of((mapped, *BUILTIN))


def start_silence_sweep(settings: Settings, store: Store, engine: EngineConfig) -> None:
    """Other emitters' runs unheard of for `silence_seconds` show as unknown (our engine's
    are never silent: crash recovery closes what a dead engine left open)."""
    if settings.silence_seconds > 0:
        store.start_silence_sweep(settings.silence_seconds, engine.telemetry.service_name)


def trigger_journal(settings: Settings) -> TriggerJournal | None:
    """The journal of acknowledged triggers (api/journal.py), next to the database file;
    none for an in-memory database (nothing would survive a crash to replay into)."""
    if str(settings.db) == ":memory:":
        return None
    return TriggerJournal(Path(f"{settings.db}.triggers"))


def open_file_store(path: Path) -> Store:
    """The store in `path`, for the commands that work on the file while no server runs."""
    return Store(path)


def open_configured_store(settings: Settings) -> Store:
    """The store `--store`/`--db`/`--data-path` name, for a command that runs without a
    server (`flowscope token`, the container's token bootstrap): the DuckDB file (StoreLocked
    while a server holds it) or a lake, which nodes and commands open side by side."""
    target = store_target(settings)
    if target.lake is None:
        return Store(target.file)
    assert target.data_path is not None  # store_target requires it
    try:
        return LakeStore(target.lake, target.data_path)
    except StoreOpenError as exc:
        raise StartupError(Problem("store", str(exc))) from None


def open_store(settings: Settings, registry: CollectorRegistry) -> Store:
    """The started store, with retention running when it is configured."""
    target = store_target(settings)
    if target.lake is None:
        store = Store(target.file, **_store_options(settings, registry))
    else:
        assert target.data_path is not None  # store_target requires it
        try:
            store = LakeStore(target.lake, target.data_path, **_store_options(settings, registry))
        except StoreOpenError as exc:
            raise StartupError(Problem("store", str(exc))) from None
    store.start()
    if isinstance(store, LakeStore) and settings.role != "ingest":  # it serves live feeds
        store.follow(settings.lake_poll_interval, settings.lake_follow_max_lag)
    if settings.retention_days:
        store.start_retention(settings.retention_days, settings.retention_interval_seconds)
    return store


def _store_options(settings: Settings, registry: CollectorRegistry) -> dict[str, Any]:
    """The DuckDB store's options, which the lake store takes too."""
    return {
        "registry": registry, "max_queue_items": settings.queue_items,
        "max_batch_items": settings.batch_items, "commit_delay_seconds": settings.commit_delay_seconds,
        "pacing": CommitPacing(gap_seconds=settings.commit_gap_ms / 1000),
        "memory_limit": settings.memory_limit, "checkpoint_threshold": settings.checkpoint_threshold,
    }  # fmt: skip


def auth_throttle(settings: Settings) -> AuthThrottle:
    return AuthThrottle(settings.auth_failure_burst, settings.auth_failures_per_minute)


def internal_token(settings: Settings) -> str | None:
    """The in-process engine's ingest credential, when it exports here and tokens are on (it
    exports into every workspace it runs workflows of, but a user's token is scoped to one)
    or the receivers are its alone (`--role query`: nobody else may send there)."""
    if settings.role == "ingest" or settings.engine_endpoint:
        return None
    if settings.auth_required or settings.role == "query":
        return "fsi_" + secrets.token_urlsafe(32)
    return None


def _engine_only(headers: Mapping[str, str]) -> str:
    raise IngestDenied(
        401, "this node serves --role query: its OTLP receiver is the engine's own; send telemetry "
        "to a node with --role ingest or all",
    )  # fmt: skip


def authorizer(settings: Settings, store: Store, throttle: AuthThrottle, token: str | None) -> Authorizer:
    """Who may ingest into which workspace (both receivers share it). On a query node the
    receivers, on loopback, take the engine's credential and nothing else."""
    if settings.role == "query":
        assert token is not None, "a query node's receivers exist for its engine's credential"
        return with_internal_token(_engine_only, store, token)
    authorize = ingest_authorizer(store, settings.auth_required, throttle)
    return authorize if token is None else with_internal_token(authorize, store, token)


def otlp_listeners(settings: Settings) -> tuple[str, int, int] | None:
    """Where the OTLP receivers listen (host, HTTP port, gRPC port), None for nowhere. A query
    node's are its engine's alone: on loopback, any free port, and none when the engine
    exports elsewhere (`--engine-endpoint`)."""
    if settings.role != "query":
        return settings.host, settings.otlp_http_port, settings.otlp_grpc_port
    if settings.engine_endpoint:
        return None
    return ("::1" if settings.host == "::1" else "127.0.0.1"), 0, 0


def ignored_settings(settings: Settings) -> str | None:
    """A warning naming the settings this role leaves unused that were set (flag or variable):
    a query node's OTLP ports. (Every node may share one configuration, as Tempo's and Loki's
    targets do, so they are not an error.)"""
    unused = ("otlp_http_port", "otlp_grpc_port") if settings.role == "query" else ()
    given = [name for name in unused if name in settings.model_fields_set]
    if not given:
        return None
    names = ", ".join(f"--{name.replace('_', '-')} (FLOWSCOPE_{name.upper()})" for name in given)
    return f"--role query binds no OTLP receiver: {names} ignored"


def engine_config(
    settings: Settings, otlp_http_url: str, otlp_grpc_address: str, token: str | None, store: Store
) -> EngineConfig:
    """The engine's config: it exports to `--engine-endpoint`, else to this server's own
    receivers (`token`: its credential there)."""
    s = settings
    # On a shared store each start of a node is a new node (the id its lake commits carry too),
    # named in its engine's telemetry.
    instance_id = store.node_id if isinstance(store, LakeStore) else None
    if s.engine_endpoint:
        telemetry = TelemetryConfig(
            endpoint=s.engine_endpoint, protocol=s.engine_protocol, instance_id=instance_id
        )
    else:
        endpoint = otlp_grpc_address if s.engine_protocol == "grpc" else otlp_http_url
        telemetry = TelemetryConfig(
            endpoint=endpoint, protocol=s.engine_protocol, token=token, instance_id=instance_id,
            proxies_from_env=False,  # its own receivers: never through a proxy
        )  # fmt: skip
    return EngineConfig(
        telemetry=telemetry,
        enable_shell=s.enable_shell,
        http_allowed_hosts=tuple(s.http_allowed_hosts),
        http_allowed_networks=tuple(str(n) for n in s.http_allowed_networks),
        max_concurrent_executions=s.max_concurrent_executions,
        max_running_per_workspace=s.max_running_per_workspace,
        max_pending_per_workspace=s.max_pending_per_workspace,
        max_steps=s.max_steps,
        finished_executions_kept=0,  # the collector is the history; the API never asks the engine
        sandbox_dir=None if s.role == "ingest" else prepare_sandbox(s.sandbox_dir, s.db),
    )


def api_settings(s: Settings) -> ApiSettings:
    return ApiSettings(
        auth_required=s.auth_required,
        cors_origins=tuple(s.cors_origins),
        max_bulk_executions=s.max_bulk_executions,
        metrics_auth=s.metrics_auth,
        metrics_token=s.metrics_token,
        metrics_series_limit=s.metrics_series_limit,
        metrics_series_expiry_seconds=s.metrics_series_expiry_seconds,
        jaeger_max_trace_spans=s.jaeger_max_trace_spans,
    )


def live_config(s: Settings) -> LiveConfig:
    return LiveConfig(
        reorder_window_seconds=s.ws_reorder_window,
        queue_messages=s.ws_queue_messages,
        close_timeout_seconds=s.ws_close_timeout,
        replay_max_executions=s.ws_replay_max_executions,
        replay_max_events=s.ws_replay_max_events,
    )


def app_context(
    settings: Settings,
    store: Store,
    registry: CollectorRegistry,
    throttle: AuthThrottle,
    config: EngineConfig,
) -> AppContext:
    return AppContext(
        store=store,
        registry=registry,
        settings=api_settings(settings),
        engine_config=config,
        throttle=throttle,
        commit_watcher=CommitWatcher(store.changes),
        hub=Hub(store.changes, live_config(settings), registry),
        access=AccessCache(store.catalog),
        barrier=visibility_barrier(settings, store),
    )


def visibility_barrier(settings: Settings, store: Store) -> VisibilityBarrier:
    """Read-your-writes for triggers; on a store only this process changes, it also keeps the
    records of committed executions no later commit changed (api/visibility.py). Retention
    deletes without a commit the barrier sees: an execution is kept for less time than
    retention keeps it."""
    if not store.sole_writer:
        return VisibilityBarrier(hurry=store.writer.hurry)
    keep = KEEP_SECONDS
    if settings.retention_days:
        keep = min(keep, settings.retention_days * 86_400 / 2)
    barrier = VisibilityBarrier(hurry=store.writer.hurry, keep_seconds=keep)
    store.writer.on_commit(barrier.changed)
    return barrier


async def start_engine(context: AppContext, settings: Settings, api_url: str) -> EngineHost:
    """Once the listeners are up: the engine (on its own loop and thread, so executions never
    hold the loop that serves HTTP and OTLP), then recovery and the demo."""
    engine = EngineHost(context.engine_config)
    # Executions started through the API are recorded before the 202 (api/intake.py); their
    # queued records too when the engine exports to this server, which then dedupes the copies.
    # Journaled, those answer before their commit; what a crash left uncommitted is stored
    # first, before numbers are taken again and before recovery closes it as interrupted
    # (also when this start exports elsewhere and journals nothing new).
    journal = trigger_journal(settings)
    if journal is not None:
        await replay_journal(context.store, journal)
    context.intake = Intake(
        context.store, engine, direct=not settings.engine_endpoint, barrier=context.barrier, journal=journal
    )
    if isinstance(context.store, LakeStore):
        # Other nodes' engines run executions on this store too: only a dead node's are
        # closed, by whichever live node notices first (api/cluster.py).
        cluster = Cluster(
            context.store.nodes, context.store, engine,
            heartbeat_seconds=settings.node_heartbeat_seconds, stale_seconds=settings.node_stale_seconds,
        )  # fmt: skip
        await asyncio.to_thread(cluster.start)  # before the engine takes an execution
        context.cluster = cluster
    context.engine = engine
    if context.cluster is None:
        await close_interrupted(context.store, engine)
    if settings.demo:
        await run_demo(context, settings.demo_runs, api_url)
    return engine

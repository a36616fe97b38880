"""Every setting of `flowscope serve`, in one typed object.

Values come from (highest first) command-line flags, `FLOWSCOPE_*` environment
variables, then the defaults below (DESIGN.md "Running it").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, IPvAnyNetwork, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from flowscope.storage.duckdb.pacing import COMMIT_GAP_SECONDS, ENOUGH_ITEMS, LAKE_ENOUGH_ITEMS
from flowscope.storage.ducklake.url import is_lake

MiB = 1024 * 1024


# A size as DuckDB reads one: a number, then an optional unit (B, KB, MiB, g, ...) or %.
_DATA_SIZE = re.compile(r"\s*\d+(\.\d+)?\s*(%|b|bytes|[kmgt]i?b?)?\s*", re.IGNORECASE)


def _data_size(value: str) -> str:
    if not _DATA_SIZE.fullmatch(value):
        raise ValueError("expected a size such as 2GB, 512MiB or 80%")
    return value


DataSize = Annotated[str, AfterValidator(_data_size)]


class Settings(BaseSettings):
    # Each field's variable is FLOWSCOPE_ + its name, no exceptions (startup errors name it so).
    # An empty variable counts as unset, as the live feeds' variables always did.
    model_config = SettingsConfigDict(env_prefix="FLOWSCOPE_", extra="ignore", env_ignore_empty=True)

    role: Literal["all", "ingest", "query"] = Field(
        "all",
        description="What this node serves (README, Node roles): all; ingest = the OTLP receivers "
        "and the writer, the API port only /healthz, /readyz, /metrics; query = the API, web UI, "
        "WebSockets, Jaeger/Grafana APIs and the engine, no OTLP port.",
    )
    host: str = Field("127.0.0.1", description="Address every listener binds to.")
    api_port: int = Field(8000, ge=0, le=65535, description="REST/WebSocket/Jaeger/metrics port (0 = any).")
    otlp_http_port: int = Field(4318, ge=0, le=65535, description="OTLP/HTTP receiver port (0 = any).")
    otlp_grpc_port: int = Field(4317, ge=0, le=65535, description="OTLP/gRPC receiver port (0 = any).")
    db: Path = Field(
        Path("./flowscope.duckdb"),
        description="DuckDB database file (--store's alias). With a ducklake: store, the prefix of this "
        "node's own files ('<db>.triggers', the default '<db>.sandbox'), never of telemetry.",
    )
    store: str | None = Field(
        None,
        description="Where telemetry is stored: a DuckDB file (default: --db), or a DuckLake (preview), "
        "ducklake:postgres:<libpq conninfo>, with --data-path.",
    )
    data_path: str | None = Field(
        None,
        description="A ducklake: store's data files: a directory every node shares, or an s3:// URL "
        "(passed to DuckLake as is; not tested here).",
    )
    max_body_bytes: int = Field(64 * MiB, gt=0, description="OTLP/HTTP body limit, after decompression.")
    grpc_max_message_bytes: int = Field(64 * MiB, gt=0, description="OTLP/gRPC maximum message size.")
    header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="Seconds a client has to send a request's line and headers (gRPC: the HTTP/2 "
        "handshake); then 408, or a close when nothing was sent.",
    )
    body_timeout_seconds: float = Field(
        60.0,
        gt=0,
        description="Seconds a client has to send a whole request body after its headers (gRPC: the "
        "request message); then 408 (gRPC DEADLINE_EXCEEDED).",
    )
    idle_timeout_seconds: float = Field(
        15.0, gt=0, description="Seconds an idle kept-alive connection (HTTP or gRPC) stays open."
    )
    max_connections: int = Field(
        4096,
        ge=16,
        description="Connections per listener (lowered to fit the open files limit). At the cap the "
        "longest-idle connection is closed to make room; when none is idle, 503.",
    )
    shutdown_timeout_seconds: float = Field(
        8.0, gt=0, description="SIGTERM: seconds in-flight requests get to finish before they are cut."
    )
    queue_items: int = Field(
        200_000, gt=0, description="Write queue capacity in spans+log records; beyond it ingest gets 503."
    )
    batch_items: int = Field(50_000, gt=0, description="Most spans+log records committed in one transaction.")
    commit_gap_ms: float = Field(
        COMMIT_GAP_SECONDS * 1000,
        ge=0,
        description=f"After a commit during which requests kept arriving, how long a batch of fewer "
        f"than {ENOUGH_ITEMS:,} spans+log records ({LAKE_ENOUGH_ITEMS:,} on a lake) waits for more before "
        "it is committed (0: at once). Each commit has a fixed cost.",
    )
    retention_days: float | None = Field(
        None, gt=0, description="Delete telemetry older than this many days."
    )
    retention_interval_seconds: float = Field(
        300.0, gt=0, description="How often retention runs (seconds), when --retention-days is set."
    )
    memory_limit: DataSize = Field("2GB", description="DuckDB memory limit (e.g. 2GB, 512MiB, 80%).")
    checkpoint_threshold: DataSize = Field(
        "64MB", description="WAL size at which DuckDB checkpoints into the database file."
    )
    auth: Literal["none", "token"] = Field(
        "none", description="'token' requires bearer tokens (always on when host is not loopback)."
    )
    auth_failure_burst: int = Field(
        20,
        ge=0,
        description="Invalid tokens one client address may present in a burst; beyond it requests "
        "needing a token get 429 (gRPC RESOURCE_EXHAUSTED) until the bucket refills. 0 = no limit.",
    )
    auth_failures_per_minute: float = Field(
        10.0, gt=0, description="How fast a client's failed-authentication allowance refills (per minute)."
    )
    metrics_auth: Literal["none", "token"] = Field(
        "none",
        description="'token': /metrics needs a bearer token; a workspace's token sees that workspace's "
        "series only, FLOWSCOPE_METRICS_TOKEN or a server-admin token sees all.",
    )
    metrics_token: SecretStr | None = Field(
        None, description="Scrape secret for /metrics (all series) when --metrics-auth token."
    )
    metrics_series_limit: int = Field(
        2000,
        ge=2,
        description="Most series per workspace in each /metrics family (overflow series included); "
        'later label sets count in the series labelled otel_metric_overflow="true".',
    )
    metrics_series_expiry_seconds: float = Field(
        0.0, ge=0, description="Drop /metrics series not updated for this long, freeing them (0 = never)."
    )
    jaeger_max_trace_spans: int = Field(
        5000,
        ge=1,
        description="Most spans of one trace the Jaeger API returns (by id and in search results): the "
        "root and the earliest-starting spans; a cut trace carries a warning saying how many were left out.",
    )
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed by CORS.")
    demo: bool = Field(False, description="Seed the example workflows and run each a few times.")
    demo_runs: int = Field(3, ge=0, description="Runs of each example in demo mode.")
    enable_shell: bool = Field(False, description="Allow the 'shell' step action (runs commands).")
    http_allowed_hosts: list[str] = Field(
        default_factory=list, description="Hosts the 'http' step action may call (empty = action disabled)."
    )
    http_allowed_networks: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Networks (CIDR) the 'http' step action may connect to although not public: "
        "loopback, private, link-local, ... addresses are refused otherwise, whatever name resolves to them.",
    )
    sandbox_dir: Path | None = Field(
        None,
        description="The only directory step actions may read and write ('sql', the example pipeline): "
        "private (0700), never holding the database (default: '<db>.sandbox' next to the database file).",
    )
    engine_protocol: Literal["http", "grpc"] = Field("http", description="How the engine exports telemetry.")
    engine_endpoint: str | None = Field(
        None, description="Where the engine exports (default: this server's own OTLP receiver)."
    )
    max_concurrent_executions: int = Field(
        1000, gt=0, description="Executions running at once over all workspaces; more wait (pending)."
    )
    max_running_per_workspace: int = Field(
        100, gt=0, description="Executions of one workspace running at once; more of it wait (pending)."
    )
    max_pending_per_workspace: int = Field(
        1000,
        ge=0,
        description="Executions of one workspace waiting to start; beyond it execute answers 429 with "
        "Retry-After. Waiting executions start round-robin across workspaces.",
    )
    max_bulk_executions: int = Field(
        1000,
        ge=1,
        le=10_000,
        description="Most input sets in one bulk execute request (`input_sets`); more answer 422.",
    )
    max_steps: int = Field(
        10_000, ge=1, le=10_000, description="Most steps per workflow definition (more: 422); at most 10,000."
    )
    lake_poll_interval: float = Field(
        0.1,
        gt=0,
        le=60,
        description="With a ducklake: store, seconds between a node's looks at the lake for the other "
        "nodes' commits, whose events its live feeds stream (--role all and query).",
    )
    lake_follow_max_lag: float = Field(
        10.0,
        gt=0,
        description="With a ducklake: store, seconds a node may fall behind the other nodes' commits "
        "before it closes its live feeds with 1013 (clients resync with since) and skips ahead.",
    )
    # Live WebSocket feeds (api/ws): named after the variables they had before they were settings.
    ws_reorder_window: float = Field(
        1.0,
        ge=0,
        description="Seconds a live event waits for a missing predecessor (a lifecycle record not yet "
        "arrived) before that predecessor is synthesized from the span.",
    )
    ws_queue_messages: int = Field(
        1024,
        ge=1,
        description="Messages queued per feed connection; a client further behind is closed (1013).",
    )
    ws_close_timeout: float = Field(
        5.0,
        gt=0,
        description="Seconds a server-initiated close of a feed may wait for a congested client.",
    )
    ws_replay_max_executions: int = Field(
        1000, ge=1, description="`?since=` replay: most recent executions considered."
    )
    ws_replay_max_events: int = Field(10_000, ge=1, description="`?since=` replay: most events sent.")
    commit_delay_seconds: float = Field(
        0.0, ge=0, description="Test-only: sleep before each commit to simulate a slow disk."
    )
    mapping: Path | None = Field(
        None, description="Mapping file: how another tracer's spans become executions and steps."
    )
    silence_seconds: float = Field(
        3600.0,
        ge=0,
        description="A run of another emitter still running with nothing heard of it for this long "
        "is shown as unknown (0: never).",
    )
    node_heartbeat_seconds: float = Field(
        2.0,
        gt=0,
        description="A ducklake: store's engine nodes: how often this node records that it is alive "
        "(and, while its engine runs executions, checks four times as often for cancels asked "
        "through other nodes).",
    )
    node_stale_seconds: float = Field(
        15.0,
        gt=0,
        description="A ducklake: store's engine nodes: a node not heard of for this long is dead, and "
        "a live node closes the executions it left open as failed (interrupted). At least three "
        "heartbeats.",
    )
    log_level: str = Field("warning", description="Server log level.")

    @model_validator(mode="after")
    def _store_file_is_db(self) -> Settings:
        """`--store PATH` names the DuckDB file, as `--db` does (compose.store_target refuses
        the two naming different files)."""
        if self.store is not None and not is_lake(self.store) and "db" not in self.model_fields_set:
            self.db = Path(self.store)
        return self

    @property
    def auth_required(self) -> bool:
        return self.auth == "token" or self.host not in ("127.0.0.1", "localhost", "::1")

"""`flowscope maintain`: the maintenance process of a DuckLake store (storage/ducklake/
maintenance.py says what a round does and why it is safe while nodes ingest)."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from typing import Annotated

import typer

from flowscope.startup_errors import Problem, StartupError, load_settings

NOT_A_LAKE = (
    "flowscope maintain works on a ducklake: store only (ducklake:postgres:<libpq conninfo>, with "
    "--data-path); a DuckDB file is maintained by the one server that holds it"
)


def maintain(
    store: Annotated[
        str | None, typer.Option(help="The lake: ducklake:postgres:<libpq conninfo> [FLOWSCOPE_STORE].")
    ] = None,
    data_path: Annotated[
        str | None, typer.Option(help="The lake's data directory or s3:// URL [FLOWSCOPE_DATA_PATH].")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Run one round and exit.")] = False,
    interval_seconds: Annotated[
        float,
        typer.Option(min=0.1, envvar="FLOWSCOPE_MAINTAIN_INTERVAL_SECONDS", help="Seconds between rounds."),
    ] = 300.0,
    retention_days: Annotated[
        float | None,
        typer.Option(
            help="Delete telemetry older than N days (default: keep all) [FLOWSCOPE_RETENTION_DAYS]."
        ),
    ] = None,
    snapshot_retention_seconds: Annotated[
        float,
        typer.Option(
            min=0,
            envvar="FLOWSCOPE_SNAPSHOT_RETENTION_SECONDS",
            help="Expire lake snapshots older than this (readers and change feeds need the recent ones).",
        ),
    ] = 3600.0,
    file_grace_seconds: Annotated[
        float,
        typer.Option(
            min=0,
            envvar="FLOWSCOPE_FILE_GRACE_SECONDS",
            help="Delete replaced and orphaned files only once this old (orphans never younger than "
            "300 s: a young orphan may be a node's commit in flight).",
        ),
    ] = 600.0,
    log_level: Annotated[str | None, typer.Option(help="Log level [warning].")] = None,
) -> None:
    """Keep a DuckLake store small while nodes ingest: each round applies retention, flushes
    inlined rows, merges small files, expires old snapshots and deletes the files nothing
    reads any more; one line per round on stdout. Run one per lake."""
    settings = load_settings(
        {"store": store, "data_path": data_path, "retention_days": retention_days, "log_level": log_level}
    )
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from flowscope.compose import store_target
    from flowscope.storage.duckdb.errors import is_fatal
    from flowscope.storage.ducklake.maintenance import Maintainer, Policy
    from flowscope.storage.ducklake.url import redact
    from flowscope.storage.errors import StoreOpenError

    target = store_target(settings)
    if target.lake is None or target.data_path is None:
        raise StartupError(Problem("store", NOT_A_LAKE))
    policy = Policy(settings.retention_days, snapshot_retention_seconds, file_grace_seconds)
    try:
        maintainer = Maintainer(target.lake, target.data_path, policy)
    except StoreOpenError as exc:
        raise StartupError(Problem("store", str(exc))) from None
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    typer.echo(f"flowscope maintain ready store={target.described()}")
    broken = False  # DuckDB invalidated the connection: every later round would fail alike
    try:
        while not stop.is_set():
            try:
                if broken:
                    with contextlib.suppress(Exception):
                        maintainer.close()
                    maintainer = Maintainer(target.lake, target.data_path, policy)
                    broken = False
                typer.echo(maintainer.run_round().line())
            except Exception as exc:  # PostgreSQL or the data path away: the next round tries again
                if once:
                    raise
                broken = broken or is_fatal(exc)
                logging.getLogger(__name__).exception("maintain round failed")
                typer.echo(f"maintain round failed: {_shortened(redact(' '.join(str(exc).split())))}")
            if once:
                break
            stop.wait(interval_seconds)
    finally:
        with contextlib.suppress(Exception):
            maintainer.close()


def _shortened(text: str, keep: int = 300) -> str:
    """DuckDB's messages may quote whole statements: their start and their end (the reason)."""
    return text if len(text) <= 2 * keep else f"{text[:keep]} ... {text[-keep:]}"


def register(app: typer.Typer) -> None:
    app.command()(maintain)

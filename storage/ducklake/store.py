"""The DuckLake store: the DuckDB store (storage/duckdb/store.py) on a DuckLake whose catalog
is a PostgreSQL database and whose data are Parquet files under a data path.

The DuckDB process connects to the lake itself (`duckdb.connect('ducklake:postgres:...')`), so
the lake is the default database of every cursor and the DuckDB store's statements run
unchanged; the store replaces only what DuckLake lacks (its schema without constraints and
indexes, statements without RETURNING: sql/). One writer per node, as in the file.

Several nodes on one lake: each node's writer labels its commits (labels.py), and a node that
serves live feeds follows the others' (`follow`, follow.py), publishing them on its own event
bus; the engines' shared state (heartbeats, cancel requests) is `nodes` (nodes.py,
api/cluster.py). Compaction, snapshot expiry and cleanup are the maintenance process's (`flowscope
maintain`, maintenance.py): until it runs, every commit writes its own small Parquet files, or,
up to DuckLake's inlining limit (10 rows), catalog rows.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
from flowscope.storage.duckdb.errors import register_unavailable
from flowscope.storage.duckdb.pacing import LAKE_ENOUGH_ITEMS, CommitPacing
from flowscope.storage.duckdb.schema import migrate
from flowscope.storage.duckdb.store import Store
from flowscope.storage.ducklake import extensions, failures
from flowscope.storage.ducklake.catalog import LakeCatalog
from flowscope.storage.ducklake.conflicts import is_conflict
from flowscope.storage.ducklake.executions import LakeExecutions
from flowscope.storage.ducklake.follow import DEFAULT_INTERVAL, DEFAULT_MAX_LAG, LakeFollower
from flowscope.storage.ducklake.labels import new_node_id
from flowscope.storage.ducklake.nodes import LakeNodes
from flowscope.storage.ducklake.sqlfiles import SQL_DIR, required
from flowscope.storage.ducklake.url import LakeUrl, parse_lake, redact
from flowscope.storage.ducklake.writer import LakeWriter
from flowscope.storage.errors import StorageUnavailable, StoreOpenError
from flowscope.storage.rebuild import Derive, RebuildCounts

MIGRATIONS = SQL_DIR / "migrations"
# DuckLake retries a commit that lost to another's (the snapshot id it took was taken first)
# after `ducklake_retry_wait_ms` * (0.5 to 1) * 1.5^try. Its default, 100 ms, suits rare conflicts;
# nodes ingesting side by side conflict on most commits, and the node's only writer slept
# through them: a commit took 46 ms of wall time on average with two nodes (10 ms with one).
# With 5 ms, 19 ms. Ten tries still wait up to half a second in all.
LAKE_RETRY_WAIT_MS = 5
# /readyz answers within this even when PostgreSQL does not answer at all (a frozen server or a
# dropped network: libpq waits without bound, and DuckDB's interrupt cannot cut that wait).
PING_TIMEOUT_SECONDS = 2.0
ANSWER_DEADLINE_SECONDS = 10.0


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def is_remote(data_path: str) -> bool:
    """An object-storage data path (s3://, gs://, ...), passed to DuckLake as it is."""
    return "://" in data_path


class LakeStore(Store):
    writer_type = LakeWriter
    sole_writer = False  # other nodes' commits change the store too
    # A PostgreSQL that stopped answering without closing its connections (frozen, or a
    # network that drops packets) holds a query in libpq without bound, and DuckDB's interrupt
    # cannot cut that wait (measured): clients are answered 503 after this instead
    # (collector/ingest.py, api/answer_deadline.py); the query itself ends when it does.
    answer_deadline_seconds: float | None = ANSWER_DEADLINE_SECONDS

    def __init__(
        self, url: LakeUrl | str, data_path: str | Path, *, inline_rows: int | None = None, **options: Any
    ) -> None:
        """`inline_rows`: when given, DuckLake's data inlining limit recorded in the lake (commits
        of up to that many rows of a table go to catalog rows instead of a Parquet file; its
        default is 10, 0 writes every commit as Parquet). `options`: the DuckDB store's."""
        self.lake = url if isinstance(url, LakeUrl) else parse_lake(url)
        self._inline_rows = inline_rows
        data = str(data_path)
        # DuckLake joins file names to the data path as given: a directory needs its slash.
        self.data_path = data if data.endswith("/") else data + "/"
        pacing = options.get("pacing", CommitPacing())
        options["pacing"] = replace(pacing, enough_items=max(pacing.enough_items, LAKE_ENOUGH_ITEMS))
        super().__init__(self.lake.url, **options)
        self.catalog = LakeCatalog(self)
        self.executions = LakeExecutions(self)  # an execution's row found without a scan
        register_unavailable(failures.unavailable)  # reads answer 503 for what ingest does
        # Pings run on a daemon thread of their own: one stuck on the network must not hold
        # the process at exit (a ThreadPoolExecutor's workers are joined at exit).
        self._pings: queue.Queue[Future[None] | None] = queue.Queue()
        self._ping: Future[None] | None = None
        self._ping_lock = threading.Lock()
        threading.Thread(target=self._ping_loop, name="flowscope-lake-ping", daemon=True).start()
        self.nodes = LakeNodes(self)  # the engine nodes' shared state (api/cluster.py)
        self.node_id = new_node_id()
        assert isinstance(self.writer, LakeWriter)
        self.writer.join(self.node_id, self.lake.conninfo, self.data_path)
        self.follower: LakeFollower | None = None

    def follow(self, interval: float = DEFAULT_INTERVAL, max_lag: float = DEFAULT_MAX_LAG) -> LakeFollower:
        """Publish the other nodes' commits on `changes` from now on (a node serving live
        feeds: follow.py), polling the catalog every `interval` seconds."""
        if self.follower is None:
            follower = LakeFollower(self, self.changes, interval=interval, max_lag=max_lag)
            follower.start()
            self.follower = follower
        return self.follower

    def described(self) -> str:
        return self.lake.redacted()

    def _open(self) -> duckdb.DuckDBPyConnection:
        """Create the lake, or check it opens, on a connection of its own with the data path
        (a new lake records it in its catalog); then connect to the lake itself."""
        if not is_remote(self.data_path):
            Path(self.data_path).mkdir(parents=True, exist_ok=True)
        boot = duckdb.connect(config=extensions.CONFIG)
        try:
            extensions.install(boot)
            boot.execute(f"ATTACH {_literal(self.lake.url)} AS lake (DATA_PATH {_literal(self.data_path)})")
            if self._inline_rows is not None:
                boot.execute("CALL lake.set_option('data_inlining_row_limit', ?)", [self._inline_rows])
            boot.close()
            return self._connect()
        except (duckdb.Error, extensions.ExtensionMissing) as exc:
            # DuckDB's message repeats the conninfo, password included: never pass it on (nor
            # chain the exception, which tracebacks would print).
            reason = redact(" ".join(str(exc).split()))
            raise StoreOpenError(f"cannot open the lake {self.described()}: {reason}") from None
        finally:
            with contextlib.suppress(duckdb.Error):
                boot.close()

    def ping(self) -> bool:
        """Whether the catalog answers: reading the lake's current snapshot is a query to
        PostgreSQL (`SELECT 1` would not leave DuckDB). Bounded by PING_TIMEOUT_SECONDS; while
        an unanswered ping still waits, the next ones say "no" without queueing behind it."""
        with self._ping_lock:
            if self._ping is None or self._ping.done():
                self._ping = Future()
                self._pings.put(self._ping)
            ping = self._ping
        try:
            ping.result(PING_TIMEOUT_SECONDS)
        except Exception:  # no answer in time (FutureTimeout), or the query failed: not ready
            return False
        return True

    def _ping_loop(self) -> None:
        while (ping := self._pings.get()) is not None:
            ping.set_running_or_notify_cancel()
            try:
                self.cursor().execute(required("ping")).fetchall()
            except Exception as exc:
                ping.set_exception(exc)
            else:
                ping.set_result(None)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        # extensions.CONFIG: no download, no invalidation (why: there). Parquet footers are
        # cached: a lake's files never change once written (a rewrite is a new file), and
        # every read by id otherwise parses the footer of every file of its table again.
        con = duckdb.connect(self.path, config={**self._config, **extensions.CONFIG})
        con.execute("SET GLOBAL parquet_metadata_cache = true")  # not a connect option: parquet loads later
        con.execute(f"SET GLOBAL ducklake_retry_wait_ms = {LAKE_RETRY_WAIT_MS}")
        return con

    def rebuild_rows(self, derive: Derive) -> RebuildCounts:
        """The DuckDB store's rebuild, in one lake transaction. Nodes may still be committing
        (no lock keeps them out, as a file's does): a commit of theirs that lands first makes
        the rebuild lose DuckLake's conflict check and roll back whole. It is not run again,
        because it would lose again under steady ingest; the caller is told to stop ingest."""
        try:
            return super().rebuild_rows(derive)
        except duckdb.Error as exc:
            unavailable = failures.unavailable(exc)
            if unavailable is not None:
                raise unavailable from None  # (the cause's message holds the conninfo)
            if is_conflict(exc):
                raise StorageUnavailable(
                    "another node committed to the lake while the rebuild ran, so the rebuild was "
                    "rolled back and nothing was changed: stop the nodes' ingest and run it again"
                ) from None
            raise

    def _migrate(self, con: duckdb.DuckDBPyConnection) -> int:
        return migrate(con, MIGRATIONS, required("schema_version"))

    def _checkpoint(self) -> None:
        """Nothing at close: a lake's CHECKPOINT compacts and expires what every node wrote,
        which is the maintenance process's job (issue 14), not a closing node's."""

    def close(self) -> None:
        if self.follower is not None:
            self.follower.stop()
        super().close()
        self._pings.put(None)

"""`flowscope maintain`: the one process that keeps a lake small while nodes ingest.

Each round, in this order (DuckLake's functions, duckdb 1.5.5 / ducklake 1.5.5; their
statements are in sql/maintenance/):

1. retention (`--retention-days`): storage/duckdb/retention.py, the rule the file's server runs;
2. `ducklake_flush_inlined_data`: commits of up to 10 rows a table are kept as catalog rows
   in PostgreSQL (DuckLake's inlining); they move into Parquet;
3. `ducklake_merge_adjacent_files`: every commit wrote its own small Parquet file; adjacent
   ones become one. Older snapshots stay readable (they point into parts of the new file), so
   this changes nothing a reader or a change feed sees;
4. `ducklake_rewrite_data_files`: files most of whose rows were deleted are rewritten; of the
   executions table, every file with a deleted row (REWRITE_EVERY_DELETE): ingest replaces an
   execution's row by delete + insert at every commit that touches it, so its files keep
   delete files that merging leaves alone, and every read of the table (an execution by id,
   a workflow's list and metrics) opened all of them (20 data and 19 delete files at 1M
   spans after a round at 0.5, 1 file at 0; README "Scale-out store");
   Then the files of the tables read by trace id (spans, logs) are rewritten in trace id order
   into files of narrow, disjoint id ranges, when key_ranges.py says it pays: a read by trace
   id then opens one file of each such rewrite instead of every file. One transaction inserts
   the files' rows again and deletes them from the old files (checked: as many rows in as the
   files held), so readers see the rows once, before or after;
5. `ducklake_expire_snapshots` older than `snapshot_retention_seconds`: a snapshot is what
   a reader or a node's change feed (changes between two snapshots) reads from; they lag by
   seconds, so the default keeps an hour;
6. `ducklake_cleanup_old_files` scheduled for deletion more than `file_grace_seconds` ago:
   the files merged away or of expired snapshots. Every read is one short autocommit query,
   so one that started before they were scheduled has ended long before (default 10 min);
7. `ducklake_delete_orphaned_files` older than `file_grace_seconds`: files no catalog row
   names. A node writes a commit's Parquet file before its catalog commit names it, so a
   young "orphan" may be a commit in flight: only files older than the grace, and never
   younger than ORPHAN_MIN_AGE_SECONDS, are deleted.

Safe under live writers: every step is its own DuckLake transaction; DuckLake retries a
commit whose snapshot moved on, and a step that still conflicts with a node's commit (both
deleting from one file, say) is retried here (RETRIES times with a backoff) and otherwise
left to the next round. A node whose commit lost such a conflict answers its exporter
503/UNAVAILABLE and the exporter sends again: nothing acknowledged (committed) is ever
rewritten but into a file that holds the same rows.

Not here: the step-summary maintenance and the silence sweep still run on every node
(their state lives in each node's writer: see the README, "Scale-out store").
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import duckdb
from flowscope.storage.duckdb.errors import is_fatal
from flowscope.storage.duckdb.retention import Deleted, delete_before
from flowscope.storage.duckdb.step_summaries import SealedDays
from flowscope.storage.duckdb.transaction import rollback, transaction
from flowscope.storage.ducklake import extensions, key_ranges
from flowscope.storage.ducklake.conflicts import is_conflict
from flowscope.storage.ducklake.sqlfiles import required
from flowscope.storage.ducklake.store import is_remote
from flowscope.storage.ducklake.url import LakeUrl, redact
from flowscope.storage.errors import StoreOpenError

log = logging.getLogger(__name__)
T = TypeVar("T")

ALIAS = "lake"  # the statements in sql/maintenance/ name the attached lake so
RETRIES = 5
# An orphan younger than this is never deleted, whatever --file-grace-seconds says: it may be a
# node's commit in flight, and deleting it loses the rows of a commit about to be acknowledged
# (seen here with a grace of 0 under live ingest: a committed file gone, reads failing).
ORPHAN_MIN_AGE_SECONDS = 300.0
RETRY_WAIT_SECONDS = 0.2
REWRITE_THRESHOLD = 0.5  # files with at least this share of rows deleted are rewritten
# Tables whose files are rewritten for any deleted row (see 4. above). A file of old, finished
# executions rarely loses a row (a late record), so their large merged file is rarely rewritten.
REWRITE_EVERY_DELETE = frozenset({"executions"})
# The nodes' shared state: a few rows, replaced all the time (a heartbeat every 2 s). Their
# files are rewritten whole by a transaction of ours (sql/maintenance/rewrite_whole.sql)
# instead of `ducklake_rewrite_data_files`, which DuckLake 1.5.5 fails on them with an internal
# error ("DuckLakeCompaction - expected a single output file for 18446744073709551615 rows",
# seen here with heartbeats under back-to-back rounds; duckdb/ducklake issue 1025 reports the
# same assertion) that invalidates the connection.
STATE_TABLES = frozenset({"engine_nodes", "execution_cancels", "catalog_serial"})
# Their rows stay inlined in the catalog (each commit changes a row or two): flushed to a file
# only once this many row versions piled up there (every update adds one, and only a flush
# clears them), so a round leaves them no file to rewrite, or to orphan when it loses a race.
STATE_FLUSH_ROWS = 10_000
# The tables read by trace id (a trace's spans, an execution's lifecycle records), whose files
# are rewritten into trace id ranges (key_ranges.py), and the time column of each that tells
# which files are settled.
KEY_ORDERED = {"spans": "start_ns", "logs": "time_ns"}
DUCKLAKE_TARGET_FILE_BYTES = 512 * 2**20  # DuckLake's target_file_size when a table sets none
_KEY_ORDER_SQL = ("rows_in_files", "key_order_insert", "key_order_delete")
_INLINED_TABLE = re.compile(r"ducklake_inlined_data_\d+_\d+")


@dataclass(frozen=True)
class Policy:
    retention_days: float | None = None
    """Delete telemetry older than this (None: keep all)."""
    snapshot_retention_seconds: float = 3600.0
    """Expire snapshots older than this."""
    file_grace_seconds: float = 600.0
    """Delete replaced and orphaned files only once they are this old."""


@dataclass
class Round:
    """What one round did (the `maintain` process prints one line of it per round)."""

    data_files_before: int = 0
    data_files_after: int = 0
    delete_files_before: int = 0
    delete_files_after: int = 0
    deleted: Deleted | None = None
    rows_flushed: int = 0
    files_merged: int = 0
    files_written: int = 0
    files_rewritten: int = 0
    files_key_ordered: int = 0
    snapshots_expired: int = 0
    files_removed: int = 0
    orphans_removed: int = 0
    skipped: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    seconds: float = 0.0

    def line(self) -> str:
        d = self.deleted
        retention = f" retention: spans={d.spans} logs={d.logs} executions={d.executions}" if d else ""
        skipped = f" skipped={','.join(self.skipped)}" if self.skipped else ""
        skipped += f" failed={','.join(self.failed)}" if self.failed else ""
        return (
            f"maintain round: data_files={self.data_files_before}->{self.data_files_after} "
            f"delete_files={self.delete_files_before}->{self.delete_files_after} "
            f"inlined_rows_flushed={self.rows_flushed} merged={self.files_merged}->{self.files_written} "
            f"rewritten={self.files_rewritten} key_ordered={self.files_key_ordered} "
            f"snapshots_expired={self.snapshots_expired} "
            f"files_removed={self.files_removed} orphans_removed={self.orphans_removed}"
            f"{retention}{skipped} seconds={self.seconds:.2f}"
        )


@dataclass
class _Left:
    """The steps of a round left to the next one."""

    skipped: list[str] = field(default_factory=list)  # lost to concurrent commits every try
    failed: list[str] = field(default_factory=list)  # DuckDB's internal error


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Maintainer:
    """One connection to the lake (attached as `lake`, not the default database: the
    functions take the lake's name) and the rounds run on it."""

    def __init__(self, lake: LakeUrl, data_path: str, policy: Policy) -> None:
        self.lake = lake
        self.policy = policy
        self._data = data_path if data_path.endswith("/") else data_path + "/"
        self._con = self._connect()
        if not self._con.execute(required("maintenance/is_flowscope_lake")).fetchall():
            self._con.close()
            raise StoreOpenError(
                f"the lake {lake.redacted()} holds no Flowscope store yet: start a `flowscope serve "
                "--store` node on it first (it creates the schema)"
            )

    def _connect(self) -> duckdb.DuckDBPyConnection:
        data = self._data
        try:
            con = duckdb.connect(config={"autoinstall_known_extensions": False})
            extensions.install(con)
            if not is_remote(data):
                Path(data).mkdir(parents=True, exist_ok=True)
            con.execute(f"ATTACH {_literal(self.lake.url)} AS {ALIAS} (DATA_PATH {_literal(data)})")
            con.execute(f"USE {ALIAS}")
        except (duckdb.Error, extensions.ExtensionMissing) as exc:
            reason = redact(" ".join(str(exc).split()))  # DuckDB repeats the conninfo, password too
            raise StoreOpenError(f"cannot open the lake {self.lake.redacted()}: {reason}") from None
        return con

    def close(self) -> None:
        self._con.close()

    def run_round(self) -> Round:
        started = time.perf_counter()
        report = Round()
        report.data_files_before, report.delete_files_before = self._files()
        left = _Left()
        if self.policy.retention_days:
            report.deleted = self._step("retention", left, self._retention)
        # Table by table: a table a node keeps deleting from (executions: every commit that
        # updates an execution replaces its row) may lose every try, and must not hold the
        # others (spans, logs) back.
        for table in self._tables():
            name = {"table": table}
            if table not in STATE_TABLES or self._inlined_rows(table) >= STATE_FLUSH_ROWS:
                flushed = self._step(f"flush:{table}", left, self._sum, "flush_inlined_data", name)
                report.rows_flushed += flushed[0] if flushed else 0
            if table in STATE_TABLES:
                rewritten = self._step(f"rewrite:{table}", left, self._rewrite_whole, table)
                report.files_rewritten += rewritten or 0
                continue  # one file at most: nothing to merge
            threshold = 0.0 if table in REWRITE_EVERY_DELETE else REWRITE_THRESHOLD
            rewrite = {**name, "threshold": threshold}
            rewritten = self._step(f"rewrite:{table}", left, self._sum, "rewrite_data_files", rewrite)
            report.files_rewritten += rewritten[0] if rewritten else 0
            merged = self._step(f"merge:{table}", left, self._sum, "merge_adjacent_files", name)
            report.files_merged += merged[0] if merged else 0
            report.files_written += merged[1] if merged else 0
            if table in KEY_ORDERED:
                ordered = self._step(f"key order:{table}", left, self._key_order, table)
                report.files_key_ordered += ordered or 0
        snapshot_age = {"snapshot_age": f"{self.policy.snapshot_retention_seconds} seconds"}
        file_age = {"file_age": f"{self.policy.file_grace_seconds} seconds"}
        orphan_age = {"file_age": f"{max(self.policy.file_grace_seconds, ORPHAN_MIN_AGE_SECONDS)} seconds"}
        expired = self._step("expire", left, self._sum, "expire_snapshots", snapshot_age)
        report.snapshots_expired = expired[0] if expired else 0
        removed = self._step("cleanup", left, self._sum, "cleanup_old_files", file_age)
        report.files_removed = removed[0] if removed else 0
        orphans = self._step("orphans", left, self._sum, "delete_orphaned_files", orphan_age)
        report.orphans_removed = orphans[0] if orphans else 0
        report.data_files_after, report.delete_files_after = self._files()
        report.skipped = tuple(left.skipped)
        report.failed = tuple(left.failed)
        report.seconds = time.perf_counter() - started
        return report

    def _tables(self) -> list[str]:
        return [t for (t,) in self._con.execute(required("maintenance/tables")).fetchall()]

    def _files(self) -> tuple[int, int]:
        """The live data files and delete files of the lake's current snapshot."""
        [(data, deletes)] = self._con.execute(required("maintenance/live_files")).fetchall()
        return int(data), int(deletes)

    def _sum(self, name: str, params: dict[str, Any] | None = None) -> tuple[int, ...]:
        [row] = self._con.execute(required(f"maintenance/{name}"), params or {}).fetchall()
        return tuple(int(v or 0) for v in row)

    def _inlined_rows(self, table: str) -> int:
        """Row versions of `table` inlined in the catalog, live or deleted."""
        names = [
            r[0]
            for r in self._con.execute(required("maintenance/inlined_tables"), {"table": table}).fetchall()
        ]
        total = 0
        for name in names:
            if _INLINED_TABLE.fullmatch(name):  # DuckLake's own name: safe to splice in
                total += self._con.execute(
                    f"SELECT count(*) FROM __ducklake_metadata_lake.{name}"
                ).fetchone()[0]
        return total

    def _rewrite_whole(self, table: str) -> int:
        """Rewrite state table `table` whole when it has more than one file or any deletes; the
        files replaced."""
        files, with_deletes = self._sum("table_files", {"table": table})
        if files <= 1 and not with_deletes:
            return 0
        con = self._con
        with transaction(con):
            con.execute(required("maintenance/rewrite_whole").replace("{table}", table))
        return files

    def _key_order(self, table: str) -> int:
        """Rewrite `table`'s files in trace id order when key_ranges.py says so; the files replaced."""
        con = self._con
        sizes = dict(con.execute(required("maintenance/key_files"), {"table": table}).fetchall())
        if not sizes:
            return 0
        params = {"paths": list(sizes), "time_column": KEY_ORDERED[table]}
        ranges = {
            path: stats for path, *stats in con.execute(required("maintenance/key_ranges"), params).fetchall()
        }
        files = [
            key_ranges.KeyFile(path, int(size), *ranges.get(path, (None, None, None)))
            for path, size in sizes.items()
        ]
        target_bytes = self._target_file_bytes(table)
        chosen = key_ranges.to_rewrite(files, target_bytes, time.time_ns())
        if not chosen:
            return 0
        moving: dict[str, Any] = {"paths": [f.path for f in chosen]}
        # Two target files' worth a range: a range is sorted in memory (DuckDB spills beyond its
        # limit), and yields a couple of files.
        chunks = key_ranges.key_chunks(sum(f.size_bytes for f in chosen), 2 * target_bytes)
        statement = {
            name: required(f"maintenance/{name}").replace("{table}", table) for name in _KEY_ORDER_SQL
        }
        con.execute("BEGIN")
        try:
            [(held,)] = con.execute(statement["rows_in_files"], moving).fetchall()
            moved = 0
            for low, high in chunks:
                [(inserted,)] = con.execute(
                    statement["key_order_insert"], {**moving, "low": low, "high": high}
                ).fetchall()
                moved += inserted
            if moved != held:  # every row in exactly one range, or nothing is deleted
                con.execute("ROLLBACK")
                log.error(
                    "maintain: key order of %s inserted %d rows for %d held; rolled back", table, moved, held
                )
                return 0
            con.execute(statement["key_order_delete"], moving)
            con.execute("COMMIT")
        except BaseException:
            rollback(con)  # a COMMIT that lost to a node's commit has ended the transaction
            raise
        return len(chosen)

    def _target_file_bytes(self, table: str) -> int:
        found = self._con.execute(required("maintenance/target_file_size"), {"table": table}).fetchall()
        return int(found[0][0]) if found and found[0][0] else DUCKLAKE_TARGET_FILE_BYTES

    def _retention(self) -> Deleted:
        assert self.policy.retention_days
        cutoff = time.time_ns() - int(self.policy.retention_days * 86400 * 1e9)
        con = self._con
        with transaction(con):
            step_days = SealedDays()
            step_days.load(con)
            deleted = delete_before(con, cutoff, step_days)
        return deleted

    def _step(self, name: str, left: _Left, fn: Callable[..., T], *args: Any) -> T | None:
        """`fn(*args)`, tried again while it loses to a node's concurrent commit; None (and the
        step named in `left.skipped`) when it still does: the next round does it.

        An internal error of DuckDB's (`InternalException`) invalidates the connection (a
        ROLLBACK after it then fails as fatal): the step is named in `left.failed`, the lake
        attached anew, and the round goes on, so that one table's compaction tripping DuckLake's
        assertion (see STATE_TABLES; seen once on a telemetry table in the retention test) does
        not stop expiry and cleanup, or the other tables. So does running out of memory (the
        key order's sort of a range, say, where DuckDB cannot spill): the step is left for the
        next round. Other errors (PostgreSQL or the data path away) end the round."""
        for attempt in range(RETRIES):
            try:
                return fn(*args)
            except duckdb.Error as exc:
                if isinstance(exc, duckdb.InternalException | duckdb.OutOfMemoryException) or is_fatal(exc):
                    log.warning("maintain step %s failed (the next round tries again): %s", name, exc)
                    left.failed.append(name)
                    self._reopen()
                    return None
                if not is_conflict(exc):
                    raise
                log.info("maintain step %s lost to a concurrent commit (try %d): %s", name, attempt + 1, exc)
                time.sleep(RETRY_WAIT_SECONDS * 2**attempt)
        left.skipped.append(name)
        return None

    def _reopen(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self._con.close()
        self._con = self._connect()

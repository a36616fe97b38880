"""Which lake errors mean "unavailable for now, retry later" (503/UNAVAILABLE), not a bug (500):
the catalog (PostgreSQL) unreachable, or the data path refusing writes. Every such DuckDB error
becomes `StorageUnavailable` here, with a message that names the cause and never the
conninfo (DuckDB repeats it, password included).

The messages, as duckdb 1.5.5 with its postgres and ducklake extensions 1.5.5 gave them here
(tests/storage/test_lake_failures.py provokes each):
- PostgreSQL stopped: `IO Error: Failed to query most recent snapshot for DuckLake: Unable to
  connect to Postgres at "<conninfo>": connection to server at "127.0.0.1", port N failed:
  Connection refused` (the postgres extension's connection pool health-checks a pooled
  connection with `SELECT 1` before use, pg_pool_health_check_query, and connects anew: so
  the same DuckDB instance works again once PostgreSQL is back, without a reopen);
- a connection cut mid-query: libpq's "server closed the connection unexpectedly", "no
  connection to the server", "could not receive/send data", or the server's own
  "terminating connection due to administrator command" (a fast shutdown), "the database
  system is shutting down / starting up / in recovery mode" (PostgreSQL 15's texts);
- a session ended under a read of inlined rows: DuckLake's `INTERNAL Error: Attempted to access
  index 0 within vector of size 0`, its stack trace naming DuckLakeInlinedDataReader;
- data path read-only: `IO Error: Cannot open file "<data path>/main/<table>/ducklake-<uuid>.parquet":
  Read-only file system` (EROFS);
- data path full: `IO Error: Could not write file "...parquet": No space left on device`
  (ENOSPC); "File too large" (EFBIG: a file size limit) and "Disk quota exceeded" (EDQUOT)
  are the same condition under another limit. The failed commit rolled back: the catalog
  names no file of it, and the partly written file is an orphan that `flowscope maintain`
  deletes.
"""

from __future__ import annotations

from flowscope.storage.ducklake.url import redact
from flowscope.storage.errors import StorageUnavailable

CATALOG_UNREACHABLE = (
    "unable to connect to postgres",
    "server closed the connection unexpectedly",
    "no connection to the server",
    "could not receive data from server",
    "could not send data to server",
    "terminating connection due to administrator command",
    "the database system is shutting down",
    "the database system is starting up",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
)
# DuckLake 1.5.5's internal error when PostgreSQL ends the catalog session under a read of a
# table's inlined rows (extensions.CONFIG has the story). Known by its stack trace, which DuckDB
# puts in the message and which names the reader: the same words from anywhere else stay a 500.
SESSION_ENDED_UNDER_INLINED_READ = (
    "attempted to access index 0 within vector of size 0",
    "ducklakeinlineddatareader",
)
DATA_PATH_UNWRITABLE = (
    "read-only file system",
    "no space left on device",
    "file too large",
    "disk quota exceeded",
)


def unavailable(exc: BaseException) -> StorageUnavailable | None:
    """The `StorageUnavailable` `exc` means, or None when it is no such condition."""
    text = " ".join(str(exc).split())
    lowered = text.lower()
    if any(s in lowered for s in CATALOG_UNREACHABLE):
        # The libpq part says why (refused, closed, shutting down); the conninfo is redacted.
        reason = redact(text.removeprefix("IO Error: "))
        return StorageUnavailable(f"the lake's catalog (PostgreSQL) is unreachable: {reason}")
    if all(s in lowered for s in SESSION_ENDED_UNDER_INLINED_READ):
        return StorageUnavailable(
            "the lake's catalog (PostgreSQL) is unreachable: its session ended under a read "
            "(DuckLake's internal error: Attempted to access index 0 within vector of size 0)"
        )
    if any(s in lowered for s in DATA_PATH_UNWRITABLE):
        return StorageUnavailable(f"the lake's data path refuses writes: {text.removeprefix('IO Error: ')}")
    return None

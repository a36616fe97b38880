"""Which lake errors are "unavailable, retry later" (storage/ducklake/failures.py), on the messages
duckdb 1.5.5 with its postgres/ducklake extensions 1.5.5 gave here when PostgreSQL was stopped
and when a tmpfs data path was remounted read-only or filled (test_lake_failures.py provokes
them for real; these pin the texts without a PostgreSQL)."""

from __future__ import annotations

import pytest
from flowscope.storage.ducklake.failures import unavailable

CONNINFO = "dbname=x host=127.0.0.1 port=33359 user=flowscope password=hunter2"
STOPPED = (
    "IO Error: Failed to query most recent snapshot for DuckLake: Unable to connect to Postgres at "
    f'"{CONNINFO}": connection to server at "127.0.0.1", port 33359 failed: Connection refused\n'
    "\tIs the server running on that host and accepting TCP/IP connections?\n\n\n"
    f"LINE 2: \tSELECT * FROM postgres_query('__ducklake_metadata_postgres:{CONNINFO}..."
)
READ_ONLY = (
    'IO Error: Cannot open file "/lake/main/spans/ducklake-01a239e6-02cb-72bb-98f7-9ccb1c000b8c.parquet": '
    "Read-only file system"
)
# As the writer logged it (tests/storage/test_lake_failures.py provokes it), frames trimmed.
INLINED_READ = (
    "INTERNAL Error: Attempted to access index 0 within vector of size 0\n\nStack Trace:\n\n"
    "/root/.duckdb/extensions/v1.5.5/linux_amd64/ducklake.duckdb_extension(+0xd7f00b) [0x7f0fa2d7f00b]\n"
    "/root/.duckdb/extensions/v1.5.5/linux_amd64/ducklake.duckdb_extension(_ZN6duckdb25DuckLakeInlinedDataReader"
    "17TryInitializeScanERNS_13ClientContextERNS_24GlobalTableFunctionStateERNS_23LocalTableFunctionStateE"
    "+0x116c) [0x7f0fa24944ac]\n\nThis error signals an assertion failure within DuckDB."
)
FULL = 'IO Error: Could not write file "/lake/main/t/ducklake-01a239e6.parquet": No space left on device'


def test_postgres_stopped_is_the_catalog_unreachable_and_never_shows_the_password() -> None:
    mapped = unavailable(RuntimeError(STOPPED))
    assert mapped is not None
    text = str(mapped)
    assert text.startswith("the lake's catalog (PostgreSQL) is unreachable: Failed to query most recent")
    assert "Connection refused" in text and "hunter2" not in text and "\n" not in text


@pytest.mark.parametrize(
    "message",
    [
        "IO Error: server closed the connection unexpectedly\n\tThis probably means the server terminated",
        "IO Error: FATAL:  terminating connection due to administrator command",
        "IO Error: FATAL:  the database system is shutting down",
        "IO Error: no connection to the server",
    ],
)
def test_cut_connections_are_the_catalog_unreachable(message: str) -> None:
    mapped = unavailable(RuntimeError(message))
    assert mapped is not None and "catalog (PostgreSQL) is unreachable" in str(mapped)


def test_duckdbs_internal_error_under_an_ended_session_is_the_catalog_unreachable() -> None:
    mapped = unavailable(RuntimeError(INLINED_READ))
    assert mapped is not None and "catalog (PostgreSQL) is unreachable" in str(mapped)
    assert "Stack Trace" not in str(mapped) and "\n" not in str(mapped)
    # The same words from elsewhere (no DuckLake inlined-data reader in the trace) stay an error.
    assert unavailable(RuntimeError(INLINED_READ.replace("DuckLakeInlinedDataReader", "Binder"))) is None


@pytest.mark.parametrize(
    ("message", "cause"), [(READ_ONLY, "Read-only file system"), (FULL, "No space left")]
)
def test_a_data_path_refusing_writes(message: str, cause: str) -> None:
    mapped = unavailable(RuntimeError(message))
    assert mapped is not None
    assert str(mapped).startswith("the lake's data path refuses writes: ") and cause in str(mapped)


@pytest.mark.parametrize(
    "message",
    [
        'Binder Error: Referenced column "nope" not found in FROM clause!',
        "TransactionContext Error: Transaction conflict - attempting to compact table",  # conflicts.py's
        "Constraint Error: Duplicate key",
    ],
)
def test_other_errors_are_not_unavailability(message: str) -> None:
    assert unavailable(RuntimeError(message)) is None

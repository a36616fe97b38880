"""Which errors a lake writer may simply run again (storage/ducklake/conflicts.py), on the
messages duckdb 1.5.5 / ducklake 1.5.5 gave here."""

from __future__ import annotations

import duckdb
import pytest
from flowscope.storage.ducklake.conflicts import is_conflict

RETRY = [
    duckdb.TransactionException(
        "TransactionContext Error: Failed to commit: Failed to commit DuckLake transaction.\n"
        'Transaction conflict - attempting to delete from table with index "1" - but another '
        "transaction has compacted it"
    ),
    duckdb.TransactionException(
        "TransactionContext Error: Failed to commit: Failed to commit DuckLake transaction.\n"
        'Transaction conflict - attempting to compact table with index "1" - but another '
        "transaction has deleted from it"
    ),
    duckdb.Error(
        "Failed to delete flushed inlined data in DuckLake from table ducklake_inlined_data_9_2: "
        'Failed to execute query "DELETE FROM ...": '
        "ERROR: could not serialize access due to concurrent update"
    ),
    duckdb.Error(
        'Failed to flush changes into DuckLake: Failed to execute query "INSERT ...": '
        "ERROR:  deadlock detected"
    ),
]
KEEP = [
    duckdb.IOException('IO Error: Cannot open file "/lake/main/spans/x.parquet": No such file or directory'),
    duckdb.TransactionException("TransactionContext Error: cannot start a transaction within a transaction"),
    duckdb.ConnectionException("Connection Error: could not connect to server"),
]


@pytest.mark.parametrize("exc", RETRY)
def test_lost_races_are_run_again(exc: duckdb.Error) -> None:
    assert is_conflict(exc)


@pytest.mark.parametrize("exc", KEEP)
def test_other_errors_are_not(exc: duckdb.Error) -> None:
    assert not is_conflict(exc)

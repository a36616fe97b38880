"""One transaction on a connection, rolled back when anything in it fails.

A COMMIT that fails has already ended its transaction (DuckDB rolls it back; on a lake,
DuckLake's conflict check fails the COMMIT of the later of two conflicting commits): a
ROLLBACK after it would raise "no transaction is active" in place of the failure that counts."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import duckdb

log = logging.getLogger(__name__)


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """BEGIN, the block, COMMIT; on any failure the block's or the COMMIT's exception is raised."""
    con.execute("BEGIN")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """End the open transaction, if a failure has not ended it already."""
    try:
        con.execute("ROLLBACK")
    except duckdb.Error as exc:
        if "no transaction is active" not in str(exc):
            log.exception("rollback failed")

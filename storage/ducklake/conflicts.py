"""What a lost race between two writers of one lake looks like (a node's commit and
`flowscope maintain`'s steps): the loser rolled back whole and may simply run again."""

from __future__ import annotations

import duckdb


def is_conflict(exc: duckdb.Error) -> bool:
    """DuckLake's own conflict check ("Transaction conflict - attempting to compact table ...
    but another transaction has deleted from it", or the reverse), or PostgreSQL's
    serialization failure, which `ducklake_flush_inlined_data` meets when a node replaces
    inlined rows (the execution rows of commits of up to 10 rows) while it deletes them
    ("could not serialize access due to concurrent update"), or a PostgreSQL deadlock between
    the two catalog commits, one of which PostgreSQL aborted ("deadlock detected", seen here
    between a node's commit of inlined execution rows and that flush)."""
    text = str(exc).lower()
    return any(s in text for s in ("transaction conflict", "could not serialize", "deadlock detected"))

"""Blobs (span and log record bytes) of rows found by an earlier read of the same snapshot, by
row id. The reads that find rows through the trace-id index leave the blob column out and
fetch it here: an index lookup fetches each row on its own and decompresses a ZSTD block of
the blob column per row (~0.4 ms), while a scan of the rows' row-id range tests the ids first
and decompresses each block that holds a wanted row once (sql/queries/span_blobs.sql)."""

from __future__ import annotations

import duckdb
from flowscope.storage.duckdb.sqlfiles import sql


def by_rowid(cur: duckdb.DuckDBPyConnection, query: str, rowids: list[int]) -> dict[int, bytes]:
    """The blobs of these rows, by row id; `query` is span_blobs or log_blobs."""
    if not rowids:
        return {}
    params = {"rowids": rowids, "first": min(rowids), "last": max(rowids)}
    return dict(cur.execute(sql(query), params).fetchall())

"""The DuckDB store's writer (storage/duckdb/writer.py) on DuckLake: the same commits, but for
the one statement DuckLake cannot run (DELETE ... RETURNING)."""

from __future__ import annotations

from typing import Any

from flowscope.storage.batches import EXEC_COLUMNS
from flowscope.storage.duckdb.writer import Writer
from flowscope.storage.ducklake.sqlfiles import required


class LakeWriter(Writer):
    def _take_executions(self, keys: list[tuple[str, str]]) -> list[tuple[Any, ...]]:
        params = {
            "execution_ids": list(dict.fromkeys(k[1] for k in keys)),
            "keys": [f"{ws}\0{e}" for ws, e in keys],
        }
        cursor = self._con.execute(required("ingest/stored_executions"), params)
        names = [d[0] for d in cursor.description]
        order = [names.index(c) for c in EXEC_COLUMNS]
        stored = [tuple(row[i] for i in order) for row in cursor.fetchall()]
        if stored:
            self._con.execute(required("ingest/delete_executions"), params)
        return stored

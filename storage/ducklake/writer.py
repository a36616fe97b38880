"""The DuckDB store's writer (storage/duckdb/writer.py) on DuckLake: the same commits, but for
the one statement DuckLake cannot run (DELETE ... RETURNING), a commit that lost to a
concurrent one is run again, each commit is labelled for the other nodes' followers
(labels.py, follow.py), and one the catalog or the data path refused fails as
`StorageUnavailable` saying which (storage/ducklake/failures.py): receivers answer 503/UNAVAILABLE
and the exporter sends the batch again."""

from __future__ import annotations

import logging
from typing import Any

import duckdb
import pyarrow as pa
from flowscope.storage.batches import EXEC_COLUMNS, Prepared
from flowscope.storage.changes import CommittedBatch
from flowscope.storage.duckdb.writer import Writer
from flowscope.storage.ducklake import failures, labels
from flowscope.storage.ducklake.conflicts import is_conflict
from flowscope.storage.ducklake.sqlfiles import required
from flowscope.storage.errors import StorageUnavailable

log = logging.getLogger(__name__)
COMMIT_TRIES = 5


class LakeWriter(Writer):
    node_id = ""  # the store's (LakeStore sets it before the writer starts)

    def _before_commit(self, spans: pa.Table | None, logs: pa.Table | None) -> None:
        label = labels.label(self.node_id, spans, logs)
        self._con.execute(
            required("follow/label_commit"),
            {"author": labels.AUTHOR, "node_id": label.node_id, "extra_info": label.extra_info()},
        )

    def _insert(self, parts: list[Prepared]) -> CommittedBatch:
        """A commit that lost to a concurrent lake commit (`flowscope maintain` compacting a
        table this one deletes from: "another transaction has compacted it") rolled back
        whole; it runs again on the new snapshot, so exporters are not answered 503 for it.
        What the failed try left in memory is only ever more than was stored (the dedupe
        filters may say "maybe seen": a lookup), as after any failed commit."""
        for attempt in range(1, COMMIT_TRIES + 1):
            try:
                return super()._insert(parts)
            except duckdb.Error as exc:
                unavailable = failures.unavailable(exc)
                if unavailable is not None:
                    raise unavailable from None  # (the cause's message holds the conninfo)
                if attempt == COMMIT_TRIES or not is_conflict(exc):
                    raise
                log.warning(
                    "commit lost to a concurrent lake commit (try %d), retrying the commit: %s", attempt, exc
                )
        raise AssertionError("unreachable")

    def _reopen_cures(self, exc: Exception) -> bool:
        """Not when the catalog or the data path refused: the DuckDB instance is sound, and
        the postgres extension's pool connects anew once PostgreSQL is back (failures.py);
        reopening would only fail the same way meanwhile."""
        return not isinstance(exc, StorageUnavailable) and super()._reopen_cures(exc)

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

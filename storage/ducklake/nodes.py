"""storage/nodes.py's `NodeRegistry` on a lake: the tables of sql/migrations/002_engine_nodes.sql,
the statements of sql/nodes/.

A DuckLake commit that changes rows (UPDATE, DELETE) conflicts with any concurrent commit
that changes rows of the same table, even other rows (DuckLake 1.5.5 checks per table:
"Transaction conflict - attempting to insert into table ..."). The loser rolled back whole;
each write here is run again on the new snapshot (`_write`), and a claim that lost a race
reports that it lost (a conflicting claim is another node's, or a heartbeat).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import duckdb
from flowscope.storage.duckdb.errors import mapped_errors
from flowscope.storage.ducklake.conflicts import is_conflict
from flowscope.storage.ducklake.sqlfiles import required
from flowscope.storage.nodes import Node
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

T = TypeVar("T")

WRITE_TRIES = 8
_BACKOFF_S = 0.02
SINCE_MARGIN_NS = 60 * 10**9  # records a little before `since_ns` (a record's own timestamp)
INSTANCE_ID = "service.instance.id"  # OTel semantic conventions, resource attribute


class LakeNodes:
    """The `NodeRegistry` of a lake (docstrings there)."""

    def __init__(self, store: Any) -> None:
        self._store = store  # storage/ducklake/store.py LakeStore (its thread-local cursors)

    # -- reads ---------------------------------------------------------------------------
    def nodes(self) -> list[Node]:
        return [Node(*row) for row in self._read("nodes", {})]

    def node(self, node_id: str) -> Node | None:
        rows = self._read("node", {"node_id": node_id})
        return Node(*rows[0]) if rows else None

    def cancel_requests(self, node_id: str) -> list[tuple[str, str]]:
        """(workspace id, execution id) of the cancels asked of `node_id`, oldest first."""
        return [(ws, e) for ws, e in self._read("cancels", {"node_id": node_id})]

    def instances(
        self, service_name: str, executions: Iterable[tuple[str, str]], since_ns: int
    ) -> dict[tuple[str, str], str]:
        """The `service.instance.id` of the resource that `service_name`'s records of each of
        these (workspace id, execution id) carry, where there is one (one execution, one
        engine: should several be stored, any of them)."""
        wanted = set(executions)
        if not wanted:
            return {}
        params = {"service_name": service_name, "execution_ids": sorted({e for _, e in wanted}),
                  "since_ns": max(0, since_ns - SINCE_MARGIN_NS)}  # fmt: skip
        found: dict[tuple[str, str], str] = {}
        for ws, execution_id, blob in self._read("resources_of", params):
            instance = instance_id(blob)
            if (ws, execution_id) in wanted and instance is not None:
                found[(ws, execution_id)] = instance
        return found

    # -- writes --------------------------------------------------------------------------
    def register(self, node_id: str, host: str, pid: int, now_ns: int) -> None:
        params = {"node_id": node_id, "host": host, "pid": pid, "now_ns": now_ns}
        self._write(lambda cur: self._run(cur, "register", params))

    def heartbeat(self, node_id: str, heartbeat_ns: int) -> bool:
        """Record a heartbeat. False when the row is gone or claimed:
        a live node took this one for dead."""

        def beat(cur: duckdb.DuckDBPyConnection) -> bool:
            params = {"node_id": node_id, "heartbeat_ns": heartbeat_ns}
            return _count(self._run(cur, "heartbeat", params)) == 1

        return self._write(beat)

    def claim(self, node: Node, by: str, now_ns: int) -> Node | None:
        params = {"node_id": node.node_id, "heartbeat_ns": node.heartbeat_ns, "closed_by": node.closed_by,
                  "by": by, "now_ns": now_ns}  # fmt: skip

        def take(cur: duckdb.DuckDBPyConnection) -> Node | None:
            if _count(self._run(cur, "claim", params)) != 1:
                return None
            (row,) = self._run(cur, "node", {"node_id": node.node_id})
            return Node(*row)

        try:
            return self._write(take, retry=False)
        except duckdb.Error as exc:
            if is_conflict(exc):  # a concurrent change of the table won: read again next time
                return None
            raise

    def forget(self, node_id: str) -> None:
        """The node's row and its cancel requests: nothing of it is left open."""

        def drop(cur: duckdb.DuckDBPyConnection) -> None:
            self._run(cur, "forget", {"node_id": node_id})
            self._run(cur, "forget_cancels", {"node_id": node_id})

        self._write(drop)

    def request_cancel(self, workspace_id: str, execution_id: str, node_id: str, now_ns: int) -> None:
        params = {"workspace_id": workspace_id, "execution_id": execution_id, "node_id": node_id,
                  "now_ns": now_ns}  # fmt: skip
        self._write(lambda cur: self._run(cur, "cancel_insert", params))

    def cancels_done(self, node_id: str, execution_ids: list[str]) -> None:
        params = {"node_id": node_id, "execution_ids": execution_ids}
        self._write(lambda cur: self._run(cur, "cancels_done", params))

    # -- plumbing ------------------------------------------------------------------------
    def _read(self, name: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        with mapped_errors():
            return self._run(self._store.cursor(), name, params)

    @staticmethod
    def _run(cur: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """The statement's rows (a write's: one row, how many rows it changed)."""
        return cur.execute(required(f"nodes/{name}"), params).fetchall()

    def _write(self, body: Callable[[duckdb.DuckDBPyConnection], T], *, retry: bool = True) -> T:
        """`body` in one transaction; run again when it lost to a concurrent commit."""
        cur = self._store.cursor()
        for attempt in range(1, WRITE_TRIES + 1):
            with mapped_errors():
                cur.execute("BEGIN")
                try:
                    result = body(cur)
                    cur.execute("COMMIT")
                    return result
                except BaseException as exc:
                    _rollback(cur)
                    if not (retry and isinstance(exc, duckdb.Error) and is_conflict(exc)):
                        raise
                    if attempt == WRITE_TRIES:
                        raise
            time.sleep(_BACKOFF_S * attempt)
        raise AssertionError("unreachable")


def _count(rows: list[tuple[Any, ...]]) -> int:
    return int(rows[0][0]) if rows else 0


def _rollback(cur: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # a failed COMMIT ended the transaction already
        cur.execute("ROLLBACK")


def instance_id(resource_blob: bytes) -> str | None:
    """The `service.instance.id` string attribute of an OTLP Resource, else None."""
    resource = Resource.FromString(resource_blob)
    for kv in resource.attributes:
        if kv.key == INSTANCE_ID and kv.value.WhichOneof("value") == "string_value":
            return kv.value.string_value
    return None

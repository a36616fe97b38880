"""The catalog on DuckLake: the DuckDB file's catalog (storage/duckdb/catalog.py), less what
DuckLake lacks.

- No RETURNING: a write that says whether it changed a row first reads its target row
  (`sql/catalog/<name>_target.sql`), then writes (`sql/catalog/<name>.sql`), in one
  transaction under the store's catalog write lock.
- No UNIQUE: a workspace slug and a token hash are looked up before the insert, under that
  lock, which serializes one node's writes. Across nodes, the same transaction first advances
  the lake's one `catalog_serial` row: DuckLake lets two inserts commit side by side, but not
  two updates of one table, so of two nodes writing at once the later fails at COMMIT with a
  conflict and runs again on the new snapshot, where it finds the other's slug or hash.
- Execution numbers are taken here, in catalog transactions that advance the workflows'
  counters (`take_execution_numbers`, numbers.py), not in one node's memory as on a file:
  every node of the lake takes them, and each must get numbers no other took.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import duckdb
from flowscope.storage.catalog import Token, Workspace, new_id
from flowscope.storage.duckdb.catalog import DuckDBCatalog, Row, found, slug_taken, token_taken
from flowscope.storage.ducklake.conflicts import is_conflict
from flowscope.storage.ducklake.numbers import NumberTaker
from flowscope.storage.ducklake.sqlfiles import lake_sql, required

T = TypeVar("T")
# Of n nodes creating at once, each try lets one more through: plenty for catalog writes.
UNIQUE_WRITE_TRIES = 10

_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def _bound(text: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters `text` names (DuckDB refuses parameters a statement does not use)."""
    names = set(_PARAMETER.findall(text))
    return {k: v for k, v in params.items() if k in names}


class LakeCatalog(DuckDBCatalog):
    def __init__(self, store: Any) -> None:
        super().__init__(store)
        self._numbers = NumberTaker(store, self._write_lock)

    def _statement(self, name: str) -> str:
        return lake_sql(f"catalog/{name}") or super()._statement(name)

    def _lake(self, name: str, params: Mapping[str, Any]) -> list[Row]:
        text = required(f"catalog/{name}")
        return self._store.cursor().execute(text, _bound(text, params)).fetchall()

    def _write(self, name: str, params: Mapping[str, Any]) -> list[Row]:
        if lake_sql(f"catalog/{name}_target") is None:
            return super()._write(name, params)
        with self._transaction(write=True):
            target = self._lake(f"{name}_target", params)
            if target:
                self._all(name, params)
        return target

    @contextlib.contextmanager
    def _unique_write(self) -> Iterator[None]:
        """A write transaction serialized with every node's unique writes (module docstring);
        the caller's block runs again when it lost to another node's."""
        with self._transaction(write=True):
            self._lake("catalog_serial_advance", {})
            yield

    def _retried(self, write: Callable[[], T]) -> T:
        for attempt in range(1, UNIQUE_WRITE_TRIES + 1):
            try:
                return write()
            except duckdb.Error as exc:
                if attempt == UNIQUE_WRITE_TRIES or not is_conflict(exc):
                    raise
        raise AssertionError("unreachable")

    def create_workspace(self, slug: str, name: str) -> Workspace:
        workspace_id = new_id("ws_")

        def write() -> None:
            with self._unique_write():
                if self._lake("workspace_slug_taken", {"slug": slug}):
                    raise slug_taken(slug)
                self._all("workspace_insert", {"id": workspace_id, "slug": slug, "name": name})

        self._retried(write)
        return found(self.get_workspace(workspace_id))

    def add_token(
        self, workspace_id: str, token_hash: str, role: str, name: str | None, *, server_admin: bool = False
    ) -> Token:
        params = {
            "id": new_id("tok_"), "token_hash": token_hash, "workspace_id": workspace_id, "role": role,
            "name": name, "server_admin": server_admin,
        }  # fmt: skip

        def write() -> Row:
            with self._unique_write():
                if self._lake("token_hash_taken", params):
                    raise token_taken()
                self._all("token_insert", params)
                (row,) = self._lake("token_by_id", params)
            return row

        return Token(*self._retried(write))

    def take_execution_numbers(self, workspace_id: str, workflow_id: str, count: int) -> int | None:
        """`catalog.SharedNumbers`: numbers.py says how."""
        return self._numbers.take(workspace_id, workflow_id, count)

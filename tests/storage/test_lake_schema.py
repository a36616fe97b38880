"""The lake's schema (storage/ducklake/sql/migrations/001_schema.sql, then 002-) restates what
the file's migrations build (001_schema.sql: its 001-007 in one step; then one each), less the
constraints DuckLake refuses. The views and macros are the spec's and the readers' rules, and
the columns what the shared statements read and write: here they must not drift from the
file's. (Nullability is not compared: the file's primary keys make their columns NOT NULL,
and the lake has no primary keys.) The lake's own tables (the nodes' shared state, its
migrations 002 and 003) are the lake's alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
from flowscope.storage.duckdb.store import Store
from flowscope.storage.ducklake.store import LakeStore

from tests.support.postgres import Postgres

_VIEWS = "SELECT view_name, sql FROM duckdb_views() WHERE NOT internal AND database_name = current_database()"
_MACROS = (
    "SELECT function_name, function_type, parameters, macro_definition FROM duckdb_functions() "
    "WHERE NOT internal AND function_type IN ('macro', 'table_macro') AND database_name = current_database()"
)
_COLUMNS = (
    "SELECT table_name, column_name, data_type FROM information_schema.columns "
    "WHERE table_catalog = current_database() AND table_schema = 'main' "
    "AND table_name IN (SELECT table_name FROM duckdb_tables() WHERE database_name = current_database())"
)


# api/cluster.py: one process owns a file; catalog_serial: the file has UNIQUE.
LAKE_ONLY_TABLES = {"engine_nodes", "execution_cancels", "catalog_serial"}


def _schema(store: Any) -> dict[str, set[tuple[Any, ...]]]:
    def read(con: duckdb.DuckDBPyConnection) -> dict[str, set[tuple[Any, ...]]]:
        return {
            name: {tuple(str(v) for v in row) for row in con.execute(query).fetchall()}
            for name, query in (("views", _VIEWS), ("macros", _MACROS), ("columns", _COLUMNS))
        }

    return store.read(read)


def test_the_lake_has_the_files_views_macros_and_columns(postgres: Postgres, tmp_path: Path) -> None:
    file_store = Store(tmp_path / "f.duckdb")
    lake = LakeStore("ducklake:postgres:" + postgres.create_database("schema_lake"), tmp_path / "lake")
    try:
        expected, got = _schema(file_store), _schema(lake)
    finally:
        file_store.close()
        lake.close()
    assert expected["views"] and expected["macros"] and expected["columns"]
    lake_only = {c for c in got["columns"] if c[0] in LAKE_ONLY_TABLES}
    assert {c[0] for c in lake_only} == LAKE_ONLY_TABLES
    got["columns"] -= lake_only
    for part in ("views", "macros", "columns"):
        assert got[part] == expected[part], part

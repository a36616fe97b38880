"""Schema versioning: ordered migrations in `sql/migrations/NNN_name.sql`.

A database written by an older version opens in a newer one: every migration not yet
recorded in `schema_version` runs once, in order, in its own transaction.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
from flowscope.storage.duckdb.sqlfiles import SQL_DIR, statements_in

VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
    " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
)
_MIGRATION = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    pass


def migrations(directory: Path | None = None) -> list[tuple[int, str]]:
    """(version, name) of every migration shipped in `directory` (the file's: sql/migrations),
    in order."""
    directory = directory or SQL_DIR / "migrations"
    found = []
    for path in sorted(directory.iterdir()):
        m = _MIGRATION.match(path.name)
        if m:
            found.append((int(m.group(1)), path.stem))
    versions = [v for v, _ in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration numbers in {directory}")
    return found


def applied_versions(con: duckdb.DuckDBPyConnection, version_table: str = VERSION_TABLE) -> set[int]:
    con.execute(version_table)
    return {int(r[0]) for r in con.execute("SELECT version FROM schema_version").fetchall()}


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    return max(applied_versions(con), default=0)


def migrate(
    con: duckdb.DuckDBPyConnection, directory: Path | None = None, version_table: str = VERSION_TABLE
) -> int:
    """Apply every migration shipped in `directory` not recorded yet, in order; return the
    resulting version. `version_table` creates the table recording them if missing (another
    store's dialect may refuse the file's PRIMARY KEY).

    Pending migrations are found by set difference, not by "above the highest applied",
    so a migration merged with a lower number than one already applied still runs.
    """
    directory = directory or SQL_DIR / "migrations"
    applied = applied_versions(con, version_table)
    shipped = migrations(directory)
    if shipped and applied and max(applied) > shipped[-1][0]:
        raise MigrationError(
            f"database schema version {max(applied)} is newer than this Flowscope ({shipped[-1][0]}); "
            "upgrade Flowscope to open it"
        )
    for number, name in shipped:
        if number in applied:
            continue
        con.execute("BEGIN")
        try:
            for statement in statements_in(directory / f"{name}.sql"):
                con.execute(statement)
            con.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [number, name])
            con.execute("COMMIT")
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise MigrationError(f"migration {name}.sql failed: {exc}") from exc
        applied.add(number)
    return max(applied, default=0)

"""Schema versioning: ordered migrations in `sql/migrations/NNN_name.sql`.

A database written by an older version opens in a newer one: every migration not yet
recorded in `schema_version` runs once, in order, in its own transaction.
"""

from __future__ import annotations

import re

import duckdb
from flowscope.storage.duckdb.sqlfiles import SQL_DIR, statements

_MIGRATION = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    pass


def migrations() -> list[tuple[int, str]]:
    """(version, name) of every migration shipped, in order."""
    found = []
    for path in sorted((SQL_DIR / "migrations").iterdir()):
        m = _MIGRATION.match(path.name)
        if m:
            found.append((int(m.group(1)), path.stem))
    versions = [v for v, _ in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration numbers in {SQL_DIR / 'migrations'}")
    return found


def _ensure_version_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
        " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )


def applied_versions(con: duckdb.DuckDBPyConnection) -> set[int]:
    _ensure_version_table(con)
    return {int(r[0]) for r in con.execute("SELECT version FROM schema_version").fetchall()}


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    return max(applied_versions(con), default=0)


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply every shipped migration not recorded yet, in order; return the resulting version.

    Pending migrations are found by set difference, not by "above the highest applied",
    so a migration merged with a lower number than one already applied still runs.
    """
    applied = applied_versions(con)
    shipped = migrations()
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
            for statement in statements(f"migrations/{name}"):
                con.execute(statement)
            con.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [number, name])
            con.execute("COMMIT")
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise MigrationError(f"migration {name}.sql failed: {exc}") from exc
        applied.add(number)
    return max(applied, default=0)

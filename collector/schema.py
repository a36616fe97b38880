"""Schema versioning: ordered migrations in `sql/migrations/NNN_name.sql`.

A database written by an older version opens in a newer one: every migration not yet
recorded in `schema_version` runs once, in order, in its own transaction.
"""

from __future__ import annotations

import re

import duckdb

from collector.sqlfiles import SQL_DIR, statements

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


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
        " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply pending migrations; return the resulting schema version."""
    version = current_version(con)
    shipped = migrations()
    if shipped and version > shipped[-1][0]:
        raise MigrationError(
            f"database schema version {version} is newer than this Flowscope ({shipped[-1][0]}); "
            "upgrade Flowscope to open it"
        )
    for number, name in shipped:
        if number <= version:
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
        version = number
    return version

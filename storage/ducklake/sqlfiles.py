"""Load the DuckLake store's own SQL (`sql/` beside this module): only where DuckLake needs
other statements than the DuckDB file's (storage/duckdb/sql/), which the store runs otherwise."""

from __future__ import annotations

from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).parent / "sql"


@cache
def lake_sql(name: str) -> str | None:
    """The text of `sql/<name>.sql`, or None when the lake runs the DuckDB file's statement."""
    path = SQL_DIR / f"{name}.sql"
    return path.read_text(encoding="utf-8") if path.is_file() else None


def required(name: str) -> str:
    text = lake_sql(name)
    if text is None:
        raise FileNotFoundError(SQL_DIR / f"{name}.sql")
    return text

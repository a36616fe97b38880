"""Load the SQL kept as `.sql` files beside this module, by name."""

from __future__ import annotations

from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).parent / "sql"


@cache
def sql(name: str) -> str:
    """The text of `sql/<name>.sql` (e.g. `ingest/insert_spans`)."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def statements(name: str) -> list[str]:
    """The statements of a multi-statement file, split on `;` at line ends."""
    return split(sql(name))


def statements_in(path: Path) -> list[str]:
    """The statements of the multi-statement file at `path` (another store's own SQL)."""
    return split(path.read_text(encoding="utf-8"))


def split(text: str) -> list[str]:
    """The statements of a multi-statement text, split on `;` at line ends."""
    parts = [p.strip() for p in text.split(";\n")]
    return [
        p.rstrip(";")
        for p in parts
        if p and not all(line.strip().startswith("--") or not line.strip() for line in p.splitlines())
    ]

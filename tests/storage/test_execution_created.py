"""When each execution was created (queued, else started), stored in its row for the
executions list's order (migrations/010_execution_created.sql): a file written before the
column existed is filled in when it opens, and lists as it did."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
from flowscope.storage.duckdb.schema import migrate
from flowscope.storage.duckdb.sqlfiles import SQL_DIR
from flowscope.storage.duckdb.store import STORAGE, Store

# (execution id, queued_ns, started_ns): created 100, 300 and 200; by start alone the order
# would be c, b, a.
ROWS = [("ex-a", 100, 150), ("ex-b", None, 300), ("ex-c", 200, 400)]


def _file_before_the_column(path: Path, tmp: Path) -> None:
    older = tmp / "migrations"
    older.mkdir()
    for migration in (SQL_DIR / "migrations").glob("*.sql"):
        if int(migration.name[:3]) < 10:
            shutil.copy(migration, older)
    con = duckdb.connect(str(path), config=STORAGE)
    assert migrate(con, older) == 9
    for execution_id, queued_ns, started_ns in ROWS:
        con.execute(
            "INSERT INTO executions (workspace_id, execution_id, workflow_id, status, status_rank,"
            " queued_ns, started_ns, updated_ns) VALUES ('w', ?, 'wf', 'completed', 3, ?, ?, 1)",
            [execution_id, queued_ns, started_ns],
        )
    con.close()


def test_an_older_file_gets_each_executions_creation_and_lists_newest_first(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    _file_before_the_column(db, tmp_path)
    store = Store(db)
    store.start()
    try:
        page = store.executions.page("w", "wf")
        second = store.executions.page("w", "wf", skip=1, limit=1)
        created = store.cursor().execute("SELECT execution_id, created_ns FROM executions").fetchall()
    finally:
        store.close()
    assert [row.execution_id for row in page.items] == ["ex-b", "ex-c", "ex-a"]
    assert page.total == 3
    assert [row.execution_id for row in second.items] == ["ex-c"]
    assert dict(created) == {"ex-a": 100, "ex-b": 300, "ex-c": 200}

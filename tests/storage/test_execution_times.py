"""When each execution was created (queued, else started) and began (started, else queued),
stored in its row for the executions list's order and the metrics' windows
(migrations/010_execution_times.sql): a file written before the columns existed has them
filled in when it opens, and lists and windows its executions as before."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from flowscope.storage.duckdb.began import UNBOUNDED_NS, began_in
from flowscope.storage.duckdb.schema import migrate
from flowscope.storage.duckdb.sqlfiles import SQL_DIR
from flowscope.storage.duckdb.store import STORAGE, Store

# (execution id, queued_ns, started_ns): created 100, 300 and 200 (by start alone the order
# would be c, b, a); began 150, 300 and 400.
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


def test_an_older_file_gets_each_executions_times_and_lists_and_windows_them(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    _file_before_the_column(db, tmp_path)
    store = Store(db)
    store.start()
    try:
        page = store.executions.page("w", "wf")
        second = store.executions.page("w", "wf", skip=1, limit=1)
        # Began in [150, 400): a and b (c was queued at 200, but began at 400).
        windowed = store.workflow_metrics.workflow_totals("w", "wf", 150, 400)
        times = "SELECT execution_id, created_ns, began_ns FROM executions"
        stored = store.cursor().execute(times).fetchall()
    finally:
        store.close()
    assert [row.execution_id for row in page.items] == ["ex-b", "ex-c", "ex-a"]
    assert page.total == 3
    assert [row.execution_id for row in second.items] == ["ex-c"]
    assert windowed.finished == 2
    assert {e: (c, b) for e, c, b in stored} == {"ex-a": (100, 150), "ex-b": (300, 300), "ex-c": (200, 400)}


def test_all_time_and_bounded_windows_count_the_same_executions(tmp_path: Path) -> None:
    """A window without bounds leaves out, as bounded ones do, an execution with no time of
    its begin (its bounds are not written: storage/duckdb/began.py)."""
    db = tmp_path / "old.duckdb"
    _file_before_the_column(db, tmp_path)
    con = duckdb.connect(str(db), config=STORAGE)
    con.execute(
        "INSERT INTO executions (workspace_id, execution_id, workflow_id, status, status_rank, updated_ns)"
        " VALUES ('w', 'ex-no-time', 'wf', 'completed', 3, 1)"
    )
    con.close()
    store = Store(db)
    store.start()
    try:
        totals = {
            window: store.workflow_metrics.workflow_totals("w", "wf", *window).finished
            for window in ((0, UNBOUNDED_NS), (0, 10**18), (1, UNBOUNDED_NS), (150, 400))
        }
        durations = store.workflow_metrics.finished_durations("w", "wf", 0, UNBOUNDED_NS, 10)
    finally:
        store.close()
    assert totals == {(0, UNBOUNDED_NS): 3, (0, 10**18): 3, (1, UNBOUNDED_NS): 3, (150, 400): 2}
    assert durations.total == 3
    assert [p.execution_id for p in durations.points] == ["ex-a", "ex-b", "ex-c"]


@pytest.mark.parametrize(
    ("windows", "condition"),
    [
        ([(0, UNBOUNDED_NS)], "(began_ns IS NOT NULL)"),
        ([(5, UNBOUNDED_NS)], "(began_ns >= 5)"),
        ([(0, 10)], "(began_ns < 10)"),
        ([(5, 10), (20, UNBOUNDED_NS)], "(began_ns >= 5 AND began_ns < 10) OR (began_ns >= 20)"),
    ],
)
def test_a_bound_that_bounds_nothing_is_left_out(windows: list[tuple[int, int]], condition: str) -> None:
    assert began_in(windows) == condition

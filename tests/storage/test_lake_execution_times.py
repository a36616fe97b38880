"""A lake written before the executions' creation and begin times were stored (its migrations
up to 007) opens in this version: its executions table is made again with the columns
(storage/ducklake/sql/migrations/008_execution_times.sql) and laid out as before (009), and
its rows list and window as on the file (tests/storage/test_execution_times.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flowscope.storage.duckdb.began import UNBOUNDED_NS
from flowscope.storage.duckdb.schema import migrations
from flowscope.storage.ducklake import store as lake_store
from flowscope.storage.ducklake.store import LakeStore

from tests.storage.test_execution_times import ROWS
from tests.support.postgres import Postgres


def test_an_older_lake_gets_each_executions_times(
    postgres: Postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "ducklake:postgres:" + postgres.create_database("older_lake")
    older = tmp_path / "migrations"
    older.mkdir()
    for migration in lake_store.MIGRATIONS.glob("*.sql"):
        if int(migration.name[:3]) <= 7:
            shutil.copy(migration, older)
    with monkeypatch.context() as m:
        m.setattr(lake_store, "MIGRATIONS", older)
        lake = LakeStore(url, tmp_path / "data")
        assert lake.schema_version == 7
        for execution_id, queued_ns, started_ns in ROWS:
            lake._con.execute(
                "INSERT INTO executions (workspace_id, execution_id, workflow_id, status, status_rank,"
                " queued_ns, started_ns, updated_ns) VALUES ('w', ?, 'wf', 'completed', 3, ?, ?, 1)",
                [execution_id, queued_ns, started_ns],
            )
        lake.close()
    lake = LakeStore(url, tmp_path / "data")
    lake.start()
    try:
        page = lake.executions.page("w", "wf")
        windowed = lake.workflow_metrics.workflow_totals("w", "wf", 150, 400)
        all_time = lake.workflow_metrics.workflow_totals("w", "wf", 0, UNBOUNDED_NS)
        stored = lake.cursor().execute("SELECT execution_id, created_ns, began_ns FROM executions").fetchall()
        sorted_by = (
            lake.cursor()
            .execute(
                "SELECT count(*) FROM ducklake_options(current_database())"
                " WHERE option_name = 'parquet_row_group_size' AND scope_entry LIKE '%executions%'"
            )
            .fetchone()
        )
    finally:
        lake.close()
    assert lake.schema_version == migrations(lake_store.MIGRATIONS)[-1][0]  # every one applied
    assert [row.execution_id for row in page.items] == ["ex-b", "ex-c", "ex-a"]
    assert (windowed.finished, all_time.finished) == (2, 3)
    assert {e: (c, b) for e, c, b in stored} == {"ex-a": (100, 150), "ex-b": (300, 300), "ex-c": (200, 400)}
    assert sorted_by == (1,)

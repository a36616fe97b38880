"""The per-step summaries of a DuckDB file: backfilled when an older file is migrated, and
recomputed by `flowscope rebuild` (storage/duckdb/sql/migrations/006_step_summaries.sql)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
from flowscope.storage.duckdb.store import Store

from tests.storage.conformance.test_step_summaries import RUNS, WF, WINDOWS, _expected, _write

REPO = Path(__file__).resolve().parents[2]


def _open(db: Path) -> Store:
    store = Store(db)
    store.start()
    return store


def _check(db: Path) -> None:
    store = _open(db)
    try:
        for since, until in WINDOWS:
            assert store.workflow_metrics.step_totals("w", WF, since, until) == _expected(RUNS, since, until)
    finally:
        store.close()


def test_an_older_file_is_backfilled_and_rebuild_recomputes_the_summaries(tmp_path: Path) -> None:
    db = tmp_path / "flowscope.duckdb"
    store = _open(db)
    _write(store, "w", *RUNS[:4])
    _write(store, "w", *RUNS[3:])
    store.close()
    with duckdb.connect(str(db)) as con:  # as the version before the summaries left it
        con.execute("DROP TABLE step_summaries")
        con.execute("DROP MACRO TABLE step_summary_rows")
        con.execute("DROP MACRO step_duration_bucket")
        con.execute("DELETE FROM schema_version WHERE version = 6")
    _check(db)  # migrated: backfilled from the stored spans

    with duckdb.connect(str(db)) as con:  # summaries lost or wrong: the rebuild repairs them
        con.execute("DELETE FROM step_summaries WHERE day % 2 = 0")
        con.execute("UPDATE step_summaries SET runs = runs + 5")
    for _ in range(2):  # idempotent
        done = subprocess.run(
            [sys.executable, "-m", "flowscope", "rebuild", "--db", str(db)],
            cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"rebuilt 4 step summary rows in {db}"  # one step, four days
    _check(db)

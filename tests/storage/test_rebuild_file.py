"""`flowscope rebuild` on a DuckDB file whose derived rows are wrong or lost (as after an
upgrade that changed how workflow telemetry is read): the rows converted again from the
stored bytes answer every reader as ingest did."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
from flowscope.storage.duckdb.store import Store

from tests.storage.conformance import dataset
from tests.storage.conformance.test_rebuild import reads

REPO = Path(__file__).resolve().parents[2]


def _reads(db: Path) -> dict[str, object]:
    store = Store(db)
    store.start()
    try:
        return reads(store)
    finally:
        store.close()


def test_rebuild_repairs_derived_rows_from_the_stored_bytes(tmp_path: Path) -> None:
    db = tmp_path / "flowscope.duckdb"
    store = Store(db)
    store.start()
    dataset.load(store)
    store.close()
    before = _reads(db)
    with duckdb.connect(str(db)) as con:  # wrong and lost derived rows (not as users do)
        con.execute("UPDATE executions SET status = 'running', status_rank = 2, error_message = NULL")
        con.execute("DELETE FROM executions WHERE execution_id = ?", [dataset.E2])
        con.execute("UPDATE spans SET step_status = NULL, error_message = NULL WHERE span_role = 'step'")
        con.execute("UPDATE logs SET workflow_id = NULL, step_id = NULL")
    assert _reads(db) != before
    outputs = []
    for _ in range(2):  # idempotent: the second run finds nothing to change
        done = subprocess.run(
            [sys.executable, "-m", "flowscope", "rebuild", "--db", str(db)],
            cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout.strip())
    with duckdb.connect(str(db)) as con:
        steps = con.execute("SELECT count(*) FROM spans WHERE span_role = 'step'").fetchone()
        records = con.execute("SELECT count(*) FROM logs WHERE workflow_id IS NOT NULL").fetchone()
    assert steps is not None and records is not None
    changed = f"({steps[0]} spans and {records[0]} log records changed)"
    assert outputs[0].startswith(f"rebuilt 10 executions {changed}")
    assert outputs[1].startswith("rebuilt 10 executions (0 spans and 0 log records changed)")
    assert _reads(db) == before

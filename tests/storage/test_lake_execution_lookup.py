"""An execution's row on a lake found without scanning its table (storage/ducklake/executions.py,
migration 007_execution_lookup.sql): executions stored in (workflow, workspace, id) order, both
as commits write them and once `flowscope maintain` merged them, and looked up among the
workflows that the execution's own spans or records name; when those do not find it (a hint
that names another workflow, or no hint at all) the id alone is read, so answers never differ."""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
from flowscope.storage.duckdb.executions import _row
from flowscope.storage.ducklake import executions as lake_executions
from flowscope.storage.ducklake.maintenance import Maintainer, Policy
from flowscope.storage.ducklake.sqlfiles import required
from flowscope.storage.ducklake.store import LakeStore
from flowscope.storage.ducklake.url import parse_lake

from tests.storage.conformance.dataset import ETL_STEPS, Run, records_of, spans_of
from tests.storage.conformance.otlp import logs, traces, write
from tests.storage.test_lake_layout import parquet_lake
from tests.support.postgres import Postgres

WORKFLOWS = ("wf-etl", "wf-report", "wf-backup")
START_NS = 1_700_000_000 * 10**9


def _runs(rnd: random.Random, n: int, first: int) -> list[Run]:
    return [
        Run(rnd.randbytes(16).hex(), rnd.choice(WORKFLOWS), "ETL", first + k, START_NS + (first + k) * 10**9,
            ETL_STEPS, status="completed", end_s=400)
        for k in range(n)
    ]  # fmt: skip


def _store_runs(store: LakeStore, runs: list[Run]) -> None:
    write(store, logs([r for run in runs for r in records_of(run)]), "default")
    write(store, traces([s for run in runs for s in spans_of(run)]), "default")


def _stored_order(store: LakeStore) -> list[list[tuple[str, str, str]]]:
    """Each executions data file's (workflow, workspace, id) rows in stored order."""

    def read(con: duckdb.DuckDBPyConnection) -> list[str]:
        catalog = con.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
        return [
            r[0]
            for r in con.execute(
                "SELECT data_file FROM ducklake_list_files(?, 'executions')", [catalog]
            ).fetchall()
        ]

    out = []
    for path in store.read(read):
        with duckdb.connect() as con:
            out.append([
                tuple(r) for r in con.execute(
                    "SELECT workflow_id, workspace_id, execution_id "
                    "FROM read_parquet(?, file_row_number = true) ORDER BY file_row_number", [path],
                ).fetchall()
            ])  # fmt: skip
    return out


def test_executions_are_stored_by_workflow_then_id_and_found_by_their_traces_workflows(
    postgres: Postgres, tmp_path: Path
) -> None:
    url, data, store = parquet_lake(postgres, tmp_path, "lookup_lake")
    rnd = random.Random(6)
    try:
        runs = _runs(rnd, 60, 1)
        _store_runs(store, runs[:30])
        _store_runs(store, runs[30:])
        files = _stored_order(store)
        assert files and all(rows == sorted(rows) for rows in files), "a commit's file is out of order"
        maintainer = Maintainer(parse_lake(url), str(data), Policy(snapshot_retention_seconds=0))
        try:
            maintainer.run_round()
        finally:
            maintainer.close()
        files = _stored_order(store)
        assert len(files) == 1 and files[0] == sorted(files[0]) and len(files[0]) == len(runs)

        reader = store.executions
        assert isinstance(reader, lake_executions.LakeExecutions)
        cur = store.cursor()
        for run in rnd.sample(runs, 10):
            expected = _row(cur, "default", run.execution_id)  # the id alone, as on the file
            assert expected is not None and expected.workflow_id == run.workflow_id
            # The workflow-bounded statement itself finds it (not only the fallback behind it) ...
            params = {"workspace_id": "default", "execution_id": run.execution_id}
            hinted = cur.execute(
                required("queries/execution_in_workflows"), {**params, "workflow_ids": [run.workflow_id]}
            ).fetchall()
            assert [r[1] for r in hinted] == [run.execution_id]
            assert len(cur.execute(required("queries/execution_by_records"), params).fetchall()) == 1
            # ... and the readers give the file's answer whatever the hint.
            assert lake_executions._row_in(cur, "default", run.execution_id, {run.workflow_id}) == expected
            other = next(w for w in WORKFLOWS if w != run.workflow_id)
            assert lake_executions._row_in(cur, "default", run.execution_id, {other}) == expected
            assert lake_executions._row_in(cur, "default", run.execution_id, set()) == expected
            assert reader.execution("default", run.execution_id) == expected
            assert reader.execution("other-workspace", run.execution_id) is None
            records = reader.records("default", run.execution_id)
            assert records is not None and records.row == expected
            assert [s.step_id for s in records.steps] == [s.step_id for s in ETL_STEPS]
            assert all(s.input_text for s in records.steps)  # the steps' blobs were read
        assert reader.records("default", "00" * 16) is None
    finally:
        store.close()

"""`flowscope rebuild` on a lake (FLOWSCOPE_STORE / FLOWSCOPE_DATA_PATH): the derived rows
converted again from the stored bytes answer every reader as ingest did; and a rebuild that
another node's commit overtook changes nothing and says to stop ingest (storage/ducklake/store.py
`rebuild_rows`)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flowscope.collector.prepare import prepare
from flowscope.storage.batches import Prepared, Signal
from flowscope.storage.ducklake.store import LakeStore
from flowscope.storage.errors import StorageUnavailable

from tests.storage.conformance import dataset
from tests.storage.conformance.otlp import traces, write
from tests.storage.conformance.test_rebuild import reads
from tests.storage.lake_nodes import two_stores
from tests.support.postgres import Postgres

REPO = Path(__file__).resolve().parents[2]


def _reads(url: str, data: Path) -> dict[str, object]:
    store = LakeStore(url, data)
    store.start()
    try:
        return reads(store)
    finally:
        store.close()


def _rebuild(url: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FLOWSCOPE_STORE": url, "FLOWSCOPE_DATA_PATH": str(data)}
    env.pop("FLOWSCOPE_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "flowscope", "rebuild"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def test_rebuild_on_a_lake_repairs_derived_rows(postgres: Postgres, tmp_path: Path) -> None:
    url = "ducklake:postgres:" + postgres.create_database("rebuild_cli")
    data = tmp_path / "lake-data"
    store = LakeStore(url, data)
    store.start()
    try:
        dataset.load(store)
        before = reads(store)
    finally:
        store.close()
    unstarted = LakeStore(url, data)  # no summaries running on what follows
    try:
        cur = unstarted.cursor()  # wrong and lost derived rows (not as users do)
        cur.execute("UPDATE executions SET status = 'running', status_rank = 2, error_message = NULL")
        cur.execute("DELETE FROM executions WHERE execution_id = ?", [dataset.E2])
        cur.execute("UPDATE spans SET step_status = NULL, error_message = NULL WHERE span_role = 'step'")
        cur.execute("UPDATE logs SET workflow_id = NULL, step_id = NULL")
    finally:
        unstarted.close()
    assert _reads(url, data) != before
    outputs = []
    for _ in range(2):  # idempotent: the second run finds nothing to change
        done = _rebuild(url, data)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout.strip())
    assert outputs[0].startswith("rebuilt 10 executions (")
    assert not outputs[0].startswith("rebuilt 10 executions (0 spans and 0 log records")
    assert outputs[1].startswith("rebuilt 10 executions (0 spans and 0 log records changed)")
    assert _reads(url, data) == before


def test_a_rebuild_overtaken_by_another_nodes_commit_changes_nothing(
    postgres: Postgres, tmp_path: Path
) -> None:
    with two_stores(postgres, tmp_path, "rebuild_race") as (rebuilding, ingesting):
        dataset.load(rebuilding)
        before = reads(rebuilding)
        late = dataclasses.replace(
            dataset.RUNS_A[0], execution_id="c0" + "0" * 29 + "e", workflow_id="wf-late", number=1
        )
        committed: list[Any] = []

        def derive_while_a_node_commits(
            signal: Signal, request: Any, workspace_id: str, raw: bytes
        ) -> Prepared:
            # The other node commits a new execution while the rebuild's transaction is open.
            if not committed:
                committed.append(write(ingesting, traces(dataset.spans_of(late)), dataset.WS_A))
            return prepare(signal, request, workspace_id, raw)

        with pytest.raises(StorageUnavailable, match="stop the nodes' ingest and run it again"):
            rebuilding.rebuild_rows(derive_while_a_node_commits)
        assert committed, "the other node's commit did not run during the rebuild"
        after = reads(rebuilding)
        assert after == before  # the dataset's rows as they were: the rebuild was rolled back whole
        stored = rebuilding.executions.records(dataset.WS_A, late.execution_id)
        assert stored is not None  # and the other node's commit stands
        counts = rebuilding.rebuild_rows(prepare)  # nothing commits now: it goes through
        assert counts.executions == len((*dataset.RUNS_A, *dataset.RUNS_B)) + 1

"""The per-step summaries of a DuckDB file (storage/duckdb/step_summaries.py): step metrics of
summarized days read them, not the spans; an older file is migrated without a backfill (the
maintenance summarizes it), a crash keeps summaries and spans consistent, and `flowscope
rebuild` recomputes them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from flowscope.storage.duckdb import step_summaries
from flowscope.storage.duckdb.store import Store
from pytest import approx

from tests.storage.conformance.test_step_rollups import (
    _durations_match_the_time_rollup,
    _rollup_matches_the_summaries,
    _time_rollup_matches_the_executions,
    _totals_match_the_executions,
)
from tests.storage.conformance.test_step_summaries import (
    DAY,
    EVER,
    HOUR,
    MIDNIGHT,
    RUNS,
    WF,
    WINDOWS,
    StepRun,
    _expected,
    _write,
)

REPO = Path(__file__).resolve().parents[2]


def _open(db: Path) -> Store:
    store = Store(db)
    store.start()
    return store


def _check(db: Path, summarize: bool = True) -> None:
    store = _open(db)
    try:
        if summarize:
            store.summarize()
        for since, until in WINDOWS:
            assert store.workflow_metrics.step_totals("w", WF, since, until) == _expected(RUNS, since, until)
    finally:
        store.close()


def test_summarized_days_are_read_from_the_summaries(tmp_path: Path) -> None:
    db = tmp_path / "flowscope.duckdb"
    store = _open(db)
    _write(store, "w", *RUNS)
    store.summarize()
    store.close()
    with duckdb.connect(str(db)) as con:  # the spans of a whole summarized day go (not as users do)
        con.execute("DELETE FROM spans WHERE start_ns >= ? AND start_ns < ?", [MIDNIGHT, MIDNIGHT + DAY])
    store = _open(db)
    try:
        whole_day = store.workflow_metrics.step_totals("w", WF, MIDNIGHT, MIDNIGHT + DAY)
        edges = store.workflow_metrics.step_totals("w", WF, MIDNIGHT + 1, MIDNIGHT + DAY)
    finally:
        store.close()
    assert whole_day == _expected(RUNS, MIDNIGHT, MIDNIGHT + DAY)  # from its summary rows
    assert edges == []  # a partial day: from the spans


def test_the_rollups_are_read_and_an_older_file_is_rolled_up_when_migrated(tmp_path: Path) -> None:
    db = tmp_path / "flowscope.duckdb"
    store = _open(db)
    _write(store, "w", *RUNS)
    store.summarize()
    store.close()
    with duckdb.connect(str(db)) as con:  # as the version before the rollups left it
        con.execute("DROP TABLE step_rollups")
        con.execute("DROP TABLE step_rollup_buckets")
        con.execute("DROP MACRO TABLE step_rollup_rows")
        con.execute("DROP MACRO TABLE step_rollup_bucket_rows")
        con.execute("DELETE FROM schema_version WHERE version = 8")
    _check(db, summarize=False)  # migrated: rolled up from the summaries
    store = _open(db)
    try:
        assert _rollup_matches_the_summaries(store, "w") == 1
    finally:
        store.close()
    store = _open(db)
    try:
        [before] = store.workflow_metrics.step_totals("w", WF, *EVER)
    finally:
        store.close()
    with duckdb.connect(str(db)) as con:  # what the rollup says is what is read (not as users do)
        con.execute("UPDATE step_rollups SET runs = runs + 5")
        con.execute("UPDATE step_rollup_buckets SET s = s * 2")  # each bucket's mean doubles
    store = _open(db)
    try:
        [rolled] = store.workflow_metrics.step_totals("w", WF, *EVER)
        [one_day] = store.workflow_metrics.step_totals("w", WF, MIDNIGHT, MIDNIGHT + DAY)  # not its days
    finally:
        store.close()
    assert (rolled.runs, one_day.runs) == (len(RUNS) + 5, _expected(RUNS, MIDNIGHT, MIDNIGHT + DAY)[0].runs)
    assert before.p50_duration_seconds and before.p95_duration_seconds
    assert (rolled.p50_duration_seconds, rolled.p95_duration_seconds) == (
        approx(2 * before.p50_duration_seconds),
        approx(2 * before.p95_duration_seconds),
    )


def test_the_executions_totals_are_read_and_an_older_file_is_totalled_when_migrated(tmp_path: Path) -> None:
    db = tmp_path / "flowscope.duckdb"
    store = _open(db)
    _write(store, "w", *RUNS)
    store.summarize()
    store.close()
    with duckdb.connect(str(db)) as con:  # as the version before the totals left it
        con.execute("DROP TABLE workflow_time_rollups")
        con.execute("DROP MACRO TABLE workflow_time_rollup_rows")
        con.execute("DELETE FROM schema_version WHERE version = 9")
    _check(db, summarize=False)  # migrated: totalled from the executions
    store = _open(db)
    try:
        assert _time_rollup_matches_the_executions(store, "w") == (
            len(RUNS),
            pytest.approx(sum(r.seconds for r in RUNS)),
        )
    finally:
        store.close()
    with duckdb.connect(str(db)) as con:  # what the total says is what is read (not as users do)
        con.execute("UPDATE workflow_time_rollups SET duration_seconds = duration_seconds + 1000")
    store = _open(db)
    try:
        [rolled] = store.workflow_metrics.step_totals("w", WF, *EVER)
        [one_day] = store.workflow_metrics.step_totals("w", WF, MIDNIGHT, MIDNIGHT + DAY)  # not its days
    finally:
        store.close()
    total = sum(r.seconds for r in RUNS)
    assert rolled.workflow_time_seconds == pytest.approx(total + 1000)
    assert one_day.workflow_time_seconds == _expected(RUNS, MIDNIGHT, MIDNIGHT + DAY)[0].workflow_time_seconds


def test_the_workflow_metrics_read_the_durations_rollup_and_an_older_file_gets_it_when_migrated(
    tmp_path: Path,
) -> None:
    db = tmp_path / "flowscope.duckdb"
    store = _open(db)
    _write(store, "w", *RUNS)
    store.summarize()
    store.close()
    with duckdb.connect(str(db)) as con:  # as the version before the durations left it
        con.execute("DROP TABLE workflow_duration_rollups")
        con.execute("DROP MACRO TABLE workflow_duration_rollup_rows")
        con.execute("DROP MACRO TABLE rolled_up_executions")
        con.execute("DELETE FROM schema_version WHERE version = 11")
    store = _open(db)  # migrated: the durations taken from the executions
    try:
        _durations_match_the_time_rollup(store, "w")
        _totals_match_the_executions(store, "w")
        before = store.workflow_metrics.workflow_totals("w", WF, *EVER)
    finally:
        store.close()
    assert before.finished == len(RUNS)
    with duckdb.connect(str(db)) as con:  # what the rollup says is what is read (not as users do)
        con.execute("UPDATE workflow_duration_rollups SET duration_seconds = duration_seconds + 1000")
    store = _open(db)
    try:
        rolled = store.workflow_metrics.workflow_totals("w", WF, *EVER)
        one_day = store.workflow_metrics.workflow_totals("w", WF, MIDNIGHT, MIDNIGHT + DAY)  # not its days
    finally:
        store.close()
    assert rolled.finished == before.finished
    assert rolled.total_duration_seconds == approx(before.total_duration_seconds + 1000 * len(RUNS))
    assert rolled.p50_duration_seconds == approx(before.p50_duration_seconds + 1000)
    in_day = [r.seconds for r in RUNS if MIDNIGHT <= r.start_ns < MIDNIGHT + DAY]
    assert (one_day.finished, one_day.total_duration_seconds) == (len(in_day), approx(sum(in_day)))


def test_an_older_file_is_summarized_by_the_maintenance_and_rebuild_recomputes(tmp_path: Path) -> None:
    db = tmp_path / "flowscope.duckdb"
    store = _open(db)
    _write(store, "w", *RUNS[:4])
    _write(store, "w", *RUNS[3:])
    store.close()
    with duckdb.connect(str(db)) as con:  # as the version before the summaries left it
        for table in ("step_summaries", "step_summaries_sealed", "step_summaries_stale"):
            con.execute(f"DROP TABLE {table}")
        con.execute("DROP MACRO TABLE step_summary_rows")
        con.execute("DROP MACRO step_duration_bucket")
        con.execute("DELETE FROM schema_version WHERE version = 7")
    _check(db, summarize=False)  # migrated, nothing summarized yet: the spans answer
    _check(db)  # summarized

    with duckdb.connect(str(db)) as con:  # summaries lost or wrong: the rebuild repairs them
        con.execute("DELETE FROM step_summaries WHERE day % 2 = 0")
        con.execute("UPDATE step_summaries SET runs = runs + 5")
        con.execute("UPDATE step_rollups SET runs = runs + 5")
        con.execute("UPDATE workflow_time_rollups SET duration_seconds = duration_seconds + 5")
    for _ in range(2):  # idempotent
        done = subprocess.run(
            [sys.executable, "-m", "flowscope", "rebuild", "--db", str(db)],
            cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().endswith(f" and 4 step summary rows in {db}")  # one step, four days
    _check(db, summarize=False)


def test_a_crash_keeps_summaries_of_committed_spans_only(tmp_path: Path) -> None:
    db = tmp_path / "flowscope.duckdb"
    script = textwrap.dedent(f"""
        import os
        from pathlib import Path
        from flowscope.storage.duckdb.store import Store
        from tests.storage.conformance.test_step_summaries import RUNS, _write
        store = Store(Path({str(db)!r}))
        store.start()
        _write(store, "w", *RUNS[2:])
        store.summarize()
        _write(store, "w", *RUNS[:2])  # late runs: their day goes stale in their commit
        os._exit(0)  # no close, no checkpoint: what the WAL holds is what was committed
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    _check(db, summarize=False)
    _check(db)
    store = _open(db)
    try:
        assert store.workflow_metrics.step_totals("w", WF, *EVER) == _expected(RUNS, *EVER)
    finally:
        store.close()


def test_a_day_summarized_in_parts_answers_the_same_after_every_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(step_summaries, "SPANS_PER_RUN", 4)  # several runs a day
    db = tmp_path / "flowscope.duckdb"
    workspaces = [f"w{n}" for n in range(4)]  # workflows spread over the parts by hash
    store = _open(db)
    for ws in workspaces:
        _write(store, ws, *RUNS)
    store.close()
    with duckdb.connect(str(db)) as con:  # an older file: nothing summarized (the start's run did)
        con.execute("UPDATE step_summaries_sealed SET until_day = NULL, parts = NULL, next_part = NULL")
        con.execute("DELETE FROM step_summaries_stale")
    store = Store(db)
    store.writer.start()  # without the background maintenance: this test runs it, a run at a time
    days = store.writer.step_days
    late = [StepRun(9, MIDNIGHT - 2 * HOUR, 2.0), StepRun(10, MIDNIGHT - DAY, 1.0)]
    in_progress = StepRun(11, MIDNIGHT + 3 * HOUR, 4.0)
    runs = {ws: list(RUNS) for ws in workspaces}
    in_parts = 0
    try:
        for n in range(200):
            for ws in workspaces:
                for since, until in WINDOWS:
                    got = store.workflow_metrics.step_totals(ws, WF, since, until)
                    assert got == _expected(runs[ws], since, until), (n, ws, since, until)
                _rollup_matches_the_summaries(store, ws)  # each part's workflows rolled up
            in_parts += days.parts is not None and days.next_part > 0
            if n == 3:  # late runs into the day whose parts are being summarized, and the day before
                assert days.parts is not None and days.next_part > 0
                for ws in workspaces[:2]:
                    _write(store, ws, *late)
                    runs[ws] += late
                # And into the day being summarized, in every workflow: those whose part is not
                # done yet are summarized (stale) before it, and rolled up whole by their part.
                for ws in workspaces:
                    _write(store, ws, in_progress)
                    runs[ws].append(in_progress)
            if not store.step_summaries.run_now(lambda con: days.summarize_once(con, step_summaries.today())):
                break
        assert in_parts > 3 and days.until_day == step_summaries.today() and not days.stale
    finally:
        store.close()

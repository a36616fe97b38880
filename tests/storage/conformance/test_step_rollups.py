"""Per-workflow rollups of the step summaries (storage/duckdb/sql/migrations/008_step_rollups.sql):
after every maintenance that changes a workflow's summary rows (a day sealed, stale days
summarized again after a late run or a later try replacing a stored one, retention, the
rebuild), its rollup is those rows merged, and step metrics answer as over the spans.
Likewise the workflow's total of finished executions over the sealed days (migrations/
009_workflow_time_rollups.sql) and their durations (011_workflow_duration_rollups.sql): after
each of those, and when an execution on a sealed day finishes later (its day goes stale at
ingest), they are what the executions say, and so are the workflow metrics read from them."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import replace
from typing import Any

import duckdb
import numpy
import pytest
from flowscope.storage.duckdb import step_summaries
from flowscope.storage.interfaces import Store
from pytest import approx

from tests.storage.conformance.dataset import HOUR, Run, S, spans_of
from tests.storage.conformance.otlp import traces, write
from tests.storage.conformance.test_step_summaries import (
    DAY,
    EVER,
    MIDNIGHT,
    RUNS,
    WF,
    WINDOWS,
    StepRun,
    _check_windows,
    _expected,
    _write,
)

_ROWS = (
    "SELECT step_id, day, runs, completed, failed, skipped, cancelled, retries, runs_with_retries, ran, "
    "ran_ns, ran_max_ns, total_ns, first_start_ns, last_start_ns, last_name, histogram "
    "FROM step_summaries WHERE workspace_id = ? AND workflow_id = ?"
)
_ROLLUPS = (
    "SELECT step_id, first_day, last_day, runs, completed, failed, skipped, cancelled, retries, "
    "runs_with_retries, ran, ran_ns, ran_max_ns, total_ns, first_start_ns, last_start_ns, last_name "
    "FROM step_rollups WHERE workspace_id = ? AND workflow_id = ?"
)
_BUCKETS = "SELECT step_id, b, n, s FROM step_rollup_buckets WHERE workspace_id = ? AND workflow_id = ?"
_SUMS = ("runs", "completed", "failed", "skipped", "cancelled", "retries", "runs_with_retries", "ran",
         "ran_ns", "total_ns")  # fmt: skip


def _merged(rows: list[tuple[Any, ...]]) -> dict[Any, dict[str, Any]]:
    """The summary rows merged per step, in Python: what the rollup must hold."""
    names = ("step_id", "day", *_SUMS[:-2], "ran_ns", "ran_max_ns", "total_ns", "first_start_ns",
             "last_start_ns", "last_name", "histogram")  # fmt: skip
    out: dict[Any, dict[str, Any]] = {}
    for values in rows:
        row = dict(zip(names, values, strict=True))
        step = out.setdefault(row["step_id"], {
            "first_day": row["day"], "last_day": row["day"], **dict.fromkeys(_SUMS, 0), "ran_max_ns": None,
            "first_start_ns": row["first_start_ns"], "last_start_ns": row["last_start_ns"],
            "last_name": row["last_name"], "buckets": defaultdict(lambda: [0, 0.0]),
        })  # fmt: skip
        step["first_day"] = min(step["first_day"], row["day"])
        step["last_day"] = max(step["last_day"], row["day"])
        for k in _SUMS:
            step[k] += row[k]
        if row["ran_max_ns"] is not None:
            step["ran_max_ns"] = max(step["ran_max_ns"] or row["ran_max_ns"], row["ran_max_ns"])
        step["first_start_ns"] = min(step["first_start_ns"], row["first_start_ns"])
        if row["last_start_ns"] >= step["last_start_ns"]:
            step["last_start_ns"], step["last_name"] = row["last_start_ns"], row["last_name"]
        for entry in row["histogram"]:
            bucket = step["buckets"][entry["b"]]
            bucket[0] += entry["n"]
            bucket[1] += entry["s"]
    return out


def _rollup_matches_the_summaries(store: Store, workspace: str) -> int:
    """Assert the workflow's rollup is its summary rows merged; returns its rows."""

    def read(con: duckdb.DuckDBPyConnection) -> tuple[list[Any], ...]:
        key = [workspace, WF]
        return tuple(con.execute(q, key).fetchall() for q in (_ROWS, _ROLLUPS, _BUCKETS))

    rows, rollups, buckets = store.read(read)
    want = _merged(rows)
    got: dict[Any, dict[str, Any]] = {}
    names = ("first_day", "last_day", *_SUMS[:-2], "ran_ns", "ran_max_ns", "total_ns", "first_start_ns",
             "last_start_ns", "last_name")  # fmt: skip
    for step_id, *values in rollups:
        got[step_id] = {**dict(zip(names, values, strict=True)), "buckets": {}}
    for step_id, b, n, s in buckets:
        got[step_id]["buckets"][b] = [n, approx(s)]
    for step in want.values():
        step["buckets"] = {b: [n, s] for b, (n, s) in step["buckets"].items()}
    assert got == want
    return len(rollups)


_TIME_ROLLUP = (
    "SELECT from_day, until_day, finished, duration_seconds FROM workflow_time_rollups "
    "WHERE workspace_id = ? AND workflow_id = ?"
)
_SEALED = "SELECT until_day, floor_day, parts FROM step_summaries_sealed"
_FINISHED = (  # the finished executions and their days, as the rollup's definition reads them
    "SELECT (coalesce(started_ns, queued_ns) // 86400000000000)::INTEGER, duration_seconds "
    "FROM executions WHERE workspace_id = ? AND workflow_id = ? AND status_rank = 3 "
    "AND coalesce(started_ns, queued_ns) IS NOT NULL"
)


def _time_rollup_matches_the_executions(store: Store, workspace: str) -> tuple[int, float] | None:
    """Assert the workflow's executions total covers sealed days from retention's cutoff day on
    (up to the first unsealed one, or the last it was rolled up to: days without step runs are
    sealed without rolling up) and is what its finished executions of those days say; returns
    (finished, seconds), None without a row."""

    def read(con: duckdb.DuckDBPyConnection) -> tuple[list[Any], ...]:
        key = [workspace, WF]
        return tuple(
            con.execute(q, *([key] if "?" in q else [])).fetchall()
            for q in (_TIME_ROLLUP, _SEALED, _FINISHED)
        )

    rows, [(until_day, floor_day, parts)], finished = store.read(read)
    _durations_match_the_time_rollup(store, workspace)
    _totals_match_the_executions(store, workspace)
    assert parts is None  # (summarize() seals every day whole)
    first = max(0, floor_day + 1) if floor_day is not None else 0
    if not rows:
        assert [day for day, _ in finished if first <= day < until_day] == []
        return None
    [(from_day, to_day, count, seconds)] = rows
    assert from_day == first and to_day <= until_day
    covered = [d for day, d in finished if first <= day < to_day]
    assert (count, seconds) == (len(covered), approx(sum(covered)))
    return count, seconds


_DURATION_ROLLUP = (
    "SELECT status, duration_seconds FROM workflow_duration_rollups "
    "WHERE workspace_id = ? AND workflow_id = ?"
)
_FINISHED_ROWS = (  # the finished executions' days, statuses and durations
    "SELECT (began_ns // 86400000000000)::INTEGER, status, duration_seconds "
    "FROM executions WHERE workspace_id = ? AND workflow_id = ? AND status_rank = 3 AND began_ns IS NOT NULL"
)


def _durations_match_the_time_rollup(store: Store, workspace: str) -> None:
    """Assert the workflow's durations rollup (migrations/011_workflow_duration_rollups.sql) holds
    the finished executions of the days its executions total covers, one row each."""

    def read(con: duckdb.DuckDBPyConnection) -> tuple[list[Any], ...]:
        key = [workspace, WF]
        return tuple(con.execute(q, key).fetchall() for q in (_DURATION_ROLLUP, _TIME_ROLLUP, _FINISHED_ROWS))

    durations, time_rows, finished = store.read(read)
    days = [(from_day, to_day) for from_day, to_day, *_ in time_rows]
    want = [(status, d) for day, status, d in finished if any(lo <= day < hi for lo, hi in days)]
    assert sorted(durations, key=repr) == sorted(want, key=repr)


def _totals_match_the_executions(store: Store, workspace: str) -> None:
    """Assert the workflow metrics' totals over every window of the step tests are what the
    workflow's executions begun in it say (the percentiles: quantile_cont's, linear)."""

    def read(con: duckdb.DuckDBPyConnection) -> list[Any]:
        query = (
            "SELECT began_ns, status, status_rank, duration_seconds FROM executions "
            "WHERE workspace_id = ? AND workflow_id = ? AND began_ns IS NOT NULL"
        )
        return con.execute(query, [workspace, WF]).fetchall()

    rows = store.read(read)
    for since, until in [EVER, *WINDOWS]:
        inside = [(status, rank, d) for began, status, rank, d in rows if since <= began < until]
        done = [(status, d) for status, rank, d in inside if rank == 3]
        durations = sorted(d for _, d in done if d is not None)
        got = store.workflow_metrics.workflow_totals(workspace, WF, since, until)
        assert (got.finished, got.running, got.pending) == (
            len(done), sum(s == "running" for s, _, _ in inside), sum(s == "pending" for s, _, _ in inside)
        )
        assert (got.completed, got.failed, got.timeout, got.cancelled) == tuple(
            sum(s == want for s, _ in done) for want in ("completed", "failed", "timeout", "cancelled")
        )
        assert got.total_duration_seconds == approx(sum(durations))
        assert (got.min_duration_seconds, got.max_duration_seconds) == (
            (durations[0], durations[-1]) if durations else (None, None)
        )
        want_q = [float(numpy.quantile(durations, q)) for q in (0.5, 0.9, 0.95, 0.99)] if durations else []
        want_q = want_q or [None] * 4
        got_q = [got.p50_duration_seconds, got.p90_duration_seconds, got.p95_duration_seconds,
                 got.p99_duration_seconds]  # fmt: skip
        assert got_q == approx(want_q)


def _workflow_time(store: Store, workspace: str, since: int, until: int) -> float | None:
    totals = store.workflow_metrics.step_totals(workspace, WF, since, until)
    times = {t.workflow_time_seconds for t in totals}
    assert len(times) == 1  # one total, on every step's row
    return times.pop()


def test_each_sealed_day_rolls_up(store: Store, workspace: str) -> None:
    _write(store, workspace, *RUNS[:3])
    store.summarize()
    assert _rollup_matches_the_summaries(store, workspace) == 1
    assert _time_rollup_matches_the_executions(store, workspace) == (3, approx(30 + 12.5 + 7))
    for run in RUNS[3:]:  # a run a day or so, each summarized (its day is over)
        _write(store, workspace, run)
        store.summarize()
        _rollup_matches_the_summaries(store, workspace)
        _time_rollup_matches_the_executions(store, workspace)
    _check_windows(store, workspace, RUNS)


def test_a_late_run_and_a_replaced_later_try_roll_up_again(store: Store, workspace: str) -> None:
    flaky = StepRun(8, MIDNIGHT + 3 * HOUR, 2.0, "failed")  # retried below by a later try
    _write(store, workspace, *RUNS[2:], flaky)
    store.summarize()
    _rollup_matches_the_summaries(store, workspace)
    _write(store, workspace, *RUNS[:2])  # late runs: their day goes stale
    runs = [*RUNS, flaky]
    _check_windows(store, workspace, runs)  # from the spans of the stale day, the summaries of the others
    store.summarize()
    _rollup_matches_the_summaries(store, workspace)
    _time_rollup_matches_the_executions(store, workspace)
    _check_windows(store, workspace, runs)

    # The step's next try, under the same span id (as Airflow 3.2+ sends it), after the first
    # ended: it replaces the stored try, on a summarized day.
    later = StepRun(8, flaky.start_ns + int(flaky.seconds * S), 5.5, "completed", retried=True)
    _write(store, workspace, later)
    runs = [*RUNS, later]
    _check_retried(store, workspace, runs)  # stale: from the spans
    store.summarize()
    _rollup_matches_the_summaries(store, workspace)
    _time_rollup_matches_the_executions(store, workspace)
    _check_retried(store, workspace, runs)  # from the rollup again


def _check_retried(store: Store, workspace: str, runs: list[StepRun]) -> None:
    """As _check_windows, but for the workflow time: the replaced try's execution keeps its
    root span (the first version), so its time is the first try's."""
    for since, until in [EVER, (MIDNIGHT, MIDNIGHT + DAY)]:
        got = store.workflow_metrics.step_totals(workspace, WF, since, until)
        want = _expected(runs, since, until)
        assert [replace(t, workflow_time_seconds=None) for t in got] == [
            replace(t, workflow_time_seconds=None) for t in want
        ]


def test_retention_rolls_up_what_it_keeps(new_store: Store) -> None:
    store = new_store  # retention deletes in every workspace
    now = time.time_ns()
    cutoff = now - 7 * DAY  # what apply_retention(7) computes a moment later
    runs = [StepRun(1, now - 10 * DAY, 4.0), StepRun(2, cutoff - HOUR, 5.0), StepRun(3, cutoff + HOUR, 6.0),
            StepRun(4, now - 3 * DAY, 7.0), StepRun(5, now - DAY, 8.0)]  # fmt: skip
    _write(store, "w", *runs)
    store.summarize()
    _rollup_matches_the_summaries(store, "w")
    store.apply_retention(7)
    _rollup_matches_the_summaries(store, "w")
    _time_rollup_matches_the_executions(store, "w")
    [(first_day,)] = store.read(lambda con: con.execute("SELECT first_day FROM step_rollups").fetchall())
    assert first_day > cutoff // DAY  # the cutoff's day went (read from its spans)
    kept = [r for r in runs if r.start_ns >= cutoff]
    assert store.workflow_metrics.step_totals("w", WF, *EVER) == _expected(kept, *EVER)
    store.rebuild_summaries()  # not the cutoff's day again
    _rollup_matches_the_summaries(store, "w")
    _time_rollup_matches_the_executions(store, "w")
    assert store.workflow_metrics.step_totals("w", WF, *EVER) == _expected(kept, *EVER)


def test_rebuild_rolls_up_every_workflow(store: Store, workspace: str) -> None:
    _write(store, workspace, *RUNS[:4])
    store.summarize()
    _write(store, workspace, *RUNS[4:])  # not summarized yet: the rebuild does it
    store.rebuild_summaries()
    assert _rollup_matches_the_summaries(store, workspace) == 1
    assert _time_rollup_matches_the_executions(store, workspace) == (
        len(RUNS),
        approx(sum(r.seconds for r in RUNS)),
    )
    _check_windows(store, workspace, RUNS)


def test_days_sealed_in_parts_roll_up(new_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The seal's path (a day's part rolls its workflows up), which a store started before its
    data never takes: its state is set back to "nothing sealed" (not as users do), so that
    every day is sealed again, in parts, over rollups that hold some of those days already."""
    store = new_store
    monkeypatch.setattr(step_summaries, "SPANS_PER_RUN", 3)  # several parts a day
    workspaces = [f"w{n}" for n in range(4)]  # workflows spread over the parts by hash
    for ws in workspaces[:2]:
        _write(store, ws, *RUNS)
    store.summarize()  # (stale days summarized: these rollups hold every day)
    for ws in workspaces[2:]:
        _write(store, ws, *RUNS)
    days = store.writer.step_days  # type: ignore[attr-defined]

    def unseal(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("BEGIN")
        con.execute("UPDATE step_summaries_sealed SET until_day = NULL, parts = NULL, next_part = NULL")
        con.execute("DELETE FROM step_summaries_stale")
        con.execute("COMMIT")
        days.load(con)

    store.step_summaries.run_now(unseal)  # type: ignore[attr-defined]
    while store.step_summaries.run_now(lambda con: days.summarize_once(con, step_summaries.today())):  # type: ignore[attr-defined]
        for ws in workspaces:
            _rollup_matches_the_summaries(store, ws)
            _time_rollup_covers_the_parts_done(store, ws)
    for ws in workspaces:
        assert _rollup_matches_the_summaries(store, ws) == 1
        assert _time_rollup_matches_the_executions(store, ws) == (
            len(RUNS),
            approx(sum(r.seconds for r in RUNS)),
        )
        _check_windows(store, ws, RUNS)


def _time_rollup_covers_the_parts_done(store: Store, workspace: str) -> None:
    """While days are sealed in parts: the workflow's executions total is what its executions
    of the days it covers say (rolled up with its part, or still the one from before)."""

    def read(con: duckdb.DuckDBPyConnection) -> tuple[list[Any], ...]:
        key = [workspace, WF]
        return con.execute(_TIME_ROLLUP, key).fetchall(), con.execute(_FINISHED, key).fetchall()

    rows, finished = store.read(read)
    _durations_match_the_time_rollup(store, workspace)
    _totals_match_the_executions(store, workspace)
    for from_day, to_day, count, seconds in rows:
        covered = [d for day, d in finished if from_day <= day < to_day]
        assert (count, seconds) == (len(covered), approx(sum(covered)))


def test_an_execution_finished_after_its_day_was_sealed_goes_stale(store: Store, workspace: str) -> None:
    """A finished execution's row that a commit changes on a sealed day marks it stale (no step
    span of that commit does): here root spans arriving after the day was summarized (the
    execution ran over midnight, or its tracer exported its root late)."""
    early, late = RUNS[0], RUNS[1]  # the same day: the workflow's total over it has a row
    _write(store, workspace, early)
    write(store, traces([s for s in spans_of(late.run()) if s.parent_span_id]), workspace)  # steps only
    store.summarize()
    assert _time_rollup_matches_the_executions(store, workspace) == (1, approx(early.seconds))
    assert _workflow_time(store, workspace, *EVER) == approx(early.seconds)
    write(store, traces([s for s in spans_of(late.run()) if not s.parent_span_id]), workspace)  # its root
    want = early.seconds + late.seconds
    assert _workflow_time(store, workspace, *EVER) == approx(want)  # stale: from the executions
    _totals_match_the_executions(store, workspace)
    store.summarize()
    assert _time_rollup_matches_the_executions(store, workspace) == (2, approx(want))
    assert _workflow_time(store, workspace, *EVER) == approx(want)  # from the rollup again
    _check_windows(store, workspace, [early, late])


def test_retention_totals_every_workflow_again(new_store: Store) -> None:
    """Retention deletes executions by their end: a workflow whose step rollup holds no day it
    drops (an execution without steps before the cutoff) has its total taken again too."""
    store = new_store
    now = time.time_ns()  # retention's cutoff: 7 days before
    stepless = Run(f"d{1:031x}", WF, "steps", 1, now - 10 * DAY, (), "completed", 9.0)
    run = StepRun(2, now - 3 * DAY, 4.0)
    write(store, traces([*spans_of(stepless), *spans_of(run.run())]), "w")
    store.summarize()
    assert _time_rollup_matches_the_executions(store, "w") == (2, approx(13.0))
    store.apply_retention(7)
    assert _time_rollup_matches_the_executions(store, "w") == (1, approx(4.0))
    assert _workflow_time(store, "w", *EVER) == approx(4.0)

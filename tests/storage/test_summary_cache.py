"""Step metrics' summary state and rollup, kept per workflow (storage/duckdb/summary_cache.py):
a read takes them from the entry while the summaries have not changed, and any change to
them (a late run marking a summarized day stale, the maintenance sealing a day, retention)
makes the next read take them from the tables again, so the answers stay those over the
spans."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
from flowscope.storage.duckdb import day_cache, step_warming
from flowscope.storage.duckdb.store import Store
from flowscope.storage.duckdb.summary_cache import SummaryChanges

from tests.storage.conformance.dataset import spans_of
from tests.storage.conformance.otlp import traces, write
from tests.storage.conformance.test_step_summaries import (
    DAY,
    EVER,
    HOUR,
    RUNS,
    WF,
    StepRun,
    _expected,
    _write,
)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store(tmp_path / "flowscope.duckdb")
    opened.start()
    yield opened
    opened.close()


def _totals(store: Store, window: tuple[int, int] = EVER) -> list:
    return store.workflow_metrics.step_totals("w", WF, *window)


def _on_the_writer(store: Store, statement: str) -> None:
    """Not as users do: a change to the summaries no change records (to see where a read takes
    them from)."""
    done = threading.Event()

    def task(con: duckdb.DuckDBPyConnection) -> None:
        con.execute(statement)
        done.set()

    store.writer.run_maintenance(task)
    assert done.wait(30)


def test_the_rollup_is_read_from_the_entry(store: Store) -> None:
    _write(store, "w", *RUNS)
    store.summarize()
    assert _totals(store) == _expected(RUNS, *EVER)  # keeps the state and the rollup
    for table in ("step_rollups", "step_rollup_buckets", "step_summaries"):
        _on_the_writer(store, f"DELETE FROM {table}")
    assert _totals(store) == _expected(RUNS, *EVER)  # from the entry
    store.summary_cache.changes.begin()  # as a change would: the entry is not used again
    store.summary_cache.changes.settle()
    assert _totals(store) == []  # the tables, as they now are


def test_a_late_run_into_a_summarized_day_after_the_entry_is_counted(store: Store) -> None:
    _write(store, "w", *RUNS)
    store.summarize()
    assert _totals(store) == _expected(RUNS, *EVER)
    late = StepRun(8, RUNS[1].start_ns + HOUR // 2, 9.0)  # on a sealed day: marks it stale
    _write(store, "w", late)
    assert _totals(store) == _expected([*RUNS, late], *EVER)
    store.summarize()  # summarized again: the rollup holds it
    assert _totals(store) == _expected([*RUNS, late], *EVER)


def test_days_summarized_after_the_entry_are_read_from_their_summaries(store: Store) -> None:
    _write(store, "w", *RUNS)
    assert _totals(store) == _expected(RUNS, *EVER)  # an entry saying their days are not summarized
    store.summarize()
    _on_the_writer(store, f"DELETE FROM spans WHERE start_ns < {time.time_ns() // DAY * DAY}")
    assert _totals(store) == _expected(RUNS, *EVER)  # from the summaries: not from that entry


def test_windows_inside_and_around_the_rollup_after_an_entry(store: Store) -> None:
    _write(store, "w", *RUNS)
    store.summarize()
    assert _totals(store) == _expected(RUNS, *EVER)  # an entry with the rollup
    for since, until in [(RUNS[2].start_ns, RUNS[5].start_ns), (RUNS[0].start_ns + 1, EVER[1]), EVER]:
        assert _totals(store, (since, until)) == _expected(RUNS, since, until), (since, until)


def test_after_retention_the_answers_are_those_over_the_spans(store: Store) -> None:
    _write(store, "w", *RUNS)
    store.summarize()
    assert _totals(store) == _expected(RUNS, *EVER)
    cutoff = RUNS[4].start_ns + 1  # a day of the rollup and all before it go
    store.apply_retention((time.time_ns() - cutoff) / DAY)
    assert _totals(store) == _expected(RUNS[5:], *EVER)


def test_summary_changes_number_what_may_have_written_each_workflow() -> None:
    changes = SummaryChanges()
    a, b = ("w", "a"), ("w", "b")
    assert changes.note() == 0 and changes.last_for(a) == 0
    changes.begin({a})  # a late run of a
    assert changes.note() == 0  # in flight: a snapshot now may or may not hold it
    assert changes.last_for(a) == 1 and changes.last_for(b) == 0
    changes.settle()
    assert changes.note() == 1
    changes.begin()  # a day sealed: every workflow's
    assert changes.last_for(b) == 2 and changes.last_for(a) == 2
    changes.settle()
    changes.begin({b})
    changes.settle()
    assert changes.note() == 3 and changes.last_for(a) == 2 and changes.last_for(b) == 3


def test_a_late_run_of_another_workflow_leaves_the_entry_in_use(store: Store) -> None:
    other = StepRun(9, RUNS[1].start_ns, 4.0).run()
    _write(store, "w", *RUNS)
    store.summarize()
    assert _totals(store) == _expected(RUNS, *EVER)
    for table in ("step_rollups", "step_rollup_buckets", "step_summaries"):
        _on_the_writer(store, f"DELETE FROM {table} WHERE workflow_id = '{WF}'")
    write(store, traces(spans_of(replace(other, workflow_id="wf-other"))), "w")  # marks its day stale
    assert store.summary_cache.changes.last_for(("w", "wf-other")) > store.summary_cache.changes.last_for(
        ("w", WF)
    )
    assert _totals(store) == _expected(RUNS, *EVER)  # still from the entry


def test_a_warming_pass_builds_what_reads_would_and_then_has_nothing_due(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(day_cache, "CUT_LAG_NS", 0)  # the current day's entry holds every run so far
    now = time.time_ns()
    runs = [StepRun(1, now - DAY // 2, 5.0), StepRun(2, now - 2 * HOUR, 7.0), StepRun(3, now - 10**9, 3.0)]
    _write(store, "w", *runs)
    store.summarize()
    stop = threading.Event()
    within = 60 * 10**9
    assert step_warming.due(store, "w", WF, within)
    assert step_warming.warm(store, stop, within) == 1  # the one workflow run in the last day
    assert not step_warming.due(store, "w", WF, within)
    assert step_warming.warm(store, stop, within) == 0
    _on_the_writer(store, "DELETE FROM spans")  # the answer now comes from the caches it built
    assert _totals(store) == _expected(runs, *EVER)

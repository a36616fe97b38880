"""Step metrics' current day, summarized once and kept (storage/duckdb/day_cache.py): a read
takes the day's step runs up to the cache entry's cut from the entry, and any commit that
stores or deletes a span started before the cut (a late run, retention) makes the next read
build it again, so the answers stay those over the spans."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import numpy as np
import pytest
from flowscope.storage.duckdb import day_cache
from flowscope.storage.duckdb.day_cache import SpanChanges
from flowscope.storage.duckdb.store import Store
from hypothesis import given
from hypothesis import strategies as st

from tests.storage.conformance.test_step_summaries import DAY, EVER, RUNS, WF, StepRun, _expected, _write


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    # The cut at the read's own time (not 10 minutes before it), so that the test's runs of the
    # current day, which started at most seconds ago, are in the entry whatever the hour.
    monkeypatch.setattr(day_cache, "CUT_LAG_NS", 0)
    opened = Store(tmp_path / "flowscope.duckdb")
    opened.start()
    yield opened
    opened.close()


def _today(n: int, share: float) -> StepRun:
    """A run of the current UTC day, started `share` of the way from its midnight to now."""
    now = time.time_ns()
    midnight = now // DAY * DAY
    return StepRun(n, midnight + int((now - midnight) * share), 2.0 + n)


def _totals(store: Store) -> list:
    return store.workflow_metrics.step_totals("w", WF, *EVER)


def _delete_spans_behind_the_writers_back(store: Store, since_ns: int) -> None:
    """Not as users do: a delete no commit records (to see where a read takes the day from)."""
    done = threading.Event()

    def task(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("DELETE FROM spans WHERE start_ns >= ?", [since_ns])
        done.set()

    store.writer.run_maintenance(task)
    assert done.wait(30)


def test_the_current_day_is_read_from_the_cache_entry(store: Store) -> None:
    today = [_today(10, 0.2), _today(11, 0.5)]
    _write(store, "w", *RUNS, *today)
    store.summarize()  # every earlier day sealed: the current day is the one not summarized
    assert _totals(store) == _expected([*RUNS, *today], *EVER)  # builds the entry
    _delete_spans_behind_the_writers_back(store, time.time_ns() // DAY * DAY)
    assert _totals(store) == _expected([*RUNS, *today], *EVER)  # the day's runs: from the entry


def test_a_run_stored_after_the_entry_and_started_before_its_cut_rebuilds_it(store: Store) -> None:
    today = [_today(10, 0.2), _today(11, 0.6)]
    _write(store, "w", *RUNS, *today)
    store.summarize()
    assert _totals(store) == _expected([*RUNS, *today], *EVER)
    late = _today(12, 0.4)  # started before the entry's cut, stored after it was built
    after = StepRun(13, time.time_ns(), 1.5)  # started after the cut: read from the spans
    _write(store, "w", late, after)
    assert _totals(store) == _expected([*RUNS, *today, late, after], *EVER)


def test_after_retention_cut_into_the_day_the_answers_are_those_over_the_spans(store: Store) -> None:
    # Retention records a change of spans of any start (so entries are built again); here its
    # cutoff day also becomes the first day read from the spans, so no entry is looked up.
    today = [_today(10, 0.3), _today(11, 0.7)]
    _write(store, "w", *RUNS, *today)
    store.summarize()
    assert _totals(store) == _expected([*RUNS, *today], *EVER)
    cutoff = (today[0].start_ns + today[1].start_ns) // 2
    store.apply_retention((time.time_ns() - cutoff) / DAY)  # the day's first run goes, and all before
    assert _totals(store) == _expected(today[1:], *EVER)


def test_span_changes_answer_the_earliest_start_after_a_change() -> None:
    changes = SpanChanges()
    first = changes.begin(np.array([50, 40]))
    changes.done(first)
    assert changes.committed == first
    assert changes.earliest_after(first) is None
    second = changes.begin(np.array([], dtype=np.int64))  # a commit of no spans
    third = changes.begin(np.array([70, 30, 90]))
    assert changes.committed == first  # not committed yet, but already counted as after
    assert changes.earliest_after(first) == 30
    changes.done(third)
    changes.done(second)
    assert changes.committed == third
    assert changes.earliest_after(third) is None
    changes.done(changes.begin(None))  # retention: spans of any start
    assert changes.earliest_after(third) == 0


def test_span_changes_forgotten_count_as_touching_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(day_cache, "CHANGES", 3)
    changes = SpanChanges()
    ids = [changes.begin(np.array([100 + i])) for i in range(5)]
    assert changes.earliest_after(ids[-2]) == 104
    assert changes.earliest_after(ids[0]) == 0  # what came after it is no longer all known


@given(st.lists(st.one_of(st.none(), st.lists(st.integers(0, 50), max_size=3)), max_size=40))
def test_span_changes_match_the_minimum_over_every_later_change(changes_made: list[list[int] | None]) -> None:
    changes = SpanChanges()
    made = []  # (id, earliest start or None when the change had no spans)
    for starts in changes_made:
        array = None if starts is None else np.array(starts, dtype=np.int64)
        made.append((changes.begin(array), 0 if starts is None else min(starts, default=None)))
    for change in range(len(made) + 1):
        later = [start for cid, start in made if cid > change and start is not None]
        assert changes.earliest_after(change) == (min(later) if later else None)
